//! SET and SET_MASKED (`validate_set`): exactly one key attribute, of its
//! key length (twice that when masked: value then mask), writing a header
//! the flow has.

use super::actions::Headers;
use super::lens::{self, Table};
use super::proto::*;
use super::support::{self, Support};
use super::wire::{self, Ipv4, Ipv6};
use crate::flow::FlowKey;
use crate::flow::key::MAC_PROTO_ETHERNET;
use crate::netlink::{Errno, NLA_HDRLEN, align, attrs};
use crate::ovs::key as k;

/// `struct ovs_key_mpls`: one label stack entry.
const MPLS_LSE_LEN: usize = 4;

/// Flow label bits beyond the 20 a label has.
const LABEL_INVALID: u32 = 0xfff0_0000;

pub(super) fn validate(
    p: &[u8],
    key: &FlowKey,
    headers: &Headers,
    masked: bool,
) -> Result<(), Errno> {
    let inner = match attrs(p).next() {
        Some(Ok(a)) if align(NLA_HDRLEN + a.len()) == p.len() => a,
        _ => return Err(Errno::Inval),
    };
    let ty = inner.ty();
    // An NSH nest's members each carry their own mask.
    if ty == k::NSH {
        if headers.eth_type != ETH_P_NSH {
            return Err(Errno::Inval);
        }
        return super::nsh::validate_set(inner.payload(), masked, key);
    }
    let (value, mask) = if masked {
        if !inner.len().is_multiple_of(2) {
            return Err(Errno::Inval);
        }
        let (v, m) = inner.payload().split_at(inner.len() / 2);
        (v, Some(m))
    } else {
        (inner.payload(), None)
    };
    lens::expect(Table::Key, ty, value.len())?;
    if let Some(m) = mask
        && value.iter().zip(m).any(|(v, m)| v & !m != 0)
    {
        return Err(Errno::Inval);
    }
    // Masked tunnel set is not supported (Linux: EINVAL, before anything else).
    if ty == k::TUNNEL && masked {
        return Err(Errno::Inval);
    }
    match support::set_target(ty) {
        Support::Executed => {}
        Support::NotYet => return Err(Errno::OpNotSupp),
        Support::Invalid => return Err(Errno::Inval),
    }
    let ok = match ty {
        k::PRIORITY | k::SKB_MARK | k::CT_MARK | k::CT_LABELS => true,
        k::TUNNEL => super::tunnel::set_tunnel(value, &mut FlowKey::default()).is_ok(),
        k::ETHERNET => headers.mac_proto == MAC_PROTO_ETHERNET,
        k::IPV4 => headers.eth_type == ETH_P_IP && ipv4(value, mask, key)?,
        k::IPV6 => headers.eth_type == ETH_P_IPV6 && ipv6(value, mask, key)?,
        k::TCP => l4(headers, key, IPPROTO_TCP),
        k::UDP => l4(headers, key, IPPROTO_UDP),
        k::SCTP => l4(headers, key, IPPROTO_SCTP),
        k::ICMP => headers.eth_type == ETH_P_IP && key.ip_proto == IPPROTO_ICMP,
        k::ICMPV6 => headers.eth_type == ETH_P_IPV6 && key.ip_proto == IPPROTO_ICMPV6,
        // The top label stack entry is what is written; like a key's, the
        // attribute holds one to three entries.
        k::MPLS => {
            is_mpls(headers.eth_type)
                && value.len().is_multiple_of(MPLS_LSE_LEN)
                && (MPLS_LSE_LEN..=MPLS_LSE_LEN * 3).contains(&value.len())
        }
        // A target marked executed without validation here stays refused.
        _ => return Err(Errno::OpNotSupp),
    };
    if ok { Ok(()) } else { Err(Errno::Inval) }
}

/// Protocol and fragment type cannot be rewritten.
fn ipv4(value: &[u8], mask: Option<&[u8]>, key: &FlowKey) -> Result<bool, Errno> {
    let v = wire::view::<Ipv4>(value)?;
    Ok(match mask {
        Some(m) => {
            let m = wire::view::<Ipv4>(m)?;
            m.proto == 0 && m.frag == 0
        }
        None => v.proto == key.ip_proto && v.frag == key.ip_frag,
    })
}

/// As IPv4, and the flow label keeps to 20 bits.
fn ipv6(value: &[u8], mask: Option<&[u8]>, key: &FlowKey) -> Result<bool, Errno> {
    let v = wire::view::<Ipv6>(value)?;
    let fixed = match mask {
        Some(m) => {
            let m = wire::view::<Ipv6>(m)?;
            m.proto == 0 && m.frag == 0 && m.label.get() & LABEL_INVALID == 0
        }
        None => v.proto == key.ip_proto && v.frag == key.ip_frag,
    };
    Ok(fixed && v.label.get() & LABEL_INVALID == 0)
}

fn l4(headers: &Headers, key: &FlowKey, proto: u8) -> bool {
    is_ip(headers.eth_type) && key.ip_proto == proto
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{self as tu, a, be16a, eth, nest, tcp4, u32a};
    use super::super::{parse_match, validate_actions};
    use super::*;
    use crate::ovs::action as act;
    use std::vec::Vec;

    fn key_of(stream: &[u8]) -> FlowKey {
        parse_match(stream, None).unwrap().key
    }

    fn udp6() -> FlowKey {
        key_of(
            &[
                u32a(k::IN_PORT, 1),
                eth(),
                be16a(k::ETHERTYPE, 0x86dd),
                tu::ipv6(17, 0),
                tu::l4(k::UDP, 1, 2),
            ]
            .concat(),
        )
    }

    fn set(inner: Vec<u8>) -> Vec<u8> {
        a(act::SET, &inner)
    }

    fn masked(ty: u16, value: &[u8], mask: &[u8]) -> Vec<u8> {
        a(act::SET_MASKED, &a(ty, &[value, mask].concat()))
    }

    fn ipv4_value(proto: u8, frag: u8) -> [u8; 12] {
        [192, 168, 0, 1, 10, 0, 0, 2, proto, 0, 63, frag]
    }

    #[test]
    fn metadata_and_ethernet() {
        let tcp = key_of(&tcp4());
        for action in [
            set(u32a(k::PRIORITY, 1)),
            set(u32a(k::SKB_MARK, 2)),
            set(eth()),
        ] {
            assert_eq!(validate_actions(&action, &tcp), Ok(()));
        }
        assert_eq!(
            validate_actions(&masked(k::ETHERNET, &[0; 12], &[0xff; 12]), &tcp),
            Ok(())
        );
        let l3 = key_of(
            &[
                be16a(k::ETHERTYPE, 0x0800),
                tu::ipv4(17, 0),
                tu::l4(k::UDP, 1, 2),
            ]
            .concat(),
        );
        assert_eq!(validate_actions(&set(eth()), &l3), Err(Errno::Inval));
    }

    #[test]
    fn ipv4() {
        let tcp = key_of(&tcp4());
        assert_eq!(
            validate_actions(&set(a(k::IPV4, &ipv4_value(6, 0))), &tcp),
            Ok(())
        );
        // Protocol and fragment type cannot change.
        assert_eq!(
            validate_actions(&set(a(k::IPV4, &ipv4_value(17, 0))), &tcp),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&set(a(k::IPV4, &ipv4_value(6, 1))), &tcp),
            Err(Errno::Inval)
        );
        let src = [192, 168, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut mask = [0u8; 12];
        mask[..4].fill(0xff);
        assert_eq!(
            validate_actions(&masked(k::IPV4, &src, &mask), &tcp),
            Ok(())
        );
        mask[8] = 1;
        assert_eq!(
            validate_actions(&masked(k::IPV4, &src, &mask), &tcp),
            Err(Errno::Inval)
        );
        // Value bits outside the mask.
        assert_eq!(
            validate_actions(&masked(k::IPV4, &src, &[0; 12]), &tcp),
            Err(Errno::Inval)
        );
        // Not an IPv4 flow.
        assert_eq!(
            validate_actions(&set(a(k::IPV4, &ipv4_value(17, 0))), &udp6()),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn ipv6() {
        let udp = udp6();
        let value = |proto: u8, label: u32| {
            let mut v = [0u8; 40];
            v[32..36].copy_from_slice(&label.to_be_bytes());
            v[36] = proto;
            v
        };
        assert_eq!(
            validate_actions(&set(a(k::IPV6, &value(17, 5))), &udp),
            Ok(())
        );
        assert_eq!(
            validate_actions(&set(a(k::IPV6, &value(6, 5))), &udp),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&set(a(k::IPV6, &value(17, 1 << 20))), &udp),
            Err(Errno::Inval)
        );
        let mut mask = [0u8; 40];
        mask[32..36].copy_from_slice(&0x000f_ffffu32.to_be_bytes());
        assert_eq!(
            validate_actions(&masked(k::IPV6, &value(0, 5), &mask), &udp),
            Ok(())
        );
        mask[32] = 0x10;
        assert_eq!(
            validate_actions(&masked(k::IPV6, &value(0, 5), &mask), &udp),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&set(a(k::IPV6, &value(6, 0))), &key_of(&tcp4())),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn transport_ports_need_their_protocol() {
        let tcp = key_of(&tcp4());
        assert_eq!(validate_actions(&set(tu::l4(k::TCP, 1, 2)), &tcp), Ok(()));
        assert_eq!(
            validate_actions(&masked(k::TCP, &[0, 1, 0, 0], &[0, 0xff, 0, 0]), &tcp),
            Ok(())
        );
        assert_eq!(
            validate_actions(&set(tu::l4(k::UDP, 1, 2)), &tcp),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&set(tu::l4(k::SCTP, 1, 2)), &tcp),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&set(tu::l4(k::UDP, 1, 2)), &udp6()),
            Ok(())
        );
        // A wildcarded protocol (masked key) is not TCP.
        let m = parse_match(&tcp4(), Some(&be16a(k::ETHERTYPE, 0xffff))).unwrap();
        let masked_key = m.key.masked(&m.mask);
        assert_eq!(
            validate_actions(&set(tu::l4(k::TCP, 1, 2)), &masked_key),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn conntrack_metadata_targets() {
        let tcp = key_of(&tcp4());
        // Accepted at install, as Linux's validate_set.
        for action in [
            set(u32a(k::CT_MARK, 1)),
            set(a(k::CT_LABELS, &[0; 16])),
            masked(k::CT_MARK, &[0; 4], &[0xff; 4]),
        ] {
            assert_eq!(validate_actions(&action, &tcp), Ok(()), "{action:02x?}");
        }
    }

    #[test]
    fn tunnel_as_validate_and_copy_set_tun() {
        use crate::ovs::tunnel as t;
        let tcp = key_of(&tcp4());
        let tunnel = |extra: &[Vec<u8>]| {
            let base = [a(t::IPV4_DST, &[1, 1, 1, 1]), a(t::TTL, &[64])];
            nest(k::TUNNEL, &[&base[..], extra].concat())
        };
        let geneve = |opts: &[u8]| tunnel(&[a(t::GENEVE_OPTS, opts)]);
        for ok in [
            tunnel(&[]),
            tunnel(&[a(t::ID, &[0, 0, 0, 0, 0, 0, 0, 5]), a(t::CSUM, &[])]),
            geneve(&[]),
            geneve(&[0x01, 0x02, 0x80, 0x01, 1, 2, 3, 4]),
            tunnel(&[nest(
                t::VXLAN_OPTS,
                &[u32a(crate::ovs::vport::VXLAN_EXT_GBP, 7)],
            )]),
        ] {
            assert_eq!(
                validate_actions(&set(ok.clone()), &tcp),
                Ok(()),
                "{ok:02x?}"
            );
        }
        let v6_mixed = tunnel(&[a(t::IPV6_SRC, &[1; 16])]);
        let no_ttl = nest(k::TUNNEL, &[a(t::IPV4_DST, &[1, 1, 1, 1])]);
        let no_dst = nest(k::TUNNEL, &[a(t::TTL, &[1])]);
        for bad in [
            v6_mixed,
            no_ttl,
            no_dst,
            // An option whose length runs past the options; a header cut short.
            geneve(&[0, 1, 2, 2, 0, 0, 0, 0]),
            geneve(&[0, 1, 2, 0, 0, 1, 2, 1]),
            geneve(&[0; 6]),
        ] {
            assert_eq!(
                validate_actions(&set(bad.clone()), &tcp),
                Err(Errno::Inval),
                "{bad:02x?}"
            );
        }
        // Masked tunnel set is refused.
        let t = tunnel(&[]);
        let ty = u16::from_ne_bytes([t[2], t[3]]);
        let value = &t[4..];
        let doubled = a(ty, &[value, value].concat());
        assert_eq!(
            validate_actions(&a(act::SET_MASKED, &doubled), &tcp),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn icmp_type_and_code_on_icmp_flows() {
        let icmp4 = key_of(
            &[
                u32a(k::IN_PORT, 1),
                eth(),
                be16a(k::ETHERTYPE, 0x0800),
                tu::ipv4(1, 0),
                a(k::ICMP, &[8, 0]),
            ]
            .concat(),
        );
        let icmp6 = key_of(
            &[
                u32a(k::IN_PORT, 1),
                eth(),
                be16a(k::ETHERTYPE, 0x86dd),
                tu::ipv6(58, 0),
                a(k::ICMPV6, &[128, 0]),
            ]
            .concat(),
        );
        assert_eq!(validate_actions(&set(a(k::ICMP, &[0, 0])), &icmp4), Ok(()));
        assert_eq!(
            validate_actions(&masked(k::ICMPV6, &[129, 0], &[0xff, 0]), &icmp6),
            Ok(())
        );
        assert_eq!(
            validate_actions(&set(a(k::ICMPV6, &[0, 0])), &icmp4),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&set(a(k::ICMP, &[0, 0])), &icmp6),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn fields_that_cannot_be_set() {
        let tcp = key_of(&tcp4());
        let never = [
            set(u32a(k::IN_PORT, 1)),
            set(u32a(k::CT_STATE, 1)),
            set(a(k::CT_ZONE, &[0, 0])),
            set(be16a(k::VLAN, 0x1001)),
            set(be16a(k::ETHERTYPE, 0x0800)),
            set(a(k::ICMP, &[0, 0])),
            set(a(k::ARP, &[0; 24])),
            set(a(k::ND, &[0; 28])),
            set(u32a(k::RECIRC_ID, 1)),
            set(u32a(k::PACKET_TYPE, 0)),
            set(a(k::MAX + 1, &[])),
        ];
        for action in never {
            assert_eq!(
                validate_actions(&action, &tcp),
                Err(Errno::Inval),
                "{action:02x?}"
            );
        }
    }

    #[test]
    fn one_key_attribute_of_the_right_length() {
        let tcp = key_of(&tcp4());
        let two = a(
            act::SET,
            &[u32a(k::PRIORITY, 1), u32a(k::SKB_MARK, 1)].concat(),
        );
        assert_eq!(validate_actions(&two, &tcp), Err(Errno::Inval));
        assert_eq!(validate_actions(&a(act::SET, &[]), &tcp), Err(Errno::Inval));
        assert_eq!(
            validate_actions(&set(a(k::PRIORITY, &[0; 2])), &tcp),
            Err(Errno::Inval)
        );
        // Masked: value and mask of the key's length each.
        assert_eq!(
            validate_actions(&a(act::SET_MASKED, &u32a(k::PRIORITY, 1)), &tcp),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&a(act::SET_MASKED, &a(k::PRIORITY, &[0; 9])), &tcp),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&masked(k::PRIORITY, &[1, 0, 0, 0], &[0xff; 4]), &tcp),
            Ok(())
        );
    }
}
