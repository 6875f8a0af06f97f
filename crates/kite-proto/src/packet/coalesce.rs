//! Splitting a datagram into its coalesced packets (RFC 9000 §12.2). A long
//! header's Length field ends its packet; a short header, Retry or Version
//! Negotiation packet takes the rest of the datagram.

use std::ops::Range;

use super::{Header, PacketError, ParsedHeader};
use crate::cid::ConnectionId;

/// One packet of a datagram: where it lies and its parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalescedPacket<'a> {
    /// The packet's bytes within the datagram.
    pub range: Range<usize>,
    /// Its header.
    pub header: Header<'a>,
}

/// A cursor over a datagram's packets that does not borrow the datagram
/// between calls, so the caller may decrypt each packet in place before
/// asking for the next. Pass the same datagram to every call.
#[derive(Debug, Clone)]
pub struct DatagramSplitter {
    local_cid_len: usize,
    pos: usize,
    first_dcid: Option<ConnectionId>,
    done: bool,
}

impl DatagramSplitter {
    /// A cursor at the start of a datagram; `local_cid_len` is the length of
    /// the connection IDs this endpoint issues (short headers need it).
    pub fn new(local_cid_len: usize) -> Self {
        DatagramSplitter {
            local_cid_len,
            pos: 0,
            first_dcid: None,
            done: false,
        }
    }

    /// The next packet of `datagram`, `None` once all are read. An error is
    /// returned once and ends the datagram: what follows cannot be delimited.
    ///
    /// RFC 9000 §12.2: a packet whose DCID differs from the first packet's is
    /// ignored, and so is the rest of the datagram, as
    /// [`PacketError::DcidMismatch`].
    pub fn next_packet<'a>(
        &mut self,
        datagram: &'a [u8],
    ) -> Option<Result<CoalescedPacket<'a>, PacketError>> {
        if self.done {
            return None;
        }
        let rest = datagram.get(self.pos..).filter(|rest| !rest.is_empty());
        let Some(rest) = rest else {
            self.done = true;
            return None;
        };
        let parsed = match ParsedHeader::parse(rest, self.local_cid_len) {
            Ok(parsed) => parsed,
            Err(err) => {
                self.done = true;
                return Some(Err(err));
            }
        };
        let dcid = parsed.header.dcid();
        match &self.first_dcid {
            Some(first) if first.as_bytes() != dcid => {
                self.done = true;
                return Some(Err(PacketError::DcidMismatch));
            }
            Some(_) => {}
            // Only Version Negotiation has longer CIDs, and it ends the datagram.
            None => self.first_dcid = ConnectionId::new(dcid).ok(),
        }
        let start = self.pos;
        self.pos += parsed.len;
        Some(Ok(CoalescedPacket {
            range: start..self.pos,
            header: parsed.header,
        }))
    }
}

/// An iterator over a datagram's packets; see [`DatagramSplitter`] to
/// decrypt in place between packets.
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    datagram: &'a [u8],
    splitter: DatagramSplitter,
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<CoalescedPacket<'a>, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.splitter.next_packet(self.datagram)
    }
}

/// Iterates over the packets coalesced in `datagram`; `local_cid_len` is the
/// length of the connection IDs this endpoint issues.
pub fn split_datagram(datagram: &[u8], local_cid_len: usize) -> Packets<'_> {
    Packets {
        datagram,
        splitter: DatagramSplitter::new(local_cid_len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Version;
    use crate::packet::{LongHeader, LongType, PacketNumber, PacketType, PnLen, ShortHeader};

    const CID_LEN: usize = 8;

    fn cid(byte: u8) -> ConnectionId {
        ConnectionId::new(&[byte; CID_LEN]).unwrap()
    }

    /// Appends a long packet of `ty` with `payload_len` payload bytes.
    fn push_long(dgram: &mut Vec<u8>, ty: LongType, dcid: ConnectionId, payload_len: usize) {
        let start = dgram.len();
        let header = LongHeader {
            ty,
            version: Version::V1,
            dcid,
            scid: cid(0xaa),
            token: if ty == LongType::Initial { b"tk" } else { &[] },
        };
        let layout = header.write(dgram, PacketNumber(5), PnLen::Two).unwrap();
        dgram.resize(dgram.len() + payload_len, 0x11);
        layout.set_length(&mut dgram[start..], payload_len).unwrap();
    }

    fn push_short(dgram: &mut Vec<u8>, dcid: ConnectionId, payload_len: usize) {
        let header = ShortHeader { dcid, spin: false };
        header.write(dgram, false, PacketNumber(9), PnLen::One);
        dgram.resize(dgram.len() + payload_len, 0x22);
    }

    fn types_and_ranges(dgram: &[u8]) -> Vec<Result<(PacketType, Range<usize>), PacketError>> {
        split_datagram(dgram, CID_LEN)
            .map(|p| p.map(|p| (p.header.packet_type(), p.range)))
            .collect()
    }

    #[test]
    fn three_long_packets_and_a_short_one_split_apart() {
        let mut dgram = Vec::new();
        push_long(&mut dgram, LongType::Initial, cid(1), 40);
        let a = dgram.len();
        push_long(&mut dgram, LongType::ZeroRtt, cid(1), 30);
        let b = dgram.len();
        push_long(&mut dgram, LongType::Handshake, cid(1), 20);
        let c = dgram.len();
        push_short(&mut dgram, cid(1), 25);
        assert_eq!(
            types_and_ranges(&dgram),
            vec![
                Ok((PacketType::Initial, 0..a)),
                Ok((PacketType::ZeroRtt, a..b)),
                Ok((PacketType::Handshake, b..c)),
                Ok((PacketType::OneRtt, c..dgram.len())),
            ]
        );
    }

    #[test]
    fn two_long_packets_fill_the_datagram_exactly() {
        let mut dgram = Vec::new();
        push_long(&mut dgram, LongType::Initial, cid(3), 100);
        let a = dgram.len();
        push_long(&mut dgram, LongType::Handshake, cid(3), 60);
        assert_eq!(
            types_and_ranges(&dgram),
            vec![
                Ok((PacketType::Initial, 0..a)),
                Ok((PacketType::Handshake, a..dgram.len())),
            ]
        );
    }

    /// A bad packet ends the datagram: earlier packets survive, later ones are dropped.
    #[test]
    fn trailing_garbage_ends_the_iteration_with_an_error() {
        let mut dgram = Vec::new();
        push_long(&mut dgram, LongType::Initial, cid(1), 40);
        let a = dgram.len();
        dgram.extend_from_slice(&[0; 10]);
        assert_eq!(
            types_and_ranges(&dgram),
            vec![
                Ok((PacketType::Initial, 0..a)),
                Err(PacketError::FixedBitZero)
            ]
        );
    }

    #[test]
    fn length_past_the_datagram_ends_the_iteration() {
        let mut dgram = Vec::new();
        push_long(&mut dgram, LongType::Initial, cid(1), 40);
        let a = dgram.len();
        push_long(&mut dgram, LongType::Handshake, cid(1), 40);
        dgram.truncate(dgram.len() - 1);
        assert_eq!(
            types_and_ranges(&dgram),
            vec![
                Ok((PacketType::Initial, 0..a)),
                Err(PacketError::LengthPastEnd)
            ]
        );
    }

    /// RFC 9000 §12.2: packets for another connection ID are ignored.
    #[test]
    fn coalesced_packet_with_another_dcid_is_rejected() {
        let mut dgram = Vec::new();
        push_long(&mut dgram, LongType::Initial, cid(1), 40);
        let a = dgram.len();
        push_long(&mut dgram, LongType::Handshake, cid(2), 40);
        push_short(&mut dgram, cid(1), 10);
        assert_eq!(
            types_and_ranges(&dgram),
            vec![
                Ok((PacketType::Initial, 0..a)),
                Err(PacketError::DcidMismatch)
            ]
        );
    }

    #[test]
    fn splitter_lets_the_caller_rewrite_each_packet_in_place() {
        let mut dgram = Vec::new();
        push_long(&mut dgram, LongType::Initial, cid(1), 40);
        push_short(&mut dgram, cid(1), 10);
        let mut splitter = DatagramSplitter::new(CID_LEN);
        let mut count = 0;
        while let Some(packet) = splitter.next_packet(&dgram) {
            let range = packet.unwrap().range;
            // Stand-in for in-place decryption of the payload.
            dgram[range.end - 1] ^= 0xff;
            count += 1;
        }
        assert_eq!(count, 2);
    }

    #[test]
    fn empty_datagram_has_no_packets() {
        assert_eq!(split_datagram(&[], CID_LEN).count(), 0);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic_and_packets_tile_the_datagram(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            cid_len in proptest::sample::select(vec![0usize, 8, 20, 21]),
        ) {
            let mut end = 0;
            for packet in split_datagram(&data, cid_len) {
                let Ok(packet) = packet else { break };
                proptest::prop_assert_eq!(packet.range.start, end);
                proptest::prop_assert!(packet.range.end <= data.len());
                end = packet.range.end;
            }
        }
    }
}
