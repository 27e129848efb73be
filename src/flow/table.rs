//! The megaflow table.
