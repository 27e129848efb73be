//! The megaflow table (Linux `flow_table.c`).
//!
//! A flow is a masked key with its mask, an optional UFID, actions and
//! statistics. Masks are shared: the table keeps the distinct masks, each
//! with the word range it covers and an index of its flows' masked keys. A
//! packet lookup first tries what the packet's hash hit last (the mask
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
use flow::Flow;
use index::WordIndex;
use mask::Mask;
use slab::Slab;
use ufid::UFID_WORDS;

/// Flows allowed unless `set_limit` says otherwise.
pub const DEFAULT_FLOW_LIMIT: usize = 200_000;
/// Seed of `FlowTable::new`.
const DEFAULT_SEED: u64 = 0x5851_f42d_4c95_7f2d;

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
    /// The table holds its limit of flows.
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

/// What a packet lookup cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Masks probed.
    pub n_mask_hit: u32,
    /// The mask cache named the matching flow or its mask.
    pub cache_hit: bool,
}

/// The megaflow table; `A` is the flows' actions.
pub struct FlowTable<A> {
    flows: Slab<Flow<A>>,
    /// Mask storage; a slot keeps its mask while flows use it.
    masks: Vec<Option<Mask>>,
    /// Mask slots in lookup order.
    order: Vec<u32>,
    ufids: WordIndex,
    cache: MaskCache,
    limit: usize,
    seed: u64,
}

impl<A> Default for FlowTable<A> {
    fn default() -> Self {
        FlowTable::new()
    }
}

impl<A> FlowTable<A> {
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
            order: Vec::new(),
            ufids: WordIndex::new(UFID_WORDS),
            cache: MaskCache::new(),
            limit: DEFAULT_FLOW_LIMIT,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.len() == 0
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
            + self.order.capacity() * core::mem::size_of::<u32>()
            + self.ufids.footprint()
            + self.cache.footprint()
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
            mask: mask.key(),
        })
    }

    pub fn get(&self, id: FlowId) -> Option<FlowRef<'_, A>> {
        self.flow_ref(id.slot).filter(|f| f.id == id)
    }

    /// The flow under `mask` that matches `key`.
    #[inline(always)]
    fn probe<'t>(&'t self, mask: &'t Mask, key: &FlowKey) -> Option<FlowRef<'t, A>> {
        let slot = mask.find(self.seed, key)?;
        let (flow, generation) = self.flows.get(slot)?;
        Some(FlowRef {
            id: FlowId { slot, generation },
            flow,
            mask: mask.key(),
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
        // Linux's rule: packets keep their hash across recirculation, so
        // each pass gets its own, or the passes would evict each other.
        let pkt_hash = match key.recirc_id {
            0 => pkt_hash,
            _ if pkt_hash == 0 => 0,
            id => hash::with_recirc(pkt_hash, id),
        };
        let cached = match pkt_hash {
            0 => Probe::NONE,
            _ => self.cache.probe(pkt_hash),
        };
        if let Some(slot) = cached.hint
            && let Some((flow, generation)) = self.flows.get(slot)
            && let Some(mask) = self.mask_at(flow.mask_slot)
        {
            let hit = match mask.matches(key, &flow.key) {
                true => Some(FlowRef {
                    id: FlowId { slot, generation },
                    flow,
                    mask: mask.key(),
                }),
                false => self.probe(mask, key),
            };
            if let Some(found) = hit {
                if found.id.slot != slot
                    && let Some(entry) = cached.refill
                {
                    MaskCache::fill(entry, pkt_hash, found.id.slot);
                }
                return (
                    Some(found),
                    LookupStats {
                        n_mask_hit: 1,
                        cache_hit: true,
                    },
                );
            }
            return self.scan(key, pkt_hash, cached.refill, Some(flow.mask_slot));
        }
        self.scan(key, pkt_hash, cached.refill, None)
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
        self.order
            .iter()
            .copied()
            .find(|&s| self.mask_at(s).is_some_and(|m| m.is(mask)))
    }

    /// The flow with exactly this mask whose masked key equals `key & mask`
    /// (`ovs_flow_tbl_lookup_exact`).
    pub fn lookup_exact(&self, key: &FlowKey, mask: &FlowKey) -> Option<FlowRef<'_, A>> {
        let mask_slot = self.find_mask(mask)?;
        let slot = self.mask_at(mask_slot)?.find(self.seed, key)?;
        self.flow_ref(slot)
    }

    fn find_ufid(&self, ufid: &Ufid, hash: u32) -> Option<u32> {
        let words = ufid.words();
        self.ufids.find(hash, |stored| stored == words)
    }

    pub fn lookup_ufid(&self, ufid: &Ufid) -> Option<FlowRef<'_, A>> {
        let slot = self.find_ufid(ufid, ufid.hash(self.seed))?;
        self.flow_ref(slot)
    }

    fn id_of(&self, slot: u32) -> Option<FlowId> {
        self.flow_ref(slot).map(|f| f.id)
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
            && let Some(slot) = m.find(self.seed, key)
        {
            return Err(self
                .id_of(slot)
                .map_or(InsertError::NoMemory, InsertError::Exists));
        }
        if self.flows.len() >= self.limit {
            return Err(InsertError::TableFull);
        }
        let flow = Flow {
            key: *key,
            mask_slot: 0,
            hash: 0,
            ufid,
            actions,
            stats: LiveStats::default(),
        };
        self.add(flow, mask, existing_mask)
            .map_err(|_| InsertError::NoMemory)
    }

    /// Allocates all an insertion needs, then links the flow in.
    fn add(
        &mut self,
        mut flow: Flow<A>,
        mask: &FlowKey,
        existing: Option<u32>,
    ) -> Result<FlowId, NoMemory> {
        self.cache.allocate()?;
        self.flows.reserve_one()?;
        if flow.ufid.is_some() {
            self.ufids.reserve_one()?;
        }
        let mut new_mask = None;
        flow.mask_slot = match existing {
            Some(s) => {
                self.mask_mut(s).ok_or(NoMemory)?.reserve_one()?;
                s
            }
            None => {
                let mut m = Mask::new(mask);
                m.reserve_one()?;
                self.masks.try_reserve(1).map_err(|_| NoMemory)?;
                self.order.try_reserve(1).map_err(|_| NoMemory)?;
                new_mask = Some(m);
                let free = self
                    .masks
                    .iter()
                    .position(Option::is_none)
                    .unwrap_or(self.masks.len());
                u32::try_from(free).map_err(|_| NoMemory)?
            }
        };
        let (mask_slot, key, ufid) = (flow.mask_slot, flow.key, flow.ufid);
        let (slot, generation) = self.flows.put(flow).map_err(|_| NoMemory)?;
        let seed = self.seed;
        let indexed = match new_mask.as_mut() {
            Some(m) => m.insert(seed, &key, slot),
            None => self
                .mask_mut(mask_slot)
                .ok_or(NoMemory)
                .and_then(|m| m.insert(seed, &key, slot)),
        };
        let hash = match indexed {
            Ok(hash) => hash,
            Err(e) => {
                self.flows.take(slot);
                return Err(e);
            }
        };
        if let Some((u, ufid_hash)) = ufid
            && let Err(e) = self.ufids.insert(ufid_hash, &u.words(), slot)
        {
            if let Some(m) = self.mask_mut(mask_slot) {
                m.remove(hash, slot);
            }
            self.flows.take(slot);
            return Err(e);
        }
        if let Some((flow, _)) = self.flows.get_mut(slot) {
            flow.hash = hash;
        }
        // Capacity for both pushes was reserved above.
        if let Some(m) = new_mask {
            match self.masks.get_mut(mask_slot as usize) {
                Some(free) => *free = Some(m),
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
    /// flow. The slot's memory stays for the next flow (until `flush`).
    pub fn remove(&mut self, id: FlowId) -> Option<A> {
        self.get(id)?;
        let flow = self.flows.take(id.slot)?;
        let ms = flow.mask_slot;
        if let Some(mask) = self.mask_mut(ms) {
            mask.remove(flow.hash, id.slot);
            if mask.n_flows() == 0 {
                if let Some(entry) = self.masks.get_mut(ms as usize) {
                    *entry = None;
                }
                self.order.retain(|&s| s != ms);
                while let Some(None) = self.masks.last() {
                    self.masks.pop();
                }
            }
        }
        if let Some((_, hash)) = flow.ufid {
            self.ufids.remove(hash, id.slot);
        }
        Some(flow.actions)
    }

    /// Removes every flow and frees all memory.
    pub fn flush(&mut self) {
        self.flows.clear();
        self.masks = Vec::new();
        self.order = Vec::new();
        self.ufids.clear();
        self.cache.free();
    }

    /// Gives the flow new actions and returns the old ones; gives `actions`
    /// back if the flow is gone.
    pub fn replace_actions(&mut self, id: FlowId, actions: A) -> Result<A, A> {
        match self.flows.get_mut(id.slot) {
            Some((flow, generation)) if generation == id.generation => {
                Ok(core::mem::replace(&mut flow.actions, actions))
            }
            _ => Err(actions),
        }
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
        let slot = self.flows.next_used(usize::try_from(cursor).ok()?)?;
        Some((u64::from(slot) + 1, self.flow_ref(slot)?))
    }
}

#[cfg(test)]
mod tests;
