//! Version Negotiation packets (RFC 9000 §17.2.1, RFC 8999 §6): a server's
//! list of the versions it supports, sent in answer to an unknown one.
//! Deciding when to send one, or what a client does with it, is the endpoint's.

use bytes::BufMut;

use super::{FIXED_BIT, LONG_FORM_BIT, PacketError};
use crate::Version;
use crate::coding::Reader;

/// Bytes per listed version.
const VERSION_LEN: usize = 4;

/// A parsed Version Negotiation packet. Its connection IDs follow RFC 8999,
/// not v1, so they may be up to 255 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionNegotiation<'a> {
    /// The seven bits after the header form bit, arbitrary; clients ignore
    /// them (RFC 9000 §17.2.1).
    pub unused_bits: u8,
    /// Destination connection ID: the client's source connection ID.
    pub dcid: &'a [u8],
    /// Source connection ID: the client's destination connection ID.
    pub scid: &'a [u8],
    /// The supported versions, 4 bytes each, never empty.
    versions: &'a [u8],
}

impl<'a> VersionNegotiation<'a> {
    /// Parses a Version Negotiation packet that spans all of `packet` (it has
    /// no Length field and so fills its datagram).
    ///
    /// Errors if this is not a long header with version 0, on truncation, or
    /// if the version list is empty or not a multiple of 4 bytes.
    pub fn parse(packet: &'a [u8]) -> Result<Self, PacketError> {
        let mut r = Reader::new(packet);
        let first = r.u8()?;
        if first & LONG_FORM_BIT == 0 || Version(r.u32()?) != Version::NEGOTIATION {
            return Err(PacketError::NotVersionNegotiation);
        }
        let dcid_len = r.u8()?;
        let dcid = r.bytes(dcid_len.into())?;
        let scid_len = r.u8()?;
        let scid = r.bytes(scid_len.into())?;
        let versions = r.take_rest();
        if versions.is_empty() || versions.len() % VERSION_LEN != 0 {
            return Err(PacketError::BadVersionList);
        }
        Ok(VersionNegotiation {
            unused_bits: first & !LONG_FORM_BIT,
            dcid,
            scid,
            versions,
        })
    }

    /// The listed versions, in packet order.
    pub fn versions(&self) -> impl Iterator<Item = Version> + 'a {
        self.versions
            .chunks_exact(VERSION_LEN)
            .map(|chunk| Version(chunk.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b))))
    }

    /// Writes a Version Negotiation packet. `unused_bits` are the seven
    /// arbitrary bits after the header form bit (pass random ones); the 0x40
    /// bit is set regardless, as RFC 9000 §17.2.1 recommends so that the
    /// packet looks like QUIC to demultiplexers. The caller echoes the
    /// client's source connection ID as `dcid` and its destination connection
    /// ID as `scid`. Errors if a connection ID exceeds 255 bytes or
    /// `versions` is empty.
    pub fn write<B: BufMut>(
        out: &mut B,
        unused_bits: u8,
        dcid: &[u8],
        scid: &[u8],
        versions: &[Version],
    ) -> Result<(), PacketError> {
        if versions.is_empty() {
            return Err(PacketError::BadVersionList);
        }
        let dcid_len = u8::try_from(dcid.len()).map_err(|_| PacketError::CidTooLong(dcid.len()))?;
        let scid_len = u8::try_from(scid.len()).map_err(|_| PacketError::CidTooLong(scid.len()))?;
        out.put_u8(LONG_FORM_BIT | FIXED_BIT | unused_bits);
        out.put_u32(Version::NEGOTIATION.0);
        out.put_u8(dcid_len);
        out.put_slice(dcid);
        out.put_u8(scid_len);
        out.put_slice(scid);
        for version in versions {
            out.put_u32(version.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(dcid: &[u8], scid: &[u8], versions: &[Version]) -> Vec<u8> {
        let mut out = Vec::new();
        VersionNegotiation::write(&mut out, 0x2a, dcid, scid, versions).unwrap();
        out
    }

    #[test]
    fn version_negotiation_round_trips() {
        let versions = [Version::V1, Version::V2, Version::greased(7)];
        let bytes = build(&[1, 2, 3], &[9; 255], &versions);
        let vn = VersionNegotiation::parse(&bytes).unwrap();
        assert_eq!(vn.dcid, &[1, 2, 3]);
        assert_eq!(vn.scid, &[9; 255][..]);
        assert_eq!(vn.unused_bits, 0x2a | FIXED_BIT);
        assert!(vn.versions().eq(versions));
    }

    /// RFC 9000 §17.2.1: the server should set 0x40 so the packet passes
    /// fixed-bit demultiplexing.
    #[test]
    fn written_version_negotiation_sets_the_fixed_bit() {
        let bytes = build(&[], &[], &[Version::V1]);
        assert_eq!(
            bytes[0] & (LONG_FORM_BIT | FIXED_BIT),
            LONG_FORM_BIT | FIXED_BIT
        );
        assert_eq!(&bytes[1..5], &[0, 0, 0, 0]);
    }

    #[test]
    fn empty_version_list_is_rejected() {
        let err = VersionNegotiation::write(&mut Vec::new(), 0, &[1], &[2], &[]);
        assert_eq!(err, Err(PacketError::BadVersionList));
        let mut bytes = build(&[1], &[2], &[Version::V1]);
        bytes.truncate(bytes.len() - 4);
        assert_eq!(
            VersionNegotiation::parse(&bytes),
            Err(PacketError::BadVersionList)
        );
    }

    #[test]
    fn version_list_of_partial_versions_is_rejected() {
        let mut bytes = build(&[1], &[2], &[Version::V1]);
        bytes.pop();
        assert_eq!(
            VersionNegotiation::parse(&bytes),
            Err(PacketError::BadVersionList)
        );
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(
            VersionNegotiation::parse(&bytes),
            Err(PacketError::BadVersionList)
        );
    }

    #[test]
    fn every_truncation_of_version_negotiation_is_an_error() {
        let bytes = build(&[1, 2], &[3, 4, 5], &[Version::V2]);
        for cut in 0..bytes.len() {
            assert!(
                VersionNegotiation::parse(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn other_versions_and_short_headers_are_not_version_negotiation() {
        let mut bytes = build(&[], &[], &[Version::V1]);
        bytes[4] = 1;
        let err = VersionNegotiation::parse(&bytes);
        assert_eq!(err, Err(PacketError::NotVersionNegotiation));
        let err = VersionNegotiation::parse(&[0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(err, Err(PacketError::NotVersionNegotiation));
    }

    #[test]
    fn connection_ids_over_255_bytes_cannot_be_written() {
        let err = VersionNegotiation::write(&mut Vec::new(), 0, &[0; 256], &[], &[Version::V1]);
        assert_eq!(err, Err(PacketError::CidTooLong(256)));
    }
}
