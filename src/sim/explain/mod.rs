//! Netlink messages in words, for `ovsext-sim replay --explain` and the
//! demo: family, command and attributes by name, values decoded (strings,
//! numbers, flags and vport types by name, PID lists, stats as named
//! counters, flow keys, masks and actions in OVS's text, errnos by name,
//! frames as one-line summaries). An attribute it does not know prints as
//! `type=N <len bytes>`; nothing here fails.

pub mod frame;

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::flow::text::{format_actions, format_flow, format_tcp_flags};
use crate::names;
use crate::netlink::{Attr, Errno, MsgHeader, NLMSG_DONE, NLMSG_ERROR, NlMsg, OVS_MSG_LEN, attrs};
use crate::ovs::{dp, family as fam, flow, netdev, packet, vport};

/// How an attribute's payload reads.
#[derive(Clone, Copy)]
enum Shape {
    Str,
    Int,
    Flag,
    Pids,
    Features,
    VportType,
    Mac,
    IfFlags,
    UfidFlags,
    TcpFlags,
    /// A time in milliseconds.
    Msec,
    Ufid,
    /// Named u64 counters (a C struct of them).
    Counters(&'static [&'static str]),
    /// `ovs_dp_megaflow_stats`.
    Megaflow,
    /// Nested attributes, each a u64 or u16 counter by name.
    NestedCounters(&'static [&'static str]),
    Key,
    Actions,
    Frame,
    Opaque,
}

const DP_STATS: &[&str] = &["hit", "missed", "lost", "flows"];
/// `ovs_dp_megaflow_stats`: u64 mask_hit, u32 masks (+ pad), u64 cache_hit.
const MEGAFLOW_STATS: &[&str] = &["mask_hit", "masks", "cache_hit"];
const VPORT_STATS: &[&str] = &[
    "rx_packets",
    "tx_packets",
    "rx_bytes",
    "tx_bytes",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
];
const FLOW_STATS: &[&str] = &["packets", "bytes"];
const UPCALL_STATS: &[&str] = &["success", "fail", "pad"];
const TUNNEL_OPTIONS: &[&str] = &["unspec", "dst_port", "extension"];

fn shape(family: u16, ty: u16) -> Shape {
    match (family, ty) {
        (fam::DATAPATH, dp::ATTR_NAME) => Shape::Str,
        (fam::DATAPATH, dp::ATTR_STATS) => Shape::Counters(DP_STATS),
        (fam::DATAPATH, dp::ATTR_MEGAFLOW_STATS) => Shape::Megaflow,
        (fam::DATAPATH, dp::ATTR_USER_FEATURES) => Shape::Features,
        (fam::DATAPATH, dp::ATTR_PER_CPU_PIDS) => Shape::Pids,
        (fam::VPORT, vport::ATTR_TYPE) => Shape::VportType,
        (fam::VPORT, vport::ATTR_NAME) => Shape::Str,
        (fam::VPORT, vport::ATTR_OPTIONS) => Shape::NestedCounters(TUNNEL_OPTIONS),
        (fam::VPORT, vport::ATTR_UPCALL_PID) => Shape::Pids,
        (fam::VPORT, vport::ATTR_STATS) => Shape::Counters(VPORT_STATS),
        (fam::VPORT, vport::ATTR_UPCALL_STATS) => Shape::NestedCounters(UPCALL_STATS),
        (fam::FLOW, flow::ATTR_KEY | flow::ATTR_MASK) => Shape::Key,
        (fam::FLOW, flow::ATTR_ACTIONS) => Shape::Actions,
        (fam::FLOW, flow::ATTR_STATS) => Shape::Counters(FLOW_STATS),
        (fam::FLOW, flow::ATTR_TCP_FLAGS) => Shape::TcpFlags,
        (fam::FLOW, flow::ATTR_USED) => Shape::Msec,
        (fam::FLOW, flow::ATTR_CLEAR | flow::ATTR_PROBE) => Shape::Flag,
        (fam::FLOW, flow::ATTR_UFID) => Shape::Ufid,
        (fam::FLOW, flow::ATTR_UFID_FLAGS) => Shape::UfidFlags,
        (fam::PACKET, packet::ATTR_PACKET) => Shape::Frame,
        (fam::PACKET, packet::ATTR_KEY) => Shape::Key,
        (fam::PACKET, packet::ATTR_ACTIONS) => Shape::Actions,
        (fam::PACKET, packet::ATTR_PROBE) => Shape::Flag,
        (fam::PACKET, packet::ATTR_USERDATA | packet::ATTR_EGRESS_TUN_KEY) => Shape::Opaque,
        (fam::NETDEV, netdev::ATTR_TYPE) => Shape::VportType,
        (fam::NETDEV, netdev::ATTR_NAME) => Shape::Str,
        (fam::NETDEV, netdev::ATTR_MAC_ADDR) => Shape::Mac,
        (fam::NETDEV, netdev::ATTR_IF_FLAGS) => Shape::IfFlags,
        _ => Shape::Int,
    }
}

fn flags(v: u32, names: &[(u32, &str)]) -> String {
    names::Flags(v, names).to_string()
}

fn ints(p: &[u8]) -> Option<String> {
    Some(match p.len() {
        1 => p.first()?.to_string(),
        2 => u16::from_ne_bytes(p.try_into().ok()?).to_string(),
        4 => u32::from_ne_bytes(p.try_into().ok()?).to_string(),
        8 => u64::from_ne_bytes(p.try_into().ok()?).to_string(),
        _ => return None,
    })
}

fn u32s(p: &[u8]) -> Vec<u32> {
    p.chunks_exact(4)
        .filter_map(|c| c.try_into().ok().map(u32::from_ne_bytes))
        .collect()
}

fn u64s(p: &[u8]) -> Vec<u64> {
    p.chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_ne_bytes))
        .collect()
}

/// `ovs_dp_megaflow_stats` has a u32 among its u64s.
fn megaflow(p: &[u8]) -> Option<[u64; 3]> {
    let w = u64s(p);
    let masks = p.get(8..12)?.try_into().ok().map(u32::from_ne_bytes)?;
    Some([*w.first()?, u64::from(masks), *w.get(2)?])
}

fn counters(names: &[&str], values: &[u64]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value that fits on the message's own line, or `None` for one that
/// takes a line of its own (`Err` holds it).
fn value(shape: Shape, p: &[u8]) -> Result<Option<String>, String> {
    let u32v = || p.try_into().ok().map(u32::from_ne_bytes);
    let inline = match shape {
        Shape::Str => std::str::from_utf8(p.split(|&b| b == 0).next().unwrap_or_default())
            .ok()
            .map(|s| format!("\"{s}\"")),
        Shape::Int => ints(p),
        Shape::Msec => ints(p).map(|ms| format!("{ms}ms")),
        Shape::Flag => p.is_empty().then(|| "true".into()),
        Shape::Pids => p.len().is_multiple_of(4).then(|| {
            let pids: Vec<String> = u32s(p).iter().map(u32::to_string).collect();
            format!("[{}]", pids.join(","))
        }),
        Shape::Features => u32v().map(|v| flags(v, names::DP_FEATURES)),
        Shape::VportType => {
            u32v().map(|t| names::vport_type(t).map_or_else(|| format!("type{t}"), String::from))
        }
        Shape::Mac => <[u8; 6]>::try_from(p).ok().map(|m| frame::mac(&m)),
        Shape::IfFlags => u32v().map(|v| {
            flags(
                v,
                &[(netdev::IFF_UP, "UP"), (netdev::IFF_PROMISC, "PROMISC")],
            )
        }),
        Shape::UfidFlags => u32v().map(|v| {
            flags(
                v,
                &[
                    (flow::UFID_F_OMIT_KEY, "OMIT_KEY"),
                    (flow::UFID_F_OMIT_MASK, "OMIT_MASK"),
                    (flow::UFID_F_OMIT_ACTIONS, "OMIT_ACTIONS"),
                ],
            )
        }),
        Shape::TcpFlags => match p {
            [f] => Some(format_tcp_flags(u16::from(*f))),
            [a, b] => Some(format_tcp_flags(u16::from_ne_bytes([*a, *b]))),
            _ => None,
        },
        Shape::Ufid => (p.len() == 16).then(|| {
            let h = crate::sim::hex(p);
            let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_string();
            format!(
                "ufid:{}-{}-{}-{}-{}",
                part(0..8),
                part(8..12),
                part(12..16),
                part(16..20),
                part(20..32)
            )
        }),
        Shape::Megaflow => {
            return megaflow(p)
                .map(|v| Err(counters(MEGAFLOW_STATS, &v)))
                .unwrap_or(Ok(None));
        }
        Shape::Counters(names) if p.len() == names.len() * 8 => {
            return Err(counters(names, &u64s(p)));
        }
        Shape::NestedCounters(names) => {
            let parts: Vec<String> = attrs(p)
                .flatten()
                .map(|a| {
                    let n = names.get(usize::from(a.ty())).copied();
                    let v = ints(a.payload()).unwrap_or_else(|| format!("<{} bytes>", a.len()));
                    n.map_or_else(|| format!("type={} {v}", a.ty()), |n| format!("{n}={v}"))
                })
                .collect();
            return Err(parts.join(" "));
        }
        Shape::Key => return Err(format_flow(p, None, true)),
        Shape::Actions => return Err(format_actions(p)),
        Shape::Frame => return Err(frame::summary(p)),
        Shape::Counters(_) | Shape::Opaque => None,
    };
    Ok(inline)
}

/// Lines for the messages in `bytes`: a head line per message with its
/// short attributes, then a `  name: value` line for each long one (with the
/// frame's hex under it when `hex`).
pub fn messages(bytes: &[u8], hex: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(hdr) = MsgHeader::read(rest).or_else(|| {
        // A bare nlmsghdr (NLMSG_DONE) is shorter than an OVS header.
        let mut padded = rest.get(..rest.len().min(16))?.to_vec();
        padded.resize(OVS_MSG_LEN, 0);
        MsgHeader::read(&padded).filter(|_| rest.len() >= 16)
    }) {
        let len = (hdr.len as usize).clamp(16, rest.len());
        let this = rest.get(..len).unwrap_or_default();
        message(&hdr, this, hex, &mut out);
        rest = rest.get(crate::netlink::align(len)..).unwrap_or_default();
    }
    out
}

fn message(hdr: &MsgHeader, this: &[u8], hex: bool, out: &mut Vec<String>) {
    if hdr.ty == NLMSG_ERROR {
        let err = this
            .get(16..20)
            .and_then(|b| b.try_into().ok())
            .map_or(0, i32::from_ne_bytes);
        let what = match (err, Errno::from_wire(err)) {
            (0, _) => "ack".into(),
            (_, Some(e)) => format!("error {}", e.name()),
            (e, None) => format!("error {e}"),
        };
        out.push(format!("{what} (seq {})", hdr.seq));
        return;
    }
    if hdr.ty == NLMSG_DONE {
        out.push(format!("done (seq {})", hdr.seq));
        return;
    }
    let family = names::family(hdr.ty).map_or_else(|| format!("type 0x{:x}", hdr.ty), String::from);
    let cmd =
        names::command(hdr.ty, hdr.cmd).map_or_else(|| format!("cmd {}", hdr.cmd), String::from);
    let dp = if hdr.dp_ifindex != 0 {
        format!(", dp {}", hdr.dp_ifindex)
    } else {
        String::new()
    };
    let mut head = format!("{family} {cmd} (seq {}, pid {}{dp})", hdr.seq, hdr.pid);
    let mut long = Vec::new();
    let msg = NlMsg::new_checked(this);
    let all: Vec<Attr<'_>> = msg
        .map(|m| m.attrs().flatten().collect())
        .unwrap_or_default();
    let mask = (hdr.ty == fam::FLOW)
        .then(|| all.iter().find(|a| a.ty() == flow::ATTR_MASK))
        .flatten();
    for a in &all {
        let ty = a.ty();
        let Some(name) = names::attr(hdr.ty, hdr.cmd, ty) else {
            head.push_str(&format!(" type={ty} <{} bytes>", a.len()));
            continue;
        };
        // A flow's key and mask read as one: what dump-flows prints.
        if hdr.ty == fam::FLOW && ty == flow::ATTR_MASK {
            continue;
        }
        if let (flow::ATTR_KEY, Some(m)) = (ty, mask) {
            long.push(format!(
                "  flow: {}",
                format_flow(a.payload(), Some(m.payload()), false)
            ));
            continue;
        }
        match value(shape(hdr.ty, ty), a.payload()) {
            Ok(Some(v)) => head.push_str(&format!(" {name}={v}")),
            Ok(None) => head.push_str(&format!(" {name}=<{} bytes>", a.len())),
            Err(v) => {
                long.push(format!("  {name}: {v}"));
                if hex && matches!(shape(hdr.ty, ty), Shape::Frame) {
                    long.push(format!("    {}", crate::sim::hex(a.payload())));
                }
            }
        }
    }
    out.push(head);
    out.extend(long);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::msg::Req;

    #[test]
    fn datapath_request_by_name() {
        let req = Req::new(fam::DATAPATH, dp::CMD_SET, 2, 4, 1)
            .str(dp::ATTR_NAME, "ovs-system")
            .u32(dp::ATTR_UPCALL_PID, 0)
            .u32(
                dp::ATTR_USER_FEATURES,
                dp::F_UNALIGNED | dp::F_VPORT_PIDS | (1 << 31),
            );
        assert_eq!(
            messages(&req.bytes(), false),
            [
                "ovs_datapath SET (seq 4, pid 1) name=\"ovs-system\" upcall_pid=0 user_features=UNALIGNED|VPORT_PIDS|0x80000000"
            ]
        );
    }

    #[test]
    fn unknown_attributes_and_families_never_fail() {
        let req = Req::new(fam::VPORT, vport::CMD_NEW, 1, 1, 1)
            .raw(77, &[1, 2, 3])
            .u32(vport::ATTR_TYPE, 99)
            .raw(vport::ATTR_STATS, &[0; 5]);
        assert_eq!(
            messages(&req.bytes(), false),
            ["ovs_vport NEW (seq 1, pid 1) type=77 <3 bytes> type=type99 stats=<5 bytes>"]
        );
        let odd = Req::new(0x7777, 9, 1, 1, 1).u32(1, 5);
        assert_eq!(
            messages(&odd.bytes(), false),
            ["type 0x7777 cmd 9 (seq 1, pid 1) type=1 <4 bytes>"]
        );
        assert!(messages(&[1, 2, 3], false).is_empty());
    }

    #[test]
    fn errors_by_name() {
        let mut b = std::vec![0u8; 36];
        b[..4].copy_from_slice(&36u32.to_ne_bytes());
        b[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        b[8..12].copy_from_slice(&7u32.to_ne_bytes());
        b[16..20].copy_from_slice(&Errno::Exist.wire().to_ne_bytes());
        assert_eq!(messages(&b, false), ["error EEXIST (seq 7)"]);
        b[16..20].copy_from_slice(&0i32.to_ne_bytes());
        assert_eq!(messages(&b, false), ["ack (seq 7)"]);
    }

    #[test]
    fn vport_stats_and_pids_by_name() {
        let mut stats = std::vec::Vec::new();
        for v in 1..=8u64 {
            stats.extend_from_slice(&v.to_ne_bytes());
        }
        let req = Req::new(fam::VPORT, vport::CMD_NEW, 1, 1, 1)
            .u32(vport::ATTR_PORT_NO, 3)
            .u32(vport::ATTR_TYPE, vport::TYPE_INTERNAL)
            .raw(vport::ATTR_UPCALL_PID, &[2, 0, 0, 0, 5, 0, 0, 0])
            .raw(vport::ATTR_STATS, &stats);
        assert_eq!(
            messages(&req.bytes(), false),
            [
                "ovs_vport NEW (seq 1, pid 1) port_no=3 type=internal upcall_pid=[2,5]",
                "  stats: rx_packets=1 tx_packets=2 rx_bytes=3 tx_bytes=4 rx_errors=5 tx_errors=6 rx_dropped=7 tx_dropped=8"
            ]
        );
    }
}
