//! Test helpers: frames built by hand, checksums recomputed from scratch
//! (independently of the code under test), action lists, and an `Env` that
//! records what the actions asked for.

use std::string::String;
use std::vec;
use std::vec::Vec;

use super::{Env, Userspace, Verdict};
use crate::flow::FlowKey;
use crate::packet::{OwnedPacket, Packet};

pub const DST: [u8; 6] = [0x00, 0x15, 0x5d, 0x00, 0x00, 0x02];
pub const SRC: [u8; 6] = [0x00, 0x15, 0x5d, 0x00, 0x00, 0x01];
pub const IP4_SRC: [u8; 4] = [10, 0, 0, 1];
pub const IP4_DST: [u8; 4] = [10, 0, 0, 2];
pub const IP6_SRC: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const IP6_DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;

// ---- Frames ----

/// Ethernet header with optional in-band tags.
pub fn eth(tags: &[(u16, u16)], ty: u16) -> Vec<u8> {
    let mut f = [DST, SRC].concat();
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ty.to_be_bytes());
    f
}

pub fn tcp(sport: u16, dport: u16) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend_from_slice(b"hello, world");
    h
}

pub fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let payload = b"datagram!";
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

pub fn icmp(ty: u8, code: u8) -> Vec<u8> {
    let mut h = vec![ty, code, 0, 0, 0x12, 0x34, 0, 1];
    h.extend_from_slice(b"ping data");
    h
}

pub fn sctp(sport: u16, dport: u16) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]);
    // A DATA chunk of 20 bytes.
    h.extend_from_slice(&[0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    h
}

/// An IPv4 packet (after `l2`) carrying `l4`, all checksums right.
pub fn ipv4(l2: Vec<u8>, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = l2;
    let total = (20 + l4.len()) as u16;
    f.extend_from_slice(&[0x45, 0x10]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0xab, 0xcd, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&IP4_SRC);
    f.extend_from_slice(&IP4_DST);
    f.extend_from_slice(l4);
    fix_checksums(&mut f);
    f
}

/// An IPv6 packet (after `l2`) carrying `l4`, all checksums right.
pub fn ipv6(l2: Vec<u8>, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = l2;
    f.extend_from_slice(&[0x6a, 0xb1, 0x23, 0x45]);
    f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    f.extend_from_slice(&[proto, 64]);
    f.extend_from_slice(&IP6_SRC);
    f.extend_from_slice(&IP6_DST);
    f.extend_from_slice(l4);
    fix_checksums(&mut f);
    f
}

// ---- Checksums from scratch ----

fn ones_sum(data: &[u8]) -> u32 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    sum
}

fn finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// CRC32c, bit by bit.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Where the test's own parser finds L3: past in-band tags.
pub fn l3_offset(f: &[u8]) -> (u16, usize) {
    let mut at = 12;
    loop {
        if f.len() < at + 2 {
            return (0, at);
        }
        let ty = u16::from_be_bytes([f[at], f[at + 1]]);
        if ty == 0x8100 || ty == 0x88a8 {
            at += 4;
        } else {
            return (ty, at + 2);
        }
    }
}

/// The L4 protocol, offset and length of an IPv4 or IPv6 (no extension
/// headers) packet, and its pseudo-header sum.
fn l4_of(f: &[u8]) -> Option<(u8, usize, usize, u32)> {
    let (ty, l3) = l3_offset(f);
    if f.len() < l3 + if ty == 0x0800 { 20 } else { 40 } {
        return None;
    }
    match ty {
        0x0800 => {
            let ihl = usize::from(f[l3] & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]));
            let proto = f[l3 + 9];
            let len = total - ihl;
            let pseudo = ones_sum(&f[l3 + 12..l3 + 20]) + u32::from(proto) + len as u32;
            Some((proto, l3 + ihl, len, pseudo))
        }
        0x86dd => {
            let len = usize::from(u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]));
            let proto = f[l3 + 6];
            let pseudo = ones_sum(&f[l3 + 8..l3 + 40]) + u32::from(proto) + len as u32;
            Some((proto, l3 + 40, len, pseudo))
        }
        _ => None,
    }
}

/// (offset of the checksum in the L4 header, covered by the pseudo-header)
fn l4_sum_field(proto: u8) -> Option<(usize, bool)> {
    match proto {
        TCP => Some((16, true)),
        UDP => Some((6, true)),
        ICMPV6 => Some((2, true)),
        ICMP => Some((2, false)),
        _ => None,
    }
}

/// Sets every checksum of an IP frame from scratch.
pub fn fix_checksums(f: &mut [u8]) {
    let (ty, l3) = l3_offset(f);
    if ty == 0x0800 {
        let ihl = usize::from(f[l3] & 0xf) * 4;
        f[l3 + 10..l3 + 12].fill(0);
        let c = finish(ones_sum(&f[l3..l3 + ihl]));
        f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    let Some((proto, l4, len, pseudo)) = l4_of(f) else {
        return;
    };
    if proto == SCTP {
        f[l4 + 8..l4 + 12].fill(0);
        let c = crc32c(&f[l4..l4 + len]);
        f[l4 + 8..l4 + 12].copy_from_slice(&c.to_le_bytes());
    } else if let Some((at, pseudo_covered)) = l4_sum_field(proto) {
        f[l4 + at..l4 + at + 2].fill(0);
        let sum = ones_sum(&f[l4..l4 + len]) + if pseudo_covered { pseudo } else { 0 };
        let mut c = finish(sum);
        if proto == UDP && c == 0 {
            c = 0xffff;
        }
        f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// Checks every checksum of an IP frame against one computed from scratch
/// (a UDP-over-IPv4 checksum of 0 means none and passes).
pub fn check_checksums(f: &[u8]) -> Result<(), String> {
    let mut fixed = f.to_vec();
    let Some((proto, l4, _, _)) = l4_of(f) else {
        return Ok(());
    };
    let udp_none = proto == UDP && f[l4 + 6..l4 + 8] == [0, 0] && l3_offset(f).0 == 0x0800;
    fix_checksums(&mut fixed);
    if udp_none {
        fixed[l4 + 6..l4 + 8].fill(0);
    }
    if fixed == f {
        Ok(())
    } else {
        Err(std::format!(
            "checksums wrong:\n got {f:02x?}\nwant {fixed:02x?}"
        ))
    }
}

// ---- Action lists ----

/// One netlink attribute, padded.
pub fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

pub fn nest(ty: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
    attr(ty, &attrs.concat())
}

pub fn u32_attr(ty: u16, v: u32) -> Vec<u8> {
    attr(ty, &v.to_ne_bytes())
}

// ---- Packets and keys ----

pub fn packet(frame: &[u8]) -> OwnedPacket {
    OwnedPacket::from_frame(frame).unwrap()
}

/// The fields of the key a test frame's extraction gives (what the tests
/// check the executor keeps in step).
pub fn key_of(f: &[u8]) -> FlowKey {
    if f.len() < 14 {
        return FlowKey::default();
    }
    let mut k = FlowKey {
        eth_dst: f[0..6].try_into().unwrap(),
        eth_src: f[6..12].try_into().unwrap(),
        ..FlowKey::default()
    };
    let (ty, l3) = l3_offset(f);
    k.eth_type = ty;
    if let Some((proto, l4, _, _)) = l4_of(f) {
        k.ip_proto = proto;
        if ty == 0x0800 {
            k.ip_tos = f[l3 + 1];
            k.ip_ttl = f[l3 + 8];
            k.ipv4_src = u32::from_be_bytes(f[l3 + 12..l3 + 16].try_into().unwrap());
            k.ipv4_dst = u32::from_be_bytes(f[l3 + 16..l3 + 20].try_into().unwrap());
        } else {
            let w = u32::from_be_bytes(f[l3..l3 + 4].try_into().unwrap());
            k.ip_tos = (w >> 20) as u8;
            k.ipv6_label = w & 0xfffff;
            k.ip_ttl = f[l3 + 7];
            k.ipv6_src = f[l3 + 8..l3 + 24].try_into().unwrap();
            k.ipv6_dst = f[l3 + 24..l3 + 40].try_into().unwrap();
        }
        match proto {
            TCP | UDP | SCTP => {
                k.tp_src = u16::from_be_bytes([f[l4], f[l4 + 1]]);
                k.tp_dst = u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]);
            }
            ICMP | ICMPV6 => {
                k.tp_src = f[l4].into();
                k.tp_dst = f[l4 + 1].into();
            }
            _ => {}
        }
    }
    k
}

// ---- A recording environment ----

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Output {
        port: u32,
        frame: Vec<u8>,
        oob_vlan: Option<u16>,
    },
    Upcall {
        pid: u32,
        frame: Vec<u8>,
        userdata: Option<Vec<u8>>,
        egress_tun_port: Option<u32>,
        actions: Option<Vec<u8>>,
        original_len: Option<u32>,
        key: FlowKey,
    },
    Recirc {
        frame: Vec<u8>,
        key: FlowKey,
    },
    Conntrack {
        ct: Vec<u8>,
    },
    Meter {
        id: u32,
        len: usize,
    },
}

/// Records every request in order; `random` returns `rand` values in turn
/// (then 0); CT actions drop the packet when `ct_drops` is set; the meters
/// in `dropping` drop every packet.
#[derive(Default)]
pub struct Recorder {
    pub events: Vec<Event>,
    /// The egress tunnel nest of each output given one, by port.
    pub tunnels: Vec<(u32, Vec<u8>)>,
    pub rand: Vec<u32>,
    pub rand_calls: usize,
    pub ct_drops: bool,
    pub dropping: Vec<u32>,
}

impl Recorder {
    pub fn outputs(&self) -> Vec<(u32, Vec<u8>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Output { port, frame, .. } => Some((*port, frame.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn ports(&self) -> Vec<u32> {
        self.outputs().into_iter().map(|(p, _)| p).collect()
    }
}

impl<P: Packet> Env<P> for Recorder {
    fn output(&mut self, port: u32, pkt: P) {
        self.events.push(Event::Output {
            port,
            frame: pkt.data().to_vec(),
            oob_vlan: pkt.oob_vlan(),
        });
    }

    fn output_tunnel(&mut self, port: u32, pkt: P, tunnel: &[u8], _key: &FlowKey) {
        self.tunnels.push((port, tunnel.to_vec()));
        self.output(port, pkt);
    }

    fn userspace(&mut self, pkt: &P, key: &FlowKey, up: &Userspace<'_>) {
        self.events.push(Event::Upcall {
            pid: up.pid,
            frame: pkt.data().to_vec(),
            userdata: up.userdata.map(<[u8]>::to_vec),
            egress_tun_port: up.egress_tun_port,
            actions: up.actions.map(<[u8]>::to_vec),
            original_len: up.original_len,
            key: *key,
        });
    }

    fn recirc(&mut self, pkt: P, key: &FlowKey) {
        self.events.push(Event::Recirc {
            frame: pkt.data().to_vec(),
            key: *key,
        });
    }

    fn random(&mut self) -> u32 {
        let r = self.rand.get(self.rand_calls).copied().unwrap_or(0);
        self.rand_calls += 1;
        r
    }

    fn conntrack(&mut self, _: &mut P, _: &mut FlowKey, ct: &[u8]) -> Verdict {
        self.events.push(Event::Conntrack { ct: ct.to_vec() });
        if self.ct_drops {
            Verdict::Drop
        } else {
            Verdict::Continue
        }
    }

    fn meter(&mut self, id: u32, len: usize) -> bool {
        self.events.push(Event::Meter { id, len });
        self.dropping.contains(&id)
    }
}
