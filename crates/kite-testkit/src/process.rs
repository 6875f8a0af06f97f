//! Peer binaries as child processes: building another package's binary once
//! per test process, spawning it with its output read by threads, waiting for
//! a server's `listening on ADDR` line, and waits that all have a deadline.
//! Every child is killed when its handle drops, so a stuck peer fails its
//! test instead of hanging the suite.
//!
//! A binary of another workspace package is not built for a crate's tests.
//! [`built`] runs `cargo build -p PACKAGE --bin BIN` with its own target
//! directory `interop-peers` under the test's `CARGO_TARGET_TMPDIR`: the
//! nested build never waits on the lock of the build running the tests, nor
//! replaces `target/debug/BIN` while another suite runs it, and suites with
//! the same `CARGO_TARGET_TMPDIR` share it. A fresh checkout spends a few
//! minutes there; later runs only check freshness. Concurrent test processes
//! (nextest) queue on that directory's cargo lock.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a peer may take to start, or to print its next line. Generous:
/// the machine may be shared, and a slow peer moves a few MiB/s.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// How long building a peer may take: a fresh checkout compiles rustls,
/// tokio and quinn on a shared two-core machine.
pub const BUILD_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How often [`Process::wait_until`] looks whether the child has exited.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Writes `text` to the stderr handle rather than with `eprintln!`, so
/// libtest's capture does not hide it when the test passes.
pub fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The repository root (this crate lives in `crates/kite-testkit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or_else(|| panic!("crate two levels below the repository root"))
        .to_path_buf()
}

/// A fresh, empty directory `NAME-PID` under `target_tmpdir` (a test's
/// `env!("CARGO_TARGET_TMPDIR")`).
pub fn temp_dir(target_tmpdir: &str, name: &str) -> PathBuf {
    let dir = Path::new(target_tmpdir).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// The executable `bin` of workspace package `package`, built on first use
/// in this process (see the module doc); `target_tmpdir` is the test's
/// `env!("CARGO_TARGET_TMPDIR")`.
pub fn built(target_tmpdir: &str, package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    // Held through the build: a second caller waits for the first one's.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built
        .get_or_insert_with(HashMap::new)
        .entry(format!("{package}/{bin}"))
        .or_insert_with(|| build(target_tmpdir, package, bin))
        .clone()
}

fn build(target_tmpdir: &str, package: &str, bin: &str) -> PathBuf {
    let target_dir = Path::new(target_tmpdir).join("interop-peers");
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

    /// The next stdout line, failing the test past [`DEADLINE`].
    pub fn next_line(&mut self) -> String {
        self.next_line_within(DEADLINE)
    }

    /// The next stdout line, failing the test past `deadline`.
    pub fn next_line_within(&mut self, deadline: Duration) -> String {
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

    /// Kills the child and waits for it to exit; all it wrote on stderr is
    /// then in [`stderr_text`](Self::stderr_text).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
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
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits for the exit, killing the child and failing the test past
    /// `deadline`.
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

/// A running server; killed on drop.
pub struct Server {
    /// The server's process.
    pub process: Process,
    /// The address of its `listening on ADDR` line.
    pub addr: String,
}

impl Server {
    /// Starts a server from `cmd` on 127.0.0.1:0 with `extra` flags, and
    /// waits (up to [`DEADLINE`]) for its first line, `listening on ADDR`.
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
