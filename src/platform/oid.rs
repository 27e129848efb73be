//! Hyper-V extensible-switch OID payloads, read from the bytes of an OID
//! request's information buffer. Offsets are the x64 layouts of
//! `ntddndis.h` (NDIS 6.30), the same the driver's bindings declare;
//! `tests/sys_host.rs` builds its fixtures from those bindings' offsets.

use super::name::{BadName, NameBuf};

// The OIDs the extension looks at (ntddndis.h).
pub const OID_SWITCH_NIC_REQUEST: u32 = 0x0001_0270;
pub const OID_SWITCH_PORT_PROPERTY_ADD: u32 = 0x0001_0271;
pub const OID_SWITCH_PORT_PROPERTY_UPDATE: u32 = 0x0001_0272;
pub const OID_SWITCH_PORT_PROPERTY_DELETE: u32 = 0x0001_0273;
pub const OID_SWITCH_PARAMETERS: u32 = 0x0001_0275;
pub const OID_SWITCH_PORT_ARRAY: u32 = 0x0001_0276;
pub const OID_SWITCH_NIC_ARRAY: u32 = 0x0001_0277;
pub const OID_SWITCH_PORT_CREATE: u32 = 0x0001_0278;
pub const OID_SWITCH_PORT_DELETE: u32 = 0x0001_0279;
pub const OID_SWITCH_NIC_CREATE: u32 = 0x0001_027a;
pub const OID_SWITCH_NIC_CONNECT: u32 = 0x0001_027b;
pub const OID_SWITCH_NIC_DISCONNECT: u32 = 0x0001_027c;
pub const OID_SWITCH_NIC_DELETE: u32 = 0x0001_027d;
pub const OID_SWITCH_PORT_TEARDOWN: u32 = 0x0001_027f;
pub const OID_SWITCH_NIC_UPDATED: u32 = 0x0001_0294;
pub const OID_SWITCH_PORT_UPDATED: u32 = 0x0001_0295;
/// SR-IOV virtual function allocation, seen inside `OID_SWITCH_NIC_REQUEST`.
pub const OID_NIC_SWITCH_ALLOCATE_VF: u32 = 0x0001_0245;

/// `NDIS_OBJECT_TYPE_DEFAULT`: the header type of every switch payload.
pub const NDIS_OBJECT_TYPE_DEFAULT: u8 = 0x80;
/// `NDIS_OBJECT_HEADER`.
pub const OBJECT_HEADER_SIZE: usize = 4;

// NDIS_SIZEOF_*_REVISION_1 of the payloads: through their last field.
pub const SWITCH_PARAMETERS_SIZE: u16 = 0x415;
pub const PORT_PARAMETERS_SIZE: u16 = 0x420;
pub const PORT_ARRAY_SIZE: u16 = 0x14;
pub const NIC_PARAMETERS_SIZE: u16 = 0x89f;
pub const NIC_ARRAY_SIZE: u16 = 0x14;
pub const NIC_OID_REQUEST_SIZE: u16 = 0x20;
pub const PORT_PROPERTY_PARAMETERS_SIZE: u16 = 0x40;
pub const PORT_PROPERTY_DELETE_PARAMETERS_SIZE: u16 = 0x30;

// NDIS_SWITCH_PORT_TYPE.
pub const PORT_TYPE_EXTERNAL: u32 = 1;
pub const PORT_TYPE_SYNTHETIC: u32 = 2;
pub const PORT_TYPE_EMULATED: u32 = 3;
pub const PORT_TYPE_INTERNAL: u32 = 4;

// NDIS_SWITCH_NIC_TYPE.
pub const NIC_TYPE_EXTERNAL: u32 = 0;
pub const NIC_TYPE_SYNTHETIC: u32 = 1;
pub const NIC_TYPE_EMULATED: u32 = 2;
pub const NIC_TYPE_INTERNAL: u32 = 3;

/// `NdisSwitchNicStateConnected`.
pub const NIC_STATE_CONNECTED: u32 = 2;
/// `NdisSwitchPortPropertyTypeVlan`.
pub const PORT_PROPERTY_TYPE_VLAN: u32 = 3;
/// `NdisRequestSetInformation` / `NdisRequestMethod`.
pub const REQUEST_SET: u32 = 1;
pub const REQUEST_METHOD: u32 = 12;

/// `IF_COUNTED_STRING`: a USHORT byte length, then 257 WCHARs.
const COUNTED_STRING_SIZE: usize = 2 + 2 * 257;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(*b.get(at..)?.first_chunk()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(*b.get(at..)?.first_chunk()?))
}

fn array_at<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..)?.first_chunk().copied()
}

/// The `NDIS_OBJECT_HEADER` a query's buffer must carry for the switch to
/// fill it: default type, revision 1, `size` bytes.
pub fn query_header(size: u16) -> [u8; OBJECT_HEADER_SIZE] {
    let [lo, hi] = size.to_le_bytes();
    [NDIS_OBJECT_TYPE_DEFAULT, 1, lo, hi]
}

/// Whether `b` starts with a default-type header of at least revision 1
/// announcing at least `size` bytes, and holds them.
pub fn header_ok(b: &[u8], size: u16) -> bool {
    match b.first_chunk::<OBJECT_HEADER_SIZE>() {
        Some(&[ty, revision, lo, hi]) => {
            ty == NDIS_OBJECT_TYPE_DEFAULT
                && revision >= 1
                && u16::from_le_bytes([lo, hi]) >= size
                && b.len() >= usize::from(size)
        }
        None => false,
    }
}

/// An `IF_COUNTED_STRING` inside a payload, decoded on demand.
#[derive(Clone, Copy, Debug)]
pub struct CountedString<'a>(&'a [u8]);

impl<'a> CountedString<'a> {
    fn at(b: &'a [u8], at: usize) -> Option<CountedString<'a>> {
        b.get(at..at.checked_add(COUNTED_STRING_SIZE)?)
            .map(CountedString)
    }

    pub fn decode(&self) -> Result<NameBuf, BadName> {
        let len = u16_at(self.0, 0).map_or(0, usize::from);
        let units = self.0.get(2..).unwrap_or(&[]);
        // A length past the array is malformed.
        let bytes = units.get(..len & !1).ok_or(BadName::Invalid)?;
        NameBuf::from_utf16(
            bytes
                .chunks_exact(2)
                .filter_map(|c| c.first_chunk().copied())
                .map(u16::from_le_bytes),
        )
    }
}

/// `NDIS_SWITCH_PORT_PARAMETERS`.
#[derive(Clone, Copy, Debug)]
pub struct PortParams<'a> {
    pub port_id: u32,
    pub port_type: u32,
    pub validation: bool,
    pub friendly_name: CountedString<'a>,
}

impl<'a> PortParams<'a> {
    /// `None` if the header or the length is wrong.
    pub fn parse(b: &'a [u8]) -> Option<PortParams<'a>> {
        if !header_ok(b, PORT_PARAMETERS_SIZE) {
            return None;
        }
        Some(PortParams {
            port_id: u32_at(b, 0x8)?,
            friendly_name: CountedString::at(b, 0x210)?,
            port_type: u32_at(b, 0x414)?,
            validation: *b.get(0x418)? != 0,
        })
    }
}

/// `NDIS_SWITCH_NIC_PARAMETERS` (revision 1 fields).
#[derive(Clone, Copy, Debug)]
pub struct NicParams<'a> {
    pub nic_name: CountedString<'a>,
    pub nic_friendly_name: CountedString<'a>,
    pub port_id: u32,
    pub nic_index: u16,
    pub nic_type: u32,
    pub nic_state: u32,
    /// `NetCfgInstanceId`: the host interface's GUID, as stored.
    pub net_cfg_instance_id: [u8; 16],
    pub mtu: u32,
    pub permanent_mac: [u8; 6],
    pub vm_mac: [u8; 6],
    pub current_mac: [u8; 6],
}

impl<'a> NicParams<'a> {
    /// `None` if the header or the length is wrong.
    pub fn parse(b: &'a [u8]) -> Option<NicParams<'a>> {
        if !header_ok(b, NIC_PARAMETERS_SIZE) {
            return None;
        }
        Some(NicParams {
            nic_name: CountedString::at(b, 0x8)?,
            nic_friendly_name: CountedString::at(b, 0x20c)?,
            port_id: u32_at(b, 0x410)?,
            nic_index: u16_at(b, 0x414)?,
            nic_type: u32_at(b, 0x418)?,
            nic_state: u32_at(b, 0x41c)?,
            net_cfg_instance_id: array_at(b, 0x828)?,
            mtu: u32_at(b, 0x838)?,
            permanent_mac: array_at(b, 0x83e)?,
            vm_mac: array_at(b, 0x85e)?,
            current_mac: array_at(b, 0x87e)?,
        })
    }

    /// The address the endpoint answers to: the current MAC, else (for a
    /// VM NIC) the one configured for the VM, else the permanent one.
    pub fn mac(&self) -> [u8; 6] {
        let vm = matches!(self.nic_type, NIC_TYPE_SYNTHETIC | NIC_TYPE_EMULATED);
        [
            Some(self.current_mac),
            vm.then_some(self.vm_mac),
            Some(self.permanent_mac),
        ]
        .into_iter()
        .flatten()
        .find(|m| *m != [0; 6])
        .unwrap_or([0; 6])
    }
}

/// The elements of an `NDIS_SWITCH_PORT_ARRAY` / `NDIS_SWITCH_NIC_ARRAY`
/// (`array_size` is the array header's size, `element_size` the least an
/// element must hold). `None` if the array is malformed.
pub fn elements(
    b: &[u8],
    array_size: u16,
    element_size: u16,
) -> Option<impl Iterator<Item = &[u8]>> {
    if !header_ok(b, array_size) {
        return None;
    }
    let first = usize::from(u16_at(b, 0x8)?);
    let count = u32_at(b, 0xc)? as usize;
    let size = u32_at(b, 0x10)? as usize;
    if size == 0 || size < usize::from(element_size) {
        return None;
    }
    let end = count.checked_mul(size)?.checked_add(first)?;
    let all = b.get(first..end)?;
    Some(all.chunks_exact(size))
}

/// `NDIS_SWITCH_PARAMETERS.IsActive` of an `OID_SWITCH_PARAMETERS` answer.
pub fn switch_is_active(b: &[u8]) -> Option<bool> {
    if !header_ok(b, SWITCH_PARAMETERS_SIZE) {
        return None;
    }
    Some(*b.get(0x414)? != 0)
}

/// `PropertyType` of a port property add/update/delete payload (`delete`
/// selects `NDIS_SWITCH_PORT_PROPERTY_DELETE_PARAMETERS`); `None` if the
/// header or the length is wrong.
pub fn port_property_type(b: &[u8], delete: bool) -> Option<u32> {
    let size = if delete {
        PORT_PROPERTY_DELETE_PARAMETERS_SIZE
    } else {
        PORT_PROPERTY_PARAMETERS_SIZE
    };
    if !header_ok(b, size) {
        return None;
    }
    u32_at(b, 0xc)
}

/// Whether an `OID_SWITCH_NIC_REQUEST` payload is well formed (the inner
/// request it points to is the platform's to read).
pub fn nic_request_ok(b: &[u8]) -> bool {
    header_ok(b, NIC_OID_REQUEST_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let mut b = [0u8; 0x20];
        b[..4].copy_from_slice(&query_header(0x20));
        assert!(header_ok(&b, 0x20));
        assert!(
            !header_ok(&b[..0x1f], 0x20),
            "buffer shorter than its header says"
        );
        assert!(!header_ok(&b, 0x21));
        b[1] = 0;
        assert!(!header_ok(&b, 0x20), "revision 0");
        b[1] = 2;
        assert!(header_ok(&b, 0x20), "later revisions are supersets");
        b[0] = 0x81;
        assert!(!header_ok(&b, 0x20));
        assert!(!header_ok(&b[..3], 0));
    }

    #[test]
    fn counted_strings() {
        let mut b = [0u8; COUNTED_STRING_SIZE];
        b[..2].copy_from_slice(&6u16.to_le_bytes());
        for (i, c) in "abc".bytes().enumerate() {
            b[2 + 2 * i] = c;
        }
        let decode = |b: &[u8]| CountedString::at(b, 0).unwrap().decode();
        assert_eq!(decode(&b).unwrap().as_str(), "abc");
        // An odd byte count keeps the whole units.
        b[..2].copy_from_slice(&5u16.to_le_bytes());
        assert_eq!(decode(&b).unwrap().as_str(), "ab");
        b[..2].copy_from_slice(&516u16.to_le_bytes());
        assert_eq!(decode(&b), Err(BadName::Invalid));
        assert!(CountedString::at(&b[1..], 0).is_none());
    }

    #[test]
    fn arrays() {
        let mut b = [0u8; 0x14 + 3 * 8];
        b[..4].copy_from_slice(&query_header(0x14));
        b[8..10].copy_from_slice(&0x14u16.to_le_bytes());
        b[0xc..0x10].copy_from_slice(&3u32.to_le_bytes());
        b[0x10..0x14].copy_from_slice(&8u32.to_le_bytes());
        b[0x14] = 1;
        b[0x14 + 16] = 3;
        let firsts: alloc::vec::Vec<u8> = elements(&b, 0x14, 8).unwrap().map(|e| e[0]).collect();
        assert_eq!(firsts, [1, 0, 3]);
        assert!(elements(&b, 0x14, 9).is_none(), "elements too small");
        assert!(elements(&b[..b.len() - 1], 0x14, 8).is_none(), "truncated");
        b[0xc..0x10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(elements(&b, 0x14, 8).is_none(), "count overflows");
        b[0xc..0x10].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(elements(&b, 0x14, 8).unwrap().count(), 0);
    }
}
