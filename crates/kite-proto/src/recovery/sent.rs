//! Sent-packet tracking for one packet number space (RFC 9002 §A.1): every
//! packet sent and not yet acknowledged, lost or discarded, with the caller's
//! payload `T` (the frames to retransmit), bytes in flight, and the reading of
//! a peer's ACK ranges (RFC 9000 §13.1, RFC 9002 §5.1). Loss detection itself
//! lives in [`super::loss`].
//!
//! Packets sit in a `VecDeque` indexed by `pn - base`: packet numbers are sent
//! in order, so sending is a push, finding a packet is an index, and the oldest
//! outstanding packet is the front. Acknowledged and lost packets leave a
//! tombstone until the front catches up. Unlike a `BTreeMap`, nothing is
//! allocated per packet once the deque has grown to the flight size, and loss
//! detection walks contiguous memory in packet-number order.

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use crate::error::TransportError;

/// How many deliberately skipped packet numbers are remembered for the
/// optimistic-ACK check (RFC 9000 §21.4). A skip every few thousand packets
/// and acknowledgments arriving within a few RTTs make 64 plenty; forgetting
/// an old skip only means an ACK of it is no longer caught.
pub const MAX_SKIPPED_PNS: usize = 64;

/// One sent packet, as loss recovery needs it (RFC 9002 §A.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPacket<T> {
    /// Packet number.
    pub pn: u64,
    /// When it was sent.
    pub time_sent: Instant,
    /// Bytes it took on the wire (UDP payload share); QUIC packets never
    /// exceed a UDP payload, so 16 bits hold it.
    pub size: u16,
    /// Whether it holds a frame other than ACK, PADDING or CONNECTION_CLOSE
    /// (RFC 9002 §2).
    pub ack_eliciting: bool,
    /// Whether it counts toward bytes in flight: ack-eliciting or PADDING
    /// (RFC 9002 §2).
    pub in_flight: bool,
    /// What the caller needs when it is acknowledged or lost (its frames).
    pub payload: T,
}

/// What is left in a slot once its packet is gone.
#[derive(Debug)]
pub(super) enum Slot<T> {
    /// Still outstanding.
    Live(SentPacket<T>),
    /// Acknowledged by the peer.
    Acked,
    /// Declared lost.
    Lost,
    /// Never sent: the number was skipped on purpose.
    Skipped,
}

/// An ACK frame covered a packet number we never sent.
///
/// RFC 9000 §13.1: an endpoint may treat this as a PROTOCOL_VIOLATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The packet number is at or past the next one to be sent.
    #[error("ACK of packet {0}, which was not sent yet")]
    Unsent(u64),
    /// The packet number was skipped on purpose: the peer is acknowledging
    /// packets it never received (optimistic ACK, RFC 9000 §21.4).
    #[error("ACK of skipped packet number {0}")]
    Skipped(u64),
}

impl From<AckError> for TransportError {
    fn from(err: AckError) -> Self {
        match err {
            AckError::Unsent(_) => TransportError::protocol_violation("ACK of an unsent packet"),
            AckError::Skipped(_) => {
                TransportError::protocol_violation("ACK of a skipped packet number")
            }
        }
    }
}

/// The largest packet an ACK newly acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckedPacketInfo {
    /// Its packet number.
    pub pn: u64,
    /// When it was sent.
    pub time_sent: Instant,
    /// Whether it was ack-eliciting.
    pub ack_eliciting: bool,
}

/// What one ACK frame did to a space's sent packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// The frame's Largest Acknowledged (`None` for a frame without ranges).
    pub largest_acked: Option<u64>,
    /// The largest packet this frame newly acknowledged.
    pub largest_newly_acked: Option<AckedPacketInfo>,
    /// Whether any newly acknowledged packet was ack-eliciting.
    pub includes_ack_eliciting: bool,
    /// How many packets were newly acknowledged.
    pub newly_acked: usize,
    /// Bytes of in-flight packets newly acknowledged.
    pub acked_bytes: u64,
}

impl AckOutcome {
    /// The RTT sample this ACK gives, if any. RFC 9002 §5.1: only when the
    /// Largest Acknowledged is newly acknowledged and at least one newly
    /// acknowledged packet is ack-eliciting.
    pub fn rtt_sample(&self, now: Instant) -> Option<Duration> {
        let largest = self.largest_newly_acked?;
        (Some(largest.pn) == self.largest_acked && self.includes_ack_eliciting)
            .then(|| now.saturating_duration_since(largest.time_sent))
    }
}

/// The sent packets of one packet number space and their accounting.
#[derive(Debug)]
pub struct SentPackets<T> {
    /// Slot `i` is packet number `base + i`; the front is always `Live`.
    pub(super) slots: VecDeque<Slot<T>>,
    /// Packet number of `slots[0]`; equals `next_pn` when empty.
    pub(super) base: u64,
    /// The next packet number to send: `base + slots.len()`.
    next_pn: u64,
    /// Deliberately skipped packet numbers, ascending, the last
    /// [`MAX_SKIPPED_PNS`] only.
    skipped: VecDeque<u64>,
    /// Largest packet number the peer has acknowledged in this space.
    largest_acked: Option<u64>,
    /// Number of `Live` slots.
    live: usize,
    bytes_in_flight: u64,
    ack_eliciting_in_flight: usize,
    time_of_last_ack_eliciting: Option<Instant>,
    /// When the earliest packet not yet lost by the time threshold will be
    /// (RFC 9002 §6.1.2); set by [`super::loss::detect_lost`].
    pub(super) loss_time: Option<Instant>,
}

impl<T> Default for SentPackets<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> SentPackets<T> {
    /// An empty space; its first packet number is 0.
    pub fn new() -> Self {
        SentPackets {
            slots: VecDeque::new(),
            base: 0,
            next_pn: 0,
            skipped: VecDeque::new(),
            largest_acked: None,
            live: 0,
            bytes_in_flight: 0,
            ack_eliciting_in_flight: 0,
            time_of_last_ack_eliciting: None,
            loss_time: None,
        }
    }

    /// Records a packet just sent. Its number must be [`Self::next_pn`]; a
    /// larger one marks the numbers in between as skipped, a smaller one is a
    /// caller bug and the packet is not tracked.
    pub fn on_packet_sent(&mut self, packet: SentPacket<T>) {
        debug_assert!(packet.pn >= self.next_pn, "packet numbers must increase");
        if packet.pn < self.next_pn {
            return;
        }
        while self.next_pn < packet.pn {
            self.skip_pn();
        }
        if packet.in_flight {
            self.bytes_in_flight += u64::from(packet.size);
            if packet.ack_eliciting {
                self.ack_eliciting_in_flight += 1;
            }
        }
        if packet.ack_eliciting {
            self.time_of_last_ack_eliciting = Some(packet.time_sent);
        }
        if self.slots.is_empty() {
            self.base = packet.pn;
        }
        self.slots.push_back(Slot::Live(packet));
        self.live += 1;
        self.next_pn += 1;
    }

    /// Skips the next packet number on purpose and returns it: an ACK that
    /// covers it proves the peer acknowledges what it never received
    /// (optimistic-ACK defence, RFC 9000 §21.4).
    pub fn skip_pn(&mut self) -> u64 {
        let pn = self.next_pn;
        if self.skipped.len() == MAX_SKIPPED_PNS {
            self.skipped.pop_front();
        }
        self.skipped.push_back(pn);
        self.slots.push_back(Slot::Skipped);
        self.next_pn += 1;
        self.trim_front();
        pn
    }

    /// Processes an ACK frame's ranges, given in descending order as decoded.
    ///
    /// Every newly acknowledged packet is removed and handed to `on_acked`
    /// (descending packet number order). The ranges are checked before
    /// anything changes: a range reaching a packet number never sent or
    /// deliberately skipped returns an error and leaves the state as it was.
    pub fn on_ack_received<I>(
        &mut self,
        ranges: I,
        mut on_acked: impl FnMut(SentPacket<T>),
    ) -> Result<AckOutcome, AckError>
    where
        I: IntoIterator<Item = RangeInclusive<u64>>,
        I::IntoIter: Clone,
    {
        let ranges = ranges.into_iter();
        let mut outcome = AckOutcome::default();
        for range in ranges.clone() {
            let (low, high) = (*range.start(), *range.end());
            if low > high {
                continue;
            }
            // RFC 9000 §13.1: an ACK for a packet never sent.
            if high >= self.next_pn {
                return Err(AckError::Unsent(low.max(self.next_pn)));
            }
            if let Some(pn) = self.skipped_in(low, high) {
                return Err(AckError::Skipped(pn));
            }
            outcome.largest_acked = outcome.largest_acked.max(Some(high));
        }
        if outcome.largest_acked.is_none() {
            return Ok(outcome);
        }
        self.largest_acked = self.largest_acked.max(outcome.largest_acked);

        for range in ranges {
            // Below `base` everything is already gone; `high < next_pn` was
            // checked above.
            let low = (*range.start()).max(self.base);
            let high = *range.end();
            if low > high {
                continue;
            }
            for pn in (low..=high).rev() {
                let Some(packet) = self.take(pn, Slot::Acked) else {
                    continue;
                };
                if outcome.largest_newly_acked.is_none() {
                    outcome.largest_newly_acked = Some(AckedPacketInfo {
                        pn,
                        time_sent: packet.time_sent,
                        ack_eliciting: packet.ack_eliciting,
                    });
                }
                outcome.includes_ack_eliciting |= packet.ack_eliciting;
                outcome.newly_acked += 1;
                if packet.in_flight {
                    outcome.acked_bytes += u64::from(packet.size);
                }
                on_acked(packet);
            }
        }
        self.trim_front();
        Ok(outcome)
    }

    /// Drops every outstanding packet, handing each to `on_discarded`, when
    /// the space's keys are discarded (RFC 9002 §6.4): they leave bytes in
    /// flight and stop arming timers. Returns the in-flight bytes removed.
    pub fn discard(&mut self, mut on_discarded: impl FnMut(SentPacket<T>)) -> u64 {
        let removed = self.bytes_in_flight;
        for slot in self.slots.drain(..) {
            if let Slot::Live(packet) = slot {
                on_discarded(packet);
            }
        }
        self.base = self.next_pn;
        self.live = 0;
        self.bytes_in_flight = 0;
        self.ack_eliciting_in_flight = 0;
        self.time_of_last_ack_eliciting = None;
        self.loss_time = None;
        removed
    }

    /// The next packet number to send.
    pub fn next_pn(&self) -> u64 {
        self.next_pn
    }

    /// Largest packet number the peer acknowledged in this space.
    pub fn largest_acked(&self) -> Option<u64> {
        self.largest_acked
    }

    /// Bytes of outstanding in-flight packets in this space.
    pub fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// Whether an ack-eliciting packet is outstanding in flight (RFC 9002
    /// §6.2.1 arms the PTO only then).
    pub fn has_ack_eliciting_in_flight(&self) -> bool {
        self.ack_eliciting_in_flight > 0
    }

    /// When the last ack-eliciting packet was sent in this space.
    pub fn time_of_last_ack_eliciting(&self) -> Option<Instant> {
        self.time_of_last_ack_eliciting
    }

    /// The time-threshold loss deadline of this space (RFC 9002 §6.1.2), as
    /// left by the last [`super::loss::detect_lost`].
    pub fn loss_time(&self) -> Option<Instant> {
        self.loss_time
    }

    /// Number of outstanding packets.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no packet is outstanding.
    pub fn is_empty(&self) -> bool {
        // The front is always live, so an empty deque means none.
        self.slots.is_empty()
    }

    /// The outstanding packets, oldest first (for PTO probes that resend
    /// the oldest data, RFC 9002 §6.2.4).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &SentPacket<T>> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Live(p) => Some(p),
            _ => None,
        })
    }

    /// The outstanding packet numbered `pn`.
    pub fn get(&self, pn: u64) -> Option<&SentPacket<T>> {
        match self.slot_index(pn).and_then(|i| self.slots.get(i)) {
            Some(Slot::Live(p)) => Some(p),
            _ => None,
        }
    }

    /// The first deliberately skipped packet number in `low..=high`.
    fn skipped_in(&self, low: u64, high: u64) -> Option<u64> {
        let i = self.skipped.partition_point(|&pn| pn < low);
        self.skipped.get(i).copied().filter(|&pn| pn <= high)
    }

    fn slot_index(&self, pn: u64) -> Option<usize> {
        usize::try_from(pn.checked_sub(self.base)?).ok()
    }

    /// Removes the live packet `pn`, leaving `tombstone`, and updates the
    /// accounting. The caller trims the front afterwards.
    pub(super) fn take(&mut self, pn: u64, tombstone: Slot<T>) -> Option<SentPacket<T>> {
        let slot = self.slots.get_mut(self.slot_index(pn)?)?;
        if !matches!(slot, Slot::Live(_)) {
            return None;
        }
        let Slot::Live(packet) = std::mem::replace(slot, tombstone) else {
            return None;
        };
        self.live -= 1;
        if packet.in_flight {
            self.bytes_in_flight -= u64::from(packet.size);
            if packet.ack_eliciting {
                self.ack_eliciting_in_flight -= 1;
            }
        }
        Some(packet)
    }

    /// Pops tombstones off the front so that it is live again.
    pub(super) fn trim_front(&mut self) {
        while let Some(front) = self.slots.front() {
            if matches!(front, Slot::Live(_)) {
                break;
            }
            self.slots.pop_front();
            self.base += 1;
        }
        if self.slots.is_empty() {
            self.base = self.next_pn;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn packet(pn: u64, t0: Instant, ack_eliciting: bool) -> SentPacket<u64> {
        SentPacket {
            pn,
            time_sent: t0 + MS * pn as u32,
            size: 1000,
            ack_eliciting,
            in_flight: ack_eliciting,
            payload: pn * 10,
        }
    }

    fn space(t0: Instant, count: u64) -> SentPackets<u64> {
        let mut sent = SentPackets::new();
        for pn in 0..count {
            sent.on_packet_sent(packet(pn, t0, true));
        }
        sent
    }

    fn ack(
        sent: &mut SentPackets<u64>,
        ranges: &[RangeInclusive<u64>],
    ) -> Result<(AckOutcome, Vec<u64>), AckError> {
        let mut acked = Vec::new();
        let outcome = sent.on_ack_received(ranges.iter().cloned(), |p| acked.push(p.payload))?;
        Ok((outcome, acked))
    }

    #[test]
    fn sending_accounts_bytes_and_ack_eliciting_in_flight() {
        let t0 = Instant::now();
        let mut sent = space(t0, 3);
        sent.on_packet_sent(packet(3, t0, false));
        assert_eq!(sent.bytes_in_flight(), 3000);
        assert!(sent.has_ack_eliciting_in_flight());
        assert_eq!(sent.time_of_last_ack_eliciting(), Some(t0 + MS * 2));
        assert_eq!((sent.len(), sent.next_pn()), (4, 4));
    }

    #[test]
    fn ack_hands_back_newly_acked_payloads_in_descending_order() {
        let t0 = Instant::now();
        let mut sent = space(t0, 6);
        let (outcome, acked) = ack(&mut sent, &[4..=5, 0..=1]).unwrap();
        assert_eq!(acked, [50, 40, 10, 0]);
        assert_eq!(outcome.newly_acked, 4);
        assert_eq!(outcome.acked_bytes, 4000);
        assert_eq!(outcome.largest_acked, Some(5));
        assert_eq!(sent.bytes_in_flight(), 2000);
        assert_eq!(sent.iter().map(|p| p.pn).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(sent.largest_acked(), Some(5));
    }

    #[test]
    fn repeated_ack_acknowledges_nothing_new() {
        let t0 = Instant::now();
        let mut sent = space(t0, 3);
        ack(&mut sent, &[0..=2]).unwrap();
        let (outcome, acked) = ack(&mut sent, &[0..=2]).unwrap();
        assert!(acked.is_empty());
        assert_eq!(outcome.newly_acked, 0);
        assert_eq!(outcome.rtt_sample(t0), None);
        assert!(sent.is_empty());
    }

    /// RFC 9002 §5.1: an RTT sample needs the largest acknowledged newly
    /// acked and an ack-eliciting packet among the newly acked.
    #[test]
    fn rtt_sample_only_when_largest_is_newly_acked_and_ack_eliciting() {
        let t0 = Instant::now();
        let mut sent = space(t0, 4);
        let now = t0 + MS * 50;
        let (outcome, _) = ack(&mut sent, &[3..=3]).unwrap();
        assert_eq!(outcome.rtt_sample(now), Some(MS * 47));
        // Largest (3) already acked: newly acking 1 gives no sample.
        let (outcome, _) = ack(&mut sent, &[3..=3, 1..=1]).unwrap();
        assert_eq!(outcome.newly_acked, 1);
        assert_eq!(outcome.rtt_sample(now), None);

        let mut sent = SentPackets::new();
        sent.on_packet_sent(packet(0, t0, false));
        let (outcome, _) = ack(&mut sent, &[0..=0]).unwrap();
        assert_eq!(outcome.newly_acked, 1);
        assert_eq!(outcome.rtt_sample(now), None);
    }

    /// RFC 9000 §13.1: an ACK of a packet never sent is an error, and the
    /// state is left untouched.
    #[test]
    fn ack_of_unsent_packet_is_an_error_and_changes_nothing() {
        let t0 = Instant::now();
        let mut sent = space(t0, 3);
        assert_eq!(ack(&mut sent, &[2..=3]), Err(AckError::Unsent(3)));
        assert_eq!(ack(&mut sent, &[10..=12, 0..=1]), Err(AckError::Unsent(10)));
        assert_eq!(sent.len(), 3);
        assert_eq!(sent.largest_acked(), None);
        let err: TransportError = AckError::Unsent(3).into();
        assert_eq!(err.code, crate::TransportErrorCode::PROTOCOL_VIOLATION);
    }

    /// RFC 9000 §21.4: acknowledging a deliberately skipped number proves an
    /// optimistic ACK.
    #[test]
    fn ack_of_skipped_packet_number_is_an_error() {
        let t0 = Instant::now();
        let mut sent = space(t0, 2);
        assert_eq!(sent.skip_pn(), 2);
        sent.on_packet_sent(packet(3, t0, true));
        assert_eq!(ack(&mut sent, &[0..=3]), Err(AckError::Skipped(2)));
        assert_eq!(sent.len(), 3);
        // Ranges around the hole are fine.
        let (outcome, acked) = ack(&mut sent, &[3..=3, 0..=1]).unwrap();
        assert_eq!((outcome.newly_acked, acked), (3, vec![30, 10, 0]));
        // Still caught once everything around it is gone.
        assert!(sent.is_empty());
        assert_eq!(ack(&mut sent, &[2..=2]), Err(AckError::Skipped(2)));
    }

    #[test]
    fn gap_in_sent_packet_numbers_counts_as_skipped() {
        let t0 = Instant::now();
        let mut sent = space(t0, 1);
        sent.on_packet_sent(packet(3, t0, true));
        assert_eq!(sent.next_pn(), 4);
        assert_eq!(ack(&mut sent, &[1..=1]), Err(AckError::Skipped(1)));
        assert_eq!(sent.get(3).map(|p| p.payload), Some(30));
        assert!(sent.get(1).is_none());
    }

    /// RFC 9002 §6.4: discarding keys removes the space's packets from
    /// bytes in flight and from the timers.
    #[test]
    fn discard_drops_every_packet_and_resets_accounting() {
        let t0 = Instant::now();
        let mut sent = space(t0, 3);
        let mut dropped = Vec::new();
        assert_eq!(sent.discard(|p| dropped.push(p.pn)), 3000);
        assert_eq!(dropped, [0, 1, 2]);
        assert_eq!(sent.bytes_in_flight(), 0);
        assert!(!sent.has_ack_eliciting_in_flight());
        assert_eq!(sent.time_of_last_ack_eliciting(), None);
        assert_eq!(sent.next_pn(), 3);
    }

    #[test]
    fn empty_ack_is_a_no_op() {
        let t0 = Instant::now();
        let mut sent = space(t0, 2);
        let (outcome, acked) = ack(&mut sent, &[]).unwrap();
        assert_eq!(outcome, AckOutcome::default());
        assert!(acked.is_empty());
    }

    proptest! {
        /// Whatever is sent, skipped and acknowledged, every packet comes back
        /// at most once and bytes in flight match what is outstanding.
        #[test]
        fn accounting_matches_outstanding_packets(
            steps in proptest::collection::vec((0u8..4, 0u64..40, 0u64..6), 1..80)
        ) {
            let t0 = Instant::now();
            let mut sent = SentPackets::new();
            let mut outstanding = std::collections::BTreeSet::new();
            let mut skipped = std::collections::BTreeSet::new();
            for (kind, a, len) in steps {
                match kind {
                    0 | 1 => {
                        let pn = sent.next_pn();
                        sent.on_packet_sent(packet(pn, t0, kind == 0));
                        outstanding.insert(pn);
                    }
                    2 => {
                        skipped.insert(sent.skip_pn());
                    }
                    _ => {
                        let range = a..=a + len;
                        let result = ack(&mut sent, std::slice::from_ref(&range));
                        let bad = a + len >= sent.next_pn() || skipped.range(range.clone()).next().is_some();
                        prop_assert_eq!(result.is_err(), bad);
                        if let Ok((_, acked)) = result {
                            for payload in acked {
                                prop_assert!(outstanding.remove(&(payload / 10)));
                            }
                            prop_assert!(outstanding.range(range).next().is_none());
                        }
                    }
                }
                let live: Vec<u64> = sent.iter().map(|p| p.pn).collect();
                prop_assert_eq!(&live, &outstanding.iter().copied().collect::<Vec<_>>());
                let in_flight: u64 = sent.iter().filter(|p| p.in_flight).map(|p| u64::from(p.size)).sum();
                prop_assert_eq!(sent.bytes_in_flight(), in_flight);
                prop_assert_eq!(sent.len(), outstanding.len());
            }
        }
    }
}
