//! CUBIC and HyStart++ behaviour, driven over simulated round trips.

use super::*;
use crate::packet::SpaceId;

const MDS: u64 = 1200;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(t: f64) -> Duration {
    Duration::from_secs_f64(t)
}

/// An estimator whose one sample is `rtt`.
fn estimator(now: Instant, rtt: Duration) -> RttEstimator {
    let mut estimator = RttEstimator::default();
    estimator.update(now, rtt, Duration::ZERO, ms(25), SpaceId::Data, true);
    estimator
}

/// W_cubic(t) in datagrams for a curve with plateau `w_max` datagrams,
/// starting from `w_max * 0.7` (RFC 9438 Figure 1 and §4.2's K).
fn expected_w_cubic(w_max: f64, cwnd_epoch: f64, t: f64) -> f64 {
    let k = ((w_max - cwnd_epoch) / C).cbrt();
    C * (t - k).powi(3) + w_max
}

/// A CUBIC without HyStart++ grown in slow start to `packets` datagrams and
/// then cut by one loss at `t0 + 1 ms`: window = 0.7 * W_max.
fn after_loss_at(t0: Instant, packets: u64) -> Cubic {
    let rtt = estimator(t0, ms(100));
    let mut cc = Cubic::new(MDS).with_hystart(false);
    while cc.window() < packets * MDS {
        cc.on_ack(t0, t0, MDS, &rtt, false);
    }
    assert_eq!(cc.window(), packets * MDS);
    cc.on_congestion_event(t0 + ms(1), t0, false, MDS);
    cc
}

/// Congestion avoidance on a path of fixed `rtt` from `start` until `until`:
/// each round trip the whole window is sent, evenly spread, and each packet
/// is acknowledged one RTT after it left. Returns when the next round would
/// start after `until`.
fn run(cc: &mut Cubic, estimator: &RttEstimator, start: Instant, until: Instant) -> Instant {
    let rtt = estimator.smoothed_rtt();
    let mut round = start;
    while round <= until {
        let packets = (cc.window() / MDS).max(1);
        for i in 0..packets {
            let sent = round + rtt * u32::try_from(i).unwrap() / u32::try_from(packets).unwrap();
            cc.on_ack(sent + rtt, sent, MDS, estimator, false);
        }
        round += rtt;
    }
    round
}

/// One slow start round: the window is sent at `sent`, every packet is
/// acknowledged `rtt` later in its own ACK frame carrying one RTT sample.
fn slow_start_round(
    cc: &mut Cubic,
    estimator: &mut RttEstimator,
    sent: Instant,
    rtt: Duration,
) -> Instant {
    let now = sent + rtt;
    for _ in 0..cc.window() / MDS {
        estimator.update(now, rtt, Duration::ZERO, ms(25), SpaceId::Data, true);
        cc.on_ack(now, sent, MDS, estimator, false);
    }
    now
}

fn packets(cc: &Cubic) -> f64 {
    cc.window() as f64 / MDS as f64
}

#[test]
fn slow_start_doubles_window_each_round_trip() {
    let t0 = Instant::now();
    let mut estimator = RttEstimator::default();
    let mut cc = Cubic::new(MDS);
    let mut now = t0;
    for round in 0..6 {
        assert_eq!(cc.window(), (10 * MDS) << round);
        now = slow_start_round(&mut cc, &mut estimator, now, ms(50));
    }
    assert!(cc.in_slow_start());
    assert!(!cc.in_conservative_slow_start());
}

#[test]
fn hystart_enters_css_when_rtt_rises_then_congestion_avoidance() {
    let t0 = Instant::now();
    let mut estimator = RttEstimator::default();
    let mut cc = Cubic::new(MDS);
    let mut now = t0;
    for _ in 0..4 {
        now = slow_start_round(&mut cc, &mut estimator, now, ms(50));
    }
    assert_eq!(cc.window(), 160 * MDS);
    // RFC 9406 §4.2: a rise of max(4 ms, min(50/8 ms, 16 ms)) = 6.25 ms or
    // more after eight samples means queues are building.
    now = slow_start_round(&mut cc, &mut estimator, now, ms(60));
    assert!(cc.in_conservative_slow_start());
    assert!(cc.in_slow_start());
    // Eight acks at slow start rate, the other 152 at a quarter of it.
    assert_eq!(cc.window(), 160 * MDS + 8 * MDS + 152 * MDS / 4);

    // A CSS round grows by a quarter of the window, not double.
    let before = cc.window();
    now = slow_start_round(&mut cc, &mut estimator, now, ms(60));
    assert!(cc.in_conservative_slow_start());
    assert_eq!(cc.window(), before + before / 4);

    // CSS_ROUNDS = 5, counting the round CSS began in: the fifth round end
    // moves to congestion avoidance with ssthresh at the window.
    for _ in 0..3 {
        now = slow_start_round(&mut cc, &mut estimator, now, ms(60));
        assert!(cc.in_slow_start());
    }
    let last = now + ms(60);
    estimator.update(last, ms(60), Duration::ZERO, ms(25), SpaceId::Data, true);
    cc.on_ack(last, now, MDS, &estimator, false);
    assert!(!cc.in_slow_start());
    assert!(!cc.in_conservative_slow_start());
    assert_eq!(cc.ssthresh(), cc.window());
}

#[test]
fn hystart_ignores_rtt_rise_below_threshold() {
    let t0 = Instant::now();
    let mut estimator = RttEstimator::default();
    let mut cc = Cubic::new(MDS);
    let mut now = slow_start_round(&mut cc, &mut estimator, t0, ms(50));
    // 6 ms < 6.25 ms.
    now = slow_start_round(&mut cc, &mut estimator, now, ms(56));
    slow_start_round(&mut cc, &mut estimator, now, ms(56));
    assert!(!cc.in_conservative_slow_start());
    assert_eq!(cc.window(), 80 * MDS);
}

#[test]
fn hystart_returns_to_slow_start_when_rtt_rise_was_spurious() {
    let t0 = Instant::now();
    let mut estimator = RttEstimator::default();
    let mut cc = Cubic::new(MDS);
    let mut now = t0;
    for _ in 0..3 {
        now = slow_start_round(&mut cc, &mut estimator, now, ms(50));
    }
    now = slow_start_round(&mut cc, &mut estimator, now, ms(70));
    assert!(cc.in_conservative_slow_start());
    // The next round's minimum is below the CSS baseline of 70 ms: the rise
    // was not queueing (RFC 9406 §4.2), so slow start resumes.
    slow_start_round(&mut cc, &mut estimator, now, ms(52));
    assert!(!cc.in_conservative_slow_start());
    assert_eq!(cc.ssthresh(), u64::MAX);
}

#[test]
fn hystart_only_runs_in_the_first_slow_start() {
    let t0 = Instant::now();
    let mut estimator = RttEstimator::default();
    let mut cc = Cubic::new(MDS);
    let mut now = t0;
    for _ in 0..5 {
        now = slow_start_round(&mut cc, &mut estimator, now, ms(50));
    }
    cc.on_congestion_event(now, now, true, MDS);
    assert_eq!(cc.window(), 2 * MDS);
    assert_eq!(cc.ssthresh(), 224 * MDS);
    now += ms(1);
    for _ in 0..4 {
        now = slow_start_round(&mut cc, &mut estimator, now, ms(50));
    }
    assert_eq!(cc.window(), 32 * MDS);
    // RTT soars, but a slow start after persistent congestion is a standard
    // one up to ssthresh (RFC 9406 §4.3): the window still doubles.
    slow_start_round(&mut cc, &mut estimator, now, ms(200));
    assert!(!cc.in_conservative_slow_start());
    assert_eq!(cc.window(), 64 * MDS);
}

#[test]
fn loss_cuts_window_to_seven_tenths() {
    let t0 = Instant::now();
    let cc = after_loss_at(t0, 1000);
    assert_eq!(cc.window(), 700 * MDS);
    assert_eq!(cc.ssthresh(), 700 * MDS);
    assert_eq!(cc.w_max, (1000 * MDS) as f64);
    assert!(!cc.in_slow_start());
}

#[test]
fn window_regrows_along_cubic_curve_to_w_max() {
    let t0 = Instant::now();
    let estimator = estimator(t0, ms(100));
    let mut cc = after_loss_at(t0, 1000);
    let start = t0 + ms(2);
    // The epoch starts at the first acknowledgment after recovery.
    let epoch_start = start + ms(100);
    let k = (300.0 / C).cbrt(); // 9.09 s
    let rtt = 0.1;

    let mut round = start;
    for fraction in [0.25, 0.5, 0.75, 1.0, 1.25] {
        let t = k * fraction;
        round = run(&mut cc, &estimator, round, epoch_start + secs(t));
        // The window chases the curve one RTT ahead; the last round's acks
        // end up to one RTT past `t`.
        let now = (round - epoch_start).as_secs_f64();
        let low = expected_w_cubic(1000.0, 700.0, now - rtt);
        let high = expected_w_cubic(1000.0, 700.0, now + rtt);
        let got = packets(&cc);
        assert!(
            low * 0.998 <= got && got <= high * 1.002,
            "t={now:.2}s: {got:.1} packets, curve {low:.1}..{high:.1}"
        );
    }
    // Concave up to K, then convex past W_max.
    assert!(packets(&cc) > 1000.0);
}

#[test]
fn window_plateaus_near_w_max_around_k() {
    let t0 = Instant::now();
    let estimator = estimator(t0, ms(100));
    let mut cc = after_loss_at(t0, 1000);
    let start = t0 + ms(2);
    let epoch_start = start + ms(100);
    let k = (300.0 / C).cbrt();
    let round = run(&mut cc, &estimator, start, epoch_start + secs(k - 1.5));
    let before = cc.window();
    run(&mut cc, &estimator, round, epoch_start + secs(k + 1.0));
    // Two and a half seconds around K add under 1% of W_max: the plateau.
    let grown = (cc.window() - before) as f64 / MDS as f64;
    assert!(grown < 10.0, "grew {grown} packets around K");
}

#[test]
fn fast_convergence_lowers_w_max_when_window_did_not_recover() {
    let t0 = Instant::now();
    let estimator = estimator(t0, ms(100));
    let mut cc = after_loss_at(t0, 1000);
    // Another loss of a packet sent after recovery began, still at 700.
    cc.on_congestion_event(t0 + ms(200), t0 + ms(150), false, MDS);
    // RFC 9438 §4.7: W_max = 700 * (1 + 0.7) / 2 = 595, window 490.
    assert!((cc.w_max - 595.0 * MDS as f64).abs() < 1.0);
    assert_eq!(cc.window(), 490 * MDS);

    // The curve now plateaus at 595, not at the old 1000 or the last 700.
    let start = t0 + ms(202);
    let k = (105.0 / C).cbrt(); // 6.4 s
    run(&mut cc, &estimator, start, start + secs(k));
    let got = packets(&cc);
    assert!((590.0..=605.0).contains(&got), "{got} packets at K");
}

#[test]
fn no_fast_convergence_when_window_exceeded_w_max() {
    let t0 = Instant::now();
    let mut cc = after_loss_at(t0, 1000);
    cc.window = 1100 * MDS;
    cc.on_congestion_event(t0 + ms(200), t0 + ms(150), false, MDS);
    assert_eq!(cc.w_max, (1100 * MDS) as f64);
}

#[test]
fn reno_friendly_region_dominates_small_window_short_rtt() {
    let t0 = Instant::now();
    let estimator = estimator(t0, ms(10));
    let mut cc = after_loss_at(t0, 20);
    assert_eq!(cc.window(), 14 * MDS);
    let start = t0 + ms(2);
    run(&mut cc, &estimator, start, start + secs(1.0));
    // The cubic curve is still below its plateau of 20 (K = 2.5 s) ...
    let cubic = expected_w_cubic(20.0, 14.0, 1.0 + 0.01);
    assert!(cubic < 20.0);
    // ... but AIMD would have added ~0.53 packets per RTT up to 20, then 1
    // per RTT: about 100 RTTs later it is far above, and CUBIC follows it.
    let got = packets(&cc);
    assert!(got > 80.0, "{got} packets, cubic curve {cubic:.1}");
    let epoch = cc.epoch.unwrap();
    assert_eq!(cc.window(), epoch.w_est as u64);
}

#[test]
fn app_limited_acks_do_not_grow_window() {
    let t0 = Instant::now();
    let estimator = estimator(t0, ms(100));
    let mut cc = Cubic::new(MDS);
    cc.on_ack(t0 + ms(100), t0, MDS, &estimator, true);
    assert_eq!(cc.window(), 10 * MDS, "slow start");

    let mut cc = after_loss_at(t0, 100);
    let start = t0 + ms(2);
    let round = run(&mut cc, &estimator, start, start + secs(1.0));
    let window = cc.window();
    for i in 0..1000 {
        let sent = round + ms(i);
        cc.on_ack(sent + ms(100), sent, MDS, &estimator, true);
    }
    assert_eq!(cc.window(), window, "congestion avoidance");
}

#[test]
fn window_does_not_jump_after_app_limited_idle_period() {
    let t0 = Instant::now();
    let estimator = estimator(t0, ms(100));
    let mut cc = after_loss_at(t0, 1000);
    let start = t0 + ms(2);
    let round = run(&mut cc, &estimator, start, start + secs(1.0));
    let mut unmarked = cc.clone();
    let window = cc.window();

    // An app-limited ACK, ten idle seconds, then data again.
    cc.on_ack(round, round - ms(100), MDS, &estimator, true);
    let resumed = round + secs(10.0);
    cc.on_ack(resumed + ms(100), resumed, MDS, &estimator, false);
    let growth = cc.window() - window;
    assert!(growth < 50, "grew {growth} bytes on one ack after idle");

    // Without the app-limited mark, t would include the idle time and the
    // curve would be past K: the target jumps to 1.5 cwnd.
    unmarked.on_ack(resumed + ms(100), resumed, MDS, &estimator, false);
    let jump = unmarked.window() - window;
    assert!(jump > 200, "unmarked grew only {jump} bytes");
}

#[test]
fn persistent_congestion_restarts_curve_from_its_own_window() {
    let t0 = Instant::now();
    let estimator = estimator(t0, ms(100));
    let mut cc = after_loss_at(t0, 1000);
    cc.on_congestion_event(t0 + ms(500), t0 + ms(400), true, 10 * MDS);
    assert_eq!(cc.window(), 2 * MDS);
    assert!(cc.in_slow_start());
    // Slow start back up to ssthresh (490 packets), then RFC 9438 §4.8:
    // K = 0 and W_max = the window at the start of congestion avoidance.
    let mut now = t0 + ms(600);
    while cc.in_slow_start() {
        cc.on_ack(now, now - ms(100), MDS, &estimator, false);
        now += ms(1);
    }
    cc.on_ack(now, now - ms(100), MDS, &estimator, false);
    let epoch = cc.epoch.unwrap();
    assert_eq!(epoch.k, 0.0);
    assert!((cc.w_max - cc.window() as f64).abs() <= MDS as f64);
}

#[test]
fn ecn_ce_reduces_like_loss() {
    let t0 = Instant::now();
    let rtt = estimator(t0, ms(100));
    let mut cc = Cubic::new(MDS);
    for _ in 0..90 {
        cc.on_ack(t0, t0, MDS, &rtt, false);
    }
    cc.on_ecn_ce(t0 + ms(1), t0);
    assert_eq!(cc.window(), 70 * MDS);
    assert!(!cc.in_slow_start());
}
