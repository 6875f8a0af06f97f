//! Stream and flow control frames (RFC 9000 §19.4, §19.5, §19.9–§19.14):
//! RESET_STREAM, STOP_SENDING, MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS,
//! DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED. Whether a limit moves
//! forward or a stream may carry the frame is the connection's call.

use super::{Decoder, FrameType, put_type, type_len};
use crate::coding::{BufMutExt, VarInt, varint_size};
use crate::error::TransportError;
use crate::stream_id::{Dir, StreamId};
use bytes::BufMut;

/// The most streams of one direction a peer can allow or be blocked at:
/// stream IDs must stay below 2^62 and two bits of them are the stream type
/// (RFC 9000 §4.6, §19.11, §19.14).
pub const MAX_STREAM_COUNT: u64 = 1 << 60;

/// RESET_STREAM: the sender abandons a stream (RFC 9000 §19.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetStream {
    /// The stream being reset.
    pub id: StreamId,
    /// The application's reason.
    pub error_code: VarInt,
    /// The final size of the stream in bytes.
    pub final_size: u64,
}

impl ResetStream {
    /// Bytes [`ResetStream::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::RESET_STREAM)
            + self.id.as_varint().size()
            + self.error_code.size()
            + varint_size(self.final_size)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::RESET_STREAM);
        buf.put_varint(self.id.as_varint());
        buf.put_varint(self.error_code);
        buf.put_varint_u64(self.final_size);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(ResetStream {
            id: StreamId(d.varint()?),
            error_code: d.varint_vi()?,
            final_size: d.varint()?,
        })
    }
}

/// STOP_SENDING: the receiver asks the sender to stop a stream (RFC 9000 §19.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSending {
    /// The stream to stop.
    pub id: StreamId,
    /// The application's reason.
    pub error_code: VarInt,
}

impl StopSending {
    /// Bytes [`StopSending::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::STOP_SENDING) + self.id.as_varint().size() + self.error_code.size()
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::STOP_SENDING);
        buf.put_varint(self.id.as_varint());
        buf.put_varint(self.error_code);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(StopSending {
            id: StreamId(d.varint()?),
            error_code: d.varint_vi()?,
        })
    }
}

/// MAX_DATA: the connection-wide flow control limit (RFC 9000 §19.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxData {
    /// The most bytes the peer may send on all streams together.
    pub max: u64,
}

impl MaxData {
    /// Bytes [`MaxData::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::MAX_DATA) + varint_size(self.max)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::MAX_DATA);
        buf.put_varint_u64(self.max);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(MaxData { max: d.varint()? })
    }
}

/// MAX_STREAM_DATA: one stream's flow control limit (RFC 9000 §19.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxStreamData {
    /// The stream the limit applies to.
    pub id: StreamId,
    /// The most bytes the peer may send on the stream.
    pub max: u64,
}

impl MaxStreamData {
    /// Bytes [`MaxStreamData::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::MAX_STREAM_DATA) + self.id.as_varint().size() + varint_size(self.max)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::MAX_STREAM_DATA);
        buf.put_varint(self.id.as_varint());
        buf.put_varint_u64(self.max);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(MaxStreamData {
            id: StreamId(d.varint()?),
            max: d.varint()?,
        })
    }
}

/// Reads a stream count and refuses one past [`MAX_STREAM_COUNT`].
fn decode_stream_count(d: &mut Decoder<'_>) -> Result<u64, TransportError> {
    let count = d.varint()?;
    // RFC 9000 §19.11, §19.14: a count over 2^60 is a FRAME_ENCODING_ERROR.
    if count > MAX_STREAM_COUNT {
        return Err(TransportError::frame_encoding("stream count over 2^60"));
    }
    Ok(count)
}

fn dir_of(ty: FrameType, bidi: FrameType) -> Dir {
    if ty == bidi { Dir::Bi } else { Dir::Uni }
}

/// MAX_STREAMS: how many streams of one direction the peer may open in total
/// (RFC 9000 §19.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxStreams {
    /// Which kind of stream the limit is for.
    pub dir: Dir,
    /// The cumulative number of streams allowed, at most [`MAX_STREAM_COUNT`].
    pub max: u64,
}

impl MaxStreams {
    /// 0x12 for bidirectional streams, 0x13 for unidirectional ones.
    pub fn frame_type(&self) -> FrameType {
        match self.dir {
            Dir::Bi => FrameType::MAX_STREAMS_BIDI,
            Dir::Uni => FrameType::MAX_STREAMS_UNI,
        }
    }

    /// Bytes [`MaxStreams::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(self.frame_type()) + varint_size(self.max)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, self.frame_type());
        buf.put_varint_u64(self.max);
    }

    pub(super) fn decode(ty: FrameType, d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(MaxStreams {
            dir: dir_of(ty, FrameType::MAX_STREAMS_BIDI),
            max: decode_stream_count(d)?,
        })
    }
}

/// DATA_BLOCKED: the sender has data it cannot send for the connection-wide
/// limit (RFC 9000 §19.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataBlocked {
    /// The connection limit at which the sender is blocked.
    pub limit: u64,
}

impl DataBlocked {
    /// Bytes [`DataBlocked::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::DATA_BLOCKED) + varint_size(self.limit)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::DATA_BLOCKED);
        buf.put_varint_u64(self.limit);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(DataBlocked { limit: d.varint()? })
    }
}

/// STREAM_DATA_BLOCKED: the sender is blocked by one stream's limit
/// (RFC 9000 §19.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamDataBlocked {
    /// The blocked stream.
    pub id: StreamId,
    /// The stream limit at which the sender is blocked.
    pub limit: u64,
}

impl StreamDataBlocked {
    /// Bytes [`StreamDataBlocked::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::STREAM_DATA_BLOCKED)
            + self.id.as_varint().size()
            + varint_size(self.limit)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::STREAM_DATA_BLOCKED);
        buf.put_varint(self.id.as_varint());
        buf.put_varint_u64(self.limit);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(StreamDataBlocked {
            id: StreamId(d.varint()?),
            limit: d.varint()?,
        })
    }
}

/// STREAMS_BLOCKED: the sender wants to open streams past the peer's limit
/// (RFC 9000 §19.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamsBlocked {
    /// Which kind of stream is blocked.
    pub dir: Dir,
    /// The stream limit at which the sender is blocked, at most [`MAX_STREAM_COUNT`].
    pub limit: u64,
}

impl StreamsBlocked {
    /// 0x16 for bidirectional streams, 0x17 for unidirectional ones.
    pub fn frame_type(&self) -> FrameType {
        match self.dir {
            Dir::Bi => FrameType::STREAMS_BLOCKED_BIDI,
            Dir::Uni => FrameType::STREAMS_BLOCKED_UNI,
        }
    }

    /// Bytes [`StreamsBlocked::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(self.frame_type()) + varint_size(self.limit)
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, self.frame_type());
        buf.put_varint_u64(self.limit);
    }

    pub(super) fn decode(ty: FrameType, d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(StreamsBlocked {
            dir: dir_of(ty, FrameType::STREAMS_BLOCKED_BIDI),
            limit: decode_stream_count(d)?,
        })
    }
}
