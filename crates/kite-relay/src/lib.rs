//! kite-relay: a UDP relay between two loopback ports that impairs what it
//! forwards, for kite's scenario tests (the QUIC interop runner's
//! handshakeloss, transferloss, blackhole, longrtt... over real sockets).
//!
//! A client sends to the relay's address; the relay forwards each datagram
//! to the server from a socket of that client's own, and the server's
//! replies back to the client. Each direction runs its datagrams through an
//! [`Impairer`]: blackhole outages, loss, corruption, duplication, a
//! rate-limited link with a bounded queue, delay and reordering, in that
//! order, decided by a seeded [`SplitMix64`] so a seed replays the
//! decisions. A run is bounded in datagrams and in time, and the relay
//! refuses any address that is not loopback.
//!
//! ```no_run
//! use kite_relay::{Impairments, RelayConfig, RelayThread};
//! use std::time::Duration;
//!
//! let relay = RelayThread::spawn(RelayConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     upstream: "127.0.0.1:4433".parse().unwrap(),
//!     impairments: Impairments { loss: 0.3, ..Impairments::default() },
//!     seed: 1,
//!     max_datagrams: 100_000,
//!     max_duration: Duration::from_secs(60),
//!     trace: false,
//! })?;
//! println!("clients send to {}", relay.local_addr());
//! let report = relay.stop()?;
//! println!("{report}");
//! # Ok::<(), kite_relay::RelayError>(())
//! ```

pub mod impair;
pub mod relay;
pub mod rng;
pub mod thread;

pub use impair::{
    Blackhole, DirectionStats, DropReason, Impairer, Impairments, InvalidImpairment, Verdict,
    parse_probability,
};
pub use relay::{EndReason, Relay, RelayConfig, RelayError, Report};
pub use rng::SplitMix64;
pub use thread::RelayThread;
