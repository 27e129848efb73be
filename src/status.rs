//! NTSTATUS values the device completes IOCTLs with.

/// An NTSTATUS code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct NtStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $val:expr),* $(,)?) => {
        impl NtStatus {
            $(pub const $name: NtStatus = NtStatus($val);)*

            /// The status name without its `STATUS_` prefix, as the simulator prints it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000,
    PENDING = 0x0000_0103,
    BUFFER_OVERFLOW = 0x8000_0005,
    UNSUCCESSFUL = 0xC000_0001,
    INVALID_PARAMETER = 0xC000_000D,
    INVALID_DEVICE_REQUEST = 0xC000_0010,
    NO_MEMORY = 0xC000_0017,
    BUFFER_TOO_SMALL = 0xC000_0023,
    OBJECT_NAME_EXISTS = 0x4000_0000,
    DATA_OVERRUN = 0xC000_003C,
    INSUFFICIENT_RESOURCES = 0xC000_009A,
    NOT_SUPPORTED = 0xC000_00BB,
    INVALID_BUFFER_SIZE = 0xC000_0206,
    CANCELLED = 0xC000_0120,
    DEVICE_BUSY = 0x8000_0011,
    INVALID_MESSAGE = 0xC000_0702,
    NOT_FOUND = 0xC000_0225,
    DATA_NOT_ACCEPTED = 0xC000_021B,
    INVALID_DEVICE_STATE = 0xC000_0184,
    NDIS_INVALID_LENGTH = 0xC023_0014,
}

impl NtStatus {
    pub fn is_success(self) -> bool {
        self.0 < 0x8000_0000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(NtStatus::NOT_FOUND.name(), Some("NOT_FOUND"));
        assert_eq!(NtStatus(0xC023_0014).name(), Some("NDIS_INVALID_LENGTH"));
        assert_eq!(NtStatus(0x1234).name(), None);
        assert!(NtStatus::PENDING.is_success());
        assert!(!NtStatus::DEVICE_BUSY.is_success());
    }
}
