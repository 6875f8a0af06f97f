//! The transport's UDP socket, through quinn-udp: batched receive (`recvmmsg`)
//! with GRO-coalesced buffers split back into datagrams, GSO sends, ECN marks
//! both ways (RFC 9000 §13.4), and larger kernel buffers. GSO is dropped at run
//! time when the NIC refuses it (quinn-udp sees EIO/EINVAL and falls back).

use bytes::BytesMut;
use kite_proto::{EcnCodepoint, Transmit};
use quinn_udp::{RecvMeta, UdpSocketState};
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::Interest;

/// Bytes asked of the kernel for each of the send and receive buffers: room
/// for a window of full-size datagrams so bursts are not dropped before the
/// driver reads them (Linux's default, ~208 KiB, is ~170 datagrams).
const SOCKET_BUFFER_SIZE: usize = 2 * 1024 * 1024;

/// Room for one receive slot: the largest UDP payload (65,527 bytes), which is
/// also the most GRO coalesces into one buffer, rounded up; nothing truncates.
const RECV_SLOT: usize = 64 * 1024;

/// Slots filled by one receive call. A full GRO slot holds ~54 datagrams of
/// 1,200 bytes, so eight keep one batch under a connection's event queue.
const RECV_SLOTS: usize = 8;

/// Most datagrams handed to one GSO send. quinn sends 10; on loopback 32
/// took a fifth off the sender's CPU time per byte (fewer `sendmsg` calls,
/// larger GRO batches at the receiver). Bursts stay bounded by the pacer.
const MAX_GSO_BATCH: usize = 32;

/// Most bytes one GSO send may carry: the largest UDP payload over IPv4
/// (65,535 minus the IPv4 and UDP headers); the kernel refuses more.
const MAX_GSO_BYTES: usize = 65_535 - 20 - 8;

/// The buffer-size warning is logged once per process, not per socket.
static BUFFER_WARNED: AtomicBool = AtomicBool::new(false);

/// One received datagram.
pub(crate) struct Datagram {
    pub(crate) data: BytesMut,
    pub(crate) from: SocketAddr,
    pub(crate) ecn: Option<EcnCodepoint>,
}

/// A UDP socket with the offloads the kernel offers.
pub(crate) struct Socket {
    io: tokio::net::UdpSocket,
    /// quinn-udp's view of the socket; `None` when it could not be set up, and
    /// then plain one-datagram calls are used.
    state: Option<UdpSocketState>,
}

impl Socket {
    /// Wraps `io`, enabling what quinn-udp can (GRO, ECN and packet info) and
    /// asking for larger buffers.
    pub(crate) fn new(io: tokio::net::UdpSocket) -> Socket {
        let state = match UdpSocketState::new((&io).into()) {
            Ok(state) => Some(state),
            Err(e) => {
                tracing::warn!("UDP offloads unavailable, plain socket calls used: {e}");
                None
            }
        };
        let socket = Socket { io, state };
        socket.grow_buffers();
        socket
    }

    /// Asks for [`SOCKET_BUFFER_SIZE`] both ways, warning once when the OS
    /// gives less (Linux caps at `net.core.rmem_max` / `wmem_max`).
    fn grow_buffers(&self) {
        let Some(state) = &self.state else {
            return;
        };
        let recv = grow(
            SOCKET_BUFFER_SIZE,
            || state.recv_buffer_size((&self.io).into()),
            |n| state.set_recv_buffer_size((&self.io).into(), n),
        );
        let send = grow(
            SOCKET_BUFFER_SIZE,
            || state.send_buffer_size((&self.io).into()),
            |n| state.set_send_buffer_size((&self.io).into(), n),
        );
        let capped = |r: &io::Result<usize>| r.as_ref().map_or(true, |&n| n < SOCKET_BUFFER_SIZE);
        if (capped(&recv) || capped(&send)) && !BUFFER_WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                wanted = SOCKET_BUFFER_SIZE,
                recv = ?recv,
                send = ?send,
                "the OS capped the UDP socket buffers below what kite asked for; bursts may \
                 be dropped (on Linux raise sysctl net.core.rmem_max and net.core.wmem_max)"
            );
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    pub(crate) async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    pub(crate) async fn writable(&self) -> io::Result<()> {
        self.io.writable().await
    }

    /// How many datagrams of `segment_size` bytes one [`Socket::try_send`]
    /// may carry; 1 without GSO (or after the kernel refused it).
    pub(crate) fn max_send_datagrams(&self, segment_size: usize) -> usize {
        let fit = MAX_GSO_BYTES / segment_size.max(1);
        self.state.as_ref().map_or(1, |s| {
            s.max_gso_segments().min(MAX_GSO_BATCH).min(fit).max(1)
        })
    }

    /// Sends `contents` (one datagram, or several of `transmit.segment_size`
    /// bytes) without waiting. Only `WouldBlock` is an error: anything else
    /// (unreachable, message too big, GSO refused) is a loss that recovery
    /// handles, and is logged by quinn-udp.
    pub(crate) fn try_send(&self, transmit: &Transmit, contents: &[u8]) -> io::Result<()> {
        let Some(state) = &self.state else {
            return self.try_send_plain(transmit, contents);
        };
        let udp = quinn_udp::Transmit {
            destination: transmit.destination,
            ecn: transmit.ecn.and_then(to_quinn_ecn),
            contents,
            segment_size: transmit.segment_size.filter(|&s| s < contents.len()),
            src_ip: None,
        };
        self.io
            .try_io(Interest::WRITABLE, || state.send((&self.io).into(), &udp))
    }

    /// The fallback without quinn-udp: one `send_to` per datagram, no ECN.
    fn try_send_plain(&self, transmit: &Transmit, contents: &[u8]) -> io::Result<()> {
        let segment = transmit.segment_size.unwrap_or(contents.len()).max(1);
        for datagram in contents.chunks(segment) {
            match self.io.try_send_to(datagram, transmit.destination) {
                Ok(_) => {}
                // The datagrams already sent are gone; the rest count as
                // lost rather than being sent twice on retry.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) => tracing::debug!("datagram not sent: {e}"),
            }
        }
        Ok(())
    }

    /// Reads what the socket has queued (one batched call) into `out`,
    /// without waiting. `WouldBlock` when nothing was there.
    pub(crate) fn try_recv(
        &self,
        bufs: &mut RecvBuffers,
        out: &mut Vec<Datagram>,
    ) -> io::Result<()> {
        let Some(state) = &self.state else {
            return self.try_recv_plain(bufs, out);
        };
        let RecvBuffers { slots, metas, pool } = bufs;
        let count = self.io.try_io(Interest::READABLE, || {
            let mut chunks = slots.chunks_mut(RECV_SLOT);
            let mut slices: [IoSliceMut<'_>; RECV_SLOTS] =
                std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or(&mut [])));
            state.recv((&self.io).into(), &mut slices, metas)
        })?;
        let total = metas.iter().take(count).map(|m| m.len).sum();
        pool.start_batch(total);
        for (meta, slot) in metas.iter().zip(slots.chunks(RECV_SLOT)).take(count) {
            let received = slot.get(..meta.len).unwrap_or(slot);
            let ecn = meta.ecn.map(from_quinn_ecn);
            // GRO: datagrams of `stride` bytes back to back, the last shorter.
            for datagram in received.chunks(meta.stride.max(1)) {
                out.push(Datagram {
                    data: pool.take(datagram),
                    from: meta.addr,
                    ecn,
                });
            }
        }
        Ok(())
    }

    /// The fallback without quinn-udp: one `recv_from`.
    fn try_recv_plain(&self, bufs: &mut RecvBuffers, out: &mut Vec<Datagram>) -> io::Result<()> {
        let slot = bufs.slots.get_mut(..RECV_SLOT).unwrap_or(&mut []);
        let (len, from) = self.io.try_recv_from(slot)?;
        let data = slot.get(..len).unwrap_or(&[]);
        bufs.pool.start_batch(len);
        out.push(Datagram {
            data: bufs.pool.take(data),
            from,
            ecn: None,
        });
        Ok(())
    }
}

/// The driver's receive scratch space, reused for every read.
pub(crate) struct RecvBuffers {
    /// [`RECV_SLOTS`] slots of [`RECV_SLOT`] bytes, one per `recvmmsg` message.
    slots: Vec<u8>,
    metas: Vec<RecvMeta>,
    pool: DatagramPool,
}

impl RecvBuffers {
    pub(crate) fn new() -> RecvBuffers {
        RecvBuffers {
            slots: vec![0; RECV_SLOTS * RECV_SLOT],
            metas: vec![RecvMeta::default(); RECV_SLOTS],
            pool: DatagramPool(BytesMut::new()),
        }
    }
}

/// Packs received datagrams tightly into one allocation per receive call: a
/// copy per datagram (in cache, cheap next to decryption) instead of each
/// pinning a 64 KiB receive slot.
///
/// A fresh allocation per call, not a long-lived pool: splitting a datagram
/// off bumps the allocation's shared reference count, and the connection and
/// stream tasks on other threads drop earlier datagrams meanwhile. Sharing a
/// count across batches had every split contend for its cache line.
struct DatagramPool(BytesMut);

impl DatagramPool {
    /// Starts a receive call's allocation, for `total` bytes of datagrams.
    fn start_batch(&mut self, total: usize) {
        self.0 = BytesMut::with_capacity(total);
    }

    fn take(&mut self, datagram: &[u8]) -> BytesMut {
        // Within the batch's allocation unless `start_batch` undercounted.
        self.0.extend_from_slice(datagram);
        self.0.split()
    }
}

/// Asks for `wanted` bytes unless the buffer is already that large; returns
/// the size the OS settled on.
fn grow(
    wanted: usize,
    get: impl Fn() -> io::Result<usize>,
    set: impl Fn(usize) -> io::Result<()>,
) -> io::Result<usize> {
    if get()? >= wanted {
        return get();
    }
    set(wanted)?;
    get()
}

fn to_quinn_ecn(ecn: EcnCodepoint) -> Option<quinn_udp::EcnCodepoint> {
    match ecn {
        EcnCodepoint::NotEct => None,
        EcnCodepoint::Ect0 => Some(quinn_udp::EcnCodepoint::Ect0),
        EcnCodepoint::Ect1 => Some(quinn_udp::EcnCodepoint::Ect1),
        EcnCodepoint::Ce => Some(quinn_udp::EcnCodepoint::Ce),
    }
}

fn from_quinn_ecn(ecn: quinn_udp::EcnCodepoint) -> EcnCodepoint {
    match ecn {
        quinn_udp::EcnCodepoint::Ect0 => EcnCodepoint::Ect0,
        quinn_udp::EcnCodepoint::Ect1 => EcnCodepoint::Ect1,
        quinn_udp::EcnCodepoint::Ce => EcnCodepoint::Ce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn loopback() -> Socket {
        let io = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Socket::new(io)
    }

    fn transmit(to: SocketAddr, size: usize, segment: Option<usize>) -> Transmit {
        Transmit {
            destination: to,
            size,
            ecn: Some(EcnCodepoint::Ect0),
            segment_size: segment,
        }
    }

    /// Reads until `want` datagrams arrived or a second passed.
    async fn receive(socket: &Socket, want: usize) -> Vec<Datagram> {
        let mut bufs = RecvBuffers::new();
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        while out.len() < want && tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout_at(deadline, socket.readable()).await;
            let _ = socket.try_recv(&mut bufs, &mut out);
        }
        out
    }

    #[tokio::test]
    async fn gso_batch_arrives_as_separate_datagrams_with_ecn() {
        let (a, b) = (loopback().await, loopback().await);
        let to = b.local_addr().expect("addr");
        // Three full segments and a short last one, each byte naming its datagram.
        let segment = 1200;
        let sizes = [segment, segment, segment, 500];
        let contents: Vec<u8> = sizes
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| std::iter::repeat_n(i as u8, n))
            .collect();
        let batch = a.max_send_datagrams(segment) > 1;
        // tokio knows a fresh socket is writable only after asking.
        a.writable().await.expect("writable");
        if batch {
            let t = transmit(to, contents.len(), Some(segment));
            a.try_send(&t, &contents).expect("send");
        } else {
            let mut at = 0;
            for n in sizes {
                let t = transmit(to, n, None);
                a.try_send(&t, &contents[at..at + n]).expect("send");
                at += n;
            }
        }
        let got = receive(&b, sizes.len()).await;
        let lens: Vec<usize> = got.iter().map(|d| d.data.len()).collect();
        assert_eq!(lens, sizes, "GSO used: {batch}");
        for (i, d) in got.iter().enumerate() {
            assert!(
                d.data.iter().all(|&x| x == i as u8),
                "datagram {i} mixed up"
            );
            assert_eq!(d.from, a.local_addr().expect("addr"));
            if cfg!(target_os = "linux") {
                assert_eq!(d.ecn, Some(EcnCodepoint::Ect0));
            }
        }
    }

    #[tokio::test]
    async fn gso_batches_fit_one_udp_payload() {
        let socket = loopback().await;
        for segment in [1200, 1452, 9000, 65_000] {
            let n = socket.max_send_datagrams(segment);
            assert!((1..=MAX_GSO_BATCH).contains(&n), "{segment}: {n}");
            assert!(n == 1 || n * segment <= MAX_GSO_BYTES, "{segment}: {n}");
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn linux_loopback_offers_gso_and_gro() {
        let socket = loopback().await;
        let state = socket.state.as_ref().expect("quinn-udp state");
        assert!(socket.max_send_datagrams(1200) > 1, "no GSO");
        assert!(state.gro_segments() > 1, "no GRO");
    }
}
