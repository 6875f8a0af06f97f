//! STREAM, CRYPTO and DATAGRAM tests, header encoders and how much data fits.

use super::*;

// ---- CRYPTO ----

#[test]
fn crypto_round_trips_outside_0rtt() {
    let data = Bytes::from_static(b"client hello");
    check_frame(
        Frame::Crypto(Crypto {
            offset: 0,
            data: data.clone(),
        }),
        NOT_0RTT,
    );
    check_frame(
        Frame::Crypto(Crypto {
            offset: 70_000,
            data,
        }),
        NOT_0RTT,
    );
    check_frame(
        Frame::Crypto(Crypto {
            offset: 9,
            data: Bytes::new(),
        }),
        NOT_0RTT,
    );
}

#[test]
fn crypto_end_past_2_62_is_frame_encoding_error() {
    let mut bytes = vec![0x06];
    bytes.extend(varints(&[MAX_STREAM_OFFSET, 1]));
    bytes.push(0xaa);
    assert_err(
        decode_all(&bytes, Initial),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x06,
    );
    // Ending exactly at 2^62 - 1 is allowed.
    let mut ok = vec![0x06];
    ok.extend(varints(&[MAX_STREAM_OFFSET - 1, 1]));
    ok.push(0xaa);
    assert!(decode_all(&ok, Initial).is_ok());
}

#[test]
fn crypto_header_precedes_copied_data() {
    let frame = Crypto {
        offset: 300,
        data: Bytes::from_static(&[7; 100]),
    };
    let header = CryptoFrameHeader {
        offset: 300,
        len: 100,
    };
    let mut out = Vec::new();
    header.encode(&mut out);
    assert_eq!(out.len(), header.encoded_len());
    out.extend_from_slice(&frame.data);
    assert_eq!(out, encode(&Frame::Crypto(frame)).to_vec());
}

// ---- STREAM ----

#[test]
fn stream_round_trips_in_application_data_space() {
    check_frame(stream(0, 0, false, b"hello"), APP_DATA);
    check_frame(stream(7, 1 << 20, true, b"world"), APP_DATA);
    check_frame(stream(3, 0, true, b""), APP_DATA);
    check_frame(stream(1, MAX_STREAM_OFFSET - 3, false, b"end"), APP_DATA);
}

#[test]
fn stream_decodes_all_eight_type_bit_combinations() {
    for ty in 0x08u8..=0x0f {
        let mut bytes = vec![ty, 5];
        if ty & 0x04 != 0 {
            bytes.extend(varints(&[1000]));
        }
        if ty & 0x02 != 0 {
            bytes.push(3);
        }
        bytes.extend(b"abc");
        let frames = decode_all(&bytes, OneRtt).unwrap();
        let expected = Stream {
            id: StreamId(5),
            offset: if ty & 0x04 != 0 { 1000 } else { 0 },
            fin: ty & 0x01 != 0,
            data: Bytes::from_static(b"abc"),
        };
        assert_eq!(frames, vec![Frame::Stream(expected)], "type {ty:#x}");
    }
}

#[test]
fn stream_without_len_runs_to_end_of_packet() {
    let frames = decode_all(&[0x08, 1, b'a', 0x01, 0x00], OneRtt).unwrap();
    assert_eq!(frames, vec![stream(1, 0, false, &[b'a', 0x01, 0x00])]);
    // With LEN, the bytes after the data are frames of their own.
    let frames = decode_all(&[0x0a, 1, 1, b'a', 0x01, 0x00], OneRtt).unwrap();
    assert_eq!(
        frames,
        vec![stream(1, 0, false, b"a"), Frame::Ping, Frame::Padding(1)]
    );
}

#[test]
fn stream_end_past_2_62_is_frame_encoding_error() {
    let mut bytes = vec![0x0e, 0];
    bytes.extend(varints(&[MAX_STREAM_OFFSET, 1]));
    bytes.push(0xaa);
    assert_err(
        decode_all(&bytes, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x0e,
    );
    let mut no_len = vec![0x0c, 0];
    no_len.extend(varints(&[MAX_STREAM_OFFSET]));
    no_len.push(0xaa);
    assert_err(
        decode_all(&no_len, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x0c,
    );
}

#[test]
fn stream_in_initial_or_handshake_is_protocol_violation() {
    let bytes = encode(&stream(0, 0, false, b"x"));
    for packet_type in [Initial, Handshake] {
        assert_err(
            decode_one(bytes.clone(), packet_type),
            TransportErrorCode::PROTOCOL_VIOLATION,
            0x0a,
        );
    }
}

#[test]
fn stream_header_without_length_lets_data_fill_the_packet() {
    let header = StreamFrameHeader {
        id: StreamId(4),
        offset: 64,
        len: 3,
        fin: true,
        has_length: false,
    };
    let mut out = Vec::new();
    header.encode(&mut out);
    assert_eq!(out.len(), header.encoded_len());
    out.extend_from_slice(b"xyz");
    assert_eq!(
        decode_all(&out, OneRtt).unwrap(),
        vec![stream(4, 64, true, b"xyz")]
    );
}

/// Checks a `max_data_len` answer for `space`: it fits, and one byte more does not.
fn check_fit(space: usize, fit: Option<usize>, header_len: impl Fn(usize) -> usize) {
    match fit {
        Some(n) => {
            assert!(header_len(n) + n <= space, "{n} in {space}");
            assert!(
                header_len(n + 1) + n + 1 > space,
                "{} also fits {space}",
                n + 1
            );
        }
        None => assert!(header_len(0) > space, "empty frame fits {space}"),
    }
}

#[test]
fn stream_max_data_len_accounts_for_shrinking_length() {
    for (id, offset) in [(0, 0), (5, 70), (1 << 20, 1 << 40)] {
        for has_length in [true, false] {
            for space in 0..20_000 {
                let fit = StreamFrameHeader::max_data_len(StreamId(id), offset, space, has_length);
                check_fit(space, fit, |len| {
                    StreamFrameHeader {
                        id: StreamId(id),
                        offset,
                        len,
                        fin: false,
                        has_length,
                    }
                    .encoded_len()
                });
            }
        }
    }
}

#[test]
fn crypto_and_datagram_max_data_len_account_for_shrinking_length() {
    for space in 0..20_000 {
        check_fit(
            space,
            CryptoFrameHeader::max_data_len(1 << 16, space),
            |len| {
                CryptoFrameHeader {
                    offset: 1 << 16,
                    len,
                }
                .encoded_len()
            },
        );
        for has_length in [true, false] {
            check_fit(
                space,
                DatagramFrameHeader::max_data_len(space, has_length),
                |len| DatagramFrameHeader { len, has_length }.encoded_len(),
            );
        }
    }
}

// ---- DATAGRAM ----

#[test]
fn datagram_round_trips_in_application_data_space() {
    check_frame(
        Frame::Datagram(Datagram {
            data: Bytes::from_static(&[3; 300]),
        }),
        APP_DATA,
    );
    check_frame(Frame::Datagram(Datagram { data: Bytes::new() }), APP_DATA);
}

#[test]
fn datagram_without_length_runs_to_end_of_packet() {
    let frames = decode_all(&[0x30, 1, 2, 0x01], ZeroRtt).unwrap();
    assert_eq!(
        frames,
        vec![Frame::Datagram(Datagram {
            data: Bytes::from_static(&[1, 2, 1])
        })]
    );
    let frames = decode_all(&[0x31, 1, 2, 0x01], ZeroRtt).unwrap();
    assert_eq!(
        frames,
        vec![
            Frame::Datagram(Datagram {
                data: Bytes::from_static(&[2])
            }),
            Frame::Ping
        ]
    );
}

#[test]
fn datagram_header_encodes_both_types() {
    for has_length in [true, false] {
        let header = DatagramFrameHeader { len: 2, has_length };
        let mut out = Vec::new();
        header.encode(&mut out);
        assert_eq!(out.len(), header.encoded_len());
        assert_eq!(u64::from(out[0]), header.frame_type().0);
        out.extend_from_slice(&[5, 6]);
        assert_eq!(
            decode_all(&out, OneRtt).unwrap(),
            vec![Frame::Datagram(Datagram {
                data: Bytes::from_static(&[5, 6])
            })]
        );
    }
}
