//! Property tests of action execution: arbitrary action lists on arbitrary
//! frames (and on packets whose memory runs out at random) never panic and
//! do a bounded amount of work; nesting limits only reorder outputs unless
//! they overflow; common lists copy the packet once per extra output and no
//! more; masked sets change exactly the masked bits and leave every
//! checksum right, recomputed here from scratch.

use std::cell::Cell;
use std::rc::Rc;

use ovsext::actions::{Env, ExecContext, Outcome, Userspace, Verdict, execute};
use ovsext::flow::FlowKey;
use ovsext::ovs::{action as a, key as k};
use ovsext::packet::{OwnedPacket, Packet};
use proptest::collection::vec;
use proptest::prelude::*;

// ---- Copies, counted ----

/// A packet that counts the copies made of it (and of its copies).
struct Counted {
    inner: OwnedPacket,
    copies: Rc<Cell<usize>>,
}

impl Packet for Counted {
    fn data(&self) -> &[u8] {
        self.inner.data()
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        self.inner.data_mut()
    }
    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        self.inner.push_front(n)
    }
    fn pull_front(&mut self, n: usize) -> bool {
        self.inner.pull_front(n)
    }
    fn truncate(&mut self, len: usize) {
        self.inner.truncate(len)
    }
    fn oob_vlan(&self) -> Option<u16> {
        self.inner.oob_vlan()
    }
    fn set_oob_vlan(&mut self, tci: Option<u16>) {
        self.inner.set_oob_vlan(tci)
    }
    fn try_clone(&self) -> Option<Counted> {
        self.copies.set(self.copies.get() + 1);
        Some(Counted {
            inner: self.inner.try_clone()?,
            copies: self.copies.clone(),
        })
    }
}

/// Counts what it is given and keeps nothing.
#[derive(Default)]
struct Sink {
    outputs: usize,
}

impl<P: Packet> Env<P> for Sink {
    fn output(&mut self, _: u32, _: P) {
        self.outputs += 1;
    }
    fn userspace(&mut self, _: &P, _: &FlowKey, _: &Userspace<'_>) {}
    fn recirc(&mut self, _: P, _: &FlowKey) {}
    fn random(&mut self) -> u32 {
        0
    }

    fn conntrack(&mut self, _: &mut P, _: &mut FlowKey, _: &[u8]) -> Verdict {
        Verdict::Continue
    }
    fn meter(&mut self, _: u32, _: usize) -> bool {
        false
    }
}

// ---- Netlink attributes ----

fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn nest(ty: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
    attr(ty, &attrs.concat())
}

fn u32_attr(ty: u16, v: u32) -> Vec<u8> {
    attr(ty, &v.to_ne_bytes())
}

// ---- An environment that records ----

#[derive(Default)]
struct Recorder {
    outputs: Vec<(u32, Vec<u8>)>,
    upcalls: usize,
    recircs: usize,
    random: u32,
}

impl<P: Packet> Env<P> for Recorder {
    fn output(&mut self, port: u32, pkt: P) {
        self.outputs.push((port, pkt.data().to_vec()));
    }
    fn userspace(&mut self, _: &P, _: &FlowKey, _: &Userspace<'_>) {
        self.upcalls += 1;
    }
    fn recirc(&mut self, _: P, _: &FlowKey) {
        self.recircs += 1;
    }
    fn random(&mut self) -> u32 {
        self.random = self
            .random
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        self.random
    }
    fn conntrack(&mut self, _: &mut P, _: &mut FlowKey, _: &[u8]) -> Verdict {
        Verdict::Continue
    }
    fn meter(&mut self, id: u32, _: usize) -> bool {
        id % 2 == 1
    }
}

impl Recorder {
    fn events(&self) -> usize {
        self.outputs.len() + self.upcalls + self.recircs
    }
}

/// A packet whose allocations fail when the next bit of `faults` is set.
struct Flaky {
    inner: OwnedPacket,
    faults: Rc<Cell<u64>>,
}

impl Flaky {
    fn fails(&self) -> bool {
        let f = self.faults.get();
        self.faults.set(f.rotate_right(1));
        f & 1 == 1
    }
}

impl Packet for Flaky {
    fn data(&self) -> &[u8] {
        self.inner.data()
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        if self.fails() {
            return None;
        }
        self.inner.data_mut()
    }
    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        if self.fails() {
            return None;
        }
        self.inner.push_front(n)
    }
    fn pull_front(&mut self, n: usize) -> bool {
        self.inner.pull_front(n)
    }
    fn truncate(&mut self, len: usize) {
        self.inner.truncate(len)
    }
    fn oob_vlan(&self) -> Option<u16> {
        self.inner.oob_vlan()
    }
    fn set_oob_vlan(&mut self, tci: Option<u16>) {
        self.inner.set_oob_vlan(tci)
    }
    fn try_clone(&self) -> Option<Flaky> {
        if self.fails() {
            return None;
        }
        Some(Flaky {
            inner: self.inner.try_clone()?,
            faults: self.faults.clone(),
        })
    }
}

// ---- Frames ----

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

fn ones_sum(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Past in-band tags: (type, L3 offset).
fn l3_of(f: &[u8]) -> (u16, usize) {
    let mut at = 12;
    loop {
        let ty = u16::from_be_bytes([f[at], f[at + 1]]);
        if ty == 0x8100 || ty == 0x88a8 {
            at += 4;
        } else {
            return (ty, at + 2);
        }
    }
}

/// Recomputes every checksum of a well-formed IP frame (no IPv6 extension
/// headers). A UDP-over-IPv4 checksum of 0 is left 0 when `keep_udp_zero`.
fn fix_checksums(f: &mut [u8], keep_udp_zero: bool) {
    let (ty, l3) = l3_of(f);
    let (proto, l4, len, pseudo) = if ty == 0x0800 {
        f[l3 + 10..l3 + 12].fill(0);
        let c = finish(ones_sum(&f[l3..l3 + 20]));
        f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        let len = usize::from(u16::from_be_bytes([f[l3 + 2], f[l3 + 3]])) - 20;
        let proto = f[l3 + 9];
        (
            proto,
            l3 + 20,
            len,
            ones_sum(&f[l3 + 12..l3 + 20]) + u32::from(proto) + len as u32,
        )
    } else {
        let len = usize::from(u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]));
        let proto = f[l3 + 6];
        (
            proto,
            l3 + 40,
            len,
            ones_sum(&f[l3 + 8..l3 + 40]) + u32::from(proto) + len as u32,
        )
    };
    let at = match proto {
        TCP => 16,
        UDP => 6,
        ICMPV6 if ty == 0x86dd => 2,
        SCTP => {
            f[l4 + 8..l4 + 12].fill(0);
            let c = crc32c(&f[l4..l4 + len]);
            f[l4 + 8..l4 + 12].copy_from_slice(&c.to_le_bytes());
            return;
        }
        _ => return,
    };
    if proto == UDP && keep_udp_zero && f[l4 + 6..l4 + 8] == [0, 0] {
        return;
    }
    f[l4 + at..l4 + at + 2].fill(0);
    let mut c = finish(ones_sum(&f[l4..l4 + len]) + pseudo);
    if proto == UDP && c == 0 {
        c = 0xffff;
    }
    f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
}

/// A well-formed frame, its fields drawn at random.
#[derive(Clone, Debug)]
struct Spec {
    tags: Vec<(u16, u16)>,
    oob: Option<u16>,
    v6: bool,
    proto: u8,
    addrs: [u8; 32],
    tos: u8,
    ttl: u8,
    label: u32,
    ports: [u8; 4],
    payload: Vec<u8>,
    udp_no_checksum: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        vec(
            (prop_oneof![Just(0x8100u16), Just(0x88a8)], 0u16..0x1000),
            0..3,
        ),
        proptest::option::of(0u16..0x1000),
        any::<bool>(),
        prop_oneof![Just(TCP), Just(UDP), Just(ICMPV6), Just(SCTP), Just(1u8)],
        any::<[u8; 32]>(),
        (any::<u8>(), any::<u8>(), 0u32..0x10_0000),
        any::<[u8; 4]>(),
        vec(any::<u8>(), 0..40),
        any::<bool>(),
    )
        .prop_map(
            |(tags, oob, v6, proto, addrs, (tos, ttl, label), ports, payload, udp0)| Spec {
                // An out-of-band tag comes with at most one in-band tag, so
                // that L3 stays where the key's extraction finds it.
                tags: if oob.is_some() {
                    tags.into_iter().take(1).collect()
                } else {
                    tags
                },
                oob,
                v6,
                proto,
                addrs,
                tos,
                ttl,
                label,
                ports,
                payload,
                udp_no_checksum: udp0,
            },
        )
}

fn build(s: &Spec) -> Vec<u8> {
    let mut f = vec![0x00, 0x15, 0x5d, 0, 0, 2, 0x00, 0x15, 0x5d, 0, 0, 1];
    for &(tpid, tci) in &s.tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    let mut l4 = s.ports.to_vec();
    match s.proto {
        TCP => l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]),
        UDP => l4.extend_from_slice(&[0, 0, 0, 0]),
        SCTP => l4.extend_from_slice(&[0; 8]),
        _ => l4.extend_from_slice(&[0; 4]),
    }
    l4.extend_from_slice(&s.payload);
    if s.proto == UDP {
        let len = (l4.len() as u16).to_be_bytes();
        l4[4..6].copy_from_slice(&len);
    }
    if s.v6 {
        f.extend_from_slice(&0x86ddu16.to_be_bytes());
        let word = 6 << 28 | u32::from(s.tos) << 20 | s.label;
        f.extend_from_slice(&word.to_be_bytes());
        f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        f.extend_from_slice(&[s.proto, s.ttl]);
    } else {
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        f.extend_from_slice(&[0x45, s.tos]);
        f.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, s.ttl, s.proto, 0, 0]);
    }
    f.extend_from_slice(if s.v6 { &s.addrs[..] } else { &s.addrs[..8] });
    f.extend_from_slice(&l4);
    fix_checksums(&mut f, false);
    if s.proto == UDP && s.udp_no_checksum && !s.v6 {
        let (_, l3) = l3_of(&f);
        f[l3 + 26..l3 + 28].fill(0);
    }
    f
}

/// The key extraction would give for a `Spec` frame (the fields sets use).
fn key_of(s: &Spec) -> FlowKey {
    let mut k = FlowKey {
        eth_type: if s.v6 { 0x86dd } else { 0x0800 },
        ip_proto: s.proto,
        ip_tos: s.tos,
        ip_ttl: s.ttl,
        tp_src: u16::from_be_bytes([s.ports[0], s.ports[1]]),
        tp_dst: u16::from_be_bytes([s.ports[2], s.ports[3]]),
        ..FlowKey::default()
    };
    if s.v6 {
        k.ipv6_src = s.addrs[..16].try_into().unwrap();
        k.ipv6_dst = s.addrs[16..].try_into().unwrap();
        k.ipv6_label = s.label;
    } else {
        k.ipv4_src = u32::from_be_bytes(s.addrs[..4].try_into().unwrap());
        k.ipv4_dst = u32::from_be_bytes(s.addrs[4..8].try_into().unwrap());
    }
    k
}

// ---- Action lists ----

fn set_field() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just((k::ETHERNET, 12usize)),
        Just((k::IPV4, 12)),
        Just((k::IPV6, 40)),
        Just((k::TCP, 4)),
        Just((k::UDP, 4)),
        Just((k::SCTP, 4)),
        Just((k::ICMP, 2)),
        Just((k::ICMPV6, 2)),
        Just((k::PRIORITY, 4)),
        Just((k::SKB_MARK, 4)),
        (0u16..32, 0usize..20),
    ];
    (field, any::<bool>(), vec(any::<u8>(), 80)).prop_map(|((ty, n), masked, bytes)| {
        if masked {
            nest(a::SET_MASKED, &[attr(ty, &bytes[..2 * n])])
        } else {
            nest(a::SET, &[attr(ty, &bytes[..n])])
        }
    })
}

fn leaf_action() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (0u32..6).prop_map(|p| u32_attr(a::OUTPUT, p)),
        1 => (0u32..120).prop_map(|m| u32_attr(a::TRUNC, m)),
        2 => (prop_oneof![Just(0x8100u16), Just(0x88a8), any::<u16>()], any::<u16>())
            .prop_map(|(tpid, tci)| attr(a::PUSH_VLAN, &[tpid.to_be_bytes(), tci.to_be_bytes()].concat())),
        2 => Just(attr(a::POP_VLAN, &[])),
        4 => set_field(),
        1 => (0u32..3, any::<u32>())
            .prop_map(|(alg, basis)| attr(a::HASH, &[alg.to_ne_bytes(), basis.to_ne_bytes()].concat())),
        1 => any::<u32>().prop_map(|id| u32_attr(a::RECIRC, id)),
        1 => Just(u32_attr(a::DROP, 0)),
        1 => (any::<u32>(), vec(any::<u8>(), 0..6), any::<bool>()).prop_map(|(pid, data, acts)| {
            let mut v = vec![u32_attr(a::USERSPACE_PID, pid), attr(a::USERSPACE_USERDATA, &data)];
            if acts {
                v.push(attr(a::USERSPACE_ACTIONS, &[]));
            }
            nest(a::USERSPACE, &v)
        }),
        1 => (0u16..40, vec(any::<u8>(), 0..12)).prop_map(|(ty, p)| attr(ty, &p)),
        3 => push_pop(),
    ]
}

/// Meters and the actions that push and pop MPLS labels, Ethernet and NSH
/// headers (and set their fields), with payloads valid or not.
fn push_pop() -> impl Strategy<Value = Vec<u8>> {
    let ethertype = prop_oneof![
        Just(0x8847u16),
        Just(0x8848),
        Just(0x6558),
        Just(0x0800),
        any::<u16>()
    ];
    prop_oneof![
        (
            any::<[u8; 4]>(),
            ethertype.clone(),
            any::<u16>(),
            prop_oneof![Just(a::PUSH_MPLS), Just(a::ADD_MPLS)]
        )
            .prop_map(|(lse, ty, flags, act)| attr(
                act,
                &[&lse[..], &ty.to_be_bytes(), &flags.to_ne_bytes()].concat()
            )),
        ethertype.prop_map(|ty| attr(a::POP_MPLS, &ty.to_be_bytes())),
        any::<[u8; 12]>().prop_map(|addrs| attr(a::PUSH_ETH, &addrs)),
        Just(attr(a::POP_ETH, &[])),
        Just(attr(a::POP_NSH, &[])),
        (
            any::<[u8; 8]>(),
            prop_oneof![Just(16usize), 0usize..260],
            any::<u8>(),
            1u16..4
        )
            .prop_map(|(base, n, fill, md)| {
                let nsh = [attr(1, &base), attr(md, &vec![fill; n])].concat();
                nest(a::PUSH_NSH, &[attr(28, &nsh)])
            }),
        (
            any::<[u8; 32]>(),
            any::<bool>(),
            prop_oneof![Just(1u16), Just(2)]
        )
            .prop_map(|(b, masked, ty)| {
                let n = if ty == 1 { 8 } else { 16 } * if masked { 2 } else { 1 };
                let act = if masked { a::SET_MASKED } else { a::SET };
                nest(act, &[nest(28, &[attr(ty, &b[..n])])])
            }),
        (any::<[u8; 24]>(), 0usize..25, any::<bool>()).prop_map(|(b, n, masked)| {
            nest(
                if masked { a::SET_MASKED } else { a::SET },
                &[attr(21, &b[..n])],
            )
        }),
        any::<u32>().prop_map(|id| u32_attr(a::METER, id)),
    ]
}

fn action() -> impl Strategy<Value = Vec<u8>> {
    leaf_action().prop_recursive(5, 96, 5, |inner| {
        let list = vec(inner, 0..5);
        prop_oneof![
            list.clone().prop_map(|l| nest(a::CLONE, &l)),
            (
                prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
                list.clone()
            )
                .prop_map(|(p, l)| {
                    nest(
                        a::SAMPLE,
                        &[
                            u32_attr(a::SAMPLE_PROBABILITY, p),
                            nest(a::SAMPLE_ACTIONS, &l),
                        ],
                    )
                }),
            (0u16..150, list.clone(), list.clone()).prop_map(|(len, g, le)| {
                nest(
                    a::CHECK_PKT_LEN,
                    &[
                        attr(a::CHECK_PKT_LEN_PKT_LEN, &len.to_ne_bytes()),
                        nest(a::CHECK_PKT_LEN_IF_GREATER, &g),
                        nest(a::CHECK_PKT_LEN_IF_LESS_EQUAL, &le),
                    ],
                )
            }),
            list.prop_map(|l| nest(a::DEC_TTL, &[nest(a::DEC_TTL_ACTION, &l)])),
        ]
    })
}

/// Well-formed lists, the same with bytes overwritten, or noise.
fn action_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(action(), 0..8).prop_map(|v| v.concat()),
        2 => (vec(action(), 1..8), vec((any::<usize>(), any::<u8>()), 1..4)).prop_map(|(v, edits)| {
            let mut b = v.concat();
            for (at, byte) in edits {
                let n = b.len();
                b[at % n] = byte;
            }
            b
        }),
        1 => vec(any::<u8>(), 0..200),
    ]
}

fn frame_bytes() -> impl Strategy<Value = (Vec<u8>, Option<u16>)> {
    prop_oneof![
        3 => (spec(), any::<usize>()).prop_map(|(s, cut)| {
            let f = build(&s);
            // Often whole, sometimes cut anywhere.
            let n = if cut % 3 == 0 { cut % (f.len() + 1) } else { f.len() };
            (f[..n].to_vec(), s.oob)
        }),
        1 => (vec(any::<u8>(), 0..120), proptest::option::of(any::<u16>())),
    ]
}

/// A tree of clones and outputs up to `depth` deep, every clone ending in
/// an output (so none is in the last position): its bytes and the ports it
/// outputs to.
fn clone_tree(depth: u32) -> BoxedStrategy<(Vec<u8>, Vec<u32>)> {
    let leaf = (0u32..1000).prop_map(|p| (u32_attr(a::OUTPUT, p), vec![p]));
    if depth == 0 {
        return leaf.boxed();
    }
    let node = (vec(clone_tree(depth - 1), 1..4), 1000u32..2000).prop_map(|(items, p)| {
        let (mut bytes, ports): (Vec<Vec<u8>>, Vec<Vec<u32>>) = items.into_iter().unzip();
        bytes.push(u32_attr(a::OUTPUT, p));
        let mut ports = ports.concat();
        ports.push(p);
        (nest(a::CLONE, &bytes), ports)
    });
    prop_oneof![1 => leaf, 3 => node].boxed()
}

/// Attribute headers in a stream, nested ones included: no list can make
/// more requests of the environment than it has actions.
fn count_attrs(b: &[u8], depth: usize) -> usize {
    let mut n = 0;
    let mut rest = b;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        if len < 4 || len > rest.len() {
            break;
        }
        n += 1;
        if depth < 16 {
            n += count_attrs(&rest[4..len], depth + 1);
        }
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_lists_never_panic_and_do_bounded_work(
        (frame, oob) in frame_bytes(),
        actions in action_bytes(),
        faults in prop_oneof![Just(0u64), (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(a, b, c)| a & b & c)],
        seed in any::<u32>(),
    ) {
        let mut ctx = ExecContext::try_new().unwrap();
        let mut env = Recorder { random: seed, ..Recorder::default() };
        let mut pkt = Flaky {
            inner: OwnedPacket::from_frame(&frame).unwrap(),
            faults: Rc::new(Cell::new(faults)),
        };
        pkt.set_oob_vlan(oob);
        let mut key = FlowKey::default();
        let out: Outcome = execute(&mut ctx, &mut env, pkt, &mut key, &actions);
        let bound = count_attrs(&actions, 0);
        prop_assert!(env.events() <= bound, "{} requests from {} actions", env.events(), bound);
        prop_assert!(out.dropped() as usize <= bound + 1);
        // Every frame sent keeps at least the Ethernet header it had.
        for (_, f) in &env.outputs {
            prop_assert!(f.len() >= frame.len().min(14));
        }
    }

    #[test]
    fn nesting_limits_only_reorder_unless_they_overflow(
        items in vec(clone_tree(6), 1..4),
    ) {
        let (bytes, ports): (Vec<Vec<u8>>, Vec<Vec<u32>>) = items.into_iter().unzip();
        let actions = [bytes.concat(), u32_attr(a::OUTPUT, 9999)].concat();
        let mut want = ports.concat();
        want.push(9999);
        let mut ctx = ExecContext::try_new().unwrap();
        let mut env = Recorder::default();
        let frame = build(&Spec {
            tags: vec![], oob: None, v6: false, proto: UDP, addrs: [1; 32], tos: 0, ttl: 9,
            label: 0, ports: [0, 1, 0, 2], payload: vec![], udp_no_checksum: false,
        });
        let mut key = FlowKey::default();
        let pkt = OwnedPacket::from_frame(&frame).unwrap();
        let out = execute(&mut ctx, &mut env, pkt, &mut key, &actions);
        prop_assert_eq!(out.dropped(), out.overflow);
        let mut got: Vec<u32> = env.outputs.iter().map(|(p, _)| *p).collect();
        prop_assert!(got.iter().all(|p| want.contains(p)));
        if out.overflow == 0 {
            got.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(got, want);
        } else {
            prop_assert!(got.len() < want.len());
        }
    }

    #[test]
    fn common_lists_copy_only_for_extra_outputs(
        s in spec(),
        actions in vec(prop_oneof![
            3 => (0u32..4).prop_map(|p| u32_attr(a::OUTPUT, p)),
            1 => (prop_oneof![Just(0x8100u16), Just(0x88a8)], any::<u16>())
                .prop_map(|(tpid, tci)| attr(a::PUSH_VLAN, &[tpid.to_be_bytes(), (tci | 0x1000).to_be_bytes()].concat())),
            1 => Just(attr(a::POP_VLAN, &[])),
            2 => set_field(),
            1 => (0u32..200).prop_map(|m| u32_attr(a::TRUNC, m)),
        ], 0..8),
    ) {
        let f = build(&s);
        let actions = [actions.concat(), u32_attr(a::OUTPUT, 9)].concat();
        let mut ctx = ExecContext::try_new().unwrap();
        let mut env = Sink::default();
        let copies = Rc::new(Cell::new(0));
        let mut pkt = Counted { inner: OwnedPacket::from_frame(&f).unwrap(), copies: copies.clone() };
        pkt.set_oob_vlan(s.oob);
        let mut key = key_of(&s);
        let out = execute(&mut ctx, &mut env, pkt, &mut key, &actions);
        let made = copies.get();
        prop_assert!(made <= env.outputs);
        if out.dropped() == 0 {
            // One copy per output but the last, which takes the packet.
            prop_assert_eq!(made, env.outputs - 1);
        }
    }

    #[test]
    fn set_masked_changes_only_masked_bits_and_keeps_checksums(
        s in spec(),
        value in any::<[u8; 40]>(),
        mask in any::<[u8; 40]>(),
        which in 0..3u8,
    ) {
        let f = build(&s);
        let (_, l3) = l3_of(&f);
        let l4 = l3 + if s.v6 { 40 } else { 20 };
        let transport = matches!(s.proto, TCP | UDP);
        let (ty, n, field_at): (u16, usize, Vec<(usize, usize)>) = match (which, s.v6) {
            // (frame offset, offset in the key attribute) of each byte set.
            (0, false) => (k::IPV4, 12, (0..8).map(|i| (l3 + 12 + i, i)).chain([(l3 + 1, 9), (l3 + 8, 10)]).collect()),
            (0, true) => (k::IPV6, 40, (0..32).map(|i| (l3 + 8 + i, i)).chain([(l3 + 7, 38)]).collect()),
            _ if transport => (if s.proto == TCP { k::TCP } else { k::UDP }, 4, (0..4).map(|i| (l4 + i, i)).collect()),
            _ => (k::ETHERNET, 12, (0..6).map(|i| (6 + i, i)).chain((0..6).map(|i| (i, 6 + i))).collect()),
        };
        let acts = [
            nest(a::SET_MASKED, &[attr(ty, &[&value[..n], &mask[..n]].concat())]),
            u32_attr(a::OUTPUT, 1),
        ]
        .concat();
        let mut ctx = ExecContext::try_new().unwrap();
        let mut env = Recorder::default();
        let mut pkt = OwnedPacket::from_frame(&f).unwrap();
        pkt.set_oob_vlan(s.oob);
        let mut key = key_of(&s);
        let out = execute(&mut ctx, &mut env, pkt, &mut key, &acts);
        prop_assert_eq!(out, Outcome::default());
        prop_assert_eq!(env.outputs.len(), 1);
        let got = &env.outputs[0].1;

        // What it must be: the masked bits taken from the value, the
        // checksums recomputed from scratch, nothing else changed.
        let mut want = f.clone();
        for &(at, i) in &field_at {
            want[at] = (f[at] & !mask[i]) | (value[i] & mask[i]);
        }
        if which == 0 && s.v6 {
            // Traffic class and the 20-bit flow label share the first word.
            let word = u32::from_be_bytes(f[l3..l3 + 4].try_into().unwrap());
            let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
            let tc_mask = u32::from(mask[37]) << 20;
            let label_mask = be(&mask[32..36]) & 0xf_ffff;
            let m = tc_mask | label_mask;
            let v = (u32::from(value[37]) << 20) | (be(&value[32..36]) & 0xf_ffff);
            want[l3..l3 + 4].copy_from_slice(&((word & !m) | (v & m)).to_be_bytes());
        }
        fix_checksums(&mut want, true);
        prop_assert_eq!(got, &want);

        // The key follows the frame.
        let after = |at: usize, len: usize| got[at..at + len].to_vec();
        match (which, s.v6) {
            (0, false) => {
                prop_assert_eq!(key.ipv4_src.to_be_bytes().to_vec(), after(l3 + 12, 4));
                prop_assert_eq!(key.ipv4_dst.to_be_bytes().to_vec(), after(l3 + 16, 4));
                prop_assert_eq!((key.ip_tos, key.ip_ttl), (got[l3 + 1], got[l3 + 8]));
            }
            (0, true) => {
                prop_assert_eq!(key.ipv6_src.to_vec(), after(l3 + 8, 16));
                prop_assert_eq!(key.ipv6_dst.to_vec(), after(l3 + 24, 16));
                prop_assert_eq!(key.ip_ttl, got[l3 + 7]);
            }
            _ if transport => {
                prop_assert_eq!(key.tp_src.to_be_bytes().to_vec(), after(l4, 2));
                prop_assert_eq!(key.tp_dst.to_be_bytes().to_vec(), after(l4 + 2, 2));
            }
            _ => {
                prop_assert_eq!(key.eth_dst.to_vec(), after(0, 6));
                prop_assert_eq!(key.eth_src.to_vec(), after(6, 6));
            }
        }
    }

    #[test]
    fn set_is_set_masked_with_a_full_mask(
        s in spec(),
        value in any::<[u8; 40]>(),
        ty in prop_oneof![Just((k::IPV4, 12usize)), Just((k::IPV6, 40)), Just((k::TCP, 4)), Just((k::UDP, 4)), Just((k::SCTP, 4)), Just((k::ICMPV6, 2))],
    ) {
        let (ty, n) = ty;
        let f = build(&s);
        let go = |acts: Vec<u8>| {
            let mut ctx = ExecContext::try_new().unwrap();
            let mut env = Recorder::default();
            let mut pkt = OwnedPacket::from_frame(&f).unwrap();
            pkt.set_oob_vlan(s.oob);
            let mut key = key_of(&s);
            let out = execute(&mut ctx, &mut env, pkt, &mut key, &[acts, u32_attr(a::OUTPUT, 1)].concat());
            (out, env.outputs, key)
        };
        let plain = go(nest(a::SET, &[attr(ty, &value[..n])]));
        let masked = go(nest(a::SET_MASKED, &[attr(ty, &[&value[..n], &[0xff; 40][..n]].concat())]));
        prop_assert_eq!(&plain.0, &masked.0);
        prop_assert_eq!(&plain.1, &masked.1);
        prop_assert_eq!(plain.2, masked.2);
        // And it leaves right checksums whenever it applied.
        if plain.0 == Outcome::default() {
            let got = &plain.1[0].1;
            let mut want = got.clone();
            fix_checksums(&mut want, true);
            prop_assert_eq!(got, &want);
        }
    }
}
