//! The receive side of acknowledgments for one packet number space (RFC 9000
//! §13.2): which packet numbers arrived (duplicate suppression, §12.3), when an
//! ACK frame is due, what it reports (ranges, ACK Delay, ECN counts, §13.4.1),
//! and which ranges no longer need repeating once the peer has seen them
//! (§13.2.4). The connection writes the frame; this module only decides.
//!
//! With [`AckConfig::decimated_threshold`] raised (off by default), when many
//! packets arrive per round trip, in-order packets are acknowledged every few
//! ack-eliciting packets, up to that threshold, or within a quarter of the RTT ("ACK decimation", as Chromium's QUIC does), instead of
//! every second one: RFC 9000 §13.2.2 lets a receiver that is CPU bound
//! acknowledge less often, and at high rates each ACK is a packet to build,
//! seal, send, open and process. The sender still hears [`ACKS_PER_RTT`]
//! times a round trip, so a small window is acknowledged as before; anything
//! out of order or CE-marked is acknowledged at once, so loss recovery is not
//! slowed.
//!
//! Why it stays off (kite-sim, 100 MB, 20 ms RTT): receiver packets per sender
//! packet fall 0.46 → 0.09 and wall time 0.25 → 0.18 s, equal on 1 %/5 % loss
//! and 100 Mbit/s–1 Gbit/s links, but an unlimited link runs 1281 → 989
//! Mbit/s (−21 to −23 % at every RTT tried, 4–80 ms). There the sender is
//! held by its 6 MiB stream window and send buffer alone and sends each
//! window in ~2 ms.
//! Off, the receiver's MAX_STREAM_DATA waits ~1.1 ms after it is due, till
//! the burst has all arrived (likely its pacer, drained by ~2100 ACK-only
//! packets a round trip, every datagram being charged to it), so the credit
//! `consumed + window` grants a full window: 6.45 MB in flight, 2.5 Gbit/s.
//! On, MAX_STREAM_DATA leaves as soon as the first packets of a burst arrive
//! (half the window left), so it grants only what the sender has not already
//! used: bursts lock at half a window, 3.2–3.6 MB, ~1330 Mbit/s. The fault is
//! in flow control (one update per half window, sent at once), not in ACK
//! timing; updates refreshed on every ACK-carrying packet would likely fix it.
//! On loopback it buys nothing: a receiver that drains its socket in batches
//! already sends one packet per ~97 received (1 GiB: 7905 off, 8999 on), and
//! `bench/compare.sh` medians of 12 runs each are within noise (download 8807
//! off / 8856 on, upload 9074 / 8897 Mbit/s).

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use super::ranges::RangeSet;
use crate::packet::SpaceId;

/// Ack-eliciting packets received before an ACK is sent without waiting
/// (RFC 9000 §13.2.2 recommends at least two, as TCP does).
pub const DEFAULT_ACK_ELICITING_THRESHOLD: u32 = 2;

/// ACKs per round trip a decimating receiver still sends: the threshold is
/// the ack-eliciting packets received in the last RTT divided by this, so
/// below 2 × 8 packets a round trip nothing changes. Fewer ACKs per round
/// leave the sender's window waiting and its bursts longer.
pub const ACKS_PER_RTT: u64 = 8;

/// The most ack-eliciting packets one decimated ACK waits for (Chromium's
/// value), for [`AckConfig::decimated_threshold`]: past ~10, the savings are
/// small and the sender's bursts long.
pub const DECIMATED_ACK_THRESHOLD: u32 = 10;

/// Once decimating, an ACK waits at most this fraction of the minimum RTT
/// (1/4, Chromium's value), and never past max_ack_delay.
pub const DECIMATED_ACK_DELAY_DIVISOR: u32 = 4;

/// Shortest decimated ACK delay: a timer shorter than this costs a wakeup
/// for nothing (RFC 9002 §6.1.2's kGranularity).
pub const MIN_DECIMATED_ACK_DELAY: Duration = Duration::from_millis(1);

/// Default for how long an ACK may be delayed: the max_ack_delay transport
/// parameter's default (RFC 9000 §18.2).
pub const DEFAULT_MAX_ACK_DELAY: Duration = Duration::from_millis(25);

/// Most ranges one ACK frame reports, highest first. RFC 9000 §13.2.3 lets a
/// receiver omit the oldest ranges to bound the frame; 32 ranges cost at most
/// ~530 bytes in the worst varint case and tolerate heavy reordering.
pub const MAX_ACK_RANGES: usize = 32;

/// Most ranges of received packet numbers remembered for duplicate detection
/// (RFC 9000 §12.3). Past it the lowest are dropped and everything below them
/// counts as seen, so a peer cannot grow this state by leaving gaps.
pub const MAX_TRACKED_RANGES: usize = 256;

/// The ECN codepoint of a received packet's IP header (RFC 3168 §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EcnCodepoint {
    /// Not ECN-capable (0b00).
    #[default]
    NotEct,
    /// ECN-capable, ECT(1) (0b01).
    Ect1,
    /// ECN-capable, ECT(0) (0b10).
    Ect0,
    /// Congestion experienced (0b11).
    Ce,
}

impl EcnCodepoint {
    /// The codepoint in the two low bits of an IP TOS / traffic class byte.
    pub fn from_bits(tos: u8) -> Self {
        match tos & 0b11 {
            0b01 => EcnCodepoint::Ect1,
            0b10 => EcnCodepoint::Ect0,
            0b11 => EcnCodepoint::Ce,
            _ => EcnCodepoint::NotEct,
        }
    }

    /// The codepoint's two bits.
    pub fn to_bits(self) -> u8 {
        match self {
            EcnCodepoint::NotEct => 0b00,
            EcnCodepoint::Ect1 => 0b01,
            EcnCodepoint::Ect0 => 0b10,
            EcnCodepoint::Ce => 0b11,
        }
    }
}

/// Packets received per ECN codepoint in one space: what an ACK_ECN frame
/// (type 0x03) carries (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EcnCounts {
    /// Packets marked ECT(0).
    pub ect0: u64,
    /// Packets marked ECT(1).
    pub ect1: u64,
    /// Packets marked ECN-CE.
    pub ce: u64,
}

/// When ACKs are sent in the application space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckConfig {
    /// ACK at once after this many unacknowledged ack-eliciting packets
    /// (0 counts as 1).
    pub ack_eliciting_threshold: u32,
    /// Our max_ack_delay transport parameter: the longest an ack-eliciting
    /// packet waits for its ACK.
    pub max_ack_delay: Duration,
    /// The most ack-eliciting packets a decimated ACK waits for (see the
    /// module doc); at or below `ack_eliciting_threshold`, ACKs are never
    /// decimated.
    pub decimated_threshold: u32,
}

impl Default for AckConfig {
    fn default() -> Self {
        AckConfig {
            ack_eliciting_threshold: DEFAULT_ACK_ELICITING_THRESHOLD,
            max_ack_delay: DEFAULT_MAX_ACK_DELAY,
            // Off by default: it cuts ACK packets five-fold at no cost on
            // bottlenecked and lossy paths, but a window-limited sender on an
            // unlimited link locks at half its window (see the module doc).
            decimated_threshold: DEFAULT_ACK_ELICITING_THRESHOLD,
        }
    }
}

/// Whether a received packet was new.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// First time seen: process it.
    New,
    /// Already processed, or below the tracked window: drop it
    /// (RFC 9000 §12.3).
    Duplicate,
}

/// Received packet numbers and ACK scheduling for one packet number space.
#[derive(Debug, Clone)]
pub struct AckTracker {
    /// Initial and Handshake packets are acknowledged at once (RFC 9000
    /// §13.2.1).
    immediate_space: bool,
    config: AckConfig,
    /// Received packet numbers at or above `floor`.
    received: RangeSet,
    /// Every packet number below this counts as already seen.
    floor: u64,
    /// ACK frames report nothing below this: the peer has seen an ACK of it
    /// (RFC 9000 §13.2.4).
    ack_floor: u64,
    /// Largest packet number received and when; kept whatever is dropped
    /// (RFC 9000 §13.2.3, it decodes packet numbers).
    largest: Option<(u64, Instant)>,
    largest_ack_eliciting: Option<u64>,
    /// Ack-eliciting packets received since the last ACK frame was sent.
    ack_eliciting_since_ack: u32,
    /// The connection's minimum RTT, for the decimated ACK delay and the
    /// arrival rate; `None` before a sample (no decimation then).
    min_rtt: Option<Duration>,
    /// Arrival rate: when the current RTT-long window began, the
    /// ack-eliciting packets in it, and those of the previous window.
    rate_window_start: Option<Instant>,
    rate_window_count: u64,
    packets_per_rtt: u64,
    /// Whether any packet arrived since the last ACK frame was sent.
    unacked: bool,
    /// When an ACK must go out: a past time for "now", the delayed-ACK
    /// deadline otherwise.
    ack_deadline: Option<Instant>,
    ecn: EcnCounts,
}

impl AckTracker {
    /// A tracker for `space`, with `config` used in the application space.
    pub fn new(space: SpaceId, config: AckConfig) -> Self {
        AckTracker {
            immediate_space: space != SpaceId::Data,
            config,
            received: RangeSet::new(),
            floor: 0,
            ack_floor: 0,
            largest: None,
            largest_ack_eliciting: None,
            ack_eliciting_since_ack: 0,
            min_rtt: None,
            rate_window_start: None,
            rate_window_count: 0,
            packets_per_rtt: 0,
            unacked: false,
            ack_deadline: None,
            ecn: EcnCounts::default(),
        }
    }

    /// Changes when ACKs are sent (e.g. on an ACK_FREQUENCY request); an
    /// armed deadline stays.
    pub fn set_config(&mut self, config: AckConfig) {
        self.config = config;
    }

    /// Tells the tracker the connection's minimum RTT, which bounds how long
    /// a decimated ACK waits.
    pub fn set_min_rtt(&mut self, min_rtt: Duration) {
        self.min_rtt = Some(min_rtt);
    }

    /// Whether `pn` was already received, or is too old to be tracked. Call
    /// after removing packet protection (RFC 9000 §12.3).
    pub fn is_duplicate(&self, pn: u64) -> bool {
        pn < self.floor || self.received.contains(pn)
    }

    /// Records a packet that was decrypted and processed, received at `now`
    /// with IP codepoint `ecn`, and schedules the ACK it calls for.
    pub fn on_packet_received(
        &mut self,
        now: Instant,
        pn: u64,
        ack_eliciting: bool,
        ecn: EcnCodepoint,
    ) -> Received {
        if self.is_duplicate(pn) || !self.received.insert_one(pn) {
            return Received::Duplicate;
        }
        if let Some(dropped_end) = self.received.truncate_lowest(MAX_TRACKED_RANGES) {
            self.floor = self.floor.max(dropped_end);
        }
        // RFC 9000 §13.4.1: duplicates never get here, so are not counted.
        match ecn {
            EcnCodepoint::NotEct => {}
            EcnCodepoint::Ect0 => self.ecn.ect0 += 1,
            EcnCodepoint::Ect1 => self.ecn.ect1 += 1,
            EcnCodepoint::Ce => self.ecn.ce += 1,
        }
        // A packet below what the peer saw acknowledged was never reported:
        // report from it again.
        self.ack_floor = self.ack_floor.min(pn);
        self.unacked = true;

        let below_largest = self.largest.is_some_and(|(largest, _)| pn < largest);
        if !below_largest {
            self.largest = Some((pn, now));
        }
        if !ack_eliciting {
            // RFC 9000 §13.2.1: a non-ack-eliciting packet never triggers an
            // ACK on its own; it rides along with the next one.
            return Received::New;
        }
        let gap_below = self.has_gap_below(pn);
        self.largest_ack_eliciting = self.largest_ack_eliciting.max(Some(pn));
        self.ack_eliciting_since_ack = self.ack_eliciting_since_ack.saturating_add(1);
        self.note_arrival(now);
        let (threshold, delay) = self.ack_policy();

        let immediate = self.immediate_space
            // RFC 9000 §13.2.1: out of order, either filling a gap or leaving one.
            || below_largest
            || gap_below
            // RFC 9000 §13.2.1: CE marks are reported without delay.
            || ecn == EcnCodepoint::Ce
            // RFC 9000 §13.2.2: every second ack-eliciting packet by default.
            || self.ack_eliciting_since_ack >= threshold;
        let deadline = if immediate {
            now
        } else {
            // RFC 9000 §13.2.1: within max_ack_delay of the first packet
            // left unacknowledged.
            now.checked_add(delay).unwrap_or(now)
        };
        self.ack_deadline = Some(self.ack_deadline.map_or(deadline, |d| d.min(deadline)));
        Received::New
    }

    /// When an ACK frame must be sent: a time at or before the triggering
    /// receive for an immediate ACK, the max_ack_delay deadline otherwise;
    /// `None` if no ack-eliciting packet waits.
    pub fn ack_deadline(&self) -> Option<Instant> {
        self.ack_deadline
    }

    /// Whether an ACK frame must be sent by `now`.
    pub fn is_ack_due(&self, now: Instant) -> bool {
        self.ack_deadline.is_some_and(|d| d <= now)
    }

    /// Whether packets arrived since the last ACK frame, ack-eliciting or
    /// not: an ACK may ride on a packet sent for another reason (RFC 9000
    /// §13.2).
    pub fn has_unacked(&self) -> bool {
        self.unacked
    }

    /// The ranges an ACK frame should carry, highest first, at most
    /// [`MAX_ACK_RANGES`], none below what the peer has seen acknowledged.
    /// Empty when there is nothing to report.
    pub fn ack_ranges(&self) -> impl Iterator<Item = RangeInclusive<u64>> + Clone + '_ {
        let floor = self.ack_floor;
        self.received
            .iter()
            .rev()
            .take_while(move |r| r.end > floor)
            .map(move |r| r.start.max(floor)..=r.end - 1)
            .take(MAX_ACK_RANGES)
    }

    /// The ACK Delay to report at `now`: time since the largest packet
    /// number was received (RFC 9000 §13.2.5), unscaled.
    pub fn ack_delay(&self, now: Instant) -> Duration {
        self.largest
            .map_or(Duration::ZERO, |(_, at)| now.saturating_duration_since(at))
    }

    /// ECN counts for an ACK_ECN frame, or `None` while no packet carried an
    /// ECN codepoint (send a plain ACK then).
    pub fn ecn_counts(&self) -> Option<EcnCounts> {
        (self.ecn != EcnCounts::default()).then_some(self.ecn)
    }

    /// Largest packet number received, for packet number decoding
    /// (RFC 9000 §17.1).
    pub fn largest_received(&self) -> Option<u64> {
        self.largest.map(|(pn, _)| pn)
    }

    /// Records that an ACK frame was just written: nothing is due until more
    /// packets arrive. The caller keeps the frame's Largest Acknowledged with
    /// the packet that carried it, for [`Self::on_ack_frame_acked`].
    pub fn on_ack_sent(&mut self) {
        self.ack_deadline = None;
        self.ack_eliciting_since_ack = 0;
        self.unacked = false;
    }

    /// The peer acknowledged a packet of ours carrying an ACK frame whose
    /// Largest Acknowledged was `largest_acked`: stop repeating everything up
    /// to it (RFC 9000 §13.2.4). Duplicate detection keeps its state.
    pub fn on_ack_frame_acked(&mut self, largest_acked: u64) {
        self.ack_floor = self.ack_floor.max(largest_acked.saturating_add(1));
    }

    /// Counts an ack-eliciting arrival in the current RTT-long window.
    fn note_arrival(&mut self, now: Instant) {
        let Some(rtt) = self.min_rtt.filter(|_| !self.immediate_space) else {
            return;
        };
        match self.rate_window_start {
            Some(start) if now.saturating_duration_since(start) < rtt => {
                self.rate_window_count += 1;
            }
            _ => {
                if self.rate_window_start.is_some() {
                    self.packets_per_rtt = self.rate_window_count;
                }
                self.rate_window_start = Some(now);
                self.rate_window_count = 1;
            }
        }
    }

    /// How many ack-eliciting packets to ACK at once and how long the first
    /// of them may wait: RFC 9000's every-second-packet within
    /// max_ack_delay, or decimated when many arrive per round trip.
    fn ack_policy(&self) -> (u32, Duration) {
        let base = self.config.ack_eliciting_threshold.max(1);
        let flight = self.packets_per_rtt.max(self.rate_window_count);
        let decimated = u32::try_from(flight / ACKS_PER_RTT)
            .unwrap_or(u32::MAX)
            .min(self.config.decimated_threshold);
        let Some(rtt) = self.min_rtt.filter(|_| decimated > base) else {
            return (base, self.config.max_ack_delay);
        };
        // Wait about twice as long as `decimated` packets take to arrive at
        // the current rate: a sender whose window or buffer ran out sends no
        // more until acknowledged, so its last few packets should not sit
        // for the whole quarter RTT.
        let arrivals =
            rtt.saturating_mul(2 * decimated) / u32::try_from(flight).unwrap_or(u32::MAX);
        let delay = arrivals
            .min(rtt / DECIMATED_ACK_DELAY_DIVISOR)
            .max(MIN_DECIMATED_ACK_DELAY);
        (decimated, delay.min(self.config.max_ack_delay))
    }

    /// Whether packet numbers are missing between the last ack-eliciting
    /// packet (or the floor, before any) and `pn`, which was just inserted.
    fn has_gap_below(&self, pn: u64) -> bool {
        let expected = self
            .largest_ack_eliciting
            .map_or(self.floor, |l| l.saturating_add(1))
            .max(self.floor);
        if pn <= expected {
            return false;
        }
        // Everything from `expected` up to `pn` arrived iff the range holding
        // `pn` reaches down to `expected`.
        self.received
            .range_containing(pn)
            .is_some_and(|r| r.start > expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn app() -> AckTracker {
        AckTracker::new(SpaceId::Data, AckConfig::default())
    }

    fn recv(t: &mut AckTracker, now: Instant, pn: u64, ack_eliciting: bool) -> Received {
        t.on_packet_received(now, pn, ack_eliciting, EcnCodepoint::NotEct)
    }

    fn ranges(t: &AckTracker) -> Vec<RangeInclusive<u64>> {
        t.ack_ranges().collect()
    }

    /// RFC 9000 §13.2.1: Initial and Handshake packets are acked at once.
    #[test]
    fn initial_and_handshake_spaces_ack_every_ack_eliciting_packet_at_once() {
        let now = Instant::now();
        for space in [SpaceId::Initial, SpaceId::Handshake] {
            let mut t = AckTracker::new(space, AckConfig::default());
            assert_eq!(recv(&mut t, now, 0, true), Received::New);
            assert!(t.is_ack_due(now));
        }
    }

    /// RFC 9000 §13.2.1: a packet that is not ack-eliciting never arms an
    /// ACK, in any space, but is reported with the next one.
    #[test]
    fn non_ack_eliciting_packet_never_arms_an_ack() {
        let now = Instant::now();
        for space in SpaceId::ALL {
            let mut t = AckTracker::new(space, AckConfig::default());
            assert_eq!(recv(&mut t, now, 0, false), Received::New);
            assert_eq!(t.ack_deadline(), None);
            assert!(t.has_unacked());
            assert_eq!(ranges(&t), [0..=0]);
        }
        // Not even when it leaves a gap.
        let mut t = app();
        let _ = recv(&mut t, now, 5, false);
        assert_eq!(t.ack_deadline(), None);
    }

    fn decimating() -> AckTracker {
        let mut t = AckTracker::new(
            SpaceId::Data,
            AckConfig {
                decimated_threshold: DECIMATED_ACK_THRESHOLD,
                ..AckConfig::default()
            },
        );
        t.set_min_rtt(MS * 20);
        t
    }

    /// Receives `count` in-order ack-eliciting packets from `first`, `gap`
    /// apart, sending an ACK whenever one is due; returns the ACKs sent.
    fn stream(t: &mut AckTracker, start: Instant, first: u64, count: u64, gap: Duration) -> u64 {
        let mut acks = 0;
        for i in 0..count {
            let now = start + gap * i as u32;
            let _ = recv(t, now, first + i, true);
            if t.is_ack_due(now) {
                t.on_ack_sent();
                acks += 1;
            }
        }
        acks
    }

    /// Decimation is off by default: every second packet is acknowledged
    /// however many arrive (RFC 9000 §13.2.2).
    #[test]
    fn acks_are_not_decimated_by_default() {
        let now = Instant::now();
        let mut t = app();
        t.set_min_rtt(MS * 20);
        assert_eq!(stream(&mut t, now, 0, 1000, MS / 50), 500);
    }

    /// Hundreds of packets a round trip: one ACK per ten of them.
    #[test]
    fn many_packets_per_rtt_are_acked_every_tenth() {
        let now = Instant::now();
        let mut t = decimating();
        // 1000 packets per 20 ms RTT: the first round trip is measured at
        // every second packet, then ACKs cover ten.
        let _ = stream(&mut t, now, 0, 1000, MS / 50);
        let acks = stream(&mut t, now + MS * 20, 1000, 1000, MS / 50);
        assert_eq!(acks, 100);
    }

    /// A small window (here 10 packets a round trip) is acknowledged every
    /// second packet as without decimation.
    #[test]
    fn few_packets_per_rtt_are_acked_every_second() {
        let now = Instant::now();
        let mut t = decimating();
        let acks = stream(&mut t, now, 0, 100, MS * 2);
        assert_eq!(acks, 50);
    }

    /// A decimated ACK waits for a few packets' arrival time, not a whole
    /// max_ack_delay, and anything out of order is still acked at once.
    #[test]
    fn decimated_ack_waits_briefly_and_reordering_acks_at_once() {
        let now = Instant::now();
        let mut t = decimating();
        let _ = stream(&mut t, now, 0, 2000, MS / 50);
        let later = now + MS * 40;
        let _ = recv(&mut t, later, 2000, true);
        let deadline = t.ack_deadline().unwrap();
        assert!(
            deadline > later && deadline <= later + MS * 5,
            "{:?}",
            deadline - later
        );
        let _ = recv(&mut t, later, 2002, true);
        assert!(
            t.is_ack_due(later),
            "RFC 9000 §13.2.1: a gap is acked at once"
        );
    }

    /// RFC 9000 §13.2.1: one ack-eliciting packet waits max_ack_delay.
    #[test]
    fn application_space_delays_ack_by_max_ack_delay() {
        let now = Instant::now();
        let mut t = app();
        let _ = recv(&mut t, now, 0, true);
        assert_eq!(t.ack_deadline(), Some(now + DEFAULT_MAX_ACK_DELAY));
        assert!(!t.is_ack_due(now + MS * 24));
        assert!(t.is_ack_due(now + DEFAULT_MAX_ACK_DELAY));
    }

    /// RFC 9000 §13.2.2: an ACK after every second ack-eliciting packet.
    #[test]
    fn second_ack_eliciting_packet_triggers_immediate_ack() {
        let now = Instant::now();
        let mut t = app();
        let _ = recv(&mut t, now, 0, true);
        let _ = recv(&mut t, now + MS, 1, false);
        assert!(!t.is_ack_due(now + MS));
        let _ = recv(&mut t, now + MS * 2, 2, true);
        assert!(t.is_ack_due(now + MS * 2));
        t.on_ack_sent();
        assert_eq!(t.ack_deadline(), None);
        let _ = recv(&mut t, now + MS * 3, 3, true);
        assert!(!t.is_ack_due(now + MS * 3));
    }

    #[test]
    fn ack_eliciting_threshold_is_configurable() {
        let now = Instant::now();
        let mut t = AckTracker::new(
            SpaceId::Data,
            AckConfig {
                ack_eliciting_threshold: 4,
                max_ack_delay: MS * 10,
                ..AckConfig::default()
            },
        );
        for pn in 0..3 {
            let _ = recv(&mut t, now, pn, true);
            assert!(!t.is_ack_due(now));
        }
        let _ = recv(&mut t, now, 3, true);
        assert!(t.is_ack_due(now));
    }

    /// RFC 9000 §13.2.1: a packet below one already received (filling a
    /// gap) is acknowledged without delay.
    #[test]
    fn packet_filling_a_gap_is_acked_immediately() {
        let now = Instant::now();
        let mut t = app();
        let _ = recv(&mut t, now, 0, true);
        let _ = recv(&mut t, now, 2, true);
        t.on_ack_sent();
        let _ = recv(&mut t, now + MS, 1, true);
        assert!(t.is_ack_due(now + MS));
        assert_eq!(ranges(&t), [0..=2]);
    }

    /// RFC 9000 §13.2.1: a packet leaving missing numbers below it is
    /// acknowledged without delay.
    #[test]
    fn packet_leaving_a_gap_is_acked_immediately() {
        let now = Instant::now();
        let mut t = app();
        let _ = recv(&mut t, now, 0, true);
        t.on_ack_sent();
        let _ = recv(&mut t, now + MS, 2, true);
        assert!(t.is_ack_due(now + MS));
        assert_eq!(ranges(&t), [2..=2, 0..=0]);
    }

    #[test]
    fn first_packet_after_lost_ones_is_acked_immediately() {
        let now = Instant::now();
        let mut t = app();
        let _ = recv(&mut t, now, 3, true);
        assert!(t.is_ack_due(now));
    }

    /// Missing numbers are judged against received packets of any kind: a
    /// non-ack-eliciting packet in between is not a gap.
    #[test]
    fn received_non_ack_eliciting_packets_are_not_a_gap() {
        let now = Instant::now();
        let mut t = app();
        let _ = recv(&mut t, now, 0, true);
        t.on_ack_sent();
        let _ = recv(&mut t, now, 1, false);
        let _ = recv(&mut t, now, 2, true);
        assert!(!t.is_ack_due(now));
        // Number 4 missing between 3 (not ack-eliciting) and 5.
        t.on_ack_sent();
        let _ = recv(&mut t, now, 3, false);
        let _ = recv(&mut t, now, 5, true);
        assert!(t.is_ack_due(now));
    }

    /// RFC 9000 §13.2.1: CE-marked packets are acknowledged at once.
    #[test]
    fn ce_marked_packet_is_acked_immediately() {
        let now = Instant::now();
        let mut t = app();
        let _ = t.on_packet_received(now, 0, true, EcnCodepoint::Ce);
        assert!(t.is_ack_due(now));
        assert_eq!(
            t.ecn_counts(),
            Some(EcnCounts {
                ect0: 0,
                ect1: 0,
                ce: 1
            })
        );
    }

    /// RFC 9000 §12.3, §13.4.1: a duplicate is reported, and changes neither
    /// the ACK schedule nor the ECN counts.
    #[test]
    fn duplicate_packet_is_reported_and_not_counted() {
        let now = Instant::now();
        let mut t = app();
        let _ = t.on_packet_received(now, 0, true, EcnCodepoint::Ect0);
        t.on_ack_sent();
        assert!(t.is_duplicate(0));
        assert_eq!(
            t.on_packet_received(now, 0, true, EcnCodepoint::Ect0),
            Received::Duplicate
        );
        assert_eq!(t.ack_deadline(), None);
        assert!(!t.has_unacked());
        assert_eq!(t.ecn_counts().map(|c| c.ect0), Some(1));
    }

    /// RFC 9000 §12.3: past the tracked ranges, everything below the lowest
    /// kept range counts as seen.
    #[test]
    fn packets_below_tracked_window_are_duplicates() {
        let now = Instant::now();
        let mut t = app();
        for i in 0..=MAX_TRACKED_RANGES as u64 {
            let _ = recv(&mut t, now, i * 2, true);
        }
        // Range {0} was dropped: 0 counts as seen, the never-received 1 above
        // it is still accepted.
        assert!(t.is_duplicate(0));
        assert_eq!(recv(&mut t, now, 0, true), Received::Duplicate);
        assert!(!t.is_duplicate(1));
        assert_eq!(recv(&mut t, now, 1, true), Received::New);
        // One range too many again: the lowest, 1..=2, goes.
        let _ = recv(&mut t, now, 1000, true);
        assert!(t.is_duplicate(2));
        assert!(!t.is_duplicate(3));
    }

    /// RFC 9000 §13.2.3: ranges go highest first, at most MAX_ACK_RANGES.
    #[test]
    fn ack_ranges_are_descending_and_bounded() {
        let now = Instant::now();
        let mut t = app();
        for i in 0..40u64 {
            let _ = recv(&mut t, now, i * 3, true);
            let _ = recv(&mut t, now, i * 3 + 1, true);
        }
        let r = ranges(&t);
        assert_eq!(r.len(), MAX_ACK_RANGES);
        assert_eq!(r[0], 117..=118);
        assert!(r.windows(2).all(|w| w[0].start() > w[1].end()));
        assert_eq!(t.largest_received(), Some(118));
    }

    /// RFC 9000 §13.2.4: once the peer acknowledged our ACK, the ranges it
    /// covered are not repeated, but duplicates are still caught.
    #[test]
    fn acknowledged_ack_frame_stops_repeating_its_ranges() {
        let now = Instant::now();
        let mut t = app();
        for pn in [0, 1, 2, 4, 5] {
            let _ = recv(&mut t, now, pn, true);
        }
        t.on_ack_sent();
        t.on_ack_frame_acked(4);
        assert_eq!(ranges(&t), [5..=5]);
        let _ = recv(&mut t, now, 6, true);
        assert_eq!(ranges(&t), [5..=6]);
        t.on_ack_frame_acked(6);
        assert!(ranges(&t).is_empty());
        assert!(t.is_duplicate(1));
        // A late packet below the acknowledged part is reported again.
        assert_eq!(recv(&mut t, now, 3, true), Received::New);
        assert_eq!(ranges(&t), [3..=6]);
    }

    /// RFC 9000 §13.2.5: ACK Delay counts from the largest packet's arrival.
    #[test]
    fn ack_delay_is_time_since_largest_was_received() {
        let now = Instant::now();
        let mut t = app();
        assert_eq!(t.ack_delay(now), Duration::ZERO);
        let _ = recv(&mut t, now, 5, true);
        let _ = recv(&mut t, now + MS * 3, 4, true);
        assert_eq!(t.ack_delay(now + MS * 10), MS * 10);
    }

    #[test]
    fn ecn_counts_are_absent_until_a_marked_packet_arrives() {
        let now = Instant::now();
        let mut t = app();
        let _ = recv(&mut t, now, 0, true);
        assert_eq!(t.ecn_counts(), None);
        let _ = t.on_packet_received(now, 1, true, EcnCodepoint::from_bits(0b10));
        let _ = t.on_packet_received(now, 2, true, EcnCodepoint::from_bits(0b01));
        assert_eq!(
            t.ecn_counts(),
            Some(EcnCounts {
                ect0: 1,
                ect1: 1,
                ce: 0
            })
        );
    }

    #[test]
    fn ecn_codepoint_bits_round_trip() {
        for bits in 0..4u8 {
            assert_eq!(EcnCodepoint::from_bits(bits).to_bits(), bits);
        }
        assert_eq!(EcnCodepoint::from_bits(0xff), EcnCodepoint::Ce);
    }
}
