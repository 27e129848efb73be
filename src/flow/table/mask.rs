//! A mask shared by flows: its key, the word range it covers (Linux's
//! `sw_flow_key_range`, here in 64-bit words), the index of its flows by
//! the hash of their masked keys, a filter of the input ports its flows
//! have, and its hit counter for ordering the lookup.

use super::NoMemory;
use super::hash::hash_masked;
use super::index::SlotIndex;
use crate::flow::key::FlowKey;
use core::cmp::Reverse;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The hit counter, alone in its cache line: lookups on other CPUs keep
/// reading the mask's other fields while it is written.
#[repr(align(64))]
struct HitCounter(AtomicU64);

/// Buckets of a `PortFilter`.
const PORT_BUCKETS: usize = 64;

/// Which input ports (with recirculation ids) a mask's flows have, for a
/// mask that matches both exactly, as ovs-vswitchd's megaflows always do.
/// A packet whose port has no flow under the mask skips it without hashing
/// its key: with flows of many ports under different masks, a lookup
/// probes little more than the masks of its own port (dpif-netdev keeps a
/// classifier per input port for the same reason). Ports share buckets, so
/// a set bit only means "maybe".
struct PortFilter {
    bits: u64,
    /// Flows per bucket.
    counts: [u32; PORT_BUCKETS],
}

/// The `PortFilter` bucket of a key's input port and recirculation id.
#[inline(always)]
fn port_bucket(key: &FlowKey) -> usize {
    // Fibonacci hashing: the top bits of the product depend on every bit
    // of the port below them, so small port numbers spread.
    let x = (u64::from(key.recirc_id) << 32) | u64::from(key.in_port);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
}

impl PortFilter {
    fn add(&mut self, key: &FlowKey) {
        let b = port_bucket(key);
        if let Some(n) = self.counts.get_mut(b) {
            *n += 1;
            self.bits |= 1 << b;
        }
    }

    fn remove(&mut self, key: &FlowKey) {
        let b = port_bucket(key);
        if let Some(n) = self.counts.get_mut(b) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.bits &= !(1 << b);
            }
        }
    }
}

pub struct Mask {
    start: usize,
    end: usize,
    /// `None` if the mask does not match the port and recirculation id
    /// exactly: every packet probes it.
    ports: Option<PortFilter>,
    /// Its flows' slots by the hash of their masked keys; the words
    /// themselves are in the flow records.
    index: SlotIndex,
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

/// Words of `mask`'s range, which a flow under it keeps.
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
        let exact = key.in_port == u32::MAX && key.recirc_id == u32::MAX;
        Mask {
            start,
            end,
            ports: exact.then_some(PortFilter {
                bits: 0,
                counts: [0; PORT_BUCKETS],
            }),
            index: SlotIndex::new(),
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

    /// Words of the range, which each of its flows keeps.
    #[inline(always)]
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

    /// `key & mask` over the range: what a flow under this mask keeps.
    pub fn masked_words<'k>(&'k self, key: &'k FlowKey) -> impl ExactSizeIterator<Item = u64> + 'k {
        self.range(key)
            .iter()
            .zip(self.range(&self.key))
            .map(|(k, m)| k & m)
    }

    /// The key whose range holds `words` (`masked_words`), zero elsewhere.
    pub fn unmask(&self, words: &[u64]) -> FlowKey {
        let mut key = FlowKey::default();
        if let Some(range) = key.words_mut().get_mut(self.start..self.end) {
            for (dst, w) in range.iter_mut().zip(words) {
                *dst = *w;
            }
        }
        key
    }

    /// Makes room for a flow whose masked key has `hash`, so that its
    /// `insert` allocates nothing.
    pub fn reserve_for(&mut self, hash: u32) -> Result<(), NoMemory> {
        self.index.reserve_for(hash)
    }

    /// Indexes the flow with `key` in `slot` under `hash` (`Self::hash`);
    /// the caller has checked that no flow with its masked key is present.
    pub fn insert(&mut self, hash: u32, slot: u32, key: &FlowKey) -> Result<(), NoMemory> {
        self.index.insert(hash, slot)?;
        if let Some(f) = self.ports.as_mut() {
            f.add(key);
        }
        Ok(())
    }

    /// Removes the flow with `key` (or its masked key) in `slot`, indexed
    /// under `hash`.
    pub fn remove(&mut self, hash: u32, slot: u32, key: &FlowKey) -> bool {
        let removed = self.index.remove(hash, slot);
        if let Some(f) = self.ports.as_mut().filter(|_| removed) {
            f.remove(key);
        }
        removed
    }

    /// Some flow under this mask may match `key`: its input port (with its
    /// recirculation id) has flows here, or the mask does not filter ports.
    #[inline(always)]
    pub fn may_match(&self, key: &FlowKey) -> bool {
        self.ports
            .as_ref()
            .is_none_or(|f| (f.bits >> port_bucket(key)) & 1 == 1)
    }

    /// Prefetches the index bucket where a key of this `hash`
    /// (`Self::hash`) would be (see `SlotIndex::prefetch`).
    #[inline]
    pub fn prefetch(&self, hash: u32) {
        self.index.prefetch(hash);
    }

    /// The slot of the flow whose masked key equals `key & mask`, for a key
    /// whose `hash` is known; `words_of` gives a slot's masked key words.
    #[inline(always)]
    pub fn find_hashed<'w>(
        &self,
        hash: u32,
        key: &FlowKey,
        words_of: impl Fn(u32) -> Option<&'w [u64]>,
    ) -> Option<u32> {
        self.index.find(hash, |slot| {
            words_of(slot).is_some_and(|w| self.matches(key, w))
        })
    }

    /// `key` matches a flow under this mask whose masked key words are
    /// `stored`.
    #[inline(always)]
    pub fn matches(&self, key: &FlowKey, stored: &[u64]) -> bool {
        let m = self.range(&self.key);
        let diff = self.range(key).iter().zip(m).zip(stored);
        stored.len() == m.len() && diff.fold(0, |d, ((k, m), s)| d | ((k & m) ^ s)) == 0
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
        let stored: alloc::vec::Vec<u64> = m.masked_words(&a).collect();
        let words_of = |slot: u32| (slot == 42).then_some(stored.as_slice());
        let h = m.hash(3, &a);
        m.insert(h, 42, &a).unwrap();
        assert_eq!(m.n_flows(), 1);
        let same = FlowKey {
            ipv4_dst: 0x0a00_0077,
            tcp_flags: 2,
            ..a
        };
        assert_eq!(m.hash(3, &same), h);
        assert_eq!(m.find_hashed(h, &same, words_of), Some(42));
        let other = FlowKey {
            ipv4_dst: 0x0a00_0101,
            ..a
        };
        assert_eq!(m.find_hashed(m.hash(3, &other), &other, words_of), None);
        assert_eq!(
            m.find_hashed(h, &other, words_of),
            None,
            "same hash, other key"
        );
        assert!(m.remove(h, 42, &a));
        assert_eq!(m.find_hashed(h, &a, words_of), None);
        assert_eq!(m.footprint(), 0);
    }

    /// A flow's key, with a field outside `mask()`, and its masked words.
    fn flow_and_words(m: &Mask) -> (FlowKey, alloc::vec::Vec<u64>) {
        let flow = FlowKey {
            in_port: 1,
            ipv4_dst: 0x0a00_0001,
            tp_src: 9,
            ..Default::default()
        };
        (flow, m.masked_words(&flow).collect())
    }

    #[test]
    fn matches_compares_under_the_mask() {
        let m = Mask::new(&mask());
        let (flow, stored) = flow_and_words(&m);
        assert!(m.matches(
            &FlowKey {
                ipv4_dst: 0x0a00_00ff,
                tp_src: 1,
                ..flow
            },
            &stored
        ));
        assert!(!m.matches(
            &FlowKey {
                ipv4_dst: 0x0a00_0101,
                ..flow
            },
            &stored
        ));
        assert!(!m.matches(&FlowKey { in_port: 2, ..flow }, &stored));
        assert!(!m.matches(&flow, &stored[1..]), "words of another width");
    }

    /// A mask matching port and recirculation id exactly is skipped by
    /// packets of ports without flows under it; one that does not is not.
    #[test]
    fn the_port_filter_follows_the_flows() {
        let exact = FlowKey {
            recirc_id: u32::MAX,
            ..mask()
        };
        let mut m = Mask::new(&exact);
        let flow = |port| FlowKey {
            in_port: port,
            ipv4_dst: 0x0a00_0001,
            ..Default::default()
        };
        assert!(!m.may_match(&flow(1)));
        let h = m.hash(0, &flow(1));
        m.insert(h, 7, &flow(1)).unwrap();
        assert!(m.may_match(&flow(1)));
        assert!(!m.may_match(&FlowKey {
            recirc_id: 5,
            ..flow(1)
        }));
        let others = (2..200).filter(|&p| m.may_match(&flow(p))).count();
        assert!(others < 20, "{others} of 198 other ports pass");
        // The first ports of a host (numbered from 1) land apart.
        let buckets: std::collections::HashSet<usize> =
            (1..=16).map(|p| port_bucket(&flow(p))).collect();
        assert_eq!(buckets.len(), 16);
        assert!(m.remove(h, 7, &flow(1)));
        assert!(!m.may_match(&flow(1)));
        // Without the recirculation id exact, every packet probes the mask.
        let loose = Mask::new(&mask());
        assert!(loose.may_match(&flow(1)) && loose.may_match(&flow(2)));
    }

    #[test]
    fn unmask_rebuilds_the_masked_key() {
        let m = Mask::new(&mask());
        let (flow, stored) = flow_and_words(&m);
        assert_eq!(stored.len(), m.width());
        assert_eq!(m.unmask(&stored), flow.masked(&mask()));
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
