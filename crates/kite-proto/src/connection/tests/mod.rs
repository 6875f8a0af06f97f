//! Connection behaviour that needs both ends: a client and a server endpoint
//! joined by hand, datagram by datagram, on a virtual clock. A test decides
//! which datagrams arrive, fires each side's timers when it wants, and reads
//! what each side sent from a recording tracer. TLS uses kite-testkit's
//! placeholder certificate with a throwaway Ed25519 key, which the client
//! accepts unchecked.

mod probes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::Connection;
use crate::config::{ClientConfig, ServerConfig, TransportConfig};
use crate::endpoint::{ConnectionHandle, DatagramEvent, Endpoint, EndpointConfig};
use crate::packet::{PacketType, split_datagram};
use crate::stream_id::Side;
use crate::trace::{FrameSummary, TraceEvent, Tracer, TracerFactory};

const ALPN: &[u8] = b"kite-test";

/// A packet one side sent, as its tracer saw it.
#[derive(Debug, Clone)]
pub(super) struct SentPacket {
    pub ty: PacketType,
    pub frames: Vec<FrameSummary>,
}

impl SentPacket {
    /// The CRYPTO frames, as `(offset, len)`.
    pub fn crypto(&self) -> Vec<(u64, usize)> {
        self.frames
            .iter()
            .filter_map(|f| match f {
                FrameSummary::Crypto { offset, len } => Some((*offset, *len)),
                _ => None,
            })
            .collect()
    }

    /// Whether a frame matching `is` is in it.
    pub fn has(&self, is: impl Fn(&FrameSummary) -> bool) -> bool {
        self.frames.iter().any(is)
    }
}

type Log = Arc<Mutex<Vec<(Side, SentPacket)>>>;

/// Records every packet sent, tagged with the side that sent it.
struct Recorder(Log);

struct SideRecorder(Log, Side);

impl TracerFactory for Recorder {
    fn new_connection(&self, side: Side, _: &crate::ConnectionId) -> Option<Box<dyn Tracer>> {
        Some(Box::new(SideRecorder(self.0.clone(), side)))
    }
}

impl Tracer for SideRecorder {
    fn event(&mut self, _: Instant, event: &TraceEvent<'_>) {
        if let TraceEvent::PacketSent(p) = event {
            let packet = SentPacket {
                ty: p.packet_type,
                frames: p.frames.to_vec(),
            };
            self.0.lock().unwrap().push((self.1, packet));
        }
    }
}

/// A client and a server, one connection between them.
pub(super) struct Pair {
    pub now: Instant,
    server_ep: Endpoint,
    client_ep: Endpoint,
    pub client: Box<Connection>,
    client_handle: ConnectionHandle,
    server: Option<(ConnectionHandle, Box<Connection>)>,
    log: Log,
    server_addr: SocketAddr,
    client_addr: SocketAddr,
}

/// TLS configs of both sides; a client config reused for a second
/// connection resumes the first one's session.
pub(super) struct Tls {
    pub server: Arc<rustls::ServerConfig>,
    pub client: Arc<rustls::ClientConfig>,
}

impl Tls {
    pub fn new() -> Tls {
        let provider = kite_testkit::tls::provider();
        let server = kite_testkit::tls::placeholder_server_config(provider.clone(), ALPN);
        let client = kite_testkit::tls::unchecked_client_config(provider, ALPN);
        Tls {
            server: Arc::new(server),
            client: Arc::new(client),
        }
    }
}

impl Pair {
    /// A client that has just started a connection (nothing sent yet).
    pub fn new() -> Pair {
        Pair::with(&Tls::new(), Instant::now())
    }

    /// A client of `tls` starting a connection at `now`.
    pub fn with(tls: &Tls, now: Instant) -> Pair {
        let log = Log::default();
        let endpoint_config = || EndpointConfig {
            tracer_factory: Some(Arc::new(Recorder(log.clone()))),
            ..EndpointConfig::default()
        };
        let transport = Arc::new(TransportConfig::default());
        let server = ServerConfig {
            tls: tls.server.clone(),
            transport: transport.clone(),
        };
        let server_ep = Endpoint::new(endpoint_config(), Some(Arc::new(server)));
        let mut client_ep = Endpoint::new(endpoint_config(), None);
        let server_addr: SocketAddr = "10.0.0.1:4433".parse().unwrap();
        let client = ClientConfig {
            tls: tls.client.clone(),
            transport,
            token_store: None,
        };
        let (client_handle, client) = client_ep
            .connect(now, client, server_addr, "kite.test")
            .unwrap();
        Pair {
            now,
            server_ep,
            client_ep,
            client,
            client_handle,
            server: None,
            log,
            server_addr,
            client_addr: "10.0.0.2:50000".parse().unwrap(),
        }
    }

    /// The server's connection, once its first Initial arrived.
    pub fn server(&mut self) -> &mut Connection {
        &mut self.server.as_mut().expect("the server has a connection").1
    }

    /// Every datagram the client has to send now.
    pub fn client_sends(&mut self) -> Vec<Vec<u8>> {
        drain(&mut self.client, self.now)
    }

    /// Every datagram the server has to send now.
    pub fn server_sends(&mut self) -> Vec<Vec<u8>> {
        let now = self.now;
        match self.server.as_mut() {
            Some((_, conn)) => drain(conn, now),
            None => Vec::new(),
        }
    }

    /// Hands `datagram` to the server's endpoint, and its connection.
    pub fn deliver_to_server(&mut self, datagram: &[u8]) {
        let mut response = Vec::new();
        let event = self.server_ep.handle_datagram(
            self.now,
            self.client_addr,
            None,
            BytesMut::from(datagram),
            &mut response,
        );
        match event {
            Some(DatagramEvent::NewConnection(handle, conn)) => self.server = Some((handle, conn)),
            Some(DatagramEvent::ConnectionEvent(_, event)) => {
                if let Some((_, conn)) = self.server.as_mut() {
                    conn.handle_event(event);
                }
            }
            _ => {}
        }
        if let Some((handle, conn)) = self.server.as_mut() {
            while let Some(event) = conn.poll_endpoint_event() {
                if let Some(answer) = self.server_ep.handle_event(*handle, event) {
                    conn.handle_event(answer);
                }
            }
        }
    }

    /// Hands `datagram` to the client's endpoint, and its connection.
    pub fn deliver_to_client(&mut self, datagram: &[u8]) {
        let mut response = Vec::new();
        let event = self.client_ep.handle_datagram(
            self.now,
            self.server_addr,
            None,
            BytesMut::from(datagram),
            &mut response,
        );
        if let Some(DatagramEvent::ConnectionEvent(_, event)) = event {
            self.client.handle_event(event);
        }
        while let Some(event) = self.client.poll_endpoint_event() {
            if let Some(answer) = self.client_ep.handle_event(self.client_handle, event) {
                self.client.handle_event(answer);
            }
        }
    }

    /// Moves the clock to the client's next timer and fires it.
    pub fn fire_client_timer(&mut self) {
        let at = self.client.poll_timeout().expect("a client timer");
        self.now = self.now.max(at);
        self.client.handle_timeout(self.now);
    }

    /// Moves the clock to the server's next timer and fires it.
    pub fn fire_server_timer(&mut self) {
        let at = self.server().poll_timeout().expect("a server timer");
        self.now = self.now.max(at);
        let now = self.now;
        self.server().handle_timeout(now);
    }

    /// Lets time pass, one millisecond per hop.
    pub fn step(&mut self) {
        self.now += Duration::from_millis(1);
    }

    /// Exchanges datagrams, losing none, until neither side has anything
    /// to send.
    pub fn exchange(&mut self) {
        for _ in 0..100 {
            let from_client = self.client_sends();
            let from_server = self.server_sends();
            if from_client.is_empty() && from_server.is_empty() {
                return;
            }
            self.step();
            for d in from_client {
                self.deliver_to_server(&d);
            }
            for d in from_server {
                self.deliver_to_client(&d);
            }
        }
        panic!("the exchange never settles");
    }

    /// The packets `side` sent since the last call, oldest first.
    pub fn sent_by(&mut self, side: Side) -> Vec<SentPacket> {
        let mut log = self.log.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = log.drain(..).partition(|(s, _)| *s == side);
        *log = rest;
        mine.into_iter().map(|(_, p)| p).collect()
    }
}

fn drain(conn: &mut Connection, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(t) = conn.poll_transmit(now, &mut buf) {
        out.push(buf[..t.size].to_vec());
    }
    out
}

/// The packets coalesced in `datagram` with their types (the client's and
/// the server's CIDs are the default generator's 8 bytes).
pub(super) fn packets(datagram: &[u8]) -> Vec<(PacketType, Vec<u8>)> {
    split_datagram(datagram, 8)
        .map(|p| {
            let p = p.unwrap();
            (p.header.packet_type(), datagram[p.range].to_vec())
        })
        .collect()
}
