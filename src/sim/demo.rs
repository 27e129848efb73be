//! The built-in demo: a switch with an uplink, the host NIC and two VMs;
//! ovs-vswitchd's start-up sequence against it; and the trace of every
//! request and reply in words.

// The demo's own constant frames: indexing them cannot fail.
#![allow(clippy::indexing_slicing)]

use std::format;
use std::io::{self, Write};
use std::string::String;
use std::vec::Vec;

use super::msg::Req;
use super::view::emitted;
use super::{Sim, Trace};
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

/// A UDP packet from vm1 (00:15:5d:00:00:03, 10.0.0.3) to vm2
/// (00:15:5d:00:00:04, 10.0.0.4), from the given source port.
fn udp_frame(sport: u16) -> Vec<u8> {
    let mut f = std::vec![
        0x00, 0x15, 0x5d, 0, 0, 4, 0x00, 0x15, 0x5d, 0, 0, 3, 0x08, 0x00
    ];
    let payload = b"demo";
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = std::vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 3, 10, 0, 0, 4
    ];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = ip
        .chunks(2)
        .fold(0u32, |s, c| s + u32::from(u16::from_be_bytes([c[0], c[1]])));
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend(ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&4789u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The key attributes of a packet of vm1 (vport 3), as the upcall reports them.
fn flow_key(frame: &[u8]) -> Vec<u8> {
    let mut key = crate::flow::FlowKey {
        in_port: 3,
        ..Default::default()
    };
    crate::flow::extract::extract(frame, None, &mut key).expect("the demo frame parses");
    emitted(|b| crate::flow::attrs::emit_key(&key, b))
}

fn output(port: u32) -> Vec<u8> {
    super::msg::attr(crate::ovs::action::OUTPUT, &port.to_ne_bytes())
}

/// The megaflow ovs-vswitchd installs for the first packet: recirc_id,
/// in_port, the destination MAC and the Ethertype matter, nothing else.
fn flow_new(seq: u32) -> Req {
    let frame = udp_frame(1000);
    let mut key = crate::flow::FlowKey {
        in_port: 3,
        ..Default::default()
    };
    crate::flow::extract::extract(&frame, None, &mut key).expect("the demo frame parses");
    let mask = crate::flow::FlowKey {
        recirc_id: u32::MAX,
        in_port: u32::MAX,
        eth_dst: [0xff; 6],
        eth_type: 0xffff,
        vlan_tci: 0xffff,
        cvlan_tci: 0xffff,
        ..Default::default()
    };
    let ufid: [u8; 16] = *b"demo-flow-ufid!!";
    Req::new(fam::FLOW, crate::ovs::flow::CMD_NEW, 1, seq, 1)
        .flags(
            crate::netlink::NLM_F_REQUEST
                | crate::netlink::NLM_F_CREATE
                | crate::netlink::NLM_F_ECHO,
        )
        .raw(crate::ovs::flow::ATTR_UFID, &ufid)
        .raw(crate::ovs::flow::ATTR_KEY, &flow_key(&frame))
        .raw(
            crate::ovs::flow::ATTR_MASK,
            &emitted(|b| crate::flow::attrs::emit_mask(&mask, &key, b)),
        )
        .raw(crate::ovs::flow::ATTR_ACTIONS, &output(4))
}

/// A TCP segment between vm2 (00:15:5d:00:00:04) and the uplink's
/// gateway (00:15:5d:00:00:01), checksums filled in.
fn tcp_frame(
    to_vm: bool,
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    flags: u8,
    seq: u32,
    ack: u32,
) -> Vec<u8> {
    let (vm, gw) = ([0x00, 0x15, 0x5d, 0, 0, 4], [0x00, 0x15, 0x5d, 0, 0, 1]);
    let (dmac, smac) = if to_vm { (vm, gw) } else { (gw, vm) };
    let mut f = [&dmac[..], &smac, &[0x08, 0x00]].concat();
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    let all = crate::offload::Checksums {
        ip: true,
        tcp: true,
        udp: false,
    };
    crate::offload::complete_checksums(&mut f, all).expect("a whole TCP frame");
    f
}

/// A flow in `ovs-dpctl add-flow` text with actions in OVS text.
fn flow_text(seq: u32, flow: &str, actions: &str) -> Req {
    let (key, mask) = crate::flow::text::parse_flow(flow).expect("demo flow text");
    let actions = crate::flow::text::parse_actions(actions).expect("demo actions text");
    Req::new(fam::FLOW, crate::ovs::flow::CMD_NEW, 1, seq, 1)
        .flags(crate::netlink::NLM_F_REQUEST | crate::netlink::NLM_F_CREATE)
        .raw(crate::ovs::flow::ATTR_KEY, &key)
        .raw(crate::ovs::flow::ATTR_MASK, &mask)
        .raw(crate::ovs::flow::ATTR_ACTIONS, &actions)
}

/// vm2 (10.0.0.4) reaches 203.0.113.10:80 through the uplink: every TCP
/// packet goes through `ct(zone=1,nat)`; new connections from vm2 are
/// committed with SNAT to 192.168.100.1; established ones go on, replies
/// come back translated.
fn conntrack_lines() -> Vec<String> {
    let ip = "eth(),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(),tcp_flags(0/0)";
    let (vm2, server, public) = ([10, 0, 0, 4], [203, 0, 113, 10], [192, 168, 100, 1]);
    let flows = [
        (
            format!("recirc_id(0),in_port(4),{ip}"),
            "ct(zone=1,nat),recirc(1)",
        ),
        (
            format!("recirc_id(0),in_port(1),{ip}"),
            "ct(zone=1,nat),recirc(1)",
        ),
        (
            format!("recirc_id(0x1),in_port(4),ct_state(+new-est+trk),{ip}"),
            "ct(commit,zone=1,nat(src=192.168.100.1)),1",
        ),
        (
            format!("recirc_id(0x1),in_port(4),ct_state(-new+est+trk),{ip}"),
            "1",
        ),
        (
            format!("recirc_id(0x1),in_port(1),ct_state(+est+rpl+trk),{ip}"),
            "4",
        ),
    ];
    let mut lines: Vec<String> = flows
        .iter()
        .zip(30..)
        .map(|((flow, actions), seq)| ioctl(1, "TRANSACT", &flow_text(seq, flow, actions)))
        .collect();
    let (out, back) = ((40000, 80), (80, 40000));
    for (port, frame) in [
        (4, tcp_frame(false, vm2, server, out, 0x02, 1000, 0)),
        (1, tcp_frame(true, server, public, back, 0x12, 7000, 1001)),
        (4, tcp_frame(false, vm2, server, out, 0x10, 1001, 7001)),
    ] {
        lines.push(format!("rx {port} {}", super::hex(&frame)));
    }
    lines
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
            "vm1 sends a UDP packet to vm2: no flow matches, so it is a miss; the handler wakes and reads the upcall",
            std::vec![
                format!("rx 3 {}", super::hex(&udp_frame(1000))),
                "ioctl 2 READ_PACKET -".into(),
                "ioctl 2 READ_PACKET -".into(),
            ],
        ),
        step(
            "ovs-vswitchd installs a megaflow (from vm1, to vm2's MAC, IPv4: out to vm2) and sends the packet on",
            std::vec![
                ioctl(1, "TRANSACT", &flow_new(20)),
                ioctl(
                    1,
                    "TRANSACT",
                    &Req::new(fam::PACKET, crate::ovs::packet::CMD_EXECUTE, 1, 21, 1)
                        .raw(crate::ovs::packet::ATTR_PACKET, &udp_frame(1000))
                        .raw(crate::ovs::packet::ATTR_KEY, &flow_key(&udp_frame(1000)))
                        .raw(crate::ovs::packet::ATTR_ACTIONS, &output(4)),
                ),
                ioctl(
                    2,
                    "WRITE",
                    &Req::new(fam::CONTROL, ctrl::CMD_WIN_PEND_PACKET_REQ, 1, 4, 2)
                ),
            ],
        ),
        step(
            "Later packets of vm1 to vm2, of any UDP port, follow the flow without an upcall",
            std::vec![
                "tick 10".into(),
                format!("rx 3 {}", super::hex(&udp_frame(1000))),
                format!("rx 3 {}", super::hex(&udp_frame(1001))),
                format!("rx 3 {}", super::hex(&udp_frame(5353))),
            ],
        ),
        step(
            "A revalidator dumps the flows (one READ: the flow, then NLMSG_DONE)",
            std::vec![
                ioctl(
                    1,
                    "WRITE",
                    &Req::new(fam::FLOW, crate::ovs::flow::CMD_GET, 1, 22, 1).flags(dump)
                ),
                "ioctl 1 READ -".into(),
            ],
        ),
        step(
            "vm2 opens a TCP connection to 203.0.113.10:80 through ct(zone=1,nat): the SYN is new and committed with SNAT to 192.168.100.1, the SYN-ACK comes back translated, the ACK is established",
            conntrack_lines(),
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
        step(
            "What `ovs-dpctl show`, `dump-flows` and `dump-conntrack` would print now",
            std::vec!["show".into(), "dump-flows".into(), "dump-conntrack".into()]
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

/// Runs the demo, writing its trace: what `replay --explain` prints, less
/// the raw lines (and with `hex`, the frames' hex).
pub fn run(out: &mut impl Write, hex: bool) -> io::Result<()> {
    let mut sim = Sim::new();
    sim.set_trace(Some(Trace { hex }));
    writeln!(
        out,
        "ovsext-sim demo: the datapath driven as ovs-vswitchd drives it\n"
    )?;
    for (n, s) in steps().into_iter().enumerate() {
        writeln!(out, "{}. {}", n + 1, s.what)?;
        for line in &s.lines {
            if !line.starts_with("ioctl ") && !line.starts_with("rx ") {
                writeln!(out, "  > {line}")?;
            }
            let mut lines = Vec::new();
            sim.line(line, &mut lines);
            for l in &lines {
                match l.strip_prefix("# ") {
                    Some(words) => writeln!(out, "  {words}")?,
                    None if l.starts_with("error ") => writeln!(out, "  {l}")?,
                    None => {}
                }
            }
        }
        writeln!(out)?;
    }
    let live = sim.device().live();
    writeln!(out, "Left alive after every handle closed: {live:?}")?;
    Ok(())
}
