//! Loss recovery and congestion control (RFC 9002): RTT estimation, the
//! congestion controllers behind one trait, and the pacer.
//!
//! Everything here is computation over arguments: deadlines come back as
//! `Instant`s for the connection's timer table, and no clock is ever read.

pub mod cc;
pub mod pacer;
pub mod rtt;
