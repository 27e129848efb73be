//! Unique flow identifiers: 1 to 16 opaque bytes chosen by userspace.

use super::hash::hash_masked;

/// A flow's UFID (`OVS_FLOW_ATTR_UFID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ufid {
    len: u8,
    /// Zero past `len`, so derived equality compares only the UFID.
    bytes: [u8; Ufid::MAX_LEN],
}

/// Words a UFID is hashed as: length, then the bytes.
const UFID_WORDS: usize = 3;
const ALL: [u64; UFID_WORDS] = [u64::MAX; UFID_WORDS];

impl Ufid {
    pub const MAX_LEN: usize = 16;

    /// `None` if `bytes` is empty or longer than 16.
    pub fn new(bytes: &[u8]) -> Option<Ufid> {
        if bytes.is_empty() || bytes.len() > Ufid::MAX_LEN {
            return None;
        }
        let mut ufid = Ufid {
            len: bytes.len() as u8,
            bytes: [0; Ufid::MAX_LEN],
        };
        ufid.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(ufid)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn words(&self) -> [u64; UFID_WORDS] {
        let [
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            b6,
            b7,
        ] = self.bytes;
        [
            u64::from(self.len),
            u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
        ]
    }

    pub(super) fn hash(&self, seed: u64) -> u32 {
        hash_masked(seed, &self.words(), &ALL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert!(Ufid::new(&[]).is_none());
        assert!(Ufid::new(&[0; 17]).is_none());
        assert_eq!(Ufid::new(&[7]).unwrap().as_bytes(), &[7]);
        assert_eq!(Ufid::new(&[9; 16]).unwrap().as_bytes(), &[9; 16]);
    }

    #[test]
    fn length_is_part_of_identity() {
        let short = Ufid::new(&[1, 0]).unwrap();
        let long = Ufid::new(&[1, 0, 0]).unwrap();
        assert_ne!(short, long);
        assert_ne!(short.words(), long.words());
        assert_ne!(short.hash(0), long.hash(0));
        assert_eq!(short, Ufid::new(&[1, 0]).unwrap());
    }
}
