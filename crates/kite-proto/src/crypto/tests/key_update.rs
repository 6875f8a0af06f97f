//! Key changes from a real in-memory rustls handshake, and key updates
//! (RFC 9001 §6) across several generations, for every QUIC cipher suite and
//! both versions.
//!
//! The handshake uses kite-testkit's placeholder certificate with a throwaway
//! Ed25519 key: the client accepts anything, since only the key schedule is
//! under test.

use crate::Version;
use crate::crypto::{
    KeyChange, OneRttKeys, PacketKey, TAG_LEN, open_payload, seal_payload, tls_version,
};
use kite_testkit::tls::{placeholder_server_config, unchecked_client_config};
use rustls::SupportedCipherSuite;
use rustls::crypto::{CryptoProvider, ring as provider};
use rustls::pki_types::ServerName;
use rustls::quic::{ClientConnection, Connection, ServerConnection};
use std::sync::Arc;

const ALPN: &[u8] = b"kite-test";

fn crypto_provider(suite: SupportedCipherSuite) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: vec![suite],
        ..provider::default_provider()
    })
}

/// A client and a server connection for `version`, limited to `suite`.
fn connections(version: Version, suite: SupportedCipherSuite) -> (Connection, Connection) {
    let tls_version = tls_version(version).unwrap();
    let client_config = unchecked_client_config(crypto_provider(suite), ALPN);
    let server_config = placeholder_server_config(crypto_provider(suite), ALPN);

    let client = ClientConnection::new(
        Arc::new(client_config),
        tls_version,
        ServerName::try_from("kite.test").unwrap(),
        b"client transport parameters".to_vec(),
    )
    .unwrap();
    let server = ServerConnection::new(
        Arc::new(server_config),
        tls_version,
        b"server transport parameters".to_vec(),
    )
    .unwrap();
    (client.into(), server.into())
}

/// Moves everything `from` has to say to `to`, one encryption level at a
/// time, keeping the 1-RTT keys `from` hands out.
fn flush(from: &mut Connection, to: &mut Connection, one_rtt: &mut Option<OneRttKeys>) {
    loop {
        let mut buf = Vec::new();
        let change = from.write_hs(&mut buf);
        if !buf.is_empty() {
            to.read_hs(&buf).unwrap();
        }
        match change.map(KeyChange::from) {
            Some(KeyChange::OneRtt(keys)) => *one_rtt = Some(*keys),
            Some(KeyChange::Handshake(_)) => {}
            None if buf.is_empty() => return,
            None => {}
        }
    }
}

/// The client's and the server's 1-RTT keys after a complete handshake.
fn handshake(version: Version, suite: SupportedCipherSuite) -> (OneRttKeys, OneRttKeys) {
    let (mut client, mut server) = connections(version, suite);
    let (mut client_keys, mut server_keys) = (None, None);
    for _ in 0..4 {
        flush(&mut client, &mut server, &mut client_keys);
        flush(&mut server, &mut client, &mut server_keys);
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    (client_keys.unwrap(), server_keys.unwrap())
}

/// Whether a packet sealed with `sealer` opens with `opener`.
fn opens(sealer: &PacketKey, opener: &PacketKey, pn: u64) -> bool {
    let mut packet = [&[0x40, 0xaa][..], b"ping", &[0; TAG_LEN]].concat();
    seal_payload(sealer, pn, &mut packet, 2).unwrap();
    open_payload(opener, pn, &mut packet, 2).is_ok()
}

const SUITES: [SupportedCipherSuite; 3] = [
    provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
    provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
    provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
];

/// RFC 9001 §6.1–6.2: after each side derives its next generation, each one
/// opens what the other seals, and no generation opens another's packets;
/// the Key Phase bit alternates.
#[test]
fn key_updates_keep_both_sides_in_step() {
    for version in Version::SUPPORTED {
        for suite in SUITES {
            let (mut client, mut server) = handshake(version, suite);
            for generation in 0..4u64 {
                let phase = generation % 2 == 1;
                assert_eq!((client.key_phase(), server.key_phase()), (phase, phase));
                let (c, s) = (client.current(), server.current());
                assert!(
                    opens(&c.local, &s.remote, generation),
                    "{version:?} {suite:?}"
                );
                assert!(opens(&s.local, &c.remote, generation));
                // A responder tries its precomputed next keys on a flipped phase.
                assert!(opens(&client.next().local, &server.next().remote, 7));
                assert!(!opens(&c.local, &server.next().remote, 7));
                assert!(!opens(&client.next().local, &s.remote, 7));

                let retired_client = client.update();
                let retired_server = server.update();
                assert!(opens(&retired_client.local, &retired_server.remote, 1));
                assert!(!opens(&client.current().local, &retired_server.remote, 1));
            }
        }
    }
}

/// RFC 9001 §6: key updates change packet keys only; header protection keys
/// stay those of the first 1-RTT generation.
#[test]
fn key_update_keeps_header_protection_keys() {
    use crate::crypto::{apply_header_protection, remove_header_protection};

    let (mut client, server) = handshake(Version::V1, SUITES[0]);
    client.update();
    let mut packet = vec![0x41, 0xaa, 0x00, 0x05];
    packet.resize(40, 0x17);
    apply_header_protection(client.local_header(), &mut packet, 2, 2).unwrap();
    assert_eq!(
        remove_header_protection(server.remote_header(), &mut packet, 2),
        Ok((5, 2))
    );
}

/// The 1-RTT and Handshake keys rustls hands over work for their side.
#[test]
fn handshake_key_change_converts_to_matching_keys() {
    let (mut client, mut server) = connections(Version::V2, SUITES[0]);
    let mut buf = Vec::new();
    assert!(client.write_hs(&mut buf).is_none()); // ClientHello, Initial keys
    server.read_hs(&buf).unwrap();
    buf.clear();
    let Some(KeyChange::Handshake(server_keys)) = server.write_hs(&mut buf).map(KeyChange::from)
    else {
        panic!("server should switch to Handshake keys after its ServerHello");
    };
    client.read_hs(&buf).unwrap();
    let Some(KeyChange::Handshake(client_keys)) =
        client.write_hs(&mut Vec::new()).map(KeyChange::from)
    else {
        panic!("client should switch to Handshake keys after the ServerHello");
    };
    assert!(opens(
        &client_keys.local.packet,
        &server_keys.remote.packet,
        0
    ));
    assert!(opens(
        &server_keys.local.packet,
        &client_keys.remote.packet,
        0
    ));
}
