//! qlog event records: each [`TraceEvent`] as the `name` and `data` that
//! draft-ietf-quic-qlog-quic-events (draft 13) defines for it, field names as the
//! draft spells them.

use super::QlogRecord;
use crate::error::TransportErrorCode;
use crate::packet::PacketType;
use crate::stream_id::{Dir, Side};
use crate::trace::{
    AckSummary, CloseError, ConnectionClosed, DropReason, FrameSummary, KeyDirection, KeyEvent,
    KeyLevel, PacketDropped, PacketInfo, ParametersSet, RecoveryMetrics, TraceEvent,
};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The qlog events for `event`, seen from `side` (`None` for an endpoint trace). Most
/// events give one record; keys installed or discarded in both directions give two,
/// one per qlog key type.
pub fn records(event: &TraceEvent<'_>, side: Option<Side>) -> Vec<QlogRecord> {
    let one = |name, data| vec![QlogRecord::new(name, data)];
    match event {
        TraceEvent::PacketSent(p) => one("quic:packet_sent", packet(p)),
        TraceEvent::PacketReceived(p) => one("quic:packet_received", packet(p)),
        TraceEvent::PacketDropped(d) => one("quic:packet_dropped", dropped(d)),
        TraceEvent::PacketLost(l) => one(
            "quic:packet_lost",
            json!({
                "header": header(l.packet_type, Some(l.pn)),
                "trigger": l.trigger.as_str(),
            }),
        ),
        TraceEvent::StateChanged(s) => {
            let mut data = Map::new();
            if let Some(old) = s.old {
                data.insert("old".into(), old.as_str().into());
            }
            data.insert("new".into(), s.new.as_str().into());
            one("quic:connection_state_updated", data.into())
        }
        TraceEvent::MetricsUpdated(m) => one("quic:recovery_metrics_updated", metrics(m)),
        TraceEvent::KeyUpdated(k) => keys("quic:key_updated", k, side),
        TraceEvent::KeyDiscarded(k) => keys("quic:key_discarded", k, side),
        TraceEvent::ParametersSet(p) => one("quic:parameters_set", parameters(p)),
        TraceEvent::ConnectionClosed(c) => one("quic:connection_closed", closed(c)),
    }
}

/// The qlog `PacketType` string.
fn packet_type_str(ty: PacketType) -> &'static str {
    match ty {
        PacketType::Initial => "initial",
        PacketType::Handshake => "handshake",
        PacketType::ZeroRtt => "0RTT",
        PacketType::OneRtt => "1RTT",
        PacketType::Retry => "retry",
        PacketType::VersionNegotiation => "version_negotiation",
    }
}

/// A `PacketHeader`; the packet number only for types that have one.
fn header(ty: PacketType, pn: Option<u64>) -> Value {
    let mut h = Map::new();
    h.insert("packet_type".into(), packet_type_str(ty).into());
    if let (Some(pn), Some(_)) = (pn, ty.space()) {
        h.insert("packet_number".into(), pn.into());
    }
    h.into()
}

fn packet(p: &PacketInfo<'_>) -> Value {
    json!({
        "header": header(p.packet_type, Some(p.pn)),
        "raw": { "length": p.size },
        "frames": p.frames.iter().map(frame).collect::<Vec<_>>(),
    })
}

fn dropped(d: &PacketDropped) -> Value {
    let mut data = Map::new();
    if let Some(ty) = d.packet_type {
        data.insert("header".into(), header(ty, d.pn));
    }
    data.insert("raw".into(), json!({ "length": d.size }));
    data.insert("trigger".into(), drop_trigger(d.reason).into());
    // The trigger is a coarse category; `details` keeps kite's own reason.
    data.insert("details".into(), json!({ "reason": d.reason.as_str() }));
    data.into()
}

/// The `packet_dropped` trigger category for a drop reason.
fn drop_trigger(reason: DropReason) -> &'static str {
    match reason {
        DropReason::HeaderParseError
        | DropReason::InitialTooSmall
        | DropReason::CoalescedDcidMismatch => "invalid",
        DropReason::UnknownConnectionId => "connection_unknown",
        DropReason::UnsupportedVersion => "unsupported",
        DropReason::QueueFull | DropReason::Unexpected | DropReason::ConnectionClosed => "rejected",
        DropReason::Undecryptable => "decryption_failure",
        DropReason::Duplicate => "duplicate",
        DropReason::KeyUnavailable | DropReason::KeysDiscarded => "key_unavailable",
    }
}

/// Milliseconds with microsecond precision, as qlog's RTT and time fields want.
pub(super) fn ms(d: Duration) -> f64 {
    // Whole microseconds divided once, so 1.5 ms prints as 1.5, not 1.5000000000000002.
    d.as_micros() as f64 / 1000.0
}

fn metrics(m: &RecoveryMetrics) -> Value {
    let mut data = Map::new();
    let mut rtt = |key: &str, value: Option<Duration>| {
        if let Some(value) = value {
            data.insert(key.into(), ms(value).into());
        }
    };
    rtt("min_rtt", m.min_rtt);
    rtt("smoothed_rtt", m.smoothed_rtt);
    rtt("latest_rtt", m.latest_rtt);
    rtt("rtt_variance", m.rttvar);
    let counts = [
        ("pto_count", m.pto_count.map(u64::from)),
        ("congestion_window", m.congestion_window),
        ("bytes_in_flight", m.bytes_in_flight),
        ("ssthresh", m.ssthresh),
        ("packets_in_flight", m.packets_in_flight),
        ("pacing_rate", m.pacing_rate),
    ];
    for (key, value) in counts {
        if let Some(value) = value {
            data.insert(key.into(), value.into());
        }
    }
    data.into()
}

/// One `key_updated` / `key_discarded` record per qlog key type the event covers.
fn keys(name: &'static str, k: &KeyEvent, side: Option<Side>) -> Vec<QlogRecord> {
    let level = match k.level {
        KeyLevel::Initial => "initial",
        KeyLevel::ZeroRtt => "0rtt",
        KeyLevel::Handshake => "handshake",
        KeyLevel::OneRtt => "1rtt",
    };
    // qlog names keys by the side that writes with them.
    let writers: &[Side] = match (k.level, k.direction, side) {
        // Only the client writes 0-RTT data (RFC 9001 §4.6.1).
        (KeyLevel::ZeroRtt, _, _) => &[Side::Client],
        (_, KeyDirection::Send, Some(Side::Client))
        | (_, KeyDirection::Receive, Some(Side::Server)) => &[Side::Client],
        (_, KeyDirection::Send, Some(Side::Server))
        | (_, KeyDirection::Receive, Some(Side::Client)) => &[Side::Server],
        // Both directions, or an endpoint trace that cannot tell.
        _ => &[Side::Client, Side::Server],
    };
    writers
        .iter()
        .map(|writer| {
            let writer = if writer.is_client() {
                "client"
            } else {
                "server"
            };
            let mut data = Map::new();
            data.insert("key_type".into(), format!("{writer}_{level}_secret").into());
            if k.level == KeyLevel::OneRtt {
                data.insert("key_phase".into(), k.generation.into());
            }
            data.insert("trigger".into(), k.trigger.as_str().into());
            QlogRecord::new(name, data.into())
        })
        .collect()
}

fn parameters(p: &ParametersSet<'_>) -> Value {
    let tp = p.params;
    let mut data = Map::new();
    data.insert("initiator".into(), p.initiator.as_str().into());
    let cids = [
        (
            "original_destination_connection_id",
            tp.original_destination_connection_id,
        ),
        (
            "initial_source_connection_id",
            tp.initial_source_connection_id,
        ),
        ("retry_source_connection_id", tp.retry_source_connection_id),
    ];
    for (key, cid) in cids {
        if let Some(cid) = cid {
            data.insert(key.into(), hex(&cid).into());
        }
    }
    if let Some(token) = tp.stateless_reset_token {
        data.insert("stateless_reset_token".into(), hex(&token.0).into());
    }
    data.insert(
        "disable_active_migration".into(),
        tp.disable_active_migration.into(),
    );
    data.insert(
        "max_idle_timeout".into(),
        duration_ms(tp.max_idle_timeout).into(),
    );
    data.insert("max_ack_delay".into(), duration_ms(tp.max_ack_delay).into());
    data.insert("ack_delay_exponent".into(), tp.ack_delay_exponent.into());
    let numbers = [
        ("max_udp_payload_size", tp.max_udp_payload_size),
        ("active_connection_id_limit", tp.active_connection_id_limit),
        ("initial_max_data", tp.initial_max_data),
        (
            "initial_max_stream_data_bidi_local",
            tp.initial_max_stream_data_bidi_local,
        ),
        (
            "initial_max_stream_data_bidi_remote",
            tp.initial_max_stream_data_bidi_remote,
        ),
        (
            "initial_max_stream_data_uni",
            tp.initial_max_stream_data_uni,
        ),
        ("initial_max_streams_bidi", tp.initial_max_streams_bidi),
        ("initial_max_streams_uni", tp.initial_max_streams_uni),
    ];
    for (key, value) in numbers {
        data.insert(key.into(), value.into_inner().into());
    }
    if let Some(size) = tp.max_datagram_frame_size {
        data.insert("max_datagram_frame_size".into(), size.into_inner().into());
    }
    if let Some(pa) = &tp.preferred_address {
        let mut addr = Map::new();
        if let Some(v4) = pa.address_v4 {
            addr.insert("ip_v4".into(), v4.ip().to_string().into());
            addr.insert("port_v4".into(), v4.port().into());
        }
        if let Some(v6) = pa.address_v6 {
            addr.insert("ip_v6".into(), v6.ip().to_string().into());
            addr.insert("port_v6".into(), v6.port().into());
        }
        addr.insert("connection_id".into(), hex(&pa.connection_id).into());
        addr.insert(
            "stateless_reset_token".into(),
            hex(&pa.stateless_reset_token.0).into(),
        );
        data.insert("preferred_address".into(), addr.into());
    }
    data.into()
}

/// Whole milliseconds, saturating: transport parameters carry no finer unit.
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn closed(c: &ConnectionClosed<'_>) -> Value {
    let mut data = Map::new();
    data.insert("initiator".into(), c.initiator.as_str().into());
    match c.error {
        CloseError::None => {}
        CloseError::Transport { code, .. } => {
            insert_transport_error(&mut data, "connection_error", code)
        }
        CloseError::Application(code) => {
            data.insert("application_error".into(), "unknown".into());
            data.insert("error_code".into(), code.into());
        }
    }
    if !c.reason.is_empty() {
        data.insert(
            "reason".into(),
            String::from_utf8_lossy(c.reason).into_owned().into(),
        );
    }
    data.insert("trigger".into(), c.trigger.as_str().into());
    data.into()
}

/// Highest transport error code the events draft names (NO_VIABLE_PATH); codes above
/// it, outside the CRYPTO_ERROR range, are "unknown" with the number in `error_code`.
const LAST_NAMED_TRANSPORT_ERROR: u64 = 0x10;

/// Inserts a `$TransportError` / `CryptoError` string under `key`, and `error_code`
/// when the string is "unknown".
fn insert_transport_error(data: &mut Map<String, Value>, key: &str, code: TransportErrorCode) {
    let name = match code.0 {
        // RFC 9001 §4.8: 0x0100 + TLS alert; the draft wants "crypto_error_0x1XX".
        0x100..=0x1ff => Some(format!("crypto_error_{:#x}", code.0)),
        0..=LAST_NAMED_TRANSPORT_ERROR => code.name().map(str::to_ascii_lowercase),
        _ => None,
    };
    match name {
        Some(name) => {
            data.insert(key.into(), name.into());
        }
        None => {
            data.insert(key.into(), "unknown".into());
            data.insert("error_code".into(), code.0.into());
        }
    }
}

fn stream_type(dir: Dir) -> &'static str {
    match dir {
        Dir::Bi => "bidirectional",
        Dir::Uni => "unidirectional",
    }
}

/// A close reason as `reason` text when it is UTF-8, else as `reason_bytes` hex.
fn insert_reason(data: &mut Map<String, Value>, reason: &[u8]) {
    if reason.is_empty() {
        return;
    }
    match std::str::from_utf8(reason) {
        Ok(text) => data.insert("reason".into(), text.into()),
        Err(_) => data.insert("reason_bytes".into(), hex(reason).into()),
    };
}

/// A `$QuicFrame`. STREAM, CRYPTO and DATAGRAM carry their data length both in
/// `raw.length` (the draft) and `length` (what qvis reads, from qlog 0.3).
fn frame(f: &FrameSummary) -> Value {
    match f {
        FrameSummary::Padding { len } => json!({
            "frame_type": "padding",
            "raw": { "length": len, "payload_length": len },
        }),
        FrameSummary::Ping => json!({ "frame_type": "ping" }),
        FrameSummary::Ack(ack) => ack_frame(ack),
        FrameSummary::ResetStream {
            id,
            error_code,
            final_size,
        } => json!({
            "frame_type": "reset_stream",
            "stream_id": id.0,
            "error": "unknown",
            "error_code": error_code,
            "final_size": final_size,
        }),
        FrameSummary::StopSending { id, error_code } => json!({
            "frame_type": "stop_sending",
            "stream_id": id.0,
            "error": "unknown",
            "error_code": error_code,
        }),
        FrameSummary::Crypto { offset, len } => json!({
            "frame_type": "crypto",
            "offset": offset,
            "length": len,
            "raw": { "length": len },
        }),
        FrameSummary::NewToken { len } => json!({
            "frame_type": "new_token",
            "token": { "raw": { "length": len } },
        }),
        FrameSummary::Stream {
            id,
            offset,
            len,
            fin,
        } => json!({
            "frame_type": "stream",
            "stream_id": id.0,
            "offset": offset,
            "length": len,
            "fin": fin,
            "raw": { "length": len },
        }),
        FrameSummary::MaxData { max } => json!({ "frame_type": "max_data", "maximum": max }),
        FrameSummary::MaxStreamData { id, max } => json!({
            "frame_type": "max_stream_data",
            "stream_id": id.0,
            "maximum": max,
        }),
        FrameSummary::MaxStreams { dir, max } => json!({
            "frame_type": "max_streams",
            "stream_type": stream_type(*dir),
            "maximum": max,
        }),
        FrameSummary::DataBlocked { limit } => {
            json!({ "frame_type": "data_blocked", "limit": limit })
        }
        FrameSummary::StreamDataBlocked { id, limit } => json!({
            "frame_type": "stream_data_blocked",
            "stream_id": id.0,
            "limit": limit,
        }),
        FrameSummary::StreamsBlocked { dir, limit } => json!({
            "frame_type": "streams_blocked",
            "stream_type": stream_type(*dir),
            "limit": limit,
        }),
        FrameSummary::NewConnectionId {
            sequence,
            retire_prior_to,
            id,
            reset_token,
        } => json!({
            "frame_type": "new_connection_id",
            "sequence_number": sequence,
            "retire_prior_to": retire_prior_to,
            "connection_id_length": id.len(),
            "connection_id": hex(id),
            "stateless_reset_token": hex(&reset_token.0),
        }),
        FrameSummary::RetireConnectionId { sequence } => json!({
            "frame_type": "retire_connection_id",
            "sequence_number": sequence,
        }),
        FrameSummary::PathChallenge { data } => {
            json!({ "frame_type": "path_challenge", "data": hex(data) })
        }
        FrameSummary::PathResponse { data } => {
            json!({ "frame_type": "path_response", "data": hex(data) })
        }
        FrameSummary::ConnectionClose {
            error_code,
            frame_type,
            reason,
        } => {
            let mut data = Map::new();
            data.insert("frame_type".into(), "connection_close".into());
            data.insert("error_space".into(), "transport".into());
            insert_transport_error(&mut data, "error", *error_code);
            if let Some(ty) = frame_type {
                data.insert("trigger_frame_type".into(), (*ty).into());
            }
            insert_reason(&mut data, reason);
            data.into()
        }
        FrameSummary::ApplicationClose { error_code, reason } => {
            let mut data = Map::new();
            data.insert("frame_type".into(), "connection_close".into());
            data.insert("error_space".into(), "application".into());
            data.insert("error".into(), "unknown".into());
            data.insert("error_code".into(), (*error_code).into());
            insert_reason(&mut data, reason);
            data.into()
        }
        FrameSummary::HandshakeDone => json!({ "frame_type": "handshake_done" }),
        FrameSummary::Datagram { len } => json!({
            "frame_type": "datagram",
            "length": len,
            "raw": { "length": len },
        }),
    }
}

fn ack_frame(ack: &AckSummary) -> Value {
    let mut data = Map::new();
    data.insert("frame_type".into(), "ack".into());
    if let Some(delay) = ack.ack_delay() {
        data.insert("ack_delay".into(), ms(delay).into());
    }
    // An AckRange of one packet is logged as [n], a longer one as [from, to].
    let ranges: Vec<Value> = ack
        .ranges()
        .map(|r| {
            if r.start() == r.end() {
                json!([r.start()])
            } else {
                json!([r.start(), r.end()])
            }
        })
        .collect();
    data.insert("acked_ranges".into(), ranges.into());
    if let Some(ecn) = ack.ecn {
        data.insert("ect0".into(), ecn.ect0.into());
        data.insert("ect1".into(), ecn.ect1.into());
        data.insert("ce".into(), ecn.ce.into());
    }
    data.into()
}

/// Lowercase hex, as qlog's `hexstring`.
pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}
