//! `push_nsh`, `pop_nsh` and `set` of NSH fields (Linux `nsh_push` /
//! `nsh_pop`). The NSH header goes in front of the packet, whose Ethernet
//! header (if any) becomes its payload; after either, the packet has no
//! Ethernet header unless what NSH carried was Ethernet. Checksums are
//! untouched. The key is then read again from the packet.

use super::headers::{l2, put};
use super::set::masked;
use super::{Fault, rekey};
use crate::flow::FlowKey;
use crate::flow::attrs::proto::{TUN_P_ETHERNET, tun_p_from_eth_p, tun_p_to_eth_p};
use crate::flow::key::{MAC_PROTO_ETHERNET, MAC_PROTO_NONE};
use crate::netlink::attrs;
use crate::ovs::key as k;
use crate::packet::Packet;

const ETH_P_NSH: u16 = 0x894f;
const ETH_P_TEB: u16 = 0x6558;
/// Base and service path headers.
const BASE_LEN: usize = 8;
/// Longest header: its length field counts 63 words.
const MAX_LEN: usize = 256;
const MD_TYPE1: u8 = 1;
/// `ver_flags_ttl_len`: flags, TTL and length (in 4-byte words) fields.
const FLAGS_SHIFT: u16 = 12;
const FLAGS_MASK: u16 = 0x3000;
const TTL_SHIFT: u16 = 6;
const TTL_MASK: u16 = 0x0fc0;
const LEN_MASK: u16 = 0x003f;
/// The mask of an unmasked set (its members are at most 16 bytes).
const ALL_ONES: [u8; 16] = [0xff; 16];

/// Pushes the header PUSH_NSH's payload (an NSH key attribute, validated:
/// a BASE, then MD1 or MD2) describes. Its next protocol is what the packet
/// is: Ethernet, or the type of a packet without an Ethernet header.
pub(super) fn push<P: Packet>(pkt: &mut P, key: &mut FlowKey, payload: &[u8]) -> Result<(), Fault> {
    let nest = attrs(payload)
        .next()
        .and_then(Result::ok)
        .ok_or(Fault::Malformed)?
        .payload();
    let np = if key.mac_proto == MAC_PROTO_ETHERNET {
        TUN_P_ETHERNET
    } else {
        tun_p_from_eth_p(key.eth_type)
    };
    if np == 0 || pkt.oob_vlan().is_some() {
        return Err(Fault::BadHeader);
    }
    // The base header's fields and the metadata (the last of each wins).
    let (mut base, mut md): (Option<[u8; BASE_LEN]>, &[u8]) = (None, &[]);
    for a in attrs(nest).map_while(Result::ok) {
        match a.ty() {
            k::NSH_BASE => base = Some(a.payload().try_into().map_err(|_| Fault::Malformed)?),
            k::NSH_MD1 | k::NSH_MD2 if a.len() <= MAX_LEN - BASE_LEN => md = a.payload(),
            _ => return Err(Fault::Malformed),
        }
    }
    let [flags, ttl, mdtype, _, s0, s1, s2, s3] = base.ok_or(Fault::Malformed)?;
    // The length field counts whole words; that is what is pushed (Linux).
    let words = (BASE_LEN + md.len()) / 4;
    let word = (u16::from(flags) << FLAGS_SHIFT & FLAGS_MASK)
        | (u16::from(ttl) << TTL_SHIFT & TTL_MASK)
        | (words as u16 & LEN_MASK);
    let [w0, w1] = word.to_be_bytes();
    let frame = pkt.push_front(words * 4).ok_or(Fault::NoMemory)?;
    put(frame, 0, [w0, w1, mdtype, np, s0, s1, s2, s3]).ok_or(Fault::BadHeader)?;
    let room = frame.get_mut(BASE_LEN..words * 4).ok_or(Fault::BadHeader)?;
    room.copy_from_slice(md.get(..room.len()).ok_or(Fault::BadHeader)?);
    key.mac_proto = MAC_PROTO_NONE;
    key.eth_type = ETH_P_NSH;
    rekey(pkt, key)
}

/// Pops the NSH header that starts the packet; what it carried is next.
pub(super) fn pop<P: Packet>(pkt: &mut P, key: &mut FlowKey) -> Result<(), Fault> {
    if key.mac_proto != MAC_PROTO_NONE {
        return Err(Fault::BadHeader);
    }
    let d = pkt.data();
    let [w0, w1, _, np] = d.first_chunk::<4>().copied().ok_or(Fault::BadHeader)?;
    let len = usize::from(u16::from_be_bytes([w0, w1]) & LEN_MASK) * 4;
    let inner = tun_p_to_eth_p(np);
    if len < BASE_LEN || inner == 0 || !pkt.pull_front(len) {
        return Err(Fault::BadHeader);
    }
    key.mac_proto = if inner == ETH_P_TEB {
        MAC_PROTO_ETHERNET
    } else {
        MAC_PROTO_NONE
    };
    key.eth_type = inner;
    rekey(pkt, key)
}

/// SET / SET_MASKED of NSH (validated): flags, TTL, SPI and SI from BASE,
/// and the MD type 1 context from MD1, each member a value and (masked) a
/// mask.
pub(super) fn set<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    nest: &[u8],
    with_masks: bool,
) -> Result<(), Fault> {
    let at = match key.mac_proto {
        MAC_PROTO_NONE => 0,
        _ => l2(pkt.data(), pkt.oob_vlan()).ok_or(Fault::BadHeader)?.l3,
    };
    if key.eth_type != ETH_P_NSH {
        return Err(Fault::BadHeader);
    }
    let frame = pkt.data_mut().ok_or(Fault::NoMemory)?;
    let header = frame.get_mut(at..).ok_or(Fault::BadHeader)?;
    let [w0, w1, mdtype, ..] = *header.first_chunk::<4>().ok_or(Fault::BadHeader)?;
    for a in attrs(nest).map_while(Result::ok) {
        let p = a.payload();
        let (value, mask) = if with_masks {
            p.split_at(p.len() / 2)
        } else {
            (p, ALL_ONES.get(..p.len()).ok_or(Fault::Malformed)?)
        };
        match a.ty() {
            k::NSH_BASE => {
                let [f, t, _, _, s0, s1, s2, s3] =
                    value.try_into().map_err(|_| Fault::Malformed)?;
                let [mf, mt, _, _, m0, m1, m2, m3] =
                    mask.try_into().map_err(|_| Fault::Malformed)?;
                let word = u16::from_be_bytes([w0, w1]);
                let [flags] = masked([((word & FLAGS_MASK) >> FLAGS_SHIFT) as u8], [f], [mf]);
                let [ttl] = masked([((word & TTL_MASK) >> TTL_SHIFT) as u8], [t], [mt]);
                let word = (word & !(FLAGS_MASK | TTL_MASK))
                    | (u16::from(flags) << FLAGS_SHIFT & FLAGS_MASK)
                    | (u16::from(ttl) << TTL_SHIFT & TTL_MASK);
                put(header, 0, word.to_be_bytes()).ok_or(Fault::BadHeader)?;
                let path = header.get_mut(4..8).ok_or(Fault::BadHeader)?;
                masked_into(path, &[s0, s1, s2, s3], &[m0, m1, m2, m3])?;
            }
            k::NSH_MD1 if mdtype == MD_TYPE1 => {
                let context = header
                    .get_mut(BASE_LEN..BASE_LEN + 16)
                    .ok_or(Fault::BadHeader)?;
                let words = context.chunks_exact_mut(4);
                for ((o, v), m) in words.zip(value.chunks_exact(4)).zip(mask.chunks_exact(4)) {
                    masked_into(o, v, m)?;
                }
            }
            _ => return Err(Fault::BadHeader),
        }
    }
    rekey(pkt, key)
}

/// Writes `value` over the 4 bytes of `old` where `mask` has bits.
fn masked_into(old: &mut [u8], value: &[u8], mask: &[u8]) -> Result<(), Fault> {
    let word = |b: &[u8]| <[u8; 4]>::try_from(b).map_err(|_| Fault::Malformed);
    let new = masked(word(old)?, word(value)?, word(mask)?);
    old.copy_from_slice(&new);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{attr, eth, ipv4, key_of, packet, udp};
    use crate::flow::extract::extract_l3;
    use std::vec::Vec;

    const CONTEXT: [u8; 16] = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];

    /// flags 1, TTL 63, SPI 0x000010, SI 255.
    fn base(mdtype: u8) -> Vec<u8> {
        attr(k::NSH_BASE, &[1, 63, mdtype, 0, 0, 0, 0x10, 0xff])
    }

    fn frame() -> Vec<u8> {
        ipv4(eth(&[], 0x0800), 17, &udp(1, 2))
    }

    #[test]
    fn md1_onto_an_ethernet_frame_and_off_again() {
        let f = frame();
        let mut p = packet(&f);
        let mut k = key_of(&f);
        let nest = [base(1), attr(k::NSH_MD1, &CONTEXT)].concat();
        push(&mut p, &mut k, &attr(k::NSH, &nest)).unwrap();
        let d = p.data();
        assert_eq!(&d[..8], &[0x1f, 0xc6, 1, TUN_P_ETHERNET, 0, 0, 0x10, 0xff]);
        assert_eq!(&d[8..24], &CONTEXT);
        assert_eq!(&d[24..], &f[..]);
        assert_eq!((k.mac_proto, k.eth_type), (MAC_PROTO_NONE, ETH_P_NSH));
        assert_eq!((k.nsh.flags, k.nsh.ttl, k.nsh.np), (1, 63, 3));
        assert_eq!((k.nsh.path_hdr, k.nsh.context), (0x10ff, [1, 2, 3, 4]));
        pop(&mut p, &mut k).unwrap();
        assert_eq!(p.data(), &f[..]);
        assert_eq!(k, key_of(&f));
    }

    #[test]
    fn md2_onto_a_packet_without_ethernet_header() {
        let ip = frame()[14..].to_vec();
        let mut p = packet(&ip);
        let mut k = FlowKey::default();
        extract_l3(&ip, 0x0800, &mut k).unwrap();
        let tlv = [0x00, 0x0a, 0x04, 0x04, 0x12, 0x34, 0x56, 0x78];
        let nest = [base(2), attr(k::NSH_MD2, &tlv)].concat();
        push(&mut p, &mut k, &attr(k::NSH, &nest)).unwrap();
        assert_eq!(&p.data()[..4], &[0x1f, 0xc4, 2, 1], "4 words, next: IPv4");
        assert_eq!(&p.data()[8..16], &tlv);
        assert_eq!(&p.data()[16..], &ip[..]);
        assert_eq!((k.nsh.mdtype, k.nsh.np, k.nsh.context), (2, 1, [0; 4]));
        pop(&mut p, &mut k).unwrap();
        assert_eq!(p.data(), &ip[..]);
        assert_eq!(
            (k.mac_proto, k.eth_type, k.ip_proto),
            (MAC_PROTO_NONE, 0x0800, 17)
        );
    }

    #[test]
    fn set_writes_the_masked_fields() {
        let f = frame();
        let mut p = packet(&f);
        let mut k = key_of(&f);
        let nest = [base(1), attr(k::NSH_MD1, &CONTEXT)].concat();
        push(&mut p, &mut k, &attr(k::NSH, &nest)).unwrap();
        // TTL to 9 and SI to 254; the third context word to 0x30.
        let base = attr(
            k::NSH_BASE,
            &[[0, 9, 0, 0, 0, 0, 0, 0xfe], [0, 0x3f, 0, 0, 0, 0, 0, 0xff]].concat(),
        );
        let mut md1 = [0u8; 32];
        md1[11] = 0x30;
        md1[16 + 11] = 0xff;
        let nest = [base, attr(k::NSH_MD1, &md1)].concat();
        set(&mut p, &mut k, &nest, true).unwrap();
        assert_eq!(&p.data()[..8], &[0x12, 0x46, 1, 3, 0, 0, 0x10, 0xfe]);
        assert_eq!(
            (k.nsh.ttl, k.nsh.path_hdr, k.nsh.context),
            (9, 0x10fe, [1, 2, 0x30, 4])
        );
        // Unmasked: every bit of BASE's writable fields.
        let whole = attr(k::NSH_BASE, &[0, 1, 1, 3, 0xab, 0xcd, 0xef, 0x01]);
        set(&mut p, &mut k, &whole, false).unwrap();
        assert_eq!(
            (k.nsh.flags, k.nsh.ttl, k.nsh.path_hdr),
            (0, 1, 0xabcd_ef01)
        );
    }

    #[test]
    fn bad_headers_drop() {
        let f = frame();
        let mut p = packet(&f);
        let mut k = key_of(&f);
        assert_eq!(pop(&mut p, &mut k), Err(Fault::BadHeader), "Ethernet first");
        let mut k = FlowKey::default();
        let short = [0x00, 0x01, 1, 1];
        let mut p = packet(&short);
        extract_l3(&short, 0x1234, &mut k).unwrap();
        k.eth_type = ETH_P_NSH;
        assert_eq!(pop(&mut p, &mut k), Err(Fault::BadHeader), "length below 8");
    }
}
