//! The interop runner's handshakeloss and handshakecorruption in the
//! simulator: 200 seeded connections, each a handshake and one small echo,
//! over links that lose (or corrupt) 30 % of the datagrams of each
//! direction; every one must finish. Even seeds make full handshakes, odd
//! ones resume the session of an earlier connection (a smaller server
//! flight, and a client that must not take the ticket's transport
//! parameters for the server's).
//!
//! `SIM_SEED=n` replays one connection, `SIM_COUNT=n` runs more of them,
//! `SIM_EVENTS=1` prints every packet and state change of both ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kite_proto::trace::{TraceEvent, Tracer, TracerFactory};
use kite_proto::{
    ClientConfig, ConnectionId, Dir, Endpoint, EndpointConfig, ServerConfig, Side, StreamId,
    TransportConfig,
};
use kite_sim::{CLIENT, LinkConfig, SERVER, Simulation};

use super::tls_configs_with;

/// Connections per test.
const CONNECTIONS: u64 = 200;

/// Bytes echoed on the one stream of each connection, as the relay's
/// handshake scenarios do.
const ECHO_SIZE: usize = 1000;

/// The handshake idle timeout, quinn's 30 s as in the relay's handshake
/// scenarios. With kite's default of 10 s a client sends its ClientHello in
/// seven datagrams before giving up, all lost for 2 connections in 10,000 at
/// 30 % loss (0.3^7); these seeds pass with the default too, but another
/// seed sequence, after any change in what is sent, would meet that chance.
/// Nine datagrams in 30 s make it 2 in 100,000.
const HANDSHAKE_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Virtual time one connection may take before it counts as failed: past
/// the handshake and idle timeouts, so a connection that gives up is seen
/// giving up rather than cut short.
const CONNECTION_LIMIT: Duration = Duration::from_secs(120);

/// One-way delay of the simulated link: about loopback's, as the relay
/// scenarios run over loopback.
const LINK_DELAY: Duration = Duration::from_millis(1);

#[test]
fn handshakes_all_finish_at_30_percent_loss() {
    let link = LinkConfig {
        delay: LINK_DELAY,
        loss: 0.3,
        ..LinkConfig::default()
    };
    many_handshakes(link, 1000);
}

#[test]
fn handshakes_all_finish_at_30_percent_corruption() {
    let link = LinkConfig {
        delay: LINK_DELAY,
        corrupt: 0.3,
        ..LinkConfig::default()
    };
    many_handshakes(link, 2000);
}

/// Runs [`CONNECTIONS`] connections over `link`, seeded from `first_seed`
/// on; fails listing every one that did not finish.
fn many_handshakes(link: LinkConfig, first_seed: u64) {
    let env = |name| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let seeds = match (env("SIM_SEED"), env("SIM_COUNT")) {
        (Some(one), _) => one..one + 1,
        (None, count) => first_seed..first_seed + count.unwrap_or(CONNECTIONS),
    };
    let transport = TransportConfig {
        handshake_idle_timeout: HANDSHAKE_IDLE_TIMEOUT,
        ..TransportConfig::default()
    };
    let (server, resuming) = tls_configs_with(transport);
    // Every connection has its own simulation: no token from an earlier one.
    let resuming = ClientConfig {
        token_store: None,
        ..resuming
    };
    let mut full_tls = (*resuming.tls).clone();
    full_tls.resumption = rustls::client::Resumption::disabled();
    let full = ClientConfig {
        tls: Arc::new(full_tls),
        ..resuming.clone()
    };
    let count = seeds.end - seeds.start;
    let mut failures = Vec::new();
    let mut times = Vec::new();
    for seed in seeds {
        let client = if seed % 2 == 0 { &full } else { &resuming };
        match handshake_and_echo(&server, client, link.clone(), seed) {
            Ok(took) => times.push(took),
            Err(why) => failures.push(format!("seed {seed}: {why}")),
        }
    }
    times.sort();
    eprintln!(
        "{} of {count} connections echoed; median {:?}, slowest {:?}",
        times.len(),
        times.get(times.len() / 2).copied().unwrap_or_default(),
        times.last().copied().unwrap_or_default(),
    );
    assert!(
        failures.is_empty(),
        "{} of {count} failed (replay one with SIM_SEED=n SIM_EVENTS=1):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A handshake and an [`ECHO_SIZE`]-byte echo over `link`, seeded with
/// `seed`; the virtual time it took, or what the client saw instead.
fn handshake_and_echo(
    server: &ServerConfig,
    client: &ClientConfig,
    link: LinkConfig,
    seed: u64,
) -> Result<Duration, String> {
    let mut sim = Simulation::pair(seed, link, server.clone());
    if std::env::var_os("SIM_EVENTS").is_some() {
        print_events(&mut sim, server);
    }
    let start = sim.now;
    let ch = sim.connect(CLIENT, SERVER, client.clone());
    let data: Vec<u8> = (0..ECHO_SIZE).map(|i| (i % 251) as u8).collect();
    let mut stream = None;
    let mut received = Vec::new();
    let mut echoed = false;
    let mut server_streams: Vec<(StreamId, Vec<u8>, bool)> = Vec::new();
    sim.run_until(CONNECTION_LIMIT, |sim| {
        let conn = sim.conn(CLIENT, ch);
        if conn.is_closed() {
            return true;
        }
        if stream.is_none() && !conn.is_handshaking() {
            stream = conn.open(Dir::Bi);
            if let Some(id) = stream {
                assert_eq!(
                    conn.write(id, &data),
                    Ok(ECHO_SIZE),
                    "a fresh stream's window"
                );
                conn.finish(id).expect("an open stream");
            }
        }
        if let Some(id) = stream {
            while !echoed {
                match conn.read(id, usize::MAX) {
                    Ok(Some(chunk)) => received.extend_from_slice(&chunk),
                    Ok(None) => echoed = true,
                    Err(_) => break,
                }
            }
        }
        while conn.poll().is_some() {}
        if let Some(&sh) = sim.hosts[SERVER].accepted.first() {
            echo_back(sim.conn(SERVER, sh), &mut server_streams);
        }
        echoed
    });
    let took = sim.now - start;
    let conn = sim.conn(CLIENT, ch);
    if echoed && received == data {
        Ok(took)
    } else {
        Err(format!(
            "after {took:?}: handshaking {}, error {:?}, {} bytes echoed, {:?}",
            conn.is_handshaking(),
            conn.error(),
            received.len(),
            conn.stats()
        ))
    }
}

/// The server's side of the echo: every stream's bytes back, then FIN.
fn echo_back(conn: &mut kite_proto::Connection, streams: &mut Vec<(StreamId, Vec<u8>, bool)>) {
    while let Some(id) = conn.accept(Dir::Bi) {
        streams.push((id, Vec::new(), false));
    }
    for (id, pending, fin) in streams.iter_mut() {
        while !*fin {
            match conn.read(*id, usize::MAX) {
                Ok(Some(chunk)) => pending.extend_from_slice(&chunk),
                Ok(None) => *fin = true,
                Err(_) => break,
            }
        }
        if let Ok(n) = conn.write(*id, pending) {
            pending.drain(..n);
        }
        if *fin && pending.is_empty() {
            let _ = conn.finish(*id);
        }
    }
    while conn.poll().is_some() {}
}

/// Replaces both endpoints with ones whose connections print their events.
fn print_events(sim: &mut Simulation, server: &ServerConfig) {
    let start = sim.now;
    for (index, host) in sim.hosts.iter_mut().enumerate() {
        let config = EndpointConfig {
            tracer_factory: Some(Arc::new(Print(start))),
            ..EndpointConfig::default()
        };
        let server = (index == SERVER).then(|| Arc::new(server.clone()));
        host.endpoint = Endpoint::new(config, server);
    }
}

/// Prints every event but metrics, with the virtual time since `.0`.
struct Print(Instant);

struct PrintConnection(Instant, Side);

impl TracerFactory for Print {
    fn new_connection(&self, side: Side, _: &ConnectionId) -> Option<Box<dyn Tracer>> {
        Some(Box::new(PrintConnection(self.0, side)))
    }
}

impl Tracer for PrintConnection {
    fn event(&mut self, now: Instant, event: &TraceEvent<'_>) {
        if !matches!(event, TraceEvent::MetricsUpdated(_)) {
            eprintln!("{:>10.3?} {:?} {event:?}", now - self.0, self.1);
        }
    }
}
