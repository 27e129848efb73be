//! IP fragment reassembly before tracking (Linux's `ovs_ct_handle_fragments`
//! over `ip_defrag` and `nf_ct_frag6_gather`).
//!
//! A fragment a CT action sees is held, per zone, with the others of its
//! datagram (outer fragments of tunnel packets, held before decapsulation,
//! in a namespace of their own, [`UNDERLAY`]): keyed by source, destination, protocol and 16-bit id for IPv4,
//! by source, destination and 32-bit id for IPv6. The fragment that
//! completes the datagram becomes the whole datagram (the offset-0
//! fragment's headers, the payloads in order); the others end there.
//!
//! Safety, as the datagrams come from the wire:
//! - a fragment that lies within a run of those held (fragments that came
//!   each where the last one ended) is a duplicate, ignored; any other
//!   overlap drops the whole datagram (RFC 5722 for IPv6; IPv4 the same,
//!   as Linux's `inet_frag_queue_insert` since 4.19);
//! - a datagram holds at most [`MAX_DATAGRAM`] bytes of IP packet (IPv6's
//!   fixed header not counted, as its payload length) and
//!   [`MAX_FRAGS`] fragments; all pending datagrams together at most
//!   [`BUDGET`] bytes, and at most [`SLOTS`] of them: a new datagram that
//!   finds no free slot where it hashes evicts the oldest there;
//! - a datagram not complete after [`TIMEOUT_MS`] (IPv6: [`TIMEOUT_V6_MS`])
//!   is dropped by the upkeep.
//!
//! Every step is bounded: a fragment looks at [`PROBE`] slots of one shard
//! and at most [`MAX_FRAGS`] ranges; expiry visits each slot once.
//!
//! As in Linux, an IPv4 datagram keeps its first fragment's header whole
//! (options too) and has DF when its largest fragment had it.
//!
//! Where this differs from Linux: the limits are per table, not per
//! network namespace, and a full table evicts the oldest datagram among the
//! [`PROBE`] slots a new one may take rather than the oldest of all; Linux
//! counts no fragments; an IPv6 fragment whose next header differs from
//! the others' drops the datagram (Linux takes the first fragment's); an
//! IPv6 middle fragment not a multiple of 8 bytes, which drops the
//! datagram held and goes on unreassembled as in Linux, is then tracked
//! invalid (Linux tracks one at offset 0 by its upper-layer header).

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::actions::headers::{self, get};
use crate::sync::Mutex;

/// How long an incomplete IPv4 datagram is kept (Linux's `ipfrag_time`).
pub const TIMEOUT_MS: u64 = 30_000;
/// How long an incomplete IPv6 datagram is kept (Linux's
/// `IPV6_FRAG_TIMEOUT`, RFC 8200's 60 seconds).
pub const TIMEOUT_V6_MS: u64 = 60_000;
/// Fragments a datagram may be cut into: 64 KiB over a path MTU of about
/// 300 bytes. Linux counts none; here each fragment is checked against all
/// those held, so their number stays bounded.
pub const MAX_FRAGS: usize = 256;
/// Bytes all pending datagrams may hold (Linux's `ipfrag_high_thresh`).
pub const BUDGET: usize = 4 << 20;
/// Bytes of one reassembled IP packet: IPv4's total length, IPv6's
/// payload length (extension headers counted, the fixed header not).
pub const MAX_DATAGRAM: usize = 65_535;
const SHARDS: usize = 16;
/// Pending datagrams at most, all shards together.
pub const SLOTS: usize = SHARDS * SLOTS_PER_SHARD;
const SLOTS_PER_SHARD: usize = 64;
/// Slots a datagram may be stored in, from where it hashes.
pub const PROBE: usize = 8;
/// The key namespace of outer tunnel fragments: no conntrack zone.
pub const UNDERLAY: u32 = 1 << 16;
/// What a pending datagram costs besides its buffers.
const OVERHEAD: usize = core::mem::size_of::<Pending>();

/// What happened to fragments.
#[derive(Debug, Default)]
pub struct Stats {
    /// Fragments held, waiting for the rest of their datagram.
    pub held: AtomicU64,
    /// Datagrams reassembled.
    pub reassembled: AtomicU64,
    /// Datagrams dropped incomplete after `TIMEOUT_MS` (IPv6:
    /// `TIMEOUT_V6_MS`).
    pub timed_out: AtomicU64,
    /// Fragments within a run of those held (dropped alone).
    pub duplicate: AtomicU64,
    /// Datagrams dropped: two fragments overlap.
    pub overlap: AtomicU64,
    /// Datagrams dropped: longer than `MAX_DATAGRAM`.
    pub too_big: AtomicU64,
    /// Datagrams dropped: more than `MAX_FRAGS` fragments.
    pub too_many: AtomicU64,
    /// Fragments or datagrams dropped as malformed: empty (an IPv4 one
    /// with its datagram), an IPv6 middle piece not a multiple of 8 bytes
    /// (with its datagram; IPv4's is trimmed to one), past the end another fragment set, a
    /// second end, another protocol for the same IPv6 id, Not-ECT mixed
    /// with ECN-capable fragments.
    pub malformed: AtomicU64,
    /// Datagrams dropped: the memory budget was spent.
    pub no_room: AtomicU64,
    /// Incomplete datagrams evicted for a new one.
    pub evicted: AtomicU64,
    /// Packets cut to their MRU on output.
    pub refragmented: AtomicU64,
    /// Packets dropped on output: they could not be cut (no memory, or
    /// not readable as IP).
    pub refrag_failed: AtomicU64,
}

fn count(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Stats {
    /// Counts what output made of a packet longer than its MRU.
    pub fn refragmented<T>(
        &self,
        cut: Result<T, super::refrag::Refused>,
    ) -> Result<T, super::refrag::Refused> {
        count(match &cut {
            Ok(_) => &self.refragmented,
            Err(_) => &self.refrag_failed,
        });
        cut
    }

    /// The counters, named, in order.
    pub fn named(&self) -> [(&'static str, u64); 12] {
        let c = |a: &AtomicU64| a.load(Relaxed);
        [
            ("held", c(&self.held)),
            ("reassembled", c(&self.reassembled)),
            ("timed_out", c(&self.timed_out)),
            ("duplicate", c(&self.duplicate)),
            ("overlap", c(&self.overlap)),
            ("too_big", c(&self.too_big)),
            ("too_many", c(&self.too_many)),
            ("malformed", c(&self.malformed)),
            ("no_room", c(&self.no_room)),
            ("evicted", c(&self.evicted)),
            ("refragmented", c(&self.refragmented)),
            ("refrag_failed", c(&self.refrag_failed)),
        ]
    }
}

/// Which datagram a fragment belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Id {
    /// A conntrack zone, or `UNDERLAY`.
    space: u32,
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    /// The IPv4 protocol (IPv6 keys leave it 0).
    proto: u8,
    id: u32,
}

impl Id {
    /// How long the datagram waits for its fragments.
    fn timeout_ms(&self) -> u64 {
        if self.v6 { TIMEOUT_V6_MS } else { TIMEOUT_MS }
    }

    /// The bytes of the IP header `MAX_DATAGRAM` does not count.
    fn uncounted(&self) -> usize {
        if self.v6 { 40 } else { 0 }
    }

    /// FNV-1a, then mixed with the table's `seed` (splitmix64's finaliser),
    /// so that whoever sends fragments cannot choose ids that share a slot
    /// with another's without knowing the seed.
    fn hash(&self, seed: u64) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut mix = |b: u8| h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        for b in self.src.iter().chain(&self.dst) {
            mix(*b);
        }
        for b in self.id.to_ne_bytes() {
            mix(b);
        }
        for b in self.space.to_ne_bytes() {
            mix(b);
        }
        mix(self.proto);
        let x = h ^ seed;
        let z = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A fragment, as read from its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'f> {
    id: Id,
    /// The upper-layer protocol.
    proto: u8,
    /// Byte offset of the payload in the datagram.
    offset: usize,
    more: bool,
    payload: &'f [u8],
    /// The frame up to the fragmentable part (the IPv6 fragment header
    /// left out).
    head: &'f [u8],
    /// Where the IP header starts in `head`.
    l3: usize,
    /// IPv6: where in `head` the next-header byte naming the fragment
    /// header is.
    next_at: usize,
    /// The fragment's IP packet length (the MRU candidate).
    size: usize,
    /// IPv4 Don't Fragment.
    df: bool,
    /// The ECN codepoint.
    ecn: u8,
}

impl Fragment<'_> {
    /// The datagram's destination address.
    pub fn destination(&self) -> IpAddr {
        match self.id.dst {
            d if self.id.v6 => IpAddr::V6(Ipv6Addr::from(d)),
            [a, b, c, d, ..] => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        }
    }

    /// The upper-layer protocol.
    pub fn proto(&self) -> u8 {
        self.proto
    }
}

/// Reads the IP fragment in `frame`, to be held in key namespace `space`
/// (a conntrack zone or [`UNDERLAY`]); `None` if it is not one, cannot
/// be read, or is an IPv6 first fragment short of its upper-layer header
/// (the CT action then marks it invalid).
pub fn fragment(frame: &[u8], oob_vlan: Option<u16>, space: u32) -> Option<Fragment<'_>> {
    let l2 = headers::l2(frame, oob_vlan)?;
    let ip = headers::ip_at(frame, l2.eth_type, l2.l3)?;
    let l3 = ip.l3;
    let mut id = Id {
        space,
        v6: ip.v6,
        ..Id::default()
    };
    if ip.v6 {
        let (next_at, fh) = ip.frag?;
        let [proto, _, f0, f1, i0, i1, i2, i3] = get(frame, fh)?;
        let field = u16::from_be_bytes([f0, f1]);
        let offset = usize::from(field & 0xfff8);
        // RFC 8200 4.5 (Linux's `ipv6frag_thdr_truncated`): a first
        // fragment holds every header through the upper-layer one.
        if offset == 0
            && ip
                .l4
                .is_some_and(|l4| l4.off + upper_header(l4.proto) > ip.end)
        {
            return None;
        }
        id.src = get(frame, l3 + 8)?;
        id.dst = get(frame, l3 + 24)?;
        id.id = u32::from_be_bytes([i0, i1, i2, i3]);
        Some(Fragment {
            id,
            proto,
            offset,
            more: field & 1 != 0,
            payload: frame.get(fh + 8..ip.end)?,
            head: frame.get(..fh)?,
            l3,
            next_at,
            size: ip.end - l3,
            df: false,
            ecn: get::<2>(frame, l3).map_or(0, |[_, b]| b >> 4 & 3),
        })
    } else {
        let h: [u8; 20] = get(frame, l3)?;
        let [ver_ihl, tos, t0, t1, i0, i1, f0, f1, _, proto, ..] = h;
        let hlen = usize::from(ver_ihl & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([t0, t1]));
        let field = u16::from_be_bytes([f0, f1]);
        if ver_ihl >> 4 != 4 || hlen < 20 || total < hlen || field & 0x3fff == 0 {
            return None;
        }
        id.src[..4].copy_from_slice(frame.get(l3 + 12..l3 + 16)?);
        id.dst[..4].copy_from_slice(frame.get(l3 + 16..l3 + 20)?);
        id.proto = proto;
        id.id = u32::from(u16::from_be_bytes([i0, i1]));
        let more = field & 0x2000 != 0;
        let data = frame.get(l3 + hlen..l3 + total)?;
        // A middle fragment counts up to a multiple of 8 bytes (Linux's
        // `ip_frag_queue` trims it).
        let payload = if more {
            data.get(..data.len() & !7)?
        } else {
            data
        };
        Some(Fragment {
            id,
            proto,
            offset: usize::from(field & 0x1fff) * 8,
            more,
            payload,
            head: frame.get(..l3 + hlen)?,
            l3,
            next_at: 0,
            size: hlen + payload.len(),
            df: field & 0x4000 != 0,
            ecn: tos & 3,
        })
    }
}

/// The bytes of upper-layer header an IPv6 first fragment must hold (as
/// Linux counts them; none after "no next header").
fn upper_header(proto: u8) -> usize {
    match proto {
        headers::IPPROTO_TCP => 20,
        headers::IPPROTO_UDP | headers::IPPROTO_ICMPV6 => 8,
        headers::NEXTHDR_NONE => 0,
        _ => 1,
    }
}

/// A datagram being put together.
struct Pending {
    id: Id,
    born_ms: u64,
    proto: u8,
    /// The offset-0 fragment's head, once it came.
    head: Vec<u8>,
    l3: usize,
    next_at: usize,
    data: Vec<u8>,
    /// The runs of bytes received: fragments that came each where the
    /// last one held ended make one (as Linux's `frag_run_len`).
    ranges: Vec<(usize, usize)>,
    /// Fragments held.
    pieces: usize,
    /// Where the datagram ends, once its last fragment came.
    end: Option<usize>,
    max_size: usize,
    /// The largest fragment with DF set, 0 if none.
    max_df_size: usize,
    /// The ECN codepoints the fragments carried, one bit each.
    ecn: u8,
    /// Bytes charged to the budget.
    charge: usize,
}

impl Pending {
    fn cost(&self) -> usize {
        OVERHEAD
            + self.head.capacity()
            + self.data.capacity()
            + self.ranges.capacity() * core::mem::size_of::<(usize, usize)>()
    }
}

/// What the ECN codepoints of a datagram's fragments (`seen`, one bit
/// each) make of it (RFC 3168 5.3, as Linux's `ip_frag_ecn_table`): CE to
/// mark it with, or 0; `None` when Not-ECT is mixed with ECN-capable.
fn ecn_mark(seen: u8) -> Option<u8> {
    const NOT_ECT: u8 = 1;
    const CE: u8 = 1 << 3;
    match seen {
        s if s & NOT_ECT != 0 && s != NOT_ECT => None,
        s if s & CE != 0 && s != CE => Some(3),
        _ => Some(0),
    }
}

/// A reassembled datagram, to become the packet.
#[derive(Debug, PartialEq, Eq)]
pub struct Datagram {
    /// The whole frame.
    pub frame: Vec<u8>,
    /// Its largest fragment's IP packet length.
    pub mru: u16,
}

/// What became of a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Held (or a duplicate): its pipeline ends.
    Held,
    /// It completed its datagram.
    Complete(Datagram),
    /// Dropped, and counted.
    Dropped,
    /// Not taken: an IPv6 middle fragment not a multiple of 8 bytes, which
    /// dropped the datagram held (counted) and goes on as it came, not
    /// reassembled (Linux's `nf_ct_frag6_gather` on -EPROTO).
    Passed,
}

/// What a fragment did to its datagram.
enum Merged {
    Held,
    /// Within a run of those held: ignored.
    Duplicate,
    Complete,
}

/// Why a datagram is given up.
enum Fail {
    Overlap,
    TooBig,
    TooMany,
    Malformed,
    NoRoom,
}

type Shard = [Option<Pending>; SLOTS_PER_SHARD];

/// The pending datagrams of every zone and of the underlay.
pub struct Reassembly {
    shards: Vec<Mutex<Shard>>,
    /// Bytes charged, all shards together.
    used: AtomicUsize,
    budget: usize,
    /// The next IPv6 fragment id output uses.
    ids: AtomicU32,
    seed: u64,
    pub stats: Stats,
}

impl core::fmt::Debug for Reassembly {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reassembly")
            .field("used", &self.used.load(Relaxed))
            .field("stats", &self.stats)
            .finish()
    }
}

impl Reassembly {
    /// Hashing with `seed`; `None` when out of memory.
    pub fn new(seed: u64) -> Option<Reassembly> {
        Reassembly::with_budget(BUDGET, seed)
    }

    pub fn with_budget(budget: usize, seed: u64) -> Option<Reassembly> {
        let mut shards = Vec::new();
        shards.try_reserve_exact(SHARDS).ok()?;
        shards.extend((0..SHARDS).map(|_| Mutex::new(core::array::from_fn(|_| None))));
        Some(Reassembly {
            shards,
            used: AtomicUsize::new(0),
            budget,
            ids: AtomicU32::new(1),
            seed,
            stats: Stats::default(),
        })
    }

    /// An id for the fragments of one IPv6 packet from `src` to `dst` cut
    /// on output: a counter offset by a keyed hash of the addresses (as
    /// Linux's `ipv6_select_ident`), so that one pair's ids do not tell
    /// another's.
    pub fn next_id(&self, src: [u8; 16], dst: [u8; 16]) -> u32 {
        let pair = Id {
            v6: true,
            src,
            dst,
            ..Id::default()
        };
        // Another key than the slots': the hash is not theirs to learn.
        let offset = pair.hash(!self.seed) as u32;
        offset.wrapping_add(self.ids.fetch_add(1, Relaxed))
    }

    /// Bytes the pending datagrams hold.
    pub fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// Datagrams pending.
    pub fn pending(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().iter().filter(|p| p.is_some()).count())
            .sum()
    }

    /// Takes in fragment `f`.
    pub fn add(&self, f: &Fragment<'_>, now_ms: u64) -> Outcome {
        let len = f.payload.len();
        let end = f.offset + len;
        // An IPv6 middle fragment not a multiple of 8 bytes drops the
        // datagram held and goes on (Linux's `nf_ct_frag6_queue`); so does
        // an empty IPv4 one, which ends there (`ip_frag_queue`).
        let passes = f.id.v6 && f.more && !len.is_multiple_of(8);
        let discard = passes || len == 0 && !f.id.v6;
        let discarded = if passes {
            Outcome::Passed
        } else {
            Outcome::Dropped
        };
        // An empty IPv6 fragment goes alone.
        if len == 0 && !discard {
            count(&self.stats.malformed);
            return Outcome::Dropped;
        }
        if (end + (f.head.len() - f.l3)).saturating_sub(f.id.uncounted()) > MAX_DATAGRAM {
            count(&self.stats.too_big);
            return Outcome::Dropped;
        }
        let hash = f.id.hash(self.seed);
        let Some(shard) = self.shards.get(hash as usize % SHARDS) else {
            return Outcome::Dropped;
        };
        let mut shard = shard.lock();
        let Some(slot) = self.slot(&mut shard, &f.id, hash, now_ms, !discard) else {
            if discard {
                count(&self.stats.malformed);
            }
            return discarded;
        };
        let result = match slot.as_mut() {
            Some(_) if discard => Err(Fail::Malformed),
            Some(p) => self.merge(p, f, end),
            None => Err(Fail::NoRoom),
        };
        match result {
            Ok(Merged::Held) => {
                count(&self.stats.held);
                Outcome::Held
            }
            Ok(Merged::Duplicate) => {
                count(&self.stats.duplicate);
                Outcome::Held
            }
            Ok(Merged::Complete) => match slot.take() {
                Some(p) => {
                    self.release(p.charge);
                    self.finish(p)
                }
                None => Outcome::Dropped,
            },
            Err(fail) => {
                if let Some(p) = slot.take() {
                    self.release(p.charge);
                }
                count(match fail {
                    Fail::Overlap => &self.stats.overlap,
                    Fail::TooBig => &self.stats.too_big,
                    Fail::TooMany => &self.stats.too_many,
                    Fail::Malformed => &self.stats.malformed,
                    Fail::NoRoom => &self.stats.no_room,
                });
                discarded
            }
        }
    }

    /// The slot of datagram `id`: its own, or (if `create`) a free one or
    /// the oldest one in reach, evicted.
    fn slot<'s>(
        &self,
        shard: &'s mut Shard,
        id: &Id,
        hash: u64,
        now_ms: u64,
        create: bool,
    ) -> Option<&'s mut Option<Pending>> {
        let start = (hash >> 32) as usize % SLOTS_PER_SHARD;
        let reach = |i: usize| (start + i) % SLOTS_PER_SHARD;
        let mut free = None;
        let mut oldest: Option<(usize, u64)> = None;
        for i in (0..PROBE).map(reach) {
            match shard.get(i)? {
                Some(p) if p.id == *id => return shard.get_mut(i),
                Some(p) => {
                    if oldest.is_none_or(|(_, t)| p.born_ms < t) {
                        oldest = Some((i, p.born_ms));
                    }
                }
                None => {
                    free.get_or_insert(i);
                }
            }
        }
        if !create {
            return None;
        }
        let at = match (free, oldest) {
            (Some(i), _) => i,
            (None, Some((i, _))) => {
                if let Some(p) = shard.get_mut(i)?.take() {
                    self.release(p.charge);
                    count(&self.stats.evicted);
                }
                i
            }
            (None, None) => return None,
        };
        let mut p = Pending {
            id: *id,
            born_ms: now_ms,
            proto: 0,
            head: Vec::new(),
            l3: 0,
            next_at: 0,
            data: Vec::new(),
            ranges: Vec::new(),
            pieces: 0,
            end: None,
            max_size: 0,
            max_df_size: 0,
            ecn: 0,
            charge: 0,
        };
        if !self.recharge(&mut p) {
            count(&self.stats.no_room);
            return None;
        }
        let slot = shard.get_mut(at)?;
        *slot = Some(p);
        Some(slot)
    }

    /// Charges what `p` holds now; false (nothing charged anew) if the
    /// budget does not allow it.
    fn recharge(&self, p: &mut Pending) -> bool {
        let cost = p.cost();
        let grow = cost.saturating_sub(p.charge);
        let fits = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| {
                u.checked_add(grow).filter(|&n| n <= self.budget)
            })
            .is_ok();
        if fits {
            p.charge = cost.max(p.charge);
        }
        fits
    }

    fn release(&self, charge: usize) {
        self.used.fetch_sub(charge, Relaxed);
    }

    /// Adds `f` (ending at `end`) to `p`.
    fn merge(&self, p: &mut Pending, f: &Fragment<'_>, end: usize) -> Result<Merged, Fail> {
        if p.id.v6 && p.pieces != 0 && p.proto != f.proto {
            return Err(Fail::Malformed);
        }
        // Where the datagram ends first (Linux's order), then duplicates
        // and overlaps (`inet_frag_queue_insert`).
        let past = |limit: usize| p.ranges.iter().any(|&(_, b)| b > limit);
        match (f.more, p.end) {
            (false, Some(last)) if end != last => return Err(Fail::Malformed),
            (false, None) if past(end) => return Err(Fail::Malformed),
            (true, Some(last)) if end > last => return Err(Fail::Malformed),
            _ => {}
        }
        if p.ranges.iter().any(|&(a, b)| a <= f.offset && end <= b) {
            return Ok(Merged::Duplicate);
        }
        if p.ranges.iter().any(|&(a, b)| f.offset < b && a < end) {
            return Err(Fail::Overlap);
        }
        if p.pieces >= MAX_FRAGS {
            return Err(Fail::TooMany);
        }
        // Grow what is held, within the budget, before writing.
        let head_need = if f.offset == 0 { f.head.len() } else { 0 };
        // Geometrically (each growth copies what is held), up to what a
        // datagram may hold.
        if end > p.data.capacity() {
            let want = end.max(p.data.capacity().saturating_mul(2).min(MAX_DATAGRAM));
            p.data
                .try_reserve_exact(want - p.data.len())
                .map_err(|_| Fail::NoRoom)?;
        }
        p.head
            .try_reserve_exact(head_need)
            .map_err(|_| Fail::NoRoom)?;
        p.ranges.try_reserve(1).map_err(|_| Fail::NoRoom)?;
        if !self.recharge(p) {
            return Err(Fail::NoRoom);
        }
        if p.data.len() < end {
            p.data.resize(end, 0);
        }
        p.data
            .get_mut(f.offset..end)
            .ok_or(Fail::Malformed)?
            .copy_from_slice(f.payload);
        if f.offset == 0 {
            p.head.extend_from_slice(f.head);
            p.l3 = f.l3;
            p.next_at = f.next_at;
        }
        p.proto = f.proto;
        // One that starts where the last one held ends extends its run.
        match p.ranges.iter_mut().max_by_key(|&&mut (_, b)| b) {
            Some(tail) if tail.1 == f.offset => tail.1 = end,
            _ => p.ranges.push((f.offset, end)),
        }
        p.pieces += 1;
        if !f.more {
            p.end = Some(end);
        }
        p.max_size = p.max_size.max(f.size);
        if f.df {
            p.max_df_size = p.max_df_size.max(f.size);
        }
        p.ecn |= 1 << f.ecn;
        let got: usize = p.ranges.iter().map(|&(a, b)| b - a).sum();
        let complete = !p.head.is_empty() && p.end == Some(got);
        if !complete {
            return Ok(Merged::Held);
        }
        if (p.head.len() - p.l3 + got).saturating_sub(p.id.uncounted()) > MAX_DATAGRAM {
            return Err(Fail::TooBig);
        }
        if ecn_mark(p.ecn).is_none() {
            return Err(Fail::Malformed);
        }
        Ok(Merged::Complete)
    }

    /// The datagram `p` holds (complete), as one frame.
    fn finish(&self, p: Pending) -> Outcome {
        let mut frame = p.head;
        if frame.try_reserve_exact(p.data.len()).is_err() {
            count(&self.stats.no_room);
            return Outcome::Dropped;
        }
        frame.extend_from_slice(&p.data);
        let ip_len = frame.len() - p.l3;
        let ce = ecn_mark(p.ecn).unwrap_or(0);
        let written = if p.id.v6 {
            // The fragment header is gone: its next header takes its place.
            let payload = (ip_len - 40) as u16;
            frame
                .get_mut(p.next_at)
                .map(|b| *b = p.proto)
                .and_then(|()| frame.get_mut(p.l3 + 1))
                .map(|b| *b |= ce << 4)
                .and_then(|()| headers::put(&mut frame, p.l3 + 4, payload.to_be_bytes()))
        } else {
            // DF only if the largest fragment had it (a small DF fragment
            // beside larger ones without it does not make the whole DF).
            let flags: u16 = if p.max_df_size == p.max_size {
                0x4000
            } else {
                0
            };
            frame
                .get_mut(p.l3 + 1)
                .map(|b| *b |= ce)
                .and_then(|()| headers::put(&mut frame, p.l3 + 2, (ip_len as u16).to_be_bytes()))
                .and_then(|()| headers::put(&mut frame, p.l3 + 6, flags.to_be_bytes()))
                .and_then(|()| crate::offload::ipv4_checksum(&mut frame, p.l3))
        };
        if written.is_none() {
            count(&self.stats.malformed);
            return Outcome::Dropped;
        }
        count(&self.stats.reassembled);
        Outcome::Complete(Datagram {
            frame,
            mru: u16::try_from(p.max_size).unwrap_or(u16::MAX),
        })
    }

    /// Upkeep: drops datagrams older than their timeout, one shard lock at
    /// a time.
    pub fn expire(&self, now_ms: u64) {
        for shard in &self.shards {
            let mut shard = shard.lock();
            for slot in shard.iter_mut() {
                if slot
                    .as_ref()
                    .is_some_and(|p| now_ms.saturating_sub(p.born_ms) >= p.id.timeout_ms())
                    && let Some(p) = slot.take()
                {
                    self.release(p.charge);
                    count(&self.stats.timed_out);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec;

    /// The shard and slot a datagram's fragments start probing at.
    fn place(id: &Id, seed: u64) -> (u64, u64) {
        let h = id.hash(seed);
        (h % SHARDS as u64, (h >> 32) % SLOTS_PER_SHARD as u64)
    }

    /// Ids that start at one place under one seed spread under another:
    /// whoever picks colliding ids must know the seed.
    #[test]
    fn the_seed_moves_fragments_apart() {
        let id = |n: u32| Id {
            src: [10; 16],
            dst: [11; 16],
            proto: 17,
            id: n,
            ..Id::default()
        };
        let target = place(&id(0), 0);
        let colliding: Vec<u32> = (1..200_000)
            .filter(|&n| place(&id(n), 0) == target)
            .collect();
        assert!(colliding.len() >= 8, "{}", colliding.len());
        let seed = 0x1234_5678_9abc_def0;
        let moved = colliding
            .iter()
            .filter(|&&n| place(&id(n), seed) != place(&id(0), seed))
            .count();
        assert!(
            moved * 10 >= colliding.len() * 9,
            "{moved} of {}",
            colliding.len()
        );
    }

    /// A UDP datagram of `n` payload bytes (pattern), as an Ethernet/IPv4
    /// frame with id `id`.
    pub fn udp4(n: usize, id: u16) -> Vec<u8> {
        let mut l4 = std::vec![0x30, 0x39, 0, 53, 0, 0, 0, 0];
        l4[4..6].copy_from_slice(&((8 + n) as u16).to_be_bytes());
        l4.extend((0..n).map(|i| (i * 7) as u8));
        let mut f =
            crate::conntrack::packet::tests::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 17, &l4);
        f[18..20].copy_from_slice(&id.to_be_bytes());
        crate::offload::ipv4_checksum(&mut f, 14).unwrap();
        f
    }

    /// `whole` (Ethernet/IPv4, 20-byte header) cut into fragments whose
    /// payloads are `sizes` long (all but the last multiples of 8).
    pub fn cut4(whole: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
        let data = &whole[34..];
        let mut off = 0;
        sizes
            .iter()
            .map(|&n| {
                let end = (off + n).min(data.len());
                let mut f = whole[..34].to_vec();
                f.extend_from_slice(&data[off..end]);
                f[16..18].copy_from_slice(&((20 + end - off) as u16).to_be_bytes());
                let more = if end < data.len() { 0x2000 } else { 0 };
                f[20..22].copy_from_slice(&((off / 8) as u16 | more).to_be_bytes());
                crate::offload::ipv4_checksum(&mut f, 14).unwrap();
                off = end;
                f
            })
            .collect()
    }

    fn feed(r: &Reassembly, frames: &[Vec<u8>]) -> Vec<Outcome> {
        frames
            .iter()
            .map(|f| r.add(&fragment(f, None, 1).unwrap(), 0))
            .collect()
    }

    #[test]
    fn the_underlay_is_apart_from_every_zone() {
        let whole = udp4(100, 3);
        let frags = cut4(&whole, &[64, 64]);
        let r = Reassembly::new(0).unwrap();
        let (first, last) = (&frags[0], &frags[1]);
        for space in [0, u32::from(u16::MAX), UNDERLAY] {
            assert_eq!(
                r.add(&fragment(first, None, space).unwrap(), 0),
                Outcome::Held
            );
        }
        let done = r.add(&fragment(last, None, UNDERLAY).unwrap(), 0);
        assert!(matches!(done, Outcome::Complete(d) if d.frame == whole));
        assert_eq!(r.pending(), 2);
        let f = fragment(first, None, UNDERLAY).unwrap();
        assert_eq!(
            (f.destination(), f.proto()),
            ("10.0.0.2".parse().unwrap(), 17)
        );
    }

    #[test]
    fn in_order_reversed_and_duplicated() {
        let whole = udp4(3000, 7);
        let frags = cut4(&whole, &[1480, 1480, 48]);
        let r = Reassembly::new(0).unwrap();
        let mut orders = std::vec![frags.clone()];
        orders.push(frags.iter().rev().cloned().collect());
        orders.push(std::vec![
            frags[1].clone(),
            frags[0].clone(),
            frags[1].clone(),
            frags[2].clone()
        ]);
        for order in orders {
            let mut out = feed(&r, &order);
            let last = out.pop().unwrap();
            assert!(out.iter().all(|o| *o == Outcome::Held));
            assert_eq!(
                last,
                Outcome::Complete(Datagram {
                    frame: whole.clone(),
                    mru: 1500
                })
            );
            assert_eq!(r.used(), 0);
        }
        assert_eq!(r.stats.reassembled.load(Relaxed), 3);
        assert_eq!(r.stats.duplicate.load(Relaxed), 1);
    }

    #[test]
    fn overlaps_ends_and_sizes_drop() {
        let whole = udp4(3000, 9);
        let frags = cut4(&whole, &[1480, 1480, 48]);
        let r = Reassembly::new(0).unwrap();
        // A fragment overlapping another drops the datagram.
        let mut bad = cut4(&whole, &[1000, 2008])[1].clone();
        bad[20..22].copy_from_slice(&(0x2000u16 | 125).to_be_bytes());
        let out = feed(&r, &[frags[0].clone(), bad]);
        assert_eq!(out, [Outcome::Held, Outcome::Dropped]);
        assert_eq!((r.stats.overlap.load(Relaxed), r.used()), (1, 0));
        // An offset past 65,535 bytes.
        let mut far = frags[2].clone();
        far[20..22].copy_from_slice(&8190u16.to_be_bytes());
        assert_eq!(feed(&r, &[far]), [Outcome::Dropped]);
        assert_eq!(r.stats.too_big.load(Relaxed), 1);
        // Zero-length middle fragments, one after trimming to 8 bytes.
        let mut empty = frags[0].clone();
        empty.truncate(34);
        empty[16..18].copy_from_slice(&20u16.to_be_bytes());
        let mut odd = frags[0].clone();
        odd.truncate(34 + 5);
        odd[16..18].copy_from_slice(&25u16.to_be_bytes());
        assert_eq!(
            feed(&r, &[empty, odd]),
            [Outcome::Dropped, Outcome::Dropped]
        );
        // Data past the last fragment's end.
        let mut past = frags[2].clone();
        past.truncate(34 + 8);
        past[16..18].copy_from_slice(&28u16.to_be_bytes());
        past[20..22].copy_from_slice(&(0x2000u16 | 376).to_be_bytes());
        let out = feed(&r, &[frags[2].clone(), past]);
        assert_eq!(out, [Outcome::Held, Outcome::Dropped]);
        assert_eq!(r.stats.malformed.load(Relaxed), 3);
        assert_eq!(r.pending(), 0);
    }

    /// Sets or clears DF in an Ethernet/IPv4 frame, checksum again.
    pub fn set_df(f: &mut [u8], df: bool) {
        f[20] = f[20] & !0x40 | if df { 0x40 } else { 0 };
        crate::offload::ipv4_checksum(f, 14).unwrap();
    }

    /// The datagram has DF when its largest fragment had it, whatever the
    /// first had (Linux's `max_df_size == max_size`).
    #[test]
    fn df_follows_the_largest_fragment() {
        let whole = udp4(3000, 21);
        let r = Reassembly::new(0).unwrap();
        for (dfs, want) in [
            ([true, false, false], false),
            ([false, true, false], true),
            ([true, true, true], true),
            ([false, false, true], false),
        ] {
            let mut frags = cut4(&whole, &[1000, 1480, 528]);
            for (f, df) in frags.iter_mut().zip(dfs) {
                set_df(f, df);
            }
            let Some(Outcome::Complete(d)) = feed(&r, &frags).pop() else {
                panic!("{dfs:?}: not reassembled");
            };
            let mut expect = whole.clone();
            set_df(&mut expect, want);
            assert_eq!(d.frame, expect, "{dfs:?}");
            assert_eq!(d.mru, 1500);
        }
    }

    /// RFC 3168 5.3 as Linux's `ip_frag_ecn_table`: CE on any fragment
    /// marks the datagram when the others are ECN-capable; Not-ECT mixed
    /// with ECN-capable fragments drops it. IPv4 and IPv6 alike.
    #[test]
    fn ecn_marks_of_the_fragments_combine() {
        const NOT_ECT: u8 = 0;
        const ECT1: u8 = 1;
        const ECT0: u8 = 2;
        const CE: u8 = 3;
        let r = Reassembly::new(0).unwrap();
        for v6 in [false, true] {
            let whole = if v6 { udp6(3000) } else { udp4(3000, 22) };
            // Where the ECN field lies and how to set it.
            let set = |f: &mut Vec<u8>, ecn: u8| {
                if v6 {
                    f[15] = f[15] & 0xcf | ecn << 4;
                } else {
                    f[15] = f[15] & 0xfc | ecn;
                    crate::offload::ipv4_checksum(f, 14).unwrap();
                }
            };
            for (ecns, want) in [
                ([ECT0, CE, ECT0], Some(CE)),
                ([ECT1, ECT1, CE], Some(CE)),
                ([ECT0, ECT1, ECT0], Some(ECT0)),
                ([CE, CE, CE], Some(CE)),
                ([NOT_ECT, NOT_ECT, NOT_ECT], Some(NOT_ECT)),
                ([NOT_ECT, CE, NOT_ECT], None),
                ([ECT0, ECT0, NOT_ECT], None),
            ] {
                let mut frags = if v6 {
                    cut6(&whole, &[1448, 1448, 112], 5)
                } else {
                    cut4(&whole, &[1480, 1480, 48])
                };
                for (f, ecn) in frags.iter_mut().zip(ecns) {
                    set(f, ecn);
                }
                let got = feed(&r, &frags).pop().unwrap();
                match want {
                    Some(ecn) => {
                        let mut expect = whole.clone();
                        set(&mut expect, ecn);
                        assert!(
                            matches!(&got, Outcome::Complete(d) if d.frame == expect),
                            "v6 {v6} {ecns:?}: {got:?}"
                        );
                    }
                    None => assert_eq!(got, Outcome::Dropped, "v6 {v6} {ecns:?}"),
                }
                assert_eq!(r.pending(), 0);
            }
        }
        assert_eq!(r.stats.malformed.load(Relaxed), 4);
    }

    #[test]
    fn timeouts_and_floods_are_bounded() {
        let r = Reassembly::with_budget(64 << 10, 0).unwrap();
        for id in 0..5000u16 {
            let f = &cut4(&udp4(3000, id), &[1480, 1480, 48])[0];
            r.add(&fragment(f, None, 0).unwrap(), u64::from(id));
            assert!(r.used() <= 64 << 10);
        }
        assert!(r.pending() <= SLOTS);
        assert!(r.stats.evicted.load(Relaxed) + r.stats.no_room.load(Relaxed) > 0);
        r.expire(4999 + TIMEOUT_MS);
        assert_eq!((r.pending(), r.used()), (0, 0));
        assert!(r.stats.timed_out.load(Relaxed) > 0);
    }

    /// A UDP datagram of `n` payload bytes as an Ethernet/IPv6 frame.
    pub fn udp6(n: usize) -> Vec<u8> {
        let mut l4 = std::vec![0x30, 0x39, 0, 53, 0, 0, 0, 0];
        l4[4..6].copy_from_slice(&((8 + n) as u16).to_be_bytes());
        l4.extend((0..n).map(|i| (i * 5) as u8));
        let v6 = crate::conntrack::tests::v6;
        crate::conntrack::tests::ipv6_frame(v6(1), v6(2), 17, &l4)
    }

    /// `whole` (Ethernet/IPv6, no extension header) cut into fragments
    /// with id `id` whose payloads are `sizes` long.
    pub fn cut6(whole: &[u8], sizes: &[usize], id: u32) -> Vec<Vec<u8>> {
        let data = &whole[54..];
        let mut off = 0;
        sizes
            .iter()
            .map(|&n| {
                let end = (off + n).min(data.len());
                let mut f = whole[..54].to_vec();
                f[20] = 44;
                f[18..20].copy_from_slice(&((8 + end - off) as u16).to_be_bytes());
                let more = u16::from(end < data.len());
                f.extend_from_slice(&[whole[20], 0]);
                f.extend_from_slice(&(off as u16 | more).to_be_bytes());
                f.extend_from_slice(&id.to_be_bytes());
                f.extend_from_slice(&data[off..end]);
                off = end;
                f
            })
            .collect()
    }

    #[test]
    fn ipv6_reassembles_and_refuses_overlaps() {
        let whole = udp6(3000);
        let frags = cut6(&whole, &[1448, 1448, 112], 0x1234_5678);
        let r = Reassembly::new(0).unwrap();
        let mut out = feed(&r, &[frags[2].clone(), frags[0].clone()]);
        out.extend(feed(&r, &frags[1..2]));
        assert_eq!(out[..2], [Outcome::Held, Outcome::Held]);
        assert_eq!(
            out[2],
            Outcome::Complete(Datagram {
                frame: whole.clone(),
                mru: 1496
            })
        );
        // RFC 5722: an overlap drops the whole datagram.
        let shifted = cut6(&whole, &[1440, 1456], 9);
        let out = feed(&r, &[frags[0].clone(), shifted[1].clone()]);
        assert_eq!(out, [Outcome::Held, Outcome::Held]);
        let mut overlapping = cut6(&whole, &[1440, 1456], 0x1234_5678)[1].clone();
        overlapping[56..58].copy_from_slice(&(1440u16 | 1).to_be_bytes());
        assert_eq!(
            feed(&r, &[frags[0].clone(), overlapping]),
            [Outcome::Held, Outcome::Dropped]
        );
        assert_eq!(r.stats.overlap.load(Relaxed), 1);
        // Another protocol under the same id.
        let mut other = frags[1].clone();
        other[54] = 6;
        assert_eq!(
            feed(&r, &[frags[0].clone(), other]),
            [Outcome::Held, Outcome::Dropped]
        );
        assert_eq!(r.stats.malformed.load(Relaxed), 1);
    }

    /// IPv6's limit is on the payload length: the 40-byte fixed header
    /// is not counted (Linux's `IPV6_MAXPLEN`), where IPv4's total length
    /// counts its header.
    #[test]
    fn ipv6_payloads_of_64_kib_reassemble() {
        let r = Reassembly::new(0).unwrap();
        let whole = udp6(65_535 - 8);
        let sizes = [1448; 46];
        let frags = cut6(&whole, &sizes, 8);
        assert_eq!(frags.len(), 46);
        let last = feed(&r, &frags).pop().unwrap();
        assert!(
            matches!(&last, Outcome::Complete(d) if d.frame == whole),
            "{last:?}"
        );
        // One byte more is too big.
        let mut over = frags.last().unwrap().clone();
        over.push(0);
        let len = u16::from_be_bytes([over[18], over[19]]) + 1;
        over[18..20].copy_from_slice(&len.to_be_bytes());
        assert_eq!(feed(&r, &[over]), [Outcome::Dropped]);
        assert_eq!(r.stats.too_big.load(Relaxed), 1);
    }

    /// RFC 8200 4.5, as Linux's `ipv6frag_thdr_truncated`: an IPv6 first
    /// fragment that stops before the end of the upper-layer header (here
    /// after a destination options header, before UDP's) is not taken in;
    /// one that holds it is.
    #[test]
    fn ipv6_first_fragments_hold_the_upper_layer_header() {
        // fd00::1 > fd00::2: destination options (PadN), then UDP.
        let mut l4 = std::vec![17, 0, 1, 4, 0, 0, 0, 0, 0x30, 0x39, 0, 53, 0x05, 0xc8, 0, 0];
        l4.extend((0..1472).map(|i| i as u8));
        let v6 = crate::conntrack::tests::v6;
        let whole = crate::conntrack::tests::ipv6_frame(v6(1), v6(2), 60, &l4);
        let r = Reassembly::new(0).unwrap();
        let short = cut6(&whole, &[8, 1480], 1);
        assert_eq!(fragment(&short[0], None, 0), None);
        assert!(fragment(&short[1], None, 0).is_some());
        let held = cut6(&whole, &[16, 1480], 2);
        let out = feed(&r, &held).pop().unwrap();
        assert!(
            matches!(&out, Outcome::Complete(d) if d.frame == whole),
            "{out:?}"
        );
        // Without an upper-layer header to look for (no next header), or
        // a later fragment: taken in.
        let mut none = short[0].clone();
        none[54] = 59;
        assert!(fragment(&none, None, 0).is_some());
    }

    /// An IPv4 middle fragment whose length is not a multiple of 8 is
    /// trimmed to one (Linux's `ip_frag_queue`), and one left empty drops
    /// its datagram; IPv6's drops its datagram and goes on untouched.
    #[test]
    fn ipv4_middle_fragments_are_trimmed_to_8_bytes() {
        let whole = udp4(3000, 23);
        let frags = cut4(&whole, &[1480, 1480, 48]);
        let r = Reassembly::new(0).unwrap();
        // Five bytes too many on the first and the second.
        let long = |f: &Vec<u8>| {
            let mut f = f.clone();
            f.extend_from_slice(&[0xee; 5]);
            let len = u16::from_be_bytes([f[16], f[17]]) + 5;
            f[16..18].copy_from_slice(&len.to_be_bytes());
            crate::offload::ipv4_checksum(&mut f, 14).unwrap();
            f
        };
        let out = feed(&r, &[long(&frags[0]), long(&frags[1]), frags[2].clone()]);
        assert_eq!(
            out[2],
            Outcome::Complete(Datagram {
                frame: whole.clone(),
                mru: 1500
            })
        );
        // Seven bytes at offset 1480: nothing left once trimmed, and the
        // datagram goes.
        let mut tiny = frags[1].clone();
        tiny.truncate(34 + 7);
        tiny[16..18].copy_from_slice(&27u16.to_be_bytes());
        crate::offload::ipv4_checksum(&mut tiny, 14).unwrap();
        let out = feed(
            &r,
            &[frags[0].clone(), tiny, frags[1].clone(), frags[2].clone()],
        );
        assert_eq!(
            out,
            [
                Outcome::Held,
                Outcome::Dropped,
                Outcome::Held,
                Outcome::Held
            ]
        );
        assert_eq!(r.stats.malformed.load(Relaxed), 1);
        r.expire(TIMEOUT_MS);
        // IPv6: a middle fragment of 1444 bytes drops the datagram held and
        // goes on as it came (Linux's `nf_ct_frag6_queue`, -EPROTO); the
        // rest starts a datagram that never completes.
        let whole = udp6(3000);
        let frags = cut6(&whole, &[1448, 1448, 112], 6);
        let mut odd = frags[1].clone();
        odd.truncate(odd.len() - 4);
        odd[18..20].copy_from_slice(&(8u16 + 1444).to_be_bytes());
        let out = feed(
            &r,
            &[
                frags[0].clone(),
                odd.clone(),
                frags[1].clone(),
                frags[2].clone(),
            ],
        );
        assert_eq!(
            out,
            [Outcome::Held, Outcome::Passed, Outcome::Held, Outcome::Held]
        );
        assert_eq!(r.stats.malformed.load(Relaxed), 2);
        // With nothing held, it goes on all the same.
        r.expire(TIMEOUT_V6_MS);
        assert_eq!(feed(&r, &[odd]), [Outcome::Passed]);
        assert_eq!(r.pending(), 0);
    }

    /// The data capacity of the one datagram pending.
    fn held_capacity(r: &Reassembly) -> usize {
        r.shards
            .iter()
            .flat_map(|s| {
                s.lock()
                    .iter()
                    .flatten()
                    .map(|p| p.data.capacity())
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// Fragments that come in order grow what is held geometrically: each
    /// growth copies what is there, so growing by each fragment's length
    /// would copy the datagram once per fragment.
    #[test]
    fn held_data_grows_geometrically() {
        let whole = udp4(60_000, 24);
        let frags = cut4(&whole, &[240; 251]);
        let r = Reassembly::new(0).unwrap();
        let mut growths = 0;
        let mut capacity = 0;
        for f in &frags[..250] {
            assert_eq!(r.add(&fragment(f, None, 1).unwrap(), 0), Outcome::Held);
            let now = held_capacity(&r);
            growths += usize::from(now != capacity);
            capacity = now;
        }
        assert!(growths <= 16, "{growths} growths");
        assert!(capacity <= 2 * MAX_DATAGRAM, "{capacity}");
        let last = r.add(&fragment(&frags[250], None, 1).unwrap(), 0);
        assert!(matches!(&last, Outcome::Complete(d) if d.frame == whole));
        assert_eq!(r.used(), 0);
    }

    /// An incomplete IPv4 datagram goes after 30 s, an IPv6 one after 60 s
    /// (Linux's `ipfrag_time` and `IPV6_FRAG_TIMEOUT`).
    #[test]
    fn ipv6_datagrams_wait_60_seconds() {
        let r = Reassembly::new(0).unwrap();
        let v4 = cut4(&udp4(3000, 25), &[1480, 1480, 48]);
        let whole6 = udp6(3000);
        let v6 = cut6(&whole6, &[1448, 1448, 112], 25);
        feed(&r, &[v4[0].clone(), v6[0].clone(), v6[1].clone()]);
        r.expire(TIMEOUT_MS - 1);
        assert_eq!(r.pending(), 2);
        r.expire(TIMEOUT_MS);
        assert_eq!(r.pending(), 1);
        r.expire(TIMEOUT_V6_MS - 1);
        let last = r.add(&fragment(&v6[2], None, 1).unwrap(), TIMEOUT_V6_MS - 1);
        assert!(matches!(&last, Outcome::Complete(d) if d.frame == whole6));
        feed(&r, &[v6[0].clone()]);
        r.expire(TIMEOUT_V6_MS);
        assert_eq!((r.pending(), r.used()), (0, 0));
        assert_eq!(r.stats.timed_out.load(Relaxed), 2);
    }

    /// The IPv6 fragment ids output draws are keyed by the addresses and
    /// the table's seed (as Linux's `ipv6_select_ident`): one pair's ids
    /// say nothing of another's, nor of another table's.
    #[test]
    fn output_ids_are_keyed_by_the_addresses() {
        let r = Reassembly::new(0x5eed).unwrap();
        let (a, b, c) = ([1; 16], [2; 16], [3; 16]);
        let ab = r.next_id(a, b);
        let ac = r.next_id(a, c);
        assert_ne!(r.next_id(a, b), ab);
        let gap = ac.wrapping_sub(ab).min(ab.wrapping_sub(ac));
        assert!(gap > 1_000_000, "{ab:#x} {ac:#x}");
        let other = Reassembly::new(0x5eee).unwrap();
        assert_ne!(other.next_id(a, b), ab);
    }

    /// As Linux's `inet_frag_queue_insert`: a fragment that lies within a
    /// run of those held (fragments that came in order, each where the one
    /// before ended) is a duplicate, ignored; one that straddles runs, or
    /// reaches out of one, drops the datagram.
    #[test]
    fn fragments_within_a_run_are_duplicates() {
        let whole = udp4(3000, 26);
        let frags = cut4(&whole, &[1480, 1480, 48]);
        // A fragment of the datagram's data at `offset`, `len` bytes.
        let piece = |offset: usize, len: usize| {
            let mut f = whole[..34].to_vec();
            f.extend_from_slice(&whole[34 + offset..34 + offset + len]);
            f[16..18].copy_from_slice(&((20 + len) as u16).to_be_bytes());
            f[20..22].copy_from_slice(&(0x2000 | (offset / 8) as u16).to_be_bytes());
            crate::offload::ipv4_checksum(&mut f, 14).unwrap();
            f
        };
        let r = Reassembly::new(0).unwrap();
        // In order: one run of 2960 bytes; a piece inside either fragment,
        // or across the two, is a duplicate.
        let out = feed(
            &r,
            &[
                frags[0].clone(),
                frags[1].clone(),
                piece(8, 16),
                piece(1000, 1000),
                frags[2].clone(),
            ],
        );
        assert_eq!(out[2..4], [Outcome::Held, Outcome::Held]);
        assert!(matches!(&out[4], Outcome::Complete(d) if d.frame == whole));
        assert_eq!(r.stats.duplicate.load(Relaxed), 2);
        // Reversed: two runs; a piece inside one is a duplicate, one across
        // both an overlap.
        let out = feed(
            &r,
            &[
                frags[1].clone(),
                frags[0].clone(),
                piece(1480, 8),
                piece(1000, 1000),
            ],
        );
        assert_eq!(out[3], Outcome::Dropped);
        assert_eq!(r.stats.duplicate.load(Relaxed), 3);
        assert_eq!(r.stats.overlap.load(Relaxed), 1);
        // A piece with MF cleared ends the datagram short of data held:
        // malformed, before it is a duplicate.
        let mut short_end = piece(8, 16);
        short_end[20] &= !0x20;
        crate::offload::ipv4_checksum(&mut short_end, 14).unwrap();
        let out = feed(&r, &[frags[0].clone(), frags[1].clone(), short_end]);
        assert_eq!(out[2], Outcome::Dropped);
        assert_eq!(r.stats.malformed.load(Relaxed), 1);
        assert_eq!(r.pending(), 0);
    }

    use proptest::prelude::*;

    proptest! {
        /// Random trains of fragments (cut at random, shuffled, some
        /// duplicated, mixed with random fragments) never panic and never
        /// exceed the budget; a complete train always gives back the
        /// datagram.
        #[test]
        fn random_trains(
            n in 1usize..5000,
            cuts in proptest::collection::vec(1usize..200, 1..40),
            order in proptest::collection::vec(any::<u16>(), 40),
            noise in proptest::collection::vec((any::<u16>(), 0usize..300, any::<bool>()), 0..20),
            v6 in any::<bool>(),
        ) {
            let budget = 32 << 10;
            let r = Reassembly::with_budget(budget, 0).unwrap();
            let whole = if v6 { udp6(n) } else { udp4(n, 3) };
            let sizes: Vec<usize> = cuts.iter().map(|c| c * 8).collect();
            let mut train = if v6 { cut6(&whole, &sizes, 3) } else { cut4(&whole, &sizes) };
            // The fragments that carry data: at least two make a datagram.
            let pieces = sizes
                .iter()
                .scan(0, |sum, s| {
                    let before = *sum;
                    *sum += s;
                    Some(before)
                })
                .take_while(|&before| before < n + 8)
                .count();
            let covered: usize = sizes.iter().sum();
            let complete = covered >= n + 8 && (2..=MAX_FRAGS).contains(&pieces);
            // Cuts past the end make empty fragments, which (IPv4) would
            // drop the datagram: a sender sends none.
            train.truncate(pieces);
            // Shuffle, and duplicate some.
            for (i, o) in order.iter().enumerate() {
                let len = train.len();
                train.swap(i % len, usize::from(*o) % len);
            }
            if order[0] % 3 == 0 {
                let dup = train[usize::from(order[1]) % train.len()].clone();
                train.insert(0, dup);
            }
            let mut done = None;
            for (i, f) in train.iter().enumerate() {
                if let Some(f) = fragment(f, None, 0)
                    && let Outcome::Complete(d) = r.add(&f, i as u64)
                {
                    done = Some(d.frame);
                }
                prop_assert!(r.used() <= budget);
            }
            if complete && whole.len() - 14 + 8 <= budget {
                prop_assert_eq!(done.as_ref(), Some(&whole));
            }
            // Noise: fragments of random offsets, lengths and flags.
            let base = if v6 { cut6(&whole, &[8], 4) } else { cut4(&whole, &[8]) }[0].clone();
            for (off, len, more) in noise {
                let mut f = base.clone();
                f.truncate(if v6 { 62 } else { 34 });
                f.extend((0..len).map(|i| i as u8));
                if v6 {
                    f[18..20].copy_from_slice(&((8 + len) as u16).to_be_bytes());
                    f[56..58].copy_from_slice(&(off & 0xfff8 | u16::from(more)).to_be_bytes());
                } else {
                    f[16..18].copy_from_slice(&((20 + len) as u16).to_be_bytes());
                    f[20..22].copy_from_slice(&(off & 0x1fff | u16::from(more) << 13).to_be_bytes());
                }
                if let Some(f) = fragment(&f, None, 0) {
                    r.add(&f, 0);
                }
                prop_assert!(r.used() <= budget);
            }
            r.expire(TIMEOUT_V6_MS + 100);
            prop_assert_eq!((r.pending(), r.used()), (0, 0));
        }
    }
}
