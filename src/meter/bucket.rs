//! A meter band's token bucket, kept as the time at which it is full again
//! (the "theoretical arrival time" of the generic cell-rate algorithm): one
//! word, so every processor updates it with a compare-and-swap and no lock.
//!
//! Units are Linux's: a band's rate counts kilobits or packets per second,
//! its burst kilobits or packets, and a packet costs its bits or 1000
//! thousandths of a packet. Time is in ticks of 1/16 ns, so that costs of a
//! few ns (a small packet at tens of Gb/s) keep their fractions; rounding
//! always charges a packet at least its cost, never less.
//!
//! The bucket's word is a timeline: a packet passing at `now` is given
//! ticks of it no earlier than `now` and no later than `now` plus the
//! depth, and no tick is given twice, so the packets passing in any span of
//! time never cost more than the rate times the span plus the burst.
//!
//! A compare-and-swap per packet and band costs a few ns alone, and much
//! more when processors meet on one bucket and pull its word from each
//! other, so a processor takes a `Grant` instead: a run of the timeline's
//! ticks that it then spends alone, still each tick no earlier than the
//! packet's time. A grant is at most a sixteenth of the depth and a quarter
//! of what the bucket holds; ticks of it that time passes are gone, as the
//! bucket's own are; and when a grant runs short and nobody has taken past
//! it, what it holds is the bucket's next ticks, so it is merged back
//! before the next grant is taken: one processor alone passes and drops
//! exactly the packets it would without grants. Other processors see the
//! bucket emptier by what a grant holds until it is spent or time passes
//! it; they never see it fuller.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::percpu::Padded;
use crate::platform::time::Now;

/// Clock ticks per nanosecond.
const TICKS_PER_NS: u64 = 16;
/// Ticks a unit of a band of rate 1 (1 unit/ms) takes: 1 ms.
const TICKS_PER_UNIT_AT_RATE_1: u128 = 1_000_000 * TICKS_PER_NS as u128;
/// Fraction bits of the per-unit cost.
const FRACTION: u32 = 32;
/// Largest bucket depth: half the clock's range, so sums never wrap.
const MAX_DEPTH: u64 = u64::MAX / 4;
/// Compare-and-swap attempts before a packet is judged to exceed the band:
/// each failure means another processor's packet got through, so only a
/// meter under heavy contention ever runs out, and it then errs on dropping.
const CAS_TRIES: u32 = 16;
/// A grant is at most the depth shifted right by this (a sixteenth)...
const GRANT_OF_DEPTH: u32 = 4;
/// ...and at most what the bucket still holds shifted right by this.
const GRANT_OF_ROOM: u32 = 2;

/// Bucket units a packet of `len` bytes costs.
pub fn cost(kbps: bool, len: usize) -> u64 {
    if kbps {
        (len as u64).saturating_mul(8)
    } else {
        1000
    }
}

/// Ticks from `since` to `now` (0 if `now` is earlier: processors' clocks
/// may disagree by a little). 2^64 ticks are 36 years.
pub fn ticks(since: Now, now: Now) -> u64 {
    now.ns.saturating_sub(since.ns).saturating_mul(TICKS_PER_NS)
}

/// One processor's grant from one bucket, written by that processor alone.
#[derive(Debug, Default)]
pub struct Grant {
    /// The first tick not yet spent.
    start: AtomicU64,
    /// The tick after the grant's last; 0 before the first grant.
    end: AtomicU64,
}

impl Grant {
    /// Spends `cost` ticks of the grant on a packet at `now`, if it holds
    /// them no later than `now` plus `depth`.
    #[inline]
    fn spend(&self, now: u64, cost: u64, depth: u64) -> bool {
        let from = self.start.load(Relaxed).max(now);
        match from.checked_add(cost) {
            Some(to) if to <= self.end.load(Relaxed) && to - now <= depth => {
                self.start.store(to, Relaxed);
                true
            }
            _ => false,
        }
    }
}

#[derive(Debug)]
pub struct Bucket {
    /// When the bucket is full again, in ticks; at or before now, it is
    /// full. Alone on its cache line: it is the word processors write.
    full_at: Padded<AtomicU64>,
    /// Ticks per unit, fixed point with `FRACTION` bits, rounded up.
    per_unit: u64,
    /// Ticks a full bucket holds (burst × 1000 units), rounded down.
    depth: u64,
}

impl Bucket {
    /// A full bucket for a band of `rate` (non-zero) and `burst`.
    pub fn new(rate: u32, burst: u32) -> Bucket {
        let rate = u128::from(rate.max(1));
        let per_unit = (TICKS_PER_UNIT_AT_RATE_1 << FRACTION).div_ceil(rate);
        let depth = u128::from(burst) * 1000 * TICKS_PER_UNIT_AT_RATE_1 / rate;
        Bucket {
            full_at: Padded(AtomicU64::new(0)),
            per_unit: u64::try_from(per_unit).unwrap_or(u64::MAX),
            depth: u64::try_from(depth).unwrap_or(MAX_DEPTH).min(MAX_DEPTH),
        }
    }

    /// Takes `units` at `now` (ticks) from the processor's `grant` (none
    /// for a writer not pinned to a processor) or from the bucket; false
    /// (and nothing taken) if they do not hold them.
    #[inline]
    pub fn take(&self, grant: Option<&Grant>, now: u64, units: u64) -> bool {
        let cost =
            (u128::from(units) * u128::from(self.per_unit) + ((1 << FRACTION) - 1)) >> FRACTION;
        let cost = u64::try_from(cost).unwrap_or(u64::MAX);
        match grant {
            Some(g) => g.spend(now, cost, self.depth) || self.regrant(g, now, cost),
            None => self.take_plain(now, cost),
        }
    }

    /// The plain cell-rate algorithm, for a writer that has no grant.
    fn take_plain(&self, now: u64, cost: u64) -> bool {
        let mut seen = self.full_at.0.load(Relaxed);
        for _ in 0..CAS_TRIES {
            let Some(next) = seen.max(now).checked_add(cost) else {
                return false;
            };
            if next - now > self.depth {
                return false;
            }
            match self
                .full_at
                .0
                .compare_exchange(seen, next, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(current) => seen = current,
            }
        }
        false
    }

    /// Takes `cost` ticks for a processor whose grant runs short: what is
    /// left of it first, then from the bucket, with a new grant besides.
    fn regrant(&self, grant: &Grant, now: u64, cost: u64) -> bool {
        let (start, end) = (grant.start.load(Relaxed), grant.end.load(Relaxed));
        let from = start.max(now);
        let held = if end > from && end - now <= self.depth {
            end - from
        } else {
            0
        };
        let mut seen = self.full_at.0.load(Relaxed);
        for _ in 0..CAS_TRIES {
            // Nobody has taken past the grant: what it holds are the
            // bucket's next ticks, so they go back first.
            let top = end != 0 && seen == end;
            let (base, spent) = if top {
                (seen.max(now) - held, 0)
            } else {
                (seen.max(now), held)
            };
            let Some(taken) = base.checked_add(cost.saturating_sub(spent)) else {
                return false;
            };
            if taken - now > self.depth {
                return false;
            }
            let next = taken.saturating_add(self.grant(taken - now, cost));
            match self
                .full_at
                .0
                .compare_exchange(seen, next, Relaxed, Relaxed)
            {
                Ok(_) => {
                    grant.start.store(taken, Relaxed);
                    grant.end.store(next, Relaxed);
                    return true;
                }
                Err(current) => seen = current,
            }
        }
        false
    }

    /// Ticks to grant besides a packet's when `used` ticks of the depth are
    /// taken: none if that would not cover one more packet of `cost`.
    fn grant(&self, used: u64, cost: u64) -> u64 {
        let room = self.depth.saturating_sub(used);
        let g = (room >> GRANT_OF_ROOM).min(self.depth >> GRANT_OF_DEPTH);
        if g < cost { 0 } else { g }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000 * TICKS_PER_NS;

    #[test]
    fn starts_full_and_refills_at_the_rate() {
        // 1000 packets/s, burst 10: ten at once, then one per ms.
        let b = Bucket::new(1000, 10);
        let t = 5 * MS;
        assert_eq!(
            (0..20).filter(|_| b.take(None, t, cost(false, 60))).count(),
            10
        );
        assert!(!b.take(None, t + MS - 1, 1000));
        assert!(b.take(None, t + MS, 1000));
        assert!(!b.take(None, t + MS, 1000));
        // Idle long enough, it is full again, never fuller.
        let later = t + 1000 * MS;
        assert_eq!((0..20).filter(|_| b.take(None, later, 1000)).count(), 10);
    }

    #[test]
    fn kbps_counts_bits() {
        // 8 kb/s, burst 8 kb: 1000 bytes at once, then 1 byte per ms.
        let b = Bucket::new(8, 8);
        assert!(b.take(None, 0, cost(true, 1000)));
        assert!(!b.take(None, 0, cost(true, 1)));
        assert!(b.take(None, 10 * MS, cost(true, 10)));
        assert!(!b.take(None, 10 * MS, cost(true, 1)));
    }

    #[test]
    fn zero_burst_passes_nothing() {
        assert!(!Bucket::new(5, 0).take(None, u64::MAX / 2, 1000));
    }

    #[test]
    fn small_costs_keep_their_fractions() {
        // 10 Gb/s with a 100 ns burst; 64-byte packets cost 51.2 ns each.
        let ns = |i: u64, gap: u64| i * gap * TICKS_PER_NS;
        let slower = Bucket::new(10_000_000, 1);
        let all = (0..10_000).filter(|&i| slower.take(None, ns(i, 52), cost(true, 64)));
        assert_eq!(all.count(), 10_000);
        // One every 50 ns for 500 µs: at most 9765.6 fit, plus the burst.
        let faster = Bucket::new(10_000_000, 1);
        let n = (0..10_000)
            .filter(|&i| faster.take(None, ns(i, 50), cost(true, 64)))
            .count();
        assert!((9_740..=9_767).contains(&n), "{n}");
    }

    #[test]
    fn extreme_configurations_do_not_overflow() {
        for (rate, burst) in [(1, u32::MAX), (u32::MAX, u32::MAX), (u32::MAX, 1), (1, 0)] {
            let b = Bucket::new(rate, burst);
            for now in [0, 1, MS, u64::MAX / 2, u64::MAX] {
                let _ = b.take(None, now, u64::MAX);
                let _ = b.take(None, now, 1000);
            }
        }
        assert_eq!(ticks(Now::default(), Now { ns: u64::MAX }), u64::MAX);
        assert_eq!(ticks(Now { ns: 9 }, Now { ns: 5 }), 0);
        assert!(!Bucket::new(1, u32::MAX).take(None, u64::MAX, 1));
    }

    fn word(b: &Bucket) -> u64 {
        b.full_at.0.load(Relaxed)
    }

    /// Whether packets passed at (ns, units) never cost more in any span
    /// of time than `rate` (units per ms) times it plus `burst` × 1000.
    fn within_every_span(mut passed: std::vec::Vec<(u64, u64)>, rate: u32, burst: u32) -> bool {
        passed.sort_unstable();
        let (rate, burst) = (i128::from(rate), i128::from(burst) * 1_000_000_000);
        // The span from packet i to packet j, in units × 10^6:
        // sum(i..=j) <= burst + rate × (t_j - t_i); `least` is the smallest
        // sum(..i) - rate × t_i so far.
        let (mut sum, mut least) = (0i128, i128::MAX);
        passed.into_iter().all(|(ns, units)| {
            least = least.min(sum - rate * i128::from(ns));
            sum += i128::from(units) * 1_000_000;
            sum - rate * i128::from(ns) <= burst + least
        })
    }

    #[test]
    fn the_span_check_catches_a_burst_too_many() {
        let at = |ns, n| (0..n).map(move |_| (ns, 1000));
        // 1000 packets/s, burst 10.
        let ok: std::vec::Vec<_> = at(0, 10).chain(at(5_000_000, 5)).collect();
        assert!(within_every_span(ok, 1000, 10));
        let late: std::vec::Vec<_> = at(0, 2).chain(at(9_000_000, 18)).collect();
        assert!(
            !within_every_span(late, 1000, 10),
            "10 + 9 in the last 9 ms"
        );
    }

    /// A train of packets as (gap ns, bytes), from a fixed seed.
    fn train(seed: u64, n: usize) -> impl Iterator<Item = (u64, usize)> {
        let mut x = seed;
        (0..n).map(move |_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((x >> 33) % 400_000, (x >> 20) as usize % 1500)
        })
    }

    #[test]
    fn one_processor_meters_as_without_grants() {
        for (kbps, rate, burst) in [(true, 1000, 20), (false, 500, 3), (true, 1, 0)] {
            let (with, without) = (Bucket::new(rate, burst), Bucket::new(rate, burst));
            let g = Grant::default();
            let mut now = 0;
            for (gap, len) in train(u64::from(rate), 5000) {
                now += gap * TICKS_PER_NS;
                let units = cost(kbps, len);
                assert_eq!(
                    with.take(Some(&g), now, units),
                    without.take(None, now, units)
                );
                // What the grant has spent is where the plain bucket is.
                assert_eq!(g.start.load(Relaxed), word(&without));
                assert_eq!(g.end.load(Relaxed), word(&with));
            }
        }
    }

    #[test]
    fn a_grant_is_spent_alone_then_merged_into_the_next() {
        // 1000 packets/s, burst 100: a grant is a sixteenth of 100 ms.
        let (b, plain) = (Bucket::new(1000, 100), Bucket::new(1000, 100));
        let g = Grant::default();
        let t = 5 * MS;
        assert!(b.take(Some(&g), t, 1000));
        assert_eq!(
            (g.start.load(Relaxed), g.end.load(Relaxed)),
            (t + MS, t + MS + 100 * MS / 16)
        );
        let taken = word(&b);
        assert!((0..6).all(|_| b.take(Some(&g), t, 1000)));
        assert_eq!(word(&b), taken, "the bucket's word untouched");
        // A quarter of a packet left, and nobody took past it: it goes back
        // with the packet's remainder taken, as from a plain bucket after
        // eight packets, and a new grant follows.
        assert!(b.take(Some(&g), t, 1000));
        assert!((0..8).all(|_| plain.take(None, t, 1000)));
        assert_eq!(g.start.load(Relaxed), word(&plain));
        assert_eq!(g.end.load(Relaxed), word(&plain) + 100 * MS / 16);
        assert_eq!(word(&b), g.end.load(Relaxed));
    }

    #[test]
    fn what_is_left_of_a_grant_pays_part_of_the_next_packet() {
        let b = Bucket::new(1000, 100);
        let (g, other) = (Grant::default(), Grant::default());
        let t = 5 * MS;
        assert!((0..7).all(|_| b.take(Some(&g), t, 1000)));
        assert!(b.take(Some(&other), t, 1000), "takes past the first grant");
        let before = word(&b);
        assert!(b.take(Some(&g), t, 1000));
        // A quarter ms from the old grant, three quarters from the bucket,
        // and a new grant: a quarter of what is left, at most 100 ms / 16.
        let paid = g.start.load(Relaxed) - before;
        assert_eq!(paid, 3 * MS / 4);
        assert_eq!(g.end.load(Relaxed) - g.start.load(Relaxed), 100 * MS / 16);
        assert_eq!(word(&b), g.end.load(Relaxed));
    }

    #[test]
    fn unused_grants_expire_as_the_bucket_refills() {
        let b = Bucket::new(1000, 100);
        let g = Grant::default();
        let t = 5 * MS;
        assert!(b.take(Some(&g), t, 1000));
        // The grant's 6.25 packets are nobody else's until time passes them.
        assert_eq!((0..200).filter(|_| b.take(None, t, 1000)).count(), 92);
        let later = t + 200 * MS;
        assert_eq!((0..200).filter(|_| b.take(None, later, 1000)).count(), 100);
        // Its grant long past, the processor has nothing left to spend: it
        // waits for the bucket like anyone, which now has no room to grant.
        assert!(!b.take(Some(&g), later, 1000));
        assert!(b.take(Some(&g), later + MS, 1000));
        assert_eq!(g.start.load(Relaxed), later + 101 * MS);
        assert_eq!(g.end.load(Relaxed), word(&b));
        assert_eq!(g.start.load(Relaxed), word(&b));
    }

    /// Back to back, spaced, or after the bucket has long refilled.
    fn gap() -> impl proptest::strategy::Strategy<Value = u64> {
        proptest::prop_oneof![3 => 0u64..1000, 2 => 0u64..2_000_000, 1 => 0u64..1_000_000_000]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Two processors granting, taking turns at random with trains of
        /// packets, their clocks apart by `skew`: no span of either's time
        /// passes more than the band allows.
        #[test]
        fn grants_never_pass_more_than_any_span_allows(
            kbps in proptest::prelude::any::<bool>(),
            rate in proptest::prop_oneof![1u32..2000, 1u32..=10_000_000],
            burst in proptest::prop_oneof![0u32..200, 1u32..100_000],
            skew in 0u64..50_000_000,
            ops in proptest::collection::vec((0usize..2, gap(), 0usize..9000, 1usize..60), 1..300),
        ) {
            let b = Bucket::new(rate, burst);
            let grants = [Grant::default(), Grant::default()];
            let (mut now, mut passed) = (skew, std::vec::Vec::new());
            for (cpu, gap, len, n) in ops {
                now += gap;
                let ns = if cpu == 0 { now } else { now - skew };
                let units = cost(kbps, len);
                for _ in 0..n {
                    if b.take(grants.get(cpu), ns * TICKS_PER_NS, units) {
                        passed.push((ns, units));
                    }
                }
            }
            proptest::prop_assert!(within_every_span(passed, rate, burst));
        }
    }

    #[test]
    fn two_processors_at_once_never_pass_more_than_any_span_allows() {
        // 100 000 packets/s, burst 1000; each processor offers 2 000 000/s.
        let (rate, burst) = (100, 1000);
        let b = Bucket::new(rate, burst);
        let passed: std::vec::Vec<(u64, u64)> = std::thread::scope(|s| {
            let runs: std::vec::Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let g = Grant::default();
                        (0..200_000u64)
                            .map(|i| i * 500)
                            .filter(|ns| b.take(Some(&g), ns * TICKS_PER_NS, 1000))
                            .map(|ns| (ns, 1000))
                            .collect::<std::vec::Vec<_>>()
                    })
                })
                .collect();
            runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
        });
        assert!(within_every_span(passed, rate, burst));
    }

    #[test]
    fn granting_keeps_the_long_run_rate() {
        // Two processors take turns of 50 ms at twice the rate, and now
        // and then both at once: granting, they pass as many as one bucket
        // without grants does, and within every span.
        let (rate, burst) = (1000, 100);
        let (b, plain) = (Bucket::new(rate, burst), Bucket::new(rate, burst));
        let grants = [Grant::default(), Grant::default()];
        let (mut passed, mut plainly) = (std::vec::Vec::new(), 0);
        for ms in 0..10_000u64 {
            for half in 0..2 {
                let ns = ms * 1_000_000 + half * 500_000;
                let turn = (ms / 50) % 2;
                for (cpu, g) in grants.iter().enumerate() {
                    if cpu as u64 == turn || ms % 700 < 30 {
                        if b.take(Some(g), ns * TICKS_PER_NS, 1000) {
                            passed.push((ns, 1000));
                        }
                        plainly += usize::from(plain.take(None, ns * TICKS_PER_NS, 1000));
                    }
                }
            }
        }
        assert_eq!(passed.len(), plainly);
        assert!(within_every_span(passed, rate, burst));
    }
}
