//! `tunnel(...)` key text to the nested tunnel attribute. Every field is
//! read with its optional `/mask` (the mask starts all ones) and becomes its
//! own sub-attribute, in the order written.

use super::field_scan::{Kind, scan};
use super::flags::{self, TNL_CSUM, TNL_DF, TNL_OAM, parse_flags};
use super::key_parse::field_list;
use super::nl::{NlBuf, oversized};
use super::scan::{Error, Parsed, at, has_prefix, parse_int_string};
use crate::ovs::{key, tunnel as t, vport};

/// Room for Geneve options (`TLV_TOT_OPT_SIZE`).
const GENEVE_MAX: usize = 252;
/// Largest single Geneve option data (`TLV_MAX_OPT_SIZE`).
const GENEVE_OPT_MAX: u8 = 124;
/// `struct erspan_metadata`: `int version`, then index or v2 fields.
const ERSPAN_LEN: usize = 12;

const SIMPLE: &[(&str, Kind, usize, u16)] = &[
    ("tun_id=", Kind::Be64, 8, t::ID),
    ("src=", Kind::Ipv4, 4, t::IPV4_SRC),
    ("dst=", Kind::Ipv4, 4, t::IPV4_DST),
    ("ipv6_src=", Kind::In6, 16, t::IPV6_SRC),
    ("ipv6_dst=", Kind::In6, 16, t::IPV6_DST),
    ("tos=", Kind::U8, 1, t::TOS),
    ("ttl=", Kind::U8, 1, t::TTL),
    ("tp_src=", Kind::Be16, 2, t::TP_SRC),
    ("tp_dst=", Kind::Be16, 2, t::TP_DST),
];

pub(crate) fn tunnel(
    s: &[u8],
    i: usize,
    key: &mut NlBuf,
    mut mask: Option<&mut NlBuf>,
) -> Parsed<usize> {
    let kstart = key.begin(key::TUNNEL)?;
    let mstart = match mask.as_deref_mut() {
        Some(mb) => Some(mb.begin(key::TUNNEL)?),
        None => None,
    };
    let end = field_list(s, i + "tunnel(".len(), |p| {
        field(s, p, key, mask.as_deref_mut())
    })?;
    if oversized(key.len() - kstart - 4) {
        return Err(Error::TooBig);
    }
    key.end(kstart);
    if let (Some(mb), Some(ms)) = (mask, mstart) {
        mb.end(ms);
    }
    Ok(end - i)
}

/// Puts the key and (when building one) mask forms of a sub-attribute.
fn put_both(key: &mut NlBuf, mask: Option<&mut NlBuf>, ty: u16, k: &[u8], m: &[u8]) -> Parsed<()> {
    key.put(ty, k)?;
    if let Some(mb) = mask {
        mb.put(ty, m)?;
    }
    Ok(())
}

/// One field: bytes of text used, 0 if none matches here.
fn field(s: &[u8], p: usize, key: &mut NlBuf, mut mask: Option<&mut NlBuf>) -> Parsed<usize> {
    if let Some(&(name, kind, width, ty)) = SIMPLE.iter().find(|f| has_prefix(s, p, f.0)) {
        let mut k = [0u8; 16];
        let mut m = [0xffu8; 16];
        let (kf, mf) = (
            k.get_mut(..width).unwrap_or_default(),
            m.get_mut(..width).unwrap_or_default(),
        );
        let n = scan(kind, s, p + name.len(), kf, Some(mf));
        if n == 0 {
            return Err(Error::Inval);
        }
        put_both(
            key,
            mask,
            ty,
            k.get(..width).unwrap_or_default(),
            m.get(..width).unwrap_or_default(),
        )?;
        return Ok(name.len() + n);
    }
    let (name, n) = if has_prefix(s, p, "erspan(") {
        let q = p + "erspan(".len();
        let (n, k, m) = erspan(s, q).ok_or(Error::Inval)?;
        put_both(key, mask, t::ERSPAN_OPTS, &k, &m)?;
        ("erspan(", n)
    } else if has_prefix(s, p, "vxlan(gbp(") {
        let q = p + "vxlan(gbp(".len();
        let (n, k, m) = vxlan_gbp(s, q).ok_or(Error::Inval)?;
        for (buf, gbp) in [(Some(&mut *key), k), (mask.as_deref_mut(), m)] {
            if let (Some(b), true) = (buf, gbp != 0) {
                let start = b.begin(t::VXLAN_OPTS)?;
                b.u32(vport::VXLAN_EXT_GBP, gbp)?;
                b.end(start);
            }
        }
        ("vxlan(gbp(", n)
    } else if has_prefix(s, p, "geneve(") {
        let q = p + "geneve(".len();
        let g = geneve(s, q, true).ok_or(Error::Inval)?;
        let (k, m) = (
            g.key.get(..g.len).unwrap_or_default(),
            g.mask.get(..g.len).unwrap_or_default(),
        );
        put_both(key, mask, t::GENEVE_OPTS, k, m)?;
        ("geneve(", g.used)
    } else if has_prefix(s, p, "gtpu(") {
        let q = p + "gtpu(".len();
        let (n, k, m) = gtpu(s, q).ok_or(Error::Inval)?;
        put_both(key, mask, t::GTPU_OPTS, &k, &m)?;
        ("gtpu(", n)
    } else if has_prefix(s, p, "flags(") {
        let q = p + "flags(".len();
        let (n, k, m) = parse_flags(s, q, flags::tunnel_flag, b')', flags::TNL_ALL, true)
            .filter(|&(n, _, _)| at(s, q + n) == b')')
            .ok_or(Error::Inval)?;
        put_flags(key, k & 0xffff)?;
        if let Some(mb) = mask {
            put_flags(mb, m & 0xffff)?;
        }
        ("flags(", n + 1)
    } else {
        return Ok(0);
    };
    Ok(name.len() + n)
}

/// `tun_flags_to_attr`: the flags that have attributes of their own.
fn put_flags(b: &mut NlBuf, f: u32) -> Parsed<()> {
    for (bit, ty) in [
        (TNL_DF, t::DONT_FRAGMENT),
        (TNL_CSUM, t::CSUM),
        (TNL_OAM, t::OAM),
    ] {
        if f & bit != 0 {
            b.flag(ty)?;
        }
    }
    Ok(())
}

/// Reads a `%hhi` (or other) field with its mask into two small arrays.
fn num<const N: usize>(kind: Kind, s: &[u8], p: usize) -> Option<(usize, [u8; N], [u8; N])> {
    num_masked(kind, s, p, true)
}

/// `num`, reading a `/mask` only when `with_mask`.
fn num_masked<const N: usize>(
    kind: Kind,
    s: &[u8],
    p: usize,
    with_mask: bool,
) -> Option<(usize, [u8; N], [u8; N])> {
    let (mut k, mut m) = ([0u8; N], [0u8; N]);
    match scan(kind, s, p, &mut k, with_mask.then_some(&mut m)) {
        0 => None,
        n => Some((n, k, m)),
    }
}

/// `scan_erspan_metadata`: `ver=1[,idx=N]` or `ver=2[,dir=N][,hwid=N]`. The
/// key and mask are only filled in if `)` follows; the mask's version word
/// stays all ones.
fn erspan(s: &[u8], q: usize) -> Option<(usize, [u8; ERSPAN_LEN], [u8; ERSPAN_LEN])> {
    let mut k = [0u8; ERSPAN_LEN];
    let mut m = [0xffu8; ERSPAN_LEN];
    let mut p = q;
    let mut ver = 0u8;
    if has_prefix(s, p, "ver=") {
        let (n, v, _) = num::<1>(Kind::U8, s, p + 4)?;
        ver = v[0];
        p += 4 + n;
    }
    if at(s, p) == b',' {
        p += 1;
    }
    match ver {
        1 => {
            let (mut idx, mut idx_mask) = ([0u8; 4], [0u8; 4]);
            if has_prefix(s, p, "idx=") {
                let (n, v, mv) = num::<4>(Kind::Be32, s, p + 4)?;
                (idx, idx_mask) = (v, mv);
                p += 4 + n;
            }
            if at(s, p) == b')' {
                p += 1;
                k[..4].copy_from_slice(&1i32.to_ne_bytes());
                k[4..8].copy_from_slice(&idx);
                m[4..8].copy_from_slice(&idx_mask);
            }
        }
        2 => {
            let (mut dir, mut dir_mask, mut hwid, mut hwid_mask) = (0u8, 0u8, 0u8, 0u8);
            if has_prefix(s, p, "dir=") {
                let (n, v, mv) = num::<1>(Kind::U8, s, p + 4)?;
                (dir, dir_mask) = (v[0], mv[0]);
                p += 4 + n;
            }
            if at(s, p) == b',' {
                p += 1;
            }
            if has_prefix(s, p, "hwid=") {
                let (n, v, mv) = num::<1>(Kind::U8, s, p + 5)?;
                (hwid, hwid_mask) = (v[0], mv[0]);
                p += 5 + n;
            }
            if at(s, p) == b')' {
                p += 1;
                k[..4].copy_from_slice(&2i32.to_ne_bytes());
                // Bit-fields of the v2 header's last byte: hwid in bits 4-7,
                // direction in bit 3.
                k[11] = ((hwid & 0xf) << 4) | ((dir & 1) << 3);
                m[11] = (m[11] & 0x07) | ((hwid_mask & 0xf) << 4) | ((dir_mask & 1) << 3);
            }
        }
        _ => return None,
    }
    Some((p - q, k, m))
}

/// `scan_vxlan_gbp`: `[id=N][,][flags=N]))` as `flags << 16 | id`.
fn vxlan_gbp(s: &[u8], q: usize) -> Option<(usize, u32, u32)> {
    let mut p = q;
    let (mut id, mut id_mask, mut fl, mut fl_mask) = (0u32, 0u32, 0u32, 0u32);
    if has_prefix(s, p, "id=") {
        let (n, v, mv) = num::<2>(Kind::Be16, s, p + 3)?;
        (id, id_mask) = (u16::from_be_bytes(v).into(), u16::from_be_bytes(mv).into());
        p += 3 + n;
    }
    if at(s, p) == b',' {
        p += 1;
    }
    if has_prefix(s, p, "flags=") {
        let (n, v, mv) = num::<1>(Kind::U8, s, p + 6)?;
        (fl, fl_mask) = (v[0].into(), mv[0].into());
        p += 6 + n;
    }
    if !has_prefix(s, p, "))") {
        return None;
    }
    Some((p + 2 - q, (fl << 16) | id, (fl_mask << 16) | id_mask))
}

/// `scan_gtpu_metadata`: `[flags=N][,][msgtype=N])`; without the `)` the
/// key and mask stay as they started.
fn gtpu(s: &[u8], q: usize) -> Option<(usize, [u8; 2], [u8; 2])> {
    let mut p = q;
    let (mut k, mut m) = ([0u8; 2], [0u8; 2]);
    if has_prefix(s, p, "flags=") {
        let (n, v, mv) = num::<1>(Kind::U8, s, p + 6)?;
        (k[0], m[0]) = (v[0], mv[0]);
        p += 6 + n;
    }
    if at(s, p) == b',' {
        p += 1;
    }
    if has_prefix(s, p, "msgtype=") {
        let (n, v, mv) = num::<1>(Kind::U8, s, p + 8)?;
        (k[1], m[1]) = (v[0], mv[0]);
        p += 8 + n;
    }
    if at(s, p) == b')' {
        p += 1;
    } else {
        (k, m) = ([0; 2], [0xff; 2]);
    }
    if p == q { None } else { Some((p - q, k, m)) }
}

/// Geneve options read from text.
pub(crate) struct GeneveText {
    /// Text used, the closing `)` included.
    pub(crate) used: usize,
    pub(crate) key: [u8; GENEVE_MAX],
    pub(crate) mask: [u8; GENEVE_MAX],
    /// Bytes of options in `key` and `mask`.
    pub(crate) len: usize,
}

/// `scan_geneve`: `{class=,type=,len=,data[/mask]}...)`. Without
/// `with_mask` no `/mask` is read.
pub(crate) fn geneve(s: &[u8], q: usize, with_mask: bool) -> Option<GeneveText> {
    let mut k = [0u8; GENEVE_MAX];
    let mut m = [0xffu8; GENEVE_MAX];
    let mut p = q;
    let mut off = 0usize;
    let mut remain = GENEVE_MAX;
    while at(s, p) == b'{' && remain >= 4 {
        p += 1;
        remain -= 4;
        if has_prefix(s, p, "class=") {
            let (n, v, mv) = num_masked::<2>(Kind::Be16, s, p + 6, with_mask)?;
            k.get_mut(off..off + 2)?.copy_from_slice(&v);
            m.get_mut(off..off + 2)?.copy_from_slice(&mv);
            p += 6 + n;
        } else {
            m.get_mut(off..off + 2)?.fill(0);
        }
        if at(s, p) == b',' {
            p += 1;
        }
        if has_prefix(s, p, "type=") {
            let (n, v, mv) = num_masked::<1>(Kind::U8, s, p + 5, with_mask)?;
            *k.get_mut(off + 2)? = v[0];
            *m.get_mut(off + 2)? = mv[0];
            p += 5 + n;
        } else {
            *m.get_mut(off + 2)? = 0;
        }
        if at(s, p) == b',' {
            p += 1;
        }
        let mut data_len = 0usize;
        if has_prefix(s, p, "len=") {
            let (n, v, mv) = num_masked::<1>(Kind::U8, s, p + 4, with_mask)?;
            let opt_len = v[0];
            if opt_len > GENEVE_OPT_MAX || opt_len % 4 != 0 || usize::from(opt_len) > remain {
                return None;
            }
            let kl = k.get_mut(off + 3)?;
            *kl = (*kl & 0xe0) | (opt_len / 4);
            let ml = m.get_mut(off + 3)?;
            *ml = (*ml & 0xe0) | (mv[0] & 0x1f);
            data_len = usize::from(opt_len);
            p += 4 + n;
        } else {
            // OVS clears the type's mask here, not the length's.
            *m.get_mut(off + 2)? = 0;
        }
        let data = off + 4..off + 4 + data_len;
        if at(s, p) == b',' {
            p = parse_int_string(s, p + 1, k.get_mut(data.clone())?)?;
        }
        if with_mask && at(s, p) == b'/' {
            p = parse_int_string(s, p + 1, m.get_mut(data)?)?;
        }
        *m.get_mut(off + 3)? &= 0x1f;
        if at(s, p) != b'}' {
            return None;
        }
        p += 1;
        off += 4 + data_len;
        remain -= data_len;
    }
    if at(s, p) != b')' {
        return None;
    }
    Some(GeneveText {
        used: p + 1 - q,
        key: k,
        mask: m,
        len: GENEVE_MAX - remain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geneve_options() {
        let g = geneve(
            b"{class=0xffff,type=0x80,len=4,0xa/0xf}{class=0xffff,type=0,len=4}),",
            0,
            true,
        )
        .unwrap();
        let (n, k, m, len) = (g.used, g.key, g.mask, g.len);
        assert_eq!((n, len), (66, 16));
        assert_eq!(
            k[..16],
            [
                0xff, 0xff, 0x80, 1, 0, 0, 0, 0xa, 0xff, 0xff, 0, 1, 0, 0, 0, 0
            ]
        );
        assert_eq!(
            m[..16],
            [
                0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0xf, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0xff,
                0xff
            ]
        );
        assert!(geneve(b"{len=5})", 0, true).is_none());
        assert!(geneve(b"{len=4,0x1/0x1})", 0, false).is_none());
    }

    #[test]
    fn erspan_and_gbp() {
        let (n, k, m) = erspan(b"ver=2,dir=1/1,hwid=0x1/0xf)", 0).unwrap();
        assert_eq!(n, 27);
        assert_eq!((k[0], k[11], m[11], m[0]), (2, 0x18, 0xff, 0xff));
        assert!(erspan(b"ver=3)", 0).is_none());
        assert_eq!(
            vxlan_gbp(b"id=10/0xff,flags=0xb))", 0),
            Some((22, 0xb000a, 0xff00ff))
        );
    }
}
