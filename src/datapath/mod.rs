//! The datapath: the one `ovs-system` datapath that exists while a Hyper-V
//! switch is attached. It owns the switch model, the vports, the flow table,
//! the event and upcall queues, and the datapath counters.

pub mod receive;
mod tunnel;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::conntrack::Conntrack;
use crate::event::{EventQueues, VportEvent};
use crate::flow::table::{self, ActionsFootprint, FlowTable};
use crate::meter::Meters;
use crate::names::{DP_FEATURES, Flags};
use crate::netlink::Errno;
use crate::ovs::{dp as odp, vport as ov};
use crate::pend::Wakeups;
use crate::percpu::{Cpu, PerCpu, add};
use crate::switch::{Change, Endpoint, NicIndex, NicState, PortId, PortKind, Switch, Veto};
use crate::sync::{Mutex, RwLock};
use crate::upcall::UpcallQueues;
use crate::vport::{MAX_UPCALL_PIDS, Vport, VportStats, VportType, Vports};

/// User features this datapath implements and accepts in `OVS_DP_CMD_SET`.
pub const SUPPORTED_FEATURES: u32 = odp::F_UNALIGNED | odp::F_VPORT_PIDS;

/// Switch endpoints and the vports bound to them: one lock, as both change
/// together on OIDs and vport commands.
#[derive(Debug, Default)]
pub struct Ports {
    pub switch: Switch,
    pub vports: Vports,
    /// The host's addresses, routes and neighbours, for tunnels.
    pub underlay: crate::tunnel::underlay::Underlay,
}

#[derive(Debug, Default)]
pub struct Queues {
    pub events: EventQueues,
    pub upcalls: UpcallQueues,
}

/// `struct ovs_dp_stats` and `ovs_dp_megaflow_stats` counters, one set per
/// processor.
#[derive(Debug, Default)]
pub struct DpStats {
    pub n_hit: AtomicU64,
    pub n_missed: AtomicU64,
    pub n_lost: AtomicU64,
    /// Packets dropped at the recirculation limit (not upcalls, so not in
    /// `n_lost`; Linux drops them with OVS_DROP_RECURSION_LIMIT).
    pub n_recirc_dropped: AtomicU64,
    /// Masks probed by lookups.
    pub n_mask_hit: AtomicU64,
    /// Lookups answered by the mask cache.
    pub n_cache_hit: AtomicU64,
}

/// The datapath counters summed over processors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DpTotals {
    pub n_hit: u64,
    pub n_missed: u64,
    pub n_lost: u64,
    pub n_recirc_dropped: u64,
    pub n_mask_hit: u64,
    pub n_cache_hit: u64,
}

/// Flow table occupancy as the datapath reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounts {
    pub flows: u64,
    pub masks: u32,
}

/// A flow's actions: the userspace bytes as validated, kept verbatim so dumps
/// return what was installed. Short lists (one to three outputs, a VLAN push
/// and an output, ...) live inside the flow, so a hit reads no other memory.
#[derive(Debug)]
pub struct FlowActions(ActionBytes);

#[derive(Debug)]
enum ActionBytes {
    Inline {
        len: u8,
        bytes: [u8; INLINE_ACTIONS],
    },
    Heap(Box<[u8]>),
}

/// Longest action list kept inline; the enum stays 32 bytes.
const INLINE_ACTIONS: usize = 30;

/// Longest action list a flow may have, in the bytes userspace sends (and
/// the datapath keeps): Linux's `MAX_ACTIONS_BUFSIZE`, beyond which its
/// `reserve_sfa_size` refused a list with `EMSGSIZE`. Linux measured its
/// converted copy, whose size userspace cannot predict (and since 6.14 no
/// longer checks it); the bytes kept here are the bytes sent, so the limit
/// is exact and predictable.
pub const MAX_ACTIONS_BUFSIZE: usize = 32 * 1024;

impl FlowActions {
    /// Keeps a validated action list; `EMSGSIZE` beyond
    /// `MAX_ACTIONS_BUFSIZE`.
    pub fn copy(bytes: &[u8]) -> Result<FlowActions, Errno> {
        if bytes.len() > MAX_ACTIONS_BUFSIZE {
            return Err(Errno::MsgSize);
        }
        let mut inline = [0u8; INLINE_ACTIONS];
        if let Ok(len) = u8::try_from(bytes.len())
            && let Some(dst) = inline.get_mut(..bytes.len())
        {
            dst.copy_from_slice(bytes);
            return Ok(FlowActions(ActionBytes::Inline { len, bytes: inline }));
        }
        let mut v = Vec::new();
        v.try_reserve_exact(bytes.len()).map_err(|_| Errno::NoMem)?;
        v.extend_from_slice(bytes);
        Ok(FlowActions(ActionBytes::Heap(v.into_boxed_slice())))
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.0 {
            ActionBytes::Inline { len, bytes } => {
                bytes.get(..usize::from(*len)).unwrap_or_default()
            }
            ActionBytes::Heap(b) => b,
        }
    }
}

impl ActionsFootprint for FlowActions {
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            ActionBytes::Inline { .. } => 0,
            ActionBytes::Heap(b) => b.len(),
        }
    }
}

#[derive(Debug)]
pub struct Datapath {
    pub ports: RwLock<Ports>,
    pub flows: RwLock<FlowTable<FlowActions>>,
    pub queues: Mutex<Queues>,
    pub meters: Meters,
    pub stats: PerCpu<DpStats>,
    /// Locks of its own, taken after `flows` (see `conntrack::table`).
    pub conntrack: Conntrack,
    user_features: AtomicU32,
}

/// Seed of the conntrack table's tuple hash.
const CONNTRACK_SEED: u64 = 0x5eed_c0de_0f0c_7a11;

/// A request to create a vport (`OVS_VPORT_CMD_NEW`), already parsed.
pub struct NewVport<'a> {
    pub name: &'a str,
    pub ty: VportType,
    pub port_no: Option<u32>,
    pub upcall_pids: &'a [u8],
}

fn copy_pids(raw: &[u8]) -> Result<Vec<u32>, Errno> {
    if raw.is_empty() || !raw.len().is_multiple_of(4) || raw.len() / 4 > MAX_UPCALL_PIDS {
        return Err(Errno::Inval);
    }
    let mut pids = Vec::new();
    pids.try_reserve_exact(raw.len() / 4)
        .map_err(|_| Errno::NoMem)?;
    pids.extend(
        raw.chunks_exact(4)
            .filter_map(|c| c.try_into().ok())
            .map(u32::from_ne_bytes),
    );
    Ok(pids)
}

fn endpoint_type(ep: &Endpoint) -> u32 {
    match ep.kind {
        PortKind::Internal => ov::TYPE_INTERNAL,
        PortKind::External | PortKind::Vm => ov::TYPE_NETDEV,
    }
}

/// The event a vport (or an endpoint no vport is bound to) is reported with.
fn post_change(
    cmd: u8,
    vport: Option<&Vport>,
    ep: &Endpoint,
    events: &mut EventQueues,
    wake: &mut Wakeups,
) {
    let ev = match vport {
        Some(v) => VportEvent {
            cmd,
            port_no: v.port_no,
            ovs_type: v.ty.ovs_type(),
            upcall_pids: &v.upcall_pids,
            name: &v.name,
        },
        None => VportEvent {
            cmd,
            port_no: ov::PORT_INVALID,
            ovs_type: endpoint_type(ep),
            upcall_pids: &[],
            name: &ep.name,
        },
    };
    events.post_vport(&ev, wake);
}

impl Datapath {
    /// A datapath whose per-processor counters serve `cpus` processors and
    /// whose hash tables mix `seed` into their seeds (0 keeps the fixed
    /// ones); `None` when out of memory.
    pub fn new(cpus: usize, seed: u64) -> Option<Datapath> {
        Some(Datapath {
            ports: RwLock::default(),
            flows: RwLock::new(FlowTable::with_seed(table::DEFAULT_SEED ^ seed)),
            queues: Mutex::default(),
            meters: Meters::new(crate::meter::max_meters(cpus)),
            stats: PerCpu::new(cpus)?,
            conntrack: Conntrack::new(CONNTRACK_SEED ^ seed.rotate_left(32))?,
            user_features: AtomicU32::new(0),
        })
    }

    /// Counts one event in a per-processor datapath counter.
    #[inline]
    pub fn count(&self, cpu: Cpu, field: impl Fn(&DpStats) -> &AtomicU64, n: u64) {
        let (s, excl) = self.stats.slot(cpu);
        add(field(s), n, excl);
    }

    pub fn totals(&self) -> DpTotals {
        let s = &self.stats;
        DpTotals {
            n_hit: s.sum(|c| c.n_hit.load(Relaxed)),
            n_missed: s.sum(|c| c.n_missed.load(Relaxed)),
            n_lost: s.sum(|c| c.n_lost.load(Relaxed)),
            n_recirc_dropped: s.sum(|c| c.n_recirc_dropped.load(Relaxed)),
            n_mask_hit: s.sum(|c| c.n_mask_hit.load(Relaxed)),
            n_cache_hit: s.sum(|c| c.n_cache_hit.load(Relaxed)),
        }
    }

    pub fn flow_counts(&self) -> FlowCounts {
        let flows = self.flows.read();
        FlowCounts {
            flows: flows.len() as u64,
            masks: flows.n_masks() as u32,
        }
    }

    pub fn user_features(&self) -> u32 {
        self.user_features.load(Relaxed)
    }

    /// `OVS_DP_ATTR_USER_FEATURES` in a SET: unknown or unimplemented bits
    /// are refused as Linux does (so userspace's probes learn the truth).
    pub fn set_user_features(&self, features: u32) -> Result<(), Errno> {
        if features & !SUPPORTED_FEATURES != 0 {
            log::info!(
                "user features {} refused: only {} are implemented",
                Flags(features, DP_FEATURES),
                Flags(SUPPORTED_FEATURES, DP_FEATURES)
            );
            return Err(Errno::OpNotSupp);
        }
        if features != self.user_features.swap(features, Relaxed) {
            log::info!("user features negotiated: {}", Flags(features, DP_FEATURES));
        }
        Ok(())
    }

    /// Applies one switch change: binds or unbinds the vport of that name
    /// and tells event subscribers.
    fn apply(&self, ports: &mut Ports, change: Change, wake: &mut Wakeups) {
        let (cmd, ep, binding) = match change {
            Change::Up(ep) => {
                let binding = Some((ep.port, ep.nic));
                (ov::CMD_NEW, ep, binding)
            }
            Change::Down(ep) => (ov::CMD_DEL, ep, None),
        };
        let vport_no = ports
            .vports
            .iter()
            .find(|v| !v.ty.is_tunnel() && v.name == ep.name)
            .map(|v| v.port_no);
        if let Some(v) = vport_no.and_then(|n| ports.vports.get_mut(n)) {
            v.binding = binding;
            let bound = if binding.is_some() {
                v.port_no
            } else {
                crate::switch::UNBOUND
            };
            ports.switch.bind(ep.port, ep.nic, bound);
        }
        ports.underlay.follow(&ports.switch);
        crate::diag::binding(&ep, vport_no, binding.is_some());
        let vport = vport_no.and_then(|n| ports.vports.get(n));
        post_change(cmd, vport, &ep, &mut self.queues.lock().events, wake);
    }

    pub fn nic_create(
        &self,
        port: PortId,
        nic: NicIndex,
        kind: PortKind,
        name: &str,
        mac: [u8; 6],
        mtu: u32,
    ) -> Result<(), Veto> {
        let created = self
            .ports
            .write()
            .switch
            .nic_create(port, nic, kind, name, mac, mtu);
        crate::diag::nic("created", port, nic, name, created.err());
        created
    }

    pub fn nic_connect(&self, port: PortId, nic: NicIndex, wake: &mut Wakeups) -> Result<(), Veto> {
        let mut ports = self.ports.write();
        if let Some(ch) = ports.switch.nic_connect(port, nic)? {
            self.apply(&mut ports, ch, wake);
        }
        Ok(())
    }

    pub fn nic_disconnect(
        &self,
        port: PortId,
        nic: NicIndex,
        wake: &mut Wakeups,
    ) -> Result<(), Veto> {
        let mut ports = self.ports.write();
        if let Some(ch) = ports.switch.nic_disconnect(port, nic)? {
            self.apply(&mut ports, ch, wake);
        }
        Ok(())
    }

    pub fn nic_delete(&self, port: PortId, nic: NicIndex, wake: &mut Wakeups) -> Result<(), Veto> {
        let mut ports = self.ports.write();
        if let Some(ch) = ports.switch.nic_delete(port, nic)? {
            self.apply(&mut ports, ch, wake);
        }
        Ok(())
    }

    pub fn nic_update(
        &self,
        port: PortId,
        nic: NicIndex,
        name: &str,
        mac: [u8; 6],
        mtu: u32,
        wake: &mut Wakeups,
    ) -> Result<(), Veto> {
        let mut ports = self.ports.write();
        let changes = ports.switch.nic_update(port, nic, name, mac, mtu);
        crate::diag::nic("updated", port, nic, name, changes.as_ref().err().copied());
        for ch in changes? {
            self.apply(&mut ports, ch, wake);
        }
        let p = &mut *ports;
        p.underlay.follow(&p.switch);
        Ok(())
    }

    /// Deletes a port and every NIC on it.
    pub fn port_delete(&self, port: PortId, wake: &mut Wakeups) {
        let nics: Vec<NicIndex> = {
            let ports = self.ports.read();
            let mut v = Vec::new();
            if v.try_reserve(ports.switch.len()).is_ok() {
                v.extend(ports.switch.nics_of(port));
            }
            v
        };
        for nic in nics {
            let _ = self.nic_delete(port, nic, wake);
        }
        log::info!("Hyper-V port {port} deleted");
    }

    /// `OVS_VPORT_CMD_NEW`: returns the new port number.
    pub fn vport_new(&self, req: &NewVport<'_>, wake: &mut Wakeups) -> Result<u32, Errno> {
        let pids = copy_pids(req.upcall_pids)?;
        let mut ports = self.ports.write();
        if ports.vports.by_name(req.name).is_some() {
            return Err(Errno::Exist);
        }
        let binding = if req.ty.is_tunnel() {
            if ports.vports.tunnel_conflict(&req.ty).is_some() {
                return Err(Errno::Exist);
            }
            None
        } else {
            // Bound while its NIC is connected; a NIC still coming up binds
            // when it connects.
            let ep = ports
                .switch
                .by_name(req.name)
                .ok_or_else(|| crate::diag::unmatched(req.name))?;
            (ep.state == NicState::Connected).then_some((ep.port, ep.nic))
        };
        let port_no = match req.port_no {
            Some(n) if n == ov::PORT_LOCAL => return Err(Errno::Inval),
            Some(n) => n,
            None => ports.vports.free_number().ok_or(Errno::FBig)?,
        };
        let mut name = String::new();
        name.try_reserve_exact(req.name.len())
            .map_err(|_| Errno::NoMem)?;
        name.push_str(req.name);
        let stats = VportStats::new(self.stats.cpus()).ok_or(Errno::NoMem)?;
        let vport = Vport {
            port_no,
            name,
            ty: req.ty,
            upcall_pids: pids,
            binding,
            stats,
        };
        ports.vports.insert(vport)?;
        crate::diag::vport_added(port_no, req.name, binding);
        if let Some((port, nic)) = binding {
            ports.switch.bind(port, nic, port_no);
        }
        if let Some(v) = ports.vports.get(port_no) {
            let ev = VportEvent {
                cmd: ov::CMD_NEW,
                port_no,
                ovs_type: v.ty.ovs_type(),
                upcall_pids: &v.upcall_pids,
                name: &v.name,
            };
            self.queues.lock().events.post_vport(&ev, wake);
        }
        Ok(port_no)
    }

    /// `OVS_VPORT_CMD_DEL`: the vport goes; its endpoint stays in the switch.
    pub fn vport_del(&self, port_no: u32, wake: &mut Wakeups) -> Result<Vport, Errno> {
        let mut ports = self.ports.write();
        let v = ports.vports.remove(port_no).ok_or(Errno::NoDev)?;
        log::info!("vport {port_no} \"{}\" deleted", v.name);
        if let Some((port, nic)) = v.binding {
            ports.switch.bind(port, nic, crate::switch::UNBOUND);
        }
        let ev = VportEvent {
            cmd: ov::CMD_DEL,
            port_no,
            ovs_type: v.ty.ovs_type(),
            upcall_pids: &v.upcall_pids,
            name: &v.name,
        };
        self.queues.lock().events.post_vport(&ev, wake);
        Ok(v)
    }

    /// `OVS_VPORT_CMD_SET`: a new upcall PID array.
    pub fn vport_set_pids(&self, port_no: u32, raw: &[u8]) -> Result<(), Errno> {
        let pids = copy_pids(raw)?;
        let mut ports = self.ports.write();
        let v = ports.vports.get_mut(port_no).ok_or(Errno::NoDev)?;
        v.upcall_pids = pids;
        Ok(())
    }

    /// Finds a vport number by name or number (the lookup vport commands share).
    pub fn find_vport(&self, name: Option<&str>, port_no: Option<u32>) -> Result<u32, Errno> {
        let ports = self.ports.read();
        let found = match (name, port_no) {
            (Some(n), _) => ports.vports.by_name(n),
            (None, Some(p)) => ports.vports.get(p),
            (None, None) => return Err(Errno::Inval),
        };
        found.map(|v| v.port_no).ok_or(Errno::NoDev)
    }

    /// Queues a conntrack event for the handles that joined its group.
    pub fn post_ct_event(
        &self,
        ev: &crate::conntrack::events::Event,
        now_ms: u64,
        wake: &mut Wakeups,
    ) {
        let mut buf = [0u8; crate::conntrack::events::MAX_LEN];
        if let Some(msg) = ev.render(&mut buf, now_ms).and_then(|n| buf.get(..n)) {
            self.queues.lock().events.post(ev.kind.group(), msg, wake);
        }
    }

    /// Frees every queue (switch detach), waking every pended request.
    pub fn shutdown(&self, wake: &mut Wakeups) {
        let mut q = self.queues.lock();
        q.events.clear(wake);
        q.upcalls.clear(wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Read, group};
    use crate::netlink::NlMsg;

    const MAC: [u8; 6] = [0, 0x15, 0x5d, 0, 0, 1];

    fn new_req(name: &str) -> NewVport<'_> {
        NewVport {
            name,
            ty: VportType::Netdev,
            port_no: None,
            upcall_pids: &[5, 0, 0, 0],
        }
    }

    #[test]
    fn actions_kept_verbatim_inline_or_on_the_heap() {
        assert_eq!(core::mem::size_of::<FlowActions>(), 32);
        for len in [0, 8, INLINE_ACTIONS, INLINE_ACTIONS + 1, 300] {
            let bytes: std::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            let a = FlowActions::copy(&bytes).unwrap();
            assert_eq!(a.bytes(), &bytes[..]);
            let inline = len <= INLINE_ACTIONS;
            assert_eq!(matches!(a.0, ActionBytes::Inline { .. }), inline);
            assert_eq!(a.heap_bytes(), if inline { 0 } else { len });
        }
    }

    #[test]
    fn action_lists_beyond_32k_are_emsgsize() {
        let most = std::vec![0u8; MAX_ACTIONS_BUFSIZE];
        assert_eq!(FlowActions::copy(&most).unwrap().heap_bytes(), most.len());
        let over = std::vec![0u8; MAX_ACTIONS_BUFSIZE + 4];
        assert_eq!(FlowActions::copy(&over).err(), Some(Errno::MsgSize));
    }

    fn next_cmd(dp: &Datapath, pid: u32) -> Option<(u8, std::string::String)> {
        match dp.queues.lock().events.read(pid, usize::MAX) {
            Read::Message(m) => {
                let msg = NlMsg::new_checked(&m).unwrap();
                Some((
                    msg.hdr.cmd,
                    msg.find(ov::ATTR_NAME).unwrap().str().unwrap().into(),
                ))
            }
            _ => None,
        }
    }

    /// The platform's seed reaches the hash tables through the device;
    /// without one they keep their fixed seeds.
    #[test]
    fn the_platform_seeds_the_hashes() {
        let fixed = Datapath::new(1, 0).unwrap();
        assert_eq!(fixed.flows.read().seed(), table::DEFAULT_SEED);
        let dev = crate::ioctl::Device::with_hash_seed(0x1234);
        dev.attach(1).unwrap();
        let seed = dev.with_datapath(|dp| dp.flows.read().seed()).unwrap();
        assert_eq!(seed, table::DEFAULT_SEED ^ 0x1234);
    }

    #[test]
    fn features() {
        let dp = Datapath::new(1, 0).unwrap();
        assert_eq!(
            dp.set_user_features(odp::F_UNALIGNED | (1 << 31)),
            Err(Errno::OpNotSupp)
        );
        assert_eq!(
            dp.set_user_features(odp::F_DISPATCH_UPCALL_PER_CPU),
            Err(Errno::OpNotSupp)
        );
        assert_eq!(dp.user_features(), 0);
        dp.set_user_features(SUPPORTED_FEATURES).unwrap();
        assert_eq!(dp.user_features(), SUPPORTED_FEATURES);
    }

    #[test]
    fn vport_binds_by_name_and_follows_the_nic() {
        let dp = Datapath::new(1, 0).unwrap();
        let mut w = Wakeups::new();
        dp.queues.lock().events.join(9, group::VPORT).unwrap();
        assert_eq!(dp.vport_new(&new_req("vm1"), &mut w), Err(Errno::NoDev));
        dp.nic_create(4, 0, PortKind::Vm, "vm1", MAC, 1500).unwrap();
        dp.nic_connect(4, 0, &mut w).unwrap();
        assert_eq!(next_cmd(&dp, 9), Some((ov::CMD_NEW, "vm1".into())));
        assert_eq!(dp.vport_new(&new_req("vm1"), &mut w), Ok(1));
        assert_eq!(next_cmd(&dp, 9), Some((ov::CMD_NEW, "vm1".into())));
        assert_eq!(dp.vport_new(&new_req("vm1"), &mut w), Err(Errno::Exist));
        assert_eq!(dp.ports.read().vports.get(1).unwrap().binding, Some((4, 0)));
        assert_eq!(dp.ports.read().switch.endpoint(4, 0).unwrap().vport, 1);
        dp.nic_disconnect(4, 0, &mut w).unwrap();
        assert_eq!(
            dp.ports.read().switch.endpoint(4, 0).unwrap().vport,
            crate::switch::UNBOUND
        );
        assert_eq!(next_cmd(&dp, 9), Some((ov::CMD_DEL, "vm1".into())));
        assert_eq!(dp.ports.read().vports.get(1).unwrap().binding, None);
        dp.nic_connect(4, 0, &mut w).unwrap();
        assert_eq!(next_cmd(&dp, 9), Some((ov::CMD_NEW, "vm1".into())));
        assert_eq!(dp.ports.read().vports.get(1).unwrap().binding, Some((4, 0)));
        assert_eq!(dp.ports.read().switch.endpoint(4, 0).unwrap().vport, 1);
        dp.vport_del(1, &mut w).unwrap();
        assert_eq!(next_cmd(&dp, 9), Some((ov::CMD_DEL, "vm1".into())));
        assert_eq!(
            dp.ports.read().switch.endpoint(4, 0).unwrap().vport,
            crate::switch::UNBOUND
        );
        assert!(dp.ports.read().switch.by_name("vm1").is_some());
    }

    #[test]
    fn tunnels_and_numbers() {
        let dp = Datapath::new(1, 0).unwrap();
        let mut w = Wakeups::new();
        let vx = NewVport {
            name: "vxlan_sys_4789",
            ty: VportType::Vxlan {
                dst_port: 4789,
                gbp: false,
            },
            port_no: Some(7),
            upcall_pids: &[1, 0, 0, 0],
        };
        assert_eq!(dp.vport_new(&vx, &mut w), Ok(7));
        let vx2 = NewVport { name: "vx2", ..vx };
        assert_eq!(dp.vport_new(&vx2, &mut w), Err(Errno::Exist));
        let bad_pids = NewVport {
            name: "g",
            ty: VportType::Gre,
            port_no: None,
            upcall_pids: &[1, 0],
        };
        assert_eq!(dp.vport_new(&bad_pids, &mut w), Err(Errno::Inval));
        let local = NewVport {
            name: "g",
            ty: VportType::Gre,
            port_no: Some(0),
            upcall_pids: &[1, 0, 0, 0],
        };
        assert_eq!(dp.vport_new(&local, &mut w), Err(Errno::Inval));
    }
}
