//! Checked view of one netlink message (`OVS_MESSAGE` + attributes).

use super::{Attr, AttrIter, NLMSG_HDRLEN, OVS_MSG_LEN};

/// The fixed 24-byte head of every message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgHeader {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// genl `cmd`, or for netfilter messages `nfgen_family`.
    pub cmd: u8,
    pub version: u8,
    pub reserved: u16,
    pub dp_ifindex: i32,
}

impl MsgHeader {
    /// Reads the 24-byte head; `None` if `buf` is shorter.
    pub fn read(buf: &[u8]) -> Option<MsgHeader> {
        let b: &[u8; OVS_MSG_LEN] = buf.get(..OVS_MSG_LEN)?.try_into().ok()?;
        Some(MsgHeader {
            len: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            ty: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            pid: u32::from_ne_bytes([b[12], b[13], b[14], b[15]]),
            cmd: b[16],
            version: b[17],
            reserved: u16::from_ne_bytes([b[18], b[19]]),
            dp_ifindex: i32::from_ne_bytes([b[20], b[21], b[22], b[23]]),
        })
    }

    /// The 16-byte `nlmsghdr` as it is copied into an `NLMSG_ERROR`.
    pub fn nlmsghdr_bytes(&self) -> [u8; NLMSG_HDRLEN] {
        let mut out = [0u8; NLMSG_HDRLEN];
        out[0..4].copy_from_slice(&self.len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        out[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        out[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        out[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        out
    }

    /// The full 24 bytes, as stored for a dump in progress.
    pub fn to_bytes(&self) -> [u8; OVS_MSG_LEN] {
        let mut out = [0u8; OVS_MSG_LEN];
        out[..NLMSG_HDRLEN].copy_from_slice(&self.nlmsghdr_bytes());
        out[16] = self.cmd;
        out[17] = self.version;
        out[18..20].copy_from_slice(&self.reserved.to_ne_bytes());
        out[20..24].copy_from_slice(&self.dp_ifindex.to_ne_bytes());
        out
    }
}

/// A message whose header and length were checked against its buffer.
#[derive(Clone, Copy, Debug)]
pub struct NlMsg<'a> {
    pub hdr: MsgHeader,
    payload: &'a [u8],
}

impl<'a> NlMsg<'a> {
    /// Checks that `buf` holds a whole message: at least the 24-byte head and
    /// `nlmsg_len` bytes. Trailing bytes beyond `nlmsg_len` are ignored.
    pub fn new_checked(buf: &'a [u8]) -> Option<NlMsg<'a>> {
        let hdr = MsgHeader::read(buf)?;
        let len = usize::try_from(hdr.len).ok()?;
        if len < OVS_MSG_LEN || len > buf.len() {
            return None;
        }
        Some(NlMsg {
            hdr,
            payload: buf.get(OVS_MSG_LEN..len)?,
        })
    }

    /// The attribute stream after the head (possibly with trailing garbage,
    /// which the attribute iterator reports).
    pub fn attr_bytes(&self) -> &'a [u8] {
        self.payload
    }

    pub fn attrs(&self) -> AttrIter<'a> {
        super::attrs(self.payload)
    }

    /// First attribute of this type, if any (later duplicates are ignored).
    pub fn find(&self, ty: u16) -> Option<Attr<'a>> {
        self.attrs().flatten().find(|a| a.ty() == ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(len: u32, extra: &[u8]) -> std::vec::Vec<u8> {
        let h = MsgHeader {
            len,
            ty: 0x12,
            flags: 1,
            seq: 7,
            pid: 3,
            cmd: 3,
            version: 2,
            reserved: 0,
            dp_ifindex: 0,
        };
        let mut v = h.to_bytes().to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn header_roundtrip() {
        let v = msg(24, &[]);
        let m = NlMsg::new_checked(&v).unwrap();
        assert_eq!(m.hdr.ty, 0x12);
        assert_eq!(m.hdr.seq, 7);
        assert_eq!(m.hdr.to_bytes().as_slice(), v.as_slice());
        assert!(m.attr_bytes().is_empty());
    }

    #[test]
    fn rejects_short_or_overlong() {
        assert!(NlMsg::new_checked(&[0u8; 23]).is_none());
        assert!(NlMsg::new_checked(&msg(23, &[])).is_none());
        assert!(NlMsg::new_checked(&msg(28, &[])).is_none());
        assert!(NlMsg::new_checked(&msg(28, &[4, 0, 1, 0])).is_some());
    }
}
