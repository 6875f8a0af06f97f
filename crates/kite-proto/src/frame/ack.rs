//! ACK frames (RFC 9000 §19.3): a decoded [`Ack`] keeps its validated ranges as
//! the received bytes and walks them on demand, so decoding allocates nothing;
//! [`AckEncoder`] writes an ACK straight from the caller's ranges, as many as fit.

use super::{Decoder, FrameType, put_type, type_len};
use crate::coding::{BufMutExt, Reader, varint_size};
use crate::error::TransportError;
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// The ECN counts an ACK_ECN frame reports (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EcnCounts {
    /// Packets received with the ECT(0) codepoint.
    pub ect0: u64,
    /// Packets received with the ECT(1) codepoint.
    pub ect1: u64,
    /// Packets received with the ECN-CE codepoint.
    pub ce: u64,
}

impl EcnCounts {
    fn encoded_len(&self) -> usize {
        varint_size(self.ect0) + varint_size(self.ect1) + varint_size(self.ce)
    }

    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_varint_u64(self.ect0);
        buf.put_varint_u64(self.ect1);
        buf.put_varint_u64(self.ce);
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        Ok(EcnCounts {
            ect0: d.varint()?,
            ect1: d.varint()?,
            ce: d.varint()?,
        })
    }
}

/// An ACK frame (types 0x02 and 0x03), its ranges validated at decode.
///
/// Equality compares meaning (largest, delay, ranges, ECN), not the bytes the
/// ranges were received as.
#[derive(Clone)]
pub struct Ack {
    largest: u64,
    delay: u64,
    first_range: u64,
    /// Gap / ACK Range Length pairs after the first range, as received; every
    /// range they describe lies at or above packet number 0.
    ranges: Bytes,
    /// Number of pairs in `ranges`.
    extra_ranges: u64,
    ecn: Option<EcnCounts>,
}

impl Ack {
    /// Builds an ACK from inclusive ranges given from highest to lowest, each
    /// separated from the next by at least one missing packet number. Returns
    /// `None` if there is no range or the ranges are out of order. Allocates;
    /// packet building uses [`AckEncoder`] instead.
    pub fn from_ranges<I>(ranges: I, delay: u64, ecn: Option<EcnCounts>) -> Option<Ack>
    where
        I: IntoIterator<Item = RangeInclusive<u64>>,
        I::IntoIter: Clone,
    {
        let ranges = ranges.into_iter();
        let encoder = AckEncoder::new(ranges.clone(), delay, ecn, usize::MAX, usize::MAX)?;
        // Refuse ranges the encoder would have cut short: they were out of order.
        if encoder.range_count() != ranges.count() {
            return None;
        }
        let mut buf = BytesMut::with_capacity(encoder.encoded_len());
        encoder.encode(&mut buf);
        let payload = buf.freeze();
        let mut d = Decoder::new(&payload, type_len(encoder.frame_type()));
        Ack::decode(encoder.frame_type(), &mut d).ok()
    }

    /// The largest packet number acknowledged.
    pub fn largest(&self) -> u64 {
        self.largest
    }

    /// The ACK Delay field as sent, before scaling by the peer's
    /// ack_delay_exponent (RFC 9000 §19.3).
    pub fn delay(&self) -> u64 {
        self.delay
    }

    /// The ACK delay scaled by the peer's `ack_delay_exponent`, saturating.
    pub fn delay_duration(&self, ack_delay_exponent: u8) -> Duration {
        let micros = 1u64
            .checked_shl(ack_delay_exponent.into())
            .and_then(|scale| self.delay.checked_mul(scale))
            .unwrap_or(u64::MAX);
        Duration::from_micros(micros)
    }

    /// The ECN counts, if this is an ACK_ECN frame.
    pub fn ecn(&self) -> Option<EcnCounts> {
        self.ecn
    }

    /// Number of acknowledged ranges, at least 1.
    pub fn range_count(&self) -> u64 {
        self.extra_ranges.saturating_add(1)
    }

    /// The acknowledged packet numbers as inclusive ranges, highest first.
    pub fn ranges(&self) -> AckRanges<'_> {
        AckRanges {
            first: Some(self.largest.saturating_sub(self.first_range)..=self.largest),
            smallest: self.largest.saturating_sub(self.first_range),
            rest: Reader::new(&self.ranges),
            remaining: self.extra_ranges,
        }
    }

    /// The type this frame is written with: ACK_ECN when it carries ECN counts.
    pub fn frame_type(&self) -> FrameType {
        if self.ecn.is_some() {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        }
    }

    /// Bytes [`Ack::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        type_len(self.frame_type())
            + varint_size(self.largest)
            + varint_size(self.delay)
            + varint_size(self.extra_ranges)
            + varint_size(self.first_range)
            + self.ranges.len()
            + self.ecn.map_or(0, |ecn| ecn.encoded_len())
    }

    /// Writes the frame, its ranges in the encoding they were received in.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_type(buf, self.frame_type());
        buf.put_varint_u64(self.largest);
        buf.put_varint_u64(self.delay);
        buf.put_varint_u64(self.extra_ranges);
        buf.put_varint_u64(self.first_range);
        buf.put_slice(&self.ranges);
        if let Some(ecn) = &self.ecn {
            ecn.encode(buf);
        }
    }

    pub(super) fn decode(ty: FrameType, d: &mut Decoder<'_>) -> Result<Self, TransportError> {
        // RFC 9000 §19.3.1: a range reaching below packet number 0 is a
        // FRAME_ENCODING_ERROR.
        const BELOW_ZERO: TransportError =
            TransportError::frame_encoding("ACK range below packet number 0");
        let largest = d.varint()?;
        let delay = d.varint()?;
        let extra_ranges = d.varint()?;
        let first_range = d.varint()?;
        let mut smallest = largest.checked_sub(first_range).ok_or(BELOW_ZERO)?;
        let start = d.position();
        // Each pair takes at least two bytes, so a huge count ends at the payload's end.
        for _ in 0..extra_ranges {
            let gap = d.varint()?;
            let len = d.varint()?;
            // RFC 9000 §19.3.1: the next range ends gap + 2 below the smallest
            // packet number of the previous one.
            let range_largest = smallest
                .checked_sub(gap)
                .and_then(|v| v.checked_sub(2))
                .ok_or(BELOW_ZERO)?;
            smallest = range_largest.checked_sub(len).ok_or(BELOW_ZERO)?;
        }
        let ranges = d.slice_since(start);
        let ecn = if ty == FrameType::ACK_ECN {
            Some(EcnCounts::decode(d)?)
        } else {
            None
        };
        Ok(Ack {
            largest,
            delay,
            first_range,
            ranges,
            extra_ranges,
            ecn,
        })
    }
}

impl PartialEq for Ack {
    fn eq(&self, other: &Self) -> bool {
        self.largest == other.largest
            && self.delay == other.delay
            && self.ecn == other.ecn
            && self.extra_ranges == other.extra_ranges
            && self.ranges().eq(other.ranges())
    }
}

impl Eq for Ack {}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ack")
            .field("delay", &self.delay)
            .field("ranges", &DebugRanges(self))
            .field("ecn", &self.ecn)
            .finish()
    }
}

struct DebugRanges<'a>(&'a Ack);

impl fmt::Debug for DebugRanges<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.ranges()).finish()
    }
}

/// The ranges of an [`Ack`], highest first, as inclusive packet number ranges.
#[derive(Debug, Clone)]
pub struct AckRanges<'a> {
    first: Option<RangeInclusive<u64>>,
    smallest: u64,
    rest: Reader<'a>,
    remaining: u64,
}

impl Iterator for AckRanges<'_> {
    type Item = RangeInclusive<u64>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Validated at decode; a failure here only ends the walk early.
        let gap = self.rest.varint_u64().ok()?;
        let len = self.rest.varint_u64().ok()?;
        let largest = self.smallest.checked_sub(gap)?.checked_sub(2)?;
        self.smallest = largest.checked_sub(len)?;
        Some(self.smallest..=largest)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self
            .remaining
            .saturating_add(u64::from(self.first.is_some()));
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for AckRanges<'_> {}

impl std::iter::FusedIterator for AckRanges<'_> {}

/// An ACK frame planned from the caller's ranges, ready to be written.
///
/// The ranges come highest first as inclusive packet number ranges, each below
/// the previous one with at least one missing packet number between them; the
/// plan stops at the first range breaking that order, at `max_ranges` ranges, or
/// at the last range that keeps the frame within `max_len` bytes. Writing walks
/// the (cloned) iterator again, so nothing is collected.
#[derive(Debug, Clone)]
pub struct AckEncoder<I> {
    ranges: I,
    delay: u64,
    ecn: Option<EcnCounts>,
    count: usize,
    len: usize,
}

impl<I> AckEncoder<I>
where
    I: Iterator<Item = RangeInclusive<u64>> + Clone,
{
    /// Plans an ACK of at most `max_ranges` ranges and `max_len` bytes with the
    /// raw (already scaled down) `delay`. `None` if there is no valid first
    /// range, `max_ranges` is 0, or even a one-range ACK exceeds `max_len`.
    pub fn new(
        ranges: I,
        delay: u64,
        ecn: Option<EcnCounts>,
        max_ranges: usize,
        max_len: usize,
    ) -> Option<Self> {
        let mut walk = ranges.clone();
        let first = walk.next()?;
        if first.start() > first.end() || max_ranges == 0 {
            return None;
        }
        let ty = if ecn.is_some() {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        };
        let fixed = type_len(ty)
            + varint_size(*first.end())
            + varint_size(delay)
            + varint_size(first.end() - first.start())
            + ecn.map_or(0, |ecn| ecn.encoded_len());
        let mut pairs_len = 0;
        let mut count = 1;
        if fixed + varint_size(0) > max_len {
            return None;
        }
        let mut smallest = *first.start();
        for range in walk {
            if count >= max_ranges {
                break;
            }
            let (start, end) = (*range.start(), *range.end());
            // A valid next range ends at least two below the previous smallest.
            if start > end || smallest < 2 || end > smallest - 2 {
                break;
            }
            let gap = smallest - 2 - end;
            let pair = varint_size(gap) + varint_size(end - start);
            let len = fixed + varint_size(count as u64) + pairs_len + pair;
            if len > max_len {
                break;
            }
            pairs_len += pair;
            count += 1;
            smallest = start;
        }
        let len = fixed + varint_size(count as u64 - 1) + pairs_len;
        Some(AckEncoder {
            ranges,
            delay,
            ecn,
            count,
            len,
        })
    }

    /// Number of ranges that will be written, at least 1.
    pub fn range_count(&self) -> usize {
        self.count
    }

    /// The type this frame is written with.
    pub fn frame_type(&self) -> FrameType {
        if self.ecn.is_some() {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        }
    }

    /// Bytes [`AckEncoder::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.len
    }

    /// Writes the planned ACK frame.
    pub fn encode(&self, buf: &mut impl BufMut) {
        let mut walk = self.ranges.clone().take(self.count);
        let Some(first) = walk.next() else {
            return; // `new` saw a first range; a well-behaved Clone yields it again.
        };
        put_type(buf, self.frame_type());
        buf.put_varint_u64(*first.end());
        buf.put_varint_u64(self.delay);
        buf.put_varint_u64(self.count as u64 - 1);
        buf.put_varint_u64(first.end().saturating_sub(*first.start()));
        // `new` checked the order; saturating keeps a misbehaving Clone from panicking.
        let mut smallest = *first.start();
        for range in walk {
            buf.put_varint_u64(smallest.saturating_sub(2).saturating_sub(*range.end()));
            buf.put_varint_u64(range.end().saturating_sub(*range.start()));
            smallest = *range.start();
        }
        if let Some(ecn) = &self.ecn {
            ecn.encode(buf);
        }
    }
}
