//! Meters through the control device and the switch: the meter family as
//! ovs-vswitchd's `dpif_netlink_meter_*` and its `probe_broken_meters`
//! drive it, errnos as Linux's `meter.c` gives them, and the METER action
//! on a packet train in simulated time.

mod common;

use common::*;

const METER: u16 = 0x19;

const FEATURES: u8 = 1;
const SET: u8 = 2;
const DEL: u8 = 3;
const GET: u8 = 4;

const ATTR_ID: u16 = 1;
const ATTR_KBPS: u16 = 2;
const ATTR_STATS: u16 = 3;
const ATTR_BANDS: u16 = 4;
const ATTR_USED: u16 = 5;
const ATTR_CLEAR: u16 = 6;
const ATTR_MAX_METERS: u16 = 7;
const ATTR_MAX_BANDS: u16 = 8;
const BAND_TYPE: u16 = 1;
const BAND_RATE: u16 = 2;
const BAND_BURST: u16 = 3;
const BAND_STATS: u16 = 4;
const DROP: u32 = 1;

const ENOENT: i32 = -2;
const ENODEV: i32 = -19;
const EINVAL: i32 = -22;
const EFBIG: i32 = -27;
const ERANGE: i32 = -34;

const DPID: u32 = 1;

/// A request as `dpif_netlink_meter_init` starts it.
fn meter_req(cmd: u8, seq: u32) -> Req {
    Req::new(METER, cmd, 1, seq, DPID).flags(0x1 | 0x8)
}

fn band(ty: u32, rate: u32, burst: u32) -> Vec<u8> {
    attr(
        0,
        &[
            attr(BAND_TYPE, &ty.to_ne_bytes()),
            attr(BAND_RATE, &rate.to_ne_bytes()),
            attr(BAND_BURST, &burst.to_ne_bytes()),
        ]
        .concat(),
    )
}

/// `dpif_netlink_meter_set`'s request.
fn set_req(seq: u32, id: u32, kbps: bool, bands: &[Vec<u8>]) -> Req {
    let mut r = meter_req(SET, seq).u32(ATTR_ID, id);
    if kbps {
        r = r.raw(ATTR_KBPS, &[]);
    }
    r.raw(ATTR_BANDS, &bands.concat())
}

fn transact(sim: &mut Sim, r: &Req) -> String {
    one(sim, &ioctl(1, "TRANSACT", r))
}

fn stats(p: &[u8]) -> (u64, u64) {
    assert_eq!(p.len(), 16);
    (
        u64::from_ne_bytes(p[..8].try_into().unwrap()),
        u64::from_ne_bytes(p[8..].try_into().unwrap()),
    )
}

/// A meter's counters in a GET or DEL reply: its own and each band's.
fn counters(attrs: &[(u16, Vec<u8>)]) -> ((u64, u64), Vec<(u64, u64)>) {
    let bands = nested(get(attrs, ATTR_BANDS))
        .iter()
        .map(|(t, b)| {
            assert_eq!(*t, 0);
            let b = nested(b);
            assert_eq!(b.len(), 1);
            stats(get(&b, BAND_STATS))
        })
        .collect();
    (stats(get(attrs, ATTR_STATS)), bands)
}

fn meter_get(sim: &mut Sim, seq: u32, id: u32) -> ((u64, u64), Vec<(u64, u64)>) {
    let (hdr, a) = reply(&transact(sim, &meter_req(GET, seq).u32(ATTR_ID, id)));
    assert_eq!((hdr.ty, hdr.cmd, hdr.seq), (METER, GET, seq));
    let types: Vec<u16> = a.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [ATTR_ID, ATTR_STATS, ATTR_USED, ATTR_BANDS]);
    assert_eq!(u32_of(get(&a, ATTR_ID)), id);
    counters(&a)
}

#[test]
fn features_are_linuxs_with_more_bands() {
    let mut sim = two_vms();
    let (hdr, a) = reply(&transact(&mut sim, &meter_req(FEATURES, 5)));
    assert_eq!(
        (hdr.ty, hdr.flags, hdr.seq, hdr.pid, hdr.cmd, hdr.version),
        (METER, 0, 5, DPID, FEATURES, 1)
    );
    assert_eq!(u32_of(get(&a, ATTR_MAX_METERS)), 4096);
    assert_eq!(u32_of(get(&a, ATTR_MAX_BANDS)), 8);
    assert_eq!(
        get(&a, ATTR_BANDS),
        attr(0, &attr(BAND_TYPE, &DROP.to_ne_bytes()))
    );
    // Linux answers a datapath it does not have with ENODEV.
    let r = meter_req(FEATURES, 6).dp(3);
    assert_eq!(errno(&transact(&mut sim, &r), &r), ENODEV);
}

/// ofproto-dpif's `probe_broken_meters`: two kbps meters with far-apart
/// ids must both read back, then they are deleted.
#[test]
fn the_broken_meters_probe_finds_meters_working() {
    let mut sim = two_vms();
    let (id1, id2) = (54_545_401, 54_545_402);
    for (seq, id) in [(1, id1), (2, id2)] {
        let (hdr, a) = reply(&transact(
            &mut sim,
            &set_req(seq, id, true, &[band(DROP, 1, 1)]),
        ));
        assert_eq!((hdr.cmd, hdr.seq), (SET, seq));
        assert_eq!(a, [(ATTR_ID, id.to_ne_bytes().to_vec())]);
    }
    for (seq, id) in [(3, id1), (4, id2)] {
        assert_eq!(meter_get(&mut sim, seq, id), ((0, 0), vec![(0, 0)]));
    }
    for (seq, id) in [(5, id1), (6, id2)] {
        let (hdr, a) = reply(&transact(&mut sim, &meter_req(DEL, seq).u32(ATTR_ID, id)));
        assert_eq!(hdr.cmd, DEL);
        assert_eq!(counters(&a), ((0, 0), vec![(0, 0)]));
    }
    // Deleting what is not there answers with no attributes.
    let (_, a) = reply(&transact(&mut sim, &meter_req(DEL, 7).u32(ATTR_ID, id1)));
    assert!(a.is_empty());
    let r = meter_req(GET, 8).u32(ATTR_ID, id1);
    assert_eq!(errno(&transact(&mut sim, &r), &r), ENOENT);
}

#[test]
fn bad_requests_get_linuxs_errno_and_change_nothing() {
    let mut sim = two_vms();
    reply(&transact(
        &mut sim,
        &set_req(1, 9, false, &[band(DROP, 5, 5)]),
    ));
    let nine = (0..9).map(|_| band(DROP, 1, 1)).collect::<Vec<_>>();
    let no_burst = attr(
        0,
        &[
            attr(BAND_TYPE, &DROP.to_ne_bytes()),
            attr(BAND_RATE, &1u32.to_ne_bytes()),
        ]
        .concat(),
    );
    let cases = [
        (meter_req(SET, 2).raw(ATTR_BANDS, &band(DROP, 1, 1)), EINVAL),
        (meter_req(SET, 3).u32(ATTR_ID, 9), EINVAL),
        (set_req(4, 9, false, &nine), EINVAL),
        (set_req(5, 9, false, &[band(DROP, 0, 1)]), EINVAL),
        (set_req(6, 9, false, &[no_burst]), EINVAL),
        (meter_req(SET, 7).raw(ATTR_ID, &[9, 0]), ERANGE),
        (
            set_req(8, 9, false, &[band(DROP, 1, 1)]).u8(ATTR_KBPS, 1),
            ERANGE,
        ),
        (set_req(9, 9, false, &[]).raw(ATTR_STATS, &[0; 8]), ERANGE),
        (
            set_req(10, 9, false, &[attr(0, &attr(BAND_RATE, &[1, 0]))]),
            ERANGE,
        ),
        (set_req(11, 9, false, &[band(DROP, 1, 1)]).dp(1), ENODEV),
        (meter_req(GET, 12), EINVAL),
        (meter_req(GET, 13).u32(ATTR_ID, 10), ENOENT),
        (meter_req(GET, 14).u32(ATTR_ID, 9).dp(2), ENODEV),
        (meter_req(DEL, 15), EINVAL),
        (meter_req(DEL, 16).u32(ATTR_ID, 9).dp(2), ENODEV),
    ];
    for (r, want) in &cases {
        assert_eq!(errno(&transact(&mut sim, r), r), *want, "{r:?}");
    }
    // The meter is as it was set: one band, untouched counters.
    assert_eq!(meter_get(&mut sim, 20, 9), ((0, 0), vec![(0, 0)]));
    // A band type Linux does not know is kept, as Linux keeps it (it counts
    // the packets it applies to and drops none).
    reply(&transact(
        &mut sim,
        &set_req(21, 12, false, &[band(7, 1, 1)]),
    ));
    assert_eq!(meter_get(&mut sim, 22, 12), ((0, 0), vec![(0, 0)]));
}

#[test]
fn replacing_reports_the_old_counters_unless_cleared() {
    let mut sim = two_vms();
    let initial = [7u64.to_ne_bytes(), 700u64.to_ne_bytes()].concat();
    let r = set_req(1, 3, false, &[band(DROP, 1, 1), band(DROP, 2, 2)]).raw(ATTR_STATS, &initial);
    let (_, a) = reply(&transact(&mut sim, &r));
    assert_eq!(a.len(), 1, "a new meter: only its id");
    assert_eq!(meter_get(&mut sim, 2, 3), ((7, 700), vec![(0, 0), (0, 0)]));
    // Replaced: the reply names the id, then the old meter's counters.
    let r = set_req(3, 3, true, &[band(DROP, 10, 10)]).raw(ATTR_CLEAR, &[]);
    let (_, a) = reply(&transact(&mut sim, &r));
    let types: Vec<u16> = a.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [ATTR_ID, ATTR_ID, ATTR_STATS, ATTR_USED, ATTR_BANDS]);
    assert_eq!(counters(&a), ((7, 700), vec![(0, 0), (0, 0)]));
    // The new one was set with CLEAR: replacing it reports nothing.
    let (_, a) = reply(&transact(
        &mut sim,
        &set_req(4, 3, false, &[band(DROP, 1, 1)]),
    ));
    assert_eq!(a.len(), 1);
}

/// The flow: packets from vm1 are metered by `meter`, then go to vm2.
fn metered_flow(sim: &mut Sim, meter: u32) {
    let (key, mask) = ovsext::flow::text::parse_flow(
        "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
    )
    .unwrap();
    let actions = [attr(19, &meter.to_ne_bytes()), attr(1, &2u32.to_ne_bytes())].concat();
    reply(&flow_put(sim, 100, &key, &mask, &actions));
}

const FRAME: &str =
    "00155d00000200155d0000010800450000200001000040116ac70a0000010a00000203e800350008000000000000";

/// 1000 packets, one per ms, through a meter of three packet-rate bands:
/// 100/s with a burst of 10, 500/s with a burst of 5, 1000/s with a burst
/// of 1.
/// - The 100/s band holds packets 0–10 (10 tokens, 0.1 more each ms), then
///   one every 10 ms from 20 to 990: 109.
/// - The 500/s band holds packets 0–8, then every even ms from 10: 504.
/// - The 1000/s band holds every packet.
///
/// Of the 496 packets the 500/s band refuses, it is the highest exceeded
/// rate: its counters count them. Of the 504 it holds, the 100/s band holds
/// 108 (all but packet 9): those pass; the 396 others count against it.
#[test]
fn three_bands_on_a_packet_train() {
    let mut sim = two_vms();
    let bands = [band(DROP, 100, 10), band(DROP, 500, 5), band(DROP, 1000, 1)];
    reply(&transact(&mut sim, &set_req(1, 1, false, &bands)));
    metered_flow(&mut sim, 1);
    let mut passed = 0;
    for _ in 0..1000 {
        let out = sim.run(&format!("rx 1 {FRAME}\ntick 1\n"));
        passed += out.iter().filter(|l| l.starts_with("tx 2 ")).count();
    }
    assert_eq!(passed, 108);
    let len = FRAME.len() as u64 / 2;
    assert_eq!(
        meter_get(&mut sim, 2, 1),
        (
            (1000, 1000 * len),
            vec![(396, 396 * len), (496, 496 * len), (0, 0)]
        )
    );
    // DEL answers the final counters; the flow then meets no meter.
    let (_, a) = reply(&transact(&mut sim, &meter_req(DEL, 3).u32(ATTR_ID, 1)));
    assert_eq!(counters(&a).0, (1000, 1000 * len));
    let out = sim.run(&format!("rx 1 {FRAME}\n"));
    assert_eq!(out.len(), 1, "a missing meter drops nothing: {out:?}");
}

#[test]
fn kbps_meters_count_bits() {
    let mut sim = two_vms();
    // 8 kb/s with a burst of 8 kb: 1000 bytes at once, then 1 byte per ms.
    reply(&transact(
        &mut sim,
        &set_req(1, 2, true, &[band(DROP, 8, 8)]),
    ));
    metered_flow(&mut sim, 2);
    let len = FRAME.len() / 2; // 46 bytes
    let burst: usize = (0..100)
        .map(|_| sim.run(&format!("rx 1 {FRAME}\n")).len())
        .sum();
    assert_eq!(burst, 1000 / len);
    // Another frame fits after len ms, not before.
    let before = sim.run(&format!("tick {}\nrx 1 {FRAME}\n", len - 1 - 1000 % len));
    assert!(before.is_empty(), "{before:?}");
    let after = sim.run(&format!("tick 1\nrx 1 {FRAME}\n"));
    assert_eq!(after.len(), 1);
}

#[test]
fn dump_lists_every_meter_and_detach_frees_them() {
    let mut sim = two_vms();
    let ids = [0u32, 17, 54_545_401];
    for (seq, id) in ids.iter().enumerate() {
        reply(&transact(
            &mut sim,
            &set_req(seq as u32, *id, false, &[band(DROP, 1, 1)]),
        ));
    }
    let dump = meter_req(GET, 10).flags(0x1 | 0x300);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &dump)),
        "ioctl 1 WRITE SUCCESS -"
    );
    let mut seen = Vec::new();
    loop {
        let line = one(&mut sim, "ioctl 1 READ -");
        let (_, bytes) = result(&line);
        if bytes.is_empty() {
            break;
        }
        let (hdr, a) = reply(&line);
        assert_eq!((hdr.ty, hdr.flags, hdr.seq, hdr.cmd), (METER, 2, 10, GET));
        seen.push(u32_of(get(&a, ATTR_ID)));
        assert_eq!(counters(&a), ((0, 0), vec![(0, 0)]));
    }
    seen.sort();
    assert_eq!(seen, ids);
    assert_eq!(
        sim.device().with_datapath(|dp| dp.meters.read().len()),
        Some(3)
    );
    // The switch detaches and comes back: no meter survives.
    sim.run("switch down\nswitch up\nport 1 vm vm1\n");
    let r = meter_req(GET, 11).u32(ATTR_ID, 17);
    assert_eq!(errno(&transact(&mut sim, &r), &r), ENOENT);
}

#[test]
fn the_table_is_bounded() {
    let mut sim = two_vms();
    for id in 0..4096u32 {
        reply(&transact(
            &mut sim,
            &set_req(id, id * 3, false, &[band(DROP, 1, 1)]),
        ));
    }
    let r = set_req(5000, 1, false, &[band(DROP, 1, 1)]);
    assert_eq!(errno(&transact(&mut sim, &r), &r), EFBIG);
    // Replacing a meter still works when the table is full.
    reply(&transact(
        &mut sim,
        &set_req(5001, 3, false, &[band(DROP, 1, 1)]),
    ));
}
