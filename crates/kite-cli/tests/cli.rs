//! The `kite` command as a user runs it: `kite demo`, flag handling, and
//! `kite echo` against itself and against quinn (interop/quinn-peer) and
//! aioquic (interop/aioquic_peer.py) in both roles, over 127.0.0.1. Each pair
//! runs one stream of 1 MiB and eight streams of 1 MiB; each server also runs
//! with `--retry` and must report the Retry it sent. Clients with `--resume`
//! against servers with `--zero-rtt` must report their 0-RTT data accepted.
//! `--qlog-dir` and `QLOGDIR` must leave one parseable qlog file per
//! connection end. `kite perf` against itself, quinn and aioquic is in
//! `cli/perf.rs`; how the other peers are found and built, in `cli/peers.rs`;
//! the soak of many connections under a garbage flood, in `cli/soak.rs`.

#[path = "cli/peers.rs"]
mod peers;

#[path = "cli/perf.rs"]
mod perf;

#[path = "cli/soak.rs"]
mod soak;

use peers::{
    DEADLINE, Done, MIB, Peer, Process, Role, Server, ServerDone, kite, notice, parse_echo_ok,
    parse_zero_rtt_accepted, run_client, write_cert,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Runs `client` against a `server` started with `--max-conns 1` and
/// `server_flags`, sending `streams` streams of 1 MiB; checks the client's
/// result line and that the server saw exactly that one connection end.
/// Returns the server's `done` line, or `None` (after the notice the peer
/// printed) when a peer is not installed.
fn echo_pair(server: Peer, client: Peer, streams: u64, server_flags: &[&str]) -> Option<Done> {
    // Both commands first: building quinn-peer must not eat a running
    // server's time.
    let (Some(server_cmd), Some(client_cmd)) =
        (server.command(Role::Server), client.command(Role::Client))
    else {
        return None;
    };
    let start = Instant::now();
    let mut flags = vec!["--max-conns", "1"];
    flags.extend_from_slice(server_flags);
    let server_process = Server::start(server_cmd, &flags);
    let (k, n) = (streams.to_string(), MIB.to_string());
    let args = ["--streams", k.as_str(), "--size", n.as_str(), "--insecure"];
    let run = run_client(client_cmd, &server_process.addr, &args);
    assert!(
        run.status.success(),
        "{client:?} client failed ({}): {}\nserver stderr: {}",
        run.status,
        run.stderr.trim(),
        server_process.stderr_text().trim()
    );
    let line = run.stdout.lines().last().unwrap_or_default();
    let (got_streams, bytes, secs) = parse_echo_ok(line);
    assert_eq!((got_streams, bytes), (streams, streams * MIB), "{line}");
    let done = server_process.wait_done_line();
    assert_eq!(done.conns, 1, "server connections ended");
    notice(&format!(
        "{server:?} server {server_flags:?}, {client:?} client, {streams} x 1 MiB: transfer {secs:.3} s, case {:.3} s, {done:?}",
        start.elapsed().as_secs_f64()
    ));
    Some(done)
}

/// An echo of `streams` x 1 MiB between `server` and `client`.
fn echo_case(server: Peer, client: Peer, streams: u64) {
    echo_pair(server, client, streams, &[]);
}

/// [`echo_case`] with the server sending a Retry to every new connection;
/// its `done` line must count at least one (a client's repeated Initial may
/// draw a second).
fn retry_case(server: Peer, client: Peer, streams: u64) {
    let Some(done) = echo_pair(server, client, streams, &["--retry"]) else {
        return;
    };
    let retries = done
        .retries
        .unwrap_or_else(|| panic!("{server:?} server printed no retries= with --retry"));
    assert!(retries >= 1, "{server:?} server with --retry: {done:?}");
}

#[test]
fn kite_server_kite_client_one_stream() {
    echo_case(Peer::Kite, Peer::Kite, 1);
}

#[test]
fn kite_server_kite_client_eight_streams() {
    echo_case(Peer::Kite, Peer::Kite, 8);
}

#[test]
fn kite_server_quinn_client_one_stream() {
    echo_case(Peer::Kite, Peer::Quinn, 1);
}

#[test]
fn kite_server_quinn_client_eight_streams() {
    echo_case(Peer::Kite, Peer::Quinn, 8);
}

#[test]
fn quinn_server_kite_client_one_stream() {
    echo_case(Peer::Quinn, Peer::Kite, 1);
}

#[test]
fn quinn_server_kite_client_eight_streams() {
    echo_case(Peer::Quinn, Peer::Kite, 8);
}

#[test]
fn kite_server_aioquic_client_one_stream() {
    echo_case(Peer::Kite, Peer::Aioquic, 1);
}

#[test]
fn kite_server_aioquic_client_eight_streams() {
    echo_case(Peer::Kite, Peer::Aioquic, 8);
}

#[test]
fn aioquic_server_kite_client_one_stream() {
    echo_case(Peer::Aioquic, Peer::Kite, 1);
}

#[test]
fn aioquic_server_kite_client_eight_streams() {
    echo_case(Peer::Aioquic, Peer::Kite, 8);
}

#[test]
fn kite_server_retry_kite_client_one_stream() {
    retry_case(Peer::Kite, Peer::Kite, 1);
}

#[test]
fn kite_server_retry_kite_client_eight_streams() {
    retry_case(Peer::Kite, Peer::Kite, 8);
}

#[test]
fn kite_server_retry_quinn_client_one_stream() {
    retry_case(Peer::Kite, Peer::Quinn, 1);
}

#[test]
fn kite_server_retry_quinn_client_eight_streams() {
    retry_case(Peer::Kite, Peer::Quinn, 8);
}

#[test]
fn kite_server_retry_aioquic_client_one_stream() {
    retry_case(Peer::Kite, Peer::Aioquic, 1);
}

#[test]
fn quinn_server_retry_kite_client_one_stream() {
    retry_case(Peer::Quinn, Peer::Kite, 1);
}

#[test]
fn quinn_server_retry_kite_client_eight_streams() {
    retry_case(Peer::Quinn, Peer::Kite, 8);
}

#[test]
fn aioquic_server_retry_kite_client_one_stream() {
    retry_case(Peer::Aioquic, Peer::Kite, 1);
}

/// Streams and bytes per stream of the resumption runs: more than the first
/// flight's congestion window, so the echo starts in 0-RTT and goes on in 1-RTT.
const RESUME_STREAMS: u64 = 2;
const RESUME_SIZE: u64 = 64 * 1024;

/// Runs `client --resume` (a connection for a session ticket, then a resumed
/// one that writes its streams as 0-RTT data) against a `server` with
/// `server_flags` that serves the two connections; checks the echo and that
/// the client reports `zero_rtt_accepted=<accepted>`. Returns the server's
/// `done` line, or `None` when a peer is not installed.
fn resume_case(server: Peer, client: Peer, server_flags: &[&str], accepted: bool) -> Option<Done> {
    let (Some(server_cmd), Some(client_cmd)) =
        (server.command(Role::Server), client.command(Role::Client))
    else {
        return None;
    };
    let start = Instant::now();
    let mut flags = vec!["--max-conns", "2"];
    flags.extend_from_slice(server_flags);
    let server_process = Server::start(server_cmd, &flags);
    let (k, n) = (RESUME_STREAMS.to_string(), RESUME_SIZE.to_string());
    let args = ["--streams", &k, "--size", &n, "--insecure", "--resume"];
    let run = run_client(client_cmd, &server_process.addr, &args);
    assert!(
        run.status.success(),
        "{client:?} client --resume failed ({}): {}\nserver stderr: {}",
        run.status,
        run.stderr.trim(),
        server_process.stderr_text().trim()
    );
    let line = run.stdout.lines().last().unwrap_or_default();
    let (streams, bytes, _) = parse_echo_ok(line);
    assert_eq!(
        (streams, bytes),
        (RESUME_STREAMS, RESUME_STREAMS * RESUME_SIZE),
        "{line}"
    );
    assert_eq!(
        parse_zero_rtt_accepted(line),
        accepted,
        "{client:?} client against {server:?} server {server_flags:?}: {line}"
    );
    let done = server_process.wait_done_line();
    assert_eq!(done.conns, 2, "the ticket's connection and the resumed one");
    notice(&format!(
        "{server:?} server {server_flags:?}, {client:?} client --resume: {line}; case {:.3} s, {done:?}",
        start.elapsed().as_secs_f64()
    ));
    Some(done)
}

/// A kite server with `--zero-rtt` counts the streams that arrived as 0-RTT.
/// How many did depends on how fast the client wrote compared with the
/// handshake on loopback (~1 ms), so only the count's presence is checked;
/// the loopback tests of the kite crate pin that early data is marked.
fn kite_zero_rtt_server_case(client: Peer) {
    if let Some(done) = resume_case(Peer::Kite, client, &["--zero-rtt"], true) {
        let early = done
            .early_streams
            .unwrap_or_else(|| panic!("no early_streams= with --zero-rtt: {done:?}"));
        assert!(early <= RESUME_STREAMS, "{done:?}");
    }
}

#[test]
fn kite_zero_rtt_server_kite_resuming_client() {
    kite_zero_rtt_server_case(Peer::Kite);
}

#[test]
fn kite_zero_rtt_server_quinn_resuming_client() {
    kite_zero_rtt_server_case(Peer::Quinn);
}

#[test]
fn kite_zero_rtt_server_aioquic_resuming_client() {
    kite_zero_rtt_server_case(Peer::Aioquic);
}

#[test]
fn quinn_zero_rtt_server_kite_resuming_client() {
    resume_case(Peer::Quinn, Peer::Kite, &["--zero-rtt"], true);
}

#[test]
fn aioquic_zero_rtt_server_kite_resuming_client() {
    resume_case(Peer::Aioquic, Peer::Kite, &["--zero-rtt"], true);
}

/// Without `--zero-rtt` the kite server's tickets allow no early data: the
/// client resumes with a full 1-RTT echo and says so.
#[test]
fn kite_server_without_zero_rtt_resumes_in_1rtt() {
    let done = resume_case(Peer::Kite, Peer::Kite, &[], false);
    assert!(done.is_some_and(|d| d.early_streams.is_none()));
}

/// Runs `kite ARGS` to completion within the deadline.
fn run_kite(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    run_kite_with_log(args, None)
}

/// Runs `kite` with `RUST_LOG` set to `log`, or unset.
fn run_kite_with_log(
    args: &[&str],
    log: Option<&str>,
) -> (std::process::ExitStatus, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
    cmd.args(args);
    match log {
        Some(log) => cmd.env("RUST_LOG", log),
        None => cmd.env_remove("RUST_LOG"),
    };
    let mut process = Process::spawn(cmd);
    let status = process.wait(DEADLINE);
    (status, process.stdout_text(), process.stderr_text())
}

#[test]
fn rust_log_selects_tracing_events_on_stderr() {
    let (status, stdout, stderr) = run_kite_with_log(&["demo"], Some("kite_proto=debug"));
    assert!(status.success(), "demo failed ({status}): {stderr}");
    assert!(stdout.contains("demo ok"), "{stdout}");
    assert!(stderr.contains("DEBUG"), "{stderr}");
    assert!(stderr.contains("connection state changed"), "{stderr}");
}

#[test]
fn an_unreadable_rust_log_is_reported_and_ignored() {
    let (status, _, stderr) = run_kite_with_log(&["demo"], Some("kite=loudly"));
    assert!(status.success(), "demo failed ({status}): {stderr}");
    assert!(
        stderr.contains("RUST_LOG=\"kite=loudly\" ignored"),
        "{stderr}"
    );
    assert!(!stderr.contains("DEBUG"), "{stderr}");
}

#[test]
fn demo_echoes_foobar_and_prints_each_step() {
    let (status, stdout, stderr) = run_kite(&["demo"]);
    assert!(status.success(), "demo failed ({status}): {stderr}");
    for step in [
        "server: listening on 127.0.0.1:",
        "client: handshake done in ",
        "client: stream 0: sent 6 bytes \"foobar\"",
        "client: stream 0: got \"foobar\" back",
        "server: stream 4: echoed 1048576 bytes",
        "client: connection drained",
        "closed by the client",
        "demo ok: 1048582 bytes echoed",
    ] {
        assert!(stdout.contains(step), "no {step:?} in:\n{stdout}");
    }
}

#[test]
fn demo_writes_tls_secrets_to_sslkeylogfile() {
    let keylog = peers::temp_dir("keylog").join("keys.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
    cmd.arg("demo").env("SSLKEYLOGFILE", &keylog);
    let mut process = Process::spawn(cmd);
    assert!(
        process.wait(DEADLINE).success(),
        "{}",
        process.stderr_text()
    );
    let text = std::fs::read_to_string(&keylog).unwrap_or_default();
    // Both ends of the one connection log their 1-RTT secrets.
    for label in ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"] {
        assert_eq!(text.matches(label).count(), 2, "{label} in:\n{text}");
    }
}

#[test]
fn client_without_trust_anchors_fails_with_one_line() {
    let (status, _, stderr) = run_kite(&["echo", "client", "--connect", "127.0.0.1:9"]);
    assert!(!status.success());
    assert_eq!(
        stderr.trim(),
        "kite: no trust anchors: give --ca FILE, or --insecure"
    );
}

#[test]
fn certificate_files_verify_with_ca() {
    let (cert, key) = write_cert("ca");
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let server = Server::start(
        kite(Role::Server),
        &["--cert", &cert, "--key", &key, "--max-conns", "1"],
    );
    let run = run_client(
        kite(Role::Client),
        &server.addr,
        &["--ca", &cert, "--streams", "2"],
    );
    assert!(run.status.success(), "client failed: {}", run.stderr);
    let line = run.stdout.lines().last().unwrap_or_default();
    assert_eq!(parse_echo_ok(line).1, 2 * 1024, "{line}");
    assert_eq!(server.wait_done(), 1);
}

#[test]
fn client_rejects_a_certificate_its_ca_did_not_sign() {
    let (other_cert, _) = write_cert("other-ca");
    let server = Server::start(kite(Role::Server), &[]);
    let run = run_client(
        kite(Role::Client),
        &server.addr,
        &["--ca", &other_cert.to_string_lossy()],
    );
    assert!(!run.status.success(), "client accepted: {}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("kite: "), "{}", run.stderr);
}

/// RFC 7464 §2: each JSON text of a sequence starts with ASCII Record Separator.
const RECORD_SEPARATOR: u8 = 0x1e;

/// The JSON-SEQ records of a qlog file, each parsed; fails on a file that does
/// not start with a separator or on any record that is not one JSON text.
/// (JSON escapes control characters inside strings, so a raw 0x1E can only be
/// a separator.)
fn qlog_records(path: &Path) -> Vec<serde_json::Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert_eq!(
        bytes.first(),
        Some(&RECORD_SEPARATOR),
        "{} does not open with a record separator",
        path.display()
    );
    bytes
        .split(|&b| b == RECORD_SEPARATOR)
        .skip(1)
        .enumerate()
        .map(|(i, record)| {
            serde_json::from_slice(record).unwrap_or_else(|e| {
                panic!(
                    "record {i} of {}: {e}: {:?}",
                    path.display(),
                    String::from_utf8_lossy(record)
                )
            })
        })
        .collect()
}

/// The connection qlog files in `dir` seen from `side` (`client` or
/// `server`), after checking every `.sqlog` file there: its first record is
/// a sequential-file header (with `side` as vantage point for a connection
/// file), every later one an event with a time and a name.
fn checked_qlog_files(dir: &Path, side: &str) -> Vec<PathBuf> {
    let mut connection_files = Vec::new();
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if !name.ends_with(".sqlog") {
            continue;
        }
        let records = qlog_records(&path);
        let header = records
            .first()
            .unwrap_or_else(|| panic!("{} has no header", path.display()));
        assert_eq!(
            header["file_schema"],
            "urn:ietf:params:qlog:file:sequential",
            "header of {}: {header}",
            path.display()
        );
        for event in &records[1..] {
            assert!(
                event["time"].is_number() && event["name"].is_string(),
                "event in {}: {event}",
                path.display()
            );
        }
        if name.ends_with(&format!("_{side}.sqlog")) {
            assert_eq!(
                header["trace"]["vantage_point"]["type"],
                side,
                "header of {}: {header}",
                path.display()
            );
            notice(&format!("{}: {} records", path.display(), records.len()));
            connection_files.push(path);
        }
    }
    connection_files
}

/// The one connection file of `side` in `dir`, named `<odcid>_<side>.sqlog`;
/// returns the ODCID part.
fn one_qlog_file(dir: &Path, side: &str) -> String {
    let files = checked_qlog_files(dir, side);
    assert_eq!(
        files.len(),
        1,
        "{side} qlog files in {}: {files:?}",
        dir.display()
    );
    let name = files[0].file_name().unwrap_or_default().to_string_lossy();
    name.trim_end_matches(&format!("_{side}.sqlog")).to_string()
}

#[test]
fn echo_writes_one_qlog_file_per_side() {
    let (server_dir, client_dir) = (
        peers::temp_dir("qlog-server"),
        peers::temp_dir("qlog-client"),
    );
    let server = Server::start(
        kite(Role::Server),
        &[
            "--max-conns",
            "1",
            "--qlog-dir",
            &server_dir.to_string_lossy(),
        ],
    );
    let run = run_client(
        kite(Role::Client),
        &server.addr,
        &["--insecure", "--qlog-dir", &client_dir.to_string_lossy()],
    );
    assert!(run.status.success(), "client failed: {}", run.stderr);
    assert_eq!(server.wait_done(), 1);
    // Without a Retry both ends name the trace by the client's first DCID.
    assert_eq!(
        one_qlog_file(&server_dir, "server"),
        one_qlog_file(&client_dir, "client")
    );
}

#[test]
fn demo_writes_qlog_files_into_qlogdir() {
    let dir = peers::temp_dir("qlogdir-env");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
    cmd.arg("demo").env("QLOGDIR", &dir);
    let mut process = Process::spawn(cmd);
    assert!(
        process.wait(DEADLINE).success(),
        "{}",
        process.stderr_text()
    );
    let stdout = process.stdout_text();
    assert!(
        stdout.contains("qlog: one file per connection end in"),
        "{stdout}"
    );
    assert_eq!(one_qlog_file(&dir, "server"), one_qlog_file(&dir, "client"));
}

#[test]
fn qlog_dir_that_cannot_be_made_fails_with_one_line() {
    let blocker = peers::temp_dir("qlog-blocked").join("file");
    std::fs::write(&blocker, "").unwrap_or_else(|e| panic!("writing {}: {e}", blocker.display()));
    let dir = blocker.join("qlog");
    let (status, stdout, stderr) = run_kite(&[
        "echo",
        "server",
        "--listen",
        "127.0.0.1:0",
        "--qlog-dir",
        &dir.to_string_lossy(),
    ]);
    assert!(!status.success(), "server started: {stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.starts_with("kite: creating the qlog directory"),
        "{stderr:?}"
    );
}
