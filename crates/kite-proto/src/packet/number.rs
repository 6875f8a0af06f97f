//! Packet numbers: how many bytes to send one in, and recovering the full
//! number from the truncated bytes received (RFC 9000 §17.1, Appendix A.2, A.3).

use bytes::BufMut;

use crate::coding::{Reader, UnexpectedEnd};

/// A full packet number, in `0..2^62` (RFC 9000 §12.3).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketNumber(pub u64);

/// How many bytes a packet number takes on the wire, 1 to 4 (RFC 9000 §17.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PnLen {
    /// One byte.
    One = 1,
    /// Two bytes.
    Two = 2,
    /// Three bytes.
    Three = 3,
    /// Four bytes.
    Four = 4,
}

impl PnLen {
    /// The length for `bytes`, if it is 1 to 4.
    pub fn new(bytes: usize) -> Option<PnLen> {
        match bytes {
            1 => Some(PnLen::One),
            2 => Some(PnLen::Two),
            3 => Some(PnLen::Three),
            4 => Some(PnLen::Four),
            _ => None,
        }
    }

    /// Number of bytes.
    pub fn bytes(self) -> usize {
        self as usize
    }

    /// The length coded in the two low bits of a first byte whose header
    /// protection has been removed (RFC 9000 §17.2, §17.3.1).
    pub fn from_first_byte(first: u8) -> PnLen {
        match first & 0x03 {
            0 => PnLen::One,
            1 => PnLen::Two,
            2 => PnLen::Three,
            _ => PnLen::Four,
        }
    }

    /// The two low first-byte bits that code this length.
    pub fn first_byte_bits(self) -> u8 {
        self as u8 - 1
    }

    /// Reads a truncated packet number of this length, big-endian.
    pub fn read(self, r: &mut Reader<'_>) -> Result<u32, UnexpectedEnd> {
        let bytes = r.bytes(self.bytes())?;
        Ok(bytes.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b)))
    }
}

impl PacketNumber {
    /// The largest packet number, 2^62 - 1 (RFC 9000 §12.3).
    pub const MAX: PacketNumber = PacketNumber((1 << 62) - 1);

    /// The shortest encoding the peer can decode unambiguously, given the
    /// largest number it has acknowledged in this space (`None` before any ACK).
    ///
    /// RFC 9000 §17.1: the encoding must cover more than twice the range from
    /// the largest acknowledged number to this one. More than 2^31 unacknowledged
    /// packets cannot be covered; the length then stays at 4.
    pub fn encoded_len(self, largest_acked: Option<PacketNumber>) -> PnLen {
        let unacked = match largest_acked {
            Some(acked) => self.0.saturating_sub(acked.0),
            None => self.0.saturating_add(1),
        }
        .max(1);
        // Appendix A.2: ceil(log2(unacked)) + 1 bits, rounded up to bytes.
        let bits = (u64::BITS - (unacked - 1).leading_zeros()) + 1;
        match bits.div_ceil(8) {
            1 => PnLen::One,
            2 => PnLen::Two,
            3 => PnLen::Three,
            _ => PnLen::Four,
        }
    }

    /// The low `len` bytes of this number, as they go on the wire.
    pub fn truncate(self, len: PnLen) -> u32 {
        let mask = (1u64 << (8 * len.bytes())) - 1;
        (self.0 & mask) as u32
    }

    /// Writes the low `len` bytes, big-endian.
    pub fn write<B: BufMut>(self, len: PnLen, out: &mut B) {
        let n = len.bytes();
        out.put_slice(&self.truncate(len).to_be_bytes()[4 - n..]);
    }

    /// Recovers a full packet number from its `len` low bytes `truncated`,
    /// choosing the candidate closest to one past `largest` (the largest
    /// number received in this space so far, `None` if none). RFC 9000 §A.3.
    pub fn decode(largest: Option<PacketNumber>, truncated: u32, len: PnLen) -> PacketNumber {
        let expected = largest.map_or(0, |pn| pn.0 + 1);
        let win = 1u64 << (8 * len.bytes());
        let hwin = win / 2;
        let mask = win - 1;
        let candidate = (expected & !mask) | (u64::from(truncated) & mask);
        // The comparisons are rearranged from the RFC's to avoid underflow.
        let pn = if candidate + hwin <= expected && candidate < (1 << 62) - win {
            candidate + win
        } else if candidate > expected + hwin && candidate >= win {
            candidate - win
        } else {
            candidate
        };
        PacketNumber(pn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §A.2 example: 0xac5c02 with 0xabe8b3 acknowledged needs 16 bits.
    #[test]
    fn appendix_a2_example_needs_two_bytes() {
        let len = PacketNumber(0xac5c02).encoded_len(Some(PacketNumber(0xabe8b3)));
        assert_eq!(len, PnLen::Two);
    }

    /// RFC 9000 §A.2 example: 0xace8fe with 0xabe8b3 acknowledged needs 24 bits.
    #[test]
    fn appendix_a2_example_needs_three_bytes() {
        let len = PacketNumber(0xace8fe).encoded_len(Some(PacketNumber(0xabe8b3)));
        assert_eq!(len, PnLen::Three);
    }

    /// RFC 9000 §A.3 example: largest 0xa82f30ea, 16-bit 0x9b32 -> 0xa82f9b32.
    #[test]
    fn appendix_a3_example_decodes() {
        let pn = PacketNumber::decode(Some(PacketNumber(0xa82f30ea)), 0x9b32, PnLen::Two);
        assert_eq!(pn, PacketNumber(0xa82f9b32));
    }

    #[test]
    fn first_packets_fit_in_one_byte() {
        assert_eq!(PacketNumber(0).encoded_len(None), PnLen::One);
        assert_eq!(PacketNumber(127).encoded_len(None), PnLen::One);
        assert_eq!(PacketNumber(128).encoded_len(None), PnLen::Two);
    }

    #[test]
    fn huge_unacked_ranges_cap_at_four_bytes() {
        assert_eq!(PacketNumber(1 << 40).encoded_len(None), PnLen::Four);
        assert_eq!(
            PacketNumber::MAX.encoded_len(Some(PacketNumber(0))),
            PnLen::Four
        );
    }

    #[test]
    fn decode_without_largest_takes_the_truncated_value() {
        assert_eq!(PacketNumber::decode(None, 0, PnLen::One), PacketNumber(0));
        assert_eq!(
            PacketNumber::decode(None, 0xff, PnLen::One),
            PacketNumber(0xff)
        );
    }

    #[test]
    fn decode_wraps_forward_and_backward_across_a_window() {
        // Expected 0x100: 0x01 is closer as 0x101 than as 0x001.
        let fwd = PacketNumber::decode(Some(PacketNumber(0xff)), 0x01, PnLen::One);
        assert_eq!(fwd, PacketNumber(0x101));
        // Expected 0x101: 0xff is closer as 0x0ff than as 0x1ff.
        let back = PacketNumber::decode(Some(PacketNumber(0x100)), 0xff, PnLen::One);
        assert_eq!(back, PacketNumber(0xff));
    }

    #[test]
    fn write_and_read_keep_the_low_bytes() {
        let pn = PacketNumber(0x12_3456_789a);
        for len in [PnLen::One, PnLen::Two, PnLen::Three, PnLen::Four] {
            let mut out = Vec::new();
            pn.write(len, &mut out);
            assert_eq!(out.len(), len.bytes());
            let read = len.read(&mut Reader::new(&out)).unwrap();
            assert_eq!(read, pn.truncate(len));
            assert_eq!(PnLen::from_first_byte(0xf0 | len.first_byte_bits()), len);
        }
        assert_eq!(PnLen::Two.read(&mut Reader::new(&[1])), Err(UnexpectedEnd));
    }

    proptest::proptest! {
        /// Whatever length `encoded_len` picks, the receiver decodes the exact
        /// number, whichever packet between the largest acknowledged one and
        /// this one it has seen last.
        #[test]
        fn chosen_length_decodes_back(acked in 0u64..(1 << 61), gap in 1u64..(1 << 31),
                                      seen in proptest::num::u64::ANY) {
            let pn = PacketNumber(acked + gap);
            let len = pn.encoded_len(Some(PacketNumber(acked)));
            let largest = PacketNumber(acked + seen % gap);
            let decoded = PacketNumber::decode(Some(largest), pn.truncate(len), len);
            proptest::prop_assert_eq!(decoded, pn);
        }

        #[test]
        fn decode_never_panics(largest in proptest::option::of(0u64..=(1 << 62) - 1),
                               truncated in proptest::num::u32::ANY, bytes in 1usize..=4) {
            let len = PnLen::new(bytes).unwrap();
            let _ = PacketNumber::decode(largest.map(PacketNumber), truncated, len);
        }
    }
}
