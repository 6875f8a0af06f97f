//! The QUIC interop runner's scenarios over loopback: an echo client and an
//! echo server (kite on both sides, and kite against quinn-peer for
//! handshakeloss, transferloss, blackhole and amplificationlimit), with the
//! impairing relay between them. Each scenario checks what the runner
//! checks: every handshake succeeds, every byte comes back unchanged (the
//! echo client compares them), and the whole run stays within its
//! deadline. Each prints its timing and the relay's counters, so a run
//! shows the impairments did happen. The relay's seed is `KITE_RELAY_SEED` when set (for a replay of
//! its decisions; the timing of a real network run is not replayed).
//! amplificationlimit checks, from the relay's byte counters, that a kite
//! server with a large certificate sends at most three times what it heard
//! before the client's address is validated (RFC 9000 §8.1); kite-sim's
//! amplification test checks the same against the connection's own counts.

#[path = "scenarios/peers.rs"]
mod peers;

use kite_relay::{Blackhole, Impairments, RelayConfig, RelayThread, Report, Silence};
use kite_testkit::process::temp_dir;
use kite_testkit::tls::SelfSigned;
use peers::{ClientRun, Peer, Process, notice, run_client, start_server};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One MiB.
const MIB: u64 = 1024 * 1024;

/// The relay's seed when `KITE_RELAY_SEED` is not set.
const DEFAULT_SEED: u64 = 0x6b69_7465;

/// The relay of a scenario outlives its clients: a bound well past every
/// client deadline, so only a runaway run meets it.
const RELAY_MAX_DURATION: Duration = Duration::from_secs(600);
const RELAY_MAX_DATAGRAMS: u64 = 10_000_000;

/// Bytes per stream of the handshake scenarios: one small echo proves the
/// connection works end to end.
const HANDSHAKE_ECHO_SIZE: u64 = 1000;

fn seed() -> u64 {
    std::env::var("KITE_RELAY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// A relay in front of the server at `upstream`, impairing both directions
/// alike.
fn start_relay(upstream: &str, impairments: Impairments) -> RelayThread {
    start_relay_with(upstream, impairments.clone(), impairments)
}

/// A relay in front of the server at `upstream`, impairing each direction
/// as given.
fn start_relay_with(upstream: &str, to_server: Impairments, to_client: Impairments) -> RelayThread {
    let upstream = upstream
        .parse()
        .unwrap_or_else(|e| panic!("server address {upstream:?}: {e}"));
    RelayThread::spawn(RelayConfig {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        upstream,
        to_server,
        to_client,
        seed: seed(),
        max_datagrams: RELAY_MAX_DATAGRAMS,
        max_duration: RELAY_MAX_DURATION,
        trace: false,
    })
    .unwrap_or_else(|e| panic!("starting the relay: {e}"))
}

/// Stops `relay` and prints the scenario's line: name, peers, time, counters.
fn report(name: &str, server: Peer, client: Peer, start: Instant, relay: RelayThread) -> Report {
    let report = relay
        .stop()
        .unwrap_or_else(|e| panic!("the relay failed: {e}"));
    notice(&format!(
        "scenario {name}: {server:?} server, {client:?} client, {:.1} s, seed {}\n{report}",
        start.elapsed().as_secs_f64(),
        seed()
    ));
    report
}

fn describe(run: &ClientRun) -> String {
    format!(
        "status {:?} after {:.1} s\nstdout: {}\nstderr: {}",
        run.status,
        run.elapsed.as_secs_f64(),
        run.stdout.trim(),
        run.stderr.trim()
    )
}

/// One echo of `streams` x `size` bytes through a relay with `impairments`;
/// the client must finish within `deadline` with every byte back.
fn transfer(
    name: &str,
    server: Peer,
    client: Peer,
    impairments: Impairments,
    (streams, size): (u64, u64),
    deadline: Duration,
) -> Report {
    let server_process = start_server(server, &[]);
    let start = Instant::now();
    let relay = start_relay(&server_process.addr, impairments);
    let addr = relay.local_addr().to_string();
    let run = run_client(client, &addr, (streams, size), &[], deadline);
    let report = report(name, server, client, start, relay);
    assert!(
        run.echoed(streams, size),
        "{name}: the {client:?} client did not echo {streams} x {size} bytes: {}\nserver stderr: {}",
        describe(&run),
        server_process.stderr_text().trim()
    );
    report
}

/// `count` connections, each one small echo, at most `concurrency` at a
/// time, through a relay with `impairments`; every one must succeed within
/// `deadline`.
fn handshakes(
    name: &str,
    server: Peer,
    client: Peer,
    impairments: Impairments,
    (count, concurrency): (usize, usize),
    deadline: Duration,
) -> Report {
    let server_process = start_server(server, handshake_flags(server));
    let start = Instant::now();
    let relay = start_relay(&server_process.addr, impairments);
    let addr = relay.local_addr().to_string();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let slowest = Mutex::new(Duration::ZERO);
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let run = run_client(
                        client,
                        &addr,
                        (1, HANDSHAKE_ECHO_SIZE),
                        handshake_flags(client),
                        deadline,
                    );
                    let mut slowest = slowest.lock().unwrap_or_else(|e| e.into_inner());
                    *slowest = (*slowest).max(run.elapsed);
                    if !run.echoed(1, HANDSHAKE_ECHO_SIZE) {
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(describe(&run));
                    }
                }
            });
        }
    });
    let report = report(name, server, client, start, relay);
    let slowest = slowest.into_inner().unwrap_or_else(|e| e.into_inner());
    notice(&format!(
        "scenario {name}: slowest connection {:.1} s",
        slowest.as_secs_f64()
    ));
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(
        failures.is_empty(),
        "{name}: {} of {count} connections failed; first: {}\nserver stderr: {}",
        failures.len(),
        failures.first().map(String::as_str).unwrap_or_default(),
        server_process.stderr_text().trim()
    );
    report
}

// handshakeloss / handshakecorruption: 30 % of the datagrams of each
// direction lost (or corrupted), 50 connections, all must succeed. Ten run
// at once, as the runner's clients do, so the run takes a few handshake
// times rather than fifty.
//
// These once failed about 1 kite connection in 60-300 (qlogs of runs of 100
// connections, kite and quinn on either side), for reasons kite-proto now
// fixes, each pinned by a test in kite-proto's connection/tests/probes.rs
// or crypto_stream.rs, and all together by kite-sim's lossy_handshakes
// (200 seeded connections at 30 % loss and at 30 % corruption):
// - only the first datagram of a PTO probe pair carried the unacknowledged
//   CRYPTO data, the second was a PING (a quinn server could not use it);
// - each PTO queued the unacknowledged CRYPTO ranges again on top of those
//   already queued (probes carried `crypto@0+90` up to six times);
// - a kite server answered repeated ClientHellos with bare ACKs, resending
//   a lost ServerHello only on its own backed-off PTO;
// - application probes repeated only the session ticket, never a lost
//   HANDSHAKE_DONE (the client could not confirm the handshake) nor lost
//   stream data; a client's Handshake PTO did not carry its lost 1-RTT
//   data either (no application PTO before confirmation);
// - a resuming client could read the transport parameters remembered with
//   its ticket for the server's (a TRANSPORT_PARAMETER_ERROR);
// - the handshake idle timeout was 5 s: a client's ClientHello went out at
//   0, 1 and 3 s only. It is 10 s now (four tries, seven datagrams).
// What is left is chance: with every datagram of a direction lost with
// probability 0.3, all seven ClientHello datagrams of 10 s are lost for 2
// connections in 10,000 (0.3^7). The kite peers here run with a 30 s
// handshake idle timeout, quinn's (nine datagrams, 2 in 100,000), so that
// a run of 50 tests loss recovery rather than that lottery.

// A quinn server still fails about 1 kite connection in 900 here (9 in
// 8,100), so 50 in a row fail about one run in twenty: that scenario is
// ignored. The cause is quinn's (quinn-proto 0.11.19, seen in its trace
// logs): when its ServerHello is lost several times, its retransmission
// waits on the congestion window, which the Handshake packets it keeps
// probing with hold for good, as a client without the ServerHello can
// neither open nor acknowledge them; its PTO then only ever probes the
// Handshake space, and it stops acknowledging the client's Initials too.
// The kite client keeps sending Initials until its idle timeout. quinn's
// own client fails 4 in 1,000 against it through this relay. A kite server
// does not stall so: its PTO also sends unacknowledged Initial data, and a
// probe datagram opens the window for every space.

/// Flags of a handshake scenario's `peer`: kite's handshake idle timeout
/// set to quinn's 30 s (see above).
fn handshake_flags(peer: Peer) -> &'static [&'static str] {
    match peer {
        Peer::Kite => &["--handshake-idle-timeout", "30"],
        Peer::Quinn => &[],
    }
}

/// Connections of the handshake scenarios, and how many run at once.
const HANDSHAKES: (usize, usize) = (50, 10);
/// A handshake scenario's client deadline: a handshake may lose several
/// flights in a row, each costing a doubled PTO.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(45);

fn loss(p: f64) -> Impairments {
    Impairments {
        loss: p,
        ..Impairments::default()
    }
}

fn corruption(p: f64) -> Impairments {
    Impairments {
        corrupt: p,
        ..Impairments::default()
    }
}

fn assert_impaired(report: &Report, what: fn(&kite_relay::DirectionStats) -> u64) {
    assert!(
        what(&report.to_server) > 0 && what(&report.to_client) > 0,
        "the relay impaired both directions: {report}"
    );
}

#[test]
fn handshakeloss_kite_kite() {
    let report = handshakes(
        "handshakeloss",
        Peer::Kite,
        Peer::Kite,
        loss(0.3),
        HANDSHAKES,
        HANDSHAKE_DEADLINE,
    );
    assert_impaired(&report, |d| d.lost);
}

#[test]
#[ignore = "quinn 0.11 server: ~1 in 900 handshakes stalls, its lost ServerHello held back by congestion control (see above)"]
fn handshakeloss_quinn_server_kite_client() {
    let report = handshakes(
        "handshakeloss",
        Peer::Quinn,
        Peer::Kite,
        loss(0.3),
        HANDSHAKES,
        HANDSHAKE_DEADLINE,
    );
    assert_impaired(&report, |d| d.lost);
}

#[test]
fn handshakeloss_kite_server_quinn_client() {
    let report = handshakes(
        "handshakeloss",
        Peer::Kite,
        Peer::Quinn,
        loss(0.3),
        HANDSHAKES,
        HANDSHAKE_DEADLINE,
    );
    assert_impaired(&report, |d| d.lost);
}

#[test]
fn handshakecorruption_kite_kite() {
    let report = handshakes(
        "handshakecorruption",
        Peer::Kite,
        Peer::Kite,
        corruption(0.3),
        HANDSHAKES,
        HANDSHAKE_DEADLINE,
    );
    assert_impaired(&report, |d| d.corrupted);
}

// transferloss / transfercorruption: 5 MiB over five streams echoed back
// with 2 % and 10 % of each direction's datagrams lost (or corrupted).

/// Streams and bytes per stream of the transfer scenarios.
const TRANSFER: (u64, u64) = (5, MIB);
/// A transfer scenario's client deadline.
const TRANSFER_DEADLINE: Duration = Duration::from_secs(90);

#[test]
fn transferloss_2_percent_kite_kite() {
    let report = transfer(
        "transferloss 2%",
        Peer::Kite,
        Peer::Kite,
        loss(0.02),
        TRANSFER,
        TRANSFER_DEADLINE,
    );
    assert_impaired(&report, |d| d.lost);
}

#[test]
fn transferloss_10_percent_kite_kite() {
    let report = transfer(
        "transferloss 10%",
        Peer::Kite,
        Peer::Kite,
        loss(0.1),
        TRANSFER,
        TRANSFER_DEADLINE,
    );
    assert_impaired(&report, |d| d.lost);
}

#[test]
fn transferloss_2_percent_quinn_server_kite_client() {
    let report = transfer(
        "transferloss 2%",
        Peer::Quinn,
        Peer::Kite,
        loss(0.02),
        TRANSFER,
        TRANSFER_DEADLINE,
    );
    assert_impaired(&report, |d| d.lost);
}

#[test]
fn transferloss_2_percent_kite_server_quinn_client() {
    let report = transfer(
        "transferloss 2%",
        Peer::Kite,
        Peer::Quinn,
        loss(0.02),
        TRANSFER,
        TRANSFER_DEADLINE,
    );
    assert_impaired(&report, |d| d.lost);
}

#[test]
fn transfercorruption_2_percent_kite_kite() {
    let report = transfer(
        "transfercorruption 2%",
        Peer::Kite,
        Peer::Kite,
        corruption(0.02),
        TRANSFER,
        TRANSFER_DEADLINE,
    );
    assert_impaired(&report, |d| d.corrupted);
}

#[test]
fn transfercorruption_10_percent_kite_kite() {
    let report = transfer(
        "transfercorruption 10%",
        Peer::Kite,
        Peer::Kite,
        corruption(0.1),
        TRANSFER,
        TRANSFER_DEADLINE,
    );
    assert_impaired(&report, |d| d.corrupted);
}

// blackhole: everything dropped for 2 s of every 5 s (the first outage
// starts 3 s in, after the handshake) during a 10 MiB echo. Over bare
// loopback 10 MiB take under a second, before any outage; the runner's
// link is 10 Mbit/s with a 30 ms RTT, and so is this one, which makes the
// echo last about 9 s and meet two outages.

/// The runner's blackhole: 2 s outages every 5 s.
const BLACKHOLE: Blackhole = Blackhole {
    period: Duration::from_secs(5),
    outage: Duration::from_secs(2),
};
/// The interop runner's link: 10 Mbit/s, 15 ms each way.
const RUNNER_RATE: u64 = 10_000_000 / 8;
const RUNNER_DELAY: Duration = Duration::from_millis(15);
/// One stream of 10 MiB.
const BLACKHOLE_TRANSFER: (u64, u64) = (1, 10 * MIB);
const BLACKHOLE_DEADLINE: Duration = Duration::from_secs(90);

fn blackhole() -> Impairments {
    Impairments {
        blackhole: Some(BLACKHOLE),
        rate: Some(RUNNER_RATE),
        delay: RUNNER_DELAY,
        ..Impairments::default()
    }
}

#[test]
fn blackhole_kite_kite() {
    let report = transfer(
        "blackhole",
        Peer::Kite,
        Peer::Kite,
        blackhole(),
        BLACKHOLE_TRANSFER,
        BLACKHOLE_DEADLINE,
    );
    assert_impaired(&report, |d| d.blackholed);
}

#[test]
fn blackhole_quinn_server_kite_client() {
    let report = transfer(
        "blackhole",
        Peer::Quinn,
        Peer::Kite,
        blackhole(),
        BLACKHOLE_TRANSFER,
        BLACKHOLE_DEADLINE,
    );
    assert_impaired(&report, |d| d.blackholed);
}

#[test]
fn blackhole_kite_server_quinn_client() {
    let report = transfer(
        "blackhole",
        Peer::Kite,
        Peer::Quinn,
        blackhole(),
        BLACKHOLE_TRANSFER,
        BLACKHOLE_DEADLINE,
    );
    assert_impaired(&report, |d| d.blackholed);
}

// longrtt: 750 ms each way (1.5 s RTT, far above the 333 ms kite assumes
// before its first sample). Run through the `kite-relay` binary, so the
// program itself is exercised end to end.

/// Starts the `kite-relay` binary and reads the address it listens on from
/// its first line, `relaying LISTEN -> UPSTREAM`.
fn spawn_relay_binary(cmd: Command) -> (Process, String) {
    let mut relay = Process::spawn(cmd);
    let first = relay.next_line_within(Duration::from_secs(10));
    let addr = first
        .strip_prefix("relaying ")
        .and_then(|rest| rest.split_once(" -> "))
        .map(|(addr, _)| addr.to_string())
        .unwrap_or_else(|| panic!("the relay's first line is {first:?}"));
    (relay, addr)
}

#[test]
fn longrtt_kite_kite_through_the_relay_binary() {
    let server = start_server(Peer::Kite, &[]);
    let start = Instant::now();
    let mut relay_cmd = Command::new(env!("CARGO_BIN_EXE_kite-relay"));
    relay_cmd.args(["--listen", "127.0.0.1:0", "--upstream", &server.addr]);
    relay_cmd.args(["--delay", "750", "--max-secs", "120"]);
    relay_cmd.args(["--seed", &seed().to_string()]);
    let (_relay, addr) = spawn_relay_binary(relay_cmd); // killed when dropped, at the end
    let (streams, size) = (2, 10_000);
    let run = run_client(
        Peer::Kite,
        &addr,
        (streams, size),
        &[],
        Duration::from_secs(60),
    );
    notice(&format!(
        "scenario longrtt: Kite server, Kite client, {:.1} s (client {:.1} s)",
        start.elapsed().as_secs_f64(),
        run.elapsed.as_secs_f64()
    ));
    assert!(
        run.echoed(streams, size),
        "longrtt: {}\nserver stderr: {}",
        describe(&run),
        server.stderr_text().trim()
    );
    // Two round trips of 1.5 s at least: the handshake, then the echo.
    assert!(run.elapsed >= Duration::from_secs(3), "{:?}", run.elapsed);
}

// multiplexing: 2000 small streams against a server that allows 100 open at
// once (kite's default), so the client waits for MAX_STREAMS credit twenty
// times over.

#[test]
fn multiplexing_kite_kite() {
    transfer(
        "multiplexing",
        Peer::Kite,
        Peer::Kite,
        Impairments::default(),
        (2000, 100),
        Duration::from_secs(60),
    );
}

// amplificationlimit: the server's certificate is large enough to need
// several flights, and the client's retransmissions are lost. The relay lets
// the client's first datagram through, then drops everything the client
// sends for 1.5 s, so the server hears nothing more until well after it has
// used up its allowance (its PTO may not send past it either, RFC 9002
// §6.2.2.1). Until the next client datagram reaches it, the server cannot
// have validated the client's address: that datagram is the first that can
// carry a Handshake packet. The relay's checkpoint at the silence's end
// holds the bytes of both directions up to that moment. Then the handshake
// completes and the echo runs.

/// How long the client's retransmissions are lost: past the server's first
/// PTO (1 s with the initial RTT of 333 ms), so a server that probed
/// beyond its allowance would be caught.
const AMPLIFICATION_SILENCE: Duration = Duration::from_millis(1500);
/// RFC 9000 §8.1: before validation a server sends at most three times the
/// bytes it received.
const AMPLIFICATION_FACTOR: u64 = 3;
/// Names on the large certificate: several kilobytes of DER, more than
/// three 1200-byte Initials can answer.
const LARGE_CERTIFICATE_NAMES: usize = 150;
const AMPLIFICATION_DEADLINE: Duration = Duration::from_secs(30);

/// A self-signed certificate with many names, written as PEM into a fresh
/// directory under the test target's temporary directory; returns the
/// paths of the certificate and key, and the certificate's DER length.
fn large_certificate(name: &str) -> (PathBuf, PathBuf, usize) {
    let names: Vec<String> = (0..LARGE_CERTIFICATE_NAMES)
        .map(|i| format!("host-{i}.a-rather-long-subdomain.example.com"))
        .chain(["localhost".to_string()])
        .collect();
    let certified = SelfSigned::for_names(names);
    let dir = temp_dir(env!("CARGO_TARGET_TMPDIR"), name);
    let (cert, key) = certified.write_pem(&dir);
    (cert, key, certified.cert.len())
}

fn amplificationlimit(client: Peer) {
    let name = "amplificationlimit";
    let (cert, key, cert_len) = large_certificate(&format!("{name}-{client:?}"));
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let server_process = start_server(Peer::Kite, &["--cert", &cert_arg, "--key", &key_arg]);
    let start = Instant::now();
    let silence = Silence {
        after: 1,
        length: AMPLIFICATION_SILENCE,
    };
    let to_server = Impairments {
        silence: Some(silence),
        ..Impairments::default()
    };
    let relay = start_relay_with(&server_process.addr, to_server, Impairments::default());
    let addr = relay.local_addr().to_string();
    let size = HANDSHAKE_ECHO_SIZE;
    let run = run_client(client, &addr, (1, size), &[], AMPLIFICATION_DEADLINE);
    let report = report(name, Peer::Kite, client, start, relay);
    assert!(
        run.echoed(1, size),
        "{name}: the {client:?} client did not echo {size} bytes: {}\nserver stderr: {}",
        describe(&run),
        server_process.stderr_text().trim()
    );
    let before = report
        .silence_end
        .unwrap_or_else(|| panic!("{name}: the silence never ended: {report}"));
    // What reached the server before validation was possible, and what it
    // answered.
    let heard = before.to_server.sent_bytes;
    let answered = before.to_client.received_bytes;
    notice(&format!(
        "scenario {name}: server sent {answered} bytes for {heard} received (limit {}), certificate {cert_len} bytes",
        AMPLIFICATION_FACTOR * heard
    ));
    assert_eq!(before.to_server.sent, 1, "{name}: {report}");
    assert!(
        report.to_server.silenced > 0,
        "{name}: the client retransmitted into the silence: {report}"
    );
    // The test can fail: the server's whole flight does not fit.
    assert!(
        cert_len as u64 > AMPLIFICATION_FACTOR * heard,
        "{name}: a {cert_len}-byte certificate fits in 3 x {heard} bytes"
    );
    // It used its allowance: held back by the limit, not by anything else.
    assert!(
        answered > (AMPLIFICATION_FACTOR - 1) * heard,
        "{name}: the server sent only {answered} bytes for {heard}: {report}"
    );
    assert!(
        answered <= AMPLIFICATION_FACTOR * heard,
        "{name}: the server sent {answered} bytes for {heard} before validating the client: {report}"
    );
}

#[test]
fn amplificationlimit_kite_kite() {
    amplificationlimit(Peer::Kite);
}

#[test]
fn amplificationlimit_kite_server_quinn_client() {
    amplificationlimit(Peer::Quinn);
}

#[test]
fn relay_binary_silences_one_direction_and_reports_its_end() {
    use std::net::UdpSocket;
    let server = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let server_addr = server.local_addr().unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((len, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..len], from);
        }
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite-relay"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &server_addr.to_string(),
    ]);
    // Six datagrams: one echoed both ways, three silenced, the last one
    // ends the silence and the run.
    cmd.args(["--to-server-silence", "1:300", "--max-datagrams", "6"]);
    cmd.args(["--max-secs", "10"]);
    let (mut relay, addr) = spawn_relay_binary(cmd);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("{e}"));
    let send = |bytes: &[u8]| {
        client
            .send_to(bytes, &addr)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    send(b"first");
    let mut buf = [0u8; 64];
    client.recv_from(&mut buf).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..3 {
        send(b"again");
    }
    std::thread::sleep(Duration::from_millis(400));
    send(b"late");
    assert!(relay.wait(Duration::from_secs(10)).success());
    let out = relay.stdout_text();
    let line = |prefix: &str| {
        out.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line: {out}"))
    };
    // All of the run, then only what came before the late datagram.
    let to_server = line("to_server ");
    assert!(to_server.contains(" silenced=3 "), "{out}");
    assert!(
        to_server.contains(" received_bytes=24 sent_bytes=9 "),
        "{out}"
    );
    let at_end = line("silence_end at=");
    assert!(at_end.contains(" to_server received=5 sent=1 "), "{out}");
    assert!(at_end.contains(" sent_bytes=5 "), "{out}");
}

#[test]
fn relay_binary_refuses_addresses_off_loopback() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kite-relay"));
    cmd.args(["--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:4433"]);
    let mut relay = Process::spawn(cmd);
    let status = relay.wait(Duration::from_secs(10));
    assert!(!status.success());
    assert!(
        relay.stderr_text().contains("not a loopback address"),
        "{}",
        relay.stderr_text()
    );
}
