//! The action-list walker: one loop per list, nested lists run at once on a
//! copy while nesting levels last, then deferred, and in the last position
//! continued in the same loop (see the module documentation of `actions`).

use alloc::vec::Vec;
use core::ops::Range;

use super::headers::ETH_HLEN;
use super::set::{self, DecTtl};
use super::{Env, Fault, Outcome, Userspace, Verdict, eth, hash, mpls, nsh, vlan};
use crate::flow::FlowKey;
use crate::flow::key::MAC_PROTO_ETHERNET;
use crate::netlink::{Attr, NLA_HDRLEN, align, attrs};
use crate::offload::Segments;
use crate::ovs::action as a;
use crate::packet::Packet;

/// Nested lists run at once, each on its own key copy, before deferring
/// (Linux `OVS_DEFERRED_ACTION_THRESHOLD`).
pub const NEST_LEVELS: usize = 3;
/// Nested lists deferred per [`execute`] call before they are dropped
/// (Linux `DEFERRED_ACTION_FIFO_SIZE`).
pub const DEFER_CAPACITY: usize = 10;

/// `OVS_MPLS_L3_TUNNEL_FLAG_MASK` of ADD_MPLS.
const MPLS_L3_TUNNEL: u16 = 1 << 0;

/// Attribute types of the form Linux stores validated actions in.
const CLONE_ATTR_EXEC: u16 = 0;
const SAMPLE_ATTR_ARG: u16 = 3;
const CHECK_PKT_LEN_ATTR_ARG: u16 = 4;

/// Scratch space for [`execute`]: the keys of nested lists and the deferred
/// list FIFO (about `(NEST_LEVELS + 1 + DEFER_CAPACITY) * 552` bytes, all
/// allocated up front). One per concurrent executor (per processor), reused
/// for every packet; it holds nothing between calls.
pub struct ExecContext<P> {
    /// One key per nesting level, then the key of the deferred list being
    /// run (on the heap: the context stays small wherever it is built).
    levels: Vec<FlowKey>,
    fifo: Fifo<P>,
}

impl<P: Packet> ExecContext<P> {
    /// `None` when out of memory.
    pub fn try_new() -> Option<ExecContext<P>> {
        Some(ExecContext {
            levels: keys(NEST_LEVELS + 1)?,
            fifo: Fifo {
                keys: keys(DEFER_CAPACITY)?,
                entries: slots(DEFER_CAPACITY)?,
                head: 0,
                tail: 0,
            },
        })
    }
}

fn keys(n: usize) -> Option<Vec<FlowKey>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.resize(n, FlowKey::default());
    Some(v)
}

fn slots<T>(n: usize) -> Option<Vec<Option<T>>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.resize_with(n, || None);
    Some(v)
}

/// A deferred list: its packet, pending truncation, egress tunnel, and
/// where the list and tunnel key are in the top-level action bytes.
struct Entry<P> {
    pkt: P,
    cutlen: usize,
    tunnel: Option<Range<usize>>,
    list: Range<usize>,
}

/// Like Linux's per-CPU action FIFO, slots are not reused until it has been
/// drained, so one [`execute`] defers at most `DEFER_CAPACITY` lists.
struct Fifo<P> {
    keys: Vec<FlowKey>,
    /// On the heap, as the keys: the context is built on the stack.
    entries: Vec<Option<Entry<P>>>,
    head: usize,
    tail: usize,
}

impl<P> Fifo<P> {
    fn has_room(&self) -> bool {
        self.tail < self.entries.len().min(self.keys.len())
    }

    fn push(&mut self, entry: Entry<P>, key: &FlowKey) -> Result<(), Entry<P>> {
        match (
            self.entries.get_mut(self.tail),
            self.keys.get_mut(self.tail),
        ) {
            (Some(slot), Some(k)) => {
                *k = *key;
                *slot = Some(entry);
                self.tail += 1;
                Ok(())
            }
            _ => Err(entry),
        }
    }

    /// The oldest entry, its key copied into `key`.
    fn pop(&mut self, key: &mut FlowKey) -> Option<Entry<P>> {
        while self.head < self.tail {
            let i = self.head;
            self.head += 1;
            let entry = self.entries.get_mut(i).and_then(Option::take);
            if let (Some(entry), Some(k)) = (entry, self.keys.get(i)) {
                *key = *k;
                return Some(entry);
            }
        }
        self.head = 0;
        self.tail = 0;
        None
    }
}

/// Executes `actions` (an `OVS_ACTION_ATTR_*` stream) on `pkt`, whose flow
/// key is `key`, then the lists that had to be deferred. `key` follows the
/// packet's rewrites. Never panics, always terminates; returns what was
/// dropped or skipped, and why.
pub fn execute<P: Packet, E: Env<P>>(
    ctx: &mut ExecContext<P>,
    env: &mut E,
    pkt: P,
    key: &mut FlowKey,
    actions: &[u8],
) -> Outcome {
    // The most common megaflow sends the packet to one port: no walk needed.
    if let Some(port) = single_output(actions).filter(|_| key.mac_proto == MAC_PROTO_ETHERNET) {
        env.output(port, pkt);
        return Outcome::default();
    }
    // The FIFO is empty here: the previous call drained it to the end.
    let mut run = Run {
        env,
        fifo: &mut ctx.fifo,
        top: actions,
        out: Outcome::default(),
    };
    let fresh = Meta {
        cutlen: 0,
        tunnel: None,
    };
    let Some((drain, levels)) = ctx.levels.split_last_mut() else {
        return run.out;
    };
    run.list(levels, pkt, fresh, key, actions);
    while let Some(entry) = run.fifo.pop(drain) {
        let list = actions.get(entry.list).unwrap_or_default();
        let meta = Meta {
            cutlen: entry.cutlen,
            tunnel: entry.tunnel.and_then(|t| actions.get(t)),
        };
        run.list(levels, entry.pkt, meta, drain, list);
    }
    run.out
}

/// The port of a list that is exactly one OUTPUT action.
#[inline]
fn single_output(actions: &[u8]) -> Option<u32> {
    let [l0, l1, t0, t1, p0, p1, p2, p3] =
        *actions.first_chunk::<8>().filter(|_| actions.len() == 8)?;
    let single = u16::from_ne_bytes([l0, l1]) == 8
        && u16::from_ne_bytes([t0, t1]) & crate::netlink::NLA_TYPE_MASK == a::OUTPUT;
    single.then_some(u32::from_ne_bytes([p0, p1, p2, p3]))
}

/// What travels with a packet through a list besides its key: bytes to cut
/// at the next output, and the tunnel key a `set(tunnel)` gave it (the nest,
/// in the action bytes), which an output to a tunnel vport encapsulates with.
#[derive(Clone, Copy)]
struct Meta<'a> {
    cutlen: usize,
    tunnel: Option<&'a [u8]>,
}

struct Run<'r, 'a, P, E> {
    env: &'r mut E,
    fifo: &'r mut Fifo<P>,
    /// The top-level list: every nested list is a part of it.
    top: &'a [u8],
    out: Outcome,
}

impl<'a, P: Packet, E: Env<P>> Run<'_, 'a, P, E> {
    /// Counts `fault`; true if the packet is dropped (all but `Malformed`).
    fn fail(&mut self, fault: Fault) -> bool {
        self.out.count(fault);
        fault != Fault::Malformed
    }

    /// Sends `pkt` out of `port`, with its egress tunnel key if it has one.
    fn output(&mut self, port: u32, pkt: P, meta: Meta<'a>, key: &FlowKey) {
        match meta.tunnel {
            Some(tunnel) => self.env.output_tunnel(port, pkt, tunnel, key),
            None => self.env.output(port, pkt),
        }
    }

    /// Runs `list` on `pkt` (with `meta.cutlen` bytes to cut at the next
    /// output) to its end, which consumes the packet. `levels` are the key
    /// slots left for nested lists.
    fn list(
        &mut self,
        levels: &mut [FlowKey],
        mut pkt: P,
        mut meta: Meta<'a>,
        key: &mut FlowKey,
        mut list: &'a [u8],
    ) {
        'list: loop {
            let mut it = attrs(list).map_while(Result::ok).peekable();
            while let Some(act) = it.next() {
                let last = it.peek().is_none();
                match act.ty() {
                    a::OUTPUT => {
                        let Some(port) = act.u32() else {
                            self.fail(Fault::Malformed);
                            continue;
                        };
                        // Every port sends Ethernet frames.
                        if key.mac_proto != MAC_PROTO_ETHERNET {
                            self.out.not_ethernet = self.out.not_ethernet.saturating_add(1);
                            self.env.refuse(port);
                            if last {
                                return;
                            }
                            meta.cutlen = 0;
                            continue;
                        }
                        if last {
                            trim(&mut pkt, meta.cutlen);
                            self.output(port, pkt, meta, key);
                            return;
                        }
                        match pkt.try_clone() {
                            Some(mut copy) => {
                                trim(&mut copy, meta.cutlen);
                                self.output(port, copy, meta, key);
                            }
                            None => self.out.count(Fault::NoMemory),
                        }
                        meta.cutlen = 0;
                    }
                    a::USERSPACE => {
                        if let Err(f) = self.userspace(&mut pkt, meta, key, act, list, last) {
                            self.fail(f);
                            continue;
                        }
                        meta.cutlen = 0;
                    }
                    a::TRUNC => match act.u32() {
                        Some(max) => {
                            let max = usize::try_from(max).unwrap_or(usize::MAX);
                            if let Some(cut) = pkt.len().checked_sub(max).filter(|&c| c > 0) {
                                meta.cutlen = cut;
                            }
                        }
                        None => {
                            self.fail(Fault::Malformed);
                        }
                    },
                    a::RECIRC => {
                        let Some(id) = act.u32() else {
                            self.fail(Fault::Malformed);
                            continue;
                        };
                        if last {
                            self.recirc(pkt, key, id);
                            return;
                        }
                        match pkt.try_clone() {
                            Some(copy) => self.recirc(copy, key, id),
                            None => self.out.count(Fault::NoMemory),
                        }
                    }
                    a::DROP => {
                        self.out.explicit = self.out.explicit.saturating_add(1);
                        return;
                    }
                    a::METER => {
                        let Some(id) = act.u32() else {
                            self.fail(Fault::Malformed);
                            continue;
                        };
                        if self.env.meter(id, pkt.len()) {
                            self.out.metered = self.out.metered.saturating_add(1);
                            return;
                        }
                    }
                    a::SAMPLE | a::CLONE | a::CHECK_PKT_LEN => {
                        match self.branch(act, measured(&pkt, key)) {
                            Ok(Some(nested)) if last => {
                                list = nested;
                                continue 'list;
                            }
                            Ok(Some(nested)) => self.nested(levels, &pkt, meta, key, nested),
                            Ok(None) if last => return,
                            Ok(None) => {}
                            Err(f) => {
                                if self.fail(f) {
                                    return;
                                }
                            }
                        }
                    }
                    a::CT => match self.env.conntrack(&mut pkt, key, act.payload()) {
                        Verdict::Continue => {}
                        // A fragment kept until its datagram is whole.
                        Verdict::Held => return,
                        Verdict::Drop => {
                            self.out.conntrack = self.out.conntrack.saturating_add(1);
                            return;
                        }
                    },
                    a::DEC_TTL => match set::dec_ttl(&mut pkt, key) {
                        Ok(DecTtl::Done) => {}
                        // Expired: the exception list replaces the rest.
                        Ok(DecTtl::Expired) => match dec_ttl_exception(act) {
                            Some(nested) => {
                                list = nested;
                                continue 'list;
                            }
                            None => return,
                        },
                        Err(f) => {
                            if self.fail(f) {
                                return;
                            }
                        }
                    },
                    _ => {
                        if let Some(tunnel) = set_tunnel(act) {
                            meta.tunnel = Some(tunnel);
                        } else if let Err(f) = modify(&mut pkt, key, act)
                            && self.fail(f)
                        {
                            return;
                        }
                    }
                }
            }
            return;
        }
    }

    /// Runs a nested list on a copy of the packet and key: at once if a
    /// nesting level is free, else deferred, else dropped.
    fn nested(
        &mut self,
        levels: &mut [FlowKey],
        pkt: &P,
        meta: Meta<'a>,
        key: &FlowKey,
        list: &'a [u8],
    ) {
        if list.is_empty() {
            return;
        }
        if levels.is_empty() && !self.fifo.has_room() {
            self.out.overflow = self.out.overflow.saturating_add(1);
            return;
        }
        let Some(copy) = pkt.try_clone() else {
            self.out.count(Fault::NoMemory);
            return;
        };
        match levels.split_first_mut() {
            Some((level_key, deeper)) => {
                *level_key = *key;
                self.list(deeper, copy, meta, level_key, list);
            }
            None => {
                let tunnel = meta.tunnel.map(|t| span(self.top, t));
                let deferred = span(self.top, list)
                    .filter(|_| tunnel.as_ref().is_none_or(Option::is_some))
                    .map(|list| Entry {
                        pkt: copy,
                        cutlen: meta.cutlen,
                        tunnel: tunnel.flatten(),
                        list,
                    });
                if deferred.is_none_or(|e| self.fifo.push(e, key).is_err()) {
                    self.out.overflow = self.out.overflow.saturating_add(1);
                }
            }
        }
    }

    /// The upcall of a `userspace` action; a pending truncation applies to
    /// the packet sent up (cut on a copy unless this is the last action).
    fn userspace(
        &mut self,
        pkt: &mut P,
        meta: Meta<'a>,
        key: &FlowKey,
        act: Attr<'a>,
        list: &'a [u8],
        last: bool,
    ) -> Result<(), Fault> {
        let mut pid = None;
        let mut up = Userspace {
            pid: 0,
            userdata: None,
            egress_tun_port: None,
            egress_tunnel: None,
            actions: None,
            original_len: None,
        };
        for attr in act.nested().map_while(Result::ok) {
            match attr.ty() {
                a::USERSPACE_PID => pid = attr.u32(),
                a::USERSPACE_USERDATA => up.userdata = Some(attr.payload()),
                a::USERSPACE_EGRESS_TUN_PORT => up.egress_tun_port = attr.u32(),
                a::USERSPACE_ACTIONS => up.actions = Some(list),
                _ => {}
            }
        }
        up.pid = pid.ok_or(Fault::Malformed)?;
        if up.egress_tun_port.is_some() {
            up.egress_tunnel = meta.tunnel;
        }
        let cutlen = meta.cutlen;
        if cutlen == 0 {
            self.env.userspace(pkt, key, &up);
            return Ok(());
        }
        up.original_len = Some(u32::try_from(pkt.len()).unwrap_or(u32::MAX));
        if last {
            trim(pkt, cutlen);
            self.env.userspace(pkt, key, &up);
        } else if let Some(mut copy) = pkt.try_clone() {
            trim(&mut copy, cutlen);
            self.env.userspace(&copy, key, &up);
        } else {
            self.out.count(Fault::NoMemory);
        }
        Ok(())
    }

    /// Hands `pkt` to recirculation with `key`'s `recirc_id` set to `id`
    /// for it (the key itself keeps its own).
    fn recirc(&mut self, pkt: P, key: &mut FlowKey, id: u32) {
        let own = core::mem::replace(&mut key.recirc_id, id);
        self.env.recirc(pkt, key);
        key.recirc_id = own;
    }

    /// The nested list that a `sample`, `clone` or `check_pkt_len` runs for
    /// a packet of `len` bytes; `None` if it runs none.
    fn branch(&mut self, act: Attr<'a>, len: usize) -> Result<Option<&'a [u8]>, Fault> {
        let payload = act.payload();
        match act.ty() {
            a::SAMPLE => self.sample(payload),
            a::CLONE => Ok(Some(clone_list(payload))),
            _ => check_pkt_len(payload, len).map(Some),
        }
    }

    /// Draws whether a `sample` runs: always at `u32::MAX`, never at 0,
    /// else when 32 random bits are at most the probability.
    fn sample(&mut self, payload: &'a [u8]) -> Result<Option<&'a [u8]>, Fault> {
        let first = attrs(payload)
            .next()
            .and_then(Result::ok)
            .ok_or(Fault::Malformed)?;
        let (probability, list) = if first.ty() == SAMPLE_ATTR_ARG {
            let arg = first.payload().get(4..8).ok_or(Fault::Malformed)?;
            let probability = u32::from_ne_bytes(arg.try_into().map_err(|_| Fault::Malformed)?);
            (probability, after(payload, &first))
        } else {
            let mut probability = None;
            let mut list: &[u8] = &[];
            for attr in attrs(payload).map_while(Result::ok) {
                match attr.ty() {
                    a::SAMPLE_PROBABILITY => probability = attr.u32(),
                    a::SAMPLE_ACTIONS => list = attr.payload(),
                    _ => {}
                }
            }
            (probability.ok_or(Fault::Malformed)?, list)
        };
        let taken =
            probability == u32::MAX || (probability != 0 && self.env.random() <= probability);
        Ok(taken.then_some(list))
    }
}

/// Executes an action that changes the packet or key in place.
#[inline(never)]
fn modify<P: Packet>(pkt: &mut P, key: &mut FlowKey, act: Attr<'_>) -> Result<(), Fault> {
    match act.ty() {
        a::PUSH_VLAN => {
            let [t0, t1, c0, c1] = act.payload().try_into().map_err(|_| Fault::Malformed)?;
            let tpid = u16::from_be_bytes([t0, t1]);
            vlan::push(pkt, key, tpid, u16::from_be_bytes([c0, c1]))
        }
        a::POP_VLAN => vlan::pop(pkt, key),
        a::PUSH_MPLS | a::ADD_MPLS => {
            let [l0, l1, l2, l3, t0, t1, f0, f1] =
                act.payload().try_into().map_err(|_| Fault::Malformed)?;
            let ethertype = u16::from_be_bytes([t0, t1]);
            // PUSH_MPLS goes after the L2 header; ADD_MPLS only with its
            // L3-tunnel flag (its last two bytes, in host order).
            let after_l2 =
                act.ty() == a::PUSH_MPLS || u16::from_ne_bytes([f0, f1]) & MPLS_L3_TUNNEL != 0;
            mpls::push(pkt, key, [l0, l1, l2, l3], ethertype, after_l2)
        }
        a::PUSH_ETH => {
            let addresses = act.payload().try_into().map_err(|_| Fault::Malformed)?;
            eth::push(pkt, key, addresses)
        }
        a::POP_ETH => eth::pop(pkt, key),
        a::PUSH_NSH => nsh::push(pkt, key, act.payload()),
        a::POP_NSH => nsh::pop(pkt, key),
        a::POP_MPLS => {
            let [t0, t1] = act.payload().try_into().map_err(|_| Fault::Malformed)?;
            mpls::pop(pkt, key, u16::from_be_bytes([t0, t1]))
        }
        a::SET | a::SET_MASKED => {
            let field = act
                .nested()
                .next()
                .and_then(Result::ok)
                .ok_or(Fault::Malformed)?;
            set::set(pkt, key, field, act.ty() == a::SET_MASKED)
        }
        a::HASH => {
            let [a0, a1, a2, a3, b0, b1, b2, b3] =
                act.payload().try_into().map_err(|_| Fault::Malformed)?;
            let alg = u32::from_ne_bytes([a0, a1, a2, a3]);
            let basis = u32::from_ne_bytes([b0, b1, b2, b3]);
            key.dp_hash = hash::dp_hash(key, basis, alg == a::HASH_ALG_SYM_L4);
            Ok(())
        }
        a::CT_CLEAR => {
            key.clear_conntrack();
            Ok(())
        }
        // Tunnel push/pop,
        // PSAMPLE, LB_OUTPUT, and types this datapath does not know.
        _ => Err(Fault::Unsupported),
    }
}

/// The tunnel key nest of a `set(tunnel(...))` (the packet's egress tunnel
/// key: the flow key keeps the tunnel the packet arrived by, as in Linux).
fn set_tunnel<'a>(act: Attr<'a>) -> Option<&'a [u8]> {
    if act.ty() != a::SET {
        return None;
    }
    let field = act.nested().next()?.ok()?;
    (field.ty() == crate::ovs::key::TUNNEL).then(|| field.payload())
}

/// Cuts `cutlen` bytes off the end, never into the Ethernet header.
fn trim<P: Packet>(pkt: &mut P, cutlen: usize) {
    if cutlen > 0
        && let Some(keep) = pkt.len().checked_sub(cutlen)
    {
        pkt.truncate(keep.max(ETH_HLEN));
    }
}

/// The bytes of `payload` after its attribute `first`.
fn after<'a>(payload: &'a [u8], first: &Attr<'a>) -> &'a [u8] {
    payload
        .get(align(NLA_HDRLEN + first.len())..)
        .unwrap_or_default()
}

/// A clone's list, past Linux's `OVS_CLONE_ATTR_EXEC` if it has one.
fn clone_list(payload: &[u8]) -> &[u8] {
    match attrs(payload).next() {
        Some(Ok(first)) if first.ty() == CLONE_ATTR_EXEC => after(payload, &first),
        _ => payload,
    }
}

/// The length `check_pkt_len` measures: a reassembled packet's MRU and L2
/// header (what its largest fragment was), else the packet's; a large send
/// its sender left the NIC to cut, by its largest frame once cut (as
/// Linux's `execute_check_pkt_len` with `skb_gso_validate_mac_len`).
fn measured<P: Packet>(pkt: &P, key: &FlowKey) -> usize {
    let whole = match pkt.mru() {
        0 => pkt.len(),
        mru => usize::from(mru) + mpls::mac_len(pkt, key).unwrap_or(0),
    };
    let segments = pkt.offload().lso.map(|lso| Segments::new(pkt.data(), lso));
    match segments {
        // The first segment is the longest.
        Some(Ok(s)) => whole.min(s.len_of(0)),
        _ => whole,
    }
}

/// The branch of a `check_pkt_len` a packet of `len` bytes takes.
fn check_pkt_len(payload: &[u8], len: usize) -> Result<&[u8], Fault> {
    let mut max = None;
    let (mut greater, mut less_equal): (&[u8], &[u8]) = (&[], &[]);
    for attr in attrs(payload).map_while(Result::ok) {
        match attr.ty() {
            a::CHECK_PKT_LEN_PKT_LEN => max = attr.u16(),
            CHECK_PKT_LEN_ATTR_ARG => {
                max = attr
                    .payload()
                    .first_chunk::<2>()
                    .map(|b| u16::from_ne_bytes(*b))
            }
            a::CHECK_PKT_LEN_IF_GREATER => greater = attr.payload(),
            a::CHECK_PKT_LEN_IF_LESS_EQUAL => less_equal = attr.payload(),
            _ => {}
        }
    }
    let max = max.ok_or(Fault::Malformed)?;
    Ok(if len <= usize::from(max) {
        less_equal
    } else {
        greater
    })
}

/// The actions a `dec_ttl` runs when the TTL expires, if it has any.
fn dec_ttl_exception<'a>(act: Attr<'a>) -> Option<&'a [u8]> {
    act.nested()
        .map_while(Result::ok)
        .find(|attr| attr.ty() == a::DEC_TTL_ACTION)
        .map(|attr| attr.payload())
        .filter(|list| !list.is_empty())
}

/// Where `list`, a part of `top`, lies in it.
fn span(top: &[u8], list: &[u8]) -> Option<Range<usize>> {
    let start = (list.as_ptr() as usize).checked_sub(top.as_ptr() as usize)?;
    let range = start..start.checked_add(list.len())?;
    let found = top.get(range.clone())?;
    (found.as_ptr() == list.as_ptr()).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::single_output;

    fn attr(ty: u16, payload: &[u8]) -> std::vec::Vec<u8> {
        let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn only_a_lone_output_takes_the_short_way() {
        assert_eq!(single_output(&attr(1, &7u32.to_ne_bytes())), Some(7));
        assert_eq!(
            single_output(&attr(1 | 0x8000, &7u32.to_ne_bytes())),
            Some(7)
        );
        let two = [attr(1, &7u32.to_ne_bytes()), attr(1, &8u32.to_ne_bytes())].concat();
        assert_eq!(single_output(&two), None);
        assert_eq!(single_output(&attr(7, &7u32.to_ne_bytes())), None, "recirc");
        assert_eq!(single_output(&attr(1, &[7, 0])), None);
        assert_eq!(single_output(&[]), None);
    }
}
