//! Packet headers and their types (RFC 8999, RFC 9000 §17).

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
}
