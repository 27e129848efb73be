//! Flows: the key, its extraction from frames, its netlink and text forms,
//! and the megaflow table.

pub mod attrs;
pub mod extract;
pub mod key;
pub mod table;
pub mod text;

pub use key::FlowKey;
