//! One tracked connection: its tuples in both directions, its protocol
//! state, expiry, metadata (mark, labels) and counters.

use core::num::NonZeroU32;

use super::action::Helper;
use super::icmp::Icmp;
use super::other::Other;
use super::packet::{Kind, View};
use super::tcp::{self, Tcp, Update};
use super::tuple::Tuple;

/// Protocol state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp(Tcp),
    Icmp(Icmp),
    Other(Other),
}

/// Packets and bytes (of the IP packet) one way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

/// Aligned to a cache line, so that the read of a record (three lines)
/// never straddles a fourth.
#[repr(align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn {
    /// The tuple of the first packet.
    pub orig: Tuple,
    /// The tuple replies carry (the reverse of `orig`, translated by NAT).
    pub reply: Tuple,
    pub expires_ms: u64,
    /// `[original, reply]`.
    pub counters: [Counter; 2],
    pub mark: u32,
    pub labels: [u8; 16],
    pub l4: L4,
    /// A packet has been seen in the reply direction (Linux's
    /// `IPS_SEEN_REPLY`): original-direction packets are ESTABLISHED from
    /// then on, NEW before.
    pub seen_reply: bool,
    /// Which events (`events::IPCT_*` bits) listeners get about it.
    pub eventmask: u16,
    /// Where the table keeps its `Ext`, if it has one (a slot number + 1).
    pub(super) ext: Option<NonZeroU32>,
}

/// What only a connection with a helper, or one a helper expected, carries
/// (Linux's conntrack extensions): the table stores it apart from the
/// common record, which every connection carries, so that stays small.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ext {
    /// The helper reading its payload (committed with one).
    pub helper: Option<Helper>,
    /// The control connection's original tuple, for a connection a helper
    /// expected: its original-direction packets are RELATED until a reply.
    pub master: Option<Tuple>,
    /// `[original, reply]`: how a helper's rewrites moved the sequence
    /// numbers of each direction.
    pub seqadj: [SeqAdj; 2],
    /// `[original, reply]`: where the FTP helper saw lines start.
    pub lines: [super::ftp::Lines; 2],
}

impl Ext {
    /// Whether a connection needs it stored (it says more than nothing).
    pub fn needed(&self) -> bool {
        *self != Ext::default()
    }
}

/// How a helper's rewrite of a TCP payload moved the sequence numbers of
/// one direction (Linux's `nf_ct_seqadj`): segments after `pos` move by
/// `after`, those before by `before`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqAdj {
    pub pos: u32,
    pub before: i32,
    pub after: i32,
}

impl SeqAdj {
    /// The offset for a segment of this direction starting at `seq`.
    pub fn seq(&self, seq: u32) -> i32 {
        if seq.wrapping_sub(self.pos) as i32 > 0 {
            self.after
        } else {
            self.before
        }
    }

    /// The offset to take off an acknowledgement of this direction's data.
    pub fn ack(&self, ack: u32) -> i32 {
        let unmoved = ack.wrapping_sub(self.before as u32);
        if unmoved.wrapping_sub(self.pos) as i32 > 0 {
            self.after
        } else {
            self.before
        }
    }

    /// A rewrite of the segment at `seq` that changed its length by `delta`.
    /// Only one position is kept: once set, it moves only forwards, so a
    /// segment before it rewritten again (sent again) changes nothing
    /// (Linux's `nf_ct_seqadj_set`).
    pub fn moved(&self, seq: u32, delta: i32) -> SeqAdj {
        if self.before != self.after && seq.wrapping_sub(self.pos) as i32 <= 0 {
            return *self;
        }
        SeqAdj {
            pos: seq,
            before: self.after,
            after: self.after.wrapping_add(delta),
        }
    }
}

/// What a packet did to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Valid,
    Invalid,
    /// The connection is over and the packet starts a new one.
    Reopen,
}

impl Conn {
    /// A connection `view` starts, whose replies will carry `reply`; `None`
    /// if the packet may not start one (a TCP segment that is not a SYN).
    pub fn new(view: &View, reply: Tuple, now_ms: u64) -> Option<Conn> {
        let (l4, timeout) = match view.kind {
            Kind::Tcp(seg) => {
                if !tcp::valid_new(&seg) {
                    return None;
                }
                (
                    L4::Tcp(Tcp::new(&seg)),
                    super::timeouts::Timeout::TcpFirstPacket,
                )
            }
            Kind::IcmpError { .. } => return None,
            Kind::Plain if view.tuple.is_icmp() => {
                let [ty, _] = view.tuple.dport.to_be_bytes();
                if !super::tuple::icmp_is_query(ty, view.tuple.v6 == 1) {
                    return None;
                }
                let i = Icmp { replied: false };
                (L4::Icmp(i), i.timeout())
            }
            Kind::Plain => (L4::Other(Other::First), Other::First.timeout()),
        };
        Some(Conn {
            orig: view.tuple,
            reply,
            expires_ms: now_ms.saturating_add(timeout.ms()),
            counters: [
                Counter {
                    packets: 1,
                    bytes: u64::from(view.len),
                },
                Counter::default(),
            ],
            mark: 0,
            labels: [0; 16],
            l4,
            seen_reply: false,
            eventmask: super::events::ALL,
            ext: None,
        })
    }

    /// A packet of the connection in direction `reply`.
    pub fn update(&mut self, view: &View, reply: bool, now_ms: u64) -> Step {
        let timeout = match (&mut self.l4, view.kind) {
            (L4::Tcp(t), Kind::Tcp(seg)) => match t.update(&seg, reply) {
                Update::Valid(t) => Some(t),
                Update::ValidKeep => None,
                Update::Reopen => return Step::Reopen,
                Update::Invalid => return Step::Invalid,
            },
            (L4::Icmp(i), Kind::Plain) => Some(i.update(reply)),
            (L4::Other(o), Kind::Plain) => Some(o.update(reply)),
            _ => return Step::Invalid,
        };
        if let Some(t) = timeout {
            self.expires_ms = now_ms.saturating_add(t.ms());
        }
        self.seen_reply |= reply;
        if let Some(c) = self.counters.get_mut(usize::from(reply)) {
            c.packets = c.packets.saturating_add(1);
            c.bytes = c.bytes.saturating_add(u64::from(view.len));
        }
        Step::Valid
    }

    /// Whether `t` is its reply tuple (or else its original); `None` if it
    /// is neither.
    pub fn direction(&self, t: &Tuple) -> Option<bool> {
        if self.orig == *t {
            Some(false)
        } else if self.reply == *t {
            Some(true)
        } else {
            None
        }
    }

    /// Whether `t` is one of its tuples.
    pub fn has(&self, t: &Tuple) -> bool {
        self.direction(t).is_some()
    }

    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites at 100 and then 200 (each two bytes longer); the first
    /// segment sent again, and rewritten again, moves nothing (Linux's
    /// `nf_ct_seqadj_set` moves the position only forwards once set):
    /// data between the two still moves by two, acknowledged or sent.
    #[test]
    fn a_rewrite_sent_again_keeps_the_later_position() {
        let a = SeqAdj::default().moved(100, 2);
        assert_eq!((a.pos, a.before, a.after), (100, 0, 2));
        let b = a.moved(200, 2);
        assert_eq!((b.pos, b.before, b.after), (200, 2, 4));
        assert_eq!(b.moved(100, 2), b, "the first again");
        assert_eq!(b.moved(200, 2), b, "the second again");
        assert_eq!((b.seq(150), b.seq(201)), (2, 4));
        assert_eq!((b.ack(202), b.ack(203)), (2, 4));
        // Past the position, a rewrite moves it on; wrapping included.
        let c = SeqAdj::default().moved(u32::MAX - 1, -3).moved(5, 1);
        assert_eq!((c.pos, c.before, c.after), (5, -3, -2));
    }
}
