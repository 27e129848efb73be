//! Per-zone connection limits (the `ovs_ct_limit` family's state, Linux's
//! `ovs_ct_limit_info`): a default limit and per-zone overrides, 0 meaning
//! unlimited, and the number of connections each zone holds.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{
    AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

/// Zones are 16-bit.
pub const ZONES: usize = 1 << 16;
/// Zones a word of the `own` bitmap covers.
const WORD: usize = u64::BITS as usize;

pub struct Zones {
    default: AtomicU32,
    /// Each zone's own limit, meaningful while its bit in `own` is set.
    limits: Box<[AtomicU32]>,
    /// A bit a zone: it has a limit of its own. Kept apart (8 KB) so that
    /// every u32 is a limit, 0xffffffff included, as Linux stores it.
    own: Box<[AtomicU64]>,
    counts: Box<[AtomicU32]>,
}

fn array<T>(len: usize, value: impl FnMut() -> T) -> Option<Box<[T]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).ok()?;
    v.resize_with(len, value);
    Some(v.into_boxed_slice())
}

/// `zone`'s word in the `own` bitmap and its bit there.
fn own_bit(zone: u16) -> (usize, u64) {
    let z = usize::from(zone);
    (z / WORD, 1 << (z % WORD))
}

impl Zones {
    /// No limits; `None` when out of memory.
    pub fn new() -> Option<Zones> {
        Some(Zones {
            default: AtomicU32::new(0),
            limits: array(ZONES, || AtomicU32::new(0))?,
            own: array(ZONES / WORD, || AtomicU64::new(0))?,
            counts: array(ZONES, || AtomicU32::new(0))?,
        })
    }

    pub fn default_limit(&self) -> u32 {
        self.default.load(Relaxed)
    }

    pub fn set_default(&self, limit: u32) {
        self.default.store(limit, Relaxed);
    }

    fn has_own(&self, zone: u16) -> bool {
        let (word, bit) = own_bit(zone);
        // Acquire: pairs with `set`, so the limit stored before is seen.
        self.own
            .get(word)
            .is_some_and(|w| w.load(Acquire) & bit != 0)
    }

    /// The limit that applies to `zone`.
    pub fn limit(&self, zone: u16) -> u32 {
        match self.limits.get(usize::from(zone)) {
            Some(l) if self.has_own(zone) => l.load(Relaxed),
            _ => self.default_limit(),
        }
    }

    /// Sets `zone`'s own limit (`None`: back to the default).
    pub fn set(&self, zone: u16, limit: Option<u32>) {
        let (word, bit) = own_bit(zone);
        let (Some(l), Some(w)) = (self.limits.get(usize::from(zone)), self.own.get(word)) else {
            return;
        };
        match limit {
            Some(limit) => {
                l.store(limit, Relaxed);
                w.fetch_or(bit, Release);
            }
            None => {
                w.fetch_and(!bit, Release);
            }
        }
    }

    /// The zones with a limit of their own, in order.
    pub fn with_own_limit(&self) -> impl Iterator<Item = u16> + '_ {
        (0..=u16::MAX).filter(|&z| self.has_own(z))
    }

    pub fn count(&self, zone: u16) -> u32 {
        self.counts
            .get(usize::from(zone))
            .map_or(0, |c| c.load(Relaxed))
    }

    /// Counts one more connection in `zone` unless that reaches its limit.
    pub fn try_take(&self, zone: u16) -> bool {
        let limit = self.limit(zone);
        self.counts.get(usize::from(zone)).is_some_and(|c| {
            c.fetch_update(Relaxed, Relaxed, |n| {
                (limit == 0 || n < limit).then_some(n + 1)
            })
            .is_ok()
        })
    }

    pub fn release(&self, zone: u16) {
        if let Some(c) = self.counts.get(usize::from(zone)) {
            let _ = c.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_zone_limits() {
        let z = Zones::new().unwrap();
        assert!((0..100).all(|_| z.try_take(1)), "unlimited");
        z.set_default(2);
        assert!(z.try_take(2) && z.try_take(2) && !z.try_take(2));
        z.set(2, Some(3));
        assert!(z.try_take(2) && !z.try_take(2));
        z.set(2, Some(0));
        assert!(z.try_take(2));
        assert_eq!(z.with_own_limit().collect::<std::vec::Vec<_>>(), [2]);
        z.set(2, None);
        assert_eq!((z.limit(2), z.count(2)), (2, 4));
        assert_eq!(z.with_own_limit().count(), 0);
        z.release(2);
        z.release(7);
        assert_eq!((z.count(2), z.count(7)), (3, 0));
    }

    #[test]
    fn every_u32_is_a_limit() {
        let z = Zones::new().unwrap();
        z.set_default(5);
        z.set(70, Some(u32::MAX));
        z.set(63, Some(0));
        assert_eq!((z.limit(70), z.limit(63), z.limit(64)), (u32::MAX, 0, 5));
        assert_eq!(z.with_own_limit().collect::<std::vec::Vec<_>>(), [63, 70]);
        z.set(70, None);
        assert_eq!(z.limit(70), 5);
    }
}
