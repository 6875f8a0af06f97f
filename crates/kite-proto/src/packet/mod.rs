//! Packet headers and their types (RFC 8999, RFC 9000 §12.2, §17, RFC 9369 §3.2).
//!
//! Parsing reads only what header protection leaves in clear; the packet number,
//! its length and the reserved bits are the crypto module's to unmask. Writing
//! returns a [`HeaderLayout`] telling packet protection where the number sits.

mod coalesce;
mod header;
mod invariant;
mod number;
mod retry;
mod version_negotiation;

pub use coalesce::{CoalescedPacket, DatagramSplitter, Packets, split_datagram};
pub use header::{
    Header, HeaderLayout, LongHeader, LongType, MAX_LONG_PACKET_LENGTH, ParsedHeader, ShortHeader,
};
pub use invariant::InvariantHeader;
pub use number::{PacketNumber, PnLen};
pub use retry::{RETRY_INTEGRITY_TAG_LEN, Retry, retry_pseudo_packet};
pub use version_negotiation::VersionNegotiation;

use crate::Version;
use crate::cid::CidTooLong;
use crate::coding::UnexpectedEnd;

/// First-byte bit that marks a long header (RFC 8999 §5).
const LONG_FORM_BIT: u8 = 0x80;
/// First-byte bit that v1 and v2 set in every packet but Version Negotiation
/// (RFC 9000 §17.2, §17.3).
const FIXED_BIT: u8 = 0x40;

/// The kinds of QUIC packet (RFC 9000 §17), as far as frames and packet
/// number spaces care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Long header, type Initial: the first flights, Initial keys.
    Initial,
    /// Long header, type 0-RTT: early application data.
    ZeroRtt,
    /// Long header, type Handshake: the rest of the TLS handshake.
    Handshake,
    /// Long header, type Retry: a server's address validation request.
    Retry,
    /// Short header: 1-RTT application data.
    OneRtt,
    /// Version Negotiation (version field 0).
    VersionNegotiation,
}

/// The three packet number spaces (RFC 9000 §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpaceId {
    /// Initial packets.
    Initial = 0,
    /// Handshake packets.
    Handshake = 1,
    /// 0-RTT and 1-RTT packets.
    Data = 2,
}

impl SpaceId {
    /// All spaces, in the order their keys become available.
    pub const ALL: [SpaceId; 3] = [SpaceId::Initial, SpaceId::Handshake, SpaceId::Data];
}

impl PacketType {
    /// The packet number space this type's packets are numbered in, if any.
    pub fn space(self) -> Option<SpaceId> {
        match self {
            PacketType::Initial => Some(SpaceId::Initial),
            PacketType::Handshake => Some(SpaceId::Handshake),
            PacketType::ZeroRtt | PacketType::OneRtt => Some(SpaceId::Data),
            PacketType::Retry | PacketType::VersionNegotiation => None,
        }
    }

    /// Whether packets of this type use the long header form.
    pub fn is_long_header(self) -> bool {
        self != PacketType::OneRtt
    }
}

impl From<LongType> for PacketType {
    fn from(ty: LongType) -> Self {
        match ty {
            LongType::Initial => PacketType::Initial,
            LongType::ZeroRtt => PacketType::ZeroRtt,
            LongType::Handshake => PacketType::Handshake,
        }
    }
}

/// Why a packet header could not be parsed or written. Every variant means
/// the packet (and, when splitting, the rest of its datagram) is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The buffer ended inside the header.
    #[error("packet header truncated")]
    UnexpectedEnd,
    /// The fixed bit is 0 (RFC 9000 §17.2, §17.3: such packets are discarded).
    #[error("fixed bit is zero")]
    FixedBitZero,
    /// A connection ID is longer than the version allows (20 bytes for v1 and
    /// v2, RFC 9000 §17.2; 255 for any version, RFC 8999 §5.1).
    #[error("connection ID of {0} bytes is too long")]
    CidTooLong(usize),
    /// A long header's Length field runs past the end of the datagram.
    #[error("Length field runs past the end of the datagram")]
    LengthPastEnd,
    /// A long header carries a version this module has no layout for.
    #[error("unsupported version {0}")]
    UnsupportedVersion(Version),
    /// A Version Negotiation parser was given another kind of packet.
    #[error("not a Version Negotiation packet")]
    NotVersionNegotiation,
    /// A Version Negotiation packet's version list is empty or not a whole
    /// number of 32-bit versions (RFC 9000 §17.2.1).
    #[error("malformed Version Negotiation version list")]
    BadVersionList,
    /// A Retry parser was given another kind of packet.
    #[error("not a Retry packet")]
    NotRetry,
    /// A Retry packet has no room for a non-empty token and its integrity tag
    /// (RFC 9000 §17.2.5, §8.1.2: the token must not be empty).
    #[error("Retry packet without token")]
    EmptyRetryToken,
    /// A packet coalesced behind the first one names another destination
    /// connection ID (RFC 9000 §12.2: the receiver ignores it).
    #[error("coalesced packet with a different destination connection ID")]
    DcidMismatch,
    /// A long packet is too long for its 2-byte Length field
    /// ([`MAX_LONG_PACKET_LENGTH`]).
    #[error("long packet too long for its Length field")]
    LengthTooLarge,
}

impl From<UnexpectedEnd> for PacketError {
    fn from(_: UnexpectedEnd) -> Self {
        PacketError::UnexpectedEnd
    }
}

impl From<CidTooLong> for PacketError {
    fn from(err: CidTooLong) -> Self {
        PacketError::CidTooLong(err.0)
    }
}
