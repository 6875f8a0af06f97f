//! Reassembly of one stream's received bytes (RFC 9000 §2.2): out-of-order and
//! overlapping STREAM data, keyed by offset, trimmed to what is new and handed out
//! in order. It also bounds what a hostile peer can make it hold beyond the bytes
//! themselves (RFC 9000 §21.7): small pieces are copied so they pin no datagram
//! buffer, touching small pieces merge, and the number of pieces is capped.

use bytes::{Buf, Bytes, BytesMut};
use std::collections::BTreeMap;

/// Pieces shorter than this (bytes) are copied into fresh storage instead of kept as
/// slices of the datagram they came in. A slice keeps its whole receive buffer
/// alive, so a 1-byte piece could pin ~1500 bytes; above 1024 a piece is at least
/// ~70% of a 1452-byte datagram, so pinning costs under 1.5× while full-size frames
/// (the bulk of any transfer) are never copied. Lower means more pinning, higher
/// means more copying.
pub const COPY_BELOW: usize = 1024;

/// Pieces a stream may hold however few bytes they carry. Each piece costs about
/// 100 bytes of bookkeeping (tree node, `Bytes` handle, allocation), so this caps
/// that overhead at ~25 KiB per stream; a legitimate sender reaches it only with
/// hundreds of simultaneous holes made of tiny frames.
pub const BASE_PIECES: usize = 256;

/// One more piece is allowed per this many buffered bytes: full-size frames
/// (≥ [`COPY_BELOW`]) never come near it, while a flood of tiny out-of-order
/// fragments hits [`BASE_PIECES`] almost at once. Raising it tightens the bound on
/// fragmentation; lowering it lets overhead grow to a larger share of the window.
pub const BYTES_PER_EXTRA_PIECE: u64 = 512;

/// The peer split the stream into more pieces than we agree to track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFragmented;

/// Received stream bytes not yet read, as non-overlapping pieces at or after the
/// read offset.
#[derive(Debug, Default)]
pub struct Assembler {
    /// Offset -> bytes; pieces never overlap and all start at or after `read`.
    pieces: BTreeMap<u64, Bytes>,
    /// Offset of the next byte to hand out.
    read: u64,
    /// Bytes held in `pieces`.
    buffered: u64,
}

impl Assembler {
    /// An empty buffer at offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offset of the next byte to hand out (everything below was handed out).
    pub fn read_offset(&self) -> u64 {
        self.read
    }

    /// Bytes held.
    pub fn buffered(&self) -> u64 {
        self.buffered
    }

    /// Pieces held.
    pub fn pieces(&self) -> usize {
        self.pieces.len()
    }

    /// Distinct bytes received so far: pieces never overlap and start at or after
    /// the read offset, so this is all data when it equals the final size.
    pub fn received_bytes(&self) -> u64 {
        self.read + self.buffered
    }

    /// Whether the next byte in order is here.
    pub fn is_readable(&self) -> bool {
        self.pieces
            .first_key_value()
            .is_some_and(|(&k, _)| k == self.read)
    }

    /// Adds `data` found at `offset`, keeping only bytes not already held or read.
    /// The caller bounds `offset + data.len()` (flow control keeps it below 2^62).
    pub fn insert(&mut self, mut offset: u64, mut data: Bytes) -> Result<(), TooFragmented> {
        let end = offset.saturating_add(data.len() as u64);
        if end <= self.read {
            return Ok(());
        }
        if offset < self.read {
            data.advance((self.read - offset) as usize);
            offset = self.read;
        }
        // A piece starting at or before us covers our front, maybe all of us.
        if let Some((&k, prev)) = self.pieces.range(..=offset).next_back() {
            let prev_end = k + prev.len() as u64;
            if prev_end >= end {
                return Ok(());
            }
            if prev_end > offset {
                data.advance((prev_end - offset) as usize);
                offset = prev_end;
            }
        }
        // Pieces inside our range are replaced by us (fewer pieces); one sticking
        // out past our end keeps its bytes and we stop short of it. The data at an
        // offset never changes (RFC 9000 §2.2), so either copy will do.
        while let Some((&k, next)) = self.pieces.range(offset..end).next() {
            if k + next.len() as u64 <= end {
                self.remove(k);
            } else {
                data.truncate((k - offset) as usize);
                break;
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        if data.len() < COPY_BELOW {
            (offset, data) = self.copy_and_merge(offset, data);
        }
        self.buffered += data.len() as u64;
        self.pieces.insert(offset, data);
        let allowed = BASE_PIECES as u64 + self.buffered / BYTES_PER_EXTRA_PIECE;
        if self.pieces.len() as u64 > allowed {
            return Err(TooFragmented);
        }
        Ok(())
    }

    /// Hands out up to `max` bytes in order, without copying; `None` when the next
    /// byte has not arrived (or `max` is zero).
    pub fn pop(&mut self, max: usize) -> Option<Bytes> {
        if max == 0 {
            return None;
        }
        let entry = self.pieces.first_entry()?;
        if *entry.key() != self.read {
            return None;
        }
        let mut piece = entry.remove();
        let out = if piece.len() <= max {
            piece
        } else {
            let head = piece.split_to(max);
            self.pieces.insert(self.read + max as u64, piece);
            head
        };
        self.read += out.len() as u64;
        self.buffered -= out.len() as u64;
        Some(out)
    }

    /// Drops every piece held, keeping the read offset.
    pub fn clear(&mut self) {
        self.pieces.clear();
        self.buffered = 0;
    }

    /// Copies a small piece into fresh storage together with small neighbours it
    /// touches, so that tiny adjacent fragments end up as one piece.
    fn copy_and_merge(&mut self, offset: u64, data: Bytes) -> (u64, Bytes) {
        let end = offset + data.len() as u64;
        let before = match self.pieces.range(..offset).next_back() {
            Some((&k, prev)) if k + prev.len() as u64 == offset && prev.len() < COPY_BELOW => {
                self.remove(k)
            }
            _ => None,
        };
        let after = match self.pieces.get(&end) {
            Some(next) if next.len() < COPY_BELOW => self.remove(end),
            _ => None,
        };
        let start = offset - before.as_ref().map_or(0, |b| b.len() as u64);
        let total = data.len()
            + before.as_ref().map_or(0, Bytes::len)
            + after.as_ref().map_or(0, Bytes::len);
        let mut merged = BytesMut::with_capacity(total);
        for part in [before.as_ref(), Some(&data), after.as_ref()]
            .into_iter()
            .flatten()
        {
            merged.extend_from_slice(part);
        }
        (start, merged.freeze())
    }

    fn remove(&mut self, key: u64) -> Option<Bytes> {
        let piece = self.pieces.remove(&key)?;
        self.buffered -= piece.len() as u64;
        Some(piece)
    }
}

#[cfg(test)]
mod tests;
