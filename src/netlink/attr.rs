//! Checked views over netlink attributes (`nlattr`) and attribute streams.

use super::{NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, align};

/// One attribute: its type bits and its payload (header excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    raw_type: u16,
    payload: &'a [u8],
}

/// The stream is malformed at this byte offset (bad length or trailing garbage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(pub usize);

/// A malformed stream is an invalid request.
impl From<Malformed> for super::Errno {
    fn from(_: Malformed) -> Self {
        super::Errno::Inval
    }
}

impl<'a> Attr<'a> {
    pub fn new(raw_type: u16, payload: &'a [u8]) -> Attr<'a> {
        Attr { raw_type, payload }
    }

    /// The attribute type with the NESTED and NET_BYTEORDER bits masked off.
    pub fn ty(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    pub fn raw_type(&self) -> u16 {
        self.raw_type
    }

    pub fn has_nested_flag(&self) -> bool {
        self.raw_type & NLA_F_NESTED != 0
    }

    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    pub fn len(&self) -> usize {
        self.payload.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    fn array<const N: usize>(&self) -> Option<[u8; N]> {
        self.payload.try_into().ok()
    }

    pub fn u8(&self) -> Option<u8> {
        self.array::<1>().map(|b| b[0])
    }
    pub fn u16(&self) -> Option<u16> {
        self.array().map(u16::from_ne_bytes)
    }
    pub fn u32(&self) -> Option<u32> {
        self.array().map(u32::from_ne_bytes)
    }
    pub fn u64(&self) -> Option<u64> {
        self.array().map(u64::from_ne_bytes)
    }
    pub fn be16(&self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }
    pub fn be32(&self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
    pub fn be64(&self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// A NUL-terminated string without embedded NULs, without its terminator.
    pub fn str(&self) -> Option<&'a str> {
        let (last, body) = self.payload.split_last()?;
        if *last != 0 || body.contains(&0) {
            return None;
        }
        core::str::from_utf8(body).ok()
    }

    /// The payload read as a nested attribute stream.
    pub fn nested(&self) -> AttrIter<'a> {
        attrs(self.payload)
    }
}

/// Iterates an attribute stream. Yields `Err` once (then stops) at the first
/// attribute whose length is impossible, or at trailing bytes too short for
/// an attribute header.
#[derive(Clone, Debug)]
pub struct AttrIter<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

pub fn attrs(buf: &[u8]) -> AttrIter<'_> {
    AttrIter {
        rest: buf,
        offset: 0,
        failed: false,
    }
}

impl<'a> AttrIter<'a> {
    /// Checks the whole stream without looking at types.
    pub fn validate(self) -> Result<(), Malformed> {
        for a in self {
            a?;
        }
        Ok(())
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let fail = |it: &mut Self| {
            it.failed = true;
            Some(Err(Malformed(it.offset)))
        };
        let Some(&[l0, l1, t0, t1]) = self.rest.first_chunk::<NLA_HDRLEN>() else {
            return fail(self);
        };
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        let raw_type = u16::from_ne_bytes([t0, t1]);
        let Some(payload) = self.rest.get(NLA_HDRLEN..len) else {
            return fail(self);
        };
        let step = align(len).min(self.rest.len());
        self.rest = self.rest.get(step..).unwrap_or_default();
        self.offset += step;
        Some(Ok(Attr { raw_type, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_aligned_stream() {
        // u8 attr (len 5, padded to 8), then u32 attr.
        let buf = [5, 0, 1, 0, 7, 0, 0, 0, 8, 0, 2, 0x80, 1, 2, 3, 4];
        let v: std::vec::Vec<_> = attrs(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].ty(), 1);
        assert_eq!(v[0].u8(), Some(7));
        assert_eq!(v[1].ty(), 2);
        assert!(v[1].has_nested_flag());
        assert_eq!(v[1].u32(), Some(u32::from_ne_bytes([1, 2, 3, 4])));
        assert_eq!(v[1].u16(), None);
    }

    #[test]
    fn unpadded_last_attribute_is_fine() {
        let buf = [5, 0, 1, 0, 9];
        assert!(attrs(&buf).validate().is_ok());
    }

    #[test]
    fn detects_bad_lengths_and_garbage() {
        assert_eq!(attrs(&[3, 0, 1, 0]).validate(), Err(Malformed(0)));
        assert_eq!(
            attrs(&[9, 0, 1, 0, 0, 0, 0, 0]).validate(),
            Err(Malformed(0))
        );
        assert_eq!(attrs(&[4, 0, 1, 0, 0, 0]).validate(), Err(Malformed(4)));
    }

    #[test]
    fn strings() {
        assert_eq!(Attr::new(1, b"ovs-system\0").str(), Some("ovs-system"));
        assert_eq!(Attr::new(1, b"ovs").str(), None);
        assert_eq!(Attr::new(1, b"o\0s\0").str(), None);
        assert_eq!(Attr::new(1, b"").str(), None);
    }
}
