//! OVS vports: datapath port numbers bound to switch endpoints (netdev and
//! internal) or standing for a tunnel (VXLAN, Geneve, GRE).

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::netlink::Errno;
use crate::ovs::vport as ov;
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

/// `struct ovs_vport_stats` plus the upcall counters, updated on the data path.
#[derive(Debug, Default)]
pub struct VportStats {
    pub rx_packets: AtomicU64,
    pub tx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_bytes: AtomicU64,
    pub rx_errors: AtomicU64,
    pub tx_errors: AtomicU64,
    pub rx_dropped: AtomicU64,
    pub tx_dropped: AtomicU64,
    pub upcall_success: AtomicU64,
    pub upcall_fail: AtomicU64,
}

impl VportStats {
    /// The 64-byte `ovs_vport_stats` in its field order.
    pub fn to_bytes(&self) -> [u8; 64] {
        let fields = [
            &self.rx_packets,
            &self.tx_packets,
            &self.rx_bytes,
            &self.tx_bytes,
            &self.rx_errors,
            &self.tx_errors,
            &self.rx_dropped,
            &self.tx_dropped,
        ];
        let mut out = [0u8; 64];
        for (chunk, f) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&f.load(Relaxed).to_ne_bytes());
        }
        out
    }

    pub fn rx(&self, bytes: usize) {
        self.rx_packets.fetch_add(1, Relaxed);
        self.rx_bytes.fetch_add(bytes as u64, Relaxed);
    }

    pub fn tx(&self, bytes: usize) {
        self.tx_packets.fetch_add(1, Relaxed);
        self.tx_bytes.fetch_add(bytes as u64, Relaxed);
    }
}

#[derive(Debug)]
pub struct Vport {
    pub port_no: u32,
    pub name: String,
    pub ty: VportType,
    /// Netlink PIDs upcalls from this port go to (chosen by packet hash).
    pub upcall_pids: Vec<u32>,
    /// The switch endpoint a netdev/internal vport is bound to, while it exists.
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

    pub fn by_binding(&self, port: PortId, nic: NicIndex) -> Option<&Vport> {
        self.iter().find(|v| v.binding == Some((port, nic)))
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
        let slot = self.slots.get_mut(idx).ok_or(Errno::NoMem)?;
        *slot = Some(vport);
        self.count += 1;
        Ok(())
    }

    pub fn remove(&mut self, port_no: u32) -> Option<Vport> {
        let v = self.slots.get_mut(port_no as usize)?.take()?;
        self.count -= 1;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Some(v)
    }

    /// A tunnel vport already listening on this UDP port (or the GRE vport).
    pub fn tunnel_conflict(&self, ty: &VportType) -> Option<&Vport> {
        self.iter().find(|v| match (ty, &v.ty) {
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
            stats: VportStats::default(),
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
    }
}
