//! Address and port translation (Linux's `nf_nat` as `ovs_ct_nat` uses
//! it): choosing a connection's translated tuple when it is committed, and
//! rewriting its packets both ways, including the packet an ICMP error
//! quotes.
//!
//! A connection's NAT binding is its reply tuple: for SNAT the reply's
//! destination is the translated source, for DNAT the reply's source is the
//! translated destination. The choice takes an address of the range from a
//! hash of the original tuple's addresses (of its source alone with
//! PERSISTENT; a range whose maximum is below its minimum wraps past the
//! top of the address space, as Linux's arithmetic has it), and the
//! original port if it is in the range and free (and neither PROTO_HASH nor
//! PROTO_RANDOM is given), else runs of ports from a hash of the tuple or
//! from `random` (PROTO_RANDOM) in the range; with no range given, DNAT keeps the
//! port and SNAT looks in the original port's class (1-511, 600-1023 or
//! 1024-65535), as Linux does. An ICMP query's or ICMPv6 echo's identifier, the
//! same both ways, is chosen as a port is, from any with no range given. A
//! choice is free when no connection of the zone uses it as either tuple.
//! The search is bounded (`ADDR_TRIES` x `PORT_RUNS`); a commit finding
//! nothing drops the packet.
//!
//! Checksums: the IPv4 header checksum and the transport checksum (whose
//! pseudo-header holds the addresses; ICMP's has none) are updated
//! incrementally; a UDP checksum of 0 stays 0. A frame whose transport
//! checksum the sender left to the NIC carries the pseudo-header sum there
//! (not complemented), which is updated as such. An ICMP error's checksum is
//! recomputed after its quoted header is translated (as Linux does).

use super::action::{Nat, NatKind};
use super::packet::View;
use super::table::Table;
use super::tuple::*;
use crate::actions::checksum;
use crate::actions::headers::{self, get, put};
use crate::flow::FlowKey;

const ADDR_TRIES: u32 = 16;
/// Runs of ports tried at each address: (run, length).
const PORT_RUNS: [(u32, u32); 3] = [(0, 64), (1, 32), (2, 16)];

pub fn has_ports(proto: u8) -> bool {
    matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP)
}

fn addr_u128(a: &[u8; 16], v6: bool) -> u128 {
    if v6 {
        u128::from_be_bytes(*a)
    } else {
        u128::from(u32::from_be_bytes(first4(a)))
    }
}

fn addr_bytes(n: u128, v6: bool) -> [u8; 16] {
    if v6 {
        n.to_be_bytes()
    } else {
        let mut a = [0u8; 16];
        if let Some(d) = a.get_mut(..4) {
            d.copy_from_slice(&(n as u32).to_be_bytes());
        }
        a
    }
}

/// The ports SNAT chooses from without a range given: those of the
/// original port's class, as Linux keeps them.
fn port_class(port: u16) -> (u16, u16) {
    match port {
        0..512 => (1, 511),
        512..1024 => (600, 1023),
        _ => (1024, u16::MAX),
    }
}

/// The reply tuple of a new connection `orig` translated by `nat`, free in
/// the table; `None` if none was found. `random` draws PROTO_RANDOM ports.
pub fn choose(
    table: &Table,
    orig: &Tuple,
    nat: &Nat,
    seed: u64,
    random: impl Fn() -> u32,
) -> Option<Tuple> {
    let base = orig.reverse()?;
    let kind = nat.kind?;
    let v6 = orig.v6 == 1;
    let ports = has_ports(orig.proto);
    // ICMPv6 echo alone has an identifier to change (Linux's
    // `icmpv6_manip_pkt`); the bytes other ICMPv6 queries keep there
    // (a Node Information query's Qtype) mean something else.
    let icmp = orig.is_icmp() && (!v6 || matches!(orig.dport >> 8, 128 | 129));
    // The side that changes, as it is now; an ICMP query's identifier is
    // the same both ways (`sport` in both tuples).
    let (addr, port) = match kind {
        NatKind::Src => (orig.src, orig.sport),
        NatKind::Dst if icmp => (orig.dst, orig.sport),
        NatKind::Dst => (orig.dst, orig.dport),
    };
    // The range as its first address and how many follow it (one less
    // than it holds, so the whole IPv6 space fits). Counted modulo the
    // address space as Linux's `find_best_ips_proto` counts: a maximum below
    // the minimum wraps past the top.
    let space = if v6 { u128::MAX } else { u128::from(u32::MAX) };
    let (amin, span) = match nat.addrs {
        Some((lo, hi)) => {
            let lo = addr_u128(&lo, v6);
            (lo, addr_u128(&hi, v6).wrapping_sub(lo) & space)
        }
        None => (addr_u128(&addr, v6), 0),
    };
    // The address from the connection's addresses alone, so that one
    // source talking to one destination always goes out from one address;
    // from its source alone with PERSISTENT (Linux's `find_best_ips_proto`).
    let ends = Tuple {
        dst: if nat.persistent { [0; 16] } else { orig.dst },
        sport: 0,
        dport: 0,
        proto: 0,
        ..*orig
    };
    let h_addr = ends.hash(seed);
    let h = orig.hash(seed);
    // Where other ports or identifiers are looked for (Linux's
    // `nf_nat_l4proto_unique_tuple`): the range given, its ends in either
    // order; without one, any ICMP identifier, no other port for DNAT (its
    // port never changes) and the original port's class for SNAT.
    let search = match (nat.ports, kind) {
        _ if !(ports || icmp) => None,
        (Some((lo, hi)), _) => Some((lo.min(hi), lo.max(hi))),
        (None, _) if icmp => Some((0, u16::MAX)),
        (None, NatKind::Dst) => None,
        (None, NatKind::Src) => Some(port_class(port)),
    };
    let (pmin, n_ports) = search.map_or((0, 0), |(lo, hi)| (lo, u32::from(hi - lo) + 1));
    // The original port first when it is in the range given, if any, and
    // neither PROTO_HASH nor PROTO_RANDOM asks for another (Linux's
    // `NF_NAT_RANGE_PROTO_RANDOM_ALL`); always when there is nowhere else
    // to look (DNAT without a port range).
    let keep = search.is_none()
        || !(nat.proto_hash || nat.proto_random)
            && nat.ports.is_none_or(|(lo, hi)| (lo..=hi).contains(&port));
    let first_port = if nat.proto_random {
        random()
    } else {
        (h >> 32) as u32
    };
    // Runs of consecutive ports, each from a new start and half as long as
    // the one before, so that a crowded stretch of the range is left
    // behind (as Linux's `nf_nat_l4proto_unique_tuple` goes "another
    // round").
    let runs = PORT_RUNS.map(|(run, len)| {
        let start = first_port.wrapping_add(run.wrapping_mul(0x9e37_79b9));
        (start, len.min(n_ports))
    });
    for a in 0..u128::from(ADDR_TRIES).min(span.saturating_add(1)) {
        let off = u128::from(h_addr as u32) + a;
        let off = span.checked_add(1).map_or(off, |n| off % n);
        let address = addr_bytes(amin.wrapping_add(off) & space, v6);
        let others = runs.iter().flat_map(|&(start, len)| {
            (0..len).map(move |i| pmin + (start.wrapping_add(i) % n_ports) as u16)
        });
        let candidates = keep.then_some(port).into_iter().chain(others);
        for p in candidates {
            let mut r = base;
            match kind {
                NatKind::Src => {
                    r.dst = address;
                    if ports {
                        r.dport = p;
                    }
                }
                NatKind::Dst => {
                    r.src = address;
                    if ports {
                        r.sport = p;
                    }
                }
            }
            if icmp {
                r.sport = p;
            }
            if !table.in_use(&r) {
                return Some(r);
            }
        }
    }
    None
}

/// Which translations a connection's tuples (`orig`, and `reply` as NAT
/// bound it) say it has: (SNAT, DNAT). An ICMP query's identifier (`sport`
/// both ways) goes with DNAT if that moved the address, else with SNAT.
pub fn kinds(orig: &Tuple, reply: &Tuple) -> (bool, bool) {
    let ports = has_ports(orig.proto);
    let dnat = orig.dst != reply.src || ports && orig.dport != reply.sport;
    let id = orig.is_icmp() && orig.sport != reply.sport;
    let snat = orig.src != reply.dst || ports && orig.sport != reply.dport || id && !dnat;
    (snat, dnat)
}

/// What a rewrite changes: each field that is `Some`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub src: Option<[u8; 16]>,
    pub dst: Option<[u8; 16]>,
    /// The source port, or an ICMP query's identifier.
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

impl Rewrite {
    /// From the packet's tuple `from` to `to` (ports only for protocols
    /// that have them; an ICMP query's identifier as `sport`, its type never);
    /// `None` if nothing changes.
    pub fn between(from: &Tuple, to: &Tuple) -> Option<Rewrite> {
        let ports = has_ports(from.proto);
        let r = Rewrite {
            src: (from.src != to.src).then_some(to.src),
            dst: (from.dst != to.dst).then_some(to.dst),
            sport: ((ports || from.is_icmp()) && from.sport != to.sport).then_some(to.sport),
            dport: (ports && from.dport != to.dport).then_some(to.dport),
        };
        (r.src.is_some() || r.dst.is_some() || r.sport.is_some() || r.dport.is_some()).then_some(r)
    }
}

/// An IP packet inside a frame: where its headers are.
#[derive(Clone, Copy, Debug)]
pub struct Headers {
    pub v6: bool,
    pub l3: usize,
    pub proto: u8,
    pub l4: usize,
    /// End of the bytes that belong to it in the frame.
    pub end: usize,
    /// The transport checksum holds the pseudo-header sum (left to the NIC).
    pub partial: bool,
}

/// What a field holding `old` holds after writing `new` (if any) over it,
/// and the change that makes to the checksums over it (`checksum::delta`;
/// 0 if it holds that already: an unchanged field is left out even of the
/// sum's representation of zero, a changed one adds all its words).
#[inline(always)]
fn change<const N: usize>(old: [u8; N], new: Option<[u8; N]>) -> ([u8; N], u32) {
    match new {
        Some(new) if new != old => (new, checksum::delta(&old, &new)),
        _ => (old, 0),
    }
}

/// Applies `rw` to the packet whose headers are `h`, each checksum updated
/// once for all the fields it covers (their words and the checksums all
/// taken in the machine's byte order, see `checksum::delta`). `None` if the
/// frame does not hold what it should (every field is read before any is
/// written, so nothing is then half written). Inlined, as `headers_of` and
/// `update_key`: their arguments are built just before they run, and
/// passed through memory they would be read back by loads that wait for
/// the stores that wrote them.
#[inline(always)]
pub fn apply(f: &mut [u8], h: &Headers, rw: &Rewrite) -> Option<()> {
    if h.v6 {
        apply_sized(f, h, rw.src, rw.dst, rw)
    } else {
        let v4 = |a: Option<[u8; 16]>| a.as_ref().map(first4);
        apply_sized(f, h, v4(rw.src), v4(rw.dst), rw)
    }
}

/// `apply` with the addresses as the IP header holds them (`N` bytes).
#[inline(always)]
fn apply_sized<const N: usize>(
    f: &mut [u8],
    h: &Headers,
    src: Option<[u8; N]>,
    dst: Option<[u8; N]>,
    rw: &Rewrite,
) -> Option<()> {
    let src_at = h.l3 + if h.v6 { 8 } else { 12 };
    let dst_at = src_at + N;
    // The addresses are in the transport checksum's pseudo-header too.
    let (src, d_src) = change(get(f, src_at)?, src);
    let (dst, d_dst) = change(get(f, dst_at)?, dst);
    let addrs = d_src + d_dst;
    let icmp = h.proto == if h.v6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
    // Ports lead their header; an ICMP query's identifier (`sport`)
    // follows its type, code and checksum, its sequence number after it.
    let ports_at = if icmp { h.l4 + 4 } else { h.l4 };
    let has_ports = rw.sport.is_some() || rw.dport.is_some();
    let mut ports = 0;
    if has_ports {
        let [s0, s1, d0, d1] = get(f, ports_at)?;
        let (sport, d_sport) = change([s0, s1], rw.sport.map(u16::to_be_bytes));
        let (dport, d_dport) = change([d0, d1], rw.dport.map(u16::to_be_bytes));
        ports = d_sport + d_dport;
        put(f, ports_at, [sport[0], sport[1], dport[0], dport[1]])?;
    }
    put(f, src_at, src)?;
    put(f, dst_at, dst)?;
    // A quoted header cut before a checksum has nothing there to update.
    if !h.v6
        && let Some(c) = get(f, h.l3 + 10)
    {
        let c = checksum::adjust(u16::from_ne_bytes(c), addrs);
        put(f, h.l3 + 10, c.to_ne_bytes())?;
    }
    let l4_sum = match h.proto {
        IPPROTO_TCP => Some((h.l4 + 16, false)),
        IPPROTO_UDP => Some((h.l4 + 6, true)),
        _ if icmp => Some((h.l4 + 2, false)),
        _ => None,
    }
    .filter(|&(at, _)| at + 2 <= h.end);
    // The addresses' change to the pseudo-header, which ICMP's checksum
    // (unlike ICMPv6's) does not cover.
    let pseudo = if icmp && !h.v6 { 0 } else { addrs };
    if let Some((at, udp)) = l4_sum
        && let Some(c) = get(f, at).map(u16::from_ne_bytes)
        // UDP without a checksum gets none.
        && !(udp && c == 0 && !h.partial)
    {
        let c = if h.partial {
            // The pseudo-header sum, not complemented: ports are not in it.
            !checksum::adjust(!c, pseudo)
        } else {
            match checksum::adjust(c, pseudo + ports) {
                0 if udp => 0xffff,
                c => c,
            }
        };
        put(f, at, c.to_ne_bytes())?;
    }
    // A quoted SCTP header may stop before its checksum (ICMP quotes 8
    // bytes at least): its ports change, and there is no checksum to redo.
    if h.proto == IPPROTO_SCTP && has_ports && h.l4 + 12 <= h.end {
        sctp_checksum(f, h)?;
    }
    Some(())
}

/// The key's addresses (and ports, with `ports`) after `rw`.
#[inline(always)]
pub fn update_key(key: &mut FlowKey, rw: &Rewrite, v6: bool, ports: bool) {
    let v4 = |a: &[u8; 16]| u32::from_be_bytes(first4(a));
    if let Some(a) = &rw.src {
        if v6 {
            key.ipv6_src = *a;
        } else {
            key.ipv4_src = v4(a);
        }
    }
    if let Some(a) = &rw.dst {
        if v6 {
            key.ipv6_dst = *a;
        } else {
            key.ipv4_dst = v4(a);
        }
    }
    if ports {
        if let Some(p) = rw.sport {
            key.tp_src = p;
        }
        if let Some(p) = rw.dport {
            key.tp_dst = p;
        }
    }
}

/// SCTP's CRC32c covers the ports: recomputed after they change.
fn sctp_checksum(f: &mut [u8], h: &Headers) -> Option<()> {
    put(f, h.l4 + 8, [0; 4])?;
    let c = checksum::sctp(f.get(h.l4..h.end)?);
    put(f, h.l4 + 8, c.to_le_bytes())
}

/// Recomputes the checksum of the ICMP or ICMPv6 message of `h`.
pub fn icmp_checksum(f: &mut [u8], h: &Headers) -> Option<()> {
    put(f, h.l4 + 2, [0, 0])?;
    let mut sum = 0u64;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let hi = u64::from(*c.first().unwrap_or(&0));
            let lo = u64::from(*c.get(1).unwrap_or(&0));
            sum += hi << 8 | lo;
        }
    };
    if h.v6 {
        add(f.get(h.l3 + 8..h.l3 + 40)?);
        let len = u32::try_from(h.end.checked_sub(h.l4)?).ok()?;
        add(&len.to_be_bytes());
        add(&[0, 0, 0, IPPROTO_ICMPV6]);
    }
    add(f.get(h.l4..h.end)?);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    put(f, h.l4 + 2, (!(sum as u16)).to_be_bytes())
}

/// The headers of the packet `view` describes in `frame`.
#[inline(always)]
pub fn headers_of(view: &View, frame_len: usize, partial: bool) -> Headers {
    Headers {
        v6: view.tuple.v6 == 1,
        l3: view.l3,
        proto: view.tuple.proto,
        l4: view.l4,
        end: (view.l3 + view.len as usize).min(frame_len),
        partial,
    }
}

/// The headers of the packet an ICMP error quotes at `l3` (up to `end`).
pub fn quoted_headers(f: &[u8], l3: usize, end: usize, q: &Tuple) -> Option<Headers> {
    let l4 = if q.v6 == 1 {
        headers::ip_at(f.get(..end)?, headers::ETH_P_IPV6, l3)?
            .l4?
            .off
    } else {
        l3 + usize::from(*f.get(l3)? & 0x0f) * 4
    };
    Some(Headers {
        v6: q.v6 == 1,
        l3,
        proto: q.proto,
        l4,
        end,
        partial: false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::conn::Conn;
    use super::super::packet::{self, tests as p};
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn snat(lo: [u8; 4], hi: [u8; 4], ports: Option<(u16, u16)>) -> Nat {
        Nat {
            kind: Some(NatKind::Src),
            addrs: Some((v4(lo), v4(hi))),
            ports,
            ..Nat::default()
        }
    }

    /// IPv4 header and TCP/UDP checksums verify.
    fn verify(f: &[u8]) -> bool {
        let fold = |b: &[u8], init: u32| {
            let mut s = init;
            for c in b.chunks(2) {
                s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            s
        };
        let ip = &f[14..34];
        if fold(ip, 0) != 0xffff {
            return false;
        }
        let l4 = &f[34..];
        let pseudo = fold(
            &[&f[26..34], &[0, f[23]], &(l4.len() as u16).to_be_bytes()].concat(),
            0,
        );
        fold(l4, pseudo) == 0xffff
    }

    #[test]
    fn choose_takes_a_free_tuple_in_range() {
        let table = Table::new(1, 100).unwrap();
        let f = p::ipv4_frame(
            [10, 0, 0, 1],
            [8, 8, 8, 8],
            6,
            &p::tcp(40000, 80, 2, 1, 0, 0),
        );
        let v = packet::parse(&f, None, 0, false).unwrap();
        let nat = snat([1, 1, 1, 1], [1, 1, 1, 1], Some((5000, 5001)));
        let r1 = choose(&table, &v.tuple, &nat, 7, || 0).unwrap();
        assert_eq!(r1.dst, v4([1, 1, 1, 1]));
        assert!((5000..=5001).contains(&r1.dport));
        table.insert(Conn::new(&v, r1, 0).unwrap(), None).unwrap();
        // A second connection from another port gets the other port; a
        // third finds the range exhausted.
        let f2 = p::ipv4_frame(
            [10, 0, 0, 1],
            [8, 8, 8, 8],
            6,
            &p::tcp(40001, 80, 2, 1, 0, 0),
        );
        let v2 = packet::parse(&f2, None, 0, false).unwrap();
        let r2 = choose(&table, &v2.tuple, &nat, 7, || 0).unwrap();
        assert_ne!(r2.dport, r1.dport);
        table.insert(Conn::new(&v2, r2, 0).unwrap(), None).unwrap();
        let f3 = p::ipv4_frame(
            [10, 0, 0, 1],
            [8, 8, 8, 8],
            6,
            &p::tcp(40002, 80, 2, 1, 0, 0),
        );
        let v3 = packet::parse(&f3, None, 0, false).unwrap();
        assert_eq!(choose(&table, &v3.tuple, &nat, 7, || 0), None);
        // Without a port range the port is kept while it is free.
        let keep = snat([1, 1, 1, 2], [1, 1, 1, 9], None);
        let r = choose(&table, &v3.tuple, &keep, 7, || 0).unwrap();
        assert_eq!(r.dport, 40002);
        assert!((2..=9).contains(&r.dst[3]));
    }

    #[test]
    fn rewrites_keep_checksums_right() {
        let mut f = p::ipv4_frame(
            [10, 0, 0, 1],
            [8, 8, 8, 8],
            6,
            &p::tcp(40000, 80, 0x18, 1, 1, 9),
        );
        assert!(verify(&f));
        snat_to_1111(&mut f, 5000).unwrap();
        assert!(verify(&f));
        assert_eq!(&f[26..30], &[1, 1, 1, 1]);
        assert_eq!(&f[34..36], &5000u16.to_be_bytes());
        // UDP without a checksum keeps none.
        let mut u = p::ipv4_frame([10, 0, 0, 1], [8, 8, 8, 8], 17, &[0, 1, 0, 2, 0, 8, 0, 0]);
        u[40] = 0;
        u[41] = 0;
        snat_to_1111(&mut u, 5000).unwrap();
        assert_eq!(&u[40..42], &[0, 0]);
    }

    /// Rewrites the source of the packet in `f` to 1.1.1.1 and its source
    /// port (or echo identifier) to `sport`.
    fn snat_to_1111(f: &mut [u8], sport: u16) -> Option<()> {
        let v = packet::parse(f, None, 0, false)?;
        let h = headers_of(&v, f.len(), false);
        let rw = Rewrite {
            src: Some(v4([1, 1, 1, 1])),
            sport: Some(sport),
            ..Rewrite::default()
        };
        apply(f, &h, &rw)
    }

    /// An echo's identifier is rewritten where a port pair's first port
    /// would be; the sequence number after it stays.
    #[test]
    fn an_echo_keeps_its_sequence_number() {
        // Echo request: type 8, code 0, checksum, identifier 7, sequence 9.
        let mut echo = [8, 0, 0, 0, 0, 7, 0, 9, 1, 2, 3];
        let sum = !ones_sum(&[&echo]);
        echo[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut f = p::ipv4_frame([10, 0, 0, 1], [8, 8, 8, 8], 1, &echo);
        let v = packet::parse(&f, None, 0, false).unwrap();
        assert_eq!((v.tuple.sport, v.tuple.dport), (7, 0x0800));
        snat_to_1111(&mut f, 4242).unwrap();
        assert_eq!(ones_sum(&[&f[14..34]]), 0xffff, "the IPv4 header checksum");
        assert_eq!(&f[26..30], &[1, 1, 1, 1]);
        assert_eq!(
            &f[38..42],
            &[0x10, 0x92, 0, 9],
            "identifier 4242, sequence 9"
        );
        assert_eq!(ones_sum(&[&f[34..]]), 0xffff, "the ICMP checksum");
    }

    #[test]
    fn a_partial_checksum_stays_the_pseudo_header_sum() {
        let mut f = p::ipv4_frame(
            [10, 0, 0, 1],
            [8, 8, 8, 8],
            6,
            &p::tcp(40000, 80, 0x18, 1, 1, 9),
        );
        // What a sender offloading the checksum leaves: the pseudo-header sum.
        let pseudo = |f: &[u8]| {
            let mut s = 0u32;
            for c in [&f[26..34], &[0, 6], &((f.len() - 34) as u16).to_be_bytes()]
                .concat()
                .chunks(2)
            {
                s += u32::from(u16::from_be_bytes([c[0], c[1]]));
            }
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            s as u16
        };
        let ps = pseudo(&f);
        f[50..52].copy_from_slice(&ps.to_be_bytes());
        let v = packet::parse(&f, None, 0, false).unwrap();
        let rw = Rewrite {
            src: Some(v4([192, 168, 7, 7])),
            sport: Some(5000),
            ..Rewrite::default()
        };
        let h = headers_of(&v, f.len(), true);
        apply(&mut f, &h, &rw).unwrap();
        assert_eq!(
            u16::from_be_bytes([f[50], f[51]]),
            pseudo(&f),
            "ports are not in it"
        );
    }

    /// The one's-complement sum of the big-endian words of `parts`, folded
    /// (an odd length padded with a zero byte).
    fn ones_sum(parts: &[&[u8]]) -> u16 {
        let mut s = 0u64;
        for b in parts {
            for c in b.chunks(2) {
                s += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The transport pseudo-header of the packet at 14 (IPv4 or IPv6).
    fn pseudo(f: &[u8], v6: bool, proto: u8) -> std::vec::Vec<u8> {
        let (addrs, l4) = if v6 {
            (&f[22..54], 54)
        } else {
            (&f[26..34], 34)
        };
        [addrs, &[0, proto], &((f.len() - l4) as u16).to_be_bytes()].concat()
    }

    proptest::proptest! {
        /// Whatever ranges an action gives (either way round, up to the
        /// whole address space), a choice is found in an empty table and
        /// lies in them: the address counted up from the minimum, wrapping
        /// past the top, no further than the maximum; the port between the
        /// two ends.
        #[test]
        fn any_range_gives_a_choice_in_it(
            v6 in proptest::bool::ANY,
            dst in proptest::bool::ANY,
            ends in proptest::array::uniform2(proptest::prop_oneof![
                proptest::strategy::Just([0; 16]),
                proptest::strategy::Just([0xff; 16]),
                proptest::array::uniform16(proptest::num::u8::ANY),
            ]),
            ports in proptest::option::of(proptest::array::uniform2(proptest::num::u16::ANY)),
            seed in proptest::num::u64::ANY,
        ) {
            let table = Table::new(1, 100).unwrap();
            let mut orig = Tuple {
                sport: 40000,
                dport: 80,
                proto: IPPROTO_TCP,
                v6: u8::from(v6),
                ..Tuple::default()
            };
            orig.src[..4].copy_from_slice(&[10, 0, 0, 1]);
            orig.dst[..4].copy_from_slice(&[10, 0, 0, 2]);
            let [lo, hi] = ends;
            let nat = Nat {
                kind: Some(if dst { NatKind::Dst } else { NatKind::Src }),
                addrs: Some((lo, hi)),
                ports: ports.map(|[a, b]| (a, b)),
                ..Nat::default()
            };
            let r = choose(&table, &orig, &nat, seed, || 7).unwrap();
            let (addr, port) = if dst { (r.src, r.sport) } else { (r.dst, r.dport) };
            let space = if v6 { u128::MAX } else { u128::from(u32::MAX) };
            let at = |a: &[u8; 16]| addr_u128(a, v6);
            proptest::prop_assert!(
                at(&addr).wrapping_sub(at(&lo)) & space <= at(&hi).wrapping_sub(at(&lo)) & space
            );
            if let Some([a, b]) = ports {
                proptest::prop_assert!((a.min(b)..=a.max(b)).contains(&port));
            }
        }

        /// Whatever a rewrite changes, the IPv4 header checksum and the
        /// transport checksum verify afterwards as a recomputation over the
        /// whole packet would have them; a UDP checksum of 0 stays 0, a
        /// partial (offloaded) one is the new pseudo-header sum, and SCTP's
        /// CRC32c is right.
        #[test]
        fn rewritten_checksums_verify(
            v6 in proptest::bool::ANY,
            proto in proptest::sample::select(&[IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP][..]),
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            addrs in proptest::array::uniform4(proptest::array::uniform16(proptest::num::u8::ANY)),
            ports in proptest::array::uniform4(proptest::num::u16::ANY),
            change in proptest::array::uniform4(proptest::bool::ANY),
            udp_zero in proptest::bool::ANY,
            partial in proptest::bool::ANY,
        ) {
            let partial = partial && proto != IPPROTO_SCTP;
            let [src, dst, new_src, new_dst] = addrs.map(|a| {
                if v6 { a } else { v4([a[0], a[1], a[2], a[3]]) }
            });
            let mut l4 = match proto {
                IPPROTO_TCP => p::tcp(ports[0], ports[1], 0x10, 1, 2, 0),
                // UDP's length and checksum, or SCTP's tag and checksum.
                _ => {
                    let rest = if proto == IPPROTO_UDP { 4 } else { 8 };
                    [&ports[0].to_be_bytes()[..], &ports[1].to_be_bytes(), &[0; 8][..rest]].concat()
                }
            };
            l4.extend_from_slice(&payload);
            if proto == IPPROTO_UDP {
                let len = (l4.len() as u16).to_be_bytes();
                l4[4..6].copy_from_slice(&len);
            }
            let mut f = if v6 {
                super::super::tests::ipv6_frame(src, dst, proto, &l4)
            } else {
                p::ipv4_frame(first4(&src), first4(&dst), proto, &l4)
            };
            let at = if v6 { 54 } else { 34 };
            let sum_at = at + if proto == IPPROTO_TCP { 16 } else { 6 };
            if proto == IPPROTO_SCTP {
                let c = checksum::sctp(&f[at..]);
                f[at + 8..at + 12].copy_from_slice(&c.to_le_bytes());
            } else if partial {
                let ps = ones_sum(&[&pseudo(&f, v6, proto)]);
                f[sum_at..sum_at + 2].copy_from_slice(&ps.to_be_bytes());
            } else if proto == IPPROTO_UDP && udp_zero {
                f[sum_at..sum_at + 2].fill(0);
            }
            let v = packet::parse(&f, None, 0, false).unwrap();
            let h = headers_of(&v, f.len(), partial);
            let rw = Rewrite {
                src: change[0].then_some(new_src),
                dst: change[1].then_some(new_dst),
                sport: change[2].then_some(ports[2]),
                dport: change[3].then_some(ports[3]),
            };
            apply(&mut f, &h, &rw).unwrap();
            let v = packet::parse(&f, None, 0, false).unwrap();
            let want = |new: Option<[u8; 16]>, old: [u8; 16]| new.unwrap_or(old);
            proptest::prop_assert_eq!(v.tuple.src, want(rw.src, src));
            proptest::prop_assert_eq!(v.tuple.dst, want(rw.dst, dst));
            proptest::prop_assert_eq!(v.tuple.sport, rw.sport.unwrap_or(ports[0]));
            proptest::prop_assert_eq!(v.tuple.dport, rw.dport.unwrap_or(ports[1]));
            if !v6 {
                proptest::prop_assert_eq!(ones_sum(&[&f[14..34]]), 0xffff);
            }
            let check = u16::from_be_bytes([f[sum_at], f[sum_at + 1]]);
            let ps = pseudo(&f, v6, proto);
            if proto == IPPROTO_SCTP {
                let c = checksum::sctp(&f[at..]);
                proptest::prop_assert_eq!(&f[at + 8..at + 12], &c.to_le_bytes()[..]);
            } else if partial {
                proptest::prop_assert_eq!(check, ones_sum(&[&ps]));
            } else if proto == IPPROTO_UDP && udp_zero {
                proptest::prop_assert_eq!(check, 0);
            } else {
                proptest::prop_assert_eq!(ones_sum(&[&ps, &f[at..]]), 0xffff);
                proptest::prop_assert!(proto != IPPROTO_UDP || check != 0);
            }
        }
    }
}
