//! Connection IDs (RFC 9000 §5.1), the pluggable [`ConnectionIdGenerator`] that
//! issues them, and stateless resets (RFC 9000 §10.3): tokens derived from a
//! static [`ResetKey`], building a reset packet, and spotting a candidate token
//! in a received datagram. Routing and the decision to send a reset are the
//! endpoint's.

use ring::rand::SecureRandom;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// Length of a stateless reset token (RFC 9000 §10.3).
pub const RESET_TOKEN_LEN: usize = 16;

/// A connection ID of at most [`MAX_CID_LEN`] bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

/// A connection ID longer than QUIC v1/v2 allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection ID of {0} bytes exceeds 20")]
pub struct CidTooLong(pub usize);

impl ConnectionId {
    /// The zero-length connection ID.
    pub const EMPTY: ConnectionId = ConnectionId {
        len: 0,
        bytes: [0; MAX_CID_LEN],
    };

    /// Copies `bytes` into a connection ID, failing past 20 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, CidTooLong> {
        if bytes.len() > MAX_CID_LEN {
            return Err(CidTooLong(bytes.len()));
        }
        let mut cid = ConnectionId::EMPTY;
        cid.len = bytes.len() as u8;
        cid.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(cid)
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len.into()
    }

    /// Whether this is the zero-length connection ID.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ID's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }
}

impl std::ops::Deref for ConnectionId {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A stateless reset token (RFC 9000 §10.3). Comparisons run in constant time
/// so that a received token cannot be guessed byte by byte.
#[derive(Clone, Copy)]
pub struct ResetToken(pub [u8; RESET_TOKEN_LEN]);

impl PartialEq for ResetToken {
    fn eq(&self, other: &Self) -> bool {
        // RFC 9000 §10.3.1: compare without early exit.
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }
}

impl Eq for ResetToken {}

impl std::hash::Hash for ResetToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The system random number generator failed. Key constructors return it
/// rather than fall back to a guessable key; see [`ResetKey::random`] and
/// [`crate::crypto::TokenKey::random`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("system random number generator failed")]
pub struct RngFailed;

/// Length of the connection IDs kite issues unless told otherwise: 8 bytes
/// give 64 random bits, so IDs of one endpoint practically never collide and
/// cannot be guessed, and 8 is the shortest ID a client may put in its first
/// Initial (RFC 9000 §7.2). quic-go and quinn default to the same length.
pub const DEFAULT_CID_LEN: usize = 8;

/// Issues the connection IDs an endpoint asks its peers to send to it.
///
/// The endpoint routes short-header packets by their Destination Connection ID,
/// whose length the header does not carry, so every ID one generator issues has
/// the same length, [`cid_len`](Self::cid_len) (RFC 9000 §5.1, §17.3).
///
/// A UDP load balancer in front of several servers can route by connection ID
/// when a generator encodes a server id into it (QUIC-LB style). Whatever the
/// encoding, RFC 9000 §5.1 requires that IDs issued on one connection cannot be
/// linked to each other by an observer, and RFC 9000 §10.3 that an ID never
/// repeats among instances sharing a reset key: encrypt the encoded part, and
/// fill the rest with randomness. [`RandomConnectionIdGenerator`], the default,
/// meets both by being random throughout.
pub trait ConnectionIdGenerator: Send + Sync {
    /// A fresh connection ID of [`cid_len`](Self::cid_len) bytes. Must not
    /// panic; a generator whose randomness fails should still return an ID.
    fn generate(&self) -> ConnectionId;

    /// The length of every ID this generator issues, at most [`MAX_CID_LEN`].
    /// Short headers are parsed with it.
    fn cid_len(&self) -> usize;

    /// Whether `cid` may be one this generator issued. The endpoint asks
    /// before answering an unroutable short-header packet with a stateless
    /// reset, so a generator with structure (a checksum, a server id) can
    /// refuse to reset connections that belong to other servers. The default
    /// accepts every ID.
    fn validate(&self, cid: &[u8]) -> bool {
        let _ = cid;
        true
    }
}

/// The default generator: IDs of a fixed length, every byte from the system
/// random number generator.
///
/// Random IDs are unlinkable (RFC 9000 §5.1) and unguessable, which also keeps
/// off-path attackers from aiming packets at a known connection; the price is
/// that a load balancer cannot route by them. Should the system RNG ever fail,
/// IDs come from a process-wide counter hashed with SHA-256: still distinct
/// from one another, but predictable, so that path exists only to keep the
/// endpoint running instead of panicking.
#[derive(Debug, Clone)]
pub struct RandomConnectionIdGenerator {
    len: usize,
}

/// Counter feeding [`fallback_fill`]; process-wide so that two generators never
/// produce the same sequence.
static FALLBACK_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Domain separation for the fallback IDs' hash input.
const FALLBACK_LABEL: &[u8] = b"kite cid fallback";

impl RandomConnectionIdGenerator {
    /// A generator of `len`-byte IDs. Zero-length IDs are allowed (a client
    /// that does not multiplex connections on its socket may use them) but a
    /// server cannot route or reset by them; past [`MAX_CID_LEN`] fails.
    pub fn new(len: usize) -> Result<Self, CidTooLong> {
        if len > MAX_CID_LEN {
            return Err(CidTooLong(len));
        }
        Ok(RandomConnectionIdGenerator { len })
    }
}

impl Default for RandomConnectionIdGenerator {
    /// IDs of [`DEFAULT_CID_LEN`] bytes.
    fn default() -> Self {
        RandomConnectionIdGenerator {
            len: DEFAULT_CID_LEN,
        }
    }
}

impl ConnectionIdGenerator for RandomConnectionIdGenerator {
    fn generate(&self) -> ConnectionId {
        let mut cid = ConnectionId::EMPTY;
        // `new` capped `len` at MAX_CID_LEN, so it fits the inline array.
        let len = self.len.min(MAX_CID_LEN);
        cid.len = len as u8;
        let out = &mut cid.bytes[..len];
        if ring::rand::SystemRandom::new().fill(out).is_err() {
            fallback_fill(out);
        }
        cid
    }

    fn cid_len(&self) -> usize {
        self.len
    }
}

/// Fills `out` (at most 32 bytes are distinct) from SHA-256 of the next
/// counter value: unique per call within the process, though predictable.
fn fallback_fill(out: &mut [u8]) {
    let n = FALLBACK_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(FALLBACK_LABEL);
    ctx.update(&n.to_be_bytes());
    let digest = ctx.finish();
    for (o, d) in out.iter_mut().zip(digest.as_ref()) {
        *o = *d;
    }
}

/// Length of a [`ResetKey`] drawn at random: the output length of SHA-256,
/// the HMAC key size RFC 2104 recommends.
pub const RESET_KEY_LEN: usize = 32;

/// The static key stateless reset tokens are derived from (RFC 9000 §10.3.2):
/// the token for a connection ID is HMAC-SHA256(key, ID) cut to 16 bytes.
///
/// An endpoint that lost a connection's state can then still compute that
/// connection's token from the ID in a packet and reset it. Servers sharing a
/// port (or sitting behind one load balancer) should share the key, and must
/// then never issue the same ID twice (RFC 9000 §10.3.2). Keep the key secret:
/// anyone who holds it can reset every connection.
#[derive(Clone)]
pub struct ResetKey {
    key: ring::hmac::Key,
}

impl ResetKey {
    /// A fresh random key of [`RESET_KEY_LEN`] bytes. Tokens from it die with
    /// the process, so a restarted server cannot reset its old connections;
    /// use [`from_bytes`](Self::from_bytes) with a stored key when it must.
    pub fn random() -> Result<Self, RngFailed> {
        let mut secret = [0u8; RESET_KEY_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| RngFailed)?;
        Ok(Self::from_bytes(&secret))
    }

    /// A key from secret bytes of any length (32 random bytes are right).
    pub fn from_bytes(secret: &[u8]) -> Self {
        ResetKey {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        }
    }

    /// The stateless reset token for `cid` (RFC 9000 §10.3.2): the first 16
    /// bytes of HMAC-SHA256(key, cid).
    pub fn token(&self, cid: &ConnectionId) -> ResetToken {
        let tag = ring::hmac::sign(&self.key, cid.as_bytes());
        let mut token = [0u8; RESET_TOKEN_LEN];
        // A SHA-256 tag has 32 bytes; zip stops after the token's 16.
        for (t, b) in token.iter_mut().zip(tag.as_ref()) {
            *t = *b;
        }
        ResetToken(token)
    }
}

impl fmt::Debug for ResetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetKey(..)")
    }
}

/// The shortest stateless reset (RFC 9000 §10.3): 5 bytes that look like a
/// short header (first byte plus at least 38 unpredictable bits) and the
/// 16-byte token. Datagrams shorter than this are never a reset, and kite
/// answers no trigger with a reset shorter than this.
pub const MIN_STATELESS_RESET_LEN: usize = 5 + RESET_TOKEN_LEN;

/// Triggers up to this many bytes are answered one byte shorter (RFC 9000
/// §10.3 recommends it for triggers of 43 bytes or less): as long as possible,
/// so that the reset is hard to tell from a short-header packet, yet smaller.
const RESET_ONE_SHORTER_UP_TO: usize = 43;

/// The longest stateless reset kite sends. Past about 41 bytes a reset already
/// looks like an ordinary short-header packet (RFC 9000 §10.3.3), so more bytes
/// only cost bandwidth and would let spoofed triggers draw larger answers.
pub const MAX_STATELESS_RESET_LEN: usize = 64;

/// First-byte bits of a short header (RFC 9000 §17.3): the header form bit
/// (0x80) clear, the fixed bit (0x40) set.
const SHORT_HEADER_FORM_MASK: u8 = 0x80;
const FIXED_BIT: u8 = 0x40;

/// Builds a stateless reset (RFC 9000 §10.3) carrying `token`, in answer to a
/// datagram of `trigger_len` bytes.
///
/// The packet looks like a short-header packet: the first byte has the header
/// form bit clear and the fixed bit set, its other six bits and every byte up
/// to the token are random, and the token fills the last 16 bytes.
///
/// RFC 9000 §10.3.3: a reset must be smaller than its trigger, so that two
/// endpoints cannot bounce resets at each other forever. It is one byte
/// shorter for triggers up to 43 bytes, otherwise of random length between 43
/// and [`MAX_STATELESS_RESET_LEN`] (and below the trigger). `None` when the
/// trigger is too short for a smaller reset of at least
/// [`MIN_STATELESS_RESET_LEN`] bytes, or when the system RNG fails.
pub fn build_stateless_reset(token: &ResetToken, trigger_len: usize) -> Option<Vec<u8>> {
    // One random byte picks the length; the rest fill the packet.
    let mut random = [0u8; 1 + MAX_STATELESS_RESET_LEN];
    ring::rand::SystemRandom::new().fill(&mut random).ok()?;
    let (length_pick, body) = random.split_first()?;
    let len = stateless_reset_len(trigger_len, *length_pick)?;
    let mut packet = body.get(..len - RESET_TOKEN_LEN)?.to_vec();
    let first = packet.first_mut()?;
    *first = (*first & !SHORT_HEADER_FORM_MASK) | FIXED_BIT;
    packet.extend_from_slice(&token.0);
    Some(packet)
}

/// The length of a reset answering `trigger_len` bytes, `pick` choosing among
/// the allowed lengths; `None` when no allowed length is smaller.
fn stateless_reset_len(trigger_len: usize, pick: u8) -> Option<usize> {
    if trigger_len <= MIN_STATELESS_RESET_LEN {
        return None;
    }
    if trigger_len <= RESET_ONE_SHORTER_UP_TO {
        return Some(trigger_len - 1);
    }
    let shortest = RESET_ONE_SHORTER_UP_TO;
    let longest = (trigger_len - 1).min(MAX_STATELESS_RESET_LEN);
    Some(shortest + usize::from(pick) % (longest - shortest + 1))
}

/// The last 16 bytes of a received datagram, to compare with the reset tokens
/// of the connection it would belong to (RFC 9000 §10.3.1); `None` when the
/// datagram is shorter than [`MIN_STATELESS_RESET_LEN`] and so cannot be a
/// reset. Any datagram qualifies regardless of its first byte, because a peer
/// speaking another version may send resets with a long header.
pub fn reset_token_candidate(datagram: &[u8]) -> Option<ResetToken> {
    if datagram.len() < MIN_STATELESS_RESET_LEN {
        return None;
    }
    let tail = datagram.get(datagram.len() - RESET_TOKEN_LEN..)?;
    let token: [u8; RESET_TOKEN_LEN] = tail.try_into().ok()?;
    Some(ResetToken(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_longer_than_20_bytes_is_rejected() {
        assert!(ConnectionId::new(&[0; 20]).is_ok());
        assert_eq!(ConnectionId::new(&[0; 21]), Err(CidTooLong(21)));
    }

    #[test]
    fn cids_of_different_length_differ() {
        let a = ConnectionId::new(&[1, 2]).unwrap();
        let b = ConnectionId::new(&[1, 2, 0]).unwrap();
        assert_ne!(a, b);
        assert_eq!(&*a, &[1, 2]);
        assert_eq!(format!("{a}"), "0102");
    }

    #[test]
    fn random_generator_issues_ids_of_its_length() {
        for len in [0, 4, DEFAULT_CID_LEN, MAX_CID_LEN] {
            let generator = RandomConnectionIdGenerator::new(len).unwrap();
            assert_eq!(generator.cid_len(), len);
            assert_eq!(generator.generate().len(), len);
        }
        assert_eq!(RandomConnectionIdGenerator::default().cid_len(), 8);
        assert_eq!(RandomConnectionIdGenerator::default().generate().len(), 8);
    }

    #[test]
    fn random_generator_refuses_ids_longer_than_20_bytes() {
        assert_eq!(
            RandomConnectionIdGenerator::new(21).unwrap_err(),
            CidTooLong(21)
        );
    }

    #[test]
    fn random_generator_ids_differ() {
        let generator = RandomConnectionIdGenerator::default();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| generator.generate()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn generator_is_object_safe_and_shareable_and_validates_by_default() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn ConnectionIdGenerator>();
        let generator: std::sync::Arc<dyn ConnectionIdGenerator> =
            std::sync::Arc::new(RandomConnectionIdGenerator::default());
        assert!(generator.validate(&generator.generate()));
        assert!(generator.validate(&[1, 2, 3]));
    }

    #[test]
    fn fallback_ids_differ_from_call_to_call() {
        let mut a = [0u8; MAX_CID_LEN];
        let mut b = [0u8; MAX_CID_LEN];
        fallback_fill(&mut a);
        fallback_fill(&mut b);
        assert_ne!(a, b);
        // Longer than a SHA-256 digest: the tail stays as it was, no panic.
        let mut long = [0u8; 40];
        fallback_fill(&mut long);
        assert_eq!(long[32..], [0; 8]);
    }

    fn cid(bytes: &[u8]) -> ConnectionId {
        ConnectionId::new(bytes).unwrap()
    }

    #[test]
    fn reset_token_is_deterministic_per_key_and_cid() {
        let key = ResetKey::from_bytes(&[7; RESET_KEY_LEN]);
        let same = ResetKey::from_bytes(&[7; RESET_KEY_LEN]);
        let id = cid(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(key.token(&id), key.token(&id));
        assert_eq!(key.token(&id), same.token(&id));
        assert_ne!(key.token(&id), key.token(&cid(&[1, 2, 3, 4, 5, 6, 7, 9])));
    }

    #[test]
    fn reset_token_differs_across_keys() {
        let id = cid(&[9; 8]);
        let a = ResetKey::from_bytes(&[1; RESET_KEY_LEN]);
        let b = ResetKey::from_bytes(&[2; RESET_KEY_LEN]);
        assert_ne!(a.token(&id), b.token(&id));
        let r1 = ResetKey::random().unwrap();
        let r2 = ResetKey::random().unwrap();
        assert_ne!(r1.token(&id), r2.token(&id));
    }

    #[test]
    fn reset_token_is_truncated_hmac_sha256() {
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?"),
        // fed through a connection ID of at most 20 bytes: use its first 20.
        let key = ResetKey::from_bytes(b"Jefe");
        let data = b"what do ya want for nothing?";
        let id = cid(&data[..20]);
        let expected = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"Jefe"),
            &data[..20],
        );
        assert_eq!(key.token(&id).0, expected.as_ref()[..RESET_TOKEN_LEN]);
    }

    #[test]
    fn reset_key_debug_hides_the_secret() {
        assert_eq!(
            format!("{:?}", ResetKey::from_bytes(&[0xab; 32])),
            "ResetKey(..)"
        );
    }

    #[test]
    fn stateless_reset_is_shorter_than_trigger_and_at_least_21_bytes() {
        let token = ResetToken([0x5a; RESET_TOKEN_LEN]);
        for trigger in 22..=1500 {
            let packet = build_stateless_reset(&token, trigger).unwrap();
            assert!(packet.len() < trigger, "trigger {trigger}");
            assert!(packet.len() >= MIN_STATELESS_RESET_LEN);
            assert!(packet.len() <= MAX_STATELESS_RESET_LEN);
        }
    }

    #[test]
    fn stateless_reset_answers_short_triggers_one_byte_shorter() {
        let token = ResetToken([1; RESET_TOKEN_LEN]);
        for trigger in 22..=43 {
            assert_eq!(
                build_stateless_reset(&token, trigger).unwrap().len(),
                trigger - 1
            );
        }
    }

    #[test]
    fn stateless_reset_refused_when_trigger_too_short() {
        let token = ResetToken([1; RESET_TOKEN_LEN]);
        for trigger in 0..=MIN_STATELESS_RESET_LEN {
            assert_eq!(build_stateless_reset(&token, trigger), None);
        }
    }

    #[test]
    fn stateless_reset_length_covers_the_allowed_range() {
        assert_eq!(stateless_reset_len(44, 0), Some(43));
        assert_eq!(stateless_reset_len(44, 255), Some(43));
        assert_eq!(stateless_reset_len(1200, 0), Some(43));
        let lens: std::collections::HashSet<_> = (0..=255u8)
            .filter_map(|pick| stateless_reset_len(1200, pick))
            .collect();
        assert_eq!(lens, (43..=MAX_STATELESS_RESET_LEN).collect());
    }

    #[test]
    fn stateless_reset_ends_in_token_and_looks_like_short_header() {
        let token = ResetToken(*b"0123456789abcdef");
        for trigger in [22, 43, 44, 100, 1200] {
            let packet = build_stateless_reset(&token, trigger).unwrap();
            assert_eq!(packet[packet.len() - RESET_TOKEN_LEN..], token.0);
            assert_eq!(packet[0] & 0x80, 0, "long header bit clear");
            assert_eq!(packet[0] & 0x40, 0x40, "fixed bit set");
            assert_eq!(reset_token_candidate(&packet), Some(token));
        }
    }

    #[test]
    fn stateless_reset_bytes_are_unpredictable() {
        let token = ResetToken([0; RESET_TOKEN_LEN]);
        let a = build_stateless_reset(&token, 1200).unwrap();
        let b = build_stateless_reset(&token, 1200).unwrap();
        let body = |p: &[u8]| p[1..MIN_STATELESS_RESET_LEN - RESET_TOKEN_LEN].to_vec();
        assert_ne!(body(&a), body(&b));
    }

    #[test]
    fn reset_token_candidate_is_last_16_bytes_of_datagrams_of_21_or_more() {
        let datagram: Vec<u8> = (0..30).collect();
        let expected: [u8; RESET_TOKEN_LEN] = std::array::from_fn(|i| 14 + i as u8);
        assert_eq!(reset_token_candidate(&datagram), Some(ResetToken(expected)));
        assert_eq!(
            reset_token_candidate(&datagram[..21]).map(|t| t.0[0]),
            Some(5)
        );
        assert_eq!(reset_token_candidate(&datagram[..20]), None);
        assert_eq!(reset_token_candidate(&[]), None);
    }

    proptest::proptest! {
        #[test]
        fn reset_token_candidate_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let candidate = reset_token_candidate(&data);
            proptest::prop_assert_eq!(candidate.is_some(), data.len() >= MIN_STATELESS_RESET_LEN);
        }
    }
}
