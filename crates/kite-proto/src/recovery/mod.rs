//! Loss recovery (RFC 9002) and ACK generation (RFC 9000 §13.2): which packets
//! were received and must be acknowledged, which were sent and are still
//! outstanding, and when they count as lost. Sans-I/O: every function takes
//! the current time as an argument and returns deadlines for the connection's
//! timer table.

pub mod ack_tracker;
pub mod loss;
pub mod ranges;
pub mod sent;
