//! `set` and `set_masked`: header rewrites that keep every checksum right,
//! and the key in step with the frame (Linux `set_*()` in `actions.c`);
//! `dec_ttl` shares the TTL and hop-limit writers.
//!
//! A field is rewritten as `(old & !mask) | (value & mask)`. The IPv4 header
//! checksum and the transport checksums (whose pseudo-header holds the
//! addresses) are updated incrementally; a UDP checksum of 0 (none) stays 0
//! and a computed 0 is sent as 0xffff. The SCTP CRC32c is computed over
//! the packet before and after, and the difference applied, so that a
//! packet that arrived with a bad checksum still has a bad one.

use super::Fault;
use super::checksum;
use super::headers::{
    ETH_HLEN, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, Ip, get, ip_at,
    l2, put,
};
use crate::flow::FlowKey;
use crate::flow::key::MAC_PROTO_ETHERNET;
use crate::netlink::Attr;
use crate::ovs::key as k;
use crate::packet::Packet;

/// Executes one `set` (`masked` false: the payload is a value, every bit
/// written) or `set_masked` (the payload is a value then a mask) of `field`.
pub(super) fn set<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    field: Attr<'_>,
    masked: bool,
) -> Result<(), Fault> {
    let p = field.payload();
    match field.ty() {
        k::PRIORITY => {
            let (v, m) = value_mask(p, masked)?;
            key.priority = masked_u32(key.priority, v, m);
            Ok(())
        }
        k::SKB_MARK => {
            let (v, m) = value_mask(p, masked)?;
            key.skb_mark = masked_u32(key.skb_mark, v, m);
            Ok(())
        }
        k::ETHERNET => {
            let (v, m) = value_mask(p, masked)?;
            ethernet(pkt, key, v, m)
        }
        k::IPV4 => {
            let (v, m) = value_mask(p, masked)?;
            ipv4(pkt, key, v, m)
        }
        k::IPV6 => {
            let (v, m) = value_mask(p, masked)?;
            ipv6(pkt, key, v, m)
        }
        k::TCP => {
            let (v, m) = value_mask(p, masked)?;
            ports(pkt, key, IPPROTO_TCP, v, m)
        }
        k::UDP => {
            let (v, m) = value_mask(p, masked)?;
            ports(pkt, key, IPPROTO_UDP, v, m)
        }
        k::SCTP => {
            let (v, m) = value_mask(p, masked)?;
            sctp(pkt, key, v, m)
        }
        k::ICMP => {
            let (v, m) = value_mask(p, masked)?;
            icmp(pkt, key, false, v, m)
        }
        k::ICMPV6 => {
            let (v, m) = value_mask(p, masked)?;
            icmp(pkt, key, true, v, m)
        }
        k::NSH => super::nsh::set(pkt, key, p, masked),
        k::MPLS => {
            // One to three entries; only the first (the top of the stack) is written.
            let (v, m) = if masked {
                p.split_at_checked(p.len() / 2).ok_or(Fault::Malformed)?
            } else {
                (p, &[0xff; 4][..])
            };
            let top = |b: &[u8]| b.first_chunk::<4>().copied().ok_or(Fault::Malformed);
            super::mpls::set(pkt, key, top(v)?, top(m)?)
        }
        _ => Err(Fault::Unsupported),
    }
}

/// The value and the mask of an `N`-byte field.
fn value_mask<const N: usize>(p: &[u8], masked: bool) -> Result<([u8; N], [u8; N]), Fault> {
    if masked {
        let (v, m) = p.split_at_checked(N).ok_or(Fault::Malformed)?;
        Ok((
            v.try_into().map_err(|_| Fault::Malformed)?,
            m.try_into().map_err(|_| Fault::Malformed)?,
        ))
    } else {
        Ok((p.try_into().map_err(|_| Fault::Malformed)?, [0xff; N]))
    }
}

fn masked_u32(old: u32, v: [u8; 4], m: [u8; 4]) -> u32 {
    let (v, m) = (u32::from_ne_bytes(v), u32::from_ne_bytes(m));
    (old & !m) | (v & m)
}

/// `old` with the bits `m` selects taken from `v`.
pub(super) fn masked<const N: usize>(old: [u8; N], v: [u8; N], m: [u8; N]) -> [u8; N] {
    let mut out = old;
    for ((o, v), m) in out.iter_mut().zip(v).zip(m) {
        *o = (*o & !m) | (v & m);
    }
    out
}

/// A 16-bit checksum field covering a rewritten field.
#[derive(Clone, Copy)]
struct Sum {
    at: usize,
    /// UDP: 0 means "no checksum" and stays; a result of 0 is sent as 0xffff.
    udp: bool,
}

fn bad<T>(v: Option<T>) -> Result<T, Fault> {
    v.ok_or(Fault::BadHeader)
}

impl Sum {
    fn update(self, f: &mut [u8], old: &[u8], new: &[u8]) -> Result<(), Fault> {
        let check = u16::from_be_bytes(bad(get(f, self.at))?);
        if self.udp && check == 0 {
            return Ok(());
        }
        let mut check = checksum::replace(check, old, new);
        if self.udp && check == 0 {
            check = 0xffff;
        }
        bad(put(f, self.at, check.to_be_bytes()))
    }
}

/// Writes `new` over the field at `at`, updating each checksum in `sums`;
/// returns whether it changed.
fn rewrite<const N: usize>(
    f: &mut [u8],
    at: usize,
    new: [u8; N],
    sums: &[Option<Sum>],
) -> Result<bool, Fault> {
    let old: [u8; N] = bad(get(f, at))?;
    if old == new {
        return Ok(false);
    }
    for sum in sums.iter().flatten() {
        sum.update(f, &old, &new)?;
    }
    bad(put(f, at, new))?;
    Ok(true)
}

/// The transport checksum whose pseudo-header holds the IP addresses, when
/// the frame has that transport header complete.
fn pseudo_sum(ip: &Ip, len: usize) -> Option<Sum> {
    let l4 = ip.l4?;
    let (at, hdr, udp) = match l4.proto {
        IPPROTO_TCP => (16, 20, false),
        IPPROTO_UDP => (6, 8, true),
        IPPROTO_ICMPV6 if ip.v6 => (2, 8, false),
        _ => return None,
    };
    (l4.off.checked_add(hdr)? <= len).then_some(Sum {
        at: l4.off + at,
        udp,
    })
}

fn ethernet<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    v: [u8; 12],
    m: [u8; 12],
) -> Result<(), Fault> {
    if pkt.len() < ETH_HLEN {
        return Err(Fault::BadHeader);
    }
    let f = pkt.data_mut().ok_or(Fault::NoMemory)?;
    // The key attribute has the source first; the frame the destination.
    let [s0, s1, s2, s3, s4, s5, d0, d1, d2, d3, d4, d5] = v;
    let [ms0, ms1, ms2, ms3, ms4, ms5, md0, md1, md2, md3, md4, md5] = m;
    let dst = masked(
        bad(get(f, 0))?,
        [d0, d1, d2, d3, d4, d5],
        [md0, md1, md2, md3, md4, md5],
    );
    let src = masked(
        bad(get(f, 6))?,
        [s0, s1, s2, s3, s4, s5],
        [ms0, ms1, ms2, ms3, ms4, ms5],
    );
    bad(put(f, 0, dst))?;
    bad(put(f, 6, src))?;
    key.eth_dst = dst;
    key.eth_src = src;
    Ok(())
}

/// The packet's network type and where its network header starts: after
/// the L2 header, or first in a packet without an Ethernet header.
fn network<P: Packet>(pkt: &P, key: &FlowKey) -> Option<(u16, usize)> {
    if key.mac_proto == MAC_PROTO_ETHERNET {
        l2(pkt.data(), pkt.oob_vlan()).map(|l2| (l2.eth_type, l2.l3))
    } else {
        Some((key.eth_type, 0))
    }
}

fn ip_header<P: Packet>(pkt: &P, key: &FlowKey) -> Option<Ip> {
    let (eth_type, l3) = network(pkt, key)?;
    ip_at(pkt.data(), eth_type, l3)
}

fn ipv4_header<P: Packet>(pkt: &P, key: &FlowKey) -> Result<Ip, Fault> {
    ip_header(pkt, key)
        .filter(|ip| !ip.v6)
        .ok_or(Fault::BadHeader)
}

fn ipv6_header<P: Packet>(pkt: &P, key: &FlowKey) -> Result<Ip, Fault> {
    ip_header(pkt, key)
        .filter(|ip| ip.v6)
        .ok_or(Fault::BadHeader)
}

fn ipv4<P: Packet>(pkt: &mut P, key: &mut FlowKey, v: [u8; 12], m: [u8; 12]) -> Result<(), Fault> {
    let ip = ipv4_header(pkt, key)?;
    let f = pkt.data_mut().ok_or(Fault::NoMemory)?;
    let [s0, s1, s2, s3, d0, d1, d2, d3, _, tos, ttl, _] = v;
    let [ms0, ms1, ms2, ms3, md0, md1, md2, md3, _, mtos, mttl, _] = m;
    let sums = [
        Some(Sum {
            at: ip.l3 + 10,
            udp: false,
        }),
        pseudo_sum(&ip, f.len()),
    ];
    for (at, v, m, field) in [
        (
            12,
            [s0, s1, s2, s3],
            [ms0, ms1, ms2, ms3],
            &mut key.ipv4_src,
        ),
        (
            16,
            [d0, d1, d2, d3],
            [md0, md1, md2, md3],
            &mut key.ipv4_dst,
        ),
    ] {
        if m != [0; 4] {
            let at = ip.l3 + at;
            let new = masked(bad(get(f, at))?, v, m);
            rewrite(f, at, new, &sums)?;
            *field = u32::from_be_bytes(new);
        }
    }
    if mtos != 0 {
        let [ver_ihl, old] = bad(get(f, ip.l3))?;
        let new = (old & !mtos) | (tos & mtos);
        rewrite(f, ip.l3, [ver_ihl, new], &sums[..1])?;
        key.ip_tos = new;
    }
    if mttl != 0 {
        let [old, _] = bad(get(f, ip.l3 + 8))?;
        key.ip_ttl = write_ipv4_ttl(f, ip.l3, (old & !mttl) | (ttl & mttl))?;
    }
    Ok(())
}

/// Sets the TTL of the IPv4 header at `l3`, fixing its checksum.
fn write_ipv4_ttl(f: &mut [u8], l3: usize, ttl: u8) -> Result<u8, Fault> {
    let [_, proto] = bad(get(f, l3 + 8))?;
    let sum = Sum {
        at: l3 + 10,
        udp: false,
    };
    rewrite(f, l3 + 8, [ttl, proto], &[Some(sum)])?;
    Ok(ttl)
}

/// Sets the hop limit of the IPv6 header at `l3` (no checksum covers it).
fn write_ipv6_hlimit(f: &mut [u8], l3: usize, hlimit: u8) -> Result<u8, Fault> {
    bad(put(f, l3 + 7, [hlimit]))?;
    Ok(hlimit)
}

fn ipv6<P: Packet>(pkt: &mut P, key: &mut FlowKey, v: [u8; 40], m: [u8; 40]) -> Result<(), Fault> {
    let ip = ipv6_header(pkt, key)?;
    let f = pkt.data_mut().ok_or(Fault::NoMemory)?;
    let sum = pseudo_sum(&ip, f.len());
    let (src, rest) = v.split_at(16);
    let (dst, rest) = rest.split_at(16);
    let (msrc, mrest) = m.split_at(16);
    let (mdst, mrest) = mrest.split_at(16);
    let [l0, l1, l2, l3, _, tclass, hlimit, _] = rest.try_into().map_err(|_| Fault::Malformed)?;
    let [ml0, ml1, ml2, ml3, _, mtclass, mhlimit, _] =
        mrest.try_into().map_err(|_| Fault::Malformed)?;
    // With a routing header still to be followed, the pseudo-header holds
    // the final destination, which rewriting `daddr` does not change.
    let dst_sum = if ip.routing { None } else { sum };
    for (at, v, m, sum, field) in [
        (8, src, msrc, sum, &mut key.ipv6_src),
        (24, dst, mdst, dst_sum, &mut key.ipv6_dst),
    ] {
        let v: [u8; 16] = v.try_into().map_err(|_| Fault::Malformed)?;
        let m: [u8; 16] = m.try_into().map_err(|_| Fault::Malformed)?;
        if m != [0; 16] {
            let at = ip.l3 + at;
            let new = masked(bad(get(f, at))?, v, m);
            rewrite(f, at, new, &[sum])?;
            *field = new;
        }
    }
    // Version (4 bits), traffic class (8), flow label (20).
    let [b0, b1, b2, b3]: [u8; 4] = bad(get(f, ip.l3))?;
    let mut word = u32::from_be_bytes([b0, b1, b2, b3]);
    if mtclass != 0 {
        let old = (word >> 20) as u8;
        let new = (old & !mtclass) | (tclass & mtclass);
        word = (word & !0x0ff0_0000) | (u32::from(new) << 20);
        key.ip_tos = new;
    }
    let mlabel = u32::from_be_bytes([ml0, ml1, ml2, ml3]) & 0x000f_ffff;
    if mlabel != 0 {
        word = (word & !mlabel) | (u32::from_be_bytes([l0, l1, l2, l3]) & mlabel);
        key.ipv6_label = word & 0x000f_ffff;
    }
    bad(put(f, ip.l3, word.to_be_bytes()))?;
    if mhlimit != 0 {
        let [old] = bad(get(f, ip.l3 + 7))?;
        key.ip_ttl = write_ipv6_hlimit(f, ip.l3, (old & !mhlimit) | (hlimit & mhlimit))?;
    }
    Ok(())
}

/// The offset of the complete `proto` header of `hdr` bytes, and the IP
/// header around it.
fn transport<P: Packet>(
    pkt: &P,
    key: &FlowKey,
    proto: u8,
    hdr: usize,
) -> Result<(Ip, usize), Fault> {
    let ip = ip_header(pkt, key).ok_or(Fault::BadHeader)?;
    let l4 = ip
        .l4
        .filter(|l4| l4.proto == proto)
        .ok_or(Fault::BadHeader)?;
    if l4.off.checked_add(hdr).ok_or(Fault::BadHeader)? > pkt.len() {
        return Err(Fault::BadHeader);
    }
    Ok((ip, l4.off))
}

/// TCP or UDP source and destination ports.
fn ports<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    proto: u8,
    v: [u8; 4],
    m: [u8; 4],
) -> Result<(), Fault> {
    let udp = proto == IPPROTO_UDP;
    let (_, l4) = transport(pkt, key, proto, if udp { 8 } else { 20 })?;
    let f = pkt.data_mut().ok_or(Fault::NoMemory)?;
    let sum = Sum {
        at: l4 + if udp { 6 } else { 16 },
        udp,
    };
    let [s0, s1, d0, d1] = v;
    let [ms0, ms1, md0, md1] = m;
    for (at, v, m, field) in [
        (0, [s0, s1], [ms0, ms1], &mut key.tp_src),
        (2, [d0, d1], [md0, md1], &mut key.tp_dst),
    ] {
        let new = masked(bad(get(f, l4 + at))?, v, m);
        rewrite(f, l4 + at, new, &[Some(sum)])?;
        *field = u16::from_be_bytes(new);
    }
    Ok(())
}

fn sctp<P: Packet>(pkt: &mut P, key: &mut FlowKey, v: [u8; 4], m: [u8; 4]) -> Result<(), Fault> {
    let (ip, l4) = transport(pkt, key, IPPROTO_SCTP, 12)?;
    let f = pkt.data_mut().ok_or(Fault::NoMemory)?;
    let old: [u8; 4] = bad(get(f, l4))?;
    let new = masked(old, v, m);
    if new != old {
        let packet = bad(f.get(l4..ip.end.max(l4 + 12)))?;
        let before = checksum::sctp(packet);
        bad(put(f, l4, new))?;
        let packet = bad(f.get(l4..ip.end.max(l4 + 12)))?;
        let after = checksum::sctp(packet);
        let stored = u32::from_le_bytes(bad(get(f, l4 + 8))?);
        bad(put(f, l4 + 8, (stored ^ before ^ after).to_le_bytes()))?;
    }
    let [s0, s1, d0, d1] = new;
    key.tp_src = u16::from_be_bytes([s0, s1]);
    key.tp_dst = u16::from_be_bytes([d0, d1]);
    Ok(())
}

/// ICMP or ICMPv6 type and code (kept in the key's `tp_src`/`tp_dst`).
fn icmp<P: Packet>(
    pkt: &mut P,
    key: &mut FlowKey,
    v6: bool,
    v: [u8; 2],
    m: [u8; 2],
) -> Result<(), Fault> {
    let proto = if v6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
    let (ip, l4) = transport(pkt, key, proto, 4)?;
    if ip.v6 != v6 {
        return Err(Fault::BadHeader);
    }
    let f = pkt.data_mut().ok_or(Fault::NoMemory)?;
    let new = masked(bad(get(f, l4))?, v, m);
    let sum = Sum {
        at: l4 + 2,
        udp: false,
    };
    rewrite(f, l4, new, &[Some(sum)])?;
    let [ty, code] = new;
    key.tp_src = ty.into();
    key.tp_dst = code.into();
    Ok(())
}

/// What `dec_ttl` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DecTtl {
    /// The TTL or hop limit was decremented (or the packet is not IP).
    Done,
    /// It was 0 or 1: the exception actions run instead.
    Expired,
}

/// Decrements the IPv4 TTL (fixing the header checksum) or the IPv6 hop
/// limit; packets of other types pass unchanged.
pub(super) fn dec_ttl<P: Packet>(pkt: &mut P, key: &mut FlowKey) -> Result<DecTtl, Fault> {
    let Some((eth_type, _)) = network(pkt, key) else {
        return Ok(DecTtl::Done);
    };
    let v6 = match eth_type {
        super::headers::ETH_P_IP => false,
        super::headers::ETH_P_IPV6 => true,
        _ => return Ok(DecTtl::Done),
    };
    let ip = if v6 {
        ipv6_header(pkt, key)?
    } else {
        ipv4_header(pkt, key)?
    };
    let at = ip.l3 + if v6 { 7 } else { 8 };
    let [ttl] = bad(get(pkt.data(), at))?;
    if ttl <= 1 {
        return Ok(DecTtl::Expired);
    }
    let f = pkt.data_mut().ok_or(Fault::NoMemory)?;
    key.ip_ttl = if v6 {
        write_ipv6_hlimit(f, ip.l3, ttl - 1)?
    } else {
        write_ipv4_ttl(f, ip.l3, ttl - 1)?
    };
    Ok(DecTtl::Done)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::{Attr, DecTtl, Fault, FlowKey, Packet, dec_ttl, k, set};
    use std::vec::Vec;

    fn run_set(
        frame: &[u8],
        oob: Option<u16>,
        ty: u16,
        payload: &[u8],
        masked: bool,
    ) -> (Vec<u8>, FlowKey, Result<(), Fault>) {
        let mut p = packet(frame);
        p.set_oob_vlan(oob);
        let mut k = key_of(frame);
        let r = set(&mut p, &mut k, Attr::new(ty, payload), masked);
        (p.data().to_vec(), k, r)
    }

    /// Sets a field to `value` with an all-ones mask, both as `set` and as
    /// `set_masked`; they must agree. Returns the frame and the key.
    fn set_all(frame: &[u8], ty: u16, value: &[u8]) -> (Vec<u8>, FlowKey) {
        let (f1, k1, r1) = run_set(frame, None, ty, value, false);
        let full = [value, &std::vec![0xff; value.len()]].concat();
        let (f2, k2, r2) = run_set(frame, None, ty, &full, true);
        assert_eq!((r1, r2), (Ok(()), Ok(())));
        assert_eq!((&f1, &k1), (&f2, &k2));
        check_checksums(&f1).unwrap();
        (f1, k1)
    }

    fn ipv4_key(src: [u8; 4], dst: [u8; 4], tos: u8, ttl: u8) -> Vec<u8> {
        [&src[..], &dst, &[TCP, tos, ttl, 0]].concat()
    }

    fn ipv6_key(src: [u8; 16], dst: [u8; 16], label: u32, tclass: u8, hlimit: u8) -> Vec<u8> {
        [
            &src[..],
            &dst,
            &label.to_be_bytes(),
            &[TCP, tclass, hlimit, 0],
        ]
        .concat()
    }

    #[test]
    fn ethernet_addresses() {
        let f = ipv4(eth(&[], 0x0800), TCP, &tcp(1000, 80));
        let new_src = [2, 0, 0, 0, 0, 0xaa];
        let new_dst = [2, 0, 0, 0, 0, 0xbb];
        let (g, k) = set_all(&f, k::ETHERNET, &[new_src, new_dst].concat());
        assert_eq!((&g[0..6], &g[6..12]), (&new_dst[..], &new_src[..]));
        assert_eq!(&g[12..], &f[12..]);
        assert_eq!((k.eth_src, k.eth_dst), (new_src, new_dst));
        // Masked: only the low byte of the destination.
        let mut v = [0u8; 24];
        v[11] = 0x77;
        v[23] = 0xff;
        let (g, k, r) = run_set(&f, None, k::ETHERNET, &v, true);
        r.unwrap();
        assert_eq!(g[5], 0x77);
        assert_eq!(&g[..5], &f[..5]);
        assert_eq!(&g[6..], &f[6..]);
        assert_eq!(k.eth_dst[5], 0x77);
    }

    #[test]
    fn ipv4_addresses_fix_ip_and_transport_checksums() {
        for (proto, l4) in [
            (TCP, tcp(1000, 80)),
            (UDP, udp(53, 5353)),
            (ICMP, icmp(8, 0)),
        ] {
            for l2 in [eth(&[], 0x0800), eth(&[(0x8100, 5)], 0x0800)] {
                let f = ipv4(l2, proto, &l4);
                let (g, k) = set_all(
                    &f,
                    k::IPV4,
                    &ipv4_key([192, 168, 1, 1], [172, 16, 0, 9], 0x10, 64),
                );
                let (_, l3) = l3_offset(&g);
                assert_eq!(&g[l3 + 12..l3 + 20], &[192, 168, 1, 1, 172, 16, 0, 9]);
                assert_eq!((k.ipv4_src, k.ipv4_dst), (0xc0a8_0101, 0xac10_0009));
                // The transport header moved only in its checksum.
                assert_eq!(g.len(), f.len());
            }
        }
    }

    #[test]
    fn ipv4_with_out_of_band_tag() {
        let f = ipv4(eth(&[], 0x0800), TCP, &tcp(1000, 80));
        let v = ipv4_key([1, 2, 3, 4], IP4_DST, 0x10, 64);
        let (g, k, r) = run_set(&f, Some(7), k::IPV4, &v, false);
        r.unwrap();
        check_checksums(&g).unwrap();
        assert_eq!(&g[26..30], &[1, 2, 3, 4]);
        assert_eq!(k.ipv4_src, 0x0102_0304);
    }

    #[test]
    fn udp_without_checksum_stays_without() {
        let mut f = ipv4(eth(&[], 0x0800), UDP, &udp(53, 5353));
        f[14 + 20 + 6..14 + 20 + 8].fill(0);
        let (g, _) = set_all(&f, k::IPV4, &ipv4_key([9, 9, 9, 9], IP4_DST, 0x10, 64));
        assert_eq!(&g[40..42], &[0, 0]);
        let (g, k) = set_all(&f, k::UDP, &[0, 1, 0, 2]);
        assert_eq!(&g[34..42], &[0, 1, 0, 2, 0, 17, 0, 0]);
        assert_eq!((k.tp_src, k.tp_dst), (1, 2));
    }

    #[test]
    fn udp_checksum_that_comes_out_zero_is_sent_as_ffff() {
        let f = ipv4(eth(&[], 0x0800), UDP, &udp(53, 5353));
        // Find a destination port whose checksum is 0xffff (a computed 0).
        let port = (0..=u16::MAX)
            .find(|&p| {
                let g = ipv4(eth(&[], 0x0800), UDP, &udp(53, p));
                g[40..42] == [0xff, 0xff]
            })
            .unwrap();
        let (g, _) = set_all(&f, k::UDP, &[0, 53, (port >> 8) as u8, port as u8]);
        assert_eq!(&g[40..42], &[0xff, 0xff]);
    }

    #[test]
    fn ipv4_later_fragment_keeps_transport_bytes() {
        let mut f = ipv4(eth(&[], 0x0800), TCP, &tcp(1000, 80));
        f[20] = 0x00;
        f[21] = 0x10; // fragment offset 16 * 8
        fix_checksums(&mut f);
        let (g, _, r) = run_set(
            &f,
            None,
            k::IPV4,
            &ipv4_key([1, 1, 1, 1], IP4_DST, 0x10, 64),
            false,
        );
        r.unwrap();
        assert_eq!(&g[34..], &f[34..]);
        // The IP header checksum is right (the test's own fix would also
        // rewrite the bytes it takes for TCP: compare the IP one only).
        let mut expect = g.clone();
        fix_checksums(&mut expect);
        assert_eq!(&g[24..26], &expect[24..26]);
    }

    #[test]
    fn ipv4_tos_and_ttl() {
        let f = ipv4(eth(&[], 0x0800), UDP, &udp(1, 2));
        let (g, k) = set_all(&f, k::IPV4, &ipv4_key(IP4_SRC, IP4_DST, 0xb8, 3));
        assert_eq!((g[15], g[22]), (0xb8, 3));
        assert_eq!((k.ip_tos, k.ip_ttl), (0xb8, 3));
        // Masked: only the ECN bits of TOS; TTL untouched by a zero mask.
        let mut v = ipv4_key(IP4_SRC, IP4_DST, 0x03, 0);
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0]);
        let (g, k, r) = run_set(&f, None, k::IPV4, &v, true);
        r.unwrap();
        check_checksums(&g).unwrap();
        assert_eq!((g[15], g[22]), (0x13, 64));
        assert_eq!((k.ip_tos, k.ip_ttl), (0x13, 64));
    }

    #[test]
    fn ipv6_addresses_fix_transport_checksums() {
        for (proto, l4) in [
            (TCP, tcp(1000, 80)),
            (UDP, udp(53, 5353)),
            (ICMPV6, icmp(128, 0)),
        ] {
            let f = ipv6(eth(&[], 0x86dd), proto, &l4);
            let mut s = IP6_SRC;
            s[15] = 0x99;
            let mut d = IP6_DST;
            d[0] = 0xfd;
            let (g, k) = set_all(&f, k::IPV6, &ipv6_key(s, d, 0x12345, 0xa0, 9));
            assert_eq!(&g[22..38], &s);
            assert_eq!(&g[38..54], &d);
            assert_eq!((k.ipv6_src, k.ipv6_dst), (s, d));
            assert_eq!((k.ipv6_label, k.ip_tos, k.ip_ttl), (0x12345, 0xa0, 9));
            assert_eq!(&g[14..18], &[0x6a, 0x01, 0x23, 0x45]);
            assert_eq!(g[21], 9);
        }
    }

    #[test]
    fn ipv6_label_mask_keeps_the_traffic_class() {
        let f = ipv6(eth(&[], 0x86dd), UDP, &udp(1, 2));
        let mut v = ipv6_key(IP6_SRC, IP6_DST, 0xfff_ffff, 0, 0);
        v.extend_from_slice(&[0; 32]);
        v.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let (g, k, r) = run_set(&f, None, k::IPV6, &v, true);
        r.unwrap();
        assert_eq!(&g[14..18], &[0x6a, 0xbf, 0xff, 0xff]);
        assert_eq!((k.ipv6_label, k.ip_tos), (0xfffff, 0xab));
    }

    #[test]
    fn ipv6_destination_behind_a_routing_header_keeps_the_checksum() {
        // UDP behind a routing header with segments left; its checksum is
        // the one without the routing header (same addresses).
        let plain = ipv6(eth(&[], 0x86dd), UDP, &udp(1, 2));
        let mut body = std::vec![UDP, 0, 0, 1, 0, 0, 0, 0];
        body.extend_from_slice(&plain[54..]);
        let f = ipv6(eth(&[], 0x86dd), 43, &body);
        let mut d = IP6_DST;
        d[15] = 0x42;
        let v = ipv6_key(IP6_SRC, d, 0x12345, 0xab, 64);
        let (g, k, r) = run_set(&f, None, k::IPV6, &v, false);
        r.unwrap();
        assert_eq!(&g[62..], &f[62..]);
        assert_eq!(k.ipv6_dst, d);
        // The source is in the pseudo-header either way.
        let mut s = IP6_SRC;
        s[0] = 0xfc;
        let v = ipv6_key(s, IP6_DST, 0x12345, 0xab, 64);
        let (g, _, r) = run_set(&f, None, k::IPV6, &v, false);
        r.unwrap();
        let (moved, _, _) = run_set(&plain, None, k::IPV6, &v, false);
        check_checksums(&moved).unwrap();
        assert_eq!(&g[62..], &moved[54..]);
    }

    #[test]
    fn transport_ports() {
        for (ty, proto, l4) in [(k::TCP, TCP, tcp(1000, 80)), (k::UDP, UDP, udp(53, 5353))] {
            for f in [
                ipv4(eth(&[], 0x0800), proto, &l4),
                ipv6(eth(&[], 0x86dd), proto, &l4),
            ] {
                let (g, k) = set_all(&f, ty, &[0x12, 0x34, 0x56, 0x78]);
                let (_, l3) = l3_offset(&g);
                let l4 = l3 + if g[12] == 0x08 { 20 } else { 40 };
                assert_eq!(&g[l4..l4 + 4], &[0x12, 0x34, 0x56, 0x78]);
                assert_eq!((k.tp_src, k.tp_dst), (0x1234, 0x5678));
                // Masked: the destination port's low byte only.
                let (g, k, r) = run_set(&f, None, ty, &[0, 0, 0, 0x99, 0, 0, 0, 0xff], true);
                r.unwrap();
                check_checksums(&g).unwrap();
                assert_eq!(&g[l4..l4 + 4], &[f[l4], f[l4 + 1], f[l4 + 2], 0x99]);
                assert_eq!(k.tp_dst & 0xff, 0x99);
            }
        }
    }

    #[test]
    fn sctp_ports_recompute_crc32c() {
        for f in [
            ipv4(eth(&[], 0x0800), SCTP, &sctp(5000, 6000)),
            ipv6(eth(&[], 0x86dd), SCTP, &sctp(5000, 6000)),
        ] {
            let (g, k) = set_all(&f, k::SCTP, &[0, 7, 0, 9]);
            assert_eq!((k.tp_src, k.tp_dst), (7, 9));
            let (_, l3) = l3_offset(&g);
            let l4 = l3 + if g[12] == 0x08 { 20 } else { 40 };
            assert_eq!(&g[l4..l4 + 4], &[0, 7, 0, 9]);
        }
        // Ethernet padding after the IP packet is not part of the SCTP packet.
        let mut f = ipv4(eth(&[], 0x0800), SCTP, &sctp(5000, 6000));
        f.extend_from_slice(&[0xee; 6]);
        let (g, _) = set_all(&f, k::SCTP, &[0, 7, 0, 9]);
        assert_eq!(&g[g.len() - 6..], &[0xee; 6]);
    }

    #[test]
    fn sctp_bad_checksum_stays_bad() {
        let mut f = ipv4(eth(&[], 0x0800), SCTP, &sctp(5000, 6000));
        f[42] ^= 0x5a;
        let (g, _, r) = run_set(&f, None, k::SCTP, &[0, 7, 0, 9], false);
        r.unwrap();
        let mut good = g.clone();
        fix_checksums(&mut good);
        assert_eq!(g[42] ^ 0x5a, good[42]);
        assert_eq!(&g[43..46], &good[43..46]);
    }

    #[test]
    fn icmp_type_and_code() {
        let f = ipv4(eth(&[], 0x0800), ICMP, &icmp(8, 0));
        let (g, k) = set_all(&f, k::ICMP, &[0, 3]);
        assert_eq!(&g[34..36], &[0, 3]);
        assert_eq!((k.tp_src, k.tp_dst), (0, 3));
        let f = ipv6(eth(&[], 0x86dd), ICMPV6, &icmp(128, 0));
        let (g, k) = set_all(&f, k::ICMPV6, &[129, 0]);
        assert_eq!(&g[54..56], &[129, 0]);
        assert_eq!((k.tp_src, k.tp_dst), (129, 0));
        // ICMP on an IPv6 packet (or ICMPv6 on IPv4) has no header to set.
        assert_eq!(
            run_set(&f, None, k::ICMP, &[1, 1], false).2,
            Err(Fault::BadHeader)
        );
    }

    #[test]
    fn priority_and_mark_are_key_only() {
        let f = ipv4(eth(&[], 0x0800), UDP, &udp(1, 2));
        let (g, k, r) = run_set(&f, None, k::PRIORITY, &7u32.to_ne_bytes(), false);
        r.unwrap();
        assert_eq!((g, k.priority), (f.clone(), 7));
        let mut p = packet(&f);
        let mut k = FlowKey {
            skb_mark: 0xffff_0000,
            ..FlowKey::default()
        };
        let v = [0x1234_5678u32.to_ne_bytes(), 0x00ff_00ffu32.to_ne_bytes()].concat();
        set(&mut p, &mut k, Attr::new(k::SKB_MARK, &v), true).unwrap();
        assert_eq!(k.skb_mark, 0xff34_0078);
    }

    #[test]
    fn errors() {
        let f = ipv4(eth(&[], 0x0800), UDP, &udp(1, 2));
        // Wrong sizes.
        assert_eq!(
            run_set(&f, None, k::UDP, &[0; 3], false).2,
            Err(Fault::Malformed)
        );
        assert_eq!(
            run_set(&f, None, k::UDP, &[0; 4], true).2,
            Err(Fault::Malformed)
        );
        // A header the frame does not have.
        assert_eq!(
            run_set(&f, None, k::TCP, &[0; 4], false).2,
            Err(Fault::BadHeader)
        );
        assert_eq!(
            run_set(&f, None, k::IPV6, &[0; 40], false).2,
            Err(Fault::BadHeader)
        );
        assert_eq!(
            run_set(&f[..40], None, k::UDP, &[0; 4], false).2,
            Err(Fault::BadHeader)
        );
        assert_eq!(
            run_set(&f[..10], None, k::ETHERNET, &[0; 12], false).2,
            Err(Fault::BadHeader)
        );
        // Fields not settable here.
        for ty in [k::TUNNEL, k::CT_MARK, k::ARP, k::ND, k::IN_PORT] {
            assert_eq!(
                run_set(&f, None, ty, &[0; 8], false).2,
                Err(Fault::Unsupported)
            );
        }
        // The NSH header or the top label of a frame that has none.
        assert_eq!(
            run_set(&f, None, k::NSH, &[0; 8], false).2,
            Err(Fault::BadHeader)
        );
        assert_eq!(
            run_set(&f, None, k::MPLS, &[0; 4], false).2,
            Err(Fault::BadHeader)
        );
        // Nothing was written by a failed one.
        let (g, _, r) = run_set(&f, None, k::TCP, &[1; 4], false);
        assert_eq!((g, r), (f.clone(), Err(Fault::BadHeader)));
    }

    #[test]
    fn dec_ttl_ipv4_ipv6_and_others() {
        let f = ipv4(eth(&[(0x8100, 3)], 0x0800), UDP, &udp(1, 2));
        let mut p = packet(&f);
        let mut k = key_of(&f);
        assert_eq!(dec_ttl(&mut p, &mut k), Ok(DecTtl::Done));
        check_checksums(p.data()).unwrap();
        assert_eq!((p.data()[26], k.ip_ttl), (63, 63));
        let f = ipv6(eth(&[], 0x86dd), UDP, &udp(1, 2));
        let mut p = packet(&f);
        assert_eq!(dec_ttl(&mut p, &mut k), Ok(DecTtl::Done));
        assert_eq!((p.data()[21], k.ip_ttl), (63, 63));
        check_checksums(p.data()).unwrap();
        for ttl in [0, 1] {
            let mut g = f.clone();
            g[21] = ttl;
            let mut p = packet(&g);
            assert_eq!(dec_ttl(&mut p, &mut k), Ok(DecTtl::Expired));
            assert_eq!(p.data(), &g[..]);
        }
        let arp = [eth(&[], 0x0806), std::vec![0; 28]].concat();
        let mut p = packet(&arp);
        assert_eq!(dec_ttl(&mut p, &mut k), Ok(DecTtl::Done));
        assert_eq!(p.data(), &arp[..]);
        let mut p = packet(&f[..30]);
        assert_eq!(dec_ttl(&mut p, &mut k), Err(Fault::BadHeader));
    }
}
