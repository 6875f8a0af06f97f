//! Runs echo peers as child processes for the interop tests: starts a server and
//! reads its `listening on ADDR` line, runs a client to completion, and checks the
//! lines both print. Every wait has a deadline, so a stuck peer fails the test
//! instead of hanging it; servers are killed when dropped.

// Each test file uses a different part of this module.
#![allow(dead_code)]
// Harness code: a failed expect is a failed test, as in a #[test] fn.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long a peer may take to start, or to finish one exchange. Generous: the
/// machine is shared and aioquic moves 8 MiB at a few MiB/s.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// One MiB, the per-stream size of the bulk runs.
pub const MIB: u64 = 1024 * 1024;

/// The quinn-peer binary cargo built for these tests.
pub fn quinn_peer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_quinn-peer"))
}

/// The repository root (this crate lives in `interop/quinn-peer`).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .expect("crate two levels deep")
        .to_path_buf()
}

/// `.venv/bin/python interop/aioquic_peer.py`, or `None` (with a notice on stderr)
/// when `scripts/setup-interop` has not made the venv.
pub fn aioquic_peer() -> Option<Command> {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        // Written to the stderr handle, not with eprintln!, so libtest's output
        // capture does not hide the notice when the test passes.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {} missing; run scripts/setup-interop for the aioquic tests",
            python.display()
        );
        return None;
    }
    let mut cmd = Command::new(python);
    cmd.arg(root.join("interop/aioquic_peer.py"));
    Some(cmd)
}

/// A running echo server; killed on drop.
pub struct Server {
    child: Child,
    lines: Receiver<String>,
    /// The address from its `listening on ADDR` line.
    pub addr: String,
}

impl Server {
    /// Starts `echo-server --listen 127.0.0.1:0` with `extra` flags and waits for
    /// its first line.
    pub fn start(mut cmd: Command, extra: &[&str]) -> Server {
        cmd.args(["echo-server", "--listen", "127.0.0.1:0"])
            .args(extra);
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawning the server");
        // A reader thread turns the blocking pipe into a channel we can wait on
        // with a deadline.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            addr: String::new(),
        };
        let first = server.next_line();
        server.addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("server's first line is {first:?}"))
            .to_string();
        server
    }

    /// The next line the server prints, failing the test past the deadline.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let status = self.child.try_wait();
                panic!("no line from the server within {DEADLINE:?} (status {status:?})")
            }
        }
    }

    /// For servers started with `--max-conns`: waits for the exit and returns the
    /// `(conns, retries)` of its `done conns=M retries=R` line.
    pub fn wait_done(mut self) -> (u64, u64) {
        let line = self.next_line();
        let status = wait_with_deadline(&mut self.child);
        assert!(status.success(), "server exited with {status}");
        let fields = parse_fields(&line, "done");
        (fields[0].1, fields[1].1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `echo-client --connect addr` with `extra` flags to completion.
pub fn run_client(mut cmd: Command, addr: &str, extra: &[&str]) -> Output {
    cmd.args(["echo-client", "--connect", addr]).args(extra);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning the client");
    wait_with_deadline(&mut child);
    child.wait_with_output().expect("client output")
}

/// Runs a client and checks it printed `echo ok streams=K bytes=K*size secs=S`;
/// returns the `(key, value)` pairs of that line (see [`parse_fields`]).
pub fn expect_echo_ok(
    cmd: Command,
    addr: &str,
    streams: u64,
    size: u64,
    extra: &[&str],
) -> Vec<(String, u64)> {
    let (k, n) = (streams.to_string(), size.to_string());
    let mut args = vec!["--streams", &k, "--size", &n];
    args.extend_from_slice(extra);
    let out = run_client(cmd, addr, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client failed ({}): {stderr}",
        out.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    let fields = parse_fields(line, "echo ok");
    assert_eq!(fields[0], ("streams".into(), streams), "{line}");
    assert_eq!(fields[1], ("bytes".into(), streams * size), "{line}");
    assert_eq!(fields[2].0, "secs", "{line}");
    eprintln!("{line}");
    fields
}

/// Runs a client with `--resume` and checks its echo; returns its
/// `zero_rtt_accepted=true|false`.
pub fn expect_resumed_echo(cmd: Command, addr: &str, streams: u64, size: u64) -> bool {
    let fields = expect_echo_ok(cmd, addr, streams, size, &["--insecure", "--resume"]);
    match fields.get(3) {
        Some((key, value)) if key == "zero_rtt_accepted" => *value == 1,
        other => panic!("no zero_rtt_accepted= after secs: {other:?}"),
    }
}

/// Splits `prefix k1=v1 k2=v2 ...` into `(k, v)` pairs, reading `v` as a number
/// of thousandths for `secs` (which has three decimals), `true`/`false` as 1/0,
/// and as an integer else.
fn parse_fields(line: &str, prefix: &str) -> Vec<(String, u64)> {
    let rest = line
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected {prefix:?} line, got {line:?}"));
    rest.split_whitespace()
        .map(|field| {
            let (key, value) = field.split_once('=').expect("key=value");
            let digits: String = value.chars().filter(|c| *c != '.').collect();
            if key == "secs" {
                assert_eq!(
                    value.find('.'),
                    Some(value.len() - 4),
                    "secs has 3 decimals: {line}"
                );
            }
            let number = match value {
                "true" => 1,
                "false" => 0,
                _ => digits.parse().expect("a number"),
            };
            (key.to_string(), number)
        })
        .collect()
}

fn wait_with_deadline(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a peer") {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("peer still running after {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Writes a `localhost` certificate and key as PEM files under a fresh temporary
/// directory; returns `(cert, key)` paths. The certificate is its own CA, so the
/// same file serves as `--ca`.
pub fn write_cert(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("quinn-peer-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("generating a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("writing cert.pem");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("writing key.pem");
    (cert, key)
}
