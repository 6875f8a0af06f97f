//! The sending part of one stream (RFC 9000 §3.1): the application's `Bytes` kept
//! uncopied until acknowledged, retransmission of lost ranges before new data,
//! stream flow control credit from the peer (§4.1), FIN and RESET_STREAM.
//! Connection-level credit is the caller's; it passes what is left of it in.
//! A frame's bytes are copied once, from the written buffers straight into the
//! datagram ([`SendPart::write_data`]), whatever write boundaries they span.

use super::flow::SendCredit;
use crate::coding::VarInt;
use crate::recovery::ranges::RangeSet;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::ops::Range;

/// Send states of RFC 9000 §3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// Open; nothing sent yet.
    Ready,
    /// Sending data.
    Send,
    /// The FIN went out; retransmitting as needed.
    DataSent,
    /// Everything was acknowledged (terminal).
    DataRecvd,
    /// A RESET_STREAM was sent (or is to be sent).
    ResetSent {
        /// The application error code it carries.
        error_code: u64,
        /// The final size it carries: the highest offset sent.
        final_size: u64,
    },
    /// The RESET_STREAM was acknowledged (terminal).
    ResetRecvd {
        /// The application error code it carried.
        error_code: u64,
        /// The final size it carried.
        final_size: u64,
    },
}

/// Why a write, finish or reset was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The send buffer is full; a `Writable` event will follow.
    #[error("send buffer full")]
    Blocked,
    /// The peer asked us to stop (STOP_SENDING) with this code; the stream was reset.
    #[error("stream stopped by peer with code {0}")]
    Stopped(u64),
    /// The stream was finished or reset, or never existed.
    #[error("stream closed for writing")]
    Closed,
}

/// Where one STREAM frame's worth of data lies in the stream; its bytes are
/// copied out with [`SendPart::write_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRange {
    /// Offset of the first byte.
    pub offset: u64,
    /// Number of bytes (zero when only carrying the FIN).
    pub len: usize,
    /// Whether the frame ends the stream.
    pub fin: bool,
}

/// One STREAM frame's worth of data to send, as `Bytes`: a slice of one write,
/// or a copy when it spans several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChunk {
    /// Offset of the first byte.
    pub offset: u64,
    /// The bytes (possibly empty when only carrying the FIN).
    pub data: Bytes,
    /// Whether the frame ends the stream.
    pub fin: bool,
}

/// Written data from the lowest unacknowledged offset up: the application's
/// buffers, each tagged with the offset of its first byte.
#[derive(Debug, Default)]
struct SendBuffer {
    segments: VecDeque<(u64, Bytes)>,
    /// Everything below was acknowledged and dropped.
    start: u64,
    /// Offset after the last written byte.
    end: u64,
}

impl SendBuffer {
    fn push(&mut self, data: Bytes) {
        let len = data.len() as u64;
        self.segments.push_back((self.end, data));
        self.end += len;
    }

    /// Index of the segment holding `offset` (≥ `start`, < `end`).
    fn segment_at(&self, offset: u64) -> Option<usize> {
        self.segments
            .partition_point(|(start, _)| *start <= offset)
            .checked_sub(1)
    }

    /// Copies `offset..offset + len` (within held data) to `out`: the one
    /// copy of stream bytes on the send path.
    fn copy_to(&self, offset: u64, len: usize, out: &mut impl BufMut) {
        let Some(first) = self.segment_at(offset) else {
            return;
        };
        let mut pos = offset;
        let mut left = len;
        for (start, seg) in self.segments.range(first..) {
            if left == 0 {
                break;
            }
            let skip = (pos - start) as usize;
            let take = left.min(seg.len().saturating_sub(skip));
            out.put_slice(&seg[skip..skip + take]);
            pos += take as u64;
            left -= take;
        }
    }

    /// `offset..offset + len` (within held data) as `Bytes`: a slice of one
    /// write when it holds them all, else a copy.
    fn get(&self, offset: u64, len: usize) -> Bytes {
        if let Some((start, seg)) = self.segment_at(offset).and_then(|i| self.segments.get(i)) {
            let skip = (offset - start) as usize;
            if seg.len() >= skip + len {
                return seg.slice(skip..skip + len);
            }
        }
        let mut out = BytesMut::with_capacity(len);
        self.copy_to(offset, len, &mut out);
        out.freeze()
    }

    /// Drops everything below `offset`.
    fn free_below(&mut self, offset: u64) {
        while let Some((start, seg)) = self.segments.front_mut() {
            let seg_end = *start + seg.len() as u64;
            if seg_end <= offset {
                self.segments.pop_front();
            } else {
                if *start < offset {
                    *seg = seg.slice((offset - *start) as usize..);
                    *start = offset;
                }
                break;
            }
        }
        self.start = self.start.max(offset.min(self.end));
    }

    fn clear(&mut self) {
        self.segments.clear();
        self.start = self.end;
    }
}

/// The sending part of a stream.
#[derive(Debug)]
pub struct SendPart {
    state: SendState,
    buf: SendBuffer,
    /// Next new byte to send: everything below went out at least once.
    sent: u64,
    /// Acknowledged ranges above `buf.start`.
    acked: RangeSet,
    /// Ranges declared lost and not yet sent again.
    lost: RangeSet,
    /// The application called `finish`.
    finished: bool,
    fin_sent: bool,
    fin_lost: bool,
    fin_acked: bool,
    credit: SendCredit,
    /// Bound on written, unacknowledged bytes.
    capacity: u64,
    /// A write was refused or cut short: tell the application when room frees up.
    write_blocked: bool,
    /// The code of the peer's STOP_SENDING, if one made us reset.
    stop_code: Option<u64>,
}

impl SendPart {
    /// A sending part with `max_data` of credit from the peer, buffering at most
    /// `capacity` unacknowledged bytes.
    pub fn new(max_data: u64, capacity: u64) -> Self {
        SendPart {
            state: SendState::Ready,
            buf: SendBuffer::default(),
            sent: 0,
            acked: RangeSet::new(),
            lost: RangeSet::new(),
            finished: false,
            fin_sent: false,
            fin_lost: false,
            fin_acked: false,
            credit: SendCredit::new(max_data),
            capacity,
            write_blocked: false,
            stop_code: None,
        }
    }

    /// Queues `data` without copying, as much as the send buffer takes; returns
    /// how many bytes were taken (a short count means the buffer is now full).
    pub fn write(&mut self, mut data: Bytes) -> Result<usize, WriteError> {
        self.check_writable()?;
        let held = self.buf.end - self.buf.start;
        let room = self
            .capacity
            .saturating_sub(held)
            .min(VarInt::MAX.into_inner() - self.buf.end);
        if room == 0 && !data.is_empty() {
            self.write_blocked = true;
            return Err(WriteError::Blocked);
        }
        if data.len() as u64 > room {
            data.truncate(room as usize);
            self.write_blocked = true;
        }
        let n = data.len();
        if n > 0 {
            self.buf.push(data);
        }
        Ok(n)
    }

    /// Ends the stream after what was written: a FIN goes out with the last data,
    /// or alone in an empty STREAM frame.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        self.check_writable()?;
        self.finished = true;
        Ok(())
    }

    /// Abandons the stream with `error_code` (RFC 9000 §3.1): only from "Ready",
    /// "Send" or "Data Sent". The RESET_STREAM then comes from [`Self::reset_frame`].
    pub fn reset(&mut self, error_code: u64) -> Result<(), WriteError> {
        if !self.is_open() {
            return Err(WriteError::Closed);
        }
        // RFC 9000 §4.5: the final size is what flow control was charged, i.e. the
        // highest offset sent.
        self.state = SendState::ResetSent {
            error_code,
            final_size: self.sent,
        };
        self.buf.clear();
        self.acked = RangeSet::new();
        self.lost = RangeSet::new();
        Ok(())
    }

    /// The peer sent STOP_SENDING: RFC 9000 §3.5 requires a RESET_STREAM from
    /// "Ready" or "Send"; from "Data Sent" we reset too rather than defer.
    /// Returns whether this reset the stream.
    pub fn handle_stop_sending(&mut self, error_code: u64) -> bool {
        if self.reset(error_code).is_err() {
            return false;
        }
        self.stop_code = Some(error_code);
        true
    }

    /// The peer raised our limit (MAX_STREAM_DATA); returns whether that lets
    /// waiting data go. "Data Sent" and later ignore it (RFC 9000 §3.1).
    pub fn handle_max_stream_data(&mut self, max: u64) -> bool {
        if !matches!(self.state, SendState::Ready | SendState::Send) {
            return false;
        }
        self.credit.handle_max(max) && self.buf.end > self.sent
    }

    /// The next range to send, at most `max_len` bytes: lost ranges first, then
    /// new data within the stream credit and `conn_credit`, the connection's
    /// remaining credit. New bytes sent are `sent_offset()` after minus before.
    /// The bytes come from [`Self::write_data`].
    pub fn poll_range(&mut self, max_len: usize, conn_credit: u64) -> Option<SendRange> {
        if !self.is_open() {
            return None;
        }
        while max_len > 0
            && let Some(range) = self.lost.first()
        {
            // Lost ranges lie within held data; never spin on one that does not.
            let held = self.buf.end.saturating_sub(range.start);
            let len = (range.end - range.start).min(held).min(max_len as u64);
            if range.start < self.buf.start || len == 0 {
                let _ = self.lost.remove(range);
                continue;
            }
            let end = range.start + len;
            let _ = self.lost.remove(range.start..end);
            let fin = self.fin_lost && self.finished && end == self.buf.end && self.lost.is_empty();
            if fin {
                self.fin_lost = false;
            }
            return Some(SendRange {
                offset: range.start,
                len: len as usize,
                fin,
            });
        }
        if self.fin_lost && self.lost.is_empty() {
            self.fin_lost = false;
            return Some(self.fin_only());
        }
        let unsent = self.buf.end - self.sent;
        let allowed = unsent
            .min(self.credit.available())
            .min(conn_credit)
            .min(max_len as u64);
        if allowed == 0 {
            if self.finished && !self.fin_sent && unsent == 0 {
                self.fin_sent = true;
                self.state = SendState::DataSent;
                return Some(self.fin_only());
            }
            return None;
        }
        let offset = self.sent;
        self.sent += allowed;
        self.credit.consume(allowed);
        let fin = self.finished && self.sent == self.buf.end;
        self.state = if fin {
            self.fin_sent = true;
            SendState::DataSent
        } else {
            SendState::Send
        };
        Some(SendRange {
            offset,
            len: allowed as usize,
            fin,
        })
    }

    /// Copies the bytes of `range` (from [`Self::poll_range`], before anything
    /// else changes this part) to `out`.
    pub fn write_data(&self, range: &SendRange, out: &mut impl BufMut) {
        self.buf.copy_to(range.offset, range.len, out);
    }

    /// [`Self::poll_range`] with its bytes as `Bytes`: a slice of one write, a
    /// copy when the range spans several.
    pub fn poll_transmit(&mut self, max_len: usize, conn_credit: u64) -> Option<StreamChunk> {
        let range = self.poll_range(max_len, conn_credit)?;
        Some(StreamChunk {
            offset: range.offset,
            data: self.buf.get(range.offset, range.len),
            fin: range.fin,
        })
    }

    /// The bytes `offset..offset + len` (and the FIN, if `fin`) were acknowledged;
    /// returns whether that freed send buffer room.
    pub fn on_acked(&mut self, offset: u64, len: u64, fin: bool) -> bool {
        if !matches!(self.state, SendState::Send | SendState::DataSent) {
            return false;
        }
        let range = self.clamp(offset, len);
        let _ = self.acked.insert(range.clone());
        let _ = self.lost.remove(range);
        if fin && self.fin_sent {
            self.fin_acked = true;
            self.fin_lost = false;
        }
        let before = self.buf.start;
        if let Some(first) = self.acked.first()
            && first.start <= self.buf.start
        {
            self.acked.pop_min();
            self.buf.free_below(first.end);
        }
        if self.fin_acked && self.buf.start == self.buf.end {
            self.state = SendState::DataRecvd;
        }
        self.buf.start > before
    }

    /// The bytes `offset..offset + len` (and the FIN, if `fin`) were lost; the
    /// parts not acknowledged since are queued again. Returns whether anything was.
    pub fn on_lost(&mut self, offset: u64, len: u64, fin: bool) -> bool {
        if !matches!(self.state, SendState::Send | SendState::DataSent) {
            return false;
        }
        let mut queued = false;
        for gap in self.acked.gaps_in(self.clamp(offset, len)) {
            let _ = self.lost.insert(gap);
            queued = true;
        }
        if fin && self.fin_sent && !self.fin_acked {
            self.fin_lost = true;
            queued = true;
        }
        queued
    }

    /// The RESET_STREAM to send (error code, final size), while in "Reset Sent".
    pub fn reset_frame(&self) -> Option<(u64, u64)> {
        match self.state {
            SendState::ResetSent {
                error_code,
                final_size,
            } => Some((error_code, final_size)),
            _ => None,
        }
    }

    /// Our RESET_STREAM was acknowledged: "Reset Recvd".
    pub fn on_reset_acked(&mut self) {
        if let SendState::ResetSent {
            error_code,
            final_size,
        } = self.state
        {
            self.state = SendState::ResetRecvd {
                error_code,
                final_size,
            };
        }
    }

    /// The limit to report in a STREAM_DATA_BLOCKED, once per limit value, when
    /// written data waits for stream credit. Sending it leaves "Ready" (§3.1).
    pub fn maybe_blocked(&mut self) -> Option<u64> {
        if !matches!(self.state, SendState::Ready | SendState::Send) || self.buf.end == self.sent {
            return None;
        }
        let limit = self.credit.maybe_blocked()?;
        self.state = SendState::Send;
        Some(limit)
    }

    /// A STREAM_DATA_BLOCKED for `limit` was lost.
    pub fn on_blocked_lost(&mut self, limit: u64) {
        self.credit.on_blocked_lost(limit);
    }

    /// Whether [`Self::poll_transmit`] would return something given
    /// `conn_credit` bytes of connection credit.
    pub fn has_data_to_send(&self, conn_credit: u64) -> bool {
        if !self.is_open() {
            return false;
        }
        let unsent = self.buf.end - self.sent;
        !self.lost.is_empty()
            || self.fin_lost
            || (unsent > 0 && self.credit.available() > 0 && conn_credit > 0)
            || (self.finished && !self.fin_sent && unsent == 0)
    }

    /// Whether new data waits only for connection credit.
    pub fn wants_connection_credit(&self) -> bool {
        self.is_open() && self.buf.end > self.sent && self.credit.available() > 0
    }

    /// Whether a refused write can now proceed (room freed, or the stream can no
    /// longer be written, which the write will report); clears the flag.
    pub fn take_writable(&mut self) -> bool {
        let room = self.buf.end - self.buf.start < self.capacity;
        let writable = self.write_blocked && (room || self.check_writable().is_err());
        if writable {
            self.write_blocked = false;
        }
        writable
    }

    /// Whether this part is in a terminal state ("Data Recvd" or "Reset Recvd").
    pub fn is_done(&self) -> bool {
        matches!(
            self.state,
            SendState::DataRecvd | SendState::ResetRecvd { .. }
        )
    }

    /// The RFC 9000 §3.1 state.
    pub fn state(&self) -> SendState {
        self.state
    }

    /// Offset of the next new byte (everything below went out at least once).
    pub fn sent_offset(&self) -> u64 {
        self.sent
    }

    /// Written bytes not yet acknowledged (sent or not).
    pub fn buffered(&self) -> u64 {
        self.buf.end - self.buf.start
    }

    /// The stream's credit from the peer.
    pub fn credit(&self) -> &SendCredit {
        &self.credit
    }

    /// Raises the peer's credit (from the transport parameters, which may arrive
    /// after 0-RTT streams were opened).
    pub fn raise_credit(&mut self, max: u64) {
        self.credit.handle_max(max);
    }

    fn is_open(&self) -> bool {
        matches!(
            self.state,
            SendState::Ready | SendState::Send | SendState::DataSent
        )
    }

    fn check_writable(&self) -> Result<(), WriteError> {
        if let Some(code) = self.stop_code {
            return Err(WriteError::Stopped(code));
        }
        if self.finished || !matches!(self.state, SendState::Ready | SendState::Send) {
            return Err(WriteError::Closed);
        }
        Ok(())
    }

    /// `offset..offset + len` cut to what was sent and is still held.
    fn clamp(&self, offset: u64, len: u64) -> Range<u64> {
        let start = offset.max(self.buf.start);
        let end = offset.saturating_add(len).min(self.sent);
        start..end.max(start)
    }

    fn fin_only(&self) -> SendRange {
        SendRange {
            offset: self.buf.end,
            len: 0,
            fin: true,
        }
    }
}

#[cfg(test)]
mod tests;
