//! The original DCIDs of confirmed handshakes, remembered for a while so a
//! replayed first Initial starts no second handshake (RFC 9000 §7.2 makes the
//! client's first DCID route only until the handshake is done). Bounded, and
//! kept in arrival order so expiry and eviction cost O(1) per handshake.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::cid::ConnectionId;

/// Recently retired original DCIDs, each with when it was retired.
#[derive(Debug)]
pub(super) struct RetiredOdcids {
    /// When each was retired, for the replay check.
    at: HashMap<ConnectionId, Instant>,
    /// The same entries, oldest first: what expires or is evicted next.
    order: VecDeque<(Instant, ConnectionId)>,
    /// How long one is remembered.
    memory: Duration,
    /// How many are remembered at most; past it, the oldest goes first.
    capacity: usize,
}

impl RetiredOdcids {
    /// An empty memory of at most `capacity` IDs, each for `memory`.
    pub(super) fn new(memory: Duration, capacity: usize) -> RetiredOdcids {
        RetiredOdcids {
            at: HashMap::new(),
            order: VecDeque::new(),
            memory,
            capacity,
        }
    }

    /// Whether `odcid` was retired less than the memory's length before `now`.
    pub(super) fn contains(&self, odcid: &ConnectionId, now: Instant) -> bool {
        self.at
            .get(odcid)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.memory)
    }

    /// Remembers `odcid` as retired at `now`, forgetting the expired ones
    /// and, when full, the oldest. Times come in (nearly) increasing order,
    /// so both sit at the front: no scan over the whole memory.
    pub(super) fn remember(&mut self, odcid: ConnectionId, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        while let Some(&(at, old)) = self.order.front() {
            let expired = now.saturating_duration_since(at) >= self.memory;
            if !expired && self.order.len() < self.capacity {
                break;
            }
            self.order.pop_front();
            // A later retirement of the same ID keeps its own, newer entry.
            if self.at.get(&old) == Some(&at) {
                self.at.remove(&old);
            }
        }
        self.at.insert(odcid, now);
        self.order.push_back((now, odcid));
    }

    /// IDs remembered now (expired ones included until the next `remember`).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.at.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u32) -> ConnectionId {
        ConnectionId::new(&n.to_be_bytes()).unwrap_or(ConnectionId::EMPTY)
    }

    #[test]
    fn retired_id_is_remembered_until_its_memory_ends() {
        let start = Instant::now();
        let mut retired = RetiredOdcids::new(Duration::from_secs(20), 8);
        retired.remember(cid(1), start);
        assert!(retired.contains(&cid(1), start + Duration::from_secs(19)));
        assert!(!retired.contains(&cid(1), start + Duration::from_secs(20)));
        assert!(!retired.contains(&cid(2), start));
    }

    #[test]
    fn full_memory_forgets_the_oldest_and_keeps_the_newest() {
        let start = Instant::now();
        let mut retired = RetiredOdcids::new(Duration::from_secs(20), 3);
        for n in 0..5 {
            retired.remember(cid(n), start + Duration::from_millis(u64::from(n)));
        }
        let now = start + Duration::from_millis(5);
        assert_eq!(retired.len(), 3);
        assert!(!retired.contains(&cid(0), now));
        assert!(!retired.contains(&cid(1), now));
        for n in 2..5 {
            assert!(retired.contains(&cid(n), now), "{n} forgotten");
        }
    }

    #[test]
    fn expired_ids_are_dropped_as_new_ones_come() {
        let start = Instant::now();
        let mut retired = RetiredOdcids::new(Duration::from_secs(1), 100);
        for n in 0..10 {
            retired.remember(cid(n), start);
        }
        retired.remember(cid(10), start + Duration::from_secs(2));
        assert_eq!(retired.len(), 1);
    }

    #[test]
    fn retiring_an_id_again_keeps_the_newer_time() {
        let start = Instant::now();
        let mut retired = RetiredOdcids::new(Duration::from_secs(20), 2);
        retired.remember(cid(1), start);
        retired.remember(cid(1), start + Duration::from_secs(10));
        // Evicts the first entry of cid 1; the second must stay.
        retired.remember(cid(2), start + Duration::from_secs(11));
        assert!(retired.contains(&cid(1), start + Duration::from_secs(25)));
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let start = Instant::now();
        let mut retired = RetiredOdcids::new(Duration::from_secs(20), 0);
        retired.remember(cid(1), start);
        assert!(!retired.contains(&cid(1), start));
    }
}
