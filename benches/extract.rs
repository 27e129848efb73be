//! ns/frame of `flow::extract` for common frame kinds, and of `packet_hash`.
//! Prints figures only; the best of several rounds is reported to damp noise
//! from other work on the machine.

use ovsext::flow::FlowKey;
use ovsext::flow::extract::{extract, packet_hash};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: u32 = 7;
const ITERS: u32 = 1_000_000;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn eth(ty: u16) -> Vec<u8> {
    cat(&[
        &[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1],
        &ty.to_be_bytes(),
    ])
}

fn ipv4(proto: u8) -> Vec<u8> {
    vec![
        0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]
}

fn ipv6(next: u8) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0, 0, 20, next, 64];
    h.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h
}

fn tcp() -> Vec<u8> {
    vec![
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]
}

fn udp() -> Vec<u8> {
    vec![0x13, 0x88, 0x00, 0x35, 0, 28, 0, 0]
}

fn payload(frame: Vec<u8>) -> Vec<u8> {
    cat(&[&frame, &[0xab; 32]])
}

/// Best-of-rounds nanoseconds per call of `f`.
fn measure(mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..ITERS {
            f();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(ITERS));
    }
    best
}

fn main() {
    let frames: [(&str, Vec<u8>, Option<u16>); 7] = [
        (
            "ipv4/tcp",
            payload(cat(&[&eth(0x0800), &ipv4(6), &tcp()])),
            None,
        ),
        (
            "ipv6/udp",
            payload(cat(&[&eth(0x86dd), &ipv6(17), &udp()])),
            None,
        ),
        (
            "vlan/ipv4/udp",
            payload(cat(&[&eth(0x8100), &[0, 10, 0x08, 0], &ipv4(17), &udp()])),
            None,
        ),
        (
            "oob-vlan/ipv4/tcp",
            payload(cat(&[&eth(0x0800), &ipv4(6), &tcp()])),
            Some(10),
        ),
        (
            "qinq/ipv6+hbh/tcp",
            payload(cat(&[
                &eth(0x88a8),
                &[0, 1, 0x81, 0],
                &[0, 2, 0x86, 0xdd],
                &ipv6(0),
                &[6, 0, 1, 4, 0, 0, 0, 0],
                &tcp(),
            ])),
            None,
        ),
        (
            "arp",
            cat(&[
                &eth(0x0806),
                &[
                    0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0,
                    0, 2,
                ],
            ]),
            None,
        ),
        (
            "ipv6/nd-ns+sll",
            cat(&[
                &eth(0x86dd),
                &ipv6(58),
                &[135, 0, 0, 0, 0, 0, 0, 0],
                &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                &[1, 1, 2, 0, 0, 0, 0, 1],
            ]),
            None,
        ),
    ];

    let mut key = FlowKey::default();
    println!("flow::extract, best of {ROUNDS} x {ITERS} calls");
    for (name, frame, oob) in &frames {
        let ns = measure(|| {
            // Consume what a datapath reads next: one offset and one key field.
            if let Ok(layout) = extract(black_box(frame), black_box(*oob), &mut key) {
                black_box(layout.l4);
            }
            black_box(key.tp_dst);
        });
        println!("  {name:<20} {ns:6.1} ns/frame ({} bytes)", frame.len());
    }

    if let Some((_, frame, _)) = frames.first() {
        let _ = extract(frame, None, &mut key);
    }
    let ns = measure(|| {
        black_box(packet_hash(black_box(&key)));
    });
    println!("  {:<20} {ns:6.1} ns/key", "packet_hash");
}
