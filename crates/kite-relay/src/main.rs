//! `kite-relay`: forwards UDP between a loopback port and a loopback server,
//! impairing each direction as its flags say (most apply to both
//! directions, a silence to one). Prints `relaying LISTEN -> UPSTREAM
//! seed=N` once bound, and on exit (a bound reached) one line per
//! direction, after a silence the counters as they stood when it ended,
//! and `done reason=R clients=C`. A failure
//! is one `kite-relay: ...` line on stderr and a non-zero exit.

use clap::Parser;
use kite_relay::{Blackhole, Impairments, Relay, RelayConfig, Silence, parse_probability};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Forward UDP between two loopback ports, impairing both directions.
#[derive(Parser)]
#[command(name = "kite-relay", version, about)]
struct Args {
    /// Loopback address clients send to; port 0 picks a free one.
    #[arg(long)]
    listen: SocketAddr,
    /// Loopback address of the server.
    #[arg(long)]
    upstream: SocketAddr,
    /// Chance a datagram is dropped (0.3 or 30%).
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    loss: f64,
    /// Chance one random byte of a datagram is flipped.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    corrupt: f64,
    /// Chance a datagram is held back by --reorder-delay, so later ones overtake it.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    reorder: f64,
    /// Extra delay of a reordered datagram, in milliseconds.
    #[arg(long, default_value_t = 10, value_name = "MS")]
    reorder_delay: u64,
    /// Chance a datagram is sent twice.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    duplicate: f64,
    /// One-way delay of each direction, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    delay: u64,
    /// Link rate of each direction in bytes per second (unlimited when absent).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    rate: Option<u64>,
    /// Bytes a rate-limited link may hold waiting before it drops.
    #[arg(long, default_value_t = kite_relay::impair::DEFAULT_QUEUE_LIMIT, value_name = "BYTES")]
    queue: u64,
    /// Outages: the last OUTAGE_MS of every PERIOD_MS drop everything.
    #[arg(long, value_name = "PERIOD_MS:OUTAGE_MS")]
    blackhole: Option<Blackhole>,
    /// Client to server only: the first AFTER datagrams pass, then those
    /// arriving within LENGTH_MS of the last of them drop.
    #[arg(long, value_name = "AFTER:LENGTH_MS")]
    to_server_silence: Option<Silence>,
    /// Server to client only: as --to-server-silence.
    #[arg(long, value_name = "AFTER:LENGTH_MS")]
    to_client_silence: Option<Silence>,
    /// Seed of the impairment decisions (random when absent; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Exit after this many datagrams arrived, both directions together.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    max_datagrams: u64,
    /// Exit after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "S")]
    max_secs: u64,
    /// Write one line per datagram on stderr: time, direction, client,
    /// length, and what was done to it.
    #[arg(long)]
    trace: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kite-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let seed = args.seed.unwrap_or_else(clock_seed);
    let both = Impairments {
        loss: args.loss,
        corrupt: args.corrupt,
        reorder: args.reorder,
        reorder_delay: Duration::from_millis(args.reorder_delay),
        duplicate: args.duplicate,
        delay: Duration::from_millis(args.delay),
        rate: args.rate,
        queue_limit: args.queue,
        blackhole: args.blackhole,
        silence: None,
    };
    let config = RelayConfig {
        listen: args.listen,
        upstream: args.upstream,
        to_server: Impairments {
            silence: args.to_server_silence,
            ..both.clone()
        },
        to_client: Impairments {
            silence: args.to_client_silence,
            ..both
        },
        seed,
        max_datagrams: args.max_datagrams,
        max_duration: Duration::from_secs(args.max_secs),
        trace: args.trace,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the tokio runtime: {e}"))?;
    runtime.block_on(async {
        let relay = Relay::bind(config).await.map_err(|e| e.to_string())?;
        // Harnesses read this line to learn the port: first, and flushed at once.
        println!(
            "relaying {} -> {} seed={seed}",
            relay.local_addr(),
            args.upstream
        );
        std::io::stdout()
            .flush()
            .map_err(|e| format!("stdout: {e}"))?;
        let report = relay
            .run(std::future::pending())
            .await
            .map_err(|e| e.to_string())?;
        println!("{report}");
        Ok(())
    })
}

/// A seed from the clock, for runs that give none.
fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
