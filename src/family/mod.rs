//! Netlink families: each is one table of commands (command number, the
//! device operations it may arrive on, whether the message must name our
//! datapath, and its handler), as in the C driver's `NETLINK_FAMILY`.

mod control;
mod ct;
mod ct_limit;
mod datapath;
mod flow;
mod meter;
mod netdev;
mod packet;
mod vport;

use bitflags::bitflags;

use crate::datapath::Datapath;
use crate::datapath::receive::Egress;
use crate::handle::{DumpState, HandleId};
use crate::ioctl::Device;
use crate::netlink::{Errno, MsgHeader, NLM_F_DUMP, NlBuf, NlMsg, Overflow};
use crate::packet::OwnedPacket;
use crate::pend::{PendToken, Wakeups};
use crate::platform::time::Now;
use crate::status::NtStatus;

bitflags! {
    /// Device operations a command accepts (`OVS_*_DEV_OP`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Ops: u8 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const TRANSACT = 1 << 2;
    }
}

/// How a message reached the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevOp {
    /// READ / READ_EVENT / READ_PACKET: a dump continuation or a queue read.
    Read,
    /// WRITE: no reply buffer.
    Write,
    /// TRANSACT: one request, one reply.
    Transact,
}

impl DevOp {
    pub fn bit(self) -> Ops {
        match self {
            DevOp::Read => Ops::READ,
            DevOp::Write => Ops::WRITE,
            DevOp::Transact => Ops::TRANSACT,
        }
    }
}

/// What a handler produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// `n` bytes were written to the output buffer (0 for a WRITE, or an empty read).
    Len(usize),
    /// The request was pended; its token is stored.
    Pending,
    /// A WRITE started a dump.
    StartDump(DumpState),
    /// A READ produced `len` bytes of a dump; `done` ends it.
    Dumped { len: usize, done: bool },
}

/// How a handler failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fail {
    /// Reply with an `NLMSG_ERROR` carrying this errno (a WRITE, which has no
    /// reply buffer, fails with the matching status instead).
    Errno(Errno),
    /// A status the C driver's handlers returned: a WRITE fails with it, a
    /// READ or TRANSACT gets it as an `NLMSG_ERROR` (`NlMapStatusToNlErr`).
    Status(NtStatus),
    /// Fail the IOCTL itself with this status, whatever the operation.
    Ioctl(NtStatus),
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Fail {
        Fail::Errno(e)
    }
}

impl Fail {
    /// The errno an `NLMSG_ERROR` carries for it (`NlMapStatusToNlErr`).
    pub fn errno(self) -> Errno {
        match self {
            Fail::Errno(e) => e,
            Fail::Status(s) | Fail::Ioctl(s) => Errno::from_status(s),
        }
    }
}

/// The reply did not fit in the caller's buffer.
impl From<Overflow> for Fail {
    fn from(_: Overflow) -> Fail {
        Fail::Errno(Errno::MsgSize)
    }
}

/// Everything a handler sees.
pub struct Ctx<'a> {
    pub device: &'a Device,
    pub dp: &'a Datapath,
    pub handle: HandleId,
    pub pid: u32,
    pub protocol: u32,
    pub op: DevOp,
    pub msg: NlMsg<'a>,
    pub out: &'a mut [u8],
    pub token: PendToken,
    /// The platform's clock.
    pub now: Now,
    /// Where executed packets leave.
    pub egress: &'a mut dyn Egress<OwnedPacket>,
    pub wake: &'a mut Wakeups,
    /// The dump a READ continues.
    pub dump: Option<&'a mut DumpState>,
}

pub type Handler = fn(&mut Ctx<'_>) -> Result<Reply, Fail>;

pub struct Command {
    pub cmd: u8,
    pub ops: Ops,
    pub check_dp: bool,
    pub handler: Handler,
}

pub struct Family {
    pub id: u16,
    pub version: u8,
    pub commands: &'static [Command],
}

impl Family {
    pub fn command(&self, cmd: u8) -> Option<&Command> {
        self.commands.iter().find(|c| c.cmd == cmd)
    }
}

pub use ct::is_nfnl;

/// The family a message type names.
pub fn family(ty: u16) -> Option<&'static Family> {
    [
        &control::FAMILY,
        &datapath::FAMILY,
        &vport::FAMILY,
        &flow::FAMILY,
        &packet::FAMILY,
        &netdev::FAMILY,
        &ct_limit::FAMILY,
        &ct::GET_FAMILY,
        &ct::DEL_FAMILY,
        &meter::FAMILY,
    ]
    .into_iter()
    .find(|f| f.id == ty)
}

impl Ctx<'_> {
    /// A reply head echoing the request's seq and pid.
    pub fn reply_header(&self, ty: u16, flags: u16, cmd: u8, version: u8) -> MsgHeader {
        MsgHeader {
            ty,
            flags,
            seq: self.msg.hdr.seq,
            pid: self.msg.hdr.pid,
            cmd,
            version,
            ..MsgHeader::default()
        }
    }

    pub fn out(&mut self) -> NlBuf<'_> {
        NlBuf::new(self.out)
    }

    /// One item of a dump that hands out one message per READ (vports,
    /// netdevs): `item` writes the item at `cursor` with the given head
    /// (`NLM_F_MULTI`, the dump's seq, pid and cmd) and returns the cursor
    /// after it, or `None` when there is none: the READ then gets 0 bytes
    /// and the dump ends.
    pub fn dump_one(
        &mut self,
        item: impl FnOnce(&Datapath, u64, &MsgHeader, &mut NlBuf<'_>) -> Result<Option<u64>, Overflow>,
    ) -> Result<Reply, Fail> {
        let Some(dump) = self.dump.as_deref_mut() else {
            return Ok(Reply::Len(0));
        };
        let hdr = MsgHeader {
            len: 0,
            flags: crate::netlink::NLM_F_MULTI,
            ..dump.hdr
        };
        let mut b = NlBuf::new(self.out);
        match item(self.dp, dump.cursor, &hdr, &mut b)? {
            Some(next) => {
                dump.cursor = next;
                Ok(Reply::Dumped {
                    len: b.len(),
                    done: false,
                })
            }
            None => Ok(Reply::Dumped { len: 0, done: true }),
        }
    }

    /// A WRITE that starts a dump must carry NLM_F_DUMP.
    pub fn start_dump(&self, flags: u32) -> Result<Reply, Fail> {
        if self.msg.hdr.flags & NLM_F_DUMP != NLM_F_DUMP {
            return Err(Fail::Status(NtStatus::INVALID_PARAMETER));
        }
        // READ replays the bare head, so it records no attribute length.
        let hdr = MsgHeader {
            len: crate::netlink::OVS_MSG_LEN as u32,
            ..self.msg.hdr
        };
        Ok(Reply::StartDump(DumpState {
            hdr,
            cursor: 0,
            flags,
        }))
    }
}
