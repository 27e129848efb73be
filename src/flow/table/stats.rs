//! Per-flow statistics, updated by the hit path through shared references.

use core::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};

/// A snapshot of a flow's statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
    /// Time of the last hit in ms (the caller's clock); 0 if never hit.
    pub used_ms: u64,
    /// OR of the TCP flags of every packet.
    pub tcp_flags: u16,
}

#[derive(Default)]
pub struct LiveStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    used_ms: AtomicU64,
    tcp_flags: AtomicU16,
}

impl LiveStats {
    #[inline]
    pub fn record(&self, now_ms: u64, bytes: u64, tcp_flags: u16) {
        self.packets.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        self.used_ms.store(now_ms, Relaxed);
        if tcp_flags != 0 {
            self.tcp_flags.fetch_or(tcp_flags, Relaxed);
        }
    }

    pub fn snapshot(&self) -> FlowStats {
        FlowStats {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            used_ms: self.used_ms.load(Relaxed),
            tcp_flags: self.tcp_flags.load(Relaxed),
        }
    }

    pub fn clear(&self) {
        self.packets.store(0, Relaxed);
        self.bytes.store(0, Relaxed);
        self.used_ms.store(0, Relaxed);
        self.tcp_flags.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_accumulates_and_clear_resets() {
        let s = LiveStats::default();
        s.record(10, 60, 0x02);
        s.record(12, 1500, 0x10);
        s.record(11, 40, 0);
        assert_eq!(
            s.snapshot(),
            FlowStats {
                packets: 3,
                bytes: 1600,
                used_ms: 11,
                tcp_flags: 0x12
            }
        );
        s.clear();
        assert_eq!(s.snapshot(), FlowStats::default());
    }
}
