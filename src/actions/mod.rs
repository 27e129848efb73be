//! Executing a validated action list on a packet (Linux `actions.c`).

use crate::flow::FlowKey;
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
    /// Makes an `OVS_PACKET_CMD_ACTION` upcall of `pkt` with `key`.
    fn userspace(&mut self, pkt: &P, key: &FlowKey, up: &Userspace<'_>);
    /// The packet goes through the flow table again with `key` (its
    /// `recirc_id` set), after the current action list has finished.
    fn recirc(&mut self, pkt: P, key: &FlowKey);
    /// 32 random bits (for `sample`).
    fn random(&mut self) -> u32;
}
