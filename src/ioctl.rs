//! The control device: open handles, the six IOCTLs and their buffer rules,
//! message validation, and dispatch to the families (`OvsDeviceControl`).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::datapath::Datapath;
use crate::datapath::receive::Egress;
use crate::family::{self, Ctx, DevOp, Fail, Reply};
use crate::handle::{DumpState, HandleId, Handles};
use crate::netlink::{
    Errno, MsgHeader, NLMSG_ERROR, NlBuf, NlMsg, OVS_ERROR_MSG_LEN, OVS_MSG_LEN, attrs,
};
use crate::ovs::{ctrl, family as fam};
use crate::packet::OwnedPacket;
use crate::pend::{PendToken, Wakeups};
use crate::platform::time::Now;
use crate::status::NtStatus;
use crate::sync::{Mutex, RwLock};

/// IOCTL codes (`CTL_CODE(0xAFC8, 0x100 + n, method, access)`).
pub mod code {
    pub const GET_PID: u32 = 0xAFC8_8400;
    pub const READ: u32 = 0xAFC8_4406;
    pub const READ_EVENT: u32 = 0xAFC8_440A;
    pub const READ_PACKET: u32 = 0xAFC8_440E;
    pub const WRITE: u32 = 0xAFC8_4411;
    pub const TRANSACT: u32 = 0xAFC8_8416;

    /// The code's name, for traces.
    pub fn name(code: u32) -> Option<&'static str> {
        Some(match code {
            GET_PID => "GET_PID",
            READ => "READ",
            READ_EVENT => "READ_EVENT",
            READ_PACKET => "READ_PACKET",
            WRITE => "WRITE",
            TRANSACT => "TRANSACT",
            _ => return None,
        })
    }
}

/// What the platform lends an IOCTL besides its buffers.
pub struct Io<'a> {
    /// Names the request if it is left pending.
    pub token: PendToken,
    /// The clock userspace reads (flow `used` times, in ms) and meters use.
    pub now: Now,
    /// Where packets that userspace executes leave the switch.
    pub egress: &'a mut dyn Egress<OwnedPacket>,
}

/// How an IOCTL ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Complete now with this status and this many output bytes.
    Done { status: NtStatus, len: usize },
    /// Left pending; the token will come back in a `Wakeups`.
    Pending,
}

impl Outcome {
    fn status(status: NtStatus) -> Outcome {
        Outcome::Done { status, len: 0 }
    }
    fn ok(len: usize) -> Outcome {
        Outcome::Done {
            status: NtStatus::SUCCESS,
            len,
        }
    }
}

/// Objects alive in the device, for leak checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounts {
    pub handles: usize,
    pub dumps: usize,
    pub event_queues: usize,
    pub events_queued: usize,
    pub upcall_queues: usize,
    pub upcalls_queued: usize,
    pub pended: usize,
}

/// `\Device\OpenvSwitchDevice` and the datapath behind it.
#[derive(Debug, Default)]
pub struct Device {
    /// The datapath exists while a switch is attached.
    switch: RwLock<Option<Datapath>>,
    handles: Mutex<Handles>,
    /// Mixed into the seeds of the datapath's hash tables (`Datapath::new`).
    hash_seed: u64,
    /// The wall clock (ns since the Unix epoch) when the datapath's clock
    /// read zero, as the platform last told it; 0: not known.
    wall_epoch_ns: AtomicU64,
}

fn error_reply(out: &mut [u8], req: &MsgHeader, errno: Errno) -> Outcome {
    let hdr = MsgHeader {
        ty: NLMSG_ERROR,
        seq: req.seq,
        pid: req.pid,
        ..MsgHeader::default()
    };
    let mut b = NlBuf::new(out);
    let built = b.begin_nlmsg(&hdr).is_ok()
        && b.put_raw(&errno.wire().to_ne_bytes()).is_ok()
        && b.put_raw(&req.nlmsghdr_bytes()).is_ok();
    if !built {
        return Outcome::status(NtStatus::BUFFER_TOO_SMALL);
    }
    b.end_msg(0);
    Outcome::ok(b.len())
}

/// `ValidateNetlinkCmd` for WRITE and TRANSACT.
fn validate(msg: &NlMsg<'_>, family: &family::Family, op: DevOp, pid: u32) -> bool {
    let Some(cmd) = family.command(msg.hdr.cmd) else {
        return false;
    };
    cmd.ops.contains(op.bit())
        && msg.hdr.version >= family.version
        && (!cmd.check_dp || msg.hdr.dp_ifindex == 0)
        && msg.hdr.pid == pid
        && attrs(msg.attr_bytes()).validate().is_ok()
}

impl Device {
    pub fn new() -> Device {
        Device::default()
    }

    /// A device whose datapaths seed their hash tables with `seed`: the
    /// platform gives a value whoever sends packets cannot predict, so that
    /// they cannot choose keys that all land in one bucket.
    pub fn with_hash_seed(seed: u64) -> Device {
        Device {
            hash_seed: seed,
            ..Device::default()
        }
    }

    /// IRP_MJ_CREATE (allowed without a switch).
    pub fn open(&self) -> Result<HandleId, NtStatus> {
        self.handles.lock().open()
    }

    /// IRP_MJ_CLEANUP: the handle's subscriptions and queues go, its pended
    /// requests are returned for completion with 0 bytes, and from now on it
    /// refuses every IOCTL (INVALID_DEVICE_STATE), so nothing subscribes or
    /// pends again before close.
    pub fn cleanup(&self, id: HandleId, wake: &mut Wakeups) {
        let pid = {
            let mut handles = self.handles.lock();
            let Some(h) = handles.get_mut(id) else {
                return;
            };
            h.cleaned_up = true;
            h.pid
        };
        self.drop_queues(pid, wake);
    }

    /// IRP_MJ_CLOSE: the handle and its dump state are freed. An IOCTL that
    /// was already past its handle check when cleanup ran may have
    /// subscribed or pended since; whatever it left goes now, and its pended
    /// requests are returned in `wake` like cleanup's.
    pub fn close(&self, id: HandleId, wake: &mut Wakeups) {
        let Some(h) = self.handles.lock().close(id) else {
            return;
        };
        self.drop_queues(h.pid, wake);
    }

    fn drop_queues(&self, pid: u32, wake: &mut Wakeups) {
        if let Some(dp) = self.switch.read().as_ref() {
            let mut q = dp.queues.lock();
            q.events.remove(pid, wake);
            dp.conntrack.set_listeners(q.events.joined());
            let _ = q.upcalls.unsubscribe(pid, wake);
        }
    }

    /// The platform cancels a pended request; true if it was pended here
    /// (the platform then completes it with STATUS_CANCELLED).
    pub fn cancel(&self, id: HandleId, token: PendToken) -> bool {
        let Some(pid) = self.handles.lock().get(id).map(|h| h.pid) else {
            return false;
        };
        let sw = self.switch.read();
        let Some(dp) = sw.as_ref() else { return false };
        let mut q = dp.queues.lock();
        q.events.cancel(pid, token) || q.upcalls.cancel(pid, token)
    }

    /// The extension attached to a switch and the switch is active. `cpus`:
    /// how many processors run the receive path (each with its own
    /// `RxContext`).
    pub fn attach(&self, cpus: usize) -> Result<(), NtStatus> {
        let mut sw = self.switch.write();
        if sw.is_none() {
            let dp = Datapath::new(cpus, self.hash_seed).ok_or_else(crate::diag::attach_failed)?;
            dp.conntrack
                .set_wall_epoch(self.wall_epoch_ns.load(Ordering::Relaxed));
            *sw = Some(dp);
            log::info!(
                "switch attached: datapath {} on {cpus} processors",
                crate::ovs::dp::NAME
            );
        }
        Ok(())
    }

    /// Where the datapath's clock stands in calendar time (see
    /// `Conntrack::set_wall_epoch`): the platform tells it when it loads
    /// and on each upkeep tick.
    pub fn set_wall_epoch(&self, ns: u64) {
        self.wall_epoch_ns.store(ns, Ordering::Relaxed);
        self.with_datapath(|dp| dp.conntrack.set_wall_epoch(ns));
    }

    /// The switch detaches: every vport, flow, queue and pended request goes.
    pub fn detach(&self, wake: &mut Wakeups) {
        let old = self.switch.write().take();
        if let Some(dp) = old {
            log::info!("switch detached: its vports, flows and queues are gone");
            dp.shutdown(wake);
        }
    }

    /// Periodic upkeep, from a timer at PASSIVE_LEVEL (about once a
    /// second): masks are re-ordered by how often lookups hit them, and
    /// timed-out connections expire (a bounded number of slots a call).
    pub fn maintain(&self, now_ms: u64, wake: &mut Wakeups) {
        if let Some(dp) = self.switch.read().as_ref() {
            dp.flows.write().rebalance();
            dp.conntrack
                .expire(now_ms, &mut |ev| dp.post_ct_event(ev, now_ms, wake));
        }
        crate::diag::tick();
    }

    /// Runs `f` on the datapath if a switch is attached.
    pub fn with_datapath<R>(&self, f: impl FnOnce(&Datapath) -> R) -> Option<R> {
        self.switch.read().as_ref().map(f)
    }

    pub(crate) fn set_protocol(&self, id: HandleId, protocol: u32) {
        if let Some(h) = self.handles.lock().get_mut(id) {
            h.protocol = protocol;
        }
    }

    pub fn live(&self) -> LiveCounts {
        let (handles, dumps) = {
            let h = self.handles.lock();
            (h.open_count(), h.dump_count())
        };
        let mut c = LiveCounts {
            handles,
            dumps,
            ..LiveCounts::default()
        };
        if let Some(dp) = self.switch.read().as_ref() {
            let q = dp.queues.lock();
            c.event_queues = q.events.len();
            c.events_queued = q.events.counts().0;
            let (uq, um, up) = q.upcalls.counts();
            c.upcall_queues = uq;
            c.upcalls_queued = um;
            c.pended = up + q.events.pended();
        }
        c
    }

    /// IRP_MJ_DEVICE_CONTROL. `output` is the caller's output buffer (its
    /// length is the IOCTL's output length); pended requests completed as a
    /// side effect are added to `wake`.
    pub fn ioctl(
        &self,
        id: HandleId,
        code: u32,
        input: &[u8],
        output: &mut [u8],
        io: &mut Io<'_>,
        wake: &mut Wakeups,
    ) -> Outcome {
        let sw = self.switch.read();
        let Some(dp) = sw.as_ref() else {
            return Outcome::status(NtStatus::NOT_FOUND);
        };
        let Some((pid, protocol)) = self
            .handles
            .lock()
            .get(id)
            .filter(|h| !h.cleaned_up)
            .map(|h| (h.pid, h.protocol))
        else {
            return Outcome::status(NtStatus::INVALID_DEVICE_STATE);
        };
        let reply_room = output.len() >= OVS_ERROR_MSG_LEN;
        let synthetic = |cmd: u8| MsgHeader {
            len: OVS_MSG_LEN as u32,
            ty: fam::CONTROL,
            pid,
            cmd,
            version: fam::CONTROL_VERSION,
            ..MsgHeader::default()
        };
        let (op, hdr_bytes, dump) = match code {
            code::GET_PID => {
                if output.len() < 4 {
                    return Outcome::status(NtStatus::NDIS_INVALID_LENGTH);
                }
                if let Some(dst) = output.get_mut(..4) {
                    dst.copy_from_slice(&pid.to_ne_bytes());
                }
                return Outcome::ok(4);
            }
            code::TRANSACT => {
                if !reply_room || input.len() < OVS_MSG_LEN {
                    return Outcome::status(NtStatus::NDIS_INVALID_LENGTH);
                }
                (DevOp::Transact, None, None)
            }
            code::READ_EVENT | code::READ_PACKET => {
                if !reply_room {
                    return Outcome::status(NtStatus::NDIS_INVALID_LENGTH);
                }
                let cmd = if code == code::READ_EVENT {
                    ctrl::CMD_EVENT_NOTIFY
                } else {
                    ctrl::CMD_READ_NOTIFY
                };
                (DevOp::Read, Some(synthetic(cmd).to_bytes()), None)
            }
            code::READ => {
                if !reply_room {
                    return Outcome::status(NtStatus::NDIS_INVALID_LENGTH);
                }
                let Some(d) = self.handles.lock().take_dump(id) else {
                    return Outcome::ok(0);
                };
                (DevOp::Read, Some(d.hdr.to_bytes()), Some(d))
            }
            code::WRITE => {
                if input.len() < OVS_MSG_LEN {
                    return Outcome::status(NtStatus::NDIS_INVALID_LENGTH);
                }
                (DevOp::Write, None, None)
            }
            _ => return Outcome::status(NtStatus::INVALID_DEVICE_REQUEST),
        };
        let msg_bytes: &[u8] = match &hdr_bytes {
            Some(b) => b,
            None => input,
        };
        let outcome = self.dispatch(dp, id, pid, protocol, op, msg_bytes, output, io, wake, dump);
        drop(sw);
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        dp: &Datapath,
        id: HandleId,
        pid: u32,
        protocol: u32,
        op: DevOp,
        msg_bytes: &[u8],
        output: &mut [u8],
        io: &mut Io<'_>,
        wake: &mut Wakeups,
        mut dump: Option<DumpState>,
    ) -> Outcome {
        let invalid = Outcome::status(NtStatus::INVALID_PARAMETER);
        let Some(hdr) = MsgHeader::read(msg_bytes) else {
            return invalid;
        };
        let Some(family) = family::family(hdr.ty) else {
            crate::diag::refused(hdr.ty, hdr.cmd, pid, Errno::Inval);
            return invalid;
        };
        let Some(msg) = NlMsg::new_checked(msg_bytes) else {
            return invalid;
        };
        // Netfilter messages: version 0 is all that is checked (no PID,
        // datapath or operation check), and the command is the type's low
        // byte (`ValidateNetlinkCmd`, `InvokeNetlinkCmdHandler`).
        let nfnl = family::is_nfnl(hdr.ty);
        let valid = if nfnl {
            msg.hdr.version == 0
        } else {
            validate(&msg, family, op, pid)
        };
        if op != DevOp::Read && !valid {
            return invalid;
        }
        let cmd_no = if nfnl { hdr.ty as u8 } else { msg.hdr.cmd };
        let Some(cmd) = family.command(cmd_no) else {
            crate::diag::refused(hdr.ty, hdr.cmd, pid, Errno::Inval);
            return invalid;
        };
        let result = (cmd.handler)(&mut Ctx {
            device: self,
            dp,
            handle: id,
            pid,
            protocol,
            op,
            msg,
            out: output,
            token: io.token,
            now: io.now,
            egress: &mut *io.egress,
            wake,
            dump: dump.as_mut(),
        });
        if let Err(f) = result {
            crate::diag::refused(hdr.ty, hdr.cmd, pid, f.errno());
        }
        match result {
            Ok(Reply::Len(n)) => Outcome::ok(n),
            Ok(Reply::Pending) => Outcome::Pending,
            Ok(Reply::StartDump(d)) => {
                self.handles.lock().set_dump(id, d);
                Outcome::ok(0)
            }
            Ok(Reply::Dumped { len, done }) => {
                if let (false, Some(d)) = (done, dump) {
                    self.handles.lock().set_dump(id, d);
                }
                Outcome::ok(len)
            }
            Err(Fail::Ioctl(s)) => Outcome::status(s),
            Err(Fail::Status(s)) if op == DevOp::Write => Outcome::status(s),
            Err(Fail::Errno(e)) if op == DevOp::Write => Outcome::status(e.to_status()),
            Err(f) => {
                let errno = f.errno();
                // Queue reads have no request: the error names a bare header.
                let req = if dump.is_none() && op == DevOp::Read {
                    MsgHeader {
                        len: crate::netlink::NLMSG_HDRLEN as u32,
                        ty: fam::CONTROL,
                        pid,
                        ..MsgHeader::default()
                    }
                } else {
                    msg.hdr
                };
                error_reply(output, &req, errno)
            }
        }
    }
}
