//! Tests of packet protection: the RFC 9001 and RFC 9369 Appendix A vectors
//! byte for byte, damaged and truncated packets, and key updates across a real
//! rustls handshake.

mod data;
mod key_update;
mod protect;
mod vectors;

use ring::hkdf;

/// Bytes from the RFCs' hex, which is split by spaces and line breaks.
fn hex(s: &str) -> Vec<u8> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(digits).unwrap()
}

/// The HkdfLabel structure (RFC 8446 §7.1) with an empty context, as the
/// RFCs' Appendix A print it.
fn hkdf_label(label: &str, len: usize) -> Vec<u8> {
    let mut info = Vec::new();
    info.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    info.push(u8::try_from(b"tls13 ".len() + label.len()).unwrap());
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    info
}

/// HKDF-Expand-Label(secret, label, "", len) with SHA-256, computed with ring
/// independently of rustls.
fn hkdf_expand_label(secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret);
    let info = hkdf_label(label, len);
    let mut out = vec![0; len];
    prk.expand(&[&info], Len(len))
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

/// HKDF-Extract(salt, ikm) with SHA-256: HMAC keyed by the salt (RFC 5869 §2.2).
fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt);
    ring::hmac::sign(&key, ikm).as_ref().to_vec()
}
