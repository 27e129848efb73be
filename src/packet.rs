//! The packet buffer the platform hands to the datapath: an NBL/MDL chain on
//! Windows, an owned buffer in the simulator and the tests.
//!
//! The datapath reads headers through `data()` (the platform guarantees the
//! whole frame is contiguous there, copying only when NDIS split it) and asks
//! for write access only when an action rewrites the frame.

use alloc::vec::Vec;

use crate::offload::Request;

/// A frame being switched.
pub trait Packet {
    /// The frame bytes from the Ethernet header on.
    fn data(&self) -> &[u8];

    /// Writable frame bytes; `None` if the platform cannot make the frame
    /// writable (out of memory). The length is unchanged.
    fn data_mut(&mut self) -> Option<&mut [u8]>;

    /// Grows the frame by `n` bytes at the front and returns the whole frame.
    fn push_front(&mut self, n: usize) -> Option<&mut [u8]>;

    /// Removes `n` bytes from the front; false if the frame is shorter.
    fn pull_front(&mut self, n: usize) -> bool;

    /// Shortens the frame to `len` bytes (no-op if already shorter).
    fn truncate(&mut self, len: usize);

    /// The 802.1Q tag NDIS carries out of band (TCI without the present bit).
    fn oob_vlan(&self) -> Option<u16>;
    fn set_oob_vlan(&mut self, tci: Option<u16>);

    /// What the sender left for the NIC to do (checksums, a large send
    /// to cut): a copy of the frame handed to userspace must be completed.
    fn offload(&self) -> Request {
        Request::NONE
    }

    /// Makes `frame` the packet's bytes, whatever its length (a reassembled
    /// datagram in place of its last fragment); false when out of room or
    /// memory. The metadata (tag, offload request, MRU) stays.
    fn replace(&mut self, frame: &[u8]) -> bool {
        let grown = match frame.len().checked_sub(self.len()) {
            Some(grow) if grow > 0 => self.push_front(grow).is_some(),
            _ => {
                self.truncate(frame.len());
                true
            }
        };
        grown
            && self
                .data_mut()
                .and_then(|d| d.get_mut(..frame.len()))
                .map(|d| d.copy_from_slice(frame))
                .is_some()
    }

    /// The largest IP fragment this packet was reassembled from (0: it was
    /// not), as Linux's `OVS_CB(skb)->mru`: output cuts it to that size
    /// again. Copies keep it. A buffer that cannot keep one (a read-only
    /// frame, never reassembled) has none.
    fn mru(&self) -> u16 {
        0
    }
    fn set_mru(&mut self, mru: u16) {
        let _ = mru;
    }

    /// Forgets the offload request (its work was done in software, or
    /// the frame's headers moved so that the request no longer applies).
    fn clear_offload(&mut self) {}

    /// An independent copy; `None` when out of memory.
    fn try_clone(&self) -> Option<Self>
    where
        Self: Sized;

    fn len(&self) -> usize {
        self.data().len()
    }

    fn is_empty(&self) -> bool {
        self.data().is_empty()
    }
}

/// Headroom kept in front of a frame so tags and headers can be pushed
/// without moving it.
const HEADROOM: usize = 64;

/// A heap frame with headroom: the simulator's packet, also used for packets
/// that userspace sends with `OVS_PACKET_CMD_EXECUTE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedPacket {
    buf: Vec<u8>,
    start: usize,
    oob_vlan: Option<u16>,
    mru: u16,
}

impl OwnedPacket {
    /// Copies `frame` into a new packet; `None` when out of memory.
    pub fn from_frame(frame: &[u8]) -> Option<OwnedPacket> {
        let mut buf = Vec::new();
        buf.try_reserve_exact(HEADROOM + frame.len()).ok()?;
        buf.resize(HEADROOM, 0);
        buf.extend_from_slice(frame);
        Some(OwnedPacket {
            buf,
            start: HEADROOM,
            oob_vlan: None,
            mru: 0,
        })
    }
}

impl Packet for OwnedPacket {
    fn data(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn data_mut(&mut self) -> Option<&mut [u8]> {
        self.buf.get_mut(self.start..)
    }

    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            // Out of headroom: move the frame back, keeping HEADROOM spare.
            let grow = n - self.start + HEADROOM;
            self.buf.try_reserve(grow).ok()?;
            self.buf.splice(0..0, core::iter::repeat_n(0u8, grow));
            self.start += grow;
        }
        self.start -= n;
        let data = self.buf.get_mut(self.start..)?;
        if let Some(head) = data.get_mut(..n) {
            head.fill(0);
        }
        Some(data)
    }

    fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.start += n;
        true
    }

    fn truncate(&mut self, len: usize) {
        self.buf.truncate(self.start.saturating_add(len));
    }

    fn oob_vlan(&self) -> Option<u16> {
        self.oob_vlan
    }

    fn set_oob_vlan(&mut self, tci: Option<u16>) {
        self.oob_vlan = tci;
    }

    fn mru(&self) -> u16 {
        self.mru
    }

    fn set_mru(&mut self, mru: u16) {
        self.mru = mru;
    }

    fn try_clone(&self) -> Option<OwnedPacket> {
        let mut buf = Vec::new();
        buf.try_reserve_exact(self.buf.len()).ok()?;
        buf.extend_from_slice(&self.buf);
        Some(OwnedPacket {
            buf,
            start: self.start,
            oob_vlan: self.oob_vlan,
            mru: self.mru,
        })
    }
}

/// A packet for tests that counts the bytes its copies take and may
/// refuse them, and may be asked about the moments it is made writable.
#[cfg(test)]
pub(crate) struct Watched {
    pub pkt: OwnedPacket,
    /// Bytes `try_clone` copied, of this packet and its copies together.
    pub copied: alloc::rc::Rc<core::cell::Cell<usize>>,
    /// Whether copies can be had.
    pub copies: bool,
    /// What its sender left to the NIC.
    pub req: Request,
    /// Asked each time the packet is made writable (whether a lock is
    /// held then, say); `flagged` keeps whether it ever said yes.
    pub on_write: Option<alloc::rc::Rc<dyn Fn() -> bool>>,
    pub flagged: alloc::rc::Rc<core::cell::Cell<bool>>,
}

#[cfg(test)]
impl Watched {
    pub fn new(pkt: OwnedPacket) -> Watched {
        Watched {
            pkt,
            copied: Default::default(),
            copies: true,
            req: Request::NONE,
            on_write: None,
            flagged: Default::default(),
        }
    }

    fn written(&self) {
        if self.on_write.as_ref().is_some_and(|f| f()) {
            self.flagged.set(true);
        }
    }

    /// A packet whose copies cannot be had.
    pub fn no_copies(pkt: OwnedPacket) -> Watched {
        Watched {
            copies: false,
            ..Watched::new(pkt)
        }
    }
}

#[cfg(test)]
impl Packet for Watched {
    fn data(&self) -> &[u8] {
        self.pkt.data()
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        self.written();
        self.pkt.data_mut()
    }
    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        self.written();
        self.pkt.push_front(n)
    }
    fn pull_front(&mut self, n: usize) -> bool {
        self.pkt.pull_front(n)
    }
    fn truncate(&mut self, len: usize) {
        self.pkt.truncate(len)
    }
    fn oob_vlan(&self) -> Option<u16> {
        self.pkt.oob_vlan()
    }
    fn set_oob_vlan(&mut self, tci: Option<u16>) {
        self.pkt.set_oob_vlan(tci)
    }
    fn mru(&self) -> u16 {
        self.pkt.mru()
    }
    fn set_mru(&mut self, mru: u16) {
        self.pkt.set_mru(mru)
    }
    fn offload(&self) -> Request {
        self.req
    }
    fn clear_offload(&mut self) {
        self.req = Request::NONE;
    }
    fn try_clone(&self) -> Option<Watched> {
        if !self.copies {
            return None;
        }
        self.copied.set(self.copied.get() + self.pkt.len());
        Some(Watched {
            pkt: self.pkt.try_clone()?,
            copied: self.copied.clone(),
            copies: true,
            req: self.req,
            on_write: self.on_write.clone(),
            flagged: self.flagged.clone(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A packet whose sender left offloads to the NIC.
    pub(crate) struct Offloaded {
        pub p: OwnedPacket,
        pub req: Request,
    }

    impl Packet for Offloaded {
        fn data(&self) -> &[u8] {
            self.p.data()
        }
        fn data_mut(&mut self) -> Option<&mut [u8]> {
            self.p.data_mut()
        }
        fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
            self.p.push_front(n)
        }
        fn pull_front(&mut self, n: usize) -> bool {
            self.p.pull_front(n)
        }
        fn truncate(&mut self, len: usize) {
            self.p.truncate(len)
        }
        fn oob_vlan(&self) -> Option<u16> {
            None
        }
        fn set_oob_vlan(&mut self, _: Option<u16>) {}
        fn offload(&self) -> Request {
            self.req
        }
        fn clear_offload(&mut self) {
            self.req = Request::NONE;
        }
        fn try_clone(&self) -> Option<Offloaded> {
            Some(Offloaded {
                p: self.p.try_clone()?,
                req: self.req,
            })
        }
    }

    #[test]
    fn push_pull_truncate() {
        let mut p = OwnedPacket::from_frame(&[1, 2, 3]).unwrap();
        p.push_front(2).unwrap().copy_from_slice(&[9, 9, 1, 2, 3]);
        assert_eq!(p.data(), &[9, 9, 1, 2, 3]);
        assert!(p.pull_front(2));
        assert_eq!(p.data(), &[1, 2, 3]);
        assert!(!p.pull_front(4));
        p.truncate(1);
        assert_eq!(p.data(), &[1]);
    }

    #[test]
    fn replace_grows_and_shrinks() {
        let mut p = OwnedPacket::from_frame(&[1, 2, 3]).unwrap();
        p.set_mru(1500);
        let big: std::vec::Vec<u8> = (0..=255).collect();
        assert!(p.replace(&big));
        assert_eq!((p.data(), p.mru()), (&big[..], 1500));
        assert!(p.replace(&[9]));
        assert_eq!(p.data(), &[9]);
    }

    #[test]
    fn push_beyond_headroom() {
        let mut p = OwnedPacket::from_frame(&[7]).unwrap();
        let d = p.push_front(200).unwrap();
        assert_eq!(d.len(), 201);
        assert_eq!(d[200], 7);
        assert!(d[..200].iter().all(|&b| b == 0));
    }
}
