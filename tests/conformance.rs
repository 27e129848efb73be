//! Every vector of `../shared/conformance` (produced by Open vSwitch 3.7.1's
//! own parser and formatter) through `ovsext-sim odp <verb>`: encoding must
//! give the same bytes, decoding the same text, and rejected input an
//! `error: ` line with OVS's message.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");

/// The data rows of a vector file (the `#` header left out), with their
/// line numbers.
fn rows(file: &str) -> Vec<(usize, Vec<String>)> {
    let path = Path::new(DIR).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<_> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'))
        .map(|(n, l)| (n + 1, l.split('\t').map(String::from).collect()))
        .collect();
    assert!(!rows.is_empty(), "{file} has no vectors");
    rows
}

/// Runs all `lines` through one `ovsext-sim odp <verb>` process.
fn run(verb: &str, lines: &[String]) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovsext-sim"))
        .args(["odp", verb])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ovsext-sim");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("run ovsext-sim");
    writer.join().expect("writer").expect("write stdin");
    assert!(
        out.status.success(),
        "ovsext-sim odp {verb} exited with {}",
        out.status
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    let got: Vec<String> = text.lines().map(String::from).collect();
    assert_eq!(
        got.len(),
        lines.len(),
        "ovsext-sim odp {verb}: one line out per line in"
    );
    got
}

fn col(row: &[String], i: usize, file: &str, line: usize) -> String {
    row.get(i)
        .cloned()
        .unwrap_or_else(|| panic!("{file}:{line}: missing column {i}"))
}

/// Checks one verb over one file: `input(row)` is fed in, `want(row)` is
/// what must come out. Returns the failures, described.
fn check(
    file: &str,
    verb: &str,
    input: impl Fn(&[String], usize) -> String,
    want: impl Fn(&[String], usize) -> String,
) -> (usize, Vec<String>) {
    let rows = rows(file);
    let lines: Vec<String> = rows.iter().map(|(n, r)| input(r, *n)).collect();
    let got = run(verb, &lines);
    let mut failures = Vec::new();
    for (((n, r), line), g) in rows.iter().zip(&lines).zip(&got) {
        let w = want(r, *n);
        if *g != w {
            failures.push(format!(
                "{file}:{n} {verb}\n   in: {line}\n  got: {g}\n want: {w}"
            ));
        }
    }
    (rows.len(), failures)
}

/// Empty bytes are written `-`.
fn dash(hex: String) -> String {
    if hex.is_empty() { "-".into() } else { hex }
}

#[test]
fn all_vectors() {
    assert!(
        Path::new(DIR).is_dir(),
        "conformance vectors missing: {DIR}"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(DIR)
        .expect("read conformance directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    let mut results: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut record = |name: String, (total, fails): (usize, Vec<String>)| {
        results.insert(name, (total - fails.len(), total));
        failures.extend(fails);
    };
    for path in &files {
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .expect("file name")
            .to_string();
        let f = file.as_str();
        match f {
            "keys.tsv" => {
                record(
                    format!("{f} encode-key"),
                    check(
                        f,
                        "encode-key",
                        |r, n| col(r, 0, f, n),
                        |r, n| format!("{}\t-", dash(col(r, 1, f, n))),
                    ),
                );
                record(
                    format!("{f} decode-key"),
                    check(
                        f,
                        "decode-key",
                        |r, n| col(r, 1, f, n),
                        |r, n| col(r, 3, f, n),
                    ),
                );
            }
            "wc-keys.tsv" => {
                record(
                    format!("{f} encode-flow"),
                    check(
                        f,
                        "encode-flow",
                        |r, n| col(r, 0, f, n),
                        |r, n| format!("{}\t{}", dash(col(r, 1, f, n)), dash(col(r, 2, f, n))),
                    ),
                );
                record(
                    format!("{f} decode-key"),
                    check(
                        f,
                        "decode-key",
                        |r, n| format!("{}\t{}", col(r, 1, f, n), col(r, 2, f, n)),
                        |r, n| col(r, 3, f, n),
                    ),
                );
            }
            "actions.tsv" => {
                record(
                    format!("{f} encode-actions"),
                    check(
                        f,
                        "encode-actions",
                        |r, n| col(r, 0, f, n),
                        |r, n| dash(col(r, 1, f, n)),
                    ),
                );
                record(
                    format!("{f} decode-actions"),
                    check(
                        f,
                        "decode-actions",
                        |r, n| dash(col(r, 1, f, n)),
                        |r, n| col(r, 2, f, n),
                    ),
                );
            }
            "keys-invalid.tsv" => {
                for verb in ["encode-key", "encode-flow"] {
                    record(
                        format!("{f} {verb}"),
                        check(
                            f,
                            verb,
                            |r, n| col(r, 0, f, n),
                            |r, n| format!("error: {}", col(r, 1, f, n)),
                        ),
                    );
                }
            }
            "actions-invalid.tsv" => record(
                format!("{f} encode-actions"),
                check(
                    f,
                    "encode-actions",
                    |r, n| col(r, 0, f, n),
                    |r, n| format!("error: {}", col(r, 1, f, n)),
                ),
            ),
            "keys-decode.tsv" => record(
                format!("{f} decode-key"),
                check(
                    f,
                    "decode-key",
                    |r, n| format!("{}\t{}", col(r, 0, f, n), col(r, 1, f, n)),
                    |r, n| col(r, 2, f, n),
                ),
            ),
            "actions-decode.tsv" => record(
                format!("{f} decode-actions"),
                check(
                    f,
                    "decode-actions",
                    |r, n| col(r, 0, f, n),
                    |r, n| col(r, 1, f, n),
                ),
            ),
            other => panic!("{other}: a vector file this test does not know how to run"),
        }
    }
    for name in [
        "keys.tsv",
        "wc-keys.tsv",
        "actions.tsv",
        "keys-invalid.tsv",
        "actions-invalid.tsv",
    ] {
        assert!(
            files.iter().any(|p| p.ends_with(name)),
            "{name} missing from {DIR}"
        );
    }
    for (name, (pass, total)) in &results {
        println!("{name}: {pass}/{total}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
