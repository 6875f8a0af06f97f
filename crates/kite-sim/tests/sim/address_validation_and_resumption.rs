//! Retry and NEW_TOKEN proving the client's address (RFC 9000 §8.1), and
//! resumption with 0-RTT data, accepted or rejected (RFC 9001 §4.6).

use super::{handshake, seed, tls_configs, tls_configs_full};
use kite_proto::{Dir, TransportConfig};
use kite_sim::{CLIENT, LinkConfig, SERVER, Simulation};
use std::sync::Arc;
use std::time::Duration;

/// A server endpoint config asking every client to prove its address.
fn always_retry() -> kite_proto::EndpointConfig {
    kite_proto::EndpointConfig {
        verify_source_address: Some(Arc::new(|_| true)),
        ..Default::default()
    }
}

#[test]
fn retry_validates_the_address_then_the_handshake_completes() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(17), LinkConfig::default(), server.clone());
    sim.hosts[SERVER].endpoint = kite_proto::Endpoint::new(always_retry(), Some(Arc::new(server)));
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(
        handshake(&mut sim, ch, Duration::from_secs(5)),
        "{:?}",
        sim.conn(CLIENT, ch)
    );
    assert!(sim.conn(CLIENT, ch).retry_source_cid().is_some());
    // RFC 9000 §7.3: the server named the Retry's SCID and the client checked it.
    let sh = sim.hosts[SERVER].accepted[0];
    let params = sim.conn(SERVER, sh).local_params().clone();
    assert_eq!(
        params.retry_source_connection_id,
        sim.conn(CLIENT, ch).retry_source_cid()
    );
}

#[test]
fn new_token_from_one_connection_skips_retry_on_the_next() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(18), LinkConfig::default(), server.clone());
    sim.hosts[SERVER].endpoint = kite_proto::Endpoint::new(always_retry(), Some(Arc::new(server)));
    let first = sim.connect(CLIENT, SERVER, client.clone());
    assert!(handshake(&mut sim, first, Duration::from_secs(5)));
    assert!(sim.conn(CLIENT, first).retry_source_cid().is_some());
    // Let the NEW_TOKEN frame arrive.
    sim.run_until(Duration::from_millis(200), |_| false);
    let second = sim.connect(CLIENT, SERVER, client);
    let done = sim.run_until(Duration::from_secs(5), |sim| {
        !sim.conn(CLIENT, second).is_handshaking()
    });
    let error = sim.conn(CLIENT, second).error().cloned();
    assert!(done, "{:?} {error:?}", sim.conn(CLIENT, second));
    assert_eq!(
        sim.conn(CLIENT, second).retry_source_cid(),
        None,
        "the NEW_TOKEN token should have validated the address"
    );
}

/// Resumes a session and sends "early" on a bidirectional stream before the
/// handshake; returns (accepted, server saw it as early, echo received).
fn resume_with_0rtt(allow_0rtt: bool, seed_value: u64) -> (Option<bool>, bool, Vec<u8>) {
    let transport = TransportConfig {
        allow_0rtt,
        ..TransportConfig::default()
    };
    let (server, client) = tls_configs_full(transport, true);
    let mut sim = Simulation::pair(seed(seed_value), LinkConfig::default(), server);
    let first = sim.connect(CLIENT, SERVER, client.clone());
    assert!(handshake(&mut sim, first, Duration::from_secs(5)));
    // Session tickets arrive in 1-RTT CRYPTO frames after the handshake.
    sim.run_until(Duration::from_millis(300), |_| false);
    let now = sim.now;
    sim.conn(CLIENT, first).close(now, 0, b"");
    sim.run_until(Duration::from_secs(2), |_| false);

    let second = sim.connect(CLIENT, SERVER, client);
    assert!(
        sim.conn(CLIENT, second).has_0rtt(),
        "no 0-RTT keys on resumption"
    );
    let id = sim
        .conn(CLIENT, second)
        .open(Dir::Bi)
        .expect("remembered stream limit");
    sim.conn(CLIENT, second).write(id, b"early").unwrap();
    sim.conn(CLIENT, second).finish(id).unwrap();
    let mut echoed = Vec::new();
    let mut early = false;
    let done = sim.run_until(Duration::from_secs(5), |sim| {
        if let Some(&sh) = sim.hosts[SERVER].accepted.get(1) {
            let conn = sim.conn(SERVER, sh);
            while let Some(sid) = conn.accept(Dir::Bi) {
                early |= conn.is_early_stream(sid);
                let mut data = Vec::new();
                while let Ok(Some(chunk)) = conn.read(sid, 1024) {
                    data.extend_from_slice(&chunk);
                }
                conn.write(sid, &data).unwrap();
                conn.finish(sid).unwrap();
            }
        }
        loop {
            match sim.conn(CLIENT, second).read(id, 1024) {
                Ok(Some(chunk)) => echoed.extend_from_slice(&chunk),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    });
    assert!(done, "{:?}", sim.conn(CLIENT, second));
    (sim.conn(CLIENT, second).zero_rtt_accepted(), early, echoed)
}

#[test]
fn zero_rtt_data_is_accepted_on_resumption_and_marked_early() {
    let (accepted, early, echoed) = resume_with_0rtt(true, 21);
    assert_eq!(accepted, Some(true));
    assert!(early, "the server did not see the stream's data as early");
    assert_eq!(echoed, b"early");
}

#[test]
fn rejected_zero_rtt_data_is_sent_again_in_1rtt() {
    let (accepted, early, echoed) = resume_with_0rtt(false, 22);
    assert_eq!(accepted, Some(false));
    assert!(!early);
    assert_eq!(echoed, b"early");
}
