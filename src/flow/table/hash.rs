//! The table's hash over 64-bit words.
//!
//! Each word, xored with a value that depends on the seed and its position,
//! goes through a 64×64→128-bit multiply by a constant whose two halves are
//! xored ("folded multiply", the mixing step of wyhash/foldhash: every output
//! bit depends on every input bit). The running hash is rotated and xored
//! with each word's result, and its halves are folded into the 32 bits the
//! indexes use. The multiplies do not depend on each other, only the cheap
//! rotate-and-xor is a chain, so a key of n words costs about 2n cycles.
//! Insertion and lookup go through the same function with the table's seed.

const MUL: u64 = 0x243f_6a88_85a3_08d3;
/// Rotation of the running hash per word: makes a word's position matter,
/// and is prime to 64 so 64 consecutive words all land differently.
const ROTATE: u32 = 5;
/// Step between the values xored into the words, so that no word reaches
/// the multiply as a power of two (whose folded product is a mere rotation).
const POSITION: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Hash of `key & mask`, word by word; `mask` is as long as `key` (extra
/// words of either are ignored).
#[inline]
pub fn hash_masked(seed: u64, key: &[u64], mask: &[u64]) -> u32 {
    let mut h = key.len() as u64;
    let mut position = seed;
    for (k, m) in key.iter().zip(mask) {
        position = position.wrapping_add(POSITION);
        h = h.rotate_left(ROTATE) ^ fold_mul((k & m) ^ position, MUL);
    }
    (h ^ (h >> 32)) as u32
}

/// `pkt_hash` made distinct for each recirculation pass of a packet.
#[inline]
pub fn with_recirc(pkt_hash: u32, recirc_id: u32) -> u32 {
    let h = fold_mul(u64::from(pkt_hash) << 32 | u64::from(recirc_id), MUL);
    (h ^ (h >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const ONES: [u64; 8] = [u64::MAX; 8];

    #[test]
    fn masked_bits_do_not_matter() {
        let a = [1u64, 0xff00, 3];
        let b = [1u64, 0xffff, 3];
        let m = [u64::MAX, 0xff00, u64::MAX];
        assert_eq!(hash_masked(7, &a, &m), hash_masked(7, &b, &m));
        assert_ne!(
            hash_masked(7, &a, &ONES[..3]),
            hash_masked(7, &b, &ONES[..3])
        );
    }

    #[test]
    fn seed_and_length_matter() {
        let w = [0u64; 4];
        assert_ne!(
            hash_masked(1, &w, &ONES[..4]),
            hash_masked(2, &w, &ONES[..4])
        );
        assert_ne!(
            hash_masked(1, &w[..3], &ONES[..3]),
            hash_masked(1, &w, &ONES[..4])
        );
    }

    /// Keys that differ in one bit anywhere get distinct hashes.
    #[test]
    fn single_bit_keys_do_not_collide() {
        let mut seen = HashSet::new();
        for word in 0..5 {
            for bit in 0..64 {
                let mut k = [0u64; 5];
                k[word] = 1 << bit;
                seen.insert(hash_masked(0, &k, &ONES[..5]));
            }
        }
        assert_eq!(seen.len(), 5 * 64);
    }

    /// Keys that differ in two bits anywhere, or in the order of their
    /// words, get distinct hashes.
    #[test]
    fn two_bit_and_swapped_keys_do_not_collide() {
        let mut seen = HashSet::new();
        for a in 0..192 {
            for b in a + 1..192 {
                let mut k = [0u64; 3];
                k[a / 64] |= 1 << (a % 64);
                k[b / 64] |= 1 << (b % 64);
                seen.insert(hash_masked(0, &k, &ONES[..3]));
            }
        }
        assert_eq!(seen.len(), 192 * 191 / 2);
        let (x, y) = (0x0a00_0001u64, 0x0a00_0002u64);
        assert_ne!(
            hash_masked(0, &[x, y], &ONES[..2]),
            hash_masked(0, &[y, x], &ONES[..2])
        );
    }

    #[test]
    fn recirculation_changes_the_packet_hash() {
        assert_ne!(with_recirc(5, 1), 5);
        assert_ne!(with_recirc(5, 1), with_recirc(5, 2));
        assert_ne!(with_recirc(5, 1), with_recirc(6, 1));
    }

    #[test]
    fn low_bits_spread_sequential_keys() {
        // Sequential values in one field fill 1024 buckets about evenly.
        let mut buckets = [0u32; 1024];
        for i in 0..65536u64 {
            let k = [0x0a00_0000 | i, 80 << 16];
            let h = hash_masked(0, &k, &ONES[..2]) as usize;
            buckets[h & 1023] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (20..=110).contains(&n)),
            "{buckets:?}"
        );
    }
}
