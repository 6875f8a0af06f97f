//! `kite echo server` and `kite echo client`: quic-go's echo example, as the
//! interop peers (interop/quinn-peer, interop/aioquic_peer.py) speak it. The
//! client opens K bidirectional streams, sends N patterned bytes on each and
//! finishes; the server echoes every stream back and finishes it; the client
//! checks every byte and prints `echo ok streams=K bytes=N secs=S`. With
//! `--resume` the client first makes a connection only to get a session
//! ticket, then resumes and writes its streams as 0-RTT data, appending
//! `zero_rtt_accepted=true|false`; a server with `--zero-rtt` accepts it.
//! With `--conns C` the client holds C connections open at once
//! (`echo_many`); with `--stats-ms` the server prints its live connection
//! and task counts (`server_stats`), which a soak run watches return to zero.

use crate::echo_many;
use crate::endpoint::EndpointOptions;
use crate::perf::parse_size;
use crate::server_stats::StatsTicker;
use crate::tickets::TicketWatch;
use crate::tls::{self, DEFAULT_ALPN, Identity, SELF_SIGNED_NAME, Trust};
use bytes::Bytes;
use kite::{Connection, ConnectionError, RecvStream, SendStream, Transport, TransportConfig};
use kite_proto::TransportErrorCode;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Length after which a stream's pattern repeats. 251 is prime, so the pattern
/// never lines up with power-of-two chunking: a misplaced chunk is a mismatch.
const PATTERN_PERIOD: usize = 251;

/// Bytes the client hands to a stream per write: enough to keep the pipe full,
/// small enough that a huge `--size` is never held in memory at once.
const WRITE_CHUNK: usize = 64 * 1024;

/// How long a client waits after closing for its connection to drain, so the
/// CONNECTION_CLOSE is sent before the process exits, and a server with
/// `--max-conns` for its last connections to drain. Closing and draining last
/// three PTOs (RFC 9000 §10.2); past this bound the process exits anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// How often a drain wait checks whether the connections are gone.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// How long `--resume` waits for a session ticket on its first connection.
/// Servers send tickets right after the handshake, so on any path this is
/// many round trips; without a ticket the second connection is a full
/// handshake and reports `zero_rtt_accepted=false`.
const TICKET_WAIT: Duration = Duration::from_secs(2);

/// Application close code and reason of a client done with its connection.
pub(crate) const DONE_CODE: u64 = 0;
/// Reason phrase sent with [`DONE_CODE`].
pub(crate) const DONE_REASON: &[u8] = b"done";

/// Flags of `kite echo server`.
#[derive(clap::Args)]
pub struct ServerArgs {
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
    /// Send a Retry to every new connection, validating its address first;
    /// the `done` line then counts them as `retries=R`.
    #[arg(long)]
    retry: bool,
    /// Accept 0-RTT data from resuming clients (session tickets then allow
    /// early data); the `done` line counts the streams whose data arrived
    /// as 0-RTT as `early_streams=E`.
    #[arg(long)]
    zero_rtt: bool,
    /// Write a qlog file per connection into this directory (default:
    /// `$QLOGDIR`, if set).
    #[arg(long, value_name = "DIR")]
    qlog_dir: Option<PathBuf>,
    /// Exit after this many connections have ended, printing `done conns=M`
    /// (with ` retries=R` after `--retry`, ` early_streams=E` after `--zero-rtt`).
    #[arg(long, value_name = "M")]
    max_conns: Option<u64>,
    /// Connections allowed in handshake or waiting to be accepted at once;
    /// past it new ones are refused with CONNECTION_REFUSED (kite's default
    /// is quic-go's accept queue, 32).
    #[arg(long, value_name = "N", default_value_t = kite_proto::endpoint::DEFAULT_MAX_INCOMING as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_incoming: u64,
    /// Every MS milliseconds (and once at start) print `stats
    /// live_connections=L accepted=A ended=E tasks=T dropped_datagrams=D`.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    stats_ms: Option<u64>,
    /// Abandon a handshake after this many seconds without a packet from
    /// the peer (the whole handshake may take twice this); default 10.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    handshake_idle_timeout: Option<Duration>,
}

/// Flags of `kite echo client`.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// Server address, `host:port`.
    #[arg(long)]
    pub(crate) connect: String,
    /// Name sent as SNI and checked against the server's certificate.
    #[arg(long, default_value = SELF_SIGNED_NAME)]
    pub(crate) server_name: String,
    /// ALPN protocol to offer.
    #[arg(long, default_value = DEFAULT_ALPN)]
    pub(crate) alpn: String,
    /// Bidirectional streams, all run at once.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub(crate) streams: u64,
    /// Bytes sent (and expected back) on each stream; digits with an
    /// optional K, M, G or T (powers of 1024).
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = parse_size)]
    pub(crate) size: u64,
    /// Connections held open at once: all C handshakes first (each a full
    /// one, as from C separate clients), then every connection runs its K
    /// streams at the same time. Above 1, the result line counts the bytes of
    /// all connections and adds `conns=C`, the handshakes' time, the
    /// refusals met and recovery counters summed over the connections.
    #[arg(long, default_value_t = 1, value_name = "C", conflicts_with = "resume",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) conns: u64,
    /// With --conns: handshakes in progress at once; a handshake the server
    /// refuses (CONNECTION_REFUSED) is tried again after a pause.
    #[arg(long, default_value_t = echo_many::DEFAULT_CONCURRENCY, value_name = "H",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) concurrency: u64,
    /// Accept any server certificate (the handshake signature is still checked).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// PEM file of certificates to trust as roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Connect once for a session ticket, then resume the session and send
    /// the streams as 0-RTT data; the result line tells whether the server
    /// accepted it (`zero_rtt_accepted=true|false`).
    #[arg(long)]
    resume: bool,
    /// Write a qlog file for the connection into this directory (default:
    /// `$QLOGDIR`, if set).
    #[arg(long, value_name = "DIR")]
    pub(crate) qlog_dir: Option<PathBuf>,
    /// Abandon a handshake after this many seconds without a packet from
    /// the peer (the whole handshake may take twice this); default 10.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    handshake_idle_timeout: Option<Duration>,
}

/// The default transport settings, with the handshake idle timeout given
/// on the command line.
fn transport_config(handshake_idle_timeout: Option<Duration>) -> TransportConfig {
    let default = TransportConfig::default();
    TransportConfig {
        handshake_idle_timeout: handshake_idle_timeout.unwrap_or(default.handshake_idle_timeout),
        ..default
    }
}

/// A positive whole or fractional number of seconds.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|e| format!("{text:?} is not a number of seconds: {e}"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("{text:?}: the timeout must be positive"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{text:?}: {e}"))
}

/// Runs the echo server until killed, or until `--max-conns` connections ended.
pub async fn run_server(args: ServerArgs) -> Result<(), String> {
    let identity = Identity::load(args.cert.as_deref(), args.key.as_deref())?;
    let transport_config = TransportConfig {
        allow_0rtt: args.zero_rtt,
        ..transport_config(args.handshake_idle_timeout)
    };
    let config = tls::server_config(identity, &args.alpn, Arc::new(transport_config))?;
    let options = EndpointOptions {
        retry: args.retry,
        qlog_dir: args.qlog_dir,
    };
    let max_incoming = usize::try_from(args.max_incoming).unwrap_or(usize::MAX);
    let (transport, retries) = options
        .bind_with(args.listen, |config| config.max_incoming = max_incoming)
        .await?;
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
    let (mut accepted, mut ended) = (0u64, 0u64);
    let early_streams = Arc::new(AtomicU64::new(0));
    let mut stats = StatsTicker::new(args.stats_ms.map(Duration::from_millis));
    while args.max_conns.is_none_or(|max| ended < max) {
        tokio::select! {
            conn = listener.accept() => match conn {
                Some(conn) => {
                    accepted += 1;
                    connections.spawn(serve_connection(conn, early_streams.clone()));
                }
                None => break,
            },
            Some(_) = connections.join_next() => ended += 1,
            () = stats.tick() => stats.print(listener.transport(), accepted, ended),
        }
    }
    // Connections that ended still wait out their draining period (RFC 9000
    // §10.2.2); let them, so their qlog traces end with it. Bounded, as the
    // client's wait is.
    wait_drained(listener.transport()).await;
    let mut done = format!("done conns={ended}");
    if let Some(retries) = retries {
        done.push_str(&format!(" retries={}", retries.get()));
    }
    if args.zero_rtt {
        let early = early_streams.load(Ordering::Relaxed);
        done.push_str(&format!(" early_streams={early}"));
    }
    println!("{done}");
    Ok(())
}

/// Runs one echo exchange (or, with `--conns`, one on each of many
/// connections) and prints its result line.
pub async fn run_client(args: ClientArgs) -> Result<(), String> {
    let trust = client_trust(&args)?;
    if args.conns > 1 {
        return echo_many::run(args, trust).await;
    }
    let total = args
        .streams
        .checked_mul(args.size)
        .ok_or("--streams times --size overflows")?;
    let tickets = args.resume.then(|| Arc::new(TicketWatch::new()));
    let config = tls::client_config(
        trust,
        &args.alpn,
        Arc::new(transport_config(args.handshake_idle_timeout)),
        tickets.clone(),
    )?;
    let server = resolve(&args.connect).await?;
    let options = EndpointOptions {
        retry: false,
        qlog_dir: args.qlog_dir,
    };
    let transport = client_transport(server, &options).await?;

    if let Some(tickets) = &tickets {
        // A first connection only for its session ticket.
        let first = transport
            .dial(server, &args.server_name, config.clone())
            .await
            .map_err(|e| format!("connecting to {server} for a session ticket: {e}"))?;
        if !tickets.wait_for_ticket(TICKET_WAIT).await {
            eprintln!("kite: no session ticket from {server} within {TICKET_WAIT:?}; not resuming");
        }
        first.close(DONE_CODE, DONE_REASON);
    }

    // The clock covers handshake and transfer: what a user of echo waits for.
    let start = Instant::now();
    let dialed = if args.resume {
        transport
            .dial_early(server, &args.server_name, config)
            .await
    } else {
        transport.dial(server, &args.server_name, config).await
    };
    let conn = dialed.map_err(|e| format!("connecting to {server}: {e}"))?;
    let mut streams = JoinSet::new();
    for index in 0..args.streams {
        // Opened here, in order, so `index` is the stream's rank among the
        // client's streams; each transfer runs in its own task meanwhile, so
        // waiting for stream credit cannot stall the streams already open.
        // Before the handshake (0-RTT) they open within the stream limit the
        // ticket remembered.
        let (send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| format!("opening stream {index}: {e}"))?;
        streams.spawn(echo_stream(send, recv, index, args.size));
    }
    while let Some(result) = streams.join_next().await {
        result.map_err(|e| format!("stream task: {e}"))??;
    }
    let secs = start.elapsed().as_secs_f64();
    // The outcome of 0-RTT is known once the handshake completes, which is
    // normally before the echo is back; waited for in case it is not.
    conn.handshake_done()
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let zero_rtt = conn.zero_rtt_accepted();

    close_and_drain(&transport, conn).await;
    let mut line = format!(
        "echo ok streams={} bytes={total} secs={secs:.3}",
        args.streams
    );
    if args.resume {
        // Not attempted (no ticket, or one without early data) counts as not accepted.
        let accepted = zero_rtt.unwrap_or(false);
        line.push_str(&format!(" zero_rtt_accepted={accepted}"));
    }
    println!("{line}");
    Ok(())
}

/// The certificates a client trusts: `--ca`'s, or any with `--insecure`.
pub(crate) fn client_trust(args: &ClientArgs) -> Result<Trust, String> {
    match (&args.ca, args.insecure) {
        (Some(ca), _) => Trust::from_pem_file(ca),
        (None, true) => Ok(Trust::AnyCertificate),
        (None, false) => Err("no trust anchors: give --ca FILE, or --insecure".into()),
    }
}

/// Echoes every bidirectional stream of `conn` until the connection ends,
/// counting in `early_streams` those whose data arrived as 0-RTT; reports on
/// stderr how it ended unless the client closed it normally.
pub async fn serve_connection(conn: Connection, early_streams: Arc<AtomicU64>) {
    let remote = conn.remote_address();
    let mut streams = JoinSet::new();
    let end = loop {
        match conn.accept_bi().await {
            Ok((send, mut recv)) => {
                let early_streams = early_streams.clone();
                streams.spawn(async move {
                    let echoed = echo_back(send, &mut recv).await?;
                    // Asked only now: 0-RTT packets may arrive after the accept.
                    if recv.is_0rtt() {
                        early_streams.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, String>(echoed)
                });
            }
            Err(end) => break end,
        }
    };
    while let Some(result) = streams.join_next().await {
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("connection from {remote}: {e}"),
            Err(e) => eprintln!("connection from {remote}: stream task: {e}"),
        }
    }
    if !is_normal_end(&end) {
        eprintln!("connection from {remote}: {end}");
    }
}

/// Whether the peer closed without an error (application code 0 or NO_ERROR).
pub fn is_normal_end(end: &ConnectionError) -> bool {
    match end {
        ConnectionError::PeerApplicationClose { code, .. } => *code == DONE_CODE,
        ConnectionError::PeerTransportClose { code, .. } => *code == TransportErrorCode::NO_ERROR,
        _ => false,
    }
}

/// Sends back every chunk as it arrives, then finishes once the peer has;
/// returns the bytes echoed.
pub async fn echo_back(mut send: SendStream, recv: &mut RecvStream) -> Result<u64, String> {
    let id = send.id();
    let mut echoed = 0u64;
    while let Some(chunk) = recv
        .read_chunk(usize::MAX)
        .await
        .map_err(|e| format!("stream {id}: reading: {e}"))?
    {
        echoed += chunk.len() as u64;
        send.write_chunk(chunk)
            .await
            .map_err(|e| format!("stream {id}: writing: {e}"))?;
    }
    send.finish()
        .map_err(|e| format!("stream {id}: finishing: {e}"))?;
    Ok(echoed)
}

/// Sends `size` bytes of stream `index`'s pattern and checks the echo, both at
/// once: reading only after writing would stall once the echo fills the
/// server's send window.
pub async fn echo_stream(
    send: SendStream,
    recv: RecvStream,
    index: u64,
    size: u64,
) -> Result<(), String> {
    let pattern = Pattern::new(index);
    tokio::try_join!(
        send_pattern(send, &pattern, size),
        check_echo(recv, &pattern, size)
    )
    .map_err(|e| format!("stream {index}: {e}"))?;
    Ok(())
}

async fn send_pattern(mut send: SendStream, pattern: &Pattern, size: u64) -> Result<(), String> {
    let mut sent = 0u64;
    while sent < size {
        let len = (size - sent).min(WRITE_CHUNK as u64) as usize;
        send.write_chunk(Bytes::from(pattern.bytes(sent, len)))
            .await
            .map_err(|e| format!("writing: {e}"))?;
        sent += len as u64;
    }
    send.finish().map_err(|e| format!("finishing: {e}"))
}

async fn check_echo(mut recv: RecvStream, pattern: &Pattern, size: u64) -> Result<(), String> {
    let mut received = 0u64;
    while let Some(chunk) = recv
        .read_chunk(usize::MAX)
        .await
        .map_err(|e| format!("reading: {e}"))?
    {
        if received + chunk.len() as u64 > size {
            return Err(format!("echo longer than the {size} bytes sent"));
        }
        if let Some((at, got, want)) = pattern.first_mismatch(received, &chunk) {
            return Err(format!("byte {at} is {got:#04x}, sent {want:#04x}"));
        }
        received += chunk.len() as u64;
    }
    if received != size {
        return Err(format!("echo ended after {received} of {size} bytes"));
    }
    Ok(())
}

/// The bytes the client sends on one stream: byte `i` of the client's stream
/// `s` (counting its streams from 0 in opening order) is `(i * 31 + s) % 251`,
/// as in interop/quinn-peer and interop/aioquic_peer.py.
pub struct Pattern {
    /// Bytes `0..PATTERN_PERIOD`; byte `i` is `period[i % PATTERN_PERIOD]`.
    period: [u8; PATTERN_PERIOD],
}

impl Pattern {
    /// The pattern of the client's stream `stream`.
    pub fn new(stream: u64) -> Pattern {
        let period_len = PATTERN_PERIOD as u64;
        let offset = stream % period_len;
        let mut period = [0u8; PATTERN_PERIOD];
        for (i, byte) in (0u64..).zip(period.iter_mut()) {
            // Reduced before multiplying, so no size overflows; the same value
            // as (i * 31 + stream) % 251 computed without bounds.
            *byte = ((i * 31 + offset) % period_len) as u8;
        }
        Pattern { period }
    }

    /// Byte `i` of the stream.
    pub fn byte(&self, i: u64) -> u8 {
        self.period[(i % PATTERN_PERIOD as u64) as usize]
    }

    /// `len` bytes of the stream from `offset`.
    pub fn bytes(&self, offset: u64, len: usize) -> Vec<u8> {
        (offset..offset + len as u64)
            .map(|i| self.byte(i))
            .collect()
    }

    /// The first byte of `data` (found at stream `offset`) that differs from
    /// the pattern: its stream offset, its value, the pattern's value.
    pub fn first_mismatch(&self, offset: u64, data: &[u8]) -> Option<(u64, u8, u8)> {
        (offset..)
            .zip(data)
            .map(|(i, &got)| (i, got, self.byte(i)))
            .find(|(_, got, want)| got != want)
    }
}

/// The first address `addr` (`host:port`) resolves to.
pub(crate) async fn resolve(addr: &str) -> Result<SocketAddr, String> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| format!("resolving {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("no address for {addr}"))
}

/// A transport on an ephemeral port of `server`'s address family.
pub async fn client_transport(
    server: SocketAddr,
    options: &EndpointOptions,
) -> Result<Transport, String> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let (transport, _) = options.bind(local).await?;
    Ok(transport)
}

/// Closes `conn` and waits (at most [`DRAIN_LIMIT`]) until the transport has
/// no connection left, so the CONNECTION_CLOSE leaves before the process does.
/// Returns whether it drained in time.
pub async fn close_and_drain(transport: &Transport, conn: Connection) -> bool {
    conn.close(DONE_CODE, DONE_REASON);
    drop(conn);
    wait_drained(transport).await
}

/// Waits (at most [`DRAIN_LIMIT`]) until `transport` has no connection left;
/// returns whether that happened in time.
pub(crate) async fn wait_drained(transport: &Transport) -> bool {
    let deadline = Instant::now() + DRAIN_LIMIT;
    while transport.open_connections() > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matches_the_interop_peers_formula() {
        for stream in [0u64, 1, 7, 250, 251, 1000] {
            let pattern = Pattern::new(stream);
            for i in [0u64, 1, 250, 251, 252, 65_535, 1 << 20] {
                assert_eq!(u64::from(pattern.byte(i)), (i * 31 + stream) % 251);
            }
        }
    }

    #[test]
    fn pattern_bytes_continue_across_chunks() {
        let pattern = Pattern::new(3);
        let whole = pattern.bytes(0, 1000);
        let mut pieces = pattern.bytes(0, 300);
        pieces.extend(pattern.bytes(300, 700));
        assert_eq!(whole, pieces);
    }

    #[test]
    fn first_mismatch_reports_stream_offset_and_values() {
        let pattern = Pattern::new(0);
        let mut data = pattern.bytes(500, 10);
        assert_eq!(pattern.first_mismatch(500, &data), None);
        data[4] ^= 0xff;
        let want = pattern.byte(504);
        assert_eq!(
            pattern.first_mismatch(500, &data),
            Some((504, want ^ 0xff, want))
        );
    }

    #[test]
    fn handshake_idle_timeout_flag_takes_seconds() {
        assert_eq!(parse_secs("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_secs("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("ten").is_err());
        let default = TransportConfig::default().handshake_idle_timeout;
        assert_eq!(transport_config(None).handshake_idle_timeout, default);
        let set = transport_config(Some(Duration::from_secs(30)));
        assert_eq!(set.handshake_idle_timeout, Duration::from_secs(30));
    }

    #[test]
    fn only_code_zero_closes_are_normal() {
        let app = |code| ConnectionError::PeerApplicationClose {
            code,
            reason: Bytes::new(),
        };
        assert!(is_normal_end(&app(0)));
        assert!(!is_normal_end(&app(1)));
        assert!(!is_normal_end(&ConnectionError::TimedOut));
    }
}
