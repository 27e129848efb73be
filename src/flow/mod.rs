//! Flows: the key, its extraction from frames, its netlink and (on the host)
//! text forms, and the megaflow table.

pub mod attrs;
pub mod extract;
pub mod key;
pub mod table;
// Host tooling only: the driver (the Windows build) compiles none of it.
#[cfg(all(feature = "text", not(windows)))]
pub mod text;

pub use key::FlowKey;
