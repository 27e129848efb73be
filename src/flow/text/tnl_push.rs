//! The userspace datapath's `tnl_push(...)` action: `struct
//! ovs_action_push_tnl` (tunnel port, output port, header length, tunnel
//! type, then the prebuilt Ethernet/IP/UDP-or-GRE/tunnel header), both ways.
//!
//! Where OVS leaves header bytes unset (IPv6 payload length, UDP length,
//! GRE sequence, ERSPAN session id ...) they are zero here.

use super::addr::{put_eth, put_ipv4, put_ipv6, scan_eth, scan_ipv4};
use super::nl::{NlBuf, be16, be32, byte, ne32, read};
use super::out::{AltHex, Out};
use super::scan::{Error, Parsed, Scan, at};
use super::tunnel_format::geneve_opts;
use super::tunnel_parse;
use crate::ovs::action as act;
use core::fmt::{self, Write};

const GRE: u32 = 3;
const VXLAN: u32 = 4;
const GENEVE: u32 = 5;
const ERSPAN: u32 = 107;
const IP6ERSPAN: u32 = 108;
const IP6GRE: u32 = 109;
const GTPU: u32 = 110;
const SRV6: u32 = 112;

const GRE_CSUM: u16 = 0x8000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;
const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const UDP_LEN: usize = 8;
/// `TNL_PUSH_HEADER_SIZE`.
const HEADER_MAX: usize = 512;
/// `SRV6_MAX_SEGS`.
const SRV6_MAX_SEGS: usize = 6;
/// Where the header starts in the action's payload.
const HDR: usize = 16;

pub(crate) fn format(o: &mut Out, payload: &[u8]) -> fmt::Result {
    let d = o.ext(payload);
    let h = d.get(HDR..).unwrap_or_default();
    let tnl_type = ne32(d, 12);
    write!(
        o,
        "tnl_push(tnl_port({}),header(size={},type={tnl_type},eth(dst=",
        ne32(d, 0),
        ne32(d, 8)
    )?;
    put_eth(o, &read(h, 0))?;
    o.put(",src=")?;
    put_eth(o, &read(h, 6))?;
    let eth_type = be16(h, 12);
    write!(o, ",dl_type=0x{eth_type:04x}),")?;
    let l3 = ETH_LEN;
    let l4 = if eth_type == 0x0800 {
        o.put("ipv4(src=")?;
        put_ipv4(o, &read(h, l3 + 12))?;
        o.put(",dst=")?;
        put_ipv4(o, &read(h, l3 + 16))?;
        write!(
            o,
            ",proto={},tos={},ttl={},frag=0x{:x}),",
            byte(h, l3 + 9),
            AltHex(byte(h, l3 + 1).into()),
            byte(h, l3 + 8),
            be16(h, l3 + 6)
        )?;
        l3 + IPV4_LEN
    } else {
        let flow = be32(h, l3);
        o.put("ipv6(src=")?;
        put_ipv6(o, &read(h, l3 + 8))?;
        o.put(",dst=")?;
        put_ipv6(o, &read(h, l3 + 24))?;
        write!(
            o,
            ",label={},proto={},tclass=0x{:x},hlimit={}),",
            flow & 0xfffff,
            byte(h, l3 + 6),
            (flow >> 20) & 0xff,
            byte(h, l3 + 7)
        )?;
        l3 + IPV6_LEN
    };
    let udp = |o: &mut Out| {
        write!(
            o,
            "udp(src={},dst={},csum=0x{:x}),",
            be16(h, l4),
            be16(h, l4 + 2),
            be16(h, l4 + 6)
        )
    };
    let t = l4 + UDP_LEN;
    match tnl_type {
        VXLAN => {
            udp(o)?;
            write!(
                o,
                "vxlan(flags=0x{:x},vni=0x{:x})",
                be32(h, t),
                be32(h, t + 4) >> 8
            )?;
        }
        GENEVE => {
            udp(o)?;
            let opt_len = usize::from(byte(h, t) & 0x3f) * 4;
            let flags = byte(h, t + 1);
            o.put("geneve(")?;
            if flags & 0x80 != 0 {
                o.put("oam,")?;
            }
            if flags & 0x40 != 0 {
                o.put("crit,")?;
            }
            write!(o, "vni=0x{:x}", be32(h, t + 4) >> 8)?;
            if opt_len > 0 {
                o.put(",options(")?;
                let opts = h.get(t + 8..).unwrap_or_default();
                let opts = opts.get(..opt_len).unwrap_or(opts);
                geneve_opts(o, opts, None, false)?;
                o.ch(')')?;
            }
            o.ch(')')?;
        }
        SRV6 => {
            let segs = usize::from(byte(h, l4 + 4)) + 1;
            write!(o, "srv6(segments_left={},segs(", byte(h, l4 + 3))?;
            for i in 0..segs {
                if i > 0 {
                    o.ch(',')?;
                }
                put_ipv6(o, &read(h, l4 + 8 + 16 * (segs - i - 1)))?;
            }
            o.put("))")?;
        }
        GRE | IP6GRE => {
            let flags = be16(h, l4);
            write!(o, "gre((flags=0x{flags:x},proto=0x{:x})", be16(h, l4 + 2))?;
            let mut opt = l4 + 4;
            if flags & GRE_CSUM != 0 {
                write!(o, ",csum=0x{:x}", be16(h, opt))?;
                opt += 4;
            }
            if flags & GRE_KEY != 0 {
                write!(o, ",key=0x{:x}", be32(h, opt))?;
                opt += 4;
            }
            if flags & GRE_SEQ != 0 {
                write!(o, ",seq=0x{:x}", be32(h, opt))?;
            }
            o.ch(')')?;
        }
        ERSPAN | IP6ERSPAN => {
            let e = l4 + 8;
            let sid = (u16::from(byte(h, e + 2) & 3) << 8) + u16::from(byte(h, e + 3));
            match byte(h, e) >> 4 {
                1 => write!(o, "erspan(ver=1,sid=0x{sid:x},idx=0x{:x})", be32(h, e + 4))?,
                2 => {
                    let b = byte(h, e + 11);
                    let hwid = ((byte(h, e + 10) & 3) << 4) + (b >> 4);
                    write!(
                        o,
                        "erspan(ver=2,sid=0x{sid:x},dir={},hwid=0x{hwid:x})",
                        (b >> 3) & 1
                    )?;
                }
                _ => {}
            }
        }
        GTPU => {
            udp(o)?;
            write!(
                o,
                "gtpu(flags=0x{:x},msgtype={},teid=0x{:x})",
                byte(h, t),
                byte(h, t + 1),
                be32(h, t + 4)
            )?;
        }
        _ => {}
    }
    write!(o, "),out_port({}))", ne32(d, 4))
}

/// The header being built, zero where OVS leaves it unset.
struct Header {
    b: [u8; HEADER_MAX],
}

impl Header {
    fn put(&mut self, off: usize, bytes: &[u8]) {
        for (k, v) in bytes.iter().enumerate() {
            if let Some(d) = self.b.get_mut(off + k) {
                *d = *v;
            }
        }
    }
}

/// The Internet checksum of an IPv4 header.
fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|w| u32::from(be16(w, 0))).sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `ovs_parse_tnl_push`: text used; `Err` if the text is not a valid
/// `tnl_push(...)` (which is also the answer for text that is no action).
pub(crate) fn parse(s: &[u8], i: usize, out: &mut NlBuf) -> Parsed<usize> {
    let mut sc = Scan::new(s, i);
    let r = scan(&mut sc).ok_or(Error::Inval)?;
    let (tnl_port, out_port, header_len, tnl_type, header) = r;
    let mut payload = [0u8; HDR + HEADER_MAX];
    payload[..4].copy_from_slice(&tnl_port.to_ne_bytes());
    payload[4..8].copy_from_slice(&out_port.to_ne_bytes());
    payload[8..12].copy_from_slice(&header_len.to_ne_bytes());
    payload[12..16].copy_from_slice(&tnl_type.to_ne_bytes());
    payload[HDR..].copy_from_slice(&header.b);
    let size = HDR + usize::try_from(header_len).map_err(|_| Error::Inval)?;
    out.put(act::TUNNEL_PUSH, payload.get(..size).ok_or(Error::Inval)?)?;
    Ok(sc.pos - i)
}

fn scan(sc: &mut Scan<'_>) -> Option<(u32, u32, u32, u32, Header)> {
    let mut h = Header { b: [0; HEADER_MAX] };
    sc.lit("tnl_push(tnl_port(")?;
    let tnl_port = sc.u32(0)?;
    sc.lit("),header(size=")?;
    let header_len = sc.u32(0)?;
    sc.lit(",type=")?;
    let tnl_type = sc.u32(0)?;
    sc.lit(",eth(dst=")?;
    h.put(0, &scan_eth(sc)?);
    sc.lit(",src=")?;
    h.put(6, &scan_eth(sc)?);
    sc.lit(",dl_type=0x")?;
    let dl_type = sc.u16(16)?;
    h.put(12, &dl_type.to_be_bytes());
    sc.lit("),")?;
    let l3 = ETH_LEN;
    let ipv4 = dl_type == 0x0800;
    let ip_len = if ipv4 {
        sc.lit("ipv4(src=")?;
        h.put(l3 + 12, &scan_ipv4(sc)?);
        sc.lit(",dst=")?;
        h.put(l3 + 16, &scan_ipv4(sc)?);
        sc.lit(",proto=")?;
        h.put(l3 + 9, &[sc.u8(0)?]);
        sc.lit(",tos=")?;
        h.put(l3 + 1, &[sc.u8(0)?]);
        sc.lit(",ttl=")?;
        h.put(l3 + 8, &[sc.u8(0)?]);
        sc.lit(",frag=0x")?;
        h.put(l3 + 6, &sc.u16(16)?.to_be_bytes());
        sc.lit("),")?;
        h.put(l3, &[0x45]);
        let sum = ip_checksum(h.b.get(l3..l3 + IPV4_LEN)?);
        h.put(l3 + 10, &sum.to_be_bytes());
        IPV4_LEN
    } else {
        sc.lit("ipv6(src=")?;
        let src = scan_ipv6_text(sc)?;
        sc.lit(",dst=")?;
        let dst = scan_ipv6_text(sc)?;
        sc.lit(",label=")?;
        let label = sc.u32(0)?;
        sc.lit(",proto=")?;
        let proto = sc.u8(0)?;
        sc.lit(",tclass=0x")?;
        let tclass = sc.u8(16)?;
        sc.lit(",hlimit=")?;
        let hlim = sc.u8(0)?;
        sc.lit("),")?;
        if label & !0xfffff != 0 {
            return None;
        }
        let (src, dst) = (super::addr::pton6(src)?, super::addr::pton6(dst)?);
        let flow = (6u32 << 28) | (u32::from(tclass) << 20) | label;
        h.put(l3, &flow.to_be_bytes());
        h.put(l3 + 6, &[proto, hlim]);
        h.put(l3 + 8, &src);
        h.put(l3 + 24, &dst);
        IPV6_LEN
    };
    let l4 = l3 + ip_len;
    let want_len;
    let want_type;
    let mut t = *sc;
    if let Some((src, dst, csum)) = (|| {
        t.lit("udp(src=")?;
        let src = t.u16(0)?;
        t.lit(",dst=")?;
        let dst = t.u16(0)?;
        t.lit(",csum=0x")?;
        let csum = t.u16(16)?;
        t.lit("),")?;
        Some((src, dst, csum))
    })() {
        *sc = t;
        h.put(l4, &src.to_be_bytes());
        h.put(l4 + 2, &dst.to_be_bytes());
        h.put(l4 + 6, &csum.to_be_bytes());
        let g = l4 + UDP_LEN;
        let mut v = *sc;
        if let Some((flags, vni)) = (|| {
            v.lit("vxlan(flags=0x")?;
            let flags = v.u32(16)?;
            v.lit(",vni=0x")?;
            let vni = v.u32(16)?;
            v.lit("))")?;
            Some((flags, vni))
        })() {
            *sc = v;
            h.put(g, &flags.to_be_bytes());
            h.put(g + 4, &(vni << 8).to_be_bytes());
            want_type = VXLAN;
            want_len = ETH_LEN + ip_len + UDP_LEN + 8;
        } else {
            sc.lit("geneve(")?;
            let mut len = ETH_LEN + ip_len + UDP_LEN + 8;
            let mut flags = 0u8;
            if sc.lit("oam,").is_some() {
                flags |= 0x80;
            }
            if sc.lit("crit,").is_some() {
                flags |= 0x40;
            }
            sc.lit("vni=")?;
            let vni = sc.u32(0)?;
            let mut opt_words = 0u8;
            if sc.lit(",options(").is_some() {
                let opts = tunnel_parse::geneve(sc_bytes(sc), sc.pos, false)?;
                h.put(g + 8, opts.key.get(..opts.len)?);
                opt_words = (opts.len / 4) as u8;
                len += opts.len;
                sc.pos += opts.used;
            }
            sc.lit("))")?;
            h.put(g, &[opt_words & 0x3f, flags]);
            h.put(g + 2, &0x6558u16.to_be_bytes());
            h.put(g + 4, &(vni << 8).to_be_bytes());
            want_type = GENEVE;
            want_len = len;
        }
    } else if let Some((flags, proto)) = {
        let mut g = *sc;
        (|| {
            g.lit("gre((flags=0x")?;
            let flags = g.u16(16)?;
            g.lit(",proto=0x")?;
            let proto = g.u16(16)?;
            g.lit(")")?;
            Some((flags, proto))
        })()
        .inspect(|_| *sc = g)
    } {
        want_type = if ipv4 { GRE } else { IP6GRE };
        h.put(l4, &flags.to_be_bytes());
        h.put(l4 + 2, &proto.to_be_bytes());
        let mut opt = l4 + 4;
        for (bit, name) in [
            (GRE_CSUM, ",csum=0x"),
            (GRE_KEY, ",key=0x"),
            (GRE_SEQ, ",seq=0x"),
        ] {
            if flags & bit != 0 {
                sc.lit(name)?;
                if bit == GRE_CSUM {
                    h.put(opt, &[0, 0, 0, 0]);
                    h.put(opt, &sc.u16(16)?.to_be_bytes());
                } else {
                    h.put(opt, &sc.u32(16)?.to_be_bytes());
                }
                opt += 4;
            }
        }
        sc.lit("))")?;
        want_len = ETH_LEN + ip_len + (opt - l4);
    } else if let Some(v2) = erspan_literal(sc) {
        // OVS's scan formats here lack their `%`, so only these literal
        // texts match and the session id, index, direction and hardware id
        // stay unset.
        want_type = if ipv4 { ERSPAN } else { IP6ERSPAN };
        h.put(l4, &GRE_SEQ.to_be_bytes());
        h.put(l4 + 2, &(if v2 { 0x22ebu16 } else { 0x88be }).to_be_bytes());
        h.put(l4 + 8, &[if v2 { 0x20 } else { 0x10 }]);
        sc.lit(")")?;
        want_len = ETH_LEN + ip_len + 8 + 4 + if v2 { 8 } else { 4 };
    } else if let Some((flags, msgtype, teid)) = {
        let mut g = *sc;
        (|| {
            g.lit("gtpu(flags=")?;
            let flags = g.u8(0)?;
            g.lit(",msgtype=")?;
            let msgtype = g.u8(10)?;
            g.lit(",teid=0x")?;
            let teid = g.u32(16)?;
            g.lit("))")?;
            Some((flags, msgtype, teid))
        })()
        .inspect(|_| *sc = g)
    } {
        let g = l4 + UDP_LEN;
        h.put(g, &[flags, msgtype]);
        h.put(g + 4, &teid.to_be_bytes());
        want_type = GTPU;
        want_len = ETH_LEN + ip_len + UDP_LEN + 8;
    } else {
        sc.lit("srv6(segments_left=")?;
        let left = sc.u8(10)?;
        let n_segs = usize::from(left) + 1;
        if n_segs > SRV6_MAX_SEGS {
            return None;
        }
        // The routing header follows a 40-byte IPv6 header, whatever the
        // IP version written.
        let srh = l3 + IPV6_LEN;
        h.put(l3 + 6, &[43]);
        let hdrlen = 2 * n_segs;
        h.put(srh + 1, &[hdrlen as u8, 4, left, left]);
        want_type = SRV6;
        want_len = ETH_LEN + ip_len + 8 + 8 * hdrlen;
        sc.lit(",segs(")?;
        let mut count = 0usize;
        loop {
            let mut t = *sc;
            let Some(text) = t.set(46, |c| c.is_ascii_hexdigit() || c == b':' || c == b'.') else {
                break;
            };
            sc.pos = t.pos;
            let Some(seg) = super::addr::pton6(text) else {
                break;
            };
            if count == n_segs {
                return None;
            }
            h.put(srh + 8 + 16 * (n_segs - 1 - count), &seg);
            count += 1;
            if at(sc_bytes(sc), sc.pos) == b',' {
                sc.pos += 1;
            }
        }
        sc.lit(")))")?;
        if count != n_segs {
            return None;
        }
    }
    let want_len = u32::try_from(want_len).ok()?;
    if tnl_type != want_type || header_len != want_len {
        return None;
    }
    sc.lit(",out_port(")?;
    let out_port = sc.u32(0)?;
    sc.lit("))")?;
    Some((tnl_port, out_port, header_len, tnl_type, h))
}

/// `IPV6_SCAN_FMT` text, without converting it yet.
fn scan_ipv6_text<'a>(sc: &mut Scan<'a>) -> Option<&'a [u8]> {
    sc.set(46, |c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
}

fn sc_bytes<'a>(sc: &Scan<'a>) -> &'a [u8] {
    sc.text()
}

/// Which of the two literal ERSPAN texts OVS accepts is here: true for v2.
fn erspan_literal(sc: &mut Scan<'_>) -> Option<bool> {
    if sc.lit("erspan(ver=1,sid=hx,idx=0xx)").is_some() {
        return Some(false);
    }
    sc.lit("erspan(ver=2,sid=hxdir=hhu,hwid=0xhhx)")
        .map(|_| true)
}
