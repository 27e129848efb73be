//! The kernel functions the extension imports, with the signatures of the
//! WDK 10 `ndis.h` / `wdm.h` (x64: one calling convention, so FASTCALL and
//! NTAPI are both `"system"`), and the header macros and inline functions
//! rewritten over them.

use core::ffi::c_void;

use super::types::*;

#[link(name = "ndis")]
unsafe extern "system" {
    pub fn NdisAllocateTimerObject(
        ndis_handle: NdisHandle,
        characteristics: *const NdisTimerCharacteristics,
        timer_object: *mut NdisHandle,
    ) -> NdisStatus;
    /// `due_time` in 100 ns units, negative for relative; true if the timer was already set.
    pub fn NdisSetTimerObject(
        timer_object: NdisHandle,
        due_time: i64,
        period_ms: u32,
        context: *mut c_void,
    ) -> u8;
    /// True if the timer was set (and is now cancelled).
    pub fn NdisCancelTimerObject(timer_object: NdisHandle) -> u8;
    pub fn NdisFreeTimerObject(timer_object: NdisHandle);
    // Filter driver registration (NDIS 6.0).
    pub fn NdisFRegisterFilterDriver(
        driver_object: *mut DriverObject,
        filter_driver_context: NdisHandle,
        characteristics: *mut NdisFilterDriverCharacteristics,
        ndis_filter_driver_handle: *mut NdisHandle,
    ) -> NdisStatus;
    pub fn NdisFDeregisterFilterDriver(ndis_filter_driver_handle: NdisHandle);
    pub fn NdisFSetAttributes(
        ndis_filter_handle: NdisHandle,
        filter_module_context: NdisHandle,
        filter_attributes: *mut NdisFilterAttributes,
    ) -> NdisStatus;

    /// Fails unless the filter module is bound in a Hyper-V extensible
    /// switch; fills `handlers` up to the size its header announces.
    pub fn NdisFGetOptionalSwitchHandlers(
        ndis_filter_handle: NdisHandle,
        ndis_switch_context: *mut NdisHandle,
        handlers: *mut NdisSwitchOptionalHandlers,
    ) -> NdisStatus;

    // Data path.
    pub fn NdisFSendNetBufferLists(
        ndis_filter_handle: NdisHandle,
        net_buffer_lists: *mut NetBufferList,
        port_number: NdisPortNumber,
        send_flags: u32,
    );
    pub fn NdisFSendNetBufferListsComplete(
        ndis_filter_handle: NdisHandle,
        net_buffer_lists: *mut NetBufferList,
        send_complete_flags: u32,
    );
    pub fn NdisFIndicateReceiveNetBufferLists(
        ndis_filter_handle: NdisHandle,
        net_buffer_lists: *mut NetBufferList,
        port_number: NdisPortNumber,
        number_of_net_buffer_lists: u32,
        receive_flags: u32,
    );
    pub fn NdisFReturnNetBufferLists(
        ndis_filter_handle: NdisHandle,
        net_buffer_lists: *mut NetBufferList,
        return_flags: u32,
    );

    // OID requests.
    pub fn NdisFOidRequest(
        ndis_filter_handle: NdisHandle,
        request: *mut NdisOidRequest,
    ) -> NdisStatus;
    pub fn NdisFOidRequestComplete(
        ndis_filter_handle: NdisHandle,
        request: *mut NdisOidRequest,
        status: NdisStatus,
    );
    pub fn NdisAllocateCloneOidRequest(
        source_handle: NdisHandle,
        request: *mut NdisOidRequest,
        pool_tag: u32,
        clone: *mut *mut NdisOidRequest,
    ) -> NdisStatus;
    pub fn NdisFreeCloneOidRequest(source_handle: NdisHandle, request: *mut NdisOidRequest);

    /// Passes a PnP event on to the drivers above.
    pub fn NdisFNetPnPEvent(
        ndis_filter_handle: NdisHandle,
        notification: *mut NetPnpEventNotification,
    ) -> NdisStatus;

    // Packets.
    pub fn NdisAllocateNetBufferListPool(
        ndis_handle: NdisHandle,
        parameters: *mut NetBufferListPoolParameters,
    ) -> NdisHandle;
    pub fn NdisFreeNetBufferListPool(pool_handle: NdisHandle);
    pub fn NdisFreeNetBufferList(net_buffer_list: *mut NetBufferList);
    /// An NBL from `pool_handle`; from a pool with a data size, with one
    /// NET_BUFFER whose data (all of it) lies before its data start.
    pub fn NdisAllocateNetBufferList(
        pool_handle: NdisHandle,
        context_size: u16,
        context_back_fill: u16,
    ) -> *mut NetBufferList;
    /// Moves the data start `delta` bytes back into the used space.
    pub fn NdisRetreatNetBufferDataStart(
        net_buffer: *mut NetBuffer,
        delta: u32,
        data_back_fill: u32,
        allocate_mdl_handler: *mut c_void,
    ) -> NdisStatus;
    /// Moves the data start `delta` bytes forward (the bytes become unused).
    pub fn NdisAdvanceNetBufferDataStart(
        net_buffer: *mut NetBuffer,
        delta: u32,
        free_mdl: u8,
        free_mdl_handler: *mut c_void,
    );
    pub fn NdisAllocateNetBufferListContext(
        net_buffer_list: *mut NetBufferList,
        context_size: u16,
        context_back_fill: u16,
        pool_tag: u32,
    ) -> NdisStatus;
    pub fn NdisFreeNetBufferListContext(net_buffer_list: *mut NetBufferList, context_size: u16);
    pub fn NdisAllocateCloneNetBufferList(
        original: *mut NetBufferList,
        net_buffer_list_pool_handle: NdisHandle,
        net_buffer_pool_handle: NdisHandle,
        allocate_clone_flags: u32,
    ) -> *mut NetBufferList;
    pub fn NdisFreeCloneNetBufferList(clone: *mut NetBufferList, free_clone_flags: u32);
    /// A pointer to `bytes_needed` contiguous bytes at the current data
    /// offset: in place when the MDL chain allows, else copied to `storage`
    /// (null `storage`: null when not contiguous).
    pub fn NdisGetDataBuffer(
        net_buffer: *mut NetBuffer,
        bytes_needed: u32,
        storage: *mut c_void,
        align_multiple: u32,
        align_offset: u32,
    ) -> *mut c_void;

    // Control device.
    /// An I/O work item of `ndis_object_handle` (the filter module);
    /// up to DISPATCH_LEVEL, as is queueing one. Its routine runs at
    /// PASSIVE_LEVEL.
    pub fn NdisAllocateIoWorkItem(ndis_object_handle: NdisHandle) -> NdisHandle;
    pub fn NdisQueueIoWorkItem(
        ndis_io_work_item_handle: NdisHandle,
        routine: NdisIoWorkItemFunction,
        work_item_context: *mut c_void,
    );
    pub fn NdisFreeIoWorkItem(ndis_io_work_item_handle: NdisHandle);
    pub fn NdisRegisterDeviceEx(
        ndis_handle: NdisHandle,
        attributes: *mut NdisDeviceObjectAttributes,
        device_object: *mut *mut DeviceObject,
        ndis_device_handle: *mut NdisHandle,
    ) -> NdisStatus;
    pub fn NdisDeregisterDeviceEx(ndis_device_handle: NdisHandle);
}

#[link(name = "ntoskrnl")]
unsafe extern "system" {
    /// Waits until every queued DPC (timer functions among them) has run.
    pub fn KeFlushQueuedDpcs();
    /// Sleeps `interval` (negative: relative, in 100 ns); PASSIVE_LEVEL.
    pub fn KeDelayExecutionThread(wait_mode: i8, alertable: u8, interval: *mut i64) -> NdisStatus;
    /// Active processors in `group_number` (`ALL_PROCESSOR_GROUPS`: all).
    pub fn KeQueryActiveProcessorCountEx(group_number: u16) -> u32;
    /// The current processor's system-wide index (`proc_number` may be null).
    pub fn KeGetCurrentProcessorNumberEx(proc_number: *mut c_void) -> u32;
    /// Every kernel; never zeroes. (`ExAllocatePool2`, Windows 10 2004 and
    /// later, is looked up by name instead: an import of it would keep the
    /// driver from loading on older hosts.)
    pub fn ExAllocatePoolWithTag(pool_type: i32, number_of_bytes: usize, tag: u32) -> *mut c_void;
    /// The address of the kernel export `name`, or null. PASSIVE_LEVEL.
    pub fn MmGetSystemRoutineAddress(name: *const UnicodeString) -> *mut c_void;
    pub fn ExFreePool(p: *mut c_void);
    pub fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> !;

    // IRQL (exported on x64; the WDK headers inline them over CR8).
    pub fn KeGetCurrentIrql() -> Kirql;
    pub fn KfRaiseIrql(new_irql: Kirql) -> Kirql;
    pub fn KeLowerIrql(new_irql: Kirql);

    // I/O manager.
    /// `IoCompleteRequest` is a macro for this FASTCALL export.
    pub fn IofCompleteRequest(irp: *mut Irp, priority_boost: i8);
    pub fn IoCsqInitializeEx(
        csq: *mut IoCsq,
        insert_irp: IoCsqInsertIrpEx,
        remove_irp: IoCsqRemoveIrp,
        peek_next_irp: IoCsqPeekNextIrp,
        acquire_lock: IoCsqAcquireLock,
        release_lock: IoCsqReleaseLock,
        complete_canceled_irp: IoCsqCompleteCanceledIrp,
    ) -> NdisStatus;
    /// Marks the IRP pending and queues it through the insert callback;
    /// a failure status from that callback leaves the IRP unqueued.
    pub fn IoCsqInsertIrpEx(
        csq: *mut IoCsq,
        irp: *mut Irp,
        context: *mut IoCsqIrpContext,
        insert_context: *mut c_void,
    ) -> NdisStatus;
    /// Dequeues the next IRP matching `peek_context` (null: any), or null.
    pub fn IoCsqRemoveNextIrp(csq: *mut IoCsq, peek_context: *mut c_void) -> *mut Irp;

    // Events, for waiting on a request this driver issued.
    pub fn KeInitializeEvent(event: *mut KEvent, event_type: u32, state: u8);
    pub fn KeSetEvent(event: *mut KEvent, increment: i32, wait: u8) -> i32;
    pub fn KeWaitForSingleObject(
        object: *mut c_void,
        wait_reason: u32,
        wait_mode: i8,
        alertable: u8,
        timeout: *mut i64,
    ) -> NdisStatus;

    pub fn MmMapLockedPagesSpecifyCache(
        mdl: *mut Mdl,
        access_mode: i8,
        cache_type: u32,
        requested_address: *mut c_void,
        bug_check_on_failure: u32,
        priority: u32,
    ) -> *mut c_void;
}

#[link(name = "netio")]
unsafe extern "system" {
    /// The interface a `NetCfgInstanceId` names; PASSIVE_LEVEL only.
    pub fn ConvertInterfaceGuidToLuid(
        interface_guid: *const Guid,
        interface_luid: *mut NetLuid,
    ) -> NdisStatus;
    /// The interface's alias ("Ethernet 2"), NUL-terminated into
    /// `length` WCHARs; PASSIVE_LEVEL only.
    pub fn ConvertInterfaceLuidToAlias(
        interface_luid: *const NetLuid,
        interface_alias: *mut u16,
        length: usize,
    ) -> NdisStatus;

    // The IP Helper tables, all PASSIVE_LEVEL; each table is allocated by
    // netio and freed with `FreeMibTable`.
    pub fn GetUnicastIpAddressTable(
        family: u16,
        table: *mut *mut MibUnicastIpAddressTable,
    ) -> NdisStatus;
    pub fn GetIpForwardTable2(family: u16, table: *mut *mut MibIpForwardTable2) -> NdisStatus;
    pub fn GetIpNetTable2(family: u16, table: *mut *mut MibIpNetTable2) -> NdisStatus;
    pub fn FreeMibTable(memory: *mut c_void);
    /// Sends ARP or neighbour solicitation for `row.address` on the
    /// interface `row.interface_luid` names and waits for the answer.
    pub fn ResolveIpNetEntry2(
        row: *mut MibIpNetRow2,
        source_address: *const SockaddrInet,
    ) -> NdisStatus;
    /// Change notifications; the callbacks of one registration are
    /// serialized. `CancelMibChangeNotify2` ends one.
    pub fn NotifyUnicastIpAddressChange(
        family: u16,
        callback: MibChangeCallback,
        caller_context: *mut c_void,
        initial_notification: u8,
        notification_handle: *mut NdisHandle,
    ) -> NdisStatus;
    pub fn NotifyRouteChange2(
        family: u16,
        callback: MibChangeCallback,
        caller_context: *mut c_void,
        initial_notification: u8,
        notification_handle: *mut NdisHandle,
    ) -> NdisStatus;
    pub fn NotifyIpInterfaceChange(
        family: u16,
        callback: MibChangeCallback,
        caller_context: *mut c_void,
        initial_notification: u8,
        notification_handle: *mut NdisHandle,
    ) -> NdisStatus;
    pub fn CancelMibChangeNotify2(notification_handle: NdisHandle) -> NdisStatus;
}

#[link(name = "hal")]
unsafe extern "system" {
    /// Returns the counter; stores its frequency (ticks/s) when asked.
    pub fn KeQueryPerformanceCounter(performance_frequency: *mut i64) -> i64;
    /// Stores the system time: 100-ns intervals since 1601, UTC.
    pub fn KeQuerySystemTimePrecise(current_time: *mut i64);
}

/// `KeRaiseIrql`: the previous IRQL, to hand back to `KeLowerIrql`.
///
/// # Safety
/// `new_irql` must not be below the current IRQL.
pub unsafe fn ke_raise_irql(new_irql: Kirql) -> Kirql {
    // SAFETY: the caller keeps the IRQL monotonic as KfRaiseIrql requires.
    unsafe { KfRaiseIrql(new_irql) }
}

/// `IoCompleteRequest`.
///
/// # Safety
/// The caller owns `irp` (not queued, not completed) and has set its
/// `io_status`; the IRP must not be touched afterwards.
pub unsafe fn io_complete_request(irp: *mut Irp, priority_boost: i8) {
    // SAFETY: ownership of the IRP passes to the I/O manager as required.
    unsafe { IofCompleteRequest(irp, priority_boost) }
}

/// `IoGetCurrentIrpStackLocation`: our stack location in an IRP we received.
///
/// # Safety
/// `irp` points to a live IRP dispatched to this driver.
pub unsafe fn io_get_current_irp_stack_location(irp: *mut Irp) -> *mut IoStackLocation {
    // SAFETY: the I/O manager sets Tail.Overlay.CurrentStackLocation before
    // dispatching; the caller guarantees `irp` is live.
    unsafe { (*irp).tail_current_stack_location }
}

/// `IoMarkIrpPending`.
///
/// # Safety
/// `irp` points to a live IRP dispatched to this driver.
pub unsafe fn io_mark_irp_pending(irp: *mut Irp) {
    // SAFETY: our stack location is valid while we own the IRP.
    unsafe { (*io_get_current_irp_stack_location(irp)).control |= SL_PENDING_RETURNED }
}

/// `MmGetSystemAddressForMdlSafe`: a system address for the MDL's buffer,
/// mapping it if it is not mapped yet; null when the mapping fails.
///
/// # Safety
/// `mdl` describes locked pages (or nonpaged pool) and the caller is at
/// IRQL <= DISPATCH_LEVEL.
pub unsafe fn mm_get_system_address_for_mdl_safe(mdl: *mut Mdl, priority: u32) -> *mut c_void {
    // SAFETY: the caller guarantees `mdl` is valid; reading its flags and
    // mapping is what the header's inline function does.
    unsafe {
        if (*mdl).mdl_flags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) != 0 {
            (*mdl).mapped_system_va
        } else {
            MmMapLockedPagesSpecifyCache(
                mdl,
                KERNEL_MODE,
                MM_CACHED,
                core::ptr::null_mut(),
                0,
                priority,
            )
        }
    }
}
