//! Names of netlink families, commands and attributes as `openvswitch.h`
//! and `OvsDpInterfaceExt.h` spell them (lower case, without the prefix),
//! for the driver's log lines and the simulator's traces.

use core::fmt;

use crate::ovs::{ctrl, family as fam};

/// The family a message type stands for.
pub fn family(ty: u16) -> Option<&'static str> {
    Some(match ty {
        crate::netlink::NLMSG_ERROR => "NLMSG_ERROR",
        crate::netlink::NLMSG_DONE => "NLMSG_DONE",
        fam::CONTROL => "ovs_win_control",
        fam::DATAPATH => "ovs_datapath",
        fam::PACKET => "ovs_packet",
        fam::VPORT => "ovs_vport",
        fam::FLOW => "ovs_flow",
        fam::NETDEV => "ovs_win_netdev",
        fam::CT => "ovs_ct",
        fam::CT_LIMIT => "ovs_ct_limit",
        fam::METER => "ovs_meter",
        fam::NFNL_CT_GET => "ctnetlink_get",
        fam::NFNL_CT_DEL => "ctnetlink_delete",
        _ => return None,
    })
}

/// A command of a family.
pub fn command(ty: u16, cmd: u8) -> Option<&'static str> {
    let names: &[&str] = match ty {
        fam::CONTROL => &[
            "PEND_REQ",
            "PEND_PACKET_REQ",
            "MC_SUBSCRIBE",
            "PACKET_SUBSCRIBE",
            "EVENT_NOTIFY",
            "READ_NOTIFY",
            "SOCK_PROP",
        ],
        fam::PACKET => &["UNSPEC", "MISS", "ACTION", "EXECUTE"],
        fam::NETDEV => &["UNSPEC", "GET"],
        fam::METER => &["UNSPEC", "FEATURES", "SET", "DEL", "GET"],
        fam::CT_LIMIT => &["UNSPEC", "SET", "DEL", "GET"],
        _ => &["UNSPEC", "NEW", "DEL", "GET", "SET"],
    };
    names.get(usize::from(cmd)).copied()
}

/// A top-level attribute of a family's command.
pub fn attr(ty: u16, cmd: u8, attr: u16) -> Option<&'static str> {
    let names: &[&str] = match ty {
        fam::CONTROL if cmd == ctrl::CMD_SOCK_PROP => &["sock_proto", "sock_pid"],
        fam::CONTROL => &["mcast_grp", "mcast_join", "packet_subscribe", "packet_pid"],
        fam::DATAPATH => &[
            "unspec",
            "name",
            "upcall_pid",
            "stats",
            "megaflow_stats",
            "user_features",
            "pad",
            "masks_cache_size",
            "per_cpu_pids",
        ],
        fam::VPORT => &[
            "unspec",
            "port_no",
            "type",
            "name",
            "options",
            "upcall_pid",
            "stats",
            "pad",
            "ifindex",
            "netnsid",
            "upcall_stats",
        ],
        fam::FLOW => &[
            "unspec",
            "key",
            "actions",
            "stats",
            "tcp_flags",
            "used",
            "clear",
            "mask",
            "probe",
            "ufid",
            "ufid_flags",
            "pad",
        ],
        fam::PACKET => &[
            "unspec",
            "packet",
            "key",
            "actions",
            "userdata",
            "egress_tun_key",
            "unused1",
            "unused2",
            "probe",
            "mru",
            "len",
            "hash",
            "upcall_pid",
        ],
        fam::NETDEV => &[
            "unspec", "port_no", "type", "name", "mac_addr", "mtu", "if_flags",
        ],
        fam::METER => &[
            "unspec",
            "id",
            "kbps",
            "stats",
            "bands",
            "used",
            "clear",
            "max_meters",
            "max_bands",
        ],
        fam::CT_LIMIT => &["unspec", "zone_limit"],
        _ => &[],
    };
    names.get(usize::from(attr)).copied()
}

/// A vport type.
pub fn vport_type(ty: u32) -> Option<&'static str> {
    use crate::ovs::vport as ov;
    Some(match ty {
        ov::TYPE_NETDEV => "netdev",
        ov::TYPE_INTERNAL => "internal",
        ov::TYPE_GRE => "gre",
        ov::TYPE_VXLAN => "vxlan",
        ov::TYPE_GENEVE => "geneve",
        _ => return None,
    })
}

/// The bits of `OVS_DP_ATTR_USER_FEATURES`.
pub const DP_FEATURES: &[(u32, &str)] = &[
    (crate::ovs::dp::F_UNALIGNED, "UNALIGNED"),
    (crate::ovs::dp::F_VPORT_PIDS, "VPORT_PIDS"),
    (crate::ovs::dp::F_TC_RECIRC_SHARING, "TC_RECIRC_SHARING"),
    (
        crate::ovs::dp::F_DISPATCH_UPCALL_PER_CPU,
        "DISPATCH_UPCALL_PER_CPU",
    ),
];

/// Bits by name, `|` between them; bits without a name in hex; `0` for none.
pub struct Flags<'a>(pub u32, pub &'a [(u32, &'a str)]);

impl fmt::Display for Flags<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut sep = "";
        for (bit, name) in self.1 {
            if rest & bit != 0 {
                write!(f, "{sep}{name}")?;
                rest &= !bit;
                sep = "|";
            }
        }
        match (rest, sep) {
            (0, "") => f.write_str("0"),
            (0, _) => Ok(()),
            (r, _) => write!(f, "{sep}0x{r:x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn flags_by_name() {
        use crate::ovs::dp;
        assert_eq!(format!("{}", Flags(0, DP_FEATURES)), "0");
        assert_eq!(
            format!("{}", Flags(dp::F_UNALIGNED | dp::F_VPORT_PIDS, DP_FEATURES)),
            "UNALIGNED|VPORT_PIDS"
        );
        assert_eq!(
            format!("{}", Flags(dp::F_UNALIGNED | 1 << 31, DP_FEATURES)),
            "UNALIGNED|0x80000000"
        );
        assert_eq!(format!("{}", Flags(1 << 31, DP_FEATURES)), "0x80000000");
    }
    use crate::ovs::{dp, flow, vport};

    #[test]
    fn names_follow_the_header_numbering() {
        assert_eq!(family(fam::FLOW), Some("ovs_flow"));
        assert_eq!(family(0x7777), None);
        assert_eq!(command(fam::DATAPATH, dp::CMD_SET), Some("SET"));
        assert_eq!(command(fam::PACKET, 1), Some("MISS"));
        assert_eq!(command(fam::VPORT, 9), None);
        assert_eq!(
            attr(fam::DATAPATH, dp::CMD_GET, dp::ATTR_MASKS_CACHE_SIZE),
            Some("masks_cache_size")
        );
        assert_eq!(
            attr(fam::VPORT, vport::CMD_NEW, vport::ATTR_UPCALL_STATS),
            Some("upcall_stats")
        );
        assert_eq!(
            attr(fam::FLOW, flow::CMD_NEW, flow::ATTR_UFID_FLAGS),
            Some("ufid_flags")
        );
        assert_eq!(
            attr(fam::CONTROL, ctrl::CMD_SOCK_PROP, ctrl::ATTR_SOCK_PID),
            Some("sock_pid")
        );
        assert_eq!(
            attr(
                fam::CONTROL,
                ctrl::CMD_MC_SUBSCRIBE_REQ,
                ctrl::ATTR_MCAST_JOIN
            ),
            Some("mcast_join")
        );
        assert_eq!(vport_type(vport::TYPE_VXLAN), Some("vxlan"));
    }
}
