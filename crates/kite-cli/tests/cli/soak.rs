//! Soak (issue #5): many connections at once, each echoing 64 KiB, on one
//! `kite echo server` on 127.0.0.1 while another process floods the server's
//! port with garbage datagrams. Every echo is checked by the client
//! (`kite echo client --conns`); the server must report no panic and no
//! failed stream on stderr (an idle timeout is counted: a client's lost
//! CONNECTION_CLOSE), and its `--stats-ms` lines must show its live
//! connections back at zero and its runtime's tasks back at the count before
//! the first connection. The server's peak resident memory (`VmHWM`) less
//! its resident memory at start, per connection, is reported and held to a
//! loose bound only. The suite runs 200 connections; `scripts/soak` runs the 1000 of
//! the issue in a release build.
//!
//! The flooder is this test binary again, run as a child process with only
//! [`garbage_flooder`] selected and [`FLOOD_TARGET_ENV`] naming the server; it
//! floods until its stdin closes or [`FLOOD_LIMIT`] passes, and only ever
//! sends to a loopback address.

use crate::peers::{Process, Role, Server, ServerDone, field, kite, notice, run_client};
use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes each connection echoes, as the issue asks.
const ECHO_SIZE: &str = "64K";

/// Handshakes the client keeps in progress at once: what a kite server at
/// its default accept limit (32) takes with room to spare.
const CONCURRENCY: &str = "16";

/// Interval of the server's stats lines.
const STATS_MS: &str = "200";

/// How long the server may take, after the clients are done, to show no
/// live connection: closing and draining last three PTOs (RFC 9000 §10.2),
/// which grow with the RTTs of 1000 connections on two cores; and a server
/// connection whose client's CONNECTION_CLOSE was lost (and whose client
/// has exited) ends only at the 30 s idle timeout.
const SETTLE_LIMIT: Duration = Duration::from_secs(45);

/// Bound on the server's peak memory growth per connection. Measured: about
/// 100-120 KiB (each connection holds its 64 KiB echo in flight at once);
/// ten times that is a leak or a buffer grown out of bounds, not noise.
const MAX_KIB_PER_CONNECTION: f64 = 1024.0;

/// Names the server the child flooder sends to; unset, [`garbage_flooder`]
/// does nothing.
const FLOOD_TARGET_ENV: &str = "KITE_SOAK_FLOOD_TARGET";

/// Garbage datagrams per second (default [`DEFAULT_FLOOD_RATE`]).
const FLOOD_RATE_ENV: &str = "KITE_SOAK_FLOOD_RATE";

/// Seed of the flooder's garbage; printed, so a run can be repeated.
const FLOOD_SEED_ENV: &str = "KITE_SOAK_FLOOD_SEED";

/// Garbage datagrams per second unless the environment says otherwise: about
/// half the rate of the 1000 echoes' own datagrams on this two-core machine,
/// enough to overflow the server's socket buffer now and then (the echoes
/// then recover from loss) without starving them of CPU.
const DEFAULT_FLOOD_RATE: u64 = 10_000;

/// The flooder stops after this long even if nobody closes its stdin.
const FLOOD_LIMIT: Duration = Duration::from_secs(600);

/// Source ports the garbage comes from.
const FLOOD_SOCKETS: usize = 4;

/// How often the flooder catches up with its rate.
const FLOOD_TICK: Duration = Duration::from_millis(2);

/// The suite's soak: 200 connections, under a minute in a debug build.
#[test]
fn soak_200_connections_echo_64k_under_garbage_flood() {
    soak(200);
}

/// The soak: 1000 connections. Run by `scripts/soak` (release).
#[test]
#[ignore = "up to a minute in release: run scripts/soak"]
fn soak_1000_connections_echo_64k_under_garbage_flood() {
    soak(1000);
}

/// A server that takes one handshake at a time (`--max-incoming 1`) refuses
/// most of four at once; `--conns` tries each refused one again until all
/// twelve are up, then echoes on all.
#[test]
fn conns_client_retries_the_handshakes_a_busy_server_refuses() {
    let server = Server::start(
        kite(Role::Server),
        &["--max-incoming", "1", "--max-conns", "12"],
    );
    let run = run_client(
        kite(Role::Client),
        &server.addr,
        &[
            "--insecure",
            "--conns",
            "12",
            "--concurrency",
            "4",
            "--size",
            "1K",
        ],
    );
    assert!(run.status.success(), "client failed: {}", run.stderr);
    let line = run.stdout.lines().last().unwrap_or_default();
    assert_eq!(field(line, "echo ok", "conns"), 12, "{line}");
    assert_eq!(field(line, "echo ok", "bytes"), 12 * 1024, "{line}");
    assert!(field(line, "echo ok", "refused") >= 1, "{line}");
    assert_eq!(server.wait_done(), 12);
}

/// Runs the soak with `conns` connections and reports its numbers.
fn soak(conns: u64) {
    let start = Instant::now();
    let mut server = Server::start(kite(Role::Server), &["--stats-ms", STATS_MS]);
    let first = Stats::parse(&server.next_line());
    assert_eq!(first.live_connections, 0, "{first:?}");
    let baseline_kib = proc_status_kib(server.pid(), "VmRSS");

    let flooder = Flooder::start(&server.addr);
    let conns_arg = conns.to_string();
    let run = run_client(
        kite(Role::Client),
        &server.addr,
        &[
            "--insecure",
            "--conns",
            &conns_arg,
            "--concurrency",
            CONCURRENCY,
            "--size",
            ECHO_SIZE,
        ],
    );
    let flood = flooder.stop();
    if !run.status.success() {
        panic!(
            "client failed ({}): {}\nserver stderr: {}",
            run.status,
            run.stderr.trim(),
            server.kill().trim()
        );
    }
    let line = run.stdout.lines().last().unwrap_or_default();
    assert_eq!(field(line, "echo ok", "conns"), conns, "{line}");
    assert_eq!(field(line, "echo ok", "bytes"), conns * 64 * 1024, "{line}");

    let settle_start = Instant::now();
    let settled = settle(&mut server, conns, first.tasks);
    let settle_secs = settle_start.elapsed().as_secs_f64();
    let peak_kib = proc_status_kib(server.pid(), "VmHWM");
    let idle_timeouts = server_idle_timeouts(&server.kill());
    let per_conn_kib = peak_kib.saturating_sub(baseline_kib) as f64 / conns as f64;
    assert!(
        per_conn_kib < MAX_KIB_PER_CONNECTION,
        "server peak {peak_kib} KiB, {baseline_kib} KiB at start: {per_conn_kib:.1} KiB per connection"
    );
    notice(&format!(
        "soak: {} | flood {flood} | server rss baseline={baseline_kib} KiB \
         peak={peak_kib} KiB per_conn={per_conn_kib:.1} KiB | server settled in \
         {settle_secs:.1} s: live_connections={} tasks={} (at start {}) dropped_datagrams={} \
         idle_timeouts={idle_timeouts} | total {:.1} s",
        line.trim_start_matches("echo ok "),
        settled.live_connections,
        settled.tasks,
        first.tasks,
        settled.dropped_datagrams,
        start.elapsed().as_secs_f64()
    ));
}

/// Reads the server's stats lines until every accepted connection has ended
/// and drained and the runtime holds no more tasks than at start; returns
/// that line. Fails past [`SETTLE_LIMIT`].
fn settle(server: &mut Server, conns: u64, baseline_tasks: u64) -> Stats {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let stats = Stats::parse(&server.next_line());
        let done = stats.accepted == conns && stats.ended == conns;
        if done && stats.live_connections == 0 && stats.tasks == baseline_tasks {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "not settled {SETTLE_LIMIT:?} after the clients: {stats:?}, {baseline_tasks} tasks at start"
        );
    }
}

/// Checks what the server wrote on stderr, which names every connection that
/// did not end with the client's close: no panic, no stream error. Returns
/// how many connections timed out instead, which is no fault of the server:
/// one whose client's CONNECTION_CLOSE was lost after the client exited.
fn server_idle_timeouts(stderr: &str) -> usize {
    let mut idle_timeouts = 0;
    for line in stderr.lines() {
        assert!(
            line.starts_with("connection from ") && line.ends_with(": timed out"),
            "the server reported on stderr:\n{stderr}"
        );
        idle_timeouts += 1;
    }
    idle_timeouts
}

/// One `stats ...` line of `kite echo server --stats-ms`.
#[derive(Debug)]
struct Stats {
    live_connections: u64,
    accepted: u64,
    ended: u64,
    tasks: u64,
    dropped_datagrams: u64,
}

impl Stats {
    fn parse(line: &str) -> Stats {
        let get = |key| field(line, "stats", key);
        Stats {
            live_connections: get("live_connections"),
            accepted: get("accepted"),
            ended: get("ended"),
            tasks: get("tasks"),
            dropped_datagrams: get("dropped_datagrams"),
        }
    }
}

/// A `KEY:   N kB` value of `/proc/PID/status` (Linux), in KiB.
fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {path}:\n{text}"))
}

/// The flooder child process.
struct Flooder {
    process: Process,
}

impl Flooder {
    /// Starts this test binary again as the flooder of `target`, and waits
    /// until it floods.
    fn start(target: &str) -> Flooder {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test binary: {e}"));
        let mut cmd = Command::new(exe);
        cmd.args(["soak::garbage_flooder", "--exact", "--nocapture"])
            .arg("--test-threads=1")
            .env(FLOOD_TARGET_ENV, target);
        let mut process = Process::spawn_with_stdin(cmd);
        // libtest's own words come first, on the same line or before.
        while !process.next_line().contains("flooding ") {}
        Flooder { process }
    }

    /// Stops the flood and returns its `flood ...` report without the prefix.
    fn stop(mut self) -> String {
        self.process.close_stdin();
        loop {
            let line = self.process.next_line();
            if let Some(at) = line.find("flood sent=") {
                let report = &line[at..];
                assert!(field(report, "flood", "sent") > 0, "{line}");
                return report.trim_start_matches("flood ").to_string();
            }
        }
    }
}

/// Not a check: the flooder process of the soak tests. Does nothing unless
/// [`FLOOD_TARGET_ENV`] names a loopback address; then sends garbage there
/// at [`FLOOD_RATE_ENV`] datagrams a second from [`FLOOD_SOCKETS`] ports
/// until stdin closes or [`FLOOD_LIMIT`] passes, and prints what it sent.
#[test]
fn garbage_flooder() {
    let Ok(target) = std::env::var(FLOOD_TARGET_ENV) else {
        return;
    };
    let target: SocketAddr = target
        .parse()
        .unwrap_or_else(|e| panic!("{FLOOD_TARGET_ENV}={target}: {e}"));
    assert!(target.ip().is_loopback(), "floods only loopback: {target}");
    let rate = env_u64(FLOOD_RATE_ENV).unwrap_or(DEFAULT_FLOOD_RATE);
    let seed = env_u64(FLOOD_SEED_ENV).unwrap_or_else(time_seed);
    let sockets: Vec<UdpSocket> = (0..FLOOD_SOCKETS)
        .map(|_| {
            UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("binding a flood socket: {e}"))
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    thread::spawn(move || {
        // End of input (or any error) is the signal to stop.
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        stopper.store(true, Ordering::Relaxed);
    });
    println!("flooding {target} rate={rate} seed={seed}");

    let mut garbage = Garbage::new(seed);
    let mut buf = [0u8; MAX_GARBAGE];
    let mut sent_kinds = [0u64; Kind::ALL.len()];
    let (mut sent, mut send_errors) = (0u64, 0u64);
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < FLOOD_LIMIT {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            let (kind, len) = garbage.next(&mut buf);
            let socket = &sockets[(sent % FLOOD_SOCKETS as u64) as usize];
            if socket.send_to(&buf[..len], target).is_err() {
                send_errors += 1;
            }
            sent += 1;
            sent_kinds[kind as usize] += 1;
        }
        thread::sleep(FLOOD_TICK);
    }
    let kinds: Vec<String> = Kind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), sent_kinds[*kind as usize]))
        .collect();
    println!(
        "flood sent={sent} secs={:.1} send_errors={send_errors} seed={seed} {}",
        start.elapsed().as_secs_f64(),
        kinds.join(" ")
    );
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|e| panic!("{name}={text}: {e}")),
    )
}

fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// Largest garbage datagram: what kite's endpoint accepts (1472 bytes, a
/// 1500-byte IPv4 MTU's payload) and a bit more.
const MAX_GARBAGE: usize = 1500;

/// Smallest datagram that may carry a client Initial (RFC 9000 §14.1):
/// long-header garbage at least this long passes the server's size filter.
const MIN_INITIAL: usize = 1200;

/// The largest UDP payload a kite server takes.
const MAX_ACCEPTED: usize = 1472;

/// Shapes of garbage, each aimed at a different filter of the server.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Random bytes of a random length: mostly fail to parse.
    Random,
    /// A v1 or v2 Initial header with random DCID, SCID, token and payload,
    /// 1200 bytes or more: reaches Initial key derivation and decryption
    /// (and Retry or CONNECTION_REFUSED when the server is busy).
    Initial,
    /// A short header with a random 8-byte DCID: unknown connection,
    /// answered with a (rate-limited) stateless reset.
    Short,
    /// A v1 Handshake or 0-RTT header with a random DCID: for no connection.
    LongOther,
    /// A long header of an unknown version, 1200 bytes or more: answered
    /// with Version Negotiation.
    UnknownVersion,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Random,
        Kind::Initial,
        Kind::Short,
        Kind::LongOther,
        Kind::UnknownVersion,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Random => "random",
            Kind::Initial => "initial",
            Kind::Short => "short",
            Kind::LongOther => "long_other",
            Kind::UnknownVersion => "unknown_version",
        }
    }
}

/// Makes garbage datagrams from a seeded generator (SplitMix64).
struct Garbage {
    state: u64,
}

impl Garbage {
    fn new(seed: u64) -> Garbage {
        Garbage { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        low + (self.next_u64() % (high - low + 1) as u64) as usize
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// Writes the next garbage datagram into `buf`; returns its kind and length.
    fn next(&mut self, buf: &mut [u8; MAX_GARBAGE]) -> (Kind, usize) {
        // Weights out of 8: random 2, Initial 2, short 2, other long 1,
        // unknown version 1.
        let kind = match self.next_u64() % 8 {
            0 | 1 => Kind::Random,
            2 | 3 => Kind::Initial,
            4 | 5 => Kind::Short,
            6 => Kind::LongOther,
            _ => Kind::UnknownVersion,
        };
        let len = match kind {
            Kind::Random => self.range(1, MAX_GARBAGE),
            Kind::Initial | Kind::UnknownVersion => self.range(MIN_INITIAL, MAX_ACCEPTED),
            Kind::Short => self.range(21, MAX_ACCEPTED),
            Kind::LongOther => self.range(64, MAX_ACCEPTED),
        };
        self.fill(&mut buf[..len]);
        match kind {
            Kind::Random => {}
            Kind::Short => {
                // Header form 0, fixed bit 1 (RFC 9000 §17.3.1).
                buf[0] = 0x40 | (buf[0] & 0x3f);
            }
            Kind::Initial => {
                // Long header, fixed bit; type 0 in v1, 1 in v2 (RFC 9369 §3.2).
                let (first, version) = if buf[1] & 1 == 0 {
                    (0xc0, 0x0000_0001u32)
                } else {
                    (0xd0, 0x6b33_43cf)
                };
                let at = self.long_header(buf, first, version);
                // Token length: none, or a random token of up to 63 bytes.
                let token = if buf[at] & 3 == 0 {
                    buf[at] as usize & 0x3f
                } else {
                    0
                };
                buf[at] = token as u8;
                let at = at + 1 + token;
                // Length: the rest, as a two-byte varint (RFC 9000 §16).
                let rest = (len - at - 2) as u16;
                buf[at..at + 2].copy_from_slice(&(0x4000 | rest).to_be_bytes());
            }
            Kind::LongOther => {
                // Type 1 (0-RTT) or 2 (Handshake) in v1.
                let first = if buf[1] & 1 == 0 { 0xd0 } else { 0xe0 };
                self.long_header(buf, first, 1);
            }
            Kind::UnknownVersion => {
                // A reserved version 0x?a?a?a?a (RFC 9000 §15), which no
                // one supports: it draws Version Negotiation.
                let version = 0x0a1a_2a3a | (self.next_u64() as u32 & 0xf0f0_f0f0);
                self.long_header(buf, 0xc0, version);
            }
        }
        (kind, len)
    }

    /// Writes a long header's first byte (with random low bits), version and
    /// random DCID (8 to 20 bytes) and SCID (0 to 20 bytes) lengths; the IDs
    /// themselves stay random. Returns where the header's next field goes.
    fn long_header(&mut self, buf: &mut [u8], first: u8, version: u32) -> usize {
        buf[0] = first | (buf[0] & 0x0f);
        buf[1..5].copy_from_slice(&version.to_be_bytes());
        let dcid = self.range(8, 20);
        buf[5] = dcid as u8;
        let scid_at = 6 + dcid;
        let scid = self.range(0, 20);
        buf[scid_at] = scid as u8;
        scid_at + 1 + scid
    }
}

#[test]
fn garbage_has_the_shapes_it_claims() {
    let mut garbage = Garbage::new(7);
    let mut buf = [0u8; MAX_GARBAGE];
    let mut seen = [0u32; Kind::ALL.len()];
    for _ in 0..10_000 {
        let (kind, len) = garbage.next(&mut buf);
        seen[kind as usize] += 1;
        assert!((1..=MAX_GARBAGE).contains(&len));
        let version = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        match kind {
            Kind::Random => {}
            Kind::Short => assert_eq!(buf[0] & 0xc0, 0x40),
            Kind::Initial => {
                assert!((MIN_INITIAL..=MAX_ACCEPTED).contains(&len));
                assert!(matches!(
                    (buf[0] & 0xf0, version),
                    (0xc0, 1) | (0xd0, 0x6b33_43cf)
                ));
                // The length field covers exactly the rest of the datagram.
                let dcid = buf[5] as usize;
                let scid_at = 6 + dcid;
                let token_at = scid_at + 1 + buf[scid_at] as usize;
                let length_at = token_at + 1 + buf[token_at] as usize;
                let length = u16::from_be_bytes([buf[length_at], buf[length_at + 1]]);
                assert_eq!(length & 0xc000, 0x4000);
                assert_eq!((length & 0x3fff) as usize, len - length_at - 2);
                assert!((8..=20).contains(&dcid));
            }
            Kind::LongOther => {
                assert!(matches!(buf[0] & 0xf0, 0xd0 | 0xe0));
                assert_eq!(version, 1);
            }
            Kind::UnknownVersion => {
                assert!(len >= MIN_INITIAL);
                assert!(version != 0 && version != 1 && version != 0x6b33_43cf);
            }
        }
    }
    assert!(seen.iter().all(|&n| n > 500), "{seen:?}");
}

/// A fixed seed repeats the same garbage.
#[test]
fn garbage_is_repeatable_from_its_seed() {
    let (mut a, mut b) = (Garbage::new(42), Garbage::new(42));
    let (mut buf_a, mut buf_b) = ([0u8; MAX_GARBAGE], [0u8; MAX_GARBAGE]);
    for _ in 0..100 {
        let (_, len_a) = a.next(&mut buf_a);
        let (_, len_b) = b.next(&mut buf_b);
        assert_eq!(buf_a[..len_a], buf_b[..len_b]);
    }
}
