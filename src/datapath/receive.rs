//! The receive path: frames from switch ports, or one userspace sends with
//! `OVS_PACKET_CMD_EXECUTE`, go through key extraction, the megaflow table
//! and its actions; a miss becomes an upcall. Locks are taken once per
//! batch of frames (an NBL chain on Windows), and per-packet counters are
//! per processor, so a flow hit costs no atomic read-modify-write.

use alloc::vec::Vec;
use core::cell::OnceCell;
use core::sync::atomic::Ordering::Relaxed;

use super::{Datapath, FlowActions, Ports};
use crate::actions::{self, Env, ExecContext, Userspace};
use crate::conntrack::action::{self, Family};
use crate::conntrack::refrag;
use crate::conntrack::{self, Verdict};
use crate::flow::FlowKey;
use crate::flow::extract::{extract_typed, packet_hash};
use crate::flow::key::MAC_PROTO_ETHERNET;
use crate::flow::table::{FlowRef, FlowTable, LOOKUP_BATCH, LookupStats};
use crate::meter;
use crate::offload::{Checksums, Segments};
use crate::ovs::packet as op;
use crate::packet::Packet;
use crate::pend::Wakeups;
use crate::percpu::Cpu;
use crate::platform::time::Now;
use crate::switch::{NicIndex, NicState, PortId, UNBOUND};
use crate::sync::ReadGuard;
use crate::sys::prefetch;
use crate::upcall::{self, Extra};
use crate::vport::Vport;

/// Where packets leave the datapath. Implementations only queue: they must
/// not call back into the core (its read locks are held while they run).
pub trait Egress<P> {
    fn send(&mut self, port: PortId, nic: NicIndex, pkt: P);
}

/// What a trip through the datapath produces: frames to send, and pended
/// requests to complete once every lock is released.
pub struct Effects<'a, E: ?Sized> {
    pub egress: &'a mut E,
    pub wake: &'a mut Wakeups,
}

/// Most recirculations one received packet may go through (Linux's
/// recursion limit); beyond, the packet is dropped and counted.
pub const RECIRC_LIMIT: usize = 8;

/// Scratch state of one processor's receive path, allocated once and reused
/// for every packet (nothing here allocates per packet). A context made for
/// `Cpu::Pinned(n)` must only run on processor `n` with preemption off
/// (at DISPATCH_LEVEL on Windows): it writes that processor's counters
/// without atomic read-modify-writes.
pub struct RxContext<P> {
    key: FlowKey,
    s: Scratch<P>,
    sources: Sources,
    /// The frames of a batch between extraction and their actions.
    batch: Batch<P>,
}

/// Frames of a chain looked up together (`FlowTable::lookup_batch`), with
/// their input ports, keys and packet hashes.
struct Batch<P> {
    pkts: Vec<Option<P>>,
    in_ports: [u32; LOOKUP_BATCH],
    keys: Vec<FlowKey>,
    hashes: [u32; LOOKUP_BATCH],
}

/// Which vport each recently seen switch endpoint is bound to, so that a
/// chain mixing source ports resolves each in one compare. An entry is a
/// hint, checked against the vport's binding under the batch's lock.
struct Sources([u32; SOURCE_HINTS]);

const SOURCE_HINTS: usize = 16;

impl Sources {
    fn index((port, nic): (PortId, NicIndex)) -> usize {
        (port ^ u32::from(nic) << 3) as usize % SOURCE_HINTS
    }

    fn get(&self, from: (PortId, NicIndex)) -> u32 {
        self.0.get(Self::index(from)).copied().unwrap_or(UNBOUND)
    }

    fn set(&mut self, from: (PortId, NicIndex), port_no: u32) {
        if let Some(h) = self.0.get_mut(Self::index(from)) {
            *h = port_no;
        }
    }
}

/// What running actions needs besides the key.
struct Scratch<P> {
    cpu: Cpu,
    exec: ExecContext<P>,
    /// Packets waiting to go through the table again, with their keys.
    recirc: Recirc<P>,
    rng: u32,
    tunnel: super::tunnel::Scratch,
    /// The batch's packets as their leading CT action reads them, read
    /// ahead with their flows (`read_ahead_ct`).
    ct_ahead: Vec<conntrack::Ahead>,
    /// Which of `ct_ahead` the packet about to run takes; none for
    /// recirculated and executed packets.
    ct_current: Option<usize>,
    /// The CT actions this processor parsed last.
    ct_parsed: conntrack::parsed::Parsed,
}

/// A bounded queue of recirculating packets. A packet's key is stored
/// beside it, so that it is copied once in and once out (a key is 560
/// bytes: moving it with its packet through an `Option` copied it twice more).
struct Recirc<P> {
    slots: Vec<(Option<P>, FlowKey)>,
    /// Slots in use (so the common case, none, costs one compare).
    used: usize,
}

impl<P> Recirc<P> {
    fn push(&mut self, pkt: P, key: &FlowKey) -> bool {
        let Some(slot) = self.slots.iter_mut().find(|s| s.0.is_none()) else {
            return false;
        };
        *slot = (Some(pkt), *key);
        self.used += 1;
        true
    }

    /// The oldest packet waiting, its key written into `key`.
    fn pop_into(&mut self, key: &mut FlowKey) -> Option<P> {
        if self.used == 0 {
            return None;
        }
        let (pkt, k) = self.slots.iter_mut().find(|s| s.0.is_some())?;
        *key = *k;
        self.used = self.used.saturating_sub(1);
        pkt.take()
    }
}

impl<P: Packet> RxContext<P> {
    /// The key the next packet is run with.
    pub fn key_mut(&mut self) -> &mut FlowKey {
        &mut self.key
    }

    /// `None` when out of memory.
    pub fn try_new(cpu: Cpu, seed: u32) -> Option<RxContext<P>> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(RECIRC_LIMIT).ok()?;
        slots.resize_with(RECIRC_LIMIT, || (None, FlowKey::default()));
        let recirc = Recirc { slots, used: 0 };
        let mut ct_ahead = Vec::new();
        ct_ahead.try_reserve_exact(LOOKUP_BATCH).ok()?;
        ct_ahead.resize(LOOKUP_BATCH, conntrack::Ahead::default());
        let s = Scratch {
            cpu,
            exec: ExecContext::try_new()?,
            recirc,
            rng: seed | 1,
            tunnel: super::tunnel::Scratch::try_new()?,
            ct_ahead,
            ct_current: None,
            ct_parsed: conntrack::parsed::Parsed::try_new()?,
        };
        let mut pkts = Vec::new();
        pkts.try_reserve_exact(LOOKUP_BATCH).ok()?;
        pkts.resize_with(LOOKUP_BATCH, || None);
        let mut keys = Vec::new();
        keys.try_reserve_exact(LOOKUP_BATCH).ok()?;
        keys.resize(LOOKUP_BATCH, FlowKey::default());
        Some(RxContext {
            key: FlowKey::default(),
            s,
            sources: Sources([UNBOUND; SOURCE_HINTS]),
            batch: Batch {
                pkts,
                in_ports: [0; LOOKUP_BATCH],
                keys,
                hashes: [0; LOOKUP_BATCH],
            },
        })
    }
}

/// The locked state one batch works with.
struct View<'a> {
    dp: &'a Datapath,
    ports: &'a Ports,
    flows: &'a FlowTable<FlowActions>,
    /// Taken by the batch's first METER action.
    meters: OnceCell<ReadGuard<'a, meter::Table>>,
    now: Now,
}

impl View<'_> {
    /// Counts a lost upcall against the datapath and the input port.
    fn lost(&self, cpu: Cpu, in_port: u32) {
        crate::diag::dropped(crate::diag::Drop::UpcallLost, Some(in_port));
        self.dp.count(cpu, |s| &s.n_lost, 1);
        if let Some(v) = self.ports.vports.get(in_port) {
            v.stats.upcall_fail.fetch_add(1, Relaxed);
        }
    }

    /// Counts a packet dropped at the recirculation limit.
    fn recirc_dropped(&self, cpu: Cpu) {
        crate::diag::dropped(crate::diag::Drop::RecircLimit, None);
        self.dp.count(cpu, |s| &s.n_recirc_dropped, 1);
    }

    fn upcalled(&self, in_port: u32) {
        if let Some(v) = self.ports.vports.get(in_port) {
            v.stats.upcall_success.fetch_add(1, Relaxed);
        }
    }
}

/// Hands `pkt`, leaving by vport `v`, to `send`: in fragments if it is a
/// reassembled packet longer than its MRU (Linux's `do_output`), counting
/// on `v` one that could not be cut.
fn cut_to_mru<P: Packet>(dp: &Datapath, v: &Vport, pkt: P, send: &mut dyn FnMut(P)) {
    if pkt.mru() != 0 && refrag::needed(&pkt) {
        let frags = &dp.conntrack.frags;
        let cut = refrag::fragment(&pkt, frags, send);
        if frags.stats.refragmented(cut).is_err() {
            v.stats.tx_dropped.fetch_add(1, Relaxed);
        }
    } else {
        send(pkt);
    }
}

/// What actions see of the datapath while they run.
struct DpEnv<'a, 'v, P, E: ?Sized> {
    view: &'a View<'v>,
    cpu: Cpu,
    egress: &'a mut E,
    wake: &'a mut Wakeups,
    recirc: &'a mut Recirc<P>,
    rng: &'a mut u32,
    tunnel: &'a mut super::tunnel::Scratch,
    in_port: u32,
    /// The packet as its leading CT action reads it, if read ahead; taken
    /// by the first CT action.
    ct_ahead: Option<&'a conntrack::Ahead>,
    ct_parsed: &'a mut conntrack::parsed::Parsed,
}

impl<P: Packet, E: Egress<P> + ?Sized> Env<P> for DpEnv<'_, '_, P, E> {
    fn output(&mut self, port_no: u32, pkt: P) {
        let Some(v) = self.view.ports.vports.get(port_no) else {
            return;
        };
        match v.binding {
            Some((port, nic)) => {
                let (egress, cpu) = (&mut *self.egress, self.cpu);
                cut_to_mru(self.view.dp, v, pkt, &mut |f: P| {
                    v.stats.tx(cpu, f.len());
                    egress.send(port, nic, f);
                });
            }
            None => {
                crate::diag::dropped(crate::diag::Drop::OutputUnbound, Some(port_no));
                v.stats.tx_dropped.fetch_add(1, Relaxed);
            }
        }
    }

    fn output_tunnel(&mut self, port_no: u32, pkt: P, tunnel: &[u8], key: &FlowKey) {
        let (view, cpu) = (self.view, self.cpu);
        let Some(v) = view.ports.vports.get(port_no).filter(|v| v.ty.is_tunnel()) else {
            return self.output(port_no, pkt);
        };
        let (egress, scratch) = (&mut *self.egress, &mut *self.tunnel);
        // Each fragment is encapsulated on its own (Linux cuts before the
        // tunnel vport sends).
        cut_to_mru(view.dp, v, pkt, &mut |p: P| {
            super::tunnel::output(view.ports, cpu, v, p, tunnel, key, egress, scratch)
        });
    }

    fn userspace(&mut self, pkt: &P, key: &FlowKey, up: &Userspace<'_>) {
        let egress_tun_key = match (up.egress_tun_port, up.egress_tunnel) {
            (Some(port_no), Some(tunnel)) => self
                .view
                .ports
                .vports
                .get(port_no)
                .filter(|v| v.ty.is_tunnel())
                .and_then(|v| {
                    super::tunnel::egress_key(self.view.ports, v, tunnel, key, self.tunnel)
                }),
            _ => None,
        };
        let extra = Extra {
            userdata: up.userdata,
            actions: up.actions,
            original_len: up.original_len,
            checksums: Checksums::NONE,
            mru: None,
            egress_tun_key,
        };
        let queued = self
            .view
            .upcall(op::CMD_ACTION, up.pid, key, pkt, extra, self.wake);
        if queued {
            self.view.upcalled(self.in_port);
        } else {
            self.view.lost(self.cpu, self.in_port);
        }
    }

    fn recirc(&mut self, pkt: P, key: &FlowKey) {
        if !self.recirc.push(pkt, key) {
            self.view.recirc_dropped(self.cpu);
        }
    }

    fn conntrack(&mut self, pkt: &mut P, key: &mut FlowKey, ct: &[u8]) -> Verdict {
        // Validated at install; a list that no longer parses (the key's
        // Ethertype changed since) drops the packet.
        let parsed = Family::of_eth_type(key.eth_type).and_then(|f| self.ct_parsed.parse(ct, f));
        match parsed {
            Ok(ct) => {
                let (dp, now, wake) = (self.view.dp, self.view.now.ms(), &mut *self.wake);
                let mut notify = |ev: &_| dp.post_ct_event(ev, now, wake);
                let ahead = self.ct_ahead.take();
                dp.conntrack
                    .execute_read(pkt, key, &ct, now, &mut notify, ahead)
            }
            Err(_) => Verdict::Drop,
        }
    }

    fn refuse(&mut self, port_no: u32) {
        if let Some(v) = self.view.ports.vports.get(port_no) {
            v.stats.tx_dropped.fetch_add(1, Relaxed);
        }
    }

    fn meter(&mut self, id: u32, len: usize) -> bool {
        let meters = self.view.meters.get_or_init(|| self.view.dp.meters.read());
        meters
            .get(id)
            .is_some_and(|m| m.run(self.cpu, self.view.now, len))
    }

    fn random(&mut self) -> u32 {
        // xorshift32: sampling needs speed, not strength.
        let mut x = *self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *self.rng = x;
        x
    }
}

impl Datapath {
    /// A frame enters the switch from endpoint (`port`, `nic`).
    pub fn receive<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ctx: &mut RxContext<P>,
        from: (PortId, NicIndex),
        pkt: P,
        now: Now,
        fx: &mut Effects<'_, E>,
    ) {
        self.receive_batch(ctx, core::iter::once((from, pkt)), now, fx);
    }

    /// Frames enter the switch, each from its endpoint; the datapath's locks
    /// are taken once for all of them.
    pub fn receive_batch<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ctx: &mut RxContext<P>,
        batch: impl IntoIterator<Item = ((PortId, NicIndex), P)>,
        now: Now,
        fx: &mut Effects<'_, E>,
    ) {
        self.with_view(now, |view| view.batch(ctx, batch, fx));
    }

    /// Runs `f` with the datapath's read locks held.
    fn with_view<R>(&self, now: Now, f: impl FnOnce(&View<'_>) -> R) -> R {
        let ports = self.ports.read();
        let flows = self.flows.read();
        f(&View {
            dp: self,
            ports: &ports,
            flows: &flows,
            meters: OnceCell::new(),
            now,
        })
    }
}

impl View<'_> {
    /// Takes the frames `LOOKUP_BATCH` at a time: each is extracted and
    /// hashed, the batch looked up at once, then each frame's actions run
    /// (and its recirculations), in order.
    fn batch<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ctx: &mut RxContext<P>,
        batch: impl IntoIterator<Item = ((PortId, NicIndex), P)>,
        fx: &mut Effects<'_, E>,
    ) {
        let mut frames = batch.into_iter();
        loop {
            let (taken, n) = self.extract_batch(ctx, &mut frames);
            if taken == 0 {
                return;
            }
            let b = &mut ctx.batch;
            let mut found = [(None, LookupStats::default()); LOOKUP_BATCH];
            let keys = b.keys.get(..n).unwrap_or_default();
            self.flows.lookup_batch(keys, &b.hashes, &mut found);
            // The flows' actions (beside their counters) are prefetched
            // before any runs, so that their cache misses overlap too.
            let hits = found.iter().take(n).filter_map(|(f, _)| f.as_ref());
            hits.for_each(|f| prefetch::address(f.actions().bytes().as_ptr().addr()));
            self.read_ahead_ct(&ctx.batch, &found, n, &mut ctx.s.ct_ahead);
            for (i, found) in found.into_iter().enumerate().take(n) {
                let b = &mut ctx.batch;
                let (Some(pkt), Some(key), Some(&hash)) = (
                    b.pkts.get_mut(i).and_then(Option::take),
                    b.keys.get_mut(i),
                    b.hashes.get(i),
                ) else {
                    continue;
                };
                ctx.s.ct_current = Some(i);
                self.resolve(&mut ctx.s, fx, pkt, key, hash, found);
                ctx.s.ct_current = None;
                self.drain_recirc(ctx, fx);
            }
        }
    }

    /// Packets whose actions start with a CT action are read for it ahead,
    /// into `ahead`, and the connections they will look up read ahead
    /// together, as their flows were (those of the first such action's
    /// zone; the others' slots are emptied).
    fn read_ahead_ct<P: Packet>(
        &self,
        b: &Batch<P>,
        found: &[(Option<FlowRef<'_, FlowActions>>, LookupStats)],
        n: usize,
        ahead: &mut [conntrack::Ahead],
    ) {
        let mut zones = [None; LOOKUP_BATCH];
        for (z, (f, _)) in zones.iter_mut().zip(found.iter().take(n)) {
            *z = f
                .as_ref()
                .and_then(|f| action::leading_zone(f.actions().bytes()));
        }
        let zone = zones.iter().flatten().next().copied();
        let pkts = b.pkts.iter().zip(&b.keys).zip(zones).take(n);
        self.dp.conntrack.read_ahead(
            zone.unwrap_or_default(),
            pkts.map(|((p, k), z)| z.filter(|_| z == zone).and(p.as_ref().map(|p| (p, k)))),
            ahead,
        );
    }

    /// Fills the batch with the next frames of the chain from bound ports,
    /// extracted and hashed; returns how many it took from the chain and
    /// how many were well formed (those are at the front of the batch).
    fn extract_batch<P: Packet>(
        &self,
        ctx: &mut RxContext<P>,
        frames: &mut impl Iterator<Item = ((PortId, NicIndex), P)>,
    ) -> (usize, usize) {
        let ports = self.ports;
        let (frags, now_ms) = (&self.dp.conntrack.frags, self.now.ms());
        let b = &mut ctx.batch;
        let mut n = 0;
        while n < LOOKUP_BATCH {
            let Some((from, pkt)) = frames.next() else {
                break;
            };
            let vport = match ports.vports.get(ctx.sources.get(from)) {
                Some(v) if v.binding == Some(from) => Some(v),
                _ => {
                    let v = ports
                        .switch
                        .endpoint(from.0, from.1)
                        .filter(|ep| ep.state == NicState::Connected && ep.vport != UNBOUND)
                        .and_then(|ep| ports.vports.get(ep.vport));
                    ctx.sources.set(from, v.map_or(UNBOUND, |v| v.port_no));
                    v
                }
            };
            let Some(v) = vport else { continue };
            v.stats.rx(ctx.s.cpu, pkt.len());
            let (Some(slot), Some(port)) = (b.pkts.get_mut(n), b.in_ports.get_mut(n)) else {
                break;
            };
            *slot = Some(pkt);
            *port = v.port_no;
            n += 1;
        }
        // Each frame's first bytes are prefetched before any is parsed, so
        // that their cache misses overlap.
        let frames = b.pkts.iter().take(n).flatten();
        frames.for_each(|p| prefetch::address(p.data().as_ptr().addr()));
        // Well-formed frames move to the front as they are extracted.
        let mut kept = 0;
        for i in 0..n {
            let (Some(pkt), Some(&port)) =
                (b.pkts.get_mut(i).and_then(Option::take), b.in_ports.get(i))
            else {
                continue;
            };
            let (Some(key), Some(hash)) = (b.keys.get_mut(kept), b.hashes.get_mut(kept)) else {
                continue;
            };
            key.reset_metadata(port);
            key.mac_proto = MAC_PROTO_ETHERNET;
            // A frame addressed to a tunnel vport: its inner frame, from it.
            let Some(pkt) = super::tunnel::receive(ports, ctx.s.cpu, frags, now_ms, pkt, key)
            else {
                continue;
            };
            if self.extract(&pkt, key) {
                *hash = packet_hash(key);
                if let Some(slot) = b.pkts.get_mut(kept) {
                    *slot = Some(pkt);
                }
                kept += 1;
            }
        }
        (n, kept)
    }
}

impl Datapath {
    /// `OVS_PACKET_CMD_EXECUTE`: the packet's key (the metadata userspace
    /// gave, the rest extracted from the packet) is in `ctx.key_mut()`;
    /// `actions` were validated against it.
    pub fn execute<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ctx: &mut RxContext<P>,
        pkt: P,
        actions: &[u8],
        now: Now,
        fx: &mut Effects<'_, E>,
    ) {
        self.with_view(now, |view| {
            view.run(&mut ctx.s, fx, pkt, &mut ctx.key, actions);
            view.drain_recirc(ctx, fx);
        });
    }
}

impl View<'_> {
    /// Recirculated packets go through the table again, oldest first.
    fn drain_recirc<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ctx: &mut RxContext<P>,
        fx: &mut Effects<'_, E>,
    ) {
        for _ in 0..RECIRC_LIMIT {
            let Some(pkt) = ctx.s.recirc.pop_into(&mut ctx.key) else {
                return;
            };
            self.pass(ctx, pkt, fx);
        }
        while ctx.s.recirc.pop_into(&mut ctx.key).is_some() {
            self.recirc_dropped(ctx.s.cpu);
        }
    }

    /// One trip through the table for a packet whose metadata is in `ctx.key`.
    fn pass<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ctx: &mut RxContext<P>,
        pkt: P,
        fx: &mut Effects<'_, E>,
    ) {
        let key = &mut ctx.key;
        if !self.extract(&pkt, key) {
            return;
        }
        let hash = packet_hash(key);
        let found = self.flows.lookup(key, hash);
        self.resolve(&mut ctx.s, fx, pkt, key, hash, found);
    }

    /// Extracts the packet's key after its metadata (`mac_proto` says
    /// whether it starts with an Ethernet header: a recirculated packet may
    /// have lost it); false (the frame counted as an error and dropped) if
    /// the frame is malformed.
    fn extract<P: Packet>(&self, pkt: &P, key: &mut FlowKey) -> bool {
        if extract_typed(pkt.data(), pkt.oob_vlan(), key).is_ok() {
            return true;
        }
        crate::diag::dropped(crate::diag::Drop::BadFrame, Some(key.in_port));
        if let Some(v) = self.ports.vports.get(key.in_port) {
            v.stats.rx_errors.fetch_add(1, Relaxed);
        }
        false
    }

    /// What follows a packet's lookup: its flow's statistics and actions on
    /// a hit, an upcall on a miss.
    fn resolve<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        s: &mut Scratch<P>,
        fx: &mut Effects<'_, E>,
        pkt: P,
        key: &mut FlowKey,
        hash: u32,
        (hit, look): (Option<FlowRef<'_, FlowActions>>, LookupStats),
    ) {
        let cpu = s.cpu;
        let (st, excl) = self.dp.stats.slot(cpu);
        crate::percpu::add(&st.n_mask_hit, u64::from(look.n_mask_hit), excl);
        let Some(flow) = hit else {
            crate::percpu::add(&st.n_missed, 1, excl);
            self.miss(cpu, &pkt, key, hash, fx.wake);
            return;
        };
        crate::percpu::add(&st.n_hit, 1, excl);
        if look.cache_hit {
            crate::percpu::add(&st.n_cache_hit, 1, excl);
        }
        flow.record(cpu, self.now.ms(), pkt.len() as u64, key.tcp_flags);
        self.run(s, fx, pkt, key, flow.actions().bytes());
    }

    /// Runs `actions` on a packet whose key is `key`.
    fn run<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        s: &mut Scratch<P>,
        fx: &mut Effects<'_, E>,
        pkt: P,
        key: &mut FlowKey,
        actions: &[u8],
    ) {
        let mut env = DpEnv {
            view: self,
            cpu: s.cpu,
            egress: &mut *fx.egress,
            wake: &mut *fx.wake,
            recirc: &mut s.recirc,
            rng: &mut s.rng,
            tunnel: &mut s.tunnel,
            in_port: key.in_port,
            ct_ahead: s.ct_current.take().and_then(|i| s.ct_ahead.get(i)),
            ct_parsed: &mut s.ct_parsed,
        };
        actions::execute(&mut s.exec, &mut env, pkt, key, actions);
    }

    /// Queues an upcall of `pkt` for `pid`, with the offloads its sender left
    /// done in software as the C driver did: a large send is cut into one
    /// upcall per segment, pending checksums are filled in. True if every
    /// message was queued.
    fn upcall<P: Packet>(
        &self,
        cmd: u8,
        pid: u32,
        key: &FlowKey,
        pkt: &P,
        extra: Extra<'_>,
        wake: &mut Wakeups,
    ) -> bool {
        let req = pkt.offload();
        let extra = Extra {
            mru: (pkt.mru() != 0).then(|| pkt.mru()),
            ..extra
        };
        let queue = |frame: &[u8], extra: &Extra<'_>, wake: &mut Wakeups| {
            upcall::message(cmd, pid, key, frame, pkt.oob_vlan(), extra)
                .is_some_and(|m| self.dp.queues.lock().upcalls.enqueue(pid, m, wake).is_ok())
        };
        let Some(segments) = req.lso.and_then(|lso| Segments::new(pkt.data(), lso).ok()) else {
            return queue(
                pkt.data(),
                &Extra {
                    checksums: req.checksums,
                    ..extra
                },
                wake,
            );
        };
        // One buffer, as long as the first (longest) segment, serves them all.
        let longest = segments.len_of(0);
        let mut seg = Vec::new();
        if seg.try_reserve_exact(longest).is_err() {
            return false;
        }
        seg.extend(core::iter::repeat_n(0u8, longest));
        (0..segments.count()).all(|i| {
            let n = segments.write(i, &mut seg).unwrap_or(0);
            n != 0 && queue(seg.get(..n).unwrap_or_default(), &extra, wake)
        })
    }

    /// A miss: an `OVS_PACKET_CMD_MISS` upcall to the PID the input port
    /// gives for this packet's hash.
    fn miss<P: Packet>(&self, cpu: Cpu, pkt: &P, key: &FlowKey, hash: u32, wake: &mut Wakeups) {
        let Some(v) = self.ports.vports.get(key.in_port) else {
            return;
        };
        let pid = v.upcall_pid(hash);
        let queued = pid != 0 && self.upcall(op::CMD_MISS, pid, key, pkt, Extra::default(), wake);
        if queued {
            self.upcalled(key.in_port);
        } else {
            self.lost(cpu, key.in_port);
        }
    }
}
