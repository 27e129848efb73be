//! The Windows control family (`ovs_win_control`): socket properties,
//! multicast and packet subscriptions, pending requests, and the artificial
//! commands behind READ_EVENT and READ_PACKET.

use super::{Command, Ctx, Fail, Family, Ops, Reply};
use crate::event::{self, PendError, group};
use crate::netlink::{AttrPolicy, NETLINK_GENERIC, NETLINK_NETFILTER, NLM_F_MULTI, parse};
use crate::ovs::{ctrl, family as fam};
use crate::status::NtStatus;
use crate::upcall::{self, QueueError};

pub static FAMILY: Family = Family {
    id: fam::CONTROL,
    version: fam::CONTROL_VERSION,
    commands: &[
        Command {
            cmd: ctrl::CMD_WIN_PEND_REQ,
            ops: Ops::WRITE,
            check_dp: true,
            handler: pend_event,
        },
        Command {
            cmd: ctrl::CMD_WIN_PEND_PACKET_REQ,
            ops: Ops::WRITE,
            check_dp: true,
            handler: pend_packet,
        },
        Command {
            cmd: ctrl::CMD_MC_SUBSCRIBE_REQ,
            ops: Ops::WRITE,
            check_dp: true,
            handler: mc_subscribe,
        },
        Command {
            cmd: ctrl::CMD_PACKET_SUBSCRIBE_REQ,
            ops: Ops::WRITE,
            check_dp: true,
            handler: packet_subscribe,
        },
        Command {
            cmd: ctrl::CMD_EVENT_NOTIFY,
            ops: Ops::READ,
            check_dp: false,
            handler: read_event,
        },
        Command {
            cmd: ctrl::CMD_READ_NOTIFY,
            ops: Ops::READ,
            check_dp: false,
            handler: read_packet,
        },
        Command {
            cmd: ctrl::CMD_SOCK_PROP,
            ops: Ops::TRANSACT,
            check_dp: false,
            handler: sock_prop,
        },
    ],
};

/// `sizeof(OVS_PACKET_INFO) + OVS_MIN_PACKET_SIZE` of the C driver (360 + 60):
/// READ_PACKET needs at least this much room.
pub const READ_PACKET_MIN: usize = 420;

const INVALID: Fail = Fail::Status(NtStatus::INVALID_PARAMETER);

fn pend_event(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    match ctx.dp.queues.lock().events.pend(ctx.pid, ctx.token) {
        Ok(true) => Ok(Reply::Pending),
        Ok(false) => Ok(Reply::Len(0)),
        Err(PendError::NotSubscribed) => Err(INVALID),
        Err(PendError::Busy) => Err(Fail::Status(NtStatus::DEVICE_BUSY)),
    }
}

fn pend_packet(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    match ctx.dp.queues.lock().upcalls.pend(ctx.pid, ctx.token) {
        Ok(true) => Ok(Reply::Pending),
        Ok(false) => Ok(Reply::Len(0)),
        Err(QueueError::Busy) => Err(Fail::Status(NtStatus::DEVICE_BUSY)),
        Err(_) => Err(INVALID),
    }
}

/// The group bit a subscription names, by the handle's protocol.
fn mcast_group(protocol: u32, grp: u32) -> Option<u32> {
    match (protocol, grp) {
        (NETLINK_GENERIC, fam::VPORT_MCGRP) => Some(group::VPORT),
        (NETLINK_NETFILTER, 1) => Some(group::CT_NEW),
        (NETLINK_NETFILTER, 2) => Some(group::CT_UPDATE),
        (NETLINK_NETFILTER, 3) => Some(group::CT_DESTROY),
        _ => None,
    }
}

fn mc_subscribe(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    const POLICY: [AttrPolicy; 2] = [AttrPolicy::U32, AttrPolicy::U8];
    let a = parse(ctx.msg.attr_bytes(), &POLICY).map_err(|_| INVALID)?;
    let grp = a.u32(ctrl::ATTR_MCAST_GRP).ok_or(INVALID)?;
    let join = a.u8(ctrl::ATTR_MCAST_JOIN).ok_or(INVALID)?;
    let bit = mcast_group(ctx.protocol, grp).ok_or(INVALID)?;
    let mut q = ctx.dp.queues.lock();
    if join != 0 {
        q.events
            .join(ctx.pid, bit)
            .map_err(|event::SubscribeError::NoMemory| {
                Fail::Status(NtStatus::INSUFFICIENT_RESOURCES)
            })?;
    } else {
        q.events.leave(ctx.pid, bit, ctx.wake);
    }
    ctx.dp.conntrack.set_listeners(q.events.joined());
    Ok(Reply::Len(0))
}

fn packet_subscribe(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    const POLICY: [AttrPolicy; 4] = [
        AttrPolicy::IGNORED,
        AttrPolicy::IGNORED,
        AttrPolicy::U8,
        AttrPolicy::U32,
    ];
    let a = parse(ctx.msg.attr_bytes(), &POLICY).map_err(|_| INVALID)?;
    let join = a.u8(ctrl::ATTR_PACKET_SUBSCRIBE).ok_or(INVALID)?;
    // A handle reads only its own upcalls.
    if a.u32(ctrl::ATTR_PACKET_PID) != Some(ctx.pid) {
        return Err(INVALID);
    }
    let mut q = ctx.dp.queues.lock();
    let r = if join != 0 {
        q.upcalls.subscribe(ctx.pid)
    } else {
        q.upcalls.unsubscribe(ctx.pid, ctx.wake)
    };
    match r {
        Ok(()) => Ok(Reply::Len(0)),
        Err(QueueError::NoMemory) => Err(Fail::Status(NtStatus::INSUFFICIENT_RESOURCES)),
        Err(_) => Err(INVALID),
    }
}

fn copy_out(ctx: &mut Ctx<'_>, msg: &[u8]) -> Result<Reply, Fail> {
    let dst = ctx
        .out
        .get_mut(..msg.len())
        .ok_or(Fail::Ioctl(NtStatus::BUFFER_TOO_SMALL))?;
    dst.copy_from_slice(msg);
    Ok(Reply::Len(msg.len()))
}

fn read_event(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let read = ctx.dp.queues.lock().events.read(ctx.pid, ctx.out.len());
    match read {
        event::Read::Message(m) => copy_out(ctx, &m),
        event::Read::Empty => Ok(Reply::Len(0)),
        event::Read::TooBig => Err(Fail::Ioctl(NtStatus::BUFFER_TOO_SMALL)),
        // Events were lost: fail this read so userspace resynchronizes its ports.
        event::Read::Overrun => Err(Fail::Ioctl(NtStatus::DATA_OVERRUN)),
    }
}

fn read_packet(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    if ctx.out.len() < READ_PACKET_MIN {
        return Err(Fail::Ioctl(NtStatus::BUFFER_TOO_SMALL));
    }
    let read = ctx.dp.queues.lock().upcalls.read(ctx.pid, ctx.out.len());
    match read {
        Ok(upcall::Read::Message(m)) => copy_out(ctx, &m),
        Ok(upcall::Read::Empty) => Ok(Reply::Len(0)),
        Ok(upcall::Read::TooBig) => Err(Fail::Ioctl(NtStatus::BUFFER_TOO_SMALL)),
        Err(_) => Err(INVALID),
    }
}

fn sock_prop(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    const POLICY: [AttrPolicy; 2] = [AttrPolicy::U32.optional(), AttrPolicy::U32.optional()];
    let a = parse(ctx.msg.attr_bytes(), &POLICY).map_err(|_| INVALID)?;
    let mut protocol = ctx.protocol;
    if let Some(p) = a.u32(ctrl::ATTR_SOCK_PROTO).filter(|&p| p != 0) {
        if p != NETLINK_GENERIC && p != NETLINK_NETFILTER {
            return Err(INVALID);
        }
        protocol = p;
    }
    if a.u32(ctrl::ATTR_SOCK_PID).is_some_and(|p| p != ctx.pid) {
        return Err(INVALID);
    }
    ctx.device.set_protocol(ctx.handle, protocol);
    let hdr = ctx.reply_header(
        ctx.msg.hdr.ty,
        NLM_F_MULTI,
        ctx.msg.hdr.cmd,
        ctx.msg.hdr.version,
    );
    let pid = ctx.pid;
    let mut b = ctx.out();
    let m = b.begin_msg(&hdr)?;
    b.put_u32(ctrl::ATTR_SOCK_PID, pid)?;
    b.put_u32(ctrl::ATTR_SOCK_PROTO, protocol)?;
    b.end_msg(m);
    Ok(Reply::Len(b.len()))
}
