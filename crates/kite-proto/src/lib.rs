//! kite-proto: the sans-I/O core of kite, a QUIC implementation (RFC 8999, 9000,
//! 9001, 9002, 9221, 9369).
//!
//! This crate opens no sockets, reads no clocks and spawns no tasks: bytes and
//! time go in as arguments, and datagrams, timers and events come out to be
//! polled. The `kite` crate drives it over tokio; `kite-sim` drives it over a
//! virtual network.
//!
//! What is here so far, one concern per module:
//! - [`coding`]: varints and checked readers (RFC 9000 §16);
//! - [`packet`]: headers, packet numbers, Version Negotiation, Retry, coalescing
//!   (RFC 8999, RFC 9000 §17);
//! - [`frame`]: every frame of RFC 9000 §19 and DATAGRAM (RFC 9221), and which
//!   packet types may carry which (RFC 9000 §12.4);
//! - [`transport_params`]: the transport parameters extension (RFC 9000 §18);
//! - [`crypto`]: initial secrets, packet and header protection, Retry
//!   integrity, over `rustls::quic` (RFC 9001, RFC 9369).

pub mod cid;
pub mod coding;
pub mod config;
pub mod connection;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod frame;
pub mod packet;
pub mod recovery;
pub mod stream_id;
pub mod trace;
pub mod transport_params;
pub mod version;

pub use cid::{ConnectionId, ResetToken};
pub use coding::VarInt;
pub use error::{TransportError, TransportErrorCode};
pub use stream_id::{Dir, Side, StreamId};
pub use version::Version;

pub use config::{ClientConfig, ServerConfig, TransportConfig};
pub use connection::{
    ClosedStream, Connection, ConnectionError, ConnectionEvent, ConnectionStats, EcnCodepoint,
    EndpointEvent, Event, ReadError, Transmit, WriteError,
};
pub use endpoint::{ConnectError, ConnectionHandle, DatagramEvent, Endpoint, EndpointConfig};
