//! Whole connections in the simulator: handshakes and transfers over lossy,
//! reordering, duplicating networks, every byte checked. Each test prints its
//! seed; `SIM_SEED=n` replays one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "sim/fuzz_replay.rs"]
mod fuzz_replay;

use std::sync::Arc;
use std::time::Duration;

use kite_proto::{
    ClientConfig, ConnectionError, ConnectionStats, Dir, Event, ServerConfig, TransportConfig,
};
use kite_sim::{CLIENT, LinkConfig, SERVER, Simulation};
use kite_testkit::tls::{self as testkit, SelfSigned};

#[path = "sim/attacks.rs"]
mod attacks;
#[path = "sim/lossy_handshakes.rs"]
mod lossy_handshakes;

#[path = "sim/gso.rs"]
mod gso;

#[path = "sim/path_signals.rs"]
mod path_signals;

#[path = "sim/address_validation_and_resumption.rs"]
mod address_validation_and_resumption;

const ALPN: &[u8] = b"quic-echo-example";

fn tls_configs() -> (ServerConfig, ClientConfig) {
    tls_configs_with(TransportConfig::default())
}

fn tls_configs_with(transport: TransportConfig) -> (ServerConfig, ClientConfig) {
    tls_configs_full(transport, false)
}

/// TLS and transport configs; with `early_data`, TLS allows 0-RTT both ways.
fn tls_configs_full(transport: TransportConfig, early_data: bool) -> (ServerConfig, ClientConfig) {
    let identity = SelfSigned::localhost();
    let mut server = testkit::server_config(&identity, ALPN);
    server.max_early_data_size = if early_data { u32::MAX } else { 0 };
    let mut client = testkit::client_config_trusting(&identity, ALPN);
    client.enable_early_data = early_data;
    let transport = Arc::new(transport);
    (
        ServerConfig {
            tls: Arc::new(server),
            transport: transport.clone(),
        },
        ClientConfig {
            tls: Arc::new(client),
            transport,
            token_store: Some(Arc::new(kite_proto::config::TokenMemoryCache::default())),
        },
    )
}

fn seed(default: u64) -> u64 {
    let seed = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    eprintln!("simulation seed {seed} (replay with SIM_SEED={seed})");
    seed
}

#[test]
fn handshake_completes_on_a_clean_network() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(1), LinkConfig::default(), server);
    let ch = sim.connect(CLIENT, SERVER, client);
    let ok = sim.run_until(Duration::from_secs(5), |sim| {
        !sim.conn(CLIENT, ch).is_handshaking()
            && sim.hosts[SERVER]
                .accepted
                .first()
                .is_some_and(|h| !sim.hosts[SERVER].connections[h].is_handshaking())
    });
    assert!(ok, "handshake did not complete: {:?}", sim.conn(CLIENT, ch));
    let events = sim.events(CLIENT, ch);
    assert!(events.contains(&Event::Connected), "{events:?}");
    assert_eq!(sim.conn(CLIENT, ch).alpn_protocol(), Some(ALPN));
}

#[test]
fn both_sides_issue_connection_ids_up_to_the_peer_limit() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(15), LinkConfig::default(), server);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    let sh = sim.hosts[SERVER].accepted[0];
    // RFC 9000 §5.1.1: up to active_connection_id_limit (4 here) in all.
    let issued = sim.run_until(Duration::from_secs(1), |sim| {
        sim.conn(CLIENT, ch).peer_cid_count() == 4 && sim.conn(SERVER, sh).peer_cid_count() == 4
    });
    assert!(
        issued,
        "client has {}, server has {}",
        sim.conn(CLIENT, ch).peer_cid_count(),
        sim.conn(SERVER, sh).peer_cid_count()
    );
    // The server's endpoint routes its 4 IDs, the client's original DCID no longer.
    assert_eq!(sim.hosts[SERVER].endpoint.routed_ids(), 4);
}

/// The byte at `offset` of stream `index`'s payload.
fn pattern(index: usize, offset: usize) -> u8 {
    ((offset * 31 + index) % 251) as u8
}

/// Client opens `streams` bidirectional streams, writes `size` bytes on each
/// and finishes; the server echoes; the client checks every byte. Returns
/// virtual time taken.
fn echo(link: LinkConfig, seed_value: u64, streams: usize, size: usize) -> Duration {
    echo_with(TransportConfig::default(), link, seed_value, streams, size).0
}

/// [`echo`] with a transport config; also returns both sides' stats.
fn echo_with(
    transport: TransportConfig,
    link: LinkConfig,
    seed_value: u64,
    streams: usize,
    size: usize,
) -> (Duration, ConnectionStats, ConnectionStats) {
    let (server, client) = tls_configs_with(transport);
    let mut sim = Simulation::pair(seed(seed_value), link, server);
    let start = sim.now;
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(
        sim.run_until(Duration::from_secs(60), |sim| !sim
            .conn(CLIENT, ch)
            .is_handshaking()),
        "handshake failed: {:?}",
        sim.conn(CLIENT, ch)
    );
    let ids: Vec<_> = (0..streams)
        .map(|_| sim.conn(CLIENT, ch).open(Dir::Bi).expect("stream limit"))
        .collect();
    let mut written = vec![0usize; streams];
    let mut received: Vec<Vec<u8>> = vec![Vec::new(); streams];
    let mut done = vec![false; streams];
    // Server side: echo state per stream.
    let mut echo_buf: std::collections::HashMap<kite_proto::StreamId, (Vec<u8>, bool)> =
        Default::default();
    let finished = sim.run_until(Duration::from_secs(600), |sim| {
        // Client writes.
        for (i, id) in ids.iter().enumerate() {
            while written[i] < size {
                let end = (written[i] + 16 * 1024).min(size);
                let chunk: Vec<u8> = (written[i]..end).map(|o| pattern(i, o)).collect();
                match sim.conn(CLIENT, ch).write(*id, &chunk) {
                    Ok(n) => {
                        written[i] += n;
                        if n < chunk.len() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            if written[i] == size {
                let _ = sim.conn(CLIENT, ch).finish(*id);
            }
        }
        // Server echoes.
        if let Some(&sh) = sim.hosts[SERVER].accepted.first() {
            let conn = sim.conn(SERVER, sh);
            while let Some(id) = conn.accept(Dir::Bi) {
                echo_buf.insert(id, (Vec::new(), false));
            }
            for (id, (pending, fin)) in echo_buf.iter_mut() {
                loop {
                    match conn.read(*id, 64 * 1024) {
                        Ok(Some(data)) => pending.extend_from_slice(&data),
                        Ok(None) => {
                            *fin = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                while !pending.is_empty() {
                    match conn.write(*id, pending) {
                        Ok(n) => {
                            pending.drain(..n);
                        }
                        Err(_) => break,
                    }
                }
                if *fin && pending.is_empty() {
                    let _ = conn.finish(*id);
                }
            }
            while conn.poll().is_some() {}
        }
        // Client reads.
        for (i, id) in ids.iter().enumerate() {
            loop {
                match sim.conn(CLIENT, ch).read(*id, 64 * 1024) {
                    Ok(Some(data)) => received[i].extend_from_slice(&data),
                    Ok(None) => {
                        done[i] = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        while sim.conn(CLIENT, ch).poll().is_some() {}
        done.iter().all(|d| *d)
    });
    let stats = sim.conn(CLIENT, ch).stats();
    assert!(
        finished,
        "echo did not finish: client {:?} stats {:?}; received {:?}",
        sim.conn(CLIENT, ch),
        stats,
        received.iter().map(Vec::len).collect::<Vec<_>>()
    );
    for (i, data) in received.iter().enumerate() {
        assert_eq!(data.len(), size, "stream {i} length");
        assert!(
            data.iter().enumerate().all(|(o, b)| *b == pattern(i, o)),
            "stream {i} bytes differ"
        );
    }
    let server_stats = match sim.hosts[SERVER].accepted.first() {
        Some(&sh) => sim.conn(SERVER, sh).stats(),
        None => ConnectionStats::default(),
    };
    (sim.now - start, stats, server_stats)
}

#[test]
fn echo_of_one_stream_arrives_intact_on_a_clean_network() {
    echo(LinkConfig::default(), 2, 1, 100_000);
}

#[test]
fn echo_of_eight_streams_arrives_intact_on_a_clean_network() {
    echo(LinkConfig::default(), 3, 8, 200_000);
}

fn lossy(loss: f64) -> LinkConfig {
    LinkConfig {
        loss,
        reorder: 0.05,
        duplicate: 0.02,
        ..LinkConfig::default()
    }
}

#[test]
fn echo_survives_5_percent_loss_with_reordering_and_duplication() {
    echo(lossy(0.05), 4, 4, 250_000);
}

#[test]
fn echo_survives_30_percent_loss() {
    echo(lossy(0.30), 5, 2, 100_000);
}

#[test]
fn echo_survives_corruption() {
    let link = LinkConfig {
        corrupt: 0.05,
        ..LinkConfig::default()
    };
    echo(link, 6, 2, 100_000);
}

#[test]
fn ten_megabytes_arrive_intact_at_0_5_and_30_percent_loss() {
    for (loss, seed_value) in [(0.0, 7), (0.05, 8), (0.30, 9)] {
        let took = echo(lossy(loss), seed_value, 1, 10_000_000);
        eprintln!("10 MB echo at {loss} loss: {took:?} of network time");
    }
}

/// Handshake completes, client then server, for the pair in `sim`.
fn handshake(sim: &mut Simulation, ch: kite_proto::ConnectionHandle, limit: Duration) -> bool {
    sim.run_until(limit, |sim| {
        !sim.conn(CLIENT, ch).is_handshaking()
            && sim.hosts[SERVER]
                .accepted
                .first()
                .is_some_and(|h| !sim.hosts[SERVER].connections[h].is_handshaking())
    })
}

#[test]
fn handshake_completes_when_the_first_two_flights_are_lost() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(10), LinkConfig::default(), server);
    let (s, c) = (sim.hosts[SERVER].addr, sim.hosts[CLIENT].addr);
    // The client's first Initial, then the server's first flight (one
    // datagram with this small certificate) and its first probe.
    sim.network.drop_next(c, s, 1);
    sim.network.drop_next(s, c, 2);
    let start = sim.now;
    let ch = sim.connect(CLIENT, SERVER, client);
    let done = handshake(&mut sim, ch, Duration::from_secs(10));
    let error = sim.conn(CLIENT, ch).error().cloned();
    let elapsed = sim.now - start;
    assert!(done, "{:?} {error:?} at {elapsed:?}", sim.conn(CLIENT, ch));
    assert!(sim.conn(CLIENT, ch).stats().pto_count >= 1);
}

#[test]
fn key_updates_every_200_packets_keep_data_intact() {
    let transport = TransportConfig {
        key_update_interval: Some(200),
        ..TransportConfig::default()
    };
    let (_, client, server) = echo_with(transport, lossy(0.02), 11, 2, 1_000_000);
    assert!(client.key_updates >= 3, "client {client:?}");
    assert!(server.key_updates >= 3, "server {server:?}");
}

#[test]
fn application_close_code_and_reason_reach_the_peer() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(12), LinkConfig::default(), server);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    let now = sim.now;
    sim.conn(CLIENT, ch).close(now, 42, b"bye");
    let sh = sim.hosts[SERVER].accepted[0];
    let mut lost = None;
    sim.run_until(Duration::from_secs(5), |sim| {
        while let Some(e) = sim.conn(SERVER, sh).poll() {
            if let Event::ConnectionLost(err) = e {
                lost = Some(err);
            }
        }
        lost.is_some()
    });
    assert_eq!(
        lost,
        Some(ConnectionError::PeerApplicationClose {
            code: 42,
            reason: bytes::Bytes::from_static(b"bye"),
        })
    );
    // Both sides drain after three PTOs and the endpoints forget them.
    assert!(sim.run_until(Duration::from_secs(10), |sim| {
        sim.conn(CLIENT, ch).is_drained() && sim.conn(SERVER, sh).is_drained()
    }));
    assert_eq!(sim.hosts[SERVER].endpoint.open_connections(), 0);
    assert_eq!(sim.hosts[CLIENT].endpoint.open_connections(), 0);
}

#[test]
fn idle_timeout_ends_a_connection_whose_peer_went_silent() {
    let transport = TransportConfig {
        max_idle_timeout: Duration::from_secs(3),
        ..TransportConfig::default()
    };
    let (server, client) = tls_configs_with(transport);
    let mut sim = Simulation::pair(seed(13), LinkConfig::default(), server);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    let (s, c) = (sim.hosts[SERVER].addr, sim.hosts[CLIENT].addr);
    sim.network.set_link(
        s,
        c,
        LinkConfig {
            loss: 1.0,
            ..LinkConfig::default()
        },
    );
    sim.network.set_link(
        c,
        s,
        LinkConfig {
            loss: 1.0,
            ..LinkConfig::default()
        },
    );
    let start = sim.now;
    assert!(sim.run_until(Duration::from_secs(30), |sim| {
        sim.conn(CLIENT, ch).is_drained()
    }));
    let took = sim.now - start;
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let events = sim.events(CLIENT, ch);
    assert!(
        events.contains(&Event::ConnectionLost(ConnectionError::TimedOut)),
        "{events:?}"
    );
}

#[test]
fn keep_alive_holds_an_idle_connection_open() {
    let transport = TransportConfig {
        max_idle_timeout: Duration::from_secs(3),
        keep_alive_period: Some(Duration::from_secs(1)),
        ..TransportConfig::default()
    };
    let (server, client) = tls_configs_with(transport);
    let mut sim = Simulation::pair(seed(14), LinkConfig::default(), server);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    let ended = sim.run_until(Duration::from_secs(20), |sim| {
        sim.conn(CLIENT, ch).is_closed()
    });
    assert!(
        !ended,
        "keep-alive did not keep the connection: {:?}",
        sim.conn(CLIENT, ch)
    );
}

#[test]
fn initials_past_the_incoming_limit_are_refused_with_connection_refused() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(16), LinkConfig::default(), server.clone());
    sim.hosts[SERVER].endpoint = kite_proto::Endpoint::new(
        kite_proto::EndpointConfig {
            max_incoming: 1,
            ..Default::default()
        },
        Some(Arc::new(server)),
    );
    let first = sim.connect(CLIENT, SERVER, client.clone());
    let second = sim.connect(CLIENT, SERVER, client);
    let mut refused = None;
    sim.run_until(Duration::from_secs(5), |sim| {
        for e in sim.events(CLIENT, second) {
            if let Event::ConnectionLost(err) = e {
                refused = Some(err);
            }
        }
        refused.is_some() && !sim.conn(CLIENT, first).is_handshaking()
    });
    let second_state = format!("{:?}", sim.conn(CLIENT, second));
    let second_stats = sim.conn(CLIENT, second).stats();
    let first_state = format!("{:?}", sim.conn(CLIENT, first));
    let context = format!(
        "second {second_state} {second_stats:?}; first {first_state}; net {:?}",
        sim.network.stats()
    );
    match refused {
        Some(ConnectionError::PeerTransportClose { code, .. }) => {
            assert_eq!(code, kite_proto::TransportErrorCode::CONNECTION_REFUSED)
        }
        other => panic!("second connection not refused: {other:?}; {context}"),
    }
    assert!(!sim.conn(CLIENT, first).is_handshaking());
    assert_eq!(sim.hosts[SERVER].accepted.len(), 1);
}

#[test]
fn stateless_reset_ends_a_client_whose_server_lost_its_state() {
    let (server, client) = tls_configs();
    let config = kite_proto::EndpointConfig::default();
    let mut sim = Simulation::pair(seed(19), LinkConfig::default(), server.clone());
    sim.hosts[SERVER].endpoint =
        kite_proto::Endpoint::new(config.clone(), Some(Arc::new(server.clone())));
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    sim.run_until(Duration::from_millis(200), |_| false);
    // The server restarts with the same static reset key and no connections.
    sim.hosts[SERVER].connections.clear();
    sim.hosts[SERVER].endpoint = kite_proto::Endpoint::new(config, Some(Arc::new(server)));
    let stream = sim.conn(CLIENT, ch).open(Dir::Bi).unwrap();
    sim.conn(CLIENT, ch).write(stream, b"hello?").unwrap();
    let mut lost = None;
    sim.run_until(Duration::from_secs(5), |sim| {
        for e in sim.events(CLIENT, ch) {
            if let Event::ConnectionLost(err) = e {
                lost = Some(err);
            }
        }
        lost.is_some()
    });
    assert_eq!(lost, Some(ConnectionError::Reset));
}

/// A `Write` into a buffer shared with the test.
#[derive(Clone, Default)]
struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Hands every connection a qlog writer into one shared buffer per side.
struct MemoryQlog {
    client: SharedBuf,
    server: SharedBuf,
}

impl kite_proto::trace::TracerFactory for MemoryQlog {
    fn new_connection(
        &self,
        side: kite_proto::Side,
        original_dcid: &kite_proto::ConnectionId,
    ) -> Option<Box<dyn kite_proto::trace::Tracer>> {
        let buf = match side {
            kite_proto::Side::Client => self.client.clone(),
            kite_proto::Side::Server => self.server.clone(),
        };
        Some(Box::new(kite_proto::trace::qlog::QlogWriter::new(
            buf,
            Some(side),
            Some(original_dcid),
            None,
        )))
    }
}

/// The `name` of every record of a JSON-SEQ qlog, header first.
fn qlog_names(buf: &SharedBuf) -> Vec<String> {
    let bytes = buf.0.lock().unwrap().clone();
    let text = String::from_utf8(bytes).unwrap();
    text.split('\u{1e}')
        .filter(|r| !r.trim().is_empty())
        .map(|record| {
            let value: serde_json::Value = serde_json::from_str(record.trim())
                .unwrap_or_else(|e| panic!("record is not JSON ({e}): {record}"));
            value
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("header")
                .to_owned()
        })
        .collect()
}

#[test]
fn qlog_records_packets_losses_metrics_keys_and_close_as_json_seq() {
    let (server, client) = tls_configs_with(TransportConfig {
        key_update_interval: Some(100),
        ..TransportConfig::default()
    });
    let qlog = Arc::new(MemoryQlog {
        client: SharedBuf::default(),
        server: SharedBuf::default(),
    });
    let mut sim = Simulation::pair(seed(20), lossy(0.05), server.clone());
    let config = kite_proto::EndpointConfig {
        tracer_factory: Some(qlog.clone()),
        ..Default::default()
    };
    sim.hosts[SERVER].endpoint = kite_proto::Endpoint::new(config.clone(), Some(Arc::new(server)));
    sim.hosts[CLIENT].endpoint = kite_proto::Endpoint::new(config, None);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(10)));
    let id = sim.conn(CLIENT, ch).open(Dir::Uni).unwrap();
    sim.conn(CLIENT, ch).write(id, &vec![7u8; 200_000]).unwrap();
    sim.conn(CLIENT, ch).finish(id).unwrap();
    sim.run_until(Duration::from_secs(20), |_| false);
    let now = sim.now;
    sim.conn(CLIENT, ch).close(now, 0, b"bye");
    sim.run_until(Duration::from_secs(5), |_| false);
    for (side, buf) in [("client", &qlog.client), ("server", &qlog.server)] {
        let names = qlog_names(buf);
        assert_eq!(names.first().map(String::as_str), Some("header"), "{side}");
        for expected in [
            "quic:packet_sent",
            "quic:packet_received",
            "quic:parameters_set",
            "quic:connection_state_updated",
            "quic:recovery_metrics_updated",
            "quic:key_updated",
            "quic:connection_closed",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{side} lacks {expected}: {:?}",
                &names[..20.min(names.len())]
            );
        }
    }
    assert!(
        qlog_names(&qlog.client)
            .iter()
            .any(|n| n == "quic:packet_lost")
    );
}

#[test]
fn get_config_for_client_sees_the_client_hello_and_picks_the_config() {
    let (server, client) = tls_configs();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let chosen = ServerConfig {
        tls: server.tls.clone(),
        transport: Arc::new(TransportConfig {
            max_incoming_bidi_streams: 1,
            ..TransportConfig::default()
        }),
    };
    let record = seen.clone();
    let hooked = ServerConfig {
        tls: server.tls.clone(),
        transport: Arc::new(TransportConfig {
            get_config_for_client: Some(Arc::new(move |info| {
                *record.lock().unwrap() = Some(info.clone());
                Some(chosen.clone())
            })),
            ..TransportConfig::default()
        }),
    };
    let mut sim = Simulation::pair(seed(23), LinkConfig::default(), hooked);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    let info = seen.lock().unwrap().clone().expect("hook not called");
    assert_eq!(info.server_name.as_deref(), Some("localhost"));
    assert_eq!(info.alpn_protocols, vec![ALPN.to_vec()]);
    assert_eq!(info.remote, sim.hosts[CLIENT].addr);
    let peer = sim.conn(CLIENT, ch).peer_params().unwrap().clone();
    assert_eq!(peer.initial_max_streams_bidi.into_inner(), 1);
}

#[test]
fn get_config_for_client_can_refuse_with_connection_refused() {
    let (server, client) = tls_configs();
    let refusing = ServerConfig {
        tls: server.tls.clone(),
        transport: Arc::new(TransportConfig {
            get_config_for_client: Some(Arc::new(|_| None)),
            ..TransportConfig::default()
        }),
    };
    let mut sim = Simulation::pair(seed(24), LinkConfig::default(), refusing);
    let ch = sim.connect(CLIENT, SERVER, client);
    let mut lost = None;
    sim.run_until(Duration::from_secs(5), |sim| {
        for e in sim.events(CLIENT, ch) {
            if let Event::ConnectionLost(err) = e {
                lost = Some(err);
            }
        }
        lost.is_some()
    });
    match lost {
        Some(ConnectionError::PeerTransportClose { code, .. }) => {
            assert_eq!(code, kite_proto::TransportErrorCode::CONNECTION_REFUSED)
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn handshake_with_a_silent_server_times_out() {
    let transport = TransportConfig {
        handshake_idle_timeout: Duration::from_secs(2),
        ..TransportConfig::default()
    };
    let (server, client) = tls_configs_with(transport);
    let mut sim = Simulation::pair(seed(25), LinkConfig::default(), server);
    let (s, c) = (sim.hosts[SERVER].addr, sim.hosts[CLIENT].addr);
    sim.network.set_link(
        s,
        c,
        LinkConfig {
            loss: 1.0,
            ..LinkConfig::default()
        },
    );
    let start = sim.now;
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(sim.run_until(Duration::from_secs(30), |sim| {
        sim.conn(CLIENT, ch).is_drained()
    }));
    let took = sim.now - start;
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(
        sim.conn(CLIENT, ch).error(),
        Some(&ConnectionError::TimedOut)
    );
}

/// RFC 9000 §8.1: before the client's address is validated, the server
/// sends at most three times what it received, even when its certificate
/// chain needs several flights and the client's retransmissions are lost.
#[test]
fn amplification_limit_holds_with_a_large_certificate_and_lost_client_retransmissions() {
    // A certificate with many names: several kilobytes, more than 3x1200.
    let names: Vec<String> = (0..150)
        .map(|i| format!("host-{i}.a-rather-long-subdomain.example.com"))
        .chain(["localhost".to_string()])
        .collect();
    let identity = SelfSigned::for_names(names);
    assert!(identity.cert.len() > 4 * 1200, "certificate too small");
    let (_, client) = tls_configs();
    let client = ClientConfig {
        tls: Arc::new(testkit::client_config_trusting(&identity, ALPN)),
        ..client
    };
    let server = ServerConfig {
        tls: Arc::new(testkit::server_config(&identity, ALPN)),
        transport: Arc::new(TransportConfig::default()),
    };
    let mut sim = Simulation::pair(seed(26), LinkConfig::default(), server);
    let (s, c) = (sim.hosts[SERVER].addr, sim.hosts[CLIENT].addr);
    let ch = sim.connect(CLIENT, SERVER, client);
    // Deliver the client's first datagram, then lose everything it sends
    // for two seconds.
    sim.run_until(Duration::from_millis(5), |_| false);
    sim.network.drop_next(c, s, 1000);
    let mut worst = 0.0f64;
    sim.run_until(Duration::from_secs(2), |sim| {
        if let Some(&sh) = sim.hosts[SERVER].accepted.first() {
            let stats = sim.hosts[SERVER].connections[&sh].stats();
            assert!(
                stats.bytes_sent <= 3 * stats.bytes_received,
                "server sent {} for {} received",
                stats.bytes_sent,
                stats.bytes_received
            );
            worst = worst.max(stats.bytes_sent as f64 / stats.bytes_received.max(1) as f64);
        }
        false
    });
    assert!(
        worst > 2.0,
        "the server should have used its allowance: {worst}"
    );
    // Once the client's packets get through again, the handshake completes.
    sim.network.clear_forced_drops(c, s);
    assert!(handshake(&mut sim, ch, Duration::from_secs(10)));
}
