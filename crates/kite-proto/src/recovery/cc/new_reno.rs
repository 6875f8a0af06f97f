//! NewReno congestion control as RFC 9002 specifies it (§7, Appendix B): slow
//! start, a recovery period entered once per round trip with the window
//! halved, and congestion avoidance growing one datagram per window acked.

use std::time::Instant;

use super::{Controller, in_recovery, initial_window, minimum_window, window_after_mtu_update};
use crate::recovery::rtt::RttEstimator;

/// kLossReductionFactor as a fraction (RFC 9002 §7.3.2, Appendix B.2: 0.5):
/// the window is halved on entering recovery.
const LOSS_REDUCTION_NUMERATOR: u64 = 1;
/// Denominator of kLossReductionFactor.
const LOSS_REDUCTION_DENOMINATOR: u64 = 2;

/// NewReno state for one path (RFC 9002 Appendix B.2, B.3).
#[derive(Debug, Clone)]
pub struct NewReno {
    max_datagram_size: u64,
    /// congestion_window, in bytes.
    window: u64,
    /// Slow start threshold; `u64::MAX` stands for infinite.
    ssthresh: u64,
    /// congestion_recovery_start_time; `None` before any congestion event and
    /// after persistent congestion.
    recovery_start: Option<Instant>,
    /// Bytes acknowledged in congestion avoidance not yet turned into window
    /// growth: the integer form of `mds * acked / window` that RFC 9002 B.5
    /// points to (RFC 3465 §2.1), which does not round to zero on big windows.
    bytes_acked: u64,
}

impl NewReno {
    /// A controller in slow start with the initial window for this maximum
    /// datagram size (RFC 9002 Appendix B.3).
    pub fn new(max_datagram_size: u64) -> Self {
        NewReno {
            max_datagram_size,
            window: initial_window(max_datagram_size),
            ssthresh: u64::MAX,
            recovery_start: None,
            bytes_acked: 0,
        }
    }
}

impl Controller for NewReno {
    fn on_ack(
        &mut self,
        _now: Instant,
        sent_time: Instant,
        bytes: u64,
        _rtt: &RttEstimator,
        app_limited: bool,
    ) {
        // RFC 9002 §7.8: an unused window is not evidence the path can take
        // more, so it does not grow.
        if app_limited {
            return;
        }
        // §7.3.2: no growth for packets sent before the recovery period began.
        if in_recovery(self.recovery_start, sent_time) {
            return;
        }
        if self.window < self.ssthresh {
            // §7.3.1: slow start grows by every acknowledged byte.
            self.window = self.window.saturating_add(bytes);
        } else {
            // §7.3.3: one datagram per window of acknowledged bytes.
            self.bytes_acked += bytes;
            if self.bytes_acked >= self.window {
                self.bytes_acked -= self.window;
                self.window += self.max_datagram_size;
            }
        }
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent_time: Instant,
        is_persistent_congestion: bool,
        _lost_bytes: u64,
    ) {
        // §7.3.2: one reduction per recovery period. The caller may let one
        // packet out before the reduced window binds, to speed up recovery.
        if !in_recovery(self.recovery_start, sent_time) {
            self.recovery_start = Some(now);
            self.ssthresh = self.window * LOSS_REDUCTION_NUMERATOR / LOSS_REDUCTION_DENOMINATOR;
            self.window = self.ssthresh.max(minimum_window(self.max_datagram_size));
            self.bytes_acked = 0;
        }
        // §7.6.2: persistent congestion collapses to the minimum window and
        // ends recovery, so slow start resumes up to the new ssthresh.
        if is_persistent_congestion {
            self.window = minimum_window(self.max_datagram_size);
            self.recovery_start = None;
            self.bytes_acked = 0;
        }
    }

    fn on_mtu_update(&mut self, max_datagram_size: u64) {
        self.window = window_after_mtu_update(
            self.window,
            self.ssthresh,
            self.max_datagram_size,
            max_datagram_size,
        );
        self.max_datagram_size = max_datagram_size;
    }

    fn window(&self) -> u64 {
        self.window
    }

    fn ssthresh(&self) -> u64 {
        self.ssthresh
    }

    fn initial_window(&self) -> u64 {
        initial_window(self.max_datagram_size)
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MDS: u64 = 1200;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A NewReno that has left slow start through one loss, then finished
    /// that recovery period: window = ssthresh = `window / 2`.
    fn in_congestion_avoidance(t0: Instant, window_packets: u64) -> NewReno {
        let rtt = RttEstimator::default();
        let mut cc = NewReno::new(MDS);
        while cc.window() < window_packets * 2 * MDS {
            cc.on_ack(t0, t0, MDS, &rtt, false);
        }
        cc.on_congestion_event(t0 + ms(1), t0, false, MDS);
        cc
    }

    #[test]
    fn slow_start_grows_by_acked_bytes() {
        let t0 = Instant::now();
        let rtt = RttEstimator::default();
        let mut cc = NewReno::new(MDS);
        assert_eq!(cc.window(), 12_000);
        cc.on_ack(t0 + ms(50), t0, MDS, &rtt, false);
        assert_eq!(cc.window(), 13_200);
        assert!(cc.in_slow_start());
    }

    #[test]
    fn congestion_avoidance_adds_one_datagram_per_window_acked() {
        let t0 = Instant::now();
        let rtt = RttEstimator::default();
        let mut cc = in_congestion_avoidance(t0, 20);
        let start = cc.window();
        assert_eq!(start, 20 * MDS);
        assert!(!cc.in_slow_start());
        let sent = t0 + ms(2);
        // One window's worth of acks, minus one packet: no growth yet.
        for _ in 0..19 {
            cc.on_ack(sent + ms(50), sent, MDS, &rtt, false);
        }
        assert_eq!(cc.window(), start);
        cc.on_ack(sent + ms(50), sent, MDS, &rtt, false);
        assert_eq!(cc.window(), start + MDS);
    }

    #[test]
    fn congestion_avoidance_still_grows_on_very_large_windows() {
        let t0 = Instant::now();
        let rtt = RttEstimator::default();
        // mds * mds / window rounds to zero above 1.44 MB; byte counting must not.
        let mut cc = in_congestion_avoidance(t0, 2_000);
        let start = cc.window();
        let sent = t0 + ms(2);
        for _ in 0..2_000 {
            cc.on_ack(sent + ms(50), sent, MDS, &rtt, false);
        }
        assert_eq!(cc.window(), start + MDS);
    }

    #[test]
    fn loss_halves_window_and_sets_ssthresh() {
        let t0 = Instant::now();
        let cc = in_congestion_avoidance(t0, 20);
        assert_eq!(cc.ssthresh(), 20 * MDS);
        assert_eq!(cc.window(), 20 * MDS);
    }

    #[test]
    fn acks_of_packets_sent_before_recovery_do_not_grow_window() {
        let t0 = Instant::now();
        let rtt = RttEstimator::default();
        let mut cc = in_congestion_avoidance(t0, 20);
        let window = cc.window();
        for _ in 0..100 {
            cc.on_ack(t0 + ms(60), t0 + ms(1), MDS, &rtt, false);
        }
        assert_eq!(cc.window(), window);
    }

    #[test]
    fn reduction_happens_only_once_per_recovery_period() {
        let t0 = Instant::now();
        let mut cc = in_congestion_avoidance(t0, 20);
        let window = cc.window();
        // Sent before the period began (t0 + 1 ms): ignored.
        cc.on_congestion_event(t0 + ms(5), t0 + ms(1), false, MDS);
        assert_eq!(cc.window(), window);
        // Sent after it began: a new period, a new reduction.
        cc.on_congestion_event(t0 + ms(80), t0 + ms(2), false, MDS);
        assert_eq!(cc.window(), window / 2);
    }

    #[test]
    fn loss_never_reduces_below_minimum_window() {
        let t0 = Instant::now();
        let mut cc = NewReno::new(MDS);
        for i in 1..10 {
            let now = t0 + ms(10 * i);
            cc.on_congestion_event(now, now - ms(1), false, MDS);
        }
        assert_eq!(cc.window(), 2 * MDS);
    }
}
