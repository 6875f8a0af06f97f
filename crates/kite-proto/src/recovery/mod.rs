//! Loss recovery and congestion control (RFC 9002) and ACK generation
//! (RFC 9000 §13.2): which packets were received and must be acknowledged,
//! which were sent and are outstanding, when they count as lost, RTT
//! estimation, the congestion controllers behind one trait, and the pacer.
//!
//! Everything here is computation over arguments: deadlines come back as
//! `Instant`s for the connection's timer table, and no clock is ever read.

pub mod ack_tracker;
pub mod cc;
pub mod loss;
pub mod pacer;
pub mod ranges;
pub mod rtt;
pub mod sent;
