//! The data path's state for the one switch the extension serves: the NBL
//! pools, one lane per processor, the drain a pause waits on, and the
//! counters of what the path had to drop.
//!
//! Built at attach (before the module is published to NDIS as paused) and
//! torn down at detach (after the pause that precedes it drained every
//! handler and every NBL of ours). The lanes go first: a packet left in a
//! lane's receive context frees its buffer through the pools.
#![cfg(windows)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use super::lane::Lane;
use super::nbl::Nbls;
use super::ndis::ffi::{
    KeInitializeEvent, KeQueryActiveProcessorCountEx, KeSetEvent, KeWaitForSingleObject,
};
use super::ndis::types::*;
use crate::platform::drain::{Closed, Drain};

static NBLS: AtomicPtr<Nbls> = AtomicPtr::new(ptr::null_mut());
static LANES: AtomicPtr<Lanes> = AtomicPtr::new(ptr::null_mut());

/// Data-path handlers running and NBLs of ours out below.
pub static DRAIN: Drain = Drain::new();

/// Frames and outputs the path dropped, by reason (looked at in a
/// debugger; the datapath's own counters cover what it decided).
pub struct Drops {
    /// A frame longer than the scratch buffer had to be copied.
    pub too_long: AtomicU64,
    /// A frame's MDLs could not be mapped.
    pub unreadable: AtomicU64,
    /// A send arrived on a processor without a lane, or re-entered one.
    pub no_lane: AtomicU64,
    /// An output could not get an NBL, a clone or a destination.
    pub no_resources: AtomicU64,
    /// An output of a frame whose NBL had already been decided on.
    pub stale: AtomicU64,
    /// A packet executed from userspace while the module was paused.
    pub paused: AtomicU64,
}

pub static DROPS: Drops = Drops {
    too_long: AtomicU64::new(0),
    unreadable: AtomicU64::new(0),
    no_lane: AtomicU64::new(0),
    no_resources: AtomicU64::new(0),
    stale: AtomicU64::new(0),
    paused: AtomicU64::new(0),
};

/// Counts one drop.
pub fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct Lanes(Box<[Lane]>);

/// The pools of the attached switch; `None` outside attach..detach.
pub fn nbls() -> Option<&'static Nbls> {
    // SAFETY: published by `build` before any data-path call, freed by
    // `tear_down` after the last (see the module comment).
    unsafe { NBLS.load(Ordering::Acquire).as_ref() }
}

/// The lane of processor `cpu`.
pub fn lane(cpu: usize) -> Option<&'static Lane> {
    // SAFETY: as for `nbls`.
    let lanes = unsafe { LANES.load(Ordering::Acquire).as_ref() }?;
    lanes.0.get(cpu)
}

/// The active processors, in all groups: one lane each, and as many
/// per-processor slots in the datapath.
pub fn processors() -> usize {
    // SAFETY: callable at any IRQL <= DISPATCH_LEVEL; reads a count.
    unsafe { KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS) as usize }
}

/// Attach: pools for the filter module, a lane for every active processor.
pub fn build(
    filter: NdisHandle,
    switch: NdisHandle,
    handlers: &NdisSwitchOptionalHandlers,
) -> Result<(), NdisStatus> {
    let nbls = Nbls::new(filter, switch, handlers)?;
    let cpus = processors();
    let mut lanes = Vec::new();
    lanes
        .try_reserve_exact(cpus)
        .map_err(|_| NdisStatus::RESOURCES)?;
    for cpu in 0..cpus {
        lanes.push(Lane::new(cpu).ok_or(NdisStatus::RESOURCES)?);
    }
    let lanes = Box::new(Lanes(lanes.into_boxed_slice()));
    NBLS.store(Box::into_raw(Box::new(nbls)), Ordering::Release);
    LANES.store(Box::into_raw(lanes), Ordering::Release);
    Ok(())
}

/// Detach: lanes, then pools.
pub fn tear_down() {
    let lanes = LANES.swap(ptr::null_mut(), Ordering::AcqRel);
    if !lanes.is_null() {
        // SAFETY: from Box::into_raw in `build`; no handler runs any more.
        drop(unsafe { Box::from_raw(lanes) });
    }
    let nbls = NBLS.swap(ptr::null_mut(), Ordering::AcqRel);
    if !nbls.is_null() {
        // SAFETY: as above; every NBL of ours came back before the pause
        // that preceded detach completed.
        drop(unsafe { Box::from_raw(nbls) });
    }
}

/// The event a pause waits on until the last reference of the drain goes.
struct PauseEvent(UnsafeCell<KEvent>);

// SAFETY: the kernel synchronises access to a dispatcher object; we only
// pass its address.
unsafe impl Sync for PauseEvent {}

static PAUSE: PauseEvent = PauseEvent(UnsafeCell::new(KEvent::new()));

/// Pause: admits no new work and waits (PASSIVE_LEVEL) until every handler
/// left and every NBL of ours came back.
pub fn pause() {
    // SAFETY: the event is reset before the drain can ask for a wake (only
    // a `close` that returns `Wait` makes a `leave` wake it).
    unsafe { KeInitializeEvent(PAUSE.0.get(), NOTIFICATION_EVENT, 0) };
    if DRAIN.close() == Closed::Wait {
        // SAFETY: a kernel wait on our event, at PASSIVE_LEVEL, without a
        // timeout: the last `leave` sets it.
        unsafe {
            KeWaitForSingleObject(
                PAUSE.0.get().cast(),
                EXECUTIVE,
                KERNEL_MODE,
                0,
                ptr::null_mut(),
            )
        };
    }
}

/// Restart: work is admitted again.
pub fn restart() {
    DRAIN.open();
}

/// Drops one reference of the drain, waking a waiting pause if it was the
/// last.
pub fn leave() {
    leave_n(1);
}

/// Drops `n` references of the drain at once, waking a waiting pause if
/// they were the last.
pub fn leave_n(n: u64) {
    if DRAIN.leave_n(n) {
        // SAFETY: the event was initialised by the pause waiting on it;
        // setting it is allowed up to DISPATCH_LEVEL.
        unsafe { KeSetEvent(PAUSE.0.get(), 0, 0) };
    }
}
