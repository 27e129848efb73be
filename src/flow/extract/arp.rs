//! ARP and RARP, only for Ethernet hardware and IPv4 protocol addresses.

use super::wire::{ArpEth, ethertype, view};
use super::{Layout, Network};
use crate::flow::key::FlowKey;

const HRD_ETHER: u16 = 1;

/// Anything else (or a packet shorter than 28 bytes) leaves the ARP fields
/// zero. Only opcodes up to 0xff fit the key's `ip_proto`; larger ones are 0.
pub(super) fn parse(frame: &[u8], key: &mut FlowKey, layout: &mut Layout) {
    let Some(a) = view::<ArpEth>(frame, layout.l3) else {
        return;
    };
    if a.hrd.get() != HRD_ETHER || a.pro.get() != ethertype::IPV4 || a.hln != 6 || a.pln != 4 {
        return;
    }
    key.ip_proto = u8::try_from(a.op.get()).unwrap_or(0);
    key.ipv4_src = a.spa.get();
    key.ipv4_dst = a.tpa.get();
    key.arp_sha = a.sha;
    key.arp_tha = a.tha;
    layout.network = Some(Network::Arp);
}

#[cfg(test)]
mod tests {
    use super::super::frames::*;
    use super::*;

    #[test]
    fn request() {
        let (k, l) = run(&cat(&[&eth(0x0806), &arp(1)]));
        assert_eq!(k.ip_proto, 1);
        assert_eq!((k.ipv4_src, k.ipv4_dst), (0xc0a8_0001, 0xc0a8_0002));
        assert_eq!((k.arp_sha, k.arp_tha), (SRC, [0; 6]));
        assert_eq!((l.network, l.l3, l.l4), (Some(Network::Arp), 14, 14));
        assert_eq!((k.ip_tos, k.ip_ttl, k.ip_frag, k.tp_src), (0, 0, 0, 0));
    }

    #[test]
    fn rarp_reply() {
        let mut a = arp(4);
        a[18..24].copy_from_slice(&DST);
        let (k, l) = run(&cat(&[&eth(0x8035), &a]));
        assert_eq!((k.ip_proto, k.arp_tha), (4, DST));
        assert_eq!(l.network, Some(Network::Arp));
    }

    #[test]
    fn large_opcode_is_zero() {
        let (k, l) = run(&cat(&[&eth(0x0806), &arp(0x0100)]));
        assert_eq!(k.ip_proto, 0);
        assert_eq!(k.ipv4_src, 0xc0a8_0001);
        assert_eq!(l.network, Some(Network::Arp));
        assert_eq!(run(&cat(&[&eth(0x0806), &arp(0xff)])).0.ip_proto, 0xff);
    }

    #[test]
    fn other_hardware_or_protocol_is_ignored() {
        for (at, value) in [(1, 6), (3, 0xdd), (4, 8), (5, 16)] {
            let mut a = arp(1);
            a[at] = value;
            let (k, l) = run(&cat(&[&eth(0x0806), &a]));
            assert_eq!((k.ip_proto, k.ipv4_src, k.ipv4_dst), (0, 0, 0), "byte {at}");
            assert_eq!((k.arp_sha, k.arp_tha), ([0; 6], [0; 6]));
            assert_eq!(l.network, None);
            assert_eq!(k.eth_type, 0x0806);
        }
    }

    #[test]
    fn truncated_is_ignored() {
        let f = cat(&[&eth(0x0806), &arp(2)]);
        let (k, l) = run(&f[..f.len() - 1]);
        assert_eq!((k.ip_proto, k.ipv4_src, k.arp_sha), (0, 0, [0; 6]));
        assert_eq!(l.network, None);
    }
}
