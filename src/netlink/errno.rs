//! Netlink error numbers as the Windows userspace sees them: negative errno
//! values of the MSVC C runtime (values above 42 differ from Linux).

use crate::status::NtStatus;

/// An errno carried (negated) in an `NLMSG_ERROR` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    Perm = 1,
    NoEnt = 2,
    Srch = 3,
    Io = 5,
    NxIo = 6,
    TooBig = 7,
    BadF = 9,
    Again = 11,
    NoMem = 12,
    Acces = 13,
    Fault = 14,
    Busy = 16,
    Exist = 17,
    NoDev = 19,
    Inval = 22,
    NFile = 23,
    MFile = 24,
    FBig = 27,
    NoSpc = 28,
    Range = 34,
    NameTooLong = 38,
    NoSys = 40,
    AddrInUse = 100,
    AddrNotAvail = 101,
    AfNoSupport = 102,
    Already = 103,
    BadMsg = 104,
    Canceled = 105,
    MsgSize = 115,
    NoBufs = 119,
    NoData = 120,
    NoMsg = 122,
    /// MSVC `ENOTSUP`: what the C driver answered for "not supported".
    NotSupp = 129,
    /// MSVC `EOPNOTSUPP`: what userspace compares against in feature probes.
    OpNotSupp = 130,
    Other = 131,
    Overflow = 132,
    Proto = 134,
    TimedOut = 138,
}

/// Every errno with its C name.
const NAMES: &[(Errno, &str)] = &[
    (Errno::Perm, "EPERM"),
    (Errno::NoEnt, "ENOENT"),
    (Errno::Srch, "ESRCH"),
    (Errno::Io, "EIO"),
    (Errno::NxIo, "ENXIO"),
    (Errno::TooBig, "E2BIG"),
    (Errno::BadF, "EBADF"),
    (Errno::Again, "EAGAIN"),
    (Errno::NoMem, "ENOMEM"),
    (Errno::Acces, "EACCES"),
    (Errno::Fault, "EFAULT"),
    (Errno::Busy, "EBUSY"),
    (Errno::Exist, "EEXIST"),
    (Errno::NoDev, "ENODEV"),
    (Errno::Inval, "EINVAL"),
    (Errno::NFile, "ENFILE"),
    (Errno::MFile, "EMFILE"),
    (Errno::FBig, "EFBIG"),
    (Errno::NoSpc, "ENOSPC"),
    (Errno::Range, "ERANGE"),
    (Errno::NameTooLong, "ENAMETOOLONG"),
    (Errno::NoSys, "ENOSYS"),
    (Errno::AddrInUse, "EADDRINUSE"),
    (Errno::AddrNotAvail, "EADDRNOTAVAIL"),
    (Errno::AfNoSupport, "EAFNOSUPPORT"),
    (Errno::Already, "EALREADY"),
    (Errno::BadMsg, "EBADMSG"),
    (Errno::Canceled, "ECANCELED"),
    (Errno::MsgSize, "EMSGSIZE"),
    (Errno::NoBufs, "ENOBUFS"),
    (Errno::NoData, "ENODATA"),
    (Errno::NoMsg, "ENOMSG"),
    (Errno::NotSupp, "ENOTSUP"),
    (Errno::OpNotSupp, "EOPNOTSUPP"),
    (Errno::Other, "EOTHER"),
    (Errno::Overflow, "EOVERFLOW"),
    (Errno::Proto, "EPROTO"),
    (Errno::TimedOut, "ETIMEDOUT"),
];

impl Errno {
    /// The C name (`EEXIST`).
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("E?", |(_, n)| n)
    }

    /// The errno an `nlmsgerr.error` value carries (negative on the wire).
    pub fn from_wire(error: i32) -> Option<Errno> {
        NAMES
            .iter()
            .find(|(e, _)| e.wire() == error)
            .map(|(e, _)| *e)
    }

    /// The value placed in `nlmsgerr.error`.
    pub const fn wire(self) -> i32 {
        -(self as i32)
    }

    /// `NlMapStatusToNlErr`: the errno a failed NTSTATUS becomes.
    pub fn from_status(status: NtStatus) -> Errno {
        match status {
            NtStatus::NOT_SUPPORTED => Errno::NotSupp,
            NtStatus::INSUFFICIENT_RESOURCES | NtStatus::NO_MEMORY => Errno::NoMem,
            NtStatus::CANCELLED => Errno::Canceled,
            NtStatus::INVALID_PARAMETER => Errno::Inval,
            NtStatus::OBJECT_NAME_EXISTS => Errno::Exist,
            NtStatus::INVALID_MESSAGE => Errno::BadMsg,
            _ => Errno::Other,
        }
    }

    /// The IOCTL status a WRITE fails with when its handler reports this
    /// errno (a WRITE has no buffer to carry an `NLMSG_ERROR`).
    pub fn to_status(self) -> NtStatus {
        match self {
            Errno::NoMem | Errno::NoBufs => NtStatus::INSUFFICIENT_RESOURCES,
            Errno::NotSupp | Errno::OpNotSupp => NtStatus::NOT_SUPPORTED,
            Errno::Busy => NtStatus::DEVICE_BUSY,
            Errno::Exist => NtStatus::OBJECT_NAME_EXISTS,
            Errno::Canceled => NtStatus::CANCELLED,
            Errno::BadMsg => NtStatus::INVALID_MESSAGE,
            // Never NOT_FOUND: userspace aborts on it (it means "no switch").
            _ => NtStatus::INVALID_PARAMETER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msvc_numbering() {
        assert_eq!(Errno::NotSupp.wire(), -129);
        assert_eq!(Errno::OpNotSupp.wire(), -130);
        assert_eq!(Errno::Other.wire(), -131);
        assert_eq!(Errno::NoBufs.wire(), -119);
        assert_eq!(Errno::Inval.wire(), -22);
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(Errno::Exist.name(), "EEXIST");
        assert_eq!(Errno::OpNotSupp.name(), "EOPNOTSUPP");
        assert_eq!(Errno::from_wire(-17), Some(Errno::Exist));
        assert_eq!(Errno::from_wire(17), None);
        assert_eq!(Errno::from_wire(-4), None);
        for (e, _) in NAMES {
            assert_eq!(Errno::from_wire(e.wire()), Some(*e));
        }
    }

    #[test]
    fn status_mapping_matches_reference() {
        assert_eq!(Errno::from_status(NtStatus::NOT_SUPPORTED), Errno::NotSupp);
        assert_eq!(
            Errno::from_status(NtStatus::INSUFFICIENT_RESOURCES),
            Errno::NoMem
        );
        assert_eq!(Errno::from_status(NtStatus::CANCELLED), Errno::Canceled);
        assert_eq!(
            Errno::from_status(NtStatus::INVALID_PARAMETER),
            Errno::Inval
        );
        assert_eq!(
            Errno::from_status(NtStatus::OBJECT_NAME_EXISTS),
            Errno::Exist
        );
        assert_eq!(Errno::from_status(NtStatus::INVALID_MESSAGE), Errno::BadMsg);
        assert_eq!(Errno::from_status(NtStatus::BUFFER_TOO_SMALL), Errno::Other);
        assert_ne!(Errno::NoEnt.to_status(), NtStatus::NOT_FOUND);
    }
}
