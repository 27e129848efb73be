//! Connections as conntrack netlink messages (`ctnetlink`), in the layout
//! the Windows userspace reads (`lib/netlink-conntrack.c` with its `_WIN32`
//! branches; reference §4.6): a 16-byte netlink header, the Windows
//! `nfgenmsg` (family, version 0, res_id, and the 4-byte OVS header), then
//! `CTA_*` attributes. The family is AF_INET (2) or AF_INET6 as Windows
//! numbers it (23); TCP states are in OVS's `CT_DPIF_TCPS_*` numbering.
//!
//! One TCP state is reported for both ends (userspace keeps one): the more
//! advanced of the two ends' states.

use super::conn::{Conn, Ext, L4};
use super::tuple::*;
use crate::netlink::{MsgHeader, NlBuf, Overflow, attrs};

/// `NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_*`.
pub const MSG_NEW: u16 = 0x0100;
pub const MSG_DELETE: u16 = 0x0102;
pub const AF_INET: u8 = 2;
/// AF_INET6 as Windows numbers it.
pub const AF_INET6: u8 = 23;
/// Linux's AF_INET6, accepted in requests too.
const AF_INET6_LINUX: u8 = 10;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_PROTOINFO: u16 = 4;
const CTA_HELP: u16 = 5;
const CTA_TIMEOUT: u16 = 7;
const CTA_MARK: u16 = 8;
const CTA_COUNTERS_ORIG: u16 = 9;
const CTA_COUNTERS_REPLY: u16 = 10;
const CTA_ID: u16 = 12;
const CTA_TUPLE_MASTER: u16 = 14;
pub const CTA_ZONE: u16 = 18;
const CTA_TIMESTAMP: u16 = 20;
const CTA_LABELS: u16 = 22;

const CTA_HELP_NAME: u16 = 1;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const CTA_PROTO_ICMP_ID: u16 = 4;
const CTA_PROTO_ICMP_TYPE: u16 = 5;
const CTA_PROTO_ICMP_CODE: u16 = 6;
const CTA_PROTO_ICMPV6_ID: u16 = 7;
const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
const CTA_PROTO_ICMPV6_CODE: u16 = 9;
const CTA_TIMESTAMP_START: u16 = 1;
const CTA_COUNTERS_PACKETS: u16 = 1;
const CTA_COUNTERS_BYTES: u16 = 2;
const CTA_PROTOINFO_TCP: u16 = 1;
const CTA_PROTOINFO_TCP_STATE: u16 = 1;
const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;

/// `IPS_*` status bits.
const IPS_SEEN_REPLY: u32 = 1 << 1;
const IPS_CONFIRMED: u32 = 1 << 3;
const IPS_SRC_NAT: u32 = 1 << 4;
const IPS_DST_NAT: u32 = 1 << 5;
/// `CT_DPIF_TCPF_WINDOW_SCALE`.
const TCPF_WINDOW_SCALE: u8 = 1;

/// The header of a conntrack message of type `ty` about a connection of
/// family `v6`.
pub fn header(ty: u16, flags: u16, seq: u32, pid: u32, v6: bool) -> MsgHeader {
    MsgHeader {
        ty,
        flags,
        seq,
        pid,
        cmd: if v6 { AF_INET6 } else { AF_INET },
        ..MsgHeader::default()
    }
}

fn nest(
    b: &mut NlBuf<'_>,
    ty: u16,
    body: impl FnOnce(&mut NlBuf<'_>) -> Result<(), Overflow>,
) -> Result<(), Overflow> {
    let n = b.begin_nested_flagged(ty)?;
    body(b)?;
    b.end_nested(n)
}

fn tuple(b: &mut NlBuf<'_>, ty: u16, t: &Tuple) -> Result<(), Overflow> {
    nest(b, ty, |b| {
        nest(b, CTA_TUPLE_IP, |b| {
            if t.v6 == 1 {
                b.put_attr(CTA_IP_V6_SRC, &t.src)?;
                b.put_attr(CTA_IP_V6_DST, &t.dst)
            } else {
                b.put_attr(CTA_IP_V4_SRC, &first4(&t.src))?;
                b.put_attr(CTA_IP_V4_DST, &first4(&t.dst))
            }
        })?;
        nest(b, CTA_TUPLE_PROTO, |b| {
            b.put_u8(CTA_PROTO_NUM, t.proto)?;
            let [ty, code] = t.dport.to_be_bytes();
            if t.is_icmp() {
                let (id, typ, cod) = if t.v6 == 1 {
                    (
                        CTA_PROTO_ICMPV6_ID,
                        CTA_PROTO_ICMPV6_TYPE,
                        CTA_PROTO_ICMPV6_CODE,
                    )
                } else {
                    (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE)
                };
                b.put_be16(id, t.sport)?;
                b.put_u8(typ, ty)?;
                b.put_u8(cod, code)
            } else if matches!(t.proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
                b.put_be16(CTA_PROTO_SRC_PORT, t.sport)?;
                b.put_be16(CTA_PROTO_DST_PORT, t.dport)
            } else {
                Ok(())
            }
        })
    })
}

/// Writes the message about connection `c` (id `id`, extension `ext`) at
/// `now_ms`.
pub fn render(
    b: &mut NlBuf<'_>,
    hdr: &MsgHeader,
    c: &Conn,
    ext: Option<&Ext>,
    id: u32,
    now_ms: u64,
) -> Result<(), Overflow> {
    let m = b.begin_msg(hdr)?;
    tuple(b, CTA_TUPLE_ORIG, &c.orig)?;
    tuple(b, CTA_TUPLE_REPLY, &c.reply)?;
    let mut status = IPS_CONFIRMED;
    if c.seen_reply {
        status |= IPS_SEEN_REPLY;
    }
    let (snat, dnat) = super::nat::kinds(&c.orig, &c.reply);
    if snat {
        status |= IPS_SRC_NAT;
    }
    if dnat {
        status |= IPS_DST_NAT;
    }
    b.put_be32(CTA_STATUS, status)?;
    if let L4::Tcp(t) = &c.l4 {
        let [o, r] = t.peer;
        nest(b, CTA_PROTOINFO, |b| {
            nest(b, CTA_PROTOINFO_TCP, |b| {
                b.put_u8(CTA_PROTOINFO_TCP_STATE, o.state.max(r.state))?;
                b.put_u8(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, o.scale())?;
                b.put_u8(CTA_PROTOINFO_TCP_WSCALE_REPLY, r.scale())?;
                for (ty, p) in [
                    (CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, o),
                    (CTA_PROTOINFO_TCP_FLAGS_REPLY, r),
                ] {
                    let f = if p.scaled() { TCPF_WINDOW_SCALE } else { 0 };
                    b.put_attr(ty, &[f, f])?;
                }
                Ok(())
            })
        })?;
    }
    let left_s = c.expires_ms.saturating_sub(now_ms) / 1000;
    b.put_be32(CTA_TIMEOUT, u32::try_from(left_s).unwrap_or(u32::MAX))?;
    if c.mark != 0 {
        b.put_be32(CTA_MARK, c.mark)?;
    }
    for (ty, ctr) in [
        (CTA_COUNTERS_ORIG, c.counters[0]),
        (CTA_COUNTERS_REPLY, c.counters[1]),
    ] {
        nest(b, ty, |b| {
            b.put_be64(CTA_COUNTERS_PACKETS, ctr.packets)?;
            b.put_be64(CTA_COUNTERS_BYTES, ctr.bytes)
        })?;
    }
    if c.started_ns != 0 {
        nest(b, CTA_TIMESTAMP, |b| {
            b.put_be64(CTA_TIMESTAMP_START, c.started_ns)
        })?;
    }
    b.put_be32(CTA_ID, id)?;
    if c.orig.zone != 0 {
        b.put_be16(CTA_ZONE, c.orig.zone)?;
    }
    if c.labels != [0; 16] {
        b.put_attr(CTA_LABELS, &c.labels)?;
    }
    if let Some(h) = ext.and_then(|e| e.helper) {
        nest(b, CTA_HELP, |b| b.put_str(CTA_HELP_NAME, h.name()))?;
    }
    if let Some(master) = ext.and_then(|e| e.master.as_ref()) {
        tuple(b, CTA_TUPLE_MASTER, master)?;
    }
    b.end_msg(m);
    Ok(())
}

/// The family byte of a request: IPv6 or not; `None` for another family.
pub fn family_v6(family: u8) -> Option<bool> {
    match family {
        AF_INET => Some(false),
        AF_INET6 | AF_INET6_LINUX => Some(true),
        _ => None,
    }
}

/// A `CTA_TUPLE_ORIG` payload as a tuple of `zone`; `None` if it does not
/// name one.
pub fn parse_tuple(p: &[u8], v6: bool, zone: u16) -> Option<Tuple> {
    let mut t = Tuple {
        zone,
        v6: u8::from(v6),
        ..Tuple::default()
    };
    let (mut ty, mut code) = (0u8, 0u8);
    for a in attrs(p) {
        let a = a.ok()?;
        for m in a.nested() {
            let m = m.ok()?;
            let v = m.payload();
            match (a.ty(), m.ty()) {
                (CTA_TUPLE_IP, CTA_IP_V4_SRC) if !v6 => {
                    t.src.get_mut(..4)?.copy_from_slice(v.get(..4)?)
                }
                (CTA_TUPLE_IP, CTA_IP_V4_DST) if !v6 => {
                    t.dst.get_mut(..4)?.copy_from_slice(v.get(..4)?)
                }
                (CTA_TUPLE_IP, CTA_IP_V6_SRC) if v6 => t.src = v.try_into().ok()?,
                (CTA_TUPLE_IP, CTA_IP_V6_DST) if v6 => t.dst = v.try_into().ok()?,
                (CTA_TUPLE_PROTO, CTA_PROTO_NUM) => t.proto = m.u8()?,
                (CTA_TUPLE_PROTO, CTA_PROTO_SRC_PORT) => t.sport = m.be16()?,
                (CTA_TUPLE_PROTO, CTA_PROTO_DST_PORT) => t.dport = m.be16()?,
                (CTA_TUPLE_PROTO, CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID) => t.sport = m.be16()?,
                (CTA_TUPLE_PROTO, CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE) => ty = m.u8()?,
                (CTA_TUPLE_PROTO, CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE) => code = m.u8()?,
                _ => {}
            }
        }
    }
    if t.is_icmp() {
        t.dport = u16::from_be_bytes([ty, code]);
    }
    (t.proto != 0).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::super::conn::Conn;
    use super::super::packet::{self, tests as p};
    use super::*;
    use crate::netlink::NlMsg;

    /// A TCP connection in zone 5 its SYN started.
    fn syn() -> Conn {
        let f = p::ipv4_frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            6,
            &p::tcp(40000, 80, 2, 1, 0, 0),
        );
        let v = packet::parse(&f, None, 5, false).unwrap();
        Conn::new(&v, v.tuple.reverse().unwrap(), 0).unwrap()
    }

    #[test]
    fn a_connection_renders_and_its_tuple_parses_back() {
        let mut c = syn();
        c.mark = 7;
        c.started_ns = 1_796_688_000_123_456_789;
        let mut buf = [0u8; 512];
        let mut b = NlBuf::new(&mut buf);
        render(
            &mut b,
            &header(MSG_NEW, 0x400, 1, 2, false),
            &c,
            None,
            9,
            10_000,
        )
        .unwrap();
        let n = b.len();
        let msg = NlMsg::new_checked(&buf[..n]).unwrap();
        assert_eq!(
            (msg.hdr.ty, msg.hdr.cmd, msg.hdr.version),
            (MSG_NEW, AF_INET, 0)
        );
        assert_eq!(msg.find(CTA_ZONE).unwrap().be16(), Some(5));
        assert_eq!(msg.find(CTA_MARK).unwrap().be32(), Some(7));
        assert_eq!(msg.find(CTA_TIMEOUT).unwrap().be32(), Some(20));
        assert_eq!(msg.find(CTA_ID).unwrap().be32(), Some(9));
        let ts = msg.find(CTA_TIMESTAMP).unwrap();
        let start: std::vec::Vec<_> = ts.nested().map(|a| a.unwrap()).collect();
        assert_eq!(start.len(), 1);
        assert_eq!(
            (start[0].ty(), start[0].be64()),
            (CTA_TIMESTAMP_START, Some(c.started_ns))
        );
        let orig = msg.find(CTA_TUPLE_ORIG).unwrap();
        assert_eq!(parse_tuple(orig.payload(), false, 5), Some(c.orig));
        let reply = msg.find(CTA_TUPLE_REPLY).unwrap();
        assert_eq!(parse_tuple(reply.payload(), false, 5), Some(c.reply));
        assert_eq!(parse_tuple(&[], false, 5), None);
    }

    /// The NAT status bits a connection's tuples tell, as Linux sets them
    /// when its NAT binding changed the tuple: an ICMP echo's identifier
    /// moved alone is SNAT's, moved with the destination DNAT's.
    #[test]
    fn the_nat_status_follows_the_binding_and_an_echos_identifier() {
        let status = |c: &Conn| {
            let mut buf = [0u8; 512];
            let mut b = NlBuf::new(&mut buf);
            render(&mut b, &header(MSG_NEW, 0, 1, 2, false), c, None, 1, 0).unwrap();
            let n = b.len();
            let msg = NlMsg::new_checked(&buf[..n]).unwrap();
            msg.find(CTA_STATUS).unwrap().be32().unwrap() & (IPS_SRC_NAT | IPS_DST_NAT)
        };
        let echo = p::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, &[8, 0, 0, 0, 0, 7, 0, 1]);
        let v = packet::parse(&echo, None, 0, false).unwrap();
        let plain = Conn::new(&v, v.tuple.reverse().unwrap(), 0).unwrap();
        let (public, backend) = ([10, 0, 0, 100], [10, 0, 0, 9]);
        let mut cases = std::vec::Vec::new();
        cases.push((plain, 0));
        let mut id = plain;
        id.reply.sport = 8;
        cases.push((id, IPS_SRC_NAT));
        let mut snat = id;
        snat.reply.dst[..4].copy_from_slice(&public);
        cases.push((snat, IPS_SRC_NAT));
        let mut dnat = id;
        dnat.reply.src[..4].copy_from_slice(&backend);
        cases.push((dnat, IPS_DST_NAT));
        let mut both = dnat;
        both.reply.dst[..4].copy_from_slice(&public);
        cases.push((both, IPS_SRC_NAT | IPS_DST_NAT));
        let mut tcp = syn();
        tcp.reply.dport = 1024;
        cases.push((tcp, IPS_SRC_NAT));
        tcp.reply.sport = 8080;
        cases.push((tcp, IPS_SRC_NAT | IPS_DST_NAT));
        for (i, (c, want)) in cases.iter().enumerate() {
            assert_eq!(status(c), *want, "case {i}");
        }
    }

    #[test]
    fn the_helper_and_master_tuple_are_told_and_the_largest_fits_an_event() {
        let mut c = syn();
        // IPv6 tuples, mark, labels and start time: the longest message
        // there is.
        for t in [&mut c.orig, &mut c.reply] {
            t.v6 = 1;
            t.src = [0xfe; 16];
            t.dst[4..].fill(0xfd);
        }
        (c.mark, c.labels) = (1, [1; 16]);
        c.started_ns = 1_796_688_000_000_000_000;
        let ext = Ext {
            helper: Some(super::super::action::Helper::Ftp),
            master: Some(c.reply),
            ..Ext::default()
        };
        let mut buf = [0u8; super::super::events::MAX_LEN];
        let mut b = NlBuf::new(&mut buf);
        let hdr = header(MSG_NEW, 0, 0, 0, true);
        render(&mut b, &hdr, &c, Some(&ext), 1, 0).unwrap();
        let n = b.len();
        let msg = NlMsg::new_checked(&buf[..n]).unwrap();
        let help = msg.find(CTA_HELP).unwrap();
        let name: std::vec::Vec<_> = help.nested().map(|a| a.unwrap()).collect();
        assert_eq!(name.len(), 1);
        assert_eq!(
            (name[0].ty(), name[0].payload()),
            (CTA_HELP_NAME, &b"ftp\0"[..])
        );
        let master = msg.find(CTA_TUPLE_MASTER).unwrap();
        assert_eq!(parse_tuple(master.payload(), true, 5), Some(c.reply));
        // Without an extension, neither is there.
        let mut b = NlBuf::new(&mut buf);
        render(&mut b, &hdr, &c, None, 1, 0).unwrap();
        let n = b.len();
        let msg = NlMsg::new_checked(&buf[..n]).unwrap();
        assert!(msg.find(CTA_HELP).is_none() && msg.find(CTA_TUPLE_MASTER).is_none());
    }
}
