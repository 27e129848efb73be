//! The flow key: every field a flow can match on, in one fixed-layout,
//! padding-free struct so that a mask is the same struct and masked lookup
//! works on 64-bit words (as Linux's `sw_flow_key`).
//!
//! Conventions: multi-byte numeric fields hold *host-order values* of what
//! the wire carries in network order (an IPv4 address 10.0.0.1 is
//! `0x0a00_0001`, a TCP port 80 is `80`); byte arrays (MACs, IPv6 addresses,
//! labels, tunnel options) hold wire bytes. A mask uses the same layout:
//! a 1 bit means "this key bit matters".
//!
//! Field order puts the rarely matched fields (tunnel, NSH, conntrack tuples)
//! at the two ends so the masked word range of a common megaflow is short.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// Largest tunnel options blob (Geneve TLVs, VXLAN GBP, ERSPAN, GTP-U).
pub const TUN_OPTS_MAX: usize = 255;

/// VLAN TCI bit that marks "a tag is present" (`VLAN_CFI_MASK`).
pub const VLAN_TAG_PRESENT: u16 = 0x1000;

/// `FlowKey::mac_proto` values (`MAC_PROTO_*` in Linux).
pub const MAC_PROTO_ETHERNET: u8 = 0;
pub const MAC_PROTO_NONE: u8 = 1;

/// `TunnelKey::opts_kind`: which option format `FlowKey::tun_opts` holds.
pub const TUN_OPTS_NONE: u8 = 0;
pub const TUN_OPTS_GENEVE: u8 = 1;
pub const TUN_OPTS_VXLAN: u8 = 2;
pub const TUN_OPTS_ERSPAN: u8 = 3;
pub const TUN_OPTS_GTPU: u8 = 4;

/// `TunnelKey::flags` bits (the OVS_TUNNEL_KEY_ATTR_* flag attributes).
pub const TUN_F_DONT_FRAGMENT: u16 = 1 << 0;
pub const TUN_F_CSUM: u16 = 1 << 1;
pub const TUN_F_OAM: u16 = 1 << 2;
/// `tun_id` is meaningful (an ID attribute was present).
pub const TUN_F_KEY: u16 = 1 << 3;

#[repr(C, align(8))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct TunnelKey {
    pub id: u64,
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    pub ipv6_src: [u8; 16],
    pub ipv6_dst: [u8; 16],
    pub flags: u16,
    pub tos: u8,
    pub ttl: u8,
    pub tp_src: u16,
    pub tp_dst: u16,
    pub opts_kind: u8,
    pub pad: [u8; 7],
}

#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct CtTuple {
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    pub ipv6_src: [u8; 16],
    pub ipv6_dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: u8,
    pub pad: [u8; 3],
}

#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct NshKey {
    pub flags: u8,
    pub ttl: u8,
    pub mdtype: u8,
    pub np: u8,
    /// SPI (24 bits) << 8 | SI.
    pub path_hdr: u32,
    pub context: [u32; 4],
}

#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct FlowKey {
    /// Tunnel options, right-aligned: the last `tun_opts_len` bytes are used.
    pub tun_opts: [u8; TUN_OPTS_MAX],
    pub tun_opts_len: u8,
    pub tun: TunnelKey,

    pub recirc_id: u32,
    pub dp_hash: u32,
    pub in_port: u32,
    pub skb_mark: u32,
    pub priority: u32,
    pub ct_mark: u32,
    pub ct_zone: u16,
    /// `OVS_CS_F_*` bits.
    pub ct_state: u8,
    pub mac_proto: u8,

    pub eth_src: [u8; 6],
    pub eth_dst: [u8; 6],
    /// Ethertype after any VLAN tags; `ETH_P_802_2` (0x0004) for 802.3 frames
    /// without SNAP, which the netlink key represents by omitting ETHERTYPE.
    pub eth_type: u16,
    /// Outer tag: TCI with `VLAN_TAG_PRESENT`, and its TPID.
    pub vlan_tci: u16,
    pub vlan_tpid: u16,
    /// Inner tag of a QinQ frame.
    pub cvlan_tci: u16,
    pub cvlan_tpid: u16,

    /// IP protocol (or the low 8 bits of the ARP opcode).
    pub ip_proto: u8,
    pub ip_tos: u8,
    pub ip_ttl: u8,
    /// `OVS_FRAG_TYPE_*`.
    pub ip_frag: u8,
    /// TCP flags (12 bits).
    pub tcp_flags: u16,
    /// L4 ports; ICMP/ICMPv6 type and code.
    pub tp_src: u16,
    pub tp_dst: u16,
    /// IPv4 addresses; ARP sender/target protocol addresses.
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    pub ipv6_label: u32,
    pub ipv6_src: [u8; 16],
    pub ipv6_dst: [u8; 16],
    /// ARP sender/target hardware addresses; ND source/target link-layer.
    pub arp_sha: [u8; 6],
    pub arp_tha: [u8; 6],
    pub nd_target: [u8; 16],
    /// MPLS label stack entries, outermost first.
    pub mpls_lse: [u32; 3],
    /// Which `mpls_lse` entries are present: `(1 << count) - 1` for a stack
    /// read to its bottom (count at most 3), 0 for a stack cut short
    /// (Linux's `num_labels_mask`).
    pub mpls_labels: u32,

    pub ct_labels: [u8; 16],
    pub ct_orig: CtTuple,
    pub nsh: NshKey,
    pub pad: [u8; 4],
}

/// Size of the key in 64-bit words.
pub const KEY_WORDS: usize = core::mem::size_of::<FlowKey>() / 8;

impl Default for FlowKey {
    fn default() -> FlowKey {
        FlowKey::new_zeroed()
    }
}

impl FlowKey {
    /// The key as 64-bit words (for masking, hashing and comparison).
    pub fn words(&self) -> &[u64; KEY_WORDS] {
        zerocopy::transmute_ref!(self)
    }

    pub fn words_mut(&mut self) -> &mut [u64; KEY_WORDS] {
        zerocopy::transmute_mut!(self)
    }

    /// The tunnel options in use.
    pub fn tun_opts(&self) -> &[u8] {
        let start = TUN_OPTS_MAX.saturating_sub(usize::from(self.tun_opts_len));
        self.tun_opts.get(start..).unwrap_or_default()
    }

    /// Stores `opts` right-aligned; fails if they are longer than the area.
    pub fn set_tun_opts(&mut self, opts: &[u8]) -> bool {
        let Some(start) = TUN_OPTS_MAX.checked_sub(opts.len()) else {
            return false;
        };
        self.tun_opts = [0; TUN_OPTS_MAX];
        if let Some(dst) = self.tun_opts.get_mut(start..) {
            dst.copy_from_slice(opts);
        }
        self.tun_opts_len = opts.len() as u8;
        true
    }

    /// A tunnel key is present (a packet arrived on, or is bound for, a tunnel).
    pub fn has_tunnel(&self) -> bool {
        self.tun.ipv4_dst != 0 || self.tun.ipv6_dst != [0; 16]
    }

    pub fn has_vlan(&self) -> bool {
        self.vlan_tci & VLAN_TAG_PRESENT != 0
    }

    /// Zeroes every field a frame determines (L2 and up); metadata stays.
    pub fn clear_packet(&mut self) {
        self.mac_proto = MAC_PROTO_ETHERNET;
        self.eth_src = [0; 6];
        self.eth_dst = [0; 6];
        self.eth_type = 0;
        self.vlan_tci = 0;
        self.vlan_tpid = 0;
        self.cvlan_tci = 0;
        self.cvlan_tpid = 0;
        self.clear_network();
    }

    /// Zeroes the fields above L2 (L3, L4, MPLS, NSH).
    pub fn clear_network(&mut self) {
        self.ip_proto = 0;
        self.ip_tos = 0;
        self.ip_ttl = 0;
        self.ip_frag = 0;
        self.tcp_flags = 0;
        self.tp_src = 0;
        self.tp_dst = 0;
        self.ipv4_src = 0;
        self.ipv4_dst = 0;
        self.ipv6_label = 0;
        self.ipv6_src = [0; 16];
        self.ipv6_dst = [0; 16];
        self.arp_sha = [0; 6];
        self.arp_tha = [0; 6];
        self.nd_target = [0; 16];
        self.mpls_lse = [0; 3];
        self.mpls_labels = 0;
        self.nsh = NshKey::default();
    }

    /// The metadata of a frame fresh from a port: only its input port is
    /// known (tunnel, recirculation, hash, marks and conntrack all zero).
    pub fn reset_metadata(&mut self, in_port: u32) {
        if self.tun_opts_len != 0 {
            self.tun_opts = [0; TUN_OPTS_MAX];
            self.tun_opts_len = 0;
        }
        self.tun = TunnelKey::default();
        self.recirc_id = 0;
        self.dp_hash = 0;
        self.in_port = in_port;
        self.skb_mark = 0;
        self.priority = 0;
        self.clear_conntrack();
    }

    /// An untracked packet's conntrack fields (Linux's `ovs_ct_clear`).
    pub fn clear_conntrack(&mut self) {
        self.ct_mark = 0;
        self.ct_zone = 0;
        self.ct_state = 0;
        self.ct_labels = [0; 16];
        self.ct_orig = CtTuple::default();
    }

    /// `self & mask`, word by word.
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut out = *self;
        for (w, m) in out.words_mut().iter_mut().zip(mask.words()) {
            *w &= m;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_is_padding_free_and_word_sized() {
        assert_eq!(size_of::<TunnelKey>(), 64);
        assert_eq!(size_of::<CtTuple>(), 48);
        assert_eq!(size_of::<NshKey>(), 24);
        assert_eq!(size_of::<FlowKey>() % 8, 0);
        assert_eq!(offset_of!(FlowKey, tun), 256);
        // The common megaflow fields sit close together.
        assert!(offset_of!(FlowKey, ipv6_label) - offset_of!(FlowKey, recirc_id) <= 72);
    }

    #[test]
    fn tunnel_options_are_right_aligned() {
        let mut k = FlowKey::default();
        assert!(k.set_tun_opts(&[1, 2, 3]));
        assert_eq!(k.tun_opts(), &[1, 2, 3]);
        assert_eq!(k.tun_opts[TUN_OPTS_MAX - 1], 3);
        assert!(!k.set_tun_opts(&[0; 256]));
    }

    #[test]
    fn masking() {
        let k = FlowKey {
            in_port: 7,
            ipv4_src: 0x0a00_0001,
            ..Default::default()
        };
        let m = FlowKey {
            ipv4_src: 0xffff_ff00,
            ..Default::default()
        };
        let km = k.masked(&m);
        assert_eq!(km.in_port, 0);
        assert_eq!(km.ipv4_src, 0x0a00_0000);
    }
}
