//! Property tests: hostile bytes and text never panic the formatters and
//! parsers, and attribute streams whose text form OVS keeps faithful come
//! back byte for byte from their text.

use super::nl::NlBuf;
use super::{format_actions, format_flow, parse_actions, parse_flow, parse_key};
use crate::ovs::{action as act, key};
use proptest::prelude::*;
use std::string::String;
use std::vec;
use std::vec::Vec;

/// Attribute-shaped bytes: mostly well-formed attributes of plausible
/// types, nested or not, with now and then a broken length.
fn attr_stream(depth: u32) -> BoxedStrategy<Vec<u8>> {
    let leaf =
        (0u16..40, proptest::collection::vec(any::<u8>(), 0..48)).prop_map(|(ty, payload)| {
            let mut b = NlBuf::new();
            b.put(ty, &payload).unwrap();
            b.bytes
        });
    let one = if depth == 0 {
        leaf.boxed()
    } else {
        prop_oneof![
            3 => leaf,
            1 => (0u16..40, attr_stream(depth - 1)).prop_map(|(ty, inner)| {
                let mut b = NlBuf::new();
                b.put(ty, &inner).unwrap();
                b.bytes
            }),
        ]
        .boxed()
    };
    (proptest::collection::vec(one, 0..6), any::<u8>(), 0usize..4)
        .prop_map(|(attrs, junk, cut)| {
            let mut v: Vec<u8> = attrs.concat();
            if junk < 16 {
                let n = v.len().saturating_sub(cut);
                v.truncate(n);
            } else if junk < 32
                && let Some(b) = v.first_mut()
            {
                *b = junk;
            }
            v
        })
        .boxed()
}

/// Text made of OVS's own words, so that parsing gets past the first one.
fn ovs_text() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        Just("in_port("),
        Just("eth("),
        Just("src="),
        Just("dst="),
        Just("ipv4("),
        Just("ipv6("),
        Just("tunnel("),
        Just("geneve({class=1,type=2,len=4,0x1}"),
        Just("encap("),
        Just("vlan(vid="),
        Just("mpls(label="),
        Just("ct_state(+trk"),
        Just("flags(-df+csum"),
        Just("set("),
        Just("clone("),
        Just("sample(sample=50%,actions("),
        Just("check_pkt_len(size=1,gt("),
        Just("),le("),
        Just("ct(commit,nat(src="),
        Just("userspace(pid=1,userdata("),
        Just("push_nsh(mdtype=2,md2=0x"),
        Just("psample(group=1,cookie=0x"),
        Just("tnl_push(tnl_port(1),header("),
        Just("1.2.3.4"),
        Just("::1"),
        Just("00:01:02:03:04:05"),
        Just("0x"),
        Just("ff"),
        Just("/"),
        Just(","),
        Just(")"),
        Just("-1"),
        Just("65536"),
        Just("drop"),
    ];
    proptest::collection::vec(words, 0..24).prop_map(|w| w.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoders_take_any_bytes(key in attr_stream(3), mask in attr_stream(3), raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = format_flow(&key, None, true);
        let _ = format_flow(&key, Some(&mask), false);
        let _ = format_flow(&raw, Some(&key), true);
        let _ = format_actions(&key);
        let _ = format_actions(&raw);
    }

    #[test]
    fn parsers_take_any_text(any_text in ".{0,200}", words in ovs_text()) {
        for t in [&any_text, &words] {
            let _ = parse_key(t);
            let _ = parse_flow(t);
            let _ = parse_actions(t);
        }
    }
}

/// A key attribute whose verbose text parses back to the same bytes.
fn faithful_key_attr() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let bytes = |n: usize| proptest::collection::vec(any::<u8>(), n);
    prop_oneof![
        (Just(key::IN_PORT), bytes(4)),
        (Just(key::PRIORITY), bytes(4)),
        (Just(key::SKB_MARK), bytes(4)),
        (Just(key::RECIRC_ID), bytes(4)),
        (Just(key::DP_HASH), bytes(4)),
        (Just(key::CT_MARK), bytes(4)),
        (Just(key::CT_ZONE), bytes(2)),
        (Just(key::CT_LABELS), bytes(16)),
        (Just(key::ETHERNET), bytes(12)),
        (Just(key::ETHERTYPE), bytes(2)),
        (Just(key::TCP), bytes(4)),
        (Just(key::UDP), bytes(4)),
        (Just(key::SCTP), bytes(4)),
        (Just(key::ICMP), bytes(2)),
        (Just(key::ICMPV6), bytes(2)),
        (Just(key::ND), bytes(28)),
        (Just(key::PACKET_TYPE), bytes(4)),
        (Just(key::MPLS), bytes(4)),
        (Just(key::VLAN), bytes(2)),
        (bytes(11), 0u8..3).prop_map(|(mut v, frag)| {
            v.push(frag);
            (key::IPV4, v)
        }),
        (bytes(32), 0u32..0x10_0000, bytes(3), 0u8..3).prop_map(|(mut v, label, rest, frag)| {
            v.extend_from_slice(&label.to_be_bytes());
            v.extend_from_slice(&rest);
            v.push(frag);
            (key::IPV6, v)
        }),
        (bytes(22)).prop_map(|mut v| {
            v.extend_from_slice(&[0, 0]);
            (key::ARP, v)
        }),
        (0u16..0x1000).prop_map(|f| (key::TCP_FLAGS, f.to_be_bytes().to_vec())),
        (0u8..=255).prop_map(|s| (key::CT_STATE, u32::from(s).to_ne_bytes().to_vec())),
        (bytes(13)).prop_map(|mut v| {
            v.extend_from_slice(&[0, 0, 0]);
            (key::CT_ORIG_TUPLE_IPV4, v)
        }),
        (bytes(5)).prop_map(|mut v| {
            v.extend_from_slice(&[0, 0, 0]);
            (key::ND_EXTENSIONS, v)
        }),
    ]
}

/// An action whose text parses back to the same bytes.
fn faithful_action() -> impl Strategy<Value = Vec<u8>> {
    let put = |ty: u16, payload: Vec<u8>| {
        let mut b = NlBuf::new();
        b.put(ty, &payload).unwrap();
        b.bytes
    };
    prop_oneof![
        any::<u32>().prop_map(move |p| put(act::OUTPUT, p.to_ne_bytes().to_vec())),
        any::<u32>().prop_map(move |p| put(act::METER, p.to_ne_bytes().to_vec())),
        any::<u32>().prop_map(move |p| put(act::LB_OUTPUT, p.to_ne_bytes().to_vec())),
        any::<u32>().prop_map(move |p| put(act::TRUNC, p.to_ne_bytes().to_vec())),
        any::<u32>().prop_map(move |p| put(act::TUNNEL_POP, p.to_ne_bytes().to_vec())),
        Just(put(act::POP_VLAN, Vec::new())),
        Just(put(act::CT_CLEAR, Vec::new())),
        Just(put(act::POP_NSH, Vec::new())),
        (any::<u16>(), 0u16..0x1000, 0u16..8).prop_map(move |(tpid, vid, pcp)| {
            let tci = vid | (pcp << 13) | 0x1000;
            let mut p = tpid.to_be_bytes().to_vec();
            p.extend_from_slice(&tci.to_be_bytes());
            put(act::PUSH_VLAN, p)
        }),
        proptest::collection::vec(any::<u8>(), 12).prop_map(move |eth| {
            let mut b = NlBuf::new();
            let s = b.begin(act::SET).unwrap();
            b.put(key::ETHERNET, &eth).unwrap();
            b.end(s);
            b.bytes
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn faithful_keys_round_trip(attrs in proptest::collection::vec(faithful_key_attr(), 1..8)) {
        let mut b = NlBuf::new();
        for (ty, payload) in &attrs {
            b.put(*ty, payload).unwrap();
        }
        let text = format_flow(&b.bytes, None, true);
        prop_assert_eq!(parse_key(&text), Ok(b.bytes.clone()), "{}", text);
    }

    #[test]
    fn faithful_actions_round_trip(list in proptest::collection::vec(faithful_action(), 1..6), nest in any::<bool>()) {
        let mut bytes = list.concat();
        if nest {
            let mut b = NlBuf::new();
            let s = b.begin(act::CLONE).unwrap();
            b.raw(&bytes).unwrap();
            b.end(s);
            bytes = b.bytes;
        }
        let text = format_actions(&bytes);
        prop_assert_eq!(parse_actions(&text), Ok(bytes.clone()), "{}", text);
    }
}

#[test]
fn deep_nesting_is_cut_short() {
    // 16k nested encapsulations or clones: printed down to a fixed depth.
    let mut k: Vec<u8> = Vec::new();
    let mut a: Vec<u8> = Vec::new();
    for _ in 0..16_000 {
        let mut b = NlBuf::new();
        b.put(key::ENCAP, &k).unwrap();
        k = b.bytes;
        let mut c = NlBuf::new();
        c.put(act::CLONE, &a).unwrap();
        a = c.bytes;
    }
    assert!(format_flow(&k, None, true).contains("..."));
    assert!(format_actions(&a).contains("..."));
    assert!(format_flow(&k, Some(&k), false).starts_with("encap(encap("));
}
