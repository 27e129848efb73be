//! Payload layouts of the fixed-size key and action attributes, as
//! `openvswitch.h` declares them (network byte order where the header says
//! `__be`, host order otherwise).

use zerocopy::byteorder::native_endian;
use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::netlink::Errno;

/// Views `bytes` as `T`; the length must be exact.
pub(super) fn view<T: FromBytes + KnownLayout + Immutable + Unaligned>(
    bytes: &[u8],
) -> Result<&T, Errno> {
    T::ref_from_bytes(bytes).map_err(|_| Errno::Inval)
}

/// `struct ovs_key_ethernet`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Ethernet {
    pub src: [u8; 6],
    pub dst: [u8; 6],
}

/// `struct ovs_key_ipv4`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Ipv4 {
    pub src: U32,
    pub dst: U32,
    pub proto: u8,
    pub tos: u8,
    pub ttl: u8,
    pub frag: u8,
}

/// `struct ovs_key_ipv6`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Ipv6 {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub label: U32,
    pub proto: u8,
    pub tclass: u8,
    pub hlimit: u8,
    pub frag: u8,
}

/// `struct ovs_key_tcp` / `ovs_key_udp` / `ovs_key_sctp`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Ports {
    pub src: U16,
    pub dst: U16,
}

/// `struct ovs_key_icmp` / `ovs_key_icmpv6`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Icmp {
    pub ty: u8,
    pub code: u8,
}

/// `struct ovs_key_arp` (22 bytes of fields, padded to 24).
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Arp {
    pub sip: U32,
    pub tip: U32,
    pub op: U16,
    pub sha: [u8; 6],
    pub tha: [u8; 6],
    pub pad: [u8; 2],
}

/// `struct ovs_key_nd`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Nd {
    pub target: [u8; 16],
    pub sll: [u8; 6],
    pub tll: [u8; 6],
}

/// `struct ovs_key_ct_tuple_ipv4` (13 bytes of fields, padded to 16).
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct CtTuple4 {
    pub src: U32,
    pub dst: U32,
    pub src_port: U16,
    pub dst_port: U16,
    pub proto: u8,
    pub pad: [u8; 3],
}

/// `struct ovs_key_ct_tuple_ipv6` (37 bytes of fields, padded to 40).
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct CtTuple6 {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: U16,
    pub dst_port: U16,
    pub proto: u8,
    pub pad: [u8; 3],
}

/// `struct ovs_nsh_key_base`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct NshBase {
    pub flags: u8,
    pub ttl: u8,
    pub mdtype: u8,
    pub np: u8,
    pub path_hdr: U32,
}

/// `struct ovs_nsh_key_md1`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct NshMd1 {
    pub context: [U32; 4],
}

/// `struct ovs_action_push_vlan`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct PushVlan {
    pub tpid: U16,
    pub tci: U16,
}

/// `struct ovs_action_push_mpls` (6 bytes of fields, padded to 8).
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct PushMpls {
    pub lse: U32,
    pub ethertype: U16,
    pub pad: [u8; 2],
}

/// `struct ovs_action_add_mpls`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct AddMpls {
    pub lse: U32,
    pub ethertype: U16,
    pub tun_flags: native_endian::U16,
}

/// `OVS_MPLS_L3_TUNNEL_FLAG_MASK`: add the label after the L2 header.
pub(super) const MPLS_L3_TUNNEL: u16 = 1 << 0;

/// `struct ovs_action_hash`.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub(super) struct Hash {
    pub alg: native_endian::U32,
    pub basis: native_endian::U32,
}

/// Reads a host-order `u32` payload of exactly 4 bytes.
pub(super) fn host_u32(bytes: &[u8]) -> Result<u32, Errno> {
    view::<native_endian::U32>(bytes).map(|v| v.get())
}

/// Reads a host-order `u16` payload of exactly 2 bytes.
pub(super) fn host_u16(bytes: &[u8]) -> Result<u16, Errno> {
    view::<native_endian::U16>(bytes).map(|v| v.get())
}

/// Reads a network-order `u16` payload of exactly 2 bytes.
pub(super) fn net_u16(bytes: &[u8]) -> Result<u16, Errno> {
    view::<U16>(bytes).map(|v| v.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn sizes_match_openvswitch_h() {
        assert_eq!(size_of::<Ethernet>(), 12);
        assert_eq!(size_of::<Ipv4>(), 12);
        assert_eq!(size_of::<Ipv6>(), 40);
        assert_eq!(size_of::<Ports>(), 4);
        assert_eq!(size_of::<Icmp>(), 2);
        assert_eq!(size_of::<Arp>(), 24);
        assert_eq!(size_of::<Nd>(), 28);
        assert_eq!(size_of::<CtTuple4>(), 16);
        assert_eq!(size_of::<CtTuple6>(), 40);
        assert_eq!(size_of::<NshBase>(), 8);
        assert_eq!(size_of::<NshMd1>(), 16);
        assert_eq!(size_of::<PushVlan>(), 4);
        assert_eq!(size_of::<PushMpls>(), 8);
        assert_eq!(size_of::<AddMpls>(), 8);
        assert_eq!(size_of::<Hash>(), 8);
    }

    #[test]
    fn views_need_exact_lengths() {
        assert_eq!(net_u16(&[0x81, 0x00]), Ok(0x8100));
        assert_eq!(net_u16(&[0x81]), Err(Errno::Inval));
        assert_eq!(host_u32(&7u32.to_ne_bytes()), Ok(7));
        assert_eq!(host_u32(&[0; 5]), Err(Errno::Inval));
        assert_eq!(host_u16(&9u16.to_ne_bytes()), Ok(9));
        let ip = view::<Ipv4>(&[10, 0, 0, 1, 10, 0, 0, 2, 6, 0, 64, 0]).unwrap();
        assert_eq!((ip.src.get(), ip.proto, ip.ttl), (0x0a00_0001, 6, 64));
    }
}
