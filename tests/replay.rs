//! Replay scripts in `tests/replay/` run through the `ovsext-sim` binary;
//! its output must equal the `.expected` file beside each script byte for
//! byte. `tests/replay/demo.replay` is the demo's own script
//! (`OVSEXT_BLESS=1 cargo test --test replay` rewrites it and every
//! `.expected` file after a deliberate change; review the diff).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replay")
}

fn replay(script: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ovsext-sim"))
        .arg("replay")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("ovsext-sim runs");
    assert!(
        out.status.success(),
        "{}: exit {}",
        script.display(),
        out.status
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn scripts_replay_as_expected() {
    let bless = std::env::var_os("OVSEXT_BLESS").is_some();
    if bless {
        std::fs::write(dir().join("demo.replay"), ovsext::sim::demo::script()).unwrap();
    }
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "replay") {
            continue;
        }
        n += 1;
        let got = replay(&path);
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} missing", expected_path.display()));
        for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
            assert_eq!(g, e, "{}: output line {}", path.display(), i + 1);
        }
        assert_eq!(
            got.lines().count(),
            expected.lines().count(),
            "{}: line count",
            path.display()
        );
    }
    assert!(n > 0, "no scripts in {}", dir().display());
}

#[test]
fn the_demo_script_is_checked_in() {
    let checked_in = std::fs::read_to_string(dir().join("demo.replay")).unwrap();
    assert_eq!(
        checked_in,
        ovsext::sim::demo::script(),
        "run with OVSEXT_BLESS=1 after changing the demo"
    );
}

#[test]
fn stdin_replay_and_error_lines() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovsext-sim"))
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"switch up\nopen 1\nioctl 1 GET_PID - 4\nnonsense here\nioctl 1 READ zz\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "ioctl 1 GET_PID SUCCESS 01000000\nerror 4 unknown command: nonsense\nerror 5 bad hex: zz\n"
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_ovsext-sim"))
        .args(["replay", "/nonexistent/script"])
        .output()
        .unwrap();
    assert!(
        !missing.status.success(),
        "an unreadable script is the one failure exit"
    );
}
