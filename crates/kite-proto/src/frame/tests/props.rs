//! Property tests: no payload makes [`Frames`] panic, whatever decodes
//! re-encodes to an equal frame, and arbitrary frames survive a round trip.

use super::*;
use proptest::collection::vec;

/// Re-encodes each frame that decoded from `payload` and checks it decodes,
/// alone and in the same packet type, to an equal frame.
fn check_reencoding(payload: Vec<u8>, packet_type: PacketType) -> Result<(), TestCaseError> {
    for frame in Frames::new(Bytes::from(payload), packet_type) {
        let Ok(frame) = frame else { break };
        let bytes = encode(&frame);
        prop_assert_eq!(decode_one(bytes, packet_type), Ok(frame));
    }
    Ok(())
}

/// Known frame types, to start payloads with something that gets past the type.
fn known_type() -> impl Strategy<Value = u8> {
    prop_oneof![0x00u8..=0x1e, 0x30u8..=0x31]
}

fn varint() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..64,
        0u64..16_384,
        0u64..(1 << 30),
        0..=MAX_STREAM_OFFSET
    ]
}

fn data() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..80).prop_map(Bytes::from)
}

fn stream_id() -> impl Strategy<Value = StreamId> {
    varint().prop_map(StreamId)
}

fn dir() -> impl Strategy<Value = Dir> {
    prop_oneof![Just(Dir::Bi), Just(Dir::Uni)]
}

fn ack_frame() -> impl Strategy<Value = Frame> {
    let ecn = proptest::option::of(
        (varint(), varint(), varint()).prop_map(|(ect0, ect1, ce)| EcnCounts { ect0, ect1, ce }),
    );
    (varint(), varint(), vec((varint(), varint()), 0..20), ecn).prop_map(
        |(largest, delay, gaps, ecn)| {
            // Walk down from `largest`, ending the list before it would pass 0.
            let mut ranges = Vec::new();
            let mut top = Some(largest);
            for (gap, len) in gaps {
                let Some(end) = top else { break };
                let Some(start) = end.checked_sub(len) else {
                    break;
                };
                ranges.push(start..=end);
                top = start.checked_sub(gap).and_then(|v| v.checked_sub(2));
            }
            if ranges.is_empty() {
                ranges.push(largest..=largest);
            }
            Frame::Ack(Ack::from_ranges(ranges, delay, ecn).expect("ordered ranges"))
        },
    )
}

/// An offset and data ending at or below 2^62 - 1.
fn offset_and_data() -> impl Strategy<Value = (u64, Bytes)> {
    data().prop_flat_map(|data| {
        let most = MAX_STREAM_OFFSET - data.len() as u64;
        (prop_oneof![Just(0), 0..=most], Just(data))
    })
}

fn any_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (1usize..1500).prop_map(Frame::Padding),
        Just(Frame::Ping),
        Just(Frame::HandshakeDone),
        ack_frame(),
        (stream_id(), varint(), varint()).prop_map(|(id, code, final_size)| {
            Frame::ResetStream(ResetStream {
                id,
                error_code: VarInt::saturating(code),
                final_size,
            })
        }),
        (stream_id(), varint()).prop_map(|(id, code)| {
            Frame::StopSending(StopSending {
                id,
                error_code: VarInt::saturating(code),
            })
        }),
        offset_and_data().prop_map(|(offset, data)| Frame::Crypto(Crypto { offset, data })),
        vec(any::<u8>(), 1..80).prop_map(|t| Frame::NewToken(NewToken { token: t.into() })),
        (stream_id(), offset_and_data(), any::<bool>()).prop_map(|(id, (offset, data), fin)| {
            Frame::Stream(Stream {
                id,
                offset,
                fin,
                data,
            })
        }),
        varint().prop_map(|max| Frame::MaxData(MaxData { max })),
        (stream_id(), varint())
            .prop_map(|(id, max)| { Frame::MaxStreamData(MaxStreamData { id, max }) }),
        (dir(), 0..=MAX_STREAM_COUNT)
            .prop_map(|(dir, max)| { Frame::MaxStreams(MaxStreams { dir, max }) }),
        varint().prop_map(|limit| Frame::DataBlocked(DataBlocked { limit })),
        (stream_id(), varint())
            .prop_map(|(id, limit)| { Frame::StreamDataBlocked(StreamDataBlocked { id, limit }) }),
        (dir(), 0..=MAX_STREAM_COUNT)
            .prop_map(|(dir, limit)| { Frame::StreamsBlocked(StreamsBlocked { dir, limit }) }),
        (
            varint(),
            varint(),
            vec(any::<u8>(), 1..=20),
            any::<[u8; 16]>()
        )
            .prop_map(
                |(a, b, cid, token)| Frame::NewConnectionId(NewConnectionId {
                    sequence: a.max(b),
                    retire_prior_to: a.min(b),
                    id: ConnectionId::new(&cid).expect("at most 20 bytes"),
                    reset_token: ResetToken(token),
                })
            ),
        varint().prop_map(|sequence| Frame::RetireConnectionId(RetireConnectionId { sequence })),
        any::<[u8; 8]>().prop_map(|data| Frame::PathChallenge(PathChallenge { data })),
        any::<[u8; 8]>().prop_map(|data| Frame::PathResponse(PathResponse { data })),
        (
            varint(),
            proptest::option::of(1..=MAX_STREAM_OFFSET),
            data()
        )
            .prop_map(|(code, frame_type, reason)| Frame::ConnectionClose(
                ConnectionClose {
                    error_code: TransportErrorCode(code),
                    frame_type,
                    reason,
                }
            )),
        (varint(), data()).prop_map(|(code, reason)| {
            Frame::ApplicationClose(ApplicationClose {
                error_code: VarInt::saturating(code),
                reason,
            })
        }),
        data().prop_map(|data| Frame::Datagram(Datagram { data })),
    ]
}

fn packet_type() -> impl Strategy<Value = PacketType> {
    proptest::sample::select(ALL_PACKET_TYPES.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_payloads_never_panic_and_reencode(
        payload in vec(any::<u8>(), 0..200),
        packet_type in packet_type(),
    ) {
        check_reencoding(payload, packet_type)?;
    }

    #[test]
    fn payloads_of_known_types_never_panic_and_reencode(
        ty in known_type(),
        rest in vec(any::<u8>(), 0..120),
        packet_type in packet_type(),
    ) {
        let mut payload = vec![ty];
        payload.extend(rest);
        check_reencoding(payload, packet_type)?;
    }

    #[test]
    fn arbitrary_frames_round_trip(frame in any_frame()) {
        let bytes = encode(&frame);
        prop_assert_eq!(decode_one(bytes.clone(), OneRtt), Ok(frame.clone()));
        // Encoding into a buffer of exactly encoded_len bytes fits.
        let mut exact = vec![0u8; frame.encoded_len()];
        frame.encode(&mut &mut exact[..]);
        prop_assert_eq!(&exact[..], &bytes[..]);
    }

    #[test]
    fn frame_sequences_decode_in_order(frames in vec(any_frame(), 1..8)) {
        let mut payload = Vec::new();
        for frame in &frames {
            frame.encode(&mut payload);
        }
        // Neighbouring paddings merge into one run; compare after merging.
        let mut expected: Vec<Frame> = Vec::new();
        for frame in frames {
            match (expected.last_mut(), &frame) {
                (Some(Frame::Padding(a)), Frame::Padding(b)) => *a += b,
                _ => expected.push(frame),
            }
        }
        prop_assert_eq!(decode_all(&payload, OneRtt), Ok(expected));
    }
}
