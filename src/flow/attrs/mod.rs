//! Netlink `OVS_KEY_ATTR_*` / `OVS_ACTION_ATTR_*` <-> flow key, mask and
//! validated actions: the rules of Linux's `net/openvswitch/flow_netlink.c`
//! for the `FlowKey` layout.
//!
//! - `parse_match` / `parse_metadata`: key and mask streams from userspace
//!   (flow commands, packet execute) into a `Match` / metadata `FlowKey`.
//! - `emit_key` / `emit_mask`: the streams the datapath reports in upcalls
//!   and dumps.
//! - `validate_actions`: action lists at flow install and packet execute.
//!
//! Numbering is userspace's (`openvswitch.h` without `__KERNEL__`): key types
//! PACKET_TYPE (29) and ND_EXTENSIONS (30) belong to the userspace datapath
//! and TUNNEL_INFO (31) is kernel-internal; all three are refused as in Linux.
//! Tunnel attribute 16 is GTPU_OPTS (Linux uses 16 for a kernel-only flag).
//!
//! Where `FlowKey` differs from Linux's `sw_flow_key` the rules are restated:
//! - `in_port` is 32 bits: a mask reports it as stored (Linux widens its
//!   16-bit mask with 0xffff in the upper half, so a wildcard reads 0xffff0000);
//! - tunnel addresses and option formats are separate fields (see `tunnel.rs`);
//! - there is no MPLS label count: a key reports labels up to bottom of stack
//!   or the last non-zero one (see `emit.rs`);
//! - the conntrack original tuple is reported whenever it is set (Linux: when
//!   its protocol is);
//! - a truncated VLAN tag (TCI 0) given by userspace keeps its TPID.
//!
//! A key may carry attributes its Ethertype and protocol do not call for
//! (Linux accepts them as long as their mask is zero); they are parsed and
//! never reported back, as in Linux.

mod actions;
mod attrset;
mod emit;
mod key;
mod lens;
mod nsh;
pub(crate) mod proto;
mod set;
mod side;
mod support;
mod tunnel;
mod validate;
mod vlan;
mod wire;

pub use actions::{MAX_ACTIONS_DEPTH, validate_actions};
pub use emit::{MAX_KEY_LEN, MAX_TUNNEL_LEN, emit_key, emit_mask};
pub use key::{DP_MAX_PORTS, IN_PORT_ANY, Match, parse_match, parse_metadata};
pub use tunnel::{emit_egress as emit_egress_tunnel, set_tunnel};

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod testutil;
