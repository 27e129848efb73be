//! Hand-built headers for the unit tests.

use super::{Layout, extract};
use crate::flow::key::FlowKey;
pub use alloc::vec;
pub use alloc::vec::Vec;

pub const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const V6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const V6_DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Extracts without an out-of-band tag; the frame must not be an error.
pub fn run(frame: &[u8]) -> (FlowKey, Layout) {
    let mut key = FlowKey::default();
    let layout = extract(frame, None, &mut key).unwrap();
    (key, layout)
}

pub fn eth(ty: u16) -> Vec<u8> {
    cat(&[&DST, &SRC, &ty.to_be_bytes()])
}

/// The TCI of a tag whose TPID is the previous type field, and the type after it.
pub fn tci_type(tci: u16, next: u16) -> Vec<u8> {
    cat(&[&tci.to_be_bytes(), &next.to_be_bytes()])
}

/// 10.0.0.1 -> 10.0.0.2, TOS 0xb9, TTL 64, no options.
pub fn ipv4(proto: u8, frag: u16) -> Vec<u8> {
    let f = frag.to_be_bytes();
    vec![
        0x45, 0xb9, 0, 0, 0, 0, f[0], f[1], 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]
}

/// `V6_SRC` -> `V6_DST`, traffic class 0xb9, label 0xabcde, hop limit 255.
pub fn ipv6(next: u8) -> Vec<u8> {
    let first: u32 = 6 << 28 | 0xb9 << 20 | 0xa_bcde;
    cat(&[&first.to_be_bytes(), &[0, 0, next, 255], &V6_SRC, &V6_DST])
}

/// 20-byte header; `flags` are the 12 bits next to the data offset.
pub fn tcp(src: u16, dst: u16, flags: u16) -> Vec<u8> {
    let off_flags = 5 << 12 | flags;
    cat(&[
        &src.to_be_bytes(),
        &dst.to_be_bytes(),
        &[0; 8],
        &off_flags.to_be_bytes(),
        &[0; 6],
    ])
}

pub fn udp(src: u16, dst: u16) -> Vec<u8> {
    cat(&[&src.to_be_bytes(), &dst.to_be_bytes(), &[0, 8, 0, 0]])
}

pub fn sctp(src: u16, dst: u16) -> Vec<u8> {
    cat(&[&src.to_be_bytes(), &dst.to_be_bytes(), &[0; 8]])
}

pub fn icmp(ty: u8, code: u8) -> Vec<u8> {
    vec![ty, code, 0, 0, 0, 0, 0, 0]
}

/// Ethernet/IPv4 ARP from `SRC` 192.168.0.1 to 192.168.0.2, target MAC zero.
pub fn arp(op: u16) -> Vec<u8> {
    cat(&[
        &[0, 1, 0x08, 0, 6, 4],
        &op.to_be_bytes(),
        &SRC,
        &[192, 168, 0, 1],
        &[0; 6],
        &[192, 168, 0, 2],
    ])
}
