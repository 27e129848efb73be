//! The filter module: the extension as NDIS binds it into one Hyper-V
//! switch's driver stack, its life cycle (attach, restart, pause, detach)
//! and its place on the switch data path.
//!
//! Packets entering the switch (the ingress path, NDIS "sends") are where a
//! forwarding extension decides destinations (`ingress`); packets leaving
//! it (egress, NDIS "receives") already carry them and pass on unchanged.
//! Until a datapath is bound, sends pass on unchanged too.
//!
//! The datapath itself comes and goes with the switch: activated at the
//! first restart of an active switch or when the switch reports its
//! activation, torn down at detach (see `hyperv`). The data path's pools
//! and per-processor lanes live from attach to detach (`path`); a pause
//! waits until no send handler runs and every NBL of ours came back.
#![cfg(windows)]

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};

use super::hyperv;
use super::irql::DispatchGuard;
use super::ndis::ffi::{
    NdisFGetOptionalSwitchHandlers, NdisFIndicateReceiveNetBufferLists, NdisFNetPnPEvent,
    NdisFReturnNetBufferLists, NdisFSendNetBufferListsComplete, NdisFSetAttributes,
};
use super::ndis::types::*;
use super::path::{self, DRAIN};
use super::wstr::{ascii_utf16, unicode_string};
use super::{egress, ingress};

static REASON_PAUSED: [u16; 19] = ascii_utf16("Extension is paused");

/// NDIS filter-module states this module moves through.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Detached = 0,
    /// An attach owns the module and is filling in its binding.
    Attaching = 1,
    Paused = 2,
    Running = 3,
}

/// What NDIS hands the module at attach, fixed until detach.
struct Binding {
    ndis_filter_handle: NdisHandle,
}

/// The extension in a switch. There is one: like the datapath it hosts, it
/// serves a single switch, and a second attach is refused.
pub struct SwitchModule {
    state: AtomicU8,
    binding: UnsafeCell<Binding>,
}

// SAFETY: `binding` is written only by `attach`, after its compare-exchange
// from Detached to Attaching made it the sole owner, and published by the
// Release store of Paused. Every reader first observes a state other than
// Detached/Attaching with Acquire (NDIS calls the data path and OID handlers
// only between a successful attach and detach), and detach runs only after
// NDIS has stopped calling them. The NDIS handles inside may be used from
// any thread.
unsafe impl Sync for SwitchModule {}

static SWITCH: SwitchModule = SwitchModule {
    state: AtomicU8::new(State::Detached as u8),
    binding: UnsafeCell::new(Binding {
        ndis_filter_handle: ptr::null_mut(),
    }),
};

impl SwitchModule {
    /// The module behind the `FilterModuleContext` NDIS passes to the
    /// handlers: always the one registered by `attach`.
    pub fn get() -> &'static SwitchModule {
        &SWITCH
    }

    fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            1 => State::Attaching,
            2 => State::Paused,
            3 => State::Running,
            _ => State::Detached,
        }
    }

    fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
    }

    fn binding(&self) -> &Binding {
        // SAFETY: see `impl Sync`: callers are NDIS handlers running while
        // the module is attached, after the binding was published.
        unsafe { &*self.binding.get() }
    }

    /// The NDIS handle of this filter module.
    pub fn ndis_handle(&self) -> NdisHandle {
        self.binding().ndis_filter_handle
    }

    /// Fails a send request: every NBL gets `status`, is reported to the
    /// switch as dropped (so switch diagnostics show why) and the list is
    /// completed.
    ///
    /// # Safety
    /// `chain` is a send request NDIS gave this module and not yet completed.
    pub(super) unsafe fn drop_sends<const N: usize>(
        &self,
        chain: *mut NetBufferList,
        send_flags: u32,
        status: NdisStatus,
        reason: &'static [u16; N],
    ) {
        // The switch's report handler is kept with the pools, which live
        // from attach to detach: NDIS gives us sends only in between.
        let pools = path::nbls();
        let reason = unicode_string(reason);
        let mut nbl = chain;
        while !nbl.is_null() {
            // SAFETY: the module owns the request until it completes it, so
            // each NBL of the chain is live and not used by anyone else.
            let (next, source_port) = unsafe {
                (*nbl).status = status;
                (
                    (*nbl).next,
                    (*nbl).switch_forwarding_detail().source_port_id(),
                )
            };
            if let Some(pools) = pools {
                // SAFETY: the NBL is live and ours to complete.
                unsafe { pools.report_dropped(nbl, 1, source_port, &reason) };
            }
            nbl = next;
        }
        // SAFETY: completing hands the whole, unchanged chain back to NDIS.
        unsafe {
            NdisFSendNetBufferListsComplete(
                self.ndis_handle(),
                chain,
                send_complete_flags(send_flags),
            )
        };
    }
}

/// `FilterAttach`: accepts only an Ethernet stack inside a Hyper-V switch.
pub unsafe extern "system" fn attach(
    ndis_filter_handle: NdisHandle,
    _filter_driver_context: NdisHandle,
    parameters: *mut NdisFilterAttachParameters,
) -> NdisStatus {
    // SAFETY: NDIS passes valid attach parameters for the call; the media
    // type is part of every revision.
    if unsafe { (*parameters).miniport_media_type } != NDIS_MEDIUM_802_3 {
        return NdisStatus::INVALID_PARAMETER;
    }
    let switch = SwitchModule::get();
    if switch
        .state
        .compare_exchange(
            State::Detached as u8,
            State::Attaching as u8,
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return NdisStatus::FAILURE;
    }

    let mut switch_context = ptr::null_mut();
    let mut switch_handlers = NdisSwitchOptionalHandlers::revision_1();
    // SAFETY: both out-parameters are valid; `switch_handlers` announces
    // its revision and size in its header, which is all NDIS fills.
    let status = unsafe {
        NdisFGetOptionalSwitchHandlers(
            ndis_filter_handle,
            &mut switch_context,
            &mut switch_handlers,
        )
    };
    if !status.is_success() {
        // Not a Hyper-V extensible switch.
        switch.set_state(State::Detached);
        return status;
    }
    if let Err(status) = path::build(ndis_filter_handle, switch_context, &switch_handlers) {
        path::tear_down();
        switch.set_state(State::Detached);
        return status;
    }
    // SAFETY: the compare-exchange above made this attach the only user of
    // the binding until it publishes it (see `impl Sync`).
    unsafe {
        *switch.binding.get() = Binding { ndis_filter_handle };
    }

    let mut attributes = NdisFilterAttributes {
        header: NdisObjectHeader::new(
            NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
            NDIS_FILTER_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1,
        ),
        flags: 0,
    };
    // SAFETY: the module context is a static that outlives the module;
    // `attributes` is valid for the call.
    let status = unsafe {
        NdisFSetAttributes(
            ndis_filter_handle,
            ptr::from_ref(switch).cast_mut().cast::<c_void>(),
            &mut attributes,
        )
    };
    if !status.is_success() {
        path::tear_down();
        switch.set_state(State::Detached);
        return status;
    }
    // A filter module starts paused; NDIS restarts it when the stack runs.
    switch.set_state(State::Paused);
    log::info!("attached to a Hyper-V extensible switch");
    NdisStatus::SUCCESS
}

/// `FilterDetach`: NDIS calls it once the module is paused, after the last
/// data-path and OID call. The datapath goes with the switch, then the
/// data path's lanes and pools.
pub unsafe extern "system" fn detach(_module_context: NdisHandle) {
    log::info!("detaching from the Hyper-V extensible switch");
    hyperv::deactivate();
    path::tear_down();
    SwitchModule::get().set_state(State::Detached);
}

/// `FilterRestart`: the data path may flow. An active switch not yet
/// imported is imported first; a failure to learn its state or to import
/// it fails the restart (the module stays paused).
pub unsafe extern "system" fn restart(
    _module_context: NdisHandle,
    _parameters: *mut NdisFilterRestartParameters,
) -> NdisStatus {
    if !hyperv::is_active() {
        let activated = match hyperv::switch_is_active() {
            Ok(true) => hyperv::activate(),
            // NetEventSwitchActivate will come.
            Ok(false) => Ok(()),
            Err(status) => Err(status),
        };
        if activated.is_err() {
            log::error!("switch extension restart failed: the switch could not be imported");
            return NdisStatus::RESOURCES;
        }
    }
    path::restart();
    SwitchModule::get().set_state(State::Running);
    log::info!("switch extension restarted: the data path runs");
    NdisStatus::SUCCESS
}

/// `FilterNetPnPEvent`: the switch's activation imports it; an announced
/// detach stops what the module originates (sends fail as when paused,
/// packet executes as when there is no switch); every event then goes on
/// up. PASSIVE_LEVEL.
pub unsafe extern "system" fn net_pnp_event(
    _module_context: NdisHandle,
    notification: *mut NetPnpEventNotification,
) -> NdisStatus {
    // SAFETY: NDIS passes a valid notification for the call.
    let event = unsafe { (*notification).net_pnp_event.net_event };
    match event {
        NET_EVENT_SWITCH_ACTIVATE => {
            // A failure leaves the switch without a datapath (ovs-vswitchd
            // sees no switch); the event still goes on.
            let _ = hyperv::activate();
        }
        NET_EVENT_FILTER_PRE_DETACH => {
            hyperv::pre_detach();
            // The pause that follows waits for what is still out.
            DRAIN.shut();
        }
        _ => {}
    }
    // SAFETY: passes the caller's notification on, unchanged.
    unsafe { NdisFNetPnPEvent(SwitchModule::get().ndis_handle(), notification) }
}

/// `FilterPause` (PASSIVE_LEVEL): sends arriving from now on are failed;
/// returns once no send handler runs and every NBL of ours came back.
pub unsafe extern "system" fn pause(
    _module_context: NdisHandle,
    _parameters: *mut NdisFilterPauseParameters,
) -> NdisStatus {
    SwitchModule::get().set_state(State::Paused);
    path::pause();
    log::info!("switch extension paused");
    NdisStatus::SUCCESS
}

/// `FilterSendNetBufferLists`: packets entering the switch from a port. The
/// data path runs at DISPATCH_LEVEL (raised to if NDIS called below it).
pub unsafe extern "system" fn send_net_buffer_lists(
    _module_context: NdisHandle,
    nbls: *mut NetBufferList,
    port_number: NdisPortNumber,
    send_flags: u32,
) {
    let _raised = (send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL == 0).then(DispatchGuard::raise);
    let send_flags = send_flags | NDIS_SEND_FLAGS_DISPATCH_LEVEL;
    let switch = SwitchModule::get();
    if !DRAIN.enter() {
        // SAFETY: NDIS just gave us this request.
        unsafe { switch.drop_sends(nbls, send_flags, NdisStatus::PAUSED, &REASON_PAUSED) };
        return;
    }
    // SAFETY: NDIS gave us the request; we run at DISPATCH_LEVEL and hold a
    // reference of the drain until it is done.
    unsafe { ingress::send(nbls, port_number, send_flags) };
    path::leave();
}

/// `FilterSendNetBufferListsComplete`: NBLs of ours are taken back (and
/// parents whose clones all came back completed); the others go back up.
pub unsafe extern "system" fn send_net_buffer_lists_complete(
    _module_context: NdisHandle,
    nbls: *mut NetBufferList,
    send_complete_flags: u32,
) {
    // SAFETY: NDIS hands us the completion.
    unsafe { egress::send_complete(nbls, send_complete_flags) };
}

/// `FilterReceiveNetBufferLists`: packets leaving the switch to their
/// destination ports.
pub unsafe extern "system" fn receive_net_buffer_lists(
    _module_context: NdisHandle,
    nbls: *mut NetBufferList,
    port_number: NdisPortNumber,
    count: u32,
    receive_flags: u32,
) {
    let switch = SwitchModule::get();
    if switch.state() == State::Running {
        // SAFETY: the indication is passed on, unchanged, to the driver above.
        unsafe {
            NdisFIndicateReceiveNetBufferLists(
                switch.ndis_handle(),
                nbls,
                port_number,
                count,
                receive_flags,
            )
        };
    } else if receive_can_pend(receive_flags) {
        // SAFETY: the NBLs were lent to us; handing them straight back drops
        // the indication. (Without that flag they are reclaimed on return.)
        unsafe {
            NdisFReturnNetBufferLists(switch.ndis_handle(), nbls, return_flags(receive_flags))
        };
    }
}

/// `FilterReturnNetBufferLists`: indications this module passed up coming
/// back; they belong to the driver below.
pub unsafe extern "system" fn return_net_buffer_lists(
    _module_context: NdisHandle,
    nbls: *mut NetBufferList,
    return_flags: u32,
) {
    // SAFETY: the returned NBLs belong to the driver below us.
    unsafe { NdisFReturnNetBufferLists(SwitchModule::get().ndis_handle(), nbls, return_flags) };
}
