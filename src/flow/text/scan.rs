//! Reading OVS text the way OVS reads it: over NUL-terminated bytes (past the
//! end reads as NUL), with `ovs_scan` semantics (a `%` conversion skips
//! leading white space; integers accept a sign and, for `%i`, `0x`/`0`
//! prefixes, and keep only the low bits of out-of-range values).

use alloc::vec::Vec;

/// Why a parse failed, as the errno OVS would report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// `EINVAL`.
    Inval,
    /// `E2BIG`: an attribute would not fit its 16-bit length.
    TooBig,
    /// Out of memory.
    NoMem,
}

pub(crate) type Parsed<T> = Result<T, Error>;

/// The byte at `i`, or NUL past the end.
pub(crate) fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// `strncmp(s + i, p, strlen(p)) == 0`.
pub(crate) fn has_prefix(s: &[u8], i: usize, p: &str) -> bool {
    s.get(i..).is_some_and(|r| r.starts_with(p.as_bytes()))
}

/// `strncasecmp(s + i, p, strlen(p)) == 0`.
pub(crate) fn has_prefix_nocase(s: &[u8], i: usize, p: &str) -> bool {
    s.get(i..)
        .and_then(|r| r.get(..p.len()))
        .is_some_and(|r| r.eq_ignore_ascii_case(p.as_bytes()))
}

/// C `isspace` in the C locale.
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strspn(s + i, set)`.
pub(crate) fn span(s: &[u8], i: usize, set: &[u8]) -> usize {
    s.get(i..)
        .map_or(0, |r| r.iter().take_while(|c| set.contains(c)).count())
}

/// `strcspn(s + i, set)`.
pub(crate) fn cspan(s: &[u8], i: usize, set: &[u8]) -> usize {
    s.get(i..)
        .map_or(0, |r| r.iter().take_while(|c| !set.contains(c)).count())
}

/// The value of one hexadecimal digit.
pub(crate) fn hexit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `hexits_value(s + i, n)`.
pub(crate) fn hexits(s: &[u8], i: usize, n: usize) -> Option<u64> {
    (0..n).try_fold(0u64, |v, k| {
        Some((v << 4) | u64::from(hexit(at(s, i.checked_add(k)?))?))
    })
}

/// A cursor doing what one `ovs_scan` format string does, piece by piece.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scan<'a> {
    s: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(s: &'a [u8], pos: usize) -> Scan<'a> {
        Scan { s, pos }
    }

    /// The whole text being read.
    pub(crate) fn text(&self) -> &'a [u8] {
        self.s
    }

    fn peek(&self) -> u8 {
        at(self.s, self.pos)
    }

    fn skip_spaces(&mut self) {
        while is_space(self.peek()) {
            self.pos += 1;
        }
    }

    /// Literal text of a format: white space skips white space, anything
    /// else must match exactly. Moves only if all of it matches.
    pub(crate) fn lit(&mut self, text: &str) -> Option<()> {
        let mut t = *self;
        for &c in text.as_bytes() {
            if is_space(c) {
                t.skip_spaces();
            } else if c != 0 && t.peek() == c {
                t.pos += 1;
            } else {
                return None;
            }
        }
        *self = t;
        Some(())
    }

    /// `%i` (base 0), `%d`/`%u` (10), `%x` (16), `%o` (8): the value wrapped
    /// to 64 bits; callers truncate to the conversion's width.
    pub(crate) fn int(&mut self, base: u32) -> Option<u64> {
        self.skip_spaces();
        let s = self.s;
        let mut p = self.pos;
        let negative = at(s, p) == b'-';
        if matches!(at(s, p), b'-' | b'+') {
            p += 1;
        }
        let mut base = base;
        if (base == 0 || base == 16) && at(s, p) == b'0' && matches!(at(s, p + 1), b'x' | b'X') {
            base = 16;
            p += 2;
        } else if base == 0 {
            base = if at(s, p) == b'0' { 8 } else { 10 };
        }
        let mut value = 0u64;
        let mut digits = 0usize;
        while let Some(d) = hexit(at(s, p)).filter(|&d| u32::from(d) < base) {
            value = value
                .wrapping_mul(u64::from(base))
                .wrapping_add(u64::from(d));
            digits += 1;
            p += 1;
        }
        if digits == 0 {
            return None;
        }
        self.pos = p;
        Some(if negative {
            value.wrapping_neg()
        } else {
            value
        })
    }

    pub(crate) fn u8(&mut self, base: u32) -> Option<u8> {
        self.int(base).map(|v| v as u8)
    }

    pub(crate) fn u16(&mut self, base: u32) -> Option<u16> {
        self.int(base).map(|v| v as u16)
    }

    pub(crate) fn u32(&mut self, base: u32) -> Option<u32> {
        self.int(base).map(|v| v as u32)
    }

    /// `%N[set]`: at least one and at most `width` bytes from the set (no
    /// white space skipping).
    pub(crate) fn set(&mut self, width: usize, member: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let rest = self.s.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .take(width)
            .take_while(|&&c| c != 0 && member(c))
            .count();
        if n == 0 {
            return None;
        }
        self.pos += n;
        rest.get(..n)
    }

    /// `%lf`: the longest `[sign]digits[.digits][e[sign]digits]` run, which
    /// `strtod` must then consume entirely (an empty run reads as zero).
    pub(crate) fn float(&mut self) -> Option<f64> {
        self.skip_spaces();
        let s = self.s;
        let start = self.pos;
        let digits_from = |mut p: usize| {
            while at(s, p).is_ascii_digit() {
                p += 1;
            }
            p
        };
        let mut p = start;
        if matches!(at(s, p), b'+' | b'-') {
            p += 1;
        }
        let int_end = digits_from(p);
        let mut mantissa_digits = int_end - p;
        p = int_end;
        if at(s, p) == b'.' {
            let frac_end = digits_from(p + 1);
            mantissa_digits += frac_end - (p + 1);
            p = frac_end;
        }
        let mut exponent_ok = true;
        if matches!(at(s, p), b'e' | b'E') {
            p += 1;
            if matches!(at(s, p), b'+' | b'-') {
                p += 1;
            }
            let exp_end = digits_from(p);
            exponent_ok = exp_end > p;
            p = exp_end;
        }
        let text = s.get(start..p)?;
        let value = if text.is_empty() {
            0.0
        } else if mantissa_digits == 0 || !exponent_ok {
            return None;
        } else {
            core::str::from_utf8(text).ok()?.parse::<f64>().ok()?
        };
        self.pos = p;
        Some(value)
    }
}

/// `parse_int_string`: a `0x` hex string of any length or a C integer
/// literal, right-justified into `out`; `None` if it does not fit or does not
/// parse. Returns where the number ends.
pub(crate) fn parse_int_string(s: &[u8], i: usize, out: &mut [u8]) -> Option<usize> {
    if has_prefix_nocase(s, i, "0x") {
        let mut digits = [0u8; 256];
        let mut len = 0usize;
        let mut p = i + 2;
        loop {
            p += span(s, p, b" \t\r\n");
            let Some(d) = hexit(at(s, p)) else { break };
            if d != 0 || len > 0 {
                if (len + 2) / 2 > out.len() {
                    return None;
                }
                *digits.get_mut(len)? = d;
                len += 1;
            }
            p += 1;
        }
        out.fill(0);
        let mut idx = out.len();
        let mut k = len;
        while k > 0 {
            idx = idx.checked_sub(1)?;
            let lo = *digits.get(k - 1)?;
            let hi = if k >= 2 { *digits.get(k - 2)? } else { 0 };
            *out.get_mut(idx)? = (hi << 4) | lo;
            k = k.saturating_sub(2);
        }
        return Some(p);
    }
    let (value, end) = strtoull(s, i)?;
    let mut v = value;
    for b in out.iter_mut().rev() {
        *b = v as u8;
        v = v.checked_shr(8).unwrap_or(0);
    }
    if v != 0 { None } else { Some(end) }
}

/// C `strtoull(s + i, &end, 0)`: `None` when nothing converts or on overflow.
fn strtoull(s: &[u8], i: usize) -> Option<(u64, usize)> {
    let mut p = i + span(s, i, b" \t\n\x0b\x0c\r");
    let negative = at(s, p) == b'-';
    if matches!(at(s, p), b'-' | b'+') {
        p += 1;
    }
    let mut base = 10u64;
    if at(s, p) == b'0' && matches!(at(s, p + 1), b'x' | b'X') && hexit(at(s, p + 2)).is_some() {
        base = 16;
        p += 2;
    } else if at(s, p) == b'0' {
        base = 8;
    }
    let start = p;
    let mut value = 0u64;
    while let Some(d) = hexit(at(s, p)).filter(|&d| u64::from(d) < base) {
        value = value.checked_mul(base)?.checked_add(u64::from(d))?;
        p += 1;
    }
    if p == start {
        return None;
    }
    Some((
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        p,
    ))
}

/// `ofpbuf_put_hex`: pairs of hex digits, optionally separated by white
/// space or periods. Returns the bytes and where they end.
pub(crate) fn hex_pairs(s: &[u8], i: usize) -> Parsed<(Vec<u8>, usize)> {
    let mut bytes = Vec::new();
    let mut p = i;
    loop {
        p += span(s, p, b" .\t\r\n");
        let Some(b) = hexits(s, p, 2) else { break };
        bytes.try_reserve(1).map_err(|_| Error::NoMem)?;
        bytes.push(b as u8);
        p += 2;
    }
    Ok((bytes, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str, base: u32) -> Option<(u64, usize)> {
        let mut sc = Scan::new(s.as_bytes(), 0);
        sc.int(base).map(|v| (v, sc.pos))
    }

    #[test]
    fn integers_like_ovs_scan() {
        assert_eq!(int(" 0x1f)", 0), Some((0x1f, 5)));
        assert_eq!(int("017", 0), Some((0o17, 3)));
        assert_eq!(int("-1", 0), Some((u64::MAX, 2)));
        assert_eq!(int("0x", 0), None);
        assert_eq!(int("0x10", 10), Some((0, 1)));
        assert_eq!(int("0x10", 16), Some((16, 4)));
        assert_eq!(int("09", 0), Some((0, 1)));
        assert_eq!(int("+", 0), None);
    }

    #[test]
    fn literals_and_sets() {
        let s = b"ab  c1234zz";
        let mut sc = Scan::new(s, 0);
        assert_eq!(sc.lit("ab c"), Some(()));
        assert_eq!(sc.set(3, |c| c.is_ascii_digit()), Some(&b"123"[..]));
        assert_eq!(sc.set(3, |c| c.is_ascii_digit()), Some(&b"4"[..]));
        assert_eq!(sc.lit("zz"), Some(()));
        assert_eq!(sc.lit("z"), None);
    }

    #[test]
    fn floats() {
        let f = |s: &str| Scan::new(s.as_bytes(), 0).float();
        assert_eq!(f("50%"), Some(50.0));
        assert_eq!(f("%"), Some(0.0));
        assert_eq!(f(".5"), Some(0.5));
        assert_eq!(f("1e"), None);
        assert_eq!(f("."), None);
        assert_eq!(f("-"), None);
    }

    #[test]
    fn int_strings() {
        let mut b = [0u8; 4];
        assert_eq!(parse_int_string(b"0x1 23)", 0, &mut b), Some(6));
        assert_eq!(b, [0, 0, 1, 0x23]);
        assert_eq!(parse_int_string(b"0x123456789", 0, &mut b), None);
        assert_eq!(parse_int_string(b"258,", 0, &mut b), Some(3));
        assert_eq!(b, [0, 0, 1, 2]);
        assert_eq!(parse_int_string(b"4294967296", 0, &mut b), None);
        assert_eq!(parse_int_string(b"x", 0, &mut b), None);
        let mut none = [0u8; 0];
        assert_eq!(parse_int_string(b"0x00}", 0, &mut none), Some(4));
        assert_eq!(parse_int_string(b"0x1}", 0, &mut none), None);
    }

    #[test]
    fn hex_pair_runs() {
        let (v, end) = hex_pairs(b"de ad.b)", 0).unwrap();
        assert_eq!((v.as_slice(), end), (&[0xde, 0xad][..], 6));
    }
}
