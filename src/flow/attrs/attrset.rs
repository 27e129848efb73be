//! One level of `OVS_KEY_ATTR_*` attributes gathered into slots (Linux's
//! `__parse_flow_nlattrs`): type range, refused types, duplicates and
//! lengths are checked here; for masks an all-zero attribute counts as absent.

use super::lens::{self, KEY_TYPES, Len, Table};
use crate::netlink::{Errno, attrs};

/// Where leaf payload bytes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fill {
    /// From the attributes themselves.
    Value,
    /// All ones of the attribute's length: the exact-match mask that Linux
    /// builds from the key stream when no mask is given.
    Ones,
}

/// Which stream is being gathered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    Key,
    Mask(Fill),
}

/// Longest leaf an exact mask is built for: every accepted key leaf is at
/// most 255 bytes (tunnel options), the rest are refused before the mask pass.
static ONES: [u8; 256] = [0xff; 256];

/// The bytes a leaf attribute contributes under `fill`.
pub(super) fn leaf(payload: &[u8], fill: Fill) -> Result<&[u8], Errno> {
    match fill {
        Fill::Value => Ok(payload),
        Fill::Ones => ONES.get(..payload.len()).ok_or(Errno::Inval),
    }
}

/// Gathered attributes: a payload slot and a presence bit per type.
#[derive(Clone, Copy, Debug)]
pub(super) struct AttrSet<'a> {
    payload: [&'a [u8]; KEY_TYPES],
    bits: u64,
}

impl<'a> AttrSet<'a> {
    pub(super) fn new() -> AttrSet<'a> {
        AttrSet {
            payload: [&[]; KEY_TYPES],
            bits: 0,
        }
    }

    /// Adds the attributes of `stream` (one nesting level).
    pub(super) fn gather(&mut self, stream: &'a [u8], pass: Pass) -> Result<(), Errno> {
        for a in attrs(stream) {
            let a = a.map_err(|_| Errno::Inval)?;
            let ty = a.ty();
            let shape = lens::expect(Table::Key, ty, a.len())?;
            let bit = 1u64 << ty;
            if self.bits & bit != 0 {
                return Err(Errno::Inval);
            }
            let keep = match pass {
                Pass::Key => true,
                Pass::Mask(fill) => !is_zero(a.payload(), shape, fill),
            };
            if keep {
                self.bits |= bit;
                if let Some(slot) = self.payload.get_mut(usize::from(ty)) {
                    *slot = a.payload();
                }
            }
        }
        Ok(())
    }

    /// Presence bits, one per type.
    pub(super) fn bits(&self) -> u64 {
        self.bits
    }

    pub(super) fn has(&self, ty: u16) -> bool {
        self.bits & bit(ty) != 0
    }

    pub(super) fn get(&self, ty: u16) -> Option<&'a [u8]> {
        if self.has(ty) {
            self.payload.get(usize::from(ty)).copied()
        } else {
            None
        }
    }

    /// The payload of `ty`, marking it consumed.
    pub(super) fn take(&mut self, ty: u16) -> Option<&'a [u8]> {
        let p = self.get(ty);
        self.bits &= !bit(ty);
        p
    }
}

fn bit(ty: u16) -> u64 {
    1u64.checked_shl(u32::from(ty)).unwrap_or(0)
}

/// Linux's `is_all_zero` test on a mask attribute. Under `Fill::Ones` a leaf
/// is zero only when empty; nests keep their headers, so they are tested as is.
fn is_zero(payload: &[u8], shape: Len, fill: Fill) -> bool {
    match (fill, shape) {
        (Fill::Ones, Len::Fixed(_) | Len::Variable | Len::Refused) => payload.is_empty(),
        (Fill::Value, _) | (Fill::Ones, Len::Nested(_)) => payload.iter().all(|b| *b == 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovs::key as k;

    fn attr(ty: u16, payload: &[u8]) -> std::vec::Vec<u8> {
        let mut v = std::vec::Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    #[test]
    fn gathers_and_takes() {
        let mut s = attr(k::IN_PORT, &5u32.to_ne_bytes());
        s.extend(attr(k::ETHERTYPE, &[8, 0]));
        let mut set = AttrSet::new();
        set.gather(&s, Pass::Key).unwrap();
        assert!(set.has(k::IN_PORT) && set.has(k::ETHERTYPE));
        assert_eq!(set.take(k::ETHERTYPE), Some(&[8u8, 0][..]));
        assert!(!set.has(k::ETHERTYPE));
        assert_eq!(set.bits(), 1 << k::IN_PORT);
    }

    #[test]
    fn duplicates_out_of_range_refused_and_bad_lengths_fail() {
        let mut set = AttrSet::new();
        let mut s = attr(k::IN_PORT, &[0; 4]);
        s.extend(attr(k::IN_PORT, &[0; 4]));
        assert_eq!(set.gather(&s, Pass::Key), Err(Errno::Inval));
        for bad in [
            attr(k::MAX + 1, &[]),
            attr(k::PACKET_TYPE, &[0; 4]),
            attr(k::ND_EXTENSIONS, &[0; 8]),
            attr(k::TUNNEL_INFO, &[]),
            attr(k::IN_PORT, &[0; 2]),
            std::vec![8, 0, 3, 0, 1],
        ] {
            assert_eq!(
                AttrSet::new().gather(&bad, Pass::Key),
                Err(Errno::Inval),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn all_zero_mask_attributes_are_absent() {
        let mut s = attr(k::IN_PORT, &[0; 4]);
        s.extend(attr(k::SKB_MARK, &[0, 0, 1, 0]));
        let mut set = AttrSet::new();
        set.gather(&s, Pass::Mask(Fill::Value)).unwrap();
        assert_eq!(set.bits(), 1 << k::SKB_MARK);
        // A zero attribute does not count for duplicate detection either.
        s.extend(attr(k::IN_PORT, &[1, 0, 0, 0]));
        assert!(AttrSet::new().gather(&s, Pass::Mask(Fill::Value)).is_ok());
    }

    #[test]
    fn ones_fill_keeps_non_empty_leaves() {
        let s = attr(k::IN_PORT, &[0; 4]);
        let mut set = AttrSet::new();
        set.gather(&s, Pass::Mask(Fill::Ones)).unwrap();
        assert!(set.has(k::IN_PORT));
        assert_eq!(
            leaf(set.get(k::IN_PORT).unwrap(), Fill::Ones),
            Ok(&[0xffu8; 4][..])
        );
        assert_eq!(leaf(&[1, 2], Fill::Value), Ok(&[1u8, 2][..]));
    }
}
