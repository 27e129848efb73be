//! IPv6 neighbour discovery: the target address and the source/target
//! link-layer address options of a solicitation or advertisement.

use super::wire::{NdMsg, NdOpt, view};
use crate::flow::key::FlowKey;
use core::mem::size_of;

pub(super) const SOLICITATION: u8 = 135;
pub(super) const ADVERTISEMENT: u8 = 136;
const OPT_SOURCE_LL: u8 = 1;
const OPT_TARGET_LL: u8 = 2;

/// Linux's rules: a message shorter than 24 bytes has no target; options
/// are read while 8 bytes remain; a zero-length or overlong option ends
/// the walk, keeping what was found; a second non-zero SLL or TLL makes the
/// whole message invalid (target, SLL and TLL zero). The SLL/TLL go in
/// `arp_sha`/`arp_tha`.
pub(super) fn parse(frame: &[u8], l4: usize, key: &mut FlowKey) {
    let Some(msg) = view::<NdMsg>(frame, l4) else {
        return;
    };
    key.nd_target = msg.target;
    let mut opts = frame.get(l4 + size_of::<NdMsg>()..).unwrap_or_default();
    while let Some(opt) = view::<NdOpt>(opts, 0) {
        let len = usize::from(opt.len) * 8;
        let Some(rest) = opts.get(len..).filter(|_| len != 0) else {
            return;
        };
        if len == size_of::<NdOpt>() {
            let slot = match opt.ty {
                OPT_SOURCE_LL => Some(&mut key.arp_sha),
                OPT_TARGET_LL => Some(&mut key.arp_tha),
                _ => None,
            };
            if let Some(slot) = slot {
                if *slot != [0; 6] {
                    key.nd_target = [0; 16];
                    key.arp_sha = [0; 6];
                    key.arp_tha = [0; 6];
                    return;
                }
                *slot = opt.lladdr;
            }
        }
        opts = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::super::frames::*;

    const TARGET: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42];
    const MAC_A: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 2];

    fn nd(ty: u8, code: u8, opts: &[&[u8]]) -> Vec<u8> {
        let mut f = cat(&[&eth(0x86dd), &ipv6(58), &icmp(ty, code), &TARGET]);
        for o in opts {
            f.extend_from_slice(o);
        }
        f
    }

    fn lla(ty: u8, mac: [u8; 6]) -> Vec<u8> {
        cat(&[&[ty, 1], &mac])
    }

    #[test]
    fn solicitation_with_source_link_layer() {
        let (k, _) = run(&nd(135, 0, &[&lla(1, MAC_A)]));
        assert_eq!((k.tp_src, k.tp_dst), (135, 0));
        assert_eq!(k.nd_target, TARGET);
        assert_eq!(k.arp_sha, MAC_A);
        assert_eq!(k.arp_tha, [0; 6]);
    }

    #[test]
    fn advertisement_with_target_link_layer() {
        let (k, _) = run(&nd(136, 0, &[&lla(2, MAC_B)]));
        assert_eq!(k.nd_target, TARGET);
        assert_eq!((k.arp_sha, k.arp_tha), ([0; 6], MAC_B));
    }

    #[test]
    fn both_options_and_unknown_ones_are_fine() {
        let mtu = [5, 1, 0, 0, 0, 0, 0x05, 0xdc];
        let (k, _) = run(&nd(136, 0, &[&lla(2, MAC_B), &mtu, &lla(1, MAC_A)]));
        assert_eq!((k.arp_sha, k.arp_tha), (MAC_A, MAC_B));
        assert_eq!(k.nd_target, TARGET);
    }

    #[test]
    fn no_options() {
        let (k, _) = run(&nd(135, 0, &[]));
        assert_eq!(k.nd_target, TARGET);
        assert_eq!((k.arp_sha, k.arp_tha), ([0; 6], [0; 6]));
    }

    #[test]
    fn message_shorter_than_24_bytes_has_no_target() {
        let f = nd(135, 0, &[]);
        let (k, _) = run(&f[..f.len() - 1]);
        assert_eq!((k.tp_src, k.nd_target), (135, [0; 16]));
    }

    #[test]
    fn nonzero_code_or_other_type_is_not_nd() {
        let (k, _) = run(&nd(135, 1, &[&lla(1, MAC_A)]));
        assert_eq!((k.tp_src, k.tp_dst), (135, 1));
        assert_eq!((k.nd_target, k.arp_sha), ([0; 16], [0; 6]));
        let (k, _) = run(&nd(134, 0, &[&lla(1, MAC_A)]));
        assert_eq!((k.nd_target, k.arp_sha), ([0; 16], [0; 6]));
    }

    #[test]
    fn duplicate_link_layer_option_invalidates_all() {
        let (k, _) = run(&nd(
            135,
            0,
            &[&lla(2, MAC_B), &lla(1, MAC_A), &lla(1, MAC_B)],
        ));
        assert_eq!(k.nd_target, [0; 16]);
        assert_eq!((k.arp_sha, k.arp_tha), ([0; 6], [0; 6]));
        // ICMPv6 type/code stay.
        assert_eq!((k.tp_src, k.tp_dst), (135, 0));
        let (k, _) = run(&nd(136, 0, &[&lla(2, MAC_B), &lla(2, MAC_B)]));
        assert_eq!((k.nd_target, k.arp_tha), ([0; 16], [0; 6]));
    }

    #[test]
    fn a_zero_address_can_be_given_again() {
        let (k, _) = run(&nd(135, 0, &[&lla(1, [0; 6]), &lla(1, MAC_A)]));
        assert_eq!((k.nd_target, k.arp_sha), (TARGET, MAC_A));
    }

    #[test]
    fn zero_length_option_stops_keeping_what_was_found() {
        let (k, _) = run(&nd(
            135,
            0,
            &[&lla(1, MAC_A), &[2, 0, 1, 2, 3, 4, 5, 6], &lla(2, MAC_B)],
        ));
        assert_eq!(k.nd_target, TARGET);
        assert_eq!((k.arp_sha, k.arp_tha), (MAC_A, [0; 6]));
    }

    #[test]
    fn overlong_option_stops_keeping_what_was_found() {
        let (k, _) = run(&nd(
            136,
            0,
            &[&lla(2, MAC_B), &[1, 3, 1, 2, 3, 4, 5, 6], &lla(1, MAC_A)],
        ));
        assert_eq!((k.nd_target, k.arp_tha, k.arp_sha), (TARGET, MAC_B, [0; 6]));
    }

    #[test]
    fn long_link_layer_option_is_skipped() {
        let (k, _) = run(&nd(
            135,
            0,
            &[
                &[1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
                &lla(2, MAC_B),
            ],
        ));
        assert_eq!((k.arp_sha, k.arp_tha), ([0; 6], MAC_B));
    }

    #[test]
    fn trailing_bytes_shorter_than_an_option_are_ignored() {
        let (k, _) = run(&nd(135, 0, &[&lla(1, MAC_A), &[1, 1, 9, 9, 9, 9, 9]]));
        assert_eq!((k.nd_target, k.arp_sha), (TARGET, MAC_A));
    }

    #[test]
    fn truncated_option_is_not_read() {
        let f = nd(135, 0, &[&lla(1, MAC_A)]);
        let (k, _) = run(&f[..f.len() - 1]);
        assert_eq!((k.nd_target, k.arp_sha), (TARGET, [0; 6]));
    }
}
