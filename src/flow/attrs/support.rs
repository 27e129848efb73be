//! What the datapath executes. Actions and set targets marked `NotYet` are
//! refused with EOPNOTSUPP, which is how userspace feature probes learn that
//! they are missing. Enabling one is changing its line here and adding its
//! validation to `actions.rs` / `set.rs`.
//!
//! PSAMPLE stays refused: Windows has no psample consumer, and with the
//! probe failing ovs-vswitchd samples through upcalls instead. TUNNEL_PUSH,
//! TUNNEL_POP and LB_OUTPUT belong to the userspace datapath; Linux's
//! numbering ends before them, so it refuses them as unknown (EINVAL).

use crate::ovs::{action as act, key as k};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Support {
    /// Executed; validated like Linux.
    Executed,
    /// Valid in Linux, not executed here yet: EOPNOTSUPP.
    NotYet,
    /// Never valid (for set targets: fields Linux does not let actions set): EINVAL.
    Invalid,
}

use Support::*;

/// `OVS_ACTION_ATTR_*` by type (0 and types beyond LB_OUTPUT are invalid).
pub(super) fn action(ty: u16) -> Support {
    match ty {
        act::OUTPUT => Executed,
        act::USERSPACE => Executed,
        act::SET => Executed,
        act::PUSH_VLAN => Executed,
        act::POP_VLAN => Executed,
        act::SAMPLE => Executed,
        act::RECIRC => Executed,
        act::HASH => Executed,
        act::PUSH_MPLS => Executed,
        act::POP_MPLS => Executed,
        act::SET_MASKED => Executed,
        act::CT => Executed,
        act::TRUNC => Executed,
        act::PUSH_ETH => Executed,
        act::POP_ETH => Executed,
        act::CT_CLEAR => Executed,
        act::PUSH_NSH => Executed,
        act::POP_NSH => Executed,
        act::METER => Executed,
        act::CLONE => Executed,
        act::CHECK_PKT_LEN => Executed,
        act::ADD_MPLS => Executed,
        act::DEC_TTL => Executed,
        act::DROP => Executed,
        act::PSAMPLE => NotYet,
        act::TUNNEL_PUSH => Invalid,
        act::TUNNEL_POP => Invalid,
        act::LB_OUTPUT => Invalid,
        _ => Invalid,
    }
}

/// `OVS_KEY_ATTR_*` as the target of SET / SET_MASKED.
pub(super) fn set_target(ty: u16) -> Support {
    match ty {
        k::PRIORITY => Executed,
        k::SKB_MARK => Executed,
        k::ETHERNET => Executed,
        k::IPV4 => Executed,
        k::IPV6 => Executed,
        k::TCP => Executed,
        k::UDP => Executed,
        k::SCTP => Executed,
        // Linux refuses these; the executor rewrites them with checksums fixed
        // (as OVS's userspace datapath does), so they are allowed here.
        k::ICMP => Executed,
        k::ICMPV6 => Executed,
        k::TUNNEL => Executed,
        k::MPLS => Executed,
        k::NSH => Executed,
        // Linux accepts these at install and drops a packet that executes
        // one (conntrack metadata is written by the CT action); so does this
        // datapath.
        k::CT_MARK => Executed,
        k::CT_LABELS => Executed,
        _ => Invalid,
    }
}
