//! QUIC frames: every frame type of RFC 9000 §19 and DATAGRAM (RFC 9221 §4),
//! decoded from and encoded to the payload of a decrypted packet.
//!
//! [`Frames`] walks a payload and yields each [`Frame`], refusing unknown types and
//! frames the packet type may not carry (RFC 9000 §12.4, §12.5). Each frame's
//! struct, decoder, encoder and encoded length sit together in the family files.

mod ack;
mod conn;
mod control;
mod stream;

#[cfg(test)]
mod tests;

pub use ack::{Ack, AckEncoder, AckRanges, EcnCounts};
pub use conn::{
    ApplicationClose, ConnectionClose, NewConnectionId, NewToken, PATH_DATA_LEN, PathChallenge,
    PathResponse, RetireConnectionId,
};
pub use control::{
    DataBlocked, MAX_STREAM_COUNT, MaxData, MaxStreamData, MaxStreams, ResetStream, StopSending,
    StreamDataBlocked, StreamsBlocked,
};
pub use stream::{
    Crypto, CryptoFrameHeader, Datagram, DatagramFrameHeader, MAX_STREAM_OFFSET, Stream,
    StreamFrameHeader,
};

use crate::coding::{BufMutExt, Reader, VarInt, varint_size};
use crate::error::TransportError;
use crate::packet::PacketType;
use bytes::{BufMut, Bytes};
use std::fmt;

/// A frame's type as it appears on the wire (RFC 9000 §12.4 table 3, RFC 9221 §4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameType(pub u64);

macro_rules! frame_types {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl FrameType {
            $($(#[$doc])* pub const $name: FrameType = FrameType($value);)*

            /// The RFC's name for this type, if kite knows it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    0x09..=0x0f => Some("STREAM"),
                    _ => None,
                }
            }
        }
    };
}

frame_types! {
    /// PADDING (RFC 9000 §19.1).
    PADDING = 0x00;
    /// PING (RFC 9000 §19.2).
    PING = 0x01;
    /// ACK without ECN counts (RFC 9000 §19.3).
    ACK = 0x02;
    /// ACK with ECN counts (RFC 9000 §19.3.2).
    ACK_ECN = 0x03;
    /// RESET_STREAM (RFC 9000 §19.4).
    RESET_STREAM = 0x04;
    /// STOP_SENDING (RFC 9000 §19.5).
    STOP_SENDING = 0x05;
    /// CRYPTO (RFC 9000 §19.6).
    CRYPTO = 0x06;
    /// NEW_TOKEN (RFC 9000 §19.7).
    NEW_TOKEN = 0x07;
    /// STREAM with no flag bits; 0x08..=0x0f are all STREAM (RFC 9000 §19.8).
    STREAM = 0x08;
    /// MAX_DATA (RFC 9000 §19.9).
    MAX_DATA = 0x10;
    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    MAX_STREAM_DATA = 0x11;
    /// MAX_STREAMS for bidirectional streams (RFC 9000 §19.11).
    MAX_STREAMS_BIDI = 0x12;
    /// MAX_STREAMS for unidirectional streams (RFC 9000 §19.11).
    MAX_STREAMS_UNI = 0x13;
    /// DATA_BLOCKED (RFC 9000 §19.12).
    DATA_BLOCKED = 0x14;
    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13).
    STREAM_DATA_BLOCKED = 0x15;
    /// STREAMS_BLOCKED for bidirectional streams (RFC 9000 §19.14).
    STREAMS_BLOCKED_BIDI = 0x16;
    /// STREAMS_BLOCKED for unidirectional streams (RFC 9000 §19.14).
    STREAMS_BLOCKED_UNI = 0x17;
    /// NEW_CONNECTION_ID (RFC 9000 §19.15).
    NEW_CONNECTION_ID = 0x18;
    /// RETIRE_CONNECTION_ID (RFC 9000 §19.16).
    RETIRE_CONNECTION_ID = 0x19;
    /// PATH_CHALLENGE (RFC 9000 §19.17).
    PATH_CHALLENGE = 0x1a;
    /// PATH_RESPONSE (RFC 9000 §19.18).
    PATH_RESPONSE = 0x1b;
    /// CONNECTION_CLOSE signalling a transport error (RFC 9000 §19.19).
    CONNECTION_CLOSE = 0x1c;
    /// CONNECTION_CLOSE signalling an application error (RFC 9000 §19.19).
    APPLICATION_CLOSE = 0x1d;
    /// HANDSHAKE_DONE (RFC 9000 §19.20).
    HANDSHAKE_DONE = 0x1e;
    /// DATAGRAM without a Length field (RFC 9221 §4).
    DATAGRAM = 0x30;
    /// DATAGRAM with a Length field (RFC 9221 §4).
    DATAGRAM_LEN = 0x31;
}

impl FrameType {
    /// Whether kite can decode frames of this type.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// Whether a frame of this type may appear in a packet of type `packet_type`
    /// (RFC 9000 §12.4 table 3, tightened by §12.5 for 0-RTT; RFC 9221 §4).
    pub fn allowed_in(self, packet_type: PacketType) -> bool {
        match packet_type {
            // RFC 9000 §12.5: only these may be sent before 1-RTT keys; an
            // application close (0x1d) belongs to the application data space.
            PacketType::Initial | PacketType::Handshake => matches!(
                self,
                Self::PADDING
                    | Self::PING
                    | Self::ACK
                    | Self::ACK_ECN
                    | Self::CRYPTO
                    | Self::CONNECTION_CLOSE
            ),
            // RFC 9000 §12.5: a server may refuse these in 0-RTT, and does;
            // ACK and CRYPTO have no 0-RTT space, the rest are server-only or
            // answer something the client cannot have seen yet.
            PacketType::ZeroRtt => {
                self.is_known()
                    && !matches!(
                        self,
                        Self::ACK
                            | Self::ACK_ECN
                            | Self::CRYPTO
                            | Self::HANDSHAKE_DONE
                            | Self::NEW_TOKEN
                            | Self::PATH_RESPONSE
                            | Self::RETIRE_CONNECTION_ID
                    )
            }
            PacketType::OneRtt => self.is_known(),
            // RFC 9000 §12.4: Retry and Version Negotiation carry no frames.
            PacketType::Retry | PacketType::VersionNegotiation => false,
        }
    }
}

impl From<FrameType> for u64 {
    fn from(ty: FrameType) -> u64 {
        ty.0
    }
}

impl fmt::Debug for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN({:#x})", self.0),
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One decoded frame.
///
/// Numbers the connection computes with (offsets, limits, counts, sequence
/// numbers) are `u64`, below 2^62 when decoded; encoding a larger value writes
/// the varint maximum instead. Error codes and stream IDs keep their newtypes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A run of PADDING bytes, counted (RFC 9000 §19.1).
    Padding(usize),
    /// PING (RFC 9000 §19.2).
    Ping,
    /// ACK or ACK with ECN counts (RFC 9000 §19.3).
    Ack(Ack),
    /// RESET_STREAM (RFC 9000 §19.4).
    ResetStream(ResetStream),
    /// STOP_SENDING (RFC 9000 §19.5).
    StopSending(StopSending),
    /// CRYPTO (RFC 9000 §19.6).
    Crypto(Crypto),
    /// NEW_TOKEN (RFC 9000 §19.7).
    NewToken(NewToken),
    /// STREAM (RFC 9000 §19.8).
    Stream(Stream),
    /// MAX_DATA (RFC 9000 §19.9).
    MaxData(MaxData),
    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    MaxStreamData(MaxStreamData),
    /// MAX_STREAMS (RFC 9000 §19.11).
    MaxStreams(MaxStreams),
    /// DATA_BLOCKED (RFC 9000 §19.12).
    DataBlocked(DataBlocked),
    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13).
    StreamDataBlocked(StreamDataBlocked),
    /// STREAMS_BLOCKED (RFC 9000 §19.14).
    StreamsBlocked(StreamsBlocked),
    /// NEW_CONNECTION_ID (RFC 9000 §19.15).
    NewConnectionId(NewConnectionId),
    /// RETIRE_CONNECTION_ID (RFC 9000 §19.16).
    RetireConnectionId(RetireConnectionId),
    /// PATH_CHALLENGE (RFC 9000 §19.17).
    PathChallenge(PathChallenge),
    /// PATH_RESPONSE (RFC 9000 §19.18).
    PathResponse(PathResponse),
    /// CONNECTION_CLOSE of type 0x1c, a transport error (RFC 9000 §19.19).
    ConnectionClose(ConnectionClose),
    /// CONNECTION_CLOSE of type 0x1d, an application error (RFC 9000 §19.19).
    ApplicationClose(ApplicationClose),
    /// HANDSHAKE_DONE (RFC 9000 §19.20).
    HandshakeDone,
    /// DATAGRAM (RFC 9221 §4).
    Datagram(Datagram),
}

impl Frame {
    /// The wire type [`Frame::encode`] writes this frame with. STREAM and
    /// DATAGRAM frames are always written with their Length field.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Frame::Padding(_) => FrameType::PADDING,
            Frame::Ping => FrameType::PING,
            Frame::Ack(f) => f.frame_type(),
            Frame::ResetStream(_) => FrameType::RESET_STREAM,
            Frame::StopSending(_) => FrameType::STOP_SENDING,
            Frame::Crypto(_) => FrameType::CRYPTO,
            Frame::NewToken(_) => FrameType::NEW_TOKEN,
            Frame::Stream(f) => f.frame_type(),
            Frame::MaxData(_) => FrameType::MAX_DATA,
            Frame::MaxStreamData(_) => FrameType::MAX_STREAM_DATA,
            Frame::MaxStreams(f) => f.frame_type(),
            Frame::DataBlocked(_) => FrameType::DATA_BLOCKED,
            Frame::StreamDataBlocked(_) => FrameType::STREAM_DATA_BLOCKED,
            Frame::StreamsBlocked(f) => f.frame_type(),
            Frame::NewConnectionId(_) => FrameType::NEW_CONNECTION_ID,
            Frame::RetireConnectionId(_) => FrameType::RETIRE_CONNECTION_ID,
            Frame::PathChallenge(_) => FrameType::PATH_CHALLENGE,
            Frame::PathResponse(_) => FrameType::PATH_RESPONSE,
            Frame::ConnectionClose(_) => FrameType::CONNECTION_CLOSE,
            Frame::ApplicationClose(_) => FrameType::APPLICATION_CLOSE,
            Frame::HandshakeDone => FrameType::HANDSHAKE_DONE,
            Frame::Datagram(f) => f.frame_type(),
        }
    }

    /// Whether receiving this frame obliges the peer to acknowledge the packet:
    /// every frame but ACK, PADDING and CONNECTION_CLOSE (RFC 9002 §2).
    pub fn is_ack_eliciting(&self) -> bool {
        !matches!(
            self,
            Frame::Ack(_)
                | Frame::Padding(_)
                | Frame::ConnectionClose(_)
                | Frame::ApplicationClose(_)
        )
    }

    /// Whether a packet carrying this frame counts toward bytes in flight:
    /// ack-eliciting frames and PADDING do (RFC 9002 §2).
    pub fn counts_in_flight(&self) -> bool {
        self.is_ack_eliciting() || matches!(self, Frame::Padding(_))
    }

    /// Whether this frame may appear in a probing packet, one that does not
    /// make a new path the active one (RFC 9000 §9.1, table 3 "P").
    pub fn is_probing(&self) -> bool {
        matches!(
            self,
            Frame::Padding(_)
                | Frame::PathChallenge(_)
                | Frame::PathResponse(_)
                | Frame::NewConnectionId(_)
        )
    }

    /// Whether this frame may be sent in a packet of type `packet_type`.
    pub fn allowed_in(&self, packet_type: PacketType) -> bool {
        self.frame_type().allowed_in(packet_type)
    }

    /// Bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Frame::Padding(len) => *len,
            Frame::Ping | Frame::HandshakeDone => 1,
            Frame::Ack(f) => f.encoded_len(),
            Frame::ResetStream(f) => f.encoded_len(),
            Frame::StopSending(f) => f.encoded_len(),
            Frame::Crypto(f) => f.encoded_len(),
            Frame::NewToken(f) => f.encoded_len(),
            Frame::Stream(f) => f.encoded_len(),
            Frame::MaxData(f) => f.encoded_len(),
            Frame::MaxStreamData(f) => f.encoded_len(),
            Frame::MaxStreams(f) => f.encoded_len(),
            Frame::DataBlocked(f) => f.encoded_len(),
            Frame::StreamDataBlocked(f) => f.encoded_len(),
            Frame::StreamsBlocked(f) => f.encoded_len(),
            Frame::NewConnectionId(f) => f.encoded_len(),
            Frame::RetireConnectionId(f) => f.encoded_len(),
            Frame::PathChallenge(f) => f.encoded_len(),
            Frame::PathResponse(f) => f.encoded_len(),
            Frame::ConnectionClose(f) => f.encoded_len(),
            Frame::ApplicationClose(f) => f.encoded_len(),
            Frame::Datagram(f) => f.encoded_len(),
        }
    }

    /// Writes the frame; `buf` must have room for [`Frame::encoded_len`] bytes.
    pub fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Frame::Padding(len) => buf.put_bytes(0, *len),
            Frame::Ping => buf.put_varint_u64(FrameType::PING.0),
            Frame::HandshakeDone => buf.put_varint_u64(FrameType::HANDSHAKE_DONE.0),
            Frame::Ack(f) => f.encode(buf),
            Frame::ResetStream(f) => f.encode(buf),
            Frame::StopSending(f) => f.encode(buf),
            Frame::Crypto(f) => f.encode(buf),
            Frame::NewToken(f) => f.encode(buf),
            Frame::Stream(f) => f.encode(buf),
            Frame::MaxData(f) => f.encode(buf),
            Frame::MaxStreamData(f) => f.encode(buf),
            Frame::MaxStreams(f) => f.encode(buf),
            Frame::DataBlocked(f) => f.encode(buf),
            Frame::StreamDataBlocked(f) => f.encode(buf),
            Frame::StreamsBlocked(f) => f.encode(buf),
            Frame::NewConnectionId(f) => f.encode(buf),
            Frame::RetireConnectionId(f) => f.encode(buf),
            Frame::PathChallenge(f) => f.encode(buf),
            Frame::PathResponse(f) => f.encode(buf),
            Frame::ConnectionClose(f) => f.encode(buf),
            Frame::ApplicationClose(f) => f.encode(buf),
            Frame::Datagram(f) => f.encode(buf),
        }
    }

    /// Decodes the frame at the decoder's position in a packet of type
    /// `packet_type`; errors carry the frame type once it is known.
    fn decode(d: &mut Decoder<'_>, packet_type: PacketType) -> Result<Frame, TransportError> {
        let start = d.position();
        let ty = d.varint()?;
        // RFC 9000 §12.4: frame types use their shortest encoding; we take the
        // permitted option of treating a longer one as a PROTOCOL_VIOLATION.
        if d.position() - start != varint_size(ty) {
            return Err(
                TransportError::protocol_violation("frame type not minimally encoded")
                    .with_frame(ty),
            );
        }
        let ty = FrameType(ty);
        // RFC 9000 §12.4: an unknown type is a FRAME_ENCODING_ERROR.
        if !ty.is_known() {
            return Err(TransportError::frame_encoding("unknown frame type").with_frame(ty.0));
        }
        // RFC 9000 §12.4: a frame in a packet type that may not carry it is a
        // PROTOCOL_VIOLATION.
        if !ty.allowed_in(packet_type) {
            return Err(TransportError::protocol_violation(
                "frame not allowed in this packet type",
            )
            .with_frame(ty.0));
        }
        Self::decode_body(ty, d).map_err(|e| e.with_frame(ty.0))
    }

    fn decode_body(ty: FrameType, d: &mut Decoder<'_>) -> Result<Frame, TransportError> {
        Ok(match ty {
            FrameType::PADDING => Frame::Padding(1 + d.skip_zeros()),
            FrameType::PING => Frame::Ping,
            FrameType::ACK | FrameType::ACK_ECN => Frame::Ack(Ack::decode(ty, d)?),
            FrameType::RESET_STREAM => Frame::ResetStream(ResetStream::decode(d)?),
            FrameType::STOP_SENDING => Frame::StopSending(StopSending::decode(d)?),
            FrameType::CRYPTO => Frame::Crypto(Crypto::decode(d)?),
            FrameType::NEW_TOKEN => Frame::NewToken(NewToken::decode(d)?),
            FrameType(0x08..=0x0f) => Frame::Stream(Stream::decode(ty, d)?),
            FrameType::MAX_DATA => Frame::MaxData(MaxData::decode(d)?),
            FrameType::MAX_STREAM_DATA => Frame::MaxStreamData(MaxStreamData::decode(d)?),
            FrameType::MAX_STREAMS_BIDI | FrameType::MAX_STREAMS_UNI => {
                Frame::MaxStreams(MaxStreams::decode(ty, d)?)
            }
            FrameType::DATA_BLOCKED => Frame::DataBlocked(DataBlocked::decode(d)?),
            FrameType::STREAM_DATA_BLOCKED => {
                Frame::StreamDataBlocked(StreamDataBlocked::decode(d)?)
            }
            FrameType::STREAMS_BLOCKED_BIDI | FrameType::STREAMS_BLOCKED_UNI => {
                Frame::StreamsBlocked(StreamsBlocked::decode(ty, d)?)
            }
            FrameType::NEW_CONNECTION_ID => Frame::NewConnectionId(NewConnectionId::decode(d)?),
            FrameType::RETIRE_CONNECTION_ID => {
                Frame::RetireConnectionId(RetireConnectionId::decode(d)?)
            }
            FrameType::PATH_CHALLENGE => Frame::PathChallenge(PathChallenge::decode(d)?),
            FrameType::PATH_RESPONSE => Frame::PathResponse(PathResponse::decode(d)?),
            FrameType::CONNECTION_CLOSE => Frame::ConnectionClose(ConnectionClose::decode(d)?),
            FrameType::APPLICATION_CLOSE => Frame::ApplicationClose(ApplicationClose::decode(d)?),
            FrameType::HANDSHAKE_DONE => Frame::HandshakeDone,
            FrameType::DATAGRAM | FrameType::DATAGRAM_LEN => {
                Frame::Datagram(Datagram::decode(ty, d)?)
            }
            _ => return Err(TransportError::frame_encoding("unknown frame type")),
        })
    }
}

/// The frames of one decrypted packet payload, in order.
///
/// Yields `Err` for the first frame that fails to decode or may not appear in
/// this packet type, then stops; an empty payload yields one PROTOCOL_VIOLATION
/// (RFC 9000 §12.4). Data-carrying fields are slices of the payload, not copies.
#[derive(Debug, Clone)]
pub struct Frames {
    payload: Bytes,
    pos: usize,
    packet_type: PacketType,
    done: bool,
}

impl Frames {
    /// Iterates the frames of `payload`, received in a packet of `packet_type`.
    pub fn new(payload: Bytes, packet_type: PacketType) -> Self {
        Frames {
            payload,
            pos: 0,
            packet_type,
            done: false,
        }
    }

    /// The packet type the frames are checked against.
    pub fn packet_type(&self) -> PacketType {
        self.packet_type
    }
}

impl Iterator for Frames {
    type Item = Result<Frame, TransportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.pos >= self.payload.len() {
            self.done = true;
            // RFC 9000 §12.4: a packet must carry at least one frame.
            return self
                .payload
                .is_empty()
                .then(|| Err(TransportError::protocol_violation("packet has no frames")));
        }
        let mut d = Decoder::new(&self.payload, self.pos);
        let result = Frame::decode(&mut d, self.packet_type);
        self.pos += d.position();
        self.done = result.is_err();
        Some(result)
    }
}

impl std::iter::FusedIterator for Frames {}

/// The error for a frame that ends before its fields do.
const TRUNCATED: TransportError = TransportError::frame_encoding("frame truncated");

/// A checked cursor over a packet payload that hands out zero-copy slices;
/// every short read is a FRAME_ENCODING_ERROR.
struct Decoder<'a> {
    payload: &'a Bytes,
    /// The payload from the starting position on; `r` reads it.
    rest: &'a [u8],
    r: Reader<'a>,
}

impl<'a> Decoder<'a> {
    /// Starts at byte `pos` of `payload` (an out-of-range `pos` reads as empty).
    fn new(payload: &'a Bytes, pos: usize) -> Self {
        let rest = payload.get(pos..).unwrap_or_default();
        Decoder {
            payload,
            rest,
            r: Reader::new(rest),
        }
    }

    /// Bytes consumed since [`Decoder::new`].
    fn position(&self) -> usize {
        self.r.position()
    }

    fn varint(&mut self) -> Result<u64, TransportError> {
        self.r.varint_u64().map_err(|_| TRUNCATED)
    }

    fn varint_vi(&mut self) -> Result<VarInt, TransportError> {
        self.r.varint().map_err(|_| TRUNCATED)
    }

    fn u8(&mut self) -> Result<u8, TransportError> {
        self.r.u8().map_err(|_| TRUNCATED)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TransportError> {
        self.r.array().map_err(|_| TRUNCATED)
    }

    /// `len` bytes as a slice of the payload.
    fn bytes(&mut self, len: u64) -> Result<Bytes, TransportError> {
        let len = usize::try_from(len).map_err(|_| TRUNCATED)?;
        let raw = self.r.bytes(len).map_err(|_| TRUNCATED)?;
        Ok(self.payload.slice_ref(raw))
    }

    /// A varint length followed by that many bytes.
    fn length_prefixed(&mut self) -> Result<Bytes, TransportError> {
        let len = self.varint()?;
        self.bytes(len)
    }

    /// Everything up to the end of the payload.
    fn rest(&mut self) -> Bytes {
        let raw = self.r.take_rest();
        self.payload.slice_ref(raw)
    }

    /// The bytes consumed since position `start`, as a slice of the payload.
    fn slice_since(&self, start: usize) -> Bytes {
        let raw = self.rest.get(start..self.position()).unwrap_or_default();
        self.payload.slice_ref(raw)
    }

    /// Consumes a run of zero bytes and returns its length.
    fn skip_zeros(&mut self) -> usize {
        let zeros = self.r.peek_rest().iter().take_while(|b| **b == 0).count();
        // The run was just measured within the unread bytes.
        let _ = self.r.skip(zeros);
        zeros
    }
}

/// Writes `ty` as a frame type (its minimal varint encoding).
fn put_type(buf: &mut impl BufMut, ty: FrameType) {
    buf.put_varint_u64(ty.0);
}

/// Bytes of `ty` on the wire.
fn type_len(ty: FrameType) -> usize {
    varint_size(ty.0)
}
