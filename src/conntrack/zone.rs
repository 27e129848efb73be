//! Per-zone connection limits (the `ovs_ct_limit` family's state, Linux's
//! `ovs_ct_limit_info`): a default limit and per-zone overrides, 0 meaning
//! unlimited, and the number of connections each zone holds.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Zones are 16-bit.
pub const ZONES: usize = 1 << 16;
/// A zone without a limit of its own uses the default.
const USE_DEFAULT: u32 = u32::MAX;

pub struct Zones {
    default: AtomicU32,
    limits: Box<[AtomicU32]>,
    counts: Box<[AtomicU32]>,
}

fn array(value: u32) -> Option<Box<[AtomicU32]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(ZONES).ok()?;
    v.resize_with(ZONES, || AtomicU32::new(value));
    Some(v.into_boxed_slice())
}

impl Zones {
    /// No limits; `None` when out of memory.
    pub fn new() -> Option<Zones> {
        Some(Zones {
            default: AtomicU32::new(0),
            limits: array(USE_DEFAULT)?,
            counts: array(0)?,
        })
    }

    pub fn default_limit(&self) -> u32 {
        self.default.load(Relaxed)
    }

    pub fn set_default(&self, limit: u32) {
        self.default.store(limit, Relaxed);
    }

    /// The limit that applies to `zone`.
    pub fn limit(&self, zone: u16) -> u32 {
        match self.limits.get(usize::from(zone)).map(|l| l.load(Relaxed)) {
            Some(USE_DEFAULT) | None => self.default_limit(),
            Some(l) => l,
        }
    }

    /// Sets `zone`'s own limit (`None`: back to the default).
    pub fn set(&self, zone: u16, limit: Option<u32>) {
        if let Some(l) = self.limits.get(usize::from(zone)) {
            l.store(
                limit.map_or(USE_DEFAULT, |l| l.min(USE_DEFAULT - 1)),
                Relaxed,
            );
        }
    }

    /// The zones with a limit of their own, in order.
    pub fn with_own_limit(&self) -> impl Iterator<Item = u16> + '_ {
        (0..=u16::MAX).filter(|&z| {
            self.limits
                .get(usize::from(z))
                .is_some_and(|l| l.load(Relaxed) != USE_DEFAULT)
        })
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
}
