//! The METER action's cost per packet: a meter run alone (one band, three
//! bands), two processors running one meter at once, and the action inside
//! an action list against the same list with a meter that does nothing.
//! Each run continues the clock of the one before, so that a meter sees
//! time go forward (run again from the start, its buckets would be empty).
//! Prints figures and the packets dropped; asserts nothing.

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::Frame;
use ovsext::actions::{Env, ExecContext, Userspace, execute};
use ovsext::flow::FlowKey;
use ovsext::meter::{BandConfig, Config, Held, Meter};
use ovsext::ovs::meter::BAND_TYPE_DROP;
use ovsext::percpu::Cpu;
use ovsext::platform::time::Now;

const RUNS: usize = 5;
const PACKETS: u64 = 2_000_000;

/// The best of `RUNS` runs of `f`, given each run's first packet number.
fn best(mut f: impl FnMut(u64) -> f64) -> f64 {
    (0..RUNS as u64)
        .map(|r| f(r * PACKETS))
        .fold(f64::INFINITY, f64::min)
}

/// The time of packet `i`: one every 100 ns.
fn at(i: u64) -> Now {
    Now { ns: i * 100 }
}

/// A meter whose bands are generous enough that every packet passes (the
/// common case, and the one that updates every band): 100 Gb/s, with a
/// burst of 4 Tb (40 s) because two processors' clocks (each counting its
/// own packets) drift apart by up to a second of their time.
fn meter(bands: usize) -> Held {
    let cfg = (0..bands)
        .try_fold(Config::new(1, true), |c, i| {
            c.band(BandConfig {
                ty: BAND_TYPE_DROP,
                rate: 100_000_000 + i as u32,
                burst: 4_000_000_000,
            })
        })
        .unwrap();
    Meter::create(&cfg, Now::default(), 2).unwrap()
}

/// ns per packet of `Meter::run` on `threads` processors at once, and the
/// packets dropped.
fn run(bands: usize, threads: usize) -> (f64, u64) {
    let held = meter(bands);
    let m = held.get().unwrap();
    let mut dropped = 0;
    let ns = best(|first| {
        let t = Instant::now();
        dropped += std::thread::scope(|s| {
            let runs: Vec<_> = (0..threads)
                .map(|cpu| {
                    s.spawn(move || {
                        (first..first + PACKETS)
                            .filter(|&i| black_box(m.run(Cpu::Pinned(cpu), at(i), 64)))
                            .count() as u64
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).sum::<u64>()
        });
        t.elapsed().as_nanos() as f64 / PACKETS as f64
    });
    (ns, dropped)
}

/// Runs meters as the datapath does; `None` stands for a meter id that
/// does not exist.
struct MeterEnv<'a> {
    meter: Option<&'a Meter>,
    now: Now,
    sent: u64,
}

impl Env<Frame> for MeterEnv<'_> {
    fn output(&mut self, _: u32, _: Frame) {
        self.sent += 1;
    }
    fn userspace(&mut self, _: &Frame, _: &FlowKey, _: &Userspace<'_>) {}
    fn recirc(&mut self, _: Frame, _: &FlowKey) {}
    fn random(&mut self) -> u32 {
        0
    }
    fn meter(&mut self, _: u32, len: usize) -> bool {
        self.meter
            .is_some_and(|m| m.run(Cpu::Pinned(0), self.now, len))
    }
}

fn attr(ty: u16, v: u32) -> Vec<u8> {
    [8u16.to_ne_bytes(), ty.to_ne_bytes()]
        .concat()
        .into_iter()
        .chain(v.to_ne_bytes())
        .collect()
}

/// ns per packet of the list `meter(1),output(2)`.
fn action(meter: Option<&Meter>) -> f64 {
    let list = [attr(19, 1), attr(1, 2)].concat();
    let frame: &'static [u8] = Box::leak(vec![0u8; 64].into_boxed_slice());
    let mut ctx = ExecContext::<Frame>::try_new().unwrap();
    let mut env = MeterEnv {
        meter,
        now: Now::default(),
        sent: 0,
    };
    let mut key = FlowKey::default();
    let r = best(|first| {
        let t = Instant::now();
        for i in first..first + PACKETS {
            env.now = at(i);
            black_box(execute(&mut ctx, &mut env, Frame(frame), &mut key, &list));
        }
        t.elapsed().as_nanos() as f64 / PACKETS as f64
    });
    black_box(env.sent);
    r
}

fn main() {
    println!("meters (best of {RUNS} runs of {PACKETS} packets a processor, one every 100 ns)");
    for (bands, threads, what) in [
        (1, 1, "1 band, 1 processor:          "),
        (3, 1, "3 bands, 1 processor:         "),
        (1, 2, "1 band, 2 processors at once: "),
        (3, 2, "3 bands, 2 processors at once:"),
    ] {
        let (ns, dropped) = run(bands, threads);
        println!("  Meter::run, {what} {ns:6.1} ns/packet (each); dropped {dropped}");
    }
    let held = meter(1);
    let with = action(held.get());
    let without = action(None);
    println!(
        "  meter(1),output(2): {with:6.1} ns/packet; with no such meter {without:6.1}: the action costs {:.1} ns",
        with - without
    );
}
