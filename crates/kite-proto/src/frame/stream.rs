//! Data-carrying frames: STREAM (RFC 9000 §19.8), CRYPTO (§19.6) and DATAGRAM
//! (RFC 9221 §4). Decoded data is a slice of the packet; for sending, each has a
//! header-only encoder so the caller copies the data straight after it, and a
//! helper saying how much data fits in the space left in a packet.

use super::{Decoder, FrameType, put_type, type_len};
use crate::coding::{BufMutExt, VarInt, varint_size};
use crate::error::TransportError;
use crate::stream_id::StreamId;
use bytes::{BufMut, Bytes};

/// The highest stream or crypto offset, end of data included, that can exist:
/// the varint maximum 2^62 - 1 (RFC 9000 §19.6, §19.8).
pub const MAX_STREAM_OFFSET: u64 = VarInt::MAX.into_inner();

/// STREAM type bit: an Offset field is present (RFC 9000 §19.8).
const OFF_BIT: u64 = 0x04;
/// STREAM type bit: a Length field is present; without it the data runs to the
/// end of the packet.
const LEN_BIT: u64 = 0x02;
/// STREAM type bit: this frame ends the stream.
const FIN_BIT: u64 = 0x01;

/// RFC 9000 §19.6, §19.8: data ending past 2^62 - 1 is a FRAME_ENCODING_ERROR.
fn check_end(offset: u64, len: usize) -> Result<(), TransportError> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= MAX_STREAM_OFFSET => Ok(()),
        _ => Err(TransportError::frame_encoding("data ends past 2^62-1")),
    }
}

/// The most data bytes that fit in `space` bytes together with their varint
/// length prefix; `None` if not even an empty length fits. The length's own
/// size shrinks with the data, so each varint size is tried.
fn fit_with_length(space: usize) -> Option<usize> {
    const SIZES: [(usize, u64); 4] = [(1, 63), (2, 16_383), (4, (1 << 30) - 1), (8, (1 << 62) - 1)];
    SIZES
        .iter()
        .filter(|(size, _)| space >= *size)
        .map(|(size, most)| (space - size).min(usize::try_from(*most).unwrap_or(usize::MAX)))
        .max()
}

/// The most data bytes that fit in `space` after a `header`-byte header, with
/// or without a length prefix.
fn fit_after(header: usize, space: usize, has_length: bool) -> Option<usize> {
    let rest = space.checked_sub(header)?;
    if has_length {
        fit_with_length(rest)
    } else {
        Some(rest)
    }
}

/// A STREAM frame (types 0x08..=0x0f).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The stream the data belongs to.
    pub id: StreamId,
    /// The offset of `data` in the stream.
    pub offset: u64,
    /// Whether the stream ends with this data.
    pub fin: bool,
    /// The data, a slice of the received packet.
    pub data: Bytes,
}

impl Stream {
    /// The header [`Stream::encode`] writes: Offset only when non-zero, Length always.
    pub fn header(&self) -> StreamFrameHeader {
        StreamFrameHeader {
            id: self.id,
            offset: self.offset,
            len: self.data.len(),
            fin: self.fin,
            has_length: true,
        }
    }

    /// The type this frame is written with.
    pub fn frame_type(&self) -> FrameType {
        self.header().frame_type()
    }

    /// Bytes [`Stream::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.header().encoded_len() + self.data.len()
    }

    /// Writes the frame with a Length field, so more frames may follow.
    pub fn encode(&self, buf: &mut impl BufMut) {
        self.header().encode(buf);
        buf.put_slice(&self.data);
    }

    pub(super) fn decode(ty: FrameType, d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        let id = StreamId(d.varint()?);
        let offset = if ty.0 & OFF_BIT != 0 { d.varint()? } else { 0 };
        let data = if ty.0 & LEN_BIT != 0 {
            d.length_prefixed()?
        } else {
            d.rest()
        };
        check_end(offset, data.len())?;
        Ok(Stream {
            id,
            offset,
            fin: ty.0 & FIN_BIT != 0,
            data,
        })
    }
}

/// The header of a STREAM frame, written ahead of data the caller copies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFrameHeader {
    /// The stream the data belongs to.
    pub id: StreamId,
    /// The offset of the data; 0 leaves the Offset field out.
    pub offset: u64,
    /// Bytes of data that follow; written only when `has_length` is set.
    pub len: usize,
    /// Whether the stream ends with this data.
    pub fin: bool,
    /// Whether to write the Length field; without it the data must run to the
    /// end of the packet.
    pub has_length: bool,
}

impl StreamFrameHeader {
    /// The most data bytes a STREAM frame for `id` at `offset` can carry in
    /// `space` bytes, header included; `None` if not even the header fits.
    pub fn max_data_len(
        id: StreamId,
        offset: u64,
        space: usize,
        has_length: bool,
    ) -> Option<usize> {
        let header = type_len(FrameType::STREAM)
            + id.as_varint().size()
            + if offset != 0 { varint_size(offset) } else { 0 };
        fit_after(header, space, has_length)
    }

    /// The frame type these flags make.
    pub fn frame_type(&self) -> FrameType {
        let mut ty = FrameType::STREAM.0;
        if self.offset != 0 {
            ty |= OFF_BIT;
        }
        if self.has_length {
            ty |= LEN_BIT;
        }
        if self.fin {
            ty |= FIN_BIT;
        }
        FrameType(ty)
    }

    /// Bytes [`StreamFrameHeader::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(self.frame_type())
            + self.id.as_varint().size()
            + if self.offset != 0 {
                varint_size(self.offset)
            } else {
                0
            }
            + if self.has_length {
                varint_size(self.len as u64)
            } else {
                0
            }
    }

    /// Writes the header; `len` data bytes are expected to follow.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, self.frame_type());
        buf.put_varint(self.id.as_varint());
        if self.offset != 0 {
            buf.put_varint_u64(self.offset);
        }
        if self.has_length {
            buf.put_varint_u64(self.len as u64);
        }
    }
}

/// A CRYPTO frame: TLS handshake bytes at an offset in the packet number
/// space's crypto stream (RFC 9000 §19.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The offset of `data` in the crypto stream.
    pub offset: u64,
    /// The handshake bytes, a slice of the received packet.
    pub data: Bytes,
}

impl Crypto {
    /// The header [`Crypto::encode`] writes.
    pub fn header(&self) -> CryptoFrameHeader {
        CryptoFrameHeader {
            offset: self.offset,
            len: self.data.len(),
        }
    }

    /// Bytes [`Crypto::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.header().encoded_len() + self.data.len()
    }

    /// Writes the frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        self.header().encode(buf);
        buf.put_slice(&self.data);
    }

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        let offset = d.varint()?;
        let data = d.length_prefixed()?;
        check_end(offset, data.len())?;
        Ok(Crypto { offset, data })
    }
}

/// The header of a CRYPTO frame, written ahead of data the caller copies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoFrameHeader {
    /// The offset of the data in the crypto stream.
    pub offset: u64,
    /// Bytes of data that follow.
    pub len: usize,
}

impl CryptoFrameHeader {
    /// The most data bytes a CRYPTO frame at `offset` can carry in `space`
    /// bytes, header included; `None` if not even the header fits.
    pub fn max_data_len(offset: u64, space: usize) -> Option<usize> {
        fit_after(
            type_len(FrameType::CRYPTO) + varint_size(offset),
            space,
            true,
        )
    }

    /// Bytes [`CryptoFrameHeader::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(FrameType::CRYPTO) + varint_size(self.offset) + varint_size(self.len as u64)
    }

    /// Writes the header; `len` data bytes are expected to follow.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, FrameType::CRYPTO);
        buf.put_varint_u64(self.offset);
        buf.put_varint_u64(self.len as u64);
    }
}

/// A DATAGRAM frame: unreliable application data (RFC 9221 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The application data, a slice of the received packet.
    pub data: Bytes,
}

impl Datagram {
    /// The header [`Datagram::encode`] writes: always with a Length field.
    pub fn header(&self) -> DatagramFrameHeader {
        DatagramFrameHeader {
            len: self.data.len(),
            has_length: true,
        }
    }

    /// The type this frame is written with.
    pub fn frame_type(&self) -> FrameType {
        self.header().frame_type()
    }

    /// Bytes [`Datagram::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.header().encoded_len() + self.data.len()
    }

    /// Writes the frame with a Length field, so more frames may follow.
    pub fn encode(&self, buf: &mut impl BufMut) {
        self.header().encode(buf);
        buf.put_slice(&self.data);
    }

    pub(super) fn decode(ty: FrameType, d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        // RFC 9221 §4: without the LEN bit the data runs to the end of the packet.
        let data = if ty == FrameType::DATAGRAM_LEN {
            d.length_prefixed()?
        } else {
            d.rest()
        };
        Ok(Datagram { data })
    }
}

/// The header of a DATAGRAM frame, written ahead of data the caller copies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramFrameHeader {
    /// Bytes of data that follow; written only when `has_length` is set.
    pub len: usize,
    /// Whether to write the Length field; without it the data must run to the
    /// end of the packet.
    pub has_length: bool,
}

impl DatagramFrameHeader {
    /// The most data bytes a DATAGRAM frame can carry in `space` bytes, header
    /// included; `None` if not even the header fits.
    pub fn max_data_len(space: usize, has_length: bool) -> Option<usize> {
        fit_after(type_len(FrameType::DATAGRAM), space, has_length)
    }

    /// 0x31 with a Length field, 0x30 without.
    pub fn frame_type(&self) -> FrameType {
        if self.has_length {
            FrameType::DATAGRAM_LEN
        } else {
            FrameType::DATAGRAM
        }
    }

    /// Bytes [`DatagramFrameHeader::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(self.frame_type())
            + if self.has_length {
                varint_size(self.len as u64)
            } else {
                0
            }
    }

    /// Writes the header; `len` data bytes are expected to follow.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, self.frame_type());
        if self.has_length {
            buf.put_varint_u64(self.len as u64);
        }
    }
}
