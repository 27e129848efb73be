//! The megaflow table against a brute-force reference: a list of flows
//! scanned linearly. Random flow sets (random masks over a few fields,
//! keys from small domains so that flows overlap and collide) go through
//! random insertions, removals, flushes, rebalances and lookups; every
//! answer must agree with the reference.

use ovsext::flow::FlowKey;
use ovsext::flow::table::{FlowId, FlowTable, InsertError, Ufid};
use proptest::prelude::*;
use std::collections::HashSet;

/// A key over the fields the masks use, spread over the key's words (the
/// tunnel id near the start, NSH at the end) so mask ranges vary.
#[derive(Clone, Copy, Debug)]
struct Fields {
    tun_id: u64,
    recirc_id: u32,
    in_port: u32,
    eth_type: u16,
    ipv4_src: u32,
    tp_dst: u16,
    nsh_path: u32,
    /// Never masked: packets differ here from the flows they hit.
    tp_src: u16,
}

impl Fields {
    fn key(self) -> FlowKey {
        let mut k = FlowKey {
            recirc_id: self.recirc_id,
            in_port: self.in_port,
            eth_type: self.eth_type,
            ipv4_src: self.ipv4_src,
            tp_dst: self.tp_dst,
            tp_src: self.tp_src,
            ..Default::default()
        };
        k.tun.id = self.tun_id;
        k.nsh.path_hdr = self.nsh_path;
        k
    }
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        0..2u64,
        (0..2u32, 0..3u32),
        prop::sample::select(vec![0x0800u16, 0x86dd]),
        0..4u32,
        0..4u32,
        0..4u16,
        0..2u32,
        any::<u16>(),
    )
        .prop_map(
            |(tun_id, (recirc_id, in_port), eth_type, net, host, tp_dst, nsh_path, tp_src)| {
                Fields {
                    tun_id,
                    recirc_id,
                    in_port,
                    eth_type,
                    ipv4_src: 0x0a00_0000 | net << 8 | host,
                    tp_dst,
                    nsh_path,
                    tp_src,
                }
            },
        )
}

fn mask() -> impl Strategy<Value = FlowKey> {
    (
        prop::sample::select(vec![0u64, u64::MAX]),
        // Port and recirculation id both exact (as in ovs-vswitchd's
        // megaflows, which lets the mask filter ports), or not.
        prop::sample::select(vec![(0u32, 0u32), (0, u32::MAX), (u32::MAX, u32::MAX)]),
        prop::sample::select(vec![0u16, 0xffff]),
        prop::sample::select(vec![0u32, 0xffff_ff00, 0xffff_ffff, 0x0000_00ff]),
        prop::sample::select(vec![0u16, 0xffff, 0x0002]),
        prop::sample::select(vec![0u32, u32::MAX]),
    )
        .prop_map(
            |(tun_id, (recirc_id, in_port), eth_type, ipv4_src, tp_dst, nsh_path)| {
                Fields {
                    tun_id,
                    recirc_id,
                    in_port,
                    eth_type,
                    ipv4_src,
                    tp_dst,
                    nsh_path,
                    tp_src: 0,
                }
                .key()
            },
        )
}

fn ufid() -> impl Strategy<Value = Option<Ufid>> {
    prop::option::of(
        (1..=16usize, 0..6u8).prop_map(|(len, n)| Ufid::new(&vec![n; len][..]).unwrap()),
    )
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        key: Fields,
        mask: FlowKey,
        ufid: Option<Ufid>,
    },
    Remove(usize),
    Replace(usize),
    Lookup {
        pkt: Fields,
        hash: u32,
    },
    LookupExact {
        key: Fields,
        mask: FlowKey,
    },
    LookupUfid(Option<Ufid>),
    Rebalance,
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (fields(), mask(), ufid()).prop_map(|(key, mask, ufid)| Op::Insert { key, mask, ufid }),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::Replace),
        10 => (fields(), prop::sample::select(vec![0u32, 1, 2, 0x400, 0xdead_beef]))
            .prop_map(|(pkt, hash)| Op::Lookup { pkt, hash }),
        2 => (fields(), mask()).prop_map(|(key, mask)| Op::LookupExact { key, mask }),
        2 => ufid().prop_map(Op::LookupUfid),
        1 => Just(Op::Rebalance),
        1 => (0..10u8).prop_filter_map("rare", |n| (n == 0).then_some(Op::Flush)),
    ]
}

struct RefFlow {
    id: FlowId,
    key: FlowKey,
    mask: FlowKey,
    ufid: Option<Ufid>,
    actions: u32,
}

impl RefFlow {
    fn matches(&self, pkt: &FlowKey) -> bool {
        pkt.masked(&self.mask) == self.key.masked(&self.mask)
    }
}

fn distinct_masks(flows: &[RefFlow]) -> usize {
    let mut masks: Vec<&FlowKey> = Vec::new();
    for f in flows {
        if !masks.contains(&&f.mask) {
            masks.push(&f.mask);
        }
    }
    masks.len()
}

/// Walks a dump to the end: every flow of the reference exactly once.
fn check_dump(t: &FlowTable<u32>, flows: &[RefFlow]) -> Result<(), TestCaseError> {
    let mut seen = Vec::new();
    let mut cursor = 0;
    while let Some((next, f)) = t.next_from(cursor) {
        prop_assert!(next > cursor);
        seen.push(f.id());
        cursor = next;
    }
    let unique: HashSet<FlowId> = seen.iter().copied().collect();
    prop_assert_eq!(unique.len(), seen.len());
    prop_assert_eq!(unique, flows.iter().map(|f| f.id).collect::<HashSet<_>>());
    Ok(())
}

fn run(limit: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut t: FlowTable<u32> = FlowTable::with_seed(limit as u64 * 0x9e37_79b9);
    t.set_limit(limit);
    let mut flows: Vec<RefFlow> = Vec::new();
    let mut next_actions = 0u32;
    for op in ops {
        match op {
            Op::Insert { key, mask, ufid } => {
                let key = key.key();
                next_actions += 1;
                let want = if let Some(f) = flows.iter().find(|f| ufid.is_some() && f.ufid == ufid)
                {
                    Err(InsertError::UfidExists(f.id))
                } else if let Some(f) = flows
                    .iter()
                    .find(|f| f.mask == mask && f.key.masked(&mask) == key.masked(&mask))
                {
                    Err(InsertError::Exists(f.id))
                } else if flows.len() >= limit {
                    Err(InsertError::TableFull)
                } else {
                    Ok(())
                };
                let got = t.insert(&key, &mask, ufid, next_actions);
                match (want, got) {
                    (Ok(()), Ok(id)) => {
                        prop_assert!(flows.iter().all(|f| f.id != id));
                        flows.push(RefFlow {
                            id,
                            key,
                            mask,
                            ufid,
                            actions: next_actions,
                        });
                    }
                    (want, got) => prop_assert_eq!(want, got.map(|_| ())),
                }
            }
            Op::Remove(i) if !flows.is_empty() => {
                let f = flows.swap_remove(i % flows.len());
                prop_assert_eq!(t.remove(f.id), Some(f.actions));
                prop_assert_eq!(t.remove(f.id), None);
                prop_assert!(t.get(f.id).is_none());
            }
            Op::Replace(i) if !flows.is_empty() => {
                let i = i % flows.len();
                next_actions += 1;
                prop_assert_eq!(
                    t.replace_actions(flows[i].id, next_actions),
                    Ok(flows[i].actions)
                );
                flows[i].actions = next_actions;
            }
            Op::Remove(_) | Op::Replace(_) => {}
            Op::Lookup { pkt, hash } => {
                let pkt = pkt.key();
                let (got, stats) = t.lookup(&pkt, hash);
                let matching: Vec<&RefFlow> = flows.iter().filter(|f| f.matches(&pkt)).collect();
                match got {
                    None => {
                        prop_assert!(
                            matching.is_empty(),
                            "missed {} matching flows",
                            matching.len()
                        );
                        prop_assert_eq!(stats.n_mask_hit as usize, t.n_masks());
                    }
                    Some(f) => {
                        let r = matching.iter().find(|r| r.id == f.id());
                        prop_assert!(r.is_some(), "returned a flow that does not match");
                        let r = r.unwrap();
                        // Only a flow without a UFID keeps the key as installed.
                        prop_assert_eq!(f.installed_key(), r.ufid.is_none().then_some(&r.key));
                        prop_assert_eq!(f.mask(), &r.mask);
                        prop_assert_eq!(f.masked_key(), r.key.masked(&r.mask));
                        prop_assert_eq!(f.ufid(), r.ufid.as_ref());
                        prop_assert_eq!(*f.actions(), r.actions);
                        prop_assert!(stats.n_mask_hit >= 1);
                        prop_assert!(stats.n_mask_hit as usize <= t.n_masks());
                        if stats.cache_hit {
                            prop_assert_eq!(stats.n_mask_hit, 1);
                            prop_assert!(hash != 0);
                        }
                    }
                }
            }
            Op::LookupExact { key, mask } => {
                let key = key.key();
                let want = flows
                    .iter()
                    .find(|f| f.mask == mask && f.key.masked(&mask) == key.masked(&mask))
                    .map(|f| f.id);
                prop_assert_eq!(t.lookup_exact(&key, &mask).map(|f| f.id()), want);
            }
            Op::LookupUfid(Some(u)) => {
                let want = flows.iter().find(|f| f.ufid == Some(u)).map(|f| f.id);
                prop_assert_eq!(t.lookup_ufid(&u).map(|f| f.id()), want);
            }
            Op::LookupUfid(None) => {
                // Every flow's UFID finds that flow.
                for f in &flows {
                    if let Some(u) = &f.ufid {
                        prop_assert_eq!(t.lookup_ufid(u).map(|g| g.id()), Some(f.id));
                    }
                }
            }
            Op::Rebalance => t.rebalance(),
            Op::Flush => {
                drop(t.take());
                for f in flows.drain(..) {
                    prop_assert!(t.get(f.id).is_none());
                }
                prop_assert_eq!(t.footprint(), 0);
            }
        }
        prop_assert_eq!(t.len(), flows.len());
        prop_assert_eq!(t.n_masks(), distinct_masks(&flows));
        prop_assert_eq!(t.memory() == 0, flows.is_empty());
    }
    check_dump(&t, &flows)?;
    for f in &flows {
        prop_assert_eq!(t.get(f.id).map(|g| *g.actions()), Some(f.actions));
    }
    // Removing everything leaves no mask behind.
    for f in flows.drain(..) {
        prop_assert_eq!(t.remove(f.id), Some(f.actions));
    }
    prop_assert_eq!(t.n_masks(), 0);
    prop_assert!(t.is_empty());
    // What the flows were charged went with them.
    prop_assert_eq!(t.memory(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn table_agrees_with_linear_scan(limit in 4..64usize, ops in prop::collection::vec(op(), 1..150)) {
        run(limit, ops)?;
    }

    /// Many flows under few masks: indexes grow, shrink and shift.
    #[test]
    fn big_flow_sets_agree(
        masks in prop::collection::vec(mask(), 1..4),
        keys in prop::collection::vec(fields(), 50..400),
        removals in prop::collection::vec(any::<usize>(), 0..300),
        pkts in prop::collection::vec((fields(), any::<u32>()), 1..100),
    ) {
        let mut ops: Vec<Op> = keys
            .iter()
            .enumerate()
            .map(|(i, &key)| Op::Insert { key, mask: masks[i % masks.len()], ufid: None })
            .collect();
        ops.extend(pkts.iter().map(|&(pkt, hash)| Op::Lookup { pkt, hash }));
        ops.extend(removals.into_iter().map(Op::Remove));
        ops.extend(pkts.iter().map(|&(pkt, hash)| Op::Lookup { pkt, hash }));
        run(10_000, ops)?;
    }
}
