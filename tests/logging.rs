//! The driver's log records, caught by a test logger while the simulator
//! drives the datapath as ovs-vswitchd and the switch would: a refused
//! request says which family, command, errno and attribute; vports say
//! which Hyper-V NIC they bound to or why none; drops say why; records that
//! can come per request or per packet are rate-limited.
//! (One test: the logger and the rate limits are process-wide.)

mod common;

use std::sync::Mutex;

use common::{Req, Sim, run};
use log::{LevelFilter, Log, Metadata, Record};
use ovsext::ovs::{dp, family as fam, vport};

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Catch;

impl Log for Catch {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        RECORDS
            .lock()
            .unwrap()
            .push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

static CATCH: Catch = Catch;

/// The records logged since the last call.
fn taken() -> Vec<String> {
    std::mem::take(&mut *RECORDS.lock().unwrap())
}

fn has(records: &[String], words: &str) -> bool {
    records.iter().any(|r| r.contains(words))
}

fn expect(records: &[String], words: &str) {
    assert!(has(records, words), "no record has {words:?}: {records:?}");
}

fn transact(req: &Req) -> String {
    format!("ioctl 1 TRANSACT {}", req.hex())
}

#[test]
fn operator_events_are_logged() {
    log::set_logger(&CATCH).unwrap();
    log::set_max_level(LevelFilter::Trace);
    let mut sim = Sim::new();
    run(
        &mut sim,
        &[
            "switch up",
            "port 1 external Ethernet0",
            "port 3 vm vm1",
            "open 1",
        ]
        .map(String::from),
    );
    let r = taken();
    expect(&r, "INFO switch attached: datapath ovs-system");
    expect(&r, "Hyper-V port 3 nic 0 \"vm1\" created");
    expect(
        &r,
        "Hyper-V port 3 nic 0 \"vm1\" connected; no vport has its name",
    );

    // A feature userspace probes for and this datapath lacks.
    let set = Req::new(fam::DATAPATH, dp::CMD_SET, 2, 5, 1)
        .str(dp::ATTR_NAME, dp::NAME)
        .u32(
            dp::ATTR_USER_FEATURES,
            dp::F_UNALIGNED | dp::F_DISPATCH_UPCALL_PER_CPU,
        );
    run(&mut sim, &[transact(&set)]);
    let r = taken();
    expect(
        &r,
        "user features UNALIGNED|DISPATCH_UPCALL_PER_CPU refused",
    );
    expect(&r, "refused ovs_datapath SET from pid 1: EOPNOTSUPP");
    let set = Req::new(fam::DATAPATH, dp::CMD_SET, 2, 6, 1)
        .str(dp::ATTR_NAME, dp::NAME)
        .u32(dp::ATTR_USER_FEATURES, dp::F_UNALIGNED | dp::F_VPORT_PIDS);
    run(&mut sim, &[transact(&set)]);
    expect(&taken(), "user features negotiated: UNALIGNED|VPORT_PIDS");

    // A malformed attribute: the vport type must be a u32.
    let bad = Req::new(fam::VPORT, vport::CMD_NEW, 1, 6, 1)
        .u16(vport::ATTR_TYPE, 1)
        .str(vport::ATTR_NAME, "vm1")
        .u32(vport::ATTR_UPCALL_PID, 2);
    run(&mut sim, &[transact(&bad)]);
    let r = taken();
    expect(
        &r,
        &format!(
            "attribute type {} (2 bytes) has the wrong size",
            vport::ATTR_TYPE
        ),
    );
    expect(&r, "refused ovs_vport NEW from pid 1: EINVAL");

    // A vport whose name no Hyper-V NIC has, then one that binds.
    let new = |seq: u32, name: &str| {
        Req::new(fam::VPORT, vport::CMD_NEW, 1, seq, 1)
            .u32(vport::ATTR_TYPE, vport::TYPE_NETDEV)
            .str(vport::ATTR_NAME, name)
            .u32(vport::ATTR_UPCALL_PID, 2)
    };
    run(
        &mut sim,
        &[transact(&new(7, "vm9")), transact(&new(8, "vm1"))],
    );
    let r = taken();
    expect(&r, "no vport \"vm9\": no Hyper-V port or NIC has that name");
    expect(&r, "refused ovs_vport NEW from pid 1: ENODEV");
    expect(&r, "vport 1 \"vm1\" added, bound to Hyper-V port 3 nic 0");

    // A frame that does not parse is dropped, and says why.
    run(&mut sim, &["rx 3 0102030405".into()]);
    let r = taken();
    expect(
        &r,
        "WARN packet dropped on vport 1: the frame does not parse",
    );

    // The connection tracker says why it drops: no NAT port left.
    let (key, mask) = ovsext::flow::text::parse_flow(
        "in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp()",
    )
    .unwrap();
    let nat =
        ovsext::flow::text::parse_actions("ct(commit,zone=5,nat(src=10.9.9.9:5000))").unwrap();
    common::flow_put(&mut sim, 9, &key, &mask, &nat);
    let udp = |src: [u8; 4]| {
        let mut f = vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 8, 0];
        let l4 = [0x03, 0xe8, 0, 53, 0, 8, 0, 0];
        f.extend(common::ipv4_packet(src, [10, 0, 0, 2], 17, &l4));
        format!("rx 3 {}", ovsext::sim::hex(&f))
    };
    run(&mut sim, &[udp([10, 0, 0, 1]), udp([10, 0, 0, 3])]);
    expect(
        &taken(),
        "WARN packet dropped on vport 1: no NAT address and port free in conntrack zone 5",
    );

    // The NIC goes: the vport is unbound.
    run(&mut sim, &["unport 3".into()]);
    let r = taken();
    expect(
        &r,
        "vport 1 unbound: Hyper-V port 3 nic 0 \"vm1\" went down",
    );

    // A flood of refusals: a few are logged, the rest counted and reported
    // at the next upkeep tick (a simulated second).
    let flood: Vec<String> = (0..50).map(|i| transact(&new(100 + i, "nope"))).collect();
    run(&mut sim, &flood);
    let r = taken();
    let refusals = r
        .iter()
        .filter(|l| l.contains("refused ovs_vport NEW"))
        .count();
    assert!(refusals > 0 && refusals < 10, "{r:?}");
    run(&mut sim, &["tick 1000".into()]);
    let r = taken();
    assert!(
        r.iter()
            .any(|l| l.starts_with("WARN ") && l.contains("more refused requests not logged")),
        "{r:?}"
    );
    run(&mut sim, &[transact(&new(200, "nope"))]);
    assert!(has(&taken(), "refused ovs_vport NEW from pid 1: ENODEV"));

    run(&mut sim, &["switch down".into()]);
    assert!(has(&taken(), "switch detached"));
}
