//! The connection's timers in one table (RFC 9000 §10, RFC 9002 §6): each
//! [`Timer`] indexes one deadline; the next wakeup is their minimum, and
//! expired timers are served in enum order. Recovery code only computes
//! deadlines; the connection sets and serves them here.

use std::time::Instant;

/// Every timer a connection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Loss detection: time-threshold loss or PTO (RFC 9002 §6).
    LossDetection = 0,
    /// Send a delayed ACK (RFC 9000 §13.2.1).
    AckDelay = 1,
    /// Close after the idle timeout (RFC 9000 §10.1).
    Idle = 2,
    /// Send a keep-alive PING before the peer's idle timeout fires.
    KeepAlive = 3,
    /// Pacing: the next packet may leave (RFC 9002 §7.7).
    Pacing = 4,
    /// The closing or draining period ends (RFC 9000 §10.2).
    Close = 5,
    /// Forget the previous 1-RTT read keys after a key update (RFC 9001 §6.5).
    KeyDiscard = 6,
    /// Give up on an unfinished handshake.
    Handshake = 7,
}

impl Timer {
    /// Every timer, in service order.
    pub const ALL: [Timer; 8] = [
        Timer::LossDetection,
        Timer::AckDelay,
        Timer::Idle,
        Timer::KeepAlive,
        Timer::Pacing,
        Timer::Close,
        Timer::KeyDiscard,
        Timer::Handshake,
    ];
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Default, Clone)]
pub struct TimerTable {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// Arms `timer` for `at`, replacing any earlier setting.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    /// Arms or disarms `timer`.
    pub fn set_or_stop(&mut self, timer: Timer, at: Option<Instant>) {
        self.deadlines[timer as usize] = at;
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    /// When `timer` fires, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    /// Whether `timer` is armed and due at `now`.
    pub fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| at <= now)
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.deadlines = Default::default();
    }

    /// Disarms and returns the first timer (in service order) due at `now`.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL.into_iter().find(|t| self.is_expired(*t, now))?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn next_deadline_is_the_earliest_armed_timer() {
        let now = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next_deadline(), None);
        table.set(Timer::Idle, now + Duration::from_secs(30));
        table.set(Timer::AckDelay, now + Duration::from_millis(25));
        assert_eq!(table.next_deadline(), Some(now + Duration::from_millis(25)));
        table.stop(Timer::AckDelay);
        assert_eq!(table.next_deadline(), Some(now + Duration::from_secs(30)));
    }

    #[test]
    fn expired_timers_come_out_in_enum_order_once() {
        let now = Instant::now();
        let mut table = TimerTable::default();
        table.set(Timer::Idle, now);
        table.set(Timer::LossDetection, now);
        table.set(Timer::Close, now + Duration::from_secs(1));
        assert_eq!(table.take_expired(now), Some(Timer::LossDetection));
        assert_eq!(table.take_expired(now), Some(Timer::Idle));
        assert_eq!(table.take_expired(now), None);
    }
}
