//! The driver task: reads datagrams from the transport's socket, feeds them to
//! the endpoint, sends its stateless responses (Version Negotiation, Retry,
//! stateless reset) and routes the rest to connection tasks. It owns no
//! connection; it ends when nothing uses the transport any more.

use crate::connection::ConnShared;
use crate::transport::{EndpointState, TransportShared};
use crate::udp::{Datagram, RecvBuffers};
use kite_proto::{ConnectionEvent, ConnectionHandle, DatagramEvent};
use std::io;
use std::sync::Arc;
use std::time::Instant;

pub(crate) async fn run(shared: Arc<TransportShared>) {
    let mut recv_bufs = RecvBuffers::new();
    let mut response_buf = Vec::new();
    let mut batch = Vec::new();
    let mut run = Run::default();
    let mut to_wake = Vec::new();
    loop {
        if shared.lock().is_unused() {
            break;
        }
        tokio::select! {
            readable = shared.socket.readable() => {
                if let Err(e) = readable {
                    tracing::warn!("transport socket failed, driver stops: {e}");
                    break;
                }
            }
            () = shared.driver_wake.notified() => continue,
        }
        // One batched read (several datagrams, GRO-coalesced ones split)
        // before feeding them to the endpoint under one lock.
        match shared.socket.try_recv(&mut recv_bufs, &mut batch) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                // E.g. an ICMP error reported on the socket; the next read goes on.
                tracing::debug!("datagram read failed: {e}");
                continue;
            }
        }
        let crowded = route_batch(&shared, &mut batch, &mut response_buf, &mut run, &mut to_wake);
        // One wake per connection per batch, not per datagram: each is a
        // cross-thread handoff.
        for conn in to_wake.drain(..) {
            conn.wake_task();
        }
        // While the socket stays readable this loop never waits, and the
        // task it just woke may sit in this worker's next-task slot (which
        // tokio's other worker cannot steal) until the driver's budget runs
        // out: hundreds of datagrams later, past its inbox bound. A task
        // falling behind gets the thread now.
        if crowded {
            tokio::task::yield_now().await;
        }
    }
    tracing::trace!("transport driver stopped");
}

/// Feeds one read's datagrams to the endpoint under one lock: sends its
/// stateless responses, spawns new connections' tasks, and delivers the rest
/// to connection inboxes, adding the tasks to wake to `to_wake`. Returns
/// whether a connection's inbox is crowded.
fn route_batch(
    shared: &Arc<TransportShared>,
    batch: &mut Vec<Datagram>,
    response_buf: &mut Vec<u8>,
    run: &mut Run,
    to_wake: &mut Vec<Arc<ConnShared>>,
) -> bool {
    let now = Instant::now();
    let mut crowded = false;
    let mut state = shared.lock();
    // Connections waiting in the listener count against the endpoint's
    // bound on incoming connections (the seed's accept queue).
    let backlog = state
        .listener
        .as_ref()
        .map_or(0, |tx| tx.max_capacity() - tx.capacity());
    state.endpoint.set_accept_backlog(backlog);
    for Datagram { data, from, ecn } in batch.drain(..) {
        match state
            .endpoint
            .handle_datagram(now, from, ecn, data, response_buf)
        {
            None => {}
            Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                if run.handle != Some(handle) {
                    crowded |= run.flush(shared, &state, to_wake);
                    run.handle = Some(handle);
                }
                run.events.push(event);
            }
            Some(DatagramEvent::NewConnection(handle, conn)) => {
                shared.spawn_connection(&mut state, handle, conn);
                // Its first datagram, still unprocessed: the task opens it.
                crowded |= run.flush(shared, &state, to_wake);
                let mut first = state.endpoint.take_pending_events(handle);
                crowded |= shared.route(&state, handle, &mut first, to_wake);
            }
            Some(DatagramEvent::Response(transmit)) => {
                let data = response_buf.get(..transmit.size).unwrap_or(response_buf);
                // Stateless replies are best effort: a full socket drops
                // them like the network might.
                if let Err(e) = shared.socket.try_send(&transmit, data) {
                    tracing::debug!("stateless response not sent: {e}");
                }
            }
        }
    }
    crowded |= run.flush(shared, &state, to_wake);
    crowded
}

/// Consecutive datagrams of one read for the same connection (in a bulk
/// transfer, the whole read): delivered under one lock of its inbox, so the
/// task never starts on half of them.
#[derive(Default)]
struct Run {
    handle: Option<ConnectionHandle>,
    events: Vec<ConnectionEvent>,
}

impl Run {
    /// Delivers the run, leaving it empty, adding its connection to
    /// `to_wake` if its task needs a wake; returns whether its inbox is crowded.
    fn flush(
        &mut self,
        shared: &TransportShared,
        state: &EndpointState,
        to_wake: &mut Vec<Arc<ConnShared>>,
    ) -> bool {
        let Some(handle) = self.handle.take() else {
            return false;
        };
        shared.route(state, handle, &mut self.events, to_wake)
    }
}
