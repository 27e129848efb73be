//! `ovsext-sim`: the datapath in user mode. No arguments: the demo.
//! `replay [FILE|-]`: a script through the same Device and Datapath code.
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
fn replay(path: Option<&str>) -> ExitCode {
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
        Some("replay") => replay(args.get(1).map(String::as_str)),
        None => match ovsext::sim::demo::run(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        },
        _ => {
            eprintln!("usage: ovsext-sim [replay [FILE|-] | odp <verb>]");
            ExitCode::from(2)
        }
    }
}
