use super::*;
use crate::connection::streams::assembler::Assembler;
use proptest::prelude::*;

const BIG: u64 = 1 << 40;

fn bytes(start: usize, len: usize) -> Bytes {
    (start..start + len)
        .map(|i| i as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn chunk(offset: u64, data: Bytes, fin: bool) -> Option<StreamChunk> {
    Some(StreamChunk { offset, data, fin })
}

#[test]
fn written_bytes_go_out_in_order_without_copying() {
    let mut send = SendPart::new(BIG, BIG);
    let data = bytes(0, 3000);
    assert_eq!(send.write(data.clone()), Ok(3000));
    assert_eq!(send.state(), SendState::Ready);
    let first = send.poll_transmit(1200, BIG).unwrap();
    assert_eq!(
        (first.offset, first.data.len(), first.fin),
        (0, 1200, false)
    );
    assert_eq!(first.data.as_ptr(), data.as_ptr(), "a slice, not a copy");
    assert_eq!(send.state(), SendState::Send);
    let second = send.poll_transmit(5000, BIG).unwrap();
    assert_eq!((second.offset, second.data), (1200, data.slice(1200..)));
    assert_eq!(send.poll_transmit(5000, BIG), None);
    assert_eq!(send.sent_offset(), 3000);
}

#[test]
fn small_writes_are_gathered_into_one_chunk() {
    let mut send = SendPart::new(BIG, BIG);
    for i in 0..10 {
        send.write(bytes(i * 10, 10)).unwrap();
    }
    assert_eq!(
        send.poll_transmit(1200, BIG),
        chunk(0, bytes(0, 100), false)
    );
}

/// A frame is filled across write boundaries, so a packet carries one
/// STREAM frame however the application wrote; its bytes are copied once,
/// straight into the datagram.
#[test]
fn a_range_spanning_writes_fills_the_frame_and_copies_once() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 700)).unwrap();
    send.write(bytes(700, 700)).unwrap();
    let range = send.poll_range(1200, BIG).unwrap();
    assert_eq!(
        range,
        SendRange {
            offset: 0,
            len: 1200,
            fin: false
        }
    );
    let mut out = Vec::new();
    send.write_data(&range, &mut out);
    assert_eq!(out, bytes(0, 1200));
    let rest = send.poll_range(1200, BIG).unwrap();
    assert_eq!((rest.offset, rest.len), (1200, 200));
    out.clear();
    send.write_data(&rest, &mut out);
    assert_eq!(out, bytes(1200, 200));
}

#[test]
fn the_send_buffer_bounds_writes_until_acks_free_room() {
    let mut send = SendPart::new(BIG, 1000);
    assert_eq!(send.write(bytes(0, 600)), Ok(600));
    assert_eq!(
        send.write(bytes(600, 600)),
        Ok(400),
        "short write at the bound"
    );
    assert_eq!(send.write(bytes(1000, 1)), Err(WriteError::Blocked));
    assert!(!send.take_writable(), "still full");
    let c = send.poll_transmit(500, BIG).unwrap();
    assert!(send.on_acked(c.offset, c.data.len() as u64, false));
    assert!(send.take_writable());
    assert!(!send.take_writable(), "reported once");
    assert_eq!(send.write(bytes(1000, 600)), Ok(500));
}

#[test]
fn new_data_stays_within_stream_and_connection_credit() {
    let mut send = SendPart::new(1000, BIG);
    send.write(bytes(0, 3000)).unwrap();
    assert_eq!(
        send.poll_transmit(5000, 300).unwrap().data.len(),
        300,
        "connection credit"
    );
    assert_eq!(
        send.poll_transmit(5000, BIG).unwrap().data.len(),
        700,
        "stream credit"
    );
    assert_eq!(send.poll_transmit(5000, BIG), None);
    assert!(!send.has_data_to_send(BIG));
    assert!(
        !send.handle_max_stream_data(900),
        "RFC 9000 §4.1: lower limit ignored"
    );
    assert!(send.handle_max_stream_data(2000));
    assert!(send.has_data_to_send(BIG));
    assert!(!send.has_data_to_send(0), "no connection credit");
    assert!(send.wants_connection_credit());
    assert_eq!(send.poll_transmit(5000, BIG).unwrap().data.len(), 1000);
}

#[test]
fn stream_data_blocked_is_reported_once_per_limit() {
    let mut send = SendPart::new(100, BIG);
    assert_eq!(send.maybe_blocked(), None, "nothing written");
    send.write(bytes(0, 300)).unwrap();
    assert_eq!(send.maybe_blocked(), None, "credit left");
    send.poll_transmit(1000, BIG).unwrap();
    assert_eq!(send.maybe_blocked(), Some(100));
    assert_eq!(send.maybe_blocked(), None);
    send.on_blocked_lost(100);
    assert_eq!(send.maybe_blocked(), Some(100));
    send.handle_max_stream_data(200);
    send.poll_transmit(1000, BIG).unwrap();
    assert_eq!(send.maybe_blocked(), Some(200));
}

#[test]
fn stream_data_blocked_before_any_data_leaves_ready() {
    let mut send = SendPart::new(0, BIG);
    send.write(bytes(0, 10)).unwrap();
    assert_eq!(send.state(), SendState::Ready);
    assert_eq!(send.maybe_blocked(), Some(0));
    assert_eq!(send.state(), SendState::Send, "RFC 9000 §3.1");
}

#[test]
fn lost_ranges_go_out_before_new_data() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 4000)).unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    assert!(send.on_lost(0, 1000, false));
    assert_eq!(send.poll_transmit(600, BIG), chunk(0, bytes(0, 600), false));
    assert_eq!(
        send.poll_transmit(600, BIG),
        chunk(600, bytes(600, 400), false)
    );
    assert_eq!(
        send.poll_transmit(600, BIG).unwrap().offset,
        2000,
        "then new data"
    );
    assert_eq!(send.sent_offset(), 2600);
}

#[test]
fn retransmission_needs_no_credit() {
    let mut send = SendPart::new(1000, BIG);
    send.write(bytes(0, 1000)).unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    send.on_lost(0, 1000, false);
    assert!(send.has_data_to_send(0));
    assert_eq!(send.poll_transmit(1000, 0).unwrap().data.len(), 1000);
}

#[test]
fn lost_data_acknowledged_since_is_not_sent_again() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 3000)).unwrap();
    send.poll_transmit(3000, BIG).unwrap();
    send.on_acked(1000, 1000, false);
    assert!(send.on_lost(0, 3000, false));
    assert_eq!(send.poll_transmit(5000, BIG).unwrap().offset, 0);
    assert_eq!(
        send.poll_transmit(5000, BIG),
        chunk(2000, bytes(2000, 1000), false)
    );
    assert_eq!(send.poll_transmit(5000, BIG), None);
    // Lost after being acked: nothing to do.
    send.on_acked(0, 3000, false);
    assert!(!send.on_lost(0, 3000, false));
}

#[test]
fn acks_free_data_only_once_everything_below_is_acknowledged() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 3000)).unwrap();
    send.poll_transmit(3000, BIG).unwrap();
    assert!(!send.on_acked(1000, 2000, false), "hole at the front");
    assert_eq!(send.buffered(), 3000);
    assert!(send.on_acked(0, 1000, false));
    assert_eq!(send.buffered(), 0);
}

#[test]
fn fin_goes_with_the_last_data() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 100)).unwrap();
    send.finish().unwrap();
    assert_eq!(send.poll_transmit(1000, BIG), chunk(0, bytes(0, 100), true));
    assert_eq!(send.state(), SendState::DataSent);
    assert_eq!(send.poll_transmit(1000, BIG), None);
}

#[test]
fn fin_after_all_data_went_out_is_an_empty_frame() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 100)).unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    send.finish().unwrap();
    assert!(send.has_data_to_send(0), "the FIN needs no credit");
    assert_eq!(send.poll_transmit(0, 0), chunk(100, Bytes::new(), true));
}

#[test]
fn finishing_an_empty_stream_sends_an_empty_fin_at_zero() {
    let mut send = SendPart::new(0, BIG);
    send.finish().unwrap();
    assert_eq!(send.poll_transmit(1000, 0), chunk(0, Bytes::new(), true));
    assert!(send.on_acked(0, 0, true) || send.state() == SendState::DataRecvd);
    assert_eq!(send.state(), SendState::DataRecvd);
}

#[test]
fn a_lost_fin_is_sent_again() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 100)).unwrap();
    send.finish().unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    send.on_acked(0, 100, false);
    assert!(
        send.on_lost(0, 100, true),
        "the data was acked, the FIN was not"
    );
    assert_eq!(
        send.poll_transmit(1000, BIG),
        chunk(100, Bytes::new(), true)
    );
    assert_eq!(send.poll_transmit(1000, BIG), None);
}

#[test]
fn a_lost_fin_rides_with_lost_final_data() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 100)).unwrap();
    send.finish().unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    send.on_lost(0, 100, true);
    assert_eq!(send.poll_transmit(1000, BIG), chunk(0, bytes(0, 100), true));
    assert_eq!(send.poll_transmit(1000, BIG), None);
}

#[test]
fn all_data_and_fin_acknowledged_reaches_data_recvd() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 200)).unwrap();
    send.finish().unwrap();
    send.poll_transmit(100, BIG).unwrap();
    send.poll_transmit(100, BIG).unwrap();
    send.on_acked(100, 100, true);
    assert_eq!(send.state(), SendState::DataSent, "front not acked yet");
    send.on_acked(0, 100, false);
    assert_eq!(send.state(), SendState::DataRecvd);
    assert!(send.is_done());
    assert_eq!(send.poll_transmit(1000, BIG), None);
}

#[test]
fn writing_or_finishing_after_finish_is_refused() {
    let mut send = SendPart::new(BIG, BIG);
    send.finish().unwrap();
    assert_eq!(send.write(bytes(0, 1)), Err(WriteError::Closed));
    assert_eq!(send.finish(), Err(WriteError::Closed));
}

#[test]
fn reset_carries_the_highest_offset_sent_as_final_size() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 3000)).unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    send.poll_transmit(500, BIG).unwrap();
    send.on_lost(0, 1000, false);
    send.reset(42).unwrap();
    assert_eq!(
        send.state(),
        SendState::ResetSent {
            error_code: 42,
            final_size: 1500
        }
    );
    assert_eq!(send.reset_frame(), Some((42, 1500)));
    assert_eq!(
        send.poll_transmit(1000, BIG),
        None,
        "RFC 9000 §3.3: no STREAM after reset"
    );
    assert!(!send.has_data_to_send(BIG));
    assert_eq!(send.buffered(), 0);
    assert_eq!(send.write(bytes(0, 1)), Err(WriteError::Closed));
    assert_eq!(send.reset(1), Err(WriteError::Closed));
    send.on_reset_acked();
    assert_eq!(
        send.state(),
        SendState::ResetRecvd {
            error_code: 42,
            final_size: 1500
        }
    );
    assert!(send.is_done());
}

#[test]
fn reset_before_sending_has_final_size_zero() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 100)).unwrap();
    send.reset(1).unwrap();
    assert_eq!(send.reset_frame(), Some((1, 0)));
}

#[test]
fn reset_is_refused_once_all_data_was_acknowledged() {
    let mut send = SendPart::new(BIG, BIG);
    send.finish().unwrap();
    send.poll_transmit(10, BIG).unwrap();
    send.on_acked(0, 0, true);
    assert_eq!(send.reset(1), Err(WriteError::Closed));
}

#[test]
fn stop_sending_resets_with_the_peers_code() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 100)).unwrap();
    send.poll_transmit(60, BIG).unwrap();
    assert!(send.handle_stop_sending(77));
    assert_eq!(send.reset_frame(), Some((77, 60)));
    assert_eq!(send.write(bytes(0, 1)), Err(WriteError::Stopped(77)));
    assert!(!send.handle_stop_sending(78), "already reset");
    assert_eq!(send.reset_frame(), Some((77, 60)));
}

#[test]
fn stop_sending_in_data_sent_still_resets() {
    let mut send = SendPart::new(BIG, BIG);
    send.write(bytes(0, 100)).unwrap();
    send.finish().unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    assert!(send.handle_stop_sending(5));
    assert_eq!(send.reset_frame(), Some((5, 100)));
}

#[test]
fn stop_sending_after_everything_was_acknowledged_is_ignored() {
    let mut send = SendPart::new(BIG, BIG);
    send.finish().unwrap();
    send.poll_transmit(10, BIG).unwrap();
    send.on_acked(0, 0, true);
    assert!(!send.handle_stop_sending(5));
    assert_eq!(send.state(), SendState::DataRecvd);
}

#[test]
fn max_stream_data_is_ignored_once_the_fin_went_out() {
    let mut send = SendPart::new(100, BIG);
    send.write(bytes(0, 50)).unwrap();
    send.finish().unwrap();
    send.poll_transmit(1000, BIG).unwrap();
    assert!(!send.handle_max_stream_data(1000));
}

proptest! {
    /// Under any pattern of loss, acknowledgement and frame sizes, everything
    /// written arrives intact and the stream reaches "Data Recvd".
    #[test]
    fn any_loss_pattern_delivers_the_stream(
        sizes in proptest::collection::vec(1usize..700, 1..12),
        fates in proptest::collection::vec((0u8..3, 1usize..1500), 1..200),
    ) {
        let mut send = SendPart::new(BIG, BIG);
        let mut written = Vec::new();
        for size in &sizes {
            let data = bytes(written.len(), *size);
            written.extend_from_slice(&data);
            send.write(data).unwrap();
        }
        send.finish().unwrap();
        let mut asm = Assembler::new();
        let mut fin_seen = false;
        let mut in_flight: Vec<StreamChunk> = Vec::new();
        let mut fates = fates.into_iter().cycle();
        for round in 0..10_000 {
            if send.state() == SendState::DataRecvd {
                break;
            }
            let (fate, max_len) = fates.next().unwrap();
            if let Some(c) = send.poll_transmit(max_len, BIG) {
                in_flight.push(c);
            }
            if let Some(c) = in_flight.pop() {
                let len = c.data.len() as u64;
                // Losses stop after a while so that the transfer can end.
                if fate == 0 && round < 5_000 {
                    send.on_lost(c.offset, len, c.fin);
                } else {
                    asm.insert(c.offset, c.data.clone()).unwrap();
                    fin_seen |= c.fin;
                    send.on_acked(c.offset, len, c.fin);
                }
            }
        }
        prop_assert_eq!(send.state(), SendState::DataRecvd);
        prop_assert!(fin_seen);
        let mut got = Vec::new();
        while let Some(c) = asm.pop(usize::MAX) {
            got.extend_from_slice(&c);
        }
        prop_assert_eq!(got, written);
    }
}
