//! Which rows of the host's IP tables become the tunnel underlay. On
//! Windows the rows come from netio's IP Helper tables (unicast addresses,
//! routes, neighbours), read whole at PASSIVE_LEVEL; only those of the host
//! interface count: the switch's internal port, where the tunnel endpoint
//! lives and whose MAC encapsulated frames leave from.
//!
//! - An address counts if it is preferred (duplicate address detection
//!   done, not deprecated), may be a source, and is neither loopback,
//!   unspecified, multicast nor link-local (an outer header crossing a
//!   router cannot come from one).
//! - A route counts unless it is a loopback route or leads to multicast or
//!   the limited broadcast address; an unspecified next hop means the
//!   destination is on the link. Of two routes for one prefix the lower
//!   metric wins.
//! - A neighbour counts once its MAC is known (probe, delay, stale,
//!   reachable or permanent), is a unicast Ethernet address and belongs to
//!   a unicast IP address.

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::tunnel::underlay::{Full, MAX_ROUTES, Prefix, Route, Underlay};

/// `NL_DAD_STATE`'s `IpDadStatePreferred`.
pub const DAD_PREFERRED: u32 = 4;
/// `NL_NEIGHBOR_STATE`: `NlnsProbe` to `NlnsPermanent` know the MAC.
pub const NEIGHBOUR_PROBE: u32 = 2;
pub const NEIGHBOUR_PERMANENT: u32 = 6;

/// `ADDRESS_FAMILY` values (Windows').
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 23;

/// The bytes of a `SOCKADDR_INET` after its family: `SOCKADDR_IN`'s port
/// and address at 2, `SOCKADDR_IN6`'s port, flow info, address at 6 and
/// scope id.
pub type SockaddrData = [u8; 26];

/// The address of a `SOCKADDR_INET`, if of a family that has one.
pub fn sockaddr_ip(family: u16, data: &SockaddrData) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(*data[2..].first_chunk::<4>()?))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*data[6..].first_chunk::<16>()?))),
        _ => None,
    }
}

/// A `SOCKADDR_INET` of `ip`, port 0.
pub fn sockaddr_of(ip: IpAddr) -> (u16, SockaddrData) {
    let mut data = [0; 26];
    match ip {
        IpAddr::V4(a) => {
            if let Some(d) = data.get_mut(2..6) {
                d.copy_from_slice(&a.octets());
            }
            (AF_INET, data)
        }
        IpAddr::V6(a) => {
            if let Some(d) = data.get_mut(6..22) {
                d.copy_from_slice(&a.octets());
            }
            (AF_INET6, data)
        }
    }
}

/// A row of the unicast address table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRow {
    pub luid: u64,
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub dad_state: u32,
    pub skip_as_source: bool,
}

/// A row of the route table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteRow {
    pub luid: u64,
    pub dst: IpAddr,
    pub prefix_len: u8,
    pub next_hop: IpAddr,
    pub loopback: bool,
    pub metric: u32,
}

/// A row of the neighbour table; `mac` when the link address is 6 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighbourRow {
    pub luid: u64,
    pub addr: IpAddr,
    pub mac: Option<[u8; 6]>,
    pub state: u32,
}

/// The underlay read from the tables, and how many rows did not fit.
#[derive(Debug)]
pub struct Built {
    pub underlay: Underlay,
    pub skipped: usize,
}

fn link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.is_unicast_link_local(),
    }
}

fn limited_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(a) if a.is_broadcast())
}

/// The host address a row gives, if it counts.
pub fn host_address(r: &AddressRow, host: u64) -> Option<Prefix> {
    let usable = r.luid == host
        && r.dad_state == DAD_PREFERRED
        && !r.skip_as_source
        && !r.addr.is_loopback()
        && !r.addr.is_unspecified()
        && !r.addr.is_multicast()
        && !link_local(r.addr);
    usable.then(|| Prefix::new(r.addr, r.prefix_len))?
}

/// The route a row gives, if it counts.
pub fn route(r: &RouteRow, host: u64) -> Option<Route> {
    let usable = r.luid == host
        && !r.loopback
        && !r.dst.is_multicast()
        && !limited_broadcast(r.dst)
        && r.dst.is_ipv4() == r.next_hop.is_ipv4();
    if !usable {
        return None;
    }
    let dst = Prefix::new(r.dst, r.prefix_len)?;
    let gateway = (!r.next_hop.is_unspecified()).then_some(r.next_hop);
    Some(Route { dst, gateway })
}

/// The neighbour a row gives, if it counts.
pub fn neighbour(r: &NeighbourRow, host: u64) -> Option<(IpAddr, [u8; 6])> {
    let mac = r.mac?;
    let usable = r.luid == host
        && (NEIGHBOUR_PROBE..=NEIGHBOUR_PERMANENT).contains(&r.state)
        && mac[0] & 1 == 0
        && mac != [0; 6]
        && !r.addr.is_multicast()
        && !r.addr.is_unspecified()
        && !limited_broadcast(r.addr);
    usable.then_some((r.addr, mac))
}

/// The underlay of the host interface `host` from the three tables. Rows
/// beyond a table's bound are skipped and counted; `Full` only when out of
/// memory.
pub fn build(
    host: u64,
    addresses: impl Iterator<Item = AddressRow>,
    routes: impl Iterator<Item = RouteRow>,
    neighbours: impl Iterator<Item = NeighbourRow>,
) -> Result<Built, Full> {
    let mut u = Underlay::default();
    let mut skipped = 0;
    for p in addresses.filter_map(|r| host_address(&r, host)) {
        skipped += usize::from(u.add_host(p).is_err());
    }
    // The lowest metric per prefix, within the route table's bound.
    let mut best: Vec<(u32, Route)> = Vec::new();
    for (metric, r) in routes.filter_map(|r| route(&r, host).map(|x| (r.metric, x))) {
        if let Some(b) = best.iter_mut().find(|(_, b)| b.dst == r.dst) {
            if metric < b.0 {
                *b = (metric, r);
            }
        } else if best.len() < MAX_ROUTES {
            best.try_reserve(1).map_err(|_| Full)?;
            best.push((metric, r));
        } else {
            skipped += 1;
        }
    }
    for (_, r) in best {
        skipped += usize::from(u.add_route(r).is_err());
    }
    for (ip, mac) in neighbours.filter_map(|r| neighbour(&r, host)) {
        skipped += usize::from(u.set_neighbour(ip, mac).is_err());
    }
    Ok(Built {
        underlay: u,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::underlay::Unreachable;

    const HOST: u64 = 0x0006_0000_0100_0000;
    const OTHER: u64 = 0x0006_0000_0200_0000;
    const GW_MAC: [u8; 6] = [0, 0x15, 0x5d, 0, 0, 1];

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn addr(luid: u64, a: &str, len: u8, dad_state: u32) -> AddressRow {
        AddressRow {
            luid,
            addr: ip(a),
            prefix_len: len,
            dad_state,
            skip_as_source: false,
        }
    }

    fn rt(luid: u64, dst: &str, len: u8, next_hop: &str, metric: u32) -> RouteRow {
        RouteRow {
            luid,
            dst: ip(dst),
            prefix_len: len,
            next_hop: ip(next_hop),
            loopback: false,
            metric,
        }
    }

    fn nb(luid: u64, a: &str, mac: [u8; 6], state: u32) -> NeighbourRow {
        NeighbourRow {
            luid,
            addr: ip(a),
            mac: Some(mac),
            state,
        }
    }

    #[test]
    fn socket_addresses() {
        let (f, d) = sockaddr_of(ip("192.168.1.10"));
        assert_eq!((f, &d[..6]), (AF_INET, &[0, 0, 192, 168, 1, 10][..]));
        assert_eq!(sockaddr_ip(f, &d), Some(ip("192.168.1.10")));
        let (f, d) = sockaddr_of(ip("2001:db8::10"));
        assert_eq!(f, AF_INET6);
        assert_eq!(&d[6..8], &[0x20, 1]);
        assert_eq!(d[21], 0x10);
        assert_eq!(sockaddr_ip(f, &d), Some(ip("2001:db8::10")));
        assert_eq!(sockaddr_ip(0, &d), None);
    }

    #[test]
    fn only_usable_addresses_of_the_host_interface() {
        let keep = [
            addr(HOST, "192.168.1.10", 24, DAD_PREFERRED),
            addr(HOST, "2001:db8::10", 64, DAD_PREFERRED),
        ];
        for r in keep {
            assert_eq!(host_address(&r, HOST), Prefix::new(r.addr, r.prefix_len));
        }
        let skip_as_source = AddressRow {
            skip_as_source: true,
            ..keep[0]
        };
        let drop = [
            addr(OTHER, "10.0.0.1", 8, DAD_PREFERRED),
            addr(HOST, "192.168.1.11", 24, 3),
            addr(HOST, "192.168.1.12", 24, 1),
            addr(HOST, "127.0.0.1", 8, DAD_PREFERRED),
            addr(HOST, "::1", 128, DAD_PREFERRED),
            addr(HOST, "169.254.3.4", 16, DAD_PREFERRED),
            addr(HOST, "fe80::1", 64, DAD_PREFERRED),
            addr(HOST, "192.168.1.13", 33, DAD_PREFERRED),
            skip_as_source,
        ];
        for r in drop {
            assert_eq!(host_address(&r, HOST), None, "{r:?}");
        }
    }

    #[test]
    fn routes_and_neighbours_that_count() {
        let default = route(&rt(HOST, "0.0.0.0", 0, "192.168.1.1", 0), HOST).unwrap();
        assert_eq!(default.gateway, Some(ip("192.168.1.1")));
        let on_link = route(&rt(HOST, "192.168.1.0", 24, "0.0.0.0", 256), HOST).unwrap();
        assert_eq!(on_link.gateway, None);
        let v6 = route(&rt(HOST, "2001:db8::", 64, "::", 256), HOST).unwrap();
        assert_eq!(v6.gateway, None);
        let loopback = RouteRow {
            loopback: true,
            ..rt(HOST, "192.168.1.10", 32, "0.0.0.0", 256)
        };
        for r in [
            rt(OTHER, "0.0.0.0", 0, "10.0.0.1", 0),
            rt(HOST, "224.0.0.0", 4, "0.0.0.0", 256),
            rt(HOST, "ff00::", 8, "::", 256),
            rt(HOST, "255.255.255.255", 32, "0.0.0.0", 256),
            rt(HOST, "10.0.0.0", 8, "fe80::1", 0),
            loopback,
        ] {
            assert_eq!(route(&r, HOST), None, "{r:?}");
        }
        assert!(neighbour(&nb(HOST, "192.168.1.1", GW_MAC, 5), HOST).is_some());
        assert!(neighbour(&nb(HOST, "192.168.1.1", GW_MAC, 4), HOST).is_some());
        assert!(neighbour(&nb(HOST, "2001:db8::1", GW_MAC, 6), HOST).is_some());
        for r in [
            nb(OTHER, "192.168.1.1", GW_MAC, 5),
            nb(HOST, "192.168.1.2", GW_MAC, 1),
            nb(HOST, "192.168.1.2", GW_MAC, 0),
            nb(HOST, "192.168.1.3", [0; 6], 5),
            nb(HOST, "224.0.0.22", [1, 0, 0x5e, 0, 0, 0x16], 6),
            nb(HOST, "192.168.1.255", [0xff; 6], 6),
            NeighbourRow {
                mac: None,
                ..nb(HOST, "192.168.1.4", GW_MAC, 5)
            },
        ] {
            assert_eq!(neighbour(&r, HOST), None, "{r:?}");
        }
    }

    #[test]
    fn build_gives_a_working_underlay() {
        let addresses = [
            addr(HOST, "192.168.1.10", 24, DAD_PREFERRED),
            addr(OTHER, "10.9.9.9", 8, DAD_PREFERRED),
        ];
        let routes = [
            rt(HOST, "0.0.0.0", 0, "192.168.1.254", 50),
            rt(HOST, "0.0.0.0", 0, "192.168.1.1", 10),
            rt(HOST, "0.0.0.0", 0, "192.168.1.253", 90),
            rt(HOST, "192.168.1.0", 24, "0.0.0.0", 256),
            rt(OTHER, "10.0.0.0", 8, "0.0.0.0", 1),
        ];
        let neighbours = [
            nb(HOST, "192.168.1.1", GW_MAC, 5),
            nb(HOST, "192.168.1.20", [2, 0, 0, 0, 0, 0x20], 4),
        ];
        let b = build(
            HOST,
            addresses.into_iter(),
            routes.into_iter(),
            neighbours.into_iter(),
        )
        .unwrap();
        assert_eq!(b.skipped, 0);
        let u = b.underlay;
        assert!(u.is_host(ip("192.168.1.10")) && !u.is_host(ip("10.9.9.9")));
        let far = u.path(ip("8.8.8.8"), None).unwrap();
        assert_eq!((far.src, far.next_hop_mac), (ip("192.168.1.10"), GW_MAC));
        let near = u.path(ip("192.168.1.20"), None).unwrap();
        assert_eq!(near.next_hop_mac, [2, 0, 0, 0, 0, 0x20]);
        assert_eq!(
            u.path(ip("192.168.1.30"), None),
            Err(Unreachable::NoNeighbour(ip("192.168.1.30")))
        );
        assert_eq!(
            u.path(ip("10.1.1.1"), None).map(|p| p.src),
            Ok(ip("192.168.1.10"))
        );
    }

    #[test]
    fn rows_beyond_the_bounds_are_counted() {
        let routes = (0..MAX_ROUTES as u32 + 5).map(|i| RouteRow {
            luid: HOST,
            dst: IpAddr::V4(core::net::Ipv4Addr::from_bits(0x0a00_0000 + (i << 8))),
            prefix_len: 24,
            next_hop: ip("0.0.0.0"),
            loopback: false,
            metric: 1,
        });
        let b = build(HOST, core::iter::empty(), routes, core::iter::empty()).unwrap();
        assert_eq!(b.skipped, 5);
    }
}
