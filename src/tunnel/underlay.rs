//! The underlay a tunnel's outer headers are addressed in: the host's own
//! addresses (tunnel endpoints), its routing table (longest prefix first)
//! and its neighbour table. The platform feeds it (the simulator's `hostip`,
//! `route` and `neigh` lines; on Windows the IP Helper notifications, read
//! at PASSIVE_LEVEL); the data path only reads it. Every table is bounded,
//! so a look-up costs at most a fixed number of compares.

use alloc::vec::Vec;
use core::net::IpAddr;

use super::resolve::Unresolved;
use crate::switch::{NicIndex, NicState, PortId, PortKind, Switch};

/// Most entries of each table.
pub const MAX_HOST_ADDRS: usize = 16;
pub const MAX_ROUTES: usize = 256;
pub const MAX_NEIGHBOURS: usize = 1024;

/// An address with a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// `None` if `len` is longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        (len <= bits).then_some(Prefix { addr, len })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                (p.to_bits() ^ a.to_bits()) & mask == 0
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                (p.to_bits() ^ a.to_bits()) & mask == 0
            }
            _ => false,
        }
    }
}

/// A route: destinations in `dst` go to `gateway`, or directly when `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: Prefix,
    pub gateway: Option<IpAddr>,
}

/// How to reach a tunnel destination: the outer source address and the
/// next hop's MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    pub src: IpAddr,
    pub next_hop_mac: [u8; 6],
}

/// Why a destination cannot be reached (now).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// No route, or no host address of the destination's family.
    NoRoute,
    /// The next hop's MAC is not known yet.
    NoNeighbour(IpAddr),
}

/// A table is full, or out of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Where encapsulated frames leave the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uplink {
    /// The external port's endpoint.
    pub endpoint: (PortId, NicIndex),
    /// The host's MAC (the internal port's; the uplink's when there is none).
    pub src_mac: [u8; 6],
}

#[derive(Debug, Default)]
pub struct Underlay {
    uplink: Option<Uplink>,
    /// Changes with every change of the tables, so a path found may be
    /// reused while it stays the same.
    generation: u32,
    hosts: Vec<Prefix>,
    /// Longest prefix first.
    routes: Vec<Route>,
    /// Sorted by address.
    neighbours: Vec<(IpAddr, [u8; 6])>,
    /// Next hops the data path wants resolved.
    pub unresolved: Unresolved,
}

/// Inserts into a bounded vector at `at`.
fn insert<T>(v: &mut Vec<T>, at: usize, item: T, max: usize) -> Result<(), Full> {
    if v.len() >= max {
        return Err(Full);
    }
    v.try_reserve(1).map_err(|_| Full)?;
    v.insert(at.min(v.len()), item);
    Ok(())
}

impl Underlay {
    /// Follows the switch: its first connected external endpoint and the
    /// internal port's MAC (called on every switch change, not per packet).
    pub fn follow(&mut self, switch: &Switch) {
        let connected = |kind| {
            switch
                .iter()
                .find(move |e| e.kind == kind && e.state == NicState::Connected)
        };
        self.uplink = connected(PortKind::External).map(|ext| Uplink {
            endpoint: (ext.port, ext.nic),
            src_mac: connected(PortKind::Internal).map_or(ext.mac, |i| i.mac),
        });
    }

    pub fn uplink(&self) -> Option<Uplink> {
        self.uplink
    }

    /// Adds a host address (a repeated one is kept once).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn add_host(&mut self, p: Prefix) -> Result<(), Full> {
        self.generation = self.generation.wrapping_add(1);
        if self.hosts.contains(&p) {
            return Ok(());
        }
        insert(&mut self.hosts, usize::MAX, p, MAX_HOST_ADDRS)
    }

    /// Adds a route, replacing one for the same prefix.
    pub fn add_route(&mut self, r: Route) -> Result<(), Full> {
        self.generation = self.generation.wrapping_add(1);
        if let Some(old) = self.routes.iter_mut().find(|o| o.dst == r.dst) {
            *old = r;
            return Ok(());
        }
        let at = self.routes.partition_point(|o| o.dst.len >= r.dst.len);
        insert(&mut self.routes, at, r, MAX_ROUTES)
    }

    /// Sets the MAC of a neighbour.
    pub fn set_neighbour(&mut self, ip: IpAddr, mac: [u8; 6]) -> Result<(), Full> {
        self.generation = self.generation.wrapping_add(1);
        match self.neighbours.binary_search_by(|(a, _)| a.cmp(&ip)) {
            Ok(i) => {
                if let Some(n) = self.neighbours.get_mut(i) {
                    n.1 = mac;
                }
                Ok(())
            }
            Err(i) => insert(&mut self.neighbours, i, (ip, mac), MAX_NEIGHBOURS),
        }
    }

    /// Takes the addresses, routes and neighbours of `fresh` (a table read
    /// from the host as a whole), leaving it the old ones: the swap costs
    /// the same whatever the sizes, and the old tables are freed by the
    /// caller, after the lock.
    pub fn adopt(&mut self, fresh: &mut Underlay) {
        self.generation = self.generation.wrapping_add(1);
        core::mem::swap(&mut self.hosts, &mut fresh.hosts);
        core::mem::swap(&mut self.routes, &mut fresh.routes);
        core::mem::swap(&mut self.neighbours, &mut fresh.neighbours);
    }

    /// The host has an address (frames may be addressed to its tunnels).
    pub fn has_hosts(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// `ip` is one of the host's addresses (a tunnel endpoint).
    pub fn is_host(&self, ip: IpAddr) -> bool {
        self.hosts.iter().any(|h| h.addr == ip)
    }

    /// The route `dst` takes (longest matching prefix).
    pub fn route(&self, dst: IpAddr) -> Option<&Route> {
        self.routes.iter().find(|r| r.dst.contains(dst))
    }

    /// The source address for `dst` (see `path`) and its next hop; `None`
    /// without a route or a host address of `dst`'s family.
    pub fn source(&self, dst: IpAddr, src: Option<IpAddr>) -> Option<(IpAddr, IpAddr)> {
        let route = self.route(dst)?;
        let next_hop = route.gateway.unwrap_or(dst);
        let same_family = |h: &&Prefix| h.addr.is_ipv4() == dst.is_ipv4();
        let src = match src {
            Some(s) => s,
            None => {
                self.hosts
                    .iter()
                    .filter(same_family)
                    .find(|h| h.contains(next_hop))
                    .or_else(|| self.hosts.iter().find(same_family))?
                    .addr
            }
        };
        Some((src, next_hop))
    }

    /// The source address and next-hop MAC for `dst`. The source is `src`
    /// when given, else the host address on the next hop's subnet, else the
    /// first host address of `dst`'s family.
    pub fn path(&self, dst: IpAddr, src: Option<IpAddr>) -> Result<Path, Unreachable> {
        let (src, next_hop) = self.source(dst, src).ok_or(Unreachable::NoRoute)?;
        let next_hop_mac = self
            .neighbours
            .binary_search_by(|(a, _)| a.cmp(&next_hop))
            .ok()
            .and_then(|i| self.neighbours.get(i))
            .map(|n| n.1)
            .ok_or(Unreachable::NoNeighbour(next_hop))?;
        Ok(Path { src, next_hop_mac })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn prefix(s: &str, len: u8) -> Prefix {
        Prefix::new(ip(s), len).unwrap()
    }

    #[test]
    fn prefixes() {
        assert!(Prefix::new(ip("10.0.0.0"), 33).is_none());
        assert!(prefix("10.0.0.0", 8).contains(ip("10.9.9.9")));
        assert!(!prefix("10.0.0.0", 8).contains(ip("11.0.0.0")));
        assert!(prefix("0.0.0.0", 0).contains(ip("1.2.3.4")));
        assert!(!prefix("0.0.0.0", 0).contains(ip("::1")));
        assert!(prefix("2001:db8::", 32).contains(ip("2001:db8:1::1")));
        assert!(prefix("2001:db8::1", 128).contains(ip("2001:db8::1")));
        assert!(prefix("::", 0).contains(ip("fe80::1")));
    }

    #[test]
    fn longest_prefix_source_and_neighbour() {
        let mut u = Underlay::default();
        u.add_host(prefix("192.168.1.10", 24)).unwrap();
        u.add_host(prefix("10.0.0.5", 8)).unwrap();
        u.add_route(Route {
            dst: prefix("0.0.0.0", 0),
            gateway: Some(ip("192.168.1.1")),
        })
        .unwrap();
        u.add_route(Route {
            dst: prefix("10.0.0.0", 8),
            gateway: None,
        })
        .unwrap();
        let gw = [2, 0, 0, 0, 0, 1];
        let peer = [2, 0, 0, 0, 0, 2];
        assert_eq!(
            u.path(ip("8.8.8.8"), None),
            Err(Unreachable::NoNeighbour(ip("192.168.1.1")))
        );
        u.set_neighbour(ip("192.168.1.1"), gw).unwrap();
        u.set_neighbour(ip("10.1.1.1"), [9; 6]).unwrap();
        u.set_neighbour(ip("10.1.1.1"), peer).unwrap();
        let p = u.path(ip("8.8.8.8"), None).unwrap();
        assert_eq!((p.src, p.next_hop_mac), (ip("192.168.1.10"), gw));
        let p = u.path(ip("10.1.1.1"), None).unwrap();
        assert_eq!((p.src, p.next_hop_mac), (ip("10.0.0.5"), peer));
        let p = u.path(ip("10.1.1.1"), Some(ip("10.0.0.7"))).unwrap();
        assert_eq!(p.src, ip("10.0.0.7"));
        assert_eq!(u.path(ip("2001:db8::1"), None), Err(Unreachable::NoRoute));
        assert!(u.is_host(ip("10.0.0.5")) && !u.is_host(ip("10.0.0.6")));
    }

    #[test]
    fn bounded() {
        let mut u = Underlay::default();
        for i in 0..MAX_HOST_ADDRS {
            u.add_host(prefix(&std::format!("10.0.0.{i}"), 32)).unwrap();
        }
        assert_eq!(u.add_host(prefix("10.0.1.1", 32)), Err(Full));
        assert_eq!(u.add_host(prefix("10.0.0.1", 32)), Ok(()));
    }

    #[test]
    fn adopt_swaps_the_tables_and_keeps_the_uplink() {
        let mut u = Underlay::default();
        u.add_host(prefix("10.0.0.1", 24)).unwrap();
        u.unresolved.record(ip("10.0.0.9"));
        let mut fresh = Underlay::default();
        fresh.add_host(prefix("10.0.0.2", 24)).unwrap();
        fresh
            .add_route(Route {
                dst: prefix("10.0.0.0", 24),
                gateway: None,
            })
            .unwrap();
        fresh.set_neighbour(ip("10.0.0.3"), [2; 6]).unwrap();
        let before = u.generation();
        u.adopt(&mut fresh);
        assert_ne!(u.generation(), before);
        assert!(u.is_host(ip("10.0.0.2")) && !u.is_host(ip("10.0.0.1")));
        assert_eq!(u.path(ip("10.0.0.3"), None).unwrap().next_hop_mac, [2; 6]);
        assert!(fresh.is_host(ip("10.0.0.1")), "the old tables, to free");
        assert!(u.unresolved.pending(), "requests stay");
    }
}
