//! What the path tells the connection: ECN validation and CE marks
//! (RFC 9000 §13.4, RFC 9002 §7.1) and path MTU discovery (RFC 8899).

use super::{echo_with, handshake, seed, tls_configs};
use kite_proto::TransportConfig;
use kite_sim::{CLIENT, LinkConfig, SERVER, Simulation};
use std::time::Duration;

/// RFC 9000 §13.4.2: on a path that carries ECN both sides validate it.
#[test]
fn ecn_is_validated_on_a_path_that_carries_it() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(27), LinkConfig::default(), server);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    sim.run_until(Duration::from_millis(200), |_| false);
    let sh = sim.hosts[SERVER].accepted[0];
    assert!(sim.conn(CLIENT, ch).ecn_capable());
    assert!(sim.conn(SERVER, sh).ecn_capable());
}

/// RFC 9000 §13.4.2.1: a path that clears the marks fails validation and
/// the connection carries on without ECN.
#[test]
fn ecn_validation_fails_on_a_path_that_bleaches_it() {
    let (server, client) = tls_configs();
    let link = LinkConfig {
        bleach_ecn: true,
        ..LinkConfig::default()
    };
    let mut sim = Simulation::pair(seed(28), link, server);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    sim.run_until(Duration::from_millis(200), |_| false);
    assert!(!sim.conn(CLIENT, ch).ecn_capable());
}

/// RFC 9002 §7.1: CE marks slow the sender down as losses would, and the
/// transfer completes without any loss.
#[test]
fn ce_marks_act_as_congestion_signals_without_loss() {
    let link = LinkConfig {
        ce_mark: 0.02,
        ..LinkConfig::default()
    };
    let (_, client, server) = echo_with(TransportConfig::default(), link, 29, 1, 2_000_000);
    assert!(
        client.ecn_ce > 0 || server.ecn_ce > 0,
        "{client:?} {server:?}"
    );
    assert_eq!(client.packets_lost + server.packets_lost, 0);
}

/// RFC 8899: after the handshake both sides raise their datagram size to
/// the ceiling when the path carries it...
#[test]
fn path_mtu_discovery_reaches_the_ceiling_on_a_wide_path() {
    let (_, client, server) = echo_with(
        TransportConfig::default(),
        LinkConfig::default(),
        30,
        1,
        500_000,
    );
    assert_eq!(client.max_datagram_size, 1452, "{client:?}");
    assert_eq!(server.max_datagram_size, 1452, "{server:?}");
}

/// ...and settles under a narrower path's limit (within a few steps of the
/// search: each size too big costs three lost probes), losing only probes.
#[test]
fn path_mtu_discovery_settles_under_a_narrow_path() {
    let link = LinkConfig {
        max_datagram: 1350,
        ..LinkConfig::default()
    };
    let (_, client, server) = echo_with(TransportConfig::default(), link, 31, 1, 2_000_000);
    for stats in [client, server] {
        assert!(
            stats.max_datagram_size <= 1350 && stats.max_datagram_size > 1350 - 64,
            "{stats:?}"
        );
    }
}
