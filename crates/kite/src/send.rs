//! The sending half of a stream: [`SendStream`], an `AsyncWrite` over
//! `kite_proto::Connection::write`, parked on `StreamWritable` when flow
//! control or the send buffer is full (RFC 9000 §3.1, §4).

use crate::connection::{ConnectionRef, closed_stream, park_stream};
use crate::error::{ClosedStream, WriteError};
use bytes::Bytes;
use kite_proto::StreamId;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

/// A stream's sending half.
///
/// Dropping it without [`finish`](Self::finish) or [`reset`](Self::reset)
/// finishes it, as quic-go's `Close` does: what was written is still delivered.
/// [`AsyncWrite::poll_shutdown`] finishes too, and completes at once (it does
/// not wait for the peer's acknowledgement).
pub struct SendStream {
    conn: ConnectionRef,
    id: StreamId,
    /// Finished or reset by us: nothing more may be written.
    closed: bool,
}

impl SendStream {
    pub(crate) fn new(conn: ConnectionRef, id: StreamId) -> Self {
        SendStream {
            conn,
            id,
            closed: false,
        }
    }

    /// The stream's ID.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Writes some of `buf`, waiting while nothing can be buffered; returns how much was taken.
    pub async fn write(&mut self, buf: &[u8]) -> Result<usize, WriteError> {
        poll_fn(|cx| self.poll_write_slice(cx, buf)).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> Result<(), WriteError> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = buf.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Writes all of `data` without copying it.
    pub async fn write_chunk(&mut self, mut data: Bytes) -> Result<(), WriteError> {
        while !data.is_empty() {
            poll_fn(|cx| self.poll_write_bytes(cx, &mut data)).await?;
        }
        Ok(())
    }

    /// Takes what fits from the front of `data` without copying it; pending
    /// while nothing fits.
    pub fn poll_write_bytes(
        &mut self,
        cx: &mut Context<'_>,
        data: &mut Bytes,
    ) -> Poll<Result<usize, WriteError>> {
        self.poll_write_with(cx, |inner, id| inner.write_bytes(id, data))
    }

    /// Marks the end of the stream (FIN) after what was written. Returns at
    /// once; the data is delivered while the connection lives.
    pub fn finish(&mut self) -> Result<(), ClosedStream> {
        let result = self
            .conn
            .lock()
            .inner
            .finish(self.id)
            .map_err(closed_stream);
        if result.is_ok() {
            self.closed = true;
            self.conn.wake_task();
        }
        result
    }

    /// Abandons the stream (RESET_STREAM, RFC 9000 §19.4) with an application
    /// error code; unsent and unacknowledged data is dropped.
    pub fn reset(&mut self, error_code: u64) -> Result<(), ClosedStream> {
        let result = self
            .conn
            .lock()
            .inner
            .reset(self.id, error_code)
            .map_err(closed_stream);
        if result.is_ok() {
            self.closed = true;
            self.conn.wake_task();
        }
        result
    }

    fn poll_write_slice(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, WriteError>> {
        self.poll_write_with(cx, |inner, id| inner.write(id, buf))
    }

    /// Runs one write call of the core, parking the task on `Blocked`.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(
            &mut kite_proto::Connection,
            StreamId,
        ) -> Result<usize, kite_proto::WriteError>,
    ) -> Poll<Result<usize, WriteError>> {
        let mut state = self.conn.lock();
        if let Some(error) = &state.error {
            return Poll::Ready(Err(WriteError::ConnectionLost(error.clone())));
        }
        let had_work = state.inner.has_stream_work();
        let result = match write(&mut state.inner, self.id) {
            Ok(n) => Ok(n),
            Err(kite_proto::WriteError::Blocked) => {
                park_stream(&mut state.writers, self.id, cx.waker());
                return Poll::Pending;
            }
            Err(kite_proto::WriteError::Stopped(code)) => Err(WriteError::Stopped(code)),
            Err(kite_proto::WriteError::ClosedStream) => Err(WriteError::ClosedStream),
            Err(kite_proto::WriteError::ConnectionLost(e)) => Err(WriteError::ConnectionLost(e)),
        };
        let new_work = !had_work && state.inner.has_stream_work();
        drop(state);
        // Waking the task is a cross-thread handoff; while it has queued data
        // it sends this with it, so only the first write after it ran dry wakes it.
        if new_work {
            self.conn.wake_task();
        }
        Poll::Ready(result)
    }
}

impl AsyncWrite for SendStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_slice(cx, buf)
            .map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written data is already with the connection, which sends it as soon as it may.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(this.finish().map_err(io::Error::from))
    }
}

impl Drop for SendStream {
    fn drop(&mut self) {
        let mut state = self.conn.lock();
        state.writers.remove(&self.id);
        if !self.closed && state.error.is_none() {
            // Like quic-go's Close: deliver what was written, then FIN. An
            // error means the stream is already over, which is fine here.
            let _ = state.inner.finish(self.id);
        }
        drop(state);
        self.conn.wake_task();
    }
}

impl fmt::Debug for SendStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendStream").field("id", &self.id).finish()
    }
}
