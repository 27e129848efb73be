//! What several benches measure with.

use ovsext::packet::Packet;

/// A received frame as the datapath sees an NBL: a handle to bytes it does
/// not own (pointer-sized, cheap to pass along), read-only on this path.
#[derive(Clone, Copy)]
pub struct Frame(pub &'static [u8]);

impl Packet for Frame {
    fn data(&self) -> &[u8] {
        self.0
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        None
    }
    fn push_front(&mut self, _: usize) -> Option<&mut [u8]> {
        None
    }
    fn pull_front(&mut self, _: usize) -> bool {
        false
    }
    fn truncate(&mut self, len: usize) {
        self.0 = &self.0[..self.0.len().min(len)];
    }
    fn oob_vlan(&self) -> Option<u16> {
        None
    }
    fn set_oob_vlan(&mut self, _: Option<u16>) {}
    fn try_clone(&self) -> Option<Frame> {
        Some(*self)
    }
}
