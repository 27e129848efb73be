//! Host checks of what the Windows glue decides: the IOCTL buffer rules, the
//! book of pended IRPs under racing wakeups, cancels and cleanups, the
//! switch OID payloads (fixtures laid out with the offsets of the driver's
//! own bindings, `src/sys/ndis/types.rs`), the switch model those OIDs
//! drive through a real `Device`, and the packet path's decisions
//! (destinations, fates of NBLs, offloads of copies, completion runs by
//! source, buffers, the pause drain under racing threads).

use std::collections::{BTreeMap, BTreeSet};
use std::mem::{offset_of, size_of};

use ovsext::event::group;
use ovsext::ioctl::{Device, Outcome, code};
use ovsext::pend::{PendToken, Wakeups};
use ovsext::platform::hyperv::{self, DATA_NOT_ACCEPTED, FAILURE, Ports};
use ovsext::platform::irp::{self, Buffers, Completion, Method, Output, Request, Tokens};
use ovsext::platform::name::NameBuf;
use ovsext::platform::oid;
use ovsext::platform::pending::{Insert, Peek, Pending};
use ovsext::status::NtStatus;
use ovsext::switch::{NicState, PortKind};
use proptest::prelude::*;

#[path = "../src/sys/ndis/types.rs"]
#[allow(dead_code)]
mod types;

use types::{
    IfCountedString, NdisSwitchNicArray, NdisSwitchNicOidRequest, NdisSwitchNicParameters,
    NdisSwitchParameters, NdisSwitchPortArray, NdisSwitchPortParameters,
    NdisSwitchPortPropertyDeleteParameters, NdisSwitchPortPropertyParameters,
};

// ---------------------------------------------------------------------------
// IOCTL buffers and completions.

fn req(code: u32, input_len: u32, output_len: u32, system: bool, mdl: Option<u32>) -> Request {
    Request {
        code,
        input_len,
        output_len,
        system_buffer: system,
        mdl_len: mdl,
    }
}

fn plan(input_len: usize, copy_input: bool, output: Output, output_len: usize) -> Buffers {
    Buffers {
        input_len,
        copy_input,
        output,
        output_len,
    }
}

#[test]
fn ioctl_methods() {
    assert_eq!(Method::of(code::GET_PID), Method::Buffered);
    for c in [
        code::READ,
        code::READ_EVENT,
        code::READ_PACKET,
        code::TRANSACT,
    ] {
        assert_eq!(Method::of(c), Method::OutDirect, "{c:#x}");
    }
    assert_eq!(Method::of(code::WRITE), Method::InDirect);
    assert_eq!(Method::of(0xAFC8_4413), Method::Neither);
}

#[test]
fn buffered_output_shares_the_system_buffer() {
    let get_pid =
        |input, output, system| irp::buffers(&req(code::GET_PID, input, output, system, None));
    assert_eq!(
        get_pid(0, 4, true),
        Ok(plan(0, false, Output::SystemBuffer, 4))
    );
    // Input and output in one buffer: the input is copied out first.
    assert_eq!(
        get_pid(8, 4, true),
        Ok(plan(8, true, Output::SystemBuffer, 4))
    );
    assert_eq!(get_pid(8, 0, true), Ok(plan(8, false, Output::None, 0)));
    assert_eq!(get_pid(0, 0, false), Ok(plan(0, false, Output::None, 0)));
    assert_eq!(get_pid(0, 4, false), Err(NtStatus::INVALID_PARAMETER));
    assert_eq!(get_pid(4, 0, false), Err(NtStatus::INVALID_PARAMETER));
}

#[test]
fn out_direct_output_is_the_mdl() {
    for c in [
        code::READ,
        code::READ_EVENT,
        code::READ_PACKET,
        code::TRANSACT,
    ] {
        let b = |input, output, mdl| irp::buffers(&req(c, input, output, input > 0, mdl));
        assert_eq!(
            b(24, 65536, Some(65536)),
            Ok(plan(24, false, Output::Mdl, 65536))
        );
        assert_eq!(b(0, 36, Some(40)), Ok(plan(0, false, Output::Mdl, 36)));
        assert_eq!(
            b(24, 65536, None),
            Err(NtStatus::INVALID_PARAMETER),
            "no MDL"
        );
        assert_eq!(
            b(24, 65536, Some(4096)),
            Err(NtStatus::INVALID_PARAMETER),
            "short MDL"
        );
        assert_eq!(b(24, 0, None), Ok(plan(24, false, Output::None, 0)));
    }
    let no_system = req(code::TRANSACT, 24, 36, false, Some(36));
    assert_eq!(irp::buffers(&no_system), Err(NtStatus::INVALID_PARAMETER));
}

#[test]
fn in_direct_has_no_output() {
    let write = req(code::WRITE, 32, 100, true, Some(100));
    assert_eq!(irp::buffers(&write), Ok(plan(32, false, Output::None, 0)));
    let write = req(code::WRITE, 32, 0, true, None);
    assert_eq!(irp::buffers(&write), Ok(plan(32, false, Output::None, 0)));
}

#[test]
fn neither_gets_no_buffers() {
    let neither = req(0xAFC8_4413, 16, 16, false, None);
    assert_eq!(irp::buffers(&neither), Ok(plan(0, false, Output::None, 0)));
}

#[test]
fn completions() {
    let done = |status, len| Outcome::Done { status, len };
    assert_eq!(
        Completion::of(done(NtStatus::SUCCESS, 40), 36),
        Some(Completion {
            status: NtStatus::SUCCESS,
            information: 36
        })
    );
    assert_eq!(
        Completion::of(done(NtStatus::NDIS_INVALID_LENGTH, 0), 0),
        Some(Completion::status(NtStatus::NDIS_INVALID_LENGTH))
    );
    assert_eq!(Completion::of(Outcome::Pending, 36), None);
    assert_eq!(Completion::WOKEN, Completion::status(NtStatus::SUCCESS));
    assert_eq!(Completion::CANCELLED.status, NtStatus::CANCELLED);
    assert_eq!(Completion::CANCELLED.information, 0);
}

#[test]
fn tokens_are_never_reused() {
    let tokens = Tokens::new();
    let seen: Vec<u64> = (0..1000).map(|_| tokens.next().0).collect();
    assert_eq!(seen.first(), Some(&1));
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

// ---------------------------------------------------------------------------
// The pended-IRP book, driven the way `sys::device` and `sys::csq` drive it,
// under every interleaving of the threads that race on a pended request.

/// One dispatch in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Registered, the core not called yet (or still running).
    Calling,
    /// The core answered `Pending` and holds the token; not queued yet.
    Pended,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// A dispatch starts (registers its token).
    Start,
    /// The core answers a registered dispatch at once.
    Answer(usize),
    /// The core pends a registered dispatch.
    Pend(usize),
    /// The dispatcher queues a pended request.
    Queue(usize),
    /// The core wakes a token it holds (another thread's event or packet).
    Wake(usize),
    /// The I/O manager cancels a request (queued or not yet).
    Cancel(usize),
    /// The last handle on a file closes.
    Cleanup(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Start),
        any::<usize>().prop_map(Op::Answer),
        any::<usize>().prop_map(Op::Pend),
        any::<usize>().prop_map(Op::Queue),
        any::<usize>().prop_map(Op::Wake),
        any::<usize>().prop_map(Op::Cancel),
        any::<usize>().prop_map(Op::Cleanup),
    ]
}

const FILES: usize = 3;

#[derive(Default)]
struct World {
    book: Pending,
    next: u64,
    /// Tokens the core holds pended.
    core: BTreeSet<u64>,
    dispatching: BTreeMap<u64, Phase>,
    /// Cancel requested on a request not queued yet (`Irp->Cancel`).
    cancel_flag: BTreeSet<u64>,
    completed: BTreeMap<u64, Completion>,
}

fn file_of(t: u64) -> usize {
    t as usize % FILES
}

fn pick<T: Copy>(set: impl Iterator<Item = T>, i: usize) -> Option<T> {
    let v: Vec<T> = set.collect();
    (!v.is_empty()).then(|| v[i % v.len()])
}

impl World {
    fn complete(&mut self, t: u64, c: Completion) {
        assert!(
            self.completed.insert(t, c).is_none(),
            "token {t} completed twice"
        );
    }

    /// `sys::device::forget`: the core drops the token if it still has it.
    fn forget(&mut self, t: u64) {
        self.core.remove(&t);
    }

    /// `complete_wakeups` for one token.
    fn wake(&mut self, t: u64) {
        self.core.remove(&t);
        if let Some(r) = self.book.peek(None, Peek::Token(PendToken(t))) {
            self.book.remove(r);
            self.complete(r as u64, Completion::WOKEN);
        }
    }

    fn queued(&mut self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = None;
        while let Some(r) = self.book.peek(at, Peek::Any) {
            out.push(r as u64);
            at = Some(r);
        }
        out
    }

    fn answer(&mut self, t: u64) {
        self.book.end(PendToken(t));
        self.dispatching.remove(&t);
        self.cancel_flag.remove(&t);
        self.complete(t, Completion::status(NtStatus::SUCCESS));
    }

    fn pend(&mut self, t: u64) {
        self.core.insert(t);
        self.dispatching.insert(t, Phase::Pended);
    }

    /// The dispatcher's `csq::queue` and what it does with the answer.
    fn queue(&mut self, t: u64) {
        self.dispatching.remove(&t);
        match self.book.insert(PendToken(t), file_of(t), t as usize) {
            Insert::Queued => {
                // IoCsqInsertIrpEx on an IRP already cancelled: out again
                // at once, through the cancel path.
                if self.cancel_flag.remove(&t) {
                    self.book.remove(t as usize);
                    self.forget(t);
                    self.complete(t, Completion::CANCELLED);
                }
            }
            Insert::Woken => self.complete(t, Completion::WOKEN),
            Insert::NoRoom => {
                self.forget(t);
                self.complete(t, Completion::WOKEN);
            }
        }
        self.book.end(PendToken(t));
    }

    fn in_phase(&self, phase: Phase) -> impl Iterator<Item = u64> + '_ {
        self.dispatching
            .iter()
            .filter(move |(_, p)| **p == phase)
            .map(|(t, _)| *t)
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Start => {
                self.next += 1;
                self.book.begin(PendToken(self.next)).unwrap();
                self.dispatching.insert(self.next, Phase::Calling);
            }
            Op::Answer(i) => {
                if let Some(t) = pick(self.in_phase(Phase::Calling), i) {
                    self.answer(t);
                }
            }
            Op::Pend(i) => {
                if let Some(t) = pick(self.in_phase(Phase::Calling), i) {
                    self.pend(t);
                }
            }
            Op::Queue(i) => {
                if let Some(t) = pick(self.in_phase(Phase::Pended), i) {
                    self.queue(t);
                }
            }
            Op::Wake(i) => {
                if let Some(t) = pick(self.core.iter().copied(), i) {
                    self.wake(t);
                }
            }
            Op::Cancel(i) => {
                let queued = self.queued();
                let not_yet: Vec<u64> = self.dispatching.keys().copied().collect();
                match pick(queued.iter().chain(&not_yet).copied(), i) {
                    Some(t) if queued.contains(&t) => {
                        self.book.remove(t as usize);
                        self.forget(t);
                        self.complete(t, Completion::CANCELLED);
                    }
                    Some(t) => {
                        self.cancel_flag.insert(t);
                    }
                    None => {}
                }
            }
            Op::Cleanup(f) => {
                let f = f % FILES;
                // Device::cleanup wakes what the file's queues held.
                let held: Vec<u64> = self
                    .core
                    .iter()
                    .copied()
                    .filter(|t| file_of(*t) == f)
                    .collect();
                for t in held {
                    self.wake(t);
                }
                while let Some(r) = self.book.peek(None, Peek::File(f)) {
                    self.book.remove(r);
                    self.forget(r as u64);
                    self.complete(r as u64, Completion::WOKEN);
                }
            }
        }
        self.check();
    }

    /// The core never holds the token of a request that completed, and
    /// every queued request can still be woken (the core holds its token).
    fn check(&mut self) {
        for t in &self.core {
            assert!(
                !self.completed.contains_key(t),
                "stale token {t} in the core"
            );
        }
        for t in self.queued() {
            assert!(
                self.core.contains(&t),
                "request {t} queued with no wakeup to come"
            );
        }
    }

    /// Every dispatch finishes (pending), then every file is cleaned up.
    fn drain(&mut self) {
        while let Some((&t, &phase)) = self.dispatching.iter().next() {
            match phase {
                Phase::Calling => self.pend(t),
                Phase::Pended => self.queue(t),
            }
            self.check();
        }
        for f in 0..FILES {
            self.apply(Op::Cleanup(f));
        }
    }
}

proptest! {
    #[test]
    fn every_pended_request_completes_exactly_once(ops in prop::collection::vec(op(), 0..80)) {
        let mut w = World::default();
        for op in ops {
            w.apply(op);
        }
        w.drain();
        prop_assert_eq!(w.completed.len() as u64, w.next, "every request completed");
        prop_assert!(w.book.is_empty());
        prop_assert_eq!(w.book.in_flight(), 0);
        prop_assert!(w.core.is_empty());
    }
}

#[test]
fn a_wakeup_before_the_queue_is_not_lost() {
    let mut w = World::default();
    for op in [Op::Start, Op::Pend(0), Op::Wake(0), Op::Queue(0)] {
        w.apply(op);
    }
    assert_eq!(w.completed.get(&1), Some(&Completion::WOKEN));
    assert!(w.book.is_empty());
}

#[test]
fn a_cancel_before_the_queue_cancels() {
    let mut w = World::default();
    for op in [Op::Start, Op::Pend(0), Op::Cancel(0), Op::Queue(0)] {
        w.apply(op);
    }
    assert_eq!(w.completed.get(&1), Some(&Completion::CANCELLED));
    assert!(w.core.is_empty(), "the core forgot the token");
}

// ---------------------------------------------------------------------------
// Switch OID payloads, laid out as the bindings lay out the structures.

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

fn put_header(b: &mut [u8], size: u16) {
    put(b, 0, &[0x80, 1]);
    put(b, 2, &size.to_le_bytes());
}

/// An `IF_COUNTED_STRING` at `at`.
fn put_name(b: &mut [u8], at: usize, s: &str) {
    let units: Vec<u16> = s.encode_utf16().collect();
    put(
        b,
        at + offset_of!(IfCountedString, length),
        &((units.len() * 2) as u16).to_le_bytes(),
    );
    for (i, u) in units.iter().enumerate() {
        put(
            b,
            at + offset_of!(IfCountedString, string) + 2 * i,
            &u.to_le_bytes(),
        );
    }
}

fn port(id: u32, port_type: u32, name: &str, validation: bool) -> Vec<u8> {
    let mut b = vec![0u8; size_of::<NdisSwitchPortParameters>()];
    put_header(
        &mut b,
        types::NDIS_SIZEOF_NDIS_SWITCH_PORT_PARAMETERS_REVISION_1,
    );
    put(
        &mut b,
        offset_of!(NdisSwitchPortParameters, port_id),
        &id.to_le_bytes(),
    );
    put_name(
        &mut b,
        offset_of!(NdisSwitchPortParameters, port_name),
        "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
    );
    put_name(
        &mut b,
        offset_of!(NdisSwitchPortParameters, port_friendly_name),
        name,
    );
    put(
        &mut b,
        offset_of!(NdisSwitchPortParameters, port_type),
        &port_type.to_le_bytes(),
    );
    b[offset_of!(NdisSwitchPortParameters, is_validation_port)] = validation as u8;
    put(
        &mut b,
        offset_of!(NdisSwitchPortParameters, port_state),
        &1u32.to_le_bytes(),
    );
    b
}

struct Nic<'a> {
    port: u32,
    index: u16,
    nic_type: u32,
    state: u32,
    friendly: &'a str,
    mac: [u8; 6],
    mtu: u32,
}

const MAC: [u8; 6] = [0, 0x15, 0x5d, 0, 0, 1];
const GUID: [u8; 16] = *b"0123456789abcdef";

impl Nic<'_> {
    fn vm(port: u32) -> Nic<'static> {
        Nic {
            port,
            index: 0,
            nic_type: types::NDIS_SWITCH_NIC_TYPE_SYNTHETIC,
            state: types::NDIS_SWITCH_NIC_STATE_CREATED,
            friendly: "Network Adapter",
            mac: MAC,
            mtu: 1500,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; size_of::<NdisSwitchNicParameters>()];
        put_header(
            &mut b,
            types::NDIS_SIZEOF_NDIS_SWITCH_NIC_PARAMETERS_REVISION_1,
        );
        put_name(
            &mut b,
            offset_of!(NdisSwitchNicParameters, nic_name),
            "nic-name",
        );
        put_name(
            &mut b,
            offset_of!(NdisSwitchNicParameters, nic_friendly_name),
            self.friendly,
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, port_id),
            &self.port.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, nic_index),
            &self.index.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, nic_type),
            &self.nic_type.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, nic_state),
            &self.state.to_le_bytes(),
        );
        put_name(
            &mut b,
            offset_of!(NdisSwitchNicParameters, vm_name),
            "vm-guid",
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, net_cfg_instance_id),
            &GUID,
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, mtu),
            &self.mtu.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, permanent_mac_address),
            &[2, 0, 0, 0, 0, 9],
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, vm_mac_address),
            &[2, 0, 0, 0, 0, 8],
        );
        put(
            &mut b,
            offset_of!(NdisSwitchNicParameters, current_mac_address),
            &self.mac,
        );
        b
    }
}

/// An array of `elements`, each `stride` bytes, after a header of `size`.
fn array(size: usize, elements: &[Vec<u8>], stride: usize) -> Vec<u8> {
    let mut b = vec![0u8; size + elements.len() * stride];
    put_header(&mut b, size as u16);
    // Port and NIC arrays share their layout.
    assert_eq!(
        offset_of!(NdisSwitchPortArray, first_element_offset),
        offset_of!(NdisSwitchNicArray, first_element_offset)
    );
    put(
        &mut b,
        offset_of!(NdisSwitchPortArray, first_element_offset),
        &(size as u16).to_le_bytes(),
    );
    put(
        &mut b,
        offset_of!(NdisSwitchPortArray, num_elements),
        &(elements.len() as u32).to_le_bytes(),
    );
    put(
        &mut b,
        offset_of!(NdisSwitchPortArray, element_size),
        &(stride as u32).to_le_bytes(),
    );
    for (i, e) in elements.iter().enumerate() {
        put(&mut b, size + i * stride, e);
    }
    b
}

#[test]
fn payload_constants_match_the_bindings() {
    assert_eq!(
        oid::SWITCH_PARAMETERS_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_PARAMETERS_REVISION_1
    );
    assert_eq!(
        oid::PORT_PARAMETERS_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_PORT_PARAMETERS_REVISION_1
    );
    assert_eq!(
        oid::PORT_ARRAY_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_PORT_ARRAY_REVISION_1
    );
    assert_eq!(
        oid::NIC_PARAMETERS_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_NIC_PARAMETERS_REVISION_1
    );
    assert_eq!(
        oid::NIC_ARRAY_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_NIC_ARRAY_REVISION_1
    );
    assert_eq!(
        oid::NIC_OID_REQUEST_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_NIC_OID_REQUEST_REVISION_1
    );
    assert_eq!(
        oid::PORT_PROPERTY_PARAMETERS_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1
    );
    assert_eq!(
        oid::PORT_PROPERTY_DELETE_PARAMETERS_SIZE,
        types::NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_DELETE_PARAMETERS_REVISION_1
    );
    assert_eq!(
        oid::NDIS_OBJECT_TYPE_DEFAULT,
        types::NDIS_OBJECT_TYPE_DEFAULT
    );
    let oids = [
        (oid::OID_SWITCH_NIC_REQUEST, types::OID_SWITCH_NIC_REQUEST),
        (
            oid::OID_SWITCH_PORT_PROPERTY_ADD,
            types::OID_SWITCH_PORT_PROPERTY_ADD,
        ),
        (
            oid::OID_SWITCH_PORT_PROPERTY_UPDATE,
            types::OID_SWITCH_PORT_PROPERTY_UPDATE,
        ),
        (
            oid::OID_SWITCH_PORT_PROPERTY_DELETE,
            types::OID_SWITCH_PORT_PROPERTY_DELETE,
        ),
        (oid::OID_SWITCH_PARAMETERS, types::OID_SWITCH_PARAMETERS),
        (oid::OID_SWITCH_PORT_ARRAY, types::OID_SWITCH_PORT_ARRAY),
        (oid::OID_SWITCH_NIC_ARRAY, types::OID_SWITCH_NIC_ARRAY),
        (oid::OID_SWITCH_PORT_CREATE, types::OID_SWITCH_PORT_CREATE),
        (oid::OID_SWITCH_PORT_DELETE, types::OID_SWITCH_PORT_DELETE),
        (oid::OID_SWITCH_NIC_CREATE, types::OID_SWITCH_NIC_CREATE),
        (oid::OID_SWITCH_NIC_CONNECT, types::OID_SWITCH_NIC_CONNECT),
        (
            oid::OID_SWITCH_NIC_DISCONNECT,
            types::OID_SWITCH_NIC_DISCONNECT,
        ),
        (oid::OID_SWITCH_NIC_DELETE, types::OID_SWITCH_NIC_DELETE),
        (
            oid::OID_SWITCH_PORT_TEARDOWN,
            types::OID_SWITCH_PORT_TEARDOWN,
        ),
        (oid::OID_SWITCH_NIC_UPDATED, types::OID_SWITCH_NIC_UPDATED),
        (oid::OID_SWITCH_PORT_UPDATED, types::OID_SWITCH_PORT_UPDATED),
        (
            oid::OID_NIC_SWITCH_ALLOCATE_VF,
            types::OID_NIC_SWITCH_ALLOCATE_VF,
        ),
    ];
    for (ours, bound) in oids {
        assert_eq!(ours, bound, "{ours:#x}");
    }
    let enums = [
        (
            oid::PORT_TYPE_EXTERNAL,
            types::NDIS_SWITCH_PORT_TYPE_EXTERNAL,
        ),
        (
            oid::PORT_TYPE_SYNTHETIC,
            types::NDIS_SWITCH_PORT_TYPE_SYNTHETIC,
        ),
        (
            oid::PORT_TYPE_EMULATED,
            types::NDIS_SWITCH_PORT_TYPE_EMULATED,
        ),
        (
            oid::PORT_TYPE_INTERNAL,
            types::NDIS_SWITCH_PORT_TYPE_INTERNAL,
        ),
        (oid::NIC_TYPE_EXTERNAL, types::NDIS_SWITCH_NIC_TYPE_EXTERNAL),
        (
            oid::NIC_TYPE_SYNTHETIC,
            types::NDIS_SWITCH_NIC_TYPE_SYNTHETIC,
        ),
        (oid::NIC_TYPE_EMULATED, types::NDIS_SWITCH_NIC_TYPE_EMULATED),
        (oid::NIC_TYPE_INTERNAL, types::NDIS_SWITCH_NIC_TYPE_INTERNAL),
        (
            oid::NIC_STATE_CONNECTED,
            types::NDIS_SWITCH_NIC_STATE_CONNECTED,
        ),
        (
            oid::PORT_PROPERTY_TYPE_VLAN,
            types::NDIS_SWITCH_PORT_PROPERTY_TYPE_VLAN,
        ),
        (oid::REQUEST_SET, types::NDIS_REQUEST_SET_INFORMATION),
        (oid::REQUEST_METHOD, types::NDIS_REQUEST_METHOD),
    ];
    for (ours, bound) in enums {
        assert_eq!(ours, bound);
    }
}

#[test]
fn port_parameters_parse() {
    let b = port(7, types::NDIS_SWITCH_PORT_TYPE_SYNTHETIC, "web-1", false);
    let p = oid::PortParams::parse(&b).unwrap();
    assert_eq!((p.port_id, p.port_type, p.validation), (7, 2, false));
    assert_eq!(p.friendly_name.decode().unwrap().as_str(), "web-1");
    let v = port(8, 2, "x", true);
    assert!(oid::PortParams::parse(&v).unwrap().validation);
    assert!(
        oid::PortParams::parse(&b[..b.len() - 1]).is_none(),
        "shorter than its header"
    );
    let mut bad = b.clone();
    bad[0] = 0x81;
    assert!(oid::PortParams::parse(&bad).is_none());
}

#[test]
fn nic_parameters_parse() {
    let n = Nic {
        index: 2,
        nic_type: types::NDIS_SWITCH_NIC_TYPE_EXTERNAL,
        state: types::NDIS_SWITCH_NIC_STATE_CONNECTED,
        friendly: "Intel(R) Ethernet",
        mtu: 9000,
        ..Nic::vm(3)
    };
    let b = n.bytes();
    let p = oid::NicParams::parse(&b).unwrap();
    assert_eq!(
        (p.port_id, p.nic_index, p.nic_type, p.nic_state, p.mtu),
        (3, 2, 0, 2, 9000)
    );
    assert_eq!(
        p.nic_friendly_name.decode().unwrap().as_str(),
        "Intel(R) Ethernet"
    );
    assert_eq!(p.nic_name.decode().unwrap().as_str(), "nic-name");
    assert_eq!(p.net_cfg_instance_id, GUID);
    assert_eq!(p.current_mac, MAC);
    assert_eq!(p.mac(), MAC);
    assert_eq!(hyperv::alias_wanted(&p), Some(GUID));
    // No current MAC: a VM NIC falls back to the VM's, others to the permanent one.
    let b = Nic {
        mac: [0; 6],
        ..Nic::vm(3)
    }
    .bytes();
    assert_eq!(oid::NicParams::parse(&b).unwrap().mac(), [2, 0, 0, 0, 0, 8]);
    let b = Nic {
        mac: [0; 6],
        nic_type: types::NDIS_SWITCH_NIC_TYPE_INTERNAL,
        ..Nic::vm(3)
    }
    .bytes();
    assert_eq!(oid::NicParams::parse(&b).unwrap().mac(), [2, 0, 0, 0, 0, 9]);
    // Revision 1 ends at VFAssigned: one byte short of the structure.
    let b = Nic::vm(1).bytes();
    assert!(oid::NicParams::parse(&b[..oid::NIC_PARAMETERS_SIZE as usize]).is_some());
    assert!(oid::NicParams::parse(&b[..oid::NIC_PARAMETERS_SIZE as usize - 1]).is_none());
}

#[test]
fn switch_parameters_parse() {
    let mut b = vec![0u8; size_of::<NdisSwitchParameters>()];
    put_header(&mut b, types::NDIS_SIZEOF_NDIS_SWITCH_PARAMETERS_REVISION_1);
    assert_eq!(oid::switch_is_active(&b), Some(false));
    b[offset_of!(NdisSwitchParameters, is_active)] = 1;
    assert_eq!(oid::switch_is_active(&b), Some(true));
    assert_eq!(oid::switch_is_active(&b[..0x414]), None);
    assert_eq!(&b[..4], &oid::query_header(oid::SWITCH_PARAMETERS_SIZE));
}

fn property(property_type: u32, delete: bool) -> Vec<u8> {
    let (size, ty_at, len) = if delete {
        (
            types::NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_DELETE_PARAMETERS_REVISION_1,
            offset_of!(NdisSwitchPortPropertyDeleteParameters, property_type),
            size_of::<NdisSwitchPortPropertyDeleteParameters>(),
        )
    } else {
        (
            types::NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1,
            offset_of!(NdisSwitchPortPropertyParameters, property_type),
            size_of::<NdisSwitchPortPropertyParameters>() + 16,
        )
    };
    let mut b = vec![0u8; len];
    put_header(&mut b, size);
    put(&mut b, ty_at, &property_type.to_le_bytes());
    b
}

fn nic_request() -> Vec<u8> {
    let mut b = vec![0u8; size_of::<NdisSwitchNicOidRequest>()];
    put_header(
        &mut b,
        types::NDIS_SIZEOF_NDIS_SWITCH_NIC_OID_REQUEST_REVISION_1,
    );
    b
}

#[test]
fn properties_and_nic_requests() {
    let dev = Device::new();
    let mut ports = Ports::new();
    let mut wake = Wakeups::new();
    let mut set = |oid, b: &[u8]| ports.before_set(oid, b, None, &dev, &mut wake);
    let vlan = types::NDIS_SWITCH_PORT_PROPERTY_TYPE_VLAN;
    let custom = types::NDIS_SWITCH_PORT_PROPERTY_TYPE_CUSTOM;
    for (o, delete) in [
        (oid::OID_SWITCH_PORT_PROPERTY_ADD, false),
        (oid::OID_SWITCH_PORT_PROPERTY_UPDATE, false),
        (oid::OID_SWITCH_PORT_PROPERTY_DELETE, true),
    ] {
        assert_eq!(
            set(o, &property(vlan, delete)),
            Err(NtStatus::NOT_SUPPORTED)
        );
        assert_eq!(set(o, &property(custom, delete)), Ok(()));
        let short = property(custom, delete);
        assert_eq!(
            set(o, &short[..short.len() / 2]),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(set(o, &[]), Ok(()), "nothing to judge");
    }
    assert!(oid::nic_request_ok(&nic_request()));
    assert!(!oid::nic_request_ok(&nic_request()[..0x1f]));
    let vf = types::OID_NIC_SWITCH_ALLOCATE_VF;
    assert_eq!(
        hyperv::nic_request_verdict(types::NDIS_REQUEST_METHOD, vf),
        Err(FAILURE)
    );
    assert_eq!(
        hyperv::nic_request_verdict(types::NDIS_REQUEST_SET_INFORMATION, vf),
        Err(FAILURE)
    );
    assert_eq!(
        hyperv::nic_request_verdict(types::NDIS_REQUEST_QUERY_INFORMATION, vf),
        Ok(())
    );
    assert_eq!(
        hyperv::nic_request_verdict(
            types::NDIS_REQUEST_SET_INFORMATION,
            types::OID_SWITCH_NIC_CREATE
        ),
        Ok(())
    );
}

// ---------------------------------------------------------------------------
// The switch model the OIDs drive.

struct Switch {
    dev: Device,
    ports: Ports,
    wake: Wakeups,
}

impl Switch {
    fn new() -> Switch {
        Switch {
            dev: Device::new(),
            ports: Ports::new(),
            wake: Wakeups::new(),
        }
    }

    fn set(&mut self, oid: u32, b: &[u8]) -> Result<(), NtStatus> {
        self.set_alias(oid, b, None)
    }

    fn set_alias(&mut self, oid: u32, b: &[u8], alias: Option<&str>) -> Result<(), NtStatus> {
        let alias = alias.map(|a| NameBuf::copy_of(a).unwrap());
        self.ports
            .before_set(oid, b, alias.as_ref(), &self.dev, &mut self.wake)
    }

    fn done(&mut self, oid: u32, b: &[u8], ok: bool) {
        self.ports.after_set(oid, b, ok, &self.dev, &mut self.wake);
    }

    /// (kind, name, state, mac, mtu) of an endpoint.
    fn endpoint(&self, port: u32, nic: u16) -> Option<(PortKind, String, NicState, [u8; 6], u32)> {
        self.dev
            .with_datapath(|dp| {
                let ports = dp.ports.read();
                ports
                    .switch
                    .endpoint(port, nic)
                    .map(|e| (e.kind, e.name.clone(), e.state, e.mac, e.mtu))
            })
            .flatten()
    }

    fn endpoints(&self) -> usize {
        self.dev
            .with_datapath(|dp| dp.ports.read().switch.len())
            .unwrap_or(0)
    }
}

#[test]
fn vm_nic_lifecycle() {
    let mut s = Switch::new();
    let port5 = port(5, types::NDIS_SWITCH_PORT_TYPE_SYNTHETIC, "web-1", false);
    let nic5 = Nic::vm(5).bytes();
    // Ports are recorded before the datapath exists; NICs need it.
    assert_eq!(s.set(oid::OID_SWITCH_PORT_CREATE, &port5), Ok(()));
    assert_eq!(
        s.set(oid::OID_SWITCH_NIC_CREATE, &nic5),
        Err(NtStatus::NOT_SUPPORTED)
    );
    s.dev.attach(1).unwrap();
    assert_eq!(s.set(oid::OID_SWITCH_NIC_CREATE, &nic5), Ok(()));
    assert_eq!(
        s.endpoint(5, 0),
        Some((PortKind::Vm, "web-1".into(), NicState::Created, MAC, 1500))
    );

    // Connected only once the connect completed successfully below.
    assert_eq!(s.set(oid::OID_SWITCH_NIC_CONNECT, &nic5), Ok(()));
    assert_eq!(s.endpoint(5, 0).unwrap().2, NicState::Created);
    s.done(oid::OID_SWITCH_NIC_CONNECT, &nic5, false);
    assert_eq!(s.endpoint(5, 0).unwrap().2, NicState::Created);
    s.done(oid::OID_SWITCH_NIC_CONNECT, &nic5, true);
    assert_eq!(s.endpoint(5, 0).unwrap().2, NicState::Connected);

    // The port's new friendly name renames its VM NIC.
    let renamed = port(5, types::NDIS_SWITCH_PORT_TYPE_SYNTHETIC, "web-2", false);
    assert_eq!(s.set(oid::OID_SWITCH_PORT_UPDATED, &renamed), Ok(()));
    assert_eq!(s.endpoint(5, 0).unwrap().1, "web-2");

    let updated = Nic {
        mtu: 9000,
        mac: [2, 0, 0, 0, 0, 0x77],
        ..Nic::vm(5)
    }
    .bytes();
    assert_eq!(s.set(oid::OID_SWITCH_NIC_UPDATED, &updated), Ok(()));
    let e = s.endpoint(5, 0).unwrap();
    assert_eq!(
        (e.1.as_str(), e.3, e.4),
        ("web-2", [2, 0, 0, 0, 0, 0x77], 9000)
    );

    assert_eq!(s.set(oid::OID_SWITCH_NIC_DISCONNECT, &nic5), Ok(()));
    assert_eq!(s.endpoint(5, 0).unwrap().2, NicState::Created);
    assert_eq!(s.set(oid::OID_SWITCH_NIC_DELETE, &nic5), Ok(()));
    assert_eq!(s.endpoint(5, 0), None);
    assert_eq!(s.set(oid::OID_SWITCH_PORT_TEARDOWN, &renamed), Ok(()));
    assert_eq!(s.set(oid::OID_SWITCH_PORT_DELETE, &renamed), Ok(()));
    assert!(s.ports.is_empty());
}

#[test]
fn creations_are_vetoed_and_undone() {
    let mut s = Switch::new();
    s.dev.attach(1).unwrap();
    let p5 = port(5, 2, "web-1", false);
    assert_eq!(s.set(oid::OID_SWITCH_PORT_CREATE, &p5), Ok(()));
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &p5),
        Err(DATA_NOT_ACCEPTED)
    );
    // Validation ports are the switch's own: accepted, not recorded.
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &port(9, 2, "check", true)),
        Ok(())
    );
    assert_eq!(s.ports.len(), 1);
    // A second port under the same friendly name: its NIC is refused.
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &port(6, 2, "web-1", false)),
        Ok(())
    );
    assert_eq!(
        s.set(oid::OID_SWITCH_NIC_CREATE, &Nic::vm(5).bytes()),
        Ok(())
    );
    assert_eq!(
        s.set(oid::OID_SWITCH_NIC_CREATE, &Nic::vm(6).bytes()),
        Err(DATA_NOT_ACCEPTED)
    );
    assert_eq!(
        s.set(oid::OID_SWITCH_NIC_CREATE, &Nic::vm(5).bytes()),
        Err(DATA_NOT_ACCEPTED)
    );
    // A VM NIC on a port never created.
    assert_eq!(
        s.set(oid::OID_SWITCH_NIC_CREATE, &Nic::vm(77).bytes()),
        Err(NtStatus::INVALID_PARAMETER)
    );
    // Malformed payloads.
    assert_eq!(
        s.set(oid::OID_SWITCH_NIC_CREATE, &Nic::vm(5).bytes()[..100]),
        Err(NtStatus::NOT_SUPPORTED)
    );
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &p5[..100]),
        Err(NtStatus::NOT_SUPPORTED)
    );
    // Notifications that may not fail pass down even when malformed.
    for o in [
        oid::OID_SWITCH_PORT_UPDATED,
        oid::OID_SWITCH_PORT_TEARDOWN,
        oid::OID_SWITCH_PORT_DELETE,
    ] {
        assert_eq!(s.set(o, &p5[..100]), Ok(()));
    }
    for o in [
        oid::OID_SWITCH_NIC_CONNECT,
        oid::OID_SWITCH_NIC_UPDATED,
        oid::OID_SWITCH_NIC_DISCONNECT,
        oid::OID_SWITCH_NIC_DELETE,
    ] {
        assert_eq!(s.set(o, &Nic::vm(5).bytes()[..100]), Ok(()));
    }
    assert!(s.endpoint(5, 0).is_some());

    // Failures below undo what the model did.
    let p7 = port(7, 2, "db", false);
    assert_eq!(s.set(oid::OID_SWITCH_PORT_CREATE, &p7), Ok(()));
    let nic7 = Nic::vm(7).bytes();
    assert_eq!(s.set(oid::OID_SWITCH_NIC_CREATE, &nic7), Ok(()));
    assert!(s.endpoint(7, 0).is_some());
    s.done(oid::OID_SWITCH_NIC_CREATE, &nic7, false);
    assert_eq!(s.endpoint(7, 0), None);
    s.done(oid::OID_SWITCH_PORT_CREATE, &p7, false);
    assert_eq!(
        s.set(oid::OID_SWITCH_NIC_CREATE, &nic7),
        Err(NtStatus::INVALID_PARAMETER)
    );
    // Successful completions leave things be.
    s.done(oid::OID_SWITCH_PORT_CREATE, &p5, true);
    s.done(oid::OID_SWITCH_NIC_CREATE, &Nic::vm(5).bytes(), true);
    assert!(s.endpoint(5, 0).is_some());

    // A port delete takes what is left on it.
    assert_eq!(s.set(oid::OID_SWITCH_PORT_DELETE, &p5), Ok(()));
    assert_eq!(s.endpoint(5, 0), None);
    assert_eq!(s.endpoints(), 0);
}

#[test]
fn host_and_physical_nics() {
    let mut s = Switch::new();
    s.dev.attach(1).unwrap();
    let external = |index, friendly| Nic {
        index,
        nic_type: types::NDIS_SWITCH_NIC_TYPE_EXTERNAL,
        friendly,
        ..Nic::vm(1)
    };
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &port(1, 1, "uplink", false)),
        Ok(())
    );
    // The virtual external NIC (index 0) is no endpoint.
    let virt = external(0, "Team").bytes();
    assert_eq!(
        hyperv::alias_wanted_by(oid::OID_SWITCH_NIC_CREATE, &virt),
        None
    );
    assert_eq!(s.set(oid::OID_SWITCH_NIC_CREATE, &virt), Ok(()));
    assert_eq!(s.endpoints(), 0);
    // Physical NICs: by interface alias, else by friendly name.
    let eth1 = external(1, "Intel NIC").bytes();
    assert_eq!(
        hyperv::alias_wanted_by(oid::OID_SWITCH_NIC_CREATE, &eth1),
        Some(GUID)
    );
    assert_eq!(
        hyperv::alias_wanted_by(oid::OID_SWITCH_NIC_UPDATED, &eth1),
        Some(GUID)
    );
    assert_eq!(
        hyperv::alias_wanted_by(oid::OID_SWITCH_NIC_CONNECT, &eth1),
        None
    );
    assert_eq!(
        s.set_alias(oid::OID_SWITCH_NIC_CREATE, &eth1, Some("Ethernet0")),
        Ok(())
    );
    assert_eq!(s.endpoint(1, 1).unwrap().0, PortKind::External);
    assert_eq!(s.endpoint(1, 1).unwrap().1, "Ethernet0");
    let eth2 = external(2, "Broadcom NIC").bytes();
    assert_eq!(s.set(oid::OID_SWITCH_NIC_CREATE, &eth2), Ok(()));
    assert_eq!(s.endpoint(1, 2).unwrap().1, "Broadcom NIC");
    // A renamed alias renames the endpoint; a failed lookup keeps the name
    // (no falling back to the friendly name once named).
    assert_eq!(
        s.set_alias(oid::OID_SWITCH_NIC_UPDATED, &eth1, Some("uplink0")),
        Ok(())
    );
    assert_eq!(s.endpoint(1, 1).unwrap().1, "uplink0");
    let eth1 = Nic {
        mtu: 9000,
        ..external(1, "Intel NIC")
    }
    .bytes();
    assert_eq!(s.set(oid::OID_SWITCH_NIC_UPDATED, &eth1), Ok(()));
    assert_eq!(s.endpoint(1, 1).unwrap().1, "uplink0");
    assert_eq!(s.endpoint(1, 1).unwrap().4, 9000);
    let eth2 = external(2, "Broadcom NIC (renamed)").bytes();
    assert_eq!(s.set(oid::OID_SWITCH_NIC_UPDATED, &eth2), Ok(()));
    assert_eq!(s.endpoint(1, 2).unwrap().1, "Broadcom NIC");

    // The host's NIC goes by its friendly name.
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &port(2, 4, "ignored", false)),
        Ok(())
    );
    let host = Nic {
        nic_type: types::NDIS_SWITCH_NIC_TYPE_INTERNAL,
        friendly: "br-int",
        ..Nic::vm(2)
    };
    // Its interface is the tunnel underlay's; a physical NIC's is not.
    for o in [oid::OID_SWITCH_NIC_CREATE, oid::OID_SWITCH_NIC_UPDATED] {
        assert_eq!(hyperv::host_interface_by(o, &host.bytes()), Some(GUID));
        assert_eq!(hyperv::host_interface_by(o, &eth2), None);
    }
    assert_eq!(
        hyperv::host_interface_by(oid::OID_SWITCH_NIC_CONNECT, &host.bytes()),
        None
    );
    assert_eq!(s.set(oid::OID_SWITCH_NIC_CREATE, &host.bytes()), Ok(()));
    assert_eq!(s.endpoint(2, 0).unwrap().0, PortKind::Internal);
    assert_eq!(s.endpoint(2, 0).unwrap().1, "br-int");
    // Deleting the external port takes its physical NICs.
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_DELETE, &port(1, 1, "uplink", false)),
        Ok(())
    );
    assert_eq!(s.endpoints(), 1);
}

#[test]
fn nic_changes_wake_event_readers() {
    let mut s = Switch::new();
    s.dev.attach(1).unwrap();
    s.dev.with_datapath(|dp| {
        let mut q = dp.queues.lock();
        q.events.join(9, group::VPORT).unwrap();
        assert_eq!(q.events.pend(9, PendToken(41)), Ok(true));
    });
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &port(5, 2, "web-1", false)),
        Ok(())
    );
    let nic = Nic::vm(5).bytes();
    assert_eq!(s.set(oid::OID_SWITCH_NIC_CREATE, &nic), Ok(()));
    assert!(s.wake.is_empty(), "a created NIC is not up yet");
    s.done(oid::OID_SWITCH_NIC_CONNECT, &nic, true);
    let wake = std::mem::take(&mut s.wake);
    assert_eq!(wake.into_tokens(), vec![PendToken(41)]);
}

#[test]
fn activation_imports_ports_and_nics() {
    let mut s = Switch::new();
    // A port the switch already announced by OID is not a conflict.
    assert_eq!(
        s.set(oid::OID_SWITCH_PORT_CREATE, &port(5, 2, "web-1", false)),
        Ok(())
    );
    let stride = size_of::<NdisSwitchPortParameters>();
    let ports = array(
        oid::PORT_ARRAY_SIZE as usize,
        &[
            port(5, 2, "web-1", false),
            port(6, 2, "web-2", false),
            port(7, 2, "validation", true),
            port(1, 1, "uplink", false),
        ],
        stride,
    );
    let mut rest = hyperv::import_order(&ports).unwrap().into_iter();
    assert_eq!(s.ports.import_ports(&mut rest), Ok(false));
    assert_eq!(s.ports.len(), 3);
    assert_eq!(s.ports.external_port(), Some(1));
    assert_eq!(
        hyperv::import_order(&ports[..30]).map(|p| p.len()),
        Err(NtStatus::INVALID_PARAMETER)
    );
    s.dev.attach(1).unwrap();

    let connected = types::NDIS_SWITCH_NIC_STATE_CONNECTED;
    let nics = [
        Nic {
            state: connected,
            ..Nic::vm(5)
        }
        .bytes(),
        Nic::vm(6).bytes(),
        Nic {
            state: connected,
            ..Nic::vm(77)
        }
        .bytes(),
    ];
    let stride = size_of::<NdisSwitchNicParameters>();
    let array = array(oid::NIC_ARRAY_SIZE as usize, &nics, stride);
    let found: Vec<_> = hyperv::nic_elements(&array).unwrap().collect();
    assert_eq!(found.len(), 3);
    let results: Vec<_> = found
        .iter()
        .map(|n| s.ports.nic_found(n, None, &s.dev, &mut s.wake))
        .collect();
    assert_eq!(results, [Ok(()), Ok(()), Err(NtStatus::INVALID_PARAMETER)]);
    assert_eq!(s.endpoint(5, 0).unwrap().2, NicState::Connected);
    assert_eq!(s.endpoint(6, 0).unwrap().2, NicState::Created);
    // Found again (the NIC also came by OID): still one, still connected.
    assert_eq!(
        s.ports.nic_found(&found[0], None, &s.dev, &mut s.wake),
        Ok(())
    );
    assert_eq!(s.endpoints(), 2);
    assert!(hyperv::nic_elements(&array[..array.len() - 1]).is_none());

    s.ports.clear();
    assert!(s.ports.is_empty());
}

#[test]
fn guids_read_as_stored() {
    // {583CC151-73EC-4A6A-8B47-578297AD7623} as it sits in memory.
    let stored = [
        0x51, 0xC1, 0x3C, 0x58, 0xEC, 0x73, 0x6A, 0x4A, 0x8B, 0x47, 0x57, 0x82, 0x97, 0xAD, 0x76,
        0x23,
    ];
    let guid = types::Guid {
        data1: 0x583C_C151,
        data2: 0x73EC,
        data3: 0x4A6A,
        data4: [0x8B, 0x47, 0x57, 0x82, 0x97, 0xAD, 0x76, 0x23],
    };
    assert_eq!(types::Guid::from_bytes(stored), guid);
}

#[test]
fn issued_queries_announce_revision_1() {
    let r = types::NdisOidRequest::query(types::OID_SWITCH_PORT_ARRAY, std::ptr::null_mut(), 20);
    assert_eq!(r.header.object_type, types::NDIS_OBJECT_TYPE_OID_REQUEST);
    assert_eq!(r.header.revision, types::NDIS_OID_REQUEST_REVISION_1);
    assert_eq!(r.header.size, types::NDIS_SIZEOF_OID_REQUEST_REVISION_1);
    assert_eq!(r.request_type, types::NDIS_REQUEST_QUERY_INFORMATION);
    assert!(r.source_reserved.iter().all(|b| *b == 0));
}

// ---------------------------------------------------------------------------
// Packet path: destinations, fates, copies' offloads, runs, the pause drain.

mod packet_path {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use ovsext::offload::{Checksums, Lso, Request};
    use ovsext::platform::buffer::{self, Pool, Window};
    use ovsext::platform::drain::{Closed, Drain};
    use ovsext::platform::forward::{
        self, CopyOffload, Direction, Fate, Links, MAX_DESTINATIONS, Placement, Route,
    };
    use proptest::prelude::*;

    /// An NBL's forwarding context as NDIS keeps it: committed destinations
    /// and free slots after them.
    #[derive(Default)]
    struct Dests {
        slots: Vec<Option<u32>>,
        committed: u32,
        grows: usize,
    }

    impl Dests {
        fn available(&self) -> u16 {
            (self.slots.len() as u32 - self.committed) as u16
        }

        /// Applies one `place` decision the way the glue does.
        fn add(&mut self, port: u32) -> bool {
            match forward::place(self.committed, self.available()) {
                Placement::Add => {
                    assert_eq!(self.committed, 0);
                    self.slots.push(Some(port));
                }
                Placement::Write { at } => {
                    assert_eq!(at, self.committed);
                    self.slots[at as usize] = Some(port);
                }
                Placement::Grow { by, at } => {
                    assert_eq!(self.available(), 0);
                    self.grows += 1;
                    self.slots.extend(std::iter::repeat_n(None, by as usize));
                    self.slots[at as usize] = Some(port);
                }
                Placement::Full => return false,
            }
            self.committed += 1;
            true
        }
    }

    #[test]
    fn destinations_are_placed_in_order_with_few_growths() {
        let mut d = Dests::default();
        for p in 0..1000 {
            assert!(d.add(p));
        }
        let placed: Vec<u32> = d.slots.iter().take(1000).map(|s| s.unwrap()).collect();
        assert_eq!(placed, (0..1000).collect::<Vec<_>>());
        assert!(d.grows <= 10, "{} growths", d.grows);
        for p in 1000..MAX_DESTINATIONS {
            assert!(d.add(p));
        }
        assert!(!d.add(0));
        assert_eq!(d.slots.len(), MAX_DESTINATIONS as usize);
        // The switch may hand over an NBL with free slots already.
        let mut pre = Dests {
            slots: vec![None; 3],
            ..Dests::default()
        };
        for p in 0..5 {
            assert!(pre.add(p));
        }
        assert_eq!(pre.grows, 1);
    }

    /// What one NBL's outputs amount to, as the egress and the batch's
    /// end decide them: outputs are (whole, tag) of its frame(s).
    fn outcome(sole: bool, nbl_tag: Option<u16>, outputs: &[(bool, Option<u16>)]) -> Fate {
        let (mut dests, mut clones, mut copies) = (0, 0, 0);
        let mut last_clone_tag = None;
        for &(whole, tag) in outputs {
            match forward::route(whole, sole, tag, nbl_tag) {
                Route::Destination => dests += 1,
                Route::Clone if last_clone_tag == Some(tag) => {}
                Route::Clone => {
                    clones += 1;
                    last_clone_tag = Some(tag);
                }
                Route::Copy => copies += 1,
            }
        }
        forward::fate(dests, clones, copies)
    }

    #[test]
    fn fates_of_originals() {
        assert_eq!(forward::fate(0, 0, 0), Fate::Drop);
        assert_eq!(forward::fate(0, 0, 1), Fate::Consumed);
        assert_eq!(forward::fate(2, 0, 0), Fate::Forward);
        assert_eq!(forward::fate(0, 1, 0), Fate::Hold { plain_clone: false });
        assert_eq!(forward::fate(1, 3, 0), Fate::Hold { plain_clone: true });
        // A flow miss, or a drop action: nothing goes out.
        assert_eq!(outcome(true, None, &[]), Fate::Drop);
        // Unicast, or flooding, of an untouched frame: the NBL itself goes.
        assert_eq!(outcome(true, None, &[(true, None); 3]), Fate::Forward);
        // push_vlan to the uplink and a plain output to a VM port: the VM
        // port's destination rides a plain clone, the NBL is held.
        assert_eq!(
            outcome(true, None, &[(true, Some(10)), (true, None)]),
            Fate::Hold { plain_clone: true }
        );
        // pop_vlan of a tagged frame to two ports: one clone for both.
        assert_eq!(
            outcome(true, Some(7), &[(true, None), (true, None)]),
            Fate::Hold { plain_clone: false }
        );
        // A truncated copy (sampling) beside a normal output.
        assert_eq!(
            outcome(true, None, &[(false, None), (true, None)]),
            Fate::Forward
        );
        // An NBL of several frames: every output is a copy.
        assert_eq!(
            outcome(false, None, &[(true, None), (true, None)]),
            Fate::Consumed
        );
    }

    #[test]
    fn copies_do_in_software_only_what_a_rewrite_invalidated() {
        let csum = Checksums {
            ip: true,
            tcp: true,
            udp: false,
        };
        let lso = Lso {
            mss: 1460,
            v2: true,
        };
        let both = Request {
            checksums: csum,
            lso: Some(lso),
        };
        let only_csum = Request {
            checksums: csum,
            lso: None,
        };
        use CopyOffload::*;
        use Direction::*;
        assert_eq!(forward::copy_offload(Transmit, both, true), Segment(lso));
        assert_eq!(
            forward::copy_offload(Transmit, only_csum, true),
            Complete(csum)
        );
        assert_eq!(forward::copy_offload(Transmit, Request::NONE, true), Keep);
        assert_eq!(forward::copy_offload(Transmit, both, false), Keep);
        assert_eq!(forward::copy_offload(Receive, both, true), Keep);
        assert_eq!(forward::copy_offload(Receive, only_csum, false), Keep);
    }

    /// NBLs as a vector of links, keyed by source port (`None`: unknown).
    struct Chain {
        next: Vec<Option<usize>>,
        key: Vec<Option<u32>>,
    }

    impl Links for Chain {
        type Node = usize;
        fn next(&self, n: usize) -> Option<usize> {
            self.next[n]
        }
        fn set_next(&mut self, n: usize, next: Option<usize>) {
            self.next[n] = next;
        }
    }

    fn chain(keys: &[Option<u32>]) -> Chain {
        Chain {
            next: (0..keys.len())
                .map(|i| (i + 1 < keys.len()).then_some(i + 1))
                .collect(),
            key: keys.to_vec(),
        }
    }

    /// The runs as (nodes walked from each run's head, key).
    fn cut(keys: &[Option<u32>]) -> Vec<(Vec<usize>, Option<u32>)> {
        let mut c = chain(keys);
        let mut out = Vec::new();
        let head = (!keys.is_empty()).then_some(0);
        forward::runs(
            &mut c,
            head,
            |c, n| c.key[n],
            |c, first, count, k| {
                let mut nodes = vec![first];
                while let Some(n) = c.next(*nodes.last().unwrap()) {
                    nodes.push(n);
                }
                assert_eq!(nodes.len(), count);
                out.push((nodes, k));
            },
        );
        out
    }

    #[test]
    fn completions_are_grouped_by_source() {
        // The single-source flag must never cover NBLs of two ports
        // (hcsshim#1056): 5,5 | 7 | 5 | ? | ? | 9,9.
        let keys = [
            Some(5),
            Some(5),
            Some(7),
            Some(5),
            None,
            None,
            Some(9),
            Some(9),
        ];
        let runs = cut(&keys);
        let expect: Vec<(Vec<usize>, Option<u32>)> = vec![
            (vec![0, 1], Some(5)),
            (vec![2], Some(7)),
            (vec![3], Some(5)),
            (vec![4], None),
            (vec![5], None),
            (vec![6, 7], Some(9)),
        ];
        assert_eq!(runs, expect);
        assert!(cut(&[]).is_empty());
        assert_eq!(cut(&[Some(1)]), vec![(vec![0], Some(1))]);
    }

    proptest! {
        #[test]
        fn runs_partition_the_chain(keys in proptest::collection::vec(
            proptest::option::weighted(0.8, 0u32..3), 0..40)) {
            let runs = cut(&keys);
            let order: Vec<usize> = runs.iter().flat_map(|(n, _)| n.clone()).collect();
            prop_assert_eq!(order, (0..keys.len()).collect::<Vec<_>>());
            for (nodes, k) in &runs {
                prop_assert!(nodes.iter().all(|&n| keys[n] == *k));
                prop_assert!(k.is_some() || nodes.len() == 1);
            }
            for w in runs.windows(2) {
                prop_assert!(w[0].1.is_none() || w[0].1 != w[1].1);
            }
        }

        #[test]
        fn windows_stay_in_their_buffer(
            len in 0usize..3000,
            ops in proptest::collection::vec((0u8..3, 0usize..200), 0..30),
        ) {
            let Some(pool) = buffer::pool_for(len) else { return Ok(()) };
            let mut w = Window::new(pool.data_size(), len).unwrap();
            for (op, n) in ops {
                let before = w;
                match op {
                    0 => if !w.push_front(n) { prop_assert_eq!(w, before) },
                    1 => if !w.pull_front(n) { prop_assert_eq!(w, before) },
                    _ => w.truncate(n),
                }
                prop_assert!(w.range().end <= pool.data_size());
                prop_assert_eq!(w.range().len(), w.len());
            }
        }
    }

    #[test]
    fn frames_go_to_the_smallest_pool_that_holds_them() {
        assert_eq!(buffer::pool_for(1514), Some(Pool::Small));
        assert_eq!(buffer::pool_for(9014), Some(Pool::Large));
        assert_eq!(buffer::pool_for(65535 + 18), Some(Pool::Large));
        assert_eq!(buffer::pool_for(buffer::MAX_FRAME + 1), None);
        assert!(buffer::readable_in_place(false, 200, 60));
        assert!(!buffer::readable_in_place(false, 200, 1514));
    }

    #[test]
    fn a_pause_waits_for_every_reference_and_is_woken_once() {
        for round in 0..200 {
            let d = Arc::new(Drain::new());
            d.open();
            let stop = Arc::new(AtomicBool::new(false));
            let wakes = Arc::new(AtomicUsize::new(0));
            let admitted_after_close = Arc::new(AtomicUsize::new(0));
            let closed = Arc::new(AtomicBool::new(false));
            let workers: Vec<_> = (0..3)
                .map(|t| {
                    let (d, stop, wakes) = (d.clone(), stop.clone(), wakes.clone());
                    let (late, closed) = (admitted_after_close.clone(), closed.clone());
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            let was_closed = closed.load(Ordering::SeqCst);
                            if !d.enter() {
                                continue;
                            }
                            if was_closed {
                                late.fetch_add(1, Ordering::Relaxed);
                            }
                            // A handler that sends some NBLs of its own.
                            let sent = (round + t) % 3;
                            for _ in 0..sent {
                                d.hold();
                            }
                            for _ in 0..=sent {
                                if d.leave() {
                                    wakes.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        }
                    })
                })
                .collect();
            std::thread::yield_now();
            let verdict = d.close();
            closed.store(true, Ordering::SeqCst);
            stop.store(true, Ordering::Relaxed);
            for w in workers {
                w.join().unwrap();
            }
            assert_eq!(d.count(), 0);
            assert_eq!(admitted_after_close.load(Ordering::Relaxed), 0);
            let expect = usize::from(verdict == Closed::Wait);
            assert_eq!(wakes.load(Ordering::SeqCst), expect, "round {round}");
            assert!(!d.enter());
        }
    }
}

/// The port array is imported a bounded batch of elements per hold of the
/// port-table lock (which raises to DISPATCH_LEVEL), however long it is.
#[test]
fn the_port_import_takes_bounded_steps() {
    let mut s = Switch::new();
    let stride = size_of::<NdisSwitchPortParameters>();
    let n = 2 * hyperv::IMPORT_BATCH + 5;
    // Ids in descending order, a malformed element among them.
    let mut elements: Vec<_> = (0..n)
        .map(|i| port(1000 - i as u32, 2, &format!("vm-{i}"), false))
        .collect();
    elements.insert(7, vec![0; stride]);
    elements.push(port(1, 1, "uplink", false));
    let ports = array(oid::PORT_ARRAY_SIZE as usize, &elements, stride);
    let order = hyperv::import_order(&ports).unwrap();
    assert_eq!(order.len(), n + 1);
    assert!(order.windows(2).all(|w| w[0].port_id < w[1].port_id));
    let mut rest = order.into_iter();
    let mut steps = Vec::new();
    loop {
        let before = s.ports.len();
        let more = s.ports.import_ports(&mut rest).unwrap();
        steps.push(s.ports.len() - before);
        if !more {
            break;
        }
    }
    assert_eq!(steps, [hyperv::IMPORT_BATCH, hyperv::IMPORT_BATCH, 6]);
    assert_eq!(s.ports.len(), n + 1);
    assert_eq!(s.ports.external_port(), Some(1));
    s.ports.clear();
    assert_eq!(s.ports.external_port(), None);
}

#[test]
fn the_external_port_is_known() {
    let mut s = Switch::new();
    s.dev.attach(1).unwrap();
    assert_eq!(s.ports.external_port(), None);
    let vm = port(5, 2, "web-1", false);
    let uplink = port(1, 1, "uplink", false);
    assert_eq!(s.set(oid::OID_SWITCH_PORT_CREATE, &vm), Ok(()));
    assert_eq!(s.ports.external_port(), None);
    assert_eq!(s.set(oid::OID_SWITCH_PORT_CREATE, &uplink), Ok(()));
    assert_eq!(s.ports.external_port(), Some(1));
    assert_eq!(s.set(oid::OID_SWITCH_PORT_DELETE, &uplink), Ok(()));
    assert_eq!(s.ports.external_port(), None);
}

// ---------------------------------------------------------------------------
// Kernel imports: the driver loads on every host NDIS 6.30 runs on.

/// Kernel routines newer than the oldest supported host: looked up by name
/// at run time, never imported (an import the kernel lacks fails the load).
const LOOKED_UP: [&str; 1] = ["ExAllocatePool2"];

fn sys_sources() -> Vec<(std::path::PathBuf, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sys")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files
}

#[test]
fn newer_kernel_routines_are_looked_up_not_imported() {
    let sources = sys_sources();
    assert!(sources.len() > 10);
    for name in LOOKED_UP {
        for (path, text) in &sources {
            assert!(
                !text.contains(&format!("fn {name}(")),
                "{} declares {name} as an import",
                path.display()
            );
        }
        let runtime = &sources
            .iter()
            .find(|(p, _)| p.ends_with("runtime.rs"))
            .unwrap()
            .1;
        assert!(runtime.contains(&format!("ascii_utf16(\"{name}\")")));
    }
    // windows-drivers-rs' allocator imports ExAllocatePool2.
    let manifest = include_str!("../Cargo.toml");
    assert!(!manifest.contains("wdk-alloc"));
}
