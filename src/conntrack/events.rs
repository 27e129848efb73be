//! Conntrack events for NETLINK_NETFILTER handles that joined the
//! `NFNLGRP_CONNTRACK_*` groups: NEW when a connection is committed,
//! UPDATE when a commit changes its mark or labels or it sees its first
//! reply, DESTROY when it goes (expiry, flush, replacement). A commit's
//! EVENTMASK (Linux's `IPCT_*` bits) selects which of its connection's
//! events are sent, by their cause (an UPDATE for a first reply needs
//! `IPCT_REPLY`, which OVS's default mask lacks); without one, all are.
//!
//! Every event names the helper and the master tuple when the connection
//! has them, as the Windows datapath's messages do (reference §4.6); Linux
//! leaves both out of DESTROY, and the master out of UPDATE.

use super::conn::{Conn, Ext};
use super::ctnetlink::{self, MSG_DELETE, MSG_NEW};
use crate::event::group;
use crate::netlink::{NLM_F_CREATE, NLM_F_EXCL, NlBuf};

/// `IPCT_*` bits of an event mask.
pub const IPCT_NEW: u32 = 1 << 0;
pub const IPCT_DESTROY: u32 = 1 << 2;
pub const IPCT_REPLY: u32 = 1 << 3;
pub const IPCT_MARK: u32 = 1 << 7;
pub const IPCT_LABEL: u32 = 1 << 10;
/// Every event (no EVENTMASK given).
pub const ALL: u16 = u16::MAX;

/// Largest rendered event (IPv6 tuples, master tuple included, TCP
/// protoinfo, labels, helper).
pub const MAX_LEN: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    New,
    /// What changed: `IPCT_MARK`, `IPCT_LABEL`, `IPCT_REPLY`.
    Update(u32),
    Destroy,
}

impl Kind {
    /// The event queue group its listeners joined.
    pub fn group(self) -> u32 {
        match self {
            Kind::New => group::CT_NEW,
            Kind::Update(_) => group::CT_UPDATE,
            Kind::Destroy => group::CT_DESTROY,
        }
    }

    /// Its causes, as `IPCT_*` bits.
    fn causes(self) -> u32 {
        match self {
            Kind::New => IPCT_NEW,
            Kind::Update(changed) => changed,
            Kind::Destroy => IPCT_DESTROY,
        }
    }
}

/// One event about a connection (a copy of it and its extension as they
/// were).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub id: u32,
    pub conn: Conn,
    pub ext: Option<Ext>,
}

/// Does the connection's event mask let `kind` through (one of its causes)?
pub fn wanted(conn: &Conn, kind: Kind) -> bool {
    u32::from(conn.eventmask) & kind.causes() != 0
}

impl Event {
    /// Writes the message into `buf`; its length (`None`: it did not fit).
    pub fn render(&self, buf: &mut [u8], now_ms: u64) -> Option<usize> {
        let (ty, flags) = match self.kind {
            Kind::New => (MSG_NEW, NLM_F_CREATE | NLM_F_EXCL),
            Kind::Update(_) => (MSG_NEW, 0),
            Kind::Destroy => (MSG_DELETE, 0),
        };
        let hdr = ctnetlink::header(ty, flags, 0, 0, self.conn.orig.v6 == 1);
        let mut b = NlBuf::new(buf);
        ctnetlink::render(&mut b, &hdr, &self.conn, self.ext.as_ref(), self.id, now_ms).ok()?;
        Some(b.len())
    }
}
