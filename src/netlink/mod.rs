//! Netlink wire format as the Windows datapath carries it: every message is
//! `nlmsghdr` (16) + `genlmsghdr` (4) + `ovs_header` (4) + attributes, all in
//! host byte order, attributes aligned to 4 bytes.

mod attr;
mod builder;
mod errno;
mod msg;
mod policy;

pub use attr::{Attr, AttrIter, attrs};
pub use builder::{NlBuf, Overflow};
pub use errno::Errno;
pub use msg::{MsgHeader, NlMsg};
pub use policy::{AttrPolicy, Kind, Parsed, parse, parse_liberal};

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
pub const OVS_HDRLEN: usize = 4;
/// `sizeof(OVS_MESSAGE)`: where the attributes of every message start.
pub const OVS_MSG_LEN: usize = NLMSG_HDRLEN + GENL_HDRLEN + OVS_HDRLEN;
/// `sizeof(OVS_MESSAGE_ERROR)`.
pub const OVS_ERROR_MSG_LEN: usize = NLMSG_HDRLEN + 4 + NLMSG_HDRLEN;
pub const NLA_HDRLEN: usize = 4;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;

pub const NLM_F_REQUEST: u16 = 0x001;
pub const NLM_F_MULTI: u16 = 0x002;
pub const NLM_F_ACK: u16 = 0x004;
pub const NLM_F_ECHO: u16 = 0x008;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

pub const NLA_F_NESTED: u16 = 1 << 15;
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

pub const NETLINK_NETFILTER: u32 = 12;
pub const NETLINK_GENERIC: u32 = 16;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Bytes an attribute with `payload` bytes takes in a stream, padding
/// included (Linux's `nla_total_size`).
pub const fn attr_size(payload: usize) -> usize {
    align(NLA_HDRLEN + payload)
}
