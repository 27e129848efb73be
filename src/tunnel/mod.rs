//! Tunnels (Linux `vport-vxlan.c`, `vport-geneve.c`, `vport-gre.c` and the
//! UDP tunnel code under them): the encapsulation headers, the underlay
//! (host addresses, routes, neighbours) that outer headers are addressed
//! from, encapsulation on output to a tunnel vport and decapsulation of
//! frames addressed to one.
//!
//! How a packet goes through:
//! - `set(tunnel(...))` gives the packet an egress tunnel key (validated at
//!   install as Linux's `validate_and_copy_set_tun`); the flow key keeps the
//!   tunnel the packet arrived by, as in Linux.
//! - OUTPUT to a tunnel vport ([`encap`]) completes the inner frame's
//!   offloads in software, resolves the source address and next hop in the
//!   [`underlay`], builds the outer headers and sends the frame through the
//!   uplink (the switch's external port) from the host NIC's MAC. Output to
//!   a tunnel vport without an egress key is dropped.
//! - A frame from any port to a host address and a tunnel's UDP port, or
//!   GRE carrying Ethernet ([`decap`]), loses its outer headers; the tunnel
//!   vport becomes its input port and the outer fields its tunnel key.
//! - An outer IPv4 or IPv6 fragment to a host address carrying UDP (while a
//!   VXLAN or Geneve vport exists) or GRE (while the GRE vport does) is held
//!   in the conntrack reassembler (its own key namespace, the same memory
//!   budget, timeout and counters) and the whole datagram decapsulated; a
//!   reassembled datagram that is no tunnel's is switched whole and cut to
//!   its fragments' size again on output.
//!
//! Where this differs from Linux, and why:
//! - IPv6 extension headers other than a fragment header are not walked:
//!   such frames are switched as they are (Linux's IP stack would).
//! - Outer fragments to the host are reassembled even when the datagram
//!   turns out to be no tunnel's (its UDP port is in the first fragment
//!   only); it then reaches the host cut again to its fragments' size,
//!   where Linux switches the fragments as they are and the host's stack
//!   reassembles. Their IPv4 header checksums are not verified (the
//!   reassembled header gets a new one); Linux's IP stack verifies each.
//! - DF is read from the outer IPv4 header into the received tunnel key
//!   (Linux never sets it on receive; OVS's userspace datapath does), as the
//!   datapath's interface asks.
//! - Geneve options must be whole TLVs on receive (Linux passes any bytes);
//!   GRE with bits other than checksum, key and sequence is dropped (Linux
//!   drops only routing and versions).
//! - The outer IPv6 flow label is 0 (Linux derives one from the flow hash);
//!   the IPv4 identification is 0 with DF and a per-processor counter
//!   without (Linux hashes per destination).
//! - The UDP source port spreads the datapath's flow hash of the inner key
//!   (Linux: the skb's hash) exactly as `udp_flow_src_port` spreads it.
//! - A next hop with no neighbour entry drops the packet (counted as a
//!   transmit drop of the tunnel vport) and is recorded for the platform to
//!   resolve ([`resolve`]); Linux queues the packet while resolving.
//! - The egress tunnel key does not survive recirculation (Linux keeps the
//!   skb's tunnel dst): it is parsed from the action list being run.
//! - On Windows the underlay is the host vNIC's rows of the IP Helper
//!   address, route and neighbour tables, read whole at PASSIVE_LEVEL when
//!   they change (`platform::underlay` decides which rows count); Linux
//!   looks routes and neighbours up per packet.

pub mod decap;
pub mod encap;

/// Outer header sizes and protocols, one set for both directions.
const ETH_HLEN: usize = 14;
const UDP_HLEN: usize = 8;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_GRE: u8 = 47;

pub mod geneve;
pub mod gre;
pub mod resolve;
pub mod underlay;
pub mod vxlan;
