//! `quinn-peer`: an echo server and client on quinn, the reference peer that kite's
//! interop tests run against. The protocol is quic-go's echo example: the client
//! opens K bidirectional streams, sends N bytes on each and finishes; the server
//! echoes every stream back and finishes it; the client checks every byte.

mod client;
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
}

// Single-threaded: the peers move a few MiB over loopback, and one thread keeps
// their timing free of scheduler noise on a shared 2-core machine.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::EchoServer(args) => server::run(args).await,
        Command::EchoClient(args) => client::run(args).await,
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
