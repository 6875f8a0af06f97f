//! kite-relay: a UDP relay between two loopback ports that impairs what it
//! forwards, for kite's scenario tests (the QUIC interop runner's
//! handshakeloss, transferloss, blackhole, longrtt... over real sockets).
//!
//! A client sends to the relay's address; the relay forwards each datagram
//! to the server from a socket of that client's own, and the server's
//! replies back to the client. Each direction runs its datagrams through an
//! [`Impairer`] with its own [`Impairments`]: a silence after its first
//! datagrams, blackhole outages, loss, corruption, duplication, a
//! rate-limited link with a bounded queue, delay and reordering, in that
//! order, decided by a seeded [`SplitMix64`] so a seed replays the
//! decisions. The [`Report`] counts datagrams and bytes per direction (and
//! both directions' counters when a silence ended). A run is bounded in
//! datagrams and in time, and the relay refuses any address that is not
//! loopback.
//!
//! ```no_run
//! use kite_relay::{Impairments, RelayConfig, RelayThread};
//! use std::time::Duration;
//!
//! let relay = RelayThread::spawn(RelayConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     upstream: "127.0.0.1:4433".parse().unwrap(),
//!     to_server: Impairments { loss: 0.3, ..Impairments::default() },
//!     to_client: Impairments { loss: 0.3, ..Impairments::default() },
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
    Blackhole, DirectionStats, DropReason, Impairer, Impairments, InvalidImpairment, Silence,
    Verdict, parse_probability,
};
pub use relay::{Checkpoint, EndReason, Relay, RelayConfig, RelayError, Report};
pub use rng::SplitMix64;
pub use thread::RelayThread;
