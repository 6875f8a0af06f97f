//! Damaged, truncated and malformed packets: errors, never panics.

use crate::crypto::{
    CryptoError, Keys, TAG_LEN, apply_header_protection, open_payload, remove_header_protection,
    seal_payload, tls_version,
};
use crate::{Side, Version};
use proptest::prelude::*;

const DCID: &[u8] = &[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// A short-header packet with an 8-byte DCID and a 2-byte packet number,
/// protected with `keys.local`: (packet, pn_offset, header_len).
fn protected_packet(keys: &Keys, pn: u64, payload: &[u8]) -> (Vec<u8>, usize, usize) {
    let mut packet = vec![0x41];
    packet.extend_from_slice(DCID);
    let pn_offset = packet.len();
    packet.extend_from_slice(&u16::try_from(pn & 0xffff).unwrap().to_be_bytes());
    let header_len = packet.len();
    packet.extend_from_slice(payload);
    packet.resize(packet.len() + TAG_LEN, 0);
    seal_payload(&keys.local.packet, pn, &mut packet, header_len).unwrap();
    apply_header_protection(&keys.local.header, &mut packet, pn_offset, 2).unwrap();
    (packet, pn_offset, header_len)
}

/// Unprotects `packet` with `keys.remote`, assuming the truncated number is
/// the full one.
fn unprotect(keys: &Keys, packet: &mut [u8], pn_offset: usize) -> Result<Vec<u8>, CryptoError> {
    let (pn, pn_len) = remove_header_protection(&keys.remote.header, packet, pn_offset)?;
    let range = open_payload(&keys.remote.packet, pn.into(), packet, pn_offset + pn_len)?;
    Ok(packet[range].to_vec())
}

fn pair(version: Version) -> (Keys, Keys) {
    (
        Keys::initial(version, DCID, Side::Client).unwrap(),
        Keys::initial(version, DCID, Side::Server).unwrap(),
    )
}

#[test]
fn short_header_round_trips_in_both_directions() {
    for version in Version::SUPPORTED {
        let (client, server) = pair(version);
        let (mut packet, pn_offset, _) = protected_packet(&client, 0x1234, b"hello server");
        assert_eq!(
            unprotect(&server, &mut packet, pn_offset).unwrap(),
            b"hello server"
        );
        let (mut packet, pn_offset, _) = protected_packet(&server, 7, b"hello client");
        assert_eq!(
            unprotect(&client, &mut packet, pn_offset).unwrap(),
            b"hello client"
        );
    }
}

/// RFC 9001 §5.3: any change to header or payload makes the AEAD reject the
/// packet (a flipped bit in the masked packet number changes the nonce).
#[test]
fn packet_with_one_flipped_bit_fails_to_open() {
    let (client, server) = pair(Version::V1);
    let (packet, pn_offset, _) = protected_packet(&client, 9, &[0xab; 40]);
    for bit in 0..packet.len() * 8 {
        let mut damaged = packet.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let result = unprotect(&server, &mut damaged, pn_offset);
        assert!(
            result.is_err(),
            "bit {bit} flipped and the packet still opened"
        );
    }
}

#[test]
fn packets_opened_with_the_wrong_keys_fail_authentication() {
    let (client, _) = pair(Version::V1);
    let (_, server_v2) = pair(Version::V2);
    let (mut packet, pn_offset, _) = protected_packet(&client, 3, b"payload");
    let (pn, pn_len) =
        remove_header_protection(&server_v2.remote.header, &mut packet, pn_offset).unwrap();
    // The wrong header key yields some packet number; the payload must not open.
    let header_len = pn_offset + pn_len;
    assert_eq!(
        open_payload(&server_v2.remote.packet, pn.into(), &mut packet, header_len),
        Err(CryptoError::DecryptFailed)
    );
}

/// RFC 9001 §5.4.2: a packet that ends before the sample does is discarded
/// with an error, and left untouched.
#[test]
fn packet_too_short_to_sample_is_an_error() {
    let (client, server) = pair(Version::V1);
    let (packet, pn_offset, _) = protected_packet(&client, 1, b"abc");
    let sample_end = pn_offset + 4 + 16;
    assert!(packet.len() >= sample_end);
    for len in 0..sample_end {
        let mut cut = packet[..len].to_vec();
        assert_eq!(
            remove_header_protection(&server.remote.header, &mut cut, pn_offset),
            Err(CryptoError::PacketTooShort),
            "length {len}"
        );
        assert_eq!(cut, packet[..len]);
    }
    let mut whole = packet.clone();
    for pn_offset in [0, usize::MAX - 3, usize::MAX] {
        assert_eq!(
            remove_header_protection(&server.remote.header, &mut whole, pn_offset),
            Err(CryptoError::PacketTooShort)
        );
    }
}

#[test]
fn payload_shorter_than_tag_is_an_error() {
    let (_, server) = pair(Version::V1);
    for len in 0..TAG_LEN {
        let mut packet = vec![0x41; 4 + len];
        assert_eq!(
            open_payload(&server.remote.packet, 0, &mut packet, 4),
            Err(CryptoError::PacketTooShort)
        );
    }
    let mut packet = vec![0; 40];
    assert_eq!(
        open_payload(&server.remote.packet, 0, &mut packet, usize::MAX),
        Err(CryptoError::PacketTooShort)
    );
    // An empty payload with a tag is well-formed; this one is just forged.
    let mut packet = vec![0x41; 4 + TAG_LEN];
    assert_eq!(
        open_payload(&server.remote.packet, 0, &mut packet, 4),
        Err(CryptoError::DecryptFailed)
    );
}

#[test]
fn sealing_without_tag_room_is_rejected() {
    let (client, _) = pair(Version::V1);
    let mut packet = vec![0x41; 10 + TAG_LEN - 1];
    assert!(matches!(
        seal_payload(&client.local.packet, 0, &mut packet, 10),
        Err(CryptoError::BadInput(_))
    ));
    assert!(seal_payload(&client.local.packet, 0, &mut packet, usize::MAX).is_err());
}

#[test]
fn header_protection_checks_pn_len_against_first_byte() {
    let (client, _) = pair(Version::V1);
    let mut packet = vec![0x41; 40]; // first byte says 2-byte packet number
    for pn_len in [0, 1, 3, 4, 5] {
        assert!(matches!(
            apply_header_protection(&client.local.header, &mut packet, 5, pn_len),
            Err(CryptoError::BadInput(_))
        ));
    }
    assert_eq!(packet, vec![0x41; 40]);
    assert!(apply_header_protection(&client.local.header, &mut packet, 5, 2).is_ok());
    assert!(apply_header_protection(&client.local.header, &mut packet, 25, 2).is_err());
}

/// RFC 9001 §6.6: AES-128-GCM may protect 2^23 packets per key and reject
/// 2^52 forgeries in total.
#[test]
fn initial_keys_carry_aes_gcm_aead_limits() {
    let (client, server) = pair(Version::V1);
    for key in [&client.local.packet, &server.remote.packet] {
        assert_eq!(key.confidentiality_limit(), 1 << 23);
        assert_eq!(key.integrity_limit(), 1 << 52);
        assert_eq!(key.tag_len(), TAG_LEN);
    }
    assert_eq!(client.local.header.sample_len(), 16);
}

#[test]
fn unsupported_versions_have_no_initial_keys() {
    for version in [
        Version::NEGOTIATION,
        Version::greased(7),
        Version(0xff00_001d),
    ] {
        assert_eq!(tls_version(version).map(|_| ()), None);
        assert_eq!(
            Keys::initial(version, DCID, Side::Client).map(|_| ()),
            Err(CryptoError::UnsupportedVersion(version))
        );
    }
}

proptest! {
    /// Any bytes at any offset: unprotecting returns an error or a payload,
    /// never panics.
    #[test]
    fn unprotecting_arbitrary_bytes_never_panics(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..80),
        pn_offset in 0usize..90,
    ) {
        let (_, server) = pair(Version::V1);
        let _ = unprotect(&server, &mut bytes, pn_offset);
        let _ = open_payload(&server.remote.packet, 0, &mut bytes, pn_offset);
    }

    /// Whatever the payload and packet number, what is sealed opens.
    #[test]
    fn sealed_packets_open_to_the_same_payload(
        payload in proptest::collection::vec(any::<u8>(), 3..200),
        pn in 0u64..0x1_0000,
    ) {
        let (client, server) = pair(Version::V2);
        let (mut packet, pn_offset, _) = protected_packet(&client, pn, &payload);
        prop_assert_eq!(unprotect(&server, &mut packet, pn_offset), Ok(payload));
    }
}
