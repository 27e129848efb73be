//! What a pause waits for: data-path handlers running and NBLs of ours
//! still out below, counted in one word with two flags.
//!
//! - `enter` admits new work (a send handler, an executed packet) unless
//!   the gate is closed; whoever holds a reference may `hold` more (one per
//!   NBL it sends), closed or not, and every reference is `leave`d once.
//!   `hold_n`/`leave_n` take or drop several in one atomic step, exactly as
//!   that many `hold`s or `leave`s would.
//! - `close` (pause) shuts the gate. If references are out, it marks that
//!   a waiter exists; the `leave` that drops the last reference then finds
//!   the mark, clears it and must wake the waiter, exactly once. Once
//!   closed at zero the count cannot rise again (only holders add to it),
//!   so the wake cannot come early and never comes for a pause that did
//!   not wait.
//! - `shut` (a detach announced) shuts the gate without waiting: new work
//!   is refused, what is out goes on, and the pause that follows waits for
//!   it as above. It never marks a waiter, so no `leave` wakes for it.
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
        self.hold_n(1);
    }

    /// Takes `k` more references; only for a caller that holds one.
    pub fn hold_n(&self, k: u64) {
        if k > 0 {
            self.0.fetch_add(k, AcqRel);
        }
    }

    /// Drops a reference; true when this was the last one and a pause is
    /// waiting for it: the caller wakes it.
    #[must_use = "the waiting pause must be woken"]
    pub fn leave(&self) -> bool {
        self.leave_n(1)
    }

    /// Drops `n` references; true when they were the last ones and a pause
    /// is waiting for them: the caller wakes it.
    #[must_use = "the waiting pause must be woken"]
    pub fn leave_n(&self, n: u64) -> bool {
        if n == 0 {
            // Dropping nothing cannot be the last leave (the mark may still
            // be set by one that is about to clear it).
            return false;
        }
        let v = self.0.fetch_sub(n, AcqRel);
        if v & COUNT == n && v & WAITING != 0 {
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

    /// Shuts the gate; nobody waits (yet).
    pub fn shut(&self) {
        self.0.fetch_or(CLOSED, AcqRel);
    }

    /// Reopens the gate (restart, after a pause that drained).
    pub fn open(&self) {
        self.0.fetch_and(COUNT, AcqRel);
    }

    /// References out now (statistics and tests).
    pub fn count(&self) -> u64 {
        self.0.load(Acquire) & COUNT
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

    #[test]
    fn shut_refuses_new_work_and_the_pause_still_waits() {
        let d = with_refs(2, false);
        d.shut();
        assert!(!d.enter());
        // Nobody waits yet: no wake.
        assert!(!d.leave());
        assert_eq!(d.close(), Closed::Wait);
        assert!(!d.enter());
        assert!(d.leave());
        assert_eq!(d.count(), 0);
        // Shut with nothing out: the pause does not wait.
        let d = Drain::new();
        d.open();
        d.shut();
        assert!(!d.enter());
        assert_eq!(d.close(), Closed::Drained);
    }

    /// A drain with `refs` references out (open), closed when `close`.
    fn with_refs(refs: u64, close: bool) -> Drain {
        let d = Drain::new();
        d.open();
        assert!(d.enter());
        d.hold_n(refs - 1);
        if close {
            let _ = d.close();
        }
        d
    }

    #[test]
    fn many_at_once_are_as_many_one_by_one() {
        for refs in 1..6 {
            for close in [false, true] {
                for n in 0..=refs {
                    let (batch, single) = (with_refs(refs, close), with_refs(refs, close));
                    let woke = batch.leave_n(n);
                    let woke_single = (0..n).fold(false, |w, _| single.leave() | w);
                    assert_eq!(woke, woke_single, "refs {refs} n {n} close {close}");
                    assert_eq!(woke, close && n == refs);
                    assert_eq!(batch.count(), refs - n);
                    assert_eq!(batch.0.load(Acquire), single.0.load(Acquire));
                    // The rest, at once: the wake comes exactly once.
                    let rest = batch.leave_n(refs - n);
                    assert_eq!(woke || rest, close);
                    assert!(!(woke && rest));
                    assert_eq!(batch.count(), 0);
                }
            }
        }
    }

    #[test]
    fn holding_many_is_holding_one_by_one() {
        let (batch, single) = (with_refs(1, false), with_refs(1, false));
        batch.hold_n(3);
        (0..3).for_each(|_| single.hold());
        assert_eq!(batch.0.load(Acquire), single.0.load(Acquire));
        batch.hold_n(0);
        assert_eq!(batch.count(), 4);
        assert_eq!(batch.close(), Closed::Wait);
        assert!(!batch.leave_n(0));
        assert!(!batch.leave_n(3));
        assert!(batch.leave_n(1));
    }
}
