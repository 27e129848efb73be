//! Helpers for scenario tests: building requests the way ovs-vswitchd's
//! `lib/netlink-socket.c` and `lib/dpif-netlink.c` do, running them through
//! the simulator, and reading replies.
#![allow(dead_code, unused_imports)]

use ovsext::netlink::{Attr, MsgHeader, NlMsg, attrs};
pub use ovsext::sim::Sim;
pub use ovsext::sim::msg::{Req, attr};

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_ECHO: u16 = 0x8;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_MULTI: u16 = 0x2;

/// Runs script lines; returns the output lines.
pub fn run(sim: &mut Sim, lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines {
        sim.line(l, &mut out);
    }
    out
}

/// Runs one line and returns its only output line.
pub fn one(sim: &mut Sim, line: &str) -> String {
    let mut out = Vec::new();
    sim.line(line, &mut out);
    assert_eq!(out.len(), 1, "{line} -> {out:?}");
    out.remove(0)
}

pub fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Splits an `ioctl`/`complete` output line into (status, bytes).
pub fn result(line: &str) -> (String, Vec<u8>) {
    let w: Vec<&str> = line.split(' ').collect();
    assert!(w[0] == "ioctl" || w[0] == "complete", "{line}");
    (w[3].to_string(), unhex(w[4]))
}

/// The reply of a successful IOCTL as one netlink message.
pub fn reply(line: &str) -> (MsgHeader, Vec<(u16, Vec<u8>)>) {
    let (status, bytes) = result(line);
    assert_eq!(status, "SUCCESS", "{line}");
    let msg = NlMsg::new_checked(&bytes).unwrap_or_else(|| panic!("not a message: {line}"));
    assert_eq!(msg.hdr.len as usize, bytes.len(), "one message: {line}");
    let attrs = msg
        .attrs()
        .map(|a| a.unwrap_or_else(|_| panic!("malformed reply: {line}")))
        .map(|a: Attr| (a.ty(), a.payload().to_vec()))
        .collect();
    (msg.hdr, attrs)
}

/// The errno of an NLMSG_ERROR reply (negative), checking it echoes `req`.
pub fn errno(line: &str, req: &Req) -> i32 {
    let (status, b) = result(line);
    assert_eq!(status, "SUCCESS", "{line}");
    assert_eq!(b.len(), 36, "{line}");
    let h = MsgHeader::read(&[b.clone(), vec![0; 8]].concat()).unwrap();
    assert_eq!((h.len, h.ty, h.flags), (36, 2, 0));
    assert_eq!(h.seq, req.hdr.seq);
    assert_eq!(h.pid, req.hdr.pid);
    let mut echoed = req.hdr;
    echoed.len = req.bytes().len() as u32;
    assert_eq!(&b[20..36], &echoed.nlmsghdr_bytes());
    i32::from_ne_bytes(b[16..20].try_into().unwrap())
}

pub fn get(attrs: &[(u16, Vec<u8>)], ty: u16) -> &[u8] {
    attrs
        .iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, p)| p.as_slice())
        .unwrap_or_else(|| panic!("no attr {ty}"))
}

pub fn u32_of(p: &[u8]) -> u32 {
    u32::from_ne_bytes(p.try_into().unwrap())
}

pub fn nested(p: &[u8]) -> Vec<(u16, Vec<u8>)> {
    attrs(p)
        .map(|a| a.unwrap())
        .map(|a| (a.ty(), a.payload().to_vec()))
        .collect()
}

/// `ioctl` script line.
pub fn ioctl(h: u32, code: &str, req: &Req) -> String {
    format!("ioctl {h} {code} {}", req.hex())
}

/// The Internet checksum of `b` (an odd last byte padded with zero).
pub fn csum(b: &[u8]) -> u16 {
    let mut s = 0u32;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv4 packet (no options) carrying `l4`, its header checksum right.
pub fn ipv4_packet(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(l4);
    ip
}

/// A switch with VMs vm1 (port 1, vport 1) and vm2 (port 2, vport 2), and
/// the datapath socket open as handle 1 (PID 1, which gets the upcalls).
pub fn two_vms() -> Sim {
    let mut sim = Sim::new();
    assert!(
        sim.run("switch up\nport 1 vm vm1\nport 2 vm vm2\nopen 1\n")
            .is_empty()
    );
    for (seq, name) in [(1u32, "vm1"), (2, "vm2")] {
        let r = Req::new(0x14, 1, 1, seq, 1)
            .u32(2, 1)
            .str(3, name)
            .u32(5, 1);
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    sim
}

/// `OVS_FLOW_CMD_NEW` of `key`, `mask` and `actions` on handle 1, as
/// `dpif_netlink_flow_put` sends it; returns the reply line.
pub fn flow_put(sim: &mut Sim, seq: u32, key: &[u8], mask: &[u8], actions: &[u8]) -> String {
    let r = Req::new(0x15, 1, 1, seq, 1)
        .flags(NLM_F_REQUEST | 0x400 | NLM_F_ECHO)
        .raw(1, key)
        .raw(7, mask)
        .raw(2, actions);
    one(sim, &ioctl(1, "TRANSACT", &r))
}

/// A switch that is up, with handle 1 open (ovs-vswitchd's first socket).
pub fn opened() -> Sim {
    let mut sim = Sim::new();
    assert!(sim.run("switch up\nopen 1\n").is_empty());
    sim
}

/// `TRANSACT` of `r` on handle 1; the reply line.
pub fn transact(sim: &mut Sim, r: &Req) -> String {
    one(sim, &ioctl(1, "TRANSACT", r))
}

// OVS_TUNNEL_KEY_ATTR_*.
pub const T_ID: u16 = 0;
pub const T_IPV4_SRC: u16 = 1;
pub const T_IPV4_DST: u16 = 2;
pub const T_TOS: u16 = 3;
pub const T_TTL: u16 = 4;
pub const T_DF: u16 = 5;
pub const T_CSUM: u16 = 6;
pub const T_OAM: u16 = 7;
pub const T_GENEVE_OPTS: u16 = 8;
pub const T_TP_SRC: u16 = 9;
pub const T_TP_DST: u16 = 10;
pub const T_VXLAN_OPTS: u16 = 11;
pub const T_IPV6_SRC: u16 = 12;
pub const T_IPV6_DST: u16 = 13;

/// Installs `flow` (OVS's text, its mask from the text) with `actions`
/// (text) through `flow_put`; panics if the datapath refuses it.
pub fn install_text(sim: &mut Sim, seq: u32, flow: &str, actions: &str) {
    let (key, mask) = ovsext::flow::text::parse_flow(flow).unwrap();
    let actions = ovsext::flow::text::parse_actions(actions).unwrap();
    let line = flow_put(sim, seq, &key, &mask, &actions);
    assert!(
        line.starts_with("ioctl 1 TRANSACT SUCCESS "),
        "{flow} {line}"
    );
    let (hdr, _) = reply(&line);
    assert_ne!(hdr.ty, 2, "{flow} {line}");
}

/// What chains of frames send, in order: (vport, frame), an out-of-band
/// VLAN tag shown in band, as it goes on the wire.
#[derive(Default)]
pub struct Sent(pub Vec<(u32, Vec<u8>)>);

impl<P: ovsext::packet::Packet> ovsext::datapath::receive::Egress<P> for Sent {
    fn send(&mut self, port: u32, _: u16, pkt: P) {
        let f = pkt.data();
        let f = match pkt.oob_vlan() {
            Some(tci) => [&f[..12], &[0x81, 0x00], &tci.to_be_bytes()[..], &f[12..]].concat(),
            None => f.to_vec(),
        };
        self.0.push((port, f));
    }
}

/// Sends `chain` (each packet with the Hyper-V port and NIC it comes in
/// from) through `receive_batch` as one chain, at 1 ms; what left is
/// added to `sent`.
pub fn receive_chain<P: ovsext::packet::Packet>(
    sim: &Sim,
    chain: impl IntoIterator<Item = ((u32, u16), P)>,
    sent: &mut Sent,
) {
    use ovsext::datapath::receive::{Effects, RxContext};
    let mut ctx = RxContext::try_new(ovsext::percpu::Cpu::Pinned(0), 1).unwrap();
    let mut wake = ovsext::pend::Wakeups::new();
    sim.device()
        .with_datapath(|dp| {
            let mut fx = Effects {
                egress: sent,
                wake: &mut wake,
            };
            let now = ovsext::platform::time::Now::from_ms(1);
            dp.receive_batch(&mut ctx, chain, now, &mut fx);
        })
        .unwrap();
}
