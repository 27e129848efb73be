//! TCP tracking: the state machine and sequence/window checks of OVS's
//! userspace tracker (`lib/conntrack-tcp.c`, itself from pf: Guido van
//! Rooij's sequence tracking), states in its `CT_DPIF_TCPS_*` numbering,
//! which the Windows userspace also expects in conntrack dumps.
//!
//! One difference: a connection starts only with a SYN (no ACK). OVS and
//! Linux (`nf_conntrack_tcp_loose`) also pick up connections mid-stream;
//! here a segment of an unknown connection that is not a SYN is invalid.

use super::packet::*;
use super::timeouts::Timeout;

pub const CLOSED: u8 = 0;
pub const SYN_SENT: u8 = 2;
pub const SYN_RECV: u8 = 3;
pub const ESTABLISHED: u8 = 4;
pub const CLOSING: u8 = 7;
pub const FIN_WAIT_2: u8 = 9;
pub const TIME_WAIT: u8 = 10;

/// Window scale as kept per peer: the value, and whether the peer sent one.
const WSCALE_FLAG: u8 = 0x80;
const WSCALE_MASK: u8 = 0x0f;
/// Largest shift an ACK may be ahead by (`MAXACKWINDOW`): 64 KiB + 1500.
const MAX_ACK_WINDOW: i64 = 0xffff + 1500;

/// What an accepted segment tells of the window: its window (scaled by
/// `sws`), where its data ends, and what it acknowledges.
struct Edges {
    win: u32,
    end: u32,
    ack: u32,
    sws: u8,
}

impl Edges {
    /// Moves the sender's and the receiver's edges for the segment. Inlined
    /// into its two callers: it is on every segment's path.
    #[inline(always)]
    fn slide(&self, src: &mut Peer, dst: &mut Peer) {
        src.max_win = src.max_win.max(self.win);
        if seq_gt(self.end, src.seqlo) {
            src.seqlo = self.end;
        }
        let reach = self.ack.wrapping_add(self.win << self.sws);
        if seq_ge(reach, dst.seqhi) {
            dst.seqhi = self.ack.wrapping_add((self.win << self.sws).max(1));
        }
    }
}

/// One end of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    pub seqlo: u32,
    pub seqhi: u32,
    pub max_win: u32,
    pub state: u8,
    pub wscale: u8,
}

impl Peer {
    /// The window scale it announced, 0 if none.
    pub fn scale(&self) -> u8 {
        self.wscale & WSCALE_MASK
    }

    pub fn scaled(&self) -> bool {
        self.wscale & WSCALE_FLAG != 0
    }
}

/// Both ends: `[originator, responder]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tcp {
    pub peer: [Peer; 2],
}

/// What a segment does to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// Valid; the connection now times out after this long.
    Valid(Timeout),
    /// Valid but does not change the timeout.
    ValidKeep,
    /// A SYN reopening a connection both ends have closed: the old one
    /// goes and the segment starts a new one.
    Reopen,
    Invalid,
}

fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Flag combinations no segment carries (pf's normalisation checks).
pub fn invalid_flags(f: u16) -> bool {
    if f & TCP_SYN != 0 {
        if f & (TCP_RST | TCP_FIN) != 0 {
            return true;
        }
    } else if f & (TCP_ACK | TCP_RST) == 0 {
        return true;
    }
    f & TCP_ACK == 0 && f & (TCP_FIN | TCP_PSH | TCP_URG) != 0
}

/// May `seg` start a connection?
pub fn valid_new(seg: &Segment) -> bool {
    !invalid_flags(seg.flags) && seg.flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

impl Tcp {
    /// The state a connection starts in from its first segment.
    pub fn new(seg: &Segment) -> Tcp {
        let mut src = Peer {
            seqlo: seg.seq,
            seqhi: seg.seq.wrapping_add(seg.payload).wrapping_add(1),
            max_win: u32::from(seg.win).max(1),
            state: SYN_SENT,
            wscale: 0,
        };
        if seg.flags & TCP_SYN != 0 {
            src.seqhi = src.seqhi.wrapping_add(1);
            src.wscale = seg.wscale.map_or(0, |s| s | WSCALE_FLAG);
        }
        if src.scale() != 0 {
            src.max_win = src.max_win.div_ceil(1 << src.scale());
        }
        if seg.flags & TCP_FIN != 0 {
            src.seqhi = src.seqhi.wrapping_add(1);
        }
        let dst = Peer {
            seqhi: 1,
            max_win: 1,
            state: CLOSED,
            ..Peer::default()
        };
        Tcp { peer: [src, dst] }
    }

    /// `tcp_conn_update`: a segment in direction `reply`.
    pub fn update(&mut self, seg: &Segment, reply: bool) -> Update {
        let flags = seg.flags;
        if invalid_flags(flags) {
            return Update::Invalid;
        }
        let (a, b) = self.peer.split_at_mut(1);
        let (Some(orig), Some(resp)) = (a.first_mut(), b.first_mut()) else {
            return Update::Invalid;
        };
        let (src, dst) = if reply { (resp, orig) } else { (orig, resp) };
        if flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
            if dst.state >= FIN_WAIT_2 && src.state >= FIN_WAIT_2 {
                return Update::Reopen;
            } else if src.state <= SYN_SENT {
                src.state = SYN_SENT;
                return Update::Valid(Timeout::TcpFirstPacket);
            }
        }
        let (mut sws, mut dws) = (0u8, 0u8);
        if src.scaled() && dst.scaled() && flags & TCP_SYN == 0 {
            sws = src.scale();
            dws = dst.scale();
        }
        let mut win = u32::from(seg.win);
        let orig_seq = seg.seq;
        let mut seq = seg.seq;
        let mut ack = seg.ack;
        let mut end = seq.wrapping_add(seg.payload);
        if flags & TCP_SYN != 0 {
            end = end.wrapping_add(1);
        }
        if flags & TCP_FIN != 0 {
            end = end.wrapping_add(1);
        }
        let mut check_ackskew = true;
        if src.state < SYN_SENT {
            // The first segment from this end.
            if flags & TCP_SYN != 0 && dst.scaled() {
                match seg.wscale {
                    Some(s) => {
                        src.wscale = s | WSCALE_FLAG;
                        sws = s;
                        win = win.div_ceil(1 << sws);
                        dws = dst.scale();
                    }
                    None => {
                        // Neither end scales after all.
                        dst.max_win <<= dst.scale();
                        dst.wscale = 0;
                    }
                }
            }
            src.seqlo = seq;
            src.state = SYN_SENT;
            let reach = end.wrapping_add((dst.max_win << dws).max(1));
            if src.seqhi == 1 || seq_ge(reach, src.seqhi) {
                src.seqhi = reach;
                check_ackskew = false;
            }
            src.max_win = src.max_win.max(win);
        }
        if flags & TCP_ACK == 0 || (ack == 0 && flags & (TCP_ACK | TCP_RST) == TCP_ACK | TCP_RST) {
            ack = dst.seqlo;
        }
        if seq == end {
            // No data: ease the sequence checks.
            seq = src.seqlo;
            end = seq;
        }
        let ackskew = if check_ackskew {
            i64::from(dst.seqlo.wrapping_sub(ack) as i32)
        } else {
            0
        };
        let back = src.seqlo.wrapping_sub(dst.max_win << dws);
        let rst_ok = flags & TCP_RST == 0
            || orig_seq == src.seqlo
            || orig_seq == src.seqlo.wrapping_add(1)
            || orig_seq.wrapping_add(1) == src.seqlo;
        let in_window = seq_ge(src.seqhi, end)
            && seq_ge(seq, back)
            && ackskew >= -MAX_ACK_WINDOW
            && ackskew <= MAX_ACK_WINDOW << sws
            && rst_ok;
        let edges = Edges { win, end, ack, sws };
        if in_window {
            edges.slide(src, dst);
            if flags & TCP_FIN != 0 && src.state < CLOSING {
                src.state = CLOSING;
            }
            if flags & TCP_ACK != 0 {
                if dst.state == SYN_SENT {
                    dst.state = ESTABLISHED;
                } else if dst.state == CLOSING {
                    dst.state = FIN_WAIT_2;
                }
            }
            if flags & TCP_RST != 0 {
                src.state = TIME_WAIT;
                dst.state = TIME_WAIT;
            }
            let t = if src.state >= FIN_WAIT_2 && dst.state >= FIN_WAIT_2 {
                Timeout::TcpClosed
            } else if src.state >= CLOSING && dst.state >= CLOSING {
                Timeout::TcpFinWait
            } else if src.state < ESTABLISHED || dst.state < ESTABLISHED {
                Timeout::TcpOpening
            } else if src.state >= CLOSING || dst.state >= CLOSING {
                Timeout::TcpClosing
            } else {
                Timeout::TcpEstablished
            };
            Update::Valid(t)
        } else if (dst.state < SYN_SENT || dst.state >= FIN_WAIT_2 || src.state >= FIN_WAIT_2)
            && seq_ge(src.seqhi.wrapping_add(MAX_ACK_WINDOW as u32), end)
            && seq_ge(seq, src.seqlo.wrapping_sub(MAX_ACK_WINDOW as u32))
        {
            // Shotgunned SYNs, a stream picked up late, stray segments
            // right after a close: accepted without refreshing the timeout.
            edges.slide(src, dst);
            if flags & TCP_FIN != 0 && src.state < CLOSING {
                src.state = CLOSING;
            }
            if flags & TCP_RST != 0 {
                src.state = TIME_WAIT;
                dst.state = TIME_WAIT;
            }
            Update::ValidKeep
        } else {
            Update::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: u16, seq: u32, ack: u32, payload: u32) -> Segment {
        Segment {
            flags,
            seq,
            ack,
            win: 1000,
            payload,
            wscale: None,
        }
    }

    #[test]
    fn handshake_data_and_close() {
        let syn = seg(TCP_SYN, 100, 0, 0);
        assert!(valid_new(&syn));
        let mut c = Tcp::new(&syn);
        let synack = seg(TCP_SYN | TCP_ACK, 500, 101, 0);
        assert_eq!(c.update(&synack, true), Update::Valid(Timeout::TcpOpening));
        let ack = seg(TCP_ACK, 101, 501, 0);
        assert_eq!(
            c.update(&ack, false),
            Update::Valid(Timeout::TcpEstablished)
        );
        assert_eq!(
            (c.peer[0].state, c.peer[1].state),
            (ESTABLISHED, ESTABLISHED)
        );
        let data = seg(TCP_ACK | TCP_PSH, 101, 501, 100);
        assert_eq!(
            c.update(&data, false),
            Update::Valid(Timeout::TcpEstablished)
        );
        let data_ack = seg(TCP_ACK, 501, 201, 0);
        assert_eq!(
            c.update(&data_ack, true),
            Update::Valid(Timeout::TcpEstablished)
        );
        // Far outside the window: invalid.
        let wild = seg(TCP_ACK, 101 + 10_000_000, 501, 10);
        assert_eq!(c.update(&wild, false), Update::Invalid);
        let fin = seg(TCP_FIN | TCP_ACK, 201, 501, 0);
        assert_eq!(c.update(&fin, false), Update::Valid(Timeout::TcpClosing));
        let fin2 = seg(TCP_FIN | TCP_ACK, 501, 202, 0);
        assert_eq!(c.update(&fin2, true), Update::Valid(Timeout::TcpFinWait));
        let last = seg(TCP_ACK, 202, 502, 0);
        assert_eq!(c.update(&last, false), Update::Valid(Timeout::TcpClosed));
        // A new SYN on the closed pair reopens it.
        assert_eq!(c.update(&syn, false), Update::Reopen);
    }

    #[test]
    fn reset_and_bad_flags() {
        let mut c = Tcp::new(&seg(TCP_SYN, 100, 0, 0));
        c.update(&seg(TCP_SYN | TCP_ACK, 500, 101, 0), true);
        assert_eq!(
            c.update(&seg(TCP_RST, 101, 0, 0), false),
            Update::Valid(Timeout::TcpClosed)
        );
        assert_eq!(c.peer[1].state, TIME_WAIT);
        for f in [TCP_SYN | TCP_FIN, TCP_SYN | TCP_RST, 0, TCP_FIN, TCP_PSH] {
            assert!(invalid_flags(f), "{f:#x}");
            assert_eq!(c.update(&seg(f, 101, 0, 0), false), Update::Invalid);
        }
        assert!(!valid_new(&seg(TCP_ACK, 1, 1, 0)));
        assert!(!valid_new(&seg(TCP_SYN | TCP_ACK, 1, 1, 0)));
    }

    #[test]
    fn window_scaling() {
        let mut syn = seg(TCP_SYN, 1, 0, 0);
        syn.wscale = Some(7);
        let mut c = Tcp::new(&syn);
        assert!(c.peer[0].scaled());
        let mut synack = seg(TCP_SYN | TCP_ACK, 1000, 2, 0);
        synack.wscale = Some(2);
        assert_eq!(c.update(&synack, true), Update::Valid(Timeout::TcpOpening));
        assert_eq!((c.peer[0].scale(), c.peer[1].scale()), (7, 2));
        c.update(&seg(TCP_ACK, 2, 1001, 0), false);
        // The responder's window of 1000 is 4000 bytes once scaled: data
        // beyond the unscaled window fits.
        c.update(&seg(TCP_ACK, 1001, 2, 0), true);
        let big = seg(TCP_ACK, 2, 1001, 3000);
        assert_eq!(
            c.update(&big, false),
            Update::Valid(Timeout::TcpEstablished)
        );
    }
}
