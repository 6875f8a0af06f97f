//! A [`Tracer`] that logs events through the `tracing` crate: per-packet events and
//! metrics at TRACE, the rarer ones (drops, losses, state, keys, parameters, close) at
//! DEBUG, all under the target [`LOG_TARGET`].

use super::{
    CloseError, ConnectionClosed, KeyEvent, PacketDropped, PacketInfo, TraceEvent, Tracer,
    TracerFactory,
};
use crate::cid::ConnectionId;
use crate::stream_id::Side;
use std::time::Instant;
use tracing::{Level, debug, trace};

/// The `tracing` target of every event logged here, so a filter such as
/// `kite_proto::trace=trace` turns them on without the rest of the crate.
pub const LOG_TARGET: &str = "kite_proto::trace";

/// Logs each event through `tracing`, labelled with the connection it belongs to.
#[derive(Debug, Clone)]
pub struct TracingTracer {
    /// "client 0a1b…", "server 0a1b…" or "endpoint": which trace a line belongs to.
    label: String,
}

impl TracingTracer {
    /// A tracer for the connection seen from `side` whose original Destination
    /// Connection ID is `original_dcid`.
    pub fn new(side: Side, original_dcid: &ConnectionId) -> TracingTracer {
        let side = if side.is_client() { "client" } else { "server" };
        TracingTracer {
            label: format!("{side} {original_dcid}"),
        }
    }

    /// A tracer for endpoint-wide events.
    pub fn endpoint() -> TracingTracer {
        TracingTracer {
            label: "endpoint".to_owned(),
        }
    }
}

impl Tracer for TracingTracer {
    fn event(&mut self, _now: Instant, event: &TraceEvent<'_>) {
        let conn = self.label.as_str();
        match event {
            TraceEvent::PacketSent(p) => log_packet(conn, "packet sent", p),
            TraceEvent::PacketReceived(p) => log_packet(conn, "packet received", p),
            TraceEvent::PacketDropped(d) => log_drop(conn, d),
            TraceEvent::PacketLost(l) => debug!(
                target: LOG_TARGET,
                conn,
                packet_type = ?l.packet_type,
                pn = l.pn,
                trigger = l.trigger.as_str(),
                "packet lost"
            ),
            TraceEvent::StateChanged(s) => debug!(
                target: LOG_TARGET,
                conn,
                old = s.old.map_or("none", |old| old.as_str()),
                new = s.new.as_str(),
                "connection state changed"
            ),
            TraceEvent::MetricsUpdated(m) => {
                trace!(target: LOG_TARGET, conn, metrics = ?m, "metrics updated")
            }
            TraceEvent::KeyUpdated(k) => log_keys(conn, "keys updated", k),
            TraceEvent::KeyDiscarded(k) => log_keys(conn, "keys discarded", k),
            TraceEvent::ParametersSet(p) => debug!(
                target: LOG_TARGET,
                conn,
                initiator = p.initiator.as_str(),
                params = ?p.params,
                "transport parameters set"
            ),
            TraceEvent::ConnectionClosed(c) => log_close(conn, c),
        }
    }
}

fn log_packet(conn: &str, what: &'static str, p: &PacketInfo<'_>) {
    trace!(
        target: LOG_TARGET,
        conn,
        packet_type = ?p.packet_type,
        pn = p.pn,
        size = p.size,
        frames = ?p.frames,
        "{what}"
    );
}

fn log_drop(conn: &str, d: &PacketDropped) {
    debug!(
        target: LOG_TARGET,
        conn,
        packet_type = ?d.packet_type,
        pn = ?d.pn,
        size = d.size,
        reason = d.reason.as_str(),
        "packet dropped"
    );
}

fn log_keys(conn: &str, what: &'static str, k: &KeyEvent) {
    debug!(
        target: LOG_TARGET,
        conn,
        level = ?k.level,
        direction = ?k.direction,
        generation = k.generation,
        trigger = k.trigger.as_str(),
        "{what}"
    );
}

fn log_close(conn: &str, c: &ConnectionClosed<'_>) {
    match c.error {
        CloseError::None => debug!(
            target: LOG_TARGET,
            conn,
            initiator = c.initiator.as_str(),
            trigger = c.trigger.as_str(),
            "connection closed"
        ),
        CloseError::Transport { code, frame_type } => debug!(
            target: LOG_TARGET,
            conn,
            initiator = c.initiator.as_str(),
            trigger = c.trigger.as_str(),
            code = %code,
            frame_type = ?frame_type,
            reason = %String::from_utf8_lossy(c.reason),
            "connection closed"
        ),
        CloseError::Application(code) => debug!(
            target: LOG_TARGET,
            conn,
            initiator = c.initiator.as_str(),
            trigger = c.trigger.as_str(),
            application_code = code,
            reason = %String::from_utf8_lossy(c.reason),
            "connection closed"
        ),
    }
}

/// Installs a [`TracingTracer`] on every connection and the endpoint, but only while
/// DEBUG is enabled for [`LOG_TARGET`] when the connection starts, so that with logging off
/// the connection builds no events at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingFactory;

impl TracingFactory {
    fn enabled() -> bool {
        tracing::enabled!(target: LOG_TARGET, Level::DEBUG)
    }
}

impl TracerFactory for TracingFactory {
    fn new_connection(&self, side: Side, original_dcid: &ConnectionId) -> Option<Box<dyn Tracer>> {
        TracingFactory::enabled()
            .then(|| Box::new(TracingTracer::new(side, original_dcid)) as Box<dyn Tracer>)
    }

    fn endpoint_tracer(&self) -> Option<Box<dyn Tracer>> {
        TracingFactory::enabled().then(|| Box::new(TracingTracer::endpoint()) as Box<dyn Tracer>)
    }
}
