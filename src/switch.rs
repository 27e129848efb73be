//! The Hyper-V switch as the extension sees it: ports, and the NICs connected
//! to them. The platform feeds it (switch OIDs on Windows, script lines in the
//! simulator); vports bind to its endpoints by friendly name.

use alloc::string::String;
use alloc::vec::Vec;

/// `NDIS_SWITCH_PORT_ID`.
pub type PortId = u32;
/// `NDIS_SWITCH_NIC_INDEX`.
pub type NicIndex = u16;

/// What kind of port a NIC sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// The uplink to a physical NIC (one endpoint per physical NIC index > 0).
    External,
    /// The host's virtual NIC.
    Internal,
    /// A VM's synthetic or emulated NIC.
    Vm,
}

/// NIC states the datapath distinguishes; only connected NICs forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicState {
    Created,
    Connected,
}

/// Largest friendly name kept (bytes of UTF-8; Windows' `IF_MAX_STRING_SIZE`
/// is 256 UTF-16 units, the OVS name limit is 255 bytes plus NUL).
pub const NAME_MAX: usize = 255;

/// A (port, NIC) pair: the thing a netdev or internal vport stands for.
/// Not `Clone`: a copy allocates its name, so the only copy is the fallible
/// `try_clone`.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub port: PortId,
    pub nic: NicIndex,
    pub kind: PortKind,
    /// The name vports bind to (VM port friendly name, host NIC name, or the
    /// interface alias of a physical NIC).
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub state: NicState,
    /// The vport bound to this endpoint (`OVS_DPPORT_NUMBER_INVALID` if none):
    /// what the receive path resolves a source port to.
    pub vport: u32,
}

/// `Endpoint::vport` of an endpoint no vport is bound to.
pub const UNBOUND: u32 = crate::ovs::vport::PORT_INVALID;

/// Why the switch model refused an OID (the platform vetoes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Veto {
    /// The port/NIC is already known, or its name is taken.
    Duplicate,
    /// The port/NIC is not known.
    Unknown,
    /// Out of memory.
    NoMemory,
    /// The name is empty or longer than `NAME_MAX`.
    BadName,
}

/// What changed for the vport layer after an OID.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// The endpoint can forward now (NIC connected).
    Up(Endpoint),
    /// The endpoint stopped forwarding (NIC disconnected or deleted).
    Down(Endpoint),
}

/// All known endpoints, sorted by (port, nic) for binary search on receive.
#[derive(Debug, Default)]
pub struct Switch {
    endpoints: Vec<Endpoint>,
}

fn check_name(name: &str) -> Result<(), Veto> {
    if name.is_empty() || name.len() > NAME_MAX || name.contains('\0') {
        return Err(Veto::BadName);
    }
    Ok(())
}

fn copy_name(name: &str) -> Result<String, Veto> {
    check_name(name)?;
    let mut s = String::new();
    s.try_reserve_exact(name.len())
        .map_err(|_| Veto::NoMemory)?;
    s.push_str(name);
    Ok(s)
}

impl Endpoint {
    /// A copy, or `NoMemory` (out of memory must not abort in the kernel).
    pub fn try_clone(&self) -> Result<Endpoint, Veto> {
        Ok(Endpoint {
            name: copy_name(&self.name)?,
            ..*self
        })
    }
}

impl Switch {
    fn position(&self, port: PortId, nic: NicIndex) -> Result<usize, usize> {
        self.endpoints
            .binary_search_by_key(&(port, nic), |e| (e.port, e.nic))
    }

    pub fn endpoint(&self, port: PortId, nic: NicIndex) -> Option<&Endpoint> {
        self.position(port, nic)
            .ok()
            .and_then(|i| self.endpoints.get(i))
    }

    /// The endpoints on one port (its NICs), found by binary search.
    pub fn on_port(&self, port: PortId) -> impl Iterator<Item = &Endpoint> {
        let from = self.endpoints.partition_point(|e| e.port < port);
        self.endpoints
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(move |e| e.port == port)
    }

    pub fn by_name(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter()
    }

    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// A NIC appears on a port (`OID_SWITCH_NIC_CREATE`).
    pub fn nic_create(
        &mut self,
        port: PortId,
        nic: NicIndex,
        kind: PortKind,
        name: &str,
        mac: [u8; 6],
        mtu: u32,
    ) -> Result<(), Veto> {
        let name = copy_name(name)?;
        if self.by_name(&name).is_some() {
            return Err(Veto::Duplicate);
        }
        let Err(at) = self.position(port, nic) else {
            return Err(Veto::Duplicate);
        };
        self.endpoints.try_reserve(1).map_err(|_| Veto::NoMemory)?;
        let ep = Endpoint {
            port,
            nic,
            kind,
            name,
            mac,
            mtu,
            state: NicState::Created,
            vport: UNBOUND,
        };
        self.endpoints.insert(at, ep);
        Ok(())
    }

    /// `OID_SWITCH_NIC_CONNECT`.
    pub fn nic_connect(&mut self, port: PortId, nic: NicIndex) -> Result<Option<Change>, Veto> {
        let i = self.position(port, nic).map_err(|_| Veto::Unknown)?;
        let ep = self.endpoints.get_mut(i).ok_or(Veto::Unknown)?;
        if ep.state == NicState::Connected {
            return Ok(None);
        }
        let mut up = ep.try_clone()?;
        (ep.state, up.state) = (NicState::Connected, NicState::Connected);
        Ok(Some(Change::Up(up)))
    }

    /// `OID_SWITCH_NIC_DISCONNECT`.
    pub fn nic_disconnect(&mut self, port: PortId, nic: NicIndex) -> Result<Option<Change>, Veto> {
        let i = self.position(port, nic).map_err(|_| Veto::Unknown)?;
        let ep = self.endpoints.get_mut(i).ok_or(Veto::Unknown)?;
        if ep.state != NicState::Connected {
            return Ok(None);
        }
        let mut down = ep.try_clone()?;
        (ep.state, down.state) = (NicState::Created, NicState::Created);
        Ok(Some(Change::Down(down)))
    }

    /// `OID_SWITCH_NIC_DELETE` (or a port delete taking its NICs with it).
    pub fn nic_delete(&mut self, port: PortId, nic: NicIndex) -> Result<Option<Change>, Veto> {
        let i = self.position(port, nic).map_err(|_| Veto::Unknown)?;
        let ep = self.endpoints.remove(i);
        Ok((ep.state == NicState::Connected).then_some(Change::Down(ep)))
    }

    /// `OID_SWITCH_NIC_UPDATED`: new MAC/MTU, possibly a new friendly name.
    /// A rename of a connected NIC is a `Down` under the old name followed by
    /// an `Up` under the new one.
    pub fn nic_update(
        &mut self,
        port: PortId,
        nic: NicIndex,
        name: &str,
        mac: [u8; 6],
        mtu: u32,
    ) -> Result<Vec<Change>, Veto> {
        let i = self.position(port, nic).map_err(|_| Veto::Unknown)?;
        let renamed = self.endpoints.get(i).is_some_and(|e| e.name != name);
        let new_name = if renamed {
            if self.by_name(name).is_some() {
                return Err(Veto::Duplicate);
            }
            Some(copy_name(name)?)
        } else {
            None
        };
        let mut changes = Vec::new();
        changes.try_reserve(2).map_err(|_| Veto::NoMemory)?;
        let ep = self.endpoints.get_mut(i).ok_or(Veto::Unknown)?;
        // Every allocation is made before anything changes.
        let up_name = match &new_name {
            Some(n) if ep.state == NicState::Connected => Some(copy_name(n)?),
            _ => None,
        };
        ep.mac = mac;
        ep.mtu = mtu;
        if let Some(new_name) = new_name {
            let old_name = core::mem::replace(&mut ep.name, new_name);
            if let Some(up_name) = up_name {
                changes.push(Change::Down(Endpoint {
                    name: old_name,
                    ..*ep
                }));
                changes.push(Change::Up(Endpoint {
                    name: up_name,
                    ..*ep
                }));
            }
        }
        Ok(changes)
    }

    /// Records which vport (or `UNBOUND`) stands for an endpoint.
    pub fn bind(&mut self, port: PortId, nic: NicIndex, vport: u32) {
        if let Some(ep) = self
            .position(port, nic)
            .ok()
            .and_then(|i| self.endpoints.get_mut(i))
        {
            ep.vport = vport;
        }
    }

    /// Every NIC of a port (for a port delete).
    pub fn nics_of(&self, port: PortId) -> impl Iterator<Item = NicIndex> + '_ {
        self.endpoints
            .iter()
            .filter(move |e| e.port == port)
            .map(|e| e.nic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0, 0x15, 0x5d, 0, 0, 1];

    #[test]
    fn lifecycle() {
        let mut s = Switch::default();
        s.nic_create(5, 0, PortKind::Vm, "vm1", MAC, 1500).unwrap();
        assert_eq!(
            s.nic_create(5, 0, PortKind::Vm, "x", MAC, 1500),
            Err(Veto::Duplicate)
        );
        assert_eq!(
            s.nic_create(6, 0, PortKind::Vm, "vm1", MAC, 1500),
            Err(Veto::Duplicate)
        );
        assert!(matches!(s.nic_connect(5, 0), Ok(Some(Change::Up(_)))));
        assert_eq!(s.nic_connect(5, 0), Ok(None));
        assert_eq!(s.endpoint(5, 0).unwrap().state, NicState::Connected);
        let ch = s.nic_update(5, 0, "vm1b", MAC, 9000).unwrap();
        assert_eq!(ch.len(), 2);
        assert!(matches!(&ch[0], Change::Down(e) if e.name == "vm1"));
        assert!(matches!(&ch[1], Change::Up(e) if e.name == "vm1b" && e.mtu == 9000));
        assert!(matches!(s.nic_delete(5, 0), Ok(Some(Change::Down(_)))));
        assert!(s.is_empty());
        assert_eq!(s.nic_connect(5, 0), Err(Veto::Unknown));
    }

    #[test]
    fn the_nics_of_a_port() {
        let mut s = Switch::default();
        for (port, nic, name) in [(1, 2, "b"), (1, 1, "a"), (5, 0, "vm"), (0, 3, "z")] {
            s.nic_create(port, nic, PortKind::External, name, MAC, 1500)
                .unwrap();
        }
        let on = |port| s.on_port(port).map(|e| e.nic).collect::<Vec<_>>();
        assert_eq!(on(1), [1, 2]);
        assert_eq!(on(5), [0]);
        assert_eq!(on(0), [3]);
        assert!(on(2).is_empty());
        assert!(on(9).is_empty());
    }

    #[test]
    fn names_are_checked() {
        let mut s = Switch::default();
        assert_eq!(
            s.nic_create(1, 0, PortKind::Vm, "", MAC, 1500),
            Err(Veto::BadName)
        );
        let long = "x".repeat(NAME_MAX + 1);
        assert_eq!(
            s.nic_create(1, 0, PortKind::Vm, &long, MAC, 1500),
            Err(Veto::BadName)
        );
    }

    #[test]
    fn sorted_lookup() {
        let mut s = Switch::default();
        for (p, n) in [(9, 0), (2, 1), (2, 0), (7, 3)] {
            s.nic_create(p, n, PortKind::Vm, &std::format!("p{p}n{n}"), MAC, 1500)
                .unwrap();
        }
        assert_eq!(s.endpoint(2, 1).unwrap().name, "p2n1");
        assert_eq!(s.endpoint(7, 3).unwrap().name, "p7n3");
        assert!(s.endpoint(7, 0).is_none());
    }

    /// `Probe<T>.copies()` is true only if `T: Clone` (the inherent-looking
    /// method resolves to the `Clone` impl first when it applies).
    struct Probe<T>(core::marker::PhantomData<T>);
    trait Cloneable {
        fn copies(&self) -> bool {
            true
        }
    }
    impl<T: Clone> Cloneable for Probe<T> {}
    trait NotCloneable {
        fn copies(&self) -> bool {
            false
        }
    }
    impl<T> NotCloneable for &Probe<T> {}

    #[test]
    #[allow(clippy::needless_borrow)] // the borrow is what picks the impl
    fn endpoints_are_copied_only_fallibly() {
        use core::marker::PhantomData as P;
        assert!(!(&Probe::<Endpoint>(P)).copies(), "Endpoint: Clone");
        assert!(!(&Probe::<Change>(P)).copies(), "Change: Clone");
        assert!((&Probe::<NicState>(P)).copies(), "the probe sees Clone");
        let mut s = Switch::default();
        s.nic_create(5, 0, PortKind::Vm, "vm1", MAC, 1500).unwrap();
        let ep = s.endpoint(5, 0).unwrap();
        assert_eq!(ep.try_clone().as_ref(), Ok(ep));
    }

    #[test]
    fn a_rename_of_a_disconnected_nic_changes_nothing_for_vports() {
        let mut s = Switch::default();
        s.nic_create(5, 0, PortKind::Vm, "vm1", MAC, 1500).unwrap();
        assert_eq!(s.nic_update(5, 0, "vm1b", MAC, 9000), Ok(Vec::new()));
        let ep = s.endpoint(5, 0).unwrap();
        assert_eq!((ep.name.as_str(), ep.mtu), ("vm1b", 9000));
    }
}
