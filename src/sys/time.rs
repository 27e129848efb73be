//! The datapath's clock: milliseconds of the performance counter, the base
//! ovs-vswitchd's `time_msec()` uses on Windows (see `platform::time`).

use super::ndis::ffi::KeQueryPerformanceCounter;
use crate::platform::time::ticks_to_ms;

/// Milliseconds since boot, at any IRQL.
pub fn now_ms() -> u64 {
    let mut frequency = 0;
    // SAFETY: the frequency out-parameter is valid for the call.
    let counter = unsafe { KeQueryPerformanceCounter(&mut frequency) };
    ticks_to_ms(counter, frequency)
}
