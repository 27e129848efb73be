//! Work a sender left to the NIC: TCP/UDP (and IPv4 header) checksums, and
//! the segmentation of a large TCP send (LSO) into MSS-sized frames.
//!
//! When a frame leaves the NIC path early (copied to userspace, or rewritten
//! into a buffer of our own), nothing below will do that work any more, so
//! it is done here in software: checksums are computed from scratch (what
//! the sender left in the checksum fields is never trusted; for LSO it is a
//! pseudo-header sum), and a super-frame is cut into frames that each carry
//! the headers with their IP length, IPv4 identification, TCP sequence
//! number, flags and checksums fixed up.
//!
//! Headers are located by parsing the frame (Ethernet, up to two VLAN tags,
//! IPv4 with options or IPv6 with extension headers), never from offsets a
//! sender supplied, so a frame whose tags changed on the way still works.
//! IPv6 pseudo-headers use the destination in the IPv6 header (a routing
//! header's final destination is not looked for).

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPV6_HLEN: usize = 40;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const TCP_HLEN_MIN: usize = 20;
/// TCP flags the segments of a super-frame do not all keep.
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Most frames one super-frame is cut into (64 KiB at an MSS of 64 bytes);
/// a smaller MSS is refused rather than flooding the pools.
pub const MAX_SEGMENTS: usize = 1024;

/// Why a frame cannot have its offloads done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfit {
    /// Not Ethernet + IPv4/IPv6, or a header is cut short or inconsistent.
    BadHeaders,
    /// The IP length fields claim more bytes than the frame holds.
    Truncated,
    /// A checksum was asked for a protocol the frame does not carry (or the
    /// frame is a non-first fragment), or LSO for a non-TCP frame.
    WrongProtocol,
    /// The MSS is zero or would cut the frame into more than `MAX_SEGMENTS`.
    BadMss,
    /// An output buffer is shorter than the frame written into it.
    NoRoom,
}

/// The checksums a sender left to the NIC (the transmit view of NDIS's
/// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksums {
    pub ip: bool,
    pub tcp: bool,
    pub udp: bool,
}

impl Checksums {
    pub const NONE: Checksums = Checksums {
        ip: false,
        tcp: false,
        udp: false,
    };

    pub fn any(self) -> bool {
        self.ip || self.tcp || self.udp
    }
}

/// A large TCP send (NDIS's `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lso {
    /// Most TCP payload bytes per segment.
    pub mss: u32,
    /// LSOv2: IPv4 identifications stay within 0..=0x7FFF.
    pub v2: bool,
}

/// Everything a frame still owes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub checksums: Checksums,
    pub lso: Option<Lso>,
}

impl Request {
    pub const NONE: Request = Request {
        checksums: Checksums::NONE,
        lso: None,
    };

    pub fn is_none(&self) -> bool {
        !self.checksums.any() && self.lso.is_none()
    }

    /// Decodes the transmit view of the two NDIS per-packet slots (bit
    /// fields, least significant first): checksum `IsIPv4:1 IsIPv6:1
    /// TcpChecksum:1 UdpChecksum:1 IpHeaderChecksum:1`; large send
    /// `MSS:20 TcpHeaderOffset:10 Type:1` (Type 1 is LSOv2).
    pub fn from_ndis(checksum_info: usize, large_send_info: usize) -> Request {
        let bit = |v: usize, n: u32| v & (1 << n) != 0;
        let mss = (large_send_info & 0xf_ffff) as u32;
        Request {
            checksums: Checksums {
                tcp: bit(checksum_info, 2),
                udp: bit(checksum_info, 3),
                ip: bit(checksum_info, 4),
            },
            lso: (mss != 0).then_some(Lso {
                mss,
                v2: bit(large_send_info, 30),
            }),
        }
    }
}

/// The large-send slot's value when the extension completes a large send
/// itself: LSOv1 reports how many TCP payload bytes were sent (30 bits),
/// LSOv2 only its type.
pub fn lso_completion(lso: Lso, payload_sent: usize) -> usize {
    if lso.v2 {
        1 << 30
    } else {
        payload_sent.min(0x3fff_ffff)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ip {
    V4,
    V6,
}

/// Where the headers of a frame sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Headers {
    ip: Ip,
    /// Offset of the IP header.
    l3: usize,
    /// Offset of the transport header (`None` for a non-first fragment).
    l4: Option<usize>,
    /// The transport protocol (the last next-header for IPv6).
    proto: u8,
    /// End of the IP packet. Zero IP lengths (as LSOv2 senders may leave)
    /// take the frame's end.
    end: usize,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let [x, y] = *b.get(at..)?.first_chunk::<2>()?;
    Some(u16::from_be_bytes([x, y]))
}

fn put16(b: &mut [u8], at: usize, v: u16) -> Option<()> {
    let dst = b.get_mut(at..)?.first_chunk_mut::<2>()?;
    *dst = v.to_be_bytes();
    Some(())
}

fn locate(frame: &[u8]) -> Result<Headers, Unfit> {
    let bad = Unfit::BadHeaders;
    let mut l3 = 12;
    let mut ty = be16(frame, l3).ok_or(bad)?;
    // Up to two VLAN tags (802.1ad outer, 802.1Q inner).
    for _ in 0..2 {
        if ty != 0x8100 && ty != 0x88a8 {
            break;
        }
        l3 += 4;
        ty = be16(frame, l3).ok_or(bad)?;
    }
    l3 += 2;
    match ty {
        ETH_P_IP => ipv4(frame, l3),
        ETH_P_IPV6 => ipv6(frame, l3),
        _ => Err(bad),
    }
}

fn ipv4(frame: &[u8], l3: usize) -> Result<Headers, Unfit> {
    let bad = Unfit::BadHeaders;
    let hdr = frame.get(l3..).ok_or(bad)?;
    let &[vihl, ..] = hdr.first_chunk::<20>().ok_or(bad)?;
    let ihl = usize::from(vihl & 0xf) * 4;
    if vihl >> 4 != 4 || ihl < 20 || hdr.len() < ihl {
        return Err(bad);
    }
    let total = usize::from(be16(hdr, 2).ok_or(bad)?);
    let end = ip_end(frame.len(), l3, total, ihl)?;
    let frag = be16(hdr, 6).ok_or(bad)?;
    let first = frag & 0x1fff == 0;
    Ok(Headers {
        ip: Ip::V4,
        l3,
        l4: first.then_some(l3 + ihl),
        proto: *hdr.get(9).ok_or(bad)?,
        end,
    })
}

/// The end of an IP packet of `len` bytes (0: to the frame's end) whose
/// fixed header is `min` bytes.
fn ip_end(frame_len: usize, l3: usize, len: usize, min: usize) -> Result<usize, Unfit> {
    if len == 0 {
        return Ok(frame_len);
    }
    if len < min {
        return Err(Unfit::BadHeaders);
    }
    let end = l3.checked_add(len).ok_or(Unfit::BadHeaders)?;
    if end > frame_len {
        return Err(Unfit::Truncated);
    }
    Ok(end)
}

fn ipv6(frame: &[u8], l3: usize) -> Result<Headers, Unfit> {
    let bad = Unfit::BadHeaders;
    let hdr = frame.get(l3..).ok_or(bad)?;
    let fixed = hdr.first_chunk::<IPV6_HLEN>().ok_or(bad)?;
    if fixed[0] >> 4 != 6 {
        return Err(bad);
    }
    let payload = usize::from(be16(hdr, 4).ok_or(bad)?);
    let end = if payload == 0 {
        frame.len()
    } else {
        ip_end(frame.len(), l3, IPV6_HLEN + payload, IPV6_HLEN)?
    };
    let mut next = fixed[6];
    let mut at = l3 + IPV6_HLEN;
    // Hop-by-hop, routing, fragment and destination options headers.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let len = usize::from(*frame.get(at + 1).ok_or(bad)?) * 8 + 8;
                next = *frame.get(at).ok_or(bad)?;
                at += len;
            }
            44 => {
                let off = be16(frame, at + 2).ok_or(bad)?;
                next = *frame.get(at).ok_or(bad)?;
                at += 8;
                if off & 0xfff8 != 0 {
                    return Ok(Headers {
                        ip: Ip::V6,
                        l3,
                        l4: None,
                        proto: next,
                        end,
                    });
                }
            }
            _ => break,
        }
        if at > end {
            return Err(bad);
        }
    }
    Ok(Headers {
        ip: Ip::V6,
        l3,
        l4: Some(at),
        proto: next,
        end,
    })
}

/// The one's complement sum of `b` as big-endian 16-bit words (an odd last
/// byte is padded with zero), not yet folded.
pub(crate) fn sum(b: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut words = b.chunks_exact(4);
    for w in &mut words {
        if let Ok(w) = <[u8; 4]>::try_from(w) {
            acc += u64::from(u32::from_be_bytes(w));
        }
    }
    match *words.remainder() {
        [a, b, c] => acc + u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        [a, b] => acc + u64::from(u16::from_be_bytes([a, b])),
        [a] => acc + (u64::from(a) << 8),
        _ => acc,
    }
}

/// Folds a sum to 16 bits (end-around carries).
pub(crate) fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The pseudo-header sum of a transport segment of `len` bytes (the
/// length enters as a 32-bit value; folding makes that the IPv4 16-bit
/// field as well).
fn pseudo(frame: &[u8], h: &Headers, len: usize) -> Option<u64> {
    let addrs = match h.ip {
        Ip::V4 => frame.get(h.l3 + 12..h.l3 + 20)?,
        Ip::V6 => frame.get(h.l3 + 8..h.l3 + 40)?,
    };
    Some(sum(addrs) + u64::from(h.proto) + len as u64)
}

/// Writes a fresh transport checksum into `frame[l4..end]`.
fn l4_checksum(frame: &mut [u8], h: &Headers, l4: usize, end: usize, udp: bool) -> Option<()> {
    let at = l4 + if udp { 6 } else { 16 };
    put16(frame, at, 0)?;
    let seg = frame.get(l4..end)?;
    let mut c = !fold(pseudo(frame, h, seg.len())? + sum(seg));
    if udp && c == 0 {
        c = 0xffff;
    }
    put16(frame, at, c)
}

/// Writes a fresh IPv4 header checksum for the header at `l3`.
pub(crate) fn ipv4_checksum(frame: &mut [u8], l3: usize) -> Option<()> {
    let ihl = usize::from(*frame.get(l3)? & 0xf) * 4;
    put16(frame, l3 + 10, 0)?;
    let c = !fold(sum(frame.get(l3..l3 + ihl)?));
    put16(frame, l3 + 10, c)
}

/// Computes the checksums `want` asks for, in place. Nothing is written
/// unless every requested checksum applies to the frame.
pub fn complete_checksums(frame: &mut [u8], want: Checksums) -> Result<(), Unfit> {
    if !want.any() {
        return Ok(());
    }
    let h = locate(frame)?;
    let l4_len = match (want.tcp, want.udp) {
        (false, false) => None,
        (true, true) => return Err(Unfit::WrongProtocol),
        (tcp, _) => {
            let proto = if tcp { IPPROTO_TCP } else { IPPROTO_UDP };
            let l4 =
                h.l4.filter(|_| h.proto == proto)
                    .ok_or(Unfit::WrongProtocol)?;
            let min = if tcp { TCP_HLEN_MIN } else { 8 };
            if h.end < l4 + min {
                return Err(Unfit::BadHeaders);
            }
            Some(l4)
        }
    };
    if want.ip && h.ip != Ip::V4 {
        return Err(Unfit::WrongProtocol);
    }
    if want.ip {
        ipv4_checksum(frame, h.l3).ok_or(Unfit::BadHeaders)?;
    }
    if let Some(l4) = l4_len {
        l4_checksum(frame, &h, l4, h.end, want.udp).ok_or(Unfit::BadHeaders)?;
    }
    Ok(())
}

/// Whether a TCP frame's checksum verifies.
pub fn tcp_checksum_ok(frame: &[u8]) -> bool {
    let Ok(h) = locate(frame) else {
        return false;
    };
    let seg =
        h.l4.filter(|_| h.proto == IPPROTO_TCP)
            .and_then(|l4| frame.get(l4..h.end));
    seg.and_then(|seg| pseudo(frame, &h, seg.len()).map(|p| fold(p + sum(seg)) == 0xffff))
        .unwrap_or(false)
}

/// Writes into a TCP frame's checksum field what a sender leaving that
/// checksum to the NIC puts there: the pseudo-header sum, for the
/// segment's present length.
pub fn tcp_pseudo_sum(frame: &mut [u8]) -> Result<(), Unfit> {
    let h = locate(frame)?;
    let l4 =
        h.l4.filter(|_| h.proto == IPPROTO_TCP)
            .ok_or(Unfit::WrongProtocol)?;
    if h.end < l4 + TCP_HLEN_MIN {
        return Err(Unfit::BadHeaders);
    }
    let s = pseudo(frame, &h, h.end - l4).ok_or(Unfit::BadHeaders)?;
    put16(frame, l4 + 16, fold(s)).ok_or(Unfit::BadHeaders)
}

/// A TCP super-frame and how it is cut: every segment carries the headers
/// (Ethernet through TCP options) and at most `mss` payload bytes.
#[derive(Clone, Copy, Debug)]
pub struct Segments<'a> {
    frame: &'a [u8],
    h: Headers,
    l4: usize,
    /// Ethernet, IP and TCP headers.
    hdr_len: usize,
    payload_len: usize,
    mss: usize,
    count: usize,
    v2: bool,
}

impl<'a> Segments<'a> {
    pub fn new(frame: &'a [u8], lso: Lso) -> Result<Segments<'a>, Unfit> {
        let h = locate(frame)?;
        let l4 =
            h.l4.filter(|_| h.proto == IPPROTO_TCP)
                .ok_or(Unfit::WrongProtocol)?;
        let doff = usize::from(*frame.get(l4 + 12).ok_or(Unfit::BadHeaders)? >> 4) * 4;
        let hdr_len = l4 + doff;
        if doff < TCP_HLEN_MIN || hdr_len > h.end {
            return Err(Unfit::BadHeaders);
        }
        let mss = usize::try_from(lso.mss).map_err(|_| Unfit::BadMss)?;
        if mss == 0 {
            return Err(Unfit::BadMss);
        }
        let payload_len = h.end - hdr_len;
        let count = payload_len.div_ceil(mss).max(1);
        if count > MAX_SEGMENTS {
            return Err(Unfit::BadMss);
        }
        Ok(Segments {
            frame,
            h,
            l4,
            hdr_len,
            payload_len,
            mss,
            count,
            v2: lso.v2,
        })
    }

    /// How many frames the super-frame is cut into (at least one).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The TCP payload bytes of all segments together.
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }

    /// The payload range of segment `i`.
    fn chunk(&self, i: usize) -> (usize, usize) {
        let start = (i * self.mss).min(self.payload_len);
        (start, (self.payload_len - start).min(self.mss))
    }

    /// The length of segment `i`.
    pub fn len_of(&self, i: usize) -> usize {
        self.hdr_len + self.chunk(i).1
    }

    /// Writes segment `i` into the start of `out`; returns its length.
    pub fn write(&self, i: usize, out: &mut [u8]) -> Result<usize, Unfit> {
        if i >= self.count {
            return Err(Unfit::NoRoom);
        }
        let (start, len) = self.chunk(i);
        let total = self.hdr_len + len;
        let out = out.get_mut(..total).ok_or(Unfit::NoRoom)?;
        let payload = self.hdr_len + start;
        let (hdr, data) = out.split_at_mut(self.hdr_len);
        hdr.copy_from_slice(self.frame.get(..self.hdr_len).ok_or(Unfit::BadHeaders)?);
        data.copy_from_slice(
            self.frame
                .get(payload..payload + len)
                .ok_or(Unfit::BadHeaders)?,
        );
        self.fix(i, out, len).ok_or(Unfit::BadHeaders)?;
        Ok(total)
    }

    /// Fixes up the headers of segment `i` (`len` payload bytes) in `seg`.
    fn fix(&self, i: usize, seg: &mut [u8], len: usize) -> Option<()> {
        let l3 = self.h.l3;
        let ip_len = u16::try_from(self.hdr_len - l3 + len).ok()?;
        match self.h.ip {
            Ip::V4 => {
                put16(seg, l3 + 2, ip_len)?;
                let id = be16(seg, l3 + 4)?;
                let step = i as u16;
                let id = if self.v2 {
                    id.wrapping_add(step) & 0x7fff
                } else {
                    id.wrapping_add(step)
                };
                put16(seg, l3 + 4, id)?;
                ipv4_checksum(seg, l3)?;
            }
            Ip::V6 => put16(seg, l3 + 4, ip_len.checked_sub(IPV6_HLEN as u16)?)?,
        }
        let l4 = self.l4;
        let seq_at = seg.get_mut(l4 + 4..)?.first_chunk_mut::<4>()?;
        let seq = u32::from_be_bytes(*seq_at).wrapping_add((i * self.mss) as u32);
        *seq_at = seq.to_be_bytes();
        let flags = seg.get_mut(l4 + 13)?;
        if i + 1 < self.count {
            *flags &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            *flags &= !TCP_CWR;
        }
        let end = self.hdr_len + len;
        l4_checksum(seg, &self.h, l4, end, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_matches_the_rfc_1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2 (folded).
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&b)), 0xddf2);
        assert_eq!(
            fold(sum(&b[..7])),
            fold(sum(&[0, 1, 0xf2, 3, 0xf4, 0xf5, 0xf6, 0]))
        );
    }

    #[test]
    fn from_ndis_decodes_the_transmit_bits() {
        let r = Request::from_ndis(0b1_0101 | (34 << 16), 1460 | (34 << 20) | (1 << 30));
        assert_eq!(
            r.checksums,
            Checksums {
                ip: true,
                tcp: true,
                udp: false
            }
        );
        assert_eq!(
            r.lso,
            Some(Lso {
                mss: 1460,
                v2: true
            })
        );
        assert!(Request::from_ndis(0b11, 34 << 20).is_none());
    }

    #[test]
    fn lso_completion_values() {
        let v1 = Lso {
            mss: 1460,
            v2: false,
        };
        assert_eq!(lso_completion(v1, 9000), 9000);
        assert_eq!(lso_completion(v1, usize::MAX), 0x3fff_ffff);
        assert_eq!(
            lso_completion(
                Lso {
                    mss: 1460,
                    v2: true
                },
                9000
            ),
            1 << 30
        );
    }
}
