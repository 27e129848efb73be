//! Reading one key field and its optional `/mask` (`scan_u8`, `scan_be16`,
//! `scan_ipv4`, `scan_vid`, ... in OVS). Each scanner writes the field's
//! bytes in wire order into `key` and, when a mask is wanted, into `mask`;
//! it returns how many bytes of text it used, 0 if the text does not parse.

use super::addr::{scan_eth, scan_ipv4, scan_ipv6};
use super::flags::{self, parse_flags};
use super::scan::{Scan, at, parse_int_string};

/// How a field is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `%hhi`.
    U8,
    /// `%hi`, host order.
    U16,
    /// `%i`, host order.
    U32,
    /// `%hi`, network order.
    Be16,
    /// `%i`, network order.
    Be32,
    /// `%li`, network order.
    Be64,
    Ipv4,
    In6,
    Eth,
    /// `no`, `first` or `later`; never masked.
    Frag,
    /// 20 bits, network order.
    Ipv6Label,
    /// VLAN TCI bit-fields (network order, read-modify-write).
    Vid,
    Pcp,
    Cfi,
    /// MPLS label stack entry bit-fields (network order, read-modify-write).
    MplsLabel,
    MplsTc,
    MplsTtl,
    MplsBos,
    /// 128 bits, little-endian in the attribute.
    U128,
    CtState,
    TcpFlags,
}

/// Reads a field; `mask` is `Some` when the text may carry a `/mask`.
pub(crate) fn scan(
    kind: Kind,
    s: &[u8],
    i: usize,
    key: &mut [u8],
    mask: Option<&mut [u8]>,
) -> usize {
    match kind {
        Kind::U8 => number(s, i, key, mask, 1, false),
        Kind::U16 => number(s, i, key, mask, 2, false),
        Kind::U32 => number(s, i, key, mask, 4, false),
        Kind::Be16 => number(s, i, key, mask, 2, true),
        Kind::Be32 => number(s, i, key, mask, 4, true),
        Kind::Be64 => number(s, i, key, mask, 8, true),
        Kind::Ipv4 => bytes(s, i, key, mask, scan_ipv4),
        Kind::In6 => bytes(s, i, key, mask, scan_ipv6),
        Kind::Eth => bytes(s, i, key, mask, scan_eth),
        Kind::Frag => frag(s, i, key, mask),
        Kind::Ipv6Label => ipv6_label(s, i, key, mask),
        Kind::Vid => bitfield(s, i, key, mask, 12, 0),
        Kind::Pcp => bitfield(s, i, key, mask, 3, 13),
        Kind::Cfi => bitfield(s, i, key, mask, 1, 12),
        Kind::MplsLabel => bitfield(s, i, key, mask, 20, 12),
        Kind::MplsTc => bitfield(s, i, key, mask, 3, 9),
        Kind::MplsTtl => bitfield(s, i, key, mask, 8, 0),
        Kind::MplsBos => bitfield(s, i, key, mask, 1, 8),
        Kind::U128 => u128(s, i, key, mask),
        Kind::CtState => flag_set(s, i, key, mask, flags::ct_state, 0xff, false),
        Kind::TcpFlags => flag_set(s, i, key, mask, flags::tcp_flag, 0x0fff, true),
    }
}

/// Writes the low `out.len()` bytes of `v`, in network or host byte order.
fn store(out: &mut [u8], v: u64, network: bool) {
    let n = out.len().min(8);
    let le = v.to_le_bytes();
    let big = network || cfg!(target_endian = "big");
    for (k, b) in out.iter_mut().enumerate().take(n) {
        let src = if big { n - 1 - k } else { k };
        *b = le.get(src).copied().unwrap_or(0);
    }
}

fn number(
    s: &[u8],
    i: usize,
    key: &mut [u8],
    mask: Option<&mut [u8]>,
    width: usize,
    network: bool,
) -> usize {
    let mut sc = Scan::new(s, i);
    let Some(v) = sc.int(0) else { return 0 };
    store(key, v, network);
    if let Some(m) = mask {
        let mut ms = Scan::new(s, sc.pos);
        match ms.lit("/").and_then(|_| ms.int(0)) {
            Some(mv) => {
                store(m, mv, network);
                sc.pos = ms.pos;
            }
            None => store(m, u64::MAX >> (64 - 8 * width as u32), network),
        }
    }
    sc.pos - i
}

fn bytes<const N: usize>(
    s: &[u8],
    i: usize,
    key: &mut [u8],
    mask: Option<&mut [u8]>,
    read: impl Fn(&mut Scan<'_>) -> Option<[u8; N]>,
) -> usize {
    let mut sc = Scan::new(s, i);
    let Some(v) = read(&mut sc) else { return 0 };
    key.copy_from_slice(v.get(..key.len()).unwrap_or_default());
    if let Some(m) = mask {
        let mut ms = Scan::new(s, sc.pos);
        match ms.lit("/").and_then(|_| read(&mut ms)) {
            Some(mv) => {
                m.copy_from_slice(mv.get(..m.len()).unwrap_or_default());
                sc.pos = ms.pos;
            }
            None => m.fill(0xff),
        }
    }
    sc.pos - i
}

fn frag(s: &[u8], i: usize, key: &mut [u8], mask: Option<&mut [u8]>) -> usize {
    let mut sc = Scan::new(s, i);
    let Some(word) = sc.set(7, |c| c.is_ascii_lowercase()) else {
        return 0;
    };
    let ty = if word.eq_ignore_ascii_case(b"no") {
        0
    } else if word.eq_ignore_ascii_case(b"first") {
        1
    } else if word.eq_ignore_ascii_case(b"later") {
        2
    } else {
        return 0;
    };
    key.fill(ty);
    if let Some(m) = mask {
        m.fill(0xff);
    }
    sc.pos - i
}

fn ipv6_label(s: &[u8], i: usize, key: &mut [u8], mask: Option<&mut [u8]>) -> usize {
    let mut sc = Scan::new(s, i);
    let Some(v) = sc.int(0).map(|v| v as u32) else {
        return 0;
    };
    if v & !0xfffff != 0 {
        return 0;
    }
    store(key, v.into(), true);
    if let Some(m) = mask {
        let mut ms = Scan::new(s, sc.pos);
        match ms.lit("/").and_then(|_| ms.int(0)).map(|v| v as u32) {
            Some(mv) if mv & !0xfffff == 0 => {
                store(m, mv.into(), true);
                sc.pos = ms.pos;
            }
            _ => store(m, 0xfffff, true),
        }
    }
    sc.pos - i
}

fn load_be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x))
}

/// `scan_be16_bf` / `scan_be32_bf`: `bits` bits at `offset` of a network
/// order word; values too wide fail; no mask text sets the field's mask bits.
fn bitfield(
    s: &[u8],
    i: usize,
    key: &mut [u8],
    mask: Option<&mut [u8]>,
    bits: u32,
    offset: u32,
) -> usize {
    let word_bits = 8 * key.len() as u32;
    let mut sc = Scan::new(s, i);
    let Some(raw) = sc.int(0) else { return 0 };
    let v = raw & (u64::MAX >> (64 - word_bits));
    let field = ((1u64 << bits) - 1) << offset;
    let put = |word: &mut [u8], value: u64| -> bool {
        if value >> bits != 0 {
            return false;
        }
        let cur = load_be(word);
        store(word, (cur & !field) | (value << offset), true);
        true
    };
    if !put(key, v) {
        return 0;
    }
    if let Some(m) = mask {
        let mut ms = Scan::new(s, sc.pos);
        match ms.lit("/").and_then(|_| ms.int(0)) {
            Some(mv) => {
                sc.pos = ms.pos;
                if !put(m, mv & (u64::MAX >> (64 - word_bits))) {
                    return 0;
                }
            }
            None => {
                let cur = load_be(m);
                store(m, cur | field, true);
            }
        }
    }
    sc.pos - i
}

/// `scan_u128`: a 128-bit number (hex of any length, or a 64-bit integer)
/// with an optional mask.
fn u128(s: &[u8], i: usize, key: &mut [u8], mask: Option<&mut [u8]>) -> usize {
    let mut be = [0u8; 16];
    let Some(mut p) = parse_int_string(s, i, &mut be) else {
        return 0;
    };
    be.reverse();
    key.copy_from_slice(be.get(..key.len()).unwrap_or_default());
    if let Some(m) = mask {
        if at(s, p) == b'/' {
            let mut mbe = [0u8; 16];
            let Some(end) = parse_int_string(s, p + 1, &mut mbe) else {
                return 0;
            };
            p = end;
            mbe.reverse();
            m.copy_from_slice(mbe.get(..m.len()).unwrap_or_default());
        } else {
            m.fill(0xff);
        }
    }
    p - i
}

fn flag_set(
    s: &[u8],
    i: usize,
    key: &mut [u8],
    mask: Option<&mut [u8]>,
    names: flags::Names,
    allowed: u32,
    network: bool,
) -> usize {
    let Some((n, f, m)) = parse_flags(s, i, names, b')', allowed, mask.is_some()) else {
        return 0;
    };
    store(key, f.into(), network);
    if let Some(mk) = mask {
        store(mk, m.into(), network);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: Kind, text: &str, width: usize, masked: bool) -> (usize, [u8; 16], [u8; 16]) {
        let (mut k, mut m) = ([0u8; 16], [0u8; 16]);
        let n = scan(
            kind,
            text.as_bytes(),
            0,
            &mut k[..width],
            masked.then_some(&mut m[..width]),
        );
        (n, k, m)
    }

    #[test]
    fn numbers_wrap_and_mask() {
        let (n, k, m) = run(Kind::U8, "0x100/0xf0)", 1, true);
        assert_eq!((n, k[0], m[0]), (10, 0, 0xf0));
        let (n, k, m) = run(Kind::Be16, "80)", 2, true);
        assert_eq!((n, &k[..2], &m[..2]), (2, &[0, 80][..], &[0xff, 0xff][..]));
        let (n, k, _) = run(Kind::U32, "1/2)", 4, false);
        assert_eq!((n, &k[..4]), (1, &[1, 0, 0, 0][..]));
    }

    #[test]
    fn bitfields() {
        let (n, k, m) = run(Kind::Vid, "99", 2, true);
        assert_eq!((n, &k[..2], &m[..2]), (2, &[0, 99][..], &[0x0f, 0xff][..]));
        assert_eq!(run(Kind::Vid, "4096", 2, true).0, 0);
        assert_eq!(run(Kind::Pcp, "7/8", 2, true).0, 0);
        let (n, k, _) = run(Kind::MplsLabel, "1000", 4, false);
        assert_eq!((n, &k[..4]), (4, &[0, 0x3e, 0x80, 0][..]));
    }

    #[test]
    fn addresses_and_labels() {
        let (n, k, m) = run(Kind::Ipv4, "10.0.0.1/255.0.0.0,", 4, true);
        assert_eq!(
            (n, &k[..4], &m[..4]),
            (18, &[10, 0, 0, 1][..], &[255, 0, 0, 0][..])
        );
        let (n, k, m) = run(Kind::U128, "0x1/0x3)", 16, true);
        assert_eq!((n, k[0], m[0], m[1]), (7, 1, 3, 0));
        assert_eq!(run(Kind::Ipv6Label, "0x100000", 4, false).0, 0);
        assert_eq!(run(Kind::Frag, "first/0xff)", 1, true).0, 5);
        assert_eq!(run(Kind::Frag, "maybe", 1, true).0, 0);
    }
}
