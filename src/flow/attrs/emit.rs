//! `FlowKey` -> netlink key and mask streams (`__ovs_nla_put_key`), as the
//! datapath reports flows in upcalls and dumps: Linux's attribute order and
//! its rules for what is emitted when zero.

use zerocopy::IntoBytes;
use zerocopy::byteorder::network_endian::{U16, U32};

use super::proto::*;
use super::wire::{Arp, CtTuple4, CtTuple6, Ethernet, Icmp, Ipv4, Ipv6, Nd, Ports};
use super::{IN_PORT_ANY, nsh, tunnel};
use crate::flow::FlowKey;
use crate::flow::key::{CtTuple, MAC_PROTO_ETHERNET, TUN_OPTS_MAX};
use crate::netlink::{NLA_HDRLEN, NlBuf, Overflow, align};
use crate::ovs::key as k;

const fn attr(payload: usize) -> usize {
    align(NLA_HDRLEN + payload)
}

/// Largest TUNNEL nest: ID, addresses (both families, for masks not made by
/// `parse_match`), TOS, TTL, three flags, ports and 255 bytes of options.
pub const MAX_TUNNEL_LEN: usize = attr(0)
    + attr(8)
    + 2 * attr(4)
    + 2 * attr(16)
    + 2 * attr(1)
    + 3 * attr(0)
    + 2 * attr(2)
    + attr(TUN_OPTS_MAX);

/// Upper bound of what `emit_key` / `emit_mask` write, for sizing buffers.
pub const MAX_KEY_LEN: usize = 3 * attr(4) // RECIRC_ID, DP_HASH, PRIORITY
    + MAX_TUNNEL_LEN
    + 2 * attr(4) // IN_PORT, SKB_MARK
    + attr(4) + attr(2) + attr(4) + attr(16) // CT_STATE, CT_ZONE, CT_MARK, CT_LABELS
    + attr(40) // CT_ORIG_TUPLE_IPV6
    + attr(12) // ETHERNET
    + 2 * (2 * attr(2) + attr(0)) // two tags: ETHERTYPE, VLAN, ENCAP
    + attr(2) // ETHERTYPE
    + attr(40) // IPV6 (the largest L3)
    + attr(2) + attr(28); // ICMPV6 + ND (the largest L4)

/// Writes `key` as the attribute stream of `OVS_FLOW_ATTR_KEY` /
/// `OVS_PACKET_ATTR_KEY`. On overflow nothing is left written.
pub fn emit_key(key: &FlowKey, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    emit(key, key, false, buf)
}

/// Writes `mask` (a mask of `key`) as the attribute stream of
/// `OVS_FLOW_ATTR_MASK`. On overflow nothing is left written.
pub fn emit_mask(mask: &FlowKey, key: &FlowKey, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    emit(key, mask, true, buf)
}

/// `key` decides which attributes appear; `out` (the key or its mask) gives
/// their contents.
fn emit(key: &FlowKey, out: &FlowKey, is_mask: bool, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    let start = buf.len();
    let done = metadata(key, out, is_mask, buf).and_then(|()| {
        let mut nests = [None; 2];
        let body = packet(key, out, is_mask, buf, &mut nests);
        // Close any ENCAP nests even when the packet fields stop early.
        nests
            .iter()
            .rev()
            .flatten()
            .try_for_each(|&n| buf.end_nested(n))
            .and(body)
    });
    if done.is_err() {
        buf.truncate(start);
    }
    done
}

fn metadata(
    key: &FlowKey,
    out: &FlowKey,
    is_mask: bool,
    buf: &mut NlBuf<'_>,
) -> Result<(), Overflow> {
    buf.put_u32(k::RECIRC_ID, out.recirc_id)?;
    buf.put_u32(k::DP_HASH, out.dp_hash)?;
    buf.put_u32(k::PRIORITY, out.priority)?;
    if is_mask || key.has_tunnel() {
        tunnel::emit(key, out, buf)?;
    }
    // A key without IN_PORT reports none; its mask reports exact only if the
    // mask pinned the (impossible) port down.
    if key.in_port != IN_PORT_ANY || (is_mask && out.in_port == u32::MAX) {
        buf.put_u32(k::IN_PORT, out.in_port)?;
    }
    buf.put_u32(k::SKB_MARK, out.skb_mark)?;
    buf.put_u32(k::CT_STATE, out.ct_state.into())?;
    buf.put_u16(k::CT_ZONE, out.ct_zone)?;
    buf.put_u32(k::CT_MARK, out.ct_mark)?;
    buf.put_attr(k::CT_LABELS, &out.ct_labels)?;
    ct_orig(key, &out.ct_orig, buf)
}

/// The original-direction tuple of the key's IP version, when set.
fn ct_orig(key: &FlowKey, t: &CtTuple, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    if *t == CtTuple::default() {
        return Ok(());
    }
    let (src_port, dst_port) = (U16::new(t.src_port), U16::new(t.dst_port));
    match key.eth_type {
        ETH_P_IP => {
            let (src, dst) = (U32::new(t.ipv4_src), U32::new(t.ipv4_dst));
            let w = CtTuple4 {
                src,
                dst,
                src_port,
                dst_port,
                proto: t.proto,
                pad: [0; 3],
            };
            buf.put_attr(k::CT_ORIG_TUPLE_IPV4, w.as_bytes())
        }
        ETH_P_IPV6 => {
            let (src, dst) = (t.ipv6_src, t.ipv6_dst);
            let w = CtTuple6 {
                src,
                dst,
                src_port,
                dst_port,
                proto: t.proto,
                pad: [0; 3],
            };
            buf.put_attr(k::CT_ORIG_TUPLE_IPV6, w.as_bytes())
        }
        _ => Ok(()),
    }
}

/// L2 to L4. Returns early where Linux jumps to `unencap`; the caller closes
/// the ENCAP nests recorded in `nests`.
fn packet(
    key: &FlowKey,
    out: &FlowKey,
    is_mask: bool,
    buf: &mut NlBuf<'_>,
    nests: &mut [Option<usize>; 2],
) -> Result<(), Overflow> {
    if key.mac_proto == MAC_PROTO_ETHERNET {
        buf.put_attr(
            k::ETHERNET,
            Ethernet {
                src: out.eth_src,
                dst: out.eth_dst,
            }
            .as_bytes(),
        )?;
        // A truncated tag (TCI 0) parsed from userspace keeps its TPID.
        let tagged =
            |tci: u16, tpid: u16| tci != 0 || is_vlan(key.eth_type) || (!is_mask && tpid != 0);
        let tags = [
            (key.vlan_tci, key.vlan_tpid, out.vlan_tci, out.vlan_tpid),
            (key.cvlan_tci, key.cvlan_tpid, out.cvlan_tci, out.cvlan_tpid),
        ];
        for ((key_tci, key_tpid, tci, tpid), nest) in tags.into_iter().zip(nests.iter_mut()) {
            if !tagged(key_tci, key_tpid) {
                break;
            }
            buf.put_be16(k::ETHERTYPE, if is_mask { 0xffff } else { tpid })?;
            buf.put_be16(k::VLAN, tci)?;
            *nest = Some(buf.begin_nested(k::ENCAP)?);
            if key_tci == 0 {
                return Ok(());
            }
        }
        // 802.2 is an omitted ETHERTYPE in keys, 0xffff (or wildcard) in masks.
        if key.eth_type == ETH_P_802_2 {
            if is_mask && out.eth_type != 0 {
                buf.put_be16(k::ETHERTYPE, out.eth_type)?;
            }
            return Ok(());
        }
    }
    buf.put_be16(k::ETHERTYPE, out.eth_type)?;
    // A third tag: nothing more is known of the packet.
    if is_vlan(key.eth_type) {
        return Ok(());
    }
    l3(key, out, is_mask, buf)?;
    if is_ip(key.eth_type) && key.ip_frag != k::FRAG_LATER {
        l4(key, out, buf)?;
    }
    Ok(())
}

fn l3(key: &FlowKey, out: &FlowKey, is_mask: bool, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    match key.eth_type {
        ETH_P_IP => {
            let ip = Ipv4 {
                src: U32::new(out.ipv4_src),
                dst: U32::new(out.ipv4_dst),
                proto: out.ip_proto,
                tos: out.ip_tos,
                ttl: out.ip_ttl,
                frag: out.ip_frag,
            };
            buf.put_attr(k::IPV4, ip.as_bytes())
        }
        ETH_P_IPV6 => {
            let ip = Ipv6 {
                src: out.ipv6_src,
                dst: out.ipv6_dst,
                label: U32::new(out.ipv6_label),
                proto: out.ip_proto,
                tclass: out.ip_tos,
                hlimit: out.ip_ttl,
                frag: out.ip_frag,
            };
            buf.put_attr(k::IPV6, ip.as_bytes())
        }
        ETH_P_NSH => nsh::emit(out, is_mask, buf),
        ETH_P_ARP | ETH_P_RARP => {
            let arp = Arp {
                sip: U32::new(out.ipv4_src),
                tip: U32::new(out.ipv4_dst),
                op: U16::new(out.ip_proto.into()),
                sha: out.arp_sha,
                tha: out.arp_tha,
                pad: [0; 2],
            };
            buf.put_attr(k::ARP, arp.as_bytes())
        }
        t if is_mpls(t) => {
            let n = mpls_labels(out);
            let lses = out.mpls_lse.map(U32::new);
            buf.put_attr(k::MPLS, lses.as_bytes().get(..4 * n).unwrap_or_default())
        }
        _ => Ok(()),
    }
}

/// How many label stack entries to report: as many as the label mask says
/// (Linux's `num_labels_mask`), so a stack cut short or without a
/// bottom-of-stack entry reports none.
fn mpls_labels(out: &FlowKey) -> usize {
    (out.mpls_labels.count_ones() as usize).min(out.mpls_lse.len())
}

fn l4(key: &FlowKey, out: &FlowKey, buf: &mut NlBuf<'_>) -> Result<(), Overflow> {
    let ports = Ports {
        src: U16::new(out.tp_src),
        dst: U16::new(out.tp_dst),
    };
    // ICMP type and code sit in the low byte of tp_src / tp_dst.
    let icmp = Icmp {
        ty: out.tp_src.to_be_bytes()[1],
        code: out.tp_dst.to_be_bytes()[1],
    };
    match key.ip_proto {
        IPPROTO_TCP => {
            buf.put_attr(k::TCP, ports.as_bytes())?;
            buf.put_be16(k::TCP_FLAGS, out.tcp_flags)
        }
        IPPROTO_UDP => buf.put_attr(k::UDP, ports.as_bytes()),
        IPPROTO_SCTP => buf.put_attr(k::SCTP, ports.as_bytes()),
        IPPROTO_ICMP if key.eth_type == ETH_P_IP => buf.put_attr(k::ICMP, icmp.as_bytes()),
        IPPROTO_ICMPV6 if key.eth_type == ETH_P_IPV6 => {
            buf.put_attr(k::ICMPV6, icmp.as_bytes())?;
            if key.tp_src == ND_NEIGHBOUR_SOLICITATION || key.tp_src == ND_NEIGHBOUR_ADVERTISEMENT {
                let nd = Nd {
                    target: out.nd_target,
                    sll: out.arp_sha,
                    tll: out.arp_tha,
                };
                buf.put_attr(k::ND, nd.as_bytes())?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Match, parse_match};
    use super::*;
    use crate::flow::key::{MAC_PROTO_NONE, TUN_OPTS_GENEVE};
    use std::vec::Vec;

    fn exact(stream: &[u8]) -> Match {
        parse_match(stream, None).unwrap()
    }

    #[test]
    fn linux_order_and_zero_fields() {
        let m = exact(&tcp4());
        let key = key_bytes(&m);
        assert_eq!(
            types(&key),
            [
                k::RECIRC_ID,
                k::DP_HASH,
                k::PRIORITY,
                k::IN_PORT,
                k::SKB_MARK,
                k::CT_STATE,
                k::CT_ZONE,
                k::CT_MARK,
                k::CT_LABELS,
                k::ETHERNET,
                k::ETHERTYPE,
                k::IPV4,
                k::TCP,
                k::TCP_FLAGS
            ]
        );
        assert_eq!(
            find(&key, k::IPV4).unwrap(),
            [10, 0, 0, 1, 10, 0, 0, 2, 6, 0, 64, 0]
        );
        assert_eq!(find(&key, k::TCP).unwrap(), [0, 80, 0x1f, 0x90]);
        // The mask adds the tunnel nest and carries mask values.
        let mask = mask_bytes(&m);
        assert_eq!(types(&mask)[3..5], [k::TUNNEL, k::IN_PORT]);
        assert_eq!(find(&mask, k::IN_PORT).unwrap(), [0xff; 4]);
        assert_eq!(find(&mask, k::ETHERTYPE).unwrap(), [0xff; 2]);
        assert_eq!(find(&mask, k::RECIRC_ID).unwrap(), [0; 4]);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn in_port_reporting() {
        // No IN_PORT given: none reported, in key or mask.
        let m = exact(&eth());
        assert_eq!(find(&key_bytes(&m), k::IN_PORT), None);
        assert_eq!(find(&mask_bytes(&m), k::IN_PORT), None);
        assert_eq!(round_trip(&m), m);
        // A wildcarded in_port reports a zero mask.
        let m = parse_match(&tcp4(), Some(&be16a(k::ETHERTYPE, 0xffff))).unwrap();
        assert_eq!(find(&mask_bytes(&m), k::IN_PORT).unwrap(), [0; 4]);
        assert_eq!(round_trip(&m), m);
        // A mask pinning the absent port reports it.
        let m = parse_match(&eth(), Some(&u32a(k::IN_PORT, 1))).unwrap();
        assert_eq!(find(&mask_bytes(&m), k::IN_PORT).unwrap(), [0xff; 4]);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn ethertype_forms() {
        // 802.2: omitted in the key, exact in the mask.
        let m = exact(&[u32a(k::IN_PORT, 1), eth()].concat());
        assert_eq!(find(&key_bytes(&m), k::ETHERTYPE), None);
        let m = parse_match(
            &[u32a(k::IN_PORT, 1), eth()].concat(),
            Some(&be16a(k::ETHERTYPE, 0xffff)),
        )
        .unwrap();
        assert_eq!(
            (
                m.mask.eth_type,
                find(&mask_bytes(&m), k::ETHERTYPE).unwrap()
            ),
            (0xffff, std::vec![0xff; 2])
        );
        assert_eq!(round_trip(&m), m);
        // Layer 3 flows have no ETHERNET.
        let m = exact(&[be16a(k::ETHERTYPE, 0x0800), ipv4(1, 0), a(k::ICMP, &[3, 4])].concat());
        assert_eq!(m.key.mac_proto, MAC_PROTO_NONE);
        let key = key_bytes(&m);
        assert_eq!(find(&key, k::ETHERNET), None);
        assert_eq!(find(&key, k::ICMP).unwrap(), [3, 4]);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn vlan_nesting() {
        let inner = [be16a(k::ETHERTYPE, 0x0800), ipv4(17, 2)];
        let stream = [
            u32a(k::IN_PORT, 1),
            eth(),
            be16a(k::ETHERTYPE, 0x8100),
            be16a(k::VLAN, 0x1005),
            nest(k::ENCAP, &inner),
        ]
        .concat();
        let m = exact(&stream);
        let key = key_bytes(&m);
        assert_eq!(
            types(&key)[9..],
            [k::ETHERNET, k::ETHERTYPE, k::VLAN, k::ENCAP]
        );
        let encap = find(&key, k::ENCAP).unwrap();
        // A later fragment has no L4 attribute.
        assert_eq!(types(&encap), [k::ETHERTYPE, k::IPV4]);
        let mask = mask_bytes(&m);
        assert_eq!(find(&mask, k::ETHERTYPE).unwrap(), [0xff; 2]);
        assert_eq!(find(&mask, k::VLAN).unwrap(), [0xff; 2]);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn arp_mpls_icmpv6_and_ct_tuple() {
        let mut arp = [0u8; 24];
        arp[8..10].copy_from_slice(&1u16.to_be_bytes());
        let m = exact(&[eth(), be16a(k::ETHERTYPE, 0x0806), a(k::ARP, &arp)].concat());
        assert_eq!(find(&key_bytes(&m), k::ARP).unwrap(), arp);
        assert_eq!(round_trip(&m), m);

        let lses: Vec<u8> = [0x0006_4040u32, 0x0007_5140]
            .iter()
            .flat_map(|l| l.to_be_bytes())
            .collect();
        let m = exact(&[eth(), be16a(k::ETHERTYPE, 0x8847), a(k::MPLS, &lses)].concat());
        assert_eq!(find(&key_bytes(&m), k::MPLS).unwrap(), lses);
        assert_eq!(find(&mask_bytes(&m), k::MPLS).unwrap(), [0xff; 8]);
        assert_eq!(round_trip(&m), m);
        // One label without bottom of stack reports one label.
        let one = 0x0006_4040u32.to_be_bytes();
        let m = exact(&[eth(), be16a(k::ETHERTYPE, 0x8847), a(k::MPLS, &one)].concat());
        assert_eq!(find(&key_bytes(&m), k::MPLS).unwrap(), one);

        let nd = a(k::ND, &[[7u8; 16].as_slice(), &SRC_MAC, &DST_MAC].concat());
        let v6 = [
            eth(),
            be16a(k::ETHERTYPE, 0x86dd),
            ipv6(58, 0),
            a(k::ICMPV6, &[136, 0]),
            nd.clone(),
        ]
        .concat();
        let m = exact(&v6);
        let key = key_bytes(&m);
        assert_eq!(types(&key)[9..], [k::ETHERTYPE, k::IPV6, k::ICMPV6, k::ND]);
        assert_eq!(find(&key, k::ND).unwrap(), find(&nd, k::ND).unwrap());
        assert_eq!(round_trip(&m), m);

        let t4 = a(
            k::CT_ORIG_TUPLE_IPV4,
            &[1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 6, 0, 0, 0],
        );
        let m = exact(&[t4.clone(), tcp4()].concat());
        assert_eq!(
            find(&key_bytes(&m), k::CT_ORIG_TUPLE_IPV4),
            find(&t4, k::CT_ORIG_TUPLE_IPV4)
        );
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn overflow_writes_nothing() {
        let m = exact(&tcp4());
        let need = key_bytes(&m).len();
        let mut mem = [0u8; 256];
        let mut buf = NlBuf::new(&mut mem[..need - 1]);
        buf.put_u32(1, 7).unwrap();
        let before = buf.len();
        assert_eq!(emit_key(&m.key, &mut buf), Err(Overflow));
        assert_eq!(buf.len(), before);
        let mut buf = NlBuf::new(&mut mem[..need]);
        assert_eq!(emit_key(&m.key, &mut buf), Ok(()));
    }

    #[test]
    fn max_key_len_bounds_the_largest_key() {
        let mut key = FlowKey {
            eth_type: ETH_P_IPV6,
            ip_proto: IPPROTO_ICMPV6,
            ..FlowKey::default()
        };
        key.tp_src = ND_NEIGHBOUR_SOLICITATION;
        key.vlan_tci = 0x1001;
        key.cvlan_tci = 0x1001;
        key.tun.ipv4_dst = 1;
        key.tun.ipv6_dst = [1; 16];
        key.tun.ipv6_src = [1; 16];
        key.tun.ipv4_src = 1;
        key.tun.tos = 1;
        key.tun.tp_src = 1;
        key.tun.tp_dst = 1;
        key.tun.flags = !0;
        key.tun.opts_kind = TUN_OPTS_GENEVE;
        key.tun_opts_len = u8::MAX;
        key.ct_orig.proto = 6;
        let mut mem = [0u8; MAX_KEY_LEN];
        let mut buf = NlBuf::new(&mut mem);
        emit_key(&key, &mut buf).unwrap();
        let mut buf = NlBuf::new(&mut mem);
        emit_mask(&key, &key, &mut buf).unwrap();
        assert_eq!(buf.len(), MAX_KEY_LEN);
    }
}
