//! The send path: decide what may be sent now (amplification limit, RFC 9000
//! §8.1; congestion window and pacing, RFC 9002 §7), fill one datagram with a
//! packet per space that has something to say (coalescing, RFC 9000 §12.2),
//! pad datagrams carrying Initial packets to 1200 bytes (§14.1), and protect
//! each packet (RFC 9001 §5).

use bytes::BufMut;
use std::time::Instant;

use super::spaces::{ControlFrame, SentFrames, SentStreamChunk};
use super::timer::Timer;
use super::{Connection, EcnCodepoint, MIN_UDP_PAYLOAD, State, Transmit};
use crate::crypto::{TAG_LEN, apply_header_protection, seal_payload};
use crate::frame::{
    AckEncoder, ApplicationClose, ConnectionClose, CryptoFrameHeader, EcnCounts, Frame,
    PathResponse, StreamFrameHeader,
};
use crate::packet::{HeaderLayout, LongHeader, LongType, PacketNumber, ShortHeader, SpaceId};
use crate::recovery::ack_tracker::AckTracker;
use crate::recovery::sent::SentPacket;
use crate::stream_id::Side;
use crate::trace::{AckSummary, FrameSummary, PacketInfo, TraceEvent};

/// Most ACK ranges written in one frame (RFC 9000 §13.2.3 asks for a bound).
const MAX_ACK_RANGES_PER_FRAME: usize = 32;
/// Smallest room worth starting another packet in: header, a frame, tag.
const MIN_PACKET_ROOM: usize = 64;
/// Room a STREAM frame header can take at most: type, 8-byte ID, offset and
/// length varints.
const STREAM_HEADER_MAX: usize = 1 + 8 + 8 + 4;
/// A datagram this close to its size limit is padded to it when sending in
/// GSO batches, whose segments must all be of one size: a packet full of
/// stream data ends short by up to the unused part of the STREAM header
/// reserve.
const GSO_PAD_SLACK: usize = STREAM_HEADER_MAX;
/// The ACK delay exponent we advertise (the RFC default, RFC 9000 §18.2).
const ACK_DELAY_EXPONENT: u32 = 3;

/// A packet being filled in the datagram buffer.
struct PacketBuilder {
    space: SpaceId,
    /// Where the packet starts in the datagram buffer.
    start: usize,
    layout: HeaderLayout,
    pn: u64,
    /// The buffer may grow to here before the AEAD tag.
    limit: usize,
    frames: SentFrames,
    ack_eliciting: bool,
    /// What the packet carries, for the tracer; `None` when not tracing.
    summaries: Option<Vec<FrameSummary>>,
    /// A path MTU probe of this size: not counted in flight.
    mtu_probe: Option<usize>,
}

impl PacketBuilder {
    fn room(&self, buf: &[u8]) -> usize {
        self.limit.saturating_sub(buf.len())
    }

    /// Notes a written frame for the tracer.
    fn note(&mut self, summary: impl FnOnce() -> FrameSummary) {
        if let Some(list) = self.summaries.as_mut() {
            list.push(summary());
        }
    }
}

impl Connection {
    /// Writes the next datagram to send into `buf` (cleared first).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.poll_transmit_batch(now, 1, buf)
    }

    /// Writes up to `max_datagrams` datagrams back to back into `buf`
    /// (cleared first), for segmentation offload (GSO): every datagram but
    /// the last has [`Transmit::segment_size`] bytes. Batches only form from
    /// full-size datagrams; anything else goes out alone.
    pub fn poll_transmit_batch(
        &mut self,
        now: Instant,
        max_datagrams: usize,
        buf: &mut Vec<u8>,
    ) -> Option<Transmit> {
        buf.clear();
        match &self.state {
            State::Drained => return None,
            State::Closed(close) => {
                if !close.wants_to_send() {
                    return None;
                }
                return self.poll_close_transmit(now, buf);
            }
            _ => {}
        }
        self.maybe_initiate_key_update(now);
        if let Some(transmit) = self.maybe_send_mtu_probe(now, buf) {
            return Some(transmit);
        }
        let ecn = self.ecn.should_mark();
        self.marking = ecn;
        // Batching pads nearly full datagrams to the full size, so that
        // datagrams cut short by the STREAM header reserve still form a batch.
        let batching = max_datagrams > 1;
        let first = self.write_datagram(now, buf, batching)?;
        let mut segments = 1;
        if first == self.max_datagram_size {
            while segments < max_datagrams {
                let before = buf.len();
                match self.write_datagram(now, buf, true) {
                    Some(len) => {
                        segments += 1;
                        if len < first {
                            break; // a short datagram can only be the last
                        }
                    }
                    None => {
                        buf.truncate(before);
                        break;
                    }
                }
            }
        }
        if ecn {
            for _ in 0..segments {
                self.ecn.on_marked_sent();
            }
        }
        Some(Transmit {
            destination: self.remote,
            size: buf.len(),
            ecn: ecn.then_some(EcnCodepoint::Ect0),
            segment_size: (segments > 1).then_some(first),
        })
    }

    /// A PING padded to the next probe size, alone in its datagram and not
    /// counted in flight (RFC 8899 §4.1, §4.5).
    fn maybe_send_mtu_probe(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let size = self.mtu.as_ref()?.next_probe()?;
        if self.one_rtt.is_none() || !self.address_validated {
            return None;
        }
        self.marking = false;
        let mut b = self.start_packet(SpaceId::Data, buf, size)?;
        Frame::Ping.encode(buf);
        b.note(|| FrameSummary::Ping);
        b.ack_eliciting = true;
        b.mtu_probe = Some(size);
        b.frames.rare_mut().mtu_probe = Some(size);
        self.finish_packet(now, buf, b, Some(size));
        if buf.len() != size {
            buf.clear();
            return None;
        }
        if let Some(mtu) = self.mtu.as_mut() {
            mtu.on_probe_sent(size);
        }
        self.on_datagram_sent(buf.len());
        Some(Transmit {
            destination: self.remote,
            size: buf.len(),
            ecn: None,
            segment_size: None,
        })
    }

    /// Appends one datagram to `buf`; returns its length. With `pad_full`,
    /// a datagram within [`GSO_PAD_SLACK`] of the size limit is padded to it.
    fn write_datagram(&mut self, now: Instant, buf: &mut Vec<u8>, pad_full: bool) -> Option<usize> {
        let base = buf.len();
        let allowance = self.amplification_allowance();
        if allowance < MIN_UDP_PAYLOAD as u64 {
            return None; // RFC 9000 §8.1: wait for more bytes from the client
        }
        let max_size = self
            .max_datagram_size
            .min(usize::try_from(allowance).unwrap_or(usize::MAX));
        let end = base + max_size;
        let probing = self.spaces.iter().any(|s| s.probes_pending > 0);
        let cwnd_open = probing || self.bytes_in_flight() < self.cc.window();
        let mut can_send_data = cwnd_open;
        if cwnd_open && !probing {
            if let Some(at) = self.pacer.delay_until(
                now,
                max_size as u64,
                self.cc.window(),
                self.rtt.smoothed_rtt(),
                self.max_datagram_size as u64,
            ) {
                self.timers.set(Timer::Pacing, at);
                can_send_data = false;
            }
        }

        let mut builder: Option<PacketBuilder> = None;
        let mut has_initial = false;
        let mut initial_ack_eliciting = false;
        let mut sent_handshake = false;
        for space in SpaceId::ALL {
            if !self.space_wants_to_send(space, now, can_send_data) {
                continue;
            }
            if let Some(b) = builder.take() {
                self.finish_packet(now, buf, b, None);
            }
            if end.saturating_sub(buf.len()) < MIN_PACKET_ROOM {
                break;
            }
            // Built in place: the builder, its frame record included, is
            // written where it stays until the packet is finished.
            builder = self.start_packet(space, buf, end);
            let Some(b) = builder.as_mut() else {
                continue;
            };
            self.write_frames(now, buf, b, can_send_data);
            if space == SpaceId::Initial {
                has_initial = true;
                initial_ack_eliciting |= b.ack_eliciting;
            }
            sent_handshake |= space == SpaceId::Handshake;
        }
        let b = builder?;
        // RFC 9000 §14.1: clients pad every datagram with an Initial; servers
        // those with an ack-eliciting Initial.
        let pad = has_initial && (self.side == Side::Client || initial_ack_eliciting);
        let nearly_full = pad_full && buf.len() + TAG_LEN + GSO_PAD_SLACK >= end;
        let pad_to = if nearly_full {
            Some(end)
        } else {
            pad.then_some(base + MIN_UDP_PAYLOAD.min(max_size))
        };
        self.finish_packet(now, buf, b, pad_to);
        if sent_handshake && self.side == Side::Client {
            // RFC 9001 §4.9.1: a client drops Initial keys once it sends a
            // Handshake packet.
            self.discard_space(now, SpaceId::Initial);
        }
        let len = buf.len() - base;
        if len == 0 {
            return None;
        }
        self.on_datagram_sent(len);
        Some(len)
    }

    fn on_datagram_sent(&mut self, len: usize) {
        self.stats.datagrams_sent += 1;
        self.stats.bytes_sent += len as u64;
        if !self.address_validated {
            self.amplification_sent += len as u64;
        }
        self.pacer.on_sent(len as u64);
    }

    /// Whether `space` has keys and something to send now.
    fn space_wants_to_send(&self, id: SpaceId, now: Instant, can_send_data: bool) -> bool {
        let space = self.space(id);
        if space.discarded {
            return false;
        }
        let has_keys = match id {
            SpaceId::Data => self.one_rtt.is_some() || self.has_0rtt(),
            _ => space.keys.is_some(),
        };
        if !has_keys {
            return false;
        }
        if space.acks.ack_deadline().is_some_and(|at| at <= now) || space.probes_pending > 0 {
            return true;
        }
        if !can_send_data {
            return false;
        }
        if space.crypto.has_data_to_send() {
            return true;
        }
        id == SpaceId::Data
            && (self.handshake_done_pending
                || self.ping_pending
                || !self.path_responses.is_empty()
                || !self.pending_controls.is_empty()
                || self.streams.has_pending_control()
                || self.streams.has_stream_data())
    }

    /// Starts a packet at the end of `buf`; it may grow up to `end` (an
    /// absolute position in `buf`, the datagram's limit).
    fn start_packet(
        &mut self,
        space: SpaceId,
        buf: &mut Vec<u8>,
        end: usize,
    ) -> Option<PacketBuilder> {
        let sent = &self.space(space).sent;
        let pn = sent.next_pn();
        let pn_len = PacketNumber(pn).encoded_len(sent.largest_acked().map(PacketNumber));
        let start = buf.len();
        let layout = match space {
            SpaceId::Initial | SpaceId::Handshake => {
                let ty = if space == SpaceId::Initial {
                    LongType::Initial
                } else {
                    LongType::Handshake
                };
                LongHeader {
                    ty,
                    version: self.version,
                    dcid: self.remote_cids.active(),
                    scid: self.local_cid,
                    token: if space == SpaceId::Initial {
                        &self.initial_token
                    } else {
                        &[]
                    },
                }
                .write(buf, PacketNumber(pn), pn_len)
                .ok()?
            }
            SpaceId::Data if self.one_rtt.is_none() => LongHeader {
                ty: LongType::ZeroRtt,
                version: self.version,
                dcid: self.remote_cids.active(),
                scid: self.local_cid,
                token: &[],
            }
            .write(buf, PacketNumber(pn), pn_len)
            .ok()?,
            SpaceId::Data => {
                let key_phase = self.one_rtt.as_ref()?.key_phase();
                ShortHeader {
                    dcid: self.remote_cids.active(),
                    spin: false,
                }
                .write(buf, key_phase, PacketNumber(pn), pn_len)
            }
        };
        Some(PacketBuilder {
            space,
            start,
            layout,
            pn,
            limit: end.saturating_sub(TAG_LEN),
            frames: SentFrames {
                ecn: self.marking,
                ..SentFrames::default()
            },
            ack_eliciting: false,
            summaries: self.is_tracing().then(Vec::new),
            mtu_probe: None,
        })
    }

    fn write_frames(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        b: &mut PacketBuilder,
        can_send_data: bool,
    ) {
        let space_id = b.space;
        let zero_rtt = space_id == SpaceId::Data && self.one_rtt.is_none();
        // RFC 9000 §12.5: no ACK (nor connection control frames we send)
        // in 0-RTT packets.
        if !zero_rtt {
            self.write_ack(now, buf, b);
        }
        let probing = self.space(space_id).probes_pending > 0;
        if !can_send_data && !probing {
            return;
        }
        if probing {
            self.fill_probe(space_id);
        }
        if space_id == SpaceId::Data && !zero_rtt {
            self.write_connection_controls(buf, b);
        }
        self.write_crypto(buf, b);
        if space_id == SpaceId::Data {
            self.write_stream_controls(now, buf, b);
            self.write_streams(buf, b);
        }
        let space = self.space_mut(space_id);
        if space.probes_pending > 0 {
            space.probes_pending -= 1;
            if !b.ack_eliciting && b.room(buf) >= 1 {
                Frame::Ping.encode(buf);
                b.note(|| FrameSummary::Ping);
                b.ack_eliciting = true;
            }
        }
        if space_id == SpaceId::Data && self.ping_pending && b.room(buf) >= 1 {
            self.ping_pending = false;
            if !b.ack_eliciting {
                Frame::Ping.encode(buf);
                b.note(|| FrameSummary::Ping);
                b.ack_eliciting = true;
            }
        }
    }

    fn write_ack(&mut self, now: Instant, buf: &mut Vec<u8>, b: &mut PacketBuilder) {
        let room = b.room(buf);
        let acks: &mut AckTracker = &mut self.spaces[b.space as usize].acks;
        // (the borrow ends before update_ack_timer below)
        if !acks.has_unacked() {
            return;
        }
        let delay = if b.space == SpaceId::Data {
            (acks.ack_delay(now).as_micros() as u64) >> ACK_DELAY_EXPONENT
        } else {
            0
        };
        let ecn = acks.ecn_counts().map(|c| EcnCounts {
            ect0: c.ect0,
            ect1: c.ect1,
            ce: c.ce,
        });
        let Some(encoder) = AckEncoder::new(
            acks.ack_ranges(),
            delay,
            ecn,
            MAX_ACK_RANGES_PER_FRAME,
            room,
        ) else {
            return;
        };
        encoder.encode(buf);
        drop(encoder);
        b.note(|| FrameSummary::Ack(AckSummary::new(acks.ack_ranges(), delay, ecn)));
        b.frames.ack_largest = acks.largest_received();
        acks.on_ack_sent();
        self.update_ack_timer();
    }

    fn write_connection_controls(&mut self, buf: &mut Vec<u8>, b: &mut PacketBuilder) {
        if self.handshake_done_pending && b.room(buf) >= 1 {
            Frame::HandshakeDone.encode(buf);
            b.note(|| FrameSummary::HandshakeDone);
            self.handshake_done_pending = false;
            b.frames.rare_mut().handshake_done = true;
            b.ack_eliciting = true;
        }
        while let Some(data) = self.path_responses.front().copied() {
            let frame = Frame::PathResponse(PathResponse { data });
            if frame.encoded_len() > b.room(buf) {
                break;
            }
            frame.encode(buf);
            b.note(|| FrameSummary::from_frame(&frame));
            self.path_responses.pop_front();
            b.ack_eliciting = true;
        }
        while let Some(control) = self.pending_controls.front() {
            let frame = match control {
                ControlFrame::NewConnectionId(f) => Frame::NewConnectionId(*f),
                ControlFrame::RetireConnectionId(seq) => {
                    Frame::RetireConnectionId(crate::frame::RetireConnectionId { sequence: *seq })
                }
                ControlFrame::NewToken(token) => Frame::NewToken(crate::frame::NewToken {
                    token: token.clone(),
                }),
            };
            if frame.encoded_len() > b.room(buf) {
                break;
            }
            frame.encode(buf);
            b.note(|| FrameSummary::from_frame(&frame));
            if let Some(control) = self.pending_controls.pop_front() {
                b.frames.rare_mut().controls.push(control);
            }
            b.ack_eliciting = true;
        }
    }

    fn write_crypto(&mut self, buf: &mut Vec<u8>, b: &mut PacketBuilder) {
        loop {
            let room = b.room(buf);
            // Type, an 8-byte offset and a 2-byte length at most.
            let Some(max) = room.checked_sub(1 + 8 + 2).filter(|m| *m > 0) else {
                return;
            };
            let Some((offset, data)) = self.space_mut(b.space).crypto.poll_transmit(max) else {
                return;
            };
            CryptoFrameHeader {
                offset,
                len: data.len(),
            }
            .encode(buf);
            buf.put_slice(&data);
            b.note(|| FrameSummary::Crypto {
                offset,
                len: data.len(),
            });
            b.frames.rare_mut().crypto.push((offset, data.len() as u64));
            b.ack_eliciting = true;
        }
    }

    fn write_stream_controls(&mut self, now: Instant, buf: &mut Vec<u8>, b: &mut PacketBuilder) {
        let rtt = self.rtt.smoothed_rtt();
        while b.room(buf) >= 32 {
            let Some(control) = self.streams.poll_control(now, rtt) else {
                return;
            };
            let frame = stream_control_frame(&control);
            if frame.encoded_len() > b.room(buf) {
                self.streams.on_control_lost(&control);
                return;
            }
            frame.encode(buf);
            b.note(|| FrameSummary::from_frame(&frame));
            b.frames.stream_controls.push(control);
            b.ack_eliciting = true;
        }
    }

    fn write_streams(&mut self, buf: &mut Vec<u8>, b: &mut PacketBuilder) {
        loop {
            let Some(max) = b
                .room(buf)
                .checked_sub(STREAM_HEADER_MAX)
                .filter(|m| *m > 0)
                .map(|m| m.min(usize::from(u16::MAX)))
            else {
                return;
            };
            let Some((id, range)) = self.streams.poll_stream_range(max) else {
                return;
            };
            StreamFrameHeader {
                id,
                offset: range.offset,
                len: range.len,
                fin: range.fin,
                has_length: true,
            }
            .encode(buf);
            self.streams.write_stream_data(id, &range, buf);
            b.note(|| FrameSummary::Stream {
                id,
                offset: range.offset,
                len: range.len,
                fin: range.fin,
            });
            b.frames.streams.push(SentStreamChunk {
                id,
                offset: range.offset,
                // `max` above keeps it within 16 bits.
                len: u16::try_from(range.len).unwrap_or(u16::MAX),
                fin: range.fin,
            });
            b.ack_eliciting = true;
        }
    }

    /// Pads, seals and records the packet; `pad_to` is a datagram size to
    /// reach with PADDING.
    fn finish_packet(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        mut b: PacketBuilder,
        pad_to: Option<usize>,
    ) {
        let header_len = b.layout.header_len();
        let pn_len = b.layout.pn_len.bytes();
        // RFC 9001 §5.4.2: the header protection sample needs 4 bytes after
        // the packet number's start plus 16 of ciphertext; pad short payloads.
        let min_end = b.start + b.layout.pn_offset + 4;
        let mut target = buf.len().max(min_end);
        if let Some(size) = pad_to {
            target = target.max(size.saturating_sub(TAG_LEN));
        }
        let padded = target > buf.len();
        if padded {
            let len = target - buf.len();
            b.note(|| FrameSummary::Padding { len });
        }
        buf.resize(target, 0);
        let payload_len = buf.len() - b.start - header_len + TAG_LEN;
        let packet_end = buf.len() + TAG_LEN;
        buf.resize(packet_end, 0);
        let packet = &mut buf[b.start..];
        if b.layout.set_length(packet, payload_len).is_err() {
            buf.truncate(b.start);
            return;
        }
        let sealed = match b.space {
            SpaceId::Data if self.one_rtt.is_none() => self.zero_rtt.keys.as_ref().map(|keys| {
                seal_payload(&keys.packet, b.pn, packet, header_len).and_then(|_| {
                    apply_header_protection(&keys.header, packet, b.layout.pn_offset, pn_len)
                })
            }),
            SpaceId::Data => self.one_rtt.as_ref().map(|keys| {
                seal_payload(&keys.current().local, b.pn, packet, header_len).and_then(|_| {
                    apply_header_protection(keys.local_header(), packet, b.layout.pn_offset, pn_len)
                })
            }),
            _ => self.space(b.space).keys.as_ref().map(|keys| {
                seal_payload(&keys.local.packet, b.pn, packet, header_len).and_then(|_| {
                    apply_header_protection(&keys.local.header, packet, b.layout.pn_offset, pn_len)
                })
            }),
        };
        if !matches!(sealed, Some(Ok(()))) {
            buf.truncate(b.start);
            return;
        }
        let size = buf.len() - b.start;
        let in_flight = (b.ack_eliciting || padded) && b.mtu_probe.is_none();
        if let Some(frames) = &b.summaries {
            self.trace(
                now,
                TraceEvent::PacketSent(PacketInfo {
                    packet_type: if b.space == SpaceId::Data && self.one_rtt.is_none() {
                        crate::packet::PacketType::ZeroRtt
                    } else {
                        super::observe::packet_type_of(b.space)
                    },
                    pn: b.pn,
                    size,
                    frames,
                }),
            );
        }
        if b.space == SpaceId::Data && self.one_rtt.is_some() {
            self.key_update.first_sent_in_phase.get_or_insert(b.pn);
            self.key_update.packets_sent_in_phase += 1;
        }
        self.stats.packets_sent += 1;
        if in_flight {
            self.cc.on_packet_sent(now, size as u64);
        }
        self.space_mut(b.space).sent.on_packet_sent(SentPacket {
            pn: b.pn,
            time_sent: now,
            size: u16::try_from(size).unwrap_or(u16::MAX),
            ack_eliciting: b.ack_eliciting,
            in_flight,
            payload: b.frames,
        });
        if b.ack_eliciting {
            self.set_loss_detection_timer(now);
            if !self.sent_ack_eliciting_since_receive {
                self.sent_ack_eliciting_since_receive = true;
                self.reset_idle_timer(now);
            }
        }
    }

    /// Starts a key update when asked to, or when the key has protected
    /// enough packets (RFC 9001 §6.1, §6.6), once the previous update was
    /// acknowledged.
    fn maybe_initiate_key_update(&mut self, now: Instant) {
        let Some(keys) = self.one_rtt.as_ref() else {
            return;
        };
        if !self.handshake_confirmed {
            return;
        }
        let limit = keys.current().local.confidentiality_limit();
        let interval = self.config.key_update_interval.unwrap_or(u64::MAX);
        let due = self.key_update.forced
            || self.key_update.packets_sent_in_phase >= interval
            // Leave headroom below the AEAD limit: update at 3/4 of it.
            || self.key_update.packets_sent_in_phase >= limit / 4 * 3;
        // RFC 9001 §6.1: not before a packet of the current phase was acked.
        let allowed = self.key_update.phase_acked || self.key_update.first_sent_in_phase.is_none();
        if due && allowed && self.key_update.previous_remote.is_none() {
            self.key_update.forced = false;
            self.rotate_keys(now, crate::trace::KeyTrigger::LocalUpdate);
        }
    }

    /// In the closing state: one datagram carrying CONNECTION_CLOSE in every
    /// space we have keys for (RFC 9000 §10.2.1, §10.2.3).
    fn poll_close_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let State::Closed(close) = &self.state else {
            return None;
        };
        let frame = close.frame.clone()?;
        let max_size = self
            .max_datagram_size
            .min(usize::try_from(self.amplification_allowance()).unwrap_or(usize::MAX));
        let mut builder: Option<PacketBuilder> = None;
        let mut has_initial = false;
        for space in SpaceId::ALL {
            let usable = !self.space(space).discarded
                && match space {
                    SpaceId::Data => self.one_rtt.is_some() && self.handshake_complete,
                    _ => self.space(space).keys.is_some(),
                };
            if !usable {
                continue;
            }
            if let Some(b) = builder.take() {
                self.finish_packet(now, buf, b, None);
            }
            let Some(mut b) = self.start_packet(space, buf, max_size) else {
                continue;
            };
            // RFC 9000 §10.2.3: before the handshake completes, an application
            // close goes out as a transport close with APPLICATION_ERROR.
            let encoded = match (&frame, space) {
                (
                    super::close::CloseFrame::Application { .. },
                    SpaceId::Initial | SpaceId::Handshake,
                ) => Frame::ConnectionClose(ConnectionClose {
                    error_code: crate::error::TransportErrorCode::APPLICATION_ERROR,
                    frame_type: None,
                    reason: bytes::Bytes::new(),
                }),
                (super::close::CloseFrame::Application { code, reason }, SpaceId::Data) => {
                    Frame::ApplicationClose(ApplicationClose {
                        error_code: crate::VarInt::saturating(*code),
                        reason: reason.clone(),
                    })
                }
                (super::close::CloseFrame::Transport(err), _) => {
                    Frame::ConnectionClose(ConnectionClose {
                        error_code: err.code,
                        frame_type: err.frame_type,
                        reason: bytes::Bytes::from_static(err.reason.as_bytes()),
                    })
                }
            };
            if encoded.encoded_len() <= b.room(buf) {
                encoded.encode(buf);
                b.note(|| FrameSummary::from_frame(&encoded));
            }
            has_initial |= space == SpaceId::Initial;
            builder = Some(b);
        }
        let b = builder?;
        let pad =
            (has_initial && self.side == Side::Client).then_some(MIN_UDP_PAYLOAD.min(max_size));
        self.finish_packet(now, buf, b, pad);
        if let State::Closed(close) = &mut self.state {
            close.on_close_sent();
        }
        self.on_datagram_sent(buf.len());
        Some(Transmit {
            destination: self.remote,
            size: buf.len(),
            ecn: None,
            segment_size: None,
        })
    }
}

/// The frame that carries a stream-layer control message.
fn stream_control_frame(control: &super::streams::StreamControl) -> Frame {
    use super::streams::StreamControl as C;
    use crate::frame::{
        DataBlocked, MaxData, MaxStreamData, MaxStreams, ResetStream, StopSending,
        StreamDataBlocked, StreamsBlocked,
    };
    match *control {
        C::MaxData(max) => Frame::MaxData(MaxData { max }),
        C::MaxStreamData { id, max } => Frame::MaxStreamData(MaxStreamData { id, max }),
        C::MaxStreams { dir, count } => Frame::MaxStreams(MaxStreams { dir, max: count }),
        C::DataBlocked(limit) => Frame::DataBlocked(DataBlocked { limit }),
        C::StreamDataBlocked { id, limit } => {
            Frame::StreamDataBlocked(StreamDataBlocked { id, limit })
        }
        C::StreamsBlocked { dir, limit } => Frame::StreamsBlocked(StreamsBlocked { dir, limit }),
        C::ResetStream {
            id,
            error_code,
            final_size,
        } => Frame::ResetStream(ResetStream {
            id,
            error_code: crate::VarInt::saturating(error_code),
            final_size,
        }),
        C::StopSending { id, error_code } => Frame::StopSending(StopSending {
            id,
            error_code: crate::VarInt::saturating(error_code),
        }),
    }
}
