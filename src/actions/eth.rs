//! `push_eth` and `pop_eth` (Linux `skb_eth_push` / `skb_eth_pop`): a
//! packet loses its L2 header (tags and 802.2 header included) and becomes
//! one without an Ethernet header, whose type the key keeps; or gains an
//! Ethernet header of that type. Nothing else changes.

use super::headers::{ETH_HLEN, l2, put};
use super::{Fault, rekey};
use crate::flow::FlowKey;
use crate::flow::key::{MAC_PROTO_ETHERNET, MAC_PROTO_NONE};
use crate::packet::Packet;

pub(super) fn pop<P: Packet>(pkt: &mut P, key: &mut FlowKey) -> Result<(), Fault> {
    if key.mac_proto != MAC_PROTO_ETHERNET || pkt.oob_vlan().is_some() {
        return Err(Fault::BadHeader);
    }
    let l2 = l2(pkt.data(), None).ok_or(Fault::BadHeader)?;
    if l2.outer.is_some() || !pkt.pull_front(l2.l3) {
        return Err(Fault::BadHeader);
    }
    key.mac_proto = MAC_PROTO_NONE;
    key.eth_type = l2.eth_type;
    rekey(pkt, key)
}

/// `addresses` as `struct ovs_key_ethernet` has them: source, destination.
pub(super) fn push<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    addresses: [u8; 12],
) -> Result<(), Fault> {
    if key.mac_proto != MAC_PROTO_NONE || pkt.oob_vlan().is_some() {
        return Err(Fault::BadHeader);
    }
    let frame = pkt.push_front(ETH_HLEN).ok_or(Fault::NoMemory)?;
    let [s0, s1, s2, s3, s4, s5, d0, d1, d2, d3, d4, d5] = addresses;
    let [t0, t1] = key.eth_type.to_be_bytes();
    let header = [d0, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5, t0, t1];
    put(frame, 0, header).ok_or(Fault::BadHeader)?;
    key.mac_proto = MAC_PROTO_ETHERNET;
    rekey(pkt, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{eth, ipv4, key_of, packet, udp};

    const SRC: [u8; 6] = [2, 0, 0, 0, 0, 0x0b];
    const DST: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];

    #[test]
    fn pop_then_push_gives_a_new_ethernet_header() {
        let f = ipv4(eth(&[], 0x0800), 17, &udp(1, 2));
        let mut p = packet(&f);
        let mut k = key_of(&f);
        pop(&mut p, &mut k).unwrap();
        assert_eq!(p.data(), &f[14..]);
        assert_eq!(
            (k.mac_proto, k.eth_type, k.eth_src),
            (MAC_PROTO_NONE, 0x0800, [0; 6])
        );
        assert_eq!((k.ipv4_src, k.tp_dst), (key_of(&f).ipv4_src, 2));
        assert_eq!(pop(&mut p, &mut k), Err(Fault::BadHeader), "no header left");
        let addresses: [u8; 12] = [SRC, DST].concat().try_into().unwrap();
        push(&mut p, &mut k, addresses).unwrap();
        assert_eq!(
            &p.data()[..14],
            &[&DST[..], &SRC[..], &[0x08, 0]].concat()[..]
        );
        assert_eq!(&p.data()[14..], &f[14..]);
        assert_eq!(
            (k.mac_proto, k.eth_dst, k.eth_src),
            (MAC_PROTO_ETHERNET, DST, SRC)
        );
        assert_eq!(push(&mut p, &mut k, addresses), Err(Fault::BadHeader));
    }

    #[test]
    fn a_tagged_frame_keeps_its_header() {
        let f = ipv4(eth(&[(0x8100, 5)], 0x0800), 17, &udp(1, 2));
        let mut p = packet(&f);
        let mut k = key_of(&f);
        assert_eq!(pop(&mut p, &mut k), Err(Fault::BadHeader));
        assert_eq!(p.data(), &f[..]);
    }
}
