//! Time for the datapath, in the milliseconds ovs-vswitchd's `time_msec()`
//! counts on Windows: the performance counter scaled to ms, so flow "used"
//! times the kernel reports and the times userspace compares them with share
//! one base (the counter starts at boot).

/// `counter` ticks of a clock running at `frequency` ticks/s, in ms. A
/// negative counter or a frequency that is not positive gives 0.
pub fn ticks_to_ms(counter: i64, frequency: i64) -> u64 {
    let (Ok(counter), Ok(frequency)) = (u64::try_from(counter), u64::try_from(frequency)) else {
        return 0;
    };
    if frequency == 0 {
        return 0;
    }
    // 128 bits: counter * 1000 cannot overflow.
    let ms = u128::from(counter) * 1000 / u128::from(frequency);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_without_overflow() {
        assert_eq!(ticks_to_ms(10_000_000, 10_000_000), 1000);
        assert_eq!(ticks_to_ms(12_345, 10_000_000), 1);
        assert_eq!(ticks_to_ms(9_999, 10_000_000), 0);
        // A year of uptime at 10 MHz, and the counter's extreme.
        assert_eq!(ticks_to_ms(315_360_000_000_000, 10_000_000), 31_536_000_000);
        assert_eq!(ticks_to_ms(i64::MAX, 1), u64::MAX);
        assert_eq!(ticks_to_ms(i64::MAX, 1000), i64::MAX as u64);
        assert_eq!(ticks_to_ms(-1, 10_000_000), 0);
        assert_eq!(ticks_to_ms(5, 0), 0);
        assert_eq!(ticks_to_ms(5, -3), 0);
    }
}
