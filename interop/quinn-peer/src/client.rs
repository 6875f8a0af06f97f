//! The echo client: opens `--streams` bidirectional streams, sends `--size` patterned
//! bytes on each while reading the echo back, checks every byte, and prints
//! `echo ok streams=K bytes=N secs=S` (N summed over all streams). With
//! `--resume` a first connection fetches a session ticket, the echo runs on a
//! second one that sends its streams as 0-RTT data, and the line ends with
//! `zero_rtt_accepted=true|false`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use quinn::{Connection, Endpoint, RecvStream, SendStream};
use tokio::task::JoinSet;

use crate::DEFAULT_ALPN;
use crate::tickets::TicketWatch;

/// Bytes handed to quinn per write; large enough to keep the pipe full.
const WRITE_CHUNK: usize = 64 * 1024;

/// How long `--resume` waits for a session ticket on its first connection.
const TICKET_WAIT: Duration = Duration::from_secs(2);

/// How long the client waits after closing for its connection to drain, as
/// kite's echo client does. quinn's closing period is three PTOs, which a
/// lossy handshake can stretch to tens of seconds (an RTT sample taken from
/// a retransmission); the echo is checked by then, and the CONNECTION_CLOSE
/// sent.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Flags of `quinn-peer echo-client`.
#[derive(clap::Args)]
pub struct Args {
    /// Server address, `host:port`.
    #[arg(long)]
    connect: String,
    /// Name sent as SNI and checked against the server's certificate.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// ALPN protocol to offer.
    #[arg(long, default_value = DEFAULT_ALPN)]
    alpn: String,
    /// Number of bidirectional streams, all run at once.
    #[arg(long, default_value_t = 1)]
    streams: u64,
    /// Bytes sent (and expected back) on each stream.
    #[arg(long, default_value_t = 1024)]
    size: u64,
    /// PEM file of certificates to trust as roots.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Accept any server certificate (the handshake signature is still checked).
    #[arg(long)]
    insecure: bool,
    /// Connect once for a session ticket, then resume and send the streams as
    /// 0-RTT data; the result line tells whether the server accepted it.
    #[arg(long)]
    resume: bool,
}

/// Byte `i` of stream `stream`, where `stream` counts the client's streams from 0
/// in opening order. 251 is prime, so the pattern does not line up with any
/// power-of-two chunking and a misplaced chunk shows up as a mismatch.
pub fn pattern_byte(stream: u64, i: u64) -> u8 {
    ((i.wrapping_mul(31).wrapping_add(stream)) % 251) as u8
}

/// Runs one echo exchange and prints the result line.
pub async fn run(args: Args) -> Result<()> {
    let server = resolve(&args.connect)?;
    let tickets = args.resume.then(|| Arc::new(TicketWatch::new()));
    let crypto = crate::tls::client_config(
        args.ca.as_deref(),
        args.insecure,
        &args.alpn,
        tickets.clone(),
    )?;
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let mut endpoint = Endpoint::client(bind).context("binding the UDP socket")?;
    // One crypto config for both connections: its session store holds the ticket.
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));

    if let Some(tickets) = &tickets {
        let first = endpoint
            .connect(server, &args.server_name)?
            .await
            .context("handshake for a session ticket")?;
        if !tickets.wait_for_ticket(TICKET_WAIT).await {
            eprintln!("no session ticket within {TICKET_WAIT:?}; not resuming");
        }
        first.close(0u32.into(), b"done");
    }

    // The clock covers the handshake and the transfer: what a user of echo waits for.
    let start = Instant::now();
    let connecting = endpoint.connect(server, &args.server_name)?;
    let (conn, zero_rtt) = if args.resume {
        match connecting.into_0rtt() {
            Ok((conn, accepted)) => {
                let early = echo_all(&conn, args.streams, args.size).await;
                let accepted = accepted.await;
                if accepted {
                    early?;
                } else {
                    // quinn fails the streams of rejected 0-RTT; run them again.
                    echo_all(&conn, args.streams, args.size).await?;
                }
                (conn, Some(accepted))
            }
            Err(connecting) => {
                let conn = connecting.await.context("handshake")?;
                echo_all(&conn, args.streams, args.size).await?;
                (conn, Some(false))
            }
        }
    } else {
        let conn = connecting.await.context("handshake")?;
        echo_all(&conn, args.streams, args.size).await?;
        (conn, None)
    };
    let secs = start.elapsed().as_secs_f64();

    conn.close(0u32.into(), b"done");
    // Let the CONNECTION_CLOSE reach the server before the process goes
    // away, within a bound.
    let _ = tokio::time::timeout(DRAIN_LIMIT, endpoint.wait_idle()).await;

    let total = args.streams * args.size;
    let mut line = format!(
        "echo ok streams={} bytes={total} secs={secs:.3}",
        args.streams
    );
    if let Some(accepted) = zero_rtt {
        line.push_str(&format!(" zero_rtt_accepted={accepted}"));
    }
    println!("{line}");
    Ok(())
}

/// Runs `streams` echo streams of `size` bytes at once on `conn`.
async fn echo_all(conn: &Connection, streams: u64, size: u64) -> Result<()> {
    let mut tasks = JoinSet::new();
    for index in 0..streams {
        tasks.spawn(echo_stream(conn.clone(), index, size));
    }
    while let Some(result) = tasks.join_next().await {
        result.context("stream task")??;
    }
    Ok(())
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("resolving {addr}"))?
        .next()
        .with_context(|| format!("no address for {addr}"))
}

/// Writes and reads one stream at once: reading only after writing would stall
/// once the echo fills the server's send window.
async fn echo_stream(conn: Connection, index: u64, size: u64) -> Result<()> {
    let (send, recv) = conn
        .open_bi()
        .await
        .with_context(|| format!("opening stream {index}"))?;
    tokio::try_join!(
        send_pattern(send, index, size),
        check_echo(recv, index, size)
    )
    .with_context(|| format!("stream {index}"))?;
    Ok(())
}

async fn send_pattern(mut send: SendStream, index: u64, size: u64) -> Result<()> {
    let mut sent = 0u64;
    let mut buf = Vec::with_capacity(WRITE_CHUNK);
    while sent < size {
        let end = size.min(sent + WRITE_CHUNK as u64);
        buf.clear();
        buf.extend((sent..end).map(|i| pattern_byte(index, i)));
        send.write_all(&buf).await?;
        sent = end;
    }
    send.finish()?;
    Ok(())
}

async fn check_echo(mut recv: RecvStream, index: u64, size: u64) -> Result<()> {
    let mut received = 0u64;
    while let Some(chunk) = recv.read_chunk(usize::MAX, true).await? {
        for &byte in chunk.bytes.iter() {
            ensure!(received < size, "echo longer than the {size} bytes sent");
            let want = pattern_byte(index, received);
            if byte != want {
                bail!("byte {received} is {byte:#04x}, sent {want:#04x}");
            }
            received += 1;
        }
    }
    ensure!(
        received == size,
        "echo ended after {received} of {size} bytes"
    );
    Ok(())
}
