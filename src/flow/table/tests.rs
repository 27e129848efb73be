use super::*;
use crate::percpu::Cpu;
use std::cell::Cell;
use std::rc::Rc;
use std::vec::Vec;

/// The port (and the recirculation id, as in every megaflow ovs-vswitchd
/// installs) and the ethertype.
fn port_mask() -> FlowKey {
    FlowKey {
        recirc_id: u32::MAX,
        in_port: u32::MAX,
        eth_type: 0xffff,
        ..Default::default()
    }
}

fn dst_mask(prefix: u32) -> FlowKey {
    FlowKey {
        ipv4_dst: u32::MAX << (32 - prefix),
        ..port_mask()
    }
}

fn pkt(in_port: u32, ipv4_dst: u32) -> FlowKey {
    FlowKey {
        in_port,
        eth_type: 0x0800,
        ipv4_dst,
        tp_src: 1234,
        ..Default::default()
    }
}

fn ufid(n: u8) -> Ufid {
    Ufid::new(&[n; 16]).unwrap()
}

/// The id found and the lookup's cost.
fn look<A: ActionsFootprint>(
    t: &FlowTable<A>,
    key: &FlowKey,
    pkt_hash: u32,
) -> (Option<FlowId>, LookupStats) {
    let (f, stats) = t.lookup(key, pkt_hash);
    (f.map(|f| f.id()), stats)
}

#[test]
fn empty_table_misses_without_allocating() {
    let t: FlowTable<u32> = FlowTable::new();
    assert_eq!(look(&t, &pkt(1, 2), 7), (None, LookupStats::default()));
    assert_eq!(t.footprint(), 0);
    assert!(t.is_empty());
}

#[test]
fn lookup_matches_under_the_mask() {
    let mut t = FlowTable::new();
    let id = t
        .insert(&pkt(1, 0x0a01_0203), &dst_mask(16), None, 7u32)
        .unwrap();
    let f = t.lookup(&pkt(1, 0x0a01_ffff), 0).0.unwrap();
    assert_eq!(f.id(), id);
    assert_eq!(*f.actions(), 7);
    assert_eq!(f.installed_key(), Some(&pkt(1, 0x0a01_0203)));
    assert_eq!(f.mask(), &dst_mask(16));
    assert_eq!(
        f.masked_key(),
        FlowKey {
            tp_src: 0,
            ..pkt(1, 0x0a01_0000)
        }
    );
    assert_eq!(look(&t, &pkt(1, 0x0a02_0000), 0).0, None);
    assert_eq!(look(&t, &pkt(2, 0x0a01_0000), 0).0, None);
    assert_eq!(t.get(id).map(|f| f.id()), Some(id));
}

#[test]
fn misses_probe_every_mask() {
    let mut t = FlowTable::new();
    for p in [8, 16, 24] {
        t.insert(&pkt(p, 0x0a00_0000), &dst_mask(p), None, ())
            .unwrap();
    }
    assert_eq!(t.n_masks(), 3);
    let stats = LookupStats {
        n_mask_hit: 3,
        cache_hit: false,
    };
    assert_eq!(look(&t, &pkt(9, 1), 55), (None, stats));
}

#[test]
fn mask_cache_turns_the_second_lookup_into_one_probe() {
    let mut t = FlowTable::new();
    let mut ids = Vec::new();
    for p in 1..=8 {
        ids.push(
            t.insert(&pkt(p, 0x0a00_0000), &dst_mask(p * 3), None, ())
                .unwrap(),
        );
    }
    let key = pkt(8, 0x0a00_0000);
    let (id, first) = look(&t, &key, 0xabcd);
    assert_eq!(id, Some(ids[7]));
    assert_eq!(
        first,
        LookupStats {
            n_mask_hit: 8,
            cache_hit: false
        }
    );
    let (id, second) = look(&t, &key, 0xabcd);
    assert_eq!(id, Some(ids[7]));
    assert_eq!(
        second,
        LookupStats {
            n_mask_hit: 1,
            cache_hit: true
        }
    );
    // Hash 0 bypasses the cache.
    assert_eq!(look(&t, &key, 0).1, first);
}

/// A cache entry whose mask is gone, or now matches another packet, costs
/// a probe but never a wrong answer.
#[test]
fn stale_cache_entries_are_harmless() {
    let mut t = FlowTable::new();
    let a = t.insert(&pkt(1, 0), &dst_mask(8), None, ()).unwrap();
    let b = t.insert(&pkt(2, 0), &dst_mask(16), None, ()).unwrap();
    assert_eq!(look(&t, &pkt(2, 0), 99).0, Some(b));
    assert!(look(&t, &pkt(2, 0), 99).1.cache_hit);
    // The same hash now carries a packet of the other mask.
    assert_eq!(
        look(&t, &pkt(1, 0), 99),
        (
            Some(a),
            LookupStats {
                n_mask_hit: 2,
                cache_hit: false
            }
        )
    );
    assert!(look(&t, &pkt(1, 0), 99).1.cache_hit);
    // Its mask disappears, and its slot is reused by another mask.
    t.remove(a).unwrap();
    let c = t.insert(&pkt(3, 0), &dst_mask(24), None, ()).unwrap();
    assert_eq!(look(&t, &pkt(1, 0), 99).0, None);
    assert_eq!(look(&t, &pkt(3, 0), 99).0, Some(c));
    assert_eq!(look(&t, &pkt(2, 0), 99).0, Some(b));
}

#[test]
fn rebalance_puts_busy_masks_first() {
    let mut t = FlowTable::new();
    let quiet = t.insert(&pkt(1, 0), &dst_mask(8), None, ()).unwrap();
    let busy = t.insert(&pkt(2, 0), &dst_mask(16), None, ()).unwrap();
    for _ in 0..10 {
        assert_eq!(
            look(&t, &pkt(2, 0), 0),
            (
                Some(busy),
                LookupStats {
                    n_mask_hit: 2,
                    cache_hit: false
                }
            )
        );
    }
    look(&t, &pkt(1, 0), 0);
    t.rebalance();
    assert_eq!(look(&t, &pkt(2, 0), 0).1.n_mask_hit, 1);
    assert_eq!(look(&t, &pkt(1, 0), 0).1.n_mask_hit, 2);
    // Only hits since the last rebalance count; ties keep their order.
    for _ in 0..3 {
        look(&t, &pkt(1, 0), 0);
    }
    t.rebalance();
    assert_eq!(
        look(&t, &pkt(1, 0), 0),
        (
            Some(quiet),
            LookupStats {
                n_mask_hit: 1,
                cache_hit: false
            }
        )
    );
    t.rebalance();
    t.rebalance();
    assert_eq!(look(&t, &pkt(1, 0), 0).1.n_mask_hit, 1);
}

#[test]
fn same_mask_and_masked_key_exists() {
    let mut t = FlowTable::new();
    let id = t
        .insert(&pkt(1, 0x0a00_0001), &dst_mask(24), None, ())
        .unwrap();
    // Differs only in bits the mask ignores.
    let again = t.insert(&pkt(1, 0x0a00_00ff), &dst_mask(24), None, ());
    assert_eq!(again, Err(InsertError::Exists(id)));
    assert_eq!(InsertError::Exists(id).errno(), Errno::Exist);
    // The same key under another mask is another flow.
    assert!(
        t.insert(&pkt(1, 0x0a00_0001), &dst_mask(16), None, ())
            .is_ok()
    );
    assert_eq!(t.len(), 2);
}

#[test]
fn ufids_are_unique_and_looked_up() {
    let mut t = FlowTable::new();
    let id = t
        .insert(&pkt(1, 1), &port_mask(), Some(ufid(1)), 1)
        .unwrap();
    let dup = t.insert(&pkt(2, 1), &port_mask(), Some(ufid(1)), 2);
    assert_eq!(dup, Err(InsertError::UfidExists(id)));
    assert_eq!(dup.unwrap_err().errno(), Errno::Exist);
    let other = t
        .insert(
            &pkt(2, 1),
            &port_mask(),
            Some(Ufid::new(&[1; 8]).unwrap()),
            3,
        )
        .unwrap();
    assert_eq!(t.lookup_ufid(&ufid(1)).map(|f| f.id()), Some(id));
    assert_eq!(
        t.lookup_ufid(&ufid(1)).and_then(|f| f.ufid().copied()),
        Some(ufid(1))
    );
    assert_eq!(
        t.lookup_ufid(&Ufid::new(&[1; 8]).unwrap()).map(|f| f.id()),
        Some(other)
    );
    assert!(t.lookup_ufid(&ufid(2)).is_none());
    assert_eq!(t.remove(id), Some(1));
    assert!(t.lookup_ufid(&ufid(1)).is_none());
    assert!(t.insert(&pkt(1, 1), &port_mask(), Some(ufid(1)), 4).is_ok());
}

#[test]
fn limit_gives_e2big() {
    let mut t = FlowTable::new();
    assert_eq!(t.limit(), DEFAULT_FLOW_LIMIT);
    t.set_limit(2);
    t.insert(&pkt(1, 0), &port_mask(), None, ()).unwrap();
    let b = t.insert(&pkt(2, 0), &port_mask(), None, ()).unwrap();
    assert_eq!(
        t.insert(&pkt(3, 0), &port_mask(), None, ()),
        Err(InsertError::TableFull)
    );
    assert_eq!(InsertError::TableFull.errno(), Errno::TooBig);
    assert_eq!(InsertError::NoMemory.errno(), Errno::NoMem);
    t.remove(b);
    assert!(t.insert(&pkt(3, 0), &port_mask(), None, ()).is_ok());
}

#[test]
fn lookup_exact_needs_the_same_mask() {
    let mut t = FlowTable::new();
    let id = t
        .insert(&pkt(1, 0x0a00_0001), &dst_mask(24), None, ())
        .unwrap();
    let exact = |key: &FlowKey, mask: &FlowKey| t.lookup_exact(key, mask).map(|f| f.id());
    assert_eq!(exact(&pkt(1, 0x0a00_0001), &dst_mask(24)), Some(id));
    assert_eq!(exact(&pkt(1, 0x0a00_0099), &dst_mask(24)), Some(id));
    assert_eq!(exact(&pkt(1, 0x0a00_0001), &dst_mask(16)), None);
    assert_eq!(exact(&pkt(1, 0x0a00_0101), &dst_mask(24)), None);
}

#[test]
fn masks_are_shared_and_go_with_their_last_flow() {
    let mut t = FlowTable::new();
    let a = t.insert(&pkt(1, 0), &dst_mask(24), None, ()).unwrap();
    let b = t.insert(&pkt(2, 0), &dst_mask(24), None, ()).unwrap();
    let c = t.insert(&pkt(3, 0), &port_mask(), None, ()).unwrap();
    assert_eq!(t.n_masks(), 2);
    t.remove(a);
    assert_eq!(t.n_masks(), 2);
    t.remove(b);
    assert_eq!(t.n_masks(), 1);
    assert_eq!(
        look(&t, &pkt(3, 9), 0),
        (
            Some(c),
            LookupStats {
                n_mask_hit: 1,
                cache_hit: false
            }
        )
    );
    t.remove(c);
    assert_eq!(t.n_masks(), 0);
    assert!(t.is_empty());
}

#[test]
fn stale_ids_name_nothing() {
    let mut t = FlowTable::new();
    let a = t.insert(&pkt(1, 0), &port_mask(), None, 10).unwrap();
    assert_eq!(t.replace_actions(a, 11), Ok(10));
    assert_eq!(t.get(a).map(|f| *f.actions()), Some(11));
    assert_eq!(t.remove(a), Some(11));
    assert_eq!(t.remove(a), None);
    let b = t.insert(&pkt(1, 0), &port_mask(), None, 12).unwrap();
    assert_ne!(a, b);
    assert!(t.get(a).is_none());
    assert_eq!(t.replace_actions(a, 13), Err((Errno::NoEnt, 13)));
    drop(t.take());
    let c = t.insert(&pkt(1, 0), &port_mask(), None, 14).unwrap();
    assert!(t.get(b).is_none());
    assert!(t.get(c).is_some());
}

#[test]
fn stats_through_shared_references() {
    let mut t = FlowTable::new();
    t.insert(&pkt(1, 0), &port_mask(), None, ()).unwrap();
    let f = t.lookup(&pkt(1, 0), 1).0.unwrap();
    assert_eq!(f.stats(), FlowStats::default());
    f.record(Cpu::Pinned(0), 100, 60, 0x02);
    t.lookup(&pkt(1, 0), 1)
        .0
        .unwrap()
        .record(Cpu::Pinned(0), 105, 1500, 0x10);
    let f = t.lookup(&pkt(1, 0), 1).0.unwrap();
    assert_eq!(
        f.stats(),
        FlowStats {
            packets: 2,
            bytes: 1560,
            used_ms: 105,
            tcp_flags: 0x12
        }
    );
    f.clear_stats();
    assert_eq!(f.stats(), FlowStats::default());
}

#[test]
fn empty_mask_matches_everything() {
    let mut t = FlowTable::new();
    let id = t.insert(&pkt(1, 0), &FlowKey::default(), None, ()).unwrap();
    assert_eq!(look(&t, &pkt(7, 9), 3).0, Some(id));
    assert_eq!(look(&t, &FlowKey::default(), 3).0, Some(id));
    assert!(t.insert(&pkt(2, 0), &FlowKey::default(), None, ()).is_err());
}

#[test]
fn dump_visits_every_flow_once_and_survives_changes() {
    let mut t = FlowTable::new();
    let ids: Vec<FlowId> = (0..300)
        .map(|i| {
            t.insert(&pkt(i, i), &dst_mask(1 + i % 32), None, i)
                .unwrap()
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor = 0;
    while let Some((next, f)) = t.next_from(cursor) {
        seen.push(f.id());
        cursor = next;
    }
    assert_eq!(seen, ids);
    assert!(t.next_from(u64::MAX).is_none());

    // Removing and adding between calls: flows present throughout are seen
    // exactly once.
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut step = 0u32;
    while let Some((next, f)) = t.next_from(cursor) {
        seen.push(f.id());
        cursor = next;
        step += 1;
        if step.is_multiple_of(7) {
            t.remove(ids[(step * 13 % 300) as usize]);
            let _ = t.insert(&pkt(1000 + step, 0), &port_mask(), None, 0);
        }
    }
    for id in &ids {
        if t.get(*id).is_some() {
            assert_eq!(seen.iter().filter(|s| *s == id).count(), 1);
        }
    }
}

/// Actions that count how many of them are alive.
struct Counted(Rc<Cell<i32>>);

impl Counted {
    fn new(live: &Rc<Cell<i32>>) -> Counted {
        live.set(live.get() + 1);
        Counted(live.clone())
    }
}

impl ActionsFootprint for Counted {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

#[test]
fn nothing_leaks() {
    let live = Rc::new(Cell::new(0));
    let mut t = FlowTable::new();
    let mut ids = Vec::new();
    for i in 0..500u32 {
        let u = Ufid::new(&i.to_le_bytes());
        ids.push(
            t.insert(&pkt(i, i), &dst_mask(1 + i % 20), u, Counted::new(&live))
                .unwrap(),
        );
    }
    // Refused insertions drop their actions.
    assert!(
        t.insert(&pkt(0, 0), &dst_mask(1), None, Counted::new(&live))
            .is_err()
    );
    assert_eq!(live.get(), 500);
    let full = t.footprint();
    let storage = t.flows.footprint() + t.cache.footprint();
    for id in ids.drain(..) {
        drop(t.remove(id));
    }
    assert_eq!(live.get(), 0);
    assert_eq!(t.n_masks(), 0);
    assert_eq!(t.ufids.footprint(), 0);
    assert_eq!(t.mask_index.footprint(), 0);
    // Slots and the cache stay for reuse; masks and indexes are gone.
    assert!(t.footprint() < full);
    assert!(
        t.footprint()
            <= storage
                + t.masks.capacity() * core::mem::size_of::<Option<Mask>>()
                + (t.order.capacity() + t.free_masks.capacity()) * 4
    );
    for i in 0..100 {
        t.insert(&pkt(i, i), &dst_mask(1 + i % 20), None, Counted::new(&live))
            .unwrap();
    }
    assert_eq!(live.get(), 100);
    drop(t.take());
    assert_eq!(live.get(), 0);
    assert_eq!(t.footprint(), 0);
    t.insert(&pkt(1, 1), &port_mask(), None, Counted::new(&live))
        .unwrap();
    drop(t);
    assert_eq!(live.get(), 0);
}

#[test]
fn slot_storage_is_bounded_by_the_peak() {
    let mut t = FlowTable::new();
    for round in 0..20u32 {
        let ids: Vec<FlowId> = (0..200)
            .map(|i| {
                t.insert(&pkt(round * 1000 + i, 0), &dst_mask(1 + i % 8), None, ())
                    .unwrap()
            })
            .collect();
        for id in ids {
            t.remove(id);
        }
    }
    let after_churn = t.flows.footprint();
    let mut fresh = FlowTable::new();
    for i in 0..200 {
        fresh.insert(&pkt(i, 0), &port_mask(), None, ()).unwrap();
    }
    assert_eq!(after_churn, fresh.flows.footprint());
}

/// Readers on several threads share the table (it is `Sync`), the cache
/// is rewritten under them by packets whose hashes collide, and every
/// answer stays right; the statistics lose no packet.
#[test]
fn concurrent_readers() {
    let mut t = FlowTable::new();
    let ids: Vec<FlowId> = (0..64)
        .map(|i| t.insert(&pkt(i, i), &dst_mask(1 + i % 8), None, i).unwrap())
        .collect();
    let t = &t;
    std::thread::scope(|s| {
        for thread in 0..4u32 {
            s.spawn(move || {
                for round in 0..5000u32 {
                    let i = (round * 7 + thread) % 64;
                    let f = t.lookup(&pkt(i, i), round % 5 + 1).0.unwrap();
                    assert_eq!(*f.actions(), i);
                    f.record(Cpu::Any, u64::from(round), 10, 0);
                }
            });
        }
    });
    let packets: u64 = ids
        .iter()
        .map(|&id| t.get(id).unwrap().stats().packets)
        .sum();
    assert_eq!(packets, 4 * 5000);
}

/// The cache names a flow; a packet with the same hash that the flow does
/// not match still finds its flow in one probe when both share a mask,
/// and the entry then names the new flow.
#[test]
fn cached_flow_falls_back_to_its_mask() {
    let mut t = FlowTable::new();
    let a = t
        .insert(&pkt(1, 0x0a00_0000), &dst_mask(24), None, ())
        .unwrap();
    let b = t
        .insert(&pkt(1, 0x0a00_0100), &dst_mask(24), None, ())
        .unwrap();
    t.insert(&pkt(2, 0), &port_mask(), None, ()).unwrap();
    let one_probe = LookupStats {
        n_mask_hit: 1,
        cache_hit: true,
    };
    look(&t, &pkt(1, 0x0a00_0001), 77);
    assert_eq!(look(&t, &pkt(1, 0x0a00_0002), 77), (Some(a), one_probe));
    assert_eq!(look(&t, &pkt(1, 0x0a00_0101), 77), (Some(b), one_probe));
    assert_eq!(t.cache.probe(77).hint, Some(b.slot));
    // Under another mask: the cached flow's mask misses, the scan finds it.
    let other = look(&t, &pkt(2, 5), 77);
    assert_eq!(
        other.1,
        LookupStats {
            n_mask_hit: 2,
            cache_hit: false
        }
    );
    assert_eq!(look(&t, &pkt(2, 5), 77).1, one_probe);
}

/// The passes of a recirculated packet share its hash but not a cache
/// entry: both stay cached.
#[test]
fn recirculation_passes_are_cached_apart() {
    let mut t = FlowTable::new();
    let recirc_mask = FlowKey {
        recirc_id: u32::MAX,
        ..port_mask()
    };
    let first = t.insert(&pkt(1, 0), &recirc_mask, None, ()).unwrap();
    let again = FlowKey {
        recirc_id: 7,
        ..pkt(1, 0)
    };
    let second = t
        .insert(
            &again,
            &FlowKey {
                ipv4_dst: u32::MAX,
                ..recirc_mask
            },
            None,
            (),
        )
        .unwrap();
    look(&t, &pkt(1, 0), 42);
    look(&t, &again, 42);
    let one_probe = LookupStats {
        n_mask_hit: 1,
        cache_hit: true,
    };
    assert_eq!(look(&t, &pkt(1, 0), 42), (Some(first), one_probe));
    assert_eq!(look(&t, &again, 42), (Some(second), one_probe));
}

/// Actions that own `.0` heap bytes.
#[derive(Debug, PartialEq, Eq)]
struct Heap(usize);

impl ActionsFootprint for Heap {
    fn heap_bytes(&self) -> usize {
        self.0
    }
}

#[test]
fn memory_is_charged_per_flow_and_limited() {
    let mut t = FlowTable::new();
    assert_eq!(t.memory_limit(), DEFAULT_FLOW_MEMORY);
    let a = t.insert(&pkt(1, 0), &port_mask(), None, Heap(0)).unwrap();
    let plain = t.memory();
    assert!(plain >= core::mem::size_of::<Flow<Heap>>());
    let b = t
        .insert(&pkt(2, 0), &port_mask(), Some(ufid(2)), Heap(1000))
        .unwrap();
    let with_ufid = t.memory() - plain;
    // A flow named by a UFID keeps no installed key, only a UFID index entry.
    assert_eq!(
        with_ufid + core::mem::size_of::<FlowKey>(),
        plain + 1000 + index::SlotIndex::ENTRY_BYTES
    );
    // The limit refuses a flow that would pass it, as a full table does.
    t.set_memory_limit(t.memory() + plain - 1);
    assert_eq!(
        t.insert(&pkt(3, 0), &port_mask(), None, Heap(0)),
        Err(InsertError::TableFull)
    );
    // New actions may not grow past it either; shrinking is always allowed.
    assert_eq!(
        t.replace_actions(a, Heap(plain)),
        Err((Errno::TooBig, Heap(plain)))
    );
    assert_eq!(t.replace_actions(b, Heap(10)), Ok(Heap(1000)));
    assert_eq!(t.memory(), plain + with_ufid - 990);
    let c = t.insert(&pkt(3, 0), &port_mask(), None, Heap(0)).unwrap();
    for id in [a, b, c] {
        t.remove(id).unwrap();
    }
    assert_eq!(t.memory(), 0);
    t.insert(&pkt(4, 0), &port_mask(), None, Heap(5)).unwrap();
    drop(t.take());
    assert_eq!(t.memory(), 0);
}

#[test]
fn the_mask_limit_refuses_new_masks_only() {
    let mut t = FlowTable::new();
    assert_eq!(t.mask_limit(), DEFAULT_MASK_LIMIT);
    t.set_mask_limit(2);
    let a = t.insert(&pkt(1, 0), &dst_mask(8), None, ()).unwrap();
    t.insert(&pkt(2, 0), &dst_mask(16), None, ()).unwrap();
    assert_eq!(
        t.insert(&pkt(3, 0), &dst_mask(24), None, ()),
        Err(InsertError::TableFull)
    );
    assert_eq!((t.len(), t.n_masks()), (2, 2));
    // More flows under a mask that exists are no new mask.
    t.insert(&pkt(3, 0), &dst_mask(16), None, ()).unwrap();
    t.remove(a).unwrap();
    t.insert(&pkt(3, 0), &dst_mask(24), None, ()).unwrap();
    assert_eq!(t.n_masks(), 2);
}

/// Masks are found by their contents, and their slots are reused through
/// the free list, whatever the order they come and go in.
#[test]
fn masks_come_and_go_through_the_index_and_free_list() {
    let mut t = FlowTable::new();
    let mask = |i: u32| FlowKey {
        ipv4_src: u32::MAX << (i % 32),
        ipv4_dst: u32::MAX << (i / 32),
        ..port_mask()
    };
    let ids: Vec<FlowId> = (0..300)
        .map(|i| t.insert(&pkt(i, i), &mask(i), None, i).unwrap())
        .collect();
    assert_eq!(t.n_masks(), 300);
    for i in (0..300).step_by(3) {
        t.remove(ids[i as usize]).unwrap();
    }
    assert_eq!((t.n_masks(), t.free_masks.len()), (200, 100));
    for i in 0..300u32 {
        let found = t.lookup_exact(&pkt(i, i), &mask(i)).map(|f| *f.actions());
        assert_eq!(found, (i % 3 != 0).then_some(i), "{i}");
    }
    // New masks take the freed slots before the storage grows.
    let slots = t.masks.len();
    for i in 300..400 {
        t.insert(&pkt(i, i), &mask(i), None, i).unwrap();
    }
    assert_eq!((t.masks.len(), t.free_masks.len()), (slots, 0));
    assert_eq!(t.n_masks(), 300);
    for i in 300..400u32 {
        let found = t.lookup(&pkt(i, i), 0).0.map(|f| *f.actions());
        assert_eq!(found, Some(i));
    }
}

/// `take` empties the table at once and keeps its settings; the flows are
/// dropped only with the table it returns, and their ids stay stale.
#[test]
fn take_moves_every_flow_out_at_once() {
    let live = Rc::new(Cell::new(0));
    let mut t = FlowTable::new();
    t.set_limit(500);
    t.set_mask_limit(30);
    t.set_memory_limit(1 << 20);
    let ids: Vec<FlowId> = (0..300)
        .map(|i| {
            let u = Ufid::new(&(i as u16).to_le_bytes());
            t.insert(&pkt(i, i), &dst_mask(1 + i % 20), u, Counted::new(&live))
                .unwrap()
        })
        .collect();
    let old = t.take();
    assert_eq!(
        (t.len(), t.n_masks(), t.memory(), t.footprint()),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (t.limit(), t.mask_limit(), t.memory_limit()),
        (500, 30, 1 << 20)
    );
    assert_eq!((old.len(), live.get()), (300, 300));
    let fresh = t
        .insert(&pkt(0, 0), &dst_mask(1), None, Counted::new(&live))
        .unwrap();
    assert!(ids.iter().all(|&id| t.get(id).is_none() && id != fresh));
    drop(old);
    assert_eq!(live.get(), 1);
}

mod batch {
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    /// A table of flows under masks that all match the port: `(port,
    /// prefix, dst)` puts flow `dst` under the mask of `prefix` bits of
    /// the destination on `port`.
    fn table(flows: &[(u32, u32, u32)]) -> FlowTable<()> {
        let mut t = FlowTable::new();
        for &(port, prefix, dst) in flows {
            let _ = t.insert(&pkt(port, dst), &dst_mask(prefix), None, ());
        }
        t
    }

    fn batch(
        t: &FlowTable<()>,
        keys: &[FlowKey],
        hashes: &[u32],
    ) -> Vec<(Option<FlowId>, LookupStats)> {
        let mut out = [(None, LookupStats::default()); LOOKUP_BATCH];
        t.lookup_batch(keys, hashes, &mut out);
        let n = keys.len().min(LOOKUP_BATCH);
        out[..n]
            .iter()
            .map(|(f, s)| (f.map(|f| f.id()), *s))
            .collect()
    }

    fn flows() -> impl Strategy<Value = Vec<(u32, u32, u32)>> {
        proptest::collection::vec((0u32..6, 1u32..=32, 0u32..64 << 24), 0..40)
    }

    fn packets() -> impl Strategy<Value = Vec<(u32, u32, u32)>> {
        proptest::collection::vec((0u32..6, 0u32..64 << 24, 0u32..8), 0..=LOOKUP_BATCH)
    }

    proptest! {
        /// Without the cache a batch finds what one lookup at a time finds,
        /// at the same cost (both probe the masks in order).
        #[test]
        fn uncached_batch_is_lookup(flows in flows(), pkts in packets()) {
            let t = table(&flows);
            let keys: Vec<FlowKey> = pkts.iter().map(|&(p, d, _)| pkt(p, d)).collect();
            let one: Vec<_> = keys.iter().map(|k| look(&t, k, 0)).collect();
            prop_assert_eq!(batch(&t, &keys, &vec![0; keys.len()]), one);
        }

        /// With the cache (hashes shared by several packets, so entries
        /// name flows of other masks), batches find what lookups find, and
        /// fill the cache so that a repeated packet is a cache hit.
        #[test]
        fn cached_batch_is_lookup(flows in flows(), pkts in packets()) {
            // One mask per port: a packet matches one flow at most, so
            // whatever the cache says, the same flow must be found.
            let flows: Vec<_> = flows.iter().map(|&(p, _, d)| (p, 4 + 4 * p, d)).collect();
            let t = table(&flows);
            let keys: Vec<FlowKey> = pkts.iter().map(|&(p, d, _)| pkt(p, d)).collect();
            let hashes: Vec<u32> = pkts.iter().map(|&(_, _, h)| h + 1).collect();
            let want: Vec<_> = keys.iter().map(|k| look(&t, k, 0).0).collect();
            for _ in 0..3 {
                let got: Vec<_> = batch(&t, &keys, &hashes).into_iter().map(|r| r.0).collect();
                prop_assert_eq!(&got, &want);
            }
            if let (Some(k), Some(&h)) = (keys.first(), hashes.first()) {
                let single = batch(&t, &[*k], &[h]);
                let again = batch(&t, &[*k], &[h]);
                if single[0].0.is_some() {
                    prop_assert!(again[0].1.cache_hit);
                }
            }
        }
    }

    /// A table beyond `READ_AHEAD_FLOWS`, whose batches prefetch the bucket
    /// headers, finds what one lookup at a time finds.
    #[test]
    fn a_large_table_batch_is_lookup() {
        let n = READ_AHEAD_FLOWS as u32 + 1000;
        let flows: Vec<(u32, u32, u32)> = (0..n)
            .map(|i| (i % 6, 8 + 4 * (i % 5), i.wrapping_mul(2_654_435_761)))
            .collect();
        let t = table(&flows);
        assert!(t.len() > READ_AHEAD_FLOWS);
        for round in 0..64u32 {
            let keys: Vec<FlowKey> = (0..LOOKUP_BATCH as u32)
                .map(|j| {
                    let (port, _, dst) = flows[((round * 97 + j * 31) % n) as usize];
                    // Every third packet misses.
                    pkt(port, if j % 3 == 0 { !dst } else { dst ^ 0xff })
                })
                .collect();
            let one: Vec<_> = keys.iter().map(|k| look(&t, k, 0)).collect();
            assert!(one.iter().any(|r| r.0.is_some()) && one.iter().any(|r| r.0.is_none()));
            assert_eq!(batch(&t, &keys, &[0; LOOKUP_BATCH]), one);
        }
    }

    /// Packets beyond `LOOKUP_BATCH`, or beyond `out`, are left alone.
    #[test]
    fn batch_is_bounded() {
        let t = table(&[(1, 24, 0x0a00_0000)]);
        let keys = [pkt(1, 0x0a00_0001); LOOKUP_BATCH + 4];
        let mut out = [(None, LookupStats::default()); LOOKUP_BATCH + 4];
        t.lookup_batch(&keys, &[5; LOOKUP_BATCH + 4], &mut out);
        assert!(out[..LOOKUP_BATCH].iter().all(|r| r.0.is_some()));
        assert!(out[LOOKUP_BATCH..].iter().all(|r| r.0.is_none()));
        let mut short = [(None, LookupStats::default()); 2];
        t.lookup_batch(&keys, &[5; 8], &mut short);
        assert!(short.iter().all(|r| r.0.is_some()));
    }
}

/// A flow named by a UFID under an IPv4 megaflow mask, with short actions,
/// is charged its record and two index entries: under 300 bytes.
#[test]
fn a_ufid_flow_is_compact() {
    let mut t = FlowTable::new();
    let mask = FlowKey {
        recirc_id: u32::MAX,
        in_port: u32::MAX,
        eth_type: u16::MAX,
        ipv4_src: u32::MAX,
        ipv4_dst: u32::MAX,
        ip_proto: u8::MAX,
        tp_dst: u16::MAX,
        ..Default::default()
    };
    t.insert(&pkt(1, 2), &mask, Some(ufid(1)), 0u32).unwrap();
    let charged = t.memory();
    assert_eq!(
        charged,
        Slab::<Flow<u32>>::SLOT_BYTES + 2 * index::SlotIndex::ENTRY_BYTES
    );
    assert!(charged < 300, "{charged}");
}

/// A key finds the flow named by that key under any mask, past a flow named
/// by a UFID that it falls in first (Linux's `ovs_flow_tbl_lookup_exact`).
#[test]
fn lookup_named_skips_flows_named_by_a_ufid() {
    let mut t = FlowTable::new();
    let by_ufid = t
        .insert(&pkt(1, 0x0a01_0203), &dst_mask(8), Some(ufid(1)), 1u32)
        .unwrap();
    let by_key = t
        .insert(&pkt(1, 0x0a01_0203), &dst_mask(24), None, 2u32)
        .unwrap();
    let key = pkt(1, 0x0a01_0203);
    assert_eq!(
        look(&t, &key, 0).0,
        Some(by_ufid),
        "the first mask matches first"
    );
    let fields = dst_mask(32);
    assert_eq!(t.lookup_named(&key, &fields).map(|f| f.id()), Some(by_key));
    // The installed key must agree on every field the request names.
    let other = pkt(1, 0x0a01_0204);
    assert_eq!(t.lookup_named(&other, &fields).map(|f| f.id()), None);
    t.remove(by_key).unwrap();
    assert_eq!(t.lookup_named(&key, &fields).map(|f| f.id()), None);
}

/// The keys flows without a UFID keep are part of the footprint.
#[test]
fn the_footprint_counts_installed_keys() {
    let (mut named, mut keyed) = (FlowTable::new(), FlowTable::new());
    for i in 0..100u8 {
        let key = pkt(1, u32::from(i));
        named
            .insert(&key, &dst_mask(32), Some(ufid(i)), 0u32)
            .unwrap();
        keyed.insert(&key, &dst_mask(32), None, 0u32).unwrap();
    }
    let keys = 100 * core::mem::size_of::<FlowKey>();
    assert!(keyed.footprint() + named.ufids.footprint() >= named.footprint() + keys);
}
