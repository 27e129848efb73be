//! Netlink key and mask streams -> `FlowKey`s: `ovs_nla_get_match` and
//! `ovs_nla_get_flow_metadata`.

use super::attrset::{AttrSet, Fill, Pass};
use super::proto::*;
use super::side::Side;
use super::wire::{self, Arp, CtTuple4, CtTuple6, Ethernet, Icmp, Ipv4, Ipv6, Nd, Ports};
use super::{nsh, tunnel, validate, vlan};
use crate::flow::FlowKey;
use crate::flow::key::{MAC_PROTO_ETHERNET, MAC_PROTO_NONE};
use crate::netlink::Errno;
use crate::ovs::key as k;

/// Port numbers are below this (`DP_MAX_PORTS`); OUTPUT to it or beyond is invalid.
pub const DP_MAX_PORTS: u32 = 0xffff;

/// `FlowKey::in_port` of a key without IN_PORT (Linux stores `DP_MAX_PORTS`):
/// no port has this number, so such a flow matches packets only if its mask
/// leaves `in_port` wildcarded, which it does unless the mask names IN_PORT.
pub const IN_PORT_ANY: u32 = DP_MAX_PORTS;

/// Every `ct_state` bit (`OVS_CS_F_*`) a key or mask may carry.
const CT_STATE_SUPPORTED: u32 = 0xff;

/// A flow key and the mask of the bits that matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub key: FlowKey,
    pub mask: FlowKey,
}

/// `ovs_nla_get_match`: the key and optional mask attribute streams (the
/// payloads of `OVS_FLOW_ATTR_KEY` / `OVS_FLOW_ATTR_MASK`). Without a mask the
/// flow is exact: every field the key names is matched exactly (an all-ones
/// copy of the key stream is parsed as the mask), and the VLAN TCIs always.
/// All errors are EINVAL, as in Linux.
pub fn parse_match(key: &[u8], mask: Option<&[u8]>) -> Result<Match, Errno> {
    let mut m = Match {
        key: FlowKey::default(),
        mask: FlowKey::default(),
    };

    let mut key_attrs = AttrSet::new();
    key_attrs.gather(key, Pass::Key)?;
    vlan::parse(&mut m.key, &mut key_attrs, Side::Key)?;
    fields(&mut m.key, key_attrs, Side::Key)?;

    let (stream, fill) = match mask {
        Some(mask) => (mask, Fill::Value),
        None => (key, Fill::Ones),
    };
    if fill == Fill::Ones && m.key.has_tunnel() {
        m.mask.tun = tunnel::exact_mask(&m.key);
    }
    // VLAN TCIs are always matched: an untagged flow matches untagged frames only.
    m.mask.vlan_tci = 0xffff;
    m.mask.cvlan_tci = 0xffff;
    let side = Side::Mask { key: &m.key, fill };
    let mut mask_attrs = AttrSet::new();
    mask_attrs.gather(stream, side.pass())?;
    vlan::parse(&mut m.mask, &mut mask_attrs, side)?;
    fields(&mut m.mask, mask_attrs, side)?;

    validate::match_validate(&m.key, &m.mask, key_attrs.bits(), mask_attrs.bits())?;
    Ok(m)
}

/// `ovs_nla_get_flow_metadata`: the parts of a key that cannot be read from
/// the packet (recirc_id, dp_hash, priority, in_port, skb_mark, tunnel,
/// conntrack fields, and the Ethertype of a packet without Ethernet header),
/// for OVS_PACKET_CMD_EXECUTE; the caller extracts the rest from the packet.
/// The whole top level is checked as for a flow key; other attributes are
/// ignored. All errors are EINVAL.
pub fn parse_metadata(key: &[u8]) -> Result<FlowKey, Errno> {
    let mut attrs = AttrSet::new();
    attrs.gather(key, Pass::Key)?;
    let mut out = FlowKey::default();
    metadata(&mut out, &mut attrs, Side::Key)?;
    Ok(out)
}

/// `ovs_key_from_nlattrs`: every gathered attribute into `target`; any left
/// over (unknown at this point, like a stray VLAN or ENCAP) is EINVAL.
fn fields(target: &mut FlowKey, mut attrs: AttrSet<'_>, side: Side<'_>) -> Result<(), Errno> {
    metadata(target, &mut attrs, side)?;

    if let Some(p) = attrs.take(k::ETHERNET) {
        let e = wire::view::<Ethernet>(side.leaf(p)?)?;
        (target.eth_src, target.eth_dst) = (e.src, e.dst);
        // VLAN attributes were consumed by the VLAN pass; one left is misplaced.
        if attrs.has(k::VLAN) {
            return Err(Errno::Inval);
        }
        match attrs.take(k::ETHERTYPE) {
            Some(p) => eth_type(target, p, side)?,
            None if !side.is_mask() => target.eth_type = ETH_P_802_2,
            None => {}
        }
    } else if !side.is_mask() && target.eth_type == 0 {
        // Either an Ethernet header or an Ethertype is required.
        return Err(Errno::Inval);
    }

    if let Some(p) = attrs.take(k::IPV4) {
        let ip = wire::view::<Ipv4>(side.leaf(p)?)?;
        if !side.is_mask() && ip.frag > k::FRAG_LATER {
            return Err(Errno::Inval);
        }
        (target.ip_proto, target.ip_tos, target.ip_ttl) = (ip.proto, ip.tos, ip.ttl);
        target.ip_frag = ip.frag;
        (target.ipv4_src, target.ipv4_dst) = (ip.src.get(), ip.dst.get());
    }
    if let Some(p) = attrs.take(k::IPV6) {
        let ip = wire::view::<Ipv6>(side.leaf(p)?)?;
        if !side.is_mask() && (ip.frag > k::FRAG_LATER || ip.label.get() & 0xfff0_0000 != 0) {
            return Err(Errno::Inval);
        }
        target.ipv6_label = ip.label.get();
        (target.ip_proto, target.ip_tos, target.ip_ttl) = (ip.proto, ip.tclass, ip.hlimit);
        target.ip_frag = ip.frag;
        (target.ipv6_src, target.ipv6_dst) = (ip.src, ip.dst);
    }
    if let Some(p) = attrs.take(k::ARP) {
        let arp = wire::view::<Arp>(side.leaf(p)?)?;
        let op = arp.op.get();
        if !side.is_mask() && op & 0xff00 != 0 {
            return Err(Errno::Inval);
        }
        (target.ipv4_src, target.ipv4_dst) = (arp.sip.get(), arp.tip.get());
        target.ip_proto = op.to_be_bytes()[1];
        (target.arp_sha, target.arp_tha) = (arp.sha, arp.tha);
    }
    if let Some(p) = attrs.take(k::NSH) {
        nsh::parse(p, target, side)?;
    }
    if let Some(p) = attrs.take(k::MPLS) {
        mpls(target, side.leaf(p)?)?;
    }
    if let Some(p) = attrs.take(k::TCP) {
        ports(target, side.leaf(p)?)?;
    }
    if let Some(p) = attrs.take(k::TCP_FLAGS) {
        target.tcp_flags = wire::net_u16(side.leaf(p)?)?;
    }
    for ty in [k::UDP, k::SCTP] {
        if let Some(p) = attrs.take(ty) {
            ports(target, side.leaf(p)?)?;
        }
    }
    for ty in [k::ICMP, k::ICMPV6] {
        if let Some(p) = attrs.take(ty) {
            let icmp = wire::view::<Icmp>(side.leaf(p)?)?;
            (target.tp_src, target.tp_dst) = (icmp.ty.into(), icmp.code.into());
        }
    }
    if let Some(p) = attrs.take(k::ND) {
        let nd = wire::view::<Nd>(side.leaf(p)?)?;
        target.nd_target = nd.target;
        (target.arp_sha, target.arp_tha) = (nd.sll, nd.tll);
    }

    if attrs.bits() != 0 {
        return Err(Errno::Inval);
    }
    Ok(())
}

/// `metadata_from_nlattrs`.
fn metadata(target: &mut FlowKey, attrs: &mut AttrSet<'_>, side: Side<'_>) -> Result<(), Errno> {
    let is_mask = side.is_mask();
    let mut u32_of = |ty: u16| -> Result<Option<u32>, Errno> {
        attrs
            .take(ty)
            .map(|p| wire::host_u32(side.leaf(p)?))
            .transpose()
    };
    if let Some(v) = u32_of(k::DP_HASH)? {
        target.dp_hash = v;
    }
    if let Some(v) = u32_of(k::RECIRC_ID)? {
        target.recirc_id = v;
    }
    if let Some(v) = u32_of(k::PRIORITY)? {
        target.priority = v;
    }
    match u32_of(k::IN_PORT)? {
        // in_port is always matched exactly when named.
        Some(_) if is_mask => target.in_port = u32::MAX,
        Some(port) if port >= DP_MAX_PORTS => return Err(Errno::Inval),
        Some(port) => target.in_port = port,
        None if !is_mask => target.in_port = IN_PORT_ANY,
        None => {}
    }
    if let Some(v) = u32_of(k::SKB_MARK)? {
        target.skb_mark = v;
    }
    if let Some(mut state) = u32_of(k::CT_STATE)? {
        if side.fill() == Fill::Ones {
            state &= CT_STATE_SUPPORTED;
        }
        target.ct_state = u8::try_from(state).map_err(|_| Errno::Inval)?;
    }
    if let Some(v) = u32_of(k::CT_MARK)? {
        target.ct_mark = v;
    }
    if let Some(p) = attrs.take(k::TUNNEL) {
        tunnel::parse(p, target, side)?;
    }
    if let Some(p) = attrs.take(k::CT_ZONE) {
        target.ct_zone = wire::host_u16(side.leaf(p)?)?;
    }
    if let Some(p) = attrs.take(k::CT_LABELS) {
        target.ct_labels = side.leaf(p)?.try_into().map_err(|_| Errno::Inval)?;
    }
    if let Some(p) = attrs.take(k::CT_ORIG_TUPLE_IPV4) {
        let t = wire::view::<CtTuple4>(side.leaf(p)?)?;
        let o = &mut target.ct_orig;
        (o.ipv4_src, o.ipv4_dst) = (t.src.get(), t.dst.get());
        (o.src_port, o.dst_port, o.proto) = (t.src_port.get(), t.dst_port.get(), t.proto);
    }
    if let Some(p) = attrs.take(k::CT_ORIG_TUPLE_IPV6) {
        let t = wire::view::<CtTuple6>(side.leaf(p)?)?;
        let o = &mut target.ct_orig;
        (o.ipv6_src, o.ipv6_dst) = (t.src, t.dst);
        (o.src_port, o.dst_port, o.proto) = (t.src_port.get(), t.dst_port.get(), t.proto);
    }

    // A packet without Ethernet header: the Ethertype is metadata.
    let l3 = !attrs.has(k::ETHERNET) && attrs.has(k::ETHERTYPE);
    target.mac_proto = match (is_mask, l3) {
        (true, _) => u8::MAX,
        (false, true) => MAC_PROTO_NONE,
        (false, false) => MAC_PROTO_ETHERNET,
    };
    if l3 && let Some(p) = attrs.take(k::ETHERTYPE) {
        eth_type(target, p, side)?;
    }
    Ok(())
}

/// `parse_eth_type_from_nlattrs`: a real Ethertype in keys, always exact in masks.
fn eth_type(target: &mut FlowKey, p: &[u8], side: Side<'_>) -> Result<(), Errno> {
    let v = wire::net_u16(side.leaf(p)?)?;
    target.eth_type = match side {
        Side::Mask { .. } => 0xffff,
        Side::Key if v < ETH_P_802_3_MIN => return Err(Errno::Inval),
        Side::Key => v,
    };
    Ok(())
}

/// One to three label stack entries; the label mask (key and mask alike)
/// says how many, as Linux's `num_labels_mask`.
fn mpls(target: &mut FlowKey, v: &[u8]) -> Result<(), Errno> {
    if v.is_empty() || !v.len().is_multiple_of(4) || v.len() > 4 * target.mpls_lse.len() {
        return Err(Errno::Inval);
    }
    for (lse, b) in target.mpls_lse.iter_mut().zip(v.chunks_exact(4)) {
        *lse = u32::from_be_bytes(b.try_into().map_err(|_| Errno::Inval)?);
    }
    target.mpls_labels = (1 << (v.len() / 4)) - 1;
    Ok(())
}

fn ports(target: &mut FlowKey, v: &[u8]) -> Result<(), Errno> {
    let p = wire::view::<Ports>(v)?;
    (target.tp_src, target.tp_dst) = (p.src.get(), p.dst.get());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::vec::Vec;

    fn exact(stream: &[u8]) -> Result<Match, Errno> {
        parse_match(stream, None)
    }

    #[test]
    fn exact_tcp_flow() {
        let m = exact(&tcp4()).unwrap();
        let key = &m.key;
        assert_eq!(
            (key.in_port, key.eth_src, key.eth_dst),
            (1, SRC_MAC, DST_MAC)
        );
        assert_eq!(
            (key.eth_type, key.mac_proto),
            (ETH_P_IP, MAC_PROTO_ETHERNET)
        );
        assert_eq!((key.ipv4_src, key.ipv4_dst), (0x0a00_0001, 0x0a00_0002));
        assert_eq!((key.ip_proto, key.ip_ttl, key.ip_frag), (6, 64, 0));
        assert_eq!((key.tp_src, key.tp_dst, key.tcp_flags), (80, 8080, 2));
        // Exact on what the key names, the TCIs and mac_proto; nothing else.
        let mask = &m.mask;
        assert_eq!(
            (mask.in_port, mask.eth_type, mask.mac_proto),
            (u32::MAX, 0xffff, 0xff)
        );
        assert_eq!(
            (mask.vlan_tci, mask.cvlan_tci, mask.vlan_tpid),
            (0xffff, 0xffff, 0)
        );
        assert_eq!(
            (mask.ipv4_src, mask.ip_proto, mask.tp_dst, mask.tcp_flags),
            (!0, 0xff, !0, !0)
        );
        assert_eq!(
            (mask.recirc_id, mask.skb_mark, mask.ct_state, mask.tun.ttl),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn a_given_mask_is_used_as_given() {
        let mask = [
            u32a(k::IN_PORT, 7),
            be16a(k::ETHERTYPE, 0xffff),
            a(k::IPV4, &[255, 255, 255, 0, 0, 0, 0, 0, 0xff, 0, 0, 0]),
        ]
        .concat();
        let m = parse_match(&tcp4(), Some(&mask)).unwrap();
        assert_eq!(
            (
                m.mask.in_port,
                m.mask.ipv4_src,
                m.mask.ipv4_dst,
                m.mask.ip_proto
            ),
            (!0, 0xffff_ff00, 0, 0xff)
        );
        assert_eq!((m.mask.eth_src, m.mask.tp_src), ([0; 6], 0));
        // An all-zero mask attribute counts as absent.
        let zero_eth = [mask.clone(), a(k::ETHERNET, &[0; 12])].concat();
        assert_eq!(parse_match(&tcp4(), Some(&zero_eth)).unwrap().mask, m.mask);
    }

    #[test]
    fn omitted_ethertype_is_802_2() {
        let m = exact(&[u32a(k::IN_PORT, 1), eth()].concat()).unwrap();
        assert_eq!((m.key.eth_type, m.mask.eth_type), (ETH_P_802_2, 0));
        assert_eq!(
            exact(&[eth(), be16a(k::ETHERTYPE, 0x05ff)].concat()),
            Err(Errno::Inval)
        );
        assert!(exact(&[eth(), be16a(k::ETHERTYPE, 0x0600)].concat()).is_ok());
    }

    #[test]
    fn ethertype_without_ethernet_is_a_layer3_flow() {
        let m =
            exact(&[be16a(k::ETHERTYPE, 0x0800), ipv4(17, 0), l4(k::UDP, 1, 2)].concat()).unwrap();
        assert_eq!(
            (m.key.mac_proto, m.key.eth_type, m.mask.mac_proto),
            (MAC_PROTO_NONE, ETH_P_IP, 0xff)
        );
        // Neither Ethernet header nor Ethertype.
        assert_eq!(exact(&u32a(k::IN_PORT, 1)), Err(Errno::Inval));
        assert_eq!(exact(&[]), Err(Errno::Inval));
    }

    #[test]
    fn in_port() {
        let m = exact(&eth()).unwrap();
        assert_eq!((m.key.in_port, m.mask.in_port), (IN_PORT_ANY, 0));
        let m = exact(&[u32a(k::IN_PORT, DP_MAX_PORTS - 1), eth()].concat()).unwrap();
        assert_eq!(m.key.in_port, DP_MAX_PORTS - 1);
        assert_eq!(
            exact(&[u32a(k::IN_PORT, DP_MAX_PORTS), eth()].concat()),
            Err(Errno::Inval)
        );
        // The mask's value does not matter: any non-zero in_port mask is exact.
        let m = parse_match(
            &[u32a(k::IN_PORT, 3), eth()].concat(),
            Some(&u32a(k::IN_PORT, 1)),
        );
        assert_eq!(m.unwrap().mask.in_port, u32::MAX);
    }

    #[test]
    fn metadata_fields() {
        let stream = [
            u32a(k::RECIRC_ID, 5),
            u32a(k::DP_HASH, 6),
            u32a(k::PRIORITY, 7),
            u32a(k::SKB_MARK, 8),
            u32a(k::CT_STATE, 0x22),
            a(k::CT_ZONE, &9u16.to_ne_bytes()),
            u32a(k::CT_MARK, 10),
            a(k::CT_LABELS, &[0xab; 16]),
            eth(),
        ]
        .concat();
        let m = exact(&stream).unwrap();
        let key = &m.key;
        assert_eq!(
            (key.recirc_id, key.dp_hash, key.priority, key.skb_mark),
            (5, 6, 7, 8)
        );
        assert_eq!(
            (key.ct_state, key.ct_zone, key.ct_mark, key.ct_labels),
            (0x22, 9, 10, [0xab; 16])
        );
        assert_eq!(
            (m.mask.ct_state, m.mask.ct_zone, m.mask.ct_mark),
            (0xff, 0xffff, !0)
        );
        // ct_state has 8 bits, in keys and masks.
        assert_eq!(
            exact(&[u32a(k::CT_STATE, 0x100), eth()].concat()),
            Err(Errno::Inval)
        );
        let key = [u32a(k::CT_STATE, 0x20), eth()].concat();
        assert_eq!(
            parse_match(&key, Some(&u32a(k::CT_STATE, 0x1ff))),
            Err(Errno::Inval)
        );
        assert!(parse_match(&key, Some(&u32a(k::CT_STATE, 0xff))).is_ok());
    }

    #[test]
    fn conntrack_original_tuples() {
        let t4 = a(
            k::CT_ORIG_TUPLE_IPV4,
            &[1, 2, 3, 4, 5, 6, 7, 8, 0, 53, 0x13, 0x88, 17, 0, 0, 0],
        );
        let stream = [t4.clone(), tcp4()].concat();
        let m = exact(&stream).unwrap();
        let o = &m.key.ct_orig;
        assert_eq!(
            (o.ipv4_src, o.ipv4_dst, o.src_port, o.dst_port, o.proto),
            (0x0102_0304, 0x0506_0708, 53, 5000, 17)
        );
        assert_eq!(m.mask.ct_orig.proto, 0xff);
        // The IPv4 tuple may be masked only with the IPv4 Ethertype pinned down.
        let v6 = [
            u32a(k::IN_PORT, 1),
            eth(),
            be16a(k::ETHERTYPE, 0x86dd),
            ipv6(17, 0),
            l4(k::UDP, 1, 2),
        ]
        .concat();
        assert_eq!(exact(&[t4, v6.clone()].concat()), Err(Errno::Inval));
        let t6 = a(
            k::CT_ORIG_TUPLE_IPV6,
            &[
                [1u8; 16],
                [2u8; 16],
                [0, 1, 0, 2, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ]
            .concat()[..40],
        );
        let m = exact(&[t6, v6].concat()).unwrap();
        assert_eq!((m.key.ct_orig.ipv6_src, m.key.ct_orig.proto), ([1; 16], 17));
    }

    #[test]
    fn l3_value_checks_apply_to_keys_only() {
        let v4 = |frag| [eth(), be16a(k::ETHERTYPE, 0x0800), ipv4(0, frag)].concat();
        assert!(exact(&v4(k::FRAG_LATER)).is_ok());
        assert_eq!(exact(&v4(3)), Err(Errno::Inval));
        let mut label = ipv6(0, 0);
        label[4 + 32] = 0x10; // label 0x10012345: more than 20 bits
        let v6 = [eth(), be16a(k::ETHERTYPE, 0x86dd), label.clone()].concat();
        assert_eq!(exact(&v6), Err(Errno::Inval));
        let ok6 = [eth(), be16a(k::ETHERTYPE, 0x86dd), ipv6(0, 0)].concat();
        let mask6 = [be16a(k::ETHERTYPE, 0xffff), label].concat();
        assert!(parse_match(&ok6, Some(&mask6)).is_ok());
        let arp = |op: u16| {
            let mut p = [0u8; 24];
            p[..4].copy_from_slice(&[10, 0, 0, 1]);
            p[8..10].copy_from_slice(&op.to_be_bytes());
            p[10..16].copy_from_slice(&SRC_MAC);
            [eth(), be16a(k::ETHERTYPE, 0x0806), a(k::ARP, &p)].concat()
        };
        let m = exact(&arp(2)).unwrap();
        assert_eq!(
            (m.key.ip_proto, m.key.ipv4_src, m.key.arp_sha),
            (2, 0x0a00_0001, SRC_MAC)
        );
        assert_eq!(exact(&arp(0x102)), Err(Errno::Inval));
    }

    #[test]
    fn ipv6_fields() {
        let stream = [
            eth(),
            be16a(k::ETHERTYPE, 0x86dd),
            ipv6(58, 0),
            a(k::ICMPV6, &[135, 0]),
        ]
        .concat();
        // ICMPv6 neighbour solicitation needs ND.
        assert_eq!(exact(&stream), Err(Errno::Inval));
        let nd = a(k::ND, &[[7u8; 16].as_slice(), &SRC_MAC, &DST_MAC].concat());
        let m = exact(&[stream, nd].concat()).unwrap();
        let key = &m.key;
        assert_eq!(
            (key.ipv6_label, key.ip_proto, key.ip_ttl),
            (0x12345, 58, 64)
        );
        assert_eq!((key.tp_src, key.tp_dst, key.nd_target), (135, 0, [7; 16]));
        assert_eq!((key.arp_sha, key.arp_tha), (SRC_MAC, DST_MAC));
        assert_eq!(m.mask.tp_src, 0xff);
    }

    #[test]
    fn required_attributes() {
        let base = |et: u16| [eth(), be16a(k::ETHERTYPE, et)].concat();
        for missing in [
            base(0x0800),
            base(0x86dd),
            base(0x0806),
            base(0x8035),
            base(0x8847),
            base(0x894f),
            [base(0x0800), ipv4(6, 0), l4(k::TCP, 1, 2)].concat(),
            [base(0x0800), ipv4(6, 0), be16a(k::TCP_FLAGS, 0)].concat(),
            [base(0x0800), ipv4(17, 0)].concat(),
            [base(0x0800), ipv4(132, 1)].concat(),
            [base(0x0800), ipv4(1, 0)].concat(),
            [base(0x86dd), ipv6(58, 0)].concat(),
        ] {
            assert_eq!(exact(&missing), Err(Errno::Inval), "{missing:02x?}");
        }
        // Later fragments have no L4 header; ICMP is not ICMPv6.
        assert!(exact(&[base(0x0800), ipv4(6, k::FRAG_LATER)].concat()).is_ok());
        assert!(exact(&[base(0x86dd), ipv6(1, 0)].concat()).is_ok());
        let m = exact(&[base(0x0800), ipv4(1, 0), a(k::ICMP, &[8, 1])].concat()).unwrap();
        assert_eq!((m.key.tp_src, m.key.tp_dst, m.mask.tp_src), (8, 1, 0xff));
        assert!(exact(&[base(0x0800), ipv4(132, 0), l4(k::SCTP, 1, 2)].concat()).is_ok());
    }

    #[test]
    fn mask_needs_the_protocol_pinned_down() {
        let key = tcp4();
        let tcp_mask = l4(k::TCP, 0xffff, 0);
        let ethertype = be16a(k::ETHERTYPE, 0xffff);
        let proto = a(k::IPV4, &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0]);
        assert!(
            parse_match(
                &key,
                Some(&[ethertype.clone(), proto.clone(), tcp_mask.clone()].concat())
            )
            .is_ok()
        );
        // No exact Ethertype: no IPv4 mask; no exact protocol: no TCP mask.
        assert_eq!(parse_match(&key, Some(&proto)), Err(Errno::Inval));
        assert_eq!(
            parse_match(&key, Some(&[ethertype.clone(), tcp_mask].concat())),
            Err(Errno::Inval)
        );
        // Masks only for attributes the key has (tunnel, in_port, Ethertype excepted).
        assert_eq!(
            parse_match(&key, Some(&u32a(k::SKB_MARK, 1))),
            Err(Errno::Inval)
        );
        assert!(parse_match(&key, Some(&ethertype)).is_ok());
    }

    #[test]
    fn stream_errors() {
        let good = tcp4();
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[1, 0]);
        let dup = [good.clone(), u32a(k::IN_PORT, 1)].concat();
        let out_of_range = [good.clone(), a(k::MAX + 1, &[])].concat();
        let unspec = [good.clone(), a(0, &[])].concat();
        let bad_len = [good.clone(), a(k::SKB_MARK, &[0; 3])].concat();
        for bad in [trailing, dup, out_of_range, unspec, bad_len] {
            assert_eq!(exact(&bad), Err(Errno::Inval));
            assert!(parse_match(&good, Some(&bad)).is_err());
        }
        for refused in [k::PACKET_TYPE, k::ND_EXTENSIONS, k::TUNNEL_INFO] {
            let bad = [good.clone(), a(refused, &[0; 4])].concat();
            assert_eq!(exact(&bad), Err(Errno::Inval));
            assert_eq!(parse_metadata(&bad), Err(Errno::Inval));
        }
        // NLA_F_NESTED / NLA_F_NET_BYTEORDER bits are not part of the type.
        let flagged = [
            a(
                k::IN_PORT | crate::netlink::NLA_F_NET_BYTEORDER,
                &1u32.to_ne_bytes(),
            ),
            eth(),
        ]
        .concat();
        assert_eq!(exact(&flagged).unwrap().key.in_port, 1);
        // A zero-length UNSPEC in a mask is all-zero, hence absent.
        assert!(parse_match(&good, Some(&a(0, &[]))).is_ok());
    }

    #[test]
    fn mpls_label_stack() {
        let mpls = |n: usize| {
            let lses: Vec<u8> = (1..=n as u32)
                .flat_map(|i| (i << 12 | 0x40).to_be_bytes())
                .collect();
            [eth(), be16a(k::ETHERTYPE, 0x8847), a(k::MPLS, &lses)].concat()
        };
        let m = exact(&mpls(3)).unwrap();
        assert_eq!(m.key.mpls_lse, [0x1040, 0x2040, 0x3040]);
        assert_eq!(m.mask.mpls_lse, [!0; 3]);
        assert_eq!(exact(&mpls(1)).unwrap().key.mpls_lse, [0x1040, 0, 0]);
        assert_eq!(exact(&mpls(0)), Err(Errno::Inval));
        assert_eq!(exact(&mpls(4)), Err(Errno::Inval));
        let odd = [eth(), be16a(k::ETHERTYPE, 0x8847), a(k::MPLS, &[0; 6])].concat();
        assert_eq!(exact(&odd), Err(Errno::Inval));
    }

    #[test]
    fn metadata_for_packet_execute() {
        let stream = [
            u32a(k::RECIRC_ID, 5),
            u32a(k::DP_HASH, 6),
            u32a(k::SKB_MARK, 8),
            u32a(k::CT_MARK, 10),
            tcp4(),
        ]
        .concat();
        let key = parse_metadata(&stream).unwrap();
        assert_eq!(
            (
                key.recirc_id,
                key.dp_hash,
                key.skb_mark,
                key.ct_mark,
                key.in_port
            ),
            (5, 6, 8, 10, 1)
        );
        // Packet fields are left to extraction.
        assert_eq!(
            (key.eth_type, key.ipv4_src, key.tp_src, key.mac_proto),
            (0, 0, 0, MAC_PROTO_ETHERNET)
        );
        assert_eq!(parse_metadata(&eth()).unwrap().in_port, IN_PORT_ANY);
        let l3 = parse_metadata(&[be16a(k::ETHERTYPE, 0x86dd)].concat()).unwrap();
        assert_eq!((l3.mac_proto, l3.eth_type), (MAC_PROTO_NONE, ETH_P_IPV6));
        assert_eq!(
            parse_metadata(&[u32a(k::IN_PORT, 1), u32a(k::IN_PORT, 1)].concat()),
            Err(Errno::Inval)
        );
        assert_eq!(
            parse_metadata(&u32a(k::IN_PORT, DP_MAX_PORTS)),
            Err(Errno::Inval)
        );
        // Only the top level is looked at; the rest need only be well formed.
        assert!(parse_metadata(&[eth(), be16a(k::ETHERTYPE, 0x0800)].concat()).is_ok());
    }

    #[test]
    fn exact_mask_is_the_all_ones_key_stream() {
        let key = [u32a(k::SKB_MARK, 3), tcp4()].concat();
        let given = parse_match(&key, Some(&ones(&key, &[]))).unwrap();
        assert_eq!(exact(&key).unwrap(), given);
    }
}
