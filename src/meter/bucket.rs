//! A meter band's token bucket, kept as the time at which it is full again
//! (the "theoretical arrival time" of the generic cell-rate algorithm): one
//! word, so every processor updates it with a compare-and-swap and no lock.
//!
//! Units are Linux's: a band's rate counts kilobits or packets per second,
//! its burst kilobits or packets, and a packet costs its bits or 1000
//! thousandths of a packet. Time is in ticks of 1/16 ns, so that costs of a
//! few ns (a small packet at tens of Gb/s) keep their fractions; rounding
//! always charges a packet at least its cost, never less.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

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

#[derive(Debug)]
pub struct Bucket {
    /// When the bucket is full again, in ticks; at or before now, it is full.
    full_at: AtomicU64,
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
            full_at: AtomicU64::new(0),
            per_unit: u64::try_from(per_unit).unwrap_or(u64::MAX),
            depth: u64::try_from(depth).unwrap_or(MAX_DEPTH).min(MAX_DEPTH),
        }
    }

    /// Takes `units` from the bucket at `now` (ticks) if it holds them;
    /// false (and nothing taken) if not.
    #[inline]
    pub fn take(&self, now: u64, units: u64) -> bool {
        let cost =
            (u128::from(units) * u128::from(self.per_unit) + ((1 << FRACTION) - 1)) >> FRACTION;
        let cost = u64::try_from(cost).unwrap_or(u64::MAX);
        let mut seen = self.full_at.load(Relaxed);
        for _ in 0..CAS_TRIES {
            let Some(next) = seen.max(now).checked_add(cost) else {
                return false;
            };
            if next - now > self.depth {
                return false;
            }
            match self.full_at.compare_exchange(seen, next, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(current) => seen = current,
            }
        }
        false
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
        assert_eq!((0..20).filter(|_| b.take(t, cost(false, 60))).count(), 10);
        assert!(!b.take(t + MS - 1, 1000));
        assert!(b.take(t + MS, 1000));
        assert!(!b.take(t + MS, 1000));
        // Idle long enough, it is full again, never fuller.
        let later = t + 1000 * MS;
        assert_eq!((0..20).filter(|_| b.take(later, 1000)).count(), 10);
    }

    #[test]
    fn kbps_counts_bits() {
        // 8 kb/s, burst 8 kb: 1000 bytes at once, then 1 byte per ms.
        let b = Bucket::new(8, 8);
        assert!(b.take(0, cost(true, 1000)));
        assert!(!b.take(0, cost(true, 1)));
        assert!(b.take(10 * MS, cost(true, 10)));
        assert!(!b.take(10 * MS, cost(true, 1)));
    }

    #[test]
    fn zero_burst_passes_nothing() {
        assert!(!Bucket::new(5, 0).take(u64::MAX / 2, 1000));
    }

    #[test]
    fn small_costs_keep_their_fractions() {
        // 10 Gb/s with a 100 ns burst; 64-byte packets cost 51.2 ns each.
        let ns = |i: u64, gap: u64| i * gap * TICKS_PER_NS;
        let slower = Bucket::new(10_000_000, 1);
        let all = (0..10_000).filter(|&i| slower.take(ns(i, 52), cost(true, 64)));
        assert_eq!(all.count(), 10_000);
        // One every 50 ns for 500 µs: at most 9765.6 fit, plus the burst.
        let faster = Bucket::new(10_000_000, 1);
        let n = (0..10_000)
            .filter(|&i| faster.take(ns(i, 50), cost(true, 64)))
            .count();
        assert!((9_740..=9_767).contains(&n), "{n}");
    }

    #[test]
    fn extreme_configurations_do_not_overflow() {
        for (rate, burst) in [(1, u32::MAX), (u32::MAX, u32::MAX), (u32::MAX, 1), (1, 0)] {
            let b = Bucket::new(rate, burst);
            for now in [0, 1, MS, u64::MAX / 2, u64::MAX] {
                let _ = b.take(now, u64::MAX);
                let _ = b.take(now, 1000);
            }
        }
        assert_eq!(ticks(Now::default(), Now { ns: u64::MAX }), u64::MAX);
        assert_eq!(ticks(Now { ns: 9 }, Now { ns: 5 }), 0);
        assert!(!Bucket::new(1, u32::MAX).take(u64::MAX, 1));
    }
}
