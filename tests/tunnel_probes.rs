//! What ovs-vswitchd 3.7 asks a netlink datapath before and while it uses
//! tunnels, replayed byte for byte, with the answer that makes it go on.
//!
//! It sends no tunnel feature probe of its own: `check_support` has none,
//! `tnl_push_pop` is false for any netlink datapath (kernel tunnels), and
//! the out-of-tree tunnel probe is Linux-only (`ovs_tunnels_out_of_tree`
//! stays true on Windows). Support shows in three requests instead:
//! `dpif_netlink_port_add_compat`'s VPORT NEW with the tunnel options
//! (nests without NLA_F_NESTED, no port number), the VPORT GET by name it
//! then reads with `dpif_netlink_vport_from_ofpbuf`'s policy, and the flow
//! puts of tunnel flows: `tun_key_to_attr`'s `set(tunnel)` (Geneve options,
//! VXLAN GBP, IPv6 endpoints) and its megaflow masks, which carry a tunnel
//! attribute on every flow, tunnelled or not.

mod common;

use common::*;

const VPORT: u16 = 0x14;
const DPID: u32 = 1;
const PID: u32 = 7;

/// `dpif_netlink_vport_to_ofpbuf` of a VPORT NEW from
/// `dpif_netlink_port_add__`: no port number (ODPP_NONE), one upcall PID.
fn vport_new(seq: u32, ty: u32, name: &str, options: Option<&[u8]>) -> Req {
    let r = Req::new(VPORT, 1, 1, seq, DPID)
        .flags(NLM_F_REQUEST | NLM_F_ECHO)
        .u32(2, ty)
        .str(3, name)
        .u32(5, PID);
    match options {
        Some(o) => r.raw(4, o),
        None => r,
    }
}

/// The options `dpif_netlink_port_add_compat` builds: the UDP port and,
/// for VXLAN GBP, the extension nest with the GBP flag (bit 1).
fn tunnel_options(port: u16, gbp: bool) -> Vec<u8> {
    let mut o = attr(1, &port.to_ne_bytes());
    if gbp {
        o.extend_from_slice(&attr(2, &attr(1, &[])));
    }
    o
}

/// What `dpif_netlink_vport_from_ofpbuf` requires of a reply: the vport
/// family, PORT_NO, TYPE, NAME and UPCALL_PID; returns port and options.
fn vport_reply(line: &str, ty: u32, name: &str) -> (u32, Vec<(u16, Vec<u8>)>) {
    let (hdr, a) = reply(line);
    assert_eq!(hdr.ty, VPORT, "{line}");
    assert_eq!(u32_of(get(&a, 2)), ty);
    assert_eq!(get(&a, 3), [name.as_bytes(), &[0]].concat().as_slice());
    assert_eq!(u32_of(get(&a, 5)), PID);
    let opts = a
        .iter()
        .find(|(t, _)| *t & 0x3fff == 4)
        .map(|(_, p)| nested(p))
        .unwrap_or_default();
    (u32_of(get(&a, 1)), opts)
}

#[test]
fn tunnel_vports_are_created_as_port_add_compat_asks() {
    let mut sim = opened();
    // netdev_vport_get_dpif_port names: "<dpif_port>_<udp port>" for VXLAN
    // and Geneve, "gre_sys" for GRE (no options at all).
    let ports = [
        (4, "vxlan_sys_4789", Some((4789, false))),
        (5, "genev_sys_6081", Some((6081, false))),
        (3, "gre_sys", None::<(u16, bool)>),
        (4, "vxlan_sys_4790", Some((4790, true))),
    ];
    let mut numbers = Vec::new();
    for (seq, (ty, name, udp)) in (1..).zip(ports) {
        let opts = udp.map(|(p, gbp)| tunnel_options(p, gbp));
        let line = transact(&mut sim, &vport_new(seq, ty, name, opts.as_deref()));
        let (no, got) = vport_reply(&line, ty, name);
        assert_ne!(no, 0, "port 0 is the datapath's own");
        numbers.push(no);
        // port_query by name, as ofproto-dpif does after adding.
        let get_req = Req::new(VPORT, 3, 1, seq + 100, DPID)
            .flags(NLM_F_REQUEST | NLM_F_ECHO)
            .str(3, name);
        let (again, read) = vport_reply(&transact(&mut sim, &get_req), ty, name);
        assert_eq!(again, no);
        assert_eq!(read, got, "GET reports what NEW did");
        match udp {
            None => assert!(read.is_empty(), "{name}: {read:?}"),
            Some((p, gbp)) => {
                assert_eq!(read[0], (1, p.to_ne_bytes().to_vec()), "{name}");
                if gbp {
                    assert_eq!(read[1].0 & 0x3fff, 2, "{name}");
                    assert_eq!(nested(&read[1].1), [(1, vec![])], "{name}");
                } else {
                    assert_eq!(read.len(), 1, "{name}");
                }
            }
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 4);
}

const K_PRIORITY: u16 = 2;
const K_IN_PORT: u16 = 3;
const K_ETHERNET: u16 = 4;
const K_ETHERTYPE: u16 = 6;
const K_SKB_MARK: u16 = 15;
const K_TUNNEL: u16 = 16;
const K_RECIRC_ID: u16 = 20;
const K_DP_HASH: u16 = 19;

const A_OUTPUT: u16 = 1;
const A_SET: u16 = 3;

const V6_A: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const V6_B: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];

/// One Geneve option as `tun_metadata_to_geneve_nlattr` lays it out: class
/// 0xffff, type 0x80, four bytes of data.
fn geneve_opt() -> Vec<u8> {
    vec![0xff, 0xff, 0x80, 1, 0xde, 0xad, 0xbe, 0xef]
}

/// `odp_flow_key_from_flow__` of a flow (or, `mask`, its mask) with
/// recirculation supported: recirc_id, dp_hash, priority, the tunnel when
/// there is one (always in a mask), in_port, skb_mark, Ethernet, Ethertype.
fn flow_key(mask: bool, tunnel: Option<&[u8]>, in_port: u32) -> Vec<u8> {
    let ones = if mask { u32::MAX } else { 0 };
    let mut k = [
        attr(K_RECIRC_ID, &ones.to_ne_bytes()),
        attr(K_DP_HASH, &0u32.to_ne_bytes()),
        attr(K_PRIORITY, &0u32.to_ne_bytes()),
    ]
    .concat();
    if let Some(t) = tunnel {
        k.extend_from_slice(&attr(K_TUNNEL, t));
    }
    let eth = if mask { [0xff; 12] } else { [0; 12] };
    k.extend_from_slice(
        &[
            attr(K_IN_PORT, &in_port.to_ne_bytes()),
            attr(K_SKB_MARK, &0u32.to_ne_bytes()),
            attr(K_ETHERNET, &eth),
        ]
        .concat(),
    );
    // A zeroed flow is an 802.2 frame: no Ethertype in the key, an exact
    // one in the mask.
    if mask {
        k.extend_from_slice(&attr(K_ETHERTYPE, &[0xff, 0xff]));
    }
    k
}

fn put(sim: &mut Sim, seq: u32, key: &[u8], mask: &[u8], actions: &[u8]) -> Result<(), i32> {
    let r = Req::new(0x15, 1, 1, seq, DPID)
        .flags(NLM_F_REQUEST | 0x400 | NLM_F_ECHO)
        .raw(1, key)
        .raw(7, mask)
        .raw(2, actions);
    let line = transact(sim, &r);
    let (_, b) = result(&line);
    if u16::from_ne_bytes([b[4], b[5]]) == 2 {
        return Err(errno(&line, &r));
    }
    reply(&line);
    Ok(())
}

/// A megaflow of frames received by a tunnel: the key's tunnel, and a mask
/// matching the tunnel ID, the endpoints (`endpoints`: the two address
/// masks), the flags (flag attributes the key may lack), the UDP
/// destination port and the options (`options`: their mask attribute).
fn put_received(
    sim: &mut Sim,
    seq: u32,
    key_tunnel: &[u8],
    endpoints: [Vec<u8>; 2],
    options: Vec<u8>,
) {
    let [src, dst] = endpoints;
    let mask_tunnel = [
        attr(T_ID, &u64::MAX.to_be_bytes()),
        src,
        dst,
        attr(T_TTL, &[0]),
        attr(T_DF, &[]),
        attr(T_CSUM, &[]),
        attr(T_TP_DST, &[0xff, 0xff]),
        attr(T_OAM, &[]),
        options,
    ]
    .concat();
    let key = flow_key(false, Some(key_tunnel), 9);
    let mask = flow_key(true, Some(&mask_tunnel), 9);
    let output = attr(A_OUTPUT, &1u32.to_ne_bytes());
    assert_eq!(put(sim, seq, &key, &mask, &output), Ok(()));
}

#[test]
fn tunnel_megaflows_as_xlate_builds_them_are_accepted() {
    let mut sim = opened();
    // A plain flow: the mask still has a tunnel attribute, all zero but
    // the TTL that tun_key_to_attr always puts.
    let zero_tunnel = attr(T_TTL, &[0]);
    let plain = (
        flow_key(false, None, 1),
        flow_key(true, Some(&zero_tunnel), 1),
    );
    let output = attr(A_OUTPUT, &2u32.to_ne_bytes());
    assert_eq!(put(&mut sim, 1, &plain.0, &plain.1, &output), Ok(()));

    // Received by Geneve over IPv6 with an option.
    let key_tunnel = [
        attr(T_ID, &0x55u64.to_be_bytes()),
        attr(T_IPV6_SRC, &V6_B),
        attr(T_IPV6_DST, &V6_A),
        attr(T_TTL, &[64]),
        attr(T_TP_SRC, &50000u16.to_be_bytes()),
        attr(T_TP_DST, &6081u16.to_be_bytes()),
        attr(T_GENEVE_OPTS, &geneve_opt()),
    ]
    .concat();
    let v6 = [attr(T_IPV6_SRC, &[0xff; 16]), attr(T_IPV6_DST, &[0xff; 16])];
    let opt_mask = [0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0xff, 0xff];
    put_received(&mut sim, 2, &key_tunnel, v6, attr(T_GENEVE_OPTS, &opt_mask));

    // Over IPv4 with VXLAN GBP in the key (received on a GBP port).
    let gbp = (0x1234u32 | 1 << 22).to_ne_bytes();
    let key_tunnel = [
        attr(T_ID, &7u64.to_be_bytes()),
        attr(T_IPV4_SRC, &[192, 168, 1, 20]),
        attr(T_IPV4_DST, &[192, 168, 1, 10]),
        attr(T_TTL, &[64]),
        attr(T_DF, &[]),
        attr(T_TP_DST, &4790u16.to_be_bytes()),
        attr(T_VXLAN_OPTS, &attr(1, &gbp)),
    ]
    .concat();
    let v4 = [attr(T_IPV4_SRC, &[0xff; 4]), attr(T_IPV4_DST, &[0xff; 4])];
    let gbp_mask = attr(T_VXLAN_OPTS, &attr(1, &u32::MAX.to_ne_bytes()));
    put_received(&mut sim, 3, &key_tunnel, v4, gbp_mask);
}

#[test]
fn set_tunnel_as_commit_odp_tunnel_action_builds_it_is_accepted() {
    let mut sim = opened();
    let plain = (
        flow_key(false, None, 1),
        flow_key(true, Some(&attr(T_TTL, &[0])), 1),
    );
    // tun_key_to_attr's order; tp_dst from the output port's config.
    let to_geneve6 = [
        attr(T_ID, &0x55u64.to_be_bytes()),
        attr(T_IPV6_DST, &V6_B),
        attr(T_TTL, &[64]),
        attr(T_CSUM, &[]),
        attr(T_TP_DST, &6081u16.to_be_bytes()),
        attr(T_GENEVE_OPTS, &geneve_opt()),
    ]
    .concat();
    let to_gbp = [
        attr(T_ID, &7u64.to_be_bytes()),
        attr(T_IPV4_DST, &[192, 168, 1, 20]),
        attr(T_TTL, &[64]),
        attr(T_DF, &[]),
        attr(T_TP_DST, &4790u16.to_be_bytes()),
        attr(T_VXLAN_OPTS, &attr(1, &(0x1234u32 | 1 << 22).to_ne_bytes())),
    ]
    .concat();
    let to_gre6 = [
        attr(T_ID, &9u64.to_be_bytes()),
        attr(T_IPV6_SRC, &V6_A),
        attr(T_IPV6_DST, &V6_B),
        attr(T_TTL, &[64]),
        attr(T_DF, &[]),
        attr(T_OAM, &[]),
    ]
    .concat();
    for (seq, tunnel) in [(1, to_geneve6), (2, to_gbp), (3, to_gre6)] {
        let actions = [
            attr(A_SET, &attr(K_TUNNEL, &tunnel)),
            attr(A_OUTPUT, &5u32.to_ne_bytes()),
        ]
        .concat();
        assert_eq!(
            put(&mut sim, seq, &plain.0, &plain.1, &actions),
            Ok(()),
            "{seq}"
        );
        let del = Req::new(0x15, 2, 1, seq + 100, DPID).raw(1, &plain.0);
        reply(&transact(&mut sim, &del));
    }
}
