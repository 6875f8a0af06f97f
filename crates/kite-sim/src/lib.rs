//! kite-sim: a deterministic simulator for kite. Endpoints exchange datagrams
//! over a [`network::Network`] of impaired links on a virtual clock; one seed
//! fixes every random choice, so a failing run replays exactly.

pub mod bulk;
pub mod fuzz;
pub mod network;
pub mod rng;
pub mod sim;

pub use bulk::BulkTransfer;
pub use network::{LinkConfig, Network, NetworkStats};
pub use rng::SimRng;
pub use sim::{CLIENT, SERVER, Simulation};
