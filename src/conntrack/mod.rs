//! Connection tracking (Linux `net/openvswitch/conntrack.c` over
//! `nf_conntrack`; OVS's `lib/conntrack*.c`): the CT action, the table of
//! connections, per-zone limits and expiry.
//!
//! The CT action runs a packet through the tracker of its zone and writes
//! the result into the flow key (`ct_state`, `ct_zone`, `ct_mark`,
//! `ct_labels`, the original tuple), as Linux does:
//! - an IP fragment is held until its datagram is complete (`frag`); the
//!   datagram then goes on in place of the fragment that completed it, its
//!   key read again and its MRU kept, and is cut to that MRU again when it
//!   leaves by a port (`refrag`);
//! - a packet it cannot read, or that its connection's protocol state
//!   refuses, is `+trk+inv` and goes on (the tracker never drops it);
//! - a packet of no connection is `+trk+new`, and only a committing action
//!   stores the connection; original-direction packets stay `+new` until a
//!   reply has been seen, then `+est`; replies are `+est+rpl`;
//! - an ICMP error quoting a packet of a connection is `+rel` (`+rpl` when
//!   it travels in that connection's reply direction);
//! - a connection a helper expected is `+rel` for its whole life, and
//!   `+new+rel` until stored;
//! - a packet already tracked in this zone by an earlier CT action (its key
//!   says so, as Linux's cached `skb->_nfct`) is not run through the
//!   protocol state machine again; a commit then stores or updates it; a
//!   packet found invalid is run through again;
//! - a commit that finds its tuples taken meanwhile by another processor
//!   looks again, and drops the packet (counted) if it keeps clashing;
//! - a commit over the zone's limit, or over the table's when no
//!   never-replied connection nearby can be dropped to make room, drops the
//!   packet and is counted (Linux's `ovs_ct_commit` error path).

pub mod action;
mod conn;
pub mod ctnetlink;
pub mod events;
pub mod expect;
pub mod format;
pub mod frag;
mod ftp;
mod icmp;
mod nat;
mod other;
mod packet;
pub mod parsed;
pub mod refrag;
pub mod table;
mod tcp;
mod tftp;
mod timeouts;
pub mod tuple;
pub mod zone;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::actions::headers;
use crate::diag::{self, Drop};
use crate::flow::FlowKey;
use crate::flow::key::{CtTuple, MAC_PROTO_ETHERNET};
use crate::ovs::key as k;
use crate::packet::Packet;
use action::{CtAction, Helper};
pub use conn::Conn;
use conn::{Ext, SeqAdj, Step};
use packet::{Kind, Segment, View};
use table::{Found, Refused, Table};
use tuple::Tuple;
use zone::Zones;

/// Default table limit (Linux's and the C driver's `CT_MAX_ENTRIES`).
pub const DEFAULT_LIMIT: u32 = 1 << 21;
/// Slots expiry examines per upkeep tick (a full pass over a million
/// connections in about 16 ticks).
pub const EXPIRE_BUDGET: usize = 1 << 16;

const TRK: u8 = k::CS_TRACKED as u8;
const NEW: u8 = k::CS_NEW as u8;
const EST: u8 = k::CS_ESTABLISHED as u8;
const REL: u8 = k::CS_RELATED as u8;
const RPL: u8 = k::CS_REPLY_DIR as u8;
const INV: u8 = k::CS_INVALID as u8;
const SNAT: u8 = k::CS_SRC_NAT as u8;
const DNAT: u8 = k::CS_DST_NAT as u8;

/// Why packets were dropped or connections not stored.
#[derive(Debug, Default)]
pub struct Stats {
    /// Commits refused: the table is full.
    pub full: AtomicU64,
    /// Commits refused: the zone is at its limit.
    pub zone_limit: AtomicU64,
    /// Commits refused: out of memory.
    pub no_memory: AtomicU64,
    /// Unreplied connections dropped to make room for a commit.
    pub early_drops: AtomicU64,
    /// Commits refused: NAT found no free tuple in its range.
    pub nat_exhausted: AtomicU64,
    /// Packets dropped: NAT could not rewrite them (cut short, or no
    /// memory to make them writable).
    pub nat_failed: AtomicU64,
    /// Packets marked invalid.
    pub invalid: AtomicU64,
    /// Packets dropped: their commit kept losing races for its tuples.
    pub clashes: AtomicU64,
    /// Packets dropped: they started a line with an FTP command or reply
    /// cut short or not well formed.
    pub partial: AtomicU64,
}

/// What the CT action decided for the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// A commit could not be honoured, or a fragment could not be taken
    /// in: drop the packet.
    Drop,
    /// A fragment held until its datagram is complete: its pipeline ends.
    Held,
}

pub struct Conntrack {
    table: Table,
    seed: u64,
    /// Draws of PROTO_RANDOM port choices.
    draws: AtomicU32,
    pub zones: Zones,
    pub stats: Stats,
    /// Fragments waiting for the rest of their datagram.
    pub frags: frag::Reassembly,
    /// Connections helpers announced.
    pub expects: expect::Expectations,
    /// The event groups some handle listens to (`event::group::CT_*`).
    listeners: AtomicU32,
    /// The wall clock (ns since the Unix epoch) when the datapath's clock
    /// read zero; 0 while the platform has not told it.
    wall_epoch_ns: AtomicU64,
}

/// Where events go (the datapath renders and queues them).
pub type Notify<'a> = dyn FnMut(&events::Event) + 'a;

/// The packet ends its connection and starts a new one.
struct Replaced;

/// Why `create` gave the packet no stored connection to go on with.
enum NotCreated {
    /// A commit could not be honoured: drop the packet.
    Drop,
    /// A commit found one of its tuples taken meanwhile (the connection
    /// committed on another processor, or NAT's choice made at the same
    /// time for another): look again.
    Raced,
}

/// Packets `read_ahead` reads ahead for at once.
pub const BATCH: usize = 32;
/// Below this many connections the table stays in cache, and reading
/// ahead would cost more than it saves.
const READ_AHEAD_MIN: u32 = 1 << 14;

/// A packet read for tracking ahead of its CT action (`read_ahead`): its
/// tuple and the fields its connection's state needs, the hash of its
/// tuple, and the connection reading ahead found for it.
#[derive(Clone, Copy, Default)]
pub struct Ahead {
    view: View,
    hash: u64,
    hint: Option<u32>,
    /// The packet was read (else the rest says nothing).
    read: bool,
}

/// What the tracker learns of a packet's connection beyond what it shows
/// in the key straight away (mark, labels, original tuple).
#[derive(Default)]
struct Seen {
    state: u8,
    /// The connection was stored before this packet.
    found: bool,
    /// What NAT does to the packet of a connection found without a helper,
    /// worked out under the lookup (`None` inside: it cannot be).
    translation: Option<Option<Translation>>,
    /// What NAT and helpers read, taken only for them: most packets need
    /// neither, and this is every packet's path.
    binding: Option<Binding>,
}

/// What NAT does to a packet that is not an ICMP error: the NAT bits for
/// its key, and the rewrite of its headers (`None`: they stay).
#[derive(Clone, Copy)]
struct Translation {
    bits: u8,
    rewrite: Option<nat::Rewrite>,
}

/// A connection's tuples and extension, as NAT and helpers read them.
#[derive(Clone, Copy)]
struct Binding {
    /// The packet travels in the reply direction.
    is_reply: bool,
    orig: Tuple,
    /// The stored connection's reply tuple (its NAT binding), if stored.
    reply: Option<Tuple>,
    /// The stored connection's helper and sequence corrections, and the
    /// control connection's original tuple if a helper expected it; `None`
    /// if it has none of them.
    ext: Option<Ext>,
}

/// The update events a change of a connection's mark, labels or replied
/// state (from `before`) causes.
fn update_causes(before: (u32, [u8; 16], bool), c: &Conn) -> u32 {
    let bit = |changed: bool, bit: u32| if changed { bit } else { 0 };
    bit(before.0 != c.mark, events::IPCT_MARK)
        | bit(before.1 != c.labels, events::IPCT_LABEL)
        | bit(before.2 != c.seen_reply, events::IPCT_REPLY)
}

/// Shows a connection's metadata in the key: its mark, labels and original
/// tuple (`orig`, or its master's if a helper expected it).
fn show(key: &mut FlowKey, mark: u32, labels: &[u8; 16], orig: &Tuple, ext: Option<&Ext>) {
    key.ct_mark = mark;
    key.ct_labels = *labels;
    key.ct_orig = ext.and_then(|e| e.master.as_ref()).unwrap_or(orig).to_key();
}

fn count(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// The NAT bits of a packet in direction `is_reply` of a connection with
/// these translations.
fn nat_bits(is_reply: bool, snat: bool, dnat: bool) -> u8 {
    match (is_reply, snat, dnat) {
        (_, true, true) => SNAT | DNAT,
        (false, true, _) | (true, _, true) => SNAT,
        (_, false, false) => 0,
        _ => DNAT,
    }
}

/// Whether the packet's transport checksum holds the pseudo-header sum
/// (its sender left it to the NIC, as every large send does).
fn partial<P: Packet>(pkt: &P) -> bool {
    let o = pkt.offload();
    o.checksums.tcp || o.checksums.udp || o.lso.is_some()
}

/// What NAT does to a packet (`view`, not an ICMP error) in direction
/// `is_reply` of the connection (`orig`, `reply`): worked out from the
/// connection alone, nothing of the packet written; `None` if it cannot be.
/// Inlined, so that it is built where it is kept (returned through memory,
/// the wide loads that copy it would wait for the stores that wrote it).
#[inline(always)]
fn translation(view: &View, orig: &Tuple, reply: &Tuple, is_reply: bool) -> Option<Translation> {
    let (snat, dnat) = nat::kinds(orig, reply);
    if !snat && !dnat {
        return Some(Translation {
            bits: 0,
            rewrite: None,
        });
    }
    let target = if is_reply {
        orig.reverse()?
    } else {
        reply.reverse()?
    };
    Some(Translation {
        bits: nat_bits(is_reply, snat, dnat),
        rewrite: nat::Rewrite::between(&view.tuple, &target),
    })
}

/// Counts a packet the tracker drops in `c`, and tells the operator why.
fn dropped(c: &AtomicU64, why: Drop, key: &FlowKey) {
    count(c);
    diag::dropped(why, Some(key.in_port));
}

/// A CT action of `zone` reads the packet of `key` straight away: not a
/// fragment, not a packet without an Ethernet header, not one an earlier
/// action of the zone tracked.
fn readable(key: &FlowKey, zone: u16) -> bool {
    key.mac_proto == MAC_PROTO_ETHERNET && key.ip_frag == k::FRAG_NONE && !tracked_in(key, zone)
}

/// The key says an earlier CT action of `zone` tracked the packet to a
/// connection; an invalid packet is tracked again (Linux's
/// `ovs_ct_executed`).
fn tracked_in(key: &FlowKey, zone: u16) -> bool {
    key.ct_state & (TRK | INV) == TRK && key.ct_zone == zone
}

/// Applies a masked write of `value` under `mask` to `old`.
fn masked_labels(old: &mut [u8; 16], value: &[u8; 16], mask: &[u8; 16]) {
    for ((o, v), m) in old.iter_mut().zip(value).zip(mask) {
        *o = (*o & !m) | (v & m);
    }
}

impl core::fmt::Debug for Conntrack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Conntrack")
            .field("connections", &self.table.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Conntrack {
    /// An empty tracker of at most `DEFAULT_LIMIT` connections; `None`
    /// when out of memory.
    pub fn new(seed: u64) -> Option<Conntrack> {
        Conntrack::with_limit(seed, DEFAULT_LIMIT)
    }

    /// An empty tracker of at most `limit` connections.
    pub fn with_limit(seed: u64, limit: u32) -> Option<Conntrack> {
        Some(Conntrack {
            table: Table::new(seed, limit)?,
            seed,
            draws: AtomicU32::new(0),
            zones: Zones::new()?,
            stats: Stats::default(),
            frags: frag::Reassembly::new(seed.rotate_left(17))?,
            expects: expect::Expectations::new()?,
            listeners: AtomicU32::new(0),
            wall_epoch_ns: AtomicU64::new(0),
        })
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Where the datapath's clock stands in calendar time: the wall clock
    /// (ns since the Unix epoch) when it read zero (the platform tells it
    /// at attach and on each upkeep tick, following clock changes).
    pub fn set_wall_epoch(&self, ns: u64) {
        self.wall_epoch_ns.store(ns, Relaxed);
    }

    /// The wall-clock time (ns since the Unix epoch) of `now_ms` on the
    /// datapath's clock; 0 if not known.
    fn wall_ns(&self, now_ms: u64) -> u64 {
        match self.wall_epoch_ns.load(Relaxed) {
            0 => 0,
            epoch => epoch.saturating_add(now_ms.saturating_mul(1_000_000)),
        }
    }

    /// The event groups handles have joined (after a subscription changes).
    pub fn set_listeners(&self, groups: u32) {
        self.listeners.store(groups, Relaxed);
    }

    /// The event groups someone listens to: events of other groups are
    /// not rendered.
    pub fn listeners(&self) -> u32 {
        self.listeners.load(Relaxed)
    }

    /// Sends an event about `conn` (with extension `ext`) if someone
    /// listens and its mask lets it.
    fn event(
        &self,
        notify: &mut Notify<'_>,
        kind: events::Kind,
        id: u32,
        conn: &Conn,
        ext: Option<&Ext>,
    ) {
        if self.listeners.load(Relaxed) & kind.group() != 0 && events::wanted(conn, kind) {
            notify(&events::Event {
                kind,
                id,
                conn: *conn,
                ext: ext.copied(),
            });
        }
    }

    /// Whether events of `kind` have listeners (so a copy is worth making).
    fn listening(&self, kind: events::Kind) -> bool {
        self.listeners.load(Relaxed) & kind.group() != 0
    }

    /// Runs `pkt`, whose flow key is `key`, through the CT action `ct`.
    pub fn execute<P: Packet>(
        &self,
        pkt: &mut P,
        key: &mut FlowKey,
        ct: &CtAction,
        now_ms: u64,
        notify: &mut Notify<'_>,
    ) -> Verdict {
        self.run(pkt, key, ct, now_ms, notify, None)
    }

    /// Reads up to `BATCH` packets a CT action of `zone` will run next,
    /// each into its slot of `ahead` (marked unread for a packet not given
    /// or not read straight away: a fragment, one the action leaves
    /// alone), and in a table too large for the cache reads ahead the
    /// connections they will look up, so that their cache misses overlap.
    /// Nothing changes; `execute_read` then runs each packet from its slot.
    pub fn read_ahead<'a, P: Packet + 'a>(
        &self,
        zone: u16,
        pkts: impl IntoIterator<Item = Option<(&'a P, &'a FlowKey)>>,
        ahead: &mut [Ahead],
    ) {
        let large = self.table.len() >= READ_AHEAD_MIN;
        // The index entries are prefetched once all packets are read, in a
        // loop of their own, then the connections they name: a prefetch
        // whose page is not in the TLB holds up what follows it until the
        // page is walked, and in a tight loop those walks overlap.
        let (mut hashes, mut n) = ([0; BATCH], 0);
        for (p, a) in pkts.into_iter().zip(ahead.iter_mut()) {
            a.read = p.is_some_and(|(p, k)| self.read(p, k, zone, a));
            if a.read
                && large
                && let Some(h) = hashes.get_mut(n)
            {
                *h = a.hash;
                n += 1;
            }
        }
        if large {
            let hashes = hashes.get(..n).unwrap_or_default();
            for &h in hashes {
                self.table.prefetch_index(h);
            }
            let mut found = [None; BATCH];
            self.table.read_ahead(hashes, &mut found);
            let read = ahead.iter_mut().filter(|a| a.read);
            for (a, hint) in read.zip(found) {
                a.hint = hint;
            }
        }
    }

    /// `execute`, for a packet `read_ahead` read into `ahead` (for this
    /// action's zone, nothing having changed the packet since).
    pub fn execute_read<P: Packet>(
        &self,
        pkt: &mut P,
        key: &mut FlowKey,
        ct: &CtAction,
        now_ms: u64,
        notify: &mut Notify<'_>,
        ahead: Option<&Ahead>,
    ) -> Verdict {
        let ahead =
            ahead.filter(|a| a.read && a.view.tuple.zone == ct.zone && readable(key, ct.zone));
        self.run(pkt, key, ct, now_ms, notify, ahead)
    }

    /// Reads the packet into `a` as its run will read it, if that is
    /// straight away (`readable`); whether it did.
    fn read<P: Packet>(&self, pkt: &P, key: &FlowKey, zone: u16, a: &mut Ahead) -> bool {
        readable(key, zone) && self.parse(pkt, zone, false, a)
    }

    /// Reads the packet into `a`, its tuple's hash too; whether it could.
    #[inline]
    fn parse<P: Packet>(&self, pkt: &P, zone: u16, fragment: bool, a: &mut Ahead) -> bool {
        let large = || pkt.offload().lso.is_some();
        if fragment {
            return false;
        }
        // Hashed from the tuple as read, not as written into `a`.
        match packet::parse_into(pkt.data(), pkt.oob_vlan(), zone, large, &mut a.view) {
            Some(t) => {
                a.hash = self.table.hash(&t);
                true
            }
            None => false,
        }
    }

    /// `execute`, with the packet already read if `ahead` says so.
    fn run<P: Packet>(
        &self,
        pkt: &mut P,
        key: &mut FlowKey,
        ct: &CtAction,
        now_ms: u64,
        notify: &mut Notify<'_>,
        ahead: Option<&Ahead>,
    ) -> Verdict {
        let zone = ct.zone;
        let cached = tracked_in(key, zone);
        // NAT once per packet and zone, as Linux's NAT bits in the key say.
        let nat = ct.nat.is_some() && !(cached && key.ct_state & (SNAT | DNAT) != 0);
        if cached && !ct.commit && !nat {
            return Verdict::Continue;
        }
        // A packet without an Ethernet header (after pop_eth) is not read
        // here: it is invalid.
        let ethernet = key.mac_proto == MAC_PROTO_ETHERNET;
        if ethernet && key.ip_frag != k::FRAG_NONE {
            match self.defragment(pkt, key, zone, now_ms) {
                Verdict::Continue => {}
                other => return other,
            }
        }
        let fragment = key.ip_frag != k::FRAG_NONE;
        // Built only for a packet not read ahead.
        let mut parsed;
        let ahead = match ahead {
            Some(a) => a,
            None => {
                parsed = Ahead::default();
                if !(ethernet && self.parse(pkt, zone, fragment, &mut parsed)) {
                    self.invalid(key, zone);
                    return Verdict::Continue;
                }
                &parsed
            }
        };
        let mut view = &ahead.view;
        let mut seen = Seen::default();
        let reparsed;
        match self.track(ahead, ct, cached, nat, key, now_ms, notify, &mut seen) {
            Ok(true) if matches!(seen.translation, Some(None)) => {
                dropped(&self.stats.nat_failed, Drop::NatFailed, key);
                Verdict::Drop
            }
            Ok(true) => {
                // Helpers read a packet once: on its first pass, or on the
                // commit that stores its connection (as Linux's
                // `__ovs_ct_lookup`).
                if let Some(b) = &seen.binding
                    && let Some(helper) = b.ext.and_then(|e| e.helper)
                    && (if seen.found { !cached } else { ct.commit })
                {
                    if !self.help(helper, pkt, view, b, now_ms) {
                        return Verdict::Drop;
                    }
                    // The payload may have changed length.
                    let large = pkt.offload().lso.is_some();
                    match packet::parse(pkt.data(), pkt.oob_vlan(), zone, large) {
                        Some(v) => {
                            reparsed = v;
                            view = &reparsed;
                        }
                        None => return Verdict::Drop,
                    }
                }
                if let Some(Some(t)) = &seen.translation {
                    match Self::rewrite(pkt, key, view, t) {
                        Some(bits) => seen.state |= bits,
                        None => {
                            dropped(&self.stats.nat_failed, Drop::NatFailed, key);
                            return Verdict::Drop;
                        }
                    }
                } else if nat
                    && let Some(b) = &seen.binding
                    && let Some(reply) = b.reply
                {
                    match self.translate(pkt, key, view, &b.orig, &reply, b.is_reply) {
                        Some(bits) => seen.state |= bits,
                        None => {
                            dropped(&self.stats.nat_failed, Drop::NatFailed, key);
                            return Verdict::Drop;
                        }
                    }
                }
                if cached {
                    // Linux keeps the NAT bits of an earlier pass.
                    seen.state |= key.ct_state & (SNAT | DNAT);
                }
                key.ct_state = seen.state;
                key.ct_zone = zone;
                Verdict::Continue
            }
            Ok(false) => {
                self.invalid(key, zone);
                Verdict::Continue
            }
            Err(()) => Verdict::Drop,
        }
    }

    /// A fragment: held, or the datagram it completed becomes the packet,
    /// its key read again and its MRU set (Linux's
    /// `ovs_ct_handle_fragments`). A fragment that cannot be read, or that
    /// the reassembly passes on, goes on (to be marked invalid).
    fn defragment<P: Packet>(
        &self,
        pkt: &mut P,
        key: &mut FlowKey,
        zone: u16,
        now_ms: u64,
    ) -> Verdict {
        let outcome = match frag::fragment(pkt.data(), pkt.oob_vlan(), u32::from(zone)) {
            Some(f) => self.frags.add(&f, now_ms),
            None => return Verdict::Continue,
        };
        match outcome {
            frag::Outcome::Held => Verdict::Held,
            frag::Outcome::Dropped => Verdict::Drop,
            frag::Outcome::Passed => Verdict::Continue,
            frag::Outcome::Complete(d) => {
                let whole = pkt.replace(&d.frame)
                    && crate::flow::extract::extract_typed(pkt.data(), pkt.oob_vlan(), key).is_ok();
                if !whole {
                    count(&self.frags.stats.no_room);
                    return Verdict::Drop;
                }
                pkt.set_mru(d.mru);
                Verdict::Continue
            }
        }
    }

    fn invalid(&self, key: &mut FlowKey, zone: u16) {
        count(&self.stats.invalid);
        key.ct_state = TRK | INV;
        key.ct_zone = zone;
        key.ct_mark = 0;
        key.ct_labels = [0; 16];
        key.ct_orig = CtTuple::default();
    }

    /// Fills `seen` with the packet's connection state and shows its
    /// metadata in `key` (`nat`: the action translates the packet): false
    /// for invalid, `Err` to drop.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn track(
        &self,
        ahead: &Ahead,
        ct: &CtAction,
        cached: bool,
        nat: bool,
        key: &mut FlowKey,
        now_ms: u64,
        notify: &mut Notify<'_>,
        seen: &mut Seen,
    ) -> Result<bool, ()> {
        let (view, hash) = (&ahead.view, ahead.hash);
        let fill = |seen: &mut Seen, s: Option<Seen>| s.map(|s| *seen = s).is_some();
        // A packet an earlier action of the zone translated carries the
        // reverse of its connection's other tuple: it is found by that,
        // the other way (Linux's `ovs_ct_find_existing` when `natted`), or
        // a commit of a retransmitted SYN, or of a datagram sent again
        // before any reply, would clash with its own connection.
        let translated = cached && key.ct_state & (SNAT | DNAT) != 0;
        if let Kind::IcmpError { quoted, .. } = view.kind {
            let related = self.related(&quoted, translated, ct, key, now_ms, notify);
            return Ok(fill(seen, related));
        }
        let updates = self.listening(events::Kind::Update(0));
        let back = if translated {
            view.tuple.reverse()
        } else {
            None
        };
        let (tuple, hash, hint) = match &back {
            Some(t) => (t, self.table.hash(t), None),
            None => (&view.tuple, hash, ahead.hint),
        };
        // Three passes at most: one more after removing a connection the
        // packet replaces (timed out, reopened, or forced the other way),
        // or after its commit lost a race for one of its tuples.
        for _ in 0..3 {
            let mut changed = None;
            let found = self
                .table
                .lookup_hashed(tuple, hash, hint, now_ms, |(c, ext, reply)| {
                    let reply = reply != back.is_some();
                    if ct.force && reply {
                        return Err(Replaced);
                    }
                    let ext = ext.map(|e| &*e);
                    // Kept only for listeners: most packets have none.
                    let before = updates.then_some((c.mark, c.labels, c.seen_reply));
                    // Acknowledgements of data a helper rewrote are read as
                    // the sender meant them.
                    let unmoved;
                    let adj = ext.and_then(|e| e.seqadj.get(usize::from(!reply)));
                    let view = match (view.kind, adj) {
                        (Kind::Tcp(mut seg), Some(adj)) if *adj != SeqAdj::default() => {
                            seg.ack = seg.ack.wrapping_sub(adj.ack(seg.ack) as u32);
                            unmoved = View {
                                kind: Kind::Tcp(seg),
                                ..*view
                            };
                            &unmoved
                        }
                        _ => view,
                    };
                    if !cached {
                        match c.update(view, reply, now_ms) {
                            Step::Valid => {}
                            Step::Invalid => return Ok(false),
                            Step::Reopen => return Err(Replaced),
                        }
                    }
                    if ct.commit {
                        Self::set_metadata(c, ct);
                    }
                    if let Some(before) = before {
                        let causes = update_causes(before, c);
                        if causes != 0 {
                            changed = Some((*c, ext.copied(), causes));
                        }
                    }
                    // A connection a helper expected is related for its whole
                    // life (Linux's `ovs_ct_update_key`: `ct->master`).
                    let related = if ext.is_some_and(|e| e.master.is_some()) {
                        REL
                    } else {
                        0
                    };
                    seen.state = related
                        | match (reply, c.seen_reply) {
                            (true, _) => TRK | EST | RPL,
                            (false, true) => TRK | EST,
                            (false, false) if related != 0 => TRK,
                            (false, false) => TRK | NEW,
                        };
                    show(key, c.mark, &c.labels, &c.orig, ext);
                    seen.found = true;
                    // Worked out here from the record, the packet rewritten
                    // once the lock is dropped: making it writable may take a
                    // buffer from the platform.
                    let helper = ext.is_some_and(|e| e.helper.is_some());
                    if nat && !helper {
                        seen.translation = Some(translation(&ahead.view, &c.orig, &c.reply, reply));
                    } else if helper {
                        seen.binding = Some(Binding {
                            is_reply: reply,
                            orig: c.orig,
                            reply: Some(c.reply),
                            ext: ext.copied(),
                        });
                    }
                    Ok(true)
                });
            match found {
                Found::Live(id, Ok(valid)) => {
                    if let Some((c, ext, causes)) = changed {
                        self.event(notify, events::Kind::Update(causes), id, &c, ext.as_ref());
                    }
                    return Ok(valid);
                }
                Found::Live(id, Err(Replaced)) => self.remove(id, |c| c.has(tuple), notify),
                Found::Expired(id) => self.remove(id, |c| c.expired(now_ms), notify),
                Found::Missing => match self.create(view, ct, key, now_ms, notify) {
                    Ok(created) => return Ok(fill(seen, created)),
                    Err(NotCreated::Drop) => return Err(()),
                    Err(NotCreated::Raced) => {}
                },
            }
        }
        // Lost every race: Linux drops a packet whose connection still
        // clashes when it is confirmed.
        dropped(&self.stats.clashes, Drop::CtClash, key);
        Err(())
    }

    /// An ICMP error: RELATED to the connection of the packet it quotes
    /// (which travelled the other way), if there is one. Once `translated`,
    /// the quoted packet is as the other side of the translation saw it:
    /// a tuple of the connection the way the error does not go. A commit
    /// sets that connection's mark and labels (Linux's `ovs_ct_commit`
    /// sets them on the connection the error is attached to).
    fn related(
        &self,
        quoted: &Tuple,
        translated: bool,
        ct: &CtAction,
        key: &mut FlowKey,
        now_ms: u64,
        notify: &mut Notify<'_>,
    ) -> Option<Seen> {
        let back = if translated {
            *quoted
        } else {
            quoted.reverse()?
        };
        let updates = ct.commit && self.listening(events::Kind::Update(0));
        let mut changed = None;
        let found = self.table.lookup(&back, now_ms, |(c, ext, reply)| {
            let reply = reply != translated;
            let ext = ext.map(|e| &*e);
            if ct.commit {
                let before = (c.mark, c.labels, c.seen_reply);
                Self::set_metadata(c, ct);
                if updates {
                    let causes = update_causes(before, c);
                    if causes != 0 {
                        changed = Some((*c, ext.copied(), causes));
                    }
                }
            }
            // A connection a helper expected shows its master's tuple.
            show(key, c.mark, &c.labels, &c.orig, ext);
            Seen {
                state: TRK | REL | if reply { RPL } else { 0 },
                found: true,
                translation: None,
                binding: Some(Binding {
                    is_reply: reply,
                    orig: c.orig,
                    reply: Some(c.reply),
                    ext: None,
                }),
            }
        });
        match found {
            Found::Live(id, seen) => {
                if let Some((c, ext, causes)) = changed {
                    self.event(notify, events::Kind::Update(causes), id, &c, ext.as_ref());
                }
                Some(seen)
            }
            _ => None,
        }
    }

    /// A packet of no connection: NEW, and stored if committed.
    fn create(
        &self,
        view: &View,
        ct: &CtAction,
        key: &mut FlowKey,
        now_ms: u64,
        notify: &mut Notify<'_>,
    ) -> Result<Option<Seen>, NotCreated> {
        let Some(reply) = view.tuple.reverse() else {
            return Ok(None);
        };
        let Some(mut conn) = Conn::new(view, reply, now_ms) else {
            return Ok(None);
        };
        let mut stored = None;
        let expected = self.expects.find(&view.tuple, now_ms, false);
        let mut ext = Ext {
            master: expected.map(|e| e.master),
            ..Ext::default()
        };
        // NAT as the helper said: where the announcement really pointed,
        // and the peer as the other side knows it. Where that translates,
        // it is the connection's NAT, whatever NAT a commit asks for.
        if let Some(e) = expected {
            (conn.reply.src, conn.reply.dst, conn.reply.sport) = e.reply;
        }
        let follows = conn.reply != reply;
        if ct.commit {
            Self::set_metadata(&mut conn, ct);
            conn.started_ns = self.wall_ns(now_ms);
            ext.helper = ct.helper;
            if let Some(n) = ct.nat.filter(|n| n.kind.is_some() && !follows) {
                let random = || self.draws.fetch_add(0x9e37_79b9, Relaxed) ^ now_ms as u32;
                let Some(r) = nat::choose(&self.table, &conn.orig, &n, self.seed, random) else {
                    let why = Drop::NatExhausted(view.tuple.zone);
                    dropped(&self.stats.nat_exhausted, why, key);
                    return Err(NotCreated::Drop);
                };
                conn.reply = r;
            }
            if !self.zones.try_take(view.tuple.zone) {
                let why = Drop::CtZoneLimit(view.tuple.zone);
                dropped(&self.stats.zone_limit, why, key);
                return Err(NotCreated::Drop);
            }
            let stored_ext = ext.needed().then_some(ext);
            let mut inserted = self.table.insert(conn, stored_ext);
            // Full: make room by dropping a connection that was never
            // replied to, near where this one goes (Linux's early drop).
            if inserted == Err(Refused::Full)
                && let Some(victim) = self.table.unreplied_near(&conn.orig)
            {
                count(&self.stats.early_drops);
                self.remove(victim, |c| !c.seen_reply, notify);
                inserted = self.table.insert(conn, stored_ext);
            }
            match inserted {
                Ok(id) => {
                    stored = Some(conn.reply);
                    if ext.master.is_some() {
                        self.expects.find(&view.tuple, now_ms, true);
                    }
                    self.event(notify, events::Kind::New, id, &conn, stored_ext.as_ref());
                }
                Err(e) => {
                    self.zones.release(view.tuple.zone);
                    match e {
                        Refused::Exists => return Err(NotCreated::Raced),
                        Refused::Full => {
                            dropped(&self.stats.full, Drop::CtFull, key);
                            return Err(NotCreated::Drop);
                        }
                        Refused::NoMemory => {
                            dropped(&self.stats.no_memory, Drop::CtNoMemory, key);
                            return Err(NotCreated::Drop);
                        }
                    }
                }
            }
        }
        show(key, conn.mark, &conn.labels, &conn.orig, Some(&ext));
        Ok(Some(Seen {
            // Not stored before this packet: new, as Linux shows every
            // unconfirmed connection, related too if a helper expected it.
            state: TRK | NEW | if ext.master.is_some() { REL } else { 0 },
            found: false,
            translation: None,
            binding: Some(Binding {
                is_reply: false,
                orig: conn.orig,
                reply: stored,
                ext: Some(Ext {
                    helper: stored.and(ext.helper),
                    ..ext
                }),
            }),
        }))
    }

    /// Runs `helper` on a packet of its connection: an announced data
    /// connection (FTP) or transfer (TFTP) is expected, from the peer of
    /// the announcing side, if the FTP sender announced its own address.
    /// Under NAT the announced address becomes the one the peer sees (and
    /// the port the next free one if another control connection expects
    /// it), and the TCP sequence numbers of both directions follow the
    /// change of length for the rest of the connection (Linux's
    /// `nf_conntrack_ftp`, `nf_nat_ftp`, `nf_ct_seqadj`,
    /// `nf_conntrack_tftp`, `nf_nat_tftp`). False to drop the packet: it
    /// could not be rewritten, or what it announces not be expected.
    fn help<P: Packet>(
        &self,
        helper: Helper,
        pkt: &mut P,
        view: &View,
        b: &Binding,
        now_ms: u64,
    ) -> bool {
        let Some(reply) = b.reply else {
            return true;
        };
        let (orig, is_reply) = (b.orig, b.is_reply);
        let t = &view.tuple;
        let natted = reply.reverse() != Some(orig);
        let end = (view.l3 + view.len as usize).min(pkt.len());
        match (helper, view.kind) {
            (Helper::Ftp, Kind::Tcp(seg)) => {
                let frame = pkt.data();
                // A segment whose checksum is wrong goes on as it is, to be
                // dropped by its receiver (Linux's tracker finds it invalid):
                // neither read nor summed afresh.
                let offload = pkt.offload();
                let left_to_nic = offload.checksums.tcp || offload.lso.is_some();
                if !left_to_nic && !crate::offload::tcp_checksum_ok(frame) {
                    return true;
                }
                let hlen = frame
                    .get(view.l4 + 12)
                    .map_or(0, |o| usize::from(o >> 4) * 4);
                let start = view.l4 + hlen;
                let payload = frame.get(start..end).unwrap_or_default();
                // The sender's address and the one its peer sees; the
                // peer's, and the one the sender sees, as the connection's
                // tuples have them.
                let (real, apparent, peer, peer_apparent) = if is_reply {
                    (reply.src, orig.dst, orig.src, reply.dst)
                } else {
                    (orig.src, reply.dst, reply.src, orig.dst)
                };
                // Only a segment that starts a line is read; one that starts
                // a command cut short or not well formed is dropped, for its
                // sender to send it again whole (Linux's `find_nl_seq`,
                // partial matches).
                let dir = usize::from(is_reply);
                let lines = b.ext.and_then(|e| e.lines.get(dir).copied());
                let lines = lines.unwrap_or_default();
                let found = lines
                    .starts(seg.seq)
                    .then(|| ftp::announce(payload, is_reply, t.v6 == 1))
                    .flatten();
                if let Some(Err(ftp::Partial)) = found {
                    count(&self.stats.partial);
                    return false;
                }
                if payload.last() == Some(&b'\n') {
                    let next = seg.seq.wrapping_add(payload.len() as u32);
                    let mut known = lines;
                    if known.ended(next) {
                        self.table.lookup(&orig, now_ms, |(_, ext, _)| {
                            if let Some(l) = ext.and_then(|e| e.lines.get_mut(dir)) {
                                l.ended(next);
                            }
                        });
                    }
                }
                let mut rewrite = None;
                // Another address than the sender's own opens nothing and is
                // left as it is (Linux's `loose` off): no way in for a third
                // machine.
                if let Some(Ok(a)) = found
                    && a.addr.is_none_or(|x| x == real)
                {
                    let expected = Tuple {
                        src: peer,
                        dst: apparent,
                        sport: 0,
                        dport: a.port,
                        ..*t
                    };
                    let back = (real, peer_apparent, a.port);
                    let Ok(port) = self.expect(expected, orig, back, natted, now_ms) else {
                        return false;
                    };
                    if (a.addr.is_some() && apparent != real) || port != a.port {
                        let Some(text) = a.form.render(&apparent, port, t.v6 == 1) else {
                            count(&self.stats.nat_failed);
                            return false;
                        };
                        rewrite = Some((text, start + a.at.start..start + a.at.end));
                    }
                }
                let done = self.mangle(pkt, view, &seg, b, rewrite, now_ms);
                if !done {
                    count(&self.stats.nat_failed);
                }
                done
            }
            (Helper::Tftp, Kind::Plain) if t.proto == tuple::IPPROTO_UDP && !is_reply => {
                let payload = pkt.data().get(view.l4 + 8..end).unwrap_or_default();
                if tftp::is_request(payload) {
                    let expected = Tuple {
                        src: reply.src,
                        dst: reply.dst,
                        sport: 0,
                        dport: reply.dport,
                        ..*t
                    };
                    // The transfer's replies go back to the client's own port.
                    let back = (orig.src, orig.dst, orig.sport);
                    return self.expect(expected, orig, back, false, now_ms).is_ok();
                }
                true
            }
            _ => true,
        }
    }

    /// Expects `expected` for the control connection `master` (`back`: the
    /// addresses and port its replies are translated to; `move_port`: see
    /// `Expectations::add`), and the port expected. If that connection
    /// went meanwhile, removed on another processor after this packet
    /// found it, the expectation goes too: its removal may have looked for
    /// expectations before this one was added.
    fn expect(
        &self,
        expected: Tuple,
        master: Tuple,
        back: expect::Reply,
        move_port: bool,
        now_ms: u64,
    ) -> Result<u16, expect::Refused> {
        let port = self
            .expects
            .add(expected, master, back, now_ms, move_port)?;
        if !self.table.in_use(&master) {
            self.expects.forget(&master);
        }
        Ok(port)
    }

    /// Replaces the bytes at `rewrite`'s range with its text (recording
    /// the change of length), and moves the segment's sequence and
    /// acknowledgement numbers as the connection's corrections say.
    fn mangle<P: Packet>(
        &self,
        pkt: &mut P,
        view: &View,
        seg: &Segment,
        b: &Binding,
        rewrite: Option<(ftp::Text, core::ops::Range<usize>)>,
        now_ms: u64,
    ) -> bool {
        let dir = usize::from(b.is_reply);
        let seqadj = b.ext.map(|e| e.seqadj).unwrap_or_default();
        let mine = seqadj.get(dir).copied().unwrap_or_default();
        let theirs = seqadj.get(1 - dir).copied().unwrap_or_default();
        if let Some((text, at)) = rewrite {
            let frame = pkt.data();
            let delta = text.bytes().len() as i32 - at.len() as i32;
            let (Some(head), Some(tail)) = (frame.get(..at.start), frame.get(at.end..)) else {
                return false;
            };
            let mut f = alloc::vec::Vec::new();
            if f.try_reserve_exact(head.len() + text.bytes().len() + tail.len())
                .is_err()
            {
                return false;
            }
            f.extend_from_slice(head);
            f.extend_from_slice(text.bytes());
            f.extend_from_slice(tail);
            let v6 = view.tuple.v6 == 1;
            let (at_len, len) = if v6 {
                (view.l3 + 4, view.len as i32 - 40 + delta)
            } else {
                (view.l3 + 2, view.len as i32 + delta)
            };
            let Ok(len) = u16::try_from(len) else {
                return false;
            };
            if headers::put(&mut f, at_len, len.to_be_bytes()).is_none() || !pkt.replace(&f) {
                return false;
            }
            let moved = mine.moved(seg.seq, delta);
            self.table.lookup(&b.orig, now_ms, |(_, ext, _)| {
                if let Some(s) = ext.and_then(|e| e.seqadj.get_mut(dir)) {
                    *s = moved;
                }
            });
        } else if mine == SeqAdj::default() && theirs == SeqAdj::default() {
            return true;
        }
        let seq = seg.seq.wrapping_add(mine.seq(seg.seq) as u32);
        let acks = seg.flags & packet::TCP_ACK != 0;
        let unmove = |n: u32| n.wrapping_sub(theirs.ack(n) as u32);
        let ack = if acks { unmove(seg.ack) } else { seg.ack };
        // A checksum left to the NIC holds the pseudo-header sum, which
        // follows the length (a large send's leaves the length out).
        let offload = pkt.offload();
        let (partial, large) = (offload.checksums.tcp, offload.lso.is_some());
        let sums = crate::offload::Checksums {
            ip: view.tuple.v6 == 0,
            tcp: !partial && !large,
            udp: false,
        };
        pkt.data_mut().is_some_and(|f| {
            headers::put(f, view.l4 + 4, seq.to_be_bytes()).is_some()
                && headers::put(f, view.l4 + 8, ack.to_be_bytes()).is_some()
                && (!acks || Self::unmove_sack(f, view.l4, unmove).is_some())
                && crate::offload::complete_checksums(f, sums).is_ok()
                && (!partial || large || crate::offload::tcp_pseudo_sum(f).is_ok())
        })
    }

    /// Moves the edges of the SACK blocks of the TCP header at `l4` as its
    /// acknowledgement (Linux's `nf_ct_sack_adjust`).
    fn unmove_sack(f: &mut [u8], l4: usize, unmove: impl Fn(u32) -> u32) -> Option<()> {
        let hlen = usize::from(*f.get(l4 + 12)? >> 4) * 4;
        let opts = l4 + 20..l4 + hlen.max(20);
        // At most ten edges fit in 40 bytes of options.
        let mut edges = [0usize; 10];
        let mut n = 0;
        for (slot, at) in edges
            .iter_mut()
            .zip(packet::sack_edges(f.get(opts.clone())?))
        {
            *slot = opts.start + at;
            n += 1;
        }
        for &at in edges.get(..n)? {
            let edge = u32::from_be_bytes(headers::get(f, at)?);
            headers::put(f, at, unmove(edge).to_be_bytes())?;
        }
        Some(())
    }

    /// Rewrites the packet of a connection (`orig`, `reply`) as its NAT
    /// binding says; the NAT bits for the key (`None`: the packet could not
    /// be rewritten).
    fn translate<P: Packet>(
        &self,
        pkt: &mut P,
        key: &mut FlowKey,
        view: &View,
        orig: &Tuple,
        reply: &Tuple,
        is_reply: bool,
    ) -> Option<u8> {
        let Kind::IcmpError { quoted, inner_l3 } = view.kind else {
            return Self::rewrite(pkt, key, view, &translation(view, orig, reply, is_reply)?);
        };
        let (snat, dnat) = nat::kinds(orig, reply);
        if !snat && !dnat {
            return Some(0);
        }
        let bits = nat_bits(is_reply, snat, dnat);
        let len = pkt.len();
        let outer = nat::headers_of(view, len, partial(pkt));
        let f = pkt.data_mut()?;
        {
            {
                // The quoted packet travelled the other way: it becomes
                // that packet as the other side of the translation saw it.
                let inner_to = if is_reply { orig } else { reply };
                if let Some(rw) = nat::Rewrite::between(&quoted, inner_to) {
                    let inner = nat::quoted_headers(f, inner_l3, outer.end, &quoted)?;
                    nat::apply(f, &inner, &rw)?;
                }
                // The outer address on the translated side.
                let rw = nat::Rewrite {
                    src: match (is_reply, snat, dnat) {
                        (true, _, true) => Some(orig.dst),
                        (false, true, _) => Some(reply.dst),
                        _ => None,
                    },
                    dst: match (is_reply, snat, dnat) {
                        (true, true, _) => Some(orig.src),
                        (false, _, true) => Some(reply.src),
                        _ => None,
                    },
                    ..nat::Rewrite::default()
                };
                nat::apply(f, &outer, &rw)?;
                nat::icmp_checksum(f, &outer)?;
                nat::update_key(key, &rw, view.tuple.v6 == 1, false);
            }
        }
        Some(bits)
    }

    /// Rewrites the packet `view` describes as `t` says; its NAT bits
    /// (`None`: the packet could not be rewritten). Inlined where the
    /// translation was worked out, as what it calls (it is every NAT
    /// packet's path).
    #[inline(always)]
    fn rewrite<P: Packet>(
        pkt: &mut P,
        key: &mut FlowKey,
        view: &View,
        t: &Translation,
    ) -> Option<u8> {
        if let Some(rw) = &t.rewrite {
            let outer = nat::headers_of(view, pkt.len(), partial(pkt));
            nat::apply(pkt.data_mut()?, &outer, rw)?;
            // The key has no ICMP identifier (its ports are the type and
            // code).
            let ports = nat::has_ports(view.tuple.proto);
            nat::update_key(key, rw, view.tuple.v6 == 1, ports);
        }
        Some(t.bits)
    }

    /// What a commit sets: mark, labels, and the events to send (as Linux's
    /// `ovs_ct_commit` sets the connection's event mask on each commit).
    fn set_metadata(c: &mut Conn, ct: &CtAction) {
        if let Some(mask) = ct.eventmask {
            c.eventmask = mask as u16;
        }
        if let Some((value, mask)) = ct.mark {
            c.mark = (c.mark & !mask) | (value & mask);
        }
        if let Some((value, mask)) = &ct.labels {
            masked_labels(&mut c.labels, value, mask);
        }
    }

    /// Removes connection `id` if `still` holds for it (`Table::remove`).
    fn remove(&self, id: u32, still: impl FnOnce(&Conn) -> bool, notify: &mut Notify<'_>) {
        if let Some((c, ext)) = self.table.remove(id, still) {
            self.gone(id, &c, ext, notify);
        }
    }

    /// Accounts for a connection that went, and drops what it expected.
    fn gone(&self, id: u32, c: &Conn, ext: Option<Ext>, notify: &mut Notify<'_>) {
        self.zones.release(c.orig.zone);
        // Only a connection with a helper announces expectations.
        if ext.is_some_and(|e| e.helper.is_some()) {
            self.expects.forget(&c.orig);
        }
        self.event(notify, events::Kind::Destroy, id, c, ext.as_ref());
    }

    /// Removes the connection with tuple `t` (either way); false if there
    /// is none.
    pub fn remove_tuple(&self, t: &Tuple, now_ms: u64, notify: &mut Notify<'_>) -> bool {
        match self.table.lookup(t, now_ms, |_| ()) {
            Found::Live(id, ()) | Found::Expired(id) => {
                self.remove(id, |c| c.has(t), notify);
                true
            }
            Found::Missing => false,
        }
    }

    /// Upkeep: expires timed-out connections, a bounded number of slots a
    /// call.
    pub fn expire(&self, now_ms: u64, notify: &mut Notify<'_>) {
        self.frags.expire(now_ms);
        self.expects.expire(now_ms);
        self.table.expire(now_ms, EXPIRE_BUDGET, |id, c, ext| {
            self.gone(id, &c, ext, notify)
        });
    }

    /// Removes every connection `pred` selects (flushes, a switch detaching).
    pub fn flush(&self, pred: impl FnMut(&Conn) -> bool, notify: &mut Notify<'_>) {
        self.table
            .remove_if(pred, |id, c, ext| self.gone(id, &c, ext, notify));
    }
}

#[cfg(test)]
mod tests {
    use super::action::{Nat, NatKind};
    use super::*;
    use crate::flow::extract::extract;
    use crate::offload::{Checksums, complete_checksums};
    use crate::packet::{OwnedPacket, Watched};
    use std::vec::Vec;

    pub(super) fn v6(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = last;
        a
    }

    /// Ethernet/IPv6 around `l4` (`proto`), transport checksum filled in.
    pub(super) fn ipv6_frame(src: [u8; 16], dst: [u8; 16], proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = std::vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 0x86, 0xdd];
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        f.extend_from_slice(&[proto, 64]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(l4);
        let sums = Checksums {
            ip: false,
            tcp: proto == tuple::IPPROTO_TCP,
            udp: proto == tuple::IPPROTO_UDP,
        };
        if sums.any() {
            complete_checksums(&mut f, sums).unwrap();
        }
        f
    }

    fn execute(ct: &Conntrack, f: &[u8], action: &CtAction) -> (Verdict, Vec<u8>, FlowKey) {
        let mut p = OwnedPacket::from_frame(f).unwrap();
        let mut k = FlowKey::default();
        extract(p.data(), None, &mut k).unwrap();
        let v = ct.execute(&mut p, &mut k, action, 0, &mut |_| {});
        (v, p.data().to_vec(), k)
    }

    fn run(ct: &Conntrack, f: &[u8], action: &CtAction) -> (Vec<u8>, FlowKey) {
        let (v, f, k) = execute(ct, f, action);
        assert_eq!(v, Verdict::Continue);
        (f, k)
    }

    /// The IPv4 header checksum and the transport checksum (TCP, UDP, ICMP
    /// or ICMPv6) are what a fresh computation gives.
    fn checksums_ok(f: &[u8]) -> bool {
        let mut again = f.to_vec();
        let v = packet::parse(f, None, 0, false).unwrap();
        let proto = v.tuple.proto;
        let sums = Checksums {
            ip: v.tuple.v6 == 0,
            tcp: proto == tuple::IPPROTO_TCP,
            udp: proto == tuple::IPPROTO_UDP,
        };
        let redone = complete_checksums(&mut again, sums).is_ok()
            && (sums.tcp
                || sums.udp
                || nat::icmp_checksum(&mut again, &nat::headers_of(&v, f.len(), false)).is_some());
        redone && again == f
    }

    #[test]
    fn an_invalid_packet_is_tracked_again_by_a_later_action() {
        let ct = Conntrack::new(3).unwrap();
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let commit = CtAction {
            commit: true,
            ..CtAction::default()
        };
        let frame = |l4: &[u8], there: bool| {
            let (src, dst) = if there { (a, b) } else { (b, a) };
            packet::tests::ipv4_frame(src, dst, 6, l4)
        };
        run(
            &ct,
            &frame(&packet::tests::tcp(1000, 80, 0x02, 100, 0, 0), true),
            &commit,
        );
        run(
            &ct,
            &frame(&packet::tests::tcp(80, 1000, 0x12, 500, 101, 0), false),
            &commit,
        );
        // Far outside the window: invalid, and a commit after it finds it
        // invalid again rather than taking the connection's state.
        let stray = frame(
            &packet::tests::tcp(1000, 80, 0x10, 0x4000_0000, 501, 10),
            true,
        );
        let mut p = OwnedPacket::from_frame(&stray).unwrap();
        let mut k = FlowKey::default();
        extract(p.data(), None, &mut k).unwrap();
        for action in [&CtAction::default(), &commit] {
            ct.execute(&mut p, &mut k, action, 0, &mut |_| {});
            assert_eq!(k.ct_state, TRK | INV);
        }
        assert_eq!(ct.stats.invalid.load(Relaxed), 2);
    }

    #[test]
    fn commits_racing_for_one_nat_tuple_are_translated_or_dropped() {
        extern crate std;
        let ct = Conntrack::new(9).unwrap();
        let public = [100, 64, 0, 1];
        let commit = snat_to(public, public);
        // Two hosts, the same source ports, one destination: each pair
        // first tries the same translated tuple, from two processors.
        let host = |h: u8| {
            let (ct, commit) = (&ct, &commit);
            move || {
                let mut dropped = 0;
                for port in 1024..4024u16 {
                    match snat_udp(ct, commit, h, port) {
                        Some((addr, _, state)) => {
                            assert_eq!(state, TRK | NEW | SNAT, "port {port}");
                            assert_eq!(addr, public, "port {port}");
                        }
                        None => dropped += 1,
                    }
                }
                dropped
            }
        };
        let dropped = std::thread::scope(|s| {
            let a = s.spawn(host(1));
            let b = s.spawn(host(2));
            a.join().unwrap() + b.join().unwrap()
        });
        let refused = ct.stats.clashes.load(Relaxed) + ct.stats.nat_exhausted.load(Relaxed);
        assert_eq!(dropped, refused);
        assert_eq!(ct.table().len() as u64, 6000 - dropped);
    }

    #[test]
    fn an_icmp_connection_shows_its_type_and_code_as_the_original_ports() {
        let ct = Conntrack::new(3).unwrap();
        let commit = CtAction {
            commit: true,
            ..CtAction::default()
        };
        let echo = [8, 0, 0, 0, 0x12, 0x34, 0, 1];
        let f = packet::tests::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, &echo);
        let (_, k) = run(&ct, &f, &commit);
        assert_eq!(k.ct_state, TRK | NEW);
        assert_eq!(
            (k.ct_orig.proto, k.ct_orig.src_port, k.ct_orig.dst_port),
            (1, 8, 0)
        );
        let reply = [0, 0, 0, 0, 0x12, 0x34, 0, 1];
        let f = packet::tests::ipv4_frame([10, 0, 0, 2], [10, 0, 0, 1], 1, &reply);
        let (_, k) = run(&ct, &f, &CtAction::default());
        assert_eq!(k.ct_state, TRK | EST | RPL);
        assert_eq!((k.ct_orig.src_port, k.ct_orig.dst_port), (8, 0));
    }

    #[test]
    fn ipv6_snat_both_ways_and_icmpv6_echo() {
        let ct = Conntrack::new(3).unwrap();
        let (client, server, public) = (v6(1), v6(2), v6(0x64));
        let syn = packet::tests::tcp(40000, 443, 0x02, 1, 0, 0);
        let commit = nat_commit(NatKind::Src, Some((public, public)));
        let (out, k) = run(&ct, &ipv6_frame(client, server, 6, &syn), &commit);
        assert_eq!(&out[22..38], &public);
        assert_eq!(k.ipv6_src, public);
        assert_eq!(k.ct_state, TRK | NEW | SNAT);
        assert!(checksums_ok(&out));
        let lookup = CtAction {
            nat: Some(Nat::default()),
            ..CtAction::default()
        };
        let synack = packet::tests::tcp(443, 40000, 0x12, 9, 2, 0);
        let (back, k) = run(&ct, &ipv6_frame(server, public, 6, &synack), &lookup);
        assert_eq!(&back[38..54], &client);
        assert_eq!(k.ct_state, TRK | EST | RPL | DNAT);
        assert!(checksums_ok(&back));
        // ICMPv6 echo: a query, then its reply.
        let echo = |ty: u8| [ty, 0, 0, 0, 0, 5, 0, 1];
        let plain = CtAction {
            commit: true,
            ..CtAction::default()
        };
        let (_, k) = run(&ct, &ipv6_frame(client, server, 58, &echo(128)), &plain);
        assert_eq!(k.ct_state, TRK | NEW);
        let (_, k) = run(&ct, &ipv6_frame(server, client, 58, &echo(129)), &plain);
        assert_eq!(k.ct_state, TRK | EST | RPL);
        // Neighbour discovery is not tracked: invalid.
        let (_, k) = run(&ct, &ipv6_frame(client, server, 58, &echo(135)), &plain);
        assert_eq!(k.ct_state, TRK | INV);
        assert_eq!(ct.table().len(), 2);
    }

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn nat_commit(kind: NatKind, addrs: Option<([u8; 16], [u8; 16])>) -> CtAction {
        CtAction {
            commit: true,
            nat: Some(Nat {
                kind: Some(kind),
                addrs,
                ..Nat::default()
            }),
            ..CtAction::default()
        }
    }

    /// The source address and port SNAT gave a UDP datagram of `host`,
    /// port `sport`, to 10.9.9.9:53, and its `ct_state`; `None` if dropped.
    fn snat_udp(
        ct: &Conntrack,
        action: &CtAction,
        host: u8,
        sport: u16,
    ) -> Option<([u8; 4], u16, u8)> {
        let udp = [&sport.to_be_bytes()[..], &[0, 53, 0, 8, 0, 0]].concat();
        let f = packet::tests::ipv4_frame([10, 0, 0, host], [10, 9, 9, 9], 17, &udp);
        let mut p = OwnedPacket::from_frame(&f).unwrap();
        let mut k = FlowKey::default();
        extract(p.data(), None, &mut k).unwrap();
        match ct.execute(&mut p, &mut k, action, 0, &mut |_| {}) {
            Verdict::Continue => {
                let d = p.data();
                Some((
                    d[26..30].try_into().unwrap(),
                    u16::from_be_bytes([d[34], d[35]]),
                    k.ct_state,
                ))
            }
            _ => None,
        }
    }

    #[test]
    fn snat_keeps_one_address_per_source_and_destination() {
        let ct = Conntrack::new(5).unwrap();
        let pool = snat_to([100, 64, 0, 1], [100, 64, 0, 8]);
        for host in 1..5 {
            let mut used: Vec<_> = (2000..2040)
                .map(|port| snat_udp(&ct, &pool, host, port).unwrap().0)
                .collect();
            used.dedup();
            assert_eq!(used.len(), 1, "host {host}: {used:?}");
        }
    }

    #[test]
    fn proto_hash_does_not_prefer_the_original_port() {
        let ct = Conntrack::new(5).unwrap();
        let mut action = snat_to([100, 64, 0, 1], [100, 64, 0, 1]);
        if let Some(n) = action.nat.as_mut() {
            n.proto_hash = true;
        }
        let moved = (3000..3032)
            .filter(|&port| snat_udp(&ct, &action, 1, port).unwrap().1 != port)
            .count();
        assert!(moved > 16, "{moved} of 32 moved");
    }

    #[test]
    fn snat_finds_a_port_past_a_crowded_stretch() {
        let ct = Conntrack::new(5).unwrap();
        let one = snat_to([100, 64, 0, 1], [100, 64, 0, 1]);
        // The first host keeps its ports, 4000 in a row; the second, on
        // the same ports, must look past them every time.
        for port in 1024..5024 {
            assert_eq!(snat_udp(&ct, &one, 1, port).map(|(_, p, _)| p), Some(port));
        }
        for port in 1024..5024 {
            assert!(snat_udp(&ct, &one, 2, port).is_some(), "port {port}");
        }
        assert_eq!(ct.stats.nat_exhausted.load(Relaxed), 0);
    }

    /// A commit with SNAT to the IPv4 addresses `lo` to `hi`.
    fn snat_to(lo: [u8; 4], hi: [u8; 4]) -> CtAction {
        nat_commit(NatKind::Src, Some((v4(lo), v4(hi))))
    }

    fn nat_lookup() -> CtAction {
        CtAction {
            nat: Some(Nat::default()),
            ..CtAction::default()
        }
    }

    /// SNAT to the whole IPv6 and IPv4 address spaces, and to a range whose
    /// maximum is below its minimum (which wraps past the top of the space).
    #[test]
    fn nat_address_ranges_of_any_extent() {
        let ct = Conntrack::new(3).unwrap();
        let all6 = nat_commit(NatKind::Src, Some(([0; 16], [0xff; 16])));
        let syn = packet::tests::tcp(40000, 443, 0x02, 1, 0, 0);
        let (out, k) = run(&ct, &ipv6_frame(v6(1), v6(2), 6, &syn), &all6);
        assert_eq!(k.ct_state, TRK | NEW | SNAT);
        assert_eq!(&out[22..38], &k.ipv6_src);
        assert!(checksums_ok(&out));
        let synack = packet::tests::tcp(443, 40000, 0x12, 9, 2, 0);
        let reply = ipv6_frame(v6(2), k.ipv6_src, 6, &synack);
        let (back, k) = run(&ct, &reply, &nat_lookup());
        assert_eq!(&back[38..54], &v6(1));
        assert_eq!(k.ct_state, TRK | EST | RPL | DNAT);
        let all4 = nat_commit(NatKind::Src, Some((v4([0; 4]), v4([255; 4]))));
        let f = packet::tests::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 6, &syn);
        let (out, k) = run(&ct, &f, &all4);
        assert_eq!(k.ct_state, TRK | NEW | SNAT);
        assert_eq!(k.ipv4_src.to_be_bytes(), out[26..30]);
        let wrapped = nat_commit(
            NatKind::Src,
            Some((v4([255, 255, 255, 254]), v4([0, 0, 0, 1]))),
        );
        let range = [
            [255, 255, 255, 254],
            [255, 255, 255, 255],
            [0; 4],
            [0, 0, 0, 1],
        ];
        let mut chosen = Vec::new();
        for host in 11..19 {
            let syn = packet::tests::tcp(41000, 443, 0x02, 1, 0, 0);
            let f = packet::tests::ipv4_frame([10, 0, 0, host], [10, 0, 0, 2], 6, &syn);
            let (out, k) = run(&ct, &f, &wrapped);
            assert_eq!(k.ct_state, TRK | NEW | SNAT);
            let a: [u8; 4] = out[26..30].try_into().unwrap();
            assert!(range.contains(&a), "{a:?}");
            chosen.push(a);
        }
        chosen.sort();
        chosen.dedup();
        assert!(chosen.len() > 1, "{chosen:?}");
    }

    /// Without a port range DNAT never moves the destination port: a clash
    /// takes another address of the range, and with none left the commit
    /// is refused.
    #[test]
    fn dnat_with_random_or_hash_but_no_port_range_keeps_the_port() {
        for flags in [(true, false), (false, true)] {
            let ct = Conntrack::new(3).unwrap();
            let mut dnat = nat_commit(NatKind::Dst, Some((v4([10, 0, 0, 9]), v4([10, 0, 0, 9]))));
            if let Some(n) = dnat.nat.as_mut() {
                (n.proto_hash, n.proto_random) = flags;
            }
            let syn = packet::tests::tcp(40000, 80, 0x02, 1, 0, 0);
            let f = packet::tests::ipv4_frame([10, 0, 0, 1], [192, 0, 2, 1], 6, &syn);
            let (out, k) = run(&ct, &f, &dnat);
            assert_eq!(k.ct_state, TRK | NEW | DNAT, "{flags:?}");
            assert_eq!(
                (&out[30..34], &out[36..38]),
                (&[10, 0, 0, 9][..], &[0, 80][..])
            );
        }
    }

    #[test]
    fn an_icmpv6_node_information_query_keeps_its_qtype() {
        let ct = Conntrack::new(3).unwrap();
        let public = v6(0x64);
        let commit = nat_commit(NatKind::Src, Some((public, public)));
        // Type 139, code 0, checksum, Qtype 2 (node name), flags, nonce.
        let query = [139, 0, 0, 0, 0, 2, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        for host in [1, 2] {
            let f = ipv6_frame(v6(host), v6(9), 58, &query);
            let mut p = OwnedPacket::from_frame(&f).unwrap();
            let mut k = FlowKey::default();
            extract(p.data(), None, &mut k).unwrap();
            // The second clashes with the first; its query is never changed.
            if ct.execute(&mut p, &mut k, &commit, 0, &mut |_| {}) == Verdict::Continue {
                assert_eq!(&p.data()[22..38], &public);
                assert_eq!(&p.data()[58..60], &[0, 2], "host {host}");
            }
        }
        assert_eq!(ct.table().len(), 1);
    }

    #[test]
    fn dnat_without_ports_keeps_the_port() {
        let ct = Conntrack::new(3).unwrap();
        let (client, vip) = ([10, 0, 0, 1], [10, 0, 0, 100]);
        let backends = Some((v4([10, 0, 0, 9]), v4([10, 0, 0, 10])));
        let dnat = nat_commit(NatKind::Dst, backends);
        let plain = CtAction {
            commit: true,
            ..CtAction::default()
        };
        let syn = |sport| packet::tests::tcp(sport, 80, 0x02, 1, 0, 0);
        // The client already talks to the first backend from that port.
        run(
            &ct,
            &packet::tests::ipv4_frame(client, [10, 0, 0, 9], 6, &syn(40000)),
            &plain,
        );
        let (out, k) = run(
            &ct,
            &packet::tests::ipv4_frame(client, vip, 6, &syn(40000)),
            &dnat,
        );
        assert_eq!(k.ct_state, TRK | NEW | DNAT);
        assert_eq!(
            (&out[30..34], &out[36..38]),
            (&[10, 0, 0, 10][..], &[0, 80][..])
        );
        assert!(checksums_ok(&out));
        for backend in [[10, 0, 0, 9], [10, 0, 0, 10]] {
            run(
                &ct,
                &packet::tests::ipv4_frame(client, backend, 6, &syn(40001)),
                &plain,
            );
        }
        let (v, _, _) = execute(
            &ct,
            &packet::tests::ipv4_frame(client, vip, 6, &syn(40001)),
            &dnat,
        );
        assert_eq!(
            (v, ct.stats.nat_exhausted.load(Relaxed)),
            (Verdict::Drop, 1)
        );
    }

    /// Without a port range SNAT moves a clashing source port within its
    /// class: 1-511, 600-1023 (for 512-1023), 1024-65535.
    #[test]
    fn snat_without_ports_keeps_the_port_class() {
        let ct = Conntrack::new(3).unwrap();
        let (server, public) = ([10, 9, 9, 9], [192, 0, 2, 1]);
        let snat = nat_commit(NatKind::Src, Some((v4(public), v4(public))));
        for (sport, class) in [
            (123u16, 1..=511),
            (0, 1..=511),
            (550, 600..=1023),
            (1000, 600..=1023),
            (40000, 1024..=65535),
        ] {
            let udp = [&sport.to_be_bytes()[..], &[0, 53, 0, 8, 0, 0]].concat();
            let (out, _) = run(
                &ct,
                &packet::tests::ipv4_frame([10, 0, 0, 1], server, 17, &udp),
                &snat,
            );
            assert_eq!(
                u16::from_be_bytes([out[34], out[35]]),
                sport,
                "kept while free"
            );
            let (out, k) = run(
                &ct,
                &packet::tests::ipv4_frame([10, 0, 0, 2], server, 17, &udp),
                &snat,
            );
            assert_eq!(k.ct_state, TRK | NEW | SNAT);
            let moved = u16::from_be_bytes([out[34], out[35]]);
            assert!(
                moved != sport && class.contains(&moved),
                "{sport} -> {moved}"
            );
            assert_eq!(k.tp_src, moved);
            assert!(checksums_ok(&out));
        }
    }

    /// An ICMP packet (ICMPv6 with `v6`) carrying `body`, its checksum right.
    fn icmp_frame(src: [u8; 16], dst: [u8; 16], v6: bool, body: &[u8]) -> Vec<u8> {
        let mut f = if v6 {
            ipv6_frame(src, dst, tuple::IPPROTO_ICMPV6, body)
        } else {
            let (src, dst) = (tuple::first4(&src), tuple::first4(&dst));
            packet::tests::ipv4_frame(src, dst, tuple::IPPROTO_ICMP, body)
        };
        let h = nat::headers_of(&packet::parse(&f, None, 0, false).unwrap(), f.len(), false);
        nat::icmp_checksum(&mut f, &h).unwrap();
        f
    }

    /// Two hosts behind one SNAT address ping one target with the same
    /// identifier: the second gets another identifier, replies go back to
    /// each host with its own, and an ICMP error quoting the second's echo
    /// reaches it quoting the echo as it sent it; checksums verify.
    #[test]
    fn icmp_identifiers_are_translated() {
        for ipv6 in [false, true] {
            let ct = Conntrack::new(3).unwrap();
            let addr = |a: [u8; 4]| if ipv6 { v6(a[3]) } else { v4(a) };
            let (a, b, target, public, router) = (
                addr([10, 0, 0, 1]),
                addr([10, 0, 0, 2]),
                addr([8, 8, 8, 8]),
                addr([192, 0, 2, 100]),
                addr([203, 0, 113, 5]),
            );
            let (request, reply, exceeded) = if ipv6 { (128, 129, 3) } else { (8, 0, 11) };
            let echo = |ty: u8, id: u16| [&[ty, 0, 0, 0][..], &id.to_be_bytes(), &[0, 7]].concat();
            let snat = nat_commit(NatKind::Src, Some((public, public)));
            let tuple_of = |f: &[u8]| packet::parse(f, None, 0, false).unwrap().tuple;
            let mut ids = Vec::new();
            let mut sent = Vec::new();
            for host in [a, b] {
                let (out, k) = run(
                    &ct,
                    &icmp_frame(host, target, ipv6, &echo(request, 1)),
                    &snat,
                );
                assert_eq!(k.ct_state, TRK | NEW | SNAT, "{ipv6} {host:?}");
                let t = tuple_of(&out);
                assert_eq!((t.src, t.dst), (public, target));
                assert!(checksums_ok(&out));
                assert_eq!(k.tp_src, u16::from(request), "the key's ICMP type");
                ids.push(t.sport);
                sent.push(out);
            }
            assert_eq!(ids[0], 1);
            assert_ne!(ids[1], 1);
            for (host, id) in [(a, ids[0]), (b, ids[1])] {
                let f = icmp_frame(target, public, ipv6, &echo(reply, id));
                let (back, k) = run(&ct, &f, &nat_lookup());
                assert_eq!(k.ct_state, TRK | EST | RPL | DNAT);
                let t = tuple_of(&back);
                assert_eq!((t.src, t.dst, t.sport), (target, host, 1));
                assert!(checksums_ok(&back));
            }
            // A router on the way answers the second host's echo.
            let quoted = &sent[1][14..];
            let body = [&[exceeded, 0, 0, 0, 0, 0, 0, 0][..], quoted].concat();
            let (back, k) = run(&ct, &icmp_frame(router, public, ipv6, &body), &nat_lookup());
            assert_eq!(k.ct_state, TRK | REL | RPL | DNAT);
            assert_eq!(tuple_of(&back).dst, b);
            assert!(checksums_ok(&back));
            let inner_l3 = if ipv6 { 62 } else { 42 };
            let inner = [&back[..14], &back[inner_l3..]].concat();
            let t = tuple_of(&inner);
            assert_eq!((t.src, t.dst, t.sport), (b, target, 1));
            assert!(checksums_ok(&inner), "the quoted echo's checksums");
        }
    }

    /// NAT rewrites a packet of a connection found in the table with no
    /// shard of it locked: making a frame writable may take a buffer from
    /// the platform, which no critical section calls into (`sync`).
    #[test]
    fn a_found_connections_packet_is_rewritten_with_no_shard_locked() {
        let ct = std::sync::Arc::new(Conntrack::new(3).unwrap());
        let snat = nat_commit(NatKind::Src, Some((v4([192, 0, 2, 1]), v4([192, 0, 2, 1]))));
        let udp = |s: [u8; 4], d: [u8; 4], sport: u16, dport: u16| {
            let l4 = [
                &sport.to_be_bytes()[..],
                &dport.to_be_bytes(),
                &[0, 8, 0, 0],
            ]
            .concat();
            packet::tests::ipv4_frame(s, d, 17, &l4)
        };
        let out = udp([10, 0, 0, 1], [10, 9, 9, 9], 4000, 53);
        let (sent, _) = run(&ct, &out, &snat);
        let port = u16::from_be_bytes([sent[34], sent[35]]);
        let frames = [out, udp([10, 9, 9, 9], [192, 0, 2, 1], 53, port)];
        for (f, action) in frames.iter().zip([snat, nat_lookup()]) {
            let mut p = Watched::new(OwnedPacket::from_frame(f).unwrap());
            let table = ct.clone();
            p.on_write = Some(std::rc::Rc::new(move || table.table.locked()));
            let mut k = FlowKey::default();
            extract(p.data(), None, &mut k).unwrap();
            assert_eq!(
                ct.execute(&mut p, &mut k, &action, 0, &mut |_| {}),
                Verdict::Continue
            );
            assert_ne!(k.ct_state & (SNAT | DNAT), 0);
            assert!(!p.flagged.get());
        }
    }

    /// An ICMP error a CT action translated, committed by a later action
    /// of the zone (OVN's `ct_commit_nat` of related traffic), stays
    /// related to its connection the same way, its NAT bit kept, as Linux
    /// keeps the connection the packet holds; it was invalid.
    #[test]
    fn a_translated_icmp_error_committed_again_stays_related() {
        for ipv6 in [false, true] {
            let ct = Conntrack::new(3).unwrap();
            let addr = |a: [u8; 4]| if ipv6 { v6(a[3]) } else { v4(a) };
            let (host, target, public) = (
                addr([10, 0, 0, 1]),
                addr([8, 8, 8, 8]),
                addr([192, 0, 2, 100]),
            );
            let (request, unreachable) = if ipv6 { (128, 1) } else { (8, 3) };
            let echo = [request, 0, 0, 0, 0, 9, 0, 7];
            let snat = nat_commit(NatKind::Src, Some((public, public)));
            let (sent, _) = run(&ct, &icmp_frame(host, target, ipv6, &echo), &snat);
            // The target answers the echo with an error, which comes back
            // translated, then is committed in the same zone.
            let body = [&[unreachable, 0, 0, 0, 0, 0, 0, 0][..], &sent[14..]].concat();
            let error = icmp_frame(target, public, ipv6, &body);
            let mut p = OwnedPacket::from_frame(&error).unwrap();
            let mut k = FlowKey::default();
            extract(p.data(), None, &mut k).unwrap();
            ct.execute(&mut p, &mut k, &nat_lookup(), 0, &mut |_| {});
            assert_eq!(k.ct_state, TRK | REL | RPL | DNAT, "{ipv6}");
            let commit = CtAction {
                commit: true,
                ..nat_lookup()
            };
            let v = ct.execute(&mut p, &mut k, &commit, 0, &mut |_| {});
            assert_eq!(v, Verdict::Continue);
            assert_eq!(k.ct_state, TRK | REL | RPL | DNAT, "{ipv6}");
            assert_ne!(k.ct_orig, CtTuple::default(), "{ipv6}");
        }
    }

    /// A TCP segment (ACK, PSH) carrying `data`.
    fn segment(sport: u16, dport: u16, seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
        let mut l4 = packet::tests::tcp(sport, dport, 0x18, seq, ack, 0);
        l4.extend_from_slice(data);
        l4
    }

    #[test]
    fn ftp_over_ipv6_eprt_and_epsv_expect_related_connections() {
        let ct = Conntrack::new(3).unwrap();
        let (client, server) = (v6(1), v6(2));
        let commit = CtAction {
            commit: true,
            helper: Some(Helper::Ftp),
            ..CtAction::default()
        };
        let lookup = CtAction::default();
        let syn = packet::tests::tcp(40000, 21, 0x02, 100, 0, 0);
        let (_, control) = run(&ct, &ipv6_frame(client, server, 6, &syn), &commit);
        let synack = packet::tests::tcp(21, 40000, 0x12, 500, 101, 0);
        run(&ct, &ipv6_frame(server, client, 6, &synack), &lookup);
        // EPRT: the server connects to the announced address and port.
        let eprt = segment(40000, 21, 101, 501, b"EPRT |2|fd00::1|2000|\r\n");
        run(&ct, &ipv6_frame(client, server, 6, &eprt), &lookup);
        let data = packet::tests::tcp(20, 2000, 0x02, 9, 0, 0);
        let (_, k) = run(&ct, &ipv6_frame(server, client, 6, &data), &lookup);
        assert_eq!(k.ct_state, TRK | NEW | REL, "not stored yet: new too");
        assert_eq!(k.ct_orig, control.ct_orig, "the control connection's tuple");
        // EPSV: the client connects to the server's own address.
        let epsv = segment(21, 40000, 501, 124, b"229 Extended (|||6446|)\r\n");
        run(&ct, &ipv6_frame(server, client, 6, &epsv), &lookup);
        let data = packet::tests::tcp(40001, 6446, 0x02, 9, 0, 0);
        let (_, k) = run(&ct, &ipv6_frame(client, server, 6, &data), &commit);
        assert_eq!(k.ct_state, TRK | NEW | REL);
        // Committed, the expectation is used up and the connection is
        // related for its whole life, established once replied to.
        assert!(ct.expects.is_empty());
        assert_eq!(ct.expects.stats.used.load(Relaxed), 1);
        let (_, k) = run(&ct, &ipv6_frame(client, server, 6, &data), &lookup);
        assert_eq!(k.ct_state, TRK | REL);
        let back = packet::tests::tcp(6446, 40001, 0x12, 70, 10, 0);
        let (_, k) = run(&ct, &ipv6_frame(server, client, 6, &back), &lookup);
        assert_eq!(k.ct_state, TRK | EST | RPL | REL);
        let ack = packet::tests::tcp(40001, 6446, 0x10, 10, 71, 0);
        let (_, k) = run(&ct, &ipv6_frame(client, server, 6, &ack), &lookup);
        assert_eq!(k.ct_state, TRK | EST | REL);
        // Another machine's address: left as it is, nothing expected.
        let eprt = segment(40000, 21, 124, 526, b"EPRT |2|fd00::9|2000|\r\n");
        let frame = ipv6_frame(client, server, 6, &eprt);
        assert_eq!(run(&ct, &frame, &lookup).0, frame);
        let data = packet::tests::tcp(20, 2000, 0x02, 9, 0, 0);
        let (_, k) = run(&ct, &ipv6_frame(server, v6(9), 6, &data), &lookup);
        assert_eq!(k.ct_state, TRK | NEW);
        assert_eq!(ct.expects.stats.created.load(Relaxed), 2);
    }

    const PORT: &[u8] = b"PORT 10,0,0,1,7,208\r\n";

    /// An FTP control connection 10.0.0.1:40000 -> 10.0.0.2:21 through
    /// SNAT to 10.0.0.100, set up (client's next sequence 101, server's
    /// 501); with `port`, the client's `PORT` sent too (two bytes longer).
    fn ftp_through_snat(port: bool) -> Conntrack {
        let ct = Conntrack::new(3).unwrap();
        let commit = CtAction {
            helper: Some(Helper::Ftp),
            ..snat_to([10, 0, 0, 100], [10, 0, 0, 100])
        };
        let (client, server, public) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 100]);
        let frame = |src, dst, l4: &[u8]| packet::tests::ipv4_frame(src, dst, 6, l4);
        let syn = packet::tests::tcp(40000, 21, 0x02, 100, 0, 0);
        run(&ct, &frame(client, server, &syn), &commit);
        let synack = packet::tests::tcp(21, 40000, 0x12, 500, 101, 0);
        run(&ct, &frame(server, public, &synack), &nat_lookup());
        if port {
            let cmd = segment(40000, 21, 101, 501, PORT);
            let (out, _) = run(&ct, &frame(client, server, &cmd), &nat_lookup());
            assert_eq!(out.len(), frame(client, server, &cmd).len() + 2);
        }
        ct
    }

    /// A connection expected by a control connection under NAT follows
    /// its NAT: a NAT the commit asks for besides is not applied (Linux's
    /// `nf_nat_follow_master` sets both up when the connection is made,
    /// and OVS's NAT then finds them done).
    #[test]
    fn an_expected_connection_follows_its_control_connections_nat() {
        let ct = ftp_through_snat(true);
        let elsewhere = nat_commit(NatKind::Dst, Some((v4([10, 9, 9, 9]), v4([10, 9, 9, 9]))));
        let syn = packet::tests::tcp(20, 2000, 0x02, 9000, 0, 0);
        let f = packet::tests::ipv4_frame([10, 0, 0, 2], [10, 0, 0, 100], 6, &syn);
        let (out, k) = run(&ct, &f, &elsewhere);
        assert_eq!(k.ct_state & (REL | DNAT), REL | DNAT);
        assert_eq!(
            &out[30..34],
            &[10, 0, 0, 1],
            "to the client that announced it"
        );
        assert!(checksums_ok(&out));
    }

    /// An ICMP error about a connection a helper expected shows the
    /// control connection's original tuple, as every packet of that
    /// connection does (Linux's `__ovs_ct_update_key` reads the master's).
    #[test]
    fn an_icmp_error_about_an_expected_connection_shows_its_masters_tuple() {
        let ct = ftp_through_snat(true);
        let commit = CtAction {
            commit: true,
            ..nat_lookup()
        };
        let syn = packet::tests::tcp(20, 2000, 0x02, 9000, 0, 0);
        let f = packet::tests::ipv4_frame([10, 0, 0, 2], [10, 0, 0, 100], 6, &syn);
        let (sent, data) = run(&ct, &f, &commit);
        assert_eq!(data.ct_state & REL, REL);
        // The client refuses the SYN as it reached it.
        let body = [&[3, 3, 0, 0, 0, 0, 0, 0][..], &sent[14..]].concat();
        let err = icmp_frame(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), false, &body);
        let (_, k) = run(&ct, &err, &nat_lookup());
        assert_eq!(k.ct_state & (TRK | REL | RPL), TRK | REL | RPL);
        assert_eq!(k.ct_orig, data.ct_orig, "the control connection's tuple");
    }

    /// A segment whose TCP checksum is wrong stays wrong: the helper
    /// neither reads it nor sums it afresh (Linux's tracker finds it
    /// invalid before any helper runs).
    #[test]
    fn a_corrupt_segment_is_not_given_a_good_checksum() {
        let ct = ftp_through_snat(true);
        let frame = |l4: &[u8]| {
            let mut f = packet::tests::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 6, l4);
            let last = f.len() - 3;
            f[last] ^= 0x20;
            f
        };
        // Its checksum still does not verify, and it is left as it came.
        let noop = segment(40000, 21, 122, 501, b"NOOP\r\n");
        let (out, _) = run(&ct, &frame(&noop), &nat_lookup());
        assert_eq!(&out[38..42], &122u32.to_be_bytes());
        assert!(!checksums_ok(&out));
        // A PORT in it is not read.
        let port = segment(40000, 21, 128, 501, b"PORT 10,0,0,1,7,209\r\n");
        let (out, _) = run(&ct, &frame(&port), &nat_lookup());
        assert!(!checksums_ok(&out));
        assert_eq!(ct.expects.stats.created.load(Relaxed), 1);
    }

    /// Over IPv6 through SNAT, an EPRT leaves with the public address, the
    /// payload length and checksum following the longer text, and the
    /// server's connection to it reaches the client.
    #[test]
    fn ftp_eprt_through_ipv6_snat() {
        let ct = Conntrack::new(3).unwrap();
        let (client, server, public) = (v6(1), v6(2), v6(100));
        let commit = CtAction {
            helper: Some(Helper::Ftp),
            ..nat_commit(NatKind::Src, Some((public, public)))
        };
        let syn = packet::tests::tcp(40000, 21, 0x02, 100, 0, 0);
        run(&ct, &ipv6_frame(client, server, 6, &syn), &commit);
        let synack = packet::tests::tcp(21, 40000, 0x12, 500, 101, 0);
        run(&ct, &ipv6_frame(server, public, 6, &synack), &nat_lookup());
        let eprt = segment(40000, 21, 101, 501, b"EPRT |2|fd00::1|2000|\r\n");
        let (out, _) = run(&ct, &ipv6_frame(client, server, 6, &eprt), &nat_lookup());
        let text = b"EPRT |2|fd00:0:0:0:0:0:0:64|2000|\r\n";
        assert_eq!(&out[74..], text);
        let payload_len = u16::from_be_bytes([out[18], out[19]]);
        assert_eq!(usize::from(payload_len), 20 + text.len());
        assert!(checksums_ok(&out));
        let data = packet::tests::tcp(20, 2000, 0x02, 9, 0, 0);
        let (out, k) = run(&ct, &ipv6_frame(server, public, 6, &data), &commit);
        assert_eq!(k.ct_state & REL, REL);
        assert_eq!(&out[38..54], &client);
    }

    /// A server behind DNAT: its 227 leaves with the address the client
    /// knows it by, two bytes longer, so the server's later segments move
    /// on by two and the client's acknowledgements back by two (the reply
    /// direction's corrections), and the client's data connection reaches
    /// the server.
    #[test]
    fn pasv_through_dnat_moves_the_replies_sequence() {
        let ct = Conntrack::new(3).unwrap();
        let (client, server, vip) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 200]);
        let commit = CtAction {
            helper: Some(Helper::Ftp),
            ..nat_commit(NatKind::Dst, Some((v4(server), v4(server))))
        };
        let frame = |src, dst, l4: &[u8]| packet::tests::ipv4_frame(src, dst, 6, l4);
        let syn = packet::tests::tcp(40000, 21, 0x02, 100, 0, 0);
        run(&ct, &frame(client, vip, &syn), &commit);
        let synack = packet::tests::tcp(21, 40000, 0x12, 500, 101, 0);
        run(&ct, &frame(server, client, &synack), &nat_lookup());
        let text = b"227 Entering Passive Mode (10,0,0,2,39,16)\r\n";
        let pasv = segment(21, 40000, 501, 101, text);
        let (out, _) = run(&ct, &frame(server, client, &pasv), &nat_lookup());
        assert_eq!(
            &out[54..],
            b"227 Entering Passive Mode (10,0,0,200,39,16)\r\n"
        );
        assert!(checksums_ok(&out));
        let next = 501 + text.len() as u32;
        let ok = segment(21, 40000, next, 101, b"200 OK\r\n");
        let (out, _) = run(&ct, &frame(server, client, &ok), &nat_lookup());
        assert_eq!(&out[38..42], &(next + 2).to_be_bytes());
        let ack = segment(40000, 21, 101, next + 2 + 8, b"");
        let (out, k) = run(&ct, &frame(client, vip, &ack), &nat_lookup());
        assert_eq!(k.ct_state & (EST | INV), EST);
        assert_eq!(&out[42..46], &(next + 8).to_be_bytes());
        assert!(checksums_ok(&out));
        let data = packet::tests::tcp(40100, 10000, 0x02, 1, 0, 0);
        let (out, k) = run(&ct, &frame(client, vip, &data), &commit);
        assert_eq!(k.ct_state & REL, REL);
        assert_eq!(&out[30..34], &server);
    }

    /// A connection stored without a helper does not get one from a later
    /// commit that names it (Linux attaches a helper only to a connection
    /// not yet confirmed).
    #[test]
    fn a_later_commit_attaches_no_helper() {
        let ct = Conntrack::new(3).unwrap();
        let (client, server) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let frame = |src, dst, l4: &[u8]| packet::tests::ipv4_frame(src, dst, 6, l4);
        let plain = CtAction {
            commit: true,
            ..CtAction::default()
        };
        let syn = packet::tests::tcp(40000, 21, 0x02, 100, 0, 0);
        run(&ct, &frame(client, server, &syn), &plain);
        let synack = packet::tests::tcp(21, 40000, 0x12, 500, 101, 0);
        run(&ct, &frame(server, client, &synack), &CtAction::default());
        let port = segment(40000, 21, 101, 501, b"PORT 10,0,0,1,7,208\r\n");
        let with_ftp = CtAction {
            helper: Some(Helper::Ftp),
            ..plain
        };
        run(&ct, &frame(client, server, &port), &with_ftp);
        assert_eq!(ct.expects.stats.created.load(Relaxed), 0);
    }

    proptest::proptest! {
        /// Whatever a client sends on a control connection through SNAT,
        /// the tracker does not panic, and what it lets through has
        /// checksums that verify.
        #[test]
        fn any_control_data_through_snat(data in proptest::collection::vec(control_text(), 0..6)) {
            let ct = ftp_through_snat(false);
            let l4 = segment(40000, 21, 101, 501, &data.concat());
            let f = packet::tests::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 6, &l4);
            let (v, out, _) = execute(&ct, &f, &nat_lookup());
            if v == Verdict::Continue {
                proptest::prop_assert!(checksums_ok(&out));
            }
        }
    }

    /// Pieces of FTP control text: whole commands, their characters, bytes.
    fn control_text() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            Just(b"PORT 10,0,0,1,7,208\r\n".to_vec()),
            Just(b"EPRT |1|10.0.0.1|9|".to_vec()),
            proptest::collection::vec(
                proptest::sample::select(b"0123456789,|. PORTE\r\n(".to_vec()),
                0..6
            ),
            proptest::collection::vec(any::<u8>(), 0..8),
        ]
    }

    /// A TCP checksum left to the NIC holds the pseudo-header sum; after
    /// a rewrite changed the segment's length it still does, for the new
    /// length (Linux's `nf_nat_csum_recalc` on `CHECKSUM_PARTIAL`).
    #[test]
    fn a_rewrite_keeps_a_checksum_left_to_the_nic_partial() {
        use crate::offload::{Request, fold, sum};
        let ct = ftp_through_snat(false);
        let pseudo = |f: &[u8]| {
            let len = u16::from_be_bytes([f[16], f[17]]) - 20;
            fold(sum(&f[26..34]) + 6 + u64::from(len))
        };
        let mut f = packet::tests::ipv4_frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            6,
            &segment(40000, 21, 101, 501, PORT),
        );
        let ps = pseudo(&f);
        f[50..52].copy_from_slice(&ps.to_be_bytes());
        let mut p = crate::packet::tests::Offloaded {
            p: OwnedPacket::from_frame(&f).unwrap(),
            req: Request {
                checksums: Checksums {
                    ip: true,
                    tcp: true,
                    udp: false,
                },
                lso: None,
            },
        };
        let mut k = FlowKey::default();
        extract(p.data(), None, &mut k).unwrap();
        let v = ct.execute(&mut p, &mut k, &nat_lookup(), 0, &mut |_| {});
        assert_eq!(v, Verdict::Continue);
        let out = p.data();
        assert_eq!(
            (out.len(), &out[26..30]),
            (f.len() + 2, &[10, 0, 0, 100][..])
        );
        assert_eq!(u16::from_be_bytes([out[50], out[51]]), pseudo(out));
    }

    /// A reply found in the table, its TCP or UDP checksum left to the NIC
    /// (holding the pseudo-header sum), is translated back address and
    /// port, its checksum field the pseudo-header sum of the new addresses
    /// (the ports are not in it), as Linux's `inet_proto_csum_replace4`
    /// updates a `CHECKSUM_PARTIAL` field.
    #[test]
    fn a_reply_left_to_the_nic_keeps_a_pseudo_header_sum_through_nat() {
        use crate::offload::{Request, fold, sum};
        for (proto, at) in [(6u8, 50), (17, 40)] {
            let ct = Conntrack::new(3).unwrap();
            let mut commit = snat_to([10, 0, 0, 100], [10, 0, 0, 100]);
            if let Some(n) = commit.nat.as_mut() {
                n.ports = Some((1000, 1000));
            }
            let l4 = |sport: u16, dport: u16, flags: u8| {
                if proto == 6 {
                    packet::tests::tcp(sport, dport, flags, 1, 1, 0)
                } else {
                    [sport.to_be_bytes(), dport.to_be_bytes(), [0, 12], [0, 0]]
                        .concat()
                        .into_iter()
                        .chain([1, 2, 3, 4])
                        .collect()
                }
            };
            let (client, server, public) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 100]);
            let f = packet::tests::ipv4_frame(client, server, proto, &l4(40000, 80, 0x02));
            let (out, _) = run(&ct, &f, &commit);
            assert_eq!((&out[26..30], &out[34..36]), (&public[..], &[3, 0xe8][..]));
            let pseudo = |f: &[u8]| {
                let len = u16::from_be_bytes([f[16], f[17]]) - 20;
                fold(sum(&f[26..34]) + u64::from(proto) + u64::from(len))
            };
            let mut f = packet::tests::ipv4_frame(server, public, proto, &l4(80, 1000, 0x12));
            let ps = pseudo(&f);
            f[at..at + 2].copy_from_slice(&ps.to_be_bytes());
            let mut p = crate::packet::tests::Offloaded {
                p: OwnedPacket::from_frame(&f).unwrap(),
                req: Request {
                    checksums: Checksums {
                        ip: false,
                        tcp: proto == 6,
                        udp: proto == 17,
                    },
                    lso: None,
                },
            };
            let mut k = FlowKey::default();
            extract(p.data(), None, &mut k).unwrap();
            let v = ct.execute(&mut p, &mut k, &nat_lookup(), 0, &mut |_| {});
            assert_eq!(v, Verdict::Continue);
            assert_eq!(k.ct_state, TRK | EST | RPL | DNAT, "{proto}");
            let out = p.data();
            assert_eq!(
                (&out[30..34], &out[36..38]),
                (&client[..], &[0x9c, 0x40][..])
            );
            assert_eq!(
                u16::from_be_bytes([out[at], out[at + 1]]),
                pseudo(out),
                "{proto}"
            );
        }
    }

    /// A large send holds the pseudo-header sum in its TCP checksum field
    /// (the NIC sums each segment it cuts): NAT of its connection updates
    /// that sum for the new addresses and leaves the ports out of it, as
    /// Linux does for a GSO packet (`CHECKSUM_PARTIAL`).
    #[test]
    fn a_large_send_keeps_a_pseudo_header_sum_through_nat() {
        use crate::offload::{Lso, Request, fold, sum};
        let ct = Conntrack::new(3).unwrap();
        let mut commit = snat_to([10, 0, 0, 100], [10, 0, 0, 100]);
        if let Some(n) = commit.nat.as_mut() {
            n.ports = Some((1000, 1000));
        }
        let (client, server, public) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 100]);
        let frame = |src, dst, l4: &[u8]| packet::tests::ipv4_frame(src, dst, 6, l4);
        let syn = packet::tests::tcp(40000, 80, 0x02, 1, 0, 0);
        run(&ct, &frame(client, server, &syn), &commit);
        let synack = packet::tests::tcp(80, 1000, 0x12, 500, 2, 0);
        run(&ct, &frame(server, public, &synack), &nat_lookup());
        let mut f = frame(
            client,
            server,
            &packet::tests::tcp(40000, 80, 0x18, 2, 501, 3000),
        );
        // The pseudo-header sum without the length, as LSOv2 senders leave it.
        let pseudo = |f: &[u8]| fold(sum(&f[26..34]) + 6);
        let ps = pseudo(&f);
        f[50..52].copy_from_slice(&ps.to_be_bytes());
        let mut p = crate::packet::tests::Offloaded {
            p: OwnedPacket::from_frame(&f).unwrap(),
            req: Request {
                checksums: Checksums::NONE,
                lso: Some(Lso {
                    mss: 1448,
                    v2: true,
                }),
            },
        };
        let mut k = FlowKey::default();
        extract(p.data(), None, &mut k).unwrap();
        let v = ct.execute(&mut p, &mut k, &nat_lookup(), 0, &mut |_| {});
        assert_eq!(v, Verdict::Continue);
        assert_eq!(k.ct_state, TRK | EST | SNAT);
        let out = p.data();
        assert_eq!((&out[26..30], &out[34..36]), (&public[..], &[3, 0xe8][..]));
        assert_eq!(u16::from_be_bytes([out[50], out[51]]), pseudo(out));
    }

    /// The server's SACK blocks, like its acknowledgement, are read back
    /// into the client's numbering (Linux's `nf_ct_sack_adjust`).
    #[test]
    fn sack_blocks_follow_a_rewrite() {
        let ct = ftp_through_snat(true);
        // Acknowledged up to the PORT (124 for the server, 122 for the
        // client), with 130..140 and 150..160 of the client's later data.
        let mut l4 = packet::tests::tcp(21, 40000, 0x10, 501, 124, 0);
        l4[12] = 0xa0;
        l4.extend_from_slice(&[1, 1, 5, 18]);
        for edge in [132u32, 142, 152, 162] {
            l4.extend_from_slice(&edge.to_be_bytes());
        }
        let f = packet::tests::ipv4_frame([10, 0, 0, 2], [10, 0, 0, 100], 6, &l4);
        let (out, _) = run(&ct, &f, &nat_lookup());
        assert!(checksums_ok(&out));
        let word = |at: usize| u32::from_be_bytes(out[at..at + 4].try_into().unwrap());
        assert_eq!(word(42), 122, "the acknowledgement");
        let edges: Vec<u32> = (0..4).map(|i| word(58 + 4 * i)).collect();
        assert_eq!(edges, [130, 140, 150, 160]);
    }

    /// Past the size where batches read ahead: a batch (existing
    /// connections both ways, new ones, a packet tracked already) runs as
    /// its packets one by one when each runs from what reading ahead read
    /// of it, and reading ahead changes nothing.
    #[test]
    fn a_batch_that_reads_ahead_runs_as_its_packets_one_by_one() {
        let udp = |n: u32, reply: bool| {
            let (a, b) = (
                [10, (n >> 16) as u8, (n >> 8) as u8, n as u8],
                [10, 255, 0, 1],
            );
            let (src, dst, l4) = if reply {
                (b, a, [0, 53, 0, 1, 0, 8, 0, 0])
            } else {
                (a, b, [0, 1, 0, 53, 0, 8, 0, 0])
            };
            let p = OwnedPacket::from_frame(&packet::tests::ipv4_frame(src, dst, 17, &l4)).unwrap();
            let mut k = FlowKey::default();
            extract(p.data(), None, &mut k).unwrap();
            (p, k)
        };
        let commit = CtAction {
            commit: true,
            zone: 4,
            ..CtAction::default()
        };
        let (one, read) = (Conntrack::new(9).unwrap(), Conntrack::new(9).unwrap());
        for ct in [&one, &read] {
            for n in 0..READ_AHEAD_MIN {
                let (mut p, mut k) = udp(n, false);
                ct.execute(&mut p, &mut k, &commit, 0, &mut |_| {});
            }
        }
        let mut batch: Vec<_> = (0..BATCH as u32)
            .map(|i| udp(i * 500 + i % 3 * READ_AHEAD_MIN, i % 2 == 1))
            .collect();
        batch[5].1.ct_state = TRK | EST;
        batch[5].1.ct_zone = 4;
        let (mut pkts, mut keys): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let (mut pkts_r, mut keys_r) = (pkts.clone(), keys.clone());
        let mut ahead = [Ahead::default(); BATCH];
        read.read_ahead(4, pkts_r.iter().zip(&keys_r).map(Some), &mut ahead);
        assert_eq!(read.table().len(), READ_AHEAD_MIN);
        assert!(ahead.iter().any(|a| a.hint.is_some()));
        let verdicts_r: Vec<_> = pkts_r
            .iter_mut()
            .zip(&mut keys_r)
            .zip(&ahead)
            .map(|((p, k), a)| read.execute_read(p, k, &commit, 1, &mut |_| {}, Some(a)))
            .collect();
        let verdicts: Vec<_> = pkts
            .iter_mut()
            .zip(&mut keys)
            .map(|(p, k)| one.execute(p, k, &commit, 1, &mut |_| {}))
            .collect();
        assert_eq!(verdicts, verdicts_r);
        assert_eq!(keys, keys_r);
        assert!(keys.iter().any(|k| k.ct_state == TRK | EST | RPL));
        assert!(keys.iter().any(|k| k.ct_state == TRK | NEW));
        assert_eq!(one.table().len(), read.table().len());
    }

    #[test]
    fn a_full_table_drops_an_unreplied_connection_for_a_new_one() {
        let ct = Conntrack::with_limit(5, 2000).unwrap();
        let commit = CtAction {
            commit: true,
            ..CtAction::default()
        };
        let udp = |n: u32, reply: bool| {
            let (a, b) = ([10, 0, (n >> 8) as u8, n as u8], [10, 1, 0, 1]);
            let l4 = [0, 1, 0, 53, 0, 8, 0, 0];
            if reply {
                packet::tests::ipv4_frame(b, a, 17, &[0, 53, 0, 1, 0, 8, 0, 0])
            } else {
                packet::tests::ipv4_frame(a, b, 17, &l4)
            }
        };
        for n in 0..2000 {
            run(&ct, &udp(n, false), &commit);
        }
        assert_eq!(ct.table().len(), 2000);
        let (_, k) = run(&ct, &udp(5000, false), &commit);
        assert_eq!((k.ct_state, ct.table().len()), (TRK | NEW, 2000));
        assert_eq!(ct.stats.early_drops.load(Relaxed), 1);
        // Every connection replied: nothing may go, the commit is refused.
        let ct = Conntrack::with_limit(5, 50).unwrap();
        for n in 0..50 {
            run(&ct, &udp(n, false), &commit);
            run(&ct, &udp(n, true), &commit);
        }
        let mut p = OwnedPacket::from_frame(&udp(6000, false)).unwrap();
        let mut k = FlowKey::default();
        extract(p.data(), None, &mut k).unwrap();
        let v = ct.execute(&mut p, &mut k, &commit, 0, &mut |_| {});
        assert_eq!((v, ct.stats.full.load(Relaxed)), (Verdict::Drop, 1));
    }
}
