//! [`Transport`]: one UDP socket and one `kite_proto::Endpoint`, shared by
//! every connection on it, client and server alike; [`Listener`] hands out the
//! server connections whose handshake completed. The table routing datagrams
//! to connection tasks, and the counts that decide when the driver stops, live
//! here.

use crate::connection::{ConnShared, Connection};
use crate::error::{DialError, ListenError};
use crate::udp::Socket;
use crate::{conn_task, driver};
use kite_proto::{
    ClientConfig, ConnectionEvent, ConnectionHandle, Endpoint, EndpointConfig, ServerConfig,
};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};

/// Handshaken connections waiting in [`Listener::accept`]'s queue; past this
/// the server closes new ones. quic-go's accept queue holds 32.
const ACCEPT_QUEUE: usize = 32;

/// Application close code for connections refused because nobody accepts them.
const REFUSED_CODE: u64 = 0;

/// What the driver, the connection tasks and the handles share.
pub(crate) struct TransportShared {
    pub(crate) socket: Socket,
    state: Mutex<EndpointState>,
    /// Wakes the driver to check whether it may stop.
    pub(crate) driver_wake: Notify,
    /// Datagrams dropped because their connection's inbox was full.
    dropped_datagrams: AtomicU64,
}

/// The endpoint and the routing state around it, under one lock.
///
/// Lock order: a connection task holds its connection's lock and then takes
/// this one; nothing takes a connection's lock while holding this one.
pub(crate) struct EndpointState {
    pub(crate) endpoint: Endpoint,
    /// Where to deliver each live connection's routed datagrams.
    routes: HashMap<usize, Arc<ConnShared>>,
    /// Connection tasks still running.
    live_connections: usize,
    /// `Transport` clones and listeners; with no connections left, zero stops the driver.
    user_refs: usize,
    /// The listener's accept queue, while there is a listener.
    pub(crate) listener: Option<mpsc::Sender<Connection>>,
}

impl TransportShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, EndpointState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection the endpoint just created and spawns its task.
    pub(crate) fn spawn_connection(
        self: &Arc<Self>,
        state: &mut EndpointState,
        handle: ConnectionHandle,
        conn: Box<kite_proto::Connection>,
    ) -> Arc<ConnShared> {
        let shared = Arc::new(ConnShared::new(conn, handle));
        state.routes.insert(handle.0, shared.clone());
        state.live_connections += 1;
        tokio::spawn(conn_task::run(self.clone(), shared.clone()));
        shared
    }

    /// Moves routed datagrams (`events`, left empty) to their connection's
    /// inbox, dropping what does not fit. Returns the connection when its
    /// task needs a wake, which the caller gives once the whole read is routed.
    pub(crate) fn route(
        &self,
        state: &EndpointState,
        handle: ConnectionHandle,
        events: &mut Vec<ConnectionEvent>,
    ) -> Option<Arc<ConnShared>> {
        // No route: the task ended; the endpoint forgets the connection soon.
        let Some(conn) = state.routes.get(&handle.0) else {
            events.clear();
            return None;
        };
        let (wake, dropped) = conn.deliver(events);
        if dropped > 0 {
            self.dropped_datagrams
                .fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::trace!(
                handle = handle.0,
                dropped,
                "connection inbox full, datagrams dropped"
            );
        }
        wake.then(|| conn.clone())
    }

    /// Called when a connection task ends: forgets its route and lets the
    /// driver stop if nothing else uses the transport.
    pub(crate) fn forget(&self, handle: ConnectionHandle) {
        let mut state = self.lock();
        state.routes.remove(&handle.0);
        state.live_connections = state.live_connections.saturating_sub(1);
        let unused = state.is_unused();
        drop(state);
        if unused {
            self.driver_wake.notify_one();
        }
    }

    /// Queues a handshaken server connection for the listener; gives it back
    /// when there is no listener or its queue is full.
    pub(crate) fn offer_to_listener(&self, conn: Connection) -> Result<(), Connection> {
        let Some(tx) = self.lock().listener.clone() else {
            return Err(conn);
        };
        tx.try_send(conn).map_err(|e| match e {
            mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c) => c,
        })
    }

    /// Refuses a handshaken connection nobody will accept.
    pub(crate) fn refuse(conn: Connection) {
        tracing::debug!(
            ?conn,
            "no listener or accept queue full, closing connection"
        );
        conn.close(REFUSED_CODE, b"server busy");
    }

    fn add_user_ref(&self) {
        self.lock().user_refs += 1;
    }

    fn remove_user_ref(&self) {
        let mut state = self.lock();
        state.user_refs = state.user_refs.saturating_sub(1);
        let unused = state.is_unused();
        drop(state);
        if unused {
            self.driver_wake.notify_one();
        }
    }
}

impl EndpointState {
    /// No handle and no connection uses the transport: the driver may stop.
    pub(crate) fn is_unused(&self) -> bool {
        self.user_refs == 0 && self.live_connections == 0
    }
}

/// One UDP socket and the QUIC endpoint on it: dials and listens at the same
/// time, multiplexing every connection by connection ID.
///
/// Cheap to clone. A driver task reads the socket while any clone, the
/// [`Listener`] or any connection of the transport is alive; when the last is
/// gone it stops and the socket is closed.
pub struct Transport {
    shared: Arc<TransportShared>,
}

impl Transport {
    /// A transport over `socket` with the default [`EndpointConfig`].
    ///
    /// # Panics
    /// Outside a tokio runtime (it spawns the driver task).
    pub fn new(socket: UdpSocket) -> Transport {
        Transport::with_config(socket, EndpointConfig::default())
    }

    /// A transport over a standard library socket (made non-blocking here).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<Transport> {
        socket.set_nonblocking(true)?;
        Ok(Transport::new(UdpSocket::from_std(socket)?))
    }

    /// A transport over `socket` with the given endpoint settings.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn with_config(socket: UdpSocket, config: EndpointConfig) -> Transport {
        let mut endpoint = Endpoint::new(config, None);
        // A new connection's ClientHello is processed in its own task, not
        // in the driver under the endpoint lock (see conn_task::drive).
        endpoint.set_defer_first_datagram(true);
        let shared = Arc::new(TransportShared {
            socket: Socket::new(socket),
            state: Mutex::new(EndpointState {
                endpoint,
                routes: HashMap::new(),
                live_connections: 0,
                user_refs: 1,
                listener: None,
            }),
            driver_wake: Notify::new(),
            dropped_datagrams: AtomicU64::new(0),
        });
        tokio::spawn(driver::run(shared.clone()));
        Transport { shared }
    }

    /// Starts accepting connections with `config`. One listener per transport.
    pub fn listen(&self, config: ServerConfig) -> Result<Listener, ListenError> {
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        {
            let mut state = self.shared.lock();
            if state.listener.is_some() {
                return Err(ListenError::AlreadyListening);
            }
            state.listener = Some(tx);
            state.endpoint.set_server_config(Some(Arc::new(config)));
        }
        Ok(Listener {
            transport: self.clone(),
            incoming: tokio::sync::Mutex::new(rx),
        })
    }

    /// Connects to `addr`, checking its certificate against `server_name`, and
    /// waits until the handshake completes.
    pub async fn dial(
        &self,
        addr: SocketAddr,
        server_name: &str,
        config: ClientConfig,
    ) -> Result<Connection, DialError> {
        let conn = self.start_dial(addr, server_name, config)?;
        conn.handshake_done().await?;
        Ok(conn)
    }

    /// Connects to `addr` and returns as soon as the connection can carry
    /// data: at once when it resumes a session that allows 0-RTT
    /// ([`Connection::has_0rtt`]), after the handshake otherwise, as
    /// [`dial`](Self::dial) does.
    ///
    /// Streams opened and written before the handshake completes go out as
    /// 0-RTT data, which the server may replay to its application (RFC 9001
    /// §9.2) or reject; rejected data is sent again after the handshake, and
    /// [`Connection::zero_rtt_accepted`] tells which happened. 0-RTT needs
    /// `enable_early_data` in the TLS config and a ticket from an earlier
    /// connection made with the same `Arc<rustls::ClientConfig>`.
    pub async fn dial_early(
        &self,
        addr: SocketAddr,
        server_name: &str,
        config: ClientConfig,
    ) -> Result<Connection, DialError> {
        let conn = self.start_dial(addr, server_name, config)?;
        if !conn.has_0rtt() {
            conn.handshake_done().await?;
        }
        Ok(conn)
    }

    /// Creates a client connection and spawns its task; the handshake runs
    /// from there.
    fn start_dial(
        &self,
        addr: SocketAddr,
        server_name: &str,
        config: ClientConfig,
    ) -> Result<Connection, DialError> {
        let shared = {
            let mut state = self.shared.lock();
            let (handle, conn) =
                state
                    .endpoint
                    .connect(Instant::now(), config, addr, server_name)?;
            self.shared.spawn_connection(&mut state, handle, conn)
        };
        // Counted only now, outside the endpoint lock (see the lock order on
        // `EndpointState`); nothing awaits in between, so it cannot leak.
        Ok(Connection::from_shared(shared))
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.socket.local_addr()
    }

    /// Connections whose task is still running (until they are drained).
    pub fn open_connections(&self) -> usize {
        self.shared.lock().live_connections
    }

    /// Datagrams dropped because their connection's inbox was full.
    pub fn dropped_datagrams(&self) -> u64 {
        self.shared.dropped_datagrams.load(Ordering::Relaxed)
    }
}

impl Clone for Transport {
    fn clone(&self) -> Self {
        self.shared.add_user_ref();
        Transport {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shared.remove_user_ref();
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("local_addr", &self.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// Accepts server connections on a [`Transport`]; dropping it stops
/// accepting new connections (existing ones live on).
pub struct Listener {
    transport: Transport,
    incoming: tokio::sync::Mutex<mpsc::Receiver<Connection>>,
}

impl Listener {
    /// The next connection whose handshake completed; `None` once the
    /// listener can yield no more.
    pub async fn accept(&self) -> Option<Connection> {
        self.incoming.lock().await.recv().await
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.transport.local_addr()
    }

    /// The transport it listens on, e.g. to dial from the same socket.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut state = self.transport.shared.lock();
        state.listener = None;
        state.endpoint.set_server_config(None);
        // Connections still queued are dropped with `incoming`, which closes them.
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("local_addr", &self.local_addr().ok())
            .finish_non_exhaustive()
    }
}
