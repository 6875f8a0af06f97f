//! One QUIC connection's state machine (RFC 9000, 9001, 9002), sans-I/O.
//!
//! A [`Connection`] is fed routed datagrams ([`Connection::handle_event`]) and
//! timeouts ([`Connection::handle_timeout`]), and polled for datagrams
//! ([`Connection::poll_transmit`]), its next deadline
//! ([`Connection::poll_timeout`]), application events ([`Connection::poll`])
//! and events for its endpoint ([`Connection::poll_endpoint_event`]). Stream
//! calls (`open`, `write`, `read`, ...) act on its state directly.
//!
//! The work is split by concern: `handshake` (TLS, keys, transport
//! parameters), `receive` (opening packets, dispatching frames), `send`
//! (assembling packets), `recovery` (ACKs, loss, PTO, congestion), `close`
//! (closing and draining), `streams/` (everything about streams).
//!
//! Errors a caller can see: [`ConnectionError`] once the connection is lost
//! (peer close, local error, idle timeout, stateless reset, no common
//! version); [`WriteError`] / [`ReadError`] / [`ClosedStream`] from stream
//! calls.

mod cids;
pub(crate) use cids::MAX_ISSUED_CIDS;
mod close;
mod crypto_stream;
mod ecn;
mod events;
mod handshake;
mod inline_list;
mod mtu;
mod observe;
pub(crate) use observe::DeferredTracer;
mod receive;
mod recovery;
mod remote_cids;
mod send;
mod spaces;
mod stats;
pub mod streams;
mod timer;
mod zero_rtt;

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cid::ConnectionId;
use crate::config::TransportConfig;
use crate::crypto::{OneRttKeys, PacketKey};
use crate::packet::SpaceId;
use crate::recovery::cc::Controller;
use crate::recovery::loss::LossTimer;
use crate::recovery::pacer::Pacer;
use crate::recovery::rtt::RttEstimator;
use crate::stream_id::{Dir, Side, StreamId};
use crate::transport_params::TransportParameters;
use crate::version::Version;

pub use crate::recovery::ack_tracker::EcnCodepoint;
pub use events::{ConnectionError, Event, Transmit};
pub use stats::ConnectionStats;

pub use handshake::ConnectError;
pub(crate) use handshake::ConnectionIds;

use close::CloseState;
use spaces::{ControlFrame, PacketSpace};
use streams::{StreamEvent, Streams};
use timer::{Timer, TimerTable};

/// The smallest UDP payload every QUIC path must carry (RFC 9000 §14), and
/// what kite sends until path MTU discovery says more fits.
pub const MIN_UDP_PAYLOAD: usize = 1200;

/// PATH_RESPONSE frames queued at most; more PATH_CHALLENGEs in between are
/// answered only by the newest (RFC 9000 §8.2.2 allows dropping some).
const MAX_PENDING_PATH_RESPONSES: usize = 4;

/// Received DATAGRAMs waiting for the application at most; older ones are
/// dropped (RFC 9221 allows it), so a flood cannot grow memory.
const MAX_QUEUED_DATAGRAMS: usize = 128;

/// Connection IDs of the peer we keep (and our active_connection_id_limit).
pub(crate) const ACTIVE_CID_LIMIT: u64 = 4;

/// A datagram the endpoint routed to this connection.
#[derive(Debug)]
pub struct ConnectionEvent(pub(crate) ConnectionEventInner);

#[derive(Debug)]
pub(crate) enum ConnectionEventInner {
    Datagram {
        now: Instant,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        data: BytesMut,
    },
    /// Fresh connection IDs (and their reset tokens) to issue to the peer.
    NewIds(Vec<(ConnectionId, crate::cid::ResetToken)>),
    /// A token to give the client in NEW_TOKEN (RFC 9000 §8.1.3).
    NewToken(Bytes),
}

/// Something the connection tells its endpoint.
#[derive(Debug)]
pub struct EndpointEvent(pub(crate) EndpointEventInner);

impl EndpointEvent {
    /// Whether the connection is gone for good and its IDs can be forgotten.
    pub fn is_drained(&self) -> bool {
        matches!(self.0, EndpointEventInner::Drained)
    }
}

#[derive(Debug)]
pub(crate) enum EndpointEventInner {
    /// The connection ended; forget its connection IDs.
    Drained,
    /// The handshake is done: the client's original destination CID no
    /// longer needs to route here, and a server may send NEW_TOKEN.
    HandshakeConfirmed {
        /// When it was confirmed (token issue time).
        now: Instant,
    },
    /// Issue this many more connection IDs for us (RFC 9000 §5.1.1).
    NeedIds(u64),
    /// The peer retired this ID of ours: stop routing it.
    RetireId(ConnectionId),
    /// The stateless reset token of the peer's connection ID in use changed
    /// (or there is none): datagrams ending in it, and no longer in the one
    /// before, belong to this connection even if their CID is unknown
    /// (RFC 9000 §10.3.1).
    PeerResetToken(Option<crate::cid::ResetToken>),
}

/// A stream call on a stream that is closed, unknown, or of the wrong
/// direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stream closed or unknown")]
pub struct ClosedStream;

/// Why a write did not take data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Flow control or the send buffer is full: wait for `StreamWritable`.
    #[error("blocked")]
    Blocked,
    /// The peer sent STOP_SENDING with this code.
    #[error("stopped by peer with code {0}")]
    Stopped(u64),
    /// The stream was finished, reset or never existed.
    #[error("stream closed")]
    ClosedStream,
    /// The connection is gone.
    #[error("connection lost: {0}")]
    ConnectionLost(ConnectionError),
}

/// Why a read returned no data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Nothing to read yet: wait for `StreamReadable`.
    #[error("blocked")]
    Blocked,
    /// The peer reset the stream with this code.
    #[error("reset by peer with code {0}")]
    Reset(u64),
    /// The stream was already read to its end, stopped, or never existed.
    #[error("stream closed")]
    ClosedStream,
    /// The connection is gone.
    #[error("connection lost: {0}")]
    ConnectionLost(ConnectionError),
}

/// Where the connection is in its life (RFC 9000 §10).
#[derive(Debug)]
enum State {
    /// The handshake is running.
    Handshake,
    /// The handshake completed.
    Established,
    /// Closing or draining; holds what only those states need.
    Closed(CloseState),
    /// Nothing more to do; the endpoint may forget the connection.
    Drained,
}

/// One QUIC connection. See the module documentation for the call order.
pub struct Connection {
    side: Side,
    version: Version,
    config: Arc<TransportConfig>,
    state: State,
    tls: rustls::quic::Connection,
    spaces: [PacketSpace; 3],
    /// 0-RTT keys and outcome.
    zero_rtt: zero_rtt::ZeroRtt,
    /// Whether the packet being processed came in 0-RTT.
    current_packet_early: bool,
    /// 1-RTT keys and their key-update state.
    one_rtt: Option<Box<OneRttKeys>>,
    key_update: KeyUpdateState,
    /// Space the next TLS handshake bytes belong to.
    tls_write_space: SpaceId,
    handshake_complete: bool,
    handshake_confirmed: bool,
    peer_params: Option<TransportParameters>,
    local_params: TransportParameters,
    /// Our connection ID, as the peer addresses us.
    local_cid: ConnectionId,
    /// The Destination CID of the client's first Initial (RFC 9000 §7.3).
    original_dcid: ConnectionId,
    /// Client: the SCID of the Retry we followed; server: the CID it chose
    /// in its Retry. Checked against retry_source_connection_id (§7.3).
    retry_scid: Option<ConnectionId>,
    /// Client: the token to put in every Initial (from a Retry or NEW_TOKEN).
    initial_token: Bytes,
    /// Client: the server's name and where to keep its NEW_TOKEN tokens.
    token_store: Option<(String, Arc<dyn crate::config::TokenStore>)>,
    /// Connection IDs we issued, by sequence number.
    local_cids: cids::LocalCids,
    /// Connection IDs the peer issued with their reset tokens; packets go
    /// to the active one (RFC 9000 §5.1.1, §10.3.1).
    remote_cids: remote_cids::RemoteCids,
    /// Frames about connection IDs and other control waiting to be sent.
    pending_controls: VecDeque<ControlFrame>,
    remote: SocketAddr,
    /// Server side: whether the client's address is validated (RFC 9000 §8.1).
    address_validated: bool,
    /// Client side: whether the server has validated our address (RFC 9002
    /// §6.2.2.1: a Handshake packet was acknowledged or the handshake confirmed).
    peer_validated_address: bool,
    /// Bytes received from and sent to the unvalidated address (RFC 9000 §8.1).
    amplification_received: u64,
    amplification_sent: u64,
    max_datagram_size: usize,
    rtt: RttEstimator,
    cc: Box<dyn Controller>,
    pacer: Pacer,
    pto_count: u32,
    /// Times the handshake data went out early on signs that the peer
    /// lacks it (RFC 9002 §6.2.3), bounded by `MAX_FLIGHT_REPEATS`.
    flight_repeats: u8,
    loss_timer: Option<LossTimer>,
    streams: Streams,
    timers: TimerTable,
    idle_timeout: Option<Duration>,
    /// An ack-eliciting packet was sent since the last packet received: the
    /// idle timer restarts only on the first such send (RFC 9000 §10.1).
    sent_ack_eliciting_since_receive: bool,
    handshake_done_pending: bool,
    ping_pending: bool,
    path_responses: VecDeque<[u8; 8]>,
    events: VecDeque<Event>,
    endpoint_events: VecDeque<EndpointEventInner>,
    stats: ConnectionStats,
    /// The error that ended the connection, kept for later stream calls.
    error: Option<ConnectionError>,
    /// Server with `get_config_for_client`: TLS waits for the whole
    /// ClientHello before the config is chosen.
    awaiting_client_hello: bool,
    /// Path MTU discovery, once the handshake is confirmed.
    mtu: Option<mtu::MtuDiscovery>,
    /// ECN marking and validation.
    ecn: ecn::Ecn,
    /// Whether the datagrams being written now are marked ECT(0).
    marking: bool,
    /// DATAGRAM events waiting in `events`.
    queued_datagrams: usize,
    /// Where events go (qlog, logs); `None` builds no events at all.
    tracer: Option<Box<dyn crate::trace::Tracer>>,
    /// A tracer to create once the first packet decrypts (server side), so
    /// forged Initials open no qlog files.
    deferred_tracer: Option<observe::DeferredTracer>,
    /// The state last reported to the tracer.
    traced_state: Option<crate::trace::ConnectionState>,
    /// The recovery metrics last reported to the tracer.
    traced_metrics: crate::trace::RecoveryMetrics,
    /// Scratch buffer for acknowledged and lost packets, kept to avoid
    /// allocating per ACK.
    scratch: Vec<crate::recovery::sent::SentPacket<spaces::SentFrames>>,
}

/// Key update bookkeeping (RFC 9001 §6).
#[derive(Default)]
struct KeyUpdateState {
    /// Remote packet key of the previous phase, kept for reordered packets
    /// until [`Timer::KeyDiscard`] fires.
    previous_remote: Option<PacketKey>,
    /// First packet number we sent in the current phase.
    first_sent_in_phase: Option<u64>,
    /// First packet number received in the current phase.
    first_received_in_phase: Option<u64>,
    /// Whether a packet of the current phase was acknowledged: RFC 9001
    /// §6.1 forbids another update before.
    phase_acked: bool,
    /// Packets sent under the current key (AEAD confidentiality limit).
    packets_sent_in_phase: u64,
    /// Undecryptable 1-RTT packets seen (AEAD integrity limit, §6.6).
    failed_decryptions: u64,
    /// The application asked for an update.
    forced: bool,
}

impl Connection {
    // ---- inputs -------------------------------------------------------

    /// Handles a datagram the endpoint routed here.
    pub fn handle_event(&mut self, event: ConnectionEvent) {
        match event.0 {
            ConnectionEventInner::Datagram {
                now,
                remote,
                ecn,
                data,
            } => self.handle_datagram(now, remote, ecn, data),
            ConnectionEventInner::NewIds(ids) => self.on_new_local_ids(ids),
            ConnectionEventInner::NewToken(token) => {
                if self.side == Side::Server && self.is_usable() {
                    self.push_control(ControlFrame::NewToken(token));
                }
            }
        }
    }

    /// Serves every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                Timer::LossDetection => self.on_loss_detection_timeout(now),
                Timer::AckDelay | Timer::Pacing => {} // poll_transmit sends
                Timer::Idle => self.on_idle_timeout(now),
                Timer::Handshake => {
                    if !self.handshake_complete {
                        self.on_idle_timeout(now);
                    }
                }
                Timer::KeepAlive => {
                    self.ping_pending = true;
                }
                Timer::Close => self.on_drained(now),
                Timer::KeyDiscard => self.key_update.previous_remote = None,
            }
        }
        self.update_ack_timer();
    }

    // ---- outputs ------------------------------------------------------

    /// When [`Connection::handle_timeout`] should next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next application event.
    pub fn poll(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            if matches!(event, Event::DatagramReceived(_)) {
                self.queued_datagrams -= 1;
            }
            return Some(event);
        }
        let event = self.streams.poll_event()?;
        Some(match event {
            StreamEvent::Opened { dir } => Event::StreamOpened(dir),
            StreamEvent::Readable { id } => Event::StreamReadable(id),
            StreamEvent::Writable { id } => Event::StreamWritable(id),
            StreamEvent::Finished { id } => Event::StreamFinished(id),
            StreamEvent::Stopped { id, error_code } => Event::StreamStopped { id, error_code },
            StreamEvent::Available { dir } => Event::StreamsAvailable(dir),
        })
    }

    /// The next event for the endpoint.
    pub fn poll_endpoint_event(&mut self) -> Option<EndpointEvent> {
        self.endpoint_events.pop_front().map(EndpointEvent)
    }

    // ---- application commands ----------------------------------------

    /// Opens a stream; `None` while the peer's stream limit is reached.
    pub fn open(&mut self, dir: Dir) -> Option<StreamId> {
        if !self.is_usable() {
            return None;
        }
        self.streams.open(dir).ok()
    }

    /// Takes the next stream the peer opened.
    pub fn accept(&mut self, dir: Dir) -> Option<StreamId> {
        self.streams.accept(dir)
    }

    /// Writes as much of `data` as flow control and buffers allow.
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, WriteError> {
        let mut bytes = Bytes::copy_from_slice(data);
        self.write_bytes(id, &mut bytes)
    }

    /// Writes from the front of `data` without copying, advancing it past
    /// what was taken.
    pub fn write_bytes(&mut self, id: StreamId, data: &mut Bytes) -> Result<usize, WriteError> {
        if let Some(err) = &self.error {
            return Err(WriteError::ConnectionLost(err.clone()));
        }
        match self.streams.write(id, data.clone()) {
            Ok(n) => {
                let _ = data.split_to(n.min(data.len()));
                Ok(n)
            }
            Err(e) => Err(map_write_error(e)),
        }
    }

    /// Ends the stream's data (a FIN is sent after what was written).
    pub fn finish(&mut self, id: StreamId) -> Result<(), ClosedStream> {
        self.streams.finish(id).map_err(|_| ClosedStream)
    }

    /// Abandons sending on a stream (RESET_STREAM).
    pub fn reset(&mut self, id: StreamId, error_code: u64) -> Result<(), ClosedStream> {
        self.streams.reset(id, error_code).map_err(|_| ClosedStream)
    }

    /// Reads up to `max` in-order bytes; `Ok(None)` at the end of the stream.
    pub fn read(&mut self, id: StreamId, max: usize) -> Result<Option<Bytes>, ReadError> {
        match self.streams.read(id, max) {
            Ok(v) => Ok(v),
            Err(e) => {
                let mapped = map_read_error(e);
                if mapped == ReadError::Blocked
                    && let Some(err) = &self.error
                {
                    return Err(ReadError::ConnectionLost(err.clone()));
                }
                Err(mapped)
            }
        }
    }

    /// Asks the peer to stop sending on a stream (STOP_SENDING).
    pub fn stop(&mut self, id: StreamId, error_code: u64) -> Result<(), ClosedStream> {
        self.streams.stop(id, error_code).map_err(|_| ClosedStream)
    }

    /// Starts a key update now (RFC 9001 §6), if one is allowed.
    pub fn force_key_update(&mut self) {
        self.key_update.forced = true;
    }

    /// Whether stream frames wait to be sent: data that may go now, or
    /// control frames such as flow-control updates. An I/O layer can check it
    /// around a read or write: only when it turns true did the call give the
    /// sender new work; while it stays true, the sender already has some and
    /// runs again when acknowledgements, timers or credit let it.
    pub fn has_stream_work(&self) -> bool {
        self.streams.has_pending_control() || self.streams.has_stream_data()
    }

    // ---- getters --------------------------------------------------------

    /// Whether the handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        !self.handshake_complete
    }

    /// Whether the connection is closing, draining or drained.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_) | State::Drained)
    }

    /// Whether the connection is completely finished.
    pub fn is_drained(&self) -> bool {
        matches!(self.state, State::Drained)
    }

    /// The largest UDP payload the connection sends now (grows with path MTU
    /// discovery): the segment size of full GSO batches.
    pub fn max_datagram_size(&self) -> usize {
        self.max_datagram_size
    }

    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.remote
    }

    /// Which side of the connection we are.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The QUIC version in use.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The negotiated application protocol.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.tls.alpn_protocol()
    }

    /// Our connection ID.
    pub fn local_cid(&self) -> ConnectionId {
        self.local_cid
    }

    /// The transport parameters we sent.
    pub fn local_params(&self) -> &TransportParameters {
        &self.local_params
    }

    /// Client: the source CID of the Retry it followed, if it followed one.
    pub fn retry_source_cid(&self) -> Option<ConnectionId> {
        self.retry_scid
    }

    /// Whether any packet was opened on this connection.
    pub fn has_received_packets(&self) -> bool {
        self.spaces.iter().any(|s| s.any_received)
    }

    /// How many of the peer's connection IDs we hold (RFC 9000 §5.1.1).
    pub fn peer_cid_count(&self) -> usize {
        self.remote_cids.len()
    }

    /// The peer's transport parameters, once received.
    pub fn peer_params(&self) -> Option<&TransportParameters> {
        self.peer_params.as_ref()
    }

    /// Counters and recovery state.
    pub fn stats(&self) -> ConnectionStats {
        let mut stats = self.stats;
        stats.rtt = self.rtt.smoothed_rtt();
        stats.min_rtt = self.rtt.min_rtt();
        stats.cwnd = self.cc.window();
        stats.bytes_in_flight = self.bytes_in_flight();
        stats.max_datagram_size = self.max_datagram_size as u64;
        stats
    }

    /// The error that ended the connection, if it ended.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_ref()
    }

    // ---- shared helpers -------------------------------------------------

    fn is_usable(&self) -> bool {
        matches!(self.state, State::Handshake | State::Established)
    }

    fn space(&self, id: SpaceId) -> &PacketSpace {
        &self.spaces[id as usize]
    }

    fn space_mut(&mut self, id: SpaceId) -> &mut PacketSpace {
        &mut self.spaces[id as usize]
    }

    fn bytes_in_flight(&self) -> u64 {
        self.spaces.iter().map(|s| s.sent.bytes_in_flight()).sum()
    }

    /// The peer's max_ack_delay, which PTO and persistent congestion use.
    fn peer_max_ack_delay(&self) -> Duration {
        self.peer_params
            .as_ref()
            .map_or(Duration::from_millis(25), |p| p.max_ack_delay)
    }

    /// Restarts the idle timer (RFC 9000 §10.1): the effective timeout is at
    /// least three PTOs so that probes can repair losses first.
    fn reset_idle_timer(&mut self, now: Instant) {
        let timeout = if self.handshake_complete {
            self.idle_timeout
        } else {
            Some(self.config.handshake_idle_timeout)
        };
        let Some(timeout) = timeout else {
            self.timers.stop(Timer::Idle);
            return;
        };
        let floor = self.pto_duration(SpaceId::Data) * 3;
        self.timers.set(Timer::Idle, now + timeout.max(floor));
        if let Some(period) = self.config.keep_alive_period
            && self.handshake_complete
        {
            self.timers.set(Timer::KeepAlive, now + period);
        }
    }

    /// One PTO period for `space`, without backoff (RFC 9002 §6.2.1).
    fn pto_duration(&self, space: SpaceId) -> Duration {
        let base = self.rtt.pto_base();
        if space == SpaceId::Data {
            base + self.peer_max_ack_delay()
        } else {
            base
        }
    }

    fn update_ack_timer(&mut self) {
        if !self.is_usable() {
            return; // closing, draining or drained: no more ACKs (RFC 9000 §10.2)
        }
        let deadline = self
            .spaces
            .iter()
            .filter(|s| !s.discarded)
            .filter_map(|s| s.acks.ack_deadline())
            .min();
        self.timers.set_or_stop(Timer::AckDelay, deadline);
    }

    /// Queues a received DATAGRAM for the application, dropping the oldest
    /// past [`MAX_QUEUED_DATAGRAMS`] (RFC 9221 §5: delivery is unreliable).
    fn on_datagram_received(&mut self, data: Bytes) {
        if self.queued_datagrams >= MAX_QUEUED_DATAGRAMS {
            if let Some(index) = self
                .events
                .iter()
                .position(|e| matches!(e, Event::DatagramReceived(_)))
            {
                self.events.remove(index);
                self.queued_datagrams -= 1;
            }
        }
        self.queued_datagrams += 1;
        self.events.push_back(Event::DatagramReceived(data));
    }

    fn push_control(&mut self, frame: ControlFrame) {
        self.pending_controls.push_back(frame);
    }
}

fn map_write_error(e: streams::WriteError) -> WriteError {
    match e {
        streams::WriteError::Blocked => WriteError::Blocked,
        streams::WriteError::Stopped(code) => WriteError::Stopped(code),
        _ => WriteError::ClosedStream,
    }
}

fn map_read_error(e: streams::ReadError) -> ReadError {
    match e {
        streams::ReadError::Blocked => ReadError::Blocked,
        streams::ReadError::Reset(code) => ReadError::Reset(code),
        _ => ReadError::ClosedStream,
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.side)
            .field("state", &self.state)
            .field("local_cid", &self.local_cid)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
