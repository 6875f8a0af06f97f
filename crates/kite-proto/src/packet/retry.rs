//! Retry packets (RFC 9000 §17.2.5) and the Retry pseudo-packet their
//! integrity tag is computed over (RFC 9001 §5.8). Computing and checking the
//! tag itself is the crypto module's.

use bytes::BufMut;

use super::header::{LongKind, decode_kind, encode_kind, read_cid, write_cid};
use super::{FIXED_BIT, LONG_FORM_BIT, PacketError};
use crate::Version;
use crate::cid::ConnectionId;
use crate::coding::Reader;

/// Length of the Retry Integrity Tag, an AES-128-GCM tag (RFC 9001 §5.8).
pub const RETRY_INTEGRITY_TAG_LEN: usize = 16;

/// First-byte bits a Retry leaves unused (RFC 9000 §17.2.5).
const UNUSED_BITS: u8 = 0x0f;

/// A Retry packet's fields, all but the integrity tag: what the server
/// writes and what the tag covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry<'a> {
    /// QUIC version, v1 or v2; the one of the Initial it answers (RFC 9369 §4).
    pub version: Version,
    /// Destination connection ID: the client's source connection ID.
    pub dcid: ConnectionId,
    /// Source connection ID the server chose; the client's next DCID.
    pub scid: ConnectionId,
    /// The address validation token, never empty.
    pub token: &'a [u8],
    /// The first byte's four unused bits (low nibble), arbitrary but covered
    /// by the tag, so kept as received.
    pub unused_bits: u8,
}

impl<'a> Retry<'a> {
    /// Parses a Retry packet that spans all of `packet` (Retry has no Length
    /// field, so it ends its datagram) into its fields and integrity tag.
    ///
    /// Errors on another packet kind or version, a fixed bit of 0, a
    /// connection ID over 20 bytes, or no room for a non-empty token and tag.
    pub fn parse(
        packet: &'a [u8],
    ) -> Result<(Retry<'a>, [u8; RETRY_INTEGRITY_TAG_LEN]), PacketError> {
        let mut r = Reader::new(packet);
        let first = r.u8()?;
        if first & LONG_FORM_BIT == 0 {
            return Err(PacketError::NotRetry);
        }
        let version = Version(r.u32()?);
        if version == Version::NEGOTIATION {
            return Err(PacketError::NotRetry);
        }
        if decode_kind(version, first)? != LongKind::Retry {
            return Err(PacketError::NotRetry);
        }
        if first & FIXED_BIT == 0 {
            return Err(PacketError::FixedBitZero);
        }
        let dcid = read_cid(&mut r)?;
        let scid = read_cid(&mut r)?;
        // RFC 9000 §17.2.5.2: a Retry with an empty token is discarded.
        let token_len = r
            .remaining()
            .checked_sub(RETRY_INTEGRITY_TAG_LEN)
            .filter(|len| *len > 0)
            .ok_or(PacketError::EmptyRetryToken)?;
        let token = r.bytes(token_len)?;
        let integrity_tag = r.array()?;
        let retry = Retry {
            version,
            dcid,
            scid,
            token,
            unused_bits: first & UNUSED_BITS,
        };
        Ok((retry, integrity_tag))
    }

    /// Writes the packet without its integrity tag, which the caller appends
    /// once the crypto module has computed it over [`Retry::pseudo_packet`].
    /// Errors on a version other than v1 or v2.
    pub fn write<B: BufMut>(&self, out: &mut B) -> Result<(), PacketError> {
        let type_bits = encode_kind(self.version, LongKind::Retry)?;
        out.put_u8(LONG_FORM_BIT | FIXED_BIT | type_bits | (self.unused_bits & UNUSED_BITS));
        out.put_u32(self.version.0);
        write_cid(out, &self.dcid);
        write_cid(out, &self.scid);
        out.put_slice(self.token);
        Ok(())
    }

    /// Bytes [`Retry::write`] produces.
    pub fn encoded_len(&self) -> usize {
        1 + 4 + 1 + self.dcid.len() + 1 + self.scid.len() + self.token.len()
    }

    /// The Retry pseudo-packet for this Retry answering an Initial sent to
    /// `odcid` (RFC 9001 §5.8). Parsing keeps every bit the tag covers, so
    /// this equals [`retry_pseudo_packet`] over the received bytes.
    pub fn pseudo_packet(&self, odcid: &ConnectionId) -> Result<Vec<u8>, PacketError> {
        let mut out = Vec::with_capacity(1 + odcid.len() + self.encoded_len());
        write_cid(&mut out, odcid);
        self.write(&mut out)?;
        Ok(out)
    }
}

/// The Retry pseudo-packet (RFC 9001 §5.8): the original destination
/// connection ID with its length byte, then the Retry packet without its tag.
/// The crypto module computes the integrity tag over it.
pub fn retry_pseudo_packet(odcid: &ConnectionId, retry_without_tag: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + odcid.len() + retry_without_tag.len());
    write_cid(&mut out, odcid);
    out.extend_from_slice(retry_without_tag);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Retry packet of RFC 9001 §A.4 (v1).
    const RFC9001_A4_RETRY: &str =
        "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba";
    /// The Retry packet of RFC 9369 §A.4 (v2).
    const RFC9369_A4_RETRY: &str =
        "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6";
    /// The client-chosen DCID both RFCs' Retry packets answer.
    const ODCID: &str = "8394c8f03e515708";

    fn cid(hex: &str) -> ConnectionId {
        ConnectionId::new(&hex::decode(hex).unwrap()).unwrap()
    }

    fn check_vector(hex: &str, version: Version) {
        let bytes = hex::decode(hex).unwrap();
        let (retry, tag) = Retry::parse(&bytes).unwrap();
        assert_eq!(retry.version, version);
        assert!(retry.dcid.is_empty());
        assert_eq!(retry.scid, cid("f067a5502a4262b5"));
        assert_eq!(retry.token, b"token");
        assert_eq!(&tag[..], &bytes[bytes.len() - RETRY_INTEGRITY_TAG_LEN..]);

        let mut written = Vec::new();
        retry.write(&mut written).unwrap();
        assert_eq!(written, &bytes[..bytes.len() - RETRY_INTEGRITY_TAG_LEN]);
        assert_eq!(written.len(), retry.encoded_len());

        let pseudo = retry.pseudo_packet(&cid(ODCID)).unwrap();
        assert_eq!(pseudo[0], 8);
        assert_eq!(hex::encode(&pseudo[1..9]), ODCID);
        assert_eq!(&pseudo[9..], &written[..]);
        assert_eq!(pseudo, retry_pseudo_packet(&cid(ODCID), &written));
    }

    #[test]
    fn rfc9001_a4_retry_parses_and_rewrites_byte_for_byte() {
        check_vector(RFC9001_A4_RETRY, Version::V1);
    }

    #[test]
    fn rfc9369_a4_v2_retry_parses_and_rewrites_byte_for_byte() {
        check_vector(RFC9369_A4_RETRY, Version::V2);
    }

    #[test]
    fn retry_round_trips_for_v1_and_v2() {
        for version in [Version::V1, Version::V2] {
            let retry = Retry {
                version,
                dcid: cid("0102"),
                scid: cid("0a0b0c0d0e0f1011121314151617181920212223"),
                token: b"tok",
                unused_bits: 0x5,
            };
            let mut bytes = Vec::new();
            retry.write(&mut bytes).unwrap();
            bytes.extend_from_slice(&[0xee; RETRY_INTEGRITY_TAG_LEN]);
            let (parsed, tag) = Retry::parse(&bytes).unwrap();
            assert_eq!(parsed, retry);
            assert_eq!(tag, [0xee; RETRY_INTEGRITY_TAG_LEN]);
        }
    }

    /// RFC 9000 §17.2.5.2: a Retry whose token is empty is not accepted.
    #[test]
    fn retry_without_token_is_rejected() {
        let bytes = hex::decode(RFC9001_A4_RETRY).unwrap();
        let header_len = bytes.len() - RETRY_INTEGRITY_TAG_LEN - b"token".len();
        let mut no_token = bytes[..header_len].to_vec();
        no_token.extend_from_slice(&[0; RETRY_INTEGRITY_TAG_LEN]);
        assert_eq!(Retry::parse(&no_token), Err(PacketError::EmptyRetryToken));
    }

    #[test]
    fn every_truncation_of_a_retry_is_an_error() {
        let bytes = hex::decode(RFC9001_A4_RETRY).unwrap();
        // Any cut leaves either a short header or no room for token and tag.
        for cut in 0..bytes.len() - RETRY_INTEGRITY_TAG_LEN - b"token".len() + 1 {
            assert!(Retry::parse(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn other_packet_kinds_are_not_retry() {
        // A v1 Initial type byte, a Version Negotiation, a short header.
        let mut initial = hex::decode(RFC9001_A4_RETRY).unwrap();
        initial[0] = 0xc0;
        assert_eq!(Retry::parse(&initial), Err(PacketError::NotRetry));
        let vn = hex::decode("ff000000000000").unwrap();
        assert_eq!(Retry::parse(&vn), Err(PacketError::NotRetry));
        assert_eq!(Retry::parse(&[0x40; 30]), Err(PacketError::NotRetry));
    }

    #[test]
    fn retry_with_fixed_bit_zero_is_rejected() {
        let mut bytes = hex::decode(RFC9001_A4_RETRY).unwrap();
        bytes[0] &= !FIXED_BIT;
        assert_eq!(Retry::parse(&bytes), Err(PacketError::FixedBitZero));
    }

    #[test]
    fn retry_for_an_unknown_version_is_rejected() {
        let retry = Retry {
            version: Version(0x1234_5678),
            dcid: ConnectionId::EMPTY,
            scid: ConnectionId::EMPTY,
            token: b"t",
            unused_bits: 0,
        };
        let err = retry.write(&mut Vec::new());
        assert_eq!(err, Err(PacketError::UnsupportedVersion(retry.version)));
    }
}
