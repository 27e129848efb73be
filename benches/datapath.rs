//! The whole datapath, measured through the paths the driver uses: frames in
//! through `Datapath::receive` (extract + megaflow lookup + output) with 1, 8
//! and 32 masks and 1k / 100k flows on a warm mask cache; misses until the
//! upcall is queued; and flow installs through the IOCTL dispatcher up to
//! 200k flows, with the memory each flow takes.
//! Prints figures; asserts nothing.

#[path = "common/bed.rs"]
mod bed;
mod common;

use std::hint::black_box;
use std::time::Instant;

use bed::{Bed, Sent};
use common::Frame;
use ovsext::datapath::receive::{Effects, RxContext};
use ovsext::flow::FlowKey;
use ovsext::flow::attrs::{emit_key, emit_mask};
use ovsext::flow::extract::extract;
use ovsext::netlink::{NlBuf, Overflow};
use ovsext::packet::{OwnedPacket, Packet};
use ovsext::pend::Wakeups;
use ovsext::percpu::Cpu;
use ovsext::platform::time::Now;
use ovsext::sim::msg::Req;

const RUNS: usize = 5;

/// TCP/IPv4 from 10.x to 192.168.x, port 80, entering on `port`.
fn tcp_frame(src: u32, dst: u32) -> Frame {
    let mut buf = [0u8; 64];
    buf[..12].copy_from_slice(&[0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1]);
    buf[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut buf[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src.to_be_bytes());
    ip[16..20].copy_from_slice(&dst.to_be_bytes());
    let tcp = &mut buf[34..54];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = 0x10;
    Frame(Box::leak(Box::new(buf))[..60].as_ref())
}

fn attrs(emit: impl FnOnce(&mut NlBuf<'_>) -> Result<(), Overflow>) -> Vec<u8> {
    let mut mem = vec![0u8; 2048];
    let mut b = NlBuf::new(&mut mem);
    emit(&mut b).unwrap();
    let n = b.len();
    mem.truncate(n);
    mem
}

/// Mask `m`: the port and L2–L4 exact but the IPv4 destination under a
/// prefix of its own.
fn mask(m: usize) -> FlowKey {
    FlowKey {
        recirc_id: u32::MAX,
        in_port: u32::MAX,
        eth_type: 0xffff,
        vlan_tci: 0xffff,
        cvlan_tci: 0xffff,
        ip_proto: 0xff,
        ip_frag: 0xff,
        ipv4_src: u32::MAX,
        ipv4_dst: u32::MAX << (m % 24),
        tp_dst: 0xffff,
        tcp_flags: 0,
        ..Default::default()
    }
}

impl Bed {
    /// The `FLOW_CMD_NEW` request for flow `j` of `n_masks` masks.
    fn flow_new(&self, j: usize, n_masks: usize) -> Vec<u8> {
        self.flow_new_on(j, n_masks, None)
    }

    /// `flow_new`, entering on `port` if given.
    fn flow_new_on(&self, j: usize, n_masks: usize, port: Option<u32>) -> Vec<u8> {
        let (mut key, m) = self.flow(j, n_masks);
        key.in_port = port.unwrap_or(key.in_port);
        let frame = tcp_frame(key.ipv4_src, key.ipv4_dst);
        let mut k = FlowKey {
            in_port: key.in_port,
            ..Default::default()
        };
        extract(frame.data(), None, &mut k).unwrap();
        // Out to another of the `n_masks.max(2)` ports of the bed.
        let out = ((key.in_port as usize) % n_masks.max(2) + 1) as u32;
        Req::new(0x15, 1, 1, 0, 1)
            .flags(0x401)
            .raw(9, &(j as u128).to_ne_bytes())
            .raw(1, &attrs(|b| emit_key(&k, b)))
            .raw(7, &attrs(|b| emit_mask(&m, &k, b)))
            .raw(2, &ovsext::sim::msg::attr(1, &out.to_ne_bytes()))
            .bytes()
    }

    /// Flow `j`: mask `j % n_masks`, entering on vport `1 + j % n_masks`.
    fn flow(&self, j: usize, n_masks: usize) -> (FlowKey, FlowKey) {
        let m = j % n_masks;
        let key = FlowKey {
            in_port: 1 + m as u32,
            ipv4_src: 0x0a00_0000 | j as u32,
            ipv4_dst: 0xc0a8_0000 | ((j as u32).wrapping_mul(2_654_435_761) >> 16),
            ..Default::default()
        };
        (key, mask(m))
    }
}

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..RUNS).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// Frames per `receive_batch` call: an NBL chain's worth.
const BATCH: usize = 32;

/// ns per packet through `receive_batch` (chains of `BATCH` frames) and
/// through `receive` (one frame a call) for packets of `active` flows, on a
/// warm mask cache; and the install rate of those flows.
fn hits(n_masks: usize, n_flows: usize, active: usize) -> (f64, f64, f64) {
    let mut bed = Bed::new(n_masks.max(2));
    let t = Instant::now();
    for j in 0..n_flows {
        let msg = bed.flow_new(j, n_masks);
        bed.transact(&msg);
    }
    let installs = n_flows as f64 / t.elapsed().as_secs_f64();
    let packets: Vec<(u32, Frame)> = (0..active)
        .map(|i| {
            let j = (i * 7919) % n_flows;
            let (key, _) = bed.flow(j, n_masks);
            (key.in_port, tcp_frame(key.ipv4_src, key.ipv4_dst))
        })
        .collect();
    let mut ctx = RxContext::<Frame>::try_new(Cpu::Pinned(0), 7).unwrap();
    let mut sent = Sent::default();
    let mut wake = Wakeups::new();
    let rounds = 4_000_000 / active;
    let batched = best(|| {
        let t = Instant::now();
        bed.dev.with_datapath(|dp| {
            let mut fx = Effects {
                egress: &mut sent,
                wake: &mut wake,
            };
            for _ in 0..rounds {
                for chain in packets.chunks(BATCH) {
                    let frames = chain.iter().map(|(port, f)| ((*port, 0), *f));
                    dp.receive_batch(&mut ctx, frames, Now::from_ms(1), &mut fx);
                }
            }
        });
        t.elapsed().as_nanos() as f64 / (rounds * active) as f64
    });
    let single = best(|| {
        let t = Instant::now();
        bed.dev.with_datapath(|dp| {
            let mut fx = Effects {
                egress: &mut sent,
                wake: &mut wake,
            };
            for _ in 0..rounds {
                for (port, f) in &packets {
                    dp.receive(&mut ctx, (*port, 0), *f, Now::from_ms(1), &mut fx);
                }
            }
        });
        t.elapsed().as_nanos() as f64 / (rounds * active) as f64
    });
    black_box(sent.0);
    let missed = bed.dev.with_datapath(|dp| dp.totals().n_missed).unwrap();
    assert_eq!(missed, 0, "every bench packet hits");
    (batched, single, installs)
}

/// ns per miss until its upcall is queued (message built, queue appended),
/// with `n_flows` flows under `n_masks` masks installed: of as many ports as
/// masks (the missing packets' port has flows under one mask), or all of
/// the missing packets' port (every mask is probed).
fn misses(n_masks: usize, n_flows: usize, one_port: bool) -> f64 {
    let mut bed = Bed::new(n_masks.max(2));
    for j in 0..n_flows {
        let msg = bed.flow_new_on(j, n_masks, one_port.then_some(1));
        bed.transact(&msg);
    }
    let mut ctx = RxContext::<Frame>::try_new(Cpu::Pinned(0), 7).unwrap();
    let mut sent = Sent::default();
    let batch = 4000;
    best(|| {
        let mut wake = Wakeups::new();
        let t = Instant::now();
        bed.dev.with_datapath(|dp| {
            let mut fx = Effects {
                egress: &mut sent,
                wake: &mut wake,
            };
            for i in 0..batch {
                dp.receive(
                    &mut ctx,
                    (1, 0),
                    tcp_frame(0x0b00_0000 | i, 0xc0a8_0001),
                    Now::from_ms(1),
                    &mut fx,
                );
            }
        });
        let ns = t.elapsed().as_nanos() as f64 / f64::from(batch);
        bed.dev.with_datapath(|dp| {
            while let Ok(ovsext::upcall::Read::Message(_)) = dp.queues.lock().upcalls.read(1, 65536)
            {
            }
        });
        ns
    })
}

/// Flow installs through the IOCTL path up to 200k flows (8 masks, each
/// flow with a UFID, as ovs-vswitchd installs them): the rate per 50k, and
/// the memory per flow at 100k and 200k.
fn installs() {
    const STEP: usize = 50_000;
    let mut bed = Bed::new(8);
    println!("  flow installs through the IOCTL path (8 masks, UFIDs):");
    for step in 0..4 {
        let msgs: Vec<Vec<u8>> = (step * STEP..(step + 1) * STEP)
            .map(|j| bed.flow_new(j, 8))
            .collect();
        let t = Instant::now();
        for msg in &msgs {
            bed.transact(msg);
        }
        let rate = STEP as f64 / t.elapsed().as_secs_f64();
        let (n, charged, held) = bed
            .dev
            .with_datapath(|dp| {
                let flows = dp.flows.read();
                (flows.len(), flows.memory(), flows.footprint())
            })
            .unwrap();
        println!(
            "    {:>6} to {n:>6} flows: {rate:>9.0} flows/s; {:.0} bytes charged, {:.0} held per flow",
            step * STEP,
            charged as f64 / n as f64,
            held as f64 / n as f64
        );
    }
}

fn extract_only() -> f64 {
    let f = tcp_frame(0x0a00_0001, 0xc0a8_0001);
    let mut key = FlowKey::default();
    best(|| {
        let t = Instant::now();
        for _ in 0..4_000_000 {
            black_box(extract(black_box(f.data()), None, &mut key)).ok();
        }
        t.elapsed().as_nanos() as f64 / 4e6
    })
}

fn main() {
    println!(
        "datapath (best of {RUNS} runs; warm mask cache: 256 active flows; chains of {BATCH} frames)"
    );
    println!(
        "  extract alone (TCP/IPv4):                {:6.1} ns/packet",
        extract_only()
    );
    for n_masks in [1, 8, 32] {
        for n_flows in [1_000, 100_000] {
            let (batched, single, installs) = hits(n_masks, n_flows, 256);
            println!(
                "  extract+lookup+output, {n_masks:2} masks, {n_flows:6} flows: {batched:6.1} ns/packet ({single:5.1} one frame a call); installed at {installs:.0} flows/s through the IOCTL path"
            );
        }
    }
    for (n_masks, n_flows, one_port) in [(1, 0, false), (8, 1_000, false), (8, 1_000, true)] {
        let ports = if one_port {
            "all on its port"
        } else {
            "one per port"
        };
        println!(
            "  miss until the upcall is queued, {n_masks} masks, {n_flows:5} flows ({ports}): {:6.1} ns/packet",
            misses(n_masks, n_flows, one_port)
        );
    }
    installs();
    let _ = OwnedPacket::from_frame(&[]);
}
