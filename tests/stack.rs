//! Kernel stack: the deepest PACKET EXECUTE (nested clone/sample/
//! check_pkt_len, header rewrites, a userspace upcall, recirculation) runs
//! within 8 KB, a third of the 24 KB an x64 kernel thread has (and the IOCTL
//! arrives with part of it used), on a thread of 16 KB. Measured by painting
//! the stack. The budget is a property of the optimized build the driver
//! ships (`cargo test --release --test stack`, which CI runs); an
//! unoptimized build keeps every temporary and is held to a looser bound.

mod common;

use common::*;
use ovsext::datapath::receive::Egress;
use ovsext::ioctl::{Io, Outcome, code};
use ovsext::packet::OwnedPacket;
use ovsext::pend::{PendToken, Wakeups};
use ovsext::sim::Sim;
use ovsext::switch::{NicIndex, PortId};

const CTRL: u16 = 0x11;
const PACKET: u16 = 0x13;
const VPORT: u16 = 0x14;
const FLOW: u16 = 0x15;

const PAINT: u8 = 0xa5;

#[derive(Default)]
struct Count(usize);

impl Egress<OwnedPacket> for Count {
    fn send(&mut self, _: PortId, _: NicIndex, _: OwnedPacket) {
        self.0 += 1;
    }
}

/// Bytes of stack `f` uses below the caller's frame: the region under the
/// current stack pointer is painted, `f` runs, and the deepest byte it
/// changed is found. `room` must stay inside the thread's stack.
#[inline(never)]
fn stack_used(room: usize, f: impl FnOnce()) -> usize {
    let here = 0u8;
    let top = std::ptr::addr_of!(here) as usize - 256;
    let bottom = top - room;
    for a in bottom..top {
        // SAFETY: below the live frames of this thread, inside its stack.
        unsafe { std::ptr::write_volatile(a as *mut u8, PAINT) };
    }
    f();
    (bottom..top)
        // SAFETY: as above.
        .find(|a| unsafe { std::ptr::read_volatile(*a as *const u8) } != PAINT)
        .map_or(0, |a| top - a)
}

/// A switch with vm1 and vm2 bound to vports 1 and 2, a handler socket
/// (PID 2) subscribed for packets, and flows for recirculation id 1.
fn switch() -> Sim {
    let mut sim = Sim::new();
    assert!(
        sim.run("switch up\nport 1 vm vm1\nport 2 vm vm2\nopen 1\nopen 2\n")
            .is_empty()
    );
    let sub = Req::new(CTRL, 3, 1, 1, 2).u8(2, 1).u32(3, 2);
    assert_eq!(
        one(&mut sim, &ioctl(2, "WRITE", &sub)),
        "ioctl 2 WRITE SUCCESS -"
    );
    for (seq, name) in [(2u32, "vm1"), (3, "vm2")] {
        let r = Req::new(VPORT, 1, 1, seq, 1)
            .u32(2, 1)
            .str(3, name)
            .u32(5, 2);
        reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    }
    let (key, mask) = ovsext::flow::text::parse_flow(
        "recirc_id(1),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
    )
    .unwrap();
    let acts = ovsext::flow::text::parse_actions("userspace(pid=2),2").unwrap();
    let r = Req::new(FLOW, 1, 1, 4, 1)
        .raw(1, &key)
        .raw(7, &mask)
        .raw(2, &acts);
    reply(&one(&mut sim, &ioctl(1, "TRANSACT", &r)));
    sim
}

/// An IPv4/TCP frame from vm1 to vm2.
fn tcp_frame() -> Vec<u8> {
    let mut f = vec![
        0x00, 0x15, 0x5d, 0, 0, 2, 0x00, 0x15, 0x5d, 0, 0, 1, 0x08, 0x00,
    ];
    f.extend_from_slice(&[
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend_from_slice(&[
        0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    f
}

/// The deepest action list userspace can send: every nesting level used,
/// rewrites with checksums, upcalls with keys, recirculation.
const DEEPEST: &str = "clone(sample(sample=100%,actions(clone(set(ipv4(src=1.1.1.1,dst=2.2.2.2,tos=4,ttl=9)),\
set(tcp(src=1,dst=2)),userspace(pid=2,userdata(01020304)),push_vlan(vid=5,pcp=1),2))),\
check_pkt_len(size=40,gt(userspace(pid=2),2),le(1))),\
trunc(60),recirc(1)";

#[test]
fn the_deepest_execute_fits_the_kernel_stack_budget() {
    let sim = switch();
    let dev = sim.device();
    let h = dev.open().unwrap();
    let (mut wake, mut egress) = (Wakeups::new(), Count::default());
    let mut pid = [0u8; 4];
    let mut io = Io {
        token: PendToken(1),
        now: Default::default(),
        egress: &mut egress,
    };
    dev.ioctl(h, code::GET_PID, &[], &mut pid, &mut io, &mut wake);
    let pid = u32::from_ne_bytes(pid);
    let frame = tcp_frame();
    let key = ovsext::flow::text::parse_key(
        "in_port(1),eth(src=00:15:5d:00:00:01,dst=00:15:5d:00:00:02),eth_type(0x0800)",
    )
    .unwrap();
    let actions = ovsext::flow::text::parse_actions(DEEPEST).unwrap();
    let exec = Req::new(PACKET, 3, 1, 1, pid)
        .raw(1, &frame)
        .raw(2, &key)
        .raw(3, &actions)
        .bytes();
    let mut out = vec![0u8; 4096];
    let run = || {
        let mut io = Io {
            token: PendToken(2),
            now: Default::default(),
            egress: &mut egress,
        };
        stack_used(ROOM, || {
            let r = dev.ioctl(h, code::TRANSACT, &exec, &mut out, &mut io, &mut wake);
            assert!(matches!(r, Outcome::Done { .. }), "{r:?}");
        })
    };
    let used = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn_scoped(s, run)
            .unwrap()
            .join()
            .unwrap()
    });
    eprintln!("execute used {used} bytes of stack");
    assert!(egress.0 >= 3, "the actions ran: {} frames out", egress.0);
    assert!(used > 1024 && used <= BUDGET, "{used} bytes");
}

const OPTIMIZED: bool = !cfg!(debug_assertions);
const BUDGET: usize = if OPTIMIZED { 8 << 10 } else { 40 << 10 };
const THREAD_STACK: usize = if OPTIMIZED { 16 << 10 } else { 64 << 10 };
/// What is painted: the thread's stack less what the frames above the
/// measure (thread start, the test's closures) may use.
const ROOM: usize = THREAD_STACK - if OPTIMIZED { 4 << 10 } else { 8 << 10 };
