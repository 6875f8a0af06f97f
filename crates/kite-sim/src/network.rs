//! The virtual network: links between addresses with delay, bandwidth, loss,
//! reordering, duplication, corruption, size limits and blackhole windows, all
//! drawn from one seeded RNG so a run replays exactly.

use crate::rng::SimRng;
use bytes::Bytes;
use kite_proto::EcnCodepoint;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Bytes a link's queue holds before it drops (tail drop) when rate-limited:
/// about 64 full-size packets, a modest router buffer.
pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1500;

/// What a link does to the datagrams crossing it in one direction.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Probability that a datagram is held back by up to `reorder_delay`
    /// extra, so later ones overtake it.
    pub reorder: f64,
    /// The most extra delay a reordered datagram gets.
    pub reorder_delay: Duration,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that one byte of a datagram is flipped.
    pub corrupt: f64,
    /// Link rate in bytes per second; `None` is unlimited.
    pub rate: Option<u64>,
    /// Queue size for a rate-limited link; what does not fit is dropped.
    pub queue_bytes: usize,
    /// Datagrams larger than this are dropped (a path MTU for UDP payloads).
    pub max_datagram: usize,
    /// `(period, outage)`: in every `period` from the start, the first
    /// `outage` drops everything.
    pub blackhole: Option<(Duration, Duration)>,
    /// Probability that an ECN-capable datagram is marked CE (an AQM
    /// signalling congestion instead of dropping).
    pub ce_mark: f64,
    /// Clear ECN codepoints, as some middleboxes do.
    pub bleach_ecn: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::from_millis(10),
            loss: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(5),
            duplicate: 0.0,
            corrupt: 0.0,
            rate: None,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            max_datagram: 1500,
            blackhole: None,
            ce_mark: 0.0,
            bleach_ecn: false,
        }
    }
}

/// A datagram on its way.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// When it arrives.
    pub at: Instant,
    /// Sender address.
    pub from: SocketAddr,
    /// Receiver address.
    pub to: SocketAddr,
    /// Payload.
    pub data: Bytes,
    /// ECN codepoint of the IP header, as delivered.
    pub ecn: Option<EcnCodepoint>,
}

/// Counters of what the network did, for test assertions and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NetworkStats {
    /// Datagrams handed to the network.
    pub sent: u64,
    /// Datagrams delivered (duplicates count twice).
    pub delivered: u64,
    /// Dropped by random loss.
    pub lost: u64,
    /// Dropped by a full queue, a blackhole or the size limit.
    pub dropped: u64,
    /// Delivered with a flipped byte.
    pub corrupted: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Held back to be reordered.
    pub reordered: u64,
}

/// Links between addresses and the datagrams in flight on them.
pub struct Network {
    start: Instant,
    rng: SimRng,
    default_link: LinkConfig,
    links: HashMap<(SocketAddr, SocketAddr), LinkConfig>,
    /// When each directed link's transmitter is next free (rate limiting).
    busy_until: HashMap<(SocketAddr, SocketAddr), Instant>,
    /// Datagrams in arrival order `(at, seq)`, as long as each arrives no
    /// earlier than the one scheduled before it: the usual case, a constant
    /// delay, costs a push and a pop.
    in_order: VecDeque<(u64, InFlight)>,
    /// Datagrams that overtake the tail of `in_order` (reordering, a
    /// shorter link), by `(at, seq)`, their payloads in `pending`.
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    pending: HashMap<u64, InFlight>,
    next_seq: u64,
    stats: NetworkStats,
    /// Datagrams still to drop per directed link (see [`Network::drop_next`]).
    forced_drops: HashMap<(SocketAddr, SocketAddr), u32>,
}

impl Network {
    /// A network whose every link is `default_link`, randomness from `seed`.
    pub fn new(start: Instant, seed: u64, default_link: LinkConfig) -> Self {
        Network {
            start,
            rng: SimRng::new(seed),
            default_link,
            links: HashMap::new(),
            busy_until: HashMap::new(),
            in_order: VecDeque::new(),
            queue: BinaryHeap::new(),
            pending: HashMap::new(),
            next_seq: 0,
            stats: NetworkStats::default(),
            forced_drops: HashMap::new(),
        }
    }

    /// Drops the next `count` datagrams sent from `from` to `to`, whatever
    /// the link says: for scenarios like "the first two flights are lost".
    pub fn drop_next(&mut self, from: SocketAddr, to: SocketAddr, count: u32) {
        *self.forced_drops.entry((from, to)).or_insert(0) += count;
    }

    /// Cancels what [`Network::drop_next`] still had to drop.
    pub fn clear_forced_drops(&mut self, from: SocketAddr, to: SocketAddr) {
        self.forced_drops.remove(&(from, to));
    }

    /// Sets the link from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: SocketAddr, to: SocketAddr, link: LinkConfig) {
        self.links.insert((from, to), link);
    }

    /// When the simulation started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// What the network has done so far.
    pub fn stats(&self) -> NetworkStats {
        self.stats
    }

    /// The RNG, for callers that need randomness from the same seed.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// Hands a datagram without an ECN codepoint to the network at `now`.
    pub fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: Bytes) {
        self.send_ecn(now, from, to, data, None);
    }

    /// Hands a datagram marked `ecn` to the network at `now`.
    pub fn send_ecn(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: Bytes,
        ecn: Option<EcnCodepoint>,
    ) {
        self.stats.sent += 1;
        if let Some(left) = self.forced_drops.get_mut(&(from, to))
            && *left > 0
        {
            *left -= 1;
            self.stats.dropped += 1;
            return;
        }
        let link = self
            .links
            .get(&(from, to))
            .unwrap_or(&self.default_link)
            .clone();
        if data.len() > link.max_datagram || self.in_blackhole(now, &link) {
            self.stats.dropped += 1;
            return;
        }
        if self.rng.chance(link.loss) {
            self.stats.lost += 1;
            return;
        }
        let mut depart = now;
        if let Some(rate) = link.rate.filter(|r| *r > 0) {
            let busy = self.busy_until.entry((from, to)).or_insert(now);
            let free_at = (*busy).max(now);
            let backlog = free_at.saturating_duration_since(now);
            let backlog_bytes = backlog.as_secs_f64() * rate as f64;
            if backlog_bytes + data.len() as f64 > link.queue_bytes as f64 {
                self.stats.dropped += 1;
                return;
            }
            let serialise = Duration::from_secs_f64(data.len() as f64 / rate as f64);
            depart = free_at + serialise;
            *busy = depart;
        }
        let mut at = depart + link.delay;
        if self.rng.chance(link.reorder) {
            self.stats.reordered += 1;
            let extra = self.rng.below(link.reorder_delay.as_nanos() as u64 + 1);
            at += Duration::from_nanos(extra);
        }
        let data = if self.rng.chance(link.corrupt) && !data.is_empty() {
            self.stats.corrupted += 1;
            let mut bytes = data.to_vec();
            let index = self.rng.below(bytes.len() as u64) as usize;
            let flip = 1u8 << self.rng.below(8);
            if let Some(byte) = bytes.get_mut(index) {
                *byte ^= flip;
            }
            Bytes::from(bytes)
        } else {
            data
        };
        let ecn = match ecn {
            _ if link.bleach_ecn => None,
            Some(EcnCodepoint::Ect0 | EcnCodepoint::Ect1) if self.rng.chance(link.ce_mark) => {
                Some(EcnCodepoint::Ce)
            }
            other => other,
        };
        if self.rng.chance(link.duplicate) {
            self.stats.duplicated += 1;
            let again = at + Duration::from_micros(self.rng.below(1000));
            self.schedule(InFlight {
                at: again,
                from,
                to,
                data: data.clone(),
                ecn,
            });
        }
        self.schedule(InFlight {
            at,
            from,
            to,
            data,
            ecn,
        });
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.next_key().map(|(at, _)| at)
    }

    /// Takes the next datagram due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<InFlight> {
        let (at, seq) = self.next_key()?;
        if at > now {
            return None;
        }
        let datagram = match self.in_order.front() {
            Some((front, _)) if *front == seq => self.in_order.pop_front().map(|(_, d)| d),
            _ => {
                self.queue.pop();
                self.pending.remove(&seq)
            }
        }?;
        self.stats.delivered += 1;
        Some(datagram)
    }

    /// Datagrams still in flight.
    pub fn in_flight(&self) -> usize {
        self.in_order.len() + self.pending.len()
    }

    /// `(at, seq)` of the next datagram to arrive: ties go to the one sent first.
    fn next_key(&self) -> Option<(Instant, u64)> {
        let fifo = self.in_order.front().map(|(seq, d)| (d.at, *seq));
        let heap = self.queue.peek().map(|Reverse(key)| *key);
        match (fifo, heap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn schedule(&mut self, datagram: InFlight) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self
            .in_order
            .back()
            .is_none_or(|(_, last)| last.at <= datagram.at)
        {
            self.in_order.push_back((seq, datagram));
        } else {
            self.queue.push(Reverse((datagram.at, seq)));
            self.pending.insert(seq, datagram);
        }
    }

    fn in_blackhole(&self, now: Instant, link: &LinkConfig) -> bool {
        let Some((period, outage)) = link.blackhole else {
            return false;
        };
        if period.is_zero() {
            return false;
        }
        let since = now.saturating_duration_since(self.start).as_nanos();
        since % period.as_nanos() < outage.as_nanos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddr, SocketAddr) {
        (
            "127.0.0.1:1000".parse().unwrap(),
            "127.0.0.1:2000".parse().unwrap(),
        )
    }

    fn drain(net: &mut Network, until: Instant) -> Vec<InFlight> {
        let mut out = Vec::new();
        while let Some(d) = net.pop_due(until) {
            out.push(d);
        }
        out
    }

    #[test]
    fn datagram_arrives_after_link_delay() {
        let now = Instant::now();
        let (a, b) = addrs();
        let mut net = Network::new(now, 1, LinkConfig::default());
        net.send(now, a, b, Bytes::from_static(b"hi"));
        assert_eq!(net.next_arrival(), Some(now + Duration::from_millis(10)));
        assert!(net.pop_due(now).is_none());
        let got = drain(&mut net, now + Duration::from_millis(10));
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].from, got[0].to), (a, b));
    }

    #[test]
    fn same_seed_replays_same_losses() {
        let run = |seed| {
            let now = Instant::now();
            let (a, b) = addrs();
            let link = LinkConfig {
                loss: 0.3,
                corrupt: 0.1,
                duplicate: 0.1,
                ..LinkConfig::default()
            };
            let mut net = Network::new(now, seed, link);
            for i in 0..200u32 {
                net.send(now, a, b, Bytes::from(i.to_be_bytes().to_vec()));
            }
            drain(&mut net, now + Duration::from_secs(1))
                .into_iter()
                .map(|d| d.data)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn rate_limit_spaces_datagrams_and_tail_drops() {
        let now = Instant::now();
        let (a, b) = addrs();
        let link = LinkConfig {
            delay: Duration::ZERO,
            rate: Some(1_000_000),
            queue_bytes: 10_000,
            ..LinkConfig::default()
        };
        let mut net = Network::new(now, 1, link);
        for _ in 0..20 {
            net.send(now, a, b, Bytes::from(vec![0u8; 1000]));
        }
        assert_eq!(net.stats().dropped, 10);
        let got = drain(&mut net, now + Duration::from_secs(1));
        assert_eq!(got.len(), 10);
        assert_eq!(got[9].at - now, Duration::from_millis(10));
    }

    #[test]
    fn blackhole_drops_only_during_outage() {
        let now = Instant::now();
        let (a, b) = addrs();
        let link = LinkConfig {
            blackhole: Some((Duration::from_secs(5), Duration::from_secs(2))),
            ..LinkConfig::default()
        };
        let mut net = Network::new(now, 1, link);
        net.send(now + Duration::from_secs(1), a, b, Bytes::from_static(b"x"));
        net.send(now + Duration::from_secs(3), a, b, Bytes::from_static(b"y"));
        net.send(now + Duration::from_secs(6), a, b, Bytes::from_static(b"z"));
        let got = drain(&mut net, now + Duration::from_secs(10));
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].data[..], b"y");
    }
}
