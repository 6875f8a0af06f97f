//! CUBIC congestion control (RFC 9438) for one path: after a congestion event
//! the window follows W_cubic(t) = C*(t-K)^3 + W_max in time since the
//! congestion avoidance epoch began (§4.2), never below a Reno-friendly
//! estimate (§4.3), with fast convergence (§4.7) and HyStart++ (RFC 9406) in
//! the initial slow start. Recovery periods and window bounds follow RFC 9002.

use std::time::{Duration, Instant};

use super::hystart::HyStart;
use super::{Controller, in_recovery, initial_window, minimum_window, window_after_mtu_update};
use crate::recovery::rtt::RttEstimator;

/// C (RFC 9438 §4.1.1, argued in §5.1: 0.4), in datagrams per second cubed: how fast
/// the window moves away from W_max. Larger values probe more aggressively.
const C: f64 = 0.4;

/// β_cubic (RFC 9438 §4.1.1, §4.6: 0.7): the window keeps 70% of itself on a congestion
/// event, a gentler cut than NewReno's 50%, paid for by the slower Reno-friendly
/// growth below.
const BETA_CUBIC: f64 = 0.7;

/// α_cubic (RFC 9438 §4.3): the Reno-friendly estimate grows this many
/// datagrams per window acknowledged, 3(1-β)/(1+β), so that AIMD(α, β)
/// matches NewReno's AIMD(1, 0.5) throughput.
const ALPHA_CUBIC: f64 = 3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC);

/// Cap on the target window relative to the current one (RFC 9438 §4.2):
/// growth towards W_cubic(t + RTT) is at most 50% per round trip.
const MAX_TARGET_RATIO: f64 = 1.5;

/// One congestion avoidance stage (RFC 9438 §4.2).
#[derive(Debug, Clone, Copy)]
struct Epoch {
    /// t_epoch: when the stage began, shifted later by app-limited periods.
    start: Instant,
    /// K, in seconds: when W_cubic returns to W_max.
    k: f64,
    /// W_est, in bytes: what a Reno-friendly AIMD sender would have (§4.3).
    w_est: f64,
}

/// CUBIC state for one path.
#[derive(Debug, Clone)]
pub struct Cubic {
    max_datagram_size: u64,
    /// cwnd, in bytes.
    window: u64,
    /// Slow start threshold; `u64::MAX` stands for infinite.
    ssthresh: u64,
    /// Start of the current recovery period (RFC 9002 §7.3.2).
    recovery_start: Option<Instant>,
    /// W_max, in bytes: the window the cubic curve plateaus at; 0 while
    /// undefined (before any congestion event, and after a timeout, §4.8).
    w_max: f64,
    /// cwnd_prior, in bytes: the window just before the last reduction; the
    /// Reno-friendly estimate switches to α = 1 once it reaches it (§4.3).
    cwnd_prior: f64,
    /// The current congestion avoidance stage; `None` in slow start and
    /// recovery, begun by the first ACK in congestion avoidance.
    epoch: Option<Epoch>,
    /// When the flow became app-limited during an epoch: the epoch is shifted
    /// by that time so the curve does not leap ahead after idle (§5.8).
    app_limited_since: Option<Instant>,
    hystart: HyStart,
}

impl Cubic {
    /// A controller in slow start, with HyStart++, and the initial window for
    /// this maximum datagram size.
    pub fn new(max_datagram_size: u64) -> Self {
        Cubic {
            max_datagram_size,
            window: initial_window(max_datagram_size),
            ssthresh: u64::MAX,
            recovery_start: None,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch: None,
            app_limited_since: None,
            hystart: HyStart::new(),
        }
    }

    /// Switches HyStart++ on or off for the initial slow start; without it,
    /// slow start lasts until the first loss or ECN-CE.
    pub fn with_hystart(mut self, enabled: bool) -> Self {
        self.hystart = if enabled {
            HyStart::new()
        } else {
            HyStart::disabled()
        };
        self
    }

    /// Whether HyStart++'s Conservative Slow Start is running (for qlog).
    pub fn in_conservative_slow_start(&self) -> bool {
        self.hystart.in_css()
    }

    /// W_cubic(t) in bytes (RFC 9438 §4.2, Figure 1), `t` in seconds since the
    /// epoch began.
    fn w_cubic(&self, k: f64, t: f64) -> f64 {
        C * self.max_datagram_size as f64 * (t - k).powi(3) + self.w_max
    }

    /// Begins a congestion avoidance stage at `now` (RFC 9438 §4.2).
    fn start_epoch(&mut self, now: Instant) -> Epoch {
        let cwnd = self.window as f64;
        let k = if self.w_max > cwnd {
            // K = cbrt((W_max - cwnd_epoch) / C), in datagrams.
            ((self.w_max - cwnd) / (C * self.max_datagram_size as f64)).cbrt()
        } else {
            // §4.8, §4.10: after a timeout or a HyStart++ exit there is no
            // W_max above us; the curve starts here, at its plateau.
            self.w_max = cwnd;
            self.cwnd_prior = cwnd;
            0.0
        };
        Epoch {
            start: now,
            k,
            w_est: cwnd,
        }
    }

    /// One acknowledged packet in congestion avoidance (RFC 9438 §4.3–§4.5).
    fn congestion_avoidance(&mut self, now: Instant, bytes: u64, rtt: &RttEstimator) {
        let mut epoch = match self.epoch {
            Some(epoch) => epoch,
            None => self.start_epoch(now),
        };
        let cwnd = self.window as f64;
        let acked = bytes as f64;
        let mds = self.max_datagram_size as f64;
        let t = now.saturating_duration_since(epoch.start).as_secs_f64();

        // §4.3: the AIMD estimate grows α datagrams per window acknowledged;
        // α becomes 1 once it is back at the window before the last cut.
        let alpha = if epoch.w_est >= self.cwnd_prior {
            1.0
        } else {
            ALPHA_CUBIC
        };
        epoch.w_est += alpha * mds * acked / cwnd;

        let new_window = if self.w_cubic(epoch.k, t) < epoch.w_est {
            // §4.3: Reno-friendly region, AIMD would do better; follow it.
            epoch.w_est
        } else {
            // §4.4, §4.5: concave and convex regions. Each acknowledged byte
            // moves the window (target - cwnd)/cwnd towards the curve one RTT
            // ahead, the target bounded to [cwnd, 1.5 cwnd] (§4.2).
            let ahead = t + rtt.smoothed_rtt().as_secs_f64();
            let target = self
                .w_cubic(epoch.k, ahead)
                .clamp(cwnd, MAX_TARGET_RATIO * cwnd);
            cwnd + (target - cwnd) * acked / cwnd
        };
        // `as` saturates; the max keeps a stale estimate from shrinking us.
        self.window = self.window.max(new_window as u64);
        self.epoch = Some(epoch);
    }

    /// The flow is no longer app-limited: shift the epoch by the time it was
    /// (RFC 9438 §5.8), so t excludes the idle time and the curve resumes
    /// where it left off instead of jumping to where the clock says.
    fn resume_after_app_limited(&mut self, now: Instant) {
        let Some(since) = self.app_limited_since.take() else {
            return;
        };
        if let Some(epoch) = &mut self.epoch {
            let idle: Duration = now.saturating_duration_since(since);
            epoch.start += idle;
        }
    }
}

impl Controller for Cubic {
    fn on_ack(
        &mut self,
        now: Instant,
        sent_time: Instant,
        bytes: u64,
        rtt: &RttEstimator,
        app_limited: bool,
    ) {
        // RFC 9002 §7.8, RFC 9438 §5.8: no growth while the window is unused.
        if app_limited {
            if self.epoch.is_some() && self.app_limited_since.is_none() {
                self.app_limited_since = Some(now);
            }
            return;
        }
        self.resume_after_app_limited(now);
        // RFC 9002 §7.3.2: no growth for packets sent before recovery began.
        if in_recovery(self.recovery_start, sent_time) {
            return;
        }
        if self.window < self.ssthresh {
            let step = self.hystart.on_ack(now, sent_time, bytes, rtt);
            self.window = self.window.saturating_add(step.increase);
            if step.enter_congestion_avoidance {
                // RFC 9406 §4.2: CSS done, congestion avoidance from here.
                self.ssthresh = self.window;
            }
            return;
        }
        self.congestion_avoidance(now, bytes, rtt);
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent_time: Instant,
        is_persistent_congestion: bool,
        _lost_bytes: u64,
    ) {
        // RFC 9002 §7.3.2: one reduction per recovery period.
        if !in_recovery(self.recovery_start, sent_time) {
            self.recovery_start = Some(now);
            self.hystart.on_congestion_event();
            let cwnd = self.window as f64;
            // RFC 9438 §4.7: a window that did not get back to W_max means a
            // new flow is taking capacity; release some by lowering W_max.
            self.w_max = if cwnd < self.w_max {
                cwnd * (1.0 + BETA_CUBIC) / 2.0
            } else {
                cwnd
            };
            self.cwnd_prior = cwnd;
            // RFC 9438 §4.6 (the cwnd form of the flight-size rule).
            // Rounded, so 0.7 * 1000 datagrams is 700 despite binary fractions.
            self.ssthresh = (cwnd * BETA_CUBIC).round() as u64;
            self.window = self.ssthresh.max(minimum_window(self.max_datagram_size));
            self.epoch = None;
            self.app_limited_since = None;
        }
        if is_persistent_congestion {
            // RFC 9002 §7.6.2: back to the minimum window and slow start.
            // RFC 9438 §4.8: the next stage starts with K = 0 at its own cwnd.
            self.window = minimum_window(self.max_datagram_size);
            self.recovery_start = None;
            self.epoch = None;
            self.app_limited_since = None;
            self.w_max = 0.0;
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
        // K was computed in datagrams of the old size; recompute it.
        self.epoch = None;
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
mod tests;
