//! Fallible netlink message builder over a caller-provided buffer (the IOCTL
//! output buffer, or a pre-sized queue element). Nothing is ever written past
//! the buffer; every `put` reports `Overflow` instead.

use super::{MsgHeader, NLA_F_NESTED, NLA_HDRLEN, align};

/// The buffer is too small for what was being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

pub struct NlBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> NlBuf<'a> {
    pub fn new(buf: &'a mut [u8]) -> NlBuf<'a> {
        NlBuf { buf, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Drops everything written after `len` (rolls back a partial message).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Reserves `n` bytes (zeroed, then padded to alignment) and returns them.
    fn reserve(&mut self, n: usize) -> Result<&mut [u8], Overflow> {
        let start = self.len;
        let end = start.checked_add(align(n)).ok_or(Overflow)?;
        let region = self.buf.get_mut(start..end).ok_or(Overflow)?;
        region.fill(0);
        self.len = end;
        region.get_mut(..n).ok_or(Overflow)
    }

    pub fn put_raw(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        self.reserve(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Starts a message with this head; `len` is filled in by `end_msg`.
    pub fn begin_msg(&mut self, hdr: &MsgHeader) -> Result<usize, Overflow> {
        let start = self.len;
        self.put_raw(&hdr.to_bytes())?;
        Ok(start)
    }

    /// Starts a bare 16-byte `nlmsghdr` message (NLMSG_DONE).
    pub fn begin_nlmsg(&mut self, hdr: &MsgHeader) -> Result<usize, Overflow> {
        let start = self.len;
        self.put_raw(&hdr.nlmsghdr_bytes())?;
        Ok(start)
    }

    /// Patches `nlmsg_len` of the message begun at `start`.
    pub fn end_msg(&mut self, start: usize) {
        let len = self.len.saturating_sub(start) as u32;
        if let Some(field) = self.buf.get_mut(start..start + 4) {
            field.copy_from_slice(&len.to_ne_bytes());
        }
    }

    /// Writes an attribute header plus `n` zeroed payload bytes, returns the payload.
    pub fn put_attr_uninit(&mut self, ty: u16, n: usize) -> Result<&mut [u8], Overflow> {
        let total = u16::try_from(NLA_HDRLEN + n).map_err(|_| Overflow)?;
        let region = self.reserve(NLA_HDRLEN + n)?;
        let (hdr, payload) = region.split_at_mut_checked(NLA_HDRLEN).ok_or(Overflow)?;
        let [total, ty] = [total.to_ne_bytes(), ty.to_ne_bytes()];
        hdr.copy_from_slice(&[total[0], total[1], ty[0], ty[1]]);
        Ok(payload)
    }

    pub fn put_attr(&mut self, ty: u16, payload: &[u8]) -> Result<(), Overflow> {
        self.put_attr_uninit(ty, payload.len())?
            .copy_from_slice(payload);
        Ok(())
    }

    pub fn put_flag(&mut self, ty: u16) -> Result<(), Overflow> {
        self.put_attr(ty, &[])
    }
    pub fn put_u8(&mut self, ty: u16, v: u8) -> Result<(), Overflow> {
        self.put_attr(ty, &[v])
    }
    pub fn put_u16(&mut self, ty: u16, v: u16) -> Result<(), Overflow> {
        self.put_attr(ty, &v.to_ne_bytes())
    }
    pub fn put_u32(&mut self, ty: u16, v: u32) -> Result<(), Overflow> {
        self.put_attr(ty, &v.to_ne_bytes())
    }
    pub fn put_u64(&mut self, ty: u16, v: u64) -> Result<(), Overflow> {
        self.put_attr(ty, &v.to_ne_bytes())
    }
    pub fn put_be16(&mut self, ty: u16, v: u16) -> Result<(), Overflow> {
        self.put_attr(ty, &v.to_be_bytes())
    }
    pub fn put_be32(&mut self, ty: u16, v: u32) -> Result<(), Overflow> {
        self.put_attr(ty, &v.to_be_bytes())
    }
    pub fn put_be64(&mut self, ty: u16, v: u64) -> Result<(), Overflow> {
        self.put_attr(ty, &v.to_be_bytes())
    }

    /// A NUL-terminated string attribute.
    pub fn put_str(&mut self, ty: u16, s: &str) -> Result<(), Overflow> {
        let p = self.put_attr_uninit(ty, s.len() + 1)?;
        if let Some(body) = p.get_mut(..s.len()) {
            body.copy_from_slice(s.as_bytes());
        }
        Ok(())
    }

    /// Opens a nested attribute; close it with `end_nested`.
    pub fn begin_nested(&mut self, ty: u16) -> Result<usize, Overflow> {
        let start = self.len;
        self.put_attr_uninit(ty, 0)?;
        Ok(start)
    }

    /// Closes the nest begun at `start`, patching its length.
    pub fn end_nested(&mut self, start: usize) -> Result<(), Overflow> {
        let len = u16::try_from(self.len.saturating_sub(start)).map_err(|_| Overflow)?;
        if let Some(field) = self.buf.get_mut(start..start + 2) {
            field.copy_from_slice(&len.to_ne_bytes());
        }
        Ok(())
    }

    /// Like `begin_nested` with the `NLA_F_NESTED` bit set on the type.
    pub fn begin_nested_flagged(&mut self, ty: u16) -> Result<usize, Overflow> {
        self.begin_nested(ty | NLA_F_NESTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{NlMsg, attrs};

    #[test]
    fn builds_parsable_message() {
        let mut mem = [0xAAu8; 128];
        let mut b = NlBuf::new(&mut mem);
        let hdr = MsgHeader {
            ty: 0x14,
            seq: 9,
            pid: 2,
            cmd: 1,
            version: 1,
            ..Default::default()
        };
        let m = b.begin_msg(&hdr).unwrap();
        b.put_u32(1, 5).unwrap();
        b.put_str(3, "eth0").unwrap();
        let n = b.begin_nested(4).unwrap();
        b.put_u16(1, 4789).unwrap();
        b.end_nested(n).unwrap();
        b.end_msg(m);
        let len = b.len();
        assert_eq!(len, 24 + 8 + 12 + 12);
        let msg = NlMsg::new_checked(&mem[..len]).unwrap();
        assert_eq!(msg.hdr.len as usize, len);
        let v: std::vec::Vec<_> = msg.attrs().map(|a| a.unwrap()).collect();
        assert_eq!(v[1].str(), Some("eth0"));
        let inner: std::vec::Vec<_> = v[2].nested().map(|a| a.unwrap()).collect();
        assert_eq!(inner[0].u16(), Some(4789));
        // padding is zeroed, never stale
        assert_eq!(&mem[24 + 8 + 9..24 + 8 + 12], &[0, 0, 0]);
        assert!(attrs(&mem[24..len]).validate().is_ok());
    }

    #[test]
    fn overflow_never_writes_past_buffer() {
        let mut mem = [0u8; 30];
        let mut b = NlBuf::new(&mut mem[..26]);
        b.begin_msg(&MsgHeader::default()).unwrap();
        assert_eq!(b.put_u32(1, 1), Err(Overflow));
        assert_eq!(b.len(), 24);
        assert_eq!(&mem[26..], &[0, 0, 0, 0]);
    }
}
