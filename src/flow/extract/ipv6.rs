//! IPv6: the fixed header, the extension header walk (hop-by-hop, routing,
//! destination options, fragment, AH) to the upper-layer protocol, fragment
//! type, then L4 unless the packet is a later fragment.

use super::wire::{ExtHeader, ExtHeaderWord, Ipv6Header, ipproto, view};
use super::{Layout, Network, transport};
use crate::flow::key::FlowKey;
use crate::ovs::key::{FRAG_FIRST, FRAG_LATER, FRAG_NONE};
use core::mem::size_of;

/// A header shorter than 40 bytes leaves every IP field zero. An extension
/// header the walk cannot read leaves `ip_proto` at `IPPROTO_NONE` (59) and
/// no L4; a later fragment has `ip_proto` `IPPROTO_FRAGMENT` (44).
pub(super) fn parse(frame: &[u8], key: &mut FlowKey, layout: &mut Layout) {
    let l3 = layout.l3;
    let Some(h) = view::<Ipv6Header>(frame, l3) else {
        return;
    };
    let first = h.ver_tc_label.get();
    key.ip_tos = (first >> 20) as u8;
    key.ip_ttl = h.hop_limit;
    key.ipv6_label = first & 0x000f_ffff;
    key.ipv6_src = h.src;
    key.ipv6_dst = h.dst;
    key.ip_proto = ipproto::NONE;
    layout.network = Some(Network::Ipv6);

    let walk = walk(frame, l3 + size_of::<Ipv6Header>(), h.next);
    if walk.end == End::LaterFragment {
        key.ip_frag = FRAG_LATER;
        key.ip_proto = ipproto::FRAGMENT;
        return;
    }
    key.ip_frag = if walk.fragment { FRAG_FIRST } else { FRAG_NONE };
    if let End::Upper { proto, at } = walk.end {
        key.ip_proto = proto;
        layout.l4 = at;
        layout.transport = transport::ipv6(frame, at, key);
    }
}

/// How the extension header walk ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// At a protocol that is not an extension header (or at "no next
    /// header"), which starts at `at`, possibly past the end of the frame.
    Upper { proto: u8, at: usize },
    /// At a non-first fragment whose next header is an upper-layer protocol.
    LaterFragment,
    /// At a header cut short, or a later fragment followed by another
    /// extension header.
    Unparsable,
}

#[derive(Debug, PartialEq, Eq)]
struct Walk {
    end: End,
    /// The walk reached a fragment header.
    fragment: bool,
}

fn is_extension(next: u8) -> bool {
    matches!(
        next,
        ipproto::HOPOPTS | ipproto::ROUTING | ipproto::FRAGMENT | ipproto::AH | ipproto::DSTOPTS
    )
}

/// Linux's `ipv6_find_hdr()` for the last header: only the first two bytes
/// of each extension header (four for routing and fragment headers) have to
/// be in the frame; each header's length moves the walk on.
fn walk(frame: &[u8], mut at: usize, mut next: u8) -> Walk {
    let mut fragment = false;
    let end = loop {
        if !is_extension(next) {
            break End::Upper { proto: next, at };
        }
        let Some(h) = view::<ExtHeader>(frame, at) else {
            break End::Unparsable;
        };
        let len = match next {
            ipproto::FRAGMENT => {
                fragment = true;
                let Some(w) = view::<ExtHeaderWord>(frame, at) else {
                    break End::Unparsable;
                };
                if w.word.get() & !0x7 != 0 {
                    break if is_extension(h.next) {
                        End::Unparsable
                    } else {
                        End::LaterFragment
                    };
                }
                8
            }
            ipproto::ROUTING => {
                if view::<ExtHeaderWord>(frame, at).is_none() {
                    break End::Unparsable;
                }
                (usize::from(h.len) + 1) * 8
            }
            ipproto::AH => (usize::from(h.len) + 2) * 4,
            _ => (usize::from(h.len) + 1) * 8,
        };
        next = h.next;
        at += len;
    };
    Walk { end, fragment }
}

#[cfg(test)]
mod tests {
    use super::super::frames::*;
    use super::super::{Network, Transport};
    use super::*;

    /// An extension header of `units` 8-byte units (AH: `units` * 8 bytes too).
    fn ext(next: u8, len_field: u8, total: usize) -> Vec<u8> {
        let mut h = vec![0u8; total];
        h[0] = next;
        h[1] = len_field;
        h
    }

    fn frag(next: u8, off_m: u16) -> Vec<u8> {
        let w = off_m.to_be_bytes();
        vec![next, 0, w[0], w[1], 0xde, 0xad, 0xbe, 0xef]
    }

    fn v6(next: u8, rest: &[&[u8]]) -> Vec<u8> {
        let mut f = cat(&[&eth(0x86dd), &ipv6(next)]);
        for r in rest {
            f.extend_from_slice(r);
        }
        f
    }

    #[test]
    fn header_fields() {
        let (k, l) = run(&v6(17, &[&udp(1, 2)]));
        assert_eq!(k.ipv6_src, V6_SRC);
        assert_eq!(k.ipv6_dst, V6_DST);
        assert_eq!((k.ip_tos, k.ip_ttl, k.ipv6_label), (0xb9, 255, 0xa_bcde));
        assert_eq!((k.ip_proto, k.ip_frag), (17, FRAG_NONE));
        assert_eq!((k.tp_src, k.tp_dst), (1, 2));
        assert_eq!((l.network, l.l3, l.l4), (Some(Network::Ipv6), 14, 54));
        assert_eq!(l.transport, Some(Transport::Udp));
        assert_eq!((k.ipv4_src, k.ipv4_dst), (0, 0));
    }

    #[test]
    fn truncated_header_zeroes_ip_fields() {
        let f = v6(17, &[&udp(1, 2)]);
        let (k, l) = run(&f[..53]);
        assert_eq!(k.eth_type, 0x86dd);
        assert_eq!((k.ip_proto, k.ip_tos, k.ip_ttl, k.ipv6_label), (0, 0, 0, 0));
        assert_eq!((k.ipv6_src, k.ipv6_dst), ([0; 16], [0; 16]));
        assert_eq!(l.network, None);
    }

    #[test]
    fn every_extension_header_is_walked() {
        let f = v6(
            0,
            &[
                &ext(43, 1, 16),
                &ext(60, 0, 8),
                &ext(51, 0, 8),
                &ext(44, 4, 24),
                &frag(60, 0x0001),
                &ext(6, 2, 24),
                &tcp(22, 2222, 0x011),
            ],
        );
        let (k, l) = run(&f);
        assert_eq!(l.l4, 54 + 16 + 8 + 8 + 24 + 8 + 24);
        assert_eq!((k.ip_proto, k.ip_frag), (6, FRAG_FIRST));
        assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (22, 2222, 0x011));
    }

    #[test]
    fn hop_by_hop_then_icmpv6() {
        let (k, l) = run(&v6(0, &[&ext(58, 0, 8), &icmp(128, 0)]));
        assert_eq!((k.ip_proto, k.tp_src, l.l4), (58, 128, 62));
        assert_eq!(l.transport, Some(Transport::Icmpv6));
    }

    #[test]
    fn ah_length_is_in_4_byte_units() {
        let (k, l) = run(&v6(51, &[&ext(17, 1, 12), &udp(9, 10)]));
        assert_eq!((k.ip_proto, k.tp_src, l.l4), (17, 9, 66));
    }

    #[test]
    fn esp_and_no_next_header_end_the_walk() {
        let (k, l) = run(&v6(50, &[&[0; 16]]));
        assert_eq!((k.ip_proto, l.l4, l.transport), (50, 54, None));
        let (k, l) = run(&v6(0, &[&ext(59, 0, 8)]));
        assert_eq!((k.ip_proto, k.ip_frag, l.l4), (59, FRAG_NONE, 62));
    }

    #[test]
    fn unreadable_extension_header_leaves_proto_none() {
        // Hop-by-hop header with only one byte present.
        let (k, l) = run(&v6(0, &[&[17]]));
        assert_eq!((k.ip_proto, k.ip_frag), (59, FRAG_NONE));
        assert_eq!(
            (l.network, l.l4, l.transport),
            (Some(Network::Ipv6), 14, None)
        );
        assert_eq!(k.ipv6_src, V6_SRC);
        // A routing header needs 4 bytes.
        let (k, _) = run(&v6(43, &[&[17, 0, 0]]));
        assert_eq!(k.ip_proto, 59);
        let (k, l) = run(&v6(43, &[&[17, 0, 0, 0]]));
        assert_eq!((k.ip_proto, l.l4, l.transport), (17, 62, None));
    }

    #[test]
    fn extension_length_past_the_frame_gives_no_ports() {
        let (k, l) = run(&v6(60, &[&ext(17, 4, 8), &udp(1, 2)]));
        assert_eq!(
            (k.ip_proto, l.l4, k.tp_src, l.transport),
            (17, 54 + 40, 0, None)
        );
    }

    #[test]
    fn first_fragment() {
        let (k, l) = run(&v6(44, &[&frag(17, 0x0001), &udp(7, 8)]));
        assert_eq!(
            (k.ip_proto, k.ip_frag, k.tp_src, k.tp_dst),
            (17, FRAG_FIRST, 7, 8)
        );
        assert_eq!(l.l4, 62);
        // Offset zero and no more fragments ("atomic") is still a fragment.
        let (k, _) = run(&v6(44, &[&frag(17, 0x0000), &udp(7, 8)]));
        assert_eq!((k.ip_frag, k.tp_src), (FRAG_FIRST, 7));
        // The reserved bits next to M do not count as an offset.
        let (k, _) = run(&v6(44, &[&frag(17, 0x0006), &udp(7, 8)]));
        assert_eq!(k.ip_frag, FRAG_FIRST);
    }

    #[test]
    fn later_fragment_is_proto_fragment_without_l4() {
        for next in [17, 6, 59, 58] {
            let (k, l) = run(&v6(44, &[&frag(next, 0x0009), &udp(7, 8)]));
            assert_eq!((k.ip_proto, k.ip_frag), (44, FRAG_LATER));
            assert_eq!((k.tp_src, k.tp_dst), (0, 0));
            assert_eq!(
                (l.network, l.l4, l.transport),
                (Some(Network::Ipv6), 14, None)
            );
            assert_eq!(k.ipv6_dst, V6_DST);
        }
    }

    #[test]
    fn later_fragment_followed_by_an_extension_header_is_a_first_fragment_without_l4() {
        let (k, l) = run(&v6(44, &[&frag(60, 0x0010), &ext(17, 0, 8), &udp(7, 8)]));
        assert_eq!((k.ip_proto, k.ip_frag, k.tp_src), (59, FRAG_FIRST, 0));
        assert_eq!((l.l4, l.transport), (14, None));
    }

    #[test]
    fn truncated_fragment_header_counts_as_fragment() {
        let (k, l) = run(&v6(44, &[&[17, 0, 0]]));
        assert_eq!((k.ip_proto, k.ip_frag, l.transport), (59, FRAG_FIRST, None));
        // Less than two bytes: the walk never reached it.
        let (k, _) = run(&v6(44, &[&[17]]));
        assert_eq!((k.ip_proto, k.ip_frag), (59, FRAG_NONE));
    }

    #[test]
    fn walk_offsets() {
        let bytes = cat(&[&ext(43, 0, 8), &ext(6, 0, 8)]);
        assert_eq!(
            walk(&bytes, 0, 0),
            Walk {
                end: End::Upper { proto: 6, at: 16 },
                fragment: false
            }
        );
        assert_eq!(
            walk(&bytes, 0, 17),
            Walk {
                end: End::Upper { proto: 17, at: 0 },
                fragment: false
            }
        );
        assert_eq!(
            walk(&bytes, 9, 0),
            Walk {
                end: End::Unparsable,
                fragment: false
            }
        );
        assert_eq!(
            walk(&bytes, usize::MAX, 60),
            Walk {
                end: End::Unparsable,
                fragment: false
            }
        );
    }

    #[test]
    fn long_chains_terminate() {
        // 200 hop-by-hop headers of 2048 bytes each claimed, frame much shorter.
        let mut f = v6(0, &[]);
        for _ in 0..200 {
            f.extend_from_slice(&ext(0, 0, 8));
        }
        let (k, l) = run(&f);
        assert_eq!((k.ip_proto, l.transport), (59, None));
        let (k, _) = run(&v6(0, &[&ext(0, 255, 8)]));
        assert_eq!(k.ip_proto, 59);
    }
}
