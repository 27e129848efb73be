//! The control device `\Device\OpenvSwitchDevice` (`\\.\OpenvSwitchDevice`
//! to ovs-vswitchd): registration through NDIS, and the IRPs it serves,
//! each handed to the one `Device` of the portable core.
//!
//! - CREATE opens a core handle, kept in the file object's `FsContext`.
//! - DEVICE_CONTROL picks the buffers the IOCTL's method defines
//!   (`platform::irp::buffers`), calls `Device::ioctl` and completes the IRP,
//!   or queues it in the cancel-safe queue when the core pends it.
//! - CLEANUP closes the handle's queues and completes every IRP still
//!   pended on the file with success and 0 bytes.
//! - CLOSE frees the handle.
//!
//! Pended IRPs named in a `Wakeups` are completed by `complete_wakeups`,
//! callable up to DISPATCH_LEVEL (the receive path uses it too).
#![cfg(windows)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr;
use core::slice;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::csq;
use super::ndis::ffi::{
    NdisDeregisterDeviceEx, NdisRegisterDeviceEx, io_complete_request,
    io_get_current_irp_stack_location, io_mark_irp_pending, mm_get_system_address_for_mdl_safe,
};
use super::ndis::types::*;
use super::wstr::{ascii_utf16, unicode_string_nul};
use crate::handle::HandleId;
use crate::ioctl::{Device, Io};
use crate::pend::Wakeups;
use crate::platform::irp::{self, Buffers, Completion, Output, Request, Tokens};
use crate::platform::pending::Insert;
use crate::status::NtStatus;

static DEVICE_NAME: [u16; 26] = ascii_utf16("\\Device\\OpenvSwitchDevice\0");
static LINK_NAME: [u16; 30] = ascii_utf16("\\DosDevices\\OpenvSwitchDevice\0");
/// Full access for LocalSystem and Administrators, nobody else (no class
/// GUID is given, so no registry setting can widen it).
static SDDL: [u16; 28] = ascii_utf16("D:P(A;;GA;;;SY)(A;;GA;;;BA)\0");

static MAJOR_FUNCTIONS: [Option<DriverDispatch>; IRP_MJ_MAXIMUM_FUNCTION + 1] = {
    let mut table: [Option<DriverDispatch>; IRP_MJ_MAXIMUM_FUNCTION + 1] =
        [None; IRP_MJ_MAXIMUM_FUNCTION + 1];
    table[IRP_MJ_CREATE] = Some(dispatch_create);
    table[IRP_MJ_CLEANUP] = Some(dispatch_cleanup);
    table[IRP_MJ_CLOSE] = Some(dispatch_close);
    table[IRP_MJ_DEVICE_CONTROL] = Some(dispatch_device_control);
    table
};

/// The core's device, from DriverEntry to unload.
static DEVICE: AtomicPtr<Device> = AtomicPtr::new(ptr::null_mut());
/// The NDIS handle of the registered control device.
static NDIS_DEVICE: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static TOKENS: Tokens = Tokens::new();

/// The core's device; `None` only outside DriverEntry..unload.
pub fn device() -> Option<&'static Device> {
    // SAFETY: the pointer is set in DriverEntry before anything can call
    // in, and freed in unload after the control device is gone and every
    // filter module detached, so no caller outlives it.
    unsafe { DEVICE.load(Ordering::Acquire).as_ref() }
}

/// Creates the core's device and the queue pended IRPs wait in.
pub fn create() -> NdisStatus {
    let status = csq::init();
    if status.is_success() {
        let dev = Device::with_hash_seed(super::time::hash_seed());
        dev.set_wall_epoch(super::time::wall_epoch_ns());
        DEVICE.store(Box::into_raw(Box::new(dev)), Ordering::Release);
    }
    status
}

/// Registers `\Device\OpenvSwitchDevice` and its `\DosDevices` link, with an
/// ACL admitting only SYSTEM and Administrators.
pub fn register(filter_driver: NdisHandle) -> NdisStatus {
    let mut name = unicode_string_nul(&DEVICE_NAME);
    let mut link = unicode_string_nul(&LINK_NAME);
    let sddl = unicode_string_nul(&SDDL);
    let mut attributes = NdisDeviceObjectAttributes {
        header: NdisObjectHeader::new(
            NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES,
            NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
        ),
        device_name: &mut name,
        symbolic_name: &mut link,
        // NDIS only reads the table.
        major_functions: MAJOR_FUNCTIONS.as_ptr().cast_mut(),
        extension_size: 0,
        default_sddl_string: &sddl,
        device_class_guid: ptr::null(),
    };
    let mut device_object = ptr::null_mut();
    let mut handle = ptr::null_mut();
    // SAFETY: every pointer is valid for the call; NDIS copies the names
    // and the dispatch table; the handle is kept for deregistration.
    let status = unsafe {
        NdisRegisterDeviceEx(
            filter_driver,
            &mut attributes,
            &mut device_object,
            &mut handle,
        )
    };
    if status.is_success() {
        NDIS_DEVICE.store(handle, Ordering::Release);
    }
    status
}

/// Unload: the control device goes first (no IRP can arrive after it:
/// unload only runs once every handle is closed), the core's device last,
/// once the filter modules have detached.
pub fn deregister() {
    let handle = NDIS_DEVICE.swap(ptr::null_mut(), Ordering::AcqRel);
    if !handle.is_null() {
        // SAFETY: `handle` came from NdisRegisterDeviceEx and goes once.
        unsafe { NdisDeregisterDeviceEx(handle) };
    }
}

/// Frees the core's device (unload, after `deregister` and the filter
/// deregistration).
pub fn destroy() {
    let device = DEVICE.swap(ptr::null_mut(), Ordering::AcqRel);
    if !device.is_null() {
        // SAFETY: the pointer came from Box::into_raw in `create`; nothing
        // can reach it any more (see `device`).
        drop(unsafe { Box::from_raw(device) });
    }
}

/// Sets the IRP's status and completes it; returns the status for the
/// dispatch routine to return.
///
/// # Safety
/// The caller owns `irp` (dispatched to it, or taken from the queue) and
/// does not touch it afterwards.
pub unsafe fn complete(irp: *mut Irp, c: Completion) -> NdisStatus {
    let status = NdisStatus(c.status.0);
    // SAFETY: the caller owns the IRP until IoCompleteRequest.
    unsafe {
        (*irp).io_status.status = status;
        (*irp).io_status.information = c.information;
        io_complete_request(irp, IO_NO_INCREMENT);
    }
    status
}

/// Completes the pended IRPs the core named, with success and 0 bytes.
/// Any IRQL up to DISPATCH_LEVEL; no lock of the core may be held.
pub fn complete_wakeups(wake: Wakeups) {
    for token in wake.into_tokens() {
        if let Some(irp) = csq::take_token(token) {
            // SAFETY: taking it out of the queue made it ours.
            unsafe { complete(irp, Completion::WOKEN) };
        }
    }
}

/// Marks a file object this device opened (its `FsContext2`).
static OPENED: u8 = 0;

const _: () = assert!(
    size_of::<HandleId>() <= size_of::<*mut c_void>()
        && align_of::<HandleId>() <= align_of::<*mut c_void>(),
    "a handle id fits in FsContext"
);

/// The file object of the IRP's current stack location.
///
/// # Safety
/// `irp` is live and dispatched to (or queued by) this driver.
unsafe fn file_of(irp: *mut Irp) -> *mut FileObject {
    // SAFETY: our stack location is valid while the IRP is ours.
    unsafe { (*io_get_current_irp_stack_location(irp)).file_object }
}

/// The core handle of a file this device opened.
///
/// # Safety
/// `file` is null or a live file object of this device.
unsafe fn handle_of(file: *mut FileObject) -> Option<HandleId> {
    if file.is_null() {
        return None;
    }
    // SAFETY: the context fields belong to the device that opened the
    // file; `FsContext` holds a `HandleId` whenever `FsContext2` is marked.
    unsafe {
        if (*file).fs_context2 != (&raw const OPENED).cast_mut().cast() {
            return None;
        }
        Some((&raw const (*file).fs_context).cast::<HandleId>().read())
    }
}

/// # Safety
/// `file` is the live file object of the CREATE being dispatched.
unsafe fn set_handle(file: *mut FileObject, id: Option<HandleId>) {
    // SAFETY: the CREATE's file object is ours to fill in; a `HandleId`
    // fits in the pointer-sized `FsContext` (asserted above).
    unsafe {
        match id {
            Some(id) => {
                (&raw mut (*file).fs_context).cast::<HandleId>().write(id);
                (*file).fs_context2 = (&raw const OPENED).cast_mut().cast();
            }
            None => (*file).fs_context2 = ptr::null_mut(),
        }
    }
}

/// A queued IRP leaves without a wakeup (cancelled, or taken at cleanup):
/// the core forgets its token, if it still holds it.
///
/// # Safety
/// `irp` is live and owned by the caller.
pub unsafe fn forget(irp: *mut Irp) {
    // SAFETY: the caller owns the IRP; its token and file are as queued.
    let (token, id) = unsafe { (csq::token(irp), handle_of(file_of(irp))) };
    if let (Some(dev), Some(id)) = (device(), id) {
        dev.cancel(id, token);
    }
}

unsafe extern "system" fn dispatch_create(_device: *mut DeviceObject, irp: *mut Irp) -> NdisStatus {
    // SAFETY: the I/O manager dispatches a live CREATE IRP to us.
    let file = unsafe { file_of(irp) };
    let c = match device() {
        Some(dev) if !file.is_null() => match dev.open() {
            Ok(id) => {
                // SAFETY: the CREATE's file object.
                unsafe { set_handle(file, Some(id)) };
                Completion::status(NtStatus::SUCCESS)
            }
            Err(status) => Completion::status(status),
        },
        _ => Completion::status(NtStatus::INVALID_DEVICE_STATE),
    };
    // SAFETY: dispatched to us; not touched afterwards.
    unsafe { complete(irp, c) }
}

unsafe extern "system" fn dispatch_cleanup(
    _device: *mut DeviceObject,
    irp: *mut Irp,
) -> NdisStatus {
    // SAFETY: the I/O manager dispatches a live CLEANUP IRP to us.
    let file = unsafe { file_of(irp) };
    // SAFETY: the file object of our own CLEANUP.
    if let (Some(dev), Some(id)) = (device(), unsafe { handle_of(file) }) {
        let mut wake = Wakeups::new();
        dev.cleanup(id, &mut wake);
        complete_wakeups(wake);
        while let Some(pended) = csq::take_file(file) {
            // SAFETY: taking it out of the queue made it ours.
            unsafe {
                forget(pended);
                complete(pended, Completion::WOKEN);
            }
        }
    }
    // SAFETY: dispatched to us; not touched afterwards.
    unsafe { complete(irp, Completion::status(NtStatus::SUCCESS)) }
}

unsafe extern "system" fn dispatch_close(_device: *mut DeviceObject, irp: *mut Irp) -> NdisStatus {
    // SAFETY: the I/O manager dispatches a live CLOSE IRP to us; its file
    // object is ours until the IRP completes.
    unsafe {
        let file = file_of(irp);
        if let (Some(dev), Some(id)) = (device(), handle_of(file)) {
            let mut wake = Wakeups::new();
            dev.close(id, &mut wake);
            complete_wakeups(wake);
            set_handle(file, None);
        }
        complete(irp, Completion::status(NtStatus::SUCCESS))
    }
}

/// The request's parameters and buffers, as the I/O manager set them.
///
/// # Safety
/// `irp` is a live DEVICE_CONTROL IRP dispatched to us.
unsafe fn request_of(irp: *mut Irp) -> Request {
    // SAFETY: our stack location and the IRP header are valid; the MDL,
    // when present, was built by the I/O manager for the output buffer.
    unsafe {
        let p = &(*io_get_current_irp_stack_location(irp)).parameters;
        let mdl = (*irp).mdl_address;
        Request {
            code: p.io_control_code,
            input_len: p.input_buffer_length,
            output_len: p.output_buffer_length,
            system_buffer: !(*irp).system_buffer.is_null(),
            mdl_len: (!mdl.is_null()).then(|| (*mdl).byte_count),
        }
    }
}

/// Calls the core with the buffers `plan` picked.
///
/// # Safety
/// `irp` is a live DEVICE_CONTROL IRP dispatched to us, `plan` is
/// `irp::buffers` of its request; the buffers are not used after return.
unsafe fn call_core(
    dev: &Device,
    id: HandleId,
    irp: *mut Irp,
    code: u32,
    plan: &Buffers,
    token: crate::pend::PendToken,
    wake: &mut Wakeups,
) -> Result<crate::ioctl::Outcome, NtStatus> {
    // SAFETY: `plan` only names buffers the I/O manager provided for this
    // method with at least these lengths (checked by `irp::buffers`).
    let system = unsafe { (*irp).system_buffer }.cast::<u8>();
    let mut copy = Vec::new();
    let input: &[u8] = match plan.input_len {
        0 => &[],
        n if plan.copy_input => {
            // The output overwrites the shared system buffer.
            copy.try_reserve_exact(n)
                .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
            // SAFETY: the system buffer holds `n` input bytes.
            copy.extend_from_slice(unsafe { slice::from_raw_parts(system, n) });
            &copy
        }
        // SAFETY: as above; nothing writes the system buffer meanwhile.
        n => unsafe { slice::from_raw_parts(system, n) },
    };
    if let Some(status) = super::hyperv::refuses(code, input) {
        return Err(status);
    }
    let output: &mut [u8] = match plan.output {
        Output::None => &mut [],
        // SAFETY: the system buffer holds `output_len` bytes; the input
        // was copied out of it, so the two slices never overlap.
        Output::SystemBuffer => unsafe { slice::from_raw_parts_mut(system, plan.output_len) },
        Output::Mdl => {
            // SAFETY: the I/O manager locked the MDL's pages for the
            // IRP's life; we run at PASSIVE_LEVEL.
            let va = unsafe {
                mm_get_system_address_for_mdl_safe(
                    (*irp).mdl_address,
                    LOW_PAGE_PRIORITY | MDL_MAPPING_NO_EXECUTE,
                )
            };
            if va.is_null() {
                return Err(NtStatus::INSUFFICIENT_RESOURCES);
            }
            // SAFETY: the mapping covers the MDL's byte count, at least
            // `output_len`. The pages are the caller's buffer, which the
            // caller may scribble on meanwhile; bytes have no invalid
            // values, so that only spoils its own reply.
            unsafe { slice::from_raw_parts_mut(va.cast::<u8>(), plan.output_len) }
        }
    };
    // Executed packets are sent when it drops, after the core returned.
    let mut egress = super::egress::Executed::new();
    let mut io = Io {
        token,
        now: super::time::now(),
        egress: &mut egress,
    };
    Ok(dev.ioctl(id, code, input, output, &mut io, wake))
}

unsafe extern "system" fn dispatch_device_control(
    _device: *mut DeviceObject,
    irp: *mut Irp,
) -> NdisStatus {
    // SAFETY: the I/O manager dispatches a live DEVICE_CONTROL IRP to us.
    let (request, id) = unsafe { (request_of(irp), handle_of(file_of(irp))) };
    let (Some(dev), Some(id)) = (device(), id) else {
        // SAFETY: dispatched to us; not touched afterwards.
        return unsafe { complete(irp, Completion::status(NtStatus::INVALID_DEVICE_STATE)) };
    };
    let plan = match irp::buffers(&request) {
        Ok(plan) => plan,
        // SAFETY: as above.
        Err(status) => return unsafe { complete(irp, Completion::status(status)) },
    };
    let token = TOKENS.next();
    // SAFETY: the IRP is ours.
    unsafe { csq::set_token(irp, token) };
    if csq::begin(token).is_err() {
        // SAFETY: as above.
        return unsafe { complete(irp, Completion::status(NtStatus::INSUFFICIENT_RESOURCES)) };
    }
    let mut wake = Wakeups::new();
    // SAFETY: `plan` comes from this IRP's request.
    let outcome = unsafe { call_core(dev, id, irp, request.code, &plan, token, &mut wake) };
    let returned = match outcome.map(|o| Completion::of(o, plan.output_len)) {
        Err(status) => {
            csq::end(token);
            // SAFETY: as above.
            unsafe { complete(irp, Completion::status(status)) }
        }
        Ok(Some(c)) => {
            csq::end(token);
            // SAFETY: as above.
            unsafe { complete(irp, c) }
        }
        Ok(None) => {
            // Marked before the queue can complete it: once queued, the
            // dispatch must return STATUS_PENDING whoever completes it.
            // SAFETY: the IRP is still ours here.
            let insert = unsafe {
                io_mark_irp_pending(irp);
                csq::queue(irp)
            };
            match insert {
                Insert::Queued => {}
                // SAFETY: refused, so still ours.
                Insert::Woken => unsafe {
                    complete(irp, Completion::WOKEN);
                },
                // SAFETY: as above; the core still holds the token.
                Insert::NoRoom => unsafe {
                    forget(irp);
                    complete(irp, Completion::WOKEN);
                },
            }
            csq::end(token);
            NdisStatus::PENDING
        }
    };
    complete_wakeups(wake);
    returned
}
