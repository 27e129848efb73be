//! Connection tracking (Linux `net/openvswitch/conntrack.c` over
//! `nf_conntrack`; OVS's `lib/conntrack*.c`): the CT action, the table of
//! connections, per-zone limits and expiry.
//!
//! The CT action runs a packet through the tracker of its zone and writes
//! the result into the flow key (`ct_state`, `ct_zone`, `ct_mark`,
//! `ct_labels`, the original tuple), as Linux does:
//! - a packet it cannot read, or that its connection's protocol state
//!   refuses, is `+trk+inv` and goes on (the tracker never drops it);
//! - a packet of no connection is `+trk+new`, and only a committing action
//!   stores the connection; original-direction packets stay `+new` until a
//!   reply has been seen, then `+est`; replies are `+est+rpl`;
//! - an ICMP error quoting a packet of a connection is `+rel` (`+rpl` when
//!   it travels in that connection's reply direction);
//! - a packet already tracked in this zone by an earlier CT action (its key
//!   says so, as Linux's cached `skb->_nfct`) is not run through the
//!   protocol state machine again; a commit then stores or updates it;
//! - a commit over the zone's limit, or over the table's when no
//!   never-replied connection nearby can be dropped to make room, drops the
//!   packet and is counted (Linux's `ovs_ct_commit` error path).

pub mod action;
mod conn;
pub mod ctnetlink;
pub mod events;
mod format;
mod icmp;
mod nat;
mod other;
mod packet;
pub mod table;
mod tcp;
mod timeouts;
pub mod tuple;
pub mod zone;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::flow::FlowKey;
use crate::flow::key::{CtTuple, MAC_PROTO_ETHERNET};
use crate::ovs::key as k;
use crate::packet::Packet;
use action::CtAction;
pub use conn::Conn;
use conn::Step;
use packet::{Kind, View};
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
}

/// What the CT action decided for the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// A commit could not be honoured: drop the packet.
    Drop,
}

pub struct Conntrack {
    table: Table,
    seed: u64,
    /// Draws of PROTO_RANDOM port choices.
    draws: AtomicU32,
    pub zones: Zones,
    pub stats: Stats,
    /// The event groups some handle listens to (`event::group::CT_*`).
    listeners: AtomicU32,
}

/// Where events go (the datapath renders and queues them).
pub type Notify<'a> = dyn FnMut(&events::Event) + 'a;

/// The packet ends its connection and starts a new one.
struct Replaced;

/// What the key learns from a connection.
struct Seen {
    state: u8,
    mark: u32,
    labels: [u8; 16],
    orig: Tuple,
    /// The stored connection's reply tuple (its NAT binding), if stored.
    reply: Option<Tuple>,
    /// The packet travels in the reply direction.
    is_reply: bool,
}

fn count(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
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
            listeners: AtomicU32::new(0),
        })
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The event groups handles have joined (after a subscription changes).
    pub fn set_listeners(&self, groups: u32) {
        self.listeners.store(groups, Relaxed);
    }

    /// Sends an event about `conn` if someone listens and its mask lets it.
    fn event(&self, notify: &mut Notify<'_>, kind: events::Kind, id: u32, conn: &Conn) {
        if self.listeners.load(Relaxed) & kind.group() != 0 && events::wanted(conn, kind) {
            notify(&events::Event {
                kind,
                id,
                conn: *conn,
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
        ct: &CtAction<'_>,
        now_ms: u64,
        notify: &mut Notify<'_>,
    ) -> Verdict {
        let zone = ct.zone;
        let cached = key.ct_state & TRK != 0 && key.ct_zone == zone;
        // NAT once per packet and zone, as Linux's NAT bits in the key say.
        let nat = ct.nat.is_some() && !(cached && key.ct_state & (SNAT | DNAT) != 0);
        if cached && !ct.commit && !nat {
            return Verdict::Continue;
        }
        // A packet without an Ethernet header (after pop_eth) is not read
        // here: it is invalid.
        let fragment = key.ip_frag != k::FRAG_NONE;
        let view = (key.mac_proto == MAC_PROTO_ETHERNET)
            .then(|| packet::parse(pkt.data(), pkt.oob_vlan(), zone, fragment))
            .flatten();
        let Some(view) = view else {
            self.invalid(key, zone);
            return Verdict::Continue;
        };
        match self.track(&view, ct, cached, now_ms, notify) {
            Ok(Some(mut seen)) => {
                if nat && let Some(reply) = seen.reply {
                    match self.translate(pkt, key, &view, &seen.orig, &reply, seen.is_reply) {
                        Some(bits) => seen.state |= bits,
                        None => {
                            count(&self.stats.nat_failed);
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
                key.ct_mark = seen.mark;
                key.ct_labels = seen.labels;
                key.ct_orig = seen.orig.to_key();
                Verdict::Continue
            }
            Ok(None) => {
                self.invalid(key, zone);
                Verdict::Continue
            }
            Err(()) => Verdict::Drop,
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

    /// The packet's connection state: `None` for invalid, `Err` to drop.
    fn track(
        &self,
        view: &View,
        ct: &CtAction<'_>,
        cached: bool,
        now_ms: u64,
        notify: &mut Notify<'_>,
    ) -> Result<Option<Seen>, ()> {
        if let Kind::IcmpError { quoted, .. } = view.kind {
            return Ok(self.related(&quoted, now_ms));
        }
        let updates = self.listening(events::Kind::Update);
        // Twice at most: once more after removing a connection the packet
        // replaces (timed out, reopened, or forced the other way).
        for _ in 0..2 {
            let found = self.table.lookup(&view.tuple, now_ms, |c, reply| {
                if ct.force && reply {
                    return Err(Replaced);
                }
                let before = (c.mark, c.labels, c.seen_reply);
                if !cached {
                    match c.update(view, reply, now_ms) {
                        Step::Valid => {}
                        Step::Invalid => return Ok((None, None)),
                        Step::Reopen => return Err(Replaced),
                    }
                }
                if ct.commit {
                    Self::set_metadata(c, ct);
                }
                let changed = updates && before != (c.mark, c.labels, c.seen_reply);
                let state = match (reply, c.seen_reply) {
                    (true, _) => TRK | EST | RPL,
                    (false, true) => TRK | EST,
                    (false, false) => TRK | NEW,
                };
                let seen = Seen {
                    state,
                    mark: c.mark,
                    labels: c.labels,
                    orig: c.orig,
                    reply: Some(c.reply),
                    is_reply: reply,
                };
                Ok((Some(seen), changed.then_some(*c)))
            });
            match found {
                Found::Live(id, Ok((seen, changed))) => {
                    if let Some(c) = changed {
                        self.event(notify, events::Kind::Update, id, &c);
                    }
                    return Ok(seen);
                }
                Found::Live(id, Err(Replaced)) | Found::Expired(id) => self.remove(id, notify),
                Found::Missing => return self.create(view, ct, now_ms, notify),
            }
        }
        self.create(view, ct, now_ms, notify)
    }

    /// An ICMP error: RELATED to the connection of the packet it quotes
    /// (which travelled the other way), if there is one.
    fn related(&self, quoted: &Tuple, now_ms: u64) -> Option<Seen> {
        let back = quoted.reverse()?;
        match self.table.lookup(&back, now_ms, |c, reply| Seen {
            state: TRK | REL | if reply { RPL } else { 0 },
            mark: c.mark,
            labels: c.labels,
            orig: c.orig,
            reply: Some(c.reply),
            is_reply: reply,
        }) {
            Found::Live(_, seen) => Some(seen),
            _ => None,
        }
    }

    /// A packet of no connection: NEW, and stored if committed.
    fn create(
        &self,
        view: &View,
        ct: &CtAction<'_>,
        now_ms: u64,
        notify: &mut Notify<'_>,
    ) -> Result<Option<Seen>, ()> {
        let Some(reply) = view.tuple.reverse() else {
            return Ok(None);
        };
        let Some(mut conn) = Conn::new(view, reply, now_ms) else {
            return Ok(None);
        };
        let mut stored = None;
        if ct.commit {
            Self::set_metadata(&mut conn, ct);
            if let Some(mask) = ct.eventmask {
                conn.eventmask = mask as u16;
            }
            if let Some(n) = ct.nat.filter(|n| n.kind.is_some()) {
                let random = || self.draws.fetch_add(0x9e37_79b9, Relaxed) ^ now_ms as u32;
                let Some(r) = nat::choose(&self.table, &conn.orig, &n, self.seed, random) else {
                    count(&self.stats.nat_exhausted);
                    return Err(());
                };
                conn.reply = r;
            }
            if !self.zones.try_take(view.tuple.zone) {
                count(&self.stats.zone_limit);
                return Err(());
            }
            let mut inserted = self.table.insert(conn);
            // Full: make room by dropping a connection that was never
            // replied to, near where this one goes (Linux's early drop).
            if inserted == Err(Refused::Full)
                && let Some(victim) = self.table.unreplied_near(&conn.orig)
            {
                count(&self.stats.early_drops);
                self.remove(victim, notify);
                inserted = self.table.insert(conn);
            }
            match inserted {
                Ok(id) => {
                    stored = Some(conn.reply);
                    self.event(notify, events::Kind::New, id, &conn);
                }
                Err(e) => {
                    self.zones.release(view.tuple.zone);
                    match e {
                        // Another processor committed it first: it is
                        // that connection's packet.
                        Refused::Exists => {}
                        Refused::Full => {
                            count(&self.stats.full);
                            return Err(());
                        }
                        Refused::NoMemory => {
                            count(&self.stats.no_memory);
                            return Err(());
                        }
                    }
                }
            }
        }
        Ok(Some(Seen {
            state: TRK | NEW,
            mark: conn.mark,
            labels: conn.labels,
            orig: conn.orig,
            reply: stored,
            is_reply: false,
        }))
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
        let ports = nat::has_ports(orig.proto);
        let snat = orig.src != reply.dst || ports && orig.sport != reply.dport;
        let dnat = orig.dst != reply.src || ports && orig.dport != reply.sport;
        if !snat && !dnat {
            return Some(0);
        }
        let bits = match (is_reply, snat, dnat) {
            (_, true, true) => SNAT | DNAT,
            (false, true, _) | (true, _, true) => SNAT,
            _ => DNAT,
        };
        let partial = {
            let c = pkt.offload().checksums;
            c.tcp || c.udp
        };
        let len = pkt.len();
        let f = pkt.data_mut()?;
        let outer = nat::headers_of(view, len, partial);
        match view.kind {
            Kind::IcmpError { quoted, inner_l3 } => {
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
            _ => {
                let target = if is_reply {
                    orig.reverse()?
                } else {
                    reply.reverse()?
                };
                if let Some(rw) = nat::Rewrite::between(&view.tuple, &target) {
                    nat::apply(f, &outer, &rw)?;
                    nat::update_key(key, &rw, view.tuple.v6 == 1, true);
                }
            }
        }
        Some(bits)
    }

    fn set_metadata(c: &mut Conn, ct: &CtAction<'_>) {
        if let Some((value, mask)) = ct.mark {
            c.mark = (c.mark & !mask) | (value & mask);
        }
        if let Some((value, mask)) = &ct.labels {
            masked_labels(&mut c.labels, value, mask);
        }
    }

    fn remove(&self, id: u32, notify: &mut Notify<'_>) {
        if let Some(c) = self.table.remove(id) {
            self.gone(id, &c, notify);
        }
    }

    /// Accounts for a connection that went.
    fn gone(&self, id: u32, c: &Conn, notify: &mut Notify<'_>) {
        self.zones.release(c.orig.zone);
        self.event(notify, events::Kind::Destroy, id, c);
    }

    /// Removes the connection with tuple `t` (either way); false if there
    /// is none.
    pub fn remove_tuple(&self, t: &Tuple, now_ms: u64, notify: &mut Notify<'_>) -> bool {
        match self.table.lookup(t, now_ms, |_, _| ()) {
            Found::Live(id, ()) | Found::Expired(id) => {
                self.remove(id, notify);
                true
            }
            Found::Missing => false,
        }
    }

    /// Upkeep: expires timed-out connections, a bounded number of slots a
    /// call.
    pub fn expire(&self, now_ms: u64, notify: &mut Notify<'_>) {
        self.table
            .expire(now_ms, EXPIRE_BUDGET, |id, c| self.gone(id, &c, notify));
    }

    /// Removes every connection `pred` selects (flushes, a switch detaching).
    pub fn flush(&self, pred: impl FnMut(&Conn) -> bool, notify: &mut Notify<'_>) {
        self.table
            .remove_if(pred, |id, c| self.gone(id, &c, notify));
    }
}

#[cfg(test)]
mod tests {
    use super::action::{Nat, NatKind};
    use super::*;
    use crate::flow::extract::extract;
    use crate::offload::{Checksums, complete_checksums};
    use crate::packet::OwnedPacket;
    use std::vec::Vec;

    fn v6(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = last;
        a
    }

    /// Ethernet/IPv6 around `l4` (`proto`), transport checksum filled in.
    fn ipv6_frame(src: [u8; 16], dst: [u8; 16], proto: u8, l4: &[u8]) -> Vec<u8> {
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

    fn run(ct: &Conntrack, f: &[u8], action: &CtAction<'_>) -> (Vec<u8>, FlowKey) {
        let mut p = OwnedPacket::from_frame(f).unwrap();
        let mut k = FlowKey::default();
        extract(p.data(), None, &mut k).unwrap();
        assert_eq!(
            ct.execute(&mut p, &mut k, action, 0, &mut |_| {}),
            Verdict::Continue
        );
        (p.data().to_vec(), k)
    }

    /// The transport checksum is what a fresh computation gives.
    fn l4_checksum_ok(f: &[u8]) -> bool {
        let mut again = f.to_vec();
        let all = Checksums {
            ip: false,
            tcp: true,
            udp: false,
        };
        complete_checksums(&mut again, all).is_ok() && again == f
    }

    #[test]
    fn ipv6_snat_both_ways_and_icmpv6_echo() {
        let ct = Conntrack::new(3).unwrap();
        let (client, server, public) = (v6(1), v6(2), v6(0x64));
        let syn = packet::tests::tcp(40000, 443, 0x02, 1, 0, 0);
        let commit = CtAction {
            commit: true,
            nat: Some(Nat {
                kind: Some(NatKind::Src),
                addrs: Some((public, public)),
                ..Nat::default()
            }),
            ..CtAction::default()
        };
        let (out, k) = run(&ct, &ipv6_frame(client, server, 6, &syn), &commit);
        assert_eq!(&out[22..38], &public);
        assert_eq!(k.ipv6_src, public);
        assert_eq!(k.ct_state, TRK | NEW | SNAT);
        assert!(l4_checksum_ok(&out));
        let lookup = CtAction {
            nat: Some(Nat::default()),
            ..CtAction::default()
        };
        let synack = packet::tests::tcp(443, 40000, 0x12, 9, 2, 0);
        let (back, k) = run(&ct, &ipv6_frame(server, public, 6, &synack), &lookup);
        assert_eq!(&back[38..54], &client);
        assert_eq!(k.ct_state, TRK | EST | RPL | DNAT);
        assert!(l4_checksum_ok(&back));
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
