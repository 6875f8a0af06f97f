//! Path MTU discovery (DPLPMTUD, RFC 8899 §5, RFC 9000 §14.3): once the
//! handshake is confirmed, PING+PADDING probes of growing size search, by
//! halving the interval, for the largest datagram the path carries, up to
//! the configured ceiling. Probes do not count toward the congestion window,
//! so their loss is not taken for congestion (RFC 8899 §4.5).

/// Probes of one size lost before that size counts as too big (RFC 8899
/// §5.1.2 MAX_PROBES).
pub const MAX_PROBES: u8 = 3;
/// The search stops when the interval left is smaller than this: a few
/// bytes more per packet are not worth more probes.
pub const SEARCH_PRECISION: usize = 16;

/// The search state.
#[derive(Debug)]
pub(crate) struct MtuDiscovery {
    /// Largest size known to pass.
    lo: usize,
    /// Largest size that may pass (the ceiling, lowered by failures).
    hi: usize,
    /// The probe in flight: its size.
    in_flight: Option<usize>,
    /// Lost probes of the current size.
    failures: u8,
    /// Nothing probed yet: the first probe tries the ceiling.
    first: bool,
}

impl MtuDiscovery {
    /// A search from `base` (known to pass) up to `ceiling`.
    pub fn new(base: usize, ceiling: usize) -> Self {
        MtuDiscovery {
            lo: base,
            hi: ceiling.max(base),
            in_flight: None,
            failures: 0,
            first: true,
        }
    }

    /// The size of the next probe to send, if one is due.
    pub fn next_probe(&self) -> Option<usize> {
        if self.in_flight.is_some() || self.hi < self.lo + SEARCH_PRECISION {
            return None;
        }
        Some(if self.first {
            // Try the ceiling first: most paths carry it.
            self.hi
        } else {
            (self.lo + self.hi).div_ceil(2)
        })
    }

    /// A probe of `size` left.
    pub fn on_probe_sent(&mut self, size: usize) {
        self.in_flight = Some(size);
        self.first = false;
    }

    /// The probe of `size` was acknowledged: the path carries it.
    pub fn on_probe_acked(&mut self, size: usize) -> usize {
        self.in_flight = None;
        self.failures = 0;
        self.lo = self.lo.max(size);
        self.lo
    }

    /// The probe of `size` was lost.
    pub fn on_probe_lost(&mut self, size: usize) {
        self.in_flight = None;
        self.failures += 1;
        if self.failures >= MAX_PROBES {
            self.failures = 0;
            self.hi = size - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_reaches_the_ceiling_when_everything_passes() {
        let mut mtu = MtuDiscovery::new(1200, 1452);
        let probe = mtu.next_probe().unwrap();
        assert_eq!(probe, 1452);
        mtu.on_probe_sent(probe);
        assert_eq!(mtu.next_probe(), None, "one probe at a time");
        assert_eq!(mtu.on_probe_acked(probe), 1452);
        assert_eq!(mtu.next_probe(), None);
    }

    #[test]
    fn search_settles_below_a_smaller_path_mtu() {
        let path = 1300;
        let mut mtu = MtuDiscovery::new(1200, 1452);
        let mut best = 1200;
        for _ in 0..100 {
            let Some(probe) = mtu.next_probe() else { break };
            mtu.on_probe_sent(probe);
            if probe <= path {
                best = mtu.on_probe_acked(probe);
            } else {
                mtu.on_probe_lost(probe);
            }
        }
        assert!(best <= path && best + SEARCH_PRECISION > path, "{best}");
    }
}
