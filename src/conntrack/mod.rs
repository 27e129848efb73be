//! Connection tracking (Linux `net/openvswitch/conntrack.c` over
//! `nf_conntrack`; OVS's `lib/conntrack*.c`): the CT action.

pub mod action;
