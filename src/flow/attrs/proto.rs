//! Ethertypes and protocol numbers the key and action rules refer to.

/// 802.3 frames without SNAP: the key's `eth_type` when ETHERTYPE is omitted.
pub(super) const ETH_P_802_2: u16 = 0x0004;
/// Smallest value that is an Ethertype rather than an 802.3 length.
pub(super) const ETH_P_802_3_MIN: u16 = 0x0600;
pub(super) const ETH_P_IP: u16 = 0x0800;
pub(super) const ETH_P_ARP: u16 = 0x0806;
pub(super) const ETH_P_RARP: u16 = 0x8035;
pub(super) const ETH_P_8021Q: u16 = 0x8100;
pub(super) const ETH_P_8021AD: u16 = 0x88a8;
pub(super) const ETH_P_IPV6: u16 = 0x86dd;
pub(super) const ETH_P_MPLS_UC: u16 = 0x8847;
pub(super) const ETH_P_MPLS_MC: u16 = 0x8848;
pub(super) const ETH_P_NSH: u16 = 0x894f;
/// Transparent Ethernet bridging: an Ethernet frame follows.
pub(super) const ETH_P_TEB: u16 = 0x6558;

pub(super) const IPPROTO_ICMP: u8 = 1;
pub(super) const IPPROTO_TCP: u8 = 6;
pub(super) const IPPROTO_UDP: u8 = 17;
pub(super) const IPPROTO_ICMPV6: u8 = 58;
pub(super) const IPPROTO_SCTP: u8 = 132;

/// ICMPv6 neighbour solicitation / advertisement: the types that carry ND fields.
pub(super) const ND_NEIGHBOUR_SOLICITATION: u16 = 135;
pub(super) const ND_NEIGHBOUR_ADVERTISEMENT: u16 = 136;

/// NSH metadata type 1 (fixed-length context headers).
pub(super) const NSH_M_TYPE1: u8 = 1;
pub(super) const NSH_M_TYPE2: u8 = 2;

/// Ethernet header length: the smallest truncation length.
pub(super) const ETH_HLEN: u32 = 14;

/// `eth_type_vlan`: 802.1Q or 802.1ad.
pub(super) const fn is_vlan(eth_type: u16) -> bool {
    eth_type == ETH_P_8021Q || eth_type == ETH_P_8021AD
}

/// `eth_p_mpls`.
pub(super) const fn is_mpls(eth_type: u16) -> bool {
    eth_type == ETH_P_MPLS_UC || eth_type == ETH_P_MPLS_MC
}

pub(super) const fn is_ip(eth_type: u16) -> bool {
    eth_type == ETH_P_IP || eth_type == ETH_P_IPV6
}

/// NSH next-protocol values (`TUN_P_*`).
pub(super) const TUN_P_IPV4: u8 = 1;
pub(super) const TUN_P_IPV6: u8 = 2;
pub(crate) const TUN_P_ETHERNET: u8 = 3;
pub(super) const TUN_P_NSH: u8 = 4;
pub(super) const TUN_P_MPLS_UC: u8 = 5;

/// `tun_p_from_eth_p`: the NSH next protocol of an Ethertype, 0 if none.
pub(crate) const fn tun_p_from_eth_p(eth_type: u16) -> u8 {
    match eth_type {
        ETH_P_IP => TUN_P_IPV4,
        ETH_P_IPV6 => TUN_P_IPV6,
        ETH_P_NSH => TUN_P_NSH,
        ETH_P_MPLS_UC => TUN_P_MPLS_UC,
        _ => 0,
    }
}

/// `tun_p_to_eth_p`: the Ethertype of an NSH next protocol, 0 if none.
pub(crate) const fn tun_p_to_eth_p(np: u8) -> u16 {
    match np {
        TUN_P_IPV4 => ETH_P_IP,
        TUN_P_IPV6 => ETH_P_IPV6,
        TUN_P_ETHERNET => ETH_P_TEB,
        TUN_P_NSH => ETH_P_NSH,
        TUN_P_MPLS_UC => ETH_P_MPLS_UC,
        _ => 0,
    }
}
