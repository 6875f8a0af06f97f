//! The driver task: reads datagrams from the transport's socket, feeds them to
//! the endpoint, sends its stateless responses (Version Negotiation, Retry,
//! stateless reset) and routes the rest to connection tasks. It owns no
//! connection; it ends when nothing uses the transport any more.

use crate::transport::TransportShared;
use bytes::BytesMut;
use kite_proto::DatagramEvent;
use std::io;
use std::sync::Arc;
use std::time::Instant;

/// Room left in the receive buffer before each read: the largest UDP payload
/// (65,527 bytes over IPv6), rounded up, so no datagram is ever truncated.
const MAX_DATAGRAM: usize = 64 * 1024;

/// Size of each receive buffer allocation. Datagrams are split off it without
/// copying and freed with their last reference; one allocation holds ~170
/// full-size (1,500-byte) datagrams before the next.
const RECV_BUF_CHUNK: usize = 4 * MAX_DATAGRAM;

/// Datagrams read before feeding them to the endpoint under one lock.
const RECV_BATCH: usize = 32;

pub(crate) async fn run(shared: Arc<TransportShared>) {
    let mut recv_buf = BytesMut::new();
    let mut response_buf = Vec::new();
    let mut batch = Vec::with_capacity(RECV_BATCH);
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
        read_batch(&shared, &mut recv_buf, &mut batch);
        if batch.is_empty() {
            continue;
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
        for (data, from) in batch.drain(..) {
            // No ECN marks read yet: that needs cmsg support (quinn-udp or socket2).
            match state
                .endpoint
                .handle_datagram(now, from, None, data, &mut response_buf)
            {
                None => {}
                Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                    shared.route(&state, handle, event)
                }
                Some(DatagramEvent::NewConnection(handle, conn)) => {
                    shared.spawn_connection(&mut state, handle, conn);
                }
                Some(DatagramEvent::Response(transmit)) => {
                    let data = response_buf.get(..transmit.size).unwrap_or(&response_buf);
                    // Stateless replies are best effort: a full socket drops
                    // them like the network might.
                    if let Err(e) = shared.socket.try_send_to(data, transmit.destination) {
                        tracing::debug!("stateless response not sent: {e}");
                    }
                }
            }
        }
    }
    tracing::trace!("transport driver stopped");
}

/// Reads what the socket has queued, up to a batch, without waiting.
fn read_batch(
    shared: &TransportShared,
    recv_buf: &mut BytesMut,
    batch: &mut Vec<(BytesMut, std::net::SocketAddr)>,
) {
    while batch.len() < RECV_BATCH {
        if recv_buf.capacity() - recv_buf.len() < MAX_DATAGRAM {
            recv_buf.reserve(RECV_BUF_CHUNK);
        }
        match shared.socket.try_recv_buf_from(recv_buf) {
            Ok((_, from)) => batch.push((recv_buf.split(), from)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => {
                // E.g. an ICMP error reported on the socket (Windows); the next read goes on.
                tracing::debug!("datagram read failed: {e}");
                break;
            }
        }
    }
}
