//! The datapath's clock: the performance counter, the base ovs-vswitchd's
//! `time_msec()` uses on Windows (see `platform::time`).
#![cfg(windows)]

use super::ndis::ffi::{KeQueryPerformanceCounter, KeQuerySystemTimePrecise};
use crate::platform::time::{Now, ticks_to_now, unix_ns_of_system_time};

/// A seed for the datapath's hash tables, which nobody sending packets can
/// know: the performance counter's ticks when the driver loads, mixed with
/// the address of the loading thread's stack (randomised by the kernel).
pub fn hash_seed() -> u64 {
    // SAFETY: the frequency out-parameter may be null.
    let ticks = unsafe { KeQueryPerformanceCounter(core::ptr::null_mut()) };
    let local = 0u8;
    let stack = core::ptr::addr_of!(local) as usize as u64;
    let x = (ticks as u64) ^ stack.rotate_left(32);
    (x ^ (x >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The time since boot, at any IRQL.
pub fn now() -> Now {
    let mut frequency = 0;
    // SAFETY: the frequency out-parameter is valid for the call.
    let counter = unsafe { KeQueryPerformanceCounter(&mut frequency) };
    ticks_to_now(counter, frequency)
}

/// The wall clock (ns since the Unix epoch) when the datapath's clock read
/// zero, at any IRQL: what a reading of `now` is in calendar time.
pub fn wall_epoch_ns() -> u64 {
    let since_boot = now();
    let mut system_time = 0i64;
    // SAFETY: the out-parameter is valid for the call.
    unsafe { KeQuerySystemTimePrecise(&mut system_time) };
    unix_ns_of_system_time(system_time).saturating_sub(since_boot.ns)
}
