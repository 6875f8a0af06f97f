//! What happens to one datagram in one direction: the impairment settings
//! ([`Impairments`]), the per-direction decision state ([`Impairer`]: its
//! generator, the rate-limited link's backlog, a silence's window, its
//! counters) and the decision itself ([`Verdict`]). No sockets and no
//! clock: time is an argument, so the decisions are unit-tested and replay
//! from a seed.

use crate::rng::SplitMix64;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Default extra delay of a reordered datagram: long enough that the
/// datagrams behind it on loopback overtake it.
pub const DEFAULT_REORDER_DELAY: Duration = Duration::from_millis(10);

/// Default bound of a rate-limited link's queue: 64 KiB, about 50 full-size
/// QUIC datagrams, a modest router buffer.
pub const DEFAULT_QUEUE_LIMIT: u64 = 64 * 1024;

/// Nanoseconds in a second, for the link's serialisation time.
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Periodic outages: every `period` (counted from the relay's start), the
/// last `outage` of it drops everything. The first outage thus starts only
/// after `period - outage`, leaving the handshake a clear start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blackhole {
    /// Length of one cycle.
    pub period: Duration,
    /// Length of the outage at the end of each cycle; at most `period`.
    pub outage: Duration,
}

impl Blackhole {
    /// Whether `elapsed` (since the relay started) falls in an outage.
    pub fn is_dark(&self, elapsed: Duration) -> bool {
        let period = self.period.as_nanos();
        if period == 0 {
            return false;
        }
        let into_cycle = elapsed.as_nanos() % period;
        into_cycle >= period - self.outage.as_nanos().min(period)
    }
}

impl FromStr for Blackhole {
    type Err = InvalidImpairment;

    /// Parses `PERIOD_MS:OUTAGE_MS`, e.g. `5000:2000`.
    fn from_str(text: &str) -> Result<Blackhole, InvalidImpairment> {
        let invalid =
            || InvalidImpairment(format!("blackhole {text:?} is not PERIOD_MS:OUTAGE_MS"));
        let (period, outage) = text.split_once(':').ok_or_else(invalid)?;
        let millis = |part: &str| part.trim().parse::<u64>().map_err(|_| invalid());
        Ok(Blackhole {
            period: Duration::from_millis(millis(period)?),
            outage: Duration::from_millis(millis(outage)?),
        })
    }
}

/// A direction falls silent after its first datagrams: the first `after`
/// datagrams that arrive pass (to the other impairments), then everything
/// arriving within `length` of the last of them is dropped, and later
/// datagrams pass again. With `after` 0 the silence starts with the relay.
/// For a server that must not answer more than it heard (RFC 9000 §8.1):
/// let the client's first flight through, then drop its retransmissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Silence {
    /// Datagrams that pass before the silence.
    pub after: u64,
    /// How long the silence lasts, from the arrival of the last of them.
    pub length: Duration,
}

impl FromStr for Silence {
    type Err = InvalidImpairment;

    /// Parses `AFTER:LENGTH_MS`, e.g. `1:1500`.
    fn from_str(text: &str) -> Result<Silence, InvalidImpairment> {
        let invalid = || InvalidImpairment(format!("silence {text:?} is not AFTER:LENGTH_MS"));
        let (after, length) = text.split_once(':').ok_or_else(invalid)?;
        let number = |part: &str| part.trim().parse::<u64>().map_err(|_| invalid());
        Ok(Silence {
            after: number(after)?,
            length: Duration::from_millis(number(length)?),
        })
    }
}

/// Parses a probability given as a fraction (`0.3`) or a percentage (`30%`);
/// the result must lie in `[0, 1]`.
pub fn parse_probability(text: &str) -> Result<f64, InvalidImpairment> {
    let invalid = || InvalidImpairment(format!("{text:?} is not a probability (0.3 or 30%)"));
    let p = match text.trim().strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map_err(|_| invalid())? / 100.0,
        None => text.trim().parse::<f64>().map_err(|_| invalid())?,
    };
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(invalid())
    }
}

/// The impairments of one direction. Probabilities are in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairments {
    /// Chance that a datagram is dropped.
    pub loss: f64,
    /// Chance that one random byte of a datagram is flipped.
    pub corrupt: f64,
    /// Chance that a datagram is held back by `reorder_delay`, so later ones
    /// overtake it.
    pub reorder: f64,
    /// Extra delay of a reordered datagram.
    pub reorder_delay: Duration,
    /// Chance that a datagram is sent twice.
    pub duplicate: f64,
    /// One-way delay added to every datagram.
    pub delay: Duration,
    /// Link rate in bytes per second; `None` is unlimited.
    pub rate: Option<u64>,
    /// Bytes a rate-limited link may hold waiting; past it, datagrams drop.
    pub queue_limit: u64,
    /// Periodic outages.
    pub blackhole: Option<Blackhole>,
    /// One silence after the first datagrams.
    pub silence: Option<Silence>,
}

impl Default for Impairments {
    /// No impairment: every datagram passes at once.
    fn default() -> Self {
        Impairments {
            loss: 0.0,
            corrupt: 0.0,
            reorder: 0.0,
            reorder_delay: DEFAULT_REORDER_DELAY,
            duplicate: 0.0,
            delay: Duration::ZERO,
            rate: None,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            blackhole: None,
            silence: None,
        }
    }
}

impl Impairments {
    /// Checks that probabilities lie in `[0, 1]`, that a rate is not zero and
    /// that an outage fits its period.
    pub fn validate(&self) -> Result<(), InvalidImpairment> {
        let probabilities = [
            ("loss", self.loss),
            ("corrupt", self.corrupt),
            ("reorder", self.reorder),
            ("duplicate", self.duplicate),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(InvalidImpairment(format!(
                    "{name} probability {p} is outside [0, 1]"
                )));
            }
        }
        if self.rate == Some(0) {
            return Err(InvalidImpairment(
                "a rate of 0 bytes/s passes nothing".into(),
            ));
        }
        if let Some(blackhole) = self.blackhole {
            if blackhole.period.is_zero() {
                return Err(InvalidImpairment("blackhole period is zero".into()));
            }
            if blackhole.outage > blackhole.period {
                return Err(InvalidImpairment(format!(
                    "blackhole outage {:?} is longer than its period {:?}",
                    blackhole.outage, blackhole.period
                )));
            }
        }
        Ok(())
    }
}

/// An impairment setting that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid impairment: {0}")]
pub struct InvalidImpairment(pub String);

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// It arrived during the direction's silence.
    Silenced,
    /// It arrived during a blackhole outage.
    Blackhole,
    /// Random loss.
    Lost,
    /// The rate-limited link's queue was full.
    QueueFull,
}

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send nothing.
    Drop(DropReason),
    /// Send the (possibly corrupted) datagram at `due`, and a second copy at
    /// `duplicate_due` when there is one.
    Forward {
        /// When the datagram leaves the relay.
        due: Instant,
        /// When its duplicate leaves, if it was duplicated.
        duplicate_due: Option<Instant>,
        /// Whether it is the first datagram to pass after the silence: what
        /// the other side sent before it arrives was sent unprompted.
        ends_silence: bool,
    },
}

/// Counters of one direction: what arrived and what was done to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Datagrams that arrived.
    pub received: u64,
    /// Bytes (UDP payload) of the datagrams that arrived.
    pub received_bytes: u64,
    /// Dropped during the silence.
    pub silenced: u64,
    /// Dropped in an outage.
    pub blackholed: u64,
    /// Dropped at random.
    pub lost: u64,
    /// Dropped by the rate-limited link's full queue.
    pub queue_dropped: u64,
    /// Forwarded with one byte flipped.
    pub corrupted: u64,
    /// Held back to be overtaken.
    pub reordered: u64,
    /// Forwarded twice.
    pub duplicated: u64,
    /// Datagrams written to the socket (duplicates included).
    pub sent: u64,
    /// Bytes (UDP payload) of the datagrams written to the socket.
    pub sent_bytes: u64,
}

impl fmt::Display for DirectionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received={} sent={} received_bytes={} sent_bytes={} lost={} corrupted={} reordered={} duplicated={} blackholed={} silenced={} queue_dropped={}",
            self.received,
            self.sent,
            self.received_bytes,
            self.sent_bytes,
            self.lost,
            self.corrupted,
            self.reordered,
            self.duplicated,
            self.blackholed,
            self.silenced,
            self.queue_dropped
        )
    }
}

/// The decisions of one direction, in the order a datagram meets them:
/// silence, blackhole, loss, corruption, duplication, then for each copy the
/// rate-limited link, the delay and reordering.
#[derive(Debug, Clone)]
pub struct Impairer {
    impairments: Impairments,
    rng: SplitMix64,
    /// When the relay started: blackhole cycles count from here.
    start: Instant,
    /// When the rate-limited link finishes sending what it holds.
    link_free_at: Instant,
    /// When the silence ends, once it has begun.
    silent_until: Option<Instant>,
    /// Whether a datagram has passed after the silence.
    silence_over: bool,
    stats: DirectionStats,
}

impl Impairer {
    /// A direction started at `start` whose decisions follow `seed`.
    pub fn new(impairments: Impairments, seed: u64, start: Instant) -> Impairer {
        Impairer {
            impairments,
            rng: SplitMix64::new(seed),
            start,
            link_free_at: start,
            silent_until: None,
            silence_over: false,
            stats: DirectionStats::default(),
        }
    }

    /// Decides the fate of `datagram`, arriving at `now`; corrupts it in
    /// place when corruption strikes.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &mut [u8]) -> Verdict {
        self.stats.received += 1;
        self.stats.received_bytes += datagram.len() as u64;
        let ends_silence = match self.silence(now) {
            SilenceState::Before => false,
            SilenceState::Silent => {
                self.stats.silenced += 1;
                return Verdict::Drop(DropReason::Silenced);
            }
            SilenceState::Over => !std::mem::replace(&mut self.silence_over, true),
        };
        let elapsed = now.saturating_duration_since(self.start);
        if self
            .impairments
            .blackhole
            .is_some_and(|b| b.is_dark(elapsed))
        {
            self.stats.blackholed += 1;
            return Verdict::Drop(DropReason::Blackhole);
        }
        if self.rng.chance(self.impairments.loss) {
            self.stats.lost += 1;
            return Verdict::Drop(DropReason::Lost);
        }
        if self.rng.chance(self.impairments.corrupt) {
            self.maybe_corrupt(datagram);
        }
        let duplicated = self.rng.chance(self.impairments.duplicate);
        let len = datagram.len();
        let Some(due) = self.schedule(now, len) else {
            self.stats.queue_dropped += 1;
            return Verdict::Drop(DropReason::QueueFull);
        };
        let duplicate_due = if duplicated {
            let copy = self.schedule(now, len);
            match copy {
                Some(_) => self.stats.duplicated += 1,
                None => self.stats.queue_dropped += 1,
            }
            copy
        } else {
            None
        };
        Verdict::Forward {
            due,
            duplicate_due,
            ends_silence,
        }
    }

    /// Counts a datagram of `len` bytes written to the socket.
    pub fn on_sent(&mut self, len: usize) {
        self.stats.sent += 1;
        self.stats.sent_bytes += len as u64;
    }

    /// The counters so far.
    pub fn stats(&self) -> DirectionStats {
        self.stats
    }

    /// Where the datagram just counted in `stats.received`, arriving at
    /// `now`, falls with respect to the silence; starts the silence on the
    /// last datagram before it.
    fn silence(&mut self, now: Instant) -> SilenceState {
        let Some(silence) = self.impairments.silence else {
            return SilenceState::Before;
        };
        if self.stats.received <= silence.after {
            if self.stats.received == silence.after {
                self.silent_until = Some(now + silence.length);
            }
            return SilenceState::Before;
        }
        // With `after` 0 the silence counts from the relay's start.
        let until = *self.silent_until.get_or_insert(self.start + silence.length);
        if now < until {
            SilenceState::Silent
        } else {
            SilenceState::Over
        }
    }

    /// Flips one random byte by a random non-zero mask.
    fn maybe_corrupt(&mut self, datagram: &mut [u8]) {
        let len = datagram.len() as u64;
        if len == 0 {
            return;
        }
        let at = self.rng.below(len) as usize;
        let mask = 1 + self.rng.below(255) as u8;
        if let Some(byte) = datagram.get_mut(at) {
            *byte ^= mask;
            self.stats.corrupted += 1;
        }
    }

    /// When one copy of `len` bytes leaves: after the link has sent it (or
    /// `None` when the link's queue is full), the delay, and the reordering
    /// hold-back.
    fn schedule(&mut self, now: Instant, len: usize) -> Option<Instant> {
        let departs = match self.impairments.rate {
            Some(rate) => self.through_link(now, len, rate)?,
            None => now,
        };
        let mut due = departs + self.impairments.delay;
        if self.rng.chance(self.impairments.reorder) {
            due += self.impairments.reorder_delay;
            self.stats.reordered += 1;
        }
        Some(due)
    }

    /// A link of `rate` bytes/s: a datagram starts once those before it are
    /// sent and takes `len / rate`; it is refused when the bytes still
    /// waiting before it, plus its own, exceed the queue limit.
    fn through_link(&mut self, now: Instant, len: usize, rate: u64) -> Option<Instant> {
        let starts = self.link_free_at.max(now);
        let waiting = starts.duration_since(now).as_nanos() * u128::from(rate) / NANOS_PER_SEC;
        if waiting + len as u128 > u128::from(self.impairments.queue_limit) {
            return None;
        }
        let nanos = len as u128 * NANOS_PER_SEC / u128::from(rate);
        let sending = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.link_free_at = starts + sending;
        Some(self.link_free_at)
    }
}

/// Where a datagram falls with respect to its direction's silence.
enum SilenceState {
    /// Among the first datagrams, or no silence is set.
    Before,
    /// Within the silence: dropped.
    Silent,
    /// After the silence.
    Over,
}

#[cfg(test)]
mod tests;
