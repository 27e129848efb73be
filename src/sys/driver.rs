//! Driver entry and unload: the extension registers as an NDIS filter
//! driver, which NDIS then attaches to the Hyper-V switches the INF binds it
//! to (`FilterMediaTypes = vmnetextension`), and registers the control
//! device ovs-vswitchd opens.
#![cfg(windows)]

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::device;
use super::filter;
use super::ndis::ffi::{NdisFDeregisterFilterDriver, NdisFRegisterFilterDriver};
use super::ndis::types::*;
use super::oid;
use super::runtime;
use super::wstr::{ascii_utf16, unicode_string};

/// The names the switch and `Get-VMSwitchExtension` know the extension by
/// (also in its drop reports); ovs-vswitchd looks it up by the friendly
/// name, the INF's `NetCfgInstanceId` is the unique name and its service is
/// `OVSExt`.
pub(super) static FRIENDLY_NAME: [u16; 22] = ascii_utf16("Open vSwitch Extension");
pub(super) static UNIQUE_NAME: [u16; 38] = ascii_utf16("{583CC151-73EC-4A6A-8B47-578297AD7623}");
static SERVICE_NAME: [u16; 6] = ascii_utf16("OVSExt");

/// The handle `NdisFRegisterFilterDriver` returned, for unload.
static FILTER_DRIVER: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(ptr::null_mut());

fn characteristics() -> NdisFilterDriverCharacteristics {
    NdisFilterDriverCharacteristics {
        header: NdisObjectHeader::new(
            NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
            NDIS_FILTER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        major_ndis_version: NDIS_FILTER_MAJOR_VERSION,
        minor_ndis_version: NDIS_FILTER_MINOR_VERSION,
        major_driver_version: 1,
        minor_driver_version: 0,
        flags: 0,
        friendly_name: unicode_string(&FRIENDLY_NAME),
        unique_name: unicode_string(&UNIQUE_NAME),
        service_name: unicode_string(&SERVICE_NAME),
        set_options_handler: None,
        set_filter_module_options_handler: None,
        attach_handler: Some(filter::attach),
        detach_handler: Some(filter::detach),
        restart_handler: Some(filter::restart),
        pause_handler: Some(filter::pause),
        send_net_buffer_lists_handler: Some(filter::send_net_buffer_lists),
        send_net_buffer_lists_complete_handler: Some(filter::send_net_buffer_lists_complete),
        // The module queues nothing: NDIS forwards cancellations below.
        cancel_send_net_buffer_lists_handler: None,
        receive_net_buffer_lists_handler: Some(filter::receive_net_buffer_lists),
        return_net_buffer_lists_handler: Some(filter::return_net_buffer_lists),
        oid_request_handler: Some(oid::oid_request),
        oid_request_complete_handler: Some(oid::oid_request_complete),
        // A clone carries the original's request id, so a cancellation NDIS
        // forwards below finds it.
        cancel_oid_request_handler: None,
        device_pnp_event_notify_handler: None,
        net_pnp_event_handler: Some(filter::net_pnp_event),
        status_handler: None,
        direct_oid_request_handler: None,
        direct_oid_request_complete_handler: None,
        cancel_direct_oid_request_handler: None,
    }
}

/// `DriverEntry`: the pool routine is looked up before anything allocates;
/// then the core's device first (a filter attach, which may come
/// during registration, uses it), then the filter, then the control device.
///
/// # Safety
/// Called once by the I/O manager with this driver's object.
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(
    driver: *mut DriverObject,
    _registry_path: *const UnicodeString,
) -> NdisStatus {
    runtime::init_allocator();
    super::log::init();
    let status = device::create();
    if !status.is_success() {
        return status;
    }
    let mut characteristics = characteristics();
    let mut handle = ptr::null_mut();
    // SAFETY: all pointers are valid for the call; the name buffers are
    // statics and the handlers live as long as the driver image.
    let status = unsafe {
        NdisFRegisterFilterDriver(driver, driver.cast(), &mut characteristics, &mut handle)
    };
    if !status.is_success() {
        device::destroy();
        return status;
    }
    let status = device::register(handle);
    if !status.is_success() {
        // SAFETY: registered just above, deregistered once.
        unsafe { NdisFDeregisterFilterDriver(handle) };
        device::destroy();
        return status;
    }
    FILTER_DRIVER.store(handle, Ordering::Release);
    // SAFETY: the driver object is ours to fill in during DriverEntry.
    unsafe { (*driver).driver_unload = Some(driver_unload) };
    NdisStatus::SUCCESS
}

/// `DriverUnload`: the I/O manager defers it while a handle on the control
/// device is open, so no IRP is in flight. The control device goes, then
/// the filter (NDIS detaches every module before deregistration returns),
/// then the core's device.
unsafe extern "system" fn driver_unload(_driver: *mut DriverObject) {
    device::deregister();
    let handle = FILTER_DRIVER.swap(ptr::null_mut(), Ordering::AcqRel);
    if !handle.is_null() {
        // SAFETY: `handle` came from NdisFRegisterFilterDriver and is
        // deregistered once.
        unsafe { NdisFDeregisterFilterDriver(handle) };
    }
    device::destroy();
}
