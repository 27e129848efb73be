//! The datapath's side of tunnels: output to a tunnel vport encapsulates
//! (after the inner frame's pending offloads are done in software) and
//! sends through the uplink; a frame addressed to a tunnel vport is
//! decapsulated before its lookup.

use alloc::vec::Vec;
use core::net::IpAddr;
use core::sync::atomic::Ordering::Relaxed;

use super::Ports;
use super::receive::Egress;
use crate::flow::FlowKey;
use crate::flow::attrs::set_tunnel;
use crate::flow::extract::packet_hash;
use crate::offload::{Segments, complete_checksums};
use crate::packet::Packet;
use crate::percpu::Cpu;
use crate::tunnel::decap::{self, Verdict};
use crate::tunnel::encap::{self, Outer, Refused};
use crate::tunnel::underlay::{Path, Underlay, Unreachable};
use crate::vport::Vport;

/// What encapsulation keeps between packets: the egress tunnel key being
/// sent with (one key, on the heap: the receive context is built on the
/// stack), the nest it was parsed from (a flow's packets carry the same
/// nest, which is then not parsed again), and the IPv4 identification of
/// the last packet without DF.
pub struct Scratch {
    egress: EgressKey,
    ip_id: u16,
}

struct EgressKey {
    tun: Vec<FlowKey>,
    parsed: Vec<u8>,
    /// The path to the key's destination, and the underlay generation it
    /// was found in.
    path: Option<(u32, Path)>,
}

/// Longest nest remembered (a tunnel key with the most options fits).
const PARSED_MAX: usize = 512;

impl Scratch {
    /// `None` when out of memory.
    pub fn try_new() -> Option<Scratch> {
        let mut tun = Vec::new();
        tun.try_reserve_exact(1).ok()?;
        tun.push(FlowKey::default());
        let mut parsed = Vec::new();
        parsed.try_reserve_exact(PARSED_MAX).ok()?;
        Some(Scratch {
            egress: EgressKey {
                tun,
                parsed,
                path: None,
            },
            ip_id: 0,
        })
    }
}

impl EgressKey {
    /// The path to the current key's destination.
    fn path(&mut self, underlay: &Underlay) -> Result<Path, Unreachable> {
        let generation = underlay.generation();
        if let Some((g, p)) = self.path
            && g == generation
        {
            return Ok(p);
        }
        let tun = self.tun.first().ok_or(Unreachable::NoRoute)?;
        let path = underlay.path(encap::destination(tun), encap::source(tun));
        self.path = path.ok().map(|p| (generation, p));
        path
    }

    /// The egress tunnel key of `nest` (`set_tunnel`); `None` if invalid.
    fn key(&mut self, nest: &[u8]) -> Option<&mut FlowKey> {
        let tun = self.tun.first_mut()?;
        if self.parsed != nest {
            self.parsed.clear();
            self.path = None;
            set_tunnel(nest, tun).ok()?;
            if nest.len() <= self.parsed.capacity() {
                self.parsed.extend_from_slice(nest);
            }
        }
        Some(tun)
    }
}

/// Sends `pkt` through tunnel vport `v` with the egress tunnel key nest
/// `tunnel`; `key` is the inner frame's flow key. Counted on `v`: sent
/// (inner bytes), errors (no route, no uplink, cannot be built), drops
/// (neighbour not resolved, out of memory).
// Out of line: the action walker recurses, and every level's frame would
// otherwise hold encapsulation's locals.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub(super) fn output<P: Packet, E: Egress<P> + ?Sized>(
    ports: &Ports,
    cpu: Cpu,
    v: &Vport,
    pkt: P,
    tunnel: &[u8],
    key: &FlowKey,
    egress: &mut E,
    s: &mut Scratch,
) {
    let Scratch {
        egress: keys,
        ip_id,
    } = s;
    if keys.key(tunnel).is_none() {
        v.stats.tx_errors.fetch_add(1, Relaxed);
        return;
    }
    let path = keys.path(&ports.underlay);
    let Some(tun) = keys.tun.first() else {
        return;
    };
    let (path, uplink) = match (path, ports.underlay.uplink()) {
        (Ok(p), Some(u)) => (p, u),
        (Err(Unreachable::NoNeighbour(_)), Some(_)) => {
            v.stats.tx_dropped.fetch_add(1, Relaxed);
            return;
        }
        _ => {
            v.stats.tx_errors.fetch_add(1, Relaxed);
            return;
        }
    };
    let mut outer = Outer {
        src_mac: uplink.src_mac,
        path,
        hash: packet_hash(key),
        ip_id: 0,
    };
    let mut send = |mut pkt: P| {
        *ip_id = ip_id.wrapping_add(1);
        outer.ip_id = *ip_id;
        let inner_len = pkt.len();
        match encap::encapsulate(&mut pkt, v.ty, tun, &outer) {
            Ok(()) => {
                v.stats.tx(cpu, inner_len);
                egress.send(uplink.endpoint.0, uplink.endpoint.1, pkt);
            }
            Err(Refused::NoMemory) => {
                v.stats.tx_dropped.fetch_add(1, Relaxed);
            }
            Err(_) => {
                v.stats.tx_errors.fetch_add(1, Relaxed);
            }
        }
    };
    let req = pkt.offload();
    if req.is_none() {
        return send(pkt);
    }
    // The NIC cannot finish offloads of a frame it sees only inside a
    // tunnel: checksums are filled in, a large send is cut here.
    let Some(lso) = req.lso else {
        let mut pkt = pkt;
        let done = pkt
            .data_mut()
            .is_some_and(|d| complete_checksums(d, req.checksums).is_ok());
        if done {
            pkt.clear_offload();
            send(pkt);
        } else {
            v.stats.tx_errors.fetch_add(1, Relaxed);
        }
        return;
    };
    let Ok(segments) = Segments::new(pkt.data(), lso) else {
        v.stats.tx_errors.fetch_add(1, Relaxed);
        return;
    };
    for i in 0..segments.count() {
        let Some(mut seg) = pkt.try_clone() else {
            v.stats.tx_dropped.fetch_add(1, Relaxed);
            continue;
        };
        match seg.data_mut().map(|d| segments.write(i, d)) {
            Some(Ok(n)) => {
                seg.truncate(n);
                seg.clear_offload();
                send(seg);
            }
            _ => {
                v.stats.tx_errors.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The egress tunnel key a userspace action naming tunnel vport `v`
/// reports (Linux's `dev_fill_metadata_dst`): the key of `set(tunnel)`
/// with the source address the route selects and, for VXLAN and Geneve,
/// the UDP ports the packet would get. `None` if it cannot be resolved.
pub(super) fn egress_key<'s>(
    ports: &Ports,
    v: &Vport,
    tunnel: &[u8],
    key: &FlowKey,
    s: &'s mut Scratch,
) -> Option<&'s FlowKey> {
    let tun = s.egress.key(tunnel)?;
    let (src, _) = ports
        .underlay
        .source(encap::destination(tun), encap::source(tun))?;
    match src {
        IpAddr::V4(a) => tun.tun.ipv4_src = a.to_bits(),
        IpAddr::V6(a) => tun.tun.ipv6_src = a.octets(),
    }
    if let Some((sport, dport)) = encap::udp_ports(v.ty, tun, packet_hash(key)) {
        (tun.tun.tp_src, tun.tun.tp_dst) = (sport, dport);
    }
    // Filled in: no longer what the nest says.
    s.egress.parsed.clear();
    s.egress.tun.first()
}

/// A frame from a port: `Some` with the packet to look up (its inner frame
/// when it was addressed to a tunnel vport, `key` then holding the tunnel
/// metadata), `None` when it was a malformed tunnel frame (dropped and
/// counted on that vport).
pub(super) fn receive<P: Packet>(
    ports: &Ports,
    cpu: Cpu,
    mut pkt: P,
    key: &mut FlowKey,
) -> Option<P> {
    if pkt.oob_vlan().is_some() {
        return Some(pkt);
    }
    match decap::classify(pkt.data(), &ports.underlay, &ports.vports, key) {
        Verdict::NotOurs => Some(pkt),
        Verdict::Inner {
            port_no,
            start,
            len,
        } => {
            if !pkt.pull_front(start) {
                return None;
            }
            pkt.truncate(len);
            if let Some(v) = ports.vports.get(port_no) {
                v.stats.rx(cpu, len);
            }
            Some(pkt)
        }
        Verdict::Malformed { port_no } => {
            if let Some(v) = ports.vports.get(port_no) {
                v.stats.rx_errors.fetch_add(1, Relaxed);
            }
            None
        }
    }
}
