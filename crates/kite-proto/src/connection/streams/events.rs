//! What the stream layer hands out besides data: control frames for the connection
//! to send ([`StreamControl`]) and events for the application ([`StreamEvent`]).

use super::dir_index;
use crate::stream_id::{Dir, StreamId};

/// A control frame the connection should send; it reports back through
/// [`Streams::on_control_acked`](super::Streams::on_control_acked) and [`Streams::on_control_lost`](super::Streams::on_control_lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamControl {
    /// MAX_DATA: the new connection limit.
    MaxData(u64),
    /// MAX_STREAM_DATA.
    MaxStreamData {
        /// The stream.
        id: StreamId,
        /// Its new limit.
        max: u64,
    },
    /// MAX_STREAMS (0x12 for bidirectional, 0x13 for unidirectional).
    MaxStreams {
        /// Which type.
        dir: Dir,
        /// The new cumulative count.
        count: u64,
    },
    /// DATA_BLOCKED at this connection limit.
    DataBlocked(u64),
    /// STREAM_DATA_BLOCKED.
    StreamDataBlocked {
        /// The stream.
        id: StreamId,
        /// The stream limit we are blocked at.
        limit: u64,
    },
    /// STREAMS_BLOCKED (0x16 bidirectional, 0x17 unidirectional).
    StreamsBlocked {
        /// Which type.
        dir: Dir,
        /// The stream limit we are blocked at.
        limit: u64,
    },
    /// RESET_STREAM.
    ResetStream {
        /// The stream.
        id: StreamId,
        /// The application's error code.
        error_code: u64,
        /// The final size: the highest offset sent.
        final_size: u64,
    },
    /// STOP_SENDING.
    StopSending {
        /// The stream.
        id: StreamId,
        /// The application's error code.
        error_code: u64,
    },
}

/// Something the application may want to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent {
    /// The peer opened streams of this type: call `accept`.
    Opened {
        /// Which type.
        dir: Dir,
    },
    /// Data, the end or a reset can now be read (edge-triggered: read until
    /// `Blocked`, then wait for the next one).
    Readable {
        /// The stream.
        id: StreamId,
    },
    /// Send buffer room freed after a refused or short write.
    Writable {
        /// The stream.
        id: StreamId,
    },
    /// Everything we sent, FIN included, was acknowledged.
    Finished {
        /// The stream.
        id: StreamId,
    },
    /// The peer sent STOP_SENDING; we reset the stream with its code.
    Stopped {
        /// The stream.
        id: StreamId,
        /// The peer's error code.
        error_code: u64,
    },
    /// Streams of this type can be opened again after `open` was refused.
    Available {
        /// Which type.
        dir: Dir,
    },
}

/// `open` was refused: the peer's stream limit is reached. A STREAMS_BLOCKED is
/// queued and [`StreamEvent::Available`] follows when the limit rises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the peer's stream limit is reached")]
pub struct StreamLimitReached;

/// Identity of an event for de-duplication: its kind and stream (or direction).
pub(super) fn event_key(event: &StreamEvent) -> (u8, u64) {
    match *event {
        StreamEvent::Opened { dir } => (0, dir_index(dir) as u64),
        StreamEvent::Readable { id } => (1, id.0),
        StreamEvent::Writable { id } => (2, id.0),
        StreamEvent::Finished { id } => (3, id.0),
        StreamEvent::Stopped { id, .. } => (4, id.0),
        StreamEvent::Available { dir } => (5, dir_index(dir) as u64),
    }
}
