//! Time for the datapath. The clock counts from boot on the performance
//! counter, the base ovs-vswitchd's `time_msec()` uses on Windows, so flow
//! "used" times the kernel reports in ms and the times userspace compares
//! them with agree; meters read the same clock in nanoseconds.

/// One reading of the datapath's clock, in nanoseconds since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now {
    pub ns: u64,
}

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u128 = 1_000_000_000;

impl Now {
    pub const fn from_ms(ms: u64) -> Now {
        Now {
            ns: ms.saturating_mul(NS_PER_MS),
        }
    }

    /// Milliseconds: the same value the counter scaled straight to ms gives.
    pub const fn ms(self) -> u64 {
        self.ns / NS_PER_MS
    }

    pub const fn after_ms(self, ms: u64) -> Now {
        Now {
            ns: self.ns.saturating_add(ms.saturating_mul(NS_PER_MS)),
        }
    }
}

/// 100-ns intervals from 1601 (Windows system time) to 1970 (the Unix epoch).
const UNIX_EPOCH_IN_SYSTEM_TIME: i64 = 116_444_736_000_000_000;

/// Nanoseconds since the Unix epoch of a Windows system time (100-ns
/// intervals since 1601); 0 for a time before 1970.
pub fn unix_ns_of_system_time(t: i64) -> u64 {
    u64::try_from(t.saturating_sub(UNIX_EPOCH_IN_SYSTEM_TIME))
        .unwrap_or(0)
        .saturating_mul(100)
}

/// `counter` ticks of a clock running at `frequency` ticks/s. A negative
/// counter or a frequency that is not positive gives 0.
pub fn ticks_to_now(counter: i64, frequency: i64) -> Now {
    let (Ok(counter), Ok(frequency)) = (u64::try_from(counter), u64::try_from(frequency)) else {
        return Now::default();
    };
    if frequency == 0 {
        return Now::default();
    }
    // 128 bits: counter * 10^9 cannot overflow.
    let ns = u128::from(counter) * NS_PER_S / u128::from(frequency);
    Now {
        ns: u64::try_from(ns).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(counter: i64, frequency: i64) -> u64 {
        ticks_to_now(counter, frequency).ms()
    }

    #[test]
    fn system_time_to_unix_ns() {
        assert_eq!(unix_ns_of_system_time(UNIX_EPOCH_IN_SYSTEM_TIME), 0);
        // 2026-12-08T00:00:00Z.
        let t = UNIX_EPOCH_IN_SYSTEM_TIME + 1_796_688_000 * 10_000_000 + 5;
        assert_eq!(unix_ns_of_system_time(t), 1_796_688_000_000_000_500);
        assert_eq!(unix_ns_of_system_time(0), 0);
        assert_eq!(unix_ns_of_system_time(i64::MIN), 0);
    }

    #[test]
    fn scales_without_overflow() {
        assert_eq!(ms(10_000_000, 10_000_000), 1000);
        assert_eq!(ms(12_345, 10_000_000), 1);
        assert_eq!(ms(9_999, 10_000_000), 0);
        assert_eq!(ticks_to_now(12_345, 10_000_000).ns, 1_234_500);
        // A year of uptime at 10 MHz, and the counter's extreme.
        assert_eq!(ms(315_360_000_000_000, 10_000_000), 31_536_000_000);
        assert_eq!(ticks_to_now(i64::MAX, 1).ns, u64::MAX);
        assert_eq!(ms(-1, 10_000_000), 0);
        assert_eq!(ms(5, 0), 0);
        assert_eq!(ms(5, -3), 0);
    }

    #[test]
    fn ms_is_the_counter_scaled_straight_to_ms() {
        for (c, f) in [
            (999_999_999, 3_579_545),
            (123_456_789_012, 10_000_000),
            (7, 3),
        ] {
            let direct = (c as u128 * 1000 / f as u128) as u64;
            assert_eq!(ms(c, f), direct);
        }
        assert_eq!(Now::from_ms(7).after_ms(5).ms(), 12);
    }
}
