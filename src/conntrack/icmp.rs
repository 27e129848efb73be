//! ICMP and ICMPv6 queries (echo, timestamp, information, address mask,
//! node information) as connections, as OVS's `lib/conntrack-icmp.c`: a
//! query, then replied. Errors are not connections: they are RELATED to the
//! connection of the packet they quote (see `packet::Kind::IcmpError`).

use super::timeouts::Timeout;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp {
    pub replied: bool,
}

impl Icmp {
    pub fn update(&mut self, reply: bool) -> Timeout {
        self.replied |= reply;
        self.timeout()
    }

    pub fn timeout(self) -> Timeout {
        if self.replied {
            Timeout::IcmpReply
        } else {
            Timeout::IcmpFirst
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_then_reply() {
        let mut i = Icmp { replied: false };
        assert_eq!(i.update(false), Timeout::IcmpFirst);
        assert_eq!(i.update(true), Timeout::IcmpReply);
        assert_eq!(i.update(false), Timeout::IcmpReply);
    }
}
