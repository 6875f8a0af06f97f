//! The CRYPTO stream of one packet number space (RFC 9000 §19.6, §7.5): TLS
//! handshake bytes sent with retransmission on loss, and received bytes
//! reassembled in order for rustls, with a bound on what may be buffered.

use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};

use crate::error::{TransportError, TransportErrorCode};

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
    /// Ranges `[start, end)` sent, lost, and due again.
    retransmit: VecDeque<(u64, u64)>,
    /// Ranges `[start, end)` acknowledged above `send_base`.
    acked: Vec<(u64, u64)>,
    /// Received bytes at or past `read_offset`, by offset.
    received: BTreeMap<u64, Bytes>,
    /// Offset of the next byte to hand to TLS.
    read_offset: u64,
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

    /// The next chunk to send, at most `max_len` bytes: lost data first.
    pub fn poll_transmit(&mut self, max_len: usize) -> Option<(u64, Bytes)> {
        if max_len == 0 {
            return None;
        }
        let (start, end) = if let Some(&(start, end)) = self.retransmit.front() {
            let start = start.max(self.send_base);
            if start >= end {
                self.retransmit.pop_front();
                return self.poll_transmit(max_len);
            }
            let take_end = end.min(start + max_len as u64);
            if take_end == end {
                self.retransmit.pop_front();
            } else if let Some(front) = self.retransmit.front_mut() {
                front.0 = take_end;
            }
            (start, take_end)
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
        self.acked.push((offset, offset + len));
        self.acked.sort_unstable();
        let mut advanced = self.send_base;
        self.acked.retain(|&(start, end)| {
            if start <= advanced {
                advanced = advanced.max(end);
                false
            } else {
                true
            }
        });
        let drop = (advanced - self.send_base) as usize;
        self.sent_data.drain(..drop.min(self.sent_data.len()));
        self.send_base = advanced;
    }

    /// Queues `[offset, offset+len)` to be sent again.
    pub fn on_lost(&mut self, offset: u64, len: u64) {
        let end = offset + len;
        if end > self.send_base {
            self.retransmit.push_back((offset.max(self.send_base), end));
        }
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
}
