//! The connection tracker, measured: the CT step alone on established TCP
//! connections (plain, with SNAT, and replies) at 1k, 100k and 1M connections, in
//! batches of 32 as the peer's `conntrack_execute` runs and one by one; the
//! whole pipeline extract -> lookup -> ct(zone,nat) -> recirc -> lookup ->
//! output through `Datapath::receive_batch` (plain and with SNAT); commits per second into a
//! table of 100k; and the table's bytes per connection.
//! Prints figures; asserts nothing about time.

#[path = "common/bed.rs"]
mod bed;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bed::{Bed, Sent};
use ovsext::conntrack::action::{CtAction, Nat, NatKind};
use ovsext::conntrack::{Ahead, Conntrack, Verdict};
use ovsext::datapath::receive::{Effects, RxContext};
use ovsext::flow::FlowKey;
use ovsext::flow::extract::extract;
use ovsext::packet::Packet;
use ovsext::pend::Wakeups;
use ovsext::percpu::Cpu;
use ovsext::platform::time::Now;
use ovsext::sim::msg::Req;

const RUNS: usize = 3;
const BATCH: usize = 32;

/// A writable frame of at most 64 bytes (NAT rewrites it).
#[derive(Clone, Copy)]
struct Buf {
    b: [u8; 64],
    len: usize,
}

impl Packet for Buf {
    fn data(&self) -> &[u8] {
        &self.b[..self.len]
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.b[..self.len])
    }
    fn push_front(&mut self, _: usize) -> Option<&mut [u8]> {
        None
    }
    fn pull_front(&mut self, _: usize) -> bool {
        false
    }
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    fn oob_vlan(&self) -> Option<u16> {
        None
    }
    fn set_oob_vlan(&mut self, _: Option<u16>) {}
    fn try_clone(&self) -> Option<Buf> {
        Some(*self)
    }
}

/// Connection `i`: 10.x.y.z:(1024 + i % 60000) -> 172.16.0.1:80.
fn addrs(i: u32) -> ([u8; 4], u16) {
    let src = (0x0a00_0000 | (i / 60000 + 1) << 8 | (i % 251)).to_be_bytes();
    (src, 1024 + (i % 60000) as u16)
}

const SERVER: [u8; 4] = [172, 16, 0, 1];

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8, seq: u32, ack: u32) -> Buf {
    let mut b = [0u8; 64];
    b[..12].copy_from_slice(&[0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1]);
    b[12..14].copy_from_slice(&[0x08, 0x00]);
    b[14] = 0x45;
    b[16..18].copy_from_slice(&40u16.to_be_bytes());
    b[22] = 64;
    b[23] = 6;
    b[26..30].copy_from_slice(&src);
    b[30..34].copy_from_slice(&dst);
    b[34..36].copy_from_slice(&sport.to_be_bytes());
    b[36..38].copy_from_slice(&dport.to_be_bytes());
    b[38..42].copy_from_slice(&seq.to_be_bytes());
    b[42..46].copy_from_slice(&ack.to_be_bytes());
    b[46] = 0x50;
    b[47] = flags;
    b[48..50].copy_from_slice(&0xffffu16.to_be_bytes());
    Buf { b, len: 54 }
}

fn key_of(p: &Buf, in_port: u32) -> FlowKey {
    let mut k = FlowKey {
        in_port,
        ..Default::default()
    };
    extract(p.data(), None, &mut k).unwrap();
    k
}

/// The established-direction ACK of connection `i`.
fn ack(i: u32) -> Buf {
    let (src, sport) = addrs(i);
    tcp(src, SERVER, sport, 80, 0x10, 101, 501)
}

/// The server's ACK of connection `i` (without NAT): the reply direction.
fn reply_ack(i: u32) -> Buf {
    let (dst, dport) = addrs(i);
    tcp(SERVER, dst, 80, dport, 0x10, 501, 101)
}

/// Opens connection `i` (SYN committed, SYN-ACK, ACK) through `commit`.
fn open(ct: &Conntrack, i: u32, commit: &CtAction, lookup: &CtAction) {
    let (src, sport) = addrs(i);
    let mut syn = tcp(src, SERVER, sport, 80, 0x02, 100, 0);
    let mut k = key_of(&syn, 1);
    assert_eq!(
        ct.execute(&mut syn, &mut k, commit, 0, &mut |_| {}),
        Verdict::Continue
    );
    // The SYN-ACK comes back to the translated side if there is one.
    let (dst, dport) = (
        syn.b[26..30].try_into().unwrap(),
        u16::from_be_bytes([syn.b[34], syn.b[35]]),
    );
    let mut synack = tcp(SERVER, dst, 80, dport, 0x12, 500, 101);
    let mut k = key_of(&synack, 2);
    ct.execute(&mut synack, &mut k, lookup, 0, &mut |_| {});
    let mut a = ack(i);
    let mut k = key_of(&a, 1);
    ct.execute(&mut a, &mut k, lookup, 0, &mut |_| {});
}

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..RUNS).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn snat() -> Nat {
    let mut lo = [0u8; 16];
    lo[..4].copy_from_slice(&[100, 64, 0, 0]);
    let mut hi = [0u8; 16];
    hi[..4].copy_from_slice(&[100, 127, 255, 255]);
    Nat {
        kind: Some(NatKind::Src),
        addrs: Some((lo, hi)),
        ..Nat::default()
    }
}

/// ns per packet of the CT step on established connections (ACKs in the
/// original direction, or the reply direction with `replies` and no NAT, a
/// pseudo-random connection each), with NAT or not,
/// run in batches of `BATCH` (`read_ahead` then `execute_read` for each
/// packet, as the datapath runs a batch's leading CT action, each batch
/// timed alone as the peer's `conntrack_execute`) and one by one (`execute`,
/// the whole loop timed, reloading each frame included); and the table's
/// bytes per connection.
fn ct_step(n: u32, nat: bool, replies: bool) -> (f64, f64, f64) {
    let ct = Conntrack::new(0x1234).unwrap();
    let commit = CtAction {
        commit: true,
        zone: 1,
        nat: nat.then(snat),
        ..CtAction::default()
    };
    let lookup = CtAction {
        zone: 1,
        nat: nat.then(Nat::default),
        ..CtAction::default()
    };
    for i in 0..n {
        open(&ct, i, &commit, &lookup);
    }
    assert_eq!(ct.table().len(), n);
    let per_conn = ct.table().bytes() as f64 / f64::from(n);
    let order: Vec<u32> = (0..n).map(|i| i.wrapping_mul(2_654_435_761) % n).collect();
    let frame = if replies { reply_ack } else { ack };
    let frames: Vec<Buf> = order.iter().take(65536).map(|&i| frame(i)).collect();
    // One batch of keys serves every batch, as the datapath's per-processor
    // batch does: the CT step reads the packet, and of the key only what
    // `clear_conntrack` resets (its own fields, the fragment and MAC
    // protocol, which all these frames share).
    let mut keys: Vec<FlowKey> = frames.iter().take(BATCH).map(|f| key_of(f, 1)).collect();
    let rounds = (2_000_000 / frames.len()).max(1);
    let per_packet = |d: Duration| d.as_nanos() as f64 / (rounds * frames.len()) as f64;
    let batched = best(|| {
        // Only the CT step is timed: reloading the frames from an array of
        // megabytes is not part of it (the peer times its
        // `conntrack_execute` calls alone the same way).
        let mut inside = Duration::ZERO;
        let mut verdicts = [Verdict::Continue; BATCH];
        let mut pkts = [frames[0]; BATCH];
        // What reading ahead reads, kept from batch to batch as the
        // datapath keeps it per processor.
        let mut ahead = [Ahead::default(); BATCH];
        for _ in 0..rounds {
            for f in frames.chunks(BATCH) {
                let k = &mut keys[..f.len()];
                // Fresh copies of the frames (NAT rewrites them), one copy
                // each as the peer reloads its packets; the keys' conntrack
                // fields cleared, as for packets fresh from a port.
                pkts[..f.len()].copy_from_slice(f);
                k.iter_mut().for_each(FlowKey::clear_conntrack);
                // The datapath's leading CT action: the batch read ahead,
                // then each packet run from what was read.
                let t = Instant::now();
                let pkts = &mut pkts[..f.len()];
                ct.read_ahead(lookup.zone, pkts.iter().zip(k.iter()).map(Some), &mut ahead);
                let each = pkts.iter_mut().zip(k.iter_mut()).zip(&mut verdicts);
                for (((p, key), v), a) in each.zip(&ahead) {
                    *v = ct.execute_read(p, key, &lookup, 1, &mut |_| {}, Some(a));
                }
                inside += t.elapsed();
                black_box(&verdicts);
                black_box(k[0].ct_state);
            }
        }
        per_packet(inside)
    });
    // +trk+est, +rpl for replies, +snat with NAT.
    let want = 0x22 | if replies { 0x08 } else { 0 } | if nat { 0x40 } else { 0 };
    assert!(keys.iter().all(|k| k.ct_state == want));
    let single = best(|| {
        let t = Instant::now();
        for _ in 0..rounds {
            for (i, f) in frames.iter().enumerate() {
                let key = &mut keys[i % BATCH];
                let mut p = *f;
                key.clear_conntrack();
                black_box(ct.execute(&mut p, key, &lookup, 1, &mut |_| {}));
                black_box(key.ct_state);
            }
        }
        per_packet(t.elapsed())
    });
    (batched, single, per_conn)
}

/// New connections committed per second into a table holding `base`.
fn commits(base: u32) -> f64 {
    let ct = Conntrack::new(0x99).unwrap();
    let commit = CtAction {
        commit: true,
        zone: 1,
        ..CtAction::default()
    };
    for i in 0..base {
        open(&ct, i, &commit, &commit);
    }
    let n = 200_000u32;
    let frames: Vec<Buf> = (0..n)
        .map(|i| {
            let (src, sport) = addrs(base + i);
            tcp(src, SERVER, sport, 80, 0x02, 100, 0)
        })
        .collect();
    let keys: Vec<FlowKey> = frames.iter().map(|f| key_of(f, 1)).collect();
    let t = Instant::now();
    for (f, k) in frames.iter().zip(&keys) {
        let mut p = *f;
        let mut key = *k;
        ct.execute(&mut p, &mut key, &commit, 0, &mut |_| {});
    }
    let rate = f64::from(n) / t.elapsed().as_secs_f64();
    assert_eq!(ct.table().len(), base + n);
    rate
}

/// A switch with vm1 (vport 1, the clients) and vm2 (vport 2), and the
/// pipeline ct(zone=1,nat) -> recirc(1) -> +est: out to vm2.
fn pipeline_bed() -> Bed {
    let mut bed = Bed::new(2);
    let base = "eth(),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(),tcp_flags(0/0)";
    for (flow, actions) in [
        (
            format!("recirc_id(0),in_port(1),{base}"),
            "ct(zone=1,nat),recirc(1)",
        ),
        (
            format!("recirc_id(1),in_port(1),ct_state(-new+est+trk),{base}"),
            "2",
        ),
    ] {
        let (key, mask) = ovsext::flow::text::parse_flow(&flow).unwrap();
        let acts = ovsext::flow::text::parse_actions(actions).unwrap();
        bed.transact(
            &Req::new(0x15, 1, 1, 0, 1)
                .flags(0x401)
                .raw(1, &key)
                .raw(7, &mask)
                .raw(2, &acts)
                .bytes(),
        );
    }
    bed
}

/// ns per packet through the whole pipeline for established connections,
/// committed with SNAT if `nat` (their packets then leave translated).
fn pipeline(n: u32, nat: bool) -> f64 {
    let bed = pipeline_bed();
    let dev = &bed.dev;
    dev.with_datapath(|dp| {
        let commit = CtAction {
            commit: true,
            zone: 1,
            nat: nat.then(snat),
            ..CtAction::default()
        };
        let lookup = CtAction {
            zone: 1,
            nat: nat.then(Nat::default),
            ..CtAction::default()
        };
        for i in 0..n {
            open(&dp.conntrack, i, &commit, &lookup);
        }
    });
    let order: Vec<u32> = (0..n).map(|i| i.wrapping_mul(2_654_435_761) % n).collect();
    let frames: Vec<Buf> = order.iter().take(65536).map(|&i| ack(i)).collect();
    let mut ctx = RxContext::<Buf>::try_new(Cpu::Pinned(0), 7).unwrap();
    let mut sent = Sent::default();
    let mut wake = Wakeups::new();
    let rounds = (1_000_000 / frames.len()).max(1);
    let ns = best(|| {
        let t = Instant::now();
        dev.with_datapath(|dp| {
            let mut fx = Effects {
                egress: &mut sent,
                wake: &mut wake,
            };
            for _ in 0..rounds {
                for chain in frames.chunks(BATCH) {
                    dp.receive_batch(
                        &mut ctx,
                        chain.iter().map(|f| ((1, 0), *f)),
                        Now::from_ms(1),
                        &mut fx,
                    );
                }
            }
        });
        t.elapsed().as_nanos() as f64 / (rounds * frames.len()) as f64
    });
    let (missed, hit) = dev
        .with_datapath(|dp| (dp.totals().n_missed, dp.totals().n_hit))
        .unwrap();
    assert_eq!(missed, 0, "every packet follows the pipeline");
    black_box((hit, sent.0));
    ns
}

fn main() {
    // `cargo bench --bench conntrack -- step 100000` runs what names both.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let sections: Vec<&str> = only
        .iter()
        .filter(|o| o.parse::<u32>().is_err())
        .map(String::as_str)
        .collect();
    let sizes: Vec<u32> = only.iter().filter_map(|o| o.parse().ok()).collect();
    let want = |what: &str, n: u32| {
        (sections.is_empty() || sections.contains(&what))
            && (sizes.is_empty() || sizes.contains(&n))
    };
    println!(
        "conntrack (best of {RUNS} runs; established TCP, a pseudo-random connection per packet)"
    );
    println!(
        "  bytes per connection: Conn {} bytes, index and slab included below",
        std::mem::size_of::<ovsext::conntrack::Conn>()
    );
    for n in [1_000, 100_000, 1_000_000] {
        if !want("step", n) {
            continue;
        }
        let (plain, plain1, bytes) = ct_step(n, false, false);
        let (nat, nat1, nat_bytes) = ct_step(n, true, false);
        let (replies, replies1, _) = ct_step(n, false, true);
        println!(
            "  {n:>9} connections: ct step {plain:6.1} ns/packet, with SNAT {nat:6.1} ns/packet, replies {replies:6.1} ns/packet (batches of {BATCH}; one by one {plain1:.1}, {nat1:.1}, {replies1:.1}); table {bytes:.0} bytes/connection ({nat_bytes:.0} with NAT)"
        );
    }
    for n in [1_000, 100_000, 1_000_000] {
        if !want("pipeline", n) {
            continue;
        }
        println!(
            "  {n:>9} connections: pipeline extract+lookup+ct(zone,nat)+recirc+lookup+output {:6.1} ns/packet, with SNAT {:6.1} ns/packet (chains of {BATCH})",
            pipeline(n, false),
            pipeline(n, true)
        );
    }
    if want("commits", 100_000) {
        println!(
            "  commits into a table of 100k: {:.2} M new connections/s",
            // A rate: the best is the least time per commit.
            -best(|| -commits(100_000)) / 1e6
        );
    }
}
