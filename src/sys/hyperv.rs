//! The switch's ports and NICs reaching the core: the port table the OIDs
//! update (`platform::hyperv` decides what each does), the interface aliases
//! physical NICs are named by, and the activation of the datapath once the
//! switch is active.
//!
//! Activation happens once per attach: at the first restart if
//! `OID_SWITCH_PARAMETERS` says the switch is active, else on
//! `NetEventSwitchActivate`. It records the ports of `OID_SWITCH_PORT_ARRAY`,
//! attaches the core's datapath (from then on NIC OIDs reach it), adds
//! the NICs of `OID_SWITCH_NIC_ARRAY`, connecting those that are, and
//! starts the upkeep; only then is the datapath active for the packet path
//! (until then sends pass through as without it).
#![cfg(windows)]

use core::sync::atomic::{AtomicU32, Ordering};

use super::device::{complete_wakeups, device};
use super::ndis::ffi::{ConvertInterfaceGuidToLuid, ConvertInterfaceLuidToAlias, KeGetCurrentIrql};
use super::ndis::types::*;
use super::{oid, path};
use crate::pend::Wakeups;
use crate::platform::activation::Activation;
use crate::platform::hyperv::{
    self as model, Ports, alias_wanted, alias_wanted_by, host_interface, host_interface_by,
    import_order, nic_elements,
};
use crate::platform::name::NameBuf;
use crate::platform::oid as payload;
use crate::status::NtStatus;
use crate::sync::Mutex;

/// The switch's ports. Lock order: taken before any lock of the core, and
/// never while one is held. It raises to DISPATCH_LEVEL, so it is held for
/// one OID, one NIC or one batch of the port array at a time; under it a
/// port is found by binary search, and a creation or deletion moves at most
/// `MAX_PORTS` records of 32 bytes (none when the import appends in id
/// order).
static PORTS: Mutex<Ports> = Mutex::new(Ports::new());
/// The datapath's activation: "active" once attached, with the switch's
/// ports and NICs imported and the upkeep running.
static ACTIVATION: Activation = Activation::new();
/// The external port's id (`NO_PORT`: none), for the data path, which
/// reads it without the port table lock.
static EXTERNAL: AtomicU32 = AtomicU32::new(NO_PORT);
const NO_PORT: u32 = u32::MAX;

/// The switch's external port, if it has one.
pub fn external_port() -> Option<SwitchPortId> {
    Some(EXTERNAL.load(Ordering::Relaxed)).filter(|&p| p != NO_PORT)
}

/// Runs `f` on the port table, then republishes the external port.
fn with_ports<R>(f: impl FnOnce(&mut Ports) -> R) -> R {
    let mut ports = PORTS.lock();
    let r = f(&mut ports);
    EXTERNAL.store(ports.external_port().unwrap_or(NO_PORT), Ordering::Relaxed);
    r
}

fn ndis(status: NtStatus) -> NdisStatus {
    NdisStatus(status.0)
}

/// The interface alias ("Ethernet 2") of the host interface `guid` names;
/// `None` above PASSIVE_LEVEL or if the interface has none.
fn interface_alias(guid: [u8; 16]) -> Option<NameBuf> {
    // SAFETY: reads the IRQL only.
    if unsafe { KeGetCurrentIrql() } != PASSIVE_LEVEL {
        return None;
    }
    let guid = Guid::from_bytes(guid);
    let mut luid: NetLuid = 0;
    let mut alias = [0u16; IF_MAX_STRING_SIZE + 1];
    // SAFETY: all pointers are valid for the calls; the alias buffer's
    // length is given in WCHARs.
    let found = unsafe {
        ConvertInterfaceGuidToLuid(&guid, &mut luid).is_success()
            && ConvertInterfaceLuidToAlias(&luid, alias.as_mut_ptr(), alias.len()).is_success()
    };
    if !found {
        return None;
    }
    NameBuf::from_utf16(alias).ok()
}

/// A set request on its way down: applied to the switch model, or vetoed
/// with the status to complete it with.
pub fn before_set(oid: NdisOid, buf: &[u8]) -> Result<(), NdisStatus> {
    let Some(dev) = device() else { return Ok(()) };
    // Looked up first: it needs PASSIVE_LEVEL, and the table lock raises.
    let alias = alias_wanted_by(oid, buf).and_then(interface_alias);
    if let Some(guid) = host_interface_by(oid, buf) {
        super::underlay::set_host_interface(guid);
    }
    let mut wake = Wakeups::new();
    let verdict = with_ports(|p| p.before_set(oid, buf, alias.as_ref(), dev, &mut wake));
    complete_wakeups(wake);
    verdict.map_err(ndis)
}

/// A set request this module passed down completed.
pub fn after_set(oid: NdisOid, buf: &[u8], ok: bool) {
    let Some(dev) = device() else { return };
    let mut wake = Wakeups::new();
    with_ports(|p| p.after_set(oid, buf, ok, dev, &mut wake));
    complete_wakeups(wake);
}

/// The verdict on an `OID_SWITCH_NIC_REQUEST` carrying a request of type
/// `kind` for `oid`.
pub fn nic_request_verdict(kind: u32, oid: NdisOid) -> Result<(), NdisStatus> {
    model::nic_request_verdict(kind, oid).map_err(ndis)
}

/// Whether the switch is active (`OID_SWITCH_PARAMETERS`). PASSIVE_LEVEL.
pub fn switch_is_active() -> Result<bool, NdisStatus> {
    let answer = oid::query(
        OID_SWITCH_PARAMETERS,
        size_of::<NdisSwitchParameters>(),
        payload::SWITCH_PARAMETERS_SIZE,
    )?;
    payload::switch_is_active(&answer).ok_or(NdisStatus::INVALID_DATA)
}

/// Activates the datapath if it is not yet (`platform::activation`): the
/// switch's ports and NICs, then the upkeep timer, and only then "active".
/// PASSIVE_LEVEL.
pub fn activate() -> Result<(), NdisStatus> {
    ACTIVATION.activate(
        import,
        || {
            let filter = super::filter::SwitchModule::get().ndis_handle();
            super::timer::start(filter)?;
            super::underlay::start(filter);
            Ok(())
        },
        tear_down,
    )
}

fn import() -> Result<(), NdisStatus> {
    let Some(dev) = device() else {
        return Err(NdisStatus::FAILURE);
    };
    let ports = oid::query(
        OID_SWITCH_PORT_ARRAY,
        usize::from(payload::PORT_ARRAY_SIZE),
        payload::PORT_ARRAY_SIZE,
    )?;
    {
        // Sorted first, then a batch per hold of the table lock (which
        // raises the IRQL).
        let mut rest = import_order(&ports).map_err(ndis)?.into_iter();
        while with_ports(|p| p.import_ports(&mut rest)).map_err(ndis)? {}
    }
    drop(ports);
    dev.attach(path::processors())
        .map_err(|_| NdisStatus::RESOURCES)?;
    let nics = oid::query(
        OID_SWITCH_NIC_ARRAY,
        usize::from(payload::NIC_ARRAY_SIZE),
        payload::NIC_ARRAY_SIZE,
    )?;
    for nic in nic_elements(&nics).ok_or(NdisStatus::INVALID_DATA)? {
        let alias = alias_wanted(&nic).and_then(interface_alias);
        if let Some(guid) = host_interface(&nic) {
            super::underlay::set_host_interface(guid);
        }
        let mut wake = Wakeups::new();
        // A NIC the model refuses stays out of it, as it would had it
        // arrived by OID; the others still come up.
        let _ = PORTS.lock().nic_found(&nic, alias.as_ref(), dev, &mut wake);
        complete_wakeups(wake);
    }
    Ok(())
}

/// The switch goes: the datapath is no longer active, then it goes with
/// everything it holds (`tear_down`).
pub fn deactivate() {
    ACTIVATION.reset();
    tear_down();
}

/// The datapath, everything it holds, and the port table (a detach, or a
/// failed activation).
fn tear_down() {
    super::underlay::stop();
    super::timer::stop();
    if let Some(dev) = device() {
        let mut wake = Wakeups::new();
        dev.detach(&mut wake);
        complete_wakeups(wake);
    }
    with_ports(Ports::clear);
}

/// Whether activation happened (and has not been undone).
pub fn is_active() -> bool {
    ACTIVATION.is_active()
}

/// `NetEventFilterPreDetach`: the datapath originates nothing more (the
/// filter stops the sends).
pub fn pre_detach() {
    ACTIVATION.pre_detach();
}

/// The status an IOCTL is refused with before it reaches the core, if any.
pub fn refuses(ioctl: u32, input: &[u8]) -> Option<NtStatus> {
    ACTIVATION.refuses(ioctl, input)
}
