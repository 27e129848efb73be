//! Attribute-stream builders for the unit tests.

use std::vec::Vec;

use crate::netlink::NlBuf;
use crate::ovs::key as k;

use super::{MAX_KEY_LEN, Match, emit_key, emit_mask, parse_match};

/// One attribute, padded to 4 bytes.
pub(super) fn a(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&u16::try_from(4 + payload.len()).unwrap().to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

/// A nest of `parts`.
pub(super) fn nest(ty: u16, parts: &[Vec<u8>]) -> Vec<u8> {
    a(ty, &parts.concat())
}

pub(super) fn u32a(ty: u16, v: u32) -> Vec<u8> {
    a(ty, &v.to_ne_bytes())
}

pub(super) fn be16a(ty: u16, v: u16) -> Vec<u8> {
    a(ty, &v.to_be_bytes())
}

pub(super) const SRC_MAC: [u8; 6] = [0, 1, 2, 3, 4, 5];
pub(super) const DST_MAC: [u8; 6] = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15];

pub(super) fn eth() -> Vec<u8> {
    a(k::ETHERNET, &[SRC_MAC, DST_MAC].concat())
}

/// `struct ovs_key_ipv4`: 10.0.0.1 -> 10.0.0.2.
pub(super) fn ipv4(proto: u8, frag: u8) -> Vec<u8> {
    a(k::IPV4, &[10, 0, 0, 1, 10, 0, 0, 2, proto, 0, 64, frag])
}

/// `struct ovs_key_ipv6`: ::1 -> ::2, label 0x12345.
pub(super) fn ipv6(proto: u8, frag: u8) -> Vec<u8> {
    let mut p = [0u8; 40];
    p[15] = 1;
    p[31] = 2;
    p[32..36].copy_from_slice(&0x12345u32.to_be_bytes());
    p[36..].copy_from_slice(&[proto, 0, 64, frag]);
    a(k::IPV6, &p)
}

pub(super) fn l4(ty: u16, src: u16, dst: u16) -> Vec<u8> {
    a(ty, &[src.to_be_bytes(), dst.to_be_bytes()].concat())
}

/// in_port(1), eth, eth_type(IPv4), ipv4(TCP), tcp(80 -> 8080), tcp_flags(SYN).
pub(super) fn tcp4() -> Vec<u8> {
    [
        u32a(k::IN_PORT, 1),
        eth(),
        be16a(k::ETHERTYPE, 0x0800),
        ipv4(6, 0),
        l4(k::TCP, 80, 8080),
        be16a(k::TCP_FLAGS, 0x002),
    ]
    .concat()
}

/// The same stream with every leaf payload set to `0xff`.
pub(super) fn ones(stream: &[u8], nested: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    for attr in crate::netlink::attrs(stream) {
        let attr = attr.unwrap();
        if nested.contains(&attr.ty()) {
            out.extend(a(attr.raw_type(), &ones(attr.payload(), nested)));
        } else {
            out.extend(a(attr.raw_type(), &std::vec![0xff; attr.len()]));
        }
    }
    out
}

pub(super) fn key_bytes(m: &Match) -> Vec<u8> {
    let mut b = [0u8; MAX_KEY_LEN];
    let mut buf = NlBuf::new(&mut b);
    emit_key(&m.key, &mut buf).unwrap();
    buf.as_bytes().to_vec()
}

pub(super) fn mask_bytes(m: &Match) -> Vec<u8> {
    let mut b = [0u8; MAX_KEY_LEN];
    let mut buf = NlBuf::new(&mut b);
    emit_mask(&m.mask, &m.key, &mut buf).unwrap();
    buf.as_bytes().to_vec()
}

/// Emits `m` and parses it back.
pub(super) fn round_trip(m: &Match) -> Match {
    parse_match(&key_bytes(m), Some(&mask_bytes(m))).unwrap()
}

/// Top-level attribute types of a stream, in order.
pub(super) fn types(stream: &[u8]) -> Vec<u16> {
    crate::netlink::attrs(stream)
        .map(|a| a.unwrap().ty())
        .collect()
}

/// The payload of the first `ty` attribute at the top level.
pub(super) fn find(stream: &[u8], ty: u16) -> Option<Vec<u8>> {
    crate::netlink::attrs(stream)
        .map(|a| a.unwrap())
        .find(|a| a.ty() == ty)
        .map(|a| a.payload().to_vec())
}
