//! `#[repr(C)]` data layouts of the NDIS 6.30 / WDM interfaces a Hyper-V
//! forwarding extension uses, written by hand from Microsoft's definitions.
//!
//! Only data lives here (no extern functions, no `unsafe`), with explicit
//! widths (`u32` for ULONG, pointers for handles), so the layouts are the same
//! on Windows x64 and on a Linux x86_64 host: `tests/ndis_layout.rs` includes
//! this file and checks every size and offset on the host, `layout.rs` checks
//! them again at compile time for the Windows target. The offsets and where
//! they come from are listed in `layout.rs`.
//!
//! Definitions follow the WDK 10 `ndis.h` / `wdm.h` as compiled for an NDIS
//! 6.30 filter on AMD64 (`NDIS630=1`). Names keep the C spelling for
//! constants and a Rust spelling for types and fields; each type names its C
//! counterpart.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

/// `NDIS_HANDLE`, `NDIS_SWITCH_CONTEXT`: opaque pointers owned by NDIS.
pub type NdisHandle = *mut c_void;
/// `NDIS_PORT_NUMBER`.
pub type NdisPortNumber = u32;
/// `NDIS_DEFAULT_PORT_NUMBER`.
pub const NDIS_DEFAULT_PORT_NUMBER: NdisPortNumber = 0;
/// `NDIS_OID`.
pub type NdisOid = u32;
/// `NDIS_SWITCH_PORT_ID`.
pub type SwitchPortId = u32;
/// `NDIS_SWITCH_NIC_INDEX`.
pub type SwitchNicIndex = u16;
/// `KIRQL`.
pub type Kirql = u8;

/// `NDIS_STATUS` (an NTSTATUS value; the C type is a 32-bit int).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdisStatus(pub u32);

impl NdisStatus {
    pub const SUCCESS: Self = Self(0x0000_0000);
    pub const PENDING: Self = Self(0x0000_0103);
    pub const NOT_RECOGNIZED: Self = Self(0x0001_0001);
    pub const NOT_ACCEPTED: Self = Self(0x0001_0003);
    pub const FAILURE: Self = Self(0xC000_0001);
    pub const INVALID_PARAMETER: Self = Self(0xC000_000D);
    pub const RESOURCES: Self = Self(0xC000_009A);
    pub const NOT_SUPPORTED: Self = Self(0xC000_00BB);
    pub const INVALID_STATE: Self = Self(0xC000_0184);
    pub const DATA_NOT_ACCEPTED: Self = Self(0xC000_021B);
    pub const CLOSING: Self = Self(0xC001_0002);
    pub const REQUEST_ABORTED: Self = Self(0xC001_000C);
    pub const ADAPTER_NOT_READY: Self = Self(0xC001_0011);
    pub const INVALID_LENGTH: Self = Self(0xC001_0014);
    pub const INVALID_DATA: Self = Self(0xC001_0015);
    pub const BUFFER_TOO_SHORT: Self = Self(0xC001_0016);
    pub const INVALID_OID: Self = Self(0xC001_0017);
    /// `STATUS_NDIS_REQUEST_ABORTED`, which `NDIS_STATUS_SEND_ABORTED` is.
    pub const SEND_ABORTED: Self = Self(0xC023_000C);
    pub const PAUSED: Self = Self(0xC023_002A);
    pub const LOW_POWER_STATE: Self = Self(0xC023_002F);

    /// `NT_SUCCESS`: severity is success or informational.
    pub const fn is_success(self) -> bool {
        self.0 < 0x8000_0000
    }
}

/// `UNICODE_STRING` / `NDIS_STRING`: lengths in bytes, no terminator needed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UnicodeString {
    pub length: u16,
    pub maximum_length: u16,
    pub buffer: *mut u16,
}

/// `GUID`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guid {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

/// `LIST_ENTRY`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ListEntry {
    pub flink: *mut ListEntry,
    pub blink: *mut ListEntry,
}

/// `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)` on x64: 16 bytes.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct Aligned16<T>(pub T);

/// `NDIS_OBJECT_HEADER`: heads every versioned NDIS structure.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NdisObjectHeader {
    pub object_type: u8,
    pub revision: u8,
    pub size: u16,
}

impl NdisObjectHeader {
    pub const fn new(object_type: u8, revision: u8, size: u16) -> Self {
        Self {
            object_type,
            revision,
            size,
        }
    }
}

// NDIS_OBJECT_TYPE_* (ntddndis.h).
pub const NDIS_OBJECT_TYPE_DEFAULT: u8 = 0x80;
pub const NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES: u8 = 0x85;
pub const NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS: u8 = 0x8b;
pub const NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES: u8 = 0x8d;
pub const NDIS_OBJECT_TYPE_OID_REQUEST: u8 = 0x96;
pub const NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: u8 = 0x97;
pub const NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS: u8 = 0x99;
pub const NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS: u8 = 0x9a;
pub const NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS: u8 = 0x9b;
pub const NDIS_OBJECT_TYPE_SWITCH_OPTIONAL_HANDLERS: u8 = 0xb8;

/// The NDIS version the filter registers for (`NDIS_FILTER_MAJOR/MINOR_VERSION`
/// with `NDIS630=1`): the first with the Hyper-V extensible switch.
pub const NDIS_FILTER_MAJOR_VERSION: u8 = 6;
pub const NDIS_FILTER_MINOR_VERSION: u8 = 30;

/// `NdisMedium802_3` (`NDIS_MEDIUM`, ntddndis.h).
pub const NDIS_MEDIUM_802_3: u32 = 0;

// ---------------------------------------------------------------------------
// Filter driver registration and filter module life cycle.

/// `SET_OPTIONS_HANDLER`.
pub type SetOptionsHandler = unsafe extern "system" fn(NdisHandle, NdisHandle) -> NdisStatus;
/// `FILTER_SET_FILTER_MODULE_OPTIONS_HANDLER`.
pub type FilterSetModuleOptionsHandler = unsafe extern "system" fn(NdisHandle) -> NdisStatus;
/// `FILTER_ATTACH_HANDLER`.
pub type FilterAttachHandler = unsafe extern "system" fn(
    NdisHandle,
    NdisHandle,
    *mut NdisFilterAttachParameters,
) -> NdisStatus;
/// `FILTER_DETACH_HANDLER`.
pub type FilterDetachHandler = unsafe extern "system" fn(NdisHandle);
/// `FILTER_RESTART_HANDLER`.
pub type FilterRestartHandler =
    unsafe extern "system" fn(NdisHandle, *mut NdisFilterRestartParameters) -> NdisStatus;
/// `FILTER_PAUSE_HANDLER`.
pub type FilterPauseHandler =
    unsafe extern "system" fn(NdisHandle, *mut NdisFilterPauseParameters) -> NdisStatus;
/// `FILTER_SEND_NET_BUFFER_LISTS_HANDLER`.
pub type FilterSendNetBufferListsHandler =
    unsafe extern "system" fn(NdisHandle, *mut NetBufferList, NdisPortNumber, u32);
/// `FILTER_SEND_NET_BUFFER_LISTS_COMPLETE_HANDLER`.
pub type FilterSendNetBufferListsCompleteHandler =
    unsafe extern "system" fn(NdisHandle, *mut NetBufferList, u32);
/// `FILTER_CANCEL_SEND_HANDLER`.
pub type FilterCancelSendHandler = unsafe extern "system" fn(NdisHandle, *mut c_void);
/// `FILTER_RECEIVE_NET_BUFFER_LISTS_HANDLER`.
pub type FilterReceiveNetBufferListsHandler =
    unsafe extern "system" fn(NdisHandle, *mut NetBufferList, NdisPortNumber, u32, u32);
/// `FILTER_RETURN_NET_BUFFER_LISTS_HANDLER`.
pub type FilterReturnNetBufferListsHandler =
    unsafe extern "system" fn(NdisHandle, *mut NetBufferList, u32);
/// `FILTER_OID_REQUEST_HANDLER` (also the direct-OID handler type).
pub type FilterOidRequestHandler =
    unsafe extern "system" fn(NdisHandle, *mut NdisOidRequest) -> NdisStatus;
/// `FILTER_OID_REQUEST_COMPLETE_HANDLER` (also the direct-OID one).
pub type FilterOidRequestCompleteHandler =
    unsafe extern "system" fn(NdisHandle, *mut NdisOidRequest, NdisStatus);
/// `FILTER_CANCEL_OID_REQUEST_HANDLER` (also the direct-OID one).
pub type FilterCancelOidRequestHandler = unsafe extern "system" fn(NdisHandle, *mut c_void);
/// `FILTER_DEVICE_PNP_EVENT_NOTIFY_HANDLER` (the event is left opaque).
pub type FilterDevicePnpEventNotifyHandler = unsafe extern "system" fn(NdisHandle, *mut c_void);
/// `FILTER_NET_PNP_EVENT_HANDLER`.
pub type FilterNetPnpEventHandler =
    unsafe extern "system" fn(NdisHandle, *mut NetPnpEventNotification) -> NdisStatus;

/// `NET_PNP_EVENT_CODE` values the extension acts on.
pub const NET_EVENT_FILTER_PRE_DETACH: u32 = 15;
/// The switch finished activating: its ports and NICs can be enumerated.
pub const NET_EVENT_SWITCH_ACTIVATE: u32 = 17;

/// `NET_PNP_EVENT`.
#[repr(C)]
pub struct NetPnpEvent {
    pub net_event: u32,
    pub buffer: *mut c_void,
    pub buffer_length: u32,
    pub ndis_reserved: [usize; 4],
    pub transport_reserved: [usize; 4],
    pub tdi_reserved: [usize; 4],
    pub tdi_client_reserved: [usize; 4],
}

/// `NET_PNP_EVENT_NOTIFICATION`, revision 1 (NDIS 6.50 appends switch and
/// VPort ids after `flags`).
#[repr(C)]
pub struct NetPnpEventNotification {
    pub header: NdisObjectHeader,
    pub port_number: NdisPortNumber,
    pub net_pnp_event: NetPnpEvent,
    pub flags: u32,
}
/// `FILTER_STATUS_HANDLER` (the indication is left opaque).
pub type FilterStatusHandler = unsafe extern "system" fn(NdisHandle, *mut c_void);

pub const NDIS_FILTER_CHARACTERISTICS_REVISION_2: u8 = 2;
/// `NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2`: through
/// `CancelDirectOidRequestHandler`, the last field of the structure below.
pub const NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2: u16 =
    size_of::<NdisFilterDriverCharacteristics>() as u16;

/// `NDIS_FILTER_DRIVER_CHARACTERISTICS`, revision 2 (NDIS 6.1 and later;
/// revision 3 only appends the NDIS 6.80 synchronous-OID handlers). A `None`
/// handler tells NDIS to bypass the filter for that operation.
#[repr(C)]
pub struct NdisFilterDriverCharacteristics {
    pub header: NdisObjectHeader,
    pub major_ndis_version: u8,
    pub minor_ndis_version: u8,
    pub major_driver_version: u8,
    pub minor_driver_version: u8,
    pub flags: u32,
    pub friendly_name: UnicodeString,
    pub unique_name: UnicodeString,
    pub service_name: UnicodeString,
    pub set_options_handler: Option<SetOptionsHandler>,
    pub set_filter_module_options_handler: Option<FilterSetModuleOptionsHandler>,
    pub attach_handler: Option<FilterAttachHandler>,
    pub detach_handler: Option<FilterDetachHandler>,
    pub restart_handler: Option<FilterRestartHandler>,
    pub pause_handler: Option<FilterPauseHandler>,
    pub send_net_buffer_lists_handler: Option<FilterSendNetBufferListsHandler>,
    pub send_net_buffer_lists_complete_handler: Option<FilterSendNetBufferListsCompleteHandler>,
    pub cancel_send_net_buffer_lists_handler: Option<FilterCancelSendHandler>,
    pub receive_net_buffer_lists_handler: Option<FilterReceiveNetBufferListsHandler>,
    pub return_net_buffer_lists_handler: Option<FilterReturnNetBufferListsHandler>,
    pub oid_request_handler: Option<FilterOidRequestHandler>,
    pub oid_request_complete_handler: Option<FilterOidRequestCompleteHandler>,
    pub cancel_oid_request_handler: Option<FilterCancelOidRequestHandler>,
    pub device_pnp_event_notify_handler: Option<FilterDevicePnpEventNotifyHandler>,
    pub net_pnp_event_handler: Option<FilterNetPnpEventHandler>,
    pub status_handler: Option<FilterStatusHandler>,
    pub direct_oid_request_handler: Option<FilterOidRequestHandler>,
    pub direct_oid_request_complete_handler: Option<FilterOidRequestCompleteHandler>,
    pub cancel_direct_oid_request_handler: Option<FilterCancelOidRequestHandler>,
}

pub const NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4: u8 = 4;
pub const NDIS_MAX_PHYS_ADDRESS_LENGTH: usize = 32;

/// `NDIS_FILTER_ATTACH_PARAMETERS` up to revision 4 (NDIS 6.30). NDIS owns
/// it; check `header.revision` before reading past `flags` (revision 1).
#[repr(C)]
pub struct NdisFilterAttachParameters {
    pub header: NdisObjectHeader,
    pub if_index: u32,
    pub net_luid: u64,
    pub filter_module_guid_name: *mut UnicodeString,
    pub base_miniport_if_index: u32,
    pub base_miniport_instance_name: *mut UnicodeString,
    pub base_miniport_name: *mut UnicodeString,
    pub media_connect_state: u32,
    pub media_duplex_state: u32,
    pub xmit_link_speed: u64,
    pub rcv_link_speed: u64,
    pub miniport_media_type: u32,
    pub miniport_physical_media_type: u32,
    pub miniport_media_specific_attributes: NdisHandle,
    pub default_offload_configuration: *mut c_void,
    pub mac_address_length: u16,
    pub current_mac_address: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub base_miniport_net_luid: u64,
    pub lower_if_index: u32,
    pub lower_if_net_luid: u64,
    pub flags: u32,
    pub hd_split_current_config: *mut c_void,
    pub receive_filter_capabilities: *mut c_void,
    pub miniport_physical_device_object: *mut DeviceObject,
    pub nic_switch_capabilities: *mut c_void,
    pub base_miniport_if_connector_present: u8,
    pub sriov_capabilities: *mut c_void,
    pub nic_switch_array: *mut c_void,
}

/// `NDIS_FILTER_RESTART_PARAMETERS`.
#[repr(C)]
pub struct NdisFilterRestartParameters {
    pub header: NdisObjectHeader,
    pub miniport_media_type: u32,
    pub miniport_physical_media_type: u32,
    pub restart_attributes: *mut c_void,
    pub lower_if_index: u32,
    pub lower_if_net_luid: u64,
    pub flags: u32,
}

/// `NDIS_FILTER_PAUSE_PARAMETERS`.
#[repr(C)]
pub struct NdisFilterPauseParameters {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub pause_reason: u32,
}

pub const NDIS_FILTER_ATTRIBUTES_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1: u16 = size_of::<NdisFilterAttributes>() as u16;

/// `NDIS_FILTER_ATTRIBUTES`, passed to `NdisFSetAttributes` from attach.
#[repr(C)]
pub struct NdisFilterAttributes {
    pub header: NdisObjectHeader,
    pub flags: u32,
}

// ---------------------------------------------------------------------------
// OID requests.

/// `NDIS_REQUEST_TYPE` values.
pub const NDIS_REQUEST_QUERY_INFORMATION: u32 = 0;
pub const NDIS_REQUEST_SET_INFORMATION: u32 = 1;
pub const NDIS_REQUEST_QUERY_STATISTICS: u32 = 2;
pub const NDIS_REQUEST_METHOD: u32 = 12;

pub const NDIS_OID_REQUEST_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_OID_REQUEST_REVISION_1`: through `Reserved2`.
pub const NDIS_SIZEOF_OID_REQUEST_REVISION_1: u16 =
    (offset_of!(NdisOidRequest, reserved2) + size_of::<u16>()) as u16;

/// `DATA.QUERY_INFORMATION`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OidQueryInformation {
    pub oid: NdisOid,
    pub information_buffer: *mut c_void,
    pub information_buffer_length: u32,
    pub bytes_written: u32,
    pub bytes_needed: u32,
}

/// `DATA.SET_INFORMATION`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OidSetInformation {
    pub oid: NdisOid,
    pub information_buffer: *mut c_void,
    pub information_buffer_length: u32,
    pub bytes_read: u32,
    pub bytes_needed: u32,
}

/// `DATA.METHOD_INFORMATION`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OidMethodInformation {
    pub oid: NdisOid,
    pub information_buffer: *mut c_void,
    pub input_buffer_length: u32,
    pub output_buffer_length: u32,
    pub method_id: u32,
    pub bytes_written: u32,
    pub bytes_read: u32,
    pub bytes_needed: u32,
}

/// `union _REQUEST_DATA`: which member is live follows `request_type`; the
/// OID itself is at the same place in all three.
#[repr(C)]
#[derive(Clone, Copy)]
pub union OidRequestData {
    pub query: OidQueryInformation,
    pub set: OidSetInformation,
    pub method: OidMethodInformation,
}

/// `NDIS_OID_REQUEST` as an NDIS 6.30 driver sees it (revision 1; revision 2,
/// NDIS 6.50, appends SwitchId/VPortId/Flags from 0xEC on).
#[repr(C)]
pub struct NdisOidRequest {
    pub header: NdisObjectHeader,
    pub request_type: u32,
    pub port_number: NdisPortNumber,
    pub timeout: u32,
    pub request_id: *mut c_void,
    pub request_handle: NdisHandle,
    pub data: OidRequestData,
    pub ndis_reserved: [u8; 16 * size_of::<usize>()],
    pub miniport_reserved: [u8; 2 * size_of::<usize>()],
    /// Owned by whoever issued the request; a filter keeps the original
    /// request of a clone here.
    pub source_reserved: [u8; 2 * size_of::<usize>()],
    pub supported_revision: u8,
    pub reserved1: u8,
    pub reserved2: u16,
}

impl NdisOidRequest {
    /// A query of `oid` into `buffer` (`length` bytes), as a driver issues
    /// it: revision 1 header, default port, no timeout.
    pub const fn query(oid: NdisOid, buffer: *mut c_void, length: u32) -> NdisOidRequest {
        NdisOidRequest {
            header: NdisObjectHeader::new(
                NDIS_OBJECT_TYPE_OID_REQUEST,
                NDIS_OID_REQUEST_REVISION_1,
                NDIS_SIZEOF_OID_REQUEST_REVISION_1,
            ),
            request_type: NDIS_REQUEST_QUERY_INFORMATION,
            port_number: 0,
            timeout: 0,
            request_id: core::ptr::null_mut(),
            request_handle: core::ptr::null_mut(),
            // Written through the largest member so every byte of the
            // union is set; it reads back as QUERY_INFORMATION.
            data: OidRequestData {
                method: OidMethodInformation {
                    oid,
                    information_buffer: buffer,
                    input_buffer_length: length,
                    output_buffer_length: 0,
                    method_id: 0,
                    bytes_written: 0,
                    bytes_read: 0,
                    bytes_needed: 0,
                },
            },
            ndis_reserved: [0; 16 * size_of::<usize>()],
            miniport_reserved: [0; 2 * size_of::<usize>()],
            source_reserved: [0; 2 * size_of::<usize>()],
            supported_revision: 0,
            reserved1: 0,
            reserved2: 0,
        }
    }
}

// OID_SWITCH_* (ntddndis.h).
pub const OID_SWITCH_PROPERTY_ADD: NdisOid = 0x0001_0263;
pub const OID_SWITCH_PROPERTY_UPDATE: NdisOid = 0x0001_0264;
pub const OID_SWITCH_PROPERTY_DELETE: NdisOid = 0x0001_0265;
pub const OID_SWITCH_PROPERTY_ENUM: NdisOid = 0x0001_0266;
pub const OID_SWITCH_FEATURE_STATUS_QUERY: NdisOid = 0x0001_0267;
pub const OID_SWITCH_NIC_REQUEST: NdisOid = 0x0001_0270;
pub const OID_SWITCH_PORT_PROPERTY_ADD: NdisOid = 0x0001_0271;
pub const OID_SWITCH_PORT_PROPERTY_UPDATE: NdisOid = 0x0001_0272;
pub const OID_SWITCH_PORT_PROPERTY_DELETE: NdisOid = 0x0001_0273;
pub const OID_SWITCH_PORT_PROPERTY_ENUM: NdisOid = 0x0001_0274;
pub const OID_SWITCH_PARAMETERS: NdisOid = 0x0001_0275;
pub const OID_SWITCH_PORT_ARRAY: NdisOid = 0x0001_0276;
pub const OID_SWITCH_NIC_ARRAY: NdisOid = 0x0001_0277;
pub const OID_SWITCH_PORT_CREATE: NdisOid = 0x0001_0278;
pub const OID_SWITCH_PORT_DELETE: NdisOid = 0x0001_0279;
pub const OID_SWITCH_NIC_CREATE: NdisOid = 0x0001_027a;
pub const OID_SWITCH_NIC_CONNECT: NdisOid = 0x0001_027b;
pub const OID_SWITCH_NIC_DISCONNECT: NdisOid = 0x0001_027c;
pub const OID_SWITCH_NIC_DELETE: NdisOid = 0x0001_027d;
pub const OID_SWITCH_PORT_FEATURE_STATUS_QUERY: NdisOid = 0x0001_027e;
pub const OID_SWITCH_PORT_TEARDOWN: NdisOid = 0x0001_027f;
pub const OID_SWITCH_NIC_SAVE: NdisOid = 0x0001_0290;
pub const OID_SWITCH_NIC_SAVE_COMPLETE: NdisOid = 0x0001_0291;
pub const OID_SWITCH_NIC_RESTORE: NdisOid = 0x0001_0292;
pub const OID_SWITCH_NIC_RESTORE_COMPLETE: NdisOid = 0x0001_0293;
pub const OID_SWITCH_NIC_UPDATED: NdisOid = 0x0001_0294;
pub const OID_SWITCH_PORT_UPDATED: NdisOid = 0x0001_0295;

// ---------------------------------------------------------------------------
// Hyper-V extensible switch OID payloads (ntddndis.h).

/// `IF_MAX_STRING_SIZE`.
pub const IF_MAX_STRING_SIZE: usize = 256;

/// `IF_COUNTED_STRING` (`NDIS_IF_COUNTED_STRING`): switch, port, NIC and VM
/// names. `length` is in bytes, the string is not terminated.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IfCountedString {
    pub length: u16,
    pub string: [u16; IF_MAX_STRING_SIZE + 1],
}

pub const NDIS_SWITCH_PARAMETERS_REVISION_1: u8 = 1;
pub const NDIS_SWITCH_PORT_PARAMETERS_REVISION_1: u8 = 1;
pub const NDIS_SWITCH_PORT_ARRAY_REVISION_1: u8 = 1;
pub const NDIS_SWITCH_NIC_PARAMETERS_REVISION_1: u8 = 1;
pub const NDIS_SWITCH_NIC_ARRAY_REVISION_1: u8 = 1;
pub const NDIS_SWITCH_NIC_OID_REQUEST_REVISION_1: u8 = 1;
pub const NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1: u8 = 1;

/// `NDIS_SWITCH_PARAMETERS` (`OID_SWITCH_PARAMETERS`).
#[repr(C)]
pub struct NdisSwitchParameters {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub switch_name: IfCountedString,
    pub switch_friendly_name: IfCountedString,
    pub num_switch_ports: u32,
    pub is_active: u8,
}

// NDIS_SWITCH_PORT_TYPE.
pub const NDIS_SWITCH_PORT_TYPE_GENERIC: u32 = 0;
pub const NDIS_SWITCH_PORT_TYPE_EXTERNAL: u32 = 1;
pub const NDIS_SWITCH_PORT_TYPE_SYNTHETIC: u32 = 2;
pub const NDIS_SWITCH_PORT_TYPE_EMULATED: u32 = 3;
pub const NDIS_SWITCH_PORT_TYPE_INTERNAL: u32 = 4;

// NDIS_SWITCH_PORT_STATE.
pub const NDIS_SWITCH_PORT_STATE_UNKNOWN: u32 = 0;
pub const NDIS_SWITCH_PORT_STATE_CREATED: u32 = 1;
pub const NDIS_SWITCH_PORT_STATE_TEARDOWN: u32 = 2;
pub const NDIS_SWITCH_PORT_STATE_DELETED: u32 = 3;

/// `NDIS_SWITCH_PORT_PARAMETERS` (port create/update/teardown/delete and
/// the elements of `NDIS_SWITCH_PORT_ARRAY`).
#[repr(C)]
pub struct NdisSwitchPortParameters {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub port_id: SwitchPortId,
    pub port_name: IfCountedString,
    pub port_friendly_name: IfCountedString,
    pub port_type: u32,
    pub is_validation_port: u8,
    pub port_state: u32,
}

/// `NDIS_SWITCH_PORT_ARRAY` (`OID_SWITCH_PORT_ARRAY`); element `i` starts at
/// `first_element_offset + i * element_size` from the array.
#[repr(C)]
pub struct NdisSwitchPortArray {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub first_element_offset: u16,
    pub num_elements: u32,
    pub element_size: u32,
}

// NDIS_SWITCH_NIC_TYPE.
pub const NDIS_SWITCH_NIC_TYPE_EXTERNAL: u32 = 0;
pub const NDIS_SWITCH_NIC_TYPE_SYNTHETIC: u32 = 1;
pub const NDIS_SWITCH_NIC_TYPE_EMULATED: u32 = 2;
pub const NDIS_SWITCH_NIC_TYPE_INTERNAL: u32 = 3;

// NDIS_SWITCH_NIC_STATE.
pub const NDIS_SWITCH_NIC_STATE_UNKNOWN: u32 = 0;
pub const NDIS_SWITCH_NIC_STATE_CREATED: u32 = 1;
pub const NDIS_SWITCH_NIC_STATE_CONNECTED: u32 = 2;
pub const NDIS_SWITCH_NIC_STATE_DISCONNECTED: u32 = 3;
pub const NDIS_SWITCH_NIC_STATE_DELETED: u32 = 4;

/// `NDIS_SWITCH_NIC_PARAMETERS`, revision 1 (through `VFAssigned`).
#[repr(C)]
pub struct NdisSwitchNicParameters {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub nic_name: IfCountedString,
    pub nic_friendly_name: IfCountedString,
    pub port_id: SwitchPortId,
    pub nic_index: SwitchNicIndex,
    pub nic_type: u32,
    pub nic_state: u32,
    pub vm_name: IfCountedString,
    pub vm_friendly_name: IfCountedString,
    pub net_cfg_instance_id: Guid,
    pub mtu: u32,
    pub numa_node_id: u16,
    pub permanent_mac_address: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub vm_mac_address: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub current_mac_address: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub vf_assigned: u8,
}

/// `NDIS_SWITCH_NIC_ARRAY` (`OID_SWITCH_NIC_ARRAY`), laid out like the port
/// array.
#[repr(C)]
pub struct NdisSwitchNicArray {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub first_element_offset: u16,
    pub num_elements: u32,
    pub element_size: u32,
}

/// `NDIS_SWITCH_NIC_OID_REQUEST` (`OID_SWITCH_NIC_REQUEST`): an OID request
/// travelling between a switch NIC and the external adapter.
#[repr(C)]
pub struct NdisSwitchNicOidRequest {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub source_port_id: SwitchPortId,
    pub source_nic_index: SwitchNicIndex,
    pub destination_port_id: SwitchPortId,
    pub destination_nic_index: SwitchNicIndex,
    pub oid_request: *mut NdisOidRequest,
}

// NDIS_SWITCH_PORT_PROPERTY_TYPE.
pub const NDIS_SWITCH_PORT_PROPERTY_TYPE_CUSTOM: u32 = 1;
pub const NDIS_SWITCH_PORT_PROPERTY_TYPE_SECURITY: u32 = 2;
/// `NdisSwitchPortPropertyTypeVlan`: the property a forwarding extension
/// that does not enforce VLAN policy must veto.
pub const NDIS_SWITCH_PORT_PROPERTY_TYPE_VLAN: u32 = 3;
pub const NDIS_SWITCH_PORT_PROPERTY_TYPE_PROFILE: u32 = 4;

/// `NDIS_SWITCH_PORT_PROPERTY_DELETE_PARAMETERS`
/// (`OID_SWITCH_PORT_PROPERTY_DELETE`).
#[repr(C)]
pub struct NdisSwitchPortPropertyDeleteParameters {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub port_id: SwitchPortId,
    pub property_type: u32,
    pub property_id: Guid,
    pub property_instance_id: Guid,
}

/// `OID_NIC_SWITCH_ALLOCATE_VF`: SR-IOV, refused inside
/// `OID_SWITCH_NIC_REQUEST`.
pub const OID_NIC_SWITCH_ALLOCATE_VF: NdisOid = 0x0001_0245;

// NDIS_SIZEOF_*_REVISION_1 of the switch payloads (through the last field).
pub const NDIS_SIZEOF_NDIS_SWITCH_PARAMETERS_REVISION_1: u16 =
    (offset_of!(NdisSwitchParameters, is_active) + 1) as u16;
pub const NDIS_SIZEOF_NDIS_SWITCH_PORT_PARAMETERS_REVISION_1: u16 =
    (offset_of!(NdisSwitchPortParameters, port_state) + 4) as u16;
pub const NDIS_SIZEOF_NDIS_SWITCH_PORT_ARRAY_REVISION_1: u16 =
    (offset_of!(NdisSwitchPortArray, element_size) + 4) as u16;
pub const NDIS_SIZEOF_NDIS_SWITCH_NIC_PARAMETERS_REVISION_1: u16 =
    (offset_of!(NdisSwitchNicParameters, vf_assigned) + 1) as u16;
pub const NDIS_SIZEOF_NDIS_SWITCH_NIC_ARRAY_REVISION_1: u16 =
    (offset_of!(NdisSwitchNicArray, element_size) + 4) as u16;
pub const NDIS_SIZEOF_NDIS_SWITCH_NIC_OID_REQUEST_REVISION_1: u16 =
    size_of::<NdisSwitchNicOidRequest>() as u16;
pub const NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1: u16 =
    size_of::<NdisSwitchPortPropertyParameters>() as u16;
pub const NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_DELETE_PARAMETERS_REVISION_1: u16 =
    size_of::<NdisSwitchPortPropertyDeleteParameters>() as u16;

/// `NDIS_SWITCH_PORT_PROPERTY_PARAMETERS`
/// (`OID_SWITCH_PORT_PROPERTY_ADD/UPDATE`); the property itself starts
/// `property_buffer_offset` bytes from the structure.
#[repr(C)]
pub struct NdisSwitchPortPropertyParameters {
    pub header: NdisObjectHeader,
    pub flags: u32,
    pub port_id: SwitchPortId,
    pub property_type: u32,
    pub property_id: Guid,
    pub property_version: u16,
    pub serialization_version: u16,
    pub property_instance_id: Guid,
    pub property_buffer_length: u32,
    pub property_buffer_offset: u32,
    pub reserved: u32,
}

// ---------------------------------------------------------------------------
// Extensible switch data path (ndis.h).

/// `NDIS_SWITCH_PORT_DESTINATION`: bit 0 of `flags` is IsExcluded, bit 1
/// PreserveVLAN, bit 2 PreservePriority (USHORT bit fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NdisSwitchPortDestination {
    pub port_id: SwitchPortId,
    pub nic_index: SwitchNicIndex,
    pub flags: u16,
}

impl NdisSwitchPortDestination {
    pub const IS_EXCLUDED: u16 = 1 << 0;
    pub const PRESERVE_VLAN: u16 = 1 << 1;
    pub const PRESERVE_PRIORITY: u16 = 1 << 2;
}

pub const NDIS_SWITCH_FORWARDING_DESTINATION_ARRAY_REVISION_1: u8 = 1;

/// `NDIS_SWITCH_FORWARDING_DESTINATION_ARRAY`: element `i` is at
/// `first_element + i * element_size`.
#[repr(C)]
pub struct NdisSwitchForwardingDestinationArray {
    pub header: NdisObjectHeader,
    pub element_size: u32,
    pub num_elements: u32,
    pub num_destinations: u32,
    pub first_element: *mut c_void,
}

/// `NDIS_SWITCH_DEFAULT_PORT_ID` / `NDIS_SWITCH_DEFAULT_NIC_INDEX`.
pub const NDIS_SWITCH_DEFAULT_PORT_ID: SwitchPortId = 0;
pub const NDIS_SWITCH_DEFAULT_NIC_INDEX: SwitchNicIndex = 0;

/// `NDIS_SWITCH_FORWARDING_DETAIL_NET_BUFFER_LIST_INFO`: a UINT64 of bit
/// fields stored in `NetBufferListInfo[SwitchForwardingDetail]`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchForwardingDetail(pub u64);

impl SwitchForwardingDetail {
    /// Unused destination slots (bits 0..16).
    pub const fn num_available_destinations(self) -> u16 {
        self.0 as u16
    }
    /// Port the packet came from (bits 16..32).
    pub const fn source_port_id(self) -> SwitchPortId {
        (self.0 >> 16) as u16 as SwitchPortId
    }
    /// NIC index on the source port (bits 32..40).
    pub const fn source_nic_index(self) -> SwitchNicIndex {
        (self.0 >> 32) as u8 as SwitchNicIndex
    }
    /// NDIS 6.40: the built-in switch must forward this packet (HNV); bit 40.
    pub const fn native_forwarding_required(self) -> bool {
        self.0 & (1 << 40) != 0
    }
    /// The whole packet is in trusted host memory (bit 42).
    pub const fn is_packet_data_safe(self) -> bool {
        self.0 & (1 << 42) != 0
    }
    /// Bytes from the start that are in trusted memory (bits 43..55).
    pub const fn safe_packet_data_size(self) -> u16 {
        ((self.0 >> 43) & 0xfff) as u16
    }
    /// The same detail for a packet whose data the extension copied into
    /// its own memory.
    pub const fn with_packet_data_safe(self) -> Self {
        Self(self.0 | (1 << 42))
    }
}

/// `NDIS_SWITCH_OPTIONAL_HANDLERS` as the WDK 10 header declares it for an
/// NDIS 6.30 build. Revision 1 ends at `report_filtered_net_buffer_lists`:
/// NDIS fills the two switch-context handlers only when the header
/// announces a later revision.
#[repr(C)]
pub struct NdisSwitchOptionalHandlers {
    pub header: NdisObjectHeader,
    pub allocate_net_buffer_list_forwarding_context:
        Option<unsafe extern "system" fn(NdisHandle, *mut NetBufferList) -> NdisStatus>,
    pub free_net_buffer_list_forwarding_context:
        Option<unsafe extern "system" fn(NdisHandle, *mut NetBufferList)>,
    pub set_net_buffer_list_source: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *mut NetBufferList,
            SwitchPortId,
            SwitchNicIndex,
        ) -> NdisStatus,
    >,
    pub add_net_buffer_list_destination: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *mut NetBufferList,
            *mut NdisSwitchPortDestination,
        ) -> NdisStatus,
    >,
    pub grow_net_buffer_list_destinations: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *mut NetBufferList,
            u32,
            *mut *mut NdisSwitchForwardingDestinationArray,
        ) -> NdisStatus,
    >,
    pub get_net_buffer_list_destinations: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *mut NetBufferList,
            *mut *mut NdisSwitchForwardingDestinationArray,
        ),
    >,
    pub update_net_buffer_list_destinations: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *mut NetBufferList,
            u32,
            *mut NdisSwitchForwardingDestinationArray,
        ) -> NdisStatus,
    >,
    pub copy_net_buffer_list_info: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *mut NetBufferList,
            *mut NetBufferList,
            u32,
        ) -> NdisStatus,
    >,
    pub reference_switch_nic:
        Option<unsafe extern "system" fn(NdisHandle, SwitchPortId, SwitchNicIndex) -> NdisStatus>,
    pub dereference_switch_nic:
        Option<unsafe extern "system" fn(NdisHandle, SwitchPortId, SwitchNicIndex) -> NdisStatus>,
    pub reference_switch_port:
        Option<unsafe extern "system" fn(NdisHandle, SwitchPortId) -> NdisStatus>,
    pub dereference_switch_port:
        Option<unsafe extern "system" fn(NdisHandle, SwitchPortId) -> NdisStatus>,
    /// Arguments: switch context, extension GUID and friendly name (as
    /// `UNICODE_STRING`s), port, flags, NBL count, NBL chain, reason.
    pub report_filtered_net_buffer_lists: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *const UnicodeString,
            *const UnicodeString,
            SwitchPortId,
            u32,
            u32,
            *mut NetBufferList,
            *const UnicodeString,
        ),
    >,
    pub set_net_buffer_list_switch_context: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *mut NetBufferList,
            *mut c_void,
            *mut c_void,
        ) -> NdisStatus,
    >,
    pub get_net_buffer_list_switch_context: Option<
        unsafe extern "system" fn(NdisHandle, *mut NetBufferList, *mut c_void) -> *mut c_void,
    >,
}

pub const NDIS_SWITCH_OPTIONAL_HANDLERS_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_SWITCH_OPTIONAL_HANDLERS_REVISION_1`: through
/// `ReportFilteredNetBufferLists`.
pub const NDIS_SIZEOF_SWITCH_OPTIONAL_HANDLERS_REVISION_1: u16 =
    (offset_of!(NdisSwitchOptionalHandlers, report_filtered_net_buffer_lists) + size_of::<usize>())
        as u16;

impl NdisSwitchOptionalHandlers {
    /// An empty table announcing revision 1, for
    /// `NdisFGetOptionalSwitchHandlers` to fill.
    pub const fn revision_1() -> Self {
        Self {
            header: NdisObjectHeader::new(
                NDIS_OBJECT_TYPE_SWITCH_OPTIONAL_HANDLERS,
                NDIS_SWITCH_OPTIONAL_HANDLERS_REVISION_1,
                NDIS_SIZEOF_SWITCH_OPTIONAL_HANDLERS_REVISION_1,
            ),
            allocate_net_buffer_list_forwarding_context: None,
            free_net_buffer_list_forwarding_context: None,
            set_net_buffer_list_source: None,
            add_net_buffer_list_destination: None,
            grow_net_buffer_list_destinations: None,
            get_net_buffer_list_destinations: None,
            update_net_buffer_list_destinations: None,
            copy_net_buffer_list_info: None,
            reference_switch_nic: None,
            dereference_switch_nic: None,
            reference_switch_port: None,
            dereference_switch_port: None,
            report_filtered_net_buffer_lists: None,
            set_net_buffer_list_switch_context: None,
            get_net_buffer_list_switch_context: None,
        }
    }
}

/// `CopyNetBufferListInfo` flag: the destination ports are copied too.
pub const NDIS_SWITCH_COPY_NBL_INFO_FLAGS_PRESERVE_DESTINATIONS: u32 = 0x0000_0001;

/// The `ReportFilteredNetBufferLists` flag for packets dropped on ingress.
pub const NDIS_SWITCH_REPORT_FILTERED_NBL_FLAGS_IS_INCOMING: u32 = 0x0000_0001;

// ---------------------------------------------------------------------------
// NET_BUFFER_LIST, NET_BUFFER, MDL.

/// `NDIS_NET_BUFFER_LIST_INFO` indices into `NetBufferListInfo[]` for an
/// NDIS 6.30 driver on AMD64 (the enum is append-only).
pub const TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO: usize = 0;
pub const IPSEC_OFFLOAD_V1_NET_BUFFER_LIST_INFO: usize = 1;
pub const TCP_LARGE_SEND_NET_BUFFER_LIST_INFO: usize = 2;
pub const CLASSIFICATION_HANDLE_NET_BUFFER_LIST_INFO: usize = 3;
pub const IEEE_8021Q_NET_BUFFER_LIST_INFO: usize = 4;
pub const NET_BUFFER_LIST_CANCEL_ID: usize = 5;
pub const MEDIA_SPECIFIC_INFORMATION: usize = 6;
pub const NET_BUFFER_LIST_FRAME_TYPE: usize = 7;
pub const NET_BUFFER_LIST_HASH_VALUE: usize = 8;
pub const NET_BUFFER_LIST_HASH_INFO: usize = 9;
pub const WFP_NET_BUFFER_LIST_INFO: usize = 10;
pub const IPSEC_OFFLOAD_V2_TUNNEL_NET_BUFFER_LIST_INFO: usize = 11;
pub const IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO: usize = 12;
pub const NET_BUFFER_LIST_CORRELATION_ID: usize = 13;
pub const NET_BUFFER_LIST_FILTERING_INFO: usize = 14;
pub const MEDIA_SPECIFIC_INFORMATION_EX: usize = 15;
pub const NBL_ORIGINAL_INTERFACE_IF_INDEX: usize = 16;
pub const TCP_RECEIVE_BYTES_TRANSFERRED: usize = 17;
pub const SWITCH_FORWARDING_RESERVED: usize = 18;
pub const SWITCH_FORWARDING_DETAIL: usize = 19;
pub const VIRTUAL_SUBNET_INFO: usize = 20;
pub const IM_RESERVED: usize = 21;
pub const TCP_RECV_SEG_COALESCE_INFO: usize = 22;
pub const TCP_SEND_OFFLOADS_SUPPLEMENTAL_NET_BUFFER_LIST_INFO: usize = 23;
/// `MaxNetBufferListInfo` as a 6.30 driver sees it. NDIS's own allocations
/// are never smaller (Windows 8's ndis.sys uses 26 slots).
pub const MAX_NET_BUFFER_LIST_INFO: usize = 24;

/// `NET_BUFFER_LIST`. Allocated by NDIS only: we never rely on its size, and
/// read `net_buffer_list_info` only at the indices above.
#[repr(C, align(16))]
pub struct NetBufferList {
    /// `NET_BUFFER_LIST_DATA` (overlaid by an `SLIST_HEADER` NDIS uses).
    pub next: *mut NetBufferList,
    pub first_net_buffer: *mut NetBuffer,
    pub context: *mut NetBufferListContext,
    pub parent_net_buffer_list: *mut NetBufferList,
    pub ndis_pool_handle: NdisHandle,
    pub ndis_reserved: Aligned16<[*mut c_void; 2]>,
    pub protocol_reserved: Aligned16<[*mut c_void; 4]>,
    pub miniport_reserved: Aligned16<[*mut c_void; 2]>,
    pub scratch: *mut c_void,
    pub source_handle: NdisHandle,
    pub nbl_flags: u32,
    pub child_ref_count: i32,
    pub flags: u32,
    pub status: NdisStatus,
    pub net_buffer_list_info: [*mut c_void; MAX_NET_BUFFER_LIST_INFO],
}

impl NetBufferList {
    /// `NET_BUFFER_LIST_SWITCH_FORWARDING_DETAIL` (AMD64: one pointer-sized
    /// slot holds the whole UINT64).
    pub fn switch_forwarding_detail(&self) -> SwitchForwardingDetail {
        SwitchForwardingDetail(self.net_buffer_list_info[SWITCH_FORWARDING_DETAIL].addr() as u64)
    }

    pub fn set_switch_forwarding_detail(&mut self, detail: SwitchForwardingDetail) {
        self.net_buffer_list_info[SWITCH_FORWARDING_DETAIL] =
            core::ptr::without_provenance_mut(detail.0 as usize);
    }

    /// The 802.1Q tag NDIS carries out of band.
    pub fn ieee_8021q_info(&self) -> Ieee8021QInfo {
        Ieee8021QInfo(self.net_buffer_list_info[IEEE_8021Q_NET_BUFFER_LIST_INFO].addr())
    }

    pub fn set_ieee_8021q_info(&mut self, info: Ieee8021QInfo) {
        self.net_buffer_list_info[IEEE_8021Q_NET_BUFFER_LIST_INFO] =
            core::ptr::without_provenance_mut(info.0);
    }

    /// Checksum offload request (send) or result (receive).
    pub fn checksum_info(&self) -> ChecksumInfo {
        ChecksumInfo(self.net_buffer_list_info[TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO].addr())
    }

    pub fn set_checksum_info(&mut self, info: ChecksumInfo) {
        self.net_buffer_list_info[TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO] =
            core::ptr::without_provenance_mut(info.0);
    }

    /// Large send offload request.
    pub fn large_send_info(&self) -> LargeSendInfo {
        LargeSendInfo(self.net_buffer_list_info[TCP_LARGE_SEND_NET_BUFFER_LIST_INFO].addr())
    }

    pub fn set_large_send_info(&mut self, info: LargeSendInfo) {
        self.net_buffer_list_info[TCP_LARGE_SEND_NET_BUFFER_LIST_INFO] =
            core::ptr::without_provenance_mut(info.0);
    }
}

/// `NET_BUFFER_LIST_CONTEXT`; the context data starts right after it
/// (`ContextData` is 16-byte aligned), `offset` bytes in.
#[repr(C, align(16))]
pub struct NetBufferListContext {
    pub next: *mut NetBufferListContext,
    pub size: u16,
    pub offset: u16,
}

/// `NET_BUFFER_DATA`, the live member of the header union of `NET_BUFFER`
/// (16-byte aligned because the union also holds an `SLIST_HEADER`).
#[repr(C, align(16))]
pub struct NetBufferData {
    pub next: *mut NetBuffer,
    pub current_mdl: *mut Mdl,
    pub current_mdl_offset: u32,
    /// `NET_BUFFER_DATA_LENGTH`: the SIZE_T `stDataLength`; the ULONG
    /// `DataLength` is its low half.
    pub data_length: usize,
    pub mdl_chain: *mut Mdl,
    pub data_offset: u32,
}

impl NetBufferData {
    /// `NET_BUFFER_DATA_LENGTH`.
    pub const fn data_length(&self) -> u32 {
        self.data_length as u32
    }
}

/// `NET_BUFFER`: one frame of an NBL.
#[repr(C, align(16))]
pub struct NetBuffer {
    pub header: NetBufferData,
    pub checksum_bias: u16,
    pub reserved: u16,
    pub ndis_pool_handle: NdisHandle,
    pub ndis_reserved: Aligned16<[*mut c_void; 2]>,
    pub protocol_reserved: Aligned16<[*mut c_void; 6]>,
    pub miniport_reserved: Aligned16<[*mut c_void; 4]>,
    pub data_physical_address: i64,
    /// `SharedMemoryInfo` / `ScatterGatherList` union.
    pub shared_memory_info: *mut c_void,
}

// NBL flags the filter may test (NblFlags).
pub const NDIS_NBL_FLAGS_IS_IPV4: u32 = 0x0000_0200;
pub const NDIS_NBL_FLAGS_IS_IPV6: u32 = 0x0000_0400;

/// `NET_BUFFER_LIST_POOL_PARAMETERS` for `NdisAllocateNetBufferListPool`.
#[repr(C)]
pub struct NetBufferListPoolParameters {
    pub header: NdisObjectHeader,
    pub protocol_id: u8,
    pub f_allocate_net_buffer: u8,
    pub context_size: u16,
    pub pool_tag: u32,
    pub data_size: u32,
}

pub const NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: u16 =
    size_of::<NetBufferListPoolParameters>() as u16;
/// `NDIS_PROTOCOL_ID_DEFAULT`.
pub const NDIS_PROTOCOL_ID_DEFAULT: u8 = 0x00;

/// `NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS` for `NdisAllocateCloneNetBufferList`.
pub const NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS: u32 = 0x0000_0002;

/// `MDL`: describes the pages of a buffer.
#[repr(C)]
pub struct Mdl {
    pub next: *mut Mdl,
    pub size: i16,
    pub mdl_flags: i16,
    pub allocation_processor_number: u16,
    pub reserved: u16,
    pub process: *mut c_void,
    pub mapped_system_va: *mut c_void,
    pub start_va: *mut c_void,
    pub byte_count: u32,
    pub byte_offset: u32,
}

pub const MDL_MAPPED_TO_SYSTEM_VA: i16 = 0x0001;
pub const MDL_SOURCE_IS_NONPAGED_POOL: i16 = 0x0004;

// MM_PAGE_PRIORITY and mapping flags for MmMapLockedPagesSpecifyCache.
pub const LOW_PAGE_PRIORITY: u32 = 0;
pub const NORMAL_PAGE_PRIORITY: u32 = 16;
pub const HIGH_PAGE_PRIORITY: u32 = 32;
pub const MDL_MAPPING_NO_EXECUTE: u32 = 0x4000_0000;
/// `KernelMode` (`KPROCESSOR_MODE`).
pub const KERNEL_MODE: i8 = 0;
/// `MmCached` (`MEMORY_CACHING_TYPE`).
pub const MM_CACHED: u32 = 1;

// ---------------------------------------------------------------------------
// Out-of-band NBL information (pointer-sized bit fields, LSB first).

/// `NDIS_NET_BUFFER_LIST_8021Q_INFO` (`TagHeader` view).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ieee8021QInfo(pub usize);

impl Ieee8021QInfo {
    pub const fn new(user_priority: u8, vlan_id: u16) -> Self {
        Self((user_priority as usize & 0x7) | ((vlan_id as usize & 0xfff) << 4))
    }
    /// 802.1p priority (bits 0..3).
    pub const fn user_priority(self) -> u8 {
        (self.0 & 0x7) as u8
    }
    /// Canonical format indicator (bit 3), always 0 on Ethernet.
    pub const fn canonical_format_id(self) -> bool {
        self.0 & 0x8 != 0
    }
    /// VLAN id (bits 4..16).
    pub const fn vlan_id(self) -> u16 {
        ((self.0 >> 4) & 0xfff) as u16
    }
}

/// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumInfo(pub usize);

impl ChecksumInfo {
    // Transmit view.
    pub const TX_IS_IPV4: usize = 1 << 0;
    pub const TX_IS_IPV6: usize = 1 << 1;
    pub const TX_TCP_CHECKSUM: usize = 1 << 2;
    pub const TX_UDP_CHECKSUM: usize = 1 << 3;
    pub const TX_IP_HEADER_CHECKSUM: usize = 1 << 4;
    // Receive view.
    pub const RX_TCP_CHECKSUM_FAILED: usize = 1 << 0;
    pub const RX_UDP_CHECKSUM_FAILED: usize = 1 << 1;
    pub const RX_IP_CHECKSUM_FAILED: usize = 1 << 2;
    pub const RX_TCP_CHECKSUM_SUCCEEDED: usize = 1 << 3;
    pub const RX_UDP_CHECKSUM_SUCCEEDED: usize = 1 << 4;
    pub const RX_IP_CHECKSUM_SUCCEEDED: usize = 1 << 5;
    pub const RX_LOOPBACK: usize = 1 << 6;
    pub const RX_TCP_CHECKSUM_VALUE_INVALID: usize = 1 << 7;
    pub const RX_IP_CHECKSUM_VALUE_INVALID: usize = 1 << 8;

    pub const fn has(self, bit: usize) -> bool {
        self.0 & bit != 0
    }
    /// Transmit: offset of the TCP header from the frame start (bits 16..26).
    pub const fn tx_tcp_header_offset(self) -> u16 {
        ((self.0 >> 16) & 0x3ff) as u16
    }
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LargeSendInfo(pub usize);

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE` / `_V2_TYPE` (the `Type` bit).
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE: u8 = 0;
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE: u8 = 1;
/// `NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4` / `_IPv6` (LSOv2 `IPVersion` bit).
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_IPV4: u8 = 0;
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_IPV6: u8 = 1;

impl LargeSendInfo {
    /// Maximum segment size (bits 0..20); zero when no LSO is requested.
    pub const fn mss(self) -> u32 {
        (self.0 & 0xf_ffff) as u32
    }
    /// TCP header offset from the frame start (bits 20..30).
    pub const fn tcp_header_offset(self) -> u16 {
        ((self.0 >> 20) & 0x3ff) as u16
    }
    /// LSO version (bit 30).
    pub const fn lso_type(self) -> u8 {
        ((self.0 >> 30) & 1) as u8
    }
    /// LSOv2 IP version (bit 31).
    pub const fn ip_version(self) -> u8 {
        ((self.0 >> 31) & 1) as u8
    }
    /// Send completion of LSOv1: payload bytes sent (bits 0..30).
    pub const fn tcp_payload(self) -> u32 {
        (self.0 & 0x3fff_ffff) as u32
    }
}

// ---------------------------------------------------------------------------
// Send, receive and return flags (ndis.h).

pub const NDIS_SEND_FLAGS_DISPATCH_LEVEL: u32 = 0x0000_0001;
pub const NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK: u32 = 0x0000_0002;
pub const NDIS_SEND_FLAGS_SINGLE_QUEUE: u32 = 0x0000_0004;
pub const NDIS_SEND_FLAGS_SWITCH_DESTINATION_GROUP: u32 = 0x0000_0010;
pub const NDIS_SEND_FLAGS_SWITCH_SINGLE_SOURCE: u32 = 0x0000_0020;

pub const NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL: u32 = 0x0000_0001;
pub const NDIS_SEND_COMPLETE_FLAGS_SINGLE_QUEUE: u32 = 0x0000_0002;
pub const NDIS_SEND_COMPLETE_FLAGS_SWITCH_SINGLE_SOURCE: u32 = 0x0000_0004;

pub const NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL: u32 = 0x0000_0001;
pub const NDIS_RECEIVE_FLAGS_RESOURCES: u32 = 0x0000_0002;
pub const NDIS_RECEIVE_FLAGS_SINGLE_ETHER_TYPE: u32 = 0x0000_0100;
pub const NDIS_RECEIVE_FLAGS_SINGLE_VLAN: u32 = 0x0000_0200;
pub const NDIS_RECEIVE_FLAGS_PERFECT_FILTERED: u32 = 0x0000_0400;
pub const NDIS_RECEIVE_FLAGS_SINGLE_QUEUE: u32 = 0x0000_0800;
pub const NDIS_RECEIVE_FLAGS_SHARED_MEMORY_INFO_VALID: u32 = 0x0000_1000;
pub const NDIS_RECEIVE_FLAGS_MORE_NBLS: u32 = 0x0000_2000;
pub const NDIS_RECEIVE_FLAGS_SWITCH_DESTINATION_GROUP: u32 = 0x0000_4000;
pub const NDIS_RECEIVE_FLAGS_SWITCH_SINGLE_SOURCE: u32 = 0x0000_8000;

pub const NDIS_RETURN_FLAGS_DISPATCH_LEVEL: u32 = 0x0000_0001;
pub const NDIS_RETURN_FLAGS_SINGLE_QUEUE: u32 = 0x0000_0002;
pub const NDIS_RETURN_FLAGS_SWITCH_SINGLE_SOURCE: u32 = 0x0000_0004;

/// The `NdisFSendNetBufferListsComplete` flags for completing a send
/// request made with `send_flags` (same IRQL, same single-source promise).
pub const fn send_complete_flags(send_flags: u32) -> u32 {
    let mut flags = 0;
    if send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0 {
        flags |= NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL;
    }
    if send_flags & NDIS_SEND_FLAGS_SWITCH_SINGLE_SOURCE != 0 {
        flags |= NDIS_SEND_COMPLETE_FLAGS_SWITCH_SINGLE_SOURCE;
    }
    flags
}

/// The `NdisFReturnNetBufferLists` flags for returning an indication made
/// with `receive_flags`.
pub const fn return_flags(receive_flags: u32) -> u32 {
    let mut flags = 0;
    if receive_flags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0 {
        flags |= NDIS_RETURN_FLAGS_DISPATCH_LEVEL;
    }
    if receive_flags & NDIS_RECEIVE_FLAGS_SWITCH_SINGLE_SOURCE != 0 {
        flags |= NDIS_RETURN_FLAGS_SWITCH_SINGLE_SOURCE;
    }
    flags
}

/// `NDIS_TEST_RECEIVE_CAN_PEND`: false when the indicating driver lends the
/// NBLs only for the duration of the call (they are never returned).
pub const fn receive_can_pend(receive_flags: u32) -> bool {
    receive_flags & NDIS_RECEIVE_FLAGS_RESOURCES == 0
}

// ---------------------------------------------------------------------------
// Control device: NdisRegisterDeviceEx and the I/O manager (wdm.h).

/// `DRIVER_DISPATCH`: returns an NTSTATUS.
pub type DriverDispatch = unsafe extern "system" fn(*mut DeviceObject, *mut Irp) -> NdisStatus;
/// `DRIVER_UNLOAD`.
pub type DriverUnload = unsafe extern "system" fn(*mut DriverObject);

pub const IRP_MJ_CREATE: usize = 0x00;
pub const IRP_MJ_CLOSE: usize = 0x02;
pub const IRP_MJ_DEVICE_CONTROL: usize = 0x0e;
pub const IRP_MJ_CLEANUP: usize = 0x12;
pub const IRP_MJ_MAXIMUM_FUNCTION: usize = 0x1b;

/// `IO_NO_INCREMENT`, the priority boost for `IoCompleteRequest`.
pub const IO_NO_INCREMENT: i8 = 0;
/// `IO_NETWORK_INCREMENT`.
pub const IO_NETWORK_INCREMENT: i8 = 2;
/// `SL_PENDING_RETURNED` in `IoStackLocation::control` (`IoMarkIrpPending`).
pub const SL_PENDING_RETURNED: u8 = 0x01;

pub const NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1: u16 =
    size_of::<NdisDeviceObjectAttributes>() as u16;

/// `NDIS_TIMER_FUNCTION`: runs at DISPATCH_LEVEL.
pub type NdisTimerFunction = unsafe extern "system" fn(
    system1: *mut c_void,
    context: *mut c_void,
    system2: *mut c_void,
    system3: *mut c_void,
);

/// `NDIS_TIMER_CHARACTERISTICS` (revision 1) for `NdisAllocateTimerObject`.
#[repr(C)]
pub struct NdisTimerCharacteristics {
    pub header: NdisObjectHeader,
    pub allocation_tag: u32,
    pub timer_function: Option<NdisTimerFunction>,
    pub function_context: *mut c_void,
}

pub const NDIS_TIMER_CHARACTERISTICS_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1: u16 = 0x18;

/// `NDIS_DEVICE_OBJECT_ATTRIBUTES` for `NdisRegisterDeviceEx`.
#[repr(C)]
pub struct NdisDeviceObjectAttributes {
    pub header: NdisObjectHeader,
    pub device_name: *mut UnicodeString,
    pub symbolic_name: *mut UnicodeString,
    /// `IRP_MJ_MAXIMUM_FUNCTION + 1` entries.
    pub major_functions: *mut Option<DriverDispatch>,
    pub extension_size: u32,
    /// An SDDL string; null leaves NDIS's default security.
    pub default_sddl_string: *const UnicodeString,
    pub device_class_guid: *const Guid,
}

/// `DEVICE_OBJECT`: only ever handled by pointer.
#[repr(C)]
pub struct DeviceObject {
    _opaque: [u8; 0],
}

/// `DRIVER_OBJECT`.
#[repr(C)]
pub struct DriverObject {
    pub object_type: i16,
    pub size: i16,
    pub device_object: *mut DeviceObject,
    pub flags: u32,
    pub driver_start: *mut c_void,
    pub driver_size: u32,
    pub driver_section: *mut c_void,
    pub driver_extension: *mut c_void,
    pub driver_name: UnicodeString,
    pub hardware_database: *mut UnicodeString,
    pub fast_io_dispatch: *mut c_void,
    pub driver_init: *mut c_void,
    pub driver_start_io: *mut c_void,
    pub driver_unload: Option<DriverUnload>,
    pub major_function: [Option<DriverDispatch>; IRP_MJ_MAXIMUM_FUNCTION + 1],
}

/// `FILE_OBJECT`: the fields up to `FsContext2`, then the rest kept opaque.
#[repr(C)]
pub struct FileObject {
    pub object_type: i16,
    pub size: i16,
    pub device_object: *mut DeviceObject,
    pub vpb: *mut c_void,
    /// Per-open context the control device owns (the open handle).
    pub fs_context: *mut c_void,
    pub fs_context2: *mut c_void,
    _rest: [u64; 22],
}

/// `IO_STATUS_BLOCK`: `status` overlays a pointer (the union is 8 bytes).
#[repr(C)]
pub struct IoStatusBlock {
    pub status: NdisStatus,
    _status_high: u32,
    pub information: usize,
}

/// `IRP`: the fields the control device reads or writes, at their x64
/// offsets; `Tail.Overlay` is flattened into the `tail_` fields.
#[repr(C)]
pub struct Irp {
    pub object_type: i16,
    pub size: u16,
    _reserved0: [u16; 2],
    pub mdl_address: *mut Mdl,
    pub flags: u32,
    /// `AssociatedIrp.SystemBuffer` (METHOD_BUFFERED input and output).
    pub system_buffer: *mut c_void,
    pub thread_list_entry: ListEntry,
    pub io_status: IoStatusBlock,
    pub requestor_mode: i8,
    pub pending_returned: u8,
    pub stack_count: i8,
    pub current_location: i8,
    pub cancel: u8,
    pub cancel_irql: Kirql,
    pub apc_environment: i8,
    pub allocation_flags: u8,
    pub user_iosb: *mut IoStatusBlock,
    pub user_event: *mut c_void,
    pub overlay: [*mut c_void; 2],
    pub cancel_routine: *mut c_void,
    pub user_buffer: *mut c_void,
    /// Four pointers the owner of a queued IRP may use (a CSQ keeps its
    /// context here).
    pub tail_driver_context: [*mut c_void; 4],
    pub tail_thread: *mut c_void,
    pub tail_auxiliary_buffer: *mut c_void,
    pub tail_list_entry: ListEntry,
    pub tail_current_stack_location: *mut IoStackLocation,
    pub tail_original_file_object: *mut FileObject,
    /// `IrpExtension` in some builds, part of the overlaid `KAPC` in others.
    _tail_rest: *mut c_void,
}

/// The `Parameters` union of `IO_STACK_LOCATION` seen through its
/// `DeviceIoControl` member, the only one the control device reads (each
/// ULONG is `POINTER_ALIGNMENT`).
#[repr(C)]
pub struct DeviceIoControlParameters {
    pub output_buffer_length: u32,
    _pad0: u32,
    pub input_buffer_length: u32,
    _pad1: u32,
    pub io_control_code: u32,
    _pad2: u32,
    pub type3_input_buffer: *mut c_void,
}

/// `IO_STACK_LOCATION` for IRP_MJ_CREATE/CLEANUP/CLOSE/DEVICE_CONTROL.
#[repr(C)]
pub struct IoStackLocation {
    pub major_function: u8,
    pub minor_function: u8,
    pub flags: u8,
    pub control: u8,
    pub parameters: DeviceIoControlParameters,
    pub device_object: *mut DeviceObject,
    pub file_object: *mut FileObject,
    pub completion_routine: *mut c_void,
    pub context: *mut c_void,
}

// Cancel-safe queue (IoCsq*).
pub const IO_TYPE_CSQ_IRP_CONTEXT: u32 = 1;
pub const IO_TYPE_CSQ: u32 = 2;
pub const IO_TYPE_CSQ_EX: u32 = 3;

/// `IO_CSQ_INSERT_IRP_EX`.
pub type IoCsqInsertIrpEx =
    unsafe extern "system" fn(*mut IoCsq, *mut Irp, *mut c_void) -> NdisStatus;
/// `IO_CSQ_REMOVE_IRP`.
pub type IoCsqRemoveIrp = unsafe extern "system" fn(*mut IoCsq, *mut Irp);
/// `IO_CSQ_PEEK_NEXT_IRP`.
pub type IoCsqPeekNextIrp =
    unsafe extern "system" fn(*mut IoCsq, *mut Irp, *mut c_void) -> *mut Irp;
/// `IO_CSQ_ACQUIRE_LOCK`.
pub type IoCsqAcquireLock = unsafe extern "system" fn(*mut IoCsq, *mut Kirql);
/// `IO_CSQ_RELEASE_LOCK`.
pub type IoCsqReleaseLock = unsafe extern "system" fn(*mut IoCsq, Kirql);
/// `IO_CSQ_COMPLETE_CANCELED_IRP`.
pub type IoCsqCompleteCanceledIrp = unsafe extern "system" fn(*mut IoCsq, *mut Irp);

/// `IO_CSQ`: bookkeeping `IoCsqInitializeEx` fills; embed it in the queue
/// and recover the queue from it in the callbacks. The insert slot holds an
/// `IO_CSQ_INSERT_IRP_EX` when `csq_type` is `IO_TYPE_CSQ_EX`.
#[repr(C)]
pub struct IoCsq {
    pub csq_type: u32,
    pub csq_insert_irp: *mut c_void,
    pub csq_remove_irp: Option<IoCsqRemoveIrp>,
    pub csq_peek_next_irp: Option<IoCsqPeekNextIrp>,
    pub csq_acquire_lock: Option<IoCsqAcquireLock>,
    pub csq_release_lock: Option<IoCsqReleaseLock>,
    pub csq_complete_canceled_irp: Option<IoCsqCompleteCanceledIrp>,
    pub reserve_pointer: *mut c_void,
}

impl IoCsq {
    /// Storage for `IoCsqInitializeEx` to fill.
    pub const fn new() -> IoCsq {
        IoCsq {
            csq_type: 0,
            csq_insert_irp: core::ptr::null_mut(),
            csq_remove_irp: None,
            csq_peek_next_irp: None,
            csq_acquire_lock: None,
            csq_release_lock: None,
            csq_complete_canceled_irp: None,
            reserve_pointer: core::ptr::null_mut(),
        }
    }
}

/// `IO_CSQ_IRP_CONTEXT`: lets the owner find and remove one queued IRP.
#[repr(C)]
pub struct IoCsqIrpContext {
    pub context_type: u32,
    pub irp: *mut Irp,
    pub csq: *mut IoCsq,
}

/// `KEVENT`: a dispatcher header only the kernel reads; storage for
/// `KeInitializeEvent`.
#[repr(C)]
pub struct KEvent {
    _header: [u64; 3],
}

impl KEvent {
    pub const fn new() -> KEvent {
        KEvent { _header: [0; 3] }
    }
}

/// `NotificationEvent` (`EVENT_TYPE`): stays signalled once set.
pub const NOTIFICATION_EVENT: u32 = 0;
/// `Executive` (`KWAIT_REASON`).
pub const EXECUTIVE: u32 = 0;

/// `NET_LUID`: the 64-bit locally unique id of a network interface.
pub type NetLuid = u64;

impl Guid {
    /// A GUID as stored in memory (little-endian fields).
    pub const fn from_bytes(b: [u8; 16]) -> Guid {
        Guid {
            data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            data2: u16::from_le_bytes([b[4], b[5]]),
            data3: u16::from_le_bytes([b[6], b[7]]),
            data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        }
    }
}

/// `KeQueryActiveProcessorCountEx` over every processor group.
pub const ALL_PROCESSOR_GROUPS: u16 = 0xffff;

/// IRQL levels.
pub const PASSIVE_LEVEL: Kirql = 0;
pub const APC_LEVEL: Kirql = 1;
pub const DISPATCH_LEVEL: Kirql = 2;

// netio's IP Helper tables (netioapi.h, ws2def.h, ws2ipdef.h).

/// `AF_UNSPEC`: both families (`AF_INET`, `AF_INET6`: `platform::underlay`).
pub const AF_UNSPEC: u16 = 0;

/// `SOCKADDR_INET`: the union of `SOCKADDR_IN` (family, port, address at
/// 4) and `SOCKADDR_IN6` (family, port, flow info, address at 8, scope id),
/// as its family and the bytes after it.
#[repr(C, align(4))]
#[derive(Clone, Copy)]
pub struct SockaddrInet {
    pub si_family: u16,
    pub data: [u8; 26],
}

/// `IP_ADDRESS_PREFIX`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IpAddressPrefix {
    pub prefix: SockaddrInet,
    pub prefix_length: u8,
}

/// `MIB_UNICASTIPADDRESS_ROW`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MibUnicastIpAddressRow {
    pub address: SockaddrInet,
    pub interface_luid: NetLuid,
    pub interface_index: u32,
    pub prefix_origin: u32,
    pub suffix_origin: u32,
    pub valid_lifetime: u32,
    pub preferred_lifetime: u32,
    pub on_link_prefix_length: u8,
    pub skip_as_source: u8,
    pub dad_state: u32,
    pub scope_id: u32,
    pub creation_time_stamp: i64,
}

/// `MIB_IPFORWARD_ROW2`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MibIpForwardRow2 {
    pub interface_luid: NetLuid,
    pub interface_index: u32,
    pub destination_prefix: IpAddressPrefix,
    pub next_hop: SockaddrInet,
    pub site_prefix_length: u8,
    pub valid_lifetime: u32,
    pub preferred_lifetime: u32,
    pub metric: u32,
    pub protocol: u32,
    pub loopback: u8,
    pub autoconfigure_address: u8,
    pub publish: u8,
    pub immortal: u8,
    pub age: u32,
    pub origin: u32,
}

/// `IF_MAX_PHYS_ADDRESS_LENGTH`.
pub const IF_MAX_PHYS_ADDRESS_LENGTH: usize = 32;

/// `MIB_IPNET_ROW2` (`flags`: `IsRouter` bit 0, `IsUnreachable` bit 1).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MibIpNetRow2 {
    pub address: SockaddrInet,
    pub interface_index: u32,
    pub interface_luid: NetLuid,
    pub physical_address: [u8; IF_MAX_PHYS_ADDRESS_LENGTH],
    pub physical_address_length: u32,
    pub state: u32,
    pub flags: u8,
    pub reachability_time: u32,
}

/// `MIB_UNICASTIPADDRESS_TABLE`, `MIB_IPFORWARD_TABLE2`,
/// `MIB_IPNET_TABLE2`: a count, then that many rows from `table`.
#[repr(C)]
pub struct MibTable<Row> {
    pub num_entries: u32,
    pub table: [Row; 0],
}

pub type MibUnicastIpAddressTable = MibTable<MibUnicastIpAddressRow>;
pub type MibIpForwardTable2 = MibTable<MibIpForwardRow2>;
pub type MibIpNetTable2 = MibTable<MibIpNetRow2>;

/// `PUNICAST_IPADDRESS_CHANGE_CALLBACK`, `PIPFORWARD_CHANGE_CALLBACK`,
/// `PIPINTERFACE_CHANGE_CALLBACK`: the same shape, the row passed by
/// pointer (null for an initial notification).
pub type MibChangeCallback = unsafe extern "system" fn(
    caller_context: *mut c_void,
    row: *mut c_void,
    notification_type: u32,
);

/// `NDIS_IO_WORKITEM_FUNCTION`.
pub type NdisIoWorkItemFunction =
    unsafe extern "system" fn(work_item_context: *mut c_void, ndis_io_work_item_handle: NdisHandle);
