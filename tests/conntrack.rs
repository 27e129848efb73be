//! Connection tracking through the control device and the switch:
//! ovs-vswitchd's feature probes, CT actions at install, and packets
//! through `ct` + `recirc` pipelines.

mod common;

use common::*;

const PACKET: u16 = 0x13;
const VPORT: u16 = 0x14;
const FLOW: u16 = 0x15;

const EINVAL: i32 = -22;

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

use ovsext::ovs::key as k;

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
    let all_ones = [127, 255, 255, 255];
    f.extend(ipv4_packet(
        all_ones,
        all_ones,
        17,
        &[0, 0, 0, 0, 0, 8, 0, 0],
    ));
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
        assert_eq!(probe_execute(&mut sim, &ct), 0);
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

// ---- packets through ct + recirc pipelines ----

const VM1: [u8; 4] = [10, 0, 0, 1];
const VM2: [u8; 4] = [10, 0, 0, 2];

/// An Ethernet/IPv4 frame carrying `l4` (IP and TCP/UDP checksums right).
fn ipv4_frame(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 8, 0];
    f.extend(ipv4_packet(src, dst, proto, l4));
    let l4_sum = ovsext::offload::Checksums {
        ip: false,
        tcp: proto == 6,
        udp: proto == 17,
    };
    ovsext::offload::complete_checksums(&mut f, l4_sum).unwrap();
    f
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

fn tcp(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    data: usize,
) -> Vec<u8> {
    ipv4_frame(src, dst, 6, &tcp_segment(ports, flags, seq, ack, data))
}

/// A TCP header (no options, checksum 0) and `data` bytes of data.
fn tcp_segment(ports: (u16, u16), flags: u8, seq: u32, ack: u32, data: usize) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&ports.0.to_be_bytes());
    h.extend_from_slice(&ports.1.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&ack.to_be_bytes());
    h.extend_from_slice(&[0x50, flags, 0x20, 0x00, 0, 0, 0, 0]);
    h.extend(std::iter::repeat_n(b'x', data));
    h
}

fn udp(src: [u8; 4], dst: [u8; 4], ports: (u16, u16)) -> Vec<u8> {
    ipv4_frame(src, dst, 17, &udp_datagram(ports))
}

/// A UDP header (checksum 0) and five bytes of data.
fn udp_datagram(ports: (u16, u16)) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&ports.0.to_be_bytes());
    h.extend_from_slice(&ports.1.to_be_bytes());
    h.extend_from_slice(&[0, 13, 0, 0]);
    h.extend_from_slice(b"hello");
    h
}

fn hexs(b: &[u8]) -> String {
    ovsext::sim::hex(b)
}

/// Every frame through `ct(zone=1)` then, by state: new from vm1 is
/// committed and goes to vm2, established goes on both ways, replies
/// return to vm1, invalid is dropped. `commit` is the committing CT action.
fn firewall(commit: &str) -> Sim {
    pipeline("ct(zone=1)", commit)
}

/// `firewall` with `first` as the first CT action.
fn pipeline(first: &str, commit: &str) -> Sim {
    pipeline_of("eth(),eth_type(0x0800),ipv4(frag=no)", first, commit)
}

/// `pipeline` for frames matching `base`.
fn pipeline_of(base: &str, first: &str, commit: &str) -> Sim {
    let mut sim = setup();
    let flows = [
        (
            format!("recirc_id(0),in_port(1),{base}"),
            format!("{first},recirc(1)"),
        ),
        (
            format!("recirc_id(0),in_port(2),{base}"),
            format!("{first},recirc(1)"),
        ),
        (
            format!("recirc_id(1),ct_state(+new-est+trk),in_port(1),{base}"),
            format!("{commit},2"),
        ),
        (
            format!("recirc_id(1),ct_state(-new+est-rpl+trk),in_port(1),{base}"),
            "2".to_string(),
        ),
        (
            format!("recirc_id(1),ct_state(+est+rpl+trk),in_port(2),{base}"),
            "1".to_string(),
        ),
        (
            format!("recirc_id(1),ct_state(+rel+rpl+trk),in_port(2),{base}"),
            "1".to_string(),
        ),
        (
            format!("recirc_id(1),ct_state(+inv+trk),{base}"),
            "drop".to_string(),
        ),
    ];
    for (i, (flow, actions)) in flows.iter().enumerate() {
        install_text(&mut sim, 100 + i as u32, flow, actions);
    }
    sim
}

/// Sends `frame` in from `port`; the ports it leaves by.
fn send(sim: &mut Sim, port: u32, frame: &[u8]) -> Vec<u32> {
    sim.run(&format!("rx {port} {}", hexs(frame)))
        .iter()
        .filter_map(|l| l.strip_prefix("tx "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// A TCP segment with a given window and options (padded to words).
#[allow(clippy::too_many_arguments)]
fn tcp_win(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    win: u16,
    opts: &[u8],
    data: usize,
) -> Vec<u8> {
    let mut opts = opts.to_vec();
    while !opts.len().is_multiple_of(4) {
        opts.push(1);
    }
    let mut h = Vec::new();
    h.extend_from_slice(&ports.0.to_be_bytes());
    h.extend_from_slice(&ports.1.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&ack.to_be_bytes());
    h.push((((20 + opts.len()) / 4) << 4) as u8);
    h.push(flags);
    h.extend_from_slice(&win.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h.extend(opts);
    h.extend(std::iter::repeat_n(b'd', data));
    ipv4_frame(src, dst, 6, &h)
}

/// A bulk transfer with window scaling, as hosts send it: a window of
/// megabytes in flight before the first acknowledgement, delayed and
/// cumulative acknowledgements, a retransmission of data already
/// acknowledged, keepalives and a zero-window probe: every segment is
/// valid and goes through.
#[test]
fn a_bulk_transfer_with_window_scaling_goes_through() {
    let mut sim = firewall("ct(commit,zone=1)");
    let (p, r) = ((40000, 80), (80, 40000));
    let (mss, ws7) = ([2, 4, 5, 0xb4], [3, 3, 7]);
    let syn_opts = [&mss[..], &[1], &ws7[..]].concat();
    let c = |sim: &mut Sim, flags, seq, ack, win, data| {
        send(
            sim,
            1,
            &tcp_win(VM1, VM2, p, flags, seq, ack, win, &[], data),
        )
    };
    let s = |sim: &mut Sim, flags, seq, ack, win, data| {
        send(
            sim,
            2,
            &tcp_win(VM2, VM1, r, flags, seq, ack, win, &[], data),
        )
    };
    let syn = tcp_win(VM1, VM2, p, SYN, 1000, 0, 65535, &syn_opts, 0);
    assert_eq!(send(&mut sim, 1, &syn), vec![2]);
    let synack = tcp_win(VM2, VM1, r, SYN | ACK, 5000, 1001, 65535, &syn_opts, 0);
    assert_eq!(send(&mut sim, 2, &synack), vec![1]);
    // The client's window: 16384 << 7 = 2 MiB.
    assert_eq!(c(&mut sim, ACK, 1001, 5001, 16384, 0), vec![2]);
    assert_eq!(c(&mut sim, ACK | PSH, 1001, 5001, 16384, 100), vec![2]);
    // The server sends 1200 segments (1.7 MB) before any acknowledgement,
    // then the client acknowledges every second one, late.
    let seg = 1448u32;
    let mut seq = 5001u32;
    for i in 0..1200u32 {
        assert_eq!(
            s(&mut sim, ACK, seq, 1101, 512, seg as usize),
            vec![1],
            "segment {i}"
        );
        seq = seq.wrapping_add(seg);
    }
    for i in (2..=1200u32).step_by(2) {
        let ack = 5001 + i * seg;
        assert_eq!(c(&mut sim, ACK, 1101, ack, 16384, 0), vec![2], "ack {i}");
    }
    // A segment sent again after it was acknowledged.
    assert_eq!(
        s(&mut sim, ACK, seq - 10 * seg, 1101, 512, seg as usize),
        vec![1]
    );
    // Keepalives both ways (one byte before what the other end has
    // acknowledged), and a probe of a closed window.
    assert_eq!(c(&mut sim, ACK, 1100, seq, 16384, 0), vec![2]);
    assert_eq!(c(&mut sim, ACK, 1100, seq, 16384, 1), vec![2]);
    assert_eq!(s(&mut sim, ACK, seq - 1, 1101, 512, 0), vec![1]);
    assert_eq!(c(&mut sim, ACK, 1101, seq, 0, 0), vec![2], "zero window");
    assert_eq!(s(&mut sim, ACK, seq, 1101, 512, 1), vec![1], "window probe");
}

/// A frame its sender left the NIC to cut (LSO).
struct LargeSend(ovsext::packet::OwnedPacket);

impl ovsext::packet::Packet for LargeSend {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        self.0.data_mut()
    }
    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        self.0.push_front(n)
    }
    fn pull_front(&mut self, n: usize) -> bool {
        self.0.pull_front(n)
    }
    fn truncate(&mut self, len: usize) {
        self.0.truncate(len)
    }
    fn oob_vlan(&self) -> Option<u16> {
        None
    }
    fn set_oob_vlan(&mut self, _: Option<u16>) {}
    fn offload(&self) -> ovsext::offload::Request {
        ovsext::offload::Request {
            checksums: ovsext::offload::Checksums::NONE,
            lso: Some(ovsext::offload::Lso {
                mss: 1448,
                v2: true,
            }),
        }
    }
    fn try_clone(&self) -> Option<LargeSend> {
        self.0.try_clone().map(LargeSend)
    }
}

/// A large send from a VM comes through the tracker whole, its IPv4 total
/// length left zero as LSOv2 senders leave it (more than 64 KiB does not
/// fit in it): its payload is the rest of the frame, and the connection
/// follows it.
#[test]
fn a_large_send_with_a_zero_ip_length_is_tracked_whole() {
    let mut sim = firewall("ct(commit,zone=1)");
    let (p, r) = ((40000, 80), (80, 40000));
    let ws = [3, 3, 7];
    let syn = tcp_win(VM1, VM2, p, SYN, 1000, 0, 65535, &ws, 0);
    assert_eq!(send(&mut sim, 1, &syn), vec![2]);
    let synack = tcp_win(VM2, VM1, r, SYN | ACK, 5000, 1001, 65535, &ws, 0);
    assert_eq!(send(&mut sim, 2, &synack), vec![1]);
    let ack = tcp_win(VM1, VM2, p, ACK, 1001, 5001, 2048, &[], 0);
    assert_eq!(send(&mut sim, 1, &ack), vec![2]);
    // The server opens its window: 16384 << 7 = 2 MiB.
    let open = tcp_win(VM2, VM1, r, ACK, 5001, 1001, 16384, &[], 0);
    assert_eq!(send(&mut sim, 2, &open), vec![1]);
    let large = |seq: u32| {
        let mut f = tcp_win(VM1, VM2, p, ACK | PSH, seq, 5001, 2048, &[], 100_000);
        f[16..18].copy_from_slice(&[0, 0]);
        ip_checksum(&mut f);
        let pkt = LargeSend(ovsext::packet::OwnedPacket::from_frame(&f).unwrap());
        let mut sent = Sent::default();
        receive_chain(&sim, [((1, 0), pkt)], &mut sent);
        sent.0.into_iter().map(|(port, _)| port).collect::<Vec<_>>()
    };
    assert_eq!(large(1001), vec![2]);
    assert_eq!(large(101_001), vec![2]);
    // Both acknowledged at once: the tracker saw all their bytes.
    let acked = tcp_win(VM2, VM1, r, ACK, 5001, 201_001, 16384, &[], 0);
    assert_eq!(send(&mut sim, 2, &acked), vec![1]);
    let invalid = sim.device().with_datapath(|dp| {
        dp.conntrack
            .stats
            .invalid
            .load(std::sync::atomic::Ordering::Relaxed)
    });
    assert_eq!(invalid.unwrap(), 0);
}

#[test]
fn tcp_through_a_stateful_firewall() {
    let mut sim = firewall("ct(commit,zone=1)");
    let p = (40000, 80);
    let r = (80, 40000);
    // Unsolicited: a reply-like packet from vm2 is new, and only vm1 may
    // open connections; a bare ACK of no connection is invalid.
    assert_eq!(
        send(&mut sim, 2, &tcp(VM2, VM1, r, SYN | ACK, 9, 101, 0)),
        vec![]
    );
    assert_eq!(send(&mut sim, 1, &tcp(VM1, VM2, p, ACK, 100, 1, 0)), vec![]);
    // Handshake, data both ways.
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, p, SYN, 100, 0, 0)),
        vec![2]
    );
    assert_eq!(
        send(&mut sim, 2, &tcp(VM2, VM1, r, SYN | ACK, 500, 101, 0)),
        vec![1]
    );
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, p, ACK, 101, 501, 0)),
        vec![2]
    );
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, p, ACK | PSH, 101, 501, 10)),
        vec![2]
    );
    assert_eq!(
        send(&mut sim, 2, &tcp(VM2, VM1, r, ACK | PSH, 501, 111, 20)),
        vec![1]
    );
    // Outside the window: invalid, dropped.
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, p, ACK, 5_000_000, 521, 10)),
        vec![]
    );
    // FIN both ways, last ACK.
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, p, FIN | ACK, 111, 521, 0)),
        vec![2]
    );
    assert_eq!(
        send(&mut sim, 2, &tcp(VM2, VM1, r, FIN | ACK, 521, 112, 0)),
        vec![1]
    );
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, p, ACK, 112, 522, 0)),
        vec![2]
    );
    // A second connection reset by the responder.
    let p2 = (40001, 80);
    let r2 = (80, 40001);
    assert_eq!(send(&mut sim, 1, &tcp(VM1, VM2, p2, SYN, 7, 0, 0)), vec![2]);
    assert_eq!(
        send(&mut sim, 2, &tcp(VM2, VM1, r2, RST | ACK, 0, 8, 0)),
        vec![1]
    );
    // A bad flag combination is invalid.
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, p2, SYN | FIN, 7, 0, 0)),
        vec![]
    );
}

#[test]
fn udp_other_protocols_and_expiry() {
    let mut sim = firewall("ct(commit,zone=1)");
    let q = udp(VM1, VM2, (5000, 53));
    let a = udp(VM2, VM1, (53, 5000));
    assert_eq!(send(&mut sim, 2, &a), vec![], "nothing to reply to");
    assert_eq!(send(&mut sim, 1, &q), vec![2]);
    assert_eq!(send(&mut sim, 2, &a), vec![1]);
    assert_eq!(send(&mut sim, 1, &q), vec![2]);
    // Both ways: 30 s without packets and the connection is gone; the
    // answer is then a new packet from vm2, which the firewall drops.
    sim.run("tick 31000");
    assert_eq!(send(&mut sim, 2, &a), vec![]);
    // SCTP and IGMP are tracked by addresses and protocol (and SCTP ports).
    let sctp = ipv4_frame(VM1, VM2, 132, &[0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    let sctp_back = ipv4_frame(VM2, VM1, 132, &[0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(send(&mut sim, 1, &sctp), vec![2]);
    assert_eq!(send(&mut sim, 2, &sctp_back), vec![1]);
    let igmp = ipv4_frame(VM1, VM2, 2, &[0x16, 0, 0, 0, 224, 0, 0, 9]);
    let igmp_back = ipv4_frame(VM2, VM1, 2, &[0x16, 0, 0, 0, 224, 0, 0, 9]);
    assert_eq!(send(&mut sim, 2, &igmp_back), vec![]);
    assert_eq!(send(&mut sim, 1, &igmp), vec![2]);
    assert_eq!(send(&mut sim, 2, &igmp_back), vec![1]);
    // A truncated packet is invalid (dropped by the flow, not the tracker).
    let mut cut = udp(VM1, VM2, (5001, 53));
    cut.truncate(14 + 20 + 4);
    cut[17] = 24;
    assert_eq!(send(&mut sim, 1, &cut), vec![]);
}

#[test]
fn icmp_echo_and_related_errors() {
    let mut sim = firewall("ct(commit,zone=1)");
    let echo = |src, dst, ty: u8| ipv4_frame(src, dst, 1, &[ty, 0, 0, 0, 0, 7, 0, 1]);
    assert_eq!(
        send(&mut sim, 2, &echo(VM2, VM1, 0)),
        vec![],
        "a reply of no query is invalid"
    );
    assert_eq!(send(&mut sim, 1, &echo(VM1, VM2, 8)), vec![2]);
    assert_eq!(send(&mut sim, 2, &echo(VM2, VM1, 0)), vec![1]);
    // A UDP flow, then an ICMP port unreachable from vm2 quoting it.
    let q = udp(VM1, VM2, (5000, 53));
    assert_eq!(send(&mut sim, 1, &q), vec![2]);
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&q[14..14 + 28]);
    let err = ipv4_frame(VM2, VM1, 1, &icmp);
    assert_eq!(send(&mut sim, 2, &err), vec![1]);
    // The same error quoting a flow that does not exist: invalid.
    let other = udp(VM1, VM2, (5999, 53));
    icmp.truncate(8);
    icmp.extend_from_slice(&other[14..14 + 28]);
    assert_eq!(send(&mut sim, 2, &ipv4_frame(VM2, VM1, 1, &icmp)), vec![]);
}

/// An ICMP port unreachable from `src` to `dst` quoting the IPv4 header
/// and 8 bytes of transport header of the Ethernet frame `about`.
fn port_unreachable(src: [u8; 4], dst: [u8; 4], about: &[u8]) -> Vec<u8> {
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&about[14..14 + 28]);
    ipv4_frame(src, dst, 1, &icmp)
}

/// Frames leaving by `port`.
fn sent(sim: &mut Sim, port: u32, frame: &[u8]) -> Vec<Vec<u8>> {
    let prefix = format!("tx {port} ");
    sim.run(&format!(
        "rx {port_in} {}",
        hexs(frame),
        port_in = if port == 1 { 2 } else { 1 }
    ))
    .iter()
    .filter_map(|l| l.strip_prefix(&prefix).map(unhex))
    .collect()
}

/// The IPv4 header and transport (TCP, UDP or ICMP) checksums verify.
fn checksums_ok(f: &[u8]) -> bool {
    let fold = |b: &[u8], mut s: u32| {
        for c in b.chunks(2) {
            s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s
    };
    let ihl = usize::from(f[14] & 0xf) * 4;
    let l4 = &f[14 + ihl..];
    let ip_ok = fold(&f[14..14 + ihl], 0) == 0xffff;
    let l4_ok = match f[23] {
        1 => fold(l4, 0) == 0xffff,
        p => {
            let pseudo = [&f[26..34], &[0, p], &(l4.len() as u16).to_be_bytes()[..]].concat();
            fold(l4, fold(&pseudo, 0)) == 0xffff
        }
    };
    ip_ok && l4_ok
}

#[test]
fn snat_pipeline_translates_both_ways_and_icmp_errors() {
    let mut sim = pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010))",
    );
    let public = [192, 168, 100, 1];
    let p = (40000, 80);
    let out = sent(&mut sim, 2, &tcp(VM1, VM2, p, SYN, 100, 0, 0));
    assert_eq!(out.len(), 1);
    let syn = &out[0];
    assert_eq!(&syn[26..30], &public, "source translated");
    assert_eq!(&syn[30..34], &VM2);
    let port = u16::from_be_bytes([syn[34], syn[35]]);
    assert!((5000..=5010).contains(&port), "{port}");
    assert!(checksums_ok(syn));
    // The reply comes back to the public address and is translated back.
    let back = sent(
        &mut sim,
        1,
        &tcp(VM2, public, (80, port), SYN | ACK, 500, 101, 0),
    );
    assert_eq!(back.len(), 1, "+est+rpl");
    assert_eq!(&back[0][30..34], &VM1);
    assert_eq!(u16::from_be_bytes([back[0][36], back[0][37]]), 40000);
    assert!(checksums_ok(&back[0]));
    let ack = sent(&mut sim, 2, &tcp(VM1, VM2, p, ACK | PSH, 101, 501, 5));
    assert_eq!(ack.len(), 1, "+est");
    assert_eq!(
        (
            &ack[0][26..30],
            u16::from_be_bytes([ack[0][34], ack[0][35]])
        ),
        (&public[..], port)
    );
    assert!(checksums_ok(&ack[0]));
    // A second connection gets its own port.
    let out2 = sent(&mut sim, 2, &tcp(VM1, VM2, (40001, 80), SYN, 7, 0, 0));
    assert_ne!(u16::from_be_bytes([out2[0][34], out2[0][35]]), port);
    // An ICMP error from vm2 about the translated packet reaches vm1 with
    // the quoted header translated back.
    let err = sent(&mut sim, 1, &port_unreachable(VM2, public, &ack[0]));
    assert_eq!(err.len(), 1, "+rel+rpl");
    let e = &err[0];
    assert_eq!(&e[30..34], &VM1, "outer destination");
    assert_eq!(&e[42 + 12..42 + 16], &VM1, "quoted source");
    assert_eq!(u16::from_be_bytes([e[62], e[63]]), 40000, "quoted port");
    assert!(checksums_ok(e));
    // The quoted IP header's checksum (its TCP header is cut short).
    let mut s = 0u32;
    for c in e[42..62].chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    assert_eq!(s, 0xffff);
}

/// A SYN sent again before any reply is still `+new` after the first CT
/// action translated it; committing it finds its connection and it leaves
/// as the first did (it clashed with its own connection and was dropped).
#[test]
fn a_retransmitted_syn_leaves_translated_as_the_first() {
    let mut sim = pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010))",
    );
    let syn = tcp(VM1, VM2, (40000, 80), SYN, 100, 0, 0);
    let first = sent(&mut sim, 2, &syn);
    assert_eq!(first.len(), 1);
    let again = sent(&mut sim, 2, &syn);
    assert_eq!(again, first, "the same translation");
    // A datagram sent twice before any reply, likewise.
    let dns = udp(VM1, VM2, (5353, 53));
    let first = sent(&mut sim, 2, &dns);
    assert_eq!(first.len(), 1);
    assert_eq!(sent(&mut sim, 2, &dns), first);
    let table = sim.device().with_datapath(|dp| dp.conntrack.table().len());
    assert_eq!(table.unwrap(), 2);
}

#[test]
fn dnat_to_a_backend() {
    let vip = [10, 96, 0, 1];
    let mut sim = pipeline("ct(zone=2,nat)", "ct(commit,zone=2,nat(dst=10.0.0.2:8080))");
    let out = sent(&mut sim, 2, &udp(VM1, vip, (5353, 80)));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (
            &out[0][30..34],
            u16::from_be_bytes([out[0][36], out[0][37]])
        ),
        (&VM2[..], 8080)
    );
    assert!(checksums_ok(&out[0]));
    let back = sent(&mut sim, 1, &udp(VM2, VM1, (8080, 5353)));
    assert_eq!(back.len(), 1);
    assert_eq!(
        (
            &back[0][26..30],
            u16::from_be_bytes([back[0][34], back[0][35]])
        ),
        (&vip[..], 80)
    );
    assert!(checksums_ok(&back[0]));
}

/// A service as Antrea and OVN build one: DNAT to the backend (`backend`)
/// in zone 1, then SNAT (masquerade) to 10.0.0.254 in zone 2; replies are
/// translated back through both zones in turn. Packets from vm1 leave by
/// vm2's port, and replies from vm2 leave by vm1's; `hairpin`: the
/// backend is vm1 itself, so everything leaves by vm1's port. `l4`: the
/// transport the flows match, `tcp` or `udp` (fragments too), or over
/// IPv6 `tcp6` or `udp6` (service fd00:96::10, masquerading as fd00::fe).
fn service(backend: &str, hairpin: bool, l4: &str) -> Sim {
    let mut sim = setup();
    let (out, back_in) = if hairpin { ("1", 1) } else { ("2", 2) };
    let v6 = l4.ends_with('6');
    let (to_vip, to_masq, masq) = if v6 {
        ("dst=fd00:96::10,", "dst=fd00::fe,", "[fd00::fe]")
    } else {
        ("dst=10.96.0.10,", "dst=10.0.0.254,", "10.0.0.254")
    };
    let flows = [
        (
            "recirc_id(0),in_port(1)".to_string(),
            to_vip,
            "ct(zone=1,nat),recirc(1)".to_string(),
        ),
        (
            "recirc_id(1),ct_state(+new+trk),in_port(1)".to_string(),
            "",
            format!("ct(commit,zone=1,nat(dst={backend})),recirc(2)"),
        ),
        (
            "recirc_id(1),ct_state(+est-rpl+trk),in_port(1)".to_string(),
            "",
            "recirc(2)".to_string(),
        ),
        (
            "recirc_id(2),in_port(1)".to_string(),
            "",
            "ct(zone=2,nat),recirc(3)".to_string(),
        ),
        (
            "recirc_id(3),ct_state(+new+trk),in_port(1)".to_string(),
            "",
            format!("ct(commit,zone=2,nat(src={masq})),{out}"),
        ),
        (
            "recirc_id(3),ct_state(+est-rpl+trk),in_port(1)".to_string(),
            "",
            out.to_string(),
        ),
        (
            format!("recirc_id(0),in_port({back_in})"),
            to_masq,
            "ct(zone=2,nat),recirc(4)".to_string(),
        ),
        (
            format!("recirc_id(4),ct_state(+est+rpl+trk),in_port({back_in})"),
            "",
            "ct(zone=1,nat),recirc(5)".to_string(),
        ),
        (
            format!("recirc_id(5),ct_state(+est+rpl+trk),in_port({back_in})"),
            "",
            "1".to_string(),
        ),
    ];
    for (i, (flow, dst, actions)) in flows.iter().enumerate() {
        let l3 = match l4 {
            "tcp" => format!("eth_type(0x0800),ipv4({dst}proto=6,frag=no),tcp(),tcp_flags(0/0)"),
            "udp" => format!("eth_type(0x0800),ipv4({dst}proto=17),udp()"),
            "tcp6" => format!("eth_type(0x86dd),ipv6({dst}proto=6,frag=no),tcp(),tcp_flags(0/0)"),
            // Later IPv6 fragments show the fragment header's protocol
            // (44), not UDP: the flows leave the protocol out.
            _ => format!("eth_type(0x86dd),ipv6({dst})"),
        };
        let l3 = format!("eth(),{l3}");
        install_text(&mut sim, 300 + i as u32, &format!("{flow},{l3}"), actions);
    }
    sim
}

/// A connection to `service`: it opens (its SYN sent twice), carries data
/// both ways and closes, every packet translated both ways.
#[test]
fn a_service_dnat_then_masquerade_in_two_zones() {
    let mut sim = service("10.0.0.2:8080", false, "tcp");
    let (vip, masq) = ([10, 96, 0, 10], [10, 0, 0, 254]);
    let fields = |f: &[u8]| {
        assert!(checksums_ok(f));
        let port = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
        (
            <[u8; 4]>::try_from(&f[26..30]).unwrap(),
            port(34),
            <[u8; 4]>::try_from(&f[30..34]).unwrap(),
            port(36),
        )
    };
    let c = (40000, 80);
    let to_vm2 = |sim: &mut Sim, flags, seq, ack, data| {
        let out = sent(sim, 2, &tcp(VM1, vip, c, flags, seq, ack, data));
        assert_eq!(out.len(), 1, "flags {flags:#x} seq {seq}");
        fields(&out[0])
    };
    let syn = to_vm2(&mut sim, SYN, 100, 0, 0);
    let (src, p, dst, dport) = syn;
    assert_eq!((src, dst, dport), (masq, VM2, 8080));
    assert_eq!(to_vm2(&mut sim, SYN, 100, 0, 0), syn, "the SYN again");
    let to_vm1 = |sim: &mut Sim, flags, seq, ack, data| {
        let out = sent(sim, 1, &tcp(VM2, masq, (8080, p), flags, seq, ack, data));
        assert_eq!(out.len(), 1, "reply flags {flags:#x} seq {seq}");
        fields(&out[0])
    };
    let back = (vip, 80, VM1, 40000);
    assert_eq!(to_vm1(&mut sim, SYN | ACK, 500, 101, 0), back);
    assert_eq!(to_vm2(&mut sim, ACK, 101, 501, 0), syn);
    assert_eq!(to_vm2(&mut sim, ACK | PSH, 101, 501, 10), syn);
    assert_eq!(to_vm1(&mut sim, ACK | PSH, 501, 111, 20), back);
    assert_eq!(to_vm2(&mut sim, FIN | ACK, 111, 521, 0), syn);
    assert_eq!(to_vm1(&mut sim, FIN | ACK, 521, 112, 0), back);
    assert_eq!(to_vm2(&mut sim, ACK, 112, 522, 0), syn);
    // The client opens again from the same port: both zones' closed
    // connections give way to the new one.
    assert_eq!(to_vm2(&mut sim, SYN, 9000, 0, 0), syn, "reopened");
    assert_eq!(to_vm1(&mut sim, SYN | ACK, 7000, 9001, 0), back);
    assert_eq!(to_vm2(&mut sim, ACK, 9001, 7001, 0), syn);
    let clashes = sim.device().with_datapath(|dp| {
        dp.conntrack
            .stats
            .clashes
            .load(std::sync::atomic::Ordering::Relaxed)
    });
    assert_eq!(clashes.unwrap(), 0);
}

/// Flows that take ICMP (or ICMPv6) errors from `service`'s backend back
/// to its client, related in both zones.
fn service_icmp_errors(sim: &mut Sim, v6: bool) {
    let (l3, masq) = if v6 {
        (
            "eth_type(0x86dd),ipv6(DSTproto=58,frag=no),icmpv6()",
            "dst=fd00::fe,",
        )
    } else {
        (
            "eth_type(0x0800),ipv4(DSTproto=1,frag=no),icmp()",
            "dst=10.0.0.254,",
        )
    };
    let flows = [
        ("recirc_id(0),in_port(2)", masq, "ct(zone=2,nat),recirc(4)"),
        (
            "recirc_id(4),ct_state(+rel+rpl+trk),in_port(2)",
            "",
            "ct(zone=1,nat),recirc(5)",
        ),
        ("recirc_id(5),ct_state(+rel+rpl+trk),in_port(2)", "", "1"),
    ];
    for (i, (flow, dst, actions)) in flows.iter().enumerate() {
        let m = l3.replace("DST", dst);
        install_text(sim, 400 + i as u32, &format!("{flow},eth(),{m}"), actions);
    }
}

/// The backend's ICMP error about a service connection's packet (a port
/// it cannot reach, a path too small) reaches the client through both
/// zones: from the service's address, quoting the packet as the client
/// sent it, every checksum right.
#[test]
fn an_icmp_error_from_a_service_backend_reaches_the_client() {
    let mut sim = service("10.0.0.2:8080", false, "tcp");
    service_icmp_errors(&mut sim, false);
    let (vip, masq) = ([10, 96, 0, 10], [10, 0, 0, 254]);
    let syn = sent(&mut sim, 2, &tcp(VM1, vip, (40000, 80), SYN, 100, 0, 0));
    assert_eq!(syn.len(), 1);
    // Port unreachable, quoting the SYN as the backend got it.
    let err = sent(&mut sim, 1, &port_unreachable(VM2, masq, &syn[0]));
    assert_eq!(err.len(), 1, "+rel+rpl in both zones");
    let e = &err[0];
    assert!(checksums_ok(e));
    assert_eq!((&e[26..30], &e[30..34]), (&vip[..], &VM1[..]), "outer");
    let quoted = &e[42..];
    assert_eq!(
        (&quoted[12..16], &quoted[16..20]),
        (&VM1[..], &vip[..]),
        "quoted addresses"
    );
    assert_eq!(
        &quoted[20..24],
        &[0x9c, 0x40, 0, 80],
        "quoted ports 40000 -> 80"
    );
    assert_eq!(csum(&quoted[..20]), 0, "quoted IPv4 header checksum");
}

/// A client that is its own service's backend: its packets come back to
/// it from the masquerading address, and its replies reach it from the
/// service's address.
#[test]
fn a_service_hairpin_to_its_own_client() {
    let mut sim = service("10.0.0.1:8080", true, "tcp");
    let (vip, masq) = ([10, 96, 0, 10], [10, 0, 0, 254]);
    let mut rx = |frame: Vec<u8>| {
        let out: Vec<_> = sim
            .run(&format!("rx 1 {}", hexs(&frame)))
            .iter()
            .filter_map(|l| l.strip_prefix("tx 1 ").map(unhex))
            .collect();
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert!(checksums_ok(f));
        let port = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
        (
            <[u8; 4]>::try_from(&f[26..30]).unwrap(),
            port(34),
            <[u8; 4]>::try_from(&f[30..34]).unwrap(),
            port(36),
        )
    };
    let syn = rx(tcp(VM1, vip, (40000, 80), SYN, 100, 0, 0));
    let (src, p, dst, dport) = syn;
    assert_eq!((src, dst, dport), (masq, VM1, 8080));
    let back = (vip, 80, VM1, 40000);
    assert_eq!(rx(tcp(VM1, masq, (8080, p), SYN | ACK, 500, 101, 0)), back);
    assert_eq!(rx(tcp(VM1, vip, (40000, 80), ACK, 101, 501, 0)), syn);
    assert_eq!(rx(tcp(VM1, masq, (8080, p), ACK | PSH, 501, 101, 3)), back);
}

/// A UDP datagram of 3000 bytes of data from port 53 to `port`.
fn dns_answer(port: u16) -> Vec<u8> {
    let mut h = 53u16.to_be_bytes().to_vec();
    h.extend_from_slice(&port.to_be_bytes());
    h.extend_from_slice(&3008u16.to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend((0..3000).map(|i| (i * 7) as u8));
    h
}

/// Fragments `frags` in from vm2 one at a time; what the last one sends
/// to vm1.
fn answer_fragments(sim: &mut Sim, frags: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in frags {
        out = sim
            .run(&format!("rx 2 {}", hexs(f)))
            .iter()
            .filter_map(|l| l.strip_prefix("tx 1 ").map(unhex))
            .collect();
    }
    out
}

/// A DNS answer too big for one frame comes back from the service's
/// backend in fragments: reassembled for the masquerading zone,
/// translated back through both zones, and cut again as it came.
#[test]
fn a_fragmented_answer_through_a_two_zone_service() {
    let mut sim = service("10.0.0.2:53", false, "udp");
    let (vip, masq) = ([10, 96, 0, 10], [10, 0, 0, 254]);
    let query = sent(&mut sim, 2, &udp(VM1, vip, (5353, 53)));
    assert_eq!(query.len(), 1);
    let q = &query[0];
    assert_eq!((&q[26..30], &q[30..34]), (&masq[..], &VM2[..]));
    let p = u16::from_be_bytes([q[34], q[35]]);
    // The answer: 3000 bytes from vm2:53 to the masquerading address.
    let h = dns_answer(p);
    let mut answer = ipv4_frame(VM2, masq, 17, &h);
    answer[18..20].copy_from_slice(&77u16.to_be_bytes());
    ip_checksum(&mut answer);
    let frags = fragments4(&answer, &[1480, 1480, 48]);
    let out = answer_fragments(&mut sim, &frags);
    assert_eq!(out.len(), 3, "cut again as it came");
    // Put back together, it is the answer from the service to vm1:5353.
    let mut data = Vec::new();
    for (f, sent) in out.iter().zip(&frags) {
        assert_eq!(f.len(), sent.len());
        assert_eq!((&f[26..30], &f[30..34]), (&vip[..], &VM1[..]));
        assert_eq!(csum(&f[14..34]), 0, "the IPv4 header checksum");
        data.extend_from_slice(&f[34..]);
    }
    assert_eq!(&data[0..4], &[0, 53, 0x14, 0xe9], "ports 53 -> 5353");
    assert_eq!(&data[8..], &h[8..]);
    let mut whole = out[0][..34].to_vec();
    whole.extend_from_slice(&data);
    whole[16..18].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
    whole[20..22].copy_from_slice(&[0, 0]);
    ip_checksum(&mut whole);
    assert!(checksums_ok(&whole), "the UDP checksum, translated");
}

const CT_LIMIT: u16 = 0x18;

fn zone_limits(entries: &[(i32, u32, u32)]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|&(z, l, c)| [z.to_ne_bytes(), l.to_ne_bytes(), c.to_ne_bytes()].concat())
        .collect()
}

/// An `ovs_ct_limit` request as `dpif_netlink_ct_{set,del,get}_limits`
/// sends it; the reply's zone limits.
fn ct_limits(sim: &mut Sim, cmd: u8, entries: Option<&[(i32, u32, u32)]>) -> Vec<(i32, u32, u32)> {
    let mut r = Req::new(CT_LIMIT, cmd, 1, 30, DPID);
    if let Some(e) = entries {
        r = r.raw(1, &zone_limits(e));
    }
    let (hdr, a) = reply(&one(sim, &ioctl(1, "TRANSACT", &r)));
    assert_eq!((hdr.ty, hdr.cmd), (CT_LIMIT, cmd));
    a.iter()
        .find(|(t, _)| *t == 1)
        .map(|(_, p)| {
            p.chunks(12)
                .map(|c| {
                    let w = |i: usize| u32::from_ne_bytes(c[i..i + 4].try_into().unwrap());
                    (w(0) as i32, w(4), w(8))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn zone_limits_refuse_commits_and_report_counts() {
    let mut sim = firewall("ct(commit,zone=1)");
    assert_eq!(ct_limits(&mut sim, 3, None), vec![(-1, 0, 0)]);
    assert_eq!(
        ct_limits(&mut sim, 1, Some(&[(1, 1, 0), (70000, 5, 0)])),
        vec![]
    );
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (1, 53))), vec![2]);
    // Over the zone's limit: the commit drops the packet.
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (2, 53))), vec![]);
    assert_eq!(
        send(&mut sim, 1, &udp(VM1, VM2, (1, 53))),
        vec![2],
        "existing"
    );
    assert_eq!(
        ct_limits(&mut sim, 3, Some(&[(1, 0, 0), (-1, 0, 0), (2, 0, 0)])),
        vec![(1, 1, 1), (-1, 0, 0), (2, 0, 0)]
    );
    assert_eq!(ct_limits(&mut sim, 3, None), vec![(-1, 0, 0), (1, 1, 1)]);
    // The zone's own limit goes: the default (unlimited) applies.
    ct_limits(&mut sim, 2, Some(&[(1, 0, 0)]));
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (2, 53))), vec![2]);
    ct_limits(&mut sim, 1, Some(&[(-1, 2, 0)]));
    assert_eq!(ct_limits(&mut sim, 3, Some(&[(1, 0, 0)])), vec![(1, 2, 2)]);
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (3, 53))), vec![]);
    // SET and DEL need the attribute.
    let r = Req::new(CT_LIMIT, 1, 1, 31, DPID);
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), EINVAL);
}

// ---- the conntrack netlink interface ----

/// A netfilter request: the Windows nfgenmsg (family, version 0, res_id,
/// dp_ifindex 0) in the genl head's place.
fn nfnl(ty: u16, flags: u16, family: u8, attrs: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((24 + attrs.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&40u32.to_ne_bytes());
    m.extend_from_slice(&DPID.to_ne_bytes());
    m.extend_from_slice(&[family, 0, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(attrs);
    m
}

/// `ovs-dpctl dump-conntrack`: WRITE the dump request, READ until 0
/// bytes; each message's (family, zone, orig tuple attr, reply tuple attr).
fn dump_conntrack(sim: &mut Sim) -> Vec<(u8, u16, Vec<u8>, Vec<u8>)> {
    dump_conntrack_attrs(sim)
        .into_iter()
        .map(|(family, attrs)| {
            let zone = attrs
                .iter()
                .find(|(t, _)| *t == 18)
                .map_or(0, |(_, p)| u16::from_be_bytes([p[0], p[1]]));
            let (orig, reply) = (get(&attrs, 1).to_vec(), get(&attrs, 2).to_vec());
            (family, zone, orig, reply)
        })
        .collect()
}

/// A message's attributes: (type, payload).
type Attrs = Vec<(u16, Vec<u8>)>;

/// `dump_conntrack`: each message's family and attributes.
fn dump_conntrack_attrs(sim: &mut Sim) -> Vec<(u8, Attrs)> {
    let req = nfnl(0x0101, 0x1 | 0x300, 0, &[]);
    assert_eq!(
        one(sim, &format!("ioctl 1 WRITE {}", hexs(&req))),
        "ioctl 1 WRITE SUCCESS -"
    );
    let mut out = Vec::new();
    for _ in 0..100 {
        let (status, b) = result(&one(sim, "ioctl 1 READ -"));
        assert_eq!(status, "SUCCESS");
        if b.is_empty() {
            return out;
        }
        let msg = ovsext::netlink::NlMsg::new_checked(&b).unwrap();
        assert_eq!(
            (msg.hdr.ty, msg.hdr.flags, msg.hdr.seq),
            (0x0100, 0x400, 40)
        );
        let attrs: Vec<(u16, Vec<u8>)> = msg
            .attrs()
            .map(|a| a.unwrap())
            .map(|a| (a.ty(), a.payload().to_vec()))
            .collect();
        for required in [1, 2, 3, 12] {
            assert!(attrs.iter().any(|(t, _)| *t == required), "CTA {required}");
        }
        out.push((msg.hdr.cmd, attrs));
    }
    panic!("the dump does not end");
}

/// `OVS_PACKET_CMD_EXECUTE` of `frame` from vport 1 with `actions`.
fn execute(sim: &mut Sim, frame: &[u8], acts: &[u8]) -> Vec<String> {
    let key = [
        attr(k::PRIORITY, &0u32.to_ne_bytes()),
        attr(k::IN_PORT, &1u32.to_ne_bytes()),
    ]
    .concat();
    let exec = Req::new(PACKET, 3, 1, 21, DPID)
        .raw(1, frame)
        .raw(2, &key)
        .raw(3, acts);
    sim.run(&ioctl(1, "TRANSACT", &exec))
}

fn flush(sim: &mut Sim, family: u8, attrs: &[u8]) -> String {
    let req = nfnl(0x0102, 0x1, family, attrs);
    one(sim, &format!("ioctl 1 TRANSACT {}", hexs(&req)))
}

/// A dumped connection says when it was committed (`CTA_TIMESTAMP`, the
/// `start=` of `ovs-dpctl dump-conntrack -s`, which Antrea's flow exporter
/// reads), in calendar time: the simulator's clock starts at
/// 2026-01-01T00:00:00Z.
#[test]
fn a_dumped_connection_tells_when_it_started() {
    let mut sim = firewall("ct(commit,zone=1)");
    sim.run("tick 5000");
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (1, 53))), vec![2]);
    sim.run("tick 2000");
    let d = dump_conntrack_attrs(&mut sim);
    assert_eq!(d.len(), 1);
    let ts = &d[0]
        .1
        .iter()
        .find(|(t, _)| *t == 20)
        .expect("CTA_TIMESTAMP")
        .1;
    let start: Vec<_> = ovsext::netlink::attrs(ts).map(|a| a.unwrap()).collect();
    assert_eq!(start.len(), 1, "START only");
    assert_eq!(start[0].ty(), 1);
    let ns = u64::from_be_bytes(start[0].payload().try_into().unwrap());
    assert_eq!(ns, ovsext::sim::SIM_WALL_EPOCH_NS + 5_000_000_000);
}

#[test]
fn dump_and_flush_conntrack() {
    let mut sim = firewall("ct(commit,zone=1)");

    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (1, 53))), vec![2]);
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, (40000, 80), SYN, 1, 0, 0)),
        vec![2]
    );
    let commit2 = ovsext::flow::text::parse_actions("ct(commit,zone=2)").unwrap();
    execute(&mut sim, &udp([10, 0, 0, 9], VM2, (7, 53)), &commit2);
    let d = dump_conntrack(&mut sim);
    assert_eq!(d.len(), 3);
    assert!(d.iter().all(|e| e.0 == 2), "AF_INET");
    let mut zones: Vec<u16> = d.iter().map(|e| e.1).collect();
    zones.sort();
    assert_eq!(zones, [1, 1, 2]);
    // Flush one tuple (as nl_ct_flush_tuple: CTA_ZONE and CTA_TUPLE_ORIG).
    let tuple = d
        .iter()
        .find(|e| e.1 == 1 && !e.2.is_empty())
        .unwrap()
        .2
        .clone();
    let zone1 = attr(18, &1u16.to_be_bytes());
    let line = flush(&mut sim, 2, &[zone1.clone(), attr(1, &tuple)].concat());
    let (status, b) = result(&line);
    assert_eq!((status.as_str(), b.len()), ("SUCCESS", 24));
    assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x0102);
    assert_eq!(dump_conntrack(&mut sim).len(), 2);
    // Again: no such connection.
    let line = flush(&mut sim, 2, &[zone1.clone(), attr(1, &tuple)].concat());
    let (_, b) = result(&line);
    assert_eq!(i32::from_ne_bytes(b[16..20].try_into().unwrap()), -2);
    // One zone, then all.
    flush(&mut sim, 0, &attr(18, &2u16.to_be_bytes()));
    let d = dump_conntrack(&mut sim);
    assert_eq!((d.len(), d[0].1), (1, 1));
    flush(&mut sim, 0, &[]);
    assert!(dump_conntrack(&mut sim).is_empty());
    // The flushed connection's reply is new again: dropped by the firewall.
    assert_eq!(send(&mut sim, 2, &udp(VM2, VM1, (53, 1))), vec![]);
}

const CTRL: u16 = 0x11;

/// A NETLINK_NETFILTER handle `h` (as nl_sock_create with protocol 12)
/// joined to the conntrack groups `groups`; its PID.
fn ct_listener(sim: &mut Sim, h: u32, groups: &[u32]) -> u32 {
    assert!(sim.run(&format!("open {h}")).is_empty());
    let (_, b) = result(&one(sim, &format!("ioctl {h} GET_PID - 4")));
    let pid = u32_of(&b);
    let prop = Req::new(CTRL, 6, 1, 1, pid).u32(0, 12).u32(1, pid);
    reply(&one(sim, &ioctl(h, "TRANSACT", &prop)));
    for &g in groups {
        let sub = Req::new(CTRL, 2, 1, 2, pid).u32(0, g).u8(1, 1);
        assert_eq!(
            one(sim, &ioctl(h, "WRITE", &sub)),
            format!("ioctl {h} WRITE SUCCESS -")
        );
    }
    pid
}

/// The next event of handle `h`: (type, flags, family); `None` if none.
fn next_event(sim: &mut Sim, h: u32) -> Option<(u16, u16, u8)> {
    next_event_attrs(sim, h).map(|(ty, flags, family, _)| (ty, flags, family))
}

/// `next_event`, with the message's attributes.
fn next_event_attrs(sim: &mut Sim, h: u32) -> Option<(u16, u16, u8, Attrs)> {
    let (status, b) = result(&one(sim, &format!("ioctl {h} READ_EVENT -")));
    assert_eq!(status, "SUCCESS");
    if b.is_empty() {
        return None;
    }
    let msg = ovsext::netlink::NlMsg::new_checked(&b).unwrap();
    let attrs = msg
        .attrs()
        .map(|a| a.unwrap())
        .map(|a| (a.ty(), a.payload().to_vec()))
        .collect();
    Some((msg.hdr.ty, msg.hdr.flags, msg.hdr.cmd, attrs))
}

#[test]
fn events_new_update_and_destroy() {
    let mut sim = firewall("ct(commit,zone=1,mark=0x5/0xff)");
    ct_listener(&mut sim, 5, &[1, 3]);
    ct_listener(&mut sim, 6, &[2]);
    // A pended event request completes when an event is posted.
    let pend = Req::new(CTRL, 0, 1, 3, 0);
    let (_, b) = result(&one(&mut sim, "ioctl 5 GET_PID - 4"));
    let pend = Req {
        hdr: ovsext::netlink::MsgHeader {
            pid: u32_of(&b),
            ..pend.hdr
        },
        ..pend
    };
    assert_eq!(
        one(&mut sim, &ioctl(5, "WRITE", &pend)),
        "ioctl 5 WRITE PENDING -"
    );
    let out = sim.run(&format!("rx 1 {}", hexs(&udp(VM1, VM2, (1, 53)))));
    assert!(
        out.contains(&"complete 5 WRITE SUCCESS -".to_string()),
        "{out:?}"
    );
    assert_eq!(
        next_event(&mut sim, 5),
        Some((0x0100, 0x400 | 0x200, 2)),
        "NEW"
    );
    assert_eq!(next_event(&mut sim, 5), None);
    // The reply is the connection's first: an UPDATE for group 2 only.
    assert_eq!(send(&mut sim, 2, &udp(VM2, VM1, (53, 1))), vec![1]);
    assert_eq!(next_event(&mut sim, 6), Some((0x0100, 0, 2)), "UPDATE");
    assert_eq!(next_event(&mut sim, 5), None);
    // Expiry destroys it.
    sim.run("tick 40000");
    assert_eq!(next_event(&mut sim, 5), Some((0x0102, 0, 2)), "DESTROY");
    // An event mask without NEW: no NEW event.
    let masked = attr(
        12,
        &[
            attr(1, &[]),
            attr(2, &1u16.to_ne_bytes()),
            attr(8, &4u32.to_ne_bytes()),
        ]
        .concat(),
    );
    execute(&mut sim, &udp(VM1, VM2, (9, 53)), &masked);
    assert_eq!(next_event(&mut sim, 5), None);
    flush(&mut sim, 0, &[]);
    assert_eq!(next_event(&mut sim, 5), Some((0x0102, 0, 2)), "flushed");
}

#[test]
fn updates_follow_the_commits_event_mask() {
    let mut sim = firewall("ct(commit,zone=1)");
    ct_listener(&mut sim, 6, &[2]);
    // ovs-vswitchd's default mask (NEW, RELATED, DESTROY, MARK, LABEL)
    // with a mark; NEW and DESTROY alone without.
    let commit = |mark: Option<u32>| {
        let events: u32 = if mark.is_some() { 0x487 } else { 0x5 };
        let mut ct = [
            attr(1, &[]),
            attr(2, &1u16.to_ne_bytes()),
            attr(8, &events.to_ne_bytes()),
        ]
        .concat();
        if let Some(m) = mark {
            ct.extend(attr(3, &[m.to_ne_bytes(), u32::MAX.to_ne_bytes()].concat()));
        }
        attr(12, &ct)
    };
    let lookup = attr(12, &attr(2, &1u16.to_ne_bytes()));
    execute(&mut sim, &udp(VM1, VM2, (7, 53)), &commit(None));
    // The first reply is not a cause the mask names: no UPDATE.
    execute(&mut sim, &udp(VM2, VM1, (53, 7)), &lookup);
    assert_eq!(next_event(&mut sim, 6), None);
    // A new mark is, under the mask this commit sets.
    execute(&mut sim, &udp(VM1, VM2, (7, 53)), &commit(Some(9)));
    assert_eq!(next_event(&mut sim, 6), Some((0x0100, 0, 2)), "UPDATE");
    assert_eq!(next_event(&mut sim, 6), None);
}

#[test]
fn the_demo_ends_with_the_translated_connection() {
    let mut out = Vec::new();
    ovsext::sim::demo::run(&mut out, false).unwrap();
    let text = String::from_utf8(out).unwrap();
    let at = text
        .find("  > dump-conntrack")
        .expect("the conntrack table is shown");
    assert!(text[at..].contains(
        "  tcp,orig=(src=10.0.0.4,dst=203.0.113.10,sport=40000,dport=80),\
         reply=(src=203.0.113.10,dst=192.168.100.1,sport=80,dport=40000),zone=1,\
         protoinfo=(state=ESTABLISHED)"
    ));
}

#[test]
fn flows_match_ct_fields_and_execute_keeps_ct_metadata() {
    let mut sim = setup();
    let base = "eth(),eth_type(0x0800),ipv4(frag=no)";
    install_text(
        &mut sim,
        1,
        &format!("recirc_id(0),in_port(1),{base}"),
        "ct(commit,zone=3,mark=0x7/0xff),recirc(2)",
    );
    install_text(
        &mut sim,
        2,
        &format!("recirc_id(2),in_port(1),ct_state(+trk),ct_zone(3),ct_mark(0x7),{base}"),
        "2",
    );
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (1, 2))), vec![2]);
    // EXECUTE of a packet whose key says it was tracked in zone 3 with
    // mark 7: ct(zone=3) leaves that as it is, and recirc finds the flow.
    let key = [
        attr(k::PRIORITY, &0u32.to_ne_bytes()),
        attr(k::IN_PORT, &1u32.to_ne_bytes()),
        attr(k::CT_STATE, &0x22u32.to_ne_bytes()),
        attr(k::CT_ZONE, &3u16.to_ne_bytes()),
        attr(k::CT_MARK, &7u32.to_ne_bytes()),
    ]
    .concat();
    let acts = ovsext::flow::text::parse_actions("ct(zone=3),recirc(2)").unwrap();
    let frame = udp(VM1, VM2, (9, 9));
    let exec = Req::new(PACKET, 3, 1, 22, DPID)
        .raw(1, &frame)
        .raw(2, &key)
        .raw(3, &acts);
    let out = sim.run(&ioctl(1, "TRANSACT", &exec));
    assert_eq!(out[0], format!("tx 2 {}", hexs(&frame)), "{out:?}");
    // Without the mark in the key the same packet misses the flow.
    let bare = Req::new(PACKET, 3, 1, 23, DPID)
        .raw(1, &frame)
        .raw(2, &key[..24])
        .raw(3, &acts);
    let out = sim.run(&ioctl(1, "TRANSACT", &bare));
    assert!(out.iter().all(|l| !l.starts_with("tx ")), "{out:?}");
}

// ---- fragments: reassembled before tracking, cut again on output ----

/// A UDP datagram from vm1 to vm2 with `n` bytes of data and IPv4 id `id`.
fn big_udp4(n: usize, id: u16) -> Vec<u8> {
    let mut h = vec![0x30, 0x39, 0, 53];
    h.extend_from_slice(&((8 + n) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend((0..n).map(|i| (i * 3) as u8));
    let mut f = ipv4_frame(VM1, VM2, 17, &h);
    f[18..20].copy_from_slice(&id.to_be_bytes());
    ip_checksum(&mut f);
    f
}

/// Writes the IPv4 header checksum of an Ethernet/IPv4 frame.
fn ip_checksum(f: &mut [u8]) {
    f[24..26].copy_from_slice(&[0, 0]);
    let sum = csum(&f[14..14 + usize::from(f[14] & 0xf) * 4]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
}

/// Where a sender cuts `len` bytes of data into pieces of `sizes` bytes:
/// each piece's start, end and whether more follow.
fn pieces(len: usize, sizes: &[usize]) -> Vec<(usize, usize, bool)> {
    let mut off = 0;
    sizes
        .iter()
        .map(|&n| {
            let start = off;
            off = (off + n).min(len);
            (start, off, off < len)
        })
        .collect()
}

/// `whole` (Ethernet/IPv4) cut as a sender would: `sizes` bytes of data
/// a fragment.
fn fragments4(whole: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let data = &whole[34..];
    pieces(data.len(), sizes)
        .into_iter()
        .map(|(off, end, more)| {
            let mut f = whole[..34].to_vec();
            f.extend_from_slice(&data[off..end]);
            f[16..18].copy_from_slice(&((20 + end - off) as u16).to_be_bytes());
            let more = if more { 0x2000 } else { 0 };
            f[20..22].copy_from_slice(&((off / 8) as u16 | more).to_be_bytes());
            ip_checksum(&mut f);
            f
        })
        .collect()
}

/// Every IPv4 or IPv6 frame from vm1, fragment or not, through
/// `ct(zone=1),recirc(1)`; whole new packets are committed and go to vm2.
fn fragment_pipeline() -> Sim {
    let mut sim = setup();
    for (i, (ty, l3)) in [(0x0800, "ipv4"), (0x86dd, "ipv6")].iter().enumerate() {
        let seq = 200 + 4 * i as u32;
        for (j, frag) in ["no", "first", "later"].iter().enumerate() {
            install_text(
                &mut sim,
                seq + j as u32,
                &format!("recirc_id(0),in_port(1),eth(),eth_type({ty:#06x}),{l3}(frag={frag})"),
                "ct(zone=1),recirc(1)",
            );
        }
        install_text(
            &mut sim,
            seq + 3,
            &format!(
                "recirc_id(1),ct_state(+new+trk),in_port(1),eth(),eth_type({ty:#06x}),{l3}(frag=no)"
            ),
            "ct(commit,zone=1),2",
        );
    }
    sim
}

/// Frames `frames` in from vm1, one at a time; the frames each sent to vm2.
fn train(sim: &mut Sim, frames: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
    frames
        .iter()
        .map(|f| {
            sim.run(&format!("rx 1 {}", hexs(f)))
                .iter()
                .filter_map(|l| l.strip_prefix("tx 2 ").map(unhex))
                .collect()
        })
        .collect()
}

#[test]
fn ipv4_fragments_reassemble_for_ct_and_leave_cut_as_they_came() {
    let mut sim = fragment_pipeline();
    for (id, order) in [(1u16, [0, 1, 2, 2]), (2, [2, 1, 0, 0]), (3, [1, 1, 0, 2])] {
        let frags = fragments4(&big_udp4(3000, id), &[1480, 1480, 48]);
        // Each train ends with the fragment that completes it (a duplicate
        // of an earlier one before it, in the third).
        let order = if id == 3 { &order[..] } else { &order[..3] };
        let frames: Vec<Vec<u8>> = order.iter().map(|&i| frags[i].clone()).collect();
        let out = train(&mut sim, &frames);
        let (last, before) = out.split_last().unwrap();
        assert!(before.iter().all(Vec::is_empty), "held until complete");
        assert_eq!(last, &frags, "id {id}: cut again to the same sizes");
    }
    // Cut small, over a low path MTU: 77 fragments of 104 bytes.
    let frags = fragments4(&big_udp4(8000, 4), &[104; 77]);
    let out = train(&mut sim, &frags);
    assert_eq!(out.last().unwrap(), &frags, "reassembled and cut again");
    // A whole datagram is not cut.
    let small = big_udp4(1000, 9);
    assert_eq!(
        train(&mut sim, std::slice::from_ref(&small)),
        vec![vec![small]]
    );
}

/// A datagram reassembled for tracking is measured by `check_pkt_len` as
/// its largest fragment was (as Linux measures its MRU): fragments of 1500
/// bytes pass a 1514-byte check as they would one by one, and leave cut as
/// they came.
#[test]
fn check_pkt_len_sees_a_reassembled_datagram_as_its_fragments() {
    let mut sim = setup();
    for (j, frag) in ["first", "later"].iter().enumerate() {
        install_text(
            &mut sim,
            300 + j as u32,
            &format!("recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(frag={frag})"),
            "ct(zone=1),recirc(2)",
        );
    }
    install_text(
        &mut sim,
        302,
        "recirc_id(2),ct_state(+new+trk),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
        "check_pkt_len(size=1514,gt(drop),le(2))",
    );
    let frags = fragments4(&big_udp4(3000, 30), &[1480, 1480, 48]);
    let out = train(&mut sim, &frags);
    assert_eq!(out[2], frags);
}

#[test]
fn overlapping_and_incomplete_fragments_go_nowhere() {
    let mut sim = fragment_pipeline();
    let whole = big_udp4(3000, 5);
    let frags = fragments4(&whole, &[1480, 1480, 48]);
    let mut overlap = fragments4(&whole, &[1000, 2008])[1].clone();
    overlap[20..22].copy_from_slice(&(0x2000u16 | 125).to_be_bytes());
    let out = train(
        &mut sim,
        &[
            frags[0].clone(),
            overlap,
            frags[1].clone(),
            frags[2].clone(),
        ],
    );
    assert!(out.iter().all(Vec::is_empty), "{out:?}");
    // A flood of first fragments that never complete stays bounded, and
    // the upkeep lets them go after 30 s.
    for id in 0..3000u16 {
        let first = fragments4(&big_udp4(3000, 1000 + id), &[1480])[0].clone();
        assert!(train(&mut sim, &[first]).iter().all(Vec::is_empty));
    }
    sim.run("tick 31000");
    let frags = fragments4(&big_udp4(3000, 7), &[1480, 1480, 48]);
    let out = train(&mut sim, &frags);
    assert_eq!(out[2], frags, "reassembly still works");
}

/// `OVS_PACKET_CMD_EXECUTE` of `frame` from vport 1 with `actions` and
/// `OVS_PACKET_ATTR_MRU`; the frames sent to vm2.
fn execute_with_mru(sim: &mut Sim, frame: &[u8], acts: &str, mru: u16) -> Vec<Vec<u8>> {
    let key = [
        attr(k::PRIORITY, &0u32.to_ne_bytes()),
        attr(k::IN_PORT, &1u32.to_ne_bytes()),
    ]
    .concat();
    let acts = ovsext::flow::text::parse_actions(acts).unwrap();
    let exec = Req::new(PACKET, 3, 1, 21, DPID)
        .raw(1, frame)
        .raw(2, &key)
        .raw(3, &acts)
        .u16(9, mru);
    sim.run(&ioctl(1, "TRANSACT", &exec))
        .iter()
        .filter_map(|l| l.strip_prefix("tx 2 ").map(unhex))
        .collect()
}

#[test]
fn execute_honours_the_mru_and_df() {
    let mut sim = setup();
    let whole = big_udp4(3000, 11);
    let frags = fragments4(&whole, &[1480, 1480, 48]);
    assert_eq!(execute_with_mru(&mut sim, &whole, "2", 1500), frags);
    // Cut through a longer list too (not only the single-output path).
    assert_eq!(
        execute_with_mru(&mut sim, &whole, "set(skb_mark(1)),2", 1500),
        frags
    );
    assert_eq!(
        execute_with_mru(&mut sim, &whole, "2", 4000),
        vec![whole.clone()]
    );
    // DF set and longer than the MRU: cut all the same, the fragments
    // without DF (as Linux's `ovs_fragment`).
    assert_eq!(
        execute_with_mru(&mut sim, &with_df(&whole), "2", 1500),
        frags
    );
}

/// `frame` (Ethernet/IPv4) with DF set.
fn with_df(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[20] |= 0x40;
    ip_checksum(&mut f);
    f
}

/// Fragments that carry DF (as a router that refragments a DF datagram
/// sends them) are reassembled, tracked and leave cut as they came, DF
/// cleared as Linux's output does.
#[test]
fn fragments_with_df_get_through() {
    let mut sim = fragment_pipeline();
    let frags = fragments4(&big_udp4(3000, 12), &[1480, 1480, 48]);
    let with: Vec<Vec<u8>> = frags.iter().map(|f| with_df(f)).collect();
    let out = train(&mut sim, &with);
    assert_eq!(out[2], frags);
}

/// A UDP datagram from fd00::1 to fd00::2 with `n` bytes of data, as an
/// Ethernet/IPv6 frame (the checksum is not looked at).
fn big_udp6(n: usize) -> Vec<u8> {
    let mut f = vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 0x86, 0xdd];
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&((8 + n) as u16).to_be_bytes());
    f.extend_from_slice(&[17, 64]);
    for last in [1, 2] {
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]);
    }
    f.extend_from_slice(&[0x30, 0x39, 0, 53]);
    f.extend_from_slice(&((8 + n) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend((0..n).map(|i| (i * 5) as u8));
    f
}

/// `whole` (Ethernet/IPv6, no extension header) cut into fragments of
/// `sizes` bytes of data, with fragment id `id`.
fn fragments6(whole: &[u8], sizes: &[usize], id: u32) -> Vec<Vec<u8>> {
    let data = &whole[54..];
    pieces(data.len(), sizes)
        .into_iter()
        .map(|(off, end, more)| {
            let mut f = whole[..54].to_vec();
            f[20] = 44;
            f[18..20].copy_from_slice(&((8 + end - off) as u16).to_be_bytes());
            f.extend_from_slice(&[whole[20], 0]);
            f.extend_from_slice(&(off as u16 | u16::from(more)).to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(&data[off..end]);
            f
        })
        .collect()
}

#[test]
fn ipv6_fragments_reassemble_for_ct_and_leave_cut_to_the_mru() {
    let mut sim = fragment_pipeline();
    let whole = big_udp6(3000);
    let frags = fragments6(&whole, &[1448, 1448, 112], 0xabcd_0001);
    for order in [[0, 1, 2], [2, 1, 0]] {
        let frames: Vec<Vec<u8>> = order.iter().map(|&i| frags[i].clone()).collect();
        let out = train(&mut sim, &frames);
        assert!(out[..2].iter().all(Vec::is_empty));
        // The same sizes again, under an id of the datapath's own.
        assert_eq!(out[2].len(), 3);
        for (got, want) in out[2].iter().zip(&frags) {
            assert_eq!(got.len(), want.len());
            assert_eq!((&got[..58], &got[62..]), (&want[..58], &want[62..]));
        }
    }
}

/// An IPv6 first fragment that stops inside the upper-layer header (RFC
/// 8200 4.5) is not reassembled, as Linux's `nf_ct_frag6_gather`: it is
/// tracked invalid and its datagram never completes. One that holds the
/// header is.
#[test]
fn ipv6_first_fragments_must_hold_the_upper_layer_header() {
    let mut sim = fragment_pipeline();
    // A destination options header (PadN) before UDP.
    let mut whole = big_udp6(3000);
    whole[20] = 60;
    let len = u16::from_be_bytes([whole[18], whole[19]]) + 8;
    whole[18..20].copy_from_slice(&len.to_be_bytes());
    whole.splice(54..54, [17, 0, 1, 4, 0, 0, 0, 0]);
    let short = fragments6(&whole, &[8, 1448, 1448, 112], 0xabcd_0002);
    let out = train(&mut sim, &short);
    assert!(out.iter().all(Vec::is_empty), "{out:?}");
    let held = fragments6(&whole, &[16, 1448, 1448, 104], 0xabcd_0003);
    let out = train(&mut sim, &held);
    assert!(out[..3].iter().all(Vec::is_empty));
    assert!(!out[3].is_empty(), "reassembled and sent");
}

// ---- helpers: FTP and TFTP data connections are related ----

/// A TCP segment carrying `data`.
fn tcp_with(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&ports.0.to_be_bytes());
    h.extend_from_slice(&ports.1.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&ack.to_be_bytes());
    h.extend_from_slice(&[0x50, ACK | PSH, 0x20, 0x00, 0, 0, 0, 0]);
    h.extend_from_slice(data);
    ipv4_frame(src, dst, 6, &h)
}

/// The firewall, committing new connections with `commit`, plus: related
/// packets either way are committed (with the NAT their expectation
/// gives) and let through, and so are the replies of connections vm2
/// opened that way.
fn helper_firewall(commit: &str) -> Sim {
    helper_pipeline("ct(zone=1)", commit)
}

/// `helper_firewall` with `first` as the first CT action.
fn helper_pipeline(first: &str, commit: &str) -> Sim {
    let mut sim = pipeline(first, commit);
    let base = "eth(),eth_type(0x0800),ipv4(frag=no)";
    install_text(
        &mut sim,
        299,
        &format!("recirc_id(1),ct_state(+est+rpl+trk),in_port(1),{base}"),
        "2",
    );
    for (i, (from, to)) in [(1, 2), (2, 1)].iter().enumerate() {
        install_text(
            &mut sim,
            300 + i as u32,
            &format!("recirc_id(1),ct_state(+rel-rpl+trk),in_port({from}),{base}"),
            &format!("ct(commit,zone=1,nat),{to}"),
        );
    }
    sim
}

/// An FTP control connection from vm1:40000 to vm2:21, set up; the next
/// sequence numbers of client and server.
fn ftp_control(sim: &mut Sim) -> (u32, u32) {
    let (c, s) = ((40000, 21), (21, 40000));
    assert_eq!(send(sim, 1, &tcp(VM1, VM2, c, SYN, 100, 0, 0)), vec![2]);
    assert_eq!(
        send(sim, 2, &tcp(VM2, VM1, s, SYN | ACK, 500, 101, 0)),
        vec![1]
    );
    assert_eq!(send(sim, 1, &tcp(VM1, VM2, c, ACK, 101, 501, 0)), vec![2]);
    (101, 501)
}

#[test]
fn ftp_active_and_passive_data_connections_are_related() {
    let mut sim = helper_firewall("ct(commit,zone=1,helper=ftp)");
    let (seq, ack) = ftp_control(&mut sim);
    assert_eq!(active_data(&mut sim, seq, ack), vec![1], "related, let in");
    let port = b"PORT 10,0,0,1,7,208\r\n";
    let data_synack = tcp(VM1, VM2, (2000, 20), SYN | ACK, 7000, 9001, 0);
    assert_eq!(send(&mut sim, 1, &data_synack), vec![2], "its reply");
    // Another connection to an unannounced port stays out.
    let other = tcp(VM2, VM1, (20, 2001), SYN, 9000, 0, 0);
    assert_eq!(send(&mut sim, 2, &other), Vec::<u32>::new());
    // Passive: the server answers PASV with 10.0.0.2:10000.
    let seq = seq + port.len() as u32;
    let pasv = b"227 Entering Passive Mode (10,0,0,2,39,16).\r\n";
    let reply = tcp_with(VM2, VM1, (21, 40000), ack, seq, pasv);
    assert_eq!(send(&mut sim, 2, &reply), vec![1]);
    let data = tcp(VM1, VM2, (40100, 10000), SYN, 1, 0, 0);
    assert_eq!(send(&mut sim, 1, &data), vec![2]);
    // A PORT split over two segments: the first, cut short, is dropped
    // (Linux's partial match); the rest, in the middle of a line, is not
    // read. Sent again whole, it announces.
    let ack = ack + pasv.len() as u32;
    let half = tcp_with(VM1, VM2, (40000, 21), seq, ack, b"PORT 10,0,0,1,");
    assert_eq!(send(&mut sim, 1, &half), Vec::<u32>::new(), "dropped");
    let partial = sim.device().with_datapath(|dp| {
        dp.conntrack
            .stats
            .partial
            .load(std::sync::atomic::Ordering::Relaxed)
    });
    assert_eq!(partial, Some(1), "counted");
    let rest = tcp_with(VM1, VM2, (40000, 21), seq + 14, ack, b"11,184\r\n");
    assert_eq!(send(&mut sim, 1, &rest), vec![2]);
    let split = tcp(VM2, VM1, (20, 3000), SYN, 9000, 0, 0);
    assert_eq!(send(&mut sim, 2, &split), Vec::<u32>::new());
    let whole = tcp_with(VM1, VM2, (40000, 21), seq, ack, b"PORT 10,0,0,1,11,184\r\n");
    assert_eq!(send(&mut sim, 1, &whole), vec![2]);
    assert_eq!(send(&mut sim, 2, &split), vec![1], "related");
    // A command in the middle of a line is not one.
    let seq = seq + 22;
    let site = tcp_with(VM1, VM2, (40000, 21), seq, ack, b"SITE X ");
    assert_eq!(send(&mut sim, 1, &site), vec![2]);
    let cmd = tcp_with(
        VM1,
        VM2,
        (40000, 21),
        seq + 7,
        ack,
        b"PORT 10,0,0,1,11,185\r\n",
    );
    assert_eq!(send(&mut sim, 1, &cmd), vec![2]);
    let mid = tcp(VM2, VM1, (20, 3001), SYN, 9000, 0, 0);
    assert_eq!(send(&mut sim, 2, &mid), Vec::<u32>::new());
}

const CTA_HELP: u16 = 5;
const CTA_TUPLE_MASTER: u16 = 14;

/// The helper a conntrack message names (`CTA_HELP` { `CTA_HELP_NAME` },
/// as `nl_ct_parse_helper` reads it), and its master tuple attribute.
fn helper_and_master(attrs: &[(u16, Vec<u8>)]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let find = |ty| attrs.iter().find(|(t, _)| *t == ty).map(|(_, p)| p.clone());
    let help = find(CTA_HELP).map(|p| {
        let inner = nested(&p);
        assert_eq!(inner.len(), 1, "only CTA_HELP_NAME");
        get(&inner, 1).to_vec()
    });
    (help, find(CTA_TUPLE_MASTER))
}

/// The dump and the events name a control connection's helper, and give a
/// connection it expected its master's original tuple (as Linux's
/// `ctnetlink_dump_helpinfo` and `ctnetlink_dump_master`), so
/// `ovs-dpctl dump-conntrack` shows `helper=ftp` and `parent=(...)`.
#[test]
fn conntrack_messages_carry_the_helper_and_the_master_tuple() {
    let mut sim = helper_firewall("ct(commit,zone=1,helper=ftp)");
    ct_listener(&mut sim, 5, &[1, 3]);
    let (seq, ack) = ftp_control(&mut sim);
    let (ty, _, _, control) = next_event_attrs(&mut sim, 5).expect("NEW of the control");
    assert_eq!(ty, 0x0100);
    assert_eq!(helper_and_master(&control), (Some(b"ftp\0".to_vec()), None));
    let control_orig = get(&control, 1).to_vec();
    assert_eq!(active_data(&mut sim, seq, ack), vec![1]);
    let (ty, _, _, data) = next_event_attrs(&mut sim, 5).expect("NEW of the data");
    assert_eq!(ty, 0x0100);
    assert_eq!(helper_and_master(&data), (None, Some(control_orig.clone())));
    assert_eq!(next_event(&mut sim, 5), None);

    let d = dump_conntrack_attrs(&mut sim);
    assert_eq!(d.len(), 2);
    let (ctl, rel): (Vec<_>, Vec<_>) = d
        .iter()
        .map(|(_, a)| a)
        .partition(|a| get(a, 1) == control_orig.as_slice());
    assert_eq!(helper_and_master(ctl[0]), (Some(b"ftp\0".to_vec()), None));
    assert_eq!(
        helper_and_master(rel[0]),
        (None, Some(control_orig.clone()))
    );
    // The master tuple reads back as the control connection's, in its zone.
    let parsed = |p: &[u8]| ovsext::conntrack::ctnetlink::parse_tuple(p, false, 1);
    let master = parsed(&helper_and_master(rel[0]).1.unwrap()).unwrap();
    assert_eq!(Some(master), parsed(&control_orig));
    assert_eq!((master.sport, master.dport, master.proto), (40000, 21, 6));

    // Going, each is described as it was.
    flush(&mut sim, 0, &[]);
    let mut gone: Vec<_> = std::iter::from_fn(|| next_event_attrs(&mut sim, 5))
        .map(|(ty, _, _, a)| (ty, helper_and_master(&a)))
        .collect();
    gone.sort();
    assert_eq!(
        gone,
        [
            (0x0102, (None, Some(control_orig))),
            (0x0102, (Some(b"ftp\0".to_vec()), None)),
        ]
    );
}

/// A TFTP control connection names its helper `tftp`.
#[test]
fn conntrack_dump_names_the_tftp_helper() {
    let mut sim = helper_firewall("ct(commit,zone=1,helper=tftp)");
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (3000, 69))), vec![2]);
    let d = dump_conntrack_attrs(&mut sim);
    assert_eq!(d.len(), 1);
    assert_eq!(helper_and_master(&d[0].1), (Some(b"tftp\0".to_vec()), None));
}

/// Active FTP: the client announces 10.0.0.1:2000 (its `seq`, `ack`);
/// the server connects from port 20. Where that connection's SYN goes.
fn active_data(sim: &mut Sim, seq: u32, ack: u32) -> Vec<u32> {
    let cmd = tcp_with(VM1, VM2, (40000, 21), seq, ack, b"PORT 10,0,0,1,7,208\r\n");
    assert_eq!(send(sim, 1, &cmd), vec![2]);
    send(sim, 2, &tcp(VM2, VM1, (20, 2000), SYN, 9000, 0, 0))
}

/// The expectation counters (`frag-status`'s line on them).
fn expectations(sim: &mut Sim) -> String {
    let status = sim.run("frag-status");
    let line = status.iter().find(|l| l.contains("expectations:"));
    line.expect("expectations shown").clone()
}

/// An address other than the sender's own, announced, opens nothing and
/// goes on as it is (Linux's `nf_conntrack_ftp` with `loose` off): a
/// machine cannot open a way in for a third one.
#[test]
fn ftp_announcing_another_address_expects_nothing() {
    let mut sim = helper_firewall("ct(commit,zone=1,helper=ftp)");
    let (seq, ack) = ftp_control(&mut sim);
    let port = b"PORT 192,168,7,9,7,208\r\n";
    let cmd = tcp_with(VM1, VM2, (40000, 21), seq, ack, port);
    assert_eq!(sent(&mut sim, 2, &cmd), vec![cmd.clone()], "unchanged");
    let syn = tcp(VM2, [192, 168, 7, 9], (20, 2000), SYN, 9000, 0, 0);
    assert_eq!(send(&mut sim, 2, &syn), Vec::<u32>::new(), "not related");
    // Passive: the server names another machine.
    let seq = seq + port.len() as u32;
    let pasv = b"227 Entering Passive Mode (10,0,0,7,39,16).\r\n";
    let reply = tcp_with(VM2, VM1, (21, 40000), ack, seq, pasv);
    assert_eq!(sent(&mut sim, 1, &reply), vec![reply.clone()], "unchanged");
    assert!(
        expectations(&mut sim).contains("pending:0 created:0"),
        "{}",
        expectations(&mut sim)
    );
    // The sender's own address still opens the way.
    let ack = ack + pasv.len() as u32;
    assert_eq!(active_data(&mut sim, seq, ack), vec![1]);
}

/// A control connection's expectation goes with it (Linux's
/// `nf_ct_remove_expectations`): flushed, or timed out after a reset, it
/// opens nothing any more.
#[test]
fn ftp_expectations_go_with_their_control_connection() {
    let mut sim = helper_firewall("ct(commit,zone=1,helper=ftp)");
    let data_syn = tcp(VM2, VM1, (20, 2000), SYN, 9000, 0, 0);
    let port = b"PORT 10,0,0,1,7,208\r\n";
    let (seq, ack) = ftp_control(&mut sim);
    // One pending per control connection: a newer announcement replaces
    // the older (Linux's `max_expected` of 1).
    let first = b"PORT 10,0,0,1,7,207\r\n";
    let cmd = tcp_with(VM1, VM2, (40000, 21), seq, ack, first);
    assert_eq!(send(&mut sim, 1, &cmd), vec![2]);
    let seq = seq + first.len() as u32;
    let cmd = tcp_with(VM1, VM2, (40000, 21), seq, ack, port);
    assert_eq!(send(&mut sim, 1, &cmd), vec![2]);
    assert!(expectations(&mut sim).contains("pending:1 created:2"));
    let replaced = tcp(VM2, VM1, (20, 1999), SYN, 9000, 0, 0);
    assert_eq!(send(&mut sim, 2, &replaced), Vec::<u32>::new(), "replaced");
    flush(&mut sim, 0, &[]);
    assert!(expectations(&mut sim).contains("pending:0 "));
    assert_eq!(send(&mut sim, 2, &data_syn), Vec::<u32>::new(), "flushed");
    let (seq, ack) = ftp_control(&mut sim);
    let cmd = tcp_with(VM1, VM2, (40000, 21), seq, ack, port);
    assert_eq!(send(&mut sim, 1, &cmd), vec![2]);
    let seq = seq + port.len() as u32;
    let reset = tcp(VM1, VM2, (40000, 21), RST | ACK, seq, ack, 0);
    assert_eq!(send(&mut sim, 1, &reset), vec![2]);
    sim.run("tick 31000");
    assert_eq!(send(&mut sim, 2, &data_syn), Vec::<u32>::new(), "timed out");
    assert!(expectations(&mut sim).contains("pending:0 created:3 used:0 timed_out:0"));
}

#[test]
fn ftp_without_the_helper_expects_nothing() {
    let mut sim = helper_firewall("ct(commit,zone=1)");
    let (seq, ack) = ftp_control(&mut sim);
    assert_eq!(active_data(&mut sim, seq, ack), Vec::<u32>::new());
}

/// A UDP datagram carrying `data`.
fn udp_with(src: [u8; 4], dst: [u8; 4], ports: (u16, u16), data: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&ports.0.to_be_bytes());
    h.extend_from_slice(&ports.1.to_be_bytes());
    h.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(data);
    ipv4_frame(src, dst, 17, &h)
}

#[test]
fn tftp_reply_from_a_new_port_is_related() {
    let mut sim = helper_firewall("ct(commit,zone=1,helper=tftp)");
    let rrq = udp_with(VM1, VM2, (3000, 69), b"\x00\x01boot.img\x00octet\x00");
    assert_eq!(send(&mut sim, 1, &rrq), vec![2]);
    let block = udp_with(VM2, VM1, (4000, 3000), b"\x00\x03\x00\x01data");
    assert_eq!(send(&mut sim, 2, &block), vec![1]);
    let ack = udp_with(VM1, VM2, (3000, 4000), b"\x00\x04\x00\x01");
    assert_eq!(send(&mut sim, 1, &ack), vec![2], "the transfer's reply way");
    // From yet another port: the expectation was used up.
    let stray = udp_with(VM2, VM1, (4001, 3000), b"\x00\x03\x00\x01data");
    assert_eq!(send(&mut sim, 2, &stray), Vec::<u32>::new());
}

#[test]
fn a_reassembled_miss_goes_up_with_its_mru() {
    let mut sim = setup();
    // Handle 1 (PID 1, the vports' upcall PID) takes packets.
    let sub = Req::new(0x11, 3, 1, 50, 1).u8(2, 1).u32(3, 1);
    assert_eq!(
        one(&mut sim, &ioctl(1, "WRITE", &sub)),
        "ioctl 1 WRITE SUCCESS -"
    );
    for (i, frag) in ["first", "later"].iter().enumerate() {
        install_text(
            &mut sim,
            400 + i as u32,
            &format!("recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(frag={frag})"),
            "ct(zone=1),recirc(1)",
        );
    }
    let whole = big_udp4(3000, 21);
    let frags = fragments4(&whole, &[1480, 1480, 48]);
    assert!(train(&mut sim, &frags).iter().all(Vec::is_empty));
    // Nothing matches recirc_id(1): the whole datagram goes up, with MRU.
    let (hdr, a) = reply(&one(&mut sim, "ioctl 1 READ_PACKET -"));
    assert_eq!((hdr.ty, hdr.cmd), (PACKET, 1));
    assert_eq!(get(&a, 1), &whole[..]);
    assert_eq!(get(&a, 9), &1500u16.to_ne_bytes());
    assert_eq!(
        one(&mut sim, "ioctl 1 READ_PACKET -"),
        "ioctl 1 READ_PACKET SUCCESS -",
        "one upcall: the fragments were held"
    );
}

/// The TCP payload of an Ethernet/IPv4 frame, and its sequence and
/// acknowledgement numbers.
fn tcp_payload(f: &[u8]) -> (&[u8], u32, u32) {
    let l4 = 14 + usize::from(f[14] & 0xf) * 4;
    let end = 14 + usize::from(u16::from_be_bytes([f[16], f[17]]));
    let seq = u32::from_be_bytes(f[l4 + 4..l4 + 8].try_into().unwrap());
    let ack = u32::from_be_bytes(f[l4 + 8..l4 + 12].try_into().unwrap());
    (&f[l4 + usize::from(f[l4 + 12] >> 4) * 4..end], seq, ack)
}

#[test]
fn ftp_through_snat_rewrites_the_announcement_and_the_sequence() {
    // vm1 reaches vm2 as 10.0.0.100.
    let mut sim = helper_pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,helper=ftp,nat(src=10.0.0.100))",
    );
    let public = [10, 0, 0, 100];
    let (c, s) = ((40000, 21), (21, 40000));
    assert_eq!(
        sent(&mut sim, 2, &tcp(VM1, VM2, c, SYN, 100, 0, 0)).len(),
        1
    );
    assert_eq!(
        sent(&mut sim, 1, &tcp(VM2, public, s, SYN | ACK, 500, 101, 0)).len(),
        1
    );
    assert_eq!(
        sent(&mut sim, 2, &tcp(VM1, VM2, c, ACK, 101, 501, 0)).len(),
        1
    );
    // PORT 10,0,0,1,... leaves as PORT 10,0,0,100,...: two bytes longer.
    let port = b"PORT 10,0,0,1,7,208\r\n";
    let out = sent(&mut sim, 2, &tcp_with(VM1, VM2, c, 101, 501, port));
    assert_eq!(out.len(), 1);
    assert!(checksums_ok(&out[0]));
    assert_eq!(
        tcp_payload(&out[0]),
        (&b"PORT 10,0,0,100,7,208\r\n"[..], 101, 501)
    );
    // Later segments move by two both ways: the server acknowledges what
    // it received, vm1 sees the acknowledgement of what it sent.
    let next = 101 + port.len() as u32;
    let out = sent(&mut sim, 2, &tcp_with(VM1, VM2, c, next, 501, b"NOOP\r\n"));
    assert_eq!(tcp_payload(&out[0]).1, next + 2);
    assert!(checksums_ok(&out[0]));
    let back = tcp_with(VM2, public, s, 501, next + 2 + 6, b"200 OK\r\n");
    let out = sent(&mut sim, 1, &back);
    assert_eq!(
        out.len(),
        1,
        "the tracker reads the acknowledgement as vm1 meant it"
    );
    assert_eq!(tcp_payload(&out[0]).2, next + 6);
    assert!(checksums_ok(&out[0]));
    // The server connects to the announced public address; vm1 gets it.
    let out = sent(&mut sim, 1, &tcp(VM2, public, (20, 2000), SYN, 9000, 0, 0));
    assert_eq!(out.len(), 1, "related, let in");
    assert_eq!(&out[0][30..34], &VM1, "translated to vm1");
    assert!(checksums_ok(&out[0]));
    let out = sent(
        &mut sim,
        2,
        &tcp(VM1, VM2, (2000, 20), SYN | ACK, 7000, 9001, 0),
    );
    assert_eq!(
        &out[0][26..30],
        &public,
        "its reply from the public address"
    );
    // Passive: the server announces itself; vm1's data connection leaves
    // from the public address, as its control connection does.
    let pasv = tcp_with(
        VM2,
        public,
        s,
        509,
        next + 8,
        b"227 Entering (10,0,0,2,39,16)\r\n",
    );
    assert_eq!(tcp_payload(&sent(&mut sim, 1, &pasv)[0]).2, next + 6);
    let out = sent(&mut sim, 2, &tcp(VM1, VM2, (40100, 10000), SYN, 1, 0, 0));
    assert_eq!(out.len(), 1, "related, let out");
    let status = sim.run("frag-status").join("\n");
    assert!(status.contains("created:2 used:2"), "{status}");
    assert_eq!(
        &out[0][26..30],
        &public,
        "translated as its control connection"
    );
}

/// Two machines behind one SNAT address announce the same port to one
/// server: the second announcement is moved to the next port no
/// expectation takes, and each data connection reaches the machine that
/// announced it, at the port it announced (Linux's `nf_nat_ftp`).
#[test]
fn ftp_through_snat_moves_a_port_another_client_announced() {
    let mut sim = helper_pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,helper=ftp,nat(src=10.0.0.100))",
    );
    let (public, vm3) = ([10, 0, 0, 100], [10, 0, 0, 3]);
    for (client, sport, text, out_text) in [
        (
            VM1,
            40000,
            "PORT 10,0,0,1,7,208\r\n",
            "PORT 10,0,0,100,7,208\r\n",
        ),
        (
            vm3,
            40001,
            "PORT 10,0,0,3,7,208\r\n",
            "PORT 10,0,0,100,7,209\r\n",
        ),
    ] {
        let (c, s) = ((sport, 21), (21, sport));
        assert_eq!(
            sent(&mut sim, 2, &tcp(client, VM2, c, SYN, 100, 0, 0)).len(),
            1
        );
        let synack = tcp(VM2, public, s, SYN | ACK, 500, 101, 0);
        assert_eq!(sent(&mut sim, 1, &synack).len(), 1);
        let out = sent(
            &mut sim,
            2,
            &tcp_with(client, VM2, c, 101, 501, text.as_bytes()),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(tcp_payload(&out[0]).0, out_text.as_bytes());
        assert!(checksums_ok(&out[0]));
    }
    for (port, to) in [(2000, VM1), (2001, vm3)] {
        let out = sent(&mut sim, 1, &tcp(VM2, public, (20, port), SYN, 9000, 0, 0));
        assert_eq!(out.len(), 1, "port {port}: related, let in");
        assert_eq!(
            (&out[0][30..34], &out[0][36..38]),
            (&to[..], &2000u16.to_be_bytes()[..])
        );
        assert!(checksums_ok(&out[0]));
    }
}

/// Without NAT, an announcement another control connection made already
/// is dropped (Linux's `nf_conntrack_ftp` when `nf_ct_expect_related`
/// fails): the data connection would have been related to the other.
#[test]
fn ftp_announcing_what_another_control_connection_expects_is_dropped() {
    let mut sim = helper_firewall("ct(commit,zone=1,helper=ftp)");
    let (seq, ack) = ftp_control(&mut sim);
    let port = b"PORT 10,0,0,1,7,208\r\n";
    let cmd = tcp_with(VM1, VM2, (40000, 21), seq, ack, port);
    assert_eq!(send(&mut sim, 1, &cmd), vec![2]);
    // A second control connection from vm1 announces the same.
    let c = (40001, 21);
    assert_eq!(
        send(&mut sim, 1, &tcp(VM1, VM2, c, SYN, 100, 0, 0)),
        vec![2]
    );
    let synack = tcp(VM2, VM1, (21, 40001), SYN | ACK, 500, 101, 0);
    assert_eq!(send(&mut sim, 2, &synack), vec![1]);
    let again = tcp_with(VM1, VM2, c, 101, 501, port);
    assert_eq!(send(&mut sim, 1, &again), Vec::<u32>::new(), "dropped");
    assert!(expectations(&mut sim).contains("pending:1 created:1"));
    assert!(expectations(&mut sim).contains("clashes:1"));
}

/// A TFTP client whose source port SNAT changed gets the transfer back at
/// its own port (Linux's `nf_nat_tftp` maps it back to the request's).
#[test]
fn tftp_through_snat_that_moves_the_port_answers_the_clients_port() {
    let mut sim = helper_pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,helper=tftp,nat(src=10.0.0.100:5000-5000))",
    );
    let public = [10, 0, 0, 100];
    let rrq = udp_with(VM1, VM2, (3000, 69), b"\x00\x01boot.img\x00octet\x00");
    let out = sent(&mut sim, 2, &rrq);
    assert_eq!(
        (&out[0][26..30], &out[0][34..36]),
        (&public[..], &5000u16.to_be_bytes()[..])
    );
    let block = udp_with(VM2, public, (4000, 5000), b"\x00\x03\x00\x01data");
    let out = sent(&mut sim, 1, &block);
    assert_eq!(out.len(), 1, "related, let in");
    assert_eq!(
        (&out[0][30..34], &out[0][36..38]),
        (&VM1[..], &3000u16.to_be_bytes()[..])
    );
    assert!(checksums_ok(&out[0]));
}

/// A READ_EVENT whose buffer cannot hold the next event fails with
/// BUFFER_TOO_SMALL and leaves the event queued for a bigger read.
#[test]
fn a_short_event_read_keeps_the_event() {
    let mut sim = firewall("ct(commit,zone=1)");
    ct_listener(&mut sim, 5, &[1]);
    assert_eq!(send(&mut sim, 1, &udp(VM1, VM2, (1, 53))), vec![2]);
    assert_eq!(
        one(&mut sim, "ioctl 5 READ_EVENT - 36"),
        "ioctl 5 READ_EVENT BUFFER_TOO_SMALL -"
    );
    let lost = sim
        .device()
        .with_datapath(|dp| dp.queues.lock().events.counts())
        .unwrap();
    assert_eq!(lost, (1, 0), "still queued, nothing lost");
    assert_eq!(
        next_event(&mut sim, 5),
        Some((0x0100, 0x400 | 0x200, 2)),
        "NEW"
    );
    assert_eq!(next_event(&mut sim, 5), None);
}

/// Closing a listener's handle stops the events of the groups nobody else
/// listens to from being rendered.
#[test]
fn closing_the_last_listener_stops_events() {
    use ovsext::event::group;
    let mut sim = firewall("ct(commit,zone=1)");
    ct_listener(&mut sim, 5, &[1, 3]);
    ct_listener(&mut sim, 6, &[3]);
    let listening = |sim: &Sim| {
        sim.device()
            .with_datapath(|dp| dp.conntrack.listeners())
            .unwrap()
    };
    assert_eq!(listening(&sim), group::CT_NEW | group::CT_DESTROY);
    assert!(sim.run("close 5").is_empty());
    assert_eq!(listening(&sim), group::CT_DESTROY, "handle 6 still listens");
    assert!(sim.run("close 6").is_empty());
    assert_eq!(listening(&sim), 0);
}

/// A limit of 0xffffffff is a limit like any other: GET reports it as set,
/// for a zone and for the default.
#[test]
fn the_largest_zone_limit_reads_back_as_set() {
    let mut sim = firewall("ct(commit,zone=1)");
    ct_limits(&mut sim, 1, Some(&[(1, u32::MAX, 0), (-1, u32::MAX, 0)]));
    assert_eq!(
        ct_limits(&mut sim, 3, Some(&[(1, 0, 0), (-1, 0, 0), (2, 0, 0)])),
        vec![(1, u32::MAX, 0), (-1, u32::MAX, 0), (2, u32::MAX, 0)]
    );
    assert_eq!(
        ct_limits(&mut sim, 3, None),
        vec![(-1, u32::MAX, 0), (1, u32::MAX, 0)]
    );
    // Back to the default: zone 1 follows it again.
    ct_limits(&mut sim, 2, Some(&[(1, 0, 0)]));
    ct_limits(&mut sim, 1, Some(&[(-1, 7, 0)]));
    assert_eq!(ct_limits(&mut sim, 3, None), vec![(-1, 7, 0)]);
    assert_eq!(ct_limits(&mut sim, 3, Some(&[(1, 0, 0)])), vec![(1, 7, 0)]);
}

/// Sends `frames` (each with the port it comes in from) as one chain
/// after another of `LOOKUP_BATCH` frames; what leaves, in order.
fn chains(sim: &mut Sim, frames: &[(u32, Vec<u8>)]) -> Vec<(u32, Vec<u8>)> {
    chains_tagged(sim, frames, None)
}

/// `chains`, every frame carrying the VLAN tag `tci` out of band (as the
/// switch gives it in a packet's 802.1Q information).
fn chains_tagged(
    sim: &mut Sim,
    frames: &[(u32, Vec<u8>)],
    tci: Option<u16>,
) -> Vec<(u32, Vec<u8>)> {
    use ovsext::packet::Packet;
    let mut sent = Sent::default();
    for chain in frames.chunks(ovsext::flow::table::LOOKUP_BATCH) {
        let chain = chain.iter().map(|(port, f)| {
            let mut pkt = ovsext::packet::OwnedPacket::from_frame(f).unwrap();
            pkt.set_oob_vlan(tci);
            ((*port, 0), pkt)
        });
        receive_chain(sim, chain, &mut sent);
    }
    sent.0
}

/// Chains of frames through `ct(zone=1,nat)` into a table large enough
/// that each chain's connections are read ahead with its flows: every
/// frame is tracked and translated as it would be alone. A translated
/// packet cleared and tracked again in the same zone is read afresh (it
/// is no connection's packet any more), not as it was read ahead.
#[test]
fn chains_into_a_large_table_are_tracked_as_their_frames_alone() {
    let mut sim = setup();
    let udp_flow = "eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp()";
    let flows = [
        ("recirc_id(0),in_port(1)", "ct(zone=1,nat),recirc(1)"),
        ("recirc_id(0),in_port(2)", "ct(zone=1,nat),recirc(1)"),
        (
            "recirc_id(1),ct_state(+new+trk),in_port(1)",
            "ct(commit,zone=1,nat(src=10.9.9.9)),recirc(2)",
        ),
        ("recirc_id(1),ct_state(+est-rpl+trk),in_port(1)", "2"),
        ("recirc_id(1),ct_state(+est+rpl+trk),in_port(2)", "1"),
        ("recirc_id(2),in_port(1)", "ct_clear,ct(zone=1),recirc(3)"),
        ("recirc_id(3),ct_state(+new+trk),in_port(1)", "2"),
    ];
    for (i, (flow, actions)) in flows.iter().enumerate() {
        install_text(
            &mut sim,
            200 + i as u32,
            &format!("{flow},{udp_flow}"),
            actions,
        );
    }
    let server = [10, 1, 0, 1];
    let public = [10, 9, 9, 9];
    let client = |i: u32| [10, 0, (i >> 8) as u8, i as u8];
    let sport = |i: u32| 1024 + i as u16;
    // Enough connections that the tracker reads ahead.
    let n = 17_000u32;
    let new: Vec<_> = (0..n)
        .map(|i| (1, udp(client(i), server, (sport(i), 53))))
        .collect();
    let out = chains(&mut sim, &new);
    assert_eq!(out.len(), n as usize);
    for (i, (port, f)) in out.iter().enumerate() {
        assert_eq!(*port, 2);
        assert_eq!((&f[26..30], &f[30..34]), (&public[..], &server[..]), "{i}");
        assert!(checksums_ok(f));
    }
    // Then mixed chains: a packet of each connection, the server's reply,
    // and new connections, each translated as its connection says.
    let mut mixed = Vec::new();
    for i in 0..n + 500 {
        mixed.push((1, udp(client(i), server, (sport(i), 53))));
        if i < n {
            mixed.push((2, udp(server, public, (53, sport(i)))));
        }
    }
    let out = chains(&mut sim, &mixed);
    assert_eq!(out.len(), mixed.len(), "none dropped, none read stale");
    let clashes = sim.device().with_datapath(|dp| {
        dp.conntrack
            .stats
            .clashes
            .load(std::sync::atomic::Ordering::Relaxed)
    });
    assert_eq!(clashes.unwrap(), 0);
    for ((from, sent), (port, f)) in mixed.iter().zip(&out) {
        assert!(checksums_ok(f));
        if *from == 1 {
            assert_eq!(*port, 2);
            assert_eq!(&f[26..30], &public);
            assert_eq!(&f[34..36], &sent[34..36], "the port is kept");
        } else {
            let i = u32::from(u16::from_be_bytes([sent[36], sent[37]])) - 1024;
            assert_eq!(*port, 1);
            assert_eq!(&f[26..30], &server);
            assert_eq!(&f[30..34], &client(i), "translated back");
            assert_eq!(&f[36..38], &sport(i).to_be_bytes());
        }
    }
}

// ---- scenarios as ovs-vswitchd and the CNIs drive the datapath ----

/// Subscribes handle 1 (PID 1, the vports' upcall PID) to packets.
fn take_upcalls(sim: &mut Sim) {
    let sub = Req::new(0x11, 3, 1, 50, 1).u8(2, 1).u32(3, 1);
    assert_eq!(
        one(sim, &ioctl(1, "WRITE", &sub)),
        "ioctl 1 WRITE SUCCESS -"
    );
}

/// The next upcall on handle 1: (key, packet).
fn upcall(sim: &mut Sim) -> (Vec<u8>, Vec<u8>) {
    let (hdr, a) = reply(&one(sim, "ioctl 1 READ_PACKET -"));
    assert_eq!((hdr.ty, hdr.cmd), (PACKET, 1), "a miss");
    (get(&a, 2).to_vec(), get(&a, 1).to_vec())
}

/// `OVS_PACKET_CMD_EXECUTE` of `frame` with the upcall's `key` and
/// `actions` (ovs-vswitchd's handling of a miss); the frames it sends by
/// each port.
fn execute_upcall(sim: &mut Sim, frame: &[u8], key: &[u8], actions: &str) -> Vec<(u32, Vec<u8>)> {
    let acts = ovsext::flow::text::parse_actions(actions).unwrap();
    let exec = Req::new(PACKET, 3, 1, 60, DPID)
        .raw(1, frame)
        .raw(2, key)
        .raw(3, &acts);
    sim.run(&ioctl(1, "TRANSACT", &exec))
        .iter()
        .filter_map(|l| l.strip_prefix("tx "))
        .map(|l| {
            let (port, hex) = l.split_once(' ').unwrap();
            (port.parse().unwrap(), unhex(hex))
        })
        .collect()
}

/// The value of the key attribute `ty` in a key stream.
fn key_attr(key: &[u8], ty: u16) -> Vec<u8> {
    ovsext::netlink::attrs(key)
        .map(|a| a.unwrap())
        .find(|a| a.ty() == ty)
        .map(|a| a.payload().to_vec())
        .unwrap_or_else(|| panic!("no key attribute {ty}"))
}

fn clashes(sim: &Sim) -> u64 {
    sim.device()
        .with_datapath(|dp| {
            dp.conntrack
                .stats
                .clashes
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .unwrap()
}

/// A first packet misses after `ct(zone=1,nat),recirc(1)`: it goes up
/// untranslated with its ct fields, and ovs-vswitchd executes it with
/// that key and `ct(commit,zone=1,nat(src=...)),mark`, output: it is
/// committed and translated once. A later packet of the connection that
/// misses goes up translated, and executing it with the commit again
/// leaves it translated once more, not twice (Linux's
/// `ovs_ct_find_existing` for a packet whose key says it was NATed).
#[test]
fn a_miss_after_ct_nat_is_committed_by_execute_and_translated_once() {
    let mut sim = setup();
    take_upcalls(&mut sim);
    let base = "eth(),eth_type(0x0800),ipv4(frag=no)";
    for (i, (flow, acts)) in [
        ("recirc_id(0),in_port(1)", "ct(zone=1,nat),recirc(1)"),
        ("recirc_id(0),in_port(2)", "ct(zone=1,nat),recirc(1)"),
        (
            "recirc_id(1),ct_state(+est+rpl+trk),ct_mark(0x9),in_port(2)",
            "1",
        ),
    ]
    .iter()
    .enumerate()
    {
        install_text(&mut sim, 500 + i as u32, &format!("{flow},{base}"), acts);
    }
    let commit = "ct(commit,zone=1,mark=0x9/0xff,nat(src=192.168.100.1:6000-6010)),2";
    let public = [192, 168, 100, 1];
    let syn = tcp(VM1, VM2, (40000, 80), SYN, 100, 0, 0);
    assert_eq!(send(&mut sim, 1, &syn), Vec::<u32>::new());
    let (key, pkt) = upcall(&mut sim);
    assert_eq!(pkt, syn, "not translated before its commit");
    let state = u32_of(&key_attr(&key, k::CT_STATE));
    assert_eq!(state, k::CS_TRACKED | k::CS_NEW);
    assert_eq!(key_attr(&key, k::CT_ZONE), 1u16.to_ne_bytes());
    let out = execute_upcall(&mut sim, &pkt, &key, commit);
    assert_eq!(out.len(), 1);
    let (port, f) = &out[0];
    assert_eq!(*port, 2);
    assert_eq!(&f[26..30], &public);
    let sport = u16::from_be_bytes([f[34], f[35]]);
    assert!((6000..=6010).contains(&sport), "{sport}");
    assert!(checksums_ok(f));
    let d = dump_conntrack(&mut sim);
    assert_eq!(d.len(), 1, "committed once");
    // The SYN sent again before ovs-vswitchd installed a flow for it goes
    // up translated (its connection is stored now), still new, and
    // leaves as the first.
    assert_eq!(send(&mut sim, 1, &syn), Vec::<u32>::new());
    let (again, pkt) = upcall(&mut sim);
    assert_eq!(&pkt[26..30], &public);
    let state = u32_of(&key_attr(&again, k::CT_STATE));
    assert_eq!(state, k::CS_TRACKED | k::CS_NEW | k::CS_SRC_NAT);
    assert_eq!(execute_upcall(&mut sim, &pkt, &again, commit), out);
    // The reply matches the mark set at the commit and is translated back.
    let back = sent(
        &mut sim,
        1,
        &tcp(VM2, public, (80, sport), SYN | ACK, 500, 101, 0),
    );
    assert_eq!(back.len(), 1, "+est+rpl, ct_mark 9");
    assert_eq!(&back[0][30..34], &VM1);
    assert_eq!(&back[0][36..38], &40000u16.to_be_bytes());
    assert!(checksums_ok(&back[0]));
    // The client's ACK misses too (no flow for +est-rpl) and goes up
    // translated, with the NAT bit and the mark in its key.
    let ack = tcp(VM1, VM2, (40000, 80), ACK, 101, 501, 0);
    assert_eq!(send(&mut sim, 1, &ack), Vec::<u32>::new());
    let (key, pkt) = upcall(&mut sim);
    assert_eq!(&pkt[26..30], &public);
    assert_eq!(&pkt[34..36], &sport.to_be_bytes());
    let state = u32_of(&key_attr(&key, k::CT_STATE));
    assert_eq!(state, k::CS_TRACKED | k::CS_ESTABLISHED | k::CS_SRC_NAT);
    assert_eq!(u32_of(&key_attr(&key, k::CT_MARK)), 9);
    let orig = key_attr(&key, k::CT_ORIG_TUPLE_IPV4);
    assert_eq!(
        &orig[..13],
        &[&VM1[..], &VM2, &[0x9c, 0x40, 0, 80, 6]].concat()[..],
        "the original tuple, as the client sent it"
    );
    let out = execute_upcall(&mut sim, &pkt, &key, commit);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, pkt, "translated once only");
    assert_eq!(dump_conntrack(&mut sim).len(), 1);
    assert_eq!(clashes(&sim), 0);
}

const C6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const VIP6: [u8; 16] = [0xfd, 0, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const MASQ6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe];

/// The checksum of an IPv6 upper-layer packet `l4` of protocol `proto`.
fn l4_sum6(src: &[u8], dst: &[u8], proto: u8, l4: &[u8]) -> u16 {
    let len = (l4.len() as u32).to_be_bytes();
    csum(&[src, dst, &len[..], &[0, 0, 0, proto], l4].concat())
}

/// An Ethernet/IPv6 frame carrying `l4` of protocol `proto` (TCP, UDP or
/// ICMPv6), its checksum right.
fn ipv6_frame(src: [u8; 16], dst: [u8; 16], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 0x86, 0xdd];
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    f.extend_from_slice(&[proto, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let mut l4 = l4.to_vec();
    let at = match proto {
        6 => 16,
        17 => 6,
        _ => 2,
    };
    l4[at..at + 2].fill(0);
    let c = l4_sum6(&src, &dst, proto, &l4);
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    f.extend(l4);
    f
}

/// The transport checksum of an Ethernet/IPv6 frame verifies.
fn checksums6_ok(f: &[u8]) -> bool {
    l4_sum6(&f[22..38], &f[38..54], f[20], &f[54..]) == 0
}

fn tcp6(src: [u8; 16], dst: [u8; 16], ports: (u16, u16), flags: u8, seq: u32, ack: u32) -> Vec<u8> {
    ipv6_frame(src, dst, 6, &tcp_segment(ports, flags, seq, ack, 0))
}

fn udp6(src: [u8; 16], dst: [u8; 16], ports: (u16, u16)) -> Vec<u8> {
    ipv6_frame(src, dst, 17, &udp_datagram(ports))
}

/// An IPv6 frame's (source, source port, destination, destination port),
/// its checksum verified.
fn fields6(f: &[u8]) -> ([u8; 16], u16, [u8; 16], u16) {
    assert!(checksums6_ok(f));
    let port = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
    (
        f[22..38].try_into().unwrap(),
        port(54),
        f[38..54].try_into().unwrap(),
        port(56),
    )
}

/// An IPv6 service: TCP and UDP through DNAT in zone 1 and masquerade in
/// zone 2, both ways, every checksum right; a "packet too big" from the
/// backend about the TCP connection reaches the client from the service,
/// quoting the packet as the client sent it.
#[test]
fn an_ipv6_service_dnat_then_masquerade_in_two_zones() {
    for l4 in ["tcp6", "udp6"] {
        let mut sim = service("[fd00::2]:8080", false, l4);
        let c = (40000, 80);
        let first = |flags| match l4 {
            "tcp6" => tcp6(C6, VIP6, c, flags, 100, 0),
            _ => udp6(C6, VIP6, c),
        };
        let out = sent(&mut sim, 2, &first(SYN));
        assert_eq!(out.len(), 1, "{l4}");
        let (src, p, dst, dport) = fields6(&out[0]);
        assert_eq!((src, dst, dport), (MASQ6, B6, 8080), "{l4}");
        let answer = match l4 {
            "tcp6" => tcp6(B6, MASQ6, (8080, p), SYN | ACK, 500, 101),
            _ => udp6(B6, MASQ6, (8080, p)),
        };
        let back = sent(&mut sim, 1, &answer);
        assert_eq!(back.len(), 1, "{l4} reply");
        assert_eq!(fields6(&back[0]), (VIP6, 80, C6, 40000), "{l4}");
        if l4 == "udp6" {
            continue;
        }
        service_icmp_errors(&mut sim, true);
        // Packet too big (type 2), MTU 1280, quoting the SYN as it arrived.
        let mut body = vec![2, 0, 0, 0, 0, 0, 5, 0];
        body.extend_from_slice(&out[0][14..]);
        let err = sent(&mut sim, 1, &ipv6_frame(B6, MASQ6, 58, &body));
        assert_eq!(err.len(), 1, "+rel+rpl in both zones");
        let e = &err[0];
        assert!(checksums6_ok(e), "ICMPv6 checksum");
        assert_eq!((&e[22..38], &e[38..54]), (&VIP6[..], &C6[..]), "outer");
        let quoted = &e[62..];
        assert_eq!((&quoted[8..24], &quoted[24..40]), (&C6[..], &VIP6[..]));
        assert_eq!(&quoted[40..44], &[0x9c, 0x40, 0, 80], "quoted ports");
        assert_eq!(
            l4_sum6(&quoted[8..24], &quoted[24..40], 6, &quoted[40..]),
            0,
            "the quoted segment's checksum, as the client sent it"
        );
    }
}

/// `f` with an 802.1Q tag of `tci` after its Ethernet addresses.
fn tagged(f: &[u8], tci: u16) -> Vec<u8> {
    [&f[..12], &[0x81, 0x00], &tci.to_be_bytes()[..], &f[12..]].concat()
}

/// `f` without the 802.1Q tag `tci` it must carry.
fn untagged(f: &[u8], tci: u16) -> Vec<u8> {
    assert_eq!(
        &f[12..16],
        &[&[0x81, 0x00][..], &tci.to_be_bytes()[..]].concat()
    );
    [&f[..12], &f[16..]].concat()
}

/// Frames tagged for VLAN 10 (in band, and out of band as the switch
/// gives them) through SNAT and back: the tag stays, the addresses, ports
/// and checksums behind it are translated as in an untagged frame, and an
/// ICMP error about the connection is translated back with its quoted
/// header.
#[test]
fn vlan_tagged_frames_through_snat() {
    for oob in [false, true] {
        vlan_through_snat(oob);
    }
}

fn vlan_through_snat(oob: bool) {
    let mut sim = setup();
    let m = |e: &str| {
        format!(
            "eth(),eth_type(0x8100),vlan(vid=10,pcp=1),encap(eth_type(0x0800),ipv4({e}frag=no))"
        )
    };
    let flows = [
        ("recirc_id(0),in_port(1)", "", "ct(zone=1,nat),recirc(1)"),
        ("recirc_id(0),in_port(2)", "", "ct(zone=1,nat),recirc(1)"),
        (
            "recirc_id(1),ct_state(+new+trk),in_port(1)",
            "",
            "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010)),2",
        ),
        ("recirc_id(1),ct_state(+est-rpl+trk),in_port(1)", "", "2"),
        ("recirc_id(1),ct_state(+est+rpl+trk),in_port(2)", "", "1"),
        ("recirc_id(1),ct_state(+rel+rpl+trk),in_port(2)", "", "1"),
    ];
    for (i, (flow, e, acts)) in flows.iter().enumerate() {
        install_text(&mut sim, 700 + i as u32, &format!("{flow},{}", m(e)), acts);
    }
    let public = [192, 168, 100, 1];
    let tci = 0x200a;
    // What leaves by `port` of `frame` sent in from the other port.
    let sent = |sim: &mut Sim, port: u32, frame: &[u8]| -> Vec<Vec<u8>> {
        if !oob {
            return sent(sim, port, &tagged(frame, tci));
        }
        let from = if port == 1 { 2 } else { 1 };
        let out = chains_tagged(sim, &[(from, frame.to_vec())], Some(tci));
        out.into_iter()
            .filter(|(p, _)| *p == port)
            .map(|(_, f)| f)
            .collect()
    };
    for (i, l4) in ["tcp", "udp"].iter().enumerate() {
        let sport = 40000 + i as u16;
        let first = match *l4 {
            "tcp" => tcp(VM1, VM2, (sport, 80), SYN, 100, 0, 0),
            _ => udp(VM1, VM2, (sport, 80)),
        };
        let out = sent(&mut sim, 2, &first);
        assert_eq!(out.len(), 1, "{l4} {oob}");
        let o = untagged(&out[0], tci);
        assert!(checksums_ok(&o), "{l4}");
        assert_eq!((&o[26..30], &o[30..34]), (&public[..], &VM2[..]));
        let port = u16::from_be_bytes([o[34], o[35]]);
        assert!((5000..=5010).contains(&port), "{l4} {port}");
        assert_eq!(
            &o[36..38],
            &first[36..38],
            "{l4}: the destination port kept"
        );
        let answer = match *l4 {
            "tcp" => tcp(VM2, public, (80, port), SYN | ACK, 500, 101, 0),
            _ => udp(VM2, public, (80, port)),
        };
        let back = sent(&mut sim, 1, &answer);
        assert_eq!(back.len(), 1, "{l4} reply");
        let b = untagged(&back[0], tci);
        assert!(checksums_ok(&b), "{l4} reply");
        assert_eq!(
            (&b[30..34], &b[36..38]),
            (&VM1[..], &sport.to_be_bytes()[..])
        );
        // Port unreachable about the translated datagram.
        let err = sent(&mut sim, 1, &port_unreachable(VM2, public, &o));
        assert_eq!(err.len(), 1, "{l4} +rel+rpl");
        let e = untagged(&err[0], tci);
        assert!(checksums_ok(&e));
        assert_eq!((&e[30..34], &e[42 + 12..42 + 16]), (&VM1[..], &VM1[..]));
        assert_eq!(&e[62..64], &sport.to_be_bytes(), "quoted port");
        assert_eq!(csum(&e[42..62]), 0, "quoted IPv4 header checksum");
    }
}

/// `f` (Ethernet/IPv4 without options) with the IPv4 options `opts`
/// (a multiple of 4 bytes), its lengths and header checksum right.
fn with_ip_options(f: &[u8], opts: &[u8]) -> Vec<u8> {
    let mut g = [&f[..34], opts, &f[34..]].concat();
    g[14] = 0x45 + (opts.len() / 4) as u8;
    let len = u16::from_be_bytes([g[16], g[17]]) + opts.len() as u16;
    g[16..18].copy_from_slice(&len.to_be_bytes());
    ip_checksum(&mut g);
    g
}

/// Packets with IPv4 options (a router alert, padding) through SNAT and
/// back: the options stay, the transport header behind them is found and
/// translated, every checksum right; an ICMP error quoting a header with
/// options is translated back through the quoted header too.
#[test]
fn ipv4_options_through_snat() {
    let mut sim = pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010))",
    );
    let public = [192, 168, 100, 1];
    let opts = [0x94, 4, 0, 0, 1, 1, 1, 0];
    for (i, l4) in ["tcp", "udp"].iter().enumerate() {
        let sport = 40000 + i as u16;
        let first = match *l4 {
            "tcp" => tcp(VM1, VM2, (sport, 80), SYN, 100, 0, 0),
            _ => udp(VM1, VM2, (sport, 80)),
        };
        let out = sent(&mut sim, 2, &with_ip_options(&first, &opts));
        assert_eq!(out.len(), 1, "{l4}");
        let o = &out[0];
        assert!(checksums_ok(o), "{l4}");
        assert_eq!(&o[34..42], &opts, "{l4}: the options kept");
        assert_eq!((&o[26..30], &o[30..34]), (&public[..], &VM2[..]));
        let port = u16::from_be_bytes([o[42], o[43]]);
        assert!((5000..=5010).contains(&port), "{l4} {port}");
        let answer = match *l4 {
            "tcp" => tcp(VM2, public, (80, port), SYN | ACK, 500, 101, 0),
            _ => udp(VM2, public, (80, port)),
        };
        let back = sent(&mut sim, 1, &with_ip_options(&answer, &opts));
        assert_eq!(back.len(), 1, "{l4} reply");
        let b = &back[0];
        assert!(checksums_ok(b), "{l4} reply");
        assert_eq!(
            (&b[30..34], &b[44..46]),
            (&VM1[..], &sport.to_be_bytes()[..])
        );
        // Port unreachable quoting the translated packet, options and all.
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&o[14..14 + 36]);
        let err = sent(&mut sim, 1, &ipv4_frame(VM2, public, 1, &icmp));
        assert_eq!(err.len(), 1, "{l4} +rel+rpl");
        let e = &err[0];
        assert!(checksums_ok(e));
        let quoted = &e[42..];
        assert_eq!((&quoted[12..16], &quoted[20..28]), (&VM1[..], &opts[..]));
        assert_eq!(&quoted[28..30], &sport.to_be_bytes(), "quoted port");
        assert_eq!(csum(&quoted[..28]), 0, "quoted IPv4 header checksum");
    }
}

/// A TCP connection through SNAT reset by either end, then opened again
/// from the same port: the reset goes through translated, the new SYN
/// replaces the closed connection and its handshake goes both ways.
#[test]
fn a_connection_reset_by_either_end_reopens_through_snat() {
    let mut sim = pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010))",
    );
    let public = [192, 168, 100, 1];
    let p = (40000, 80);
    let mut isn = 100;
    for client_resets in [true, false, true] {
        let out = sent(&mut sim, 2, &tcp(VM1, VM2, p, SYN, isn, 0, 0));
        assert_eq!(out.len(), 1, "SYN {isn}");
        assert!(checksums_ok(&out[0]));
        let port = u16::from_be_bytes([out[0][34], out[0][35]]);
        let srv = |flags, seq, ack| tcp(VM2, public, (80, port), flags, seq, ack, 0);
        let back = sent(&mut sim, 1, &srv(SYN | ACK, 7000, isn + 1));
        assert_eq!(back.len(), 1, "SYN|ACK {isn}");
        assert_eq!(&back[0][30..34], &VM1);
        let ack = tcp(VM1, VM2, p, ACK | PSH, isn + 1, 7001, 4);
        assert_eq!(sent(&mut sim, 2, &ack).len(), 1, "data {isn}");
        if client_resets {
            let rst = tcp(VM1, VM2, p, RST | ACK, isn + 5, 7001, 0);
            let out = sent(&mut sim, 2, &rst);
            assert_eq!(out.len(), 1, "client RST {isn}");
            assert_eq!(
                (&out[0][26..30], &out[0][34..36]),
                (&public[..], &port.to_be_bytes()[..])
            );
            assert!(checksums_ok(&out[0]));
        } else {
            let back = sent(&mut sim, 1, &srv(RST | ACK, 7001, isn + 5));
            assert_eq!(back.len(), 1, "server RST {isn}");
            assert_eq!(
                (&back[0][30..34], &back[0][36..38]),
                (&VM1[..], &p.0.to_be_bytes()[..])
            );
            assert!(checksums_ok(&back[0]));
        }
        isn += 100_000;
    }
    let table = sim.device().with_datapath(|dp| dp.conntrack.table().len());
    assert_eq!(table.unwrap(), 1, "each reopening replaced the last");
    assert_eq!(clashes(&sim), 0);
}

/// One datagram flow tracked in two zones: the zone where it was answered
/// times out first, the other zone's connection stays, and the same ports
/// open a new connection in the first zone afterwards.
#[test]
fn one_zones_connection_expires_while_the_others_stays() {
    let mut sim = firewall("ct(commit,zone=1)");
    let (q, a) = (udp(VM1, VM2, (5000, 53)), udp(VM2, VM1, (53, 5000)));
    assert_eq!(send(&mut sim, 1, &q), vec![2]);
    assert_eq!(send(&mut sim, 2, &a), vec![1], "answered: 30 s");
    let commit2 = ovsext::flow::text::parse_actions("ct(commit,zone=2)").unwrap();
    sim.run("tick 10000");
    execute(&mut sim, &q, &commit2);
    let zones = |sim: &mut Sim| {
        let mut z: Vec<u16> = dump_conntrack(sim).iter().map(|e| e.1).collect();
        z.sort();
        z
    };
    assert_eq!(zones(&mut sim), [1, 2]);
    sim.run("tick 21000");
    assert_eq!(
        zones(&mut sim),
        [2],
        "zone 1's went after 30 s, zone 2's has 60"
    );
    assert_eq!(send(&mut sim, 2, &a), vec![], "zone 1 knows it no more");
    assert_eq!(send(&mut sim, 1, &q), vec![2], "new in zone 1");
    assert_eq!(send(&mut sim, 2, &a), vec![1]);
    assert_eq!(zones(&mut sim), [1, 2]);
    sim.run("tick 40000");
    assert_eq!(zones(&mut sim), Vec::<u16>::new());
}

/// A UDP exchange with a two-zone service goes on while one zone or the
/// other is flushed (`ovs-appctl dpctl/flush-conntrack zone=N`): the next
/// query is committed again in the flushed zone, translated as before,
/// and its answer comes back through both zones.
#[test]
fn flushing_one_zone_of_a_service_while_traffic_continues() {
    let mut sim = service("10.0.0.2:53", false, "udp");
    let (vip, masq) = ([10, 96, 0, 10], [10, 0, 0, 254]);
    let query = udp(VM1, vip, (5353, 53));
    let first = sent(&mut sim, 2, &query);
    assert_eq!(first.len(), 1);
    let p = u16::from_be_bytes([first[0][34], first[0][35]]);
    let answer = udp(VM2, masq, (53, p));
    let round = |sim: &mut Sim, what: &str| {
        let out = sent(sim, 2, &query);
        assert_eq!(out, first, "{what}: the query as the first");
        let back = sent(sim, 1, &answer);
        assert_eq!(back.len(), 1, "{what}: the answer");
        assert_eq!((&back[0][26..30], &back[0][30..34]), (&vip[..], &VM1[..]));
        assert_eq!(&back[0][34..38], &[0, 53, 0x14, 0xe9]);
        assert!(checksums_ok(&back[0]));
    };
    round(&mut sim, "before");
    for zone in [2u16, 1] {
        let line = flush(&mut sim, 0, &attr(18, &zone.to_be_bytes()));
        assert_eq!(result(&line).1.len(), 24, "flushed zone {zone}");
        let zones: Vec<u16> = dump_conntrack(&mut sim).iter().map(|e| e.1).collect();
        assert_eq!(zones, [3 - zone], "zone {zone} only");
        round(&mut sim, &format!("zone {zone} flushed"));
        assert_eq!(dump_conntrack(&mut sim).len(), 2);
    }
}

/// ct_mark and ct_label bits set by separate commits with masks, as OVN
/// and Antrea keep independent bits in them: the first commit (by
/// ovs-vswitchd's execute of a miss) sets some, a later commit of an
/// established packet others, keeping the first; flows after each
/// recirculation match exactly what was set, both ways, through SNAT.
#[test]
fn masked_marks_and_labels_set_by_commits_across_recirculation_and_an_upcall() {
    let mut sim = setup();
    take_upcalls(&mut sim);
    let base = "eth(),eth_type(0x0800),ipv4(frag=no)";
    let flows = [
        ("recirc_id(0),in_port(1)", "ct(zone=1,nat),recirc(1)"),
        ("recirc_id(0),in_port(2)", "ct(zone=1,nat),recirc(3)"),
        (
            "recirc_id(1),ct_state(-new+est-rpl+trk),in_port(1)",
            "ct(commit,zone=1,mark=0x1/0x1,label=0x100/0x100),recirc(2)",
        ),
        ("recirc_id(2),ct_mark(0x10),ct_label(0x1),in_port(1)", "2"),
        ("recirc_id(2),ct_mark(0x11),ct_label(0x101),in_port(1)", "2"),
        (
            "recirc_id(3),ct_state(+est+rpl+trk),ct_mark(0x10),ct_label(0x1),in_port(2)",
            "1",
        ),
        (
            "recirc_id(3),ct_state(+est+rpl+trk),ct_mark(0x11),ct_label(0x101),in_port(2)",
            "1",
        ),
    ];
    for (i, (flow, acts)) in flows.iter().enumerate() {
        install_text(&mut sim, 800 + i as u32, &format!("{flow},{base}"), acts);
    }
    let public = [192, 168, 100, 1];
    let p = (40000, 80);
    // The SYN misses at recirc_id(1); ovs-vswitchd commits it.
    let syn = tcp(VM1, VM2, p, SYN, 100, 0, 0);
    assert_eq!(send(&mut sim, 1, &syn), Vec::<u32>::new());
    let (key, pkt) = upcall(&mut sim);
    let commit = "ct(commit,zone=1,mark=0x10/0xf0,label=0x1/0x1,nat(src=192.168.100.1)),recirc(2)";
    let out = execute_upcall(&mut sim, &pkt, &key, commit);
    assert_eq!(out.len(), 1, "mark 0x10, label 0x1 after the commit");
    assert_eq!((out[0].0, &out[0].1[26..30]), (2, &public[..]));
    let port = u16::from_be_bytes([out[0].1[34], out[0].1[35]]);
    let srv = |flags, seq, ack| tcp(VM2, public, (80, port), flags, seq, ack, 0);
    assert_eq!(send(&mut sim, 2, &srv(SYN | ACK, 500, 101)), vec![1]);
    // The ACK is committed again with other bits: mark 0x11, label 0x101.
    let ack = tcp(VM1, VM2, p, ACK, 101, 501, 0);
    assert_eq!(send(&mut sim, 1, &ack), vec![2]);
    assert_eq!(send(&mut sim, 2, &srv(ACK | PSH, 501, 101)), vec![1]);
    let d = dump_conntrack_attrs(&mut sim);
    assert_eq!(d.len(), 1);
    assert_eq!(get(&d[0].1, 8), &0x11u32.to_be_bytes(), "CTA_MARK");
    let mut labels = [0u8; 16];
    labels[0] = 1;
    labels[1] = 1;
    assert_eq!(get(&d[0].1, 22), &labels, "CTA_LABELS");
}

/// A limit of one connection in a service's masquerading zone: a second
/// client's packet is translated and committed in the service's zone but
/// refused (dropped) in the masquerading one, which keeps counting one;
/// once the zone is flushed the second client gets through and the
/// first's next packet is the one refused. A connection a new SYN reopens
/// replaces the old one within the limit.
#[test]
fn zone_limits_with_nat_count_and_refuse_per_zone() {
    let mut sim = service("10.0.0.2:8080", false, "tcp");
    let vip = [10, 96, 0, 10];
    ct_limits(&mut sim, 1, Some(&[(2, 1, 0)]));
    let syn = |sport: u16, seq| tcp(VM1, vip, (sport, 80), SYN, seq, 0, 0);
    assert_eq!(sent(&mut sim, 2, &syn(40000, 100)).len(), 1);
    assert!(
        sent(&mut sim, 2, &syn(40001, 100)).is_empty(),
        "over zone 2's limit"
    );
    let counts = |sim: &mut Sim| ct_limits(sim, 3, Some(&[(1, 0, 0), (2, 0, 0)]));
    assert_eq!(counts(&mut sim), vec![(1, 0, 2), (2, 1, 1)]);
    flush(&mut sim, 0, &attr(18, &2u16.to_be_bytes()));
    assert_eq!(counts(&mut sim), vec![(1, 0, 2), (2, 1, 0)]);
    assert_eq!(sent(&mut sim, 2, &syn(40001, 100)).len(), 1, "now in");
    assert!(
        sent(&mut sim, 2, &syn(40000, 100)).is_empty(),
        "now refused"
    );
    assert_eq!(counts(&mut sim), vec![(1, 0, 2), (2, 1, 1)]);
    // The second client's connection reset and opened again.
    let out = sent(
        &mut sim,
        2,
        &tcp(VM1, vip, (40001, 80), RST | ACK, 101, 0, 0),
    );
    assert_eq!(out.len(), 1, "the reset");
    assert_eq!(sent(&mut sim, 2, &syn(40001, 90_000)).len(), 1, "reopened");
    assert_eq!(counts(&mut sim), vec![(1, 0, 2), (2, 1, 1)]);
    sim.run("tick 31000");
    assert_eq!(counts(&mut sim), vec![(1, 0, 0), (2, 1, 0)]);
}

/// ICMPv6 echo through IPv6 SNAT: the identifier and source translated
/// and back, the ICMPv6 checksum (over the pseudo-header) right; and an
/// IPv6 packet with a hop-by-hop options header (as MLD reports carry a
/// router alert) before its UDP header is tracked and translated behind
/// it.
#[test]
fn icmpv6_echo_and_extension_headers_through_ipv6_snat() {
    let mut sim = pipeline_of(
        "eth(),eth_type(0x86dd),ipv6(frag=no)",
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=[fd00::fe]))",
    );
    let echo = |src, dst, ty: u8, id: u16| {
        let mut b = vec![ty, 0, 0, 0];
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&[0, 1, b'p', b'i', b'n', b'g']);
        ipv6_frame(src, dst, 58, &b)
    };
    let out = sent(&mut sim, 2, &echo(C6, B6, 128, 0x1234));
    assert_eq!(out.len(), 1);
    let o = &out[0];
    assert!(checksums6_ok(o), "echo request");
    assert_eq!((&o[22..38], &o[38..54]), (&MASQ6[..], &B6[..]));
    let id = u16::from_be_bytes([o[58], o[59]]);
    let back = sent(&mut sim, 1, &echo(B6, MASQ6, 129, id));
    assert_eq!(back.len(), 1, "echo reply");
    let b = &back[0];
    assert!(checksums6_ok(b));
    assert_eq!((&b[22..38], &b[38..54]), (&B6[..], &C6[..]));
    assert_eq!(&b[58..60], &0x1234u16.to_be_bytes());
    // UDP behind a hop-by-hop header (router alert, padding).
    let hbh = |f: &[u8]| {
        let mut g = f[..54].to_vec();
        g[20] = 0;
        let len = u16::from_be_bytes([g[18], g[19]]) + 8;
        g[18..20].copy_from_slice(&len.to_be_bytes());
        g.extend_from_slice(&[17, 0, 5, 2, 0, 0, 1, 0]);
        g.extend_from_slice(&f[54..]);
        g
    };
    let q = hbh(&udp6(C6, B6, (5353, 53)));
    let out = sent(&mut sim, 2, &q);
    assert_eq!(out.len(), 1, "tracked behind the header");
    let o = &out[0];
    assert_eq!((&o[22..38], &o[54..62]), (&MASQ6[..], &q[54..62]));
    let udp_at = |f: &[u8]| l4_sum6(&f[22..38], &f[38..54], 17, &f[62..]);
    assert_eq!(udp_at(o), 0, "the UDP checksum behind the header");
    let port = u16::from_be_bytes([o[62], o[63]]);
    let back = sent(&mut sim, 1, &hbh(&udp6(B6, MASQ6, (53, port))));
    assert_eq!(back.len(), 1);
    assert_eq!(
        (&back[0][38..54], &back[0][64..66]),
        (&C6[..], &5353u16.to_be_bytes()[..])
    );
    assert_eq!(udp_at(&back[0]), 0);
}

/// `a_fragmented_answer_through_a_two_zone_service` over IPv6: the answer
/// in fragments is reassembled for the masquerading zone, translated back
/// through both zones and cut again, its UDP checksum right once put back
/// together.
#[test]
fn a_fragmented_ipv6_answer_through_a_two_zone_service() {
    let mut sim = service("[fd00::2]:53", false, "udp6");
    let query = sent(&mut sim, 2, &udp6(C6, VIP6, (5353, 53)));
    assert_eq!(query.len(), 1);
    let (src, p, dst, _) = fields6(&query[0]);
    assert_eq!((src, dst), (MASQ6, B6));
    let h = dns_answer(p);
    let answer = ipv6_frame(B6, MASQ6, 17, &h);
    let frags = fragments6(&answer, &[1448, 1448, 112], 0x77);
    let out = answer_fragments(&mut sim, &frags);
    assert_eq!(out.len(), 3, "cut again");
    let mut data = Vec::new();
    for f in &out {
        assert_eq!((&f[22..38], &f[38..54]), (&VIP6[..], &C6[..]));
        assert_eq!(f[20], 44, "a fragment header");
        data.extend_from_slice(&f[62..]);
    }
    assert_eq!(data.len(), h.len());
    assert_eq!(&data[0..4], &[0, 53, 0x14, 0xe9], "ports 53 -> 5353");
    assert_eq!(&data[8..], &h[8..]);
    assert_eq!(
        l4_sum6(&VIP6, &C6, 17, &data),
        0,
        "the UDP checksum, translated"
    );
}

/// A UDP datagram sent without a checksum (0, allowed over IPv4) keeps
/// none through SNAT both ways, and an ICMP error quoting it is
/// translated back with the quoted checksum still 0 (Linux's
/// `udp_manip_pkt` leaves a zero checksum alone).
#[test]
fn udp_without_a_checksum_through_snat_keeps_none() {
    let mut sim = pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010))",
    );
    let public = [192, 168, 100, 1];
    let bare = |f: Vec<u8>| {
        let mut f = f;
        f[40..42].fill(0);
        f
    };
    let out = sent(&mut sim, 2, &bare(udp(VM1, VM2, (4000, 53))));
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0][26..30], &public);
    assert_eq!(&out[0][40..42], &[0, 0], "no checksum");
    assert_eq!(csum(&out[0][14..34]), 0);
    let port = u16::from_be_bytes([out[0][34], out[0][35]]);
    let back = sent(&mut sim, 1, &bare(udp(VM2, public, (53, port))));
    assert_eq!(back.len(), 1);
    assert_eq!(
        (&back[0][30..34], &back[0][40..42]),
        (&VM1[..], &[0, 0][..])
    );
    let err = sent(&mut sim, 1, &port_unreachable(VM2, public, &out[0]));
    assert_eq!(err.len(), 1);
    let e = &err[0];
    assert!(checksums_ok(e));
    assert_eq!(
        (&e[42 + 12..42 + 16], &e[62..64]),
        (&VM1[..], &4000u16.to_be_bytes()[..])
    );
    assert_eq!(&e[68..70], &[0, 0], "the quoted checksum stays none");
}

/// The client answers a datagram of the server with an ICMP port
/// unreachable: the error travels the connection's original direction
/// and leaves as the server must see it, from the public address and
/// quoting the datagram as the server sent it (`+rel`, not `+rpl`).
#[test]
fn an_icmp_error_from_the_client_side_of_snat_leaves_translated() {
    let mut sim = pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010))",
    );
    install_text(
        &mut sim,
        900,
        "recirc_id(1),ct_state(+rel-rpl+trk),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
        "2",
    );
    let public = [192, 168, 100, 1];
    let out = sent(&mut sim, 2, &udp(VM1, VM2, (4000, 53)));
    assert_eq!(out.len(), 1);
    let port = u16::from_be_bytes([out[0][34], out[0][35]]);
    let answer = udp(VM2, public, (53, port));
    let back = sent(&mut sim, 1, &answer);
    assert_eq!(back.len(), 1);
    let err = sent(&mut sim, 2, &port_unreachable(VM1, VM2, &back[0]));
    assert_eq!(err.len(), 1, "+rel-rpl");
    let e = &err[0];
    assert!(checksums_ok(e));
    assert_eq!((&e[26..30], &e[30..34]), (&public[..], &VM2[..]), "outer");
    let quoted = &e[42..];
    assert_eq!(
        &quoted[..28],
        &answer[14..42],
        "the datagram as the server sent it"
    );
}

/// SCTP's CRC32c of `p` (common header and chunks), as its checksum field
/// stores it.
fn crc32c_field(p: &[u8]) -> [u8; 4] {
    let mut crc = !0u32;
    for (i, &b) in p.iter().enumerate() {
        crc ^= u32::from(if (8..12).contains(&i) { 0 } else { b });
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg());
        }
    }
    (!crc).to_le_bytes()
}

/// An Ethernet/IPv4 SCTP packet (one DATA chunk), its CRC32c right.
fn sctp(src: [u8; 4], dst: [u8; 4], ports: (u16, u16)) -> Vec<u8> {
    let mut h = ports.0.to_be_bytes().to_vec();
    h.extend_from_slice(&ports.1.to_be_bytes());
    h.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]);
    h.extend_from_slice(&[0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    let c = crc32c_field(&h);
    h[8..12].copy_from_slice(&c);
    ipv4_frame(src, dst, 132, &h)
}

/// SCTP through SNAT: the port is translated and the CRC32c recomputed
/// both ways; an ICMP error about it quoting the SCTP header's first 8
/// bytes only (all ICMP guarantees, without the checksum) reaches the
/// client with the quoted port translated back (Linux's `sctp_manip_pkt`
/// leaves a checksum it was not given alone).
#[test]
fn sctp_through_snat_and_an_icmp_error_quoting_8_bytes_of_it() {
    let mut sim = pipeline(
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=192.168.100.1:5000-5010))",
    );
    let public = [192, 168, 100, 1];
    let crc_ok = |f: &[u8]| crc32c_field(&f[34..]) == f[42..46];
    let out = sent(&mut sim, 2, &sctp(VM1, VM2, (1000, 2000)));
    assert_eq!(out.len(), 1);
    let o = &out[0];
    assert_eq!(&o[26..30], &public);
    assert_eq!(csum(&o[14..34]), 0);
    let port = u16::from_be_bytes([o[34], o[35]]);
    assert!((5000..=5010).contains(&port), "{port}");
    assert!(crc_ok(o), "the CRC32c after the port changed");
    let back = sent(&mut sim, 1, &sctp(VM2, public, (2000, port)));
    assert_eq!(back.len(), 1);
    assert_eq!(
        (&back[0][30..34], &back[0][36..38]),
        (&VM1[..], &1000u16.to_be_bytes()[..])
    );
    assert!(crc_ok(&back[0]));
    // Fragmentation needed, quoting the IP header and 8 bytes.
    let mut icmp = vec![3, 4, 0, 0, 0, 0, 5, 0xdc];
    icmp.extend_from_slice(&o[14..14 + 28]);
    let err = sent(&mut sim, 1, &ipv4_frame(VM2, public, 1, &icmp));
    assert_eq!(err.len(), 1, "+rel+rpl");
    let e = &err[0];
    assert!(checksums_ok(e));
    assert_eq!(e.len(), 14 + 20 + 8 + 28, "nothing added");
    let quoted = &e[42..];
    assert_eq!(
        (&quoted[12..16], &quoted[20..22]),
        (&VM1[..], &1000u16.to_be_bytes()[..])
    );
    assert_eq!(
        &quoted[24..28],
        &[0xde, 0xad, 0xbe, 0xef],
        "the verification tag"
    );
    assert_eq!(csum(&quoted[..20]), 0);
}

/// A router's "packet too big" about a datagram the client sent through
/// IPv6 SNAT in fragments quotes the first fragment, its fragment header
/// before the UDP header: it is related to the connection (found through
/// the extension header, as Linux's `ipv6_skip_exthdr` finds it) and
/// reaches the client with the quoted datagram translated back.
#[test]
fn a_packet_too_big_quoting_a_first_fragment_through_ipv6_snat() {
    let mut sim = pipeline_of(
        "eth(),eth_type(0x86dd),ipv6(frag=no)",
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=[fd00::fe]))",
    );
    let router = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];
    let out = sent(&mut sim, 2, &udp6(C6, B6, (5353, 53)));
    assert_eq!(out.len(), 1);
    let o = &out[0];
    // The datagram as its first fragment: a fragment header after the
    // IPv6 header, offset 0, more to come.
    let mut first = o[14..54].to_vec();
    first[6] = 44;
    let len = u16::from_be_bytes([first[4], first[5]]) + 8;
    first[4..6].copy_from_slice(&len.to_be_bytes());
    first.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 9]);
    first.extend_from_slice(&o[54..]);
    let mut body = vec![2, 0, 0, 0, 0, 0, 5, 0];
    body.extend_from_slice(&first);
    let err = sent(&mut sim, 1, &ipv6_frame(router, MASQ6, 58, &body));
    assert_eq!(err.len(), 1, "+rel+rpl");
    let e = &err[0];
    assert!(checksums6_ok(e));
    assert_eq!((&e[22..38], &e[38..54]), (&router[..], &C6[..]), "outer");
    let quoted = &e[62..];
    assert_eq!(&quoted[8..24], &C6, "quoted source");
    assert_eq!(&quoted[40..48], &first[40..48], "the fragment header kept");
    assert_eq!(&quoted[48..50], &5353u16.to_be_bytes(), "quoted port");
    assert_eq!(
        l4_sum6(&quoted[8..24], &quoted[24..40], 17, &quoted[48..]),
        0,
        "the quoted UDP checksum, as the client sent it"
    );
}

/// Two clients behind the same port ask a two-zone service from the same
/// source port: the masquerading zone gives the second another port, and
/// each answer reaches its own client, from the service.
#[test]
fn two_clients_from_one_port_through_a_masquerading_service() {
    let mut sim = service("10.0.0.2:53", false, "udp");
    let (vip, masq) = ([10, 96, 0, 10], [10, 0, 0, 254]);
    let vm3 = [10, 0, 0, 3];
    let mut ports = Vec::new();
    for client in [VM1, vm3] {
        let out = sent(&mut sim, 2, &udp(client, vip, (5353, 53)));
        assert_eq!(out.len(), 1);
        assert_eq!((&out[0][26..30], &out[0][30..34]), (&masq[..], &VM2[..]));
        assert!(checksums_ok(&out[0]));
        ports.push(u16::from_be_bytes([out[0][34], out[0][35]]));
    }
    assert_ne!(ports[0], ports[1], "one masquerading port each");
    for (client, port) in [(vm3, ports[1]), (VM1, ports[0])] {
        let back = sent(&mut sim, 1, &udp(VM2, masq, (53, port)));
        assert_eq!(back.len(), 1);
        let b = &back[0];
        assert!(checksums_ok(b));
        assert_eq!((&b[26..30], &b[30..34]), (&vip[..], &client[..]));
        assert_eq!(&b[34..38], &[0, 53, 0x14, 0xe9]);
    }
}

/// A router's "packet too big" about a ping sent through IPv6 SNAT quotes
/// the echo request as translated; the client gets it with the quoted
/// request as it sent it: its source, identifier and ICMPv6 checksum
/// (over the pseudo-header) restored.
#[test]
fn a_packet_too_big_about_a_ping_through_ipv6_snat() {
    let mut sim = pipeline_of(
        "eth(),eth_type(0x86dd),ipv6(frag=no)",
        "ct(zone=1,nat)",
        "ct(commit,zone=1,nat(src=[fd00::fe]))",
    );
    let router = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];
    let mut b = vec![128, 0, 0, 0, 0x12, 0x34, 0, 1];
    b.extend(std::iter::repeat_n(b'p', 1400));
    let ping = ipv6_frame(C6, B6, 58, &b);
    let out = sent(&mut sim, 2, &ping);
    assert_eq!(out.len(), 1);
    assert!(checksums6_ok(&out[0]));
    let mut body = vec![2, 0, 0, 0, 0, 0, 5, 0];
    body.extend_from_slice(&out[0][14..14 + 1232]);
    let err = sent(&mut sim, 1, &ipv6_frame(router, MASQ6, 58, &body));
    assert_eq!(err.len(), 1, "+rel+rpl");
    let e = &err[0];
    assert!(checksums6_ok(e));
    assert_eq!(&e[38..54], &C6, "outer destination");
    let quoted = &e[62..];
    assert_eq!(
        quoted,
        &ping[14..14 + 1232],
        "the request as the client sent it"
    );
}

/// A fragmented answer tagged for VLAN 10 through SNAT: reassembled
/// behind the tag, translated back and cut again as it came, each
/// fragment keeping the tag.
#[test]
fn vlan_tagged_fragments_through_snat() {
    let mut sim = setup();
    let tci = 0x200a;
    let m =
        "eth(),eth_type(0x8100),vlan(vid=10,pcp=1),encap(eth_type(0x0800),ipv4(proto=17),udp())";
    let flows = [
        ("recirc_id(0),in_port(1)", "ct(zone=1,nat),recirc(1)"),
        ("recirc_id(0),in_port(2)", "ct(zone=1,nat),recirc(1)"),
        (
            "recirc_id(1),ct_state(+new+trk),in_port(1)",
            "ct(commit,zone=1,nat(src=192.168.100.1)),2",
        ),
        ("recirc_id(1),ct_state(+est+rpl+trk),in_port(2)", "1"),
    ];
    for (i, (flow, acts)) in flows.iter().enumerate() {
        install_text(&mut sim, 950 + i as u32, &format!("{flow},{m}"), acts);
    }
    let public = [192, 168, 100, 1];
    let out = sent(&mut sim, 2, &tagged(&udp(VM1, VM2, (5353, 53)), tci));
    assert_eq!(out.len(), 1);
    let q = untagged(&out[0], tci);
    assert_eq!(&q[26..30], &public);
    let p = u16::from_be_bytes([q[34], q[35]]);
    let mut answer = ipv4_frame(VM2, public, 17, &dns_answer(p));
    answer[18..20].copy_from_slice(&78u16.to_be_bytes());
    ip_checksum(&mut answer);
    let frags = fragments4(&answer, &[1480, 1480, 48]);
    let tagged_frags: Vec<_> = frags.iter().map(|f| tagged(f, tci)).collect();
    let out = answer_fragments(&mut sim, &tagged_frags);
    assert_eq!(out.len(), 3, "cut again as it came");
    let mut data = Vec::new();
    for (f, sent) in out.iter().zip(&frags) {
        let f = untagged(f, tci);
        assert_eq!(f.len(), sent.len());
        assert_eq!((&f[26..30], &f[30..34]), (&VM2[..], &VM1[..]));
        assert_eq!(&f[20..22], &sent[20..22], "the same offsets");
        assert_eq!(csum(&f[14..34]), 0);
        data.extend_from_slice(&f[34..]);
    }
    assert_eq!(&data[0..4], &[0, 53, 0x14, 0xe9]);
    let mut whole = answer[..34].to_vec();
    whole[30..34].copy_from_slice(&VM1);
    whole.extend_from_slice(&data);
    whole[20..22].fill(0);
    ip_checksum(&mut whole);
    assert!(checksums_ok(&whole), "the UDP checksum, translated");
}

/// A commit of an ICMP error (`+rel`) sets the mark and labels of the
/// connection it is related to, and shows them in the key, as Linux's
/// `ovs_ct_commit` sets them on the connection the error is attached to:
/// later packets of the connection match them.
#[test]
fn a_commit_of_a_related_icmp_error_marks_its_connection() {
    let mut sim = setup();
    let base = "eth(),eth_type(0x0800),ipv4(frag=no)";
    let flows = [
        ("recirc_id(0),in_port(1)", "ct(zone=1),recirc(1)"),
        ("recirc_id(0),in_port(2)", "ct(zone=1),recirc(1)"),
        (
            "recirc_id(1),ct_state(+new+trk),in_port(1)",
            "ct(commit,zone=1),2",
        ),
        (
            "recirc_id(1),ct_state(+rel+rpl+trk),in_port(2)",
            "ct(commit,zone=1,mark=0x5/0xff,label=0x2/0x2),recirc(2)",
        ),
        ("recirc_id(2),ct_mark(0x5),ct_label(0x2),in_port(2)", "1"),
        (
            "recirc_id(1),ct_state(+est+rpl+trk),ct_mark(0x5),ct_label(0x2),in_port(2)",
            "1",
        ),
    ];
    for (i, (flow, acts)) in flows.iter().enumerate() {
        install_text(&mut sim, 970 + i as u32, &format!("{flow},{base}"), acts);
    }
    let q = udp(VM1, VM2, (5000, 53));
    assert_eq!(send(&mut sim, 1, &q), vec![2]);
    let answer = udp(VM2, VM1, (53, 5000));
    assert_eq!(
        send(&mut sim, 2, &answer),
        Vec::<u32>::new(),
        "not marked yet"
    );
    let err = port_unreachable(VM2, VM1, &q);
    assert_eq!(
        send(&mut sim, 2, &err),
        vec![1],
        "the mark shown after the commit"
    );
    assert_eq!(
        send(&mut sim, 2, &answer),
        vec![1],
        "the connection is marked"
    );
    let d = dump_conntrack_attrs(&mut sim);
    assert_eq!(d.len(), 1, "nothing else stored");
    assert_eq!(get(&d[0].1, 8), &5u32.to_be_bytes());
}

/// A commit of an ICMP error that changes its connection's mark sends the
/// connection's UPDATE, once (Linux's `nf_conntrack_confirm` delivers the
/// events the commit cached on the confirmed connection); a commit that
/// changes nothing sends none.
#[test]
fn a_commit_of_a_related_icmp_error_sends_the_update() {
    let mut sim = setup();
    ct_listener(&mut sim, 6, &[2]);
    let acts = |s: &str| ovsext::flow::text::parse_actions(s).unwrap();
    let q = udp(VM1, VM2, (5000, 53));
    execute(&mut sim, &q, &acts("ct(commit,zone=1)"));
    assert_eq!(next_event(&mut sim, 6), None);
    let err = port_unreachable(VM2, VM1, &q);
    let mark = acts("ct(commit,zone=1,mark=0x9/0xff)");
    execute(&mut sim, &err, &mark);
    assert_eq!(next_event(&mut sim, 6), Some((0x0100, 0, 2)), "UPDATE");
    assert_eq!(next_event(&mut sim, 6), None);
    execute(&mut sim, &err, &mark);
    assert_eq!(next_event(&mut sim, 6), None, "the mark it holds");
}
