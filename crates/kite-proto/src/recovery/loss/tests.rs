//! Tests for loss detection, PTO and persistent congestion (RFC 9002 §6,
//! §7.6).

use std::time::{Duration, Instant};

use super::*;

const MS: Duration = Duration::from_millis(1);

/// smoothed 100ms, rttvar 10ms, latest 100ms, first sample at `first`.
fn rtt(first: Option<Instant>) -> RttSnapshot {
    RttSnapshot {
        latest_rtt: MS * 100,
        smoothed_rtt: MS * 100,
        rttvar: MS * 10,
        min_rtt: MS * 100,
        first_sample_time: first,
    }
}

fn send(sent: &mut SentPackets<u64>, at: Instant, ack_eliciting: bool) -> u64 {
    let pn = sent.next_pn();
    sent.on_packet_sent(SentPacket {
        pn,
        time_sent: at,
        size: 1200,
        ack_eliciting,
        in_flight: true,
        payload: pn,
    });
    pn
}

fn ack(sent: &mut SentPackets<u64>, ranges: &[std::ops::RangeInclusive<u64>]) {
    sent.on_ack_received(ranges.iter().cloned(), |_| {})
        .unwrap();
}

fn detect(sent: &mut SentPackets<u64>, now: Instant, rtt: &RttSnapshot) -> (LossOutcome, Vec<u64>) {
    let mut lost = Vec::new();
    let outcome = detect_lost(sent, now, rtt, MS * 25, |p| lost.push(p.pn));
    (outcome, lost)
}

#[test]
fn loss_delay_is_nine_eighths_of_larger_rtt_with_granularity_floor() {
    let mut r = rtt(None);
    assert_eq!(loss_delay(&r), MS * 112 + Duration::from_micros(500));
    r.latest_rtt = MS * 200;
    assert_eq!(loss_delay(&r), MS * 225);
    r.latest_rtt = Duration::from_micros(100);
    r.smoothed_rtt = Duration::from_micros(200);
    assert_eq!(loss_delay(&r), GRANULARITY);
}

/// RFC 9002 §6.1.1: a packet three numbers below an acknowledged one is lost.
#[test]
fn packet_threshold_declares_packets_three_below_largest_acked_lost() {
    let t0 = Instant::now();
    let mut sent = SentPackets::new();
    for _ in 0..5 {
        send(&mut sent, t0, true);
    }
    ack(&mut sent, &[4..=4]);
    // Right after sending: no time-threshold loss yet.
    let (outcome, lost) = detect(&mut sent, t0 + MS, &rtt(None));
    assert_eq!(lost, [0, 1]);
    assert_eq!(outcome.lost_packets, 2);
    assert_eq!(outcome.lost_bytes, 2400);
    assert_eq!(outcome.largest_lost_time_sent, Some(t0));
    assert_eq!(sent.bytes_in_flight(), 2 * 1200);
    assert_eq!(sent.iter().map(|p| p.pn).collect::<Vec<_>>(), [2, 3]);
}

/// RFC 9002 §6.1.2: packets below the largest acknowledged but within the
/// packet threshold wait for the time threshold, and the space gets a
/// deadline for them.
#[test]
fn time_threshold_sets_loss_time_then_declares_loss_at_it() {
    let t0 = Instant::now();
    let mut sent = SentPackets::new();
    send(&mut sent, t0, true);
    send(&mut sent, t0 + MS * 10, true);
    ack(&mut sent, &[1..=1]);
    let r = rtt(None);
    let (outcome, lost) = detect(&mut sent, t0 + MS * 20, &r);
    assert!(lost.is_empty());
    let deadline = t0 + loss_delay(&r);
    assert_eq!(outcome.loss_time, Some(deadline));
    assert_eq!(sent.loss_time(), Some(deadline));

    let (outcome, lost) = detect(&mut sent, deadline - MS, &r);
    assert!(lost.is_empty());
    assert_eq!(outcome.loss_time, Some(deadline));

    let (outcome, lost) = detect(&mut sent, deadline, &r);
    assert_eq!(lost, [0]);
    assert_eq!(outcome.loss_time, None);
    assert_eq!(sent.loss_time(), None);
}

#[test]
fn nothing_is_lost_before_any_acknowledgment_or_above_largest_acked() {
    let t0 = Instant::now();
    let mut sent = SentPackets::new();
    for _ in 0..6 {
        send(&mut sent, t0, true);
    }
    let (outcome, lost) = detect(&mut sent, t0 + MS * 10_000, &rtt(None));
    assert!(lost.is_empty());
    assert_eq!(outcome, LossOutcome::default());

    ack(&mut sent, &[1..=1]);
    let (_, lost) = detect(&mut sent, t0 + MS * 10_000, &rtt(None));
    assert_eq!(lost, [0]);
    assert_eq!(sent.len(), 4);
}

#[test]
fn non_in_flight_packets_are_lost_without_bytes() {
    let t0 = Instant::now();
    let mut sent = SentPackets::new();
    let pn = sent.next_pn();
    sent.on_packet_sent(SentPacket {
        pn,
        time_sent: t0,
        size: 50,
        ack_eliciting: false,
        in_flight: false,
        payload: pn,
    });
    for _ in 0..3 {
        send(&mut sent, t0, true);
    }
    ack(&mut sent, &[3..=3]);
    let (outcome, lost) = detect(&mut sent, t0, &rtt(None));
    assert_eq!(lost, [0]);
    assert_eq!(outcome.lost_bytes, 0);
    assert_eq!(outcome.largest_lost_time_sent, None);
}

// --- persistent congestion (RFC 9002 §7.6) ---

/// duration = (100 + max(40, 1) + 25) * 3 = 495ms.
fn pc_case(gap_ms: u32, ack_between: bool, first_sample_offset_ms: i64) -> bool {
    let t0 = Instant::now() + MS * 1000;
    let first = if first_sample_offset_ms >= 0 {
        t0 + MS * first_sample_offset_ms as u32
    } else {
        t0 - MS * (-first_sample_offset_ms) as u32
    };
    let mut sent = SentPackets::new();
    let a = send(&mut sent, t0, true);
    let mid = send(&mut sent, t0 + MS * (gap_ms / 2), true);
    let b = send(&mut sent, t0 + MS * gap_ms, true);
    let mut later = 0;
    for _ in 0..3 {
        later = send(&mut sent, t0 + MS * (gap_ms + 1), true);
    }
    if ack_between {
        ack(&mut sent, &[mid..=mid]);
    }
    ack(&mut sent, &[later..=later]);
    let now = t0 + MS * (gap_ms + 2);
    let mut lost = Vec::new();
    let outcome = detect_lost(&mut sent, now, &rtt(Some(first)), MS * 25, |p| {
        lost.push(p.pn)
    });
    assert!(lost.contains(&a) && lost.contains(&b));
    outcome.persistent_congestion
}

#[test]
fn persistent_congestion_duration_is_three_ptos_with_max_ack_delay() {
    assert_eq!(
        persistent_congestion_duration(&rtt(None), MS * 25),
        MS * 495
    );
}

/// RFC 9002 §7.6.2: two ack-eliciting losses further apart than the
/// duration, nothing acknowledged between them.
#[test]
fn persistent_congestion_when_losses_span_more_than_duration() {
    assert!(pc_case(496, false, -1));
}

#[test]
fn no_persistent_congestion_when_span_is_within_duration() {
    assert!(!pc_case(495, false, -1));
}

#[test]
fn no_persistent_congestion_when_a_packet_between_was_acknowledged() {
    assert!(!pc_case(600, true, -1));
}

/// RFC 9002 §7.6.2: only packets sent after the first RTT sample count.
#[test]
fn no_persistent_congestion_for_packets_sent_before_first_rtt_sample() {
    // The first packet was sent at the first sample's time: not after it.
    assert!(!pc_case(600, false, 0));
    // Sample after the middle packet: only the last counts.
    assert!(!pc_case(600, false, 301));
    assert!(pc_case(600, false, -1));
}

#[test]
fn no_persistent_congestion_without_an_rtt_sample() {
    let t0 = Instant::now();
    let mut sent = SentPackets::new();
    send(&mut sent, t0, true);
    send(&mut sent, t0 + MS * 1000, true);
    for _ in 0..3 {
        send(&mut sent, t0 + MS * 1001, true);
    }
    ack(&mut sent, &[4..=4]);
    let (outcome, lost) = detect(&mut sent, t0 + MS * 1002, &rtt(None));
    assert_eq!(lost, [0, 1]);
    assert!(!outcome.persistent_congestion);
}

/// RFC 9002 §7.6.2: both ends must be ack-eliciting.
#[test]
fn no_persistent_congestion_when_an_end_is_not_ack_eliciting() {
    let t0 = Instant::now() + MS * 10;
    let mut sent = SentPackets::new();
    send(&mut sent, t0, true);
    send(&mut sent, t0 + MS * 1000, false);
    for _ in 0..3 {
        send(&mut sent, t0 + MS * 1001, true);
    }
    ack(&mut sent, &[4..=4]);
    let (outcome, lost) = detect(&mut sent, t0 + MS * 1002, &rtt(Some(t0 - MS)));
    assert_eq!(lost, [0, 1]);
    assert!(!outcome.persistent_congestion);
}

// --- PTO (RFC 9002 §6.2) ---

fn inputs() -> TimerInputs {
    TimerInputs {
        rtt: rtt(None),
        max_ack_delay: MS * 25,
        pto_count: 0,
        handshake_confirmed: true,
        peer_completed_address_validation: true,
        has_handshake_keys: true,
        amplification_blocked: false,
    }
}

fn in_flight(last_sent: Instant) -> SpaceSummary {
    SpaceSummary {
        ack_eliciting_in_flight: true,
        time_of_last_ack_eliciting: Some(last_sent),
        loss_time: None,
    }
}

fn spaces(initial: SpaceSummary, handshake: SpaceSummary, data: SpaceSummary) -> [SpaceSummary; 3] {
    [initial, handshake, data]
}

const NONE: SpaceSummary = SpaceSummary {
    ack_eliciting_in_flight: false,
    time_of_last_ack_eliciting: None,
    loss_time: None,
};

/// RFC 9002 §6.2.1: Initial and Handshake PTOs leave max_ack_delay out.
#[test]
fn pto_in_handshake_space_excludes_max_ack_delay() {
    let t0 = Instant::now();
    let timer = loss_detection_timer(t0, &spaces(NONE, in_flight(t0), NONE), &inputs()).unwrap();
    assert_eq!(timer.space, SpaceId::Handshake);
    assert_eq!(timer.kind, TimerKind::Pto);
    assert_eq!(timer.at, t0 + MS * 140);
}

#[test]
fn pto_in_application_space_includes_max_ack_delay() {
    let t0 = Instant::now();
    let timer = loss_detection_timer(t0, &spaces(NONE, NONE, in_flight(t0)), &inputs()).unwrap();
    assert_eq!((timer.space, timer.at), (SpaceId::Data, t0 + MS * 165));
}

#[test]
fn pto_granularity_floor_applies_to_variance_term() {
    let t0 = Instant::now();
    let mut i = inputs();
    i.rtt.smoothed_rtt = MS * 10;
    i.rtt.rttvar = Duration::ZERO;
    let timer = loss_detection_timer(t0, &spaces(in_flight(t0), NONE, NONE), &i).unwrap();
    assert_eq!(timer.at, t0 + MS * 11);
}

/// RFC 9002 §6.2.1: each consecutive PTO doubles the period, max_ack_delay
/// included, in every space.
#[test]
fn pto_backoff_doubles_per_pto_count() {
    let t0 = Instant::now();
    let mut i = inputs();
    i.pto_count = 2;
    let hs = loss_detection_timer(t0, &spaces(NONE, in_flight(t0), NONE), &i).unwrap();
    assert_eq!(hs.at, t0 + MS * 560);
    let app = loss_detection_timer(t0, &spaces(NONE, NONE, in_flight(t0)), &i).unwrap();
    assert_eq!(app.at, t0 + MS * 660);
}

#[test]
fn pto_backoff_is_capped_without_overflow() {
    let t0 = Instant::now();
    let mut i = inputs();
    i.pto_count = u32::MAX;
    let timer = loss_detection_timer(t0, &spaces(NONE, NONE, in_flight(t0)), &i).unwrap();
    assert_eq!(timer.at, t0 + MS * 165 * (1 << MAX_PTO_BACKOFF_EXPONENT));
}

/// RFC 9002 §6.2.1: with several spaces in flight the earliest PTO wins.
#[test]
fn pto_picks_earliest_space() {
    let t0 = Instant::now();
    let s = spaces(in_flight(t0 + MS * 50), in_flight(t0), NONE);
    let timer = loss_detection_timer(t0, &s, &inputs()).unwrap();
    assert_eq!((timer.space, timer.at), (SpaceId::Handshake, t0 + MS * 140));
}

/// RFC 9002 §6.2.1: no application PTO before the handshake is confirmed.
#[test]
fn application_pto_waits_for_handshake_confirmation() {
    let t0 = Instant::now();
    let mut i = inputs();
    i.handshake_confirmed = false;
    assert_eq!(
        loss_detection_timer(t0, &spaces(NONE, NONE, in_flight(t0)), &i),
        None
    );
    let timer = loss_detection_timer(
        t0,
        &spaces(NONE, in_flight(t0 + MS * 500), in_flight(t0)),
        &i,
    )
    .unwrap();
    assert_eq!(timer.space, SpaceId::Handshake);
}

/// RFC 9002 §6.2.2.1: a client whose address may not be validated keeps a
/// PTO from now with nothing in flight, in Handshake once it has the keys.
#[test]
fn client_anti_deadlock_pto_without_packets_in_flight() {
    let t0 = Instant::now();
    let mut i = inputs();
    i.peer_completed_address_validation = false;
    i.handshake_confirmed = false;
    i.has_handshake_keys = false;
    let timer = loss_detection_timer(t0, &spaces(NONE, NONE, NONE), &i).unwrap();
    assert_eq!(
        timer,
        LossTimer {
            at: t0 + MS * 140,
            space: SpaceId::Initial,
            kind: TimerKind::AntiDeadlock,
        }
    );
    i.has_handshake_keys = true;
    i.pto_count = 1;
    let timer = loss_detection_timer(t0, &spaces(NONE, NONE, NONE), &i).unwrap();
    assert_eq!((timer.space, timer.at), (SpaceId::Handshake, t0 + MS * 280));
}

#[test]
fn no_timer_with_nothing_in_flight_once_address_validated() {
    let t0 = Instant::now();
    assert_eq!(
        loss_detection_timer(t0, &spaces(NONE, NONE, NONE), &inputs()),
        None
    );
}

/// RFC 9002 §6.2.2.1: a server at its amplification limit arms no PTO.
#[test]
fn no_pto_while_server_is_amplification_blocked() {
    let t0 = Instant::now();
    let mut i = inputs();
    i.amplification_blocked = true;
    assert_eq!(
        loss_detection_timer(t0, &spaces(in_flight(t0), NONE, NONE), &i),
        None
    );
}

/// RFC 9002 §6.2.1: the PTO is not armed while a time-threshold loss timer
/// is; the earliest loss time across spaces wins.
#[test]
fn loss_time_takes_precedence_over_pto() {
    let t0 = Instant::now();
    let mut hs = in_flight(t0);
    hs.loss_time = Some(t0 + MS * 300);
    let mut app = in_flight(t0);
    app.loss_time = Some(t0 + MS * 200);
    let timer = loss_detection_timer(t0, &spaces(in_flight(t0), hs, app), &inputs()).unwrap();
    assert_eq!(
        timer,
        LossTimer {
            at: t0 + MS * 200,
            space: SpaceId::Data,
            kind: TimerKind::LossTime,
        }
    );
}

#[test]
fn space_summary_reflects_sent_packets() {
    let t0 = Instant::now();
    let mut sent = SentPackets::new();
    assert_eq!(SpaceSummary::of(&sent), NONE);
    send(&mut sent, t0, true);
    assert_eq!(SpaceSummary::of(&sent), in_flight(t0));
}
