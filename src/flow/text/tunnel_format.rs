//! The `tunnel(...)` key attribute as text, with its Geneve, VXLAN-GBP,
//! ERSPAN and GTP-U options (`format_odp_tun_attr` and helpers).

use super::fields;
use super::flags::{TNL_CSUM, TNL_DF, TNL_KEY, TNL_OAM};
use super::key_format::{check_len, wildcard};
use super::lens::{Table, mask_is_constant};
use super::nl::{be16, be32, byte, find, ne32, read, walk};
use super::out::{AltHex, Out, put_bytes, put_hex};
use crate::netlink::{Attr, NLA_HDRLEN, align};
use crate::ovs::tunnel as t;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// A sub-attribute's mask, and for a generated one the scratch buffer from
/// its payload on.
type SubMask<'m> = (Attr<'m>, Option<&'m [u8]>);

/// The mask for a sub-attribute: the mask stream's own, else an all-zero one
/// made to measure. OVS appends each zero mask it makes to a scratch buffer
/// that it empties only after a sub-attribute passes its length check, and
/// always hands out the first one in it; `spare` is that buffer. A
/// generated mask comes with the rest of the buffer after its header, which
/// is what OVS's fixed-size reads of it see.
fn sub_mask<'m>(
    masks: Option<&'m [u8]>,
    a: &Attr<'_>,
    table: Table,
    spare: &'m mut Vec<u8>,
) -> Result<Option<SubMask<'m>>, fmt::Error> {
    let Some(mb) = masks else { return Ok(None) };
    if let Some(found) = find(mb, a.ty()) {
        return Ok(Some((found, None)));
    }
    let zeros = wildcard(a, table)?;
    let total = NLA_HDRLEN + zeros.len();
    spare.try_reserve(align(total)).map_err(|_| fmt::Error)?;
    spare.extend_from_slice(&(total as u16).to_ne_bytes());
    spare.extend_from_slice(&a.ty().to_ne_bytes());
    spare.extend_from_slice(&zeros);
    spare.resize(spare.len() + align(total) - total, 0);
    let spare: &'m [u8] = spare;
    Ok(walk(spare)
        .next()
        .map(|first| (first, spare.get(NLA_HDRLEN..))))
}

/// `format_unknown_key`.
fn unknown(o: &mut Out, a: &Attr<'_>, ma: Option<&Attr<'_>>) -> fmt::Result {
    write!(o, "key{}(", a.ty())?;
    put_bytes(o, a.payload(), Some(' '))?;
    if let Some(m) = ma.filter(|m| !mask_is_constant(m.ty(), m.payload(), true)) {
        o.ch('/')?;
        put_bytes(o, m.payload(), Some(' '))?;
    }
    o.put("),")
}

/// The inside of `tunnel(...)`.
pub(crate) fn tunnel(o: &mut Out, k: &[u8], m: Option<&[u8]>, verbose: bool) -> fmt::Result {
    let (mut flags, mut mask_flags) = (0u32, 0u32);
    let mut spare = Vec::new();
    for a in walk(k) {
        let (ma, generated) = sub_mask(m, &a, Table::Tunnel, &mut spare)?.unzip();
        if !check_len(o, &a, ma.as_ref(), Table::Tunnel, true)? {
            continue;
        }
        let v = a.payload();
        let mv = ma.as_ref().map(|x| x.payload());
        // What OVS's fixed-size reads of the mask run into.
        let mv_ext = generated.flatten().or_else(|| mv.map(|x| o.ext(x)));
        match a.ty() {
            t::ID => {
                let id = u64::from_be_bytes(read(v, 0));
                fields::be64(
                    o,
                    "tun_id",
                    id,
                    mv.map(|x| u64::from_be_bytes(read(x, 0))),
                    verbose,
                )?;
                flags |= TNL_KEY;
                if ma.is_some() {
                    mask_flags |= TNL_KEY;
                }
            }
            t::IPV4_SRC => fields::ipv4(o, "src", read(v, 0), mv.map(|x| read(x, 0)), verbose)?,
            t::IPV4_DST => fields::ipv4(o, "dst", read(v, 0), mv.map(|x| read(x, 0)), verbose)?,
            t::IPV6_SRC => fields::in6(o, "ipv6_src", read(v, 0), mv.map(|x| read(x, 0)), verbose)?,
            t::IPV6_DST => fields::in6(o, "ipv6_dst", read(v, 0), mv.map(|x| read(x, 0)), verbose)?,
            t::TOS => fields::u8x(o, "tos", byte(v, 0), mv.map(|x| byte(x, 0)), verbose)?,
            t::TTL => fields::u8u(o, "ttl", byte(v, 0), mv.map(|x| byte(x, 0)), verbose)?,
            t::DONT_FRAGMENT => flags |= TNL_DF,
            t::CSUM => flags |= TNL_CSUM,
            t::OAM => flags |= TNL_OAM,
            t::TP_SRC => fields::be16(o, "tp_src", be16(v, 0), mv.map(|x| be16(x, 0)), verbose)?,
            t::TP_DST => fields::be16(o, "tp_dst", be16(v, 0), mv.map(|x| be16(x, 0)), verbose)?,
            t::VXLAN_OPTS => {
                o.put("vxlan(")?;
                vxlan(o, v, mv, verbose)?;
                o.put("),")?;
            }
            t::GENEVE_OPTS => {
                o.put("geneve(")?;
                match mv {
                    Some(x) if x.len() != v.len() => {
                        write!(
                            o,
                            "value len {} different from mask len {}",
                            v.len(),
                            x.len()
                        )?;
                    }
                    _ => geneve_opts(o, v, mv, verbose)?,
                }
                o.put("),")?;
            }
            t::PAD => {}
            t::ERSPAN_OPTS => {
                o.put("erspan(")?;
                erspan(o, o.ext(v), mv_ext, verbose)?;
                o.put("),")?;
            }
            t::GTPU_OPTS => {
                o.put("gtpu(")?;
                let v = o.ext(v);
                fields::u8x(o, "flags", byte(v, 0), mv_ext.map(|x| byte(x, 0)), verbose)?;
                fields::u8u(
                    o,
                    "msgtype",
                    byte(v, 1),
                    mv_ext.map(|x| byte(x, 1)),
                    verbose,
                )?;
                o.chomp(',');
                o.put("),")?;
            }
            _ => unknown(o, &a, ma.as_ref())?,
        }
        spare.clear();
    }
    if let Some(mb) = m {
        for a in walk(mb) {
            match a.ty() {
                t::DONT_FRAGMENT => mask_flags |= TNL_DF,
                t::CSUM => mask_flags |= TNL_CSUM,
                t::OAM => mask_flags |= TNL_OAM,
                _ => {}
            }
        }
    }
    fields::tun_flags(o, "flags", flags, m.map(|_| mask_flags), verbose)?;
    o.chomp(',');
    Ok(())
}

/// The inside of `vxlan(...)`.
fn vxlan(o: &mut Out, k: &[u8], m: Option<&[u8]>, verbose: bool) -> fmt::Result {
    let mut spare = Vec::new();
    for a in walk(k) {
        let ma = sub_mask(m, &a, Table::Vxlan, &mut spare)?.map(|(x, _)| x);
        if !check_len(o, &a, ma.as_ref(), Table::Vxlan, true)? {
            continue;
        }
        if a.ty() == crate::ovs::vport::VXLAN_EXT_GBP {
            let gbp = ne32(a.payload(), 0);
            let mask = ma.as_ref().map(|x| ne32(x.payload(), 0));
            o.put("gbp(")?;
            fields::be16(o, "id", gbp as u16, mask.map(|x| x as u16), verbose)?;
            fields::u8x(
                o,
                "flags",
                (gbp >> 16) as u8,
                mask.map(|x| (x >> 16) as u8),
                verbose,
            )?;
            o.chomp(',');
            o.put("),")?;
        } else {
            unknown(o, &a, ma.as_ref())?;
        }
        spare.clear();
    }
    o.chomp(',');
    Ok(())
}

/// Geneve options (`format_geneve_opts`): `{class=,type=,len=,data[/mask]}`
/// each.
pub(crate) fn geneve_opts(o: &mut Out, k: &[u8], m: Option<&[u8]>, verbose: bool) -> fmt::Result {
    let mut off = 0usize;
    let mut remaining = k.len();
    while remaining > 0 {
        if remaining < 4 {
            return write!(o, "opt len {remaining} less than minimum 4");
        }
        let data_len = usize::from(byte(k, off + 3) & 0x1f) * 4;
        let len = 4 + data_len;
        if len > remaining {
            return write!(o, "opt len {len} greater than remaining {remaining}");
        }
        let len_mask = m.map(|x| match byte(x, off + 3) & 0x1f {
            0x1f => u8::MAX,
            l => l,
        });
        o.ch('{')?;
        fields::be16x(o, "class", be16(k, off), m.map(|x| be16(x, off)), verbose)?;
        fields::u8x(
            o,
            "type",
            byte(k, off + 2),
            m.map(|x| byte(x, off + 2)),
            verbose,
        )?;
        fields::u8u(o, "len", data_len as u8, len_mask, verbose)?;
        let data = k.get(off + 4..off + len).unwrap_or_default();
        let mdata = m.map(|x| x.get(off + 4..off + len).unwrap_or_default());
        if data_len > 0 && (verbose || mdata.is_none_or(|d| d.iter().any(|&b| b != 0))) {
            put_hex(o, data)?;
            if let Some(d) = mdata.filter(|d| d.iter().any(|&b| b != 0xff)) {
                o.ch('/')?;
                put_hex(o, d)?;
            }
        } else {
            o.chomp(',');
        }
        o.ch('}')?;
        off += len;
        remaining -= len;
    }
    Ok(())
}

/// ERSPAN metadata: `int version` (host order), then the v1 index or the
/// v2 direction and hardware id bit-fields.
fn erspan(o: &mut Out, k: &[u8], m: Option<&[u8]>, verbose: bool) -> fmt::Result {
    fields::u8u(o, "ver", byte(k, 0), m.map(|x| byte(x, 0)), verbose)?;
    match ne32(k, 0) {
        1 => match m {
            Some(x) => write!(
                o,
                "idx={}/{},",
                AltHex(be32(k, 4).into()),
                AltHex(be32(x, 4).into())
            )?,
            None => write!(o, "idx={},", AltHex(be32(k, 4).into()))?,
        },
        2 => {
            let dir = |b: &[u8]| (byte(b, 11) >> 3) & 1;
            let hwid = |b: &[u8]| byte(b, 11) >> 4;
            fields::u8u(o, "dir", dir(k), m.map(dir), verbose)?;
            fields::u8x(o, "hwid", hwid(k), m.map(hwid), verbose)?;
        }
        _ => {}
    }
    o.chomp(',');
    Ok(())
}
