//! Echo and perf peers as child processes: `kite` itself, `quinn-peer` and
//! `aioquic_peer.py`, through kite-testkit's harness (spawning, the server's
//! `listening on ADDR` line, deadlines, kill on drop). This file runs a
//! client to completion and parses the lines both print.
//!
//! Finding the other stacks' peers:
//! - quinn-peer is a binary of another workspace package, built on first use
//!   by [`kite_testkit::process::built`] in a target directory under
//!   `CARGO_TARGET_TMPDIR` (see there). The first build on a fresh checkout
//!   takes about a minute; later ones are a freshness check.
//! - aioquic runs as `.venv/bin/python interop/aioquic_peer.py`; without the
//!   venv that `scripts/setup-interop` makes, its tests print a notice and pass.

use std::path::PathBuf;
use std::process::{Command, ExitStatus};

pub use kite_testkit::process::{DEADLINE, Process, Server, notice, repo_root};
use kite_testkit::tls::SelfSigned;

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
    /// `None` when the peer is not installed.
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

/// The quinn-peer binary, built on first use (see the module doc).
fn quinn_peer() -> PathBuf {
    kite_testkit::process::built(env!("CARGO_TARGET_TMPDIR"), "quinn-peer", "quinn-peer")
}

/// The `done` line that echo and perf servers print at their exit.
pub trait ServerDone {
    /// For a server started with `--max-conns M`: waits for its exit and
    /// returns M from its `done conns=M ...` line.
    fn wait_done(self) -> u64;

    /// For a server started with `--max-conns M`: waits for its exit and
    /// returns its `done conns=M [retries=R] [early_streams=E]` line.
    fn wait_done_line(self) -> Done;
}

impl ServerDone for Server {
    fn wait_done(self) -> u64 {
        self.wait_done_line().conns
    }

    fn wait_done_line(mut self) -> Done {
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
    SelfSigned::localhost().write_pem(&temp_dir(tag))
}

/// A fresh, empty directory for one test under `CARGO_TARGET_TMPDIR`.
pub fn temp_dir(tag: &str) -> PathBuf {
    kite_testkit::process::temp_dir(env!("CARGO_TARGET_TMPDIR"), &format!("kite-cli-{tag}"))
}
