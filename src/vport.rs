//! OVS vports: datapath port numbers bound to switch endpoints (netdev and
//! internal) or standing for a tunnel (VXLAN, Geneve, GRE).

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::netlink::Errno;
use crate::ovs::vport as ov;
use crate::percpu::{Cpu, PerCpu, add};
use crate::switch::{NicIndex, PortId};

/// Highest port number (exclusive): `OVS_DPPORT_NUMBER_INVALID`.
pub const PORT_LIMIT: u32 = ov::PORT_INVALID;
/// Most upcall PIDs one vport may carry.
pub const MAX_UPCALL_PIDS: usize = 1024;

pub const VXLAN_DEFAULT_PORT: u16 = 4789;
pub const GENEVE_DEFAULT_PORT: u16 = 6081;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VportType {
    Netdev,
    Internal,
    Gre,
    Vxlan { dst_port: u16, gbp: bool },
    Geneve { dst_port: u16 },
}

impl VportType {
    pub fn ovs_type(&self) -> u32 {
        match self {
            VportType::Netdev => ov::TYPE_NETDEV,
            VportType::Internal => ov::TYPE_INTERNAL,
            VportType::Gre => ov::TYPE_GRE,
            VportType::Vxlan { .. } => ov::TYPE_VXLAN,
            VportType::Geneve { .. } => ov::TYPE_GENEVE,
        }
    }

    pub fn is_tunnel(&self) -> bool {
        !matches!(self, VportType::Netdev | VportType::Internal)
    }

    /// The UDP port a tunnel listens on (None for GRE and non-tunnels).
    pub fn udp_port(&self) -> Option<u16> {
        match self {
            VportType::Vxlan { dst_port, .. } | VportType::Geneve { dst_port } => Some(*dst_port),
            _ => None,
        }
    }
}

/// Per-packet counters of a vport, one set per processor.
#[derive(Debug, Default)]
pub struct Traffic {
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
}

/// `struct ovs_vport_stats` plus the upcall counters: the per-packet ones
/// per processor, the rare ones (errors, drops, upcalls) shared.
#[derive(Debug)]
pub struct VportStats {
    pub traffic: PerCpu<Traffic>,
    pub rx_errors: AtomicU64,
    pub tx_errors: AtomicU64,
    pub rx_dropped: AtomicU64,
    pub tx_dropped: AtomicU64,
    pub upcall_success: AtomicU64,
    pub upcall_fail: AtomicU64,
}

impl VportStats {
    /// Counters for `cpus` processors; `None` when out of memory.
    pub fn new(cpus: usize) -> Option<VportStats> {
        Some(VportStats {
            traffic: PerCpu::new(cpus)?,
            rx_errors: AtomicU64::new(0),
            tx_errors: AtomicU64::new(0),
            rx_dropped: AtomicU64::new(0),
            tx_dropped: AtomicU64::new(0),
            upcall_success: AtomicU64::new(0),
            upcall_fail: AtomicU64::new(0),
        })
    }

    /// The 64-byte `ovs_vport_stats` in its field order.
    pub fn to_bytes(&self) -> [u8; 64] {
        let t = &self.traffic;
        let fields = [
            t.sum(|c| c.rx_packets.load(Relaxed)),
            t.sum(|c| c.tx_packets.load(Relaxed)),
            t.sum(|c| c.rx_bytes.load(Relaxed)),
            t.sum(|c| c.tx_bytes.load(Relaxed)),
            self.rx_errors.load(Relaxed),
            self.tx_errors.load(Relaxed),
            self.rx_dropped.load(Relaxed),
            self.tx_dropped.load(Relaxed),
        ];
        let mut out = [0u8; 64];
        for (chunk, f) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&f.to_ne_bytes());
        }
        out
    }

    #[inline]
    pub fn rx(&self, cpu: Cpu, bytes: usize) {
        let (c, excl) = self.traffic.slot(cpu);
        add(&c.rx_packets, 1, excl);
        add(&c.rx_bytes, bytes as u64, excl);
    }

    #[inline]
    pub fn tx(&self, cpu: Cpu, bytes: usize) {
        let (c, excl) = self.traffic.slot(cpu);
        add(&c.tx_packets, 1, excl);
        add(&c.tx_bytes, bytes as u64, excl);
    }
}

#[derive(Debug)]
pub struct Vport {
    pub port_no: u32,
    pub name: String,
    pub ty: VportType,
    /// Netlink PIDs upcalls from this port go to (chosen by packet hash).
    pub upcall_pids: Vec<u32>,
    /// The switch endpoint a netdev/internal vport is bound to, while that
    /// NIC is connected (what OUTPUT sends to).
    pub binding: Option<(PortId, NicIndex)>,
    pub stats: VportStats,
}

impl Vport {
    /// The PID for a packet with this hash (0: upcalls from this port are dropped).
    pub fn upcall_pid(&self, hash: u32) -> u32 {
        match self.upcall_pids.len() {
            0 => 0,
            n => self
                .upcall_pids
                .get(hash as usize % n)
                .copied()
                .unwrap_or(0),
        }
    }
}

/// Vports indexed by port number (dense, so the data path finds an output
/// port with one bounds-checked index).
#[derive(Debug, Default)]
pub struct Vports {
    slots: Vec<Option<Vport>>,
    count: usize,
    /// The numbers of the tunnel vports (at most one per type and UDP
    /// port, so few), for decapsulation to find its vport without a walk
    /// over every vport.
    tunnels: Vec<u32>,
}

impl Vports {
    pub fn get(&self, port_no: u32) -> Option<&Vport> {
        self.slots.get(port_no as usize).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, port_no: u32) -> Option<&mut Vport> {
        self.slots
            .get_mut(port_no as usize)
            .and_then(Option::as_mut)
    }

    pub fn by_name(&self, name: &str) -> Option<&Vport> {
        self.iter().find(|v| v.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Vport> {
        self.slots.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Vport> {
        self.slots.iter_mut().flatten()
    }

    /// The first vport with a number ≥ `from` (for dumps that resume).
    pub fn next_from(&self, from: u32) -> Option<&Vport> {
        self.slots.get(from as usize..)?.iter().flatten().next()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The lowest free number from 1 (`OVSP_LOCAL` 0 is never assigned).
    pub fn free_number(&self) -> Option<u32> {
        (1..PORT_LIMIT).find(|&n| self.get(n).is_none())
    }

    /// Adds a vport at its `port_no` (which must be free and below the limit).
    pub fn insert(&mut self, vport: Vport) -> Result<(), Errno> {
        let idx = vport.port_no as usize;
        if vport.port_no >= PORT_LIMIT {
            return Err(Errno::FBig);
        }
        if self.get(vport.port_no).is_some() {
            return Err(Errno::Busy);
        }
        if idx >= self.slots.len() {
            let grow = idx + 1 - self.slots.len();
            self.slots.try_reserve(grow).map_err(|_| Errno::NoMem)?;
            self.slots.resize_with(idx + 1, || None);
        }
        if vport.ty.is_tunnel() {
            self.tunnels.try_reserve(1).map_err(|_| Errno::NoMem)?;
        }
        let tunnel = vport.ty.is_tunnel().then_some(vport.port_no);
        let slot = self.slots.get_mut(idx).ok_or(Errno::NoMem)?;
        *slot = Some(vport);
        self.count += 1;
        self.tunnels.extend(tunnel);
        Ok(())
    }

    pub fn remove(&mut self, port_no: u32) -> Option<Vport> {
        let v = self.slots.get_mut(port_no as usize)?.take()?;
        self.count -= 1;
        self.tunnels.retain(|&n| n != port_no);
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Some(v)
    }

    /// The tunnel vports.
    pub fn tunnels(&self) -> impl Iterator<Item = &Vport> {
        self.tunnels.iter().filter_map(|&n| self.get(n))
    }

    /// The VXLAN or Geneve vport listening on UDP port `port`.
    pub fn by_udp_port(&self, port: u16) -> Option<&Vport> {
        self.tunnels().find(|v| v.ty.udp_port() == Some(port))
    }

    /// The GRE vport.
    pub fn gre(&self) -> Option<&Vport> {
        self.tunnels().find(|v| v.ty == VportType::Gre)
    }

    /// A tunnel vport already listening on this UDP port (or the GRE vport).
    pub fn tunnel_conflict(&self, ty: &VportType) -> Option<&Vport> {
        self.tunnels().find(|v| match (ty, &v.ty) {
            (VportType::Gre, VportType::Gre) => true,
            (a, b) => a.udp_port().is_some() && a.udp_port() == b.udp_port(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vport(port_no: u32, name: &str) -> Vport {
        Vport {
            port_no,
            name: name.into(),
            ty: VportType::Netdev,
            upcall_pids: std::vec![7, 8],
            binding: None,
            stats: VportStats::new(1).unwrap(),
        }
    }

    #[test]
    fn numbering_and_lookup() {
        let mut t = Vports::default();
        assert_eq!(t.free_number(), Some(1));
        t.insert(vport(1, "a")).unwrap();
        t.insert(vport(3, "c")).unwrap();
        assert_eq!(t.free_number(), Some(2));
        assert_eq!(t.insert(vport(3, "d")), Err(Errno::Busy));
        assert_eq!(t.insert(vport(PORT_LIMIT, "e")), Err(Errno::FBig));
        assert_eq!(t.by_name("c").unwrap().port_no, 3);
        assert_eq!(t.next_from(2).unwrap().port_no, 3);
        assert!(t.next_from(4).is_none());
        assert_eq!(t.remove(3).unwrap().name, "c");
        assert_eq!(t.len(), 1);
        assert!(t.next_from(2).is_none());
    }

    #[test]
    fn upcall_pid_by_hash() {
        let v = vport(1, "a");
        assert_eq!(v.upcall_pid(0), 7);
        assert_eq!(v.upcall_pid(3), 8);
        let none = Vport {
            upcall_pids: std::vec![],
            ..vport(1, "a")
        };
        assert_eq!(none.upcall_pid(5), 0);
    }

    #[test]
    fn tunnel_conflicts() {
        let mut t = Vports::default();
        let vx = Vport {
            ty: VportType::Vxlan {
                dst_port: 4789,
                gbp: false,
            },
            ..vport(1, "vx")
        };
        t.insert(vx).unwrap();
        assert!(
            t.tunnel_conflict(&VportType::Geneve { dst_port: 4789 })
                .is_some()
        );
        assert!(
            t.tunnel_conflict(&VportType::Geneve { dst_port: 6081 })
                .is_none()
        );
        assert!(t.tunnel_conflict(&VportType::Gre).is_none());
        assert_eq!(t.by_udp_port(4789).map(|v| v.port_no), Some(1));
        assert!(t.by_udp_port(6081).is_none() && t.gre().is_none());
        let gre = Vport {
            ty: VportType::Gre,
            ..vport(2, "gre")
        };
        t.insert(gre).unwrap();
        t.insert(vport(3, "eth")).unwrap();
        assert_eq!(t.gre().map(|v| v.port_no), Some(2));
        assert_eq!(t.tunnels().count(), 2);
        t.remove(1);
        assert!(t.by_udp_port(4789).is_none());
    }
}
