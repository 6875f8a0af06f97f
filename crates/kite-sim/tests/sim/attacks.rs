//! Attacks on established connections and on the server endpoint: hostile
//! frames fed to one connection's frame handling (`inject_payload`) must close
//! it with the RFC's error code, or be ignored with bounded memory, while a
//! second connection on the same server endpoint carries on; hostile datagrams
//! sent to the endpoint itself must create nothing. This file holds the harness.

#[path = "attacks/conn.rs"]
mod conn;
#[path = "attacks/endpoint.rs"]
mod endpoint;
#[path = "attacks/streams.rs"]
mod streams;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kite_proto::frame::{Frame, NewConnectionId, PathChallenge, Stream};
use kite_proto::packet::PacketType;
use kite_proto::trace::{FrameSummary, TraceEvent, Tracer, TracerFactory};
use kite_proto::{
    Connection, ConnectionError, ConnectionHandle, ConnectionId, Dir, Endpoint, EndpointConfig,
    ResetToken, Side, StreamId, TransportConfig, TransportError, TransportErrorCode,
};
use kite_sim::{CLIENT, LinkConfig, SERVER, Simulation};

use super::{handshake, seed, tls_configs_with};

// ---- what the tracer sees --------------------------------------------------

/// What one connection's tracer saw.
#[derive(Debug, Default)]
struct Record {
    /// The first 1-RTT packet number received from the real peer.
    first_one_rtt_pn: Option<u64>,
    /// Data of every PATH_RESPONSE sent.
    path_responses: Vec<[u8; 8]>,
    /// Sequence numbers of every RETIRE_CONNECTION_ID sent.
    retires: Vec<u64>,
    /// The highest sequence number of a NEW_CONNECTION_ID sent.
    last_issued: u64,
}

/// The records of an endpoint's connections, in creation order.
#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<Arc<Mutex<Record>>>>>);

impl Records {
    fn get(&self, index: usize) -> Arc<Mutex<Record>> {
        self.0.lock().unwrap()[index].clone()
    }
}

impl TracerFactory for Records {
    fn new_connection(&self, _: Side, _: &ConnectionId) -> Option<Box<dyn Tracer>> {
        let record = Arc::new(Mutex::new(Record::default()));
        self.0.lock().unwrap().push(record.clone());
        Some(Box::new(Recorder(record)))
    }
}

struct Recorder(Arc<Mutex<Record>>);

impl Tracer for Recorder {
    fn event(&mut self, _: std::time::Instant, event: &TraceEvent<'_>) {
        let mut record = self.0.lock().unwrap();
        match event {
            TraceEvent::PacketReceived(p) if p.packet_type == PacketType::OneRtt => {
                record.first_one_rtt_pn.get_or_insert(p.pn);
            }
            TraceEvent::PacketSent(p) => {
                for frame in p.frames {
                    match frame {
                        FrameSummary::PathResponse { data } => record.path_responses.push(*data),
                        FrameSummary::RetireConnectionId { sequence } => {
                            record.retires.push(*sequence)
                        }
                        FrameSummary::NewConnectionId { sequence, .. } => {
                            record.last_issued = record.last_issued.max(*sequence)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

// ---- two connections, one attacked -----------------------------------------

/// Two connections from the client host to one server endpoint: pair 0 is
/// attacked, pair 1 is the bystander that must carry on.
struct Attack {
    sim: Simulation,
    clients: [ConnectionHandle; 2],
    servers: [ConnectionHandle; 2],
    client_records: Records,
    server_records: Records,
}

impl Attack {
    /// Both pairs handshaken and settled, with default transport settings.
    fn new(seed_value: u64) -> Attack {
        Attack::with(seed_value, TransportConfig::default())
    }

    /// As [`Attack::new`] with `transport` on both sides.
    fn with(seed_value: u64, transport: TransportConfig) -> Attack {
        let (server, client) = tls_configs_with(transport);
        let mut sim = Simulation::pair(seed(seed_value), LinkConfig::default(), server.clone());
        let (client_records, server_records) = (Records::default(), Records::default());
        let traced = |records: &Records| EndpointConfig {
            tracer_factory: Some(Arc::new(records.clone())),
            ..EndpointConfig::default()
        };
        sim.hosts[SERVER].endpoint = Endpoint::new(traced(&server_records), Some(Arc::new(server)));
        sim.hosts[CLIENT].endpoint = Endpoint::new(traced(&client_records), None);
        let first = sim.connect(CLIENT, SERVER, client.clone());
        assert!(handshake(&mut sim, first, Duration::from_secs(5)));
        let second = sim.connect(CLIENT, SERVER, client);
        assert!(sim.run_until(Duration::from_secs(5), |sim| {
            !sim.conn(CLIENT, second).is_handshaking()
                && sim.hosts[SERVER]
                    .accepted
                    .get(1)
                    .is_some_and(|h| !sim.hosts[SERVER].connections[h].is_handshaking())
        }));
        // HANDSHAKE_DONE, NEW_CONNECTION_ID, tickets and their ACKs.
        sim.run_until(Duration::from_millis(300), |_| false);
        let accepted = &sim.hosts[SERVER].accepted;
        let servers = [accepted[0], accepted[1]];
        let attack = Attack {
            sim,
            clients: [first, second],
            servers,
            client_records,
            server_records,
        };
        for host in [SERVER, CLIENT] {
            assert!(
                attack
                    .records(host)
                    .lock()
                    .unwrap()
                    .first_one_rtt_pn
                    .is_some(),
                "host {host} received no 1-RTT packet"
            );
        }
        attack
    }

    fn handle(&self, host: usize, pair: usize) -> ConnectionHandle {
        if host == SERVER {
            self.servers[pair]
        } else {
            self.clients[pair]
        }
    }

    /// The attacked connection at `host`.
    fn conn(&mut self, host: usize) -> &mut Connection {
        let handle = self.handle(host, 0);
        self.sim.conn(host, handle)
    }

    fn records(&self, host: usize) -> Arc<Mutex<Record>> {
        if host == SERVER {
            self.server_records.get(0)
        } else {
            self.client_records.get(0)
        }
    }

    /// Feeds `payload` to the attacked connection at `host` as a 1-RTT packet.
    /// Its number is one the real peer did send (a duplicate, so not acked
    /// again): a fresh, higher one would be acknowledged, and the real peer
    /// closes on an ACK of a packet it never sent; it would also become the
    /// largest received, against which the peer's next numbers are decoded.
    fn inject(&mut self, host: usize, payload: Bytes) {
        let pn = self.records(host).lock().unwrap().first_one_rtt_pn.unwrap();
        let now = self.sim.now;
        self.conn(host).inject_payload(now, pn, payload);
    }

    fn inject_frames(&mut self, host: usize, frames: &[Frame]) {
        self.inject(host, encode(frames));
    }

    fn local_error(&mut self, host: usize) -> Option<TransportError> {
        match self.conn(host).error() {
            Some(ConnectionError::LocalTransportError(err)) => Some(err.clone()),
            None => None,
            Some(other) => panic!("host {host} lost its connection otherwise: {other:?}"),
        }
    }

    /// The attacked connection at `host` closed with `code`, naming the frame
    /// type `frame` if one is given.
    fn closed_with(
        &mut self,
        host: usize,
        code: TransportErrorCode,
        frame: Option<u64>,
    ) -> TransportError {
        let err = self
            .local_error(host)
            .unwrap_or_else(|| panic!("host {host} still open, expected {code}"));
        assert_eq!(err.code, code, "{err}");
        if frame.is_some() {
            assert_eq!(err.frame_type, frame, "{err}");
        }
        err
    }

    /// As [`Attack::closed_with`]; then the peer learns the code and frame
    /// type, both sides drain, and the bystander carries on.
    fn expect_closed(&mut self, host: usize, code: TransportErrorCode, frame: Option<u64>) {
        let err = self.closed_with(host, code, frame);
        let peer = 1 - host;
        let peer_handle = self.handle(peer, 0);
        assert!(self.sim.run_until(Duration::from_secs(2), |sim| {
            sim.conn(peer, peer_handle).is_closed()
        }));
        match self.sim.conn(peer, peer_handle).error() {
            Some(ConnectionError::PeerTransportClose {
                code: peer_code,
                frame_type,
                ..
            }) => assert_eq!((*peer_code, *frame_type), (code, err.frame_type)),
            other => panic!("peer did not see our close: {other:?}"),
        }
        self.expect_drained(peer);
        self.expect_drained(host);
        self.echo(1);
    }

    /// As [`Attack::expect_closed`] when the close cannot reach the peer
    /// (the attack moved us to connection IDs the real peer never issued).
    fn expect_closed_unheard(&mut self, host: usize, code: TransportErrorCode, frame: Option<u64>) {
        self.closed_with(host, code, frame);
        self.expect_drained(host);
        self.echo(1);
    }

    /// The attacked connection at `host` drains and its endpoint forgets it.
    fn expect_drained(&mut self, host: usize) {
        let handle = self.handle(host, 0);
        assert!(self.sim.run_until(Duration::from_secs(10), |sim| {
            sim.conn(host, handle).is_drained()
        }));
        assert_eq!(self.sim.hosts[host].endpoint.open_connections(), 1);
    }

    /// The attacked connection is still open at `host` and both pairs echo.
    fn expect_carries_on(&mut self, host: usize) {
        assert_eq!(self.conn(host).error(), None);
        self.echo(0);
        self.echo(1);
    }

    /// The client of `pair` sends 20 kB on a new stream; its server echoes it.
    fn echo(&mut self, pair: usize) {
        let (ch, sh) = (self.clients[pair], self.servers[pair]);
        let sent: Vec<u8> = (0..20_000).map(|i| (i * 7 % 251) as u8).collect();
        let sim = &mut self.sim;
        let id = sim.conn(CLIENT, ch).open(Dir::Bi).expect("stream credit");
        let (mut written, mut finished) = (0, false);
        let (mut server_id, mut server_data, mut server_fin, mut echoed) = (None, vec![], false, 0);
        let mut received = Vec::new();
        let deadline = sim.now + Duration::from_secs(10);
        let done = loop {
            let client = sim.conn(CLIENT, ch);
            while let Ok(n @ 1..) = client.write(id, &sent[written..]) {
                written += n;
            }
            if written == sent.len() && !finished {
                finished = client.finish(id).is_ok();
            }
            let server = sim.conn(SERVER, sh);
            if server_id.is_none() {
                server_id = server.accept(Dir::Bi);
            }
            if let Some(sid) = server_id {
                while !server_fin {
                    match server.read(sid, 64 * 1024) {
                        Ok(Some(chunk)) => server_data.extend_from_slice(&chunk),
                        Ok(None) => server_fin = true,
                        Err(_) => break,
                    }
                }
                if server_fin && echoed < server_data.len() {
                    while let Ok(n @ 1..) = server.write(sid, &server_data[echoed..]) {
                        echoed += n;
                    }
                    if echoed == server_data.len() {
                        server.finish(sid).unwrap();
                    }
                }
            }
            let ended = loop {
                match sim.conn(CLIENT, ch).read(id, 64 * 1024) {
                    Ok(Some(chunk)) => received.extend_from_slice(&chunk),
                    Ok(None) => break true,
                    Err(_) => break false,
                }
            };
            if ended || sim.now > deadline || !step(sim) {
                break ended;
            }
        };
        assert!(done, "pair {pair} echo stalled: {:?}", sim.conn(CLIENT, ch));
        assert!(received == sent, "pair {pair} echo corrupted");
    }
}

/// Sends what the applications wrote, then moves to the next event (within a
/// second) and handles it; `false` when nothing was due.
fn step(sim: &mut Simulation) -> bool {
    let mut calls = 0;
    sim.run_until(Duration::from_secs(1), |_| {
        calls += 1;
        calls > 1
    })
}

// ---- frame building ----------------------------------------------------------

fn encode(frames: &[Frame]) -> Bytes {
    let mut buf = BytesMut::new();
    for frame in frames {
        frame.encode(&mut buf);
    }
    buf.freeze()
}

fn stream(id: StreamId, offset: u64, data: &[u8], fin: bool) -> Frame {
    Frame::Stream(Stream {
        id,
        offset,
        fin,
        data: Bytes::copy_from_slice(data),
    })
}

/// The wire type `frame` is encoded with.
fn ty(frame: &Frame) -> Option<u64> {
    Some(frame.frame_type().0)
}

/// The frame type kite names when `frame` causes an error: none yet for
/// STREAM and CRYPTO (see `stream_and_crypto_errors_name_their_frame_type`).
fn named(frame: &Frame) -> Option<u64> {
    match frame {
        Frame::Stream(_) | Frame::Crypto(_) => None,
        _ => ty(frame),
    }
}

fn new_cid(sequence: u64, retire_prior_to: u64) -> Frame {
    Frame::NewConnectionId(NewConnectionId {
        sequence,
        retire_prior_to,
        id: ConnectionId::new(&sequence.to_be_bytes()).unwrap(),
        reset_token: ResetToken([sequence as u8; 16]),
    })
}

fn challenge(n: u64) -> Frame {
    Frame::PathChallenge(PathChallenge {
        data: n.to_be_bytes(),
    })
}

/// A stream the peer of `host` opens.
fn peer_stream(host: usize, dir: Dir, index: u64) -> StreamId {
    let peer = if host == SERVER {
        Side::Client
    } else {
        Side::Server
    };
    StreamId::new(peer, dir, index)
}

/// Both sides, for frames either may receive.
const HOSTS: [usize; 2] = [SERVER, CLIENT];
