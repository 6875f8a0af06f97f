//! quinn-peer against itself over loopback: the echo exchange the interop tests
//! build on, with and without Retry, resumed with 0-RTT, with generated and
//! file certificates, and the failures a harness relies on (non-zero exit, one
//! `error:` line).

mod common;

use common::{
    MIB, Server, expect_echo_ok, expect_resumed_echo, quinn_peer, run_client, write_cert,
};

#[test]
fn one_stream_and_eight_streams_of_1mib_echo_back() {
    let server = Server::start(quinn_peer(), &["--max-conns", "2"]);
    expect_echo_ok(quinn_peer(), &server.addr, 1, MIB, &["--insecure"]);
    expect_echo_ok(quinn_peer(), &server.addr, 8, MIB, &["--insecure"]);
    assert_eq!(server.wait_done(), (2, 0));
}

#[test]
fn retry_server_sends_one_retry_per_connection() {
    let server = Server::start(quinn_peer(), &["--retry", "--max-conns", "2"]);
    expect_echo_ok(quinn_peer(), &server.addr, 1, MIB, &["--insecure"]);
    expect_echo_ok(quinn_peer(), &server.addr, 8, MIB, &["--insecure"]);
    assert_eq!(server.wait_done(), (2, 2));
}

#[test]
fn resumed_client_sends_0rtt_that_a_zero_rtt_server_accepts() {
    // Each resumption is two connections: one for the ticket, one resumed.
    let server = Server::start(quinn_peer(), &["--zero-rtt", "--max-conns", "2"]);
    assert!(expect_resumed_echo(
        quinn_peer(),
        &server.addr,
        2,
        64 * 1024
    ));
    assert_eq!(server.wait_done(), (2, 0));
}

#[test]
fn without_zero_rtt_the_resumed_echo_runs_in_1rtt() {
    let server = Server::start(quinn_peer(), &["--max-conns", "2"]);
    assert!(!expect_resumed_echo(
        quinn_peer(),
        &server.addr,
        2,
        64 * 1024
    ));
    assert_eq!(server.wait_done(), (2, 0));
}

#[test]
fn empty_streams_echo_as_empty() {
    let server = Server::start(quinn_peer(), &["--max-conns", "1"]);
    expect_echo_ok(quinn_peer(), &server.addr, 3, 0, &["--insecure"]);
    assert_eq!(server.wait_done(), (1, 0));
}

#[test]
fn certificate_files_verify_with_ca() {
    let (cert, key) = write_cert("quinn-echo");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start(
        quinn_peer(),
        &["--cert", cert, "--key", key, "--max-conns", "1"],
    );
    expect_echo_ok(quinn_peer(), &server.addr, 2, 1000, &["--ca", cert]);
    assert_eq!(server.wait_done(), (1, 0));
}

#[test]
fn untrusted_certificate_fails_with_one_error_line() {
    let (ca, _) = write_cert("quinn-untrusted");
    // The server's own self-signed certificate is not the one in `ca`.
    let server = Server::start(quinn_peer(), &[]);
    let out = run_client(quinn_peer(), &server.addr, &["--ca", ca.to_str().unwrap()]);
    assert_one_error_line(&out);
}

#[test]
fn alpn_mismatch_fails_with_one_error_line() {
    let server = Server::start(quinn_peer(), &[]);
    let out = run_client(
        quinn_peer(),
        &server.addr,
        &["--insecure", "--alpn", "not-echo"],
    );
    assert_one_error_line(&out);
}

fn assert_one_error_line(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "client should fail");
    assert!(out.stdout.is_empty(), "no result line on failure");
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}
