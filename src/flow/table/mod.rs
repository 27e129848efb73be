//! The megaflow table (Linux `flow_table.c`).
//!
//! A flow is a masked key with its mask, an optional UFID, actions and
//! statistics. Masks are shared: the table keeps the distinct masks (found
//! by their contents through an index, at most `mask_limit` of them), each
//! with the word range it covers and an index of its flows by the hash of
//! their masked keys. A flow record keeps its masked key over its mask's
//! range only (and its full key only when no UFID names it). A packet lookup first tries what the packet's hash hit last (the mask
//! cache: that flow, then its mask), then every mask in order of recent
//! hits (re-sorted by `rebalance`), each time hashing the packet's key
//! masked over the mask's range and probing that mask's index.
//!
//! Locking is the caller's: lookups, statistics and dumps take `&self` (a
//! read lock) and only touch atomics; changes take `&mut self` (the write
//! lock). Every allocation is fallible and made before anything changes.

mod cache;
mod flow;
mod hash;
mod index;
mod mask;
mod slab;
mod stats;
mod ufid;

pub use cache::MASK_CACHE_ENTRIES;
pub use flow::{FlowId, FlowRef};
pub use stats::{FlowStats, LiveStats};
pub use ufid::Ufid;

use crate::flow::key::FlowKey;
use crate::netlink::Errno;
use alloc::vec::Vec;
use cache::{MaskCache, Probe};
use core::cmp::Reverse;
use core::sync::atomic::AtomicU64;
use flow::{Flow, MaskedWords};
use index::SlotIndex;
use mask::Mask;
use slab::{Scan, Slab};

/// Flows allowed unless `set_limit` says otherwise.
pub const DEFAULT_FLOW_LIMIT: usize = 200_000;
/// Bytes the flows may hold unless `set_memory_limit` says otherwise: the
/// default limit of flows of the usual size (a record and its index entries,
/// about 300 bytes with a UFID, short actions inline) is about 60 MiB; the
/// rest leaves room for long action lists, wide masks and flows without a
/// UFID (which keep their full key, some 560 bytes more).
pub const DEFAULT_FLOW_MEMORY: usize = 256 << 20;
/// Masks allowed unless `set_mask_limit` says otherwise. A miss probes
/// every mask at DISPATCH_LEVEL (about 15 ns each: some 15 µs at the
/// limit); ovs-vswitchd's megaflows rarely need more than a few hundred.
pub const DEFAULT_MASK_LIMIT: usize = 1024;
/// Seed of `FlowTable::new`.
pub const DEFAULT_SEED: u64 = 0x5851_f42d_4c95_7f2d;

/// An allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NoMemory;

/// Why `insert` refused a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// A flow with the same mask and the same masked key exists.
    Exists(FlowId),
    /// A flow with the same UFID exists.
    UfidExists(FlowId),
    /// The table holds its limit of flows, or of masks and the flow needs
    /// a new one, or the flow would take its memory beyond the limit.
    TableFull,
    NoMemory,
}

impl InsertError {
    /// The netlink error: `EEXIST`, `E2BIG` for a full table, `ENOMEM`.
    pub fn errno(self) -> Errno {
        match self {
            InsertError::Exists(_) | InsertError::UfidExists(_) => Errno::Exist,
            InsertError::TableFull => Errno::TooBig,
            InsertError::NoMemory => Errno::NoMem,
        }
    }
}

/// Where a bounded walk over the flows stopped (`step_from`).
pub enum Step<'t, A> {
    /// A flow, and the cursor after it.
    Flow(u64, FlowRef<'t, A>),
    /// Every slot looked at was free; the cursor to continue from.
    Gap(u64),
    /// No flow at or after the cursor.
    End,
}

/// What a packet lookup cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Masks probed.
    pub n_mask_hit: u32,
    /// The mask cache named the matching flow or its mask.
    pub cache_hit: bool,
}

/// Most packets one `FlowTable::lookup_batch` looks up.
pub const LOOKUP_BATCH: usize = 32;

/// Flows beyond which `lookup_batch` reads the index buckets of a batch
/// ahead: a table this small (about 1 MiB of records and buckets) stays in
/// a core's cache, where the reads ahead are only extra work. (Reading the
/// flow records ahead as well measured slower at 100k flows: a record the
/// probe then reads is most often in the last-level cache.)
const READ_AHEAD_FLOWS: usize = 4096;

/// What a lookup ended by the mask cache cost.
const CACHE_HIT: LookupStats = LookupStats {
    n_mask_hit: 1,
    cache_hit: true,
};

/// The mask cache's key for a packet. Linux's rule: packets keep their hash
/// across recirculation, so each pass gets its own, or the passes would
/// evict each other.
#[inline]
fn cache_hash(key: &FlowKey, pkt_hash: u32) -> u32 {
    match key.recirc_id {
        0 => pkt_hash,
        _ if pkt_hash == 0 => 0,
        id => hash::with_recirc(pkt_hash, id),
    }
}

/// Points the cache entry the packet hit at `slot` if it named another flow.
#[inline]
fn refill_if_moved(cached: &Probe<'_>, pkt_hash: u32, slot: u32) {
    if cached.hint != Some(slot)
        && let Some(entry) = cached.refill
    {
        MaskCache::fill(entry, pkt_hash, slot);
    }
}

/// A packet of a `lookup_batch` still looking for its flow.
#[derive(Clone, Copy)]
struct Pending<'t> {
    /// Its place in the batch.
    at: usize,
    pkt_hash: u32,
    cached: Probe<'t>,
    /// The mask the cache led to, probed already.
    probed: Option<u32>,
    /// Whether the mask being probed may hold its flow (`Mask::may_match`),
    /// the hash of its key under that mask, and the flow found there.
    candidate: bool,
    hash: u32,
    slot: Option<u32>,
}

impl Pending<'_> {
    const NONE: Pending<'static> = Pending {
        at: 0,
        pkt_hash: 0,
        cached: Probe::NONE,
        probed: None,
        candidate: false,
        hash: 0,
        slot: None,
    };
}

/// Moves `p` to the front part of `pending` that is still looking.
#[inline]
fn keep<'t>(pending: &mut [Pending<'t>], kept: &mut usize, p: Pending<'t>) {
    if let Some(slot) = pending.get_mut(*kept) {
        *slot = p;
        *kept += 1;
    }
}

/// Heap memory a flow's actions own besides the flow record, which the
/// table's memory limit charges to the flow.
pub trait ActionsFootprint {
    fn heap_bytes(&self) -> usize;
}

/// Plain values own no heap memory.
impl ActionsFootprint for () {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl ActionsFootprint for u32 {
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// The megaflow table; `A` is the flows' actions.
pub struct FlowTable<A> {
    flows: Slab<Flow<A>>,
    /// Mask storage; a slot keeps its mask while flows use it.
    masks: Vec<Option<Mask>>,
    /// Empty mask slots, reused first; room for every slot is reserved, so
    /// freeing one never allocates.
    free_masks: Vec<u32>,
    /// Mask slots by `mask::identity_hash` of their masks.
    mask_index: SlotIndex,
    /// Mask slots in lookup order.
    order: Vec<u32>,
    mask_limit: usize,
    ufids: SlotIndex,
    cache: MaskCache,
    limit: usize,
    /// Bytes charged to the flows (`charge`), and the most allowed.
    memory: usize,
    memory_limit: usize,
    /// Heap bytes the flows hold outside their records (`flow_heap`).
    flow_heap: usize,
    seed: u64,
}

impl<A: ActionsFootprint> Default for FlowTable<A> {
    fn default() -> Self {
        FlowTable::new()
    }
}

impl<A: ActionsFootprint> FlowTable<A> {
    /// An empty table with a fixed hash seed; allocates nothing.
    pub const fn new() -> FlowTable<A> {
        FlowTable::with_seed(DEFAULT_SEED)
    }

    /// An empty table whose hashes use `seed` (a random seed makes the
    /// bucket of a key unpredictable to whoever sends the packets).
    pub const fn with_seed(seed: u64) -> FlowTable<A> {
        FlowTable {
            flows: Slab::new(),
            masks: Vec::new(),
            free_masks: Vec::new(),
            mask_index: SlotIndex::new(),
            order: Vec::new(),
            mask_limit: DEFAULT_MASK_LIMIT,
            ufids: SlotIndex::new(),
            cache: MaskCache::new(),
            limit: DEFAULT_FLOW_LIMIT,
            memory: 0,
            flow_heap: 0,
            memory_limit: DEFAULT_FLOW_MEMORY,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.len() == 0
    }

    /// The seed its hashes use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn n_masks(&self) -> usize {
        self.order.len()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Sets the most flows `insert` accepts; flows already beyond it stay.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn mask_limit(&self) -> usize {
        self.mask_limit
    }

    /// Sets the most masks `insert` creates; masks already beyond it stay.
    pub fn set_mask_limit(&mut self, limit: usize) {
        self.mask_limit = limit;
    }

    /// Bytes charged to the flows in the table.
    pub fn memory(&self) -> usize {
        self.memory
    }

    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// Sets the most bytes the flows may be charged (`insert` and
    /// `replace_actions` refuse to go beyond it); flows already beyond stay.
    pub fn set_memory_limit(&mut self, bytes: usize) {
        self.memory_limit = bytes;
    }

    /// Heap bytes the table holds (not counting what the actions own).
    pub fn footprint(&self) -> usize {
        self.flows.footprint()
            + self.masks.capacity() * core::mem::size_of::<Option<Mask>>()
            + self
                .masks
                .iter()
                .flatten()
                .map(Mask::footprint)
                .sum::<usize>()
            + (self.order.capacity() + self.free_masks.capacity()) * core::mem::size_of::<u32>()
            + self.mask_index.footprint()
            + self.ufids.footprint()
            + self.cache.footprint()
            + self.flow_heap
    }

    fn mask_at(&self, slot: u32) -> Option<&Mask> {
        self.masks.get(slot as usize)?.as_ref()
    }

    fn flow_ref(&self, slot: u32) -> Option<FlowRef<'_, A>> {
        let (flow, generation) = self.flows.get(slot)?;
        let mask = self.mask_at(flow.mask_slot)?;
        Some(FlowRef {
            id: FlowId { slot, generation },
            flow,
            mask,
        })
    }

    pub fn get(&self, id: FlowId) -> Option<FlowRef<'_, A>> {
        self.flow_ref(id.slot).filter(|f| f.id == id)
    }

    /// The flow under `mask` that matches `key`.
    #[inline(always)]
    fn probe<'t>(&'t self, mask: &'t Mask, key: &FlowKey) -> Option<FlowRef<'t, A>> {
        if !mask.may_match(key) {
            return None;
        }
        self.hit(mask, self.find_under(mask, mask.hash(self.seed, key), key))
    }

    /// The slot of the flow under `mask` that matches `key`, whose hash
    /// under it is `hash`.
    #[inline(always)]
    fn find_under(&self, mask: &Mask, hash: u32, key: &FlowKey) -> Option<u32> {
        let width = mask.width();
        mask.find_hashed(hash, key, |slot| {
            self.flows.get(slot).map(|(f, _)| f.key.get(width))
        })
    }

    /// The flow in `slot`, found under `mask`.
    #[inline(always)]
    fn hit<'t>(&'t self, mask: &'t Mask, slot: Option<u32>) -> Option<FlowRef<'t, A>> {
        let slot = slot?;
        let (flow, generation) = self.flows.get(slot)?;
        Some(FlowRef {
            id: FlowId { slot, generation },
            flow,
            mask,
        })
    }

    /// The flow matching a packet's `key`. `pkt_hash` is the packet's hash
    /// (RSS or flow hash, the same for every pass of a recirculated packet)
    /// for the mask cache; 0 bypasses the cache.
    ///
    /// A cache entry names the flow the packet hit last, and through it that
    /// flow's mask: if the flow still matches, the lookup ends without
    /// hashing; otherwise its mask is probed (as Linux probes the cached
    /// mask), then the other masks in order.
    #[inline]
    pub fn lookup(&self, key: &FlowKey, pkt_hash: u32) -> (Option<FlowRef<'_, A>>, LookupStats) {
        let pkt_hash = cache_hash(key, pkt_hash);
        let cached = self.probe_cache(pkt_hash);
        match self.follow_hint(key, cached.hint) {
            Ok(found) => {
                refill_if_moved(&cached, pkt_hash, found.id.slot);
                (Some(found), CACHE_HIT)
            }
            Err(probed) => self.scan(key, pkt_hash, cached.refill, probed),
        }
    }

    /// `lookup` of up to `LOOKUP_BATCH` packets at once (the rest are left
    /// alone): `out[i]` gets what `lookup(&keys[i], pkt_hashes[i])` would
    /// return. Each step is taken for the whole batch before the next (the
    /// cache entries, the flows they name, then mask by mask the hashes and
    /// index buckets of the keys still unmatched, then the probes), so that
    /// the cache misses of different packets overlap rather than follow
    /// one another (dpif-netdev's `dpcls_lookup` does the same); the bucket
    /// headers are read ahead only in a table beyond `READ_AHEAD_FLOWS`.
    pub fn lookup_batch<'t>(
        &'t self,
        keys: &[FlowKey],
        pkt_hashes: &[u32],
        out: &mut [(Option<FlowRef<'t, A>>, LookupStats)],
    ) {
        let mut pending = [Pending::NONE; LOOKUP_BATCH];
        let mut n = 0;
        for (at, ((key, &h), p)) in keys.iter().zip(pkt_hashes).zip(&mut pending).enumerate() {
            let pkt_hash = cache_hash(key, h);
            *p = Pending {
                at,
                pkt_hash,
                cached: self.probe_cache(pkt_hash),
                ..Pending::NONE
            };
            n += 1;
        }
        let mut kept = 0;
        for j in 0..n {
            let Some(&p) = pending.get(j) else { break };
            let (Some(key), Some(o)) = (keys.get(p.at), out.get_mut(p.at)) else {
                continue;
            };
            match self.follow_hint(key, p.cached.hint) {
                Ok(found) => {
                    refill_if_moved(&p.cached, p.pkt_hash, found.id.slot);
                    *o = (Some(found), CACHE_HIT);
                }
                Err(probed) => {
                    let stats = LookupStats {
                        n_mask_hit: u32::from(probed.is_some()),
                        cache_hit: false,
                    };
                    *o = (None, stats);
                    keep(&mut pending, &mut kept, Pending { probed, ..p });
                }
            }
        }
        // One packet left has no misses to overlap with: the plain scan
        // costs less than the staged one.
        if kept == 1
            && let Some(p) = pending.first()
            && let (Some(key), Some(o)) = (keys.get(p.at), out.get_mut(p.at))
        {
            *o = self.scan(key, p.pkt_hash, p.cached.refill, p.probed);
            return;
        }
        let read_ahead = self.flows.len() > READ_AHEAD_FLOWS;
        let mut n = kept;
        for &mask_slot in &self.order {
            if n == 0 {
                break;
            }
            let Some(mask) = self.mask_at(mask_slot) else {
                continue;
            };
            // Hashes, then bucket headers, then probes, each in a short
            // loop over the batch so that many misses are in flight. A mask
            // none of whose flows has the packet's port is skipped.
            for p in pending.iter_mut().take(n) {
                let key = keys.get(p.at).filter(|k| mask.may_match(k));
                p.candidate = key.is_some() && p.probed != Some(mask_slot);
                if let Some(key) = key.filter(|_| p.candidate) {
                    p.hash = mask.hash(self.seed, key);
                }
            }
            if read_ahead {
                let candidates = pending.iter().take(n).filter(|p| p.candidate);
                candidates.for_each(|p| mask.prefetch(p.hash));
            }
            for p in pending.iter_mut().take(n) {
                p.slot = match keys.get(p.at) {
                    Some(key) if p.candidate => self.find_under(mask, p.hash, key),
                    _ => None,
                };
            }
            let (mut kept, mut hits) = (0, 0);
            for j in 0..n {
                let Some(&p) = pending.get(j) else { break };
                let Some((found, stats)) = out.get_mut(p.at) else {
                    continue;
                };
                if p.probed == Some(mask_slot) {
                    keep(&mut pending, &mut kept, p);
                    continue;
                }
                stats.n_mask_hit += 1;
                match self.hit(mask, p.slot) {
                    Some(flow) => {
                        hits += 1;
                        if let Some(entry) = p.cached.refill {
                            MaskCache::fill(entry, p.pkt_hash, flow.id.slot);
                        }
                        *found = Some(flow);
                    }
                    None => keep(&mut pending, &mut kept, p),
                }
            }
            mask.count_hits(hits);
            n = kept;
        }
    }

    fn probe_cache(&self, pkt_hash: u32) -> Probe<'_> {
        match pkt_hash {
            0 => Probe::NONE,
            _ => self.cache.probe(pkt_hash),
        }
    }

    /// The flow the mask cache named if it still matches `key`, else the
    /// flow under its mask that does. `Err` names the mask probed in vain,
    /// if any.
    #[inline]
    fn follow_hint(&self, key: &FlowKey, hint: Option<u32>) -> Result<FlowRef<'_, A>, Option<u32>> {
        let Some(slot) = hint else { return Err(None) };
        let Some((flow, generation)) = self.flows.get(slot) else {
            return Err(None);
        };
        let Some(mask) = self.mask_at(flow.mask_slot) else {
            return Err(None);
        };
        let hit = match mask.matches(key, flow.key.get(mask.width())) {
            true => Some(FlowRef {
                id: FlowId { slot, generation },
                flow,
                mask,
            }),
            false => self.probe(mask, key),
        };
        hit.ok_or(Some(flow.mask_slot))
    }

    /// The masks in order but `probed`, the cached flow's mask that missed
    /// already; fills the cache entry on a hit.
    #[inline(never)]
    fn scan(
        &self,
        key: &FlowKey,
        pkt_hash: u32,
        refill: Option<&AtomicU64>,
        probed: Option<u32>,
    ) -> (Option<FlowRef<'_, A>>, LookupStats) {
        let mut stats = LookupStats {
            n_mask_hit: u32::from(probed.is_some()),
            cache_hit: false,
        };
        for &mask_slot in &self.order {
            if Some(mask_slot) == probed {
                continue;
            }
            let Some(mask) = self.mask_at(mask_slot) else {
                continue;
            };
            stats.n_mask_hit += 1;
            if let Some(flow) = self.probe(mask, key) {
                mask.count_hit();
                if let Some(entry) = refill {
                    MaskCache::fill(entry, pkt_hash, flow.id.slot);
                }
                return (Some(flow), stats);
            }
        }
        (None, stats)
    }

    fn find_mask(&self, mask: &FlowKey) -> Option<u32> {
        let hash = mask::identity_hash(self.seed, mask);
        self.mask_index
            .find(hash, |s| self.mask_at(s).is_some_and(|m| m.is(mask)))
    }

    /// The flow with exactly this mask whose masked key equals `key & mask`
    /// (`ovs_flow_tbl_lookup_exact`).
    pub fn lookup_exact(&self, key: &FlowKey, mask: &FlowKey) -> Option<FlowRef<'_, A>> {
        let m = self.mask_at(self.find_mask(mask)?)?;
        let slot = self.find_under(m, m.hash(self.seed, key), key)?;
        self.flow_ref(slot)
    }

    /// The flow named by its key (one without a UFID) that `key` falls in,
    /// under any mask, whose installed key agrees with `key` on every bit
    /// of `fields` (Linux's `ovs_flow_tbl_lookup_exact`: a flow named by a
    /// UFID is found only by its UFID).
    pub fn lookup_named(&self, key: &FlowKey, fields: &FlowKey) -> Option<FlowRef<'_, A>> {
        let wanted = key.masked(fields);
        self.order
            .iter()
            .filter_map(|&s| self.mask_at(s))
            .find_map(|m| {
                let f = self.probe(m, key)?;
                (f.installed_key()?.masked(fields) == wanted).then_some(f)
            })
    }

    fn find_ufid(&self, ufid: &Ufid, hash: u32) -> Option<u32> {
        self.ufids.find(hash, |slot| {
            let stored = self.flows.get(slot).and_then(|(f, _)| f.ufid);
            stored.is_some_and(|(u, _)| u == *ufid)
        })
    }

    pub fn lookup_ufid(&self, ufid: &Ufid) -> Option<FlowRef<'_, A>> {
        let slot = self.find_ufid(ufid, ufid.hash(self.seed))?;
        self.flow_ref(slot)
    }

    fn id_of(&self, slot: u32) -> Option<FlowId> {
        self.flow_ref(slot).map(|f| f.id)
    }

    /// What a flow is charged against the memory limit: its record, what its
    /// actions own, its key words beyond the record (a mask `width` words
    /// wide), and its entries in its mask's index and in the UFID index, or
    /// without a UFID its full key.
    fn charge(actions: &A, width: usize, has_ufid: bool) -> usize {
        let ufid_entry = match has_ufid {
            true => SlotIndex::ENTRY_BYTES,
            false => 0,
        };
        Slab::<Flow<A>>::SLOT_BYTES
            + actions.heap_bytes()
            + Self::flow_heap(width, has_ufid)
            + SlotIndex::ENTRY_BYTES
            + ufid_entry
    }

    /// Heap bytes a flow holds besides its record and its actions: its key
    /// words under a mask `width` words wide beyond the record, and without
    /// a UFID its full key.
    fn flow_heap(width: usize, has_ufid: bool) -> usize {
        let installed = match has_ufid {
            true => 0,
            false => core::mem::size_of::<FlowKey>(),
        };
        MaskedWords::heap_bytes(width) + installed
    }

    /// Adds a flow matching `key & mask`. Refuses a second flow with the same
    /// UFID, or with the same mask and masked key; flows under different
    /// masks may overlap (a lookup then returns either).
    pub fn insert(
        &mut self,
        key: &FlowKey,
        mask: &FlowKey,
        ufid: Option<Ufid>,
        actions: A,
    ) -> Result<FlowId, InsertError> {
        let ufid = ufid.map(|u| (u, u.hash(self.seed)));
        if let Some((u, hash)) = &ufid
            && let Some(slot) = self.find_ufid(u, *hash)
        {
            return Err(self
                .id_of(slot)
                .map_or(InsertError::NoMemory, InsertError::UfidExists));
        }
        let existing_mask = self.find_mask(mask);
        if let Some(m) = existing_mask.and_then(|s| self.mask_at(s))
            && let Some(slot) = self.find_under(m, m.hash(self.seed, key), key)
        {
            return Err(self
                .id_of(slot)
                .map_or(InsertError::NoMemory, InsertError::Exists));
        }
        if self.flows.len() >= self.limit {
            crate::diag::table_full("flow", self.limit);
            return Err(InsertError::TableFull);
        }
        if existing_mask.is_none() && self.order.len() >= self.mask_limit {
            crate::diag::table_full("mask", self.mask_limit);
            return Err(InsertError::TableFull);
        }
        let (width, has_ufid) = (mask::width(mask), ufid.is_some());
        let charge = Self::charge(&actions, width, has_ufid);
        match self.memory.checked_add(charge) {
            Some(total) if total <= self.memory_limit => {}
            _ => {
                crate::diag::flow_memory_full(self.memory_limit);
                return Err(InsertError::TableFull);
            }
        }
        let id = self
            .add(key, mask, existing_mask, ufid, actions)
            .map_err(|_| InsertError::NoMemory)?;
        self.memory += charge;
        self.flow_heap += Self::flow_heap(width, has_ufid);
        Ok(id)
    }

    /// Allocates all an insertion needs, then links the flow in.
    fn add(
        &mut self,
        key: &FlowKey,
        mask: &FlowKey,
        existing: Option<u32>,
        ufid: Option<(Ufid, u32)>,
        actions: A,
    ) -> Result<FlowId, NoMemory> {
        self.cache.allocate()?;
        self.flows.reserve_one()?;
        if let Some((_, hash)) = ufid {
            self.ufids.reserve_for(hash)?;
        }
        let seed = self.seed;
        let (mask_slot, mut new_mask) = match existing {
            Some(s) => (s, None),
            None => {
                self.masks.try_reserve(1).map_err(|_| NoMemory)?;
                self.order.try_reserve(1).map_err(|_| NoMemory)?;
                self.mask_index
                    .reserve_for(mask::identity_hash(seed, mask))?;
                let slots = self.masks.len().checked_add(1).ok_or(NoMemory)?;
                let more = slots.saturating_sub(self.free_masks.len());
                self.free_masks.try_reserve(more).map_err(|_| NoMemory)?;
                let free = self.free_masks.last().copied();
                let slot = match free {
                    Some(slot) => slot,
                    None => u32::try_from(self.masks.len()).map_err(|_| NoMemory)?,
                };
                (slot, Some(Mask::new(mask)))
            }
        };
        let m = match &new_mask {
            Some(m) => m,
            None => self.mask_at(mask_slot).ok_or(NoMemory)?,
        };
        let hash = m.hash(seed, key);
        let flow = Flow {
            mask_slot,
            hash,
            key: MaskedWords::new(m.masked_words(key))?,
            actions,
            stats: LiveStats::default(),
            ufid,
            installed: match ufid {
                Some(_) => None,
                None => Some(crate::heap::boxed(*key).ok_or(NoMemory)?),
            },
        };
        match new_mask.as_mut() {
            Some(m) => m.reserve_for(hash)?,
            None => self
                .mask_mut(mask_slot)
                .ok_or(NoMemory)?
                .reserve_for(hash)?,
        }
        // Everything is allocated: from here on nothing fails.
        let (slot, generation) = self.flows.put(flow).map_err(|_| NoMemory)?;
        let indexed = match new_mask.as_mut() {
            Some(m) => m.insert(hash, slot, key),
            None => self
                .mask_mut(mask_slot)
                .ok_or(NoMemory)
                .and_then(|m| m.insert(hash, slot, key)),
        };
        if let Err(e) = indexed {
            self.flows.take(slot);
            return Err(e);
        }
        let mask_hash = new_mask
            .as_ref()
            .map(|m| mask::identity_hash(seed, m.key()));
        if let Some(h) = mask_hash
            && let Err(e) = self.mask_index.insert(h, mask_slot)
        {
            self.flows.take(slot);
            return Err(e);
        }
        if let Some((_, ufid_hash)) = ufid
            && let Err(e) = self.ufids.insert(ufid_hash, slot)
        {
            match mask_hash {
                Some(h) => _ = self.mask_index.remove(h, mask_slot),
                None => _ = self.mask_mut(mask_slot).map(|m| m.remove(hash, slot, key)),
            }
            self.flows.take(slot);
            return Err(e);
        }
        // Capacity for the pushes was reserved above.
        if let Some(m) = new_mask {
            match self.masks.get_mut(mask_slot as usize) {
                Some(free) => {
                    *free = Some(m);
                    self.free_masks.pop();
                }
                None => self.masks.push(Some(m)),
            }
            self.order.push(mask_slot);
        }
        Ok(FlowId { slot, generation })
    }

    fn mask_mut(&mut self, slot: u32) -> Option<&mut Mask> {
        self.masks.get_mut(slot as usize)?.as_mut()
    }

    /// Removes a flow and returns its actions; its mask goes with its last
    /// flow. The slot's memory stays for the next flow (until `take`).
    pub fn remove(&mut self, id: FlowId) -> Option<A> {
        self.get(id)?;
        let flow = self.flows.take(id.slot)?;
        let ms = flow.mask_slot;
        let width = self.mask_at(ms).map_or(0, Mask::width);
        let has_ufid = flow.ufid.is_some();
        let charge = Self::charge(&flow.actions, width, has_ufid);
        self.memory = self.memory.saturating_sub(charge);
        self.flow_heap = self
            .flow_heap
            .saturating_sub(Self::flow_heap(width, has_ufid));
        if let Some(mask) = self.mask_mut(ms) {
            let masked = mask.unmask(flow.key.get(width));
            mask.remove(flow.hash, id.slot, &masked);
            if mask.n_flows() == 0 {
                self.unlink_mask(ms);
            }
        }
        if let Some((_, hash)) = flow.ufid {
            self.ufids.remove(hash, id.slot);
        }
        Some(flow.actions)
    }

    /// Drops the mask in `slot` (its last flow is gone) and frees the slot.
    /// The scan of the lookup order is bounded by the mask limit.
    fn unlink_mask(&mut self, slot: u32) {
        let Some(mask) = self.masks.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.mask_index
            .remove(mask::identity_hash(self.seed, mask.key()), slot);
        self.order.retain(|&s| s != slot);
        // Room for every slot was reserved when the slot was made.
        if self.free_masks.len() < self.free_masks.capacity() {
            self.free_masks.push(slot);
        }
    }

    /// Removes every flow in constant time: returns them in a table that
    /// the caller drops once it has released the lock (dropping them is
    /// work in proportion to the flows). The settings stay, and ids of the
    /// flows taken never name a later flow.
    #[must_use = "the flows are dropped here, under the lock"]
    pub fn take(&mut self) -> FlowTable<A> {
        let empty = FlowTable {
            flows: self.flows.successor(),
            limit: self.limit,
            mask_limit: self.mask_limit,
            memory_limit: self.memory_limit,
            ..FlowTable::with_seed(self.seed)
        };
        core::mem::replace(self, empty)
    }

    /// Gives the flow new actions and returns the old ones. Gives `actions`
    /// back with `ENOENT` if the flow is gone, or `E2BIG` if they would take
    /// the flows' memory beyond the limit.
    pub fn replace_actions(&mut self, id: FlowId, actions: A) -> Result<A, (Errno, A)> {
        let Some((flow, generation)) = self.flows.get_mut(id.slot) else {
            return Err((Errno::NoEnt, actions));
        };
        if generation != id.generation {
            return Err((Errno::NoEnt, actions));
        }
        let (old, new) = (flow.actions.heap_bytes(), actions.heap_bytes());
        let memory = self.memory.saturating_sub(old).saturating_add(new);
        if new > old && memory > self.memory_limit {
            crate::diag::flow_memory_full(self.memory_limit);
            return Err((Errno::TooBig, actions));
        }
        self.memory = memory;
        Ok(core::mem::replace(&mut flow.actions, actions))
    }

    /// Orders the masks by hits since the previous call, most first (ties
    /// keep their order); Linux does this every few seconds. Only lookups
    /// that scanned the masks count: the order serves only them, and a hit
    /// through the cache then writes nothing the other CPUs read.
    pub fn rebalance(&mut self) {
        for (position, &slot) in self.order.iter().enumerate() {
            if let Some(Some(mask)) = self.masks.get_mut(slot as usize) {
                mask.rank(position);
            }
        }
        let masks = &self.masks;
        self.order.sort_unstable_by_key(|&s| {
            let mask = masks.get(s as usize).and_then(Option::as_ref);
            mask.map_or((Reverse(0), usize::MAX), Mask::rank_key)
        });
    }

    /// The first flow at or after `cursor` and the cursor to continue
    /// from, for dumps spread over several calls. Flows added or removed
    /// between calls may be missed or seen twice (like Linux); a flow present
    /// throughout is seen once.
    pub fn next_from(&self, cursor: u64) -> Option<(u64, FlowRef<'_, A>)> {
        match self.step_from(cursor, usize::MAX) {
            Step::Flow(next, f) => Some((next, f)),
            Step::Gap(_) | Step::End => None,
        }
    }

    /// `next_from` looking at `limit` flow slots at most, so that a caller
    /// holding the lock does bounded work per call.
    pub fn step_from(&self, cursor: u64, limit: usize) -> Step<'_, A> {
        let Ok(from) = usize::try_from(cursor) else {
            return Step::End;
        };
        match self.flows.next_used(from, limit) {
            Scan::Used(slot) => match self.flow_ref(slot) {
                Some(f) => Step::Flow(u64::from(slot) + 1, f),
                None => Step::End,
            },
            Scan::Gap(next) => Step::Gap(next as u64),
            Scan::End => Step::End,
        }
    }
}

#[cfg(test)]
mod tests;
