//! `--explain`: each request and frame going in, and each line coming out,
//! in words, as comment lines (`# > ...` for what goes in, `# < ...` for
//! what comes out).

use std::format;
use std::string::String;
use std::vec::Vec;

use super::explain::{frame, messages};
use super::{Command, Sim, Trace, parse_hex};
use crate::ioctl::code;
use crate::switch::PortId;

/// `lines` as comments after `lead`: the first on its line, the rest
/// indented under it as a reply's messages are.
fn comment(lead: &str, lines: Vec<String>, out: &mut Vec<String>) {
    let mut lines = lines.into_iter();
    match lines.next() {
        Some(first) => out.push(format!("# {lead} {first}")),
        None => out.push(format!("# {lead}")),
    }
    out.extend(lines.map(|l| format!("#     {l}")));
}

impl Sim {
    /// A frame's summary, and its hex under it when asked.
    fn frame_words(&self, lead: &str, port: PortId, bytes: &[u8], trace: Trace) -> Vec<String> {
        let mut lines = std::vec![frame::summary(bytes)];
        if trace.hex {
            lines.push(format!("  {}", super::hex(bytes)));
        }
        let mut out = Vec::new();
        comment(
            &format!("{lead} {port}{}:", self.port_label(port)),
            lines,
            &mut out,
        );
        out
    }

    /// ` (name)` of a switch port, if the switch knows it.
    fn port_label(&self, port: PortId) -> String {
        self.with_endpoint(port, |e| format!(" ({})", e.name))
            .unwrap_or_default()
    }

    /// What goes in: a request's messages, a received frame.
    pub(super) fn explain_input(&self, cmd: &Command<'_>, trace: Trace) -> Vec<String> {
        let mut out = Vec::new();
        match cmd {
            Command::Ioctl {
                h,
                code: c,
                code_text,
                input,
                ..
            } => {
                let name = code::name(*c).unwrap_or(code_text);
                comment(
                    &format!("> h{h} {name}"),
                    messages(input, trace.hex),
                    &mut out,
                );
            }
            Command::Rx { port, frame } => out = self.frame_words("> rx", *port, frame, trace),
            _ => {}
        }
        out
    }

    /// What a line of output means (nothing for lines that say it all).
    pub(super) fn explain_output(&self, line: &str, trace: Trace) -> Vec<String> {
        let w: Vec<&str> = line.split(' ').collect();
        let bytes = w.last().and_then(|h| parse_hex(h).ok()).unwrap_or_default();
        let mut out = Vec::new();
        match w.as_slice() {
            ["tx", port, _] => {
                let port = port.parse().unwrap_or_default();
                out = self.frame_words("< tx", port, &bytes, trace);
            }
            ["ioctl" | "complete", h, code, status, _] => {
                let verb = if w.first() == Some(&"complete") {
                    " completes"
                } else {
                    ""
                };
                let lead = format!("< h{h} {code}{verb} {status}");
                let pid = bytes.first_chunk::<4>().map(|b| u32::from_ne_bytes(*b));
                match (*code, pid) {
                    (_, _) if bytes.is_empty() && *status == "PENDING" => {
                        out.push(format!("# {lead}"))
                    }
                    (_, _) if bytes.is_empty() => out.push(format!("# {lead}, no data")),
                    ("GET_PID", Some(pid)) => out.push(format!("# {lead}, PID {pid}")),
                    _ => {
                        out.push(format!("# {lead}"));
                        out.extend(
                            messages(&bytes, trace.hex)
                                .into_iter()
                                .map(|m| format!("#     {m}")),
                        );
                    }
                }
            }
            _ => {}
        }
        out
    }
}
