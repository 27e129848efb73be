//! Random bytes into every IOCTL of the control device: never a panic, and
//! after every handle closes and the switch detaches, nothing is left alive.

mod common;

use common::*;
use ovsext::datapath::receive::Egress;
use ovsext::handle::HandleId;
use ovsext::ioctl::{Device, Io, LiveCounts, Outcome, code};
use ovsext::packet::OwnedPacket;
use ovsext::pend::{PendToken, Wakeups};
use ovsext::platform::time::Now;
use ovsext::switch::{NicIndex, PortId};
use proptest::prelude::*;

const CODES: [u32; 7] = [
    code::GET_PID,
    code::READ,
    code::READ_EVENT,
    code::READ_PACKET,
    code::WRITE,
    code::TRANSACT,
    0xAFC8_4412,
];

/// A request that mostly looks like a real one: a valid head for one of the
/// families with random command, flags and attribute bytes.
fn arb_request(pid: u32) -> impl Strategy<Value = Vec<u8>> {
    let families = prop::sample::select(vec![
        0x11u16, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x101, 0x102, 2, 3,
    ]);
    (
        families,
        0u8..8,
        any::<u16>(),
        0u8..4,
        prop::collection::vec(any::<u8>(), 0..96),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(ty, cmd, flags, version, attrs, dp_zero, own_pid)| {
            let mut r =
                Req::new(ty, cmd, version, 1, if own_pid { pid } else { pid + 1 }).flags(flags);
            if !dp_zero {
                r = r.dp(1);
            }
            r.attrs = attrs;
            r.bytes()
        })
}

fn arb_op(pid: u32) -> impl Strategy<Value = (u32, Vec<u8>, usize)> {
    let input = prop_oneof![prop::collection::vec(any::<u8>(), 0..64), arb_request(pid)];
    (
        prop::sample::select(CODES.to_vec()),
        input,
        prop::sample::select(vec![0usize, 3, 4, 35, 36, 419, 420, 4096]),
    )
}

/// Counts what executed packets would send.
#[derive(Default)]
struct Count(usize);

impl Egress<OwnedPacket> for Count {
    fn send(&mut self, _: PortId, _: NicIndex, _: OwnedPacket) {
        self.0 += 1;
    }
}

fn drive(dev: &Device, h: HandleId, ops: &[(u32, Vec<u8>, usize)]) {
    let mut wake = Wakeups::new();
    let mut egress = Count::default();
    for (i, (c, input, outlen)) in ops.iter().enumerate() {
        let mut out = vec![0u8; *outlen];
        let mut io = Io {
            token: PendToken(i as u64),
            now: Now::from_ms(i as u64),
            egress: &mut egress,
        };
        match dev.ioctl(h, *c, input, &mut out, &mut io, &mut wake) {
            Outcome::Done { len, .. } => assert!(len <= *outlen),
            Outcome::Pending => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_ioctls_never_panic_or_leak(ops in prop::collection::vec(arb_op(1), 1..24), with_ports in any::<bool>()) {
        let dev = Device::new();
        dev.attach(1).unwrap();
        if with_ports {
            let mut w = Wakeups::new();
            dev.with_datapath(|dp| {
                dp.nic_create(1, 0, ovsext::switch::PortKind::Vm, "vm1", [0; 6], 1500).unwrap();
                dp.nic_connect(1, 0, &mut w).unwrap();
            });
        }
        let h = dev.open().unwrap();
        drive(&dev, h, &ops);
        let mut w = Wakeups::new();
        dev.cleanup(h, &mut w);
        dev.close(h, &mut w);
        prop_assert_eq!(dev.live(), LiveCounts::default());
        dev.detach(&mut w);
    }

    #[test]
    fn random_ioctls_without_switch(ops in prop::collection::vec(arb_op(1), 1..8)) {
        let dev = Device::new();
        let h = dev.open().unwrap();
        let mut wake = Wakeups::new();
        let mut egress = Count::default();
        for (i, (c, input, outlen)) in ops.iter().enumerate() {
            let mut out = vec![0u8; *outlen];
            let mut io = Io { token: PendToken(i as u64), now: Now::default(), egress: &mut egress };
            let r = dev.ioctl(h, *c, input, &mut out, &mut io, &mut wake);
            prop_assert_eq!(r, Outcome::Done { status: ovsext::status::NtStatus::NOT_FOUND, len: 0 });
        }
        dev.close(h, &mut wake);
        prop_assert_eq!(dev.live(), LiveCounts::default());
    }
}

/// Runs `ops`, adding the tokens of requests left pending to `pended`.
fn drive_pending(
    dev: &Device,
    h: HandleId,
    ops: &[(u32, Vec<u8>, usize)],
    first_token: u64,
    pended: &mut Vec<PendToken>,
    wake: &mut Wakeups,
) -> Vec<Outcome> {
    let mut egress = Count::default();
    let mut outcomes = Vec::new();
    for (i, (c, input, outlen)) in ops.iter().enumerate() {
        let token = PendToken(first_token + i as u64);
        let mut out = vec![0u8; *outlen];
        let mut io = Io {
            token,
            now: Now::default(),
            egress: &mut egress,
        };
        let r = dev.ioctl(h, *c, input, &mut out, &mut io, wake);
        if r == Outcome::Pending {
            pended.push(token);
        }
        outcomes.push(r);
    }
    outcomes
}

/// A handle subscribed and waiting: an event subscription with a pended
/// READ_EVENT wakeup, and a packet subscription with a pended packet wakeup.
fn subscribe_and_pend(pid: u32) -> Vec<(u32, Vec<u8>, usize)> {
    let events = Req::new(0x11, 2, 1, 1, pid).u32(0, 101).u8(1, 1);
    let pend_event = Req::new(0x11, 0, 1, 2, pid);
    let packets = Req::new(0x11, 3, 1, 3, pid).u8(2, 1).u32(3, pid);
    let pend_packet = Req::new(0x11, 1, 1, 4, pid);
    [events, pend_event, packets, pend_packet]
        .iter()
        .map(|r| (code::WRITE, r.bytes(), 0))
        .collect()
}

#[test]
fn after_cleanup_a_handle_refuses_requests_and_nothing_pended_is_lost() {
    let dev = Device::new();
    dev.attach(1).unwrap();
    let h = dev.open().unwrap();
    let mut pended = Vec::new();
    let mut wake = Wakeups::new();
    drive_pending(&dev, h, &subscribe_and_pend(1), 0, &mut pended, &mut wake);
    assert_eq!(pended.len(), 2, "both wakeups pend");
    dev.cleanup(h, &mut wake);
    let mut woken: Vec<PendToken> = std::mem::take(&mut wake).into_tokens();
    woken.sort();
    assert_eq!(woken, pended, "cleanup completes what was pended");

    // Subscribing and pending again after cleanup is refused.
    let again = drive_pending(&dev, h, &subscribe_and_pend(1), 10, &mut pended, &mut wake);
    assert!(
        again.iter().all(|r| *r
            == Outcome::Done {
                status: ovsext::status::NtStatus::INVALID_DEVICE_STATE,
                len: 0
            }),
        "{again:?}"
    );
    dev.close(h, &mut wake);
    assert!(wake.is_empty());
    assert_eq!(dev.live(), LiveCounts::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Whatever runs before cleanup, and whatever reaches the handle after it,
    /// every pended request is handed back exactly once by cleanup or close.
    #[test]
    fn every_pended_request_comes_back_once(
        before in prop::collection::vec(arb_op(1), 0..12),
        after in prop::collection::vec(arb_op(1), 0..12),
    ) {
        let dev = Device::new();
        dev.attach(1).unwrap();
        let h = dev.open().unwrap();
        let mut pended = Vec::new();
        let mut wake = Wakeups::new();
        let ops = [subscribe_and_pend(1), before].concat();
        drive_pending(&dev, h, &ops, 0, &mut pended, &mut wake);
        dev.cleanup(h, &mut wake);
        drive_pending(&dev, h, &after, 1000, &mut pended, &mut wake);
        dev.close(h, &mut wake);
        let mut woken: Vec<PendToken> = wake.into_tokens();
        woken.sort();
        pended.sort();
        prop_assert_eq!(woken, pended);
        prop_assert_eq!(dev.live(), LiveCounts::default());
    }
}
