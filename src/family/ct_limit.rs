//! The conntrack limit family (`ovs_ct_limit`): per-zone connection limits
//! as Linux's `ovs_ct_limit_cmd_{set,del,get}` answer. The attribute
//! `OVS_CT_LIMIT_ATTR_ZONE_LIMIT` is a packed array of
//! `struct ovs_zone_limit { int zone_id; u32 limit; u32 count; }`, zone -1
//! being the default; a limit of 0 is no limit. Out-of-range zones and
//! trailing bytes are skipped, as Linux does (it only logs them).

use super::{Command, Ctx, Fail, Family, Ops, Reply};
use crate::conntrack::zone::Zones;
use crate::netlink::{AttrPolicy, Errno, NlBuf, Overflow, parse};
use crate::ovs::{ct_limit as cl, family as fam};
use crate::status::NtStatus;

pub static FAMILY: Family = Family {
    id: fam::CT_LIMIT,
    version: fam::CT_LIMIT_VERSION,
    commands: &[
        Command {
            cmd: cl::CMD_SET,
            ops: Ops::TRANSACT,
            check_dp: false,
            handler: set,
        },
        Command {
            cmd: cl::CMD_DEL,
            ops: Ops::TRANSACT,
            check_dp: false,
            handler: del,
        },
        Command {
            cmd: cl::CMD_GET,
            ops: Ops::TRANSACT,
            check_dp: false,
            handler: get,
        },
    ],
};

const POLICY: [AttrPolicy; 2] = [AttrPolicy::IGNORED, AttrPolicy::NESTED.optional()];

/// `OVS_ZONE_LIMIT_DEFAULT_ZONE`.
const DEFAULT_ZONE: i32 = -1;
const ENTRY: usize = 12;

/// One `struct ovs_zone_limit`.
#[derive(Clone, Copy)]
struct ZoneLimit {
    zone: i32,
    limit: u32,
}

fn entries(p: &[u8]) -> impl Iterator<Item = ZoneLimit> + '_ {
    p.chunks_exact(ENTRY).filter_map(|e| {
        let (z, rest) = e.split_first_chunk::<4>()?;
        let (l, _) = rest.split_first_chunk::<4>()?;
        Some(ZoneLimit {
            zone: i32::from_ne_bytes(*z),
            limit: u32::from_ne_bytes(*l),
        })
    })
}

/// `check_zone_id`.
fn zone_of(id: i32) -> Option<u16> {
    u16::try_from(id).ok()
}

/// The request's zone limits (`None` without the attribute).
fn request<'a>(ctx: &Ctx<'a>) -> Result<Option<&'a [u8]>, Fail> {
    let a = parse(ctx.msg.attr_bytes(), &POLICY)
        .map_err(|_| Fail::Status(NtStatus::INVALID_PARAMETER))?;
    Ok(a.get(cl::ATTR_ZONE_LIMIT).map(|z| z.payload()))
}

/// The reply: a header echoing the command, and `body`.
fn reply(
    ctx: &mut Ctx<'_>,
    body: impl FnOnce(&mut NlBuf<'_>) -> Result<(), Overflow>,
) -> Result<Reply, Fail> {
    let hdr = ctx.reply_header(fam::CT_LIMIT, 0, ctx.msg.hdr.cmd, fam::CT_LIMIT_VERSION);
    let mut b = NlBuf::new(ctx.out);
    let m = b.begin_msg(&hdr)?;
    body(&mut b)?;
    b.end_msg(m);
    Ok(Reply::Len(b.len()))
}

fn set(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let limits = request(ctx)?.ok_or(Errno::Inval)?;
    let zones = &ctx.dp.conntrack.zones;
    for e in entries(limits) {
        if e.zone == DEFAULT_ZONE {
            zones.set_default(e.limit);
        } else if let Some(z) = zone_of(e.zone) {
            zones.set(z, Some(e.limit));
        }
    }
    reply(ctx, |_| Ok(()))
}

fn del(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let limits = request(ctx)?.ok_or(Errno::Inval)?;
    let zones = &ctx.dp.conntrack.zones;
    for e in entries(limits) {
        if e.zone == DEFAULT_ZONE {
            zones.set_default(0);
        } else if let Some(z) = zone_of(e.zone) {
            zones.set(z, None);
        }
    }
    reply(ctx, |_| Ok(()))
}

fn put(b: &mut NlBuf<'_>, zone: i32, limit: u32, count: u32) -> Result<(), Overflow> {
    let mut e = [0u8; ENTRY];
    for (dst, v) in e.chunks_exact_mut(4).zip([zone as u32, limit, count]) {
        dst.copy_from_slice(&v.to_ne_bytes());
    }
    b.put_raw(&e)
}

/// The default (count 0), then each zone asked for, or every zone with a
/// limit of its own.
fn get(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let asked = request(ctx)?;
    let dp = ctx.dp;
    let zones: &Zones = &dp.conntrack.zones;
    reply(ctx, |b| {
        let n = b.begin_nested(cl::ATTR_ZONE_LIMIT)?;
        match asked {
            Some(limits) => {
                for e in entries(limits) {
                    if e.zone == DEFAULT_ZONE {
                        put(b, DEFAULT_ZONE, zones.default_limit(), 0)?;
                    } else if let Some(z) = zone_of(e.zone) {
                        put(b, e.zone, zones.limit(z), zones.count(z))?;
                    }
                }
            }
            None => {
                put(b, DEFAULT_ZONE, zones.default_limit(), 0)?;
                for z in zones.with_own_limit() {
                    put(b, i32::from(z), zones.limit(z), zones.count(z))?;
                }
            }
        }
        b.end_nested(n)
    })
}
