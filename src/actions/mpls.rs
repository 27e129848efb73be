//! `push_mpls`, `add_mpls`, `pop_mpls` and `set` of the top label stack
//! entry (Linux `skb_mpls_push` / `skb_mpls_pop` / `set_mpls`). A label
//! goes after the L2 header (tags included, as Linux's `mac_len`) or, on a
//! packet without an Ethernet header or for `add_mpls` without its L3-tunnel
//! flag, in front; the L2 type field follows. Nothing else in the packet
//! changes, checksums included. The key is then read again from the packet.

use super::headers::{ETH_HLEN, l2, put};
use super::set::masked;
use super::{Fault, rekey};
use crate::flow::FlowKey;
use crate::flow::key::{MAC_PROTO_ETHERNET, MAC_PROTO_NONE};
use crate::packet::Packet;

/// A label stack entry.
const MPLS_HLEN: usize = 4;
const ETH_P_MPLS_UC: u16 = 0x8847;
const ETH_P_MPLS_MC: u16 = 0x8848;
/// Transparent Ethernet bridging: an Ethernet frame follows the label.
const ETH_P_TEB: u16 = 0x6558;

fn is_mpls(ty: u16) -> bool {
    ty == ETH_P_MPLS_UC || ty == ETH_P_MPLS_MC
}

/// Where the network header starts: past the L2 header of an Ethernet
/// packet, at 0 for one without.
pub(super) fn mac_len<P: Packet>(pkt: &P, key: &FlowKey) -> Result<usize, Fault> {
    if key.mac_proto != MAC_PROTO_ETHERNET {
        return Ok(0);
    }
    l2(pkt.data(), pkt.oob_vlan())
        .map(|l2| l2.l3)
        .ok_or(Fault::BadHeader)
}

/// Pushes `lse` (as it goes on the wire) with Ethertype `ethertype`: after
/// the L2 header if `after_l2`, else in front (the packet then has no
/// Ethernet header).
pub(super) fn push<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    lse: [u8; 4],
    ethertype: u16,
    after_l2: bool,
) -> Result<(), Fault> {
    if !is_mpls(ethertype) {
        return Err(Fault::Malformed);
    }
    let at = if after_l2 { mac_len(pkt, key)? } else { 0 };
    let frame = pkt.push_front(MPLS_HLEN).ok_or(Fault::NoMemory)?;
    if frame.len() < at + MPLS_HLEN {
        return Err(Fault::BadHeader);
    }
    frame.copy_within(MPLS_HLEN..MPLS_HLEN + at, 0);
    put(frame, at, lse).ok_or(Fault::BadHeader)?;
    if at >= ETH_HLEN {
        put(frame, 12, ethertype.to_be_bytes()).ok_or(Fault::BadHeader)?;
    }
    if at == 0 {
        key.mac_proto = MAC_PROTO_NONE;
    }
    key.eth_type = ethertype;
    rekey(pkt, key)
}

/// Pops the top label; `next` is the Ethertype of what follows it. A packet
/// that is not MPLS is left alone (Linux).
pub(super) fn pop<P: Packet>(pkt: &mut P, key: &mut FlowKey, next: u16) -> Result<(), Fault> {
    if !is_mpls(key.eth_type) {
        return Ok(());
    }
    let at = mac_len(pkt, key)?;
    if pkt.len() < at + MPLS_HLEN {
        return Err(Fault::BadHeader);
    }
    let frame = pkt.data_mut().ok_or(Fault::NoMemory)?;
    frame.copy_within(0..at, MPLS_HLEN);
    // The type field right before the label (past any tags).
    if at >= ETH_HLEN {
        put(frame, at + MPLS_HLEN - 2, next.to_be_bytes()).ok_or(Fault::BadHeader)?;
    }
    if !pkt.pull_front(MPLS_HLEN) {
        return Err(Fault::BadHeader);
    }
    if next == ETH_P_TEB {
        key.mac_proto = MAC_PROTO_ETHERNET;
    }
    key.eth_type = next;
    rekey(pkt, key)
}

/// Rewrites the bits of the top label stack entry that `mask` selects.
pub(super) fn set<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    value: [u8; 4],
    mask: [u8; 4],
) -> Result<(), Fault> {
    if !is_mpls(key.eth_type) {
        return Err(Fault::BadHeader);
    }
    let at = mac_len(pkt, key)?;
    let frame = pkt.data_mut().ok_or(Fault::NoMemory)?;
    let old = frame
        .get(at..at + MPLS_HLEN)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .ok_or(Fault::BadHeader)?;
    let lse = masked(old, value, mask);
    put(frame, at, lse).ok_or(Fault::BadHeader)?;
    key.mpls_lse[0] = u32::from_be_bytes(lse);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{eth, ipv4, key_of, packet, udp};
    use crate::flow::extract::extract_l3;
    use crate::packet::OwnedPacket;
    use std::vec::Vec;

    const LSE: [u8; 4] = [0x00, 0x01, 0x41, 0x40]; // label 20, S, TTL 64

    fn frame() -> Vec<u8> {
        ipv4(eth(&[], 0x0800), 17, &udp(1, 2))
    }

    fn pushed(f: &[u8]) -> (OwnedPacket, FlowKey) {
        let mut p = packet(f);
        let mut k = key_of(f);
        push(&mut p, &mut k, LSE, ETH_P_MPLS_UC, true).unwrap();
        (p, k)
    }

    #[test]
    fn push_after_l2_then_pop_restores_the_frame() {
        let f = frame();
        let (mut p, mut k) = pushed(&f);
        let d = p.data();
        assert_eq!(&d[..12], &f[..12]);
        assert_eq!(&d[12..18], &[0x88, 0x47, 0x00, 0x01, 0x41, 0x40]);
        assert_eq!(&d[18..], &f[14..], "the IP packet is untouched");
        assert_eq!(
            (k.eth_type, k.mpls_lse[0], k.mpls_labels),
            (0x8847, 0x0001_4140, 1)
        );
        assert_eq!(k.ipv4_src, 0, "an MPLS key has no L3 fields");
        pop(&mut p, &mut k, 0x0800).unwrap();
        assert_eq!(p.data(), &f[..]);
        assert_eq!(k, key_of(&f));
    }

    #[test]
    fn set_rewrites_the_masked_bits_of_the_top_entry() {
        let (mut p, mut k) = pushed(&frame());
        push(&mut p, &mut k, [0, 0x02, 0x00, 0x10], ETH_P_MPLS_UC, true).unwrap();
        assert_eq!(k.mpls_labels, 0b11);
        set(&mut p, &mut k, [0, 0, 0, 0x07], [0, 0, 0, 0xff]).unwrap();
        assert_eq!(
            &p.data()[14..22],
            &[0, 0x02, 0x00, 0x07, 0x00, 0x01, 0x41, 0x40]
        );
        assert_eq!(k.mpls_lse[0], 0x0002_0007);
    }

    #[test]
    fn add_in_front_leaves_a_packet_without_ethernet_header() {
        let f = frame();
        let mut p = packet(&f);
        let mut k = key_of(&f);
        push(&mut p, &mut k, LSE, ETH_P_MPLS_UC, false).unwrap();
        assert_eq!(&p.data()[..4], &LSE);
        assert_eq!(&p.data()[4..], &f[..]);
        assert_eq!(
            (k.mac_proto, k.eth_type, k.mpls_lse[0]),
            (MAC_PROTO_NONE, 0x8847, 0x0001_4140)
        );
        // Popped with TEB, the Ethernet frame is back.
        pop(&mut p, &mut k, ETH_P_TEB).unwrap();
        assert_eq!(p.data(), &f[..]);
        assert_eq!(k, key_of(&f));
    }

    #[test]
    fn an_l3_packet_takes_labels_in_front() {
        let ip = frame()[14..].to_vec();
        let mut p = packet(&ip);
        let mut k = FlowKey::default();
        extract_l3(&ip, 0x0800, &mut k).unwrap();
        push(&mut p, &mut k, LSE, ETH_P_MPLS_MC, true).unwrap();
        assert_eq!(&p.data()[4..], &ip[..]);
        assert_eq!((k.mac_proto, k.eth_type), (MAC_PROTO_NONE, 0x8848));
        pop(&mut p, &mut k, 0x0800).unwrap();
        assert_eq!(p.data(), &ip[..]);
        assert_eq!((k.eth_type, k.ip_proto), (0x0800, 17));
    }

    #[test]
    fn pop_of_what_is_not_mpls_does_nothing_and_short_stacks_drop() {
        let f = frame();
        let mut p = packet(&f);
        let mut k = key_of(&f);
        pop(&mut p, &mut k, 0x0800).unwrap();
        assert_eq!(p.data(), &f[..]);
        let cut = [&f[..12], &[0x88, 0x47, 0, 1]].concat();
        let mut p = packet(&cut);
        let mut k = key_of(&cut);
        assert_eq!(pop(&mut p, &mut k, 0x0800), Err(Fault::BadHeader));
        assert_eq!(
            set(&mut p, &mut k, [0; 4], [0xff; 4]),
            Err(Fault::BadHeader)
        );
    }
}
