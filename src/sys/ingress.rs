//! The ingress path: NBLs entering the switch from its ports go through the
//! datapath, then on to the destinations it chose, or back to their source.
//!
//! On the processor's lane, at DISPATCH_LEVEL:
//! 1. each NET_BUFFER of the chain becomes a frame for the datapath (`Items`),
//!    read in place or gathered into the lane's scratch buffer; NBLs the
//!    switch forwards itself (NVGRE, hybrid forwarding) are set aside;
//! 2. one `Datapath::receive_batch` call takes the whole chain; its outputs
//!    become destinations, clones or copies (`egress::Batch`); when the
//!    iterator moves past an NBL, its fate is decided (`finalize`);
//! 3. once the datapath returned (no lock of the core held), the lane is
//!    released, the wakeups are completed, and the NBLs are sent and
//!    completed in runs.
//!
//! An NBL with several NET_BUFFERs is looked at frame by frame, because
//! the datapath decides per frame; it is only split when its frames go out
//! at all (each in a copy of ours), since a destination applies to every
//! frame of an NBL.
#![cfg(windows)]

use core::ptr::{self, NonNull};

use super::device;
use super::egress::{self, Batch};
use super::filter::SwitchModule;
use super::hyperv;
use super::lane::Lane;
use super::nbl::{self, Nbls};
use super::ndis::ffi::{KeGetCurrentProcessorNumberEx, NdisFSendNetBufferLists};
use super::ndis::types::*;
use super::packet::{NblPacket, View};
use super::path::{self, DROPS};
use super::time;
use super::wstr::{ascii_utf16, unicode_string};
use crate::datapath::receive::Effects;
use crate::offload::{Request, lso_completion};
use crate::pend::Wakeups;
use crate::platform::buffer::{SCRATCH, readable_in_place};
use crate::platform::forward::{self, Direction, Fate};
use crate::switch::{NicIndex, PortId};

static REASON_DROPPED: [u16; 23] = ascii_utf16("Dropped by the datapath");
static REASON_NO_LANE: [u16; 31] = ascii_utf16("No receive context on processor");

/// Runs a send request through the datapath.
///
/// # Safety
/// `chain` is a send request NDIS gave this module; the caller runs at
/// DISPATCH_LEVEL (`send_flags` says so) and holds a reference of the drain.
pub unsafe fn send(chain: *mut NetBufferList, port: NdisPortNumber, send_flags: u32) {
    let switch = SwitchModule::get();
    if !hyperv::is_active() {
        // No datapath yet: the switch decides, as without the extension.
        // SAFETY: the request goes on unchanged.
        unsafe { NdisFSendNetBufferLists(switch.ndis_handle(), chain, port, send_flags) };
        return;
    }
    // SAFETY: at DISPATCH_LEVEL the processor cannot change under us.
    let cpu = unsafe { KeGetCurrentProcessorNumberEx(ptr::null_mut()) } as usize;
    // The lane is claimed last, once nothing else can fail.
    let ready = path::nbls().zip(device::device()).and_then(|(nbls, dev)| {
        let lane = path::lane(cpu)?;
        lane.claim().then_some((lane, nbls, dev))
    });
    let Some((lane, nbls, dev)) = ready else {
        path::count(&DROPS.no_lane);
        // SAFETY: NDIS gave us the request.
        unsafe { switch.drop_sends(chain, send_flags, NdisStatus::RESOURCES, &REASON_NO_LANE) };
        return;
    };
    let mut items = Items {
        lane,
        nbls,
        rest: chain,
        nb: ptr::null_mut(),
        from: (0, 0),
        safe: (true, 0),
        external: hyperv::external_port(),
    };
    let mut wake = Wakeups::new();
    {
        let mut egress = Batch { lane, nbls };
        let now = time::now();
        dev.with_datapath(|dp| {
            let mut fx = Effects {
                egress: &mut egress,
                wake: &mut wake,
            };
            // SAFETY: the lane is claimed; nothing else holds its context.
            dp.receive_batch(unsafe { lane.rx() }, &mut items, now, &mut fx);
        });
    }
    // Whatever the datapath did not take (none if it ran) is decided on.
    items.finish();
    let (forward, dropped, consumed, native) = (
        lane.out.forward.take(),
        lane.out.dropped.take(),
        lane.out.consumed.take(),
        lane.out.native.take(),
    );
    lane.release();
    device::complete_wakeups(wake);
    // SAFETY: each list holds NBLs this request gave us, or ours; each is
    // sent or completed once.
    unsafe {
        if !native.is_null() {
            NdisFSendNetBufferLists(nbls.filter(), native, port, send_flags);
        }
        if let Some(forward) = NonNull::new(forward) {
            egress::send_runs(nbls, forward, port, true);
        }
        let reason = unicode_string(&REASON_DROPPED);
        egress::complete_runs(nbls, dropped, true, Some(&reason));
        egress::complete_runs(nbls, consumed, true, None);
    }
}

/// The frames of a send request, for the datapath.
struct Items<'a> {
    lane: &'a Lane,
    nbls: &'a Nbls,
    /// NBLs not started yet.
    rest: *mut NetBufferList,
    /// The next NET_BUFFER of the current NBL.
    nb: *mut NetBuffer,
    /// The current NBL's source port and NIC.
    from: (PortId, NicIndex),
    /// The current NBL's data safety (all of it, or how many leading bytes).
    safe: (bool, u16),
    external: Option<PortId>,
}

impl Iterator for Items<'_> {
    type Item = ((PortId, NicIndex), NblPacket);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.nb.is_null() {
                finalize(self.lane, self.nbls);
                let nbl = self.rest;
                if nbl.is_null() {
                    return None;
                }
                // SAFETY: the request's NBLs are ours until sent or
                // completed; each is taken off the chain once.
                unsafe { self.start(nbl) };
                continue;
            }
            let nb = self.nb;
            // SAFETY: a NET_BUFFER of the current NBL.
            let len = unsafe {
                self.nb = (*nb).header.next;
                (*nb).header.data_length() as usize
            };
            let frame_no = self.lane.item.next_frame();
            let in_place = readable_in_place(self.safe.0, self.safe.1, len);
            // SAFETY: the lane is claimed and the frames read before are
            // stale (`next_frame`); the NBL is held.
            let frame = unsafe { nbl::read_frame(nb, len, in_place, self.lane.scratch()) };
            let Some(data) = frame else {
                path::count(if len > SCRATCH {
                    &DROPS.too_long
                } else {
                    &DROPS.unreadable
                });
                continue;
            };
            let view = View {
                frame_no,
                data,
                len,
                tag: self.lane.item.tag(),
                whole: true,
            };
            return Some((self.from, NblPacket::view(self.lane, view)));
        }
    }
}

impl Items<'_> {
    /// Takes `nbl` off the chain and makes it the current one.
    ///
    /// # Safety
    /// `nbl` is the head of `rest`, held by us.
    unsafe fn start(&mut self, nbl: *mut NetBufferList) {
        // SAFETY: as the caller guarantees.
        unsafe {
            self.rest = (*nbl).next;
            (*nbl).next = ptr::null_mut();
            let detail = (*nbl).switch_forwarding_detail();
            if detail.native_forwarding_required() {
                self.lane.out.native.push(nbl);
                return;
            }
            let first = (*nbl).first_net_buffer;
            let sole = !first.is_null() && (*first).header.next.is_null();
            let port = detail.source_port_id();
            let direction = if Some(port) == self.external {
                Direction::Receive
            } else {
                Direction::Transmit
            };
            self.lane.item.begin(nbl, sole, nbl::tag_of(nbl), direction);
            self.from = (port, detail.source_nic_index());
            self.safe = (detail.is_packet_data_safe(), detail.safe_packet_data_size());
            self.nb = first;
        }
    }

    /// Decides on every NBL left (frames the datapath did not take go
    /// nowhere).
    fn finish(&mut self) {
        while self.next().is_some() {}
    }
}

/// Decides on the lane's current NBL once all its frames went through.
fn finalize(lane: &Lane, nbls: &Nbls) {
    let item = &lane.item;
    let nbl = item.end();
    if nbl.is_null() {
        return;
    }
    let out = &lane.out;
    // SAFETY: `nbl` is held by us until it is sent or completed from the
    // lists; the clones are ours and not sent yet.
    unsafe {
        match forward::fate(item.dests.get(), item.clones.get(), item.copies.get()) {
            Fate::Forward => out.forward.push(nbl),
            Fate::Drop | Fate::Consumed => {
                (*nbl).status = NdisStatus::SUCCESS;
                complete_large_send(nbl, item.lso_sent.get());
                match item.copies.get() {
                    0 => out.dropped.push(nbl),
                    _ => out.consumed.push(nbl),
                }
            }
            Fate::Hold { plain_clone } => {
                let leader = item.leader.get();
                let mut family = item.clones.get();
                if plain_clone {
                    match plain(nbls, nbl, leader) {
                        Some(c) => {
                            family += 1;
                            out.forward.push(c);
                        }
                        None => path::count(&DROPS.no_resources),
                    }
                }
                if let Some(ctx) = nbls.context(leader) {
                    ctx.pending
                        .store(family, core::sync::atomic::Ordering::Release);
                }
            }
        }
    }
}

/// A clone of a held NBL carrying the destinations put on the NBL itself.
///
/// # Safety
/// `parent` is held until its family is back; `leader` is its first clone.
unsafe fn plain(
    nbls: &Nbls,
    parent: *mut NetBufferList,
    leader: *mut NetBufferList,
) -> Option<*mut NetBufferList> {
    // SAFETY: as the caller guarantees.
    unsafe {
        let c = nbls.alloc_clone(parent, leader)?.as_ptr();
        if !nbls.copy_info(c, parent, true) {
            nbls.free_clone(c);
            return None;
        }
        Some(c)
    }
}

/// For a large send completed here: what went out of it (in segments of
/// ours; 0 when dropped), as the sender reads it back.
///
/// # Safety
/// `nbl` is held by us and about to be completed.
unsafe fn complete_large_send(nbl: *mut NetBufferList, sent: usize) {
    // SAFETY: as the caller guarantees.
    unsafe {
        if let Some(l) = Request::from_ndis(0, (*nbl).large_send_info().0).lso {
            (*nbl).set_large_send_info(LargeSendInfo(lso_completion(l, sent)));
        }
    }
}
