//! Switch, port and NIC names arrive as UTF-16 (`IF_COUNTED_STRING`, or a
//! NUL-terminated interface alias); the switch model keys on UTF-8. The
//! conversion happens into a fixed buffer, without allocating.

use crate::switch::NAME_MAX;

/// A name of at most `NAME_MAX` bytes of UTF-8.
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; NAME_MAX],
    len: usize,
}

/// Why a UTF-16 name has no UTF-8 form here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadName {
    /// An unpaired surrogate.
    Invalid,
    /// More than `NAME_MAX` bytes of UTF-8.
    TooLong,
}

impl NameBuf {
    pub const fn new() -> NameBuf {
        NameBuf {
            bytes: [0; NAME_MAX],
            len: 0,
        }
    }

    /// Decodes UTF-16 code units, stopping at the first NUL (a counted
    /// string may still carry its terminator).
    pub fn from_utf16(units: impl IntoIterator<Item = u16>) -> Result<NameBuf, BadName> {
        let mut name = NameBuf::new();
        let units = units.into_iter().take_while(|&u| u != 0);
        for c in char::decode_utf16(units) {
            let c = c.map_err(|_| BadName::Invalid)?;
            name.push(c)?;
        }
        Ok(name)
    }

    /// A copy of a name the model already holds.
    pub fn copy_of(s: &str) -> Result<NameBuf, BadName> {
        let mut name = NameBuf::new();
        let dst = name.bytes.get_mut(..s.len()).ok_or(BadName::TooLong)?;
        dst.copy_from_slice(s.as_bytes());
        name.len = s.len();
        Ok(name)
    }

    fn push(&mut self, c: char) -> Result<(), BadName> {
        let end = self.len + c.len_utf8();
        let dst = self.bytes.get_mut(self.len..end).ok_or(BadName::TooLong)?;
        c.encode_utf8(dst);
        self.len = end;
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        // Only whole characters are ever written, so the prefix is UTF-8;
        // the fallback is unreachable.
        self.bytes
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for NameBuf {
    fn default() -> NameBuf {
        NameBuf::new()
    }
}

impl core::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for NameBuf {
    fn eq(&self, other: &NameBuf) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for NameBuf {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn utf16(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn converts_and_stops_at_nul() {
        assert_eq!(NameBuf::from_utf16(utf16("vm1")).unwrap().as_str(), "vm1");
        let mut units = utf16("Ethernet 2");
        units.extend([0, u16::from(b'x')]);
        assert_eq!(NameBuf::from_utf16(units).unwrap().as_str(), "Ethernet 2");
        assert_eq!(
            NameBuf::from_utf16(utf16("Überschall-𝄞")).unwrap().as_str(),
            "Überschall-𝄞"
        );
        assert!(NameBuf::from_utf16([]).unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_and_long_names() {
        assert_eq!(
            NameBuf::from_utf16([u16::from(b'a'), 0xD800]),
            Err(BadName::Invalid)
        );
        assert_eq!(NameBuf::from_utf16([0xDC00]), Err(BadName::Invalid));
        let fits = "x".repeat(NAME_MAX);
        assert_eq!(NameBuf::from_utf16(utf16(&fits)).unwrap().as_str(), fits);
        let long = "x".repeat(NAME_MAX + 1);
        assert_eq!(NameBuf::from_utf16(utf16(&long)), Err(BadName::TooLong));
        // 85 three-byte characters fill 255 bytes; one more does not fit.
        let wide = "€".repeat(85);
        assert_eq!(NameBuf::from_utf16(utf16(&wide)).unwrap().as_str(), wide);
        let wider = "€".repeat(86);
        assert_eq!(NameBuf::from_utf16(utf16(&wider)), Err(BadName::TooLong));
        assert_eq!(NameBuf::copy_of(&long), Err(BadName::TooLong));
        assert_eq!(NameBuf::copy_of("ab").unwrap().as_str(), "ab");
    }
}
