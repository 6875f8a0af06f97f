//! Connection IDs (RFC 9000 §5.1) and stateless reset tokens (RFC 9000 §10.3).

use std::fmt;

/// The longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// Length of a stateless reset token (RFC 9000 §10.3).
pub const RESET_TOKEN_LEN: usize = 16;

/// A connection ID of at most [`MAX_CID_LEN`] bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

/// A connection ID longer than QUIC v1/v2 allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection ID of {0} bytes exceeds 20")]
pub struct CidTooLong(pub usize);

impl ConnectionId {
    /// The zero-length connection ID.
    pub const EMPTY: ConnectionId = ConnectionId {
        len: 0,
        bytes: [0; MAX_CID_LEN],
    };

    /// Copies `bytes` into a connection ID, failing past 20 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, CidTooLong> {
        if bytes.len() > MAX_CID_LEN {
            return Err(CidTooLong(bytes.len()));
        }
        let mut cid = ConnectionId::EMPTY;
        cid.len = bytes.len() as u8;
        cid.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(cid)
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len.into()
    }

    /// Whether this is the zero-length connection ID.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ID's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }
}

impl std::ops::Deref for ConnectionId {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A stateless reset token (RFC 9000 §10.3). Comparisons run in constant time
/// so that a received token cannot be guessed byte by byte.
#[derive(Clone, Copy)]
pub struct ResetToken(pub [u8; RESET_TOKEN_LEN]);

impl ResetToken {
    /// The last 16 bytes of a received packet, which would be the token if it
    /// were a stateless reset; `None` for packets shorter than the smallest
    /// reset (RFC 9000 §10.3: 21 bytes).
    pub fn from_datagram_tail(packet: &[u8]) -> Option<ResetToken> {
        if packet.len() < MIN_STATELESS_RESET_LEN {
            return None;
        }
        let tail = packet.get(packet.len() - RESET_TOKEN_LEN..)?;
        let mut token = [0u8; RESET_TOKEN_LEN];
        token.copy_from_slice(tail);
        Some(ResetToken(token))
    }
}

/// The smallest stateless reset: 5 bytes that look like a short header and
/// the 16-byte token (RFC 9000 §10.3).
pub const MIN_STATELESS_RESET_LEN: usize = 21;

impl PartialEq for ResetToken {
    fn eq(&self, other: &Self) -> bool {
        // RFC 9000 §10.3.1: compare without early exit.
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }
}

impl Eq for ResetToken {}

impl std::hash::Hash for ResetToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_longer_than_20_bytes_is_rejected() {
        assert!(ConnectionId::new(&[0; 20]).is_ok());
        assert_eq!(ConnectionId::new(&[0; 21]), Err(CidTooLong(21)));
    }

    #[test]
    fn cids_of_different_length_differ() {
        let a = ConnectionId::new(&[1, 2]).unwrap();
        let b = ConnectionId::new(&[1, 2, 0]).unwrap();
        assert_ne!(a, b);
        assert_eq!(&*a, &[1, 2]);
        assert_eq!(format!("{a}"), "0102");
    }
}
