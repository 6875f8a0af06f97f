//! Stream counts of one type (bidirectional or unidirectional) in each direction
//! of opening (RFC 9000 §4.6): how many we opened against the peer's MAX_STREAMS,
//! and how many the peer opened against ours, which grows as its streams close.

use crate::error::{TransportError, TransportErrorCode};
use std::ops::Range;

/// The largest MAX_STREAMS value: 2^60 streams of a type exhaust the 62-bit stream
/// ID space (RFC 9000 §4.6, §19.11).
pub const MAX_STREAMS_LIMIT: u64 = 1 << 60;

/// Streams of one type that we open.
#[derive(Debug, Clone, Default)]
pub struct LocalStreams {
    /// Streams opened so far; the next one has this index.
    opened: u64,
    /// The peer's limit on how many we may open.
    max: u64,
    /// The limit at which we last reported STREAMS_BLOCKED.
    blocked_at: Option<u64>,
    /// An open was refused since the limit last rose: the application wants to
    /// hear when it does.
    refused: bool,
}

impl LocalStreams {
    /// Opens the next stream, returning its index, or `None` at the peer's limit.
    pub fn open(&mut self) -> Option<u64> {
        if self.opened >= self.max {
            self.refused = true;
            return None;
        }
        self.opened += 1;
        Some(self.opened - 1)
    }

    /// Streams opened so far.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// The peer's current limit.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Takes a MAX_STREAMS count (already checked against [`MAX_STREAMS_LIMIT`]).
    /// RFC 9000 §4.6: one that does not raise the limit is ignored. Returns whether
    /// a refused application should now be told it can open streams.
    pub fn handle_max_streams(&mut self, count: u64) -> bool {
        if count <= self.max {
            return false;
        }
        self.max = count;
        std::mem::take(&mut self.refused)
    }

    /// The limit to report in a STREAMS_BLOCKED, once per limit value, when an
    /// open was refused (RFC 9000 §4.6: an endpoint that cannot open should say so).
    pub fn maybe_blocked(&mut self) -> Option<u64> {
        if self.opened < self.max || self.blocked_at == Some(self.max) {
            return None;
        }
        self.blocked_at = Some(self.max);
        Some(self.max)
    }

    /// Whether we are still blocked at `limit`.
    pub fn is_blocked_at(&self, limit: u64) -> bool {
        self.opened >= self.max && self.max == limit
    }

    /// A STREAMS_BLOCKED for `limit` was lost.
    pub fn on_blocked_lost(&mut self, limit: u64) {
        if self.blocked_at == Some(limit) {
            self.blocked_at = None;
        }
    }
}

/// Streams of one type that the peer opens.
#[derive(Debug, Clone)]
pub struct RemoteStreams {
    /// Streams the peer opened so far (explicitly or implicitly).
    opened: u64,
    /// Our limit, as last raised.
    max: u64,
}

impl RemoteStreams {
    /// Lets the peer open `max` streams (capped at [`MAX_STREAMS_LIMIT`]).
    pub fn new(max: u64) -> Self {
        RemoteStreams {
            opened: 0,
            max: max.min(MAX_STREAMS_LIMIT),
        }
    }

    /// Our current limit.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Streams the peer opened so far.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// The peer used stream `index`: opens it and every lower one not yet open
    /// (RFC 9000 §2.1, §3.2), returning the newly opened indices.
    /// RFC 9000 §4.6: an index at or past our limit is a STREAM_LIMIT_ERROR.
    pub fn open_through(&mut self, index: u64) -> Result<Range<u64>, TransportError> {
        if index >= self.max {
            return Err(TransportError::new(
                TransportErrorCode::STREAM_LIMIT_ERROR,
                "peer opened a stream past our limit",
            ));
        }
        let first = self.opened;
        self.opened = self.opened.max(index + 1);
        Ok(first..self.opened)
    }

    /// One of the peer's streams closed: let it open one more, so that the number
    /// open at once stays at the configured concurrency. Returns the new limit.
    pub fn on_closed(&mut self) -> u64 {
        self.max = (self.max + 1).min(MAX_STREAMS_LIMIT);
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_open_stops_at_peer_limit_and_reports_blocked_once_per_limit() {
        let mut local = LocalStreams::default();
        assert_eq!(local.open(), None);
        assert_eq!(local.maybe_blocked(), Some(0));
        assert_eq!(local.maybe_blocked(), None);
        assert!(local.handle_max_streams(2), "refused opener is told");
        assert!(!local.handle_max_streams(1), "lower limit ignored");
        assert_eq!(local.open(), Some(0));
        assert_eq!(local.open(), Some(1));
        assert_eq!(local.open(), None);
        assert_eq!(local.maybe_blocked(), Some(2));
        local.on_blocked_lost(2);
        assert_eq!(local.maybe_blocked(), Some(2), "lost report is repeated");
        assert!(local.is_blocked_at(2));
    }

    #[test]
    fn remote_open_through_opens_lower_streams_and_rejects_past_limit() {
        let mut remote = RemoteStreams::new(3);
        assert_eq!(remote.open_through(1).ok(), Some(0..2));
        assert_eq!(remote.open_through(0).ok(), Some(2..2));
        assert_eq!(remote.open_through(2).ok(), Some(2..3));
        let err = remote.open_through(3).err().map(|e| e.code);
        assert_eq!(err, Some(TransportErrorCode::STREAM_LIMIT_ERROR));
        assert_eq!(remote.on_closed(), 4);
        assert_eq!(remote.open_through(3).ok(), Some(3..4));
    }
}
