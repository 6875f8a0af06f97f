//! The relay's sockets and clock: one front socket that clients reach, one
//! upstream socket per client address (so the server sees each client
//! apart), a delay queue of datagrams waiting for their due time, and the
//! bounds that end a run. Every datagram goes through the [`Impairer`] of
//! its direction; this file only moves bytes when they are due, and takes
//! the counters' [`Checkpoint`] when a silence ends.

use crate::impair::{DirectionStats, Impairer, Impairments, InvalidImpairment, Verdict};
use crate::rng::SplitMix64;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Largest UDP payload, so no datagram is ever truncated on receipt.
const MAX_DATAGRAM: usize = 65_535;

/// Client addresses tracked at once; a new one past this replaces the one
/// heard from longest ago. Enough for many parallel handshakes, each from
/// its own port.
const MAX_CLIENTS: usize = 1024;

/// Datagrams waiting in the delay queue at most; past it they drop (counted
/// as queue drops). Bounds memory under a long delay and a fast sender.
const MAX_PENDING: usize = 100_000;

/// Datagrams from upstream sockets waiting for the relay loop.
const UPSTREAM_CHANNEL: usize = 1024;

/// What to relay, how to impair it, and when to stop.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Loopback address clients send to; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Loopback address of the server.
    pub upstream: SocketAddr,
    /// Impairments of the datagrams from clients to the server.
    pub to_server: Impairments,
    /// Impairments of the datagrams from the server to clients.
    pub to_client: Impairments,
    /// Seed of both directions' decisions.
    pub seed: u64,
    /// Stop after this many datagrams arrived (both directions together).
    pub max_datagrams: u64,
    /// Stop after this long.
    pub max_duration: Duration,
    /// Write one line per datagram on stderr: when it arrived, its
    /// direction, client, length and fate.
    pub trace: bool,
}

/// Why a relay could not start or went on.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The relay serves loopback only.
    #[error("{role} address {addr} is not a loopback address; the relay serves loopback only")]
    NotLoopback {
        /// `listen` or `upstream`.
        role: &'static str,
        /// The refused address.
        addr: SocketAddr,
    },
    /// An impairment setting is out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidImpairment),
    /// A socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// `max_datagrams` datagrams arrived.
    MaxDatagrams,
    /// `max_duration` passed.
    MaxDuration,
    /// The caller asked it to stop.
    Stopped,
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndReason::MaxDatagrams => "max-datagrams",
            EndReason::MaxDuration => "max-secs",
            EndReason::Stopped => "stopped",
        })
    }
}

/// Both directions' counters at one moment of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// When, since the relay started.
    pub at: Duration,
    /// Client to server.
    pub to_server: DirectionStats,
    /// Server to client.
    pub to_client: DirectionStats,
}

/// What a run did, per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Client to server.
    pub to_server: DirectionStats,
    /// Server to client.
    pub to_client: DirectionStats,
    /// The counters just before the first datagram after a silence (of
    /// either direction, whichever ended first) was sent on: what each
    /// side had sent while the other heard nothing more from it. `None`
    /// when no silence ended.
    pub silence_end: Option<Checkpoint>,
    /// Distinct client addresses seen.
    pub clients: u64,
    /// Why it ended.
    pub end: EndReason,
}

impl fmt::Display for Report {
    /// Lines `to_server ...` and `to_client ...`, after a silence two more
    /// (`silence_end at=S to_server ...`, `silence_end at=S to_client
    /// ...`), and `done reason=R clients=C`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "to_server {}", self.to_server)?;
        writeln!(f, "to_client {}", self.to_client)?;
        if let Some(checkpoint) = &self.silence_end {
            let at = checkpoint.at.as_secs_f64();
            writeln!(
                f,
                "silence_end at={at:.3} to_server {}",
                checkpoint.to_server
            )?;
            writeln!(
                f,
                "silence_end at={at:.3} to_client {}",
                checkpoint.to_client
            )?;
        }
        write!(f, "done reason={} clients={}", self.end, self.clients)
    }
}

/// A bound relay, ready to run.
#[derive(Debug)]
pub struct Relay {
    config: RelayConfig,
    front: UdpSocket,
    local_addr: SocketAddr,
}

impl Relay {
    /// Checks `config` (loopback addresses, valid impairments) and binds the
    /// front socket.
    pub async fn bind(config: RelayConfig) -> Result<Relay, RelayError> {
        for (role, addr) in [("listen", config.listen), ("upstream", config.upstream)] {
            if !addr.ip().is_loopback() {
                return Err(RelayError::NotLoopback { role, addr });
            }
        }
        config.to_server.validate()?;
        config.to_client.validate()?;
        let front = UdpSocket::bind(config.listen)
            .await
            .map_err(|source| io_error(format!("binding {}", config.listen), source))?;
        let local_addr = front
            .local_addr()
            .map_err(|source| io_error("local address".into(), source))?;
        Ok(Relay {
            config,
            front,
            local_addr,
        })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Relays until a bound is reached or `stop` completes.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<Report, RelayError> {
        let start = Instant::now();
        let mut seeds = SplitMix64::new(self.config.seed);
        let mut state = State {
            front: self.front,
            upstream: self.config.upstream,
            clients: HashMap::new(),
            clients_seen: 0,
            pending: BinaryHeap::new(),
            next_seq: 0,
            to_server: Impairer::new(self.config.to_server, seeds.next_u64(), start.into_std()),
            to_client: Impairer::new(self.config.to_client, seeds.next_u64(), start.into_std()),
            start,
            silence_end: None,
            trace: self.config.trace,
        };
        let (upstream_tx, mut upstream_rx) = mpsc::channel(UPSTREAM_CHANNEL);
        let deadline = tokio::time::sleep_until(start + self.config.max_duration);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut received = 0u64;
        tokio::pin!(stop, deadline);
        let end = loop {
            if received >= self.config.max_datagrams {
                break EndReason::MaxDatagrams;
            }
            let next_due = state.pending.peek().map(|p| p.due);
            // Unbiased: neither direction may starve the other under load.
            tokio::select! {
                () = &mut stop => break EndReason::Stopped,
                () = &mut deadline => break EndReason::MaxDuration,
                () = sleep_until_some(next_due) => state.send_due().await,
                got = state.front.recv_from(&mut buf) => {
                    let (len, client) = match got {
                        Ok(got) => got,
                        // A client's ICMP error reported on the shared socket.
                        Err(e) if is_transient(&e) => continue,
                        Err(source) => return Err(io_error("receiving from clients".into(), source)),
                    };
                    received += 1;
                    let datagram = buf.get(..len).unwrap_or_default().to_vec();
                    state.on_client_datagram(client, datagram, &upstream_tx).await?;
                    state.send_due().await;
                }
                Some((client, datagram)) = upstream_rx.recv() => {
                    received += 1;
                    state.on_server_datagram(client, datagram);
                    state.send_due().await;
                }
            }
        };
        Ok(Report {
            to_server: state.to_server.stats(),
            to_client: state.to_client.stats(),
            silence_end: state.silence_end,
            clients: state.clients_seen,
            end,
        })
    }
}

/// Which way a datagram travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    ToClient,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        })
    }
}

/// A datagram waiting in the delay queue.
struct Pending {
    due: Instant,
    /// Arrival order, so datagrams due at once leave in the order they came.
    seq: u64,
    direction: Direction,
    client: SocketAddr,
    /// The first datagram of its direction after the silence.
    ends_silence: bool,
    datagram: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    /// Reversed, so the max-heap pops the earliest due first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// One client address's own socket toward the server.
struct Client {
    socket: Arc<UdpSocket>,
    /// Forwards what the server sends on `socket` to the relay loop.
    reader: JoinHandle<()>,
    last_seen: Instant,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The relay loop's state.
struct State {
    front: UdpSocket,
    upstream: SocketAddr,
    clients: HashMap<SocketAddr, Client>,
    clients_seen: u64,
    pending: BinaryHeap<Pending>,
    next_seq: u64,
    to_server: Impairer,
    to_client: Impairer,
    /// When the relay started.
    start: Instant,
    /// The counters when the first silence ended.
    silence_end: Option<Checkpoint>,
    /// One line per datagram on stderr.
    trace: bool,
}

impl State {
    /// A datagram from `client`: opens its upstream socket on first sight,
    /// then impairs and queues it.
    async fn on_client_datagram(
        &mut self,
        client: SocketAddr,
        datagram: Vec<u8>,
        upstream_tx: &mpsc::Sender<(SocketAddr, Vec<u8>)>,
    ) -> Result<(), RelayError> {
        let now = Instant::now();
        match self.clients.get_mut(&client) {
            Some(known) => known.last_seen = now,
            None => {
                let opened = self.open_client(client, upstream_tx.clone()).await?;
                self.clients.insert(client, opened);
                self.clients_seen += 1;
            }
        }
        self.impair(Direction::ToServer, client, datagram);
        Ok(())
    }

    /// A datagram from the server to `client`: impaired and queued.
    fn on_server_datagram(&mut self, client: SocketAddr, datagram: Vec<u8>) {
        self.impair(Direction::ToClient, client, datagram);
    }

    /// Binds a loopback socket connected to the server for `client`, and a
    /// task that hands what arrives on it to the relay loop. Past
    /// [`MAX_CLIENTS`], the client heard from longest ago is forgotten.
    async fn open_client(
        &mut self,
        client: SocketAddr,
        upstream_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    ) -> Result<Client, RelayError> {
        if self.clients.len() >= MAX_CLIENTS {
            let oldest = self
                .clients
                .iter()
                .min_by_key(|(_, c)| c.last_seen)
                .map(|(addr, _)| *addr);
            if let Some(oldest) = oldest {
                self.clients.remove(&oldest);
            }
        }
        let local: SocketAddr = match self.upstream {
            SocketAddr::V4(_) => (std::net::Ipv4Addr::LOCALHOST, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
        };
        let socket = UdpSocket::bind(local).await.map_err(|source| {
            io_error(format!("binding an upstream socket for {client}"), source)
        })?;
        socket
            .connect(self.upstream)
            .await
            .map_err(|source| io_error(format!("connecting to {}", self.upstream), source))?;
        let socket = Arc::new(socket);
        let reader = tokio::spawn(read_upstream(socket.clone(), client, upstream_tx));
        Ok(Client {
            socket,
            reader,
            last_seen: Instant::now(),
        })
    }

    /// Runs `datagram` through its direction's impairer and queues what
    /// survives (one or two copies).
    fn impair(&mut self, direction: Direction, client: SocketAddr, mut datagram: Vec<u8>) {
        let now = Instant::now();
        let impairer = match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        };
        let verdict = impairer.handle_datagram(now.into_std(), &mut datagram);
        if self.trace {
            trace_line(self.start, now, direction, client, datagram.len(), &verdict);
        }
        let Verdict::Forward {
            due,
            duplicate_due,
            ends_silence,
        } = verdict
        else {
            return;
        };
        // Both copies carry the mark: whichever leaves first takes the
        // checkpoint.
        if let Some(copy_due) = duplicate_due {
            let copy = datagram.clone();
            self.enqueue(copy_due.into(), direction, client, ends_silence, copy);
        }
        self.enqueue(due.into(), direction, client, ends_silence, datagram);
    }

    fn enqueue(
        &mut self,
        due: Instant,
        direction: Direction,
        client: SocketAddr,
        ends_silence: bool,
        datagram: Vec<u8>,
    ) {
        if self.pending.len() >= MAX_PENDING {
            return;
        }
        self.next_seq += 1;
        self.pending.push(Pending {
            due,
            seq: self.next_seq,
            direction,
            client,
            ends_silence,
            datagram,
        });
    }

    /// Sends every queued datagram whose time has come.
    async fn send_due(&mut self) {
        let now = Instant::now();
        while self.pending.peek().is_some_and(|p| p.due <= now) {
            let Some(p) = self.pending.pop() else { break };
            if p.ends_silence && self.silence_end.is_none() {
                self.silence_end = Some(Checkpoint {
                    at: now.duration_since(self.start),
                    to_server: self.to_server.stats(),
                    to_client: self.to_client.stats(),
                });
            }
            let sent = match p.direction {
                Direction::ToServer => match self.clients.get(&p.client) {
                    Some(client) => client.socket.send(&p.datagram).await,
                    None => Err(io::Error::other("client forgotten")),
                },
                Direction::ToClient => self.front.send_to(&p.datagram, p.client).await,
            };
            if let (true, Err(e)) = (self.trace, &sent) {
                let at = now.duration_since(self.start).as_secs_f64();
                eprintln!("{at:.3} {} {} send failed: {e}", p.direction, p.client);
            }
            if sent.is_ok() {
                match p.direction {
                    Direction::ToServer => self.to_server.on_sent(p.datagram.len()),
                    Direction::ToClient => self.to_client.on_sent(p.datagram.len()),
                }
            }
        }
    }
}

/// Hands every datagram the server sends to `client`'s socket to the relay
/// loop, until the loop is gone.
async fn read_upstream(
    socket: Arc<UdpSocket>,
    client: SocketAddr,
    upstream_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv(&mut buf).await {
            Ok(len) => {
                let datagram = buf.get(..len).unwrap_or_default().to_vec();
                if upstream_tx.send((client, datagram)).await.is_err() {
                    return;
                }
            }
            // The server's port was closed (ICMP); it may come back.
            Err(e) if is_transient(&e) => {}
            Err(_) => return,
        }
    }
}

/// One `--trace` line: seconds since the start, direction, client, length,
/// and the verdict (a drop's reason, or the delay until it leaves).
fn trace_line(
    start: Instant,
    now: Instant,
    direction: Direction,
    client: SocketAddr,
    len: usize,
    verdict: &Verdict,
) {
    let at = now.duration_since(start).as_secs_f64();
    let fate = match verdict {
        Verdict::Drop(reason) => format!("drop {reason:?}"),
        Verdict::Forward {
            due, duplicate_due, ..
        } => {
            let after = |due: &std::time::Instant| {
                due.saturating_duration_since(now.into_std()).as_secs_f64() * 1000.0
            };
            match duplicate_due {
                Some(copy) => format!(
                    "forward +{:.1}ms duplicate +{:.1}ms",
                    after(due),
                    after(copy)
                ),
                None => format!("forward +{:.1}ms", after(due)),
            }
        }
    };
    eprintln!("{at:.3} {direction} {client} len={len} {fate}");
}

/// Completes at `due`, or never when there is nothing due.
async fn sleep_until_some(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// Errors a UDP socket reports for an earlier datagram's ICMP reply, which
/// say nothing about the socket itself.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

fn io_error(context: String, source: io::Error) -> RelayError {
    RelayError::Io { context, source }
}

#[cfg(test)]
mod tests;
