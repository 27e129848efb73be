//! Growing netlink attribute streams for the parsers (like OVS's
//! `nl_msg_put_*` on an `ofpbuf`), and lookups in streams for the
//! formatters.

use super::scan::{Error, Parsed};
use crate::netlink::{Attr, NLA_HDRLEN, align};
use alloc::vec::Vec;

/// `nl_attr_oversized`: a payload this big cannot have a 16-bit length.
pub(crate) fn oversized(payload: usize) -> bool {
    payload > usize::from(u16::MAX) - NLA_HDRLEN
}

/// An attribute stream being built. Lengths are written as C writes them
/// (truncated to 16 bits); callers check `oversized` where OVS does.
#[derive(Default, Debug)]
pub(crate) struct NlBuf {
    pub(crate) bytes: Vec<u8>,
}

impl NlBuf {
    pub(crate) fn new() -> NlBuf {
        NlBuf { bytes: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.bytes.truncate(len);
    }

    fn grow(&mut self, n: usize) -> Parsed<()> {
        self.bytes.try_reserve(n).map_err(|_| Error::NoMem)
    }

    pub(crate) fn zeros(&mut self, n: usize) -> Parsed<()> {
        self.grow(n)?;
        self.bytes.resize(self.bytes.len() + n, 0);
        Ok(())
    }

    pub(crate) fn raw(&mut self, b: &[u8]) -> Parsed<()> {
        self.grow(b.len())?;
        self.bytes.extend_from_slice(b);
        Ok(())
    }

    fn header(&mut self, len: usize, ty: u16) -> Parsed<()> {
        let len = (len as u16).to_ne_bytes();
        let ty = ty.to_ne_bytes();
        self.raw(&[len[0], len[1], ty[0], ty[1]])
    }

    /// `nl_msg_put_unspec`: header, payload, zero padding.
    pub(crate) fn put(&mut self, ty: u16, payload: &[u8]) -> Parsed<()> {
        let total = NLA_HDRLEN + payload.len();
        self.grow(align(total))?;
        self.header(total, ty)?;
        self.raw(payload)?;
        self.zeros(align(total) - total)
    }

    pub(crate) fn flag(&mut self, ty: u16) -> Parsed<()> {
        self.put(ty, &[])
    }

    pub(crate) fn u16(&mut self, ty: u16, v: u16) -> Parsed<()> {
        self.put(ty, &v.to_ne_bytes())
    }

    pub(crate) fn u32(&mut self, ty: u16, v: u32) -> Parsed<()> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// `nl_msg_start_nested`: returns where the nest starts.
    pub(crate) fn begin(&mut self, ty: u16) -> Parsed<usize> {
        let start = self.bytes.len();
        self.header(NLA_HDRLEN, ty)?;
        Ok(start)
    }

    /// `nl_msg_end_nested`.
    pub(crate) fn end(&mut self, start: usize) {
        let len = (self.bytes.len().saturating_sub(start) as u16).to_ne_bytes();
        if let Some(field) = self.bytes.get_mut(start..start + 2) {
            field.copy_from_slice(&len);
        }
    }
}

/// `NL_ATTR_FOR_EACH`: attributes until one is malformed; `left` is what
/// remains unparsed afterwards. Unlike the kernel's walk, a final attribute
/// whose padding is cut short leaves the partial padding over.
#[derive(Clone, Debug)]
pub(crate) struct Walk<'a> {
    rest: &'a [u8],
    /// Where OVS's iterator points: it always steps by the aligned length.
    at: usize,
}

pub(crate) fn walk(stream: &[u8]) -> Walk<'_> {
    Walk {
        rest: stream,
        at: 0,
    }
}

impl Walk<'_> {
    pub(crate) fn left(&self) -> usize {
        self.rest.len()
    }

    /// Offset from the start of the stream of the bytes OVS prints as left
    /// over: past the end of the stream when the last attribute's padding
    /// is cut short.
    pub(crate) fn left_at(&self) -> usize {
        self.at
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        let &[l0, l1, t0, t1] = self.rest.first_chunk::<NLA_HDRLEN>()?;
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        let payload = self.rest.get(NLA_HDRLEN..len)?;
        let step = if align(len) <= self.rest.len() {
            align(len)
        } else {
            len
        };
        self.rest = self.rest.get(step..).unwrap_or_default();
        self.at += align(len);
        Some(Attr::new(u16::from_ne_bytes([t0, t1]), payload))
    }
}

/// `nl_attr_find__`: the first attribute of type `ty`.
pub(crate) fn find(stream: &[u8], ty: u16) -> Option<Attr<'_>> {
    walk(stream).find(|a| a.ty() == ty)
}

/// One entry of an `nl_policy`: allowed payload lengths, whether the payload
/// is a C string, and whether the attribute is required. Types beyond the
/// table, or with `NONE`, are ignored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    used: bool,
    min: usize,
    max: usize,
    string: bool,
    required: bool,
}

impl Rule {
    pub(crate) const NONE: Rule = Rule {
        used: false,
        min: 0,
        max: usize::MAX,
        string: false,
        required: false,
    };
    pub(crate) const U16: Rule = Rule::len(2, 2);
    pub(crate) const U32: Rule = Rule::len(4, 4);
    pub(crate) const ANY: Rule = Rule::len(0, usize::MAX);

    pub(crate) const fn len(min: usize, max: usize) -> Rule {
        Rule {
            used: true,
            min,
            max,
            string: false,
            required: true,
        }
    }

    pub(crate) const fn string(min: usize, max: usize) -> Rule {
        Rule {
            string: true,
            ..Rule::len(min, max)
        }
    }

    pub(crate) const fn optional(self) -> Rule {
        Rule {
            required: false,
            ..self
        }
    }

    fn accepts(&self, a: &Attr<'_>) -> bool {
        let p = a.payload();
        if p.len() < self.min || p.len() > self.max {
            return false;
        }
        !self.string || matches!(p.split_last(), Some((0, body)) if !body.contains(&0))
    }
}

/// `nl_parse_nested`: the last attribute of each type the policy uses;
/// `None` if one fails its rule, one required is missing, or bytes are left.
pub(crate) fn parse_nested<'a, const N: usize>(
    stream: &'a [u8],
    policy: &[Rule; N],
) -> Option<[Option<Attr<'a>>; N]> {
    let mut out = [None; N];
    let mut w = walk(stream);
    for a in w.by_ref() {
        let idx = usize::from(a.ty());
        if let (Some(rule), Some(slot)) = (policy.get(idx), out.get_mut(idx))
            && rule.used
        {
            if !rule.accepts(&a) {
                return None;
            }
            *slot = Some(a);
        }
    }
    let missing = policy
        .iter()
        .zip(out.iter())
        .any(|(r, a)| r.used && r.required && a.is_none());
    if w.left() != 0 || missing {
        None
    } else {
        Some(out)
    }
}

/// Reads `N` bytes at `off`, zero-filled where the payload is shorter (the C
/// formatters read fixed structures out of variable-length payloads).
pub(crate) fn read<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (k, o) in out.iter_mut().enumerate() {
        *o = off
            .checked_add(k)
            .and_then(|i| b.get(i))
            .copied()
            .unwrap_or(0);
    }
    out
}

pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes(read(b, off))
}

pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(read(b, off))
}

pub(crate) fn ne16(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes(read(b, off))
}

pub(crate) fn ne32(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(read(b, off))
}

pub(crate) fn byte(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_walks() {
        let mut b = NlBuf::new();
        let n = b.begin(1).unwrap();
        b.put(2, &[7]).unwrap();
        b.end(n);
        b.u32(3, 9).unwrap();
        assert_eq!(
            b.bytes,
            [12, 0, 1, 0, 5, 0, 2, 0, 7, 0, 0, 0, 8, 0, 3, 0, 9, 0, 0, 0]
        );
        assert_eq!(
            find(&b.bytes, 3).map(|a| a.payload()),
            Some(&[9, 0, 0, 0][..])
        );
        let mut bad = b.bytes.clone();
        bad.extend_from_slice(&[9, 0, 1]);
        let mut w = walk(&bad);
        assert_eq!((w.by_ref().count(), w.left()), (2, 3));
        // A last attribute of 5 bytes with one byte of its padding.
        let mut w = walk(&[5, 0, 1, 0, 7, 0]);
        assert_eq!((w.by_ref().count(), w.left()), (1, 1));
        assert!(oversized(65532) && !oversized(65531));
        assert_eq!(be16(&[1], 0), 0x100);
    }
}
