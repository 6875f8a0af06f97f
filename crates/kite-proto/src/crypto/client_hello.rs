//! Reads the server name (SNI, RFC 6066 §3) and ALPN list (RFC 7301 §3.1)
//! out of a TLS 1.3 ClientHello (RFC 8446 §4.1.2) as it arrives in CRYPTO
//! frames, so a server can pick its configuration per client before TLS
//! starts. Everything is bounds-checked: the bytes come from the network.

use crate::coding::{Reader, UnexpectedEnd};

/// Handshake message type of a ClientHello (RFC 8446 §4).
const CLIENT_HELLO: u8 = 1;
/// Extension numbers (RFC 8446 §4.2).
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
/// Name type of a DNS host name in the SNI list.
const HOST_NAME: u8 = 0;

/// What the CRYPTO bytes received so far say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHelloScan {
    /// More bytes are needed.
    Incomplete,
    /// Not a well-formed ClientHello: TLS will reject it.
    Malformed,
    /// The ClientHello is complete.
    Complete {
        /// The SNI host name, if present and valid UTF-8.
        server_name: Option<String>,
        /// The ALPN protocols offered, in order.
        alpn_protocols: Vec<Vec<u8>>,
    },
}

/// Scans the first bytes of the Initial CRYPTO stream.
pub fn scan_client_hello(crypto: &[u8]) -> ClientHelloScan {
    let mut r = Reader::new(crypto);
    let Ok(header) = r.array::<4>() else {
        return ClientHelloScan::Incomplete;
    };
    if header[0] != CLIENT_HELLO {
        return ClientHelloScan::Malformed;
    }
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    let Ok(body) = r.bytes(len) else {
        return ClientHelloScan::Incomplete;
    };
    match parse_body(body) {
        Ok(scan) => scan,
        Err(UnexpectedEnd) => ClientHelloScan::Malformed,
    }
}

fn parse_body(body: &[u8]) -> Result<ClientHelloScan, UnexpectedEnd> {
    let mut r = Reader::new(body);
    r.skip(2 + 32)?; // legacy_version, random
    let session_id = usize::from(r.u8()?);
    r.skip(session_id)?;
    let suites = usize::from(r.u16()?);
    r.skip(suites)?;
    let compression = usize::from(r.u8()?);
    r.skip(compression)?;
    let mut server_name = None;
    let mut alpn_protocols = Vec::new();
    if r.is_empty() {
        return Ok(ClientHelloScan::Complete {
            server_name,
            alpn_protocols,
        });
    }
    let extensions_len = usize::from(r.u16()?);
    let mut extensions = Reader::new(r.bytes(extensions_len)?);
    while !extensions.is_empty() {
        let ty = extensions.u16()?;
        let len = usize::from(extensions.u16()?);
        let mut data = Reader::new(extensions.bytes(len)?);
        match ty {
            EXT_SERVER_NAME => {
                let list_len = usize::from(data.u16()?);
                let mut list = Reader::new(data.bytes(list_len)?);
                while !list.is_empty() {
                    let name_type = list.u8()?;
                    let name_len = usize::from(list.u16()?);
                    let name = list.bytes(name_len)?;
                    if name_type == HOST_NAME && server_name.is_none() {
                        server_name = std::str::from_utf8(name).ok().map(str::to_owned);
                    }
                }
            }
            EXT_ALPN => {
                let list_len = usize::from(data.u16()?);
                let mut list = Reader::new(data.bytes(list_len)?);
                while !list.is_empty() {
                    let proto_len = usize::from(list.u8()?);
                    alpn_protocols.push(list.bytes(proto_len)?.to_vec());
                }
            }
            _ => {}
        }
    }
    Ok(ClientHelloScan::Complete {
        server_name,
        alpn_protocols,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A real ClientHello from rustls with SNI "example.com" and two ALPNs.
    fn rustls_client_hello() -> Vec<u8> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h3".to_vec(), b"quic-echo-example".to_vec()];
        let mut conn = rustls::quic::ClientConnection::new(
            Arc::new(config),
            rustls::quic::Version::V1,
            "example.com".try_into().unwrap(),
            vec![0x01, 0x01, 0x00],
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = conn.write_hs(&mut out);
        out
    }

    #[test]
    fn client_hello_from_rustls_yields_sni_and_alpn() {
        let hello = rustls_client_hello();
        assert_eq!(
            scan_client_hello(&hello),
            ClientHelloScan::Complete {
                server_name: Some("example.com".into()),
                alpn_protocols: vec![b"h3".to_vec(), b"quic-echo-example".to_vec()],
            }
        );
    }

    #[test]
    fn every_prefix_of_a_client_hello_is_incomplete() {
        let hello = rustls_client_hello();
        for cut in 0..hello.len() {
            assert_eq!(
                scan_client_hello(&hello[..cut]),
                ClientHelloScan::Incomplete,
                "{cut}"
            );
        }
    }

    #[test]
    fn other_handshake_messages_are_malformed() {
        assert_eq!(scan_client_hello(&[2, 0, 0, 0]), ClientHelloScan::Malformed);
    }

    proptest::proptest! {
        #[test]
        fn scanning_arbitrary_bytes_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = scan_client_hello(&data);
        }
    }
}
