//! Host check of the hand-written NDIS/WDM bindings: the layouts compiled
//! here are the ones the Windows x64 driver uses (explicit widths, pointers
//! for handles), so every documented size and offset is checked on Linux
//! too. The rows live in `src/sys/ndis/layout.rs`, with their sources; the
//! bit-field values below were produced by compiling the WDK 10 `ndis.h`
//! definitions with x86_64-w64-mingw32-gcc (MSVC bit-field layout).

/// One test per row of `layout.rs`: size, alignment and field offsets.
macro_rules! layouts {
    ($($t:ident = $size:literal / $align:literal { $($($f:ident).+ : $off:literal),* $(,)? })*) => {
        $(
            #[test]
            #[allow(non_snake_case)]
            fn $t() {
                assert_eq!(::core::mem::size_of::<$t>(), $size, "size_of");
                assert_eq!(::core::mem::align_of::<$t>(), $align, "align_of");
                $(
                    assert_eq!(
                        ::core::mem::offset_of!($t, $($f).+),
                        $off,
                        "offset of {}",
                        stringify!($($f).+),
                    );
                )*
            }
        )*
    };
}

/// The `NDIS_SIZEOF_*` header sizes of `layout.rs`.
macro_rules! constants {
    ($($name:ident = $val:literal),* $(,)?) => {
        #[test]
        fn header_sizes() {
            $(assert_eq!($name as usize, $val, stringify!($name));)*
        }
    };
}

#[path = "../src/sys/ndis/types.rs"]
#[allow(dead_code)]
mod types;

#[path = "../src/sys/ndis/layout.rs"]
mod layout;

use types::*;

#[test]
fn forwarding_detail_bits() {
    // NumAvailableDestinations 0x1234, SourcePortId 0xBEEF, SourceNicIndex
    // 0x5A, NativeForwardingRequired, IsPacketDataSafe, SafePacketDataSize
    // 0xABC.
    let detail = SwitchForwardingDetail(0x0055_E55A_BEEF_1234);
    assert_eq!(detail.num_available_destinations(), 0x1234);
    assert_eq!(detail.source_port_id(), 0xBEEF);
    assert_eq!(detail.source_nic_index(), 0x5A);
    assert!(detail.native_forwarding_required());
    assert!(detail.is_packet_data_safe());
    assert_eq!(detail.safe_packet_data_size(), 0xABC);

    let zero = SwitchForwardingDetail(0);
    assert!(!zero.native_forwarding_required() && !zero.is_packet_data_safe());
    let safe = SwitchForwardingDetail(0x0000_00ff_beef_0002).with_packet_data_safe();
    assert!(safe.is_packet_data_safe());
    assert_eq!(safe.source_port_id(), 0xBEEF);
    assert_eq!(safe.source_nic_index(), 0xff);
    assert_eq!(safe.num_available_destinations(), 2);
}

#[test]
fn ieee_8021q_bits() {
    // TagHeader { UserPriority 5, CanonicalFormatId 0, VlanId 0xABC }.
    assert_eq!(Ieee8021QInfo::new(5, 0xABC), Ieee8021QInfo(0xABC5));
    let tag = Ieee8021QInfo(0xABC5);
    assert_eq!(tag.user_priority(), 5);
    assert_eq!(tag.vlan_id(), 0xABC);
    assert!(!tag.canonical_format_id());
    assert!(Ieee8021QInfo(0x8).canonical_format_id());
    // Out-of-range inputs are masked to their fields; CFI stays clear.
    assert_eq!(Ieee8021QInfo::new(0xff, 0xffff), Ieee8021QInfo(0xfff7));
}

#[test]
fn checksum_bits() {
    // Transmit { IsIPv4, TcpChecksum, IpHeaderChecksum, TcpHeaderOffset 0x36 }.
    let tx = ChecksumInfo(0x0036_0015);
    assert!(tx.has(ChecksumInfo::TX_IS_IPV4));
    assert!(!tx.has(ChecksumInfo::TX_IS_IPV6));
    assert!(tx.has(ChecksumInfo::TX_TCP_CHECKSUM));
    assert!(!tx.has(ChecksumInfo::TX_UDP_CHECKSUM));
    assert!(tx.has(ChecksumInfo::TX_IP_HEADER_CHECKSUM));
    assert_eq!(tx.tx_tcp_header_offset(), 0x36);

    // Receive { TcpChecksumSucceeded, IpChecksumSucceeded, IpChecksumValueInvalid }.
    let rx = ChecksumInfo(0x0128);
    assert_eq!(
        rx.0,
        ChecksumInfo::RX_TCP_CHECKSUM_SUCCEEDED
            | ChecksumInfo::RX_IP_CHECKSUM_SUCCEEDED
            | ChecksumInfo::RX_IP_CHECKSUM_VALUE_INVALID
    );
    assert!(!rx.has(ChecksumInfo::RX_TCP_CHECKSUM_FAILED));
}

#[test]
fn large_send_bits() {
    // LsoV2Transmit { MSS 1448, TcpHeaderOffset 0x22, Type 1, IPVersion 1 }.
    let lso = LargeSendInfo(0xC220_05A8);
    assert_eq!(lso.mss(), 1448);
    assert_eq!(lso.tcp_header_offset(), 0x22);
    assert_eq!(lso.lso_type(), NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE);
    assert_eq!(lso.ip_version(), NDIS_TCP_LARGE_SEND_OFFLOAD_IPV6);
    // LsoV1TransmitComplete { TcpPayload 0x2345678, Type 0 }.
    let done = LargeSendInfo(0x0234_5678);
    assert_eq!(done.tcp_payload(), 0x234_5678);
    assert_eq!(done.lso_type(), NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE);
}

#[test]
fn port_destination_flags() {
    // { PortId 7, NicIndex 1, IsExcluded, PreservePriority }: bytes 07 00 00
    // 00 01 00 05 00.
    let dest = NdisSwitchPortDestination {
        port_id: 7,
        nic_index: 1,
        flags: NdisSwitchPortDestination::IS_EXCLUDED
            | NdisSwitchPortDestination::PRESERVE_PRIORITY,
    };
    assert_eq!(dest.flags, 0x0005);
    assert_eq!(NdisSwitchPortDestination::PRESERVE_VLAN, 0x0002);
}

#[test]
fn flag_translations() {
    assert_eq!(send_complete_flags(0), 0);
    assert_eq!(
        send_complete_flags(
            NDIS_SEND_FLAGS_DISPATCH_LEVEL
                | NDIS_SEND_FLAGS_SWITCH_SINGLE_SOURCE
                | NDIS_SEND_FLAGS_SWITCH_DESTINATION_GROUP
                | NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK
        ),
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL | NDIS_SEND_COMPLETE_FLAGS_SWITCH_SINGLE_SOURCE
    );
    assert_eq!(
        return_flags(NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL | NDIS_RECEIVE_FLAGS_SWITCH_SINGLE_SOURCE),
        NDIS_RETURN_FLAGS_DISPATCH_LEVEL | NDIS_RETURN_FLAGS_SWITCH_SINGLE_SOURCE
    );
    assert_eq!(
        return_flags(NDIS_RECEIVE_FLAGS_RESOURCES | NDIS_RECEIVE_FLAGS_MORE_NBLS),
        0
    );
    assert!(receive_can_pend(NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL));
    assert!(!receive_can_pend(NDIS_RECEIVE_FLAGS_RESOURCES));
}

#[test]
fn nbl_info_accessors() {
    // Build an NBL the way NDIS would hand one over: zeroed, then OOB info.
    let mut nbl = NetBufferList {
        next: core::ptr::null_mut(),
        first_net_buffer: core::ptr::null_mut(),
        context: core::ptr::null_mut(),
        parent_net_buffer_list: core::ptr::null_mut(),
        ndis_pool_handle: core::ptr::null_mut(),
        ndis_reserved: Aligned16([core::ptr::null_mut(); 2]),
        protocol_reserved: Aligned16([core::ptr::null_mut(); 4]),
        miniport_reserved: Aligned16([core::ptr::null_mut(); 2]),
        scratch: core::ptr::null_mut(),
        source_handle: core::ptr::null_mut(),
        nbl_flags: 0,
        child_ref_count: 0,
        flags: 0,
        status: NdisStatus::SUCCESS,
        net_buffer_list_info: [core::ptr::null_mut(); MAX_NET_BUFFER_LIST_INFO],
    };
    nbl.net_buffer_list_info[SWITCH_FORWARDING_DETAIL] =
        core::ptr::without_provenance_mut(0x0000_0003_0004_0000);
    assert_eq!(nbl.switch_forwarding_detail().source_port_id(), 4);
    assert_eq!(nbl.switch_forwarding_detail().source_nic_index(), 3);

    nbl.set_ieee_8021q_info(Ieee8021QInfo::new(3, 100));
    assert_eq!(
        nbl.net_buffer_list_info[IEEE_8021Q_NET_BUFFER_LIST_INFO].addr(),
        0x643
    );
    assert_eq!(nbl.ieee_8021q_info().vlan_id(), 100);

    nbl.set_checksum_info(ChecksumInfo(ChecksumInfo::TX_IS_IPV6));
    assert!(nbl.checksum_info().has(ChecksumInfo::TX_IS_IPV6));
    nbl.set_large_send_info(LargeSendInfo(1460));
    assert_eq!(nbl.large_send_info().mss(), 1460);
    // The other slots are untouched.
    assert!(nbl.net_buffer_list_info[NET_BUFFER_LIST_HASH_VALUE].is_null());
}

#[test]
fn nbl_info_indices() {
    // NDIS_NET_BUFFER_LIST_INFO for AMD64 (PDB of Windows 8 ndis.sys, WDK 10).
    assert_eq!(TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO, 0);
    assert_eq!(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO, 2);
    assert_eq!(IEEE_8021Q_NET_BUFFER_LIST_INFO, 4);
    assert_eq!(NET_BUFFER_LIST_CANCEL_ID, 5);
    assert_eq!(SWITCH_FORWARDING_RESERVED, 18);
    assert_eq!(SWITCH_FORWARDING_DETAIL, 19);
    assert_eq!(VIRTUAL_SUBNET_INFO, 20);
    assert_eq!(TCP_SEND_OFFLOADS_SUPPLEMENTAL_NET_BUFFER_LIST_INFO, 23);
    assert_eq!(MAX_NET_BUFFER_LIST_INFO, 24);
}

#[test]
fn net_buffer_data_length() {
    // NET_BUFFER_DATA_LENGTH: DataLength is the low half of stDataLength.
    let data = NetBufferData {
        next: core::ptr::null_mut(),
        current_mdl: core::ptr::null_mut(),
        current_mdl_offset: 0,
        data_length: 1514,
        mdl_chain: core::ptr::null_mut(),
        data_offset: 0,
    };
    assert_eq!(data.data_length(), 1514);
}

#[test]
fn status_codes() {
    assert!(NdisStatus::SUCCESS.is_success());
    assert!(NdisStatus::PENDING.is_success());
    assert!(NdisStatus::NOT_ACCEPTED.is_success());
    assert!(!NdisStatus::PAUSED.is_success());
    assert!(!NdisStatus::FAILURE.is_success());
    // NDIS_STATUS_* are the NTSTATUS values of ntstatus.h.
    assert_eq!(NdisStatus::RESOURCES.0, 0xC000_009A);
    assert_eq!(NdisStatus::PAUSED.0, 0xC023_002A);
    assert_eq!(NdisStatus::INVALID_LENGTH.0, 0xC001_0014);
}

#[test]
fn object_types_and_oids() {
    // ntddndis.h (mingw-w64 and WDK agree).
    assert_eq!(NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS, 0x8b);
    assert_eq!(NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES, 0x8d);
    assert_eq!(NDIS_OBJECT_TYPE_SWITCH_OPTIONAL_HANDLERS, 0xb8);
    assert_eq!(OID_SWITCH_NIC_REQUEST, 0x0001_0270);
    assert_eq!(OID_SWITCH_PORT_PROPERTY_ADD, 0x0001_0271);
    assert_eq!(OID_SWITCH_PARAMETERS, 0x0001_0275);
    assert_eq!(OID_SWITCH_PORT_CREATE, 0x0001_0278);
    assert_eq!(OID_SWITCH_NIC_CREATE, 0x0001_027a);
    assert_eq!(OID_SWITCH_PORT_TEARDOWN, 0x0001_027f);
    assert_eq!(OID_SWITCH_NIC_UPDATED, 0x0001_0294);
    assert_eq!(OID_SWITCH_PORT_UPDATED, 0x0001_0295);
    assert_eq!(NDIS_SWITCH_PORT_PROPERTY_TYPE_VLAN, 3);
}

#[test]
fn switch_handlers_table_announces_revision_1() {
    let handlers = NdisSwitchOptionalHandlers::revision_1();
    assert_eq!(
        handlers.header,
        NdisObjectHeader {
            object_type: 0xb8,
            revision: 1,
            size: 0x70
        }
    );
    assert!(handlers.report_filtered_net_buffer_lists.is_none());
}
