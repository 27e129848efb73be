//! The datapath family (`ovs_datapath`): the single datapath "ovs-system",
//! its statistics and the user features userspace negotiates.

use zerocopy::{Immutable, IntoBytes};

use super::{Command, Ctx, DevOp, Fail, Family, Ops, Reply};
use crate::flow::table::MASK_CACHE_ENTRIES;
use crate::netlink::{AttrPolicy, Errno, NlBuf, Overflow, parse};
use crate::ovs::{dp, family as fam};
use crate::status::NtStatus;

pub static FAMILY: Family = Family {
    id: fam::DATAPATH,
    version: fam::DATAPATH_VERSION,
    commands: &[
        Command {
            cmd: dp::CMD_NEW,
            ops: Ops::TRANSACT,
            check_dp: false,
            handler: new,
        },
        Command {
            cmd: dp::CMD_GET,
            ops: Ops::all(),
            check_dp: false,
            handler: get,
        },
        Command {
            cmd: dp::CMD_SET,
            ops: Ops::TRANSACT.union(Ops::WRITE),
            check_dp: true,
            handler: set,
        },
    ],
};

const NAME: AttrPolicy = AttrPolicy::string(1, crate::ovs::vport::NAME_MAX);

/// NAME required (NEW and SET); UPCALL_PID, USER_FEATURES and
/// MASKS_CACHE_SIZE optional.
const CHANGE_POLICY: [AttrPolicy; 8] = [
    AttrPolicy::IGNORED,
    NAME,
    AttrPolicy::U32.optional(),
    AttrPolicy::IGNORED,
    AttrPolicy::IGNORED,
    AttrPolicy::U32.optional(),
    AttrPolicy::IGNORED,
    AttrPolicy::U32.optional(),
];

const GET_POLICY: [AttrPolicy; 2] = [AttrPolicy::IGNORED, NAME.optional()];

/// `struct ovs_dp_stats`.
#[repr(C)]
#[derive(IntoBytes, Immutable)]
struct OvsDpStats {
    n_hit: u64,
    n_missed: u64,
    n_lost: u64,
    n_flows: u64,
}

/// `struct ovs_dp_megaflow_stats`.
#[repr(C)]
#[derive(IntoBytes, Immutable)]
struct OvsDpMegaflowStats {
    n_mask_hit: u64,
    n_masks: u32,
    pad0: u32,
    n_cache_hit: u64,
    pad1: u64,
}

const INVALID: Fail = Fail::Status(NtStatus::INVALID_PARAMETER);

/// The datapath message: NAME, STATS, MEGAFLOW_STATS, USER_FEATURES.
fn fill(ctx: &mut Ctx<'_>) -> Result<usize, Overflow> {
    let hdr = ctx.reply_header(fam::DATAPATH, 0, dp::CMD_GET, fam::DATAPATH_VERSION);
    let d = ctx.dp;
    let flows = d.flow_counts();
    let t = d.totals();
    let stats = OvsDpStats {
        n_hit: t.n_hit,
        n_missed: t.n_missed,
        n_lost: t.n_lost,
        n_flows: flows.flows,
    };
    let mega = OvsDpMegaflowStats {
        n_mask_hit: t.n_mask_hit,
        n_masks: flows.masks,
        pad0: 0,
        n_cache_hit: t.n_cache_hit,
        pad1: 0,
    };
    let features = d.user_features();
    let mut b = NlBuf::new(ctx.out);
    let m = b.begin_msg(&hdr)?;
    b.put_str(dp::ATTR_NAME, dp::NAME)?;
    b.put_attr(dp::ATTR_STATS, stats.as_bytes())?;
    b.put_attr(dp::ATTR_MEGAFLOW_STATS, mega.as_bytes())?;
    b.put_u32(dp::ATTR_USER_FEATURES, features)?;
    b.put_u32(dp::ATTR_MASKS_CACHE_SIZE, MASK_CACHE_ENTRIES as u32)?;
    b.end_msg(m);
    Ok(b.len())
}

fn new(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = parse(ctx.msg.attr_bytes(), &CHANGE_POLICY).map_err(|_| INVALID)?;
    // Only the one datapath exists; it cannot be created again.
    if a.str(dp::ATTR_NAME) != Some(dp::NAME) {
        return Err(Errno::NoDev.into());
    }
    Err(Errno::Exist.into())
}

fn get(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    match ctx.op {
        DevOp::Write => ctx.start_dump(0),
        DevOp::Read => Ok(Reply::Dumped {
            len: fill(ctx)?,
            done: true,
        }),
        DevOp::Transact => {
            let a = parse(ctx.msg.attr_bytes(), &GET_POLICY).map_err(|_| INVALID)?;
            match a.str(dp::ATTR_NAME) {
                Some(n) if n != dp::NAME => return Err(Errno::NoDev.into()),
                None if ctx.msg.hdr.dp_ifindex != 0 => return Err(Errno::NoDev.into()),
                _ => {}
            }
            Ok(Reply::Len(fill(ctx)?))
        }
    }
}

fn set(ctx: &mut Ctx<'_>) -> Result<Reply, Fail> {
    let a = parse(ctx.msg.attr_bytes(), &CHANGE_POLICY).map_err(|_| INVALID)?;
    if a.str(dp::ATTR_NAME) != Some(dp::NAME) {
        return Err(Errno::NotSupp.into());
    }
    // The mask cache has a fixed size: asking for another is refused first,
    // so a refused SET changes nothing.
    if a.u32(dp::ATTR_MASKS_CACHE_SIZE)
        .is_some_and(|n| n as usize != MASK_CACHE_ENTRIES)
    {
        return Err(Errno::OpNotSupp.into());
    }
    if let Some(f) = a.u32(dp::ATTR_USER_FEATURES) {
        ctx.dp.set_user_features(f)?;
    }
    match ctx.op {
        DevOp::Transact => Ok(Reply::Len(fill(ctx)?)),
        _ => Ok(Reply::Len(0)),
    }
}
