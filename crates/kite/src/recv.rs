//! The receiving half of a stream: [`RecvStream`], an `AsyncRead` over
//! `kite_proto::Connection::read`, parked on `StreamReadable` until data, FIN
//! or a reset arrives (RFC 9000 §3.2).

use crate::connection::{ConnectionRef, closed_stream, park_stream};
use crate::error::{ClosedStream, ReadError, ReadToEndError};
use bytes::Bytes;
use kite_proto::StreamId;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// A stream's receiving half.
///
/// Dropping it before the end of the stream was read asks the peer to stop
/// sending (STOP_SENDING with code 0).
pub struct RecvStream {
    conn: ConnectionRef,
    id: StreamId,
    /// The end was read, the peer reset the stream or we stopped it.
    done: bool,
    /// The end of the stream was read: later reads return EOF again.
    eof: bool,
}

impl RecvStream {
    pub(crate) fn new(conn: ConnectionRef, id: StreamId) -> Self {
        RecvStream {
            conn,
            id,
            done: false,
            eof: false,
        }
    }

    /// The stream's ID.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Server: whether data of this stream arrived in 0-RTT packets, before
    /// the handshake completed. Such data may be a replay (RFC 9001 §9.2, RFC
    /// 8446 §8): act on it only if doing it twice is harmless.
    pub fn is_0rtt(&self) -> bool {
        self.conn.lock().inner.is_early_stream(self.id)
    }

    /// Reads into `buf`; `None` at the end of the stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        let chunk = self.read_chunk(buf.len()).await?;
        Ok(chunk.map(|data| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            n
        }))
    }

    /// Reads up to `max` bytes in order, without copying; `None` at the end of the stream.
    pub async fn read_chunk(&mut self, max: usize) -> Result<Option<Bytes>, ReadError> {
        poll_fn(|cx| self.poll_read_chunk(cx, max)).await
    }

    /// Reads the whole stream, failing with [`ReadToEndError::TooLong`] past `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, ReadToEndError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.read_chunk(usize::MAX).await? {
            if out.len() + chunk.len() > limit {
                return Err(ReadToEndError::TooLong);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Asks the peer to stop sending (STOP_SENDING, RFC 9000 §19.5) with an
    /// application error code; later reads fail.
    pub fn stop(&mut self, error_code: u64) -> Result<(), ClosedStream> {
        let result = self
            .conn
            .lock()
            .inner
            .stop(self.id, error_code)
            .map_err(closed_stream);
        if result.is_ok() {
            self.done = true;
            self.conn.wake_task();
        }
        result
    }

    /// Polls for the next chunk of up to `max` bytes; `None` at the end of the stream.
    pub fn poll_read_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Result<Option<Bytes>, ReadError>> {
        if self.eof {
            return Poll::Ready(Ok(None));
        }
        let mut state = self.conn.lock();
        let had_work = state.inner.has_stream_work();
        let result = match state.inner.read(self.id, max) {
            Ok(Some(data)) => Ok(Some(data)),
            Ok(None) => {
                self.eof = true;
                self.done = true;
                Ok(None)
            }
            Err(kite_proto::ReadError::Blocked) => {
                if let Some(error) = &state.error {
                    return Poll::Ready(Err(ReadError::ConnectionLost(error.clone())));
                }
                park_stream(&mut state.readers, self.id, cx.waker());
                return Poll::Pending;
            }
            Err(kite_proto::ReadError::Reset(code)) => {
                self.done = true;
                Err(ReadError::Reset(code))
            }
            Err(kite_proto::ReadError::ClosedStream) => Err(ReadError::ClosedStream),
            Err(kite_proto::ReadError::ConnectionLost(e)) => Err(ReadError::ConnectionLost(e)),
        };
        let new_work = !had_work && state.inner.has_stream_work();
        drop(state);
        // Reading may have queued a window update (MAX_STREAM_DATA,
        // MAX_DATA) the peer waits for; most reads queue nothing, and then
        // the task is left asleep.
        if new_work {
            self.conn.wake_task();
        }
        Poll::Ready(result)
    }
}

impl AsyncRead for RecvStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let this = self.get_mut();
        match this.poll_read_chunk(cx, buf.remaining()) {
            Poll::Ready(Ok(Some(data))) => {
                buf.put_slice(&data);
                Poll::Ready(Ok(()))
            }
            // EOF: nothing filled.
            Poll::Ready(Ok(None)) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for RecvStream {
    fn drop(&mut self) {
        let mut state = self.conn.lock();
        state.readers.remove(&self.id);
        if !self.done && state.error.is_none() {
            // RFC 9000 §3.5: tell the peer we no longer want its data. An
            // error means the stream is already over, which is fine here.
            let _ = state.inner.stop(self.id, 0);
        }
        drop(state);
        self.conn.wake_task();
    }
}

impl fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream").field("id", &self.id).finish()
    }
}
