//! The driver's logger: `log` records go to the kernel debugger through
//! `DbgPrintEx` with the IHV networking component id, so they show in WinDbg
//! or DebugView once that component's filter admits their level (see
//! docs/windows-testing.md). Each record is formatted into a line on the
//! stack (`platform::dbgprint`); nothing allocates. The call sites keep the
//! rate low: per-request and per-packet records pass a rate limit
//! (`crate::diag`), and nothing logs on a flow hit.
#![cfg(windows)]

use core::ffi::c_char;

use log::{LevelFilter, Log, Metadata, Record};

use crate::platform::dbgprint::{COMPONENT_ID, Line, level};

#[link(name = "ntoskrnl")]
unsafe extern "C" {
    /// Any IRQL up to DIRQL; prints `format` with its arguments.
    fn DbgPrintEx(component_id: u32, level: u32, format: *const c_char, ...) -> u32;
}

struct DbgLog;

impl Log for DbgLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = Line::of(record);
        // SAFETY: "%s" takes one NUL-terminated string, which
        // `as_c_bytes` is; both live across the call.
        unsafe {
            DbgPrintEx(
                COMPONENT_ID,
                level(record.level()),
                c"%s".as_ptr(),
                line.as_c_bytes().as_ptr(),
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: DbgLog = DbgLog;

/// Installs the logger (DriverEntry): the operator's events (info and up)
/// are written; debug records are not even formatted.
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
