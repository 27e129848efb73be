//! The METER action's cost per packet: a meter run alone (one band, three
//! bands), two processors running one meter at once, and the action inside
//! an action list against the same list with a meter that does nothing.
//! Prints figures; asserts nothing.

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

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..RUNS).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// A meter whose bands are generous enough that every packet passes (the
/// common case, and the one that updates every band).
fn meter(bands: usize) -> Held {
    let cfg = (0..bands)
        .try_fold(Config::new(1, true), |c, i| {
            c.band(BandConfig {
                ty: BAND_TYPE_DROP,
                rate: 100_000_000 + i as u32,
                burst: 1_000_000,
            })
        })
        .unwrap();
    Meter::create(&cfg, Now::default(), 2).unwrap()
}

/// ns per packet of `Meter::run` on `threads` processors at once.
fn run(bands: usize, threads: usize) -> f64 {
    let held = meter(bands);
    let m = held.get().unwrap();
    best(|| {
        let t = Instant::now();
        std::thread::scope(|s| {
            for cpu in 0..threads {
                s.spawn(move || {
                    for i in 0..PACKETS {
                        black_box(m.run(Cpu::Pinned(cpu), Now { ns: i * 100 }, 64));
                    }
                });
            }
        });
        t.elapsed().as_nanos() as f64 / PACKETS as f64
    })
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
    let r = best(|| {
        let t = Instant::now();
        for i in 0..PACKETS {
            env.now = Now { ns: i * 100 };
            black_box(execute(&mut ctx, &mut env, Frame(frame), &mut key, &list));
        }
        t.elapsed().as_nanos() as f64 / PACKETS as f64
    });
    black_box(env.sent);
    r
}

fn main() {
    println!("meters (best of {RUNS} runs of {PACKETS} packets; every packet passes)");
    println!(
        "  Meter::run, 1 band, 1 processor:          {:6.1} ns/packet",
        run(1, 1)
    );
    println!(
        "  Meter::run, 3 bands, 1 processor:         {:6.1} ns/packet",
        run(3, 1)
    );
    println!(
        "  Meter::run, 1 band, 2 processors at once: {:6.1} ns/packet (each)",
        run(1, 2)
    );
    let held = meter(1);
    let with = action(held.get());
    let without = action(None);
    println!(
        "  meter(1),output(2): {with:6.1} ns/packet; with no such meter {without:6.1}: the action costs {:.1} ns",
        with - without
    );
}
