//! The `kite` command line. Today it has `inspect`, a datagram decoder; the
//! `demo`, `echo` and `perf` commands of DESIGN.md arrive with connections.

mod inspect;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kite: a QUIC implementation in Rust.
#[derive(Parser)]
#[command(name = "kite", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { hex, cid_len } => inspect::run(&hex, cid_len),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("kite: {err}");
            ExitCode::FAILURE
        }
    }
}
