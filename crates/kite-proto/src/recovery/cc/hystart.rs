//! HyStart++ (RFC 9406): leaves the initial slow start when the round-trip
//! time rises, through Conservative Slow Start (CSS), instead of waiting for
//! the losses a queue overflow brings. Used by [`Cubic`](super::Cubic) only.

use std::time::{Duration, Instant};

use crate::recovery::rtt::RttEstimator;

/// MIN_RTT_THRESH (RFC 9406 §4.3): the smallest RTT rise taken as queueing;
/// smaller rises are jitter and would end slow start too early.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);

/// MAX_RTT_THRESH (RFC 9406 §4.3): the largest rise ever required, so paths
/// with long RTTs still leave slow start on delay.
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);

/// MIN_RTT_DIVISOR (RFC 9406 §4.3): the rise required is an eighth of the
/// last round's minimum RTT, within the two bounds above.
const MIN_RTT_DIVISOR: u32 = 8;

/// N_RTT_SAMPLE (RFC 9406 §4.3): samples a round needs before its minimum
/// RTT is trusted for a decision.
const N_RTT_SAMPLE: u32 = 8;

/// CSS_GROWTH_DIVISOR (RFC 9406 §4.3): CSS grows at a quarter of the slow
/// start rate while it checks whether the RTT rise was real.
const CSS_GROWTH_DIVISOR: u64 = 4;

/// CSS_ROUNDS (RFC 9406 §4.3): rounds spent in CSS, counting the one it began
/// in, before congestion avoidance.
const CSS_ROUNDS: u32 = 5;

// RFC 9406 §4.3's L (growth cap per ACK) is infinite for a paced sender, and
// kite paces, so slow start grows by every acknowledged byte.

/// Where HyStart++ is in the initial slow start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Standard slow start, watching each round's minimum RTT.
    SlowStart,
    /// Conservative Slow Start, entered when the RTT rose (RFC 9406 §4.2).
    Css {
        /// cssBaselineMinRtt: the round minimum that triggered CSS.
        baseline_min_rtt: Duration,
        /// Rounds that ended while in CSS.
        rounds: u32,
    },
    /// The initial slow start is over (by CSS, loss or ECN); later slow
    /// starts are standard ones up to ssthresh (RFC 9406 §4.3).
    Done,
}

/// What the controller does with one acknowledged packet in slow start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SlowStartStep {
    /// Bytes to add to the window.
    pub increase: u64,
    /// CSS has run its rounds: set ssthresh to the window and move to
    /// congestion avoidance.
    pub enter_congestion_avoidance: bool,
}

/// HyStart++ state (RFC 9406 §4.2).
///
/// A round ends when a packet sent at or after the round's start is
/// acknowledged. RFC 9406 marks the end with the next packet number to send;
/// send times mark the same boundary (packets leave in time order) and stay
/// meaningful across packet number spaces, so no packet number is needed.
#[derive(Debug, Clone)]
pub(super) struct HyStart {
    phase: Phase,
    /// When the current round began; `None` before the first ACK.
    round_start: Option<Instant>,
    /// lastRoundMinRTT; `None` stands for infinity.
    last_round_min_rtt: Option<Duration>,
    /// currentRoundMinRTT; `None` stands for infinity.
    current_round_min_rtt: Option<Duration>,
    /// rttSampleCount: samples taken in the current round.
    rtt_sample_count: u32,
    /// The estimator's sample count when last looked at: one ACK frame gives
    /// one sample however many packets it acknowledges.
    seen_samples: u64,
}

impl HyStart {
    /// HyStart++ at the start of a connection's initial slow start.
    pub(super) fn new() -> Self {
        HyStart {
            phase: Phase::SlowStart,
            round_start: None,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            rtt_sample_count: 0,
            seen_samples: 0,
        }
    }

    /// HyStart++ switched off: every slow start is a standard one.
    pub(super) fn disabled() -> Self {
        HyStart {
            phase: Phase::Done,
            ..Self::new()
        }
    }

    /// Whether Conservative Slow Start is running.
    pub(super) fn in_css(&self) -> bool {
        matches!(self.phase, Phase::Css { .. })
    }

    /// A loss or ECN-CE ended slow start (RFC 9406 §4.2): HyStart++ is over.
    pub(super) fn on_congestion_event(&mut self) {
        self.phase = Phase::Done;
    }

    /// One packet sent at `sent_time`, of `bytes`, was acknowledged at `now`
    /// while in slow start, neither app-limited nor in recovery.
    pub(super) fn on_ack(
        &mut self,
        now: Instant,
        sent_time: Instant,
        bytes: u64,
        rtt: &RttEstimator,
    ) -> SlowStartStep {
        let increase = match self.phase {
            Phase::Css { .. } => bytes / CSS_GROWTH_DIVISOR,
            Phase::SlowStart | Phase::Done => bytes,
        };
        let mut step = SlowStartStep {
            increase,
            enter_congestion_avoidance: false,
        };
        if self.phase == Phase::Done {
            return step;
        }

        let round_over = self.round_start.is_none_or(|start| sent_time >= start);
        if round_over && self.start_round(now) {
            step.enter_congestion_avoidance = true;
            return step;
        }
        self.take_sample(rtt);
        self.maybe_change_phase();
        step
    }

    /// Begins a round at `now`; true when that completes CSS (RFC 9406 §4.2).
    fn start_round(&mut self, now: Instant) -> bool {
        self.round_start = Some(now);
        self.last_round_min_rtt = self.current_round_min_rtt.take();
        self.rtt_sample_count = 0;
        if let Phase::Css { rounds, .. } = &mut self.phase {
            *rounds += 1;
            if *rounds >= CSS_ROUNDS {
                self.phase = Phase::Done;
                return true;
            }
        }
        false
    }

    /// Folds the estimator's latest sample into the round, once per sample.
    fn take_sample(&mut self, rtt: &RttEstimator) {
        let count = rtt.sample_count();
        if count == self.seen_samples {
            return;
        }
        self.seen_samples = count;
        let latest = rtt.latest_rtt();
        self.current_round_min_rtt = Some(
            self.current_round_min_rtt
                .map_or(latest, |min| min.min(latest)),
        );
        self.rtt_sample_count += 1;
    }

    /// Enters CSS on an RTT rise, or leaves it when the rise proves spurious
    /// (RFC 9406 §4.2).
    fn maybe_change_phase(&mut self) {
        if self.rtt_sample_count < N_RTT_SAMPLE {
            return;
        }
        let Some(current) = self.current_round_min_rtt else {
            return;
        };
        match self.phase {
            Phase::SlowStart => {
                let Some(last) = self.last_round_min_rtt else {
                    return;
                };
                let threshold = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if current >= last + threshold {
                    self.phase = Phase::Css {
                        baseline_min_rtt: current,
                        rounds: 0,
                    };
                }
            }
            Phase::Css {
                baseline_min_rtt, ..
            } => {
                if current < baseline_min_rtt {
                    self.phase = Phase::SlowStart;
                }
            }
            Phase::Done => {}
        }
    }
}
