//! What the driver tells an operator, through the `log` facade: the switch
//! attaching, pausing and going; ports and NICs coming and going; vports
//! bound to them (or why not); features negotiated; requests refused;
//! queues overrun; packets dropped. The platform installs the logger
//! (`DbgPrintEx` on Windows, stderr in the simulator).
//!
//! Records that can come once per request or per packet pass a rate limit
//! first: a few per second each, the rest counted and reported at the next
//! upkeep tick. A record is formatted only when it is written, and nothing
//! here runs on a flow hit.

use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::names;
use crate::netlink::Errno;
use crate::status::NtStatus;
use crate::switch::{Endpoint, NicIndex, PortId, Veto};

/// At most `per_tick` records between two upkeep ticks (about a second).
pub struct RateLimit {
    what: &'static str,
    per_tick: u32,
    used: AtomicU32,
    suppressed: AtomicU64,
}

impl RateLimit {
    pub const fn new(what: &'static str, per_tick: u32) -> RateLimit {
        RateLimit {
            what,
            per_tick,
            used: AtomicU32::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// True if one more record may be written now; else it is counted.
    pub fn allow(&self) -> bool {
        if self.used.load(Relaxed) < self.per_tick
            && self.used.fetch_add(1, Relaxed) < self.per_tick
        {
            return true;
        }
        self.suppressed.fetch_add(1, Relaxed);
        false
    }

    /// A new period: reports what was held back in the last one.
    fn tick(&self) {
        self.used.store(0, Relaxed);
        let n = self.suppressed.swap(0, Relaxed);
        if n > 0 {
            log::warn!("{n} more {} not logged", self.what);
        }
    }
}

/// Refused requests.
pub static REQUESTS: RateLimit = RateLimit::new("refused requests", 10);
/// Dropped packets.
pub static PACKETS: RateLimit = RateLimit::new("dropped packets", 10);
/// Overrun event and upcall queues.
pub static QUEUES: RateLimit = RateLimit::new("queue overruns", 10);

/// Upkeep (about once a second): the rate limits start a new period.
pub fn tick() {
    REQUESTS.tick();
    PACKETS.tick();
    QUEUES.tick();
}

/// A family, command or errno by name, or by number if it has none.
struct Named(Option<&'static str>, i64);

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.1),
        }
    }
}

/// A request was refused with `errno`.
pub fn refused(ty: u16, cmd: u8, pid: u32, errno: Errno) {
    if REQUESTS.allow() {
        let family = Named(names::family(ty), i64::from(ty));
        let command = Named(names::command(ty, cmd), i64::from(cmd));
        log::warn!(
            "refused {family} {command} from pid {pid}: {}",
            errno.name()
        );
    }
}

/// The attribute that made a request fail its command's policy.
pub fn bad_attr(ty: u16, len: usize) {
    if REQUESTS.allow() {
        log::warn!("attribute type {ty} ({len} bytes) has the wrong size or form");
    }
}

/// A required attribute was missing from a request.
pub fn missing_attr(ty: usize) {
    if REQUESTS.allow() {
        log::warn!("required attribute type {ty} is missing");
    }
}

/// Why the receive path dropped a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// The frame does not parse.
    BadFrame,
    /// Its upcall could not be queued (queue full or out of memory).
    UpcallLost,
    /// Recirculated beyond the limit.
    RecircLimit,
    /// Output to a vport no Hyper-V NIC is bound to.
    OutputUnbound,
    /// Its new connection did not fit in the connection tracker's table
    /// (and no unreplied connection could be dropped for it).
    CtFull,
    /// Its new connection was committed in a zone at its limit.
    CtZoneLimit(u16),
    /// No address and port were free to NAT its new connection to, in a
    /// zone.
    NatExhausted(u16),
    /// NAT could not rewrite it.
    NatFailed,
    /// Its new connection clashed with others committed at the same time,
    /// again and again.
    CtClash,
    /// No memory for its new connection.
    CtNoMemory,
}

impl fmt::Display for Drop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Drop::BadFrame => "the frame does not parse",
            Drop::UpcallLost => "its upcall could not be queued",
            Drop::RecircLimit => "recirculated beyond the limit",
            Drop::OutputUnbound => "output to a vport with no Hyper-V NIC bound",
            Drop::CtFull => "the connection table is full",
            Drop::CtZoneLimit(zone) => {
                return write!(f, "conntrack zone {zone} is at its connection limit");
            }
            Drop::NatExhausted(zone) => {
                return write!(f, "no NAT address and port free in conntrack zone {zone}");
            }
            Drop::NatFailed => "NAT could not rewrite it",
            Drop::CtClash => "its connection kept clashing with others committed at once",
            Drop::CtNoMemory => "no memory for its connection",
        })
    }
}

/// A packet was dropped (the caller counts it), on a vport if it had one.
pub fn dropped(why: Drop, port_no: Option<u32>) {
    if PACKETS.allow() {
        match port_no {
            Some(p) => log::warn!("packet dropped on vport {p}: {why}"),
            None => log::warn!("packet dropped: {why}"),
        }
    }
}

/// An event or upcall queue was full; what did not fit is lost (counted).
pub fn overrun(queue: &str, pid: u32) {
    if QUEUES.allow() {
        log::warn!("{queue} queue of pid {pid} overrun: a message was lost");
    }
}

/// The datapath could not be allocated when the switch attached.
pub fn attach_failed() -> NtStatus {
    log::error!("switch attach failed: out of memory for the datapath");
    NtStatus::INSUFFICIENT_RESOURCES
}

/// A flow (or other) table is at its limit.
pub fn table_full(table: &str, limit: usize) {
    if REQUESTS.allow() {
        log::warn!("{table} table full ({limit} entries): new entries are refused");
    }
}

/// The flows hold all the memory they may.
pub fn flow_memory_full(limit: usize) {
    if REQUESTS.allow() {
        log::warn!("flow memory full ({limit} bytes): new flows and longer actions are refused");
    }
}

/// A Hyper-V NIC was created or updated (renamed), or the switch refused it.
pub fn nic(what: &str, port: PortId, nic: NicIndex, name: &str, veto: Option<Veto>) {
    match veto {
        None => log::info!("Hyper-V port {port} nic {nic} \"{name}\" {what}"),
        Some(v) => log::warn!("Hyper-V port {port} nic {nic} \"{name}\" not {what}: {v:?}"),
    }
}

/// A NIC came up or went down, and the vport of its name (if any) was bound
/// to it or unbound.
pub fn binding(ep: &Endpoint, vport: Option<u32>, up: bool) {
    let (port, nic, name) = (ep.port, ep.nic, &ep.name);
    match (vport, up) {
        (Some(v), true) => {
            log::info!("vport {v} bound to Hyper-V port {port} nic {nic} \"{name}\"")
        }
        (Some(v), false) => {
            log::info!("vport {v} unbound: Hyper-V port {port} nic {nic} \"{name}\" went down")
        }
        (None, true) => {
            log::info!("Hyper-V port {port} nic {nic} \"{name}\" connected; no vport has its name")
        }
        (None, false) => log::info!("Hyper-V port {port} nic {nic} \"{name}\" went down"),
    }
}

/// A vport was added, bound to a connected NIC of its name or waiting for one.
pub fn vport_added(port_no: u32, name: &str, binding: Option<(PortId, NicIndex)>) {
    match binding {
        Some((port, nic)) => {
            log::info!("vport {port_no} \"{name}\" added, bound to Hyper-V port {port} nic {nic}")
        }
        None => {
            log::info!("vport {port_no} \"{name}\" added, not bound: its NIC is not connected yet")
        }
    }
}

/// No Hyper-V NIC has the name a new vport asks for (`ENODEV`).
pub fn unmatched(name: &str) -> Errno {
    if REQUESTS.allow() {
        log::warn!(
            "no vport \"{name}\": no Hyper-V port or NIC has that name (VM NICs are named with Set-VMNetworkAdapterOVSPort)"
        );
    }
    Errno::NoDev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_holds_back_and_counts() {
        let r = RateLimit::new("tests", 2);
        assert!(r.allow() && r.allow());
        assert!(!r.allow() && !r.allow());
        assert_eq!(r.suppressed.load(Relaxed), 2);
        r.tick();
        assert_eq!(r.suppressed.load(Relaxed), 0);
        assert!(r.allow());
    }
}
