//! A cheap hash of a packet's L2-L4 identity (addresses, VLAN, protocol,
//! ports), in the spirit of an RSS hash: the megaflow mask cache indexes
//! with it. Fields that change within a connection (TCP flags, TTL, TOS)
//! are left out so that every packet of a flow lands in the same slot.

use crate::flow::key::FlowKey;

const SEEDS: [u64; 2] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344];

/// The high and low halves of the 128-bit product, folded together.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

#[inline(always)]
fn mac(m: [u8; 6]) -> u64 {
    let [a, b, c, d, e, f] = m;
    u64::from_le_bytes([a, b, c, d, e, f, 0, 0])
}

#[inline(always)]
fn halves(a: [u8; 16]) -> (u64, u64) {
    let v = u128::from_le_bytes(a);
    (v as u64, (v >> 64) as u64)
}

/// Hash of the packet-derived identity of `key`; metadata (in_port,
/// recirc_id, ...) is not included, so callers mix it in if they need it.
/// The fields are folded into two words first (IPv6 addresses and MACs
/// xored in at different rotations), then mixed by one 64x64->128 multiply:
/// enough to spread a cache index, at the cost of one multiply.
#[inline]
pub fn packet_hash(key: &FlowKey) -> u32 {
    let (s0, s1) = halves(key.ipv6_src);
    let (d0, d1) = halves(key.ipv6_dst);
    let w0 = mac(key.eth_src) | u64::from(key.eth_type) << 48;
    let w1 = mac(key.eth_dst) | u64::from(key.vlan_tci) << 48;
    let w2 = u64::from(key.ipv4_src) << 32 | u64::from(key.ipv4_dst);
    let w3 = u64::from(key.tp_src) << 48
        | u64::from(key.tp_dst) << 32
        | u64::from(key.cvlan_tci) << 16
        | u64::from(key.ip_proto) << 8
        | u64::from(key.ip_frag);
    let [k0, k1] = SEEDS;
    let a = w2 ^ w0.rotate_left(21) ^ s0 ^ d1.rotate_left(43) ^ k0;
    let b = w3 ^ w1.rotate_left(37) ^ s1.rotate_left(11) ^ d0 ^ k1;
    let h = fold(a, b);
    (h ^ h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::super::frames::*;
    use super::*;

    fn hash_of(f: &[u8]) -> u32 {
        packet_hash(&run(f).0)
    }

    #[test]
    fn depends_on_each_tuple_field() {
        let base = hash_of(&cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1000, 80, 0x10)]));
        assert_ne!(
            base,
            hash_of(&cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1001, 80, 0x10)]))
        );
        assert_ne!(
            base,
            hash_of(&cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1000, 81, 0x10)]))
        );
        assert_ne!(
            base,
            hash_of(&cat(&[&eth(0x0800), &ipv4(17, 0), &udp(1000, 80)]))
        );
        let mut ip = ipv4(6, 0);
        ip[15] = 9;
        assert_ne!(
            base,
            hash_of(&cat(&[&eth(0x0800), &ip, &tcp(1000, 80, 0x10)]))
        );
        let mut e = eth(0x0800);
        e[0] = 0x04;
        assert_ne!(
            base,
            hash_of(&cat(&[&e, &ipv4(6, 0), &tcp(1000, 80, 0x10)]))
        );
        let tagged = cat(&[
            &eth(0x8100),
            &tci_type(5, 0x0800),
            &ipv4(6, 0),
            &tcp(1000, 80, 0x10),
        ]);
        assert_ne!(base, hash_of(&tagged));
        let mut k = run(&tagged).0;
        let h = packet_hash(&k);
        k.ipv6_dst[15] ^= 1;
        assert_ne!(h, packet_hash(&k));
        k.ipv6_dst[15] ^= 1;
        k.ipv6_src[0] ^= 0x80;
        assert_ne!(h, packet_hash(&k));
    }

    #[test]
    fn stable_within_a_connection() {
        let syn = hash_of(&cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1000, 80, 0x002)]));
        let mut ip = ipv4(6, 0);
        ip[1] = 0;
        ip[8] = 3;
        let ack = hash_of(&cat(&[&eth(0x0800), &ip, &tcp(1000, 80, 0x010)]));
        assert_eq!(syn, ack);
        let mut k = run(&cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1000, 80, 0x002)])).0;
        k.in_port = 9;
        k.recirc_id = 4;
        assert_eq!(packet_hash(&k), syn);
    }

    #[test]
    fn spreads_over_low_bits() {
        // Consecutive source ports fill a 256-slot cache index fairly evenly.
        let mut slots = [0u32; 256];
        for port in 0..4096u16 {
            let k = FlowKey {
                eth_type: 0x0800,
                ip_proto: 6,
                ipv4_src: 0x0a00_0001,
                ipv4_dst: 0x0a00_0002,
                tp_src: port,
                tp_dst: 80,
                ..FlowKey::default()
            };
            slots[(packet_hash(&k) & 0xff) as usize] += 1;
        }
        assert!(slots.iter().all(|&n| (4..=40).contains(&n)), "{slots:?}");
    }
}
