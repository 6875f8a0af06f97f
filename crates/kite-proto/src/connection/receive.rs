//! The receive path: split a datagram into packets, remove header and packet
//! protection (RFC 9001 §5), pick 1-RTT keys by Key Phase (§6), drop
//! duplicates (RFC 9000 §12.3) and hand each frame to its owner (§12.4).

use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Instant;

use super::timer::Timer;
use super::{Connection, EcnCodepoint, Event, MAX_PENDING_PATH_RESPONSES, State};
use crate::cid::ConnectionId;
use crate::crypto::{open_payload, remove_header_protection};
use crate::error::TransportError;
use crate::frame::{Frame, Frames};
use crate::packet::{Header, PacketNumber, PacketType, ParsedHeader, PnLen, SpaceId};
use crate::stream_id::{Dir, Side};
use crate::trace::{DropReason, FrameSummary, KeyTrigger, TraceEvent};

/// Reserved bits of the first byte after header protection is removed:
/// they must be zero (RFC 9000 §17.2, §17.3.1).
const LONG_RESERVED_BITS: u8 = 0x0c;
const SHORT_RESERVED_BITS: u8 = 0x18;
/// Key Phase bit of a short header (RFC 9000 §17.3.1).
const KEY_PHASE_BIT: u8 = 0x04;

/// What the receive path learned from a header before opening the packet.
struct PacketInfo {
    ty: PacketType,
    version: Option<crate::version::Version>,
    scid: Option<ConnectionId>,
    pn_offset: usize,
}

impl Connection {
    pub(super) fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        mut data: BytesMut,
    ) {
        if matches!(self.state, State::Drained) {
            return;
        }
        let len = data.len() as u64;
        self.stats.datagrams_received += 1;
        self.stats.bytes_received += len;
        if !self.address_validated {
            let was_blocked = self.amplification_blocked();
            self.amplification_received += len;
            if was_blocked {
                // RFC 9002 §6.2.2.1: the PTO may have been held back by the limit.
                self.set_loss_detection_timer(now);
            }
        }
        if remote != self.remote && self.side == Side::Client {
            return; // a client only talks to the server it dialled
        }
        if let State::Closed(close) = &mut self.state {
            // RFC 9000 §10.2.1-2: closing answers with CONNECTION_CLOSE,
            // draining stays silent; neither processes frames.
            close.on_datagram_received();
            return;
        }
        let local_cid_len = self.local_cid.len();
        let mut first_dcid: Option<ConnectionId> = None;
        while !data.is_empty() {
            let (info, packet_len, dcid) = match ParsedHeader::parse(&data, local_cid_len) {
                Ok(parsed) => match packet_info(&parsed) {
                    Some(info) => (
                        info,
                        parsed.len,
                        ConnectionId::new(parsed.header.dcid()).ok(),
                    ),
                    None => {
                        self.handle_unprotected(now, &parsed);
                        return;
                    }
                },
                Err(_) => {
                    let size = data.len();
                    self.trace_drop(now, None, None, size, DropReason::HeaderParseError);
                    return;
                }
            };
            // RFC 9000 §12.2: coalesced packets with another DCID are dropped.
            if let Some(first) = first_dcid {
                if dcid != Some(first) {
                    let size = data.len();
                    self.trace_drop(now, None, None, size, DropReason::CoalescedDcidMismatch);
                    return;
                }
            } else {
                first_dcid = dcid;
            }
            let packet = data.split_to(packet_len.min(data.len()));
            if let Err(err) = self.handle_packet(now, ecn, info, packet) {
                self.close_on_error(now, err);
                return;
            }
        }
    }

    /// Version Negotiation and Retry carry no packet protection.
    fn handle_unprotected(&mut self, now: Instant, parsed: &ParsedHeader<'_>) {
        match &parsed.header {
            Header::VersionNegotiation(vn) if self.side.is_client() => {
                // RFC 9000 §6.2: only before any packet from the server, and
                // never when it lists the version we used.
                let any_received = self.spaces.iter().any(|s| s.any_received);
                if any_received || vn.versions().any(|v| v == self.version) {
                    self.stats.packets_dropped += 1;
                    return;
                }
                self.on_lost_silently(now, super::ConnectionError::VersionMismatch);
            }
            Header::Retry {
                retry,
                integrity_tag,
            } if self.side.is_client() => {
                if !self.on_retry(now, retry, integrity_tag) {
                    self.stats.packets_dropped += 1;
                }
            }
            _ => self.stats.packets_dropped += 1,
        }
    }

    /// A Retry (RFC 9000 §17.2.5.2): follow at most one, and only before any
    /// Initial from the server; its integrity tag must verify (RFC 9001
    /// §5.8). Returns whether it was followed.
    fn on_retry(
        &mut self,
        now: Instant,
        retry: &crate::packet::Retry<'_>,
        integrity_tag: &[u8],
    ) -> bool {
        if self.retry_scid.is_some()
            || self.space(SpaceId::Initial).any_received
            || retry.token.is_empty()
            || retry.version != self.version
        {
            return false;
        }
        let Ok(pseudo) = retry.pseudo_packet(&self.original_dcid) else {
            return false;
        };
        if !crate::crypto::verify_retry_integrity(self.version, &pseudo, integrity_tag) {
            return false;
        }
        let Ok(keys) = crate::crypto::Keys::initial(self.version, &retry.scid, Side::Client) else {
            return false;
        };
        self.retry_scid = Some(retry.scid);
        self.remote_cids.set_handshake_cid(retry.scid);
        self.initial_token = bytes::Bytes::copy_from_slice(retry.token);
        // Everything sent in Initial packets goes again, under the new keys,
        // with packet numbers continuing (RFC 9000 §17.2.5.3).
        self.space_mut(SpaceId::Initial).keys = Some(keys);
        self.resend_all_sent(SpaceId::Initial);
        self.set_loss_detection_timer(now);
        true
    }

    fn handle_packet(
        &mut self,
        now: Instant,
        ecn: EcnCodepoint,
        info: PacketInfo,
        mut packet: BytesMut,
    ) -> Result<(), TransportError> {
        let size = packet.len();
        if info.version.is_some_and(|v| v != self.version) {
            self.trace_drop(
                now,
                Some(info.ty),
                None,
                size,
                DropReason::UnsupportedVersion,
            );
            return Ok(());
        }
        let Some(space_id) = info.ty.space() else {
            return Ok(());
        };
        if info.ty == PacketType::ZeroRtt && (self.side.is_client() || self.zero_rtt.keys.is_none())
        {
            // Not accepting 0-RTT: the client resends the data in 1-RTT.
            self.trace_drop(now, Some(info.ty), None, size, DropReason::KeyUnavailable);
            return Ok(());
        }
        let tail = (info.ty == PacketType::OneRtt)
            .then(|| crate::cid::reset_token_candidate(&packet))
            .flatten();
        let has_keys = match space_id {
            SpaceId::Data if info.ty == PacketType::ZeroRtt => self.zero_rtt.keys.is_some(),
            SpaceId::Data => self.one_rtt.is_some(),
            _ => self.space(space_id).keys.is_some(),
        };
        let Some((pn, header_len, payload)) = self.open_packet(now, &info, space_id, &mut packet)
        else {
            let reason = if !has_keys && self.space(space_id).discarded {
                DropReason::KeysDiscarded
            } else if !has_keys {
                DropReason::KeyUnavailable
            } else {
                DropReason::Undecryptable
            };
            self.trace_drop(now, Some(info.ty), None, size, reason);
            if reason == DropReason::KeyUnavailable && space_id == SpaceId::Handshake {
                self.on_handshake_packet_without_keys();
            }
            if let Some(candidate) = tail
                && self.is_peer_reset_token(&candidate)
            {
                // RFC 9000 §10.3.1: a stateless reset ends the connection
                // at once, without a word.
                self.on_lost_silently(now, super::ConnectionError::Reset);
            }
            return Ok(());
        };
        self.start_deferred_tracer(now);
        let first_byte = packet.first().copied().unwrap_or(0);
        let reserved = if info.ty == PacketType::OneRtt {
            SHORT_RESERVED_BITS
        } else {
            LONG_RESERVED_BITS
        };
        if first_byte & reserved != 0 {
            return Err(TransportError::protocol_violation("reserved bits set"));
        }
        if self.space(space_id).acks.is_duplicate(pn) {
            self.trace_drop(now, Some(info.ty), Some(pn), size, DropReason::Duplicate);
            return Ok(());
        }
        self.stats.packets_received += 1;
        // A client learns the server's chosen CID from its first Initial
        // (RFC 9000 §7.2).
        if self.side.is_client()
            && info.ty == PacketType::Initial
            && !self.space(SpaceId::Initial).any_received
            && let Some(scid) = info.scid
        {
            self.remote_cids.set_handshake_cid(scid);
        }
        self.space_mut(space_id).any_received = true;
        if self.side == Side::Server && info.ty == PacketType::Handshake {
            // RFC 9000 §8.1: a Handshake packet proves the client's address;
            // RFC 9001 §4.9.1: the server drops Initial keys on the first one.
            self.address_validated = true;
            self.discard_space(now, SpaceId::Initial);
        }
        let payload = packet.freeze().slice(header_len..header_len + payload);
        if payload.is_empty() {
            return Err(TransportError::protocol_violation("packet without frames"));
        }
        let crypto_end = self.space(space_id).crypto.received_end();
        let ack_eliciting = self.process_frames(now, info.ty, space_id, pn, size, payload)?;
        if self.space(space_id).discarded {
            return Ok(());
        }
        if ack_eliciting {
            self.maybe_repeat_flight(space_id, crypto_end);
        }
        let min_rtt = self.rtt.first_sample_time().map(|_| self.rtt.min_rtt());
        let acks = &mut self.space_mut(space_id).acks;
        if let Some(min_rtt) = min_rtt {
            acks.set_min_rtt(min_rtt);
        }
        let _ = acks.on_packet_received(now, pn, ack_eliciting, ecn);
        self.update_ack_timer();
        self.sent_ack_eliciting_since_receive = false;
        if matches!(self.state, State::Handshake | State::Established) {
            self.reset_idle_timer(now);
        }
        Ok(())
    }

    /// Hands every frame of an opened packet to its owner; returns whether
    /// the packet was ack-eliciting.
    fn process_frames(
        &mut self,
        now: Instant,
        ty: PacketType,
        space_id: SpaceId,
        pn: u64,
        size: usize,
        payload: bytes::Bytes,
    ) -> Result<bool, TransportError> {
        let mut ack_eliciting = false;
        self.current_packet_early = ty == PacketType::ZeroRtt;
        let mut summaries = self.is_tracing().then(Vec::new);
        for frame in Frames::new(payload, ty) {
            let frame = frame?;
            ack_eliciting |= frame.is_ack_eliciting();
            if let Some(list) = summaries.as_mut() {
                list.push(FrameSummary::from_frame(&frame));
            }
            self.handle_frame(now, space_id, frame)?;
            if !matches!(self.state, State::Handshake | State::Established) {
                break;
            }
        }
        if let Some(frames) = summaries {
            self.trace(
                now,
                TraceEvent::PacketReceived(crate::trace::PacketInfo {
                    packet_type: ty,
                    pn,
                    size,
                    frames: &frames,
                }),
            );
        }
        Ok(ack_eliciting)
    }

    /// Feeds a decrypted 1-RTT payload as if it had arrived in a packet
    /// numbered `pn`: for fuzzing and attack tests that must reach frame
    /// handling without building protected packets. A violation closes the
    /// connection as it would for a real packet.
    #[doc(hidden)]
    pub fn inject_payload(&mut self, now: Instant, pn: u64, payload: bytes::Bytes) {
        if !self.is_usable() || self.one_rtt.is_none() {
            return;
        }
        let size = payload.len();
        match self.process_frames(now, PacketType::OneRtt, SpaceId::Data, pn, size, payload) {
            Ok(ack_eliciting) => {
                let _ = self.space_mut(SpaceId::Data).acks.on_packet_received(
                    now,
                    pn,
                    ack_eliciting,
                    EcnCodepoint::NotEct,
                );
                self.update_ack_timer();
            }
            Err(err) => self.close_on_error(now, err),
        }
    }

    /// Removes protection; `None` when the packet cannot be opened (no keys,
    /// too short, forged): such packets are dropped (RFC 9001 §5.3).
    fn open_packet(
        &mut self,
        now: Instant,
        info: &PacketInfo,
        space_id: SpaceId,
        packet: &mut BytesMut,
    ) -> Option<(u64, usize, usize)> {
        let largest = self
            .space(space_id)
            .acks
            .largest_received()
            .map(PacketNumber);
        // 0-RTT, Initial and Handshake: one fixed key pair each.
        let fixed_keys = if info.ty == PacketType::ZeroRtt {
            Some(self.zero_rtt.keys.as_ref()?)
        } else if space_id != SpaceId::Data {
            Some(self.space(space_id).remote_keys()?)
        } else {
            None
        };
        if let Some(keys) = fixed_keys {
            let (truncated, pn_len) =
                remove_header_protection(&keys.header, packet, info.pn_offset).ok()?;
            let pn = PacketNumber::decode(largest, truncated, PnLen::new(pn_len)?).0;
            let header_len = info.pn_offset + pn_len;
            let range = open_payload(&keys.packet, pn, packet, header_len).ok()?;
            return Some((pn, header_len, range.len()));
        }
        let keys = self.one_rtt.as_ref()?;
        let (truncated, pn_len) =
            remove_header_protection(keys.remote_header(), packet, info.pn_offset).ok()?;
        let pn = PacketNumber::decode(largest, truncated, PnLen::new(pn_len)?).0;
        let header_len = info.pn_offset + pn_len;
        let phase = packet.first().copied().unwrap_or(0) & KEY_PHASE_BIT != 0;
        // RFC 9001 §6.3: a different phase is the next generation, unless the
        // packet predates the current phase (a reordered old-phase packet).
        // With the previous key still held, a packet of the other phase is
        // old unless it follows the first packet of the current phase: after
        // our own update the peer keeps its old phase until it sees ours.
        let older = self.key_update.previous_remote.is_some()
            && self
                .key_update
                .first_received_in_phase
                .is_none_or(|first| pn < first);
        let result = if phase == keys.key_phase() {
            open_payload(&keys.current().remote, pn, packet, header_len).map(|r| (r, false))
        } else if older {
            let prev = self.key_update.previous_remote.as_ref()?;
            open_payload(prev, pn, packet, header_len).map(|r| (r, false))
        } else {
            open_payload(&keys.next().remote, pn, packet, header_len).map(|r| (r, true))
        };
        match result {
            Ok((range, updated)) => {
                if updated {
                    self.on_peer_key_update(now, pn);
                } else if self.key_update.first_received_in_phase.is_none() {
                    self.key_update.first_received_in_phase = Some(pn);
                }
                Some((pn, header_len, range.len()))
            }
            Err(_) => {
                self.key_update.failed_decryptions += 1;
                // RFC 9001 §6.6: past the AEAD's integrity limit, forged
                // packets could succeed; the connection must end.
                let limit = self
                    .one_rtt
                    .as_ref()
                    .map_or(u64::MAX, |k| k.current().remote.integrity_limit());
                if self.key_update.failed_decryptions >= limit {
                    self.close_on_error(
                        now,
                        TransportError::new(
                            crate::error::TransportErrorCode::AEAD_LIMIT_REACHED,
                            "too many packets failed authentication",
                        ),
                    );
                }
                None
            }
        }
    }

    /// Hands one frame to its owner.
    fn handle_frame(
        &mut self,
        now: Instant,
        space: SpaceId,
        frame: Frame,
    ) -> Result<(), TransportError> {
        let ty = frame.frame_type().0;
        let result = match frame {
            Frame::Padding(_) | Frame::Ping => Ok(()),
            Frame::Ack(ack) => self.on_ack_received(now, space, &ack),
            Frame::Crypto(crypto) => self
                .space_mut(space)
                .crypto
                .on_received(crypto.offset, crypto.data)
                .and_then(|()| self.on_crypto_data(now, space)),
            Frame::Stream(s) => {
                let id = s.id;
                let result = self.streams.handle_stream(now, id, s.offset, s.data, s.fin);
                if result.is_ok() && self.current_packet_early {
                    self.note_early_stream(id);
                }
                result
            }
            Frame::ResetStream(r) => {
                self.streams
                    .handle_reset_stream(now, r.id, r.error_code.into_inner(), r.final_size)
            }
            Frame::StopSending(s) => self
                .streams
                .handle_stop_sending(s.id, s.error_code.into_inner()),
            Frame::MaxData(m) => {
                self.streams.handle_max_data(m.max);
                Ok(())
            }
            Frame::MaxStreamData(m) => self.streams.handle_max_stream_data(m.id, m.max),
            Frame::MaxStreams(m) => self.streams.handle_max_streams(m.dir, m.max),
            Frame::DataBlocked(b) => {
                self.streams.handle_data_blocked(b.limit);
                Ok(())
            }
            Frame::StreamDataBlocked(b) => self.streams.handle_stream_data_blocked(b.id, b.limit),
            Frame::StreamsBlocked(b) => self.streams.handle_streams_blocked(b.dir, b.limit),
            Frame::NewToken(t) => {
                if self.side == Side::Server {
                    // RFC 9000 §19.7: only servers send NEW_TOKEN.
                    Err(TransportError::protocol_violation(
                        "NEW_TOKEN from a client",
                    ))
                } else {
                    if let Some((name, store)) = &self.token_store {
                        store.insert(name, t.token);
                    }
                    Ok(())
                }
            }
            Frame::NewConnectionId(f) => self.on_new_connection_id(f),
            Frame::RetireConnectionId(f) => self.on_retire_connection_id(f.sequence),
            Frame::PathChallenge(c) => {
                if self.path_responses.len() >= MAX_PENDING_PATH_RESPONSES {
                    self.path_responses.pop_front();
                }
                self.path_responses.push_back(c.data);
                Ok(())
            }
            Frame::PathResponse(_) => Ok(()), // no path validation of our own yet
            Frame::ConnectionClose(c) => {
                self.on_peer_close(
                    now,
                    super::ConnectionError::PeerTransportClose {
                        code: c.error_code,
                        frame_type: c.frame_type,
                        reason: c.reason,
                    },
                );
                Ok(())
            }
            Frame::ApplicationClose(c) => {
                self.on_peer_close(
                    now,
                    super::ConnectionError::PeerApplicationClose {
                        code: c.error_code.into_inner(),
                        reason: c.reason,
                    },
                );
                Ok(())
            }
            Frame::HandshakeDone => {
                if self.side == Side::Server {
                    // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE.
                    Err(TransportError::protocol_violation(
                        "HANDSHAKE_DONE from a client",
                    ))
                } else {
                    self.on_handshake_confirmed(now);
                    Ok(())
                }
            }
            Frame::Datagram(d) => {
                // RFC 9221 §3: DATAGRAM without having offered support, or
                // larger than we said we take (frame type and length count).
                let limit = self.config.max_datagram_frame_size.unwrap_or(0);
                let frame_len = frame_len_of_datagram(d.data.len());
                if limit == 0 || frame_len > limit {
                    Err(TransportError::protocol_violation(
                        "unexpected or too large DATAGRAM",
                    ))
                } else {
                    self.on_datagram_received(d.data);
                    Ok(())
                }
            }
        };
        result.map_err(|e| {
            if e.frame_type.is_none() {
                e.with_frame(ty)
            } else {
                e
            }
        })
    }

    /// The peer moved to the next key phase (RFC 9001 §6.2).
    fn on_peer_key_update(&mut self, now: Instant, pn: u64) {
        self.rotate_keys(now, KeyTrigger::RemoteUpdate);
        self.key_update.first_received_in_phase = Some(pn);
    }

    /// Moves both directions to the next key generation, keeping the old
    /// remote key for three PTOs (RFC 9001 §6.5).
    pub(super) fn rotate_keys(&mut self, now: Instant, trigger: KeyTrigger) {
        let Some(keys) = self.one_rtt.as_mut() else {
            return;
        };
        let old = keys.update();
        self.key_update.previous_remote = Some(old.remote);
        self.key_update.first_sent_in_phase = None;
        self.key_update.first_received_in_phase = None;
        self.key_update.phase_acked = false;
        self.key_update.packets_sent_in_phase = 0;
        self.stats.key_updates += 1;
        self.trace_keys(now, crate::trace::KeyLevel::OneRtt, trigger, false);
        let discard_at = now + self.pto_duration(SpaceId::Data) * 3;
        self.timers.set(Timer::KeyDiscard, discard_at);
    }

    /// Streams of this direction became available again (for the app).
    #[allow(dead_code)]
    fn notify_streams_available(&mut self, dir: Dir) {
        self.events.push_back(Event::StreamsAvailable(dir));
    }
}

fn packet_info(parsed: &ParsedHeader<'_>) -> Option<PacketInfo> {
    match &parsed.header {
        Header::Long { header, pn_offset } => Some(PacketInfo {
            ty: header.ty.into(),
            version: Some(header.version),
            scid: Some(header.scid),
            pn_offset: *pn_offset,
        }),
        Header::Short { pn_offset, .. } => Some(PacketInfo {
            ty: PacketType::OneRtt,
            version: None,
            scid: None,
            pn_offset: *pn_offset,
        }),
        Header::Retry { .. } | Header::VersionNegotiation(_) => None,
    }
}

/// Bytes a DATAGRAM frame with `data_len` bytes takes, with its length field
/// (RFC 9221 §3 limits the whole frame).
fn frame_len_of_datagram(data_len: usize) -> u64 {
    let len = data_len as u64;
    1 + crate::coding::varint_size(len) as u64 + len
}
