//! `kite perf` as a user runs it, over 127.0.0.1: kite against itself for
//! each kind of run (download, upload, streams with `--stats`, connections,
//! handshakes), and against quinn's and aioquic's perf peers in both roles.
//! Each run moves 10 MiB (the aioquic uploads: 1 MiB each way) or makes 50
//! handshakes; servers run with `--max-conns` and must see every connection
//! end. Sizes and flag conflicts fail with one line. Throughput is printed,
//! never asserted.

use crate::peers::{Peer, Role, Server, ServerDone, field, notice, run_client, value};
use crate::run_kite;
use std::time::Instant;

/// 10 MiB, what each transfer moves per connection.
const TEN_MIB: u64 = 10 << 20;

/// Runs `client` with `args` against `server` started with `--max-conns
/// conns`; checks that the client succeeded and that the server saw `conns`
/// connections end. Returns the client's stdout lines, or `None` when a
/// peer is not installed.
fn perf_run(server: Peer, client: Peer, conns: u64, args: &[&str]) -> Option<Vec<String>> {
    let (Some(server_cmd), Some(client_cmd)) = (
        server.perf_command(Role::Server),
        client.perf_command(Role::Client),
    ) else {
        return None;
    };
    let start = Instant::now();
    let max_conns = conns.to_string();
    let server_process = Server::start(server_cmd, &["--max-conns", &max_conns]);
    let mut client_args = vec!["--insecure"];
    client_args.extend_from_slice(args);
    let run = run_client(client_cmd, &server_process.addr, &client_args);
    assert!(
        run.status.success(),
        "{client:?} perf client {args:?} failed ({}): {}\nserver stderr: {}",
        run.status,
        run.stderr.trim(),
        server_process.stderr_text().trim()
    );
    let done = server_process.wait_done_line();
    assert_eq!(done.conns, conns, "server connections ended");
    let lines: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    notice(&format!(
        "{server:?} perf server, {client:?} client {args:?}: {}; case {:.3} s",
        lines.first().map_or("", String::as_str),
        start.elapsed().as_secs_f64()
    ));
    Some(lines)
}

/// The `(download_bytes, upload_bytes)` of a `perf …` result line, after
/// checking that `secs` has three decimals and `mbit_per_s` is a number.
fn parse_perf(line: &str) -> (u64, u64) {
    let secs = value(line, "perf", "secs");
    assert_eq!(
        secs.find('.').map(|dot| secs.len() - dot),
        Some(4),
        "secs has 3 decimals: {line}"
    );
    let rate = value(line, "perf", "mbit_per_s");
    assert!(rate.parse::<f64>().is_ok_and(|r| r >= 0.0), "{line}");
    (
        field(line, "perf", "download_bytes"),
        field(line, "perf", "upload_bytes"),
    )
}

/// A transfer between `server` and `client` whose first line must report
/// `(download, upload)` bytes in all.
fn transfer_case(
    server: Peer,
    client: Peer,
    conns: u64,
    args: &[&str],
    want: (u64, u64),
) -> Option<Vec<String>> {
    let lines = perf_run(server, client, conns, args)?;
    let first = lines.first().map_or("", String::as_str);
    assert_eq!(parse_perf(first), want, "{first}");
    Some(lines)
}

#[test]
fn kite_perf_downloads_10m() {
    transfer_case(
        Peer::Kite,
        Peer::Kite,
        1,
        &["--download", "10M"],
        (TEN_MIB, 0),
    );
}

#[test]
fn kite_perf_uploads_10m() {
    transfer_case(
        Peer::Kite,
        Peer::Kite,
        1,
        &["--upload", "10M"],
        (0, TEN_MIB),
    );
}

/// Four streams share the work of one connection; `--stats` adds one line
/// with that connection's counters, which saw at least the download.
#[test]
fn kite_perf_splits_over_four_streams_and_prints_stats() {
    let args = [
        "--download",
        "10M",
        "--upload",
        "10M",
        "--streams",
        "4",
        "--stats",
    ];
    let lines = transfer_case(Peer::Kite, Peer::Kite, 1, &args, (TEN_MIB, TEN_MIB))
        .unwrap_or_else(|| unreachable!("kite is always there"));
    assert_eq!(lines.len(), 2, "{lines:?}");
    let stats = &lines[1];
    assert_eq!(field(stats, "stats", "conn"), 0, "{stats}");
    assert!(field(stats, "stats", "bytes_received") > TEN_MIB, "{stats}");
    assert!(field(stats, "stats", "bytes_sent") > TEN_MIB, "{stats}");
    assert!(field(stats, "stats", "cwnd") > 0, "{stats}");
    assert!(
        value(stats, "stats", "rtt_ms").parse::<f64>().is_ok(),
        "{stats}"
    );
}

/// Each connection does the whole work: two connections download twice.
#[test]
fn kite_perf_runs_two_connections_at_once() {
    transfer_case(
        Peer::Kite,
        Peer::Kite,
        2,
        &["--download", "10M", "--conns", "2"],
        (2 * TEN_MIB, 0),
    );
}

/// Checks a `handshakes count=N secs=S per_s=R` line for `count`.
fn check_handshakes_line(line: &str, count: u64) {
    assert_eq!(field(line, "handshakes", "count"), count, "{line}");
    let secs: f64 = value(line, "handshakes", "secs")
        .parse()
        .unwrap_or_else(|e| panic!("secs in {line:?}: {e}"));
    let per_s: f64 = value(line, "handshakes", "per_s")
        .parse()
        .unwrap_or_else(|e| panic!("per_s in {line:?}: {e}"));
    assert!(secs > 0.0 && per_s > 0.0, "{line}");
}

/// Every handshake reaches the server as a connection of its own.
fn handshakes_case(server: Peer, client: Peer) {
    let args = ["--handshakes", "50", "--concurrency", "8"];
    if let Some(lines) = perf_run(server, client, 50, &args) {
        check_handshakes_line(lines.first().map_or("", String::as_str), 50);
    }
}

#[test]
fn kite_perf_makes_50_handshakes_8_at_a_time() {
    handshakes_case(Peer::Kite, Peer::Kite);
}

#[test]
fn kite_perf_server_quinn_client_handshakes() {
    handshakes_case(Peer::Kite, Peer::Quinn);
}

#[test]
fn quinn_perf_server_kite_client_handshakes() {
    handshakes_case(Peer::Quinn, Peer::Kite);
}

#[test]
fn quinn_perf_server_kite_client_downloads_10m() {
    transfer_case(
        Peer::Quinn,
        Peer::Kite,
        1,
        &["--download", "10M"],
        (TEN_MIB, 0),
    );
}

#[test]
fn kite_perf_server_quinn_client_downloads_10m() {
    transfer_case(
        Peer::Kite,
        Peer::Quinn,
        1,
        &["--download", "10M"],
        (TEN_MIB, 0),
    );
}

#[test]
fn quinn_perf_server_kite_client_uploads_on_two_streams() {
    transfer_case(
        Peer::Quinn,
        Peer::Kite,
        1,
        &["--upload", "4M", "--streams", "2"],
        (0, 4 << 20),
    );
}

#[test]
fn aioquic_perf_server_kite_client_downloads_10m() {
    transfer_case(
        Peer::Aioquic,
        Peer::Kite,
        1,
        &["--download", "10M"],
        (TEN_MIB, 0),
    );
}

#[test]
fn aioquic_perf_server_kite_client_uploads_on_four_streams() {
    transfer_case(
        Peer::Aioquic,
        Peer::Kite,
        1,
        &["--download", "1M", "--upload", "1M", "--streams", "4"],
        (1 << 20, 1 << 20),
    );
}

#[test]
fn kite_perf_server_aioquic_client_downloads_10m() {
    transfer_case(
        Peer::Kite,
        Peer::Aioquic,
        1,
        &["--download", "10M"],
        (TEN_MIB, 0),
    );
}

/// 1 MiB each way, as with aioquic's server: aioquic's perf peer hands each
/// upload over whole.
#[test]
fn kite_perf_server_aioquic_client_uploads_on_four_streams() {
    transfer_case(
        Peer::Kite,
        Peer::Aioquic,
        1,
        &["--download", "1M", "--upload", "1M", "--streams", "4"],
        (1 << 20, 1 << 20),
    );
}

#[test]
fn kite_perf_server_aioquic_client_handshakes() {
    handshakes_case(Peer::Kite, Peer::Aioquic);
}

#[test]
fn perf_size_without_a_known_suffix_fails_with_one_line() {
    let (status, _, stderr) = run_kite(&[
        "perf",
        "client",
        "--connect",
        "127.0.0.1:9",
        "--insecure",
        "--download",
        "1.5G",
    ]);
    assert!(!status.success());
    assert!(stderr.contains("\"1.5G\" is not a size"), "{stderr}");
}

#[test]
fn perf_handshakes_exclude_a_transfer() {
    let (status, _, stderr) = run_kite(&[
        "perf",
        "client",
        "--connect",
        "127.0.0.1:9",
        "--insecure",
        "--handshakes",
        "5",
        "--download",
        "1M",
    ]);
    assert!(!status.success());
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
