//! An open-addressing hash index from a fixed-width string of 64-bit words
//! to a flow slot: linear probing, backward-shift deletion (no tombstones),
//! load kept at most 1/2 (grows) and at least 1/8 (shrinks when it can).
//!
//! Bucket headers (hash and slot) and the key words sit in two arrays, so a
//! probe touches the key words only when the 32-bit hash already matched.

use super::NoMemory;
use alloc::vec::Vec;

/// Header of an empty bucket; a used one holds `hash << 32 | (slot + 1)`.
const EMPTY: u64 = 0;
const MIN_BUCKETS: usize = 8;

pub struct WordIndex {
    heads: Vec<u64>,
    words: Vec<u64>,
    width: usize,
    len: usize,
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

impl WordIndex {
    /// An empty index for keys of `width` words; allocates nothing.
    pub const fn new(width: usize) -> WordIndex {
        WordIndex {
            heads: Vec::new(),
            words: Vec::new(),
            width,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// An entry's share of an index of `width`-word keys at the load it
    /// grows at (half full): two buckets of a header and the key words.
    pub const fn entry_bytes(width: usize) -> usize {
        2 * (1 + width) * core::mem::size_of::<u64>()
    }

    /// Heap bytes held.
    pub fn footprint(&self) -> usize {
        (self.heads.capacity() + self.words.capacity()) * core::mem::size_of::<u64>()
    }

    fn bucket_words(&self, i: usize) -> Option<&[u64]> {
        let start = i.checked_mul(self.width)?;
        self.words.get(start..start.checked_add(self.width)?)
    }

    /// The slot stored under `hash` whose key words satisfy `eq`.
    #[inline]
    pub fn find(&self, hash: u32, eq: impl Fn(&[u64]) -> bool) -> Option<u32> {
        self.find_entry(hash, |i, _| self.bucket_words(i).is_some_and(&eq))
    }

    /// The slot stored under `hash` that satisfies `eq`: for an index of
    /// zero-width keys whose owner keeps the keys by slot.
    pub fn find_slot(&self, hash: u32, eq: impl Fn(u32) -> bool) -> Option<u32> {
        self.find_entry(hash, |_, slot| eq(slot))
    }

    /// The slot of the first entry under `hash` for which `eq(bucket, slot)`.
    #[inline(always)]
    fn find_entry(&self, hash: u32, eq: impl Fn(usize, u32) -> bool) -> Option<u32> {
        let mask = self.heads.len().checked_sub(1)?;
        let mut i = hash as usize & mask;
        for _ in 0..self.heads.len() {
            let h = *self.heads.get(i)?;
            if h == EMPTY {
                return None;
            }
            if head_hash(h) == hash && eq(i, head_slot(h)) {
                return Some(head_slot(h));
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Makes room for one more entry, so that the next `insert` allocates
    /// nothing.
    pub fn reserve_one(&mut self) -> Result<(), NoMemory> {
        let need = self.len.checked_add(1).ok_or(NoMemory)?;
        if need.saturating_mul(2) <= self.heads.len() {
            return Ok(());
        }
        self.rebuild(buckets_for(need)?)
    }

    /// Adds `key` (exactly `width` words) for `slot` under `hash`. The caller
    /// has checked that the key is not present.
    pub fn insert(&mut self, hash: u32, key: &[u64], slot: u32) -> Result<(), NoMemory> {
        if key.len() != self.width {
            return Err(NoMemory);
        }
        self.reserve_one()?;
        if !place(
            &mut self.heads,
            &mut self.words,
            self.width,
            head(hash, slot),
            key,
        ) {
            return Err(NoMemory);
        }
        self.len += 1;
        Ok(())
    }

    /// Removes the entry of `slot` stored under `hash`; false if absent.
    pub fn remove(&mut self, hash: u32, slot: u32) -> bool {
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
                for k in 0..self.width {
                    let src = self.words.get(j * self.width + k).copied();
                    if let (Some(v), Some(dst)) = (src, self.words.get_mut(hole * self.width + k)) {
                        *dst = v;
                    }
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
        let n_words = buckets.checked_mul(self.width).ok_or(NoMemory)?;
        let mut heads = Vec::new();
        heads.try_reserve_exact(buckets).map_err(|_| NoMemory)?;
        heads.resize(buckets, EMPTY);
        let mut words = Vec::new();
        words.try_reserve_exact(n_words).map_err(|_| NoMemory)?;
        words.resize(n_words, 0);
        for (i, &h) in self.heads.iter().enumerate() {
            if h == EMPTY {
                continue;
            }
            let key = self.bucket_words(i).ok_or(NoMemory)?;
            if !place(&mut heads, &mut words, self.width, h, key) {
                return Err(NoMemory);
            }
        }
        self.heads = heads;
        self.words = words;
        Ok(())
    }

    /// Drops every entry and frees the memory.
    fn clear(&mut self) {
        self.heads = Vec::new();
        self.words = Vec::new();
        self.len = 0;
    }
}

/// Puts an entry in the first empty bucket of its probe run; false if the
/// table has no empty bucket.
fn place(heads: &mut [u64], words: &mut [u64], width: usize, h: u64, key: &[u64]) -> bool {
    let Some(mask) = heads.len().checked_sub(1) else {
        return false;
    };
    let mut i = head_hash(h) as usize & mask;
    for _ in 0..heads.len() {
        if let Some(slot) = heads.get_mut(i)
            && *slot == EMPTY
        {
            *slot = h;
            let start = i * width;
            if let Some(dst) = words.get_mut(start..start + width) {
                dst.copy_from_slice(key);
            }
            return true;
        }
        i = (i + 1) & mask;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: u64) -> [u64; 2] {
        [v, !v]
    }

    fn find(ix: &WordIndex, hash: u32, v: u64) -> Option<u32> {
        ix.find(hash, |w| w == key(v))
    }

    #[test]
    fn empty_index_finds_nothing_and_holds_nothing() {
        let ix = WordIndex::new(2);
        assert_eq!(find(&ix, 5, 5), None);
        assert_eq!(ix.footprint(), 0);
    }

    #[test]
    fn insert_find_remove() {
        let mut ix = WordIndex::new(2);
        for v in 0..100u64 {
            ix.insert(v as u32 * 7, &key(v), v as u32 + 1000).unwrap();
        }
        assert_eq!(ix.len(), 100);
        for v in 0..100u64 {
            assert_eq!(find(&ix, v as u32 * 7, v), Some(v as u32 + 1000));
            assert_eq!(find(&ix, v as u32 * 7, v + 1), None);
        }
        for v in (0..100u64).step_by(2) {
            assert!(ix.remove(v as u32 * 7, v as u32 + 1000));
            assert!(!ix.remove(v as u32 * 7, v as u32 + 1000));
        }
        for v in 0..100u64 {
            let want = (v % 2 == 1).then_some(v as u32 + 1000);
            assert_eq!(find(&ix, v as u32 * 7, v), want);
        }
    }

    /// Every key under one hash: one long probe run, removed from the middle
    /// and the ends, must stay findable.
    #[test]
    fn colliding_hashes_survive_backward_shift() {
        let mut ix = WordIndex::new(2);
        for v in 0..20u64 {
            ix.insert(3, &key(v), v as u32).unwrap();
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
        let mut ix = WordIndex::new(2);
        let top = (MIN_BUCKETS - 1) as u32;
        for v in 0..3u64 {
            ix.insert(top, &key(v), v as u32).unwrap();
        }
        ix.insert(0, &key(9), 9).unwrap();
        assert!(ix.remove(top, 0));
        assert_eq!(find(&ix, top, 1), Some(1));
        assert_eq!(find(&ix, top, 2), Some(2));
        assert_eq!(find(&ix, 0, 9), Some(9));
    }

    #[test]
    fn grows_and_shrinks_and_frees() {
        let mut ix = WordIndex::new(2);
        for v in 0..1000u64 {
            ix.insert((v * 2_654_435_761) as u32, &key(v), v as u32)
                .unwrap();
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

    #[test]
    fn zero_width_keys() {
        let mut ix = WordIndex::new(0);
        ix.insert(1, &[], 4).unwrap();
        ix.insert(1, &[], 6).unwrap();
        assert_eq!(ix.find(1, |w| w.is_empty()), Some(4));
        assert_eq!(ix.find_slot(1, |slot| slot == 6), Some(6));
        assert_eq!(ix.find_slot(1, |slot| slot == 5), None);
        assert!(ix.remove(1, 6));
        assert!(ix.insert(1, &[1], 5).is_err());
        assert!(ix.remove(1, 4));
        assert_eq!(ix.find(1, |_| true), None);
    }

    #[test]
    fn reserve_makes_insert_allocation_free() {
        let mut ix = WordIndex::new(2);
        for v in 0..50u64 {
            ix.reserve_one().unwrap();
            let before = ix.footprint();
            ix.insert(v as u32, &key(v), v as u32).unwrap();
            assert_eq!(ix.footprint(), before);
        }
    }
}
