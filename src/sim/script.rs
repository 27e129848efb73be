//! Parsing of `ovsext-sim replay` script lines.

use std::format;
use std::string::String;
use std::vec::Vec;

use super::DEFAULT_OUTLEN;
use crate::ioctl::code;
use crate::switch::{PortId, PortKind};
use crate::tunnel::underlay::{Prefix, Route};

#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    SwitchUp,
    SwitchDown,
    /// `NetEventFilterPreDetach`: the switch announces the detach.
    SwitchPreDetach,
    Port {
        id: PortId,
        kind: PortKind,
        name: &'a str,
        mac: [u8; 6],
    },
    Unport {
        id: PortId,
    },
    Open {
        h: u32,
    },
    Close {
        h: u32,
    },
    Ioctl {
        h: u32,
        code: u32,
        code_text: &'a str,
        input: Vec<u8>,
        outlen: usize,
    },
    Rx {
        port: PortId,
        frame: Vec<u8>,
    },
    Tick {
        ms: u64,
    },
    /// `ovs-dpctl show` as comment lines.
    Show,
    /// `ovs-dpctl dump-flows` as comment lines.
    DumpFlows,
    /// `ovs-dpctl dump-conntrack` as comment lines.
    DumpConntrack,
    /// The tracker's fragment and expectation counters as comment lines.
    FragStatus,
    HostIp(Prefix),
    Route(Route),
    Neigh {
        ip: core::net::IpAddr,
        mac: [u8; 6],
    },
}

fn parse_ip(s: &str) -> Result<core::net::IpAddr, String> {
    s.parse().map_err(|_| format!("bad address: {s}"))
}

/// `<ip>/<len>`.
fn parse_prefix(s: &str) -> Result<Prefix, String> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| format!("bad prefix (want <ip>/<len>): {s}"))?;
    Prefix::new(parse_ip(ip)?, number(len, "prefix length")?)
        .ok_or_else(|| format!("bad prefix length: {s}"))
}

fn number<T: TryFrom<u64>>(s: &str, what: &str) -> Result<T, String> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    };
    v.ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| format!("bad {what}: {s}"))
}

/// Contiguous hex, either case; `-` is empty.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    if s == "-" {
        return Ok(Vec::new());
    }
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex: {s}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("bad hex: {s}"))
        })
        .collect()
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    let mut mac = [0u8; 6];
    if parts.len() != 6 {
        return Err(format!("bad mac: {s}"));
    }
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16)
            .ok()
            .filter(|_| p.len() == 2)
            .ok_or_else(|| format!("bad mac: {s}"))?;
    }
    Ok(mac)
}

/// The MAC a port gets when the script names none: Hyper-V's prefix and the port id.
fn default_mac(id: PortId) -> [u8; 6] {
    let b = id.to_be_bytes();
    [0x00, 0x15, 0x5d, b[1], b[2], b[3]]
}

fn ioctl_code(s: &str) -> Result<u32, String> {
    Ok(match s {
        "GET_PID" => code::GET_PID,
        "READ" => code::READ,
        "READ_EVENT" => code::READ_EVENT,
        "READ_PACKET" => code::READ_PACKET,
        "WRITE" => code::WRITE,
        "TRANSACT" => code::TRANSACT,
        _ => number(s, "ioctl code")?,
    })
}

/// Parses one line; `Ok(None)` for blank lines and comments.
pub fn parse_line(line: &str) -> Result<Option<Command<'_>>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let w: Vec<&str> = line.split_whitespace().collect();
    let arity = |n: core::ops::RangeInclusive<usize>| {
        if n.contains(&(w.len() - 1)) {
            Ok(())
        } else {
            Err(format!("wrong number of arguments: {line}"))
        }
    };
    let arg = |i: usize| w.get(i).copied().unwrap_or_default();
    let cmd = match arg(0) {
        "switch" => {
            arity(1..=1)?;
            match arg(1) {
                "up" => Command::SwitchUp,
                "down" => Command::SwitchDown,
                "predetach" => Command::SwitchPreDetach,
                other => {
                    return Err(format!("switch takes up, down or predetach, not {other}"));
                }
            }
        }
        "port" => {
            arity(3..=4)?;
            let id = number(arg(1), "port id")?;
            let kind = match arg(2) {
                "external" => PortKind::External,
                "internal" => PortKind::Internal,
                "vm" => PortKind::Vm,
                other => return Err(format!("bad port kind: {other}")),
            };
            let mac = if w.len() == 5 {
                parse_mac(arg(4))?
            } else {
                default_mac(id)
            };
            Command::Port {
                id,
                kind,
                name: arg(3),
                mac,
            }
        }
        "unport" => {
            arity(1..=1)?;
            Command::Unport {
                id: number(arg(1), "port id")?,
            }
        }
        "open" => {
            arity(1..=1)?;
            Command::Open {
                h: number(arg(1), "handle")?,
            }
        }
        "close" => {
            arity(1..=1)?;
            Command::Close {
                h: number(arg(1), "handle")?,
            }
        }
        "ioctl" => {
            arity(3..=4)?;
            let outlen = if w.len() == 5 {
                number(arg(4), "output length")?
            } else {
                DEFAULT_OUTLEN
            };
            if outlen > 16 << 20 {
                return Err(format!("output length too large: {outlen}"));
            }
            Command::Ioctl {
                h: number(arg(1), "handle")?,
                code: ioctl_code(arg(2))?,
                code_text: arg(2),
                input: parse_hex(arg(3))?,
                outlen,
            }
        }
        "rx" => {
            arity(2..=2)?;
            Command::Rx {
                port: number(arg(1), "port id")?,
                frame: parse_hex(arg(2))?,
            }
        }
        "tick" => {
            arity(1..=1)?;
            Command::Tick {
                ms: number(arg(1), "milliseconds")?,
            }
        }
        "hostip" => {
            arity(1..=1)?;
            Command::HostIp(parse_prefix(arg(1))?)
        }
        "route" => {
            arity(2..=2)?;
            let dst = parse_prefix(arg(1))?;
            let gateway = match arg(2) {
                "direct" => None,
                gw => {
                    let gw = parse_ip(gw)?;
                    if gw.is_ipv4() != dst.addr.is_ipv4() {
                        return Err(format!("gateway of another family: {line}"));
                    }
                    Some(gw)
                }
            };
            Command::Route(Route { dst, gateway })
        }
        "neigh" => {
            arity(2..=2)?;
            Command::Neigh {
                ip: parse_ip(arg(1))?,
                mac: parse_mac(arg(2))?,
            }
        }
        "show" => {
            arity(0..=0)?;
            Command::Show
        }
        "dump-flows" => {
            arity(0..=0)?;
            Command::DumpFlows
        }
        "dump-conntrack" => {
            arity(0..=0)?;
            Command::DumpConntrack
        }
        "frag-status" => {
            arity(0..=0)?;
            Command::FragStatus
        }
        other => return Err(format!("unknown command: {other}")),
    };
    Ok(Some(cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(parse_line("  # c"), Ok(None));
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line("switch up"), Ok(Some(Command::SwitchUp)));
        assert_eq!(
            parse_line("switch predetach"),
            Ok(Some(Command::SwitchPreDetach))
        );
        assert_eq!(
            parse_line("port 3 vm vm1 00:15:5D:00:00:0a"),
            Ok(Some(Command::Port {
                id: 3,
                kind: PortKind::Vm,
                name: "vm1",
                mac: [0, 0x15, 0x5d, 0, 0, 10]
            }))
        );
        assert_eq!(
            parse_line("port 0x102 external eth0"),
            Ok(Some(Command::Port {
                id: 0x102,
                kind: PortKind::External,
                name: "eth0",
                mac: [0, 0x15, 0x5d, 0, 1, 2]
            }))
        );
        assert_eq!(
            parse_line("ioctl 1 GET_PID - 4"),
            Ok(Some(Command::Ioctl {
                h: 1,
                code: code::GET_PID,
                code_text: "GET_PID",
                input: std::vec![],
                outlen: 4
            }))
        );
        assert_eq!(
            parse_line("ioctl 2 0x1234 0aFF"),
            Ok(Some(Command::Ioctl {
                h: 2,
                code: 0x1234,
                code_text: "0x1234",
                input: std::vec![10, 255],
                outlen: DEFAULT_OUTLEN
            }))
        );
        assert_eq!(
            parse_line("rx 1 -"),
            Ok(Some(Command::Rx {
                port: 1,
                frame: std::vec![]
            }))
        );
        assert_eq!(parse_line("tick 10"), Ok(Some(Command::Tick { ms: 10 })));
        let ip = |s: &str| s.parse::<core::net::IpAddr>().unwrap();
        assert_eq!(
            parse_line("hostip 2001:db8::1/64"),
            Ok(Some(Command::HostIp(
                Prefix::new(ip("2001:db8::1"), 64).unwrap()
            )))
        );
        assert_eq!(
            parse_line("route 0.0.0.0/0 10.0.0.1"),
            Ok(Some(Command::Route(Route {
                dst: Prefix::new(ip("0.0.0.0"), 0).unwrap(),
                gateway: Some(ip("10.0.0.1"))
            })))
        );
        assert_eq!(
            parse_line("route 10.0.0.0/8 direct"),
            Ok(Some(Command::Route(Route {
                dst: Prefix::new(ip("10.0.0.0"), 8).unwrap(),
                gateway: None
            })))
        );
        assert_eq!(
            parse_line("neigh 10.0.0.1 02:00:00:00:00:01"),
            Ok(Some(Command::Neigh {
                ip: ip("10.0.0.1"),
                mac: [2, 0, 0, 0, 0, 1]
            }))
        );
        assert_eq!(parse_line("show"), Ok(Some(Command::Show)));
        assert_eq!(parse_line("dump-flows"), Ok(Some(Command::DumpFlows)));
        assert_eq!(
            parse_line("dump-conntrack"),
            Ok(Some(Command::DumpConntrack))
        );
        assert_eq!(parse_line("frag-status"), Ok(Some(Command::FragStatus)));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "switch",
            "switch sideways",
            "port x vm a",
            "port 1 pc a",
            "port 1 vm a 00:11",
            "ioctl 1 NOPE -",
            "ioctl 1 READ abc",
            "ioctl",
            "frobnicate",
            "open -1",
            "tick",
            "hostip 10.0.0.1",
            "hostip 10.0.0.1/33",
            "hostip 10.0.0.300/24",
            "route 10.0.0.0/8",
            "route 10.0.0.0/8 ::1",
            "route ::/0 nowhere",
            "neigh 10.0.0.1",
            "neigh 10.0.0.1 02:00",
            "show all",
            "dump-flows 1",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }
}
