//! Flow keys and masks as text (`odp_flow_format`, `format_odp_key_attr`).

use super::fields;
use super::flags::{self, format_flags, format_flags_masked};
use super::lens::{Len, Table, mask_is_constant};
use super::nl::{be16, be32, byte, find, ne16, ne32, read, walk};
use super::nsh;
use super::out::{AltHex, Out, put_bytes, put_leftover};
use super::tunnel_format;
use crate::netlink::Attr;
use crate::ovs::key;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// Nesting (encapsulation inside encapsulation, actions inside actions)
/// deeper than this is not expanded, so that hostile input cannot exhaust
/// the stack; OVS itself never builds more than 32 levels.
pub(crate) const MAX_DEPTH: usize = 64;

pub(crate) fn attr_name(ty: u16) -> Option<&'static str> {
    Some(match ty {
        0 => "unspec",
        key::ENCAP => "encap",
        key::PRIORITY => "skb_priority",
        key::IN_PORT => "in_port",
        key::ETHERNET => "eth",
        key::VLAN => "vlan",
        key::ETHERTYPE => "eth_type",
        key::IPV4 => "ipv4",
        key::IPV6 => "ipv6",
        key::TCP => "tcp",
        key::UDP => "udp",
        key::ICMP => "icmp",
        key::ICMPV6 => "icmpv6",
        key::ARP => "arp",
        key::ND => "nd",
        key::SKB_MARK => "skb_mark",
        key::TUNNEL => "tunnel",
        key::SCTP => "sctp",
        key::TCP_FLAGS => "tcp_flags",
        key::DP_HASH => "dp_hash",
        key::RECIRC_ID => "recirc_id",
        key::MPLS => "mpls",
        key::CT_STATE => "ct_state",
        key::CT_ZONE => "ct_zone",
        key::CT_MARK => "ct_mark",
        key::CT_LABELS => "ct_label",
        key::CT_ORIG_TUPLE_IPV4 => "ct_tuple4",
        key::CT_ORIG_TUPLE_IPV6 => "ct_tuple6",
        key::NSH => "nsh",
        key::PACKET_TYPE => "packet_type",
        key::ND_EXTENSIONS => "nd_ext",
        key::TUNNEL_INFO => "<error: kernel-only tunnel_info>",
        _ => return None,
    })
}

/// A zero mask shaped like `a` (`generate_all_wildcard_mask`; a nested
/// attribute gets an empty nest).
pub(crate) fn wildcard(a: &Attr<'_>, table: Table) -> Result<Vec<u8>, fmt::Error> {
    let n = if table.len(a.ty()) == Some(Len::Nested) {
        0
    } else {
        a.len()
    };
    let mut v = Vec::new();
    v.try_reserve(n).map_err(|_| fmt::Error)?;
    v.resize(n, 0);
    Ok(v)
}

/// `check_attr_len`: prints the attribute as raw bytes and returns false if
/// its length (or its mask's) is wrong for its type.
pub(crate) fn check_len(
    o: &mut Out,
    a: &Attr<'_>,
    ma: Option<&Attr<'_>>,
    table: Table,
    need_key: bool,
) -> Result<bool, fmt::Error> {
    let Some(Len::Fixed(want)) = table.len(a.ty()) else {
        return Ok(true);
    };
    let bad_key = a.len() != want;
    let bad_mask = ma.is_some_and(|m| m.len() != want);
    if !bad_key && !bad_mask {
        return Ok(true);
    }
    if need_key {
        write!(o, "key{}", a.ty())?;
    }
    if bad_key {
        write!(o, "(bad key length {}, expected {want})(", a.len())?;
    }
    put_bytes(o, a.payload(), Some(' '))?;
    if let Some(m) = ma {
        o.ch('/')?;
        if bad_mask {
            write!(o, "(bad mask length {}, expected {want})(", m.len())?;
        }
        put_bytes(o, m.payload(), Some(' '))?;
    }
    o.ch(')')?;
    Ok(false)
}

/// `odp_flow_format` (with `skip_no_mask` false).
pub(crate) fn flow(
    o: &mut Out,
    key: &[u8],
    mask: Option<&[u8]>,
    verbose: bool,
    depth: usize,
) -> fmt::Result {
    if key.is_empty() {
        return o.put("<empty>");
    }
    let masks = mask.filter(|m| !m.is_empty());
    let (mut has_ethtype, mut has_packet_type, mut first) = (false, false, true);
    let mut w = walk(key);
    for a in w.by_ref() {
        let ty = a.ty();
        let found = masks.and_then(|m| find(m, ty));
        if !check_len(o, &a, found.as_ref(), Table::Key, false)? {
            continue;
        }
        if ty == key::ETHERTYPE {
            has_ethtype = true;
        } else if ty == key::PACKET_TYPE {
            has_packet_type = true;
        }
        let nested = Table::Key.len(ty) == Some(Len::Nested);
        let wildcard_mask =
            masks.is_some() && found.is_none_or(|m| mask_is_constant(m.ty(), m.payload(), false));
        if verbose || !wildcard_mask || nested {
            let generated;
            let ma = match found {
                None if wildcard_mask => {
                    generated = wildcard(&a, Table::Key)?;
                    Some(Attr::new(ty, &generated))
                }
                _ => found,
            };
            if !first {
                o.ch(',')?;
            }
            attr_body(o, &a, ma.as_ref(), verbose, depth)?;
            first = false;
        } else if ty == key::ETHERNET && !has_packet_type {
            if !first {
                o.ch(',')?;
            }
            o.put("eth()")?;
        } else if ty == key::PACKET_TYPE && wildcard_mask {
            has_packet_type = false;
        }
    }
    put_leftover(o, key, w.left(), w.left_at())?;
    if let Some(m) = mask.filter(|_| !has_ethtype)
        && let Some(ma) = find(m, key::ETHERTYPE)
    {
        write!(o, ",eth_type(0/0x{:04x})", be16(o.ext(ma.payload()), 0))?;
    }
    Ok(())
}

/// `format_odp_key_attr`: one attribute with an optional mask.
pub(crate) fn attr(
    o: &mut Out,
    a: &Attr<'_>,
    ma: Option<&Attr<'_>>,
    verbose: bool,
    depth: usize,
) -> fmt::Result {
    if check_len(o, a, ma, Table::Key, false)? {
        attr_body(o, a, ma, verbose, depth)?;
    }
    Ok(())
}

/// `format_odp_key_attr__`; lengths are already checked.
fn attr_body(
    o: &mut Out,
    a: &Attr<'_>,
    ma: Option<&Attr<'_>>,
    verbose: bool,
    depth: usize,
) -> fmt::Result {
    let ty = a.ty();
    let exact = ma.is_none_or(|m| mask_is_constant(m.ty(), m.payload(), true));
    match attr_name(ty) {
        Some(n) => o.put(n)?,
        None => write!(o, "key{ty}")?,
    }
    o.ch('(')?;
    if value(o, a, ma, exact, verbose, depth)? {
        o.ch(')')?;
    }
    Ok(())
}

/// The part between the parentheses; false if OVS stops without closing them.
fn value(
    o: &mut Out,
    a: &Attr<'_>,
    ma: Option<&Attr<'_>>,
    exact: bool,
    verbose: bool,
    depth: usize,
) -> Result<bool, fmt::Error> {
    let k = a.payload();
    let m = ma.map(|m| m.payload());
    let mask_empty = m.is_none_or(|m| m.iter().all(|&b| b == 0));
    let f = |off: usize| byte(k, off);
    let mf = |off: usize| m.map(|m| byte(m, off));
    match a.ty() {
        key::ENCAP => {
            if depth >= MAX_DEPTH {
                o.put("...")?;
            } else if let Some(mp) = m.filter(|mp| !mp.is_empty() && !k.is_empty()) {
                flow(o, k, Some(mp), verbose, depth + 1)?;
            } else if !k.is_empty() {
                flow(o, k, None, verbose, depth + 1)?;
            }
        }
        key::PRIORITY | key::SKB_MARK | key::DP_HASH | key::RECIRC_ID => {
            write!(o, "{}", AltHex(ne32(k, 0).into()))?;
            if !exact {
                write!(o, "/{}", AltHex(m.map_or(0, |m| ne32(m, 0)).into()))?;
            }
        }
        key::CT_MARK => {
            if verbose || !mask_empty {
                write!(o, "{}", AltHex(ne32(k, 0).into()))?;
                if !exact {
                    write!(o, "/{}", AltHex(m.map_or(0, |m| ne32(m, 0)).into()))?;
                }
            }
        }
        key::CT_STATE => {
            let state = ne32(k, 0);
            let mask = if mask_empty {
                0
            } else {
                m.map_or(0, |m| ne32(m, 0))
            };
            if verbose {
                write!(o, "{}", AltHex(state.into()))?;
                if !exact {
                    write!(o, "/{}", AltHex(mask.into()))?;
                }
            } else if !exact {
                format_flags_masked(o, flags::ct_state, state, mask, u32::MAX)?;
            } else {
                format_flags(o, flags::ct_state, state, '|')?;
            }
        }
        key::CT_ZONE => {
            if verbose || !mask_empty {
                write!(o, "{}", AltHex(ne16(k, 0).into()))?;
                if !exact {
                    write!(o, "/{}", AltHex(m.map_or(0, |m| ne16(m, 0)).into()))?;
                }
            }
        }
        key::CT_LABELS => fields::u128(o, &read(k, 0), m.map(|m| read(m, 0)).as_ref(), verbose)?,
        key::CT_ORIG_TUPLE_IPV4 => {
            fields::ipv4(o, "src", read(k, 0), m.map(|m| read(m, 0)), verbose)?;
            fields::ipv4(o, "dst", read(k, 4), m.map(|m| read(m, 4)), verbose)?;
            fields::u8u(o, "proto", f(12), mf(12), verbose)?;
            fields::be16(o, "tp_src", be16(k, 8), m.map(|m| be16(m, 8)), verbose)?;
            fields::be16(o, "tp_dst", be16(k, 10), m.map(|m| be16(m, 10)), verbose)?;
            o.chomp(',');
        }
        key::CT_ORIG_TUPLE_IPV6 => {
            fields::in6(o, "src", read(k, 0), m.map(|m| read(m, 0)), verbose)?;
            fields::in6(o, "dst", read(k, 16), m.map(|m| read(m, 16)), verbose)?;
            fields::u8u(o, "proto", f(36), mf(36), verbose)?;
            fields::be16(o, "src_port", be16(k, 32), m.map(|m| be16(m, 32)), verbose)?;
            fields::be16(o, "dst_port", be16(k, 34), m.map(|m| be16(m, 34)), verbose)?;
            o.chomp(',');
        }
        key::TUNNEL => tunnel_format::tunnel(o, k, m, verbose)?,
        key::IN_PORT => {
            write!(o, "{}", ne32(k, 0))?;
            if !exact {
                write!(o, "/{}", AltHex(m.map_or(0, |m| ne32(m, 0)).into()))?;
            }
        }
        key::PACKET_TYPE => {
            let v = be32(k, 0);
            let mask = m.map_or(u32::MAX, |m| be32(m, 0));
            fields::be16(
                o,
                "ns",
                (v >> 16) as u16,
                Some((mask >> 16) as u16),
                verbose,
            )?;
            fields::be16x(o, "id", v as u16, Some(mask as u16), verbose)?;
            o.chomp(',');
        }
        key::ETHERNET => {
            fields::eth(o, "src", read(k, 0), m.map(|m| read(m, 0)), verbose)?;
            fields::eth(o, "dst", read(k, 6), m.map(|m| read(m, 6)), verbose)?;
            o.chomp(',');
        }
        key::VLAN => fields::vlan_tci(o, be16(k, 0), m.map_or(u16::MAX, |m| be16(m, 0)), verbose)?,
        key::MPLS => {
            if k.is_empty() || !k.len().is_multiple_of(4) {
                write!(o, "(bad key length {})", k.len())?;
                return Ok(false);
            }
            let lse_mask = match m.filter(|_| !exact) {
                Some(mm) if mm.len() != k.len() => {
                    write!(o, "(key length {} != mask length {})", k.len(), mm.len())?;
                    return Ok(false);
                }
                other => other,
            };
            for i in (0..k.len()).step_by(4) {
                let lse = be32(k, i);
                match lse_mask {
                    None => fields::mpls_lse(o, lse)?,
                    Some(mm) => {
                        let ml = be32(mm, i);
                        write!(
                            o,
                            "label={}/0x{:x},tc={}/{:x},ttl={}/0x{:x},bos={}/{:x}",
                            lse >> 12,
                            ml >> 12,
                            (lse >> 9) & 7,
                            (ml >> 9) & 7,
                            lse & 0xff,
                            ml & 0xff,
                            (lse >> 8) & 1,
                            (ml >> 8) & 1
                        )?;
                    }
                }
                o.ch(',')?;
            }
            o.chomp(',');
        }
        key::ETHERTYPE => {
            write!(o, "0x{:04x}", be16(k, 0))?;
            if !exact {
                write!(o, "/0x{:04x}", m.map_or(0, |m| be16(m, 0)))?;
            }
        }
        key::IPV4 => {
            fields::ipv4(o, "src", read(k, 0), m.map(|m| read(m, 0)), verbose)?;
            fields::ipv4(o, "dst", read(k, 4), m.map(|m| read(m, 4)), verbose)?;
            fields::u8u(o, "proto", f(8), mf(8), verbose)?;
            fields::u8x(o, "tos", f(9), mf(9), verbose)?;
            fields::u8u(o, "ttl", f(10), mf(10), verbose)?;
            fields::frag(o, "frag", f(11), mf(11))?;
            o.chomp(',');
        }
        key::IPV6 => {
            fields::in6(o, "src", read(k, 0), m.map(|m| read(m, 0)), verbose)?;
            fields::in6(o, "dst", read(k, 16), m.map(|m| read(m, 16)), verbose)?;
            fields::ipv6_label(o, "label", be32(k, 32), m.map(|m| be32(m, 32)), verbose)?;
            fields::u8u(o, "proto", f(36), mf(36), verbose)?;
            fields::u8x(o, "tclass", f(37), mf(37), verbose)?;
            fields::u8u(o, "hlimit", f(38), mf(38), verbose)?;
            fields::frag(o, "frag", f(39), mf(39))?;
            o.chomp(',');
        }
        key::TCP | key::UDP | key::SCTP => {
            fields::be16(o, "src", be16(k, 0), m.map(|m| be16(m, 0)), verbose)?;
            fields::be16(o, "dst", be16(k, 2), m.map(|m| be16(m, 2)), verbose)?;
            o.chomp(',');
        }
        key::TCP_FLAGS => {
            let v = u32::from(be16(k, 0));
            if exact {
                format_flags(o, flags::tcp_flag, v, '|')?;
            } else {
                let mask = u32::from(m.map_or(0, |m| be16(m, 0)) & 0x0fff);
                format_flags_masked(o, flags::tcp_flag, v, mask, 0x0fff)?;
            }
        }
        key::ICMP | key::ICMPV6 => {
            fields::u8u(o, "type", f(0), mf(0), verbose)?;
            fields::u8u(o, "code", f(1), mf(1), verbose)?;
            o.chomp(',');
        }
        key::ARP => {
            fields::ipv4(o, "sip", read(k, 0), m.map(|m| read(m, 0)), verbose)?;
            fields::ipv4(o, "tip", read(k, 4), m.map(|m| read(m, 4)), verbose)?;
            fields::be16(o, "op", be16(k, 8), m.map(|m| be16(m, 8)), verbose)?;
            fields::eth(o, "sha", read(k, 10), m.map(|m| read(m, 10)), verbose)?;
            fields::eth(o, "tha", read(k, 16), m.map(|m| read(m, 16)), verbose)?;
            o.chomp(',');
        }
        key::ND => {
            fields::in6(o, "target", read(k, 0), m.map(|m| read(m, 0)), verbose)?;
            fields::eth(o, "sll", read(k, 16), m.map(|m| read(m, 16)), verbose)?;
            fields::eth(o, "tll", read(k, 22), m.map(|m| read(m, 22)), verbose)?;
            o.chomp(',');
        }
        key::ND_EXTENSIONS => {
            write!(o, "nd_reserved=0x{:x},", be32(k, 0))?;
            fields::u8u(o, "nd_options_type", f(4), mf(4), verbose)?;
            o.chomp(',');
        }
        key::NSH => nsh::key(o, k, m)?,
        _ => {
            put_bytes(o, k, Some(' '))?;
            if !exact {
                o.ch('/')?;
                put_bytes(o, m.unwrap_or_default(), Some(' '))?;
            }
        }
    }
    Ok(true)
}
