//! `quinn-peer perf-client`: the flags and result lines of `kite perf
//! client`. A transfer (`--download`/`--upload` per connection, split over
//! `--streams`, on `--conns` connections at once) prints `perf
//! download_bytes=… upload_bytes=… secs=… mbit_per_s=…` and with `--stats`
//! a `stats conn=I …` line per connection; `--handshakes N --concurrency C`
//! prints `handshakes count=N secs=S per_s=R`. Resumption and address
//! tokens are off, so every handshake is a full one. No progress line.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use quinn::{Connection, ConnectionStats, Endpoint, NoneTokenStore};
use tokio::task::JoinSet;

use super::{PERF_ALPN, drain, mbit_per_s, parse_size, send_zeros};

/// What a transfer downloads when neither `--download` nor `--upload` is given.
const DEFAULT_DOWNLOAD: u64 = 100 << 20;

/// How long the client waits for its closed connections to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Flags of `quinn-peer perf-client`.
#[derive(clap::Args)]
pub struct Args {
    /// Server address, `host:port`.
    #[arg(long)]
    connect: String,
    /// Name sent as SNI and checked against the server's certificate.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// ALPN protocol to offer.
    #[arg(long, default_value = PERF_ALPN)]
    alpn: String,
    /// Bytes each connection downloads (K, M, G, T: powers of 1024). Without
    /// --download and --upload: 100M.
    #[arg(long, value_parser = parse_size)]
    download: Option<u64>,
    /// Bytes each connection uploads.
    #[arg(long, value_parser = parse_size)]
    upload: Option<u64>,
    /// Streams per connection, each with an equal share of the work.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    streams: u64,
    /// Connections at once, each doing the whole work.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    conns: u64,
    /// Instead of a transfer: N full handshakes, each connection closed when done.
    #[arg(long, conflicts_with_all = ["download", "upload", "streams", "conns", "stats"])]
    handshakes: Option<u64>,
    /// Handshakes in progress at once.
    #[arg(long, default_value_t = 1, requires = "handshakes",
          value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// PEM file of certificates to trust as roots.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Accept any server certificate (the handshake signature is still checked).
    #[arg(long)]
    insecure: bool,
    /// Print each connection's counters after the result line.
    #[arg(long)]
    stats: bool,
}

/// Runs the transfer or the handshakes and prints the result line.
pub async fn run(args: Args) -> Result<()> {
    let server = args
        .connect
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", args.connect))?
        .next()
        .with_context(|| format!("no address for {}", args.connect))?;
    let mut tls =
        crate::tls::rustls_client_config(args.ca.as_deref(), args.insecure, &args.alpn, None)?;
    // rustls resumes by default; a perf client measures full handshakes.
    tls.resumption = quinn::rustls::client::Resumption::disabled();
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.token_store(Arc::new(NoneTokenStore));
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let mut endpoint = Endpoint::client(bind).context("binding the UDP socket")?;
    endpoint.set_default_client_config(config);
    let target = Target {
        endpoint: endpoint.clone(),
        server,
        server_name: args.server_name.clone(),
    };
    match args.handshakes {
        Some(count) => handshakes(&target, count, args.concurrency).await?,
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
            transfer(&target, work, args.conns, args.stats).await?;
        }
    }
    // Lets the CONNECTION_CLOSEs leave before the process does.
    let _ = tokio::time::timeout(DRAIN_LIMIT, endpoint.wait_idle()).await;
    Ok(())
}

#[derive(Clone)]
struct Target {
    endpoint: Endpoint,
    server: SocketAddr,
    server_name: String,
}

impl Target {
    async fn dial(&self) -> Result<Connection> {
        let connecting = self.endpoint.connect(self.server, &self.server_name)?;
        connecting
            .await
            .with_context(|| format!("connecting to {}", self.server))
    }
}

#[derive(Clone, Copy)]
struct Work {
    download: u64,
    upload: u64,
    streams: u64,
}

#[derive(Default)]
struct Counters {
    downloaded: AtomicU64,
    uploaded: AtomicU64,
}

async fn transfer(target: &Target, work: Work, conns: u64, stats: bool) -> Result<()> {
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..conns {
        let (target, counters) = (target.clone(), counters.clone());
        tasks.spawn(async move {
            let (conn, stats) = run_connection(&target, work, &counters)
                .await
                .with_context(|| format!("connection {index}"))?;
            Ok::<_, anyhow::Error>((index, conn, stats))
        });
    }
    let mut finished = Vec::new();
    while let Some(result) = tasks.join_next().await {
        finished.push(result.context("connection task")??);
    }
    let secs = start.elapsed().as_secs_f64();
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
        conn.close(0u32.into(), b"done");
    }
    Ok(())
}

async fn run_connection(
    target: &Target,
    work: Work,
    counters: &Arc<Counters>,
) -> Result<(Connection, ConnectionStats)> {
    let conn = target.dial().await?;
    let mut streams = JoinSet::new();
    for index in 0..work.streams {
        let (send, recv) = conn
            .open_bi()
            .await
            .with_context(|| format!("opening stream {index}"))?;
        let download = share(work.download, work.streams, index);
        let upload = share(work.upload, work.streams, index);
        let counters = counters.clone();
        streams.spawn(async move {
            run_stream(send, recv, download, upload, &counters)
                .await
                .with_context(|| format!("stream {index}"))
        });
    }
    while let Some(result) = streams.join_next().await {
        result.context("stream task")??;
    }
    let stats = conn.stats();
    Ok((conn, stats))
}

/// Stream `index`'s part of `total` over `parts` streams.
fn share(total: u64, parts: u64, index: u64) -> u64 {
    total / parts + u64::from(index < total % parts)
}

async fn run_stream(
    mut send: quinn::SendStream,
    recv: quinn::RecvStream,
    download: u64,
    upload: u64,
    counters: &Counters,
) -> Result<()> {
    let request = async {
        send.write_chunk(Bytes::copy_from_slice(&download.to_be_bytes()))
            .await
            .context("writing the request")?;
        send_zeros(&mut send, upload, Some(&counters.uploaded)).await?;
        send.finish()?;
        Ok(())
    };
    let ((), received) = tokio::try_join!(request, drain(recv, Some(&counters.downloaded)))?;
    ensure!(
        received == download,
        "{received} bytes came back, {download} asked for"
    );
    Ok(())
}

async fn handshakes(target: &Target, count: u64, concurrency: u64) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.min(count) {
        let (target, next) = (target.clone(), next.clone());
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let conn = target.dial().await?;
                conn.close(0u32.into(), b"done");
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(result) = workers.join_next().await {
        result.context("handshake task")??;
    }
    let secs = start.elapsed().as_secs_f64();
    let per_s = if secs > 0.0 { count as f64 / secs } else { 0.0 };
    println!("handshakes count={count} secs={secs:.3} per_s={per_s:.1}");
    Ok(())
}

/// `stats conn=I key=value …` with what quinn counts that kite counts too.
fn stats_line(index: u64, stats: &ConnectionStats) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "stats conn={index} rtt_ms={:.3} min_rtt_ms={:.3} cwnd={} bytes_sent={} \
         bytes_received={} datagrams_sent={} datagrams_received={} packets_sent={} \
         packets_lost={} bytes_lost={} congestion_events={} mtu={}",
        ms(stats.path.rtt),
        ms(stats.path.min_rtt),
        stats.path.cwnd,
        stats.udp_tx.bytes,
        stats.udp_rx.bytes,
        stats.udp_tx.datagrams,
        stats.udp_rx.datagrams,
        stats.path.sent_packets,
        stats.path.lost_packets,
        stats.path.lost_bytes,
        stats.path.congestion_events,
        stats.path.current_mtu,
    )
}
