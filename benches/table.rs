//! Megaflow table lookup cost: ns per lookup for 1, 8 and 32 masks and 1k
//! and 100k flows, with a warm mask cache (packets whose hashes stay cached:
//! 16 of them, all in the CPU's first-level cache, or 256 random flows) and
//! a cold one (every lookup a new packet hash and a random flow of the whole
//! table). Then the cost of many masks: installing one flow under each of
//! n distinct masks, and a miss, which probes every mask. Prints figures;
//! asserts nothing.

use ovsext::flow::FlowKey;
use ovsext::flow::table::FlowTable;
use std::hint::black_box;
use std::time::Instant;

const HOT_SET: usize = 16;
const WARM_SET: usize = 256;
const COLD_SET: usize = 4096;
const LOOKUPS: usize = 2_000_000;
const RUNS: usize = 5;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A typical megaflow mask: recirculation, port, Ethernet/IP/L4 fields
/// exact, the IPv4 destination under a per-mask prefix.
fn mask(i: u32) -> FlowKey {
    FlowKey {
        recirc_id: u32::MAX,
        in_port: u32::MAX,
        eth_type: 0xffff,
        ip_proto: 0xff,
        ip_frag: 0xff,
        ipv4_src: u32::MAX,
        ipv4_dst: u32::MAX << (31 - i % 32),
        tp_dst: 0xffff,
        ..Default::default()
    }
}

/// Flow `j` of `n_masks`: its mask is `j % n_masks`, and the in_port keeps
/// flows of different masks apart.
fn flow_key(j: usize, n_masks: usize) -> FlowKey {
    FlowKey {
        in_port: (j % n_masks) as u32,
        eth_type: 0x0800,
        ip_proto: 6,
        ipv4_src: 0x0a00_0000 | j as u32,
        ipv4_dst: 0xc0a8_0000 | (j as u32).wrapping_mul(2_654_435_761) >> 16,
        tp_dst: 80,
        ..Default::default()
    }
}

/// A packet of flow `j`: its key plus fields the masks ignore.
fn packet(j: usize, n_masks: usize, rng: &mut Rng) -> FlowKey {
    FlowKey {
        tp_src: rng.next() as u16,
        ip_ttl: 64,
        tcp_flags: 0x10,
        ..flow_key(j, n_masks)
    }
}

fn build(n_masks: usize, n_flows: usize) -> FlowTable<u32> {
    let mut t = FlowTable::new();
    for j in 0..n_flows {
        let m = mask((j % n_masks) as u32);
        t.insert(&flow_key(j, n_masks), &m, None, j as u32)
            .expect("insert");
    }
    assert_eq!(t.n_masks(), n_masks);
    t
}

/// Median ns per lookup over `RUNS` runs, and masks probed per lookup.
fn measure(t: &FlowTable<u32>, keys: &[(FlowKey, u32)], fresh_hashes: bool) -> (f64, f64) {
    assert!(keys.len().is_power_of_two());
    let mut runs = Vec::new();
    let mut probes = 0u64;
    let mut salt = 0x9e37_79b9u32;
    for _ in 0..RUNS {
        probes = 0;
        let start = Instant::now();
        // Cycling with a power-of-two mask keeps a division out of the loop.
        for i in 0..LOOKUPS {
            let (key, hash) = &keys[i & (keys.len() - 1)];
            let pkt_hash = if fresh_hashes {
                salt = salt.wrapping_mul(0x0019_660d).wrapping_add(0x3c6e_f35f);
                salt | 1
            } else {
                *hash
            };
            let (flow, stats) = t.lookup(black_box(key), black_box(pkt_hash));
            // What a datapath reads next: the actions.
            black_box(*flow.expect("every packet has a flow").actions());
            probes += u64::from(stats.n_mask_hit);
        }
        runs.push(start.elapsed().as_nanos() as f64 / LOOKUPS as f64);
    }
    runs.sort_by(f64::total_cmp);
    (runs[RUNS / 2], probes as f64 / LOOKUPS as f64)
}

/// Mask `i` of many distinct ones: prefixes of both IPv4 addresses and of
/// the TCP destination port.
fn distinct_mask(i: usize) -> FlowKey {
    FlowKey {
        in_port: u32::MAX,
        eth_type: 0xffff,
        ipv4_src: u32::MAX << (i % 32),
        ipv4_dst: u32::MAX << (i / 32 % 32),
        tp_dst: 0xffff << (i / 1024 % 16),
        ..Default::default()
    }
}

/// µs per install of one flow under each of `n` new masks, and ns per
/// miss (cache bypassed: every mask is probed).
fn many_masks(n: usize) -> (f64, f64) {
    let mut t: FlowTable<u32> = FlowTable::new();
    t.set_mask_limit(n);
    let start = Instant::now();
    for i in 0..n {
        let key = FlowKey {
            in_port: 1,
            eth_type: 0x0800,
            ipv4_src: 0x0a00_0001,
            ipv4_dst: 0x0a00_0002,
            tp_dst: 80,
            ..Default::default()
        };
        t.insert(&key, &distinct_mask(i), None, i as u32)
            .expect("insert");
    }
    let install_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    assert_eq!(t.n_masks(), n);
    let miss = FlowKey {
        in_port: 2,
        eth_type: 0x0800,
        ..Default::default()
    };
    let lookups = (2_000_000 / n).max(20);
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        for _ in 0..lookups {
            assert!(t.lookup(black_box(&miss), black_box(0)).0.is_none());
        }
        runs.push(start.elapsed().as_nanos() as f64 / lookups as f64);
    }
    runs.sort_by(f64::total_cmp);
    (install_us, runs[RUNS / 2])
}

fn main() {
    println!("megaflow lookup, ns per lookup (median of {RUNS} runs of {LOOKUPS})");
    println!("hashes cached: hot = {HOT_SET} packets, warm = {WARM_SET} packets");
    println!("cold: new hash each lookup, packets of {COLD_SET} random flows");
    println!();
    println!(
        "{:>5} {:>7} | {:>6} | {:>7} {:>6} | {:>7} {:>6} | {:>10}",
        "masks", "flows", "hot ns", "warm ns", "probes", "cold ns", "probes", "bytes/flow"
    );
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for n_masks in [1, 8, 32] {
        for n_flows in [1_000, 100_000] {
            let mut t = build(n_masks, n_flows);
            let mut packets = |n: usize, hashed: bool| -> Vec<(FlowKey, u32)> {
                (0..n)
                    .map(|_| {
                        let key = packet(rng.below(n_flows), n_masks, &mut rng);
                        (key, if hashed { rng.next() as u32 | 1 } else { 0 })
                    })
                    .collect()
            };
            let hot = packets(HOT_SET, true);
            let warm = packets(WARM_SET, true);
            let cold = packets(COLD_SET, false);
            // Fill the cache, then order the masks as a running datapath would.
            measure(&t, &hot, false);
            measure(&t, &warm, false);
            t.rebalance();
            let (hot_ns, _) = measure(&t, &hot, false);
            let (warm_ns, warm_probes) = measure(&t, &warm, false);
            let (cold_ns, cold_probes) = measure(&t, &cold, true);
            println!(
                "{:>5} {:>7} | {:>6.1} | {:>7.1} {:>6.2} | {:>7.1} {:>6.2} | {:>10}",
                n_masks,
                n_flows,
                hot_ns,
                warm_ns,
                warm_probes,
                cold_ns,
                cold_probes,
                t.footprint() / n_flows
            );
        }
    }
    println!();
    println!("many masks, one flow each: install cost and miss cost");
    println!("{:>5} | {:>10} | {:>10}", "masks", "install µs", "miss ns");
    for n in [10, 100, 1_000, 4_096] {
        let (install_us, miss_ns) = many_masks(n);
        println!("{n:>5} | {install_us:>10.2} | {miss_ns:>10.0}");
    }
}
