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
        let now = Instant::now();
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
                .handle_datagram(now, from, ecn, data, &mut response_buf)
            {
                None => {}
                Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                    if run.handle != Some(handle) {
                        to_wake.extend(run.flush(&shared, &state));
                        run.handle = Some(handle);
                    }
                    run.events.push(event);
                }
                Some(DatagramEvent::NewConnection(handle, conn)) => {
                    shared.spawn_connection(&mut state, handle, conn);
                    // Its first datagram, still unprocessed: the task opens it.
                    to_wake.extend(run.flush(&shared, &state));
                    let mut first = state.endpoint.take_pending_events(handle);
                    to_wake.extend(shared.route(&state, handle, &mut first));
                }
                Some(DatagramEvent::Response(transmit)) => {
                    let data = response_buf.get(..transmit.size).unwrap_or(&response_buf);
                    // Stateless replies are best effort: a full socket drops
                    // them like the network might.
                    if let Err(e) = shared.socket.try_send(&transmit, data) {
                        tracing::debug!("stateless response not sent: {e}");
                    }
                }
            }
        }
        to_wake.extend(run.flush(&shared, &state));
        drop(state);
        // One wake per connection per batch, not per datagram: each is a
        // cross-thread handoff.
        for conn in to_wake.drain(..) {
            conn.wake_task();
        }
    }
    tracing::trace!("transport driver stopped");
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
    /// Delivers the run, leaving it empty; returns the connection if its
    /// task needs a wake.
    fn flush(
        &mut self,
        shared: &TransportShared,
        state: &EndpointState,
    ) -> Option<Arc<ConnShared>> {
        let handle = self.handle.take()?;
        shared.route(state, handle, &mut self.events)
    }
}
