//! A connection as the application sees it: the cloneable [`Connection`]
//! handle, the state it shares with its task and its streams (the
//! `kite_proto::Connection` behind one lock), and the wakers that park callers
//! until the task reports progress through `Connection::poll` events.

use crate::error::ClosedStream;
use crate::{RecvStream, SendStream};
use kite_proto::{
    ConnectionError, ConnectionEvent, ConnectionHandle, ConnectionStats, Dir, Event, Side, StreamId,
};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;
use tokio::sync::Notify;

/// Datagrams queued for one connection task before the driver drops more.
/// quic-go queues 256 undecrypted packets per connection; a drop past that is
/// a loss the peer recovers from, while an unbounded queue would let a flood
/// grow memory without limit.
const INBOX_LIMIT: usize = 256;

/// What a connection's task, its handles and its streams share.
pub(crate) struct ConnShared {
    state: Mutex<ConnState>,
    /// Datagrams the driver routed here, not yet handed to the connection.
    /// Apart from `state` so the driver never waits on the application.
    inbox: Mutex<Vec<ConnectionEvent>>,
    /// Wakes the connection task: datagrams arrived, or a handle did
    /// something that may need sending.
    task_wake: Notify,
    /// The endpoint's name for this connection.
    pub(crate) handle: ConnectionHandle,
}

/// The protocol state machine and everything parked on it.
pub(crate) struct ConnState {
    pub(crate) inner: Box<kite_proto::Connection>,
    /// Set once, when the connection is lost or closed locally; every later call returns it.
    pub(crate) error: Option<ConnectionError>,
    /// The handshake completed.
    connected: bool,
    /// Live handles: `Connection` clones and streams. Reaching zero closes the connection.
    refs: usize,
    /// One parked reader per stream.
    pub(crate) readers: HashMap<StreamId, Waker>,
    /// One parked writer per stream.
    pub(crate) writers: HashMap<StreamId, Waker>,
    /// Callers of `open_*`, per direction, waiting for stream credit.
    openers: [Vec<Waker>; 2],
    /// Callers of `accept_*`, per direction, waiting for the peer to open a stream.
    acceptors: [Vec<Waker>; 2],
    /// Callers waiting for the handshake to complete or the connection to end.
    state_waiters: Vec<Waker>,
}

impl ConnShared {
    /// A connection with no handles yet (they are counted as they are made).
    pub(crate) fn new(inner: Box<kite_proto::Connection>, handle: ConnectionHandle) -> Self {
        ConnShared {
            state: Mutex::new(ConnState {
                inner,
                error: None,
                connected: false,
                refs: 0,
                readers: HashMap::new(),
                writers: HashMap::new(),
                openers: [Vec::new(), Vec::new()],
                acceptors: [Vec::new(), Vec::new()],
                state_waiters: Vec::new(),
            }),
            inbox: Mutex::new(Vec::new()),
            task_wake: Notify::new(),
            handle,
        }
    }

    /// Locks the state. A panic elsewhere while locked leaves the state usable
    /// (the protocol core has no invariants spanning a panic), so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues routed datagrams for the task (`events` is left empty), as
    /// many as fit. Returns whether the task must be woken for them (the
    /// inbox was empty: nothing else will wake it) and how many were dropped.
    pub(crate) fn deliver(&self, events: &mut Vec<ConnectionEvent>) -> (bool, usize) {
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = inbox.is_empty();
        let room = INBOX_LIMIT.saturating_sub(inbox.len());
        let dropped = events.len().saturating_sub(room);
        events.truncate(room);
        inbox.append(events);
        (was_empty && !inbox.is_empty(), dropped)
    }

    /// Moves everything in the inbox to `into` (empty), swapping buffers so
    /// both keep their allocations.
    pub(crate) fn take_inbox(&self, into: &mut Vec<ConnectionEvent>) {
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *inbox, into);
    }

    /// Asks the task to drive the connection (send, rearm timers).
    pub(crate) fn wake_task(&self) {
        self.task_wake.notify_one();
    }

    /// Resolves once `wake_task` was called since the last wait.
    pub(crate) async fn task_woken(&self) {
        self.task_wake.notified().await
    }
}

impl ConnState {
    /// Reacts to one application event of the protocol core. Returns true when
    /// the handshake just completed.
    pub(crate) fn on_event(&mut self, event: Event) -> bool {
        match event {
            Event::Connected => {
                self.connected = true;
                wake_all(&mut self.state_waiters);
                return true;
            }
            Event::StreamOpened(dir) => wake_all(&mut self.acceptors[dir_index(dir)]),
            Event::StreamsAvailable(dir) => wake_all(&mut self.openers[dir_index(dir)]),
            Event::StreamReadable(id) => wake_stream(&mut self.readers, id),
            Event::StreamWritable(id)
            | Event::StreamFinished(id)
            | Event::StreamStopped { id, .. } => wake_stream(&mut self.writers, id),
            // No unreliable datagram API yet (RFC 9221); what arrives is dropped.
            Event::DatagramReceived(_) => {}
            Event::ConnectionLost(error) => self.on_lost(error),
        }
        false
    }

    /// Records why the connection ended (the first reason wins) and wakes every
    /// parked caller so it returns that error.
    pub(crate) fn on_lost(&mut self, error: ConnectionError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
        wake_all(&mut self.state_waiters);
        for list in self.openers.iter_mut().chain(self.acceptors.iter_mut()) {
            wake_all(list);
        }
        for (_, waker) in self.readers.drain().chain(self.writers.drain()) {
            waker.wake();
        }
    }

    /// Closes the connection with an application error code, unless it is already over.
    fn close(&mut self, error_code: u64, reason: &[u8]) {
        if self.error.is_none() {
            self.inner.close(Instant::now(), error_code, reason);
            self.on_lost(ConnectionError::LocallyClosed);
        }
    }
}

/// A counted reference to a connection: `Connection` clones and streams hold
/// one; when the last is dropped the connection is closed with code 0.
pub(crate) struct ConnectionRef(Arc<ConnShared>);

impl ConnectionRef {
    /// Counts a new handle. Must not be called with the connection state locked.
    pub(crate) fn new(shared: Arc<ConnShared>) -> Self {
        shared.lock().refs += 1;
        ConnectionRef(shared)
    }
}

impl std::ops::Deref for ConnectionRef {
    type Target = ConnShared;
    fn deref(&self) -> &ConnShared {
        &self.0
    }
}

impl Clone for ConnectionRef {
    fn clone(&self) -> Self {
        ConnectionRef::new(self.0.clone())
    }
}

impl Drop for ConnectionRef {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.refs = state.refs.saturating_sub(1);
        if state.refs == 0 {
            // Nobody can use the connection any more: close it, as quinn does.
            state.close(0, b"");
        }
        drop(state);
        self.0.wake_task();
    }
}

/// A QUIC connection: opens and accepts streams, closes, reports its state.
///
/// Cheap to clone; all clones refer to the same connection. When every clone
/// and every stream of the connection is dropped, the connection is closed
/// with application error code 0 and an empty reason; data still unsent then
/// is lost, so keep a handle until the peer has what it needs.
///
/// Every call made after the connection ended returns the
/// [`ConnectionError`] that ended it: [`ConnectionError::LocallyClosed`] after
/// [`close`](Self::close), the peer's code and reason after the peer closed,
/// `TimedOut` after the idle timeout, `Reset` after a stateless reset.
#[derive(Clone)]
pub struct Connection(pub(crate) ConnectionRef);

impl Connection {
    /// Wraps a connection's shared state in a new counted handle.
    pub(crate) fn from_shared(shared: Arc<ConnShared>) -> Self {
        Connection(ConnectionRef::new(shared))
    }

    /// Opens a bidirectional stream, waiting while the peer's stream limit is reached.
    ///
    /// The peer learns of the stream when data (or FIN) is first sent on it.
    pub async fn open_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        let id = poll_fn(|cx| self.poll_open(cx, Dir::Bi)).await?;
        Ok((
            SendStream::new(self.0.clone(), id),
            RecvStream::new(self.0.clone(), id),
        ))
    }

    /// Opens a unidirectional stream, waiting while the peer's stream limit is reached.
    pub async fn open_uni(&self) -> Result<SendStream, ConnectionError> {
        let id = poll_fn(|cx| self.poll_open(cx, Dir::Uni)).await?;
        Ok(SendStream::new(self.0.clone(), id))
    }

    /// Waits for the peer to open a bidirectional stream.
    pub async fn accept_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        let id = poll_fn(|cx| self.poll_accept(cx, Dir::Bi)).await?;
        Ok((
            SendStream::new(self.0.clone(), id),
            RecvStream::new(self.0.clone(), id),
        ))
    }

    /// Waits for the peer to open a unidirectional stream.
    pub async fn accept_uni(&self) -> Result<RecvStream, ConnectionError> {
        let id = poll_fn(|cx| self.poll_accept(cx, Dir::Uni)).await?;
        Ok(RecvStream::new(self.0.clone(), id))
    }

    /// Closes the connection with an application error code and reason
    /// (CONNECTION_CLOSE of type 0x1d, RFC 9000 §19.19). Pending and later
    /// calls fail with [`ConnectionError::LocallyClosed`]. Does nothing if the
    /// connection already ended.
    pub fn close(&self, error_code: u64, reason: &[u8]) {
        self.0.lock().close(error_code, reason);
        self.0.wake_task();
    }

    /// Waits until the connection ends and returns why.
    pub async fn closed(&self) -> ConnectionError {
        poll_fn(|cx| {
            let mut state = self.0.lock();
            match &state.error {
                Some(error) => Poll::Ready(error.clone()),
                None => {
                    park(&mut state.state_waiters, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Why the connection ended, or `None` while it is alive.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        self.0.lock().error.clone()
    }

    /// The peer's current address.
    pub fn remote_address(&self) -> SocketAddr {
        self.0.lock().inner.remote_address()
    }

    /// Counters of the connection: RTT, congestion window, bytes and packets.
    pub fn stats(&self) -> ConnectionStats {
        self.0.lock().inner.stats()
    }

    /// The application protocol negotiated with ALPN.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.0.lock().inner.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// Whether this end is the client or the server.
    pub fn side(&self) -> Side {
        self.0.lock().inner.side()
    }

    /// Whether the client may send 0-RTT data now: it resumed a session whose
    /// ticket allows early data, and the handshake is still in progress
    /// (RFC 9001 §4.6.1). Streams opened and written meanwhile go out in
    /// 0-RTT packets. Always false on a server.
    pub fn has_0rtt(&self) -> bool {
        self.0.lock().inner.has_0rtt()
    }

    /// Client: whether the server accepted the 0-RTT data; `None` before the
    /// handshake completes (see [`handshake_done`](Self::handshake_done)) or
    /// when 0-RTT was not attempted. Rejected data was sent again in 1-RTT, so
    /// the streams carry on either way.
    pub fn zero_rtt_accepted(&self) -> Option<bool> {
        self.0.lock().inner.zero_rtt_accepted()
    }

    /// Waits for the handshake to complete, e.g. after
    /// [`Transport::dial_early`](crate::Transport::dial_early) returned
    /// early; at once when it already has. Fails with the error that ended
    /// the connection if it ended first.
    pub async fn handshake_done(&self) -> Result<(), ConnectionError> {
        poll_fn(|cx| {
            let mut state = self.0.lock();
            if state.connected {
                return Poll::Ready(Ok(()));
            }
            if let Some(error) = &state.error {
                return Poll::Ready(Err(error.clone()));
            }
            park(&mut state.state_waiters, cx.waker());
            Poll::Pending
        })
        .await
    }

    fn poll_open(&self, cx: &mut Context<'_>, dir: Dir) -> Poll<Result<StreamId, ConnectionError>> {
        let mut state = self.0.lock();
        if let Some(error) = &state.error {
            return Poll::Ready(Err(error.clone()));
        }
        match state.inner.open(dir) {
            Some(id) => Poll::Ready(Ok(id)),
            None => {
                park(&mut state.openers[dir_index(dir)], cx.waker());
                Poll::Pending
            }
        }
    }

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        dir: Dir,
    ) -> Poll<Result<StreamId, ConnectionError>> {
        let mut state = self.0.lock();
        if let Some(error) = &state.error {
            return Poll::Ready(Err(error.clone()));
        }
        if let Some(id) = state.inner.accept(dir) {
            drop(state);
            // Accepting may let the core raise the peer's stream limit.
            self.0.wake_task();
            return Poll::Ready(Ok(id));
        }
        park(&mut state.acceptors[dir_index(dir)], cx.waker());
        Poll::Pending
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("handle", &self.0.handle.0)
            .finish_non_exhaustive()
    }
}

/// Maps a stream command's refusal to kite's error.
pub(crate) fn closed_stream(_: kite_proto::ClosedStream) -> ClosedStream {
    ClosedStream
}

fn dir_index(dir: Dir) -> usize {
    match dir {
        Dir::Bi => 0,
        Dir::Uni => 1,
    }
}

/// Adds a waker to a list unless an equivalent one is there already.
fn park(list: &mut Vec<Waker>, waker: &Waker) {
    if !list.iter().any(|w| w.will_wake(waker)) {
        list.push(waker.clone());
    }
}

/// Parks the one reader or writer of a stream.
pub(crate) fn park_stream(map: &mut HashMap<StreamId, Waker>, id: StreamId, waker: &Waker) {
    match map.entry(id) {
        Entry::Occupied(mut e) => {
            if !e.get().will_wake(waker) {
                e.insert(waker.clone());
            }
        }
        Entry::Vacant(e) => {
            e.insert(waker.clone());
        }
    }
}

fn wake_stream(map: &mut HashMap<StreamId, Waker>, id: StreamId) {
    if let Some(waker) = map.remove(&id) {
        waker.wake();
    }
}

fn wake_all(list: &mut Vec<Waker>) {
    for waker in list.drain(..) {
        waker.wake();
    }
}
