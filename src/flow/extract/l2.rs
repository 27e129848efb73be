//! Ethernet header, 802.1Q/802.1ad tags and 802.2 LLC/SNAP: everything up
//! to the L2 payload.

use super::wire::{EthAddrs, LlcSnap, VlanTag, ethertype, view};
use crate::flow::key::{FlowKey, VLAN_TAG_PRESENT};
use zerocopy::network_endian::U16;

/// Where the L2 headers end.
pub(super) struct L2 {
    /// In-band tags taken into the key.
    pub vlan_tags: u8,
    /// First byte of the L2 payload.
    pub l3: usize,
}

/// Fills the Ethernet and VLAN fields and `eth_type`; `None` if the frame is
/// shorter than an Ethernet header. `oob_vlan` is the tag NDIS carries out of
/// band, which (like Linux's accelerated tag) is the outer one.
pub(super) fn parse(frame: &[u8], oob_vlan: Option<u16>, key: &mut FlowKey) -> Option<L2> {
    let addrs: &EthAddrs = view(frame, 0)?;
    let mut ty = view::<U16>(frame, 12)?.get();
    key.eth_dst = addrs.dst;
    key.eth_src = addrs.src;

    // `at` is the offset of the type field `ty` was read from.
    let mut at = 12;
    let mut vlan_tags = 0;
    let outer = match oob_vlan {
        Some(tci) => Some((ethertype::VLAN_8021Q, tci)),
        None => vlan_tag(frame, at).map(|tag| {
            at += 4;
            vlan_tags += 1;
            ty = tag.next.get();
            (tag.tpid.get(), tag.tci.get())
        }),
    };
    if let Some((tpid, tci)) = outer {
        key.vlan_tpid = tpid;
        key.vlan_tci = tci | VLAN_TAG_PRESENT;
        if let Some(tag) = vlan_tag(frame, at) {
            key.cvlan_tpid = tag.tpid.get();
            key.cvlan_tci = tag.tci.get() | VLAN_TAG_PRESENT;
            at += 4;
            vlan_tags += 1;
            ty = tag.next.get();
        }
    }

    at += 2;
    let (eth_type, l3) = if ty >= ethertype::MIN {
        (ty, at)
    } else {
        llc(frame, at)
    };
    key.eth_type = eth_type;
    Some(L2 { vlan_tags, l3 })
}

/// The 802.1Q/802.1ad tag at `at`, if there is one followed by a type field.
fn vlan_tag(frame: &[u8], at: usize) -> Option<&VlanTag> {
    let tag: &VlanTag = view(frame, at)?;
    let tpid = tag.tpid.get();
    (tpid == ethertype::VLAN_8021Q || tpid == ethertype::VLAN_8021AD).then_some(tag)
}

/// The type of an 802.3 frame whose LLC header starts at `at`, and where its
/// payload starts: the SNAP ethertype if there is a SNAP header with a zero
/// OUI and a real ethertype, else `ETH_P_802_2`.
fn llc(frame: &[u8], at: usize) -> (u16, usize) {
    let Some(snap) = view::<LlcSnap>(frame, at) else {
        return (ethertype::LLC, at);
    };
    if snap.dsap != 0xaa || snap.ssap != 0xaa || snap.oui != [0; 3] {
        return (ethertype::LLC, at);
    }
    // Linux consumes the SNAP header even when its type is not an ethertype.
    let ty = snap.ty.get();
    let payload = at + core::mem::size_of::<LlcSnap>();
    if ty >= ethertype::MIN {
        (ty, payload)
    } else {
        (ethertype::LLC, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::super::frames::*;
    use super::super::{BadFrame, Network, extract};
    use super::*;
    use crate::flow::key::FlowKey;

    #[test]
    fn ethernet_ii() {
        let f = cat(&[&eth(0x0800), &ipv4(17, 0), &udp(1, 2)]);
        let (k, l) = run(&f);
        assert_eq!(k.eth_dst, DST);
        assert_eq!(k.eth_src, SRC);
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!(
            (k.vlan_tci, k.vlan_tpid, k.cvlan_tci, k.cvlan_tpid),
            (0, 0, 0, 0)
        );
        assert_eq!((l.vlan_tags, l.l3), (0, 14));
    }

    #[test]
    fn runt_frames_are_errors() {
        let f = eth(0x0800);
        let mut k = FlowKey::default();
        assert_eq!(extract(&f[..13], None, &mut k), Err(BadFrame::Runt));
        assert_eq!(extract(&[], Some(5), &mut k), Err(BadFrame::Runt));
        let (k, l) = run(&f);
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!(l.network, None);
    }

    #[test]
    fn single_8021q_tag() {
        let f = cat(&[
            &eth(0x8100),
            &tci_type(0x2064, 0x0800),
            &ipv4(17, 0),
            &udp(1, 2),
        ]);
        let (k, l) = run(&f);
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0x8100, 0x3064));
        assert_eq!((k.cvlan_tpid, k.cvlan_tci), (0, 0));
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!((l.vlan_tags, l.l3), (1, 18));
        assert_eq!(l.network, Some(Network::Ipv4));
        assert_eq!(k.tp_dst, 2);
    }

    #[test]
    fn present_bit_is_set_even_for_tci_zero() {
        let f = cat(&[&eth(0x8100), &tci_type(0, 0x86dd)]);
        let (k, _) = run(&f);
        assert_eq!(k.vlan_tci, VLAN_TAG_PRESENT);
        assert!(k.has_vlan());
    }

    #[test]
    fn qinq_outer_8021ad_inner_8021q() {
        let f = cat(&[
            &eth(0x88a8),
            &tci_type(0xa00a, 0x8100),
            &tci_type(0x0014, 0x0800),
            &ipv4(6, 0),
            &tcp(80, 81, 0x012),
        ]);
        let (k, l) = run(&f);
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0x88a8, 0xb00a));
        assert_eq!((k.cvlan_tpid, k.cvlan_tci), (0x8100, 0x1014));
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!((l.vlan_tags, l.l3), (2, 22));
        assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (80, 81, 0x012));
    }

    #[test]
    fn third_tag_becomes_the_ethertype() {
        let f = cat(&[
            &eth(0x8100),
            &tci_type(1, 0x8100),
            &tci_type(2, 0x8100),
            &tci_type(3, 0x0800),
        ]);
        let (k, l) = run(&f);
        assert_eq!(k.vlan_tci, 0x1001);
        assert_eq!(k.cvlan_tci, 0x1002);
        assert_eq!(k.eth_type, 0x8100);
        assert_eq!((l.vlan_tags, l.l3, l.network), (2, 22, None));
    }

    #[test]
    fn tag_without_following_type_is_not_taken() {
        // TPID and TCI present but not the type after them.
        let f = cat(&[&eth(0x8100), &[0x00, 0x05]]);
        let (k, l) = run(&f);
        assert_eq!((k.vlan_tci, k.vlan_tpid), (0, 0));
        assert_eq!(k.eth_type, 0x8100);
        assert_eq!((l.vlan_tags, l.l3), (0, 14));
        // Same for the inner tag.
        let f = cat(&[&eth(0x88a8), &tci_type(7, 0x8100), &[0x00, 0x05, 0x08]]);
        let (k, l) = run(&f);
        assert_eq!(k.vlan_tci, 0x1007);
        assert_eq!(k.cvlan_tci, 0);
        assert_eq!(k.eth_type, 0x8100);
        assert_eq!((l.vlan_tags, l.l3), (1, 18));
    }

    #[test]
    fn out_of_band_tag_is_the_outer_one() {
        let f = cat(&[&eth(0x0800), &ipv4(17, 0), &udp(1, 2)]);
        let mut k = FlowKey::default();
        let l = extract(&f, Some(0x6005), &mut k).unwrap();
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0x8100, 0x7005));
        assert_eq!((k.cvlan_tpid, k.cvlan_tci), (0, 0));
        assert_eq!((l.vlan_tags, l.l3), (0, 14));
        assert_eq!(k.ipv4_src, 0x0a00_0001);
    }

    #[test]
    fn out_of_band_tag_makes_an_in_band_tag_the_inner_one() {
        let f = cat(&[&eth(0x8100), &tci_type(0x0123, 0x86dd), &ipv6(59)]);
        let mut k = FlowKey::default();
        let l = extract(&f, Some(0x0fff), &mut k).unwrap();
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0x8100, 0x1fff));
        assert_eq!((k.cvlan_tpid, k.cvlan_tci), (0x8100, 0x1123));
        assert_eq!(k.eth_type, 0x86dd);
        assert_eq!((l.vlan_tags, l.l3), (1, 18));
        assert_eq!(l.network, Some(Network::Ipv6));
        // A second in-band tag is then left as the ethertype.
        let f = cat(&[&eth(0x8100), &tci_type(1, 0x88a8), &tci_type(2, 0x0800)]);
        let l = extract(&f, Some(9), &mut k).unwrap();
        assert_eq!(
            (k.vlan_tci, k.cvlan_tci, k.eth_type),
            (0x1009, 0x1001, 0x88a8)
        );
        assert_eq!(l.vlan_tags, 1);
    }

    #[test]
    fn llc_without_snap_is_8022() {
        let f = cat(&[&eth(0x0026), &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0, 0]]);
        let (k, l) = run(&f);
        assert_eq!(k.eth_type, 0x0004);
        assert_eq!((l.l3, l.network), (14, None));
    }

    #[test]
    fn llc_too_short_for_snap_is_8022() {
        let f = cat(&[&eth(0x0007), &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08]]);
        let (k, l) = run(&f);
        assert_eq!(k.eth_type, 0x0004);
        assert_eq!(l.l3, 14);
        let (k, _) = run(&eth(0x05ff));
        assert_eq!(k.eth_type, 0x0004);
    }

    #[test]
    fn snap_carries_the_ethertype() {
        let f = cat(&[
            &eth(0x0030),
            &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00],
            &ipv4(17, 0),
            &udp(7, 9),
        ]);
        let (k, l) = run(&f);
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!(l.l3, 22);
        assert_eq!(l.network, Some(Network::Ipv4));
        assert_eq!((k.tp_src, k.tp_dst), (7, 9));
    }

    #[test]
    fn snap_control_byte_is_ignored_but_oui_must_be_zero() {
        let f = cat(&[&eth(0x0030), &[0xaa, 0xaa, 0x77, 0, 0, 0, 0x86, 0xdd]]);
        assert_eq!(run(&f).0.eth_type, 0x86dd);
        let f = cat(&[&eth(0x0030), &[0xaa, 0xaa, 0x03, 0, 0, 1, 0x08, 0x00]]);
        let (k, l) = run(&f);
        assert_eq!((k.eth_type, l.l3), (0x0004, 14));
        let f = cat(&[&eth(0x0030), &[0xaa, 0xab, 0x03, 0, 0, 0, 0x08, 0x00]]);
        assert_eq!(run(&f).0.eth_type, 0x0004);
        let f = cat(&[&eth(0x0030), &[0xab, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]]);
        assert_eq!(run(&f).0.eth_type, 0x0004);
    }

    #[test]
    fn snap_with_a_length_type_is_8022_past_the_snap_header() {
        let f = cat(&[&eth(0x0030), &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x05, 0xff]]);
        let (k, l) = run(&f);
        assert_eq!((k.eth_type, l.l3), (0x0004, 22));
    }

    #[test]
    fn snap_behind_a_vlan_tag() {
        let f = cat(&[
            &eth(0x8100),
            &tci_type(5, 0x0030),
            &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06],
        ]);
        let (k, l) = run(&f);
        assert_eq!((k.vlan_tci, k.eth_type, l.l3), (0x1005, 0x0806, 26));
    }
}
