//! Meters under random configurations and packet trains: nothing panics,
//! and the packets a meter of drop bands lets through never exceed what
//! each band allows (its burst plus its rate times the time elapsed), however
//! many processors run it at once.

use ovsext::meter::{BandConfig, Config, MAX_BANDS, Meter};
use ovsext::ovs::meter::BAND_TYPE_DROP;
use ovsext::percpu::Cpu;
use ovsext::platform::time::Now;
use proptest::prelude::*;

fn arb_band() -> impl Strategy<Value = BandConfig> {
    (
        prop_oneof![3 => Just(BAND_TYPE_DROP), 1 => 0u32..4],
        prop_oneof![1u32..2000, 1u32..=u32::MAX],
        prop_oneof![0u32..200, any::<u32>()],
    )
        .prop_map(|(ty, rate, burst)| BandConfig { ty, rate, burst })
}

fn config(kbps: bool, bands: &[BandConfig]) -> Config {
    bands
        .iter()
        .try_fold(Config::new(1, kbps), |c, b| c.band(*b))
        .unwrap()
}

/// Bucket units (bits, or thousandths of a packet) a band lets through in
/// `span_ns`, times 10^6: its burst, and its rate for the time.
fn allowance_e6(b: &BandConfig, span_ns: u64) -> u128 {
    u128::from(b.burst) * 1000 * 1_000_000 + u128::from(b.rate) * u128::from(span_ns)
}

fn units(kbps: bool, len: usize) -> u128 {
    if kbps { len as u128 * 8 } else { 1000 }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_more_than_rate_times_time_plus_burst(
        kbps in any::<bool>(),
        bands in prop::collection::vec(arb_band(), 1..=MAX_BANDS),
        start in prop_oneof![Just(0u64), any::<u64>()],
        train in prop::collection::vec((0u64..5_000_000, 0usize..9000), 1..300),
    ) {
        let cfg = config(kbps, &bands);
        let held = Meter::create(&cfg, Now { ns: start }, 1).unwrap();
        let m = held.get().unwrap();
        let mut now = start;
        let mut passed = 0u128;
        for (gap, len) in &train {
            now = now.saturating_add(*gap);
            if !m.run(Cpu::Pinned(0), Now { ns: now }, *len) {
                passed += units(kbps, *len);
            }
        }
        let span = now - start;
        // A band of another type that applies lets the packet pass (Linux's
        // rule): only meters of drop bands alone are bounded by each band.
        let all_drop = bands.iter().all(|b| b.ty == BAND_TYPE_DROP);
        for b in bands.iter().filter(|_| all_drop) {
            prop_assert!(passed * 1_000_000 <= allowance_e6(b, span), "{b:?}: {passed}");
        }
        let report = m.report();
        prop_assert_eq!(report.stats.packets, train.len() as u64);
        let counted: u64 = m.band_counts().map(|c| c.packets).sum();
        prop_assert!(counted <= train.len() as u64);
    }
}

/// Two processors on one meter at once, at the same clock: together they
/// pass no more than the band allows, and the band counts every drop, with
/// grants of up to 3 packets (a burst of 50) and of up to 312 (5000).
#[test]
fn two_processors_share_one_bucket() {
    for burst in [50, 5000] {
        let band = BandConfig {
            ty: BAND_TYPE_DROP,
            rate: 1000,
            burst,
        };
        let held = Meter::create(&config(false, &[band]), Now::default(), 2).unwrap();
        let m = held.get().unwrap();
        let per_thread = 20_000u64;
        let passed: u64 = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|cpu| {
                    s.spawn(move || {
                        (0..per_thread)
                            .filter(|i| !m.run(Cpu::Pinned(cpu), Now { ns: i * 10_000 }, 64))
                            .count() as u64
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).sum()
        });
        // 200 ms of 1000 packets/s plus the burst.
        let span = (per_thread - 1) * 10_000;
        assert!(u128::from(passed) * 1000 * 1_000_000 <= allowance_e6(&band, span));
        assert!(passed >= 200, "{passed}");
        assert_eq!(m.report().stats.packets, 2 * per_thread);
        let dropped: u64 = m.band_counts().map(|c| c.packets).sum();
        assert_eq!(passed + dropped, 2 * per_thread);
    }
}
