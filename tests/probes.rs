//! ovs-vswitchd's feature probes for meters, MPLS, add_mpls, NSH, Ethernet
//! push/pop and the actions it must find missing, replayed as it sends them
//! (`dpif_netlink_meter_get_features` with `probe_broken_meters`, and
//! `dpif_probe_feature`'s probe flow put of ofproto-dpif's `check_*`), with
//! the answer each must get.

mod common;

use common::*;

const METER: u16 = 0x19;
const FLOW: u16 = 0x15;
const DPID: u32 = 1;

const ENOENT: i32 = -2;
const EINVAL: i32 = -22;
const EOPNOTSUPP: i32 = -130;

/// `dpif_netlink_meter_init`.
fn meter_req(cmd: u8, seq: u32) -> Req {
    Req::new(METER, cmd, 1, seq, DPID).flags(0x1 | 0x8)
}

/// `dpif_netlink_meter_set__` of `{DROP, rate 1}` with only OFPMF13_KBPS:
/// the burst is the rate.
fn meter_set(seq: u32, id: u32) -> Req {
    let band = [
        attr(1, &1u32.to_ne_bytes()),
        attr(2, &1u32.to_ne_bytes()),
        attr(3, &1u32.to_ne_bytes()),
    ]
    .concat();
    meter_req(2, seq)
        .u32(1, id)
        .raw(2, &[])
        .raw(4, &attr(0, &band))
}

#[test]
fn meter_features_with_the_broken_meters_probe() {
    let mut sim = opened();
    // probe_broken_meters__ (OVS 3.x): 1021 and 1022 must not exist yet...
    for (seq, id) in [(1, 1021), (2, 1022)] {
        let r = meter_req(4, seq).u32(1, id);
        assert_eq!(errno(&transact(&mut sim, &r), &r), ENOENT);
    }
    // ...must read back once set, and are deleted.
    for (seq, id) in [(3, 1021), (4, 1022)] {
        reply(&transact(&mut sim, &meter_set(seq, id)));
    }
    for (seq, id) in [(5, 1021), (6, 1022)] {
        let (_, a) = reply(&transact(&mut sim, &meter_req(4, seq).u32(1, id)));
        assert_eq!(u32_of(get(&a, 1)), id);
    }
    for (seq, id) in [(7, 1021), (8, 1022)] {
        let (_, a) = reply(&transact(&mut sim, &meter_req(3, seq).u32(1, id)));
        assert_eq!(u32_of(get(&a, 1)), id);
    }
    // Older releases probe with ids far beyond any table size.
    for (seq, id) in [(9, 54_545_401), (10, 54_545_402)] {
        reply(&transact(&mut sim, &meter_set(seq, id)));
        reply(&transact(&mut sim, &meter_req(4, seq + 10).u32(1, id)));
        reply(&transact(&mut sim, &meter_req(3, seq + 20).u32(1, id)));
    }
    // The features: meters, bands, the DROP band type. Userspace adds the
    // capabilities itself (kbps, pktps, burst, stats).
    let (hdr, a) = reply(&transact(&mut sim, &meter_req(1, 40)));
    assert_eq!((hdr.ty, hdr.cmd), (METER, 1));
    assert_eq!(u32_of(get(&a, 7)), 4096, "max_meters: the id pool's size");
    assert_eq!(u32_of(get(&a, 8)), 8, "max_bands");
    let bands = nested(get(&a, 4));
    assert_eq!(bands.len(), 1);
    assert_eq!(nested(&bands[0].1), [(1, 1u32.to_ne_bytes().to_vec())]);
}

/// `dpif_probe_feature`: a flow put with PROBE (create), then a delete.
fn probe(sim: &mut Sim, seq: u32, key: &[u8], actions: &[u8]) -> Result<(), i32> {
    let put = Req::new(FLOW, 1, 1, seq, DPID)
        .flags(0x1 | 0x400 | 0x8)
        .raw(1, key)
        .raw(2, actions)
        .raw(8, &[]);
    let line = transact(sim, &put);
    let (_, b) = result(&line);
    if u16::from_ne_bytes([b[4], b[5]]) == 2 {
        return Err(errno(&line, &put));
    }
    let del = Req::new(FLOW, 2, 1, seq + 1000, DPID).raw(1, key);
    reply(&transact(sim, &del));
    Ok(())
}

/// A probe key as `odp_flow_key_from_flow` builds it for a zeroed flow of
/// Ethertype `eth_type` (none below 0x600: an 802.2 frame), followed by
/// `rest`.
fn key(eth_type: u16, rest: &[Vec<u8>]) -> Vec<u8> {
    let mut k = [
        attr(20, &0u32.to_ne_bytes()),
        attr(2, &0u32.to_ne_bytes()),
        attr(3, &0u32.to_ne_bytes()),
        attr(15, &0u32.to_ne_bytes()),
        attr(4, &[0; 12]),
    ]
    .concat();
    if eth_type >= 0x600 {
        k.extend_from_slice(&attr(6, &eth_type.to_be_bytes()));
    }
    for r in rest {
        k.extend_from_slice(r);
    }
    k
}

fn output(port: u32) -> Vec<u8> {
    attr(1, &port.to_ne_bytes())
}

#[test]
fn check_max_mpls_depth_finds_three_labels() {
    let mut sim = opened();
    // flow_set_mpls_bos(n): n + 1 label stack entries, the last at bottom.
    for n in 0..3 {
        let mut lses = vec![0u8; 4 * n];
        lses.extend_from_slice(&[0, 0, 1, 0]);
        let k = key(0x8847, &[attr(21, &lses)]);
        assert_eq!(probe(&mut sim, 1 + n as u32, &k, &output(1)), Ok(()), "{n}");
    }
    let too_deep = key(
        0x8847,
        &[attr(21, &[[0; 12].as_slice(), &[0, 0, 1, 0]].concat())],
    );
    assert_eq!(probe(&mut sim, 9, &too_deep, &output(1)), Err(EINVAL));
}

#[test]
fn check_add_mpls_finds_it() {
    let mut sim = opened();
    // A zeroed add_mpls but for its Ethertype, on a zeroed flow.
    let add = attr(22, &[0, 0, 0, 0, 0x88, 0x47, 0, 0]);
    assert_eq!(probe(&mut sim, 1, &key(0, &[]), &add), Ok(()));
}

#[test]
fn check_psample_finds_it_missing() {
    let mut sim = opened();
    let psample = attr(
        25,
        &[attr(1, &10u32.to_ne_bytes()), attr(2, &[0x5a; 16])].concat(),
    );
    assert_eq!(
        probe(&mut sim, 1, &key(0x1234, &[]), &psample),
        Err(EOPNOTSUPP)
    );
}

#[test]
fn nsh_and_ethernet_push_pop_are_accepted() {
    // No check_* probes these (userspace assumes the kernel has them); the
    // same probe put shows each is taken.
    let mut sim = opened();
    let nsh = attr(
        28,
        &[attr(1, &[0, 63, 1, 3, 0, 0, 1, 255]), attr(2, &[0; 16])].concat(),
    );
    let ipv4 = attr(7, &[10, 0, 0, 1, 10, 0, 0, 2, 17, 0, 64, 0]);
    let udp = attr(10, &[0, 1, 0, 2]);
    let ip_key = key(0x0800, &[ipv4, udp]);
    let push_nsh = attr(17, &nsh);
    let push_eth = attr(14, &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    let cases = [
        (key(0x894f, std::slice::from_ref(&nsh)), attr(3, &nsh)),
        (
            ip_key.clone(),
            [push_nsh, push_eth.clone(), output(1)].concat(),
        ),
        (
            key(0x894f, &[nsh]),
            [attr(15, &[]), attr(18, &[]), output(1)].concat(),
        ),
        (
            ip_key.clone(),
            [attr(15, &[]), push_eth, output(1)].concat(),
        ),
    ];
    for (seq, (k, acts)) in cases.into_iter().enumerate() {
        assert_eq!(probe(&mut sim, 1 + seq as u32, &k, &acts), Ok(()), "{seq}");
    }
}

#[test]
fn userspace_datapath_actions_are_refused_as_linux_refuses_them() {
    let mut sim = opened();
    let k = key(0x1234, &[]);
    for (seq, act) in [
        attr(26, &[0; 8]),
        attr(27, &1u32.to_ne_bytes()),
        attr(28, &1u32.to_ne_bytes()),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(probe(&mut sim, 1 + seq as u32, &k, &act), Err(EINVAL));
    }
}
