//! Counters a connection keeps for its application (`Connection::stats`).

use std::time::Duration;

/// A snapshot of a connection's counters and recovery state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Smoothed RTT (RFC 9002 §5.3).
    pub rtt: Duration,
    /// Smallest RTT seen.
    pub min_rtt: Duration,
    /// Congestion window, bytes.
    pub cwnd: u64,
    /// Bytes in flight now.
    pub bytes_in_flight: u64,
    /// UDP payload bytes sent.
    pub bytes_sent: u64,
    /// UDP payload bytes received.
    pub bytes_received: u64,
    /// UDP datagrams sent.
    pub datagrams_sent: u64,
    /// UDP datagrams received.
    pub datagrams_received: u64,
    /// QUIC packets sent.
    pub packets_sent: u64,
    /// QUIC packets received and opened.
    pub packets_received: u64,
    /// Packets declared lost.
    pub packets_lost: u64,
    /// Bytes of packets declared lost.
    pub bytes_lost: u64,
    /// Received packets dropped (undecryptable, duplicate, no keys...).
    pub packets_dropped: u64,
    /// Probe timeouts fired.
    pub pto_count: u64,
    /// Key updates done (either side's initiative).
    pub key_updates: u64,
    /// Largest UDP payload in use (path MTU discovery raises it from 1200).
    pub max_datagram_size: u64,
    /// CE marks the peer reported (RFC 9000 §13.4.1).
    pub ecn_ce: u64,
}
