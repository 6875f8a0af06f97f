//! A one-way bulk transfer over the simulator, for benchmarks and for tests of
//! the data path's steady state: the client writes on one unidirectional
//! stream from a static buffer (no copy or allocation on the application's
//! side), the server reads and discards.

// A test harness: misuse (an unknown handle) is a bug in the caller and panics.
#![allow(clippy::expect_used)]

use bytes::Bytes;
use kite_proto::{
    ClientConfig, Connection, ConnectionHandle, ConnectionStats, Dir, ServerConfig, StreamId,
};
use std::time::Duration;

use crate::network::LinkConfig;
use crate::sim::{CLIENT, SERVER, Simulation};

/// Bytes handed to one `write_bytes` call: several packets' worth, so that a
/// write is not a per-packet cost.
const WRITE_CHUNK: usize = 64 * 1024;

/// What the client writes, over and over.
static PAYLOAD: [u8; WRITE_CHUNK] = [0x5a; WRITE_CHUNK];

/// A client and a server with one unidirectional stream from the client.
pub struct BulkTransfer {
    /// The simulation both live in.
    pub sim: Simulation,
    /// The client's connection.
    pub client: ConnectionHandle,
    /// The client's stream.
    stream: StreamId,
    /// The server's connection and its end of the stream, once seen.
    server: Option<(ConnectionHandle, Option<StreamId>)>,
    /// Bytes the client has written.
    pub written: u64,
    /// Bytes the server has read.
    pub read: u64,
}

impl BulkTransfer {
    /// Connects a client to a server over `link` and opens the stream;
    /// `None` if the handshake does not complete within ten seconds of
    /// virtual time.
    pub fn new(
        seed: u64,
        link: LinkConfig,
        server: ServerConfig,
        client: ClientConfig,
    ) -> Option<BulkTransfer> {
        let mut sim = Simulation::pair(seed, link, server);
        let ch = sim.connect(CLIENT, SERVER, client);
        let connected = sim.run_until(Duration::from_secs(10), |sim| {
            !sim.conn(CLIENT, ch).is_handshaking()
                && sim.hosts[SERVER]
                    .accepted
                    .first()
                    .is_some_and(|h| !sim.hosts[SERVER].connections[h].is_handshaking())
        });
        if !connected {
            return None;
        }
        let stream = sim.conn(CLIENT, ch).open(Dir::Uni)?;
        let server = sim.hosts[SERVER].accepted.first().map(|h| (*h, None));
        Some(BulkTransfer {
            sim,
            client: ch,
            stream,
            server,
            written: 0,
            read: 0,
        })
    }

    /// Moves `bytes` more from client to server; returns whether they all
    /// arrived within `limit` of virtual time.
    pub fn run(&mut self, bytes: u64, limit: Duration) -> bool {
        let target = self.read + bytes;
        let (ch, stream) = (self.client, self.stream);
        let Some((sh, mut server_stream)) = self.server else {
            return false;
        };
        let (mut written, mut read) = (self.written, self.read);
        let done = self.sim.run_until(limit, |sim| {
            let hook = sim.proto_hook;
            enter(hook);
            let client = sim.conn(CLIENT, ch);
            while written < target {
                let len = usize::try_from(target - written)
                    .unwrap_or(usize::MAX)
                    .min(WRITE_CHUNK);
                let mut chunk = Bytes::from_static(&PAYLOAD[..len]);
                match client.write_bytes(stream, &mut chunk) {
                    Ok(n) => written += n as u64,
                    Err(_) => break,
                }
                if !chunk.is_empty() {
                    break;
                }
            }
            while client.poll().is_some() {}
            let server = sim.conn(SERVER, sh);
            if server_stream.is_none() {
                server_stream = server.accept(Dir::Uni);
            }
            if let Some(id) = server_stream {
                while let Ok(Some(data)) = server.read(id, usize::MAX) {
                    read += data.len() as u64;
                }
            }
            while server.poll().is_some() {}
            exit(hook);
            read >= target
        });
        self.server = Some((sh, server_stream));
        (self.written, self.read) = (written, read);
        done
    }

    /// The client's connection.
    pub fn client(&mut self) -> &mut Connection {
        self.sim.conn(CLIENT, self.client)
    }

    /// The server's connection.
    pub fn server(&mut self) -> &mut Connection {
        let (sh, _) = self.server.expect("the server accepted the connection");
        self.sim.conn(SERVER, sh)
    }

    /// Both sides' statistics: client (sender), then server (receiver).
    pub fn stats(&mut self) -> (ConnectionStats, ConnectionStats) {
        (self.client().stats(), self.server().stats())
    }
}

fn enter(hook: Option<fn(bool)>) {
    if let Some(hook) = hook {
        hook(true);
    }
}

fn exit(hook: Option<fn(bool)>) {
    if let Some(hook) = hook {
        hook(false);
    }
}
