//! MPLS, NSH and Ethernet header push and pop per packet: each list pushes
//! a header and pops it again (the frame ends as it began, so one packet
//! goes round and round without allocating), then outputs. The key is read
//! again after each push and pop, as the executor does. Prints figures;
//! asserts nothing.

use std::hint::black_box;
use std::time::Instant;

use ovsext::actions::{Env, ExecContext, Userspace, execute};
use ovsext::flow::FlowKey;
use ovsext::flow::extract::extract;
use ovsext::packet::{OwnedPacket, Packet};

const RUNS: usize = 5;
const PACKETS: usize = 1_000_000;

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..RUNS).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// Keeps what is output, so the next round sends it again.
#[derive(Default)]
struct Loop {
    pkt: Option<OwnedPacket>,
}

impl Env<OwnedPacket> for Loop {
    fn output(&mut self, _: u32, pkt: OwnedPacket) {
        self.pkt = Some(pkt);
    }
    fn userspace(&mut self, _: &OwnedPacket, _: &FlowKey, _: &Userspace<'_>) {}
    fn recirc(&mut self, _: OwnedPacket, _: &FlowKey) {}
    fn random(&mut self) -> u32 {
        0
    }
    fn meter(&mut self, _: u32, _: usize) -> bool {
        false
    }
}

fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

/// A 64-byte Ethernet/IPv4/UDP frame.
fn frame() -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[
        0x45, 0, 0, 50, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend_from_slice(&[0x03, 0xe8, 0, 53, 0, 30, 0, 0]);
    f.resize(64, 0);
    f
}

/// ns per packet of `list`.
fn run(list: &[u8]) -> f64 {
    let f = frame();
    let mut ctx = ExecContext::<OwnedPacket>::try_new().unwrap();
    let mut env = Loop {
        pkt: Some(OwnedPacket::from_frame(&f).unwrap()),
    };
    let mut key = FlowKey::default();
    extract(&f, None, &mut key).unwrap();
    let start = key;
    let r = best(|| {
        let t = Instant::now();
        for _ in 0..PACKETS {
            let pkt = env.pkt.take().unwrap();
            key = start;
            black_box(execute(&mut ctx, &mut env, pkt, &mut key, list));
        }
        t.elapsed().as_nanos() as f64 / PACKETS as f64
    });
    assert_eq!(env.pkt.as_ref().unwrap().data(), &f[..], "round trip");
    r
}

fn main() {
    let out = attr(1, &2u32.to_ne_bytes());
    let mark = attr(3, &attr(15, &7u32.to_ne_bytes()));
    let push_mpls = attr(9, &[0, 0x06, 0x41, 0x40, 0x88, 0x47, 0, 0]);
    let pop_mpls = attr(10, &[0x08, 0x00]);
    let nsh = [attr(1, &[0, 63, 1, 3, 0, 0, 0x10, 0xff]), attr(2, &[0; 16])].concat();
    let push_nsh = attr(17, &attr(28, &nsh));
    let pop_nsh = attr(18, &[]);
    let push_eth = attr(14, &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    let pop_eth = attr(15, &[]);
    println!("push and pop (best of {RUNS} runs of {PACKETS} 64-byte packets)");
    let base = run(&[mark, out.clone()].concat());
    println!("  set(skb_mark),output (the walk alone):     {base:6.1} ns/packet");
    for (name, list) in [
        ("push_mpls,pop_mpls", [push_mpls, pop_mpls].concat()),
        (
            "push_nsh(md1),push_eth,pop_eth,pop_nsh",
            [push_nsh, push_eth.clone(), pop_eth.clone(), pop_nsh].concat(),
        ),
        ("pop_eth,push_eth", [pop_eth, push_eth].concat()),
    ] {
        let t = run(&[list, out.clone()].concat());
        println!(
            "  {name},output: {t:6.1} ns/packet ({:.1} more than the walk)",
            t - base
        );
    }
}
