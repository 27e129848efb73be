//! The vport family (`ovs_vport`): create, delete, change and list datapath
//! ports.

use core::sync::atomic::Ordering::Relaxed;

use super::{Command, Ctx, DevOp, Fail, Family, Ops, Reply};
use crate::datapath::NewVport;
use crate::netlink::{AttrPolicy, Errno, MsgHeader, NLM_F_MULTI, NlBuf, Overflow, Parsed, parse};
use crate::ovs::{family as fam, vport as ov};
use crate::status::NtStatus;
use crate::vport::{GENEVE_DEFAULT_PORT, VXLAN_DEFAULT_PORT, Vport, VportType};

pub static FAMILY: Family = Family {
    id: fam::VPORT,
    version: fam::VPORT_VERSION,
    commands: &[
        Command {
            cmd: ov::CMD_NEW,
            ops: Ops::TRANSACT,
            check_dp: true,
            handler: new,
        },
        Command {
            cmd: ov::CMD_DEL,
            ops: Ops::TRANSACT,
            check_dp: true,
            handler: del,
        },
        Command {
            cmd: ov::CMD_GET,
            ops: Ops::all(),
            check_dp: true,
            handler: get,
        },
        Command {
            cmd: ov::CMD_SET,
            ops: Ops::TRANSACT,
            check_dp: true,
            handler: set,
        },
    ],
};

const INVALID: Fail = Fail::Status(NtStatus::INVALID_PARAMETER);
const NAME: AttrPolicy = AttrPolicy::string(1, ov::NAME_MAX);
/// An array of u32 PIDs.
const PIDS: AttrPolicy = AttrPolicy::bytes(4, 4 * crate::vport::MAX_UPCALL_PIDS as u16);

const NEW_POLICY: [AttrPolicy; 6] = [
    AttrPolicy::IGNORED,
    AttrPolicy::U32.optional(),
    AttrPolicy::U32,
    NAME,
    AttrPolicy::NESTED.optional(),
    PIDS,
];
const SET_POLICY: [AttrPolicy; 6] = [
    AttrPolicy::IGNORED,
    AttrPolicy::U32.optional(),
    AttrPolicy::U32.optional(),
    NAME.optional(),
    AttrPolicy::NESTED.optional(),
    PIDS.optional(),
];
const LOOKUP_POLICY: [AttrPolicy; 4] = [
    AttrPolicy::IGNORED,
    AttrPolicy::U32.optional(),
    AttrPolicy::IGNORED,
    NAME.optional(),
];
const TUNNEL_POLICY: [AttrPolicy; 3] = [
    AttrPolicy::IGNORED,
    AttrPolicy::U16.optional(),
    AttrPolicy::NESTED.optional(),
];

/// One vport message: PORT_NO, TYPE, NAME, UPCALL_PID, STATS, UPCALL_STATS,
/// and OPTIONS for tunnels.
pub fn fill(b: &mut NlBuf<'_>, hdr: &MsgHeader, v: &Vport) -> Result<(), Overflow> {
    let m = b.begin_msg(hdr)?;
    b.put_u32(ov::ATTR_PORT_NO, v.port_no)?;
    b.put_u32(ov::ATTR_TYPE, v.ty.ovs_type())?;
    b.put_str(ov::ATTR_NAME, &v.name)?;
    let pids = b.put_attr_uninit(ov::ATTR_UPCALL_PID, v.upcall_pids.len() * 4)?;
    for (chunk, pid) in pids.chunks_exact_mut(4).zip(&v.upcall_pids) {
        chunk.copy_from_slice(&pid.to_ne_bytes());
    }
    b.put_attr(ov::ATTR_STATS, &v.stats.to_bytes())?;
    let n = b.begin_nested(ov::ATTR_UPCALL_STATS)?;
    b.put_u64(0, v.stats.upcall_success.load(Relaxed))?;
    b.put_u64(1, v.stats.upcall_fail.load(Relaxed))?;
    b.end_nested(n)?;
    if let Some(port) = v.ty.udp_port() {
        let o = b.begin_nested(ov::ATTR_OPTIONS)?;
        b.put_u16(ov::TUNNEL_ATTR_DST_PORT, port)?;
        if let VportType::Vxlan { gbp: true, .. } = v.ty {
            let e = b.begin_nested(ov::TUNNEL_ATTR_EXTENSION)?;
            b.put_flag(ov::VXLAN_EXT_GBP)?;
            b.end_nested(e)?;
        }
        b.end_nested(o)?;
    }
    b.end_msg(m);
    Ok(())
}

/// The reply to a vport command: its cmd and version echoed, `NLM_F_MULTI`.
fn reply(ctx: &mut Ctx<'_>, port_no: u32) -> Result<usize, Fail> {
    let hdr = ctx.reply_header(
        fam::VPORT,
        NLM_F_MULTI,
        ctx.msg.hdr.cmd,
        ctx.msg.hdr.version,
    );
    let ports = ctx.dp.ports.read();
    let v = ports.vports.get(port_no).ok_or(Errno::NoDev)?;
    let mut b = NlBuf::new(ctx.out);
    fill(&mut b, &hdr, v)?;
    Ok(b.len())
}

fn vport_type(ty: u32, options: Option<&[u8]>) -> Result<VportType, Fail> {
    let opts = match options {
        Some(o) => parse(o, &TUNNEL_POLICY).map_err(|_| INVALID)?,
        None => parse(&[], &TUNNEL_POLICY).map_err(|_| INVALID)?,
    };
    let dst_port = opts.u16(ov::TUNNEL_ATTR_DST_PORT);
    Ok(match ty {
        ov::TYPE_NETDEV => VportType::Netdev,
        ov::TYPE_INTERNAL => VportType::Internal,
        ov::TYPE_GRE => VportType::Gre,
        ov::TYPE_VXLAN => {
            let gbp = opts
                .get(ov::TUNNEL_ATTR_EXTENSION)
                .is_some_and(|e| e.nested().flatten().any(|a| a.ty() == ov::VXLAN_EXT_GBP));
            VportType::Vxlan {
                dst_port: dst_port.unwrap_or(VXLAN_DEFAULT_PORT),
                gbp,
            }
        }
        ov::TYPE_GENEVE => VportType::Geneve {
            dst_port: dst_port.unwrap_or(GENEVE_DEFAULT_PORT),
        },
        _ => return Err(Errno::AfNoSupport.into()),
    })
}

fn new(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = parse(ctx.msg.attr_bytes(), &NEW_POLICY).map_err(|_| INVALID)?;
    let ty = vport_type(
        a.u32(ov::ATTR_TYPE).ok_or(INVALID)?,
        a.get(ov::ATTR_OPTIONS).map(|o| o.payload()),
    )?;
    let req = NewVport {
        name: a.str(ov::ATTR_NAME).ok_or(INVALID)?,
        ty,
        port_no: a.u32(ov::ATTR_PORT_NO),
        upcall_pids: a
            .get(ov::ATTR_UPCALL_PID)
            .map(|p| p.payload())
            .unwrap_or_default(),
    };
    let port_no = ctx.dp.vport_new(&req, ctx.wake)?;
    Ok(Reply::Len(reply(ctx, port_no)?))
}

fn lookup(ctx: &Ctx<'_>, a: &Parsed<'_, 4>) -> Result<u32, Fail> {
    Ok(ctx
        .dp
        .find_vport(a.str(ov::ATTR_NAME), a.u32(ov::ATTR_PORT_NO))?)
}

fn del(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = parse(ctx.msg.attr_bytes(), &LOOKUP_POLICY).map_err(|_| INVALID)?;
    let port_no = lookup(ctx, &a)?;
    let len = reply(ctx, port_no)?;
    ctx.dp.vport_del(port_no, ctx.wake)?;
    Ok(Reply::Len(len))
}

fn get(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    match ctx.op {
        DevOp::Write => ctx.start_dump(0),
        DevOp::Read => dump_next(ctx),
        DevOp::Transact => {
            let a = parse(ctx.msg.attr_bytes(), &LOOKUP_POLICY).map_err(|_| INVALID)?;
            let port_no = lookup(ctx, &a)?;
            Ok(Reply::Len(reply(ctx, port_no)?))
        }
    }
}

/// One vport per READ, in port-number order; 0 bytes ends the dump.
fn dump_next(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    ctx.dump_one(|dp, cursor, hdr, b| {
        let ports = dp.ports.read();
        let Some(v) = u32::try_from(cursor)
            .ok()
            .and_then(|c| ports.vports.next_from(c))
        else {
            return Ok(None);
        };
        fill(b, hdr, v)?;
        Ok(Some(u64::from(v.port_no) + 1))
    })
}

fn set(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = parse(ctx.msg.attr_bytes(), &SET_POLICY).map_err(|_| INVALID)?;
    let port_no = ctx
        .dp
        .find_vport(a.str(ov::ATTR_NAME), a.u32(ov::ATTR_PORT_NO))
        .map_err(|e| match e {
            Errno::Inval => Errno::NoDev,
            e => e,
        })?;
    let current = ctx
        .dp
        .ports
        .read()
        .vports
        .get(port_no)
        .map(|v| v.ty.ovs_type())
        .ok_or(Errno::NoDev)?;
    if a.u32(ov::ATTR_TYPE).is_some_and(|t| t != current) {
        return Err(Errno::Inval.into());
    }
    if a.has(ov::ATTR_OPTIONS) {
        return Err(Errno::NotSupp.into());
    }
    if let Some(p) = a.get(ov::ATTR_UPCALL_PID) {
        ctx.dp.vport_set_pids(port_no, p.payload())?;
    }
    Ok(Reply::Len(reply(ctx, port_no)?))
}
