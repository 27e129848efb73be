//! The datapath's upkeep: an NDIS timer runs `Device::maintain` once a
//! second (at DISPATCH_LEVEL) while the switch is active.
#![cfg(windows)]

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::device::device;
use super::ndis::ffi::{
    KeFlushQueuedDpcs, NdisAllocateTimerObject, NdisCancelTimerObject, NdisFreeTimerObject,
    NdisSetTimerObject,
};
use super::ndis::types::*;

/// The timer object while it is set.
static TIMER: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// One second, relative, in 100 ns units.
const FIRST_DUE: i64 = -10_000_000;
const PERIOD_MS: u32 = 1000;
/// 'OVSt', as pool tags read in a debugger.
const TAG: u32 = u32::from_le_bytes(*b"OVSt");

unsafe extern "system" fn tick(_: *mut c_void, _: *mut c_void, _: *mut c_void, _: *mut c_void) {
    if let Some(dev) = device() {
        let mut wake = crate::pend::Wakeups::new();
        dev.set_wall_epoch(super::time::wall_epoch_ns());
        dev.maintain(super::time::now().ms(), &mut wake);
        super::device::complete_wakeups(wake);
        super::underlay::kick_if_unresolved(dev);
    }
}

/// Starts the timer (once; a second start is a no-op). PASSIVE_LEVEL.
pub fn start(filter_handle: NdisHandle) -> Result<(), NdisStatus> {
    if !TIMER.load(Ordering::Acquire).is_null() {
        return Ok(());
    }
    let characteristics = NdisTimerCharacteristics {
        header: NdisObjectHeader::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        allocation_tag: TAG,
        timer_function: Some(tick),
        function_context: ptr::null_mut(),
    };
    let mut timer: NdisHandle = ptr::null_mut();
    // SAFETY: the characteristics are complete and live for the call; the
    // handle is the filter module's, valid while it is attached.
    let status = unsafe { NdisAllocateTimerObject(filter_handle, &characteristics, &mut timer) };
    if status != NdisStatus::SUCCESS || timer.is_null() {
        return Err(status);
    }
    // SAFETY: `timer` was just allocated and is not set yet.
    unsafe { NdisSetTimerObject(timer, FIRST_DUE, PERIOD_MS, ptr::null_mut()) };
    TIMER.store(timer, Ordering::Release);
    Ok(())
}

/// Stops and frees the timer, after any tick still running has ended.
/// PASSIVE_LEVEL.
pub fn stop() {
    let timer = TIMER.swap(ptr::null_mut(), Ordering::AcqRel);
    if timer.is_null() {
        return;
    }
    // SAFETY: `timer` is ours and set; after cancelling it, flushing the
    // DPC queues waits for a tick that had already started, so nothing
    // uses it when it is freed.
    unsafe {
        NdisCancelTimerObject(timer);
        KeFlushQueuedDpcs();
        NdisFreeTimerObject(timer);
    }
}
