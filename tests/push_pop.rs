//! MPLS and Ethernet headers through the table: push, add, set and pop of
//! labels, pop and push of Ethernet headers, on packets from the switch as
//! ovs-vswitchd installs the flows, with the IP packet inside (and its
//! checksums) untouched.

mod common;

use common::*;

fn install(sim: &mut Sim, seq: u32, flow: &str, actions: &[u8]) -> String {
    let (key, mask) = ovsext::flow::text::parse_flow(flow).unwrap();
    flow_put(sim, seq, &key, &mask, actions)
}

const LSE_100: [u8; 4] = [0x00, 0x06, 0x41, 0x40]; // label 100, bos, ttl 64

fn push_mpls(lse: [u8; 4], ethertype: u16) -> Vec<u8> {
    attr(9, &[&lse[..], &ethertype.to_be_bytes(), &[0, 0]].concat())
}

fn add_mpls(lse: [u8; 4], ethertype: u16, l3_tunnel: bool) -> Vec<u8> {
    let flags = u16::from(l3_tunnel).to_ne_bytes();
    attr(22, &[&lse[..], &ethertype.to_be_bytes(), &flags].concat())
}

fn pop_mpls(ethertype: u16) -> Vec<u8> {
    attr(10, &ethertype.to_be_bytes())
}

fn output(port: u32) -> Vec<u8> {
    attr(1, &port.to_ne_bytes())
}

/// vm1 → vm2, UDP 10.0.0.1:1000 → 10.0.0.2:53, checksums valid.
const FRAME: &str = "00155d00000200155d00000108004500002000010000401166c70a0000010a00000203e800350000e6960000000000000000";

fn rx(sim: &mut Sim, port: u32, frame: &[u8]) -> Vec<String> {
    sim.run(&format!("rx {port} {}\n", ovsext::sim::hex(frame)))
}

fn tx(out: &[String], port: u32) -> Vec<u8> {
    assert_eq!(out.len(), 1, "{out:?}");
    let prefix = format!("tx {port} ");
    assert!(out[0].starts_with(&prefix), "{out:?}");
    unhex(&out[0][prefix.len()..])
}

const IPV4_FROM_1: &str = "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)";
const MPLS_FROM_2: &str =
    "recirc_id(0),in_port(2),eth(),eth_type(0x8847),mpls(label=100,tc=0,ttl=64,bos=1)";

#[test]
fn push_then_pop_is_the_frame_again() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    reply(&install(
        &mut sim,
        1,
        IPV4_FROM_1,
        &[push_mpls(LSE_100, 0x8847), output(2)].concat(),
    ));
    let pushed = tx(&rx(&mut sim, 1, &f), 2);
    assert_eq!(&pushed[..12], &f[..12]);
    assert_eq!(&pushed[12..18], &[0x88, 0x47, 0x00, 0x06, 0x41, 0x40]);
    assert_eq!(&pushed[18..], &f[14..], "IP header and checksums untouched");
    // The labelled frame comes back in from vm2 and is popped.
    reply(&install(
        &mut sim,
        2,
        MPLS_FROM_2,
        &[pop_mpls(0x0800), output(1)].concat(),
    ));
    assert_eq!(tx(&rx(&mut sim, 2, &pushed), 1), f);
}

#[test]
fn set_rewrites_the_top_label_only() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    // Two labels, then the top one's label field set to 7 (masked).
    let set = attr(
        11,
        &attr(
            21,
            &[[0x00, 0x00, 0x70, 0x00], [0xff, 0xff, 0xf0, 0x00]].concat(),
        ),
    );
    let acts = [
        push_mpls(LSE_100, 0x8847),
        push_mpls([0, 0x0c, 0x80, 0x20], 0x8847),
        set,
        output(2),
    ];
    reply(&install(&mut sim, 1, IPV4_FROM_1, &acts.concat()));
    let out = tx(&rx(&mut sim, 1, &f), 2);
    assert_eq!(&out[12..14], &[0x88, 0x47]);
    assert_eq!(&out[14..18], &[0x00, 0x00, 0x70, 0x20], "label 7, ttl 32");
    assert_eq!(&out[18..22], &LSE_100);
    assert_eq!(&out[22..], &f[14..]);
}

#[test]
fn add_mpls_without_the_flag_labels_the_whole_frame() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    // The label goes in front of the Ethernet header; an Ethernet header
    // pushed on top makes the frame sendable (MPLS over Ethernet, TEB inside).
    let push_eth = attr(
        14,
        &[[0x02, 0, 0, 0, 0, 0x0b], [0x02, 0, 0, 0, 0, 0x0a]].concat(),
    );
    let acts = [add_mpls(LSE_100, 0x8847, false), push_eth, output(2)];
    let r = install(&mut sim, 1, IPV4_FROM_1, &acts.concat());
    let (status, _) = result(&r);
    assert_eq!(status, "SUCCESS");
    let out = tx(&rx(&mut sim, 1, &f), 2);
    assert_eq!(&out[..12], &[2, 0, 0, 0, 0, 0x0a, 2, 0, 0, 0, 0, 0x0b]);
    assert_eq!(&out[12..14], &[0x88, 0x47]);
    assert_eq!(&out[14..18], &LSE_100);
    assert_eq!(&out[18..], &f[..]);
    // Back in on vm2: popped with TEB after the outer header is gone.
    let acts = [attr(15, &[]), pop_mpls(0x6558), output(1)];
    reply(&install(&mut sim, 2, MPLS_FROM_2, &acts.concat()));
    assert_eq!(tx(&rx(&mut sim, 2, &out), 1), f);
}

#[test]
fn add_mpls_with_the_flag_is_a_push() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    let acts = [add_mpls(LSE_100, 0x8848, true), output(2)];
    reply(&install(&mut sim, 1, IPV4_FROM_1, &acts.concat()));
    let out = tx(&rx(&mut sim, 1, &f), 2);
    assert_eq!(&out[12..18], &[0x88, 0x48, 0x00, 0x06, 0x41, 0x40]);
    assert_eq!(&out[18..], &f[14..]);
}

#[test]
fn invalid_mpls_actions_are_refused() {
    let mut sim = two_vms();
    let cases = [
        (IPV4_FROM_1, pop_mpls(0x0800), -22),
        (IPV4_FROM_1, push_mpls(LSE_100, 0x0800), -22),
        (IPV4_FROM_1, attr(9, &[0; 4]), -22),
        (MPLS_FROM_2, attr(10, &[0; 4]), -22),
        (MPLS_FROM_2, attr(3, &attr(21, &[0; 2])), -22),
    ];
    for (seq, (flow, act, want)) in cases.into_iter().enumerate() {
        let line = install(&mut sim, seq as u32, flow, &act);
        let (_, b) = result(&line);
        assert_eq!(
            i32::from_ne_bytes(b[16..20].try_into().unwrap()),
            want,
            "{seq}"
        );
    }
}

fn push_eth(src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
    attr(14, &[src, dst].concat())
}

fn pop_eth() -> Vec<u8> {
    attr(15, &[])
}

fn tx_dropped(sim: &Sim, port_no: u32) -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    sim.device()
        .with_datapath(|dp| {
            let ports = dp.ports.read();
            ports
                .vports
                .get(port_no)
                .unwrap()
                .stats
                .tx_dropped
                .load(Relaxed)
        })
        .unwrap()
}

#[test]
fn a_packet_without_ethernet_header_is_not_sent_but_counted() {
    let mut sim = two_vms();
    reply(&install(
        &mut sim,
        1,
        IPV4_FROM_1,
        &[pop_eth(), output(2), output(2)].concat(),
    ));
    assert!(rx(&mut sim, 1, &unhex(FRAME)).is_empty());
    assert_eq!(tx_dropped(&sim, 2), 2);
}

#[test]
fn pop_eth_recirculate_and_push_eth() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    let (src, dst) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    reply(&install(
        &mut sim,
        1,
        IPV4_FROM_1,
        &[pop_eth(), attr(7, &1u32.to_ne_bytes())].concat(),
    ));
    // The recirculated packet has no Ethernet header: its flow has none.
    let l3 = "recirc_id(1),in_port(1),eth_type(0x0800),ipv4(frag=no)";
    reply(&install(
        &mut sim,
        2,
        l3,
        &[push_eth(src, dst), output(2)].concat(),
    ));
    let out = tx(&rx(&mut sim, 1, &f), 2);
    assert_eq!(&out[..12], &[dst, src].concat()[..]);
    assert_eq!(&out[12..], &f[12..]);
    // Linux's rules: no pop of what has no Ethernet header, no push onto
    // one that has, no pop under a VLAN tag.
    let vlan = attr(4, &[0x81, 0, 0x10, 5]);
    for (seq, (flow, acts)) in [
        (IPV4_FROM_1, push_eth(src, dst)),
        (l3, pop_eth()),
        (IPV4_FROM_1, [pop_eth(), pop_eth()].concat()),
        (IPV4_FROM_1, [vlan, pop_eth()].concat()),
        (IPV4_FROM_1, attr(14, &[0; 6])),
    ]
    .into_iter()
    .enumerate()
    {
        let line = install(&mut sim, 10 + seq as u32, flow, &acts);
        let (_, b) = result(&line);
        assert_eq!(
            i32::from_ne_bytes(b[16..20].try_into().unwrap()),
            -22,
            "{seq}"
        );
    }
}

/// push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x10,si=255,c1=1,c2=2,c3=3,c4=4)
fn push_nsh_md1() -> Vec<u8> {
    unhex("2800110024001c000c000100003f0103000010ff1400020000000001000000020000000300000004")
}

const NSH_BASE: [u8; 8] = [0, 63, 1, 3, 0, 0, 0x10, 0xff];
const CONTEXT: [u8; 16] = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];

/// An NSH flow from vm2: the base header exact, the context wildcarded.
fn install_nsh(sim: &mut Sim, seq: u32, actions: &[u8]) -> String {
    let (key, mask) =
        ovsext::flow::text::parse_flow("recirc_id(0),in_port(2),eth(),eth_type(0x894f)").unwrap();
    let key = [
        key,
        attr(28, &[attr(1, &NSH_BASE), attr(2, &CONTEXT)].concat()),
    ]
    .concat();
    let mask = [
        mask,
        attr(28, &[attr(1, &[0xff; 8]), attr(2, &[0; 16])].concat()),
    ]
    .concat();
    flow_put(sim, seq, &key, &mask, actions)
}

#[test]
fn nsh_md1_push_set_and_pop() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    let (src, dst) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    // The frame goes into NSH, and the NSH packet into an Ethernet header.
    let acts = [push_nsh_md1(), push_eth(src, dst), output(2)];
    reply(&install(&mut sim, 1, IPV4_FROM_1, &acts.concat()));
    let out = tx(&rx(&mut sim, 1, &f), 2);
    assert_eq!(
        &out[..14],
        &[&dst[..], &src[..], &[0x89, 0x4f]].concat()[..]
    );
    assert_eq!(&out[14..22], &[0x0f, 0xc6, 1, 3, 0, 0, 0x10, 0xff]);
    assert_eq!(&out[22..38], &CONTEXT);
    assert_eq!(&out[38..], &f[..], "the frame inside is untouched");
    // Back from vm2: SI to 254, then both headers off; the frame is out.
    let acts = [set_si_254(), pop_eth(), attr(18, &[]), output(1)];
    reply(&install_nsh(&mut sim, 2, &acts.concat()));
    assert_eq!(tx(&rx(&mut sim, 2, &out), 1), f);
}

/// `set(nsh(si=254))` as ovs-vswitchd sends it: the BASE member holds the
/// value, then the mask.
fn set_si_254() -> Vec<u8> {
    let value_mask = [[0, 0, 0, 0, 0, 0, 0, 0xfe], [0, 0, 0, 0, 0, 0, 0, 0xff]].concat();
    attr(11, &attr(28, &attr(1, &value_mask)))
}

#[test]
fn nsh_set_changes_only_what_it_names() {
    let mut sim = two_vms();
    // An NSH (MD type 1, TTL 63, 6 words) frame carrying the UDP frame.
    let inner = unhex(FRAME);
    let header = [&[0x0f, 0xc6], &NSH_BASE[2..], &CONTEXT[..]].concat();
    let f = [&inner[..12], &[0x89, 0x4f], &header, &inner].concat();
    reply(&install_nsh(
        &mut sim,
        1,
        &[set_si_254(), output(1)].concat(),
    ));
    let out = tx(&rx(&mut sim, 2, &f), 1);
    let mut want = f.clone();
    want[21] = 0xfe;
    assert_eq!(out, want);
}

#[test]
fn nsh_md2_push_onto_a_packet_without_ethernet_header() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    // push_nsh(mdtype=2,np=...,md2=one 8-byte TLV) after pop_eth: next protocol IPv4.
    let tlv = [0x00, 0x0a, 0x04, 0x04, 0x12, 0x34, 0x56, 0x78];
    let nsh = [attr(1, &[0, 63, 2, 0, 0, 0, 0x10, 0xff]), attr(3, &tlv)].concat();
    let acts = [
        pop_eth(),
        attr(17, &attr(28, &nsh)),
        push_eth([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]),
        output(2),
    ];
    reply(&install(&mut sim, 1, IPV4_FROM_1, &acts.concat()));
    let out = tx(&rx(&mut sim, 1, &f), 2);
    assert_eq!(&out[12..14], &[0x89, 0x4f]);
    assert_eq!(
        &out[14..18],
        &[0x0f, 0xc4, 2, 1],
        "4 words, next protocol IPv4"
    );
    assert_eq!(&out[22..30], &tlv);
    assert_eq!(&out[30..], &f[14..]);
}

#[test]
fn userspace_executes_a_packet_without_ethernet_header() {
    let mut sim = two_vms();
    let f = unhex(FRAME);
    // OVS_PACKET_CMD_EXECUTE of the IPv4 packet alone: its key has an
    // Ethertype and no Ethernet header.
    let key = [attr(3, &1u32.to_ne_bytes()), attr(6, &[0x08, 0x00])].concat();
    let (src, dst) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let execute = |acts: &[u8]| {
        Req::new(0x13, 3, 1, 9, 1)
            .raw(1, &f[14..])
            .raw(2, &key)
            .raw(3, acts)
    };
    let r = execute(&[push_eth(src, dst), output(2)].concat());
    let out = sim.run(&format!("{}\n", ioctl(1, "TRANSACT", &r)));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(tx(&out[..1], 2), [&dst[..], &src[..], &f[12..]].concat());
    // Sent as it is, it is not (and counted); pop_eth has nothing to pop.
    let r = execute(&output(2));
    let out = sim.run(&format!("{}\n", ioctl(1, "TRANSACT", &r)));
    assert_eq!(out.len(), 1, "only the reply: {out:?}");
    assert_eq!(tx_dropped(&sim, 2), 1);
    let r = execute(&[pop_eth(), output(2)].concat());
    assert_eq!(errno(&one(&mut sim, &ioctl(1, "TRANSACT", &r)), &r), -22);
}
