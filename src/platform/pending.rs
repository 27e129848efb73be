//! The book of pended IOCTLs behind the control device's cancel-safe queue.
//!
//! A request the core answers with `Outcome::Pending` is queued here under
//! its token, and leaves exactly once: woken by the core (completed with
//! success and 0 bytes), taken at cleanup of its file, or removed by a
//! cancellation. The book does the queue's bookkeeping; the platform keeps
//! the requests themselves and does the completing.
//!
//! The core may wake a token before its request is queued: it stores the
//! token while the dispatch is still running, and another thread (the
//! receive path, an OID) can wake it at once. So every dispatch is
//! registered as *in flight* before it calls the core; a wakeup that finds
//! no queued request marks the in-flight token instead, and the insert that
//! follows is refused so the dispatcher completes the request itself.
//! Tokens are never reused, so a wakeup for a request that already left
//! finds nothing and does nothing.
//!
//! Queue room for every in-flight dispatch is reserved when it registers, so
//! queuing (which runs under the queue's spin lock) never allocates.

use alloc::vec::Vec;

use crate::pend::PendToken;

/// A request as the platform names it (the IRP's address on Windows).
pub type RequestRef = usize;
/// The open file a request was issued on (the file object's address).
pub type FileRef = usize;

/// Which queued request a peek looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peek {
    /// The one pended under this token (a wakeup).
    Token(PendToken),
    /// Any on this file (cleanup).
    File(FileRef),
    /// Any.
    Any,
}

/// What became of a request the dispatcher asked to queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// Queued: it leaves through a wakeup, cleanup or cancellation.
    Queued,
    /// Its token was woken while it was in flight: complete it now with
    /// success and 0 bytes.
    Woken,
    /// No room was reserved for it (its dispatch was not registered): the
    /// core must forget the token and the request completes now.
    NoRoom,
}

/// Out of memory registering a dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMemory;

#[derive(Clone, Copy, Debug)]
struct Queued {
    token: PendToken,
    file: FileRef,
    request: RequestRef,
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    token: PendToken,
    woken: bool,
}

/// Queued requests and in-flight dispatches. Invariant: `queued` has
/// capacity for every entry of `in_flight` besides its own.
#[derive(Debug, Default)]
pub struct Pending {
    queued: Vec<Queued>,
    in_flight: Vec<InFlight>,
}

impl Pending {
    pub const fn new() -> Pending {
        Pending {
            queued: Vec::new(),
            in_flight: Vec::new(),
        }
    }

    /// A dispatch that may pend under `token` is about to call the core.
    pub fn begin(&mut self, token: PendToken) -> Result<(), NoMemory> {
        self.in_flight.try_reserve(1).map_err(|_| NoMemory)?;
        // Room for every in-flight dispatch, this one included.
        self.queued
            .try_reserve(self.in_flight.len() + 1)
            .map_err(|_| NoMemory)?;
        self.in_flight.push(InFlight {
            token,
            woken: false,
        });
        Ok(())
    }

    /// The dispatch of `token` is over (answered at once, or its request
    /// queued or refused): it is no longer in flight. Idempotent.
    pub fn end(&mut self, token: PendToken) {
        self.in_flight.retain(|f| f.token != token);
    }

    /// Queues the request of a dispatch the core answered with `Pending`.
    pub fn insert(&mut self, token: PendToken, file: FileRef, request: RequestRef) -> Insert {
        let flight = self.in_flight.iter().position(|f| f.token == token);
        if let Some(i) = flight {
            let woken = self.in_flight.swap_remove(i).woken;
            if woken {
                return Insert::Woken;
            }
        }
        // Registered dispatches always find their reserved room; an
        // unregistered one is queued only if room happens to be spare.
        if self.queued.len() == self.queued.capacity() || flight.is_none() && !self.spare() {
            return Insert::NoRoom;
        }
        self.queued.push(Queued {
            token,
            file,
            request,
        });
        Insert::Queued
    }

    /// Room beyond what the in-flight dispatches have reserved.
    fn spare(&self) -> bool {
        self.queued.capacity() - self.queued.len() > self.in_flight.len()
    }

    /// The first queued request after `after` (from the start if `None`)
    /// that `which` matches. A token peek that finds nothing marks the
    /// token's dispatch, if it is in flight, as woken.
    pub fn peek(&mut self, after: Option<RequestRef>, which: Peek) -> Option<RequestRef> {
        let start = match after {
            None => 0,
            Some(r) => self.queued.iter().position(|q| q.request == r)? + 1,
        };
        let found = self
            .queued
            .iter()
            .skip(start)
            .find(|q| match which {
                Peek::Token(t) => q.token == t,
                Peek::File(f) => q.file == f,
                Peek::Any => true,
            })
            .map(|q| q.request);
        if let (None, Peek::Token(t)) = (found, which)
            && let Some(f) = self.in_flight.iter_mut().find(|f| f.token == t)
        {
            f.woken = true;
        }
        found
    }

    /// Dequeues a request (it was peeked, or is being cancelled).
    pub fn remove(&mut self, request: RequestRef) {
        if let Some(i) = self.queued.iter().position(|q| q.request == request) {
            // Order is kept: peeks walk the queue from a position.
            self.queued.remove(i);
        }
    }

    /// Requests queued.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Dispatches in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: PendToken = PendToken(1);
    const T2: PendToken = PendToken(2);

    #[test]
    fn pended_then_woken() {
        let mut p = Pending::new();
        p.begin(T1).unwrap();
        assert_eq!(p.insert(T1, 10, 100), Insert::Queued);
        p.end(T1);
        assert_eq!(p.peek(None, Peek::Token(T1)), Some(100));
        p.remove(100);
        assert!(p.is_empty());
        assert_eq!(p.peek(None, Peek::Token(T1)), None);
    }

    #[test]
    fn woken_before_queued() {
        let mut p = Pending::new();
        p.begin(T1).unwrap();
        assert_eq!(p.peek(None, Peek::Token(T1)), None);
        assert_eq!(p.insert(T1, 10, 100), Insert::Woken);
        assert!(p.is_empty());
        assert_eq!(p.in_flight(), 0);
    }

    #[test]
    fn answered_at_once_leaves_nothing() {
        let mut p = Pending::new();
        p.begin(T1).unwrap();
        p.end(T1);
        p.end(T1);
        assert_eq!(p.in_flight(), 0);
        // A late wakeup of a finished dispatch marks nothing.
        assert_eq!(p.peek(None, Peek::Token(T1)), None);
        p.begin(T2).unwrap();
        assert_eq!(p.insert(T2, 1, 2), Insert::Queued);
    }

    #[test]
    fn file_peeks_walk_the_queue() {
        let mut p = Pending::new();
        for (t, f, r) in [(1, 7, 100), (2, 8, 200), (3, 7, 300)] {
            p.begin(PendToken(t)).unwrap();
            assert_eq!(p.insert(PendToken(t), f, r), Insert::Queued);
        }
        assert_eq!(p.peek(None, Peek::File(7)), Some(100));
        assert_eq!(p.peek(Some(100), Peek::File(7)), Some(300));
        assert_eq!(p.peek(Some(300), Peek::File(7)), None);
        assert_eq!(p.peek(Some(999), Peek::Any), None);
        assert_eq!(p.peek(None, Peek::Any), Some(100));
        p.remove(200);
        assert_eq!(p.peek(Some(100), Peek::Any), Some(300));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn unregistered_inserts_never_take_reserved_room() {
        let mut p = Pending::new();
        p.begin(T1).unwrap();
        // Tokens that never registered take spare room only, never T1's.
        let mut t = 100;
        while p.insert(PendToken(t), 1, t as usize) == Insert::Queued {
            t += 1;
        }
        assert!(t < 200);
        assert_eq!(p.insert(T1, 1, 1), Insert::Queued);
    }

    #[test]
    fn room_is_reserved_for_every_flight() {
        let mut p = Pending::new();
        for t in 1..=50 {
            p.begin(PendToken(t)).unwrap();
        }
        let cap = p.queued.capacity();
        for t in 1..=50 {
            assert_eq!(p.insert(PendToken(t), 0, t as usize), Insert::Queued);
        }
        assert_eq!(p.queued.capacity(), cap, "inserts never allocate");
    }
}
