//! The Hyper-V switch's port and NIC OIDs applied to the switch model.
//!
//! A NIC is what the datapath forwards to, so the model's endpoints are
//! NICs; ports are kept here only for what a NIC needs from its port: a VM
//! NIC is known by its port's friendly name. Which NICs become endpoints,
//! and under which name:
//!
//! | NIC type            | endpoint kind | name                                  |
//! |---------------------|---------------|---------------------------------------|
//! | external, index 0   | none (the virtual external NIC stands for the team, never for a wire) | |
//! | external, index > 0 | `External`    | the interface alias of the physical NIC (else its friendly name) |
//! | internal            | `Internal`    | the NIC's friendly name               |
//! | synthetic, emulated | `Vm`          | the port's friendly name              |
//!
//! Each NIC type lives on one port type (external NICs on the external port,
//! the internal NIC on the internal port, VM NICs on synthetic/emulated
//! ports), so the NIC type alone decides the kind.
//!
//! What each OID does, before the request goes down (vetoes happen there)
//! or once it completes:
//!
//! | OID                    | when                 | effect |
//! |------------------------|----------------------|--------|
//! | `PORT_CREATE`          | before               | port recorded (validation ports skipped); known id: `DATA_NOT_ACCEPTED` |
//! | `PORT_CREATE` failed   | after                | record dropped |
//! | `PORT_UPDATED`         | before               | new friendly name; VM endpoints on the port renamed |
//! | `PORT_TEARDOWN`        | -                    | nothing (its NICs went first) |
//! | `PORT_DELETE`          | before               | every endpoint on it deleted, record dropped |
//! | `NIC_CREATE`           | before               | `Datapath::nic_create`; no datapath yet: `NOT_SUPPORTED`; model vetoes mapped by `veto_status` |
//! | `NIC_CREATE` failed    | after                | `Datapath::nic_delete` |
//! | `NIC_CONNECT` succeeded| after                | `Datapath::nic_connect` (the connection is usable from then on) |
//! | `NIC_UPDATED`          | before               | `Datapath::nic_update` (MAC, MTU, name) |
//! | `NIC_DISCONNECT`       | before               | `Datapath::nic_disconnect` (stop using it before it goes) |
//! | `NIC_DELETE`           | before               | `Datapath::nic_delete` |
//! | `PORT_PROPERTY_*`      | before               | malformed: `INVALID_PARAMETER`; VLAN: `NOT_SUPPORTED` |
//! | any port/NIC OID, malformed | before          | creations: `NOT_SUPPORTED`; the others pass (they may not fail) |
//! | `NIC_REQUEST` (method) | before               | malformed: `NOT_SUPPORTED`; SR-IOV VF allocation inside: `FAILURE` |
//!
//! Updates, disconnects and deletes cannot be refused; the model's answers
//! to them only matter for NICs it never knew (which it ignores).

use alloc::string::String;
use alloc::vec::Vec;

use super::name::NameBuf;
use super::oid::*;
use crate::ioctl::Device;
use crate::pend::Wakeups;
use crate::status::NtStatus;
use crate::switch::{NicIndex, PortId, PortKind, Veto};

/// `NDIS_STATUS_DATA_NOT_ACCEPTED`: the documented way to veto a creation.
pub const DATA_NOT_ACCEPTED: NtStatus = NtStatus::DATA_NOT_ACCEPTED;
/// `NDIS_STATUS_FAILURE`.
pub const FAILURE: NtStatus = NtStatus::UNSUCCESSFUL;
/// `NDIS_STATUS_RESOURCES`: a transient refusal the switch may retry.
pub const RESOURCES: NtStatus = NtStatus::INSUFFICIENT_RESOURCES;

/// Ports recorded at most (a Hyper-V switch has a few per VM).
pub const MAX_PORTS: usize = 16384;
/// Ports of the port array recorded per hold of the port-table lock at
/// activation: the lock raises to DISPATCH_LEVEL, and the array may list
/// thousands of ports.
pub const IMPORT_BATCH: usize = 64;

/// The status a model veto refuses a NIC creation with.
pub fn veto_status(v: Veto) -> NtStatus {
    match v {
        Veto::Duplicate | Veto::BadName => DATA_NOT_ACCEPTED,
        Veto::NoMemory => RESOURCES,
        Veto::Unknown => NtStatus::INVALID_PARAMETER,
    }
}

/// The endpoint kind of a NIC, or `None` if it is not an endpoint.
pub fn classify(nic_type: u32, nic_index: NicIndex) -> Option<PortKind> {
    match nic_type {
        NIC_TYPE_EXTERNAL if nic_index > 0 => Some(PortKind::External),
        NIC_TYPE_INTERNAL => Some(PortKind::Internal),
        NIC_TYPE_SYNTHETIC | NIC_TYPE_EMULATED => Some(PortKind::Vm),
        _ => None,
    }
}

/// The interface GUID whose alias names this NIC, if it is a physical one.
pub fn alias_wanted(n: &NicParams<'_>) -> Option<[u8; 16]> {
    (classify(n.nic_type, n.nic_index) == Some(PortKind::External)).then_some(n.net_cfg_instance_id)
}

/// The NIC a creation or update announces.
fn announced(oid: u32, buf: &[u8]) -> Option<NicParams<'_>> {
    match oid {
        OID_SWITCH_NIC_CREATE | OID_SWITCH_NIC_UPDATED => NicParams::parse(buf),
        _ => None,
    }
}

/// For a set request about to go down: the GUID whose interface alias the
/// platform should look up first (at PASSIVE_LEVEL, outside any lock).
pub fn alias_wanted_by(oid: u32, buf: &[u8]) -> Option<[u8; 16]> {
    alias_wanted(&announced(oid, buf)?)
}

/// The interface GUID of the host's own vNIC (the internal port's NIC),
/// where the tunnel endpoint lives: the underlay comes from its tables.
pub fn host_interface(n: &NicParams<'_>) -> Option<[u8; 16]> {
    (classify(n.nic_type, n.nic_index) == Some(PortKind::Internal)).then_some(n.net_cfg_instance_id)
}

/// `host_interface` of the NIC a set request announces.
pub fn host_interface_by(oid: u32, buf: &[u8]) -> Option<[u8; 16]> {
    host_interface(&announced(oid, buf)?)
}

/// The verdict on an `OID_SWITCH_NIC_REQUEST` carrying a request of this
/// type for this OID: SR-IOV virtual functions are refused, as the switch
/// would bypass the extension for their traffic.
pub fn nic_request_verdict(inner_type: u32, inner_oid: u32) -> Result<(), NtStatus> {
    let allocate_vf = inner_oid == OID_NIC_SWITCH_ALLOCATE_VF
        && matches!(inner_type, REQUEST_SET | REQUEST_METHOD);
    if allocate_vf { Err(FAILURE) } else { Ok(()) }
}

/// A port's record: small, so that keeping the table sorted moves little.
#[derive(Debug)]
struct Port {
    id: PortId,
    /// `None` when the friendly name has no UTF-8 form within `NAME_MAX`
    /// (or there was no memory to keep it).
    name: Option<String>,
}

/// A friendly name as a port keeps it.
fn stored(name: Option<NameBuf>) -> Result<Option<String>, NtStatus> {
    let Some(name) = name else { return Ok(None) };
    let mut s = String::new();
    s.try_reserve_exact(name.as_str().len())
        .map_err(|_| RESOURCES)?;
    s.push_str(name.as_str());
    Ok(Some(s))
}

/// The switch's ports, sorted by id.
#[derive(Debug, Default)]
pub struct Ports {
    ports: Vec<Port>,
    /// The external port (frames from it carry what the physical NIC found
    /// on receive, not what a sender asks of a NIC), kept so that finding
    /// it costs nothing.
    external: Option<PortId>,
}

impl Ports {
    pub const fn new() -> Ports {
        Ports {
            ports: Vec::new(),
            external: None,
        }
    }

    pub fn len(&self) -> usize {
        self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// The switch detached.
    pub fn clear(&mut self) {
        self.ports = Vec::new();
        self.external = None;
    }

    fn position(&self, id: PortId) -> Result<usize, usize> {
        self.ports.binary_search_by_key(&id, |p| p.id)
    }

    fn get(&self, id: PortId) -> Option<&Port> {
        self.position(id).ok().and_then(|i| self.ports.get(i))
    }

    /// The switch's external port, if it has one.
    pub fn external_port(&self) -> Option<PortId> {
        self.external
    }

    /// Whether the port is recorded, and its friendly name if it has one.
    pub fn friendly_name(&self, id: PortId) -> Option<Option<&str>> {
        self.get(id).map(|p| p.name.as_deref())
    }

    /// A port appears (`OID_SWITCH_PORT_CREATE`, or the port array at
    /// activation). Validation ports are the switch's own and are skipped.
    pub fn create(&mut self, p: &PortParams<'_>) -> Result<(), NtStatus> {
        if p.validation {
            return Ok(());
        }
        let Err(at) = self.position(p.port_id) else {
            return Err(DATA_NOT_ACCEPTED);
        };
        if self.ports.len() >= MAX_PORTS {
            return Err(RESOURCES);
        }
        self.ports.try_reserve(1).map_err(|_| RESOURCES)?;
        let name = stored(p.friendly_name.decode().ok())?;
        self.ports.insert(
            at,
            Port {
                id: p.port_id,
                name,
            },
        );
        if p.port_type == PORT_TYPE_EXTERNAL {
            self.external = Some(p.port_id);
        }
        Ok(())
    }

    /// Forgets a port (its creation failed below, or it was deleted).
    fn remove(&mut self, id: PortId) {
        if let Ok(i) = self.position(id) {
            self.ports.remove(i);
        }
        if self.external == Some(id) {
            self.external = None;
        }
    }

    /// `OID_SWITCH_PORT_UPDATED`: only the friendly name changes; the VM
    /// endpoints on the port take it.
    pub fn update(&mut self, p: &PortParams<'_>, dev: &Device, wake: &mut Wakeups) {
        let Ok(i) = self.position(p.port_id) else {
            return;
        };
        let name = p.friendly_name.decode().ok();
        if let Some(port) = self.ports.get_mut(i) {
            // Without memory for it the port has no name, as when its name
            // cannot be decoded.
            port.name = stored(name).unwrap_or(None);
        }
        let Some(name) = name else { return };
        dev.with_datapath(|dp| {
            let mut nics = Vec::new();
            {
                let ports = dp.ports.read();
                let vm = |e: &&crate::switch::Endpoint| e.kind == PortKind::Vm;
                let count = ports.switch.on_port(p.port_id).filter(vm).count();
                if nics.try_reserve(count).is_err() {
                    return;
                }
                nics.extend(
                    ports
                        .switch
                        .on_port(p.port_id)
                        .filter(vm)
                        .map(|e| (e.nic, e.mac, e.mtu)),
                );
            }
            for (nic, mac, mtu) in nics {
                let _ = dp.nic_update(p.port_id, nic, name.as_str(), mac, mtu, wake);
            }
        });
    }

    /// `OID_SWITCH_PORT_DELETE`: whatever is left on the port goes with it.
    pub fn delete(&mut self, id: PortId, dev: &Device, wake: &mut Wakeups) {
        self.remove(id);
        dev.with_datapath(|dp| dp.port_delete(id, wake));
    }

    /// The endpoint kind and name of a NIC; `Ok(None)` if it is not an
    /// endpoint. `alias` is the interface alias of a physical NIC, when the
    /// platform found one.
    fn endpoint(
        &self,
        n: &NicParams<'_>,
        alias: Option<&NameBuf>,
    ) -> Result<Option<(PortKind, NameBuf)>, NtStatus> {
        let Some(kind) = classify(n.nic_type, n.nic_index) else {
            return Ok(None);
        };
        let name = match kind {
            PortKind::Vm => match self.friendly_name(n.port_id) {
                None => return Err(NtStatus::INVALID_PARAMETER),
                Some(name) => NameBuf::copy_of(name.ok_or(DATA_NOT_ACCEPTED)?)
                    .map_err(|_| DATA_NOT_ACCEPTED)?,
            },
            PortKind::External if alias.is_some_and(|a| !a.is_empty()) => {
                alias.copied().unwrap_or_default()
            }
            PortKind::External | PortKind::Internal => n
                .nic_friendly_name
                .decode()
                .map_err(|_| DATA_NOT_ACCEPTED)?,
        };
        Ok(Some((kind, name)))
    }

    /// `OID_SWITCH_NIC_CREATE`: the endpoint enters the model, or the
    /// creation is vetoed.
    pub fn nic_create(
        &self,
        n: &NicParams<'_>,
        alias: Option<&NameBuf>,
        dev: &Device,
    ) -> Result<(), NtStatus> {
        let Some((kind, name)) = self.endpoint(n, alias)? else {
            return Ok(());
        };
        let created = dev.with_datapath(|dp| {
            dp.nic_create(n.port_id, n.nic_index, kind, name.as_str(), n.mac(), n.mtu)
        });
        match created {
            None => Err(NtStatus::NOT_SUPPORTED),
            Some(r) => r.map_err(veto_status),
        }
    }

    /// The creation of an endpoint failed below: it leaves the model.
    fn nic_create_failed(&self, n: &NicParams<'_>, dev: &Device, wake: &mut Wakeups) {
        if classify(n.nic_type, n.nic_index).is_some() {
            nic_delete(n, dev, wake);
        }
    }

    /// `OID_SWITCH_NIC_UPDATED`: new MAC and MTU, and the name recomputed
    /// (kept as it is when it cannot be: a physical NIC whose alias was not
    /// found keeps its name rather than fall back to its friendly name).
    pub fn nic_update(
        &self,
        n: &NicParams<'_>,
        alias: Option<&NameBuf>,
        dev: &Device,
        wake: &mut Wakeups,
    ) {
        let physical = classify(n.nic_type, n.nic_index) == Some(PortKind::External);
        let fresh = if physical && alias.is_none_or(|a| a.is_empty()) {
            None
        } else {
            self.endpoint(n, alias).ok().flatten().map(|(_, name)| name)
        };
        dev.with_datapath(|dp| {
            let name = match fresh {
                Some(name) => name,
                None => {
                    let ports = dp.ports.read();
                    match ports.switch.endpoint(n.port_id, n.nic_index) {
                        Some(e) => match NameBuf::copy_of(&e.name) {
                            Ok(name) => name,
                            Err(_) => return,
                        },
                        None => return,
                    }
                }
            };
            let _ = dp.nic_update(n.port_id, n.nic_index, name.as_str(), n.mac(), n.mtu, wake);
        });
    }

    /// A NIC found at activation (`OID_SWITCH_NIC_ARRAY`): created unless
    /// known already, and connected if it is.
    pub fn nic_found(
        &self,
        n: &NicParams<'_>,
        alias: Option<&NameBuf>,
        dev: &Device,
        wake: &mut Wakeups,
    ) -> Result<(), NtStatus> {
        match self.nic_create(n, alias, dev) {
            Ok(()) => {}
            Err(s) if s == DATA_NOT_ACCEPTED => {}
            Err(s) => return Err(s),
        }
        if n.nic_state == NIC_STATE_CONNECTED {
            nic_connect(n, dev, wake);
        }
        Ok(())
    }

    /// Ports found at activation (`import_order`), at most `IMPORT_BATCH`
    /// of them per call: recorded unless known already. `Ok(true)` when
    /// ports may be left for another call. In id order, each lands after
    /// the ports recorded before it, so none moves the table.
    pub fn import_ports<'a>(
        &mut self,
        rest: &mut impl Iterator<Item = PortParams<'a>>,
    ) -> Result<bool, NtStatus> {
        let mut seen = 0;
        for p in rest.take(IMPORT_BATCH) {
            seen += 1;
            match self.create(&p) {
                Err(s) if s != DATA_NOT_ACCEPTED => return Err(s),
                _ => {}
            }
        }
        Ok(seen == IMPORT_BATCH)
    }

    /// A set request on its way down: applies it to the model, or vetoes
    /// it with the status to complete it with. `alias` answers
    /// `alias_wanted_by` for the same request.
    pub fn before_set(
        &mut self,
        oid: u32,
        buf: &[u8],
        alias: Option<&NameBuf>,
        dev: &Device,
        wake: &mut Wakeups,
    ) -> Result<(), NtStatus> {
        if buf.is_empty() {
            // Nothing to look at; the switch below judges it.
            return Ok(());
        }
        match oid {
            OID_SWITCH_PORT_PROPERTY_ADD
            | OID_SWITCH_PORT_PROPERTY_UPDATE
            | OID_SWITCH_PORT_PROPERTY_DELETE => {
                match port_property_type(buf, oid == OID_SWITCH_PORT_PROPERTY_DELETE) {
                    None => Err(NtStatus::INVALID_PARAMETER),
                    // VLAN policy would need tagging the datapath does not do.
                    Some(PORT_PROPERTY_TYPE_VLAN) => Err(NtStatus::NOT_SUPPORTED),
                    Some(_) => Ok(()),
                }
            }
            OID_SWITCH_PORT_CREATE
            | OID_SWITCH_PORT_UPDATED
            | OID_SWITCH_PORT_TEARDOWN
            | OID_SWITCH_PORT_DELETE => {
                let Some(p) = PortParams::parse(buf) else {
                    return malformed(oid == OID_SWITCH_PORT_CREATE);
                };
                if p.validation {
                    return Ok(());
                }
                match oid {
                    OID_SWITCH_PORT_CREATE => return self.create(&p),
                    OID_SWITCH_PORT_UPDATED => self.update(&p, dev, wake),
                    OID_SWITCH_PORT_DELETE => self.delete(p.port_id, dev, wake),
                    _ => {}
                }
                Ok(())
            }
            OID_SWITCH_NIC_CREATE
            | OID_SWITCH_NIC_CONNECT
            | OID_SWITCH_NIC_UPDATED
            | OID_SWITCH_NIC_DISCONNECT
            | OID_SWITCH_NIC_DELETE => {
                let Some(n) = NicParams::parse(buf) else {
                    return malformed(oid == OID_SWITCH_NIC_CREATE);
                };
                match oid {
                    OID_SWITCH_NIC_CREATE => return self.nic_create(&n, alias, dev),
                    OID_SWITCH_NIC_UPDATED => self.nic_update(&n, alias, dev, wake),
                    OID_SWITCH_NIC_DISCONNECT => nic_disconnect(&n, dev, wake),
                    OID_SWITCH_NIC_DELETE => nic_delete(&n, dev, wake),
                    _ => {}
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A set request this module passed down completed (`ok`: with
    /// success).
    pub fn after_set(&mut self, oid: u32, buf: &[u8], ok: bool, dev: &Device, wake: &mut Wakeups) {
        match (oid, ok) {
            (OID_SWITCH_PORT_CREATE, false) => {
                if let Some(p) = PortParams::parse(buf).filter(|p| !p.validation) {
                    self.remove(p.port_id);
                }
            }
            (OID_SWITCH_NIC_CREATE, false) => {
                if let Some(n) = NicParams::parse(buf) {
                    self.nic_create_failed(&n, dev, wake);
                }
            }
            (OID_SWITCH_NIC_CONNECT, true) => {
                if let Some(n) = NicParams::parse(buf) {
                    nic_connect(&n, dev, wake);
                }
            }
            _ => {}
        }
    }
}

/// A port or NIC payload that does not parse: a creation is refused, the
/// notifications that may not fail go down untouched.
fn malformed(creation: bool) -> Result<(), NtStatus> {
    if creation {
        Err(NtStatus::NOT_SUPPORTED)
    } else {
        Ok(())
    }
}

fn nic_connect(n: &NicParams<'_>, dev: &Device, wake: &mut Wakeups) {
    dev.with_datapath(|dp| dp.nic_connect(n.port_id, n.nic_index, wake));
}

fn nic_disconnect(n: &NicParams<'_>, dev: &Device, wake: &mut Wakeups) {
    dev.with_datapath(|dp| dp.nic_disconnect(n.port_id, n.nic_index, wake));
}

fn nic_delete(n: &NicParams<'_>, dev: &Device, wake: &mut Wakeups) {
    dev.with_datapath(|dp| dp.nic_delete(n.port_id, n.nic_index, wake));
}

/// The ports of an `OID_SWITCH_PORT_ARRAY` answer in id order, for
/// `import_ports` (malformed elements are skipped), put in order before the
/// port-table lock is taken: `INVALID_PARAMETER` if the array itself is
/// malformed, `RESOURCES` if there is no memory to sort it.
pub fn import_order(array: &[u8]) -> Result<Vec<PortParams<'_>>, NtStatus> {
    let elements = elements(array, PORT_ARRAY_SIZE, PORT_PARAMETERS_SIZE)
        .ok_or(NtStatus::INVALID_PARAMETER)?;
    let mut ports = Vec::new();
    ports
        .try_reserve_exact(elements.size_hint().0)
        .map_err(|_| RESOURCES)?;
    for p in elements.filter_map(PortParams::parse) {
        ports.try_reserve(1).map_err(|_| RESOURCES)?;
        ports.push(p);
    }
    ports.sort_unstable_by_key(|p| p.port_id);
    Ok(ports)
}

/// The NICs of an `OID_SWITCH_NIC_ARRAY` answer (malformed elements are
/// skipped); `None` if the array itself is malformed.
pub fn nic_elements(array: &[u8]) -> Option<impl Iterator<Item = NicParams<'_>>> {
    Some(elements(array, NIC_ARRAY_SIZE, NIC_PARAMETERS_SIZE)?.filter_map(NicParams::parse))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A creation or deletion moves up to `MAX_PORTS` records under the
    /// table lock: a record is a few words, not a name buffer.
    #[test]
    fn port_records_are_small() {
        assert!(size_of::<Port>() <= 32);
        assert!(MAX_PORTS * size_of::<Port>() <= 512 * 1024);
    }
}
