//! The `show`, `dump-flows`, `dump-conntrack` and `frag-status` views: what
//! `ovs-dpctl show -s`, `dump-flows` and `dump-conntrack` print about the
//! datapath, and the tracker's fragment and expectation counters, read
//! straight from it.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use core::sync::atomic::Ordering::Relaxed;

use crate::conntrack::format::Entry;
use crate::datapath::Datapath;
use crate::flow::attrs::{MAX_KEY_LEN, emit_key, emit_mask};
use crate::flow::table::MASK_CACHE_ENTRIES;
use crate::flow::text::{format_actions, format_flow, format_tcp_flags};
use crate::netlink::{NlBuf, Overflow};
use crate::switch::{NicState, PortKind, Switch};
use crate::vport::{Vport, VportType};

/// `ovs-dpctl show -s`, with each vport's Hyper-V binding.
pub fn show(dp: &Datapath) -> Vec<String> {
    let t = dp.totals();
    let f = dp.flow_counts();
    let pkts = t.n_hit + t.n_missed;
    let ratio = |n: u64| {
        if pkts == 0 {
            0.0
        } else {
            n as f64 / pkts as f64
        }
    };
    let mut out = std::vec![
        format!("system@{}:", crate::ovs::dp::NAME),
        format!(
            "  lookups: hit:{} missed:{} lost:{}",
            t.n_hit, t.n_missed, t.n_lost
        ),
        format!("  flows: {}", f.flows),
        format!(
            "  dropped at the recirculation limit: {}",
            t.n_recirc_dropped
        ),
        format!(
            "  masks: hit:{} total:{} hit/pkt:{:.2}",
            t.n_mask_hit,
            f.masks,
            ratio(t.n_mask_hit)
        ),
        format!(
            "  cache: hit:{} hit-rate:{:.2}%",
            t.n_cache_hit,
            ratio(t.n_cache_hit) * 100.0
        ),
        "  caches:".into(),
        format!("    masks-cache: size:{MASK_CACHE_ENTRIES}"),
    ];
    let ports = dp.ports.read();
    for v in ports.vports.iter() {
        out.push(format!(
            "  port {}: {}{}",
            v.port_no,
            v.name,
            type_suffix(&v.ty)
        ));
        out.push(format!("    {}", binding(v, &ports.switch)));
        out.extend(counters(v));
    }
    out
}

/// ` (type)` as `ovs-dpctl show` writes it: nothing for a netdev ("system").
fn type_suffix(ty: &VportType) -> String {
    match ty {
        VportType::Netdev => String::new(),
        VportType::Internal => " (internal)".into(),
        VportType::Gre => " (gre)".into(),
        VportType::Vxlan { dst_port, gbp } => {
            let gbp = if *gbp { ", exts=gbp" } else { "" };
            format!(" (vxlan: dst_port={dst_port}{gbp})")
        }
        VportType::Geneve { dst_port } => format!(" (geneve: dst_port={dst_port})"),
    }
}

/// Which Hyper-V port and NIC the vport stands for, or why none.
fn binding(v: &Vport, switch: &Switch) -> String {
    if v.ty.is_tunnel() {
        return "tunnel: no Hyper-V port of its own".into();
    }
    let Some((port, nic)) = v.binding else {
        return format!("Hyper-V: not bound (no connected NIC named \"{}\")", v.name);
    };
    let Some(ep) = switch.endpoint(port, nic) else {
        return format!("Hyper-V: port {port} nic {nic}");
    };
    let kind = match ep.kind {
        PortKind::External => "external",
        PortKind::Internal => "internal",
        PortKind::Vm => "vm",
    };
    let state = match ep.state {
        NicState::Created => "created",
        NicState::Connected => "connected",
    };
    let m = ep.mac;
    format!(
        "Hyper-V: port {port} nic {nic} ({kind}, {state}) \"{}\" mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} mtu {}",
        ep.name, m[0], m[1], m[2], m[3], m[4], m[5], ep.mtu
    )
}

/// The `-s` counters of a vport.
fn counters(v: &Vport) -> [String; 3] {
    let s = &v.stats;
    let t = &s.traffic;
    let rx_packets = t.sum(|c| c.rx_packets.load(Relaxed));
    let tx_packets = t.sum(|c| c.tx_packets.load(Relaxed));
    let rx_bytes = t.sum(|c| c.rx_bytes.load(Relaxed));
    let tx_bytes = t.sum(|c| c.tx_bytes.load(Relaxed));
    [
        format!(
            "    RX packets:{rx_packets} errors:{} dropped:{}",
            s.rx_errors.load(Relaxed),
            s.rx_dropped.load(Relaxed)
        ),
        format!(
            "    TX packets:{tx_packets} errors:{} dropped:{}",
            s.tx_errors.load(Relaxed),
            s.tx_dropped.load(Relaxed)
        ),
        format!("    RX bytes:{rx_bytes}  TX bytes:{tx_bytes}"),
    ]
}

/// Netlink attributes one emitter writes (empty if they do not fit).
pub(super) fn emitted(f: impl FnOnce(&mut NlBuf<'_>) -> Result<(), Overflow>) -> Vec<u8> {
    let mut mem = std::vec![0u8; MAX_KEY_LEN];
    let mut b = NlBuf::new(&mut mem);
    let n = if f(&mut b).is_ok() { b.len() } else { 0 };
    mem.truncate(n);
    mem
}

/// `ovs-dpctl dump-flows`: each flow in OVS text with its stats.
pub fn dump_flows(dp: &Datapath, now_ms: u64) -> Vec<String> {
    let flows = dp.flows.read();
    let mut out = Vec::new();
    let mut cursor = 0;
    while let Some((next, f)) = flows.next_from(cursor) {
        cursor = next;
        let masked = f.masked_key();
        let key = emitted(|b| emit_key(&masked, b));
        let mask = emitted(|b| emit_mask(f.mask(), &masked, b));
        let st = f.stats();
        let used = if st.used_ms == 0 {
            "never".into()
        } else {
            format!("{:.3}s", now_ms.saturating_sub(st.used_ms) as f64 / 1000.0)
        };
        let flags = if st.tcp_flags == 0 {
            String::new()
        } else {
            format!(", flags:{}", format_tcp_flags(st.tcp_flags))
        };
        out.push(format!(
            "{}, packets:{}, bytes:{}, used:{used}{flags}, actions:{}",
            format_flow(&key, Some(&mask), false),
            st.packets,
            st.bytes,
            format_actions(f.actions().bytes())
        ));
    }
    out
}

/// The connections as `ovs-dpctl dump-conntrack` prints them, sorted.
pub fn dump_conntrack(dp: &Datapath) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((next, _, conn, ext)) = dp.conntrack.table().next(at) {
        let ext = ext.as_ref();
        out.push(Entry { conn: &conn, ext }.to_string());
        at = next;
    }
    out.sort();
    out
}

/// The connection tracker's fragment and expectation counters.
pub fn frag_status(dp: &Datapath) -> Vec<String> {
    let f = &dp.conntrack.frags;
    let counters = |named: &[(&str, u64)]| {
        named
            .iter()
            .map(|(n, v)| format!("{n}:{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let x = &dp.conntrack.expects;
    let load = |a: &core::sync::atomic::AtomicU64| a.load(core::sync::atomic::Ordering::Relaxed);
    std::vec![
        format!(
            "fragments: pending:{} bytes:{}/{}",
            f.pending(),
            f.used(),
            crate::conntrack::frag::BUDGET
        ),
        format!("  {}", counters(&f.stats.named())),
        format!(
            "expectations: pending:{} created:{} used:{} timed_out:{} full:{} clashes:{}",
            x.len(),
            load(&x.stats.created),
            load(&x.stats.used),
            load(&x.stats.timed_out),
            load(&x.stats.full),
            load(&x.stats.clashes)
        ),
    ]
}
