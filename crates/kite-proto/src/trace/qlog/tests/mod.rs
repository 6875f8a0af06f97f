//! Each trace event as a qlog record: names and field names as
//! draft-ietf-quic-qlog-quic-events (draft 13) spells them.

use super::records;
use crate::cid::ResetToken;
use crate::coding::VarInt;
use crate::frame::{ApplicationClose, ConnectionClose, Frame};
use crate::packet::PacketType;
use crate::trace::tests::{cid, dropped, stream_frame};
use crate::trace::*;
use crate::transport_params::TransportParameters;
use crate::{Dir, Side, StreamId, TransportErrorCode};
use serde_json::{Value, json};
use std::time::Duration;

/// The single qlog record of `event` from a client's point of view, as parsed JSON.
fn one_record(event: &TraceEvent<'_>) -> (&'static str, Value) {
    let mut records = records(event, Some(Side::Client));
    assert_eq!(records.len(), 1, "{event:?}");
    let record = records.remove(0);
    // What the writer emits must parse back to the same value.
    let text = serde_json::to_string(&record.data).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), record.data);
    (record.name, record.data)
}

#[test]
fn packet_sent_has_header_raw_length_and_frames() {
    let frames = [
        stream_frame(),
        FrameSummary::Padding { len: 17 },
        FrameSummary::Ping,
    ];
    let event = TraceEvent::PacketSent(PacketInfo {
        packet_type: PacketType::OneRtt,
        pn: 42,
        size: 1252,
        frames: &frames,
    });
    let (name, data) = one_record(&event);
    assert_eq!(name, "quic:packet_sent");
    assert_eq!(
        data["header"],
        json!({ "packet_type": "1RTT", "packet_number": 42 })
    );
    assert_eq!(data["raw"]["length"], 1252);
    let stream = &data["frames"][0];
    assert_eq!(stream["frame_type"], "stream");
    assert_eq!(stream["stream_id"], 4);
    assert_eq!(stream["offset"], 1000);
    assert_eq!(stream["fin"], true);
    assert_eq!(stream["raw"]["length"], 5);
    assert_eq!(data["frames"][1]["frame_type"], "padding");
    assert_eq!(data["frames"][1]["raw"]["payload_length"], 17);
    assert_eq!(data["frames"][2], json!({ "frame_type": "ping" }));
}

#[test]
fn packet_received_logs_ack_ranges_delay_and_ecn() {
    let ecn = crate::frame::EcnCounts {
        ect0: 5,
        ect1: 0,
        ce: 1,
    };
    let ack = AckSummary::new([10..=12, 5..=5], 1500, Some(ecn)).with_delay_exponent(0);
    let frames = [FrameSummary::Ack(ack)];
    let event = TraceEvent::PacketReceived(PacketInfo {
        packet_type: PacketType::Initial,
        pn: 0,
        size: 1200,
        frames: &frames,
    });
    let (name, data) = one_record(&event);
    assert_eq!(name, "quic:packet_received");
    assert_eq!(data["header"]["packet_type"], "initial");
    let frame = &data["frames"][0];
    assert_eq!(frame["frame_type"], "ack");
    // A single-packet range is [n], a longer one [from, to].
    assert_eq!(frame["acked_ranges"], json!([[10, 12], [5]]));
    assert_eq!(frame["ack_delay"], 1.5);
    assert_eq!(
        (frame["ect0"].clone(), frame["ce"].clone()),
        (json!(5), json!(1))
    );
}

#[test]
fn packet_dropped_maps_every_reason_to_a_draft_trigger() {
    // draft-ietf-quic-qlog-quic-events, packet_dropped: the trigger values.
    const DRAFT_TRIGGERS: [&str; 9] = [
        "internal_error",
        "rejected",
        "unsupported",
        "invalid",
        "duplicate",
        "connection_unknown",
        "decryption_failure",
        "key_unavailable",
        "general",
    ];
    let reasons = [
        (DropReason::HeaderParseError, "invalid"),
        (DropReason::UnknownConnectionId, "connection_unknown"),
        (DropReason::UnsupportedVersion, "unsupported"),
        (DropReason::InitialTooSmall, "invalid"),
        (DropReason::QueueFull, "rejected"),
        (DropReason::Undecryptable, "decryption_failure"),
        (DropReason::Duplicate, "duplicate"),
        (DropReason::KeyUnavailable, "key_unavailable"),
        (DropReason::KeysDiscarded, "key_unavailable"),
        (DropReason::CoalescedDcidMismatch, "invalid"),
        (DropReason::Unexpected, "rejected"),
        (DropReason::ConnectionClosed, "rejected"),
    ];
    for (reason, trigger) in reasons {
        let (name, data) = one_record(&TraceEvent::PacketDropped(dropped(reason)));
        assert_eq!(name, "quic:packet_dropped");
        assert_eq!(data["trigger"], trigger, "{reason:?}");
        assert!(DRAFT_TRIGGERS.contains(&trigger));
        assert_eq!(data["details"]["reason"], reason.as_str());
        assert_eq!(data["raw"]["length"], 1200);
        assert_eq!(data["header"]["packet_number"], 7);
    }
}

#[test]
fn packet_dropped_before_parsing_has_no_header() {
    let event = TraceEvent::PacketDropped(PacketDropped {
        packet_type: None,
        pn: None,
        size: 37,
        reason: DropReason::HeaderParseError,
    });
    let (_, data) = one_record(&event);
    assert!(data.get("header").is_none());
    assert_eq!(data["raw"]["length"], 37);
}

#[test]
fn packet_lost_names_the_packet_and_the_rule() {
    let event = TraceEvent::PacketLost(PacketLost {
        packet_type: PacketType::Handshake,
        pn: 3,
        trigger: LossTrigger::TimeThreshold,
    });
    let (name, data) = one_record(&event);
    assert_eq!(name, "quic:packet_lost");
    assert_eq!(
        data,
        json!({
            "header": { "packet_type": "handshake", "packet_number": 3 },
            "trigger": "time_threshold",
        })
    );
}

#[test]
fn state_changes_use_qlog_state_names() {
    let first = TraceEvent::StateChanged(StateChanged {
        old: None,
        new: ConnectionState::Attempted,
    });
    let (name, data) = one_record(&first);
    assert_eq!(name, "quic:connection_state_updated");
    assert_eq!(data, json!({ "new": "attempted" }));
    let later = TraceEvent::StateChanged(StateChanged {
        old: Some(ConnectionState::HandshakeComplete),
        new: ConnectionState::HandshakeConfirmed,
    });
    let (_, data) = one_record(&later);
    assert_eq!(
        data,
        json!({ "old": "handshake_complete", "new": "handshake_confirmed" })
    );
}

#[test]
fn metrics_are_logged_in_milliseconds_and_bytes() {
    let event = TraceEvent::MetricsUpdated(RecoveryMetrics {
        min_rtt: Some(Duration::from_micros(1500)),
        smoothed_rtt: Some(Duration::from_millis(20)),
        latest_rtt: Some(Duration::from_micros(20_250)),
        rttvar: Some(Duration::from_millis(5)),
        pto_count: Some(1),
        congestion_window: Some(14_720),
        bytes_in_flight: Some(2400),
        ssthresh: None,
        packets_in_flight: Some(2),
        pacing_rate: Some(1_000_000),
    });
    let (name, data) = one_record(&event);
    assert_eq!(name, "quic:recovery_metrics_updated");
    assert_eq!(
        data,
        json!({
            "min_rtt": 1.5,
            "smoothed_rtt": 20.0,
            "latest_rtt": 20.25,
            "rtt_variance": 5.0,
            "pto_count": 1,
            "congestion_window": 14_720,
            "bytes_in_flight": 2400,
            "packets_in_flight": 2,
            "pacing_rate": 1_000_000,
        })
    );
}

fn key_types(event: &TraceEvent<'_>, side: Option<Side>) -> Vec<String> {
    records(event, side)
        .into_iter()
        .map(|r| r.data["key_type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn key_events_name_keys_by_the_side_that_writes_with_them() {
    let update = TraceEvent::KeyUpdated(KeyEvent {
        level: KeyLevel::OneRtt,
        direction: KeyDirection::Both,
        generation: 3,
        trigger: KeyTrigger::RemoteUpdate,
    });
    let update_records = records(&update, Some(Side::Server));
    assert_eq!(update_records.len(), 2);
    for record in &update_records {
        assert_eq!(record.name, "quic:key_updated");
        assert_eq!(record.data["key_phase"], 3);
        assert_eq!(record.data["trigger"], "remote_update");
    }
    assert_eq!(
        key_types(&update, Some(Side::Server)),
        ["client_1rtt_secret", "server_1rtt_secret"]
    );

    // Old receive keys at a server are the client's.
    let discard = TraceEvent::KeyDiscarded(KeyEvent {
        level: KeyLevel::OneRtt,
        direction: KeyDirection::Receive,
        generation: 2,
        trigger: KeyTrigger::RemoteUpdate,
    });
    assert_eq!(
        key_types(&discard, Some(Side::Server)),
        ["client_1rtt_secret"]
    );
    assert_eq!(records(&discard, None)[0].name, "quic:key_discarded");

    // 0-RTT keys are always the client's, and only 1-RTT keys carry a key phase.
    let zero_rtt = TraceEvent::KeyUpdated(KeyEvent {
        level: KeyLevel::ZeroRtt,
        direction: KeyDirection::Receive,
        generation: 0,
        trigger: KeyTrigger::Tls,
    });
    let (_, data) = {
        let zero_rtt_records = records(&zero_rtt, Some(Side::Server));
        assert_eq!(zero_rtt_records.len(), 1);
        (zero_rtt_records[0].name, zero_rtt_records[0].data.clone())
    };
    assert_eq!(
        data,
        json!({ "key_type": "client_0rtt_secret", "trigger": "tls" })
    );
}

#[test]
fn parameters_set_uses_draft_field_names() {
    let params = TransportParameters {
        original_destination_connection_id: Some(cid(&[0xab; 8])),
        initial_source_connection_id: Some(cid(&[1, 2, 3, 4])),
        max_idle_timeout: Duration::from_secs(30),
        initial_max_data: VarInt::from_u32(1 << 20),
        initial_max_streams_bidi: VarInt::from_u32(100),
        max_datagram_frame_size: Some(VarInt::from_u32(1200)),
        ..TransportParameters::default()
    };
    let event = TraceEvent::ParametersSet(ParametersSet {
        initiator: Initiator::Remote,
        params: &params,
    });
    let (name, data) = one_record(&event);
    assert_eq!(name, "quic:parameters_set");
    assert_eq!(data["initiator"], "remote");
    assert_eq!(
        data["original_destination_connection_id"],
        "abababababababab"
    );
    assert_eq!(data["initial_source_connection_id"], "01020304");
    assert!(data.get("retry_source_connection_id").is_none());
    assert_eq!(data["max_idle_timeout"], 30_000);
    assert_eq!(data["max_ack_delay"], 25);
    assert_eq!(data["ack_delay_exponent"], 3);
    assert_eq!(data["initial_max_data"], 1 << 20);
    assert_eq!(data["initial_max_streams_bidi"], 100);
    assert_eq!(data["max_udp_payload_size"], 65_527);
    assert_eq!(data["active_connection_id_limit"], 2);
    assert_eq!(data["max_datagram_frame_size"], 1200);
    assert_eq!(data["disable_active_migration"], false);
}

#[test]
fn connection_closed_names_transport_crypto_and_application_errors() {
    let close = |error, reason: &'static [u8], trigger| {
        let event = TraceEvent::ConnectionClosed(ConnectionClosed {
            initiator: Initiator::Local,
            error,
            reason,
            trigger,
        });
        let (name, data) = one_record(&event);
        assert_eq!(name, "quic:connection_closed");
        assert_eq!(data["initiator"], "local");
        data
    };
    let data = close(
        CloseError::Transport {
            code: TransportErrorCode::PROTOCOL_VIOLATION,
            frame_type: Some(0x08),
        },
        b"bad frame",
        CloseTrigger::Error,
    );
    assert_eq!(data["connection_error"], "protocol_violation");
    assert_eq!(data["reason"], "bad frame");
    assert_eq!(data["trigger"], "error");
    assert!(data.get("error_code").is_none());

    // RFC 9001 §4.8: alert 0x78 (no_application_protocol) is code 0x178.
    let data = close(
        CloseError::Transport {
            code: TransportErrorCode::crypto(0x78),
            frame_type: None,
        },
        b"",
        CloseTrigger::Error,
    );
    assert_eq!(data["connection_error"], "crypto_error_0x178");
    assert!(data.get("reason").is_none());

    // A code the draft does not name is "unknown" with the number beside it.
    let data = close(
        CloseError::Transport {
            code: TransportErrorCode::VERSION_NEGOTIATION_ERROR,
            frame_type: None,
        },
        b"",
        CloseTrigger::VersionMismatch,
    );
    assert_eq!(data["connection_error"], "unknown");
    assert_eq!(data["error_code"], 0x11);

    let data = close(
        CloseError::Application(7),
        b"bye",
        CloseTrigger::Application,
    );
    assert_eq!(data["application_error"], "unknown");
    assert_eq!(data["error_code"], 7);

    let data = close(CloseError::None, b"", CloseTrigger::IdleTimeout);
    assert_eq!(
        data,
        json!({ "initiator": "local", "trigger": "idle_timeout" })
    );
}

#[test]
fn close_frames_carry_error_space_and_reason() {
    let transport = FrameSummary::from_frame(&Frame::ConnectionClose(ConnectionClose {
        error_code: TransportErrorCode::FLOW_CONTROL_ERROR,
        frame_type: Some(0x10),
        reason: bytes::Bytes::from_static(b"too much"),
    }));
    let application = FrameSummary::from_frame(&Frame::ApplicationClose(ApplicationClose {
        error_code: VarInt::from_u32(0x42),
        reason: bytes::Bytes::from_static(&[0xff, 0xfe]),
    }));
    let frames = [transport, application];
    let event = TraceEvent::PacketSent(PacketInfo {
        packet_type: PacketType::OneRtt,
        pn: 9,
        size: 60,
        frames: &frames,
    });
    let (_, data) = one_record(&event);
    assert_eq!(
        data["frames"][0],
        json!({
            "frame_type": "connection_close",
            "error_space": "transport",
            "error": "flow_control_error",
            "trigger_frame_type": 0x10,
            "reason": "too much",
        })
    );
    // A reason that is not UTF-8 goes out as hex bytes.
    assert_eq!(
        data["frames"][1],
        json!({
            "frame_type": "connection_close",
            "error_space": "application",
            "error": "unknown",
            "error_code": 0x42,
            "reason_bytes": "fffe",
        })
    );
}

#[test]
fn every_frame_summary_has_a_frame_type() {
    let frames = [
        FrameSummary::ResetStream {
            id: StreamId(0),
            error_code: 1,
            final_size: 2,
        },
        FrameSummary::StopSending {
            id: StreamId(0),
            error_code: 1,
        },
        FrameSummary::NewToken { len: 32 },
        FrameSummary::MaxData { max: 1 },
        FrameSummary::MaxStreamData {
            id: StreamId(0),
            max: 1,
        },
        FrameSummary::MaxStreams {
            dir: Dir::Uni,
            max: 1,
        },
        FrameSummary::DataBlocked { limit: 1 },
        FrameSummary::StreamDataBlocked {
            id: StreamId(0),
            limit: 1,
        },
        FrameSummary::StreamsBlocked {
            dir: Dir::Bi,
            limit: 1,
        },
        FrameSummary::NewConnectionId {
            sequence: 1,
            retire_prior_to: 0,
            id: cid(&[9; 8]),
            reset_token: ResetToken([7; 16]),
        },
        FrameSummary::RetireConnectionId { sequence: 1 },
        FrameSummary::PathChallenge { data: [1; 8] },
        FrameSummary::PathResponse { data: [1; 8] },
        FrameSummary::HandshakeDone,
        FrameSummary::Datagram { len: 5 },
    ];
    let expected = [
        "reset_stream",
        "stop_sending",
        "new_token",
        "max_data",
        "max_stream_data",
        "max_streams",
        "data_blocked",
        "stream_data_blocked",
        "streams_blocked",
        "new_connection_id",
        "retire_connection_id",
        "path_challenge",
        "path_response",
        "handshake_done",
        "datagram",
    ];
    let event = TraceEvent::PacketReceived(PacketInfo {
        packet_type: PacketType::OneRtt,
        pn: 1,
        size: 100,
        frames: &frames,
    });
    let (_, data) = one_record(&event);
    let types: Vec<&str> = data["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["frame_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, expected);
    assert_eq!(data["frames"][5]["stream_type"], "unidirectional");
    assert_eq!(data["frames"][9]["connection_id"], "0909090909090909");
    assert_eq!(data["frames"][9]["sequence_number"], 1);
    assert_eq!(data["frames"][11]["data"], "0101010101010101");
}

mod files;
