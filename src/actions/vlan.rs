//! `push_vlan` and `pop_vlan`, in band and in the NDIS out-of-band slot
//! (the rule is in the module documentation of `actions`).

use super::Fault;
use super::headers::{
    ETH_HLEN, ETH_P_8021Q, Tag, VLAN_ETH_HLEN, first_inband_tag, is_vlan_tpid, l2, put,
};
use crate::flow::FlowKey;
use crate::flow::key::VLAN_TAG_PRESENT;
use crate::packet::Packet;

/// Pushes a tag with `tpid` and `tci` (the present bit, which the action
/// carries, is not part of the tag) as the new outer tag.
pub(super) fn push<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    tpid: u16,
    tci: u16,
) -> Result<(), Fault> {
    if !is_vlan_tpid(tpid) {
        return Err(Fault::Malformed);
    }
    if pkt.len() < ETH_HLEN {
        return Err(Fault::BadHeader);
    }
    let tci = tci & !VLAN_TAG_PRESENT;
    match pkt.oob_vlan() {
        None if tpid == ETH_P_8021Q && first_inband_tag(pkt.data()).is_none() => {
            pkt.set_oob_vlan(Some(tci));
        }
        None => insert(pkt, Tag { tpid, tci })?,
        Some(outer) => {
            insert(
                pkt,
                Tag {
                    tpid: ETH_P_8021Q,
                    tci: outer,
                },
            )?;
            pkt.set_oob_vlan(None);
            insert(pkt, Tag { tpid, tci })?;
        }
    }
    sync_key(pkt, key);
    Ok(())
}

/// Removes the outer tag, if there is one.
pub(super) fn pop<P: Packet>(pkt: &mut P, key: &mut FlowKey) -> Result<(), Fault> {
    if pkt.oob_vlan().is_some() {
        pkt.set_oob_vlan(None);
    } else if first_inband_tag(pkt.data()).is_some() {
        let frame = pkt.data_mut().ok_or(Fault::NoMemory)?;
        if frame.len() < VLAN_ETH_HLEN {
            return Err(Fault::BadHeader);
        }
        // Slide the MAC addresses over the tag, then drop the first 4 bytes.
        frame.copy_within(0..12, 4);
        if !pkt.pull_front(4) {
            return Err(Fault::BadHeader);
        }
    } else {
        return Ok(());
    }
    sync_key(pkt, key);
    Ok(())
}

/// Inserts `tag` in band right after the MAC addresses.
fn insert<P: Packet>(pkt: &mut P, tag: Tag) -> Result<(), Fault> {
    if pkt.len() < 12 {
        return Err(Fault::BadHeader);
    }
    let frame = pkt.push_front(4).ok_or(Fault::NoMemory)?;
    if frame.len() < 16 {
        return Err(Fault::BadHeader);
    }
    frame.copy_within(4..16, 0);
    let [t0, t1] = tag.tpid.to_be_bytes();
    let [c0, c1] = tag.tci.to_be_bytes();
    put(frame, 12, [t0, t1, c0, c1]).ok_or(Fault::BadHeader)
}

/// Sets the key's tags (and `eth_type`) to what extraction reads from the
/// packet now. If `eth_type` changes (a third tag came or went), the L3 and
/// L4 fields no longer describe the frame and are cleared.
fn sync_key<P: Packet>(pkt: &P, key: &mut FlowKey) {
    let Some(l2) = l2(pkt.data(), pkt.oob_vlan()) else {
        return;
    };
    let tci = |tag: Option<Tag>| tag.map_or(0, |t| t.tci | VLAN_TAG_PRESENT);
    let tpid = |tag: Option<Tag>| tag.map_or(0, |t| t.tpid);
    key.vlan_tci = tci(l2.outer);
    key.vlan_tpid = tpid(l2.outer);
    key.cvlan_tci = tci(l2.inner);
    key.cvlan_tpid = tpid(l2.inner);
    if key.eth_type != l2.eth_type {
        key.eth_type = l2.eth_type;
        key.clear_network();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::OwnedPacket;
    use std::vec::Vec;

    const DST: [u8; 6] = [0, 0x15, 0x5d, 0, 0, 2];
    const SRC: [u8; 6] = [0, 0x15, 0x5d, 0, 0, 1];

    fn frame(tags: &[(u16, u16)], ty: u16) -> Vec<u8> {
        let mut f = [DST, SRC].concat();
        for &(tpid, tci) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        f
    }

    fn ipv4_key(f: &[u8], oob: Option<u16>) -> FlowKey {
        let mut k = FlowKey {
            eth_type: 0x0800,
            ip_proto: 17,
            ip_ttl: 64,
            ipv4_src: 0x0102_0304,
            ..FlowKey::default()
        };
        sync_key(&pkt(f, oob), &mut k);
        k
    }

    fn pkt(f: &[u8], oob: Option<u16>) -> OwnedPacket {
        let mut p = OwnedPacket::from_frame(f).unwrap();
        p.set_oob_vlan(oob);
        p
    }

    #[test]
    fn push_onto_untagged_802_1q_uses_the_oob_slot() {
        let f = frame(&[], 0x0800);
        let mut p = pkt(&f, None);
        let mut k = ipv4_key(&f, None);
        push(&mut p, &mut k, 0x8100, 0x1000 | 0x2064).unwrap();
        assert_eq!(p.data(), &f[..]);
        assert_eq!(p.oob_vlan(), Some(0x2064));
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0x8100, 0x3064));
        assert_eq!((k.cvlan_tpid, k.cvlan_tci), (0, 0));
        assert_eq!((k.eth_type, k.ip_proto), (0x0800, 17));
    }

    #[test]
    fn push_802_1ad_is_in_band() {
        let f = frame(&[], 0x0800);
        let mut p = pkt(&f, None);
        let mut k = ipv4_key(&f, None);
        push(&mut p, &mut k, 0x88a8, 0x1005).unwrap();
        assert_eq!(p.data(), &frame(&[(0x88a8, 5)], 0x0800)[..]);
        assert_eq!(p.oob_vlan(), None);
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0x88a8, 0x1005));
        assert_eq!(k.ipv4_src, 0x0102_0304);
    }

    #[test]
    fn push_onto_in_band_tag_goes_in_front() {
        let f = frame(&[(0x8100, 7)], 0x0800);
        let mut p = pkt(&f, None);
        let mut k = ipv4_key(&f, None);
        push(&mut p, &mut k, 0x8100, 0x1009).unwrap();
        assert_eq!(p.data(), &frame(&[(0x8100, 9), (0x8100, 7)], 0x0800)[..]);
        assert_eq!(p.oob_vlan(), None);
        assert_eq!((k.vlan_tci, k.cvlan_tci), (0x1009, 0x1007));
        assert_eq!((k.cvlan_tpid, k.eth_type, k.ip_proto), (0x8100, 0x0800, 17));
    }

    #[test]
    fn push_onto_oob_tag_moves_it_in_band() {
        let f = frame(&[], 0x0800);
        let mut p = pkt(&f, Some(0x0064));
        let mut k = ipv4_key(&f, Some(0x0064));
        assert_eq!(k.vlan_tci, 0x1064);
        push(&mut p, &mut k, 0x88a8, 0x1003).unwrap();
        assert_eq!(p.data(), &frame(&[(0x88a8, 3), (0x8100, 0x64)], 0x0800)[..]);
        assert_eq!(p.oob_vlan(), None);
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0x88a8, 0x1003));
        assert_eq!((k.cvlan_tpid, k.cvlan_tci), (0x8100, 0x1064));
        assert_eq!(k.ip_proto, 17);
    }

    #[test]
    fn pop_clears_oob_first_then_in_band() {
        let f = frame(&[(0x88a8, 3)], 0x0800);
        let mut p = pkt(&f, Some(0x64));
        let mut k = ipv4_key(&f, Some(0x64));
        assert_eq!((k.vlan_tci, k.cvlan_tci), (0x1064, 0x1003));
        pop(&mut p, &mut k).unwrap();
        assert_eq!((p.oob_vlan(), p.data()), (None, &f[..]));
        assert_eq!((k.vlan_tpid, k.vlan_tci, k.cvlan_tci), (0x88a8, 0x1003, 0));
        pop(&mut p, &mut k).unwrap();
        assert_eq!(p.data(), &frame(&[], 0x0800)[..]);
        assert_eq!((k.vlan_tpid, k.vlan_tci), (0, 0));
        assert_eq!((k.eth_type, k.ip_proto), (0x0800, 17));
        // Nothing left to pop: no change.
        pop(&mut p, &mut k).unwrap();
        assert_eq!(p.data(), &frame(&[], 0x0800)[..]);
    }

    #[test]
    fn a_third_tag_changes_eth_type_and_clears_l3() {
        let f = frame(&[(0x88a8, 1), (0x8100, 2)], 0x0800);
        let mut p = pkt(&f, None);
        let mut k = ipv4_key(&f, None);
        assert_eq!(k.eth_type, 0x0800);
        push(&mut p, &mut k, 0x88a8, 0x1005).unwrap();
        assert_eq!(
            (k.vlan_tci, k.cvlan_tci, k.eth_type),
            (0x1005, 0x1001, 0x8100)
        );
        assert_eq!((k.ip_proto, k.ipv4_src), (0, 0));
    }

    #[test]
    fn bad_tpid_and_runts() {
        let f = frame(&[], 0x0800);
        let mut p = pkt(&f, None);
        let mut k = FlowKey::default();
        assert_eq!(push(&mut p, &mut k, 0x0800, 0x1001), Err(Fault::Malformed));
        let mut runt = pkt(&f[..10], None);
        assert_eq!(
            push(&mut runt, &mut k, 0x8100, 0x1001),
            Err(Fault::BadHeader)
        );
        assert_eq!(pop(&mut runt, &mut k), Ok(()));
        assert_eq!(runt.data(), &f[..10]);
    }
}
