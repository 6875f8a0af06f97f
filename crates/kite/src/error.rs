//! Errors the runtime API returns: per stream call, for dialing and listening,
//! and their conversion into `std::io::Error` for the `AsyncRead`/`AsyncWrite`
//! impls. Connection-level errors are kite-proto's [`ConnectionError`].

use kite_proto::ConnectionError;
use kite_proto::endpoint::ConnectError;
use std::io;
use thiserror::Error;

/// Why a write to a [`SendStream`](crate::SendStream) failed.
#[derive(Debug, Clone, Error)]
pub enum WriteError {
    /// The peer asked us to stop sending (STOP_SENDING), with this application code.
    #[error("stream stopped by peer with code {0}")]
    Stopped(u64),
    /// The stream was already finished or reset by us.
    #[error("stream already finished or reset")]
    ClosedStream,
    /// The connection is gone.
    #[error("connection lost: {0}")]
    ConnectionLost(ConnectionError),
}

/// Why a read from a [`RecvStream`](crate::RecvStream) failed.
#[derive(Debug, Clone, Error)]
pub enum ReadError {
    /// The peer abandoned the stream (RESET_STREAM), with this application code.
    #[error("stream reset by peer with code {0}")]
    Reset(u64),
    /// The stream was already stopped by us or fully read.
    #[error("stream already stopped or fully read")]
    ClosedStream,
    /// The connection is gone.
    #[error("connection lost: {0}")]
    ConnectionLost(ConnectionError),
}

/// Why [`RecvStream::read_to_end`](crate::RecvStream::read_to_end) failed.
#[derive(Debug, Clone, Error)]
pub enum ReadToEndError {
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The stream carried more than the given limit.
    #[error("stream longer than the limit")]
    TooLong,
}

/// A stream command (finish, reset, stop) on a stream that is already closed
/// in that direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("stream already closed")]
pub struct ClosedStream;

/// Why [`Transport::dial`](crate::Transport::dial) or [`dial_addr`](crate::dial_addr) failed.
#[derive(Debug, Error)]
pub enum DialError {
    /// Binding or using the local socket failed.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// The endpoint refused to start the connection (bad configuration, address or name).
    #[error("cannot start connection: {0:?}")]
    Connect(ConnectError),
    /// The handshake did not complete.
    #[error("handshake failed: {0}")]
    Connection(#[from] ConnectionError),
}

impl From<ConnectError> for DialError {
    fn from(e: ConnectError) -> Self {
        DialError::Connect(e)
    }
}

/// Why [`Transport::listen`](crate::Transport::listen) or [`listen_addr`](crate::listen_addr) failed.
#[derive(Debug, Error)]
pub enum ListenError {
    /// Binding the socket failed.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// The transport already has a listener; drop it first.
    #[error("transport is already listening")]
    AlreadyListening,
}

impl From<WriteError> for io::Error {
    fn from(e: WriteError) -> Self {
        let kind = match e {
            WriteError::Stopped(_) => io::ErrorKind::ConnectionReset,
            WriteError::ClosedStream => io::ErrorKind::NotConnected,
            WriteError::ConnectionLost(_) => io::ErrorKind::ConnectionAborted,
        };
        io::Error::new(kind, e)
    }
}

impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> Self {
        let kind = match e {
            ReadError::Reset(_) => io::ErrorKind::ConnectionReset,
            ReadError::ClosedStream => io::ErrorKind::NotConnected,
            ReadError::ConnectionLost(_) => io::ErrorKind::ConnectionAborted,
        };
        io::Error::new(kind, e)
    }
}

impl From<ClosedStream> for io::Error {
    fn from(e: ClosedStream) -> Self {
        io::Error::new(io::ErrorKind::NotConnected, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_errors_map_to_io_kinds() {
        let e: io::Error = WriteError::Stopped(7).into();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        let e: io::Error = ReadError::Reset(7).into();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        let e: io::Error = ReadError::ConnectionLost(ConnectionError::TimedOut).into();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
        let e: io::Error = ClosedStream.into();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected);
    }
}
