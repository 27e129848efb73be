//! Platform logic of the Windows driver kept free of `unsafe` and of any
//! kernel type, so it runs (and is tested) on any host: the control
//! device's buffer and completion rules, the book of pended requests, the
//! switch OID payloads and their effect on the switch model, names and time,
//! the pool routine allocations use, the datapath's activation with the switch,
//! log records as `DbgPrintEx` lines,
//! the packet path's decisions (destinations, completions, buffers,
//! software offloads, what a pause waits for), and which host IP table
//! rows make the tunnel underlay.
//! `sys` is the thin glue that feeds these from IRPs and NDIS requests.

pub mod activation;
pub mod buffer;
pub mod dbgprint;
pub mod drain;
pub mod forward;
pub mod hyperv;
pub mod irp;
pub mod name;
pub mod oid;
pub mod pending;
pub mod pool;
pub mod time;
pub mod underlay;
