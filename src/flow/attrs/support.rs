//! What the datapath executes. Actions and set targets marked `NotYet` are
//! refused with EOPNOTSUPP, which is how userspace feature probes learn that
//! they are missing. Enabling one is changing its line here and adding its
//! validation to `actions.rs` / `set.rs`.

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
        act::PUSH_MPLS => NotYet,
        act::POP_MPLS => NotYet,
        act::SET_MASKED => Executed,
        act::CT => NotYet,
        act::TRUNC => Executed,
        act::PUSH_ETH => NotYet,
        act::POP_ETH => NotYet,
        act::CT_CLEAR => NotYet,
        act::PUSH_NSH => NotYet,
        act::POP_NSH => NotYet,
        act::METER => NotYet,
        act::CLONE => Executed,
        act::CHECK_PKT_LEN => Executed,
        act::ADD_MPLS => NotYet,
        act::DEC_TTL => Executed,
        act::DROP => Executed,
        act::PSAMPLE => NotYet,
        act::TUNNEL_PUSH => NotYet,
        act::TUNNEL_POP => NotYet,
        act::LB_OUTPUT => NotYet,
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
        k::MPLS => NotYet,
        k::NSH => NotYet,
        k::CT_MARK => NotYet,
        k::CT_LABELS => NotYet,
        _ => Invalid,
    }
}
