//! `quinn-peer perf-server`: serves every bidirectional stream of every
//! connection with the perf protocol, until killed or until `--max-conns`
//! connections have ended (then `done conns=M`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use quinn::{ConnectionError, Endpoint, Incoming, RecvStream, SendStream};
use tokio::task::JoinSet;

use super::{PERF_ALPN, drain, send_zeros};

/// Flags of `quinn-peer perf-server`.
#[derive(clap::Args)]
pub struct Args {
    /// UDP address to bind; port 0 picks a free one (printed on the first line).
    #[arg(long)]
    listen: SocketAddr,
    /// ALPN protocol to accept.
    #[arg(long, default_value = PERF_ALPN)]
    alpn: String,
    /// PEM certificate chain; a self-signed `localhost` one is made when absent.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for `--cert`.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Exit after this many connections have ended.
    #[arg(long)]
    max_conns: Option<u64>,
}

/// Serves until killed or until `--max-conns` connections have ended.
pub async fn run(args: Args) -> Result<()> {
    let crypto =
        crate::tls::server_config(args.cert.as_deref(), args.key.as_deref(), &args.alpn, false)?;
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let endpoint = Endpoint::server(config, args.listen).context("binding the UDP socket")?;
    println!("listening on {}", endpoint.local_addr()?);
    std::io::stdout().flush()?;

    let mut connections = JoinSet::new();
    let mut ended = 0u64;
    while args.max_conns.is_none_or(|max| ended < max) {
        tokio::select! {
            Some(incoming) = endpoint.accept() => {
                connections.spawn(handle_connection(incoming));
            }
            Some(_) = connections.join_next() => ended += 1,
            else => break,
        }
    }
    endpoint.close(0u32.into(), b"server done");
    endpoint.wait_idle().await;
    println!("done conns={ended}");
    Ok(())
}

async fn handle_connection(incoming: Incoming) {
    let remote = incoming.remote_address();
    if let Err(e) = serve_connection(incoming).await {
        eprintln!("connection from {remote}: {e:#}");
    }
}

async fn serve_connection(incoming: Incoming) -> Result<()> {
    let conn = incoming
        .accept()
        .context("handshake")?
        .await
        .context("handshake")?;
    let mut streams = JoinSet::new();
    let result = loop {
        tokio::select! {
            accepted = conn.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    streams.spawn(serve_stream(send, recv));
                }
                Err(ConnectionError::ApplicationClosed(_)) => break Ok(()),
                Err(e) => break Err(e.into()),
            },
            Some(stream) = streams.join_next() => {
                if let Ok(Err(e)) = stream {
                    eprintln!("stream of {}: {e:#}", conn.remote_address());
                }
            }
        }
    };
    while let Some(stream) = streams.join_next().await {
        if let Ok(Err(e)) = stream {
            eprintln!("stream of {}: {e:#}", conn.remote_address());
        }
    }
    result
}

/// The request header, then the upload drained while the response is sent,
/// then FIN.
async fn serve_stream(mut send: SendStream, mut recv: RecvStream) -> Result<()> {
    let mut header = [0u8; 8];
    recv.read_exact(&mut header)
        .await
        .context("reading the request")?;
    let requested = u64::from_be_bytes(header);
    tokio::try_join!(drain(recv, None), send_zeros(&mut send, requested, None))?;
    send.finish()?;
    Ok(())
}
