//! A connection as `ovs-dpctl dump-conntrack` prints it (OVS's
//! `ct_dpif_format_entry` without statistics or verbosity).

use core::fmt::{self, Display, Formatter};
use core::net::{Ipv4Addr, Ipv6Addr};

use super::conn::{Conn, L4};
use super::tuple::*;

/// TCP state names (`CT_DPIF_TCPS_*` numbering).
const TCP_STATES: [&str; 11] = [
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "CLOSE_WAIT",
    "FIN_WAIT_1",
    "CLOSING",
    "LAST_ACK",
    "FIN_WAIT_2",
    "TIME_WAIT",
];

struct TupleText<'a>(&'a Tuple);

impl Display for TupleText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let t = self.0;
        if t.v6 == 1 {
            let (s, d) = (Ipv6Addr::from(t.src), Ipv6Addr::from(t.dst));
            write!(f, "src={s},dst={d}")?;
        } else {
            let (s, d) = (
                Ipv4Addr::from(first4(&t.src)),
                Ipv4Addr::from(first4(&t.dst)),
            );
            write!(f, "src={s},dst={d}")?;
        }
        if t.is_icmp() {
            let [ty, code] = t.dport.to_be_bytes();
            write!(f, ",id={},type={ty},code={code}", t.sport)
        } else {
            write!(f, ",sport={},dport={}", t.sport, t.dport)
        }
    }
}

impl Display for Conn {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.orig.proto {
            IPPROTO_ICMP => f.write_str("icmp")?,
            IPPROTO_ICMPV6 => f.write_str("icmpv6")?,
            IPPROTO_TCP => f.write_str("tcp")?,
            IPPROTO_UDP => f.write_str("udp")?,
            IPPROTO_SCTP => f.write_str("sctp")?,
            2 => f.write_str("igmp")?,
            p => write!(f, "{p}")?,
        }
        write!(
            f,
            ",orig=({}),reply=({})",
            TupleText(&self.orig),
            TupleText(&self.reply)
        )?;
        if self.orig.zone != 0 {
            write!(f, ",zone={}", self.orig.zone)?;
        }
        if self.mark != 0 {
            write!(f, ",mark={}", self.mark)?;
        }
        if self.labels != [0; 16] {
            f.write_str(",labels=0x")?;
            // Userspace prints the 128-bit value most significant first.
            for b in self.labels.iter().rev() {
                write!(f, "{b:02x}")?;
            }
        }
        if let L4::Tcp(t) = &self.l4 {
            let state = t.peer[0].state.max(t.peer[1].state);
            let name = TCP_STATES
                .get(usize::from(state))
                .copied()
                .unwrap_or("CLOSED");
            write!(f, ",protoinfo=(state={name})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::conn::Conn;
    use super::super::packet::{self, tests as p};
    use std::string::ToString;

    #[test]
    fn as_dpctl_prints_it() {
        let f = p::ipv4_frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            6,
            &p::tcp(40000, 80, 2, 1, 0, 0),
        );
        let v = packet::parse(&f, None, 3, false).unwrap();
        let mut c = Conn::new(&v, v.tuple.reverse().unwrap(), 0).unwrap();
        c.mark = 9;
        assert_eq!(
            c.to_string(),
            "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=40000,dport=80),\
             reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,dport=40000),zone=3,mark=9,\
             protoinfo=(state=SYN_SENT)"
        );
        let e = p::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, &[8, 0, 0, 0, 0, 7, 0, 1]);
        let v = packet::parse(&e, None, 0, false).unwrap();
        let c = Conn::new(&v, v.tuple.reverse().unwrap(), 0).unwrap();
        assert_eq!(
            c.to_string(),
            "icmp,orig=(src=10.0.0.1,dst=10.0.0.2,id=7,type=8,code=0),\
             reply=(src=10.0.0.2,dst=10.0.0.1,id=7,type=0,code=0)"
        );
    }
}
