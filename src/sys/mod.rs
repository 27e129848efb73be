//! Windows kernel glue (NDIS filter, control device), and the one
//! instruction the portable core needs that safe Rust cannot issue
//! (`prefetch`, built for every target). Only this module may use `unsafe`.
//!
//! What runs at which IRQL, and which locks it takes:
//! - IRP dispatch (`device`): PASSIVE_LEVEL. The core's locks raise to
//!   DISPATCH_LEVEL while held (`irql`).
//! - The pended-IRP queue lock (`csq`): a spin lock held at DISPATCH_LEVEL,
//!   only around the queue's own bookkeeping. It is never held while a lock
//!   of the core is taken, nor taken while one is held: wakeups are
//!   completed after the core released its locks, and the CSQ calls
//!   `complete_canceled_irp` (which calls the core) without it.
//! - `device::complete_wakeups`: any IRQL up to DISPATCH_LEVEL (the receive
//!   path, OIDs); takes the queue lock, completes IRPs.
//! - OID requests (`oid`): up to DISPATCH_LEVEL (switch OIDs come at
//!   PASSIVE_LEVEL). The port table lock (`hyperv`, a core `Mutex`) is taken
//!   before the core's locks and never while one is held.
//! - Interface aliases (netio) are looked up at PASSIVE_LEVEL only, before
//!   the port table lock is taken; above PASSIVE_LEVEL a physical NIC is
//!   named by its friendly name.
//! - Activation (`hyperv::activate`) runs from FilterRestart or the
//!   NetEventSwitchActivate PnP event, at PASSIVE_LEVEL: it waits for the
//!   queries it issues. NetEventFilterPreDetach (PASSIVE_LEVEL) shuts the
//!   drain without waiting; the pause that follows waits.
//! - The underlay feed (`underlay`): netio's IP Helper tables are read, and
//!   next hops resolved, in an NDIS I/O work item at PASSIVE_LEVEL; it takes
//!   the ports lock only to swap the tables in. Change notifications and
//!   the upkeep timer only queue it.
//! - `time::now`: any IRQL.
//! - The send path (`ingress`): DISPATCH_LEVEL (raised to when NDIS calls
//!   below it), on the processor's lane (`lane`), which the handler claims
//!   for its duration. The core's locks are taken inside
//!   `Datapath::receive_batch`; the egress it calls only allocates NBLs and
//!   edits their forwarding contexts. NBLs are sent and completed, and
//!   wakeups completed, after the core returned and the lane was released,
//!   so a completion NDIS makes inline finds no lock and no claimed lane.
//! - Send completions (`egress::send_complete`): up to DISPATCH_LEVEL; no
//!   lock of the core.
//! - `FilterPause` waits (PASSIVE_LEVEL) until the drain (`path::DRAIN`)
//!   is empty: no send handler or executed-packet egress running, no NBL of
//!   ours out below. Detach frees the lanes, then the pools.
#![allow(unsafe_code)]

#[cfg(all(windows, not(target_arch = "x86_64")))]
compile_error!("the NDIS bindings are laid out and checked for x64 only");

mod csq;
mod device;
mod driver;
mod egress;
mod filter;
mod hyperv;
mod ingress;
pub(crate) mod irql;
mod lane;
mod log;
mod nbl;
mod ndis;
mod oid;
mod packet;
mod path;
pub mod prefetch;
mod runtime;
mod time;
mod timer;
mod underlay;
mod wstr;
