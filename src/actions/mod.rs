//! Executing a validated action list on a packet (Linux `actions.c`).
//!
//! [`execute`] walks the `OVS_ACTION_ATTR_*` list with the netlink views,
//! never trusting it: an action whose payload cannot be read is skipped, an
//! unreadable tail ends the list, and every header it rewrites is located in
//! the frame (by the rules flow extraction uses) before it is touched. It
//! never panics and always terminates: nesting is bounded (below) and every
//! nested list is strictly shorter than the list holding it.
//!
//! # Action formats
//! Lists are read in the form userspace sends them. The nested actions also
//! accept the form Linux stores after validation, told apart by attribute
//! types that the userspace form never uses:
//! - `CLONE`: the nested list, optionally preceded by `OVS_CLONE_ATTR_EXEC`
//!   (type 0, a `u32`), which is skipped.
//! - `SAMPLE`: `PROBABILITY` (u32) and `ACTIONS` (nested list), or Linux's
//!   `OVS_SAMPLE_ATTR_ARG` (type 3, `{bool exec; u32 probability}`)
//!   followed by the actions themselves.
//! - `CHECK_PKT_LEN`: `PKT_LEN` (u16), `IF_GREATER`, `IF_LESS_EQUAL`, or
//!   Linux's `OVS_CHECK_PKT_LEN_ATTR_ARG` (type 4, `{u16 pkt_len; ...}`) in
//!   place of `PKT_LEN`.
//! - `DEC_TTL`: `OVS_DEC_TTL_ATTR_ACTION` (nested list).
//! - `SET` of anything but a tunnel is executed as `SET_MASKED` with an
//!   all-ones mask (the IPv6 label mask is always cut to its 20 bits).
//!
//! # Out-of-band VLAN tag
//! NDIS may carry an 802.1Q tag beside the frame ([`Packet::oob_vlan`]),
//! as Linux carries an accelerated tag: it is the *outer* tag, TPID 0x8100,
//! and the frame's own tags follow it. The rule:
//! - `pop_vlan` removes the outer tag: it clears the out-of-band tag if
//!   there is one, else it strips the first in-band tag, else does nothing.
//! - `push_vlan` of an 802.1Q tag onto a packet with no tag at all (neither
//!   out of band nor in band) fills the out-of-band slot. Any other push is
//!   in band, at the front: an out-of-band tag present is first written into
//!   the frame (it becomes the inner tag), so the slot is only ever used for
//!   a packet's only tag.
//! - After either, the key's `vlan_*`/`cvlan_*` (and `eth_type`) are what
//!   extraction would read from the packet: outer = the out-of-band tag or
//!   the first in-band one, inner = the next in-band one. Where Linux would
//!   re-extract (a third tag appearing or disappearing changes `eth_type`),
//!   the key's L3/L4 fields are cleared instead.
//!
//! # Nesting and deferral
//! Linux runs a nested list (`clone`, `sample`, `check_pkt_len`,
//! `dec_ttl`) at once while per-CPU key slots last (3 levels), and beyond
//! that defers it to a per-CPU FIFO of 10 entries run after the top-level
//! list, dropping when that is full. [`ExecContext`] is the same, owned by
//! the caller: [`NEST_LEVELS`] spare keys for nested lists run at once,
//! and a FIFO of [`DEFER_CAPACITY`] (packet, key, list) entries, all
//! allocated once by [`ExecContext::try_new`]. A nested list in the last
//! position runs as a continuation of the current loop, on the packet and
//! key themselves (no copy, no level used). Recursion depth is therefore at
//! most `NEST_LEVELS + 1` frames of [`execute`]'s list walker, none holding
//! a key. `recirc` is handed to [`Env::recirc`], which queues it.
//!
//! # Packets without an Ethernet header
//! `pop_eth`, `push_nsh`, and `add_mpls` without its L3-tunnel flag, leave a packet
//! that starts with its network header (Linux's `MAC_PROTO_NONE`); the key
//! keeps its type (`mac_proto`, `eth_type`), and rewrites find the headers
//! from there. Such a packet may be recirculated, sent to userspace, or
//! given an Ethernet header again (`push_eth`); output to a port (all
//! ports send Ethernet frames) drops it and counts it ([`Env::refuse`]).
//! After an action that changes the order of headers (MPLS, Ethernet and
//! NSH push/pop) the key is read again from the packet.
//!
//! # Drops
//! A packet that cannot be processed further is dropped and the rest of its
//! list abandoned, as Linux does; [`Outcome`] counts why. A `meter` whose
//! drop band applies ([`Env::meter`]) ends the list the same way, as does a
//! CT action that cannot commit ([`Env::conntrack`]). Actions that are not
//! executable yet (tunnel push/pop, psample, lb_output; `set` of
//! ARP or ND fields) count as `unsupported`: validation refuses
//! them, so this is only a safety net. A nested list that fails drops only
//! its own copy of the packet.

pub(crate) mod checksum;
mod eth;
mod execute;
mod hash;
pub(crate) mod headers;
mod mpls;
mod nsh;
mod set;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod vlan;

pub use execute::{DEFER_CAPACITY, ExecContext, NEST_LEVELS, execute};

pub use crate::conntrack::Verdict;
use crate::flow::FlowKey;
use crate::flow::extract::extract_typed;
use crate::packet::Packet;

/// An `OVS_ACTION_ATTR_USERSPACE` upcall to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Userspace<'a> {
    /// `OVS_USERSPACE_ATTR_PID`.
    pub pid: u32,
    /// `OVS_USERSPACE_ATTR_USERDATA` payload.
    pub userdata: Option<&'a [u8]>,
    /// `OVS_USERSPACE_ATTR_EGRESS_TUN_PORT`.
    pub egress_tun_port: Option<u32>,
    /// The packet's egress tunnel key (the `set(tunnel)` nest), when it has
    /// one and the action names its tunnel port.
    pub egress_tunnel: Option<&'a [u8]>,
    /// The action list being executed, when `OVS_USERSPACE_ATTR_ACTIONS` asks for it.
    pub actions: Option<&'a [u8]>,
    /// The packet's length before a `trunc` shortened it.
    pub original_len: Option<u32>,
}

/// What executing actions asks of the datapath.
pub trait Env<P: Packet> {
    /// Sends `pkt` out of datapath port `port_no` (dropped and counted by the
    /// datapath if no such port can send).
    fn output(&mut self, port_no: u32, pkt: P);
    /// Sends `pkt`, given an egress tunnel key by `set(tunnel)` (the
    /// `OVS_KEY_ATTR_TUNNEL` nest, validated), out of `port_no`: a tunnel
    /// vport encapsulates it (`key` is the packet's flow key), any other
    /// port ignores the tunnel key.
    fn output_tunnel(&mut self, port_no: u32, pkt: P, tunnel: &[u8], key: &FlowKey) {
        let _ = (tunnel, key);
        self.output(port_no, pkt);
    }
    /// Makes an `OVS_PACKET_CMD_ACTION` upcall of `pkt` with `key`.
    fn userspace(&mut self, pkt: &P, key: &FlowKey, up: &Userspace<'_>);
    /// The packet goes through the flow table again with `key` (its
    /// `recirc_id` set), after the current action list has finished.
    fn recirc(&mut self, pkt: P, key: &FlowKey);
    /// 32 random bits (for `sample`).
    fn random(&mut self) -> u32;
    /// Runs the CT action `ct` (its validated payload) on `pkt`, updating
    /// `key`: whether the packet goes on, is dropped, or was a fragment
    /// held for reassembly. An environment without a connection tracker
    /// drops it.
    fn conntrack(&mut self, pkt: &mut P, key: &mut FlowKey, ct: &[u8]) -> Verdict {
        let _ = (pkt, key, ct);
        Verdict::Drop
    }
    /// Runs a packet of `len` bytes through meter `id`: true if a drop band
    /// applies (a meter that does not exist drops nothing).
    fn meter(&mut self, id: u32, len: usize) -> bool;
    /// An output to `port_no` was refused: the packet has no Ethernet
    /// header, and every port sends Ethernet frames.
    fn refuse(&mut self, port_no: u32) {
        let _ = port_no;
    }
}

/// What happened to the packet and its copies during one [`execute`]:
/// how many were dropped, by reason, and how many actions were skipped.
/// A list that simply ends, a `sample` not taken and a `dec_ttl` with an
/// empty exception list consume the packet without counting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Stopped by an explicit `drop` action.
    pub explicit: u32,
    /// Stopped by a meter's drop band.
    pub metered: u32,
    /// Outputs of a packet without an Ethernet header (not sent).
    pub not_ethernet: u32,
    /// An action, or a `set` of a field, that is not executable.
    pub unsupported: u32,
    /// A rewrite needed a header the frame does not have (cut short, or
    /// of another protocol than the key said).
    pub bad_header: u32,
    /// A copy of the packet, or write access to it, could not be had.
    pub no_memory: u32,
    /// A nested list found neither a free nesting level nor a free
    /// deferral slot.
    pub overflow: u32,
    /// A CT action could not commit its connection (a full table or zone).
    pub conntrack: u32,
    /// Actions skipped because their payload could not be read (the packet
    /// went on with the next action).
    pub skipped: u32,
}

impl Outcome {
    /// Packets and copies dropped, all reasons together.
    pub fn dropped(&self) -> u32 {
        self.explicit
            .saturating_add(self.metered)
            .saturating_add(self.not_ethernet)
            .saturating_add(self.unsupported)
            .saturating_add(self.bad_header)
            .saturating_add(self.no_memory)
            .saturating_add(self.overflow)
            .saturating_add(self.conntrack)
    }

    fn count(&mut self, fault: Fault) {
        let n = match fault {
            Fault::Malformed => &mut self.skipped,
            Fault::Unsupported => &mut self.unsupported,
            Fault::BadHeader => &mut self.bad_header,
            Fault::NoMemory => &mut self.no_memory,
        };
        *n = n.saturating_add(1);
    }
}

/// Reads the key's packet fields again after an action changed the order of
/// the headers (a label or header pushed or popped); the metadata stays.
fn rekey<P: Packet>(pkt: &P, key: &mut FlowKey) -> Result<(), Fault> {
    extract_typed(pkt.data(), pkt.oob_vlan(), key)
        .map(|_| ())
        .map_err(|_| Fault::BadHeader)
}

/// Why an action could not be carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Its payload cannot be read: skip it, go on.
    Malformed,
    /// Not executable: drop.
    Unsupported,
    /// The header it works on is not in the frame: drop.
    BadHeader,
    /// Out of memory: drop.
    NoMemory,
}
