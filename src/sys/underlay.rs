//! The tunnel underlay fed from the host's IP tables (netio's IP Helper
//! API). An NDIS I/O work item, at PASSIVE_LEVEL, first asks netio to
//! resolve the next hops the data path found no neighbour for (frames to
//! them were dropped and counted meanwhile), then reads the address, route
//! and neighbour tables whole, keeps the host vNIC's rows
//! (`platform::underlay`) and swaps the result into the datapath's
//! underlay under the ports lock, in constant time; the old tables are
//! freed after the lock. Address, route and interface change notifications
//! queue it, and so does the upkeep timer while next hops wait: at
//! DISPATCH_LEVEL nothing happens here but queueing.
#![cfg(windows)]

use core::ffi::c_void;
use core::net::IpAddr;
use core::ptr;
use core::slice;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64, Ordering::*};

use super::device::device;
use super::ndis::ffi::{
    CancelMibChangeNotify2, ConvertInterfaceGuidToLuid, FreeMibTable, GetIpForwardTable2,
    GetIpNetTable2, GetUnicastIpAddressTable, KeDelayExecutionThread, NdisAllocateIoWorkItem,
    NdisFreeIoWorkItem, NdisQueueIoWorkItem, NotifyIpInterfaceChange, NotifyRouteChange2,
    NotifyUnicastIpAddressChange, ResolveIpNetEntry2,
};
use super::ndis::types::*;
use crate::ioctl::Device;
use crate::platform::underlay::{
    self, AddressRow, NeighbourRow, RouteRow, sockaddr_ip, sockaddr_of,
};
use crate::tunnel::resolve::SLOTS;
use crate::tunnel::underlay::Underlay;

/// The work item while the feed runs.
static ITEM: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static STOPPING: AtomicBool = AtomicBool::new(false);
/// The change notification registrations.
static NOTIFY: [AtomicPtr<c_void>; 3] = [const { AtomicPtr::new(ptr::null_mut()) }; 3];

/// Where the work item is: idle, queued, running, or running with another
/// run asked for.
static STATE: AtomicU8 = AtomicU8::new(IDLE);
const IDLE: u8 = 0;
const QUEUED: u8 = 1;
const RUNNING: u8 = 2;
const RUNNING_AGAIN: u8 = 3;

/// The host vNIC's interface GUID, once the internal NIC was seen.
static HOST_GUID: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static HOST_KNOWN: AtomicBool = AtomicBool::new(false);

type Register = unsafe extern "system" fn(
    u16,
    MibChangeCallback,
    *mut c_void,
    u8,
    *mut NdisHandle,
) -> NdisStatus;

/// Notes the host vNIC's interface (from the internal NIC's parameters)
/// and reads its tables. Up to DISPATCH_LEVEL.
pub fn set_host_interface(guid: [u8; 16]) {
    let (lo, hi) = guid.split_at(8);
    let word = |b: &[u8]| b.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w));
    HOST_GUID[0].store(word(lo), Relaxed);
    HOST_GUID[1].store(word(hi), Relaxed);
    HOST_KNOWN.store(true, Release);
    kick();
}

/// Starts the feed: the work item, the notifications, a first read.
/// PASSIVE_LEVEL. Without it tunnels find no route; the switch runs on.
pub fn start(filter_handle: NdisHandle) {
    if !ITEM.load(Acquire).is_null() {
        return;
    }
    STOPPING.store(false, SeqCst);
    // SAFETY: the filter module's handle, valid while it is attached.
    let item = unsafe { NdisAllocateIoWorkItem(filter_handle) };
    if item.is_null() {
        return;
    }
    ITEM.store(item, Release);
    let registers: [Register; 3] = [
        NotifyUnicastIpAddressChange,
        NotifyRouteChange2,
        NotifyIpInterfaceChange,
    ];
    for (slot, register) in NOTIFY.iter().zip(registers) {
        let mut handle: NdisHandle = ptr::null_mut();
        // SAFETY: `on_change` has the callbacks' shape and lives forever;
        // no context; the handle is written on success.
        let status = unsafe { register(AF_UNSPEC, on_change, ptr::null_mut(), 0, &mut handle) };
        if status.is_success() {
            slot.store(handle, Release);
        }
    }
    kick();
}

/// Stops the feed: no notification comes any more, the work item is not
/// queued nor running, and is freed. PASSIVE_LEVEL.
pub fn stop() {
    STOPPING.store(true, SeqCst);
    for slot in &NOTIFY {
        let handle = slot.swap(ptr::null_mut(), AcqRel);
        if !handle.is_null() {
            // SAFETY: a registration of ours, cancelled once.
            unsafe { CancelMibChangeNotify2(handle) };
        }
    }
    // A queued run ends at once once stopping; a running one after its
    // netio calls.
    while STATE.load(SeqCst) != IDLE {
        let mut ten_ms: i64 = -100_000;
        // SAFETY: PASSIVE_LEVEL, a relative interval.
        unsafe { KeDelayExecutionThread(KERNEL_MODE, 0, &mut ten_ms) };
    }
    let item = ITEM.swap(ptr::null_mut(), AcqRel);
    if !item.is_null() {
        // SAFETY: ours, neither queued nor running.
        unsafe { NdisFreeIoWorkItem(item) };
    }
}

/// Queues a run while next hops wait to be resolved. The upkeep timer's,
/// at DISPATCH_LEVEL.
pub fn kick_if_unresolved(dev: &Device) {
    if dev.with_datapath(|dp| dp.ports.read().underlay.unresolved.pending()) == Some(true) {
        kick();
    }
}

/// Asks for a run: queues the work item if idle, or has a running one run
/// again. Up to DISPATCH_LEVEL; a bounded number of attempts.
fn kick() {
    for _ in 0..3 {
        if STATE.compare_exchange(IDLE, QUEUED, SeqCst, SeqCst).is_ok() {
            return queue();
        }
        match STATE.compare_exchange(RUNNING, RUNNING_AGAIN, SeqCst, SeqCst) {
            Ok(_) | Err(QUEUED | RUNNING_AGAIN) => return,
            Err(_) => {}
        }
    }
}

/// Queues the work item (the state is QUEUED), unless stopping.
fn queue() {
    let item = ITEM.load(Acquire);
    if STOPPING.load(SeqCst) || item.is_null() {
        STATE.store(IDLE, SeqCst);
        return;
    }
    // SAFETY: the item is ours and not queued (the state said so); `stop`
    // waits for the run before freeing it.
    unsafe { NdisQueueIoWorkItem(item, run, ptr::null_mut()) };
}

unsafe extern "system" fn on_change(_: *mut c_void, _: *mut c_void, _: u32) {
    kick();
}

unsafe extern "system" fn run(_: *mut c_void, _: NdisHandle) {
    STATE.store(RUNNING, SeqCst);
    if !STOPPING.load(SeqCst) {
        refresh();
    }
    if STATE
        .compare_exchange(RUNNING, IDLE, SeqCst, SeqCst)
        .is_err()
    {
        // Something changed during the run.
        STATE.store(QUEUED, SeqCst);
        queue();
    }
}

/// The host vNIC's LUID. PASSIVE_LEVEL.
fn host_luid() -> Option<NetLuid> {
    if !HOST_KNOWN.load(Acquire) {
        return None;
    }
    let mut bytes = [0; 16];
    let (lo, hi) = bytes.split_at_mut(8);
    lo.copy_from_slice(&HOST_GUID[0].load(Relaxed).to_le_bytes());
    hi.copy_from_slice(&HOST_GUID[1].load(Relaxed).to_le_bytes());
    let mut luid: NetLuid = 0;
    // SAFETY: both pointers are valid for the call; PASSIVE_LEVEL.
    let found = unsafe { ConvertInterfaceGuidToLuid(&Guid::from_bytes(bytes), &mut luid) };
    found.is_success().then_some(luid)
}

/// One run. PASSIVE_LEVEL.
fn refresh() {
    let Some(dev) = device() else { return };
    let Some(luid) = host_luid() else {
        // No host vNIC (any more): no endpoint to encapsulate from.
        return adopt(dev, Underlay::default());
    };
    resolve(dev, luid);
    let (Some(addresses), Some(routes), Some(neighbours)) = (
        Table::read(GetUnicastIpAddressTable),
        Table::read(GetIpForwardTable2),
        Table::read(GetIpNetTable2),
    ) else {
        return;
    };
    let built = underlay::build(
        luid,
        addresses.rows().iter().filter_map(address_row),
        routes.rows().iter().filter_map(route_row),
        neighbours.rows().iter().filter_map(neighbour_row),
    );
    if let Ok(b) = built {
        adopt(dev, b.underlay);
    }
}

/// Asks netio to resolve each next hop waiting (ARP or neighbour
/// solicitation on the host vNIC); the answers show in the neighbour table
/// read next.
fn resolve(dev: &Device, luid: NetLuid) {
    let mut wanted: [Option<IpAddr>; SLOTS] = [None; SLOTS];
    let mut n = 0;
    dev.with_datapath(|dp| {
        dp.ports.read().underlay.unresolved.take(|ip| {
            if let Some(w) = wanted.get_mut(n) {
                *w = Some(ip);
                n += 1;
            }
        })
    });
    for ip in wanted.into_iter().flatten() {
        let (family, data) = sockaddr_of(ip);
        // SAFETY: a plain-data row; all zeros is a valid value.
        let mut row: MibIpNetRow2 = unsafe { core::mem::zeroed() };
        row.address = SockaddrInet {
            si_family: family,
            data,
        };
        row.interface_luid = luid;
        // SAFETY: the row is valid for the call, no source address.
        unsafe { ResolveIpNetEntry2(&mut row, ptr::null()) };
    }
}

/// Swaps `fresh` into the datapath's underlay; the old tables are freed
/// here, after the lock.
fn adopt(dev: &Device, mut fresh: Underlay) {
    dev.with_datapath(|dp| dp.ports.write().underlay.adopt(&mut fresh));
    drop(fresh);
}

/// A table netio allocated, freed on drop.
struct Table<Row>(*mut MibTable<Row>);

impl<Row> Table<Row> {
    fn read(
        get: unsafe extern "system" fn(u16, *mut *mut MibTable<Row>) -> NdisStatus,
    ) -> Option<Self> {
        let mut t: *mut MibTable<Row> = ptr::null_mut();
        // SAFETY: PASSIVE_LEVEL; on success `t` is a table of ours.
        let status = unsafe { get(AF_UNSPEC, &mut t) };
        (status.is_success() && !t.is_null()).then_some(Table(t))
    }

    fn rows(&self) -> &[Row] {
        // SAFETY: netio's table: `num_entries` rows follow the count, at
        // `table`, and stay until it is freed.
        unsafe {
            let n = (*self.0).num_entries as usize;
            slice::from_raw_parts(ptr::addr_of!((*self.0).table).cast::<Row>(), n)
        }
    }
}

impl<Row> Drop for Table<Row> {
    fn drop(&mut self) {
        // SAFETY: allocated by netio for us, freed once.
        unsafe { FreeMibTable(self.0.cast()) };
    }
}

fn ip_of(a: &SockaddrInet) -> Option<IpAddr> {
    sockaddr_ip(a.si_family, &a.data)
}

fn address_row(r: &MibUnicastIpAddressRow) -> Option<AddressRow> {
    Some(AddressRow {
        luid: r.interface_luid,
        addr: ip_of(&r.address)?,
        prefix_len: r.on_link_prefix_length,
        dad_state: r.dad_state,
        skip_as_source: r.skip_as_source != 0,
    })
}

fn route_row(r: &MibIpForwardRow2) -> Option<RouteRow> {
    Some(RouteRow {
        luid: r.interface_luid,
        dst: ip_of(&r.destination_prefix.prefix)?,
        prefix_len: r.destination_prefix.prefix_length,
        next_hop: ip_of(&r.next_hop)?,
        loopback: r.loopback != 0,
        metric: r.metric,
    })
}

fn neighbour_row(r: &MibIpNetRow2) -> Option<NeighbourRow> {
    Some(NeighbourRow {
        luid: r.interface_luid,
        addr: ip_of(&r.address)?,
        mac: (r.physical_address_length == 6)
            .then(|| r.physical_address.first_chunk::<6>().copied())
            .flatten(),
        state: r.state,
    })
}
