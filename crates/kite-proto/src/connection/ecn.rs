//! ECN (RFC 9000 §13.4, RFC 9002 §7.1): we mark packets ECT(0) while the
//! path is being tested and once it is known to carry ECN; ACK frames' ECN
//! counts validate the path (§13.4.2) and CE marks are congestion signals.

use std::time::Instant;

use super::Connection;
use super::spaces::SentFrames;
use crate::frame::EcnCounts;
use crate::packet::SpaceId;
use crate::recovery::sent::SentPacket;

/// Packets marked ECT(0) before validation must succeed (RFC 9000 §A.4
/// suggests 10): enough to see counts come back, few enough that a path
/// that drops marked packets costs little.
pub const ECN_TESTING_PACKETS: u64 = 10;

/// Where ECN stands on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcnState {
    /// Marking the first packets, waiting for counts.
    Testing {
        /// Packets marked so far.
        marked: u64,
    },
    /// Testing packets sent; marking stops until counts confirm ECN.
    Unknown,
    /// Counts matched: every packet is marked.
    Capable,
    /// The path or peer mangles ECN: no more marks.
    Failed,
}

/// ECN validation state of a connection.
#[derive(Debug)]
pub(crate) struct Ecn {
    pub state: EcnState,
    /// The highest ECN counts the peer has reported, per packet number space.
    seen: [EcnCounts; 3],
}

impl Default for Ecn {
    fn default() -> Self {
        Ecn {
            state: EcnState::Testing { marked: 0 },
            seen: [EcnCounts::default(); 3],
        }
    }
}

impl Ecn {
    /// Whether the next datagram is marked ECT(0).
    pub fn should_mark(&self) -> bool {
        matches!(self.state, EcnState::Testing { .. } | EcnState::Capable)
    }

    /// A marked datagram left.
    pub fn on_marked_sent(&mut self) {
        if let EcnState::Testing { marked } = &mut self.state {
            *marked += 1;
            if *marked >= ECN_TESTING_PACKETS {
                self.state = EcnState::Unknown;
            }
        }
    }
}

impl Connection {
    /// Validates an ACK's ECN counts against the marked packets it newly
    /// acknowledged (RFC 9000 §13.4.2.1) and reacts to new CE marks.
    pub(super) fn on_ack_ecn(
        &mut self,
        now: Instant,
        space: SpaceId,
        counts: Option<EcnCounts>,
        newly_acked_marked: u64,
        largest_acked_sent: Option<Instant>,
    ) {
        if newly_acked_marked == 0 || self.ecn.state == EcnState::Failed {
            return;
        }
        let Some(counts) = counts else {
            // Marked packets acknowledged without counts: ECN is stripped.
            self.ecn.state = EcnState::Failed;
            return;
        };
        let seen = self.ecn.seen[space as usize];
        if counts.ect0 < seen.ect0 || counts.ect1 < seen.ect1 || counts.ce < seen.ce {
            self.ecn.state = EcnState::Failed; // counts never go down
            return;
        }
        let ect0_delta = counts.ect0 - seen.ect0;
        let ce_delta = counts.ce - seen.ce;
        if ect0_delta + ce_delta < newly_acked_marked || counts.ect1 > seen.ect1 {
            // Marks lost or rewritten on the way (we only send ECT(0)).
            self.ecn.state = EcnState::Failed;
            return;
        }
        self.ecn.seen[space as usize] = counts;
        if matches!(self.ecn.state, EcnState::Testing { .. } | EcnState::Unknown) {
            self.ecn.state = EcnState::Capable;
        }
        if ce_delta > 0
            && let Some(sent) = largest_acked_sent
        {
            // RFC 9002 §7.1: CE is a congestion signal, like a loss.
            self.stats.ecn_ce += ce_delta;
            self.cc.on_ecn_ce(now, sent);
        }
    }

    /// Whether ECN was validated on the path (RFC 9000 §13.4.2).
    pub fn ecn_capable(&self) -> bool {
        self.ecn.state == EcnState::Capable
    }
}

/// Counts the newly acknowledged packets that were marked.
pub(super) fn count_marked(packets: &[SentPacket<SentFrames>]) -> u64 {
    packets.iter().filter(|p| p.payload.ecn).count() as u64
}
