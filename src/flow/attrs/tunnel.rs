//! The tunnel key nest (`OVS_TUNNEL_KEY_ATTR_*`): `ip_tun_from_nlattr` and
//! `ip_tun_to_nlattr`.
//!
//! Linux keeps the tunnel addresses in a v4/v6 union and the option format
//! as bits in `tun_flags`; here they are separate fields (`ipv4_*`, `ipv6_*`,
//! `opts_kind`), so a few rules are restated for that layout:
//! - the key's address family is the one whose destination is set;
//! - a mask only constrains the key's family (the other family's mask is
//!   cleared) and only the key's option bytes (mask bytes outside the key's
//!   `tun_opts_len` are cleared);
//! - `opts_kind` in a mask is 0xff (exact) when the mask carries options;
//! - options are reported whenever the key has an option format, even empty
//!   ones (Linux skips empty ones), so that what userspace installed is what
//!   it reads back;
//! - ERSPAN and GTP-U options keep the length given (Linux records ERSPAN's
//!   as `sizeof(struct erspan_metadata)` whatever the attribute's length).

use super::lens::{self, Table};
use super::side::Side;
use super::wire;
use crate::flow::key::{
    FlowKey, TUN_F_CSUM, TUN_F_DONT_FRAGMENT, TUN_F_KEY, TUN_F_OAM, TUN_OPTS_ERSPAN,
    TUN_OPTS_GENEVE, TUN_OPTS_GTPU, TUN_OPTS_MAX, TUN_OPTS_NONE, TUN_OPTS_VXLAN, TunnelKey,
};
use crate::netlink::{Errno, NlBuf, Overflow, attrs};
use crate::ovs::{key as k, tunnel as t, vport};
use crate::tunnel::geneve;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

fn family(tun: &TunnelKey) -> Option<Family> {
    if tun.ipv6_dst != [0; 16] {
        Some(Family::V6)
    } else if tun.ipv4_dst != 0 {
        Some(Family::V4)
    } else {
        None
    }
}

fn be32(b: &[u8]) -> Result<u32, Errno> {
    b.try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| Errno::Inval)
}

fn be16(b: &[u8]) -> Result<u16, Errno> {
    wire::net_u16(b)
}

fn bytes16(b: &[u8]) -> Result<[u8; 16], Errno> {
    b.try_into().map_err(|_| Errno::Inval)
}

/// Parses a TUNNEL nest into `target.tun` and the option fields.
pub(super) fn parse(nest: &[u8], target: &mut FlowKey, side: Side<'_>) -> Result<(), Errno> {
    let mut flags = 0u16;
    let (mut ttl, mut v4, mut v6, mut opts) = (false, false, false, false);
    for a in attrs(nest) {
        let a = a.map_err(|_| Errno::Inval)?;
        let ty = a.ty();
        lens::expect(Table::Tunnel, ty, a.len())?;
        let v = side.leaf(a.payload())?;
        let tun = &mut target.tun;
        match ty {
            t::ID => {
                let id: [u8; 8] = v.try_into().map_err(|_| Errno::Inval)?;
                tun.id = u64::from_be_bytes(id);
                flags |= TUN_F_KEY;
            }
            t::IPV4_SRC => (tun.ipv4_src, v4) = (be32(v)?, true),
            t::IPV4_DST => (tun.ipv4_dst, v4) = (be32(v)?, true),
            t::IPV6_SRC => (tun.ipv6_src, v6) = (bytes16(v)?, true),
            t::IPV6_DST => (tun.ipv6_dst, v6) = (bytes16(v)?, true),
            t::TOS => tun.tos = v.first().copied().ok_or(Errno::Inval)?,
            t::TTL => (tun.ttl, ttl) = (v.first().copied().ok_or(Errno::Inval)?, true),
            t::DONT_FRAGMENT => flags |= TUN_F_DONT_FRAGMENT,
            t::CSUM => flags |= TUN_F_CSUM,
            t::OAM => flags |= TUN_F_OAM,
            t::TP_SRC => tun.tp_src = be16(v)?,
            t::TP_DST => tun.tp_dst = be16(v)?,
            t::PAD => {}
            t::GENEVE_OPTS | t::VXLAN_OPTS | t::ERSPAN_OPTS | t::GTPU_OPTS => {
                // "Multiple metadata blocks provided".
                if opts {
                    return Err(Errno::Inval);
                }
                opts = true;
                options(ty, a.payload(), target, side)?;
            }
            _ => return Err(Errno::Inval),
        }
    }
    target.tun.flags = flags;
    if v4 && v6 {
        return Err(Errno::Inval);
    }
    match side {
        Side::Key => {
            let dst_set =
                (v4 && target.tun.ipv4_dst != 0) || (v6 && target.tun.ipv6_dst != [0; 16]);
            if !dst_set || !ttl {
                return Err(Errno::Inval);
            }
        }
        Side::Mask { key, .. } => canonical_mask(target, key),
    }
    Ok(())
}

/// `validate_and_copy_set_tun`: the nest of a SET(TUNNEL) is a tunnel key as
/// a flow key takes it (a destination and a TTL required), and Geneve options
/// must be whole TLVs. The key goes into `key`'s tunnel and option fields
/// (its other metadata is cleared).
pub fn set_tunnel(nest: &[u8], key: &mut FlowKey) -> Result<(), Errno> {
    key.reset_metadata(0);
    parse(nest, key, Side::Key)?;
    if key.tun.opts_kind == TUN_OPTS_GENEVE && geneve::options(key.tun_opts()).is_none() {
        return Err(Errno::Inval);
    }
    Ok(())
}

/// Clears mask bits that cannot matter for `key` (see the module comment).
fn canonical_mask(mask: &mut FlowKey, key: &FlowKey) {
    match family(&key.tun) {
        Some(Family::V4) => (mask.tun.ipv6_src, mask.tun.ipv6_dst) = ([0; 16], [0; 16]),
        Some(Family::V6) => (mask.tun.ipv4_src, mask.tun.ipv4_dst) = (0, 0),
        None => {}
    }
    let outside = TUN_OPTS_MAX.saturating_sub(usize::from(key.tun_opts_len));
    if let Some(head) = mask.tun_opts.get_mut(..outside) {
        head.fill(0);
    }
}

/// One option block: GENEVE (raw TLVs), VXLAN (nested GBP), ERSPAN, GTP-U.
fn options(ty: u16, payload: &[u8], target: &mut FlowKey, side: Side<'_>) -> Result<(), Errno> {
    let (kind, gbp);
    let bytes: &[u8] = match ty {
        t::GENEVE_OPTS => {
            kind = TUN_OPTS_GENEVE;
            if payload.len() > TUN_OPTS_MAX || !payload.len().is_multiple_of(4) {
                return Err(Errno::Inval);
            }
            // The mask must cover exactly the key's options.
            if let Side::Mask { key, .. } = side
                && usize::from(key.tun_opts_len) != payload.len()
            {
                return Err(Errno::Inval);
            }
            side.leaf(payload)?
        }
        t::VXLAN_OPTS => {
            kind = TUN_OPTS_VXLAN;
            gbp = vxlan_gbp(payload, side)?;
            &gbp
        }
        _ => {
            kind = if ty == t::ERSPAN_OPTS {
                TUN_OPTS_ERSPAN
            } else {
                TUN_OPTS_GTPU
            };
            if payload.len() > TUN_OPTS_MAX {
                return Err(Errno::Inval);
            }
            side.leaf(payload)?
        }
    };
    if !target.set_tun_opts(bytes) {
        return Err(Errno::Inval);
    }
    if side.is_mask() {
        target.tun_opts_len = u8::MAX;
        target.tun.opts_kind = u8::MAX;
    } else {
        target.tun.opts_kind = kind;
    }
    Ok(())
}

/// The VXLAN_OPTS nest: an optional GBP (host-order u32, kept as its 4 bytes).
fn vxlan_gbp(nest: &[u8], side: Side<'_>) -> Result<[u8; 4], Errno> {
    let mut gbp = [0; 4];
    for a in attrs(nest) {
        let a = a.map_err(|_| Errno::Inval)?;
        lens::expect(Table::VxlanExt, a.ty(), a.len())?;
        if a.ty() != vport::VXLAN_EXT_GBP {
            return Err(Errno::Inval);
        }
        gbp = side
            .leaf(a.payload())?
            .try_into()
            .map_err(|_| Errno::Inval)?;
    }
    Ok(gbp)
}

/// The tunnel part of the exact-match mask Linux derives for a tunnel key:
/// every field of the key's family exact; flags and option format are set by
/// parsing the key's own attributes as the mask.
pub(super) fn exact_mask(key: &FlowKey) -> TunnelKey {
    let v4 = family(&key.tun) == Some(Family::V4);
    TunnelKey {
        id: u64::MAX,
        ipv4_src: if v4 { u32::MAX } else { 0 },
        ipv4_dst: if v4 { u32::MAX } else { 0 },
        ipv6_src: if v4 { [0; 16] } else { [0xff; 16] },
        ipv6_dst: if v4 { [0; 16] } else { [0xff; 16] },
        flags: 0,
        tos: u8::MAX,
        ttl: u8::MAX,
        tp_src: u16::MAX,
        tp_dst: u16::MAX,
        opts_kind: TUN_OPTS_NONE,
        pad: [0; 7],
    }
}

/// The TUNNEL nest for `out` (the key, or a mask of `key`).
pub(super) fn emit(key: &FlowKey, out: &FlowKey, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    emit_nest(k::TUNNEL, key, out, buf)
}

/// An egress tunnel key as `OVS_PACKET_ATTR_EGRESS_TUN_KEY`.
pub fn emit_egress(key: &FlowKey, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    emit_nest(crate::ovs::packet::ATTR_EGRESS_TUN_KEY, key, key, buf)
}

fn emit_nest(ty: u16, key: &FlowKey, out: &FlowKey, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    let nest = buf.begin_nested(ty)?;
    let tun = &out.tun;
    if tun.flags & TUN_F_KEY != 0 {
        buf.put_be64(t::ID, tun.id)?;
    }
    if tun.ipv4_src != 0 {
        buf.put_be32(t::IPV4_SRC, tun.ipv4_src)?;
    }
    if tun.ipv4_dst != 0 {
        buf.put_be32(t::IPV4_DST, tun.ipv4_dst)?;
    }
    if tun.ipv6_src != [0; 16] {
        buf.put_attr(t::IPV6_SRC, &tun.ipv6_src)?;
    }
    if tun.ipv6_dst != [0; 16] {
        buf.put_attr(t::IPV6_DST, &tun.ipv6_dst)?;
    }
    if tun.tos != 0 {
        buf.put_u8(t::TOS, tun.tos)?;
    }
    buf.put_u8(t::TTL, tun.ttl)?;
    if tun.flags & TUN_F_DONT_FRAGMENT != 0 {
        buf.put_flag(t::DONT_FRAGMENT)?;
    }
    if tun.flags & TUN_F_CSUM != 0 {
        buf.put_flag(t::CSUM)?;
    }
    if tun.tp_src != 0 {
        buf.put_be16(t::TP_SRC, tun.tp_src)?;
    }
    if tun.tp_dst != 0 {
        buf.put_be16(t::TP_DST, tun.tp_dst)?;
    }
    if tun.flags & TUN_F_OAM != 0 {
        buf.put_flag(t::OAM)?;
    }
    if tun.opts_kind != TUN_OPTS_NONE {
        emit_options(key, out, buf)?;
    }
    buf.end_nested(nest)
}

/// `out`'s option bytes over the key's option length, in the key's format (a
/// mask of a key without options says "no options" as an empty GENEVE block).
fn emit_options(key: &FlowKey, out: &FlowKey, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    let start = TUN_OPTS_MAX.saturating_sub(usize::from(key.tun_opts_len));
    let bytes = out.tun_opts.get(start..).unwrap_or_default();
    match key.tun.opts_kind {
        TUN_OPTS_NONE | TUN_OPTS_GENEVE => buf.put_attr(t::GENEVE_OPTS, bytes),
        TUN_OPTS_VXLAN => {
            let nest = buf.begin_nested(t::VXLAN_OPTS)?;
            buf.put_attr(vport::VXLAN_EXT_GBP, bytes)?;
            buf.end_nested(nest)
        }
        TUN_OPTS_ERSPAN => buf.put_attr(t::ERSPAN_OPTS, bytes),
        TUN_OPTS_GTPU => buf.put_attr(t::GTPU_OPTS, bytes),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Match, parse_match};
    use super::*;
    use std::vec::Vec;

    fn v4_tunnel(extra: &[Vec<u8>]) -> Vec<u8> {
        let base = std::vec![
            a(t::ID, &0x1234u64.to_be_bytes()),
            a(t::IPV4_SRC, &[1, 1, 1, 1]),
            a(t::IPV4_DST, &[2, 2, 2, 2]),
            a(t::TTL, &[64]),
        ];
        nest(k::TUNNEL, &[base, extra.to_vec()].concat())
    }

    fn flow(tunnel: Vec<u8>) -> Vec<u8> {
        [tunnel, u32a(k::IN_PORT, 1), eth()].concat()
    }

    fn exact(tunnel: Vec<u8>) -> Result<Match, Errno> {
        parse_match(&flow(tunnel), None)
    }

    #[test]
    fn ipv4_tunnel_key() {
        let extra = [
            a(t::TOS, &[0x8]),
            a(t::DONT_FRAGMENT, &[]),
            a(t::CSUM, &[]),
            a(t::OAM, &[]),
            a(t::TP_SRC, &49152u16.to_be_bytes()),
            a(t::TP_DST, &4789u16.to_be_bytes()),
            a(t::PAD, &[]),
        ];
        let m = exact(v4_tunnel(&extra)).unwrap();
        let tun = &m.key.tun;
        assert_eq!(
            (tun.id, tun.ipv4_src, tun.ipv4_dst, tun.ttl, tun.tos),
            (0x1234, 0x0101_0101, 0x0202_0202, 64, 8)
        );
        assert_eq!((tun.tp_src, tun.tp_dst), (49152, 4789));
        assert_eq!(
            tun.flags,
            TUN_F_KEY | TUN_F_DONT_FRAGMENT | TUN_F_CSUM | TUN_F_OAM
        );
        assert!(m.key.has_tunnel());
        // The exact mask covers the whole tunnel key of the key's family.
        let mask = &m.mask.tun;
        assert_eq!(
            (mask.id, mask.ipv4_src, mask.ipv6_src, mask.tp_src, mask.ttl),
            (!0, !0, [0; 16], !0, 0xff)
        );
        assert_eq!(mask.flags, tun.flags);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn ipv6_tunnel_key() {
        let tunnel = nest(k::TUNNEL, &[a(t::IPV6_DST, &[0xfe; 16]), a(t::TTL, &[1])]);
        let m = exact(tunnel).unwrap();
        assert_eq!(
            (m.key.tun.ipv6_dst, m.key.tun.flags, m.key.tun.id),
            ([0xfe; 16], 0, 0)
        );
        assert_eq!((m.mask.tun.ipv6_src, m.mask.tun.ipv4_src), ([0xff; 16], 0));
        assert_eq!(round_trip(&m).key, m.key);
    }

    #[test]
    fn key_requirements() {
        let ttl = a(t::TTL, &[64]);
        let no_dst = nest(k::TUNNEL, &[a(t::IPV4_SRC, &[1, 1, 1, 1]), ttl.clone()]);
        let zero_dst = nest(k::TUNNEL, &[a(t::IPV4_DST, &[0; 4]), ttl.clone()]);
        let zero_dst6 = nest(k::TUNNEL, &[a(t::IPV6_DST, &[0; 16]), ttl.clone()]);
        let no_ttl = nest(k::TUNNEL, &[a(t::IPV4_DST, &[2, 2, 2, 2])]);
        let mixed = v4_tunnel(&[a(t::IPV6_SRC, &[1; 16])]);
        let unknown = v4_tunnel(&[a(t::GTPU_OPTS + 1, &[])]);
        let bad_len = v4_tunnel(&[a(t::TOS, &[0, 0])]);
        let nothing = nest(k::TUNNEL, &[ttl]);
        for bad in [
            no_dst, zero_dst, zero_dst6, no_ttl, mixed, unknown, bad_len, nothing,
        ] {
            assert_eq!(exact(bad.clone()), Err(Errno::Inval), "{bad:02x?}");
        }
    }

    #[test]
    fn geneve_options() {
        let opts: Vec<u8> = (0..8).collect();
        let m = exact(v4_tunnel(&[a(t::GENEVE_OPTS, &opts)])).unwrap();
        assert_eq!(
            (m.key.tun_opts(), m.key.tun.opts_kind),
            (&opts[..], TUN_OPTS_GENEVE)
        );
        assert_eq!(m.key.tun_opts[TUN_OPTS_MAX - 1], 7);
        assert_eq!((m.mask.tun_opts_len, m.mask.tun.opts_kind), (0xff, 0xff));
        assert_eq!(&m.mask.tun_opts[TUN_OPTS_MAX - 8..], &[0xff; 8]);
        assert_eq!(m.mask.tun_opts[TUN_OPTS_MAX - 9], 0);
        assert_eq!(round_trip(&m), m);
        // Multiple of 4, at most 255 bytes.
        assert_eq!(
            exact(v4_tunnel(&[a(t::GENEVE_OPTS, &[0; 6])])),
            Err(Errno::Inval)
        );
        assert_eq!(
            exact(v4_tunnel(&[a(t::GENEVE_OPTS, &[0; 256])])),
            Err(Errno::Inval)
        );
        assert!(exact(v4_tunnel(&[a(t::GENEVE_OPTS, &[0; 252])])).is_ok());
        // One option block only.
        let two = [a(t::GENEVE_OPTS, &[0; 4]), a(t::ERSPAN_OPTS, &[0; 4])];
        assert_eq!(exact(v4_tunnel(&two)), Err(Errno::Inval));
        // Empty options keep their format and are reported back.
        let m = exact(v4_tunnel(&[a(t::GENEVE_OPTS, &[])])).unwrap();
        assert_eq!(
            (m.key.tun_opts_len, m.key.tun.opts_kind),
            (0, TUN_OPTS_GENEVE)
        );
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn option_masks() {
        let key = flow(v4_tunnel(&[a(t::GENEVE_OPTS, &[1, 2, 3, 4, 5, 6, 7, 8])]));
        let mask = |opts: &[u8]| nest(k::TUNNEL, &[a(t::GENEVE_OPTS, opts)]);
        let m = parse_match(&key, Some(&mask(&[0, 0, 0, 0, 0xff, 0xff, 0, 0]))).unwrap();
        assert_eq!(&m.mask.tun_opts[TUN_OPTS_MAX - 4..], &[0xff, 0xff, 0, 0]);
        assert_eq!((m.mask.tun_opts_len, m.mask.tun.flags), (0xff, 0));
        assert_eq!(round_trip(&m), m);
        // A GENEVE mask covers exactly the key's options.
        assert_eq!(
            parse_match(&key, Some(&mask(&[0xff; 4]))),
            Err(Errno::Inval)
        );
        // VXLAN masks are not length-checked; bytes outside the key's options are dropped.
        let vxlan = nest(
            k::TUNNEL,
            &[nest(t::VXLAN_OPTS, &[u32a(vport::VXLAN_EXT_GBP, !0)])],
        );
        let no_opts = flow(v4_tunnel(&[]));
        let m = parse_match(&no_opts, Some(&vxlan)).unwrap();
        assert_eq!(
            (m.mask.tun.opts_kind, m.mask.tun_opts_len, m.mask.tun_opts),
            (0xff, 0xff, [0; TUN_OPTS_MAX])
        );
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn vxlan_erspan_gtpu_options() {
        let gbp = 0x0080_0064u32;
        let m = exact(v4_tunnel(&[nest(
            t::VXLAN_OPTS,
            &[u32a(vport::VXLAN_EXT_GBP, gbp)],
        )]))
        .unwrap();
        assert_eq!(
            (m.key.tun_opts(), m.key.tun.opts_kind),
            (&gbp.to_ne_bytes()[..], TUN_OPTS_VXLAN)
        );
        assert_eq!(round_trip(&m), m);
        let m = exact(v4_tunnel(&[nest(t::VXLAN_OPTS, &[])])).unwrap();
        assert_eq!(
            (m.key.tun_opts(), m.key.tun.opts_kind),
            (&[0u8; 4][..], TUN_OPTS_VXLAN)
        );
        let bad_ext = nest(t::VXLAN_OPTS, &[a(vport::VXLAN_EXT_GBP + 1, &[])]);
        assert_eq!(exact(v4_tunnel(&[bad_ext])), Err(Errno::Inval));
        let zero_ext = nest(t::VXLAN_OPTS, &[a(0, &[])]);
        assert_eq!(exact(v4_tunnel(&[zero_ext])), Err(Errno::Inval));
        let short_gbp = nest(t::VXLAN_OPTS, &[a(vport::VXLAN_EXT_GBP, &[0; 2])]);
        assert_eq!(exact(v4_tunnel(&[short_gbp])), Err(Errno::Inval));

        let erspan = [0, 0, 0, 1, 0, 0, 0x12, 0x34, 0, 0, 0, 0];
        let m = exact(v4_tunnel(&[a(t::ERSPAN_OPTS, &erspan)])).unwrap();
        assert_eq!(
            (m.key.tun_opts(), m.key.tun.opts_kind),
            (&erspan[..], TUN_OPTS_ERSPAN)
        );
        assert_eq!(round_trip(&m), m);
        let m = exact(v4_tunnel(&[a(t::GTPU_OPTS, &[0x34, 1])])).unwrap();
        assert_eq!(
            (m.key.tun_opts(), m.key.tun.opts_kind),
            (&[0x34u8, 1][..], TUN_OPTS_GTPU)
        );
        assert_eq!(round_trip(&m), m);
        assert_eq!(
            exact(v4_tunnel(&[a(t::ERSPAN_OPTS, &[0; 256])])),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn masks_keep_to_the_key_family() {
        let key = flow(v4_tunnel(&[]));
        let mask = nest(k::TUNNEL, &[a(t::IPV6_SRC, &[0xff; 16])]);
        let m = parse_match(&key, Some(&mask)).unwrap();
        assert_eq!((m.mask.tun.ipv6_src, m.mask.tun.ipv4_src), ([0; 16], 0));
        let mixed = nest(
            k::TUNNEL,
            &[a(t::IPV6_SRC, &[0xff; 16]), a(t::IPV4_SRC, &[0xff; 4])],
        );
        assert_eq!(parse_match(&key, Some(&mixed)), Err(Errno::Inval));
        // A flow without tunnel may still mask tunnel fields (to require "no tunnel").
        let plain = [u32a(k::IN_PORT, 1), eth()].concat();
        let mask = nest(
            k::TUNNEL,
            &[a(t::ID, &[0xff; 8]), a(t::IPV4_DST, &[0xff; 4])],
        );
        let m = parse_match(&plain, Some(&mask)).unwrap();
        assert_eq!(
            (m.mask.tun.id, m.mask.tun.ipv4_dst, m.mask.tun.flags),
            (!0, !0, TUN_F_KEY)
        );
        assert!(!m.key.has_tunnel());
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn emitted_nest() {
        let extra = [
            a(t::CSUM, &[]),
            a(t::TP_DST, &6081u16.to_be_bytes()),
            a(t::GENEVE_OPTS, &[9; 4]),
        ];
        let m = exact(v4_tunnel(&extra)).unwrap();
        let tunnel = find(&key_bytes(&m), k::TUNNEL).unwrap();
        assert_eq!(
            types(&tunnel),
            [
                t::ID,
                t::IPV4_SRC,
                t::IPV4_DST,
                t::TTL,
                t::CSUM,
                t::TP_DST,
                t::GENEVE_OPTS
            ]
        );
        // A mask always has the nest (TTL at least), even for a flow without tunnel.
        let plain = parse_match(&[u32a(k::IN_PORT, 1), eth()].concat(), None).unwrap();
        assert_eq!(find(&key_bytes(&plain), k::TUNNEL), None);
        assert_eq!(
            types(&find(&mask_bytes(&plain), k::TUNNEL).unwrap()),
            [t::TTL]
        );
    }
}
