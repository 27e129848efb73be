//! How long a connection lives without packets: OVS's userspace tracker's
//! default timeout policy (`lib/conntrack-tp.c`), in seconds:
//!
//! | state | s |
//! |---|---|
//! | TCP, first packet (SYN sent) | 30 |
//! | TCP, opening (either end before ESTABLISHED) | 30 |
//! | TCP, established | 86400 |
//! | TCP, closing (one end closing) | 900 |
//! | TCP, FIN wait (both ends closing) | 45 |
//! | TCP, closed (both ends at FIN_WAIT_2 or after, or reset) | 30 |
//! | UDP and other protocols, first packet | 60 |
//! | UDP and other protocols, more packets one way | 60 |
//! | UDP and other protocols, both ways | 30 |
//! | ICMP, query | 60 |
//! | ICMP, replied | 30 |

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    TcpFirstPacket,
    TcpOpening,
    TcpEstablished,
    TcpClosing,
    TcpFinWait,
    TcpClosed,
    OtherFirst,
    OtherMultiple,
    OtherBidir,
    IcmpFirst,
    IcmpReply,
}

impl Timeout {
    pub fn ms(self) -> u64 {
        let s: u64 = match self {
            Timeout::TcpFirstPacket | Timeout::TcpOpening | Timeout::TcpClosed => 30,
            Timeout::TcpEstablished => 24 * 60 * 60,
            Timeout::TcpClosing => 15 * 60,
            Timeout::TcpFinWait => 45,
            Timeout::OtherFirst | Timeout::OtherMultiple | Timeout::IcmpFirst => 60,
            Timeout::OtherBidir | Timeout::IcmpReply => 30,
        };
        s * 1000
    }
}
