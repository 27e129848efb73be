//! A connection as `ovs-dpctl dump-conntrack` prints it (OVS's
//! `ct_dpif_format_entry` without statistics or verbosity).

use core::fmt::{self, Display, Formatter};
use core::net::{Ipv4Addr, Ipv6Addr};

use super::conn::{Conn, Ext, L4};
use super::tcp;
use super::tuple::*;

const IPPROTO_IGMP: u8 = 2;
const IPPROTO_DCCP: u8 = 33;
const IPPROTO_UDPLITE: u8 = 136;

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

/// A connection with its extension, displayed as a dump line.
pub struct Entry<'a> {
    pub conn: &'a Conn,
    pub ext: Option<&'a Ext>,
}

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

/// The protocol's name where userspace knows one (`ct_dpif_format_ipproto`).
fn proto_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        IPPROTO_ICMP => "icmp",
        IPPROTO_ICMPV6 => "icmpv6",
        IPPROTO_TCP => "tcp",
        IPPROTO_UDP => "udp",
        IPPROTO_SCTP => "sctp",
        IPPROTO_UDPLITE => "udplite",
        IPPROTO_DCCP => "dccp",
        IPPROTO_IGMP => "igmp",
        _ => return None,
    })
}

/// The one TCP state shown without verbosity: the further end's, with the
/// states a Linux tracker and userspace's see differently made one
/// (`coalesce_tcp_state`: FIN_WAIT_2 shows as TIME_WAIT, SYN_RECV as
/// ESTABLISHED).
fn coalesced_tcp_state(orig: u8, reply: u8) -> u8 {
    match orig.max(reply) {
        tcp::FIN_WAIT_2 => tcp::TIME_WAIT,
        tcp::SYN_RECV => tcp::ESTABLISHED,
        s => s,
    }
}

/// Bytes as userspace's `ds_put_hex` writes them: most significant first,
/// leading zero bytes left out, the first one without its leading zero.
struct Hex<'a>(&'a [u8]);

impl Display for Hex<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut digits = self.0.iter().skip_while(|&&b| b == 0);
        match digits.next() {
            None => f.write_str("0"),
            Some(first) => {
                write!(f, "0x{first:x}")?;
                digits.try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl Display for Entry<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let c = self.conn;
        match proto_name(c.orig.proto) {
            Some(name) => f.write_str(name)?,
            None => write!(f, "{}", c.orig.proto)?,
        }
        write!(
            f,
            ",orig=({}),reply=({})",
            TupleText(&c.orig),
            TupleText(&c.reply)
        )?;
        if c.orig.zone != 0 {
            write!(f, ",zone={}", c.orig.zone)?;
        }
        if c.mark != 0 {
            write!(f, ",mark={}", c.mark)?;
        }
        if c.labels != [0; 16] {
            // Userspace prints the 128-bit value most significant first.
            let mut be = c.labels;
            be.reverse();
            write!(f, ",labels={}", Hex(&be))?;
        }
        if let L4::Tcp(t) = &c.l4 {
            let state = coalesced_tcp_state(t.peer[0].state, t.peer[1].state);
            match TCP_STATES.get(usize::from(state)) {
                Some(name) => write!(f, ",protoinfo=(state={name})")?,
                None => write!(f, ",protoinfo=(state=[{state}])")?,
            }
        }
        if let Some(h) = self.ext.and_then(|e| e.helper) {
            write!(f, ",helper={}", h.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::action::Helper;
    use super::super::packet::{self, tests as p};
    use super::*;
    use std::string::{String, ToString};

    fn syn(proto: u8, zone: u16) -> Conn {
        let l4 = if proto == IPPROTO_TCP {
            p::tcp(40000, 80, 2, 1, 0, 0)
        } else {
            std::vec![0x9c, 0x40, 0, 80, 0, 8, 0, 0]
        };
        let f = p::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], proto, &l4);
        let v = packet::parse(&f, None, zone, false).unwrap();
        Conn::new(&v, v.tuple.reverse().unwrap(), 0).unwrap()
    }

    fn line(conn: &Conn, ext: Option<&Ext>) -> String {
        Entry { conn, ext }.to_string()
    }

    /// The line of `c` from where `field` starts.
    fn from(c: &Conn, field: &str) -> String {
        let l = line(c, None);
        l[l.find(field).unwrap()..].to_string()
    }

    #[test]
    fn as_dpctl_prints_it() {
        let mut c = syn(IPPROTO_TCP, 3);
        c.mark = 9;
        assert_eq!(
            line(&c, None),
            "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=40000,dport=80),\
             reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,dport=40000),zone=3,mark=9,\
             protoinfo=(state=SYN_SENT)"
        );
        let e = p::ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, &[8, 0, 0, 0, 0, 7, 0, 1]);
        let v = packet::parse(&e, None, 0, false).unwrap();
        let c = Conn::new(&v, v.tuple.reverse().unwrap(), 0).unwrap();
        assert_eq!(
            line(&c, None),
            "icmp,orig=(src=10.0.0.1,dst=10.0.0.2,id=7,type=8,code=0),\
             reply=(src=10.0.0.2,dst=10.0.0.1,id=7,type=0,code=0)"
        );
    }

    #[test]
    fn labels_print_without_leading_zeros() {
        let mut c = syn(IPPROTO_UDP, 0);
        let tail = |c: &Conn| from(c, ",labels");
        // The first byte is the least significant.
        c.labels[0] = 1;
        assert_eq!(tail(&c), ",labels=0x1");
        c.labels[1] = 0x0a;
        assert_eq!(tail(&c), ",labels=0xa01");
        c.labels = [0; 16];
        c.labels[15] = 0xf0;
        c.labels[0] = 0x0f;
        assert_eq!(tail(&c), ",labels=0xf000000000000000000000000000000f");
    }

    #[test]
    fn tcp_states_coalesce_as_userspace_prints_them() {
        let mut c = syn(IPPROTO_TCP, 0);
        let shown = |c: &Conn| from(c, "protoinfo=");
        let L4::Tcp(mut t) = c.l4 else {
            panic!("a TCP connection");
        };
        for (orig, reply, want) in [
            (tcp::SYN_SENT, tcp::CLOSED, "SYN_SENT"),
            (tcp::SYN_RECV, tcp::SYN_SENT, "ESTABLISHED"),
            (tcp::ESTABLISHED, tcp::ESTABLISHED, "ESTABLISHED"),
            (5, 6, "FIN_WAIT_1"),
            (tcp::CLOSING, tcp::ESTABLISHED, "CLOSING"),
            (8, 7, "LAST_ACK"),
            (tcp::FIN_WAIT_2, tcp::FIN_WAIT_2, "TIME_WAIT"),
            (tcp::CLOSING, tcp::FIN_WAIT_2, "TIME_WAIT"),
            (tcp::TIME_WAIT, tcp::FIN_WAIT_2, "TIME_WAIT"),
            (11, 0, "[11]"),
        ] {
            (t.peer[0].state, t.peer[1].state) = (orig, reply);
            c.l4 = L4::Tcp(t);
            assert_eq!(shown(&c), std::format!("protoinfo=(state={want})"));
        }
    }

    #[test]
    fn protocols_userspace_names_are_named() {
        for (proto, name) in [
            (IPPROTO_UDP, "udp,"),
            (IPPROTO_SCTP, "sctp,"),
            (IPPROTO_UDPLITE, "udplite,"),
            (IPPROTO_DCCP, "dccp,"),
            (IPPROTO_IGMP, "igmp,"),
            (47, "47,"),
        ] {
            let mut c = syn(IPPROTO_UDP, 0);
            (c.orig.proto, c.reply.proto) = (proto, proto);
            assert!(line(&c, None).starts_with(name), "{}", line(&c, None));
        }
    }

    #[test]
    fn the_helper_follows_the_protoinfo() {
        let c = syn(IPPROTO_TCP, 0);
        for (helper, name) in [(Helper::Ftp, "ftp"), (Helper::Tftp, "tftp")] {
            let ext = Ext {
                helper: Some(helper),
                ..Ext::default()
            };
            let want = std::format!("protoinfo=(state=SYN_SENT),helper={name}");
            assert!(line(&c, Some(&ext)).ends_with(&want));
        }
        // A master tuple alone shows nothing without verbosity.
        let ext = Ext {
            master: Some(c.orig),
            ..Ext::default()
        };
        assert!(line(&c, Some(&ext)).ends_with("protoinfo=(state=SYN_SENT)"));
    }
}
