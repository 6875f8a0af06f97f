//! Answers the endpoint sends without creating connection state: Version
//! Negotiation (RFC 9000 §6, §17.2.1), stateless reset (§10.3), Retry
//! (§17.2.5, RFC 9001 §5.8), and an Initial that closes a connection before
//! it exists (CONNECTION_REFUSED, INVALID_TOKEN; §5.2.2, §8.1.3).

use std::net::SocketAddr;
use std::time::Instant;

use super::{DatagramEvent, Endpoint};
use crate::cid::{ConnectionId, build_stateless_reset};
use crate::connection::Transmit;
use crate::crypto::{Keys, TAG_LEN, apply_header_protection, retry_integrity_tag, seal_payload};
use crate::error::TransportErrorCode;
use crate::frame::{ConnectionClose, Frame};
use crate::packet::{
    InvariantHeader, LongHeader, LongType, PacketNumber, PnLen, Retry, VersionNegotiation,
};
use crate::version::Version;

/// Stateless resets sent at most per second: enough for every peer that
/// lost state after a restart to learn it quickly, few enough that spoofed
/// short packets cannot turn the endpoint into a reflector (RFC 9000 §10.3.3).
pub const MAX_STATELESS_RESETS_PER_SECOND: u32 = 1000;

/// Rate limit state for stateless resets: a fixed one-second window.
#[derive(Debug, Default)]
pub(super) struct ResetLimiter {
    window_start: Option<Instant>,
    sent: u32,
}

impl ResetLimiter {
    fn allow(&mut self, now: Instant) -> bool {
        let expired = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start).as_secs() >= 1);
        if expired {
            self.window_start = Some(now);
            self.sent = 0;
        }
        if self.sent >= MAX_STATELESS_RESETS_PER_SECOND {
            return false;
        }
        self.sent += 1;
        true
    }
}

fn response(destination: SocketAddr, buf: &[u8]) -> Option<DatagramEvent> {
    Some(DatagramEvent::Response(Transmit {
        destination,
        size: buf.len(),
        ecn: None,
        segment_size: None,
    }))
}

impl Endpoint {
    /// Version Negotiation listing our versions and a greased one.
    pub(super) fn version_negotiation(
        &mut self,
        invariant: &InvariantHeader<'_>,
        datagram_len: usize,
        remote: SocketAddr,
        buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        // RFC 9000 §6.1: answer only datagrams a client could send first, so
        // a small packet cannot make us send a larger one.
        if !self.config.send_version_negotiation
            || datagram_len < crate::connection::MIN_UDP_PAYLOAD
        {
            return None;
        }
        let random = self.random_bytes::<5>();
        let mut versions = self.config.supported_versions.clone();
        versions.push(Version::greased(u32::from_be_bytes([
            random[1], random[2], random[3], random[4],
        ])));
        buf.clear();
        // The DCID and SCID swap places (RFC 9000 §17.2.1).
        VersionNegotiation::write(
            buf,
            random[0],
            invariant.scid()?,
            invariant.dcid(),
            &versions,
        )
        .ok()?;
        response(remote, buf)
    }

    /// A stateless reset for a short-header packet whose connection ID we do
    /// not know (RFC 9000 §10.3): always smaller than the trigger, never for
    /// a trigger that could itself be a minimal reset, and rate-limited.
    pub(super) fn stateless_reset(
        &mut self,
        now: Instant,
        dcid: &[u8],
        datagram_len: usize,
        remote: SocketAddr,
        buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let cid = ConnectionId::new(dcid).ok()?;
        if cid.is_empty() || !self.reset_limiter.allow(now) {
            return None;
        }
        let token = self.config.reset_key.token(&cid);
        let packet = build_stateless_reset(&token, datagram_len)?;
        buf.clear();
        buf.extend_from_slice(&packet);
        response(remote, buf)
    }

    /// A Retry asking the client to prove its address (RFC 9000 §8.1.2).
    pub(super) fn retry(
        &mut self,
        version: Version,
        original_dcid: &ConnectionId,
        client_scid: &ConnectionId,
        remote: SocketAddr,
        unix_now: u64,
        buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let retry_scid = self.config.cid_generator.generate();
        let token = crate::crypto::seal_retry_token(
            &self.config.token_key,
            remote,
            original_dcid,
            &retry_scid,
            unix_now,
        )
        .ok()?;
        let retry = Retry {
            version,
            dcid: *client_scid,
            scid: retry_scid,
            token: &token,
            unused_bits: self.random_bytes::<1>()[0],
        };
        buf.clear();
        retry.write(buf).ok()?;
        let pseudo = retry.pseudo_packet(original_dcid).ok()?;
        let tag = retry_integrity_tag(version, &pseudo).ok()?;
        buf.extend_from_slice(&tag);
        response(remote, buf)
    }

    /// An Initial carrying CONNECTION_CLOSE with `code`, protected with the
    /// Initial keys of the client's DCID, without creating a connection.
    pub(super) fn close_initial(
        &mut self,
        version: Version,
        client_dcid: &ConnectionId,
        client_scid: &ConnectionId,
        (code, reason): (TransportErrorCode, &'static [u8]),
        remote: SocketAddr,
        buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let keys = Keys::initial(version, client_dcid, crate::Side::Server).ok()?;
        let pn_len = PnLen::new(4)?;
        buf.clear();
        let layout = LongHeader {
            ty: LongType::Initial,
            version,
            dcid: *client_scid,
            scid: self.config.cid_generator.generate(),
            token: &[],
        }
        .write(buf, PacketNumber(0), pn_len)
        .ok()?;
        Frame::ConnectionClose(ConnectionClose {
            error_code: code,
            frame_type: None,
            reason: bytes::Bytes::from_static(reason),
        })
        .encode(buf);
        let payload_len = buf.len() - layout.header_len() + TAG_LEN;
        layout.set_length(buf, payload_len).ok()?;
        buf.resize(buf.len() + TAG_LEN, 0);
        seal_payload(&keys.local.packet, 0, buf, layout.header_len()).ok()?;
        apply_header_protection(&keys.local.header, buf, layout.pn_offset, pn_len.bytes()).ok()?;
        response(remote, buf)
    }

    fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        // Only greasing and unused bits come from here: zeros are harmless.
        let _ = ring::rand::SecureRandom::fill(&self.rng, &mut out);
        out
    }
}
