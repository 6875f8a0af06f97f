use super::*;
use crate::connection::streams::assembler::BASE_PIECES;

const WINDOW: u64 = 10_000;

fn part() -> RecvPart {
    RecvPart::new(WINDOW, WINDOW)
}

fn data(offset: u64, len: usize) -> Bytes {
    (offset..offset + len as u64)
        .map(|i| i as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn recv(part: &mut RecvPart, offset: u64, len: usize, fin: bool) -> Result<Credit, TransportError> {
    part.handle_data(Instant::now(), offset, data(offset, len), fin)
}

fn code<T>(result: Result<T, TransportError>) -> Option<TransportErrorCode> {
    result.err().map(|e| e.code)
}

#[test]
fn in_order_data_is_read_then_the_end_is_reported_once() {
    let mut part = part();
    assert_eq!(part.state(), RecvState::Recv);
    recv(&mut part, 0, 100, false).unwrap();
    recv(&mut part, 100, 50, true).unwrap();
    assert_eq!(part.state(), RecvState::DataRecvd);
    assert_eq!(part.read(100), Ok(Some(data(0, 100))));
    assert_eq!(part.read(usize::MAX), Ok(Some(data(100, 50))));
    assert_eq!(part.state(), RecvState::DataRecvd, "end not seen yet");
    assert_eq!(part.read(usize::MAX), Ok(None));
    assert_eq!(part.state(), RecvState::DataRead);
    assert!(part.is_done());
    assert_eq!(part.read(usize::MAX), Err(ReadError::Closed));
}

#[test]
fn out_of_order_data_goes_through_size_known_to_data_recvd() {
    let mut part = part();
    recv(&mut part, 100, 50, true).unwrap();
    assert_eq!(part.state(), RecvState::SizeKnown);
    assert_eq!(part.final_size(), Some(150));
    assert_eq!(part.read(10), Err(ReadError::Blocked));
    assert!(!part.is_readable());
    recv(&mut part, 0, 100, false).unwrap();
    assert_eq!(part.state(), RecvState::DataRecvd);
    assert!(part.is_readable());
}

#[test]
fn read_into_copies_across_pieces_and_reports_the_end() {
    let mut part = part();
    recv(&mut part, 0, 1500, false).unwrap();
    recv(&mut part, 1500, 1500, true).unwrap();
    let mut buf = [0u8; 2000];
    assert_eq!(part.read_into(&mut buf), Ok(Some(2000)));
    assert_eq!(&buf[..], &data(0, 2000)[..]);
    assert_eq!(part.read_into(&mut buf), Ok(Some(1000)));
    assert_eq!(&buf[..1000], &data(2000, 1000)[..]);
    assert_eq!(part.read_into(&mut buf), Ok(None));
}

#[test]
fn an_empty_fin_frame_ends_the_stream() {
    let mut part = part();
    recv(&mut part, 0, 10, false).unwrap();
    recv(&mut part, 10, 0, true).unwrap();
    assert_eq!(part.state(), RecvState::DataRecvd);
    part.read(100).unwrap();
    assert_eq!(part.read(100), Ok(None));
}

#[test]
fn duplicate_data_and_a_repeated_fin_are_accepted() {
    let mut part = part();
    recv(&mut part, 0, 100, true).unwrap();
    let again = recv(&mut part, 0, 100, true).unwrap();
    assert_eq!(again, Credit::default(), "nothing new to account");
    recv(&mut part, 20, 30, false).unwrap();
    assert_eq!(part.read(usize::MAX), Ok(Some(data(0, 100))));
}

#[test]
fn data_past_a_known_final_size_is_a_final_size_error() {
    let mut part = part();
    recv(&mut part, 0, 100, true).unwrap();
    assert_eq!(
        code(recv(&mut part, 90, 20, false)),
        Some(TransportErrorCode::FINAL_SIZE_ERROR)
    );
    assert_eq!(
        code(recv(&mut part, 100, 1, false)),
        Some(TransportErrorCode::FINAL_SIZE_ERROR)
    );
}

#[test]
fn a_changed_final_size_is_a_final_size_error() {
    let mut part = part();
    recv(&mut part, 0, 100, true).unwrap();
    assert_eq!(
        code(recv(&mut part, 0, 50, true)),
        Some(TransportErrorCode::FINAL_SIZE_ERROR)
    );
    assert_eq!(
        code(recv(&mut part, 100, 0, true)),
        None,
        "same size again is fine"
    );
}

#[test]
fn a_fin_below_data_already_received_is_a_final_size_error() {
    let mut part = part();
    recv(&mut part, 200, 100, false).unwrap();
    assert_eq!(
        code(recv(&mut part, 0, 100, true)),
        Some(TransportErrorCode::FINAL_SIZE_ERROR)
    );
}

#[test]
fn data_past_the_stream_limit_is_a_flow_control_error() {
    let mut part = part();
    assert!(
        recv(&mut part, WINDOW - 10, 10, false).is_ok(),
        "up to the limit"
    );
    assert_eq!(
        code(recv(&mut part, WINDOW - 10, 11, false)),
        Some(TransportErrorCode::FLOW_CONTROL_ERROR)
    );
}

#[test]
fn data_ending_past_2_pow_62_is_a_flow_control_error() {
    let mut part = part();
    let offset = VarInt::MAX.into_inner() - 5;
    let result = part.handle_data(Instant::now(), offset, data(0, 10), false);
    assert_eq!(code(result), Some(TransportErrorCode::FLOW_CONTROL_ERROR));
    let result = part.handle_data(Instant::now(), u64::MAX, data(0, 10), false);
    assert_eq!(
        code(result),
        Some(TransportErrorCode::FLOW_CONTROL_ERROR),
        "no overflow"
    );
}

#[test]
fn credit_reports_only_growth_of_the_highest_offset() {
    let mut part = part();
    assert_eq!(recv(&mut part, 500, 100, false).unwrap().received, 600);
    assert_eq!(recv(&mut part, 0, 100, false).unwrap().received, 0);
    assert_eq!(recv(&mut part, 550, 100, false).unwrap().received, 50);
}

#[test]
fn reset_discards_data_and_is_reported_once() {
    let mut part = part();
    recv(&mut part, 0, 100, false).unwrap();
    recv(&mut part, 300, 100, false).unwrap();
    part.read(40).unwrap();
    let credit = part.handle_reset(Instant::now(), 7, 1000).unwrap();
    // Received grows from 400 to the final size; all unread bytes come back.
    assert_eq!(
        credit,
        Credit {
            received: 600,
            consumed: 960
        }
    );
    assert_eq!(part.state(), RecvState::ResetRecvd { error_code: 7 });
    assert_eq!(part.buffered(), 0);
    assert!(part.is_readable());
    assert_eq!(part.read(10), Err(ReadError::Reset(7)));
    assert_eq!(part.state(), RecvState::ResetRead);
    assert!(part.is_done());
    assert_eq!(part.read(10), Err(ReadError::Closed));
}

#[test]
fn reset_changing_the_final_size_is_a_final_size_error() {
    let mut part = part();
    recv(&mut part, 0, 100, true).unwrap();
    let result = part.handle_reset(Instant::now(), 0, 101);
    assert_eq!(code(result), Some(TransportErrorCode::FINAL_SIZE_ERROR));
}

#[test]
fn reset_below_data_received_is_a_final_size_error() {
    let mut part = part();
    recv(&mut part, 0, 100, false).unwrap();
    let result = part.handle_reset(Instant::now(), 0, 99);
    assert_eq!(code(result), Some(TransportErrorCode::FINAL_SIZE_ERROR));
}

#[test]
fn reset_past_the_stream_limit_is_a_flow_control_error() {
    let mut part = part();
    let result = part.handle_reset(Instant::now(), 0, WINDOW + 1);
    assert_eq!(code(result), Some(TransportErrorCode::FLOW_CONTROL_ERROR));
}

#[test]
fn reset_after_all_data_arrived_is_withheld() {
    let mut part = part();
    recv(&mut part, 0, 100, true).unwrap();
    let credit = part.handle_reset(Instant::now(), 3, 100).unwrap();
    assert_eq!(credit, Credit::default());
    assert_eq!(part.state(), RecvState::DataRecvd);
    assert_eq!(part.read(usize::MAX), Ok(Some(data(0, 100))));
    assert_eq!(part.read(usize::MAX), Ok(None));
}

#[test]
fn data_after_a_reset_is_counted_and_discarded() {
    let mut part = part();
    part.handle_reset(Instant::now(), 1, 500).unwrap();
    let credit = recv(&mut part, 0, 500, false).unwrap();
    assert_eq!(credit, Credit::default(), "already counted at the reset");
    assert_eq!(part.buffered(), 0);
    assert_eq!(
        code(recv(&mut part, 400, 200, false)),
        Some(TransportErrorCode::FINAL_SIZE_ERROR)
    );
}

#[test]
fn stop_discards_data_releases_credit_and_asks_for_stop_sending() {
    let mut part = part();
    recv(&mut part, 0, 100, false).unwrap();
    recv(&mut part, 200, 100, false).unwrap();
    part.read(30).unwrap();
    assert_eq!(part.stop(9), Ok(270), "300 received, 30 read");
    assert_eq!(part.stop_sending(), Some(9));
    assert_eq!(part.buffered(), 0);
    assert_eq!(part.read(10), Err(ReadError::Closed));
    assert!(!part.is_readable());
    assert_eq!(part.stop(9), Err(ReadError::Closed), "stopped once");
    // Later data still counts toward flow control and is released at once.
    assert_eq!(
        recv(&mut part, 300, 100, false).unwrap(),
        Credit {
            received: 100,
            consumed: 100
        }
    );
    assert!(
        !part.wants_max_stream_data(),
        "no credit for a stopped stream"
    );
    assert!(!part.is_done());
    recv(&mut part, 400, 0, true).unwrap();
    assert!(part.is_done(), "stopped and final size known");
    assert_eq!(
        part.stop_sending(),
        Some(9),
        "size known: still worth asking"
    );
}

#[test]
fn stop_sending_is_not_needed_once_a_reset_arrived() {
    let mut part = part();
    part.stop(4).unwrap();
    let credit = part.handle_reset(Instant::now(), 5, 50).unwrap();
    assert_eq!(
        credit,
        Credit {
            received: 50,
            consumed: 50
        }
    );
    assert_eq!(part.stop_sending(), None);
    assert!(part.is_done());
}

#[test]
fn max_stream_data_is_due_after_half_the_window_is_read_and_only_in_recv() {
    let now = Instant::now();
    let mut part = part();
    recv(&mut part, 0, 6000, false).unwrap();
    part.read(4000).unwrap();
    assert!(!part.wants_max_stream_data());
    part.read(1000).unwrap();
    assert!(part.wants_max_stream_data());
    assert_eq!(part.poll_max_stream_data(now, Duration::ZERO), Some(15_000));
    part.on_max_stream_data_lost(15_000);
    assert!(part.wants_max_stream_data(), "lost update is due again");
    recv(&mut part, 6000, 0, true).unwrap();
    assert!(
        !part.wants_max_stream_data(),
        "size known: no more credit needed"
    );
    assert_eq!(part.poll_max_stream_data(now, Duration::ZERO), None);
}

#[test]
fn peer_blocked_below_our_limit_gets_it_again() {
    let now = Instant::now();
    let mut part = part();
    recv(&mut part, 0, 6000, false).unwrap();
    part.read(6000).unwrap();
    assert_eq!(part.poll_max_stream_data(now, Duration::ZERO), Some(16_000));
    assert!(part.on_peer_blocked(WINDOW));
    assert_eq!(part.poll_max_stream_data(now, Duration::ZERO), Some(16_000));
    assert!(!part.on_peer_blocked(16_000));
}

#[test]
fn tiny_fragment_flood_is_refused_and_stays_bounded() {
    let mut part = RecvPart::new(1 << 20, 1 << 20);
    let mut result = Ok(Credit::default());
    for i in 0..100_000u64 {
        result = recv(&mut part, 2 * i + 1, 1, false);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(code(result), Some(TransportErrorCode::PROTOCOL_VIOLATION));
    assert!(part.buffered_pieces() <= BASE_PIECES + 1);
}
