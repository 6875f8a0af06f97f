//! Loss detection (RFC 9002 §6, Appendix A): packet and time thresholds,
//! the probe timeout across packet number spaces, and persistent congestion
//! (§7.6). Stateless functions over [`SentPackets`] and plain RTT values; the
//! connection owns `pto_count`, the RTT estimator and the timer table.
//!
//! Intended call order, per connection:
//! 1. After sending a packet: [`SentPackets::on_packet_sent`], then re-arm the
//!    loss detection timer with [`loss_detection_timer`] if it was
//!    ack-eliciting.
//! 2. On an ACK frame in a space: [`SentPackets::on_ack_received`] (an error
//!    closes the connection with PROTOCOL_VIOLATION); if it newly acked
//!    nothing, stop. Otherwise feed [`AckOutcome::rtt_sample`] to the RTT
//!    estimator, process ECN counts, call [`detect_lost`] and tell congestion
//!    control about the lost packets (persistent congestion included), then
//!    about the acked ones; reset `pto_count` to 0 unless a client is still
//!    unsure that the server validated its address (RFC 9002 §6.2.1); re-arm.
//! 3. When the stored timer fires, recompute [`loss_detection_timer`] and act
//!    on its [`TimerKind`]: run [`detect_lost`] for `LossTime`, send one or two
//!    probes for `Pto`, an ack-eliciting Handshake or padded Initial packet for
//!    `AntiDeadlock`; after a PTO of either kind increment `pto_count`; re-arm.
//! 4. On discarding Initial or Handshake keys: [`SentPackets::discard`],
//!    `pto_count = 0`, re-arm (RFC 9002 §6.4).
//! 5. A server that was blocked by the anti-amplification limit re-arms when a
//!    datagram arrives, and fires at once if the deadline is already past.
//!
//! The timer is recomputed only at these events and stored: the anti-deadlock
//! deadline counts from `now`, so recomputing it on every poll would push it
//! back forever.
//!
//! [`AckOutcome::rtt_sample`]: super::sent::AckOutcome::rtt_sample

use std::time::{Duration, Instant};

use super::sent::{SentPacket, SentPackets, Slot};
use crate::packet::SpaceId;

/// Packets this many numbers below a newly acknowledged one are lost
/// (RFC 9002 §6.1.1, kPacketThreshold). Lower values mistake reordering for
/// loss; the RFC forbids going below 3.
pub const PACKET_THRESHOLD: u64 = 3;

/// Numerator of the time threshold, 9/8 of an RTT (RFC 9002 §6.1.2,
/// kTimeThreshold): how late a packet may be before it counts as lost.
pub const TIME_THRESHOLD_NUM: u32 = 9;
/// Denominator of the time threshold (RFC 9002 §6.1.2).
pub const TIME_THRESHOLD_DEN: u32 = 8;

/// Timer granularity (RFC 9002 §6.1.2, kGranularity): the loss delay and
/// the PTO variance term never go below it, so timers never expire at once.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// Persistent congestion spans this many PTO periods (RFC 9002 §7.6.1,
/// kPersistentCongestionThreshold); 3 matches TCP declaring an RTO after two
/// tail loss probes.
pub const PERSISTENT_CONGESTION_THRESHOLD: u32 = 3;

/// Cap on the PTO backoff exponent: 2^16 times a PTO is hours, long past any
/// idle timeout, and the cap keeps the arithmetic from overflowing.
pub const MAX_PTO_BACKOFF_EXPONENT: u32 = 16;

/// The RTT estimator's values as loss detection reads them (RFC 9002 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttSnapshot {
    /// The most recent RTT sample.
    pub latest_rtt: Duration,
    /// Exponentially weighted average of samples.
    pub smoothed_rtt: Duration,
    /// Mean deviation of samples.
    pub rttvar: Duration,
    /// Smallest sample seen.
    pub min_rtt: Duration,
    /// When the first RTT sample was taken; `None` before any.
    pub first_sample_time: Option<Instant>,
}

/// What one [`detect_lost`] call found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossOutcome {
    /// Packets declared lost.
    pub lost_packets: usize,
    /// In-flight bytes among them.
    pub lost_bytes: u64,
    /// Send time of the newest in-flight packet lost: the congestion event's
    /// time (RFC 9002 §B.8, `sent_time_of_last_loss`); `None` if no in-flight
    /// packet was lost.
    pub largest_lost_time_sent: Option<Instant>,
    /// Whether the losses establish persistent congestion (RFC 9002 §7.6).
    pub persistent_congestion: bool,
    /// When the next packet of the space will be lost by the time threshold,
    /// if one is waiting (also stored in the space, see
    /// [`SentPackets::loss_time`]).
    pub loss_time: Option<Instant>,
}

/// How long after its send time a packet below the largest acknowledged
/// counts as lost: `max(9/8 * max(smoothed_rtt, latest_rtt), 1ms)`
/// (RFC 9002 §6.1.2).
pub fn loss_delay(rtt: &RttSnapshot) -> Duration {
    let base = rtt.latest_rtt.max(rtt.smoothed_rtt);
    (base * TIME_THRESHOLD_NUM / TIME_THRESHOLD_DEN).max(GRANULARITY)
}

/// `smoothed_rtt + max(4 * rttvar, kGranularity)`: the PTO period before
/// max_ack_delay and backoff (RFC 9002 §6.2.1).
pub fn pto_base(rtt: &RttSnapshot) -> Duration {
    rtt.smoothed_rtt + (rtt.rttvar * 4).max(GRANULARITY)
}

/// The persistent congestion duration: three PTO periods, max_ack_delay
/// included whatever the space (RFC 9002 §7.6.1).
pub fn persistent_congestion_duration(rtt: &RttSnapshot, max_ack_delay: Duration) -> Duration {
    (pto_base(rtt) + max_ack_delay).saturating_mul(PERSISTENT_CONGESTION_THRESHOLD)
}

/// `2^pto_count`, capped at `2^MAX_PTO_BACKOFF_EXPONENT`.
fn backoff(pto_count: u32) -> u32 {
    1 << pto_count.min(MAX_PTO_BACKOFF_EXPONENT)
}

/// Declares lost the packets of `sent` below its largest acknowledged that
/// are [`PACKET_THRESHOLD`] numbers older or [`loss_delay`] older
/// (RFC 9002 §6.1, §A.10), hands each to `on_lost`, and sets the space's loss
/// time for the rest.
///
/// Persistent congestion (RFC 9002 §7.6.2) is judged within this space, which
/// §7.6.2 allows: two ack-eliciting packets lost here, both sent after the
/// first RTT sample, more than [`persistent_congestion_duration`] apart, with
/// no packet acknowledged between them.
pub fn detect_lost<T>(
    sent: &mut SentPackets<T>,
    now: Instant,
    rtt: &RttSnapshot,
    max_ack_delay: Duration,
    mut on_lost: impl FnMut(SentPacket<T>),
) -> LossOutcome {
    sent.loss_time = None;
    let mut outcome = LossOutcome::default();
    let Some(largest_acked) = sent.largest_acked() else {
        return outcome;
    };
    let delay = loss_delay(rtt);
    // Packets sent at or before this are lost; none if `now` is too early.
    let lost_send_time = now.checked_sub(delay);
    let pc_duration = persistent_congestion_duration(rtt, max_ack_delay);
    // Send time of the first ack-eliciting packet of the current run of
    // losses with no acknowledged packet in between.
    let mut run_start: Option<Instant> = None;

    let mut pn = sent.base;
    while pn <= largest_acked {
        let Some(slot) = usize::try_from(pn - sent.base)
            .ok()
            .and_then(|i| sent.slots.get(i))
        else {
            break;
        };
        let (time_sent, packet_pn) = match slot {
            // RFC 9002 §7.6.2: an acknowledgment between two losses means
            // the path delivered something; the run starts over.
            Slot::Acked => {
                run_start = None;
                pn += 1;
                continue;
            }
            Slot::Lost | Slot::Skipped => {
                pn += 1;
                continue;
            }
            Slot::Live(p) => (p.time_sent, p.pn),
        };
        // RFC 9002 §6.1: lost by the time threshold or the packet threshold.
        let lost = lost_send_time.is_some_and(|t| time_sent <= t)
            || largest_acked >= packet_pn.saturating_add(PACKET_THRESHOLD);
        if !lost {
            // RFC 9002 §6.1.2: wait for the rest of the loss delay.
            let at = time_sent.checked_add(delay);
            outcome.loss_time = match (outcome.loss_time, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            pn += 1;
            continue;
        }
        if let Some(packet) = sent.take(pn, Slot::Lost) {
            outcome.lost_packets += 1;
            if packet.in_flight {
                outcome.lost_bytes += u64::from(packet.size);
                outcome.largest_lost_time_sent =
                    outcome.largest_lost_time_sent.max(Some(packet.time_sent));
            }
            // RFC 9002 §7.6.2: only ack-eliciting packets sent after the
            // first RTT sample count.
            let counts = packet.ack_eliciting
                && rtt
                    .first_sample_time
                    .is_some_and(|first| packet.time_sent > first);
            if counts {
                match run_start {
                    None => run_start = Some(packet.time_sent),
                    Some(start) => {
                        if packet.time_sent.saturating_duration_since(start) > pc_duration {
                            outcome.persistent_congestion = true;
                        }
                    }
                }
            }
            on_lost(packet);
        }
        pn += 1;
    }
    sent.trim_front();
    sent.loss_time = outcome.loss_time;
    outcome
}

/// What the timer computation needs from one packet number space; take it
/// from the space with [`SpaceSummary::of`], or use the default for a space
/// whose keys are discarded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceSummary {
    /// Whether an ack-eliciting packet is in flight.
    pub ack_eliciting_in_flight: bool,
    /// When the last ack-eliciting packet was sent.
    pub time_of_last_ack_eliciting: Option<Instant>,
    /// The time-threshold loss deadline.
    pub loss_time: Option<Instant>,
}

impl SpaceSummary {
    /// The summary of `sent`.
    pub fn of<T>(sent: &SentPackets<T>) -> Self {
        SpaceSummary {
            ack_eliciting_in_flight: sent.has_ack_eliciting_in_flight(),
            time_of_last_ack_eliciting: sent.time_of_last_ack_eliciting(),
            loss_time: sent.loss_time(),
        }
    }
}

/// Connection-wide state the loss detection timer depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerInputs {
    /// Current RTT values.
    pub rtt: RttSnapshot,
    /// The peer's max_ack_delay transport parameter.
    pub max_ack_delay: Duration,
    /// Consecutive PTOs without an acknowledgment (RFC 9002 §6.2.1).
    pub pto_count: u32,
    /// Whether the handshake is confirmed (RFC 9001 §4.1.2).
    pub handshake_confirmed: bool,
    /// Whether the peer has validated our address: always for a server; for
    /// a client once a Handshake packet is acknowledged or the handshake is
    /// confirmed (RFC 9002 §A.6).
    pub peer_completed_address_validation: bool,
    /// Whether we have Handshake keys (chooses the anti-deadlock space).
    pub has_handshake_keys: bool,
    /// Whether a server is at its anti-amplification limit (RFC 9000 §8.1).
    pub amplification_blocked: bool,
}

/// Why the loss detection timer is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// Time-threshold loss detection: run [`detect_lost`] (RFC 9002 §6.1.2).
    LossTime,
    /// Probe timeout: send one or two ack-eliciting probes (RFC 9002 §6.2.4).
    Pto,
    /// A client with nothing in flight whose address the server may not
    /// have validated: send a Handshake packet, or a padded Initial without
    /// Handshake keys, so the server is not stuck at its amplification limit
    /// (RFC 9002 §6.2.2.1).
    AntiDeadlock,
}

/// The loss detection timer: when, in which space, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossTimer {
    /// When it fires.
    pub at: Instant,
    /// The packet number space to act on.
    pub space: SpaceId,
    /// What to do when it fires.
    pub kind: TimerKind,
}

/// The loss detection timer (RFC 9002 §A.8 `SetLossDetectionTimer`): the
/// earliest time-threshold deadline if any space has one, otherwise the PTO;
/// `None` when nothing is to be detected. `spaces` is indexed by [`SpaceId`].
pub fn loss_detection_timer(
    now: Instant,
    spaces: &[SpaceSummary; 3],
    inputs: &TimerInputs,
) -> Option<LossTimer> {
    // RFC 9002 §6.2.1: the PTO is not armed while a loss timer is.
    let earliest_loss = SpaceId::ALL
        .iter()
        .filter_map(|&space| Some((spaces[space as usize].loss_time?, space)))
        .min_by_key(|&(at, _)| at);
    if let Some((at, space)) = earliest_loss {
        return Some(LossTimer {
            at,
            space,
            kind: TimerKind::LossTime,
        });
    }
    // RFC 9002 §6.2.2.1: probes would count against the amplification limit.
    if inputs.amplification_blocked {
        return None;
    }
    pto_timer(now, spaces, inputs)
}

/// The PTO deadline and its space (RFC 9002 §6.2.1, §A.8
/// `GetPtoTimeAndSpace`): the earliest `time_of_last_ack_eliciting + PTO`
/// among spaces with ack-eliciting packets in flight, the application space
/// only once the handshake is confirmed, with backoff `2^pto_count` shared by
/// all spaces. With nothing in flight before the peer validated our address,
/// the anti-deadlock PTO counts from `now`.
pub fn pto_timer(
    now: Instant,
    spaces: &[SpaceSummary; 3],
    inputs: &TimerInputs,
) -> Option<LossTimer> {
    let backoff = backoff(inputs.pto_count);
    let duration = pto_base(&inputs.rtt).saturating_mul(backoff);
    if !spaces.iter().any(|s| s.ack_eliciting_in_flight) {
        // RFC 9002 §6.2.2.1: a client must keep probing until the server
        // validated its address, even with nothing in flight.
        if inputs.peer_completed_address_validation {
            return None;
        }
        let space = if inputs.has_handshake_keys {
            SpaceId::Handshake
        } else {
            SpaceId::Initial
        };
        return Some(LossTimer {
            at: now.checked_add(duration)?,
            space,
            kind: TimerKind::AntiDeadlock,
        });
    }
    let mut best: Option<LossTimer> = None;
    for space in SpaceId::ALL {
        let summary = spaces[space as usize];
        if !summary.ack_eliciting_in_flight {
            continue;
        }
        let mut period = duration;
        if space == SpaceId::Data {
            // RFC 9002 §6.2.1: no application PTO before confirmation.
            if !inputs.handshake_confirmed {
                break;
            }
            // Only the application space waits for the peer's delayed ACKs;
            // Initial and Handshake are acknowledged at once (RFC 9000
            // §13.2.1).
            period = period.saturating_add(inputs.max_ack_delay.saturating_mul(backoff));
        }
        let Some(at) = summary
            .time_of_last_ack_eliciting
            .and_then(|t| t.checked_add(period))
        else {
            continue;
        };
        if best.is_none_or(|b| at < b.at) {
            best = Some(LossTimer {
                at,
                space,
                kind: TimerKind::Pto,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests;
