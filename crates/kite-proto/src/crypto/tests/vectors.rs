//! RFC 9001 Appendix A (v1) and RFC 9369 Appendix A (v2), byte for byte: every
//! check runs once per version against that version's vectors.

use super::data::{self, SecretVectors, V1, V2, Vectors};
use super::{hex, hkdf_expand_label, hkdf_extract, hkdf_label};
use crate::Side;
use crate::crypto::{
    DirectionalKeys, HeaderProtectionKey, Keys, PacketKey, TAG_LEN, apply_header_protection,
    open_payload, remove_header_protection, retry_integrity_tag, seal_payload,
    verify_retry_integrity,
};
use ring::aead;
use rustls::crypto::cipher::{AeadKey, Iv};
use rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256;

/// Offset of the packet number in both Initial headers of A.2 and A.3.
const INITIAL_PN_OFFSET: usize = 18;

/// Asserts that `key` seals like an AEAD with the raw `key_bytes` and `iv`,
/// with the nonce formed as RFC 9001 §5.3 says (IV XOR packet number).
fn assert_packet_key_is(
    key: &PacketKey,
    alg: &'static aead::Algorithm,
    key_bytes: &[u8],
    iv: &[u8],
) {
    let header = b"\x41some header";
    let payload = b"some payload bytes";
    let pn: u64 = 0x0123_4567_89ab;

    let mut buf = [&header[..], payload, &[0; TAG_LEN]].concat();
    seal_payload(key, pn, &mut buf, header.len()).unwrap();

    let mut nonce: [u8; 12] = iv.try_into().unwrap();
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let reference = aead::LessSafeKey::new(aead::UnboundKey::new(alg, key_bytes).unwrap());
    let mut expected = payload.to_vec();
    reference
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&header[..]),
            &mut expected,
        )
        .unwrap();
    assert_eq!(hex::encode(&buf[header.len()..]), hex::encode(expected));
}

/// Asserts that `key` masks like header protection with the raw `hp` key
/// (RFC 9001 §5.4.1, §5.4.3), on a short header with a 4-byte packet number.
fn assert_header_key_is(key: &HeaderProtectionKey, alg: &'static aead::quic::Algorithm, hp: &[u8]) {
    let mut packet: Vec<u8> = (0..32).collect();
    packet[0] = 0x43; // short header, 4-byte packet number
    let sample: [u8; 16] = packet[5..21].try_into().unwrap();
    let mask = aead::quic::HeaderProtectionKey::new(alg, hp)
        .unwrap()
        .new_mask(&sample)
        .unwrap();

    let before = packet.clone();
    apply_header_protection(key, &mut packet, 1, 4).unwrap();
    assert_eq!(packet[0], before[0] ^ (mask[0] & 0x1f));
    for i in 0..4 {
        assert_eq!(packet[1 + i], before[1 + i] ^ mask[1 + i]);
    }
    assert_eq!(packet[5..], before[5..]);
}

fn assert_initial_keys_are(keys: &DirectionalKeys, expected: &SecretVectors) {
    assert_packet_key_is(
        &keys.packet,
        &aead::AES_128_GCM,
        &hex(expected.key),
        &hex(expected.iv),
    );
    assert_header_key_is(&keys.header, &aead::quic::AES_128, &hex(expected.hp));
}

/// A.1: the labels, the initial secret and both sides' keys, derived
/// independently with ring, and rustls' Initial keys behave as those bytes.
fn check_initial_keys(v: &Vectors) {
    let dcid = hex(data::CLIENT_DCID);
    for ((label, info), len) in v.labels.iter().zip([16, 12, 16]) {
        assert_eq!(hex::encode(hkdf_label(label, len)), *info, "{}", v.source);
    }
    let initial_secret = hkdf_extract(&hex(v.initial_salt), &dcid);
    assert_eq!(
        hex::encode(&initial_secret),
        v.initial_secret,
        "{}",
        v.source
    );
    for side in [&v.client, &v.server] {
        assert_eq!(hex::encode(hkdf_label(side.label, 32)), side.label_info);
        let secret = hkdf_expand_label(&initial_secret, side.label, 32);
        assert_eq!(hex::encode(&secret), side.secret, "{}", v.source);
        let [key, iv, hp] = [(0, 16), (1, 12), (2, 16)]
            .map(|(i, len)| hex::encode(hkdf_expand_label(&secret, v.labels[i].0, len)));
        assert_eq!([key.as_str(), &iv, &hp], [side.key, side.iv, side.hp]);
    }

    let client = Keys::initial(v.version, &dcid, Side::Client).unwrap();
    assert_initial_keys_are(&client.local, &v.client);
    assert_initial_keys_are(&client.remote, &v.server);
    let server = Keys::initial(v.version, &dcid, Side::Server).unwrap();
    assert_initial_keys_are(&server.local, &v.server);
    assert_initial_keys_are(&server.remote, &v.client);
}

/// Protects `payload` behind `header` with the sender's Initial keys, compares
/// with `protected`, then opens it with the receiver's keys.
fn check_initial_packet(
    v: &Vectors,
    sender: Side,
    header: &str,
    pn: u64,
    payload: &[u8],
    protected: &str,
) {
    let dcid = hex(data::CLIENT_DCID);
    let header = hex(header);
    let header_len = header.len();
    let pn_len = header_len - INITIAL_PN_OFFSET;

    let mut packet = [&header[..], payload, &[0; TAG_LEN]].concat();
    let keys = Keys::initial(v.version, &dcid, sender).unwrap();
    seal_payload(&keys.local.packet, pn, &mut packet, header_len).unwrap();
    apply_header_protection(&keys.local.header, &mut packet, INITIAL_PN_OFFSET, pn_len).unwrap();
    assert_eq!(
        hex::encode(&packet),
        hex::encode(hex(protected)),
        "{}",
        v.source
    );

    let keys = Keys::initial(v.version, &dcid, sender.peer()).unwrap();
    let (truncated, len) =
        remove_header_protection(&keys.remote.header, &mut packet, INITIAL_PN_OFFSET).unwrap();
    assert_eq!((u64::from(truncated), len), (pn, pn_len));
    assert_eq!(packet[..header_len], header[..]);
    let range = open_payload(&keys.remote.packet, pn, &mut packet, header_len).unwrap();
    assert_eq!(range, header_len..header_len + payload.len());
    assert_eq!(packet[range], payload[..]);
}

/// A.2: the client's first Initial, a CRYPTO frame padded to 1162 bytes.
fn check_client_initial(v: &Vectors) {
    let mut payload = hex(data::CLIENT_CRYPTO_FRAME);
    payload.resize(data::CLIENT_PAYLOAD_LEN, 0); // PADDING frames
    check_initial_packet(
        v,
        Side::Client,
        v.client_header,
        2,
        &payload,
        v.client_protected,
    );
}

/// A.3: the server's Initial, 2-byte packet number.
fn check_server_initial(v: &Vectors) {
    let payload = hex(data::SERVER_PAYLOAD);
    check_initial_packet(
        v,
        Side::Server,
        v.server_header,
        1,
        &payload,
        v.server_protected,
    );
}

/// The Retry pseudo-packet of A.4 (RFC 9001 §5.8) and the tag it carries.
fn retry_pseudo_packet(v: &Vectors) -> (Vec<u8>, Vec<u8>) {
    let odcid = hex(data::CLIENT_DCID);
    let retry = hex(v.retry);
    let (body, tag) = retry.split_at(retry.len() - 16);
    let mut pseudo = vec![u8::try_from(odcid.len()).unwrap()];
    pseudo.extend_from_slice(&odcid);
    pseudo.extend_from_slice(body);
    (pseudo, tag.to_vec())
}

/// A.4: the Retry Integrity Tag.
fn check_retry(v: &Vectors) {
    let (pseudo, tag) = retry_pseudo_packet(v);
    assert_eq!(
        hex::encode(retry_integrity_tag(v.version, &pseudo).unwrap()),
        hex::encode(&tag),
        "{}",
        v.source
    );
    assert!(verify_retry_integrity(v.version, &pseudo, &tag));
}

/// A.5: a 1-RTT packet under ChaCha20-Poly1305, keys from the given secret.
fn check_chacha20_short_header(v: &Vectors) {
    let secret = hex(data::CHACHA_SECRET);
    let [key, iv, hp] =
        [(0, 32), (1, 12), (2, 32)].map(|(i, len)| hkdf_expand_label(&secret, v.labels[i].0, len));
    assert_eq!(
        [hex::encode(&key), hex::encode(&iv), hex::encode(&hp)],
        [v.chacha_key, v.chacha_iv, v.chacha_hp],
        "{}",
        v.source
    );

    // rustls builds QUIC keys from raw bytes through its suite's `Algorithm`;
    // ChaCha20 keys are 32 bytes, the size `AeadKey` is built from.
    let alg = TLS13_CHACHA20_POLY1305_SHA256
        .tls13()
        .and_then(|suite| suite.quic)
        .unwrap();
    let to_key = |bytes: &[u8]| AeadKey::from(<[u8; 32]>::try_from(bytes).unwrap());
    let keys = DirectionalKeys {
        packet: alg
            .packet_key(
                to_key(&key),
                Iv::from(<[u8; 12]>::try_from(&iv[..]).unwrap()),
            )
            .into(),
        header: alg.header_protection_key(to_key(&hp)).into(),
    };
    assert_eq!(keys.packet.integrity_limit(), 1 << 36); // RFC 9001 §6.6

    let header = hex(data::CHACHA_HEADER);
    let mut packet = [&header[..], &[0x01], &[0; TAG_LEN]].concat(); // one PING frame
    seal_payload(&keys.packet, data::CHACHA_PN, &mut packet, header.len()).unwrap();
    apply_header_protection(&keys.header, &mut packet, 1, 3).unwrap();
    assert_eq!(hex::encode(&packet), v.chacha_packet, "{}", v.source);

    assert_eq!(
        remove_header_protection(&keys.header, &mut packet, 1),
        Ok((0x00bff4, 3))
    );
    assert_eq!(packet[..4], header[..]);
    let range = open_payload(&keys.packet, data::CHACHA_PN, &mut packet, 4).unwrap();
    assert_eq!(packet[range], [0x01]);
}

#[test]
fn v1_initial_keys_match_rfc9001_a1() {
    check_initial_keys(&V1);
}

#[test]
fn v2_initial_keys_match_rfc9369_a1() {
    check_initial_keys(&V2);
}

#[test]
fn v1_client_initial_matches_rfc9001_a2() {
    check_client_initial(&V1);
}

#[test]
fn v2_client_initial_matches_rfc9369_a2() {
    check_client_initial(&V2);
}

#[test]
fn v1_server_initial_matches_rfc9001_a3() {
    check_server_initial(&V1);
}

#[test]
fn v2_server_initial_matches_rfc9369_a3() {
    check_server_initial(&V2);
}

#[test]
fn v1_retry_tag_matches_rfc9001_a4() {
    check_retry(&V1);
}

#[test]
fn v2_retry_tag_matches_rfc9369_a4() {
    check_retry(&V2);
}

#[test]
fn v1_chacha20_short_header_matches_rfc9001_a5() {
    check_chacha20_short_header(&V1);
}

#[test]
fn v2_chacha20_short_header_matches_rfc9369_a5() {
    check_chacha20_short_header(&V2);
}

/// RFC 9001 §5.8: a Retry whose pseudo-packet or tag differs in any bit, or
/// that was tagged for the other version, fails verification.
#[test]
fn retry_tag_rejects_flipped_bits_and_other_versions() {
    for (v, other) in [(&V1, &V2), (&V2, &V1)] {
        let (pseudo, tag) = retry_pseudo_packet(v);
        assert!(!verify_retry_integrity(other.version, &pseudo, &tag));
        for bit in [0, 7, 8 * 9 + 3, pseudo.len() * 8 - 1] {
            let mut bad = pseudo.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify_retry_integrity(v.version, &bad, &tag));
        }
        for bit in [0, 127] {
            let mut bad = tag.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify_retry_integrity(v.version, &pseudo, &bad));
        }
        assert!(!verify_retry_integrity(v.version, &pseudo, &tag[..15]));
        // A different ODCID is a different pseudo-packet.
        let mut other_odcid = pseudo.clone();
        other_odcid[1] ^= 0xff;
        assert!(!verify_retry_integrity(v.version, &other_odcid, &tag));
    }
}

/// RFC 9001 §5.4.2: removing header protection from the Initial vectors also
/// works when the packet ends right after the sample, and only then.
#[test]
fn initial_vectors_cut_after_sample_still_unmask() {
    for v in [&V1, &V2] {
        let dcid = hex(data::CLIENT_DCID);
        let keys = Keys::initial(v.version, &dcid, Side::Server).unwrap();
        let full = hex(v.client_protected);
        let sample_end = INITIAL_PN_OFFSET + 4 + 16;
        let mut cut = full[..sample_end].to_vec();
        assert_eq!(
            remove_header_protection(&keys.remote.header, &mut cut, INITIAL_PN_OFFSET),
            Ok((2, 4))
        );
        let mut shorter = full[..sample_end - 1].to_vec();
        assert!(
            remove_header_protection(&keys.remote.header, &mut shorter, INITIAL_PN_OFFSET).is_err()
        );
        assert_eq!(shorter, full[..sample_end - 1]);
    }
}
