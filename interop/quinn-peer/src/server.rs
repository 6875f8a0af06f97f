//! The echo server: accepts connections (optionally forcing a Retry first, or
//! taking 0-RTT data from resuming clients with `--zero-rtt`), echoes
//! every bidirectional stream back and finishes it, and serves until killed or
//! until `--max-conns` connections have ended.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use quinn::{Connection, ConnectionError, Endpoint, Incoming, RecvStream, SendStream};
use tokio::task::JoinSet;

use crate::DEFAULT_ALPN;

/// Flags of `quinn-peer echo-server`.
#[derive(clap::Args)]
pub struct Args {
    /// UDP address to bind; port 0 picks a free one (printed on the first line).
    #[arg(long)]
    listen: SocketAddr,
    /// ALPN protocol to accept.
    #[arg(long, default_value = DEFAULT_ALPN)]
    alpn: String,
    /// PEM certificate chain; a self-signed `localhost` one is made when absent.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for `--cert`.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Answer every new connection with a Retry (RFC 9000 §8.1.2) before accepting it.
    #[arg(long)]
    retry: bool,
    /// Accept 0-RTT data from resuming clients (session tickets allow early data).
    #[arg(long)]
    zero_rtt: bool,
    /// Exit after this many connections have ended.
    #[arg(long)]
    max_conns: Option<u64>,
}

/// Runs the server until killed, or until `--max-conns` connections have ended;
/// then prints `done conns=M retries=R` (R: Retry packets sent, which equals the
/// connections that came through a Retry when every client answers its Retry).
pub async fn run(args: Args) -> Result<()> {
    let crypto = crate::tls::server_config(
        args.cert.as_deref(),
        args.key.as_deref(),
        &args.alpn,
        args.zero_rtt,
    )?;
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let endpoint = Endpoint::server(config, args.listen).context("binding the UDP socket")?;

    // The harness reads this line to learn the port, so it must be first and flushed.
    println!("listening on {}", endpoint.local_addr()?);
    std::io::stdout().flush()?;

    let mut connections = JoinSet::new();
    let mut ended = 0u64;
    let mut retries = 0u64;
    loop {
        tokio::select! {
            Some(incoming) = endpoint.accept() => {
                if args.retry && !incoming.remote_address_validated() {
                    // quinn guarantees an unvalidated address may be retried; should
                    // that ever fail, serve the client rather than drop it.
                    match incoming.retry() {
                        Ok(()) => retries += 1,
                        Err(e) => {
                            connections.spawn(handle_connection(e.into_incoming(), args.zero_rtt));
                        }
                    }
                } else {
                    connections.spawn(handle_connection(incoming, args.zero_rtt));
                }
            }
            Some(_) = connections.join_next() => {
                ended += 1;
                if args.max_conns.is_some_and(|max| ended >= max) {
                    break;
                }
            }
            else => break,
        }
    }
    endpoint.close(0u32.into(), b"server done");
    endpoint.wait_idle().await;
    // Lets tests check that `--retry` really sent Retry packets.
    println!("done conns={ended} retries={retries}");
    Ok(())
}

/// Echoes every stream of one connection; logs how it ended unless the client
/// closed it, which is the normal end.
async fn handle_connection(incoming: Incoming, zero_rtt: bool) {
    let remote = incoming.remote_address();
    if let Err(e) = serve_connection(incoming, zero_rtt).await {
        eprintln!("connection from {remote}: {e:#}");
    }
}

async fn serve_connection(incoming: Incoming, zero_rtt: bool) -> Result<()> {
    let connecting = incoming.accept().context("handshake")?;
    let conn: Connection = if zero_rtt {
        // On a server this always succeeds (0.5-RTT): streams the client
        // opened in 0-RTT are accepted before the handshake completes.
        match connecting.into_0rtt() {
            Ok((conn, _)) => conn,
            Err(connecting) => connecting.await.context("handshake")?,
        }
    } else {
        connecting.await.context("handshake")?
    };
    let mut streams = JoinSet::new();
    let result = loop {
        match conn.accept_bi().await {
            Ok((send, recv)) => {
                streams.spawn(echo_stream(send, recv));
            }
            Err(ConnectionError::ApplicationClosed(_)) => break Ok(()),
            Err(e) => break Err(e.into()),
        }
    };
    // Streams still echoing when the connection went away report it themselves.
    while let Some(stream) = streams.join_next().await {
        if let Ok(Err(e)) = stream {
            eprintln!("stream of {}: {e:#}", conn.remote_address());
        }
    }
    result
}

/// Sends back every chunk as it arrives, then finishes once the peer has.
async fn echo_stream(mut send: SendStream, mut recv: RecvStream) -> Result<()> {
    while let Some(chunk) = recv.read_chunk(usize::MAX, true).await? {
        send.write_chunk(chunk.bytes).await?;
    }
    send.finish()?;
    Ok(())
}
