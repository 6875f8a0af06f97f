//! rustls configurations for both roles: a self-signed `localhost` certificate when
//! none is given, PEM loading, an opt-in verifier that skips certificate checks, and
//! `SSLKEYLOGFILE` support so captures of interop runs can be decrypted.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::tickets::TicketWatch;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::rustls::{
    self,
    crypto::{CryptoProvider, ring},
    pki_types::pem::PemObject,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// Name on the generated certificate: what the clients send as SNI by default.
const SELF_SIGNED_NAME: &str = "localhost";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Builds the server's QUIC crypto config from PEM files, or a fresh self-signed
/// certificate when both are `None`; with `zero_rtt` its session tickets allow
/// early data.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    alpn: &str,
    zero_rtt: bool,
) -> Result<QuicServerConfig> {
    let (chain, key) = match (cert, key) {
        (Some(cert), Some(key)) => (load_certs(cert)?, load_key(key)?),
        (None, None) => self_signed()?,
        _ => anyhow::bail!("--cert and --key go together"),
    };
    // QUIC is TLS 1.3 only (RFC 9001 §4.2).
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("server certificate and key")?;
    config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    if zero_rtt {
        // RFC 9001 §4.6.1: QUIC allows only 0 or 0xffffffff here.
        config.max_early_data_size = u32::MAX;
    }
    Ok(QuicServerConfig::try_from(config)?)
}

/// Builds the client's QUIC crypto config: trusting the PEM roots in `ca`, or
/// nothing at all when `insecure`. With `tickets`, session tickets are kept
/// there and a resumed session sends early data when its ticket allows it.
pub fn client_config(
    ca: Option<&Path>,
    insecure: bool,
    alpn: &str,
    tickets: Option<Arc<TicketWatch>>,
) -> Result<QuicClientConfig> {
    Ok(QuicClientConfig::try_from(rustls_client_config(
        ca, insecure, alpn, tickets,
    )?)?)
}

/// The rustls configuration [`client_config`] wraps, for callers that
/// change it first (the perf client turns resumption off).
pub fn rustls_client_config(
    ca: Option<&Path>,
    insecure: bool,
    alpn: &str,
    tickets: Option<Arc<TicketWatch>>,
) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let mut config = if insecure {
        builder
            .dangerous()
            // Skips the chain, still checks the handshake signature: the
            // verifier kite's own test clients use.
            .with_custom_certificate_verifier(Arc::new(kite_testkit::tls::SkipChain::any()))
            .with_no_client_auth()
    } else {
        let ca = ca.context("no trust anchors: give --ca FILE, or --insecure")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in load_certs(ca)? {
            roots.add(cert).context("adding a --ca certificate")?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    if let Some(tickets) = tickets {
        config.resumption = rustls::client::Resumption::store(tickets);
        config.enable_early_data = true;
    }
    Ok(config)
}

fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certified = rcgen::generate_simple_self_signed(vec![SELF_SIGNED_NAME.to_string()])?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificates from {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", path.display());
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("reading private key from {}", path.display()))
}
