//! Flow control credit (RFC 9000 §4.1, §4.2): [`SendCredit`] tracks a limit the
//! peer gave us and what we used of it, [`RecvWindow`] the limit we advertise, its
//! enforcement and when to raise it, growing the window when the application reads
//! faster than a round trip's worth of updates can keep up with (auto-tuning).
//! One instance per stream and one per connection; the caller owns the summing.

use crate::coding::VarInt;
use crate::error::{TransportError, TransportErrorCode};
use std::time::{Duration, Instant};

/// A new limit is advertised once the peer's remaining credit falls to
/// `window / UPDATE_DIVISOR`: half the window, as quic-go does. Raising it (updating
/// sooner) sends more MAX_DATA frames; lowering it risks stalling a sender whose
/// update is still in flight.
pub const UPDATE_DIVISOR: u64 = 2;

/// The window doubles when the application consumed a window's worth of data in
/// less than this many smoothed RTTs. With updates at half a window, a sender never
/// waits for credit once the window reaches 2 × bandwidth × RTT, which is exactly
/// when a window lasts 2 RTTs at the current rate. (quic-go grows up to 4 RTTs,
/// trading memory for headroom.)
pub const AUTOTUNE_WINDOW_RTTS: u32 = 2;

/// A stream window that grows pulls the connection window up to this multiple of
/// it (as a ratio, 3/2 = 1.5, quic-go's choice): one fast stream must not be held
/// back by a connection window no larger than its own.
pub const CONNECTION_WINDOW_RATIO: (u64, u64) = (3, 2);

/// Credit the peer gave us to send: its latest MAX_DATA or MAX_STREAM_DATA limit
/// and what we have consumed of it (RFC 9000 §4.1).
#[derive(Debug, Clone)]
pub struct SendCredit {
    max: u64,
    used: u64,
    /// The limit at which we last reported being blocked, so that each limit value
    /// yields one DATA_BLOCKED / STREAM_DATA_BLOCKED.
    blocked_at: Option<u64>,
}

impl SendCredit {
    /// Credit up to `max` bytes, none used.
    pub fn new(max: u64) -> Self {
        SendCredit {
            max,
            used: 0,
            blocked_at: None,
        }
    }

    /// The peer's current limit.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Bytes consumed so far.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Bytes that may still be sent.
    pub fn available(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }

    /// Records `n` more bytes sent; the caller stays within [`Self::available`].
    pub fn consume(&mut self, n: u64) {
        debug_assert!(n <= self.available(), "sent past the peer's limit");
        self.used = self.used.saturating_add(n).min(self.max);
    }

    /// Takes a new limit from the peer; returns whether it raised the limit.
    /// RFC 9000 §4.1: a limit that does not increase is ignored.
    pub fn handle_max(&mut self, max: u64) -> bool {
        if max <= self.max {
            return false;
        }
        self.max = max;
        true
    }

    /// When we have data to send but no credit, the limit to report as blocked, once
    /// per limit value (RFC 9000 §4.1: a blocked sender should say so).
    pub fn maybe_blocked(&mut self) -> Option<u64> {
        if self.available() > 0 || self.blocked_at == Some(self.max) {
            return None;
        }
        self.blocked_at = Some(self.max);
        Some(self.max)
    }

    /// A blocked report for `limit` was lost: report again if still blocked there.
    pub fn on_blocked_lost(&mut self, limit: u64) {
        if self.blocked_at == Some(limit) {
            self.blocked_at = None;
        }
    }
}

/// The limit we advertise to the peer for one stream or the whole connection, with
/// enforcement and auto-tuning (RFC 9000 §4.1, §4.2).
///
/// `received` is the highest offset the peer used (for the connection, the sum over
/// streams); `consumed` is what the application read or we discarded, which is
/// what frees credit.
#[derive(Debug, Clone)]
pub struct RecvWindow {
    /// The limit advertised so far.
    max: u64,
    /// Credit handed out beyond `consumed` at each update.
    window: u64,
    /// Auto-tuning stops here.
    max_window: u64,
    received: u64,
    consumed: u64,
    /// Start of the current auto-tuning epoch: when, and `consumed` at that time.
    epoch: Option<(Instant, u64)>,
    /// The last advertised limit was lost and must be sent again.
    resend: bool,
}

impl RecvWindow {
    /// A window of `window` bytes (the limit advertised in the transport
    /// parameters), allowed to grow to `max_window`.
    pub fn new(window: u64, max_window: u64) -> Self {
        // Limits go on the wire as varints.
        let window = window.min(VarInt::MAX.into_inner());
        RecvWindow {
            max: window,
            window,
            max_window: max_window.max(window),
            received: 0,
            consumed: 0,
            epoch: None,
            resend: false,
        }
    }

    /// The limit advertised so far.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The current window size.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The highest amount of data the peer has used.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// What the application read or we discarded.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Records that the peer has used credit up to `total` bytes at `now`.
    /// RFC 9000 §4.1: data past the advertised limit is a FLOW_CONTROL_ERROR.
    pub fn on_received(&mut self, total: u64, now: Instant) -> Result<(), TransportError> {
        if total > self.max {
            return Err(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "data past the advertised flow control limit",
            ));
        }
        self.received = self.received.max(total);
        // The first epoch starts when data first flows.
        if self.epoch.is_none() {
            self.epoch = Some((now, self.consumed));
        }
        Ok(())
    }

    /// Records `n` more bytes read by the application or discarded; returns whether
    /// an update is now due (queue one and call [`Self::poll_update`] when sending).
    pub fn on_consumed(&mut self, n: u64) -> bool {
        self.consumed = self.consumed.saturating_add(n).min(self.received);
        self.wants_update()
    }

    /// Whether a new limit should be advertised: the peer's remaining credit fell
    /// to a fraction of the window, or the last update was lost.
    pub fn wants_update(&self) -> bool {
        self.resend || self.max - self.consumed.min(self.max) <= self.window / UPDATE_DIVISOR
    }

    /// The limit to advertise now, if one is due. Growing the window happens here,
    /// at send time, with the smoothed RTT (zero if unknown: no growth).
    pub fn poll_update(&mut self, now: Instant, rtt: Duration) -> Option<u64> {
        if self.max - self.consumed.min(self.max) <= self.window / UPDATE_DIVISOR {
            self.maybe_grow(now, rtt);
            let limit = self
                .consumed
                .saturating_add(self.window)
                .min(VarInt::MAX.into_inner());
            self.max = self.max.max(limit);
        } else if !self.resend {
            return None;
        }
        self.resend = false;
        Some(self.max)
    }

    /// The peer says it is blocked at `limit`: if we allowed more, our update did
    /// not reach it, so it is sent again. Returns whether an update is due.
    pub fn on_peer_blocked(&mut self, limit: u64) -> bool {
        if self.max > limit {
            self.resend = true;
        }
        self.wants_update()
    }

    /// An advertised limit was lost; send it again unless a larger one went since.
    pub fn on_update_lost(&mut self, max: u64) {
        if max == self.max {
            self.resend = true;
        }
    }

    /// Raises the window to at least `min_window` (capped at the maximum), as a
    /// connection window does when one of its streams grew.
    pub fn ensure_window(&mut self, min_window: u64) {
        self.window = self.window.max(min_window.min(self.max_window));
    }

    /// Doubles the window when the epoch's reading rate would drain a full window
    /// in under [`AUTOTUNE_WINDOW_RTTS`] round trips, then starts a new epoch.
    fn maybe_grow(&mut self, now: Instant, rtt: Duration) {
        let Some((start, start_consumed)) = self.epoch else {
            self.epoch = Some((now, self.consumed));
            return;
        };
        let used = self.consumed.saturating_sub(start_consumed);
        // Too little read in this epoch to judge the rate; keep measuring.
        if used < self.window / UPDATE_DIVISOR {
            return;
        }
        if !rtt.is_zero() {
            // elapsed / used < AUTOTUNE_WINDOW_RTTS * rtt / window, without floats.
            let elapsed = now.saturating_duration_since(start).as_nanos();
            let budget = rtt.saturating_mul(AUTOTUNE_WINDOW_RTTS).as_nanos();
            let spent = elapsed.saturating_mul(u128::from(self.window));
            if spent < budget.saturating_mul(u128::from(used)) {
                self.window = self.window.saturating_mul(2).min(self.max_window);
            }
        }
        self.epoch = Some((now, self.consumed));
    }
}

#[cfg(test)]
mod tests;
