//! Header round-trips, RFC vectors, malformed input and property tests for
//! every parser in `packet`.

use proptest::prelude::*;

use super::*;
use crate::packet::{InvariantHeader, split_datagram};

const VERSIONS: [Version; 2] = [Version::V1, Version::V2];
const LONG_TYPES: [LongType; 3] = [LongType::Initial, LongType::ZeroRtt, LongType::Handshake];

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

/// A long packet with `payload_len` payload bytes after the packet number.
fn long_packet(
    header: &LongHeader<'_>,
    pn_len: PnLen,
    payload_len: usize,
) -> (Vec<u8>, HeaderLayout) {
    let mut out = Vec::new();
    let layout = header
        .write(&mut out, PacketNumber(0x1234_5678), pn_len)
        .unwrap();
    assert_eq!(out.len(), layout.header_len());
    out.resize(out.len() + payload_len, 0x5a);
    layout.set_length(&mut out, payload_len).unwrap();
    (out, layout)
}

fn sample_long(ty: LongType, version: Version) -> LongHeader<'static> {
    LongHeader {
        ty,
        version,
        dcid: cid(&[0xd0; 20]),
        scid: cid(&[0x5c; 3]),
        token: if ty == LongType::Initial {
            b"a token"
        } else {
            &[]
        },
    }
}

#[test]
fn long_headers_round_trip_for_v1_and_v2() {
    for version in VERSIONS {
        for ty in LONG_TYPES {
            for pn_len in [PnLen::One, PnLen::Two, PnLen::Three, PnLen::Four] {
                let header = sample_long(ty, version);
                let (bytes, layout) = long_packet(&header, pn_len, 33);
                let parsed = ParsedHeader::parse(&bytes, 0).unwrap();
                assert_eq!(parsed.len, bytes.len());
                assert_eq!(
                    parsed.header,
                    Header::Long {
                        header,
                        pn_offset: layout.pn_offset
                    }
                );
                assert_eq!(parsed.header.packet_type(), PacketType::from(ty));
                // The packet number length sits in the (protected) low bits.
                assert_eq!(PnLen::from_first_byte(bytes[0]), pn_len);
                let mut r = Reader::new(&bytes[layout.pn_offset..]);
                assert_eq!(
                    pn_len.read(&mut r).unwrap(),
                    PacketNumber(0x1234_5678).truncate(pn_len)
                );
            }
        }
    }
}

#[test]
fn short_headers_round_trip_with_spin_and_key_phase() {
    for (spin, key_phase) in [(false, false), (true, false), (false, true), (true, true)] {
        let header = ShortHeader {
            dcid: cid(&[1, 2, 3, 4, 5, 6, 7, 8]),
            spin,
        };
        let mut bytes = Vec::new();
        let layout = header.write(&mut bytes, key_phase, PacketNumber(0x0102), PnLen::Two);
        assert_eq!(layout.pn_offset, 9);
        assert_eq!(layout.header_len(), bytes.len());
        assert_eq!(bytes[0] & KEY_PHASE_BIT != 0, key_phase);
        // Short headers have no Length; setting it changes nothing.
        layout.set_length(&mut bytes, 100).unwrap();
        bytes.extend_from_slice(&[0; 20]);
        let parsed = ParsedHeader::parse(&bytes, 8).unwrap();
        assert_eq!(parsed.len, bytes.len());
        assert_eq!(
            parsed.header,
            Header::Short {
                header,
                pn_offset: 9
            }
        );
        assert_eq!(parsed.header.version(), None);
    }
}

#[test]
fn zero_length_short_header_cid_parses() {
    let bytes = [FIXED_BIT, 0xab, 0xcd];
    let parsed = ParsedHeader::parse(&bytes, 0).unwrap();
    assert_eq!(parsed.header.pn_offset(), Some(1));
    assert!(parsed.header.dcid().is_empty());
}

/// The unprotected client Initial header of RFC 9001 §A.2 (v1) and RFC 9369 §A.2 (v2).
#[test]
fn rfc_a2_client_initial_headers_parse_with_pn_offset_18() {
    for (hex, version) in [
        ("c300000001088394c8f03e5157080000449e00000002", Version::V1),
        ("d36b3343cf088394c8f03e5157080000449e00000002", Version::V2),
    ] {
        let header_bytes = hex::decode(hex).unwrap();
        // Length 0x449e = 1182 covers the 4-byte packet number and 1178 more bytes.
        let mut packet = header_bytes.clone();
        packet.resize(18 + 1182, 0);
        let parsed = ParsedHeader::parse(&packet, 0).unwrap();
        assert_eq!(parsed.len, 1200);
        let expected = LongHeader {
            ty: LongType::Initial,
            version,
            dcid: cid(&hex::decode("8394c8f03e515708").unwrap()),
            scid: ConnectionId::EMPTY,
            token: &[],
        };
        assert_eq!(
            parsed.header,
            Header::Long {
                header: expected,
                pn_offset: 18
            }
        );
        let pn_len = PnLen::from_first_byte(packet[0]);
        assert_eq!(pn_len, PnLen::Four);
        assert_eq!(pn_len.read(&mut Reader::new(&packet[18..])).unwrap(), 2);

        // Writing the same fields reproduces the header byte for byte.
        let mut written = Vec::new();
        let layout = expected
            .write(&mut written, PacketNumber(2), PnLen::Four)
            .unwrap();
        layout.set_length(&mut written, 1178).unwrap();
        assert_eq!(written, header_bytes);
    }
}

/// The unprotected server Initial header of RFC 9001 §A.3.
#[test]
fn rfc9001_a3_server_initial_header_rewrites_byte_for_byte() {
    let header_bytes = hex::decode("c1000000010008f067a5502a4262b50040750001").unwrap();
    let mut packet = header_bytes.clone();
    packet.resize(18 + 0x75, 0);
    let parsed = ParsedHeader::parse(&packet, 0).unwrap();
    let Header::Long { header, pn_offset } = parsed.header else {
        panic!("not a long header: {parsed:?}");
    };
    assert_eq!(pn_offset, 18);
    assert_eq!(header.scid, cid(&hex::decode("f067a5502a4262b5").unwrap()));
    let mut written = Vec::new();
    let layout = header
        .write(&mut written, PacketNumber(1), PnLen::Two)
        .unwrap();
    layout.set_length(&mut written, 0x75 - 2).unwrap();
    assert_eq!(written, header_bytes);
}

#[test]
fn every_truncation_of_a_long_packet_is_an_error() {
    for version in VERSIONS {
        for ty in LONG_TYPES {
            let (bytes, _) = long_packet(&sample_long(ty, version), PnLen::Two, 5);
            for cut in 0..bytes.len() {
                assert!(
                    ParsedHeader::parse(&bytes[..cut], 0).is_err(),
                    "{ty:?} cut {cut}"
                );
            }
        }
    }
}

#[test]
fn every_truncation_of_a_short_header_is_an_error() {
    let bytes = [FIXED_BIT, 1, 2, 3, 4, 5, 6, 7, 8];
    for cut in 0..bytes.len() {
        let err = ParsedHeader::parse(&bytes[..cut], 8);
        assert_eq!(err, Err(PacketError::UnexpectedEnd), "cut {cut}");
    }
}

/// RFC 9000 §17.2: v1 connection IDs stop at 20 bytes; RFC 8999 §5.1 allows 255.
#[test]
fn cid_of_21_bytes_is_rejected_for_v1_but_not_by_the_invariant_parser() {
    for version in VERSIONS {
        let mut bytes = vec![0xc0];
        bytes.extend_from_slice(&version.0.to_be_bytes());
        bytes.push(21);
        bytes.extend_from_slice(&[7; 21]);
        bytes.extend_from_slice(&[0, 0, 1, 0]);
        assert_eq!(
            ParsedHeader::parse(&bytes, 0),
            Err(PacketError::CidTooLong(21))
        );
        let invariant = InvariantHeader::parse(&bytes, 0).unwrap();
        assert_eq!(invariant.dcid(), &[7; 21][..]);
    }
}

#[test]
fn short_header_local_cid_over_20_bytes_is_rejected() {
    let bytes = [FIXED_BIT; 30];
    assert_eq!(
        ParsedHeader::parse(&bytes, 21),
        Err(PacketError::CidTooLong(21))
    );
}

#[test]
fn length_past_the_datagram_end_is_an_error() {
    let (mut bytes, _) = long_packet(
        &sample_long(LongType::Handshake, Version::V1),
        PnLen::One,
        10,
    );
    bytes.pop();
    assert_eq!(
        ParsedHeader::parse(&bytes, 0),
        Err(PacketError::LengthPastEnd)
    );
}

#[test]
fn huge_length_field_is_an_error_not_an_overflow() {
    let mut bytes = vec![0xe0, 0, 0, 0, 1, 0, 0];
    bytes.extend_from_slice(&[0xff; 8]);
    assert_eq!(
        ParsedHeader::parse(&bytes, 0),
        Err(PacketError::LengthPastEnd)
    );
}

/// RFC 9000 §17.2 and §17.3.1: packets with the fixed bit at 0 are discarded.
#[test]
fn fixed_bit_zero_is_an_error_for_long_and_short_headers() {
    for version in VERSIONS {
        let (mut bytes, _) = long_packet(&sample_long(LongType::Initial, version), PnLen::One, 10);
        bytes[0] &= !FIXED_BIT;
        assert_eq!(
            ParsedHeader::parse(&bytes, 0),
            Err(PacketError::FixedBitZero)
        );
    }
    assert_eq!(
        ParsedHeader::parse(&[0x00; 10], 4),
        Err(PacketError::FixedBitZero)
    );
}

#[test]
fn unknown_version_is_an_error_for_the_version_specific_parser() {
    let mut bytes = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 0, 0];
    bytes.extend_from_slice(&[0; 20]);
    let err = ParsedHeader::parse(&bytes, 0);
    assert_eq!(
        err,
        Err(PacketError::UnsupportedVersion(Version(0x1a2a_3a4a)))
    );
    let header = LongHeader {
        version: Version(0x1a2a_3a4a),
        ..sample_long(LongType::Handshake, Version::V1)
    };
    let err = header.write(&mut Vec::new(), PacketNumber(0), PnLen::One);
    assert_eq!(
        err,
        Err(PacketError::UnsupportedVersion(Version(0x1a2a_3a4a)))
    );
}

/// RFC 9369 §3.2: the same type bits mean different packets in v1 and v2.
#[test]
fn v2_type_bits_differ_from_v1() {
    let first_byte = |version, ty| {
        let (bytes, _) = long_packet(&sample_long(ty, version), PnLen::One, 1);
        (bytes[0] >> 4) & 0x03
    };
    assert_eq!(first_byte(Version::V1, LongType::Initial), 0b00);
    assert_eq!(first_byte(Version::V1, LongType::ZeroRtt), 0b01);
    assert_eq!(first_byte(Version::V1, LongType::Handshake), 0b10);
    assert_eq!(first_byte(Version::V2, LongType::Initial), 0b01);
    assert_eq!(first_byte(Version::V2, LongType::ZeroRtt), 0b10);
    assert_eq!(first_byte(Version::V2, LongType::Handshake), 0b11);
}

#[test]
fn header_parser_recognises_retry_and_version_negotiation() {
    let retry =
        hex::decode("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba")
            .unwrap();
    let parsed = ParsedHeader::parse(&retry, 0).unwrap();
    assert_eq!(parsed.header.packet_type(), PacketType::Retry);
    assert_eq!(parsed.header.pn_offset(), None);
    assert_eq!(parsed.len, retry.len());

    let mut vn = Vec::new();
    VersionNegotiation::write(&mut vn, 0, &[1; 30], &[2; 4], &[Version::V1]).unwrap();
    let parsed = ParsedHeader::parse(&vn, 0).unwrap();
    assert_eq!(parsed.header.packet_type(), PacketType::VersionNegotiation);
    assert_eq!(parsed.header.dcid(), &[1; 30][..]);
    assert_eq!(parsed.len, vn.len());
}

/// The Length placeholder holds at most 2^14 - 1.
#[test]
fn set_length_rejects_packets_too_long_for_two_bytes() {
    let header = sample_long(LongType::Handshake, Version::V1);
    let mut bytes = Vec::new();
    let layout = header
        .write(&mut bytes, PacketNumber(0), PnLen::Two)
        .unwrap();
    assert_eq!(
        layout.set_length(&mut bytes, MAX_LONG_PACKET_LENGTH - 2),
        Ok(())
    );
    let err = layout.set_length(&mut bytes, MAX_LONG_PACKET_LENGTH - 1);
    assert_eq!(err, Err(PacketError::LengthTooLarge));
    let err = layout.set_length(&mut bytes[..5], 10);
    assert_eq!(err, Err(PacketError::UnexpectedEnd));
}

fn arb_cid() -> impl Strategy<Value = ConnectionId> {
    proptest::collection::vec(any::<u8>(), 0..=20).prop_map(|bytes| cid(&bytes))
}

/// Random bytes behind a first byte and version likely to reach deep parsing.
fn arb_packet_bytes() -> impl Strategy<Value = Vec<u8>> {
    let version = prop_oneof![
        Just(Version::V1.0),
        Just(Version::V2.0),
        Just(0u32),
        any::<u32>()
    ];
    let cid = || {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..=21),
            proptest::collection::vec(any::<u8>(), 0..=255),
        ]
    };
    // Small one-byte varints keep token and Length plausible half the time.
    let small = prop_oneof![0u8..64, any::<u8>()];
    (
        prop_oneof![any::<u8>(), 0xc0u8..=0xff],
        version,
        cid(),
        cid(),
        (small.clone(), small),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(first, version, dcid, scid, (a, b), rest)| {
            let mut out = vec![first];
            out.extend_from_slice(&version.to_be_bytes());
            for cid in [dcid, scid] {
                out.push(cid.len() as u8);
                out.extend_from_slice(&cid);
            }
            out.extend_from_slice(&[a, b]);
            out.extend_from_slice(&rest);
            out
        })
}

proptest! {
    // Few random inputs get past the version and CID checks; run many.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn written_long_headers_parse_to_the_same_fields(
        version in proptest::sample::select(VERSIONS.to_vec()),
        ty in proptest::sample::select(LONG_TYPES.to_vec()),
        dcid in arb_cid(), scid in arb_cid(),
        token in proptest::collection::vec(any::<u8>(), 0..100),
        pn in 0u64..(1 << 62), pn_bytes in 1usize..=4, payload_len in 0usize..200,
    ) {
        let token = if ty == LongType::Initial { &token[..] } else { &[] };
        let header = LongHeader { ty, version, dcid, scid, token };
        let pn_len = PnLen::new(pn_bytes).unwrap();
        let mut bytes = Vec::new();
        let layout = header.write(&mut bytes, PacketNumber(pn), pn_len).unwrap();
        bytes.resize(bytes.len() + payload_len, 0);
        layout.set_length(&mut bytes, payload_len).unwrap();
        let total = bytes.len();
        bytes.extend_from_slice(&[0xff; 7]); // whatever follows in the datagram
        let parsed = ParsedHeader::parse(&bytes, 0).unwrap();
        prop_assert_eq!(parsed.len, total);
        prop_assert_eq!(parsed.header, Header::Long { header, pn_offset: layout.pn_offset });
    }

    #[test]
    fn every_parser_survives_arbitrary_bytes(data in arb_packet_bytes(), cid_len in 0usize..=21) {
        let _ = InvariantHeader::parse(&data, cid_len);
        let _ = ParsedHeader::parse(&data, cid_len);
        let _ = Retry::parse(&data);
        let _ = VersionNegotiation::parse(&data);
        for packet in split_datagram(&data, cid_len) {
            if packet.is_err() {
                break;
            }
        }
    }

    /// Whatever parses, written back out, parses to the same fields.
    #[test]
    fn parsed_headers_rewrite_to_the_same_fields(data in arb_packet_bytes(), cid_len in 0usize..=20) {
        let Ok(parsed) = ParsedHeader::parse(&data, cid_len) else { return Ok(()) };
        prop_assert!(parsed.len <= data.len());
        let mut out = Vec::new();
        match parsed.header {
            Header::Long { header, .. } => {
                let layout = header.write(&mut out, PacketNumber(0), PnLen::One).unwrap();
                layout.set_length(&mut out, 0).unwrap();
                let again = ParsedHeader::parse(&out, cid_len).unwrap();
                prop_assert_eq!(again.header, Header::Long { header, pn_offset: layout.pn_offset });
            }
            Header::Short { header, pn_offset } => {
                header.write(&mut out, false, PacketNumber(0), PnLen::One);
                let again = ParsedHeader::parse(&out, cid_len).unwrap();
                prop_assert_eq!(again.header, Header::Short { header, pn_offset });
            }
            Header::Retry { retry, integrity_tag } => {
                retry.write(&mut out).unwrap();
                out.extend_from_slice(&integrity_tag);
                prop_assert_eq!(&out[..], &data[..]);
            }
            Header::VersionNegotiation(vn) => {
                let versions: Vec<Version> = vn.versions().collect();
                VersionNegotiation::write(&mut out, vn.unused_bits, vn.dcid, vn.scid, &versions)
                    .unwrap();
                let again = VersionNegotiation::parse(&out).unwrap();
                prop_assert_eq!(again.dcid, vn.dcid);
                prop_assert_eq!(again.scid, vn.scid);
                prop_assert!(again.versions().eq(versions));
            }
        }
    }
}
