//! Ethernet, IPv4 and IPv6 addresses in text: printed like `ETH_ADDR_FMT`,
//! `IP_FMT` and glibc's `inet_ntop`, read like `ETH_ADDR_SCAN_FMT`,
//! `IP_SCAN_FMT` and glibc's `inet_pton`.

use super::out::Out;
use super::scan::{Scan, hexit};
use core::fmt::{self, Write};

pub(crate) fn put_eth(o: &mut Out, a: &[u8; 6]) -> fmt::Result {
    write!(
        o,
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        a[0], a[1], a[2], a[3], a[4], a[5]
    )
}

pub(crate) fn put_ipv4(o: &mut Out, a: &[u8; 4]) -> fmt::Result {
    write!(o, "{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// glibc `inet_ntop(AF_INET6)`: the longest run (first of equals) of two or
/// more zero groups becomes `::`; `::a.b.c.d` and `::ffff:a.b.c.d` keep the
/// dotted tail.
pub(crate) fn put_ipv6(o: &mut Out, a: &[u8; 16]) -> fmt::Result {
    let mut words = [0u16; 8];
    for (w, pair) in words.iter_mut().zip(a.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *w = u16::from_be_bytes([*hi, *lo]);
        }
    }
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(cur.map_or((i, 1), |(b, l)| (b, l + 1)));
        } else if let Some(c) = cur.take()
            && best.is_none_or(|b| c.1 > b.1)
        {
            best = Some(c);
        }
    }
    if let Some(c) = cur
        && best.is_none_or(|b| c.1 > b.1)
    {
        best = Some(c);
    }
    let best = best.filter(|b| b.1 >= 2);
    for (i, &w) in words.iter().enumerate() {
        if let Some((base, len)) = best
            && i >= base
            && i < base + len
        {
            if i == base {
                o.ch(':')?;
            }
            continue;
        }
        if i != 0 {
            o.ch(':')?;
        }
        let embedded_v4 = best
            .is_some_and(|(base, len)| base == 0 && (len == 6 || (len == 5 && words[5] == 0xffff)));
        if i == 6 && embedded_v4 {
            return put_ipv4(o, &[a[12], a[13], a[14], a[15]]);
        }
        write!(o, "{w:x}")?;
    }
    if best.is_some_and(|(base, len)| base + len == 8) {
        o.ch(':')?;
    }
    Ok(())
}

/// glibc `inet_pton(AF_INET)` on exactly `s`.
fn pton4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut idx = 0usize;
    let mut octets = 0;
    let mut saw_digit = false;
    for &c in s {
        if c.is_ascii_digit() {
            let cur = out.get_mut(idx)?;
            let new = u32::from(*cur) * 10 + u32::from(c - b'0');
            if saw_digit && *cur == 0 {
                return None;
            }
            *cur = u8::try_from(new).ok()?;
            if !saw_digit {
                octets += 1;
                if octets > 4 {
                    return None;
                }
                saw_digit = true;
            }
        } else if c == b'.' && saw_digit {
            if octets == 4 {
                return None;
            }
            idx += 1;
            saw_digit = false;
        } else {
            return None;
        }
    }
    if octets < 4 { None } else { Some(out) }
}

/// glibc `inet_pton(AF_INET6)` on exactly `s`.
pub(crate) fn pton6(s: &[u8]) -> Option<[u8; 16]> {
    let mut tmp = [0u8; 16];
    let mut tp = 0usize;
    let mut colonp: Option<usize> = None;
    let mut i = 0usize;
    if s.is_empty() {
        return None;
    }
    if s.first() == Some(&b':') {
        i = 1;
        if s.get(1) != Some(&b':') {
            return None;
        }
    }
    let mut curtok = i;
    let mut digits = 0;
    let mut val = 0u32;
    while let Some(&c) = s.get(i) {
        i += 1;
        if let Some(d) = hexit(c) {
            if digits == 4 {
                return None;
            }
            val = (val << 4) | u32::from(d);
            digits += 1;
            continue;
        }
        if c == b':' {
            curtok = i;
            if digits == 0 {
                if colonp.is_some() {
                    return None;
                }
                colonp = Some(tp);
                continue;
            } else if i == s.len() {
                return None;
            }
            let pair = tmp.get_mut(tp..tp + 2)?;
            pair.copy_from_slice(&(val as u16).to_be_bytes());
            tp += 2;
            digits = 0;
            val = 0;
            continue;
        }
        if c == b'.'
            && tp + 4 <= 16
            && let Some(v4) = pton4(s.get(curtok..)?)
        {
            tmp.get_mut(tp..tp + 4)?.copy_from_slice(&v4);
            tp += 4;
            digits = 0;
            break;
        }
        return None;
    }
    if digits > 0 {
        let pair = tmp.get_mut(tp..tp + 2)?;
        pair.copy_from_slice(&(val as u16).to_be_bytes());
        tp += 2;
    }
    if let Some(cp) = colonp {
        if tp == 16 {
            return None;
        }
        let n = tp - cp;
        let mut out = [0u8; 16];
        out.get_mut(..cp)?.copy_from_slice(tmp.get(..cp)?);
        out.get_mut(16 - n..)?.copy_from_slice(tmp.get(cp..tp)?);
        return Some(out);
    }
    if tp != 16 { None } else { Some(tmp) }
}

/// `ETH_ADDR_SCAN_FMT`: six `%hhx` separated by colons.
pub(crate) fn scan_eth(sc: &mut Scan<'_>) -> Option<[u8; 6]> {
    let mut a = [0u8; 6];
    for (i, b) in a.iter_mut().enumerate() {
        if i > 0 {
            sc.lit(":")?;
        }
        *b = sc.u8(16)?;
    }
    Some(a)
}

/// `IP_SCAN_FMT`: four `%hhu` separated by periods.
pub(crate) fn scan_ipv4(sc: &mut Scan<'_>) -> Option<[u8; 4]> {
    let mut a = [0u8; 4];
    for (i, b) in a.iter_mut().enumerate() {
        if i > 0 {
            sc.lit(".")?;
        }
        *b = sc.u8(10)?;
    }
    Some(a)
}

/// `IPV6_SCAN_FMT` then `inet_pton`.
pub(crate) fn scan_ipv6(sc: &mut Scan<'_>) -> Option<[u8; 16]> {
    let text = sc.set(46, |c| hexit(c).is_some() || c == b':' || c == b'.')?;
    pton6(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn ntop(a: [u8; 16]) -> String {
        let mut o = Out::new();
        put_ipv6(&mut o, &a).unwrap();
        o.into_string()
    }

    fn pton(s: &str) -> Option<[u8; 16]> {
        pton6(s.as_bytes())
    }

    #[test]
    fn ipv6_text_round_trips() {
        for s in [
            "::",
            "::1",
            "::2",
            "2001:db8::1",
            "fe80::1:2",
            "1:0:0:2::3",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "1::",
            "111:db8::3",
            "1:2:3:4:5:6:7:8",
            "::ffff:0.0.0.0",
        ] {
            let a = pton(s).unwrap();
            assert_eq!(ntop(a), s);
        }
    }

    #[test]
    fn ipv6_parse_edges() {
        assert_eq!(
            pton("1:0:0:2:0:0:0:3").map(ntop).as_deref(),
            Some("1:0:0:2::3")
        );
        assert_eq!(pton("0:0:1::"), pton("::1:0:0:0:0:0"));
        assert!(pton(":1").is_none());
        assert!(pton("1:").is_none());
        assert!(pton(":::").is_none());
        assert!(pton("1::2::3").is_none());
        assert!(pton("12345::").is_none());
        assert!(pton("1:2:3:4:5:6:7:8:9").is_none());
        assert!(pton("1:2:3:4:5:6:7::8").is_none());
        assert!(pton("::1.2.3.04").is_none());
        assert!(pton("::1.2.3").is_none());
        assert!(pton("").is_none());
        assert_eq!(pton("::0:1.2.3.4").map(ntop).as_deref(), Some("::1.2.3.4"));
    }
}
