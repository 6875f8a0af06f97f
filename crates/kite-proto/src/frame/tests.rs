//! Frame tests, one group per frame: round trip, encoded length, every
//! truncation, the packet types that may carry it (RFC 9000 §12.4, §12.5), and
//! each validation rule; property tests over arbitrary payloads and frames.

use super::*;
use crate::ResetToken;
use crate::cid::ConnectionId;
use crate::coding::VarInt;
use crate::error::TransportErrorCode;
use crate::packet::PacketType::{
    self, Handshake, Initial, OneRtt, Retry, VersionNegotiation, ZeroRtt,
};
use crate::stream_id::{Dir, StreamId};
use proptest::prelude::*;

mod ack;
mod conn;
mod control;
mod data;
mod props;

const ALL_PACKET_TYPES: [PacketType; 6] = [
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
    OneRtt,
    VersionNegotiation,
];
/// "IH01" in RFC 9000 table 3.
const ANY_SPACE: &[PacketType] = &[Initial, ZeroRtt, Handshake, OneRtt];
/// "IH_1": not in 0-RTT.
const NOT_0RTT: &[PacketType] = &[Initial, Handshake, OneRtt];
/// "__01": application data space only.
const APP_DATA: &[PacketType] = &[ZeroRtt, OneRtt];
/// "___1", or "__01" narrowed by RFC 9000 §12.5.
const ONLY_1RTT: &[PacketType] = &[OneRtt];

fn encode(frame: &Frame) -> Bytes {
    let mut out = Vec::new();
    frame.encode(&mut out);
    assert_eq!(out.len(), frame.encoded_len(), "encoded_len of {frame:?}");
    Bytes::from(out)
}

/// Decodes a payload expected to hold exactly one frame (or fail on the first).
fn decode_one(payload: Bytes, packet_type: PacketType) -> Result<Frame, TransportError> {
    let mut frames = Frames::new(payload, packet_type);
    let first = frames.next().expect("a first item");
    if first.is_ok() {
        assert_eq!(frames.next(), None, "one frame only");
    }
    first
}

fn decode_all(payload: &[u8], packet_type: PacketType) -> Result<Vec<Frame>, TransportError> {
    Frames::new(Bytes::copy_from_slice(payload), packet_type).collect()
}

/// Minimal varint encodings of `values`, back to back.
fn varints(values: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.put_varint_u64(*v);
    }
    out
}

fn assert_err(result: Result<impl fmt::Debug, TransportError>, code: TransportErrorCode, ty: u64) {
    let err = result.expect_err("an error");
    assert_eq!(err.code, code, "{err}");
    assert_eq!(err.frame_type, Some(ty), "{err}");
}

/// Round trip, encoded length, and which packet types accept the frame.
fn check_codec(frame: &Frame, allowed: &[PacketType]) {
    let bytes = encode(frame);
    assert_eq!(u64::from(bytes[0]), frame.frame_type().0);
    for packet_type in ALL_PACKET_TYPES {
        let decoded = decode_one(bytes.clone(), packet_type);
        if allowed.contains(&packet_type) {
            assert_eq!(decoded.as_ref(), Ok(frame), "{packet_type:?}");
            assert!(frame.allowed_in(packet_type));
        } else {
            assert_err(
                decoded,
                TransportErrorCode::PROTOCOL_VIOLATION,
                frame.frame_type().0,
            );
            assert!(!frame.allowed_in(packet_type));
        }
    }
}

/// Every proper prefix of the encoded frame is a FRAME_ENCODING_ERROR naming it.
fn check_truncations(frame: &Frame) {
    let bytes = encode(frame);
    for cut in 1..bytes.len() {
        let result = decode_one(bytes.slice(..cut), OneRtt);
        assert!(result.is_err(), "cut at {cut} of {frame:?} decoded");
        assert_err(
            result,
            TransportErrorCode::FRAME_ENCODING_ERROR,
            frame.frame_type().0,
        );
    }
}

fn check_frame(frame: Frame, allowed: &[PacketType]) {
    check_codec(&frame, allowed);
    check_truncations(&frame);
}

// ---- PADDING ----

#[test]
fn padding_run_decodes_as_one_frame() {
    let frames = decode_all(&[0, 0, 0, 1, 0, 0], OneRtt).unwrap();
    assert_eq!(
        frames,
        vec![Frame::Padding(3), Frame::Ping, Frame::Padding(2)]
    );
}

#[test]
fn padding_round_trips_in_every_space() {
    check_codec(&Frame::Padding(1), ANY_SPACE);
    check_codec(&Frame::Padding(1200), ANY_SPACE);
}

// ---- PING, HANDSHAKE_DONE ----

#[test]
fn ping_round_trips_in_every_space() {
    check_frame(Frame::Ping, ANY_SPACE);
}

#[test]
fn handshake_done_only_in_1rtt() {
    check_frame(Frame::HandshakeDone, ONLY_1RTT);
}

fn ack(ranges: &[std::ops::RangeInclusive<u64>], delay: u64, ecn: Option<EcnCounts>) -> Ack {
    Ack::from_ranges(ranges.iter().cloned(), delay, ecn).expect("valid ranges")
}

fn stream(id: u64, offset: u64, fin: bool, data: &'static [u8]) -> Frame {
    Frame::Stream(Stream {
        id: StreamId(id),
        offset,
        fin,
        data: Bytes::from_static(data),
    })
}

// ---- The payload as a whole ----

#[test]
fn empty_payload_is_protocol_violation() {
    let mut frames = Frames::new(Bytes::new(), OneRtt);
    let err = frames.next().unwrap().unwrap_err();
    assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
    assert_eq!(frames.next(), None);
}

#[test]
fn unknown_frame_type_is_frame_encoding_error() {
    for ty in [0x1fu64, 0x20, 0x2f, 0x32, 0x3f, 0x40, 0x4000, 1 << 30] {
        let bytes = varints(&[ty, 0, 0, 0]);
        assert_err(
            decode_all(&bytes, OneRtt),
            TransportErrorCode::FRAME_ENCODING_ERROR,
            ty,
        );
    }
}

#[test]
fn non_minimal_frame_type_is_protocol_violation() {
    // PING as a two-byte varint.
    assert_err(
        decode_all(&[0x40, 0x01], OneRtt),
        TransportErrorCode::PROTOCOL_VIOLATION,
        1,
    );
    assert_err(
        decode_all(&[0x80, 0, 0, 0x30, 0], OneRtt),
        TransportErrorCode::PROTOCOL_VIOLATION,
        0x30,
    );
}

#[test]
fn truncated_frame_type_is_frame_encoding_error() {
    let err = decode_all(&[0x01, 0x40], OneRtt).unwrap_err();
    assert_eq!(err.code, TransportErrorCode::FRAME_ENCODING_ERROR);
}

#[test]
fn retry_and_version_negotiation_carry_no_frames() {
    for packet_type in [Retry, VersionNegotiation] {
        assert_err(
            decode_all(&[0x00], packet_type),
            TransportErrorCode::PROTOCOL_VIOLATION,
            0,
        );
    }
}

#[test]
fn frames_stop_after_first_error() {
    let mut frames = Frames::new(Bytes::from_static(&[0x01, 0x1f, 0x01, 0x01]), OneRtt);
    assert_eq!(frames.next(), Some(Ok(Frame::Ping)));
    assert!(matches!(frames.next(), Some(Err(_))));
    assert_eq!(frames.next(), None);
    assert_eq!(frames.next(), None);
}

#[test]
fn decoded_data_borrows_the_payload() {
    let payload = Bytes::from(vec![0x0a, 0, 3, b'a', b'b', b'c', 0x07, 2, 9, 9]);
    let range = payload.as_ptr_range();
    let frames: Vec<_> = Frames::new(payload.clone(), OneRtt)
        .collect::<Result<_, _>>()
        .unwrap();
    let (Frame::Stream(s), Frame::NewToken(t)) = (&frames[0], &frames[1]) else {
        panic!("{frames:?}")
    };
    for slice in [&s.data, &t.token] {
        assert!(range.contains(&slice.as_ptr()), "{slice:?} was copied");
    }
}

#[test]
fn ack_eliciting_and_in_flight_follow_rfc9002_section_2() {
    let close = Frame::ConnectionClose(ConnectionClose {
        error_code: TransportErrorCode::NO_ERROR,
        frame_type: None,
        reason: Bytes::new(),
    });
    let app_close = Frame::ApplicationClose(ApplicationClose {
        error_code: VarInt::ZERO,
        reason: Bytes::new(),
    });
    let ack = Frame::Ack(ack(&[0..=3], 0, None));
    for frame in [&close, &app_close, &ack] {
        assert!(
            !frame.is_ack_eliciting() && !frame.counts_in_flight(),
            "{frame:?}"
        );
    }
    assert!(!Frame::Padding(1).is_ack_eliciting());
    assert!(Frame::Padding(1).counts_in_flight());
    for frame in [Frame::Ping, Frame::HandshakeDone, stream(0, 0, false, b"")] {
        assert!(
            frame.is_ack_eliciting() && frame.counts_in_flight(),
            "{frame:?}"
        );
    }
}

#[test]
fn probing_frames_are_those_marked_p_in_table_3() {
    assert!(Frame::PathChallenge(PathChallenge { data: [0; 8] }).is_probing());
    assert!(Frame::PathResponse(PathResponse { data: [0; 8] }).is_probing());
    assert!(Frame::Padding(3).is_probing());
    assert!(!Frame::Ping.is_probing());
}

#[test]
fn frame_type_names_print() {
    assert_eq!(FrameType::ACK_ECN.to_string(), "ACK_ECN");
    assert_eq!(FrameType(0x0d).to_string(), "STREAM");
    assert_eq!(FrameType(0x21).to_string(), "UNKNOWN(0x21)");
}
