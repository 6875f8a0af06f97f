//! Connection tracing: the typed [`TraceEvent`]s a connection or endpoint emits where it
//! decides (a packet sent, received, dropped or lost, a state change, new keys, recovery
//! metrics, transport parameters, the close), and the [`Tracer`] they go to.
//! [`qlog`] writes them as qlog JSON-SEQ files (draft-ietf-quic-qlog-main-schema,
//! draft-ietf-quic-qlog-quic-events); [`TracingTracer`] hands them to the `tracing` crate.

mod frames;
mod logger;
pub mod qlog;

#[cfg(test)]
mod tests;

pub use frames::{AckSummary, FrameSummary, TRACED_ACK_RANGES};
pub use logger::{LOG_TARGET, TracingFactory, TracingTracer};

use crate::cid::ConnectionId;
use crate::error::TransportErrorCode;
use crate::packet::PacketType;
use crate::stream_id::Side;
use crate::transport_params::TransportParameters;
use std::time::{Duration, Instant};

/// A sink for the events of one connection (or of an endpoint, for packets that belong
/// to no connection).
///
/// The protocol core calls [`event`](Tracer::event) at the point of decision, with the
/// time it was given for that input; it builds events only when a tracer is installed.
/// A tracer must not panic and must not fail the connection: sinks doing I/O keep their
/// errors to themselves (see [`qlog::QlogWriter`]).
pub trait Tracer: Send {
    /// Records one event that happened at `now`.
    fn event(&mut self, now: Instant, event: &TraceEvent<'_>);
}

/// Makes a [`Tracer`] for each new connection, and optionally one for the endpoint.
///
/// Shared by the endpoint across threads, hence `Send + Sync`. Returning `None` turns
/// tracing off for that connection at no further cost.
pub trait TracerFactory: Send + Sync {
    /// A tracer for the connection whose client chose `original_dcid` as the Destination
    /// Connection ID of its first Initial (RFC 9000 §7.3), seen from `side`.
    fn new_connection(&self, side: Side, original_dcid: &ConnectionId) -> Option<Box<dyn Tracer>>;

    /// A tracer for events tied to no connection, such as datagrams dropped before
    /// routing (unknown connection ID, unsupported version). `None` by default.
    fn endpoint_tracer(&self) -> Option<Box<dyn Tracer>> {
        None
    }
}

/// A tracer that ignores every event and, as a factory, installs no tracer at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopTracer;

impl Tracer for NoopTracer {
    fn event(&mut self, _now: Instant, _event: &TraceEvent<'_>) {}
}

impl TracerFactory for NoopTracer {
    fn new_connection(&self, _: Side, _: &ConnectionId) -> Option<Box<dyn Tracer>> {
        None
    }
}

impl<T: Tracer + ?Sized> Tracer for Box<T> {
    fn event(&mut self, now: Instant, event: &TraceEvent<'_>) {
        (**self).event(now, event);
    }
}

/// Two tracers (or factories) fed the same events, e.g. qlog files and `tracing` logs.
#[derive(Debug, Clone, Default)]
pub struct Both<A, B>(pub A, pub B);

impl<A: Tracer, B: Tracer> Tracer for Both<A, B> {
    fn event(&mut self, now: Instant, event: &TraceEvent<'_>) {
        self.0.event(now, event);
        self.1.event(now, event);
    }
}

impl<A: TracerFactory, B: TracerFactory> TracerFactory for Both<A, B> {
    fn new_connection(&self, side: Side, original_dcid: &ConnectionId) -> Option<Box<dyn Tracer>> {
        join(
            self.0.new_connection(side, original_dcid),
            self.1.new_connection(side, original_dcid),
        )
    }

    fn endpoint_tracer(&self) -> Option<Box<dyn Tracer>> {
        join(self.0.endpoint_tracer(), self.1.endpoint_tracer())
    }
}

/// One tracer out of two optional ones, boxing a [`Both`] only when both exist.
fn join(a: Option<Box<dyn Tracer>>, b: Option<Box<dyn Tracer>>) -> Option<Box<dyn Tracer>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Box::new(Both(a, b))),
        (one, None) | (None, one) => one,
    }
}

/// What happened. Borrowed parts (frame lists, parameters, close reasons) live only for
/// the call; a tracer that keeps them copies them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TraceEvent<'a> {
    /// A packet was sealed and queued for sending (qlog `quic:packet_sent`).
    PacketSent(PacketInfo<'a>),
    /// A packet was opened and its frames parsed (qlog `quic:packet_received`).
    PacketReceived(PacketInfo<'a>),
    /// A packet or datagram was discarded unprocessed (qlog `quic:packet_dropped`).
    PacketDropped(PacketDropped),
    /// Loss detection declared a sent packet lost (qlog `quic:packet_lost`).
    PacketLost(PacketLost),
    /// The connection moved to another state (qlog `quic:connection_state_updated`).
    StateChanged(StateChanged),
    /// RTT, congestion or flight metrics changed (qlog `quic:recovery_metrics_updated`).
    MetricsUpdated(RecoveryMetrics),
    /// Packet protection keys were installed (qlog `quic:key_updated`).
    KeyUpdated(KeyEvent),
    /// Packet protection keys were dropped (qlog `quic:key_discarded`).
    KeyDiscarded(KeyEvent),
    /// One side's transport parameters became known (qlog `quic:parameters_set`).
    ParametersSet(ParametersSet<'a>),
    /// The connection closed or started closing (qlog `quic:connection_closed`).
    ConnectionClosed(ConnectionClosed<'a>),
}

/// A packet sent or received.
#[derive(Debug, Clone, Copy)]
pub struct PacketInfo<'a> {
    /// Its type, which also names its packet number space.
    pub packet_type: PacketType,
    /// Its full packet number; meaningless for Retry and Version Negotiation.
    pub pn: u64,
    /// Its size on the wire in bytes: header, payload and AEAD tag.
    pub size: usize,
    /// What it carries, in order.
    pub frames: &'a [FrameSummary],
}

/// A packet (or a whole datagram) the receiver discarded, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketDropped {
    /// Its type, when the header got that far.
    pub packet_type: Option<PacketType>,
    /// Its packet number, when known (duplicates).
    pub pn: Option<u64>,
    /// Bytes discarded.
    pub size: usize,
    /// Why it was discarded.
    pub reason: DropReason,
}

/// Why a packet was discarded without being processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The header could not be parsed (truncated, fixed bit zero, bad lengths).
    HeaderParseError,
    /// No connection has this Destination Connection ID (RFC 9000 §5.2).
    UnknownConnectionId,
    /// A long header carries a version this endpoint does not speak (RFC 9000 §5.2.2).
    UnsupportedVersion,
    /// A client Initial arrived in a datagram under 1200 bytes (RFC 9000 §14.1).
    InitialTooSmall,
    /// A queue (early 0-RTT, pending handshake data) had no room left.
    QueueFull,
    /// Authentication of the payload failed (RFC 9001 §5.3, §9.5).
    Undecryptable,
    /// The packet number was already received (RFC 9000 §12.3).
    Duplicate,
    /// The keys to open it are not available yet.
    KeyUnavailable,
    /// The keys to open it were already discarded (RFC 9001 §4.9).
    KeysDiscarded,
    /// A coalesced packet names another connection ID than the first (RFC 9000 §12.2).
    CoalescedDcidMismatch,
    /// A packet type the connection accepts no more, or not from this side (a second
    /// Retry, a late Version Negotiation, 0-RTT at a client).
    Unexpected,
    /// The connection is closing or draining and processes nothing (RFC 9000 §10.2).
    ConnectionClosed,
}

impl DropReason {
    /// A short snake_case name, stable for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::HeaderParseError => "header_parse_error",
            DropReason::UnknownConnectionId => "unknown_connection_id",
            DropReason::UnsupportedVersion => "unsupported_version",
            DropReason::InitialTooSmall => "initial_too_small",
            DropReason::QueueFull => "queue_full",
            DropReason::Undecryptable => "undecryptable",
            DropReason::Duplicate => "duplicate",
            DropReason::KeyUnavailable => "key_unavailable",
            DropReason::KeysDiscarded => "keys_discarded",
            DropReason::CoalescedDcidMismatch => "coalesced_dcid_mismatch",
            DropReason::Unexpected => "unexpected",
            DropReason::ConnectionClosed => "connection_closed",
        }
    }
}

/// A sent packet declared lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketLost {
    /// Its type.
    pub packet_type: PacketType,
    /// Its packet number.
    pub pn: u64,
    /// Which rule declared it lost.
    pub trigger: LossTrigger,
}

/// The loss detection rule that fired (RFC 9002 §6.1, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossTrigger {
    /// Acknowledged packets above it passed the packet threshold (RFC 9002 §6.1.1).
    ReorderingThreshold,
    /// It is older than the time threshold allows (RFC 9002 §6.1.2).
    TimeThreshold,
    /// A probe timeout expired and the sender chose to count it lost (RFC 9002 §6.2.4).
    PtoExpired,
}

impl LossTrigger {
    /// The qlog trigger name, also used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            LossTrigger::ReorderingThreshold => "reordering_threshold",
            LossTrigger::TimeThreshold => "time_threshold",
            LossTrigger::PtoExpired => "pto_expired",
        }
    }
}

/// A move from one connection state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChanged {
    /// The state left; `None` for the first state.
    pub old: Option<ConnectionState>,
    /// The state entered.
    pub new: ConnectionState,
}

/// Connection states as qlog names them (draft-ietf-quic-qlog-quic-events,
/// `connection_state_updated`), coarser than the connection's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The first Initial was sent (client) or received (server).
    Attempted,
    /// The first Handshake packet was sent or received.
    HandshakeStarted,
    /// TLS finished both ways; 1-RTT data may flow (RFC 9001 §4.1.1).
    HandshakeComplete,
    /// HANDSHAKE_DONE sent or received (RFC 9001 §4.1.2).
    HandshakeConfirmed,
    /// CONNECTION_CLOSE sent; waiting out the closing period (RFC 9000 §10.2.1).
    Closing,
    /// CONNECTION_CLOSE received; waiting out the draining period (RFC 9000 §10.2.2).
    Draining,
    /// All state discarded.
    Closed,
}

impl ConnectionState {
    /// The qlog name of the state, also used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Attempted => "attempted",
            ConnectionState::HandshakeStarted => "handshake_started",
            ConnectionState::HandshakeComplete => "handshake_complete",
            ConnectionState::HandshakeConfirmed => "handshake_confirmed",
            ConnectionState::Closing => "closing",
            ConnectionState::Draining => "draining",
            ConnectionState::Closed => "closed",
        }
    }
}

/// Recovery metrics (RFC 9002 appendices A.3, B.2). Each field is `None` when it did
/// not change, so one event carries what changed together; see
/// [`changed_since`](Self::changed_since).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryMetrics {
    /// The minimum RTT seen (RFC 9002 §5.2).
    pub min_rtt: Option<Duration>,
    /// The smoothed RTT (RFC 9002 §5.3).
    pub smoothed_rtt: Option<Duration>,
    /// The latest RTT sample (RFC 9002 §5.1).
    pub latest_rtt: Option<Duration>,
    /// The RTT variation (RFC 9002 §5.3).
    pub rttvar: Option<Duration>,
    /// Probe timeouts since the last acknowledgment (RFC 9002 §6.2.1).
    pub pto_count: Option<u32>,
    /// The congestion window in bytes.
    pub congestion_window: Option<u64>,
    /// Bytes sent, not yet acknowledged or declared lost, counting toward the window.
    pub bytes_in_flight: Option<u64>,
    /// The slow start threshold in bytes; `u64::MAX` while unset.
    pub ssthresh: Option<u64>,
    /// Packets in flight, all spaces together.
    pub packets_in_flight: Option<u64>,
    /// The pacing rate in bits per second.
    pub pacing_rate: Option<u64>,
}

impl RecoveryMetrics {
    /// The fields of `self` that differ from `previous`; a field `None` in `self` stays
    /// `None`. Keep the last full set, emit `current.changed_since(&last)` unless it
    /// [`is_empty`](Self::is_empty).
    pub fn changed_since(&self, previous: &RecoveryMetrics) -> RecoveryMetrics {
        fn diff<T: PartialEq + Copy>(now: Option<T>, before: Option<T>) -> Option<T> {
            if now == before { None } else { now }
        }
        RecoveryMetrics {
            min_rtt: diff(self.min_rtt, previous.min_rtt),
            smoothed_rtt: diff(self.smoothed_rtt, previous.smoothed_rtt),
            latest_rtt: diff(self.latest_rtt, previous.latest_rtt),
            rttvar: diff(self.rttvar, previous.rttvar),
            pto_count: diff(self.pto_count, previous.pto_count),
            congestion_window: diff(self.congestion_window, previous.congestion_window),
            bytes_in_flight: diff(self.bytes_in_flight, previous.bytes_in_flight),
            ssthresh: diff(self.ssthresh, previous.ssthresh),
            packets_in_flight: diff(self.packets_in_flight, previous.packets_in_flight),
            pacing_rate: diff(self.pacing_rate, previous.pacing_rate),
        }
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == RecoveryMetrics::default()
    }
}

/// Keys installed or discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    /// The encryption level the keys protect.
    pub level: KeyLevel,
    /// Which direction's keys.
    pub direction: KeyDirection,
    /// The 1-RTT key phase, counting updates from 0 (RFC 9001 §6); 0 for other levels.
    pub generation: u64,
    /// What caused it.
    pub trigger: KeyTrigger,
}

/// An encryption level (RFC 9001 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyLevel {
    /// Initial keys, derived from the client's first Destination Connection ID.
    Initial,
    /// 0-RTT keys; only the client writes with them.
    ZeroRtt,
    /// Handshake keys.
    Handshake,
    /// 1-RTT keys, updated by key updates.
    OneRtt,
}

/// Which keys of a level an event covers, from the tracing endpoint's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyDirection {
    /// The keys it seals with and the keys it opens with.
    Both,
    /// Only the keys it seals with.
    Send,
    /// Only the keys it opens with (e.g. old 1-RTT keys kept after an update).
    Receive,
}

/// Why keys changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyTrigger {
    /// The TLS handshake produced or retired them.
    Tls,
    /// This endpoint started a key update (RFC 9001 §6.1).
    LocalUpdate,
    /// The peer started a key update (RFC 9001 §6.2).
    RemoteUpdate,
}

impl KeyTrigger {
    /// The qlog trigger name, also used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyTrigger::Tls => "tls",
            KeyTrigger::LocalUpdate => "local_update",
            KeyTrigger::RemoteUpdate => "remote_update",
        }
    }
}

/// Which endpoint something came from, relative to the tracing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// The tracing endpoint.
    Local,
    /// Its peer.
    Remote,
}

impl Initiator {
    /// The qlog name, also used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Initiator::Local => "local",
            Initiator::Remote => "remote",
        }
    }
}

/// One side's transport parameters, as declared (RFC 9000 §18).
#[derive(Debug, Clone, Copy)]
pub struct ParametersSet<'a> {
    /// Whose parameters: ours as sent, or the peer's as received.
    pub initiator: Initiator,
    /// The parameters.
    pub params: &'a TransportParameters,
}

/// The connection closed, or began to (RFC 9000 §10).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionClosed<'a> {
    /// Who closed it.
    pub initiator: Initiator,
    /// The error code carried, if the close carried one.
    pub error: CloseError,
    /// The CONNECTION_CLOSE reason phrase; empty if none.
    pub reason: &'a [u8],
    /// What led to the close.
    pub trigger: CloseTrigger,
}

/// The code a close carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseError {
    /// No CONNECTION_CLOSE was exchanged (idle timeout, stateless reset).
    None,
    /// A transport error (CONNECTION_CLOSE 0x1c), with the frame type that caused it.
    Transport {
        /// The error code.
        code: TransportErrorCode,
        /// The frame type that triggered it, if any.
        frame_type: Option<u64>,
    },
    /// An application error (CONNECTION_CLOSE 0x1d).
    Application(u64),
}

/// What led to a close (draft-ietf-quic-qlog-quic-events, `connection_closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseTrigger {
    /// The idle timeout expired (RFC 9000 §10.1).
    IdleTimeout,
    /// The application closed it.
    Application,
    /// A protocol error.
    Error,
    /// No common version (RFC 9000 §6).
    VersionMismatch,
    /// A stateless reset was received (RFC 9000 §10.3).
    StatelessReset,
    /// Abandoned without a close (e.g. the endpoint went away).
    Aborted,
    /// Unknown, e.g. at the receiver of a CONNECTION_CLOSE.
    Unspecified,
}

impl CloseTrigger {
    /// The qlog trigger name, also used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseTrigger::IdleTimeout => "idle_timeout",
            CloseTrigger::Application => "application",
            CloseTrigger::Error => "error",
            CloseTrigger::VersionMismatch => "version_mismatch",
            CloseTrigger::StatelessReset => "stateless_reset",
            CloseTrigger::Aborted => "aborted",
            CloseTrigger::Unspecified => "unspecified",
        }
    }
}
