//! A frame in one line, as a network engineer reads it:
//! `udp 10.0.0.3:1000 > 10.0.0.4:4789, 46 bytes`.

use std::format;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::string::{String, ToString};

use crate::flow::FlowKey;
use crate::flow::extract::extract;
use crate::flow::key::VLAN_TAG_PRESENT;
use crate::flow::text::format_tcp_flags;

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_IPV6: u16 = 0x86dd;
const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;
const ICMPV6: u8 = 58;

pub fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// The one-line summary of an Ethernet frame.
pub fn summary(frame: &[u8]) -> String {
    let mut k = FlowKey::default();
    if extract(frame, None, &mut k).is_err() {
        return format!("{} bytes that do not parse as a frame", frame.len());
    }
    let vlan = if k.vlan_tci & VLAN_TAG_PRESENT != 0 {
        format!("vlan {} ", k.vlan_tci & 0x0fff)
    } else {
        String::new()
    };
    format!("{vlan}{}, {} bytes", payload(&k), frame.len())
}

fn payload(k: &FlowKey) -> String {
    match k.eth_type {
        ETH_IPV4 => {
            let (s, d) = (Ipv4Addr::from(k.ipv4_src), Ipv4Addr::from(k.ipv4_dst));
            l4(k, &s.to_string(), &d.to_string(), "ipv4", ICMP)
        }
        ETH_IPV6 => {
            let (s, d) = (Ipv6Addr::from(k.ipv6_src), Ipv6Addr::from(k.ipv6_dst));
            l4(k, &format!("[{s}]"), &format!("[{d}]"), "ipv6", ICMPV6)
        }
        ETH_ARP => {
            let (s, d) = (Ipv4Addr::from(k.ipv4_src), Ipv4Addr::from(k.ipv4_dst));
            match k.ip_proto {
                1 => format!("arp who-has {d} tell {s}"),
                2 => format!("arp reply {s} is-at {}", mac(&k.arp_sha)),
                op => format!("arp op {op} {s} > {d}"),
            }
        }
        ty => format!("{} > {} type 0x{ty:04x}", mac(&k.eth_src), mac(&k.eth_dst)),
    }
}

/// Transport in `proto src:port > dst:port` form; ICMP by type and code.
fn l4(k: &FlowKey, src: &str, dst: &str, l3: &str, icmp: u8) -> String {
    let (sp, dp) = (k.tp_src, k.tp_dst);
    match k.ip_proto {
        TCP => format!(
            "tcp {src}:{sp} > {dst}:{dp} [{}]",
            format_tcp_flags(k.tcp_flags)
        ),
        UDP => format!("udp {src}:{sp} > {dst}:{dp}"),
        SCTP => format!("sctp {src}:{sp} > {dst}:{dp}"),
        p if p == icmp => {
            let name = if p == ICMP { "icmp" } else { "icmpv6" };
            format!("{name} {src} > {dst} type {sp} code {dp}")
        }
        p => format!("{l3} {src} > {dst} proto {p}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> std::vec::Vec<u8> {
        crate::sim::parse_hex(s).unwrap()
    }

    #[test]
    fn summaries() {
        let udp = hex(
            "00155d00000400155d00000308004500002000010000401166c60a0000030a00000403e812b5000c000064656d6f",
        );
        assert_eq!(summary(&udp), "udp 10.0.0.3:1000 > 10.0.0.4:4789, 46 bytes");
        let arp = hex(
            "ffffffffffff00155d0000030806000108000604000100155d0000030a000003000000000000 0a000004"
                .replace(' ', "")
                .as_str(),
        );
        assert_eq!(
            summary(&arp),
            "arp who-has 10.0.0.4 tell 10.0.0.3, 42 bytes"
        );
        let lldp = hex("0180c200000e00155d00000388cc0000");
        assert_eq!(
            summary(&lldp),
            "00:15:5d:00:00:03 > 01:80:c2:00:00:0e type 0x88cc, 16 bytes"
        );
        assert_eq!(summary(&[1, 2, 3]), "3 bytes that do not parse as a frame");
    }
}
