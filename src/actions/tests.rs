//! Executing whole action lists: every action, the order and copies of what
//! reaches the environment, truncation, the out-of-band tag, nesting limits
//! and deferral, and lists that cannot be read.

use std::vec;
use std::vec::Vec;

use super::testing::*;
use super::{DEFER_CAPACITY, ExecContext, NEST_LEVELS, Outcome, execute};
use crate::flow::FlowKey;
use crate::ovs::{action as a, key as k};
use crate::packet::{Packet, Watched};

fn frame() -> Vec<u8> {
    ipv4(eth(&[], 0x0800), UDP, &udp(1000, 53))
}

fn run_with(
    env: &mut Recorder,
    frame: &[u8],
    oob: Option<u16>,
    actions: &[u8],
) -> (Outcome, FlowKey) {
    let mut ctx = ExecContext::try_new().unwrap();
    let mut p = packet(frame);
    p.set_oob_vlan(oob);
    let mut key = key_of(frame);
    let out = execute(&mut ctx, env, p, &mut key, actions);
    (out, key)
}

fn run(actions: &[u8]) -> (Recorder, Outcome, FlowKey) {
    let mut env = Recorder::default();
    let (out, key) = run_with(&mut env, &frame(), None, actions);
    (env, out, key)
}

fn output(port: u32) -> Vec<u8> {
    u32_attr(a::OUTPUT, port)
}

fn clone(list: &[Vec<u8>]) -> Vec<u8> {
    nest(a::CLONE, list)
}

fn set_masked(ty: u16, value: &[u8], mask: &[u8]) -> Vec<u8> {
    nest(a::SET_MASKED, &[attr(ty, &[value, mask].concat())])
}

fn set_udp_dst(port: u16) -> Vec<u8> {
    set_masked(
        k::UDP,
        &[0, 0, (port >> 8) as u8, port as u8],
        &[0, 0, 0xff, 0xff],
    )
}

fn push_vlan(tpid: u16, tci: u16) -> Vec<u8> {
    attr(
        a::PUSH_VLAN,
        &[tpid.to_be_bytes(), tci.to_be_bytes()].concat(),
    )
}

fn udp_dst(f: &[u8]) -> u16 {
    let (_, l3) = l3_offset(f);
    u16::from_be_bytes([f[l3 + 22], f[l3 + 23]])
}

// ---- output, drop, empty lists ----

#[test]
fn outputs_copy_all_but_the_last() {
    let (env, out, _) = run(&[output(3), output(1), output(2)].concat());
    assert_eq!(env.ports(), [3, 1, 2]);
    assert!(env.outputs().iter().all(|(_, f)| *f == frame()));
    assert_eq!(out, Outcome::default());
}

#[test]
fn empty_list_consumes_silently() {
    let (env, out, _) = run(&[]);
    assert!(env.events.is_empty());
    assert_eq!(out.dropped(), 0);
}

#[test]
fn drop_stops_the_list() {
    let (env, out, _) = run(&[output(1), u32_attr(a::DROP, 0), output(2)].concat());
    assert_eq!(env.ports(), [1]);
    assert_eq!((out.explicit, out.dropped()), (1, 1));
}

#[test]
fn out_of_memory_skips_copies_only() {
    let mut ctx = ExecContext::try_new().unwrap();
    let mut env = Recorder::default();
    let mut key = key_of(&frame());
    let acts = [
        output(1),
        clone(&[output(5)]),
        u32_attr(a::RECIRC, 3),
        output(2),
    ]
    .concat();
    let out = execute(
        &mut ctx,
        &mut env,
        Watched::no_copies(packet(&frame())),
        &mut key,
        &acts,
    );
    assert_eq!(env.ports(), [2]);
    assert_eq!((out.no_memory, out.dropped()), (3, 3));
}

// ---- trunc ----

#[test]
fn trunc_applies_to_the_next_output_only() {
    let f = frame();
    let acts = [attr(a::TRUNC, &30u32.to_ne_bytes()), output(1), output(2)].concat();
    let (env, _, _) = run(&acts);
    let outs = env.outputs();
    assert_eq!(outs[0], (1, f[..30].to_vec()));
    assert_eq!(outs[1], (2, f.clone()));
    // On the last output as well; a max at or above the length cuts nothing.
    let acts = [u32_attr(a::TRUNC, 20), output(1)].concat();
    assert_eq!(run(&acts).0.outputs(), [(1, f[..20].to_vec())]);
    let acts = [u32_attr(a::TRUNC, f.len() as u32), output(1)].concat();
    assert_eq!(run(&acts).0.outputs(), [(1, f.clone())]);
    // Never into the Ethernet header.
    let acts = [u32_attr(a::TRUNC, 4), output(1)].concat();
    assert_eq!(run(&acts).0.outputs(), [(1, f[..14].to_vec())]);
}

#[test]
fn trunc_is_relative_to_the_length_when_set() {
    // Pushing a tag after trunc keeps the number of bytes to cut.
    let f = frame();
    let acts = [u32_attr(a::TRUNC, 30), push_vlan(0x88a8, 0x1001), output(1)].concat();
    let (env, _, _) = run(&acts);
    let out = &env.outputs()[0].1;
    assert_eq!(out.len(), 34);
    assert_eq!(&out[12..16], &[0x88, 0xa8, 0, 1]);
    assert_eq!(&out[16..], &f[12..30]);
}

// ---- userspace ----

fn userspace(attrs: &[Vec<u8>]) -> Vec<u8> {
    nest(a::USERSPACE, attrs)
}

#[test]
fn userspace_upcall_fields() {
    let up = userspace(&[
        u32_attr(a::USERSPACE_PID, 77),
        attr(a::USERSPACE_USERDATA, &[1, 2, 3]),
        u32_attr(a::USERSPACE_EGRESS_TUN_PORT, 9),
        attr(a::USERSPACE_ACTIONS, &[]),
    ]);
    let acts = [up.clone(), output(4)].concat();
    let (env, out, _) = run(&acts);
    assert_eq!(out, Outcome::default());
    let Event::Upcall {
        pid,
        frame: f,
        userdata,
        egress_tun_port,
        actions,
        original_len,
        key,
    } = &env.events[0]
    else {
        panic!("{:?}", env.events)
    };
    assert_eq!((*pid, f), (77, &frame()));
    assert_eq!(userdata.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!((*egress_tun_port, *original_len), (Some(9), None));
    assert_eq!(actions.as_deref(), Some(&acts[..]));
    assert_eq!(*key, key_of(&frame()));
    assert_eq!(env.ports(), [4]);
    // Without ACTIONS the list is not sent; without PID the action is skipped.
    let (env, out, _) = run(&userspace(&[u32_attr(a::USERSPACE_PID, 1)]));
    assert!(matches!(
        &env.events[0],
        Event::Upcall {
            actions: None,
            userdata: None,
            ..
        }
    ));
    assert_eq!(out, Outcome::default());
    let (env, out, _) = run(&[userspace(&[attr(a::USERSPACE_USERDATA, &[1])]), output(2)].concat());
    assert_eq!(env.ports(), [2]);
    assert_eq!(env.events.len(), 1);
    assert_eq!(out.skipped, 1);
}

#[test]
fn userspace_after_trunc_gets_the_cut_packet_and_the_length() {
    let f = frame();
    let up = userspace(&[u32_attr(a::USERSPACE_PID, 5)]);
    let acts = [u32_attr(a::TRUNC, 20), up.clone(), output(1)].concat();
    let (env, _, _) = run(&acts);
    match &env.events[0] {
        Event::Upcall {
            frame: g,
            original_len,
            ..
        } => assert_eq!(
            (g, *original_len),
            (&f[..20].to_vec(), Some(f.len() as u32))
        ),
        e => panic!("{e:?}"),
    }
    // The upcall took the pending cut: the output is whole.
    assert_eq!(env.outputs(), [(1, f.clone())]);
    // As the last action too.
    let (env, _, _) = run(&[u32_attr(a::TRUNC, 20), up].concat());
    assert!(matches!(&env.events[0], Event::Upcall { frame: g, .. } if g.len() == 20));
}

// ---- VLAN ----

#[test]
fn vlan_push_pop_through_execute() {
    let f = frame();
    let acts = [
        push_vlan(0x8100, 0x1000 | 10),
        output(1),
        push_vlan(0x88a8, 0x1000 | 20),
        output(2),
        attr(a::POP_VLAN, &[]),
        output(3),
        attr(a::POP_VLAN, &[]),
        output(4),
    ]
    .concat();
    let (env, out, key) = run(&acts);
    assert_eq!(out, Outcome::default());
    let got: Vec<_> = env
        .events
        .iter()
        .map(|e| match e {
            Event::Output {
                frame, oob_vlan, ..
            } => (frame.clone(), *oob_vlan),
            e => panic!("{e:?}"),
        })
        .collect();
    let tagged = |tags: &[(u16, u16)]| ipv4(eth(tags, 0x0800), UDP, &udp(1000, 53));
    assert_eq!(
        got,
        [
            (f.clone(), Some(10)),
            (tagged(&[(0x88a8, 20), (0x8100, 10)]), None),
            (tagged(&[(0x8100, 10)]), None),
            (f.clone(), None),
        ]
    );
    assert_eq!((key.vlan_tci, key.cvlan_tci, key.eth_type), (0, 0, 0x0800));
}

#[test]
fn pop_vlan_of_oob_tag_and_key() {
    let f = frame();
    let mut env = Recorder::default();
    let acts = [attr(a::POP_VLAN, &[]), output(1)].concat();
    let (_, key) = run_with(&mut env, &f, Some(0x0123), &acts);
    assert_eq!(
        env.events,
        [Event::Output {
            port: 1,
            frame: f,
            oob_vlan: None
        }]
    );
    assert_eq!((key.vlan_tci, key.vlan_tpid), (0, 0));
}

// ---- set ----

#[test]
fn set_and_set_masked_rewrite_and_follow_the_key() {
    let acts = [
        set_udp_dst(4242),
        output(1),
        nest(
            a::SET,
            &[attr(k::IPV4, &[1, 1, 1, 1, 2, 2, 2, 2, UDP, 0, 9, 0])],
        ),
        output(2),
    ]
    .concat();
    let (env, out, key) = run(&acts);
    assert_eq!(out, Outcome::default());
    let outs = env.outputs();
    for (_, f) in &outs {
        check_checksums(f).unwrap();
        assert_eq!(udp_dst(f), 4242);
    }
    assert_eq!(
        &outs[1].1[22..34],
        &[9, UDP, outs[1].1[24], outs[1].1[25], 1, 1, 1, 1, 2, 2, 2, 2]
    );
    assert_eq!(
        (key.tp_dst, key.ipv4_src, key.ip_ttl, key.ip_tos),
        (4242, 0x0101_0101, 9, 0)
    );
}

#[test]
fn set_on_a_missing_header_drops() {
    let acts = [
        output(1),
        set_masked(k::TCP, &[0, 1, 0, 0], &[0xff, 0xff, 0, 0]),
        output(2),
    ]
    .concat();
    let (env, out, _) = run(&acts);
    assert_eq!(env.ports(), [1]);
    assert_eq!((out.bad_header, out.dropped()), (1, 1));
}

#[test]
fn set_priority_and_mark_reach_the_upcall_key() {
    let acts = [
        nest(a::SET, &[u32_attr(k::PRIORITY, 6)]),
        set_masked(k::SKB_MARK, &0xabu32.to_ne_bytes(), &0xffu32.to_ne_bytes()),
        userspace(&[u32_attr(a::USERSPACE_PID, 1)]),
    ]
    .concat();
    let (env, _, key) = run(&acts);
    assert_eq!((key.priority, key.skb_mark), (6, 0xab));
    assert!(
        matches!(&env.events[0], Event::Upcall { key, .. } if key.priority == 6 && key.skb_mark == 0xab)
    );
}

#[test]
fn ct_clear_untracks_the_packet() {
    let mut env = Recorder::default();
    let mut ctx = ExecContext::try_new().unwrap();
    let mut key = key_of(&frame());
    key.ct_state = 0x22;
    key.ct_zone = 5;
    key.ct_mark = 7;
    key.ct_labels = [1; 16];
    key.ct_orig.proto = 17;
    let acts = [attr(a::CT_CLEAR, &[]), output(1)].concat();
    let out = execute(&mut ctx, &mut env, packet(&frame()), &mut key, &acts);
    assert_eq!((out, env.ports()), (Outcome::default(), vec![1]));
    let mut clear = key_of(&frame());
    clear.clear_conntrack();
    assert_eq!(key, clear);
    assert_eq!((key.ct_state, key.ct_zone, key.ct_orig.proto), (0, 0, 0));
}

#[test]
fn ct_goes_to_the_tracker_which_may_drop() {
    let ct = nest(a::CT, &[attr(a::CT_COMMIT, &[])]);
    let acts = [ct.clone(), output(1)].concat();
    let (env, out, _) = run(&acts);
    assert_eq!(env.ports(), vec![1]);
    assert_eq!(out, Outcome::default());
    assert!(matches!(&env.events[0], Event::Conntrack { ct: c } if c[..] == ct[4..]));
    let mut env = Recorder {
        ct_drops: true,
        ..Recorder::default()
    };
    let (out, _) = run_with(&mut env, &frame(), None, &acts);
    assert_eq!((env.ports(), out.conntrack, out.dropped()), (vec![], 1, 1));
}

#[test]
fn set_of_conntrack_metadata_drops_as_on_linux() {
    let acts = [set_masked(k::CT_MARK, &[1, 0, 0, 0], &[0xff; 4]), output(1)].concat();
    let (env, out, _) = run(&acts);
    assert_eq!((env.ports(), out.dropped()), (vec![], 1));
}

// ---- recirc and hash ----

#[test]
fn recirc_hands_over_the_packet_with_its_recirc_id() {
    let acts = [
        u32_attr(a::RECIRC, 7),
        set_udp_dst(99),
        u32_attr(a::RECIRC, 8),
    ]
    .concat();
    let (env, out, key) = run(&acts);
    assert_eq!(out, Outcome::default());
    let got: Vec<_> = env
        .events
        .iter()
        .map(|e| match e {
            Event::Recirc { frame, key } => (udp_dst(frame), key.recirc_id, key.tp_dst),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(got, [(53, 7, 53), (99, 8, 99)]);
    // The executing key keeps its own recirc_id.
    assert_eq!(key.recirc_id, 0);
}

#[test]
fn hash_sets_dp_hash() {
    let hash =
        |alg: u32, basis: u32| attr(a::HASH, &[alg.to_ne_bytes(), basis.to_ne_bytes()].concat());
    let (_, _, k1) = run(&hash(a::HASH_ALG_L4, 1));
    let (_, _, k2) = run(&hash(a::HASH_ALG_L4, 2));
    let (_, _, k3) = run(&hash(a::HASH_ALG_SYM_L4, 1));
    assert!(k1.dp_hash != 0 && k2.dp_hash != 0 && k3.dp_hash != 0);
    assert_ne!(k1.dp_hash, k2.dp_hash);
    // The upcall sees it.
    let (env, _, _) = run(&[
        hash(a::HASH_ALG_L4, 1),
        userspace(&[u32_attr(a::USERSPACE_PID, 1)]),
    ]
    .concat());
    assert!(matches!(&env.events[0], Event::Upcall { key, .. } if key.dp_hash == k1.dp_hash));
    let (_, out, _) = run(&attr(a::HASH, &[0; 4]));
    assert_eq!(out.skipped, 1);
}

// ---- sample, clone ----

fn sample(probability: u32, list: &[Vec<u8>]) -> Vec<u8> {
    nest(
        a::SAMPLE,
        &[
            u32_attr(a::SAMPLE_PROBABILITY, probability),
            nest(a::SAMPLE_ACTIONS, list),
        ],
    )
}

#[test]
fn sample_probability() {
    let acts = |p| [sample(p, &[output(9)]), output(1)].concat();
    // Always, without drawing.
    let (env, _, _) = run(&acts(u32::MAX));
    assert_eq!((env.ports(), env.rand_calls), (vec![9, 1], 0));
    // Never, without drawing.
    let (env, _, _) = run(&acts(0));
    assert_eq!((env.ports(), env.rand_calls), (vec![1], 0));
    // Taken when the random value is at most the probability.
    for (r, taken) in [(99, true), (100, true), (101, false)] {
        let mut env = Recorder {
            rand: vec![r],
            ..Recorder::default()
        };
        run_with(&mut env, &frame(), None, &acts(100));
        assert_eq!(env.ports().contains(&9), taken, "{r}");
        assert_eq!(env.rand_calls, 1);
    }
}

#[test]
fn sample_works_on_a_copy_unless_last() {
    let inner = [set_udp_dst(7), output(9)];
    let acts = [sample(u32::MAX, &inner), output(1)].concat();
    let (env, _, key) = run(&acts);
    let outs = env.outputs();
    assert_eq!((udp_dst(&outs[0].1), udp_dst(&outs[1].1)), (7, 53));
    assert_eq!(key.tp_dst, 53);
    // Last: in place, on the packet and key themselves.
    let (env, _, key) = run(&sample(u32::MAX, &inner));
    assert_eq!(udp_dst(&env.outputs()[0].1), 7);
    assert_eq!(key.tp_dst, 7);
    // Last and not taken: consumed.
    let (env, out, _) = run(&[output(1), sample(0, &[output(9)])].concat());
    assert_eq!((env.ports(), out), (vec![1], Outcome::default()));
    // Without a probability: skipped.
    let (env, out, _) = run(&[
        nest(a::SAMPLE, &[nest(a::SAMPLE_ACTIONS, &[output(9)])]),
        output(1),
    ]
    .concat());
    assert_eq!((env.ports(), out.skipped), (vec![1], 1));
}

#[test]
fn sample_in_linux_stored_form() {
    // OVS_SAMPLE_ATTR_ARG {bool exec; u32 probability} then the actions.
    let arg = |p: u32| attr(3, &[&[1u8, 0, 0, 0][..], &p.to_ne_bytes()].concat());
    let acts = [
        nest(a::SAMPLE, &[arg(u32::MAX), output(9), output(8)]),
        output(1),
    ]
    .concat();
    assert_eq!(run(&acts).0.ports(), [9, 8, 1]);
    let acts = [nest(a::SAMPLE, &[arg(0), output(9)]), output(1)].concat();
    assert_eq!(run(&acts).0.ports(), [1]);
}

#[test]
fn clone_runs_on_a_copy_with_a_key_copy() {
    let acts = [
        clone(&[set_udp_dst(7), push_vlan(0x8100, 0x1005), output(9)]),
        output(1),
    ]
    .concat();
    let (env, _, key) = run(&acts);
    assert_eq!(env.events.len(), 2);
    match &env.events[0] {
        Event::Output {
            port: 9,
            frame: f,
            oob_vlan: Some(5),
        } => assert_eq!(udp_dst(f), 7),
        e => panic!("{e:?}"),
    }
    assert_eq!(env.outputs()[1], (1, frame()));
    assert_eq!((key.tp_dst, key.vlan_tci), (53, 0));
    // Linux's stored form, with OVS_CLONE_ATTR_EXEC first.
    let acts = [nest(a::CLONE, &[u32_attr(0, 1), output(9)]), output(1)].concat();
    assert_eq!(run(&acts).0.ports(), [9, 1]);
    // An empty clone does nothing.
    assert_eq!(run(&[clone(&[]), output(1)].concat()).0.ports(), [1]);
}

// ---- check_pkt_len ----

fn check_pkt_len(max: u16, greater: &[Vec<u8>], less_equal: &[Vec<u8>]) -> Vec<u8> {
    nest(
        a::CHECK_PKT_LEN,
        &[
            attr(a::CHECK_PKT_LEN_PKT_LEN, &max.to_ne_bytes()),
            nest(a::CHECK_PKT_LEN_IF_GREATER, greater),
            nest(a::CHECK_PKT_LEN_IF_LESS_EQUAL, less_equal),
        ],
    )
}

/// A reassembled packet is measured by its MRU and L2 header, not its
/// whole length (Linux's `execute_check_pkt_len`): a datagram that came
/// in fragments of 1500 bytes fits a 1514-byte check, as each fragment
/// leaving would.
#[test]
fn check_pkt_len_measures_a_reassembled_packet_by_its_mru() {
    let big = ipv4(
        eth(&[], 0x0800),
        UDP,
        &[udp(1000, 53), vec![0; 3000]].concat(),
    );
    for (max, port) in [(1514, 20), (1513, 10)] {
        let mut ctx = ExecContext::try_new().unwrap();
        let mut env = Recorder::default();
        let mut key = key_of(&big);
        let mut p = packet(&big);
        p.set_mru(1500);
        let acts = check_pkt_len(max, &[output(10)], &[output(20)]);
        execute(&mut ctx, &mut env, p, &mut key, &acts);
        assert_eq!(env.ports(), [port], "max {max}");
    }
}

/// A large send its sender left the NIC to cut is measured by its largest
/// frame once cut (Linux's `skb_gso_validate_mac_len`): an MTU check does
/// not send a VM's every TCP large send down its too-big branch.
#[test]
fn check_pkt_len_measures_a_large_send_by_its_segments() {
    use crate::offload::{Checksums, Lso, Request};
    use crate::packet::tests::Offloaded;
    let mut tcp = crate::actions::testing::tcp(1000, 80);
    tcp.extend(vec![0; 20_000]);
    let big = ipv4(eth(&[], 0x0800), TCP, &tcp);
    // Each frame once cut: 14 + 20 + 20 + 1448 bytes.
    for (max, port) in [(1502, 20), (1501, 10)] {
        let mut ctx = ExecContext::try_new().unwrap();
        let mut env = Recorder::default();
        let mut key = key_of(&big);
        let p = Offloaded {
            p: packet(&big),
            req: Request {
                checksums: Checksums::NONE,
                lso: Some(Lso {
                    mss: 1448,
                    v2: true,
                }),
            },
        };
        let acts = check_pkt_len(max, &[output(10)], &[output(20)]);
        execute(&mut ctx, &mut env, p, &mut key, &acts);
        assert_eq!(env.ports(), [port], "max {max}");
    }
}

#[test]
fn check_pkt_len_branches() {
    let len = frame().len() as u16;
    for (max, port) in [(len - 1, 10), (len, 20), (len + 1, 20)] {
        let acts = [check_pkt_len(max, &[output(10)], &[output(20)]), output(1)].concat();
        assert_eq!(run(&acts).0.ports(), [port, 1], "max {max}");
        // Last: the branch runs on the packet itself.
        let acts = [output(1), check_pkt_len(max, &[output(10)], &[output(20)])].concat();
        assert_eq!(run(&acts).0.ports(), [1, port]);
    }
    // The branch works on a copy; the packet goes on unchanged.
    let acts = [
        check_pkt_len(0, &[set_udp_dst(7), output(10)], &[]),
        output(1),
    ]
    .concat();
    let outs = run(&acts).0.outputs();
    assert_eq!((udp_dst(&outs[0].1), udp_dst(&outs[1].1)), (7, 53));
    // An out-of-band tag is not part of the length (as Linux's accelerated tag).
    let mut env = Recorder::default();
    run_with(
        &mut env,
        &frame(),
        Some(3),
        &check_pkt_len(len, &[output(10)], &[output(20)]),
    );
    assert_eq!(env.ports(), [20]);
    // Linux's stored form: ARG {u16 pkt_len; bool; bool}, LESS_EQUAL, GREATER.
    let arg = attr(4, &[&len.to_ne_bytes()[..], &[0, 0]].concat());
    let stored = nest(
        a::CHECK_PKT_LEN,
        &[
            arg,
            nest(a::CHECK_PKT_LEN_IF_LESS_EQUAL, &[output(20)]),
            nest(a::CHECK_PKT_LEN_IF_GREATER, &[output(10)]),
        ],
    );
    assert_eq!(run(&stored).0.ports(), [20]);
    // No length: skipped.
    let none = nest(
        a::CHECK_PKT_LEN,
        &[nest(a::CHECK_PKT_LEN_IF_GREATER, &[output(10)])],
    );
    let (env, out, _) = run(&[none, output(1)].concat());
    assert_eq!((env.ports(), out.skipped), (vec![1], 1));
}

// ---- dec_ttl ----

fn dec_ttl(list: &[Vec<u8>]) -> Vec<u8> {
    nest(a::DEC_TTL, &[nest(a::DEC_TTL_ACTION, list)])
}

#[test]
fn dec_ttl_decrements_or_runs_the_exception_list() {
    let acts = [dec_ttl(&[output(99)]), output(1)].concat();
    let (env, _, key) = run(&acts);
    let outs = env.outputs();
    assert_eq!(outs.len(), 1);
    check_checksums(&outs[0].1).unwrap();
    assert_eq!((outs[0].0, outs[0].1[22], key.ip_ttl), (1, 63, 63));
    for ttl in [1, 0] {
        let mut f = frame();
        f[22] = ttl;
        fix_checksums(&mut f);
        let mut env = Recorder::default();
        let (out, _) = run_with(
            &mut env,
            &f,
            None,
            &[output(1), dec_ttl(&[output(99)]), output(2)].concat(),
        );
        assert_eq!((env.ports(), out), (vec![1, 99], Outcome::default()));
        // An empty exception list consumes the packet.
        let mut env = Recorder::default();
        let (out, _) = run_with(&mut env, &f, None, &[dec_ttl(&[]), output(2)].concat());
        assert!(env.events.is_empty());
        assert_eq!(out.dropped(), 0);
    }
}

// ---- not executable ----

#[test]
fn unsupported_actions_drop() {
    for ty in [
        a::TUNNEL_PUSH,
        a::TUNNEL_POP,
        a::PSAMPLE,
        a::LB_OUTPUT,
        0,
        99,
    ] {
        let acts = [output(1), attr(ty, &[0; 8]), output(2)].concat();
        let (env, out, _) = run(&acts);
        assert_eq!(env.ports(), [1], "{ty}");
        assert_eq!((out.unsupported, out.dropped()), (1, 1));
    }
    // In a nested list only the copy is dropped.
    let acts = [clone(&[attr(a::PSAMPLE, &[0; 8]), output(9)]), output(1)].concat();
    let (env, out, _) = run(&acts);
    assert_eq!((env.ports(), out.unsupported), (vec![1], 1));
}

// ---- set(tunnel) ----

#[test]
fn set_tunnel_goes_with_the_packet_to_every_later_output() {
    let tun = attr(crate::ovs::tunnel::TTL, &[64]);
    let acts = [
        output(1),
        nest(a::SET, &[nest(k::TUNNEL, core::slice::from_ref(&tun))]),
        output(2),
        clone(&[output(3)]),
        output(4),
    ]
    .concat();
    let (env, out, key) = run(&acts);
    assert_eq!(env.ports(), [1, 2, 3, 4]);
    assert_eq!(env.tunnels, [(2, tun.clone()), (3, tun.clone()), (4, tun)]);
    // The flow key keeps the tunnel the packet came by.
    assert_eq!((out, key.has_tunnel()), (Outcome::default(), false));
}

// ---- unreadable lists ----

#[test]
fn unreadable_actions_are_skipped() {
    // OUTPUT with 2 bytes, PUSH_VLAN with 3, then a good output.
    let acts = [
        attr(a::OUTPUT, &[1, 0]),
        attr(a::PUSH_VLAN, &[0x81, 0, 0]),
        output(5),
    ]
    .concat();
    let (env, out, _) = run(&acts);
    assert_eq!((env.ports(), out.skipped), (vec![5], 2));
    // A stream cut mid-attribute ends where it can no longer be read.
    let mut acts = [output(1), output(2)].concat();
    acts.extend_from_slice(&[200, 0, 1, 0, 0]);
    let (env, _, _) = run(&acts);
    assert_eq!(env.ports(), [1, 2]);
}

// ---- nesting and deferral ----

/// `clone(L(d+1)), output(d)` nested `depth` times, then `output(depth)`.
fn chain(depth: u32, d: u32) -> Vec<u8> {
    if d == depth {
        return output(d);
    }
    [clone(&[chain(depth, d + 1)]), output(d)].concat()
}

#[test]
fn nested_lists_run_at_once_then_deferred() {
    assert_eq!(NEST_LEVELS, 3);
    // Levels 1..=3 run at once (deepest first), level 4 after the top list.
    let (env, out, _) = run(&chain(4, 0));
    assert_eq!(env.ports(), [3, 2, 1, 0, 4]);
    assert_eq!(out, Outcome::default());
    // A deferred list has every level again.
    let (env, out, _) = run(&chain(7, 0));
    assert_eq!(env.ports(), [3, 2, 1, 0, 7, 6, 5, 4]);
    assert_eq!(out, Outcome::default());
}

#[test]
fn deferral_fifo_overflows_into_counted_drops() {
    // At the last level, 12 clones that must be deferred: 10 fit.
    let many: Vec<Vec<u8>> = (0..12)
        .map(|i| clone(&[output(100 + i)]))
        .chain([output(50)])
        .collect();
    let acts = clone(&[clone(&[clone(&[many.concat()]), output(2)]), output(1)]);
    let acts = [acts, output(0)].concat();
    let (env, out, _) = run(&acts);
    let mut expect = vec![50, 2, 1, 0];
    expect.extend(100..100 + DEFER_CAPACITY as u32);
    assert_eq!(env.ports(), expect);
    assert_eq!((out.overflow, out.dropped()), (2, 2));
}

#[test]
fn last_position_nesting_uses_no_level() {
    // 200 clones each the last action of the one around it.
    let mut acts = output(7);
    for _ in 0..200 {
        acts = clone(&[acts]);
    }
    let (env, out, _) = run(&[output(1), acts].concat());
    assert_eq!((env.ports(), out), (vec![1, 7], Outcome::default()));
}

#[test]
fn deferred_lists_keep_their_key_and_cut() {
    // The deferred list sees the key as it was when deferred, and the
    // pending trunc of its packet.
    let deep = clone(&[set_udp_dst(11), output(40)]);
    let l3 = clone(&[deep, output(3)]);
    let l2 = clone(&[l3, output(2)]);
    let l1 = clone(&[set_udp_dst(5), u32_attr(a::TRUNC, 40), l2, output(1)]);
    let (env, out, key) = run(&[l1, output(0)].concat());
    assert_eq!(out, Outcome::default());
    let outs = env.outputs();
    let ports: Vec<u32> = outs.iter().map(|(p, _)| *p).collect();
    assert_eq!(ports, [3, 2, 1, 0, 40]);
    assert_eq!(outs[4].1.len(), 40);
    assert_eq!(outs[0].1.len(), 40);
    assert_eq!(outs[3].1, frame());
    assert_eq!(key.tp_dst, 53);
    // The context is reusable and empty afterwards.
    let mut ctx = ExecContext::try_new().unwrap();
    let mut env = Recorder::default();
    for _ in 0..3 {
        let mut key = key_of(&frame());
        let out = execute(&mut ctx, &mut env, packet(&frame()), &mut key, &chain(6, 0));
        assert_eq!(out, Outcome::default());
    }
    assert_eq!(env.ports().len(), 21);
}

#[test]
fn a_dropping_meter_ends_the_list() {
    let list = [
        output(1),
        u32_attr(a::METER, 7),
        output(2),
        u32_attr(a::METER, 8),
        output(3),
    ]
    .concat();
    let mut env = Recorder {
        dropping: vec![8],
        ..Recorder::default()
    };
    let (out, _) = run_with(&mut env, &frame(), None, &list);
    assert_eq!(env.ports(), [1, 2]);
    let len = frame().len();
    let meters: Vec<(u32, usize)> = env
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Meter { id, len } => Some((*id, *len)),
            _ => None,
        })
        .collect();
    assert_eq!(meters, [(7, len), (8, len)]);
    assert_eq!(
        out,
        Outcome {
            metered: 1,
            ..Outcome::default()
        }
    );
    assert_eq!(out.dropped(), 1);
}
