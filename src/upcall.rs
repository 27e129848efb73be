//! Per-PID packet queues: upcall messages wait here for READ_PACKET, and a
//! pended WIN_PEND_PACKET_REQ is completed when the first one arrives.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::flow::FlowKey;
use crate::flow::attrs::{MAX_KEY_LEN, MAX_TUNNEL_LEN, emit_egress_tunnel, emit_key};
use crate::netlink::{MsgHeader, NLA_HDRLEN, NlBuf, OVS_MSG_LEN, Overflow, align};
use crate::offload::{self, Checksums};
use crate::ovs::{family, packet as op};
use crate::pend::{PendToken, Slot, Wakeups};

/// Most messages one queue holds.
pub const UPCALL_QUEUE_MAX: usize = 4096;
/// Most bytes one queue holds (the receive buffer userspace sizes its reads for).
pub const UPCALL_QUEUE_MAX_BYTES: usize = 4 << 20;
/// Most bytes all queues together hold, however many handles subscribe.
pub const UPCALL_TOTAL_MAX_BYTES: usize = 64 << 20;

#[derive(Debug)]
struct UpcallQueue {
    pid: u32,
    items: VecDeque<Vec<u8>>,
    bytes: usize,
    pending: Slot,
}

/// Why an upcall was not queued (the caller counts it in `n_lost`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// No handle subscribed this PID.
    NoListener,
    /// The queue is full.
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    NotSubscribed,
    AlreadySubscribed,
    Busy,
    NoMemory,
}

/// What a READ_PACKET gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Message(Vec<u8>),
    Empty,
    /// The head message is longer than the reader's buffer; it stays queued.
    TooBig,
}

#[derive(Debug, Default)]
pub struct UpcallQueues {
    queues: Vec<UpcallQueue>,
    /// Bytes queued over every queue.
    total: usize,
}

impl UpcallQueues {
    fn find(&self, pid: u32) -> Result<usize, usize> {
        self.queues.binary_search_by_key(&pid, |q| q.pid)
    }

    fn get_mut(&mut self, pid: u32) -> Option<&mut UpcallQueue> {
        let i = self.find(pid).ok()?;
        self.queues.get_mut(i)
    }

    pub fn is_subscribed(&self, pid: u32) -> bool {
        self.find(pid).is_ok()
    }

    /// PACKET_SUBSCRIBE with SUBSCRIBE=1.
    pub fn subscribe(&mut self, pid: u32) -> Result<(), QueueError> {
        let Err(at) = self.find(pid) else {
            return Err(QueueError::AlreadySubscribed);
        };
        self.queues
            .try_reserve(1)
            .map_err(|_| QueueError::NoMemory)?;
        let q = UpcallQueue {
            pid,
            items: VecDeque::new(),
            bytes: 0,
            pending: Slot::default(),
        };
        self.queues.insert(at, q);
        Ok(())
    }

    /// PACKET_SUBSCRIBE with SUBSCRIBE=0, handle cleanup, switch detach:
    /// frees queued messages, completes a pended request.
    pub fn unsubscribe(&mut self, pid: u32, wake: &mut Wakeups) -> Result<(), QueueError> {
        let i = self.find(pid).map_err(|_| QueueError::NotSubscribed)?;
        let mut q = self.queues.remove(i);
        self.total -= q.bytes;
        q.pending.wake_into(wake);
        Ok(())
    }

    pub fn clear(&mut self, wake: &mut Wakeups) {
        for q in &mut self.queues {
            q.pending.wake_into(wake);
        }
        self.queues.clear();
        self.total = 0;
    }

    /// WIN_PEND_PACKET_REQ: `Ok(true)` pended, `Ok(false)` packets are
    /// waiting (answer at once).
    pub fn pend(&mut self, pid: u32, token: PendToken) -> Result<bool, QueueError> {
        let q = self.get_mut(pid).ok_or(QueueError::NotSubscribed)?;
        if q.pending.is_pending() {
            return Err(QueueError::Busy);
        }
        if !q.items.is_empty() {
            return Ok(false);
        }
        q.pending.set(token);
        Ok(true)
    }

    pub fn cancel(&mut self, pid: u32, token: PendToken) -> bool {
        self.get_mut(pid).is_some_and(|q| q.pending.cancel(token))
    }

    /// READ_PACKET: the oldest message if it fits in `room` bytes.
    pub fn read(&mut self, pid: u32, room: usize) -> Result<Read, QueueError> {
        let q = self.get_mut(pid).ok_or(QueueError::NotSubscribed)?;
        match q.items.front() {
            None => Ok(Read::Empty),
            Some(m) if m.len() > room => Ok(Read::TooBig),
            Some(_) => {
                let m = q.items.pop_front().unwrap_or_default();
                q.bytes -= m.len();
                self.total -= m.len();
                Ok(Read::Message(m))
            }
        }
    }

    /// The producer side: queues `msg` for `pid` and wakes its pended
    /// request. On `Err` the message is dropped (the caller counts it).
    pub fn enqueue(&mut self, pid: u32, msg: Vec<u8>, wake: &mut Wakeups) -> Result<(), Drop> {
        let total = self.total;
        let q = self.get_mut(pid).ok_or(Drop::NoListener)?;
        if q.items.len() >= UPCALL_QUEUE_MAX
            || q.bytes + msg.len() > UPCALL_QUEUE_MAX_BYTES
            || total + msg.len() > UPCALL_TOTAL_MAX_BYTES
            || q.items.try_reserve(1).is_err()
        {
            return Err(Drop::Full);
        }
        let n = msg.len();
        q.bytes += n;
        q.items.push_back(msg);
        q.pending.wake_into(wake);
        self.total += n;
        Ok(())
    }

    /// (queues, queued messages, pended requests) for statistics and tests.
    pub fn counts(&self) -> (usize, usize, usize) {
        let msgs = self.queues.iter().map(|q| q.items.len()).sum();
        let pended = self
            .queues
            .iter()
            .filter(|q| q.pending.is_pending())
            .count();
        (self.queues.len(), msgs, pended)
    }
}

/// What an upcall message carries besides the key and the packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extra<'a> {
    /// `OVS_PACKET_ATTR_USERDATA` (userspace action).
    pub userdata: Option<&'a [u8]>,
    /// `OVS_PACKET_ATTR_ACTIONS`: the actions being run, when asked for.
    pub actions: Option<&'a [u8]>,
    /// `OVS_PACKET_ATTR_LEN`: the length before a truncation.
    pub original_len: Option<u32>,
    /// `OVS_PACKET_ATTR_MRU`: the packet was reassembled from fragments
    /// of at most this size.
    pub mru: Option<u16>,
    /// Checksums the sender left to the NIC, completed in the copy.
    pub checksums: Checksums,
    /// `OVS_PACKET_ATTR_EGRESS_TUN_KEY`: the tunnel key the packet would be
    /// sent with (a userspace action naming its tunnel port).
    pub egress_tun_key: Option<&'a FlowKey>,
}

/// An `OVS_PACKET_CMD_MISS` or `_ACTION` message for `pid`:
/// `{type=packet family, flags=0, seq=0, pid}`, version 1, dp_ifindex 0;
/// KEY, [USERDATA], [ACTIONS], [MRU], [LEN], PACKET — the frame with an
/// out-of-band 802.1Q tag put back in band, as userspace re-parses it.
/// `None` when out of memory.
pub fn message(
    cmd: u8,
    pid: u32,
    key: &FlowKey,
    frame: &[u8],
    oob_vlan: Option<u16>,
    extra: &Extra<'_>,
) -> Option<Vec<u8>> {
    let attr = |n: usize| align(NLA_HDRLEN + n);
    // The key first, on the stack, so that the message is allocated (and
    // cleared) at about its size rather than at the largest key's.
    let mut key_buf = [0u8; MAX_KEY_LEN];
    let key_len = {
        let mut b = NlBuf::new(&mut key_buf);
        emit_key(key, &mut b).ok()?;
        b.len()
    };
    let key_attrs = key_buf.get(..key_len)?;
    let frame_len = frame.len() + if oob_vlan.is_some() { 4 } else { 0 };
    let bound = OVS_MSG_LEN
        + attr(key_len)
        + extra.userdata.map_or(0, |u| attr(u.len()))
        + extra.actions.map_or(0, |a| attr(a.len()))
        + extra.mru.map_or(0, |_| attr(2))
        + extra.egress_tun_key.map_or(0, |_| MAX_TUNNEL_LEN)
        + attr(4)
        + attr(frame_len);
    let mut msg = Vec::new();
    msg.try_reserve_exact(bound).ok()?;
    msg.resize(bound, 0);
    let len = {
        let mut b = NlBuf::new(&mut msg);
        build(&mut b, cmd, pid, key_attrs, frame, oob_vlan, extra).ok()?;
        b.len()
    };
    msg.truncate(len);
    Some(msg)
}

fn build(
    b: &mut NlBuf<'_>,
    cmd: u8,
    pid: u32,
    key_attrs: &[u8],
    frame: &[u8],
    oob_vlan: Option<u16>,
    extra: &Extra<'_>,
) -> Result<(), Overflow> {
    let hdr = MsgHeader {
        ty: family::PACKET,
        pid,
        cmd,
        version: family::PACKET_VERSION,
        ..MsgHeader::default()
    };
    let m = b.begin_msg(&hdr)?;
    b.put_attr(op::ATTR_KEY, key_attrs)?;
    if let Some(u) = extra.userdata {
        b.put_attr(op::ATTR_USERDATA, u)?;
    }
    if let Some(t) = extra.egress_tun_key {
        emit_egress_tunnel(t, b)?;
    }
    if let Some(a) = extra.actions {
        b.put_attr(op::ATTR_ACTIONS, a)?;
    }
    if let Some(mru) = extra.mru {
        b.put_u16(op::ATTR_MRU, mru)?;
    }
    if let Some(len) = extra.original_len {
        b.put_u32(op::ATTR_LEN, len)?;
    }
    let tagged = oob_vlan.and_then(|tci| frame.split_at_checked(12).map(|parts| (tci, parts)));
    let len = frame.len() + if tagged.is_some() { 4 } else { 0 };
    let p = b.put_attr_uninit(op::ATTR_PACKET, len)?;
    match tagged {
        Some((tci, (macs, rest))) => {
            let tag = [0x81, 0x00, (tci >> 8) as u8, tci as u8];
            for (dst, src) in p.iter_mut().zip(macs.iter().chain(&tag).chain(rest)) {
                *dst = *src;
            }
        }
        None => p.copy_from_slice(frame),
    }
    if extra.checksums.any() {
        // Headers are found by parsing, so the tag put back in band is fine;
        // a frame they do not fit is handed over as it came.
        let _ = offload::complete_checksums(p, extra.checksums);
    }
    b.end_msg(m);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reassembled_packet_carries_its_mru() {
        let frame = [0u8; 60];
        let key = FlowKey::default();
        let types = |extra: &Extra<'_>| -> std::vec::Vec<(u16, std::vec::Vec<u8>)> {
            let m = message(op::CMD_MISS, 1, &key, &frame, None, extra).unwrap();
            // After the netlink, genetlink and OVS headers.
            crate::netlink::attrs(&m[OVS_MSG_LEN..])
                .map(|a| a.unwrap())
                .map(|a| (a.ty(), a.payload().to_vec()))
                .collect()
        };
        let plain = types(&Extra::default());
        assert!(plain.iter().all(|(t, _)| *t != op::ATTR_MRU));
        let with = types(&Extra {
            mru: Some(1500),
            ..Extra::default()
        });
        let mru = with.iter().find(|(t, _)| *t == op::ATTR_MRU).unwrap();
        assert_eq!(mru.1, 1500u16.to_ne_bytes());
        assert_eq!(with.last().unwrap().0, op::ATTR_PACKET);
    }

    #[test]
    fn subscribe_pend_enqueue_read() {
        let mut u = UpcallQueues::default();
        let mut w = Wakeups::new();
        assert_eq!(u.pend(3, PendToken(1)), Err(QueueError::NotSubscribed));
        u.subscribe(3).unwrap();
        assert_eq!(u.subscribe(3), Err(QueueError::AlreadySubscribed));
        assert_eq!(u.pend(3, PendToken(1)), Ok(true));
        assert_eq!(u.pend(3, PendToken(2)), Err(QueueError::Busy));
        assert_eq!(u.enqueue(4, std::vec![1], &mut w), Err(Drop::NoListener));
        u.enqueue(3, std::vec![1, 2, 3], &mut w).unwrap();
        assert_eq!(w.into_tokens(), std::vec![PendToken(1)]);
        assert_eq!(u.pend(3, PendToken(5)), Ok(false));
        assert_eq!(u.read(3, 2), Ok(Read::TooBig));
        assert_eq!(u.read(3, 3), Ok(Read::Message(std::vec![1, 2, 3])));
        assert_eq!(u.read(3, 3), Ok(Read::Empty));
    }

    #[test]
    fn bounded() {
        let mut u = UpcallQueues::default();
        let mut w = Wakeups::new();
        u.subscribe(1).unwrap();
        for _ in 0..UPCALL_QUEUE_MAX {
            u.enqueue(1, std::vec![0; 8], &mut w).unwrap();
        }
        assert_eq!(u.enqueue(1, std::vec![0; 8], &mut w), Err(Drop::Full));
        assert_eq!(
            u.enqueue(1, std::vec![0; 8], &mut Wakeups::new()),
            Err(Drop::Full)
        );
        let mut w2 = Wakeups::new();
        u.subscribe(2).unwrap();
        assert_eq!(
            u.enqueue(2, std::vec![0; UPCALL_QUEUE_MAX_BYTES + 1], &mut w2),
            Err(Drop::Full)
        );
    }

    #[test]
    fn bounded_over_all_queues() {
        let mut u = UpcallQueues::default();
        let mut w = Wakeups::new();
        let mib = 1 << 20;
        let queues = UPCALL_TOTAL_MAX_BYTES / UPCALL_QUEUE_MAX_BYTES;
        for pid in 0..=queues as u32 {
            u.subscribe(pid).unwrap();
        }
        for pid in 0..queues as u32 {
            for _ in 0..UPCALL_QUEUE_MAX_BYTES / mib {
                u.enqueue(pid, std::vec![0; mib], &mut w).unwrap();
            }
        }
        assert_eq!(
            u.enqueue(queues as u32, std::vec![0; 1], &mut w),
            Err(Drop::Full),
            "the budget is spent"
        );
        assert!(matches!(u.read(0, mib), Ok(Read::Message(_))));
        assert_eq!(
            u.enqueue(queues as u32, std::vec![0; mib], &mut w),
            Ok(()),
            "reading gives it back"
        );
        u.unsubscribe(1, &mut w).unwrap();
        assert_eq!(u.total, UPCALL_TOTAL_MAX_BYTES - UPCALL_QUEUE_MAX_BYTES);
    }

    #[test]
    fn unsubscribe_frees_and_wakes() {
        let mut u = UpcallQueues::default();
        let mut w = Wakeups::new();
        u.subscribe(1).unwrap();
        u.pend(1, PendToken(9)).unwrap();
        u.unsubscribe(1, &mut w).unwrap();
        assert_eq!(w.into_tokens(), std::vec![PendToken(9)]);
        assert_eq!(u.counts(), (0, 0, 0));
    }
}
