//! The `hash` action's `dp_hash`: a Jenkins lookup3 hash (Linux `jhash.h`)
//! of the key's L4 5-tuple, mixed with the action's basis.

use super::headers::{ETH_P_IP, ETH_P_IPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use crate::flow::FlowKey;

const JHASH_INITVAL: u32 = 0xdead_beef;

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn final_mix(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// `jhash2()`: the hash of 32-bit words.
fn jhash_words(words: &[u32], initval: u32) -> u32 {
    let start = JHASH_INITVAL
        .wrapping_add((words.len() as u32).wrapping_shl(2))
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (start, start, start);
    let mut rest = words;
    while let Some(([x, y, z], tail)) = rest.split_first_chunk::<3>() {
        if tail.is_empty() {
            break;
        }
        a = a.wrapping_add(*x);
        b = b.wrapping_add(*y);
        c = c.wrapping_add(*z);
        mix(&mut a, &mut b, &mut c);
        rest = tail;
    }
    match *rest {
        [] => c,
        [x] => final_mix(a.wrapping_add(x), b, c),
        [x, y] => final_mix(a.wrapping_add(x), b.wrapping_add(y), c),
        [x, y, z, ..] => final_mix(a.wrapping_add(x), b.wrapping_add(y), c.wrapping_add(z)),
    }
}

/// `jhash_1word()`.
fn jhash_1word(w: u32, initval: u32) -> u32 {
    let start = JHASH_INITVAL.wrapping_add(4).wrapping_add(initval);
    final_mix(start.wrapping_add(w), start, start)
}

/// The `dp_hash` of the `hash` action: the 5-tuple hash of `key`
/// (addresses for IP, ports for TCP/UDP/SCTP), then mixed with `basis`;
/// never 0 (0 means "no hash"). `symmetric` (`OVS_HASH_ALG_SYM_L4`) orders
/// the two endpoints first, so both directions of a flow hash alike.
pub(super) fn dp_hash(key: &FlowKey, basis: u32, symmetric: bool) -> u32 {
    let mut words = [0u32; 10];
    let mut n = 0;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    let ip = match key.eth_type {
        ETH_P_IP => {
            let [s0, s1, s2, s3] = key.ipv4_src.to_be_bytes();
            let [d0, d1, d2, d3] = key.ipv4_dst.to_be_bytes();
            src = [s0, s1, s2, s3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            dst = [d0, d1, d2, d3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            true
        }
        ETH_P_IPV6 => {
            src = key.ipv6_src;
            dst = key.ipv6_dst;
            true
        }
        _ => false,
    };
    let (mut sport, mut dport) = match key.ip_proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP if ip => (key.tp_src, key.tp_dst),
        _ => (0, 0),
    };
    if symmetric && (dst, dport) < (src, sport) {
        core::mem::swap(&mut src, &mut dst);
        core::mem::swap(&mut sport, &mut dport);
    }
    if ip {
        let addr_words = if key.eth_type == ETH_P_IPV6 { 4 } else { 1 };
        let src_words = src.chunks_exact(4).take(addr_words);
        for chunk in src_words.chain(dst.chunks_exact(4).take(addr_words)) {
            if let (Some(w), [a, b, c, d]) = (words.get_mut(n), chunk) {
                *w = u32::from_be_bytes([*a, *b, *c, *d]);
                n += 1;
            }
        }
        if let Some(w) = words.get_mut(n) {
            *w = u32::from(sport) << 16 | u32::from(dport);
            n += 1;
        }
        if let Some(w) = words.get_mut(n) {
            *w = u32::from(key.ip_proto);
            n += 1;
        }
    }
    let tuple = jhash_words(words.get(..n).unwrap_or_default(), 0);
    match jhash_1word(tuple, basis) {
        0 => 1,
        h => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp4(src: u32, dst: u32, sport: u16, dport: u16) -> FlowKey {
        FlowKey {
            eth_type: ETH_P_IP,
            ip_proto: IPPROTO_TCP,
            ipv4_src: src,
            ipv4_dst: dst,
            tp_src: sport,
            tp_dst: dport,
            ..FlowKey::default()
        }
    }

    #[test]
    fn jhash_identities() {
        assert_eq!(jhash_words(&[], 0), 0xdead_beef);
        assert_eq!(jhash_1word(0, 0), jhash_words(&[0], 0));
        assert_eq!(jhash_1word(0x1234, 77), jhash_words(&[0x1234], 77));
    }

    #[test]
    fn tuple_fields_and_basis_matter() {
        let k = tcp4(0x0a00_0001, 0x0a00_0002, 1000, 80);
        let h = dp_hash(&k, 0, false);
        assert_ne!(h, dp_hash(&k, 1, false));
        assert_ne!(
            h,
            dp_hash(&tcp4(0x0a00_0003, 0x0a00_0002, 1000, 80), 0, false)
        );
        assert_ne!(
            h,
            dp_hash(&tcp4(0x0a00_0001, 0x0a00_0002, 1001, 80), 0, false)
        );
        let mut other = k;
        other.ip_ttl = 3;
        other.eth_src = [1; 6];
        assert_eq!(h, dp_hash(&other, 0, false));
    }

    #[test]
    fn symmetric_is_the_same_both_ways() {
        let there = tcp4(0x0a00_0001, 0x0a00_0002, 1000, 80);
        let back = tcp4(0x0a00_0002, 0x0a00_0001, 80, 1000);
        assert_eq!(dp_hash(&there, 5, true), dp_hash(&back, 5, true));
        assert_ne!(dp_hash(&there, 5, false), dp_hash(&back, 5, false));
        // Same addresses, ports decide the order.
        let a = tcp4(7, 7, 1, 2);
        let b = tcp4(7, 7, 2, 1);
        assert_eq!(dp_hash(&a, 0, true), dp_hash(&b, 0, true));
        let mut v6 = FlowKey {
            eth_type: ETH_P_IPV6,
            ip_proto: IPPROTO_UDP,
            tp_src: 53,
            tp_dst: 5353,
            ..FlowKey::default()
        };
        v6.ipv6_src[15] = 1;
        v6.ipv6_dst[0] = 0xfe;
        let mut rev = v6;
        core::mem::swap(&mut rev.ipv6_src, &mut rev.ipv6_dst);
        core::mem::swap(&mut rev.tp_src, &mut rev.tp_dst);
        assert_eq!(dp_hash(&v6, 9, true), dp_hash(&rev, 9, true));
    }

    #[test]
    fn never_zero() {
        for basis in 0..2000 {
            assert_ne!(dp_hash(&FlowKey::default(), basis, false), 0);
        }
    }
}
