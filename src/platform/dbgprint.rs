//! How a log record becomes a `DbgPrintEx` call: its level as a debug
//! filter bit of the IHV networking component, and its text as a
//! NUL-terminated line on the stack, cut at the buffer's end.

use core::fmt::{self, Write};

use log::{Level, Record};

/// `DPFLTR_IHVNETWORK_ID` (dpfilter.h).
pub const COMPONENT_ID: u32 = 80;
/// `DPFLTR_*_LEVEL`: the filter mask bit a record needs turned on.
const ERROR_LEVEL: u32 = 0;
const WARNING_LEVEL: u32 = 1;
const TRACE_LEVEL: u32 = 2;
const INFO_LEVEL: u32 = 3;

/// What one record may take, its terminator included (DbgPrint's own limit
/// is 512 bytes).
pub const LINE_MAX: usize = 256;

/// The DbgPrintEx level of a record.
pub fn level(level: Level) -> u32 {
    match level {
        Level::Error => ERROR_LEVEL,
        Level::Warn => WARNING_LEVEL,
        Level::Info => INFO_LEVEL,
        Level::Debug | Level::Trace => TRACE_LEVEL,
    }
}

/// A NUL-terminated line; what does not fit is cut.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    /// `ovsext: <LEVEL>: <message>\n`, NUL-terminated.
    pub fn of(record: &Record<'_>) -> Line {
        let mut line = Line {
            buf: [0; LINE_MAX],
            len: 0,
        };
        let _ = writeln!(line, "ovsext: {}: {}", record.level(), record.args());
        line
    }

    /// The text and its terminator.
    pub fn as_c_bytes(&self) -> &[u8] {
        self.buf.get(..=self.len).unwrap_or(&self.buf)
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // The last byte stays 0: the terminator.
        let n = s.len().min(LINE_MAX - 1 - self.len);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + n),
            s.as_bytes().get(..n),
        ) {
            dst.copy_from_slice(src);
            self.len += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(args: core::fmt::Arguments<'_>, level: Level) -> Line {
        Line::of(&Record::builder().args(args).level(level).build())
    }

    #[test]
    fn levels_map_to_filter_bits() {
        assert_eq!(level(Level::Error), 0);
        assert_eq!(level(Level::Warn), 1);
        assert_eq!(level(Level::Info), 3);
        assert_eq!(level(Level::Debug), 2);
        assert_eq!(level(Level::Trace), 2);
    }

    #[test]
    fn a_record_is_one_terminated_line() {
        let l = line(format_args!("vport {} bound", 3), Level::Info);
        assert_eq!(l.as_c_bytes(), b"ovsext: INFO: vport 3 bound\n\0");
    }

    #[test]
    fn long_records_are_cut_and_stay_terminated() {
        let long = "x".repeat(1000);
        let l = line(format_args!("{long}"), Level::Warn);
        let b = l.as_c_bytes();
        assert_eq!(b.len(), LINE_MAX);
        assert_eq!(b.last(), Some(&0));
        assert!(b.starts_with(b"ovsext: WARN: xxx"));
    }
}
