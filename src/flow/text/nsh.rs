//! NSH: the `nsh(...)` key attribute, `set(nsh(...))` and
//! `push_nsh(...)`, both ways.
//!
//! The flat form OVS works with is `struct ovs_key_nsh`: flags, ttl,
//! mdtype, np (one byte each), the path header (SPI << 8 | SI, network
//! order) and four MD1 context words (network order): 24 bytes.

use super::field_scan::{Kind, scan};
use super::key_format::check_len;
use super::lens::Table;
use super::nl::{NlBuf, be32, byte, find, walk};
use super::out::{Out, put_hex};
use super::scan::{Error, Parsed, Scan, at, has_prefix, hex_pairs, span};
use crate::netlink::Attr;
use crate::ovs::{action, key};
use core::fmt::{self, Write};

const NSH_KEY_LEN: usize = 24;
const BASE_LEN: usize = 8;
const MD1_LEN: usize = 16;
/// `NSH_HDR_MAX_LEN` less the base header: the most MD2 data a header holds.
const MD2_MAX: usize = 244;

fn spi(nsh: &[u8]) -> u32 {
    be32(nsh, 4) >> 8
}

fn si(nsh: &[u8]) -> u8 {
    byte(nsh, 7)
}

/// `format_nsh_key`.
fn plain(o: &mut Out, nsh: &[u8; NSH_KEY_LEN]) -> fmt::Result {
    write!(
        o,
        "flags={},ttl={},mdtype={},np={},spi=0x{:x},si={}",
        nsh[0],
        nsh[1],
        nsh[2],
        nsh[3],
        spi(nsh),
        si(nsh)
    )?;
    if nsh[2] == 1 {
        for c in 0..4 {
            write!(o, ",c{}=0x{:x}", c + 1, be32(nsh, 8 + 4 * c))?;
        }
    }
    Ok(())
}

/// `format_nsh_key_mask`: only the fields whose mask is not zero.
fn masked(o: &mut Out, nsh: &[u8; NSH_KEY_LEN], mask: &[u8; NSH_KEY_LEN]) -> fmt::Result {
    let mut w = MaskedFields { o, first: true };
    let spi_mask = match spi(mask) {
        0xff_ffff => u32::MAX,
        m => m,
    };
    w.u8("flags", nsh[0], mask[0])?;
    w.u8("ttl", nsh[1], mask[1])?;
    w.u8("mdtype", nsh[2], mask[2])?;
    w.u8("np", nsh[3], mask[3])?;
    w.be32("spi", spi(nsh), spi_mask)?;
    w.u8("si", si(nsh), si(mask))?;
    for (c, name) in ["c1", "c2", "c3", "c4"].iter().enumerate() {
        w.be32(name, be32(nsh, 8 + 4 * c), be32(mask, 8 + 4 * c))?;
    }
    Ok(())
}

/// Comma-separated masked fields (`format_uint8_masked`,
/// `format_be32_masked`).
struct MaskedFields<'o, 'a> {
    o: &'o mut Out<'a>,
    first: bool,
}

impl MaskedFields<'_, '_> {
    fn sep(&mut self) -> fmt::Result {
        if core::mem::replace(&mut self.first, false) {
            Ok(())
        } else {
            self.o.ch(',')
        }
    }

    fn u8(&mut self, name: &str, v: u8, m: u8) -> fmt::Result {
        if m == 0 {
            return Ok(());
        }
        self.sep()?;
        if m == u8::MAX {
            write!(self.o, "{name}={v}")
        } else {
            write!(self.o, "{name}=0x{v:02x}/0x{m:02x}")
        }
    }

    fn be32(&mut self, name: &str, v: u32, m: u32) -> fmt::Result {
        if m == 0 {
            return Ok(());
        }
        self.sep()?;
        if m == u32::MAX {
            write!(self.o, "{name}=0x{v:x}")
        } else {
            write!(self.o, "{name}=0x{v:x}/0x{m:08x}")
        }
    }
}

fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// `copy` into `dst` from offset `off` on.
fn copy_at(dst: &mut [u8], off: usize, src: &[u8]) {
    copy(dst.get_mut(off..).unwrap_or_default(), src);
}

/// The inside of the `nsh(...)` key attribute (`format_odp_nsh_attr`).
pub(crate) fn key(o: &mut Out, k: &[u8], m: Option<&[u8]>) -> fmt::Result {
    let mut nsh = [0u8; NSH_KEY_LEN];
    let mut mask = [0xffu8; NSH_KEY_LEN];
    for a in walk(k) {
        let ma = m.and_then(|mb| find(mb, a.ty()));
        if !check_len(o, &a, ma.as_ref(), Table::Nsh, true)? {
            continue;
        }
        let mp = ma.as_ref().map(Attr::payload);
        match a.ty() {
            key::NSH_BASE => {
                copy(&mut nsh[..BASE_LEN], a.payload());
                if let Some(x) = mp {
                    copy(&mut mask[..BASE_LEN], x);
                }
            }
            key::NSH_MD1 => {
                copy(&mut nsh[BASE_LEN..], a.payload());
                if let Some(x) = mp {
                    copy(&mut mask[BASE_LEN..], x);
                }
            }
            _ => {}
        }
    }
    if m.is_some() {
        masked(o, &nsh, &mask)
    } else {
        plain(o, &nsh)
    }
}

/// `set(nsh(...))` from a masked set of an NSH key (`format_odp_set_nsh`):
/// each sub-attribute carries value then mask. Prints nothing at all if a
/// sub-attribute is unknown or has the wrong length.
pub(crate) fn set_masked(o: &mut Out, payload: &[u8]) -> fmt::Result {
    let mut nsh = [0u8; NSH_KEY_LEN];
    let mut mask = [0u8; NSH_KEY_LEN];
    for a in walk(payload) {
        let p = a.payload();
        match (a.ty(), p.len()) {
            (0, 0) | (key::NSH_MD2, _) => {}
            (key::NSH_BASE, 16) => {
                copy(&mut nsh[..BASE_LEN], p);
                copy(&mut mask[..BASE_LEN], p.get(BASE_LEN..).unwrap_or_default());
            }
            (key::NSH_MD1, 32) => {
                copy(&mut nsh[BASE_LEN..], p);
                copy(&mut mask[BASE_LEN..], p.get(MD1_LEN..).unwrap_or_default());
            }
            _ => return Ok(()),
        }
    }
    o.put("set(nsh(")?;
    masked(o, &nsh, &mask)?;
    o.put("))")
}

/// `push_nsh(...)` from the nested key's payload: builds the NSH
/// header as `odp_nsh_hdr_from_attr` does (a failed conversion leaves the
/// header's length, flags and TTL zero), then prints it.
pub(crate) fn push(o: &mut Out, inner: &[u8]) -> fmt::Result {
    let mut base = [0u8; BASE_LEN];
    let mut md = [0u8; MD2_MAX];
    let (mut flags, mut ttl, mut mdlen) = (0u8, 63u8, 0usize);
    let (mut has_md1, mut has_md2, mut failed) = (false, false, false);
    for a in walk(inner) {
        let p = a.payload();
        match (a.ty(), p.len()) {
            (key::NSH_BASE, BASE_LEN) => {
                copy(&mut base, p);
                flags = byte(p, 0);
                ttl = byte(p, 1);
            }
            (key::NSH_MD1, MD1_LEN) => {
                has_md1 = true;
                mdlen = MD1_LEN;
                copy(&mut md, p);
            }
            (key::NSH_MD2, n) if n <= MD2_MAX => {
                has_md2 = true;
                mdlen = n;
                copy(&mut md, p);
            }
            // A known type of the wrong length stops the conversion.
            (key::NSH_BASE | key::NSH_MD1 | key::NSH_MD2, _) | (0, 1..) => {
                failed = true;
                break;
            }
            // Unknown types fail it only at the end.
            _ => failed = true,
        }
    }
    let md_type = base[2];
    failed |= (has_md1 && md_type != 1) || (has_md2 && md_type != 2);
    // The header's 6-bit length field (in words) bounds what gets printed.
    // After a failed conversion OVS reads MD2 data of a negative length;
    // none is printed here.
    let (flags, ttl, md_shown) = if failed {
        (0, 0, 0)
    } else {
        let words = ((BASE_LEN + mdlen) >> 2) & 0x3f;
        (flags & 3, ttl & 0x3f, (words * 4).saturating_sub(BASE_LEN))
    };
    write!(
        o,
        "push_nsh(flags={flags},ttl={ttl},mdtype={md_type},np={},spi=0x{:x},si={}",
        base[3],
        spi(&base),
        si(&base)
    )?;
    match md_type {
        1 => {
            for c in 0..4 {
                write!(o, ",c{}=0x{:x}", c + 1, be32(&md, 4 * c))?;
            }
        }
        2 => {
            o.put(",md2=")?;
            put_hex(o, md.get(..md_shown).unwrap_or_default())?;
        }
        _ => o.put(",<error: unknown mdtype>")?,
    }
    o.ch(')')
}

/// `nsh_key_to_attr`: the nested `OVS_KEY_ATTR_NSH` for a flat NSH key.
fn key_to_attr(buf: &mut NlBuf, nsh: &[u8; NSH_KEY_LEN], md2: &[u8], is_mask: bool) -> Parsed<()> {
    let start = buf.begin(key::NSH)?;
    buf.put(key::NSH_BASE, nsh.get(..BASE_LEN).unwrap_or_default())?;
    let md1 = nsh.get(BASE_LEN..).unwrap_or_default();
    if is_mask || nsh[2] == 1 {
        buf.put(key::NSH_MD1, md1)?;
    } else if nsh[2] == 2 && !md2.is_empty() {
        buf.put(key::NSH_MD2, md2)?;
    }
    buf.end(start);
    Ok(())
}

fn set_path(nsh: &mut [u8; NSH_KEY_LEN], spi: u32, si: u8) {
    let path = (spi << 8) | u32::from(si);
    copy(&mut nsh[4..BASE_LEN], &path.to_be_bytes());
}

/// The `nsh(...)` key attribute (`parse_odp_nsh_key_mask_attr`): bytes of
/// text used, 0 if the text is not `nsh(`.
pub(crate) fn parse_key(
    s: &[u8],
    i: usize,
    key: &mut NlBuf,
    mask: Option<&mut NlBuf>,
) -> Parsed<usize> {
    if !has_prefix(s, i, "nsh(") {
        return Ok(0);
    }
    const FIELDS: [(&str, Kind, usize); 9] = [
        ("flags=", Kind::U8, 1),
        ("mdtype=", Kind::U8, 1),
        ("np=", Kind::U8, 1),
        ("spi=", Kind::U32, 4),
        ("si=", Kind::U8, 1),
        ("c1=", Kind::Be32, 4),
        ("c2=", Kind::Be32, 4),
        ("c3=", Kind::Be32, 4),
        ("c4=", Kind::Be32, 4),
    ];
    let want = mask.is_some();
    let mut vals = [[0u8; 4]; 9];
    let mut masks = [[0u8; 4]; 9];
    let mut p = i + 4;
    loop {
        let mut len = 0;
        let hit = FIELDS
            .iter()
            .zip(vals.iter_mut().zip(masks.iter_mut()))
            .find(|((name, _, _), _)| has_prefix(s, p, name));
        if let Some(((name, kind, width), (v, m))) = hit {
            p += name.len();
            len = scan(
                *kind,
                s,
                p,
                v.get_mut(..*width).unwrap_or_default(),
                want.then_some(m.get_mut(..*width).unwrap_or_default()),
            );
            if len == 0 {
                return Err(Error::Inval);
            }
            p += len;
        }
        let c = at(s, p);
        p += 1;
        if c != b',' || len == 0 {
            break;
        }
    }
    if at(s, p - 1) != b')' {
        return Err(Error::Inval);
    }
    let flat = |f: &[[u8; 4]; 9]| {
        let mut n = [0u8; NSH_KEY_LEN];
        n[0] = f[0][0];
        n[2] = f[1][0];
        n[3] = f[2][0];
        set_path(&mut n, u32::from_ne_bytes(f[3]), f[4][0]);
        for (c, word) in f.iter().skip(5).enumerate() {
            copy_at(&mut n, BASE_LEN + 4 * c, word);
        }
        n
    };
    key_to_attr(key, &flat(&vals), &[], false)?;
    if let Some(mb) = mask {
        key_to_attr(mb, &flat(&masks), &[], true)?;
    }
    Ok(p - i)
}

/// `push_nsh(...)` (`parse_odp_push_nsh_action`): returns the offset of its
/// closing parenthesis.
pub(crate) fn parse_push(s: &[u8], i: usize, actions: &mut NlBuf) -> Parsed<usize> {
    const DELIMITERS: &[u8] = b", \t\r\n";
    let mut sc = Scan::new(s, i);
    sc.lit("push_nsh(").ok_or(Error::Inval)?;
    let mut nsh = [0u8; NSH_KEY_LEN];
    nsh[1] = 63;
    nsh[2] = 1;
    nsh[3] = 3;
    let (mut spi_v, mut si_v) = (0u32, 255u8);
    let mut md = [0u8; MD2_MAX];
    let mut md_size = 0usize;
    loop {
        sc.pos += span(s, sc.pos, DELIMITERS);
        if at(s, sc.pos) == b')' {
            break;
        }
        let try_field = |sc: &mut Scan<'_>, name: &str, base: u32| -> Option<u64> {
            let mut t = *sc;
            t.lit(name)?;
            let v = t.int(base)?;
            *sc = t;
            Some(v)
        };
        if let Some(v) = try_field(&mut sc, "flags=", 0) {
            nsh[0] = v as u8;
        } else if let Some(v) = try_field(&mut sc, "ttl=", 0) {
            nsh[1] = v as u8;
        } else if let Some(v) = try_field(&mut sc, "mdtype=", 0) {
            nsh[2] = v as u8;
            match nsh[2] {
                1 => {}
                2 => md_size = 0,
                _ => return Err(Error::Inval),
            }
        } else if let Some(v) = try_field(&mut sc, "np=", 0) {
            nsh[3] = v as u8;
        } else if let Some(v) = try_field(&mut sc, "spi=0x", 16) {
            spi_v = v as u32;
        } else if let Some(v) = try_field(&mut sc, "si=", 0) {
            si_v = v as u8;
        } else if nsh[2] == 1 {
            let ctx = (1..=4).find_map(|c| {
                let name = ["c1=0x", "c2=0x", "c3=0x", "c4=0x"].get(c - 1)?;
                try_field(&mut sc, name, 16).map(|v| (c, v as u32))
            });
            let (c, v) = ctx.ok_or(Error::Inval)?;
            copy_at(&mut nsh, BASE_LEN + 4 * (c - 1), &v.to_be_bytes());
        } else if nsh[2] == 2 {
            let mut t = sc;
            t.lit("md2=0x").ok_or(Error::Inval)?;
            let hex = t.set(511, |c| c.is_ascii_hexdigit()).ok_or(Error::Inval)?;
            sc = t;
            // OVS bounds the whole text read so far, not just the hex.
            if (sc.pos - i) / 2 > MD2_MAX {
                return Err(Error::Inval);
            }
            let (bytes, _) = hex_pairs(hex, 0)?;
            let len = bytes.len().min(MD2_MAX);
            copy(&mut md, bytes.get(..len).unwrap_or_default());
            md_size = (len + 3) & !3;
            if let Some(pad) = md.get_mut(len..md_size) {
                pad.fill(0);
            }
        } else {
            return Err(Error::Inval);
        }
    }
    set_path(&mut nsh, spi_v, si_v);
    let start = actions.begin(action::PUSH_NSH)?;
    key_to_attr(actions, &nsh, md.get(..md_size).unwrap_or_default(), false)?;
    actions.end(start);
    Ok(sc.pos - i)
}
