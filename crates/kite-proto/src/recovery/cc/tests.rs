//! Behaviour every controller shares, checked through `Box<dyn Controller>`.

use std::time::{Duration, Instant};

use super::*;

const MDS: u64 = 1200;
const KINDS: [CongestionControl; 2] = [CongestionControl::NewReno, CongestionControl::Cubic];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Slow start acks at `t0` until the window is `packets` datagrams.
fn grown_to(kind: CongestionControl, t0: Instant, packets: u64) -> Box<dyn Controller> {
    let rtt = RttEstimator::default();
    let mut cc = kind.build(MDS);
    while cc.window() < packets * MDS {
        cc.on_ack(t0, t0, MDS, &rtt, false);
    }
    cc
}

/// The window kept on a congestion event, per RFC 9002 §7.3.2 and RFC 9438 §4.6.
fn reduced(kind: CongestionControl, window: u64) -> u64 {
    match kind {
        CongestionControl::NewReno => window / 2,
        CongestionControl::Cubic => window * 7 / 10,
    }
}

#[test]
fn cubic_is_the_default() {
    assert_eq!(CongestionControl::default(), CongestionControl::Cubic);
}

#[test]
fn initial_window_is_ten_datagrams_capped_at_14720_or_two_datagrams() {
    assert_eq!(initial_window(1200), 12_000);
    assert_eq!(initial_window(1472), 14_720);
    assert_eq!(initial_window(1500), 14_720);
    assert_eq!(initial_window(9000), 18_000);
    for kind in KINDS {
        let cc = kind.build(1500);
        assert_eq!(cc.window(), 14_720, "{kind:?}");
        assert_eq!(cc.initial_window(), 14_720, "{kind:?}");
        assert_eq!(cc.ssthresh(), u64::MAX, "{kind:?}");
        assert!(cc.in_slow_start(), "{kind:?}");
    }
}

#[test]
fn minimum_window_is_two_datagrams() {
    assert_eq!(minimum_window(1200), 2_400);
    assert_eq!(minimum_window(1452), 2_904);
}

#[test]
fn congestion_event_reduces_window_once_per_recovery_period() {
    let t0 = Instant::now();
    for kind in KINDS {
        let mut cc = grown_to(kind, t0, 100);
        cc.on_congestion_event(t0 + ms(10), t0 + ms(5), false, MDS);
        let window = reduced(kind, 100 * MDS);
        assert_eq!(cc.window(), window, "{kind:?}");
        assert!(!cc.in_slow_start(), "{kind:?}");
        // A loss of a packet sent before the period began: no second cut.
        cc.on_congestion_event(t0 + ms(20), t0 + ms(10), false, MDS);
        assert_eq!(cc.window(), window, "{kind:?}");
        // A packet sent after it began starts a new period.
        cc.on_congestion_event(t0 + ms(30), t0 + ms(11), false, MDS);
        assert_eq!(cc.window(), reduced(kind, window), "{kind:?}");
    }
}

#[test]
fn acks_for_packets_sent_before_recovery_do_not_grow_window() {
    let t0 = Instant::now();
    let rtt = RttEstimator::default();
    for kind in KINDS {
        let mut cc = grown_to(kind, t0, 100);
        cc.on_congestion_event(t0 + ms(10), t0 + ms(5), false, MDS);
        let window = cc.window();
        for _ in 0..50 {
            cc.on_ack(t0 + ms(20), t0 + ms(9), MDS, &rtt, false);
        }
        assert_eq!(cc.window(), window, "{kind:?}");
    }
}

#[test]
fn ecn_ce_is_a_congestion_event() {
    let t0 = Instant::now();
    for kind in KINDS {
        let mut cc = grown_to(kind, t0, 100);
        cc.on_ecn_ce(t0 + ms(10), t0 + ms(5));
        assert_eq!(cc.window(), reduced(kind, 100 * MDS), "{kind:?}");
        // ECN-CE and loss share one recovery period.
        cc.on_congestion_event(t0 + ms(20), t0 + ms(8), false, MDS);
        assert_eq!(cc.window(), reduced(kind, 100 * MDS), "{kind:?}");
    }
}

#[test]
fn persistent_congestion_collapses_to_minimum_window_and_slow_starts() {
    let t0 = Instant::now();
    let rtt = RttEstimator::default();
    for kind in KINDS {
        let mut cc = grown_to(kind, t0, 100);
        cc.on_congestion_event(t0 + ms(10), t0 + ms(5), true, 20 * MDS);
        assert_eq!(cc.window(), 2 * MDS, "{kind:?}");
        assert_eq!(cc.ssthresh(), reduced(kind, 100 * MDS), "{kind:?}");
        assert!(cc.in_slow_start(), "{kind:?}");
        // Recovery ended with it: the next ack grows the window again.
        cc.on_ack(t0 + ms(20), t0 + ms(9), MDS, &rtt, false);
        assert_eq!(cc.window(), 3 * MDS, "{kind:?}");
    }
}

#[test]
fn persistent_congestion_during_recovery_still_collapses_window() {
    let t0 = Instant::now();
    for kind in KINDS {
        let mut cc = grown_to(kind, t0, 100);
        cc.on_congestion_event(t0 + ms(10), t0 + ms(5), false, MDS);
        cc.on_congestion_event(t0 + ms(20), t0 + ms(9), true, MDS);
        assert_eq!(cc.window(), 2 * MDS, "{kind:?}");
    }
}

#[test]
fn app_limited_acks_do_not_grow_window_in_slow_start() {
    let t0 = Instant::now();
    let rtt = RttEstimator::default();
    for kind in KINDS {
        let mut cc = kind.build(MDS);
        for _ in 0..10 {
            cc.on_ack(t0 + ms(50), t0, MDS, &rtt, true);
        }
        assert_eq!(cc.window(), 10 * MDS, "{kind:?}");
    }
}

#[test]
fn mtu_update_recalculates_untouched_initial_window() {
    for kind in KINDS {
        let mut cc = kind.build(1200);
        cc.on_mtu_update(1452);
        assert_eq!(cc.window(), 14_520, "{kind:?}");
        assert_eq!(cc.initial_window(), 14_520, "{kind:?}");
        // RFC 9002 §7.2: shrinking to finish the handshake shrinks it too.
        cc.on_mtu_update(1200);
        assert_eq!(cc.window(), 12_000, "{kind:?}");
    }
}

#[test]
fn mtu_update_keeps_grown_window_but_raises_it_to_new_minimum() {
    let t0 = Instant::now();
    for kind in KINDS {
        let mut cc = grown_to(kind, t0, 20);
        cc.on_mtu_update(1452);
        assert_eq!(cc.window(), 20 * MDS, "{kind:?}");

        let mut cc = kind.build(1200);
        for i in 1..10 {
            let now = t0 + ms(10 * i);
            cc.on_congestion_event(now, now - ms(1), false, MDS);
        }
        assert_eq!(cc.window(), 2 * 1200, "{kind:?}");
        cc.on_mtu_update(1452);
        assert_eq!(cc.window(), 2 * 1452, "{kind:?}");
    }
}

#[test]
fn clone_box_is_an_independent_copy() {
    let t0 = Instant::now();
    for kind in KINDS {
        let original = grown_to(kind, t0, 50);
        let mut copy = original.clone();
        copy.on_congestion_event(t0 + ms(10), t0 + ms(5), true, MDS);
        assert_eq!(original.window(), 50 * MDS, "{kind:?}");
        assert_eq!(copy.window(), 2 * MDS, "{kind:?}");
    }
}
