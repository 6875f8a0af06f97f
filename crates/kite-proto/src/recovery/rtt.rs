//! Round-trip time estimation for one path (RFC 9002 §5): latest_rtt, min_rtt,
//! smoothed_rtt and rttvar, with the peer's reported ack delay folded in as
//! §5.3 allows. Loss detection decides when an ACK frame yields a sample
//! (§5.1) and adds max_ack_delay to the PTO in the application space (§6.2.1).

use std::time::{Duration, Instant};

use crate::packet::SpaceId;

/// RTT assumed before the first sample (RFC 9002 §6.2.2 recommends 333 ms).
/// Smaller values make the first PTO fire sooner and risk spurious probes on
/// long paths; a resumed connection may pass a remembered RTT instead.
pub const DEFAULT_INITIAL_RTT: Duration = Duration::from_millis(333);

/// Timer granularity, kGranularity (RFC 9002 §6.1.2 recommends 1 ms). Floors
/// the variance term of the PTO so that a perfectly steady path does not arm
/// a timer equal to smoothed_rtt, which would fire before any ACK can arrive.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// The RTT state of one path (RFC 9002 §5).
///
/// Until the first sample, smoothed_rtt is the initial RTT and rttvar half of
/// it (§5.3); the first sample replaces both, so no history of the initial
/// guess survives.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    /// kInitialRtt: what `reset` returns smoothed_rtt to.
    initial_rtt: Duration,
    /// The most recent sample, without ack-delay adjustment (§5.1).
    latest_rtt: Duration,
    /// Smallest sample seen, without ack-delay adjustment (§5.2).
    min_rtt: Duration,
    /// Exponentially weighted mean of the adjusted samples (§5.3).
    smoothed_rtt: Duration,
    /// Mean deviation of the adjusted samples (§5.3).
    rttvar: Duration,
    /// When the first sample since initialisation was taken (Appendix A.3's
    /// first_rtt_sample; persistent congestion only counts later packets).
    first_sample_time: Option<Instant>,
    /// Samples taken since construction, never reset, so observers (HyStart++)
    /// can tell a fresh sample from a repeated read of the same one.
    sample_count: u64,
}

impl Default for RttEstimator {
    fn default() -> Self {
        Self::new(DEFAULT_INITIAL_RTT)
    }
}

impl RttEstimator {
    /// An estimator with no samples that assumes `initial_rtt` (RFC 9002 §6.2.2).
    pub fn new(initial_rtt: Duration) -> Self {
        RttEstimator {
            initial_rtt,
            latest_rtt: initial_rtt,
            min_rtt: initial_rtt,
            smoothed_rtt: initial_rtt,
            rttvar: initial_rtt / 2,
            first_sample_time: None,
            sample_count: 0,
        }
    }

    /// Forgets every sample and returns to the initial RTT, as on a new path
    /// (RFC 9002 §5.3, RFC 9000 §9.4). The sample count keeps running.
    pub fn reset(&mut self) {
        let count = self.sample_count;
        *self = Self::new(self.initial_rtt);
        self.sample_count = count;
    }

    /// Takes one RTT sample (RFC 9002 §5.3, Appendix A.7).
    ///
    /// `latest_rtt` is the time from sending the largest newly acknowledged
    /// packet to receiving its ACK; `ack_delay` is the decoded ACK Delay of
    /// that frame; `max_ack_delay` the peer's transport parameter; `space` the
    /// space the ACK was received in; `handshake_confirmed` whether the
    /// handshake is confirmed (RFC 9001 §4.1.2), which enables the cap.
    pub fn update(
        &mut self,
        now: Instant,
        latest_rtt: Duration,
        ack_delay: Duration,
        max_ack_delay: Duration,
        space: SpaceId,
        handshake_confirmed: bool,
    ) {
        self.latest_rtt = latest_rtt;
        self.sample_count += 1;
        if self.first_sample_time.is_none() {
            // §5.3: the first sample replaces the initial guess outright.
            self.first_sample_time = Some(now);
            self.min_rtt = latest_rtt;
            self.smoothed_rtt = latest_rtt;
            self.rttvar = latest_rtt / 2;
            return;
        }

        // §5.2: min_rtt uses local observation only, never the peer's delay.
        self.min_rtt = self.min_rtt.min(latest_rtt);

        let ack_delay = match space {
            // §5.3: Initial ACKs are never delayed on purpose, so their
            // reported delay may be ignored.
            SpaceId::Initial => Duration::ZERO,
            // §5.3: the cap applies only once the handshake is confirmed;
            // handshake-time delays beyond it are real and non-repeating.
            _ if handshake_confirmed => ack_delay.min(max_ack_delay),
            _ => ack_delay,
        };
        // §5.3: never subtract a delay that would push the sample below
        // min_rtt; that bounds what a misreporting peer can do.
        let adjusted = match latest_rtt.checked_sub(ack_delay) {
            Some(adjusted) if adjusted >= self.min_rtt => adjusted,
            _ => latest_rtt,
        };

        // Appendix A.7 order (as RFC 6298): the variance uses the old mean.
        let deviation = self.smoothed_rtt.abs_diff(adjusted);
        self.rttvar = (self.rttvar * 3 + deviation) / 4;
        self.smoothed_rtt = (self.smoothed_rtt * 7 + adjusted) / 8;
    }

    /// After persistent congestion, takes the newest sample as min_rtt so the
    /// next RTT increase does not declare it again (RFC 9002 §5.2).
    pub fn on_persistent_congestion(&mut self) {
        self.min_rtt = self.latest_rtt;
    }

    /// The RTT before any sample, kInitialRtt.
    pub fn initial_rtt(&self) -> Duration {
        self.initial_rtt
    }

    /// The most recent sample, unadjusted; the initial RTT before any sample.
    pub fn latest_rtt(&self) -> Duration {
        self.latest_rtt
    }

    /// The smallest sample seen, unadjusted; the initial RTT before any sample.
    pub fn min_rtt(&self) -> Duration {
        self.min_rtt
    }

    /// The smoothed RTT (RFC 9002 §5.3).
    pub fn smoothed_rtt(&self) -> Duration {
        self.smoothed_rtt
    }

    /// The RTT variation (RFC 9002 §5.3).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// When the first sample since initialisation or `reset` was taken.
    pub fn first_sample_time(&self) -> Option<Instant> {
        self.first_sample_time
    }

    /// How many samples were ever taken; changes exactly when a new sample
    /// arrives, so an observer can count samples rather than reads.
    pub fn sample_count(&self) -> u64 {
        self.sample_count
    }

    /// smoothed_rtt + max(4 * rttvar, kGranularity), the PTO before backoff
    /// (RFC 9002 §6.2.1). The caller adds max_ack_delay in the application
    /// space and in the persistent congestion duration (§7.6.1).
    pub fn pto_base(&self) -> Duration {
        self.smoothed_rtt + (self.rttvar * 4).max(GRANULARITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// An estimator that has taken one 100 ms sample.
    fn sampled(now: Instant) -> RttEstimator {
        let mut rtt = RttEstimator::default();
        rtt.update(now, ms(100), ms(0), ms(25), SpaceId::Data, true);
        rtt
    }

    #[test]
    fn before_any_sample_uses_initial_rtt_of_333ms() {
        let rtt = RttEstimator::default();
        assert_eq!(rtt.smoothed_rtt(), ms(333));
        assert_eq!(rtt.rttvar(), Duration::from_micros(166_500));
        assert_eq!(rtt.first_sample_time(), None);
        // §6.2.1: 333 + 4 * 166.5 = 999 ms.
        assert_eq!(rtt.pto_base(), ms(999));
    }

    #[test]
    fn initial_rtt_is_configurable() {
        let rtt = RttEstimator::new(ms(50));
        assert_eq!(rtt.smoothed_rtt(), ms(50));
        assert_eq!(rtt.rttvar(), ms(25));
        assert_eq!(rtt.initial_rtt(), ms(50));
    }

    #[test]
    fn first_sample_replaces_initial_rtt_and_ignores_ack_delay() {
        let now = Instant::now();
        let mut rtt = RttEstimator::default();
        rtt.update(now, ms(100), ms(20), ms(25), SpaceId::Data, true);
        assert_eq!(rtt.latest_rtt(), ms(100));
        assert_eq!(rtt.min_rtt(), ms(100));
        assert_eq!(rtt.smoothed_rtt(), ms(100));
        assert_eq!(rtt.rttvar(), ms(50));
        assert_eq!(rtt.first_sample_time(), Some(now));
        assert_eq!(rtt.sample_count(), 1);
    }

    #[test]
    fn later_samples_are_smoothed_with_old_mean_for_variance() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        rtt.update(now, ms(200), ms(0), ms(25), SpaceId::Data, true);
        // rttvar = 3/4 * 50 + 1/4 * |100 - 200| = 62.5
        assert_eq!(rtt.rttvar(), Duration::from_micros(62_500));
        // smoothed = 7/8 * 100 + 1/8 * 200 = 112.5
        assert_eq!(rtt.smoothed_rtt(), Duration::from_micros(112_500));
        assert_eq!(rtt.min_rtt(), ms(100));
        assert_eq!(rtt.latest_rtt(), ms(200));
    }

    #[test]
    fn min_rtt_tracks_smallest_unadjusted_sample() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        rtt.update(now, ms(80), ms(10), ms(25), SpaceId::Data, true);
        assert_eq!(rtt.min_rtt(), ms(80), "ack delay must not lower min_rtt");
        rtt.update(now, ms(120), ms(0), ms(25), SpaceId::Data, true);
        assert_eq!(rtt.min_rtt(), ms(80));
    }

    #[test]
    fn ack_delay_is_subtracted_when_result_stays_above_min_rtt() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        // 130 - 20 = 110 >= 100: adjusted sample is 110.
        rtt.update(now, ms(130), ms(20), ms(25), SpaceId::Data, true);
        assert_eq!(rtt.smoothed_rtt(), Duration::from_micros(101_250));
    }

    #[test]
    fn ack_delay_is_not_subtracted_below_min_rtt() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        // 110 - 20 = 90 < min_rtt 100: the raw 110 is used.
        rtt.update(now, ms(110), ms(20), ms(25), SpaceId::Data, true);
        assert_eq!(rtt.smoothed_rtt(), Duration::from_micros(101_250));
    }

    #[test]
    fn ack_delay_is_capped_by_max_ack_delay_after_handshake_confirmed() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        // Reported 50 ms, capped at 25: adjusted = 180 - 25 = 155.
        rtt.update(now, ms(180), ms(50), ms(25), SpaceId::Data, true);
        assert_eq!(rtt.smoothed_rtt(), ms(100) * 7 / 8 + ms(155) / 8);
    }

    #[test]
    fn ack_delay_is_not_capped_before_handshake_confirmed() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        // Reported 50 ms used in full: adjusted = 180 - 50 = 130.
        rtt.update(now, ms(180), ms(50), ms(25), SpaceId::Handshake, false);
        assert_eq!(rtt.smoothed_rtt(), ms(100) * 7 / 8 + ms(130) / 8);
    }

    #[test]
    fn ack_delay_is_ignored_for_initial_packets() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        rtt.update(now, ms(180), ms(50), ms(25), SpaceId::Initial, false);
        assert_eq!(rtt.smoothed_rtt(), ms(100) * 7 / 8 + ms(180) / 8);
    }

    #[test]
    fn pto_base_floors_variance_at_granularity() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        for _ in 0..200 {
            rtt.update(now, ms(100), ms(0), ms(25), SpaceId::Data, true);
        }
        assert!(rtt.rttvar() * 4 < GRANULARITY);
        assert_eq!(rtt.pto_base(), rtt.smoothed_rtt() + GRANULARITY);
    }

    #[test]
    fn pto_base_is_smoothed_plus_four_rttvar() {
        let rtt = sampled(Instant::now());
        assert_eq!(rtt.pto_base(), ms(100) + 4 * ms(50));
    }

    #[test]
    fn persistent_congestion_resets_min_rtt_to_latest_sample() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        rtt.update(now, ms(300), ms(0), ms(25), SpaceId::Data, true);
        rtt.on_persistent_congestion();
        assert_eq!(rtt.min_rtt(), ms(300));
    }

    #[test]
    fn reset_returns_to_initial_rtt_and_next_sample_is_first_again() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        rtt.reset();
        assert_eq!(rtt.smoothed_rtt(), DEFAULT_INITIAL_RTT);
        assert_eq!(rtt.first_sample_time(), None);
        let later = now + ms(500);
        rtt.update(later, ms(40), ms(5), ms(25), SpaceId::Data, true);
        assert_eq!(rtt.smoothed_rtt(), ms(40));
        assert_eq!(rtt.min_rtt(), ms(40));
        assert_eq!(rtt.first_sample_time(), Some(later));
        assert_eq!(rtt.sample_count(), 2, "count survives reset");
    }

    #[test]
    fn ack_delay_larger_than_sample_does_not_underflow() {
        let now = Instant::now();
        let mut rtt = sampled(now);
        rtt.update(now, ms(100), ms(10_000), ms(10_000), SpaceId::Data, true);
        assert_eq!(rtt.smoothed_rtt(), ms(100));
        assert!(rtt.pto_base() >= ms(100) + MS);
    }
}
