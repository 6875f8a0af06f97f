//! Echo and perf peers as child processes: `kite` itself, `quinn-peer` and
//! `aioquic_peer.py`. Starts a server and reads its `listening on ADDR` line,
//! runs a client to completion, and parses the lines both print. Every wait
//! has a deadline, so a stuck peer fails the test instead of hanging it, and
//! every child is killed when its handle is dropped.
//!
//! Finding the other stacks' peers:
//! - quinn-peer is a binary of another workspace package, which cargo does not
//!   build for kite-cli's tests. The first test that needs it runs
//!   `cargo build -p quinn-peer --bin quinn-peer` with its own target directory
//!   under `CARGO_TARGET_TMPDIR`, so the nested build never waits on the lock
//!   of the build running these tests, nor replaces `target/debug/quinn-peer`
//!   while quinn-peer's own tests run it. The first build on a fresh checkout
//!   takes about a minute; later ones are a freshness check. Concurrent test
//!   processes (nextest) queue on that directory's cargo lock.
//! - aioquic runs as `.venv/bin/python interop/aioquic_peer.py`; without the
//!   venv that `scripts/setup-interop` makes, its tests print a notice and pass.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a peer may take to start, or to finish one exchange. Generous:
/// the machine is shared, and aioquic moves 8 MiB at a few MiB/s.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// How long building quinn-peer may take: a fresh checkout compiles quinn,
/// rustls and tokio on a shared two-core machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// One MiB, the per-stream size of the bulk runs.
pub const MIB: u64 = 1024 * 1024;

/// An echo implementation that can play either role.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Kite,
    Quinn,
    Aioquic,
}

impl Peer {
    /// The command that starts this peer's echo tool in `role`, or `None`
    /// (after a notice on stderr) when the peer is not installed.
    pub fn command(self, role: Role) -> Option<Command> {
        self.tool_command("echo", role)
    }

    /// The command that starts this peer's perf tool in `role` (kite: `kite
    /// perf server|client`; the others: `perf-server`/`perf-client`), or
    /// `None` when the peer is not installed. aioquic has only the server.
    pub fn perf_command(self, role: Role) -> Option<Command> {
        self.tool_command("perf", role)
    }

    fn tool_command(self, tool: &str, role: Role) -> Option<Command> {
        let mut cmd = match self {
            Peer::Kite => {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
                cmd.arg(tool).arg(role.name());
                return Some(cmd);
            }
            Peer::Quinn => Command::new(quinn_peer()),
            Peer::Aioquic => {
                let python = repo_root().join(".venv/bin/python");
                if !python.exists() {
                    notice(&format!(
                        "SKIPPED: {} missing; run scripts/setup-interop for the aioquic tests",
                        python.display()
                    ));
                    return None;
                }
                let mut cmd = Command::new(python);
                cmd.arg(repo_root().join("interop/aioquic_peer.py"));
                cmd
            }
        };
        // quinn-peer and aioquic_peer.py: `echo-server`, `perf-client`, ...
        cmd.arg(format!("{tool}-{}", role.name()));
        Some(cmd)
    }
}

/// Server or client.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    Server,
    Client,
}

impl Role {
    /// `server` or `client`, as the subcommands spell it.
    fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// Writes to the stderr handle rather than with `eprintln!`, so libtest's
/// capture does not hide the notice when the test passes.
pub fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The repository root (this crate lives in `crates/kite-cli`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or_else(|| panic!("crate two levels below the repository root"))
        .to_path_buf()
}

/// The quinn-peer binary, built on first use (see the module doc).
fn quinn_peer() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(build_quinn_peer).clone()
}

fn build_quinn_peer() -> PathBuf {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-peers");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(repo_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "quinn-peer",
            "--bin",
            "quinn-peer",
        ])
        .arg("--message-format=json-render-diagnostics")
        .arg("--target-dir")
        .arg(&target_dir);
    let start = Instant::now();
    let mut build = Process::spawn(cmd);
    let status = build.wait(BUILD_DEADLINE);
    let stdout = build.stdout_text();
    assert!(
        status.success(),
        "building quinn-peer failed ({status}): {}",
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
        "quinn-peer at {} (build checked in {:.1} s)",
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
    /// Lines already taken from `lines`, kept for error messages.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<thread::JoinHandle<()>>,
    /// The child's stdin, when spawned with one; dropped by `close_stdin`.
    stdin: Option<ChildStdin>,
}

impl Process {
    /// Spawns `cmd` with piped stdout and stderr; reader threads drain both, so
    /// a chatty child never blocks on a full pipe.
    pub fn spawn(cmd: Command) -> Process {
        Process::spawn_with(cmd, Stdio::null())
    }

    /// [`spawn`](Self::spawn), with the child's stdin a pipe that stays open
    /// until [`close_stdin`](Self::close_stdin): end of input tells it to stop.
    pub fn spawn_with_stdin(cmd: Command) -> Process {
        Process::spawn_with(cmd, Stdio::piped())
    }

    fn spawn_with(mut cmd: Command, stdin: Stdio) -> Process {
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let stdin = child.stdin.take();
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
            stdin,
        }
    }

    /// Closes the child's stdin (see [`spawn_with_stdin`](Self::spawn_with_stdin)).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The child's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, failing the test past `DEADLINE`.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => {
                let status = self.child.try_wait();
                panic!(
                    "no line within {DEADLINE:?} (status {status:?}); stderr: {}",
                    self.stderr_text()
                )
            }
        }
    }

    /// Kills the child and waits for it to exit; all it wrote on stderr is
    /// then in [`stderr_text`](Self::stderr_text).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }

    /// Waits for the exit, killing the child and failing the test past `deadline`.
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // The pipe closes at exit; collect the rest of stderr.
                    if let Some(reader) = self.stderr_reader.take() {
                        let _ = reader.join();
                    }
                    return status;
                }
                Ok(None) => {}
                Err(e) => panic!("waiting for a child: {e}"),
            }
            if start.elapsed() > deadline {
                let _ = self.child.kill();
                panic!(
                    "still running after {deadline:?}; stderr: {}",
                    self.stderr_text()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything printed on stdout (call after `wait`).
    pub fn stdout_text(&mut self) -> String {
        // After exit the sender is dropped once the pipe is drained.
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// What the child wrote on stderr: all of it once it has exited, before
    /// that nothing (the pipe is read to its end in one go).
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

/// A running echo server.
pub struct Server {
    process: Process,
    /// The address of its `listening on ADDR` line.
    pub addr: String,
}

impl Server {
    /// Starts an echo server from `cmd` (a [`Peer::command`]) on 127.0.0.1:0
    /// with `extra` flags, and waits for its first line.
    pub fn start(mut cmd: Command, extra: &[&str]) -> Server {
        cmd.args(["--listen", "127.0.0.1:0"]).args(extra);
        let mut process = Process::spawn(cmd);
        let first = process.next_line();
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server's first line is {first:?}"))
            .to_string();
        Server { process, addr }
    }

    /// The server's next stdout line (after the first), failing the test
    /// past [`DEADLINE`].
    pub fn next_line(&mut self) -> String {
        self.process.next_line()
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// For a server started with `--max-conns M`: waits for its exit and
    /// returns M from its `done conns=M ...` line.
    pub fn wait_done(self) -> u64 {
        self.wait_done_line().conns
    }

    /// For a server started with `--max-conns M`: waits for its exit and
    /// returns its `done conns=M [retries=R] [early_streams=E]` line.
    pub fn wait_done_line(mut self) -> Done {
        let line = self.process.next_line();
        let status = self.process.wait(DEADLINE);
        assert!(
            status.success(),
            "server exited with {status}; stderr: {}",
            self.process.stderr_text()
        );
        let optional = |key: &str| {
            line.split_whitespace()
                .any(|pair| pair.strip_prefix(key).is_some_and(|v| v.starts_with('=')))
                .then(|| field(&line, "done", key))
        };
        Done {
            conns: field(&line, "done", "conns"),
            retries: optional("retries"),
            early_streams: optional("early_streams"),
        }
    }

    /// Kills the server; returns all it wrote on stderr.
    pub fn kill(mut self) -> String {
        self.process.kill();
        self.process.stderr_text()
    }

    /// What the server wrote on stderr, once it has exited (see
    /// [`Process::stderr_text`]).
    pub fn stderr_text(&self) -> String {
        self.process.stderr_text()
    }
}

/// A server's `done conns=M [retries=R] [early_streams=E]` line.
#[derive(Debug)]
pub struct Done {
    /// Connections that ended.
    pub conns: u64,
    /// Retries, as the server counts them; `None` when it printed none.
    pub retries: Option<u64>,
    /// Streams whose data arrived as 0-RTT (kite with `--zero-rtt` only).
    pub early_streams: Option<u64>,
}

/// The outcome of a client run.
pub struct ClientRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs an echo client from `cmd` (a [`Peer::command`]) against `addr` with
/// `extra` flags, to completion.
pub fn run_client(mut cmd: Command, addr: &str, extra: &[&str]) -> ClientRun {
    cmd.args(["--connect", addr]).args(extra);
    let mut process = Process::spawn(cmd);
    let status = process.wait(DEADLINE);
    ClientRun {
        status,
        stdout: process.stdout_text(),
        stderr: process.stderr_text(),
    }
}

/// The kite command in `role`; kite is always there.
pub fn kite(role: Role) -> Command {
    Peer::Kite
        .command(role)
        .unwrap_or_else(|| unreachable!("kite is built with its tests"))
}

/// The `(streams, bytes, secs)` of a client's `echo ok streams=K bytes=N secs=S`
/// line, checking that `secs` has three decimals.
pub fn parse_echo_ok(line: &str) -> (u64, u64, f64) {
    let secs = value(line, "echo ok", "secs");
    assert_eq!(
        secs.find('.').map(|dot| secs.len() - dot),
        Some(4),
        "secs has 3 decimals: {line}"
    );
    (
        field(line, "echo ok", "streams"),
        field(line, "echo ok", "bytes"),
        secs.parse()
            .unwrap_or_else(|e| panic!("secs in {line:?}: {e}")),
    )
}

/// The `zero_rtt_accepted=true|false` of a client's `echo ok ...` line.
pub fn parse_zero_rtt_accepted(line: &str) -> bool {
    match value(line, "echo ok", "zero_rtt_accepted") {
        "true" => true,
        "false" => false,
        other => panic!("zero_rtt_accepted={other} in {line:?}"),
    }
}

/// The integer `key=V` of a `prefix k1=v1 k2=v2 ...` line.
pub fn field(line: &str, prefix: &str, key: &str) -> u64 {
    value(line, prefix, key)
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {line:?}: {e}"))
}

/// The text `V` of `key=V` in a `prefix k1=v1 k2=v2 ...` line.
pub fn value<'a>(line: &'a str, prefix: &str, key: &str) -> &'a str {
    let rest = line
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected a {prefix:?} line, got {line:?}"));
    rest.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// Writes a `localhost` certificate and key as PEM files into a fresh
/// directory under `CARGO_TARGET_TMPDIR`; returns `(cert, key)`. The
/// certificate is its own CA, so the same file serves as `--ca`.
pub fn write_cert(tag: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(tag);
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .unwrap_or_else(|e| panic!("generating a certificate: {e}"));
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    write(&cert, &certified.cert.pem());
    write(&key, &certified.signing_key.serialize_pem());
    (cert, key)
}

/// A fresh, empty directory for one test under `CARGO_TARGET_TMPDIR`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kite-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
