//! TCP, UDP, SCTP, ICMP and ICMPv6 headers: ports (ICMP type and code) and
//! TCP flags. A header cut short leaves them zero; the IP protocol stays.

use super::wire::{IcmpHeader, SctpHeader, TcpHeader, UdpHeader, ipproto, view};
use super::{Transport, nd};
use crate::flow::key::FlowKey;
use core::mem::size_of;

/// The L4 header after an IPv4 header.
pub(super) fn ipv4(frame: &[u8], l4: usize, key: &mut FlowKey) -> Option<Transport> {
    match key.ip_proto {
        ipproto::TCP => tcp(frame, l4, key),
        ipproto::UDP => udp(frame, l4, key),
        ipproto::SCTP => sctp(frame, l4, key),
        ipproto::ICMP => {
            icmp(frame, l4, key)?;
            Some(Transport::Icmp)
        }
        _ => None,
    }
}

/// The L4 header after an IPv6 header and its extension headers.
pub(super) fn ipv6(frame: &[u8], l4: usize, key: &mut FlowKey) -> Option<Transport> {
    match key.ip_proto {
        ipproto::TCP => tcp(frame, l4, key),
        ipproto::UDP => udp(frame, l4, key),
        ipproto::SCTP => sctp(frame, l4, key),
        ipproto::ICMPV6 => {
            let h = icmp(frame, l4, key)?;
            if h.code == 0 && (h.ty == nd::SOLICITATION || h.ty == nd::ADVERTISEMENT) {
                nd::parse(frame, l4, key);
            }
            Some(Transport::Icmpv6)
        }
        _ => None,
    }
}

/// Needs the whole header, options included, as its data offset says.
fn tcp(frame: &[u8], l4: usize, key: &mut FlowKey) -> Option<Transport> {
    let h: &TcpHeader = view(frame, l4)?;
    let off_flags = h.off_flags.get();
    let len = usize::from(off_flags >> 12) * 4;
    if len < size_of::<TcpHeader>() || frame.len() - l4 < len {
        return None;
    }
    key.tp_src = h.src.get();
    key.tp_dst = h.dst.get();
    key.tcp_flags = off_flags & 0x0fff;
    Some(Transport::Tcp)
}

fn udp(frame: &[u8], l4: usize, key: &mut FlowKey) -> Option<Transport> {
    let h: &UdpHeader = view(frame, l4)?;
    key.tp_src = h.src.get();
    key.tp_dst = h.dst.get();
    Some(Transport::Udp)
}

fn sctp(frame: &[u8], l4: usize, key: &mut FlowKey) -> Option<Transport> {
    let h: &SctpHeader = view(frame, l4)?;
    key.tp_src = h.src.get();
    key.tp_dst = h.dst.get();
    Some(Transport::Sctp)
}

/// Type and code go in the port fields; all 8 header bytes must be there.
fn icmp<'a>(frame: &'a [u8], l4: usize, key: &mut FlowKey) -> Option<&'a IcmpHeader> {
    let h: &IcmpHeader = view(frame, l4)?;
    key.tp_src = u16::from(h.ty);
    key.tp_dst = u16::from(h.code);
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::super::Transport;
    use super::super::frames::*;

    fn v4(proto: u8, l4: &[u8]) -> Vec<u8> {
        cat(&[&eth(0x0800), &ipv4(proto, 0), l4])
    }

    fn v6(next: u8, l4: &[u8]) -> Vec<u8> {
        cat(&[&eth(0x86dd), &ipv6(next), l4])
    }

    #[test]
    fn tcp_ports_and_flags() {
        let (k, l) = run(&v4(6, &tcp(443, 50000, 0x1ff)));
        assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (443, 50000, 0x1ff));
        assert_eq!(l.transport, Some(Transport::Tcp));
        // The reserved bits above NS are not flags.
        let mut h = tcp(1, 2, 0x0fff);
        h[12] |= 0x0e;
        assert_eq!(run(&v6(6, &h)).0.tcp_flags, 0x0fff);
    }

    #[test]
    fn tcp_needs_its_whole_header() {
        let f = v4(6, &tcp(1, 2, 0x10));
        let (k, l) = run(&f[..f.len() - 1]);
        assert_eq!((k.ip_proto, k.tp_src, k.tp_dst, k.tcp_flags), (6, 0, 0, 0));
        assert_eq!((l.transport, l.l4), (None, 34));
    }

    #[test]
    fn tcp_data_offset_is_checked() {
        for doff in [0u8, 4] {
            let mut h = tcp(1, 2, 0x10);
            h[12] = doff << 4;
            let (k, l) = run(&v4(6, &h));
            assert_eq!((k.tp_src, k.tcp_flags), (0, 0));
            assert_eq!(l.transport, None);
        }
        let mut h = tcp(1, 2, 0x10);
        h[12] = 6 << 4;
        let f = v4(6, &h);
        assert_eq!(run(&f).0.tp_src, 0);
        assert_eq!(run(&cat(&[&f, &[0; 4]])).0.tp_src, 1);
    }

    #[test]
    fn udp_ports() {
        let (k, l) = run(&v6(17, &udp(5353, 5354)));
        assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (5353, 5354, 0));
        assert_eq!(l.transport, Some(Transport::Udp));
        let f = v6(17, &udp(5353, 5354));
        let (k, _) = run(&f[..f.len() - 1]);
        assert_eq!((k.ip_proto, k.tp_src, k.tp_dst), (17, 0, 0));
    }

    #[test]
    fn sctp_ports_need_12_bytes() {
        let f = v4(132, &sctp(2905, 2906));
        let (k, l) = run(&f);
        assert_eq!((k.tp_src, k.tp_dst), (2905, 2906));
        assert_eq!(l.transport, Some(Transport::Sctp));
        let (k, l) = run(&f[..f.len() - 1]);
        assert_eq!(
            (k.ip_proto, k.tp_src, k.tp_dst, l.transport),
            (132, 0, 0, None)
        );
    }

    #[test]
    fn icmp_type_and_code_need_8_bytes() {
        let f = v4(1, &icmp(8, 0));
        let (k, l) = run(&f);
        assert_eq!((k.tp_src, k.tp_dst), (8, 0));
        assert_eq!(l.transport, Some(Transport::Icmp));
        let (k, _) = run(&v4(1, &icmp(3, 13)));
        assert_eq!((k.tp_src, k.tp_dst), (3, 13));
        let (k, l) = run(&f[..f.len() - 1]);
        assert_eq!(
            (k.ip_proto, k.tp_src, k.tp_dst, l.transport),
            (1, 0, 0, None)
        );
    }

    #[test]
    fn icmp_numbers_are_per_ip_version() {
        // ICMPv6 inside IPv4 and ICMP inside IPv6 are not parsed.
        let (k, l) = run(&v4(58, &icmp(128, 0)));
        assert_eq!((k.ip_proto, k.tp_src, l.transport), (58, 0, None));
        let (k, l) = run(&v6(1, &icmp(8, 0)));
        assert_eq!((k.ip_proto, k.tp_src, l.transport), (1, 0, None));
    }

    #[test]
    fn icmpv6_type_and_code() {
        let f = v6(58, &icmp(128, 0));
        let (k, l) = run(&f);
        assert_eq!((k.tp_src, k.tp_dst), (128, 0));
        assert_eq!(l.transport, Some(Transport::Icmpv6));
        assert_eq!(k.nd_target, [0; 16]);
        let (k, l) = run(&f[..f.len() - 1]);
        assert_eq!((k.ip_proto, k.tp_src, l.transport), (58, 0, None));
    }

    #[test]
    fn other_protocols_have_no_ports() {
        let (k, l) = run(&v4(47, &[0; 16]));
        assert_eq!(
            (k.ip_proto, k.tp_src, k.tp_dst, l.transport),
            (47, 0, 0, None)
        );
        assert_eq!(l.l4, 34);
    }
}
