//! The datapath's clock: the performance counter, the base ovs-vswitchd's
//! `time_msec()` uses on Windows (see `platform::time`).

use super::ndis::ffi::KeQueryPerformanceCounter;
use crate::platform::time::{Now, ticks_to_now};

/// The time since boot, at any IRQL.
pub fn now() -> Now {
    let mut frequency = 0;
    // SAFETY: the frequency out-parameter is valid for the call.
    let counter = unsafe { KeQueryPerformanceCounter(&mut frequency) };
    ticks_to_now(counter, frequency)
}
