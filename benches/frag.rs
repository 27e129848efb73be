//! Fragments and helpers, measured: reassembly of a UDP datagram of 3000
//! bytes from three IPv4 fragments (per datagram, the three `add` calls and
//! the reassembled frame); cutting such a reassembled packet back to its
//! MRU of 1500 bytes on output (per packet, three fragments), and a
//! datagram of 64 KiB (44 fragments); and an FTP
//! PORT segment of a connection under SNAT through the CT action (lookup,
//! the address rewritten, sequence numbers moved, NAT).
//! Prints figures; asserts nothing about time.

use std::hint::black_box;
use std::time::Instant;

use ovsext::conntrack::Conntrack;
use ovsext::conntrack::action::{CtAction, Helper, Nat, NatKind};
use ovsext::conntrack::frag::{self, Outcome, Reassembly};
use ovsext::conntrack::refrag;
use ovsext::flow::FlowKey;
use ovsext::flow::extract::extract;
use ovsext::offload::{Checksums, complete_checksums};
use ovsext::packet::{OwnedPacket, Packet};

const RUNS: usize = 3;
const N: usize = 200_000;

/// An Ethernet/IPv4 UDP datagram with `n` bytes of data and id `id`
/// (checksums are not looked at here).
fn datagram(n: usize, id: u16) -> Vec<u8> {
    let mut f = vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 8, 0];
    let total = (20 + 8 + n) as u16;
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f[18..20].copy_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[0x30, 0x39, 0, 53]);
    f.extend_from_slice(&((8 + n) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend((0..n).map(|i| i as u8));
    f
}

/// The fragments output makes of `whole` at an MRU of 1500.
fn fragments(whole: &[u8]) -> Vec<Vec<u8>> {
    let mut p = OwnedPacket::from_frame(whole).unwrap();
    p.set_mru(1500);
    let mut out = Vec::new();
    let ids = Reassembly::new(0).unwrap();
    refrag::fragment(&p, &ids, &mut |f: OwnedPacket| out.push(f.data().to_vec())).unwrap();
    out
}

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..RUNS).map(|_| f()).fold(f64::MAX, f64::min)
}

fn reassembly() -> f64 {
    // Ids vary so every datagram takes a slot of its own, as on the wire.
    let trains: Vec<Vec<Vec<u8>>> = (0..64u16)
        .map(|id| fragments(&datagram(2972, id)))
        .collect();
    let r = Reassembly::new(0).unwrap();
    best(|| {
        let t = Instant::now();
        for i in 0..N {
            for f in &trains[i % trains.len()] {
                let f = frag::fragment(f, None, 0).unwrap();
                if let Outcome::Complete(d) = r.add(&f, 0) {
                    black_box(d);
                }
            }
        }
        t.elapsed().as_nanos() as f64 / N as f64
    })
}

/// Cutting a datagram with `n` bytes of data to an MRU of 1500, `runs`
/// times.
fn refragmentation(n: usize, runs: usize) -> f64 {
    let mut p = OwnedPacket::from_frame(&datagram(n, 1)).unwrap();
    p.set_mru(1500);
    let ids = Reassembly::new(0).unwrap();
    best(|| {
        let t = Instant::now();
        for _ in 0..runs {
            let mut n = 0;
            refrag::fragment(&p, &ids, &mut |f: OwnedPacket| n += black_box(f).len()).unwrap();
            black_box(n);
        }
        t.elapsed().as_nanos() as f64 / runs as f64
    })
}

/// A TCP segment from 10.0.0.1:40000 to 10.0.0.2:21 carrying `data`.
fn segment(flags: u8, seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 8, 0];
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0, 0, 64, 6, 0, 0]);
    f[16..18].copy_from_slice(&((40 + data.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&21u16.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(data);
    let sums = Checksums {
        ip: true,
        tcp: true,
        udp: false,
    };
    complete_checksums(&mut f, sums).unwrap();
    f
}

fn run(ct: &Conntrack, frame: &[u8], action: &CtAction) {
    let mut p = OwnedPacket::from_frame(frame).unwrap();
    let mut k = FlowKey::default();
    extract(p.data(), None, &mut k).unwrap();
    black_box(ct.execute(&mut p, &mut k, action, 0, &mut |_| {}));
    black_box(p);
}

fn ftp_rewrite() -> f64 {
    let ct = Conntrack::new(7).unwrap();
    let mut public = [0u8; 16];
    public[..4].copy_from_slice(&[10, 0, 0, 100]);
    let commit = CtAction {
        commit: true,
        helper: Some(Helper::Ftp),
        nat: Some(Nat {
            kind: Some(NatKind::Src),
            addrs: Some((public, public)),
            ..Nat::default()
        }),
        ..CtAction::default()
    };
    run(&ct, &segment(0x02, 100, 0, b""), &commit);
    let lookup = CtAction {
        nat: Some(Nat::default()),
        ..CtAction::default()
    };
    let port = segment(0x18, 101, 501, b"PORT 10,0,0,1,7,208\r\n");
    run(&ct, &port, &lookup);
    let made = ct
        .expects
        .stats
        .created
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(made, 1, "the PORT segment is read");
    best(|| {
        let t = Instant::now();
        for _ in 0..N {
            run(&ct, &port, &lookup);
        }
        t.elapsed().as_nanos() as f64 / N as f64
    })
}

fn main() {
    println!("fragments (best of {RUNS} runs of {N})");
    println!(
        "  reassembly of a 3-fragment datagram: {:7.1} ns/datagram",
        reassembly()
    );
    println!(
        "  refragmentation to 3 fragments:      {:7.1} ns/packet",
        refragmentation(2972, N)
    );
    println!(
        "  refragmentation of 64 KiB to 44:     {:7.1} ns/packet",
        refragmentation(65_000, N / 50)
    );
    println!(
        "  FTP PORT under SNAT through ct:      {:7.1} ns/segment (copy, extract and expectation included)",
        ftp_rewrite()
    );
}
