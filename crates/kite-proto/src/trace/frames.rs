//! Frame summaries for traces: what a trace shows of each frame (types, stream IDs,
//! offsets, lengths, limits, ACK ranges), without payloads, built from
//! [`Frame`](crate::frame::Frame) or, for ACKs being written, from their ranges.

use crate::cid::{ConnectionId, ResetToken};
use crate::error::TransportErrorCode;
use crate::frame::{Ack, EcnCounts, Frame, PATH_DATA_LEN};
use crate::stream_id::{Dir, StreamId};
use bytes::Bytes;
use std::ops::RangeInclusive;
use std::time::Duration;

/// How many ACK ranges an [`AckSummary`] keeps, highest first. Enough to show holes
/// from reordering and recent loss; an ACK with hundreds of ranges would otherwise
/// bloat every trace, and a fixed array keeps summaries free of allocation.
pub const TRACED_ACK_RANGES: usize = 8;

/// A frame, reduced to what a trace shows: no stream or datagram payload, and ACK ranges
/// cut to [`TRACED_ACK_RANGES`]. Cheap to build: close reasons share the frame's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameSummary {
    /// A run of PADDING bytes.
    Padding {
        /// How many.
        len: usize,
    },
    /// PING.
    Ping,
    /// ACK or ACK_ECN.
    Ack(AckSummary),
    /// RESET_STREAM.
    ResetStream {
        /// The stream.
        id: StreamId,
        /// The application error code.
        error_code: u64,
        /// The final size of the stream.
        final_size: u64,
    },
    /// STOP_SENDING.
    StopSending {
        /// The stream.
        id: StreamId,
        /// The application error code.
        error_code: u64,
    },
    /// CRYPTO.
    Crypto {
        /// Offset in the level's crypto stream.
        offset: u64,
        /// Bytes of data.
        len: usize,
    },
    /// NEW_TOKEN.
    NewToken {
        /// Token length in bytes.
        len: usize,
    },
    /// STREAM.
    Stream {
        /// The stream.
        id: StreamId,
        /// Offset of the data in the stream.
        offset: u64,
        /// Bytes of data.
        len: usize,
        /// Whether it ends the stream.
        fin: bool,
    },
    /// MAX_DATA.
    MaxData {
        /// The new connection limit.
        max: u64,
    },
    /// MAX_STREAM_DATA.
    MaxStreamData {
        /// The stream.
        id: StreamId,
        /// The new stream limit.
        max: u64,
    },
    /// MAX_STREAMS.
    MaxStreams {
        /// Which kind of streams.
        dir: Dir,
        /// The new cumulative stream count limit.
        max: u64,
    },
    /// DATA_BLOCKED.
    DataBlocked {
        /// The connection limit the sender is blocked at.
        limit: u64,
    },
    /// STREAM_DATA_BLOCKED.
    StreamDataBlocked {
        /// The stream.
        id: StreamId,
        /// The stream limit the sender is blocked at.
        limit: u64,
    },
    /// STREAMS_BLOCKED.
    StreamsBlocked {
        /// Which kind of streams.
        dir: Dir,
        /// The stream count limit the sender is blocked at.
        limit: u64,
    },
    /// NEW_CONNECTION_ID.
    NewConnectionId {
        /// Its sequence number.
        sequence: u64,
        /// Sequence numbers below this are to be retired.
        retire_prior_to: u64,
        /// The connection ID.
        id: ConnectionId,
        /// Its stateless reset token.
        reset_token: ResetToken,
    },
    /// RETIRE_CONNECTION_ID.
    RetireConnectionId {
        /// The sequence number retired.
        sequence: u64,
    },
    /// PATH_CHALLENGE.
    PathChallenge {
        /// The challenge data.
        data: [u8; PATH_DATA_LEN],
    },
    /// PATH_RESPONSE.
    PathResponse {
        /// The echoed data.
        data: [u8; PATH_DATA_LEN],
    },
    /// CONNECTION_CLOSE with a transport error (0x1c).
    ConnectionClose {
        /// The error code.
        error_code: TransportErrorCode,
        /// The frame type that caused it, if any.
        frame_type: Option<u64>,
        /// The reason phrase.
        reason: Bytes,
    },
    /// CONNECTION_CLOSE with an application error (0x1d).
    ApplicationClose {
        /// The application error code.
        error_code: u64,
        /// The reason phrase.
        reason: Bytes,
    },
    /// HANDSHAKE_DONE.
    HandshakeDone,
    /// DATAGRAM.
    Datagram {
        /// Bytes of data.
        len: usize,
    },
}

impl FrameSummary {
    /// The summary of `frame`. ACK delays stay unscaled; see
    /// [`AckSummary::with_delay_exponent`].
    pub fn from_frame(frame: &Frame) -> FrameSummary {
        match frame {
            Frame::Padding(len) => FrameSummary::Padding { len: *len },
            Frame::Ping => FrameSummary::Ping,
            Frame::Ack(ack) => FrameSummary::Ack(AckSummary::from_ack(ack)),
            Frame::ResetStream(f) => FrameSummary::ResetStream {
                id: f.id,
                error_code: f.error_code.into_inner(),
                final_size: f.final_size,
            },
            Frame::StopSending(f) => FrameSummary::StopSending {
                id: f.id,
                error_code: f.error_code.into_inner(),
            },
            Frame::Crypto(f) => FrameSummary::Crypto {
                offset: f.offset,
                len: f.data.len(),
            },
            Frame::NewToken(f) => FrameSummary::NewToken { len: f.token.len() },
            Frame::Stream(f) => FrameSummary::Stream {
                id: f.id,
                offset: f.offset,
                len: f.data.len(),
                fin: f.fin,
            },
            Frame::MaxData(f) => FrameSummary::MaxData { max: f.max },
            Frame::MaxStreamData(f) => FrameSummary::MaxStreamData {
                id: f.id,
                max: f.max,
            },
            Frame::MaxStreams(f) => FrameSummary::MaxStreams {
                dir: f.dir,
                max: f.max,
            },
            Frame::DataBlocked(f) => FrameSummary::DataBlocked { limit: f.limit },
            Frame::StreamDataBlocked(f) => FrameSummary::StreamDataBlocked {
                id: f.id,
                limit: f.limit,
            },
            Frame::StreamsBlocked(f) => FrameSummary::StreamsBlocked {
                dir: f.dir,
                limit: f.limit,
            },
            Frame::NewConnectionId(f) => FrameSummary::NewConnectionId {
                sequence: f.sequence,
                retire_prior_to: f.retire_prior_to,
                id: f.id,
                reset_token: f.reset_token,
            },
            Frame::RetireConnectionId(f) => FrameSummary::RetireConnectionId {
                sequence: f.sequence,
            },
            Frame::PathChallenge(f) => FrameSummary::PathChallenge { data: f.data },
            Frame::PathResponse(f) => FrameSummary::PathResponse { data: f.data },
            Frame::ConnectionClose(f) => FrameSummary::ConnectionClose {
                error_code: f.error_code,
                frame_type: f.frame_type,
                reason: f.reason.clone(),
            },
            Frame::ApplicationClose(f) => FrameSummary::ApplicationClose {
                error_code: f.error_code.into_inner(),
                reason: f.reason.clone(),
            },
            Frame::HandshakeDone => FrameSummary::HandshakeDone,
            Frame::Datagram(f) => FrameSummary::Datagram { len: f.data.len() },
        }
    }
}

impl From<&Frame> for FrameSummary {
    fn from(frame: &Frame) -> Self {
        FrameSummary::from_frame(frame)
    }
}

/// An ACK frame reduced to its largest packet number, range count, the first
/// [`TRACED_ACK_RANGES`] ranges, delay and ECN counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckSummary {
    /// The largest packet number acknowledged.
    pub largest: u64,
    /// The ACK Delay field as sent, unscaled.
    pub delay: u64,
    /// The ack_delay_exponent of the ACK's sender, when the builder knows it.
    pub delay_exponent: Option<u8>,
    /// How many ranges the frame holds, including those not kept.
    pub range_count: u64,
    /// The ECN counts of an ACK_ECN frame.
    pub ecn: Option<EcnCounts>,
    /// Kept ranges as (smallest, largest), highest first; `traced` of them are used.
    ranges: [(u64, u64); TRACED_ACK_RANGES],
    traced: usize,
}

impl AckSummary {
    /// A summary of inclusive `ranges` given highest first, as an ACK is built from.
    pub fn new<I>(ranges: I, delay: u64, ecn: Option<EcnCounts>) -> AckSummary
    where
        I: IntoIterator<Item = RangeInclusive<u64>>,
    {
        let mut summary = AckSummary {
            largest: 0,
            delay,
            delay_exponent: None,
            range_count: 0,
            ecn,
            ranges: [(0, 0); TRACED_ACK_RANGES],
            traced: 0,
        };
        for range in ranges {
            if summary.range_count == 0 {
                summary.largest = *range.end();
            }
            if let Some(slot) = summary.ranges.get_mut(summary.traced) {
                *slot = (*range.start(), *range.end());
                summary.traced += 1;
            }
            summary.range_count = summary.range_count.saturating_add(1);
        }
        summary
    }

    /// The summary of a decoded ACK frame.
    pub fn from_ack(ack: &Ack) -> AckSummary {
        let mut summary =
            AckSummary::new(ack.ranges().take(TRACED_ACK_RANGES), ack.delay(), ack.ecn());
        summary.range_count = ack.range_count();
        summary
    }

    /// Records the sender's ack_delay_exponent so the delay can be shown as time.
    pub fn with_delay_exponent(mut self, exponent: u8) -> AckSummary {
        self.delay_exponent = Some(exponent);
        self
    }

    /// The ACK delay as time, if the exponent is known; saturates.
    pub fn ack_delay(&self) -> Option<Duration> {
        let exponent = self.delay_exponent?;
        let micros = 1u64
            .checked_shl(exponent.into())
            .and_then(|scale| self.delay.checked_mul(scale))
            .unwrap_or(u64::MAX);
        Some(Duration::from_micros(micros))
    }

    /// The kept ranges, highest first.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = RangeInclusive<u64>> + '_ {
        self.ranges
            .iter()
            .take(self.traced)
            .map(|&(lo, hi)| lo..=hi)
    }

    /// Whether ranges were left out.
    pub fn is_truncated(&self) -> bool {
        (self.traced as u64) < self.range_count
    }
}
