//! Packet protection keys: one direction's packet and header keys, the local and
//! remote pair of a packet number space, and 1-RTT key generations for key
//! updates (RFC 9001 §5.1–5.2, §6; RFC 9369 §3.3).
//!
//! rustls derives every key; these types wrap its boxed trait objects so the
//! rest of kite names kite types, and add the Initial derivation per version.

use super::{CryptoError, INITIAL_ALGORITHM, INITIAL_SUITE, tls_side, tls_version};
use crate::{Side, Version};
use std::fmt;
use std::mem;

/// Seals or opens packet payloads in one direction (RFC 9001 §5.3).
pub struct PacketKey(pub(super) Box<dyn rustls::quic::PacketKey>);

impl PacketKey {
    /// How many packets may be sealed with this key before it must be updated
    /// (RFC 9001 §6.6: 2^23 for AES-128-GCM in rustls).
    pub fn confidentiality_limit(&self) -> u64 {
        self.0.confidentiality_limit()
    }

    /// How many packets may fail to open under this key, counted across key
    /// updates, before the connection must close with AEAD_LIMIT_REACHED
    /// (RFC 9001 §6.6: 2^52 for AES-128-GCM, 2^36 for ChaCha20-Poly1305).
    pub fn integrity_limit(&self) -> u64 {
        self.0.integrity_limit()
    }

    /// Bytes of authentication tag this key appends ([`super::TAG_LEN`] for
    /// every suite rustls offers for QUIC).
    pub fn tag_len(&self) -> usize {
        self.0.tag_len()
    }
}

impl From<Box<dyn rustls::quic::PacketKey>> for PacketKey {
    fn from(key: Box<dyn rustls::quic::PacketKey>) -> Self {
        PacketKey(key)
    }
}

impl fmt::Debug for PacketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PacketKey(..)")
    }
}

/// Masks or unmasks the first byte and packet number field of packets in one
/// direction (RFC 9001 §5.4). Never changes on key update (RFC 9001 §6).
pub struct HeaderProtectionKey(pub(super) Box<dyn rustls::quic::HeaderProtectionKey>);

impl HeaderProtectionKey {
    /// Bytes of ciphertext this key samples ([`super::SAMPLE_LEN`] for every
    /// suite rustls offers for QUIC).
    pub fn sample_len(&self) -> usize {
        self.0.sample_len()
    }
}

impl From<Box<dyn rustls::quic::HeaderProtectionKey>> for HeaderProtectionKey {
    fn from(key: Box<dyn rustls::quic::HeaderProtectionKey>) -> Self {
        HeaderProtectionKey(key)
    }
}

impl fmt::Debug for HeaderProtectionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeaderProtectionKey(..)")
    }
}

/// The packet key and header protection key for one direction of one packet
/// number space (or of 0-RTT, which only goes from client to server).
#[derive(Debug)]
pub struct DirectionalKeys {
    /// Protects payloads.
    pub packet: PacketKey,
    /// Protects the first byte and packet number.
    pub header: HeaderProtectionKey,
}

impl From<rustls::quic::DirectionalKeys> for DirectionalKeys {
    fn from(keys: rustls::quic::DirectionalKeys) -> Self {
        DirectionalKeys {
            packet: PacketKey(keys.packet),
            header: HeaderProtectionKey(keys.header),
        }
    }
}

/// Both directions' keys for a packet number space.
#[derive(Debug)]
pub struct Keys {
    /// Protects the packets this endpoint sends.
    pub local: DirectionalKeys,
    /// Opens the packets the peer sends.
    pub remote: DirectionalKeys,
}

impl Keys {
    /// Initial keys for `version`, derived from the Destination Connection ID
    /// of the client's first Initial (RFC 9001 §5.2; RFC 9369 §3.3.1–3.3.2 change
    /// the salt and labels). Both sides derive the same two secrets; `side`
    /// picks which one is local.
    pub fn initial(version: Version, client_dcid: &[u8], side: Side) -> Result<Keys, CryptoError> {
        let tls_version = tls_version(version).ok_or(CryptoError::UnsupportedVersion(version))?;
        let keys = rustls::quic::Keys::initial(
            tls_version,
            INITIAL_SUITE,
            INITIAL_ALGORITHM,
            client_dcid,
            tls_side(side),
        );
        Ok(keys.into())
    }
}

impl From<rustls::quic::Keys> for Keys {
    fn from(keys: rustls::quic::Keys) -> Self {
        Keys {
            local: keys.local.into(),
            remote: keys.remote.into(),
        }
    }
}

/// One generation of 1-RTT packet keys, both directions (RFC 9001 §6).
#[derive(Debug)]
pub struct PacketKeySet {
    /// Seals the packets this endpoint sends.
    pub local: PacketKey,
    /// Opens the packets the peer sends.
    pub remote: PacketKey,
}

impl From<rustls::quic::PacketKeySet> for PacketKeySet {
    fn from(keys: rustls::quic::PacketKeySet) -> Self {
        PacketKeySet {
            local: PacketKey(keys.local),
            remote: PacketKey(keys.remote),
        }
    }
}

/// The keys TLS hands over as the handshake advances, in kite types.
#[derive(Debug)]
pub enum KeyChange {
    /// Keys for the Handshake packet number space.
    Handshake(Keys),
    /// Keys for 1-RTT packets, with what key updates need (boxed: it carries
    /// two generations of keys and the secrets for the next).
    OneRtt(Box<OneRttKeys>),
}

impl From<rustls::quic::KeyChange> for KeyChange {
    fn from(change: rustls::quic::KeyChange) -> Self {
        match change {
            rustls::quic::KeyChange::Handshake { keys } => KeyChange::Handshake(keys.into()),
            rustls::quic::KeyChange::OneRtt { keys, next } => {
                KeyChange::OneRtt(Box::new(OneRttKeys::new(keys, next)))
            }
        }
    }
}

/// 1-RTT keys across key updates (RFC 9001 §6): the fixed header protection
/// keys, the current generation of packet keys, and the next one, derived
/// ahead of time so that a packet with a flipped Key Phase bit can be tried
/// without a timing side channel (RFC 9001 §6.3, §9.5).
///
/// Keeping the previous generation for reordered packets, and deciding when to
/// update, is the connection's business: [`OneRttKeys::update`] hands the
/// retired generation back.
pub struct OneRttKeys {
    local_header: HeaderProtectionKey,
    remote_header: HeaderProtectionKey,
    current: PacketKeySet,
    next: PacketKeySet,
    /// Secrets of the generation after `next`.
    secrets: rustls::quic::Secrets,
    key_phase: bool,
}

impl OneRttKeys {
    /// Starts at generation 0 (Key Phase bit 0) with `keys` from TLS; `secrets`
    /// are those rustls returns beside them, already one update ahead.
    pub fn new(keys: rustls::quic::Keys, mut secrets: rustls::quic::Secrets) -> Self {
        let next = secrets.next_packet_keys().into();
        OneRttKeys {
            local_header: HeaderProtectionKey(keys.local.header),
            remote_header: HeaderProtectionKey(keys.remote.header),
            current: PacketKeySet {
                local: PacketKey(keys.local.packet),
                remote: PacketKey(keys.remote.packet),
            },
            next,
            secrets,
            key_phase: false,
        }
    }

    /// The Key Phase bit of packets protected with [`OneRttKeys::current`]:
    /// it flips on every update (RFC 9001 §6.1).
    pub fn key_phase(&self) -> bool {
        self.key_phase
    }

    /// Masks the headers this endpoint sends.
    pub fn local_header(&self) -> &HeaderProtectionKey {
        &self.local_header
    }

    /// Unmasks the headers the peer sends.
    pub fn remote_header(&self) -> &HeaderProtectionKey {
        &self.remote_header
    }

    /// The packet keys in use.
    pub fn current(&self) -> &PacketKeySet {
        &self.current
    }

    /// The packet keys of the next generation, for packets whose Key Phase bit
    /// differs from [`OneRttKeys::key_phase`] and arrive after the current
    /// generation's packets (RFC 9001 §6.2–6.3).
    pub fn next(&self) -> &PacketKeySet {
        &self.next
    }

    /// Moves to the next generation, whether this endpoint initiates the update
    /// or answers the peer's (RFC 9001 §6.1–6.2: both directions change
    /// together), derives the one after it, and returns the retired generation,
    /// whose remote key may still be needed for reordered packets (RFC 9001 §6.5).
    pub fn update(&mut self) -> PacketKeySet {
        let after_next = self.secrets.next_packet_keys().into();
        let next = mem::replace(&mut self.next, after_next);
        self.key_phase = !self.key_phase;
        mem::replace(&mut self.current, next)
    }
}

impl fmt::Debug for OneRttKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneRttKeys")
            .field("key_phase", &self.key_phase)
            .finish_non_exhaustive()
    }
}
