//! The packet family (`ovs_packet`): userspace sends a packet through the
//! datapath with actions (`OVS_PACKET_CMD_EXECUTE`). MISS and ACTION are
//! upcalls the datapath sends; they are not requests.

use super::{Command, Ctx, Fail, Family, Ops, Reply};
use alloc::vec::Vec;

use crate::datapath::receive::{Effects, RxContext};
use crate::flow::attrs::{parse_metadata, validate_actions};
use crate::flow::extract::extract_typed;
use crate::netlink::{AttrPolicy, Errno, NlBuf, parse};
use crate::ovs::{family as fam, packet as op};
use crate::packet::{OwnedPacket, Packet};
use crate::percpu::Cpu;
use crate::status::NtStatus;

pub static FAMILY: Family = Family {
    id: fam::PACKET,
    version: fam::PACKET_VERSION,
    commands: &[Command {
        cmd: op::CMD_EXECUTE,
        ops: Ops::TRANSACT,
        check_dp: true,
        handler: execute,
    }],
};

/// The smallest frame: an Ethernet header.
const ETH_HLEN: u16 = 14;

const POLICY: [AttrPolicy; 10] = [
    AttrPolicy::IGNORED,
    AttrPolicy::bytes(ETH_HLEN, u16::MAX), // PACKET
    AttrPolicy::NESTED,                    // KEY
    AttrPolicy::NESTED,                    // ACTIONS
    AttrPolicy::IGNORED,                   // USERDATA
    AttrPolicy::IGNORED,                   // EGRESS_TUN_KEY
    AttrPolicy::IGNORED,
    AttrPolicy::IGNORED,
    AttrPolicy::FLAG.optional(), // PROBE
    AttrPolicy::U16.optional(),  // MRU
];

/// Runs the packet through the actions; the reply is the bare header. A
/// PROBE is executed like any other request (the flag only spares the log).
fn execute(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let (pkt, mut rx, actions) = prepare(ctx)?;
    let rx = rx.first_mut().ok_or(Errno::NoMem)?;
    let mut fx = Effects {
        egress: &mut *ctx.egress,
        wake: &mut *ctx.wake,
    };
    ctx.dp.execute(rx, pkt, actions, ctx.now, &mut fx);
    let hdr = ctx.reply_header(fam::PACKET, 0, op::CMD_EXECUTE, fam::PACKET_VERSION);
    let mut b = NlBuf::new(ctx.out);
    let m = b.begin_msg(&hdr)?;
    b.end_msg(m);
    Ok(Reply::Len(b.len()))
}

/// What an EXECUTE runs: the packet, the context its actions run in (one,
/// on the heap) with the packet's key, and the validated actions.
type Prepared<'m> = (OwnedPacket, Vec<RxContext<OwnedPacket>>, &'m [u8]);

/// Parses and validates an EXECUTE. The context (keys, scratch) lives on
/// the heap, and this frame, with the parsers', is gone before the actions
/// run: the IOCTL's kernel stack is kept for nested actions.
#[inline(never)]
fn prepare<'m>(ctx: &Ctx<'m>) -> Result<Prepared<'m>, Fail> {
    let a = parse(ctx.msg.attr_bytes(), &POLICY)
        .map_err(|_| Fail::Status(NtStatus::INVALID_PARAMETER))?;
    let frame = a.get(op::ATTR_PACKET).ok_or(Errno::Inval)?.payload();
    let key_attrs = a.get(op::ATTR_KEY).ok_or(Errno::Inval)?.payload();
    let actions = a.get(op::ATTR_ACTIONS).ok_or(Errno::Inval)?.payload();
    let mut rx = Vec::new();
    rx.try_reserve_exact(1).map_err(|_| Errno::NoMem)?;
    rx.push(RxContext::try_new(Cpu::Any, ctx.now.ns as u32).ok_or(Errno::NoMem)?);
    let key = rx.first_mut().ok_or(Errno::NoMem)?.key_mut();
    *key = parse_metadata(key_attrs)?;
    // A key with an Ethertype and no Ethernet header is a packet without one.
    extract_typed(frame, None, key).map_err(|_| Errno::Inval)?;
    validate_actions(actions, key)?;
    let mut pkt = OwnedPacket::from_frame(frame).ok_or(Errno::NoMem)?;
    // Userspace hands back a reassembled packet with its MRU: output cuts
    // it again.
    if let Some(mru) = a.get(op::ATTR_MRU).and_then(|m| m.u16()) {
        pkt.set_mru(mru);
    }
    Ok((pkt, rx, actions))
}
