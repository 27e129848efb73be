//! One `name=value[/mask],` field of a key attribute, as OVS prints it: with
//! a mask, an all-zero mask hides the field (unless verbose) and a full mask
//! hides the `/mask`.

use super::addr::{put_eth, put_ipv4, put_ipv6};
use super::flags::{self, format_flags, format_flags_masked};
use super::out::{AltHex, Out, put_hex};
use core::fmt::{self, Write};

/// An address field `name=key[/mask]`: left out when its mask is all
/// zeros (unless verbose), the mask left out when it is all ones.
fn address<const N: usize>(
    o: &mut Out,
    name: &str,
    key: [u8; N],
    mask: Option<[u8; N]>,
    verbose: bool,
    put: fn(&mut Out, &[u8; N]) -> fmt::Result,
) -> fmt::Result {
    if verbose || mask != Some([0; N]) {
        write!(o, "{name}=")?;
        put(o, &key)?;
        if let Some(m) = mask.filter(|m| *m != [0xff; N]) {
            o.ch('/')?;
            put(o, &m)?;
        }
        o.ch(',')?;
    }
    Ok(())
}

pub(crate) fn eth(
    o: &mut Out,
    name: &str,
    key: [u8; 6],
    mask: Option<[u8; 6]>,
    verbose: bool,
) -> fmt::Result {
    address(o, name, key, mask, verbose, put_eth)
}

/// Unlike the other fields, a missing mask counts as empty here.
pub(crate) fn be64(
    o: &mut Out,
    name: &str,
    key: u64,
    mask: Option<u64>,
    verbose: bool,
) -> fmt::Result {
    let m = mask.unwrap_or(0);
    if verbose || m != 0 {
        write!(o, "{name}=0x{key:x}")?;
        if mask.is_some() && m != u64::MAX {
            write!(o, "/{}", AltHex(m))?;
        }
        o.ch(',')?;
    }
    Ok(())
}

pub(crate) fn ipv4(
    o: &mut Out,
    name: &str,
    key: [u8; 4],
    mask: Option<[u8; 4]>,
    verbose: bool,
) -> fmt::Result {
    address(o, name, key, mask, verbose, put_ipv4)
}

pub(crate) fn in6(
    o: &mut Out,
    name: &str,
    key: [u8; 16],
    mask: Option<[u8; 16]>,
    verbose: bool,
) -> fmt::Result {
    address(o, name, key, mask, verbose, put_ipv6)
}

pub(crate) fn ipv6_label(
    o: &mut Out,
    name: &str,
    key: u32,
    mask: Option<u32>,
    verbose: bool,
) -> fmt::Result {
    if verbose || mask != Some(0) {
        write!(o, "{name}={}", AltHex(key.into()))?;
        if let Some(m) = mask.filter(|m| m & 0xfffff != 0xfffff) {
            write!(o, "/{}", AltHex(m.into()))?;
        }
        o.ch(',')?;
    }
    Ok(())
}

/// `%#x` value, `%#x` mask.
pub(crate) fn u8x(
    o: &mut Out,
    name: &str,
    key: u8,
    mask: Option<u8>,
    verbose: bool,
) -> fmt::Result {
    number(
        o,
        name,
        AltHex(key.into()),
        mask.map(u64::from),
        u64::from(u8::MAX),
        verbose,
    )
}

/// `%u` value, `%#x` mask.
pub(crate) fn u8u(
    o: &mut Out,
    name: &str,
    key: u8,
    mask: Option<u8>,
    verbose: bool,
) -> fmt::Result {
    number(
        o,
        name,
        key,
        mask.map(u64::from),
        u64::from(u8::MAX),
        verbose,
    )
}

/// A 16-bit field (already in host order): `%u` value, `%#x` mask.
pub(crate) fn be16(
    o: &mut Out,
    name: &str,
    key: u16,
    mask: Option<u16>,
    verbose: bool,
) -> fmt::Result {
    number(
        o,
        name,
        key,
        mask.map(u64::from),
        u64::from(u16::MAX),
        verbose,
    )
}

/// A 16-bit field (already in host order): `%#x` value, `%#x` mask.
pub(crate) fn be16x(
    o: &mut Out,
    name: &str,
    key: u16,
    mask: Option<u16>,
    verbose: bool,
) -> fmt::Result {
    number(
        o,
        name,
        AltHex(key.into()),
        mask.map(u64::from),
        u64::from(u16::MAX),
        verbose,
    )
}

fn number(
    o: &mut Out,
    name: &str,
    key: impl fmt::Display,
    mask: Option<u64>,
    full: u64,
    verbose: bool,
) -> fmt::Result {
    if verbose || mask != Some(0) {
        write!(o, "{name}={key}")?;
        if let Some(m) = mask.filter(|&m| m != full) {
            write!(o, "/{}", AltHex(m))?;
        }
        o.ch(',')?;
    }
    Ok(())
}

/// The IP fragment type: an enumeration, so only empty or full masks print.
pub(crate) fn frag(o: &mut Out, name: &str, key: u8, mask: Option<u8>) -> fmt::Result {
    match mask {
        Some(0) => Ok(()),
        Some(m) if m != u8::MAX => {
            write!(
                o,
                "error: partial mask not supported for frag ({}),",
                AltHex(m.into())
            )
        }
        _ => {
            let text = match key {
                0 => "no",
                1 => "first",
                2 => "later",
                _ => "<error>",
            };
            write!(o, "{name}={text},")
        }
    }
}

/// `name(flags)` of a tunnel; with a mask, `+flag-flag` form.
pub(crate) fn tun_flags(
    o: &mut Out,
    name: &str,
    key: u32,
    mask: Option<u32>,
    verbose: bool,
) -> fmt::Result {
    if verbose || mask != Some(0) {
        write!(o, "{name}(")?;
        match mask {
            Some(m) => format_flags_masked(
                o,
                flags::tunnel_flag,
                key,
                m & flags::TNL_ALL,
                flags::TNL_ALL,
            )?,
            None => format_flags(o, flags::tunnel_flag, key, '|')?,
        }
        o.put("),")?;
    }
    Ok(())
}

/// A 128-bit value carried little-endian (conntrack labels), printed as one
/// big hex number.
pub(crate) fn u128(
    o: &mut Out,
    key: &[u8; 16],
    mask: Option<&[u8; 16]>,
    verbose: bool,
) -> fmt::Result {
    if verbose || mask.is_some_and(|m| *m != [0; 16]) {
        let mut be = *key;
        be.reverse();
        put_hex(o, &be)?;
        if let Some(m) = mask.filter(|m| **m != [0xff; 16]) {
            let mut be = *m;
            be.reverse();
            o.ch('/')?;
            put_hex(o, &be)?;
        }
    }
    Ok(())
}

/// A VLAN TCI (host order) with its mask.
pub(crate) fn vlan_tci(o: &mut Out, tci: u16, mask: u16, verbose: bool) -> fmt::Result {
    let (vid, vid_mask) = (tci & 0xfff, mask & 0xfff);
    let (pcp, pcp_mask) = (tci >> 13, mask >> 13);
    if verbose || vid != 0 || vid_mask != 0 {
        write!(o, "vid={vid}")?;
        if vid_mask != 0xfff {
            write!(o, "/0x{vid_mask:x}")?;
        }
        o.ch(',')?;
    }
    if verbose || pcp != 0 || pcp_mask != 0 {
        write!(o, "pcp={pcp}")?;
        if pcp_mask != 7 {
            write!(o, "/0x{pcp_mask:x}")?;
        }
        o.ch(',')?;
    }
    if tci & 0x1000 == 0 {
        o.put("cfi=0,")?;
    }
    o.chomp(',');
    Ok(())
}

/// One MPLS label stack entry (host order).
pub(crate) fn mpls_lse(o: &mut Out, lse: u32) -> fmt::Result {
    write!(
        o,
        "label={},tc={},ttl={},bos={}",
        lse >> 12,
        (lse >> 9) & 7,
        lse & 0xff,
        (lse >> 8) & 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_fields() {
        let mut o = Out::new();
        u8x(&mut o, "tos", 0, Some(0xfc), false).unwrap();
        u8u(&mut o, "ttl", 64, Some(0), false).unwrap();
        u8u(&mut o, "ttl", 64, None, false).unwrap();
        be64(&mut o, "tun_id", 5, None, false).unwrap();
        ipv4(&mut o, "src", [10, 0, 0, 0], Some([255, 0, 0, 0]), false).unwrap();
        frag(&mut o, "frag", 1, Some(0xf)).unwrap();
        assert_eq!(
            o.as_str(),
            "tos=0/0xfc,ttl=64,src=10.0.0.0/255.0.0.0,error: partial mask not supported for frag (0xf),"
        );
    }

    #[test]
    fn vlan_and_labels() {
        let mut o = Out::new();
        vlan_tci(&mut o, 0x0063, 0xffff, false).unwrap();
        o.ch(' ').unwrap();
        let mut key = [0u8; 16];
        key[0] = 1;
        u128(&mut o, &key, Some(&[0xff; 16]), false).unwrap();
        assert_eq!(o.as_str(), "vid=99,pcp=0,cfi=0 0x1");
    }
}
