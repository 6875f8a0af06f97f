use super::*;
use crate::error::TransportErrorCode;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

/// Encodes `params`, checking that `encoded_len` agrees with what was written.
fn encode(params: &TransportParameters) -> Vec<u8> {
    let mut out = Vec::new();
    params.encode(&mut out);
    assert_eq!(out.len(), params.encoded_len());
    out
}

/// One raw (id, length, value) parameter, written by hand.
fn raw(id: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_varint_u64(id);
    out.put_varint_u64(value.len() as u64);
    out.extend_from_slice(value);
    out
}

/// A raw parameter whose value is the varint `v`.
fn raw_int(id: u64, v: u64) -> Vec<u8> {
    let mut value = Vec::new();
    value.put_varint_u64(v);
    raw(id, &value)
}

/// Decodes `bytes` expecting a TRANSPORT_PARAMETER_ERROR, and returns its reason.
fn rejected(bytes: &[u8], sent_by: Side) -> &'static str {
    let err = TransportParameters::decode(bytes, sent_by).unwrap_err();
    assert_eq!(err.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR);
    assert_eq!(err.frame_type, None);
    err.reason
}

fn accepted(bytes: &[u8], sent_by: Side) -> TransportParameters {
    TransportParameters::decode(bytes, sent_by).unwrap()
}

fn preferred_address() -> PreferredAddress {
    PreferredAddress {
        address_v4: Some(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 7), 4433)),
        address_v6: Some(SocketAddrV6::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7),
            4434,
            0,
            0,
        )),
        connection_id: cid(&[9; 20]),
        stateless_reset_token: ResetToken([0xab; 16]),
    }
}

/// A client's set with every field a client may send away from its default.
fn full_client_set() -> TransportParameters {
    TransportParameters {
        max_idle_timeout: Duration::from_secs(30),
        max_udp_payload_size: VarInt::from_u32(1452),
        initial_max_data: VarInt::from_u32(1 << 20),
        initial_max_stream_data_bidi_local: VarInt::from_u32(1 << 18),
        initial_max_stream_data_bidi_remote: VarInt::from_u32(1 << 17),
        initial_max_stream_data_uni: VarInt::from_u32(1 << 16),
        initial_max_streams_bidi: VarInt::from_u32(100),
        initial_max_streams_uni: VarInt::from_u32(3),
        ack_delay_exponent: 5,
        max_ack_delay: Duration::from_millis(10),
        disable_active_migration: true,
        active_connection_id_limit: VarInt::from_u32(8),
        initial_source_connection_id: Some(cid(&[1, 2, 3, 4, 5, 6, 7, 8])),
        version_information: Some(VersionInformation {
            chosen_version: Version::V1,
            available_versions: vec![Version::V2, Version::V1, Version::greased(7)],
        }),
        max_datagram_frame_size: Some(VarInt::from_u32(65_535)),
        ..TransportParameters::default()
    }
}

/// A server's set with every field away from its default.
fn full_server_set() -> TransportParameters {
    TransportParameters {
        original_destination_connection_id: Some(cid(&[0xd0; 8])),
        stateless_reset_token: Some(ResetToken([0x5e; 16])),
        preferred_address: Some(preferred_address()),
        retry_source_connection_id: Some(cid(&[0xee; 5])),
        max_udp_payload_size: VarInt::MAX,
        initial_max_data: VarInt::MAX,
        initial_max_streams_bidi: VarInt::from_u64(MAX_STREAMS_BOUND).unwrap(),
        ..full_client_set()
    }
}

#[test]
fn full_server_set_round_trips() {
    let params = full_server_set();
    let bytes = encode(&params);
    assert_eq!(accepted(&bytes, Side::Server), params);
}

#[test]
fn full_client_set_round_trips() {
    let params = full_client_set();
    let bytes = encode(&params);
    assert_eq!(accepted(&bytes, Side::Client), params);
    // What a client may send, a server may send too.
    assert_eq!(accepted(&bytes, Side::Server), params);
}

#[test]
fn full_sets_pass_their_own_validation() {
    full_client_set().validate(Side::Client).unwrap();
    full_server_set().validate(Side::Server).unwrap();
}

/// RFC 9000 §18.2: absent parameters take their defaults.
#[test]
fn empty_extension_decodes_to_rfc_defaults() {
    for side in [Side::Client, Side::Server] {
        let params = accepted(&[], side);
        assert_eq!(params, TransportParameters::default());
        assert_eq!(params.max_idle_timeout, Duration::ZERO);
        assert_eq!(params.max_udp_payload_size.into_inner(), 65_527);
        assert_eq!(params.ack_delay_exponent, 3);
        assert_eq!(params.max_ack_delay, Duration::from_millis(25));
        assert_eq!(params.active_connection_id_limit.into_inner(), 2);
        assert_eq!(params.initial_max_data, VarInt::ZERO);
        assert_eq!(params.initial_max_stream_data_bidi_local, VarInt::ZERO);
        assert_eq!(params.initial_max_stream_data_bidi_remote, VarInt::ZERO);
        assert_eq!(params.initial_max_stream_data_uni, VarInt::ZERO);
        assert_eq!(params.initial_max_streams_bidi, VarInt::ZERO);
        assert_eq!(params.initial_max_streams_uni, VarInt::ZERO);
        assert!(!params.disable_active_migration);
        assert_eq!(params.original_destination_connection_id, None);
        assert_eq!(params.initial_source_connection_id, None);
        assert_eq!(params.retry_source_connection_id, None);
        assert_eq!(params.stateless_reset_token, None);
        assert_eq!(params.preferred_address, None);
        assert_eq!(params.max_datagram_frame_size, None);
        assert_eq!(params.version_information, None);
    }
}

#[test]
fn default_values_are_not_written() {
    assert!(encode(&TransportParameters::default()).is_empty());
    // Explicitly default values are left out too.
    let params = TransportParameters {
        max_ack_delay: Duration::from_micros(25_400),
        ..TransportParameters::default()
    };
    assert!(encode(&params).is_empty());
}

#[test]
fn present_options_are_written_even_when_empty_or_zero() {
    let params = TransportParameters {
        initial_source_connection_id: Some(ConnectionId::EMPTY),
        max_datagram_frame_size: Some(VarInt::ZERO),
        ..TransportParameters::default()
    };
    let bytes = encode(&params);
    assert_eq!(bytes, [raw(0x0f, &[]), raw_int(0x20, 0)].concat());
    assert_eq!(accepted(&bytes, Side::Client), params);
}

#[test]
fn integer_parameters_decode_with_their_units() {
    let bytes = [
        raw_int(0x01, 30_000),
        raw_int(0x0b, 40),
        raw_int(0x0a, 0),
        raw_int(0x04, 1 << 40),
    ]
    .concat();
    let params = accepted(&bytes, Side::Client);
    assert_eq!(params.max_idle_timeout, Duration::from_secs(30));
    assert_eq!(params.max_ack_delay, Duration::from_millis(40));
    assert_eq!(params.ack_delay_exponent, 0);
    assert_eq!(params.initial_max_data.into_inner(), 1 << 40);
}

/// RFC 9000 §7.4: a repeated parameter is a TRANSPORT_PARAMETER_ERROR.
#[test]
fn repeated_parameter_is_transport_parameter_error() {
    let bytes = [raw_int(0x04, 10), raw_int(0x05, 1), raw_int(0x04, 10)].concat();
    assert_eq!(
        rejected(&bytes, Side::Client),
        "transport parameter sent twice"
    );
}

#[test]
fn repeated_unknown_parameter_is_transport_parameter_error() {
    let bytes = [raw(0x1b, &[1]), raw(0x1b, &[2])].concat();
    assert_eq!(
        rejected(&bytes, Side::Server),
        "transport parameter sent twice"
    );
}

#[test]
fn integer_value_shorter_than_its_length_is_error() {
    // A one-byte varint in a two-byte value.
    let bytes = raw(0x04, &[0x05, 0x00]);
    assert_eq!(
        rejected(&bytes, Side::Client),
        "integer parameter does not fill its length"
    );
}

#[test]
fn integer_value_longer_than_its_length_is_error() {
    // A two-byte varint prefix in a one-byte value.
    let bytes = raw(0x04, &[0x40]);
    assert_eq!(
        rejected(&bytes, Side::Client),
        "integer parameter does not fill its length"
    );
}

#[test]
fn empty_integer_value_is_error() {
    for id in [
        0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0e, 0x20,
    ] {
        let reason = rejected(&raw(id, &[]), Side::Client);
        assert_eq!(
            reason, "integer parameter does not fill its length",
            "{id:#x}"
        );
    }
}

#[test]
fn non_minimal_integer_filling_its_length_is_accepted() {
    // RFC 9000 §16 allows longer encodings; 10 in four bytes.
    let params = accepted(&raw(0x04, &[0x80, 0, 0, 10]), Side::Client);
    assert_eq!(params.initial_max_data.into_inner(), 10);
}

#[test]
fn parameter_length_past_the_end_is_error() {
    let mut bytes = raw_int(0x04, 10);
    bytes.pop();
    assert_eq!(rejected(&bytes, Side::Client), "truncated parameter");
}

#[test]
fn stateless_reset_token_not_16_bytes_is_error() {
    for len in [0, 15, 17] {
        let reason = rejected(&raw(0x02, &vec![1; len]), Side::Server);
        assert_eq!(reason, "stateless_reset_token is not 16 bytes", "{len}");
    }
}

#[test]
fn connection_id_longer_than_20_bytes_is_error() {
    for id in [0x00, 0x0f, 0x10] {
        let reason = rejected(&raw(id, &[7; 21]), Side::Server);
        assert_eq!(reason, "connection ID longer than 20 bytes", "{id:#x}");
        accepted(&raw(id, &[7; 20]), Side::Server);
    }
}

#[test]
fn preferred_address_with_wrong_length_is_error() {
    let mut value = Vec::new();
    preferred_address().encode(&mut value);
    for cut in 0..value.len() {
        let reason = rejected(&raw(0x0d, &value[..cut]), Side::Server);
        assert_eq!(reason, "malformed preferred_address", "cut {cut}");
    }
    value.push(0);
    let reason = rejected(&raw(0x0d, &value), Side::Server);
    assert_eq!(reason, "malformed preferred_address");
}

#[test]
fn preferred_address_cid_longer_than_20_bytes_is_error() {
    let mut value = vec![0; 24];
    value.push(21);
    value.extend_from_slice(&[1; 21]);
    value.extend_from_slice(&[2; 16]);
    let reason = rejected(&raw(0x0d, &value), Side::Server);
    assert_eq!(reason, "preferred_address CID longer than 20 bytes");
}

/// RFC 9000 §18.2: a preferred address must not carry a zero-length connection ID.
#[test]
fn preferred_address_with_zero_length_cid_is_error() {
    let params = TransportParameters {
        preferred_address: Some(PreferredAddress {
            connection_id: ConnectionId::EMPTY,
            ..preferred_address()
        }),
        ..TransportParameters::default()
    };
    assert_eq!(
        rejected(&encode(&params), Side::Server),
        "preferred_address with a zero-length connection ID"
    );
}

/// RFC 9000 §18.2: an all-zero address and port means that family is not offered.
#[test]
fn preferred_address_all_zero_family_decodes_as_none() {
    for (v4, v6) in [(true, false), (false, true), (false, false)] {
        let preferred = PreferredAddress {
            address_v4: preferred_address().address_v4.filter(|_| v4),
            address_v6: preferred_address().address_v6.filter(|_| v6),
            ..preferred_address()
        };
        let params = TransportParameters {
            preferred_address: Some(preferred),
            ..TransportParameters::default()
        };
        let bytes = encode(&params);
        assert_eq!(accepted(&bytes, Side::Server), params);
    }
    // An unspecified IP with a port is still an address.
    let preferred = PreferredAddress {
        address_v4: Some(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 443)),
        ..preferred_address()
    };
    let params = TransportParameters {
        preferred_address: Some(preferred),
        ..TransportParameters::default()
    };
    assert_eq!(accepted(&encode(&params), Side::Server), params);
}

/// RFC 9000 §18.2: ack_delay_exponent values above 20 are invalid.
#[test]
fn ack_delay_exponent_above_20_is_error() {
    assert_eq!(
        accepted(&raw_int(0x0a, 20), Side::Client).ack_delay_exponent,
        20
    );
    for v in [21, 255, 256, VarInt::MAX.into_inner()] {
        let reason = rejected(&raw_int(0x0a, v), Side::Client);
        assert_eq!(reason, "ack_delay_exponent above 20", "{v}");
    }
}

/// RFC 9000 §18.2: max_ack_delay values of 2^14 or more are invalid.
#[test]
fn max_ack_delay_of_2_pow_14_ms_is_error() {
    let ok = accepted(&raw_int(0x0b, (1 << 14) - 1), Side::Client);
    assert_eq!(ok.max_ack_delay, Duration::from_millis(16_383));
    for v in [1 << 14, VarInt::MAX.into_inner()] {
        let reason = rejected(&raw_int(0x0b, v), Side::Client);
        assert_eq!(reason, "max_ack_delay of 2^14 ms or more", "{v}");
    }
}

/// RFC 9000 §18.2: active_connection_id_limit must be at least 2.
#[test]
fn active_connection_id_limit_below_2_is_error() {
    accepted(&raw_int(0x0e, 2), Side::Client);
    for v in [0, 1] {
        let reason = rejected(&raw_int(0x0e, v), Side::Client);
        assert_eq!(reason, "active_connection_id_limit below 2", "{v}");
    }
}

/// RFC 9000 §18.2: max_udp_payload_size values below 1200 are invalid.
#[test]
fn max_udp_payload_size_below_1200_is_error() {
    accepted(&raw_int(0x03, 1200), Side::Client);
    for v in [0, 1199] {
        let reason = rejected(&raw_int(0x03, v), Side::Client);
        assert_eq!(reason, "max_udp_payload_size below 1200", "{v}");
    }
}

/// RFC 9000 §4.6: a stream limit above 2^60 is a TRANSPORT_PARAMETER_ERROR.
#[test]
fn initial_max_streams_above_2_pow_60_is_error() {
    for id in [0x08, 0x09] {
        accepted(&raw_int(id, 1 << 60), Side::Client);
        let reason = rejected(&raw_int(id, (1 << 60) + 1), Side::Client);
        assert_eq!(reason, "initial_max_streams above 2^60", "{id:#x}");
    }
}

/// RFC 9000 §18.2: a server treats any of the four server-only parameters from a
/// client as a TRANSPORT_PARAMETER_ERROR.
#[test]
fn client_sending_server_only_parameter_is_error() {
    let mut preferred = Vec::new();
    preferred_address().encode(&mut preferred);
    let cases = [
        (
            raw(0x00, &[1, 2, 3, 4]),
            "client sent original_destination_connection_id",
        ),
        (raw(0x02, &[3; 16]), "client sent stateless_reset_token"),
        (raw(0x0d, &preferred), "client sent preferred_address"),
        (raw(0x10, &[5; 8]), "client sent retry_source_connection_id"),
    ];
    for (bytes, reason) in cases {
        assert_eq!(rejected(&bytes, Side::Client), reason);
        accepted(&bytes, Side::Server);
    }
}

/// RFC 9000 §18.2: disable_active_migration is a zero-length value.
#[test]
fn disable_active_migration_with_a_value_is_error() {
    assert!(accepted(&raw(0x0c, &[]), Side::Client).disable_active_migration);
    let reason = rejected(&raw(0x0c, &[0]), Side::Client);
    assert_eq!(reason, "disable_active_migration carries a value");
}

/// RFC 9368 §3: the value is whole 32-bit versions, the chosen one at least.
#[test]
fn version_information_length_not_multiple_of_4_is_error() {
    for len in [0, 1, 3, 5, 7, 9] {
        let reason = rejected(&raw(0x11, &vec![1; len]), Side::Client);
        assert_eq!(
            reason, "version_information length not a positive multiple of 4",
            "{len}"
        );
    }
}

/// RFC 9368 §3: a chosen version of 0 is a parsing failure.
#[test]
fn version_information_with_chosen_version_0_is_error() {
    let reason = rejected(&raw(0x11, &[0, 0, 0, 0, 0, 0, 0, 1]), Side::Server);
    assert_eq!(reason, "version_information names version 0");
}

/// RFC 9368 §3: an available version of 0 is a parsing failure.
#[test]
fn version_information_with_available_version_0_is_error() {
    let reason = rejected(
        &raw(0x11, &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]),
        Side::Client,
    );
    assert_eq!(reason, "version_information names version 0");
}

#[test]
fn version_information_with_only_a_chosen_version_decodes() {
    let params = accepted(&raw(0x11, &[0x6b, 0x33, 0x43, 0xcf]), Side::Server);
    let expected = VersionInformation {
        chosen_version: Version::V2,
        available_versions: vec![],
    };
    assert_eq!(params.version_information, Some(expected));
}

/// RFC 9000 §7.4.2: unknown parameters are ignored, whatever their value.
#[test]
fn unknown_parameters_are_skipped() {
    let bytes = [
        raw(0x21, &[0xff; 3]),
        raw_int(0x04, 77),
        raw(0x1b, &[]),
        raw(0xff04_de1b, &[1, 2]),
        raw(0x3fff_ffff_ffff_ffff, &[9; 40]),
    ]
    .concat();
    let params = accepted(&bytes, Side::Client);
    let expected = TransportParameters {
        initial_max_data: VarInt::from_u32(77),
        ..TransportParameters::default()
    };
    assert_eq!(params, expected);
}

/// RFC 9000 §18.1: a greased parameter has a reserved id and is skipped by decoders.
#[test]
fn greased_parameter_is_reserved_and_skipped() {
    let params = full_server_set();
    let plain = encode(&params);
    let mut ids = HashSet::new();
    for seed in 0..256u64 {
        let mut greased = Vec::new();
        params.encode_greased(&mut greased, seed.wrapping_mul(0x1234_5678_9abc_def1));
        assert_eq!(
            greased.len(),
            params.encoded_len_greased(seed.wrapping_mul(0x1234_5678_9abc_def1))
        );
        assert_eq!(&greased[..plain.len()], &plain[..]);
        let mut r = Reader::new(&greased[plain.len()..]);
        let id = r.varint_u64().unwrap();
        let len = r.varint_u64().unwrap();
        assert_eq!(id % 31, 27, "{id:#x}");
        assert!(len <= 16);
        assert_eq!(r.remaining() as u64, len);
        ids.insert(id);
        assert_eq!(accepted(&greased, Side::Server), params);
    }
    assert!(ids.len() > 250, "grease ids should vary with the seed");
}

/// Every cut of an encoded set either errors or, exactly at a parameter boundary,
/// decodes to the parameters before it; none panics.
#[test]
fn every_truncation_of_an_encoded_set_errors_or_is_a_prefix() {
    let params = full_server_set();
    let bytes = encode(&params);
    let mut decoded_cuts = 0;
    for cut in 0..bytes.len() {
        if let Ok(prefix) = TransportParameters::decode(&bytes[..cut], Side::Server) {
            assert_eq!(encode(&prefix), &bytes[..cut], "cut {cut}");
            decoded_cuts += 1;
        }
    }
    // Cuts at 0 and after each but the last of the 19 parameters.
    assert_eq!(decoded_cuts, 19);
}

/// Every cut inside a single parameter is an error.
#[test]
fn every_truncation_inside_a_parameter_is_error() {
    let params = full_server_set();
    let bytes = encode(&params);
    let mut r = Reader::new(&bytes);
    while !r.is_empty() {
        let start = r.position();
        let _id = r.varint_u64().unwrap();
        let len = r.varint_u64().unwrap();
        r.skip(len as usize).unwrap();
        for cut in start + 1..r.position() {
            assert!(TransportParameters::decode(&bytes[start..cut], Side::Server).is_err());
        }
    }
}

/// Decodes as `sent_by`; what decodes must re-encode and decode to the same set.
fn check_round_trip(bytes: &[u8], sent_by: Side) -> Result<(), TestCaseError> {
    if let Ok(params) = TransportParameters::decode(bytes, sent_by) {
        let again = encode(&params);
        prop_assert_eq!(TransportParameters::decode(&again, sent_by), Ok(params));
    }
    Ok(())
}

/// One parameter with an id near the known ones (or a reserved one) and a short value.
fn raw_param() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![0u64..=0x22, (0u64..1000).prop_map(|n| 31 * n + 27)];
    let value = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48),
        (0u64..(1 << 62)).prop_map(|v| {
            let mut out = Vec::new();
            out.put_varint_u64(v);
            out
        }),
    ];
    (id, value).prop_map(|(id, value)| raw(id, &value))
}

fn opt_cid() -> impl Strategy<Value = Option<ConnectionId>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=20).prop_map(|b| cid(&b)))
}

fn varint() -> impl Strategy<Value = VarInt> {
    (0u64..(1 << 62)).prop_map(VarInt::saturating)
}

fn version() -> impl Strategy<Value = Version> {
    (1u32..).prop_map(Version)
}

fn preferred() -> impl Strategy<Value = PreferredAddress> {
    (
        proptest::option::of((any::<[u8; 4]>(), 1u16..)),
        proptest::option::of((any::<[u8; 16]>(), 1u16..)),
        proptest::collection::vec(any::<u8>(), 1..=20),
        any::<[u8; 16]>(),
    )
        .prop_map(|(v4, v6, id, token)| PreferredAddress {
            address_v4: v4.map(|(ip, port)| SocketAddrV4::new(ip.into(), port)),
            address_v6: v6.map(|(ip, port)| SocketAddrV6::new(ip.into(), port, 0, 0)),
            connection_id: cid(&id),
            stateless_reset_token: ResetToken(token),
        })
}

/// Any valid server set (a client's is the same without the server-only fields).
fn valid_server_set() -> impl Strategy<Value = TransportParameters> {
    let ids = (opt_cid(), opt_cid(), opt_cid());
    let server = (
        proptest::option::of(any::<[u8; 16]>().prop_map(ResetToken)),
        proptest::option::of(preferred()),
    );
    let limits = (
        (1200u64..(1 << 62)).prop_map(VarInt::saturating),
        varint(),
        varint(),
        varint(),
        varint(),
        (0..=MAX_STREAMS_BOUND).prop_map(VarInt::saturating),
        (0..=MAX_STREAMS_BOUND).prop_map(VarInt::saturating),
        (2u64..(1 << 62)).prop_map(VarInt::saturating),
    );
    let timing = (0u64..(1 << 62), 0..=MAX_ACK_DELAY_EXPONENT, 0u64..(1 << 14));
    let misc = (
        any::<bool>(),
        proptest::option::of((version(), proptest::collection::vec(version(), 0..5))),
        proptest::option::of(varint()),
    );
    (ids, server, limits, timing, misc).prop_map(|(ids, server, limits, timing, misc)| {
        TransportParameters {
            original_destination_connection_id: ids.0,
            initial_source_connection_id: ids.1,
            retry_source_connection_id: ids.2,
            stateless_reset_token: server.0,
            preferred_address: server.1,
            max_udp_payload_size: limits.0,
            initial_max_data: limits.1,
            initial_max_stream_data_bidi_local: limits.2,
            initial_max_stream_data_bidi_remote: limits.3,
            initial_max_stream_data_uni: limits.4,
            initial_max_streams_bidi: limits.5,
            initial_max_streams_uni: limits.6,
            active_connection_id_limit: limits.7,
            max_idle_timeout: Duration::from_millis(timing.0),
            ack_delay_exponent: timing.1,
            max_ack_delay: Duration::from_millis(timing.2),
            disable_active_migration: misc.0,
            version_information: misc.1.map(|(chosen_version, available_versions)| {
                VersionInformation {
                    chosen_version,
                    available_versions,
                }
            }),
            max_datagram_frame_size: misc.2,
        }
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_round_trip(&data, Side::Client)?;
        check_round_trip(&data, Side::Server)?;
    }

    #[test]
    fn arbitrary_parameter_sequences_never_panic(
        params in proptest::collection::vec(raw_param(), 0..12),
    ) {
        let bytes = params.concat();
        check_round_trip(&bytes, Side::Client)?;
        check_round_trip(&bytes, Side::Server)?;
    }

    #[test]
    fn valid_sets_round_trip(params in valid_server_set(), seed in any::<u64>()) {
        prop_assert_eq!(params.validate(Side::Server), Ok(()));
        let bytes = encode(&params);
        prop_assert_eq!(TransportParameters::decode(&bytes, Side::Server), Ok(params.clone()));
        let mut greased = Vec::new();
        params.encode_greased(&mut greased, seed);
        prop_assert_eq!(TransportParameters::decode(&greased, Side::Server), Ok(params.clone()));

        let client = TransportParameters {
            original_destination_connection_id: None,
            stateless_reset_token: None,
            preferred_address: None,
            retry_source_connection_id: None,
            ..params
        };
        let bytes = encode(&client);
        prop_assert_eq!(TransportParameters::decode(&bytes, Side::Client), Ok(client));
    }
}
