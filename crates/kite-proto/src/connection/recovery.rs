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
use crate::trace::{LossTrigger, PacketLost, TraceEvent};

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
        for packet in acked.drain(..) {
            self.on_packet_acked(now, space, packet);
        }
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

    fn on_packet_acked(&mut self, now: Instant, space: SpaceId, packet: SentPacket<SentFrames>) {
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
        let frames = packet.payload;
        if let (Some(size), Some(mtu)) = (frames.mtu_probe, self.mtu.as_mut()) {
            let confirmed = mtu.on_probe_acked(size);
            if confirmed > self.max_datagram_size {
                self.max_datagram_size = confirmed;
                self.cc.on_mtu_update(confirmed as u64);
            }
        }
        if let Some(largest) = frames.ack_largest {
            self.space_mut(space).acks.on_ack_frame_acked(largest);
        }
        for (offset, len) in frames.crypto {
            self.space_mut(space).crypto.on_acked(offset, len);
        }
        for chunk in frames.streams {
            self.streams
                .on_stream_acked(chunk.id, chunk.offset, chunk.len, chunk.fin);
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
        packet: SentPacket<SentFrames>,
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
        let frames = packet.payload;
        if let (Some(size), Some(mtu)) = (frames.mtu_probe, self.mtu.as_mut()) {
            mtu.on_probe_lost(size);
        }
        for (offset, len) in frames.crypto {
            self.space_mut(space).crypto.on_lost(offset, len);
        }
        for chunk in frames.streams {
            self.streams
                .on_stream_lost(chunk.id, chunk.offset, chunk.len, chunk.fin);
        }
        for control in &frames.stream_controls {
            self.streams.on_control_lost(control);
        }
        for control in frames.controls {
            self.push_control(control);
        }
        if frames.handshake_done && !self.peer_validated_address_by_done() {
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
        for packet in lost.drain(..) {
            self.on_packet_lost(now, space, largest_acked, packet);
        }
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
                let probes = if timer.kind == TimerKind::Pto { 2 } else { 1 };
                self.queue_probe(timer.space, probes);
                self.trace_metrics(now);
                // RFC 9002 §6.2.4: a PTO in the Initial space while Handshake
                // data is also unacknowledged repairs both, coalesced.
                if timer.space == SpaceId::Initial
                    && self
                        .space(SpaceId::Handshake)
                        .sent
                        .has_ack_eliciting_in_flight()
                {
                    self.queue_probe(SpaceId::Handshake, 1);
                }
            }
        }
        self.set_loss_detection_timer(now);
    }

    /// Arms probes in `space` and queues its unacknowledged CRYPTO data
    /// again, so the probe repairs the handshake rather than only pinging
    /// (RFC 9002 §6.2.4).
    fn queue_probe(&mut self, space_id: SpaceId, probes: u8) {
        let space = self.space_mut(space_id);
        if space.discarded || (space_id != SpaceId::Data && space.keys.is_none()) {
            return;
        }
        space.probes_pending = probes;
        let ranges: Vec<(u64, u64)> = space
            .sent
            .iter()
            .flat_map(|p| p.payload.crypto.iter().copied())
            .collect();
        for (offset, len) in ranges {
            space.crypto.on_lost(offset, len);
        }
    }

    /// Drops a retired control frame queue entry that is no longer needed.
    #[allow(dead_code)]
    pub(super) fn forget_control(&mut self, frame: &ControlFrame) {
        self.pending_controls.retain(|f| f != frame);
    }
}
