//! The `kite` command line (DESIGN.md, "kite-cli"): `demo` runs quic-go's echo
//! example in one process, `echo server`/`echo client` speak it with other
//! stacks, `perf server`/`perf client` measure throughput and handshake rate
//! (draft-banks-quic-performance), and `inspect` decodes a datagram. Each
//! command prints its result on stdout; a failure is one `kite: ...` line on
//! stderr and a non-zero exit.

mod demo;
mod echo;
mod echo_many;
mod endpoint;
mod inspect;
mod perf;
mod server_stats;
mod tickets;
mod tls;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// kite: a QUIC implementation in Rust.
#[derive(Parser)]
#[command(name = "kite", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an echo server and client in one process over loopback (quic-go's
    /// echo example) and print each step.
    Demo(demo::DemoArgs),
    /// Echo server and client of quic-go's echo example (ALPN quic-echo-example).
    Echo {
        #[command(subcommand)]
        role: EchoRole,
    },
    /// Perf server and client of draft-banks-quic-performance (ALPN perf):
    /// throughput and handshake rate against kite or other stacks.
    Perf {
        #[command(subcommand)]
        role: PerfRole,
    },
    /// Decode a UDP datagram given in hex: the headers of its coalesced
    /// packets, and the frames of client Initial packets (whose keys derive
    /// from the packet itself, RFC 9001 §5.2).
    Inspect {
        /// The datagram as hex digits (whitespace ignored).
        hex: String,
        /// Length of the local connection ID, to parse short headers.
        #[arg(long, default_value_t = 8)]
        cid_len: usize,
    },
}

#[derive(Subcommand)]
enum EchoRole {
    /// Echo every bidirectional stream of every connection back to its sender.
    Server(echo::ServerArgs),
    /// Send patterned bytes on K streams and check that they come back unchanged.
    Client(echo::ClientArgs),
}

#[derive(Subcommand)]
enum PerfRole {
    /// Serve perf requests: discard each stream's upload, send the bytes it asks for.
    Server(perf::server::ServerArgs),
    /// Measure a download/upload or a handshake rate against a perf server.
    Client(perf::client::ClientArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Inspect { hex, cid_len } => inspect::run(&hex, cid_len).map(|report| {
            print!("{report}");
        }),
        Command::Demo(args) => block_on(demo::run(args)),
        Command::Echo {
            role: EchoRole::Server(args),
        } => block_on(echo::run_server(args)),
        Command::Echo {
            role: EchoRole::Client(args),
        } => block_on(echo::run_client(args)),
        Command::Perf {
            role: PerfRole::Server(args),
        } => block_on(perf::server::run_server(args)),
        Command::Perf {
            role: PerfRole::Client(args),
        } => block_on(perf::client::run_client(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kite: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints kite's `tracing` events on stderr: warnings (e.g. socket buffers
/// the OS capped, UDP offloads missing) unless `RUST_LOG` selects more, as
/// comma-separated `level` or `target=level` items (`RUST_LOG=kite=debug`).
fn init_logging() {
    let from_env = std::env::var("RUST_LOG").ok().and_then(|spec| {
        spec.parse::<Targets>()
            .map_err(|e| eprintln!("kite: RUST_LOG={spec:?} ignored: {e}"))
            .ok()
    });
    let filter = from_env.unwrap_or_else(|| Targets::new().with_default(LevelFilter::WARN));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(filter)
        .init();
}

/// Runs a command on a multi-threaded tokio runtime: kite's driver and
/// connection tasks, and the streams' tasks, then run in parallel. The
/// command itself runs as a task too, on the worker threads: left on the
/// main thread (`block_on`'s own future), every wake from a connection task
/// (an accepted connection, a finished task) would be a cross-thread futex
/// wake-up and context switch, about a tenth of a handshake server's CPU.
fn block_on(
    command: impl Future<Output = Result<(), String>> + Send + 'static,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the tokio runtime: {e}"))?;
    runtime
        .block_on(runtime.spawn(command))
        .map_err(|e| format!("command task: {e}"))?
}
