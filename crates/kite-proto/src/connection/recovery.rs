//! The connection's side of loss recovery (RFC 9002): processing ACK frames,
//! feeding RTT samples and congestion control, declaring packets lost and
//! re-queueing what they carried, and the loss detection / PTO timer.

use std::time::Instant;

use super::Connection;
use super::spaces::{ControlFrame, SentFrames};
use super::timer::Timer;
use crate::error::TransportError;
use crate::frame::Ack;
use crate::packet::SpaceId;
use crate::recovery::loss::{
    RttSnapshot, SpaceSummary, TimerInputs, TimerKind, detect_lost, loss_detection_timer,
};
use crate::recovery::sent::SentPacket;
use crate::stream_id::Side;
use crate::trace::{LossTrigger, PacketLost, TraceEvent};

/// Probe packets sent when the PTO fires (RFC 9002 §6.2.4 allows two, and
/// two survive a single loss).
const PTO_PROBES: u8 = 2;

/// How many times a connection sends its handshake data early, on signs
/// that the peer lacks it (RFC 9002 §6.2.3 asks for a limit, so that two
/// endpoints that cannot process each other's packets do not answer each
/// other forever). Four covers the client's first two probe pairs, which
/// at 30 % loss may each meet a lost server flight.
pub(super) const MAX_FLIGHT_REPEATS: u8 = 4;

impl Connection {
    /// An ACK frame arrived in `space` (RFC 9002 §A.7).
    pub(super) fn on_ack_received(
        &mut self,
        now: Instant,
        space: SpaceId,
        ack: &Ack,
    ) -> Result<(), TransportError> {
        let mut acked = std::mem::take(&mut self.scratch);
        acked.clear();
        let outcome = self
            .space_mut(space)
            .sent
            .on_ack_received(ack.ranges(), |p| acked.push(p));
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                self.scratch = acked;
                return Err(e.into());
            }
        };
        if outcome.newly_acked == 0 {
            self.scratch = acked;
            return Ok(());
        }
        if let Some(sample) = outcome.rtt_sample(now) {
            let exponent = self
                .peer_params
                .as_ref()
                .map_or(3, |p| p.ack_delay_exponent);
            let ack_delay = ack.delay_duration(exponent);
            let max_ack_delay = self.peer_max_ack_delay();
            self.rtt.update(
                now,
                sample,
                ack_delay,
                max_ack_delay,
                space,
                self.handshake_confirmed,
            );
        }
        if space == SpaceId::Handshake && self.side.is_client() {
            // RFC 9002 §6.2.2.1: an acknowledged Handshake packet proves the
            // server validated our address.
            self.peer_validated_address = true;
        }
        let marked = super::ecn::count_marked(&acked);
        let largest_sent = outcome.largest_newly_acked.map(|p| p.time_sent);
        self.on_ack_ecn(now, space, ack.ecn(), marked, largest_sent);
        // By reference: each record is moved once, out of the deque.
        for packet in &acked {
            self.on_packet_acked(now, space, packet);
        }
        acked.clear();
        self.scratch = acked;
        self.detect_and_handle_losses(now, space);
        self.trace_metrics(now);
        // RFC 9002 §6.2.1: reset the backoff, unless a client is still unsure
        // the server validated its address.
        if self.peer_validated_address {
            self.pto_count = 0;
        }
        self.set_loss_detection_timer(now);
        Ok(())
    }

    fn on_packet_acked(&mut self, now: Instant, space: SpaceId, packet: &SentPacket<SentFrames>) {
        if packet.in_flight {
            self.cc.on_ack(
                now,
                packet.time_sent,
                u64::from(packet.size),
                &self.rtt,
                false,
            );
        }
        if space == SpaceId::Data
            && self
                .key_update
                .first_sent_in_phase
                .is_some_and(|first| packet.pn >= first)
        {
            self.key_update.phase_acked = true;
        }
        let frames = &packet.payload;
        if let (Some(size), Some(mtu)) = (frames.mtu_probe(), self.mtu.as_mut()) {
            let confirmed = mtu.on_probe_acked(size);
            if confirmed > self.max_datagram_size {
                self.max_datagram_size = confirmed;
                self.cc.on_mtu_update(confirmed as u64);
            }
        }
        if let Some(largest) = frames.ack_largest {
            self.space_mut(space).acks.on_ack_frame_acked(largest);
        }
        for &(offset, len) in frames.crypto() {
            self.space_mut(space).crypto.on_acked(offset, len);
        }
        for chunk in &frames.streams {
            self.streams
                .on_stream_acked(chunk.id, chunk.offset, u64::from(chunk.len), chunk.fin);
        }
        for control in &frames.stream_controls {
            self.streams.on_control_acked(control);
        }
        // HANDSHAKE_DONE and CID frames need nothing once acknowledged.
    }

    fn on_packet_lost(
        &mut self,
        now: Instant,
        space: SpaceId,
        largest_acked: Option<u64>,
        packet: &SentPacket<SentFrames>,
    ) {
        self.stats.packets_lost += 1;
        if self.is_tracing() {
            // RFC 9002 §6.1: lost by count if far enough below the largest
            // acknowledged, by time otherwise.
            let by_count = largest_acked.is_some_and(|largest| {
                largest >= packet.pn + crate::recovery::loss::PACKET_THRESHOLD
            });
            let trigger = if by_count {
                LossTrigger::ReorderingThreshold
            } else {
                LossTrigger::TimeThreshold
            };
            self.trace(
                now,
                TraceEvent::PacketLost(PacketLost {
                    packet_type: super::observe::packet_type_of(space),
                    pn: packet.pn,
                    trigger,
                }),
            );
        }
        self.stats.bytes_lost += u64::from(packet.size);
        let frames = &packet.payload;
        if let (Some(size), Some(mtu)) = (frames.mtu_probe(), self.mtu.as_mut()) {
            mtu.on_probe_lost(size);
        }
        self.queue_frames_again(space, frames);
    }

    /// Forgets every packet sent in `space` and queues what they carried to
    /// be sent again, without counting a congestion loss: after a Retry
    /// (RFC 9000 §17.2.5.3) or when the server rejected 0-RTT (RFC 9001
    /// §4.6.2).
    pub(super) fn resend_all_sent(&mut self, space: SpaceId) {
        let mut packets = Vec::new();
        self.space_mut(space).sent.discard(|p| packets.push(p));
        for packet in &packets {
            self.queue_frames_again(space, &packet.payload);
        }
    }

    /// Queues what `frames` carried to be sent again: after a loss, or for
    /// a probe. Whatever was acknowledged since is left out by the owners
    /// (CRYPTO and stream ranges), and a frame already queued is not queued
    /// twice.
    fn queue_frames_again(&mut self, space: SpaceId, frames: &SentFrames) {
        for &(offset, len) in frames.crypto() {
            self.space_mut(space).crypto.on_lost(offset, len);
        }
        for chunk in &frames.streams {
            self.streams
                .on_stream_lost(chunk.id, chunk.offset, u64::from(chunk.len), chunk.fin);
        }
        for control in &frames.stream_controls {
            self.streams.on_control_lost(control);
        }
        let Some(rare) = frames.rare.as_deref() else {
            return;
        };
        for control in &rare.controls {
            if !self.pending_controls.contains(control) {
                self.push_control(control.clone());
            }
        }
        if rare.handshake_done && !self.peer_validated_address_by_done() {
            self.handshake_done_pending = true;
        }
    }

    /// HANDSHAKE_DONE is repeated until one of its packets is acknowledged;
    /// kite does not track that separately, so it repeats on every loss.
    fn peer_validated_address_by_done(&self) -> bool {
        false
    }

    /// Runs loss detection in `space` and tells congestion control.
    pub(super) fn detect_and_handle_losses(&mut self, now: Instant, space: SpaceId) {
        let rtt = self.rtt_snapshot();
        let max_ack_delay = self.peer_max_ack_delay();
        let mut lost = std::mem::take(&mut self.scratch);
        lost.clear();
        let outcome = detect_lost(
            &mut self.space_mut(space).sent,
            now,
            &rtt,
            max_ack_delay,
            |p| lost.push(p),
        );
        let largest_acked = self.space(space).sent.largest_acked();
        for packet in &lost {
            self.on_packet_lost(now, space, largest_acked, packet);
        }
        lost.clear();
        self.scratch = lost;
        if let Some(sent_time) = outcome.largest_lost_time_sent {
            self.cc.on_congestion_event(
                now,
                sent_time,
                outcome.persistent_congestion,
                outcome.lost_bytes,
            );
            if outcome.persistent_congestion {
                self.rtt.on_persistent_congestion();
            }
        }
    }

    pub(super) fn rtt_snapshot(&self) -> RttSnapshot {
        RttSnapshot {
            latest_rtt: self.rtt.latest_rtt(),
            smoothed_rtt: self.rtt.smoothed_rtt(),
            rttvar: self.rtt.rttvar(),
            min_rtt: self.rtt.min_rtt(),
            first_sample_time: self.rtt.first_sample_time(),
        }
    }

    /// Whether a server may send nothing more to an unvalidated address
    /// (RFC 9000 §8.1: three times what it received).
    pub(super) fn amplification_blocked(&self) -> bool {
        !self.address_validated
            && self.amplification_sent + super::MIN_UDP_PAYLOAD as u64
                > 3 * self.amplification_received
    }

    /// Bytes we may still send to an unvalidated address.
    pub(super) fn amplification_allowance(&self) -> u64 {
        if self.address_validated {
            u64::MAX
        } else {
            (3 * self.amplification_received).saturating_sub(self.amplification_sent)
        }
    }

    /// Re-arms the loss detection timer (RFC 9002 §A.8).
    pub(super) fn set_loss_detection_timer(&mut self, now: Instant) {
        let summaries = [
            self.space_summary(SpaceId::Initial),
            self.space_summary(SpaceId::Handshake),
            self.space_summary(SpaceId::Data),
        ];
        let inputs = TimerInputs {
            rtt: self.rtt_snapshot(),
            max_ack_delay: self.peer_max_ack_delay(),
            pto_count: self.pto_count,
            handshake_confirmed: self.handshake_confirmed,
            peer_completed_address_validation: self.peer_validated_address,
            has_handshake_keys: self.space(SpaceId::Handshake).keys.is_some(),
            amplification_blocked: self.amplification_blocked(),
        };
        self.loss_timer = loss_detection_timer(now, &summaries, &inputs);
        self.timers
            .set_or_stop(Timer::LossDetection, self.loss_timer.map(|t| t.at));
    }

    fn space_summary(&self, id: SpaceId) -> SpaceSummary {
        let space = self.space(id);
        if space.discarded {
            SpaceSummary::default()
        } else {
            SpaceSummary::of(&space.sent)
        }
    }

    /// The loss detection timer fired (RFC 9002 §A.9).
    pub(super) fn on_loss_detection_timeout(&mut self, now: Instant) {
        let Some(timer) = self.loss_timer.take() else {
            return;
        };
        match timer.kind {
            TimerKind::LossTime => self.detect_and_handle_losses(now, timer.space),
            TimerKind::Pto | TimerKind::AntiDeadlock => {
                self.stats.pto_count += 1;
                self.pto_count = self.pto_count.saturating_add(1);
                let probes = if timer.kind == TimerKind::Pto {
                    PTO_PROBES
                } else {
                    1
                };
                self.queue_probe(timer.space, probes);
                self.trace_metrics(now);
                // RFC 9002 §6.2.4: probe the other spaces with data
                // outstanding too, coalesced into the same datagrams: the
                // peer may have keys for only one of them (a server's
                // Initial and Handshake data; a client's Handshake and
                // 1-RTT data before the handshake is confirmed, whose
                // application PTO is not armed). Initial and Handshake data
                // counts when unacknowledged, in flight or declared lost:
                // a client that cannot open the server's Handshake packets
                // needs the lost ServerHello, whatever PTO fired.
                for other in SpaceId::ALL {
                    if other != timer.space && self.has_outstanding_data(other) {
                        self.queue_probe(other, probes);
                    }
                }
                // RFC 9002 §6.2.2.1: a client with Handshake keys probes
                // with a Handshake packet, even with nothing of its own to
                // send there yet: it proves the client's address (RFC 9000
                // §8.1), which lifts the limit of a server waiting at three
                // times what it received with its flight unsent.
                if self.side == Side::Client
                    && !self.peer_validated_address
                    && self.space(SpaceId::Handshake).keys.is_some()
                {
                    self.queue_probe(SpaceId::Handshake, 1);
                }
            }
        }
        self.set_loss_detection_timer(now);
    }

    /// Whether `space` has data the peer has not acknowledged: CRYPTO data
    /// in the Initial and Handshake spaces, ack-eliciting 1-RTT packets in
    /// flight in the application space once the handshake is complete.
    fn has_outstanding_data(&self, space_id: SpaceId) -> bool {
        let space = self.space(space_id);
        if space.discarded {
            return false;
        }
        match space_id {
            // Before its handshake completes, a server's 1-RTT data would
            // only spend its anti-amplification allowance.
            SpaceId::Data => self.handshake_complete && space.sent.has_ack_eliciting_in_flight(),
            _ => space.keys.is_some() && space.crypto.has_unacked(),
        }
    }

    /// Arms `probes` probe packets in `space`. In the Initial and Handshake
    /// spaces it queues the unacknowledged CRYPTO data again, so the first
    /// probe repairs the handshake rather than only pinging (RFC 9002
    /// §6.2.4); ranges already queued are not queued twice.
    fn queue_probe(&mut self, space_id: SpaceId, probes: u8) {
        let space = self.space_mut(space_id);
        if space.discarded || (space_id != SpaceId::Data && space.keys.is_none()) {
            return;
        }
        space.probes_pending = space.probes_pending.max(probes);
        if space_id == SpaceId::Data {
            space.probe_cursor = None;
        } else {
            space.crypto.queue_unacked();
        }
    }

    /// A probe packet of `space` is being built. RFC 9002 §6.2.4: probes
    /// carry data when they can. New or lost data goes first; when there is
    /// none, the probe carries unacknowledged data again rather than a bare
    /// PING, so that each datagram of a probe pair repairs a loss on its
    /// own: the CRYPTO data of an Initial or Handshake space; in the
    /// application space what the oldest packets in flight carried (stream
    /// data, HANDSHAKE_DONE, control frames), about a datagram's worth, the
    /// second probe of a pair going on where the first stopped.
    pub(super) fn fill_probe(&mut self, space_id: SpaceId) {
        if space_id != SpaceId::Data {
            let crypto = &mut self.space_mut(space_id).crypto;
            if !crypto.has_data_to_send() {
                crypto.queue_unacked();
            }
            return;
        }
        if self.has_application_data_to_send() {
            return;
        }
        let cursor = self.space(SpaceId::Data).probe_cursor;
        let mut picked = self.oldest_in_flight_after(cursor);
        if picked.is_empty() && cursor.is_some() {
            // Every packet in flight went out again: start over.
            picked = self.oldest_in_flight_after(None);
        }
        if let Some(&(pn, _)) = picked.last() {
            self.space_mut(SpaceId::Data).probe_cursor = Some(pn);
        }
        for (_, frames) in picked {
            self.queue_frames_again(SpaceId::Data, &frames);
        }
    }

    /// The oldest application packets in flight numbered above `after`
    /// that carried something to send again, about one datagram's worth
    /// (at least one packet).
    fn oldest_in_flight_after(&self, after: Option<u64>) -> Vec<(u64, SentFrames)> {
        let mut picked = Vec::new();
        let mut size = 0;
        let sent = &self.space(SpaceId::Data).sent;
        for packet in sent
            .iter()
            .filter(|p| p.payload.is_retransmittable() && after.is_none_or(|after| p.pn > after))
        {
            size += usize::from(packet.size);
            if !picked.is_empty() && size > self.max_datagram_size {
                break;
            }
            picked.push((packet.pn, packet.payload.clone()));
        }
        picked
    }

    /// Whether anything new or lost waits to go out in the application
    /// space.
    fn has_application_data_to_send(&self) -> bool {
        self.space(SpaceId::Data).crypto.has_data_to_send()
            || self.streams.has_stream_data()
            || self.streams.has_pending_control()
            || self.handshake_done_pending
            || !self.pending_controls.is_empty()
    }

    /// An ack-eliciting packet of `space_id` was processed; `crypto_end` is
    /// where its CRYPTO stream ended before. RFC 9002 §6.2.3: a server that
    /// receives an Initial bringing no new CRYPTO data while its own is
    /// unacknowledged can tell that the client lacks its flight, and sends
    /// it again at once rather than on its backed-off PTO.
    pub(super) fn maybe_repeat_flight(&mut self, space_id: SpaceId, crypto_end: u64) {
        let initial = &self.space(SpaceId::Initial).crypto;
        if self.side == Side::Server
            && space_id == SpaceId::Initial
            && initial.received_end() == crypto_end
            && initial.has_unacked()
        {
            self.repeat_flight();
        }
    }

    /// RFC 9002 §6.2.3: a client that receives a Handshake packet before it
    /// has Handshake keys can tell that the server's Initial was lost. It
    /// sends its Initial again at once; the server answers a repeated
    /// ClientHello with its flight ([`Self::maybe_repeat_flight`]).
    pub(super) fn on_handshake_packet_without_keys(&mut self) {
        if self.side == Side::Client
            && !self.space(SpaceId::Initial).discarded
            && self.space(SpaceId::Handshake).keys.is_none()
        {
            self.repeat_flight();
        }
    }

    /// Sends the unacknowledged Initial and Handshake data now, at most
    /// [`MAX_FLIGHT_REPEATS`] times per connection. The probes bypass
    /// congestion control as PTO probes do; a server's anti-amplification
    /// limit still holds (RFC 9000 §8.1).
    fn repeat_flight(&mut self) {
        let pending = self.space(SpaceId::Initial).probes_pending > 0;
        if pending || self.flight_repeats >= MAX_FLIGHT_REPEATS {
            return;
        }
        self.flight_repeats += 1;
        self.queue_probe(SpaceId::Initial, 1);
        if self.has_outstanding_data(SpaceId::Handshake) {
            self.queue_probe(SpaceId::Handshake, 1);
        }
    }

    /// Drops a retired control frame queue entry that is no longer needed.
    #[allow(dead_code)]
    pub(super) fn forget_control(&mut self, frame: &ControlFrame) {
        self.pending_controls.retain(|f| f != frame);
    }
}
