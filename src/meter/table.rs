//! The datapath's meters by id: open addressing with linear probing over a
//! fixed array of slots, allocated when the first meter is set and never
//! resized, so no change ever moves more than one probe run. Ids are any
//! u32 (ovs-vswitchd probes with ids in the tens of millions); the count is
//! bounded by `MAX_METERS`, and the slots are twice that.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::Meter;
use crate::netlink::Errno;
use crate::sync::{ReadGuard, RwLock};

/// Meters a datapath holds at most (advertised as `OVS_METER_ATTR_MAX_METERS`).
pub const MAX_METERS: u32 = 4096;
const SLOTS: usize = 2 * MAX_METERS as usize;

/// A meter in its own allocation (a one-element slice: allocated fallibly).
#[derive(Debug)]
pub struct Held(Box<[Meter]>);

impl Held {
    pub fn new(meter: Meter) -> Result<Held, Errno> {
        crate::heap::boxed(meter).map(Held).ok_or(Errno::NoMem)
    }

    pub fn get(&self) -> Option<&Meter> {
        self.0.first()
    }

    fn id(&self) -> Option<u32> {
        self.get().map(|m| m.id)
    }
}

#[derive(Debug, Default)]
pub struct Table {
    /// Empty until the first meter is set, then `SLOTS` long.
    slots: Vec<Option<Held>>,
    len: usize,
}

fn home(id: u32) -> usize {
    // Fibonacci hashing: consecutive ids spread over the slots.
    (u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize % SLOTS
}

fn next(i: usize) -> usize {
    (i + 1) % SLOTS
}

impl Table {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot holding `id`, or the empty slot where it would go.
    fn find(&self, id: u32) -> Option<usize> {
        let mut i = home(id);
        for _ in 0..self.slots.len() {
            match self.slots.get(i)? {
                None => return Some(i),
                Some(h) if h.id() == Some(id) => return Some(i),
                Some(_) => i = next(i),
            }
        }
        None
    }

    pub fn get(&self, id: u32) -> Option<&Meter> {
        let i = self.find(id)?;
        self.slots.get(i)?.as_ref()?.get()
    }

    /// Puts `meter` in place of the meter with its id, which is returned.
    /// EFBIG if it is new and the table holds `max` meters.
    fn insert(&mut self, meter: Held, max: u32) -> Result<Option<Held>, Errno> {
        let id = meter.id().ok_or(Errno::Inval)?;
        let i = self.find(id).ok_or(Errno::FBig)?;
        let slot = self.slots.get_mut(i).ok_or(Errno::FBig)?;
        if slot.is_none() && self.len >= max as usize {
            return Err(Errno::FBig);
        }
        let old = slot.replace(meter);
        if old.is_none() {
            self.len += 1;
        }
        Ok(old)
    }

    fn remove(&mut self, id: u32) -> Option<Held> {
        let i = self.find(id)?;
        let old = self.slots.get_mut(i)?.take()?;
        self.len -= 1;
        // Backward shift: later members of the probe run move into the hole
        // unless that would put them before their home slot.
        let (mut hole, mut j) = (i, i);
        loop {
            j = next(j);
            let Some(h) = self
                .slots
                .get(j)
                .and_then(|s| s.as_ref().and_then(Held::id))
            else {
                break;
            };
            let from_home = (j + SLOTS - home(h)) % SLOTS;
            let from_hole = (j + SLOTS - hole) % SLOTS;
            if from_home >= from_hole {
                let moved = self.slots.get_mut(j).and_then(Option::take);
                if let Some(s) = self.slots.get_mut(hole) {
                    *s = moved;
                }
                hole = j;
            }
        }
        Some(old)
    }

    /// The first meter at or after slot `cursor`, with the cursor after it.
    pub fn next_from(&self, cursor: usize) -> Option<(usize, &Meter)> {
        let rest = self.slots.get(cursor..)?;
        rest.iter().enumerate().find_map(|(i, s)| {
            let m = s.as_ref()?.get()?;
            Some((cursor + i + 1, m))
        })
    }
}

/// The meters, behind their lock (taken after the flow table's, see `sync`).
#[derive(Debug)]
pub struct Meters {
    table: RwLock<Table>,
    /// Meters allowed (`super::max_meters`).
    max: u32,
}

impl Meters {
    /// No meters, and room for `max` (at most `MAX_METERS`).
    pub fn new(max: u32) -> Meters {
        Meters {
            table: RwLock::default(),
            max: max.min(MAX_METERS),
        }
    }

    /// Meters allowed, as FEATURES advertises.
    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn read(&self) -> ReadGuard<'_, Table> {
        self.table.read()
    }

    /// Adds `meter`, or replaces the meter with its id (returned).
    pub fn set(&self, meter: Held) -> Result<Option<Held>, Errno> {
        // The slots are allocated outside the lock, once.
        if self.table.read().slots.is_empty() {
            let mut slots = Vec::new();
            slots.try_reserve_exact(SLOTS).map_err(|_| Errno::NoMem)?;
            slots.resize_with(SLOTS, || None);
            let mut t = self.table.write();
            if t.slots.is_empty() {
                t.slots = slots;
            }
        }
        self.table.write().insert(meter, self.max)
    }

    /// Removes the meter `id`; the caller drops it after the lock is gone.
    pub fn remove(&self, id: u32) -> Option<Held> {
        self.table.write().remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BandConfig, Config};
    use super::*;
    use crate::platform::time::Now;

    fn meter(id: u32) -> Held {
        let band = BandConfig {
            ty: crate::ovs::meter::BAND_TYPE_DROP,
            rate: 10,
            burst: 10,
        };
        let cfg = Config::new(id, false).band(band).unwrap();
        Meter::create(&cfg, Now::default(), 1).unwrap()
    }

    fn ids(t: &Table) -> std::vec::Vec<u32> {
        let mut v = std::vec::Vec::new();
        let mut c = 0;
        while let Some((n, m)) = t.next_from(c) {
            v.push(m.id);
            c = n;
        }
        v.sort();
        v
    }

    #[test]
    fn set_get_replace_remove() {
        let m = Meters::new(MAX_METERS);
        assert!(m.read().get(1).is_none());
        assert!(m.remove(1).is_none());
        for id in [0, 1, 54_545_401, 54_545_402, u32::MAX] {
            assert!(m.set(meter(id)).unwrap().is_none());
        }
        assert_eq!(m.read().len(), 5);
        assert!(m.set(meter(1)).unwrap().is_some(), "replaced");
        assert_eq!(m.read().len(), 5);
        assert_eq!(m.remove(54_545_401).unwrap().get().unwrap().id, 54_545_401);
        assert!(m.read().get(54_545_401).is_none());
        assert_eq!(ids(&m.read()), [0, 1, 54_545_402, u32::MAX]);
    }

    #[test]
    fn full_table_refuses_new_ids_only() {
        let m = Meters::new(MAX_METERS);
        for id in 0..MAX_METERS {
            m.set(meter(id * 7)).unwrap();
        }
        assert_eq!(m.set(meter(3)).unwrap_err(), Errno::FBig);
        assert!(m.set(meter(7)).unwrap().is_some());
        m.remove(0).unwrap();
        m.set(meter(3)).unwrap();
        assert_eq!(m.read().len(), MAX_METERS as usize);
    }

    /// A smaller limit (many processors) is kept the same way.
    #[test]
    fn the_limit_given_is_kept() {
        let m = Meters::new(2);
        assert_eq!(m.max(), 2);
        m.set(meter(1)).unwrap();
        m.set(meter(2)).unwrap();
        assert_eq!(m.set(meter(3)).unwrap_err(), Errno::FBig);
        assert!(
            m.set(meter(2)).unwrap().is_some(),
            "replacing is not adding"
        );
        assert_eq!(Meters::new(u32::MAX).max(), MAX_METERS);
    }

    #[test]
    fn removal_keeps_every_probe_run_reachable() {
        // Ids that share home slots, removed in an interleaved order.
        let t = Meters::new(MAX_METERS);
        let clash: std::vec::Vec<u32> = (0..50_000u32)
            .filter(|&id| home(id) < 4 || home(id) > SLOTS - 3)
            .take(40)
            .collect();
        for &id in &clash {
            t.set(meter(id)).unwrap();
        }
        for (n, &id) in clash.iter().enumerate().filter(|(n, _)| n % 3 != 1) {
            assert!(t.remove(id).is_some(), "{n}");
            for (k, &other) in clash.iter().enumerate() {
                let removed = k % 3 != 1 && k <= n;
                assert_eq!(t.read().get(other).is_none(), removed, "{k} after {n}");
            }
        }
    }
}
