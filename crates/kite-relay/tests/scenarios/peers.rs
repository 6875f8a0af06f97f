//! Echo peers as child processes: `kite echo` and `quinn-peer`, through
//! kite-testkit's harness: started as servers (reading their `listening on
//! ADDR` line) or run as clients to completion (reading `echo ok ...`), every
//! wait with a deadline and every child killed when its handle drops.
//!
//! Neither binary belongs to this package, so cargo does not build them for
//! these tests: [`kite_testkit::process::built`] builds each on first use in
//! `CARGO_TARGET_TMPDIR/interop-peers`, as kite-cli's interop tests do for
//! quinn-peer, so the two suites share that build.

use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

pub use kite_testkit::process::{Process, Server, notice};

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

/// The executable `bin` of `package`, built once per test process.
fn built(package: &str, bin: &str) -> PathBuf {
    kite_testkit::process::built(env!("CARGO_TARGET_TMPDIR"), package, bin)
}

/// Starts `peer`'s echo server on 127.0.0.1:0 with `extra` flags, and waits
/// for its first line.
pub fn start_server(peer: Peer, extra: &[&str]) -> Server {
    Server::start(peer.command(Role::Server), extra)
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
