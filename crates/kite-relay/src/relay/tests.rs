use super::*;
use crate::thread::RelayThread;
use std::net::UdpSocket as StdUdpSocket;

const WAIT: Duration = Duration::from_secs(5);

/// A blocking UDP echo server on loopback, answering until `count` datagrams.
fn echo_server(count: usize) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let socket = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let addr = socket.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..count {
            let Ok((len, from)) = socket.recv_from(&mut buf) else {
                return;
            };
            socket.send_to(&buf[..len], from).unwrap();
        }
    });
    (addr, handle)
}

fn config(upstream: SocketAddr, impairments: Impairments) -> RelayConfig {
    RelayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream,
        to_server: impairments.clone(),
        to_client: impairments,
        seed: 7,
        max_datagrams: 10_000,
        max_duration: Duration::from_secs(30),
        trace: false,
    }
}

fn client() -> StdUdpSocket {
    let socket = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

#[test]
fn forwards_both_ways_for_several_clients() {
    let (server, handle) = echo_server(6);
    let relay = RelayThread::spawn(config(server, Impairments::default())).unwrap();
    let clients = [client(), client(), client()];
    for round in 0..2u8 {
        for (i, c) in clients.iter().enumerate() {
            let message = [round, i as u8, 42];
            c.send_to(&message, relay.local_addr()).unwrap();
            let mut buf = [0u8; 16];
            let (len, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..len], &message);
            assert_eq!(from, relay.local_addr());
        }
    }
    let report = relay.stop().unwrap();
    handle.join().unwrap();
    assert_eq!(report.clients, 3);
    assert_eq!((report.to_server.sent, report.to_client.sent), (6, 6));
    assert_eq!(report.end, EndReason::Stopped);
}

#[test]
fn delay_holds_each_direction() {
    let (server, handle) = echo_server(1);
    let impairments = Impairments {
        delay: Duration::from_millis(100),
        ..Impairments::default()
    };
    let relay = RelayThread::spawn(config(server, impairments)).unwrap();
    let c = client();
    let start = std::time::Instant::now();
    c.send_to(b"ping", relay.local_addr()).unwrap();
    c.recv_from(&mut [0u8; 16]).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    handle.join().unwrap();
}

#[test]
fn total_loss_forwards_nothing() {
    let (server, _handle) = echo_server(1);
    let impairments = Impairments {
        loss: 1.0,
        ..Impairments::default()
    };
    let relay = RelayThread::spawn(config(server, impairments)).unwrap();
    let c = client();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for _ in 0..5 {
        c.send_to(b"ping", relay.local_addr()).unwrap();
    }
    assert!(c.recv_from(&mut [0u8; 16]).is_err());
    let report = relay.stop().unwrap();
    assert_eq!((report.to_server.received, report.to_server.lost), (5, 5));
    assert_eq!(report.to_server.sent, 0);
}

#[test]
fn silence_end_checkpoints_what_each_side_sent_before_it() {
    let (server, handle) = echo_server(2);
    let to_server = Impairments {
        silence: Some(crate::impair::Silence {
            after: 1,
            length: Duration::from_millis(300),
        }),
        ..Impairments::default()
    };
    let relay = RelayThread::spawn(RelayConfig {
        to_server,
        ..config(server, Impairments::default())
    })
    .unwrap();
    let c = client();
    let mut buf = [0u8; 16];
    c.send_to(b"first", relay.local_addr()).unwrap();
    assert_eq!(c.recv_from(&mut buf).unwrap().0, 5);
    // Three retransmissions fall into the silence.
    for _ in 0..3 {
        c.send_to(b"again", relay.local_addr()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(400));
    c.send_to(b"late!!!", relay.local_addr()).unwrap();
    assert_eq!(c.recv_from(&mut buf).unwrap().0, 7);
    let report = relay.stop().unwrap();
    handle.join().unwrap();
    assert_eq!(report.to_server.silenced, 3);
    assert_eq!(report.to_server.received_bytes, 5 + 3 * 5 + 7);
    assert_eq!(report.to_server.sent_bytes, 5 + 7);
    assert_eq!(report.to_client.sent_bytes, 5 + 7);
    let checkpoint = report.silence_end.unwrap();
    assert!(
        checkpoint.at >= Duration::from_millis(300),
        "{checkpoint:?}"
    );
    // Taken before the late datagram was sent on, and before its echo.
    assert_eq!(checkpoint.to_server.sent_bytes, 5);
    assert_eq!(checkpoint.to_client.sent_bytes, 5);
    assert!(report.to_string().contains("silence_end at="), "{report}");
}

#[test]
fn stops_after_max_datagrams() {
    let (server, handle) = echo_server(1);
    let relay = RelayThread::spawn(RelayConfig {
        max_datagrams: 2,
        ..config(server, Impairments::default())
    })
    .unwrap();
    let c = client();
    c.send_to(b"one", relay.local_addr()).unwrap();
    c.recv_from(&mut [0u8; 16]).unwrap();
    // Two datagrams have arrived (one each way): the relay ends by itself.
    let report = relay.stop().unwrap();
    assert_eq!(report.end, EndReason::MaxDatagrams);
    handle.join().unwrap();
}

#[test]
fn stops_after_max_duration() {
    let relay = RelayThread::spawn(RelayConfig {
        max_duration: Duration::from_millis(50),
        ..config("127.0.0.1:9".parse().unwrap(), Impairments::default())
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(relay.stop().unwrap().end, EndReason::MaxDuration);
}

#[test]
fn refuses_addresses_off_loopback() {
    let upstream = "127.0.0.1:4433".parse().unwrap();
    let off_loopback = RelayConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..config(upstream, Impairments::default())
    };
    assert!(matches!(
        RelayThread::spawn(off_loopback),
        Err(RelayError::NotLoopback { role: "listen", .. })
    ));
    let remote_upstream = config("192.0.2.1:4433".parse().unwrap(), Impairments::default());
    assert!(matches!(
        RelayThread::spawn(remote_upstream),
        Err(RelayError::NotLoopback {
            role: "upstream",
            ..
        })
    ));
}

#[test]
fn refuses_invalid_impairments() {
    let impairments = Impairments {
        loss: 2.0,
        ..Impairments::default()
    };
    let bad = config("127.0.0.1:4433".parse().unwrap(), impairments);
    assert!(matches!(
        RelayThread::spawn(bad),
        Err(RelayError::Invalid(_))
    ));
}
