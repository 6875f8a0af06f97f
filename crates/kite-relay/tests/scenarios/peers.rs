//! Echo peers as child processes: `kite echo` and `quinn-peer`, built on
//! first use, started as servers (reading their `listening on ADDR` line) or
//! run as clients to completion (reading `echo ok ...`). Every wait has a
//! deadline and every child is killed when its handle drops, so a stuck peer
//! fails its scenario instead of hanging the suite.
//!
//! Neither binary belongs to this package, so cargo does not build them for
//! these tests. The first scenario that needs one runs `cargo build -p
//! kite-cli --bin kite` (or `-p quinn-peer --bin quinn-peer`) with the target
//! directory `CARGO_TARGET_TMPDIR/interop-peers`, as kite-cli's interop tests
//! do for quinn-peer: the nested build never waits on the lock of the build
//! running these tests, and quinn-peer's build is the very same one, so the
//! two suites share it. A fresh checkout spends a few minutes there; later
//! runs only check freshness.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print its address.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// How long building a peer may take: a fresh checkout compiles rustls,
/// tokio and quinn on a shared two-core machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// An echo implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Kite,
    Quinn,
}

/// Server or client.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    Server,
    Client,
}

impl Peer {
    /// The command that starts this peer in `role` (flags still to add).
    pub fn command(self, role: Role) -> Command {
        match self {
            Peer::Kite => {
                let mut cmd = Command::new(built("kite-cli", "kite"));
                cmd.arg("echo").arg(match role {
                    Role::Server => "server",
                    Role::Client => "client",
                });
                cmd
            }
            Peer::Quinn => {
                let mut cmd = Command::new(built("quinn-peer", "quinn-peer"));
                cmd.arg(match role {
                    Role::Server => "echo-server",
                    Role::Client => "echo-client",
                });
                cmd
            }
        }
    }
}

/// Writes to the stderr handle rather than with `eprintln!`, so libtest's
/// capture does not hide the line when the test passes.
pub fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The repository root (this crate lives in `crates/kite-relay`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or_else(|| panic!("crate two levels below the repository root"))
        .to_path_buf()
}

/// The executable `bin` of `package`, built once per test process.
fn built(package: &'static str, bin: &'static str) -> PathBuf {
    static KITE: OnceLock<PathBuf> = OnceLock::new();
    static QUINN: OnceLock<PathBuf> = OnceLock::new();
    let cell = if bin == "kite" { &KITE } else { &QUINN };
    cell.get_or_init(|| build(package, bin)).clone()
}

fn build(package: &str, bin: &str) -> PathBuf {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-peers");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(repo_root())
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .arg("--message-format=json-render-diagnostics")
        .arg("--target-dir")
        .arg(&target_dir);
    let start = Instant::now();
    let mut build = Process::spawn(cmd);
    let status = build.wait(BUILD_DEADLINE);
    let stdout = build.stdout_text();
    assert!(
        status.success(),
        "building {bin} failed ({status}): {}",
        build.stderr_text()
    );
    // One JSON message per line; the binary's artifact names its executable.
    let path = stdout
        .lines()
        .filter_map(|line| line.split_once("\"executable\":\"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('"').map(|(path, _)| PathBuf::from(path)))
        .next()
        .unwrap_or_else(|| panic!("no executable in cargo's output: {stdout}"));
    notice(&format!(
        "{bin} at {} (build checked in {:.1} s)",
        path.display(),
        start.elapsed().as_secs_f64()
    ));
    path
}

/// A child process whose stdout lines arrive on a channel and whose stderr is
/// collected; killed on drop.
pub struct Process {
    child: Child,
    lines: Receiver<String>,
    /// Lines already taken from `lines`.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<thread::JoinHandle<()>>,
}

impl Process {
    /// Spawns `cmd` with piped stdout and stderr; reader threads drain both,
    /// so a chatty child never blocks on a full pipe.
    pub fn spawn(mut cmd: Command) -> Process {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let stdout = child.stdout.take();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = child.stderr.take().map(|mut pipe| {
            let stderr = stderr.clone();
            thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                stderr
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            })
        });
        Process {
            child,
            lines,
            seen: Vec::new(),
            stderr,
            stderr_reader,
        }
    }

    /// The next stdout line, failing the test past `deadline`.
    pub fn next_line(&mut self, deadline: Duration) -> String {
        match self.lines.recv_timeout(deadline) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => {
                let status = self.child.try_wait();
                panic!(
                    "no line within {deadline:?} (status {status:?}); stderr: {}",
                    self.stderr_text()
                )
            }
        }
    }

    /// Waits for the exit; past `deadline` kills the child and returns
    /// `None`.
    pub fn wait_until(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // The pipe closes at exit; collect the rest of stderr.
                    if let Some(reader) = self.stderr_reader.take() {
                        let _ = reader.join();
                    }
                    return Some(status);
                }
                Ok(None) => {}
                Err(e) => panic!("waiting for a child: {e}"),
            }
            if start.elapsed() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the exit, failing the test past `deadline`.
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        self.wait_until(deadline).unwrap_or_else(|| {
            panic!(
                "still running after {deadline:?}; stderr: {}",
                self.stderr_text()
            )
        })
    }

    /// Everything printed on stdout (call after the exit).
    pub fn stdout_text(&mut self) -> String {
        // After exit the sender is dropped once the pipe is drained.
        while let Ok(line) = self.lines.recv_timeout(START_DEADLINE) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// What the child wrote on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running echo server; killed on drop.
pub struct Server {
    process: Process,
    /// The address of its `listening on ADDR` line.
    pub addr: String,
}

impl Server {
    /// Starts `peer`'s echo server on 127.0.0.1:0 with `extra` flags, and
    /// waits for its first line.
    pub fn start(peer: Peer, extra: &[&str]) -> Server {
        let mut cmd = peer.command(Role::Server);
        cmd.args(["--listen", "127.0.0.1:0"]).args(extra);
        let mut process = Process::spawn(cmd);
        let first = process.next_line(START_DEADLINE);
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server's first line is {first:?}"))
            .to_string();
        Server { process, addr }
    }

    /// What the server wrote on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.process.stderr_text()
    }
}

/// The outcome of a client run.
pub struct ClientRun {
    /// `None` when the client was killed at its deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ClientRun {
    /// Whether the client exited 0 having printed `echo ok streams=K
    /// bytes=K*N` (the client itself checked every byte of the echo).
    pub fn echoed(&self, streams: u64, size: u64) -> bool {
        let line = self.stdout.lines().last().unwrap_or_default();
        self.status.is_some_and(|s| s.success())
            && line.starts_with("echo ok ")
            && field(line, "streams") == Some(streams)
            && field(line, "bytes") == Some(streams * size)
    }
}

/// Runs `peer`'s echo client against `addr` with `streams` streams of `size`
/// bytes and the `extra` flags, to completion or `deadline`.
pub fn run_client(
    peer: Peer,
    addr: &str,
    (streams, size): (u64, u64),
    extra: &[&str],
    deadline: Duration,
) -> ClientRun {
    let mut cmd = peer.command(Role::Client);
    cmd.args(extra);
    let (k, n) = (streams.to_string(), size.to_string());
    cmd.args([
        "--connect",
        addr,
        "--insecure",
        "--streams",
        &k,
        "--size",
        &n,
    ]);
    let start = Instant::now();
    let mut process = Process::spawn(cmd);
    let status = process.wait_until(deadline);
    let elapsed = start.elapsed();
    ClientRun {
        status,
        // Killed or not, the pipe is closed now.
        stdout: process.stdout_text(),
        stderr: process.stderr_text(),
        elapsed,
    }
}

/// The integer `key=V` of a `k1=v1 k2=v2 ...` line.
fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}
