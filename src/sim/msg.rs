//! Building requests as ovs-vswitchd's netlink layer does (for the demo and
//! for scenario tests), and describing replies in words (for the trace).

use std::format;
use std::string::String;
use std::vec::Vec;

use crate::netlink::{Attr, MsgHeader, NLM_F_REQUEST, NlMsg, OVS_MSG_LEN};
use crate::ovs;

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

fn family_name(ty: u16) -> String {
    let name = match ty {
        crate::netlink::NLMSG_ERROR => "NLMSG_ERROR",
        crate::netlink::NLMSG_DONE => "NLMSG_DONE",
        ovs::family::CONTROL => "ovs_win_control",
        ovs::family::DATAPATH => "ovs_datapath",
        ovs::family::PACKET => "ovs_packet",
        ovs::family::VPORT => "ovs_vport",
        ovs::family::FLOW => "ovs_flow",
        ovs::family::NETDEV => "ovs_win_netdev",
        ovs::family::METER => "ovs_meter",
        ovs::family::CT_LIMIT => "ovs_ct_limit",
        _ => return format!("type 0x{ty:x}"),
    };
    name.into()
}

fn cmd_name(ty: u16, cmd: u8) -> String {
    let generic = ["UNSPEC", "NEW", "DEL", "GET", "SET"];
    let name = match ty {
        ovs::family::CONTROL => [
            "PEND_REQ",
            "PEND_PACKET_REQ",
            "MC_SUBSCRIBE",
            "PACKET_SUBSCRIBE",
            "EVENT_NOTIFY",
            "READ_NOTIFY",
            "SOCK_PROP",
        ]
        .get(usize::from(cmd))
        .copied(),
        ovs::family::PACKET => ["UNSPEC", "MISS", "ACTION", "EXECUTE"]
            .get(usize::from(cmd))
            .copied(),
        ovs::family::METER => ["UNSPEC", "FEATURES", "SET", "DEL", "GET"]
            .get(usize::from(cmd))
            .copied(),
        _ => generic.get(usize::from(cmd)).copied(),
    };
    name.map_or_else(|| format!("cmd {cmd}"), String::from)
}

fn describe_attr(a: &Attr<'_>) -> String {
    let p = a.payload();
    if let Some(s) = a
        .str()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
    {
        return format!("{}=\"{s}\"", a.ty());
    }
    match p.len() {
        1 => format!("{}={}", a.ty(), p.first().copied().unwrap_or(0)),
        2 => format!("{}={}", a.ty(), a.u16().unwrap_or(0)),
        4 => format!("{}={}", a.ty(), a.u32().unwrap_or(0)),
        _ => format!("{}=<{} bytes>", a.ty(), p.len()),
    }
}

/// One line per message in `bytes`, in words: family, command, and attributes
/// (by number; strings and integers shown by value).
pub fn describe(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(hdr) = MsgHeader::read(rest).or_else(|| {
        // A bare nlmsghdr (NLMSG_DONE) or an error message is shorter than 24.
        let mut padded = rest.get(..rest.len().min(16))?.to_vec();
        padded.resize(OVS_MSG_LEN, 0);
        MsgHeader::read(&padded).filter(|_| rest.len() >= 16)
    }) {
        let len = (hdr.len as usize).clamp(16, rest.len());
        let this = rest.get(..len).unwrap_or_default();
        let line = if hdr.ty == crate::netlink::NLMSG_ERROR {
            let err = this
                .get(16..20)
                .and_then(|b| b.try_into().ok())
                .map_or(0, i32::from_ne_bytes);
            format!("NLMSG_ERROR errno {err} (seq {})", hdr.seq)
        } else if hdr.ty == crate::netlink::NLMSG_DONE {
            format!("NLMSG_DONE (seq {})", hdr.seq)
        } else {
            let attrs: Vec<String> = NlMsg::new_checked(this)
                .map(|m| m.attrs().flatten().map(|a| describe_attr(&a)).collect())
                .unwrap_or_default();
            format!(
                "{} {} (seq {}, pid {}) {}",
                family_name(hdr.ty),
                cmd_name(hdr.ty, hdr.cmd),
                hdr.seq,
                hdr.pid,
                attrs.join(" ")
            )
        };
        out.push(line);
        rest = rest.get(crate::netlink::align(len)..).unwrap_or_default();
    }
    out
}
