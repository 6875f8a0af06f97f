//! TLS for the `kite` commands: rustls configurations (ring provider, TLS 1.3
//! only as RFC 9001 §4.2 requires), a self-signed `localhost` certificate when
//! no files are given, PEM loading, the `--insecure` verifier, and
//! `SSLKEYLOGFILE` (rustls `KeyLogFile`) so captures can be decrypted.

use crate::tickets::TicketWatch;
use kite::{ClientConfig, ServerConfig, TransportConfig};
use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, KeyLogFile, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// Name on the self-signed certificate, and the clients' default server name.
pub const SELF_SIGNED_NAME: &str = "localhost";

/// ALPN of quic-go's echo example, which kite's echo peers speak.
pub const DEFAULT_ALPN: &str = "quic-echo-example";

/// A server's certificate chain and private key.
pub struct Identity {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// A fresh self-signed certificate for [`SELF_SIGNED_NAME`] (rcgen, ECDSA P-256).
    pub fn self_signed() -> Result<Identity, String> {
        let certified = rcgen::generate_simple_self_signed(vec![SELF_SIGNED_NAME.to_string()])
            .map_err(|e| format!("making a self-signed certificate: {e}"))?;
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        Ok(Identity {
            chain: vec![certified.cert.der().clone()],
            key: key.into(),
        })
    }

    /// The identity in PEM files `cert` (the chain) and `key`, or a
    /// self-signed one when neither is given.
    pub fn load(cert: Option<&Path>, key: Option<&Path>) -> Result<Identity, String> {
        match (cert, key) {
            (None, None) => Identity::self_signed(),
            (Some(cert), Some(key)) => Ok(Identity {
                chain: load_certs(cert)?,
                key: PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("reading a private key from {}: {e}", key.display()))?,
            }),
            _ => Err("--cert and --key go together".to_string()),
        }
    }
}

/// Which server certificates a client accepts.
pub enum Trust {
    /// Any certificate (`--insecure`); the handshake signature is still checked.
    AnyCertificate,
    /// Certificates that chain to one of these roots and name the server.
    Roots(Vec<CertificateDer<'static>>),
}

impl Trust {
    /// Trusts the certificates of the PEM file at `path` as roots.
    pub fn from_pem_file(path: &Path) -> Result<Trust, String> {
        Ok(Trust::Roots(load_certs(path)?))
    }
}

/// A server configuration presenting `identity` and accepting only `alpn`.
/// When `transport` allows 0-RTT, its session tickets offer early data too.
pub fn server_config(
    identity: Identity,
    alpn: &str,
    transport: Arc<TransportConfig>,
) -> Result<ServerConfig, String> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| format!("server certificate and key: {e}"))?;
    tls.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    tls.key_log = Arc::new(KeyLogFile::new());
    if transport.allow_0rtt {
        // RFC 9001 §4.6.1: a QUIC ticket allows early data with exactly
        // 0xffffffff; the amount is bounded by flow control instead.
        tls.max_early_data_size = u32::MAX;
    }
    Ok(ServerConfig {
        tls: Arc::new(tls),
        transport,
    })
}

/// A client configuration offering `alpn` and checking the server by `trust`.
/// With `tickets`, it keeps session tickets there and sends early data when
/// it resumes a session whose ticket allows it.
pub fn client_config(
    trust: Trust,
    alpn: &str,
    transport: Arc<TransportConfig>,
    tickets: Option<Arc<TicketWatch>>,
) -> Result<ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("TLS versions: {e}"))?;
    let mut tls = match trust {
        Trust::AnyCertificate => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth(),
        Trust::Roots(certs) => {
            let mut roots = RootCertStore::empty();
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("trusting a certificate: {e}"))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    tls.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    tls.key_log = Arc::new(KeyLogFile::new());
    if let Some(tickets) = tickets {
        tls.resumption = Resumption::store(tickets);
        tls.enable_early_data = true;
    }
    Ok(ClientConfig {
        tls: Arc::new(tls),
        transport,
        token_store: Some(Arc::new(kite_proto::config::TokenMemoryCache::default())),
    })
}

/// `config` with session resumption off and no address-validation tokens
/// kept, so every connection made with it runs a full handshake (what
/// `kite perf client --handshakes` measures).
pub fn without_resumption(mut config: ClientConfig) -> ClientConfig {
    let mut tls = (*config.tls).clone();
    tls.resumption = Resumption::disabled();
    config.tls = Arc::new(tls);
    config.token_store = None;
    config
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in the PEM file at `path`; at least one.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

/// Accepts any server certificate but still verifies the handshake signature
/// against the key in it: `--insecure` skips the chain, not the TLS handshake.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_without_key_is_refused() {
        let err = Identity::load(Some(Path::new("cert.pem")), None).err();
        assert_eq!(err.as_deref(), Some("--cert and --key go together"));
    }

    #[test]
    fn self_signed_identity_makes_both_configs() {
        let identity = Identity::self_signed().unwrap_or_else(|e| panic!("{e}"));
        let roots = Trust::Roots(identity.chain.clone());
        let transport = Arc::new(TransportConfig::default());
        assert!(server_config(identity, DEFAULT_ALPN, transport.clone()).is_ok());
        assert!(client_config(roots, DEFAULT_ALPN, transport, None).is_ok());
    }

    #[test]
    fn zero_rtt_servers_and_resuming_clients_allow_early_data() {
        let allow = Arc::new(TransportConfig {
            allow_0rtt: true,
            ..TransportConfig::default()
        });
        let identity = Identity::self_signed().unwrap_or_else(|e| panic!("{e}"));
        let server = server_config(identity, DEFAULT_ALPN, allow.clone());
        assert_eq!(
            server.map(|c| c.tls.max_early_data_size).ok(),
            Some(u32::MAX)
        );
        let identity = Identity::self_signed().unwrap_or_else(|e| panic!("{e}"));
        let server = server_config(identity, DEFAULT_ALPN, Arc::new(TransportConfig::default()));
        assert_eq!(server.map(|c| c.tls.max_early_data_size).ok(), Some(0));

        let tickets = Some(Arc::new(TicketWatch::new()));
        let client = client_config(Trust::AnyCertificate, DEFAULT_ALPN, allow.clone(), tickets);
        assert_eq!(client.map(|c| c.tls.enable_early_data).ok(), Some(true));
        let client = client_config(Trust::AnyCertificate, DEFAULT_ALPN, allow, None);
        assert_eq!(client.map(|c| c.tls.enable_early_data).ok(), Some(false));
    }

    #[test]
    fn missing_pem_file_names_the_path() {
        let err = Trust::from_pem_file(Path::new("/nonexistent/ca.pem")).err();
        assert!(err.is_some_and(|e| e.contains("/nonexistent/ca.pem")));
    }
}
