//! TLS for tests: self-signed certificates (rcgen) in DER and PEM, rustls
//! configurations on the ring provider limited to TLS 1.3 (RFC 9001 §4.2), a
//! verifier that skips the certificate chain but still checks the handshake
//! signature, and, for handshakes that test only the key schedule or the
//! packet flow, a placeholder certificate the client takes unchecked.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The name on [`SelfSigned::localhost`].
pub const LOCALHOST: &str = "localhost";

/// A self-signed certificate, its own CA, and its key (rcgen, ECDSA P-256).
pub struct SelfSigned {
    /// The certificate, DER.
    pub cert: CertificateDer<'static>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    key_der: Vec<u8>,
}

impl SelfSigned {
    /// A fresh certificate for [`LOCALHOST`].
    pub fn localhost() -> SelfSigned {
        SelfSigned::for_names(vec![LOCALHOST.to_string()])
    }

    /// A fresh certificate for every name in `names` (many names make a large
    /// certificate, for tests of handshakes that need several flights).
    pub fn for_names(names: Vec<String>) -> SelfSigned {
        let certified = rcgen::generate_simple_self_signed(names)
            .unwrap_or_else(|e| panic!("generating a certificate: {e}"));
        SelfSigned {
            cert: certified.cert.der().clone(),
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
            key_der: certified.signing_key.serialize_der(),
        }
    }

    /// The private key, DER.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key_der.clone()).into()
    }

    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths. The
    /// certificate is its own CA, so the same file serves as a trust root.
    pub fn write_pem(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        write(&cert, &self.cert_pem);
        write(&key, &self.key_pem);
        (cert, key)
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The ring provider with all its defaults.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// A server configuration presenting `identity` and accepting only `alpn`.
pub fn server_config(identity: &SelfSigned, alpn: &[u8]) -> rustls::ServerConfig {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|e| panic!("TLS versions: {e}"))
        .with_no_client_auth()
        .with_single_cert(vec![identity.cert.clone()], identity.key())
        .unwrap_or_else(|e| panic!("server certificate and key: {e}"));
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

/// A client configuration offering `alpn` that trusts `identity` as its only
/// root, so the server's name is checked too.
pub fn client_config_trusting(identity: &SelfSigned, alpn: &[u8]) -> rustls::ClientConfig {
    let mut roots = RootCertStore::empty();
    roots
        .add(identity.cert.clone())
        .unwrap_or_else(|e| panic!("trusting the certificate: {e}"));
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|e| panic!("TLS versions: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

/// A client configuration offering `alpn` that checks the server with
/// `verifier` (for example a [`SkipChain`]).
pub fn client_config_with_verifier(
    verifier: Arc<dyn ServerCertVerifier>,
    alpn: &[u8],
) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|e| panic!("TLS versions: {e}"))
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

/// Accepts any server certificate, or exactly one pinned certificate,
/// whatever the name; still verifies the handshake signature against the key
/// in the certificate, so the TLS handshake itself is checked in full.
#[derive(Debug)]
pub struct SkipChain {
    pinned: Option<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl SkipChain {
    /// Accepts any certificate.
    pub fn any() -> SkipChain {
        SkipChain {
            pinned: None,
            provider: provider(),
        }
    }

    /// Accepts `cert` and no other.
    pub fn pinned(cert: CertificateDer<'static>) -> SkipChain {
        SkipChain {
            pinned: Some(cert),
            provider: provider(),
        }
    }
}

impl ServerCertVerifier for SkipChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pinned {
            Some(pinned) if pinned.as_ref() != end_entity.as_ref() => Err(
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            ),
            _ => Ok(ServerCertVerified::assertion()),
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The placeholder certificate: an empty DER sequence, two bytes, which
/// keeps the server's handshake flight small.
const PLACEHOLDER_CERT: [u8; 2] = [0x30, 0x00];

/// A server configuration on `provider` accepting only `alpn`, presenting
/// the placeholder certificate with a throwaway Ed25519 key. Only a client of
/// [`unchecked_client_config`] accepts it.
pub fn placeholder_server_config(
    provider: Arc<CryptoProvider>,
    alpn: &[u8],
) -> rustls::ServerConfig {
    let pkcs8 =
        ::ring::signature::Ed25519KeyPair::generate_pkcs8(&::ring::rand::SystemRandom::new())
            .unwrap_or_else(|e| panic!("generating an Ed25519 key: {e}"));
    let key = ring::sign::any_eddsa_type(&PrivatePkcs8KeyDer::from(pkcs8.as_ref()))
        .unwrap_or_else(|e| panic!("loading the Ed25519 key: {e}"));
    let certified = CertifiedKey::new(vec![CertificateDer::from(PLACEHOLDER_CERT.to_vec())], key);
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|e| panic!("TLS versions: {e}"))
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(OneKey(Arc::new(certified))));
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

/// A client configuration on `provider` offering `alpn` that accepts any
/// certificate and any handshake signature (Ed25519 only): for servers of
/// [`placeholder_server_config`], whose certificate holds no key to check.
pub fn unchecked_client_config(provider: Arc<CryptoProvider>, alpn: &[u8]) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|e| panic!("TLS versions: {e}"))
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Unchecked))
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

/// Accepts every certificate and every TLS 1.3 signature.
#[derive(Debug)]
struct Unchecked;

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("QUIC is TLS 1.3 only".into()))
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// Presents one certified key to every client.
#[derive(Debug)]
struct OneKey(Arc<CertifiedKey>);

impl ResolvesServerCert for OneKey {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
