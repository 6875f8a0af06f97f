//! One connection's task: feeds it the datagrams the driver left in its
//! inbox, serves its timers, sends what it has through the shared socket,
//! passes its endpoint events to the endpoint, and wakes parked handles on its
//! events. It ends when the connection is drained (RFC 9000 §10.2).

use crate::connection::{ConnShared, ConnState, Connection};
use crate::transport::TransportShared;
use crate::udp::Socket;
use kite_proto::{ConnectionError, ConnectionEvent, Side, Transmit};
use std::io;
use std::sync::Arc;
use std::time::Instant;

/// Datagrams sent in one go (counting each GSO segment) before the task
/// yields to others, so one busy connection cannot hold a runtime thread:
/// about 370 KB, a few hundred microseconds of sending. Not lower: on tokio's
/// multi-threaded runtime a yielded task is often stolen by the idle worker,
/// a context switch and a migration; with 64, a 1 GiB upload's sender made
/// 25k context switches instead of 1.5k and spent 20 % more CPU.
const MAX_TRANSMIT_BURST: usize = 256;

/// The UDP payload size to reserve for each outgoing datagram at start: a
/// 1,500-byte Ethernet MTU's worth (the core grows the buffer if it needs to).
const TRANSMIT_BUF_SIZE: usize = 1500;

pub(crate) async fn run(transport: Arc<TransportShared>, conn: Arc<ConnShared>) {
    // Forgets the route even if the task is dropped mid-way (runtime shutdown).
    let _registration = Registration {
        transport: transport.clone(),
        conn: conn.clone(),
    };
    let mut out = Outgoing {
        buf: Vec::with_capacity(TRANSMIT_BUF_SIZE),
        pending: None,
    };
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    let mut received = Vec::new();
    loop {
        let step = drive(&transport, &conn, &mut received, &mut out);
        if step.handshake_done {
            let handle = Connection::from_shared(conn.clone());
            if let Err(handle) = transport.offer_to_listener(handle) {
                TransportShared::refuse(handle);
            }
        }
        if step.drained {
            break;
        }
        if step.more_to_send {
            tokio::task::yield_now().await;
            continue;
        }
        if let Some(deadline) = step.deadline {
            timer.as_mut().reset(deadline.into());
        }
        tokio::select! {
            () = conn.task_woken() => {}
            () = &mut timer, if step.deadline.is_some() => {}
            writable = transport.socket.writable(), if out.pending.is_some() => {
                if let Err(e) = writable {
                    tracing::debug!("socket not writable: {e}");
                    out.pending = None;
                }
            }
        }
    }
}

/// What one pass of `drive` leaves for the task loop.
struct Step {
    /// When to call `handle_timeout` next.
    deadline: Option<Instant>,
    /// A server connection just completed its handshake: offer it to the listener.
    handshake_done: bool,
    /// The burst cap stopped sending: more may be ready.
    more_to_send: bool,
    /// The connection is over for good: the task ends.
    drained: bool,
}

/// One pass over the connection, in the order the core expects: inputs, timers,
/// endpoint events, application events, then transmits.
fn drive(
    transport: &TransportShared,
    conn: &ConnShared,
    received: &mut Vec<ConnectionEvent>,
    out: &mut Outgoing,
) -> Step {
    conn.take_inbox(received);
    let mut guard = conn.lock();
    let state = &mut *guard;
    let opened_before = state.inner.has_received_packets();
    let had_input = !received.is_empty();
    for event in received.drain(..) {
        state.inner.handle_event(event);
    }
    // A server connection's first datagram is opened here, not in the
    // endpoint (Transport::with_config defers it); one that opened nothing
    // was forged or corrupt and leaves no state (RFC 9001 §5.3).
    if had_input
        && !opened_before
        && state.inner.side() == Side::Server
        && !state.inner.has_received_packets()
    {
        transport.lock().endpoint.abandon(conn.handle);
        return Step {
            deadline: None,
            handshake_done: false,
            more_to_send: false,
            drained: true,
        };
    }
    let now = Instant::now();
    if state.inner.poll_timeout().is_some_and(|t| t <= now) {
        state.inner.handle_timeout(now);
    }
    let mut step = Step {
        deadline: None,
        handshake_done: false,
        more_to_send: false,
        drained: false,
    };
    collect_events(transport, conn, state, &mut step);
    step.more_to_send = out.send(&transport.socket, &mut state.inner, now);
    // Sending may have produced events too (e.g. a close just written).
    collect_events(transport, conn, state, &mut step);
    step.deadline = state.inner.poll_timeout();
    step.drained |= state.inner.is_drained();
    if step.drained && state.error.is_none() {
        // Safety net: no handle may stay parked on a connection that is gone.
        state.on_lost(ConnectionError::LocallyClosed);
    }
    step
}

/// Passes endpoint events to the endpoint (its answers go straight back into
/// the connection) and application events to the parked handles.
fn collect_events(
    transport: &TransportShared,
    conn: &ConnShared,
    state: &mut ConnState,
    step: &mut Step,
) {
    while let Some(event) = state.inner.poll_endpoint_event() {
        step.drained |= event.is_drained();
        let answer = transport.lock().endpoint.handle_event(conn.handle, event);
        if let Some(answer) = answer {
            state.inner.handle_event(answer);
        }
    }
    while let Some(event) = state.inner.poll() {
        if state.on_event(event) && state.inner.side() == Side::Server {
            step.handshake_done = true;
        }
    }
}

/// The task's outgoing datagram buffer, reused for every datagram.
struct Outgoing {
    buf: Vec<u8>,
    /// A datagram in `buf` the socket refused (full); sent before any other.
    pending: Option<Transmit>,
}

impl Outgoing {
    /// Sends until the connection has nothing more, the socket is full, or the
    /// burst cap is reached (then returns true). Full-size datagrams go out
    /// several per call where the socket has GSO.
    fn send(&mut self, socket: &Socket, inner: &mut kite_proto::Connection, now: Instant) -> bool {
        let mut sent = 0;
        while sent < MAX_TRANSMIT_BURST {
            let transmit = match self.pending.take() {
                Some(t) => t,
                None => {
                    let max = socket.max_send_datagrams(inner.max_datagram_size());
                    match inner.poll_transmit_batch(now, max, &mut self.buf) {
                        Some(t) => t,
                        None => return false,
                    }
                }
            };
            let data = self.buf.get(..transmit.size).unwrap_or(&self.buf);
            match socket.try_send(&transmit, data) {
                Ok(()) => {}
                // Wait for the socket to drain (the task selects on writable).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.pending = Some(transmit);
                    return false;
                }
                // Only WouldBlock comes back; anything else is a loss.
                Err(e) => tracing::debug!("datagram not sent: {e}"),
            }
            sent += transmit
                .segment_size
                .map_or(1, |s| transmit.size.div_ceil(s.max(1)));
        }
        true
    }
}

/// Removes the connection from the transport when its task ends.
struct Registration {
    transport: Arc<TransportShared>,
    conn: Arc<ConnShared>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.transport.forget(self.conn.handle);
    }
}
