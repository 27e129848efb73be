//! Where the headers an action reads or rewrites sit in a frame, found by
//! the rules flow extraction uses (so an action sees the header the flow key
//! describes): at most two VLAN tags, the out-of-band one counting as the
//! outer; 802.2 SNAP; IPv4 with its IHL; the IPv6 extension-header chain.

/// Ethernet header length (`ETH_HLEN`).
pub const ETH_HLEN: usize = 14;
/// An in-band VLAN tag with the type field after it (`VLAN_ETH_HLEN`).
pub const VLAN_ETH_HLEN: usize = 18;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
/// `eth_type` of an 802.3 frame without SNAP.
const ETH_P_802_2: u16 = 0x0004;
/// Smallest Ethernet II type; smaller values are 802.3 lengths.
const ETH_P_MIN: u16 = 0x0600;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_SCTP: u8 = 132;
pub(crate) const NEXTHDR_HOP: u8 = 0;
pub(crate) const NEXTHDR_ROUTING: u8 = 43;
pub(crate) const NEXTHDR_FRAGMENT: u8 = 44;
const NEXTHDR_AUTH: u8 = 51;
pub(crate) const NEXTHDR_NONE: u8 = 59;
pub(crate) const NEXTHDR_DEST: u8 = 60;

/// `N` bytes at `at`, if the frame has them.
pub fn get<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Writes `v` at `at`; `None` (nothing written) if the frame is shorter.
pub fn put<const N: usize>(b: &mut [u8], at: usize, v: [u8; N]) -> Option<()> {
    b.get_mut(at..at.checked_add(N)?)?.copy_from_slice(&v);
    Some(())
}

pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    get(b, at).map(u16::from_be_bytes)
}

/// A VLAN tag: TPID and TCI (without the present bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub tpid: u16,
    pub tci: u16,
}

pub fn is_vlan_tpid(tpid: u16) -> bool {
    tpid == ETH_P_8021Q || tpid == ETH_P_8021AD
}

/// The in-band tag at `at` and the type field after it.
#[inline]
fn tag_at(frame: &[u8], at: usize) -> Option<(Tag, u16)> {
    let [t0, t1, c0, c1, n0, n1] = get(frame, at)?;
    let tpid = u16::from_be_bytes([t0, t1]);
    is_vlan_tpid(tpid).then_some((
        Tag {
            tpid,
            tci: u16::from_be_bytes([c0, c1]),
        },
        u16::from_be_bytes([n0, n1]),
    ))
}

/// The tag right after the MAC addresses, if the frame has one.
pub fn first_inband_tag(frame: &[u8]) -> Option<Tag> {
    tag_at(frame, 12).map(|(tag, _)| tag)
}

/// The L2 headers as extraction reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2 {
    /// Outer tag: the out-of-band one, else the first in-band one.
    pub outer: Option<Tag>,
    /// The in-band tag after the outer one.
    pub inner: Option<Tag>,
    /// The type after the tags taken (`ETH_P_802_2` for 802.3 without SNAP).
    pub eth_type: u16,
    /// Start of the L2 payload: the network header.
    pub l3: usize,
}

/// `None` if the frame is shorter than an Ethernet header. Inlined: a
/// caller that reads only the type and where the payload starts (the
/// connection tracker, on every packet) then skips the rest.
#[inline(always)]
pub fn l2(frame: &[u8], oob_vlan: Option<u16>) -> Option<L2> {
    let mut ty = be16(frame, 12)?;
    let mut at = 12;
    let mut outer = oob_vlan.map(|tci| Tag {
        tpid: ETH_P_8021Q,
        tci,
    });
    if outer.is_none()
        && let Some((tag, next)) = tag_at(frame, at)
    {
        outer = Some(tag);
        ty = next;
        at += 4;
    }
    let mut inner = None;
    if outer.is_some()
        && let Some((tag, next)) = tag_at(frame, at)
    {
        inner = Some(tag);
        ty = next;
        at += 4;
    }
    at += 2;
    let (eth_type, l3) = if ty >= ETH_P_MIN {
        (ty, at)
    } else {
        llc(frame, at)
    };
    Some(L2 {
        outer,
        inner,
        eth_type,
        l3,
    })
}

/// An 802.3 frame: the SNAP type when a SNAP header with a zero OUI carries
/// one, else `ETH_P_802_2`.
fn llc(frame: &[u8], at: usize) -> (u16, usize) {
    match get::<8>(frame, at) {
        Some([0xaa, 0xaa, _, 0, 0, 0, t0, t1]) => {
            let ty = u16::from_be_bytes([t0, t1]);
            let payload = at + 8;
            if ty >= ETH_P_MIN {
                (ty, payload)
            } else {
                (ETH_P_802_2, payload)
            }
        }
        _ => (ETH_P_802_2, at),
    }
}

/// The upper-layer header of an IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L4 {
    pub proto: u8,
    /// Its first byte (the header itself may be cut short).
    pub off: usize,
}

/// An IP header that the frame holds (the fixed part, at least).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip {
    pub v6: bool,
    pub l3: usize,
    /// The upper-layer header, when there is one: not for a later
    /// fragment, an invalid IHL, or an IPv6 extension chain cut short.
    pub l4: Option<L4>,
    /// End of the IP packet: its length field, within the frame.
    pub end: usize,
    /// IPv6 with a routing header that has segments left: the transport
    /// pseudo-header then holds the final destination, not `daddr`.
    pub routing: bool,
    /// IPv6 with a fragment header: where the next-header byte naming it
    /// is, and where it starts.
    pub frag: Option<(usize, usize)>,
}

/// The IPv4 or IPv6 header at `l3` of a packet whose network type is
/// `eth_type`, if that type says IP and the packet holds the fixed header
/// (20 or 40 bytes).
#[inline]
pub fn ip_at(frame: &[u8], eth_type: u16, l3: usize) -> Option<Ip> {
    match eth_type {
        ETH_P_IP => ipv4(frame, l3),
        ETH_P_IPV6 => ipv6(frame, l3),
        _ => None,
    }
}

#[inline]
fn ipv4(frame: &[u8], l3: usize) -> Option<Ip> {
    let h: [u8; 20] = get(frame, l3)?;
    let [ver_ihl, _, len0, len1, _, _, frag0, frag1, _, proto, ..] = h;
    let hlen = usize::from(ver_ihl & 0x0f) * 4;
    let later = u16::from_be_bytes([frag0, frag1]) & 0x1fff != 0;
    let total = usize::from(u16::from_be_bytes([len0, len1]));
    let l4 = l3 + hlen;
    let valid = hlen >= 20 && l4 <= frame.len();
    Some(Ip {
        v6: false,
        l3,
        l4: (valid && !later).then_some(L4 { proto, off: l4 }),
        end: (l3 + total).clamp(l4.min(frame.len()), frame.len()),
        routing: false,
        frag: None,
    })
}

fn ipv6(frame: &[u8], l3: usize) -> Option<Ip> {
    let h: [u8; 40] = get(frame, l3)?;
    let [_, _, _, _, len0, len1, next, ..] = h;
    let payload = usize::from(u16::from_be_bytes([len0, len1]));
    // A zero payload length is a jumbogram's: the frame says how long.
    let end = if payload == 0 {
        frame.len()
    } else {
        (l3 + 40 + payload).min(frame.len())
    };
    let mut ip = Ip {
        v6: true,
        l3,
        l4: None,
        end,
        routing: false,
        frag: None,
    };
    let mut proto = next;
    let mut off = l3 + 40;
    let mut nh_at = l3 + 6;
    // Every step moves `off` forward by at least 8 bytes, and stops once
    // the frame ends, so the walk is bounded by the frame length.
    loop {
        match proto {
            NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_DEST => {
                let Some([nh, len, _, segments_left]) = get(frame, off) else {
                    return Some(ip);
                };
                if proto == NEXTHDR_ROUTING && segments_left != 0 {
                    ip.routing = true;
                }
                proto = nh;
                nh_at = off;
                off += (usize::from(len) + 1) * 8;
            }
            NEXTHDR_AUTH => {
                let Some([nh, len]) = get(frame, off) else {
                    return Some(ip);
                };
                proto = nh;
                nh_at = off;
                off += (usize::from(len) + 2) * 4;
            }
            NEXTHDR_FRAGMENT => {
                let Some([nh, _, f0, f1]) = get(frame, off) else {
                    return Some(ip);
                };
                ip.frag = Some((nh_at, off));
                if u16::from_be_bytes([f0, f1]) & 0xfff8 != 0 {
                    // A later fragment: no upper-layer header here.
                    return Some(ip);
                }
                proto = nh;
                nh_at = off;
                off += 8;
            }
            _ => break,
        }
    }
    ip.l4 = Some(L4 { proto, off });
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IP header after the L2 header.
    fn ip_after_l2(frame: &[u8], oob_vlan: Option<u16>) -> Option<Ip> {
        let l2 = l2(frame, oob_vlan)?;
        ip_at(frame, l2.eth_type, l2.l3)
    }

    fn eth(ty: u16) -> std::vec::Vec<u8> {
        let mut f = std::vec![0u8; 12];
        f.extend_from_slice(&ty.to_be_bytes());
        f
    }

    #[test]
    fn tags_in_band_and_out_of_band() {
        let mut f = eth(0x88a8);
        f.extend_from_slice(&[0, 5, 0x81, 0, 0, 6, 0x08, 0]);
        f.extend_from_slice(&[0; 20]);
        let l = l2(&f, None).unwrap();
        assert_eq!(
            l.outer,
            Some(Tag {
                tpid: 0x88a8,
                tci: 5
            })
        );
        assert_eq!(
            l.inner,
            Some(Tag {
                tpid: 0x8100,
                tci: 6
            })
        );
        assert_eq!((l.eth_type, l.l3), (0x0800, 22));
        // With an out-of-band outer tag only one in-band tag is taken.
        let l = l2(&f, Some(9)).unwrap();
        assert_eq!(
            l.outer,
            Some(Tag {
                tpid: 0x8100,
                tci: 9
            })
        );
        assert_eq!(
            l.inner,
            Some(Tag {
                tpid: 0x88a8,
                tci: 5
            })
        );
        assert_eq!((l.eth_type, l.l3), (0x8100, 18));
        assert_eq!(l2(&f[..13], None), None);
    }

    #[test]
    fn snap_and_llc() {
        let mut f = eth(40);
        f.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0, 0x86, 0xdd]);
        let l = l2(&f, None).unwrap();
        assert_eq!((l.eth_type, l.l3), (0x86dd, 22));
        let mut f = eth(40);
        f.extend_from_slice(&[0x42, 0x42, 3]);
        let l = l2(&f, None).unwrap();
        assert_eq!((l.eth_type, l.l3), (0x0004, 14));
    }

    #[test]
    fn ipv4_fragments_and_ihl() {
        let mut f = eth(0x0800);
        f.extend_from_slice(&[0x46, 0, 0, 40, 0, 0, 0x20, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&[0; 8 + 4 + 20]);
        let ip = ip_after_l2(&f, None).unwrap();
        assert_eq!(ip.l4, Some(L4 { proto: 6, off: 38 }));
        assert_eq!(ip.end, 54);
        f[20] = 0x00;
        f[21] = 0x10; // offset 16: a later fragment
        assert_eq!(ip_after_l2(&f, None).unwrap().l4, None);
        f[21] = 0;
        f[14] = 0x44; // IHL 4: invalid
        assert_eq!(ip_after_l2(&f, None).unwrap().l4, None);
        assert_eq!(ip_after_l2(&f[..33], None), None);
    }

    #[test]
    fn ipv6_extension_chain() {
        let mut f = eth(0x86dd);
        let mut h = [0u8; 40];
        h[4..6].copy_from_slice(&32u16.to_be_bytes());
        h[6] = NEXTHDR_HOP;
        f.extend_from_slice(&h);
        f.extend_from_slice(&[NEXTHDR_ROUTING, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&[NEXTHDR_FRAGMENT, 0, 0, 2, 0, 0, 0, 0]);
        f.extend_from_slice(&[IPPROTO_UDP, 0, 0, 1, 0, 0, 0, 1]);
        f.extend_from_slice(&[0; 8]);
        let ip = ip_after_l2(&f, None).unwrap();
        assert!(ip.routing);
        assert_eq!(
            ip.l4,
            Some(L4 {
                proto: 17,
                off: 14 + 64
            })
        );
        assert_eq!(ip.end, f.len());
        f[14 + 59] = 0x10; // fragment offset 2 (units of 8)
        assert_eq!(ip_after_l2(&f, None).unwrap().l4, None);
        // Cut inside the chain: no upper layer.
        assert_eq!(ip_after_l2(&f[..14 + 41], None).unwrap().l4, None);
    }
}
