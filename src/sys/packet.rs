//! The datapath's `Packet` over NBLs.
//!
//! A frame starts as a *view* of a NET_BUFFER the switch gave us: its bytes
//! in place (or in the lane's scratch buffer), read-only, valid while that
//! frame is the lane's current one (a generation number says so; a stale
//! view reads as empty and goes nowhere). Clones of a view are views.
//! Dropping the tail or the head of a view only narrows it. A view that
//! must be written (`data_mut`, `push_front`) becomes a *copy*: an NBL of
//! ours from a data pool, with the original's out-of-band information, its
//! bytes after some headroom. Where each kind goes out is the egress's
//! business (`egress`).
#![cfg(windows)]

use core::ptr::NonNull;
use core::slice;

use super::lane::Lane;
use super::nbl::{self, Buf, Nbls};
use super::ndis::types::NetBufferList;
use super::path::{self, DROPS};
use crate::offload::Request;
use crate::packet::Packet;
use crate::platform::buffer::{Window, pool_for};
use crate::platform::forward::Direction;
use crate::switch::{NicIndex, PortId};

/// Bytes of a frame the switch gave us.
#[derive(Clone, Copy)]
pub struct View {
    /// The lane frame it was read as.
    pub frame_no: u32,
    pub data: NonNull<u8>,
    pub len: usize,
    pub tag: Option<u16>,
    /// Still the whole frame (neither end was cut).
    pub whole: bool,
}

/// A frame in a buffer of ours.
pub struct Own {
    pub buf: Buf,
    pub win: Window,
    pub tag: Option<u16>,
    /// The bytes differ from those the frame's offload requests describe.
    pub rewritten: bool,
    pub direction: Direction,
}

impl Own {
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the buffer's `cap` bytes are ours while `self` lives and
        // the window stays within them.
        let all = unsafe { slice::from_raw_parts(self.buf.base.as_ptr(), self.buf.cap) };
        all.get(self.win.range()).unwrap_or_default()
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` is the only way to them.
        let all = unsafe { slice::from_raw_parts_mut(self.buf.base.as_ptr(), self.buf.cap) };
        all.get_mut(self.win.range()).unwrap_or_default()
    }

    /// A buffer of `len` bytes (to be written) with the out-of-band
    /// information of `info_from` (source port and NIC, offloads, tag);
    /// `None` when out of resources.
    pub fn blank(
        len: usize,
        info_from: *mut NetBufferList,
        tag: Option<u16>,
        direction: Direction,
    ) -> Option<Own> {
        let nbls = path::nbls()?;
        let pool = pool_for(len)?;
        let win = Window::new(pool.data_size(), len)?;
        let own = Own {
            buf: nbls.alloc_buf(pool)?,
            win,
            tag,
            rewritten: false,
            direction,
        };
        let n = own.buf.nbl.as_ptr();
        // SAFETY: `n` is ours with a forwarding context, not sent;
        // `info_from` is an NBL we hold. The data is ours: trusted.
        unsafe {
            if !nbls.copy_info(n, info_from, false) {
                return None;
            }
            nbls.mark_safe(n);
        }
        Some(own)
    }

    /// A buffer of ours with a copy of `frame`, as `blank`.
    pub fn copy_of(
        frame: &[u8],
        info_from: *mut NetBufferList,
        tag: Option<u16>,
        rewritten: bool,
        direction: Direction,
    ) -> Option<Own> {
        let mut own = Own::blank(frame.len(), info_from, tag, direction)?;
        own.bytes_mut().copy_from_slice(frame);
        own.rewritten = rewritten;
        Some(own)
    }

    /// Sets the window and the tag of the buffer and adds its one
    /// destination: the NBL, ready to send (`None`: no room; freed).
    pub fn finish(self, nbls: &Nbls, port: PortId, nic: NicIndex) -> Option<*mut NetBufferList> {
        let n = self.buf.nbl.as_ptr();
        // SAFETY: the buffer is ours and its data start untouched since
        // allocation; the window lies within it.
        let ready = unsafe {
            nbls.set_window(self.buf, self.win.start(), self.win.len());
            nbl::set_tag(n, self.tag);
            nbls.add_destination(n, 0, port, nic)
        };
        if !ready {
            return None;
        }
        // Sent: freed when it comes back.
        core::mem::forget(self);
        Some(n)
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        if let Some(nbls) = path::nbls() {
            // SAFETY: an `Own` that is dropped was never sent.
            unsafe { nbls.free_buf(self.buf.nbl.as_ptr()) };
        }
    }
}

pub enum Frame {
    View(View),
    Own(Own),
    /// Taken by the egress.
    Gone,
}

pub struct NblPacket {
    lane: NonNull<Lane>,
    frame: Frame,
    mru: u16,
}

impl NblPacket {
    pub fn view(lane: &Lane, view: View) -> NblPacket {
        NblPacket {
            lane: NonNull::from(lane),
            frame: Frame::View(view),
            mru: 0,
        }
    }

    fn lane(&self) -> &Lane {
        // SAFETY: lanes live from attach to detach; a packet lives within
        // one send handler's claim of its lane.
        unsafe { self.lane.as_ref() }
    }

    /// The frame, for the egress.
    pub fn take(mut self) -> Frame {
        core::mem::replace(&mut self.frame, Frame::Gone)
    }

    /// The bytes of a view that is still current.
    fn view_bytes(&self, v: &View) -> &[u8] {
        if self.lane().item.current(v.frame_no).is_none() {
            path::count(&DROPS.stale);
            return &[];
        }
        // SAFETY: a current view's bytes stay put until the lane moves to
        // another frame (the NBL is held, the scratch buffer unchanged).
        unsafe { slice::from_raw_parts(v.data.as_ptr(), v.len) }
    }

    /// Makes the frame a copy of ours (if it is not one yet).
    fn own(&mut self) -> Option<&mut Own> {
        if let Frame::View(v) = self.frame {
            self.frame = Frame::Own(copy_view(self.lane(), &v)?);
        }
        match &mut self.frame {
            Frame::Own(o) => Some(o),
            _ => None,
        }
    }
}

/// Copies a view for the egress (the frame leaves in a buffer of ours).
pub fn copy_view(lane: &Lane, v: &View) -> Option<Own> {
    let nbl = lane.item.current(v.frame_no)?;
    // SAFETY: as in `NblPacket::view_bytes`: the view is current.
    let bytes = unsafe { slice::from_raw_parts(v.data.as_ptr(), v.len) };
    Own::copy_of(bytes, nbl, v.tag, !v.whole, lane.item.direction())
}

impl Packet for NblPacket {
    fn data(&self) -> &[u8] {
        match &self.frame {
            Frame::View(v) => self.view_bytes(v),
            Frame::Own(o) => o.bytes(),
            Frame::Gone => &[],
        }
    }

    fn data_mut(&mut self) -> Option<&mut [u8]> {
        let own = self.own()?;
        own.rewritten = true;
        Some(own.bytes_mut())
    }

    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        let own = self.own()?;
        if !own.win.push_front(n) {
            return None;
        }
        own.rewritten = true;
        let bytes = own.bytes_mut();
        if let Some(head) = bytes.get_mut(..n) {
            head.fill(0);
        }
        Some(bytes)
    }

    fn pull_front(&mut self, n: usize) -> bool {
        match &mut self.frame {
            Frame::View(v) => match v.len.checked_sub(n) {
                Some(len) => {
                    // `n <= len`, so the pointer stays within the frame.
                    v.data = NonNull::new(v.data.as_ptr().wrapping_add(n)).unwrap_or(v.data);
                    v.len = len;
                    v.whole = false;
                    true
                }
                None => false,
            },
            Frame::Own(o) => {
                o.rewritten = true;
                o.win.pull_front(n)
            }
            Frame::Gone => false,
        }
    }

    fn truncate(&mut self, len: usize) {
        match &mut self.frame {
            Frame::View(v) if len < v.len => {
                v.len = len;
                v.whole = false;
            }
            Frame::Own(o) if len < o.win.len() => {
                o.rewritten = true;
                o.win.truncate(len);
            }
            _ => {}
        }
    }

    fn oob_vlan(&self) -> Option<u16> {
        match &self.frame {
            Frame::View(v) => v.tag,
            Frame::Own(o) => o.tag,
            Frame::Gone => None,
        }
    }

    fn set_oob_vlan(&mut self, tci: Option<u16>) {
        match &mut self.frame {
            Frame::View(v) => v.tag = tci,
            Frame::Own(o) => o.tag = tci,
            Frame::Gone => {}
        }
    }

    /// The checksum and large-send requests a VM or the host left on the
    /// frame's NBL; frames from the external port carry receive-side
    /// results instead, which are no requests.
    fn offload(&self) -> Request {
        let (nbl, direction) = match &self.frame {
            Frame::View(v) => (
                self.lane().item.current(v.frame_no),
                self.lane().item.direction(),
            ),
            Frame::Own(o) => (Some(o.buf.nbl.as_ptr()), o.direction),
            Frame::Gone => (None, Direction::Receive),
        };
        match (nbl, direction) {
            // SAFETY: the NBL is the current frame's (held by the lane) or
            // ours; reading its info slots is a plain load.
            (Some(n), Direction::Transmit) => unsafe { nbl::offload_request(n) },
            _ => Request::NONE,
        }
    }

    /// A buffer of ours sized for `frame` (the window of the current one
    /// has only its headroom to grow by).
    fn replace(&mut self, frame: &[u8]) -> bool {
        let (nbl, tag, direction) = match &self.frame {
            Frame::View(v) => (
                self.lane().item.current(v.frame_no),
                v.tag,
                self.lane().item.direction(),
            ),
            Frame::Own(o) => (Some(o.buf.nbl.as_ptr()), o.tag, o.direction),
            Frame::Gone => return false,
        };
        match nbl.and_then(|n| Own::copy_of(frame, n, tag, true, direction)) {
            Some(own) => {
                self.frame = Frame::Own(own);
                true
            }
            None => false,
        }
    }

    fn mru(&self) -> u16 {
        self.mru
    }

    fn set_mru(&mut self, mru: u16) {
        self.mru = mru;
    }

    /// Clears the requests on a buffer of ours (a view with requests is
    /// copied first: the switch's NBL is not ours to change).
    fn clear_offload(&mut self) {
        if self.offload().is_none() {
            return;
        }
        match self.own() {
            // SAFETY: the buffer is ours and not sent.
            Some(o) => unsafe { nbl::clear_offload_request(o.buf.nbl.as_ptr()) },
            None => path::count(&DROPS.no_resources),
        }
    }

    fn try_clone(&self) -> Option<NblPacket> {
        let frame = match &self.frame {
            Frame::View(v) => Frame::View(*v),
            Frame::Own(o) => Frame::Own(Own::copy_of(
                o.bytes(),
                o.buf.nbl.as_ptr(),
                o.tag,
                o.rewritten,
                o.direction,
            )?),
            Frame::Gone => return None,
        };
        Some(NblPacket {
            lane: self.lane,
            frame,
            mru: self.mru,
        })
    }
}
