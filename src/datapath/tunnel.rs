//! The datapath's side of tunnels: output to a tunnel vport encapsulates
//! (after the inner frame's pending offloads are done in software) and
//! sends through the uplink; a frame addressed to a tunnel vport is
//! decapsulated before its lookup.

use alloc::vec::Vec;
use core::net::IpAddr;
use core::sync::atomic::Ordering::Relaxed;

use super::Ports;
use super::receive::Egress;
use crate::conntrack::frag::{self, Outcome, Reassembly};
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
        (Err(Unreachable::NoNeighbour(next_hop)), Some(_)) => {
            ports.underlay.unresolved.record(next_hop);
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
    // Each segment is a copy of a base cut to the largest segment's length,
    // not of the whole packet: cutting costs what the packet is long.
    let mut base = pkt.try_clone();
    if let Some(b) = base.as_mut() {
        // The first segment is the longest.
        b.truncate(segments.len_of(0));
    }
    let count = segments.count();
    for i in 0..count {
        // The last segment takes the base itself.
        let copy = if i + 1 < count {
            base.as_ref().and_then(P::try_clone)
        } else {
            base.take()
        };
        let Some(mut seg) = copy else {
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
/// counted on that vport) or an outer fragment held in (or dropped by)
/// `frags` until its datagram is whole.
pub(super) fn receive<P: Packet>(
    ports: &Ports,
    cpu: Cpu,
    frags: &Reassembly,
    now_ms: u64,
    mut pkt: P,
    key: &mut FlowKey,
) -> Option<P> {
    if pkt.oob_vlan().is_some() || !ports.underlay.has_hosts() {
        return Some(pkt);
    }
    let held = frag::fragment(pkt.data(), None, frag::UNDERLAY)
        .filter(|f| decap::may_be_ours(f.destination(), f.proto(), &ports.underlay, &ports.vports))
        .map(|f| frags.add(&f, now_ms));
    let mut mru = 0;
    match held {
        None => {}
        // The host's own reassembly drops an odd-sized outer fragment.
        Some(Outcome::Held | Outcome::Dropped | Outcome::Passed) => return None,
        Some(Outcome::Complete(d)) => {
            if !pkt.replace(&d.frame) {
                frags.stats.no_room.fetch_add(1, Relaxed);
                return None;
            }
            mru = d.mru;
        }
    }
    match decap::classify(pkt.data(), &ports.underlay, &ports.vports, key) {
        Verdict::NotOurs => {
            // Switched whole, it is cut to its fragments' size on output
            // (a decapsulated inner frame is not, as in Linux).
            if mru != 0 {
                pkt.set_mru(mru);
            }
            Some(pkt)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::{Checksums, Lso, Request};
    use crate::packet::OwnedPacket;
    use crate::packet::tests::Offloaded;
    use crate::switch::{NicIndex, PortId, PortKind};
    use crate::tunnel::underlay::{Prefix, Route};
    use crate::vport::VportStats;
    use std::vec::Vec;

    #[derive(Default)]
    struct Out(Vec<Offloaded>);

    impl Egress<Offloaded> for Out {
        fn send(&mut self, _: PortId, _: NicIndex, pkt: Offloaded) {
            self.0.push(pkt);
        }
    }

    fn ports() -> Ports {
        let mut p = Ports::default();
        for (port, kind, name) in [
            (1, PortKind::External, "eth0"),
            (2, PortKind::Internal, "host"),
        ] {
            let nic = u16::from(kind == PortKind::External);
            p.switch
                .nic_create(port, nic, kind, name, [port as u8; 6], 1500)
                .unwrap();
            p.switch.nic_connect(port, nic).unwrap();
        }
        p.underlay.follow(&p.switch);
        let ip = |s: &str| s.parse().unwrap();
        p.underlay
            .add_host(Prefix::new(ip("10.0.0.1"), 24).unwrap())
            .unwrap();
        let dst = Prefix::new(ip("10.0.0.0"), 24).unwrap();
        p.underlay.add_route(Route { dst, gateway: None }).unwrap();
        p.underlay.set_neighbour(ip("10.0.0.2"), [9; 6]).unwrap();
        p
    }

    /// A TCP/IPv4 frame with `payload` bytes, its checksums left at zero.
    fn tcp(payload: usize) -> Vec<u8> {
        let total = (40 + payload) as u16;
        let mut f = [[0x02; 12].as_slice(), &[0x08, 0]].concat();
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 172, 16, 0, 1, 172, 16, 0, 2]);
        f.extend_from_slice(&[
            0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
        ]);
        f.extend_from_slice(&[0; 4]);
        f.extend((0..payload).map(|i| i as u8));
        f
    }

    /// True if the inner frame at `at` of `outer` has valid IPv4 and TCP checksums.
    fn checksums_valid(outer: &[u8], at: usize) -> bool {
        let f = &outer[at..];
        let ip = &f[14..34];
        let tcp = &f[34..];
        let pseudo = sum(&ip[12..20]) + 6 + tcp.len() as u64;
        fold(sum(ip)) == 0xffff && fold(pseudo + sum(tcp)) == 0xffff
    }

    use crate::offload::{fold, sum};

    fn send(req: Request, frame: &[u8]) -> Vec<Offloaded> {
        send_via(&ports(), [10, 0, 0, 2], req, frame)
    }

    /// Encapsulates `frame` towards `dst` through a VXLAN vport.
    fn send_via(ports: &Ports, dst: [u8; 4], req: Request, frame: &[u8]) -> Vec<Offloaded> {
        let pkt = Offloaded {
            p: OwnedPacket::from_frame(frame).unwrap(),
            req,
        };
        let mut out = Out::default();
        encapsulate(ports, dst, pkt, &mut out);
        out.0
    }

    /// `output` of `pkt` towards `dst` through a VXLAN vport.
    fn encapsulate<P: Packet>(ports: &Ports, dst: [u8; 4], pkt: P, out: &mut impl Egress<P>) {
        let v = Vport {
            port_no: 3,
            name: "vxlan".into(),
            ty: crate::vport::VportType::Vxlan {
                dst_port: 4789,
                gbp: false,
            },
            upcall_pids: std::vec![1],
            binding: None,
            stats: VportStats::new(1).unwrap(),
        };
        let nest = [[8, 0, 2, 0].as_slice(), &dst, &[5, 0, 4, 0, 64, 0, 0, 0]].concat();
        let mut s = Scratch::try_new().unwrap();
        output(
            ports,
            Cpu::Pinned(0),
            &v,
            pkt,
            &nest,
            &FlowKey::default(),
            out,
            &mut s,
        );
    }

    /// A large send of 64 KiB cut into 45 segments copies each byte a
    /// bounded number of times, not the whole packet per segment.
    #[test]
    fn cutting_a_large_send_copies_each_byte_a_bounded_number_of_times() {
        struct Kept(Vec<usize>);
        impl Egress<crate::packet::Watched> for Kept {
            fn send(&mut self, _: PortId, _: NicIndex, pkt: crate::packet::Watched) {
                self.0.push(pkt.len());
            }
        }
        let frame = tcp(64_000);
        let mut pkt = crate::packet::Watched::new(OwnedPacket::from_frame(&frame).unwrap());
        pkt.req = Request {
            checksums: Checksums::NONE,
            lso: Some(Lso {
                mss: 1448,
                v2: true,
            }),
        };
        let copied = pkt.copied.clone();
        let mut out = Kept(Vec::new());
        encapsulate(&ports(), [10, 0, 0, 2], pkt, &mut out);
        assert_eq!(out.0.len(), 45);
        let sent: usize = out.0.iter().sum();
        assert!(
            copied.get() <= frame.len() + sent,
            "{} bytes copied for {sent} sent",
            copied.get()
        );
    }

    #[test]
    fn a_next_hop_without_neighbour_is_asked_for() {
        let ports = ports();
        assert!(send_via(&ports, [10, 0, 0, 3], Request::NONE, &tcp(10)).is_empty());
        let mut asked = Vec::new();
        ports.underlay.unresolved.take(|a| asked.push(a));
        assert_eq!(asked, ["10.0.0.3".parse::<core::net::IpAddr>().unwrap()]);
        assert_eq!(
            send_via(&ports, [10, 0, 0, 2], Request::NONE, &tcp(10)).len(),
            1
        );
        assert!(!ports.underlay.unresolved.pending());
    }

    #[test]
    fn inner_offloads_are_done_before_encapsulation() {
        let sent = send(
            Request {
                checksums: Checksums {
                    ip: true,
                    tcp: true,
                    udp: false,
                },
                lso: None,
            },
            &tcp(100),
        );
        assert_eq!(sent.len(), 1);
        assert!(sent[0].req.is_none());
        assert!(checksums_valid(sent[0].data(), 50));
        // A large send is cut into segments, each encapsulated.
        let lso = Request {
            checksums: Checksums::NONE,
            lso: Some(Lso {
                mss: 1000,
                v2: true,
            }),
        };
        let sent = send(lso, &tcp(2500));
        assert_eq!(
            sent.iter().map(|p| p.data().len() - 50).collect::<Vec<_>>(),
            [1054, 1054, 554]
        );
        assert!(
            sent.iter()
                .all(|p| p.req.is_none() && checksums_valid(p.data(), 50))
        );
    }
}
