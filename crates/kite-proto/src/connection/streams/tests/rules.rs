//! Stream limits, frame rules, flow control across streams, control frames and
//! events, one behaviour per test.

use super::*;

#[test]
fn local_streams_are_numbered_by_side_and_type() {
    let (mut client, mut server) = pair();
    assert_eq!(client.open(Dir::Bi), Ok(client_bi(0)));
    assert_eq!(client.open(Dir::Bi), Ok(client_bi(1)));
    assert_eq!(client.open(Dir::Uni), Ok(client_uni(0)));
    assert_eq!(server.open(Dir::Bi), Ok(server_bi(0)));
    assert_eq!(server.open(Dir::Uni), Ok(server_uni(0)));
    assert_eq!(
        (client_bi(1).0, client_uni(0).0, server_uni(0).0),
        (4, 2, 3)
    );
}

#[test]
fn opening_past_the_peer_limit_is_refused_with_one_streams_blocked() {
    let (mut client, _) = pair();
    for _ in 0..4 {
        client.open(Dir::Uni).unwrap();
    }
    assert_eq!(client.open(Dir::Uni), Err(StreamLimitReached));
    assert_eq!(client.open(Dir::Uni), Err(StreamLimitReached));
    assert_eq!(
        controls(&mut client),
        vec![StreamControl::StreamsBlocked {
            dir: Dir::Uni,
            limit: 4
        }]
    );
    client.handle_max_streams(Dir::Uni, 5).unwrap();
    assert_eq!(
        events(&mut client),
        vec![StreamEvent::Available { dir: Dir::Uni }]
    );
    assert_eq!(client.open(Dir::Uni), Ok(client_uni(4)));
}

#[test]
fn nothing_can_be_opened_before_the_peer_params() {
    let mut client = Streams::new(Side::Client, config());
    assert_eq!(client.open(Dir::Bi), Err(StreamLimitReached));
}

#[test]
fn peer_opening_a_stream_opens_every_lower_one_of_its_type() {
    let (_, mut server) = pair();
    let now = Instant::now();
    server
        .handle_stream(now, client_bi(2), 0, data(10), false)
        .unwrap();
    assert_eq!(server.accept(Dir::Bi), Some(client_bi(0)));
    assert_eq!(server.accept(Dir::Bi), Some(client_bi(1)));
    assert_eq!(server.accept(Dir::Bi), Some(client_bi(2)));
    assert_eq!(server.accept(Dir::Bi), None);
    assert_eq!(server.accept(Dir::Uni), None);
    let evs = events(&mut server);
    assert!(evs.contains(&StreamEvent::Opened { dir: Dir::Bi }));
    assert!(evs.contains(&StreamEvent::Readable { id: client_bi(2) }));
}

#[test]
fn peer_opening_past_our_limit_is_a_stream_limit_error() {
    let (_, mut server) = pair();
    let now = Instant::now();
    let result = server.handle_stream(now, client_uni(4), 0, data(1), false);
    assert_eq!(code(result), Some(TransportErrorCode::STREAM_LIMIT_ERROR));
    assert_eq!(
        code(server.handle_max_stream_data(client_bi(4), 10)),
        Some(TransportErrorCode::STREAM_LIMIT_ERROR)
    );
}

#[test]
fn frames_of_a_sender_on_our_unidirectional_stream_are_a_stream_state_error() {
    let (mut client, _) = pair();
    let now = Instant::now();
    let id = client.open(Dir::Uni).unwrap();
    let err = Some(TransportErrorCode::STREAM_STATE_ERROR);
    assert_eq!(code(client.handle_stream(now, id, 0, data(1), false)), err);
    assert_eq!(code(client.handle_reset_stream(now, id, 0, 0)), err);
    assert_eq!(code(client.handle_stream_data_blocked(id, 0)), err);
}

#[test]
fn frames_of_a_receiver_on_the_peers_unidirectional_stream_are_a_stream_state_error() {
    let (_, mut server) = pair();
    let err = Some(TransportErrorCode::STREAM_STATE_ERROR);
    assert_eq!(code(server.handle_stop_sending(client_uni(0), 0)), err);
    assert_eq!(code(server.handle_max_stream_data(client_uni(0), 100)), err);
}

#[test]
fn frames_for_a_local_stream_not_yet_opened_are_a_stream_state_error() {
    let (mut client, _) = pair();
    let now = Instant::now();
    client.open(Dir::Bi).unwrap();
    let err = Some(TransportErrorCode::STREAM_STATE_ERROR);
    assert_eq!(
        code(client.handle_stream(now, client_bi(1), 0, data(1), false)),
        err
    );
    assert_eq!(code(client.handle_max_stream_data(client_bi(1), 100)), err);
    assert_eq!(code(client.handle_stop_sending(client_bi(1), 0)), err);
    assert_eq!(
        code(client.handle_reset_stream(now, client_bi(1), 0, 0)),
        err
    );
    assert!(
        client
            .handle_stream(now, client_bi(0), 0, data(1), false)
            .is_ok()
    );
}

#[test]
fn max_stream_data_or_stop_sending_opens_a_peer_bidirectional_stream() {
    let (_, mut server) = pair();
    server.handle_max_stream_data(client_bi(0), 50_000).unwrap();
    server.handle_stop_sending(client_bi(1), 3).unwrap();
    assert_eq!(server.accept(Dir::Bi), Some(client_bi(0)));
    assert_eq!(server.accept(Dir::Bi), Some(client_bi(1)));
    assert_eq!(
        server.write(client_bi(1), data(1)),
        Err(WriteError::Stopped(3))
    );
}

#[test]
fn stream_counts_above_2_pow_60_are_rejected() {
    let (mut client, _) = pair();
    let too_many = MAX_STREAMS_LIMIT + 1;
    assert_eq!(
        code(client.handle_max_streams(Dir::Bi, too_many)),
        Some(TransportErrorCode::FRAME_ENCODING_ERROR)
    );
    assert_eq!(
        code(client.handle_streams_blocked(Dir::Uni, too_many)),
        Some(TransportErrorCode::FRAME_ENCODING_ERROR)
    );
    assert!(
        client
            .handle_max_streams(Dir::Bi, MAX_STREAMS_LIMIT)
            .is_ok()
    );
    let params = StreamParams {
        initial_max_streams_uni: too_many,
        ..StreamParams::default()
    };
    assert_eq!(
        code(client.handle_peer_params(&params)),
        Some(TransportErrorCode::TRANSPORT_PARAMETER_ERROR)
    );
}

#[test]
fn data_across_streams_past_the_connection_limit_is_a_flow_control_error() {
    let (_, mut server) = pair();
    let now = Instant::now();
    server
        .handle_stream(now, client_uni(0), 0, data(8000), false)
        .unwrap();
    server
        .handle_stream(now, client_uni(1), 0, data(7000), false)
        .unwrap();
    let result = server.handle_stream(now, client_uni(2), 0, data(1), false);
    assert_eq!(code(result), Some(TransportErrorCode::FLOW_CONTROL_ERROR));
}

#[test]
fn a_reset_charges_its_final_size_to_the_connection() {
    let (_, mut server) = pair();
    let now = Instant::now();
    server
        .handle_stream(now, client_uni(0), 0, data(8000), false)
        .unwrap();
    server
        .handle_reset_stream(now, client_uni(1), 0, 7000)
        .unwrap();
    assert_eq!(server.connection_window().received(), 15_000);
    let result = server.handle_stream(now, client_uni(2), 0, data(1), false);
    assert_eq!(code(result), Some(TransportErrorCode::FLOW_CONTROL_ERROR));
}

#[test]
fn reading_issues_max_stream_data_and_max_data_past_half_a_window() {
    let (_, mut server) = pair();
    let now = Instant::now();
    let id = client_bi(0);
    server.handle_stream(now, id, 0, data(9000), false).unwrap();
    server.read(id, 4000).unwrap();
    assert_eq!(controls(&mut server), vec![], "under half of either window");
    server.read(id, 4000).unwrap();
    assert_eq!(
        controls(&mut server),
        vec![
            StreamControl::MaxData(23_000),
            StreamControl::MaxStreamData { id, max: 18_000 },
        ]
    );
}

#[test]
fn stream_data_is_served_round_robin() {
    let (mut client, _) = pair();
    let a = client.open(Dir::Uni).unwrap();
    let b = client.open(Dir::Uni).unwrap();
    client.write(a, data(3000)).unwrap();
    client.write(b, data(3000)).unwrap();
    let order: Vec<StreamId> =
        std::iter::from_fn(|| client.poll_stream_data(1000).map(|(id, _)| id)).collect();
    assert_eq!(order, vec![a, b, a, b, a, b]);
}

#[test]
fn connection_credit_is_shared_and_data_blocked_is_sent_once() {
    let (mut client, _) = pair();
    let a = client.open(Dir::Uni).unwrap();
    let b = client.open(Dir::Uni).unwrap();
    client.write(a, data(12_000)).unwrap();
    client.write(b, data(12_000)).unwrap();
    let sent: usize = std::iter::from_fn(|| client.poll_stream_data(1200))
        .map(|(_, c)| c.data.len())
        .sum();
    assert_eq!(sent, 15_000, "the connection limit");
    assert_eq!(
        controls(&mut client),
        vec![StreamControl::DataBlocked(15_000)]
    );
    assert_eq!(controls(&mut client), vec![]);
    client.handle_max_data(30_000);
    let sent: usize = std::iter::from_fn(|| client.poll_stream_data(1200))
        .map(|(_, c)| c.data.len())
        .sum();
    assert_eq!(sent, 5000, "each stream stops at its own limit");
    let blocked = controls(&mut client);
    assert!(blocked.contains(&StreamControl::StreamDataBlocked {
        id: a,
        limit: 10_000
    }));
    assert!(blocked.contains(&StreamControl::StreamDataBlocked {
        id: b,
        limit: 10_000
    }));
}

#[test]
fn lost_blocked_signals_are_sent_again_while_still_blocked() {
    let (mut client, _) = pair();
    let a = client.open(Dir::Uni).unwrap();
    client.write(a, data(12_000)).unwrap();
    while client.poll_stream_data(1200).is_some() {}
    let blocked = controls(&mut client);
    assert_eq!(
        blocked,
        vec![StreamControl::StreamDataBlocked {
            id: a,
            limit: 10_000
        }]
    );
    client.on_control_lost(&blocked[0]);
    assert_eq!(controls(&mut client), blocked);
    client.handle_max_stream_data(a, 11_000).unwrap();
    client.on_control_lost(&blocked[0]);
    assert_eq!(
        controls(&mut client),
        vec![],
        "no longer blocked at that limit"
    );
}

#[test]
fn a_peer_bidirectional_stream_closes_only_when_both_sides_are_done() {
    let (mut client, mut server) = pair();
    let now = Instant::now();
    let id = client.open(Dir::Bi).unwrap();
    client.write(id, data(100)).unwrap();
    client.finish(id).unwrap();
    pump(&mut client, &mut server, now, 0);
    assert_eq!(server.accept(Dir::Bi), Some(id));
    read_to_end(&mut server, id, &mut Vec::new());
    assert_eq!(server.len(), 1, "our sending part is still open");
    server.write(id, data(50)).unwrap();
    server.finish(id).unwrap();
    pump(&mut server, &mut client, now, 0);
    assert!(server.is_empty());
    assert_eq!(
        controls(&mut server),
        vec![StreamControl::MaxStreams {
            dir: Dir::Bi,
            count: 5
        }]
    );
    let mut got = Vec::new();
    assert!(read_to_end(&mut client, id, &mut got));
    assert_eq!(got, data(50).to_vec());
    assert!(client.is_empty());
}

#[test]
fn frames_for_a_closed_stream_are_ignored() {
    let (mut client, mut server) = pair();
    let now = Instant::now();
    let id = client.open(Dir::Uni).unwrap();
    client.finish(id).unwrap();
    pump(&mut client, &mut server, now, 0);
    server.accept(Dir::Uni);
    assert_eq!(server.read(id, 10), Ok(None));
    assert!(server.is_empty());
    assert!(server.handle_stream(now, id, 0, Bytes::new(), true).is_ok());
    assert!(server.handle_reset_stream(now, id, 0, 0).is_ok());
    assert!(server.is_empty(), "not reopened");
    assert_eq!(server.read(id, 10), Err(ReadError::Closed));
}

#[test]
fn stop_sends_stop_sending_until_the_peer_resets() {
    let (mut client, mut server) = pair();
    let now = Instant::now();
    let id = client.open(Dir::Uni).unwrap();
    client.write(id, data(500)).unwrap();
    pump(&mut client, &mut server, now, 0);
    server.stop(id, 9).unwrap();
    let stop = controls(&mut server);
    assert_eq!(stop, vec![StreamControl::StopSending { id, error_code: 9 }]);
    server.on_control_lost(&stop[0]);
    assert_eq!(controls(&mut server), stop, "lost: sent again");
    deliver(&mut client, stop[0], now).unwrap();
    assert_eq!(
        events(&mut client),
        vec![StreamEvent::Stopped { id, error_code: 9 }]
    );
    assert_eq!(client.write(id, data(1)), Err(WriteError::Stopped(9)));
    let reset = controls(&mut client);
    assert_eq!(
        reset,
        vec![StreamControl::ResetStream {
            id,
            error_code: 9,
            final_size: 500
        }]
    );
    deliver(&mut server, reset[0], now).unwrap();
    server.on_control_lost(&stop[0]);
    assert!(
        !controls(&mut server).contains(&stop[0]),
        "reset arrived: no more STOP_SENDING"
    );
    assert!(server.is_empty());
    client.on_control_acked(&reset[0]);
    assert!(client.is_empty());
}

#[test]
fn a_stopped_stream_returns_its_connection_credit() {
    let (mut client, mut server) = pair();
    let now = Instant::now();
    let id = client.open(Dir::Uni).unwrap();
    client.write(id, data(9000)).unwrap();
    pump(&mut client, &mut server, now, 0);
    server.stop(id, 1).unwrap();
    let sent = controls(&mut server);
    assert!(sent.contains(&StreamControl::MaxData(24_000)), "{sent:?}");
}

#[test]
fn a_reset_by_the_application_is_retransmitted_until_acknowledged() {
    let (mut client, _) = pair();
    let id = client.open(Dir::Uni).unwrap();
    client.write(id, data(2000)).unwrap();
    client.poll_stream_data(1200).unwrap();
    client.reset(id, 4).unwrap();
    assert_eq!(client.poll_stream_data(1200), None);
    let reset = controls(&mut client);
    assert_eq!(
        reset,
        vec![StreamControl::ResetStream {
            id,
            error_code: 4,
            final_size: 1200
        }]
    );
    client.on_control_lost(&reset[0]);
    assert_eq!(controls(&mut client), reset);
    assert_eq!(
        client.send_state(id),
        Some(SendState::ResetSent {
            error_code: 4,
            final_size: 1200
        })
    );
    client.on_control_acked(&reset[0]);
    assert!(client.is_empty());
}

#[test]
fn readable_events_are_not_duplicated_while_pending() {
    let (_, mut server) = pair();
    let now = Instant::now();
    server
        .handle_stream(now, client_uni(0), 0, data(10), false)
        .unwrap();
    server
        .handle_stream(now, client_uni(0), 10, data(10), false)
        .unwrap();
    let evs = events(&mut server);
    assert_eq!(
        evs,
        vec![
            StreamEvent::Opened { dir: Dir::Uni },
            StreamEvent::Readable { id: client_uni(0) }
        ]
    );
    server
        .handle_stream(now, client_uni(0), 20, data(10), false)
        .unwrap();
    assert_eq!(events(&mut server), vec![], "still readable: no new edge");
    assert_eq!(
        server.read(client_uni(0), 100).map(|c| c.map(|c| c.len())),
        Ok(Some(30))
    );
    assert_eq!(server.read(client_uni(0), 100), Err(ReadError::Blocked));
    server
        .handle_stream(now, client_uni(0), 40, data(10), false)
        .unwrap();
    assert_eq!(
        events(&mut server),
        vec![],
        "out of order: nothing readable yet"
    );
    server
        .handle_stream(now, client_uni(0), 30, data(10), false)
        .unwrap();
    assert_eq!(
        events(&mut server),
        vec![StreamEvent::Readable { id: client_uni(0) }]
    );
}

#[test]
fn writable_and_finished_events_follow_acknowledgements() {
    let mut config = config();
    config.send_buffer = 1000;
    let (mut client, mut server) = pair_with(config.clone(), config);
    let now = Instant::now();
    let id = client.open(Dir::Uni).unwrap();
    assert_eq!(client.write(id, data(1500)), Ok(1000));
    pump(&mut client, &mut server, now, 0);
    assert_eq!(events(&mut client), vec![StreamEvent::Writable { id }]);
    client.finish(id).unwrap();
    pump(&mut client, &mut server, now, 0);
    assert_eq!(events(&mut client), vec![StreamEvent::Finished { id }]);
}

#[test]
fn lost_control_frames_are_resent_with_current_values() {
    let (mut client, mut server) = pair();
    let now = Instant::now();
    let id = client.open(Dir::Uni).unwrap();
    client.finish(id).unwrap();
    pump(&mut client, &mut server, now, 0);
    server.read(id, 10).unwrap();
    let max_streams = controls(&mut server);
    assert_eq!(
        max_streams,
        vec![StreamControl::MaxStreams {
            dir: Dir::Uni,
            count: 5
        }]
    );
    server.on_control_lost(&max_streams[0]);
    assert_eq!(controls(&mut server), max_streams);
    server
        .handle_stream(now, client_uni(1), 0, data(9000), false)
        .unwrap();
    server.read(client_uni(1), 9000).unwrap();
    let update = controls(&mut server);
    assert!(
        update.contains(&StreamControl::MaxData(24_000)),
        "{update:?}"
    );
    server.on_control_lost(&StreamControl::MaxData(24_000));
    assert_eq!(controls(&mut server), vec![StreamControl::MaxData(24_000)]);
    server.on_control_lost(&StreamControl::MaxData(15_000));
    assert_eq!(controls(&mut server), vec![], "superseded limit not resent");
}

#[test]
fn blocked_frames_from_the_peer_below_our_limits_repeat_them() {
    let (_, mut server) = pair();
    server.handle_data_blocked(15_000);
    assert_eq!(
        controls(&mut server),
        vec![],
        "blocked at our limit: nothing to add"
    );
    server.handle_streams_blocked(Dir::Bi, 4).unwrap();
    assert_eq!(controls(&mut server), vec![]);
    server.handle_streams_blocked(Dir::Bi, 2).unwrap();
    assert_eq!(
        controls(&mut server),
        vec![StreamControl::MaxStreams {
            dir: Dir::Bi,
            count: 4
        }]
    );
    server.handle_data_blocked(1000);
    assert_eq!(controls(&mut server), vec![StreamControl::MaxData(15_000)]);
    server
        .handle_stream_data_blocked(client_bi(0), 5000)
        .unwrap();
    assert_eq!(
        controls(&mut server),
        vec![StreamControl::MaxStreamData {
            id: client_bi(0),
            max: 10_000
        }]
    );
}
