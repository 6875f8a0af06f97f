//! `kite echo client --conns C`: C connections on one transport, held open at
//! once. The handshakes run `--concurrency` at a time, and one the server
//! refuses (CONNECTION_REFUSED, RFC 9000 §5.2.2: it is at its limit) is tried
//! again after a pause, as a client facing a busy server would; once every
//! connection is up, all of them run their K echo streams at the same time
//! and close. Prints `echo ok conns=C streams=K bytes=N secs=S
//! handshake_secs=H refused=R packets_sent=S packets_lost=L pto_count=P
//! max_rtt_ms=R`, N counting the bytes of every connection and the counters
//! summed over them.

use crate::echo::{
    ClientArgs, DONE_CODE, DONE_REASON, client_transport, echo_stream, resolve, wait_drained,
};
use crate::endpoint::EndpointOptions;
use crate::tls::{self, Trust};
use kite::{
    ClientConfig, Connection, ConnectionError, ConnectionStats, DialError, Transport,
    TransportConfig,
};
use kite_proto::TransportErrorCode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Handshakes in progress at once by default. A kite server refuses new
/// connections once 32 are in handshake or waiting to be accepted, and
/// counts a handshake until the client's Finished has arrived, after the
/// client already counts it done; half its limit leaves room for that lag.
pub const DEFAULT_CONCURRENCY: u64 = 16;

/// Times one connection is dialed before a refusal counts as a failure.
const MAX_DIAL_ATTEMPTS: u32 = 50;

/// Pause after a refusal, times the attempts so far (capped at
/// [`MAX_BACKOFF_STEPS`]): a busy server gets more room the longer it stays
/// busy, and all attempts of one connection take at most ~8 s.
const REFUSED_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF_STEPS: u32 = 20;

/// Failed connections named one by one in the error; the rest are counted.
const ERRORS_SHOWN: usize = 5;

/// Runs the echo on `args.conns` connections at once; see the module doc.
pub async fn run(args: ClientArgs, trust: Trust) -> Result<(), String> {
    let total = args
        .conns
        .checked_mul(args.streams)
        .and_then(|bytes| bytes.checked_mul(args.size))
        .ok_or("--conns times --streams times --size overflows")?;
    // Full handshakes, no address-validation tokens: each connection is
    // what a separate client would make.
    let config = tls::without_resumption(tls::client_config(
        trust,
        &args.alpn,
        Arc::new(TransportConfig::default()),
        None,
    )?);
    let server = resolve(&args.connect).await?;
    let options = EndpointOptions {
        retry: false,
        qlog_dir: args.qlog_dir.clone(),
    };
    let transport = client_transport(server, &options).await?;
    let target = Target {
        transport: transport.clone(),
        server,
        server_name: args.server_name.clone(),
        config,
    };

    let start = Instant::now();
    let (conns, refused) = dial_all(Arc::new(target), args.conns, args.concurrency).await?;
    let handshake_secs = start.elapsed().as_secs_f64();
    let (failures, totals) = echo_all(conns, args.streams, args.size).await;
    let secs = start.elapsed().as_secs_f64();
    wait_drained(&transport).await;
    if !failures.is_empty() {
        return Err(failure_summary(&failures, args.conns));
    }
    println!(
        "echo ok conns={} streams={} bytes={total} secs={secs:.3} \
         handshake_secs={handshake_secs:.3} refused={refused} {}",
        args.conns,
        args.streams,
        totals.fields()
    );
    Ok(())
}

/// Recovery counters summed over the client's connections, as each stood
/// when its echo was done: how hard the network (or the server) pushed back.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Totals {
    packets_sent: u64,
    packets_lost: u64,
    pto_count: u64,
    /// The largest smoothed RTT of any connection.
    max_rtt: Duration,
}

impl Totals {
    fn add(&mut self, stats: &ConnectionStats) {
        self.packets_sent += stats.packets_sent;
        self.packets_lost += stats.packets_lost;
        self.pto_count += stats.pto_count;
        self.max_rtt = self.max_rtt.max(stats.rtt);
    }

    /// `packets_sent=S packets_lost=L pto_count=P max_rtt_ms=R`.
    fn fields(&self) -> String {
        format!(
            "packets_sent={} packets_lost={} pto_count={} max_rtt_ms={:.1}",
            self.packets_sent,
            self.packets_lost,
            self.pto_count,
            self.max_rtt.as_secs_f64() * 1e3
        )
    }
}

/// Where and how every connection is dialed.
struct Target {
    transport: Transport,
    server: SocketAddr,
    server_name: String,
    config: ClientConfig,
}

impl Target {
    /// Dials one connection, again after each refusal; returns it and the
    /// refusals it met.
    async fn dial(&self, index: u64) -> Result<(Connection, u64), String> {
        let mut refused = 0;
        for attempt in 1..=MAX_DIAL_ATTEMPTS {
            match self
                .transport
                .dial(self.server, &self.server_name, self.config.clone())
                .await
            {
                Ok(conn) => return Ok((conn, refused)),
                Err(e) if is_refused(&e) => {
                    refused += 1;
                    tokio::time::sleep(REFUSED_BACKOFF * attempt.min(MAX_BACKOFF_STEPS)).await;
                }
                Err(e) => return Err(format!("connection {index}: connecting: {e}")),
            }
        }
        Err(format!(
            "connection {index}: refused {MAX_DIAL_ATTEMPTS} times"
        ))
    }
}

/// Whether the server refused the connection because it is at its limit.
fn is_refused(e: &DialError) -> bool {
    matches!(
        e,
        DialError::Connection(ConnectionError::PeerTransportClose { code, .. })
            if *code == TransportErrorCode::CONNECTION_REFUSED
    )
}

/// Dials `count` connections, `concurrency` handshakes at a time; returns
/// them in order with the refusals met on the way, or the first failure.
async fn dial_all(
    target: Arc<Target>,
    count: u64,
    concurrency: u64,
) -> Result<(Vec<Connection>, u64), String> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.min(count) {
        let (target, next) = (target.clone(), next.clone());
        workers.spawn(async move {
            let mut dialed = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, String>(dialed);
                }
                let (conn, refused) = target.dial(index).await?;
                dialed.push((index, conn, refused));
            }
        });
    }
    let mut conns = Vec::new();
    // A failure returns at once; dropping `workers` aborts the other dials.
    while let Some(result) = workers.join_next().await {
        conns.extend(result.map_err(|e| format!("dial task: {e}"))??);
    }
    conns.sort_by_key(|(index, _, _)| *index);
    let refused = conns.iter().map(|(_, _, refused)| refused).sum();
    Ok((
        conns.into_iter().map(|(_, conn, _)| conn).collect(),
        refused,
    ))
}

/// Runs `streams` echo streams of `size` bytes on every connection at once,
/// closing each connection when its streams are done; returns the failures
/// and the connections' summed counters.
async fn echo_all(conns: Vec<Connection>, streams: u64, size: u64) -> (Vec<String>, Totals) {
    let mut tasks = JoinSet::new();
    for (index, conn) in (0u64..).zip(conns) {
        tasks.spawn(async move {
            let result = echo_connection(&conn, streams, size).await;
            let stats = conn.stats();
            conn.close(DONE_CODE, DONE_REASON);
            (
                result.map_err(|e| format!("connection {index}: {e}")),
                stats,
            )
        });
    }
    let mut failures = Vec::new();
    let mut totals = Totals::default();
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok((result, stats)) => {
                totals.add(&stats);
                if let Err(e) = result {
                    failures.push(e);
                }
            }
            Err(e) => failures.push(format!("connection task: {e}")),
        }
    }
    (failures, totals)
}

/// Opens `streams` streams on `conn` in order and echoes `size` bytes on each,
/// all at once, as a single-connection client does.
async fn echo_connection(conn: &Connection, streams: u64, size: u64) -> Result<(), String> {
    let mut tasks = JoinSet::new();
    for index in 0..streams {
        let (send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| format!("opening stream {index}: {e}"))?;
        tasks.spawn(echo_stream(send, recv, index, size));
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| format!("stream task: {e}"))??;
    }
    Ok(())
}

/// One line naming the first failures and counting them all.
fn failure_summary(failures: &[String], conns: u64) -> String {
    let shown: Vec<&str> = failures
        .iter()
        .take(ERRORS_SHOWN)
        .map(String::as_str)
        .collect();
    let more = failures.len().saturating_sub(ERRORS_SHOWN);
    let mut line = format!(
        "{} of {conns} connections failed: {}",
        failures.len(),
        shown.join("; ")
    );
    if more > 0 {
        line.push_str(&format!("; and {more} more"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn only_connection_refused_counts_as_a_refusal() {
        let close = |code| {
            DialError::Connection(ConnectionError::PeerTransportClose {
                code,
                frame_type: None,
                reason: Bytes::from_static(b"server busy"),
            })
        };
        assert!(is_refused(&close(TransportErrorCode::CONNECTION_REFUSED)));
        assert!(!is_refused(&close(TransportErrorCode::INTERNAL_ERROR)));
        assert!(!is_refused(&DialError::Connection(
            ConnectionError::TimedOut
        )));
    }

    #[test]
    fn totals_sum_counters_and_keep_the_largest_rtt() {
        let mut totals = Totals::default();
        for (rtt_ms, lost) in [(3, 1), (9, 0), (5, 4)] {
            totals.add(&ConnectionStats {
                rtt: Duration::from_millis(rtt_ms),
                packets_sent: 100,
                packets_lost: lost,
                pto_count: 1,
                ..ConnectionStats::default()
            });
        }
        assert_eq!(
            totals.fields(),
            "packets_sent=300 packets_lost=5 pto_count=3 max_rtt_ms=9.0"
        );
    }

    #[test]
    fn failure_summary_names_the_first_and_counts_the_rest() {
        let failures: Vec<String> = (0..7).map(|i| format!("connection {i}: boom")).collect();
        let line = failure_summary(&failures, 100);
        assert!(line.starts_with("7 of 100 connections failed: connection 0: boom; "));
        assert!(line.ends_with("connection 4: boom; and 2 more"), "{line}");
        assert_eq!(
            failure_summary(&failures[..1], 3),
            "1 of 3 connections failed: connection 0: boom"
        );
    }
}
