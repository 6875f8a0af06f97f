//! Connection-level frames (RFC 9000 §19.7, §19.15–§19.19): NEW_TOKEN,
//! NEW_CONNECTION_ID, RETIRE_CONNECTION_ID, PATH_CHALLENGE, PATH_RESPONSE and
//! both CONNECTION_CLOSE types. Tokens and reasons are slices of the packet.

use super::{Decoder, FrameType, put_type, type_len};
use crate::cid::{ConnectionId, MAX_CID_LEN, RESET_TOKEN_LEN, ResetToken};
use crate::coding::{BufMutExt, VarInt, varint_size};
use crate::error::{TransportError, TransportErrorCode};
use bytes::{BufMut, Bytes};

/// Bytes of PATH_CHALLENGE and PATH_RESPONSE data (RFC 9000 §19.17).
pub const PATH_DATA_LEN: usize = 8;

/// NEW_TOKEN: a token for the client's next Initial (RFC 9000 §19.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The opaque token, never empty.
    pub token: Bytes,
}

impl NewToken {
    /// Bytes [`NewToken::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::NEW_TOKEN) + varint_size(self.token.len() as u64) + self.token.len()
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::NEW_TOKEN);
        buf.put_varint_u64(self.token.len() as u64);
        buf.put_slice(&self.token);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        let token = d.length_prefixed()?;
        // RFC 9000 §19.7: an empty token is a FRAME_ENCODING_ERROR.
        if token.is_empty() {
            return Err(TransportError::frame_encoding("empty NEW_TOKEN"));
        }
        Ok(NewToken { token })
    }
}

/// NEW_CONNECTION_ID: a connection ID the peer may use to reach us
/// (RFC 9000 §19.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewConnectionId {
    /// The sequence number the issuer gave this ID.
    pub sequence: u64,
    /// IDs with lower sequence numbers are to be retired.
    pub retire_prior_to: u64,
    /// The connection ID, 1 to 20 bytes.
    pub id: ConnectionId,
    /// The stateless reset token that goes with it.
    pub reset_token: ResetToken,
}

impl NewConnectionId {
    /// Bytes [`NewConnectionId::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::NEW_CONNECTION_ID)
            + varint_size(self.sequence)
            + varint_size(self.retire_prior_to)
            + 1
            + self.id.len()
            + RESET_TOKEN_LEN
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::NEW_CONNECTION_ID);
        buf.put_varint_u64(self.sequence);
        buf.put_varint_u64(self.retire_prior_to);
        // A ConnectionId holds at most 20 bytes, so its length fits a byte.
        buf.put_u8(self.id.len() as u8);
        buf.put_slice(&self.id);
        buf.put_slice(&self.reset_token.0);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        let sequence = d.varint()?;
        let retire_prior_to = d.varint()?;
        // RFC 9000 §19.15: retiring IDs not yet issued is a FRAME_ENCODING_ERROR.
        if retire_prior_to > sequence {
            return Err(TransportError::frame_encoding(
                "retire_prior_to greater than sequence number",
            ));
        }
        let len = usize::from(d.u8()?);
        // RFC 9000 §19.15: a length outside 1..=20 is a FRAME_ENCODING_ERROR.
        if len == 0 || len > MAX_CID_LEN {
            return Err(TransportError::frame_encoding(
                "connection ID length outside 1..=20",
            ));
        }
        let raw = d.bytes(len as u64)?;
        let id = ConnectionId::new(&raw)
            .map_err(|_| TransportError::frame_encoding("connection ID too long"))?;
        let reset_token = ResetToken(d.array::<RESET_TOKEN_LEN>()?);
        Ok(NewConnectionId {
            sequence,
            retire_prior_to,
            id,
            reset_token,
        })
    }
}

/// RETIRE_CONNECTION_ID: the sender will no longer use one of our IDs
/// (RFC 9000 §19.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetireConnectionId {
    /// The sequence number of the ID being retired.
    pub sequence: u64,
}

impl RetireConnectionId {
    /// Bytes [`RetireConnectionId::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::RETIRE_CONNECTION_ID) + varint_size(self.sequence)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::RETIRE_CONNECTION_ID);
        buf.put_varint_u64(self.sequence);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(RetireConnectionId {
            sequence: d.varint()?,
        })
    }
}

/// PATH_CHALLENGE: asks the peer to echo `data` to prove it is reachable on a
/// path (RFC 9000 §19.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathChallenge {
    /// Unpredictable data to be echoed.
    pub data: [u8; PATH_DATA_LEN],
}

impl PathChallenge {
    /// Bytes [`PathChallenge::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::PATH_CHALLENGE) + PATH_DATA_LEN
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::PATH_CHALLENGE);
        buf.put_slice(&self.data);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(PathChallenge { data: d.array()? })
    }
}

/// PATH_RESPONSE: echoes a PATH_CHALLENGE's data (RFC 9000 §19.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathResponse {
    /// The data of the challenge being answered.
    pub data: [u8; PATH_DATA_LEN],
}

impl PathResponse {
    /// Bytes [`PathResponse::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::PATH_RESPONSE) + PATH_DATA_LEN
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::PATH_RESPONSE);
        buf.put_slice(&self.data);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(PathResponse { data: d.array()? })
    }
}

/// CONNECTION_CLOSE of type 0x1c: the connection ends on a transport error
/// (RFC 9000 §19.19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionClose {
    /// The transport error code.
    pub error_code: TransportErrorCode,
    /// The type of the frame that caused the error; `None` is written as 0,
    /// the RFC's "unknown", and 0 decodes as `None`.
    pub frame_type: Option<u64>,
    /// A human-readable reason, meant to be UTF-8 but not checked.
    pub reason: Bytes,
}

impl ConnectionClose {
    /// Bytes [`ConnectionClose::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::CONNECTION_CLOSE)
            + varint_size(self.error_code.0)
            + varint_size(self.frame_type.unwrap_or(0))
            + varint_size(self.reason.len() as u64)
            + self.reason.len()
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::CONNECTION_CLOSE);
        buf.put_varint_u64(self.error_code.0);
        buf.put_varint_u64(self.frame_type.unwrap_or(0));
        buf.put_varint_u64(self.reason.len() as u64);
        buf.put_slice(&self.reason);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        let error_code = TransportErrorCode(d.varint()?);
        let frame_type = Some(d.varint()?).filter(|ty| *ty != 0);
        let reason = d.length_prefixed()?;
        Ok(ConnectionClose {
            error_code,
            frame_type,
            reason,
        })
    }
}

impl From<TransportError> for ConnectionClose {
    fn from(err: TransportError) -> Self {
        ConnectionClose {
            error_code: err.code,
            frame_type: err.frame_type.filter(|ty| *ty != 0),
            reason: Bytes::from_static(err.reason.as_bytes()),
        }
    }
}

/// CONNECTION_CLOSE of type 0x1d: the application closes the connection
/// (RFC 9000 §19.19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationClose {
    /// The application's error code.
    pub error_code: VarInt,
    /// A human-readable reason, meant to be UTF-8 but not checked.
    pub reason: Bytes,
}

impl ApplicationClose {
    /// Bytes [`ApplicationClose::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::APPLICATION_CLOSE)
            + self.error_code.size()
            + varint_size(self.reason.len() as u64)
            + self.reason.len()
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::APPLICATION_CLOSE);
        buf.put_varint(self.error_code);
        buf.put_varint_u64(self.reason.len() as u64);
        buf.put_slice(&self.reason);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(ApplicationClose {
            error_code: d.varint_vi()?,
            reason: d.length_prefixed()?,
        })
    }
}
