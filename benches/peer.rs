//! The datapath side by side with Open vSwitch's own code on the shared
//! workload (`../shared/tools/perfpeer`): the same frames file, the same
//! table (masks, rules from frames, filler, lookup order) built through the
//! table's own API, the same command line and the same output lines as the
//! peer, so one script can run both interleaved.
//!
//!   cargo bench --bench peer -- extract FILE ITER
//!   cargo bench --bench peer -- lookup  FILE ITER MASKS RULES
//!   cargo bench --bench peer -- receive FILE ITER MASKS RULES
//!
//! `extract` times `extract` per frame; `lookup` the table's batched lookup
//! of each 32-frame burst (as `dpcls_lookup`) with the mask cache bypassed,
//! alone (keys extracted untimed) and with extraction; `receive` the full
//! receive path as the driver runs it (32-frame chains, mask cache,
//! statistics, one output action). Each
//! figure is the median of 5 repetitions of ITER passes after a warm-up
//! pass, in ns per frame; the repetitions go to stderr as `# ` lines.
//! Without arguments a small default runs on frames made by `frames.py`.

#[path = "common/bed.rs"]
mod bed;
mod common;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hint::black_box;
use std::time::Instant;

use bed::{Bed, Sent};
use common::Frame;
use ovsext::datapath::FlowActions;
use ovsext::datapath::receive::{Effects, RxContext};
use ovsext::flow::FlowKey;
use ovsext::flow::extract::extract;
use ovsext::flow::key::{KEY_WORDS, VLAN_TAG_PRESENT};
use ovsext::flow::table::{FlowId, FlowTable, LookupStats, Ufid};
use ovsext::pend::Wakeups;
use ovsext::percpu::Cpu;
use ovsext::platform::time::Now;

const REPS: usize = 5;
/// Frames per lookup burst and per receive chain (`NETDEV_MAX_BURST`, an
/// NBL chain's worth).
const BURST: usize = 32;
/// Mask combinations: eth (3) × ip_src (4) × ip_dst (4) × l4 (4).
const N_COMBOS: usize = 192;
/// Filler rules enter on ports from here, which no frame uses.
const FILLER_PORT_BASE: u32 = 1000;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;

/// Frames, each in its own allocation (as the peer's `dp_packet`s), and
/// the port each enters on: 1 + the VM index in its source MAC.
struct Workload {
    frames: Vec<&'static [u8]>,
    ports: Vec<u32>,
}

fn load(path: &str) -> Workload {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut w = Workload {
        frames: Vec::new(),
        ports: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bytes: Vec<u8> = (0..line.len() / 2)
            .map(|i| u8::from_str_radix(&line[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1));
        assert!(
            line.len() % 2 == 0 && bytes.len() >= 14,
            "{path}:{}: bad frame",
            n + 1
        );
        w.ports.push(1 + u32::from(bytes[11]));
        w.frames.push(Box::leak(bytes.into_boxed_slice()));
    }
    assert!(!w.frames.is_empty(), "{path}: no frames");
    w
}

/// The peer's generator of filler rules (splitmix64, same seed).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn prefix(bits: u32) -> u32 {
    u32::MAX.checked_shl(32 - bits).unwrap_or(0)
}

/// Mask `idx`: the fields every megaflow matches (recirc_id, in_port,
/// packet type, Ethertype, fragment type, outer VLAN TCI), then
/// combination `(189 + 41 idx) % 192` of eth, ip_src, ip_dst and l4.
fn make_mask(idx: usize) -> FlowKey {
    let c = (189 + 41 * idx) % N_COMBOS;
    let (e, s, d, l) = (c % 3, (c / 3) % 4, (c / 12) % 4, c / 48);
    let v4 = [0, 16, 24, 32];
    let mut m = FlowKey {
        recirc_id: u32::MAX,
        in_port: u32::MAX,
        mac_proto: 0xff,
        eth_type: 0xffff,
        ip_frag: 0xff,
        vlan_tci: 0xffff,
        ipv4_src: prefix(v4[s]),
        ipv4_dst: prefix(v4[d]),
        ..Default::default()
    };
    if e >= 1 {
        m.eth_dst = [0xff; 6];
    }
    if e == 2 {
        m.eth_src = [0xff; 6];
    }
    if l >= 1 {
        m.ip_proto = 0xff;
    }
    if l >= 2 {
        m.tp_dst = 0xffff;
    }
    if l >= 3 {
        m.tp_src = 0xffff;
    }
    m
}

/// The key the receive path extracts from frame `i`.
fn frame_key(w: &Workload, i: usize) -> FlowKey {
    let mut k = FlowKey::default();
    k.reset_metadata(w.ports[i]);
    extract(w.frames[i], None, &mut k).expect("frames.py frames are well formed");
    k
}

/// A frame's flow with its port, MACs, VLAN ID, IPv4 addresses and L4 ports
/// drawn at random, as the peer draws them (its big-endian fields hold the
/// random bits as stored in memory).
fn randomize(f: &mut FlowKey, rng: &mut SplitMix) {
    f.in_port = FILLER_PORT_BASE + (rng.next() % 1_000_000) as u32;
    for mac in [&mut f.eth_src, &mut f.eth_dst] {
        mac.copy_from_slice(&rng.next().to_le_bytes()[..6]);
        mac[0] &= 0xfe;
    }
    if f.vlan_tci & VLAN_TAG_PRESENT != 0 {
        f.vlan_tci = VLAN_TAG_PRESENT | (rng.next() % 4094 + 1) as u16;
    }
    if f.eth_type == ETH_P_IP || f.eth_type == ETH_P_ARP {
        f.ipv4_src = u32::from_be(rng.next() as u32);
        f.ipv4_dst = u32::from_be(rng.next() as u32);
    }
    if f.ip_proto == 6 || f.ip_proto == 17 {
        let r = rng.next();
        f.tp_src = u16::from_be(r as u16);
        f.tp_dst = u16::from_be((r >> 16) as u16);
    }
}

/// The peer's table: masked rules with their mask, the rule each frame must
/// hit, and how many rules came from frames.
struct Rules {
    masks: Vec<FlowKey>,
    rules: Vec<(FlowKey, usize)>,
    expected: Vec<usize>,
    from_frames: usize,
}

fn build_rules(w: &Workload, n_masks: usize, n_rules: usize) -> Rules {
    assert!(
        (1..=N_COMBOS).contains(&n_masks),
        "MASKS must be in 1..=192"
    );
    let masks: Vec<FlowKey> = (0..n_masks).map(make_mask).collect();
    let mut seen: HashMap<(usize, [u64; KEY_WORDS]), usize> = HashMap::new();
    let mut rules = Vec::new();
    let flows: Vec<FlowKey> = (0..w.frames.len()).map(|i| frame_key(w, i)).collect();
    let mut expected = Vec::with_capacity(flows.len());
    for (f, port) in flows.iter().zip(&w.ports) {
        let m = (*port as usize - 1) % n_masks;
        let masked = f.masked(&masks[m]);
        let next = rules.len();
        let r = *seen.entry((m, *masked.words())).or_insert(next);
        if r == next {
            rules.push((masked, m));
        }
        expected.push(r);
    }
    let from_frames = rules.len();
    let (mut rng, mut k, mut tries) = (SplitMix(0x9e37_79b9_7f4a_7c15), 0, 0);
    while rules.len() < n_rules {
        let m = k % n_masks;
        let mut f = flows[(k * 7919) % flows.len()];
        randomize(&mut f, &mut rng);
        let masked = f.masked(&masks[m]);
        match seen.entry((m, *masked.words())) {
            Entry::Occupied(_) => {
                tries += 1;
                assert!(tries <= 100 * n_rules, "not enough distinct filler rules");
            }
            Entry::Vacant(v) => {
                v.insert(rules.len());
                rules.push((masked, m));
                k += 1;
            }
        }
    }
    let probes: usize = w
        .ports
        .iter()
        .map(|p| (*p as usize - 1) % n_masks + 1)
        .sum();
    eprintln!(
        "# frames {}  masks {n_masks}  rules {} (from frames {from_frames}, filler {})  mean masks probed {:.2}",
        w.frames.len(),
        rules.len(),
        rules.len() - from_frames,
        probes as f64 / w.frames.len() as f64
    );
    Rules {
        masks,
        rules,
        expected,
        from_frames,
    }
}

/// Installs the rules, each with one output action, so that the table
/// creates its masks in mask order (its lookup order): the first rule of
/// each mask goes first. Returns each rule's flow.
fn install(t: &mut FlowTable<FlowActions>, r: &Rules, n_ports: u32) -> Vec<FlowId> {
    let mut ids = vec![None; r.rules.len()];
    let firsts = (0..r.masks.len()).filter_map(|m| r.rules.iter().position(|x| x.1 == m));
    let order: Vec<usize> = firsts.chain(0..r.rules.len()).collect();
    for i in order {
        if ids[i].is_some() {
            continue;
        }
        let (key, m) = &r.rules[i];
        let out = 1 + i as u32 % n_ports;
        let actions = FlowActions::copy(&ovsext::sim::msg::attr(1, &out.to_ne_bytes()))
            .expect("one output action");
        // Named by a UFID, as ovs-vswitchd names its flows.
        let ufid = Ufid::new(&(i as u128).to_ne_bytes());
        ids[i] = Some(t.insert(key, &r.masks[*m], ufid, actions).expect("insert"));
    }
    assert_eq!(t.n_masks(), r.masks.len(), "one table mask per peer mask");
    eprintln!(
        "# table: {} flows, {} masks, {} bytes charged ({:.0} per flow), {} bytes held",
        t.len(),
        t.n_masks(),
        t.memory(),
        t.memory() as f64 / t.len() as f64,
        t.footprint()
    );
    ids.into_iter().map(|id| id.expect("installed")).collect()
}

/// Runs `pass` (ITER passes over the frames, returning the ns it measured)
/// once to warm up, then `REPS` times; prints the repetitions and returns
/// the median in ns per frame.
fn median(name: &str, frames: usize, iter: usize, mut pass: impl FnMut(usize) -> f64) -> f64 {
    pass(1);
    let mut ns: Vec<f64> = (0..REPS)
        .map(|_| pass(iter) / (iter * frames) as f64)
        .collect();
    let shown: Vec<String> = ns.iter().map(|v| format!("{v:.3}")).collect();
    ns.sort_by(f64::total_cmp);
    eprintln!(
        "# {name} reps: {}  (min {:.3} max {:.3})",
        shown.join(" "),
        ns[0],
        ns[REPS - 1]
    );
    ns[REPS / 2]
}

fn cmd_extract(w: &Workload, iter: usize) {
    let mut keys = vec![FlowKey::default(); BURST];
    let ns = median("extract", w.frames.len(), iter, |n| {
        let t = Instant::now();
        for _ in 0..n {
            for (i, (f, port)) in w.frames.iter().zip(&w.ports).enumerate() {
                let k = &mut keys[i % BURST];
                k.reset_metadata(*port);
                black_box(extract(f, None, k)).ok();
            }
        }
        t.elapsed().as_nanos() as f64
    });
    black_box(&keys);
    println!("extract_ns_per_pkt {ns:.3}");
}

fn cmd_lookup(w: &Workload, iter: usize, n_masks: usize, n_rules: usize) {
    let r = build_rules(w, n_masks, n_rules);
    let mut t = FlowTable::new();
    let ids = install(&mut t, &r, 64);
    let expected: Vec<FlowId> = r.expected.iter().map(|&i| ids[i]).collect();
    let (mut hits, mut total) = (0u64, 0u64);
    let mut keys = vec![FlowKey::default(); BURST];
    let n = w.frames.len();
    // Like dpcls_lookup: per burst, the keys are extracted, then looked up
    // together, the mask cache bypassed (packet hashes 0). Returns the ns
    // of the lookups alone, or of the whole passes.
    let mut passes = |passes: usize, whole: bool| {
        let (mut lookups, start_all) = (0u128, Instant::now());
        for _ in 0..passes {
            for start in (0..n).step_by(BURST) {
                let end = (start + BURST).min(n);
                for (i, k) in (start..end).zip(keys.iter_mut()) {
                    k.reset_metadata(w.ports[i]);
                    extract(w.frames[i], None, k).ok();
                }
                let t0 = Instant::now();
                let mut out = [(None, LookupStats::default()); BURST];
                t.lookup_batch(&keys[..end - start], &[0; BURST], &mut out);
                let ids = out.iter().map(|(f, _)| f.map(|f| f.id()));
                let ok = ids
                    .zip(&expected[start..end])
                    .filter(|(f, e)| *f == Some(**e));
                hits += ok.count() as u64;
                if !whole {
                    lookups += t0.elapsed().as_nanos();
                }
            }
            total += n as u64;
        }
        match whole {
            true => start_all.elapsed().as_nanos() as f64,
            false => lookups as f64,
        }
    };
    let lookup = median("lookup", n, iter, |p| passes(p, false));
    let extract_lookup = median("extract_lookup", n, iter, |p| passes(p, true));
    println!("lookup_ns_per_pkt {lookup:.3}");
    println!("extract_lookup_ns_per_pkt {extract_lookup:.3}");
    println!("hit_rate {:.6}", hits as f64 / total as f64);
}

fn cmd_receive(w: &Workload, iter: usize, n_masks: usize, n_rules: usize) {
    let r = build_rules(w, n_masks, n_rules);
    let n_ports = w.ports.iter().copied().max().unwrap_or(1);
    let bed = Bed::new(n_ports as usize);
    bed.dev
        .with_datapath(|dp| install(&mut dp.flows.write(), &r, n_ports))
        .expect("a datapath");
    let mut ctx = RxContext::<Frame>::try_new(Cpu::Pinned(0), 7).expect("memory");
    let (mut sent, mut wake) = (Sent::default(), Wakeups::new());
    let n = w.frames.len();
    let frames: Vec<((u32, u16), Frame)> = (0..n)
        .map(|i| ((w.ports[i], 0), Frame(w.frames[i])))
        .collect();
    let totals = || bed.dev.with_datapath(|dp| dp.totals()).expect("a datapath");
    let mut before = None;
    let receive = median("receive", n, iter, |passes| {
        // The warm-up pass is not counted in the hit rate.
        if passes > 1 && before.is_none() {
            before = Some(totals());
        }
        let t0 = Instant::now();
        bed.dev.with_datapath(|dp| {
            let mut fx = Effects {
                egress: &mut sent,
                wake: &mut wake,
            };
            for _ in 0..passes {
                for chain in frames.chunks(BURST) {
                    dp.receive_batch(&mut ctx, chain.iter().copied(), Now::from_ms(1), &mut fx);
                }
            }
        });
        t0.elapsed().as_nanos() as f64
    });
    let (b, a) = (before.unwrap_or_else(totals), totals());
    let (hit, missed) = (a.n_hit - b.n_hit, a.n_missed - b.n_missed);
    black_box(sent.0);
    eprintln!(
        "# rules from frames {}; cache hits {:.1} %, masks probed per frame {:.2}",
        r.from_frames,
        100.0 * (a.n_cache_hit - b.n_cache_hit) as f64 / hit.max(1) as f64,
        (a.n_mask_hit - b.n_mask_hit) as f64 / (hit + missed).max(1) as f64
    );
    println!("receive_ns_per_pkt {receive:.3}");
    println!("hit_rate {:.6}", hit as f64 / (hit + missed).max(1) as f64);
}

fn arg(args: &[String], i: usize, what: &str) -> usize {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{what} missing or not a number"))
}

fn run(args: &[String]) {
    let file = args.get(1).expect("FILE missing");
    let w = load(file);
    let iter = arg(args, 2, "ITER");
    match args[0].as_str() {
        "extract" => cmd_extract(&w, iter),
        "lookup" => cmd_lookup(&w, iter, arg(args, 3, "MASKS"), arg(args, 4, "RULES")),
        "receive" => cmd_receive(&w, iter, arg(args, 3, "MASKS"), arg(args, 4, "RULES")),
        cmd => panic!("unknown command {cmd}: extract | lookup | receive"),
    }
}

/// A small run on 10k frames of 1,000 flows made by `frames.py`.
fn default_run() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/tools/perfpeer/frames.py"
    );
    let file = std::env::temp_dir().join(format!("ovsext-peer-{}.hex", std::process::id()));
    let made = std::process::Command::new("python3")
        .args([
            script, "--n", "10000", "--flows", "1000", "--seed", "1", "-o",
        ])
        .arg(&file)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        println!(
            "peer: {script} could not make a frames file; give one: extract FILE ITER | lookup FILE ITER MASKS RULES | receive FILE ITER MASKS RULES"
        );
        return;
    }
    let file = file.to_string_lossy().into_owned();
    for cmd in [
        vec!["extract", &file, "20"],
        vec!["lookup", &file, "5", "8", "1000"],
        vec!["receive", &file, "5", "8", "1000"],
    ] {
        println!("# {}", cmd.join(" "));
        run(&cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    std::fs::remove_file(&file).ok();
}

fn main() {
    // `cargo bench` passes `--bench`; the command follows it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.is_empty() {
        true => default_run(),
        false => run(&args),
    }
}
