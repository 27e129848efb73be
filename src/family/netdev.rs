//! The Windows netdev family (`ovs_win_netdev`): what userspace's
//! netdev-windows learns about a Hyper-V NIC (MAC, MTU, link state) by name.

use super::{Command, Ctx, DevOp, Fail, Family, Ops, Reply};
use crate::datapath::Ports;
use crate::netlink::{AttrPolicy, Errno, MsgHeader, NLM_F_MULTI, NlBuf, Overflow, parse};
use crate::ovs::{family as fam, netdev as nd, vport as ov};
use crate::status::NtStatus;
use crate::switch::{Endpoint, NicState, PortKind};

pub static FAMILY: Family = Family {
    id: fam::NETDEV,
    version: fam::NETDEV_VERSION,
    commands: &[Command {
        cmd: nd::CMD_GET,
        ops: Ops::all(),
        check_dp: false,
        handler: get,
    }],
};

const POLICY: [AttrPolicy; 4] = [
    AttrPolicy::IGNORED,
    AttrPolicy::IGNORED,
    AttrPolicy::IGNORED,
    AttrPolicy::string(2, ov::NAME_MAX),
];

/// What a netdev message describes.
struct Netdev<'a> {
    port_no: u32,
    ovs_type: u32,
    name: &'a str,
    mac: [u8; 6],
    mtu: u32,
    up: bool,
}

fn of_endpoint<'a>(ports: &'a Ports, ep: &'a Endpoint) -> Netdev<'a> {
    let vport = ports.vports.by_name(&ep.name).filter(|v| !v.ty.is_tunnel());
    Netdev {
        port_no: vport.map_or(ov::PORT_INVALID, |v| v.port_no),
        ovs_type: if ep.kind == PortKind::Internal {
            ov::TYPE_INTERNAL
        } else {
            ov::TYPE_NETDEV
        },
        name: &ep.name,
        mac: ep.mac,
        mtu: ep.mtu,
        up: ep.state == NicState::Connected,
    }
}

/// By Hyper-V friendly name first, then by OVS vport name (tunnels).
fn lookup<'a>(ports: &'a Ports, name: &str) -> Option<Netdev<'a>> {
    if let Some(ep) = ports.switch.by_name(name) {
        return Some(of_endpoint(ports, ep));
    }
    let v = ports.vports.by_name(name)?;
    Some(Netdev {
        port_no: v.port_no,
        ovs_type: v.ty.ovs_type(),
        name: &v.name,
        mac: [0; 6],
        mtu: 0,
        up: true,
    })
}

fn fill(b: &mut NlBuf<'_>, hdr: &MsgHeader, n: &Netdev<'_>) -> Result<(), Overflow> {
    let m = b.begin_msg(hdr)?;
    b.put_u32(nd::ATTR_PORT_NO, n.port_no)?;
    b.put_u32(nd::ATTR_TYPE, n.ovs_type)?;
    b.put_str(nd::ATTR_NAME, n.name)?;
    b.put_attr(nd::ATTR_MAC_ADDR, &n.mac)?;
    b.put_u32(nd::ATTR_MTU, n.mtu)?;
    b.put_u32(nd::ATTR_IF_FLAGS, if n.up { nd::IFF_UP } else { 0 })?;
    b.end_msg(m);
    Ok(())
}

fn get(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    match ctx.op {
        DevOp::Write => ctx.start_dump(0),
        DevOp::Read => dump_next(ctx),
        DevOp::Transact => {
            let a = parse(ctx.msg.attr_bytes(), &POLICY)
                .map_err(|_| Fail::Status(NtStatus::INVALID_PARAMETER))?;
            let name = a
                .str(nd::ATTR_NAME)
                .ok_or(Fail::Status(NtStatus::INVALID_PARAMETER))?;
            let hdr = ctx.reply_header(
                fam::NETDEV,
                NLM_F_MULTI,
                ctx.msg.hdr.cmd,
                ctx.msg.hdr.version,
            );
            let ports = ctx.dp.ports.read();
            let n = lookup(&ports, name).ok_or(Errno::NoDev)?;
            let mut b = NlBuf::new(ctx.out);
            fill(&mut b, &hdr, &n)?;
            Ok(Reply::Len(b.len()))
        }
    }
}

/// One switch NIC per READ; 0 bytes ends the dump.
fn dump_next(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    ctx.dump_one(|dp, cursor, hdr, b| {
        let ports = dp.ports.read();
        let Some(ep) = usize::try_from(cursor)
            .ok()
            .and_then(|c| ports.switch.iter().nth(c))
        else {
            return Ok(None);
        };
        fill(b, hdr, &of_endpoint(&ports, ep))?;
        Ok(Some(cursor + 1))
    })
}
