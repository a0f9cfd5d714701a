//! End-to-end tests of the xtgt binary: start it with a temporary config
//! on free ports, talk to it over TCP, stop it with SIGTERM; and check that
//! invalid configurations exit 2 with a message naming the file, the key
//! and what would be valid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const XTGT: &str = env!("CARGO_BIN_EXE_xtgt");
const IQN: &str = "iqn.2026-11.org.xtgt.test:cli";

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("xtgt.toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn valid_config() -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:0"]
metrics_listen = "127.0.0.1:0"

[[targets]]
iqn = "{IQN}"
chap = {{ user = "alice", secret = "123456789012" }}

[[targets.luns]]
lun = 0
backend = "memory"
size = "16MiB"

[[targets.luns]]
lun = 1
backend = "file"
path = "data/lun1.img"
size = "64MiB"
block_size = 4096
"#
    )
}

/// A running xtgt whose stdout lines arrive on a channel; killed on drop.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(config: &Path) -> Running {
        let mut child = Command::new(XTGT)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait for a stdout line starting with `prefix`.
    fn line_starting(&mut self, prefix: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(_) => panic!("no line starting with {prefix:?}; saw {:?}", self.seen),
            }
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "xtgt did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serves_prints_iqn_and_metrics_then_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &valid_config());
    let mut x = Running::start(&cfg);
    assert_eq!(x.line_starting("target "), format!("target {IQN}"));
    let portal = x.line_starting("portal ");
    let portal = portal.trim_start_matches("portal ").to_string();
    let metrics = x.line_starting("metrics ");
    let metrics = metrics
        .trim_start_matches("metrics http://")
        .trim_end_matches("/metrics")
        .to_string();
    let connect = x.line_starting("connect:");
    assert!(connect.contains(&format!("iscsi://{portal}")), "{connect}");

    // The LUN file was created sparse with the configured size, relative
    // to the config file's folder.
    let meta = std::fs::metadata(dir.path().join("data/lun1.img")).unwrap();
    assert_eq!(meta.len(), 64 << 20);

    // The portal accepts TCP connections.
    TcpStream::connect(&portal).unwrap();

    let resp = http_get(&metrics, "/metrics");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("xtgt_build_info"), "{resp}");
    let resp = http_get(&metrics, "/nothing");
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");

    x.signal("TERM");
    let status = x.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
}

/// Two portals in two ALUA groups: the banner lists each target port with
/// its TPGT, group and state, both portals accept connections; a bad state
/// exits 2 naming the key and the valid states.
#[test]
fn two_portals_in_two_port_groups() {
    let dir = tempfile::tempdir().unwrap();
    let groups = "[[targets.port_groups]]\nid = 1\nportals = [\"127.0.0.1:0\"]\n\
                  [[targets.port_groups]]\nid = 2\nstate = \"standby\"\nportals = [\"127.0.0.2:0\"]\n\
                  [[targets.luns]]";
    let body = valid_config()
        .replace(
            "listen = [\"127.0.0.1:0\"]",
            "listen = [\"127.0.0.1:0\", \"127.0.0.2:0\"]",
        )
        .replacen("[[targets.luns]]", groups, 1);
    let cfg = write_config(dir.path(), &body);
    let mut x = Running::start(&cfg);
    let p1 = x.line_starting("  port 1 on ");
    assert!(p1.ends_with("(tpgt 1): group 1 active/optimized"), "{p1}");
    let p2 = x.line_starting("  port 2 on ");
    assert!(p2.ends_with("(tpgt 2): group 2 standby"), "{p2}");
    let first = x.line_starting("portal 127.0.0.1:");
    let second = x.line_starting("portal 127.0.0.2:");
    TcpStream::connect(first.trim_start_matches("portal ")).unwrap();
    TcpStream::connect(second.trim_start_matches("portal ")).unwrap();
    x.signal("TERM");
    assert_eq!(x.wait(Duration::from_secs(30)).code(), Some(0));

    let (code, stderr, _) = run_invalid(&body.replace("\"standby\"", "\"passive\""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "targets[0].port_groups[1].state: \"passive\" is not an asymmetric access state"
        ),
        "{stderr}"
    );
}

#[test]
fn sigint_also_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let body = valid_config().replace("metrics_listen = \"127.0.0.1:0\"", "");
    let cfg = write_config(dir.path(), &body);
    let mut x = Running::start(&cfg);
    assert_eq!(x.line_starting("metrics"), "metrics disabled");
    x.signal("INT");
    assert_eq!(x.wait(Duration::from_secs(30)).code(), Some(0));
}

/// Run xtgt on `body` and return (exit code, stderr).
fn run_invalid(body: &str) -> (Option<i32>, String, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), body);
    let out = Command::new(XTGT)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        cfg,
    )
}

#[test]
fn invalid_configs_exit_2_naming_file_key_and_fix() {
    let good = valid_config();
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "bad block_size",
            good.replace("block_size = 4096", "block_size = 1000"),
            "targets[0].luns[1].block_size",
            "512 or 4096",
        ),
        (
            "missing iqn",
            good.replace(&format!("iqn = \"{IQN}\""), ""),
            "targets[0].iqn",
            "iqn.2026-11.com.example",
        ),
        (
            "bad size unit",
            good.replace("\"16MiB\"", "\"16 MeB\""),
            "targets[0].luns[0].size",
            "MiB",
        ),
        (
            "duplicate lun",
            good.replace("lun = 1", "lun = 0"),
            "targets[0].luns[1].lun",
            "unique",
        ),
        (
            "short chap secret",
            good.replace("123456789012", "short"),
            "targets[0].chap.secret",
            "12 to 16 bytes",
        ),
        (
            "bad listen",
            good.replace("127.0.0.1:0\"]", "localhost\"]"),
            "server.listen[0]",
            "[::1]:3260",
        ),
        (
            "unknown backend",
            good.replace("\"memory\"", "\"ram\""),
            "targets[0].luns[0].backend",
            "\"file\" or \"memory\"",
        ),
        ("not TOML", "[server\n".to_string(), "", "TOML"),
    ];
    for (name, body, key, hint) in cases {
        let (code, stderr, path) = run_invalid(&body);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&path.display().to_string()),
            "{name}: no file in {stderr}"
        );
        assert!(stderr.contains(key), "{name}: no key {key} in {stderr}");
        assert!(
            stderr.contains(hint),
            "{name}: no hint {hint:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn missing_config_file_exits_2() {
    let out = Command::new(XTGT)
        .args(["--config", "/nonexistent/xtgt.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/xtgt.toml"), "{stderr}");
}

#[test]
fn portal_in_use_exits_1_naming_the_address() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = valid_config().replace("[\"127.0.0.1:0\"]", &format!("[\"{addr}\"]"));
    let cfg = write_config(dir.path(), &body);
    let out = Command::new(XTGT)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains("XTGT_SERVER__LISTEN"), "{stderr}");
}

#[test]
fn check_accepts_the_builtin_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(XTGT)
        .arg("--check")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("iqn.2026-11.org.xtgt:default"), "{stdout}");
    // --check creates nothing.
    assert!(!dir.path().join("xtgt-data").exists());
}

#[test]
fn env_overrides_the_portal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &valid_config());
    let out = Command::new(XTGT)
        .arg("--config")
        .arg(&cfg)
        .arg("--check")
        .env("XTGT_SERVER__LISTEN", "nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.listen[0]"), "{stderr}");
}

/// The whole path (config -> assemble -> fabric -> device server ->
/// metrics) with a real initiator: needs libiscsi's iscsi-inq, so it is
/// ignored by a plain `cargo test`; conformance/test.sh runs it with
/// `--ignored` once libiscsi-bin is installed (or prints SKIP).
#[test]
#[ignore = "needs iscsi-inq (libiscsi-bin); conformance/test.sh runs it"]
fn real_initiator_login_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let body = valid_config().replace("chap = { user = \"alice\", secret = \"123456789012\" }", "");
    let cfg = write_config(dir.path(), &body);
    let mut x = Running::start(&cfg);
    let portal = x
        .line_starting("portal ")
        .trim_start_matches("portal ")
        .to_string();
    let metrics = x.line_starting("metrics ");
    let metrics = metrics
        .trim_start_matches("metrics http://")
        .trim_end_matches("/metrics")
        .to_string();
    let out = Command::new("iscsi-inq")
        .arg(format!("iscsi://{portal}/{IQN}/1"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Vendor:XTGT"), "{stdout}");
    let resp = http_get(&metrics, "/metrics");
    assert!(
        resp.contains("xtgt_logins_total{result=\"success\"} 1"),
        "{resp}"
    );
    assert!(
        resp.contains("xtgt_command_duration_seconds_bucket{opcode=\"INQUIRY\""),
        "{resp}"
    );
    x.signal("TERM");
    assert_eq!(x.wait(Duration::from_secs(30)).code(), Some(0));
}

/// `[copy] cpus` = this process's last CPU: copy commands on the copy CPU
/// (when there are two or more).
fn copy_cpus_section() -> String {
    let mine = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    format!("[copy]\ncpus = \"{}\"\n", mine.last().unwrap())
}

/// With two or more CPUs, a running copy command has started the copy
/// commands' runtime: its threads exist.
fn assert_copy_commands_on_their_runtime(x: &Running) {
    let cpus = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    if cpus.len() < 2 {
        return; // one CPU: nothing to fence, copy commands run with the others
    }
    let names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", x.child.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "xtgt-copy-ctl"),
        "no copy command thread: {names:?}"
    );
}

/// xtgt with two 64 MiB memory LUs of 4096-byte blocks, for the copy
/// lifecycle tests, with `extra` (TOML sections) in the config: (the
/// running xtgt, its config dir, portal, metrics address).
fn copy_target_with(extra: &str) -> (Running, tempfile::TempDir, String, String) {
    let body = format!(
        r#"
[server]
listen = ["127.0.0.1:0"]
metrics_listen = "127.0.0.1:0"

{extra}

[[targets]]
iqn = "{IQN}"

[[targets.luns]]
lun = 0
backend = "memory"
size = "64MiB"
block_size = 4096

[[targets.luns]]
lun = 1
backend = "memory"
size = "64MiB"
block_size = 4096
"#
    );
    start_target(&body)
}

/// xtgt with config `body`, its working directory, its portal and metrics
/// address.
fn start_target(body: &str) -> (Running, tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), body);
    let mut x = Running::start(&cfg);
    let portal = x
        .line_starting("portal ")
        .trim_start_matches("portal ")
        .to_string();
    let metrics = x
        .line_starting("metrics ")
        .trim_start_matches("metrics http://")
        .trim_end_matches("/metrics")
        .to_string();
    (x, dir, portal, metrics)
}

/// xcopy_probe.py (conformance/tools) from the repository.
const XCOPY_PROBE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/conformance/tools/xcopy_probe.py"
);

/// SIGTERM during a long EXTENDED COPY (64 segments of 64 MiB between two
/// memory LUs, sent by conformance/tools/xcopy_probe.py): the copy stops
/// at its next chunk boundary, the initiator gets COPY ABORTED, COMMAND
/// CLEARED BY DEVICE SERVER, and xtgt exits 0 within a few seconds, not
/// after the whole copy (or the 10 s drain bound).
#[test]
fn sigterm_stops_a_running_copy_and_exits_0_quickly() {
    sigterm_during_copy("");
}

/// The same with the copy command running on the copy CPUs' runtime
/// (`copy.cpus`).
#[test]
fn sigterm_stops_a_copy_running_on_the_copy_cpus() {
    sigterm_during_copy(&copy_cpus_section());
}

fn sigterm_during_copy(extra: &str) {
    let (mut x, _dir, portal, metrics) = copy_target_with(extra);
    let tool = XCOPY_PROBE;
    let probe = Command::new("python3")
        .arg(tool)
        .args([&portal, IQN, "iqn.2026-11.org.xtgt.test:probe"])
        .args([IQN, "0", IQN, "1", "16384", "64", "4096"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let running = "xtgt_copies_in_flight{kind=\"extended_copy\"} 1";
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http_get(&metrics, "/metrics").contains(running) {
        assert!(Instant::now() < deadline, "the copy never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    if !extra.is_empty() {
        assert_copy_commands_on_their_runtime(&x);
    }
    let signalled = Instant::now();
    x.signal("TERM");
    let status = x.wait(Duration::from_secs(30));
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let out = probe.wait_with_output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(line.trim(), "status=0x02 sense=0a/2f/02");
}

/// `kill -9` of the initiator in the middle of a 4 GiB EXTENDED COPY: the
/// connection drops, xtgt stops that nexus's copy (copies in flight back
/// to 0 in the metrics) and keeps serving: the next copy completes.
#[test]
fn kill_9_of_the_initiator_mid_copy_cleans_up_and_keeps_serving() {
    kill_9_mid_copy("");
}

/// The same with the copy command running on the copy CPUs' runtime.
#[test]
fn kill_9_mid_copy_on_the_copy_cpus_cleans_up_too() {
    kill_9_mid_copy(&copy_cpus_section());
}

fn kill_9_mid_copy(extra: &str) {
    let (mut x, _dir, portal, metrics) = copy_target_with(extra);
    let tool = XCOPY_PROBE;
    let probe = |segments: &str| {
        Command::new("python3")
            .arg(tool)
            .args([&portal, IQN, "iqn.2026-11.org.xtgt.test:probe"])
            .args([IQN, "0", IQN, "1", "16384", segments, "4096"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // 64 segments of 64 MiB: 4 GiB.
    let mut victim = probe("64");
    let running = "xtgt_copies_in_flight{kind=\"extended_copy\"} 1";
    let idle = "xtgt_copies_in_flight{kind=\"extended_copy\"} 0";
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http_get(&metrics, "/metrics").contains(running) {
        assert!(Instant::now() < deadline, "the copy never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    if !extra.is_empty() {
        assert_copy_commands_on_their_runtime(&x);
    }
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http_get(&metrics, "/metrics").contains(idle) {
        assert!(
            Instant::now() < deadline,
            "copies in flight never went back to 0"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Stopped at a chunk boundary, not run to the end: less than the 4 GiB
    // moved.
    let copied: f64 = http_get(&metrics, "/metrics")
        .lines()
        .filter(|l| l.starts_with("xtgt_copy_bytes_total{") && l.contains("command=\"xcopy\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        copied < 4.0 * 1024.0 * 1024.0 * 1024.0,
        "copied {copied} bytes"
    );
    // Still serving: a one-segment copy completes with GOOD.
    let out = probe("1").wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "status=0x00");
    x.signal("TERM");
    assert_eq!(x.wait(Duration::from_secs(30)).code(), Some(0));
}

/// The CPUs a thread may run on: "Cpus_allowed_list" of its status file
/// ("0-1,3"), expanded.
fn allowed_cpus(status: &str) -> Vec<usize> {
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap());
    }
    cpus
}

/// `copy.cpus`: copy threads (they run an EXTENDED COPY's copy_file_range
/// between two file LUNs) and the threads copy commands run on only on
/// the CPU listed, every other thread on
/// the rest; on a one-CPU box all share it. A CPU xtgt may not use is a
/// configuration error that names the CPUs it has.
#[test]
fn copy_cpus_pin_copy_threads_and_keep_the_others_off() {
    let mine = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    let copy_cpu = *mine.last().unwrap();
    let rest: Vec<usize> = if mine.len() > 1 {
        mine.iter().copied().filter(|&c| c != copy_cpu).collect()
    } else {
        mine.clone()
    };
    let body = format!(
        r#"
[server]
listen = ["127.0.0.1:0"]
metrics_listen = "127.0.0.1:0"

[copy]
cpus = "{copy_cpu}"

[[targets]]
iqn = "{IQN}"

[[targets.luns]]
lun = 0
backend = "file"
path = "src.img"
size = "16MiB"
block_size = 4096

[[targets.luns]]
lun = 1
backend = "file"
path = "dst.img"
size = "16MiB"
block_size = 4096
"#
    );
    let (mut x, _dir, portal, _) = start_target(&body);
    // 4 segments of 1 MiB
    let out = Command::new("python3")
        .arg(XCOPY_PROBE)
        .args([&portal, IQN, "iqn.2026-11.org.xtgt.test:probe"])
        .args([IQN, "0", IQN, "1", "256", "4", "4096"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "status=0x00");
    let (mut copy_threads, mut command_threads, mut others) = (0, 0, 0);
    for task in std::fs::read_dir(format!("/proc/{}/task", x.child.id())).unwrap() {
        let task = task.unwrap().path();
        let (Ok(comm), Ok(status)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("status")),
        ) else {
            continue; // a thread that just ended
        };
        let cpus = allowed_cpus(&status);
        if comm.trim() == "xtgt-copy" {
            copy_threads += 1;
            assert_eq!(cpus, vec![copy_cpu], "copy thread");
        } else if comm.trim() == "xtgt-copy-ctl" {
            // the runtime copy commands run on
            command_threads += 1;
            assert_eq!(cpus, vec![copy_cpu], "copy command thread");
        } else {
            others += 1;
            assert_eq!(cpus, rest, "thread {:?}", comm.trim());
        }
    }
    assert!(copy_threads >= 1, "no copy thread");
    // (one CPU: nothing to fence, copy commands run with the others)
    assert!(
        command_threads >= usize::from(mine.len() > 1),
        "no copy command thread"
    );
    assert!(others >= 2, "{others} other threads");
    x.signal("TERM");
    assert_eq!(x.wait(Duration::from_secs(30)).code(), Some(0));

    let (code, err, _) =
        run_invalid(&valid_config().replace("[[targets]]", "[copy]\ncpus = 1023\n\n[[targets]]"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("copy.cpus: xtgt may not run on CPU 1023"),
        "{err}"
    );
}
