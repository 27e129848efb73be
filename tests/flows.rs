//! The flow datapath through the control device and the switch: misses
//! become upcalls, ovs-vswitchd installs megaflows, later packets follow
//! them; flow commands and packet execute as Linux answers them.

mod common;

use common::*;
use ovsext::flow::attrs::parse_match;
use ovsext::netlink::MsgHeader;

const CTRL: u16 = 0x11;
const PACKET: u16 = 0x13;
const VPORT: u16 = 0x14;
const FLOW: u16 = 0x15;
const DP: u16 = 0x12;

const ENOENT: i32 = -2;
const EEXIST: i32 = -17;
const EINVAL: i32 = -22;
const EOPNOTSUPP: i32 = -130;
const E2BIG: i32 = -7;
const EMSGSIZE: i32 = -115;

const DPID: u32 = 1; // the datapath socket
const HPID: u32 = 2; // the upcall handler socket

/// A switch with vm1 (port 1 → vport 1) and vm2 (port 2 → vport 2); the
/// handler socket subscribed and waiting.
fn setup() -> Sim {
    let mut sim = Sim::new();
    assert!(
        sim.run("switch up\nport 1 vm vm1\nport 2 vm vm2\nopen 1\nopen 2\n")
            .is_empty()
    );
    let sub = Req::new(CTRL, 3, 1, 1, HPID).u8(2, 1).u32(3, HPID);
    assert_eq!(
        one(&mut sim, &ioctl(2, "WRITE", &sub)),
        "ioctl 2 WRITE SUCCESS -"
    );
    for (seq, name) in [(2u32, "vm1"), (3, "vm2")] {
        let r = Req::new(VPORT, 1, 1, seq, DPID)
            .u32(2, 1)
            .str(3, name)
            .u32(5, HPID);
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    sim
}

fn pend_packets(sim: &mut Sim) {
    let pend = Req::new(CTRL, 1, 1, 9, HPID);
    assert_eq!(
        one(sim, &ioctl(2, "WRITE", &pend)),
        "ioctl 2 WRITE PENDING -"
    );
}

/// An Ethernet/IPv4/UDP frame.
fn udp_frame(src_ip: [u8; 4], dst_ip: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![
        0x00, 0x15, 0x5d, 0, 0, 2, 0x00, 0x15, 0x5d, 0, 0, 1, 0x08, 0x00,
    ];
    let payload = b"hello";
    let total = 20 + 8 + payload.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend_from_slice(&src_ip);
    ip.extend_from_slice(&dst_ip);
    let sum = !ip.chunks(2).fold(0u32, |s, c| {
        let s = s + u32::from(u16::from_be_bytes([c[0], c[1]]));
        (s & 0xffff) + (s >> 16)
    }) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend(ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn hexs(b: &[u8]) -> String {
    ovsext::sim::hex(b)
}

/// Reads one upcall: (cmd, key attribute bytes, packet bytes, userdata).
fn read_upcall(sim: &mut Sim) -> (u8, Vec<u8>, Vec<u8>, Option<Vec<u8>>) {
    let (hdr, a) = reply(&one(sim, "ioctl 2 READ_PACKET -"));
    assert_eq!(
        (
            hdr.ty,
            hdr.flags,
            hdr.seq,
            hdr.pid,
            hdr.version,
            hdr.dp_ifindex
        ),
        (PACKET, 0, 0, HPID, 1, 0)
    );
    let ud = a.iter().find(|(t, _)| *t == 4).map(|(_, p)| p.clone());
    (hdr.cmd, get(&a, 2).to_vec(), get(&a, 1).to_vec(), ud)
}

fn output(port: u32) -> Vec<u8> {
    attr(1, &port.to_ne_bytes())
}

/// A mask stream: in_port and eth_type exact, Ethernet addresses wildcarded.
fn megaflow_mask() -> Vec<u8> {
    [
        attr(3, &u32::MAX.to_ne_bytes()),
        attr(4, &[0; 12]),
        attr(6, &[0xff, 0xff]),
    ]
    .concat()
}

fn flow_new(
    seq: u32,
    key: &[u8],
    mask: Option<&[u8]>,
    actions: &[u8],
    ufid: Option<[u8; 16]>,
) -> Req {
    let mut r = Req::new(FLOW, 1, 1, seq, DPID).flags(0x1 | 0x400 | 0x8);
    if let Some(u) = ufid {
        r = r.raw(9, &u);
    }
    r = r.raw(1, key);
    if let Some(m) = mask {
        r = r.raw(7, m);
    }
    r.raw(2, actions)
}

/// The key of a packet entering on vm1, as ovs-vswitchd would send it.
fn key_of(frame: &[u8], in_port: u32) -> Vec<u8> {
    let mut sim = setup();
    let _ = in_port;
    assert!(sim.run(&format!("rx 1 {}", hexs(frame))).is_empty());
    read_upcall(&mut sim).1
}

const UFID: [u8; 16] = *b"0123456789abcdef";

#[test]
fn miss_upcall_flow_install_and_hits() {
    let mut sim = setup();
    pend_packets(&mut sim);
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    // A miss: the pended request completes, the upcall is read.
    assert_eq!(
        sim.run(&format!("rx 1 {}", hexs(&f1))),
        vec!["complete 2 WRITE SUCCESS -"]
    );
    let (cmd, key, pkt, ud) = read_upcall(&mut sim);
    assert_eq!((cmd, pkt.as_slice(), ud), (1, f1.as_slice(), None));
    let m = parse_match(&key, None).unwrap();
    assert_eq!(
        (m.key.in_port, m.key.eth_type, m.key.ip_proto, m.key.tp_dst),
        (1, 0x0800, 17, 53)
    );
    assert_eq!(m.key.ipv4_src, 0x0a00_0001);
    assert_eq!(
        one(&mut sim, "ioctl 2 READ_PACKET -"),
        "ioctl 2 READ_PACKET SUCCESS -"
    );
    // ovs-vswitchd installs a megaflow: from vm1, IPv4, to vm2.
    let mask = megaflow_mask();
    let r = flow_new(10, &key, Some(&mask), &output(2), Some(UFID));
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    assert_eq!(
        (hdr.ty, hdr.flags, hdr.seq, hdr.cmd, hdr.version),
        (FLOW, 0, 10, 1, 1)
    );
    assert_eq!(get(&a, 9), &UFID, "identified by UFID");
    assert_eq!(get(&a, 2), output(2).as_slice(), "actions as installed");
    let masked = parse_match(get(&a, 1), Some(get(&a, 7))).unwrap();
    assert_eq!(
        (
            masked.key.in_port,
            masked.mask.in_port,
            masked.mask.ipv4_src
        ),
        (1, u32::MAX, 0)
    );
    assert!(
        a.iter().all(|(t, _)| *t != 3 && *t != 5),
        "no STATS or USED before any packet"
    );
    // Hits: the same frame and another IPv4 frame from vm1 go to vm2.
    let f2 = udp_frame([10, 0, 0, 9], [10, 0, 0, 7], 1, 2);
    assert_eq!(
        sim.run(&format!("tick 5\nrx 1 {}", hexs(&f1))),
        vec![format!("tx 2 {}", hexs(&f1))]
    );
    assert_eq!(
        sim.run(&format!("rx 1 {}", hexs(&f2))),
        vec![format!("tx 2 {}", hexs(&f2))]
    );
    // From vm2 it is a miss (in_port differs).
    assert!(sim.run(&format!("rx 2 {}", hexs(&f2))).is_empty());
    assert_eq!(read_upcall(&mut sim).0, 1);
    // GET by UFID: Linux's stats.
    let get_req = Req::new(FLOW, 3, 1, 11, DPID).raw(9, &UFID);
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &get_req)));
    assert_eq!(hdr.cmd, 3);
    let stats = get(&a, 3);
    assert_eq!(u64::from_ne_bytes(stats[0..8].try_into().unwrap()), 2);
    assert_eq!(
        u64::from_ne_bytes(stats[8..16].try_into().unwrap()),
        (f1.len() + f2.len()) as u64
    );
    assert_eq!(
        u64::from_ne_bytes(get(&a, 5).try_into().unwrap()),
        5,
        "used: the simulated clock"
    );
    // Datapath statistics.
    let dpget = Req::new(DP, 3, 2, 12, DPID).str(1, "ovs-system");
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &dpget)));
    let s = get(&a, 3);
    let n = |i: usize| u64::from_ne_bytes(s[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!(
        (n(0), n(1), n(2), n(3)),
        (2, 2, 0, 1),
        "hit, missed, lost, flows"
    );
    let mega = get(&a, 4);
    assert_eq!(
        u32::from_ne_bytes(mega[8..12].try_into().unwrap()),
        1,
        "one mask"
    );
}

#[test]
fn flow_commands_follow_linux() {
    let mut sim = setup();
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let key = key_of(&f1, 1);
    let mask = megaflow_mask();
    let new = flow_new(1, &key, Some(&mask), &output(2), Some(UFID));
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &new)));
    // NEW with NLM_F_CREATE on an existing flow: EEXIST; without it, a modify.
    let again = flow_new(2, &key, Some(&mask), &output(1), Some(UFID));
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &again)), &again),
        EEXIST
    );
    let modify = flow_new(3, &key, Some(&mask), &output(1), Some(UFID)).flags(0x1 | 0x8);
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &modify)));
    assert_eq!(get(&a, 2), output(1).as_slice());
    assert_eq!(
        sim.run(&format!("rx 1 {}", hexs(&f1))),
        vec![format!("tx 1 {}", hexs(&f1))]
    );
    // SET with CLEAR answers with the stats from before the clear.
    let set = Req::new(FLOW, 4, 1, 4, DPID).raw(9, &UFID).raw(6, &[]);
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &set)));
    assert_eq!(hdr.cmd, 4);
    assert_eq!(u64::from_ne_bytes(get(&a, 3)[0..8].try_into().unwrap()), 1);
    let get_req = Req::new(FLOW, 3, 1, 5, DPID).raw(9, &UFID);
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &get_req)));
    assert!(a.iter().all(|(t, _)| *t != 3), "stats cleared");
    // Terse GET: UFID and stats only.
    let terse = Req::new(FLOW, 3, 1, 6, DPID).raw(9, &UFID).u32(10, 7);
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &terse)));
    assert_eq!(a.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![9]);
    // GET/DEL of what is not there: ENOENT; neither key nor UFID: EINVAL.
    let other = Req::new(FLOW, 3, 1, 7, DPID).raw(9, b"fedcba9876543210");
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &other)), &other),
        ENOENT
    );
    let none = Req::new(FLOW, 3, 1, 8, DPID);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &none)), &none),
        EINVAL
    );
    // DEL by UFID answers with the flow; the next packet misses.
    let del = Req::new(FLOW, 2, 1, 9, DPID).raw(9, &UFID);
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &del)));
    assert_eq!((hdr.cmd, get(&a, 9)), (2, &UFID[..]));
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &del)), &del),
        ENOENT
    );
    assert!(sim.run(&format!("rx 1 {}", hexs(&f1))).is_empty());
    // A flow named by a UFID is not found by a key, even one it matches:
    // DEL by key is ENOENT and the flow stays (Linux's lookup_exact).
    let named = flow_new(13, &key, Some(&mask), &output(2), Some(UFID));
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &named)));
    let f2 = udp_frame([10, 9, 9, 9], [10, 8, 8, 8], 7, 7);
    let del_by_key = Req::new(FLOW, 2, 1, 14, DPID).raw(1, &key_of(&f2, 1));
    assert_eq!(
        errno(
            &one(&mut sim, &ioctl(1, "TRANSACT", &del_by_key)),
            &del_by_key
        ),
        ENOENT
    );
    let by_ufid = Req::new(FLOW, 3, 1, 15, DPID).raw(9, &UFID);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &by_ufid)));
    let del_it = Req::new(FLOW, 2, 1, 16, DPID).raw(9, &UFID);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &del_it)));
    // Key-identified flows (no UFID): GET and DEL by key.
    let exact = flow_new(10, &key, None, &output(2), None);
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &exact)));
    assert_eq!(
        parse_match(get(&a, 1), None).unwrap().key.tp_dst,
        53,
        "identified by its key"
    );
    let by_key = Req::new(FLOW, 3, 1, 11, DPID).raw(1, &key);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &by_key)));
    // Flush: DEL without key or UFID; the reply is a bare header.
    let flush = Req::new(FLOW, 2, 1, 12, DPID);
    let (status, b) = result(&one(&mut sim, &ioctl(1, "TRANSACT", &flush)));
    assert_eq!((status.as_str(), b.len()), ("SUCCESS", 24));
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &by_key)), &by_key),
        ENOENT
    );
}

#[test]
fn probes_install_and_unsupported_features_are_refused() {
    let mut sim = setup();
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let key = key_of(&f1, 1);
    // A feature probe: put with PROBE, read back, delete (dpif_probe_feature).
    let probe = flow_new(1, &key, None, &output(2), Some(UFID))
        .flags(0x1 | 0x8)
        .raw(8, &[]);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &probe)));
    let get_req = Req::new(FLOW, 3, 1, 2, DPID).raw(9, &UFID);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &get_req)));
    let del = Req::new(FLOW, 2, 1, 3, DPID).raw(9, &UFID);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &del)));
    // An action not executed yet (psample): EOPNOTSUPP.
    let psample = attr(25, &attr(1, &1u32.to_ne_bytes()));
    let r = flow_new(4, &key, None, &psample, None);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r),
        EOPNOTSUPP
    );
    // Malformed actions: EINVAL, nothing installed.
    let r = flow_new(8, &key, None, &attr(1, &[1, 0]), None);
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), EINVAL);
    let r = flow_new(9, &key, None, &attr(200, &[]), None);
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), EINVAL);
    let dump = Req::new(FLOW, 3, 1, 10, DPID).flags(0x1 | 0x300);
    one(&mut sim, &ioctl(1, "WRITE", &dump));
    let (status, b) = result(&one(&mut sim, "ioctl 1 READ -"));
    assert_eq!(status, "SUCCESS");
    assert_eq!(
        MsgHeader::read(&[b.clone(), vec![0; 8]].concat())
            .unwrap()
            .ty,
        3,
        "only NLMSG_DONE: nothing installed"
    );
    assert_eq!(b.len(), 16);
}

/// Starts a dump of UFIDs alone (terse), seq 99.
fn start_terse_dump(sim: &mut Sim) {
    let dump = Req::new(FLOW, 3, 1, 99, DPID)
        .flags(0x1 | 0x300 | 0x4)
        .u32(10, 7);
    assert_eq!(
        one(sim, &ioctl(1, "WRITE", &dump)),
        "ioctl 1 WRITE SUCCESS -"
    );
}

#[test]
fn flow_dump_packs_messages_and_ends_with_done() {
    let mut sim = setup();
    let mask = megaflow_mask();
    let n = 40;
    for i in 0..n {
        let f = udp_frame([10, 0, 0, i as u8], [10, 0, 0, 2], 1000, 53);
        let key = key_of(&f, 1);
        // Distinct flows: the IPv4 source is matched too.
        let ipv4_src_only = [[0xff; 4].as_slice(), &[0; 8]].concat();
        let m = [mask.clone(), attr(7, &ipv4_src_only)].concat();
        let mut ufid = UFID;
        ufid[0] = i as u8;
        let r = flow_new(i as u32 + 1, &key, Some(&m), &output(2), Some(ufid));
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    // A small READ buffer forces several READs; terse dumps carry UFIDs only.
    start_terse_dump(&mut sim);
    let mut seen = 0;
    let mut done = false;
    let mut reads = 0;
    while !done {
        reads += 1;
        let (status, b) = result(&one(&mut sim, "ioctl 1 READ - 512"));
        assert_eq!(status, "SUCCESS");
        assert!(
            !b.is_empty(),
            "the dump must end with NLMSG_DONE before 0-byte reads"
        );
        let mut rest = &b[..];
        while !rest.is_empty() {
            let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
            let ty = u16::from_ne_bytes(rest[4..6].try_into().unwrap());
            let flags = u16::from_ne_bytes(rest[6..8].try_into().unwrap());
            let seq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
            assert_eq!((flags, seq), (NLM_F_MULTI, 99));
            if ty == 3 {
                assert_eq!(len, 16);
                done = true;
            } else {
                assert_eq!(ty, FLOW);
                let attrs = nested(&rest[24..len]);
                assert_eq!(attrs.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![9]);
                seen += 1;
            }
            rest = &rest[len..];
        }
    }
    assert_eq!(seen, n);
    assert!(reads > 1);
    assert_eq!(one(&mut sim, "ioctl 1 READ -"), "ioctl 1 READ SUCCESS -");
    assert_eq!(sim.device().live().dumps, 0);
}

/// The flows of one READ of a dump: (UFID first bytes seen, ended by DONE).
fn read_dump(sim: &mut Sim) -> (Vec<Vec<u8>>, bool) {
    let (status, b) = result(&one(sim, "ioctl 1 READ -"));
    assert_eq!(status, "SUCCESS");
    let (mut ufids, mut done) = (Vec::new(), false);
    let mut rest = &b[..];
    while !rest.is_empty() {
        let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
        match u16::from_ne_bytes(rest[4..6].try_into().unwrap()) {
            3 => done = true,
            _ => ufids.push(get(&nested(&rest[24..len]), 9).to_vec()),
        }
        rest = &rest[len..];
    }
    (ufids, done)
}

/// A READ with room for every flow still gets them all, across runs of
/// free slots and in several holds of the lock.
#[test]
fn one_dump_read_crosses_gaps_and_lock_holds() {
    let mut sim = setup();
    let ufid = |i: u32| [&i.to_ne_bytes()[..], &[7; 12]].concat();
    for i in 0..1200u32 {
        let flow = format!(
            "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(src=10.0.{}.{},frag=no)",
            i / 256,
            i % 256
        );
        let (key, mask) = ovsext::flow::text::parse_flow(&flow).unwrap();
        let r = flow_new(i, &key, Some(&mask), &output(2), None).raw(9, &ufid(i));
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    for i in (0..1100u32).chain(1150..1160) {
        let del = Req::new(FLOW, 2, 1, 5000 + i, DPID).raw(9, &ufid(i));
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &del)));
    }
    start_terse_dump(&mut sim);
    let (ufids, done) = read_dump(&mut sim);
    let want: Vec<Vec<u8>> = (1100..1150).chain(1160..1200).map(ufid).collect();
    assert_eq!((ufids, done), (want, true));
}

#[test]
fn execute_and_userspace_actions() {
    let mut sim = setup();
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let key = key_of(&f1, 1);
    // EXECUTE: out of vm2; the reply is a bare header.
    let exec = Req::new(PACKET, 3, 1, 1, DPID)
        .raw(1, &f1)
        .raw(2, &key)
        .raw(3, &output(2));
    let out = sim.run(&ioctl(1, "TRANSACT", &exec));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0], format!("tx 2 {}", hexs(&f1)));
    let (hdr, a) = reply(&out[1]);
    assert_eq!((hdr.ty, hdr.cmd, hdr.seq, a.len()), (PACKET, 3, 1, 0));
    // A userspace action: an ACTION upcall with the userdata.
    pend_packets(&mut sim);
    let up = attr(
        2,
        &[attr(1, &HPID.to_ne_bytes()), attr(2, b"cookie!!")].concat(),
    );
    let exec = Req::new(PACKET, 3, 1, 2, DPID)
        .raw(1, &f1)
        .raw(2, &key)
        .raw(3, &up);
    let out = sim.run(&ioctl(1, "TRANSACT", &exec));
    assert_eq!(out[0], "complete 2 WRITE SUCCESS -");
    let (cmd, k, pkt, ud) = read_upcall(&mut sim);
    assert_eq!(
        (cmd, pkt, ud.as_deref()),
        (2, f1.clone(), Some(&b"cookie!!"[..]))
    );
    assert_eq!(parse_match(&k, None).unwrap().key.in_port, 1);
    // Missing attributes and bad actions.
    let bad = Req::new(PACKET, 3, 1, 3, DPID).raw(1, &f1).raw(2, &key);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &bad)), &bad),
        EINVAL
    );
    let psample = Req::new(PACKET, 3, 1, 4, DPID)
        .raw(1, &f1)
        .raw(2, &key)
        .raw(3, &attr(25, &attr(1, &1u32.to_ne_bytes())));
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &psample)), &psample),
        EOPNOTSUPP
    );
}

/// `NetEventFilterPreDetach`: the extension originates nothing more. A
/// PACKET EXECUTE is answered as when there is no switch (STATUS_NOT_FOUND,
/// and nothing is sent), sends from the ports fail, and the other requests
/// still run until the detach.
#[test]
fn an_announced_detach_stops_executes_and_sends() {
    let mut sim = setup();
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let exec = Req::new(PACKET, 3, 1, 1, DPID)
        .raw(1, &f1)
        .raw(2, &key_of(&f1, 1))
        .raw(3, &output(2));
    let out = sim.run(&ioctl(1, "TRANSACT", &exec));
    assert_eq!(out[0], format!("tx 2 {}", hexs(&f1)));
    assert!(sim.run("switch predetach").is_empty());
    assert_eq!(
        sim.run(&ioctl(1, "TRANSACT", &exec)),
        ["ioctl 1 TRANSACT NOT_FOUND -"]
    );
    let out = sim.run(&format!("rx 1 {}", hexs(&f1)));
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("error "), "{out:?}");
    let dpget = Req::new(DP, 3, 2, 6, DPID).str(1, "ovs-system");
    let (hdr, _) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &dpget)));
    assert_eq!(hdr.ty, DP);
    // The detach ends it; a new switch executes again.
    assert!(
        sim.run("switch down\nswitch up\nport 1 vm vm1\nport 2 vm vm2")
            .is_empty()
    );
    let (hdr, _) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &dpget)));
    assert_eq!(hdr.ty, DP);
}

#[test]
fn upcalls_without_a_listener_are_lost() {
    let mut sim = setup();
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    // The handler unsubscribes: misses have nowhere to go.
    let unsub = Req::new(CTRL, 3, 1, 5, HPID).u8(2, 0).u32(3, HPID);
    one(&mut sim, &ioctl(2, "WRITE", &unsub));
    assert!(sim.run(&format!("rx 1 {}", hexs(&f1))).is_empty());
    let dpget = Req::new(DP, 3, 2, 6, DPID).str(1, "ovs-system");
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &dpget)));
    assert_eq!(
        u64::from_ne_bytes(get(&a, 3)[16..24].try_into().unwrap()),
        1,
        "n_lost"
    );
    let vget = Req::new(VPORT, 3, 1, 7, DPID).str(3, "vm1");
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &vget)));
    let up = nested(get(&a, 10));
    assert_eq!(
        u64::from_ne_bytes(up[1].1.clone().try_into().unwrap()),
        1,
        "upcall failures of vm1"
    );
    let stats = get(&a, 6);
    assert_eq!(
        u64::from_ne_bytes(stats[0..8].try_into().unwrap()),
        1,
        "rx_packets"
    );
}

/// Installs a flow given in `ovs-dpctl add-flow` text with actions in text
/// or as bytes.
fn install(sim: &mut Sim, seq: u32, flow: &str, actions: &[u8]) {
    let (key, mask) = ovsext::flow::text::parse_flow(flow).unwrap();
    let r = flow_new(seq, &key, Some(&mask), actions, None);
    reply(&one(sim, &ioctl(1, "TRANSACT", &r)));
}

fn acts(text: &str) -> Vec<u8> {
    ovsext::flow::text::parse_actions(text).unwrap()
}

const IPV4_FROM_1: &str = "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)";

fn tx_frame(line: &str, port: u32) -> Vec<u8> {
    let prefix = format!("tx {port} ");
    assert!(line.starts_with(&prefix), "{line}");
    unhex(&line[prefix.len()..])
}

fn ipv4_checksum_ok(f: &[u8]) -> bool {
    let sum = f[14..34]
        .chunks(2)
        .fold(0u32, |s, c| s + u32::from(u16::from_be_bytes([c[0], c[1]])));
    let sum = (sum & 0xffff) + (sum >> 16);
    (sum + (sum >> 16)) as u16 == 0xffff
}

#[test]
fn recirculation_and_hash_through_the_table() {
    let mut sim = setup();
    let hash_recirc = [
        attr(8, &[0u32.to_ne_bytes(), 7u32.to_ne_bytes()].concat()),
        attr(7, &7u32.to_ne_bytes()),
    ]
    .concat();
    install(&mut sim, 1, IPV4_FROM_1, &hash_recirc);
    install(
        &mut sim,
        2,
        "recirc_id(7),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
        &output(2),
    );
    let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    assert_eq!(
        sim.run(&format!("rx 1 {}", hexs(&f))),
        vec![format!("tx 2 {}", hexs(&f))]
    );
    // A recirculation with no flow for it: a miss upcall carrying the recirc_id.
    install(
        &mut sim,
        3,
        "recirc_id(0),in_port(2),eth(),eth_type(0x0800),ipv4(frag=no)",
        &attr(7, &9u32.to_ne_bytes()),
    );
    assert!(sim.run(&format!("rx 2 {}", hexs(&f))).is_empty());
    let (cmd, key, _, _) = read_upcall(&mut sim);
    let m = parse_match(&key, None).unwrap();
    assert_eq!((cmd, m.key.recirc_id, m.key.in_port), (1, 9, 2));
    assert_eq!(m.key.dp_hash, 0, "no hash action on this path");
}

#[test]
fn header_rewrites_and_vlan_through_the_table() {
    let mut sim = setup();
    install(
        &mut sim,
        1,
        IPV4_FROM_1,
        &acts("set(ipv4(dst=10.9.9.9)),push_vlan(vid=5,pcp=0),2"),
    );
    let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let out = sim.run(&format!("rx 1 {}", hexs(&f)));
    assert_eq!(out.len(), 1);
    let t = tx_frame(&out[0], 2);
    assert_eq!(
        &t[12..16],
        &[0x81, 0x00, 0x00, 0x05],
        "the tag goes on the wire"
    );
    let untagged = [&t[..12], &t[16..]].concat();
    assert_eq!(&untagged[30..34], &[10, 9, 9, 9]);
    assert!(ipv4_checksum_ok(&untagged));
    assert_eq!(untagged.len(), f.len());
}

#[test]
fn truncation_sample_check_pkt_len_and_dec_ttl() {
    let mut sim = setup();
    pend_packets(&mut sim);
    install(
        &mut sim,
        1,
        IPV4_FROM_1,
        &acts("trunc(30),userspace(pid=2,userdata(01020304)),2"),
    );
    let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let out = sim.run(&format!("rx 1 {}", hexs(&f)));
    assert_eq!(
        out,
        vec![
            format!("tx 2 {}", hexs(&f)),
            "complete 2 WRITE SUCCESS -".into()
        ]
    );
    let (hdr, a) = reply(&one(&mut sim, "ioctl 2 READ_PACKET -"));
    assert_eq!(hdr.cmd, 2);
    assert_eq!(
        get(&a, 1).len(),
        30,
        "the upcall carries the truncated packet"
    );
    assert_eq!(
        u32_of(get(&a, 10)),
        f.len() as u32,
        "and its length before truncation"
    );
    assert_eq!(
        get(&a, 4),
        &[1, 2, 3, 4, 0, 0, 0, 0],
        "userdata as installed (OVS pads it to 8 bytes)"
    );
    // check_pkt_len: the 47-byte frame goes the less-or-equal way.
    let del = Req::new(FLOW, 2, 1, 50, DPID);
    result(&one(&mut sim, &ioctl(1, "TRANSACT", &del)));
    install(
        &mut sim,
        2,
        IPV4_FROM_1,
        &acts("check_pkt_len(size=100,gt(1),le(2))"),
    );
    assert_eq!(
        sim.run(&format!("rx 1 {}", hexs(&f))),
        vec![format!("tx 2 {}", hexs(&f))]
    );
    // dec_ttl: TTL 64 becomes 63 with the checksum fixed; at TTL 1 the exception list runs instead.
    result(&one(&mut sim, &ioctl(1, "TRANSACT", &del)));
    let dec_ttl = [
        attr(23, &attr(1, &attr(2, &attr(1, &HPID.to_ne_bytes())))),
        output(2),
    ]
    .concat();
    install(&mut sim, 3, IPV4_FROM_1, &dec_ttl);
    let out = sim.run(&format!("rx 1 {}", hexs(&f)));
    let t = tx_frame(&out[0], 2);
    assert_eq!(t[22], 63);
    assert!(ipv4_checksum_ok(&t));
    let mut ttl1 = f.clone();
    ttl1[22] = 1;
    ttl1[24..26].copy_from_slice(&[0, 0]);
    let sum = !ttl1[14..34].chunks(2).fold(0u32, |s, c| {
        let s = s + u32::from(u16::from_be_bytes([c[0], c[1]]));
        (s & 0xffff) + (s >> 16)
    }) as u16;
    ttl1[24..26].copy_from_slice(&sum.to_be_bytes());
    let out = sim.run(&format!("rx 1 {}", hexs(&ttl1)));
    assert!(out.iter().all(|l| !l.starts_with("tx")), "{out:?}");
    assert_eq!(
        read_upcall(&mut sim).0,
        2,
        "the exception list's userspace action"
    );
}

#[test]
fn the_flow_limit_is_e2big() {
    let mut sim = setup();
    sim.device()
        .with_datapath(|dp| dp.flows.write().set_limit(2))
        .unwrap();
    for (i, port) in [1u32, 2, 3].into_iter().enumerate() {
        let flow = format!("recirc_id(0),in_port({port}),eth(),eth_type(0x0800),ipv4(frag=no)");
        let (key, mask) = ovsext::flow::text::parse_flow(&flow).unwrap();
        let r = flow_new(i as u32, &key, Some(&mask), &output(2), None);
        let line = one(&mut sim, &ioctl(1, "TRANSACT", &r));
        if i < 2 {
            reply(&line);
        } else {
            assert_eq!(errno(&line, &r), -7, "E2BIG at the limit, as Linux");
        }
    }
    assert_eq!(
        sim.device().with_datapath(|dp| dp.flow_counts().flows),
        Some(2)
    );
}

/// Key and mask of the IPv4 frames from vport `port` (one mask for all ports).
fn from_port(port: u32) -> (Vec<u8>, Vec<u8>) {
    let flow = format!("recirc_id(0),in_port({port}),eth(),eth_type(0x0800),ipv4(frag=no)");
    ovsext::flow::text::parse_flow(&flow).unwrap()
}

fn n_flows(sim: &Sim) -> u64 {
    sim.device()
        .with_datapath(|dp| dp.flow_counts().flows)
        .unwrap()
}

fn flow_memory(sim: &Sim) -> usize {
    sim.device()
        .with_datapath(|dp| dp.flows.read().memory())
        .unwrap()
}

#[test]
fn action_lists_beyond_32k_are_emsgsize() {
    let mut sim = setup();
    // 4096 outputs take 32 KiB: the most Linux's MAX_ACTIONS_BUFSIZE allowed.
    let (key, mask) = from_port(1);
    let most = output(2).repeat(4096);
    let r = flow_new(1, &key, Some(&mask), &most, None);
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    assert_eq!(get(&a, 2).len(), 32 * 1024);
    let over = output(2).repeat(4097);
    let (key, mask) = from_port(2);
    let r = flow_new(2, &key, Some(&mask), &over, None);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r),
        EMSGSIZE
    );
    // Nor may a SET grow a flow's list beyond it.
    let (key, _) = from_port(1);
    let set = Req::new(FLOW, 4, 1, 3, DPID).raw(1, &key).raw(2, &over);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &set)), &set),
        EMSGSIZE
    );
    assert_eq!(n_flows(&sim), 1);
}

#[test]
fn the_flow_memory_limit_is_e2big() {
    let mut sim = setup();
    let (key1, mask) = from_port(1);
    let r = flow_new(1, &key1, Some(&mask), &output(2), None);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    let one_flow = flow_memory(&sim);
    assert!(one_flow > 0);
    // Room for one more flow with short actions, or for long actions on
    // one flow alone.
    let long = output(1).repeat(300);
    let limit = one_flow + long.len() + 100;
    sim.device()
        .with_datapath(|dp| dp.flows.write().set_memory_limit(limit))
        .unwrap();
    let (key2, _) = from_port(2);
    let r = flow_new(2, &key2, Some(&mask), &long, None);
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), E2BIG);
    assert_eq!((n_flows(&sim), flow_memory(&sim)), (1, one_flow));
    let r = flow_new(3, &key2, Some(&mask), &output(1), None);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    // A SET may not grow a flow past the limit either: nothing changes.
    let set = Req::new(FLOW, 4, 1, 4, DPID).raw(1, &key1).raw(2, &long);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &set)), &set),
        E2BIG
    );
    let get_req = Req::new(FLOW, 3, 1, 5, DPID).raw(1, &key1);
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &get_req)));
    assert_eq!(get(&a, 2), output(2).as_slice());
    // Once the first flow goes, the second may have the long list.
    let del = Req::new(FLOW, 2, 1, 6, DPID).raw(1, &key1);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &del)));
    let set = Req::new(FLOW, 4, 1, 7, DPID).raw(1, &key2).raw(2, &long);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &set)));
    assert_eq!(flow_memory(&sim), one_flow + long.len());
    assert_eq!(n_flows(&sim), 1);
}

#[test]
fn the_mask_limit_is_e2big() {
    let mut sim = setup();
    sim.device()
        .with_datapath(|dp| dp.flows.write().set_mask_limit(1))
        .unwrap();
    let (key1, mask) = from_port(1);
    let r = flow_new(1, &key1, Some(&mask), &output(2), None);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    // A flow that needs a second mask: E2BIG, and nothing changes.
    let narrower = "recirc_id(0),in_port(2),eth(),eth_type(0x0800),ipv4(dst=10.0.0.2,frag=no)";
    let (key2, mask2) = ovsext::flow::text::parse_flow(narrower).unwrap();
    let r = flow_new(2, &key2, Some(&mask2), &output(1), None);
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), E2BIG);
    let counts = |sim: &Sim| {
        let c = sim.device().with_datapath(|dp| dp.flow_counts()).unwrap();
        (c.flows, c.masks)
    };
    assert_eq!(counts(&sim), (1, 1));
    // Under the mask that exists, more flows are welcome.
    let (key2, _) = from_port(2);
    let r = flow_new(3, &key2, Some(&mask), &output(1), None);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    assert_eq!(counts(&sim), (2, 1));
}

/// A TRANSACT whose output buffer holds `out` bytes.
fn transact_into(req: &Req, out: usize) -> String {
    format!("{} {out}", ioctl(1, "TRANSACT", req))
}

/// The actions and packet count of the flow named `UFID`.
fn actions_and_packets(sim: &mut Sim) -> (Vec<u8>, u64) {
    let get_req = Req::new(FLOW, 3, 1, 99, DPID).raw(9, &UFID);
    let (_, a) = reply(&one(sim, &ioctl(1, "TRANSACT", &get_req)));
    let packets = a
        .iter()
        .find(|(t, _)| *t == 3)
        .map_or(0, |(_, s)| u64::from_ne_bytes(s[0..8].try_into().unwrap()));
    (get(&a, 2).to_vec(), packets)
}

#[test]
fn new_and_set_whose_reply_does_not_fit_change_nothing() {
    let mut sim = setup();
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let key = key_of(&f1, 1);
    let mask = megaflow_mask();
    // The reply (UFID, key, mask, actions) needs more than 100 bytes.
    let new = flow_new(1, &key, Some(&mask), &output(2), Some(UFID));
    assert_eq!(
        errno(&one(&mut sim, &transact_into(&new, 100)), &new),
        EMSGSIZE
    );
    assert_eq!(n_flows(&sim), 0);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &new)));
    let hit = format!("rx 1 {}", hexs(&f1));
    assert_eq!(sim.run(&hit), vec![format!("tx 2 {}", hexs(&f1))]);
    // A modifying NEW, and a SET with new actions and CLEAR: EMSGSIZE, and
    // the actions and statistics stay.
    let modify = flow_new(2, &key, Some(&mask), &output(1), Some(UFID)).flags(0x1 | 0x8);
    assert_eq!(
        errno(&one(&mut sim, &transact_into(&modify, 100)), &modify),
        EMSGSIZE
    );
    let set = Req::new(FLOW, 4, 1, 3, DPID)
        .raw(9, &UFID)
        .raw(2, &output(1))
        .raw(6, &[]);
    assert_eq!(
        errno(&one(&mut sim, &transact_into(&set, 100)), &set),
        EMSGSIZE
    );
    assert_eq!(actions_and_packets(&mut sim), (output(2), 1));
    assert_eq!(sim.run(&hit), vec![format!("tx 2 {}", hexs(&f1))]);
    // With room, the same SET applies and answers.
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &set)));
    assert_eq!(get(&a, 2), output(1).as_slice());
    assert_eq!(actions_and_packets(&mut sim), (output(1), 0));
}

#[test]
fn del_deletes_whatever_room_its_reply_has() {
    let mut sim = setup();
    let f1 = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    let key = key_of(&f1, 1);
    let new = flow_new(1, &key, Some(&megaflow_mask()), &output(2), Some(UFID));
    let del = Req::new(FLOW, 2, 1, 2, DPID).raw(9, &UFID);
    // 100 bytes: the flow's UFID and statistics, without key, mask, actions.
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &new)));
    sim.run(&format!("rx 1 {}", hexs(&f1)));
    let (hdr, a) = reply(&one(&mut sim, &transact_into(&del, 100)));
    assert_eq!(hdr.cmd, 2);
    assert_eq!(get(&a, 9), &UFID[..]);
    assert_eq!(u64::from_ne_bytes(get(&a, 3)[0..8].try_into().unwrap()), 1);
    assert!(a.iter().all(|(t, _)| ![1, 2, 7].contains(t)), "{a:?}");
    assert_eq!(n_flows(&sim), 0);
    // The smallest buffer a TRANSACT may have: a bare header.
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &new)));
    let (hdr, a) = reply(&one(&mut sim, &transact_into(&del, 36)));
    assert_eq!((hdr.cmd, hdr.len, a.len()), (2, 24, 0));
    assert_eq!(n_flows(&sim), 0);
}

/// The vport a frame from switch port `port` is counted against, read
/// from its miss upcall; `None` if the frame went nowhere.
fn source_vport(sim: &mut Sim, port: u32, frame: &[u8]) -> Option<u32> {
    sim.run(&format!("rx {port} {}", hexs(frame)));
    let line = one(sim, "ioctl 2 READ_PACKET -");
    if line == "ioctl 2 READ_PACKET SUCCESS -" {
        return None;
    }
    let (_, a) = reply(&line);
    Some(parse_match(get(&a, 2), None).unwrap().key.in_port)
}

#[test]
fn frames_follow_the_source_ports_current_binding() {
    let mut sim = setup();
    let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    assert_eq!(source_vport(&mut sim, 1, &f), Some(1));
    assert_eq!(source_vport(&mut sim, 2, &f), Some(2));
    // vm1 moves to switch port 3: port 1 is gone, port 3 is vport 1.
    assert!(sim.run("unport 1\nport 3 vm vm1").is_empty());
    assert_eq!(source_vport(&mut sim, 1, &f), None);
    assert_eq!(source_vport(&mut sim, 3, &f), Some(1));
    // Switch port 1 comes back holding vm2: its frames are vport 2's.
    assert!(sim.run("unport 2\nport 1 vm vm2").is_empty());
    assert_eq!(source_vport(&mut sim, 1, &f), Some(2));
    assert_eq!(source_vport(&mut sim, 2, &f), None);
    assert_eq!(source_vport(&mut sim, 3, &f), Some(1));
}

/// The upcall key of an MPLS frame reports label stack entries only when the
/// stack is read to its bottom, as Linux's `num_labels_mask`.
#[test]
fn mpls_upcall_keys_report_only_complete_label_stacks() {
    let eth = |ty: u16| {
        let mut f = vec![0x00, 0x15, 0x5d, 0, 0, 2, 0x00, 0x15, 0x5d, 0, 0, 1];
        f.extend_from_slice(&ty.to_be_bytes());
        f
    };
    let lse = |label: u32, bos: bool| (label << 12 | u32::from(bos) << 8 | 64).to_be_bytes();
    let mpls_attr = |frame: &[u8]| {
        nested(&key_of(frame, 1))
            .into_iter()
            .find(|(t, _)| *t == 21)
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no MPLS in {:?}", nested(&key_of(frame, 1))))
    };
    // A frame that ends right after the Ethertype.
    assert_eq!(mpls_attr(&eth(0x8847)), Vec::<u8>::new());
    // Whole labels without a bottom-of-stack entry.
    let open: Vec<u8> = [eth(0x8848), lse(5, false).to_vec(), lse(6, false).to_vec()].concat();
    assert_eq!(mpls_attr(&open), Vec::<u8>::new());
    // A complete stack reports its entries.
    let two: Vec<u8> = [eth(0x8847), lse(5, false).to_vec(), lse(6, true).to_vec()].concat();
    assert_eq!(mpls_attr(&two), [lse(5, false), lse(6, true)].concat());
}

/// A packet that recirculates without end is dropped at the limit and
/// counted as such, not as a lost upcall.
#[test]
fn the_recirculation_limit_drops_without_counting_lost_upcalls() {
    let mut sim = setup();
    install(&mut sim, 1, IPV4_FROM_1, &acts("recirc(1)"));
    install(
        &mut sim,
        2,
        "recirc_id(1),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
        &acts("recirc(1)"),
    );
    let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
    assert!(sim.run(&format!("rx 1 {}", hexs(&f))).is_empty());
    let t = sim.device().with_datapath(|dp| dp.totals()).unwrap();
    assert_eq!((t.n_lost, t.n_recirc_dropped), (0, 1));
    assert_eq!(t.n_hit, 1 + ovsext::datapath::receive::RECIRC_LIMIT as u64);
}

/// A chain longer than one lookup batch, mixing hits, misses, a runt and a
/// frame from a port no vport is bound to: every frame is handled as if it
/// came alone, and the hits leave in the order they came.
#[test]
fn chains_are_looked_up_in_batches_and_stay_in_order() {
    use ovsext::packet::OwnedPacket;

    let mut sim = setup();
    install(&mut sim, 1, IPV4_FROM_1, &output(2));
    let mut chain = Vec::new();
    let mut want = Vec::new();
    let (mut misses, mut runts) = (0, 0);
    for i in 0..150u16 {
        let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000 + i, 53);
        // More than a batch's worth of frames in a row are malformed.
        let kind = if (40..110).contains(&i) { 5 } else { i % 7 };
        let (port, frame) = match kind {
            3 => {
                misses += 1;
                (2, f)
            }
            5 => {
                runts += 1;
                (1, f[..13].to_vec())
            }
            6 => (9, f),
            _ => {
                want.push((2, f.clone()));
                (1, f)
            }
        };
        chain.push(((port, 0), OwnedPacket::from_frame(&frame).unwrap()));
    }
    let mut sent = Sent::default();
    receive_chain(&sim, chain, &mut sent);
    assert_eq!(sent.0, want);
    let t = sim.device().with_datapath(|dp| dp.totals()).unwrap();
    assert_eq!(
        (t.n_hit, t.n_missed, t.n_lost),
        (want.len() as u64, misses, 0)
    );
    let errors = sim
        .device()
        .with_datapath(|dp| {
            let ports = dp.ports.read();
            ports
                .vports
                .get(1)
                .unwrap()
                .stats
                .rx_errors
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .unwrap();
    assert_eq!(errors, runts);
}
