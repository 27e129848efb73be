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
//! [`TIMEOUT_MS`] or until the control connection goes. Two control
//! connections never expect the same connection: the second is refused,
//! or under NAT expects a free port above the announced one (Linux's
//! `expect_clash` and `nf_nat_exp_find_port`, which tries up to 128 random
//! ones; here the next free one is taken, always found if there is one).

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
    /// The expected connection's reply addresses (source, destination)
    /// and source port: NAT follows the control connection's.
    reply: Reply,
    expires_ms: u64,
}

/// An expected connection's reply addresses (source, destination) and
/// source port: where it really goes, and from whom as seen there.
pub type Reply = ([u8; 16], [u8; 16], u16);

/// Why a connection could not be expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Another control connection expects it (or, moving the port, every
    /// port from the announced one up).
    Clash,
    /// `MAX` are pending.
    Full,
}

/// What a new connection's first packet was expected as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The control connection's original tuple.
    pub master: Tuple,
    /// Its reply addresses and source port.
    pub reply: Reply,
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
    /// Announcements not expected: another control connection expected
    /// the same.
    pub clashes: AtomicU64,
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
    /// are as `reply` says. A connection another control connection
    /// expects is refused, unless `move_port`: then the first port from
    /// `tuple`'s up that none expects is taken. The port expected.
    pub fn add(
        &self,
        tuple: Tuple,
        master: Tuple,
        reply: Reply,
        now_ms: u64,
        move_port: bool,
    ) -> Result<u16, Refused> {
        let mut list = self.list.lock();
        // Timed-out ones go (and are counted) to make room.
        let before = list.len();
        list.retain(|e| e.expires_ms > now_ms);
        self.stats
            .timed_out
            .fetch_add((before - list.len()) as u64, Relaxed);
        let port = Self::free_port(&list, &tuple, &master, move_port);
        let refused = match port {
            None => Some((Refused::Clash, &self.stats.clashes)),
            // The control connection's earlier one is replaced.
            Some(_) if list.len() >= MAX && !list.iter().any(|e| e.master == master) => {
                Some((Refused::Full, &self.stats.full))
            }
            Some(_) => None,
        };
        if let Some((why, counter)) = refused {
            counter.fetch_add(1, Relaxed);
            self.len.store(list.len(), Relaxed);
            return Err(why);
        }
        let dport = port.ok_or(Refused::Clash)?;
        list.retain(|e| e.master != master);
        list.push(Expect {
            tuple: Tuple { dport, ..tuple },
            master,
            reply,
            expires_ms: now_ms.saturating_add(TIMEOUT_MS),
        });
        self.stats.created.fetch_add(1, Relaxed);
        self.len.store(list.len(), Relaxed);
        Ok(dport)
    }

    /// `tuple`'s port if no other control connection than `master`
    /// expects it; else, with `moving`, the first port above it that none
    /// expects (at most `MAX` are taken: sorted, they are passed in one
    /// walk).
    fn free_port(list: &[Expect], tuple: &Tuple, master: &Tuple, moving: bool) -> Option<u16> {
        let mut taken = [0u16; MAX];
        let mut n = 0;
        for e in list.iter().filter(|e| e.master != *master) {
            if e.matches(&Tuple {
                dport: e.tuple.dport,
                ..*tuple
            }) && let Some(slot) = taken.get_mut(n)
            {
                *slot = e.tuple.dport;
                n += 1;
            }
        }
        let taken = taken.get_mut(..n)?;
        let mut port = tuple.dport;
        if !moving {
            return (!taken.contains(&port)).then_some(port);
        }
        taken.sort_unstable();
        for &t in taken.iter() {
            if t == port {
                port = port.checked_add(1)?;
            } else if t > port {
                break;
            }
        }
        Some(port)
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

    const BACK: Reply = ([2; 16], [1; 16], 7);

    #[test]
    fn match_replace_use_and_expire() {
        let x = Expectations::new().unwrap();
        let master = t(21);
        assert_eq!(x.find(&t(2000), 0, false), None);
        assert_eq!(x.add(t(2000), master, BACK, 0, false), Ok(2000));
        assert_eq!(x.add(t(2001), master, BACK, 0, false), Ok(2001));
        assert_eq!(x.len(), 1, "one per control connection");
        let first = Tuple {
            sport: 20,
            ..t(2001)
        };
        let found = Some(Expected {
            master,
            reply: BACK,
        });
        assert_eq!(x.find(&first, 1, false), found);
        assert_eq!(x.find(&first, 1, true), found);
        assert_eq!(x.find(&first, 1, false), None);
        x.add(t(2002), master, BACK, 0, false).unwrap();
        assert_eq!(x.find(&t(2002), TIMEOUT_MS, false), None, "timed out");
        x.expire(TIMEOUT_MS);
        assert_eq!((x.len(), x.stats.timed_out.load(Relaxed)), (0, 1));
        for i in 0..MAX as u16 + 5 {
            let added = x.add(t(i), t(10_000 + i), BACK, 0, false);
            assert_eq!(added.is_ok(), usize::from(i) < MAX);
        }
        assert_eq!((x.len(), x.stats.full.load(Relaxed)), (MAX, 5));
        // A control connection with one pending replaces it, full or not.
        assert_eq!(x.add(t(3000), t(10_000), BACK, 0, false), Ok(3000));
        // A control connection that goes takes its expectation with it.
        x.forget(&t(10_000));
        assert_eq!((x.len(), x.find(&t(3000), 0, false)), (MAX - 1, None));
        assert!(x.find(&t(1), 0, false).is_some());
        // Timed out, they make room for a new one, and are counted.
        x.add(t(9), t(9), BACK, TIMEOUT_MS, false).unwrap();
        assert_eq!((x.len(), x.stats.timed_out.load(Relaxed)), (1, MAX as u64));
    }

    /// What another control connection expects is refused (Linux's
    /// `expect_clash`: its packet is dropped), or, moving the port, the
    /// next port none expects is taken (`nf_nat_exp_find_port`).
    #[test]
    fn a_connection_two_control_connections_announce() {
        let x = Expectations::new().unwrap();
        let (a, b, c) = (
            t(21),
            Tuple { sport: 1, ..t(21) },
            Tuple { sport: 2, ..t(21) },
        );
        let to = |port| ([2; 16], [9; 16], port);
        assert_eq!(x.add(t(2000), a, to(2000), 0, false), Ok(2000));
        assert_eq!(x.add(t(2000), b, to(2000), 0, false), Err(Refused::Clash));
        assert_eq!(x.stats.clashes.load(Relaxed), 1);
        let other_zone = Tuple { zone: 1, ..t(2000) };
        assert_eq!(x.add(other_zone, b, to(2000), 0, false), Ok(2000));
        assert_eq!(x.add(t(2001), c, to(2001), 0, false), Ok(2001));
        assert_eq!(x.add(t(2000), b, to(2000), 0, true), Ok(2002));
        let found = |port| x.find(&t(port), 0, false).map(|e| (e.master, e.reply));
        assert_eq!(found(2000), Some((a, to(2000))));
        assert_eq!(found(2002), Some((b, to(2000))), "where it really goes");
        // Its own earlier one is no clash; the top port has nowhere to go.
        assert_eq!(x.add(t(2000), a, to(2000), 0, false), Ok(2000));
        assert_eq!(x.add(t(u16::MAX), a, to(1), 0, false), Ok(u16::MAX));
        assert_eq!(x.add(t(u16::MAX), c, to(1), 0, true), Err(Refused::Clash));
    }
}
