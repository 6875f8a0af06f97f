//! The receiving part of one stream (RFC 9000 §3.2): reassembly, stream-level flow
//! control enforcement, final size rules (§4.5), RESET_STREAM from the peer and
//! STOP_SENDING asked for by the application (§3.5). Connection-level accounting
//! is left to the caller through the [`Credit`] each input returns.

use super::assembler::{Assembler, TooFragmented};
use super::flow::RecvWindow;
use crate::coding::VarInt;
use crate::error::{TransportError, TransportErrorCode};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Receive states of RFC 9000 §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvState {
    /// Data is arriving; the final size is unknown.
    Recv,
    /// A FIN fixed the final size; some data is still missing.
    SizeKnown,
    /// Every byte up to the final size arrived; not all read yet.
    DataRecvd,
    /// The peer reset the stream; the application has not seen it yet.
    ResetRecvd {
        /// The application error code of the RESET_STREAM.
        error_code: u64,
    },
    /// The application read to the end (terminal).
    DataRead,
    /// The application saw the reset (terminal).
    ResetRead,
}

/// What a receive-side event did to the connection's flow control: the caller adds
/// `received` to the connection's received total (and checks its limit), and
/// `consumed` to what frees connection credit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Credit {
    /// Growth of this stream's highest received offset.
    pub received: u64,
    /// Bytes discarded unread (read bytes are counted by the reader).
    pub consumed: u64,
}

/// Why a read produced no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Nothing to read yet; a `Readable` event will follow.
    #[error("no data ready")]
    Blocked,
    /// The peer reset the stream with this application error code.
    #[error("stream reset by peer with code {0}")]
    Reset(u64),
    /// The stream is not readable any more: stopped by the application, its end
    /// or reset already seen, or it never existed.
    #[error("stream closed for reading")]
    Closed,
}

/// The receiving part of a stream.
#[derive(Debug)]
pub struct RecvPart {
    state: RecvState,
    data: Assembler,
    window: RecvWindow,
    final_size: Option<u64>,
    /// The application's STOP_SENDING code, once it stopped reading.
    stopped: Option<u64>,
    /// Offset below which connection credit was returned (read or discarded).
    released: u64,
}

impl RecvPart {
    /// A receiving part advertising `window` bytes, allowed to grow to `max_window`.
    pub fn new(window: u64, max_window: u64) -> Self {
        RecvPart {
            state: RecvState::Recv,
            data: Assembler::new(),
            window: RecvWindow::new(window, max_window),
            final_size: None,
            stopped: None,
            released: 0,
        }
    }

    /// Takes a STREAM frame's data at `now`.
    ///
    /// Errors: FINAL_SIZE_ERROR for data past a known final size, a changed final
    /// size, or a FIN below data already received (RFC 9000 §4.5);
    /// FLOW_CONTROL_ERROR for data past our limit (§4.1) or past 2^62 (§19.8);
    /// PROTOCOL_VIOLATION when fragmented past the reassembly bound (§21.7).
    pub fn handle_data(
        &mut self,
        now: Instant,
        offset: u64,
        data: Bytes,
        fin: bool,
    ) -> Result<Credit, TransportError> {
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&end| end <= VarInt::MAX.into_inner())
            .ok_or(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "stream data past 2^62",
            ))?;
        self.check_final_size(end, fin)?;
        let received = self.on_received(end, now)?;
        if fin && self.final_size.is_none() {
            self.final_size = Some(end);
            if self.state == RecvState::Recv {
                self.state = RecvState::SizeKnown;
            }
        }
        if self.is_discarding() {
            return Ok(Credit {
                received,
                consumed: self.release(self.window.received()),
            });
        }
        if matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
            self.data.insert(offset, data).map_err(|TooFragmented| {
                TransportError::protocol_violation("stream data too fragmented to reassemble")
            })?;
            if self.final_size == Some(self.data.received_bytes()) {
                self.state = RecvState::DataRecvd;
            }
        }
        Ok(Credit {
            received,
            consumed: 0,
        })
    }

    /// Takes a RESET_STREAM: buffered data is dropped and the whole final size is
    /// both received and released for connection flow control (RFC 9000 §4.5).
    /// Once every byte arrived the reset is ignored and the data delivered (§3.2
    /// lets a receiver withhold the reset then).
    pub fn handle_reset(
        &mut self,
        now: Instant,
        error_code: u64,
        final_size: u64,
    ) -> Result<Credit, TransportError> {
        if self.final_size.is_some_and(|known| known != final_size) {
            return Err(final_size_error("RESET_STREAM changed the final size"));
        }
        if final_size < self.window.received() {
            return Err(final_size_error(
                "RESET_STREAM final size below data received",
            ));
        }
        let received = self.on_received(final_size, now)?;
        self.final_size = Some(final_size);
        if matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
            self.state = RecvState::ResetRecvd { error_code };
            self.data.clear();
        }
        let consumed = if self.is_discarding() {
            self.release(final_size)
        } else {
            0
        };
        Ok(Credit { received, consumed })
    }

    /// Reads up to `max` bytes in order without copying. `Ok(None)` means the
    /// stream ended and the application has now seen its end.
    pub fn read(&mut self, max: usize) -> Result<Option<Bytes>, ReadError> {
        self.check_readable()?;
        if let Some(chunk) = self.data.pop(max) {
            self.on_read(chunk.len());
            return Ok(Some(chunk));
        }
        self.end_or_blocked()
    }

    /// Reads into `buf`, copying; `Ok(None)` as for [`Self::read`].
    pub fn read_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        self.check_readable()?;
        if buf.is_empty() {
            return Ok(Some(0));
        }
        let mut filled = 0;
        while filled < buf.len() {
            let Some(chunk) = self.data.pop(buf.len() - filled) else {
                break;
            };
            buf[filled..filled + chunk.len()].copy_from_slice(&chunk);
            filled += chunk.len();
        }
        if filled > 0 {
            self.on_read(filled);
            return Ok(Some(filled));
        }
        self.end_or_blocked()
    }

    /// The application stops reading with `error_code` (RFC 9000 §3.5): buffered and
    /// future data is discarded and its connection credit returned, which this
    /// returns. Fails if the stream was already stopped or fully read.
    pub fn stop(&mut self, error_code: u64) -> Result<u64, ReadError> {
        if self.stopped.is_some()
            || matches!(self.state, RecvState::DataRead | RecvState::ResetRead)
        {
            return Err(ReadError::Closed);
        }
        self.stopped = Some(error_code);
        self.data.clear();
        Ok(self.release(self.window.received()))
    }

    /// The STOP_SENDING code to send: only while data may still come (RFC 9000
    /// §3.5: useless once all data or a reset arrived).
    pub fn stop_sending(&self) -> Option<u64> {
        match self.state {
            RecvState::Recv | RecvState::SizeKnown => self.stopped,
            _ => None,
        }
    }

    /// Whether a MAX_STREAM_DATA is due: only in "Recv" (RFC 9000 §3.2) and while
    /// the application still reads.
    pub fn wants_max_stream_data(&self) -> bool {
        self.state == RecvState::Recv && self.stopped.is_none() && self.window.wants_update()
    }

    /// The new limit to advertise in a MAX_STREAM_DATA, if one is due now.
    pub fn poll_max_stream_data(&mut self, now: Instant, rtt: Duration) -> Option<u64> {
        if self.state != RecvState::Recv || self.stopped.is_some() {
            return None;
        }
        self.window.poll_update(now, rtt)
    }

    /// A MAX_STREAM_DATA carrying `max` was lost.
    pub fn on_max_stream_data_lost(&mut self, max: u64) {
        self.window.on_update_lost(max);
    }

    /// The peer says it is blocked at `limit`: if we already allowed more, the
    /// update did not reach it, so send it again. Returns whether one is due.
    pub fn on_peer_blocked(&mut self, limit: u64) -> bool {
        self.window.on_peer_blocked(limit);
        self.wants_max_stream_data()
    }

    /// Whether the application has something to learn: data in order, its end, or
    /// a reset.
    pub fn is_readable(&self) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        match self.state {
            RecvState::ResetRecvd { .. } => true,
            RecvState::DataRead | RecvState::ResetRead => false,
            _ => self.data.is_readable() || self.final_size == Some(self.data.read_offset()),
        }
    }

    /// Whether this part needs nothing more: the application saw the end or the
    /// reset, or it stopped reading and the final size is known.
    pub fn is_done(&self) -> bool {
        match self.state {
            RecvState::DataRead | RecvState::ResetRead => true,
            _ => self.stopped.is_some() && self.final_size.is_some(),
        }
    }

    /// The RFC 9000 §3.2 state.
    pub fn state(&self) -> RecvState {
        self.state
    }

    /// The final size, once known.
    pub fn final_size(&self) -> Option<u64> {
        self.final_size
    }

    /// The stream's receive window.
    pub fn window(&self) -> &RecvWindow {
        &self.window
    }

    /// Bytes buffered awaiting the application.
    pub fn buffered(&self) -> u64 {
        self.data.buffered()
    }

    /// Pieces buffered (for tests and statistics).
    pub fn buffered_pieces(&self) -> usize {
        self.data.pieces()
    }

    fn check_final_size(&self, end: u64, fin: bool) -> Result<(), TransportError> {
        match self.final_size {
            Some(known) if end > known => Err(final_size_error("stream data past the final size")),
            Some(known) if fin && end != known => {
                Err(final_size_error("FIN changed the final size"))
            }
            None if fin && end < self.window.received() => {
                Err(final_size_error("FIN below data already received"))
            }
            _ => Ok(()),
        }
    }

    /// Enforces the stream limit and returns the growth of the highest offset.
    fn on_received(&mut self, end: u64, now: Instant) -> Result<u64, TransportError> {
        let before = self.window.received();
        self.window.on_received(end, now)?;
        Ok(self.window.received() - before)
    }

    /// Stopped or reset: nothing more is kept and all credit goes straight back.
    fn is_discarding(&self) -> bool {
        self.stopped.is_some()
            || matches!(
                self.state,
                RecvState::ResetRecvd { .. } | RecvState::ResetRead
            )
    }

    fn release(&mut self, upto: u64) -> u64 {
        let delta = upto.saturating_sub(self.released);
        self.released += delta;
        delta
    }

    fn check_readable(&mut self) -> Result<(), ReadError> {
        if self.stopped.is_some() {
            return Err(ReadError::Closed);
        }
        match self.state {
            RecvState::ResetRecvd { error_code } => {
                self.state = RecvState::ResetRead;
                Err(ReadError::Reset(error_code))
            }
            RecvState::DataRead | RecvState::ResetRead => Err(ReadError::Closed),
            _ => Ok(()),
        }
    }

    fn on_read(&mut self, n: usize) {
        self.release(self.data.read_offset());
        self.window.on_consumed(n as u64);
    }

    fn end_or_blocked<T>(&mut self) -> Result<Option<T>, ReadError> {
        if self.final_size == Some(self.data.read_offset()) {
            self.state = RecvState::DataRead;
            return Ok(None);
        }
        Err(ReadError::Blocked)
    }
}

fn final_size_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::FINAL_SIZE_ERROR, reason)
}

#[cfg(test)]
mod tests;
