//! The meter family (`ovs_meter`, Windows family id 0x19), answered as
//! Linux's `meter.c` answers: FEATURES, SET (create or replace; the reply
//! carries the replaced meter's counters), GET, DEL (the reply carries the
//! deleted meter's counters). Beyond Linux, a GET with `NLM_F_DUMP` lists
//! every meter, one per READ.

use zerocopy::{Immutable, IntoBytes};

use super::{Command, Ctx, DevOp, Fail, Family, Ops, Reply};
use crate::meter::{BandConfig, Config, Counts, MAX_BANDS, Meter};
use crate::netlink::{
    Attr, AttrPolicy, Errno, MsgHeader, NlBuf, Overflow, Parsed, attrs, parse_liberal,
};
use crate::ovs::{family as fam, meter as om};

pub static FAMILY: Family = Family {
    id: fam::METER,
    version: fam::METER_VERSION,
    commands: &[
        Command {
            cmd: om::CMD_FEATURES,
            ops: Ops::TRANSACT.union(Ops::WRITE),
            check_dp: false,
            handler: features,
        },
        Command {
            cmd: om::CMD_SET,
            ops: Ops::TRANSACT.union(Ops::WRITE),
            check_dp: false,
            handler: set,
        },
        Command {
            cmd: om::CMD_DEL,
            ops: Ops::TRANSACT.union(Ops::WRITE),
            check_dp: false,
            handler: del,
        },
        Command {
            cmd: om::CMD_GET,
            ops: Ops::all(),
            check_dp: false,
            handler: get,
        },
    ],
};

/// `struct ovs_flow_stats`.
const STATS_LEN: u16 = 16;

/// Linux's `meter_policy`.
const POLICY: [AttrPolicy; 9] = [
    AttrPolicy::IGNORED,
    AttrPolicy::U32.optional(),
    AttrPolicy::FLAG.optional(),
    AttrPolicy::bytes(STATS_LEN, u16::MAX).optional(),
    AttrPolicy::NESTED.optional(),
    AttrPolicy::U64.optional(),
    AttrPolicy::FLAG.optional(),
    AttrPolicy::U32.optional(),
    AttrPolicy::U32.optional(),
];

/// Linux's `band_policy`.
const BAND_POLICY: [AttrPolicy; 5] = [
    AttrPolicy::IGNORED,
    AttrPolicy::U32.optional(),
    AttrPolicy::U32.optional(),
    AttrPolicy::U32.optional(),
    AttrPolicy::bytes(STATS_LEN, u16::MAX).optional(),
];

#[repr(C)]
#[derive(IntoBytes, Immutable)]
struct OvsFlowStats {
    n_packets: u64,
    n_bytes: u64,
}

impl From<Counts> for OvsFlowStats {
    fn from(c: Counts) -> OvsFlowStats {
        OvsFlowStats {
            n_packets: c.packets,
            n_bytes: c.bytes,
        }
    }
}

/// A u32 attribute's value: its first four bytes (the policy checked it
/// has them), as `nla_get_u32` reads it.
fn u32_of(a: Attr<'_>) -> Option<u32> {
    a.payload()
        .first_chunk::<4>()
        .map(|b| u32::from_ne_bytes(*b))
}

fn request<'a>(ctx: &Ctx<'a>) -> Result<Parsed<'a, 9>, Fail> {
    Ok(parse_liberal(ctx.msg.attr_bytes(), &POLICY)?)
}

/// `OVS_METER_ATTR_ID`, which every command but FEATURES requires.
fn id(a: &Parsed<'_, 9>) -> Result<u32, Errno> {
    a.get(om::ATTR_ID).and_then(u32_of).ok_or(Errno::Inval)
}

/// The one datapath is index 0; Linux answers any other with ENODEV.
fn datapath(ctx: &Ctx<'_>) -> Result<(), Errno> {
    if ctx.msg.hdr.dp_ifindex != 0 {
        return Err(Errno::NoDev);
    }
    Ok(())
}

/// Writes one reply (TRANSACT) or nothing (WRITE).
fn reply(
    ctx: &mut Ctx<'_>,
    cmd: u8,
    body: impl FnOnce(&mut NlBuf<'_>) -> Result<(), Overflow>,
) -> Result<Reply, Fail> {
    if ctx.op != DevOp::Transact {
        return Ok(Reply::Len(0));
    }
    let hdr = ctx.reply_header(fam::METER, 0, cmd, fam::METER_VERSION);
    let mut b = NlBuf::new(ctx.out);
    let m = b.begin_msg(&hdr)?;
    body(&mut b)?;
    b.end_msg(m);
    Ok(Reply::Len(b.len()))
}

/// `ovs_meter_cmd_reply_stats`: ID, STATS, USED, and BANDS with each
/// band's STATS.
fn put_stats(b: &mut NlBuf<'_>, id: u32, m: &Meter) -> Result<(), Overflow> {
    let r = m.report();
    b.put_u32(om::ATTR_ID, id)?;
    b.put_attr(om::ATTR_STATS, OvsFlowStats::from(r.stats).as_bytes())?;
    b.put_u64(om::ATTR_USED, r.used_ms)?;
    let bands = b.begin_nested(om::ATTR_BANDS)?;
    for c in m.band_counts() {
        let band = b.begin_nested(0)?;
        b.put_attr(om::BAND_ATTR_STATS, OvsFlowStats::from(c).as_bytes())?;
        b.end_nested(band)?;
    }
    b.end_nested(bands)
}

fn features(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    request(ctx)?;
    datapath(ctx)?;
    reply(ctx, om::CMD_FEATURES, |b| {
        b.put_u32(om::ATTR_MAX_METERS, ctx.dp.meters.max())?;
        b.put_u32(om::ATTR_MAX_BANDS, MAX_BANDS as u32)?;
        let bands = b.begin_nested(om::ATTR_BANDS)?;
        let band = b.begin_nested(0)?;
        b.put_u32(om::BAND_ATTR_TYPE, om::BAND_TYPE_DROP)?;
        b.end_nested(band)?;
        b.end_nested(bands)
    })
}

/// `dp_meter_create`'s checks: BANDS present, at most `MAX_BANDS` of them,
/// each with a TYPE, a RATE that is not 0 and a BURST.
fn config(a: &Parsed<'_, 9>, id: u32) -> Result<Config, Errno> {
    let bands = a.get(om::ATTR_BANDS).ok_or(Errno::Inval)?;
    if bands.nested().count() > MAX_BANDS {
        return Err(Errno::Inval);
    }
    let mut cfg = Config::new(id, a.has(om::ATTR_KBPS));
    cfg.keep_stats = !a.has(om::ATTR_CLEAR);
    if cfg.keep_stats
        && let Some(s) = a.get(om::ATTR_STATS)
    {
        let p = s.payload();
        let word = |at: usize| p.get(at..at + 8).and_then(|w| w.try_into().ok());
        cfg.initial = Counts {
            packets: word(0).map_or(0, u64::from_ne_bytes),
            bytes: word(8).map_or(0, u64::from_ne_bytes),
        };
    }
    for band in attrs(bands.payload()) {
        let band = band?;
        let b = parse_liberal(band.payload(), &BAND_POLICY)?;
        let field = |ty| b.get(ty).and_then(u32_of).ok_or(Errno::Inval);
        cfg = cfg.band(BandConfig {
            ty: field(om::BAND_ATTR_TYPE)?,
            rate: field(om::BAND_ATTR_RATE)?,
            burst: field(om::BAND_ATTR_BURST)?,
        })?;
    }
    Ok(cfg)
}

fn set(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = request(ctx)?;
    let id = id(&a)?;
    let meter = Meter::create(&config(&a, id)?, ctx.now, ctx.dp.stats.cpus())?;
    datapath(ctx)?;
    let old = ctx.dp.meters.set(meter)?;
    let old = old
        .as_ref()
        .and_then(|h| h.get())
        .filter(|m| m.keeps_stats());
    reply(ctx, om::CMD_SET, |b| {
        b.put_u32(om::ATTR_ID, id)?;
        old.map_or(Ok(()), |m| put_stats(b, id, m))
    })
}

fn del(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = request(ctx)?;
    let id = id(&a)?;
    datapath(ctx)?;
    let old = ctx.dp.meters.remove(id);
    reply(ctx, om::CMD_DEL, |b| {
        old.as_ref()
            .and_then(|h| h.get())
            .map_or(Ok(()), |m| put_stats(b, id, m))
    })
}

fn get(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    match ctx.op {
        DevOp::Write => ctx.start_dump(0),
        DevOp::Read => ctx.dump_one(|dp, cursor, hdr, b| {
            let meters = dp.meters.read();
            let Some((next, m)) = usize::try_from(cursor)
                .ok()
                .and_then(|c| meters.next_from(c))
            else {
                return Ok(None);
            };
            let msg = b.begin_msg(&MsgHeader {
                cmd: om::CMD_GET,
                ..*hdr
            })?;
            put_stats(b, m.id, m)?;
            b.end_msg(msg);
            Ok(Some(next as u64))
        }),
        DevOp::Transact => {
            let a = request(ctx)?;
            let id = id(&a)?;
            datapath(ctx)?;
            let dp = ctx.dp;
            let meters = dp.meters.read();
            let m = meters.get(id).ok_or(Errno::NoEnt)?;
            reply(ctx, om::CMD_GET, |b| put_stats(b, id, m))
        }
    }
}
