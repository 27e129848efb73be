//! Expected connections (Linux's `nf_conntrack_expect`): what a helper read
//! in a control connection's payload (an FTP data port, a TFTP transfer)
//! so that the connection it announces is RELATED to it.
//!
//! An expectation matches the first packet of a new connection by zone,
//! addresses, protocol and destination port (any source port, as the FTP
//! and TFTP helpers ask). A lookup leaves it in place; the commit that
//! stores the expected connection uses it up. A control connection has at
//! most one pending (a newer announcement replaces it, as the helpers'
//! `max_expected` of 1); all of them together at most [`MAX`], each for
//! [`TIMEOUT_MS`] or until the control connection goes.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::tuple::Tuple;
use crate::sync::Mutex;

/// Expectations at most (all zones).
pub const MAX: usize = 256;
/// How long an expectation waits (the FTP and TFTP helpers' 5 minutes).
pub const TIMEOUT_MS: u64 = 300_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expect {
    /// The expected connection's first packet (its source port unused).
    tuple: Tuple,
    /// The control connection's original tuple.
    master: Tuple,
    /// The expected connection's reply addresses (source, destination):
    /// NAT follows the control connection's.
    reply: ([u8; 16], [u8; 16]),
    expires_ms: u64,
}

/// What a new connection's first packet was expected as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The control connection's original tuple.
    pub master: Tuple,
    /// Its reply addresses (source, destination).
    pub reply: ([u8; 16], [u8; 16]),
}

impl Expect {
    fn matches(&self, t: &Tuple) -> bool {
        let e = &self.tuple;
        (e.src, e.dst, e.dport, e.proto, e.zone, e.v6)
            == (t.src, t.dst, t.dport, t.proto, t.zone, t.v6)
    }
}

/// What happened to expectations.
#[derive(Debug, Default)]
pub struct Stats {
    pub created: AtomicU64,
    /// Connections stored as expected.
    pub used: AtomicU64,
    pub timed_out: AtomicU64,
    /// Announcements not expected: `MAX` were pending.
    pub full: AtomicU64,
}

pub struct Expectations {
    list: Mutex<Vec<Expect>>,
    /// Pending, so a packet of no connection skips the lock when none is.
    len: AtomicUsize,
    pub stats: Stats,
}

impl core::fmt::Debug for Expectations {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Expectations")
            .field("len", &self.len.load(Relaxed))
            .finish()
    }
}

impl Expectations {
    /// `None` when out of memory.
    pub fn new() -> Option<Expectations> {
        let mut list = Vec::new();
        list.try_reserve_exact(MAX).ok()?;
        Some(Expectations {
            list: Mutex::new(list),
            len: AtomicUsize::new(0),
            stats: Stats::default(),
        })
    }

    pub fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Expects a connection whose first packet is `tuple` (any source
    /// port), related to the control connection `master`, whose replies
    /// go between the `reply` addresses (source, destination).
    pub fn add(&self, tuple: Tuple, master: Tuple, reply: ([u8; 16], [u8; 16]), now_ms: u64) {
        let mut list = self.list.lock();
        // The control connection's earlier one is replaced; timed-out ones
        // go (and are counted) to make room.
        let mut timed_out = 0;
        list.retain(|e| {
            let live = e.expires_ms > now_ms;
            timed_out += u64::from(!live);
            live && e.master != master
        });
        self.stats.timed_out.fetch_add(timed_out, Relaxed);
        if list.len() >= MAX {
            self.stats.full.fetch_add(1, Relaxed);
        } else {
            list.push(Expect {
                tuple,
                master,
                reply,
                expires_ms: now_ms.saturating_add(TIMEOUT_MS),
            });
            self.stats.created.fetch_add(1, Relaxed);
        }
        self.len.store(list.len(), Relaxed);
    }

    /// How a new connection's first packet `t` was expected; `take` uses
    /// the expectation up.
    pub fn find(&self, t: &Tuple, now_ms: u64, take: bool) -> Option<Expected> {
        if self.is_empty() {
            return None;
        }
        let mut list = self.list.lock();
        let at = list
            .iter()
            .position(|e| e.expires_ms > now_ms && e.matches(t))?;
        let e = list.get(at)?;
        let found = Expected {
            master: e.master,
            reply: e.reply,
        };
        if take {
            list.swap_remove(at);
            self.len.store(list.len(), Relaxed);
            self.stats.used.fetch_add(1, Relaxed);
        }
        Some(found)
    }

    /// Drops the expectations of the control connection `master`, which
    /// went (Linux's `nf_ct_remove_expectations`): at most `MAX` looked at.
    pub fn forget(&self, master: &Tuple) {
        if self.is_empty() {
            return;
        }
        let mut list = self.list.lock();
        list.retain(|e| e.master != *master);
        self.len.store(list.len(), Relaxed);
    }

    /// Drops expectations that timed out.
    pub fn expire(&self, now_ms: u64) {
        let mut list = self.list.lock();
        let before = list.len();
        list.retain(|e| e.expires_ms > now_ms);
        let gone = before - list.len();
        self.stats.timed_out.fetch_add(gone as u64, Relaxed);
        self.len.store(list.len(), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dport: u16) -> Tuple {
        Tuple {
            src: [1; 16],
            dst: [2; 16],
            sport: 0,
            dport,
            proto: 6,
            ..Tuple::default()
        }
    }

    #[test]
    fn match_replace_use_and_expire() {
        let x = Expectations::new().unwrap();
        let master = t(21);
        assert_eq!(x.find(&t(2000), 0, false), None);
        x.add(t(2000), master, ([2; 16], [1; 16]), 0);
        x.add(t(2001), master, ([2; 16], [1; 16]), 0);
        assert_eq!(x.len(), 1, "one per control connection");
        let first = Tuple {
            sport: 20,
            ..t(2001)
        };
        let found = Some(Expected {
            master,
            reply: ([2; 16], [1; 16]),
        });
        assert_eq!(x.find(&first, 1, false), found);
        assert_eq!(x.find(&first, 1, true), found);
        assert_eq!(x.find(&first, 1, false), None);
        x.add(t(2002), master, ([2; 16], [1; 16]), 0);
        assert_eq!(x.find(&t(2002), TIMEOUT_MS, false), None, "timed out");
        x.expire(TIMEOUT_MS);
        assert_eq!((x.len(), x.stats.timed_out.load(Relaxed)), (0, 1));
        for i in 0..MAX as u16 + 5 {
            x.add(t(i), t(10_000 + i), ([2; 16], [1; 16]), 0);
        }
        assert_eq!((x.len(), x.stats.full.load(Relaxed)), (MAX, 5));
        // A control connection that goes takes its expectation with it.
        x.forget(&t(10_000));
        assert_eq!((x.len(), x.find(&t(0), 0, false)), (MAX - 1, None));
        assert!(x.find(&t(1), 0, false).is_some());
        // Timed out, they make room for a new one, and are counted.
        x.add(t(9), t(9), ([2; 16], [1; 16]), TIMEOUT_MS);
        assert_eq!((x.len(), x.stats.timed_out.load(Relaxed)), (1, MAX as u64));
    }
}
