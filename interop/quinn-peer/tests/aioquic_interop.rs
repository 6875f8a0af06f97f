//! quinn-peer against aioquic (interop/aioquic_peer.py) over loopback, in both
//! roles, with and without Retry, and resumed with 0-RTT. Skipped with a notice
//! when the venv made by scripts/setup-interop is missing.

mod common;

use common::{
    MIB, Server, aioquic_peer, expect_echo_ok, expect_resumed_echo, quinn_peer, write_cert,
};

/// Runs 1 stream of 1 MiB, then 8, against one server and checks it saw two
/// connections, each retried when `retry`.
fn echo_both_sizes(server: Server, client: impl Fn() -> std::process::Command, retry: bool) {
    expect_echo_ok(client(), &server.addr, 1, MIB, &["--insecure"]);
    expect_echo_ok(client(), &server.addr, 8, MIB, &["--insecure"]);
    let retries = if retry { 2 } else { 0 };
    assert_eq!(server.wait_done(), (2, retries));
}

#[test]
fn aioquic_server_quinn_client() {
    let Some(aioquic) = aioquic_peer() else {
        return;
    };
    let server = Server::start(aioquic, &["--max-conns", "2"]);
    echo_both_sizes(server, quinn_peer, false);
}

#[test]
fn aioquic_server_with_retry_quinn_client() {
    let Some(aioquic) = aioquic_peer() else {
        return;
    };
    let server = Server::start(aioquic, &["--retry", "--max-conns", "2"]);
    echo_both_sizes(server, quinn_peer, true);
}

#[test]
fn quinn_server_aioquic_client() {
    let Some(_) = aioquic_peer() else { return };
    let server = Server::start(quinn_peer(), &["--max-conns", "2"]);
    echo_both_sizes(server, || aioquic_peer().unwrap(), false);
}

#[test]
fn quinn_server_with_retry_aioquic_client() {
    let Some(_) = aioquic_peer() else { return };
    let server = Server::start(quinn_peer(), &["--retry", "--max-conns", "2"]);
    echo_both_sizes(server, || aioquic_peer().unwrap(), true);
}

#[test]
fn aioquic_zero_rtt_server_accepts_quinn_0rtt() {
    let Some(aioquic) = aioquic_peer() else {
        return;
    };
    let server = Server::start(aioquic, &["--zero-rtt", "--max-conns", "2"]);
    assert!(expect_resumed_echo(
        quinn_peer(),
        &server.addr,
        2,
        64 * 1024
    ));
    assert_eq!(server.wait_done(), (2, 0));
}

#[test]
fn quinn_zero_rtt_server_accepts_aioquic_0rtt() {
    let Some(aioquic) = aioquic_peer() else {
        return;
    };
    let server = Server::start(quinn_peer(), &["--zero-rtt", "--max-conns", "2"]);
    assert!(expect_resumed_echo(aioquic, &server.addr, 2, 64 * 1024));
    assert_eq!(server.wait_done(), (2, 0));
}

#[test]
fn certificate_files_verify_with_ca_both_ways() {
    let Some(aioquic) = aioquic_peer() else {
        return;
    };
    let (cert, key) = write_cert("aioquic-ca");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let tls = ["--cert", cert, "--key", key, "--max-conns", "1"];

    let server = Server::start(aioquic, &tls);
    expect_echo_ok(quinn_peer(), &server.addr, 2, 1000, &["--ca", cert]);
    assert_eq!(server.wait_done(), (1, 0));

    let server = Server::start(quinn_peer(), &tls);
    expect_echo_ok(
        aioquic_peer().unwrap(),
        &server.addr,
        2,
        1000,
        &["--ca", cert],
    );
    assert_eq!(server.wait_done(), (1, 0));
}
