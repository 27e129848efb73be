//! OID requests travelling down the switch stack (the protocol edge
//! configuring ports, NICs and properties, or querying the switch).
//!
//! Each request is cloned and the clone sent on, so the module sees the
//! result when the clone completes: that is where switch OIDs will update
//! the port and NIC model. Until that model is bound, requests pass through
//! with their results copied back unchanged.

use core::ptr;

use super::filter::SwitchModule;
use super::ndis::ffi::{
    NdisAllocateCloneOidRequest, NdisFOidRequest, NdisFOidRequestComplete, NdisFreeCloneOidRequest,
};
use super::ndis::types::*;

/// Pool tag of the request clones ("OVSO" in pool dumps).
const CLONE_POOL_TAG: u32 = u32::from_le_bytes(*b"OVSO");

/// Where a clone keeps the request it was made from: the start of its
/// `SourceReserved`, which belongs to the issuer of a request (us).
fn original_slot(clone: *mut NdisOidRequest) -> *mut *mut NdisOidRequest {
    // `source_reserved` is pointer-aligned (offset 0xD8 in an 8-aligned
    // structure) and two pointers long.
    clone
        .wrapping_byte_add(core::mem::offset_of!(NdisOidRequest, source_reserved))
        .cast()
}

/// `FilterOidRequest`: forwards a clone of `request` and completes the
/// original when the clone completes.
pub unsafe extern "system" fn oid_request(
    module_context: NdisHandle,
    request: *mut NdisOidRequest,
) -> NdisStatus {
    let handle = SwitchModule::get().ndis_handle();
    let mut clone = ptr::null_mut();
    // SAFETY: `request` is live until we complete it; NDIS allocates the
    // clone, copying the request (same buffers, same request id).
    let status =
        unsafe { NdisAllocateCloneOidRequest(handle, request, CLONE_POOL_TAG, &mut clone) };
    if !status.is_success() {
        return status;
    }
    // SAFETY: the clone is ours until it completes; its SourceReserved is
    // reserved for the issuer and large and aligned enough for a pointer.
    let status = unsafe {
        original_slot(clone).write(request);
        NdisFOidRequest(handle, clone)
    };
    if status != NdisStatus::PENDING {
        // SAFETY: the clone completed synchronously and is still ours.
        unsafe { oid_request_complete(module_context, clone, status) };
    }
    // The original always completes through `oid_request_complete`.
    NdisStatus::PENDING
}

/// `FilterOidRequestComplete`: a clone sent by `oid_request` completed.
pub unsafe extern "system" fn oid_request_complete(
    _module_context: NdisHandle,
    clone: *mut NdisOidRequest,
    status: NdisStatus,
) {
    let handle = SwitchModule::get().ndis_handle();
    // SAFETY: every request this module sends is a clone made by
    // `oid_request`, which stored its live original first; both stay valid
    // until completed/freed below. The union member read is the one the
    // request type selects, in both requests (the clone copies the type).
    unsafe {
        let original = original_slot(clone).read();
        let result = &(*clone).data;
        let data = &mut (*original).data;
        match (*clone).request_type {
            NDIS_REQUEST_METHOD => {
                data.method.output_buffer_length = result.method.output_buffer_length;
                data.method.bytes_written = result.method.bytes_written;
                data.method.bytes_read = result.method.bytes_read;
                data.method.bytes_needed = result.method.bytes_needed;
            }
            NDIS_REQUEST_SET_INFORMATION => {
                data.set.bytes_read = result.set.bytes_read;
                data.set.bytes_needed = result.set.bytes_needed;
            }
            _ => {
                data.query.bytes_written = result.query.bytes_written;
                data.query.bytes_needed = result.query.bytes_needed;
            }
        }
        NdisFreeCloneOidRequest(handle, clone);
        NdisFOidRequestComplete(handle, original, status);
    }
}
