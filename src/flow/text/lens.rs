//! Expected payload lengths of key attributes (`ovs_flow_key_attr_lens` and
//! the nested tables), and OVS's test of whether a mask is all-zero or
//! all-one.

use super::nl::{be16, be32, byte};
use crate::ovs::{key, tunnel};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Len {
    Fixed(usize),
    Variable,
    Nested,
}

/// The attribute namespaces whose lengths OVS checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    Key,
    Tunnel,
    Vxlan,
    Nsh,
}

impl Table {
    /// The length rule for `ty`, `None` beyond the table's last type.
    pub(crate) fn len(self, ty: u16) -> Option<Len> {
        use Len::{Fixed, Nested, Variable};
        Some(match self {
            Table::Key => match ty {
                key::ENCAP | key::TUNNEL | key::NSH => Nested,
                key::PRIORITY | key::IN_PORT | key::SKB_MARK | key::DP_HASH | key::RECIRC_ID => {
                    Fixed(4)
                }
                key::CT_STATE | key::CT_MARK | key::PACKET_TYPE => Fixed(4),
                key::ETHERNET => Fixed(12),
                key::VLAN | key::ETHERTYPE | key::TCP_FLAGS | key::CT_ZONE => Fixed(2),
                key::IPV4 => Fixed(12),
                key::IPV6 | key::CT_ORIG_TUPLE_IPV6 => Fixed(40),
                key::TCP | key::UDP | key::SCTP => Fixed(4),
                key::ICMP | key::ICMPV6 => Fixed(2),
                key::ARP => Fixed(24),
                key::ND => Fixed(28),
                key::ND_EXTENSIONS => Fixed(8),
                key::MPLS => Variable,
                key::CT_LABELS | key::CT_ORIG_TUPLE_IPV4 => Fixed(16),
                0 | key::TUNNEL_INFO => Fixed(0),
                _ => return None,
            },
            Table::Tunnel => match ty {
                tunnel::ID => Fixed(8),
                tunnel::IPV4_SRC | tunnel::IPV4_DST => Fixed(4),
                tunnel::TOS | tunnel::TTL => Fixed(1),
                tunnel::DONT_FRAGMENT | tunnel::CSUM | tunnel::OAM | tunnel::PAD => Fixed(0),
                tunnel::GENEVE_OPTS | tunnel::ERSPAN_OPTS | tunnel::GTPU_OPTS => Variable,
                tunnel::TP_SRC | tunnel::TP_DST => Fixed(2),
                tunnel::VXLAN_OPTS => Nested,
                tunnel::IPV6_SRC | tunnel::IPV6_DST => Fixed(16),
                _ => return None,
            },
            // Types up to `OVS_VXLAN_EXT_GPE` (8) are in the table; only
            // GBP has a length.
            Table::Vxlan => match ty {
                1 => Fixed(4),
                0..=8 => Fixed(0),
                _ => return None,
            },
            Table::Nsh => match ty {
                0 => Fixed(0),
                key::NSH_BASE => Fixed(8),
                key::NSH_MD1 => Fixed(16),
                key::NSH_MD2 => Variable,
                _ => return None,
            },
        })
    }
}

/// `odp_mask_is_constant__`: is this mask (for key attribute type `ty`) all
/// zeros (`ones == false`) or all ones? Fixed structures are read past a
/// short payload as zeros.
pub(crate) fn mask_is_constant(ty: u16, m: &[u8], ones: bool) -> bool {
    let c = if ones { 0xffu8 } else { 0 };
    let all = |n: usize| (0..n).all(|i| byte(m, i) == c);
    match ty {
        key::PRIORITY
        | key::IN_PORT
        | key::ETHERNET
        | key::VLAN
        | key::ETHERTYPE
        | key::IPV4
        | key::TCP
        | key::UDP
        | key::ICMP
        | key::ICMPV6
        | key::ND
        | key::ND_EXTENSIONS
        | key::SKB_MARK
        | key::TUNNEL
        | key::SCTP
        | key::DP_HASH
        | key::RECIRC_ID
        | key::MPLS
        | key::CT_STATE
        | key::CT_ZONE
        | key::CT_MARK
        | key::CT_LABELS
        | key::PACKET_TYPE
        | key::NSH => all(m.len()),
        key::TCP_FLAGS => (be16(m, 0) & 0x0fff) == (u16::from_be_bytes([c, c]) & 0x0fff),
        key::IPV6 => {
            let label = if ones { 0xfffff } else { 0 };
            (be32(m, 32) & 0xfffff) == label && (36..40).all(|i| byte(m, i) == c) && all(32)
        }
        key::ARP => all(22),
        key::CT_ORIG_TUPLE_IPV4 => all(13),
        key::CT_ORIG_TUPLE_IPV6 => all(37),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert!(mask_is_constant(key::TCP_FLAGS, &[0x0f, 0xff], true));
        assert!(mask_is_constant(key::TCP_FLAGS, &[0xf0, 0x00], false));
        let mut v6 = [0xffu8; 40];
        v6[32] = 0;
        v6[33] = 0x0f;
        assert!(mask_is_constant(key::IPV6, &v6, true));
        v6[39] = 0;
        assert!(!mask_is_constant(key::IPV6, &v6, true));
        assert!(mask_is_constant(key::ARP, &[0u8; 22], false));
        assert!(!mask_is_constant(key::ENCAP, &[], false));
        assert_eq!(Table::Key.len(32), None);
        assert_eq!(Table::Tunnel.len(tunnel::PAD), Some(Len::Fixed(0)));
    }
}
