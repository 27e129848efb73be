//! Where packets userspace executes (OVS_PACKET_CMD_EXECUTE) leave the
//! switch. The NBL send path that injects them is not wired yet: until it
//! is, they are dropped, and counted.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::datapath::receive::Egress;
use crate::packet::OwnedPacket;
use crate::switch::{NicIndex, PortId};

/// Executed packets dropped for want of a send path.
pub static UNSENT: AtomicU64 = AtomicU64::new(0);

pub struct Unsent;

impl Egress<OwnedPacket> for Unsent {
    fn send(&mut self, _port: PortId, _nic: NicIndex, _pkt: OwnedPacket) {
        UNSENT.fetch_add(1, Relaxed);
    }
}
