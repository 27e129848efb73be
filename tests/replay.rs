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

fn replay_with(flags: &[&str], script: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ovsext-sim"))
        .arg("replay")
        .args(flags)
        .arg(script)
        .output()
        .expect("ovsext-sim runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn explain_only_adds_comment_lines() {
    let script = dir().join("demo.replay");
    let plain = replay(&script);
    let raw = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("# "))
            .map(String::from)
            .collect()
    };
    for flags in [&["--explain"][..], &["--hex"], &["--explain", "--hex"]] {
        let explained = replay_with(flags, &script);
        assert_eq!(raw(&explained), raw(&plain), "{flags:?}");
        assert!(explained.lines().count() > plain.lines().count() * 2);
    }
}

#[test]
fn explain_decodes_by_name() {
    let explained = replay_with(&["--explain"], &dir().join("demo.replay"));
    for words in [
        "# > h1 TRANSACT ovs_datapath NEW (seq 2, pid 1) name=\"ovs-system\" upcall_pid=0 user_features=UNALIGNED|VPORT_PIDS|0x80000000",
        "#     error EEXIST (seq 2)",
        "#     error EOPNOTSUPP (seq 4)",
        "# < h1 GET_PID SUCCESS, PID 1",
        "ovs_vport NEW (seq 8, pid 1) port_no=1 type=netdev name=\"Ethernet0\" upcall_pid=[2]",
        "stats: rx_packets=0 tx_packets=0 rx_bytes=0 tx_bytes=0 rx_errors=0 tx_errors=0 rx_dropped=0 tx_dropped=0",
        "# > rx 3 (vm1): udp 10.0.0.3:1000 > 10.0.0.4:4789, 46 bytes",
        "# < tx 4 (vm2): udp 10.0.0.3:5353 > 10.0.0.4:4789, 46 bytes",
        "flow: recirc_id(0),in_port(3),eth(dst=00:15:5d:00:00:04),eth_type(0x0800)",
        "actions: 4",
        "packet: udp 10.0.0.3:1000 > 10.0.0.4:4789, 46 bytes",
        "stats: hit=9 missed=1 lost=0 flows=6",
        "#     done (seq 22)",
    ] {
        assert!(
            explained.lines().any(|l| l.contains(words)),
            "missing: {words}"
        );
    }
    let frame_hex = "00155d00000400155d000003080045";
    assert!(
        explained
            .lines()
            .filter(|l| l.starts_with('#'))
            .all(|l| !l.contains(frame_hex)),
        "frames' hex stays out of the words without --hex"
    );
    let hex = replay_with(&["--hex"], &dir().join("demo.replay"));
    assert!(
        hex.lines()
            .filter(|l| l.starts_with('#'))
            .any(|l| l.trim_start_matches(['#', ' ']).starts_with(frame_hex)),
        "--hex puts the frame under its summary"
    );
}

#[test]
fn the_demo_reads_as_a_walkthrough() {
    let out = Command::new(env!("CARGO_BIN_EXE_ovsext-sim"))
        .output()
        .expect("ovsext-sim runs");
    assert!(out.status.success());
    let demo = String::from_utf8(out.stdout).unwrap();
    for words in [
        "  > h1 TRANSACT ovs_datapath SET (seq 6, pid 1) name=\"ovs-system\" upcall_pid=0 user_features=UNALIGNED|VPORT_PIDS",
        "  > rx 3 (vm1): udp 10.0.0.3:1000 > 10.0.0.4:4789, 46 bytes",
        "  system@ovs-system:",
        "    lookups: hit:9 missed:1 lost:0",
        "    port 3: vm1",
        "  recirc_id(0),in_port(3),eth(dst=00:15:5d:00:00:04),eth_type(0x0800), packets:3, bytes:138, used:0.000s, actions:4",
    ] {
        assert!(demo.lines().any(|l| l == words), "missing: {words}");
    }
    assert!(
        !demo
            .lines()
            .any(|l| l.contains("<") && l.contains(" bytes>")),
        "every attribute of the demo decodes"
    );
    assert!(!demo.contains("00155d0000"), "no hex without --hex");
    let hex = Command::new(env!("CARGO_BIN_EXE_ovsext-sim"))
        .arg("--hex")
        .output()
        .unwrap();
    assert!(
        String::from_utf8(hex.stdout)
            .unwrap()
            .contains("00155d0000")
    );
}
