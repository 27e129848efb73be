//! Tunnels end to end through the simulator: a VM's frame leaves the
//! external port inside VXLAN, Geneve or GRE (outer headers checked byte by
//! byte against frames built here from the RFC layouts), frames arriving
//! inside a tunnel are decapsulated into the tunnel key, over IPv4 and
//! IPv6, and two simulated hosts exchange a frame through a tunnel.

mod common;

use common::*;

const CTRL: u16 = 0x11;
const PACKET: u16 = 0x13;
const VPORT: u16 = 0x14;
const FLOW: u16 = 0x15;

const DPID: u32 = 1;
const HPID: u32 = 2;

const VM: u32 = 1;
const UPLINK: u32 = 2;
const VXLAN: u32 = 3;
const GENEVE: u32 = 4;
const GRE: u32 = 5;

const HOST_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0, 0, 3];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x20];
const HOST4: [u8; 4] = [192, 168, 1, 10];
const PEER4: [u8; 4] = [192, 168, 1, 20];
const HOST6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const PEER6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];

/// A host: vm1 on port 1, the uplink eth0 on port 2, the host's internal
/// NIC on port 3; its addresses 192.168.1.10/24 and 2001:db8::10/64 (or
/// the peer's, `peer`), the other host a neighbour; vports vm1, eth0 and
/// the three tunnels; the handler socket waiting for upcalls.
fn host(peer: bool) -> Sim {
    let (me, other, other_mac) = if peer {
        ("192.168.1.20", "192.168.1.10", "00:15:5d:00:00:03")
    } else {
        ("192.168.1.10", "192.168.1.20", "02:00:00:00:00:20")
    };
    let (me6, other6) = if peer {
        ("2001:db8::20", "2001:db8::10")
    } else {
        ("2001:db8::10", "2001:db8::20")
    };
    let mut sim = Sim::new();
    let mac = if peer {
        "02:00:00:00:00:20"
    } else {
        "00:15:5d:00:00:03"
    };
    let script = format!(
        "switch up\nport 1 vm vm1 00:15:5d:00:00:01\nport 2 external eth0 00:15:5d:00:00:02\n\
         port 3 internal host {mac}\nopen 1\nopen 2\nhostip {me}/24\nroute 192.168.1.0/24 direct\n\
         route 0.0.0.0/0 192.168.1.1\nneigh {other} {other_mac}\nhostip {me6}/64\n\
         route 2001:db8::/64 direct\nneigh {other6} {other_mac}\n"
    );
    assert_eq!(sim.run(&script), Vec::<String>::new());
    let sub = Req::new(CTRL, 3, 1, 1, HPID).u8(2, 1).u32(3, HPID);
    one(&mut sim, &ioctl(2, "WRITE", &sub));
    let vports: [(u32, u32, &str, Option<u16>); 5] = [
        (VM, 1, "vm1", None),
        (UPLINK, 1, "eth0", None),
        (VXLAN, 4, "vxlan_sys_4789", Some(4789)),
        (GENEVE, 5, "genev_sys_6081", Some(6081)),
        (GRE, 3, "gre_sys", None),
    ];
    for (no, ty, name, port) in vports {
        let mut r = Req::new(VPORT, 1, 1, no, DPID)
            .u32(1, no)
            .u32(2, ty)
            .str(3, name)
            .u32(5, HPID);
        if let Some(p) = port {
            r = r.raw(4, &attr(1, &p.to_ne_bytes()));
        }
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    sim
}

fn pend(sim: &mut Sim) {
    let pend = Req::new(CTRL, 1, 1, 9, HPID);
    assert_eq!(
        one(sim, &ioctl(2, "WRITE", &pend)),
        "ioctl 2 WRITE PENDING -"
    );
}

/// The one's complement checksum of `parts` laid end to end.
fn csum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut s: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The inner frame: vm1 to a remote VM, IPv4/UDP with a payload.
fn inner(sport: u16) -> Vec<u8> {
    inner_with(sport, b"inner payload")
}

/// The inner frame with `payload`.
fn inner_with(sport: u16, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + 8 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 7, 0, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let c = csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp_len = (8 + payload.len()) as u16;
    [
        &[0x00, 0x15, 0x5d, 0, 0, 0x99][..],
        &[0x00, 0x15, 0x5d, 0, 0, 1],
        &[0x08, 0x00],
        &ip,
        &sport.to_be_bytes(),
        &[0x30, 0x39],
        &udp_len.to_be_bytes(),
        &[0, 0],
        payload,
    ]
    .concat()
}

/// An outer Ethernet + IPv4 frame around `l4` (UDP or GRE).
fn ipv4_frame(src: [u8; 4], dst: [u8; 4], proto: u8, df: bool, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, if df { 0x40 } else { 0 }, 0, ttl, proto, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    [&HOST_MAC[..], &PEER_MAC, &[0x08, 0], &ip, l4].concat()
}

/// An outer Ethernet + IPv6 frame around UDP.
fn ipv6_frame(src: [u8; 16], dst: [u8; 16], hlim: u8, udp: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    ip.extend_from_slice(&[17, hlim]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    [&HOST_MAC[..], &PEER_MAC, &[0x86, 0xdd], &ip, udp].concat()
}

/// A UDP datagram; its checksum over the pseudo-header of `addrs`
/// (source then destination) when `addrs` is given.
fn udp(sport: u16, dport: u16, body: &[u8], addrs: Option<&[u8]>) -> Vec<u8> {
    let len = (8 + body.len()) as u16;
    let mut u = [
        &sport.to_be_bytes()[..],
        &dport.to_be_bytes(),
        &len.to_be_bytes(),
        &[0, 0],
        body,
    ]
    .concat();
    if let Some(a) = addrs {
        let mut c = csum(&[a, &[0, 17], &len.to_be_bytes(), &u]);
        if c == 0 {
            c = 0xffff;
        }
        u[6..8].copy_from_slice(&c.to_be_bytes());
    }
    u
}

fn tx_frames(out: &[String]) -> Vec<(u32, Vec<u8>)> {
    out.iter()
        .filter(|l| l.starts_with("tx "))
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            (w[1].parse().unwrap(), unhex(w[2]))
        })
        .collect()
}

/// The miss upcall of a frame from `port`: its key attributes.
fn miss(sim: &mut Sim, port: u32, frame: &[u8]) -> Vec<u8> {
    pend(sim);
    let out = sim.run(&format!("rx {port} {}", ovsext::sim::hex(frame)));
    assert_eq!(out, ["complete 2 WRITE SUCCESS -"], "no miss");
    let (hdr, a) = reply(&one(sim, "ioctl 2 READ_PACKET -"));
    assert_eq!(hdr.cmd, 1);
    assert_eq!(
        get(&a, 1),
        frame.get(frame.len() - get(&a, 1).len()..).unwrap()
    );
    get(&a, 2).to_vec()
}

fn install(sim: &mut Sim, seq: u32, key: &[u8], actions: &[u8]) {
    let r = Req::new(FLOW, 1, 1, seq, DPID)
        .flags(0x1 | 0x400 | 0x8)
        .raw(1, key)
        .raw(2, actions);
    let line = one(sim, &ioctl(1, "TRANSACT", &r));
    assert!(line.starts_with("ioctl 1 TRANSACT SUCCESS "), "{line}");
    assert_ne!(reply(&line).0.ty, 2, "{line}");
}

fn set_tunnel(attrs: &[Vec<u8>]) -> Vec<u8> {
    attr(3, &attr(16 | 0x8000, &attrs.concat()))
}

fn output(port: u32) -> Vec<u8> {
    attr(1, &port.to_ne_bytes())
}

/// Sends `inner` from the VM through a flow `set(tunnel(attrs)), output(port)`;
/// returns what left the uplink.
fn encap(sim: &mut Sim, port: u32, attrs: &[Vec<u8>], frame: &[u8]) -> Vec<u8> {
    let key = miss(sim, VM, frame);
    install(sim, 20, &key, &[set_tunnel(attrs), output(port)].concat());
    let out = sim.run(&format!("rx 1 {}", ovsext::sim::hex(frame)));
    let tx = tx_frames(&out);
    assert_eq!(tx.len(), 1, "{out:?}");
    assert_eq!(tx[0].0, UPLINK);
    tx[0].1.clone()
}

fn vport_stats(sim: &mut Sim, port_no: u32) -> [u64; 8] {
    let r = Req::new(VPORT, 3, 1, 50, DPID).u32(1, port_no);
    let (_, a) = reply(&one(sim, &ioctl(1, "TRANSACT", &r)));
    let s = get(&a, 6);
    core::array::from_fn(|i| u64::from_ne_bytes(s[i * 8..i * 8 + 8].try_into().unwrap()))
}

fn v4_key(id: u64, extra: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut v = vec![
        attr(T_ID, &id.to_be_bytes()),
        attr(T_IPV4_DST, &PEER4),
        attr(T_TTL, &[64]),
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn vxlan_encapsulation_is_byte_exact() {
    let mut sim = host(false);
    let frame = inner(1000);
    let got = encap(
        &mut sim,
        VXLAN,
        &v4_key(0x5, &[attr(T_DF, &[]), attr(T_TOS, &[0x10])]),
        &frame,
    );
    let sport = u16::from_be_bytes([got[34], got[35]]);
    assert!((32768..60999).contains(&sport), "{sport}");
    let vxlan = [&[0x08, 0, 0, 0, 0, 0, 0x05, 0][..], &frame].concat();
    let expected = ipv4_frame(HOST4, PEER4, 17, true, 64, &udp(sport, 4789, &vxlan, None));
    let expected = [&PEER_MAC[..], &HOST_MAC, &expected[12..]].concat();
    let mut expected = expected;
    expected[15] = 0x10;
    let c = csum(&[&[&expected[14..24], &[0, 0], &expected[26..34]].concat()]);
    expected[24..26].copy_from_slice(&c.to_be_bytes());
    assert_eq!(ovsext::sim::hex(&got), ovsext::sim::hex(&expected));
    // The same flow keeps its port; another flow may move.
    let again = sim.run(&format!("rx 1 {}", ovsext::sim::hex(&frame)));
    assert_eq!(tx_frames(&again)[0].1, got);
    let stats = vport_stats(&mut sim, VXLAN);
    assert_eq!((stats[1], stats[3]), (2, 2 * frame.len() as u64));
}

#[test]
fn geneve_with_options_and_checksum() {
    let mut sim = host(false);
    let frame = inner(1001);
    let opts = [0x01, 0x02, 0x80, 0x01, 0xaa, 0xbb, 0xcc, 0xdd];
    let got = encap(
        &mut sim,
        GENEVE,
        &v4_key(
            0xabcdef,
            &[
                attr(T_CSUM, &[]),
                attr(T_OAM, &[]),
                attr(T_GENEVE_OPTS, &opts),
            ],
        ),
        &frame,
    );
    let sport = u16::from_be_bytes([got[34], got[35]]);
    assert!(sport >= 1);
    let geneve = [
        &[0x02, 0xc0, 0x65, 0x58, 0xab, 0xcd, 0xef, 0][..],
        &opts,
        &frame,
    ]
    .concat();
    let addrs = [HOST4, PEER4].concat();
    let expected = ipv4_frame(
        HOST4,
        PEER4,
        17,
        false,
        64,
        &udp(sport, 6081, &geneve, Some(&addrs)),
    );
    let mut expected = [&PEER_MAC[..], &HOST_MAC, &expected[12..]].concat();
    // Without DF the identification is the running counter (first packet: 1).
    expected[18..20].copy_from_slice(&[0, 1]);
    let c = csum(&[&[&expected[14..24], &[0, 0], &expected[26..34]].concat()]);
    expected[24..26].copy_from_slice(&c.to_be_bytes());
    assert_eq!(ovsext::sim::hex(&got), ovsext::sim::hex(&expected));
}

#[test]
fn gre_with_key_and_checksum() {
    let mut sim = host(false);
    let frame = inner(1002);
    let got = encap(
        &mut sim,
        GRE,
        &v4_key(0x0102_0304, &[attr(T_CSUM, &[]), attr(T_DF, &[])]),
        &frame,
    );
    let mut gre = [&[0xa0, 0, 0x65, 0x58, 0, 0, 0, 0, 1, 2, 3, 4][..], &frame].concat();
    let c = csum(&[&gre]);
    gre[4..6].copy_from_slice(&c.to_be_bytes());
    let expected = ipv4_frame(HOST4, PEER4, 47, true, 64, &gre);
    let expected = [&PEER_MAC[..], &HOST_MAC, &expected[12..]].concat();
    assert_eq!(ovsext::sim::hex(&got), ovsext::sim::hex(&expected));
}

#[test]
fn vxlan_over_ipv6_always_has_a_udp_checksum() {
    let mut sim = host(false);
    let frame = inner(1003);
    let key = vec![
        attr(T_ID, &7u64.to_be_bytes()),
        attr(T_IPV6_DST, &PEER6),
        attr(T_TTL, &[9]),
    ];
    let got = encap(&mut sim, VXLAN, &key, &frame);
    let sport = u16::from_be_bytes([got[54], got[55]]);
    let vxlan = [&[0x08, 0, 0, 0, 0, 0, 7, 0][..], &frame].concat();
    let addrs = [HOST6, PEER6].concat();
    let expected = ipv6_frame(HOST6, PEER6, 9, &udp(sport, 4789, &vxlan, Some(&addrs)));
    let expected = [&PEER_MAC[..], &HOST_MAC, &expected[12..]].concat();
    assert_eq!(ovsext::sim::hex(&got), ovsext::sim::hex(&expected));
}

/// Installs `actions` for a new frame from the VM and sends it: nothing
/// may leave.
fn nothing_leaves(sim: &mut Sim, sport: u16, actions: &[u8]) {
    let frame = inner(sport);
    let key = miss(sim, VM, &frame);
    install(sim, u32::from(sport), &key, actions);
    let out = sim.run(&format!("rx 1 {}", ovsext::sim::hex(&frame)));
    assert!(tx_frames(&out).is_empty(), "{out:?}");
}

#[test]
fn unresolved_next_hop_and_no_route_are_counted() {
    let mut sim = host(false);
    // 10.9.9.9 goes by the default gateway, whose MAC is unknown.
    let tun = [attr(T_IPV4_DST, &[10, 9, 9, 9]), attr(T_TTL, &[64])];
    nothing_leaves(&mut sim, 1004, &[set_tunnel(&tun), output(VXLAN)].concat());
    assert_eq!(vport_stats(&mut sim, VXLAN)[7], 1, "tx_dropped");
    // Once the gateway is resolved the flow's packets leave to it; a new
    // MAC for it is used at once.
    let again = format!("rx 1 {}", ovsext::sim::hex(&inner(1004)));
    for mac in [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]] {
        let m: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        sim.run(&format!("neigh 192.168.1.1 {}", m.join(":")));
        let tx = tx_frames(&sim.run(&again));
        assert_eq!(tx.len(), 1);
        assert_eq!(tx[0].1[..6], mac);
    }
    // IPv6 without a route.
    let tun = [attr(T_IPV6_DST, &[0xfd; 16]), attr(T_TTL, &[64])];
    nothing_leaves(&mut sim, 1005, &[set_tunnel(&tun), output(VXLAN)].concat());
    assert_eq!(vport_stats(&mut sim, VXLAN)[5], 1, "tx_errors");
    // Output to a tunnel without set(tunnel) is dropped.
    nothing_leaves(&mut sim, 1006, &output(GENEVE));
    assert_eq!(vport_stats(&mut sim, GENEVE)[7], 1, "tx_dropped");
}

/// The TUNNEL nest and IN_PORT of an upcall key.
fn tunnel_of(key: &[u8]) -> (u32, Vec<(u16, Vec<u8>)>) {
    let a = nested(key);
    (u32_of(get(&a, 3)), nested(get(&a, 16)))
}

#[test]
fn vxlan_decapsulation_fills_the_tunnel_key() {
    let mut sim = host(false);
    let frame = inner(2000);
    let vxlan = [&[0x08, 0, 0, 0, 0, 0x12, 0x34, 0][..], &frame].concat();
    let addrs = [PEER4, HOST4].concat();
    let outer = ipv4_frame(
        PEER4,
        HOST4,
        17,
        true,
        33,
        &udp(50000, 4789, &vxlan, Some(&addrs)),
    );
    let key = miss(&mut sim, UPLINK, &outer);
    let (in_port, tun) = tunnel_of(&key);
    assert_eq!(in_port, VXLAN);
    assert_eq!(
        tun,
        vec![
            (T_ID, 0x1234u64.to_be_bytes().to_vec()),
            (T_IPV4_SRC, PEER4.to_vec()),
            (T_IPV4_DST, HOST4.to_vec()),
            (T_TTL, vec![33]),
            (T_DF, vec![]),
            (T_CSUM, vec![]),
            (T_TP_SRC, 50000u16.to_be_bytes().to_vec()),
            (T_TP_DST, 4789u16.to_be_bytes().to_vec()),
        ]
    );
    // A flow on the tunnel key delivers the inner frame to the VM.
    install(&mut sim, 30, &key, &output(VM));
    let out = sim.run(&format!("rx 2 {}", ovsext::sim::hex(&outer)));
    assert_eq!(tx_frames(&out), vec![(VM, frame.clone())]);
    let stats = vport_stats(&mut sim, VXLAN);
    assert_eq!((stats[0], stats[2]), (2, 2 * frame.len() as u64));
}

#[test]
fn geneve_options_over_ipv6_are_decapsulated() {
    let mut sim = host(false);
    let frame = inner(2001);
    let opts = [0xff, 0xff, 0x01, 0x01, 1, 2, 3, 4];
    let geneve = [&[0x02, 0, 0x65, 0x58, 0, 0, 9, 0][..], &opts, &frame].concat();
    let outer = ipv6_frame(PEER6, HOST6, 5, &udp(40000, 6081, &geneve, None));
    let key = miss(&mut sim, UPLINK, &outer);
    let (in_port, tun) = tunnel_of(&key);
    assert_eq!(in_port, GENEVE);
    assert_eq!(
        tun,
        vec![
            (T_ID, 9u64.to_be_bytes().to_vec()),
            (T_IPV6_SRC, PEER6.to_vec()),
            (T_IPV6_DST, HOST6.to_vec()),
            (T_TTL, vec![5]),
            (T_TP_SRC, 40000u16.to_be_bytes().to_vec()),
            (T_TP_DST, 6081u16.to_be_bytes().to_vec()),
            (T_GENEVE_OPTS, opts.to_vec()),
        ]
    );
}

#[test]
fn gre_decapsulation() {
    let mut sim = host(false);
    let frame = inner(2002);
    let gre = [&[0x20, 0, 0x65, 0x58, 0, 0, 0, 42][..], &frame].concat();
    let outer = ipv4_frame(PEER4, HOST4, 47, false, 64, &gre);
    let (in_port, tun) = tunnel_of(&miss(&mut sim, UPLINK, &outer));
    assert_eq!(in_port, GRE);
    assert_eq!(tun[0], (T_ID, 42u64.to_be_bytes().to_vec()));
    assert!(!tun.iter().any(|(t, _)| *t == T_TP_DST));
}

/// The pieces `sizes` long (the last cut short) of `len` bytes: offset,
/// end and whether more follow.
fn pieces(len: usize, sizes: &[usize]) -> Vec<(usize, usize, bool)> {
    let mut off = 0;
    sizes
        .iter()
        .map(|&n| {
            let end = (off + n).min(len);
            let piece = (off, end, end < len);
            off = end;
            piece
        })
        .collect()
}

/// `outer` (Ethernet + 20-byte IPv4) cut into fragments of datagram `id`
/// whose payloads are `sizes` long (all but the last multiples of 8).
fn cut_v4(outer: &[u8], id: u16, sizes: &[usize]) -> Vec<Vec<u8>> {
    let (head, data) = outer.split_at(34);
    let cut = |(off, end, more): (usize, usize, bool)| {
        let mut ip = head[14..].to_vec();
        ip[2..4].copy_from_slice(&((20 + end - off) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        let flags = if more { 0x2000 } else { 0 };
        ip[6..8].copy_from_slice(&((off / 8) as u16 | flags).to_be_bytes());
        ip[10..12].fill(0);
        let c = csum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        [&head[..14], &ip, &data[off..end]].concat()
    };
    pieces(data.len(), sizes).into_iter().map(cut).collect()
}

/// `outer` (Ethernet + IPv6 without extension headers) cut into fragments
/// of datagram `id`, each with a fragment header.
fn cut_v6(outer: &[u8], id: u32, sizes: &[usize]) -> Vec<Vec<u8>> {
    let (head, data) = outer.split_at(54);
    let cut = |(off, end, more): (usize, usize, bool)| {
        let mut ip = head[14..].to_vec();
        ip[4..6].copy_from_slice(&((8 + end - off) as u16).to_be_bytes());
        ip[6] = 44;
        let mut fh = vec![head[14 + 6], 0];
        fh.extend_from_slice(&(off as u16 | u16::from(more)).to_be_bytes());
        fh.extend_from_slice(&id.to_be_bytes());
        [&head[..14], &ip, &fh, &data[off..end]].concat()
    };
    pieces(data.len(), sizes).into_iter().map(cut).collect()
}

/// Frames from the uplink, one after another: every line they caused.
fn rx_uplink(sim: &mut Sim, frames: &[Vec<u8>]) -> Vec<String> {
    frames
        .iter()
        .flat_map(|f| sim.run(&format!("rx {UPLINK} {}", ovsext::sim::hex(f))))
        .collect()
}

/// A tunnel frame arriving as outer fragments (`cut(id)`), in order and
/// reversed: reassembled, it misses once with the key `expected` and the
/// whole inner frame; then, with a flow to the VM, each train delivers the
/// inner frame to the VM exactly once.
fn fragments_decapsulate(
    frame: &[u8],
    cut: impl Fn(u16) -> Vec<Vec<u8>>,
    expected: Vec<(u16, Vec<u8>)>,
) {
    let mut sim = host(false);
    let first = cut(1);
    assert_eq!(first.len(), 3);
    pend(&mut sim);
    assert_eq!(
        rx_uplink(&mut sim, &first),
        ["complete 2 WRITE SUCCESS -"],
        "one miss, after the last fragment"
    );
    let (hdr, a) = reply(&one(&mut sim, "ioctl 2 READ_PACKET -"));
    assert_eq!(hdr.cmd, 1);
    assert_eq!(get(&a, 1), frame);
    let key = get(&a, 2).to_vec();
    let (in_port, tun) = tunnel_of(&key);
    assert_eq!(in_port, VXLAN);
    assert_eq!(tun, expected);
    install(&mut sim, 30, &key, &output(VM));
    for id in 2..4 {
        let mut train = cut(id);
        if id == 3 {
            train.reverse();
        }
        let out = rx_uplink(&mut sim, &train);
        assert_eq!(tx_frames(&out), vec![(VM, frame.to_vec())], "{out:?}");
    }
    let stats = vport_stats(&mut sim, VXLAN);
    assert_eq!((stats[0], stats[2]), (3, 3 * frame.len() as u64));
    let status = sim.run("frag-status").join("\n");
    assert!(status.contains("pending:0 "), "{status}");
    assert!(status.contains(" reassembled:3 "), "{status}");
}

/// VXLAN (VNI 0x4321) around `frame`.
fn vxlan_of(frame: &[u8]) -> Vec<u8> {
    [&[0x08, 0, 0, 0, 0, 0x43, 0x21, 0][..], frame].concat()
}

#[test]
fn outer_ipv4_fragments_are_reassembled_then_decapsulated() {
    let frame = inner_with(2010, &[0x5a; 300]);
    let addrs = [PEER4, HOST4].concat();
    let dgram = udp(50001, 4789, &vxlan_of(&frame), Some(&addrs));
    let outer = ipv4_frame(PEER4, HOST4, 17, false, 40, &dgram);
    fragments_decapsulate(
        &frame,
        |id| cut_v4(&outer, id, &[128, 128, 400]),
        vec![
            (T_ID, 0x4321u64.to_be_bytes().to_vec()),
            (T_IPV4_SRC, PEER4.to_vec()),
            (T_IPV4_DST, HOST4.to_vec()),
            (T_TTL, vec![40]),
            (T_CSUM, vec![]),
            (T_TP_SRC, 50001u16.to_be_bytes().to_vec()),
            (T_TP_DST, 4789u16.to_be_bytes().to_vec()),
        ],
    );
}

#[test]
fn outer_ipv6_fragments_are_reassembled_then_decapsulated() {
    let frame = inner_with(2011, &[0xa5; 300]);
    let dgram = udp(50002, 4789, &vxlan_of(&frame), None);
    let outer = ipv6_frame(PEER6, HOST6, 9, &dgram);
    fragments_decapsulate(
        &frame,
        |id| cut_v6(&outer, u32::from(id) << 16, &[136, 120, 400]),
        vec![
            (T_ID, 0x4321u64.to_be_bytes().to_vec()),
            (T_IPV6_SRC, PEER6.to_vec()),
            (T_IPV6_DST, HOST6.to_vec()),
            (T_TTL, vec![9]),
            (T_TP_SRC, 50002u16.to_be_bytes().to_vec()),
            (T_TP_DST, 4789u16.to_be_bytes().to_vec()),
        ],
    );
}

#[test]
fn an_incomplete_outer_train_delivers_nothing_and_expires() {
    let mut sim = host(false);
    let frame = inner_with(2012, &[7; 300]);
    let addrs = [PEER4, HOST4].concat();
    let dgram = udp(50003, 4789, &vxlan_of(&frame), Some(&addrs));
    let train = cut_v4(
        &ipv4_frame(PEER4, HOST4, 17, false, 64, &dgram),
        9,
        &[128, 128, 400],
    );
    pend(&mut sim);
    assert_eq!(rx_uplink(&mut sim, &train[..2]), Vec::<String>::new());
    let status = sim.run("frag-status").join("\n");
    assert!(status.contains("pending:1 "), "{status}");
    assert!(status.contains(" held:2 "), "{status}");
    sim.run("tick 31000");
    let status = sim.run("frag-status").join("\n");
    assert!(status.contains("pending:0 "), "{status}");
    assert!(status.contains(" timed_out:1 "), "{status}");
    // The last fragment alone starts a datagram of its own: held, no more.
    assert_eq!(rx_uplink(&mut sim, &train[2..]), Vec::<String>::new());
    assert_eq!(vport_stats(&mut sim, VXLAN)[0], 0);
}

#[test]
fn malformed_encapsulation_is_dropped_and_counted() {
    let mut sim = host(false);
    let frame = inner(2003);
    let addrs = [PEER4, HOST4].concat();
    let bad = [
        // VXLAN without the VNI flag; with a reserved bit.
        (
            VXLAN,
            ipv4_frame(
                PEER4,
                HOST4,
                17,
                true,
                64,
                &udp(
                    1,
                    4789,
                    &[&[0, 0, 0, 0, 0, 0, 1, 0][..], &frame].concat(),
                    None,
                ),
            ),
        ),
        (
            VXLAN,
            ipv4_frame(
                PEER4,
                HOST4,
                17,
                true,
                64,
                &udp(
                    1,
                    4789,
                    &[&[0x08, 0, 0, 1, 0, 0, 1, 0][..], &frame].concat(),
                    None,
                ),
            ),
        ),
        // A bad UDP checksum.
        (VXLAN, {
            let mut u = udp(
                1,
                4789,
                &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &frame].concat(),
                Some(&addrs),
            );
            u[6] ^= 0xff;
            ipv4_frame(PEER4, HOST4, 17, true, 64, &u)
        }),
        // Geneve version 1; options past the packet.
        (
            GENEVE,
            ipv4_frame(
                PEER4,
                HOST4,
                17,
                true,
                64,
                &udp(
                    1,
                    6081,
                    &[&[0x40, 0, 0x65, 0x58, 0, 0, 1, 0][..], &frame].concat(),
                    None,
                ),
            ),
        ),
        (
            GENEVE,
            ipv4_frame(
                PEER4,
                HOST4,
                17,
                true,
                64,
                &udp(
                    1,
                    6081,
                    &[0x3f, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0],
                    None,
                ),
            ),
        ),
        // GRE with routing; with a bad checksum.
        (
            GRE,
            ipv4_frame(
                PEER4,
                HOST4,
                47,
                true,
                64,
                &[&[0x40, 0, 0x65, 0x58][..], &frame].concat(),
            ),
        ),
        (
            GRE,
            ipv4_frame(
                PEER4,
                HOST4,
                47,
                true,
                64,
                &[&[0x80, 0, 0x65, 0x58, 0, 1, 0, 0][..], &frame].concat(),
            ),
        ),
    ];
    for (port, f) in &bad {
        let before = vport_stats(&mut sim, *port)[4];
        let out = sim.run(&format!("rx 2 {}", ovsext::sim::hex(f)));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(vport_stats(&mut sim, *port)[4], before + 1, "rx_errors");
    }
    // Not to a host address, or to no tunnel's port: switched as it is (a miss).
    let elsewhere = ipv4_frame(
        PEER4,
        [192, 168, 1, 99],
        17,
        true,
        64,
        &udp(1, 4789, &[0x08, 0, 0, 0, 0, 0, 1, 0], None),
    );
    let (in_port, _) = tunnel_of(&[miss(&mut sim, UPLINK, &elsewhere), attr(16, &[])].concat());
    assert_eq!(in_port, UPLINK);
}

#[test]
fn round_trip_between_two_hosts() {
    for (port, id, tun) in [
        (VXLAN, 77, v4_key(77, &[attr(T_DF, &[])])),
        (
            GENEVE,
            78,
            v4_key(78, &[attr(T_CSUM, &[]), attr(T_GENEVE_OPTS, &[0, 1, 2, 0])]),
        ),
        (GRE, 79, v4_key(79, &[])),
        (
            VXLAN,
            80,
            vec![
                attr(T_ID, &80u64.to_be_bytes()),
                attr(T_IPV6_DST, &PEER6),
                attr(T_TTL, &[64]),
            ],
        ),
    ] {
        let mut a = host(false);
        let mut b = host(true);
        let frame = inner(3000 + id as u16);
        let wire = encap(&mut a, port, &tun, &frame);
        // Host B sees it arrive on its uplink, decapsulates it, and delivers it.
        let key = miss(&mut b, UPLINK, &wire);
        let (in_port, tun_b) = tunnel_of(&key);
        assert_eq!(in_port, port);
        let got = tun_b.iter().find(|(t, _)| *t == T_ID).unwrap();
        assert_eq!(got.1, u64::to_be_bytes(id));
        install(&mut b, 40, &key, &output(VM));
        let out = b.run(&format!("rx 2 {}", ovsext::sim::hex(&wire)));
        assert_eq!(tx_frames(&out), vec![(VM, frame)]);
    }
}

#[test]
fn packet_execute_encapsulates_and_takes_a_tunnel_key() {
    let mut sim = host(false);
    let frame = inner(5000);
    let key = miss(&mut sim, VM, &frame);
    let tun = v4_key(0x33, &[attr(T_DF, &[])]);
    let exec = Req::new(PACKET, 3, 1, 70, DPID)
        .raw(1, &frame)
        .raw(2, &key)
        .raw(3, &[set_tunnel(&tun), output(VXLAN)].concat());
    let out = run(&mut sim, &[ioctl(1, "TRANSACT", &exec)]);
    let tx = tx_frames(&out);
    assert_eq!(tx.len(), 1, "{out:?}");
    assert_eq!(
        (tx[0].0, &tx[0].1[42..50]),
        (UPLINK, &[8, 0, 0, 0, 0, 0, 0x33, 0][..])
    );
    // A decapsulated packet's key (its tunnel metadata) given back with EXECUTE.
    let vxlan = [&[0x08, 0, 0, 0, 0, 0, 9, 0][..], &frame].concat();
    let outer = ipv4_frame(PEER4, HOST4, 17, false, 64, &udp(1, 4789, &vxlan, None));
    let key = miss(&mut sim, UPLINK, &outer);
    assert_eq!(tunnel_of(&key).0, VXLAN);
    let exec = Req::new(PACKET, 3, 1, 71, DPID)
        .raw(1, &frame)
        .raw(2, &key)
        .raw(3, &[attr(2, &attr(1, &HPID.to_ne_bytes()))].concat());
    pend(&mut sim);
    run(&mut sim, &[ioctl(1, "TRANSACT", &exec)]);
    let (hdr, a) = reply(&one(&mut sim, "ioctl 2 READ_PACKET -"));
    assert_eq!(hdr.cmd, 2, "an action upcall");
    let (in_port, tun) = tunnel_of(get(&a, 2));
    assert_eq!(
        (in_port, &tun[0]),
        (VXLAN, &(T_ID, 9u64.to_be_bytes().to_vec()))
    );
}

/// A packet carrying an MRU (reassembled by a CT action, or given back by
/// userspace with one) is cut to it before it is encapsulated, each
/// fragment in a tunnel packet of its own, as Linux's `do_output` cuts
/// before the tunnel vport sends.
#[test]
fn a_packet_with_an_mru_is_cut_before_encapsulation() {
    let mut sim = host(false);
    let frame = inner_with(5001, &[0x5a; 2972]);
    let key = miss(&mut sim, VM, &frame);
    let exec = Req::new(PACKET, 3, 1, 72, DPID)
        .raw(1, &frame)
        .raw(2, &key)
        .raw(3, &[set_tunnel(&v4_key(0x34, &[])), output(VXLAN)].concat())
        .u16(9, 1500);
    let out = run(&mut sim, &[ioctl(1, "TRANSACT", &exec)]);
    let tx = tx_frames(&out);
    // Inner IPv4 header at 64: after Ethernet, IPv4, UDP, VXLAN, Ethernet.
    let inner: Vec<(u16, u16)> = tx
        .iter()
        .map(|(port, f)| {
            assert_eq!(*port, UPLINK);
            let ip = &f[64..84];
            (
                u16::from_be_bytes([ip[2], ip[3]]),
                u16::from_be_bytes([ip[6], ip[7]]),
            )
        })
        .collect();
    assert_eq!(inner, [(1500, 0x2000), (1500, 0x2000 | 185), (40, 370)]);
    let data: Vec<u8> = tx.iter().flat_map(|(_, f)| f[84..].to_vec()).collect();
    assert_eq!(data, frame[34..]);
}

#[test]
fn userspace_action_reports_the_egress_tunnel_key() {
    let mut sim = host(false);
    let frame = inner(6000);
    let key = miss(&mut sim, VM, &frame);
    let userspace = attr(
        2,
        &[attr(1, &HPID.to_ne_bytes()), attr(3, &VXLAN.to_ne_bytes())].concat(),
    );
    let tun = v4_key(0x44, &[]);
    install(
        &mut sim,
        80,
        &key,
        &[set_tunnel(&tun), userspace, output(VXLAN)].concat(),
    );
    pend(&mut sim);
    let out = sim.run(&format!("rx 1 {}", ovsext::sim::hex(&frame)));
    assert_eq!(tx_frames(&out).len(), 1, "{out:?}");
    let (hdr, a) = reply(&one(&mut sim, "ioctl 2 READ_PACKET -"));
    assert_eq!(hdr.cmd, 2);
    let egress = nested(get(&a, 5));
    let field = |t: u16| {
        egress
            .iter()
            .find(|(ty, _)| *ty == t)
            .map(|(_, p)| p.clone())
    };
    assert_eq!(field(T_ID), Some(0x44u64.to_be_bytes().to_vec()));
    assert_eq!(
        field(T_IPV4_SRC),
        Some(HOST4.to_vec()),
        "the source the route selects"
    );
    assert_eq!(field(T_IPV4_DST), Some(PEER4.to_vec()));
    assert_eq!(field(T_TP_DST), Some(4789u16.to_be_bytes().to_vec()));
    let sport = u16::from_be_bytes(field(T_TP_SRC).unwrap().try_into().unwrap());
    // The port the encapsulated frame got.
    let tx = &tx_frames(&out)[0].1;
    assert_eq!(sport, u16::from_be_bytes([tx[34], tx[35]]));
    // The key itself still has no tunnel.
    assert!(!nested(get(&a, 2)).iter().any(|(t, _)| *t == 16));
}

#[test]
fn tunnel_vports_one_per_type_and_port_with_their_options() {
    let mut sim = host(false);
    let new = |seq: u32, ty: u32, name: &str, opts: Option<Vec<u8>>| {
        let r = Req::new(VPORT, 1, 1, seq, DPID)
            .u32(2, ty)
            .str(3, name)
            .u32(5, HPID);
        match opts {
            Some(o) => r.raw(4, &o),
            None => r,
        }
    };
    // The VXLAN port is taken (by VXLAN), so is the Geneve one, and GRE.
    for (ty, opts) in [
        (5, Some(attr(1, &4789u16.to_ne_bytes()))),
        (4, Some(attr(1, &6081u16.to_ne_bytes()))),
        (3, None),
    ] {
        let r = new(90, ty, "again", opts);
        assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), -17);
    }
    // VXLAN with GBP on another port: GET reports both options.
    let gbp = [
        attr(1, &4790u16.to_ne_bytes()),
        attr(2 | 0x8000, &attr(1, &[])),
    ]
    .concat();
    reply(&one(
        &mut sim,
        &ioctl(1, "TRANSACT", &new(91, 4, "vxlan_gbp", Some(gbp))),
    ));
    let get_req = Req::new(VPORT, 3, 1, 92, DPID).str(3, "vxlan_gbp");
    let (_, a) = reply(&one(&mut sim, &ioctl(1, "TRANSACT", &get_req)));
    let opts = nested(get(&a, 4));
    assert_eq!(opts[0], (1, 4790u16.to_ne_bytes().to_vec()));
    assert_eq!(opts[1].0 & 0x3fff, 2);
    assert_eq!(nested(&opts[1].1), vec![(1, vec![])]);
    // Geneve without a port option listens on 6081: taken.
    let r = new(93, 5, "genev2", None);
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), -17);
}

#[test]
fn vxlan_group_policy_both_ways() {
    let mut sim = host(false);
    let gbp = [
        attr(1, &4790u16.to_ne_bytes()),
        attr(2 | 0x8000, &attr(1, &[])),
    ]
    .concat();
    let r = Req::new(VPORT, 1, 1, 95, DPID)
        .u32(1, 6)
        .u32(2, 4)
        .str(3, "vxlan_gbp")
        .u32(5, HPID)
        .raw(4, &gbp);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    // Policy 0x1234, don't learn: G bit, D bit, the policy ID.
    let policy = 0x1234u32 | 1 << 22;
    let frame = inner(7000);
    let opts = attr(11 | 0x8000, &attr(1, &policy.to_ne_bytes()));
    let got = encap(&mut sim, 6, &v4_key(0x77, &[opts]), &frame);
    assert_eq!(&got[36..38], &4790u16.to_be_bytes());
    assert_eq!(&got[42..50], &[0x88, 0x40, 0x12, 0x34, 0, 0, 0x77, 0]);
    // The same header arriving is read into the key's VXLAN option.
    let back = ipv4_frame(PEER4, HOST4, 17, false, 64, &udp(9, 4790, &got[42..], None));
    let (in_port, tun) = tunnel_of(&miss(&mut sim, UPLINK, &back));
    assert_eq!(in_port, 6);
    let vxlan = tun.iter().find(|(t, _)| *t & 0x3fff == 11).unwrap();
    assert_eq!(nested(&vxlan.1), vec![(1, policy.to_ne_bytes().to_vec())]);
}

#[test]
fn set_tunnel_is_validated_at_install() {
    let mut sim = host(false);
    let key = miss(&mut sim, VM, &inner(4000));
    let bad = [
        vec![attr(T_IPV4_DST, &PEER4)],
        vec![attr(T_TTL, &[1])],
        vec![
            attr(T_IPV4_DST, &PEER4),
            attr(T_TTL, &[1]),
            attr(T_GENEVE_OPTS, &[0, 1, 2, 1]),
        ],
    ];
    for tun in bad {
        let r = Req::new(FLOW, 1, 1, 60, DPID)
            .flags(0x1 | 0x400 | 0x8)
            .raw(1, &key)
            .raw(2, &[set_tunnel(&tun), output(VXLAN)].concat());
        assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), -22);
    }
}

/// A connection tracked on both sides of a VXLAN tunnel, as Antrea's
/// encapsulation mode runs it: host A's VM is masqueraded to 10.0.0.100
/// and its frames tunnelled to host B, where the decapsulated frame is
/// tracked and committed before delivery; B's reply, tracked there as a
/// reply, is tunnelled back and translated back on A.
#[test]
fn a_connection_is_tracked_and_translated_across_a_tunnel() {
    let (mut a, mut b) = (host(false), host(true));
    let ip = "eth(),eth_type(0x0800),ipv4(frag=no)";
    let to = |peer: &str| format!("set(tunnel(tun_id=0x5,dst={peer},ttl=64,flags(df|key))),3");
    let flows_a = [
        (
            "recirc_id(0),in_port(1)",
            "ct(zone=1,nat),recirc(1)".to_string(),
        ),
        (
            "recirc_id(1),in_port(1),ct_state(+new+trk)",
            format!(
                "ct(commit,zone=1,nat(src=10.0.0.100)),{}",
                to("192.168.1.20")
            ),
        ),
        (
            "recirc_id(1),in_port(1),ct_state(+est-rpl+trk)",
            to("192.168.1.20"),
        ),
        (
            "recirc_id(0),in_port(3)",
            "ct(zone=1,nat),recirc(2)".to_string(),
        ),
        (
            "recirc_id(2),in_port(3),ct_state(+est+rpl+trk)",
            "1".to_string(),
        ),
    ];
    let flows_b = [
        (
            "recirc_id(0),in_port(3)",
            "ct(zone=1),recirc(1)".to_string(),
        ),
        (
            "recirc_id(1),in_port(3),ct_state(+new+trk)",
            "ct(commit,zone=1),1".to_string(),
        ),
        (
            "recirc_id(1),in_port(3),ct_state(+est-rpl+trk)",
            "1".to_string(),
        ),
        (
            "recirc_id(0),in_port(1)",
            "ct(zone=1),recirc(2)".to_string(),
        ),
        (
            "recirc_id(2),in_port(1),ct_state(+est+rpl+trk)",
            to("192.168.1.10"),
        ),
    ];
    for (sim, flows) in [(&mut a, &flows_a), (&mut b, &flows_b)] {
        for (i, (flow, actions)) in flows.iter().enumerate() {
            install_text(sim, 60 + i as u32, &format!("{flow},{ip}"), actions);
        }
    }
    let through = |sim: &mut Sim, port: u32, frame: &[u8], want: u32| {
        let out = tx_frames(&sim.run(&format!("rx {port} {}", ovsext::sim::hex(frame))));
        assert_eq!(out.len(), 1, "{port}");
        assert_eq!(out[0].0, want);
        out[0].1.clone()
    };
    for round in 0..2 {
        // A's VM to B's: masqueraded, tunnelled, tracked on B, delivered.
        let frame = inner(4000);
        let wire = through(&mut a, VM, &frame, UPLINK);
        assert_eq!(&wire[42..50], &[8, 0, 0, 0, 0, 0, 5, 0], "VXLAN, VNI 5");
        let delivered = through(&mut b, UPLINK, &wire, VM);
        assert_eq!(
            &delivered[26..30],
            &[10, 0, 0, 100],
            "masqueraded ({round})"
        );
        assert_eq!(&delivered[30..34], &frame[30..34]);
        assert_eq!(csum(&[&delivered[14..34]]), 0);
        // B's VM answers the masquerading address: tunnelled back to A,
        // where it is translated back to A's VM.
        let mut answer = delivered.clone();
        answer[26..30].copy_from_slice(&delivered[30..34]);
        answer[30..34].copy_from_slice(&delivered[26..30]);
        answer[34..36].copy_from_slice(&delivered[36..38]);
        answer[36..38].copy_from_slice(&delivered[34..36]);
        answer[24..26].copy_from_slice(&[0, 0]);
        let c = csum(&[&answer[14..34]]);
        answer[24..26].copy_from_slice(&c.to_be_bytes());
        let back = through(&mut b, VM, &answer, UPLINK);
        let home = through(&mut a, UPLINK, &back, VM);
        assert_eq!(&home[26..30], &frame[30..34]);
        assert_eq!(&home[30..34], &frame[26..30], "translated back ({round})");
        assert_eq!(&home[36..38], &frame[34..36]);
        assert_eq!(csum(&[&home[14..34]]), 0);
    }
}
