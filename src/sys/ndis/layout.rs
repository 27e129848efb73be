//! The documented x64 size, alignment and field offsets of every binding in
//! `types.rs`. The includer defines `layouts!`: `ndis/mod.rs` turns each row
//! into compile-time assertions for the Windows target, `tests/ndis_layout.rs`
//! into host tests.
//!
//! Sources (each row names the ones it was checked against):
//! - PDB-W8: x64 PDB type dumps of Windows 8 (NDIS 6.30), ntdiff/headers
//!   `Win8/x64/System32/ndis.sys/Standalone/<_TYPE>.h`.
//! - VERG: x64 PDB dumps in novafacing/vergilius-rs
//!   `headers/bindings-6.2.9200.16384-x64.h` (Windows 8) and
//!   `headers/bindings-10.0.22631.2428-x64.h` (Windows 11 23H2).
//! - WDK: the WDK 10 `km/ndis.h` and `km/wdm.h` text (as mirrored in
//!   MuAlphaOmegaEpsilon/wdk-10), offsets by the x64 C layout rules, and the
//!   same definitions compiled with x86_64-w64-mingw32-gcc 12.
//! - MINGW: mingw-w64 10.0.0 `ntddndis.h` / `ddk/wdm.h`, compiled with
//!   x86_64-w64-mingw32-gcc 12.
//! - DOCS: MicrosoftDocs/windows-driver-docs-ddi syntax blocks (field
//!   order and types).

use super::types::*;

layouts! {
    // UNICODE_STRING: PDB-W8 (_NDIS_FILTER_DRIVER_BLOCK.h), VERG, MINGW.
    UnicodeString = 0x10 / 8 { length: 0x0, maximum_length: 0x2, buffer: 0x8 }
    // GUID: MINGW.
    Guid = 0x10 / 4 { data1: 0x0, data2: 0x4, data3: 0x6, data4: 0x8 }
    // LIST_ENTRY: VERG.
    ListEntry = 0x10 / 8 { flink: 0x0, blink: 0x8 }
    // NDIS_OBJECT_HEADER: PDB-W8, MINGW.
    NdisObjectHeader = 0x4 / 2 { object_type: 0x0, revision: 0x1, size: 0x2 }

    // NDIS_FILTER_DRIVER_CHARACTERISTICS: PDB-W8 (_NDIS_FILTER_DRIVER_BLOCK.h,
    // 0xE0 = revision 2), WDK, DOCS.
    NdisFilterDriverCharacteristics = 0xe0 / 8 {
        header: 0x0,
        major_ndis_version: 0x4,
        minor_ndis_version: 0x5,
        major_driver_version: 0x6,
        minor_driver_version: 0x7,
        flags: 0x8,
        friendly_name: 0x10,
        unique_name: 0x20,
        service_name: 0x30,
        set_options_handler: 0x40,
        set_filter_module_options_handler: 0x48,
        attach_handler: 0x50,
        detach_handler: 0x58,
        restart_handler: 0x60,
        pause_handler: 0x68,
        send_net_buffer_lists_handler: 0x70,
        send_net_buffer_lists_complete_handler: 0x78,
        cancel_send_net_buffer_lists_handler: 0x80,
        receive_net_buffer_lists_handler: 0x88,
        return_net_buffer_lists_handler: 0x90,
        oid_request_handler: 0x98,
        oid_request_complete_handler: 0xa0,
        cancel_oid_request_handler: 0xa8,
        device_pnp_event_notify_handler: 0xb0,
        net_pnp_event_handler: 0xb8,
        status_handler: 0xc0,
        direct_oid_request_handler: 0xc8,
        direct_oid_request_complete_handler: 0xd0,
        cancel_direct_oid_request_handler: 0xd8,
    }
    // NDIS_FILTER_ATTACH_PARAMETERS revision 4: WDK, DOCS.
    NdisFilterAttachParameters = 0xe0 / 8 {
        header: 0x0,
        if_index: 0x4,
        net_luid: 0x8,
        filter_module_guid_name: 0x10,
        base_miniport_if_index: 0x18,
        base_miniport_instance_name: 0x20,
        base_miniport_name: 0x28,
        media_connect_state: 0x30,
        media_duplex_state: 0x34,
        xmit_link_speed: 0x38,
        rcv_link_speed: 0x40,
        miniport_media_type: 0x48,
        miniport_physical_media_type: 0x4c,
        miniport_media_specific_attributes: 0x50,
        default_offload_configuration: 0x58,
        mac_address_length: 0x60,
        current_mac_address: 0x62,
        base_miniport_net_luid: 0x88,
        lower_if_index: 0x90,
        lower_if_net_luid: 0x98,
        flags: 0xa0,
        hd_split_current_config: 0xa8,
        receive_filter_capabilities: 0xb0,
        miniport_physical_device_object: 0xb8,
        nic_switch_capabilities: 0xc0,
        base_miniport_if_connector_present: 0xc8,
        sriov_capabilities: 0xd0,
        nic_switch_array: 0xd8,
    }
    // NDIS_FILTER_RESTART_PARAMETERS: WDK, DOCS.
    NdisFilterRestartParameters = 0x30 / 8 {
        header: 0x0,
        miniport_media_type: 0x4,
        miniport_physical_media_type: 0x8,
        restart_attributes: 0x10,
        lower_if_index: 0x18,
        lower_if_net_luid: 0x20,
        flags: 0x28,
    }
    // NDIS_FILTER_PAUSE_PARAMETERS: WDK, DOCS.
    NdisFilterPauseParameters = 0xc / 4 { header: 0x0, flags: 0x4, pause_reason: 0x8 }
    // NDIS_FILTER_ATTRIBUTES: WDK, DOCS.
    NdisFilterAttributes = 0x8 / 4 { header: 0x0, flags: 0x4 }

    // NDIS_OID_REQUEST (NDIS 6.30 view, revision 1): the x64 PDB dump found
    // with the ntdiff/headers `_NDIS_OID_REQUEST` type (size 0xF0), WDK, DOCS.
    NdisOidRequest = 0xf0 / 8 {
        header: 0x0,
        request_type: 0x4,
        port_number: 0x8,
        timeout: 0xc,
        request_id: 0x10,
        request_handle: 0x18,
        data: 0x20,
        data.query.oid: 0x20,
        data.query.information_buffer: 0x28,
        data.query.information_buffer_length: 0x30,
        data.query.bytes_written: 0x34,
        data.query.bytes_needed: 0x38,
        data.set.oid: 0x20,
        data.set.information_buffer: 0x28,
        data.set.information_buffer_length: 0x30,
        data.set.bytes_read: 0x34,
        data.set.bytes_needed: 0x38,
        data.method.oid: 0x20,
        data.method.information_buffer: 0x28,
        data.method.input_buffer_length: 0x30,
        data.method.output_buffer_length: 0x34,
        data.method.method_id: 0x38,
        data.method.bytes_written: 0x3c,
        data.method.bytes_read: 0x40,
        data.method.bytes_needed: 0x44,
        ndis_reserved: 0x48,
        miniport_reserved: 0xc8,
        source_reserved: 0xd8,
        supported_revision: 0xe8,
        reserved1: 0xe9,
        reserved2: 0xea,
    }
    OidRequestData = 0x28 / 8 { query: 0x0, set: 0x0, method: 0x0 }

    // IF_COUNTED_STRING: MINGW (ifdef.h), PDB (IF_COUNTED_STRING_LH 0x204).
    IfCountedString = 0x204 / 2 { length: 0x0, string: 0x2 }
    // NDIS_SWITCH_PARAMETERS: MINGW, DOCS.
    NdisSwitchParameters = 0x418 / 4 {
        header: 0x0,
        flags: 0x4,
        switch_name: 0x8,
        switch_friendly_name: 0x20c,
        num_switch_ports: 0x410,
        is_active: 0x414,
    }
    // NDIS_SWITCH_PORT_PARAMETERS: MINGW, DOCS.
    NdisSwitchPortParameters = 0x420 / 4 {
        header: 0x0,
        flags: 0x4,
        port_id: 0x8,
        port_name: 0xc,
        port_friendly_name: 0x210,
        port_type: 0x414,
        is_validation_port: 0x418,
        port_state: 0x41c,
    }
    // NDIS_SWITCH_PORT_ARRAY: MINGW, DOCS.
    NdisSwitchPortArray = 0x14 / 4 {
        header: 0x0,
        flags: 0x4,
        first_element_offset: 0x8,
        num_elements: 0xc,
        element_size: 0x10,
    }
    // NDIS_SWITCH_NIC_PARAMETERS revision 1: MINGW, DOCS.
    NdisSwitchNicParameters = 0x8a0 / 4 {
        header: 0x0,
        flags: 0x4,
        nic_name: 0x8,
        nic_friendly_name: 0x20c,
        port_id: 0x410,
        nic_index: 0x414,
        nic_type: 0x418,
        nic_state: 0x41c,
        vm_name: 0x420,
        vm_friendly_name: 0x624,
        net_cfg_instance_id: 0x828,
        mtu: 0x838,
        numa_node_id: 0x83c,
        permanent_mac_address: 0x83e,
        vm_mac_address: 0x85e,
        current_mac_address: 0x87e,
        vf_assigned: 0x89e,
    }
    // NDIS_SWITCH_NIC_ARRAY: MINGW, DOCS.
    NdisSwitchNicArray = 0x14 / 4 {
        header: 0x0,
        flags: 0x4,
        first_element_offset: 0x8,
        num_elements: 0xc,
        element_size: 0x10,
    }
    // NDIS_SWITCH_NIC_OID_REQUEST: MINGW, DOCS.
    NdisSwitchNicOidRequest = 0x20 / 8 {
        header: 0x0,
        flags: 0x4,
        source_port_id: 0x8,
        source_nic_index: 0xc,
        destination_port_id: 0x10,
        destination_nic_index: 0x14,
        oid_request: 0x18,
    }
    // NDIS_SWITCH_PORT_PROPERTY_PARAMETERS: MINGW, DOCS.
    NdisSwitchPortPropertyParameters = 0x40 / 4 {
        header: 0x0,
        flags: 0x4,
        port_id: 0x8,
        property_type: 0xc,
        property_id: 0x10,
        property_version: 0x20,
        serialization_version: 0x22,
        property_instance_id: 0x24,
        property_buffer_length: 0x34,
        property_buffer_offset: 0x38,
        reserved: 0x3c,
    }

    // NDIS_SWITCH_PORT_PROPERTY_DELETE_PARAMETERS: MINGW, DOCS.
    NdisSwitchPortPropertyDeleteParameters = 0x30 / 4 {
        header: 0x0,
        flags: 0x4,
        port_id: 0x8,
        property_type: 0xc,
        property_id: 0x10,
        property_instance_id: 0x20,
    }
    // NET_PNP_EVENT, NET_PNP_EVENT_NOTIFICATION revision 1: WDK, MINGW
    // (ddk/netpnp.h), x64 PDB dumps in the code index (NetPnPEvent at 8,
    // Flags at 0xA0).
    NetPnpEvent = 0x98 / 8 {
        net_event: 0x0,
        buffer: 0x8,
        buffer_length: 0x10,
        ndis_reserved: 0x18,
        transport_reserved: 0x38,
        tdi_reserved: 0x58,
        tdi_client_reserved: 0x78,
    }
    NetPnpEventNotification = 0xa8 / 8 {
        header: 0x0,
        port_number: 0x4,
        net_pnp_event: 0x8,
        flags: 0xa0,
    }

    // NDIS_SWITCH_PORT_DESTINATION: the x64 PDB dump found with the
    // ntdiff/headers `_NDIS_SWITCH_PORT_DESTINATION` type (USHORT bit
    // fields at 0x6, size 8), WDK, DOCS (current).
    NdisSwitchPortDestination = 0x8 / 4 { port_id: 0x0, nic_index: 0x4, flags: 0x6 }
    // NDIS_SWITCH_FORWARDING_DESTINATION_ARRAY: WDK, DOCS.
    NdisSwitchForwardingDestinationArray = 0x18 / 8 {
        header: 0x0,
        element_size: 0x4,
        num_elements: 0x8,
        num_destinations: 0xc,
        first_element: 0x10,
    }
    // NDIS_SWITCH_FORWARDING_DETAIL_NET_BUFFER_LIST_INFO: PDB-W8 (size 8;
    // bit positions in tests/ndis_layout.rs), WDK.
    SwitchForwardingDetail = 0x8 / 8 {}
    // NDIS_SWITCH_OPTIONAL_HANDLERS: WDK (revision 1 size 0x70 ends after
    // report_filtered_net_buffer_lists), DOCS.
    NdisSwitchOptionalHandlers = 0x80 / 8 {
        header: 0x0,
        allocate_net_buffer_list_forwarding_context: 0x8,
        free_net_buffer_list_forwarding_context: 0x10,
        set_net_buffer_list_source: 0x18,
        add_net_buffer_list_destination: 0x20,
        grow_net_buffer_list_destinations: 0x28,
        get_net_buffer_list_destinations: 0x30,
        update_net_buffer_list_destinations: 0x38,
        copy_net_buffer_list_info: 0x40,
        reference_switch_nic: 0x48,
        dereference_switch_nic: 0x50,
        reference_switch_port: 0x58,
        dereference_switch_port: 0x60,
        report_filtered_net_buffer_lists: 0x68,
        set_net_buffer_list_switch_context: 0x70,
        get_net_buffer_list_switch_context: 0x78,
    }

    // NET_BUFFER_LIST: PDB-W8 (_NET_BUFFER_LIST.h: same offsets, 26 info
    // slots as NDIS itself is built), WDK (24 slots for a 6.30 driver).
    NetBufferList = 0x150 / 16 {
        next: 0x0,
        first_net_buffer: 0x8,
        context: 0x10,
        parent_net_buffer_list: 0x18,
        ndis_pool_handle: 0x20,
        ndis_reserved: 0x30,
        protocol_reserved: 0x40,
        miniport_reserved: 0x60,
        scratch: 0x70,
        source_handle: 0x78,
        nbl_flags: 0x80,
        child_ref_count: 0x84,
        flags: 0x88,
        status: 0x8c,
        net_buffer_list_info: 0x90,
    }
    // NET_BUFFER_LIST_CONTEXT: WDK (ContextData DECLSPEC_ALIGN(16) at 0x10).
    NetBufferListContext = 0x10 / 16 { next: 0x0, size: 0x8, offset: 0xa }
    // NET_BUFFER_DATA: PDB-W8 (_NET_BUFFER.h), WDK.
    NetBufferData = 0x30 / 16 {
        next: 0x0,
        current_mdl: 0x8,
        current_mdl_offset: 0x10,
        data_length: 0x18,
        mdl_chain: 0x20,
        data_offset: 0x28,
    }
    // NET_BUFFER: PDB-W8 (_NET_BUFFER.h, size 0xB0), WDK.
    NetBuffer = 0xb0 / 16 {
        header: 0x0,
        checksum_bias: 0x30,
        reserved: 0x32,
        ndis_pool_handle: 0x38,
        ndis_reserved: 0x40,
        protocol_reserved: 0x50,
        miniport_reserved: 0x80,
        data_physical_address: 0xa0,
        shared_memory_info: 0xa8,
    }
    // NET_BUFFER_LIST_POOL_PARAMETERS: WDK, DOCS.
    NetBufferListPoolParameters = 0x10 / 4 {
        header: 0x0,
        protocol_id: 0x4,
        f_allocate_net_buffer: 0x5,
        context_size: 0x6,
        pool_tag: 0x8,
        data_size: 0xc,
    }
    // MDL: VERG (both builds), PDB (ntoskrnl dumps in ntdiff/headers).
    Mdl = 0x30 / 8 {
        next: 0x0,
        size: 0x8,
        mdl_flags: 0xa,
        allocation_processor_number: 0xc,
        reserved: 0xe,
        process: 0x10,
        mapped_system_va: 0x18,
        start_va: 0x20,
        byte_count: 0x28,
        byte_offset: 0x2c,
    }
    // NDIS_NET_BUFFER_LIST_8021Q_INFO, NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO,
    // NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO: one pointer each (WDK;
    // bit positions in tests/ndis_layout.rs).
    Ieee8021QInfo = 0x8 / 8 {}
    ChecksumInfo = 0x8 / 8 {}
    LargeSendInfo = 0x8 / 8 {}

    // NDIS_DEVICE_OBJECT_ATTRIBUTES: WDK, DOCS.
    // NDIS_TIMER_CHARACTERISTICS: WDK, DOCS.
    NdisTimerCharacteristics = 0x18 / 8 {
        header: 0x0,
        allocation_tag: 0x4,
        timer_function: 0x8,
        function_context: 0x10,
    }
    NdisDeviceObjectAttributes = 0x38 / 8 {
        header: 0x0,
        device_name: 0x8,
        symbolic_name: 0x10,
        major_functions: 0x18,
        extension_size: 0x20,
        default_sddl_string: 0x28,
        device_class_guid: 0x30,
    }
    // DRIVER_OBJECT: VERG (both builds), PDB (ntdiff/headers), MINGW.
    DriverObject = 0x150 / 8 {
        object_type: 0x0,
        size: 0x2,
        device_object: 0x8,
        flags: 0x10,
        driver_start: 0x18,
        driver_size: 0x20,
        driver_section: 0x28,
        driver_extension: 0x30,
        driver_name: 0x38,
        hardware_database: 0x48,
        fast_io_dispatch: 0x50,
        driver_init: 0x58,
        driver_start_io: 0x60,
        driver_unload: 0x68,
        major_function: 0x70,
    }
    // FILE_OBJECT: PDB-W8 (_FILE_OBJECT.h), VERG (both builds).
    FileObject = 0xd8 / 8 {
        object_type: 0x0,
        size: 0x2,
        device_object: 0x8,
        vpb: 0x10,
        fs_context: 0x18,
        fs_context2: 0x20,
    }
    // IO_STATUS_BLOCK: VERG, PDB (ntdiff/headers _IRP dump), MINGW.
    IoStatusBlock = 0x10 / 8 { status: 0x0, information: 0x8 }
    // IRP: VERG (both builds), PDB (ntdiff/headers _IRP dump), MINGW.
    Irp = 0xd0 / 8 {
        object_type: 0x0,
        size: 0x2,
        mdl_address: 0x8,
        flags: 0x10,
        system_buffer: 0x18,
        thread_list_entry: 0x20,
        io_status: 0x30,
        requestor_mode: 0x40,
        pending_returned: 0x41,
        stack_count: 0x42,
        current_location: 0x43,
        cancel: 0x44,
        cancel_irql: 0x45,
        apc_environment: 0x46,
        allocation_flags: 0x47,
        user_iosb: 0x48,
        user_event: 0x50,
        overlay: 0x58,
        cancel_routine: 0x68,
        user_buffer: 0x70,
        tail_driver_context: 0x78,
        tail_thread: 0x98,
        tail_auxiliary_buffer: 0xa0,
        tail_list_entry: 0xa8,
        tail_current_stack_location: 0xb8,
        tail_original_file_object: 0xc0,
    }
    // IO_STACK_LOCATION with Parameters.DeviceIoControl: PDB-W8
    // (_IO_STACK_LOCATION.h), VERG (both builds), MINGW.
    IoStackLocation = 0x48 / 8 {
        major_function: 0x0,
        minor_function: 0x1,
        flags: 0x2,
        control: 0x3,
        parameters: 0x8,
        parameters.output_buffer_length: 0x8,
        parameters.input_buffer_length: 0x10,
        parameters.io_control_code: 0x18,
        parameters.type3_input_buffer: 0x20,
        device_object: 0x28,
        file_object: 0x30,
        completion_routine: 0x38,
        context: 0x40,
    }
    // IO_CSQ, IO_CSQ_IRP_CONTEXT: WDK (wdm.h), MINGW (ddk/csq.h).
    IoCsq = 0x40 / 8 {
        csq_type: 0x0,
        csq_insert_irp: 0x8,
        csq_remove_irp: 0x10,
        csq_peek_next_irp: 0x18,
        csq_acquire_lock: 0x20,
        csq_release_lock: 0x28,
        csq_complete_canceled_irp: 0x30,
        reserve_pointer: 0x38,
    }
    IoCsqIrpContext = 0x18 / 8 { context_type: 0x0, irp: 0x8, csq: 0x10 }
    // KEVENT: VERG (both builds; a DISPATCHER_HEADER of 0x18 bytes).
    KEvent = 0x18 / 8 {}

    // netio's IP Helper rows: DOCS (learn.microsoft.com netioapi.h and
    // ws2def.h/ws2ipdef.h syntax blocks: field order and types; enums and
    // NET_IFINDEX 4 bytes, NET_LUID 8, BOOLEAN 1), offsets by the x64 C
    // layout rules. MIB_IPNET_ROW2's 0x58 and the rows at 8 after a
    // table's count also match a ctypes binding used against iphlpapi.
    // SOCKADDR_INET: SOCKADDR_IN6 is the largest member (28 bytes), ULONG
    // aligned.
    SockaddrInet = 0x1c / 4 { si_family: 0x0, data: 0x2 }
    IpAddressPrefix = 0x20 / 4 { prefix: 0x0, prefix_length: 0x1c }
    MibUnicastIpAddressRow = 0x50 / 8 {
        address: 0x0,
        interface_luid: 0x20,
        interface_index: 0x28,
        prefix_origin: 0x2c,
        suffix_origin: 0x30,
        valid_lifetime: 0x34,
        preferred_lifetime: 0x38,
        on_link_prefix_length: 0x3c,
        skip_as_source: 0x3d,
        dad_state: 0x40,
        scope_id: 0x44,
        creation_time_stamp: 0x48,
    }
    MibIpForwardRow2 = 0x68 / 8 {
        interface_luid: 0x0,
        interface_index: 0x8,
        destination_prefix: 0xc,
        next_hop: 0x2c,
        site_prefix_length: 0x48,
        valid_lifetime: 0x4c,
        preferred_lifetime: 0x50,
        metric: 0x54,
        protocol: 0x58,
        loopback: 0x5c,
        autoconfigure_address: 0x5d,
        publish: 0x5e,
        immortal: 0x5f,
        age: 0x60,
        origin: 0x64,
    }
    MibIpNetRow2 = 0x58 / 8 {
        address: 0x0,
        interface_index: 0x1c,
        interface_luid: 0x20,
        physical_address: 0x28,
        physical_address_length: 0x48,
        state: 0x4c,
        flags: 0x50,
        reachability_time: 0x54,
    }
    MibUnicastIpAddressTable = 0x8 / 8 { num_entries: 0x0, table: 0x8 }
    MibIpForwardTable2 = 0x8 / 8 { num_entries: 0x0, table: 0x8 }
    MibIpNetTable2 = 0x8 / 8 { num_entries: 0x0, table: 0x8 }
}

// The NDIS_SIZEOF_* sizes that go into object headers: WDK
// (RTL_SIZEOF_THROUGH_FIELD of the field each names).
constants! {
    NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1 = 0x18,
    NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2 = 0xe0,
    NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1 = 0x8,
    NDIS_SIZEOF_OID_REQUEST_REVISION_1 = 0xec,
    NDIS_SIZEOF_SWITCH_OPTIONAL_HANDLERS_REVISION_1 = 0x70,
    NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 = 0x10,
    NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1 = 0x38,
    NDIS_SIZEOF_NDIS_SWITCH_PARAMETERS_REVISION_1 = 0x415,
    NDIS_SIZEOF_NDIS_SWITCH_PORT_PARAMETERS_REVISION_1 = 0x420,
    NDIS_SIZEOF_NDIS_SWITCH_PORT_ARRAY_REVISION_1 = 0x14,
    NDIS_SIZEOF_NDIS_SWITCH_NIC_PARAMETERS_REVISION_1 = 0x89f,
    NDIS_SIZEOF_NDIS_SWITCH_NIC_ARRAY_REVISION_1 = 0x14,
    NDIS_SIZEOF_NDIS_SWITCH_NIC_OID_REQUEST_REVISION_1 = 0x20,
    NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1 = 0x40,
    NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_DELETE_PARAMETERS_REVISION_1 = 0x30,
}
