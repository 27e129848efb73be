//! Flow storage: fixed-size chunks of slots with a free list. A flow keeps
//! its slot for life (dump cursors and indexes refer to slots), chunks are
//! never moved or reallocated, and each use of a slot gets a new generation
//! so that a stale id does not reach a later flow.

use super::NoMemory;
use alloc::vec::Vec;

/// Slots per chunk: one allocation of a few tens of KiB.
const CHUNK: usize = 64;
/// End of the free list.
const NONE: u32 = u32::MAX;

enum Entry<T> {
    Free { next: u32 },
    Used { generation: u32, value: T },
}

/// What `next_used` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    Used(u32),
    /// The slots it looked at were free; the next one to look at.
    Gap(usize),
    /// No used slot at or after the start.
    End,
}

pub struct Slab<T> {
    chunks: Vec<Vec<Entry<T>>>,
    free: u32,
    len: usize,
    next_generation: u32,
}

fn split(slot: u32) -> (usize, usize) {
    let slot = slot as usize;
    (slot / CHUNK, slot % CHUNK)
}

impl<T> Slab<T> {
    /// Bytes one slot takes.
    pub const SLOT_BYTES: usize = core::mem::size_of::<Entry<T>>();

    pub const fn new() -> Slab<T> {
        Slab {
            chunks: Vec::new(),
            free: NONE,
            len: 0,
            next_generation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held (slots, used or not, and the chunk list).
    pub fn footprint(&self) -> usize {
        self.chunks.capacity() * core::mem::size_of::<Vec<Entry<T>>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * core::mem::size_of::<Entry<T>>())
                .sum::<usize>()
    }

    /// Makes sure a free slot exists, so that the next `put` allocates nothing.
    pub fn reserve_one(&mut self) -> Result<(), NoMemory> {
        if self.free != NONE {
            return Ok(());
        }
        let base = self.chunks.len().checked_mul(CHUNK).ok_or(NoMemory)?;
        // Slot numbers stay below NONE.
        let top = u32::try_from(base + CHUNK).map_err(|_| NoMemory)?;
        if top == NONE {
            return Err(NoMemory);
        }
        self.chunks.try_reserve(1).map_err(|_| NoMemory)?;
        let mut chunk = Vec::new();
        chunk.try_reserve_exact(CHUNK).map_err(|_| NoMemory)?;
        let base = top - CHUNK as u32;
        for i in 1..=CHUNK as u32 {
            let next = if i == CHUNK as u32 { NONE } else { base + i };
            chunk.push(Entry::Free { next });
        }
        self.chunks.push(chunk);
        self.free = base;
        Ok(())
    }

    /// Stores `value` in a free slot: `(slot, generation)`. Gives the value
    /// back if no slot was reserved.
    pub fn put(&mut self, value: T) -> Result<(u32, u32), T> {
        let slot = self.free;
        let (c, i) = split(slot);
        let Some(entry) = self.chunks.get_mut(c).and_then(|chunk| chunk.get_mut(i)) else {
            return Err(value);
        };
        let Entry::Free { next } = *entry else {
            return Err(value);
        };
        let generation = self.next_generation;
        self.next_generation = generation.wrapping_add(1);
        *entry = Entry::Used { generation, value };
        self.free = next;
        self.len += 1;
        Ok((slot, generation))
    }

    /// The value in `slot` and its generation.
    #[inline(always)]
    pub fn get(&self, slot: u32) -> Option<(&T, u32)> {
        let (c, i) = split(slot);
        match self.chunks.get(c)?.get(i)? {
            Entry::Used { generation, value } => Some((value, *generation)),
            Entry::Free { .. } => None,
        }
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<(&mut T, u32)> {
        let (c, i) = split(slot);
        match self.chunks.get_mut(c)?.get_mut(i)? {
            Entry::Used { generation, value } => Some((value, *generation)),
            Entry::Free { .. } => None,
        }
    }

    /// Empties `slot` and returns its value.
    pub fn take(&mut self, slot: u32) -> Option<T> {
        let (c, i) = split(slot);
        let entry = self.chunks.get_mut(c)?.get_mut(i)?;
        if let Entry::Free { .. } = entry {
            return None;
        }
        let old = core::mem::replace(entry, Entry::Free { next: self.free });
        self.free = slot;
        self.len -= 1;
        match old {
            Entry::Used { value, .. } => Some(value),
            Entry::Free { .. } => None,
        }
    }

    /// The first used slot at or after `from`, looking at `limit` slots at
    /// most.
    pub fn next_used(&self, from: usize, limit: usize) -> Scan {
        let (mut c, mut i) = (from / CHUNK, from % CHUNK);
        let mut left = limit;
        while let Some(chunk) = self.chunks.get(c) {
            let span = chunk.len().saturating_sub(i).min(left);
            let used = chunk
                .iter()
                .skip(i)
                .take(span)
                .position(|e| matches!(e, Entry::Used { .. }));
            if let Some(j) = used {
                return u32::try_from(c * CHUNK + i + j).map_or(Scan::End, Scan::Used);
            }
            left -= span;
            if left == 0 {
                return Scan::Gap(c * CHUNK + i + span);
            }
            c += 1;
            i = 0;
        }
        Scan::End
    }

    /// An empty slab whose generations continue this one's: a slot it hands
    /// out never gets an id this one gave.
    pub fn successor(&self) -> Slab<T> {
        Slab {
            next_generation: self.next_generation,
            ..Slab::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(s: &mut Slab<u64>, v: u64) -> (u32, u32) {
        s.reserve_one().unwrap();
        s.put(v).unwrap()
    }

    #[test]
    fn put_needs_a_reserved_slot() {
        let mut s = Slab::new();
        assert_eq!(s.put(1u64), Err(1));
        assert_eq!(s.footprint(), 0);
    }

    #[test]
    fn slots_are_reused_with_new_generations() {
        let mut s = Slab::new();
        let (a, ga) = put(&mut s, 10);
        let (b, _) = put(&mut s, 11);
        assert_ne!(a, b);
        assert_eq!(s.take(a), Some(10));
        assert_eq!(s.take(a), None);
        assert_eq!(s.get(a), None);
        let (c, gc) = put(&mut s, 12);
        assert_eq!(c, a);
        assert_ne!(gc, ga);
        assert_eq!(s.get(c), Some((&12, gc)));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn next_used_walks_across_chunks() {
        let mut s = Slab::new();
        let slots: Vec<u32> = (0..200).map(|v| put(&mut s, v).0).collect();
        for &slot in slots.iter().step_by(3) {
            s.take(slot);
        }
        let mut seen = Vec::new();
        let mut at = 0;
        while let Scan::Used(slot) = s.next_used(at, usize::MAX) {
            seen.push(*s.get(slot).unwrap().0);
            at = slot as usize + 1;
        }
        let want: Vec<u64> = (0..200).filter(|v| v % 3 != 0).collect();
        assert_eq!(seen, want);
        assert_eq!(s.next_used(usize::MAX, usize::MAX), Scan::End);
    }

    /// A walk looks at `limit` slots at most, and resumes where it stopped.
    #[test]
    fn next_used_stops_after_limit_slots() {
        let mut s = Slab::new();
        let slots: Vec<u32> = (0..300).map(|v| put(&mut s, v).0).collect();
        for &slot in &slots[..250] {
            s.take(slot);
        }
        assert_eq!(s.next_used(0, 100), Scan::Gap(100));
        assert_eq!(s.next_used(100, 100), Scan::Gap(200));
        assert_eq!(s.next_used(200, 60), Scan::Used(slots[250]));
        assert_eq!(s.next_used(200, 50), Scan::Gap(250));
        assert_eq!(s.next_used(299, 5), Scan::Used(slots[299]));
        // The last chunk's free slots are looked at like any others.
        assert_eq!(s.next_used(300, 5), Scan::Gap(305));
        assert_eq!(s.next_used(300, 100), Scan::End);
    }

    #[test]
    fn a_successor_is_empty_and_generations_continue() {
        let mut s = Slab::new();
        let (slot, g) = put(&mut s, 1);
        let _ = s.get_mut(slot).map(|(v, _)| *v = 5);
        assert_eq!(s.get(slot), Some((&5, g)));
        let mut s = s.successor();
        assert_eq!((s.footprint(), s.len()), (0, 0));
        assert_eq!(s.get(slot), None);
        let (slot2, g2) = put(&mut s, 2);
        assert_eq!(slot2, slot);
        assert_ne!(g2, g);
    }
}
