//! The `ct(...)` action with its `nat(...)` part, both ways.

use super::addr::{put_ipv4, put_ipv6, scan_ipv4, scan_ipv6};
use super::fields;
use super::key_parse::DELIMITERS;
use super::nl::{NlBuf, Rule, ne16, ne32, parse_nested, read};
use super::out::{AltHex, Out};
use super::scan::{Error, Parsed, Scan, at, cspan, parse_int_string, span};
use crate::netlink::Attr;
use crate::ovs::action as act;
use core::fmt::{self, Write};

/// `delimiters_end`: what ends a helper or timeout name.
const NAME_END: &[u8] = b", \t\r\n)";

/// A C string attribute's text (validated: NUL-terminated, no inner NUL).
fn put_c_string(o: &mut Out, a: &Attr<'_>) -> fmt::Result {
    let body = a.payload().split_last().map_or(&[][..], |(_, b)| b);
    for chunk in body.utf8_chunks() {
        o.put(chunk.valid())?;
        if !chunk.invalid().is_empty() {
            o.ch(char::REPLACEMENT_CHARACTER)?;
        }
    }
    Ok(())
}

pub(crate) fn format(o: &mut Out, p: &[u8]) -> fmt::Result {
    let policy = [
        Rule::NONE,
        Rule::ANY.optional(),
        Rule::U16.optional(),
        Rule::len(8, usize::MAX).optional(),
        Rule::len(32, usize::MAX).optional(),
        Rule::string(1, 16).optional(),
        Rule::ANY.optional(),
        Rule::ANY.optional(),
        Rule::NONE,
        Rule::string(1, 32).optional(),
    ];
    let Some([_, commit, zone, mark, label, helper, nat, force, _, timeout]) =
        parse_nested(p, &policy)
    else {
        return o.put("ct(error)");
    };
    let zone = zone.map_or(0, |z| ne16(z.payload(), 0));
    o.put("ct")?;
    let any = commit.is_some()
        || force.is_some()
        || zone != 0
        || mark.is_some()
        || label.is_some()
        || helper.is_some()
        || timeout.is_some()
        || nat.is_some();
    if !any {
        return Ok(());
    }
    o.ch('(')?;
    if commit.is_some() {
        o.put("commit,")?;
    }
    if force.is_some() {
        o.put("force_commit,")?;
    }
    if zone != 0 {
        write!(o, "zone={zone},")?;
    }
    if let Some(m) = mark {
        let v = m.payload();
        write!(
            o,
            "mark={}/{},",
            AltHex(ne32(v, 0).into()),
            AltHex(ne32(v, 4).into())
        )?;
    }
    if let Some(l) = label {
        o.put("label=")?;
        fields::u128(o, &read(l.payload(), 0), Some(&read(l.payload(), 16)), true)?;
        o.ch(',')?;
    }
    if let Some(h) = helper {
        o.put("helper=")?;
        put_c_string(o, &h)?;
        o.ch(',')?;
    }
    if let Some(t) = timeout {
        o.put("timeout=")?;
        put_c_string(o, &t)?;
        o.ch(',')?;
    }
    if let Some(n) = nat {
        format_nat(o, n.payload())?;
    }
    o.chomp(',');
    o.ch(')')
}

fn put_addr(o: &mut Out, a: &[u8], bracket: bool) -> fmt::Result {
    if a.len() == 4 {
        return put_ipv4(o, &read(a, 0));
    }
    if bracket {
        o.ch('[')?;
    }
    put_ipv6(o, &read(a, 0))?;
    if bracket {
        o.ch(']')?;
    }
    Ok(())
}

fn format_nat(o: &mut Out, p: &[u8]) -> fmt::Result {
    let flag = Rule::ANY.optional();
    let addr = Rule::len(4, 16).optional();
    let u16_ = Rule::U16.optional();
    let policy = [
        Rule::NONE,
        flag,
        flag,
        addr,
        addr,
        u16_,
        u16_,
        flag,
        flag,
        flag,
    ];
    let Some(
        [
            _,
            src,
            dst,
            ip_min,
            ip_max,
            proto_min,
            proto_max,
            persistent,
            hash,
            random,
        ],
    ) = parse_nested(p, &policy)
    else {
        return o.put("nat(error: nl_parse_nested() failed.)");
    };
    let options = ip_min.is_some()
        || ip_max.is_some()
        || proto_min.is_some()
        || proto_max.is_some()
        || persistent.is_some()
        || hash.is_some()
        || random.is_some();
    if src.is_none() && dst.is_none() && options {
        return o.put("nat(error: options allowed only with \"src\" or \"dst\")");
    }
    if src.is_some() && dst.is_some() {
        return o.put("nat(error: Only one of \"src\" or \"dst\" may be present.)");
    }
    if ip_min.is_none() && proto_min.is_some() {
        return o.put("nat(error: proto but no IP.)");
    }
    if (ip_min.is_none() && ip_max.is_some()) || (proto_min.is_none() && proto_max.is_some()) {
        return o.put("nat(error: range max without min.)");
    }
    let min_len = ip_min.map_or(0, |a| a.len());
    if (ip_min.is_some() && min_len != 4 && min_len != 16)
        || ip_max.is_some_and(|m| ip_min.is_some() && m.len() != min_len)
    {
        return o.put("nat(error: IP address sizes do not match)");
    }
    let min = ip_min.map_or(&[][..], |a| a.payload());
    let max = ip_max.map_or(&[][..], |a| a.payload());
    let max_set = max.iter().any(|&b| b != 0);
    let pmin = proto_min.map_or(0, |a| ne16(a.payload(), 0));
    let pmax = proto_max.map_or(0, |a| ne16(a.payload(), 0));
    if (min_len > 0 && max_set && min > max) || (pmax != 0 && pmin > pmax) {
        return o.put("nat(range error)");
    }
    o.put("nat")?;
    if src.is_none() && dst.is_none() {
        return Ok(());
    }
    o.put(if src.is_some() { "(src" } else { "(dst" })?;
    if min_len > 0 {
        o.ch('=')?;
        put_addr(o, min, pmin != 0)?;
        if max_set && max != min {
            o.ch('-')?;
            put_addr(o, max, pmin != 0)?;
        }
        if pmin != 0 {
            write!(o, ":{pmin}")?;
            if pmax != 0 && pmax != pmin {
                write!(o, "-{pmax}")?;
            }
        }
    }
    o.ch(',')?;
    for (present, name) in [
        (persistent, "persistent,"),
        (hash, "hash,"),
        (random, "random,"),
    ] {
        if present.is_some() {
            o.put(name)?;
        }
    }
    o.chomp(',');
    o.ch(')')
}

/// What `nat(...)` asks for (`struct ct_nat_params`).
#[derive(Default)]
struct Nat {
    snat: bool,
    dnat: bool,
    addr_len: usize,
    min: [u8; 16],
    max: [u8; 16],
    proto_min: u16,
    proto_max: u16,
    persistent: bool,
    hash: bool,
    random: bool,
}

/// An IPv6 address, bare or in brackets, as `scan_ct_nat_range` reads it.
fn scan_v6_maybe_bracketed(sc: &mut Scan<'_>) -> Option<[u8; 16]> {
    let mut bare = *sc;
    if bare
        .set(46, |c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        .is_some()
    {
        // The bare form matched as text: it must be an address.
        let a = scan_ipv6(sc)?;
        return Some(a);
    }
    let mut t = *sc;
    t.lit("[")?;
    let a = scan_ipv6(&mut t)?;
    t.lit("]")?;
    *sc = t;
    Some(a)
}

/// `scan_ct_nat_range`: `[=addr[-addr][:port[-port]]]`.
fn scan_range(sc: &mut Scan<'_>, p: &mut Nat) -> Parsed<()> {
    if sc.lit("=").is_none() {
        return Ok(());
    }
    let mut t = *sc;
    if let Some(a) = scan_ipv4(&mut t) {
        *sc = t;
        p.addr_len = 4;
        p.min[..4].copy_from_slice(&a);
        if sc.lit("-").is_some() {
            let a = scan_ipv4(sc).ok_or(Error::Inval)?;
            p.max[..4].copy_from_slice(&a);
        }
    } else {
        p.min = scan_v6_maybe_bracketed(sc).ok_or(Error::Inval)?;
        p.addr_len = 16;
        if sc.lit("-").is_some() {
            p.max = scan_v6_maybe_bracketed(sc).ok_or(Error::Inval)?;
        }
    }
    let mut t = *sc;
    if t.lit(":").is_some()
        && let Some(v) = t.int(10)
    {
        *sc = t;
        p.proto_min = v as u16;
        if sc.lit("-").is_some() {
            p.proto_max = sc.int(10).ok_or(Error::Inval)? as u16;
        }
    }
    Ok(())
}

/// `scan_ct_nat`: text used (0 if not `nat`).
fn scan_nat(s: &[u8], i: usize, p: &mut Nat) -> Parsed<usize> {
    let mut sc = Scan::new(s, i);
    if sc.lit("nat").is_none() {
        return Ok(0);
    }
    *p = Nat::default();
    if sc.lit("(").is_some() {
        let close = i + cspan(s, i, b")");
        if at(s, close) != b')' {
            return Err(Error::Inval);
        }
        while sc.pos < close {
            sc.pos += span(s, sc.pos, DELIMITERS);
            if sc.lit("src").is_some() {
                scan_range(&mut sc, p)?;
                p.snat = true;
            } else if sc.lit("dst").is_some() {
                scan_range(&mut sc, p)?;
                p.dnat = true;
            } else if sc.lit("persistent").is_some() {
                p.persistent = true;
            } else if sc.lit("hash").is_some() {
                p.hash = true;
            } else if sc.lit("random").is_some() {
                p.random = true;
            } else {
                return Err(Error::Inval);
            }
        }
        let n = p.addr_len;
        let (min, max) = (
            p.min.get(..n).unwrap_or_default(),
            p.max.get(..n).unwrap_or_default(),
        );
        let bad_range = n != 0 && max.iter().any(|&b| b != 0) && max < min;
        if (p.snat && p.dnat)
            || bad_range
            || (p.proto_max != 0 && p.proto_max < p.proto_min)
            || (p.hash && p.random)
        {
            return Err(Error::Inval);
        }
        sc.pos += 1;
    }
    Ok(sc.pos - i)
}

fn put_nat(b: &mut NlBuf, p: &Nat) -> Parsed<()> {
    let start = b.begin(act::CT_NAT)?;
    if p.snat || p.dnat {
        b.flag(if p.snat { act::NAT_SRC } else { act::NAT_DST })?;
        if p.addr_len != 0 {
            let n = p.addr_len;
            let (min, max) = (
                p.min.get(..n).unwrap_or_default(),
                p.max.get(..n).unwrap_or_default(),
            );
            b.put(act::NAT_IP_MIN, min)?;
            if max > min {
                b.put(act::NAT_IP_MAX, max)?;
            }
            if p.proto_min != 0 {
                b.u16(act::NAT_PROTO_MIN, p.proto_min)?;
                if p.proto_max != 0 && p.proto_max > p.proto_min {
                    b.u16(act::NAT_PROTO_MAX, p.proto_max)?;
                }
            }
            for (on, ty) in [
                (p.persistent, act::NAT_PERSISTENT),
                (p.hash, act::NAT_PROTO_HASH),
                (p.random, act::NAT_PROTO_RANDOM),
            ] {
                if on {
                    b.flag(ty)?;
                }
            }
        }
    }
    b.end(start);
    Ok(())
}

/// `parse_conntrack_action`: text used, 0 if the text is not `ct`.
pub(crate) fn parse(s: &[u8], i: usize, actions: &mut NlBuf) -> Parsed<usize> {
    let mut sc = Scan::new(s, i);
    if sc.lit("ct").is_none() {
        return Ok(0);
    }
    let (mut commit, mut force, mut zone) = (false, false, 0u16);
    let (mut mark, mut mark_mask) = (0u32, 0u32);
    let mut label = [0u8; 32];
    let (mut helper, mut timeout) = (None, None);
    let mut nat: Option<Nat> = None;
    if sc.lit("(").is_some() {
        let mut close = sc.pos + cspan(s, sc.pos, b")");
        if at(s, close) != b')' {
            return Err(Error::Inval);
        }
        while sc.pos != close {
            sc.pos += span(s, sc.pos, DELIMITERS);
            let mut t = sc;
            if sc.lit("commit").is_some() {
                commit = true;
            } else if sc.lit("force_commit").is_some() {
                force = true;
            } else if let Some(z) = t.lit("zone=").and_then(|_| t.u16(10)) {
                zone = z;
                sc = t;
            } else if let Some(m) = t.lit("mark=").and_then(|_| t.u32(16)) {
                mark = m;
                sc = t;
                let mut u = sc;
                match u.lit("/").and_then(|_| u.u32(16)) {
                    Some(mm) => {
                        mark_mask = mm;
                        sc = u;
                    }
                    None => mark_mask = u32::MAX,
                }
            } else if sc.lit("label=").is_some() {
                let (mut v, mut m) = ([0u8; 16], [0u8; 16]);
                let end = parse_int_string(s, sc.pos, &mut v).ok_or(Error::Inval)?;
                sc.pos = end;
                if at(s, end) == b'/' {
                    sc.pos = parse_int_string(s, end + 1, &mut m).ok_or(Error::Inval)?;
                } else {
                    m = [0xff; 16];
                }
                v.reverse();
                m.reverse();
                label[..16].copy_from_slice(&v);
                label[16..].copy_from_slice(&m);
            } else if sc.lit("helper=").is_some() {
                let n = cspan(s, sc.pos, NAME_END);
                if n == 0 || n > 15 {
                    return Err(Error::Inval);
                }
                helper = s.get(sc.pos..sc.pos + n);
                sc.pos += n;
            } else if sc.lit("timeout=").is_some() {
                let n = cspan(s, sc.pos, NAME_END);
                if n == 0 || n > 31 {
                    return Err(Error::Inval);
                }
                timeout = s.get(sc.pos..sc.pos + n);
                sc.pos += n;
            } else {
                let mut p = Nat::default();
                let n = scan_nat(s, sc.pos, &mut p)?;
                if n == 0 {
                    return Err(Error::Inval);
                }
                sc.pos += n;
                nat = Some(p);
                // The `)` found first closed the `nat(...)`; find the real one.
                close = sc.pos + cspan(s, sc.pos, b")");
                if at(s, close) != b')' {
                    return Err(Error::Inval);
                }
            }
        }
        sc.pos += 1;
    }
    if commit && force {
        return Err(Error::Inval);
    }
    let start = actions.begin(act::CT)?;
    if commit {
        actions.flag(act::CT_COMMIT)?;
    } else if force {
        actions.flag(act::CT_FORCE_COMMIT)?;
    }
    if zone != 0 {
        actions.u16(act::CT_ZONE, zone)?;
    }
    if mark_mask != 0 {
        let mut m = [0u8; 8];
        m[..4].copy_from_slice(&mark.to_ne_bytes());
        m[4..].copy_from_slice(&mark_mask.to_ne_bytes());
        actions.put(act::CT_MARK, &m)?;
    }
    if label[16..].iter().any(|&b| b != 0) {
        actions.put(act::CT_LABELS, &label)?;
    }
    for (name, ty) in [(helper, act::CT_HELPER), (timeout, act::CT_TIMEOUT)] {
        if let Some(n) = name {
            let mut z = [0u8; 32];
            z.get_mut(..n.len()).ok_or(Error::Inval)?.copy_from_slice(n);
            actions.put(ty, z.get(..n.len() + 1).unwrap_or_default())?;
        }
    }
    if let Some(p) = &nat {
        put_nat(actions, p)?;
    }
    actions.end(start);
    Ok(sc.pos - i)
}
