//! The NSH key nest (`OVS_NSH_KEY_ATTR_*`): `nsh_key_put_from_nlattr` and
//! `nsh_key_to_nlattr`.

use super::lens::{self, Table};
use super::proto::{NSH_M_TYPE1, NSH_M_TYPE2};
use super::side::Side;
use super::wire::{self, NshBase, NshMd1};
use crate::flow::FlowKey;
use crate::netlink::{Errno, NlBuf, Overflow, attrs};
use crate::ovs::key as k;
use core::mem::size_of;
use zerocopy::IntoBytes;
use zerocopy::byteorder::network_endian::U32;

pub(super) fn parse(nest: &[u8], target: &mut FlowKey, side: Side<'_>) -> Result<(), Errno> {
    let mut md1 = false;
    let mut mdtype = 0;
    for a in attrs(nest) {
        let a = a.map_err(|_| Errno::Inval)?;
        lens::expect(Table::Nsh, a.ty(), a.len())?;
        let v = side.leaf(a.payload())?;
        match a.ty() {
            k::NSH_BASE => {
                let b = wire::view::<NshBase>(v)?;
                mdtype = b.mdtype;
                target.nsh.flags = b.flags;
                target.nsh.ttl = b.ttl;
                target.nsh.mdtype = b.mdtype;
                target.nsh.np = b.np;
                target.nsh.path_hdr = b.path_hdr.get();
            }
            k::NSH_MD1 => {
                md1 = true;
                let m = wire::view::<NshMd1>(v)?;
                for (dst, src) in target.nsh.context.iter_mut().zip(&m.context) {
                    *dst = src.get();
                }
            }
            // MD type 2 is not supported in flow keys (Linux: ENOTSUPP, reported as EINVAL).
            _ => return Err(Errno::Inval),
        }
    }
    if !side.is_mask() && md1 && mdtype != NSH_M_TYPE1 {
        return Err(Errno::Inval);
    }
    Ok(())
}

/// Most MD type 2 metadata a pushed header carries (`NSH_CTX_HDRS_MAX_LEN`).
const MD2_MAX: usize = 248;

/// PUSH_NSH's payload, an NSH key attribute, as `nsh_key_put_from_nlattr`
/// checks it for a push: a BASE, and MD1 (MD type 1) or MD2 (MD type 2, 1
/// to 248 bytes), not both.
pub(super) fn validate_push(payload: &[u8]) -> Result<(), Errno> {
    let nest = match attrs(payload).next() {
        Some(Ok(a)) => a.payload(),
        _ => return Err(Errno::Inval),
    };
    let (mut mdtype, mut base, mut md1, mut md2) = (0, false, false, false);
    for a in attrs(nest) {
        let a = a.map_err(|_| Errno::Inval)?;
        lens::expect(Table::Nsh, a.ty(), a.len())?;
        match a.ty() {
            k::NSH_BASE => {
                base = true;
                mdtype = wire::view::<NshBase>(a.payload())?.mdtype;
            }
            k::NSH_MD1 => md1 = true,
            k::NSH_MD2 if (1..=MD2_MAX).contains(&a.len()) => md2 = true,
            _ => return Err(Errno::Inval),
        }
    }
    let matched = (!md1 || mdtype == NSH_M_TYPE1) && (!md2 || mdtype == NSH_M_TYPE2);
    if (md1 && md2) || !matched || !base || !(md1 || md2) {
        return Err(Errno::Inval);
    }
    Ok(())
}

/// SET / SET_MASKED of NSH, in the layout ovs-vswitchd sends: BASE (flags,
/// TTL, SPI and SI are written; MD type and next protocol are not) and, for
/// a flow of MD type 1, MD1; each member holds its value, then (masked) a
/// mask of the same size that covers every bit of the value. (Linux dropped
/// its own set of NSH, which never matched this layout.)
pub(super) fn validate_set(nest: &[u8], masked: bool, key: &FlowKey) -> Result<(), Errno> {
    let half = |len: usize| if masked { len / 2 } else { len };
    for a in attrs(nest) {
        let a = a.map_err(|_| Errno::Inval)?;
        let size = match a.ty() {
            k::NSH_BASE => size_of::<NshBase>(),
            k::NSH_MD1 if key.nsh.mdtype == NSH_M_TYPE1 => size_of::<NshMd1>(),
            _ => return Err(Errno::Inval),
        };
        if a.len() != size * if masked { 2 } else { 1 } {
            return Err(Errno::Inval);
        }
        let (value, mask) = a.payload().split_at(half(a.len()));
        if masked && value.iter().zip(mask).any(|(v, m)| v & !m != 0) {
            return Err(Errno::Inval);
        }
    }
    Ok(())
}

/// The NSH nest of `out`: BASE, and MD1 for masks and MD type 1 keys.
pub(super) fn emit(out: &FlowKey, is_mask: bool, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    let nest = buf.begin_nested(k::NSH)?;
    let n = &out.nsh;
    let base = NshBase {
        flags: n.flags,
        ttl: n.ttl,
        mdtype: n.mdtype,
        np: n.np,
        path_hdr: U32::new(n.path_hdr),
    };
    buf.put_attr(k::NSH_BASE, base.as_bytes())?;
    if is_mask || n.mdtype == NSH_M_TYPE1 {
        let md1 = NshMd1 {
            context: n.context.map(U32::new),
        };
        buf.put_attr(k::NSH_MD1, md1.as_bytes())?;
    }
    buf.end_nested(nest)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Match, parse_match};
    use super::*;
    use std::vec::Vec;

    fn base(mdtype: u8) -> Vec<u8> {
        a(k::NSH_BASE, &[0x1, 63, mdtype, 0x3, 0, 0, 0x10, 0xff])
    }

    fn md1() -> Vec<u8> {
        a(
            k::NSH_MD1,
            &[[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 3], [0, 0, 0, 4]].concat(),
        )
    }

    fn exact(parts: &[Vec<u8>]) -> Result<Match, Errno> {
        parse_match(
            &[eth(), be16a(k::ETHERTYPE, 0x894f), nest(k::NSH, parts)].concat(),
            None,
        )
    }

    #[test]
    fn md_type_1() {
        let m = exact(&[base(1), md1()]).unwrap();
        let n = &m.key.nsh;
        assert_eq!(
            (n.flags, n.ttl, n.mdtype, n.np, n.path_hdr),
            (1, 63, 1, 3, 0x10ff)
        );
        assert_eq!(n.context, [1, 2, 3, 4]);
        assert_eq!((m.mask.nsh.path_hdr, m.mask.nsh.context), (!0, [!0; 4]));
        let nest = find(&key_bytes(&m), k::NSH).unwrap();
        assert_eq!(types(&nest), [k::NSH_BASE, k::NSH_MD1]);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn rules() {
        // MD1 only with MD type 1; MD type 2 contexts are not supported in keys.
        assert_eq!(exact(&[base(2), md1()]), Err(Errno::Inval));
        assert_eq!(exact(&[base(2), a(k::NSH_MD2, &[0; 8])]), Err(Errno::Inval));
        assert_eq!(exact(&[a(0, &[])]), Err(Errno::Inval));
        assert_eq!(exact(&[a(k::NSH_MD2 + 1, &[])]), Err(Errno::Inval));
        assert_eq!(exact(&[a(k::NSH_BASE, &[0; 4])]), Err(Errno::Inval));
        // MD type 2 keys report BASE only; masks always report MD1.
        let m = exact(&[base(2)]).unwrap();
        assert_eq!(types(&find(&key_bytes(&m), k::NSH).unwrap()), [k::NSH_BASE]);
        assert_eq!(
            types(&find(&mask_bytes(&m), k::NSH).unwrap()),
            [k::NSH_BASE, k::NSH_MD1]
        );
        assert_eq!(round_trip(&m), m);
    }
}
