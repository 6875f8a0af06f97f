//! Endpoints and their connections driven over the virtual [`Network`] on a
//! virtual clock: the clock jumps to the next deadline (a datagram arrival
//! or a connection timer), so seconds of network time pass in microseconds.

// A test harness: misuse (an unknown handle, an invalid config) is a bug in the
// test and panics with a message.
#![allow(clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use kite_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Endpoint, EndpointConfig, Event,
    ServerConfig,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::network::{LinkConfig, Network};

/// One host: an endpoint and the connections it owns.
pub struct Host {
    /// Its address on the virtual network.
    pub addr: SocketAddr,
    /// Its endpoint.
    pub endpoint: Endpoint,
    /// Its connections by handle (ordered, so runs are deterministic).
    pub connections: BTreeMap<ConnectionHandle, Connection>,
    /// Connections accepted (server side) in arrival order.
    pub accepted: Vec<ConnectionHandle>,
}

/// A simulation of hosts exchanging datagrams.
pub struct Simulation {
    /// The virtual clock's current time.
    pub now: Instant,
    /// The network between hosts.
    pub network: Network,
    /// The hosts.
    pub hosts: Vec<Host>,
    /// Called with `true` before and `false` after each call the simulator
    /// makes into kite-proto, so a test can attribute work (allocations,
    /// time) to the protocol rather than to the simulated network.
    pub proto_hook: Option<fn(bool)>,
    buf: Vec<u8>,
    /// Received datagrams are copied into this and split off, as the
    /// runtime does, so each is a shared slice of a larger allocation.
    recv_pool: BytesMut,
    /// Sent datagrams are copied into this on their way to the network.
    send_pool: BytesMut,
}

/// Size of each allocation datagrams are packed into (the runtime's choice
/// for received datagrams too).
const POOL_CHUNK: usize = 256 * 1024;

/// Index of the first host (the server in [`Simulation::pair`]).
pub const SERVER: usize = 0;
/// Index of the second host (the client in [`Simulation::pair`]).
pub const CLIENT: usize = 1;

impl Simulation {
    /// Two hosts, a server and a client, over links configured by `link`
    /// in both directions, with randomness from `seed`.
    pub fn pair(seed: u64, link: LinkConfig, server: ServerConfig) -> Simulation {
        let now = Instant::now();
        let server_addr: SocketAddr = "10.0.0.1:4433".parse().expect("literal address");
        let client_addr: SocketAddr = "10.0.0.2:50000".parse().expect("literal address");
        let network = Network::new(now, seed, link);
        let hosts = vec![
            Host::new(
                server_addr,
                Endpoint::new(EndpointConfig::default(), Some(Arc::new(server))),
            ),
            Host::new(client_addr, Endpoint::new(EndpointConfig::default(), None)),
        ];
        Simulation {
            now,
            network,
            hosts,
            proto_hook: None,
            buf: Vec::with_capacity(1500),
            recv_pool: BytesMut::new(),
            send_pool: BytesMut::new(),
        }
    }

    /// Starts a connection from host `from` to host `to`.
    pub fn connect(&mut self, from: usize, to: usize, config: ClientConfig) -> ConnectionHandle {
        let remote = self.hosts[to].addr;
        let host = &mut self.hosts[from];
        let (handle, conn) = host
            .endpoint
            .connect(self.now, config, remote, "localhost")
            .expect("client config is valid");
        host.connections.insert(handle, *conn);
        handle
    }

    /// A connection of a host.
    pub fn conn(&mut self, host: usize, handle: ConnectionHandle) -> &mut Connection {
        self.hosts[host]
            .connections
            .get_mut(&handle)
            .expect("known connection")
    }

    /// Runs until `done` holds or `limit` of virtual time passes; returns
    /// whether `done` held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Simulation) -> bool,
    ) -> bool {
        let end = self.now + limit;
        loop {
            self.flush();
            if done(self) {
                return true;
            }
            // What the application did in `done` goes out now, as a real
            // runtime's write would wake the connection.
            self.flush();
            let next = self.next_event();
            match next {
                Some(at) if at <= end => self.now = self.now.max(at),
                _ => return false,
            }
            self.deliver();
            self.fire_timers();
        }
    }

    /// Sends every datagram every connection has ready.
    fn flush(&mut self) {
        let hook = self.proto_hook;
        for host in &mut self.hosts {
            for (handle, conn) in host.connections.iter_mut() {
                while let Some(t) = in_proto(hook, || conn.poll_transmit(self.now, &mut self.buf)) {
                    if std::env::var_os("SIM_TRACE").is_some() {
                        eprintln!(
                            "{:>10.3?} {} -> {} {} bytes, first byte {:#04x}",
                            self.now - self.network.start(),
                            host.addr,
                            t.destination,
                            t.size,
                            self.buf.first().copied().unwrap_or(0)
                        );
                    }
                    let data = pooled(&mut self.send_pool, &self.buf[..t.size]).freeze();
                    self.network
                        .send_ecn(self.now, host.addr, t.destination, data, t.ecn);
                }
                in_proto(hook, || {
                    while let Some(event) = conn.poll_endpoint_event() {
                        if let Some(answer) = host.endpoint.handle_event(*handle, event) {
                            conn.handle_event(answer);
                        }
                    }
                });
            }
        }
    }

    fn next_event(&mut self) -> Option<Instant> {
        let hook = self.proto_hook;
        let mut next = self.network.next_arrival();
        for host in &mut self.hosts {
            for conn in host.connections.values_mut() {
                if let Some(at) = in_proto(hook, || conn.poll_timeout()) {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        next
    }

    fn deliver(&mut self) {
        let hook = self.proto_hook;
        while let Some(datagram) = self.network.pop_due(self.now) {
            let Some(host) = self.hosts.iter_mut().find(|h| h.addr == datagram.to) else {
                continue;
            };
            let mut response = Vec::new();
            let data = pooled(&mut self.recv_pool, &datagram.data);
            let event = in_proto(hook, || {
                host.endpoint.handle_datagram(
                    self.now,
                    datagram.from,
                    datagram.ecn,
                    data,
                    &mut response,
                )
            });
            match event {
                Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                    if let Some(conn) = host.connections.get_mut(&handle) {
                        in_proto(hook, || conn.handle_event(event));
                    }
                }
                Some(DatagramEvent::NewConnection(handle, conn)) => {
                    host.connections.insert(handle, *conn);
                    host.accepted.push(handle);
                }
                Some(DatagramEvent::Response(t)) => {
                    self.network.send(
                        self.now,
                        host.addr,
                        t.destination,
                        Bytes::copy_from_slice(&response[..t.size]),
                    );
                }
                None => {}
            }
        }
    }

    fn fire_timers(&mut self) {
        let hook = self.proto_hook;
        for host in &mut self.hosts {
            for conn in host.connections.values_mut() {
                if in_proto(hook, || conn.poll_timeout()).is_some_and(|at| at <= self.now) {
                    in_proto(hook, || conn.handle_timeout(self.now));
                }
            }
        }
    }

    /// Drains a connection's events into a vector.
    pub fn events(&mut self, host: usize, handle: ConnectionHandle) -> Vec<Event> {
        let conn = self.conn(host, handle);
        let mut out = Vec::new();
        while let Some(e) = conn.poll() {
            out.push(e);
        }
        out
    }
}

/// A copy of `datagram` split off `pool`, which grows by a chunk at a time.
fn pooled(pool: &mut BytesMut, datagram: &[u8]) -> BytesMut {
    if pool.capacity() < datagram.len() {
        pool.reserve(POOL_CHUNK.max(datagram.len()));
    }
    pool.extend_from_slice(datagram);
    pool.split()
}

/// Runs `f`, a call into kite-proto, between the hook's two calls.
fn in_proto<R>(hook: Option<fn(bool)>, f: impl FnOnce() -> R) -> R {
    if let Some(hook) = hook {
        hook(true);
    }
    let result = f();
    if let Some(hook) = hook {
        hook(false);
    }
    result
}

impl Host {
    fn new(addr: SocketAddr, endpoint: Endpoint) -> Host {
        Host {
            addr,
            endpoint,
            connections: BTreeMap::new(),
            accepted: Vec::new(),
        }
    }
}
