//! Where frames leave the datapath, and where NBLs come back.
//!
//! Outputs (`Batch`, the datapath's egress for frames from the switch):
//! - a view of the whole only frame of its NBL, tag unchanged: a
//!   destination on that NBL, which goes on once every output is known;
//! - the same with another out-of-band tag: a destination on a clone of
//!   the NBL carrying that tag (outputs with the same tag share a clone);
//! - anything else (a frame of an NBL with several, a narrowed view, a
//!   rewritten copy): a buffer of ours with one destination, its offloads
//!   done in software when a rewrite invalidated them
//!   (`platform::forward::copy_offload`).
//!
//! Executed packets (`Executed`, the egress of `OVS_PACKET_CMD_EXECUTE`)
//! are copied into buffers of ours with the switch's default port as
//! source, and sent when the IOCTL's work is done.
//!
//! Nothing here calls into the core: NDIS sends happen after the datapath
//! returned, from the lists the lane keeps.
//!
//! `send_complete` takes back what we sent: copies are freed; a clone is
//! freed, and the last clone of a parent completes the parent to its
//! source. Everything else goes up untouched.
#![cfg(windows)]

use core::ptr::NonNull;

use super::filter::SwitchModule;
use super::lane::{Lane, List};
use super::nbl::{self, Chain, Kind, Nbls};
use super::ndis::ffi::{
    KeGetCurrentIrql, NdisFSendNetBufferLists, NdisFSendNetBufferListsComplete,
};
use super::ndis::types::*;
use super::packet::{self, Frame, NblPacket, Own, View};
use super::path::{self, DRAIN, DROPS};
use crate::datapath::receive::Egress;
use crate::offload::{Lso, Request, Segments, complete_checksums};
use crate::packet::{OwnedPacket, Packet};
use crate::platform::buffer::{Window, pool_for};
use crate::platform::forward::{self, CopyOffload, Links, Route};
use crate::switch::{NicIndex, PortId};

/// The egress of one batch of frames from the switch.
pub struct Batch<'l> {
    pub lane: &'l Lane,
    pub nbls: &'l Nbls,
}

impl Egress<NblPacket> for Batch<'_> {
    fn send(&mut self, port: PortId, nic: NicIndex, pkt: NblPacket) {
        match pkt.take() {
            Frame::View(v) => self.view(v, port, nic),
            Frame::Own(o) => self.copy(o, port, nic),
            Frame::Gone => {}
        }
    }
}

impl Batch<'_> {
    fn view(&self, v: View, port: PortId, nic: NicIndex) {
        let item = &self.lane.item;
        let Some(nbl) = item.current(v.frame_no) else {
            path::count(&DROPS.stale);
            return;
        };
        match forward::route(v.whole, item.sole(), v.tag, item.tag()) {
            Route::Copy => match packet::copy_view(self.lane, &v) {
                Some(own) => self.copy(own, port, nic),
                None => path::count(&DROPS.no_resources),
            },
            Route::Destination => {
                // SAFETY: the NBL is the lane's current one, held until the
                // batch decided on it; `dests` counts what we put on it.
                if unsafe { self.nbls.add_destination(nbl, item.dests.get(), port, nic) } {
                    item.dests.set(item.dests.get() + 1);
                } else {
                    path::count(&DROPS.no_resources);
                }
            }
            Route::Clone => self.clone(nbl, v.tag, port, nic),
        }
    }

    /// An output of the current NBL's frame with out-of-band tag `tag`.
    fn clone(&self, parent: *mut NetBufferList, tag: Option<u16>, port: PortId, nic: NicIndex) {
        let item = &self.lane.item;
        let (last, last_tag, count) = item.last_clone.get();
        if !last.is_null() && last_tag == tag {
            // SAFETY: the last clone is ours and not sent yet; `count`
            // destinations are on it.
            if unsafe { self.nbls.add_destination(last, count, port, nic) } {
                item.last_clone.set((last, tag, count + 1));
            } else {
                path::count(&DROPS.no_resources);
            }
            return;
        }
        // SAFETY: the parent is held until its last clone comes back; the
        // leader is null or its first clone.
        let Some(clone) = (unsafe { self.nbls.alloc_clone(parent, item.leader.get()) }) else {
            path::count(&DROPS.no_resources);
            return;
        };
        let c = clone.as_ptr();
        // SAFETY: the clone is ours, with a forwarding context, not sent.
        let ready = unsafe {
            self.nbls.copy_info(c, parent, false) && {
                nbl::set_tag(c, tag);
                self.nbls.add_destination(c, 0, port, nic)
            }
        };
        if !ready {
            // SAFETY: never sent.
            unsafe { self.nbls.free_clone(c) };
            path::count(&DROPS.no_resources);
            return;
        }
        if item.leader.get().is_null() {
            item.leader.set(c);
        }
        item.clones.set(item.clones.get() + 1);
        item.last_clone.set((c, tag, 1));
        // SAFETY: ours, in no list.
        unsafe { self.lane.out.forward.push(c) };
    }

    /// An output of a frame in a buffer of ours.
    fn copy(&self, mut own: Own, port: PortId, nic: NicIndex) {
        let n = own.buf.nbl.as_ptr();
        // SAFETY: the buffer is ours.
        let request = unsafe { nbl::offload_request(n) };
        match forward::copy_offload(own.direction, request, own.rewritten) {
            CopyOffload::Keep => self.emit(own, port, nic),
            CopyOffload::Complete(want) => {
                if complete_checksums(own.bytes_mut(), want).is_ok() {
                    // SAFETY: the buffer is ours, not sent.
                    unsafe { nbl::clear_offload_request(n) };
                }
                self.emit(own, port, nic);
            }
            CopyOffload::Segment(lso) => self.segment(&own, lso, port, nic),
        }
    }

    /// Cuts a super-frame into frames of ours; each goes out.
    fn segment(&self, own: &Own, lso: Lso, port: PortId, nic: NicIndex) {
        let Ok(segments) = Segments::new(own.bytes(), lso) else {
            path::count(&DROPS.no_resources);
            return;
        };
        for i in 0..segments.count() {
            let Some(mut seg) = Own::blank(
                segments.len_of(i),
                own.buf.nbl.as_ptr(),
                own.tag,
                own.direction,
            ) else {
                path::count(&DROPS.no_resources);
                continue;
            };
            if segments.write(i, seg.bytes_mut()).is_err() {
                path::count(&DROPS.no_resources);
                continue;
            }
            // SAFETY: the segment's buffer is ours, not sent.
            unsafe { nbl::clear_offload_request(seg.buf.nbl.as_ptr()) };
            self.emit(seg, port, nic);
        }
        let item = &self.lane.item;
        item.lso_sent
            .set(item.lso_sent.get().saturating_add(segments.payload_len()));
    }

    /// Sends a buffer of ours to one destination (after the batch).
    fn emit(&self, own: Own, port: PortId, nic: NicIndex) {
        match own.finish(self.nbls, port, nic) {
            Some(n) => {
                // SAFETY: ours, in no list.
                unsafe { self.lane.out.forward.push(n) };
                let item = &self.lane.item;
                item.copies.set(item.copies.get() + 1);
            }
            None => path::count(&DROPS.no_resources),
        }
    }
}

/// Packets `OVS_PACKET_CMD_EXECUTE` outputs, sent when the IOCTL is done
/// (on drop).
pub struct Executed {
    chain: List,
    /// A reference of the drain is held.
    entered: bool,
}

impl Executed {
    pub fn new() -> Executed {
        Executed {
            chain: List::new(),
            entered: false,
        }
    }
}

impl Egress<OwnedPacket> for Executed {
    fn send(&mut self, port: PortId, nic: NicIndex, pkt: OwnedPacket) {
        if !self.entered {
            if !DRAIN.enter() {
                path::count(&DROPS.paused);
                return;
            }
            self.entered = true;
        }
        let Some(nbls) = path::nbls() else { return };
        let frame = pkt.data();
        let Some(pool) = pool_for(frame.len()) else {
            path::count(&DROPS.too_long);
            return;
        };
        let (Some(win), Some(buf)) = (
            Window::new(pool.data_size(), frame.len()),
            nbls.alloc_buf(pool),
        ) else {
            path::count(&DROPS.no_resources);
            return;
        };
        let mut own = Own {
            buf,
            win,
            tag: pkt.oob_vlan(),
            rewritten: false,
            direction: forward::Direction::Transmit,
        };
        own.bytes_mut().copy_from_slice(frame);
        // SAFETY: the buffer is ours; its source stays the default port.
        unsafe { nbls.mark_safe(buf.nbl.as_ptr()) };
        match own.finish(nbls, port, nic) {
            // SAFETY: ours, in no list.
            Some(n) => unsafe { self.chain.push(n) },
            None => path::count(&DROPS.no_resources),
        }
    }
}

impl Drop for Executed {
    fn drop(&mut self) {
        let head = self.chain.take();
        if let (Some(nbls), Some(head)) = (path::nbls(), NonNull::new(head)) {
            // SAFETY: reads the IRQL only.
            let dispatch = unsafe { KeGetCurrentIrql() } >= DISPATCH_LEVEL;
            // SAFETY: the chain is ours; a reference of the drain is held.
            unsafe { send_runs(nbls, head, NDIS_DEFAULT_PORT_NUMBER, dispatch) };
        }
        if self.entered {
            path::leave();
        }
    }
}

/// Sends a chain of NBLs with destinations, in runs that share a source
/// and their only destination (`NDIS_SEND_FLAGS_SWITCH_DESTINATION_GROUP`
/// and `..._SINGLE_SOURCE` hold for each run). Each NBL of ours takes a
/// reference of the drain until it comes back.
///
/// # Safety
/// The chain is ours to send (held NBLs with destinations and forwarding
/// contexts); the caller holds a reference of the drain.
pub unsafe fn send_runs(
    nbls: &Nbls,
    head: NonNull<NetBufferList>,
    port: NdisPortNumber,
    dispatch: bool,
) {
    let flags = NDIS_SEND_FLAGS_SWITCH_DESTINATION_GROUP
        | NDIS_SEND_FLAGS_SWITCH_SINGLE_SOURCE
        | if dispatch {
            NDIS_SEND_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
    // SAFETY: the caller holds every NBL of the chain.
    let mut chain = unsafe { Chain::held() };
    forward::runs(
        &mut chain,
        Some(head),
        |_, n| {
            let n = n.as_ptr();
            // SAFETY: held, with a forwarding context.
            unsafe {
                nbls.single_destination(n)
                    .map(|d| (nbl::source_of(n), d.port_id, d.nic_index))
            }
        },
        |chain, first, count, _| {
            let mut ours = 0;
            let mut n = Some(first);
            for _ in 0..count {
                let Some(m) = n else { break };
                // SAFETY: held.
                if unsafe { nbls.is_ours(m.as_ptr()) } {
                    ours += 1;
                }
                n = chain.next(m);
            }
            DRAIN.hold_n(ours);
            // SAFETY: the run is ours to send; its NBLs share a source and
            // their destinations (a run of one trivially).
            unsafe { NdisFSendNetBufferLists(nbls.filter(), first.as_ptr(), port, flags) };
        },
    );
}

/// Completes a chain of NBLs the switch gave us, in runs from one source
/// (`NDIS_SEND_COMPLETE_FLAGS_SWITCH_SINGLE_SOURCE` holds for each run),
/// reporting them dropped first when `reason` is given.
///
/// # Safety
/// The chain is ours to complete.
pub unsafe fn complete_runs(
    nbls: &Nbls,
    head: *mut NetBufferList,
    dispatch: bool,
    reason: Option<&UnicodeString>,
) {
    let flags = NDIS_SEND_COMPLETE_FLAGS_SWITCH_SINGLE_SOURCE
        | if dispatch {
            NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
    // SAFETY: the caller holds every NBL of the chain.
    let mut chain = unsafe { Chain::held() };
    forward::runs(
        &mut chain,
        NonNull::new(head),
        // SAFETY: held.
        |_, n| Some(unsafe { nbl::source_of(n.as_ptr()) }),
        |_, first, count, source| {
            let first = first.as_ptr();
            if let (Some(why), Some(source)) = (reason, source) {
                // SAFETY: the run is ours to complete.
                unsafe { nbls.report_dropped(first, count as u32, source, why) };
            }
            // SAFETY: as above; the run has one source.
            unsafe { NdisFSendNetBufferListsComplete(nbls.filter(), first, flags) };
        },
    );
}

/// `FilterSendNetBufferListsComplete`.
///
/// # Safety
/// `chain` is a send completion NDIS hands this module.
pub unsafe fn send_complete(chain: *mut NetBufferList, flags: u32) {
    let Some(nbls) = path::nbls() else {
        // SAFETY: nothing of ours can be out without the pools: all of it
        // belongs to the drivers above.
        unsafe { NdisFSendNetBufferListsComplete(SwitchModule::get().ndis_handle(), chain, flags) };
        return;
    };
    let up = List::new();
    let parents = List::new();
    let mut ours = 0;
    let mut n = chain;
    while !n.is_null() {
        // SAFETY: the completion hands us the chain.
        let next = unsafe { (*n).next };
        // SAFETY: live; ours come back here, the others go up.
        unsafe {
            if nbls.is_ours(n) {
                ours += 1;
                came_back(nbls, n, &parents);
            } else {
                up.push(n);
            }
        }
        n = next;
    }
    let up = up.take();
    if !up.is_null() {
        // SAFETY: the drivers above sent these; a part of a single-source
        // completion is single-source.
        unsafe { NdisFSendNetBufferListsComplete(nbls.filter(), up, flags) };
    }
    let dispatch = flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0;
    // SAFETY: parents whose last clone came back are ours to complete.
    unsafe { complete_runs(nbls, parents.take(), dispatch, None) };
    // Last: once the drain is empty a pause may complete and detach free
    // the pools.
    path::leave_n(ours);
}

/// An NBL of ours came back.
///
/// # Safety
/// `n` is ours and came back from below.
unsafe fn came_back(nbls: &Nbls, n: *mut NetBufferList, parents: &List) {
    use core::sync::atomic::Ordering::{AcqRel, Acquire};
    // SAFETY: ours.
    let Some(ctx) = (unsafe { nbls.context(n) }) else {
        return;
    };
    match ctx.kind() {
        // SAFETY: back from below, not used again.
        Kind::Copy => unsafe { nbls.free_buf(n) },
        Kind::Clone => {
            let leader = ctx.leader.load(Acquire);
            // SAFETY: the leader outlives every clone of its family.
            let Some(lctx) = (unsafe { nbls.context(leader) }) else {
                return;
            };
            // SAFETY: `n` is back.
            unsafe { nbl::note_lso_done(lctx, n) };
            if leader != n {
                // SAFETY: back from below, not used again.
                unsafe { nbls.free_clone(n) };
            }
            if lctx.pending.fetch_sub(1, AcqRel) == 1 {
                let parent = lctx.parent.load(Acquire);
                let lso_done = lctx.lso_done.load(Acquire) as usize;
                // SAFETY: the whole family is back; the leader goes last.
                unsafe {
                    nbls.free_clone(leader);
                    finish_parent(parent, lso_done);
                    parents.push(parent);
                }
            }
        }
    }
}

/// A held parent is done: success, and for a large send what the NIC
/// reported for its clones.
///
/// # Safety
/// `parent` is held by us and about to be completed.
unsafe fn finish_parent(parent: *mut NetBufferList, lso_done: usize) {
    // SAFETY: as the caller guarantees.
    unsafe {
        (*parent).status = NdisStatus::SUCCESS;
        let lso = (*parent).large_send_info();
        if Request::from_ndis(0, lso.0).lso.is_some() {
            (*parent).set_large_send_info(LargeSendInfo(lso_done));
        }
    }
}
