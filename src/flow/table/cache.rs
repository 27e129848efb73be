//! The mask cache (Linux's per-CPU `mask_cache`): entries keyed by the
//! packet's hash remember which flow, and so which mask, matched that packet
//! last, so most hits probe one mask. The hash is cut into segments, each
//! picking an entry, so two packets colliding in one segment can still both
//! be cached.
//!
//! One array is shared by every CPU. Each entry is a single atomic word
//! (`pkt_hash << 32 | flow_slot`), so a reader never sees one packet's hash
//! paired with another's flow; a stale or overwritten entry only costs a
//! wasted probe, because the hinted flow and mask are checked like any other.

use super::NoMemory;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Entries in the cache.
pub const MASK_CACHE_ENTRIES: usize = 1 << SEGMENT_BITS;
const SEGMENT_BITS: u32 = 10;
/// Segments of the 32-bit packet hash that pick an entry.
const SEGMENTS: u32 = 32 / SEGMENT_BITS;

pub struct MaskCache {
    entries: Vec<AtomicU64>,
}

fn entry(pkt_hash: u32, flow_slot: u32) -> u64 {
    (u64::from(pkt_hash) << 32) | u64::from(flow_slot)
}

/// What a probe found: the flow slot the packet hit last, and the entry to
/// fill after a full lookup.
#[derive(Clone, Copy)]
pub struct Probe<'c> {
    pub hint: Option<u32>,
    pub refill: Option<&'c AtomicU64>,
}

impl Probe<'_> {
    /// No hint and nothing to fill (the cache is bypassed).
    pub const NONE: Probe<'static> = Probe {
        hint: None,
        refill: None,
    };
}

impl MaskCache {
    /// No entries until `allocate`.
    pub const fn new() -> MaskCache {
        MaskCache {
            entries: Vec::new(),
        }
    }

    pub fn footprint(&self) -> usize {
        self.entries.capacity() * core::mem::size_of::<AtomicU64>()
    }

    /// Allocates the entries if not done yet.
    pub fn allocate(&mut self) -> Result<(), NoMemory> {
        if self.entries.is_empty() {
            self.entries
                .try_reserve_exact(MASK_CACHE_ENTRIES)
                .map_err(|_| NoMemory)?;
            self.entries
                .resize_with(MASK_CACHE_ENTRIES, || AtomicU64::new(0));
        }
        Ok(())
    }

    /// Looks `pkt_hash` (non-zero) up. On a miss the entry to fill is an
    /// empty one if a segment has one, else the first segment's.
    #[inline]
    pub fn probe(&self, pkt_hash: u32) -> Probe<'_> {
        let mut refill: Option<&AtomicU64> = None;
        let mut refill_empty = false;
        let mut h = pkt_hash;
        for _ in 0..SEGMENTS {
            let Some(e) = self.entries.get(h as usize % MASK_CACHE_ENTRIES) else {
                break;
            };
            let v = e.load(Relaxed);
            let cached = (v >> 32) as u32;
            if cached == pkt_hash {
                return Probe {
                    hint: Some(v as u32),
                    refill: Some(e),
                };
            }
            if refill.is_none() || (cached == 0 && !refill_empty) {
                refill = Some(e);
                refill_empty = cached == 0;
            }
            h >>= SEGMENT_BITS;
        }
        Probe { hint: None, refill }
    }

    /// Remembers that the packet with `pkt_hash` hit the flow in `flow_slot`.
    #[inline]
    pub fn fill(refill: &AtomicU64, pkt_hash: u32, flow_slot: u32) {
        refill.store(entry(pkt_hash, flow_slot), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remember(c: &MaskCache, pkt_hash: u32, slot: u32) {
        let p = c.probe(pkt_hash);
        MaskCache::fill(p.refill.unwrap(), pkt_hash, slot);
    }

    #[test]
    fn unallocated_cache_never_hits_or_fills() {
        let c = MaskCache::new();
        let p = c.probe(5);
        assert!(p.hint.is_none() && p.refill.is_none());
        assert_eq!(c.footprint(), 0);
    }

    #[test]
    fn remembers_and_replaces() {
        let mut c = MaskCache::new();
        c.allocate().unwrap();
        remember(&c, 0x1234_5678, 3);
        assert_eq!(c.probe(0x1234_5678).hint, Some(3));
        assert_eq!(c.probe(0x1234_5679).hint, None);
        remember(&c, 0x1234_5678, 4);
        assert_eq!(c.probe(0x1234_5678).hint, Some(4));
    }

    /// Two hashes with the same low segment both stay cached: the second
    /// goes to its next segment's entry, which was empty.
    #[test]
    fn colliding_first_segment_uses_the_next() {
        let mut c = MaskCache::new();
        c.allocate().unwrap();
        let a = 0x0000_0001 | (1 << SEGMENT_BITS);
        let b = 0x0000_0001 | (2 << SEGMENT_BITS);
        remember(&c, a, 1);
        remember(&c, b, 2);
        assert_eq!(c.probe(a).hint, Some(1));
        assert_eq!(c.probe(b).hint, Some(2));
    }
}
