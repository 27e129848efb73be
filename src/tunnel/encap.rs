//! Encapsulation on output to a tunnel vport (Linux `vxlan_xmit_one`,
//! `geneve_xmit_skb`, `gre_fb_xmit`): outer Ethernet, IPv4 or IPv6, and UDP
//! with VXLAN or Geneve, or GRE, in front of the inner frame.
//!
//! - UDP source port: the inner flow's hash spread over a range as Linux's
//!   `udp_flow_src_port` does: VXLAN over the ephemeral range 32768–60999,
//!   Geneve over 1–65535 (as Linux's Geneve). The hash is the datapath's
//!   flow hash of the inner key, so a flow keeps its port.
//! - UDP destination port: VXLAN the key's `tp_dst` if set, else the
//!   vport's; Geneve always the vport's.
//! - TTL from the key (0: 64); TOS from the key with the inner ECN bits
//!   carried out (`INET_ECN_encapsulate`); DF from the key (IPv4).
//! - UDP checksum when the key asks for one, always over IPv6.
//! - IPv4 identification: 0 when DF is set (an atomic datagram), else the
//!   caller's running counter. IPv6 flow label: 0.
//! - GRE only over IPv4, as Linux's `gretap`; its key from `tun_id` when
//!   the key carries one, a checksum when it asks for one.

use core::net::IpAddr;

use super::underlay::Path;
use super::{geneve, gre, vxlan};
use crate::flow::FlowKey;
use crate::flow::key::{TUN_F_CSUM, TUN_F_DONT_FRAGMENT, TUN_F_KEY, TUN_F_OAM};
use crate::flow::key::{TUN_OPTS_GENEVE, TUN_OPTS_VXLAN};
use crate::offload::{fold, sum};
use crate::packet::Packet;
use crate::vport::VportType;

use super::{ETH_HLEN, IPPROTO_GRE, IPPROTO_UDP, UDP_HLEN};

const IPV4_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;
const DEFAULT_TTL: u8 = 64;
/// Linux's default `ip_local_port_range`.
pub const EPHEMERAL: (u16, u16) = (32768, 60999);
/// Geneve's source port range in Linux.
pub const GENEVE_SPORTS: (u16, u16) = (1, u16::MAX);

/// Why a packet was not encapsulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The tunnel does not run over the key's address family (GRE over
    /// IPv6), or the path's source is of the other family.
    Family,
    /// The outer packet would exceed 64 KiB, or the options do not fit.
    TooBig,
    /// No room in front of the frame (out of memory).
    NoMemory,
}

/// Where the outer headers come from besides the tunnel key.
#[derive(Clone, Copy, Debug)]
pub struct Outer {
    pub src_mac: [u8; 6],
    pub path: Path,
    /// The inner flow's hash.
    pub hash: u32,
    /// IPv4 identification for a packet without DF.
    pub ip_id: u16,
}

/// `udp_flow_src_port`: the hash, its low half folded into the high one,
/// scaled into `min..max`.
pub fn src_port(hash: u32, (min, max): (u16, u16)) -> u16 {
    let h = hash ^ (hash << 16);
    let span = u64::from(max.saturating_sub(min));
    ((u64::from(h) * span) >> 32) as u16 + min
}

/// The tunnel's destination in `tun` (IPv6 if set, else IPv4).
pub fn destination(tun: &FlowKey) -> IpAddr {
    if tun.tun.ipv6_dst != [0; 16] {
        IpAddr::from(tun.tun.ipv6_dst)
    } else {
        IpAddr::from(tun.tun.ipv4_dst.to_be_bytes())
    }
}

/// The source the key asks for, if any.
pub fn source(tun: &FlowKey) -> Option<IpAddr> {
    if tun.tun.ipv6_dst != [0; 16] {
        (tun.tun.ipv6_src != [0; 16]).then(|| IpAddr::from(tun.tun.ipv6_src))
    } else {
        (tun.tun.ipv4_src != 0).then(|| IpAddr::from(tun.tun.ipv4_src.to_be_bytes()))
    }
}

/// The tunnel header, written once the frame has room for it.
enum Header<'a> {
    Vxlan([u8; vxlan::HLEN]),
    Geneve([u8; geneve::HLEN], &'a [u8]),
    Gre([u8; gre::HLEN_MAX], usize),
}

impl Header<'_> {
    fn len(&self) -> usize {
        match self {
            Header::Vxlan(h) => h.len(),
            Header::Geneve(h, opts) => h.len() + opts.len(),
            Header::Gre(_, n) => *n,
        }
    }

    fn write(&self, out: &mut [u8]) {
        let (head, tail): (&[u8], &[u8]) = match self {
            Header::Vxlan(h) => (h, &[]),
            Header::Geneve(h, opts) => (h, opts),
            Header::Gre(h, n) => (h.get(..*n).unwrap_or_default(), &[]),
        };
        for (o, b) in out.iter_mut().zip(head.iter().chain(tail)) {
            *o = *b;
        }
    }
}

/// What goes between the outer IP header and the inner frame.
struct Encap<'a> {
    /// UDP source and destination ports; `None` for GRE.
    udp: Option<(u16, u16)>,
    hdr: Header<'a>,
}

/// The UDP source and destination ports a packet of flow hash `hash`
/// gets through a VXLAN or Geneve vport of type `ty` with tunnel key `tun`.
pub fn udp_ports(ty: VportType, tun: &FlowKey, hash: u32) -> Option<(u16, u16)> {
    match ty {
        VportType::Vxlan { dst_port, .. } => {
            let t = tun.tun.tp_dst;
            Some((src_port(hash, EPHEMERAL), if t != 0 { t } else { dst_port }))
        }
        VportType::Geneve { dst_port } => Some((src_port(hash, GENEVE_SPORTS), dst_port)),
        _ => None,
    }
}

fn tunnel_header(ty: VportType, tun: &FlowKey, hash: u32) -> Result<Encap<'_>, Refused> {
    let t = &tun.tun;
    let vni = (t.id & 0xff_ffff) as u32;
    let udp = udp_ports(ty, tun, hash);
    Ok(match ty {
        VportType::Vxlan { gbp, .. } => {
            let g = (gbp && t.opts_kind == TUN_OPTS_VXLAN)
                .then(|| {
                    tun.tun_opts()
                        .first_chunk::<4>()
                        .map(|b| u32::from_ne_bytes(*b))
                })
                .flatten()
                .filter(|&g| g != 0);
            Encap {
                udp,
                hdr: Header::Vxlan(vxlan::header(vni, g)),
            }
        }
        VportType::Geneve { .. } => {
            let opts = if t.opts_kind == TUN_OPTS_GENEVE {
                tun.tun_opts()
            } else {
                &[]
            };
            if opts.len() > geneve::OPTS_MAX {
                return Err(Refused::TooBig);
            }
            let critical = geneve::options(opts).unwrap_or(false);
            let oam = t.flags & TUN_F_OAM != 0;
            Encap {
                udp,
                hdr: Header::Geneve(geneve::header(vni, opts.len(), oam, critical), opts),
            }
        }
        VportType::Gre => {
            if t.ipv6_dst != [0; 16] {
                return Err(Refused::Family);
            }
            let key = (t.flags & TUN_F_KEY != 0).then_some(t.id as u32);
            let mut g = [0; gre::HLEN_MAX];
            let n = gre::header(key, t.flags & TUN_F_CSUM != 0, &mut g);
            Encap {
                udp: None,
                hdr: Header::Gre(g, n),
            }
        }
        VportType::Netdev | VportType::Internal => return Err(Refused::Family),
    })
}

/// The DS field of an untagged inner IPv4 or IPv6 frame (0 otherwise).
fn inner_dsfield(frame: &[u8]) -> u8 {
    match frame.get(12..16) {
        Some([0x08, 0x00, _, tos]) => *tos,
        Some([0x86, 0xdd, v, l]) => (v << 4) | (l >> 4),
        _ => 0,
    }
}

/// `INET_ECN_encapsulate`: the outer ECN bits follow the inner ones, CE
/// becoming ECT(0).
fn ecn_encapsulate(tos: u8, inner: u8) -> u8 {
    let ecn = match inner & 3 {
        3 => 2,
        e => e,
    };
    (tos & !3) | ecn
}

/// Moves an out-of-band VLAN tag into the inner frame: it is the inner
/// frame's, not the underlay's.
fn inline_vlan<P: Packet>(pkt: &mut P) -> Result<(), Refused> {
    let Some(tci) = pkt.oob_vlan() else {
        return Ok(());
    };
    let data = pkt.push_front(4).ok_or(Refused::NoMemory)?;
    data.copy_within(4..16, 0);
    let [t0, t1] = tci.to_be_bytes();
    if let Some(tag) = data.get_mut(12..16) {
        tag.copy_from_slice(&[0x81, 0x00, t0, t1]);
    }
    pkt.set_oob_vlan(None);
    Ok(())
}

/// Puts `pkt` inside the tunnel of vport type `ty` to the destination of
/// the egress tunnel key `tun` (with its options). The inner frame's
/// offloads must be done already.
pub fn encapsulate<P: Packet>(
    pkt: &mut P,
    ty: VportType,
    tun: &FlowKey,
    outer: &Outer,
) -> Result<(), Refused> {
    let t = &tun.tun;
    let encap = tunnel_header(ty, tun, outer.hash)?;
    let dst = destination(tun);
    let v6 = dst.is_ipv6();
    if outer.path.src.is_ipv6() != v6 {
        return Err(Refused::Family);
    }
    inline_vlan(pkt)?;
    let tos = ecn_encapsulate(t.tos, inner_dsfield(pkt.data()));
    let ttl = if t.ttl == 0 { DEFAULT_TTL } else { t.ttl };
    let l4_hlen = if encap.udp.is_some() { UDP_HLEN } else { 0 };
    let ip_hlen = if v6 { IPV6_HLEN } else { IPV4_HLEN };
    let ip_payload = l4_hlen + encap.hdr.len() + pkt.len();
    let ip_total = if v6 { ip_payload } else { ip_hlen + ip_payload };
    let ip_total = u16::try_from(ip_total).map_err(|_| Refused::TooBig)?;
    let proto = if encap.udp.is_some() {
        IPPROTO_UDP
    } else {
        IPPROTO_GRE
    };
    let push = ETH_HLEN + ip_hlen + l4_hlen + encap.hdr.len();
    let data = pkt.push_front(push).ok_or(Refused::NoMemory)?;
    let (eth, rest) = data
        .split_at_mut_checked(ETH_HLEN)
        .ok_or(Refused::NoMemory)?;
    let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    for (o, b) in eth.iter_mut().zip(
        outer
            .path
            .next_hop_mac
            .iter()
            .chain(&outer.src_mac)
            .chain(&ethertype),
    ) {
        *o = *b;
    }
    let (ip, l4) = rest
        .split_at_mut_checked(ip_hlen)
        .ok_or(Refused::NoMemory)?;
    match (outer.path.src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let df = t.flags & TUN_F_DONT_FRAGMENT != 0;
            let id = if df { 0 } else { outer.ip_id };
            let frag: u16 = if df { 0x4000 } else { 0 };
            let [l0, l1] = ip_total.to_be_bytes();
            let [i0, i1] = id.to_be_bytes();
            let [f0, f1] = frag.to_be_bytes();
            let [s0, s1, s2, s3] = s.octets();
            let [d0, d1, d2, d3] = d.octets();
            let mut h = [
                0x45, tos, l0, l1, i0, i1, f0, f1, ttl, proto, 0, 0, s0, s1, s2, s3, d0, d1, d2, d3,
            ];
            let [c0, c1] = (!fold(sum(&h))).to_be_bytes();
            h[10] = c0;
            h[11] = c1;
            ip.copy_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let [l0, l1] = ip_total.to_be_bytes();
            let head = [0x60 | (tos >> 4), tos << 4, 0, 0, l0, l1, proto, ttl];
            for (o, b) in ip
                .iter_mut()
                .zip(head.iter().chain(&s.octets()).chain(&d.octets()))
            {
                *o = *b;
            }
        }
        _ => return Err(Refused::Family),
    }
    let (udp, rest) = l4.split_at_mut_checked(l4_hlen).ok_or(Refused::NoMemory)?;
    encap.hdr.write(rest);
    match encap.udp {
        Some((sport, dport)) => {
            let [s0, s1] = sport.to_be_bytes();
            let [d0, d1] = dport.to_be_bytes();
            let [l0, l1] = u16::try_from(l4_hlen + rest.len())
                .map_err(|_| Refused::TooBig)?
                .to_be_bytes();
            udp.copy_from_slice(&[s0, s1, d0, d1, l0, l1, 0, 0]);
            if v6 || t.flags & TUN_F_CSUM != 0 {
                let addrs = if v6 { ip.get(8..40) } else { ip.get(12..20) };
                let pseudo = sum(addrs.unwrap_or_default())
                    + u64::from(IPPROTO_UDP)
                    + (l4_hlen + rest.len()) as u64;
                let c = match !fold(pseudo + sum(udp) + sum(rest)) {
                    0 => 0xffff,
                    c => c,
                };
                if let Some(at) = udp.get_mut(6..8) {
                    at.copy_from_slice(&c.to_be_bytes());
                }
            }
        }
        None => gre::fill_checksum(rest),
    }
    Ok(())
}
