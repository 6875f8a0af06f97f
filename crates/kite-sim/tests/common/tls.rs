//! TLS and transport configs for a client and a server on one self-signed
//! certificate, shared by the allocation test and the transfer benchmark.

use std::sync::Arc;

use kite_proto::{ClientConfig, ServerConfig, TransportConfig};

/// A server and a client config that trust each other, ALPN `bulk`.
pub fn tls_configs() -> (ServerConfig, ClientConfig) {
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
    server.alpn_protocols = vec![b"bulk".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"bulk".to_vec()];
    let transport = Arc::new(TransportConfig::default());
    (
        ServerConfig {
            tls: Arc::new(server),
            transport: transport.clone(),
        },
        ClientConfig {
            tls: Arc::new(client),
            transport,
            token_store: None,
        },
    )
}
