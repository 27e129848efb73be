//! The flow family (`ovs_flow`): install, change, delete, read and dump
//! megaflows, identified by UFID or by key, with Linux's reply contents.

use super::{Command, Ctx, DevOp, Fail, Family, Ops, Reply};
use crate::datapath::FlowActions;
use crate::flow::attrs::{Match, emit_key, emit_mask, parse_match, validate_actions};
use crate::flow::key::FlowKey;
use crate::flow::table::{FlowId, FlowRef, FlowStats, FlowTable, Step, Ufid};
use crate::netlink::{
    AttrPolicy, Errno, MsgHeader, NLM_F_CREATE, NLM_F_EXCL, NLM_F_MULTI, NLMSG_DONE, NlBuf,
    Overflow, Parsed, parse,
};
use crate::ovs::{family as fam, flow as of};
use crate::status::NtStatus;

pub static FAMILY: Family = Family {
    id: fam::FLOW,
    version: fam::FLOW_VERSION,
    commands: &[
        Command {
            cmd: of::CMD_NEW,
            ops: Ops::TRANSACT,
            check_dp: true,
            handler: new,
        },
        Command {
            cmd: of::CMD_DEL,
            ops: Ops::TRANSACT,
            check_dp: true,
            handler: del,
        },
        Command {
            cmd: of::CMD_GET,
            ops: Ops::all(),
            check_dp: true,
            handler: get,
        },
        Command {
            cmd: of::CMD_SET,
            ops: Ops::TRANSACT,
            check_dp: true,
            handler: set,
        },
    ],
};

const POLICY: [AttrPolicy; 11] = [
    AttrPolicy::IGNORED,
    AttrPolicy::NESTED.optional(),                         // KEY
    AttrPolicy::NESTED.optional(),                         // ACTIONS
    AttrPolicy::IGNORED,                                   // STATS
    AttrPolicy::IGNORED,                                   // TCP_FLAGS
    AttrPolicy::IGNORED,                                   // USED
    AttrPolicy::FLAG.optional(),                           // CLEAR
    AttrPolicy::NESTED.optional(),                         // MASK
    AttrPolicy::FLAG.optional(),                           // PROBE
    AttrPolicy::bytes(1, Ufid::MAX_LEN as u16).optional(), // UFID
    AttrPolicy::U32.optional(),                            // UFID_FLAGS
];

type Attrs<'a> = Parsed<'a, 11>;

const INVALID: Fail = Fail::Status(NtStatus::INVALID_PARAMETER);

fn attrs<'a>(ctx: &Ctx<'a>) -> Result<Attrs<'a>, Fail> {
    parse(ctx.msg.attr_bytes(), &POLICY).map_err(|_| INVALID)
}

fn ufid(a: &Attrs<'_>) -> Result<Option<Ufid>, Fail> {
    a.get(of::ATTR_UFID)
        .map(|u| Ufid::new(u.payload()).ok_or(Fail::Errno(Errno::Inval)))
        .transpose()
}

fn payload<'a>(a: &Attrs<'a>, ty: u16) -> Option<&'a [u8]> {
    a.get(ty).map(|x| x.payload())
}

/// What a reply shows of a flow: the flow as it is, or as it will be once a
/// NEW or SET applies (so that the reply is sized before anything changes).
struct FlowView<'a> {
    /// The key as installed, which names a flow without a UFID.
    installed: Option<&'a FlowKey>,
    /// `key & mask`.
    masked: FlowKey,
    mask: &'a FlowKey,
    ufid: Option<&'a Ufid>,
    stats: FlowStats,
    actions: &'a [u8],
}

impl<'a> FlowView<'a> {
    fn of(f: &FlowRef<'a, FlowActions>) -> FlowView<'a> {
        FlowView {
            installed: f.installed_key(),
            masked: f.masked_key(),
            mask: f.mask(),
            ufid: f.ufid(),
            stats: f.stats(),
            actions: f.actions().bytes(),
        }
    }
}

/// The `OVS_FLOW_ATTR_*` of one flow, as Linux's `ovs_flow_cmd_fill_info`:
/// the identifier (UFID, or the key as installed), the masked key for a
/// UFID-named flow, the mask, USED/STATS/TCP_FLAGS when non-zero, the actions;
/// `ufid_flags` may omit key, mask and actions.
fn fill_flow(b: &mut NlBuf<'_>, f: &FlowView<'_>, ufid_flags: u32) -> Result<(), Overflow> {
    let masked = &f.masked;
    match f.ufid {
        Some(u) => b.put_attr(of::ATTR_UFID, u.as_bytes())?,
        None => nested(b, of::ATTR_KEY, |b| {
            emit_key(f.installed.unwrap_or(masked), b)
        })?,
    }
    if f.ufid.is_some() && ufid_flags & of::UFID_F_OMIT_KEY == 0 {
        nested(b, of::ATTR_KEY, |b| emit_key(masked, b))?;
    }
    if ufid_flags & of::UFID_F_OMIT_MASK == 0 {
        nested(b, of::ATTR_MASK, |b| emit_mask(f.mask, masked, b))?;
    }
    let stats = f.stats;
    if stats.used_ms != 0 {
        b.put_u64(of::ATTR_USED, stats.used_ms)?;
    }
    if stats.packets != 0 {
        let mut s = [0u8; 16];
        let (p, by) = s.split_at_mut(8);
        p.copy_from_slice(&stats.packets.to_ne_bytes());
        by.copy_from_slice(&stats.bytes.to_ne_bytes());
        b.put_attr(of::ATTR_STATS, &s)?;
    }
    if stats.tcp_flags as u8 != 0 {
        b.put_u8(of::ATTR_TCP_FLAGS, stats.tcp_flags as u8)?;
    }
    if ufid_flags & of::UFID_F_OMIT_ACTIONS == 0 {
        b.put_attr(of::ATTR_ACTIONS, f.actions)?;
    }
    Ok(())
}

fn nested(
    b: &mut NlBuf<'_>,
    ty: u16,
    body: impl FnOnce(&mut NlBuf<'_>) -> Result<(), Overflow>,
) -> Result<(), Overflow> {
    let n = b.begin_nested(ty)?;
    body(b)?;
    b.end_nested(n)
}

/// A reply carrying one flow (`None`: no flow, a bare header); its length.
fn reply(
    ctx: &mut Ctx<'_>,
    flow: Option<&FlowView<'_>>,
    ufid_flags: u32,
) -> Result<usize, Overflow> {
    let hdr = ctx.reply_header(fam::FLOW, 0, ctx.msg.hdr.cmd, fam::FLOW_VERSION);
    let mut b = NlBuf::new(ctx.out);
    let m = b.begin_msg(&hdr)?;
    if let Some(f) = flow {
        fill_flow(&mut b, f, ufid_flags)?;
    }
    b.end_msg(m);
    Ok(b.len())
}

/// The flow a GET, SET or DEL names: by UFID, else a flow named by its key
/// (as Linux's `ovs_flow_tbl_lookup_exact`, which never returns a flow named
/// by a UFID): with the request's mask when one is given, else the flow the
/// key falls in, under any mask, whose installed key agrees on every field
/// the request names.
fn find(
    flows: &FlowTable<FlowActions>,
    ufid: Option<&Ufid>,
    m: Option<&Match>,
    has_mask: bool,
) -> Result<FlowId, Errno> {
    let found = match (ufid, m) {
        (Some(u), _) => flows.lookup_ufid(u),
        (None, Some(m)) if has_mask => flows
            .lookup_exact(&m.key, &m.mask)
            .filter(|f| f.installed_key().is_some()),
        (None, Some(m)) => flows.lookup_named(&m.key, &m.mask),
        (None, None) => return Err(Errno::Inval),
    };
    found.map(|f| f.id()).ok_or(Errno::NoEnt)
}

fn new(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = attrs(ctx)?;
    let key = payload(&a, of::ATTR_KEY).ok_or(Errno::Inval)?;
    let actions = payload(&a, of::ATTR_ACTIONS).ok_or(Errno::Inval)?;
    let m = parse_match(key, payload(&a, of::ATTR_MASK))?;
    let ufid = ufid(&a)?;
    let ufid_flags = a.u32(of::ATTR_UFID_FLAGS).unwrap_or(0);
    let masked = m.key.masked(&m.mask);
    // A PROBE flow is validated and installed like any other (userspace reads
    // it back and deletes it); the flag only spares the log.
    validate_actions(actions, &masked)?;
    let actions = FlowActions::copy(actions)?;
    let dp = ctx.dp;
    let mut flows = dp.flows.write();
    let existing = match &ufid {
        Some(u) => flows
            .lookup_ufid(u)
            .map(|f| (f.id(), f.mask() == &m.mask && f.masked_key() == masked)),
        None => flows.lookup_exact(&m.key, &m.mask).map(|f| (f.id(), true)),
    };
    // The reply is written before the change, so that a reply that does
    // not fit (EMSGSIZE) leaves the table as it was.
    let len = match existing {
        None => {
            let new = FlowView {
                installed: ufid.is_none().then_some(&m.key),
                masked,
                mask: &m.mask,
                ufid: ufid.as_ref(),
                stats: FlowStats::default(),
                actions: actions.bytes(),
            };
            let len = reply(ctx, Some(&new), ufid_flags)?;
            flows
                .insert(&m.key, &m.mask, ufid, actions)
                .map_err(|e| e.errno())?;
            len
        }
        Some(_) if ctx.msg.hdr.flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 => {
            return Err(Errno::Exist.into());
        }
        // The UFID names a different flow.
        Some((_, false)) => return Err(Errno::NoEnt.into()),
        Some((id, true)) => {
            let f = flows.get(id).ok_or(Errno::NoEnt)?;
            let changed = FlowView {
                actions: actions.bytes(),
                ..FlowView::of(&f)
            };
            let len = reply(ctx, Some(&changed), ufid_flags)?;
            flows.replace_actions(id, actions).map_err(|(e, _)| e)?;
            len
        }
    };
    Ok(Reply::Len(len))
}

fn set(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = attrs(ctx)?;
    let ufid = ufid(&a)?;
    let m = payload(&a, of::ATTR_KEY)
        .map(|k| parse_match(k, payload(&a, of::ATTR_MASK)))
        .transpose()?;
    if ufid.is_none() && m.is_none() {
        return Err(Errno::Inval.into());
    }
    let ufid_flags = a.u32(of::ATTR_UFID_FLAGS).unwrap_or(0);
    let dp = ctx.dp;
    let mut flows = dp.flows.write();
    let id = find(&flows, ufid.as_ref(), m.as_ref(), a.has(of::ATTR_MASK))?;
    let f = flows.get(id).ok_or(Errno::NoEnt)?;
    let actions = match payload(&a, of::ATTR_ACTIONS) {
        Some(actions) => {
            let masked = match &m {
                Some(m) => m.key.masked(&m.mask),
                None => f.masked_key(),
            };
            validate_actions(actions, &masked)?;
            Some(FlowActions::copy(actions)?)
        }
        None => None,
    };
    // The reply (with the statistics from before a CLEAR) is written before
    // anything changes: one that does not fit changes nothing.
    let changed = FlowView {
        actions: actions
            .as_ref()
            .map_or(f.actions().bytes(), FlowActions::bytes),
        ..FlowView::of(&f)
    };
    let len = reply(ctx, Some(&changed), ufid_flags)?;
    if let Some(actions) = actions {
        flows.replace_actions(id, actions).map_err(|(e, _)| e)?;
    }
    if let Some(f) = flows.get(id).filter(|_| a.has(of::ATTR_CLEAR)) {
        f.clear_stats();
    }
    Ok(Reply::Len(len))
}

fn del(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = attrs(ctx)?;
    let ufid = ufid(&a)?;
    let ufid_flags = a.u32(of::ATTR_UFID_FLAGS).unwrap_or(0);
    let dp = ctx.dp;
    let key = payload(&a, of::ATTR_KEY);
    if ufid.is_none() && key.is_none() {
        // Flush: every flow goes, freed after the lock is released; the
        // reply is the bare header.
        let flushed = dp.flows.write().take();
        drop(flushed);
        return Ok(Reply::Len(reply(ctx, None, 0)?));
    }
    let m = key.map(|k| parse_match(k, None)).transpose()?;
    let mut flows = dp.flows.write();
    let id = find(&flows, ufid.as_ref(), m.as_ref(), false)?;
    let f = flows.get(id).ok_or(Errno::NoEnt)?;
    let len = del_reply(ctx, &FlowView::of(&f), ufid_flags)?;
    flows.remove(id);
    Ok(Reply::Len(len))
}

/// A DEL deletes whatever room its reply has: the flow as asked for if it
/// fits, else its identifier and statistics alone (the terse form), else
/// the bare header.
fn del_reply(ctx: &mut Ctx<'_>, f: &FlowView<'_>, ufid_flags: u32) -> Result<usize, Overflow> {
    const TERSE: u32 = of::UFID_F_OMIT_KEY | of::UFID_F_OMIT_MASK | of::UFID_F_OMIT_ACTIONS;
    reply(ctx, Some(f), ufid_flags)
        .or_else(|_| reply(ctx, Some(f), TERSE))
        .or_else(|_| reply(ctx, None, 0))
}

fn get(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    match ctx.op {
        DevOp::Write => {
            let a = attrs(ctx)?;
            ctx.start_dump(a.u32(of::ATTR_UFID_FLAGS).unwrap_or(0))
        }
        DevOp::Read => dump_next(ctx),
        DevOp::Transact => {
            let a = attrs(ctx)?;
            let ufid = ufid(&a)?;
            let m = payload(&a, of::ATTR_KEY)
                .map(|k| parse_match(k, None))
                .transpose()?;
            let ufid_flags = a.u32(of::ATTR_UFID_FLAGS).unwrap_or(0);
            let dp = ctx.dp;
            let flows = dp.flows.read();
            let id = find(&flows, ufid.as_ref(), m.as_ref(), false)?;
            let f = flows.get(id).ok_or(Errno::NoEnt)?;
            Ok(Reply::Len(reply(ctx, Some(&FlowView::of(&f)), ufid_flags)?))
        }
    }
}

/// Flow slots a dump looks at, and flows it writes, under one hold of the
/// read lock: a READ with a large buffer takes the lock again for the next
/// ones, so that no hold (at DISPATCH_LEVEL) grows with the table.
const DUMP_SLOTS_PER_LOCK: usize = 1024;
const DUMP_FLOWS_PER_LOCK: usize = 32;

/// As many flows as fit, each `NLM_F_MULTI`; the last READ ends with
/// `NLMSG_DONE` (16 bytes), after which the dump state is gone.
fn dump_next(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let Some(dump) = ctx.dump.as_deref_mut() else {
        return Ok(Reply::Len(0));
    };
    let hdr = MsgHeader {
        len: 0,
        ty: fam::FLOW,
        flags: NLM_F_MULTI,
        cmd: of::CMD_GET,
        version: fam::FLOW_VERSION,
        ..dump.hdr
    };
    let dp = ctx.dp;
    let mut b = NlBuf::new(ctx.out);
    loop {
        let flows = dp.flows.read();
        let mut slots = DUMP_SLOTS_PER_LOCK;
        for _ in 0..DUMP_FLOWS_PER_LOCK {
            let (next, f) = match flows.step_from(dump.cursor, slots) {
                Step::Flow(next, f) => (next, f),
                Step::Gap(next) => {
                    dump.cursor = next;
                    break;
                }
                Step::End => return Ok(dump_done(&mut b, &hdr)),
            };
            let visited = usize::try_from(next.saturating_sub(dump.cursor)).unwrap_or(slots);
            slots = slots.saturating_sub(visited);
            let mark = b.len();
            let put = b.begin_msg(&hdr).and_then(|m| {
                fill_flow(&mut b, &FlowView::of(&f), dump.flags)?;
                b.end_msg(m);
                Ok(())
            });
            if put.is_err() {
                b.truncate(mark);
                if mark == 0 {
                    // Not even one flow fits in the reader's buffer.
                    return Err(Errno::MsgSize.into());
                }
                return Ok(Reply::Dumped {
                    len: b.len(),
                    done: false,
                });
            }
            dump.cursor = next;
        }
    }
}

/// The end of a dump: `NLMSG_DONE` if it fits after what the READ holds,
/// else the next READ brings it.
fn dump_done(b: &mut NlBuf<'_>, hdr: &MsgHeader) -> Reply {
    let done = MsgHeader {
        ty: NLMSG_DONE,
        flags: NLM_F_MULTI,
        ..*hdr
    };
    let mark = b.len();
    match b.begin_nlmsg(&done) {
        Ok(m) => {
            b.end_msg(m);
            Reply::Dumped {
                len: b.len(),
                done: true,
            }
        }
        Err(_) => {
            b.truncate(mark);
            Reply::Dumped {
                len: b.len(),
                done: false,
            }
        }
    }
}
