//! Flows: the key, its extraction from frames, its netlink and text forms,
//! and the megaflow table.

pub mod key;

pub use key::FlowKey;
