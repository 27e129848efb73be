//! VLAN tags in a key or mask: `parse_vlan_from_nlattrs`. An 802.1Q/802.1ad
//! Ethertype with a VLAN attribute opens an ENCAP nest holding the rest of
//! the key; a second tag inside it (QinQ) opens a second nest.

use super::attrset::AttrSet;
use super::proto::is_vlan;
use super::side::Side;
use super::wire;
use crate::flow::FlowKey;
use crate::flow::key::VLAN_TAG_PRESENT;
use crate::netlink::Errno;
use crate::ovs::key as k;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tag {
    Outer,
    Inner,
}

/// Unwraps up to two tags into `target`, gathering each ENCAP into `attrs`.
pub(super) fn parse(
    target: &mut FlowKey,
    attrs: &mut AttrSet<'_>,
    side: Side<'_>,
) -> Result<(), Errno> {
    tag(target, attrs, side, Tag::Outer)?;
    let key_tci = match side {
        Side::Key => target.vlan_tci,
        Side::Mask { key, .. } => key.vlan_tci,
    };
    if key_tci & VLAN_TAG_PRESENT != 0 {
        tag(target, attrs, side, Tag::Inner)?;
    }
    Ok(())
}

fn tag(
    target: &mut FlowKey,
    attrs: &mut AttrSet<'_>,
    side: Side<'_>,
    which: Tag,
) -> Result<(), Errno> {
    let value = |ty: u16| -> Result<u16, Errno> {
        match attrs.get(ty) {
            Some(p) => wire::net_u16(side.leaf(p)?),
            None => Ok(0),
        }
    };
    let tci = value(k::VLAN)?;
    let tpid = value(k::ETHERTYPE)?;
    match side {
        Side::Key => {
            if !(attrs.has(k::ETHERNET) && attrs.has(k::ETHERTYPE) && is_vlan(tpid)) {
                return Ok(());
            }
            if !(attrs.has(k::VLAN) && attrs.has(k::ENCAP)) {
                return Err(Errno::Inval);
            }
            // A tag without the present bit is a truncated header: TCI 0 and nothing inside.
            if tci & VLAN_TAG_PRESENT == 0
                && (tci != 0 || attrs.get(k::ENCAP).is_some_and(|e| !e.is_empty()))
            {
                return Err(Errno::Inval);
            }
        }
        Side::Mask { key, .. } => {
            if !attrs.has(k::ENCAP) {
                return Ok(());
            }
            let key_tci = if which == Tag::Outer {
                key.vlan_tci
            } else {
                key.cvlan_tci
            };
            if key_tci & VLAN_TAG_PRESENT == 0 || tpid != 0xffff || tci & VLAN_TAG_PRESENT == 0 {
                return Err(Errno::Inval);
            }
        }
    }
    if which == Tag::Outer {
        (target.vlan_tci, target.vlan_tpid) = (tci, tpid);
    } else {
        (target.cvlan_tci, target.cvlan_tpid) = (tci, tpid);
    }
    let encap = attrs.take(k::ENCAP).unwrap_or_default();
    attrs.take(k::VLAN);
    attrs.take(k::ETHERTYPE);
    attrs.gather(encap, side.pass())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Match, parse_match};
    use crate::netlink::Errno;
    use crate::ovs::key as k;
    use std::vec::Vec;

    fn tagged(tpid: u16, tci: u16, inner: &[Vec<u8>]) -> Vec<u8> {
        [
            be16a(k::ETHERTYPE, tpid),
            be16a(k::VLAN, tci),
            nest(k::ENCAP, inner),
        ]
        .concat()
    }

    fn ip_inside() -> Vec<Vec<u8>> {
        std::vec![be16a(k::ETHERTYPE, 0x0800), ipv4(17, 0), l4(k::UDP, 1, 2)]
    }

    fn exact(rest: &[u8]) -> Result<Match, Errno> {
        parse_match(&[u32a(k::IN_PORT, 1), eth(), rest.to_vec()].concat(), None)
    }

    #[test]
    fn single_tag() {
        let m = exact(&tagged(0x8100, 0x1000 | 99, &ip_inside())).unwrap();
        assert_eq!(
            (m.key.vlan_tpid, m.key.vlan_tci, m.key.eth_type),
            (0x8100, 0x1063, 0x0800)
        );
        assert_eq!((m.key.cvlan_tci, m.key.ip_proto), (0, 17));
        assert_eq!(
            (m.mask.vlan_tpid, m.mask.vlan_tci, m.mask.cvlan_tci),
            (0xffff, 0xffff, 0xffff)
        );
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn qinq() {
        let inner = tagged(0x8100, 0x1000 | 10, &ip_inside());
        let m = exact(&tagged(0x88a8, 0x1000 | 100, &[inner])).unwrap();
        assert_eq!((m.key.vlan_tpid, m.key.vlan_tci), (0x88a8, 0x1064));
        assert_eq!(
            (m.key.cvlan_tpid, m.key.cvlan_tci, m.key.eth_type),
            (0x8100, 0x100a, 0x0800)
        );
        assert_eq!((m.mask.cvlan_tpid, m.mask.cvlan_tci), (0xffff, 0xffff));
        assert_eq!(round_trip(&m), m);
        // A third tag stays the Ethertype; nothing beyond it may be given.
        let third = tagged(0x8100, 0x1000 | 10, &[be16a(k::ETHERTYPE, 0x8100)]);
        let m = exact(&tagged(0x88a8, 0x1000 | 100, &[third])).unwrap();
        assert_eq!(m.key.eth_type, 0x8100);
        assert_eq!(round_trip(&m), m);
        let third = tagged(0x8100, 0x1000 | 10, &[tagged(0x8100, 0x1001, &[])]);
        assert_eq!(
            exact(&tagged(0x88a8, 0x1000 | 100, &[third])),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn tag_rules() {
        // A VLAN Ethertype needs VLAN and ENCAP.
        assert_eq!(exact(&be16a(k::ETHERTYPE, 0x8100)), Err(Errno::Inval));
        assert_eq!(
            exact(&[be16a(k::ETHERTYPE, 0x8100), be16a(k::VLAN, 0x1001)].concat()),
            Err(Errno::Inval)
        );
        // The present bit, or a truncated tag: TCI 0 and an empty ENCAP.
        assert_eq!(exact(&tagged(0x8100, 5, &[])), Err(Errno::Inval));
        assert_eq!(exact(&tagged(0x8100, 0, &ip_inside())), Err(Errno::Inval));
        // VLAN or ENCAP without a VLAN Ethertype.
        assert_eq!(
            exact(&[be16a(k::ETHERTYPE, 0x0800), be16a(k::VLAN, 0x1001)].concat()),
            Err(Errno::Inval)
        );
        assert_eq!(
            exact(&[be16a(k::ETHERTYPE, 0x0806), nest(k::ENCAP, &[])].concat()),
            Err(Errno::Inval)
        );
        // Without ETHERNET there is no tag parsing at all.
        let no_eth = [
            be16a(k::ETHERTYPE, 0x8100),
            be16a(k::VLAN, 0x1001),
            nest(k::ENCAP, &[]),
        ]
        .concat();
        assert_eq!(parse_match(&no_eth, None), Err(Errno::Inval));
    }

    #[test]
    fn truncated_tag() {
        let key = [u32a(k::IN_PORT, 1), eth(), tagged(0x8100, 0, &[])].concat();
        // Linux's exact mask fails here (the empty ENCAP mask is dropped, VLAN is left over).
        assert_eq!(parse_match(&key, None), Err(Errno::Inval));
        let m = parse_match(
            &key,
            Some(&[u32a(k::IN_PORT, 1), be16a(k::ETHERTYPE, 0xffff)].concat()),
        )
        .unwrap();
        assert_eq!(
            (m.key.vlan_tpid, m.key.vlan_tci, m.key.eth_type),
            (0x8100, 0, 0x0004)
        );
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn mask_rules() {
        let key = [
            u32a(k::IN_PORT, 1),
            eth(),
            tagged(0x8100, 0x1063, &ip_inside()),
        ]
        .concat();
        let mask = |tpid: u16, tci: u16| {
            [
                u32a(k::IN_PORT, 1),
                tagged(tpid, tci, &[be16a(k::ETHERTYPE, 0xffff)]),
            ]
            .concat()
        };
        let m = parse_match(&key, Some(&mask(0xffff, 0x1fff))).unwrap();
        assert_eq!(
            (m.mask.vlan_tci, m.mask.vlan_tpid, m.mask.eth_type),
            (0x1fff, 0xffff, 0xffff)
        );
        assert_eq!(
            parse_match(&key, Some(&mask(0xff00, 0x1fff))),
            Err(Errno::Inval)
        );
        assert_eq!(
            parse_match(&key, Some(&mask(0xffff, 0x0fff))),
            Err(Errno::Inval)
        );
        // ENCAP in the mask of an untagged key.
        let untagged = [
            u32a(k::IN_PORT, 1),
            eth(),
            be16a(k::ETHERTYPE, 0x0800),
            ipv4(17, 0),
            l4(k::UDP, 1, 2),
        ]
        .concat();
        assert_eq!(
            parse_match(&untagged, Some(&mask(0xffff, 0x1fff))),
            Err(Errno::Inval)
        );
        // Without the tag in the mask the TCI is still matched exactly.
        let m = parse_match(&key, Some(&u32a(k::IN_PORT, 1))).unwrap();
        assert_eq!((m.mask.vlan_tci, m.mask.vlan_tpid), (0xffff, 0));
    }
}
