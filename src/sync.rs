//! The locks of the driver, and what runs at which IRQL: the one place
//! that says so (design rule 6).
//!
//! Core lock order (outermost first; a lock may only be taken while holding
//! locks above it):
//!   1. `Device::switch` (read for IOCTLs, OIDs, upkeep and the receive
//!      path; write only to attach or detach the switch)
//!   2. `Datapath::ports` (switch endpoints and vports; write for OIDs and
//!      vport commands, read on the receive path)
//!   3. `Datapath::flows` (write for flow commands and upkeep, read on the
//!      receive path)
//!   4. `Datapath::meters` (write for meter commands; read on the receive
//!      path, taken by a batch's first METER action)
//!   5. `Datapath::queues` (event and upcall queues, short critical sections)
//!   6. `Device::handles` (open handles and dump state; never held while any
//!      datapath lock is taken)
//!
//! `Datapath::conntrack`'s shard locks (`conntrack::table`) rank between 4
//! and 5 (a batch's CT action may run while its METER guard is held): one
//! at a time, except an insertion, which holds its two shards in shard
//! order; no other lock is taken while one is held.
//! The conntrack fragment shards (`conntrack::frag`) and expectation list
//! (`conntrack::expect`) rank there too: each taken alone, never with a
//! table shard or each other.
//!
//! Every core lock raises the IRQL to DISPATCH_LEVEL while it is held (see
//! `sys::irql`): the receive path takes the same locks at DISPATCH_LEVEL, so
//! a holder at PASSIVE_LEVEL must never be preempted by a DPC spinning on the
//! same lock on its CPU. Critical sections therefore never wait, allocate
//! from paged pool, or call into the platform. The receive path takes locks 1
//! to 3 for reading once per batch of frames (an NBL chain) and counts per
//! packet without atomic read-modify-writes (`percpu`): a flow hit takes no
//! write lock.
//!
//! `RwLock` prefers writers: once a writer waits, new readers wait behind
//! it, so a writer (a flow install, an OID, the upkeep timer) gets the lock
//! as soon as the readers inside leave, however many processors keep
//! reading. Hence the rule: no holder of a read guard takes the same lock
//! for reading again (each path above takes each lock once, in order;
//! `Device::with_datapath` and the IOCTL, receive and OID paths hold lock 1
//! once for their whole call). Host test builds check it on every read.
//!
//! Who runs where (Windows):
//! - IRP_MJ_CREATE/CLEANUP/CLOSE/DEVICE_CONTROL: PASSIVE_LEVEL, in the
//!   calling thread (`sys::device`).
//! - Switch OIDs and activation: PASSIVE_LEVEL (`sys::hyperv`); the switch
//!   port table lock there is taken before lock 1 and never while a core
//!   lock is held.
//! - FilterSendNetBufferLists: DISPATCH_LEVEL (raised if NDIS called below
//!   it), on the current processor's lane (`sys::lane`, `sys::path`): the
//!   lane's receive context is used by that processor alone.
//! - The upkeep timer (`sys::timer`): DISPATCH_LEVEL, once a second.
//! - The pended-IRP queue lock (`sys::csq`) is never held together with a
//!   core lock. Pended requests to complete are collected in `Wakeups` and
//!   completed (at PASSIVE_LEVEL or DISPATCH_LEVEL) only after every core
//!   guard is dropped; sends of NBLs likewise happen after the core returns.

use core::hint::spin_loop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(windows)]
use crate::sys::irql::DispatchGuard as IrqlGuard;

/// Nothing to raise outside the kernel.
#[cfg(not(windows))]
struct IrqlGuard;

#[cfg(not(windows))]
impl IrqlGuard {
    fn raise() -> IrqlGuard {
        IrqlGuard
    }
}

pub struct Mutex<T>(spin::Mutex<T>);

// Field order matters: the spin guard drops (unlocks) before the IRQL is lowered.
pub struct MutexGuard<'a, T> {
    guard: spin::MutexGuard<'a, T>,
    _irql: IrqlGuard,
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Mutex<T> {
        Mutex(spin::Mutex::new(value))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        let irql = IrqlGuard::raise();
        MutexGuard {
            guard: self.0.lock(),
            _irql: irql,
        }
    }
}

#[cfg(test)]
impl<T> Mutex<T> {
    /// Whether some holder has the lock now.
    pub fn is_locked(&self) -> bool {
        self.0.is_locked()
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// A read/write lock whose writers win: a writer that finds readers inside
/// announces itself (`pending`), new readers wait while it is announced,
/// and the writer gets the lock as soon as the readers inside have left.
/// Readers arriving on every processor therefore cannot keep a writer
/// spinning without end. The price: a holder of a read guard must never
/// take the same lock for reading again (a writer announced in between
/// would wait for it while it waits for the writer); no path does (see the
/// locking note above).
pub struct RwLock<T> {
    lock: spin::RwLock<T>,
    /// Writers waiting for the lock; readers do not enter while non-zero.
    pending: AtomicUsize,
}

pub struct ReadGuard<'a, T> {
    guard: spin::RwLockReadGuard<'a, T>,
    _held: reentry::Held,
    _irql: IrqlGuard,
}

pub struct WriteGuard<'a, T> {
    guard: spin::RwLockWriteGuard<'a, T>,
    _irql: IrqlGuard,
}

impl<T> RwLock<T> {
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            lock: spin::RwLock::new(value),
            pending: AtomicUsize::new(0),
        }
    }

    pub fn read(&self) -> ReadGuard<'_, T> {
        let irql = IrqlGuard::raise();
        let held = reentry::Held::enter(self.address());
        let guard = loop {
            // Waiting writers first; then the lock itself (which a writer
            // announced after this check may already hold).
            if self.pending.load(Ordering::Acquire) == 0
                && let Some(guard) = self.lock.try_read()
            {
                break guard;
            }
            spin_loop();
        };
        ReadGuard {
            guard,
            _held: held,
            _irql: irql,
        }
    }

    pub fn write(&self) -> WriteGuard<'_, T> {
        let irql = IrqlGuard::raise();
        let guard = match self.lock.try_write() {
            Some(guard) => guard,
            None => {
                self.pending.fetch_add(1, Ordering::AcqRel);
                let guard = self.lock.write();
                self.pending.fetch_sub(1, Ordering::AcqRel);
                guard
            }
        };
        WriteGuard { guard, _irql: irql }
    }

    fn address(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }
}

/// Host builds with debug assertions (the tests) check that no thread
/// takes a lock for reading while it holds it for reading already.
#[cfg(all(not(windows), debug_assertions))]
mod reentry {
    use core::cell::RefCell;
    use std::vec::Vec;

    std::thread_local! {
        static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    pub struct Held(usize);

    impl Held {
        pub fn enter(lock: usize) -> Held {
            HELD.with(|held| {
                let mut held = held.borrow_mut();
                debug_assert!(
                    !held.contains(&lock),
                    "a read lock taken again by its holder"
                );
                held.push(lock);
            });
            Held(lock)
        }
    }

    impl Drop for Held {
        fn drop(&mut self) {
            HELD.with(|held| {
                let mut held = held.borrow_mut();
                if let Some(i) = held.iter().rposition(|&l| l == self.0) {
                    held.swap_remove(i);
                }
            });
        }
    }
}

#[cfg(not(all(not(windows), debug_assertions)))]
mod reentry {
    pub struct Held;

    impl Held {
        pub fn enter(_lock: usize) -> Held {
            Held
        }
    }
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> core::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Mutex")
    }
}

impl<T> core::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RwLock")
    }
}

#[cfg(test)]
mod tests {
    use super::RwLock;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::thread;
    use std::time::{Duration, Instant};
    use std::vec::Vec;

    const READERS: usize = 2;
    /// Write acquisitions the writer must complete.
    const WRITES: u64 = 8;
    /// Read acquisitions one write may wait through before the test calls
    /// it starved. A writer-preferring lock lets in only the readers that
    /// were already past its announcement (a handful, more when the writer
    /// is descheduled); a lock that lets readers starve writers hands the
    /// lock from reader to reader for ever.
    const STARVED: u64 = 200_000;
    /// How long a reader keeps the lock waiting for the next reader to come
    /// in (spins); readers hand the lock on to each other, so it is never
    /// free unless new readers are held back.
    const HANDOFF_SPINS: u32 = 100;

    struct Shared {
        lock: RwLock<u64>,
        reads: AtomicU64,
        /// `reads` when the current write began waiting (u64::MAX: none).
        waiting_since: AtomicU64,
        stop: AtomicBool,
    }

    fn reader(s: &Shared) {
        while !s.stop.load(Ordering::Relaxed) {
            let guard = s.lock.read();
            let me = s.reads.fetch_add(1, Ordering::AcqRel) + 1;
            let mut spins = 0;
            while s.reads.load(Ordering::Acquire) == me && spins < HANDOFF_SPINS {
                spins += 1;
                thread::yield_now();
            }
            drop(guard);
        }
    }

    /// Readers in tight loops, each holding the lock until another reader
    /// joined it: a writer still gets the lock, again and again, within a
    /// bounded number of reader acquisitions.
    #[test]
    fn writers_are_not_starved_by_readers() {
        let s = Arc::new(Shared {
            lock: RwLock::new(0),
            reads: AtomicU64::new(0),
            waiting_since: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
        });
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || reader(&s))
            })
            .collect();
        let writer = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut worst = 0;
                for _ in 0..WRITES {
                    let since = s.reads.load(Ordering::Acquire);
                    s.waiting_since.store(since, Ordering::Release);
                    let mut guard = s.lock.write();
                    worst = worst.max(s.reads.load(Ordering::Acquire) - since);
                    *guard += 1;
                    drop(guard);
                    s.waiting_since.store(u64::MAX, Ordering::Release);
                    thread::yield_now();
                }
                worst
            })
        };
        // Progress, not time, decides; the deadline only turns a lock that
        // nobody gets (a bug of its own) into a failure instead of a hang.
        let deadline = Instant::now() + Duration::from_secs(300);
        let verdict = loop {
            if writer.is_finished() {
                break Ok(());
            }
            let since = s.waiting_since.load(Ordering::Acquire);
            let reads = s.reads.load(Ordering::Acquire);
            if since != u64::MAX && reads.saturating_sub(since) > STARVED {
                break Err("a write waited through 200,000 reads");
            }
            if Instant::now() > deadline {
                break Err("no progress at all");
            }
            thread::sleep(Duration::from_millis(10));
        };
        s.stop.store(true, Ordering::Relaxed);
        if let Err(why) = verdict {
            // Threads spinning on the lock are left behind.
            panic!("{why}");
        }
        let worst = writer.join().unwrap();
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(*s.lock.read(), WRITES);
        std::eprintln!("most reads one write waited through: {worst}");
    }

    #[test]
    #[should_panic(expected = "a read lock taken again by its holder")]
    fn a_recursive_read_is_caught() {
        let lock = RwLock::new(());
        let _outer = lock.read();
        let _inner = lock.read();
    }

    #[test]
    fn readers_share_and_writers_exclude() {
        let lock = RwLock::new(1);
        {
            let a = lock.read();
            // Another thread may read alongside.
            thread::scope(|t| {
                t.spawn(|| assert_eq!(*lock.read(), 1));
            });
            assert_eq!(*a, 1);
        }
        *lock.write() = 2;
        assert_eq!(*lock.read(), 2);
    }
}
