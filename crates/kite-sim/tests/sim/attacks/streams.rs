//! Attacks on streams (RFC 9000 §2-4, §19.4-19.13, §21.7): stream limits,
//! flow control, final sizes, fragmentation, and frames on streams of the
//! wrong direction.

use super::*;
use kite_proto::VarInt;
use kite_proto::frame::{MaxStreamData, ResetStream, StopSending};

#[test]
fn streams_past_the_limit_close_with_stream_limit_error() {
    for (host, dir) in [(SERVER, Dir::Bi), (SERVER, Dir::Uni), (CLIENT, Dir::Bi)] {
        let mut attack = Attack::new(121);
        // The last stream the default limit of 100 allows opens all 100.
        attack.inject_frames(host, &[stream(peer_stream(host, dir, 99), 0, b"x", false)]);
        let handle = attack.handle(host, 0);
        let conn = attack.sim.conn(host, handle);
        assert_eq!(std::iter::from_fn(|| conn.accept(dir)).count(), 100);
        let past = stream(peer_stream(host, dir, 100), 0, b"x", false);
        attack.inject_frames(host, std::slice::from_ref(&past));
        attack.expect_closed(host, TransportErrorCode::STREAM_LIMIT_ERROR, named(&past));
    }
}

#[test]
fn stream_data_past_the_stream_window_closes_with_flow_control_error() {
    const WINDOW: u64 = kite_proto::config::DEFAULT_INITIAL_STREAM_WINDOW;
    for host in HOSTS {
        let mut attack = Attack::new(122);
        let id = peer_stream(host, Dir::Bi, 0);
        // Up to the window's last byte is fine.
        attack.inject_frames(host, &[stream(id, WINDOW - 1, b"x", false)]);
        assert_eq!(attack.conn(host).error(), None);
        let past = stream(id, WINDOW, b"x", false);
        attack.inject_frames(host, std::slice::from_ref(&past));
        attack.expect_closed(host, TransportErrorCode::FLOW_CONTROL_ERROR, named(&past));
    }
}

#[test]
fn stream_data_past_the_connection_window_closes_with_flow_control_error() {
    const WINDOW: u64 = kite_proto::config::DEFAULT_INITIAL_CONNECTION_WINDOW;
    const STREAM_WINDOW: u64 = kite_proto::config::DEFAULT_INITIAL_STREAM_WINDOW;
    for host in HOSTS {
        let mut attack = Attack::new(123);
        // Two streams within their windows fill the connection's exactly.
        let fill = [
            stream(
                peer_stream(host, Dir::Bi, 0),
                STREAM_WINDOW - 1,
                b"x",
                false,
            ),
            stream(
                peer_stream(host, Dir::Bi, 1),
                WINDOW - STREAM_WINDOW - 1,
                b"x",
                false,
            ),
        ];
        attack.inject_frames(host, &fill);
        assert_eq!(attack.conn(host).error(), None);
        let past = stream(peer_stream(host, Dir::Bi, 2), 0, b"x", false);
        attack.inject_frames(host, std::slice::from_ref(&past));
        attack.expect_closed(host, TransportErrorCode::FLOW_CONTROL_ERROR, named(&past));
    }
}

#[test]
fn changed_final_sizes_close_with_final_size_error() {
    let id = peer_stream(SERVER, Dir::Bi, 0);
    let reset = |final_size| {
        Frame::ResetStream(ResetStream {
            id,
            error_code: VarInt::from_u32(7),
            final_size,
        })
    };
    let cases = [
        // FIN at 10, then FIN at 20.
        (
            stream(id, 0, &[1; 10], true),
            stream(id, 10, &[2; 10], true),
        ),
        // FIN at 10, then FIN at 5.
        (stream(id, 0, &[1; 10], true), stream(id, 0, &[1; 5], true)),
        // FIN at 10, then data past it.
        (
            stream(id, 0, &[1; 10], true),
            stream(id, 10, &[2; 5], false),
        ),
        // FIN at 10, then RESET_STREAM saying 15.
        (stream(id, 0, &[1; 10], true), reset(15)),
        // 10 bytes received, then RESET_STREAM saying 5.
        (stream(id, 0, &[1; 10], false), reset(5)),
        // RESET_STREAM saying 10, then RESET_STREAM saying 12.
        (reset(10), reset(12)),
    ];
    for (i, (first, second)) in cases.into_iter().enumerate() {
        let mut attack = Attack::new(124 + i as u64);
        attack.inject_frames(SERVER, &[first]);
        assert_eq!(attack.conn(SERVER).error(), None, "case {i}");
        attack.inject_frames(SERVER, std::slice::from_ref(&second));
        attack.expect_closed(SERVER, TransportErrorCode::FINAL_SIZE_ERROR, named(&second));
    }
}

#[test]
fn tiny_out_of_order_fragments_close_with_protocol_violation_in_one_packet() {
    for host in HOSTS {
        let mut attack = Attack::new(130);
        let id = peer_stream(host, Dir::Bi, 0);
        // One byte at every other offset, none at 0: nothing can be read.
        let flood: Vec<Frame> = (1..5_000).map(|i| stream(id, 2 * i, b"x", false)).collect();
        attack.inject_frames(host, &flood);
        attack.expect_closed(
            host,
            TransportErrorCode::PROTOCOL_VIOLATION,
            named(&flood[0]),
        );
    }
}

#[test]
fn tiny_out_of_order_fragments_over_many_packets_are_refused_within_the_piece_cap() {
    let mut attack = Attack::new(131);
    let id = peer_stream(SERVER, Dir::Bi, 0);
    let mut accepted = 0;
    let mut last = None;
    for i in 1..5_000 {
        let frame = stream(id, 2 * i, b"x", false);
        attack.inject_frames(SERVER, std::slice::from_ref(&frame));
        last = Some(frame);
        if attack.conn(SERVER).is_closed() {
            break;
        }
        accepted += 1;
    }
    // The reassembly cap is 256 pieces plus one per 512 bytes buffered.
    assert!(accepted <= 300, "{accepted} fragments held");
    attack.expect_closed(
        SERVER,
        TransportErrorCode::PROTOCOL_VIOLATION,
        last.as_ref().and_then(named),
    );
}

#[test]
fn stream_frames_on_send_only_or_unopened_local_streams_close_with_stream_state_error() {
    // (attacked host, stream the host itself initiates, open it first)
    let cases = [
        (SERVER, Dir::Uni, true),
        (SERVER, Dir::Uni, false),
        (SERVER, Dir::Bi, false),
        (CLIENT, Dir::Uni, true),
    ];
    for (i, (host, dir, open)) in cases.into_iter().enumerate() {
        let mut attack = Attack::new(132 + i as u64);
        let own = if host == SERVER {
            Side::Server
        } else {
            Side::Client
        };
        let id = StreamId::new(own, dir, 0);
        if open {
            assert_eq!(attack.conn(host).open(dir), Some(id));
            attack.conn(host).write(id, b"hello").unwrap();
            attack.sim.run_until(Duration::from_millis(50), |_| false);
        }
        let frame = stream(id, 0, b"hello", false);
        attack.inject_frames(host, std::slice::from_ref(&frame));
        attack.expect_closed(host, TransportErrorCode::STREAM_STATE_ERROR, named(&frame));
    }
}

#[test]
fn sender_frames_on_receive_only_streams_close_with_stream_state_error() {
    let id = peer_stream(SERVER, Dir::Uni, 0);
    let frames = [
        Frame::MaxStreamData(MaxStreamData { id, max: 1 << 20 }),
        Frame::StopSending(StopSending {
            id,
            error_code: VarInt::from_u32(1),
        }),
    ];
    for (i, frame) in frames.into_iter().enumerate() {
        let mut attack = Attack::new(136 + i as u64);
        attack.inject_frames(SERVER, &[stream(id, 0, b"hi", false)]);
        attack.inject_frames(SERVER, std::slice::from_ref(&frame));
        attack.expect_closed(
            SERVER,
            TransportErrorCode::STREAM_STATE_ERROR,
            named(&frame),
        );
    }
}
