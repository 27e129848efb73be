//! Validation of `OVS_ACTION_ATTR_*` lists at flow install and packet
//! execute (Linux's `__ovs_nla_copy_actions`). The flow table keeps the
//! userspace bytes as given, so dumps return them verbatim; the executor
//! walks them relying on what is checked here:
//! - every attribute, at every nesting level, is well formed, of a known
//!   type, of the length the action table says, and executed (`support.rs`);
//! - OUTPUT ports are below `DP_MAX_PORTS`; TRUNC keeps at least an Ethernet
//!   header; HASH uses a known algorithm; PUSH_VLAN has an 802.1Q/802.1ad TPID
//!   and a TCI with the present bit; VLAN actions only touch Ethernet frames;
//! - USERSPACE has a non-zero PID; SAMPLE has a 4-byte probability and an
//!   action list; CHECK_PKT_LEN has a non-zero length and both branches;
//!   DEC_TTL has an action list; DROP is the last action of its list;
//! - SET / SET_MASKED hold exactly one key attribute of the right length,
//!   a masked value has no bit outside its mask, and the header it writes
//!   exists in the flow (see `set.rs`);
//! - CT is `parse_ct` / `parse_nat`-valid for an IPv4 or IPv6 flow
//!   (`conntrack::action`);
//! - nested lists go at most `MAX_ACTIONS_DEPTH` levels deep.

use super::lens::{self, Table};
use super::proto::{
    ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_P_NSH, ETH_P_RARP, ETH_P_TEB, TUN_P_ETHERNET,
    is_mpls, is_vlan, tun_p_from_eth_p, tun_p_to_eth_p,
};
use super::support::{self, Support};
use super::wire::{self, AddMpls, Hash, MPLS_L3_TUNNEL, PushMpls, PushVlan};
use super::{DP_MAX_PORTS, set};
use crate::conntrack;
use crate::flow::FlowKey;
use crate::flow::key::{MAC_PROTO_ETHERNET, MAC_PROTO_NONE, VLAN_TAG_PRESENT};
use crate::netlink::{Attr, Errno, NLA_HDRLEN, attrs};
use crate::ovs::action as act;

/// Nesting limit of sample / clone / check_pkt_len / dec_ttl action lists
/// (`OVS_COPY_ACTIONS_MAX_DEPTH`); deeper lists are EOVERFLOW.
pub const MAX_ACTIONS_DEPTH: u32 = 16;

/// What earlier actions of a list have made of the packet's headers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Headers {
    pub eth_type: u16,
    pub mac_proto: u8,
    /// The outer VLAN TCI (`VLAN_TAG_PRESENT` set when there is a tag).
    pub vlan_tci: u16,
    /// MPLS labels on the packet (Linux's `mpls_label_count`).
    pub mpls_labels: u32,
}

/// Checks an action list (the payload of `OVS_FLOW_ATTR_ACTIONS` /
/// `OVS_PACKET_ATTR_ACTIONS`) against the flow it will run on: the masked
/// flow key at flow install, the packet's key at packet execute. Errors:
/// EINVAL for malformed or invalid actions, EOPNOTSUPP for valid actions the
/// datapath does not execute, EOVERFLOW for nesting beyond
/// `MAX_ACTIONS_DEPTH`, ERANGE for attributes shorter than their netlink
/// policy type. Allocates nothing.
pub fn validate_actions(actions: &[u8], key: &FlowKey) -> Result<(), Errno> {
    let headers = Headers {
        eth_type: key.eth_type,
        mac_proto: key.mac_proto,
        vlan_tci: key.vlan_tci,
        mpls_labels: if is_mpls(key.eth_type) {
            key.mpls_labels.count_ones()
        } else {
            0
        },
    };
    list(actions, key, headers, 0)
}

/// One action list. `headers` is what the actions before it left, updated
/// as actions change the Ethertype, the tags or the L2 header kind; a nested
/// list gets a copy, so changes inside it do not leak out.
fn list(actions: &[u8], key: &FlowKey, mut headers: Headers, depth: u32) -> Result<(), Errno> {
    if depth > MAX_ACTIONS_DEPTH {
        return Err(Errno::Overflow);
    }
    let mut it = attrs(actions).peekable();
    while let Some(a) = it.next() {
        let a = a.map_err(|_| Errno::Inval)?;
        let last = it.peek().is_none();
        action(a, last, key, &mut headers, depth)?;
    }
    Ok(())
}

fn action(
    a: Attr<'_>,
    last: bool,
    key: &FlowKey,
    headers: &mut Headers,
    depth: u32,
) -> Result<(), Errno> {
    let ty = a.ty();
    lens::expect(Table::Action, ty, a.len())?;
    match support::action(ty) {
        Support::Executed => {}
        Support::NotYet => return Err(Errno::OpNotSupp),
        Support::Invalid => return Err(Errno::Inval),
    }
    let p = a.payload();
    let ethernet = headers.mac_proto == MAC_PROTO_ETHERNET;
    match ty {
        act::OUTPUT if wire::host_u32(p)? >= DP_MAX_PORTS => Err(Errno::Inval),
        // A meter that does not exist lets packets pass (Linux).
        act::OUTPUT | act::RECIRC | act::METER | act::CT_CLEAR => Ok(()),
        act::CT => ct(p, headers),
        act::USERSPACE => userspace(p),
        act::SET => set::validate(p, key, headers, false),
        act::SET_MASKED => set::validate(p, key, headers, true),
        act::PUSH_VLAN => {
            let v = wire::view::<PushVlan>(p)?;
            if !ethernet || !is_vlan(v.tpid.get()) || v.tci.get() & VLAN_TAG_PRESENT == 0 {
                return Err(Errno::Inval);
            }
            headers.vlan_tci = v.tci.get();
            Ok(())
        }
        act::POP_VLAN if ethernet => {
            headers.vlan_tci = 0;
            Ok(())
        }
        act::PUSH_MPLS => {
            let m = wire::view::<PushMpls>(p)?;
            mpls_over(headers, m.ethertype.get())?;
            headers.mpls_labels = headers.mpls_labels.wrapping_add(1);
            Ok(())
        }
        act::ADD_MPLS => add_mpls(wire::view::<AddMpls>(p)?, headers),
        act::POP_MPLS => pop_mpls(wire::net_u16(p)?, headers),
        // An Ethernet header only onto a packet without one; popped only
        // from one without a VLAN tag.
        act::PUSH_NSH => {
            if !ethernet && tun_p_from_eth_p(headers.eth_type) == 0 {
                return Err(Errno::Inval);
            }
            headers.mac_proto = MAC_PROTO_NONE;
            super::nsh::validate_push(p)
        }
        // The flow's next protocol says what is left (Linux checks the key's,
        // and leaves the Ethertype as it was).
        act::POP_NSH => {
            if headers.eth_type != ETH_P_NSH || tun_p_to_eth_p(key.nsh.np) == 0 {
                return Err(Errno::Inval);
            }
            headers.mac_proto = if key.nsh.np == TUN_P_ETHERNET {
                MAC_PROTO_ETHERNET
            } else {
                MAC_PROTO_NONE
            };
            Ok(())
        }
        act::PUSH_ETH if headers.mac_proto == MAC_PROTO_NONE => {
            headers.mac_proto = MAC_PROTO_ETHERNET;
            Ok(())
        }
        act::POP_ETH if ethernet && headers.vlan_tci & VLAN_TAG_PRESENT == 0 => {
            headers.mac_proto = MAC_PROTO_NONE;
            Ok(())
        }
        act::HASH => match wire::view::<Hash>(p)?.alg.get() {
            act::HASH_ALG_L4 | act::HASH_ALG_SYM_L4 => Ok(()),
            _ => Err(Errno::Inval),
        },
        act::TRUNC if wire::host_u32(p)? >= ETH_HLEN => Ok(()),
        act::SAMPLE => sample(p, key, *headers, depth),
        act::CLONE => {
            if !p.is_empty() && p.len() < NLA_HDRLEN {
                return Err(Errno::Inval);
            }
            list(p, key, *headers, depth + 1)
        }
        act::CHECK_PKT_LEN => check_pkt_len(p, key, *headers, depth),
        act::DEC_TTL => dec_ttl(p, key, *headers, depth),
        act::DROP if last => Ok(()),
        act::POP_VLAN | act::TRUNC | act::DROP | act::PUSH_ETH | act::POP_ETH => Err(Errno::Inval),
        // An action marked executed without validation here stays refused.
        _ => Err(Errno::OpNotSupp),
    }
}

/// `ovs_ct_copy_action`: the flow must be IPv4 or IPv6.
fn ct(p: &[u8], headers: &Headers) -> Result<(), Errno> {
    let family = conntrack::action::Family::of_eth_type(headers.eth_type)?;
    conntrack::action::parse(p, family).map(|_| ())
}

/// A label of `ethertype` pushed after the L2 header: only onto IP, ARP and
/// MPLS packets without a VLAN tag (a known header order).
fn mpls_over(headers: &mut Headers, ethertype: u16) -> Result<(), Errno> {
    let known = matches!(
        headers.eth_type,
        ETH_P_IP | ETH_P_IPV6 | ETH_P_ARP | ETH_P_RARP
    ) || is_mpls(headers.eth_type);
    if !is_mpls(ethertype) || headers.vlan_tci & VLAN_TAG_PRESENT != 0 || !known {
        return Err(Errno::Inval);
    }
    headers.eth_type = ethertype;
    Ok(())
}

/// ADD_MPLS: after the L2 header with the L3-tunnel flag (as PUSH_MPLS),
/// else in front of the packet, which then has no Ethernet header.
fn add_mpls(m: &AddMpls, headers: &mut Headers) -> Result<(), Errno> {
    let ethertype = m.ethertype.get();
    if !is_mpls(ethertype) {
        return Err(Errno::Inval);
    }
    if m.tun_flags.get() & MPLS_L3_TUNNEL != 0 {
        mpls_over(headers, ethertype)?;
        headers.mpls_labels = headers.mpls_labels.wrapping_add(1);
        return Ok(());
    }
    if headers.mac_proto == MAC_PROTO_ETHERNET {
        headers.mpls_labels = 1;
        headers.mac_proto = MAC_PROTO_NONE;
    } else {
        headers.mpls_labels = headers.mpls_labels.wrapping_add(1);
    }
    headers.eth_type = ethertype;
    Ok(())
}

/// POP_MPLS: only of an MPLS packet without a VLAN tag; once the last label
/// is gone (or the next type is not MPLS), the Ethertype is unknown and no
/// later action may rely on it.
fn pop_mpls(next: u16, headers: &mut Headers) -> Result<(), Errno> {
    if headers.vlan_tci & VLAN_TAG_PRESENT != 0 || !is_mpls(headers.eth_type) {
        return Err(Errno::Inval);
    }
    if next == ETH_P_TEB && headers.mac_proto != MAC_PROTO_NONE {
        return Err(Errno::Inval);
    }
    headers.mpls_labels = headers.mpls_labels.wrapping_sub(1);
    headers.eth_type = if is_mpls(next) && headers.mpls_labels != 0 {
        next
    } else {
        0
    };
    Ok(())
}

/// Minimum payload lengths of the netlink policy types these nests use;
/// shorter is ERANGE (`validate_nla`), longer is tolerated.
const U16_LEN: usize = 2;
const U32_LEN: usize = 4;

fn at_least(a: &Attr<'_>, n: usize) -> Result<(), Errno> {
    if a.len() < n {
        Err(Errno::Range)
    } else {
        Ok(())
    }
}

/// A nested action list attribute: empty, or at least one attribute header.
fn nested_list(a: &Attr<'_>) -> Result<(), Errno> {
    if !a.is_empty() && a.len() < NLA_HDRLEN {
        Err(Errno::Range)
    } else {
        Ok(())
    }
}

/// `validate_userspace`: strict parse (no unknown types, no trailing bytes);
/// PID required and non-zero.
fn userspace(p: &[u8]) -> Result<(), Errno> {
    let mut pid = None;
    for a in attrs(p) {
        let a = a.map_err(|_| Errno::Inval)?;
        match a.ty() {
            act::USERSPACE_PID => {
                at_least(&a, U32_LEN)?;
                pid = a
                    .payload()
                    .first_chunk::<4>()
                    .map(|b| u32::from_ne_bytes(*b));
            }
            act::USERSPACE_EGRESS_TUN_PORT => at_least(&a, U32_LEN)?,
            act::USERSPACE_USERDATA | act::USERSPACE_ACTIONS => {}
            _ => return Err(Errno::Inval),
        }
    }
    match pid {
        Some(pid) if pid != 0 => Ok(()),
        _ => Err(Errno::Inval),
    }
}

/// The members of a nest with types 1..=N, each at most once (others EINVAL
/// unless `skip_unknown`), as payload slices.
fn members<const N: usize>(p: &[u8], skip_unknown: bool) -> Result<[Option<Attr<'_>>; N], Errno> {
    let mut out = [None; N];
    for a in attrs(p) {
        let a = a.map_err(|_| Errno::Inval)?;
        let ty = usize::from(a.ty());
        if ty > N && skip_unknown {
            continue;
        }
        match ty.checked_sub(1).and_then(|i| out.get_mut(i)) {
            Some(slot @ None) => *slot = Some(a),
            _ => return Err(Errno::Inval),
        }
    }
    Ok(out)
}

/// `validate_and_copy_sample`.
fn sample(p: &[u8], key: &FlowKey, headers: Headers, depth: u32) -> Result<(), Errno> {
    let [probability, actions] = members::<2>(p, false)?;
    match (probability, actions) {
        (Some(pr), Some(acts)) if pr.len() == U32_LEN && nested_list(&acts).is_ok() => {
            list(acts.payload(), key, headers, depth + 1)
        }
        _ => Err(Errno::Inval),
    }
}

/// `validate_and_copy_dec_ttl`: unknown members are skipped (future options).
fn dec_ttl(p: &[u8], key: &FlowKey, headers: Headers, depth: u32) -> Result<(), Errno> {
    let [actions] = members::<1>(p, true)?;
    match actions {
        Some(acts) if nested_list(&acts).is_ok() => list(acts.payload(), key, headers, depth + 1),
        _ => Err(Errno::Inval),
    }
}

/// `validate_and_copy_check_pkt_len`: strict parse; a non-zero length and
/// both branches, each validated as an action list.
fn check_pkt_len(p: &[u8], key: &FlowKey, headers: Headers, depth: u32) -> Result<(), Errno> {
    let (mut len, mut greater, mut less_equal) = (None, None, None);
    for a in attrs(p) {
        let a = a.map_err(|_| Errno::Inval)?;
        match a.ty() {
            act::CHECK_PKT_LEN_PKT_LEN => {
                at_least(&a, U16_LEN)?;
                len = a
                    .payload()
                    .first_chunk::<2>()
                    .map(|b| u16::from_ne_bytes(*b));
            }
            act::CHECK_PKT_LEN_IF_GREATER => {
                nested_list(&a)?;
                greater = Some(a.payload());
            }
            act::CHECK_PKT_LEN_IF_LESS_EQUAL => {
                nested_list(&a)?;
                less_equal = Some(a.payload());
            }
            _ => return Err(Errno::Inval),
        }
    }
    match (len, greater, less_equal) {
        (Some(len), Some(greater), Some(less_equal)) if len != 0 => {
            list(less_equal, key, headers, depth + 1)?;
            list(greater, key, headers, depth + 1)
        }
        _ => Err(Errno::Inval),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_match;
    use super::super::testutil::*;
    use super::*;
    use crate::ovs::key as k;
    use std::vec::Vec;

    fn tcp_key() -> FlowKey {
        parse_match(&tcp4(), None).unwrap().key
    }

    fn check(actions: &[Vec<u8>]) -> Result<(), Errno> {
        validate_actions(&actions.concat(), &tcp_key())
    }

    fn output(port: u32) -> Vec<u8> {
        u32a(act::OUTPUT, port)
    }

    fn push_mpls(ethertype: u16) -> Vec<u8> {
        let mut p = [0, 0, 0x41, 0x40].to_vec();
        p.extend_from_slice(&ethertype.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        a(act::PUSH_MPLS, &p)
    }

    fn add_mpls(ethertype: u16, l3_tunnel: bool) -> Vec<u8> {
        let mut p = [0, 0, 0x41, 0x40].to_vec();
        p.extend_from_slice(&ethertype.to_be_bytes());
        p.extend_from_slice(&u16::from(l3_tunnel).to_ne_bytes());
        a(act::ADD_MPLS, &p)
    }

    fn pop_mpls(ethertype: u16) -> Vec<u8> {
        a(act::POP_MPLS, &ethertype.to_be_bytes())
    }

    fn set_mpls(len: usize) -> Vec<u8> {
        nest(act::SET, &[a(k::MPLS, &std::vec![0; len])])
    }

    #[test]
    fn mpls_as_linux_checks_it() {
        // Pushed onto IP, popped back: later IP actions see no Ethertype.
        assert_eq!(check(&[push_mpls(0x8847), set_mpls(4), output(1)]), Ok(()));
        assert_eq!(
            check(&[push_mpls(0x8848), pop_mpls(0x0800), output(1)]),
            Ok(())
        );
        assert_eq!(check(&[push_mpls(0x0800)]), Err(Errno::Inval));
        let set_ip = nest(act::SET, &[ipv4(6, 0)]);
        assert_eq!(
            check(&[push_mpls(0x8847), pop_mpls(0x0800), set_ip.clone()]),
            Err(Errno::Inval)
        );
        assert_eq!(check(&[pop_mpls(0x0800)]), Err(Errno::Inval), "not MPLS");
        assert_eq!(check(&[set_mpls(4)]), Err(Errno::Inval), "not MPLS");
        // Two labels: popping one leaves MPLS, popping both leaves none.
        let two = [push_mpls(0x8847), push_mpls(0x8847)];
        assert_eq!(
            check(&[two.concat(), pop_mpls(0x8847), set_mpls(4)]),
            Ok(())
        );
        assert_eq!(
            check(&[
                two.concat(),
                pop_mpls(0x8847),
                pop_mpls(0x8847),
                set_mpls(4)
            ]),
            Err(Errno::Inval)
        );
        // Not under a VLAN tag.
        let vlan = a(act::PUSH_VLAN, &[0x81, 0, 0x10, 5]);
        assert_eq!(check(&[vlan.clone(), push_mpls(0x8847)]), Err(Errno::Inval));
        let untagged = [vlan, a(act::POP_VLAN, &[]), push_mpls(0x8847)];
        assert_eq!(check(&untagged), Ok(()));
        // Set: one to three whole entries.
        for len in [0, 2, 6, 16] {
            let bad = nest(act::SET, &[a(k::MPLS, &std::vec![0; len])]);
            assert_eq!(check(&[push_mpls(0x8847), bad]), Err(Errno::Inval), "{len}");
        }
        assert_eq!(check(&[push_mpls(0x8847), set_mpls(12)]), Ok(()));
        // The wrong length of the action itself.
        assert_eq!(check(&[a(act::PUSH_MPLS, &[0; 6])]), Err(Errno::Inval));
        assert_eq!(check(&[a(act::POP_MPLS, &[0; 4])]), Err(Errno::Inval));
    }

    #[test]
    fn add_mpls_and_the_l3_tunnel_flag() {
        // Without the flag the label goes in front: no Ethernet header after.
        assert_eq!(check(&[add_mpls(0x8847, false), output(1)]), Ok(()));
        let set_eth = nest(act::SET, &[eth()]);
        assert_eq!(
            check(&[add_mpls(0x8847, false), set_eth.clone()]),
            Err(Errno::Inval)
        );
        assert_eq!(check(&[add_mpls(0x8847, true), set_eth]), Ok(()));
        assert_eq!(check(&[add_mpls(0x86dd, true)]), Err(Errno::Inval));
        // TEB as the next type only once no Ethernet header is left.
        assert_eq!(check(&[add_mpls(0x8847, false), pop_mpls(0x6558)]), Ok(()));
        assert_eq!(
            check(&[push_mpls(0x8847), pop_mpls(0x6558)]),
            Err(Errno::Inval)
        );
    }

    fn nsh_key() -> FlowKey {
        let base = a(k::NSH_BASE, &[0, 63, 1, 1, 0, 0, 1, 255]);
        let md1 = a(k::NSH_MD1, &[0; 16]);
        let stream = [
            u32a(k::IN_PORT, 1),
            be16a(k::ETHERTYPE, 0x894f),
            nest(k::NSH, &[base, md1]),
        ];
        parse_match(&stream.concat(), None).unwrap().key
    }

    fn push_nsh(parts: &[Vec<u8>]) -> Vec<u8> {
        nest(act::PUSH_NSH, &[nest(k::NSH, parts)])
    }

    #[test]
    fn nsh_as_linux_checks_it() {
        let base = |mdtype| a(k::NSH_BASE, &[0, 63, mdtype, 3, 0, 0, 1, 255]);
        let md1 = a(k::NSH_MD1, &[0; 16]);
        let md2 = |len| a(k::NSH_MD2, &std::vec![0; len]);
        assert_eq!(
            check(&[push_nsh(&[base(1), md1.clone()]), output(1)]),
            Ok(())
        );
        assert_eq!(check(&[push_nsh(&[base(2), md2(8)])]), Ok(()));
        for bad in [
            push_nsh(&[base(1)]),
            push_nsh(core::slice::from_ref(&md1)),
            push_nsh(&[base(2), md1.clone()]),
            push_nsh(&[base(1), md2(8)]),
            push_nsh(&[base(2), md2(0)]),
            push_nsh(&[base(2), md2(249)]),
            push_nsh(&[base(1), md1.clone(), md2(8)]),
            push_nsh(&[base(1), a(k::NSH_MD1, &[0; 12])]),
            push_nsh(&[base(1), md1.clone(), a(0, &[])]),
            a(act::PUSH_NSH, &[]),
        ] {
            assert_eq!(
                check(core::slice::from_ref(&bad)),
                Err(Errno::Inval),
                "{bad:02x?}"
            );
        }
        // Linux leaves the Ethertype: no pop right after a push.
        let pushed = push_nsh(&[base(1), md1.clone()]);
        assert_eq!(check(&[pushed, a(act::POP_NSH, &[])]), Err(Errno::Inval));
        // Popped by what the flow's next protocol says; NSH set on NSH flows.
        let nsh = nsh_key();
        let pop = a(act::POP_NSH, &[]);
        assert_eq!(
            validate_actions(&[pop.clone(), output(1)].concat(), &nsh),
            Ok(())
        );
        // The Ethertype stays NSH (Linux): IP rewrites wait for recirculation.
        let set_ip = nest(act::SET, &[ipv4(6, 0)]);
        assert_eq!(
            validate_actions(&[pop.clone(), set_ip].concat(), &nsh),
            Err(Errno::Inval)
        );
        assert_eq!(check(&[pop]), Err(Errno::Inval), "not NSH");
        let set_si = nest(
            act::SET_MASKED,
            &[nest(
                k::NSH,
                &[a(
                    k::NSH_BASE,
                    &[[0, 0, 0, 0, 0, 0, 0, 9], [0, 0, 0, 0, 0, 0, 0, 0xff]].concat(),
                )],
            )],
        );
        assert_eq!(validate_actions(&set_si, &nsh), Ok(()));
        assert_eq!(check(&[set_si]), Err(Errno::Inval), "not NSH");
        let loose = nest(
            act::SET_MASKED,
            &[nest(
                k::NSH,
                &[a(k::NSH_BASE, &[[0, 0, 0, 0, 0, 0, 0, 9], [0; 8]].concat())],
            )],
        );
        assert_eq!(
            validate_actions(&loose, &nsh),
            Err(Errno::Inval),
            "bits outside the mask"
        );
        let md2 = nest(act::SET, &[nest(k::NSH, &[md2(8)])]);
        assert_eq!(validate_actions(&md2, &nsh), Err(Errno::Inval));
        let short = nest(act::SET, &[nest(k::NSH, &[a(k::NSH_BASE, &[0; 4])])]);
        assert_eq!(validate_actions(&short, &nsh), Err(Errno::Inval));
    }

    #[test]
    fn simple_actions() {
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(
            check(&[output(1), output(DP_MAX_PORTS - 1), u32a(act::RECIRC, 9)]),
            Ok(())
        );
        assert_eq!(check(&[output(DP_MAX_PORTS)]), Err(Errno::Inval));
        assert_eq!(check(&[a(act::OUTPUT, &[1, 0])]), Err(Errno::Inval));
        assert_eq!(check(&[u32a(act::TRUNC, 14)]), Ok(()));
        assert_eq!(check(&[u32a(act::TRUNC, 13)]), Err(Errno::Inval));
        let hash = |alg: u32| a(act::HASH, &[alg.to_ne_bytes(), 7u32.to_ne_bytes()].concat());
        assert_eq!(
            check(&[hash(act::HASH_ALG_L4), hash(act::HASH_ALG_SYM_L4)]),
            Ok(())
        );
        assert_eq!(check(&[hash(2)]), Err(Errno::Inval));
        // DROP ends its list.
        assert_eq!(check(&[output(1), u32a(act::DROP, 0)]), Ok(()));
        assert_eq!(check(&[u32a(act::DROP, 0), output(1)]), Err(Errno::Inval));
    }

    #[test]
    fn malformed_lists() {
        assert_eq!(check(&[a(0, &[])]), Err(Errno::Inval));
        assert_eq!(check(&[a(act::LB_OUTPUT + 1, &[0; 4])]), Err(Errno::Inval));
        let mut trailing = output(1);
        trailing.extend_from_slice(&[8, 0]);
        assert_eq!(check(&[trailing]), Err(Errno::Inval));
        assert_eq!(
            check(&[std::vec![12, 0, 1, 0, 1, 0, 0, 0]]),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn actions_not_executed_yet_are_refused_as_unsupported() {
        let not_yet = [nest(act::PSAMPLE, &[u32a(act::PSAMPLE_GROUP, 1)])];
        for action in not_yet {
            assert_eq!(
                check(&[output(1), action.clone()]),
                Err(Errno::OpNotSupp),
                "{action:02x?}"
            );
            // Also inside nested lists, where feature probes put them.
            assert_eq!(check(&[nest(act::CLONE, &[action])]), Err(Errno::OpNotSupp));
        }
        // The length is checked first.
        assert_eq!(check(&[a(act::CT_CLEAR, &[0; 4])]), Err(Errno::Inval));
    }

    #[test]
    fn userspace_datapath_actions_are_unknown_as_in_linux() {
        for action in [
            a(act::TUNNEL_PUSH, &[0; 8]),
            u32a(act::TUNNEL_POP, 1),
            u32a(act::LB_OUTPUT, 1),
        ] {
            assert_eq!(check(&[output(1), action.clone()]), Err(Errno::Inval));
            assert_eq!(check(&[nest(act::CLONE, &[action])]), Err(Errno::Inval));
        }
    }

    #[test]
    fn meter_takes_any_id() {
        for id in [0, 1, u32::MAX] {
            assert_eq!(check(&[u32a(act::METER, id), output(1)]), Ok(()));
        }
        assert_eq!(check(&[a(act::METER, &[0; 2])]), Err(Errno::Inval));
        assert_eq!(check(&[a(act::METER, &[0; 8])]), Err(Errno::Inval));
    }

    #[test]
    fn ct_on_ip_flows() {
        let commit = a(act::CT_COMMIT, &[]);
        assert_eq!(
            check(&[nest(act::CT, core::slice::from_ref(&commit))]),
            Ok(())
        );
        assert_eq!(check(&[nest(act::CT, &[]), a(act::CT_CLEAR, &[])]), Ok(()));
        assert_eq!(
            check(&[nest(act::CT, &[a(act::CT_ZONE, &[1])])]),
            Err(Errno::Inval)
        );
        let arp = FlowKey {
            eth_type: 0x0806,
            ..tcp_key()
        };
        assert_eq!(
            validate_actions(&nest(act::CT, &[]), &arp),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn userspace() {
        let pid = |p: u32| u32a(act::USERSPACE_PID, p);
        let us = |parts: &[Vec<u8>]| check(&[nest(act::USERSPACE, parts)]);
        assert_eq!(us(&[pid(7)]), Ok(()));
        let full = [
            pid(7),
            a(act::USERSPACE_USERDATA, &[1, 2, 3]),
            u32a(act::USERSPACE_EGRESS_TUN_PORT, 4),
            a(act::USERSPACE_ACTIONS, &[]),
        ];
        assert_eq!(us(&full), Ok(()));
        assert_eq!(us(&[]), Err(Errno::Inval));
        assert_eq!(us(&[pid(0)]), Err(Errno::Inval));
        assert_eq!(us(&[a(act::USERSPACE_PID, &[1, 0])]), Err(Errno::Range));
        assert_eq!(
            us(&[pid(7), a(act::USERSPACE_EGRESS_TUN_PORT, &[1])]),
            Err(Errno::Range)
        );
        assert_eq!(
            us(&[pid(7), a(act::USERSPACE_ACTIONS + 1, &[])]),
            Err(Errno::Inval)
        );
        assert_eq!(us(&[pid(7), a(0, &[])]), Err(Errno::Inval));
        // A longer PID is read from its first four bytes.
        assert_eq!(
            us(&[a(act::USERSPACE_PID, &[5, 0, 0, 0, 9, 9, 9, 9])]),
            Ok(())
        );
    }

    #[test]
    fn vlan_actions() {
        let push = |tpid: u16, tci: u16| {
            a(
                act::PUSH_VLAN,
                &[tpid.to_be_bytes(), tci.to_be_bytes()].concat(),
            )
        };
        assert_eq!(
            check(&[
                push(0x8100, 0x1005),
                push(0x88a8, 0x1000),
                a(act::POP_VLAN, &[])
            ]),
            Ok(())
        );
        assert_eq!(check(&[push(0x9100, 0x1005)]), Err(Errno::Inval));
        assert_eq!(check(&[push(0x8100, 0x0005)]), Err(Errno::Inval));
        // No Ethernet header, no VLAN actions.
        let l3 = [be16a(k::ETHERTYPE, 0x0800), ipv4(17, 0), l4(k::UDP, 1, 2)].concat();
        let key = parse_match(&l3, None).unwrap().key;
        assert_eq!(
            validate_actions(&push(0x8100, 0x1001), &key),
            Err(Errno::Inval)
        );
        assert_eq!(
            validate_actions(&a(act::POP_VLAN, &[]), &key),
            Err(Errno::Inval)
        );
        assert_eq!(validate_actions(&output(1), &key), Ok(()));
    }

    #[test]
    fn sample() {
        let prob = u32a(act::SAMPLE_PROBABILITY, u32::MAX / 2);
        let acts = |inner: &[Vec<u8>]| nest(act::SAMPLE_ACTIONS, inner);
        let sample = |parts: &[Vec<u8>]| check(&[nest(act::SAMPLE, parts)]);
        assert_eq!(sample(&[prob.clone(), acts(&[output(2)])]), Ok(()));
        assert_eq!(sample(&[acts(&[]), prob.clone()]), Ok(()));
        assert_eq!(sample(&[acts(&[output(2)])]), Err(Errno::Inval));
        assert_eq!(sample(core::slice::from_ref(&prob)), Err(Errno::Inval));
        assert_eq!(
            sample(&[a(act::SAMPLE_PROBABILITY, &[1, 2]), acts(&[])]),
            Err(Errno::Inval)
        );
        assert_eq!(
            sample(&[prob.clone(), prob.clone(), acts(&[])]),
            Err(Errno::Inval)
        );
        assert_eq!(
            sample(&[prob.clone(), acts(&[]), a(3, &[])]),
            Err(Errno::Inval)
        );
        assert_eq!(
            sample(&[prob.clone(), a(act::SAMPLE_ACTIONS, &[1, 2])]),
            Err(Errno::Inval)
        );
        assert_eq!(
            sample(&[prob, acts(&[output(DP_MAX_PORTS)])]),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn clone_and_dec_ttl() {
        assert_eq!(check(&[nest(act::CLONE, &[output(1)]), output(2)]), Ok(()));
        assert_eq!(check(&[nest(act::CLONE, &[])]), Ok(()));
        assert_eq!(check(&[a(act::CLONE, &[1, 0])]), Err(Errno::Inval));
        assert_eq!(check(&[nest(act::CLONE, &[a(0, &[])])]), Err(Errno::Inval));

        let dec = |parts: &[Vec<u8>]| check(&[nest(act::DEC_TTL, parts)]);
        assert_eq!(
            dec(&[nest(act::DEC_TTL_ACTION, &[u32a(act::USERSPACE, 0)])]),
            Err(Errno::Inval)
        );
        let to_userspace = nest(act::USERSPACE, &[u32a(act::USERSPACE_PID, 1)]);
        assert_eq!(
            dec(&[nest(
                act::DEC_TTL_ACTION,
                core::slice::from_ref(&to_userspace)
            )]),
            Ok(())
        );
        // Unknown members are skipped; the action list is required, once.
        assert_eq!(dec(&[a(9, &[1]), nest(act::DEC_TTL_ACTION, &[])]), Ok(()));
        assert_eq!(dec(&[a(9, &[1])]), Err(Errno::Inval));
        assert_eq!(
            dec(&[a(0, &[]), nest(act::DEC_TTL_ACTION, &[])]),
            Err(Errno::Inval)
        );
        let twice = nest(act::DEC_TTL_ACTION, &[]);
        assert_eq!(dec(&[twice.clone(), twice]), Err(Errno::Inval));
    }

    #[test]
    fn check_pkt_len() {
        let len = |n: u16| a(act::CHECK_PKT_LEN_PKT_LEN, &n.to_ne_bytes());
        let gt = |inner: &[Vec<u8>]| nest(act::CHECK_PKT_LEN_IF_GREATER, inner);
        let le = |inner: &[Vec<u8>]| nest(act::CHECK_PKT_LEN_IF_LESS_EQUAL, inner);
        let cpl = |parts: &[Vec<u8>]| check(&[nest(act::CHECK_PKT_LEN, parts)]);
        assert_eq!(cpl(&[len(100), gt(&[output(1)]), le(&[output(2)])]), Ok(()));
        assert_eq!(cpl(&[len(100), gt(&[]), le(&[])]), Ok(()));
        assert_eq!(cpl(&[len(0), gt(&[]), le(&[])]), Err(Errno::Inval));
        assert_eq!(cpl(&[len(100), gt(&[])]), Err(Errno::Inval));
        assert_eq!(cpl(&[len(100), le(&[])]), Err(Errno::Inval));
        assert_eq!(cpl(&[gt(&[]), le(&[])]), Err(Errno::Inval));
        assert_eq!(
            cpl(&[a(act::CHECK_PKT_LEN_PKT_LEN, &[1]), gt(&[]), le(&[])]),
            Err(Errno::Range)
        );
        let short = a(act::CHECK_PKT_LEN_IF_GREATER, &[1, 2]);
        assert_eq!(cpl(&[len(1), short, le(&[])]), Err(Errno::Range));
        assert_eq!(
            cpl(&[len(1), gt(&[]), le(&[]), a(4, &[])]),
            Err(Errno::Inval)
        );
        assert_eq!(
            cpl(&[len(1), gt(&[]), le(&[output(DP_MAX_PORTS)])]),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn nesting_depth() {
        let mut list = output(1);
        for _ in 0..MAX_ACTIONS_DEPTH {
            list = nest(act::CLONE, &[list]);
        }
        assert_eq!(validate_actions(&list, &tcp_key()), Ok(()));
        let deeper = nest(act::CLONE, &[list]);
        assert_eq!(validate_actions(&deeper, &tcp_key()), Err(Errno::Overflow));
    }
}
