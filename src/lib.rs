//! ovsext: the Open vSwitch datapath as a Hyper-V extensible-switch
//! forwarding extension. The portable core (everything outside `sys`) is
//! `no_std` + `alloc` and is what the simulator and the tests drive.
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;
#[cfg(not(windows))]
extern crate std;

pub mod actions;
pub mod conntrack;
pub mod datapath;
pub mod diag;
pub mod event;
pub mod family;
pub mod flow;
pub mod handle;
pub mod heap;
pub mod ioctl;
pub mod meter;
pub mod names;
pub mod netlink;
pub mod offload;
pub mod ovs;
pub mod packet;
pub mod pend;
pub mod percpu;
pub mod platform;
#[cfg(all(feature = "sim", not(windows)))]
pub mod sim;
pub mod status;
pub mod switch;
pub mod sync;
pub mod sys;
pub mod tunnel;
pub mod upcall;
pub mod vport;
