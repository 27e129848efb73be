//! What the tracker reads of a packet: its tuple and the protocol fields
//! its state machines need, found in the frame by the rules flow extraction
//! uses. A packet it cannot read (cut short, a bad header, a fragment that
//! could not be taken in for reassembly, an ICMP type that is neither a
//! query nor an error) is `None`: the CT action marks it `+trk+inv`.

use super::tuple::*;
use crate::actions::headers::{self, get};

/// TCP flag bits (`TCP_*` as the flow key holds them).
pub const TCP_FIN: u16 = 0x01;
pub const TCP_SYN: u16 = 0x02;
pub const TCP_RST: u16 = 0x04;
pub const TCP_PSH: u16 = 0x08;
pub const TCP_ACK: u16 = 0x10;
pub const TCP_URG: u16 = 0x20;

const TCPOPT_EOL: u8 = 0;
const TCPOPT_NOP: u8 = 1;
const TCPOPT_WINDOW: u8 = 3;
const TCPOPT_SACK: u8 = 5;

/// A TCP segment's fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub flags: u16,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub payload: u32,
    /// The window scale option, if the segment has one.
    pub wscale: Option<u8>,
}

/// What kind of packet it is, beyond its tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tcp(Segment),
    /// An ICMP or ICMPv6 error quoting a packet of the connection whose
    /// tuple (as the quoted packet had it) is given; `inner_l3` is where
    /// the quoted IP header starts in the frame.
    IcmpError {
        quoted: Tuple,
        inner_l3: usize,
    },
    /// Any other packet (UDP, ICMP queries and replies, other protocols).
    Plain,
}

/// A packet the tracker can work on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub tuple: Tuple,
    pub kind: Kind,
    pub l3: usize,
    pub l4: usize,
    /// Bytes of the IP packet (for the counters).
    pub len: u32,
}

impl Default for View {
    fn default() -> View {
        View {
            tuple: Tuple::default(),
            kind: Kind::Plain,
            l3: 0,
            l4: 0,
            len: 0,
        }
    }
}

/// Reads `frame` (an Ethernet frame) for tracking in `zone`. `large`: the
/// frame is a large send its sender left the NIC to cut (LSO), whose IPv4
/// total length may be zero (LSOv2 leaves it so; more than 64 KiB does not
/// fit in it): the IP packet is then the rest of the frame, as Linux takes
/// a GSO packet's (`skb_ip_totlen`).
#[inline]
pub fn parse(frame: &[u8], oob_vlan: Option<u16>, zone: u16, large: bool) -> Option<View> {
    let mut view = View::default();
    parse_into(frame, oob_vlan, zone, || large, &mut view).map(|_| view)
}

/// `parse`, written into `view` field by field; the tuple too, as a value
/// its caller can hash without reading back what was just written (`None`:
/// not readable, and `view` is left half written). A view built elsewhere
/// and copied whole, or fields read back at once with wider loads than
/// wrote them, stall those loads.
#[inline]
pub fn parse_into(
    frame: &[u8],
    oob_vlan: Option<u16>,
    zone: u16,
    large: impl FnOnce() -> bool,
    view: &mut View,
) -> Option<Tuple> {
    let mut ip =
        headers::l2(frame, oob_vlan).and_then(|l2| headers::ip_at(frame, l2.eth_type, l2.l3))?;
    // Asked only then: most packets never need to know.
    if !ip.v6 && get::<2>(frame, ip.l3 + 2) == Some([0, 0]) && large() {
        ip.end = frame.len();
    }
    let (l4, (src, dst)) = (ip.l4?, addresses(frame, ip.v6, ip.l3)?);
    let end = ip.end;
    let ((sport, dport), kind) = frame
        .get(l4.off..end)
        .and_then(|body| transport(l4.proto, ip.v6, zone, body, l4.off))?;
    let tuple = Tuple {
        src,
        dst,
        sport,
        dport,
        zone,
        proto: l4.proto,
        v6: u8::from(ip.v6),
    };
    view.tuple = tuple;
    view.kind = kind;
    view.l3 = ip.l3;
    view.l4 = l4.off;
    view.len = u32::try_from(end.saturating_sub(ip.l3)).unwrap_or(u32::MAX);
    Some(tuple)
}

/// The addresses of the IP header at `l3` (its version checked), as a
/// tuple holds them.
fn addresses(frame: &[u8], v6: bool, l3: usize) -> Option<([u8; 16], [u8; 16])> {
    if v6 {
        let [ver, ..] = get::<1>(frame, l3)?;
        if ver >> 4 != 6 {
            return None;
        }
        Some((get(frame, l3 + 8)?, get(frame, l3 + 24)?))
    } else {
        let [ver_ihl, ..] = get::<1>(frame, l3)?;
        if ver_ihl >> 4 != 4 {
            return None;
        }
        // IPv4 in the first four bytes, the rest zero.
        let widen = |a: [u8; 4]| u128::from(u32::from_le_bytes(a)).to_le_bytes();
        Some((widen(get(frame, l3 + 12)?), widen(get(frame, l3 + 16)?)))
    }
}

/// The tuple's identifiers (source and destination port, or ICMP
/// identifier and type and code) from the transport header `body` of
/// protocol `proto` (which starts at frame offset `off`), and the kind of
/// packet. Inlined for the reason `parse_into` writes its fields one by
/// one.
#[inline(always)]
fn transport(
    proto: u8,
    v6: bool,
    zone: u16,
    body: &[u8],
    off: usize,
) -> Option<((u16, u16), Kind)> {
    match proto {
        IPPROTO_TCP => {
            let seg = segment(body)?;
            let sport = u16::from_be_bytes(get(body, 0)?);
            let dport = u16::from_be_bytes(get(body, 2)?);
            Some(((sport, dport), Kind::Tcp(seg)))
        }
        IPPROTO_UDP | IPPROTO_SCTP => {
            let [s0, s1, d0, d1] = get(body, 0)?;
            if proto == IPPROTO_UDP && body.len() < 8 {
                return None;
            }
            let ports = (u16::from_be_bytes([s0, s1]), u16::from_be_bytes([d0, d1]));
            Some((ports, Kind::Plain))
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 if (proto == IPPROTO_ICMPV6) == v6 => {
            let [ty, code, _, _, id0, id1, _, _] = get(body, 0)?;
            if is_error(ty, v6) {
                let inner_l3 = off + 8;
                let quoted = quoted(body.get(8..)?, v6, zone)?;
                return Some(((0, 0), Kind::IcmpError { quoted, inner_l3 }));
            }
            // A type that is neither a query nor a reply cannot be tracked.
            icmp_counterpart(ty, v6)?;
            let ports = (
                u16::from_be_bytes([id0, id1]),
                u16::from_be_bytes([ty, code]),
            );
            Some((ports, Kind::Plain))
        }
        _ => Some(((0, 0), Kind::Plain)),
    }
}

/// ICMP destination unreachable, source quench, redirect, time exceeded,
/// parameter problem; ICMPv6 types 1 to 4.
fn is_error(ty: u8, v6: bool) -> bool {
    if v6 {
        (1..=4).contains(&ty)
    } else {
        matches!(ty, 3 | 4 | 5 | 11 | 12)
    }
}

/// The tuple of the packet an ICMP error quotes: its IP header and the
/// first 8 bytes of its transport header.
fn quoted(inner: &[u8], v6: bool, zone: u16) -> Option<Tuple> {
    let (src, dst) = addresses(inner, v6, 0)?;
    let mut t = Tuple {
        src,
        dst,
        zone,
        v6: u8::from(v6),
        ..Tuple::default()
    };
    let off = if v6 {
        // Past any extension headers (a first fragment's, say), as
        // Linux's `ipv6_skip_exthdr` goes.
        let l4 = headers::ip_at(inner, headers::ETH_P_IPV6, 0)?.l4?;
        t.proto = l4.proto;
        l4.off
    } else {
        let [ver_ihl, ..] = get::<1>(inner, 0)?;
        t.proto = *inner.get(9)?;
        usize::from(ver_ihl & 0x0f) * 4
    };
    if off < 20 {
        return None;
    }
    let l4 = inner.get(off..)?;
    match t.proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => {
            let [s0, s1, d0, d1] = get(l4, 0)?;
            t.sport = u16::from_be_bytes([s0, s1]);
            t.dport = u16::from_be_bytes([d0, d1]);
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let [ty, code, _, _, id0, id1] = get(l4, 0)?;
            // Errors about errors are not related to anything.
            if is_error(ty, v6) {
                return None;
            }
            t.sport = u16::from_be_bytes([id0, id1]);
            t.dport = u16::from_be_bytes([ty, code]);
        }
        _ => {}
    }
    Some(t)
}

/// The TCP header's fields; `None` if it is cut short or its data offset
/// is below 5 words.
#[inline]
fn segment(body: &[u8]) -> Option<Segment> {
    let h: [u8; 20] = get(body, 0)?;
    let [
        _,
        _,
        _,
        _,
        s0,
        s1,
        s2,
        s3,
        a0,
        a1,
        a2,
        a3,
        off,
        flags,
        w0,
        w1,
        ..,
    ] = h;
    let hlen = usize::from(off >> 4) * 4;
    if hlen < 20 || hlen > body.len() {
        return None;
    }
    Some(Segment {
        flags: u16::from_be_bytes([off & 0x0f, flags]),
        seq: u32::from_be_bytes([s0, s1, s2, s3]),
        ack: u32::from_be_bytes([a0, a1, a2, a3]),
        win: u16::from_be_bytes([w0, w1]),
        payload: u32::try_from(body.len() - hlen).unwrap_or(u32::MAX),
        wscale: body.get(20..hlen).and_then(window_scale),
    })
}

/// The window scale option among TCP options (capped at 14).
fn window_scale(opts: &[u8]) -> Option<u8> {
    let (_, body) = options(opts).find(|(kind, body)| *kind == TCPOPT_WINDOW && body.len() == 1)?;
    opts.get(body.start).map(|&s| s.min(14))
}

/// Where the edges (sequence numbers) of the SACK blocks lie among TCP
/// options `opts`.
pub fn sack_edges(opts: &[u8]) -> impl Iterator<Item = usize> + '_ {
    options(opts)
        .filter(|(kind, body)| *kind == TCPOPT_SACK && !body.is_empty() && body.len() % 8 == 0)
        .flat_map(|(_, body)| body.step_by(4))
}

/// The TCP options in `opts` other than EOL and NOP: each one's kind and
/// where its body lies. The walk stops at EOL and at an option whose
/// length is impossible (as Linux's `tcp_options`).
fn options(opts: &[u8]) -> impl Iterator<Item = (u8, core::ops::Range<usize>)> + '_ {
    let mut at = 0;
    core::iter::from_fn(move || {
        loop {
            match *opts.get(at)? {
                TCPOPT_EOL => return None,
                TCPOPT_NOP => at += 1,
                kind => {
                    let len = usize::from(*opts.get(at + 1)?);
                    if len < 2 || at + len > opts.len() {
                        return None;
                    }
                    let body = at + 2..at + len;
                    at += len;
                    return Some((kind, body));
                }
            }
        }
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::vec::Vec;

    /// An Ethernet/IPv4 frame around `l4` (checksums of IP and of TCP/UDP
    /// right).
    pub fn ipv4_frame(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = std::vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 8, 0];
        let total = (20 + l4.len()) as u16;
        let mut ip = std::vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        f.extend(ip);
        f.extend_from_slice(l4);
        let sums = crate::offload::Checksums {
            ip: true,
            tcp: proto == IPPROTO_TCP,
            udp: proto == IPPROTO_UDP,
        };
        crate::offload::complete_checksums(&mut f, sums).unwrap();
        f
    }

    /// A TCP header (no options) with `payload` bytes of data.
    pub fn tcp(sport: u16, dport: u16, flags: u8, seq: u32, ack: u32, payload: usize) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&sport.to_be_bytes());
        h.extend_from_slice(&dport.to_be_bytes());
        h.extend_from_slice(&seq.to_be_bytes());
        h.extend_from_slice(&ack.to_be_bytes());
        h.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        h.extend(core::iter::repeat_n(0x61, payload));
        h
    }

    #[test]
    fn tcp_udp_icmp_and_others() {
        let f = ipv4_frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            6,
            &tcp(1000, 80, 0x02, 7, 0, 3),
        );
        let v = parse(&f, None, 4, false).unwrap();
        assert_eq!((v.tuple.sport, v.tuple.dport, v.tuple.zone), (1000, 80, 4));
        assert_eq!((v.l3, v.l4, v.len), (14, 34, 43));
        match v.kind {
            Kind::Tcp(s) => assert_eq!((s.flags, s.seq, s.payload, s.win), (2, 7, 3, 0xffff)),
            k => panic!("{k:?}"),
        }
        // A zero IPv4 total length: the rest of the frame for a large send
        // only.
        let mut zero = f.clone();
        zero[16..18].copy_from_slice(&[0, 0]);
        assert!(parse(&zero, None, 0, false).is_none(), "not a large send");
        let large = parse(&zero, None, 0, true).unwrap();
        assert_eq!((large.len, large.kind), (v.len, v.kind));
        assert!(parse(&f[..40], None, 0, false).is_none(), "cut short");
        let echo = ipv4_frame([1; 4], [2; 4], 1, &[8, 0, 0, 0, 0, 9, 0, 1]);
        let v = parse(&echo, None, 0, false).unwrap();
        assert_eq!(
            (v.tuple.sport, v.tuple.dport, v.kind),
            (9, 0x0800, Kind::Plain)
        );
        let redirect_less = ipv4_frame([1; 4], [2; 4], 1, &[9, 0, 0, 0, 0, 9, 0, 1]);
        assert!(parse(&redirect_less, None, 0, false).is_none());
        let igmp = ipv4_frame([1; 4], [224, 0, 0, 1], 2, &[0x11, 0, 0, 0, 0, 0, 0, 0]);
        let v = parse(&igmp, None, 0, false).unwrap();
        assert_eq!((v.tuple.proto, v.tuple.sport, v.tuple.dport), (2, 0, 0));
    }

    #[test]
    fn icmp_errors_quote_a_tuple() {
        let inner = ipv4_frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            &[0x03, 0xe8, 0, 53, 0, 8, 0, 0],
        );
        let mut icmp = std::vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&inner[14..]);
        let f = ipv4_frame([10, 0, 0, 2], [10, 0, 0, 1], 1, &icmp);
        let v = parse(&f, None, 0, false).unwrap();
        match v.kind {
            Kind::IcmpError { quoted, inner_l3 } => {
                assert_eq!((quoted.sport, quoted.dport, quoted.proto), (1000, 53, 17));
                assert_eq!(inner_l3, 42);
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn window_scale_option() {
        assert_eq!(window_scale(&[1, 1, 3, 3, 7]), Some(7));
        assert_eq!(window_scale(&[2, 4, 5, 0xb4, 3, 3, 20]), Some(14));
        assert_eq!(window_scale(&[0, 3, 3, 7]), None);
        assert_eq!(window_scale(&[2]), None);
        assert_eq!(window_scale(&[5, 0]), None);
    }

    #[test]
    fn sack_block_edges() {
        let two = [1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];
        assert_eq!(sack_edges(&two).collect::<Vec<_>>(), [4, 8, 12, 16]);
        // Not a whole number of blocks, cut short, after EOL: none.
        for bad in [
            &[5, 6, 0, 0, 0, 1][..],
            &[5, 10, 0, 0, 0, 1],
            &[0, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2],
        ] {
            assert_eq!(sack_edges(bad).count(), 0, "{bad:?}");
        }
    }
}
