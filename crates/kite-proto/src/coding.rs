//! QUIC variable-length integers and checked byte readers (RFC 9000 §16).
//!
//! Everything that parses bytes from the network goes through [`Reader`], whose
//! methods return [`UnexpectedEnd`] on short input instead of panicking. Writing
//! goes through [`bytes::BufMut`] plus the [`BufMutExt::put_varint`] extension;
//! callers size their buffers first (every encodable type reports its length).

use bytes::BufMut;
use std::fmt;

/// The input ended before a complete value could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unexpected end of input")]
pub struct UnexpectedEnd;

/// A value does not fit in a QUIC variable-length integer (it is 2^62 or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("value {0} exceeds the varint maximum 2^62-1")]
pub struct VarIntBoundsExceeded(pub u64);

/// An integer in `0..2^62`, the range a QUIC variable-length integer can carry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VarInt(u64);

impl VarInt {
    /// The largest value a varint can carry, 2^62 - 1.
    pub const MAX: VarInt = VarInt((1 << 62) - 1);
    /// Zero.
    pub const ZERO: VarInt = VarInt(0);

    /// Wraps a `u32`, which always fits.
    pub const fn from_u32(value: u32) -> Self {
        VarInt(value as u64)
    }

    /// Wraps a `u64`, failing if it is 2^62 or more.
    pub const fn from_u64(value: u64) -> Result<Self, VarIntBoundsExceeded> {
        if value <= Self::MAX.0 {
            Ok(VarInt(value))
        } else {
            Err(VarIntBoundsExceeded(value))
        }
    }

    /// Wraps a `u64` the caller knows to be below 2^62 (a constant, or a value
    /// already bounded by protocol limits); larger values saturate at [`VarInt::MAX`].
    pub const fn saturating(value: u64) -> Self {
        if value <= Self::MAX.0 {
            VarInt(value)
        } else {
            Self::MAX
        }
    }

    /// The carried value.
    pub const fn into_inner(self) -> u64 {
        self.0
    }

    /// Bytes of the minimal encoding: 1, 2, 4 or 8.
    pub const fn size(self) -> usize {
        varint_size(self.0)
    }
}

impl From<u8> for VarInt {
    fn from(value: u8) -> Self {
        VarInt(value.into())
    }
}

impl From<u16> for VarInt {
    fn from(value: u16) -> Self {
        VarInt(value.into())
    }
}

impl From<u32> for VarInt {
    fn from(value: u32) -> Self {
        VarInt(value.into())
    }
}

impl TryFrom<u64> for VarInt {
    type Error = VarIntBoundsExceeded;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::from_u64(value)
    }
}

impl TryFrom<usize> for VarInt {
    type Error = VarIntBoundsExceeded;
    fn try_from(value: usize) -> Result<Self, Self::Error> {
        Self::from_u64(value as u64)
    }
}

impl From<VarInt> for u64 {
    fn from(value: VarInt) -> Self {
        value.0
    }
}

impl fmt::Display for VarInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Bytes of the minimal varint encoding of `value` (values past 2^62 report 8,
/// the caller is expected to have bounded them).
pub const fn varint_size(value: u64) -> usize {
    if value < (1 << 6) {
        1
    } else if value < (1 << 14) {
        2
    } else if value < (1 << 30) {
        4
    } else {
        8
    }
}

/// Writing QUIC varints into any [`BufMut`].
pub trait BufMutExt: BufMut {
    /// Writes `value` in its minimal encoding (RFC 9000 §16).
    fn put_varint(&mut self, value: VarInt) {
        let v = value.0;
        match value.size() {
            1 => self.put_u8(v as u8),
            2 => self.put_u16(0x4000 | v as u16),
            4 => self.put_u32(0x8000_0000 | v as u32),
            _ => self.put_u64(0xc000_0000_0000_0000 | v),
        }
    }

    /// Writes a `u64` known to be below 2^62 as a varint (saturating otherwise).
    fn put_varint_u64(&mut self, value: u64) {
        self.put_varint(VarInt::saturating(value));
    }
}

impl<B: BufMut + ?Sized> BufMutExt for B {}

/// A cursor over received bytes whose every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Consumes and returns every unread byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        self.pos = self.buf.len();
        rest
    }

    /// Consumes `len` bytes and returns them.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], UnexpectedEnd> {
        if len > self.remaining() {
            return Err(UnexpectedEnd);
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// Consumes `N` bytes into an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], UnexpectedEnd> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Skips `len` bytes.
    pub fn skip(&mut self, len: usize) -> Result<(), UnexpectedEnd> {
        self.bytes(len).map(|_| ())
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, UnexpectedEnd> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, UnexpectedEnd> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, UnexpectedEnd> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, UnexpectedEnd> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Reads a varint in any of its four lengths; non-minimal encodings are
    /// accepted, as RFC 9000 §16 allows (except where a frame type forbids it).
    pub fn varint(&mut self) -> Result<VarInt, UnexpectedEnd> {
        let first = *self.buf.get(self.pos).ok_or(UnexpectedEnd)?;
        let len = 1usize << (first >> 6);
        let raw = self.bytes(len)?;
        let mut value = u64::from(first & 0x3f);
        for byte in &raw[1..] {
            value = (value << 8) | u64::from(*byte);
        }
        Ok(VarInt(value))
    }

    /// Reads a varint and returns it as a plain `u64`.
    pub fn varint_u64(&mut self) -> Result<u64, UnexpectedEnd> {
        self.varint().map(VarInt::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_varint(VarInt::from_u64(v).unwrap());
        out
    }

    /// RFC 9000 §A.1 sample encodings decode to their values.
    #[test]
    fn rfc9000_appendix_a1_varint_examples_decode() {
        let cases: &[(&str, u64)] = &[
            ("c2197c5eff14e88c", 151_288_809_941_952_652),
            ("9d7f3e7d", 494_878_333),
            ("7bbd", 15_293),
            ("25", 37),
            ("4025", 37),
        ];
        for (hex, value) in cases {
            let bytes = hex::decode(hex).unwrap();
            let mut r = Reader::new(&bytes);
            assert_eq!(r.varint().unwrap().into_inner(), *value, "{hex}");
            assert!(r.is_empty());
        }
    }

    #[test]
    fn varint_uses_minimal_length_at_each_boundary() {
        for (v, len) in [
            (0, 1),
            (63, 1),
            (64, 2),
            (16_383, 2),
            (16_384, 4),
            ((1 << 30) - 1, 4),
            (1 << 30, 8),
            ((1 << 62) - 1, 8),
        ] {
            let bytes = encode(v);
            assert_eq!(bytes.len(), len, "{v}");
            assert_eq!(Reader::new(&bytes).varint().unwrap().into_inner(), v);
        }
    }

    #[test]
    fn varint_rejects_values_of_2_pow_62_and_above() {
        assert!(VarInt::from_u64(1 << 62).is_err());
        assert!(VarInt::from_u64(u64::MAX).is_err());
        assert_eq!(VarInt::saturating(u64::MAX), VarInt::MAX);
    }

    #[test]
    fn truncated_varints_are_errors_at_every_cut() {
        let full = encode((1 << 62) - 1);
        for cut in 0..full.len() {
            assert_eq!(Reader::new(&full[..cut]).varint(), Err(UnexpectedEnd));
        }
    }

    #[test]
    fn reader_reports_short_input_for_fixed_width_reads() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(r.u16(), Err(UnexpectedEnd));
        assert_eq!(r.u8().unwrap(), 3);
        assert_eq!(r.u8(), Err(UnexpectedEnd));
        assert_eq!(r.bytes(1), Err(UnexpectedEnd));
    }

    proptest::proptest! {
        #[test]
        fn varint_round_trips(v in 0u64..(1 << 62)) {
            let bytes = encode(v);
            let mut r = Reader::new(&bytes);
            proptest::prop_assert_eq!(r.varint().unwrap().into_inner(), v);
            proptest::prop_assert!(r.is_empty());
        }

        #[test]
        fn reader_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..32)) {
            let mut r = Reader::new(&data);
            while r.varint().is_ok() {}
        }
    }
}
