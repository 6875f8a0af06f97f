//! NEW_TOKEN, connection ID, path validation and CONNECTION_CLOSE tests.

use super::*;

// ---- NEW_TOKEN ----

#[test]
fn new_token_only_in_1rtt() {
    check_frame(
        Frame::NewToken(NewToken {
            token: Bytes::from_static(&[1; 90]),
        }),
        ONLY_1RTT,
    );
}

#[test]
fn empty_new_token_is_frame_encoding_error() {
    assert_err(
        decode_all(&[0x07, 0x00], OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x07,
    );
}

// ---- NEW_CONNECTION_ID, RETIRE_CONNECTION_ID ----

fn new_cid_bytes(sequence: u64, retire_prior_to: u64, cid: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x18];
    bytes.extend(varints(&[sequence, retire_prior_to]));
    bytes.push(cid.len() as u8);
    bytes.extend_from_slice(cid);
    bytes.extend([0xab; 16]);
    bytes
}

#[test]
fn new_connection_id_round_trips_in_application_data_space() {
    for len in [1, 8, 20] {
        check_frame(
            Frame::NewConnectionId(NewConnectionId {
                sequence: 7,
                retire_prior_to: 7,
                id: ConnectionId::new(&vec![0x5a; len]).unwrap(),
                reset_token: ResetToken([9; 16]),
            }),
            APP_DATA,
        );
    }
}

#[test]
fn new_connection_id_with_zero_length_cid_is_frame_encoding_error() {
    let bytes = new_cid_bytes(1, 0, &[]);
    assert_err(
        decode_all(&bytes, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x18,
    );
}

#[test]
fn new_connection_id_longer_than_20_bytes_is_frame_encoding_error() {
    let bytes = new_cid_bytes(1, 0, &[1; 21]);
    assert_err(
        decode_all(&bytes, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x18,
    );
}

#[test]
fn new_connection_id_retire_prior_to_above_sequence_is_frame_encoding_error() {
    let bytes = new_cid_bytes(3, 4, &[1; 8]);
    assert_err(
        decode_all(&bytes, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x18,
    );
}

#[test]
fn retire_connection_id_only_in_1rtt() {
    check_frame(
        Frame::RetireConnectionId(RetireConnectionId { sequence: 1 << 14 }),
        ONLY_1RTT,
    );
}

// ---- PATH_CHALLENGE, PATH_RESPONSE ----

#[test]
fn path_challenge_round_trips_in_application_data_space() {
    check_frame(
        Frame::PathChallenge(PathChallenge { data: *b"abcdefgh" }),
        APP_DATA,
    );
}

#[test]
fn path_response_only_in_1rtt() {
    check_frame(
        Frame::PathResponse(PathResponse { data: [0xff; 8] }),
        ONLY_1RTT,
    );
}

// ---- CONNECTION_CLOSE ----

#[test]
fn transport_close_round_trips_in_every_space() {
    check_frame(
        Frame::ConnectionClose(ConnectionClose {
            error_code: TransportErrorCode::PROTOCOL_VIOLATION,
            frame_type: Some(0x08),
            reason: Bytes::from_static(b"bad stream"),
        }),
        ANY_SPACE,
    );
    check_frame(
        Frame::ConnectionClose(ConnectionClose {
            error_code: TransportErrorCode::crypto(42),
            frame_type: None,
            reason: Bytes::new(),
        }),
        ANY_SPACE,
    );
}

#[test]
fn transport_close_frame_type_zero_decodes_as_none() {
    let frames = decode_all(&[0x1c, 0x0a, 0x00, 0x00], Initial).unwrap();
    let Frame::ConnectionClose(close) = &frames[0] else {
        panic!("{frames:?}")
    };
    assert_eq!(close.frame_type, None);
    assert_eq!(close.error_code, TransportErrorCode::PROTOCOL_VIOLATION);
}

#[test]
fn transport_close_from_transport_error_keeps_code_frame_and_reason() {
    let err = TransportError::frame_encoding("short").with_frame(0x06);
    let close = ConnectionClose::from(err);
    assert_eq!(close.error_code, TransportErrorCode::FRAME_ENCODING_ERROR);
    assert_eq!(close.frame_type, Some(0x06));
    assert_eq!(&close.reason[..], b"short");
}

#[test]
fn application_close_only_in_application_data_space() {
    check_frame(
        Frame::ApplicationClose(ApplicationClose {
            error_code: VarInt::from_u32(0x100),
            reason: Bytes::from_static("bye ✓".as_bytes()),
        }),
        APP_DATA,
    );
}
