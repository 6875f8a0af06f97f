//! Congestion control (RFC 9002 §7): the [`Controller`] trait a connection
//! drives for each path, the window bounds every controller shares (§7.2), and
//! the choice between [`NewReno`] (RFC 9002 §7, Appendix B) and [`Cubic`]
//! (RFC 9438, starting with HyStart++ of RFC 9406). Bytes in flight, loss
//! detection and persistent congestion detection belong to the caller.

pub mod cubic;
mod hystart;
pub mod new_reno;

use std::fmt;
use std::time::Instant;

pub use cubic::Cubic;
pub use new_reno::NewReno;

use super::rtt::RttEstimator;

/// Datagrams in the initial window (RFC 9002 §7.2, after RFC 6928's ten
/// segments): enough to finish most handshakes in one flight.
pub const INITIAL_WINDOW_PACKETS: u64 = 10;

/// Byte cap on the initial window unless two datagrams exceed it (RFC 9002
/// §7.2): RFC 6928's 14,600 bytes adjusted for UDP's smaller header, so large
/// datagrams do not inflate the first burst.
pub const INITIAL_WINDOW_BYTE_LIMIT: u64 = 14_720;

/// Datagrams in the minimum window, kMinimumWindow (RFC 9002 §7.2): the
/// smallest a window gets after loss, ECN-CE or persistent congestion; two so
/// that a lost packet and its retransmission can both be in flight.
pub const MINIMUM_WINDOW_PACKETS: u64 = 2;

/// The initial window for a path with this maximum datagram size:
/// min(10 * mds, max(14720, 2 * mds)) (RFC 9002 §7.2).
pub fn initial_window(max_datagram_size: u64) -> u64 {
    let cap = INITIAL_WINDOW_BYTE_LIMIT.max(MINIMUM_WINDOW_PACKETS * max_datagram_size);
    (INITIAL_WINDOW_PACKETS * max_datagram_size).min(cap)
}

/// The minimum window, 2 * mds (RFC 9002 §7.2).
pub fn minimum_window(max_datagram_size: u64) -> u64 {
    MINIMUM_WINDOW_PACKETS * max_datagram_size
}

/// A congestion controller for one path, driven by loss detection.
///
/// Sizes are in bytes of UDP payload (QUIC header and AEAD overhead included,
/// IP and UDP headers not), as RFC 9002 counts them. Times are arguments: a
/// controller never reads a clock. The caller keeps bytes_in_flight, sends
/// only while it is below [`window`](Controller::window) (RFC 9002 §7, with
/// the PTO and recovery-entry exceptions), and detects loss and persistent
/// congestion (§6, §7.6); the controller turns those signals into a window.
pub trait Controller: Send + fmt::Debug {
    /// An in-flight packet of `bytes` left at `now`. Packets that carry only
    /// ACK frames are not congestion controlled and are not reported.
    /// NewReno and CUBIC need nothing here; the hook is for controllers that
    /// model the sending rate.
    fn on_packet_sent(&mut self, now: Instant, bytes: u64) {
        let _ = (now, bytes);
    }

    /// An in-flight packet of `bytes`, sent at `sent_time`, was newly
    /// acknowledged at `now` (RFC 9002 Appendix B.5's OnPacketAcked).
    ///
    /// `rtt` already holds this ACK frame's sample, if it produced one.
    /// `app_limited` says the window was not fully used when this packet was
    /// sent (RFC 9002 §7.8: no growth then); call once per packet, in
    /// packet-number order.
    fn on_ack(
        &mut self,
        now: Instant,
        sent_time: Instant,
        bytes: u64,
        rtt: &RttEstimator,
        app_limited: bool,
    );

    /// In-flight packets totalling `lost_bytes` were declared lost at `now`,
    /// the newest of them sent at `sent_time` (RFC 9002 Appendix B.8).
    ///
    /// Reduces the window once per recovery period: a loss of a packet sent
    /// before the current period began changes nothing (§7.3.2). With
    /// `is_persistent_congestion` the window also collapses to the minimum
    /// and the recovery period ends (§7.6.2).
    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent_time: Instant,
        is_persistent_congestion: bool,
        lost_bytes: u64,
    );

    /// The peer's ECN-CE count rose in an ACK whose largest acknowledged
    /// packet was sent at `sent_time` (RFC 9002 Appendix B.7); by default the
    /// same response as a loss.
    fn on_ecn_ce(&mut self, now: Instant, sent_time: Instant) {
        self.on_congestion_event(now, sent_time, false, 0);
    }

    /// The path's maximum datagram size changed (RFC 9002 §7.2): the initial
    /// and minimum windows follow it, and a window still at its initial value
    /// is recalculated.
    fn on_mtu_update(&mut self, max_datagram_size: u64);

    /// The congestion window: bytes that may be in flight.
    fn window(&self) -> u64;

    /// The slow start threshold, `u64::MAX` while unset ("infinite").
    fn ssthresh(&self) -> u64;

    /// Whether the controller is in slow start (window below ssthresh).
    fn in_slow_start(&self) -> bool {
        self.window() < self.ssthresh()
    }

    /// The initial window for the current maximum datagram size.
    fn initial_window(&self) -> u64;

    /// A boxed copy, so a path's controller can seed a new path's.
    fn clone_box(&self) -> Box<dyn Controller>;
}

impl Clone for Box<dyn Controller> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Which congestion controller a connection uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CongestionControl {
    /// NewReno as specified by RFC 9002 §7 and Appendix B.
    NewReno,
    /// CUBIC (RFC 9438) with HyStart++ (RFC 9406) in the initial slow start:
    /// the default, as in Linux, Windows and Apple's stacks, because it
    /// fills long fat paths far faster than NewReno's one datagram per RTT.
    #[default]
    Cubic,
}

impl CongestionControl {
    /// A fresh controller of this kind for a path with this maximum datagram
    /// size.
    pub fn build(self, max_datagram_size: u64) -> Box<dyn Controller> {
        match self {
            CongestionControl::NewReno => Box::new(NewReno::new(max_datagram_size)),
            CongestionControl::Cubic => Box::new(Cubic::new(max_datagram_size)),
        }
    }
}

/// The window after the maximum datagram size changes from `old_mds` to
/// `new_mds` (RFC 9002 §7.2). A window that never left its initial value is
/// recalculated (down too, as when the size shrinks to finish a handshake);
/// any window is at least the new minimum.
fn window_after_mtu_update(window: u64, ssthresh: u64, old_mds: u64, new_mds: u64) -> u64 {
    let untouched = ssthresh == u64::MAX && window == initial_window(old_mds);
    let window = if untouched {
        initial_window(new_mds)
    } else {
        window
    };
    window.max(minimum_window(new_mds))
}

/// Whether a packet sent at `sent_time` belongs to the recovery period that
/// began at `recovery_start` (RFC 9002 Appendix B.5's InCongestionRecovery).
fn in_recovery(recovery_start: Option<Instant>, sent_time: Instant) -> bool {
    recovery_start.is_some_and(|start| sent_time <= start)
}

#[cfg(test)]
mod tests;
