//! Connection tracking through the control device and the switch:
//! ovs-vswitchd's feature probes, CT actions at install, and packets
//! through `ct` + `recirc` pipelines.

mod common;

use common::*;

const PACKET: u16 = 0x13;
const VPORT: u16 = 0x14;
const FLOW: u16 = 0x15;

const EINVAL: i32 = -22;
const EOPNOTSUPP: i32 = -130;

const DPID: u32 = 1;

/// A switch with vm1 (vport 1) and vm2 (vport 2).
fn setup() -> Sim {
    let mut sim = Sim::new();
    assert!(
        sim.run("switch up\nport 1 vm vm1\nport 2 vm vm2\nopen 1\n")
            .is_empty()
    );
    for (seq, name) in [(2u32, "vm1"), (3, "vm2")] {
        let r = Req::new(VPORT, 1, 1, seq, DPID)
            .u32(2, 1)
            .str(3, name)
            .u32(5, 1);
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    sim
}

/// `OVS_KEY_ATTR_*` numbers the probes use.
mod k {
    pub const PRIORITY: u16 = 2;
    pub const IN_PORT: u16 = 3;
    pub const ETHERNET: u16 = 4;
    pub const ETHERTYPE: u16 = 6;
    pub const IPV4: u16 = 7;
    pub const IPV6: u16 = 8;
    pub const SKB_MARK: u16 = 15;
    pub const CT_STATE: u16 = 22;
    pub const CT_ZONE: u16 = 23;
    pub const CT_MARK: u16 = 24;
    pub const CT_LABELS: u16 = 25;
    pub const CT_ORIG_TUPLE_IPV4: u16 = 26;
    pub const CT_ORIG_TUPLE_IPV6: u16 = 27;
}

/// The key `odp_flow_key_from_flow` makes of a zeroed flow with `ct` (the
/// probed field) and Ethertype `eth_type` (0: none).
fn probe_key(ct: &[u8], eth_type: u16) -> Vec<u8> {
    let mut key = [
        attr(k::PRIORITY, &0u32.to_ne_bytes()),
        attr(k::SKB_MARK, &0u32.to_ne_bytes()),
        ct.to_vec(),
        attr(k::IN_PORT, &0u32.to_ne_bytes()),
        attr(k::ETHERNET, &[0; 12]),
    ]
    .concat();
    match eth_type {
        0x0800 => {
            key.extend(attr(k::ETHERTYPE, &eth_type.to_be_bytes()));
            key.extend(attr(k::IPV4, &[0; 12]));
        }
        0x86dd => {
            key.extend(attr(k::ETHERTYPE, &eth_type.to_be_bytes()));
            key.extend(attr(k::IPV6, &[0; 40]));
        }
        _ => {}
    }
    key
}

/// `dpif_probe_feature`: put with PROBE (create or modify), get, delete;
/// true if the flow was installed and read back.
fn probe_feature(sim: &mut Sim, key: &[u8], actions: &[u8]) -> bool {
    let put = Req::new(FLOW, 1, 1, 10, DPID)
        .flags(0x1 | 0x400)
        .raw(1, key)
        .raw(2, actions)
        .raw(8, &[]);
    let line = one(sim, &ioctl(1, "TRANSACT", &put));
    if is_error(&line) {
        assert_ne!(errno(&line, &put), 0);
        return false;
    }
    let get = Req::new(FLOW, 3, 1, 11, DPID).raw(1, key);
    let (hdr, _) = reply(&one(sim, &ioctl(1, "TRANSACT", &get)));
    assert_eq!(hdr.ty, FLOW);
    let del = Req::new(FLOW, 2, 1, 12, DPID).raw(1, key);
    reply(&one(sim, &ioctl(1, "TRANSACT", &del)));
    true
}

/// The reply is an `NLMSG_ERROR`.
fn is_error(line: &str) -> bool {
    let (_, b) = result(line);
    b.len() >= 6 && u16::from_ne_bytes([b[4], b[5]]) == 2
}

/// `flow_compose` of the UDP packet the CT-attribute probes execute:
/// 127.255.255.255 to itself, ports 0, TTL 64.
fn probe_packet() -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend([0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip.extend([127, 255, 255, 255, 127, 255, 255, 255]);
    let sum = !ip.chunks(2).fold(0u32, |s, c| {
        let s = s + u32::from(u16::from_be_bytes([c[0], c[1]]));
        (s & 0xffff) + (s >> 16)
    }) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend(ip);
    f.extend([0, 0, 0, 0, 0, 8, 0, 0]);
    f
}

/// `dpif_execute` with PROBE, as `check_ct_eventmask` and
/// `check_ct_timeout_policy` send it: the key is `odp_key_from_dp_packet`'s
/// metadata. Returns 0 or the errno.
fn probe_execute(sim: &mut Sim, actions: &[u8]) -> i32 {
    let key = [
        attr(k::PRIORITY, &0u32.to_ne_bytes()),
        attr(k::SKB_MARK, &0u32.to_ne_bytes()),
    ]
    .concat();
    let exec = Req::new(PACKET, 3, 1, 20, DPID)
        .raw(1, &probe_packet())
        .raw(2, &key)
        .raw(3, actions)
        .raw(7, &[]);
    let line = one(sim, &ioctl(1, "TRANSACT", &exec));
    if is_error(&line) {
        return errno(&line, &exec);
    }
    let (hdr, a) = reply(&line);
    assert_eq!((hdr.ty, hdr.cmd, a.len()), (PACKET, 3, 0));
    0
}

#[test]
fn userspace_conntrack_probes_succeed() {
    let mut sim = setup();
    let ct_state = |v: u32| attr(k::CT_STATE, &v.to_ne_bytes());
    let mut labels = [0u8; 16];
    labels[0] = 1;
    let mut tuple4 = [0u8; 16];
    tuple4[12] = 1;
    let mut tuple6 = [0u8; 40];
    tuple6[36] = 1;
    let field_probes = [
        ("ct_state", ct_state(0x01), 0x0800),
        ("ct_zone", attr(k::CT_ZONE, &1u16.to_ne_bytes()), 0x0800),
        ("ct_mark", attr(k::CT_MARK, &1u32.to_ne_bytes()), 0x0800),
        ("ct_label", attr(k::CT_LABELS, &labels), 0x0800),
        ("ct_state_nat", ct_state(0x20 | 0x40), 0x0800),
        (
            "ct_orig_tuple",
            attr(k::CT_ORIG_TUPLE_IPV4, &tuple4),
            0x0800,
        ),
        (
            "ct_orig_tuple6",
            attr(k::CT_ORIG_TUPLE_IPV6, &tuple6),
            0x86dd,
        ),
    ];
    for (name, field, eth_type) in field_probes {
        assert!(
            probe_feature(&mut sim, &probe_key(&field, eth_type), &[]),
            "{name}"
        );
    }
    // check_ct_clear: a zeroed flow (no Ethertype) with ct_clear.
    assert!(probe_feature(&mut sim, &probe_key(&[], 0), &attr(16, &[])));
    // check_ct_eventmask and check_ct_timeout_policy execute a CT action.
    let eventmask = attr(12, &attr(8, &u32::MAX.to_ne_bytes()));
    let timeout = attr(12, &attr(9, b"ovs_test_tp\0"));
    for ct in [eventmask, timeout] {
        assert_eq!(probe_execute(&mut sim, &ct), EOPNOTSUPP);
    }
}

#[test]
fn ct_actions_are_validated_at_install() {
    let mut sim = setup();
    let key = probe_key(&[], 0x0800);
    let put = |seq: u32, key: &[u8], actions: &[u8]| {
        Req::new(FLOW, 1, 1, seq, DPID)
            .flags(0x1 | 0x400)
            .raw(1, key)
            .raw(2, actions)
    };
    // Malformed: a mark without commit, a zero mask, NAT before COMMIT, an
    // unknown member, and CT on a flow that is not IP.
    let mark = attr(3, &[1u32.to_ne_bytes(), 1u32.to_ne_bytes()].concat());
    let nat_src = attr(6, &attr(1, &[]));
    for (seq, ct) in [
        (1, attr(12, &mark)),
        (
            2,
            attr(
                12,
                &[
                    attr(1, &[]),
                    attr(3, &[1u32.to_ne_bytes(), [0; 4]].concat()),
                ]
                .concat(),
            ),
        ),
        (3, attr(12, &[nat_src.clone(), attr(1, &[])].concat())),
        (4, attr(12, &attr(10, &[]))),
    ] {
        let r = put(seq, &key, &ct);
        assert_eq!(
            errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r),
            EINVAL,
            "{seq}"
        );
    }
    let r = put(5, &probe_key(&[], 0), &attr(12, &attr(1, &[])));
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), EINVAL);
    // SET of ct_mark is accepted at install, as on Linux.
    let set = attr(
        11,
        &attr(
            k::CT_MARK,
            &[1u32.to_ne_bytes(), 1u32.to_ne_bytes()].concat(),
        ),
    );
    let r = put(6, &key, &set);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
}
