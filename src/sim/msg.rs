//! Building requests as ovs-vswitchd's netlink layer does (for the demo and
//! for scenario tests).

use std::string::String;
use std::vec::Vec;

use crate::netlink::{MsgHeader, NLM_F_REQUEST, OVS_MSG_LEN};

/// One attribute in its wire form (header, payload, padding).
pub fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + payload.len() + 3);
    v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(crate::netlink::align(v.len()), 0);
    v
}

/// A request message under construction.
#[derive(Clone, Debug)]
pub struct Req {
    pub hdr: MsgHeader,
    pub attrs: Vec<u8>,
}

impl Req {
    pub fn new(ty: u16, cmd: u8, version: u8, seq: u32, pid: u32) -> Req {
        Req {
            hdr: MsgHeader {
                ty,
                flags: NLM_F_REQUEST,
                seq,
                pid,
                cmd,
                version,
                ..MsgHeader::default()
            },
            attrs: Vec::new(),
        }
    }
    pub fn flags(mut self, f: u16) -> Req {
        self.hdr.flags = f;
        self
    }
    pub fn dp(mut self, ifindex: i32) -> Req {
        self.hdr.dp_ifindex = ifindex;
        self
    }
    pub fn raw(mut self, ty: u16, payload: &[u8]) -> Req {
        self.attrs.extend(attr(ty, payload));
        self
    }
    pub fn u8(self, ty: u16, v: u8) -> Req {
        self.raw(ty, &[v])
    }
    pub fn u16(self, ty: u16, v: u16) -> Req {
        self.raw(ty, &v.to_ne_bytes())
    }
    pub fn u32(self, ty: u16, v: u32) -> Req {
        self.raw(ty, &v.to_ne_bytes())
    }
    pub fn str(self, ty: u16, s: &str) -> Req {
        let mut p = s.as_bytes().to_vec();
        p.push(0);
        self.raw(ty, &p)
    }
    pub fn bytes(&self) -> Vec<u8> {
        let hdr = MsgHeader {
            len: (OVS_MSG_LEN + self.attrs.len()) as u32,
            ..self.hdr
        };
        let mut v = hdr.to_bytes().to_vec();
        v.extend_from_slice(&self.attrs);
        v
    }
    pub fn hex(&self) -> String {
        super::hex(&self.bytes())
    }
}
