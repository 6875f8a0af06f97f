//! What the connection reports to its tracer (qlog, `tracing` logs): each
//! event is built only when a tracer is installed, at the place where the
//! decision is made (STYLE: trace where it is decided).

use std::sync::Arc;
use std::time::Instant;

use super::{Connection, ConnectionError};
use crate::cid::ConnectionId;
use crate::packet::{PacketType, SpaceId};
use crate::trace::{
    CloseError, CloseTrigger, ConnectionClosed, ConnectionState, DropReason, Initiator,
    KeyDirection, KeyEvent, KeyLevel, KeyTrigger, PacketDropped, ParametersSet, RecoveryMetrics,
    StateChanged, TraceEvent, Tracer, TracerFactory,
};

/// What is needed to create a connection's tracer later.
pub(crate) struct DeferredTracer {
    pub(crate) factory: Arc<dyn TracerFactory>,
    pub(crate) side: crate::Side,
    pub(crate) original_dcid: ConnectionId,
}

impl Connection {
    /// Installs a tracer and reports what is already known: our
    /// parameters and the state.
    pub(crate) fn set_tracer(&mut self, now: Instant, tracer: Box<dyn Tracer>) {
        self.tracer = Some(tracer);
        let params = self.local_params.clone();
        self.trace(
            now,
            TraceEvent::ParametersSet(ParametersSet {
                initiator: Initiator::Local,
                params: &params,
            }),
        );
        let new = if self.side.is_client() {
            ConnectionState::Attempted
        } else {
            ConnectionState::HandshakeStarted
        };
        self.trace_state(now, new);
    }

    /// Creates the tracer only when the first packet decrypts: a flood of
    /// forged Initials would otherwise create a qlog file each.
    pub(crate) fn defer_tracer(&mut self, deferred: DeferredTracer) {
        self.deferred_tracer = Some(deferred);
    }

    /// Called on every packet that decrypted; installs a deferred tracer.
    pub(super) fn start_deferred_tracer(&mut self, now: Instant) {
        let Some(deferred) = self.deferred_tracer.take() else {
            return;
        };
        if let Some(tracer) = deferred
            .factory
            .new_connection(deferred.side, &deferred.original_dcid)
        {
            self.set_tracer(now, tracer);
        }
    }

    /// Whether events are being recorded (so callers skip building them).
    pub(super) fn is_tracing(&self) -> bool {
        self.tracer.is_some()
    }

    pub(super) fn trace(&mut self, now: Instant, event: TraceEvent<'_>) {
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.event(now, &event);
        }
    }

    pub(super) fn trace_state(&mut self, now: Instant, new: ConnectionState) {
        if self.tracer.is_none() || self.traced_state == Some(new) {
            return;
        }
        let old = self.traced_state.replace(new);
        self.trace(now, TraceEvent::StateChanged(StateChanged { old, new }));
    }

    pub(super) fn trace_drop(
        &mut self,
        now: Instant,
        packet_type: Option<PacketType>,
        pn: Option<u64>,
        size: usize,
        reason: DropReason,
    ) {
        self.stats.packets_dropped += 1;
        self.trace(
            now,
            TraceEvent::PacketDropped(PacketDropped {
                packet_type,
                pn,
                size,
                reason,
            }),
        );
    }

    pub(super) fn trace_keys(
        &mut self,
        now: Instant,
        level: KeyLevel,
        trigger: KeyTrigger,
        discarded: bool,
    ) {
        if self.tracer.is_none() {
            return;
        }
        let event = KeyEvent {
            level,
            direction: KeyDirection::Both,
            generation: self.stats.key_updates,
            trigger,
        };
        let event = if discarded {
            TraceEvent::KeyDiscarded(event)
        } else {
            TraceEvent::KeyUpdated(event)
        };
        self.trace(now, event);
    }

    /// Reports recovery metrics that changed since the last report.
    pub(super) fn trace_metrics(&mut self, now: Instant) {
        if self.tracer.is_none() {
            return;
        }
        let ssthresh = self.cc.ssthresh();
        let current = RecoveryMetrics {
            min_rtt: Some(self.rtt.min_rtt()),
            smoothed_rtt: Some(self.rtt.smoothed_rtt()),
            latest_rtt: Some(self.rtt.latest_rtt()),
            rttvar: Some(self.rtt.rttvar()),
            pto_count: Some(self.pto_count),
            congestion_window: Some(self.cc.window()),
            bytes_in_flight: Some(self.bytes_in_flight()),
            ssthresh: (ssthresh != u64::MAX).then_some(ssthresh),
            packets_in_flight: None,
            pacing_rate: None,
        };
        let changed = current.changed_since(&self.traced_metrics);
        self.traced_metrics = current;
        if !changed.is_empty() {
            self.trace(now, TraceEvent::MetricsUpdated(changed));
        }
    }

    /// Reports how the connection ended.
    pub(super) fn trace_closed(&mut self, now: Instant, error: &ConnectionError) {
        if self.tracer.is_none() {
            return;
        }
        let (initiator, close_error, reason, trigger): (_, _, &[u8], _) = match error {
            ConnectionError::PeerTransportClose {
                code,
                frame_type,
                reason,
            } => (
                Initiator::Remote,
                CloseError::Transport {
                    code: *code,
                    frame_type: *frame_type,
                },
                reason,
                CloseTrigger::Error,
            ),
            ConnectionError::PeerApplicationClose { code, reason } => (
                Initiator::Remote,
                CloseError::Application(*code),
                reason,
                CloseTrigger::Application,
            ),
            ConnectionError::LocalTransportError(err) => (
                Initiator::Local,
                CloseError::Transport {
                    code: err.code,
                    frame_type: err.frame_type,
                },
                err.reason.as_bytes(),
                CloseTrigger::Error,
            ),
            ConnectionError::LocallyClosed => (
                Initiator::Local,
                CloseError::None,
                &[],
                CloseTrigger::Application,
            ),
            ConnectionError::TimedOut => (
                Initiator::Local,
                CloseError::None,
                &[],
                CloseTrigger::IdleTimeout,
            ),
            ConnectionError::Reset => (
                Initiator::Remote,
                CloseError::None,
                &[],
                CloseTrigger::StatelessReset,
            ),
            ConnectionError::VersionMismatch => (
                Initiator::Local,
                CloseError::None,
                &[],
                CloseTrigger::VersionMismatch,
            ),
        };
        let reason = reason.to_vec();
        self.trace(
            now,
            TraceEvent::ConnectionClosed(ConnectionClosed {
                initiator,
                error: close_error,
                reason: &reason,
                trigger,
            }),
        );
    }
}

/// The packet type a space's packets carry (1-RTT for the data space).
pub(super) fn packet_type_of(space: SpaceId) -> PacketType {
    match space {
        SpaceId::Initial => PacketType::Initial,
        SpaceId::Handshake => PacketType::Handshake,
        SpaceId::Data => PacketType::OneRtt,
    }
}

/// The key level of a space's packet protection.
pub(super) fn key_level_of(space: SpaceId) -> KeyLevel {
    match space {
        SpaceId::Initial => KeyLevel::Initial,
        SpaceId::Handshake => KeyLevel::Handshake,
        SpaceId::Data => KeyLevel::OneRtt,
    }
}
