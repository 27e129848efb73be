//! Multicast subscriptions and per-handle event queues: vport NEW/DEL
//! notifications rendered as netlink messages, read one per READ_EVENT,
//! with a pended WIN_PEND_REQ completed when one arrives.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::netlink::{MsgHeader, NlBuf, Overflow};
use crate::ovs::{family, vport as ov};
use crate::pend::{PendToken, Slot, Wakeups};

/// Most events a queue holds; further ones are counted as lost.
pub const EVENT_QUEUE_MAX: usize = 1024;
/// Most bytes one handle's queued events may take (a vport event carries
/// the whole upcall PID array: up to about 4.4 KB).
pub const EVENT_QUEUE_MAX_BYTES: usize = 256 << 10;
/// Most bytes the queued events of all handles together may take.
pub const EVENT_TOTAL_MAX_BYTES: usize = 16 << 20;

/// Multicast groups a handle can join.
pub mod group {
    /// The vport group (`OVS_WIN_NL_VPORT_MCGRP_ID`), for NETLINK_GENERIC handles.
    pub const VPORT: u32 = 1 << 0;
    /// Conntrack groups (`NFNLGRP_CONNTRACK_NEW/UPDATE/DESTROY`), for
    /// NETLINK_NETFILTER handles.
    pub const CT_NEW: u32 = 1 << 1;
    pub const CT_UPDATE: u32 = 1 << 2;
    pub const CT_DESTROY: u32 = 1 << 3;
}

/// A vport change as userspace reads it (`OVS_VPORT_CMD_NEW` or `_DEL`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VportEvent<'a> {
    pub cmd: u8,
    pub port_no: u32,
    pub ovs_type: u32,
    pub upcall_pids: &'a [u32],
    pub name: &'a str,
}

impl VportEvent<'_> {
    /// `{type=vport family, flags=0, seq=0, pid=reader}`, version 1,
    /// dp_ifindex 0, then PORT_NO, TYPE, UPCALL_PID, NAME.
    fn render(&self, reader_pid: u32, out: &mut NlBuf<'_>) -> Result<(), Overflow> {
        let hdr = MsgHeader {
            ty: family::VPORT,
            pid: reader_pid,
            cmd: self.cmd,
            version: family::VPORT_VERSION,
            ..MsgHeader::default()
        };
        let m = out.begin_msg(&hdr)?;
        out.put_u32(ov::ATTR_PORT_NO, self.port_no)?;
        out.put_u32(ov::ATTR_TYPE, self.ovs_type)?;
        let pids = out.put_attr_uninit(ov::ATTR_UPCALL_PID, self.upcall_pids.len().max(1) * 4)?;
        for (chunk, pid) in pids.chunks_exact_mut(4).zip(self.upcall_pids) {
            chunk.copy_from_slice(&pid.to_ne_bytes());
        }
        out.put_str(ov::ATTR_NAME, self.name)?;
        out.end_msg(m);
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        crate::netlink::OVS_MSG_LEN
            + 8
            + 8
            + 4
            + self.upcall_pids.len().max(1) * 4
            + 4
            + crate::netlink::align(self.name.len() + 1)
    }
}

#[derive(Debug)]
struct EventQueue {
    pid: u32,
    groups: u32,
    items: VecDeque<Vec<u8>>,
    /// What `items` holds, as `cost` counts it.
    bytes: usize,
    pending: Slot,
    lost: u64,
    /// Events were lost since the last read: the next read reports it.
    overrun: bool,
}

/// What a READ_EVENT finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// One message (moved out of the queue).
    Message(Vec<u8>),
    /// Nothing queued (0 bytes).
    Empty,
    /// The next message is longer than the reader's buffer; it stays queued.
    TooBig,
    /// Events were dropped since the last read; userspace must resync.
    Overrun,
}

/// Every handle's event queue, keyed by the handle's PID.
#[derive(Debug, Default)]
pub struct EventQueues {
    queues: Vec<EventQueue>,
    /// Bytes queued over all queues.
    bytes: usize,
}

/// What a queued message costs against the byte bounds: its bytes and its
/// slot in the queue.
fn cost(msg: &[u8]) -> usize {
    msg.len() + core::mem::size_of::<Vec<u8>>()
}

/// Subscription errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeError {
    NoMemory,
}

impl EventQueues {
    fn find(&self, pid: u32) -> Result<usize, usize> {
        self.queues.binary_search_by_key(&pid, |q| q.pid)
    }

    fn get_mut(&mut self, pid: u32) -> Option<&mut EventQueue> {
        let i = self.find(pid).ok()?;
        self.queues.get_mut(i)
    }

    pub fn groups(&self, pid: u32) -> u32 {
        self.find(pid)
            .ok()
            .and_then(|i| self.queues.get(i))
            .map_or(0, |q| q.groups)
    }

    /// Joins `groups` (creating the queue on first join).
    pub fn join(&mut self, pid: u32, groups: u32) -> Result<(), SubscribeError> {
        match self.find(pid) {
            Ok(i) => {
                if let Some(q) = self.queues.get_mut(i) {
                    q.groups |= groups;
                }
            }
            Err(at) => {
                self.queues
                    .try_reserve(1)
                    .map_err(|_| SubscribeError::NoMemory)?;
                let q = EventQueue {
                    pid,
                    groups,
                    items: VecDeque::new(),
                    bytes: 0,
                    pending: Slot::default(),
                    lost: 0,
                    overrun: false,
                };
                self.queues.insert(at, q);
            }
        }
        Ok(())
    }

    /// Leaves `groups`; the queue goes (and a pended request completes) when
    /// no group is left.
    pub fn leave(&mut self, pid: u32, groups: u32, wake: &mut Wakeups) {
        let Ok(i) = self.find(pid) else { return };
        let emptied = self.queues.get_mut(i).is_some_and(|q| {
            q.groups &= !groups;
            q.groups == 0
        });
        if emptied {
            self.remove(pid, wake);
        }
    }

    /// Drops the queue of `pid` (handle cleanup, switch detach).
    pub fn remove(&mut self, pid: u32, wake: &mut Wakeups) {
        if let Ok(i) = self.find(pid) {
            let mut q = self.queues.remove(i);
            q.pending.wake_into(wake);
            if q.pending.is_pending() {
                // Could not record the wakeup: keep the queue so the request is not lost.
                self.queues.insert(i, q);
            } else {
                self.bytes = self.bytes.saturating_sub(q.bytes);
            }
        }
    }

    /// Removes every queue, waking every pended request.
    pub fn clear(&mut self, wake: &mut Wakeups) {
        for q in &mut self.queues {
            q.pending.wake_into(wake);
        }
        self.queues.retain(|q| q.pending.is_pending());
        self.bytes = self.queues.iter().map(|q| q.bytes).sum();
    }

    /// WIN_PEND_REQ. `Ok(true)`: pended; `Ok(false)`: events are already
    /// queued, answer at once. `Err(NotSubscribed|Busy)` otherwise.
    pub fn pend(&mut self, pid: u32, token: PendToken) -> Result<bool, PendError> {
        let q = self.get_mut(pid).ok_or(PendError::NotSubscribed)?;
        if q.pending.is_pending() {
            return Err(PendError::Busy);
        }
        if !q.items.is_empty() || q.overrun {
            return Ok(false);
        }
        q.pending.set(token);
        Ok(true)
    }

    pub fn cancel(&mut self, pid: u32, token: PendToken) -> bool {
        self.get_mut(pid).is_some_and(|q| q.pending.cancel(token))
    }

    /// READ_EVENT: the oldest message if it fits in `room` bytes.
    pub fn read(&mut self, pid: u32, room: usize) -> Read {
        let Some(q) = self.get_mut(pid) else {
            return Read::Empty;
        };
        if q.overrun {
            q.overrun = false;
            return Read::Overrun;
        }
        match q.items.front() {
            None => Read::Empty,
            Some(m) if m.len() > room => Read::TooBig,
            Some(_) => {
                let msg = q.items.pop_front().unwrap_or_default();
                q.bytes = q.bytes.saturating_sub(cost(&msg));
                self.bytes = self.bytes.saturating_sub(cost(&msg));
                Read::Message(msg)
            }
        }
    }

    /// Posts a vport event to every queue in the vport group.
    pub fn post_vport(&mut self, ev: &VportEvent<'_>, wake: &mut Wakeups) {
        let total = &mut self.bytes;
        for q in self
            .queues
            .iter_mut()
            .filter(|q| q.groups & group::VPORT != 0)
        {
            let msg = render(ev.encoded_len(), |b| ev.render(q.pid, b));
            q.push(msg, total);
            q.pending.wake_into(wake);
        }
    }

    /// Posts `msg` (the same bytes for every reader) to every queue that
    /// joined one of `groups`.
    pub fn post(&mut self, groups: u32, msg: &[u8], wake: &mut Wakeups) {
        let total = &mut self.bytes;
        for q in self.queues.iter_mut().filter(|q| q.groups & groups != 0) {
            let mut copy = Vec::new();
            let copy = copy.try_reserve_exact(msg.len()).ok().map(|()| {
                copy.extend_from_slice(msg);
                copy
            });
            q.push(copy, total);
            q.pending.wake_into(wake);
        }
    }

    /// The groups some queue has joined.
    pub fn joined(&self) -> u32 {
        self.queues.iter().fold(0, |g, q| g | q.groups)
    }

    /// Bytes queued over all queues, as the byte bounds count them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Events queued and lost over all queues (for statistics and tests).
    pub fn counts(&self) -> (usize, u64) {
        let queued = self.queues.iter().map(|q| q.items.len()).sum();
        let lost = self.queues.iter().map(|q| q.lost).sum();
        (queued, lost)
    }

    pub fn pended(&self) -> usize {
        self.queues
            .iter()
            .filter(|q| q.pending.is_pending())
            .count()
    }

    pub fn len(&self) -> usize {
        self.queues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

impl EventQueue {
    /// Queues `msg` (`None`: it could not be rendered) within the count and
    /// byte bounds, or counts it lost and marks the overrun.
    fn push(&mut self, msg: Option<Vec<u8>>, total: &mut usize) {
        let fits = |m: &Vec<u8>| {
            self.items.len() < EVENT_QUEUE_MAX
                && self.bytes + cost(m) <= EVENT_QUEUE_MAX_BYTES
                && *total + cost(m) <= EVENT_TOTAL_MAX_BYTES
        };
        match msg {
            Some(m) if fits(&m) && self.items.try_reserve(1).is_ok() => {
                self.bytes += cost(&m);
                *total += cost(&m);
                self.items.push_back(m);
            }
            _ => {
                crate::diag::overrun("event", self.pid);
                self.lost += 1;
                self.overrun = true;
            }
        }
    }
}

/// A message of at most `len` bytes written by `write`, in memory of its
/// own; `None` when out of memory or when it does not fit.
fn render(
    len: usize,
    write: impl FnOnce(&mut NlBuf<'_>) -> Result<(), Overflow>,
) -> Option<Vec<u8>> {
    let mut msg = Vec::new();
    msg.try_reserve_exact(len).ok()?;
    msg.resize(len, 0);
    let mut b = NlBuf::new(&mut msg);
    write(&mut b).ok()?;
    let n = b.len();
    msg.truncate(n);
    Some(msg)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendError {
    NotSubscribed,
    Busy,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::NlMsg;

    fn ev(name: &str) -> VportEvent<'_> {
        VportEvent {
            cmd: ov::CMD_NEW,
            port_no: 3,
            ovs_type: ov::TYPE_NETDEV,
            upcall_pids: &[9],
            name,
        }
    }

    #[test]
    fn post_read_pend() {
        let mut e = EventQueues::default();
        let mut w = Wakeups::new();
        e.join(5, group::VPORT).unwrap();
        assert_eq!(e.pend(5, PendToken(1)), Ok(true));
        assert_eq!(e.pend(5, PendToken(2)), Err(PendError::Busy));
        e.post_vport(&ev("vm1"), &mut w);
        assert_eq!(w.into_tokens(), std::vec![PendToken(1)]);
        let Read::Message(m) = e.read(5, usize::MAX) else {
            panic!()
        };
        let msg = NlMsg::new_checked(&m).unwrap();
        assert_eq!(msg.hdr.pid, 5);
        assert_eq!(msg.hdr.len as usize, m.len());
        assert_eq!(msg.find(ov::ATTR_NAME).unwrap().str(), Some("vm1"));
        assert_eq!(e.read(5, usize::MAX), Read::Empty);
        assert_eq!(e.pend(7, PendToken(3)), Err(PendError::NotSubscribed));
    }

    #[test]
    fn a_read_too_short_keeps_the_message() {
        let mut e = EventQueues::default();
        let mut w = Wakeups::new();
        e.join(5, group::VPORT).unwrap();
        e.post_vport(&ev("vm1"), &mut w);
        let len = ev("vm1").encoded_len();
        assert_eq!(e.read(5, len - 1), Read::TooBig);
        assert_eq!(e.counts(), (1, 0));
        assert!(matches!(e.read(5, len), Read::Message(m) if m.len() == len));
        assert_eq!(e.bytes(), 0);
    }

    #[test]
    fn pend_returns_at_once_when_events_wait() {
        let mut e = EventQueues::default();
        let mut w = Wakeups::new();
        e.join(5, group::VPORT).unwrap();
        e.post_vport(&ev("a"), &mut w);
        assert_eq!(e.pend(5, PendToken(1)), Ok(false));
    }

    #[test]
    fn bounded_with_overrun() {
        let mut e = EventQueues::default();
        let mut w = Wakeups::new();
        e.join(5, group::VPORT).unwrap();
        for _ in 0..EVENT_QUEUE_MAX + 3 {
            e.post_vport(&ev("a"), &mut w);
        }
        assert_eq!(e.counts(), (EVENT_QUEUE_MAX, 3));
        assert_eq!(e.read(5, usize::MAX), Read::Overrun);
        assert!(matches!(e.read(5, usize::MAX), Read::Message(_)));
    }

    #[test]
    fn leave_wakes_and_frees() {
        let mut e = EventQueues::default();
        let mut w = Wakeups::new();
        e.join(5, group::VPORT).unwrap();
        e.pend(5, PendToken(4)).unwrap();
        e.leave(5, group::VPORT, &mut w);
        assert_eq!(w.into_tokens(), std::vec![PendToken(4)]);
        assert!(e.is_empty());
    }

    /// A vport event with the largest PID array userspace may set.
    fn big<'a>(pids: &'a [u32]) -> VportEvent<'a> {
        VportEvent {
            upcall_pids: pids,
            ..ev("vm-with-a-long-name")
        }
    }

    #[test]
    fn bounded_in_bytes_per_handle() {
        let pids = [7u32; crate::vport::MAX_UPCALL_PIDS];
        let mut e = EventQueues::default();
        let mut w = Wakeups::new();
        e.join(5, group::VPORT).unwrap();
        let posts = 128;
        for _ in 0..posts {
            e.post_vport(&big(&pids), &mut w);
        }
        let (queued, lost) = e.counts();
        assert!(queued < posts / 2, "{queued} events queued");
        assert_eq!(queued as u64 + lost, posts as u64);
        assert!(e.bytes() <= EVENT_QUEUE_MAX_BYTES);
        assert!(e.bytes() + cost(&[0; 4096]) > EVENT_QUEUE_MAX_BYTES, "full");
        // Reading gives the room back.
        assert_eq!(e.read(5, usize::MAX), Read::Overrun);
        let before = e.bytes();
        assert!(matches!(e.read(5, usize::MAX), Read::Message(_)));
        assert!(e.bytes() < before);
        e.post_vport(&big(&pids), &mut w);
        assert_eq!(e.bytes(), before);
    }

    #[test]
    fn bounded_in_bytes_over_all_handles() {
        let pids = [7u32; crate::vport::MAX_UPCALL_PIDS];
        let mut e = EventQueues::default();
        let mut w = Wakeups::new();
        let handles = 2 * EVENT_TOTAL_MAX_BYTES / EVENT_QUEUE_MAX_BYTES;
        for pid in 1..=handles as u32 {
            e.join(pid, group::VPORT).unwrap();
        }
        // Fewer events than one queue could hold, but more than all can.
        for _ in 0..40 {
            e.post_vport(&big(&pids), &mut w);
        }
        let (queued, lost) = e.counts();
        assert!(lost > 0 && e.bytes() <= EVENT_TOTAL_MAX_BYTES);
        assert!(e.bytes() + cost(&[0; 4096]) > EVENT_TOTAL_MAX_BYTES, "full");
        assert!(queued < 40 * handles);
        // Dropping queues returns their bytes.
        for pid in 1..=handles as u32 {
            e.remove(pid, &mut w);
        }
        assert_eq!((e.bytes(), e.len()), (0, 0));
    }
}
