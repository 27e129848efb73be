//! OID requests travelling down the switch stack (the protocol edge
//! configuring ports, NICs and properties, or querying the switch), and the
//! queries the extension issues itself.
//!
//! Each request from above is first shown to the switch model
//! (`hyperv::before`), which may veto it: it then completes at once with the
//! veto's status. Otherwise a clone goes down, and when the clone completes
//! the model sees the result (`hyperv::after_set`) before the original
//! completes with the clone's results.
//!
//! A request the extension issues itself (`query`) has no original; its
//! `SourceReserved` names the waiter to wake instead.
#![cfg(windows)]

use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr;
use core::slice;
use core::sync::atomic::{AtomicU32, Ordering};

use super::filter::SwitchModule;
use super::hyperv;
use super::ndis::ffi::{
    KeInitializeEvent, KeSetEvent, KeWaitForSingleObject, NdisAllocateCloneOidRequest,
    NdisFOidRequest, NdisFOidRequestComplete, NdisFreeCloneOidRequest,
};
use super::ndis::types::*;
use crate::platform::oid::query_header;

/// Pool tag of the request clones ("OVSO" in pool dumps).
const CLONE_POOL_TAG: u32 = u32::from_le_bytes(*b"OVSO");

/// Largest answer a query may ask room for (port and NIC arrays are a few
/// KiB per port).
const QUERY_MAX: usize = 16 << 20;
/// Attempts at a query whose answer keeps growing.
const QUERY_TRIES: usize = 4;

/// `SourceReserved` (ours as the issuer of every request we send down):
/// slot 0 is the original of a clone, null for our own queries; slot 1 is
/// the waiter of our own queries.
fn source_slot(request: *mut NdisOidRequest, slot: usize) -> *mut *mut c_void {
    // `source_reserved` is pointer-aligned (offset 0xD8 in an 8-aligned
    // structure) and two pointers long.
    request
        .wrapping_byte_add(core::mem::offset_of!(NdisOidRequest, source_reserved))
        .cast::<*mut c_void>()
        .wrapping_add(slot)
}

/// A request's type, OID and the bytes of its information buffer (input
/// side).
///
/// # Safety
/// `request` is live; NDIS keeps its buffer valid until it completes.
unsafe fn contents<'a>(request: *const NdisOidRequest) -> (u32, NdisOid, &'a [u8]) {
    // SAFETY: the union member read is the one the request type selects;
    // the buffer holds the length NDIS announces. The OID sits at the same
    // place in every union member.
    unsafe {
        let kind = (*request).request_type;
        let data = &(*request).data;
        let (buffer, length) = match kind {
            NDIS_REQUEST_METHOD => (
                data.method.information_buffer,
                data.method.input_buffer_length,
            ),
            NDIS_REQUEST_SET_INFORMATION => (
                data.set.information_buffer,
                data.set.information_buffer_length,
            ),
            _ => (
                data.query.information_buffer,
                data.query.information_buffer_length,
            ),
        };
        let buf = if buffer.is_null() || length == 0 {
            &[]
        } else {
            slice::from_raw_parts(buffer.cast::<u8>(), length as usize)
        };
        (kind, data.set.oid, buf)
    }
}

/// The switch model's verdict on a request from above.
///
/// # Safety
/// `request` is a live request NDIS gave this module.
unsafe fn before(request: *mut NdisOidRequest) -> Result<(), NdisStatus> {
    // SAFETY: as the caller guarantees.
    let (kind, oid, buf) = unsafe { contents(request) };
    match kind {
        NDIS_REQUEST_SET_INFORMATION => hyperv::before_set(oid, buf),
        NDIS_REQUEST_METHOD if oid == OID_SWITCH_NIC_REQUEST => {
            // SAFETY: a well-formed payload points to the live request it
            // forwards, valid while the outer one is.
            let inner = unsafe { nic_request_inner(buf) }?;
            match inner {
                Some((kind, oid)) => hyperv::nic_request_verdict(kind, oid),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Shows the switch model how a request it accepted ended (`ok`: with
/// success).
///
/// # Safety
/// `request` is a live request NDIS gave this module, not yet completed.
unsafe fn after(request: *mut NdisOidRequest, ok: bool) {
    // SAFETY: as the caller guarantees.
    let (kind, oid, buf) = unsafe { contents(request) };
    if kind == NDIS_REQUEST_SET_INFORMATION {
        hyperv::after_set(oid, buf, ok);
    }
}

/// The type and OID of the request an `NDIS_SWITCH_NIC_OID_REQUEST` carries.
///
/// # Safety
/// `buf` is the payload of a live `OID_SWITCH_NIC_REQUEST`.
unsafe fn nic_request_inner(buf: &[u8]) -> Result<Option<(u32, NdisOid)>, NdisStatus> {
    if !crate::platform::oid::nic_request_ok(buf) {
        return Err(NdisStatus::NOT_SUPPORTED);
    }
    // SAFETY: the payload holds a whole NDIS_SWITCH_NIC_OID_REQUEST (its
    // header was checked); it may be unaligned.
    let inner = unsafe {
        buf.as_ptr()
            .cast::<NdisSwitchNicOidRequest>()
            .read_unaligned()
            .oid_request
    };
    if inner.is_null() {
        return Ok(None);
    }
    // SAFETY: the inner request is live while the outer one is; the OID is
    // at the same place in every union member.
    Ok(Some(unsafe {
        ((*inner).request_type, (*inner).data.set.oid)
    }))
}

/// `FilterOidRequest`: vetoes or forwards a clone of `request`, completing
/// the original when the clone completes.
pub unsafe extern "system" fn oid_request(
    module_context: NdisHandle,
    request: *mut NdisOidRequest,
) -> NdisStatus {
    // SAFETY: NDIS gave us this request.
    if let Err(status) = unsafe { before(request) } {
        // Completed here, with the veto.
        return status;
    }
    let handle = SwitchModule::get().ndis_handle();
    let mut clone = ptr::null_mut();
    // SAFETY: `request` is live until we complete it; NDIS allocates the
    // clone, copying the request (same buffers, same request id).
    let status =
        unsafe { NdisAllocateCloneOidRequest(handle, request, CLONE_POOL_TAG, &mut clone) };
    if !status.is_success() {
        // The request fails here: the model forgets what it applied.
        // SAFETY: the request is still ours (completed by the return).
        unsafe { after(request, false) };
        return status;
    }
    // SAFETY: the clone is ours until it completes; its SourceReserved is
    // reserved for the issuer and large and aligned enough for a pointer.
    let status = unsafe {
        source_slot(clone, 0).write(request.cast());
        NdisFOidRequest(handle, clone)
    };
    if status != NdisStatus::PENDING {
        // SAFETY: the clone completed synchronously and is still ours.
        unsafe { oid_request_complete(module_context, clone, status) };
    }
    // The original always completes through `oid_request_complete`.
    NdisStatus::PENDING
}

/// What a query of ours waits on.
struct Waiter {
    event: KEvent,
    status: AtomicU32,
}

/// `FilterOidRequestComplete`: a clone sent by `oid_request`, or one of our
/// own queries, completed.
pub unsafe extern "system" fn oid_request_complete(
    _module_context: NdisHandle,
    request: *mut NdisOidRequest,
    status: NdisStatus,
) {
    // SAFETY: every request this module sends carries its slots (set by
    // `oid_request` or `query_once`).
    let original = unsafe { source_slot(request, 0).read() }.cast::<NdisOidRequest>();
    if original.is_null() {
        // SAFETY: our own query: slot 1 names its waiter, blocked until the
        // event is set (it is not touched after that).
        unsafe {
            let waiter = source_slot(request, 1).read().cast::<Waiter>();
            (*waiter).status.store(status.0, Ordering::Release);
            KeSetEvent(&raw mut (*waiter).event, 0, 0);
        }
        return;
    }
    let handle = SwitchModule::get().ndis_handle();
    // SAFETY: `original` is the live request the clone was made from; both
    // stay valid until completed/freed below. The union member read is the
    // one the request type selects, in both requests (the clone copies the
    // type).
    unsafe {
        let result = &(*request).data;
        let data = &mut (*original).data;
        match (*request).request_type {
            NDIS_REQUEST_METHOD => {
                data.method.output_buffer_length = result.method.output_buffer_length;
                data.method.bytes_written = result.method.bytes_written;
                data.method.bytes_read = result.method.bytes_read;
                data.method.bytes_needed = result.method.bytes_needed;
            }
            NDIS_REQUEST_SET_INFORMATION => {
                data.set.bytes_read = result.set.bytes_read;
                data.set.bytes_needed = result.set.bytes_needed;
                after(original, status.is_success());
            }
            _ => {
                data.query.bytes_written = result.query.bytes_written;
                data.query.bytes_needed = result.query.bytes_needed;
            }
        }
        NdisFreeCloneOidRequest(handle, request);
        NdisFOidRequestComplete(handle, original, status);
    }
}

/// Issues one query into `buf` and waits for it: the status and
/// `BytesNeeded`. PASSIVE_LEVEL.
fn query_once(oid: NdisOid, buf: &mut [u8]) -> (NdisStatus, u32) {
    let Ok(length) = u32::try_from(buf.len()) else {
        return (NdisStatus::INVALID_LENGTH, 0);
    };
    let mut request = NdisOidRequest::query(oid, buf.as_mut_ptr().cast(), length);
    let mut waiter = Waiter {
        event: KEvent::new(),
        status: AtomicU32::new(NdisStatus::FAILURE.0),
    };
    let handle = SwitchModule::get().ndis_handle();
    // SAFETY: the request, its buffer and the waiter stay on this stack
    // until the request completes: synchronously, or through
    // `oid_request_complete`, which sets the event waited for here.
    unsafe {
        KeInitializeEvent(&mut waiter.event, NOTIFICATION_EVENT, 0);
        source_slot(&mut request, 0).write(ptr::null_mut());
        source_slot(&mut request, 1).write((&raw mut waiter).cast());
        let mut status = NdisFOidRequest(handle, &mut request);
        if status == NdisStatus::PENDING {
            KeWaitForSingleObject(
                (&raw mut waiter.event).cast(),
                EXECUTIVE,
                KERNEL_MODE,
                0,
                ptr::null_mut(),
            );
            status = NdisStatus(waiter.status.load(Ordering::Acquire));
        }
        (status, request.data.query.bytes_needed)
    }
}

/// Queries a switch OID whose answer starts with an object header of
/// `header_size`, into a buffer of at least `len` bytes, growing it as the
/// switch asks. PASSIVE_LEVEL, with the module attached.
pub fn query(oid: NdisOid, len: usize, header_size: u16) -> Result<Vec<u8>, NdisStatus> {
    let mut len = len;
    for _ in 0..QUERY_TRIES {
        let mut buf = Vec::new();
        buf.try_reserve_exact(len)
            .map_err(|_| NdisStatus::RESOURCES)?;
        buf.resize(len, 0);
        // The switch fills the buffer only if it announces its layout.
        if let Some(header) = buf.first_chunk_mut() {
            *header = query_header(header_size);
        }
        match query_once(oid, &mut buf) {
            (NdisStatus::SUCCESS, _) => return Ok(buf),
            (NdisStatus::INVALID_LENGTH | NdisStatus::BUFFER_TOO_SHORT, needed)
                if needed as usize > len && needed as usize <= QUERY_MAX =>
            {
                len = needed as usize;
            }
            (status, _) => return Err(status),
        }
    }
    Err(NdisStatus::INVALID_LENGTH)
}
