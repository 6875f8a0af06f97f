//! kite: a QUIC implementation for tokio, with the API shape of quic-go.
//!
//! A [`Transport`] owns one UDP socket and the `kite_proto::Endpoint` on it; it
//! dials ([`Transport::dial`]) and listens ([`Transport::listen`]) at the same
//! time. A [`Listener`] yields [`Connection`]s whose handshake completed; a
//! connection opens and accepts streams, whose halves are a [`SendStream`]
//! (`AsyncWrite`) and a [`RecvStream`] (`AsyncRead`).
//! [`Transport::dial_early`] resumes a session and hands back the connection
//! before the handshake, so what is written goes out as 0-RTT data; a server
//! whose `TransportConfig::allow_0rtt` is set takes it, and
//! [`RecvStream::is_0rtt`] tells it apart.
//!
//! Tasks: one driver per transport reads the socket and routes datagrams by
//! connection ID; each connection has its own task that serves its timers and
//! sends its packets. The protocol itself lives in `kite_proto`; this crate
//! owns sockets, clocks and tasks, nothing more.
//!
//! ```no_run
//! # async fn demo(server: kite::ServerConfig, client: kite::ClientConfig) -> Result<(), Box<dyn std::error::Error>> {
//! let listener = kite::listen_addr("127.0.0.1:4433".parse()?, server)?;
//! tokio::spawn(async move {
//!     while let Some(conn) = listener.accept().await {
//!         tokio::spawn(async move {
//!             while let Ok((mut send, mut recv)) = conn.accept_bi().await {
//!                 let _ = tokio::io::copy(&mut recv, &mut send).await;
//!             }
//!         });
//!     }
//! });
//! let conn = kite::dial_addr("127.0.0.1:4433".parse()?, "localhost", client).await?;
//! let (mut send, mut recv) = conn.open_bi().await?;
//! send.write_all(b"hello").await?;
//! send.finish()?;
//! let echoed = recv.read_to_end(1024).await?;
//! conn.close(0, b"done");
//! # Ok(()) }
//! ```

mod conn_task;
mod connection;
mod driver;
mod error;
mod recv;
mod send;
mod transport;
mod udp;

pub use connection::Connection;
pub use error::{ClosedStream, DialError, ListenError, ReadError, ReadToEndError, WriteError};
pub use kite_proto::{
    ClientConfig, ConnectionError, ConnectionStats, Dir, EndpointConfig, ServerConfig, Side,
    StreamId, TransportConfig,
};
pub use recv::RecvStream;
pub use send::SendStream;
pub use transport::{Listener, Transport};

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Binds a UDP socket on `addr` and listens on it with `config`.
///
/// # Panics
/// Outside a tokio runtime.
pub fn listen_addr(addr: SocketAddr, config: ServerConfig) -> Result<Listener, ListenError> {
    let socket = std::net::UdpSocket::bind(addr)?;
    Transport::from_std(socket)?.listen(config)
}

/// Binds a UDP socket on an ephemeral port of the address family of `addr`
/// and dials `addr` from it; the socket lives as long as the connection.
pub async fn dial_addr(
    addr: SocketAddr,
    server_name: &str,
    config: ClientConfig,
) -> Result<Connection, DialError> {
    ephemeral_transport(addr)
        .await?
        .dial(addr, server_name, config)
        .await
}

/// [`dial_addr`] that returns as soon as the connection can send, with 0-RTT
/// when the session resumes (see [`Transport::dial_early`]).
pub async fn dial_addr_early(
    addr: SocketAddr,
    server_name: &str,
    config: ClientConfig,
) -> Result<Connection, DialError> {
    ephemeral_transport(addr)
        .await?
        .dial_early(addr, server_name, config)
        .await
}

/// A transport on an ephemeral port of the address family of `addr`.
async fn ephemeral_transport(addr: SocketAddr) -> Result<Transport, DialError> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    Ok(Transport::new(tokio::net::UdpSocket::bind(local).await?))
}
