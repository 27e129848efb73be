//! A mask shared by flows: its key, the word range it covers (Linux's
//! `sw_flow_key_range`, here in 64-bit words), the index of its flows'
//! masked keys, and its hit counter for ordering the lookup.

use super::NoMemory;
use super::hash::hash_masked;
use super::index::WordIndex;
use crate::flow::key::FlowKey;
use core::cmp::Reverse;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The hit counter, alone in its cache line: lookups on other CPUs keep
/// reading the mask's other fields while it is written.
#[repr(align(64))]
struct HitCounter(AtomicU64);

pub struct Mask {
    start: usize,
    end: usize,
    /// Masked key words in `start..end` of every flow under this mask.
    index: WordIndex,
    hits: HitCounter,
    hits_at_rebalance: u64,
    /// Set by `rank`: hits between the last two rebalances, and the
    /// position in the lookup order before this one.
    recent_hits: u64,
    position: usize,
    key: FlowKey,
}

/// First and one-past-last non-zero words of `mask` (`0..0` if none).
fn word_range(mask: &FlowKey) -> (usize, usize) {
    let words = mask.words();
    let start = words.iter().position(|&w| w != 0).unwrap_or(0);
    let end = words.iter().rposition(|&w| w != 0).map_or(start, |i| i + 1);
    (start, end)
}

/// Words of `mask` an index of flows under it stores per flow.
pub fn width(mask: &FlowKey) -> usize {
    let (start, end) = word_range(mask);
    end - start
}

/// Hash of the mask itself, for the table's index of masks: the same for
/// masks that are `is` each other.
pub fn identity_hash(seed: u64, mask: &FlowKey) -> u32 {
    let (start, end) = word_range(mask);
    let words = mask.words().get(start..end).unwrap_or_default();
    hash_masked(seed.wrapping_add(start as u64), words, words)
}

impl Mask {
    /// A mask with no flows; allocates nothing.
    pub fn new(key: &FlowKey) -> Mask {
        let (start, end) = word_range(key);
        Mask {
            start,
            end,
            index: WordIndex::new(end - start),
            hits: HitCounter(AtomicU64::new(0)),
            hits_at_rebalance: 0,
            recent_hits: 0,
            position: 0,
            key: *key,
        }
    }

    pub fn key(&self) -> &FlowKey {
        &self.key
    }

    /// Words of the range, which its index stores per flow.
    pub fn width(&self) -> usize {
        self.end - self.start
    }

    /// Same bits as `other` (everything outside the range is zero in both).
    pub fn is(&self, other: &FlowKey) -> bool {
        word_range(other) == (self.start, self.end) && self.range(&self.key) == self.range(other)
    }

    fn range<'k>(&self, key: &'k FlowKey) -> &'k [u64] {
        key.words().get(self.start..self.end).unwrap_or_default()
    }

    /// Hash of `key & mask` over the range.
    #[inline]
    pub fn hash(&self, seed: u64, key: &FlowKey) -> u32 {
        hash_masked(seed, self.range(key), self.range(&self.key))
    }

    /// Flows under this mask.
    pub fn n_flows(&self) -> usize {
        self.index.len()
    }

    /// Heap bytes held.
    pub fn footprint(&self) -> usize {
        self.index.footprint()
    }

    /// Makes room for a flow with `key`, so that its `insert` allocates
    /// nothing.
    pub fn reserve_for(&mut self, seed: u64, key: &FlowKey) -> Result<(), NoMemory> {
        let hash = self.hash(seed, &key.masked(&self.key));
        self.index.reserve_for(hash)
    }

    /// Indexes `key & mask` for `slot` (the caller has checked that it is
    /// not present); returns its hash, which `remove` needs.
    pub fn insert(&mut self, seed: u64, key: &FlowKey, slot: u32) -> Result<u32, NoMemory> {
        let masked = key.masked(&self.key);
        let hash = self.hash(seed, &masked);
        self.index.insert(hash, self.range(&masked), slot)?;
        Ok(hash)
    }

    pub fn remove(&mut self, hash: u32, slot: u32) -> bool {
        self.index.remove(hash, slot)
    }

    /// The slot of the flow whose masked key equals `key & mask`.
    #[inline]
    pub fn find(&self, seed: u64, key: &FlowKey) -> Option<u32> {
        self.find_hashed(self.hash(seed, key), key)
    }

    /// Reads the index bucket where a key of this `hash` (`Self::hash`)
    /// would be (see `WordIndex::touch`).
    #[inline]
    pub fn touch(&self, hash: u32) -> u64 {
        self.index.touch(hash)
    }

    /// See `WordIndex::touch_entry`.
    #[inline]
    pub fn touch_entry(&self, hash: u32) -> Option<(u32, u64)> {
        self.index.touch_entry(hash)
    }

    /// `find` for a key whose `hash` is known.
    #[inline]
    pub fn find_hashed(&self, hash: u32, key: &FlowKey) -> Option<u32> {
        let k = self.range(key);
        let m = self.range(&self.key);
        self.index.find(hash, |stored| {
            stored
                .iter()
                .zip(k)
                .zip(m)
                .fold(0, |diff, ((s, k), m)| diff | (s ^ (k & m)))
                == 0
        })
    }

    /// `key` matches a flow installed as `flow_key` under this mask.
    #[inline]
    pub fn matches(&self, key: &FlowKey, flow_key: &FlowKey) -> bool {
        let m = self.range(&self.key);
        let diff = self.range(key).iter().zip(self.range(flow_key)).zip(m);
        diff.fold(0, |d, ((k, f), m)| d | ((k ^ f) & m)) == 0
    }

    /// Counts a hit of a lookup that scanned the masks.
    pub fn count_hit(&self) {
        self.count_hits(1);
    }

    /// Counts `n` such hits at once (an atomic add orders memory like a
    /// fence: one per batch lets the batch's misses overlap).
    pub fn count_hits(&self, n: u64) {
        if n != 0 {
            self.hits.0.fetch_add(n, Relaxed);
        }
    }

    /// Notes the hits since the previous call and the mask's current
    /// `position` in the lookup order.
    pub fn rank(&mut self, position: usize) {
        let now = *self.hits.0.get_mut();
        self.recent_hits = now.wrapping_sub(self.hits_at_rebalance);
        self.hits_at_rebalance = now;
        self.position = position;
    }

    /// Sort key for the lookup order: most recent hits first, ties in the
    /// order they were.
    pub fn rank_key(&self) -> (Reverse<u64>, usize) {
        (Reverse(self.recent_hits), self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask() -> FlowKey {
        FlowKey {
            in_port: u32::MAX,
            ipv4_dst: 0xffff_ff00,
            ..Default::default()
        }
    }

    #[test]
    fn range_covers_exactly_the_non_zero_words() {
        let m = Mask::new(&mask());
        let words = mask().words().to_vec();
        assert!(words[m.start] != 0 && words[m.end - 1] != 0);
        assert!(
            words[..m.start]
                .iter()
                .chain(&words[m.end..])
                .all(|&w| w == 0)
        );
        let empty = Mask::new(&FlowKey::default());
        assert_eq!((empty.start, empty.end), (0, 0));
    }

    #[test]
    fn identity_is_bitwise() {
        let m = Mask::new(&mask());
        assert!(m.is(&mask()));
        assert!(!m.is(&FlowKey {
            ipv4_dst: 0xffff_0000,
            ..mask()
        }));
        assert!(!m.is(&FlowKey {
            tp_dst: 1,
            ..mask()
        }));
        assert!(!Mask::new(&FlowKey::default()).is(&mask()));
        assert!(Mask::new(&FlowKey::default()).is(&FlowKey::default()));
    }

    #[test]
    fn identity_hash_follows_identity() {
        let moved = FlowKey {
            in_port: 0,
            ipv4_src: u32::MAX,
            ..mask()
        };
        assert_eq!(identity_hash(1, &mask()), identity_hash(1, &mask()));
        assert_ne!(identity_hash(1, &mask()), identity_hash(1, &moved));
        assert_ne!(identity_hash(1, &mask()), identity_hash(2, &mask()));
    }

    #[test]
    fn hash_ignores_bits_outside_the_mask() {
        let m = Mask::new(&mask());
        let a = FlowKey {
            in_port: 1,
            ipv4_dst: 0x0a00_0001,
            tp_src: 5,
            ..Default::default()
        };
        let b = FlowKey {
            ipv4_dst: 0x0a00_00fe,
            tp_src: 6,
            ..a
        };
        assert_eq!(m.hash(9, &a), m.hash(9, &b));
        assert_ne!(m.hash(9, &a), m.hash(9, &FlowKey { in_port: 2, ..a }));
    }

    #[test]
    fn find_matches_masked_keys() {
        let mut m = Mask::new(&mask());
        let a = FlowKey {
            in_port: 1,
            ipv4_dst: 0x0a00_0001,
            ..Default::default()
        };
        let h = m.insert(3, &a, 42).unwrap();
        assert_eq!(h, m.hash(3, &a));
        assert_eq!(m.n_flows(), 1);
        assert_eq!(
            m.find(
                3,
                &FlowKey {
                    ipv4_dst: 0x0a00_0077,
                    tcp_flags: 2,
                    ..a
                }
            ),
            Some(42)
        );
        assert_eq!(
            m.find(
                3,
                &FlowKey {
                    ipv4_dst: 0x0a00_0101,
                    ..a
                }
            ),
            None
        );
        assert_eq!(m.find(4, &a), None);
        assert!(m.remove(h, 42));
        assert_eq!(m.find(3, &a), None);
        assert_eq!(m.footprint(), 0);
    }

    #[test]
    fn matches_compares_under_the_mask() {
        let m = Mask::new(&mask());
        let flow = FlowKey {
            in_port: 1,
            ipv4_dst: 0x0a00_0001,
            tp_src: 9,
            ..Default::default()
        };
        assert!(m.matches(
            &FlowKey {
                ipv4_dst: 0x0a00_00ff,
                tp_src: 1,
                ..flow
            },
            &flow
        ));
        assert!(!m.matches(
            &FlowKey {
                ipv4_dst: 0x0a00_0101,
                ..flow
            },
            &flow
        ));
        assert!(!m.matches(&FlowKey { in_port: 2, ..flow }, &flow));
    }

    #[test]
    fn rank_counts_hits_since_the_previous_rank() {
        let mut m = Mask::new(&mask());
        m.count_hit();
        m.count_hit();
        m.rank(3);
        assert_eq!(m.rank_key(), (Reverse(2), 3));
        m.count_hit();
        m.rank(0);
        assert_eq!(m.rank_key(), (Reverse(1), 0));
        m.rank(1);
        assert_eq!(m.rank_key(), (Reverse(0), 1));
    }
}
