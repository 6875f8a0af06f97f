//! `quinn-peer`: an echo server and client on quinn, the reference peer that kite's
//! interop tests run against. The protocol is quic-go's echo example: the client
//! opens K bidirectional streams, sends N bytes on each and finishes; the server
//! echoes every stream back and finishes it; the client checks every byte.
//! `perf-server`/`perf-client` speak draft-banks-quic-performance with the
//! flags and result lines of `kite perf`, for `bench/compare.sh`.

mod client;
mod perf;
mod server;
mod tickets;
mod tls;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ALPN of quic-go's echo example, which every echo peer speaks.
const DEFAULT_ALPN: &str = "quic-echo-example";

#[derive(Parser)]
#[command(about = "Echo server and client on quinn, for kite's interop tests")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Echo every bidirectional stream back to its sender.
    EchoServer(server::Args),
    /// Send streams of patterned bytes and check that they come back unchanged.
    EchoClient(client::Args),
    /// Serve the perf protocol (ALPN perf): discard uploads, send what is asked.
    PerfServer(perf::server::Args),
    /// Measure a transfer or a handshake rate against a perf server.
    PerfClient(perf::client::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::EchoServer(args) => current_thread().and_then(|rt| rt.block_on(server::run(args))),
        Command::EchoClient(args) => current_thread().and_then(|rt| rt.block_on(client::run(args))),
        Command::PerfServer(args) => {
            multi_thread().and_then(|rt| rt.block_on(perf::server::run(args)))
        }
        Command::PerfClient(args) => {
            multi_thread().and_then(|rt| rt.block_on(perf::client::run(args)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` keeps anyhow's cause chain on one line, as the harness expects.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// Echo runs single-threaded: the peers move a few MiB over loopback, and one
// thread keeps their timing free of scheduler noise on a shared 2-core machine.
fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

// Perf runs on a multi-threaded runtime, as `kite perf` does, so the two
// stacks are compared on the same footing: quinn's endpoint and connection
// drivers then run in parallel, as kite's driver and connection tasks do.
fn multi_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
