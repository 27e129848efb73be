//! Tunnels measured through `Datapath::receive` on the same inner frame:
//! plain forwarding (extract → lookup → output), encapsulation (extract →
//! lookup → set(tunnel) → output to VXLAN or Geneve: route, neighbour,
//! outer headers) and decapsulation (outer headers → extract → lookup →
//! output). Packets are fixed buffers with headroom, as a received NBL is;
//! nothing is allocated per packet. Prints figures; asserts nothing.

use std::hint::black_box;
use std::time::Instant;

use ovsext::datapath::receive::{Effects, Egress, RxContext};
use ovsext::netlink::NlMsg;
use ovsext::packet::Packet;
use ovsext::pend::Wakeups;
use ovsext::percpu::Cpu;
use ovsext::platform::time::Now;
use ovsext::sim::msg::{Req, attr};
use ovsext::sim::{Sim, hex, parse_hex};
use ovsext::switch::{NicIndex, PortId};

const RUNS: usize = 9;
const ROUNDS: usize = 1_000_000;

/// A frame in a buffer with headroom that the egress hands back, as an
/// NBL returns to its pool: moving a packet moves a reference.
struct Slot {
    buf: &'static mut [u8; 384],
    start: usize,
    end: usize,
}

const HEADROOM: usize = 128;

impl Slot {
    fn fill(buf: &'static mut [u8; 384], frame: &[u8]) -> Slot {
        buf[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        Slot {
            buf,
            start: HEADROOM,
            end: HEADROOM + frame.len(),
        }
    }
}

impl Packet for Slot {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.buf[self.start..self.end])
    }
    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        self.start = self.start.checked_sub(n)?;
        Some(&mut self.buf[self.start..self.end])
    }
    fn pull_front(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }
    fn truncate(&mut self, len: usize) {
        self.end = self.end.min(self.start + len);
    }
    fn oob_vlan(&self) -> Option<u16> {
        None
    }
    fn set_oob_vlan(&mut self, _: Option<u16>) {}
    /// The measured flows send each packet once.
    fn try_clone(&self) -> Option<Slot> {
        None
    }
}

/// Takes each sent frame's buffer back for the next packet.
struct Sent {
    bytes: u64,
    back: Option<&'static mut [u8; 384]>,
}

impl Egress<Slot> for Sent {
    fn send(&mut self, port: PortId, _: NicIndex, pkt: Slot) {
        self.bytes += u64::from(port) + black_box(pkt.data()).len() as u64;
        self.back = Some(pkt.buf);
    }
}

const VM1: u32 = 1;
const UPLINK: u32 = 2;
const VM2: u32 = 4;
const VXLAN: u32 = 3;
const GENEVE: u32 = 5;

fn line(sim: &mut Sim, l: &str) -> Vec<String> {
    let mut out = Vec::new();
    sim.line(l, &mut out);
    out
}

/// vm1 (port 1), the uplink (port 2), the host's NIC (port 3), vm2 (port
/// 4); a VXLAN and a Geneve vport; the peer 192.168.1.20 a neighbour.
fn host() -> Sim {
    let mut sim = Sim::new();
    let out = sim.run(
        "switch up\nport 1 vm vm1\nport 2 external eth0\nport 3 internal host\nport 4 vm vm2\n\
         open 1\nopen 2\nhostip 192.168.1.10/24\nroute 192.168.1.0/24 direct\n\
         neigh 192.168.1.20 02:00:00:00:00:20\n",
    );
    assert!(out.is_empty(), "{out:?}");
    let sub = Req::new(0x11, 3, 1, 1, 2).u8(2, 1).u32(3, 2);
    line(&mut sim, &format!("ioctl 2 WRITE {}", sub.hex()));
    for (no, ty, name, port) in [
        (VM1, 1, "vm1", None),
        (UPLINK, 1, "eth0", None),
        (VM2, 1, "vm2", None),
        (VXLAN, 4, "vxlan_sys_4789", Some(4789u16)),
        (GENEVE, 5, "genev_sys_6081", Some(6081)),
    ] {
        let mut r = Req::new(0x14, 1, 1, no, 1)
            .u32(1, no)
            .u32(2, ty)
            .str(3, name)
            .u32(5, 2);
        if let Some(p) = port {
            r = r.raw(4, &attr(1, &p.to_ne_bytes()));
        }
        line(&mut sim, &format!("ioctl 1 TRANSACT {}", r.hex()));
    }
    sim
}

/// Installs `actions` for the flow of `frame` from `port` (its key as the
/// miss upcall gives it).
fn install(sim: &mut Sim, port: u32, frame: &[u8], actions: &[u8]) {
    let pend = Req::new(0x11, 1, 1, 9, 2);
    line(sim, &format!("ioctl 2 WRITE {}", pend.hex()));
    line(sim, &format!("rx {port} {}", hex(frame)));
    let out = line(sim, "ioctl 2 READ_PACKET -");
    let bytes = parse_hex(out[0].split(' ').nth(4).unwrap()).unwrap();
    let msg = NlMsg::new_checked(&bytes).unwrap();
    let key = msg.find(2).unwrap().payload().to_vec();
    let r = Req::new(0x15, 1, 1, 7, 1)
        .flags(0x401)
        .raw(1, &key)
        .raw(2, actions);
    line(sim, &format!("ioctl 1 TRANSACT {}", r.hex()));
}

fn inner() -> Vec<u8> {
    let mut f = vec![
        0x00, 0x15, 0x5d, 0, 0, 4, 0x00, 0x15, 0x5d, 0, 0, 1, 0x08, 0x00,
    ];
    let mut ip = vec![
        0x45, 0, 0, 92, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let s: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    let c = !((s & 0xffff) + (s >> 16)) as u16;
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend(ip);
    f.extend_from_slice(&[0x9c, 0x40, 0x30, 0x39, 0, 72, 0, 0]);
    f.extend_from_slice(&[0x5a; 64]);
    f
}

fn tunnel_action(port: u32, extra: &[Vec<u8>]) -> Vec<u8> {
    let tun = [
        vec![
            attr(0, &5u64.to_be_bytes()),
            attr(2, &[192, 168, 1, 20]),
            attr(4, &[64]),
            attr(5, &[]),
        ],
        extra.to_vec(),
    ]
    .concat()
    .concat();
    [attr(3, &attr(16, &tun)), attr(1, &port.to_ne_bytes())].concat()
}

/// One case: a host with its flow, and the frame that enters it.
struct Case {
    sim: Sim,
    port: u32,
    nic: NicIndex,
    frame: Vec<u8>,
    ctx: RxContext<Slot>,
    sent: Sent,
}

impl Case {
    fn new(sim: Sim, port: u32, nic: NicIndex, frame: &[u8]) -> Case {
        Case {
            sim,
            port,
            nic,
            frame: frame.to_vec(),
            ctx: RxContext::try_new(Cpu::Pinned(0), 7).unwrap(),
            sent: Sent {
                bytes: 0,
                back: Some(Box::leak(Box::new([0; 384]))),
            },
        }
    }

    /// ns per packet over one run; every packet must be sent.
    fn run(&mut self) -> f64 {
        let mut wake = Wakeups::new();
        let (ctx, sent, frame) = (&mut self.ctx, &mut self.sent, &self.frame[..]);
        let (port, nic) = (self.port, self.nic);
        let t = Instant::now();
        self.sim.device().with_datapath(|dp| {
            let mut fx = Effects {
                egress: sent,
                wake: &mut wake,
            };
            for _ in 0..ROUNDS {
                let buf = fx.egress.back.take().expect("the last packet was sent");
                let pkt = Slot::fill(buf, black_box(frame));
                dp.receive(ctx, (port, nic), pkt, Now::from_ms(1), &mut fx);
            }
        });
        t.elapsed().as_nanos() as f64 / ROUNDS as f64
    }
}

fn main() {
    let frame = inner();
    let mut plain = host();
    install(&mut plain, VM1, &frame, &attr(1, &VM2.to_ne_bytes()));

    let mut vx = host();
    install(&mut vx, VM1, &frame, &tunnel_action(VXLAN, &[]));

    let mut gnv = host();
    let opts = attr(8, &[0xff, 0xff, 0x01, 0x01, 1, 2, 3, 4]);
    install(&mut gnv, VM1, &frame, &tunnel_action(GENEVE, &[opts]));

    // The frame VXLAN puts on the wire, coming back from the peer.
    let out = vx.run(&format!("rx 1 {}", hex(&frame)));
    let wire = parse_hex(out[0].split(' ').nth(2).unwrap()).unwrap();
    let mut back = wire.clone();
    back[0..12].copy_from_slice(&[0x00, 0x15, 0x5d, 0, 0, 3, 2, 0, 0, 0, 0, 0x20]);
    back[26..34].copy_from_slice(&[192, 168, 1, 20, 192, 168, 1, 10]);
    let mut dec = host();
    install(&mut dec, UPLINK, &back, &attr(1, &VM1.to_ne_bytes()));

    let mut outer_plain = host();
    let mut other = back.clone();
    other[33] = 11; // to another address: not the host's, switched as is
    other[24..26].copy_from_slice(&[0, 0]);
    let s: u32 = other[14..34]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    let s = (s & 0xffff) + (s >> 16);
    other[24..26].copy_from_slice(&(!((s & 0xffff) + (s >> 16)) as u16).to_be_bytes());
    install(
        &mut outer_plain,
        UPLINK,
        &other,
        &attr(1, &VM1.to_ne_bytes()),
    );

    // Runs interleave, so a busy machine slows every case alike.
    let mut cases = [
        Case::new(plain, VM1, 0, &frame),
        Case::new(vx, VM1, 0, &frame),
        Case::new(gnv, VM1, 0, &frame),
        Case::new(outer_plain, UPLINK, 1, &other),
        Case::new(dec, UPLINK, 1, &back),
    ];
    let mut best = [f64::INFINITY; 5];
    for _ in 0..RUNS {
        for (b, case) in best.iter_mut().zip(&mut cases) {
            *b = b.min(case.run());
        }
    }
    let [plain_ns, vxlan_ns, geneve_ns, outer_ns, decap_ns] = best;

    println!(
        "tunnel (best of {RUNS} interleaved runs, one flow, {}-byte inner frame)",
        frame.len()
    );
    println!("  plain forwarding (inner frame):       {plain_ns:6.1} ns/packet");
    println!(
        "  VXLAN encapsulation:                  {vxlan_ns:6.1} ns/packet ({:.2}x plain)",
        vxlan_ns / plain_ns
    );
    println!(
        "  Geneve encapsulation (8-byte option):  {geneve_ns:6.1} ns/packet ({:.2}x plain)",
        geneve_ns / plain_ns
    );
    println!("  plain forwarding (outer frame):       {outer_ns:6.1} ns/packet");
    println!(
        "  VXLAN decapsulation:                  {decap_ns:6.1} ns/packet ({:.2}x plain inner, {:.2}x plain outer)",
        decap_ns / plain_ns,
        decap_ns / outer_ns
    );
}
