//! ACK tests: round trips, range validation, and the range-bounded encoder.

use super::*;

// ---- ACK ----

#[test]
fn ack_round_trips_outside_0rtt() {
    check_frame(Frame::Ack(ack(&[0..=0], 0, None)), NOT_0RTT);
    check_frame(
        Frame::Ack(ack(&[90..=100, 50..=60, 3..=3, 0..=1], 1234, None)),
        NOT_0RTT,
    );
    let ecn = EcnCounts {
        ect0: 1,
        ect1: 70,
        ce: 20_000,
    };
    check_frame(
        Frame::Ack(ack(&[(1 << 40)..=(1 << 41)], 5, Some(ecn))),
        NOT_0RTT,
    );
    check_frame(
        Frame::Ack(ack(
            &[MAX_STREAM_OFFSET..=MAX_STREAM_OFFSET],
            u32::MAX.into(),
            None,
        )),
        NOT_0RTT,
    );
}

#[test]
fn ack_ranges_iterate_highest_first() {
    let a = ack(&[90..=100, 50..=60, 3..=3, 0..=1], 0, None);
    assert_eq!(a.largest(), 100);
    assert_eq!(a.range_count(), 4);
    assert_eq!(a.ranges().len(), 4);
    assert_eq!(
        a.ranges().collect::<Vec<_>>(),
        vec![90..=100, 50..=60, 3..=3, 0..=1]
    );
}

#[test]
fn ack_ecn_counts_use_type_0x03() {
    let ecn = EcnCounts {
        ect0: 3,
        ect1: 0,
        ce: 1,
    };
    let a = ack(&[7..=9], 0, Some(ecn));
    assert_eq!(a.frame_type(), FrameType::ACK_ECN);
    assert_eq!(a.ecn(), Some(ecn));
    assert_eq!(ack(&[7..=9], 0, None).frame_type(), FrameType::ACK);
}

#[test]
fn ack_delay_is_kept_raw_and_scaled_on_request() {
    let a = ack(&[1..=1], 100, None);
    assert_eq!(a.delay(), 100);
    assert_eq!(a.delay_duration(3), std::time::Duration::from_micros(800));
    assert_eq!(
        a.delay_duration(200),
        std::time::Duration::from_micros(u64::MAX)
    );
}

#[test]
fn ack_first_range_below_zero_is_frame_encoding_error() {
    // largest 5, first range 6 would reach -1.
    let mut bytes = vec![0x02];
    bytes.extend(varints(&[5, 0, 0, 6]));
    assert_err(
        decode_all(&bytes, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x02,
    );
}

#[test]
fn ack_range_below_zero_is_frame_encoding_error() {
    // 10..=10, then a gap of 9 would put the next range's top at -1.
    let mut bytes = vec![0x02];
    bytes.extend(varints(&[10, 0, 1, 0, 9, 0]));
    assert_err(
        decode_all(&bytes, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x02,
    );
    // Gap 8 reaches 0 exactly, which is fine; a length of 1 then goes below.
    let mut ok = vec![0x02];
    ok.extend(varints(&[10, 0, 1, 0, 8, 0]));
    let frames = decode_all(&ok, OneRtt).unwrap();
    let Frame::Ack(a) = &frames[0] else {
        panic!("{frames:?}")
    };
    assert_eq!(a.ranges().collect::<Vec<_>>(), vec![10..=10, 0..=0]);
    let mut bad = vec![0x02];
    bad.extend(varints(&[10, 0, 1, 0, 8, 1]));
    assert_err(
        decode_all(&bad, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x02,
    );
}

#[test]
fn ack_with_huge_range_count_is_truncated_not_hung() {
    let mut bytes = vec![0x02];
    bytes.extend(varints(&[100, 0, MAX_STREAM_OFFSET, 0]));
    assert_err(
        decode_all(&bytes, OneRtt),
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x02,
    );
}

#[test]
fn ack_equality_ignores_non_minimal_range_encoding() {
    let mut minimal = vec![0x02];
    minimal.extend(varints(&[20, 0, 1, 2, 3, 4]));
    let mut padded = vec![0x02];
    padded.extend(varints(&[20, 0, 1, 2]));
    padded.extend([0x40, 3, 0x80, 0, 0, 4]);
    let a = decode_all(&minimal, OneRtt).unwrap();
    let b = decode_all(&padded, OneRtt).unwrap();
    assert_eq!(a, b);
    // The received encoding is kept, and its length reported truthfully.
    assert_eq!(encode(&b[0]).as_ref(), &padded[..]);
}

#[test]
fn ack_from_ranges_refuses_out_of_order_or_adjacent_ranges() {
    assert!(Ack::from_ranges(Vec::new(), 0, None).is_none());
    assert!(
        Ack::from_ranges(vec![5..=9, 4..=4], 0, None).is_none(),
        "adjacent"
    );
    assert!(
        Ack::from_ranges(vec![5..=9, 7..=8], 0, None).is_none(),
        "overlap"
    );
    assert!(Ack::from_ranges(vec![5..=9, 0..=3], 0, None).is_some());
    #[allow(clippy::reversed_empty_ranges)]
    let empty = vec![9..=5];
    assert!(Ack::from_ranges(empty, 0, None).is_none(), "empty range");
}

/// Ranges 1000..=1000, 990..=990, ... down to 0: one packet acked per ten.
fn sparse_ranges(n: u64) -> impl Iterator<Item = std::ops::RangeInclusive<u64>> + Clone {
    (0..n).rev().map(|i| i * 10..=i * 10)
}

fn encode_ack<I>(encoder: &AckEncoder<I>) -> Ack
where
    I: Iterator<Item = std::ops::RangeInclusive<u64>> + Clone,
{
    let mut out = Vec::new();
    encoder.encode(&mut out);
    assert_eq!(out.len(), encoder.encoded_len());
    match decode_one(Bytes::from(out), Initial) {
        Ok(Frame::Ack(a)) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ack_encoder_writes_at_most_max_ranges() {
    let encoder = AckEncoder::new(sparse_ranges(101), 7, None, 30, usize::MAX).unwrap();
    assert_eq!(encoder.range_count(), 30);
    let a = encode_ack(&encoder);
    assert_eq!(
        a.ranges().collect::<Vec<_>>(),
        sparse_ranges(101).take(30).collect::<Vec<_>>()
    );
    assert_eq!(a.delay(), 7);
}

#[test]
fn ack_encoder_fits_max_len_across_the_range_count_varint_step() {
    let full = AckEncoder::new(sparse_ranges(200), 0, None, usize::MAX, usize::MAX).unwrap();
    assert_eq!(full.range_count(), 200);
    for max_len in 0..=full.encoded_len() {
        match AckEncoder::new(sparse_ranges(200), 0, None, usize::MAX, max_len) {
            None => assert!(max_len < 6, "one range fits in {max_len}"),
            Some(encoder) => {
                assert!(encoder.encoded_len() <= max_len);
                let a = encode_ack(&encoder);
                assert_eq!(a.range_count() as usize, encoder.range_count());
                // One range more would not have fit (or there is none).
                if let Some(more) = AckEncoder::new(
                    sparse_ranges(200),
                    0,
                    None,
                    encoder.range_count() + 1,
                    usize::MAX,
                ) && more.range_count() > encoder.range_count()
                {
                    assert!(more.encoded_len() > max_len, "{max_len}");
                }
            }
        }
    }
}

#[test]
fn ack_encoder_stops_at_first_out_of_order_range() {
    let ranges = [50..=60, 45..=48, 46..=47, 0..=1];
    let encoder = AckEncoder::new(ranges.iter().cloned(), 0, None, 10, 1000).unwrap();
    assert_eq!(encoder.range_count(), 2);
    assert!(AckEncoder::new(std::iter::empty(), 0, None, 10, 1000).is_none());
    assert!(AckEncoder::new(ranges.iter().cloned(), 0, None, 0, 1000).is_none());
}
