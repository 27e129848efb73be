//! Property tests for `flow::extract`.
//!
//! Frames are generated from a description (`Spec`); `model` builds the bytes
//! and, for any prefix length, the key Linux's `key_extract()` gives for that
//! prefix, stated header by header: a header's fields are in the key only if
//! the prefix holds all of it, and what happens when it does not is Linux's
//! rule for that header.

use ovsext::flow::FlowKey;
use ovsext::flow::extract::{BadFrame, Layout, Network, Transport, extract};
use ovsext::flow::key::{TunnelKey, VLAN_TAG_PRESENT};
use proptest::prelude::*;

const FRAG_NONE: u8 = 0;
const FRAG_FIRST: u8 = 1;
const FRAG_LATER: u8 = 2;

#[derive(Clone, Debug)]
struct Spec {
    dst: [u8; 6],
    src: [u8; 6],
    oob: Option<u16>,
    /// In-band tags (TPID, TCI), outermost first.
    tags: Vec<(u16, u16)>,
    snap: bool,
    l3: L3,
    trailer: Vec<u8>,
}

#[derive(Clone, Debug)]
enum L3 {
    Ipv4 {
        src: u32,
        dst: u32,
        tos: u8,
        ttl: u8,
        opt_words: u8,
        frag: Frag,
        l4: L4,
    },
    Ipv6 {
        src: [u8; 16],
        dst: [u8; 16],
        tc: u8,
        label: u32,
        hop: u8,
        exts: Vec<Ext>,
        l4: L4,
    },
    Arp {
        rarp: bool,
        op: u16,
        sha: [u8; 6],
        spa: u32,
        tha: [u8; 6],
        tpa: u32,
    },
    /// Label stack entries without the bottom-of-stack bit (the model sets it on the last).
    Mpls { multicast: bool, lses: Vec<u32> },
}

#[derive(Clone, Copy, Debug)]
enum Frag {
    None,
    First,
    /// A non-zero offset, and whether more fragments follow.
    Later(u16, bool),
}

#[derive(Clone, Copy, Debug)]
enum Ext {
    Hop(u8),
    Dest(u8),
    Routing(u8),
    Ah(u8),
    Fragment { offset: u16, more: bool },
}

#[derive(Clone, Debug)]
enum L4 {
    Tcp {
        src: u16,
        dst: u16,
        flags: u16,
        opt_words: u8,
    },
    Udp {
        src: u16,
        dst: u16,
    },
    Sctp {
        src: u16,
        dst: u16,
    },
    Icmp {
        ty: u8,
        code: u8,
    },
    Icmpv6 {
        ty: u8,
        code: u8,
    },
    Nd {
        advert: bool,
        target: [u8; 16],
        sll: Option<[u8; 6]>,
        tll: Option<[u8; 6]>,
        tll_first: bool,
    },
    /// A protocol without ports, with some payload.
    Other {
        proto: u8,
        len: u8,
    },
}

impl L4 {
    fn proto(&self) -> u8 {
        match self {
            L4::Tcp { .. } => 6,
            L4::Udp { .. } => 17,
            L4::Sctp { .. } => 132,
            L4::Icmp { .. } => 1,
            L4::Icmpv6 { .. } | L4::Nd { .. } => 58,
            L4::Other { proto, .. } => *proto,
        }
    }
}

impl Ext {
    fn kind(&self) -> u8 {
        match self {
            Ext::Hop(_) => 0,
            Ext::Routing(_) => 43,
            Ext::Fragment { .. } => 44,
            Ext::Ah(_) => 51,
            Ext::Dest(_) => 60,
        }
    }
}

/// What extracting a prefix of a frame should give.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    key: FlowKey,
    layout: Layout,
}

/// The frame `spec` describes, and the expected result for its first `n` bytes.
fn model(spec: &Spec, meta: &FlowKey, n: usize) -> (Vec<u8>, Result<Expected, BadFrame>) {
    let mut b = Vec::new();
    let mut k = *meta;
    let mut lay = Layout::default();
    b.extend_from_slice(&spec.dst);
    b.extend_from_slice(&spec.src);
    let runt = n < 14;
    // `live` stays true while the prefix still holds what Linux reads next.
    let mut live = !runt;
    if live {
        k.eth_dst = spec.dst;
        k.eth_src = spec.src;
    }

    let mut outer = false;
    if let Some(tci) = spec.oob {
        k.vlan_tci = tci | VLAN_TAG_PRESENT;
        k.vlan_tpid = 0x8100;
        outer = true;
    }
    for &(tpid, tci) in &spec.tags {
        let at = b.len();
        b.extend_from_slice(&tpid.to_be_bytes());
        b.extend_from_slice(&tci.to_be_bytes());
        if !live {
            continue;
        }
        // A tag needs the type field after it; otherwise its TPID is the ethertype.
        if n < at + 6 {
            k.eth_type = tpid;
            lay.l3 = at + 2;
            live = false;
            continue;
        }
        if outer {
            k.cvlan_tci = tci | VLAN_TAG_PRESENT;
            k.cvlan_tpid = tpid;
        } else {
            k.vlan_tci = tci | VLAN_TAG_PRESENT;
            k.vlan_tpid = tpid;
            outer = true;
        }
        lay.vlan_tags += 1;
    }

    let ethertype: u16 = match &spec.l3 {
        L3::Ipv4 { .. } => 0x0800,
        L3::Ipv6 { .. } => 0x86dd,
        L3::Arp { rarp: false, .. } => 0x0806,
        L3::Arp { rarp: true, .. } => 0x8035,
        L3::Mpls {
            multicast: false, ..
        } => 0x8847,
        L3::Mpls {
            multicast: true, ..
        } => 0x8848,
    };
    let length_at = b.len();
    if spec.snap {
        b.extend_from_slice(&[0, 0, 0xaa, 0xaa, 0x03, 0, 0, 0]);
        b.extend_from_slice(&ethertype.to_be_bytes());
        if live {
            if n < length_at + 10 {
                k.eth_type = 0x0004;
                lay.l3 = length_at + 2;
                live = false;
            } else {
                k.eth_type = ethertype;
            }
        }
    } else {
        b.extend_from_slice(&ethertype.to_be_bytes());
        if live {
            k.eth_type = ethertype;
        }
    }
    let l3 = b.len();
    if live {
        lay.l3 = l3;
    }

    match &spec.l3 {
        L3::Ipv4 {
            src,
            dst,
            tos,
            ttl,
            opt_words,
            frag,
            l4,
        } => {
            let ihl = 5 + usize::from(*opt_words);
            let frag_field: u16 = match frag {
                Frag::None => 0x4000,
                Frag::First => 0x2000,
                Frag::Later(off, more) => off | if *more { 0x2000 } else { 0 },
            };
            b.extend_from_slice(&[0x40 | ihl as u8, *tos, 0, 0, 0x12, 0x34]);
            b.extend_from_slice(&frag_field.to_be_bytes());
            b.extend_from_slice(&[*ttl, l4.proto(), 0, 0]);
            b.extend_from_slice(&src.to_be_bytes());
            b.extend_from_slice(&dst.to_be_bytes());
            b.resize(l3 + ihl * 4, 1);
            live &= n >= l3 + ihl * 4;
            if live {
                k.ipv4_src = *src;
                k.ipv4_dst = *dst;
                k.ip_tos = *tos;
                k.ip_ttl = *ttl;
                k.ip_proto = l4.proto();
                k.ip_frag = match frag {
                    Frag::None => FRAG_NONE,
                    Frag::First => FRAG_FIRST,
                    Frag::Later(..) => FRAG_LATER,
                };
                lay.network = Some(Network::Ipv4);
                lay.l4 = l3 + ihl * 4;
            }
            live &= !matches!(frag, Frag::Later(..));
            model_l4(l4, false, &mut b, n, live, &mut k, &mut lay);
        }
        L3::Ipv6 {
            src,
            dst,
            tc,
            label,
            hop,
            exts,
            l4,
        } => {
            let first = 6 << 28 | u32::from(*tc) << 20 | label;
            let next = exts.first().map_or(l4.proto(), Ext::kind);
            b.extend_from_slice(&first.to_be_bytes());
            b.extend_from_slice(&[0, 0, next, *hop]);
            b.extend_from_slice(src);
            b.extend_from_slice(dst);
            live &= n >= l3 + 40;
            if live {
                k.ipv6_src = *src;
                k.ipv6_dst = *dst;
                k.ip_tos = *tc;
                k.ip_ttl = *hop;
                k.ipv6_label = *label;
                k.ip_proto = 59;
                lay.network = Some(Network::Ipv6);
            }
            let mut fragment = false;
            let mut later = false;
            for (i, ext) in exts.iter().enumerate() {
                let at = b.len();
                let next = exts.get(i + 1).map_or(l4.proto(), Ext::kind);
                let next_is_ext = i + 1 < exts.len();
                let (len_field, total) = match *ext {
                    Ext::Hop(l) | Ext::Dest(l) | Ext::Routing(l) => (l, (usize::from(l) + 1) * 8),
                    Ext::Ah(l) => (l, (usize::from(l) + 2) * 4),
                    Ext::Fragment { .. } => (0, 8),
                };
                b.extend_from_slice(&[next, len_field]);
                if let Ext::Fragment { offset, more } = *ext {
                    b.extend_from_slice(&(offset << 3 | u16::from(more)).to_be_bytes());
                }
                b.resize(at + total, 0x5a);
                if !live {
                    continue;
                }
                // Two bytes reach the header; routing and fragment headers need four.
                if n < at + 2 {
                    live = false;
                    continue;
                }
                if let Ext::Fragment { offset, .. } = *ext {
                    fragment = true;
                    if n < at + 4 {
                        live = false;
                    } else if offset != 0 {
                        later = !next_is_ext;
                        live = false;
                    }
                } else if matches!(ext, Ext::Routing(_)) && n < at + 4 {
                    live = false;
                }
            }
            let walked = live;
            if lay.network.is_some() {
                k.ip_frag = if later {
                    FRAG_LATER
                } else if fragment {
                    FRAG_FIRST
                } else {
                    FRAG_NONE
                };
                if later {
                    k.ip_proto = 44;
                } else if walked {
                    k.ip_proto = l4.proto();
                    lay.l4 = b.len();
                }
            }
            model_l4(l4, true, &mut b, n, walked, &mut k, &mut lay);
        }
        L3::Arp {
            rarp: _,
            op,
            sha,
            spa,
            tha,
            tpa,
        } => {
            b.extend_from_slice(&[0, 1, 0x08, 0, 6, 4]);
            b.extend_from_slice(&op.to_be_bytes());
            b.extend_from_slice(sha);
            b.extend_from_slice(&spa.to_be_bytes());
            b.extend_from_slice(tha);
            b.extend_from_slice(&tpa.to_be_bytes());
            if live && n >= l3 + 28 {
                k.ip_proto = if *op <= 0xff { *op as u8 } else { 0 };
                k.ipv4_src = *spa;
                k.ipv4_dst = *tpa;
                k.arp_sha = *sha;
                k.arp_tha = *tha;
                lay.network = Some(Network::Arp);
            }
        }
        L3::Mpls { lses, .. } => {
            let mut all = true;
            for (i, lse) in lses.iter().enumerate() {
                let lse = if i + 1 == lses.len() {
                    lse | 0x100
                } else {
                    lse & !0x100
                };
                b.extend_from_slice(&lse.to_be_bytes());
                if live && n >= b.len() {
                    if let Some(slot) = k.mpls_lse.get_mut(i) {
                        *slot = lse;
                    }
                    lay.mpls_end = b.len();
                    lay.network = Some(Network::Mpls);
                } else {
                    all = false;
                }
            }
            if live && all {
                lay.mpls_labels = lses.len().min(3) as u8;
                k.mpls_labels = (1 << lay.mpls_labels) - 1;
            }
        }
    }

    b.extend_from_slice(&spec.trailer);
    if spec.snap {
        let len = (b.len() - length_at - 2).min(0x5ff) as u16;
        b.splice(length_at..length_at + 2, len.to_be_bytes());
    }
    if lay.mpls_end == 0 {
        lay.mpls_end = lay.l3;
    }
    if lay.l4 == 0 {
        lay.l4 = lay.l3;
    }
    let expected = if runt {
        Err(BadFrame::Runt)
    } else {
        Ok(Expected {
            key: k,
            layout: lay,
        })
    };
    (b, expected)
}

/// Appends the L4 header; its fields count if `live` and the prefix holds it all.
fn model_l4(
    l4: &L4,
    v6: bool,
    b: &mut Vec<u8>,
    n: usize,
    live: bool,
    k: &mut FlowKey,
    lay: &mut Layout,
) {
    let at = b.len();
    let complete = |len: usize| live && n >= at + len;
    match *l4 {
        L4::Tcp {
            src,
            dst,
            flags,
            opt_words,
        } => {
            let len = 20 + 4 * usize::from(opt_words);
            let off_flags = (5 + u16::from(opt_words)) << 12 | flags;
            b.extend_from_slice(&src.to_be_bytes());
            b.extend_from_slice(&dst.to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
            b.extend_from_slice(&off_flags.to_be_bytes());
            b.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
            b.resize(at + len, 1);
            if complete(len) {
                (k.tp_src, k.tp_dst, k.tcp_flags) = (src, dst, flags);
                lay.transport = Some(Transport::Tcp);
            }
        }
        L4::Udp { src, dst } | L4::Sctp { src, dst } => {
            let sctp = matches!(l4, L4::Sctp { .. });
            b.extend_from_slice(&src.to_be_bytes());
            b.extend_from_slice(&dst.to_be_bytes());
            b.extend_from_slice(if sctp { &[9; 8] } else { &[0, 8, 0, 0] });
            if complete(b.len() - at) {
                (k.tp_src, k.tp_dst) = (src, dst);
                lay.transport = Some(if sctp {
                    Transport::Sctp
                } else {
                    Transport::Udp
                });
            }
        }
        L4::Icmp { ty, code } | L4::Icmpv6 { ty, code } => {
            b.extend_from_slice(&[ty, code, 0, 0, 1, 2, 3, 4]);
            if complete(8) {
                (k.tp_src, k.tp_dst) = (u16::from(ty), u16::from(code));
                lay.transport = Some(if v6 {
                    Transport::Icmpv6
                } else {
                    Transport::Icmp
                });
            }
        }
        L4::Nd {
            advert,
            target,
            sll,
            tll,
            tll_first,
        } => {
            let ty = if advert { 136 } else { 135 };
            b.extend_from_slice(&[ty, 0, 0, 0, 0, 0, 0, 0]);
            b.extend_from_slice(&target);
            if complete(8) {
                (k.tp_src, k.tp_dst) = (u16::from(ty), 0);
                lay.transport = Some(Transport::Icmpv6);
            }
            if complete(24) {
                k.nd_target = target;
            }
            let mut opts = [(1u8, sll), (2u8, tll)];
            if tll_first {
                opts.reverse();
            }
            for (kind, mac) in opts {
                let Some(mac) = mac else { continue };
                b.extend_from_slice(&[kind, 1]);
                b.extend_from_slice(&mac);
                if complete(b.len() - at) {
                    *(if kind == 1 {
                        &mut k.arp_sha
                    } else {
                        &mut k.arp_tha
                    }) = mac;
                }
            }
        }
        L4::Other { len, .. } => b.resize(at + usize::from(len), 0x77),
    }
}

fn mac() -> impl Strategy<Value = [u8; 6]> {
    any::<[u8; 6]>()
}

fn l4(v6: bool) -> impl Strategy<Value = L4> {
    let icmp = if v6 {
        prop_oneof![
            (any::<u8>(), any::<u8>())
                .prop_filter("not ND", |(t, c)| *c != 0 || (*t != 135 && *t != 136))
                .prop_map(|(ty, code)| L4::Icmpv6 { ty, code }),
            (
                any::<bool>(),
                any::<[u8; 16]>(),
                proptest::option::of(mac()),
                proptest::option::of(mac()),
                any::<bool>()
            )
                .prop_map(|(advert, target, sll, tll, tll_first)| L4::Nd {
                    advert,
                    target,
                    sll,
                    tll,
                    tll_first
                }),
        ]
        .boxed()
    } else {
        (any::<u8>(), any::<u8>())
            .prop_map(|(ty, code)| L4::Icmp { ty, code })
            .boxed()
    };
    prop_oneof![
        (any::<u16>(), any::<u16>(), 0u16..0x1000, 0u8..=10).prop_map(
            |(src, dst, flags, opt_words)| L4::Tcp {
                src,
                dst,
                flags,
                opt_words
            }
        ),
        (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| L4::Udp { src, dst }),
        (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| L4::Sctp { src, dst }),
        icmp,
        (prop::sample::select(vec![47u8, 50, 59, 89, 103]), 0u8..40)
            .prop_map(|(proto, len)| L4::Other { proto, len }),
    ]
}

fn frag() -> impl Strategy<Value = Frag> {
    prop_oneof![
        Just(Frag::None),
        Just(Frag::First),
        (prop_oneof![1u16..16, 1u16..0x2000], any::<bool>()).prop_map(|(o, m)| Frag::Later(o, m)),
    ]
}

fn ext() -> impl Strategy<Value = Ext> {
    prop_oneof![
        (0u8..3).prop_map(Ext::Hop),
        (0u8..3).prop_map(Ext::Dest),
        (0u8..3).prop_map(Ext::Routing),
        (1u8..6).prop_map(Ext::Ah),
        (prop_oneof![Just(0u16), 1u16..0x2000], any::<bool>())
            .prop_map(|(offset, more)| Ext::Fragment { offset, more }),
    ]
}

fn l3() -> impl Strategy<Value = L3> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            0u8..=10,
            frag(),
            l4(false)
        )
            .prop_map(|(src, dst, tos, ttl, opt_words, frag, l4)| L3::Ipv4 {
                src,
                dst,
                tos,
                ttl,
                opt_words,
                frag,
                l4
            }),
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u8>(),
            0u32..0x10_0000,
            any::<u8>(),
            prop::collection::vec(ext(), 0..4),
            l4(true)
        )
            .prop_map(|(src, dst, tc, label, hop, exts, l4)| L3::Ipv6 {
                src,
                dst,
                tc,
                label,
                hop,
                exts,
                l4
            }),
        (
            any::<bool>(),
            any::<u16>(),
            mac(),
            any::<u32>(),
            mac(),
            any::<u32>()
        )
            .prop_map(|(rarp, op, sha, spa, tha, tpa)| L3::Arp {
                rarp,
                op,
                sha,
                spa,
                tha,
                tpa
            }),
        (any::<bool>(), prop::collection::vec(any::<u32>(), 1..6))
            .prop_map(|(multicast, lses)| L3::Mpls { multicast, lses }),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        mac(),
        mac(),
        proptest::option::of(any::<u16>()),
        prop::collection::vec(
            (prop::sample::select(vec![0x8100u16, 0x88a8]), any::<u16>()),
            0..=2,
        ),
        prop::bool::weighted(0.2),
        l3(),
        prop::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(dst, src, oob, mut tags, snap, l3, mut trailer)| {
            if oob.is_some() {
                tags.truncate(1);
            }
            // ND options run to the end of the frame: nothing may follow them.
            if let L3::Ipv6 {
                l4: L4::Nd { .. }, ..
            } = l3
            {
                trailer.clear();
            }
            Spec {
                dst,
                src,
                oob,
                tags,
                snap,
                l3,
                trailer,
            }
        })
}

/// Metadata the extractor must leave alone.
fn metadata() -> impl Strategy<Value = FlowKey> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        any::<u8>(),
        any::<[u8; 16]>(),
    )
        .prop_map(
            |(in_port, recirc_id, dp_hash, tun_id, ct_mark, ct_state, ct_labels)| FlowKey {
                in_port,
                recirc_id,
                dp_hash,
                skb_mark: in_port ^ 1,
                priority: recirc_id ^ 2,
                ct_mark,
                ct_zone: 7,
                ct_state,
                ct_labels,
                tun: TunnelKey {
                    id: tun_id,
                    ipv4_dst: dp_hash | 1,
                    ..TunnelKey::default()
                },
                ..FlowKey::default()
            },
        )
}

fn run(frame: &[u8], oob: Option<u16>, meta: &FlowKey) -> Result<Expected, BadFrame> {
    // Start from a key full of another packet's fields: none may survive.
    let mut key = *meta;
    key.eth_src = [0xee; 6];
    key.ip_proto = 0xee;
    key.tp_src = 0xeeee;
    key.ipv6_dst = [0xee; 16];
    key.arp_tha = [0xee; 6];
    key.mpls_lse = [0xeeee; 3];
    key.mpls_labels = 0xee;
    key.nsh.np = 0xee;
    key.mac_proto = 1;
    let layout = extract(frame, oob, &mut key);
    if layout.is_err() {
        let mut reset = *meta;
        reset.mac_proto = 0;
        assert_eq!(key, reset, "packet fields not reset on error");
    }
    layout.map(|layout| Expected { key, layout })
}

/// Ethertypes the arbitrary-payload test puts in front of random bytes.
const ETHERTYPES: [u16; 12] = [
    0x0800, 0x86dd, 0x0806, 0x8035, 0x8847, 0x8848, 0x894f, 0x8100, 0x88a8, 0x0030, 0x05ff, 0x1234,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), oob in proptest::option::of(any::<u16>())) {
        let mut key = FlowKey::default();
        match extract(&bytes, oob, &mut key) {
            Err(BadFrame::Runt) => prop_assert!(bytes.len() < 14),
            Err(BadFrame::Nsh) => prop_assert!(bytes.len() >= 14),
            Ok(l) => {
                prop_assert!(bytes.len() >= 14);
                prop_assert!(l.l3 <= bytes.len() && l.mpls_end <= bytes.len());
                prop_assert!(l.transport.is_none() || l.l4 < bytes.len());
            }
        }
    }

    #[test]
    fn arbitrary_payloads_never_panic(
        ty in prop::sample::select(ETHERTYPES.to_vec()),
        tag in proptest::option::of(any::<u16>()),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        oob in proptest::option::of(any::<u16>()),
    ) {
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        if let Some(tci) = tag {
            frame.extend_from_slice(&[0x81, 0x00]);
            frame.extend_from_slice(&tci.to_be_bytes());
        }
        frame.extend_from_slice(&ty.to_be_bytes());
        frame.extend_from_slice(&payload);
        let mut key = FlowKey::default();
        if let Ok(l) = extract(&frame, oob, &mut key) {
            prop_assert!(l.l3 <= frame.len() && l.mpls_end <= frame.len());
            prop_assert!(l.transport.is_none() || l.l4 < frame.len());
            prop_assert!(l.vlan_tags >= u8::from(tag.is_some()));
        } else {
            // Only a bad NSH header (possibly behind more tags) is dropped.
            prop_assert_eq!(extract(&frame, oob, &mut key), Err(BadFrame::Nsh));
        }
    }

    #[test]
    fn well_formed_frames_give_their_fields(spec in spec(), meta in metadata()) {
        let (frame, expected) = model(&spec, &meta, usize::MAX);
        prop_assert_eq!(run(&frame, spec.oob, &meta), expected);
    }

    #[test]
    fn every_prefix_follows_linux_truncation_rules(spec in spec(), meta in metadata()) {
        let (frame, _) = model(&spec, &meta, usize::MAX);
        for n in 0..=frame.len() {
            let (_, expected) = model(&spec, &meta, n);
            prop_assert_eq!(run(&frame[..n], spec.oob, &meta), expected, "prefix of {} bytes", n);
        }
    }
}

/// The model itself, checked on one hand-computed frame so that the
/// properties above test the extractor and not a model that agrees with
/// anything.
#[test]
fn model_matches_a_hand_built_frame() {
    let spec = Spec {
        dst: [1; 6],
        src: [2; 6],
        oob: None,
        tags: vec![(0x88a8, 0x0005), (0x8100, 0x2006)],
        snap: false,
        l3: L3::Ipv4 {
            src: 0x0a00_0001,
            dst: 0x0a00_0002,
            tos: 4,
            ttl: 9,
            opt_words: 0,
            frag: Frag::None,
            l4: L4::Udp { src: 53, dst: 99 },
        },
        trailer: vec![],
    };
    let meta = FlowKey {
        in_port: 5,
        ..FlowKey::default()
    };
    let (frame, expected) = model(&spec, &meta, usize::MAX);
    let mut hand = vec![
        1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x88, 0xa8, 0, 5, 0x81, 0, 0x20, 6, 8, 0,
    ];
    hand.extend_from_slice(&[
        0x45, 4, 0, 0, 0x12, 0x34, 0x40, 0, 9, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    hand.extend_from_slice(&[0, 53, 0, 99, 0, 8, 0, 0]);
    assert_eq!(frame, hand);
    let e = expected.unwrap();
    assert_eq!(
        (e.key.vlan_tci, e.key.cvlan_tci, e.key.eth_type),
        (0x1005, 0x3006, 0x0800)
    );
    assert_eq!(
        (e.key.ip_proto, e.key.tp_src, e.key.tp_dst, e.key.in_port),
        (17, 53, 99, 5)
    );
    assert_eq!(
        (e.layout.l3, e.layout.l4, e.layout.transport),
        (22, 42, Some(Transport::Udp))
    );
    // Cut inside the UDP header: ports go, the protocol stays.
    let e = model(&spec, &meta, frame.len() - 1).1.unwrap();
    assert_eq!(
        (e.key.ip_proto, e.key.tp_src, e.layout.transport),
        (17, 0, None)
    );
    // Cut inside the inner tag's type field: the inner TPID is the ethertype.
    let e = model(&spec, &meta, 21).1.unwrap();
    assert_eq!(
        (e.key.vlan_tci, e.key.cvlan_tci, e.key.eth_type, e.layout.l3),
        (0x1005, 0, 0x8100, 18)
    );
    assert_eq!(model(&spec, &meta, 13).1, Err(BadFrame::Runt));
}
