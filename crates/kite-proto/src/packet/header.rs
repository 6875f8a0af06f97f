//! Version-specific headers of QUIC v1 and v2: parsing the unprotected part of
//! a packet and writing Initial, 0-RTT, Handshake and 1-RTT headers
//! (RFC 9000 §17.2–§17.3, RFC 9369 §3.2). Retry and Version Negotiation have
//! their own modules; header protection and sealing are the crypto module's.

use bytes::BufMut;

use super::{
    FIXED_BIT, LONG_FORM_BIT, PacketError, PacketNumber, PacketType, PnLen,
    RETRY_INTEGRITY_TAG_LEN, Retry, VersionNegotiation,
};
use crate::Version;
use crate::cid::{ConnectionId, MAX_CID_LEN};
use crate::coding::{BufMutExt, Reader, VarInt};

/// The largest value the 2-byte Length field written by
/// [`LongHeader::write`] can hold (RFC 9000 §16: 2^14 - 1). Bounds the packet
/// number plus payload (AEAD tag included) of one long-header packet; any
/// datagram up to the default 1452-byte ceiling fits with room to spare.
pub const MAX_LONG_PACKET_LENGTH: usize = (1 << 14) - 1;

/// Short header bit that carries the latency spin bit (RFC 9000 §17.3.1).
const SPIN_BIT: u8 = 0x20;
/// Short header bit that carries the key phase (RFC 9000 §17.3.1).
const KEY_PHASE_BIT: u8 = 0x04;
/// A 2-byte varint of value 0: the Length placeholder [`HeaderLayout::set_length`] patches.
const LENGTH_PLACEHOLDER: u16 = 0x4000;

/// The long-header packet types that carry a packet number and a protected
/// payload. Retry is [`Retry`]'s own type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LongType {
    /// Initial packet: carries a token (RFC 9000 §17.2.2).
    Initial,
    /// 0-RTT packet (RFC 9000 §17.2.3).
    ZeroRtt,
    /// Handshake packet (RFC 9000 §17.2.4).
    Handshake,
}

/// Which kind of long packet the two type bits name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LongKind {
    Protected(LongType),
    Retry,
}

/// Type bits of [Initial, 0-RTT, Handshake, Retry] for `version`
/// (RFC 9000 §17.2 table 5; RFC 9369 §3.2 reassigns every one for v2).
fn type_bits(version: Version) -> Result<[u8; 4], PacketError> {
    match version {
        Version::V1 => Ok([0b00, 0b01, 0b10, 0b11]),
        Version::V2 => Ok([0b01, 0b10, 0b11, 0b00]),
        other => Err(PacketError::UnsupportedVersion(other)),
    }
}

/// The first byte's type bits (0x30) for `kind`, shifted into place.
pub(super) fn encode_kind(version: Version, kind: LongKind) -> Result<u8, PacketError> {
    let table = type_bits(version)?;
    let bits = match kind {
        LongKind::Protected(LongType::Initial) => table[0],
        LongKind::Protected(LongType::ZeroRtt) => table[1],
        LongKind::Protected(LongType::Handshake) => table[2],
        LongKind::Retry => table[3],
    };
    Ok(bits << 4)
}

/// The kind named by a long header's first byte, for `version`.
pub(super) fn decode_kind(version: Version, first: u8) -> Result<LongKind, PacketError> {
    let table = type_bits(version)?;
    let bits = (first >> 4) & 0x03;
    Ok(match table.iter().position(|b| *b == bits) {
        Some(0) => LongKind::Protected(LongType::Initial),
        Some(1) => LongKind::Protected(LongType::ZeroRtt),
        Some(2) => LongKind::Protected(LongType::Handshake),
        _ => LongKind::Retry,
    })
}

/// Reads a v1/v2 connection ID: a length byte of at most 20, then the bytes.
pub(super) fn read_cid(r: &mut Reader<'_>) -> Result<ConnectionId, PacketError> {
    let len = usize::from(r.u8()?);
    if len > MAX_CID_LEN {
        return Err(PacketError::CidTooLong(len));
    }
    Ok(ConnectionId::new(r.bytes(len)?)?)
}

/// Writes a connection ID with its length byte.
pub(super) fn write_cid<B: BufMut>(out: &mut B, cid: &ConnectionId) {
    // A ConnectionId holds at most 20 bytes, so its length fits a byte.
    out.put_u8(cid.len() as u8);
    out.put_slice(cid);
}

/// The clear fields of an Initial, 0-RTT or Handshake header: what the sender
/// chooses, and what the receiver reads before removing header protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// Initial, 0-RTT or Handshake.
    pub ty: LongType,
    /// QUIC version, v1 or v2.
    pub version: Version,
    /// Destination connection ID.
    pub dcid: ConnectionId,
    /// Source connection ID.
    pub scid: ConnectionId,
    /// Address validation token; only Initial packets carry one, so it is
    /// empty for the other types (and not written for them).
    pub token: &'a [u8],
}

/// The clear fields of a 1-RTT (short) header (RFC 9000 §17.3.1). The key
/// phase is header-protected, so it is an argument of [`ShortHeader::write`]
/// rather than a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortHeader {
    /// Destination connection ID, of the receiver's chosen length.
    pub dcid: ConnectionId,
    /// Latency spin bit (RFC 9000 §17.4), not header-protected.
    pub spin: bool,
}

/// A packet header parsed from the front of a buffer, any kind a datagram
/// can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header<'a> {
    /// Initial, 0-RTT or Handshake packet.
    Long {
        /// The clear fields.
        header: LongHeader<'a>,
        /// Offset of the (protected) packet number from the packet's first byte.
        pn_offset: usize,
    },
    /// 1-RTT packet.
    Short {
        /// The clear fields.
        header: ShortHeader,
        /// Offset of the (protected) packet number from the packet's first byte.
        pn_offset: usize,
    },
    /// Retry packet (RFC 9000 §17.2.5), not yet checked against its tag.
    Retry {
        /// The fields the integrity tag covers.
        retry: Retry<'a>,
        /// The Retry Integrity Tag (RFC 9001 §5.8), for the crypto module to check.
        integrity_tag: [u8; RETRY_INTEGRITY_TAG_LEN],
    },
    /// Version Negotiation packet (RFC 9000 §17.2.1).
    VersionNegotiation(VersionNegotiation<'a>),
}

/// A header and the length of its packet within the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedHeader<'a> {
    /// The parsed header.
    pub header: Header<'a>,
    /// Bytes from the packet's first byte to its end: up to the end of the
    /// Length field's span for Initial, 0-RTT and Handshake packets, the rest
    /// of the buffer for every other kind.
    pub len: usize,
}

impl<'a> ParsedHeader<'a> {
    /// Parses the packet at the start of `buf` (the rest of a datagram).
    /// `local_cid_len` is the length of the connection IDs this endpoint
    /// issues, which short headers do not encode.
    ///
    /// Only clear fields are read: the reserved bits, packet number length and
    /// key phase are header-protected and left alone. Errors on a truncated
    /// header, a fixed bit of 0 (except in Version Negotiation, where the bit is
    /// arbitrary), a connection ID over 20 bytes, a version other than v1, v2
    /// or 0, or a Length that runs past `buf`.
    pub fn parse(buf: &'a [u8], local_cid_len: usize) -> Result<Self, PacketError> {
        let mut r = Reader::new(buf);
        let first = r.u8()?;
        if first & LONG_FORM_BIT == 0 {
            return Self::parse_short(buf, first, local_cid_len);
        }
        let version = Version(r.u32()?);
        if version == Version::NEGOTIATION {
            let vn = VersionNegotiation::parse(buf)?;
            return Ok(ParsedHeader {
                header: Header::VersionNegotiation(vn),
                len: buf.len(),
            });
        }
        let kind = decode_kind(version, first)?;
        // RFC 9000 §17.2: a long header with the fixed bit at 0 is discarded.
        if first & FIXED_BIT == 0 {
            return Err(PacketError::FixedBitZero);
        }
        let ty = match kind {
            LongKind::Retry => {
                let (retry, integrity_tag) = Retry::parse(buf)?;
                return Ok(ParsedHeader {
                    header: Header::Retry {
                        retry,
                        integrity_tag,
                    },
                    len: buf.len(),
                });
            }
            LongKind::Protected(ty) => ty,
        };
        let dcid = read_cid(&mut r)?;
        let scid = read_cid(&mut r)?;
        let token: &[u8] = if ty == LongType::Initial {
            let token_len = r.varint_u64()?;
            let token_len = usize::try_from(token_len).map_err(|_| PacketError::UnexpectedEnd)?;
            r.bytes(token_len)?
        } else {
            &[]
        };
        let length = r.varint_u64()?;
        let pn_offset = r.position();
        let length = match usize::try_from(length) {
            Ok(length) if length <= r.remaining() => length,
            _ => return Err(PacketError::LengthPastEnd),
        };
        Ok(ParsedHeader {
            header: Header::Long {
                header: LongHeader {
                    ty,
                    version,
                    dcid,
                    scid,
                    token,
                },
                pn_offset,
            },
            len: pn_offset + length,
        })
    }

    fn parse_short(buf: &'a [u8], first: u8, local_cid_len: usize) -> Result<Self, PacketError> {
        // RFC 9000 §17.3.1: a short header with the fixed bit at 0 is discarded.
        if first & FIXED_BIT == 0 {
            return Err(PacketError::FixedBitZero);
        }
        if local_cid_len > MAX_CID_LEN {
            return Err(PacketError::CidTooLong(local_cid_len));
        }
        let mut r = Reader::new(buf);
        r.skip(1)?;
        let dcid = ConnectionId::new(r.bytes(local_cid_len)?)?;
        Ok(ParsedHeader {
            header: Header::Short {
                header: ShortHeader {
                    dcid,
                    spin: first & SPIN_BIT != 0,
                },
                pn_offset: r.position(),
            },
            len: buf.len(),
        })
    }
}

impl Header<'_> {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Header::Long { header, .. } => header.ty.into(),
            Header::Short { .. } => PacketType::OneRtt,
            Header::Retry { .. } => PacketType::Retry,
            Header::VersionNegotiation(_) => PacketType::VersionNegotiation,
        }
    }

    /// The destination connection ID.
    pub fn dcid(&self) -> &[u8] {
        match self {
            Header::Long { header, .. } => &header.dcid,
            Header::Short { header, .. } => &header.dcid,
            Header::Retry { retry, .. } => &retry.dcid,
            Header::VersionNegotiation(vn) => vn.dcid,
        }
    }

    /// The long header's version; `None` for short headers.
    pub fn version(&self) -> Option<Version> {
        match self {
            Header::Long { header, .. } => Some(header.version),
            Header::Short { .. } => None,
            Header::Retry { retry, .. } => Some(retry.version),
            Header::VersionNegotiation(_) => Some(Version::NEGOTIATION),
        }
    }

    /// Offset of the packet number from the packet's first byte, for packets
    /// that have one (not Retry or Version Negotiation).
    pub fn pn_offset(&self) -> Option<usize> {
        match self {
            Header::Long { pn_offset, .. } | Header::Short { pn_offset, .. } => Some(*pn_offset),
            Header::Retry { .. } | Header::VersionNegotiation(_) => None,
        }
    }
}

/// Where a written header's parts lie, as offsets from the packet's first
/// byte: what packet protection needs to seal the payload (the header is its
/// associated data) and to mask the packet number.
///
/// Sending a long-header packet goes: [`LongHeader::write`], write the frames,
/// [`HeaderLayout::set_length`] once the payload size (AEAD tag included) is
/// known, seal, then apply header protection at `pn_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLayout {
    /// Offset of the packet number field.
    pub pn_offset: usize,
    /// Length of the packet number field.
    pub pn_len: PnLen,
    /// Offset of the 2-byte Length field, for long headers.
    length_offset: Option<usize>,
}

impl HeaderLayout {
    /// The header's length, packet number included: where the payload starts.
    pub fn header_len(&self) -> usize {
        self.pn_offset + self.pn_len.bytes()
    }

    /// Fills in a long header's Length field, which [`LongHeader::write`]
    /// leaves as a 2-byte placeholder. `packet` starts at the header's first
    /// byte; `payload_len` counts the bytes after the packet number, AEAD tag
    /// included. Short headers have no Length; for them this does nothing.
    ///
    /// Errors if the packet number plus payload exceeds
    /// [`MAX_LONG_PACKET_LENGTH`], or `packet` does not hold the header.
    pub fn set_length(&self, packet: &mut [u8], payload_len: usize) -> Result<(), PacketError> {
        let Some(offset) = self.length_offset else {
            return Ok(());
        };
        let length = payload_len
            .checked_add(self.pn_len.bytes())
            .filter(|length| *length <= MAX_LONG_PACKET_LENGTH)
            .ok_or(PacketError::LengthTooLarge)?;
        let field = packet
            .get_mut(offset..offset + 2)
            .ok_or(PacketError::UnexpectedEnd)?;
        // The bound above keeps `length` under 2^14, so it fits the 14 value bits.
        field.copy_from_slice(&(LENGTH_PLACEHOLDER | length as u16).to_be_bytes());
        Ok(())
    }
}

impl LongHeader<'_> {
    /// Writes the header, the packet number `pn` in `pn_len` bytes, and a
    /// 2-byte Length placeholder that [`HeaderLayout::set_length`] fills in.
    /// The reserved bits are written as 0 (RFC 9000 §17.2: they are 0 before
    /// header protection). Errors on a version other than v1 or v2.
    pub fn write<B: BufMut>(
        &self,
        out: &mut B,
        pn: PacketNumber,
        pn_len: PnLen,
    ) -> Result<HeaderLayout, PacketError> {
        let type_bits = encode_kind(self.version, LongKind::Protected(self.ty))?;
        out.put_u8(LONG_FORM_BIT | FIXED_BIT | type_bits | pn_len.first_byte_bits());
        out.put_u32(self.version.0);
        write_cid(out, &self.dcid);
        write_cid(out, &self.scid);
        let mut length_offset = 1 + 4 + 1 + self.dcid.len() + 1 + self.scid.len();
        if self.ty == LongType::Initial {
            let token_len = VarInt::saturating(self.token.len() as u64);
            out.put_varint(token_len);
            out.put_slice(self.token);
            length_offset += token_len.size() + self.token.len();
        }
        out.put_u16(LENGTH_PLACEHOLDER);
        pn.write(pn_len, out);
        Ok(HeaderLayout {
            pn_offset: length_offset + 2,
            pn_len,
            length_offset: Some(length_offset),
        })
    }
}

impl ShortHeader {
    /// Writes the header with `key_phase` and the packet number `pn` in
    /// `pn_len` bytes; the reserved bits are written as 0 (RFC 9000 §17.3.1).
    pub fn write<B: BufMut>(
        &self,
        out: &mut B,
        key_phase: bool,
        pn: PacketNumber,
        pn_len: PnLen,
    ) -> HeaderLayout {
        let mut first = FIXED_BIT | pn_len.first_byte_bits();
        if self.spin {
            first |= SPIN_BIT;
        }
        if key_phase {
            first |= KEY_PHASE_BIT;
        }
        out.put_u8(first);
        out.put_slice(&self.dcid);
        pn.write(pn_len, out);
        HeaderLayout {
            pn_offset: 1 + self.dcid.len(),
            pn_len,
            length_offset: None,
        }
    }
}

#[cfg(test)]
mod tests;
