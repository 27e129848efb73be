//! Meters (Linux `net/openvswitch/meter.c`): rate limiters the METER action
//! runs packets through. A meter has up to `MAX_BANDS` bands, each a token
//! bucket of a rate and a burst, in kilobits or in packets; a packet takes
//! its cost from every band that holds it, and of the bands that do not,
//! the one with the highest rate applies: its counters count the packet,
//! and a DROP band drops it (Linux's rule).
//!
//! Every processor may run one meter at once: a band's bucket is one atomic
//! word updated by compare-and-swap, which each processor does once a grant
//! of the bucket's ticks rather than once a packet (`bucket`), and each
//! processor counts in its own cache lines, summed when read, so no lock is
//! taken and no line shared per packet.

mod bucket;
mod table;

pub use table::{Held, MAX_METERS, Meters, Table};

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::netlink::Errno;
use crate::ovs::meter::BAND_TYPE_DROP;
use crate::percpu::{Cpu, PerCpu, add};
use crate::platform::time::Now;

/// Bands a meter has at most (advertised as `OVS_METER_ATTR_MAX_BANDS`).
pub const MAX_BANDS: usize = 8;

/// Bytes all of a datapath's meters may hold. A meter counts in a cache
/// line of its own per processor, so on a host of many processors this,
/// not `MAX_METERS`, bounds the meters (Linux bounds its meters by memory
/// too).
pub const METER_MEMORY: usize = 32 << 20;

/// Most bytes one meter holds on a host of `cpus` processors: its record,
/// its bands and its counting lanes (one per processor and a shared one).
pub fn meter_bytes(cpus: usize) -> usize {
    let lane = core::mem::size_of::<crate::percpu::Padded<Lane>>();
    core::mem::size_of::<Meter>()
        + MAX_BANDS * core::mem::size_of::<Band>()
        + cpus.saturating_add(1).saturating_mul(lane)
}

/// Meters a datapath on `cpus` processors allows (advertised in FEATURES):
/// `MAX_METERS`, or fewer if that many would hold more than `METER_MEMORY`.
pub fn max_meters(cpus: usize) -> u32 {
    let fit = METER_MEMORY / meter_bytes(cpus).max(1);
    u32::try_from(fit).map_or(MAX_METERS, |n| n.min(MAX_METERS))
}

/// `struct ovs_flow_stats`: a meter's or band's packets and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub packets: u64,
    pub bytes: u64,
}

/// A band as `OVS_METER_CMD_SET` gives it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BandConfig {
    /// `OVS_METER_BAND_TYPE_*`; Linux keeps any value, and only DROP drops.
    pub ty: u32,
    /// Non-zero.
    pub rate: u32,
    pub burst: u32,
}

/// A meter as `OVS_METER_CMD_SET` gives it (no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub id: u32,
    pub kbps: bool,
    /// False when the request had `OVS_METER_ATTR_CLEAR`: a later SET or
    /// DEL does not report this meter's counters.
    pub keep_stats: bool,
    /// Counters to start from (`OVS_METER_ATTR_STATS`).
    pub initial: Counts,
    bands: [BandConfig; MAX_BANDS],
    n_bands: usize,
}

impl Config {
    pub fn new(id: u32, kbps: bool) -> Config {
        Config {
            id,
            kbps,
            keep_stats: true,
            initial: Counts::default(),
            bands: [BandConfig::default(); MAX_BANDS],
            n_bands: 0,
        }
    }

    /// Adds a band: EINVAL beyond `MAX_BANDS` or with a rate of 0.
    pub fn band(mut self, band: BandConfig) -> Result<Config, Errno> {
        let slot = self.bands.get_mut(self.n_bands).ok_or(Errno::Inval)?;
        if band.rate == 0 {
            return Err(Errno::Inval);
        }
        *slot = band;
        self.n_bands += 1;
        Ok(self)
    }

    pub fn bands(&self) -> &[BandConfig] {
        self.bands.get(..self.n_bands).unwrap_or_default()
    }
}

struct Band {
    ty: u32,
    rate: u32,
    bucket: bucket::Bucket,
}

/// A processor's part of one band: its grant and its counts of packets the
/// band applied to.
#[derive(Default)]
struct BandLane {
    grant: bucket::Grant,
    packets: AtomicU64,
    bytes: AtomicU64,
}

/// A processor's part of a meter (the bands it does not have stay idle).
#[derive(Default)]
struct Lane {
    packets: AtomicU64,
    bytes: AtomicU64,
    /// The last packet's time in ms, 0 before one; written once a ms.
    used_ms: AtomicU64,
    bands: [BandLane; MAX_BANDS],
}

pub struct Meter {
    pub id: u32,
    kbps: bool,
    keep_stats: bool,
    /// When it was set: its buckets' clock counts from here, and it is its
    /// `used` time until a packet comes.
    created: Now,
    initial: Counts,
    bands: alloc::boxed::Box<[Band]>,
    lanes: PerCpu<Lane>,
}

impl core::fmt::Debug for Meter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Meter")
            .field("id", &self.id)
            .field("bands", &self.bands.len())
            .finish_non_exhaustive()
    }
}

/// A meter's counters as the family reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub stats: Counts,
    /// The last packet's time, or the meter's creation, in ms.
    pub used_ms: u64,
}

impl Meter {
    /// A meter with full buckets, counting for `cpus` processors; ENOMEM if
    /// it cannot be allocated.
    pub fn create(cfg: &Config, now: Now, cpus: usize) -> Result<Held, Errno> {
        let mut bands = Vec::new();
        bands
            .try_reserve_exact(cfg.bands().len())
            .map_err(|_| Errno::NoMem)?;
        bands.extend(cfg.bands().iter().map(|b| Band {
            ty: b.ty,
            rate: b.rate,
            bucket: bucket::Bucket::new(b.rate, b.burst),
        }));
        Held::new(Meter {
            id: cfg.id,
            kbps: cfg.kbps,
            keep_stats: cfg.keep_stats,
            created: now,
            initial: cfg.initial,
            bands: bands.into_boxed_slice(),
            lanes: PerCpu::new(cpus).ok_or(Errno::NoMem)?,
        })
    }

    /// Runs a packet of `len` bytes through the meter at `now`: true if a
    /// DROP band applies and the packet must be dropped.
    #[inline]
    pub fn run(&self, cpu: Cpu, now: Now, len: usize) -> bool {
        let (lane, own) = self.lanes.slot(cpu);
        let bytes = len as u64;
        add(&lane.packets, 1, own);
        add(&lane.bytes, bytes, own);
        let ms = now.ms();
        if lane.used_ms.load(Relaxed) != ms {
            lane.used_ms.store(ms, Relaxed);
        }
        let t = bucket::ticks(self.created, now);
        let units = bucket::cost(self.kbps, len);
        let mut exceeded: Option<(&Band, &BandLane)> = None;
        for (band, part) in self.bands.iter().zip(&lane.bands) {
            // Only a processor's own lane may hold grants.
            let grant = own.then_some(&part.grant);
            if !band.bucket.take(grant, t, units)
                && exceeded.is_none_or(|(e, _)| band.rate > e.rate)
            {
                exceeded = Some((band, part));
            }
        }
        let Some((band, part)) = exceeded else {
            return false;
        };
        add(&part.packets, 1, own);
        add(&part.bytes, bytes, own);
        band.ty == BAND_TYPE_DROP
    }

    /// Whether a replacing SET or a DEL reports this meter's counters.
    pub fn keeps_stats(&self) -> bool {
        self.keep_stats
    }

    pub fn report(&self) -> Report {
        let used_ms = self.lanes.fold(0, |m, l| m.max(l.used_ms.load(Relaxed)));
        Report {
            stats: Counts {
                packets: self
                    .initial
                    .packets
                    .wrapping_add(self.lanes.sum(|l| l.packets.load(Relaxed))),
                bytes: self
                    .initial
                    .bytes
                    .wrapping_add(self.lanes.sum(|l| l.bytes.load(Relaxed))),
            },
            used_ms: if used_ms == 0 {
                self.created.ms()
            } else {
                used_ms
            },
        }
    }

    /// Each band's counters, in the order the bands were given.
    pub fn band_counts(&self) -> impl Iterator<Item = Counts> + '_ {
        (0..self.bands.len()).map(|i| {
            let sum = |f: fn(&BandLane) -> &AtomicU64| {
                self.lanes
                    .sum(|l| l.bands.get(i).map_or(0, |b| f(b).load(Relaxed)))
            };
            Counts {
                packets: sum(|b| &b.packets),
                bytes: sum(|b| &b.bytes),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    /// Meters are bounded by memory on a host of many processors, by
    /// count on a small one.
    #[test]
    fn many_processors_allow_fewer_meters() {
        assert_eq!(max_meters(1), MAX_METERS);
        let (n, cpus) = (max_meters(64), 64);
        assert!(n < MAX_METERS, "{n}");
        assert!(n as usize * meter_bytes(cpus) <= METER_MEMORY);
        assert!((n as usize + 1) * meter_bytes(cpus) > METER_MEMORY);
        // What a meter holds is within what is counted for it.
        let held = core::mem::size_of::<Meter>()
            + (cpus + 1) * core::mem::size_of::<crate::percpu::Padded<Lane>>();
        assert!(held <= meter_bytes(cpus));
    }

    use super::*;

    fn drop_band(rate: u32, burst: u32) -> BandConfig {
        BandConfig {
            ty: BAND_TYPE_DROP,
            rate,
            burst,
        }
    }

    #[test]
    fn config_limits() {
        assert_eq!(
            Config::new(1, false).band(drop_band(0, 1)),
            Err(Errno::Inval)
        );
        let mut c = Config::new(1, false);
        for _ in 0..MAX_BANDS {
            c = c.band(drop_band(1, 1)).unwrap();
        }
        assert_eq!(c.bands().len(), MAX_BANDS);
        assert_eq!(c.band(drop_band(1, 1)), Err(Errno::Inval));
    }

    #[test]
    fn the_highest_exceeded_rate_applies() {
        // pktps: bands of 10, 100 and 1000 packets/s, bursts equal to rates.
        let cfg = Config::new(7, false)
            .band(drop_band(100, 100))
            .and_then(|c| c.band(drop_band(10, 10)))
            .and_then(|c| c.band(drop_band(1000, 1000)))
            .unwrap();
        let held = Meter::create(&cfg, Now::from_ms(5), 2).unwrap();
        let m = held.get().unwrap();
        assert_eq!(m.report().used_ms, 5);
        let now = Now::from_ms(10);
        let passed = (0..2000).filter(|_| !m.run(Cpu::Any, now, 100)).count();
        assert_eq!(passed, 10, "the 10 packets/s band's burst");
        let bands: std::vec::Vec<Counts> = m.band_counts().collect();
        // Packets 11..=100 exceed only the 10/s band; 101..=1000 also the
        // 100/s band; the rest all three.
        assert_eq!(bands[1].packets, 90);
        assert_eq!(bands[0].packets, 900);
        assert_eq!(bands[2].packets, 1000);
        assert_eq!(
            m.report(),
            Report {
                stats: Counts {
                    packets: 2000,
                    bytes: 200_000
                },
                used_ms: 10
            }
        );
    }

    #[test]
    fn other_band_types_count_but_pass() {
        let cfg = Config::new(1, true)
            .band(BandConfig {
                ty: 2,
                rate: 1,
                burst: 0,
            })
            .unwrap();
        let held = Meter::create(&cfg, Now::default(), 1).unwrap();
        let m = held.get().unwrap();
        assert!(!m.run(Cpu::Pinned(0), Now::from_ms(1), 60));
        assert_eq!(m.band_counts().next().unwrap().packets, 1);
    }

    #[test]
    fn counts_are_summed_over_processors() {
        // Two processors, one beyond the meter's (counted in the shared
        // lane), and a writer pinned to none.
        let cfg = Config::new(3, false).band(drop_band(1000, 1)).unwrap();
        let held = Meter::create(&cfg, Now::from_ms(1), 2).unwrap();
        let m = held.get().unwrap();
        let runs = [
            (Cpu::Pinned(0), 7),
            (Cpu::Any, 8),
            (Cpu::Pinned(5), 8),
            (Cpu::Pinned(1), 9),
        ];
        let dropped = runs
            .iter()
            .filter(|&&(cpu, ms)| m.run(cpu, Now::from_ms(ms), 100))
            .count();
        assert_eq!(dropped, 1, "a burst of 1, a packet a ms");
        assert_eq!(
            m.report(),
            Report {
                stats: Counts {
                    packets: 4,
                    bytes: 400
                },
                used_ms: 9
            }
        );
        let band: std::vec::Vec<Counts> = m.band_counts().collect();
        assert_eq!(
            band,
            [Counts {
                packets: 1,
                bytes: 100
            }]
        );
    }
}
