//! `kite demo`: quic-go's echo example in one process. An echo server on
//! 127.0.0.1 and a client that sends "foobar" and then a larger patterned
//! payload, reads both echoes back, checks them and closes, printing each
//! step on the way. With `--qlog-dir` (or `QLOGDIR`) both ends write a qlog
//! file of their connection.

use crate::echo;
use crate::endpoint::EndpointOptions;
use crate::tls::{self, DEFAULT_ALPN, Identity, SELF_SIGNED_NAME, Trust};
use kite::{ClientConfig, Listener, TransportConfig};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The message of quic-go's echo example.
const MESSAGE: &[u8] = b"foobar";

/// The larger payload: enough to need many packets and flow-control updates,
/// small enough that the demo stays well under a second.
const BULK_SIZE: u64 = 1 << 20;

/// The whole demo must end by then; a hang becomes an error, not a stuck shell.
const DEMO_LIMIT: Duration = Duration::from_secs(10);

/// Flags of `kite demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Write a qlog file per connection end into this directory (default:
    /// `$QLOGDIR`, if set).
    #[arg(long, value_name = "DIR")]
    qlog_dir: Option<PathBuf>,
}

/// Runs the demo, printing each step; fails on any mismatch or error.
pub async fn run(args: DemoArgs) -> Result<(), String> {
    let options = EndpointOptions {
        retry: false,
        qlog_dir: args.qlog_dir,
    };
    tokio::time::timeout(DEMO_LIMIT, demo(options))
        .await
        .map_err(|_| format!("demo did not finish within {DEMO_LIMIT:?}"))?
}

async fn demo(options: EndpointOptions) -> Result<(), String> {
    let start = Instant::now();
    let identity = Identity::self_signed()?;
    let trust = Trust::Roots(identity.chain.clone());
    let transport = Arc::new(TransportConfig::default());
    let server_config = tls::server_config(identity, DEFAULT_ALPN, transport.clone())?;
    let client_config = tls::client_config(trust, DEFAULT_ALPN, transport, None)?;

    let (server_transport, _) = options.bind((Ipv4Addr::LOCALHOST, 0).into()).await?;
    let listener = server_transport
        .listen(server_config)
        .map_err(|e| format!("listening: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    println!(
        "server: listening on {addr} (self-signed certificate for {SELF_SIGNED_NAME}, ALPN {DEFAULT_ALPN})"
    );
    if let Some(dir) = options.qlog_dir() {
        println!("qlog: one file per connection end in {}", dir.display());
    }
    let server = tokio::spawn(serve_one(listener));

    let client_result = client(addr, client_config, &options).await;
    let server_result = server
        .await
        .map_err(|e| format!("server task: {e}"))
        .and_then(|r| r);
    client_result?;
    server_result?;
    println!(
        "demo ok: {} bytes echoed in {:.1} ms",
        MESSAGE.len() as u64 + BULK_SIZE,
        millis(start.elapsed())
    );
    Ok(())
}

/// The client's side: connect, echo the message, echo the bulk payload, close.
async fn client(
    addr: SocketAddr,
    config: ClientConfig,
    options: &EndpointOptions,
) -> Result<(), String> {
    println!("client: connecting to {addr} as {SELF_SIGNED_NAME}");
    let transport = echo::client_transport(addr, options).await?;
    let start = Instant::now();
    let conn = transport
        .dial(addr, SELF_SIGNED_NAME, config)
        .await
        .map_err(|e| format!("client: handshake: {e}"))?;
    let alpn = conn.alpn_protocol().unwrap_or_default();
    println!(
        "client: handshake done in {:.1} ms, rtt {:.3} ms, ALPN {}",
        millis(start.elapsed()),
        millis(conn.stats().rtt),
        String::from_utf8_lossy(&alpn)
    );

    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| format!("client: opening a stream: {e}"))?;
    let id = send.id();
    send.write_all(MESSAGE)
        .await
        .map_err(|e| format!("client: stream {id}: writing: {e}"))?;
    send.finish()
        .map_err(|e| format!("client: stream {id}: finishing: {e}"))?;
    println!(
        "client: stream {id}: sent {} bytes {:?}",
        MESSAGE.len(),
        String::from_utf8_lossy(MESSAGE)
    );
    let echoed = recv
        .read_to_end(MESSAGE.len())
        .await
        .map_err(|e| format!("client: stream {id}: reading: {e}"))?;
    if echoed != MESSAGE {
        return Err(format!("client: stream {id}: got {echoed:?} back"));
    }
    println!(
        "client: stream {id}: got {:?} back",
        String::from_utf8_lossy(&echoed)
    );

    let bulk_start = Instant::now();
    let (send, recv) = conn
        .open_bi()
        .await
        .map_err(|e| format!("client: opening a stream: {e}"))?;
    let id = send.id();
    // Pattern 1: this is the client's second stream.
    echo::echo_stream(send, recv, 1, BULK_SIZE)
        .await
        .map_err(|e| format!("client: {e}"))?;
    println!(
        "client: stream {id}: sent {BULK_SIZE} patterned bytes, echo checked in {:.1} ms",
        millis(bulk_start.elapsed())
    );

    let stats = conn.stats();
    println!(
        "client: closing (code 0 \"done\"): {} packets sent, {} received, {} lost",
        stats.packets_sent, stats.packets_received, stats.packets_lost
    );
    let close_start = Instant::now();
    if echo::close_and_drain(&transport, conn).await {
        // Closing lasts three PTOs (RFC 9000 §10.2), most of the demo's time.
        println!(
            "client: connection drained in {:.1} ms",
            millis(close_start.elapsed())
        );
    } else {
        println!("client: connection still draining, going on");
    }
    Ok(())
}

/// The server's side: accept one connection, echo its streams until the
/// client closes it.
async fn serve_one(listener: Listener) -> Result<(), String> {
    let conn = listener
        .accept()
        .await
        .ok_or("server: listener closed before a connection arrived")?;
    let remote = conn.remote_address();
    println!("server: accepted a connection from {remote}");
    let mut streams = JoinSet::new();
    let end = loop {
        match conn.accept_bi().await {
            Ok((send, mut recv)) => {
                let id = send.id();
                streams.spawn(async move {
                    let echoed = echo::echo_back(send, &mut recv).await?;
                    println!("server: stream {id}: echoed {echoed} bytes");
                    Ok::<_, String>(())
                });
            }
            Err(end) => break end,
        }
    };
    while let Some(result) = streams.join_next().await {
        result
            .map_err(|e| format!("server: stream task: {e}"))?
            .map_err(|e| format!("server: {e}"))?;
    }
    if !echo::is_normal_end(&end) {
        return Err(format!("server: connection from {remote} ended: {end}"));
    }
    println!("server: connection from {remote} closed by the client ({end})");
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
