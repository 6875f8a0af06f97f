//! The `endpoint` fuzz target: a server [`Endpoint`] (default Retry policy and
//! accept bound) fed datagrams from eight addresses on a virtual clock, every
//! connection it creates driven as a runtime would. Checks the anti-amplification
//! limit (RFC 9000 §8), that stateless resets are smaller than their trigger
//! (§10.3.3), the accept bound, and that every connection ends and is forgotten.

use bytes::BytesMut;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kite_proto::cid::{ConnectionIdGenerator, ResetKey};
use kite_proto::connection::MIN_UDP_PAYLOAD;
use kite_proto::crypto::{
    Keys, TAG_LEN, TokenKey, apply_header_protection, seal_new_token, seal_payload,
    seal_retry_token,
};
use kite_proto::endpoint::DEFAULT_MAX_INCOMING;
use kite_proto::packet::{LongHeader, LongType, PacketNumber, PnLen};
use kite_proto::{
    Connection, ConnectionHandle, ConnectionId, DatagramEvent, EcnCodepoint, Endpoint,
    EndpointConfig, Side, Transmit, Version,
};

use super::{Records, assert_no_internal_error, configs, wait};

/// Where records come from, by the control byte's low 3 bits: two ports of
/// one IPv4 host and that host as IPv4-mapped IPv6 (tokens bind the IP, Retry
/// tokens the port too), and other IPv4 and IPv6 hosts.
pub const SOURCES: [SocketAddr; 8] = [
    v4([192, 0, 2, 1], 50000),
    v4([192, 0, 2, 1], 50001),
    v6([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201], 50000),
    v4([198, 51, 100, 7], 443),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 50000),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2], 1),
    v4([203, 0, 113, 9], 65535),
    v4([10, 1, 2, 3], 4444),
];

const fn v4(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]),
        port,
    ))
}

const fn v6(s: [u16; 8], port: u16) -> SocketAddr {
    let ip = Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0))
}

/// Control byte bits 3–4: what the record's body is.
pub mod kind {
    /// The datagram itself.
    pub const RAW: u8 = 0;
    /// The fields of a v1 Initial the harness protects (see [`super::seal_initial`]).
    pub const INITIAL_V1: u8 = 1;
    /// The same, as QUIC v2 (RFC 9369).
    pub const INITIAL_V2: u8 = 2;
    /// The datagram itself, marked ECN-CE.
    pub const RAW_CE: u8 = 3;
}

/// Control byte layout: source in bits 0–2, kind in 3–4, wait in 5–7.
const SOURCE_MASK: u8 = 0b111;
const KIND_SHIFT: u32 = 3;
const WAIT_SHIFT: u32 = 5;

/// A control byte for [`endpoint`]: source index, [`kind`], wait index.
pub fn control(source: u8, kind: u8, wait: u8) -> u8 {
    (source & SOURCE_MASK) | ((kind & 0b11) << KIND_SHIFT) | ((wait & 0b111) << WAIT_SHIFT)
}

/// Sealed-Initial flags bits 0–1: where its token comes from.
pub mod token {
    /// The token bytes of the body (3 means the same).
    pub const FROM_INPUT: u8 = 0;
    /// A valid Retry token for this source, naming the packet's DCID as the
    /// Retry's SCID: the endpoint takes the address as validated.
    pub const VALID_RETRY: u8 = 1;
    /// A valid NEW_TOKEN token for this source's IP.
    pub const VALID_NEW_TOKEN: u8 = 2;
}

/// Sealed-Initial flags bit 4: do not pad the datagram to 1200 bytes.
pub const NO_PADDING: u8 = 0x10;

/// The wall clock the endpoint's tokens count from, in UNIX seconds.
const UNIX_START: u64 = 1_700_000_000;

/// After the last record, every connection must have ended within this much
/// virtual time: the handshake timeout (5 s), closing and draining.
const WIND_DOWN: Duration = Duration::from_secs(60);

/// Timer rounds in a row at one instant; more means time stands still: a
/// timer due now that serving does not clear (a busy loop in a runtime).
const MAX_STILL_ROUNDS: usize = 1_000;

/// Datagrams one connection may emit in one go; more means a
/// `poll_transmit` that never runs dry.
const MAX_TRANSMITS: usize = 10_000;

/// Feeds the datagrams `data` encodes (see [`Records`], [`control`]) to a
/// server endpoint and drives the connections it creates; then lets the
/// clock run until every connection has ended.
pub fn endpoint(data: &[u8]) {
    let mut harness = Harness::new();
    for (control, body) in Records::new(data) {
        harness.advance(wait(control, WAIT_SHIFT));
        let from = SOURCES[usize::from(control & SOURCE_MASK)];
        let (datagram, ecn, validated) = match (control >> KIND_SHIFT) & 0b11 {
            kind::RAW => (body.to_vec(), None, false),
            kind::RAW_CE => (body.to_vec(), Some(EcnCodepoint::Ce), false),
            kind => {
                let version = if kind == kind::INITIAL_V1 {
                    Version::V1
                } else {
                    Version::V2
                };
                let unix_now = harness.unix_now();
                match seal_initial(version, body, from, &harness.token_key, unix_now) {
                    Some((datagram, validated)) => (datagram, None, validated),
                    None => continue,
                }
            }
        };
        harness.receive(from, &datagram, ecn, validated);
        harness.drive();
        harness.check_bounds();
    }
    harness.wind_down();
}

/// Connection IDs 1, 2, 3... as 8 big-endian bytes: the same in every run,
/// so inputs can aim short headers at the server's connections.
#[derive(Debug, Default)]
pub struct CountingCids(AtomicU64);

impl ConnectionIdGenerator for CountingCids {
    fn generate(&self) -> ConnectionId {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        ConnectionId::new(&n.to_be_bytes()).expect("8 bytes fit a connection ID")
    }

    fn cid_len(&self) -> usize {
        8
    }
}

/// A server connection and what it sent.
struct Served {
    conn: Box<Connection>,
    /// UDP payload bytes it sent.
    sent: u64,
    /// Created from an Initial with a valid token: no amplification limit.
    validated: bool,
}

struct Harness {
    start: Instant,
    now: Instant,
    endpoint: Endpoint,
    token_key: Arc<TokenKey>,
    conns: BTreeMap<ConnectionHandle, Served>,
    buf: Vec<u8>,
}

impl Harness {
    fn new() -> Harness {
        let token_key = Arc::new(TokenKey::from_bytes(&[0x6b; 32]));
        let config = EndpointConfig {
            cid_generator: Arc::new(CountingCids::default()),
            reset_key: Arc::new(ResetKey::from_bytes(&[0x69; 32])),
            token_key: token_key.clone(),
            ..EndpointConfig::default()
        };
        let start = Instant::now();
        let mut endpoint = Endpoint::new(config, Some(Arc::new(configs().server.clone())));
        endpoint.set_wall_clock(start, UNIX_START);
        Harness {
            start,
            now: start,
            endpoint,
            token_key,
            conns: BTreeMap::new(),
            buf: Vec::with_capacity(usize::from(u16::MAX)),
        }
    }

    fn unix_now(&self) -> u64 {
        UNIX_START + (self.now - self.start).as_secs()
    }

    /// Lets `by` of virtual time pass, serving each timer when it is due.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        let mut still = 0;
        loop {
            let next = self
                .conns
                .values_mut()
                .filter_map(|s| s.conn.poll_timeout())
                .min();
            match next {
                Some(at) if at <= end => {
                    if at <= self.now {
                        still += 1;
                        let at = self.now - self.start;
                        assert!(still < MAX_STILL_ROUNDS, "time stands still at {at:?}");
                    } else {
                        still = 0;
                    }
                    self.now = self.now.max(at);
                    for served in self.conns.values_mut() {
                        if served.conn.poll_timeout().is_some_and(|at| at <= self.now) {
                            served.conn.handle_timeout(self.now);
                        }
                    }
                    self.drive();
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
    }

    /// Hands one datagram to the endpoint and its answer to whom it names.
    fn receive(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        ecn: Option<EcnCodepoint>,
        validated: bool,
    ) {
        let mut response = Vec::new();
        let data = BytesMut::from(datagram);
        match self
            .endpoint
            .handle_datagram(self.now, from, ecn, data, &mut response)
        {
            Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                let served = self
                    .conns
                    .get_mut(&handle)
                    .expect("the endpoint routes only to connections not yet drained");
                served.conn.handle_event(event);
            }
            Some(DatagramEvent::NewConnection(handle, conn)) => {
                let fresh = Served {
                    conn,
                    sent: 0,
                    validated,
                };
                assert!(self.conns.insert(handle, fresh).is_none(), "handle reused");
            }
            Some(DatagramEvent::Response(t)) => check_response(&t, &response, from, datagram.len()),
            None => {}
        }
    }

    /// What a runtime does after any input: every connection sends what it
    /// has, talks to the endpoint, and is forgotten once drained.
    fn drive(&mut self) {
        let mut drained = Vec::new();
        for (&handle, served) in self.conns.iter_mut() {
            let conn = &mut served.conn;
            let mut transmits = 0;
            while let Some(t) = conn.poll_transmit(self.now, &mut self.buf) {
                assert_eq!(t.destination, conn.remote_address());
                assert!(t.size <= self.buf.len(), "{t:?} past the buffer");
                served.sent += t.size as u64;
                transmits += 1;
                assert!(transmits < MAX_TRANSMITS, "poll_transmit never runs dry");
            }
            while let Some(event) = conn.poll_endpoint_event() {
                if event.is_drained() {
                    drained.push(handle);
                }
                if let Some(answer) = self.endpoint.handle_event(handle, event) {
                    conn.handle_event(answer);
                }
            }
            while conn.poll().is_some() {}
            assert_no_internal_error(conn);
            if !served.validated {
                // RFC 9000 §8: before the client's address is validated, a
                // server sends at most three times what it received.
                let received = conn.stats().bytes_received;
                assert!(
                    served.sent <= 3 * received,
                    "{handle:?} sent {} bytes on {received} received from an unvalidated address",
                    served.sent
                );
            }
        }
        for handle in drained {
            self.conns.remove(&handle);
        }
    }

    /// Bounds that hold after every record.
    fn check_bounds(&self) {
        // No handshake can complete here (the harness cannot make Handshake
        // packets), so every connection counts against the accept bound.
        assert!(self.conns.len() <= DEFAULT_MAX_INCOMING);
        assert!(self.endpoint.handshakes_in_progress() <= DEFAULT_MAX_INCOMING);
        assert!(self.endpoint.open_connections() <= DEFAULT_MAX_INCOMING);
    }

    /// Every connection must end by itself, and the endpoint forget it.
    fn wind_down(&mut self) {
        self.advance(WIND_DOWN);
        assert!(
            self.conns.is_empty(),
            "connections not drained {WIND_DOWN:?} after the last datagram: {:?}",
            self.conns.keys().collect::<Vec<_>>()
        );
        assert_eq!(self.endpoint.open_connections(), 0);
        assert_eq!(self.endpoint.routed_ids(), 0);
        assert_eq!(self.endpoint.handshakes_in_progress(), 0);
    }
}

/// Checks a stateless answer to a datagram of `received` bytes from `from`.
fn check_response(t: &Transmit, response: &[u8], from: SocketAddr, received: usize) {
    assert_eq!(t.destination, from, "a stateless answer goes to the sender");
    let answer = response.get(..t.size).expect("the answer is in the buffer");
    // RFC 9000 §8: no answer amplifies more than three times.
    assert!(t.size <= 3 * received, "{} bytes answer {received}", t.size);
    if answer.first().is_some_and(|first| first & 0x80 == 0) {
        // RFC 9000 §10.3.3: a stateless reset is smaller than its trigger,
        // so two endpoints cannot reset each other forever.
        assert!(t.size < received, "a {}-byte reset for {received}", t.size);
    }
}

/// Protects an Initial whose fields `body` gives, as a client would:
/// `[flags][pn][dcid len][dcid][scid len][scid][token len][token][frames]`,
/// fields cut short where the body ends. Flags: bits 0–1 pick the token
/// ([`token`]), bits 2–3 the packet number length minus one, [`NO_PADDING`].
/// Unless told not to, zeros (PADDING frames) fill the datagram to 1200 bytes.
/// Returns the datagram, and whether its token is one the server will accept.
pub fn seal_initial(
    version: Version,
    body: &[u8],
    from: SocketAddr,
    token_key: &TokenKey,
    unix_now: u64,
) -> Option<(Vec<u8>, bool)> {
    let mut cursor = Cursor(body);
    let flags = cursor.byte();
    let pn = u64::from(cursor.byte());
    let len = usize::from(cursor.byte()) % 21;
    let dcid = ConnectionId::new(cursor.take(len)).ok()?;
    let len = usize::from(cursor.byte()) % 21;
    let scid = ConnectionId::new(cursor.take(len)).ok()?;
    let len = usize::from(cursor.byte());
    let input_token = cursor.take(len);
    let frames = cursor.0;

    let original_dcid = ConnectionId::new(&[0x0d; 8]).ok()?;
    let (token, validated) = match flags & 0b11 {
        token::VALID_RETRY => (
            seal_retry_token(token_key, from, &original_dcid, &dcid, unix_now).ok()?,
            true,
        ),
        token::VALID_NEW_TOKEN => (seal_new_token(token_key, from.ip(), unix_now).ok()?, true),
        _ => (input_token.to_vec(), false),
    };
    let pn_len = PnLen::new(usize::from((flags >> 2) & 0b11) + 1)?;
    let header = LongHeader {
        ty: LongType::Initial,
        version,
        dcid,
        scid,
        token: &token,
    };
    let mut packet = Vec::with_capacity(MIN_UDP_PAYLOAD);
    let layout = header.write(&mut packet, PacketNumber(pn), pn_len).ok()?;
    packet.extend_from_slice(frames);
    // RFC 9001 §5.4.2: header protection samples 4 bytes past the packet
    // number start; short payloads get PADDING to reach the sample.
    let min_payload = 4usize.saturating_sub(pn_len.bytes());
    let mut payload_len = frames.len().max(min_payload);
    if flags & NO_PADDING == 0 {
        payload_len =
            payload_len.max(MIN_UDP_PAYLOAD.saturating_sub(layout.header_len() + TAG_LEN));
    }
    packet.resize(layout.header_len() + payload_len + TAG_LEN, 0);
    layout.set_length(&mut packet, payload_len + TAG_LEN).ok()?;
    let keys = Keys::initial(version, &dcid, Side::Client).ok()?;
    seal_payload(&keys.local.packet, pn, &mut packet, layout.header_len()).ok()?;
    apply_header_protection(
        &keys.local.header,
        &mut packet,
        layout.pn_offset,
        pn_len.bytes(),
    )
    .ok()?;
    Some((packet, validated))
}

/// Reads fields off the front of a body; missing bytes read as empty or 0.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (front, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        front
    }
}
