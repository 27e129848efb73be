//! Datapath actions as text (`format_odp_actions`).

use super::ct;
use super::fields;
use super::key_format::{self, MAX_DEPTH};
use super::nl::{Rule, be16, be32, ne16, ne32, parse_nested, read, walk};
use super::nsh;
use super::out::{AltHex, Out, put_bytes, put_hex, put_leftover};
use super::tnl_push;
use super::userspace;
use crate::netlink::Attr;
use crate::ovs::{action as act, key};
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// `odp_action_len`: the payload length an action must have, `None` when
/// it varies, `Some(-1)` for an unknown type.
fn expected_len(ty: u16) -> Option<i32> {
    Some(match ty {
        act::OUTPUT
        | act::LB_OUTPUT
        | act::TRUNC
        | act::TUNNEL_POP
        | act::METER
        | act::RECIRC
        | act::DROP => 4,
        act::PUSH_VLAN => 4,
        act::POP_VLAN | act::CT_CLEAR | act::POP_ETH | act::POP_NSH => 0,
        act::PUSH_MPLS | act::HASH | act::ADD_MPLS => 8,
        act::POP_MPLS => 2,
        act::PUSH_ETH => 12,
        act::TUNNEL_PUSH
        | act::USERSPACE
        | act::SET
        | act::SET_MASKED
        | act::SAMPLE
        | act::CT
        | act::CLONE
        | act::PUSH_NSH
        | act::CHECK_PKT_LEN
        | act::DEC_TTL
        | act::PSAMPLE => return None,
        _ => -1,
    })
}

/// A list of actions; empty is `drop`.
pub(crate) fn actions(o: &mut Out, bytes: &[u8], depth: usize) -> fmt::Result {
    if bytes.is_empty() {
        return o.put("drop");
    }
    if depth >= MAX_DEPTH {
        return o.put("...");
    }
    let mut w = walk(bytes);
    for (n, a) in w.by_ref().enumerate() {
        if n > 0 {
            o.ch(',')?;
        }
        action(o, &a, depth)?;
    }
    put_leftover(o, bytes, w.left(), w.left_at())
}

/// `actionN(xx xx ...)`.
fn generic(o: &mut Out, a: &Attr<'_>) -> fmt::Result {
    write!(o, "action{}", a.ty())?;
    if !a.is_empty() {
        o.ch('(')?;
        put_bytes(o, a.payload(), Some(' '))?;
        o.ch(')')?;
    }
    Ok(())
}

/// The attribute at the start of a payload, as OVS reads it: without
/// checking it against the payload, so its bytes run on into whatever
/// follows in the buffer (and, here, into zeros past the buffer's end).
enum Inner<'s> {
    Within(Attr<'s>),
    Extended(u16, Vec<u8>),
}

impl Inner<'_> {
    fn attr(&self) -> Attr<'_> {
        match self {
            Inner::Within(a) => *a,
            Inner::Extended(ty, v) => Attr::new(*ty, v),
        }
    }
}

fn inner<'a: 's, 's>(o: &Out<'a>, payload: &'s [u8]) -> Result<Inner<'s>, fmt::Error> {
    let e = o.ext(payload);
    let len = usize::from(ne16(e, 0)).max(4);
    let ty = ne16(e, 2);
    if let Some(p) = e.get(4..len) {
        return Ok(Inner::Within(Attr::new(ty, p)));
    }
    let mut v = Vec::new();
    v.try_reserve(len - 4).map_err(|_| fmt::Error)?;
    v.extend_from_slice(e.get(4..).unwrap_or_default());
    v.resize(len - 4, 0);
    Ok(Inner::Extended(ty, v))
}

fn action(o: &mut Out, a: &Attr<'_>, depth: usize) -> fmt::Result {
    let ty = a.ty();
    let p = a.payload();
    if let Some(want) = expected_len(ty)
        && i64::from(want) != p.len() as i64
    {
        write!(o, "bad length {}, expected {want} for: ", p.len())?;
        return generic(o, a);
    }
    match ty {
        act::METER => write!(o, "meter({})", ne32(p, 0)),
        act::OUTPUT => write!(o, "{}", ne32(p, 0)),
        act::LB_OUTPUT => write!(o, "lb_output({})", ne32(p, 0)),
        act::TRUNC => write!(o, "trunc({})", ne32(p, 0)),
        act::TUNNEL_POP => write!(o, "tnl_pop({})", ne32(p, 0)),
        act::TUNNEL_PUSH => tnl_push::format(o, p),
        act::USERSPACE => userspace::format(o, p),
        act::RECIRC => write!(o, "recirc({})", AltHex(ne32(p, 0).into())),
        act::HASH => {
            let (alg, basis) = (ne32(p, 0), ne32(p, 4));
            match alg {
                act::HASH_ALG_L4 => write!(o, "hash(l4({basis}))"),
                act::HASH_ALG_SYM_L4 => write!(o, "hash(sym_l4({basis}))"),
                _ => write!(o, "hash(Unknown hash algorithm({alg}))"),
            }
        }
        act::SET_MASKED => set_masked(o, p, depth),
        act::SET => {
            o.put("set(")?;
            let a = inner(o, p)?;
            key_format::attr(o, &a.attr(), None, true, depth + 1)?;
            o.ch(')')
        }
        act::PUSH_ETH => {
            o.put("push_eth(src=")?;
            super::addr::put_eth(o, &read(p, 0))?;
            o.put(",dst=")?;
            super::addr::put_eth(o, &read(p, 6))?;
            o.ch(')')
        }
        act::POP_ETH => o.put("pop_eth"),
        act::PUSH_VLAN => {
            o.put("push_vlan(")?;
            let tpid = be16(p, 0);
            if tpid != 0x8100 {
                write!(o, "tpid=0x{tpid:04x},")?;
            }
            fields::vlan_tci(o, be16(p, 2), u16::MAX, false)?;
            o.ch(')')
        }
        act::POP_VLAN => o.put("pop_vlan"),
        act::PUSH_MPLS | act::ADD_MPLS => {
            o.put(if ty == act::PUSH_MPLS {
                "push_mpls("
            } else {
                "add_mpls("
            })?;
            fields::mpls_lse(o, be32(p, 0))?;
            write!(o, ",eth_type=0x{:x})", be16(p, 4))
        }
        act::POP_MPLS => write!(o, "pop_mpls(eth_type=0x{:x})", be16(p, 0)),
        act::SAMPLE => sample(o, p, depth),
        act::CT => ct::format(o, p),
        act::CT_CLEAR => o.put("ct_clear"),
        act::CLONE => {
            o.put("clone(")?;
            actions(o, p, depth + 1)?;
            o.ch(')')
        }
        act::PUSH_NSH => {
            let a = inner(o, p)?;
            nsh::push(o, a.attr().payload())
        }
        act::POP_NSH => o.put("pop_nsh()"),
        act::CHECK_PKT_LEN => check_pkt_len(o, p, depth),
        act::DEC_TTL => {
            o.put("dec_ttl(le_1(")?;
            if let Some(list) = walk(p).find(|x| x.ty() == act::DEC_TTL_ACTION) {
                actions(o, list.payload(), depth + 1)?;
            }
            o.put("))")
        }
        act::DROP => o.put("drop"),
        act::PSAMPLE => psample(o, p),
        _ => generic(o, a),
    }
}

/// `set(...)` of a masked set: the key attribute's payload is value then
/// mask, each half of it.
fn set_masked(o: &mut Out, p: &[u8], depth: usize) -> fmt::Result {
    let a = inner(o, p)?;
    let a = a.attr();
    if a.ty() == key::NSH {
        return nsh::set_masked(o, a.payload());
    }
    o.put("set(")?;
    let half = a.len() / 2;
    if half <= 40 {
        let v = a.payload();
        let k = Attr::new(a.ty(), v.get(..half).unwrap_or_default());
        let m = Attr::new(a.ty(), v.get(half..2 * half).unwrap_or_default());
        key_format::attr(o, &k, Some(&m), false, depth + 1)?;
    } else {
        key_format::attr(o, &a, None, false, depth + 1)?;
    }
    o.ch(')')
}

fn sample(o: &mut Out, p: &[u8], depth: usize) -> fmt::Result {
    o.put("sample")?;
    let Some([_, Some(prob), Some(acts)]) = parse_nested(p, &[Rule::NONE, Rule::U32, Rule::ANY])
    else {
        return o.put("(error)");
    };
    let percent = (100.0 * f64::from(ne32(prob.payload(), 0))) / f64::from(u32::MAX);
    write!(o, "(sample={percent:.1}%,actions(")?;
    actions(o, acts.payload(), depth + 1)?;
    o.put("))")
}

fn check_pkt_len(o: &mut Out, p: &[u8], depth: usize) -> fmt::Result {
    o.put("check_pkt_len")?;
    let Some([_, Some(len), Some(gt), Some(le)]) =
        parse_nested(p, &[Rule::NONE, Rule::U16, Rule::ANY, Rule::ANY])
    else {
        return o.put("(error)");
    };
    write!(o, "(size={},gt(", ne16(len.payload(), 0))?;
    actions(o, gt.payload(), depth + 1)?;
    o.put("),le(")?;
    actions(o, le.payload(), depth + 1)?;
    o.put("))")
}

/// `psample(group=N,cookie=0x...)`; the sub-attribute types are compared
/// with their flag bits, as OVS does.
fn psample(o: &mut Out, p: &[u8]) -> fmt::Result {
    o.put("psample(")?;
    for a in walk(p) {
        match a.raw_type() {
            act::PSAMPLE_GROUP => write!(o, "group={},", ne32(o.ext(a.payload()), 0))?,
            act::PSAMPLE_COOKIE => {
                o.put("cookie=")?;
                put_hex(o, a.payload())?;
            }
            _ => {}
        }
    }
    o.chomp(',');
    o.ch(')')
}
