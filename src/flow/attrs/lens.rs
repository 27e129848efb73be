//! Expected payload length of every attribute type, one table per attribute
//! space (Linux's `ovs_key_lens`, `ovs_tunnel_key_lens`,
//! `ovs_vxlan_ext_key_lens`, `ovs_nsh_key_attr_lens` and `action_lens`).
//! Parsers look the shape up here instead of checking lengths case by case.

use core::mem::size_of;

use super::wire;
use crate::netlink::Errno;
use crate::ovs::{action as act, key as k, tunnel as tun, vport};

/// The shape of one attribute type's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Len {
    /// Exactly this many bytes. Types a table leaves out are `Fixed(0)`, as in
    /// Linux: an empty payload passes the length check and the handler decides.
    Fixed(usize),
    /// Any length; the handler checks it.
    Variable,
    /// A nested attribute stream whose members this table describes.
    Nested(Table),
    /// Numbered in `openvswitch.h` but never accepted from userspace
    /// (userspace-datapath-only or kernel-internal types).
    Refused,
}

impl Len {
    /// `check_attr_len`: does a payload of `len` bytes have this shape?
    pub(super) fn fits(self, len: usize) -> bool {
        match self {
            Len::Fixed(n) => n == len,
            Len::Variable | Len::Nested(_) => true,
            Len::Refused => false,
        }
    }
}

/// An attribute type space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Table {
    Key,
    Tunnel,
    VxlanExt,
    Nsh,
    Action,
}

impl Table {
    /// The highest type number of the space.
    fn max(self) -> u16 {
        match self {
            Table::Key => k::MAX,
            Table::Tunnel => tun::GTPU_OPTS,
            Table::VxlanExt => vport::VXLAN_EXT_GBP,
            Table::Nsh => k::NSH_MD2,
            Table::Action => act::LB_OUTPUT,
        }
    }

    /// The shape of type `ty`; types beyond the space are refused.
    pub(super) fn shape(self, ty: u16) -> Len {
        if ty > self.max() {
            return Len::Refused;
        }
        match self {
            Table::Key => key(ty),
            Table::Tunnel => tunnel(ty),
            Table::VxlanExt => vxlan_ext(ty),
            Table::Nsh => nsh(ty),
            Table::Action => action(ty),
        }
    }
}

/// The shape of `ty` in `table` if a `len`-byte payload fits it; EINVAL for
/// types beyond the table, refused types and wrong lengths.
pub(super) fn expect(table: Table, ty: u16, len: usize) -> Result<Len, Errno> {
    let shape = table.shape(ty);
    if shape.fits(len) {
        Ok(shape)
    } else {
        Err(Errno::Inval)
    }
}

/// Key attribute types 0..=`OVS_KEY_ATTR_MAX`.
pub(super) const KEY_TYPES: usize = k::MAX as usize + 1;

/// `OVS_KEY_ATTR_*`.
fn key(ty: u16) -> Len {
    match ty {
        k::ENCAP => Len::Nested(Table::Key),
        k::PRIORITY => Len::Fixed(4),
        k::IN_PORT => Len::Fixed(4),
        k::ETHERNET => Len::Fixed(size_of::<wire::Ethernet>()),
        k::VLAN => Len::Fixed(2),
        k::ETHERTYPE => Len::Fixed(2),
        k::IPV4 => Len::Fixed(size_of::<wire::Ipv4>()),
        k::IPV6 => Len::Fixed(size_of::<wire::Ipv6>()),
        k::TCP => Len::Fixed(size_of::<wire::Ports>()),
        k::UDP => Len::Fixed(size_of::<wire::Ports>()),
        k::ICMP => Len::Fixed(size_of::<wire::Icmp>()),
        k::ICMPV6 => Len::Fixed(size_of::<wire::Icmp>()),
        k::ARP => Len::Fixed(size_of::<wire::Arp>()),
        k::ND => Len::Fixed(size_of::<wire::Nd>()),
        k::SKB_MARK => Len::Fixed(4),
        k::TUNNEL => Len::Nested(Table::Tunnel),
        k::SCTP => Len::Fixed(size_of::<wire::Ports>()),
        k::TCP_FLAGS => Len::Fixed(2),
        k::DP_HASH => Len::Fixed(4),
        k::RECIRC_ID => Len::Fixed(4),
        // 1 to 3 label stack entries; the handler checks the count.
        k::MPLS => Len::Variable,
        k::CT_STATE => Len::Fixed(4),
        k::CT_ZONE => Len::Fixed(2),
        k::CT_MARK => Len::Fixed(4),
        k::CT_LABELS => Len::Fixed(16),
        k::CT_ORIG_TUPLE_IPV4 => Len::Fixed(size_of::<wire::CtTuple4>()),
        k::CT_ORIG_TUPLE_IPV6 => Len::Fixed(size_of::<wire::CtTuple6>()),
        k::NSH => Len::Nested(Table::Nsh),
        k::PACKET_TYPE => Len::Refused,
        k::ND_EXTENSIONS => Len::Refused,
        k::TUNNEL_INFO => Len::Refused,
        _ => Len::Fixed(0),
    }
}

/// `OVS_TUNNEL_KEY_ATTR_*` (userspace numbering: 16 is GTPU_OPTS).
fn tunnel(ty: u16) -> Len {
    match ty {
        tun::ID => Len::Fixed(8),
        tun::IPV4_SRC => Len::Fixed(4),
        tun::IPV4_DST => Len::Fixed(4),
        tun::TOS => Len::Fixed(1),
        tun::TTL => Len::Fixed(1),
        tun::DONT_FRAGMENT => Len::Fixed(0),
        tun::CSUM => Len::Fixed(0),
        tun::OAM => Len::Fixed(0),
        tun::GENEVE_OPTS => Len::Variable,
        tun::TP_SRC => Len::Fixed(2),
        tun::TP_DST => Len::Fixed(2),
        tun::VXLAN_OPTS => Len::Nested(Table::VxlanExt),
        tun::IPV6_SRC => Len::Fixed(16),
        tun::IPV6_DST => Len::Fixed(16),
        tun::PAD => Len::Fixed(0),
        tun::ERSPAN_OPTS => Len::Variable,
        tun::GTPU_OPTS => Len::Variable,
        _ => Len::Fixed(0),
    }
}

/// `OVS_VXLAN_EXT_*` inside VXLAN_OPTS.
fn vxlan_ext(ty: u16) -> Len {
    match ty {
        vport::VXLAN_EXT_GBP => Len::Fixed(4),
        _ => Len::Fixed(0),
    }
}

/// `OVS_NSH_KEY_ATTR_*`.
fn nsh(ty: u16) -> Len {
    match ty {
        k::NSH_BASE => Len::Fixed(size_of::<wire::NshBase>()),
        k::NSH_MD1 => Len::Fixed(size_of::<wire::NshMd1>()),
        k::NSH_MD2 => Len::Variable,
        _ => Len::Fixed(0),
    }
}

/// `OVS_ACTION_ATTR_*` (userspace numbering, up to LB_OUTPUT).
fn action(ty: u16) -> Len {
    match ty {
        act::OUTPUT => Len::Fixed(4),
        act::USERSPACE => Len::Variable,
        act::SET => Len::Variable,
        act::PUSH_VLAN => Len::Fixed(size_of::<wire::PushVlan>()),
        act::POP_VLAN => Len::Fixed(0),
        act::SAMPLE => Len::Variable,
        act::RECIRC => Len::Fixed(4),
        act::HASH => Len::Fixed(size_of::<wire::Hash>()),
        // struct ovs_action_push_mpls: be32 lse, be16 ethertype, padded.
        act::PUSH_MPLS => Len::Fixed(8),
        act::POP_MPLS => Len::Fixed(2),
        act::SET_MASKED => Len::Variable,
        act::CT => Len::Variable,
        act::TRUNC => Len::Fixed(4),
        act::PUSH_ETH => Len::Fixed(size_of::<wire::Ethernet>()),
        act::POP_ETH => Len::Fixed(0),
        act::CT_CLEAR => Len::Fixed(0),
        act::PUSH_NSH => Len::Variable,
        act::POP_NSH => Len::Fixed(0),
        act::METER => Len::Fixed(4),
        act::CLONE => Len::Variable,
        act::CHECK_PKT_LEN => Len::Variable,
        // struct ovs_action_add_mpls: be32 lse, be16 ethertype, u16 tun_flags.
        act::ADD_MPLS => Len::Fixed(8),
        act::DEC_TTL => Len::Variable,
        act::DROP => Len::Fixed(4),
        act::PSAMPLE => Len::Variable,
        act::TUNNEL_PUSH => Len::Variable,
        act::TUNNEL_POP => Len::Fixed(4),
        act::LB_OUTPUT => Len::Fixed(4),
        _ => Len::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_openvswitch_h() {
        let key = |ty| Table::Key.shape(ty);
        assert_eq!(key(k::ETHERNET), Len::Fixed(12));
        assert_eq!(key(k::IPV4), Len::Fixed(12));
        assert_eq!(key(k::IPV6), Len::Fixed(40));
        assert_eq!(key(k::ARP), Len::Fixed(24));
        assert_eq!(key(k::ND), Len::Fixed(28));
        assert_eq!(key(k::CT_ORIG_TUPLE_IPV4), Len::Fixed(16));
        assert_eq!(key(k::CT_ORIG_TUPLE_IPV6), Len::Fixed(40));
        assert_eq!(key(k::ENCAP), Len::Nested(Table::Key));
        assert_eq!(key(k::TUNNEL), Len::Nested(Table::Tunnel));
        assert_eq!(key(k::NSH), Len::Nested(Table::Nsh));
        assert_eq!(key(0), Len::Fixed(0));
        assert_eq!(Table::Tunnel.shape(tun::ID), Len::Fixed(8));
        assert_eq!(Table::Tunnel.shape(tun::PAD), Len::Fixed(0));
        assert_eq!(
            Table::Tunnel.shape(tun::VXLAN_OPTS),
            Len::Nested(Table::VxlanExt)
        );
        assert_eq!(Table::Nsh.shape(k::NSH_BASE), Len::Fixed(8));
        assert_eq!(Table::VxlanExt.shape(vport::VXLAN_EXT_GBP), Len::Fixed(4));
        assert_eq!(Table::Action.shape(act::PUSH_VLAN), Len::Fixed(4));
        assert_eq!(Table::Action.shape(act::HASH), Len::Fixed(8));
        assert_eq!(Table::Action.shape(act::LB_OUTPUT), Len::Fixed(4));
        assert_eq!(Table::Action.shape(0), Len::Refused);
    }

    #[test]
    fn expect_checks_range_refusal_and_length() {
        assert_eq!(expect(Table::Key, k::IN_PORT, 4), Ok(Len::Fixed(4)));
        assert_eq!(expect(Table::Key, k::IN_PORT, 2), Err(Errno::Inval));
        assert_eq!(expect(Table::Key, k::MPLS, 12), Ok(Len::Variable));
        assert_eq!(expect(Table::Key, k::PACKET_TYPE, 4), Err(Errno::Inval));
        assert_eq!(expect(Table::Key, k::ND_EXTENSIONS, 0), Err(Errno::Inval));
        assert_eq!(expect(Table::Key, k::TUNNEL_INFO, 0), Err(Errno::Inval));
        assert_eq!(expect(Table::Key, k::MAX + 1, 0), Err(Errno::Inval));
        assert_eq!(
            expect(Table::Tunnel, tun::GTPU_OPTS + 1, 0),
            Err(Errno::Inval)
        );
        assert_eq!(expect(Table::VxlanExt, 2, 0), Err(Errno::Inval));
        assert_eq!(expect(Table::Nsh, k::NSH_MD2 + 1, 0), Err(Errno::Inval));
        assert_eq!(
            expect(Table::Action, act::LB_OUTPUT + 1, 4),
            Err(Errno::Inval)
        );
        assert_eq!(expect(Table::Action, act::OUTPUT, 2), Err(Errno::Inval));
    }
}
