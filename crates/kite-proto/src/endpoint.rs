//! The endpoint: the seed's `Transport.handlePacket` and `baseServer` in
//! sans-I/O form. It routes datagrams to connections by destination
//! connection ID (RFC 9000 §5.2), creates server connections from Initial
//! packets of at least 1200 bytes (§14.1), answers unknown versions with
//! Version Negotiation (§6), and owns no connection: each lives wherever its
//! driver keeps it and talks back through [`EndpointEvent`]s.

use bytes::BytesMut;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::cid::ConnectionId;
use crate::config::{ClientConfig, ServerConfig};
use crate::connection::{
    Connection, ConnectionEvent, ConnectionEventInner, EcnCodepoint, EndpointEvent,
    EndpointEventInner, MIN_UDP_PAYLOAD, Transmit,
};
use crate::packet::{InvariantHeader, PacketType, ParsedHeader, VersionNegotiation};
use crate::version::Version;

pub use crate::connection::ConnectError;

/// Default length of the connection IDs kite issues: 8 bytes, enough entropy
/// that they cannot be guessed (RFC 9000 §5.1) and quic-go's default.
pub const DEFAULT_LOCAL_CID_LEN: usize = 8;

/// Default bound on server connections in handshake or waiting to be
/// accepted: quic-go's accept queue of 32.
pub const DEFAULT_MAX_INCOMING: usize = 32;

/// Endpoint-wide settings.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Length of the connection IDs we issue (1..=20).
    pub local_cid_len: usize,
    /// Largest UDP payload we accept.
    pub max_udp_payload_size: u16,
    /// Versions we accept from clients.
    pub supported_versions: Vec<Version>,
    /// Answer unknown versions with Version Negotiation.
    pub send_version_negotiation: bool,
    /// Server connections allowed in handshake or waiting to be accepted;
    /// past it, new Initials are refused with CONNECTION_REFUSED.
    pub max_incoming: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            local_cid_len: DEFAULT_LOCAL_CID_LEN,
            max_udp_payload_size: 1472,
            supported_versions: Version::SUPPORTED.to_vec(),
            send_version_negotiation: true,
            max_incoming: DEFAULT_MAX_INCOMING,
        }
    }
}

/// Names a connection within its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(pub usize);

/// What a datagram turned into.
#[derive(Debug)]
pub enum DatagramEvent {
    /// It belongs to an existing connection: hand the event to it.
    ConnectionEvent(ConnectionHandle, ConnectionEvent),
    /// A new incoming connection, already fed its first datagram.
    NewConnection(ConnectionHandle, Box<Connection>),
    /// A stateless answer written into the response buffer: send it.
    Response(Transmit),
}

/// Routes datagrams for every connection on one socket.
pub struct Endpoint {
    config: EndpointConfig,
    server: Option<Arc<ServerConfig>>,
    /// Our connection IDs and the client-chosen original DCIDs, by connection.
    routes: HashMap<ConnectionId, ConnectionHandle>,
    /// The IDs each connection is reachable by, to forget them together.
    ids_of: HashMap<ConnectionHandle, Vec<ConnectionId>>,
    /// Server connections still in their handshake.
    handshaking: std::collections::HashSet<ConnectionHandle>,
    /// Handshaken connections the application has not accepted yet, as the
    /// runtime last reported.
    accept_backlog: usize,
    /// The client's original DCID of each server connection still routed.
    original_dcid_of: HashMap<ConnectionHandle, ConnectionId>,
    next_handle: usize,
    rng: ring::rand::SystemRandom,
    /// Static key deriving stateless reset tokens from connection IDs
    /// (RFC 9000 §10.3.2: HMAC of the CID, so any instance can recompute it).
    reset_key: ring::hmac::Key,
}

impl Endpoint {
    /// An endpoint; with a server config it accepts connections.
    pub fn new(config: EndpointConfig, server: Option<Arc<ServerConfig>>) -> Self {
        Endpoint {
            config,
            server,
            routes: HashMap::new(),
            ids_of: HashMap::new(),
            original_dcid_of: HashMap::new(),
            handshaking: Default::default(),
            accept_backlog: 0,
            next_handle: 0,
            reset_key: random_hmac_key(&ring::rand::SystemRandom::new()),
            rng: ring::rand::SystemRandom::new(),
        }
    }

    /// Starts or stops accepting connections.
    pub fn set_server_config(&mut self, server: Option<Arc<ServerConfig>>) {
        self.server = server;
    }

    /// Starts a client connection to `remote`.
    pub fn connect(
        &mut self,
        now: Instant,
        config: ClientConfig,
        remote: SocketAddr,
        server_name: &str,
    ) -> Result<(ConnectionHandle, Box<Connection>), ConnectError> {
        let local = self.new_cid();
        // RFC 9000 §7.2: the first DCID is random, at least 8 bytes.
        let original_dcid = self.random_cid(8.max(self.config.local_cid_len));
        let handle = self.next_handle();
        let ids = crate::connection::ConnectionIds {
            local,
            remote: original_dcid,
            original_dcid,
            reset_token: None,
        };
        let conn = Connection::new_client(now, &config, remote, server_name, ids)?;
        self.route(handle, local);
        Ok((handle, Box::new(conn)))
    }

    /// Handles one received datagram.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
        response_buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let ecn = ecn.unwrap_or(EcnCodepoint::NotEct);
        let invariant = InvariantHeader::parse(&data, self.config.local_cid_len).ok()?;
        let dcid = ConnectionId::new(invariant.dcid()).ok();
        if let Some(handle) = dcid.and_then(|cid| self.routes.get(&cid)).copied() {
            return Some(DatagramEvent::ConnectionEvent(
                handle,
                ConnectionEvent(ConnectionEventInner::Datagram {
                    now,
                    remote,
                    ecn,
                    data,
                }),
            ));
        }
        let version = invariant.version()?; // short header, unknown CID: dropped for now
        if version == Version::NEGOTIATION {
            return None; // RFC 9000 §6.1: a server never answers a VN packet
        }
        if !self.config.supported_versions.contains(&version) {
            return self.version_negotiation(&invariant, data.len(), remote, response_buf);
        }
        let server = self.server.clone()?;
        // RFC 9000 §14.1: Initials in datagrams under 1200 bytes are dropped.
        if data.len() < MIN_UDP_PAYLOAD {
            return None;
        }
        let parsed = ParsedHeader::parse(&data, self.config.local_cid_len).ok()?;
        if parsed.header.packet_type() != PacketType::Initial {
            return None; // 0-RTT before its Initial: not queued yet
        }
        let crate::packet::Header::Long { header, .. } = parsed.header else {
            return None;
        };
        let original_dcid = header.dcid;
        // RFC 9000 §7.2: a client's first DCID is at least 8 bytes.
        if original_dcid.len() < 8 {
            return None;
        }
        // The seed's accept queue: refuse rather than queue without bound.
        if self.handshaking.len() + self.accept_backlog >= self.config.max_incoming {
            return self.refuse(version, &original_dcid, &header.scid, remote, response_buf);
        }
        let local = self.new_cid();
        let handle = self.next_handle();
        let ids = crate::connection::ConnectionIds {
            local,
            remote: header.scid,
            original_dcid,
            reset_token: Some(self.reset_token(&local)),
        };
        let mut conn = Connection::new_server(now, &server, version, remote, ids, false).ok()?;
        self.route(handle, local);
        self.route(handle, original_dcid);
        self.original_dcid_of.insert(handle, original_dcid);
        self.handshaking.insert(handle);
        conn.handle_event(ConnectionEvent(ConnectionEventInner::Datagram {
            now,
            remote,
            ecn,
            data,
        }));
        Some(DatagramEvent::NewConnection(handle, Box::new(conn)))
    }

    /// Takes an event a connection produced.
    pub fn handle_event(
        &mut self,
        handle: ConnectionHandle,
        event: EndpointEvent,
    ) -> Option<ConnectionEvent> {
        match event.0 {
            EndpointEventInner::Drained => {
                for cid in self.ids_of.remove(&handle).unwrap_or_default() {
                    self.routes.remove(&cid);
                }
                self.original_dcid_of.remove(&handle);
                self.handshaking.remove(&handle);
            }
            EndpointEventInner::HandshakeConfirmed => {
                self.handshaking.remove(&handle);
                // RFC 9000 §5.1: the client's chosen DCID routes here only
                // until the handshake is done.
                if let Some(odcid) = self.original_dcid_of.remove(&handle) {
                    self.unroute(handle, &odcid);
                }
            }
            EndpointEventInner::RetireId(cid) => self.unroute(handle, &cid),
            EndpointEventInner::NeedIds(count) => {
                let ids = (0..count.min(crate::connection::MAX_ISSUED_CIDS))
                    .map(|_| {
                        let cid = self.new_cid();
                        self.route(handle, cid);
                        (cid, self.reset_token(&cid))
                    })
                    .collect();
                return Some(ConnectionEvent(ConnectionEventInner::NewIds(ids)));
            }
        }
        None
    }

    /// Tells the endpoint how many handshaken connections wait for the
    /// application to accept them; with those in handshake they count
    /// against [`EndpointConfig::max_incoming`].
    pub fn set_accept_backlog(&mut self, waiting: usize) {
        self.accept_backlog = waiting;
    }

    /// Connection IDs the endpoint routes, over all connections.
    pub fn routed_ids(&self) -> usize {
        self.routes.len()
    }

    /// Connections the endpoint still routes to.
    pub fn open_connections(&self) -> usize {
        self.ids_of.len()
    }

    fn version_negotiation(
        &mut self,
        invariant: &InvariantHeader<'_>,
        datagram_len: usize,
        remote: SocketAddr,
        buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        // RFC 9000 §6.1: answer only datagrams a client could send first, so
        // a small packet cannot make us send a larger one.
        if !self.config.send_version_negotiation || datagram_len < MIN_UDP_PAYLOAD {
            return None;
        }
        let mut random = [0u8; 5];
        ring::rand::SecureRandom::fill(&self.rng, &mut random).ok()?;
        let mut versions = self.config.supported_versions.clone();
        versions.push(Version::greased(u32::from_be_bytes([
            random[1], random[2], random[3], random[4],
        ])));
        buf.clear();
        // The DCID and SCID swap places (RFC 9000 §17.2.1).
        VersionNegotiation::write(
            buf,
            random[0],
            invariant.scid()?,
            invariant.dcid(),
            &versions,
        )
        .ok()?;
        Some(DatagramEvent::Response(Transmit {
            destination: remote,
            size: buf.len(),
            ecn: None,
        }))
    }

    /// Answers an Initial with an Initial carrying CONNECTION_CLOSE with
    /// CONNECTION_REFUSED (RFC 9000 §5.2.2), without creating state.
    fn refuse(
        &mut self,
        version: Version,
        original_dcid: &ConnectionId,
        client_scid: &ConnectionId,
        remote: SocketAddr,
        buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        use crate::crypto::{Keys, TAG_LEN, apply_header_protection, seal_payload};
        use crate::frame::{ConnectionClose, Frame};
        use crate::packet::{LongHeader, LongType, PacketNumber, PnLen};

        let keys = Keys::initial(version, original_dcid, crate::Side::Server).ok()?;
        let pn_len = PnLen::new(4)?;
        buf.clear();
        let layout = LongHeader {
            ty: LongType::Initial,
            version,
            dcid: *client_scid,
            scid: self.random_cid(self.config.local_cid_len),
            token: &[],
        }
        .write(buf, PacketNumber(0), pn_len)
        .ok()?;
        Frame::ConnectionClose(ConnectionClose {
            error_code: crate::error::TransportErrorCode::CONNECTION_REFUSED,
            frame_type: None,
            reason: bytes::Bytes::from_static(b"server busy"),
        })
        .encode(buf);
        let payload_len = buf.len() - layout.header_len() + TAG_LEN;
        layout.set_length(buf, payload_len).ok()?;
        buf.resize(buf.len() + TAG_LEN, 0);
        seal_payload(&keys.local.packet, 0, buf, layout.header_len()).ok()?;
        apply_header_protection(&keys.local.header, buf, layout.pn_offset, 4).ok()?;
        Some(DatagramEvent::Response(Transmit {
            destination: remote,
            size: buf.len(),
            ecn: None,
        }))
    }

    fn next_handle(&mut self) -> ConnectionHandle {
        let handle = ConnectionHandle(self.next_handle);
        self.next_handle += 1;
        handle
    }

    fn route(&mut self, handle: ConnectionHandle, cid: ConnectionId) {
        self.routes.insert(cid, handle);
        self.ids_of.entry(handle).or_default().push(cid);
    }

    fn unroute(&mut self, handle: ConnectionHandle, cid: &ConnectionId) {
        if self.routes.get(cid) == Some(&handle) {
            self.routes.remove(cid);
        }
        if let Some(ids) = self.ids_of.get_mut(&handle) {
            ids.retain(|c| c != cid);
        }
    }

    /// The stateless reset token of one of our connection IDs.
    pub(crate) fn reset_token(&self, cid: &ConnectionId) -> crate::cid::ResetToken {
        let tag = ring::hmac::sign(&self.reset_key, cid);
        let mut token = [0u8; crate::cid::RESET_TOKEN_LEN];
        token.copy_from_slice(&tag.as_ref()[..crate::cid::RESET_TOKEN_LEN]);
        crate::cid::ResetToken(token)
    }

    fn new_cid(&mut self) -> ConnectionId {
        loop {
            let cid = self.random_cid(self.config.local_cid_len);
            if !self.routes.contains_key(&cid) {
                return cid;
            }
        }
    }

    fn random_cid(&self, len: usize) -> ConnectionId {
        let mut bytes = [0u8; crate::cid::MAX_CID_LEN];
        let len = len.min(crate::cid::MAX_CID_LEN);
        // A failing system RNG leaves zeros; the route check still keeps IDs unique.
        let _ = ring::rand::SecureRandom::fill(&self.rng, &mut bytes[..len]);
        ConnectionId::new(&bytes[..len]).unwrap_or(ConnectionId::EMPTY)
    }
}

/// A fresh random HMAC-SHA256 key (a failing system RNG leaves a fixed key,
/// which only makes reset tokens predictable, never crashes).
fn random_hmac_key(rng: &ring::rand::SystemRandom) -> ring::hmac::Key {
    let mut bytes = [0u8; 32];
    let _ = ring::rand::SecureRandom::fill(rng, &mut bytes);
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes)
}

#[cfg(test)]
mod tests;
