//! The Retry Integrity Tag (RFC 9001 §5.8; RFC 9369 §3.3.3): AES-128-GCM with
//! a fixed key and nonce per version over an empty plaintext, authenticating
//! the Retry pseudo-packet. Building the pseudo-packet (ODCID length, ODCID,
//! Retry packet without its tag) is the packet module's job.
//!
//! rustls' `quic::Algorithm::packet_key` cannot take a 16-byte key through its
//! public API (`AeadKey` is only built from 32 bytes), so this uses `ring`.

use super::CryptoError;
use crate::Version;
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// Length of the Retry Integrity Tag at the end of every Retry packet
/// (RFC 9000 §17.2.5).
pub const RETRY_TAG_LEN: usize = 16;

/// A version's fixed Retry key and nonce, both derived from a published secret
/// with the version's "key" and "iv" labels.
struct RetrySecret {
    key: [u8; 16],
    nonce: [u8; 12],
}

/// RFC 9001 §5.8.
const RETRY_V1: RetrySecret = RetrySecret {
    key: [
        0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8,
        0x4e,
    ],
    nonce: [
        0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
    ],
};

/// RFC 9369 §3.3.3.
const RETRY_V2: RetrySecret = RetrySecret {
    key: [
        0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc,
        0x92,
    ],
    nonce: [
        0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
    ],
};

/// The key and nonce for `version`'s Retry tags.
fn retry_key(version: Version) -> Result<(LessSafeKey, Nonce), CryptoError> {
    let secret = match version {
        Version::V1 => &RETRY_V1,
        Version::V2 => &RETRY_V2,
        _ => return Err(CryptoError::UnsupportedVersion(version)),
    };
    // A 16-byte key always suits AES-128-GCM; the error arm is unreachable.
    let key = UnboundKey::new(&AES_128_GCM, &secret.key)
        .map_err(|_| CryptoError::BadInput("Retry key length"))?;
    Ok((
        LessSafeKey::new(key),
        Nonce::assume_unique_for_key(secret.nonce),
    ))
}

/// The Retry Integrity Tag for `pseudo_packet` (RFC 9001 §5.8): ODCID length,
/// ODCID, then the Retry packet up to where the tag goes.
pub fn retry_integrity_tag(
    version: Version,
    pseudo_packet: &[u8],
) -> Result<[u8; RETRY_TAG_LEN], CryptoError> {
    let (key, nonce) = retry_key(version)?;
    // The nonce is fixed by the spec: each tag authenticates a different
    // pseudo-packet with an empty plaintext, so reuse reveals nothing secret.
    let tag = key
        .seal_in_place_separate_tag(nonce, Aad::from(pseudo_packet), &mut [])
        .map_err(|_| CryptoError::BadInput("Retry pseudo-packet too long"))?;
    <[u8; RETRY_TAG_LEN]>::try_from(tag.as_ref())
        .map_err(|_| CryptoError::BadInput("AES-128-GCM tag length"))
}

/// Whether `tag` is the Retry Integrity Tag of `pseudo_packet` for `version`;
/// false for versions without a Retry key. The comparison is the AEAD's
/// constant-time one. A client discards a Retry that fails (RFC 9001 §5.8).
pub fn verify_retry_integrity(version: Version, pseudo_packet: &[u8], tag: &[u8]) -> bool {
    let Ok((key, nonce)) = retry_key(version) else {
        return false;
    };
    let Ok(mut tag) = <[u8; RETRY_TAG_LEN]>::try_from(tag) else {
        return false;
    };
    key.open_in_place(nonce, Aad::from(pseudo_packet), &mut tag)
        .is_ok()
}
