//! The built-in demo: a switch with an uplink, the host NIC and two VMs;
//! ovs-vswitchd's start-up sequence against it; and the trace of every
//! request and reply in words.

use std::format;
use std::io::{self, Write};
use std::string::String;
use std::vec::Vec;

use super::msg::{Req, describe};
use super::{Sim, parse_hex};
use crate::ovs::{ctrl, dp, family as fam, vport as ov};

/// A step of the demo: what happens, and the script lines that make it happen.
struct Step {
    what: &'static str,
    lines: Vec<String>,
}

fn step(what: &'static str, lines: Vec<String>) -> Step {
    Step { what, lines }
}

fn ioctl(h: u32, code: &str, req: &Req) -> String {
    format!("ioctl {h} {code} {}", req.hex())
}

/// `nl_sock_create`: open, GET_PID, SOCK_PROP (the PIDs are the driver's: 1, 2, 3 in order).
fn nl_sock(h: u32) -> Vec<String> {
    let sock_prop = Req::new(fam::CONTROL, ctrl::CMD_SOCK_PROP, 1, 1, h)
        .flags(0)
        .u32(ctrl::ATTR_SOCK_PROTO, 16)
        .u32(ctrl::ATTR_SOCK_PID, h);
    std::vec![
        format!("open {h}"),
        format!("ioctl {h} GET_PID - 4"),
        ioctl(h, "TRANSACT", &sock_prop)
    ]
}

fn dp_req(cmd: u8, seq: u32, features: u32) -> Req {
    Req::new(fam::DATAPATH, cmd, fam::DATAPATH_VERSION, seq, 1)
        .str(dp::ATTR_NAME, dp::NAME)
        .u32(dp::ATTR_UPCALL_PID, 0)
        .u32(dp::ATTR_USER_FEATURES, features)
}

fn vport_new(seq: u32, ty: u32, name: &str) -> Req {
    Req::new(fam::VPORT, ov::CMD_NEW, 1, seq, 1)
        .u32(ov::ATTR_TYPE, ty)
        .str(ov::ATTR_NAME, name)
        .u32(ov::ATTR_UPCALL_PID, 2)
}

fn steps() -> Vec<Step> {
    let dump = crate::netlink::NLM_F_REQUEST | crate::netlink::NLM_F_DUMP;
    std::vec![
        step(
            "Hyper-V attaches the extension to a switch with an uplink, the host NIC and two VMs",
            [
                "switch up",
                "port 1 external Ethernet0",
                "port 2 internal br-int",
                "port 3 vm vm1",
                "port 4 vm vm2"
            ]
            .map(String::from)
            .to_vec(),
        ),
        step("ovs-vswitchd opens its datapath socket (PID 1)", nl_sock(1)),
        step(
            "It creates the datapath (it exists), opens it and negotiates features",
            std::vec![
                ioctl(
                    1,
                    "TRANSACT",
                    &dp_req(
                        dp::CMD_NEW,
                        2,
                        dp::F_UNALIGNED | dp::F_VPORT_PIDS | (1 << 31)
                    )
                ),
                ioctl(1, "TRANSACT", &dp_req(dp::CMD_GET, 3, 0)),
                ioctl(
                    1,
                    "TRANSACT",
                    &dp_req(
                        dp::CMD_SET,
                        4,
                        dp::F_UNALIGNED | dp::F_VPORT_PIDS | (1 << 31)
                    )
                ),
                ioctl(
                    1,
                    "TRANSACT",
                    &dp_req(
                        dp::CMD_SET,
                        5,
                        dp::F_UNALIGNED | dp::F_DISPATCH_UPCALL_PER_CPU
                    )
                ),
                ioctl(
                    1,
                    "TRANSACT",
                    &dp_req(dp::CMD_SET, 6, dp::F_UNALIGNED | dp::F_VPORT_PIDS)
                ),
            ],
        ),
        step(
            "The upcall handler socket (PID 2) subscribes to packets and waits",
            {
                let mut l = nl_sock(2);
                l.push(ioctl(
                    2,
                    "WRITE",
                    &Req::new(fam::CONTROL, ctrl::CMD_PACKET_SUBSCRIBE_REQ, 1, 2, 2)
                        .u8(ctrl::ATTR_PACKET_SUBSCRIBE, 1)
                        .u32(ctrl::ATTR_PACKET_PID, 2),
                ));
                l.push(ioctl(
                    2,
                    "WRITE",
                    &Req::new(fam::CONTROL, ctrl::CMD_WIN_PEND_PACKET_REQ, 1, 3, 2),
                ));
                l
            }
        ),
        step(
            "The port notifier socket (PID 3) joins the vport group and waits",
            {
                let mut l = nl_sock(3);
                l.push(ioctl(
                    3,
                    "WRITE",
                    &Req::new(fam::CONTROL, ctrl::CMD_MC_SUBSCRIBE_REQ, 1, 2, 3)
                        .u32(ctrl::ATTR_MCAST_GRP, fam::VPORT_MCGRP)
                        .u8(ctrl::ATTR_MCAST_JOIN, 1),
                ));
                l.push(ioctl(
                    3,
                    "WRITE",
                    &Req::new(fam::CONTROL, ctrl::CMD_WIN_PEND_REQ, 1, 3, 3),
                ));
                l
            }
        ),
        step(
            "It lists the datapath's ports (none yet) and adds the bridge's ports",
            std::vec![
                ioctl(
                    1,
                    "WRITE",
                    &Req::new(fam::VPORT, ov::CMD_GET, 1, 7, 1).flags(dump)
                ),
                "ioctl 1 READ -".into(),
                ioctl(1, "TRANSACT", &vport_new(8, ov::TYPE_NETDEV, "Ethernet0")),
                ioctl(1, "TRANSACT", &vport_new(9, ov::TYPE_INTERNAL, "br-int")),
                ioctl(1, "TRANSACT", &vport_new(10, ov::TYPE_NETDEV, "vm1")),
                ioctl(1, "TRANSACT", &vport_new(11, ov::TYPE_NETDEV, "vm2")),
            ],
        ),
        step(
            "The notifier reads the port events",
            std::vec![
                "ioctl 3 READ_EVENT -".into(),
                "ioctl 3 READ_EVENT -".into(),
                "ioctl 3 READ_EVENT -".into(),
                "ioctl 3 READ_EVENT -".into(),
                "ioctl 3 READ_EVENT -".into()
            ],
        ),
        step(
            "VM vm2 shuts down: its NIC leaves the switch; the notifier hears of it",
            std::vec![
                ioctl(
                    3,
                    "WRITE",
                    &Req::new(fam::CONTROL, ctrl::CMD_WIN_PEND_REQ, 1, 4, 3)
                ),
                "unport 4".into(),
                "ioctl 3 READ_EVENT -".into(),
            ],
        ),
        step(
            "Datapath statistics",
            std::vec![ioctl(1, "TRANSACT", &dp_req(dp::CMD_GET, 12, 0))]
        ),
        step(
            "ovs-vswitchd exits: its handles close, pended requests complete",
            std::vec!["close 2".into(), "close 3".into(), "close 1".into()]
        ),
    ]
}

/// The demo as a replay script: each step a comment followed by its lines.
pub fn script() -> String {
    let mut out = String::new();
    for s in steps() {
        out.push_str(&format!("# {}\n", s.what));
        for l in s.lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// An `ioctl`/`complete` output line in words.
fn explain(line: &str) -> Vec<String> {
    let w: Vec<&str> = line.split(' ').collect();
    let (Some(status), Some(hex)) = (w.get(3), w.get(4)) else {
        return std::vec![line.into()];
    };
    let bytes = parse_hex(hex).unwrap_or_default();
    let head = format!(
        "{} {} {}",
        w.first().copied().unwrap_or_default(),
        w.get(2).copied().unwrap_or_default(),
        status
    );
    if bytes.is_empty() {
        return std::vec![format!("{head}, no data")];
    }
    if w.get(2) == Some(&"GET_PID") {
        return std::vec![format!(
            "{head}, PID {}",
            bytes
                .first_chunk::<4>()
                .map_or(0, |b| u32::from_ne_bytes(*b))
        )];
    }
    let mut out = std::vec![head];
    out.extend(describe(&bytes).into_iter().map(|d| format!("    {d}")));
    out
}

/// Runs the demo, writing its trace.
pub fn run(out: &mut impl Write) -> io::Result<()> {
    let mut sim = Sim::new();
    writeln!(
        out,
        "ovsext-sim demo: the datapath driven as ovs-vswitchd drives it\n"
    )?;
    for (n, s) in steps().into_iter().enumerate() {
        writeln!(out, "{}. {}", n + 1, s.what)?;
        for line in &s.lines {
            let request = line
                .split(' ')
                .nth(3)
                .and_then(|h| parse_hex(h).ok())
                .filter(|b| !b.is_empty());
            match request {
                Some(b) => {
                    let code = line.split(' ').nth(2).unwrap_or_default();
                    for d in describe(&b) {
                        writeln!(out, "  > {code} {d}")?;
                    }
                }
                None => writeln!(out, "  > {line}")?,
            }
            let mut lines = Vec::new();
            sim.line(line, &mut lines);
            for l in lines {
                for e in explain(&l) {
                    writeln!(out, "  < {e}")?;
                }
            }
        }
        writeln!(out)?;
    }
    let live = sim.device().live();
    writeln!(out, "Left alive after every handle closed: {live:?}")?;
    Ok(())
}
