//! Frame -> flow key: the packet-derived fields of a `FlowKey`, as the Linux
//! datapath's `key_extract()` fills them, and the header offsets that
//! actions need to rewrite the frame.
//!
//! Truncated and malformed headers are handled as Linux does: a header that
//! is cut short or invalid leaves its key fields zero and extraction stops
//! there (an L4 header cut short leaves the ports zero but keeps `ip_proto`).
//! Only what Linux drops is an error: a frame shorter than an Ethernet
//! header, and a bad NSH header.
//!
//! Every packet-derived field is reset first, so the key never carries
//! anything from a previous packet. The metadata fields (tunnel, `in_port`,
//! `recirc_id`, `dp_hash`, `skb_mark`, `priority`, `ct_*`) belong to the
//! caller and are never touched.

mod arp;
#[cfg(test)]
mod frames;
mod hash;
mod ipv4;
mod ipv6;
mod l2;
mod mpls;
mod nd;
mod nsh;
mod transport;
mod wire;

pub use hash::packet_hash;
pub use wire::{ethertype, ipproto};

use crate::flow::key::{FlowKey, MAC_PROTO_NONE};

/// A frame the Linux datapath drops instead of extracting a key from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadFrame {
    /// Shorter than an Ethernet header (14 bytes).
    Runt,
    /// An NSH header cut short, not version 0, of an unknown MD type, or of
    /// MD type 1 with a length other than 24.
    Nsh,
}

/// The L3 header at `Layout::l3`, when it was complete and valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// An IPv4 header with a valid IHL, options included.
    Ipv4,
    /// The fixed IPv6 header (extension headers may still be cut short).
    Ipv6,
    /// An Ethernet/IPv4 ARP or RARP packet.
    Arp,
    /// At least the top MPLS label stack entry.
    Mpls,
    /// An NSH header of the length it declares.
    Nsh,
}

/// The L4 header at `Layout::l4`, when it was complete (for TCP: with the
/// options its data offset declares).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmpv6,
}

/// Where the headers of an extracted frame are, as byte offsets into it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// In-band VLAN tags the key took (0..=2), 4 bytes each from offset 12.
    /// An out-of-band tag is not counted: it is not in the frame.
    pub vlan_tags: u8,
    /// MPLS label stack entries down to the bottom of stack, at most 3; 0 if
    /// the frame ends before the bottom of stack (Linux's label count).
    pub mpls_labels: u8,
    /// The complete L3 header at `l3`, if any.
    pub network: Option<Network>,
    /// The complete L4 header at `l4`, if any.
    pub transport: Option<Transport>,
    /// Start of the L2 payload (past the tags, the type field, and a SNAP
    /// header if the type came from one): Linux's network header.
    pub l3: usize,
    /// Past the last complete MPLS label stack entry; `l3` without MPLS.
    pub mpls_end: usize,
    /// Linux's transport header: past the IPv4 header, or past the IPv6
    /// extension headers when the walk reached an upper-layer protocol (this
    /// may lie beyond the frame); otherwise `l3`.
    pub l4: usize,
}

/// Fills the packet-derived fields of `key` from an Ethernet frame (and the
/// 802.1Q tag NDIS carries out of band, a TCI without the present bit) and
/// tells where its headers are. On error those fields are left reset.
pub fn extract(frame: &[u8], oob_vlan: Option<u16>, key: &mut FlowKey) -> Result<Layout, BadFrame> {
    key.clear_packet();
    let result = fill(frame, oob_vlan, key);
    if result.is_err() {
        key.clear_packet();
    }
    result
}

/// Reads a packet of the type the key says: an Ethernet frame, or (with
/// `mac_proto` NONE) a packet that starts with a header of `key.eth_type`.
pub fn extract_typed(
    packet: &[u8],
    oob_vlan: Option<u16>,
    key: &mut FlowKey,
) -> Result<Layout, BadFrame> {
    if key.mac_proto == MAC_PROTO_NONE {
        extract_l3(packet, key.eth_type, key)
    } else {
        extract(packet, oob_vlan, key)
    }
}

/// Fills the packet-derived fields of `key` from a packet without an
/// Ethernet header (`MAC_PROTO_NONE`, as after `pop_eth`): it starts with a
/// header of type `eth_type`, which is all the key has at L2.
pub fn extract_l3(packet: &[u8], eth_type: u16, key: &mut FlowKey) -> Result<Layout, BadFrame> {
    key.clear_packet();
    key.mac_proto = MAC_PROTO_NONE;
    key.eth_type = eth_type;
    let mut layout = Layout::default();
    let result = network(packet, key, &mut layout);
    if result.is_err() {
        key.clear_packet();
        key.mac_proto = MAC_PROTO_NONE;
        key.eth_type = eth_type;
    }
    result.map(|()| layout)
}

fn fill(frame: &[u8], oob_vlan: Option<u16>, key: &mut FlowKey) -> Result<Layout, BadFrame> {
    let l2 = l2::parse(frame, oob_vlan, key).ok_or(BadFrame::Runt)?;
    let mut layout = Layout {
        vlan_tags: l2.vlan_tags,
        l3: l2.l3,
        mpls_end: l2.l3,
        l4: l2.l3,
        ..Layout::default()
    };
    network(frame, key, &mut layout)?;
    Ok(layout)
}

/// The headers from `layout.l3` on, by the key's Ethertype.
fn network(frame: &[u8], key: &mut FlowKey, layout: &mut Layout) -> Result<(), BadFrame> {
    match key.eth_type {
        ethertype::IPV4 => ipv4::parse(frame, key, layout),
        ethertype::IPV6 => ipv6::parse(frame, key, layout),
        ethertype::ARP | ethertype::RARP => arp::parse(frame, key, layout),
        ethertype::MPLS_UC | ethertype::MPLS_MC => mpls::parse(frame, key, layout),
        ethertype::NSH => nsh::parse(frame, key, layout)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::frames::*;
    use super::*;
    use crate::flow::key::{CtTuple, TunnelKey};

    fn metadata() -> FlowKey {
        let mut k = FlowKey {
            tun: TunnelKey {
                id: 7,
                ipv4_dst: 0x0a01_0101,
                ttl: 9,
                ..TunnelKey::default()
            },
            recirc_id: 1,
            dp_hash: 2,
            in_port: 3,
            skb_mark: 4,
            priority: 5,
            ct_mark: 6,
            ct_zone: 7,
            ct_state: 0x21,
            ct_labels: [0x5a; 16],
            ct_orig: CtTuple {
                ipv4_src: 1,
                proto: 6,
                ..CtTuple::default()
            },
            ..FlowKey::default()
        };
        assert!(k.set_tun_opts(&[1, 2, 3, 4]));
        k
    }

    #[test]
    fn metadata_is_kept_and_packet_fields_are_replaced() {
        let mut k = metadata();
        let stale = cat(&[
            &eth(0x86dd),
            &ipv6(44),
            &[6, 0, 0, 1, 0, 0, 0, 0],
            &tcp(1, 2, 0x3f),
        ]);
        extract(&stale, Some(3), &mut k).unwrap();
        k.nsh.ttl = 5;
        k.mpls_lse = [1, 2, 3];
        let f = cat(&[&eth(0x0806), &arp(1)]);
        extract(&f, None, &mut k).unwrap();
        let mut expected = metadata();
        expected.eth_dst = DST;
        expected.eth_src = SRC;
        expected.eth_type = 0x0806;
        expected.ip_proto = 1;
        expected.ipv4_src = 0xc0a8_0001;
        expected.ipv4_dst = 0xc0a8_0002;
        expected.arp_sha = SRC;
        assert_eq!(k, expected);
    }

    #[test]
    fn errors_leave_packet_fields_reset() {
        let mut k = metadata();
        extract(
            &cat(&[&eth(0x0800), &ipv4(17, 0), &udp(1, 2)]),
            Some(1),
            &mut k,
        )
        .unwrap();
        assert_eq!(extract(&[0; 13], None, &mut k), Err(BadFrame::Runt));
        assert_eq!(k, metadata());
    }

    #[test]
    fn mac_proto_is_ethernet() {
        let mut k = FlowKey {
            mac_proto: crate::flow::key::MAC_PROTO_NONE,
            ..FlowKey::default()
        };
        extract(&eth(0x0800), None, &mut k).unwrap();
        assert_eq!(k.mac_proto, crate::flow::key::MAC_PROTO_ETHERNET);
    }

    #[test]
    fn a_packet_without_ethernet_header_starts_at_l3() {
        let mut k = metadata();
        let ip = cat(&[&ipv4(17, 0), &udp(7, 9)]);
        let l = extract_l3(&ip, 0x0800, &mut k).unwrap();
        let (eth, _) = run(&cat(&[&eth(0x0800), &ip]));
        assert_eq!((l.l3, l.l4, l.transport), (0, 20, Some(Transport::Udp)));
        assert_eq!(
            (k.mac_proto, k.eth_type, k.eth_src),
            (MAC_PROTO_NONE, 0x0800, [0; 6])
        );
        assert_eq!((k.ipv4_src, k.tp_src, k.tp_dst), (eth.ipv4_src, 7, 9));
        assert_eq!((k.in_port, k.recirc_id), (3, 1), "metadata stays");
        // Shorter than an Ethernet header is fine; a bad NSH header is not.
        assert!(extract_l3(&[], 0x86dd, &mut k).is_ok());
        assert_eq!(extract_l3(&[0xff; 8], 0x894f, &mut k), Err(BadFrame::Nsh));
        assert_eq!((k.mac_proto, k.eth_type), (MAC_PROTO_NONE, 0x894f));
    }

    #[test]
    fn unknown_ethertype_has_only_l2() {
        let (k, l) = run(&cat(&[&eth(0x88cc), &[1; 30]]));
        assert_eq!(k.eth_type, 0x88cc);
        assert_eq!((k.ip_proto, k.ipv4_src, k.tp_src), (0, 0, 0));
        assert_eq!(
            l,
            Layout {
                l3: 14,
                mpls_end: 14,
                l4: 14,
                ..Layout::default()
            }
        );
    }

    #[test]
    fn ipv4_tcp_layout() {
        let (_, l) = run(&cat(&[
            &eth(0x8100),
            &tci_type(1, 0x0800),
            &ipv4(6, 0),
            &tcp(1, 2, 2),
        ]));
        assert_eq!(
            l,
            Layout {
                vlan_tags: 1,
                mpls_labels: 0,
                network: Some(Network::Ipv4),
                transport: Some(Transport::Tcp),
                l3: 18,
                mpls_end: 18,
                l4: 38,
            }
        );
    }

    #[test]
    fn every_prefix_of_every_sample_is_handled() {
        let samples = [
            cat(&[
                &eth(0x88a8),
                &tci_type(1, 0x8100),
                &tci_type(2, 0x0800),
                &ipv4(6, 0),
                &tcp(1, 2, 2),
            ]),
            cat(&[
                &eth(0x86dd),
                &ipv6(0),
                &[44, 0, 0, 0, 0, 0, 0, 0],
                &[58, 0, 0, 1, 0, 0, 0, 0],
                &icmp(135, 0),
                &V6_DST,
                &[1, 1, 1, 2, 3, 4, 5, 6],
            ]),
            cat(&[&eth(0x0806), &arp(2)]),
            cat(&[&eth(0x8847), &[0, 0, 0, 0, 0, 0, 1, 0]]),
            cat(&[
                &eth(0x0040),
                &[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00],
                &ipv4(132, 0),
                &sctp(1, 2),
            ]),
        ];
        for s in &samples {
            for n in 0..=s.len() {
                let mut k = FlowKey::default();
                let r = extract(&s[..n], Some(0xffff), &mut k);
                assert_eq!(r.is_err(), n < 14, "prefix {n}");
                if let Ok(l) = r {
                    assert!(l.l3 <= n && l.mpls_end <= n, "prefix {n}");
                    if l.transport.is_some() {
                        assert!(l.l4 < n);
                    }
                }
            }
        }
    }
}
