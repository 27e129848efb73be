//! ovsext: the Open vSwitch datapath as a Hyper-V extensible-switch
//! forwarding extension. The portable core (everything outside `sys`) is
//! `no_std` + `alloc` and is what the simulator and the tests drive.
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

extern crate alloc;
#[cfg(not(windows))]
extern crate std;

pub mod netlink;
pub mod packet;
pub mod status;
#[cfg(windows)]
mod sys;
pub mod flow;
pub mod ovs;
