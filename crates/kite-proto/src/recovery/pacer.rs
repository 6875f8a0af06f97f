//! Pacing (RFC 9002 §7.7): a token bucket filled at N * cwnd / smoothed_rtt
//! with N = 5/4, holding ten datagrams, or what the rate fills in a timer
//! tick when that is more (short RTTs), within the window. It answers when
//! the next packet may leave; the connection's timer table holds that
//! deadline. ACK-only packets are not paced (§7.7) and never pass through here.

use std::time::{Duration, Instant};

/// Numerator of the pacing gain N (RFC 9002 §7.7 suggests 1.25): pacing a
/// little faster than cwnd per RTT keeps RTT jitter from leaving the window
/// unused, while still spreading it over most of the round trip.
const PACING_GAIN_NUMERATOR: u128 = 5;
/// Denominator of the pacing gain N.
const PACING_GAIN_DENOMINATOR: u128 = 4;

/// Datagrams that may leave back to back on any path: RFC 9002 §7.7 says
/// bursts should stay within the initial window, which is ten datagrams (§7.2).
pub const INITIAL_BURST_PACKETS: u64 = 10;

/// Most datagrams the bucket holds, however short the RTT: a bound on the
/// burst a loopback or LAN path must absorb (quinn's bound too).
pub const MAX_BURST_PACKETS: u64 = 256;

/// The bucket holds at least this long's sending at the pacing rate. Timers
/// (tokio's among them) fire at millisecond granularity: a bucket that empties
/// faster than that idles the sender until the next tick, which on a
/// sub-millisecond RTT caps the rate far below the window's. RFC 9002 §7.7
/// allows deviating from the rate over short periods for scheduling delays.
pub const BURST_INTERVAL: Duration = Duration::from_millis(2);

/// Fewest datagrams the bucket holds, even for a tiny window: a pair keeps a
/// delayed-ACK receiver acknowledging promptly (RFC 9000 §13.2.2 asks for an
/// ACK at least every second ack-eliciting packet).
pub const MIN_BURST_PACKETS: u64 = 2;

/// Token-bucket pacer for one path. Tokens are bytes.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// Bytes that may leave now.
    tokens: u64,
    /// When `tokens` was last topped up; `None` before first use.
    last_refill: Option<Instant>,
}

impl Pacer {
    /// A pacer whose bucket starts full.
    pub fn new() -> Self {
        Self::default()
    }

    /// When a packet of `bytes_to_send` may leave: `None` for now, or the
    /// instant at which enough tokens will have built up.
    ///
    /// `window` is the congestion window, `smoothed_rtt` the path's, `mtu`
    /// its maximum datagram size. Without an RTT or a window there is no rate
    /// to pace at, and nothing is held back.
    pub fn delay_until(
        &mut self,
        now: Instant,
        bytes_to_send: u64,
        window: u64,
        smoothed_rtt: Duration,
        mtu: u64,
    ) -> Option<Instant> {
        let capacity = burst_capacity(window, smoothed_rtt, mtu);
        let rtt_nanos = smoothed_rtt.as_nanos();
        if rtt_nanos == 0 || window == 0 {
            self.tokens = capacity;
            self.last_refill = Some(now);
            return None;
        }

        let refill = match self.last_refill {
            None => u128::from(capacity),
            Some(last) => {
                // rate = N * window / smoothed_rtt bytes per nanosecond.
                let elapsed = now.saturating_duration_since(last).as_nanos();
                (u128::from(window) * PACING_GAIN_NUMERATOR).saturating_mul(elapsed)
                    / (rtt_nanos * PACING_GAIN_DENOMINATOR)
            }
        };
        let tokens = (u128::from(self.tokens) + refill).min(u128::from(capacity));
        self.tokens = u64::try_from(tokens).unwrap_or(capacity);
        self.last_refill = Some(now);

        // A packet larger than the bucket waits for a full bucket, not forever.
        let needed = bytes_to_send.min(capacity);
        if self.tokens >= needed {
            return None;
        }
        let deficit = u128::from(needed - self.tokens);
        // Rounded up, so that at the returned instant the refill covers it.
        let wait_nanos = deficit
            .saturating_mul(rtt_nanos)
            .saturating_mul(PACING_GAIN_DENOMINATOR)
            .div_ceil(u128::from(window) * PACING_GAIN_NUMERATOR);
        let wait = Duration::from_nanos(u64::try_from(wait_nanos).unwrap_or(u64::MAX));
        Some(now.checked_add(wait).unwrap_or(now))
    }

    /// A paced packet of `bytes` left: spend its tokens.
    pub fn on_sent(&mut self, bytes: u64) {
        self.tokens = self.tokens.saturating_sub(bytes);
    }
}

/// Bucket size: [`BURST_INTERVAL`]'s worth of the rate, between ten and
/// [`MAX_BURST_PACKETS`] datagrams, never more than the window but at least
/// two datagrams. Without an RTT sample the interval's worth is unknown: ten.
fn burst_capacity(window: u64, smoothed_rtt: Duration, mtu: u64) -> u64 {
    let rtt_nanos = smoothed_rtt.as_nanos();
    let interval_worth = if rtt_nanos == 0 {
        0
    } else {
        let bytes = (u128::from(window) * PACING_GAIN_NUMERATOR)
            .saturating_mul(BURST_INTERVAL.as_nanos())
            / (rtt_nanos * PACING_GAIN_DENOMINATOR);
        u64::try_from(bytes).unwrap_or(u64::MAX)
    };
    let floor = INITIAL_BURST_PACKETS.saturating_mul(mtu);
    let ceiling = MAX_BURST_PACKETS.saturating_mul(mtu);
    let min = MIN_BURST_PACKETS.saturating_mul(mtu);
    interval_worth.clamp(floor, ceiling).min(window).max(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MTU: u64 = 1200;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Sends `count` packets of one MTU as fast as the pacer allows, from
    /// `now`; returns each packet's departure time.
    fn send(
        pacer: &mut Pacer,
        now: Instant,
        count: usize,
        window: u64,
        rtt: Duration,
    ) -> Vec<Instant> {
        let mut now = now;
        let mut departures = Vec::new();
        for _ in 0..count {
            if let Some(at) = pacer.delay_until(now, MTU, window, rtt, MTU) {
                assert!(at > now);
                now = at;
                assert_eq!(pacer.delay_until(now, MTU, window, rtt, MTU), None);
            }
            pacer.on_sent(MTU);
            departures.push(now);
        }
        departures
    }

    #[test]
    fn full_window_is_spread_over_about_one_rtt() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        let window = 100 * MTU;
        let departures = send(&mut pacer, t0, 100, window, ms(100));
        // Ten leave at once; the other 90 at 1.25 windows per 100 ms, one
        // every 0.8 ms: 72 ms in all.
        assert!(departures[..10].iter().all(|&t| t == t0));
        let total = *departures.last().unwrap() - t0;
        assert!(total >= ms(71) && total <= ms(73), "{total:?}");
        for pair in departures[10..].windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_micros(790) && gap <= Duration::from_micros(810),
                "{gap:?}"
            );
        }
    }

    #[test]
    fn burst_of_ten_datagrams_allowed_after_idle() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        let window = 100 * MTU;
        let first = send(&mut pacer, t0, 30, window, ms(100));
        let idle = *first.last().unwrap() + Duration::from_secs(1);
        let second = send(&mut pacer, idle, 11, window, ms(100));
        assert!(second[..10].iter().all(|&t| t == idle));
        assert!(second[10] > idle);
    }

    #[test]
    fn burst_never_exceeds_window_but_is_at_least_two_datagrams() {
        assert_eq!(burst_capacity(100 * MTU, ms(100), MTU), 10 * MTU);
        assert_eq!(burst_capacity(5 * MTU, ms(100), MTU), 5 * MTU);
        assert_eq!(burst_capacity(MTU, ms(100), MTU), 2 * MTU);
        assert_eq!(burst_capacity(MTU, Duration::ZERO, MTU), 2 * MTU);
        assert_eq!(burst_capacity(100 * MTU, Duration::ZERO, MTU), 10 * MTU);
    }

    #[test]
    fn short_rtt_bucket_holds_a_timer_tick_of_sending() {
        // 1.25 * 400 datagrams per ms for 2 ms is 1,000: capped at 256.
        let window = 400 * MTU;
        assert_eq!(burst_capacity(window, ms(1), MTU), 256 * MTU);
        // 1.25 * 40 datagrams per 4 ms for 2 ms is 25.
        assert_eq!(burst_capacity(40 * MTU, ms(4), MTU), 25 * MTU);
        // Never more than the window.
        assert_eq!(
            burst_capacity(30 * MTU, Duration::from_micros(100), MTU),
            30 * MTU
        );
        // A sender that just sent a bucketful at a 100 µs RTT may go on
        // right after a 1 ms timer tick: the bucket refilled meanwhile.
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        let rtt = Duration::from_micros(100);
        let departures = send(&mut pacer, t0, 256, window, rtt);
        assert!(departures.iter().all(|&t| t == t0));
        assert!(pacer.delay_until(t0, MTU, window, rtt, MTU).is_some());
        assert_eq!(pacer.delay_until(t0 + ms(1), MTU, window, rtt, MTU), None);
    }

    #[test]
    fn zero_smoothed_rtt_does_not_pace_or_divide_by_zero() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        for _ in 0..100 {
            assert_eq!(
                pacer.delay_until(t0, MTU, 100 * MTU, Duration::ZERO, MTU),
                None
            );
            pacer.on_sent(MTU);
        }
    }

    #[test]
    fn zero_window_does_not_divide_by_zero() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        pacer.on_sent(100 * MTU);
        assert_eq!(pacer.delay_until(t0, MTU, 0, ms(100), MTU), None);
    }

    #[test]
    fn packet_larger_than_bucket_waits_only_for_full_bucket() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        let window = 2 * MTU;
        send(&mut pacer, t0, 2, window, ms(100));
        // 2400 tokens at 3000 bytes per 100 ms: 80 ms.
        let at = pacer
            .delay_until(t0, 10 * MTU, window, ms(100), MTU)
            .unwrap();
        assert_eq!(at - t0, ms(80));
        assert_eq!(pacer.delay_until(at, 10 * MTU, window, ms(100), MTU), None);
    }

    #[test]
    fn smaller_window_shrinks_stored_burst() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        assert_eq!(pacer.delay_until(t0, MTU, 100 * MTU, ms(100), MTU), None);
        // The window collapsed to three datagrams: only three may go at once.
        let departures = send(&mut pacer, t0, 4, 3 * MTU, ms(100));
        assert!(departures[..3].iter().all(|&t| t == t0));
        assert!(departures[3] > t0);
    }

    #[test]
    fn time_going_backwards_does_not_panic() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        send(&mut pacer, t0 + ms(10), 12, 100 * MTU, ms(100));
        assert!(
            pacer
                .delay_until(t0, MTU, 100 * MTU, ms(100), MTU)
                .is_some()
        );
    }
}
