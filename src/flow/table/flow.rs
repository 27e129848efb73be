//! A flow as stored, its id, and the borrowed view callers get.

use super::stats::{FlowStats, LiveStats};
use super::ufid::Ufid;
use crate::flow::key::FlowKey;
use crate::percpu::Cpu;

/// Names one flow for as long as it is in the table; a removed flow's id
/// never names a later flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId {
    pub(super) slot: u32,
    pub(super) generation: u32,
}

/// In C order: what a hit touches (stats, actions) first, in the slot's
/// first cache line; the key, read by dumps and control, last.
#[repr(C)]
pub(super) struct Flow<A> {
    pub(super) stats: LiveStats,
    pub(super) actions: A,
    pub(super) mask_slot: u32,
    /// Hash of the masked key, under which the mask's index holds it.
    pub(super) hash: u32,
    /// The UFID and its hash in the UFID index.
    pub(super) ufid: Option<(Ufid, u32)>,
    /// The key as installed (before masking).
    pub(super) key: FlowKey,
}

/// A flow in the table, borrowed from it.
pub struct FlowRef<'t, A> {
    pub(super) id: FlowId,
    pub(super) flow: &'t Flow<A>,
    pub(super) mask: &'t FlowKey,
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

    /// The key as userspace installed it (unmasked).
    pub fn key(&self) -> &'t FlowKey {
        &self.flow.key
    }

    pub fn mask(&self) -> &'t FlowKey {
        self.mask
    }

    /// `key & mask`: what the flow matches.
    pub fn masked_key(&self) -> FlowKey {
        self.flow.key.masked(self.mask)
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
