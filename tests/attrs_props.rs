//! Property tests for `flow::attrs`: the parsers and the action validator
//! never panic on arbitrary bytes or on arbitrary attribute trees, every
//! accepted match is a fixpoint of emit -> parse, well-formed flows (coherent
//! keys, masks that follow the key's shape) come back from emit -> parse
//! exactly, and nesting valid action lists keeps them valid up to the depth
//! limit.

use ovsext::flow::FlowKey;
use ovsext::flow::attrs::{
    MAX_ACTIONS_DEPTH, MAX_KEY_LEN, Match, emit_key, emit_mask, parse_match, parse_metadata,
    validate_actions,
};
use ovsext::flow::key::TUN_F_KEY;
use ovsext::netlink::{Errno, NlBuf};
use ovsext::ovs::{action as act, key as k, tunnel as t, vport};
use proptest::prelude::*;

/// An attribute tree: a leaf payload or a nest.
#[derive(Clone, Debug)]
enum Node {
    Leaf(u16, Vec<u8>),
    Nest(u16, Vec<Node>),
}

fn put(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn serialize(nodes: &[Node]) -> Vec<u8> {
    let mut out = Vec::new();
    for n in nodes {
        match n {
            Node::Leaf(ty, p) => put(&mut out, *ty, p),
            Node::Nest(ty, kids) => put(&mut out, *ty, &serialize(kids)),
        }
    }
    out
}

fn emit(m: &Match) -> (Vec<u8>, Vec<u8>) {
    let (mut kb, mut mb) = ([0u8; MAX_KEY_LEN], [0u8; MAX_KEY_LEN]);
    let mut kbuf = NlBuf::new(&mut kb);
    emit_key(&m.key, &mut kbuf).unwrap();
    let mut mbuf = NlBuf::new(&mut mb);
    emit_mask(&m.mask, &m.key, &mut mbuf).unwrap();
    (kbuf.as_bytes().to_vec(), mbuf.as_bytes().to_vec())
}

/// Whatever was accepted: emitting it, parsing that and emitting again gives
/// the same bytes, within `MAX_KEY_LEN`.
fn check_fixpoint(m: &Match) {
    let (key, mask) = emit(m);
    let back = parse_match(&key, Some(&mask)).expect("emitted match parses");
    assert_eq!(emit(&back), (key, mask));
}

/// Emit -> parse gives the match back. The one exception is inherited from
/// Linux: an exact mask matches tun_id exactly for a tunnel key without ID,
/// which its mask cannot report (a mask ID would set the KEY flag).
fn check_round_trip(m: &Match) {
    let (key, mask) = emit(m);
    let mut back = parse_match(&key, Some(&mask)).expect("emitted match parses");
    if m.mask.tun.id != 0 && m.mask.tun.flags & TUN_F_KEY == 0 {
        assert_eq!(back.mask.tun.id, 0);
        back.mask.tun.id = m.mask.tun.id;
    }
    assert_eq!(back, *m);
}

// ---- arbitrary trees -------------------------------------------------------

/// Payload lengths parsers expect somewhere, so that random trees get past
/// the length checks often.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![0usize, 1, 2, 4, 8, 12, 16, 24, 28, 40])
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn tree() -> impl Strategy<Value = Vec<Node>> {
    let leaf = (0u16..34, payload()).prop_map(|(ty, p)| Node::Leaf(ty, p));
    let node = leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            3 => (0u16..34, payload()).prop_map(|(ty, p)| Node::Leaf(ty, p)),
            1 => (prop::sample::select(vec![k::ENCAP, k::TUNNEL, k::NSH, t::VXLAN_OPTS]),
                  prop::collection::vec(inner, 0..6))
                .prop_map(|(ty, kids)| Node::Nest(ty, kids)),
        ]
    });
    prop::collection::vec(node, 0..12)
}

// ---- coherent flows --------------------------------------------------------

fn leaf(ty: u16, p: &[u8]) -> Node {
    Node::Leaf(ty, p.to_vec())
}

fn be16(ty: u16, v: u16) -> Node {
    leaf(ty, &v.to_be_bytes())
}

prop_compose! {
    fn metadata()(
        recirc in prop::option::of(any::<u32>()),
        hash in prop::option::of(any::<u32>()),
        prio in prop::option::of(any::<u32>()),
        mark in prop::option::of(any::<u32>()),
        port in prop::option::of(0u32..0xffff),
        ct_state in prop::option::of(any::<u8>()),
        ct_zone in prop::option::of(any::<u16>()),
        ct_mark in prop::option::of(any::<u32>()),
        ct_labels in prop::option::of(any::<[u8; 16]>()),
    ) -> Vec<Node> {
        let mut v = Vec::new();
        let u32s = [(k::RECIRC_ID, recirc), (k::DP_HASH, hash), (k::PRIORITY, prio), (k::SKB_MARK, mark),
                    (k::IN_PORT, port), (k::CT_STATE, ct_state.map(u32::from)), (k::CT_MARK, ct_mark)];
        for (ty, x) in u32s {
            if let Some(x) = x {
                v.push(leaf(ty, &x.to_ne_bytes()));
            }
        }
        if let Some(z) = ct_zone {
            v.push(leaf(k::CT_ZONE, &z.to_ne_bytes()));
        }
        if let Some(l) = ct_labels {
            v.push(leaf(k::CT_LABELS, &l));
        }
        v
    }
}

fn tunnel_options() -> impl Strategy<Value = Option<Node>> {
    prop_oneof![
        Just(None),
        (0usize..=63)
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), 4 * n))
            .prop_map(|o| Some(leaf(t::GENEVE_OPTS, &o))),
        prop::option::of(any::<u32>()).prop_map(|gbp| {
            let kids = gbp
                .map(|g| vec![leaf(vport::VXLAN_EXT_GBP, &g.to_ne_bytes())])
                .unwrap_or_default();
            Some(Node::Nest(t::VXLAN_OPTS, kids))
        }),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|o| Some(leaf(t::ERSPAN_OPTS, &o))),
        any::<[u8; 2]>().prop_map(|o| Some(leaf(t::GTPU_OPTS, &o))),
    ]
}

prop_compose! {
    fn tunnel()(
        v6 in any::<bool>(),
        id in prop::option::of(any::<u64>()),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        tos in any::<u8>(),
        ttl in any::<u8>(),
        flags in prop::collection::vec(prop::sample::select(vec![t::DONT_FRAGMENT, t::CSUM, t::OAM]), 0..3),
        tp in any::<(u16, u16)>(),
        opts in tunnel_options(),
    ) -> Node {
        let mut v = Vec::new();
        if let Some(id) = id {
            v.push(leaf(t::ID, &id.to_be_bytes()));
        }
        let mut dst = dst;
        dst[3] |= 1;
        if v6 {
            v.push(leaf(t::IPV6_SRC, &src));
            v.push(leaf(t::IPV6_DST, &dst));
        } else {
            v.push(leaf(t::IPV4_SRC, &src[..4]));
            v.push(leaf(t::IPV4_DST, &dst[..4]));
        }
        v.push(leaf(t::TOS, &[tos]));
        v.push(leaf(t::TTL, &[ttl]));
        let mut flags = flags;
        flags.sort();
        flags.dedup();
        v.extend(flags.into_iter().map(|f| leaf(f, &[])));
        v.push(be16(t::TP_SRC, tp.0));
        v.push(be16(t::TP_DST, tp.1));
        v.extend(opts);
        Node::Nest(k::TUNNEL, v)
    }
}

/// The L4 attributes of an IP packet with `proto`.
fn l4(proto: u8, v6: bool, bytes: [u8; 32]) -> Vec<Node> {
    let ports = leaf(0, &bytes[..4]);
    let with = |ty| match &ports {
        Node::Leaf(_, p) => leaf(ty, p),
        Node::Nest(..) => unreachable!(),
    };
    match (proto, v6) {
        (6, _) => vec![
            with(k::TCP),
            leaf(k::TCP_FLAGS, &[bytes[4] & 0x0f, bytes[5]]),
        ],
        (17, _) => vec![with(k::UDP)],
        (132, _) => vec![with(k::SCTP)],
        (1, false) => vec![leaf(k::ICMP, &bytes[..2])],
        (58, true) => {
            let ty = if bytes[6] & 1 == 0 { 135 } else { bytes[0] };
            let mut v = vec![leaf(k::ICMPV6, &[ty, bytes[1]])];
            if ty == 135 || ty == 136 {
                v.push(leaf(k::ND, &[&bytes[..16], &bytes[16..28]].concat()));
            }
            v
        }
        _ => vec![],
    }
}

/// Ethertype and what follows it.
fn l3() -> impl Strategy<Value = Vec<Node>> {
    let proto = prop::sample::select(vec![1u8, 6, 17, 58, 132, 47]);
    prop_oneof![
        (0x0600u16..)
            .prop_filter("not a protocol with attributes", |t| {
                ![
                    0x0800, 0x86dd, 0x0806, 0x8035, 0x8847, 0x8848, 0x894f, 0x8100, 0x88a8,
                ]
                .contains(t)
            })
            .prop_map(|t| vec![be16(k::ETHERTYPE, t)]),
        (
            proto.clone(),
            0u8..3,
            any::<[u8; 12]>(),
            any::<[u8; 32]>(),
            any::<bool>()
        )
            .prop_map(|(proto, frag, b, l4b, tuple)| {
                let mut ip = b;
                ip[8] = proto;
                ip[11] = frag;
                let mut v = vec![be16(k::ETHERTYPE, 0x0800), leaf(k::IPV4, &ip)];
                if frag != 2 {
                    v.extend(l4(proto, false, l4b));
                }
                if tuple {
                    let mut t4 = [0u8; 16];
                    t4[..13].copy_from_slice(&l4b[..13]);
                    v.push(leaf(k::CT_ORIG_TUPLE_IPV4, &t4));
                }
                v
            }),
        (
            proto,
            0u8..3,
            any::<[u8; 40]>(),
            any::<[u8; 32]>(),
            any::<bool>()
        )
            .prop_map(|(proto, frag, b, l4b, tuple)| {
                let mut ip = b;
                ip[32] = 0;
                ip[33] &= 0x0f;
                ip[36] = proto;
                ip[39] = frag;
                let mut v = vec![be16(k::ETHERTYPE, 0x86dd), leaf(k::IPV6, &ip)];
                let l4v = if frag != 2 {
                    l4(proto, true, l4b)
                } else {
                    vec![]
                };
                let nd = l4v.iter().any(|n| matches!(n, Node::Leaf(k::ND, _)));
                v.extend(l4v);
                if tuple && !nd {
                    let mut t6 = [0u8; 40];
                    t6[..37].copy_from_slice(&[&b[..], &l4b[..]].concat()[..37]);
                    v.push(leaf(k::CT_ORIG_TUPLE_IPV6, &t6));
                }
                v
            }),
        (any::<bool>(), any::<[u8; 24]>()).prop_map(|(rarp, b)| {
            let mut arp = b;
            arp[8] = 0;
            arp[22..].fill(0);
            vec![
                be16(k::ETHERTYPE, if rarp { 0x8035 } else { 0x0806 }),
                leaf(k::ARP, &arp),
            ]
        }),
        (any::<bool>(), prop::collection::vec(any::<u32>(), 1..=3)).prop_map(|(mc, lses)| {
            let bytes: Vec<u8> = lses.iter().flat_map(|l| l.to_be_bytes()).collect();
            vec![
                be16(k::ETHERTYPE, if mc { 0x8848 } else { 0x8847 }),
                leaf(k::MPLS, &bytes),
            ]
        }),
        (any::<bool>(), any::<[u8; 8]>(), any::<[u8; 16]>()).prop_map(|(md1, b, ctx)| {
            let mut base = b;
            base[2] = if md1 { 1 } else { 2 };
            let mut kids = vec![leaf(k::NSH_BASE, &base)];
            if md1 {
                kids.push(leaf(k::NSH_MD1, &ctx));
            }
            vec![be16(k::ETHERTYPE, 0x894f), Node::Nest(k::NSH, kids)]
        }),
    ]
}

/// Wraps the Ethertype onward in up to two tags.
fn tags(inner: Vec<Node>, tags: &[(u16, u16)]) -> Vec<Node> {
    match tags.split_first() {
        None => inner,
        Some(((tpid, tci), rest)) => vec![
            be16(k::ETHERTYPE, *tpid),
            be16(k::VLAN, tci | 0x1000),
            Node::Nest(k::ENCAP, self::tags(inner, rest)),
        ],
    }
}

prop_compose! {
    /// A coherent key: metadata, maybe a tunnel, Ethernet (or not), tags, L3/L4.
    fn flow()(
        meta in metadata(),
        tun in prop::option::of(tunnel()),
        ethernet in prop::option::of(any::<[u8; 12]>()),
        vlans in prop::collection::vec((prop::sample::select(vec![0x8100u16, 0x88a8]), any::<u16>()), 0..=2),
        l3 in prop::option::of(l3()),
    ) -> Vec<Node> {
        let mut v = meta;
        v.extend(tun);
        // No Ethertype is 802.2, only possible untagged behind an Ethernet header.
        let lldp = || vec![be16(k::ETHERTYPE, 0x88cc)];
        match (ethernet, l3) {
            (Some(e), None) if vlans.is_empty() => v.push(leaf(k::ETHERNET, &e)),
            (Some(e), l3) => {
                v.push(leaf(k::ETHERNET, &e));
                v.extend(tags(l3.unwrap_or_else(lldp), &vlans));
            }
            (None, l3) => v.extend(l3.unwrap_or_else(lldp)),
        }
        v
    }
}

/// A mask following `key`'s shape: each leaf exact, wildcarded or random,
/// except where Linux needs it exact (Ethertype, TPID, TCI present bit,
/// protocol and ICMPv6 type) or the same length (GENEVE options).
fn mask_of(key: &[Node], choices: &mut impl Iterator<Item = u8>, key_level: bool) -> Vec<Node> {
    key.iter()
        .map(|n| match n {
            Node::Nest(ty, kids) => {
                Node::Nest(*ty, mask_of(kids, choices, key_level && *ty == k::ENCAP))
            }
            Node::Leaf(ty, p) => {
                let pick = choices.next().unwrap_or(0);
                let mut m: Vec<u8> = match pick % 4 {
                    0 => vec![0; p.len()],
                    1 => p.iter().map(|_| choices.next().unwrap_or(0xff)).collect(),
                    _ => vec![0xff; p.len()],
                };
                match if key_level { *ty } else { 0 } {
                    k::ETHERTYPE | k::IN_PORT => m.fill(0xff),
                    k::VLAN => m[0] |= 0x10,
                    k::IPV4 => m[8] = 0xff,
                    k::IPV6 => m[36] = 0xff,
                    k::ICMPV6 => m[0] = 0xff,
                    k::CT_STATE => m[1..].fill(0),
                    _ => {}
                }
                Node::Leaf(*ty, m)
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(key in prop::collection::vec(any::<u8>(), 0..300),
                                   mask in prop::option::of(prop::collection::vec(any::<u8>(), 0..300))) {
        if let Ok(m) = parse_match(&key, mask.as_deref()) {
            check_fixpoint(&m);
        }
        let _ = parse_metadata(&key);
    }

    #[test]
    fn arbitrary_trees_never_panic(key in tree(), mask in prop::option::of(tree())) {
        let key = serialize(&key);
        let mask = mask.map(|m| serialize(&m));
        if let Ok(m) = parse_match(&key, mask.as_deref()) {
            check_fixpoint(&m);
        }
        if let Ok(meta) = parse_metadata(&key) {
            prop_assert!(meta.in_port <= 0xffff);
        }
    }

    #[test]
    fn coherent_flows_round_trip(key in flow(), choices in prop::collection::vec(any::<u8>(), 64..512)) {
        let bytes = serialize(&key);
        let exact = parse_match(&bytes, None);
        prop_assert!(exact.is_ok(), "{:?} -> {:?}", key, exact);
        let exact = exact.unwrap();
        check_round_trip(&exact);
        check_fixpoint(&exact);
        let mask = serialize(&mask_of(&key, &mut choices.into_iter(), true));
        let m = parse_match(&bytes, Some(&mask));
        prop_assert!(m.is_ok(), "{:?}\nmask {:02x?} -> {:?}", key, mask, m);
        let m = m.unwrap();
        prop_assert_eq!(m.key, exact.key);
        check_round_trip(&m);
        // The metadata of a flow key is the match key's metadata.
        let meta = parse_metadata(&bytes).unwrap();
        prop_assert_eq!((meta.recirc_id, meta.in_port, meta.tun, meta.ct_mark),
                        (m.key.recirc_id, m.key.in_port, m.key.tun, m.key.ct_mark));
    }
}

// ---- actions ---------------------------------------------------------------

/// Random action trees: any type, nests where actions nest.
fn action_tree() -> impl Strategy<Value = Vec<Node>> {
    let leaf = (0u16..32, payload()).prop_map(|(ty, p)| Node::Leaf(ty, p));
    let node = leaf.prop_recursive(4, 64, 6, |inner| {
        let nesting = vec![
            act::CLONE,
            act::SAMPLE,
            act::CHECK_PKT_LEN,
            act::DEC_TTL,
            act::USERSPACE,
            act::SET,
            act::SET_MASKED,
            act::CT,
            1,
            2,
            3,
        ];
        prop_oneof![
            3 => (0u16..32, payload()).prop_map(|(ty, p)| Node::Leaf(ty, p)),
            2 => (prop::sample::select(nesting), prop::collection::vec(inner, 0..5))
                .prop_map(|(ty, kids)| Node::Nest(ty, kids)),
        ]
    });
    prop::collection::vec(node, 0..8)
}

prop_compose! {
    /// A flow key with random protocol fields (what action validation reads).
    fn action_key()(eth_type in any::<u16>(), proto in any::<u8>(), frag in any::<u8>(),
                    mac_proto in 0u8..3, port in any::<u32>()) -> FlowKey {
        FlowKey { eth_type, ip_proto: proto, ip_frag: frag, mac_proto, in_port: port, ..FlowKey::default() }
    }
}

/// Valid lists made of actions that are valid anywhere.
fn valid_actions() -> impl Strategy<Value = Vec<Node>> {
    let one = prop_oneof![
        (0u32..0xffff).prop_map(|p| leaf(act::OUTPUT, &p.to_ne_bytes())),
        any::<u32>().prop_map(|id| leaf(act::RECIRC, &id.to_ne_bytes())),
        (14u32..).prop_map(|n| leaf(act::TRUNC, &n.to_ne_bytes())),
        (1u32..).prop_map(|pid| Node::Nest(
            act::USERSPACE,
            vec![leaf(act::USERSPACE_PID, &pid.to_ne_bytes())]
        )),
        any::<u32>().prop_map(|m| Node::Nest(act::SET, vec![leaf(k::SKB_MARK, &m.to_ne_bytes())])),
    ];
    prop::collection::vec(one, 0..6)
}

fn errno_is_documented(r: Result<(), Errno>) -> bool {
    matches!(
        r,
        Ok(()) | Err(Errno::Inval | Errno::OpNotSupp | Errno::Range | Errno::Overflow)
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn actions_on_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), key in action_key()) {
        prop_assert!(errno_is_documented(validate_actions(&bytes, &key)));
    }

    #[test]
    fn arbitrary_action_trees_never_panic(tree in action_tree(), key in action_key()) {
        prop_assert!(errno_is_documented(validate_actions(&serialize(&tree), &key)));
    }

    #[test]
    fn nesting_keeps_valid_lists_valid(list in valid_actions(), depth in 0u32..20, key in action_key(),
                                       probability in any::<u32>()) {
        prop_assert_eq!(validate_actions(&serialize(&list), &key), Ok(()));
        let mut nested = list;
        for level in 0..depth {
            nested = if level % 2 == 0 {
                vec![Node::Nest(act::CLONE, nested)]
            } else {
                vec![Node::Nest(act::SAMPLE, vec![
                    leaf(act::SAMPLE_PROBABILITY, &probability.to_ne_bytes()),
                    Node::Nest(act::SAMPLE_ACTIONS, nested),
                ])]
            };
        }
        let expected = if depth <= MAX_ACTIONS_DEPTH { Ok(()) } else { Err(Errno::Overflow) };
        prop_assert_eq!(validate_actions(&serialize(&nested), &key), expected);
    }
}

#[test]
fn default_key_emits_within_bounds() {
    let m = Match {
        key: FlowKey::default(),
        mask: FlowKey::default(),
    };
    let (key, mask) = emit(&m);
    assert!(key.len() <= MAX_KEY_LEN && mask.len() <= MAX_KEY_LEN);
}
