//! The `kite` command as a user runs it: `kite demo`, flag handling, and
//! `kite echo` against itself and against quinn (interop/quinn-peer) and
//! aioquic (interop/aioquic_peer.py) in both roles, over 127.0.0.1. Each pair
//! runs one stream of 1 MiB and eight streams of 1 MiB. How the other peers
//! are found and built is in `cli/peers.rs`.

#[path = "cli/peers.rs"]
mod peers;

use peers::{
    DEADLINE, MIB, Peer, Process, Role, Server, kite, notice, parse_echo_ok, run_client, write_cert,
};
use std::process::Command;
use std::time::Instant;

/// Runs `client` against a `server` started with `--max-conns 1`, sending
/// `streams` streams of 1 MiB; checks the client's result line and that the
/// server saw exactly that one connection end. Skips (with the notice the peer
/// printed) when a peer is not installed.
fn echo_case(server: Peer, client: Peer, streams: u64) {
    // Both commands first: building quinn-peer must not eat a running
    // server's time.
    let (Some(server_cmd), Some(client_cmd)) =
        (server.command(Role::Server), client.command(Role::Client))
    else {
        return;
    };
    let start = Instant::now();
    let server_process = Server::start(server_cmd, &["--max-conns", "1"]);
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
    assert_eq!(server_process.wait_done(), 1, "server connections ended");
    notice(&format!(
        "{server:?} server, {client:?} client, {streams} x 1 MiB: transfer {secs:.3} s, case {:.3} s",
        start.elapsed().as_secs_f64()
    ));
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

/// Runs `kite ARGS` to completion within the deadline.
fn run_kite(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite"));
    cmd.args(args);
    let mut process = Process::spawn(cmd);
    let status = process.wait(DEADLINE);
    (status, process.stdout_text(), process.stderr_text())
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
fn flags_not_supported_yet_fail_with_one_line() {
    for args in [
        &["echo", "server", "--listen", "127.0.0.1:0", "--retry"][..],
        &["echo", "server", "--listen", "127.0.0.1:0", "--zero-rtt"],
        &[
            "echo",
            "server",
            "--listen",
            "127.0.0.1:0",
            "--qlog-dir",
            "q",
        ],
        &[
            "echo",
            "client",
            "--connect",
            "127.0.0.1:9",
            "--insecure",
            "--resume",
        ],
    ] {
        let (status, stdout, stderr) = run_kite(args);
        assert!(!status.success(), "{args:?} succeeded");
        assert!(stdout.is_empty(), "{args:?} printed {stdout:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
        assert!(stderr.contains("not supported yet"), "{args:?}: {stderr:?}");
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
