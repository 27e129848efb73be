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
//! Every core lock raises the IRQL to DISPATCH_LEVEL while it is held (see
//! `sys::irql`): the receive path takes the same locks at DISPATCH_LEVEL, so
//! a holder at PASSIVE_LEVEL must never be preempted by a DPC spinning on the
//! same lock on its CPU. Critical sections therefore never wait, allocate
//! from paged pool, or call into the platform. The receive path takes locks 1
//! to 3 for reading once per batch of frames (an NBL chain) and counts per
//! packet without atomic read-modify-writes (`percpu`): a flow hit takes no
//! write lock.
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

use core::ops::{Deref, DerefMut};

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

pub struct RwLock<T>(spin::RwLock<T>);

pub struct ReadGuard<'a, T> {
    guard: spin::RwLockReadGuard<'a, T>,
    _irql: IrqlGuard,
}

pub struct WriteGuard<'a, T> {
    guard: spin::RwLockWriteGuard<'a, T>,
    _irql: IrqlGuard,
}

impl<T> RwLock<T> {
    pub const fn new(value: T) -> RwLock<T> {
        RwLock(spin::RwLock::new(value))
    }

    pub fn read(&self) -> ReadGuard<'_, T> {
        let irql = IrqlGuard::raise();
        ReadGuard {
            guard: self.0.read(),
            _irql: irql,
        }
    }

    pub fn write(&self) -> WriteGuard<'_, T> {
        let irql = IrqlGuard::raise();
        WriteGuard {
            guard: self.0.write(),
            _irql: irql,
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
