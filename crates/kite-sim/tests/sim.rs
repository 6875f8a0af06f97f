//! Whole connections in the simulator: handshakes and transfers over lossy,
//! reordering, duplicating networks, every byte checked. Each test prints its
//! seed; `SIM_SEED=n` replays one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kite_proto::{ClientConfig, Dir, Event, ServerConfig, TransportConfig};
use kite_sim::{CLIENT, LinkConfig, SERVER, Simulation};

const ALPN: &[u8] = b"quic-echo-example";

fn tls_configs() -> (ServerConfig, ClientConfig) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_der = rustls::pki_types::CertificateDer::from(cert.cert.der().to_vec());
    let key_der =
        rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .unwrap();
    server.alpn_protocols = vec![ALPN.to_vec()];
    server.max_early_data_size = 0;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![ALPN.to_vec()];
    let transport = Arc::new(TransportConfig::default());
    (
        ServerConfig {
            tls: Arc::new(server),
            transport: transport.clone(),
        },
        ClientConfig {
            tls: Arc::new(client),
            transport,
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
