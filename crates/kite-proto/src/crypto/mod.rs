//! Packet protection over `rustls::quic` (RFC 9001 §5, §6; RFC 9369 §3.3).
//!
//! Owns the key types (Initial keys per version, handshake and 1-RTT keys from
//! rustls, key-update generations), in-place sealing/opening and header protection
//! of packet buffers, and the Retry integrity tag. Header parsing and packet number
//! decoding belong to [`crate::packet`]; TLS itself belongs to rustls.
//!
//! Protecting a packet whose header is `buf[..header_len]`, with packet number
//! field at `pn_offset` and `TAG_LEN` bytes of room left at the end:
//! [`seal_payload`] then [`apply_header_protection`]. Opening one:
//! [`remove_header_protection`], decode the full packet number from the truncated
//! one it returns, then [`open_payload`].
//!
//! Crypto provider: rustls' `ring`. Measured on this project's 2-core
//! machine (AES-128-GCM seal + header protect + unprotect + open of 1200 and
//! 1452-byte packets, a loaded machine): ring 1.6–2.2 GB/s, aws-lc-rs
//! 2.0–2.5 GB/s, 0–20 % faster, but its first build took 4 min 42 s against
//! seconds for ring. Both exceed what one connection needs today; the choice
//! is to be measured again with whole-transfer profiles (the performance
//! issue), where a switch is one feature flag.

mod client_hello;
mod keys;
mod protect;
mod retry;
mod token;

#[cfg(test)]
mod tests;

pub use client_hello::{ClientHelloScan, scan_client_hello};
pub use keys::{
    DirectionalKeys, HeaderProtectionKey, KeyChange, Keys, OneRttKeys, PacketKey, PacketKeySet,
};
pub use protect::{apply_header_protection, open_payload, remove_header_protection, seal_payload};
pub use retry::{RETRY_TAG_LEN, retry_integrity_tag, verify_retry_integrity};
pub use token::{
    MAX_TOKEN_LEN, NEW_TOKEN_LIFETIME, RETRY_TOKEN_LIFETIME, TOKEN_KEY_LEN, TokenError, TokenKey,
    TokenKind, ValidatedToken, open_token, seal_new_token, seal_retry_token, token_kind, unix_secs,
};

use crate::version::Version;
use rustls::Tls13CipherSuite;
use rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;

/// Length of the AEAD authentication tag appended to every protected payload:
/// all AEADs usable with QUIC (AES-GCM, ChaCha20-Poly1305) have 16-byte tags.
pub const TAG_LEN: usize = 16;

/// Bytes of ciphertext sampled for header protection (RFC 9001 §5.4.2): 16 for
/// both AES and ChaCha20 header protection.
pub const SAMPLE_LEN: usize = 16;

/// How far past the start of the packet number field the sample begins: the
/// packet number is assumed to be 4 bytes long, its longest encoding
/// (RFC 9001 §5.4.2).
pub const SAMPLE_OFFSET: usize = 4;

/// The cipher suite Initial packets are protected with in every version kite
/// speaks (RFC 9001 §5.2; RFC 9369 §3.3.1 changes only salt and labels).
/// Resolved at compile time, so the `Option`s below cannot fail at run time.
const INITIAL_SUITE: &Tls13CipherSuite = match TLS13_AES_128_GCM_SHA256.tls13() {
    Some(suite) => suite,
    None => panic!("TLS13_AES_128_GCM_SHA256 is a TLS 1.3 suite"),
};

/// The QUIC packet and header protection algorithm of [`INITIAL_SUITE`].
const INITIAL_ALGORITHM: &dyn rustls::quic::Algorithm = match INITIAL_SUITE.quic {
    Some(alg) => alg,
    None => panic!("TLS13_AES_128_GCM_SHA256 supports QUIC"),
};

/// Why protecting or unprotecting a packet failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The packet is too short to hold a header protection sample or an AEAD
    /// tag; RFC 9001 §5.4.2 says to discard it.
    #[error("packet too short to remove protection")]
    PacketTooShort,
    /// The AEAD rejected the packet: corrupted, forged, or protected with other
    /// keys (RFC 9001 §5.3: discard it, and count it against the integrity limit).
    #[error("packet failed authentication")]
    DecryptFailed,
    /// A sealing call got a buffer that cannot be a packet (no room for the tag,
    /// a packet number length that disagrees with the first byte): a caller bug.
    #[error("cannot protect packet: {0}")]
    BadInput(&'static str),
    /// The version has no Initial salt or Retry key kite knows (RFC 9001 §5.2).
    #[error("no keys for QUIC version {0}")]
    UnsupportedVersion(Version),
}

/// The rustls QUIC version for a kite version; `None` for versions kite does
/// not implement (reserved, negotiation or unknown).
pub fn tls_version(version: Version) -> Option<rustls::quic::Version> {
    match version {
        Version::V1 => Some(rustls::quic::Version::V1),
        Version::V2 => Some(rustls::quic::Version::V2),
        _ => None,
    }
}

/// The rustls side for a kite side.
pub(crate) fn tls_side(side: crate::Side) -> rustls::Side {
    match side {
        crate::Side::Client => rustls::Side::Client,
        crate::Side::Server => rustls::Side::Server,
    }
}
