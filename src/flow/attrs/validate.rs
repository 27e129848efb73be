//! `match_validate`: the attributes a key must carry for its Ethertype and IP
//! protocol, and the mask attributes allowed for what the mask pins down.

use super::proto::*;
use crate::flow::FlowKey;
use crate::netlink::Errno;
use crate::ovs::key as k;

const fn bit(ty: u16) -> u64 {
    1 << ty
}

/// Mask attributes that need the key's protocol pinned down by the mask.
const GATED: u64 = bit(k::IPV4)
    | bit(k::CT_ORIG_TUPLE_IPV4)
    | bit(k::IPV6)
    | bit(k::CT_ORIG_TUPLE_IPV6)
    | bit(k::TCP)
    | bit(k::TCP_FLAGS)
    | bit(k::UDP)
    | bit(k::SCTP)
    | bit(k::ICMP)
    | bit(k::ICMPV6)
    | bit(k::ARP)
    | bit(k::ND)
    | bit(k::MPLS)
    | bit(k::NSH);

/// Mask attributes allowed whatever the key holds.
const ALWAYS: u64 = bit(k::TUNNEL) | bit(k::IN_PORT) | bit(k::ETHERTYPE);

/// `key_attrs` / `mask_attrs` are the presence bits after VLAN unwrapping.
pub(super) fn match_validate(
    key: &FlowKey,
    mask: &FlowKey,
    key_attrs: u64,
    mask_attrs: u64,
) -> Result<(), Errno> {
    let mut expected = 0u64;
    let mut allowed = (key_attrs & !GATED) | ALWAYS;
    let eth_exact = mask.eth_type == 0xffff;
    let proto_exact = mask.ip_proto == 0xff;
    let mut need = |ty: u16, mask_ok: bool| {
        expected |= bit(ty);
        if mask_ok {
            allowed |= bit(ty);
        }
    };

    if key.eth_type == ETH_P_ARP || key.eth_type == ETH_P_RARP {
        need(k::ARP, eth_exact);
    }
    if is_mpls(key.eth_type) {
        need(k::MPLS, eth_exact);
    }
    if key.eth_type == ETH_P_NSH {
        need(k::NSH, eth_exact);
    }
    let v4 = key.eth_type == ETH_P_IP;
    let v6 = key.eth_type == ETH_P_IPV6;
    if v4 {
        need(k::IPV4, eth_exact);
    }
    if v6 {
        need(k::IPV6, eth_exact);
    }
    let mut nd = false;
    if (v4 || v6) && key.ip_frag != k::FRAG_LATER {
        match key.ip_proto {
            IPPROTO_UDP => need(k::UDP, proto_exact),
            IPPROTO_SCTP => need(k::SCTP, proto_exact),
            IPPROTO_TCP => {
                need(k::TCP, proto_exact);
                need(k::TCP_FLAGS, proto_exact);
            }
            IPPROTO_ICMP if v4 => need(k::ICMP, proto_exact),
            IPPROTO_ICMPV6 if v6 => {
                need(k::ICMPV6, proto_exact);
                nd = key.tp_src == ND_NEIGHBOUR_SOLICITATION
                    || key.tp_src == ND_NEIGHBOUR_ADVERTISEMENT;
                if nd {
                    need(k::ND, mask.tp_src == 0xff);
                }
            }
            _ => {}
        }
    }
    // The original-direction tuples need the IP version pinned down, and the
    // IPv6 one may not be masked together with ND (they share storage in Linux).
    if v4 && eth_exact {
        allowed |= bit(k::CT_ORIG_TUPLE_IPV4);
    }
    if v6 && eth_exact && !nd {
        allowed |= bit(k::CT_ORIG_TUPLE_IPV6);
    }

    if key_attrs & expected != expected || mask_attrs & !allowed != 0 {
        return Err(Errno::Inval);
    }
    Ok(())
}
