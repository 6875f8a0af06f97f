//! `kite perf server`: accepts perf connections and serves every
//! bidirectional stream: reads the 8-byte request, then at once discards the
//! upload and sends the requested zeros, finishing the stream when both are
//! done, so the client's FIN-to-FIN exchange also proves its upload arrived.

use super::{PERF_ALPN, REQUEST_HEADER_LEN, WRITE_CHUNK, zeros};
use crate::echo::{is_normal_end, wait_drained};
use crate::endpoint::EndpointOptions;
use crate::tls::{self, Identity};
use kite::{Connection, RecvStream, SendStream, Transport, TransportConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::task::JoinSet;

/// Connections the server lets be in handshake or waiting to be accepted at
/// once. kite's default (32, quic-go's accept queue) refuses part of a
/// handshake benchmark's burst on a busy machine: a client at concurrency C
/// starts its next handshake as soon as it has the server's Finished, before
/// the server has read the client's, so the server holds more than C. quinn
/// takes 65536 by default; a perf server measures the stack, not the policy.
const MAX_INCOMING: usize = 4096;

/// Flags of `kite perf server`.
#[derive(clap::Args)]
pub struct ServerArgs {
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
    /// Exit after this many connections have ended, printing `done conns=M`.
    #[arg(long, value_name = "M")]
    max_conns: Option<u64>,
}

/// Serves perf clients until killed, or until `--max-conns` connections ended.
pub async fn run_server(args: ServerArgs) -> Result<(), String> {
    let identity = Identity::load(args.cert.as_deref(), args.key.as_deref())?;
    let config = tls::server_config(identity, &args.alpn, Arc::new(TransportConfig::default()))?;
    let (mut endpoint_config, _) = EndpointOptions::default().config()?;
    endpoint_config.max_incoming = MAX_INCOMING;
    // Never Retry, as quinn by default: kite's default (Retry once 16
    // handshakes are in progress) would add a round trip to part of a
    // handshake benchmark's connections at concurrency 16 or more.
    endpoint_config.verify_source_address = Some(Arc::new(|_| false));
    let socket = tokio::net::UdpSocket::bind(args.listen)
        .await
        .map_err(|e| format!("binding {}: {e}", args.listen))?;
    let transport = Transport::with_config(socket, endpoint_config);
    let listener = transport
        .listen(config)
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    // Harnesses read this line to learn the port: first, and flushed at once.
    println!("listening on {addr}");
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;

    let mut connections = JoinSet::new();
    let mut ended = 0u64;
    while args.max_conns.is_none_or(|max| ended < max) {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Some(conn) => {
                    connections.spawn(serve_connection(conn));
                }
                None => break,
            },
            Some(_) = connections.join_next() => ended += 1,
        }
    }
    // No new connections from here: they would be refused, not served.
    let transport = listener.transport().clone();
    drop(listener);
    wait_drained(&transport).await;
    println!("done conns={ended}");
    Ok(())
}

/// Serves every stream the client opens until the connection ends; reports
/// on stderr any stream that failed and any end other than a normal close.
async fn serve_connection(conn: Connection) {
    let remote = conn.remote_address();
    let mut streams = JoinSet::new();
    let end = loop {
        tokio::select! {
            accepted = conn.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    streams.spawn(serve_stream(send, recv));
                }
                Err(end) => break end,
            },
            // Reaped as they finish, so a long-lived connection with many
            // streams keeps no pile of finished tasks.
            Some(result) = streams.join_next() => report(remote, result),
        }
    };
    while let Some(result) = streams.join_next().await {
        report(remote, result);
    }
    if !is_normal_end(&end) {
        eprintln!("connection from {remote}: {end}");
    }
}

fn report(remote: SocketAddr, result: Result<Result<(), String>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("connection from {remote}: {e}"),
        Err(e) => eprintln!("connection from {remote}: stream task: {e}"),
    }
}

/// One perf request: the size header, then the upload drained and the
/// response sent side by side, then FIN.
async fn serve_stream(mut send: SendStream, mut recv: RecvStream) -> Result<(), String> {
    let id = send.id();
    let requested = read_request(&mut recv)
        .await
        .map_err(|e| format!("stream {id}: {e}"))?;
    tokio::try_join!(drain(recv, None), send_zeros(&mut send, requested, None))
        .map_err(|e| format!("stream {id}: {e}"))?;
    send.finish()
        .map_err(|e| format!("stream {id}: finishing: {e}"))
}

/// Reads the 8-byte big-endian count of bytes the client wants back.
async fn read_request(recv: &mut RecvStream) -> Result<u64, String> {
    let mut header = [0u8; REQUEST_HEADER_LEN];
    let mut filled = 0;
    while filled < REQUEST_HEADER_LEN {
        let chunk = recv
            .read_chunk(REQUEST_HEADER_LEN - filled)
            .await
            .map_err(|e| format!("reading the request: {e}"))?
            .ok_or_else(|| format!("stream ended after {filled} of 8 request bytes"))?;
        // read_chunk returns at most what was asked; min() keeps that local.
        let take = chunk.len().min(REQUEST_HEADER_LEN - filled);
        header[filled..filled + take].copy_from_slice(&chunk[..take]);
        filled += take;
    }
    Ok(u64::from_be_bytes(header))
}

/// Reads and drops everything up to the stream's FIN, adding each chunk's
/// length to `progress`; returns the byte count.
pub(super) async fn drain(
    mut recv: RecvStream,
    progress: Option<&AtomicU64>,
) -> Result<u64, String> {
    let mut received = 0u64;
    while let Some(chunk) = recv
        .read_chunk(usize::MAX)
        .await
        .map_err(|e| format!("reading: {e}"))?
    {
        received += chunk.len() as u64;
        if let Some(progress) = progress {
            progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    }
    Ok(received)
}

/// Writes `count` zero bytes, a static chunk at a time, without finishing,
/// adding each write to `progress`.
pub(super) async fn send_zeros(
    send: &mut SendStream,
    count: u64,
    progress: Option<&AtomicU64>,
) -> Result<(), String> {
    let mut sent = 0u64;
    while sent < count {
        let len = (count - sent).min(WRITE_CHUNK as u64) as usize;
        send.write_chunk(zeros(len))
            .await
            .map_err(|e| format!("writing: {e}"))?;
        sent += len as u64;
        if let Some(progress) = progress {
            progress.fetch_add(len as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}
