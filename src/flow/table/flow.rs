//! A flow as stored, its id, and the borrowed view callers get.

use super::NoMemory;
use super::mask::Mask;
use super::stats::{FlowStats, LiveStats};
use super::ufid::Ufid;
use crate::flow::key::FlowKey;
use crate::percpu::Cpu;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Names one flow for as long as it is in the table; a removed flow's id
/// never names a later flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId {
    pub(super) slot: u32,
    pub(super) generation: u32,
}

/// Key words a record holds itself: the range of an IPv4 or IPv6 megaflow
/// (recirculation id through the IPv6 addresses). A mask covering more
/// (tunnel, MPLS, conntrack labels or tuple, NSH) keeps its flows' words on
/// the heap.
pub(super) const INLINE_WORDS: usize = 13;

/// A flow's `key & mask` over its mask's word range: what a lookup compares
/// (Linux keeps the masked key and compares over the range as well).
pub(super) enum MaskedWords {
    Inline([u64; INLINE_WORDS]),
    Heap(Box<[u64]>),
}

impl MaskedWords {
    /// Holds `words` (a mask's range); fails only if a heap copy is needed
    /// and memory is short.
    pub(super) fn new(words: impl ExactSizeIterator<Item = u64>) -> Result<MaskedWords, NoMemory> {
        if words.len() <= INLINE_WORDS {
            let mut inline = [0; INLINE_WORDS];
            for (dst, w) in inline.iter_mut().zip(words) {
                *dst = w;
            }
            return Ok(MaskedWords::Inline(inline));
        }
        let mut heap = Vec::new();
        heap.try_reserve_exact(words.len()).map_err(|_| NoMemory)?;
        heap.extend(words);
        Ok(MaskedWords::Heap(heap.into_boxed_slice()))
    }

    /// The words of a range `width` words wide.
    #[inline(always)]
    pub(super) fn get(&self, width: usize) -> &[u64] {
        match self {
            MaskedWords::Inline(w) => w.get(..width).unwrap_or(w),
            MaskedWords::Heap(w) => w,
        }
    }

    /// Heap bytes held for a range `width` words wide.
    pub(super) const fn heap_bytes(width: usize) -> usize {
        match width <= INLINE_WORDS {
            true => 0,
            false => width * core::mem::size_of::<u64>(),
        }
    }
}

/// In C order: what a hit reads (the masked key words, then the actions)
/// first, the statistics it writes next; what only control reads last.
#[repr(C)]
pub(super) struct Flow<A> {
    pub(super) mask_slot: u32,
    /// Hash of the masked key, under which the mask's index holds it.
    pub(super) hash: u32,
    pub(super) key: MaskedWords,
    pub(super) actions: A,
    pub(super) stats: LiveStats,
    /// The UFID and its hash in the UFID index.
    pub(super) ufid: Option<(Ufid, u32)>,
    /// The key as installed (before masking), kept only for a flow without
    /// a UFID, which it identifies (Linux's `unmasked_key`); one element.
    pub(super) installed: Option<Box<[FlowKey]>>,
}

/// A flow in the table, borrowed from it.
pub struct FlowRef<'t, A> {
    pub(super) id: FlowId,
    pub(super) flow: &'t Flow<A>,
    pub(super) mask: &'t Mask,
}

impl<A> Clone for FlowRef<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for FlowRef<'_, A> {}

impl<'t, A> FlowRef<'t, A> {
    pub fn id(&self) -> FlowId {
        self.id
    }

    /// The key as userspace installed it (unmasked), kept only for a flow
    /// without a UFID: the key is what names such a flow.
    pub fn installed_key(&self) -> Option<&'t FlowKey> {
        self.flow.installed.as_deref().and_then(<[FlowKey]>::first)
    }

    pub fn mask(&self) -> &'t FlowKey {
        self.mask.key()
    }

    /// `key & mask`: what the flow matches.
    pub fn masked_key(&self) -> FlowKey {
        self.mask.unmask(self.flow.key.get(self.mask.width()))
    }

    pub fn ufid(&self) -> Option<&'t Ufid> {
        self.flow.ufid.as_ref().map(|(u, _)| u)
    }

    pub fn actions(&self) -> &'t A {
        &self.flow.actions
    }

    pub fn stats(&self) -> FlowStats {
        self.flow.stats.snapshot()
    }

    /// Counts a packet of `bytes` bytes with `tcp_flags` hitting the flow
    /// at `now_ms`.
    #[inline]
    pub fn record(&self, cpu: Cpu, now_ms: u64, bytes: u64, tcp_flags: u16) {
        self.flow.stats.record(cpu, now_ms, bytes, tcp_flags);
    }

    pub fn clear_stats(&self) {
        self.flow.stats.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_words_are_inline_up_to_the_common_range() {
        let narrow = MaskedWords::new([1u64, 2, 3].into_iter()).unwrap();
        assert!(matches!(narrow, MaskedWords::Inline(_)));
        assert_eq!(narrow.get(3), &[1, 2, 3]);
        assert_eq!(MaskedWords::heap_bytes(INLINE_WORDS), 0);
        let wide = MaskedWords::new([7u64; INLINE_WORDS + 1].into_iter()).unwrap();
        assert!(matches!(wide, MaskedWords::Heap(_)));
        assert_eq!(wide.get(INLINE_WORDS + 1).len(), INLINE_WORDS + 1);
        assert_eq!(
            MaskedWords::heap_bytes(INLINE_WORDS + 1),
            8 * (INLINE_WORDS + 1)
        );
    }

    /// The common megaflow range (recirculation id through the IPv6
    /// addresses) fits inline.
    #[test]
    fn the_common_range_fits_inline() {
        use core::mem::offset_of;
        let start = offset_of!(FlowKey, recirc_id) / 8;
        let end = (offset_of!(FlowKey, ipv6_dst) + 16).div_ceil(8);
        assert!(end - start <= INLINE_WORDS, "{}", end - start);
    }
}
