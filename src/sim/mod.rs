//! The host platform of `ovsext-sim`: a Hyper-V switch, its ports and the
//! handles of a user-mode client, driven by script lines through the same
//! `Device` the driver uses (design §5 gives the script contract).

pub mod demo;
pub mod msg;
mod script;

pub use script::{Command, parse_hex, parse_line};

use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use crate::handle::HandleId;
use crate::ioctl::{Device, Outcome, code};
use crate::pend::{PendToken, Wakeups};
use crate::status::NtStatus;
use crate::switch::{NicIndex, PortKind};

/// Default output buffer length of an `ioctl` line.
pub const DEFAULT_OUTLEN: usize = 65536;

pub struct Sim {
    device: Device,
    handles: BTreeMap<u32, HandleId>,
    /// Pended requests: token -> (script handle, IOCTL code).
    pended: BTreeMap<PendToken, (u32, u32)>,
    next_token: u64,
    now_ms: u64,
    line_no: usize,
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

pub fn status_name(s: NtStatus) -> String {
    s.name()
        .map_or_else(|| format!("0x{:08X}", s.0), String::from)
}

fn code_name(c: u32, as_written: &str) -> String {
    code::name(c).map_or_else(|| as_written.into(), String::from)
}

impl Sim {
    pub fn new() -> Sim {
        Sim {
            device: Device::new(),
            handles: BTreeMap::new(),
            pended: BTreeMap::new(),
            next_token: 1,
            now_ms: 0,
            line_no: 0,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
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
                if let Err(msg) = self.exec(cmd, out) {
                    out.push(format!("error {} {msg}", self.line_no));
                }
            }
            Err(msg) => out.push(format!("error {} {msg}", self.line_no)),
        }
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
            Command::SwitchUp => self.device.attach(),
            Command::SwitchDown => self.device.detach(&mut wake),
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
                self.complete(wake, out);
                self.device.close(id);
                self.handles.remove(&h);
                // Whatever was still pended on this handle completes at cleanup.
                let stale: Vec<PendToken> = self
                    .pended
                    .iter()
                    .filter(|(_, (ph, _))| *ph == h)
                    .map(|(t, _)| *t)
                    .collect();
                for t in stale {
                    if let Some((_, c)) = self.pended.remove(&t) {
                        out.push(format!("complete {h} {} SUCCESS -", code_name(c, "")));
                    }
                }
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
                let outcome = self
                    .device
                    .ioctl(id, c, &input, &mut output, token, &mut wake);
                // Requests this one completed finish before it returns.
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
            Command::Rx { .. } => return Err("rx: the datapath has no receive path".into()),
            Command::Tick { ms } => self.now_ms = self.now_ms.saturating_add(ms),
        }
        self.complete(wake, out);
        Ok(())
    }
}
