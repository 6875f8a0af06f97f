//! What kite's test suites share (a dev-dependency, never a dependency of
//! product code; the dev-only quinn-peer also takes its verifier): [`tls`] makes self-signed certificates and
//! rustls configurations for tests; [`process`] runs peer binaries as child
//! processes with bounded waits. It depends on neither kite-proto nor kite,
//! so each suite wraps the rustls configurations in its own config types.

pub mod process;
pub mod tls;
