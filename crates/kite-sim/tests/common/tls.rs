//! TLS and transport configs for a client and a server on one self-signed
//! certificate, shared by the allocation test and the transfer benchmark.

use std::sync::Arc;

use kite_proto::{ClientConfig, ServerConfig, TransportConfig};
use kite_testkit::tls::{self as testkit, SelfSigned};

/// ALPN of the bulk transfers.
const ALPN: &[u8] = b"bulk";

/// A server and a client config that trust each other, ALPN `bulk`.
pub fn tls_configs() -> (ServerConfig, ClientConfig) {
    let identity = SelfSigned::localhost();
    let transport = Arc::new(TransportConfig::default());
    (
        ServerConfig {
            tls: Arc::new(testkit::server_config(&identity, ALPN)),
            transport: transport.clone(),
        },
        ClientConfig {
            tls: Arc::new(testkit::client_config_trusting(&identity, ALPN)),
            transport,
            token_store: None,
        },
    )
}
