//! IPv4: addresses, protocol, TOS, TTL, fragment type, then L4 unless the
//! packet is a later fragment.

use super::wire::{Ipv4Header, view};
use super::{Layout, Network, transport};
use crate::flow::key::FlowKey;
use crate::ovs::key::{FRAG_FIRST, FRAG_LATER, FRAG_NONE};

const IP_MF: u16 = 0x2000;
const IP_OFFSET: u16 = 0x1fff;

/// A header shorter than 20 bytes, a bad IHL or one reaching past the
/// frame leaves every IP field zero.
pub(super) fn parse(frame: &[u8], key: &mut FlowKey, layout: &mut Layout) {
    let l3 = layout.l3;
    let Some(h) = view::<Ipv4Header>(frame, l3) else {
        return;
    };
    let ihl = usize::from(h.ver_ihl & 0x0f) * 4;
    if ihl < core::mem::size_of::<Ipv4Header>() || frame.len() - l3 < ihl {
        return;
    }
    key.ipv4_src = h.src.get();
    key.ipv4_dst = h.dst.get();
    key.ip_proto = h.proto;
    key.ip_tos = h.tos;
    key.ip_ttl = h.ttl;
    layout.network = Some(Network::Ipv4);
    layout.l4 = l3 + ihl;

    let frag = h.frag.get();
    if frag & IP_OFFSET != 0 {
        key.ip_frag = FRAG_LATER;
        return;
    }
    key.ip_frag = if frag & IP_MF != 0 {
        FRAG_FIRST
    } else {
        FRAG_NONE
    };
    layout.transport = transport::ipv4(frame, layout.l4, key);
}

#[cfg(test)]
mod tests {
    use super::super::frames::*;
    use super::super::{Network, Transport};
    use super::*;

    #[test]
    fn header_fields() {
        let f = cat(&[&eth(0x0800), &ipv4(17, 0), &udp(53, 1024)]);
        let (k, l) = run(&f);
        assert_eq!(k.ipv4_src, 0x0a00_0001);
        assert_eq!(k.ipv4_dst, 0x0a00_0002);
        assert_eq!(
            (k.ip_proto, k.ip_tos, k.ip_ttl, k.ip_frag),
            (17, 0xb9, 64, FRAG_NONE)
        );
        assert_eq!((l.network, l.l3, l.l4), (Some(Network::Ipv4), 14, 34));
    }

    #[test]
    fn options_move_the_transport_header() {
        let mut ip = ipv4(6, 0);
        ip[0] = 0x47;
        let f = cat(&[&eth(0x0800), &ip, &[1; 8], &tcp(1, 2, 0x018)]);
        let (k, l) = run(&f);
        assert_eq!(l.l4, 42);
        assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (1, 2, 0x018));
    }

    #[test]
    fn truncated_header_zeroes_ip_fields() {
        let f = cat(&[&eth(0x0800), &ipv4(6, 0)]);
        let (k, l) = run(&f[..33]);
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!(
            (k.ipv4_src, k.ipv4_dst, k.ip_proto, k.ip_tos, k.ip_ttl),
            (0, 0, 0, 0, 0)
        );
        assert_eq!((l.network, l.l4), (None, 14));
        assert_eq!(l.transport, None);
    }

    #[test]
    fn ihl_below_five_zeroes_ip_fields() {
        for ihl in 0..5u8 {
            let mut ip = ipv4(17, 0);
            ip[0] = 0x40 | ihl;
            let f = cat(&[&eth(0x0800), &ip, &udp(1, 2)]);
            let (k, l) = run(&f);
            assert_eq!((k.ipv4_src, k.ip_proto, k.tp_src), (0, 0, 0), "ihl {ihl}");
            assert_eq!(l.network, None);
        }
    }

    #[test]
    fn ihl_past_the_frame_zeroes_ip_fields() {
        let mut ip = ipv4(17, 0);
        ip[0] = 0x4f;
        let f = cat(&[&eth(0x0800), &ip, &[0; 39]]);
        let (k, l) = run(&f);
        assert_eq!((k.ipv4_src, k.ip_proto), (0, 0));
        assert_eq!(l.network, None);
        // One more byte and the header (60 bytes) is complete.
        let f = cat(&[&eth(0x0800), &ip, &[0; 40]]);
        let (k, l) = run(&f);
        assert_eq!((k.ipv4_src, k.ip_proto), (0x0a00_0001, 17));
        assert_eq!((l.l4, l.transport), (74, None));
    }

    #[test]
    fn version_is_not_checked() {
        let mut ip = ipv4(17, 0);
        ip[0] = 0x65;
        let f = cat(&[&eth(0x0800), &ip, &udp(3, 4)]);
        let (k, _) = run(&f);
        assert_eq!((k.ipv4_src, k.tp_src), (0x0a00_0001, 3));
    }

    #[test]
    fn first_fragment_keeps_l4() {
        let f = cat(&[&eth(0x0800), &ipv4(17, 0x2000), &udp(5, 6)]);
        let (k, l) = run(&f);
        assert_eq!(k.ip_frag, FRAG_FIRST);
        assert_eq!((k.tp_src, k.tp_dst), (5, 6));
        assert_eq!(l.transport, Some(Transport::Udp));
        // DF does not make a fragment.
        let f = cat(&[&eth(0x0800), &ipv4(17, 0x4000), &udp(5, 6)]);
        assert_eq!(run(&f).0.ip_frag, FRAG_NONE);
    }

    #[test]
    fn later_fragment_has_no_l4() {
        for frag in [0x0001, 0x2001, 0x1fff, 0x3000] {
            let f = cat(&[&eth(0x0800), &ipv4(6, frag), &tcp(5, 6, 0x002)]);
            let (k, l) = run(&f);
            assert_eq!(k.ip_frag, FRAG_LATER);
            assert_eq!(k.ip_proto, 6);
            assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (0, 0, 0));
            assert_eq!(
                (l.network, l.l4, l.transport),
                (Some(Network::Ipv4), 34, None)
            );
        }
    }
}
