//! `kite perf client`: either a transfer (`--download`/`--upload` bytes per
//! connection, split over `--streams` streams, on `--conns` connections at
//! once), printing `perf download_bytes=… upload_bytes=… secs=… mbit_per_s=…`
//! and with `--stats` each connection's counters; or `--handshakes N` full
//! handshakes, `--concurrency` at a time, printing `handshakes count=N secs=S
//! per_s=R`. Session resumption is off, so every handshake is a full one.

use super::progress::{Counters, Kind, Progress};
use super::server::{drain, send_zeros};
use super::{PERF_ALPN, mbit_per_s, parse_size};
use crate::echo::{DONE_CODE, DONE_REASON, client_transport, resolve, wait_drained};
use crate::endpoint::EndpointOptions;
use crate::tls::{self, SELF_SIGNED_NAME, Trust};
use bytes::Bytes;
use kite::TransportConfig;
use kite::{ClientConfig, Connection, ConnectionStats, RecvStream, SendStream, Transport};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::task::JoinSet;

/// What a transfer downloads when neither `--download` nor `--upload` is given.
const DEFAULT_DOWNLOAD: u64 = 100 << 20;

/// Flags of `kite perf client`.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// Server address, `host:port`.
    #[arg(long)]
    connect: String,
    /// Name sent as SNI and checked against the server's certificate.
    #[arg(long, default_value = SELF_SIGNED_NAME)]
    server_name: String,
    /// ALPN protocol to offer.
    #[arg(long, default_value = PERF_ALPN)]
    alpn: String,
    /// Bytes each connection downloads; digits with an optional K, M, G or T
    /// (powers of 1024: 256M = 268435456). Without --download and --upload:
    /// 100M.
    #[arg(long, value_name = "B", value_parser = parse_size)]
    download: Option<u64>,
    /// Bytes each connection uploads; sizes as for --download.
    #[arg(long, value_name = "B", value_parser = parse_size)]
    upload: Option<u64>,
    /// Streams per connection, all at once; each carries an equal share of
    /// the connection's download and upload.
    #[arg(long, default_value_t = 1, value_name = "K",
          value_parser = clap::value_parser!(u64).range(1..))]
    streams: u64,
    /// Connections at once, each doing the whole --download/--upload.
    #[arg(long, default_value_t = 1, value_name = "C",
          value_parser = clap::value_parser!(u64).range(1..))]
    conns: u64,
    /// Instead of a transfer: N full handshakes, each connection closed as
    /// soon as its handshake completes.
    #[arg(long, value_name = "N",
          conflicts_with_all = ["download", "upload", "streams", "conns", "stats"])]
    handshakes: Option<u64>,
    /// Handshakes in progress at once (with --handshakes).
    #[arg(long, default_value_t = 1, value_name = "C", requires = "handshakes",
          value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Accept any server certificate (the handshake signature is still checked).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// PEM file of certificates to trust as roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// After the result line, print each connection's counters as
    /// `stats conn=I rtt_ms=… cwnd=… …`.
    #[arg(long)]
    stats: bool,
}

/// Where and how to connect: shared by every connection of a run.
#[derive(Clone)]
struct Target {
    transport: Transport,
    server: SocketAddr,
    server_name: String,
    config: ClientConfig,
}

impl Target {
    async fn dial(&self) -> Result<Connection, String> {
        self.transport
            .dial(self.server, &self.server_name, self.config.clone())
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.server))
    }
}

/// What one connection of a transfer does.
#[derive(Clone, Copy)]
struct Work {
    download: u64,
    upload: u64,
    streams: u64,
}

/// Runs a transfer or the handshakes and prints the result line.
pub async fn run_client(args: ClientArgs) -> Result<(), String> {
    let trust = match (&args.ca, args.insecure) {
        (Some(ca), _) => Trust::from_pem_file(ca)?,
        (None, true) => Trust::AnyCertificate,
        (None, false) => return Err("no trust anchors: give --ca FILE, or --insecure".into()),
    };
    let config = tls::client_config(
        trust,
        &args.alpn,
        Arc::new(TransportConfig::default()),
        None,
    )?;
    let server = resolve(&args.connect).await?;
    let target = Target {
        transport: client_transport(server, &EndpointOptions::default()).await?,
        server,
        server_name: args.server_name.clone(),
        config: tls::without_resumption(config),
    };
    match args.handshakes {
        Some(count) => handshakes(&target, count, args.concurrency).await,
        None => {
            let (download, upload) = match (args.download, args.upload) {
                (None, None) => (DEFAULT_DOWNLOAD, 0),
                (download, upload) => (download.unwrap_or(0), upload.unwrap_or(0)),
            };
            let work = Work {
                download,
                upload,
                streams: args.streams,
            };
            transfer(&target, work, args.conns, args.stats).await
        }
    }
}

/// `conns` connections at once, each doing `work`.
async fn transfer(target: &Target, work: Work, conns: u64, stats: bool) -> Result<(), String> {
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(Kind::Transfer, counters.clone());
    // The clock covers handshakes and transfer, as echo's does.
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..conns {
        let (target, counters) = (target.clone(), counters.clone());
        tasks.spawn(async move {
            let done = run_connection(&target, work, &counters).await;
            done.map(|(conn, stats)| (index, conn, stats))
                .map_err(|e| format!("connection {index}: {e}"))
        });
    }
    let mut finished = Vec::new();
    while let Some(result) = tasks.join_next().await {
        finished.push(result.map_err(|e| format!("connection task: {e}"))??);
    }
    let secs = start.elapsed().as_secs_f64();
    progress.finish();

    let down = counters.downloaded.load(Ordering::Relaxed);
    let up = counters.uploaded.load(Ordering::Relaxed);
    println!(
        "perf download_bytes={down} upload_bytes={up} secs={secs:.3} mbit_per_s={:.1}",
        mbit_per_s(down + up, secs)
    );
    finished.sort_by_key(|(index, _, _)| *index);
    if stats {
        for (index, _, stats) in &finished {
            println!("{}", stats_line(*index, stats));
        }
    }
    for (_, conn, _) in finished {
        conn.close(DONE_CODE, DONE_REASON);
    }
    wait_drained(&target.transport).await;
    Ok(())
}

/// One connection's streams, all at once; returns the connection (still
/// open) and its counters right after the last stream ended.
async fn run_connection(
    target: &Target,
    work: Work,
    counters: &Arc<Counters>,
) -> Result<(Connection, ConnectionStats), String> {
    let conn = target.dial().await?;
    let mut streams = JoinSet::new();
    for index in 0..work.streams {
        let (send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| format!("opening stream {index}: {e}"))?;
        let download = share(work.download, work.streams, index);
        let upload = share(work.upload, work.streams, index);
        streams.spawn(run_stream(send, recv, download, upload, counters.clone()));
    }
    while let Some(result) = streams.join_next().await {
        result.map_err(|e| format!("stream task: {e}"))??;
    }
    let stats = conn.stats();
    Ok((conn, stats))
}

/// Stream `index`'s part of `total` split over `parts` streams: equal shares,
/// the first streams one byte more when it does not divide.
fn share(total: u64, parts: u64, index: u64) -> u64 {
    total / parts + u64::from(index < total % parts)
}

/// One perf request: the size wanted back, the upload and FIN, while reading
/// the response to its FIN; checks that exactly `download` bytes came back.
async fn run_stream(
    mut send: SendStream,
    recv: RecvStream,
    download: u64,
    upload: u64,
    counters: Arc<Counters>,
) -> Result<(), String> {
    let id = send.id();
    let request = async {
        let header = Bytes::copy_from_slice(&download.to_be_bytes());
        send.write_chunk(header)
            .await
            .map_err(|e| format!("writing the request: {e}"))?;
        send_zeros(&mut send, upload, Some(&counters.uploaded)).await?;
        send.finish().map_err(|e| format!("finishing: {e}"))
    };
    let response = drain(recv, Some(&counters.downloaded));
    let ((), received) =
        tokio::try_join!(request, response).map_err(|e| format!("stream {id}: {e}"))?;
    if received != download {
        return Err(format!(
            "stream {id}: {received} bytes came back, {download} asked for"
        ));
    }
    Ok(())
}

/// `count` handshakes, `concurrency` at a time, on one transport; each
/// connection is closed as soon as its handshake completes.
async fn handshakes(target: &Target, count: u64, concurrency: u64) -> Result<(), String> {
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(Kind::Handshakes(count), counters.clone());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.min(count) {
        let (target, counters, next) = (target.clone(), counters.clone(), next.clone());
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let conn = target.dial().await?;
                conn.close(DONE_CODE, DONE_REASON);
                counters.handshakes.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, String>(())
        });
    }
    while let Some(result) = workers.join_next().await {
        result.map_err(|e| format!("handshake task: {e}"))??;
    }
    let secs = start.elapsed().as_secs_f64();
    progress.finish();
    let per_s = if secs > 0.0 { count as f64 / secs } else { 0.0 };
    println!("handshakes count={count} secs={secs:.3} per_s={per_s:.1}");
    wait_drained(&target.transport).await;
    Ok(())
}

/// `stats conn=I key=value …`: the counters of connection `index`.
fn stats_line(index: u64, stats: &ConnectionStats) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    format!(
        "stats conn={index} rtt_ms={:.3} min_rtt_ms={:.3} cwnd={} bytes_sent={} \
         bytes_received={} datagrams_sent={} datagrams_received={} packets_sent={} \
         packets_received={} packets_lost={} bytes_lost={} packets_dropped={} pto_count={}",
        ms(stats.rtt),
        ms(stats.min_rtt),
        stats.cwnd,
        stats.bytes_sent,
        stats.bytes_received,
        stats.datagrams_sent,
        stats.datagrams_received,
        stats.packets_sent,
        stats.packets_received,
        stats.packets_lost,
        stats.bytes_lost,
        stats.packets_dropped,
        stats.pto_count,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for (total, parts) in [(0, 1), (10, 3), (10 << 20, 4), (7, 8), (1 << 30, 7)] {
            let shares: Vec<u64> = (0..parts).map(|i| share(total, parts, i)).collect();
            assert_eq!(shares.iter().sum::<u64>(), total, "{total} over {parts}");
            let (min, max) = (shares.iter().min(), shares.iter().max());
            assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 1));
        }
    }

    #[test]
    fn stats_line_is_key_value_pairs() {
        let stats = ConnectionStats {
            rtt: std::time::Duration::from_micros(1500),
            cwnd: 12000,
            ..ConnectionStats::default()
        };
        let line = stats_line(2, &stats);
        assert!(line.starts_with("stats conn=2 rtt_ms=1.500 "), "{line}");
        assert!(line.contains(" cwnd=12000 "), "{line}");
        assert!(line.split_whitespace().skip(1).all(|kv| kv.contains('=')));
    }
}
