//! Typed, checked views of the headers extraction reads: byte-aligned
//! structs that `view` lays over the frame only when all of the header is
//! there, so no read can go past the end.

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

/// Ethertypes (host-order values).
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const RARP: u16 = 0x8035;
    pub const VLAN_8021Q: u16 = 0x8100;
    pub const VLAN_8021AD: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS_UC: u16 = 0x8847;
    pub const MPLS_MC: u16 = 0x8848;
    pub const NSH: u16 = 0x894f;
    /// `ETH_P_802_2`: an 802.3 frame whose LLC header is not SNAP.
    pub const LLC: u16 = 0x0004;
    /// Smallest ethertype; a smaller type/length field is an 802.3 length.
    pub const MIN: u16 = 0x0600;
}

/// IP protocol numbers, IPv6 extension headers included.
pub mod ipproto {
    pub const HOPOPTS: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NONE: u8 = 59;
    pub const DSTOPTS: u8 = 60;
    pub const SCTP: u8 = 132;
}

/// The header `H` at byte `off` of `frame`, if the frame holds all of it.
#[inline(always)]
pub(super) fn view<H: FromBytes + KnownLayout + Immutable>(frame: &[u8], off: usize) -> Option<&H> {
    H::ref_from_prefix(frame.get(off..)?).ok().map(|(h, _)| h)
}

/// Destination and source MACs (the type/length field follows).
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct EthAddrs {
    pub dst: [u8; 6],
    pub src: [u8; 6],
}

/// A VLAN tag together with the type field after it: Linux takes a tag only
/// when both are present.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct VlanTag {
    pub tpid: U16,
    pub tci: U16,
    pub next: U16,
}

/// 802.2 LLC header with a SNAP extension.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct LlcSnap {
    pub dsap: u8,
    pub ssap: u8,
    pub _ctrl: u8,
    pub oui: [u8; 3],
    pub ty: U16,
}

#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct Ipv4Header {
    pub ver_ihl: u8,
    pub tos: u8,
    pub _len: U16,
    pub _id: U16,
    pub frag: U16,
    pub ttl: u8,
    pub proto: u8,
    pub _csum: U16,
    pub src: U32,
    pub dst: U32,
}

#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct Ipv6Header {
    pub ver_tc_label: U32,
    pub _len: U16,
    pub next: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

/// The first two bytes every IPv6 extension header shares.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct ExtHeader {
    pub next: u8,
    pub len: u8,
}

/// The part of a routing header (or fragment header) that must be present
/// before the walk moves on; for a fragment header `word` is the offset/M field.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct ExtHeaderWord {
    pub _next: u8,
    pub _len: u8,
    pub word: U16,
}

#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct TcpHeader {
    pub src: U16,
    pub dst: U16,
    pub _seq: U32,
    pub _ack: U32,
    pub off_flags: U16,
    pub _window: U16,
    pub _csum: U16,
    pub _urgent: U16,
}

#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct UdpHeader {
    pub src: U16,
    pub dst: U16,
    pub _len: U16,
    pub _csum: U16,
}

#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct SctpHeader {
    pub src: U16,
    pub dst: U16,
    pub _vtag: U32,
    pub _csum: U32,
}

/// ICMP and ICMPv6 share this 8-byte header.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct IcmpHeader {
    pub ty: u8,
    pub code: u8,
    pub _csum: U16,
    pub _rest: U32,
}

/// Neighbour solicitation or advertisement, before its options.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct NdMsg {
    pub _icmp: IcmpHeader,
    pub target: [u8; 16],
}

/// An ND option header with the 6 bytes that follow it (a link-layer
/// address when the option is 8 bytes long).
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct NdOpt {
    pub ty: u8,
    /// In units of 8 bytes.
    pub len: u8,
    pub lladdr: [u8; 6],
}

/// ARP for Ethernet hardware and IPv4 protocol addresses.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct ArpEth {
    pub hrd: U16,
    pub pro: U16,
    pub hln: u8,
    pub pln: u8,
    pub op: U16,
    pub sha: [u8; 6],
    pub spa: U32,
    pub tha: [u8; 6],
    pub tpa: U32,
}

/// NSH base header and service path header.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct NshBase {
    pub ver_flags_ttl_len: U16,
    pub mdtype: u8,
    pub np: u8,
    pub path_hdr: U32,
}

/// NSH with MD type 1 fixed-length context.
#[repr(C)]
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
pub(super) struct NshMd1 {
    pub _base: NshBase,
    pub context: [U32; 4],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn header_sizes_match_the_wire() {
        assert_eq!(size_of::<EthAddrs>(), 12);
        assert_eq!(size_of::<VlanTag>(), 6);
        assert_eq!(size_of::<LlcSnap>(), 8);
        assert_eq!(size_of::<Ipv4Header>(), 20);
        assert_eq!(size_of::<Ipv6Header>(), 40);
        assert_eq!(size_of::<TcpHeader>(), 20);
        assert_eq!(size_of::<UdpHeader>(), 8);
        assert_eq!(size_of::<SctpHeader>(), 12);
        assert_eq!(size_of::<IcmpHeader>(), 8);
        assert_eq!(size_of::<NdMsg>(), 24);
        assert_eq!(size_of::<NdOpt>(), 8);
        assert_eq!(size_of::<ArpEth>(), 28);
        assert_eq!(size_of::<NshBase>(), 8);
        assert_eq!(size_of::<NshMd1>(), 24);
    }

    #[test]
    fn view_needs_the_whole_header() {
        let bytes = [0u8, 1, 2, 3, 4, 5, 6, 7];
        let h: &UdpHeader = view(&bytes, 0).unwrap();
        assert_eq!(h.src.get(), 0x0001);
        assert_eq!(h.dst.get(), 0x0203);
        assert!(view::<UdpHeader>(&bytes, 1).is_none());
        assert!(view::<ExtHeader>(&bytes, 6).is_some());
        assert!(view::<ExtHeader>(&bytes, 7).is_none());
        assert!(view::<ExtHeader>(&bytes, usize::MAX).is_none());
    }
}
