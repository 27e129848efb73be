//! Property tests of the connection tracker: random CT attributes parse or
//! are refused without panicking; random packet sequences (TCP with random
//! flags and numbers, UDP, ICMP queries and errors, IGMP, SCTP, frames cut
//! anywhere) under random CT actions (commit, zones, NAT ranges, marks)
//! never panic, keep the table within its limit with zone counts that add
//! up, never leave an IPv4 header checksum wrong, and leave nothing once
//! everything has expired.

mod common;

use common::{csum, ipv4_packet};
use ovsext::conntrack::action::{CtAction, Family, Nat, NatKind, parse};
use ovsext::conntrack::{Ahead, BATCH, Conntrack, Verdict};
use ovsext::flow::FlowKey;
use ovsext::flow::extract::extract;
use ovsext::packet::{OwnedPacket, Packet};
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Pkt {
    /// Small address and port spaces, so packets meet their connections.
    src: u8,
    dst: u8,
    sport: u8,
    dport: u8,
    proto: u8,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: u8,
    icmp_type: u8,
    /// Wrap the packet as the quoted part of an ICMP error.
    as_error: bool,
    cut: Option<u8>,
}

fn pkt() -> impl Strategy<Value = Pkt> {
    (
        (0u8..3, 0u8..3, 0u8..3, 0u8..3),
        prop::sample::select(vec![6u8, 17, 1, 2, 132, 47]),
        any::<u8>(),
        (0u32..4, 0u32..4),
        0u8..4,
        prop::sample::select(vec![0u8, 8, 3, 11, 13, 14, 99]),
        any::<bool>(),
        prop::option::of(any::<u8>()),
    )
        .prop_map(
            |(
                (src, dst, sport, dport),
                proto,
                flags,
                (seq, ack),
                payload,
                icmp_type,
                as_error,
                cut,
            )| Pkt {
                src,
                dst,
                sport,
                dport,
                proto,
                flags,
                seq: seq * 1000,
                ack: ack * 1000,
                payload,
                icmp_type,
                as_error,
                cut,
            },
        )
}

fn frame(p: &Pkt) -> Vec<u8> {
    let src = [10, 0, 0, p.src];
    let dst = [10, 0, 1, p.dst];
    let sport = 1000 + u16::from(p.sport);
    let dport = 80 + u16::from(p.dport);
    let mut l4 = Vec::new();
    match p.proto {
        6 => {
            l4.extend_from_slice(&sport.to_be_bytes());
            l4.extend_from_slice(&dport.to_be_bytes());
            l4.extend_from_slice(&p.seq.to_be_bytes());
            l4.extend_from_slice(&p.ack.to_be_bytes());
            l4.extend_from_slice(&[0x50, p.flags & 0x3f, 0x10, 0, 0, 0, 0, 0]);
        }
        17 | 132 => {
            l4.extend_from_slice(&sport.to_be_bytes());
            l4.extend_from_slice(&dport.to_be_bytes());
            l4.extend_from_slice(&[0, 8, 0, 0, 0, 0, 0, 0]);
        }
        1 => l4.extend_from_slice(&[p.icmp_type, 0, 0, 0, 0, p.sport, 0, 1]),
        _ => l4.extend_from_slice(&[0x16, 0, 0, 0, 224, 0, 0, 1]),
    }
    l4.extend(std::iter::repeat_n(0x61, usize::from(p.payload) * 7));
    let mut ip = ipv4_packet(src, dst, p.proto, &l4);
    if p.as_error {
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&ip[..ip.len().min(28)]);
        ip = ipv4_packet(dst, src, 1, &icmp);
    }
    let mut f = vec![0, 0x15, 0x5d, 0, 0, 2, 0, 0x15, 0x5d, 0, 0, 1, 8, 0];
    f.extend(ip);
    if let Some(c) = p.cut {
        f.truncate(14 + usize::from(c) % (f.len() - 13));
    }
    f
}

#[derive(Clone, Debug)]
struct Act {
    commit: bool,
    zone: u16,
    nat: u8,
    /// PERSISTENT, PROTO_HASH, PROTO_RANDOM.
    flags: u8,
    /// Which range: two addresses, the same reversed, the whole space.
    range: u8,
    mark: Option<u32>,
}

fn act() -> impl Strategy<Value = Act> {
    (
        any::<bool>(),
        0u16..3,
        0u8..5,
        0u8..8,
        0u8..3,
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(commit, zone, nat, flags, range, mark)| Act {
            commit,
            zone,
            nat,
            flags,
            range,
            mark,
        })
}

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0; 16];
    x[..4].copy_from_slice(&a);
    x
}

fn ct_action(a: &Act) -> CtAction {
    let nat = match a.nat {
        0 => None,
        1 => Some(Nat::default()),
        k if a.commit => Some(Nat {
            kind: Some(if k == 2 { NatKind::Src } else { NatKind::Dst }),
            addrs: Some(match a.range {
                0 => (v4([192, 168, 0, 1]), v4([192, 168, 0, 2])),
                1 => (v4([192, 168, 0, 2]), v4([192, 168, 0, 1])),
                _ => (v4([0; 4]), v4([255; 4])),
            }),
            ports: (k == 4).then_some((2000, 2003)),
            persistent: a.flags & 1 != 0,
            proto_hash: a.flags & 2 != 0,
            proto_random: a.flags & 4 != 0,
        }),
        _ => None,
    };
    CtAction {
        commit: a.commit,
        zone: a.zone,
        mark: a.mark.filter(|_| a.commit).map(|m| (m, 0xffff)),
        nat,
        ..CtAction::default()
    }
}

const LIMIT: u32 = 12;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ct_attributes_never_panic(bytes in vec(any::<u8>(), 0..96), v6 in any::<bool>()) {
        let family = if v6 { Family::V6 } else { Family::V4 };
        let _ = parse(&bytes, family);
    }

    #[test]
    fn packet_sequences_keep_the_table_sound(
        steps in vec((pkt(), act(), 0u64..20_000), 1..60),
    ) {
        let ct = Conntrack::with_limit(7, LIMIT).unwrap();
        ct.zones.set(2, Some(3));
        let mut now = 0u64;
        for (p, a, dt) in &steps {
            now += dt;
            let f = frame(p);
            let mut pkt = OwnedPacket::from_frame(&f).unwrap();
            let mut key = FlowKey { in_port: 1, ..FlowKey::default() };
            if extract(pkt.data(), None, &mut key).is_err() {
                continue;
            }
            let action = ct_action(a);
            let verdict = ct.execute(&mut pkt, &mut key, &action, now, &mut |_| {});
            prop_assert!(ct.table().len() <= LIMIT);
            prop_assert!(ct.zones.count(2) <= 3);
            if verdict == Verdict::Continue {
                prop_assert!(key.ct_state & 0x20 != 0, "tracked");
                let out = pkt.data();
                if out.len() >= 34 && f.len() >= 34 && out[14] == 0x45 && usize::from(u16::from_be_bytes([out[16], out[17]])) + 14 <= out.len() {
                    prop_assert_eq!(csum(&out[14..34]), 0, "IPv4 header checksum");
                }
            }
            let counted: u32 = (0..3).map(|z| ct.zones.count(z)).sum();
            prop_assert_eq!(counted, ct.table().len());
            ct.expire(now, &mut |_| {});
        }
        ct.expire(u64::MAX, &mut |_| {});
        ct.expire(u64::MAX, &mut |_| {});
        prop_assert_eq!(ct.table().len(), 0);
        prop_assert_eq!((0..3).map(|z| ct.zones.count(z)).sum::<u32>(), 0);
    }

    /// Packets read ahead `BATCH` at a time, as the datapath reads a
    /// batch's leading CT action, and then run from what was read, run as
    /// `execute` runs them: the same verdicts, keys, packets, events and
    /// connections.
    #[test]
    fn a_batch_runs_as_its_packets_one_by_one(
        batches in vec((vec((pkt(), any::<bool>()), 1..40), act()), 1..8),
    ) {
        let (one, many) = (Conntrack::with_limit(7, 64).unwrap(), Conntrack::with_limit(7, 64).unwrap());
        one.set_listeners(u32::MAX);
        many.set_listeners(u32::MAX);
        let (mut seen_one, mut seen_many) = (Vec::new(), Vec::new());
        for (n, (pkts, a)) in batches.iter().enumerate() {
            let action = ct_action(a);
            let now = n as u64 * 1000;
            let mut frames = Vec::new();
            let mut keys = Vec::new();
            for (p, tracked) in pkts {
                let pkt = OwnedPacket::from_frame(&frame(p)).unwrap();
                let mut key = FlowKey { in_port: 1, ..FlowKey::default() };
                if extract(pkt.data(), None, &mut key).is_err() {
                    continue;
                }
                // Some already went through a CT action of this zone.
                if *tracked {
                    key.ct_state = 0x22;
                    key.ct_zone = a.zone;
                }
                frames.push(pkt);
                keys.push(key);
            }
            let (mut frames_b, mut keys_b) = (frames.clone(), keys.clone());
            let mut verdicts = vec![Verdict::Continue; frames.len()];
            for ((p, k), v) in frames.iter_mut().zip(&mut keys).zip(&mut verdicts) {
                *v = one.execute(p, k, &action, now, &mut |e| seen_one.push(*e));
            }
            let mut verdicts_b = vec![Verdict::Drop; frames.len()];
            let mut ahead = [Ahead::default(); BATCH];
            let chunks = frames_b.chunks_mut(BATCH).zip(keys_b.chunks_mut(BATCH));
            for ((frames, keys), verdicts) in chunks.zip(verdicts_b.chunks_mut(BATCH)) {
                many.read_ahead(action.zone, frames.iter().zip(keys.iter()).map(Some), &mut ahead);
                let each = frames.iter_mut().zip(keys.iter_mut()).zip(verdicts.iter_mut());
                for (((p, k), v), a) in each.zip(&ahead) {
                    *v = many.execute_read(p, k, &action, now, &mut |e| seen_many.push(*e), Some(a));
                }
            }
            prop_assert_eq!(verdicts, verdicts_b);
            prop_assert_eq!(keys, keys_b);
            for (a, b) in frames.iter().zip(&frames_b) {
                prop_assert_eq!(a.data(), b.data());
            }
            prop_assert_eq!(&seen_one, &seen_many);
        }
        let walk = |ct: &Conntrack| {
            let mut at = 0;
            let mut all = Vec::new();
            while let Some((next, id, c, _)) = ct.table().next(at) {
                all.push((id, c));
                at = next;
            }
            all
        };
        prop_assert_eq!(walk(&one), walk(&many));
    }
}
