//! QUIC transport parameters (RFC 9000 §7.4, §18; RFC 9221 §3; RFC 9368 §3): the typed
//! set an endpoint declares in its TLS handshake, its encoding, and every check a receiver
//! can make on the set alone. Checks that compare the set with connection state (§7.3
//! connection ID authentication, §7.4.1 remembered 0-RTT values) belong to `connection`.

mod values;

#[cfg(test)]
mod tests;

pub use values::{PreferredAddress, VersionInformation};

use crate::cid::{ConnectionId, ResetToken};
use crate::coding::{BufMutExt, Reader, VarInt, varint_size};
use crate::error::TransportError;
use crate::stream_id::Side;
use crate::version::Version;
use bytes::BufMut;
use std::collections::HashSet;
use std::time::Duration;

/// Default max_udp_payload_size: the largest UDP payload there is (RFC 9000 §18.2).
pub const DEFAULT_MAX_UDP_PAYLOAD_SIZE: VarInt = VarInt::from_u32(65_527);
/// Default ack_delay_exponent, a multiplier of 8 (RFC 9000 §18.2).
pub const DEFAULT_ACK_DELAY_EXPONENT: u8 = 3;
/// Default max_ack_delay (RFC 9000 §18.2).
pub const DEFAULT_MAX_ACK_DELAY: Duration = Duration::from_millis(25);
/// Default active_connection_id_limit, also its minimum (RFC 9000 §18.2).
pub const DEFAULT_ACTIVE_CONNECTION_ID_LIMIT: VarInt = VarInt::from_u32(2);

/// RFC 9000 §18.2: ack_delay_exponent values above 20 are invalid.
pub const MAX_ACK_DELAY_EXPONENT: u8 = 20;
/// RFC 9000 §18.2: max_ack_delay values of 2^14 ms or more are invalid.
pub const MAX_ACK_DELAY_BOUND: Duration = Duration::from_millis(1 << 14);
/// RFC 9000 §18.2: max_udp_payload_size values below 1200 are invalid (a peer could
/// not even receive a minimum-size Initial).
pub const MIN_MAX_UDP_PAYLOAD_SIZE: u64 = 1200;
/// RFC 9000 §4.6: stream limits above 2^60 could not be expressed as stream IDs, which
/// stop at 2^62; a transport parameter above it is an error.
pub const MAX_STREAMS_BOUND: u64 = 1 << 60;

/// Transport parameter identifiers (RFC 9000 §18.2, RFC 9221 §3, RFC 9368 §3).
mod id {
    pub const ORIGINAL_DESTINATION_CONNECTION_ID: u64 = 0x00;
    pub const MAX_IDLE_TIMEOUT: u64 = 0x01;
    pub const STATELESS_RESET_TOKEN: u64 = 0x02;
    pub const MAX_UDP_PAYLOAD_SIZE: u64 = 0x03;
    pub const INITIAL_MAX_DATA: u64 = 0x04;
    pub const INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: u64 = 0x05;
    pub const INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: u64 = 0x06;
    pub const INITIAL_MAX_STREAM_DATA_UNI: u64 = 0x07;
    pub const INITIAL_MAX_STREAMS_BIDI: u64 = 0x08;
    pub const INITIAL_MAX_STREAMS_UNI: u64 = 0x09;
    pub const ACK_DELAY_EXPONENT: u64 = 0x0a;
    pub const MAX_ACK_DELAY: u64 = 0x0b;
    pub const DISABLE_ACTIVE_MIGRATION: u64 = 0x0c;
    pub const PREFERRED_ADDRESS: u64 = 0x0d;
    pub const ACTIVE_CONNECTION_ID_LIMIT: u64 = 0x0e;
    pub const INITIAL_SOURCE_CONNECTION_ID: u64 = 0x0f;
    pub const RETRY_SOURCE_CONNECTION_ID: u64 = 0x10;
    pub const VERSION_INFORMATION: u64 = 0x11;
    pub const MAX_DATAGRAM_FRAME_SIZE: u64 = 0x20;
}

/// The transport parameters one endpoint declares (RFC 9000 §7.4, §18.2).
///
/// Absent parameters take their RFC defaults ([`Default`] gives the set of an endpoint
/// that sends nothing). Names are the RFC's, so a grep finds code and spec together.
///
/// [`decode`](Self::decode) applies every rule that needs only the set and the sender's
/// role. It does not do connection ID authentication (RFC 9000 §7.3): the connection
/// must check that `initial_source_connection_id` is present and equals the peer's
/// Source Connection ID from its first Initial, and, for a server's set, that
/// `original_destination_connection_id` is present and equals the Destination
/// Connection ID of the client's first Initial, and that `retry_source_connection_id`
/// is present exactly when a Retry was received and equals its Source Connection ID.
/// The three fields are plain `Option<ConnectionId>` so each check is one `==`. Nor
/// does it check that a server with a zero-length connection ID sends no
/// `preferred_address` (RFC 9000 §18.2), or 0-RTT rules (§7.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportParameters {
    /// 0x00, server only: the Destination Connection ID of the client's first Initial
    /// (RFC 9000 §7.3).
    pub original_destination_connection_id: Option<ConnectionId>,
    /// 0x01: the idle timeout in milliseconds; zero means this endpoint sets none
    /// (RFC 9000 §10.1). Sub-millisecond parts are not sent.
    pub max_idle_timeout: Duration,
    /// 0x02, server only: the stateless reset token of the handshake connection ID
    /// (RFC 9000 §10.3).
    pub stateless_reset_token: Option<ResetToken>,
    /// 0x03: the largest UDP payload this endpoint is willing to receive; at least 1200.
    pub max_udp_payload_size: VarInt,
    /// 0x04: the initial connection-level flow-control limit, in bytes.
    pub initial_max_data: VarInt,
    /// 0x05: the initial flow-control limit of bidirectional streams the sender opens.
    pub initial_max_stream_data_bidi_local: VarInt,
    /// 0x06: the initial flow-control limit of bidirectional streams the receiver opens.
    pub initial_max_stream_data_bidi_remote: VarInt,
    /// 0x07: the initial flow-control limit of unidirectional streams the receiver opens.
    pub initial_max_stream_data_uni: VarInt,
    /// 0x08: how many bidirectional streams the receiver may open; at most 2^60.
    pub initial_max_streams_bidi: VarInt,
    /// 0x09: how many unidirectional streams the receiver may open; at most 2^60.
    pub initial_max_streams_uni: VarInt,
    /// 0x0a: the exponent scaling the ACK Delay field of this endpoint's ACK frames;
    /// at most 20.
    pub ack_delay_exponent: u8,
    /// 0x0b: the longest this endpoint delays an acknowledgment, in whole
    /// milliseconds; below 2^14 ms.
    pub max_ack_delay: Duration,
    /// 0x0c: the endpoint does not support active migration on the handshake address.
    pub disable_active_migration: bool,
    /// 0x0d, server only: an address to migrate to after the handshake (RFC 9000 §9.6).
    pub preferred_address: Option<PreferredAddress>,
    /// 0x0e: how many of the peer's connection IDs this endpoint will store; at least 2.
    pub active_connection_id_limit: VarInt,
    /// 0x0f: the Source Connection ID of this endpoint's first Initial (RFC 9000 §7.3);
    /// both endpoints must send it.
    pub initial_source_connection_id: Option<ConnectionId>,
    /// 0x10, server only: the Source Connection ID of the Retry the server sent.
    pub retry_source_connection_id: Option<ConnectionId>,
    /// 0x11: the version information of compatible version negotiation (RFC 9368 §3).
    pub version_information: Option<VersionInformation>,
    /// 0x20: the largest DATAGRAM frame this endpoint accepts (RFC 9221 §3). Absent or
    /// zero means DATAGRAM frames are not supported.
    pub max_datagram_frame_size: Option<VarInt>,
}

impl Default for TransportParameters {
    fn default() -> Self {
        TransportParameters {
            original_destination_connection_id: None,
            max_idle_timeout: Duration::ZERO,
            stateless_reset_token: None,
            max_udp_payload_size: DEFAULT_MAX_UDP_PAYLOAD_SIZE,
            initial_max_data: VarInt::ZERO,
            initial_max_stream_data_bidi_local: VarInt::ZERO,
            initial_max_stream_data_bidi_remote: VarInt::ZERO,
            initial_max_stream_data_uni: VarInt::ZERO,
            initial_max_streams_bidi: VarInt::ZERO,
            initial_max_streams_uni: VarInt::ZERO,
            ack_delay_exponent: DEFAULT_ACK_DELAY_EXPONENT,
            max_ack_delay: DEFAULT_MAX_ACK_DELAY,
            disable_active_migration: false,
            preferred_address: None,
            active_connection_id_limit: DEFAULT_ACTIVE_CONNECTION_ID_LIMIT,
            initial_source_connection_id: None,
            retry_source_connection_id: None,
            version_information: None,
            max_datagram_frame_size: None,
        }
    }
}

/// One parameter's value, borrowed from the set, for encoding.
enum Value<'a> {
    Int(u64),
    Empty,
    Bytes(&'a [u8]),
    PreferredAddress(&'a PreferredAddress),
    Versions(&'a VersionInformation),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::Int(v) => varint_size(*v),
            Value::Empty => 0,
            Value::Bytes(b) => b.len(),
            Value::PreferredAddress(p) => p.encoded_len(),
            Value::Versions(v) => v.encoded_len(),
        }
    }

    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Value::Int(v) => buf.put_varint_u64(*v),
            Value::Empty => {}
            Value::Bytes(b) => buf.put_slice(b),
            Value::PreferredAddress(p) => p.encode(buf),
            Value::Versions(v) => v.encode(buf),
        }
    }
}

fn param_len(id: u64, value: &Value<'_>) -> usize {
    let len = value.len();
    varint_size(id) + varint_size(len as u64) + len
}

fn put_param(buf: &mut impl BufMut, id: u64, value: &Value<'_>) {
    buf.put_varint_u64(id);
    buf.put_varint_u64(value.len() as u64);
    value.write(buf);
}

/// Whole milliseconds of `d`, saturating (a varint caps them below 2^62 anyway).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl TransportParameters {
    /// Parses and validates the transport parameters extension sent by `sent_by`.
    ///
    /// Unknown parameters, reserved ones included, are skipped (RFC 9000 §7.4.2). Every
    /// error is a TRANSPORT_PARAMETER_ERROR (RFC 9000 §7.4): a malformed parameter, a
    /// parameter sent twice, an invalid value, or a server-only parameter from a client.
    /// See the type's doc for the checks left to the connection.
    pub fn decode(bytes: &[u8], sent_by: Side) -> Result<Self, TransportError> {
        let mut params = TransportParameters::default();
        // RFC 9000 §7.4: a repeated parameter SHOULD be an error; we treat any repeated
        // identifier so, known or not. The set is bounded by the input length.
        let mut seen = HashSet::new();
        let mut r = Reader::new(bytes);
        while !r.is_empty() {
            let id = r.varint_u64().map_err(|_| TRUNCATED)?;
            let len = r.varint_u64().map_err(|_| TRUNCATED)?;
            let len = usize::try_from(len).map_err(|_| TRUNCATED)?;
            let value = r.bytes(len).map_err(|_| TRUNCATED)?;
            if !seen.insert(id) {
                return Err(TransportError::transport_parameter(
                    "transport parameter sent twice",
                ));
            }
            params.decode_one(id, value)?;
        }
        params.validate(sent_by)?;
        Ok(params)
    }

    /// Stores one parameter's value, checking only that it is well formed.
    fn decode_one(&mut self, id: u64, value: &[u8]) -> Result<(), TransportError> {
        match id {
            id::ORIGINAL_DESTINATION_CONNECTION_ID => {
                self.original_destination_connection_id = Some(decode_cid(value)?);
            }
            id::MAX_IDLE_TIMEOUT => {
                self.max_idle_timeout = Duration::from_millis(decode_varint(value)?.into());
            }
            id::STATELESS_RESET_TOKEN => {
                let token = value.try_into().map_err(|_| {
                    TransportError::transport_parameter("stateless_reset_token is not 16 bytes")
                })?;
                self.stateless_reset_token = Some(ResetToken(token));
            }
            id::MAX_UDP_PAYLOAD_SIZE => self.max_udp_payload_size = decode_varint(value)?,
            id::INITIAL_MAX_DATA => self.initial_max_data = decode_varint(value)?,
            id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL => {
                self.initial_max_stream_data_bidi_local = decode_varint(value)?;
            }
            id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE => {
                self.initial_max_stream_data_bidi_remote = decode_varint(value)?;
            }
            id::INITIAL_MAX_STREAM_DATA_UNI => {
                self.initial_max_stream_data_uni = decode_varint(value)?;
            }
            id::INITIAL_MAX_STREAMS_BIDI => self.initial_max_streams_bidi = decode_varint(value)?,
            id::INITIAL_MAX_STREAMS_UNI => self.initial_max_streams_uni = decode_varint(value)?,
            id::ACK_DELAY_EXPONENT => {
                // Anything past a u8 is past 20 too; validate() checks the rest.
                self.ack_delay_exponent = u8::try_from(decode_varint(value)?.into_inner())
                    .map_err(|_| TransportError::transport_parameter(ACK_DELAY_EXPONENT_TOO_BIG))?;
            }
            id::MAX_ACK_DELAY => {
                self.max_ack_delay = Duration::from_millis(decode_varint(value)?.into());
            }
            id::DISABLE_ACTIVE_MIGRATION => {
                // RFC 9000 §18.2: this parameter has a zero-length value.
                if !value.is_empty() {
                    return Err(TransportError::transport_parameter(
                        "disable_active_migration carries a value",
                    ));
                }
                self.disable_active_migration = true;
            }
            id::PREFERRED_ADDRESS => {
                self.preferred_address = Some(PreferredAddress::decode(value)?);
            }
            id::ACTIVE_CONNECTION_ID_LIMIT => {
                self.active_connection_id_limit = decode_varint(value)?;
            }
            id::INITIAL_SOURCE_CONNECTION_ID => {
                self.initial_source_connection_id = Some(decode_cid(value)?);
            }
            id::RETRY_SOURCE_CONNECTION_ID => {
                self.retry_source_connection_id = Some(decode_cid(value)?);
            }
            id::VERSION_INFORMATION => {
                self.version_information = Some(VersionInformation::decode(value)?);
            }
            id::MAX_DATAGRAM_FRAME_SIZE => {
                self.max_datagram_frame_size = Some(decode_varint(value)?);
            }
            // RFC 9000 §7.4.2: parameters we do not know, reserved ones (§18.1) among
            // them, are ignored.
            _ => {}
        }
        Ok(())
    }

    /// Checks the rules on values that need only the set and its sender's role
    /// (RFC 9000 §18.2, RFC 9368 §3). [`decode`](Self::decode) runs it; run it on a
    /// locally configured set before sending it, since [`encode`](Self::encode) does not.
    pub fn validate(&self, sent_by: Side) -> Result<(), TransportError> {
        let fail = |reason| Err(TransportError::transport_parameter(reason));
        if self.ack_delay_exponent > MAX_ACK_DELAY_EXPONENT {
            return fail(ACK_DELAY_EXPONENT_TOO_BIG);
        }
        if self.max_ack_delay >= MAX_ACK_DELAY_BOUND {
            return fail("max_ack_delay of 2^14 ms or more");
        }
        // RFC 9000 §18.2: an active_connection_id_limit below 2 is an error.
        if self.active_connection_id_limit < DEFAULT_ACTIVE_CONNECTION_ID_LIMIT {
            return fail("active_connection_id_limit below 2");
        }
        if self.max_udp_payload_size.into_inner() < MIN_MAX_UDP_PAYLOAD_SIZE {
            return fail("max_udp_payload_size below 1200");
        }
        // RFC 9000 §4.6: stream limits above 2^60 are a TRANSPORT_PARAMETER_ERROR.
        if self.initial_max_streams_bidi.into_inner() > MAX_STREAMS_BOUND
            || self.initial_max_streams_uni.into_inner() > MAX_STREAMS_BOUND
        {
            return fail("initial_max_streams above 2^60");
        }
        // RFC 9000 §18.2: a client must not send the four server-only parameters.
        if sent_by == Side::Client {
            if self.original_destination_connection_id.is_some() {
                return fail("client sent original_destination_connection_id");
            }
            if self.preferred_address.is_some() {
                return fail("client sent preferred_address");
            }
            if self.retry_source_connection_id.is_some() {
                return fail("client sent retry_source_connection_id");
            }
            if self.stateless_reset_token.is_some() {
                return fail("client sent stateless_reset_token");
            }
        }
        // RFC 9000 §18.2: a preferred address must carry a non-empty connection ID.
        if self
            .preferred_address
            .is_some_and(|preferred| preferred.connection_id.is_empty())
        {
            return fail("preferred_address with a zero-length connection ID");
        }
        // RFC 9368 §3: version 0 in either field is a parsing failure.
        if self.version_information.as_ref().is_some_and(|info| {
            info.chosen_version == Version::NEGOTIATION
                || info.available_versions.contains(&Version::NEGOTIATION)
        }) {
            return fail("version_information names version 0");
        }
        Ok(())
    }

    /// Writes the set: every value that differs from its default, every `Some`
    /// field (`initial_source_connection_id` even when empty), in identifier order.
    ///
    /// Durations are sent in whole milliseconds and values past the varint range
    /// saturate; the set is written as is, so [`validate`](Self::validate) it first.
    pub fn encode(&self, buf: &mut impl BufMut) {
        self.for_each_param(|id, value| put_param(buf, id, &value));
    }

    /// Like [`encode`](Self::encode), then appends one reserved parameter whose
    /// identifier, length (0 to 16 bytes) and content derive from `seed`, so that
    /// peers keep ignoring unknown parameters (RFC 9000 §18.1). The seed should vary
    /// between connections; it need not be secret.
    pub fn encode_greased(&self, buf: &mut impl BufMut, seed: u64) {
        self.encode(buf);
        let grease = Grease::new(seed);
        put_param(buf, grease.id, &Value::Bytes(grease.value()));
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let mut len = 0;
        self.for_each_param(|id, value| len += param_len(id, &value));
        len
    }

    /// The number of bytes [`encode_greased`](Self::encode_greased) writes for `seed`.
    pub fn encoded_len_greased(&self, seed: u64) -> usize {
        let grease = Grease::new(seed);
        self.encoded_len() + param_len(grease.id, &Value::Bytes(grease.value()))
    }

    /// Calls `f` with each parameter to send, in identifier order: the one place that
    /// decides what goes on the wire, shared by `encode` and `encoded_len`.
    fn for_each_param<'a>(&'a self, mut f: impl FnMut(u64, Value<'a>)) {
        if let Some(cid) = &self.original_destination_connection_id {
            f(id::ORIGINAL_DESTINATION_CONNECTION_ID, Value::Bytes(cid));
        }
        if millis(self.max_idle_timeout) != 0 {
            f(
                id::MAX_IDLE_TIMEOUT,
                Value::Int(millis(self.max_idle_timeout)),
            );
        }
        if let Some(token) = &self.stateless_reset_token {
            f(id::STATELESS_RESET_TOKEN, Value::Bytes(&token.0));
        }
        let ints = [
            (
                id::MAX_UDP_PAYLOAD_SIZE,
                self.max_udp_payload_size,
                DEFAULT_MAX_UDP_PAYLOAD_SIZE,
            ),
            (id::INITIAL_MAX_DATA, self.initial_max_data, VarInt::ZERO),
            (
                id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
                self.initial_max_stream_data_bidi_local,
                VarInt::ZERO,
            ),
            (
                id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
                self.initial_max_stream_data_bidi_remote,
                VarInt::ZERO,
            ),
            (
                id::INITIAL_MAX_STREAM_DATA_UNI,
                self.initial_max_stream_data_uni,
                VarInt::ZERO,
            ),
            (
                id::INITIAL_MAX_STREAMS_BIDI,
                self.initial_max_streams_bidi,
                VarInt::ZERO,
            ),
            (
                id::INITIAL_MAX_STREAMS_UNI,
                self.initial_max_streams_uni,
                VarInt::ZERO,
            ),
            (
                id::ACK_DELAY_EXPONENT,
                self.ack_delay_exponent.into(),
                DEFAULT_ACK_DELAY_EXPONENT.into(),
            ),
        ];
        for (id, value, default) in ints {
            if value != default {
                f(id, Value::Int(value.into_inner()));
            }
        }
        if millis(self.max_ack_delay) != millis(DEFAULT_MAX_ACK_DELAY) {
            f(id::MAX_ACK_DELAY, Value::Int(millis(self.max_ack_delay)));
        }
        if self.disable_active_migration {
            f(id::DISABLE_ACTIVE_MIGRATION, Value::Empty);
        }
        if let Some(preferred) = &self.preferred_address {
            f(id::PREFERRED_ADDRESS, Value::PreferredAddress(preferred));
        }
        if self.active_connection_id_limit != DEFAULT_ACTIVE_CONNECTION_ID_LIMIT {
            f(
                id::ACTIVE_CONNECTION_ID_LIMIT,
                Value::Int(self.active_connection_id_limit.into_inner()),
            );
        }
        if let Some(cid) = &self.initial_source_connection_id {
            f(id::INITIAL_SOURCE_CONNECTION_ID, Value::Bytes(cid));
        }
        if let Some(cid) = &self.retry_source_connection_id {
            f(id::RETRY_SOURCE_CONNECTION_ID, Value::Bytes(cid));
        }
        if let Some(info) = &self.version_information {
            f(id::VERSION_INFORMATION, Value::Versions(info));
        }
        if let Some(size) = self.max_datagram_frame_size {
            f(id::MAX_DATAGRAM_FRAME_SIZE, Value::Int(size.into_inner()));
        }
    }
}

const ACK_DELAY_EXPONENT_TOO_BIG: &str = "ack_delay_exponent above 20";
const TRUNCATED: TransportError = TransportError::transport_parameter("truncated parameter");

/// Reads a parameter whose value is one varint filling it exactly (RFC 9000 §18.2).
fn decode_varint(value: &[u8]) -> Result<VarInt, TransportError> {
    let mut r = Reader::new(value);
    match r.varint() {
        Ok(v) if r.is_empty() => Ok(v),
        _ => Err(TransportError::transport_parameter(
            "integer parameter does not fill its length",
        )),
    }
}

/// Reads a parameter whose value is a whole connection ID of at most 20 bytes.
fn decode_cid(value: &[u8]) -> Result<ConnectionId, TransportError> {
    ConnectionId::new(value)
        .map_err(|_| TransportError::transport_parameter("connection ID longer than 20 bytes"))
}

/// A reserved parameter (RFC 9000 §18.1) with everything derived from a seed.
struct Grease {
    id: u64,
    len: usize,
    bytes: [u8; GREASE_MAX_LEN],
}

/// Longest greased value we send; long enough to look like data, short enough to cost
/// little in the ClientHello.
const GREASE_MAX_LEN: usize = 16;

impl Grease {
    fn new(seed: u64) -> Self {
        let mut state = seed;
        // Reserved identifiers are 31 * N + 27 (RFC 9000 §18.1); N ranges so that the
        // identifier stays a varint.
        let n_count = (VarInt::MAX.into_inner() - 27) / 31 + 1;
        let id = 31 * (splitmix64(&mut state) % n_count) + 27;
        let len = (splitmix64(&mut state) % (GREASE_MAX_LEN as u64 + 1)) as usize;
        let mut bytes = [0; GREASE_MAX_LEN];
        for chunk in bytes.chunks_mut(8) {
            let word = splitmix64(&mut state).to_be_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Grease { id, len, bytes }
    }

    fn value(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// SplitMix64: a tiny, well-mixed generator; grease needs variety, not secrecy.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
