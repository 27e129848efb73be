//! Counters the data path updates on every packet, kept per processor so a
//! hit costs no atomic read-modify-write: each processor's slot is written
//! by that processor alone (at DISPATCH_LEVEL, so nothing preempts it
//! mid-update), and readers sum the slots. Writers not pinned to a
//! processor (packets userspace executes from an IOCTL) use one extra slot
//! with atomic updates.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Who is counting: the processor a receive context belongs to, or anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cpu {
    /// Processor `n`, running with preemption off.
    Pinned(usize),
    /// Any thread (updates are atomic).
    Any,
}

/// Adds `v` to a counter slot: a plain load and store for its own
/// processor, an atomic add otherwise.
#[inline]
pub fn add(slot: &AtomicU64, v: u64, exclusive: bool) {
    if exclusive {
        slot.store(slot.load(Relaxed).wrapping_add(v), Relaxed);
    } else {
        slot.fetch_add(v, Relaxed);
    }
}

/// One cache line per slot, so processors never write the same line.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct Padded<T>(pub T);

/// A `T` per processor plus one shared slot.
#[derive(Debug)]
pub struct PerCpu<T> {
    cpus: Box<[Padded<T>]>,
    shared: Padded<T>,
}

impl<T: Default> PerCpu<T> {
    /// Slots for `cpus` processors; `None` when out of memory.
    pub fn new(cpus: usize) -> Option<PerCpu<T>> {
        let mut v = Vec::new();
        v.try_reserve_exact(cpus).ok()?;
        v.resize_with(cpus, Padded::default);
        Some(PerCpu {
            cpus: v.into_boxed_slice(),
            shared: Padded::default(),
        })
    }
}

impl<T> PerCpu<T> {
    /// The slot `cpu` writes, and whether it writes it exclusively.
    #[inline]
    pub fn slot(&self, cpu: Cpu) -> (&T, bool) {
        match cpu {
            Cpu::Pinned(n) => self
                .cpus
                .get(n)
                .map_or((&self.shared.0, false), |p| (&p.0, true)),
            Cpu::Any => (&self.shared.0, false),
        }
    }

    /// `f` folded over every slot, the shared one first.
    pub fn fold<A>(&self, init: A, f: impl Fn(A, &T) -> A) -> A {
        self.cpus
            .iter()
            .fold(f(init, &self.shared.0), |a, p| f(a, &p.0))
    }

    /// The sum over every slot of what `f` reads.
    pub fn sum(&self, f: impl Fn(&T) -> u64) -> u64 {
        self.fold(0, |a, t| a.wrapping_add(f(t)))
    }

    /// Every slot (to reset counters).
    pub fn each(&self, f: impl Fn(&T)) {
        self.cpus.iter().for_each(|p| f(&p.0));
        f(&self.shared.0);
    }

    /// Processors this was made for.
    pub fn cpus(&self) -> usize {
        self.cpus.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct C {
        n: AtomicU64,
    }

    #[test]
    fn slots_and_sums() {
        let p = PerCpu::<C>::new(2).unwrap();
        assert_eq!(p.cpus(), 2);
        for cpu in [
            Cpu::Pinned(0),
            Cpu::Pinned(1),
            Cpu::Pinned(1),
            Cpu::Pinned(7),
            Cpu::Any,
        ] {
            let (s, excl) = p.slot(cpu);
            add(&s.n, 2, excl);
        }
        assert!(p.slot(Cpu::Pinned(1)).1);
        assert!(
            !p.slot(Cpu::Pinned(2)).1,
            "beyond the processors: the shared slot"
        );
        assert!(!p.slot(Cpu::Any).1);
        assert_eq!(p.sum(|c| c.n.load(Relaxed)), 10);
        assert_eq!(p.fold(0, |m, c| m.max(c.n.load(Relaxed))), 4);
        p.each(|c| c.n.store(0, Relaxed));
        assert_eq!(p.sum(|c| c.n.load(Relaxed)), 0);
    }
}
