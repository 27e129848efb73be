//! The connection table: sized for millions of connections, looked up on
//! every processor at DISPATCH_LEVEL at once with no global lock.
//!
//! It is split into `SHARDS` shards by tuple hash, each behind its own spin
//! lock. A shard holds an open-addressing index (linear probing, 8-byte
//! entries: 32 bits of the tuple's hash and a connection id) and a slab of
//! the connections whose original tuple hashes to it. A connection is
//! indexed twice, by its original tuple in its own shard and by its reply
//! tuple in the shard that tuple hashes to, so a lookup takes one shard
//! lock, or two one after the other for a reply whose tuple hashes
//! elsewhere. A tuple and its reverse hash alike, so that happens only
//! under NAT; without it, one entry serves both tuples. No critical
//! section is longer than one index probe, one slab step, or (rarely) a
//! shard's rehash — a shard holds the table's limit over `SHARDS`
//! connections. An insertion holds the two shards of its
//! tuples, taken in shard order; nothing else holds two.
//!
//! A removal takes the connection out of its slot, then drops its index
//! entries, then frees the slot, so a slot id never names two
//! connections while an index entry may still point at it; lookups check
//! the tuple they find against the one they look for.
//!
//! What only helped or expected connections carry (`Ext`) lives in a
//! second slab of the shard, named from the record, so the record every
//! connection carries stays small. Slabs grow a quarter at a time.
//!
//! A lookup misses the cache twice, on the index entry and then on the
//! record. A batch overlaps those misses: once its packets are read and
//! hashed, `prefetch_index` asks for each one's index entry (no lock: each
//! shard publishes where its index lies), and `read_ahead` then asks for
//! the records those entries name, all before the first packet is looked
//! up.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::num::NonZeroU32;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::conn::{Conn, Ext};
use super::tuple::Tuple;
use crate::sync::{Mutex, MutexGuard};
use crate::sys::prefetch;

/// Number of shards (a power of two).
pub const SHARDS: usize = 1024;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();
/// Slots per shard are numbered in the low bits of an id.
const SLOT_BITS: u32 = 32 - SHARD_BITS;
const EMPTY: u32 = u32::MAX;
/// Slots examined per lock hold by expiry and walks.
const STEP: usize = 64;
/// Candidates of another shard a lookup checks (tags are 32 bits of hash,
/// so more than one is already rare).
const MAX_REMOTE: usize = 4;
/// Shards a full table looks in for a connection to drop early.
const EARLY_DROP_SHARDS: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Entry {
    tag: u32,
    id: u32,
}

const FREE_ENTRY: Entry = Entry { tag: 0, id: EMPTY };

/// Linear-probing index of (tag, id) pairs; a tag's home is its low bits.
#[derive(Debug, Default)]
struct Index {
    entries: Vec<Entry>,
    used: usize,
}

impl Index {
    fn mask(&self) -> usize {
        self.entries.len().wrapping_sub(1)
    }

    /// The ids stored under `tag`, in probe order.
    fn candidates(&self, tag: u32) -> impl Iterator<Item = u32> + '_ {
        let mask = self.mask();
        let start = tag as usize & mask;
        (0..self.entries.len())
            .map(move |i| {
                self.entries
                    .get((start + i) & mask)
                    .copied()
                    .unwrap_or(FREE_ENTRY)
            })
            .take_while(|e| e.id != EMPTY)
            .filter(move |e| e.tag == tag)
            .map(|e| e.id)
    }

    /// The first id stored under `tag` (what a lookup most likely wants).
    fn first(&self, tag: u32) -> Option<u32> {
        self.candidates(tag).next()
    }

    fn insert(&mut self, tag: u32, id: u32) -> Result<(), ()> {
        if (self.used + 1) * 4 > self.entries.len() * 3 {
            self.grow()?;
        }
        let mask = self.mask();
        let mut i = tag as usize & mask;
        for _ in 0..self.entries.len() {
            match self.entries.get_mut(i) {
                Some(e) if e.id == EMPTY => {
                    *e = Entry { tag, id };
                    self.used += 1;
                    return Ok(());
                }
                _ => i = (i + 1) & mask,
            }
        }
        Err(())
    }

    fn grow(&mut self) -> Result<(), ()> {
        let cap = (self.entries.len() * 2).max(16);
        let mut new = Vec::new();
        new.try_reserve_exact(cap).map_err(|_| ())?;
        new.resize(cap, FREE_ENTRY);
        let old = core::mem::replace(&mut self.entries, new);
        self.used = 0;
        for e in old.into_iter().filter(|e| e.id != EMPTY) {
            self.insert(e.tag, e.id)?;
        }
        Ok(())
    }

    /// Removes the entry (tag, id), closing the gap by backward shifting.
    fn remove(&mut self, tag: u32, id: u32) -> bool {
        let mask = self.mask();
        let start = tag as usize & mask;
        let Some(mut hole) = (0..self.entries.len())
            .map(|i| (start + i) & mask)
            .take_while(|&i| self.entries.get(i).is_some_and(|e| e.id != EMPTY))
            .find(|&i| {
                self.entries
                    .get(i)
                    .is_some_and(|e| e.tag == tag && e.id == id)
            })
        else {
            return false;
        };
        let mut j = hole;
        for _ in 0..self.entries.len() {
            j = (j + 1) & mask;
            let Some(e) = self.entries.get(j).copied().filter(|e| e.id != EMPTY) else {
                break;
            };
            let home = e.tag as usize & mask;
            // Move `e` into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                if let Some(h) = self.entries.get_mut(hole) {
                    *h = e;
                }
                hole = j;
            }
        }
        if let Some(h) = self.entries.get_mut(hole) {
            *h = FREE_ENTRY;
        }
        self.used -= 1;
        true
    }

    fn bytes(&self) -> usize {
        self.entries.capacity() * core::mem::size_of::<Entry>()
    }

    /// Where the entries lie, for `Published`.
    fn at(&self) -> usize {
        self.entries.as_ptr().addr()
    }
}

/// A slot of a slab.
#[derive(Debug)]
enum Slot<T> {
    Used(T),
    /// Emptied, not yet free to reuse.
    Vacant,
    /// Free: the next free slot's number + 1 (0: none).
    Free(u32),
}

/// Values in numbered slots; the free ones are chained through the slots
/// themselves, so freeing needs no memory. It grows a quarter at a time,
/// so little of it stands empty.
#[derive(Debug)]
struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// The first free slot's number + 1 (0: none).
    free: u32,
}

impl<T> Default for Slab<T> {
    fn default() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Slot numbers in use are below this.
    fn end(&self) -> usize {
        self.slots.len()
    }

    fn get(&self, slot: usize) -> Option<&T> {
        match self.slots.get(slot)? {
            Slot::Used(v) => Some(v),
            _ => None,
        }
    }

    fn get_mut(&mut self, slot: usize) -> Option<&mut T> {
        match self.slots.get_mut(slot)? {
            Slot::Used(v) => Some(v),
            _ => None,
        }
    }

    /// Stores `value`; its slot.
    fn alloc(&mut self, value: T) -> Result<usize, Refused> {
        if let Some(slot) = self.free.checked_sub(1).map(|s| s as usize)
            && let Some(s) = self.slots.get_mut(slot)
            && let Slot::Free(next) = *s
        {
            *s = Slot::Used(value);
            self.free = next;
            return Ok(slot);
        }
        let len = self.slots.len();
        if len >= 1 << SLOT_BITS {
            return Err(Refused::Full);
        }
        if len == self.slots.capacity() {
            self.slots
                .try_reserve_exact(growth(len, 1 << SLOT_BITS))
                .map_err(|_| Refused::NoMemory)?;
        }
        self.slots.push(Slot::Used(value));
        Ok(len)
    }

    /// Empties `slot`; the slot is not reused until `release`d.
    fn take(&mut self, slot: usize) -> Option<T> {
        let s = self.slots.get_mut(slot)?;
        match core::mem::replace(s, Slot::Vacant) {
            Slot::Used(v) => Some(v),
            other => {
                *s = other;
                None
            }
        }
    }

    /// Frees `slot`, emptied by `take`, for reuse.
    fn release(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot)
            && matches!(s, Slot::Vacant)
        {
            *s = Slot::Free(self.free);
            self.free = slot as u32 + 1;
        }
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Slot<T>>()
    }

    /// Prefetches the value in `slot`, if there is one.
    fn prefetch(&self, slot: usize) {
        if let Some(v) = self.slots.get(slot) {
            prefetch::value(v);
        }
    }
}

/// Slots a slab of `len` (full, below `max`) grows by: a quarter, at
/// least 8, never past `max`.
fn growth(len: usize, max: usize) -> usize {
    (len / 4).max(8).min(max.saturating_sub(len))
}

/// Laid out so that what a lookup reads first (the lock, the index's and
/// the record slab's bounds) shares the shard's first line.
#[repr(C)]
#[derive(Debug, Default)]
struct Shard {
    index: Index,
    conns: Slab<Conn>,
    /// The extensions of those of `conns` that have one.
    exts: Slab<Ext>,
}

/// A connection as a lookup finds it: the record, its extension if it has
/// one, and whether the tuple looked up is its reply tuple.
pub type Hit<'a> = (&'a mut Conn, Option<&'a mut Ext>, bool);

impl Shard {
    /// The connection in `slot`, found by its tuple in direction `reply`.
    fn hit(&mut self, slot: usize, reply: bool) -> Option<Hit<'_>> {
        let c = self.conns.get_mut(slot)?;
        let ext = c.ext.and_then(|e| self.exts.get_mut(e.get() as usize - 1));
        Some((c, ext, reply))
    }

    /// Whether `t` is the reply tuple (or else the original) of the
    /// connection in `slot`; `None` if it is neither. Inlined into the
    /// lookup, which runs it on every packet.
    #[inline(always)]
    fn direction(&self, slot: usize, t: &Tuple) -> Option<bool> {
        self.conns.get(slot)?.direction(t)
    }

    /// The extension of `c`, a connection of this shard, if it has one.
    fn ext_of(&self, c: &Conn) -> Option<&Ext> {
        c.ext.and_then(|e| self.exts.get(e.get() as usize - 1))
    }

    fn holds(&self, slot: usize, t: &Tuple) -> bool {
        self.conns.get(slot).is_some_and(|c| c.has(t))
    }

    /// Stores `conn` and its extension; the connection's slot.
    fn store(&mut self, mut conn: Conn, ext: Option<Ext>) -> Result<usize, Refused> {
        if let Some(e) = ext {
            let at = self.exts.alloc(e)?;
            conn.ext = NonZeroU32::new(at as u32 + 1);
        }
        self.conns.alloc(conn).inspect_err(|_| {
            self.take_ext(conn.ext);
        })
    }

    /// Takes out the extension stored at `at` (its slot number + 1),
    /// freeing its slot.
    fn take_ext(&mut self, at: Option<NonZeroU32>) -> Option<Ext> {
        let at = at?.get() as usize - 1;
        let ext = self.exts.take(at);
        self.exts.release(at);
        ext
    }

    /// Takes the connection out of `slot`, with its extension (whose slot
    /// is freed); the connection's slot stays taken until `conns.release`.
    fn take(&mut self, slot: usize) -> Option<(Conn, Option<Ext>)> {
        let mut conn = self.conns.take(slot)?;
        let ext = self.take_ext(conn.ext.take());
        Some((conn, ext))
    }
}

/// Why a connection was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// One of its tuples is already in use.
    Exists,
    /// The table is at its limit.
    Full,
    NoMemory,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<R> {
    /// The connection's id, and what the closure made of it.
    Live(u32, R),
    /// A connection that has timed out: it should be removed.
    Expired(u32),
    Missing,
}

/// Where a shard's index lies and its mask, published under its lock each
/// time that may change, so that `prefetch_index` finds an entry without
/// the lock. Read unlocked, the two may disagree or be out of date; that
/// costs only a prefetch of the wrong line.
#[derive(Debug, Default)]
struct Published {
    at: AtomicUsize,
    mask: AtomicUsize,
}

impl Published {
    fn publish(&self, index: &Index) {
        self.at.store(index.at(), Relaxed);
        self.mask.store(index.mask(), Relaxed);
    }

    fn entry(&self, tag: u32) -> usize {
        let offset = (tag as usize & self.mask.load(Relaxed)) * core::mem::size_of::<Entry>();
        self.at.load(Relaxed).wrapping_add(offset)
    }
}

/// A shard, a line apart from its neighbours.
#[repr(align(64))]
#[derive(Default)]
struct ShardCell {
    shard: Mutex<Shard>,
}

pub struct Table {
    shards: Box<[ShardCell]>,
    /// Each shard's `Published`, side by side (16 KB), so that finding an
    /// index entry to prefetch seldom misses the cache itself.
    published: Box<[Published]>,
    seed: u64,
    count: AtomicU32,
    limit: AtomicU32,
    /// Where expiry goes on: shard << SLOT_BITS | slot.
    cursor: AtomicU64,
}

fn split(id: u32) -> (usize, usize) {
    (
        (id >> SLOT_BITS) as usize,
        (id & ((1 << SLOT_BITS) - 1)) as usize,
    )
}

fn join(shard: usize, slot: usize) -> u32 {
    ((shard as u32) << SLOT_BITS) | slot as u32
}

fn shard_of(h: u64) -> usize {
    (h >> (64 - SHARD_BITS)) as usize & (SHARDS - 1)
}

impl Table {
    /// An empty table of at most `limit` connections; `None` when out of memory.
    pub fn new(seed: u64, limit: u32) -> Option<Table> {
        let mut v = Vec::new();
        v.try_reserve_exact(SHARDS).ok()?;
        v.resize_with(SHARDS, ShardCell::default);
        let mut published = Vec::new();
        published.try_reserve_exact(SHARDS).ok()?;
        published.resize_with(SHARDS, Published::default);
        Some(Table {
            shards: v.into_boxed_slice(),
            published: published.into_boxed_slice(),
            seed,
            count: AtomicU32::new(0),
            limit: AtomicU32::new(limit),
            cursor: AtomicU64::new(0),
        })
    }

    pub fn len(&self) -> u32 {
        self.count.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn limit(&self) -> u32 {
        self.limit.load(Relaxed)
    }

    fn shard(&self, i: usize) -> Option<&Mutex<Shard>> {
        self.shards.get(i).map(|c| &c.shard)
    }

    /// Whether some shard is locked now.
    #[cfg(test)]
    pub fn locked(&self) -> bool {
        self.shards.iter().any(|c| c.shard.is_locked())
    }

    /// The hash of `t` the table files it under. Inlined: a tuple just
    /// written field by field is then hashed from what was written, not
    /// read back with loads that would wait for those stores.
    #[inline]
    pub fn hash(&self, t: &Tuple) -> u64 {
        t.hash(self.seed)
    }

    /// Finds the connection with tuple `t` one way and runs `f` on it
    /// under its shard's lock.
    pub fn lookup<R>(&self, t: &Tuple, now_ms: u64, f: impl FnOnce(Hit<'_>) -> R) -> Found<R> {
        self.lookup_hashed(t, self.hash(t), None, now_ms, f)
    }

    /// `lookup`, `h` being `t`'s hash; `hint`, the connection `read_ahead`
    /// found for it, is tried first (checked: it may be out of date).
    pub fn lookup_hashed<R>(
        &self,
        t: &Tuple,
        h: u64,
        hint: Option<u32>,
        now_ms: u64,
        f: impl FnOnce(Hit<'_>) -> R,
    ) -> Found<R> {
        let Some((mut g, id, reply)) = self.find(t, h, hint) else {
            return Found::Missing;
        };
        match g.hit(split(id).1, reply) {
            Some((c, ..)) if c.expired(now_ms) => Found::Expired(id),
            Some(hit) => Found::Live(id, f(hit)),
            None => Found::Missing,
        }
    }

    /// The connection with tuple `t` (hash `h`) one way: its shard
    /// locked, its id, and whether `t` is its reply tuple. Inlined: a
    /// result returned through memory and read back at once stalls the
    /// loads that read it (they cannot be forwarded from the stores).
    #[inline(always)]
    fn find(
        &self,
        t: &Tuple,
        h: u64,
        hint: Option<u32>,
    ) -> Option<(MutexGuard<'_, Shard>, u32, bool)> {
        let (s, tag) = (shard_of(h), h as u32);
        let mut remote = [EMPTY; MAX_REMOTE];
        {
            let g = self.shard(s)?.lock();
            if let Some(id) = hint
                && let (home, slot) = split(id)
                && home == s
                && let Some(reply) = g.direction(slot, t)
            {
                return Some((g, id, reply));
            }
            let mut n = 0;
            let mut local = None;
            for id in g.index.candidates(tag) {
                let (home, slot) = split(id);
                if home == s {
                    if let Some(reply) = g.direction(slot, t) {
                        local = Some((id, reply));
                        break;
                    }
                } else if let Some(r) = remote.get_mut(n) {
                    *r = id;
                    n += 1;
                }
            }
            if let Some((id, reply)) = local {
                return Some((g, id, reply));
            }
        }
        for id in remote.into_iter().filter(|&id| id != EMPTY) {
            let (home, slot) = split(id);
            let Some(shard) = self.shard(home) else {
                continue;
            };
            let g = shard.lock();
            if let Some(reply) = g.direction(slot, t) {
                return Some((g, id, reply));
            }
        }
        None
    }

    /// Prefetches the index entry a lookup of a tuple hashed `h` reads
    /// first; takes no lock.
    pub fn prefetch_index(&self, h: u64) {
        if let Some(p) = self.published.get(shard_of(h)) {
            prefetch::address(p.entry(h as u32));
        }
    }

    /// Prefetches the records of the first index entries that tuples with
    /// these hashes find (each entry read under a short lock hold), so
    /// that their misses overlap, and tells which connections they name in
    /// `found`, a hint for `lookup_hashed`; nothing changes. Best after
    /// `prefetch_index` of the same hashes.
    pub fn read_ahead(&self, hashes: &[u64], found: &mut [Option<u32>]) {
        for (&h, found) in hashes.iter().zip(found) {
            let s = shard_of(h);
            let Some(shard) = self.shard(s) else {
                continue;
            };
            let g = shard.lock();
            let Some(id) = g.index.first(h as u32) else {
                continue;
            };
            *found = Some(id);
            let (home, slot) = split(id);
            if home == s {
                g.conns.prefetch(slot);
            } else {
                drop(g);
                if let Some(o) = self.shard(home) {
                    o.lock().conns.prefetch(slot);
                }
            }
        }
    }

    /// Is `t` a tuple of some connection (timed out or not)? For NAT's
    /// choice of a free tuple.
    pub fn in_use(&self, t: &Tuple) -> bool {
        !matches!(self.lookup(t, 0, |_| ()), Found::Missing)
    }

    /// Adds `conn`, with its extension if it needs one; its id.
    pub fn insert(&self, conn: Conn, ext: Option<Ext>) -> Result<u32, Refused> {
        let ho = conn.orig.hash(self.seed);
        let hr = conn.reply.hash(self.seed);
        let (so, sr) = (shard_of(ho), shard_of(hr));
        let (Some(a), Some(b)) = (self.shard(so.min(sr)), self.shard(so.max(sr))) else {
            return Err(Refused::NoMemory);
        };
        let mut ga = a.lock();
        let mut gb = (so != sr).then(|| b.lock());
        // `home` is the shard of the original tuple, `other` the reply's.
        let (home, other) = match gb.as_mut() {
            None => (&mut *ga, None),
            Some(gb) if so < sr => (&mut *ga, Some(&mut **gb)),
            Some(gb) => (&mut **gb, Some(&mut *ga)),
        };
        let taken = |sh: &Shard, which: usize, tag: u32, t: &Tuple| {
            sh.index.candidates(tag).any(|id| {
                let (s, slot) = split(id);
                // A candidate in a shard not held counts as taken: its tag
                // matched 32 bits of hash, a clash is all but impossible.
                s != which || sh.holds(slot, t)
            })
        };
        let reply_shard: &Shard = other.as_deref().unwrap_or(home);
        if taken(home, so, ho as u32, &conn.orig) || taken(reply_shard, sr, hr as u32, &conn.reply)
        {
            return Err(Refused::Exists);
        }
        if self
            .count
            .fetch_update(Relaxed, Relaxed, |n| (n < self.limit()).then_some(n + 1))
            .is_err()
        {
            return Err(Refused::Full);
        }
        let undo = |home: &mut Shard, slot: usize| {
            home.take(slot);
            home.conns.release(slot);
            self.count.fetch_sub(1, Relaxed);
        };
        let slot = match home.store(conn, ext) {
            Ok(slot) => slot,
            Err(e) => {
                self.count.fetch_sub(1, Relaxed);
                return Err(e);
            }
        };
        let id = join(so, slot);
        if home.index.insert(ho as u32, id).is_err() {
            undo(home, slot);
            return Err(Refused::NoMemory);
        }
        let reply_index = match other {
            Some(o) => &mut o.index,
            None => &mut home.index,
        };
        // Without NAT the reply tuple hashes as the original: one entry
        // serves both.
        let reply_inserted = if ho == hr {
            Ok(())
        } else {
            reply_index.insert(hr as u32, id)
        };
        // Either index may have grown.
        if let (Some(ph), Some(pr)) = (self.published.get(so), self.published.get(sr)) {
            pr.publish(reply_index);
            ph.publish(&home.index);
        }
        if reply_inserted.is_err() {
            home.index.remove(ho as u32, id);
            undo(home, slot);
            return Err(Refused::NoMemory);
        }
        Ok(id)
    }

    /// Removes connection `id` if `still` holds for it, checked under its
    /// shard's lock; the connection as it was, and its extension. An id read earlier may name
    /// a connection stored since in the same slot: `still` tells whether
    /// the one there is the one meant.
    pub fn remove(
        &self,
        id: u32,
        still: impl FnOnce(&Conn) -> bool,
    ) -> Option<(Conn, Option<Ext>)> {
        let (home, slot) = split(id);
        let shard = self.shard(home)?;
        let (ho, conn, ext) = {
            let mut g = shard.lock();
            if !g.conns.get(slot).is_some_and(still) {
                return None;
            }
            let (conn, ext) = g.take(slot)?;
            let ho = conn.orig.hash(self.seed);
            g.index.remove(ho as u32, id);
            (ho, conn, ext)
        };
        let hr = conn.reply.hash(self.seed);
        if hr != ho
            && let Some(s) = self.shard(shard_of(hr))
        {
            s.lock().index.remove(hr as u32, id);
        }
        shard.lock().conns.release(slot);
        self.count.fetch_sub(1, Relaxed);
        Some((conn, ext))
    }

    /// Visits up to `STEP` slots from `at` (shard << SLOT_BITS | slot) under
    /// one lock: `f` sees each connection with its id. Returns where the
    /// next step starts (`None` after the last shard).
    pub fn step(&self, at: u64, mut f: impl FnMut(u32, &mut Conn)) -> Option<u64> {
        let (s, slot) = (
            (at >> SLOT_BITS) as usize,
            (at & ((1 << SLOT_BITS) - 1)) as usize,
        );
        let shard = self.shard(s)?;
        let mut g = shard.lock();
        let end = (slot + STEP).min(g.conns.end());
        for i in slot..end {
            if let Some(c) = g.conns.get_mut(i) {
                f(join(s, i), c);
            }
        }
        Some(if end >= g.conns.end() {
            ((s as u64) + 1) << SLOT_BITS
        } else {
            ((s as u64) << SLOT_BITS) | end as u64
        })
    }

    /// The first connection at or after position `at` (as `step` counts
    /// positions), with its id and extension, and the position after it.
    /// A dump's step; one lock hold per shard it looks in.
    pub fn next(&self, at: u64) -> Option<(u64, u32, Conn, Option<Ext>)> {
        let (mut s, mut slot) = (
            (at >> SLOT_BITS) as usize,
            (at & ((1 << SLOT_BITS) - 1)) as usize,
        );
        while let Some(shard) = self.shard(s) {
            let g = shard.lock();
            let found = (slot..g.conns.end())
                .find_map(|i| g.conns.get(i).map(|c| (i, *c, g.ext_of(c).copied())));
            if let Some((i, c, ext)) = found {
                let next = ((s as u64) << SLOT_BITS) | (i as u64 + 1);
                return Some((next, join(s, i), c, ext));
            }
            s += 1;
            slot = 0;
        }
        None
    }

    /// A connection never replied to among the first slots of the shard
    /// where `t` would live and the next few (a lock hold each).
    pub fn unreplied_near(&self, t: &Tuple) -> Option<u32> {
        let s = shard_of(t.hash(self.seed));
        let mut found = None;
        for i in 0..EARLY_DROP_SHARDS {
            let at = (((s + i) % SHARDS) as u64) << SLOT_BITS;
            self.step(at, |id, c| {
                if found.is_none() && !c.seen_reply {
                    found = Some(id);
                }
            });
            if found.is_some() {
                break;
            }
        }
        found
    }

    /// Expires timed-out connections, examining at most `budget` slots from
    /// where the previous call stopped; `gone` gets each removed one (with
    /// its id and extension).
    pub fn expire(&self, now_ms: u64, budget: usize, mut gone: impl FnMut(u32, Conn, Option<Ext>)) {
        let mut at = self.cursor.load(Relaxed);
        let mut seen = 0;
        let mut wrapped = false;
        while seen < budget {
            let mut dead = [EMPTY; STEP];
            let mut n = 0;
            let next = self.step(at, |id, c| {
                if c.expired(now_ms)
                    && let Some(d) = dead.get_mut(n)
                {
                    *d = id;
                    n += 1;
                }
            });
            for id in dead.into_iter().take(n) {
                if let Some((c, ext)) = self.remove(id, |c| c.expired(now_ms)) {
                    gone(id, c, ext);
                }
            }
            seen += STEP;
            match next {
                Some(next) => at = next,
                None if wrapped => break,
                None => {
                    at = 0;
                    wrapped = true;
                }
            }
        }
        self.cursor.store(at, Relaxed);
    }

    /// Removes every connection `pred` selects; `gone` gets each.
    pub fn remove_if(
        &self,
        mut pred: impl FnMut(&Conn) -> bool,
        mut gone: impl FnMut(u32, Conn, Option<Ext>),
    ) {
        let mut at = Some(0);
        while let Some(here) = at {
            let mut dead = [EMPTY; STEP];
            let mut n = 0;
            at = self.step(here, |id, c| {
                if pred(c)
                    && let Some(d) = dead.get_mut(n)
                {
                    *d = id;
                    n += 1;
                }
            });
            for id in dead.into_iter().take(n) {
                if let Some((c, ext)) = self.remove(id, &mut pred) {
                    gone(id, c, ext);
                }
            }
        }
    }

    /// Bytes the table holds (index, slabs and free lists), for the
    /// memory-per-connection figure.
    pub fn bytes(&self) -> usize {
        let mut total = core::mem::size_of::<Table>()
            + self.shards.len() * core::mem::size_of::<ShardCell>()
            + self.published.len() * core::mem::size_of::<Published>();
        for s in self.shards.iter() {
            let g = s.shard.lock();
            total += g.index.bytes() + g.conns.bytes() + g.exts.bytes();
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::super::packet::{Kind, View};
    use super::*;

    #[test]
    fn a_removal_by_an_old_id_spares_a_connection_stored_since_in_its_slot() {
        let t = Table::new(5, 100).unwrap();
        let view = udp(7);
        let conn = |now| Conn::new(&view, view.tuple.reverse().unwrap(), now).unwrap();
        // Timed out, seen so by one processor, removed and stored anew by
        // another before the first gets to remove it.
        let old = t.insert(conn(0), None).unwrap();
        assert!(t.remove(old, |_| true).is_some());
        let new = t.insert(conn(1_000_000), None).unwrap();
        assert_eq!(new, old, "the slot is reused");
        assert!(t.remove(old, |c| c.expired(1_000)).is_none());
        assert_eq!(t.len(), 1);
        assert!(matches!(
            t.lookup(&view.tuple, 1_000, |_| ()),
            Found::Live(..)
        ));
    }

    pub fn udp(n: u32) -> View {
        let mut t = Tuple {
            proto: 17,
            sport: n as u16,
            dport: 53,
            ..Tuple::default()
        };
        t.src[..4].copy_from_slice(&n.to_be_bytes());
        t.dst[..4].copy_from_slice(&[10, 0, 0, 1]);
        View {
            tuple: t,
            kind: Kind::Plain,
            l3: 14,
            l4: 34,
            len: 28,
        }
    }

    fn conn(n: u32) -> Conn {
        let v = udp(n);
        Conn::new(&v, v.tuple.reverse().unwrap(), 0).unwrap()
    }

    #[test]
    fn index_probe_remove_and_grow() {
        let mut ix = Index::default();
        for i in 0..1000u32 {
            ix.insert(i.wrapping_mul(0x9e37_79b9) & 0xff, i).unwrap();
        }
        for i in (0..1000u32).step_by(3) {
            assert!(ix.remove(i.wrapping_mul(0x9e37_79b9) & 0xff, i));
        }
        for i in 0..1000u32 {
            let tag = i.wrapping_mul(0x9e37_79b9) & 0xff;
            assert_eq!(ix.candidates(tag).any(|id| id == i), i % 3 != 0, "{i}");
        }
        assert!(!ix.remove(1, 5000));
    }

    #[test]
    fn both_directions_found_and_removed() {
        let t = Table::new(1, 100).unwrap();
        let mut ids = std::vec::Vec::new();
        for n in 0..50 {
            ids.push(t.insert(conn(n), None).unwrap());
        }
        assert_eq!(t.len(), 50);
        for (n, &id) in ids.iter().enumerate() {
            let c = conn(n as u32);
            assert_eq!(t.lookup(&c.orig, 1, |(.., r)| r), Found::Live(id, false));
            assert_eq!(t.lookup(&c.reply, 1, |(.., r)| r), Found::Live(id, true));
        }
        assert_eq!(t.insert(conn(3), None), Err(Refused::Exists));
        // A walk sees each connection once.
        let mut at = 0;
        let mut seen = std::vec::Vec::new();
        while let Some((next, id, ..)) = t.next(at) {
            seen.push(id);
            at = next;
        }
        seen.sort();
        let mut all = ids.clone();
        all.sort();
        assert_eq!(seen, all);
        let (removed, _) = t.remove(ids[3], |_| true).unwrap();
        assert_eq!(removed.orig, conn(3).orig);
        assert_eq!(t.lookup(&conn(3).reply, 1, |_| ()), Found::Missing);
        assert!(t.insert(conn(3), None).is_ok());
        // Timed out: reported, then expired by the sweep.
        assert!(matches!(
            t.lookup(&conn(4).orig, u64::MAX, |_| ()),
            Found::Expired(_)
        ));
        let mut gone = 0;
        t.expire(u64::MAX, 1 << 20, |_, _, _| gone += 1);
        assert_eq!((gone, t.len()), (50, 0));
    }

    #[test]
    fn extensions_are_stored_apart_and_go_with_their_connection() {
        let t = Table::new(3, 100).unwrap();
        let ext = Ext {
            helper: Some(super::super::action::Helper::Ftp),
            ..Ext::default()
        };
        let a = t.insert(conn(1), Some(ext)).unwrap();
        let b = t.insert(conn(2), None).unwrap();
        let ext_of = |tuple: &Tuple| t.lookup(tuple, 1, |(_, e, _)| e.copied());
        assert_eq!(ext_of(&conn(1).reply), Found::Live(a, Some(ext)));
        assert_eq!(ext_of(&conn(2).orig), Found::Live(b, None));
        // Written through a lookup, seen by the next.
        t.lookup(&conn(1).orig, 1, |(_, e, _)| {
            if let Some(e) = e {
                e.seqadj[1].after = 7;
            }
        });
        let Found::Live(_, Some(got)) = ext_of(&conn(1).orig) else {
            panic!("extension lost");
        };
        assert_eq!(got.seqadj[1].after, 7);
        // A walk copies each out with its own extension.
        let mut walked = std::vec::Vec::new();
        let mut at = 0;
        while let Some((next, id, c, e)) = t.next(at) {
            assert_eq!(c.ext.is_some(), e.is_some());
            walked.push((id, e));
            at = next;
        }
        walked.sort_by_key(|&(id, _)| id);
        let mut want = std::vec![(a, Some(got)), (b, None)];
        want.sort_by_key(|&(id, _)| id);
        assert_eq!(walked, want);
        let stored = || -> usize {
            t.shards
                .iter()
                .map(|s| {
                    let g = s.shard.lock();
                    (0..g.exts.end())
                        .filter(|&i| g.exts.get(i).is_some())
                        .count()
                })
                .sum()
        };
        assert_eq!(stored(), 1);
        // Removed, it comes out with its extension as written.
        assert_eq!(
            t.remove(a, |_| true).map(|(c, e)| (c.ext, e)),
            Some((None, Some(got)))
        );
        assert_eq!(stored(), 0);
        // Its slot serves the next one.
        let c = t.insert(conn(1), Some(ext)).unwrap();
        assert_eq!(ext_of(&conn(1).orig), Found::Live(c, Some(ext)));
    }

    #[test]
    fn a_slab_reuses_freed_slots_and_grows_a_quarter_at_a_time() {
        let mut s = Slab::default();
        for i in 0..100u32 {
            assert_eq!(s.alloc(i), Ok(i as usize));
        }
        assert!(s.slots.capacity() <= 125, "{}", s.slots.capacity());
        assert_eq!(s.take(40), Some(40));
        assert_eq!(s.get(40), None);
        assert_eq!(s.take(40), None);
        // Emptied but not released: not reused yet.
        assert_eq!(s.alloc(500), Ok(100));
        s.release(40);
        s.take(7);
        s.release(7);
        // Released twice, or never taken: nothing happens.
        s.release(7);
        s.release(8);
        assert_eq!(s.get(8), Some(&8));
        assert_eq!(s.alloc(1000), Ok(7));
        assert_eq!(s.alloc(1001), Ok(40));
        assert_eq!(s.alloc(1002), Ok(101));
        assert_eq!((s.get(40), s.get(7)), (Some(&1001), Some(&1000)));
        // Near the end of the slot numbers it grows only up to there.
        let max = 1 << SLOT_BITS;
        assert_eq!((growth(0, max), growth(400, max)), (8, 100));
        assert_eq!((growth(max - 3, max), growth(max, max)), (3, 0));
    }

    #[test]
    fn reading_ahead_changes_nothing() {
        let t = Table::new(4, 100).unwrap();
        let ids: std::vec::Vec<u32> = (0..20).map(|n| t.insert(conn(n), None).unwrap()).collect();
        let mut hashes: std::vec::Vec<u64> = (0..20)
            .flat_map(|n| [t.hash(&conn(n).orig), t.hash(&conn(n).reply)])
            .collect();
        hashes.extend([t.hash(&conn(99).orig), 0, u64::MAX]);
        hashes.iter().for_each(|&h| t.prefetch_index(h));
        let mut found = std::vec![None; hashes.len()];
        t.read_ahead(&hashes, &mut found);
        assert_eq!(t.len(), 20);
        for (n, &id) in ids.iter().enumerate() {
            let c = conn(n as u32);
            assert_eq!(t.lookup(&c.reply, 1, |(.., r)| r), Found::Live(id, true));
            // Each hash's hint names its connection, and a lookup that
            // takes it, or a wrong one, finds the same.
            assert_eq!(found[2 * n], Some(id));
            let h = t.hash(&c.orig);
            for hint in [Some(id), Some(ids[(n + 1) % 20]), None] {
                let got = t.lookup_hashed(&c.orig, h, hint, 1, |(.., r)| r);
                assert_eq!(got, Found::Live(id, false));
            }
        }
        assert_eq!(found[40], None, "no connection");
    }

    #[test]
    fn reading_ahead_and_lookups_race_with_growth_and_removal() {
        // One processor fills the table (every index and slab grows) and
        // removes half of it again while another keeps prefetching,
        // reading ahead and looking up the same connections unlocked
        // positions and all: nothing panics and the table ends exact.
        const N: u32 = 20_000;
        let t = Table::new(5, N).unwrap();
        let hashes: std::vec::Vec<u64> = (0..N)
            .flat_map(|n| [t.hash(&conn(n).orig), t.hash(&conn(n).reply)])
            .collect();
        let (started, done) = (AtomicU32::new(0), AtomicU32::new(0));
        std::thread::scope(|s| {
            s.spawn(|| {
                while started.load(Relaxed) == 0 {
                    core::hint::spin_loop();
                }
                for n in 0..N {
                    t.insert(conn(n), None).unwrap();
                }
                let mut at = 0;
                while let Some((next, id, c, _)) = t.next(at) {
                    if c.orig.sport % 2 == 1 {
                        t.remove(id, |_| true).unwrap();
                    }
                    at = next;
                }
                done.store(1, Relaxed);
            });
            s.spawn(|| {
                let mut seen = 0u64;
                started.store(1, Relaxed);
                let mut passes = 0;
                while done.load(Relaxed) == 0 || passes == 0 {
                    passes += 1;
                    for batch in hashes.chunks(32) {
                        batch.iter().for_each(|&h| t.prefetch_index(h));
                        t.read_ahead(batch, &mut [None; 32]);
                    }
                    for n in (0..N).step_by(97) {
                        if let Found::Live(..) = t.lookup(&conn(n).reply, 1, |(.., r)| r) {
                            seen += 1;
                        }
                    }
                }
                core::hint::black_box((seen, passes));
            });
        });
        assert_eq!(t.len(), N / 2);
        for n in 0..N {
            let found = matches!(
                t.lookup(&conn(n).reply, 1, |(.., r)| r),
                Found::Live(_, true)
            );
            assert_eq!(found, n % 2 == 0, "{n}");
        }
    }

    #[test]
    fn the_limit_refuses_new_connections() {
        let t = Table::new(2, 10).unwrap();
        for n in 0..10 {
            t.insert(conn(n), None).unwrap();
        }
        assert_eq!(t.insert(conn(10), None), Err(Refused::Full));
        t.remove_if(|c| c.orig.sport < 5, |_, _, _| {});
        assert_eq!(t.len(), 5);
        assert!(t.insert(conn(10), None).is_ok());
    }
}
