//! Stream identifiers (RFC 9000 §2.1): the low two bits say who opened the
//! stream and whether it is bidirectional.

use crate::coding::VarInt;
use std::fmt;

/// Which endpoint plays which role in a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that sent the first Initial.
    Client,
    /// The endpoint that answered it.
    Server,
}

impl Side {
    /// The other side.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// Whether this is the client.
    pub fn is_client(self) -> bool {
        self == Side::Client
    }
}

/// Whether a stream carries data both ways or only from its opener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Data flows both ways.
    Bi,
    /// Data flows only from the opener.
    Uni,
}

/// A stream ID: a 62-bit number whose low bits encode initiator and direction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

impl StreamId {
    /// The `index`-th stream of its kind opened by `initiator` in direction `dir`.
    pub fn new(initiator: Side, dir: Dir, index: u64) -> Self {
        let low = match initiator {
            Side::Client => 0,
            Side::Server => 1,
        } | match dir {
            Dir::Bi => 0,
            Dir::Uni => 2,
        };
        StreamId((index << 2) | low)
    }

    /// The endpoint that opened the stream.
    pub fn initiator(self) -> Side {
        if self.0 & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// The stream's direction.
    pub fn dir(self) -> Dir {
        if self.0 & 2 == 0 { Dir::Bi } else { Dir::Uni }
    }

    /// The position of this stream among those of its initiator and direction.
    pub fn index(self) -> u64 {
        self.0 >> 2
    }

    /// The stream ID as a varint (stream IDs are below 2^62 by construction).
    pub fn as_varint(self) -> VarInt {
        VarInt::saturating(self.0)
    }
}

impl From<VarInt> for StreamId {
    fn from(v: VarInt) -> Self {
        StreamId(v.into_inner())
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.initiator() {
            Side::Client => "client",
            Side::Server => "server",
        };
        let dir = match self.dir() {
            Dir::Bi => "bi",
            Dir::Uni => "uni",
        };
        write!(f, "{}({who} {dir} #{})", self.0, self.index())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_id_low_bits_follow_rfc9000_section_2_1() {
        assert_eq!(StreamId::new(Side::Client, Dir::Bi, 0).0, 0);
        assert_eq!(StreamId::new(Side::Server, Dir::Bi, 0).0, 1);
        assert_eq!(StreamId::new(Side::Client, Dir::Uni, 0).0, 2);
        assert_eq!(StreamId::new(Side::Server, Dir::Uni, 3).0, 15);
        let id = StreamId(15);
        assert_eq!(
            (id.initiator(), id.dir(), id.index()),
            (Side::Server, Dir::Uni, 3)
        );
    }
}
