//! Address validation tokens (RFC 9000 §8.1.2–§8.1.4): sealing and opening the
//! tokens a server puts in Retry packets and NEW_TOKEN frames, with AES-256-GCM
//! under a server-wide [`TokenKey`]. When to send Retry or NEW_TOKEN, and what
//! a valid token allows, is the endpoint's decision. Time is an argument.
//!
//! A token on the wire is `kind (1) ‖ nonce (12) ‖ AES-256-GCM(plaintext) ‖ tag (16)`:
//! - the kind byte stays in the clear (RFC 9000 §8.1.1 allows the two kinds to
//!   be told apart by anyone) and is bound as the AEAD's associated data, so
//!   it cannot be changed; the endpoint reads it with [`token_kind`] to choose
//!   between INVALID_TOKEN (a bad Retry token) and ignoring the token (a bad
//!   NEW_TOKEN token, maybe from before a key change) even when opening fails;
//! - the plaintext is `issued (u64 seconds since the UNIX epoch) ‖ IP family
//!   (4 or 6) ‖ IP address`, and for Retry tokens then `port (u16) ‖ original
//!   DCID (length-prefixed) ‖ Retry source CID (length-prefixed)`. The address
//!   is inside the plaintext, not only in the associated data, so that a token
//!   from another address is told apart from a forged one.
//!
//! The longest token, a Retry token for an IPv6 client with two 20-byte IDs,
//! is [`MAX_TOKEN_LEN`] = 98 bytes.

use crate::cid::{ConnectionId, MAX_CID_LEN, RngFailed};
use crate::coding::Reader;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::SecureRandom;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime};

/// How long a Retry token stays valid. RFC 9000 §8.1.4: clients return Retry
/// tokens at once, so servers should accept them only briefly, which limits
/// replays. 5 s, as in quic-go, covers a round trip plus slow client start-up.
pub const RETRY_TOKEN_LIFETIME: Duration = Duration::from_secs(5);

/// How long a NEW_TOKEN token stays valid. RFC 9000 §8.1.3: these are used on
/// later connections, so they live longer; 24 h, as in quic-go, covers a
/// client coming back the next day, while a leaked token stays useful for
/// amplification only that long.
pub const NEW_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Length of a [`TokenKey`]: AES-256.
pub const TOKEN_KEY_LEN: usize = 32;

/// Length of the AES-GCM tag at the end of every token.
const TAG_LEN: usize = 16;

/// Bytes before the ciphertext: kind, nonce.
const PREFIX_LEN: usize = 1 + NONCE_LEN;

/// Bytes of the plaintext before the address: the issue time.
const ISSUED_LEN: usize = 8;

/// The longest token kite issues: a Retry token for an IPv6 client with two
/// 20-byte connection IDs. Tokens must fit in Initial packets beside the
/// ClientHello, so they are kept small.
pub const MAX_TOKEN_LEN: usize =
    PREFIX_LEN + ISSUED_LEN + 1 + 16 + 2 + 2 * (1 + MAX_CID_LEN) + TAG_LEN;

// Tokens stay under 100 bytes, checked when compiling.
const _: () = assert!(MAX_TOKEN_LEN < 100);

/// Wire values of the kind byte; anything else is malformed. Letters rather
/// than 0 and 1, so that a stray zero byte is never taken for a kind.
const KIND_RETRY: u8 = b'R';
const KIND_NEW_TOKEN: u8 = b'N';

/// Wire values of the IP family byte.
const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

/// The key address validation tokens are sealed with: AES-256-GCM.
///
/// Only the server that issues tokens needs it (RFC 9000 §8.1.4). Servers
/// behind one load balancer, or sharing one port, should share it so that a
/// token from one is accepted by the others.
///
/// Each token carries a random 96-bit nonce. Random nonces need no state to
/// stay unique, even when several processes share the key; NIST SP 800-38D
/// bounds one key to 2^32 such seals, which keeps the chance of a repeated
/// nonce (which would expose the key's authentication secret) below 2^-32.
/// At a thousand new tokens per second that is about 50 days: long-lived,
/// busy servers should change keys now and then, as a restart with
/// [`TokenKey::random`] does.
pub struct TokenKey {
    key: LessSafeKey,
}

impl TokenKey {
    /// A fresh random key. Tokens issued under it die with it.
    pub fn random() -> Result<Self, RngFailed> {
        let mut secret = [0u8; TOKEN_KEY_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| RngFailed)?;
        Ok(Self::from_bytes(&secret))
    }

    /// A key from 32 secret bytes, e.g. shared between server processes.
    #[allow(clippy::expect_used)]
    pub fn from_bytes(secret: &[u8; TOKEN_KEY_LEN]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, secret).expect("32 bytes is an AES-256 key"); // ok: the array has AES-256's key length
        TokenKey {
            key: LessSafeKey::new(key),
        }
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// Which of the two token kinds a token claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// From a Retry packet (RFC 9000 §8.1.2): valid for one connection attempt.
    Retry,
    /// From a NEW_TOKEN frame (RFC 9000 §8.1.3): valid for later connections.
    NewToken,
}

/// What a token that opened correctly, from the right address and in time,
/// proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidatedToken {
    /// A Retry token: the client's address is validated, and the server's
    /// transport parameters must carry these IDs (RFC 9000 §7.3). The endpoint
    /// should also check that `retry_scid` is the Destination Connection ID of
    /// the Initial carrying the token.
    Retry {
        /// The Destination Connection ID of the client's first Initial.
        original_dcid: ConnectionId,
        /// The Source Connection ID of the Retry packet.
        retry_scid: ConnectionId,
    },
    /// A NEW_TOKEN token: the client's IP address was validated on an earlier
    /// connection (RFC 9000 §8.1.3).
    NewToken,
}

/// Why a token was refused. For a Retry token each means INVALID_TOKEN
/// (RFC 9000 §8.1.2); a refused NEW_TOKEN token is ignored (RFC 9000 §8.1.3).
/// Use [`token_kind`] to tell which kind a refused token claimed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Too short, an unknown kind, or a plaintext that does not parse.
    #[error("malformed address validation token")]
    Malformed,
    /// The AEAD rejected it: altered, made up, or sealed under another key.
    #[error("forged address validation token")]
    Forged,
    /// Older than its kind's lifetime.
    #[error("expired address validation token")]
    Expired,
    /// Issued to another address: another IP, or for a Retry token another
    /// port.
    #[error("address validation token for another address")]
    WrongAddress,
}

/// Seconds since the UNIX epoch, the unit tokens record time in; times before
/// the epoch count as 0.
pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seals the token of a Retry packet (RFC 9000 §8.1.2) sent to `client_addr`.
/// It binds the full socket address, since the client answers a Retry at once
/// from the same port (RFC 9000 §8.1.4), and carries the IDs the server must
/// echo in its transport parameters. `issued` is in seconds since the UNIX
/// epoch (see [`unix_secs`]). Fails only when the system RNG fails.
pub fn seal_retry_token(
    key: &TokenKey,
    client_addr: SocketAddr,
    original_dcid: &ConnectionId,
    retry_scid: &ConnectionId,
    issued: u64,
) -> Result<Vec<u8>, RngFailed> {
    let mut plaintext = Vec::with_capacity(MAX_TOKEN_LEN);
    put_issued_and_ip(&mut plaintext, issued, client_addr.ip());
    plaintext.extend_from_slice(&client_addr.port().to_be_bytes());
    for cid in [original_dcid, retry_scid] {
        plaintext.push(cid.len() as u8); // at most MAX_CID_LEN
        plaintext.extend_from_slice(cid);
    }
    seal(key, KIND_RETRY, plaintext)
}

/// Seals a token for a NEW_TOKEN frame (RFC 9000 §8.1.3) sent to a client at
/// `client_ip`. Only the IP address is bound: clients rarely keep their port
/// between connections (RFC 9000 §8.1.3). Every call gives a different token
/// (random nonce), so tokens cannot link a client's connections for an
/// observer. `issued` is in seconds since the UNIX epoch. Fails only when the
/// system RNG fails.
pub fn seal_new_token(
    key: &TokenKey,
    client_ip: IpAddr,
    issued: u64,
) -> Result<Vec<u8>, RngFailed> {
    let mut plaintext = Vec::with_capacity(MAX_TOKEN_LEN);
    put_issued_and_ip(&mut plaintext, issued, client_ip);
    seal(key, KIND_NEW_TOKEN, plaintext)
}

/// The kind a token claims to be, from its clear kind byte; `None` for an
/// empty token or an unknown kind. The claim is authenticated only once
/// [`open_token`] accepts the token.
pub fn token_kind(token: &[u8]) -> Option<TokenKind> {
    match token.first().copied()? {
        KIND_RETRY => Some(TokenKind::Retry),
        KIND_NEW_TOKEN => Some(TokenKind::NewToken),
        _ => None,
    }
}

/// Opens a token from the Initial of a client at `client_addr` and checks it:
/// sealed under `key`, issued to that address (full socket address for Retry
/// tokens, IP only for NEW_TOKEN tokens), and no older than the lifetime of
/// its kind at `now` (seconds since the UNIX epoch; ages are whole seconds, so
/// a token may live up to a second past its lifetime). A token issued after
/// `now`, by a server whose clock runs ahead, counts as fresh.
///
/// IPv4-mapped IPv6 addresses compare equal to their IPv4 form, so a
/// dual-stack socket does not invalidate tokens. Replays within the lifetime
/// are not detected here (RFC 9000 §8.1.4 asks servers to limit them).
pub fn open_token(
    key: &TokenKey,
    token: &[u8],
    client_addr: SocketAddr,
    now: u64,
    retry_lifetime: Duration,
    new_token_lifetime: Duration,
) -> Result<ValidatedToken, TokenError> {
    let kind = token_kind(token).ok_or(TokenError::Malformed)?;
    if token.len() < PREFIX_LEN + TAG_LEN {
        return Err(TokenError::Malformed);
    }
    let (prefix, sealed) = token.split_at(PREFIX_LEN);
    let (kind_byte, nonce) = prefix.split_at(1);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| TokenError::Malformed)?;
    let mut buf = sealed.to_vec();
    let plaintext = key
        .key
        .open_in_place(nonce, Aad::from(kind_byte), &mut buf)
        .map_err(|_| TokenError::Forged)?;

    let mut r = Reader::new(plaintext);
    let malformed = |_| TokenError::Malformed;
    let issued = r.u64().map_err(malformed)?;
    let ip = read_ip(&mut r)?;
    let (lifetime, bound_addr, validated) = match kind {
        TokenKind::Retry => {
            let port = r.u16().map_err(malformed)?;
            let original_dcid = read_cid(&mut r)?;
            let retry_scid = read_cid(&mut r)?;
            let validated = ValidatedToken::Retry {
                original_dcid,
                retry_scid,
            };
            (retry_lifetime, SocketAddr::new(ip, port), validated)
        }
        // Only the IP is bound; compare it with the client's at its port.
        TokenKind::NewToken => (
            new_token_lifetime,
            SocketAddr::new(ip, client_addr.port()),
            ValidatedToken::NewToken,
        ),
    };
    if !r.is_empty() {
        return Err(TokenError::Malformed);
    }
    if now.saturating_sub(issued) > lifetime.as_secs() {
        return Err(TokenError::Expired);
    }
    if bound_addr != canonical(client_addr) {
        return Err(TokenError::WrongAddress);
    }
    Ok(validated)
}

/// `kind ‖ nonce ‖ AES-256-GCM(plaintext) ‖ tag`, with a fresh random nonce.
fn seal(key: &TokenKey, kind: u8, mut plaintext: Vec<u8>) -> Result<Vec<u8>, RngFailed> {
    let mut nonce = [0u8; NONCE_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| RngFailed)?;
    let kind_byte = [kind];
    #[allow(clippy::expect_used)]
    let tag = key
        .key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(kind_byte),
            &mut plaintext,
        )
        .expect("AES-GCM seals any plaintext under 64 GiB"); // ok: tokens are under 100 bytes
    let mut token = Vec::with_capacity(PREFIX_LEN + plaintext.len() + TAG_LEN);
    token.push(kind);
    token.extend_from_slice(&nonce);
    token.extend_from_slice(&plaintext);
    token.extend_from_slice(tag.as_ref());
    Ok(token)
}

/// Writes the issue time and the canonical form of `ip` with its family byte.
fn put_issued_and_ip(out: &mut Vec<u8>, issued: u64, ip: IpAddr) {
    out.extend_from_slice(&issued.to_be_bytes());
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            out.push(FAMILY_V4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(FAMILY_V6);
            out.extend_from_slice(&v6.octets());
        }
    }
}

fn read_ip(r: &mut Reader<'_>) -> Result<IpAddr, TokenError> {
    let malformed = |_| TokenError::Malformed;
    match r.u8().map_err(malformed)? {
        FAMILY_V4 => Ok(Ipv4Addr::from(r.array::<4>().map_err(malformed)?).into()),
        FAMILY_V6 => Ok(Ipv6Addr::from(r.array::<16>().map_err(malformed)?).into()),
        _ => Err(TokenError::Malformed),
    }
}

fn read_cid(r: &mut Reader<'_>) -> Result<ConnectionId, TokenError> {
    let len = r.u8().map_err(|_| TokenError::Malformed)?;
    let bytes = r.bytes(len.into()).map_err(|_| TokenError::Malformed)?;
    ConnectionId::new(bytes).map_err(|_| TokenError::Malformed)
}

/// `addr` with an IPv4-mapped IPv6 address turned into IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_700_000_000;

    fn key() -> TokenKey {
        TokenKey::from_bytes(&[0x42; TOKEN_KEY_LEN])
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn cid(bytes: &[u8]) -> ConnectionId {
        ConnectionId::new(bytes).unwrap()
    }

    fn open(token: &[u8], from: SocketAddr, now: u64) -> Result<ValidatedToken, TokenError> {
        open_token(
            &key(),
            token,
            from,
            now,
            RETRY_TOKEN_LIFETIME,
            NEW_TOKEN_LIFETIME,
        )
    }

    fn retry_token(from: SocketAddr) -> Vec<u8> {
        seal_retry_token(&key(), from, &cid(&[1; 8]), &cid(&[2; 20]), NOW).unwrap()
    }

    #[test]
    fn retry_token_round_trips_ids() {
        let from = addr("192.0.2.1:4433");
        let (odcid, rscid) = (cid(&[1, 2, 3, 4, 5, 6, 7, 8]), cid(&[9; 20]));
        let token = seal_retry_token(&key(), from, &odcid, &rscid, NOW).unwrap();
        assert_eq!(token_kind(&token), Some(TokenKind::Retry));
        assert_eq!(
            open(&token, from, NOW),
            Ok(ValidatedToken::Retry {
                original_dcid: odcid,
                retry_scid: rscid
            })
        );
    }

    #[test]
    fn retry_token_with_empty_ids_round_trips() {
        let from = addr("[2001:db8::1]:443");
        let token = seal_retry_token(
            &key(),
            from,
            &ConnectionId::EMPTY,
            &ConnectionId::EMPTY,
            NOW,
        )
        .unwrap();
        assert_eq!(
            open(&token, from, NOW),
            Ok(ValidatedToken::Retry {
                original_dcid: ConnectionId::EMPTY,
                retry_scid: ConnectionId::EMPTY
            })
        );
    }

    #[test]
    fn new_token_round_trips() {
        let from = addr("[2001:db8::7]:50000");
        let token = seal_new_token(&key(), from.ip(), NOW).unwrap();
        assert_eq!(token_kind(&token), Some(TokenKind::NewToken));
        assert_eq!(open(&token, from, NOW + 60), Ok(ValidatedToken::NewToken));
    }

    #[test]
    fn tokens_stay_under_100_bytes() {
        let v6 = addr("[2001:db8::1]:1");
        let longest = seal_retry_token(&key(), v6, &cid(&[1; 20]), &cid(&[2; 20]), NOW).unwrap();
        assert_eq!(longest.len(), MAX_TOKEN_LEN);
        assert!(seal_new_token(&key(), v6.ip(), NOW).unwrap().len() < MAX_TOKEN_LEN);
    }

    #[test]
    fn new_tokens_differ_each_time() {
        let ip = addr("192.0.2.1:1").ip();
        let a = seal_new_token(&key(), ip, NOW).unwrap();
        let b = seal_new_token(&key(), ip, NOW).unwrap();
        assert_ne!(a, b, "RFC 9000 §8.1.3: every NEW_TOKEN token is unique");
    }

    #[test]
    fn any_flipped_bit_is_forged_or_malformed() {
        let from = addr("192.0.2.1:4433");
        let token = retry_token(from);
        for byte in 0..token.len() {
            for bit in 0..8 {
                let mut bad = token.clone();
                bad[byte] ^= 1 << bit;
                let expected = if byte == 0 {
                    // Kind byte: no single flip turns 'R' into 'N'.
                    TokenError::Malformed
                } else {
                    TokenError::Forged
                };
                assert_eq!(
                    open(&bad, from, NOW),
                    Err(expected),
                    "byte {byte} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn token_from_another_key_is_forged() {
        let from = addr("192.0.2.1:4433");
        let other = TokenKey::random().unwrap();
        let token = seal_new_token(&other, from.ip(), NOW).unwrap();
        assert_eq!(open(&token, from, NOW), Err(TokenError::Forged));
    }

    #[test]
    fn swapped_kind_byte_is_forged() {
        let from = addr("192.0.2.1:4433");
        let mut token = seal_new_token(&key(), from.ip(), NOW).unwrap();
        token[0] = KIND_RETRY;
        assert_eq!(open(&token, from, NOW), Err(TokenError::Forged));
    }

    #[test]
    fn retry_token_expires_after_its_lifetime() {
        let from = addr("192.0.2.1:4433");
        let token = retry_token(from);
        assert!(open(&token, from, NOW + 5).is_ok());
        assert_eq!(open(&token, from, NOW + 6), Err(TokenError::Expired));
    }

    #[test]
    fn new_token_expires_after_its_lifetime() {
        let from = addr("192.0.2.1:4433");
        let token = seal_new_token(&key(), from.ip(), NOW).unwrap();
        let day = NEW_TOKEN_LIFETIME.as_secs();
        assert_eq!(open(&token, from, NOW + day), Ok(ValidatedToken::NewToken));
        assert_eq!(open(&token, from, NOW + day + 1), Err(TokenError::Expired));
    }

    #[test]
    fn lifetimes_are_arguments() {
        let from = addr("192.0.2.1:4433");
        let token = retry_token(from);
        let long = Duration::from_secs(60);
        let opened = open_token(&key(), &token, from, NOW + 30, long, long);
        assert!(opened.is_ok());
    }

    #[test]
    fn token_issued_in_the_future_counts_as_fresh() {
        let from = addr("192.0.2.1:4433");
        let token = seal_retry_token(&key(), from, &cid(&[1; 8]), &cid(&[2; 8]), NOW + 3).unwrap();
        assert!(open(&token, from, NOW).is_ok());
    }

    #[test]
    fn token_from_another_ip_is_wrong_address() {
        let from = addr("192.0.2.1:4433");
        let other = addr("192.0.2.2:4433");
        assert_eq!(
            open(&retry_token(from), other, NOW),
            Err(TokenError::WrongAddress)
        );
        let new_token = seal_new_token(&key(), from.ip(), NOW).unwrap();
        assert_eq!(open(&new_token, other, NOW), Err(TokenError::WrongAddress));
    }

    #[test]
    fn retry_token_from_same_ip_other_port_is_wrong_address() {
        let token = retry_token(addr("192.0.2.1:4433"));
        assert_eq!(
            open(&token, addr("192.0.2.1:4434"), NOW),
            Err(TokenError::WrongAddress)
        );
    }

    #[test]
    fn new_token_from_same_ip_other_port_is_accepted() {
        let token = seal_new_token(&key(), addr("192.0.2.1:4433").ip(), NOW).unwrap();
        assert_eq!(
            open(&token, addr("192.0.2.1:60000"), NOW),
            Ok(ValidatedToken::NewToken)
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_matches_ipv4() {
        let v4 = addr("192.0.2.1:4433");
        let mapped = addr("[::ffff:192.0.2.1]:4433");
        assert!(open(&retry_token(v4), mapped, NOW).is_ok());
        assert!(open(&retry_token(mapped), v4, NOW).is_ok());
        let token = seal_new_token(&key(), mapped.ip(), NOW).unwrap();
        assert_eq!(open(&token, v4, NOW), Ok(ValidatedToken::NewToken));
    }

    #[test]
    fn truncated_tokens_are_malformed_or_forged() {
        let from = addr("192.0.2.1:4433");
        let token = retry_token(from);
        for len in 0..token.len() {
            let result = open(&token[..len], from, NOW);
            let expected = if len < PREFIX_LEN + TAG_LEN {
                TokenError::Malformed
            } else {
                TokenError::Forged
            };
            assert_eq!(result, Err(expected), "length {len}");
        }
    }

    #[test]
    fn sealed_garbage_plaintext_is_malformed() {
        // A well-sealed token whose plaintext does not parse: only a key holder
        // could make one, e.g. a future token format.
        let from = addr("192.0.2.1:4433");
        for plaintext in [vec![], vec![0; 8], [&NOW.to_be_bytes()[..], &[5]].concat()] {
            let token = seal(&key(), KIND_NEW_TOKEN, plaintext).unwrap();
            assert_eq!(open(&token, from, NOW), Err(TokenError::Malformed));
        }
        let mut trailing = Vec::new();
        put_issued_and_ip(&mut trailing, NOW, from.ip());
        trailing.push(0);
        let token = seal(&key(), KIND_NEW_TOKEN, trailing).unwrap();
        assert_eq!(open(&token, from, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn unknown_kind_and_empty_tokens_are_malformed() {
        let from = addr("192.0.2.1:4433");
        assert_eq!(token_kind(&[]), None);
        assert_eq!(token_kind(&[0]), None);
        assert_eq!(open(&[], from, NOW), Err(TokenError::Malformed));
        assert_eq!(open(&[0; 60], from, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn unix_secs_counts_from_the_epoch() {
        assert_eq!(unix_secs(SystemTime::UNIX_EPOCH), 0);
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(unix_secs(t), 1);
        assert_eq!(
            unix_secs(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            0
        );
    }

    #[test]
    fn token_key_debug_hides_the_secret() {
        assert_eq!(format!("{:?}", key()), "TokenKey(..)");
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]
    }

    fn any_cid() -> impl Strategy<Value = ConnectionId> {
        proptest::collection::vec(any::<u8>(), 0..=MAX_CID_LEN)
            .prop_map(|b| ConnectionId::new(&b).unwrap())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_open(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            let result = open(&data, addr("192.0.2.1:1"), NOW);
            prop_assert!(matches!(result, Err(TokenError::Malformed | TokenError::Forged)));
        }

        #[test]
        fn arbitrary_bytes_after_a_valid_kind_never_open(
            kind in prop_oneof![Just(KIND_RETRY), Just(KIND_NEW_TOKEN)],
            data in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let token = [&[kind][..], &data].concat();
            let result = open(&token, addr("192.0.2.1:1"), NOW);
            prop_assert!(matches!(result, Err(TokenError::Malformed | TokenError::Forged)));
        }

        #[test]
        fn retry_tokens_round_trip(
            ip in any_ip(), port in any::<u16>(), odcid in any_cid(), rscid in any_cid(),
            issued in 0..u64::MAX - 10, age in 0..=5u64,
        ) {
            let from = SocketAddr::new(ip, port);
            let token = seal_retry_token(&key(), from, &odcid, &rscid, issued).unwrap();
            prop_assert!(token.len() <= MAX_TOKEN_LEN);
            prop_assert_eq!(
                open(&token, from, issued + age),
                Ok(ValidatedToken::Retry { original_dcid: odcid, retry_scid: rscid })
            );
        }

        #[test]
        fn new_tokens_round_trip(ip in any_ip(), port in any::<u16>(), issued in any::<u32>()) {
            let token = seal_new_token(&key(), ip, issued.into()).unwrap();
            let from = SocketAddr::new(ip, port);
            prop_assert_eq!(open(&token, from, issued.into()), Ok(ValidatedToken::NewToken));
        }
    }
}
