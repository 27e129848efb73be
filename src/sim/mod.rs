//! The host platform of `ovsext-sim`: a Hyper-V switch, its ports and the
//! handles of a user-mode client, driven by script lines through the same
//! `Device` the driver uses (design §5 gives the script contract).

// A host tool, not driver code: it may stop on its own failures.
#![allow(clippy::expect_used)]

pub mod demo;
pub mod explain;
pub mod msg;
mod script;
mod trace;
pub mod view;

pub use script::{Command, parse_hex, parse_line};
pub use view::dump_flows;

use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use crate::datapath::receive::{Effects, Egress, RxContext};
use crate::handle::HandleId;
use crate::ioctl::{Device, Io, Outcome, code};
use crate::packet::{OwnedPacket, Packet};
use crate::pend::{PendToken, Wakeups};
use crate::percpu::Cpu;
use crate::platform::activation::Activation;
use crate::platform::time::Now;
use crate::status::NtStatus;
use crate::switch::{Endpoint, NicIndex, PortId, PortKind};
use crate::tunnel::underlay::{Full, Underlay};

/// Default output buffer length of an `ioctl` line.
pub const DEFAULT_OUTLEN: usize = 65536;

/// Frames leaving the simulated switch, printed as `tx` lines with any
/// out-of-band VLAN tag shown in band, as it goes on the wire.
#[derive(Default)]
struct SimEgress {
    sent: Vec<(PortId, Vec<u8>)>,
}

impl Egress<OwnedPacket> for SimEgress {
    fn send(&mut self, port: PortId, _nic: NicIndex, pkt: OwnedPacket) {
        let data = pkt.data();
        let frame = match (pkt.oob_vlan(), data.split_at_checked(12)) {
            (Some(tci), Some((macs, rest))) => {
                [macs, &[0x81, 0x00], &tci.to_be_bytes(), rest].concat()
            }
            _ => data.to_vec(),
        };
        self.sent.push((port, frame));
    }
}

impl SimEgress {
    fn print(self, out: &mut Vec<String>) {
        for (port, frame) in self.sent {
            out.push(format!("tx {port} {}", hex(&frame)));
        }
    }
}

pub struct Sim {
    device: Device,
    /// The datapath's life with the switch, as the driver keeps it.
    activation: Activation,
    rx: RxContext<OwnedPacket>,
    handles: BTreeMap<u32, HandleId>,
    /// Pended requests: token -> (script handle, IOCTL code).
    pended: BTreeMap<PendToken, (u32, u32)>,
    next_token: u64,
    now: Now,
    line_no: usize,
    /// `--explain` (and `--hex`): each line is followed by its meaning.
    trace: Option<Trace>,
}

/// What `--explain` adds.
#[derive(Clone, Copy, Debug)]
pub struct Trace {
    /// Frames' hex under their summaries (`--hex`).
    pub hex: bool,
}

impl Default for Sim {
    fn default() -> Sim {
        Sim::new()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".into();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// View lines as comments (`# ...`), which script consumers ignore.
fn comment(lines: Vec<String>, out: &mut Vec<String>) {
    out.extend(lines.into_iter().map(|l| format!("# {l}")));
}

/// The simulator's clock reads zero at 2026-01-01T00:00:00Z, so that the
/// calendar times it reports (a connection's start) are the same each run.
pub const SIM_WALL_EPOCH_NS: u64 = 1_767_225_600 * 1_000_000_000;

pub fn status_name(s: NtStatus) -> String {
    s.name()
        .map_or_else(|| format!("0x{:08X}", s.0), String::from)
}

fn code_name(c: u32, as_written: &str) -> String {
    code::name(c).map_or_else(|| as_written.into(), String::from)
}

impl Sim {
    pub fn new() -> Sim {
        let device = Device::new();
        device.set_wall_epoch(SIM_WALL_EPOCH_NS);
        Sim {
            device,
            activation: Activation::new(),
            // The simulator runs where memory is plentiful.
            rx: RxContext::try_new(Cpu::Pinned(0), 0x5eed).expect("receive context"),
            handles: BTreeMap::new(),
            pended: BTreeMap::new(),
            next_token: 1,
            now: Now::default(),
            line_no: 0,
            trace: None,
        }
    }

    /// Adds the `--explain` lines (`# ...`) to what each line prints.
    pub fn set_trace(&mut self, trace: Option<Trace>) {
        self.trace = trace;
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn now_ms(&self) -> u64 {
        self.now.ms()
    }

    /// Runs a whole script; returns every output line.
    pub fn run(&mut self, script: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in script.lines() {
            self.line(line, &mut out);
        }
        out
    }

    /// Runs one script line, appending the lines it causes to `out`.
    pub fn line(&mut self, line: &str, out: &mut Vec<String>) {
        self.line_no += 1;
        match parse_line(line) {
            Ok(None) => {}
            Ok(Some(cmd)) => {
                let Some(trace) = self.trace else {
                    if let Err(msg) = self.exec(cmd, out) {
                        out.push(format!("error {} {msg}", self.line_no));
                    }
                    return;
                };
                out.extend(self.explain_input(&cmd, trace));
                let mut caused = Vec::new();
                let done = self.exec(cmd, &mut caused);
                for l in caused {
                    let words = self.explain_output(&l, trace);
                    out.push(l);
                    out.extend(words);
                }
                if let Err(msg) = done {
                    out.push(format!("error {} {msg}", self.line_no));
                }
            }
            Err(msg) => out.push(format!("error {} {msg}", self.line_no)),
        }
    }

    /// `f` of the (first) endpoint of a script port, if the switch has it.
    fn with_endpoint<R>(&self, port: PortId, f: impl FnOnce(&Endpoint) -> R) -> Option<R> {
        self.device
            .with_datapath(|dp| {
                dp.ports
                    .read()
                    .switch
                    .iter()
                    .find(|e| e.port == port)
                    .map(f)
            })
            .flatten()
    }

    /// Changes the host's addresses, routes or neighbours.
    fn underlay(&self, f: impl FnOnce(&mut Underlay) -> Result<(), Full>) -> Result<(), String> {
        self.device
            .with_datapath(|dp| f(&mut dp.ports.write().underlay))
            .ok_or("no switch is attached")?
            .map_err(|Full| "table full".into())
    }

    /// The NIC a script port stands for (the uplink's physical NIC is 1).
    fn nic_of(&self, port: PortId) -> Option<NicIndex> {
        self.with_endpoint(port, |e| e.nic)
    }

    fn handle(&self, h: u32) -> Result<HandleId, String> {
        self.handles
            .get(&h)
            .copied()
            .ok_or_else(|| format!("handle {h} is not open"))
    }

    fn complete(&mut self, wake: Wakeups, out: &mut Vec<String>) {
        for t in wake.into_tokens() {
            if let Some((h, c)) = self.pended.remove(&t) {
                out.push(format!("complete {h} {} SUCCESS -", code_name(c, "")));
            }
        }
    }

    fn exec(&mut self, cmd: Command<'_>, out: &mut Vec<String>) -> Result<(), String> {
        let mut wake = Wakeups::new();
        match cmd {
            Command::SwitchUp => {
                let device = &self.device;
                self.activation
                    .activate(|| device.attach(1), || Ok(()), || {})
                    .map_err(|s| format!("attach failed: {}", status_name(s)))?;
            }
            Command::SwitchDown => {
                self.activation.reset();
                self.device.detach(&mut wake);
            }
            Command::SwitchPreDetach => self.activation.pre_detach(),
            Command::Port {
                id,
                kind,
                name,
                mac,
            } => {
                let nic: NicIndex = if kind == PortKind::External { 1 } else { 0 };
                self.device
                    .with_datapath(|dp| {
                        dp.nic_create(id, nic, kind, name, mac, 1500)?;
                        dp.nic_connect(id, nic, &mut wake)
                    })
                    .ok_or("no switch is attached")?
                    .map_err(|v| format!("port {id} refused: {v:?}"))?;
            }
            Command::Unport { id } => {
                self.device
                    .with_datapath(|dp| dp.port_delete(id, &mut wake))
                    .ok_or("no switch is attached")?;
            }
            Command::Open { h } => {
                if self.handles.contains_key(&h) {
                    return Err(format!("handle {h} is already open"));
                }
                let id = self
                    .device
                    .open()
                    .map_err(|s| format!("open failed: {}", status_name(s)))?;
                self.handles.insert(h, id);
            }
            Command::Close { h } => {
                let id = self.handle(h)?;
                self.device.cleanup(id, &mut wake);
                self.device.close(id, &mut wake);
                self.complete(wake, out);
                self.handles.remove(&h);
                return Ok(());
            }
            Command::Ioctl {
                h,
                code: c,
                code_text,
                input,
                outlen,
            } => {
                let id = self.handle(h)?;
                let token = PendToken(self.next_token);
                self.next_token += 1;
                let mut output = std::vec![0u8; outlen];
                let name = code_name(c, code_text);
                let mut egress = SimEgress::default();
                let mut io = Io {
                    token,
                    now: self.now,
                    egress: &mut egress,
                };
                let outcome = match self.activation.refuses(c, &input) {
                    Some(status) => Outcome::Done { status, len: 0 },
                    None => self
                        .device
                        .ioctl(id, c, &input, &mut output, &mut io, &mut wake),
                };
                // Packets it sent and requests it completed come before its own end.
                egress.print(out);
                self.complete(core::mem::take(&mut wake), out);
                match outcome {
                    Outcome::Pending => {
                        self.pended.insert(token, (h, c));
                        out.push(format!("ioctl {h} {name} PENDING -"));
                    }
                    Outcome::Done { status, len } => {
                        let bytes = if status.is_success() {
                            output.get(..len).unwrap_or_default()
                        } else {
                            &[]
                        };
                        out.push(format!(
                            "ioctl {h} {name} {} {}",
                            status_name(status),
                            hex(bytes)
                        ));
                    }
                }
            }
            Command::Rx { port, frame } => {
                if self.activation.is_detaching() {
                    // The driver fails the send as when paused.
                    return Err("send failed: the extension is detaching".into());
                }
                let pkt = OwnedPacket::from_frame(&frame).ok_or("out of memory")?;
                let nic = self.nic_of(port).ok_or_else(|| format!("no port {port}"))?;
                let mut egress = SimEgress::default();
                let now = self.now;
                let rx = &mut self.rx;
                self.device
                    .with_datapath(|dp| {
                        let mut fx = Effects {
                            egress: &mut egress,
                            wake: &mut wake,
                        };
                        dp.receive(rx, (port, nic), pkt, now, &mut fx)
                    })
                    .ok_or("no switch is attached")?;
                egress.print(out);
            }
            Command::HostIp(p) => self.underlay(|u| u.add_host(p))?,
            Command::Route(r) => self.underlay(|u| u.add_route(r))?,
            Command::Neigh { ip, mac } => self.underlay(|u| u.set_neighbour(ip, mac))?,
            Command::Show => {
                let lines = self.device.with_datapath(view::show);
                comment(lines.ok_or("no switch is attached")?, out);
            }
            Command::DumpFlows => {
                let now = self.now.ms();
                let lines = self.device.with_datapath(|dp| view::dump_flows(dp, now));
                comment(lines.ok_or("no switch is attached")?, out);
            }
            Command::DumpConntrack => {
                let lines = self.device.with_datapath(view::dump_conntrack);
                comment(lines.ok_or("no switch is attached")?, out);
            }
            Command::FragStatus => {
                let lines = self.device.with_datapath(view::frag_status);
                comment(lines.ok_or("no switch is attached")?, out);
            }
            Command::Tick { ms } => {
                // Upkeep runs once for each simulated second that passes.
                let before = self.now.ms() / 1000;
                self.now = self.now.after_ms(ms);
                if self.now.ms() / 1000 != before {
                    self.device.maintain(self.now.ms(), &mut wake);
                }
            }
        }
        self.complete(wake, out);
        Ok(())
    }
}
