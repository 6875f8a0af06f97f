//! RESET_STREAM, STOP_SENDING and flow control frame tests.

use super::*;

// ---- RESET_STREAM, STOP_SENDING ----

#[test]
fn reset_stream_round_trips_in_application_data_space() {
    check_frame(
        Frame::ResetStream(ResetStream {
            id: StreamId(4),
            error_code: VarInt::from_u32(77),
            final_size: 1 << 33,
        }),
        APP_DATA,
    );
}

#[test]
fn stop_sending_round_trips_in_application_data_space() {
    check_frame(
        Frame::StopSending(StopSending {
            id: StreamId(MAX_STREAM_OFFSET),
            error_code: VarInt::MAX,
        }),
        APP_DATA,
    );
}

// ---- MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS ----

#[test]
fn max_data_round_trips_in_application_data_space() {
    check_frame(Frame::MaxData(MaxData { max: 1 << 30 }), APP_DATA);
}

#[test]
fn max_stream_data_round_trips_in_application_data_space() {
    check_frame(
        Frame::MaxStreamData(MaxStreamData {
            id: StreamId(2),
            max: 16_383,
        }),
        APP_DATA,
    );
}

#[test]
fn max_streams_round_trips_both_directions() {
    let bidi = MaxStreams {
        dir: Dir::Bi,
        max: 100,
    };
    let uni = MaxStreams {
        dir: Dir::Uni,
        max: MAX_STREAM_COUNT,
    };
    assert_eq!(bidi.frame_type(), FrameType::MAX_STREAMS_BIDI);
    assert_eq!(uni.frame_type(), FrameType::MAX_STREAMS_UNI);
    check_frame(Frame::MaxStreams(bidi), APP_DATA);
    check_frame(Frame::MaxStreams(uni), APP_DATA);
}

#[test]
fn max_streams_over_2_60_is_frame_encoding_error() {
    for ty in [0x12u8, 0x13] {
        let mut bytes = vec![ty];
        bytes.extend(varints(&[MAX_STREAM_COUNT + 1]));
        assert_err(
            decode_all(&bytes, OneRtt),
            TransportErrorCode::FRAME_ENCODING_ERROR,
            ty.into(),
        );
    }
}

// ---- DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED ----

#[test]
fn data_blocked_round_trips_in_application_data_space() {
    check_frame(Frame::DataBlocked(DataBlocked { limit: 12_345 }), APP_DATA);
}

#[test]
fn stream_data_blocked_round_trips_in_application_data_space() {
    check_frame(
        Frame::StreamDataBlocked(StreamDataBlocked {
            id: StreamId(9),
            limit: 0,
        }),
        APP_DATA,
    );
}

#[test]
fn streams_blocked_round_trips_both_directions() {
    check_frame(
        Frame::StreamsBlocked(StreamsBlocked {
            dir: Dir::Bi,
            limit: 3,
        }),
        APP_DATA,
    );
    check_frame(
        Frame::StreamsBlocked(StreamsBlocked {
            dir: Dir::Uni,
            limit: MAX_STREAM_COUNT,
        }),
        APP_DATA,
    );
}

#[test]
fn streams_blocked_over_2_60_is_frame_encoding_error() {
    for ty in [0x16u8, 0x17] {
        let mut bytes = vec![ty];
        bytes.extend(varints(&[MAX_STREAM_COUNT + 1]));
        assert_err(
            decode_all(&bytes, OneRtt),
            TransportErrorCode::FRAME_ENCODING_ERROR,
            ty.into(),
        );
    }
}
