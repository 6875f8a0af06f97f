//! Whole exchanges between a client and a server `Streams`, and hostile frame
//! sequences.

use super::*;

#[test]
fn peer_streams_closing_grant_new_ones_so_thousands_fit_over_time() {
    let (mut client, mut server) = pair();
    let now = Instant::now();
    let mut opened = 0;
    for round in 0..1000u64 {
        // The client opens what it may, each stream a short message.
        while let Ok(id) = client.open(Dir::Uni) {
            client.write(id, data(10)).unwrap();
            client.finish(id).unwrap();
            opened += 1;
        }
        pump(&mut client, &mut server, now, 0);
        assert!(server.len() <= 4, "round {round}: {} open", server.len());
        while let Some(id) = server.accept(Dir::Uni) {
            let mut got = Vec::new();
            assert!(read_to_end(&mut server, id, &mut got));
            assert_eq!(got, data(10).to_vec());
        }
        pump(&mut server, &mut client, now, 0);
        events(&mut client);
        events(&mut server);
    }
    assert!(opened >= 4000, "opened {opened}");
    assert!(server.is_empty());
    assert!(client.is_empty(), "acknowledged streams are forgotten");
}

#[test]
fn a_transfer_with_loss_arrives_intact_and_windows_grow() {
    let (mut client, mut server) = pair();
    let mut now = Instant::now();
    let id = client.open(Dir::Bi).unwrap();
    let payload = data(400_000);
    let mut written = 0;
    let mut got = Vec::new();
    let mut done = false;
    for _ in 0..10_000 {
        if written < payload.len() {
            match client.write(id, payload.slice(written..)) {
                Ok(n) => written += n,
                Err(WriteError::Blocked) => {}
                Err(e) => panic!("{e}"),
            }
            if written == payload.len() {
                client.finish(id).unwrap();
            }
        }
        pump(&mut client, &mut server, now, 7);
        done = read_to_end(&mut server, id, &mut got);
        pump(&mut server, &mut client, now, 5);
        now += MS;
        if done {
            break;
        }
    }
    assert!(done, "transfer finished");
    assert_eq!(got, payload.to_vec());
    assert!(
        server.connection_window().window() > 15_000,
        "connection window grew under fast reads"
    );
}

#[test]
fn zero_rtt_streams_get_credit_when_the_peer_params_arrive() {
    let mut client = Streams::new(Side::Client, config());
    let remembered = StreamParams {
        initial_max_streams_uni: 1,
        initial_max_data: 100,
        initial_max_stream_data_uni: 100,
        ..StreamParams::default()
    };
    client.handle_peer_params(&remembered).unwrap();
    let id = client.open(Dir::Uni).unwrap();
    client.write(id, data(500)).unwrap();
    assert_eq!(
        client.poll_stream_data(1000).map(|(_, c)| c.data.len()),
        Some(100)
    );
    client.handle_peer_params(&config().local_params()).unwrap();
    assert_eq!(
        client.poll_stream_data(1000).map(|(_, c)| c.data.len()),
        Some(400)
    );
}

/// A value that is usually small and sometimes at the edges a hostile peer likes.
fn peer_number() -> impl proptest::strategy::Strategy<Value = u64> {
    use proptest::prelude::*;
    prop_oneof![
        8 => 0u64..20_000,
        1 => Just((1u64 << 62) - 1),
        1 => Just(1u64 << 60),
        1 => Just(u64::MAX),
    ]
}

proptest::proptest! {
    /// Any sequence of peer frames, interleaved with application reads and
    /// polling, is handled without panicking, and what is held stays bounded.
    #[test]
    fn hostile_frame_sequences_never_panic(
        ops in proptest::collection::vec(
            (0u8..12, 0u64..48, peer_number(), 0usize..1500, proptest::bool::ANY, peer_number()),
            1..120,
        ),
    ) {
        let (_, mut server) = pair();
        let now = Instant::now();
        for (kind, id, number, len, fin, code) in ops {
            let id = StreamId(id);
            let result = match kind {
                0..=2 => server.handle_stream(now, id, number, data(len), fin),
                3 => server.handle_reset_stream(now, id, code, number),
                4 => server.handle_stop_sending(id, code),
                5 => server.handle_max_stream_data(id, number),
                6 => server.handle_stream_data_blocked(id, number),
                7 => server.handle_max_streams(if fin { Dir::Bi } else { Dir::Uni }, number),
                8 => server.handle_streams_blocked(if fin { Dir::Uni } else { Dir::Bi }, number),
                9 => {
                    server.handle_max_data(number);
                    server.handle_data_blocked(code);
                    Ok(())
                }
                10 => {
                    let _ = server.read(id, len);
                    let _ = server.write(id, data(len));
                    if fin {
                        let _ = server.stop(id, code);
                    }
                    Ok(())
                }
                _ => {
                    while let Some(c) = server.poll_control(now, MS) {
                        server.on_control_acked(&c);
                    }
                    // Everything sendable goes out once, then all of it is
                    // lost (losing each chunk as it is polled would queue it
                    // again at once: a loop without end once data is written).
                    let mut sent = Vec::new();
                    while let Some((id, c)) = server.poll_stream_data(len) {
                        sent.push((id, c.offset, c.data.len() as u64, c.fin));
                        proptest::prop_assert!(sent.len() < 100_000, "polling never ran dry");
                    }
                    for (id, offset, n, fin) in sent {
                        server.on_stream_lost(id, offset, n, fin);
                    }
                    while server.poll_event().is_some() {}
                    Ok(())
                }
            };
            if result.is_err() {
                break; // the connection would close here
            }
            proptest::prop_assert!(server.len() <= 8, "{} streams", server.len());
            proptest::prop_assert!(server.connection_window().received() <= server.connection_window().max());
        }
    }
}
