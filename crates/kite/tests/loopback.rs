//! kite over real UDP sockets on 127.0.0.1: echo (16 MiB through GSO/GRO
//! where the kernel has them), uni streams, stream limits,
//! close codes, that dropping every handle ends every task, and resumption
//! with 0-RTT data accepted or rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use kite::{
    ClientConfig, Connection, ConnectionError, Listener, ServerConfig, Transport, TransportConfig,
};
use kite_testkit::tls::{self, SelfSigned, SkipChain};
use rustls::NamedGroup;
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALPN: &[u8] = b"quic-echo-example";

/// Longest any test may take; a hang fails instead of blocking the suite.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A server and a client configuration around a fresh self-signed certificate
/// for "localhost": TLS 1.3 only, ring provider, ALPN "quic-echo-example".
fn configs(transport: TransportConfig) -> (ServerConfig, ClientConfig) {
    configs_with_tls(transport, |_, _| {})
}

/// [`configs`] with a last say on both TLS configurations before they are shared.
fn configs_with_tls(
    transport: TransportConfig,
    adjust: impl FnOnce(&mut rustls::ServerConfig, &mut rustls::ClientConfig),
) -> (ServerConfig, ClientConfig) {
    let identity = SelfSigned::localhost();
    let mut server_tls = tls::server_config(&identity, ALPN);
    // Trusts exactly this certificate, whatever the name; checks signatures.
    let verifier = Arc::new(SkipChain::pinned(identity.cert.clone()));
    let mut client_tls = tls::client_config_with_verifier(verifier, ALPN);
    adjust(&mut server_tls, &mut client_tls);

    let transport = Arc::new(transport);
    (
        ServerConfig {
            tls: Arc::new(server_tls),
            transport: transport.clone(),
        },
        ClientConfig {
            tls: Arc::new(client_tls),
            transport,
            token_store: Some(Arc::new(kite_proto::config::TokenMemoryCache::default())),
        },
    )
}

async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test timed out")
}

/// Polls `condition` every 10 ms until it holds, failing after 10 s.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Accepts connections and echoes every bidirectional stream on them, until
/// the listener is dropped with the task.
async fn echo_server(listener: Listener) {
    while let Some(conn) = listener.accept().await {
        tokio::spawn(echo_connection(conn));
    }
}

/// Echoes each bidirectional stream of `conn` until the connection ends.
async fn echo_connection(conn: Connection) {
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        tokio::spawn(async move {
            if tokio::io::copy(&mut recv, &mut send).await.is_ok() {
                let _ = send.finish();
            }
        });
    }
}

/// A test pattern of `len` bytes that differs per `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// Starts an echo server on 127.0.0.1 and returns its address and its task.
fn start_echo_server(server: ServerConfig) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = kite::listen_addr(localhost(), server).unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tokio::spawn(echo_server(listener)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_of_one_stream() {
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let (addr, server_task) = start_echo_server(server);
        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();
        assert_eq!(conn.alpn_protocol().as_deref(), Some(ALPN));
        assert_eq!(conn.remote_address(), addr);

        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(b"hello kite").await.unwrap();
        send.finish().unwrap();
        assert_eq!(recv.read_to_end(1024).await.unwrap(), b"hello kite");

        conn.close(0, b"done");
        server_task.abort();
    })
    .await
}

/// RFC 9001 §4.8: a certificate the client refuses ends the handshake
/// with a CRYPTO_ERROR carrying TLS's alert (0x100 + unknown_ca, 48: the
/// pinning verifier reports an unknown issuer);
/// the server is left serving others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pinning_another_certificate_refuses_the_server() {
    within(async {
        let (server, good_client) = configs(TransportConfig::default());
        let (_, mut client) = configs(TransportConfig::default());
        let (addr, server_task) = start_echo_server(server);
        let other = SelfSigned::localhost();
        let verifier = Arc::new(SkipChain::pinned(other.cert.clone()));
        client.tls = Arc::new(tls::client_config_with_verifier(verifier, ALPN));
        match kite::dial_addr(addr, "localhost", client).await {
            Err(kite::DialError::Connection(ConnectionError::LocalTransportError(e))) => {
                assert_eq!(e.code.0, 0x100 + 48, "{e:?}");
            }
            Err(other) => panic!("unexpected error: {other:?}"),
            Ok(_) => panic!("the client accepted a certificate it does not pin"),
        }
        let conn = kite::dial_addr(addr, "localhost", good_client)
            .await
            .unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(b"still here").await.unwrap();
        send.finish().unwrap();
        assert_eq!(recv.read_to_end(1024).await.unwrap(), b"still here");
        server_task.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_of_eight_streams_of_one_mib() {
    const SIZE: usize = 1 << 20;
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let (addr, server_task) = start_echo_server(server);
        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();

        let mut tasks = Vec::new();
        for seed in 0..8u8 {
            let conn = conn.clone();
            tasks.push(tokio::spawn(async move {
                let data = pattern(SIZE, seed);
                let (mut send, mut recv) = conn.open_bi().await.unwrap();
                // Half the streams go through the tokio traits, half through
                // kite's own zero-copy calls.
                let echoed = if seed % 2 == 0 {
                    let write = async {
                        AsyncWriteExt::write_all(&mut send, &data).await.unwrap();
                        send.shutdown().await.unwrap();
                    };
                    let read = async {
                        let mut echoed = Vec::new();
                        AsyncReadExt::read_to_end(&mut recv, &mut echoed)
                            .await
                            .unwrap();
                        echoed
                    };
                    tokio::join!(write, read).1
                } else {
                    let write = async {
                        send.write_chunk(Bytes::from(data.clone())).await.unwrap();
                        send.finish().unwrap();
                    };
                    let read = async { recv.read_to_end(2 * SIZE).await.unwrap() };
                    tokio::join!(write, read).1
                };
                assert!(echoed == data, "stream {seed} echoed wrong bytes");
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        conn.close(0, b"done");
        server_task.abort();
    })
    .await
}

/// Long enough that the congestion window opens wide and full-size datagrams
/// go out in GSO batches (Linux loopback has GSO and GRO) and come back
/// GRO-coalesced, split by the driver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_of_sixteen_mib_through_gso_batches() {
    const SIZE: usize = 16 << 20;
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let (addr, server_task) = start_echo_server(server);
        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();
        let data = Bytes::from(pattern(SIZE, 7));
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let write = async {
            send.write_chunk(data.clone()).await.unwrap();
            send.finish().unwrap();
        };
        let read = async { recv.read_to_end(2 * SIZE).await.unwrap() };
        let echoed = tokio::join!(write, read).1;
        assert_eq!(echoed.len(), SIZE);
        assert!(echoed == data, "echoed bytes differ");
        conn.close(0, b"done");
        server_task.abort();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uni_streams_carry_data_both_ways() {
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let listener = kite::listen_addr(localhost(), server).unwrap();
        let addr = listener.local_addr().unwrap();
        let server_task = tokio::spawn(async move {
            let conn = listener.accept().await.unwrap();
            let mut recv = conn.accept_uni().await.unwrap();
            let mut data = recv.read_to_end(1 << 20).await.unwrap();
            data.reverse();
            let mut send = conn.open_uni().await.unwrap();
            send.write_all(&data).await.unwrap();
            send.finish().unwrap();
            // Stay until the client has read and closes.
            conn.closed().await
        });

        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();
        let data = pattern(100_000, 7);
        let mut send = conn.open_uni().await.unwrap();
        send.write_all(&data).await.unwrap();
        send.finish().unwrap();
        let mut recv = conn.accept_uni().await.unwrap();
        let mut back = recv.read_to_end(1 << 20).await.unwrap();
        back.reverse();
        assert!(back == data, "reversed data came back wrong");
        conn.close(0, b"done");

        let server_saw = server_task.await.unwrap();
        assert!(
            matches!(server_saw, ConnectionError::PeerApplicationClose { .. }),
            "{server_saw:?}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_sequential_streams_under_a_limit_of_ten() {
    within(async {
        let (server, client) = configs(TransportConfig {
            max_incoming_bidi_streams: 10,
            ..TransportConfig::default()
        });
        let (addr, server_task) = start_echo_server(server);
        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();
        for i in 0u32..1000 {
            let (mut send, mut recv) = conn.open_bi().await.unwrap();
            send.write_all(&i.to_be_bytes()).await.unwrap();
            send.finish().unwrap();
            assert_eq!(recv.read_to_end(16).await.unwrap(), i.to_be_bytes());
        }
        conn.close(0, b"done");
        server_task.abort();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_wait_for_stream_credit() {
    within(async {
        let (server, client) = configs(TransportConfig {
            max_incoming_bidi_streams: 10,
            ..TransportConfig::default()
        });
        let (addr, server_task) = start_echo_server(server);
        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0u32..200 {
            let conn = conn.clone();
            tasks.push(tokio::spawn(async move {
                let (mut send, mut recv) = conn.open_bi().await.unwrap();
                send.write_all(&i.to_be_bytes()).await.unwrap();
                send.finish().unwrap();
                assert_eq!(recv.read_to_end(16).await.unwrap(), i.to_be_bytes());
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        conn.close(0, b"done");
        server_task.abort();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_code_and_reason_reach_the_peer() {
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let listener = kite::listen_addr(localhost(), server).unwrap();
        let addr = listener.local_addr().unwrap();
        let server_task = tokio::spawn(async move {
            let conn = listener.accept().await.unwrap();
            conn.close(42, b"bye");
            conn.closed().await
        });

        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();
        // A pending accept is woken with the error too.
        let accept = conn.accept_bi().await;
        let error = conn.closed().await;
        match &error {
            ConnectionError::PeerApplicationClose { code, reason } => {
                assert_eq!(*code, 42);
                assert_eq!(&reason[..], b"bye");
            }
            other => panic!("expected the peer's application close, got {other:?}"),
        }
        assert!(accept.is_err());
        assert!(conn.open_bi().await.is_err());
        assert!(matches!(
            server_task.await.unwrap(),
            ConnectionError::LocallyClosed
        ));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transport_listens_and_dials() {
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let a = Transport::from_std(std::net::UdpSocket::bind(localhost()).unwrap()).unwrap();
        let b = Transport::from_std(std::net::UdpSocket::bind(localhost()).unwrap()).unwrap();
        let a_listener = a.listen(server.clone()).unwrap();
        let b_listener = b.listen(server).unwrap();
        let a_addr = a.local_addr().unwrap();
        let b_addr = b.local_addr().unwrap();
        let a_server = tokio::spawn(echo_server(a_listener));
        let b_server = tokio::spawn(echo_server(b_listener));

        let (a_to_b, b_to_a) = tokio::join!(
            a.dial(b_addr, "localhost", client.clone()),
            b.dial(a_addr, "localhost", client),
        );
        for (conn, payload) in [(a_to_b.unwrap(), b"from a"), (b_to_a.unwrap(), b"from b")] {
            let (mut send, mut recv) = conn.open_bi().await.unwrap();
            send.write_all(payload).await.unwrap();
            send.finish().unwrap();
            assert_eq!(recv.read_to_end(64).await.unwrap(), payload);
            conn.close(0, b"done");
        }
        // Each transport carries one client and one server connection.
        assert!(a.open_connections() >= 1 && b.open_connections() >= 1);
        a_server.abort();
        b_server.abort();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_ends_every_task() {
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let server_socket = std::net::UdpSocket::bind(localhost()).unwrap();
        let client_socket = std::net::UdpSocket::bind(localhost()).unwrap();
        let server_addr = server_socket.local_addr().unwrap();
        let client_addr = client_socket.local_addr().unwrap();
        let server_transport = Transport::from_std(server_socket).unwrap();
        let client_transport = Transport::from_std(client_socket).unwrap();
        let listener = server_transport.listen(server).unwrap();

        let conn = client_transport
            .dial(server_addr, "localhost", client)
            .await
            .unwrap();
        let server_conn = listener.accept().await.unwrap();
        let (mut send, recv) = conn.open_bi().await.unwrap();
        send.write_all(b"x").await.unwrap();
        send.finish().unwrap();
        let (server_send, mut server_recv) = server_conn.accept_bi().await.unwrap();
        assert_eq!(server_recv.read_to_end(8).await.unwrap(), b"x");
        assert_eq!(client_transport.open_connections(), 1);
        assert_eq!(server_transport.open_connections(), 1);

        // The last client handle going closes the connection with code 0.
        drop((send, recv, conn));
        let error = server_conn.closed().await;
        assert!(
            matches!(&error, ConnectionError::PeerApplicationClose { code, .. } if *code == 0),
            "{error:?}"
        );
        drop((server_send, server_recv, server_conn));
        wait_until("both connection tasks ended", || {
            client_transport.open_connections() == 0 && server_transport.open_connections() == 0
        })
        .await;

        // With the transports and the listener gone, the drivers stop and the
        // sockets close: both ports can be bound again.
        drop((listener, server_transport, client_transport));
        wait_until("both sockets were closed", || {
            std::net::UdpSocket::bind(server_addr).is_ok()
                && std::net::UdpSocket::bind(client_addr).is_ok()
        })
        .await;
    })
    .await
}

#[tokio::test]
async fn a_transport_listens_once() {
    let (server, _) = configs(TransportConfig::default());
    let transport = Transport::from_std(std::net::UdpSocket::bind(localhost()).unwrap()).unwrap();
    let listener = transport.listen(server.clone()).unwrap();
    assert!(matches!(
        transport.listen(server.clone()),
        Err(kite::ListenError::AlreadyListening)
    ));
    drop(listener);
    assert!(transport.listen(server).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_stop_reach_the_peer() {
    within(async {
        let (server, client) = configs(TransportConfig::default());
        let listener = kite::listen_addr(localhost(), server).unwrap();
        let addr = listener.local_addr().unwrap();
        let server_task = tokio::spawn(async move {
            let conn = listener.accept().await.unwrap();
            // First stream: the client resets it; we see its code.
            let (_send, mut recv) = conn.accept_bi().await.unwrap();
            let reset = loop {
                match recv.read_chunk(usize::MAX).await {
                    Ok(Some(_)) => continue,
                    other => break other,
                }
            };
            assert!(matches!(reset, Err(kite::ReadError::Reset(7))), "{reset:?}");
            // Second stream: we stop it; the client's writes fail with our code.
            let (_send, mut recv) = conn.accept_bi().await.unwrap();
            recv.stop(9).unwrap();
            conn.closed().await
        });

        let conn = kite::dial_addr(addr, "localhost", client).await.unwrap();
        let (mut send, _recv) = conn.open_bi().await.unwrap();
        send.write_all(b"abandoned").await.unwrap();
        send.reset(7).unwrap();

        let (mut send, _recv) = conn.open_bi().await.unwrap();
        let chunk = vec![0u8; 16 * 1024];
        let stopped = loop {
            if let Err(e) = send.write_all(&chunk).await {
                break e;
            }
        };
        assert!(
            matches!(stopped, kite::WriteError::Stopped(9)),
            "{stopped:?}"
        );
        conn.close(0, b"done");
        server_task.await.unwrap();
    })
    .await
}

/// rustls' in-memory session cache, counting the TLS 1.3 tickets it was
/// given, so a test knows when resumption has become possible.
#[derive(Debug)]
struct CountingTickets {
    inner: ClientSessionMemoryCache,
    received: AtomicUsize,
}

impl CountingTickets {
    fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

impl ClientSessionStore for CountingTickets {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(name, group)
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(name)
    }

    fn set_tls12_session(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(name, value)
    }

    fn tls12_session(
        &self,
        name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.inner.remove_tls12_session(name)
    }

    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.inner.insert_tls13_ticket(name, value);
        // Counted once stored, so a test that saw the count can resume.
        self.received.fetch_add(1, Ordering::SeqCst);
    }

    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(name)
    }
}

/// Configurations where TLS allows early data both ways (the server's
/// transport decides with `allow_0rtt`), and the client's ticket store.
fn early_data_configs(allow_0rtt: bool) -> (ServerConfig, ClientConfig, Arc<CountingTickets>) {
    let tickets = Arc::new(CountingTickets {
        inner: ClientSessionMemoryCache::new(8),
        received: AtomicUsize::new(0),
    });
    let store = tickets.clone();
    let transport = TransportConfig {
        allow_0rtt,
        ..TransportConfig::default()
    };
    let (server, client) = configs_with_tls(transport, |server_tls, client_tls| {
        // RFC 9001 §4.6.1: QUIC allows only 0 or 0xffffffff here.
        server_tls.max_early_data_size = u32::MAX;
        client_tls.enable_early_data = true;
        client_tls.resumption = rustls::client::Resumption::store(store);
    });
    (server, client, tickets)
}

/// Echoes every bidirectional stream of every connection, reporting for each
/// stream whether its data arrived as 0-RTT.
fn start_early_echo_server(
    server: ServerConfig,
) -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<bool>,
    tokio::task::JoinHandle<()>,
) {
    let listener = kite::listen_addr(localhost(), server).unwrap();
    let addr = listener.local_addr().unwrap();
    let (early_tx, early_rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(conn) = listener.accept().await {
            let early_tx = early_tx.clone();
            tokio::spawn(async move {
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    let data = recv.read_to_end(1 << 20).await.unwrap();
                    let _ = early_tx.send(recv.is_0rtt());
                    send.write_all(&data).await.unwrap();
                    send.finish().unwrap();
                }
            });
        }
    });
    (addr, early_rx, task)
}

/// How long the relay holds back each datagram from the server: long enough
/// that the client's writes right after `dial_early` surely precede the end
/// of the handshake, even on a loaded machine. Without it a resumed loopback
/// handshake takes well under a millisecond, and a test thread descheduled
/// that long would write in 1-RTT.
const SERVER_DELAY: Duration = Duration::from_millis(50);

/// A UDP relay for one client on 127.0.0.1: forwards the client's datagrams
/// to `server` at once and the server's back after `delay`, in order.
/// Returns the address clients dial.
async fn delaying_relay(server: SocketAddr, delay: Duration) -> SocketAddr {
    let front = Arc::new(tokio::net::UdpSocket::bind(localhost()).await.unwrap());
    let back = Arc::new(tokio::net::UdpSocket::bind(localhost()).await.unwrap());
    back.connect(server).await.unwrap();
    let addr = front.local_addr().unwrap();
    let (client_tx, client_rx) = tokio::sync::watch::channel(None);
    let (to_client, mut held) =
        tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let upstream = (front.clone(), back.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = upstream.0.recv_from(&mut buf).await {
            client_tx.send_replace(Some(from));
            let _ = upstream.1.send(&buf[..n]).await;
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = back.recv(&mut buf).await {
            let due = tokio::time::Instant::now() + delay;
            if to_client.send((due, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some((due, datagram)) = held.recv().await {
            tokio::time::sleep_until(due).await;
            let client = *client_rx.borrow();
            if let Some(client) = client {
                let _ = front.send_to(&datagram, client).await;
            }
        }
    });
    addr
}

/// A full handshake on a first connection, an echo on it, and its session
/// ticket; then a second connection with `dial_early` that writes `payload`
/// before its handshake completes. Both run from one client socket through a
/// relay that slows the server's answers by [`SERVER_DELAY`]. Returns the
/// second connection after the echo came back, and whether each connection's
/// stream arrived as 0-RTT at the server.
async fn resume_and_echo_early(
    allow_0rtt: bool,
    payload: &[u8],
) -> (Connection, [bool; 2], tokio::task::JoinHandle<()>) {
    let (server, client, tickets) = early_data_configs(allow_0rtt);
    let (server_addr, mut early, server_task) = start_early_echo_server(server);
    let addr = delaying_relay(server_addr, SERVER_DELAY).await;
    let transport = Transport::from_std(std::net::UdpSocket::bind(localhost()).unwrap()).unwrap();

    // Without a ticket, dial_early waits for the handshake like dial.
    let first = transport
        .dial_early(addr, "localhost", client.clone())
        .await
        .unwrap();
    assert!(!first.has_0rtt());
    let done = tokio::time::timeout(Duration::ZERO, first.handshake_done()).await;
    assert!(matches!(done, Ok(Ok(()))), "{done:?}");
    let (mut send, mut recv) = first.open_bi().await.unwrap();
    send.write_all(b"first").await.unwrap();
    send.finish().unwrap();
    assert_eq!(recv.read_to_end(64).await.unwrap(), b"first");
    assert_eq!(first.zero_rtt_accepted(), None);
    // Tickets follow the handshake in 1-RTT CRYPTO frames.
    wait_until("a session ticket arrived", || tickets.received() > 0).await;
    first.close(0, b"done");

    let second = transport
        .dial_early(addr, "localhost", client)
        .await
        .unwrap();
    assert!(second.has_0rtt(), "no 0-RTT keys on resumption");
    assert_eq!(second.zero_rtt_accepted(), None);
    let (mut send, mut recv) = second.open_bi().await.unwrap();
    send.write_all(payload).await.unwrap();
    send.finish().unwrap();
    assert_eq!(recv.read_to_end(1 << 20).await.unwrap(), payload);
    second.handshake_done().await.unwrap();
    let seen_early = [early.recv().await.unwrap(), early.recv().await.unwrap()];
    (second, seen_early, server_task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_connection_sends_0rtt_data_the_server_accepts() {
    within(async {
        let payload = pattern(5000, 0x5a);
        let (conn, seen_early, server_task) = resume_and_echo_early(true, &payload).await;
        assert_eq!(conn.zero_rtt_accepted(), Some(true));
        assert_eq!(seen_early, [false, true], "(first, second) as 0-RTT");
        conn.close(0, b"done");
        server_task.abort();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_0rtt_data_is_sent_again_after_the_handshake() {
    within(async {
        let payload = pattern(5000, 0xa5);
        let (conn, seen_early, server_task) = resume_and_echo_early(false, &payload).await;
        assert_eq!(conn.zero_rtt_accepted(), Some(false));
        assert_eq!(seen_early, [false, false], "(first, second) as 0-RTT");
        conn.close(0, b"done");
        server_task.abort();
    })
    .await
}
