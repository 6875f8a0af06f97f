//! The endpoint: the seed's `Transport.handlePacket` and `baseServer` in
//! sans-I/O form. It routes datagrams to connections by destination
//! connection ID (RFC 9000 §5.2); answers what belongs to no connection
//! (Version Negotiation, stateless reset, Retry, refusals: `stateless`);
//! checks address validation tokens (§8.1); and creates server connections
//! from Initials of at least 1200 bytes (§14.1). It owns no connection: each
//! lives wherever its driver keeps it and talks back through
//! [`EndpointEvent`]s.

mod retired;
mod stateless;

use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cid::{ConnectionId, ConnectionIdGenerator, RandomConnectionIdGenerator, ResetKey};
use crate::config::{ClientConfig, ServerConfig};
use crate::connection::{
    Connection, ConnectionEvent, ConnectionEventInner, ConnectionIds, EcnCodepoint, EndpointEvent,
    EndpointEventInner, MIN_UDP_PAYLOAD, Transmit,
};
use crate::crypto::{
    NEW_TOKEN_LIFETIME, RETRY_TOKEN_LIFETIME, TokenError, TokenKey, TokenKind, ValidatedToken,
};
use crate::error::TransportErrorCode;
use crate::packet::{Header, InvariantHeader, PacketType, ParsedHeader};
use crate::trace::DropReason;
use crate::version::Version;

pub use crate::connection::ConnectError;
pub use stateless::MAX_STATELESS_RESETS_PER_SECOND;

/// Default bound on server connections in handshake or waiting to be
/// accepted: quic-go's accept queue of 32.
pub const DEFAULT_MAX_INCOMING: usize = 32;

/// With the default address validation policy, Retry starts once this many
/// handshakes are in progress: below it a spoofed flood costs little, above
/// it each handshake must first prove its address.
pub const DEFAULT_RETRY_THRESHOLD: usize = 16;

/// 0-RTT packets arriving before their Initial wait in at most this many
/// queues, one per destination CID (quic-go's zeroRTTQueues: 32)...
pub const MAX_EARLY_QUEUES: usize = 32;
/// ...of at most this many datagrams each (quic-go: 31)...
pub const MAX_EARLY_DATAGRAMS: usize = 31;
/// ...for at most this long; an Initial that takes longer is not coming.
pub const EARLY_QUEUE_LIFETIME: Duration = Duration::from_millis(100);

/// How long a confirmed handshake's original DCID is remembered: twice the
/// default handshake timeout, past which a replayed Initial's handshake would
/// time out anyway.
pub const RETIRED_ODCID_MEMORY: Duration = Duration::from_secs(20);
/// Original DCIDs remembered at most (a bound on the memory a connection
/// storm can cost; past it, the oldest expire first).
pub const MAX_RETIRED_ODCIDS: usize = 4096;

/// Datagrams of 0-RTT packets waiting for their connection's Initial.
#[derive(Debug)]
struct EarlyQueue {
    created: Instant,
    datagrams: Vec<(SocketAddr, EcnCodepoint, BytesMut)>,
}

/// Decides per client address whether to ask for address validation (Retry)
/// before creating state; `None` in [`EndpointConfig`] means "when the
/// handshakes in progress reach [`DEFAULT_RETRY_THRESHOLD`]".
pub type VerifySourceAddress = Arc<dyn Fn(SocketAddr) -> bool + Send + Sync>;

/// Endpoint-wide settings: what belongs to the socket, not to a connection.
#[derive(Clone)]
pub struct EndpointConfig {
    /// Makes our connection IDs (fixed length; pluggable for load balancers).
    pub cid_generator: Arc<dyn ConnectionIdGenerator>,
    /// Static key of stateless reset tokens (RFC 9000 §10.3.2).
    pub reset_key: Arc<ResetKey>,
    /// Key sealing Retry and NEW_TOKEN tokens (RFC 9000 §8.1.3).
    pub token_key: Arc<TokenKey>,
    /// How long a Retry token is accepted.
    pub retry_token_lifetime: Duration,
    /// How long a NEW_TOKEN token validates a later connection.
    pub new_token_lifetime: Duration,
    /// Send Retry to this address first; `None`: when busy (see above).
    pub verify_source_address: Option<VerifySourceAddress>,
    /// Largest UDP payload we accept.
    pub max_udp_payload_size: u16,
    /// Versions we accept from clients.
    pub supported_versions: Vec<Version>,
    /// Answer unknown versions with Version Negotiation.
    pub send_version_negotiation: bool,
    /// Server connections allowed in handshake or waiting to be accepted;
    /// past it, new Initials are refused with CONNECTION_REFUSED.
    pub max_incoming: usize,
    /// Makes a tracer per connection (and one for the endpoint's drops):
    /// qlog files, `tracing` logs, or both (`trace::Both`); `None` traces
    /// nothing. The default logs through `tracing` at DEBUG level.
    pub tracer_factory: Option<Arc<dyn crate::trace::TracerFactory>>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        // A failing system RNG leaves fixed keys: tokens become guessable,
        // nothing crashes. ring's RNG does not fail on supported systems.
        let reset_key = ResetKey::random().unwrap_or_else(|_| ResetKey::from_bytes(&[0; 32]));
        let token_key = TokenKey::random().unwrap_or_else(|_| TokenKey::from_bytes(&[0; 32]));
        EndpointConfig {
            cid_generator: Arc::new(RandomConnectionIdGenerator::default()),
            reset_key: Arc::new(reset_key),
            token_key: Arc::new(token_key),
            retry_token_lifetime: RETRY_TOKEN_LIFETIME,
            new_token_lifetime: NEW_TOKEN_LIFETIME,
            verify_source_address: None,
            max_udp_payload_size: 1472,
            supported_versions: Version::SUPPORTED.to_vec(),
            send_version_negotiation: true,
            max_incoming: DEFAULT_MAX_INCOMING,
            // Events go to the `tracing` crate when its DEBUG level is on
            // for `kite_proto::trace`; otherwise no tracer is even built.
            tracer_factory: Some(Arc::new(crate::trace::TracingFactory)),
        }
    }
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("cid_len", &self.cid_generator.cid_len())
            .field("supported_versions", &self.supported_versions)
            .field("max_incoming", &self.max_incoming)
            .finish_non_exhaustive()
    }
}

/// Names a connection within its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(pub usize);

/// What a datagram turned into.
#[derive(Debug)]
pub enum DatagramEvent {
    /// It belongs to an existing connection: hand the event to it.
    ConnectionEvent(ConnectionHandle, ConnectionEvent),
    /// A new incoming connection, already fed its first datagram (unless
    /// [`Endpoint::set_defer_first_datagram`] is on).
    NewConnection(ConnectionHandle, Box<Connection>),
    /// A stateless answer written into the response buffer: send it.
    Response(Transmit),
}

/// Routes datagrams for every connection on one socket.
pub struct Endpoint {
    config: EndpointConfig,
    server: Option<Arc<ServerConfig>>,
    /// Our connection IDs and the client-chosen original DCIDs, by connection.
    routes: HashMap<ConnectionId, ConnectionHandle>,
    /// The IDs each connection is reachable by, to forget them together.
    ids_of: HashMap<ConnectionHandle, Vec<ConnectionId>>,
    /// The client's original DCID of each server connection still routed.
    original_dcid_of: HashMap<ConnectionHandle, ConnectionId>,
    /// Server connections still in their handshake.
    handshaking: HashSet<ConnectionHandle>,
    /// Handshaken connections the application has not accepted yet, as the
    /// runtime last reported.
    accept_backlog: usize,
    /// Server connections that get a NEW_TOKEN once confirmed, with the
    /// client's address.
    token_address: HashMap<ConnectionHandle, SocketAddr>,
    /// Peers' stateless reset tokens, to route resets whose CID is random.
    reset_tokens: HashMap<crate::cid::ResetToken, ConnectionHandle>,
    /// The token each connection is routed by: one, its peer's CID in use.
    token_of: HashMap<ConnectionHandle, crate::cid::ResetToken>,
    next_handle: usize,
    rng: ring::rand::SystemRandom,
    reset_limiter: stateless::ResetLimiter,
    /// Wall clock for tokens: `(instant, unix seconds)` read together.
    wall_clock: Option<(Instant, u64)>,
    /// Original DCIDs of handshakes already confirmed, and when, so that a
    /// replayed first Initial does not start another handshake.
    retired_odcids: retired::RetiredOdcids,
    /// 0-RTT datagrams that came before their Initial, by destination CID.
    early_queues: HashMap<ConnectionId, EarlyQueue>,
    /// Where drops before any connection exists are reported.
    tracer: Option<Box<dyn crate::trace::Tracer>>,
    /// New server connections come back before their first datagram is
    /// processed (see [`Endpoint::set_defer_first_datagram`]).
    defer_first_datagram: bool,
    /// The first datagrams of such connections, until the runtime takes them.
    pending: HashMap<ConnectionHandle, Vec<ConnectionEvent>>,
}

impl Endpoint {
    /// An endpoint; with a server config it accepts connections.
    pub fn new(config: EndpointConfig, server: Option<Arc<ServerConfig>>) -> Self {
        let tracer = config
            .tracer_factory
            .as_ref()
            .and_then(|factory| factory.endpoint_tracer());
        Endpoint {
            tracer,
            config,
            server,
            routes: HashMap::new(),
            ids_of: HashMap::new(),
            original_dcid_of: HashMap::new(),
            handshaking: HashSet::new(),
            accept_backlog: 0,
            token_address: HashMap::new(),
            reset_tokens: HashMap::new(),
            token_of: HashMap::new(),
            next_handle: 0,
            rng: ring::rand::SystemRandom::new(),
            reset_limiter: Default::default(),
            wall_clock: None,
            early_queues: HashMap::new(),
            retired_odcids: retired::RetiredOdcids::new(RETIRED_ODCID_MEMORY, MAX_RETIRED_ODCIDS),
            defer_first_datagram: false,
            pending: HashMap::new(),
        }
    }

    /// With `defer`, a new server connection comes back from
    /// [`Endpoint::handle_datagram`] before its first datagram is processed:
    /// the runtime takes that datagram (and the 0-RTT ones that overtook it)
    /// with [`Endpoint::take_pending_events`] and feeds them to the connection
    /// wherever it runs. The ClientHello's key exchange and signature, the
    /// dearest part of a handshake, then run outside the endpoint. The
    /// runtime must call [`Endpoint::abandon`] for a connection that opened
    /// no packet from them. Off by default: the connection comes back fed.
    pub fn set_defer_first_datagram(&mut self, defer: bool) {
        self.defer_first_datagram = defer;
    }

    /// The events a connection created with deferral must handle first, in
    /// order; empty for any other connection, or once taken.
    pub fn take_pending_events(&mut self, handle: ConnectionHandle) -> Vec<ConnectionEvent> {
        self.pending.remove(&handle).unwrap_or_default()
    }

    /// Forgets a server connection whose first datagram opened no packet
    /// (RFC 9001 §5.3: such an Initial is discarded); the runtime drops the
    /// connection. Only for connections created with deferral.
    pub fn abandon(&mut self, handle: ConnectionHandle) {
        self.forget(handle);
    }

    /// Starts or stops accepting connections.
    pub fn set_server_config(&mut self, server: Option<Arc<ServerConfig>>) {
        self.server = server;
    }

    /// Anchors token times to the wall clock: `unix_secs` seconds since the
    /// UNIX epoch at `now`. Without it, token times count from the first
    /// datagram, which is enough while tokens are checked by this process.
    pub fn set_wall_clock(&mut self, now: Instant, unix_secs: u64) {
        self.wall_clock = Some((now, unix_secs));
    }

    /// Starts a client connection to `remote`.
    pub fn connect(
        &mut self,
        now: Instant,
        config: ClientConfig,
        remote: SocketAddr,
        server_name: &str,
    ) -> Result<(ConnectionHandle, Box<Connection>), ConnectError> {
        let local = self.new_cid();
        // RFC 9000 §7.2: the first DCID is random, at least 8 bytes.
        let original_dcid = self.random_cid(8);
        let handle = self.next_handle();
        let ids = ConnectionIds {
            local,
            remote: original_dcid,
            original_dcid,
            retried_from: None,
            reset_token: None,
        };
        let mut conn = Connection::new_client(now, &config, remote, server_name, ids)?;
        if let Some(tracer) = self.connection_tracer(crate::Side::Client, &original_dcid) {
            conn.set_tracer(now, tracer);
        }
        self.route(handle, local);
        Ok((handle, Box::new(conn)))
    }

    /// Handles one received datagram.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
        response_buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let ecn = ecn.unwrap_or(EcnCodepoint::NotEct);
        let cid_len = self.config.cid_generator.cid_len();
        let Ok(invariant) = InvariantHeader::parse(&data, cid_len) else {
            self.trace_drop(now, None, data.len(), DropReason::HeaderParseError);
            return None;
        };
        let dcid = ConnectionId::new(invariant.dcid()).ok();
        if let Some(handle) = dcid.and_then(|cid| self.routes.get(&cid)).copied() {
            return Some(DatagramEvent::ConnectionEvent(
                handle,
                ConnectionEvent(ConnectionEventInner::Datagram {
                    now,
                    remote,
                    ecn,
                    data,
                }),
            ));
        }
        let Some(version) = invariant.version() else {
            // RFC 9000 §10.3.1: a stateless reset from a peer carries a
            // random CID; its last 16 bytes name the connection.
            if let Some(handle) = crate::cid::reset_token_candidate(&data)
                .and_then(|token| self.reset_tokens.get(&token))
                .copied()
            {
                return Some(DatagramEvent::ConnectionEvent(
                    handle,
                    ConnectionEvent(ConnectionEventInner::Datagram {
                        now,
                        remote,
                        ecn,
                        data,
                    }),
                ));
            }
            // A short header for an ID we do not know: tell the peer its
            // connection is gone (RFC 9000 §10.3).
            let len = data.len();
            self.trace_drop(
                now,
                Some(PacketType::OneRtt),
                len,
                DropReason::UnknownConnectionId,
            );
            return self.stateless_reset(now, invariant.dcid(), len, remote, response_buf);
        };
        if version == Version::NEGOTIATION {
            // RFC 9000 §6.1: a server never answers a VN packet.
            let ty = Some(PacketType::VersionNegotiation);
            self.trace_drop(now, ty, data.len(), DropReason::Unexpected);
            return None;
        }
        if !self.config.supported_versions.contains(&version) {
            self.trace_drop(now, None, data.len(), DropReason::UnsupportedVersion);
            return self.version_negotiation(&invariant, data.len(), remote, response_buf);
        }
        self.handle_first_initial(now, remote, ecn, version, data, response_buf)
    }

    /// An Initial for no known connection: the seed's `handleInitialImpl`.
    fn handle_first_initial(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        version: Version,
        data: BytesMut,
        response_buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let server = self.server.clone()?;
        let Ok(parsed) = ParsedHeader::parse(&data, self.config.cid_generator.cid_len()) else {
            self.trace_drop(now, None, data.len(), DropReason::HeaderParseError);
            return None;
        };
        let packet_type = parsed.header.packet_type();
        if packet_type == PacketType::ZeroRtt && server.transport.allow_0rtt {
            let Ok(dcid) = ConnectionId::new(parsed.header.dcid()) else {
                return None;
            };
            self.queue_early(now, dcid, remote, ecn, data);
            return None;
        }
        if packet_type != PacketType::Initial {
            // Handshake for a gone connection, 0-RTT we do not take.
            self.trace_drop(
                now,
                Some(packet_type),
                data.len(),
                DropReason::UnknownConnectionId,
            );
            return None;
        }
        // RFC 9000 §14.1: Initials in datagrams under 1200 bytes are dropped.
        if data.len() < MIN_UDP_PAYLOAD {
            self.trace_drop(now, None, data.len(), DropReason::InitialTooSmall);
            return None;
        }
        let Header::Long { header, .. } = parsed.header else {
            return None;
        };
        let client_dcid = header.dcid;
        let client_scid = header.scid;
        // RFC 9000 §7.2: a client's first DCID is at least 8 bytes.
        if client_dcid.len() < 8 {
            return None;
        }
        if self.handshaking.len() + self.accept_backlog >= self.config.max_incoming {
            return self.close_initial(
                version,
                &client_dcid,
                &client_scid,
                (TransportErrorCode::CONNECTION_REFUSED, b"server busy"),
                remote,
                response_buf,
            );
        }
        let unix_now = self.unix_secs(now);
        let mut validated = false;
        let mut retried_from = None;
        if !header.token.is_empty() {
            match crate::crypto::open_token(
                &self.config.token_key,
                header.token,
                remote,
                unix_now,
                self.config.retry_token_lifetime,
                self.config.new_token_lifetime,
            ) {
                Ok(ValidatedToken::Retry {
                    original_dcid,
                    retry_scid,
                }) if retry_scid == client_dcid => {
                    validated = true;
                    retried_from = Some(original_dcid);
                }
                Ok(ValidatedToken::NewToken) => validated = true,
                // RFC 9000 §8.1.3: a bad Retry token closes with INVALID_TOKEN;
                // a bad NEW_TOKEN token is ignored (it may be from elsewhere).
                Ok(ValidatedToken::Retry { .. }) | Err(_)
                    if crate::crypto::token_kind(header.token) == Some(TokenKind::Retry) =>
                {
                    return self.close_initial(
                        version,
                        &client_dcid,
                        &client_scid,
                        (TransportErrorCode::INVALID_TOKEN, b"invalid Retry token"),
                        remote,
                        response_buf,
                    );
                }
                Ok(ValidatedToken::Retry { .. })
                | Err(TokenError::Malformed)
                | Err(TokenError::Forged)
                | Err(TokenError::Expired)
                | Err(TokenError::WrongAddress) => {}
            }
        }
        if !validated && self.wants_retry(remote) {
            return self.retry(
                version,
                &client_dcid,
                &client_scid,
                remote,
                unix_now,
                response_buf,
            );
        }
        let local = self.new_cid();
        let handle = self.next_handle();
        let ids = ConnectionIds {
            local,
            remote: client_scid,
            original_dcid: client_dcid,
            retried_from,
            reset_token: Some(self.config.reset_key.token(&local)),
        };
        // A replay of a finished handshake's first Initial starts nothing.
        if self.retired_odcids.contains(&client_dcid, now) {
            let ty = Some(PacketType::Initial);
            self.trace_drop(now, ty, data.len(), DropReason::Duplicate);
            return None;
        }
        let mut conn =
            Connection::new_server(now, &server, version, remote, ids, validated).ok()?;
        let odcid = retried_from.unwrap_or(client_dcid);
        if let Some(factory) = self.config.tracer_factory.clone() {
            conn.defer_tracer(crate::connection::DeferredTracer {
                factory,
                side: crate::Side::Server,
                original_dcid: odcid,
            });
        }
        self.route(handle, local);
        self.route(handle, client_dcid);
        self.original_dcid_of.insert(handle, client_dcid);
        self.handshaking.insert(handle);
        self.token_address.insert(handle, remote);
        let first = ConnectionEvent(ConnectionEventInner::Datagram {
            now,
            remote,
            ecn,
            data,
        });
        if self.defer_first_datagram {
            let mut events = vec![first];
            events.extend(self.take_early_queue(&client_dcid, now));
            self.pending.insert(handle, events);
            return Some(DatagramEvent::NewConnection(handle, Box::new(conn)));
        }
        conn.handle_event(first);
        // An Initial that does not decrypt creates nothing (RFC 9001 §5.3:
        // it is discarded); a flood of forged ones costs no state.
        if !conn.has_received_packets() {
            self.forget(handle);
            return None;
        }
        // The 0-RTT packets that overtook this Initial follow it now.
        for event in self.take_early_queue(&client_dcid, now) {
            conn.handle_event(event);
        }
        Some(DatagramEvent::NewConnection(handle, Box::new(conn)))
    }

    /// The 0-RTT datagrams for `dcid` that came before its Initial, as
    /// events for the new connection; none if their queue has expired.
    fn take_early_queue(
        &mut self,
        dcid: &ConnectionId,
        now: Instant,
    ) -> impl Iterator<Item = ConnectionEvent> + use<> {
        self.early_queues
            .remove(dcid)
            .filter(|queue| now.saturating_duration_since(queue.created) < EARLY_QUEUE_LIFETIME)
            .into_iter()
            .flat_map(|queue| queue.datagrams)
            .map(move |(remote, ecn, data)| {
                ConnectionEvent(ConnectionEventInner::Datagram {
                    now,
                    remote,
                    ecn,
                    data,
                })
            })
    }

    /// Takes an event a connection produced; may answer with one for it.
    pub fn handle_event(
        &mut self,
        handle: ConnectionHandle,
        event: EndpointEvent,
    ) -> Option<ConnectionEvent> {
        match event.0 {
            EndpointEventInner::Drained => self.forget(handle),
            EndpointEventInner::PeerResetToken(token) => self.route_reset_token(handle, token),
            EndpointEventInner::HandshakeConfirmed { now } => {
                self.handshaking.remove(&handle);
                // RFC 9000 §5.1: the client's chosen DCID routes here only
                // until the handshake is done.
                if let Some(odcid) = self.original_dcid_of.remove(&handle) {
                    self.unroute(handle, &odcid);
                    self.retired_odcids.remember(odcid, now);
                }
                // RFC 9000 §8.1.3: a token for the client's next connection.
                let address = self.token_address.remove(&handle)?;
                let unix_now = self.unix_secs(now);
                let token =
                    crate::crypto::seal_new_token(&self.config.token_key, address.ip(), unix_now)
                        .ok()?;
                return Some(ConnectionEvent(ConnectionEventInner::NewToken(
                    Bytes::from(token),
                )));
            }
            EndpointEventInner::RetireId(cid) => self.unroute(handle, &cid),
            EndpointEventInner::NeedIds(count) => {
                let ids = (0..count.min(crate::connection::MAX_ISSUED_CIDS))
                    .map(|_| {
                        let cid = self.new_cid();
                        self.route(handle, cid);
                        (cid, self.config.reset_key.token(&cid))
                    })
                    .collect();
                return Some(ConnectionEvent(ConnectionEventInner::NewIds(ids)));
            }
        }
        None
    }

    /// Tells the endpoint how many handshaken connections wait for the
    /// application to accept them; with those in handshake they count
    /// against [`EndpointConfig::max_incoming`].
    pub fn set_accept_backlog(&mut self, waiting: usize) {
        self.accept_backlog = waiting;
    }

    /// Connection IDs the endpoint routes, over all connections.
    pub fn routed_ids(&self) -> usize {
        self.routes.len()
    }

    /// Connections the endpoint still routes to.
    pub fn open_connections(&self) -> usize {
        self.ids_of.len()
    }

    /// Server connections whose handshake is in progress.
    pub fn handshakes_in_progress(&self) -> usize {
        self.handshaking.len()
    }

    /// Holds a 0-RTT datagram for a connection whose Initial has not come,
    /// within the queue bounds; what does not fit is dropped and traced.
    fn queue_early(
        &mut self,
        now: Instant,
        dcid: ConnectionId,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        data: BytesMut,
    ) {
        self.early_queues
            .retain(|_, q| now.saturating_duration_since(q.created) < EARLY_QUEUE_LIFETIME);
        let size = data.len();
        let queues = self.early_queues.len();
        let queue = match self.early_queues.get_mut(&dcid) {
            Some(queue) => queue,
            None if queues < MAX_EARLY_QUEUES => {
                self.early_queues.entry(dcid).or_insert(EarlyQueue {
                    created: now,
                    datagrams: Vec::new(),
                })
            }
            None => {
                let ty = Some(PacketType::ZeroRtt);
                self.trace_drop(now, ty, size, DropReason::QueueFull);
                return;
            }
        };
        if queue.datagrams.len() >= MAX_EARLY_DATAGRAMS {
            self.trace_drop(now, Some(PacketType::ZeroRtt), size, DropReason::QueueFull);
            return;
        }
        queue.datagrams.push((remote, ecn, data));
    }

    fn connection_tracer(
        &self,
        side: crate::Side,
        original_dcid: &ConnectionId,
    ) -> Option<Box<dyn crate::trace::Tracer>> {
        self.config
            .tracer_factory
            .as_ref()?
            .new_connection(side, original_dcid)
    }

    fn trace_drop(
        &mut self,
        now: Instant,
        packet_type: Option<PacketType>,
        size: usize,
        reason: DropReason,
    ) {
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.event(
                now,
                &crate::trace::TraceEvent::PacketDropped(crate::trace::PacketDropped {
                    packet_type,
                    pn: None,
                    size,
                    reason,
                }),
            );
        }
    }

    fn wants_retry(&self, remote: SocketAddr) -> bool {
        match &self.config.verify_source_address {
            Some(verify) => verify(remote),
            None => self.handshaking.len() >= DEFAULT_RETRY_THRESHOLD,
        }
    }

    /// Seconds since the UNIX epoch at `now`, for token times.
    fn unix_secs(&mut self, now: Instant) -> u64 {
        let (anchor, secs) = *self.wall_clock.get_or_insert((now, 0));
        secs + now.saturating_duration_since(anchor).as_secs()
    }

    fn next_handle(&mut self) -> ConnectionHandle {
        let handle = ConnectionHandle(self.next_handle);
        self.next_handle += 1;
        handle
    }

    fn route(&mut self, handle: ConnectionHandle, cid: ConnectionId) {
        self.routes.insert(cid, handle);
        self.ids_of.entry(handle).or_default().push(cid);
    }

    /// Drops everything the endpoint keeps for a connection.
    fn forget(&mut self, handle: ConnectionHandle) {
        self.pending.remove(&handle);
        for cid in self.ids_of.remove(&handle).unwrap_or_default() {
            self.routes.remove(&cid);
        }
        self.original_dcid_of.remove(&handle);
        self.handshaking.remove(&handle);
        self.token_address.remove(&handle);
        self.route_reset_token(handle, None);
    }

    /// Routes stateless resets ending in `token` to `handle`, instead of the
    /// token it was routed by (RFC 9000 §10.3.1); `None` routes none.
    fn route_reset_token(
        &mut self,
        handle: ConnectionHandle,
        token: Option<crate::cid::ResetToken>,
    ) {
        if let Some(old) = self.token_of.remove(&handle)
            && self.reset_tokens.get(&old) == Some(&handle)
        {
            self.reset_tokens.remove(&old);
        }
        if let Some(token) = token {
            self.reset_tokens.insert(token, handle);
            self.token_of.insert(handle, token);
        }
    }

    fn unroute(&mut self, handle: ConnectionHandle, cid: &ConnectionId) {
        if self.routes.get(cid) == Some(&handle) {
            self.routes.remove(cid);
        }
        if let Some(ids) = self.ids_of.get_mut(&handle) {
            ids.retain(|c| c != cid);
        }
    }

    /// A connection ID of ours not routed yet. The generator's IDs are
    /// random; after a few collisions (a broken generator) the last one is
    /// used anyway, replacing the older route, rather than looping forever.
    fn new_cid(&mut self) -> ConnectionId {
        let mut cid = self.config.cid_generator.generate();
        for _ in 0..8 {
            if !self.routes.contains_key(&cid) {
                break;
            }
            cid = self.config.cid_generator.generate();
        }
        cid
    }

    fn random_cid(&self, len: usize) -> ConnectionId {
        let mut bytes = [0u8; crate::cid::MAX_CID_LEN];
        let len = len.min(crate::cid::MAX_CID_LEN);
        let _ = ring::rand::SecureRandom::fill(&self.rng, &mut bytes[..len]);
        ConnectionId::new(&bytes[..len]).unwrap_or(ConnectionId::EMPTY)
    }
}

#[cfg(test)]
mod tests;
