//! The bodies of kite's cargo-fuzz targets, as plain functions: each
//! `fuzz/fuzz_targets/*.rs` wraps one in `fuzz_target!`, and
//! `tests/sim/fuzz_replay.rs` replays the committed corpora through them on
//! stable. Parsers take raw bytes; [`endpoint`] and [`connection_frames`] read
//! their input as [`Records`] and check RFC 9000 §8 and §10.3 invariants.

// A fuzz harness: a broken invariant panics, which is how the fuzzer sees it.
#![allow(clippy::expect_used)]

pub mod connection;
pub mod endpoint;

pub use connection::connection_frames;
pub use endpoint::endpoint;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kite_proto::connection::ConnectionError;
use kite_proto::frame::Frames;
use kite_proto::packet::{
    InvariantHeader, PacketType, ParsedHeader, Retry, VersionNegotiation, split_datagram,
};
use kite_proto::transport_params::TransportParameters;
use kite_proto::{
    ClientConfig, Connection, ServerConfig, Side, TransportConfig, TransportErrorCode,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Local connection ID lengths to parse short headers with: none, and kite's usual 8.
const LOCAL_CID_LENS: [usize; 2] = [0, 8];

/// Every packet type, to decode frame payloads as each would carry them.
const PACKET_TYPES: [PacketType; 6] = [
    PacketType::Initial,
    PacketType::ZeroRtt,
    PacketType::Handshake,
    PacketType::Retry,
    PacketType::OneRtt,
    PacketType::VersionNegotiation,
];

/// Every packet header parser on an arbitrary datagram: none may panic, and
/// whatever splits must tile the datagram from its first byte.
pub fn packet_header(data: &[u8]) {
    for cid_len in LOCAL_CID_LENS {
        let _ = InvariantHeader::parse(data, cid_len);
        if let Ok(parsed) = ParsedHeader::parse(data, cid_len) {
            assert!(parsed.len <= data.len());
        }
        let mut end = 0;
        for packet in split_datagram(data, cid_len) {
            let Ok(packet) = packet else { break };
            assert_eq!(packet.range.start, end);
            assert!(packet.range.end <= data.len());
            end = packet.range.end;
        }
    }
    let _ = VersionNegotiation::parse(data).map(|vn| vn.versions().count());
    let _ = Retry::parse(data);
}

/// Frame decoding of arbitrary bytes as the payload of every packet type:
/// no panic, and each frame that decodes re-encodes to exactly
/// `encoded_len` bytes that decode to an equal frame.
pub fn frame(data: &[u8]) {
    for packet_type in PACKET_TYPES {
        for frame in Frames::new(data.to_vec().into(), packet_type) {
            let Ok(frame) = frame else { break };
            let mut out = Vec::with_capacity(frame.encoded_len());
            frame.encode(&mut out);
            assert_eq!(out.len(), frame.encoded_len(), "{frame:?}");
            let mut again = Frames::new(out.into(), packet_type);
            assert_eq!(again.next(), Some(Ok(frame)));
            assert_eq!(again.next(), None);
        }
    }
}

/// Transport parameter decoding (RFC 9000 §18) as sent by either side: no
/// panic, and whatever decodes re-encodes to bytes that decode to the same set.
pub fn transport_params(data: &[u8]) {
    for side in [Side::Client, Side::Server] {
        let Ok(params) = TransportParameters::decode(data, side) else {
            continue;
        };
        let mut encoded = Vec::with_capacity(params.encoded_len());
        params.encode(&mut encoded);
        assert_eq!(encoded.len(), params.encoded_len());
        let again = TransportParameters::decode(&encoded, side);
        assert_eq!(again.as_ref(), Ok(&params));
    }
}

/// Fuzz input cut into records: a control byte, a 2-byte big-endian length,
/// then that many bytes (fewer when the input ends first). What the control
/// byte means is up to the target.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    /// The records of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Records { rest: data }
    }

    /// Appends one record to `out`; a body past 65535 bytes is cut there.
    pub fn encode(out: &mut Vec<u8>, control: u8, body: &[u8]) {
        let len = body.len().min(usize::from(u16::MAX));
        out.push(control);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&body[..len]);
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&control, rest) = self.rest.split_first()?;
        let (len, rest) = match rest {
            [high, low, rest @ ..] => (usize::from(u16::from_be_bytes([*high, *low])), rest),
            // A length cut short: the record is empty.
            _ => (0, &[][..]),
        };
        let (body, rest) = rest.split_at(len.min(rest.len()));
        self.rest = rest;
        Some((control, body))
    }
}

/// How long a record lets the virtual clock run before it is applied, by the
/// record's 3 wait bits: spread from nothing to past the handshake timeout
/// (5 s), so that every timer can fire.
const WAITS: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
];

/// The wait named by the 3 bits of `control` starting at `shift`.
fn wait(control: u8, shift: u32) -> Duration {
    WAITS[usize::from((control >> shift) & 0b111)]
}

/// ALPN of the fuzz configs.
const ALPN: &[u8] = b"kite-fuzz";

/// DATAGRAM frames allowed both ways, so that their handling is reachable.
const MAX_DATAGRAM_FRAME_SIZE: u64 = 1200;

/// A self-signed ECDSA P-256 certificate for `localhost`, valid 1975–4096
/// (made once with rcgen): a constant keeps rcgen out of kite-sim's
/// dependencies and every run's handshake the same.
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBXjCCAQSgAwIBAgIUB2UZKqfRGpbkevBuLhuw0kR4VJQwCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWcmNnZW4gc2VsZiBzaWduZWQgY2VydDAgFw03NTAxMDEwMDAw
MDBaGA80MDk2MDEwMTAwMDAwMFowITEfMB0GA1UEAwwWcmNnZW4gc2VsZiBzaWdu
ZWQgY2VydDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCA2wmLkRxk1ud6WEj0b
ft8lyA3QnjUrYfZdSXqtfQbB+Yx4LqVdzh3DhiDybDtq6Q0R9WsR6HiNP2J7I9ML
Ye+jGDAWMBQGA1UdEQQNMAuCCWxvY2FsaG9zdDAKBggqhkjOPQQDAgNIADBFAiEA
7FzGKrUTZn/j8tg29fyG4Q6YVgrCarV8p/+AGdcPLBgCIDmNg9N8JTyfOLHfQaLE
WkYuumEOEFthi6Dpf7uuhfxX
-----END CERTIFICATE-----
";

/// The certificate's private key (PKCS#8).
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPd0gs+kYt4NGy0gA
qoagvBMAjNwr+mD69uA8bk4nz++hRANCAAQgNsJi5EcZNbnelhI9G37fJcgN0J41
K2H2XUl6rX0GwfmMeC6lXc4dw4Yg8mw7aukNEfVrEeh4jT9ieyPTC2Hv
-----END PRIVATE KEY-----
";

/// The server and client configs every target run shares.
pub struct Configs {
    /// Accepts 0-RTT and DATAGRAM frames, so that more code is reachable.
    pub server: ServerConfig,
    /// Trusts the server's certificate; no session resumption and no token
    /// store, so no state carries from one run to the next.
    pub client: ClientConfig,
}

/// The configs, built on first use (TLS setup is slower than a fuzz run).
pub fn configs() -> &'static Configs {
    static CONFIGS: OnceLock<Configs> = OnceLock::new();
    CONFIGS.get_or_init(make_configs)
}

fn make_configs() -> Configs {
    let cert = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).expect("constant certificate");
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).expect("constant key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("ring supports TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("the key matches the certificate");
    server.alpn_protocols = vec![ALPN.to_vec()];
    // rustls over QUIC takes 0 or u32::MAX here; the latter enables 0-RTT.
    server.max_early_data_size = u32::MAX;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("a valid certificate");
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("ring supports TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![ALPN.to_vec()];
    client.resumption = rustls::client::Resumption::disabled();
    let transport = Arc::new(TransportConfig {
        allow_0rtt: true,
        max_datagram_frame_size: Some(MAX_DATAGRAM_FRAME_SIZE),
        ..TransportConfig::default()
    });
    Configs {
        server: ServerConfig {
            tls: Arc::new(server),
            transport: transport.clone(),
        },
        client: ClientConfig {
            tls: Arc::new(client),
            transport,
            token_store: None,
        },
    }
}

/// Panics if `conn` closed itself with INTERNAL_ERROR: whatever a peer
/// sends deserves a precise code, so an internal error means a kite bug.
fn assert_no_internal_error(conn: &Connection) {
    if let Some(ConnectionError::LocalTransportError(err)) = conn.error() {
        assert_ne!(
            err.code,
            TransportErrorCode::INTERNAL_ERROR,
            "closed with an internal error: {err}"
        );
    }
}
