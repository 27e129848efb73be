//! A connection's tuple in one direction (Linux's `nf_conntrack_tuple` with
//! its zone): addresses, protocol, and the protocol's identifiers — ports
//! for TCP, UDP and SCTP; for ICMP and ICMPv6 queries the identifier and
//! the type and code; nothing for other protocols, which are tracked by
//! addresses and protocol alone.

use crate::flow::key::CtTuple;

/// ICMP / ICMPv6 query types and the replies they expect.
const ICMP_PAIRS: [(u8, u8); 4] = [(8, 0), (13, 14), (15, 16), (17, 18)];
const ICMPV6_PAIRS: [(u8, u8); 2] = [(128, 129), (139, 140)];

pub use crate::actions::headers::{
    IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tuple {
    /// Addresses, wire bytes; IPv4 in the first four.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Source port, or the ICMP identifier.
    pub sport: u16,
    /// Destination port, or the ICMP type (high byte) and code (low byte).
    pub dport: u16,
    pub zone: u16,
    pub proto: u8,
    /// 1 for IPv6.
    pub v6: u8,
}

impl Tuple {
    pub fn is_icmp(&self) -> bool {
        self.proto
            == if self.v6 == 1 {
                IPPROTO_ICMPV6
            } else {
                IPPROTO_ICMP
            }
    }

    /// The tuple of the other direction (`nf_ct_invert_tuple`): addresses
    /// and ports swapped, an ICMP query type turned into its reply type.
    /// `None` for an ICMP type that has no counterpart.
    #[inline]
    pub fn reverse(&self) -> Option<Tuple> {
        let (sport, dport) = if self.is_icmp() {
            let [ty, code] = self.dport.to_be_bytes();
            let ty = icmp_counterpart(ty, self.v6 == 1)?;
            (self.sport, u16::from_be_bytes([ty, code]))
        } else {
            (self.dport, self.sport)
        };
        Some(Tuple {
            src: self.dst,
            dst: self.src,
            sport,
            dport,
            ..*self
        })
    }

    /// A 64-bit hash under `seed` (the table keeps its seed secret), the
    /// same for a tuple and its reverse: the table files both directions
    /// of a connection NAT leaves alone under one index entry in one shard
    /// (a reply takes one lock, and the index holds half as many entries).
    #[inline]
    pub fn hash(&self, seed: u64) -> u64 {
        // Each end (address and port) hashed alone, the two added; an ICMP
        // query's identifier and type, which do not swap, go with what both
        // share, its type as the lesser of the query and reply types.
        let (sport, dport, shared) = if self.is_icmp() {
            let [ty, code] = self.dport.to_be_bytes();
            let ty = icmp_counterpart(ty, self.v6 == 1).map_or(ty, |c| c.min(ty));
            let id = u64::from(self.sport) | u64::from(ty) << 16 | u64::from(code) << 24;
            (0, 0, id)
        } else {
            (self.sport, self.dport, 0)
        };
        // Words made from the fields, not read from the tuple's bytes: a
        // tuple just written field by field stalls a wide read of itself.
        let end = |a: &[u8; 16], port: u16| {
            let v = u128::from_ne_bytes(*a);
            let hi = (v >> 64) as u64 ^ u64::from(port) << 48;
            mum(
                v as u64 ^ seed ^ 0x243f_6a88_85a3_08d3,
                hi ^ 0x1319_8a2e_0370_7344,
            )
        };
        let shared = shared
            ^ u64::from(self.zone) << 32
            ^ u64::from(self.proto) << 48
            ^ u64::from(self.v6) << 56;
        let ends = end(&self.src, sport).wrapping_add(end(&self.dst, dport));
        mum(
            ends ^ 0xa409_3822_299f_31d0,
            shared ^ seed ^ 0x082e_fa98_ec4e_6c89,
        )
    }

    /// As the flow key's `ct_orig` (Linux's `ovs_ct_orig_tuple`): for ICMP
    /// the type and code stand where ports would.
    pub fn to_key(&self) -> CtTuple {
        let (src_port, dst_port) = if self.is_icmp() {
            let [ty, code] = self.dport.to_be_bytes();
            (u16::from(ty), u16::from(code))
        } else {
            (self.sport, self.dport)
        };
        let mut t = CtTuple {
            src_port,
            dst_port,
            proto: self.proto,
            ..CtTuple::default()
        };
        if self.v6 == 1 {
            t.ipv6_src = self.src;
            t.ipv6_dst = self.dst;
        } else {
            t.ipv4_src = u32::from_be_bytes(first4(&self.src));
            t.ipv4_dst = u32::from_be_bytes(first4(&self.dst));
        }
        t
    }
}

/// The 128-bit product of `a` and `b`, its halves folded together.
#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ (r >> 64) as u64
}

pub fn first4(a: &[u8; 16]) -> [u8; 4] {
    let [a0, a1, a2, a3, ..] = *a;
    [a0, a1, a2, a3]
}

/// The reply type of an ICMP query type, or the query of a reply.
pub(super) fn icmp_counterpart(ty: u8, v6: bool) -> Option<u8> {
    let pairs: &[(u8, u8)] = if v6 { &ICMPV6_PAIRS } else { &ICMP_PAIRS };
    pairs.iter().find_map(|&(q, r)| {
        if q == ty {
            Some(r)
        } else if r == ty {
            Some(q)
        } else {
            None
        }
    })
}

/// An ICMP type that may start a connection (a query).
pub fn icmp_is_query(ty: u8, v6: bool) -> bool {
    let pairs: &[(u8, u8)] = if v6 { &ICMPV6_PAIRS } else { &ICMP_PAIRS };
    pairs.iter().any(|&(q, _)| q == ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Tuple {
        let mut t = Tuple {
            proto,
            sport,
            dport,
            ..Tuple::default()
        };
        t.src[..4].copy_from_slice(&src);
        t.dst[..4].copy_from_slice(&dst);
        t
    }

    #[test]
    fn reverse_swaps_and_turns_icmp_queries() {
        let t = v4([1, 1, 1, 1], [2, 2, 2, 2], IPPROTO_TCP, 1000, 80);
        let r = t.reverse().unwrap();
        assert_eq!((r.sport, r.dport, r.src[0], r.dst[0]), (80, 1000, 2, 1));
        assert_eq!(r.reverse(), Some(t));
        let echo = v4([1, 1, 1, 1], [2, 2, 2, 2], IPPROTO_ICMP, 77, 8 << 8);
        let r = echo.reverse().unwrap();
        assert_eq!((r.sport, r.dport), (77, 0));
        assert_eq!(r.reverse(), Some(echo));
        let unreachable = v4([1; 4], [2; 4], IPPROTO_ICMP, 0, 3 << 8);
        assert_eq!(unreachable.reverse(), None);
        assert!(icmp_is_query(128, true) && !icmp_is_query(129, true));
    }

    #[test]
    fn hashes_of_alike_tuples_spread_over_high_and_low_bits() {
        // The table picks a shard by the top bits and an index slot by the
        // low ones; connections differing in a port or an address byte
        // must fill both evenly (64 a bucket expected here).
        for seed in [0, 0x1234, u64::MAX] {
            let mut high = [0u32; 1024];
            let mut low = [0u32; 1024];
            for i in 0..65_536u32 {
                let [_, _, a, b] = i.to_be_bytes();
                let t = v4(
                    [10, 0, a, b],
                    [172, 16, 0, 1],
                    IPPROTO_TCP,
                    1024 + (i % 7) as u16,
                    80,
                );
                let h = t.hash(seed);
                high[(h >> 54) as usize] += 1;
                low[(h & 1023) as usize] += 1;
            }
            for counts in [high, low] {
                let (min, max) = (counts.iter().min(), counts.iter().max());
                assert!(min >= Some(&24) && max <= Some(&112), "{min:?} {max:?}");
            }
        }
    }

    proptest::proptest! {
        /// A tuple and its reverse hash alike, for every kind of tuple the
        /// tracker makes.
        #[test]
        fn a_tuple_and_its_reverse_hash_alike(
            src in proptest::array::uniform16(proptest::num::u8::ANY),
            dst in proptest::array::uniform16(proptest::num::u8::ANY),
            sport: u16,
            dport: u16,
            zone: u16,
            kind in 0usize..6,
            v6: bool,
            seed: u64,
        ) {
            let (proto, dport) = match (kind, v6) {
                (0, _) => (IPPROTO_TCP, dport),
                (1, _) => (IPPROTO_UDP, dport),
                (2, _) => (IPPROTO_SCTP, dport),
                (3, false) => (IPPROTO_ICMP, u16::from_be_bytes([8, dport as u8])),
                (3, true) => (IPPROTO_ICMPV6, u16::from_be_bytes([129, dport as u8])),
                (4, _) => (47, 0),
                _ => (2, 0),
            };
            let mut t = Tuple { src, dst, sport, dport, zone, proto, v6: u8::from(v6) };
            if !v6 {
                t.src[4..].fill(0);
                t.dst[4..].fill(0);
            }
            let r = t.reverse().unwrap();
            proptest::prop_assert_eq!(t.hash(seed), r.hash(seed));
            // What is not swapped still counts.
            let moved = Tuple { zone: zone.wrapping_add(1), ..t };
            proptest::prop_assert_ne!(moved.hash(seed), t.hash(seed));
        }
    }

    #[test]
    fn hash_depends_on_every_field_and_the_seed() {
        let t = v4([1, 1, 1, 1], [2, 2, 2, 2], IPPROTO_UDP, 1, 2);
        let base = t.hash(7);
        assert_ne!(base, t.hash(8));
        let changed = [
            Tuple { zone: 1, ..t },
            Tuple { sport: 3, ..t },
            Tuple { v6: 1, ..t },
            Tuple { proto: 6, ..t },
        ];
        for c in changed {
            assert_ne!(c.hash(7), base);
        }
        // A tuple and its reverse land together.
        assert_eq!(t.reverse().unwrap().hash(7), base);
        let k = t.to_key();
        assert_eq!(
            (k.ipv4_src, k.ipv4_dst, k.proto),
            (0x0101_0101, 0x0202_0202, 17)
        );
    }
}
