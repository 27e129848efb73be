//! Named bit flags (tunnel flags, TCP flags, conntrack state, slow-path
//! reasons): `format_flags`, `format_flags_masked` and `parse_flags`.

use super::out::Out;
use super::scan::{Scan, at, has_prefix};
use core::fmt::{self, Write};

/// Maps a single bit to its name.
pub(crate) type Names = fn(u32) -> Option<&'static str>;

pub(crate) fn tunnel_flag(bit: u32) -> Option<&'static str> {
    match bit {
        0x1 => Some("oam"),
        0x2 => Some("df"),
        0x4 => Some("csum"),
        0x8 => Some("key"),
        _ => None,
    }
}

/// Flags that have an attribute of their own in a tunnel key.
pub(crate) const TNL_OAM: u32 = 0x1;
pub(crate) const TNL_DF: u32 = 0x2;
pub(crate) const TNL_CSUM: u32 = 0x4;
pub(crate) const TNL_KEY: u32 = 0x8;
pub(crate) const TNL_ALL: u32 = 0xf;

pub(crate) fn tcp_flag(bit: u32) -> Option<&'static str> {
    match bit {
        0x001 => Some("fin"),
        0x002 => Some("syn"),
        0x004 => Some("rst"),
        0x008 => Some("psh"),
        0x010 => Some("ack"),
        0x020 => Some("urg"),
        0x040 => Some("ece"),
        0x080 => Some("cwr"),
        0x100 => Some("ns"),
        0x200 => Some("[200]"),
        0x400 => Some("[400]"),
        0x800 => Some("[800]"),
        _ => None,
    }
}

pub(crate) fn ct_state(bit: u32) -> Option<&'static str> {
    match bit {
        0x01 => Some("new"),
        0x02 => Some("est"),
        0x04 => Some("rel"),
        0x08 => Some("rpl"),
        0x10 => Some("inv"),
        0x20 => Some("trk"),
        0x40 => Some("snat"),
        0x80 => Some("dnat"),
        _ => None,
    }
}

pub(crate) fn slow_path_reason(bit: u32) -> Option<&'static str> {
    match bit {
        0x01 => Some("cfm"),
        0x02 => Some("bfd"),
        0x04 => Some("lacp"),
        0x08 => Some("stp"),
        0x10 => Some("lldp"),
        0x20 => Some("action"),
        0x40 => Some("match"),
        _ => None,
    }
}

fn bits(v: u32) -> impl Iterator<Item = u32> {
    (0..32).map(|i| 1u32 << i).filter(move |b| v & b != 0)
}

/// Names of the set bits, lowest first, joined by `del`; unnamed bits as one
/// trailing hex number; `0` if none.
pub(crate) fn format_flags(o: &mut Out, names: Names, flags: u32, del: char) -> fmt::Result {
    if flags == 0 {
        return o.ch('0');
    }
    let mut bad = 0u32;
    for bit in bits(flags) {
        match names(bit) {
            Some(n) => write!(o, "{n}{del}")?,
            None => bad |= bit,
        }
    }
    if bad != 0 {
        write!(o, "0x{bad:x}{del}")?;
    }
    o.chomp(del);
    Ok(())
}

/// `+name`/`-name` for every masked bit; all bits as with `format_flags`
/// when the mask is full; `0/0` when it is empty.
pub(crate) fn format_flags_masked(
    o: &mut Out,
    names: Names,
    flags: u32,
    mask: u32,
    max_mask: u32,
) -> fmt::Result {
    if mask == max_mask {
        return format_flags(o, names, flags, '|');
    }
    if mask == 0 {
        return o.put("0/0");
    }
    for bit in bits(mask) {
        let sign = if flags & bit != 0 { '+' } else { '-' };
        write!(o, "{sign}{}", names(bit).unwrap_or("[Unknown]"))?;
    }
    Ok(())
}

/// `parse_flags`: numeric `value/mask` or `+a-b` (both only when a mask is
/// wanted), else `a|b|0x4`. Stops at `end`, which is not consumed. Returns
/// bytes consumed, flags and mask (all ones when unmasked).
pub(crate) fn parse_flags(
    s: &[u8],
    i: usize,
    names: Names,
    end: u8,
    allowed: u32,
    want_mask: bool,
) -> Option<(usize, u32, u32)> {
    if want_mask {
        let mut sc = Scan::new(s, i);
        let numeric = (|| {
            let f = sc.u32(0)?;
            sc.lit("/")?;
            Some((f, sc.u32(0)?))
        })();
        if let Some((f, m)) = numeric {
            return if (f | m) & !allowed != 0 {
                None
            } else {
                Some((sc.pos - i, f, m))
            };
        }
        if matches!(at(s, i), b'+' | b'-') {
            return parse_signed(s, i, names, end, allowed);
        }
    }
    let mut n = i;
    let mut result = 0u32;
    while at(s, n) != end {
        let mut sc = Scan::new(s, n);
        if let Some(v) = sc.int(0) {
            // Only the low 32 bits are checked and kept, as in C.
            let v = v as u32;
            if v & !allowed != 0 {
                return None;
            }
            n = sc.pos + usize::from(at(s, sc.pos) == b'|');
            result |= v;
            continue;
        }
        let (bit, name) = bits(u32::MAX).find_map(|bit| {
            let name = names(bit)?;
            let next = at(s, n + name.len());
            (has_prefix(s, n, name) && (next == b'|' || next == end)).then_some((bit, name))
        })?;
        if bit & allowed == 0 {
            return None;
        }
        result |= bit;
        n += name.len() + usize::from(at(s, n + name.len()) == b'|');
    }
    Some((n - i, result, u32::MAX))
}

fn parse_signed(
    s: &[u8],
    i: usize,
    names: Names,
    end: u8,
    allowed: u32,
) -> Option<(usize, u32, u32)> {
    let (mut flags, mut mask) = (0u32, 0u32);
    let mut p = i;
    while at(s, p) != end {
        let set = match at(s, p) {
            b'+' => true,
            b'-' => false,
            _ => return None,
        };
        p += 1;
        let (bit, name) = bits(u32::MAX).find_map(|bit| {
            let name = names(bit)?;
            let next = at(s, p + name.len());
            (has_prefix(s, p, name) && (next == b'+' || next == b'-' || next == end))
                .then_some((bit, name))
        })?;
        if mask & bit != 0 || bit & allowed == 0 {
            return None;
        }
        if set {
            flags |= bit;
        }
        mask |= bit;
        p += name.len();
    }
    Some((p - i, flags, mask))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn fmt_masked(flags: u32, mask: u32) -> String {
        let mut o = Out::new();
        format_flags_masked(&mut o, ct_state, flags, mask, u32::MAX).unwrap();
        o.into_string()
    }

    #[test]
    fn formats() {
        let mut o = Out::new();
        format_flags(&mut o, tunnel_flag, 0x3e, '|').unwrap();
        assert_eq!(o.as_str(), "df|csum|key|0x30");
        assert_eq!(fmt_masked(0x21, 0x23), "+new-est+trk");
        assert_eq!(fmt_masked(0x21, 0), "0/0");
        assert_eq!(fmt_masked(0x21, u32::MAX), "new|trk");
    }

    #[test]
    fn parses() {
        let p = |s: &str, m| parse_flags(s.as_bytes(), 0, ct_state, b')', 0xff, m);
        assert_eq!(p("+new-est+trk)", true), Some((12, 0x21, 0x23)));
        assert_eq!(p("new|trk)", true), Some((7, 0x21, u32::MAX)));
        assert_eq!(p("0x21/0x3f)", true), Some((9, 0x21, 0x3f)));
        assert_eq!(p("0x21)", false), Some((4, 0x21, u32::MAX)));
        assert_eq!(p("+new+new)", true), None);
        assert_eq!(p("+new-est+trk)", false), None);
        assert_eq!(p("bogus)", true), None);
        assert_eq!(p("0x100)", true), None);
        assert_eq!(p("new|", true), None);
    }
}
