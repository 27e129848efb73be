//! Raising to DISPATCH_LEVEL for as long as a core lock is held (see the
//! lock order in `crate::sync`): the receive path takes the same locks at
//! DISPATCH_LEVEL, so a holder must never be preempted on its CPU.
#![cfg(windows)]

use super::ndis::ffi::{KeLowerIrql, ke_raise_irql};
use super::ndis::types::{DISPATCH_LEVEL, Kirql};

pub struct DispatchGuard {
    previous: Kirql,
}

impl DispatchGuard {
    pub fn raise() -> DispatchGuard {
        // SAFETY: the core's locks are taken only at IRQL <= DISPATCH_LEVEL
        // (IOCTLs at PASSIVE_LEVEL, NDIS send/receive and OID paths at most at
        // DISPATCH_LEVEL), so raising to DISPATCH_LEVEL never lowers the IRQL.
        let previous = unsafe { ke_raise_irql(DISPATCH_LEVEL) };
        DispatchGuard { previous }
    }
}

impl Drop for DispatchGuard {
    fn drop(&mut self) {
        // SAFETY: restores the IRQL this guard raised from, after every lock
        // it protected has been released (guards drop after the spin guard).
        unsafe { KeLowerIrql(self.previous) }
    }
}
