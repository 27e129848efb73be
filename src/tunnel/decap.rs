//! Decapsulation: recognising a frame addressed to one of the host's
//! tunnel vports, reading its outer headers into the flow key's tunnel
//! fields (Linux `ip_tun_rx_dst`, `udp_tun_rx_dst`, `vxlan_rcv`,
//! `geneve_rx`, `ipgre_rcv`), and locating the inner frame.
//!
//! A frame is the host's when its outer destination is a host address and
//! it is UDP to the port of a VXLAN or Geneve vport, or GRE carrying
//! Ethernet while a GRE vport exists. An outer IPv4 or IPv6 fragment that
//! [`may_be_ours`] is reassembled first (in the conntrack reassembler's
//! `UNDERLAY` namespace) and the whole datagram classified; other IPv6
//! extension headers are not walked (such frames are switched as they
//! are). Differences from Linux: DF is read from the outer IPv4 header into
//! the key (Linux never sets it on receive); Geneve options must be whole
//! TLVs; GRE with bits other than checksum, key and sequence is dropped.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::underlay::Underlay;
use super::{geneve, gre, vxlan};
use crate::flow::FlowKey;
use crate::flow::key::{
    TUN_F_CSUM, TUN_F_DONT_FRAGMENT, TUN_F_KEY, TUN_F_OAM, TUN_OPTS_GENEVE, TUN_OPTS_VXLAN,
};
use crate::offload::{fold, sum};
use crate::vport::{VportType, Vports};

use super::{ETH_HLEN, IPPROTO_GRE, IPPROTO_UDP, UDP_HLEN};

/// What a received frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not addressed to a tunnel of this host: switched as any frame.
    NotOurs,
    /// Decapsulated: the key's metadata is the tunnel's, and the inner frame
    /// is `len` bytes from `start`.
    Inner {
        port_no: u32,
        start: usize,
        len: usize,
    },
    /// Addressed to tunnel vport `port_no` but malformed: dropped, counted.
    Malformed { port_no: u32 },
}

/// The outer IP header's fields.
struct Outer<'a> {
    src: IpAddr,
    dst: IpAddr,
    tos: u8,
    ttl: u8,
    df: bool,
    proto: u8,
    /// The pseudo-header sum without the transport length and protocol.
    addr_sum: u64,
    /// The IP payload and where it starts in the frame.
    payload: &'a [u8],
    start: usize,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..)?
        .first_chunk::<2>()
        .map(|w| u16::from_be_bytes(*w))
}

/// An unfragmented IPv4 or extension-free IPv6 packet after an untagged
/// Ethernet header.
fn outer(frame: &[u8]) -> Option<Outer<'_>> {
    let l3 = frame.get(ETH_HLEN..)?;
    match be16(frame, 12)? {
        0x0800 => {
            let ihl = usize::from(*l3.first()? & 0xf) * 4;
            let hdr = l3.get(..ihl)?;
            let total = usize::from(be16(l3, 2)?);
            if l3.first()? >> 4 != 4 || ihl < 20 || total < ihl || fold(sum(hdr)) != 0xffff {
                return None;
            }
            let frag = be16(l3, 6)?;
            if frag & 0x3fff != 0 {
                return None;
            }
            let src: [u8; 4] = *hdr.get(12..)?.first_chunk::<4>()?;
            let dst: [u8; 4] = *hdr.get(16..)?.first_chunk::<4>()?;
            Some(Outer {
                src: IpAddr::V4(Ipv4Addr::from(src)),
                dst: IpAddr::V4(Ipv4Addr::from(dst)),
                tos: *hdr.get(1)?,
                ttl: *hdr.get(8)?,
                df: frag & 0x4000 != 0,
                proto: *hdr.get(9)?,
                addr_sum: sum(hdr.get(12..20)?),
                payload: l3.get(ihl..total)?,
                start: ETH_HLEN + ihl,
            })
        }
        0x86dd => {
            let hdr = l3.get(..40)?;
            let plen = usize::from(be16(hdr, 4)?);
            let [v, tc_low, ..] = *hdr.first_chunk::<2>()?;
            if v >> 4 != 6 {
                return None;
            }
            let src: [u8; 16] = *hdr.get(8..)?.first_chunk::<16>()?;
            let dst: [u8; 16] = *hdr.get(24..)?.first_chunk::<16>()?;
            Some(Outer {
                src: IpAddr::V6(Ipv6Addr::from(src)),
                dst: IpAddr::V6(Ipv6Addr::from(dst)),
                tos: (v << 4) | (tc_low >> 4),
                ttl: *hdr.get(7)?,
                df: false,
                proto: *hdr.get(6)?,
                addr_sum: sum(hdr.get(8..40)?),
                payload: l3.get(40..40 + plen)?,
                start: ETH_HLEN + 40,
            })
        }
        _ => None,
    }
}

/// Classifies `frame` (from a port, untagged) and, when it is the inner
/// frame of one of the host's tunnels, fills `key`'s metadata: the tunnel
/// vport as input port and the outer fields as tunnel key.
pub fn classify(frame: &[u8], underlay: &Underlay, vports: &Vports, key: &mut FlowKey) -> Verdict {
    if !underlay.has_hosts() {
        return Verdict::NotOurs;
    }
    let Some(ip) = outer(frame) else {
        return Verdict::NotOurs;
    };
    if !underlay.is_host(ip.dst) {
        return Verdict::NotOurs;
    }
    match ip.proto {
        IPPROTO_UDP => udp(&ip, vports, key),
        IPPROTO_GRE => gre_packet(&ip, vports, key),
        _ => Verdict::NotOurs,
    }
}

/// Whether an outer fragment to `dst` carrying `proto` may belong to one
/// of the host's tunnels (to be reassembled before [`classify`]): a host
/// address, and UDP while a VXLAN or Geneve vport exists (its port is in
/// the first fragment only) or GRE over IPv4 while the GRE vport does.
pub fn may_be_ours(dst: IpAddr, proto: u8, underlay: &Underlay, vports: &Vports) -> bool {
    let tunnel = match proto {
        IPPROTO_UDP => vports.tunnels().any(|v| v.ty.udp_port().is_some()),
        IPPROTO_GRE => dst.is_ipv4() && vports.gre().is_some(),
        _ => false,
    };
    tunnel && underlay.is_host(dst)
}

/// The key's metadata for a packet from tunnel vport `port_no`.
fn fill(key: &mut FlowKey, port_no: u32, ip: &Outer<'_>, flags: u16) {
    key.reset_metadata(port_no);
    let t = &mut key.tun;
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (t.ipv4_src, t.ipv4_dst) = (s.to_bits(), d.to_bits()),
        (s, d) => {
            if let (IpAddr::V6(s), IpAddr::V6(d)) = (s, d) {
                (t.ipv6_src, t.ipv6_dst) = (s.octets(), d.octets());
            }
        }
    }
    t.tos = ip.tos;
    t.ttl = ip.ttl;
    t.flags = flags | if ip.df { TUN_F_DONT_FRAGMENT } else { 0 };
}

fn udp(ip: &Outer<'_>, vports: &Vports, key: &mut FlowKey) -> Verdict {
    let Some(dport) = be16(ip.payload, 2) else {
        return Verdict::NotOurs;
    };
    let Some(v) = vports.by_udp_port(dport) else {
        return Verdict::NotOurs;
    };
    let port_no = v.port_no;
    let bad = Verdict::Malformed { port_no };
    let (Some(sport), Some(ulen), Some(check)) = (
        be16(ip.payload, 0),
        be16(ip.payload, 4),
        be16(ip.payload, 6),
    ) else {
        return bad;
    };
    let ulen = usize::from(ulen);
    let Some(seg) = ip.payload.get(..ulen).filter(|_| ulen >= UDP_HLEN) else {
        return bad;
    };
    // A zero checksum is none (OVS creates its IPv6 tunnels accepting that).
    if check != 0 && fold(ip.addr_sum + u64::from(IPPROTO_UDP) + ulen as u64 + sum(seg)) != 0xffff {
        return bad;
    }
    let body = seg.get(UDP_HLEN..).unwrap_or_default();
    let csum = if check != 0 { TUN_F_CSUM } else { 0 };
    let (vni, hlen, flags, opts, kind) = match v.ty {
        VportType::Vxlan { gbp, .. } => {
            let Some(h) = vxlan::parse(body, gbp) else {
                return bad;
            };
            let opts = h.gbp.map(u32::to_ne_bytes);
            (h.vni, vxlan::HLEN, 0, opts, TUN_OPTS_VXLAN)
        }
        VportType::Geneve { .. } => {
            let Some(h) = geneve::parse(body) else {
                return bad;
            };
            let oam = if h.oam { TUN_F_OAM } else { 0 };
            (
                h.vni,
                geneve::HLEN + h.opts.len(),
                oam,
                None,
                TUN_OPTS_GENEVE,
            )
        }
        _ => return Verdict::NotOurs,
    };
    let Some(inner) = body.get(hlen..).filter(|i| i.len() >= ETH_HLEN) else {
        return bad;
    };
    fill(key, port_no, ip, TUN_F_KEY | csum | flags);
    key.tun.id = u64::from(vni);
    key.tun.tp_src = sport;
    key.tun.tp_dst = dport;
    let options = match opts {
        Some(ref g) => &g[..],
        None => body.get(geneve::HLEN..hlen).unwrap_or_default(),
    };
    if !options.is_empty() && key.set_tun_opts(options) {
        key.tun.opts_kind = kind;
    }
    Verdict::Inner {
        port_no,
        start: ip.start + UDP_HLEN + hlen,
        len: inner.len(),
    }
}

fn gre_packet(ip: &Outer<'_>, vports: &Vports, key: &mut FlowKey) -> Verdict {
    let Some(v) = vports.gre().filter(|_| ip.src.is_ipv4()) else {
        return Verdict::NotOurs;
    };
    let port_no = v.port_no;
    let h = match gre::parse(ip.payload) {
        Ok(h) => h,
        Err(gre::Refused::NotEthernet) => return Verdict::NotOurs,
        Err(gre::Refused::Malformed) => return Verdict::Malformed { port_no },
    };
    let Some(inner) = ip.payload.get(h.len..).filter(|i| i.len() >= ETH_HLEN) else {
        return Verdict::Malformed { port_no };
    };
    let mut flags = if h.csum { TUN_F_CSUM } else { 0 };
    if h.key.is_some() {
        flags |= TUN_F_KEY;
    }
    fill(key, port_no, ip, flags);
    key.tun.id = h.key.map_or(0, u64::from);
    Verdict::Inner {
        port_no,
        start: ip.start + h.len,
        len: inner.len(),
    }
}
