//! The conntrack netlink interface (NETLINK_NETFILTER handles; reference
//! §4.6): `IPCTNL_MSG_CT_GET` dumps every connection, one message per
//! READ, ending with a 0-byte READ (the dump request's attributes are not
//! kept, as in the C driver: userspace filters by zone itself);
//! `IPCTNL_MSG_CT_DELETE` flushes every connection, one zone's (CTA_ZONE,
//! zone 0 included) or one connection (CTA_TUPLE_ORIG in CTA_ZONE's zone,
//! IPv4 or IPv6). Messages are `NFNL_SUBSYS_CTNETLINK << 8 | cmd`; the
//! command is the type's low byte (the genl `cmd` byte is the family).

use super::{Command, Ctx, DevOp, Fail, Family, Ops, Reply};
use crate::conntrack::ctnetlink::{self as ctnl, CTA_ZONE, MSG_DELETE, MSG_NEW};
use crate::netlink::{Errno, NLM_F_CREATE, NlBuf, attrs};
use crate::ovs::family as fam;
use crate::status::NtStatus;

/// `IPCTNL_MSG_CT_*` commands.
const CMD_GET: u8 = 1;
const CMD_DELETE: u8 = 2;
const CTA_TUPLE_ORIG: u16 = 1;

pub static GET_FAMILY: Family = Family {
    id: fam::NFNL_CT_GET,
    version: 0,
    commands: &[Command {
        cmd: CMD_GET,
        ops: Ops::WRITE.union(Ops::READ),
        check_dp: false,
        handler: get,
    }],
};

pub static DEL_FAMILY: Family = Family {
    id: fam::NFNL_CT_DEL,
    version: 0,
    commands: &[Command {
        cmd: CMD_DELETE,
        ops: Ops::TRANSACT,
        check_dp: false,
        handler: delete,
    }],
};

/// A netfilter message type (`IS_NFNL_CMD`).
pub fn is_nfnl(ty: u16) -> bool {
    ty == fam::NFNL_CT_GET || ty == fam::NFNL_CT_DEL
}

fn get(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    if ctx.op == DevOp::Write {
        return ctx.start_dump(0);
    }
    let now = ctx.now.ms();
    ctx.dump_one(|dp, cursor, hdr, b| {
        let Some((next, id, c, ext)) = dp.conntrack.table().next(cursor) else {
            return Ok(None);
        };
        let h = ctnl::header(MSG_NEW, NLM_F_CREATE, hdr.seq, hdr.pid, c.orig.v6 == 1);
        ctnl::render(b, &h, &c, ext.as_ref(), id, now)?;
        Ok(Some(next))
    })
}

fn delete(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let (mut zone, mut tuple) = (None, None);
    for a in attrs(ctx.msg.attr_bytes()) {
        let a = a.map_err(|_| Fail::Status(NtStatus::INVALID_PARAMETER))?;
        match a.ty() {
            CTA_ZONE => zone = Some(a.be16().ok_or(Errno::Inval)?),
            CTA_TUPLE_ORIG => tuple = Some(a.payload()),
            _ => {}
        }
    }
    let (dp, now, wake) = (ctx.dp, ctx.now.ms(), &mut *ctx.wake);
    let mut notify = |ev: &_| dp.post_ct_event(ev, now, wake);
    let ct = &dp.conntrack;
    match (tuple, zone) {
        (Some(t), zone) => {
            let v6 = ctnl::family_v6(ctx.msg.hdr.cmd).ok_or(Errno::Inval)?;
            let t = ctnl::parse_tuple(t, v6, zone.unwrap_or(0)).ok_or(Errno::Inval)?;
            if !ct.remove_tuple(&t, now, &mut notify) {
                return Err(Errno::NoEnt.into());
            }
        }
        (None, Some(z)) => ct.flush(|c| c.orig.zone == z, &mut notify),
        (None, None) => ct.flush(|_| true, &mut notify),
    }
    let hdr = ctnl::header(
        MSG_DELETE,
        NLM_F_CREATE,
        ctx.msg.hdr.seq,
        ctx.msg.hdr.pid,
        false,
    );
    let hdr = crate::netlink::MsgHeader { cmd: 0, ..hdr };
    let mut b = NlBuf::new(ctx.out);
    let m = b.begin_msg(&hdr)?;
    b.end_msg(m);
    Ok(Reply::Len(b.len()))
}
