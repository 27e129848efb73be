//! UDP and every protocol without a state machine of its own (IGMP, SCTP,
//! GRE, ESP, ...), tracked by tuple as OVS's `lib/conntrack-other.c` does:
//! a first packet, more packets one way, packets both ways.

use super::timeouts::Timeout;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Other {
    First,
    Multiple,
    Bidir,
}

impl Other {
    /// A packet in direction `reply`; the timeout the connection gets.
    pub fn update(&mut self, reply: bool) -> Timeout {
        if reply {
            *self = Other::Bidir;
        } else if *self == Other::First {
            *self = Other::Multiple;
        }
        self.timeout()
    }

    pub fn timeout(self) -> Timeout {
        match self {
            Other::First => Timeout::OtherFirst,
            Other::Multiple => Timeout::OtherMultiple,
            Other::Bidir => Timeout::OtherBidir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_multiple_bidir() {
        let mut o = Other::First;
        assert_eq!(o.update(false), Timeout::OtherMultiple);
        assert_eq!(o.update(true), Timeout::OtherBidir);
        assert_eq!(o.update(false), Timeout::OtherBidir);
    }
}
