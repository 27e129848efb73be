//! The receive path: a frame from a switch port, or one userspace sends with
//! `OVS_PACKET_CMD_EXECUTE`, goes through key extraction, the megaflow
//! table and its actions; a miss becomes an upcall.

use alloc::vec::Vec;
use core::sync::atomic::Ordering::Relaxed;

use super::{Datapath, Ports};
use crate::actions::{self, Env, ExecContext, Userspace};
use crate::flow::FlowKey;
use crate::flow::extract::{extract, packet_hash};
use crate::flow::key::{TUN_OPTS_MAX, TunnelKey};
use crate::ovs::packet as op;
use crate::packet::Packet;
use crate::pend::Wakeups;
use crate::switch::{NicIndex, NicState, PortId, UNBOUND};
use crate::upcall::{self, Extra};

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
/// for every packet (nothing here allocates per packet).
pub struct RxContext<P> {
    exec: ExecContext<P>,
    key: FlowKey,
    /// Packets waiting to go through the table again, with their keys.
    recirc: Vec<Option<(P, FlowKey)>>,
    rng: u32,
}

impl<P: Packet> RxContext<P> {
    /// `None` when out of memory.
    pub fn try_new(seed: u32) -> Option<RxContext<P>> {
        let mut recirc = Vec::new();
        recirc.try_reserve_exact(RECIRC_LIMIT).ok()?;
        recirc.resize_with(RECIRC_LIMIT, || None);
        Some(RxContext {
            exec: ExecContext::try_new()?,
            key: FlowKey::default(),
            recirc,
            rng: seed | 1,
        })
    }
}

/// Drops that the datapath counts as lost upcalls.
fn lost(dp: &Datapath, ports: &Ports, in_port: u32) {
    dp.stats.n_lost.fetch_add(1, Relaxed);
    if let Some(v) = ports.vports.get(in_port) {
        v.stats.upcall_fail.fetch_add(1, Relaxed);
    }
}

/// What actions see of the datapath while they run.
struct DpEnv<'a, P, E: ?Sized> {
    dp: &'a Datapath,
    ports: &'a Ports,
    egress: &'a mut E,
    wake: &'a mut Wakeups,
    recirc: &'a mut Vec<Option<(P, FlowKey)>>,
    rng: &'a mut u32,
    in_port: u32,
}

impl<P: Packet, E: Egress<P> + ?Sized> Env<P> for DpEnv<'_, P, E> {
    fn output(&mut self, port_no: u32, pkt: P) {
        let Some(v) = self.ports.vports.get(port_no) else {
            return;
        };
        let connected = v
            .binding
            .and_then(|(p, n)| self.ports.switch.endpoint(p, n))
            .filter(|ep| ep.state == NicState::Connected);
        match connected {
            Some(ep) => {
                v.stats.tx(pkt.len());
                self.egress.send(ep.port, ep.nic, pkt);
            }
            None => {
                v.stats.tx_dropped.fetch_add(1, Relaxed);
            }
        }
    }

    fn userspace(&mut self, pkt: &P, key: &FlowKey, up: &Userspace<'_>) {
        let extra = Extra {
            userdata: up.userdata,
            actions: up.actions,
            original_len: up.original_len,
        };
        let queued = upcall::message(
            op::CMD_ACTION,
            up.pid,
            key,
            pkt.data(),
            pkt.oob_vlan(),
            &extra,
        )
        .is_some_and(|m| {
            self.dp
                .queues
                .lock()
                .upcalls
                .enqueue(up.pid, m, self.wake)
                .is_ok()
        });
        if queued {
            if let Some(v) = self.ports.vports.get(self.in_port) {
                v.stats.upcall_success.fetch_add(1, Relaxed);
            }
        } else {
            lost(self.dp, self.ports, self.in_port);
        }
    }

    fn recirc(&mut self, pkt: P, key: &FlowKey) {
        match self.recirc.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some((pkt, *key)),
            None => lost(self.dp, self.ports, self.in_port),
        }
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
        (port, nic): (PortId, NicIndex),
        pkt: P,
        now_ms: u64,
        fx: &mut Effects<'_, E>,
    ) {
        let ports = self.ports.read();
        let Some(ep) = ports.switch.endpoint(port, nic) else {
            return;
        };
        if ep.state != NicState::Connected || ep.vport == UNBOUND {
            return;
        }
        let in_port = ep.vport;
        let Some(v) = ports.vports.get(in_port) else {
            return;
        };
        v.stats.rx(pkt.len());
        reset_metadata(&mut ctx.key, in_port);
        self.pass(&ports, ctx, pkt, now_ms, fx);
        self.drain_recirc(&ports, ctx, now_ms, fx);
    }

    /// `OVS_PACKET_CMD_EXECUTE`: `key` holds the metadata userspace gave;
    /// the rest is extracted from the packet; `actions` were validated.
    pub fn execute<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ctx: &mut RxContext<P>,
        pkt: P,
        key: &FlowKey,
        actions: &[u8],
        now_ms: u64,
        fx: &mut Effects<'_, E>,
    ) {
        let ports = self.ports.read();
        let mut k = *key;
        if extract(pkt.data(), pkt.oob_vlan(), &mut k).is_err() {
            return;
        }
        let mut env = DpEnv {
            dp: self,
            ports: &ports,
            egress: &mut *fx.egress,
            wake: &mut *fx.wake,
            recirc: &mut ctx.recirc,
            rng: &mut ctx.rng,
            in_port: k.in_port,
        };
        actions::execute(&mut ctx.exec, &mut env, pkt, &mut k, actions);
        self.drain_recirc(&ports, ctx, now_ms, fx);
    }

    /// Recirculated packets go through the table again, oldest first.
    fn drain_recirc<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ports: &Ports,
        ctx: &mut RxContext<P>,
        now_ms: u64,
        fx: &mut Effects<'_, E>,
    ) {
        for _ in 0..RECIRC_LIMIT {
            let Some((pkt, key)) = ctx.recirc.iter_mut().find_map(Option::take) else {
                return;
            };
            ctx.key = key;
            self.pass(ports, ctx, pkt, now_ms, fx);
        }
        for slot in &mut ctx.recirc {
            if slot.take().is_some() {
                lost(self, ports, ctx.key.in_port);
            }
        }
    }

    /// One trip through the table.
    fn pass<P: Packet, E: Egress<P> + ?Sized>(
        &self,
        ports: &Ports,
        ctx: &mut RxContext<P>,
        pkt: P,
        now_ms: u64,
        fx: &mut Effects<'_, E>,
    ) {
        let key = &mut ctx.key;
        if extract(pkt.data(), pkt.oob_vlan(), key).is_err() {
            if let Some(v) = ports.vports.get(key.in_port) {
                v.stats.rx_errors.fetch_add(1, Relaxed);
            }
            return;
        }
        let hash = packet_hash(key);
        let flows = self.flows.read();
        let (hit, look) = flows.lookup(key, hash);
        self.stats
            .n_mask_hit
            .fetch_add(u64::from(look.n_mask_hit), Relaxed);
        let Some(flow) = hit else {
            self.stats.n_missed.fetch_add(1, Relaxed);
            drop(flows);
            self.miss(ports, &pkt, key, hash, fx.wake);
            return;
        };
        self.stats.n_hit.fetch_add(1, Relaxed);
        if look.cache_hit {
            self.stats.n_cache_hit.fetch_add(1, Relaxed);
        }
        flow.record(now_ms, pkt.len() as u64, key.tcp_flags);
        let in_port = key.in_port;
        let mut env = DpEnv {
            dp: self,
            ports,
            egress: &mut *fx.egress,
            wake: &mut *fx.wake,
            recirc: &mut ctx.recirc,
            rng: &mut ctx.rng,
            in_port,
        };
        actions::execute(&mut ctx.exec, &mut env, pkt, key, flow.actions().bytes());
    }

    /// A miss: an `OVS_PACKET_CMD_MISS` upcall to the PID the input port
    /// gives for this packet's hash.
    fn miss<P: Packet>(
        &self,
        ports: &Ports,
        pkt: &P,
        key: &FlowKey,
        hash: u32,
        wake: &mut Wakeups,
    ) {
        let Some(v) = ports.vports.get(key.in_port) else {
            return;
        };
        let pid = v.upcall_pid(hash);
        let queued = pid != 0
            && upcall::message(
                op::CMD_MISS,
                pid,
                key,
                pkt.data(),
                pkt.oob_vlan(),
                &Extra::default(),
            )
            .is_some_and(|m| self.queues.lock().upcalls.enqueue(pid, m, wake).is_ok());
        if queued {
            v.stats.upcall_success.fetch_add(1, Relaxed);
        } else {
            lost(self, ports, key.in_port);
        }
    }
}

/// Metadata of a frame fresh from the switch: only its input port is known.
fn reset_metadata(key: &mut FlowKey, in_port: u32) {
    if key.tun_opts_len != 0 {
        key.tun_opts = [0; TUN_OPTS_MAX];
        key.tun_opts_len = 0;
    }
    key.tun = TunnelKey::default();
    key.recirc_id = 0;
    key.dp_hash = 0;
    key.in_port = in_port;
    key.skb_mark = 0;
    key.priority = 0;
    key.ct_mark = 0;
    key.ct_zone = 0;
    key.ct_state = 0;
    key.ct_labels = [0; 16];
    key.ct_orig = Default::default();
}
