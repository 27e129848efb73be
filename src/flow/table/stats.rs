//! Per-flow statistics, updated by the hit path through shared references.

use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::percpu::{Cpu, add};

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

/// One set of counters (its TCP flags sit apart, packed with the owner).
#[derive(Default)]
struct Lane {
    packets: AtomicU64,
    bytes: AtomicU64,
}

/// A flow's counters. Most flows are hit from one processor (the one its
/// traffic is steered to), so the first processor to hit a flow owns a lane
/// it updates without atomic read-modify-writes; hits from elsewhere go to a
/// shared lane, atomically. A clear racing a hit may keep that hit.
#[derive(Default)]
pub struct LiveStats {
    /// The owning processor plus one; 0 while nobody owns the lane.
    owner: AtomicU32,
    own_flags: AtomicU16,
    shared_flags: AtomicU16,
    own: Lane,
    shared: Lane,
    used_ms: AtomicU64,
}

impl LiveStats {
    #[inline]
    pub fn record(&self, cpu: Cpu, now_ms: u64, bytes: u64, tcp_flags: u16) {
        let owns = match cpu {
            Cpu::Pinned(n) => {
                let me = u32::try_from(n).map_or(0, |n| n.wrapping_add(1));
                let owner = self.owner.load(Relaxed);
                me != 0
                    && (owner == me
                        || (owner == 0
                            && self.owner.compare_exchange(0, me, Relaxed, Relaxed).is_ok()))
            }
            Cpu::Any => false,
        };
        let (lane, flags) = match owns {
            true => (&self.own, &self.own_flags),
            false => (&self.shared, &self.shared_flags),
        };
        add(&lane.packets, 1, owns);
        add(&lane.bytes, bytes, owns);
        if tcp_flags != 0 {
            if owns {
                flags.store(flags.load(Relaxed) | tcp_flags, Relaxed);
            } else {
                flags.fetch_or(tcp_flags, Relaxed);
            }
        }
        // Written once a ms, not per packet: processors sharing a hot flow
        // then rarely pull the line from each other.
        if self.used_ms.load(Relaxed) != now_ms {
            self.used_ms.store(now_ms, Relaxed);
        }
    }

    pub fn snapshot(&self) -> FlowStats {
        let (a, b) = (&self.own, &self.shared);
        FlowStats {
            packets: a
                .packets
                .load(Relaxed)
                .wrapping_add(b.packets.load(Relaxed)),
            bytes: a.bytes.load(Relaxed).wrapping_add(b.bytes.load(Relaxed)),
            used_ms: self.used_ms.load(Relaxed),
            tcp_flags: self.own_flags.load(Relaxed) | self.shared_flags.load(Relaxed),
        }
    }

    pub fn clear(&self) {
        for lane in [&self.own, &self.shared] {
            lane.packets.store(0, Relaxed);
            lane.bytes.store(0, Relaxed);
        }
        self.own_flags.store(0, Relaxed);
        self.shared_flags.store(0, Relaxed);
        self.used_ms.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_accumulates_and_clear_resets() {
        let s = LiveStats::default();
        s.record(Cpu::Pinned(3), 10, 60, 0x02);
        s.record(Cpu::Pinned(1), 12, 1500, 0x10);
        s.record(Cpu::Any, 11, 40, 0);
        assert_eq!(
            s.snapshot(),
            FlowStats {
                packets: 3,
                bytes: 1600,
                used_ms: 11,
                tcp_flags: 0x12
            }
        );
        assert_eq!(
            s.owner.load(Relaxed),
            4,
            "the first processor to hit owns the lane"
        );
        assert_eq!(s.own.packets.load(Relaxed), 1);
        assert_eq!(s.shared.packets.load(Relaxed), 2);
        s.clear();
        assert_eq!(s.snapshot(), FlowStats::default());
    }

    /// Six words: a flow record's statistics take less than a cache line.
    #[test]
    fn six_words() {
        assert_eq!(core::mem::size_of::<LiveStats>(), 48);
    }
}
