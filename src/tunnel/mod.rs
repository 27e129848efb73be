//! Tunnels (Linux `vport-vxlan.c`, `vport-geneve.c`, `vport-gre.c` and the
//! UDP tunnel code under them): the encapsulation headers, the underlay
//! (host addresses, routes, neighbours) that outer headers are addressed
//! from, encapsulation on output to a tunnel vport and decapsulation of
//! frames addressed to one.

pub mod decap;
pub mod encap;
pub mod geneve;
pub mod gre;
pub mod underlay;
pub mod vxlan;
