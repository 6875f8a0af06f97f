//! Attacks on the server endpoint itself, before any connection: Version
//! Negotiation sent to a server (RFC 9000 §6.1), replayed Initials, garbage.

use super::*;
use kite_proto::coding::BufMutExt;
use kite_proto::{DatagramEvent, VarInt};
use kite_sim::SimRng;

/// Hands one datagram straight to the server endpoint, as the simulator
/// would (a new connection joins the host); returns the size of a stateless
/// answer (reset, Version Negotiation, Retry) if one was written.
fn to_server(sim: &mut Simulation, from: std::net::SocketAddr, data: &[u8]) -> Option<usize> {
    let mut response = Vec::new();
    let host = &mut sim.hosts[SERVER];
    match host
        .endpoint
        .handle_datagram(sim.now, from, None, BytesMut::from(data), &mut response)
    {
        Some(DatagramEvent::NewConnection(handle, conn)) => {
            host.connections.insert(handle, *conn);
            host.accepted.push(handle);
            None
        }
        Some(DatagramEvent::Response(t)) => Some(t.size),
        Some(DatagramEvent::ConnectionEvent(handle, event)) => {
            if let Some(conn) = host.connections.get_mut(&handle) {
                conn.handle_event(event);
            }
            None
        }
        None => None,
    }
}

fn version_negotiation(dcid: &[u8]) -> Vec<u8> {
    let mut packet = vec![0xc5, 0, 0, 0, 0, dcid.len() as u8];
    packet.extend_from_slice(dcid);
    packet.push(8);
    packet.extend_from_slice(&[9; 8]);
    packet.extend_from_slice(&[0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf]);
    packet
}

#[test]
fn version_negotiation_packets_to_the_server_are_dropped() {
    let mut attack = Attack::new(150);
    let open = attack.sim.hosts[SERVER].endpoint.open_connections();
    let from = attack.sim.hosts[CLIENT].addr;
    // RFC 9000 §6.1: a server never acts on (or answers) Version Negotiation.
    for dcid in [[7u8; 8].as_slice(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]] {
        assert_eq!(
            to_server(&mut attack.sim, from, &version_negotiation(dcid)),
            None
        );
    }
    // One addressed to a live connection is routed there, and ignored.
    let cid = attack.conn(SERVER).local_cid();
    let dropped = attack.conn(SERVER).stats().packets_dropped;
    let vn = version_negotiation(cid.as_bytes());
    assert_eq!(to_server(&mut attack.sim, from, &vn), None);
    assert_eq!(attack.conn(SERVER).stats().packets_dropped, dropped + 1);
    assert_eq!(attack.sim.hosts[SERVER].endpoint.open_connections(), open);
    attack.expect_carries_on(SERVER);
}

#[test]
fn replayed_first_initial_creates_no_second_connection() {
    let (server, client) = tls_configs_with(TransportConfig::default());
    let mut sim = Simulation::pair(seed(151), LinkConfig::default(), server);
    let (s, c) = (sim.hosts[SERVER].addr, sim.hosts[CLIENT].addr);
    let ch = sim.connect(CLIENT, SERVER, client);
    let mut buf = Vec::new();
    let now = sim.now;
    let t = sim.conn(CLIENT, ch).poll_transmit(now, &mut buf).unwrap();
    let first = Bytes::copy_from_slice(&buf[..t.size]);
    sim.network.send(now, c, s, first.clone());
    // Replays during the handshake, from the client and from elsewhere.
    let elsewhere = "10.9.9.9:999".parse().unwrap();
    for _ in 0..5 {
        sim.network.send(sim.now, c, s, first.clone());
        sim.network.send(sim.now, elsewhere, s, first.clone());
    }
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    let sh = sim.hosts[SERVER].accepted[0];
    assert_eq!(sim.hosts[SERVER].accepted.len(), 1);
    // Each replay reached the connection and was dropped as a duplicate.
    assert!(sim.conn(SERVER, sh).stats().packets_dropped >= 10);
    assert_eq!(sim.hosts[SERVER].endpoint.open_connections(), 1);
    assert!(!sim.conn(CLIENT, ch).is_closed());
}

#[test]
fn replayed_first_initial_after_confirmation_creates_no_second_connection() {
    let (server, client) = tls_configs_with(TransportConfig::default());
    let mut sim = Simulation::pair(seed(152), LinkConfig::default(), server);
    let (s, c) = (sim.hosts[SERVER].addr, sim.hosts[CLIENT].addr);
    let ch = sim.connect(CLIENT, SERVER, client);
    let mut buf = Vec::new();
    let now = sim.now;
    let t = sim.conn(CLIENT, ch).poll_transmit(now, &mut buf).unwrap();
    let first = Bytes::copy_from_slice(&buf[..t.size]);
    sim.network.send(now, c, s, first.clone());
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    sim.run_until(Duration::from_millis(300), |_| false);
    sim.network.send(sim.now, c, s, first);
    sim.run_until(Duration::from_millis(50), |_| false);
    assert_eq!(sim.hosts[SERVER].accepted.len(), 1);
    assert_eq!(sim.hosts[SERVER].endpoint.open_connections(), 1);
}

/// A datagram from the `i`th of many addresses.
fn address(i: u64) -> std::net::SocketAddr {
    let ip = std::net::Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8);
    std::net::SocketAddr::from((ip, 1024 + i as u16))
}

fn random_bytes(rng: &mut SimRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn garbage_datagrams_from_many_addresses_create_nothing_and_amplify_nothing() {
    let mut attack = Attack::new(153);
    let open = attack.sim.hosts[SERVER].endpoint.open_connections();
    let routed = attack.sim.hosts[SERVER].endpoint.routed_ids();
    let mut rng = SimRng::new(153);
    let (mut sent, mut answered) = (0, 0);
    for i in 0..2_000 {
        let len = 1 + rng.below(1_500) as usize;
        let mut data = random_bytes(&mut rng, len);
        // Half of them claim a long header of an unknown version or of v1.
        if i % 2 == 0 && len >= 5 {
            data[0] |= 0x80;
            if i % 4 == 0 {
                data[1..5].copy_from_slice(&[0, 0, 0, 1]);
            }
        }
        sent += len;
        answered += to_server(&mut attack.sim, address(i), &data).unwrap_or(0);
    }
    assert_eq!(attack.sim.hosts[SERVER].accepted.len(), 2);
    assert_eq!(attack.sim.hosts[SERVER].endpoint.open_connections(), open);
    assert_eq!(attack.sim.hosts[SERVER].endpoint.routed_ids(), routed);
    // Stateless resets are smaller than their trigger, VN only for 1200+.
    assert!(answered < sent / 2, "{answered} bytes answered to {sent}");
    attack.expect_carries_on(SERVER);
}

/// A v1 Initial header with a random DCID and a payload of random bytes,
/// padded to 1200: it parses, but cannot be decrypted.
fn undecryptable_initial(rng: &mut SimRng) -> Vec<u8> {
    let mut data = vec![0xc3, 0, 0, 0, 1, 8];
    data.extend(random_bytes(rng, 8));
    data.push(8);
    data.extend(random_bytes(rng, 8));
    data.push(0); // no token
    let rest = 1_200 - data.len() - 2;
    data.put_varint(VarInt::from_u32(rest as u32));
    data.extend(random_bytes(rng, rest));
    data
}

#[test]
fn undecryptable_initials_from_many_addresses_create_no_connection() {
    let mut attack = Attack::new(154);
    let open = attack.sim.hosts[SERVER].endpoint.open_connections();
    let mut rng = SimRng::new(154);
    for i in 0..50 {
        let data = undecryptable_initial(&mut rng);
        assert_eq!(data.len(), 1_200);
        to_server(&mut attack.sim, address(i), &data);
    }
    assert_eq!(attack.sim.hosts[SERVER].accepted.len(), 2);
    assert_eq!(attack.sim.hosts[SERVER].endpoint.open_connections(), open);
    assert_eq!(
        attack.sim.hosts[SERVER].endpoint.handshakes_in_progress(),
        0
    );
    attack.expect_carries_on(SERVER);
}
