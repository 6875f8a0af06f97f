//! Version-independent packet properties (RFC 8999 §5): the header form, the
//! version and the connection IDs, which the endpoint reads to route a
//! datagram or to answer an unknown version before knowing any layout.

use super::{LONG_FORM_BIT, PacketError};
use crate::Version;
use crate::coding::Reader;

/// The version-independent view of a datagram's first packet. Connection IDs
/// are slices of the datagram and may be up to 255 bytes (RFC 8999 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvariantHeader<'a> {
    /// Long header (RFC 8999 §5.1).
    Long {
        /// The first byte's seven version-specific bits.
        version_bits: u8,
        /// Version field; 0 marks Version Negotiation.
        version: Version,
        /// Destination connection ID.
        dcid: &'a [u8],
        /// Source connection ID.
        scid: &'a [u8],
    },
    /// Short header (RFC 8999 §5.2).
    Short {
        /// The first byte's seven version-specific bits.
        version_bits: u8,
        /// Destination connection ID, of the local connection ID length.
        dcid: &'a [u8],
    },
}

impl<'a> InvariantHeader<'a> {
    /// Reads the invariant fields of the packet at the start of `datagram`.
    /// A short header does not encode its DCID length, so the caller passes
    /// the length of the connection IDs it issues. The fixed bit and every
    /// other version-specific bit are left uninterpreted.
    pub fn parse(datagram: &'a [u8], local_cid_len: usize) -> Result<Self, PacketError> {
        let mut r = Reader::new(datagram);
        let first = r.u8()?;
        let version_bits = first & !LONG_FORM_BIT;
        if first & LONG_FORM_BIT == 0 {
            let dcid = r.bytes(local_cid_len)?;
            return Ok(InvariantHeader::Short { version_bits, dcid });
        }
        let version = Version(r.u32()?);
        let dcid_len = r.u8()?;
        let dcid = r.bytes(dcid_len.into())?;
        let scid_len = r.u8()?;
        let scid = r.bytes(scid_len.into())?;
        Ok(InvariantHeader::Long {
            version_bits,
            version,
            dcid,
            scid,
        })
    }

    /// The destination connection ID.
    pub fn dcid(&self) -> &'a [u8] {
        match *self {
            InvariantHeader::Long { dcid, .. } | InvariantHeader::Short { dcid, .. } => dcid,
        }
    }

    /// The source connection ID of a long header.
    pub fn scid(&self) -> Option<&'a [u8]> {
        match *self {
            InvariantHeader::Long { scid, .. } => Some(scid),
            InvariantHeader::Short { .. } => None,
        }
    }

    /// The version of a long header; `None` for short headers.
    pub fn version(&self) -> Option<Version> {
        match *self {
            InvariantHeader::Long { version, .. } => Some(version),
            InvariantHeader::Short { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(version: u32, dcid: &[u8], scid: &[u8]) -> Vec<u8> {
        let mut out = vec![0xc0];
        out.extend_from_slice(&version.to_be_bytes());
        out.push(dcid.len() as u8);
        out.extend_from_slice(dcid);
        out.push(scid.len() as u8);
        out.extend_from_slice(scid);
        out.extend_from_slice(b"rest of the packet");
        out
    }

    /// RFC 8999 §5.1: any version may use connection IDs of up to 255 bytes.
    #[test]
    fn long_header_with_255_byte_cids_of_unknown_version_parses() {
        let bytes = long(0x1a2a_3a4a, &[7; 255], &[8; 21]);
        let header = InvariantHeader::parse(&bytes, 8).unwrap();
        assert_eq!(header.version(), Some(Version(0x1a2a_3a4a)));
        assert_eq!(header.dcid(), &[7; 255][..]);
        assert_eq!(header.scid(), Some(&[8; 21][..]));
    }

    #[test]
    fn short_header_takes_the_local_cid_length() {
        let bytes = [0x00, 1, 2, 3, 4, 5];
        let header = InvariantHeader::parse(&bytes, 4).unwrap();
        assert_eq!(
            header,
            InvariantHeader::Short {
                version_bits: 0,
                dcid: &[1, 2, 3, 4]
            }
        );
        assert_eq!(header.version(), None);
        assert_eq!(
            InvariantHeader::parse(&bytes, 6),
            Err(PacketError::UnexpectedEnd)
        );
    }

    #[test]
    fn every_truncation_of_a_long_header_is_an_error() {
        let bytes = long(1, &[1; 20], &[2; 5]);
        let header_len = 1 + 4 + 1 + 20 + 1 + 5;
        for cut in 0..header_len {
            assert!(
                InvariantHeader::parse(&bytes[..cut], 0).is_err(),
                "cut {cut}"
            );
        }
        assert!(InvariantHeader::parse(&bytes[..header_len], 0).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
                                       cid_len in 0usize..30) {
            let _ = InvariantHeader::parse(&data, cid_len);
        }
    }
}
