//! The two structured transport parameter values: preferred_address (RFC 9000 §18.2)
//! and version_information (RFC 9368 §3), each with its own layout and length rules.

use crate::cid::{ConnectionId, RESET_TOKEN_LEN, ResetToken};
use crate::coding::Reader;
use crate::error::TransportError;
use crate::version::Version;
use bytes::BufMut;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// Bytes of a preferred_address value besides its connection ID: IPv4 address and
/// port, IPv6 address and port, CID length, reset token (RFC 9000 §18.2).
const PREFERRED_ADDRESS_FIXED_LEN: usize = 4 + 2 + 16 + 2 + 1 + RESET_TOKEN_LEN;

/// A server's preferred address (RFC 9000 §9.6, §18.2).
///
/// On the wire both families are always present; an all-zero address and port
/// (`0.0.0.0:0`, `[::]:0`) means the server offers none of that family, which is
/// `None` here. IPv6 flow info and scope ID are not sent and decode as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreferredAddress {
    /// The IPv4 address to migrate to, if the server offers one.
    pub address_v4: Option<SocketAddrV4>,
    /// The IPv6 address to migrate to, if the server offers one.
    pub address_v6: Option<SocketAddrV6>,
    /// A connection ID of sequence number 1 (RFC 9000 §5.1.1); never empty.
    pub connection_id: ConnectionId,
    /// The stateless reset token that goes with `connection_id`.
    pub stateless_reset_token: ResetToken,
}

impl PreferredAddress {
    pub(super) fn encoded_len(&self) -> usize {
        PREFERRED_ADDRESS_FIXED_LEN + self.connection_id.len()
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        let v4 = self
            .address_v4
            .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        buf.put_slice(&v4.ip().octets());
        buf.put_u16(v4.port());
        let v6 = self
            .address_v6
            .unwrap_or(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0));
        buf.put_slice(&v6.ip().octets());
        buf.put_u16(v6.port());
        // A ConnectionId holds at most 20 bytes, so its length fits a u8.
        buf.put_u8(self.connection_id.len() as u8);
        buf.put_slice(&self.connection_id);
        buf.put_slice(&self.stateless_reset_token.0);
    }

    /// Parses a value that must be exactly one preferred address; the zero-length CID
    /// rule is left to `validate`.
    pub(super) fn decode(value: &[u8]) -> Result<Self, TransportError> {
        const MALFORMED: TransportError =
            TransportError::transport_parameter("malformed preferred_address");
        let mut r = Reader::new(value);
        let ip4 = Ipv4Addr::from(r.array::<4>().map_err(|_| MALFORMED)?);
        let port4 = r.u16().map_err(|_| MALFORMED)?;
        let ip6 = Ipv6Addr::from(r.array::<16>().map_err(|_| MALFORMED)?);
        let port6 = r.u16().map_err(|_| MALFORMED)?;
        let cid_len = r.u8().map_err(|_| MALFORMED)?;
        let cid = r.bytes(cid_len.into()).map_err(|_| MALFORMED)?;
        let connection_id = ConnectionId::new(cid).map_err(|_| {
            TransportError::transport_parameter("preferred_address CID longer than 20 bytes")
        })?;
        let token = r.array::<RESET_TOKEN_LEN>().map_err(|_| MALFORMED)?;
        if !r.is_empty() {
            return Err(MALFORMED);
        }
        let address_v4 =
            (!ip4.is_unspecified() || port4 != 0).then(|| SocketAddrV4::new(ip4, port4));
        let address_v6 =
            (!ip6.is_unspecified() || port6 != 0).then(|| SocketAddrV6::new(ip6, port6, 0, 0));
        Ok(PreferredAddress {
            address_v4,
            address_v6,
            connection_id,
            stateless_reset_token: ResetToken(token),
        })
    }
}

/// The version_information value of compatible version negotiation (RFC 9368 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInformation {
    /// The version the sender uses for this connection.
    pub chosen_version: Version,
    /// The versions the sender supports (a client) or accepts (a server), in its
    /// order of preference; may hold reserved (greased) versions.
    pub available_versions: Vec<Version>,
}

impl VersionInformation {
    pub(super) fn encoded_len(&self) -> usize {
        4 * (1 + self.available_versions.len())
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u32(self.chosen_version.0);
        for version in &self.available_versions {
            buf.put_u32(version.0);
        }
    }

    /// Parses a chosen version followed by whole available versions; the version 0
    /// rule is left to `validate`.
    pub(super) fn decode(value: &[u8]) -> Result<Self, TransportError> {
        const MALFORMED: TransportError = TransportError::transport_parameter(
            "version_information length not a positive multiple of 4",
        );
        // RFC 9368 §3: the value is a sequence of 32-bit versions, at least the chosen
        // one; any other length is malformed.
        if value.is_empty() || value.len() % 4 != 0 {
            return Err(MALFORMED);
        }
        let mut r = Reader::new(value);
        let chosen_version = Version(r.u32().map_err(|_| MALFORMED)?);
        let mut available_versions = Vec::with_capacity(r.remaining() / 4);
        while !r.is_empty() {
            available_versions.push(Version(r.u32().map_err(|_| MALFORMED)?));
        }
        Ok(VersionInformation {
            chosen_version,
            available_versions,
        })
    }
}
