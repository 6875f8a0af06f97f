//! The CRYPTO stream of one packet number space (RFC 9000 §19.6, §7.5): TLS
//! handshake bytes sent with retransmission on loss, and received bytes
//! reassembled in order for rustls, with a bound on what may be buffered.

use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};

use crate::error::{TransportError, TransportErrorCode};
use crate::recovery::ranges::RangeSet;

/// The most CRYPTO bytes buffered beyond the next byte TLS needs. RFC 9000
/// §7.5 asks for at least 4096; certificate chains of a few certificates run
/// to ~10 KB and may arrive out of order, so allow 64 KiB. Past it the
/// connection closes with CRYPTO_BUFFER_EXCEEDED.
pub const MAX_CRYPTO_BUFFER: u64 = 64 * 1024;

/// Outgoing and incoming handshake bytes of one space.
#[derive(Debug, Default)]
pub struct CryptoStream {
    /// Offset of the first byte of `sent_data`.
    send_base: u64,
    /// Every byte written from `send_base` on, kept until acknowledged.
    sent_data: VecDeque<u8>,
    /// Offset of the next byte never sent.
    send_next: u64,
    /// Offsets sent and due again (lost, or repeated by a probe). A set, so
    /// a range queued twice (a loss, then a PTO) goes out once.
    retransmit: RangeSet,
    /// Offsets acknowledged above `send_base`.
    acked: RangeSet,
    /// Received bytes at or past `read_offset`, by offset.
    received: BTreeMap<u64, Bytes>,
    /// Offset of the next byte to hand to TLS.
    read_offset: u64,
    /// One past the highest offset received: a packet that leaves it
    /// unchanged brought nothing past what had arrived.
    received_end: u64,
}

impl CryptoStream {
    /// Queues handshake bytes from TLS.
    pub fn write(&mut self, data: &[u8]) {
        self.sent_data.extend(data);
    }

    /// Whether anything (new or lost) waits to be sent.
    pub fn has_data_to_send(&self) -> bool {
        !self.retransmit.is_empty() || self.send_next < self.send_end()
    }

    /// Whether bytes were sent that the peer has not acknowledged.
    pub fn has_unacked(&self) -> bool {
        !self
            .acked
            .gaps_in(self.send_base..self.send_next)
            .is_empty()
    }

    /// The next chunk to send, at most `max_len` bytes: lost data first.
    pub fn poll_transmit(&mut self, max_len: usize) -> Option<(u64, Bytes)> {
        if max_len == 0 {
            return None;
        }
        self.retransmit.remove_below(self.send_base);
        let (start, end) = if let Some(range) = self.retransmit.first() {
            let end = range.end.min(range.start + max_len as u64);
            self.retransmit.remove(range.start..end);
            (range.start, end)
        } else {
            let start = self.send_next;
            let end = self.send_end().min(start + max_len as u64);
            if start >= end {
                return None;
            }
            self.send_next = end;
            (start, end)
        };
        let from = (start - self.send_base) as usize;
        let to = (end - self.send_base) as usize;
        let bytes: Vec<u8> = self.sent_data.range(from..to).copied().collect();
        Some((start, Bytes::from(bytes)))
    }

    /// Marks `[offset, offset+len)` acknowledged and frees what is contiguous.
    pub fn on_acked(&mut self, offset: u64, len: u64) {
        let end = offset + len;
        self.acked.insert(offset..end);
        self.retransmit.remove(offset..end);
        if let Some(first) = self.acked.first()
            && first.start <= self.send_base
        {
            let advanced = first.end.max(self.send_base);
            let drop = (advanced - self.send_base) as usize;
            self.sent_data.drain(..drop.min(self.sent_data.len()));
            self.send_base = advanced;
            self.acked.remove_below(advanced);
        }
    }

    /// Queues the unacknowledged part of `[offset, offset+len)` to be sent
    /// again.
    pub fn on_lost(&mut self, offset: u64, len: u64) {
        let start = offset.max(self.send_base);
        let end = (offset + len).min(self.send_next);
        if start < end {
            for gap in self.acked.gaps_in(start..end) {
                self.retransmit.insert(gap);
            }
        }
    }

    /// Queues every byte sent and not acknowledged to be sent again, for a
    /// probe (RFC 9002 §6.2.4); returns whether there was any.
    pub fn queue_unacked(&mut self) -> bool {
        let gaps = self.acked.gaps_in(self.send_base..self.send_next);
        let any = !gaps.is_empty();
        for gap in gaps {
            self.retransmit.insert(gap);
        }
        any
    }

    /// One past the highest offset received so far.
    pub fn received_end(&self) -> u64 {
        self.received_end
    }

    /// Buffers received CRYPTO bytes (RFC 9000 §19.6).
    pub fn on_received(&mut self, offset: u64, data: Bytes) -> Result<(), TransportError> {
        let end = offset + data.len() as u64;
        if end <= self.read_offset {
            return Ok(()); // a retransmission of what TLS already has
        }
        if end > self.read_offset + MAX_CRYPTO_BUFFER {
            return Err(TransportError::new(
                TransportErrorCode::CRYPTO_BUFFER_EXCEEDED,
                "CRYPTO data too far ahead",
            ));
        }
        self.received_end = self.received_end.max(end);
        let (offset, data) = if offset < self.read_offset {
            let skip = (self.read_offset - offset) as usize;
            (self.read_offset, data.slice(skip..))
        } else {
            (offset, data)
        };
        // Keep the longer chunk when two start at the same offset; overlaps
        // between chunks are trimmed when read.
        match self.received.get(&offset) {
            Some(existing) if existing.len() >= data.len() => {}
            _ => {
                self.received.insert(offset, data);
            }
        }
        Ok(())
    }

    /// The in-order bytes received from the next unread offset on, without
    /// consuming them (to look at a ClientHello before TLS reads it).
    pub fn peek_contiguous(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut next = self.read_offset;
        for (&offset, data) in &self.received {
            if offset > next {
                break;
            }
            let end = offset + data.len() as u64;
            if end > next {
                out.extend_from_slice(&data[(next - offset) as usize..]);
                next = end;
            }
        }
        out
    }

    /// The next in-order chunk for TLS, if one has arrived.
    pub fn read(&mut self) -> Option<Bytes> {
        loop {
            let (&offset, _) = self.received.first_key_value()?;
            if offset > self.read_offset {
                return None;
            }
            let (_, data) = self.received.pop_first()?;
            let end = offset + data.len() as u64;
            if end <= self.read_offset {
                continue;
            }
            let chunk = data.slice((self.read_offset - offset) as usize..);
            self.read_offset = end;
            return Some(chunk);
        }
    }

    fn send_end(&self) -> u64 {
        self.send_base + self.sent_data.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_crypto_data_is_read_in_order() {
        let mut s = CryptoStream::default();
        s.on_received(3, Bytes::from_static(b"def")).unwrap();
        assert_eq!(s.read(), None);
        s.on_received(0, Bytes::from_static(b"abcd")).unwrap();
        assert_eq!(s.read().unwrap(), Bytes::from_static(b"abcd"));
        assert_eq!(s.read().unwrap(), Bytes::from_static(b"ef"));
        assert_eq!(s.read(), None);
        s.on_received(0, Bytes::from_static(b"ab")).unwrap();
        assert_eq!(s.read(), None);
    }

    #[test]
    fn crypto_data_far_ahead_is_crypto_buffer_exceeded() {
        let mut s = CryptoStream::default();
        let err = s
            .on_received(MAX_CRYPTO_BUFFER, Bytes::from_static(b"x"))
            .unwrap_err();
        assert_eq!(err.code, TransportErrorCode::CRYPTO_BUFFER_EXCEEDED);
    }

    #[test]
    fn lost_crypto_data_is_sent_again_before_new_data() {
        let mut s = CryptoStream::default();
        s.write(b"0123456789");
        assert_eq!(
            s.poll_transmit(4).unwrap(),
            (0, Bytes::from_static(b"0123"))
        );
        assert_eq!(
            s.poll_transmit(4).unwrap(),
            (4, Bytes::from_static(b"4567"))
        );
        s.on_lost(0, 4);
        assert_eq!(s.poll_transmit(3).unwrap(), (0, Bytes::from_static(b"012")));
        assert_eq!(s.poll_transmit(9).unwrap(), (3, Bytes::from_static(b"3")));
        assert_eq!(s.poll_transmit(9).unwrap(), (8, Bytes::from_static(b"89")));
        assert!(!s.has_data_to_send());
    }

    #[test]
    fn acked_crypto_data_is_freed_and_not_retransmitted() {
        let mut s = CryptoStream::default();
        s.write(b"0123456789");
        s.poll_transmit(10);
        s.on_acked(4, 6);
        s.on_acked(0, 4);
        assert_eq!(s.send_base, 10);
        assert!(s.sent_data.is_empty());
        s.on_lost(0, 10);
        assert_eq!(s.poll_transmit(10), None);
    }

    #[test]
    fn crypto_retransmit_queue_has_no_duplicates() {
        let mut s = CryptoStream::default();
        s.write(&[7; 90]);
        s.poll_transmit(1000);
        // Lost, then queued again by two PTOs before anything went out.
        s.on_lost(0, 90);
        assert!(s.queue_unacked());
        assert!(s.queue_unacked());
        assert_eq!(
            s.poll_transmit(1000).map(|(o, d)| (o, d.len())),
            Some((0, 90))
        );
        assert_eq!(s.poll_transmit(1000), None);
    }

    #[test]
    fn queue_unacked_repeats_only_what_is_unacknowledged() {
        let mut s = CryptoStream::default();
        s.write(b"0123456789");
        assert!(!s.queue_unacked(), "nothing sent yet");
        s.poll_transmit(10);
        s.on_acked(3, 4);
        assert!(s.has_unacked());
        assert!(s.queue_unacked());
        assert_eq!(s.poll_transmit(9).unwrap(), (0, Bytes::from_static(b"012")));
        assert_eq!(s.poll_transmit(9).unwrap(), (7, Bytes::from_static(b"789")));
        assert_eq!(s.poll_transmit(9), None);
        s.on_acked(0, 3);
        s.on_acked(7, 3);
        assert!(!s.has_unacked());
        assert!(!s.queue_unacked());
    }

    #[test]
    fn data_acknowledged_while_queued_is_not_sent_again() {
        let mut s = CryptoStream::default();
        s.write(b"0123456789");
        s.poll_transmit(10);
        s.on_lost(0, 10);
        // The "lost" packet's copy was acknowledged late.
        s.on_acked(2, 5);
        assert_eq!(s.poll_transmit(20).unwrap(), (0, Bytes::from_static(b"01")));
        assert_eq!(
            s.poll_transmit(20).unwrap(),
            (7, Bytes::from_static(b"789"))
        );
        assert_eq!(s.poll_transmit(20), None);
    }

    #[test]
    fn received_end_moves_only_on_bytes_past_it() {
        let mut s = CryptoStream::default();
        s.on_received(0, Bytes::from_static(b"abcd")).unwrap();
        assert_eq!(s.received_end(), 4);
        s.on_received(0, Bytes::from_static(b"abcd")).unwrap();
        assert_eq!(s.received_end(), 4);
        s.on_received(2, Bytes::from_static(b"cdef")).unwrap();
        assert_eq!(s.received_end(), 6);
    }
}
