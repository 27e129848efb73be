//! Datapath action text to attributes (`odp_actions_from_string`).

use super::ct;
use super::key_parse::{self, DELIMITERS, Depth, MAX_NESTED};
use super::nl::{NlBuf, oversized};
use super::nsh;
use super::scan::{
    Error, Parsed, Scan, at, has_prefix, has_prefix_nocase, hex_pairs, is_space, span,
};
use super::tnl_push;
use super::userspace;
use crate::netlink::{NLA_HDRLEN, align};
use crate::ovs::action as act;

/// How a whole action list failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Errno(Error),
    /// An action was followed by something other than a delimiter: OVS
    /// returns the negated length of that action as its "errno".
    Trailing(usize),
}

/// `odp_actions_from_string`.
pub(crate) fn actions(s: &[u8]) -> Result<NlBuf, Failure> {
    let mut out = NlBuf::new();
    if s.eq_ignore_ascii_case(b"drop") {
        out.u32(act::DROP, 0).map_err(Failure::Errno)?;
        return Ok(out);
    }
    let mut d = Depth::default();
    let mut p = 0usize;
    loop {
        p += span(s, p, DELIMITERS);
        if at(s, p) == 0 {
            return Ok(out);
        }
        let n = action(&mut d, s, p, &mut out).map_err(Failure::Errno)?;
        if oversized(out.len().saturating_sub(NLA_HDRLEN)) {
            return Err(Failure::Errno(Error::TooBig));
        }
        let next = at(s, p + n);
        if next != 0 && !DELIMITERS.contains(&next) {
            return Err(Failure::Trailing(n));
        }
        p += n;
    }
}

/// `parse_odp_action`: one action, within the nesting limit.
fn action(d: &mut Depth, s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<usize> {
    let r = if d.enter() == MAX_NESTED {
        Err(Error::Inval)
    } else {
        action_at(d, s, i, out)
    };
    d.leave();
    r
}

/// `parse_action_list`: actions up to (not including) a `)`.
fn list(d: &mut Depth, s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<usize> {
    let mut p = i;
    loop {
        p += span(s, p, DELIMITERS);
        if at(s, p) == b')' {
            return Ok(p - i);
        }
        let n = action(d, s, p, out)?;
        if oversized(out.len().saturating_sub(NLA_HDRLEN)) {
            return Err(Error::TooBig);
        }
        p += n;
    }
}

/// Scans `text`, then an integer in `base`, then `close`; all or nothing.
fn call(s: &[u8], i: usize, text: &str, base: u32, close: &str) -> Option<(u64, usize)> {
    let mut sc = Scan::new(s, i);
    sc.lit(text)?;
    let v = sc.int(base)?;
    sc.lit(close)?;
    Some((v, sc.pos - i))
}

fn action_at(d: &mut Depth, s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<usize> {
    let mut sc = Scan::new(s, i);
    if let Some(port) = sc.u32(0) {
        out.u32(act::OUTPUT, port)?;
        return Ok(sc.pos - i);
    }
    for (text, base, ty) in [
        ("lb_output(", 10, act::LB_OUTPUT),
        ("trunc(", 0, act::TRUNC),
        ("recirc(", 10, act::RECIRC),
    ] {
        if let Some((v, n)) = call(s, i, text, base, ")") {
            out.u32(ty, v as u32)?;
            return Ok(n);
        }
    }
    if has_prefix(s, i, "userspace(") {
        return userspace::parse(s, i, out);
    }
    if has_prefix(s, i, "set(") {
        return set(d, s, i, out);
    }
    if let Some((tpid, tci, n)) = push_vlan(s, i) {
        if tci.0 & !0xfff != 0 || tci.1 & !7 != 0 {
            return Err(Error::Inval);
        }
        let v = (tci.0 | (tci.1 << 13) | if tci.2 != 0 { 0x1000 } else { 0 }) as u16;
        let t = (tpid as u16).to_be_bytes();
        let c = v.to_be_bytes();
        out.put(act::PUSH_VLAN, &[t[0], t[1], c[0], c[1]])?;
        return Ok(n);
    }
    if has_prefix(s, i, "pop_vlan") {
        out.flag(act::POP_VLAN)?;
        return Ok(8);
    }
    if let Some((id, n)) = meter(s, i) {
        out.u32(act::METER, id as u32)?;
        return Ok(n);
    }
    if let Some(n) = sample(d, s, i, out)? {
        return Ok(n);
    }
    if has_prefix(s, i, "clone(") {
        let start = out.begin(act::CLONE)?;
        let n = 6 + list(d, s, i + 6, out)?;
        out.end(start);
        return Ok(n + 1);
    }
    if has_prefix(s, i, "push_nsh(") {
        return Ok(nsh::parse_push(s, i, out)? + 1);
    }
    if let Some(n) = Scan::new(s, i).lit("pop_nsh()").map(|_| 9) {
        out.flag(act::POP_NSH)?;
        return Ok(n);
    }
    if let Some((port, n)) = call(s, i, "tnl_pop(", 0, ")") {
        out.u32(act::TUNNEL_POP, port as u32)?;
        return Ok(n);
    }
    if has_prefix(s, i, "ct_clear") {
        out.flag(act::CT_CLEAR)?;
        return Ok(8);
    }
    if let Some(n) = check_pkt_len(d, s, i, out)? {
        return Ok(n);
    }
    match ct::parse(s, i, out)? {
        0 => {}
        n => return Ok(n),
    }
    if let Some((mpls, n)) = add_mpls(s, i) {
        out.put(act::ADD_MPLS, &mpls)?;
        return Ok(n);
    }
    if has_prefix(s, i, "psample(") {
        return psample(s, i, out);
    }
    tnl_push::parse(s, i, out)
}

/// The four `push_vlan(...)` forms: TPID, (VID, PCP, CFI) and text used.
fn push_vlan(s: &[u8], i: usize) -> Option<(u64, (u32, u32, u32), usize)> {
    let forms: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];
    forms.iter().find_map(|&(tpid, cfi)| {
        let mut sc = Scan::new(s, i);
        sc.lit("push_vlan(")?;
        let t = if tpid {
            sc.lit("tpid=")?;
            let t = sc.int(0)?;
            sc.lit(",")?;
            t
        } else {
            0x8100
        };
        sc.lit("vid=")?;
        let vid = sc.int(0)? as u32;
        sc.lit(",pcp=")?;
        let pcp = sc.int(0)? as u32;
        let c = if cfi {
            sc.lit(",cfi=")?;
            sc.int(0)? as u32
        } else {
            1
        };
        sc.lit(")")?;
        Some((t, (vid, pcp, c), sc.pos - i))
    })
}

/// `meter(N)` as glibc's `sscanf("%lli")` reads N: out-of-range values
/// saturate to the `long long` range.
fn meter(s: &[u8], i: usize) -> Option<(u64, usize)> {
    let mut p = i;
    if !has_prefix(s, p, "meter(") {
        return None;
    }
    p += 6;
    while is_space(at(s, p)) {
        p += 1;
    }
    let negative = at(s, p) == b'-';
    if matches!(at(s, p), b'-' | b'+') {
        p += 1;
    }
    let mut base = 10u32;
    // glibc takes a bare `0x` as zero.
    let mut digits = false;
    if at(s, p) == b'0' && matches!(at(s, p + 1), b'x' | b'X') {
        base = 16;
        p += 2;
        digits = true;
    } else if at(s, p) == b'0' {
        base = 8;
    }
    let start = p;
    let mut mag = 0u128;
    while let Some(dg) = (at(s, p) as char).to_digit(base) {
        mag = (mag * u128::from(base) + u128::from(dg)).min(1 << 64);
        p += 1;
    }
    if (p == start && !digits) || at(s, p) != b')' {
        return None;
    }
    let v: i64 = if negative {
        i64::try_from(mag).map_or(i64::MIN, |m| m.wrapping_neg())
    } else {
        i64::try_from(mag).unwrap_or(i64::MAX)
    };
    Some((v as u64, p + 1 - i))
}

/// `sample(sample=P%,actions(...))`.
fn sample(d: &mut Depth, s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<Option<usize>> {
    let mut sc = Scan::new(s, i);
    let percent = (|| {
        sc.lit("sample(sample=")?;
        let v = sc.float()?;
        sc.lit("%,actions(")?;
        Some(v)
    })();
    let Some(percent) = percent.filter(|p| (0.0..=100.0).contains(p)) else {
        return Ok(None);
    };
    // Rounded as `floor(x + .5)` and clamped; x is never negative here.
    let x = f64::from(u32::MAX) * (percent / 100.0) + 0.5;
    let prob = if x >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        x as u32
    };
    let start = out.begin(act::SAMPLE)?;
    out.u32(act::SAMPLE_PROBABILITY, prob)?;
    let acts = out.begin(act::SAMPLE_ACTIONS)?;
    let n = sc.pos - i + list(d, s, sc.pos, out)?;
    out.end(acts);
    out.end(start);
    if at(s, i + n + 1) == b')' {
        Ok(Some(n + 2))
    } else {
        Err(Error::Inval)
    }
}

/// `check_pkt_len(size=N,gt(...),le(...))`; `drop` stands for an empty list.
fn check_pkt_len(d: &mut Depth, s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<Option<usize>> {
    let Some((size, head)) = call(s, i, "check_pkt_len(size=", 0, ",gt(") else {
        return Ok(None);
    };
    let start = out.begin(act::CHECK_PKT_LEN)?;
    out.u16(act::CHECK_PKT_LEN_PKT_LEN, size as u16)?;
    let mut p = i + head;
    for (ty, sep) in [
        (act::CHECK_PKT_LEN_IF_GREATER, Some("),le(")),
        (act::CHECK_PKT_LEN_IF_LESS_EQUAL, None),
    ] {
        let branch = out.begin(ty)?;
        if has_prefix_nocase(s, p, "drop") {
            p += 4;
        } else {
            p += list(d, s, p, out)?;
        }
        out.end(branch);
        if let Some(sep) = sep {
            let mut sc = Scan::new(s, p);
            sc.lit(sep).ok_or(Error::Inval)?;
            p = sc.pos;
        }
    }
    out.end(start);
    if at(s, p + 1) == b')' {
        Ok(Some(p + 2 - i))
    } else {
        Err(Error::Inval)
    }
}

/// `add_mpls(label=N,tc=N,ttl=N,bos=N,eth_type=0xN)`: the action payload.
fn add_mpls(s: &[u8], i: usize) -> Option<([u8; 8], usize)> {
    let mut sc = Scan::new(s, i);
    sc.lit("add_mpls(label=")?;
    let label = sc.u32(0)?;
    sc.lit(",tc=")?;
    let tc = sc.u8(10)?;
    sc.lit(",ttl=")?;
    let ttl = sc.u8(10)?;
    sc.lit(",bos=")?;
    let bos = sc.u8(10)?;
    sc.lit(",eth_type=0x")?;
    let eth_type = sc.u16(16)?;
    sc.lit(")")?;
    // The fields are not masked to their widths, as in OVS.
    let lse = (label << 12) | (u32::from(tc) << 9) | u32::from(ttl) | (u32::from(bos) << 8);
    let mut m = [0u8; 8];
    m[..4].copy_from_slice(&lse.to_be_bytes());
    m[4..6].copy_from_slice(&eth_type.to_be_bytes());
    Some((m, sc.pos - i))
}

/// `psample(group=N[,cookie=0xHEX])`.
fn psample(s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<usize> {
    let mut p = i + "psample(".len();
    let mut group = None;
    let mut cookie: Option<alloc::vec::Vec<u8>> = None;
    while at(s, p) != b')' {
        p += span(s, p, DELIMITERS);
        if group.is_none()
            && let Some((g, n)) = call(s, p, "group=", 0, "")
        {
            group = Some(g as u32);
            p += n;
            continue;
        }
        if cookie.as_ref().is_none_or(|c| c.is_empty()) {
            let mut sc = Scan::new(s, p);
            if let Some(hex) = sc
                .lit("cookie=0x")
                .and_then(|_| sc.set(32, |c| c.is_ascii_hexdigit()))
            {
                cookie = Some(hex_pairs(hex, 0)?.0);
                p = sc.pos;
                continue;
            }
        }
        return Err(Error::Inval);
    }
    let group = group.ok_or(Error::Inval)?;
    let start = out.begin(act::PSAMPLE | crate::netlink::NLA_F_NESTED)?;
    out.u32(act::PSAMPLE_GROUP, group)?;
    if let Some(c) = cookie.filter(|c| !c.is_empty()) {
        out.put(act::PSAMPLE_COOKIE, &c)?;
    }
    out.end(start);
    Ok(p + 1 - i)
}

/// `set(key)`: a plain set when the key's mask is all ones, else a masked
/// set carrying value then mask.
fn set(d: &mut Depth, s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<usize> {
    /// OVS builds the mask in a 1024-byte stub; past that it only sees the
    /// nest's initial empty header.
    const MASK_STUB: usize = 1024;
    let start = out.begin(act::SET)?;
    let mut mask = NlBuf::new();
    let n = key_parse::attr(d, s, i + 4, out, Some(&mut mask))?;
    if at(s, i + 4 + n) != b')' {
        return Err(Error::Inval);
    }
    let key_at = start + NLA_HDRLEN;
    let key_len = usize::from(u16::from_ne_bytes(super::nl::read(&out.bytes, key_at)));
    let key_size = key_len.saturating_sub(NLA_HDRLEN);
    let mask_size = if mask.len() > MASK_STUB {
        0
    } else {
        usize::from(u16::from_ne_bytes(super::nl::read(&mask.bytes, 0))).saturating_sub(NLA_HDRLEN)
    };
    let mask_value = mask
        .bytes
        .get(NLA_HDRLEN..NLA_HDRLEN + mask_size)
        .unwrap_or_default();
    if mask_size == key_size && mask_value.iter().any(|&b| b != 0xff) {
        // Drop the key's padding, append the mask, re-pad, retype the nest.
        out.truncate(out.len().saturating_sub(align(key_len) - key_len));
        let new_len = (key_len as u16).wrapping_add(mask_size as u16);
        if let Some(h) = out.bytes.get_mut(key_at..key_at + 2) {
            h.copy_from_slice(&new_len.to_ne_bytes());
        }
        out.raw(mask_value)?;
        let new_len = usize::from(new_len);
        out.zeros(align(new_len) - new_len)?;
        if let Some(h) = out.bytes.get_mut(start + 2..start + 4) {
            h.copy_from_slice(&act::SET_MASKED.to_ne_bytes());
        }
    }
    out.end(start);
    Ok(n + 5)
}
