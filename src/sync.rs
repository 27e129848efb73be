//! The locks of the portable core.
//!
//! Lock order (outermost first; a lock may only be taken while holding locks
//! above it):
//!   1. `Device::switch` (read for IOCTLs and the receive path, write only to
//!      attach or detach the switch)
//!   2. `Datapath::ports` (switch endpoints and vports; write for OIDs and
//!      vport commands, read on the receive path)
//!   3. `Datapath::flows` (write for flow commands, read on the receive path)
//!   4. `Datapath::queues` (event and upcall queues, short critical sections)
//!   5. `Device::handles` (open handles and dump state; never held while any
//!      datapath lock is taken)
//!
//! Platform locks outside the core (Windows, `sys`): the switch port table
//! lock (`sys::hyperv`) is taken before lock 1 and never while a core lock is
//! held; the pended-IRP queue lock (`sys::csq`) is never held together with
//! a core lock. Wakeups are completed only after every core guard is dropped.
//!
//! No lock is held across a call into the platform: pended requests to
//! complete are collected in `Wakeups` and completed by the caller after
//! every guard is dropped. On Windows the receive path runs at
//! DISPATCH_LEVEL, so every lock shared with it raises the IRQL to
//! DISPATCH_LEVEL for as long as it is held (see `sys::irql`): a thread at
//! PASSIVE_LEVEL holding a spin lock can then never be preempted by a DPC
//! spinning on the same lock on the same CPU.

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
