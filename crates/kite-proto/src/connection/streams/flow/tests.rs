use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn send_credit_is_consumed_up_to_the_limit_and_lower_limits_are_ignored() {
    let mut credit = SendCredit::new(100);
    credit.consume(60);
    assert_eq!(credit.available(), 40);
    assert!(
        !credit.handle_max(80),
        "RFC 9000 §4.1: a lower limit is ignored"
    );
    assert_eq!(credit.available(), 40);
    assert!(credit.handle_max(150));
    assert_eq!(credit.available(), 90);
    assert_eq!((credit.max(), credit.used()), (150, 60));
}

#[test]
fn send_credit_reports_blocked_once_per_limit_value() {
    let mut credit = SendCredit::new(10);
    assert_eq!(credit.maybe_blocked(), None, "credit left: not blocked");
    credit.consume(10);
    assert_eq!(credit.maybe_blocked(), Some(10));
    assert_eq!(credit.maybe_blocked(), None, "same limit reported once");
    credit.on_blocked_lost(10);
    assert_eq!(credit.maybe_blocked(), Some(10), "lost report repeated");
    credit.handle_max(20);
    credit.on_blocked_lost(10); // stale loss: nothing to repeat
    credit.consume(10);
    assert_eq!(credit.maybe_blocked(), Some(20), "new limit, new report");
}

#[test]
fn recv_window_rejects_data_past_the_advertised_limit() {
    let now = Instant::now();
    let mut window = RecvWindow::new(1000, 4000);
    assert!(window.on_received(1000, now).is_ok());
    let err = window.on_received(1001, now).err().map(|e| e.code);
    assert_eq!(err, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
    assert!(
        window.on_received(500, now).is_ok(),
        "lower totals are fine"
    );
    assert_eq!(window.received(), 1000);
}

#[test]
fn recv_window_update_comes_once_half_the_window_is_consumed() {
    let now = Instant::now();
    let mut window = RecvWindow::new(1000, 1000);
    window.on_received(1000, now).unwrap();
    assert!(!window.on_consumed(499));
    assert_eq!(window.poll_update(now, 10 * MS), None);
    assert!(window.on_consumed(1), "500 of 1000 consumed: update due");
    assert_eq!(window.poll_update(now, 10 * MS), Some(1500));
    assert!(!window.wants_update());
    assert_eq!(window.poll_update(now, 10 * MS), None, "nothing more due");
}

#[test]
fn recv_window_resends_a_lost_update_only_while_it_is_current() {
    let now = Instant::now();
    let mut window = RecvWindow::new(1000, 1000);
    window.on_received(600, now).unwrap();
    window.on_consumed(600);
    assert_eq!(window.poll_update(now, MS), Some(1600));
    window.on_update_lost(1600);
    assert!(window.wants_update());
    assert_eq!(window.poll_update(now, MS), Some(1600), "same limit again");
    window.on_update_lost(1000); // an older one: superseded
    assert_eq!(window.poll_update(now, MS), None);
}

#[test]
fn recv_window_repeats_its_limit_to_a_peer_blocked_below_it() {
    let now = Instant::now();
    let mut window = RecvWindow::new(1000, 1000);
    window.on_received(600, now).unwrap();
    window.on_consumed(600);
    assert_eq!(window.poll_update(now, MS), Some(1600));
    assert!(
        !window.on_peer_blocked(1600),
        "blocked at our limit: app must read"
    );
    assert!(
        window.on_peer_blocked(1000),
        "blocked below: our update was missed"
    );
    assert_eq!(window.poll_update(now, MS), Some(1600));
}

/// The peer fills the window, the application reads it all at once, `step`
/// after the previous update; returns the window after `rounds` updates.
fn run_reads(window: &mut RecvWindow, start: Instant, step: Duration, rtt: Duration, rounds: u32) {
    let mut now = start;
    window.on_received(0, now).unwrap();
    for _ in 0..rounds {
        now += step;
        let max = window.max();
        window.on_received(max, now).unwrap();
        window.on_consumed(max - window.consumed());
        assert!(window.poll_update(now, rtt).is_some());
    }
}

#[test]
fn recv_window_doubles_under_fast_reads_and_stops_at_the_maximum() {
    let mut window = RecvWindow::new(1000, 16_000);
    // A window every 10 ms with a 100 ms RTT: far faster than 2 RTTs.
    run_reads(&mut window, Instant::now(), 10 * MS, 100 * MS, 3);
    assert!(window.window() >= 4000, "grew: {}", window.window());
    run_reads(&mut window, Instant::now(), 10 * MS, 100 * MS, 20);
    assert_eq!(window.window(), 16_000, "capped at the maximum");
}

#[test]
fn recv_window_never_grows_under_slow_reads() {
    let mut window = RecvWindow::new(1000, 16_000);
    // A window every 300 ms with a 100 ms RTT: slower than 2 RTTs per window.
    run_reads(&mut window, Instant::now(), 300 * MS, 100 * MS, 20);
    assert_eq!(window.window(), 1000);
}

#[test]
fn recv_window_does_not_grow_without_an_rtt_sample() {
    let mut window = RecvWindow::new(1000, 16_000);
    run_reads(&mut window, Instant::now(), MS, Duration::ZERO, 10);
    assert_eq!(window.window(), 1000);
}

#[test]
fn ensure_window_raises_but_never_past_the_maximum() {
    let mut window = RecvWindow::new(1000, 5000);
    window.ensure_window(500);
    assert_eq!(window.window(), 1000, "never shrinks");
    window.ensure_window(3000);
    assert_eq!(window.window(), 3000);
    window.ensure_window(90_000);
    assert_eq!(window.window(), 5000);
}

#[test]
fn huge_rtt_or_window_values_do_not_overflow() {
    let now = Instant::now();
    let mut window = RecvWindow::new(u64::MAX / 2, u64::MAX);
    let all = window.max();
    assert_eq!(all, VarInt::MAX.into_inner());
    window.on_received(all, now).unwrap();
    window.on_consumed(all);
    let max = window
        .poll_update(now + Duration::from_secs(1), Duration::MAX)
        .unwrap();
    assert!(max <= VarInt::MAX.into_inner(), "limits stay encodable");
}
