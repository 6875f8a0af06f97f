//! What a connection reports to its application: events, the error that ended
//! it, and the datagrams it wants sent.

use bytes::Bytes;
use std::net::SocketAddr;

use crate::error::{TransportError, TransportErrorCode};
use crate::recovery::ack_tracker::EcnCodepoint;
use crate::stream_id::{Dir, StreamId};

/// Why a connection ended, as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// The peer closed with a transport error (CONNECTION_CLOSE 0x1c).
    #[error("peer closed the connection: {code} {reason:?}")]
    PeerTransportClose {
        /// The peer's error code.
        code: TransportErrorCode,
        /// The frame type the peer named, if any.
        frame_type: Option<u64>,
        /// The peer's reason phrase.
        reason: Bytes,
    },
    /// The peer's application closed (CONNECTION_CLOSE 0x1d).
    #[error("peer application closed: code {code} {reason:?}")]
    PeerApplicationClose {
        /// The application error code.
        code: u64,
        /// The reason phrase.
        reason: Bytes,
    },
    /// We found a protocol violation and closed with this error.
    #[error("closed on a transport error: {0}")]
    LocalTransportError(TransportError),
    /// Our application closed the connection.
    #[error("closed by the application")]
    LocallyClosed,
    /// Nothing arrived for the idle timeout (RFC 9000 §10.1).
    #[error("timed out")]
    TimedOut,
    /// The peer sent a stateless reset (RFC 9000 §10.3).
    #[error("reset by the peer")]
    Reset,
    /// No version in common (RFC 9000 §6).
    #[error("no QUIC version in common with the peer")]
    VersionMismatch,
}

/// Something that happened on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed (RFC 9001 §4.1.1).
    Connected,
    /// The peer opened a stream of this direction; accept it.
    StreamOpened(Dir),
    /// A stream has data (or its end, or a reset) to read.
    StreamReadable(StreamId),
    /// A stream blocked on flow control or buffer space can take more.
    StreamWritable(StreamId),
    /// Everything written on a stream, FIN included, was acknowledged.
    StreamFinished(StreamId),
    /// The peer asked us to stop sending on a stream (STOP_SENDING).
    StreamStopped {
        /// The stream.
        id: StreamId,
        /// The peer's application error code.
        error_code: u64,
    },
    /// More streams of this direction may be opened.
    StreamsAvailable(Dir),
    /// A DATAGRAM frame arrived (RFC 9221).
    DatagramReceived(Bytes),
    /// The connection ended; no more events follow.
    ConnectionLost(ConnectionError),
}

/// A datagram to send: its bytes are in the buffer the caller passed to
/// `poll_transmit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// Bytes written into the buffer.
    pub size: usize,
    /// ECN codepoint to mark it with.
    pub ecn: Option<EcnCodepoint>,
    /// With several datagrams in the buffer (`poll_transmit_batch`): the
    /// size of each but the last, for segmentation offload (GSO).
    pub segment_size: Option<usize>,
}
