//! The `userspace(...)` action, both ways, including the 48-byte cookie
//! (`struct user_action_cookie`) that ofproto-dpif puts in its userdata:
//!
//! | offset | field |
//! |--------|-------|
//! | 0 | type (u16): 1 sFlow, 2 slow path, 3 flow sample, 4 IPFIX, 5 controller |
//! | 4 | OpenFlow in_port (u32, `OFPP_NONE` = 0xffff) |
//! | 8 | ofproto UUID (16 bytes) |
//! | 24 | the type's own fields |

use super::flags::{self, format_flags, parse_flags};
use super::nl::{NlBuf, Rule, be16, be32, byte, ne16, ne32, oversized, parse_nested};
use super::out::{AltHex, Out, put_bytes};
use super::scan::{Error, Parsed, Scan, at, has_prefix, hex_pairs};
use crate::ovs::action as act;
use alloc::vec::Vec;
use core::fmt::{self, Write};

const COOKIE_LEN: usize = 48;
const SFLOW: u16 = 1;
const SLOW_PATH: u16 = 2;
const FLOW_SAMPLE: u16 = 3;
const IPFIX: u16 = 4;
const CONTROLLER: u16 = 5;
/// `OFPP_NONE`.
const OFPP_NONE: u32 = 0xffff;
/// `ODPP_NONE`: no tunnel output port.
const ODPP_NONE: u32 = u32::MAX;
/// All slow-path reasons.
const SLOW_PATH_REASONS: u32 = 0x7f;

pub(crate) fn format(o: &mut Out, p: &[u8]) -> fmt::Result {
    let policy = [
        Rule::NONE,
        Rule::U32,
        Rule::ANY.optional(),
        Rule::U32.optional(),
        Rule::ANY.optional(),
    ];
    let Some([_, Some(pid), userdata, tun_port, actions]) = parse_nested(p, &policy) else {
        return o.put("userspace(error)");
    };
    write!(o, "userspace(pid={}", ne32(pid.payload(), 0))?;
    if let Some(u) = userdata {
        let d = u.payload();
        if d.len() != COOKIE_LEN || !cookie(o, d)? {
            o.put(",userdata(")?;
            put_bytes(o, d, None)?;
            o.ch(')')?;
        }
    }
    if actions.is_some() {
        o.put(",actions")?;
    }
    if let Some(t) = tun_port {
        write!(o, ",tunnel_out_port={}", ne32(t.payload(), 0))?;
    }
    o.ch(')')
}

/// Prints a known cookie; false if its type is unknown.
fn cookie(o: &mut Out, c: &[u8]) -> Result<bool, fmt::Error> {
    match ne16(c, 0) {
        SFLOW => {
            let tci = be16(c, 24);
            write!(
                o,
                ",sFlow(vid={},pcp={},output={})",
                tci & 0xfff,
                tci >> 13,
                ne32(c, 28)
            )?;
        }
        SLOW_PATH => {
            o.put(",slow_path(")?;
            format_flags(o, flags::slow_path_reason, ne32(c, 28), ',')?;
            o.ch(')')?;
        }
        FLOW_SAMPLE => {
            write!(
                o,
                ",flow_sample(probability={},collector_set_id={},obs_domain_id={},obs_point_id={},output_port={}",
                ne16(c, 24),
                ne32(c, 28),
                ne32(c, 32),
                ne32(c, 36),
                ne32(c, 40)
            )?;
            match ne32(c, 44) {
                1 => o.put(",ingress")?,
                2 => o.put(",egress")?,
                _ => {}
            }
            o.ch(')')?;
        }
        IPFIX => write!(o, ",ipfix(output_port={})", ne32(c, 24))?,
        CONTROLLER => {
            let rule_cookie = (u64::from(be32(c, 32)) << 32) | u64::from(be32(c, 36));
            write!(
                o,
                ",controller(reason={},dont_send={},continuation={},recirc_id={},rule_cookie={},controller_id={},max_len={})",
                ne16(c, 26),
                u8::from(byte(c, 24) != 0),
                u8::from(byte(c, 25) != 0),
                ne32(c, 28),
                AltHex(rule_cookie),
                ne16(c, 40),
                ne16(c, 42)
            )?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn put_at(c: &mut [u8], off: usize, bytes: &[u8]) {
    for (k, b) in bytes.iter().enumerate() {
        if let Some(d) = c.get_mut(off + k) {
            *d = *b;
        }
    }
}

/// A cookie of `ty` with no in_port and a zero UUID.
fn new_cookie(ty: u16) -> [u8; COOKIE_LEN] {
    let mut c = [0u8; COOKIE_LEN];
    put_at(&mut c, 0, &ty.to_ne_bytes());
    put_at(&mut c, 4, &OFPP_NONE.to_ne_bytes());
    c
}

/// Scans `lit` then numbers separated by the literals in `rest` (each
/// `(base, text after)`), all or nothing.
fn fields<const N: usize>(
    sc: &mut Scan<'_>,
    lit: &str,
    rest: [(u32, &str); N],
) -> Option<[u64; N]> {
    let mut t = *sc;
    t.lit(lit)?;
    let mut out = [0u64; N];
    for (v, (base, after)) in out.iter_mut().zip(rest) {
        *v = t.int(base)?;
        t.lit(after)?;
    }
    *sc = t;
    Some(out)
}

/// What the userdata is made of.
enum Userdata {
    Cookie([u8; COOKIE_LEN]),
    Bytes(Vec<u8>),
}

/// `parse_odp_userspace_action`: the text used (`Ok`), or why not. As in
/// OVS, text after the pid that is not a known option may still parse as
/// `push_eth(...)` or `pop_eth`.
pub(crate) fn parse(s: &[u8], i: usize, actions: &mut NlBuf) -> Parsed<usize> {
    let mut sc = Scan::new(s, i);
    let pid = (|| {
        sc.lit("userspace(pid=")?;
        sc.u32(0)
    })()
    .ok_or(Error::Inval)?;
    let mut data = Userdata::Cookie([0; COOKIE_LEN]);
    if let Some([vid, pcp, output]) = fields(
        &mut sc,
        ",sFlow(vid=",
        [(0, ",pcp="), (0, ",output="), (0, ")")],
    ) {
        let mut tci = (vid as u16) | ((pcp as u16) << 13);
        if tci != 0 {
            tci |= 0x1000;
        }
        let mut c = new_cookie(SFLOW);
        put_at(&mut c, 24, &tci.to_be_bytes());
        put_at(&mut c, 28, &(output as u32).to_ne_bytes());
        data = Userdata::Cookie(c);
    } else if sc.lit(",slow_path(").is_some() {
        let mut c = new_cookie(SLOW_PATH);
        let (n, reason, _) = parse_flags(
            s,
            sc.pos,
            flags::slow_path_reason,
            b')',
            SLOW_PATH_REASONS,
            false,
        )
        .ok_or(Error::Inval)?;
        sc.pos += n + 1;
        put_at(&mut c, 28, &reason.to_ne_bytes());
        data = Userdata::Cookie(c);
    } else if let Some(v) = fields(
        &mut sc,
        ",flow_sample(probability=",
        [
            (0, ",collector_set_id="),
            (0, ",obs_domain_id="),
            (0, ",obs_point_id="),
            (0, ",output_port="),
            (0, ""),
        ],
    ) {
        let mut c = new_cookie(FLOW_SAMPLE);
        put_at(&mut c, 24, &(v[0] as u16).to_ne_bytes());
        for (k, x) in v.iter().enumerate().skip(1) {
            put_at(&mut c, 24 + 4 * k, &(*x as u32).to_ne_bytes());
        }
        let direction: u32 = if sc.lit(",ingress").is_some() {
            1
        } else if sc.lit(",egress").is_some() {
            2
        } else {
            0
        };
        put_at(&mut c, 44, &direction.to_ne_bytes());
        if at(s, sc.pos) != b')' {
            return Err(Error::Inval);
        }
        sc.pos += 1;
        data = Userdata::Cookie(c);
    } else if let Some([port]) = fields(&mut sc, ",ipfix(output_port=", [(0, ")")]) {
        let mut c = new_cookie(IPFIX);
        put_at(&mut c, 24, &(port as u32).to_ne_bytes());
        data = Userdata::Cookie(c);
    } else if let Some(v) = fields(
        &mut sc,
        ",controller(reason=",
        [
            (10, ",dont_send="),
            (10, ",continuation="),
            (10, ",recirc_id="),
            (10, ",rule_cookie="),
            (16, ",controller_id="),
            (10, ",max_len="),
            (10, ")"),
        ],
    ) {
        let mut c = new_cookie(CONTROLLER);
        put_at(
            &mut c,
            24,
            &[u8::from(v[1] as u8 != 0), u8::from(v[2] as u8 != 0)],
        );
        put_at(&mut c, 26, &(v[0] as u16).to_ne_bytes());
        put_at(&mut c, 28, &(v[3] as u32).to_ne_bytes());
        put_at(&mut c, 32, &v[4].to_be_bytes());
        put_at(&mut c, 40, &(v[5] as u16).to_ne_bytes());
        put_at(&mut c, 42, &(v[6] as u16).to_ne_bytes());
        data = Userdata::Cookie(c);
    } else if sc.lit(",userdata(").is_some() {
        let (bytes, end) = hex_pairs(s, sc.pos)?;
        if at(s, end) != b')' {
            return Err(Error::Inval);
        }
        sc.pos = end + 1;
        data = Userdata::Bytes(bytes);
    }
    let include_actions = sc.lit(",actions").is_some();
    let userdata = match &data {
        Userdata::Cookie(c) => &c[..],
        Userdata::Bytes(b) => b.as_slice(),
    };
    if let Some([port]) = fields(&mut sc, ",tunnel_out_port=", [(0, ")")]) {
        put(actions, pid, userdata, port as u32, include_actions)?;
        return Ok(sc.pos - i);
    }
    if at(s, sc.pos) == b')' {
        put(actions, pid, userdata, ODPP_NONE, include_actions)?;
        return Ok(sc.pos + 1 - i);
    }
    let mut eth = sc;
    let push_eth = (|| {
        eth.lit("push_eth(src=")?;
        let src = super::addr::scan_eth(&mut eth)?;
        eth.lit(",dst=")?;
        let dst = super::addr::scan_eth(&mut eth)?;
        eth.lit(",type=")?;
        eth.int(0)?;
        eth.lit(")")?;
        Some((src, dst))
    })();
    if let Some((src, dst)) = push_eth {
        let mut addrs = [0u8; 12];
        put_at(&mut addrs, 0, &src);
        put_at(&mut addrs, 6, &dst);
        actions.put(act::PUSH_ETH, &addrs)?;
        return Ok(eth.pos - i);
    }
    if has_prefix(s, sc.pos, "pop_eth") {
        actions.flag(act::POP_ETH)?;
        // OVS counts only the 7 characters of `pop_eth` as used.
        return Ok(7);
    }
    Err(Error::Inval)
}

/// `odp_put_userspace_action`: userdata is padded to at least 8 bytes.
fn put(
    b: &mut NlBuf,
    pid: u32,
    userdata: &[u8],
    tun_port: u32,
    include_actions: bool,
) -> Parsed<()> {
    let start = b.begin(act::USERSPACE)?;
    b.u32(act::USERSPACE_PID, pid)?;
    if oversized(userdata.len()) {
        return Err(Error::TooBig);
    }
    let mut padded = [0u8; 8];
    let payload = if userdata.len() < 8 {
        put_at(&mut padded, 0, userdata);
        &padded[..]
    } else {
        userdata
    };
    b.put(act::USERSPACE_USERDATA, payload)?;
    if tun_port != ODPP_NONE {
        b.u32(act::USERSPACE_EGRESS_TUN_PORT, tun_port)?;
    }
    if include_actions {
        b.flag(act::USERSPACE_ACTIONS)?;
    }
    if oversized(b.len() - start - 4) {
        return Err(Error::TooBig);
    }
    b.end(start);
    Ok(())
}
