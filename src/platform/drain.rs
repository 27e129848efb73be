//! What a pause waits for: data-path handlers running and NBLs of ours
//! still out below, counted in one word with two flags.
//!
//! - `enter` admits new work (a send handler, an executed packet) unless
//!   the gate is closed; whoever holds a reference may `hold` more (one per
//!   NBL it sends), closed or not, and every reference is `leave`d once.
//! - `close` (pause) shuts the gate. If references are out, it marks that
//!   a waiter exists; the `leave` that drops the last reference then finds
//!   the mark, clears it and must wake the waiter, exactly once. Once
//!   closed at zero the count cannot rise again (only holders add to it),
//!   so the wake cannot come early and never comes for a pause that did
//!   not wait.
//! - `open` (restart) reopens the gate; it is only called at zero.

use core::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire};

const CLOSED: u64 = 1 << 63;
const WAITING: u64 = 1 << 62;
const COUNT: u64 = WAITING - 1;

#[derive(Debug)]
pub struct Drain(AtomicU64);

/// What `close` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Nothing was out: the pause is done.
    Drained,
    /// References are out: wait for the wake of the last `leave`.
    Wait,
}

impl Drain {
    /// A closed gate (a filter module starts paused).
    pub const fn new() -> Drain {
        Drain(AtomicU64::new(CLOSED))
    }

    /// Takes a reference for new work; false (and nothing taken) when the
    /// gate is closed.
    pub fn enter(&self) -> bool {
        let mut v = self.0.load(Acquire);
        loop {
            if v & CLOSED != 0 {
                return false;
            }
            match self.0.compare_exchange_weak(v, v + 1, AcqRel, Acquire) {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
    }

    /// Takes another reference; only for a caller that holds one.
    pub fn hold(&self) {
        self.0.fetch_add(1, AcqRel);
    }

    /// Drops a reference; true when this was the last one and a pause is
    /// waiting for it: the caller wakes it.
    #[must_use = "the waiting pause must be woken"]
    pub fn leave(&self) -> bool {
        let v = self.0.fetch_sub(1, AcqRel);
        if v & COUNT == 1 && v & WAITING != 0 {
            self.0.fetch_and(!WAITING, AcqRel);
            return true;
        }
        false
    }

    /// Shuts the gate.
    pub fn close(&self) -> Closed {
        let mut v = self.0.fetch_or(CLOSED, AcqRel) | CLOSED;
        loop {
            if v & COUNT == 0 {
                return Closed::Drained;
            }
            match self
                .0
                .compare_exchange_weak(v, v | WAITING, AcqRel, Acquire)
            {
                Ok(_) => return Closed::Wait,
                Err(now) => v = now,
            }
        }
    }

    /// Reopens the gate (restart, after a pause that drained).
    pub fn open(&self) {
        self.0.fetch_and(COUNT, AcqRel);
    }

    /// References out now (statistics and tests).
    pub fn count(&self) -> u64 {
        self.0.load(Acquire) & COUNT
    }

    pub fn is_closed(&self) -> bool {
        self.0.load(Acquire) & CLOSED != 0
    }
}

impl Default for Drain {
    fn default() -> Drain {
        Drain::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_gate_admits_nothing() {
        let d = Drain::new();
        assert!(!d.enter());
        assert_eq!(d.close(), Closed::Drained);
        d.open();
        assert!(d.enter());
        d.hold();
        assert_eq!(d.count(), 2);
        assert_eq!(d.close(), Closed::Wait);
        assert!(!d.enter());
        assert!(!d.leave());
        assert!(d.leave());
        assert_eq!(d.count(), 0);
        // The wake was taken: a second pause at zero does not wait.
        assert_eq!(d.close(), Closed::Drained);
        d.open();
        assert!(d.enter());
        assert!(!d.leave());
    }
}
