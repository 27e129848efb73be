//! `ovsext-sim`: the datapath in user mode. No arguments: the demo.
//! `replay [--explain] [--hex] [FILE|-]`: a script through the same Device
//! and Datapath code; `--explain` adds each line's meaning as `# ` lines,
//! `--hex` (which implies it) the frames' hex under their summaries.
//! `odp <verb>`: flow key / action codec lines on stdin.

use std::io::{BufRead, Write};
use std::process::ExitCode;

fn odp(verb: &str) -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else {
            return ExitCode::from(1);
        };
        let Some(reply) = ovsext::flow::text::odp_line(verb, &line) else {
            eprintln!("ovsext-sim odp: unknown verb {verb}");
            return ExitCode::from(2);
        };
        if writeln!(out, "{reply}").is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// Replays a script, printing each line's output before reading the next.
fn replay(path: Option<&str>, trace: Option<ovsext::sim::Trace>) -> ExitCode {
    let reader: Box<dyn BufRead> = match path {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("ovsext-sim: {p}: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let mut sim = ovsext::sim::Sim::new();
    sim.set_trace(trace);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut lines = Vec::new();
    for line in reader.lines() {
        let Ok(line) = line else {
            eprintln!("ovsext-sim: the script could not be read");
            return ExitCode::from(1);
        };
        sim.line(&line, &mut lines);
        for l in lines.drain(..) {
            if writeln!(out, "{l}").is_err() {
                return ExitCode::from(1);
            }
        }
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}

/// `--explain` and `--hex`, wherever they are; the other arguments in order.
fn flags(args: Vec<String>) -> (Option<ovsext::sim::Trace>, Vec<String>) {
    let hex = args.iter().any(|a| a == "--hex");
    let explain = hex || args.iter().any(|a| a == "--explain");
    let rest = args
        .into_iter()
        .filter(|a| a != "--hex" && a != "--explain")
        .collect();
    (explain.then_some(ovsext::sim::Trace { hex }), rest)
}

fn main() -> ExitCode {
    // The datapath's log records go to stderr, as RUST_LOG selects
    // (`RUST_LOG=info` for the operator's events, `debug` for more).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("error"))
        .format_timestamp(None)
        .init();
    let (trace, args) = flags(std::env::args().skip(1).collect());
    match args.first().map(String::as_str) {
        Some("odp") => match args.get(1) {
            Some(verb) => odp(verb),
            None => {
                eprintln!(
                    "usage: ovsext-sim odp encode-key|encode-flow|decode-key|encode-actions|decode-actions"
                );
                ExitCode::from(2)
            }
        },
        Some("replay") => replay(args.get(1).map(String::as_str), trace),
        None => match ovsext::sim::demo::run(
            &mut std::io::stdout().lock(),
            trace.is_some_and(|t| t.hex),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        },
        _ => {
            eprintln!(
                "usage: ovsext-sim [--hex] | replay [--explain] [--hex] [FILE|-] | odp <verb>"
            );
            ExitCode::from(2)
        }
    }
}
