//! A hash index from a 32-bit hash to slots: the owner keeps what the
//! entries stand for (a flow's masked key, a UFID, a mask) by slot, and a
//! lookup checks the slots stored under a hash against it.
//!
//! The index is a directory of shards (extendible hashing): the top bits of
//! an entry's hash pick its shard, and a shard that would hold more than
//! `SHARD_ENTRIES` entries splits in two by the next bit. Growing therefore
//! never moves more than one shard's entries at a time: no change is
//! proportional to the size of the index (it runs under the table's write
//! lock, at DISPATCH_LEVEL).
//!
//! A shard is an open-addressing table: linear probing, backward-shift
//! deletion (no tombstones), load kept at most 1/2 (grows) and at least 1/8
//! (shrinks when it can). A bucket is one word, hash and slot, so a probe
//! reads the owner's record only when the 32-bit hash already matched.

use super::NoMemory;
use alloc::vec::Vec;

use crate::sys::prefetch;

/// Header of an empty bucket; a used one holds `hash << 32 | (slot + 1)`.
const EMPTY: u64 = 0;
const MIN_BUCKETS: usize = 8;
/// Most entries a shard holds before it splits: moving them takes some
/// tens of microseconds.
const SHARD_ENTRIES: usize = 1024;
/// Hash bits the directory may use: room for 2^16 shards (far more than
/// the flow limit needs), and a directory of 256 KiB at most even if the
/// hashes of many entries agree in their top bits.
const MAX_DEPTH: u32 = 16;
const HASH_BITS: u32 = 32;

pub struct SlotIndex {
    /// Shard of each directory entry, by the top `depth` bits of the hash.
    dir: Vec<u32>,
    shards: Vec<Shard>,
    depth: u32,
    len: usize,
}

/// The directory entry of `hash` at `depth`.
fn dir_index(hash: u32, depth: u32) -> usize {
    (u64::from(hash) >> (HASH_BITS - depth.min(MAX_DEPTH))) as usize
}

/// Bit `depth` of `hash`, counted from the top: which half of a shard of
/// that depth the entry goes to when it splits.
fn split_bit(hash: u32, depth: u32) -> bool {
    depth < MAX_DEPTH && (hash >> (HASH_BITS - 1 - depth)) & 1 == 1
}

impl SlotIndex {
    /// An empty index; allocates nothing.
    pub const fn new() -> SlotIndex {
        SlotIndex {
            dir: Vec::new(),
            shards: Vec::new(),
            depth: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// An entry's share of the index at the load it grows at (half full):
    /// two buckets.
    pub const ENTRY_BYTES: usize = 2 * core::mem::size_of::<u64>();

    /// Heap bytes held.
    pub fn footprint(&self) -> usize {
        self.dir.capacity() * core::mem::size_of::<u32>()
            + self.shards.capacity() * core::mem::size_of::<Shard>()
            + self.shards.iter().map(Shard::footprint).sum::<usize>()
    }

    #[inline(always)]
    fn shard(&self, hash: u32) -> Option<&Shard> {
        let s = *self.dir.get(dir_index(hash, self.depth))?;
        self.shards.get(s as usize)
    }

    fn shard_id(&self, hash: u32) -> Option<usize> {
        self.dir
            .get(dir_index(hash, self.depth))
            .map(|&s| s as usize)
    }

    /// Prefetches the header of the bucket `hash` starts probing at: a
    /// batch of lookups calls this for every packet first, so that their
    /// cache misses overlap instead of coming one after the other.
    #[inline]
    pub fn prefetch(&self, hash: u32) {
        if let Some(s) = self.shard(hash) {
            s.prefetch(hash);
        }
    }

    /// The first slot stored under `hash` that satisfies `eq`.
    #[inline(always)]
    pub fn find(&self, hash: u32, eq: impl Fn(u32) -> bool) -> Option<u32> {
        self.shard(hash)?.find(hash, eq)
    }

    /// Makes room for one more entry under `hash`, so that the next
    /// `insert` of it allocates nothing.
    pub fn reserve_for(&mut self, hash: u32) -> Result<(), NoMemory> {
        if self.shards.is_empty() {
            self.shards.try_reserve_exact(1).map_err(|_| NoMemory)?;
            self.dir.try_reserve_exact(1).map_err(|_| NoMemory)?;
            self.shards.push(Shard::new(0));
            self.dir.push(0);
            self.depth = 0;
        }
        // Each split uses one more hash bit, so this ends.
        loop {
            let id = self.shard_id(hash).ok_or(NoMemory)?;
            let shard = self.shards.get_mut(id).ok_or(NoMemory)?;
            // Entries whose hashes agree in every bit the directory may use
            // cannot be split apart.
            if shard.len < SHARD_ENTRIES || shard.depth >= MAX_DEPTH {
                return shard.reserve_one();
            }
            self.split(id)?;
        }
    }

    /// Splits shard `id` in two by its next hash bit, doubling the
    /// directory first if the shard uses all of its bits. Leaves the index
    /// as it was if memory is short.
    fn split(&mut self, id: usize) -> Result<(), NoMemory> {
        let depth = self.shards.get(id).ok_or(NoMemory)?.depth;
        if depth == self.depth {
            let n = self.dir.len().checked_mul(2).ok_or(NoMemory)?;
            let mut dir = Vec::new();
            dir.try_reserve_exact(n).map_err(|_| NoMemory)?;
            dir.extend(self.dir.iter().flat_map(|&s| [s, s]));
            self.dir = dir;
            self.depth += 1;
        }
        let (low, high) = self.shards.get(id).ok_or(NoMemory)?.split()?;
        self.shards.try_reserve(1).map_err(|_| NoMemory)?;
        let high_id = u32::try_from(self.shards.len()).map_err(|_| NoMemory)?;
        let (old, shift) = (id as u32, self.depth - depth - 1);
        for (i, s) in self.dir.iter_mut().enumerate() {
            if *s == old && (i >> shift) & 1 == 1 {
                *s = high_id;
            }
        }
        if let Some(s) = self.shards.get_mut(id) {
            *s = low;
        }
        self.shards.push(high);
        Ok(())
    }

    /// Adds `slot` under `hash`. The caller has checked that what the slot
    /// stands for is not present.
    pub fn insert(&mut self, hash: u32, slot: u32) -> Result<(), NoMemory> {
        self.reserve_for(hash)?;
        let id = self.shard_id(hash).ok_or(NoMemory)?;
        self.shards
            .get_mut(id)
            .ok_or(NoMemory)?
            .insert(hash, slot)?;
        self.len += 1;
        Ok(())
    }

    /// Removes the entry of `slot` stored under `hash`; false if absent.
    /// Shards do not merge again; the memory goes when the index empties.
    pub fn remove(&mut self, hash: u32, slot: u32) -> bool {
        let Some(id) = self.shard_id(hash) else {
            return false;
        };
        let removed = self
            .shards
            .get_mut(id)
            .is_some_and(|s| s.remove(hash, slot));
        if removed {
            self.len -= 1;
            if self.len == 0 {
                *self = SlotIndex::new();
            }
        }
        removed
    }
}

/// One shard: an open-addressing table.
struct Shard {
    heads: Vec<u64>,
    len: usize,
    /// Hash bits (from the top) its entries share.
    depth: u32,
}

fn head(hash: u32, slot: u32) -> u64 {
    (u64::from(hash) << 32) | (u64::from(slot) + 1)
}

fn head_hash(head: u64) -> u32 {
    (head >> 32) as u32
}

fn head_slot(head: u64) -> u32 {
    (head as u32).wrapping_sub(1)
}

/// Smallest power-of-two bucket count with `len` entries at most half full.
fn buckets_for(len: usize) -> Result<usize, NoMemory> {
    len.checked_mul(2)
        .and_then(usize::checked_next_power_of_two)
        .map(|n| n.max(MIN_BUCKETS))
        .ok_or(NoMemory)
}

impl Shard {
    const fn new(depth: u32) -> Shard {
        Shard {
            heads: Vec::new(),
            len: 0,
            depth,
        }
    }

    fn footprint(&self) -> usize {
        self.heads.capacity() * core::mem::size_of::<u64>()
    }

    #[inline(always)]
    fn prefetch(&self, hash: u32) {
        let i = hash as usize & self.heads.len().wrapping_sub(1);
        if let Some(h) = self.heads.get(i) {
            prefetch::value(h);
        }
    }

    /// The slot of the first entry under `hash` for which `eq(slot)`.
    #[inline(always)]
    fn find(&self, hash: u32, eq: impl Fn(u32) -> bool) -> Option<u32> {
        let mask = self.heads.len().checked_sub(1)?;
        let mut i = hash as usize & mask;
        for _ in 0..self.heads.len() {
            let h = *self.heads.get(i)?;
            if h == EMPTY {
                return None;
            }
            if head_hash(h) == hash && eq(head_slot(h)) {
                return Some(head_slot(h));
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Makes room for one more entry, so that the next `insert` allocates
    /// nothing.
    fn reserve_one(&mut self) -> Result<(), NoMemory> {
        let need = self.len.checked_add(1).ok_or(NoMemory)?;
        if need.saturating_mul(2) <= self.heads.len() {
            return Ok(());
        }
        self.rebuild(buckets_for(need)?)
    }

    fn insert(&mut self, hash: u32, slot: u32) -> Result<(), NoMemory> {
        self.reserve_one()?;
        if !place(&mut self.heads, head(hash, slot)) {
            return Err(NoMemory);
        }
        self.len += 1;
        Ok(())
    }

    fn remove(&mut self, hash: u32, slot: u32) -> bool {
        let Some(mask) = self.heads.len().checked_sub(1) else {
            return false;
        };
        let target = head(hash, slot);
        let mut i = hash as usize & mask;
        let mut found = false;
        for _ in 0..self.heads.len() {
            match self.heads.get(i) {
                Some(&h) if h == target => {
                    found = true;
                    break;
                }
                Some(&EMPTY) | None => break,
                Some(_) => i = (i + 1) & mask,
            }
        }
        if !found {
            return false;
        }
        self.close_gap(i, mask);
        self.len -= 1;
        if self.len == 0 {
            self.clear();
        } else if self.len.saturating_mul(8) < self.heads.len() && self.heads.len() > MIN_BUCKETS {
            // Shrinking is an optimisation: keep the big table if memory is short.
            if let Ok(n) = buckets_for(self.len.saturating_mul(2)) {
                let _ = self.rebuild(n);
            }
        }
        true
    }

    /// Backward-shift deletion: pulls later entries of the probe run into
    /// the hole at `hole` so that no lookup stops early at it.
    fn close_gap(&mut self, mut hole: usize, mask: usize) {
        let mut j = (hole + 1) & mask;
        for _ in 0..self.heads.len() {
            let Some(&h) = self.heads.get(j) else { break };
            if h == EMPTY {
                break;
            }
            let ideal = head_hash(h) as usize & mask;
            // The entry may move back to the hole if the hole lies on its
            // probe path, i.e. between its ideal bucket and where it is.
            if (j.wrapping_sub(ideal) & mask) >= (j.wrapping_sub(hole) & mask) {
                if let Some(dst) = self.heads.get_mut(hole) {
                    *dst = h;
                }
                hole = j;
            }
            j = (j + 1) & mask;
        }
        if let Some(dst) = self.heads.get_mut(hole) {
            *dst = EMPTY;
        }
    }

    /// Moves every entry into a table of `buckets` buckets; leaves the index
    /// unchanged if memory is short.
    fn rebuild(&mut self, buckets: usize) -> Result<(), NoMemory> {
        let mut heads = empty_buckets(buckets)?;
        for &h in self.heads.iter().filter(|&&h| h != EMPTY) {
            if !place(&mut heads, h) {
                return Err(NoMemory);
            }
        }
        self.heads = heads;
        Ok(())
    }

    /// Drops every entry and frees the memory.
    fn clear(&mut self) {
        self.heads = Vec::new();
        self.len = 0;
    }

    /// Its entries in two shards of the next depth, by their next hash bit.
    fn split(&self) -> Result<(Shard, Shard), NoMemory> {
        let depth = self.depth.checked_add(1).ok_or(NoMemory)?;
        let entries = || self.heads.iter().filter(|&&h| h != EMPTY);
        let high = entries()
            .filter(|&&h| split_bit(head_hash(h), self.depth))
            .count();
        let mut halves = [Shard::new(depth), Shard::new(depth)];
        for (half, n) in halves.iter_mut().zip([self.len.saturating_sub(high), high]) {
            if n > 0 {
                half.heads = empty_buckets(buckets_for(n)?)?;
            }
        }
        let [low, high] = &mut halves;
        for &h in entries() {
            let half = if split_bit(head_hash(h), self.depth) {
                &mut *high
            } else {
                &mut *low
            };
            if !place(&mut half.heads, h) {
                return Err(NoMemory);
            }
            half.len += 1;
        }
        let [low, high] = halves;
        Ok((low, high))
    }
}

/// `buckets` empty buckets.
fn empty_buckets(buckets: usize) -> Result<Vec<u64>, NoMemory> {
    let mut heads = Vec::new();
    heads.try_reserve_exact(buckets).map_err(|_| NoMemory)?;
    heads.resize(buckets, EMPTY);
    Ok(heads)
}

/// Puts an entry in the first empty bucket of its probe run; false if the
/// table has no empty bucket.
fn place(heads: &mut [u64], h: u64) -> bool {
    let Some(mask) = heads.len().checked_sub(1) else {
        return false;
    };
    let mut i = head_hash(h) as usize & mask;
    for _ in 0..heads.len() {
        if let Some(slot) = heads.get_mut(i)
            && *slot == EMPTY
        {
            *slot = h;
            return true;
        }
        i = (i + 1) & mask;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slot of the entry standing for `v`.
    fn slot(v: u64) -> u32 {
        v as u32
    }

    fn find(ix: &SlotIndex, hash: u32, v: u64) -> Option<u32> {
        ix.find(hash, |s| s == slot(v))
    }

    #[test]
    fn empty_index_finds_nothing_and_holds_nothing() {
        let ix = SlotIndex::new();
        assert_eq!(find(&ix, 5, 5), None);
        assert_eq!(ix.footprint(), 0);
    }

    #[test]
    fn insert_find_remove() {
        let mut ix = SlotIndex::new();
        for v in 0..100u64 {
            ix.insert(v as u32 * 7, slot(v)).unwrap();
        }
        assert_eq!(ix.len(), 100);
        for v in 0..100u64 {
            assert_eq!(find(&ix, v as u32 * 7, v), Some(slot(v)));
            assert_eq!(find(&ix, v as u32 * 7, v + 1), None);
        }
        for v in (0..100u64).step_by(2) {
            assert!(ix.remove(v as u32 * 7, slot(v)));
            assert!(!ix.remove(v as u32 * 7, slot(v)));
        }
        for v in 0..100u64 {
            let want = (v % 2 == 1).then_some(slot(v));
            assert_eq!(find(&ix, v as u32 * 7, v), want);
        }
    }

    /// Every key under one hash: one long probe run, removed from the middle
    /// and the ends, must stay findable.
    #[test]
    fn colliding_hashes_survive_backward_shift() {
        let mut ix = SlotIndex::new();
        for v in 0..20u64 {
            ix.insert(3, slot(v)).unwrap();
        }
        for v in [10u64, 0, 19, 5] {
            assert!(ix.remove(3, v as u32));
        }
        for v in 0..20u64 {
            let want = (![10, 0, 19, 5].contains(&v)).then_some(v as u32);
            assert_eq!(find(&ix, 3, v), want, "{v}");
        }
    }

    /// Entries whose runs wrap past the last bucket.
    #[test]
    fn wrapping_runs() {
        let mut ix = SlotIndex::new();
        let top = (MIN_BUCKETS - 1) as u32;
        for v in 0..3u64 {
            ix.insert(top, slot(v)).unwrap();
        }
        ix.insert(0, slot(9)).unwrap();
        assert!(ix.remove(top, 0));
        assert_eq!(find(&ix, top, 1), Some(1));
        assert_eq!(find(&ix, top, 2), Some(2));
        assert_eq!(find(&ix, 0, 9), Some(9));
    }

    #[test]
    fn grows_and_shrinks_and_frees() {
        let mut ix = SlotIndex::new();
        for v in 0..1000u64 {
            ix.insert((v * 2_654_435_761) as u32, slot(v)).unwrap();
        }
        let big = ix.footprint();
        for v in 0..990u64 {
            assert!(ix.remove((v * 2_654_435_761) as u32, v as u32));
        }
        assert!(ix.footprint() < big / 8);
        for v in 990..1000u64 {
            assert_eq!(find(&ix, (v * 2_654_435_761) as u32, v), Some(v as u32));
        }
        for v in 990..1000u64 {
            assert!(ix.remove((v * 2_654_435_761) as u32, v as u32));
        }
        assert_eq!(ix.footprint(), 0);
    }

    /// Of the slots under one hash, `find` returns the first `eq` accepts.
    #[test]
    fn find_asks_the_owner() {
        let mut ix = SlotIndex::new();
        ix.insert(1, 4).unwrap();
        ix.insert(1, 6).unwrap();
        assert_eq!(ix.find(1, |_| true), Some(4));
        assert_eq!(ix.find(1, |s| s == 6), Some(6));
        assert_eq!(ix.find(1, |s| s == 5), None);
        assert_eq!(ix.find(2, |_| true), None);
        assert!(ix.remove(1, 6));
        assert!(ix.remove(1, 4));
        assert_eq!(ix.find(1, |_| true), None);
    }

    fn spread(v: u64) -> u32 {
        (v.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32
    }

    #[test]
    fn reserve_makes_insert_allocation_free() {
        let mut ix = SlotIndex::new();
        for v in 0..3000u64 {
            ix.reserve_for(spread(v)).unwrap();
            let before = ix.footprint();
            ix.insert(spread(v), slot(v)).unwrap();
            assert_eq!(ix.footprint(), before);
        }
    }

    /// A large index is split into shards, none holding more than
    /// `SHARD_ENTRIES` (what one change may move), and every entry stays
    /// findable through growth and removal.
    #[test]
    fn shards_split_and_stay_bounded() {
        let mut ix = SlotIndex::new();
        let n = 20 * SHARD_ENTRIES as u64;
        for v in 0..n {
            ix.insert(spread(v), slot(v)).unwrap();
        }
        assert!(ix.shards.len() >= 20, "{}", ix.shards.len());
        assert!(ix.shards.iter().all(|s| s.len <= SHARD_ENTRIES));
        assert_eq!(ix.dir.len(), 1 << ix.depth);
        assert_eq!(ix.shards.iter().map(|s| s.len).sum::<usize>(), ix.len());
        for v in 0..n {
            assert_eq!(find(&ix, spread(v), v), Some(v as u32));
        }
        for v in (0..n).filter(|v| v % 3 != 0) {
            assert!(ix.remove(spread(v), v as u32));
        }
        for v in 0..n {
            let want = (v % 3 == 0).then_some(v as u32);
            assert_eq!(find(&ix, spread(v), v), want);
        }
        for v in (0..n).step_by(3) {
            assert!(ix.remove(spread(v), v as u32));
        }
        assert_eq!((ix.len(), ix.footprint()), (0, 0));
    }

    /// Entries whose hashes agree in every bit the directory may use cannot
    /// be split: their shard grows past the bound rather than refuse them.
    #[test]
    fn identical_hashes_outgrow_a_shard() {
        let mut ix = SlotIndex::new();
        for v in 0..(SHARD_ENTRIES as u64 + 10) {
            ix.insert(7, slot(v)).unwrap();
        }
        assert_eq!(ix.depth, MAX_DEPTH);
        assert_eq!(find(&ix, 7, 3), Some(3));
    }
}
