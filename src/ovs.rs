//! `include/linux/openvswitch.h` and `OvsDpInterfaceExt.h` numbering, as
//! compiled without `__KERNEL__` (what Windows userspace uses).

/// Fixed generic-netlink family ids (no GETFAMILY on Windows).
pub mod family {
    pub const CONTROL: u16 = 0x11;
    pub const DATAPATH: u16 = 0x12;
    pub const PACKET: u16 = 0x13;
    pub const VPORT: u16 = 0x14;
    pub const FLOW: u16 = 0x15;
    pub const NETDEV: u16 = 0x16;
    pub const CT: u16 = 0x17;
    pub const CT_LIMIT: u16 = 0x18;
    pub const METER: u16 = 0x19;
    /// Netfilter conntrack message types (`NFNL_SUBSYS_CTNETLINK << 8 | cmd`).
    pub const NFNL_CT_GET: u16 = 0x0101;
    pub const NFNL_CT_DEL: u16 = 0x0102;

    pub const CONTROL_VERSION: u8 = 1;
    pub const DATAPATH_VERSION: u8 = 2;
    pub const PACKET_VERSION: u8 = 1;
    pub const VPORT_VERSION: u8 = 1;
    pub const FLOW_VERSION: u8 = 1;
    pub const NETDEV_VERSION: u8 = 1;
    pub const CT_LIMIT_VERSION: u8 = 1;
    pub const METER_VERSION: u8 = 1;

    /// The vport multicast group (`OVS_WIN_NL_VPORT_MCGRP_ID`).
    pub const VPORT_MCGRP: u32 = 101;
}

/// `enum ovs_win_control_cmd` and its attributes (type 0 is a real attribute).
pub mod ctrl {
    pub const CMD_WIN_PEND_REQ: u8 = 0;
    pub const CMD_WIN_PEND_PACKET_REQ: u8 = 1;
    pub const CMD_MC_SUBSCRIBE_REQ: u8 = 2;
    pub const CMD_PACKET_SUBSCRIBE_REQ: u8 = 3;
    pub const CMD_EVENT_NOTIFY: u8 = 4;
    pub const CMD_READ_NOTIFY: u8 = 5;
    pub const CMD_SOCK_PROP: u8 = 6;

    pub const ATTR_MCAST_GRP: u16 = 0;
    pub const ATTR_MCAST_JOIN: u16 = 1;
    pub const ATTR_PACKET_SUBSCRIBE: u16 = 2;
    pub const ATTR_PACKET_PID: u16 = 3;

    pub const ATTR_SOCK_PROTO: u16 = 0;
    pub const ATTR_SOCK_PID: u16 = 1;
}

pub mod dp {
    pub const CMD_NEW: u8 = 1;
    pub const CMD_DEL: u8 = 2;
    pub const CMD_GET: u8 = 3;
    pub const CMD_SET: u8 = 4;

    pub const ATTR_NAME: u16 = 1;
    pub const ATTR_UPCALL_PID: u16 = 2;
    pub const ATTR_STATS: u16 = 3;
    pub const ATTR_MEGAFLOW_STATS: u16 = 4;
    pub const ATTR_USER_FEATURES: u16 = 5;
    pub const ATTR_PAD: u16 = 6;
    pub const ATTR_MASKS_CACHE_SIZE: u16 = 7;
    pub const ATTR_PER_CPU_PIDS: u16 = 8;

    pub const F_UNALIGNED: u32 = 1 << 0;
    pub const F_VPORT_PIDS: u32 = 1 << 1;
    pub const F_TC_RECIRC_SHARING: u32 = 1 << 2;
    pub const F_DISPATCH_UPCALL_PER_CPU: u32 = 1 << 3;

    /// The one datapath's name.
    pub const NAME: &str = "ovs-system";
}

pub mod packet {
    pub const CMD_MISS: u8 = 1;
    pub const CMD_ACTION: u8 = 2;
    pub const CMD_EXECUTE: u8 = 3;

    pub const ATTR_PACKET: u16 = 1;
    pub const ATTR_KEY: u16 = 2;
    pub const ATTR_ACTIONS: u16 = 3;
    pub const ATTR_USERDATA: u16 = 4;
    pub const ATTR_EGRESS_TUN_KEY: u16 = 5;
    pub const ATTR_PROBE: u16 = 8;
    pub const ATTR_MRU: u16 = 9;
    pub const ATTR_LEN: u16 = 10;
    pub const ATTR_HASH: u16 = 11;
    pub const ATTR_UPCALL_PID: u16 = 12;
}

pub mod vport {
    pub const CMD_NEW: u8 = 1;
    pub const CMD_DEL: u8 = 2;
    pub const CMD_GET: u8 = 3;
    pub const CMD_SET: u8 = 4;

    pub const ATTR_PORT_NO: u16 = 1;
    pub const ATTR_TYPE: u16 = 2;
    pub const ATTR_NAME: u16 = 3;
    pub const ATTR_OPTIONS: u16 = 4;
    pub const ATTR_UPCALL_PID: u16 = 5;
    pub const ATTR_STATS: u16 = 6;
    pub const ATTR_PAD: u16 = 7;
    pub const ATTR_IFINDEX: u16 = 8;
    pub const ATTR_NETNSID: u16 = 9;
    pub const ATTR_UPCALL_STATS: u16 = 10;

    pub const TYPE_NETDEV: u32 = 1;
    pub const TYPE_INTERNAL: u32 = 2;
    pub const TYPE_GRE: u32 = 3;
    pub const TYPE_VXLAN: u32 = 4;
    pub const TYPE_GENEVE: u32 = 5;

    pub const TUNNEL_ATTR_DST_PORT: u16 = 1;
    pub const TUNNEL_ATTR_EXTENSION: u16 = 2;
    pub const VXLAN_EXT_GBP: u16 = 1;

    /// `OVSP_LOCAL`: never assigned on Windows (there is no LOCAL vport).
    pub const PORT_LOCAL: u32 = 0;
    /// `OVS_DPPORT_NUMBER_INVALID`.
    pub const PORT_INVALID: u32 = 65535;
    /// `IFNAMSIZ` on Windows (`IF_NAMESIZE`, terminator included).
    pub const NAME_MAX: u16 = 256;
}

pub mod netdev {
    pub const CMD_GET: u8 = 1;

    pub const ATTR_PORT_NO: u16 = 1;
    pub const ATTR_TYPE: u16 = 2;
    pub const ATTR_NAME: u16 = 3;
    pub const ATTR_MAC_ADDR: u16 = 4;
    pub const ATTR_MTU: u16 = 5;
    pub const ATTR_IF_FLAGS: u16 = 6;

    pub const IFF_UP: u32 = 1 << 0;
    pub const IFF_PROMISC: u32 = 1 << 1;
}

pub mod flow {
    pub const CMD_NEW: u8 = 1;
    pub const CMD_DEL: u8 = 2;
    pub const CMD_GET: u8 = 3;
    pub const CMD_SET: u8 = 4;

    pub const ATTR_KEY: u16 = 1;
    pub const ATTR_ACTIONS: u16 = 2;
    pub const ATTR_STATS: u16 = 3;
    pub const ATTR_TCP_FLAGS: u16 = 4;
    pub const ATTR_USED: u16 = 5;
    pub const ATTR_CLEAR: u16 = 6;
    pub const ATTR_MASK: u16 = 7;
    pub const ATTR_PROBE: u16 = 8;
    pub const ATTR_UFID: u16 = 9;
    pub const ATTR_UFID_FLAGS: u16 = 10;
    pub const ATTR_PAD: u16 = 11;

    pub const UFID_F_OMIT_KEY: u32 = 1 << 0;
    pub const UFID_F_OMIT_MASK: u32 = 1 << 1;
    pub const UFID_F_OMIT_ACTIONS: u32 = 1 << 2;
}

/// `enum ovs_key_attr`.
pub mod key {
    pub const ENCAP: u16 = 1;
    pub const PRIORITY: u16 = 2;
    pub const IN_PORT: u16 = 3;
    pub const ETHERNET: u16 = 4;
    pub const VLAN: u16 = 5;
    pub const ETHERTYPE: u16 = 6;
    pub const IPV4: u16 = 7;
    pub const IPV6: u16 = 8;
    pub const TCP: u16 = 9;
    pub const UDP: u16 = 10;
    pub const ICMP: u16 = 11;
    pub const ICMPV6: u16 = 12;
    pub const ARP: u16 = 13;
    pub const ND: u16 = 14;
    pub const SKB_MARK: u16 = 15;
    pub const TUNNEL: u16 = 16;
    pub const SCTP: u16 = 17;
    pub const TCP_FLAGS: u16 = 18;
    pub const DP_HASH: u16 = 19;
    pub const RECIRC_ID: u16 = 20;
    pub const MPLS: u16 = 21;
    pub const CT_STATE: u16 = 22;
    pub const CT_ZONE: u16 = 23;
    pub const CT_MARK: u16 = 24;
    pub const CT_LABELS: u16 = 25;
    pub const CT_ORIG_TUPLE_IPV4: u16 = 26;
    pub const CT_ORIG_TUPLE_IPV6: u16 = 27;
    pub const NSH: u16 = 28;
    pub const PACKET_TYPE: u16 = 29;
    pub const ND_EXTENSIONS: u16 = 30;
    pub const TUNNEL_INFO: u16 = 31;
    pub const MAX: u16 = 31;

    pub const FRAG_NONE: u8 = 0;
    pub const FRAG_FIRST: u8 = 1;
    pub const FRAG_LATER: u8 = 2;

    pub const CS_NEW: u32 = 0x01;
    pub const CS_ESTABLISHED: u32 = 0x02;
    pub const CS_RELATED: u32 = 0x04;
    pub const CS_REPLY_DIR: u32 = 0x08;
    pub const CS_INVALID: u32 = 0x10;
    pub const CS_TRACKED: u32 = 0x20;
    pub const CS_SRC_NAT: u32 = 0x40;
    pub const CS_DST_NAT: u32 = 0x80;

    pub const NSH_BASE: u16 = 1;
    pub const NSH_MD1: u16 = 2;
    pub const NSH_MD2: u16 = 3;
}

/// `enum ovs_tunnel_key_attr` (ID is 0).
pub mod tunnel {
    pub const ID: u16 = 0;
    pub const IPV4_SRC: u16 = 1;
    pub const IPV4_DST: u16 = 2;
    pub const TOS: u16 = 3;
    pub const TTL: u16 = 4;
    pub const DONT_FRAGMENT: u16 = 5;
    pub const CSUM: u16 = 6;
    pub const OAM: u16 = 7;
    pub const GENEVE_OPTS: u16 = 8;
    pub const TP_SRC: u16 = 9;
    pub const TP_DST: u16 = 10;
    pub const VXLAN_OPTS: u16 = 11;
    pub const IPV6_SRC: u16 = 12;
    pub const IPV6_DST: u16 = 13;
    pub const PAD: u16 = 14;
    pub const ERSPAN_OPTS: u16 = 15;
    pub const GTPU_OPTS: u16 = 16;
}

/// `enum ovs_action_attr` and the nested enums of actions.
pub mod action {
    pub const OUTPUT: u16 = 1;
    pub const USERSPACE: u16 = 2;
    pub const SET: u16 = 3;
    pub const PUSH_VLAN: u16 = 4;
    pub const POP_VLAN: u16 = 5;
    pub const SAMPLE: u16 = 6;
    pub const RECIRC: u16 = 7;
    pub const HASH: u16 = 8;
    pub const PUSH_MPLS: u16 = 9;
    pub const POP_MPLS: u16 = 10;
    pub const SET_MASKED: u16 = 11;
    pub const CT: u16 = 12;
    pub const TRUNC: u16 = 13;
    pub const PUSH_ETH: u16 = 14;
    pub const POP_ETH: u16 = 15;
    pub const CT_CLEAR: u16 = 16;
    pub const PUSH_NSH: u16 = 17;
    pub const POP_NSH: u16 = 18;
    pub const METER: u16 = 19;
    pub const CLONE: u16 = 20;
    pub const CHECK_PKT_LEN: u16 = 21;
    pub const ADD_MPLS: u16 = 22;
    pub const DEC_TTL: u16 = 23;
    pub const DROP: u16 = 24;
    pub const PSAMPLE: u16 = 25;
    pub const TUNNEL_PUSH: u16 = 26;
    pub const TUNNEL_POP: u16 = 27;
    pub const LB_OUTPUT: u16 = 28;

    pub const USERSPACE_PID: u16 = 1;
    pub const USERSPACE_USERDATA: u16 = 2;
    pub const USERSPACE_EGRESS_TUN_PORT: u16 = 3;
    pub const USERSPACE_ACTIONS: u16 = 4;

    pub const SAMPLE_PROBABILITY: u16 = 1;
    pub const SAMPLE_ACTIONS: u16 = 2;

    pub const CHECK_PKT_LEN_PKT_LEN: u16 = 1;
    pub const CHECK_PKT_LEN_IF_GREATER: u16 = 2;
    pub const CHECK_PKT_LEN_IF_LESS_EQUAL: u16 = 3;

    pub const DEC_TTL_ACTION: u16 = 1;

    pub const PSAMPLE_GROUP: u16 = 1;
    pub const PSAMPLE_COOKIE: u16 = 2;

    pub const HASH_ALG_L4: u32 = 0;
    pub const HASH_ALG_SYM_L4: u32 = 1;

    pub const CT_COMMIT: u16 = 1;
    pub const CT_ZONE: u16 = 2;
    pub const CT_MARK: u16 = 3;
    pub const CT_LABELS: u16 = 4;
    pub const CT_HELPER: u16 = 5;
    pub const CT_NAT: u16 = 6;
    pub const CT_FORCE_COMMIT: u16 = 7;
    pub const CT_EVENTMASK: u16 = 8;
    pub const CT_TIMEOUT: u16 = 9;

    pub const NAT_SRC: u16 = 1;
    pub const NAT_DST: u16 = 2;
    pub const NAT_IP_MIN: u16 = 3;
    pub const NAT_IP_MAX: u16 = 4;
    pub const NAT_PROTO_MIN: u16 = 5;
    pub const NAT_PROTO_MAX: u16 = 6;
    pub const NAT_PERSISTENT: u16 = 7;
    pub const NAT_PROTO_HASH: u16 = 8;
    pub const NAT_PROTO_RANDOM: u16 = 9;
}

pub mod meter {
    pub const CMD_FEATURES: u8 = 1;
    pub const CMD_SET: u8 = 2;
    pub const CMD_DEL: u8 = 3;
    pub const CMD_GET: u8 = 4;

    pub const ATTR_ID: u16 = 1;
    pub const ATTR_KBPS: u16 = 2;
    pub const ATTR_STATS: u16 = 3;
    pub const ATTR_BANDS: u16 = 4;
    pub const ATTR_USED: u16 = 5;
    pub const ATTR_CLEAR: u16 = 6;
    pub const ATTR_MAX_METERS: u16 = 7;
    pub const ATTR_MAX_BANDS: u16 = 8;

    pub const BAND_ATTR_TYPE: u16 = 1;
    pub const BAND_ATTR_RATE: u16 = 2;
    pub const BAND_ATTR_BURST: u16 = 3;
    pub const BAND_ATTR_STATS: u16 = 4;
    pub const BAND_TYPE_DROP: u32 = 1;
}

pub mod ct_limit {
    pub const CMD_SET: u8 = 1;
    pub const CMD_DEL: u8 = 2;
    pub const CMD_GET: u8 = 3;
    pub const ATTR_ZONE_LIMIT: u16 = 1;
}
