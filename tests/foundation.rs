//! Scenarios of the control device as ovs-vswitchd drives it (reference
//! §7.4b), through `ovsext-sim`'s script interface.

mod common;

use common::*;
use ovsext::sim::Sim;

const CTRL: u16 = 0x11;
const DP: u16 = 0x12;
const VPORT: u16 = 0x14;
const NETDEV: u16 = 0x16;

const EEXIST: i32 = -17;
const ENODEV: i32 = -19;
const EINVAL: i32 = -22;
const EOPNOTSUPP: i32 = -130;

/// `open` + `GET_PID` + `SOCK_PROP`, as `nl_sock_create` does; returns the PID.
fn nl_sock_create(sim: &mut Sim, h: u32, proto: u32) -> u32 {
    assert!(sim.run(&format!("open {h}")).is_empty());
    let line = one(sim, &format!("ioctl {h} GET_PID - 4"));
    let (status, b) = result(&line);
    assert_eq!(status, "SUCCESS");
    let pid = u32_of(&b);
    let req = Req::new(CTRL, 6, 1, 1, pid)
        .flags(0)
        .u32(0, proto)
        .u32(1, pid);
    let (hdr, a) = reply(&one(sim, &ioctl(h, "TRANSACT", &req)));
    assert_eq!(
        (hdr.ty, hdr.flags, hdr.seq, hdr.pid, hdr.cmd, hdr.version),
        (CTRL, NLM_F_MULTI, 1, pid, 6, 1)
    );
    assert_eq!(
        a,
        vec![
            (1, pid.to_ne_bytes().to_vec()),
            (0, proto.to_ne_bytes().to_vec())
        ]
    );
    pid
}

fn dp_req(cmd: u8, seq: u32, pid: u32, features: u32) -> Req {
    let r = Req::new(DP, cmd, 2, seq, pid)
        .flags(NLM_F_REQUEST | NLM_F_ECHO)
        .str(1, "ovs-system")
        .u32(2, 0);
    if features != 0 { r.u32(5, features) } else { r }
}

fn started() -> Sim {
    let mut sim = Sim::new();
    assert!(
        sim.run("switch up\nport 1 external Ethernet0\nport 2 internal br-int\nport 3 vm vm1\n")
            .is_empty()
    );
    sim
}

/// Datapath open, as `dpif_netlink_open` does against this driver.
#[test]
fn vswitchd_startup_datapath_negotiation() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    assert_eq!(pid, 1);
    let r = dp_req(1, 2, pid, 1 | 2 | (1 << 31));
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), EEXIST);
    let r = dp_req(1, 3, pid, 1 | 8);
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), EEXIST);
    // Open: GET, then feature negotiation by SET.
    let r = dp_req(3, 4, pid, 0);
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    assert_eq!(
        (
            hdr.ty,
            hdr.flags,
            hdr.seq,
            hdr.pid,
            hdr.cmd,
            hdr.version,
            hdr.dp_ifindex
        ),
        (DP, 0, 4, pid, 3, 2, 0)
    );
    assert_eq!(get(&a, 1), b"ovs-system\0");
    assert_eq!(get(&a, 3), &[0u8; 32][..]);
    assert_eq!(get(&a, 4).len(), 32);
    assert_eq!(u32_of(get(&a, 5)), 0);
    let r = dp_req(4, 5, pid, 1 | 2 | (1 << 31));
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r),
        EOPNOTSUPP,
        "unknown feature refused"
    );
    let r = dp_req(4, 6, pid, 1 | 8);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r),
        EOPNOTSUPP,
        "per-cpu dispatch refused"
    );
    let r = dp_req(4, 7, pid, 1 | 2);
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    assert_eq!(hdr.seq, 7);
    assert_eq!(u32_of(get(&a, 5)), 3, "UNALIGNED|VPORT_PIDS reported back");
    let r = dp_req(4, 8, pid, 1 | 2 | 4);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r),
        EOPNOTSUPP,
        "tc recirc sharing refused"
    );
    let r = dp_req(3, 9, pid, 0);
    assert_eq!(
        u32_of(get(&reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r))).1, 5)),
        3,
        "a refused SET changes nothing"
    );
}

#[test]
fn datapath_lookup_rules() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    let other = Req::new(DP, 1, 2, 2, pid).str(1, "br0");
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &other)), &other),
        ENODEV
    );
    let get_other = Req::new(DP, 3, 2, 3, pid).str(1, "br0");
    assert_eq!(
        errno(
            &one(&mut sim, &ioctl(1, "TRANSACT", &get_other)),
            &get_other
        ),
        ENODEV
    );
    let by_index = Req::new(DP, 3, 2, 4, pid);
    assert_eq!(
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &by_index)))
            .0
            .seq,
        4
    );
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &by_index)));
    assert_eq!(u32_of(get(&a, 7)), 1024, "the mask cache size");
    let resize = Req::new(DP, 4, 2, 10, pid)
        .str(1, "ovs-system")
        .u32(7, 2048);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &resize)), &resize),
        EOPNOTSUPP
    );
    let same = Req::new(DP, 4, 2, 11, pid)
        .str(1, "ovs-system")
        .u32(7, 1024);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &same)));
    let bad_index = Req::new(DP, 3, 2, 5, pid).dp(7);
    assert_eq!(
        errno(
            &one(&mut sim, &ioctl(1, "TRANSACT", &bad_index)),
            &bad_index
        ),
        ENODEV
    );
    let set_other = Req::new(DP, 4, 2, 6, pid).str(1, "br0");
    assert_eq!(
        errno(
            &one(&mut sim, &ioctl(1, "TRANSACT", &set_other)),
            &set_other
        ),
        -129
    );
    let no_name = Req::new(DP, 1, 2, 7, pid);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &no_name)), &no_name),
        EINVAL
    );
    // DEL is not a command of this datapath: the IOCTL itself fails.
    let del = Req::new(DP, 2, 2, 8, pid).str(1, "ovs-system");
    assert_eq!(
        one(&mut sim, &ioctl(1, "TRANSACT", &del)),
        "ioctl 1 TRANSACT INVALID_PARAMETER -"
    );
    // An old version of the family is refused.
    let v1 = Req::new(DP, 3, 1, 9, pid);
    assert_eq!(
        one(&mut sim, &ioctl(1, "TRANSACT", &v1)),
        "ioctl 1 TRANSACT INVALID_PARAMETER -"
    );
}

#[test]
fn datapath_dump_is_one_message() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    let d = Req::new(DP, 3, 2, 10, pid).flags(NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &d)),
        "ioctl 1 WRITE SUCCESS -"
    );
    let (hdr, a) = reply(&one(&mut sim, "ioctl 1 READ -"));
    assert_eq!((hdr.ty, hdr.seq, hdr.pid, hdr.cmd), (DP, 10, pid, 3));
    assert_eq!(get(&a, 1), b"ovs-system\0");
    assert_eq!(one(&mut sim, "ioctl 1 READ -"), "ioctl 1 READ SUCCESS -");
    assert_eq!(sim.device().live().dumps, 0);
    let not_dump = Req::new(DP, 3, 2, 11, pid);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &not_dump)),
        "ioctl 1 WRITE INVALID_PARAMETER -"
    );
}

fn vport_new(seq: u32, pid: u32, ty: u32, name: &str, upcall_pid: u32) -> Req {
    Req::new(VPORT, 1, 1, seq, pid)
        .flags(NLM_F_REQUEST | NLM_F_ECHO)
        .u32(2, ty)
        .str(3, name)
        .u32(5, upcall_pid)
}

#[test]
fn vswitchd_startup_ports() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    // The upcall handler socket subscribes to packets.
    let handler = nl_sock_create(&mut sim, 2, 16);
    let sub = Req::new(CTRL, 3, 1, 1, handler)
        .flags(0)
        .u8(2, 1)
        .u32(3, handler);
    assert_eq!(
        one(&mut sim, &ioctl(2, "WRITE", &sub)),
        "ioctl 2 WRITE SUCCESS -"
    );
    // Port enumeration: an empty dump.
    let dump = Req::new(VPORT, 3, 1, 2, pid).flags(NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &dump)),
        "ioctl 1 WRITE SUCCESS -"
    );
    assert_eq!(one(&mut sim, "ioctl 1 READ -"), "ioctl 1 READ SUCCESS -");
    // The netdev socket learns about the NICs.
    let ndpid = nl_sock_create(&mut sim, 4, 16);
    let q = Req::new(NETDEV, 1, 1, 3, ndpid).str(3, "vm1");
    let (hdr, a) = reply(&one(&mut sim, &ioctl(4, "TRANSACT", &q)));
    assert_eq!((hdr.ty, hdr.flags, hdr.seq), (NETDEV, NLM_F_MULTI, 3));
    assert_eq!(u32_of(get(&a, 1)), 65535, "not yet a datapath port");
    assert_eq!(u32_of(get(&a, 2)), 1);
    assert_eq!(get(&a, 3), b"vm1\0");
    assert_eq!(get(&a, 4), &[0x00, 0x15, 0x5d, 0, 0, 3]);
    assert_eq!(u32_of(get(&a, 5)), 1500);
    assert_eq!(u32_of(get(&a, 6)), 1, "IFF_UP");
    let q = Req::new(NETDEV, 1, 1, 4, ndpid).str(3, "nope");
    assert_eq!(errno(&one(&mut sim, &ioctl(4, "TRANSACT", &q)), &q), ENODEV);
    // Ports are added with the handler's PID.
    for (seq, (ty, name)) in [(1u32, "Ethernet0"), (2, "br-int"), (1, "vm1")]
        .into_iter()
        .enumerate()
    {
        let r = vport_new(10 + seq as u32, pid, ty, name, handler);
        let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
        assert_eq!(
            (hdr.ty, hdr.flags, hdr.cmd, hdr.version),
            (VPORT, NLM_F_MULTI, 1, 1)
        );
        assert_eq!(u32_of(get(&a, 1)), seq as u32 + 1, "port numbers from 1");
        assert_eq!(u32_of(get(&a, 2)), ty);
        assert_eq!(get(&a, 3), format!("{name}\0").as_bytes());
        assert_eq!(get(&a, 5), handler.to_ne_bytes());
        assert_eq!(get(&a, 6), &[0u8; 64][..]);
    }
    let dup = vport_new(20, pid, 1, "vm1", handler);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &dup)), &dup),
        EEXIST
    );
    let absent = vport_new(21, pid, 1, "vm9", handler);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &absent)), &absent),
        ENODEV
    );
    // Tunnel port with a destination port option.
    let mut vx = Req::new(VPORT, 1, 1, 22, pid)
        .u32(2, 4)
        .str(3, "vxlan_sys_4789");
    vx = vx.raw(4, &attr(1, &4789u16.to_ne_bytes())).u32(5, handler);
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &vx)));
    assert_eq!(u32_of(get(&a, 1)), 4);
    assert_eq!(
        nested(get(&a, 4)),
        vec![(1, 4789u16.to_ne_bytes().to_vec())]
    );
    // The port dump lists them all, one per READ, then 0 bytes.
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &dump)),
        "ioctl 1 WRITE SUCCESS -"
    );
    for n in 1..=4u32 {
        let (hdr, a) = reply(&one(&mut sim, "ioctl 1 READ -"));
        assert_eq!((hdr.seq, hdr.cmd, hdr.flags), (2, 3, NLM_F_MULTI));
        assert_eq!(u32_of(get(&a, 1)), n);
    }
    assert_eq!(one(&mut sim, "ioctl 1 READ -"), "ioctl 1 READ SUCCESS -");
    // Lookup by name and by number; errors.
    let by_name = Req::new(VPORT, 3, 1, 30, pid).str(3, "br-int");
    assert_eq!(
        u32_of(get(
            &reply(&one(&mut sim, &ioctl(1, "TRANSACT", &by_name))).1,
            1
        )),
        2
    );
    let by_no = Req::new(VPORT, 3, 1, 31, pid).u32(1, 3);
    assert_eq!(
        get(&reply(&one(&mut sim, &ioctl(1, "TRANSACT", &by_no))).1, 3),
        b"vm1\0"
    );
    let neither = Req::new(VPORT, 3, 1, 32, pid);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &neither)), &neither),
        EINVAL
    );
    let missing = Req::new(VPORT, 3, 1, 33, pid).u32(1, 99);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &missing)), &missing),
        ENODEV
    );
    // SET: upcall PIDs change; type change refused.
    let set = Req::new(VPORT, 4, 1, 34, pid)
        .u32(1, 3)
        .raw(5, &[7u32.to_ne_bytes(), 8u32.to_ne_bytes()].concat());
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &set)));
    assert_eq!(hdr.cmd, 4);
    assert_eq!(get(&a, 5).len(), 8);
    let retype = Req::new(VPORT, 4, 1, 35, pid).u32(1, 3).u32(2, 2);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &retype)), &retype),
        EINVAL
    );
    // DEL answers with the port as it was.
    let del = Req::new(VPORT, 2, 1, 36, pid).str(3, "vm1");
    let (hdr, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &del)));
    assert_eq!((hdr.cmd, u32_of(get(&a, 1))), (2, 3));
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &del)), &del),
        ENODEV
    );
}

#[test]
fn pid_must_match_the_handle() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    nl_sock_create(&mut sim, 2, 16);
    let r = dp_req(3, 1, pid + 1, 0);
    assert_eq!(
        one(&mut sim, &ioctl(1, "TRANSACT", &r)),
        "ioctl 1 TRANSACT INVALID_PARAMETER -"
    );
    let sub = Req::new(CTRL, 3, 1, 1, pid).u8(2, 1).u32(3, pid + 1);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &sub)),
        "ioctl 1 WRITE INVALID_PARAMETER -",
        "packet PID must be the handle's own"
    );
    let prop = Req::new(CTRL, 6, 1, 2, pid).u32(1, pid + 1);
    assert_eq!(
        errno(&one(&mut sim, &ioctl(1, "TRANSACT", &prop)), &prop),
        EINVAL
    );
}

#[test]
fn requests_without_a_switch_are_not_found() {
    let mut sim = Sim::new();
    one_or_none(&mut sim, "open 1");
    for code in [
        "GET_PID",
        "READ",
        "READ_EVENT",
        "READ_PACKET",
        "WRITE",
        "TRANSACT",
        "0x1234",
    ] {
        assert_eq!(
            one(&mut sim, &format!("ioctl 1 {code} -")),
            format!("ioctl 1 {code} NOT_FOUND -")
        );
    }
    assert!(sim.run("switch up").is_empty());
    assert_eq!(
        one(&mut sim, "ioctl 1 GET_PID - 4"),
        "ioctl 1 GET_PID SUCCESS 01000000"
    );
    assert!(sim.run("switch down").is_empty());
    assert_eq!(
        one(&mut sim, "ioctl 1 GET_PID - 4"),
        "ioctl 1 GET_PID NOT_FOUND -"
    );
}

fn one_or_none(sim: &mut Sim, line: &str) {
    assert!(sim.run(line).is_empty(), "{line}");
}

#[test]
fn buffer_rules() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    assert_eq!(
        one(&mut sim, "ioctl 1 GET_PID - 0"),
        "ioctl 1 GET_PID NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 1 GET_PID - 3"),
        "ioctl 1 GET_PID NDIS_INVALID_LENGTH -"
    );
    let r = dp_req(3, 1, pid, 0);
    assert_eq!(
        one(&mut sim, &format!("ioctl 1 TRANSACT {} 35", r.hex())),
        "ioctl 1 TRANSACT NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, &format!("ioctl 1 TRANSACT {} 0", r.hex())),
        "ioctl 1 TRANSACT NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, &format!("ioctl 1 TRANSACT {}", &r.hex()[..46])),
        "ioctl 1 TRANSACT NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 1 WRITE 00"),
        "ioctl 1 WRITE NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 1 READ - 35"),
        "ioctl 1 READ NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 1 READ_EVENT - 0"),
        "ioctl 1 READ_EVENT NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 1 READ_PACKET - 20"),
        "ioctl 1 READ_PACKET NDIS_INVALID_LENGTH -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 1 0xafc84412 -"),
        "ioctl 1 0xafc84412 INVALID_DEVICE_REQUEST -"
    );
    // nlmsg_len beyond the buffer, unknown family, unknown command.
    let mut long = r.bytes();
    long[0] = 200;
    assert_eq!(
        one(
            &mut sim,
            &format!("ioctl 1 TRANSACT {}", ovsext::sim::hex(&long))
        ),
        "ioctl 1 TRANSACT INVALID_PARAMETER -"
    );
    let fam = Req::new(0x40, 1, 1, 1, pid);
    assert_eq!(
        one(&mut sim, &ioctl(1, "TRANSACT", &fam)),
        "ioctl 1 TRANSACT INVALID_PARAMETER -"
    );
    let cmd = Req::new(DP, 9, 2, 1, pid);
    assert_eq!(
        one(&mut sim, &ioctl(1, "TRANSACT", &cmd)),
        "ioctl 1 TRANSACT INVALID_PARAMETER -"
    );
    // A command on an operation it does not take (GET_PID-free SOCK_PROP on WRITE).
    let prop = Req::new(CTRL, 6, 1, 2, pid).u32(0, 16);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &prop)),
        "ioctl 1 WRITE INVALID_PARAMETER -"
    );
    // Malformed attributes.
    let bad = Req::new(DP, 3, 2, 3, pid).raw(1, b"ovs-system\0");
    let mut b = bad.bytes();
    b[24] = 99;
    assert_eq!(
        one(
            &mut sim,
            &format!("ioctl 1 TRANSACT {}", ovsext::sim::hex(&b))
        ),
        "ioctl 1 TRANSACT INVALID_PARAMETER -"
    );
}

#[test]
fn dump_then_close_mid_dump_frees_the_state() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    let handler = 1;
    for (i, name) in ["Ethernet0", "vm1"].iter().enumerate() {
        let r = vport_new(i as u32 + 2, pid, 1, name, handler);
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    let dump = Req::new(VPORT, 3, 1, 9, pid).flags(NLM_F_REQUEST | NLM_F_DUMP);
    one(&mut sim, &ioctl(1, "WRITE", &dump));
    reply(&one(&mut sim, "ioctl 1 READ -"));
    assert_eq!(sim.device().live().dumps, 1);
    // A new dump replaces the old one.
    one(&mut sim, &ioctl(1, "WRITE", &dump));
    assert_eq!(sim.device().live().dumps, 1);
    assert!(sim.run("close 1").is_empty());
    let live = sim.device().live();
    assert_eq!((live.handles, live.dumps), (0, 0));
}

/// The port notifier: join the vport group, pend, and be woken by a port.
fn notifier(sim: &mut Sim, h: u32) -> u32 {
    let pid = nl_sock_create(sim, h, 16);
    let join = Req::new(CTRL, 2, 1, 1, pid).u32(0, 101).u8(1, 1);
    assert_eq!(
        one(sim, &ioctl(h, "WRITE", &join)),
        format!("ioctl {h} WRITE SUCCESS -")
    );
    pid
}

fn pend_event(h: u32, pid: u32) -> String {
    ioctl(h, "WRITE", &Req::new(CTRL, 0, 1, 2, pid))
}

#[test]
fn pended_event_request_completed_by_a_port() {
    let mut sim = started();
    let pid = notifier(&mut sim, 3);
    assert_eq!(
        one(&mut sim, &pend_event(3, pid)),
        "ioctl 3 WRITE PENDING -"
    );
    assert_eq!(
        one(&mut sim, &pend_event(3, pid)),
        "ioctl 3 WRITE DEVICE_BUSY -"
    );
    assert_eq!(one(&mut sim, "port 7 vm vm7"), "complete 3 WRITE SUCCESS -");
    let (hdr, a) = reply(&one(&mut sim, "ioctl 3 READ_EVENT -"));
    assert_eq!(
        (
            hdr.ty,
            hdr.flags,
            hdr.seq,
            hdr.pid,
            hdr.cmd,
            hdr.version,
            hdr.dp_ifindex
        ),
        (VPORT, 0, 0, pid, 1, 1, 0)
    );
    assert_eq!(u32_of(get(&a, 1)), 65535);
    assert_eq!(u32_of(get(&a, 2)), 1);
    assert_eq!(u32_of(get(&a, 5)), 0);
    assert_eq!(get(&a, 3), b"vm7\0");
    assert_eq!(
        one(&mut sim, "ioctl 3 READ_EVENT -"),
        "ioctl 3 READ_EVENT SUCCESS -"
    );
    // The port leaves: a DEL event; pending while events wait answers at once.
    assert!(sim.run("unport 7").is_empty());
    assert_eq!(
        one(&mut sim, &pend_event(3, pid)),
        "ioctl 3 WRITE SUCCESS -"
    );
    let (hdr, a) = reply(&one(&mut sim, "ioctl 3 READ_EVENT -"));
    assert_eq!((hdr.cmd, get(&a, 3)), (2, &b"vm7\0"[..]));
}

#[test]
fn vport_events_follow_the_vport() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 16);
    let npid = notifier(&mut sim, 3);
    let r = vport_new(2, pid, 1, "vm1", 9);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    let (hdr, a) = reply(&one(&mut sim, "ioctl 3 READ_EVENT -"));
    assert_eq!(
        (hdr.cmd, hdr.pid, u32_of(get(&a, 1)), u32_of(get(&a, 5))),
        (1, npid, 1, 9)
    );
    let out = sim.run("unport 3\nport 3 vm vm1\n");
    assert!(out.is_empty(), "{out:?}");
    let (hdr, a) = reply(&one(&mut sim, "ioctl 3 READ_EVENT -"));
    assert_eq!(
        (hdr.cmd, u32_of(get(&a, 1))),
        (2, 1),
        "DEL keeps the port number"
    );
    let (hdr, a) = reply(&one(&mut sim, "ioctl 3 READ_EVENT -"));
    assert_eq!(
        (hdr.cmd, u32_of(get(&a, 1))),
        (1, 1),
        "NEW when the NIC comes back"
    );
}

#[test]
fn unsubscribe_completes_pended_requests() {
    let mut sim = started();
    let pid = notifier(&mut sim, 3);
    assert_eq!(
        one(&mut sim, &pend_event(3, pid)),
        "ioctl 3 WRITE PENDING -"
    );
    let leave = Req::new(CTRL, 2, 1, 3, pid).u32(0, 101).u8(1, 0);
    let out = sim.run(&ioctl(3, "WRITE", &leave));
    assert_eq!(
        out,
        vec!["complete 3 WRITE SUCCESS -", "ioctl 3 WRITE SUCCESS -"]
    );
    assert_eq!(
        one(&mut sim, &pend_event(3, pid)),
        "ioctl 3 WRITE INVALID_PARAMETER -",
        "no queue any more"
    );
    // Packets: subscribe, pend, unsubscribe.
    let h = nl_sock_create(&mut sim, 4, 16);
    let sub = Req::new(CTRL, 3, 1, 1, h).u8(2, 1).u32(3, h);
    one(&mut sim, &ioctl(4, "WRITE", &sub));
    assert_eq!(
        one(&mut sim, &ioctl(4, "WRITE", &sub)),
        "ioctl 4 WRITE INVALID_PARAMETER -",
        "subscribed twice"
    );
    let pend = Req::new(CTRL, 1, 1, 2, h);
    assert_eq!(
        one(&mut sim, &ioctl(4, "WRITE", &pend)),
        "ioctl 4 WRITE PENDING -"
    );
    assert_eq!(
        one(&mut sim, &ioctl(4, "WRITE", &pend)),
        "ioctl 4 WRITE DEVICE_BUSY -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 4 READ_PACKET -"),
        "ioctl 4 READ_PACKET SUCCESS -"
    );
    assert_eq!(
        one(&mut sim, "ioctl 4 READ_PACKET - 419"),
        "ioctl 4 READ_PACKET BUFFER_TOO_SMALL -"
    );
    let unsub = Req::new(CTRL, 3, 1, 3, h).u8(2, 0).u32(3, h);
    assert_eq!(
        sim.run(&ioctl(4, "WRITE", &unsub)),
        vec!["complete 4 WRITE SUCCESS -", "ioctl 4 WRITE SUCCESS -"]
    );
    let (status, b) = result(&one(&mut sim, "ioctl 4 READ_PACKET -"));
    assert_eq!(status, "SUCCESS");
    let hdr = ovsext::netlink::MsgHeader::read(&[b.clone(), vec![0; 8]].concat()).unwrap();
    assert_eq!(
        (
            hdr.ty,
            b.len(),
            i32::from_ne_bytes(b[16..20].try_into().unwrap())
        ),
        (2, 36, EINVAL),
        "no queue: NLMSG_ERROR"
    );
    assert_eq!(sim.device().live().pended, 0);
}

#[test]
fn close_completes_pended_requests_with_zero_bytes() {
    let mut sim = started();
    let pid = notifier(&mut sim, 3);
    one(&mut sim, &pend_event(3, pid));
    let sub = Req::new(CTRL, 3, 1, 1, pid).u8(2, 1).u32(3, pid);
    one(&mut sim, &ioctl(3, "WRITE", &sub));
    one(&mut sim, &ioctl(3, "WRITE", &Req::new(CTRL, 1, 1, 2, pid)));
    assert_eq!(sim.device().live().pended, 2);
    let out = sim.run("close 3");
    assert_eq!(out.len(), 2);
    assert!(
        out.iter().all(|l| l == "complete 3 WRITE SUCCESS -"),
        "{out:?}"
    );
    assert_eq!(sim.device().live(), ovsext::ioctl::LiveCounts::default());
}

#[test]
fn switch_detach_frees_queues_and_completes_requests() {
    let mut sim = started();
    let pid = notifier(&mut sim, 3);
    one(&mut sim, &pend_event(3, pid));
    assert_eq!(sim.run("switch down"), vec!["complete 3 WRITE SUCCESS -"]);
    assert_eq!(
        one(&mut sim, &pend_event(3, pid)),
        "ioctl 3 WRITE NOT_FOUND -"
    );
    assert!(sim.run("switch up").is_empty());
    assert_eq!(
        one(&mut sim, &pend_event(3, pid)),
        "ioctl 3 WRITE INVALID_PARAMETER -",
        "subscriptions died with the switch"
    );
}

#[test]
fn handle_limit() {
    let mut sim = started();
    for h in 1..=512 {
        assert!(sim.run(&format!("open {h}")).is_empty());
    }
    // Line 517 of the run: four set-up lines, 512 opens, then this one.
    assert_eq!(
        one(&mut sim, "open 513"),
        "error 517 open failed: INSUFFICIENT_RESOURCES"
    );
    assert_eq!(
        one(&mut sim, "ioctl 512 GET_PID - 4"),
        "ioctl 512 GET_PID SUCCESS 00020000"
    );
    assert!(sim.run("close 100\nopen 513").is_empty());
    assert_eq!(
        one(&mut sim, "ioctl 513 GET_PID - 4"),
        "ioctl 513 GET_PID SUCCESS 01020000",
        "PIDs are never reused"
    );
    assert_eq!(sim.device().live().handles, 512);
}

#[test]
fn netfilter_subscriptions_use_ct_groups() {
    let mut sim = started();
    let pid = nl_sock_create(&mut sim, 1, 12);
    let vport_grp = Req::new(CTRL, 2, 1, 1, pid).u32(0, 101).u8(1, 1);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &vport_grp)),
        "ioctl 1 WRITE INVALID_PARAMETER -"
    );
    for g in 1..=3u32 {
        let join = Req::new(CTRL, 2, 1, 1 + g, pid).u32(0, g).u8(1, 1);
        assert_eq!(
            one(&mut sim, &ioctl(1, "WRITE", &join)),
            "ioctl 1 WRITE SUCCESS -"
        );
    }
    assert_eq!(
        one(&mut sim, "ioctl 1 READ_EVENT -"),
        "ioctl 1 READ_EVENT SUCCESS -"
    );
}

#[test]
fn script_errors_do_not_stop_the_replay() {
    let mut sim = Sim::new();
    let out = sim.run(
        "bogus\nport 1 vm a\nswitch up\nport 1 vm a\nport 1 vm b\nioctl 9 READ -\nopen 1\nopen 1\n",
    );
    assert_eq!(
        out,
        vec![
            "error 1 unknown command: bogus",
            "error 2 no switch is attached",
            "error 5 port 1 refused: Duplicate",
            "error 6 handle 9 is not open",
            "error 8 handle 1 is already open",
        ]
    );
}
