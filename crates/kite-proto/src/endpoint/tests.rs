//! Endpoint behaviour on datagrams that create no connection: Version
//! Negotiation (RFC 9000 §6), the Initial size floor (§14.1), drops.

use super::*;
use crate::packet::{LongHeader, LongType, PacketNumber, PnLen, VersionNegotiation};
use std::sync::Arc;

fn addr() -> SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}

fn server_config() -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // A server without a certificate never gets far, but the endpoint paths
    // tested here never reach TLS.
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new()));
    Arc::new(ServerConfig {
        tls: Arc::new(tls),
        transport: Arc::new(crate::config::TransportConfig::default()),
    })
}

fn client_config() -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"test".to_vec()];
    ClientConfig::new(Arc::new(tls))
}

/// A long-header datagram of `version`, padded to `len` bytes.
fn long_datagram(version: Version, len: usize) -> BytesMut {
    let mut buf = Vec::new();
    LongHeader {
        ty: LongType::Initial,
        version: Version::V1,
        dcid: ConnectionId::new(&[7; 8]).unwrap(),
        scid: ConnectionId::new(&[9; 4]).unwrap(),
        token: &[],
    }
    .write(&mut buf, PacketNumber(0), PnLen::new(1).unwrap())
    .unwrap();
    buf[1..5].copy_from_slice(&version.0.to_be_bytes());
    buf.resize(len, 0);
    BytesMut::from(&buf[..])
}

#[test]
fn unknown_version_of_1200_bytes_gets_version_negotiation_with_a_greased_version() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        long_datagram(Version(0x1a2a_3a4a), 1200),
        &mut out,
    );
    let Some(DatagramEvent::Response(t)) = event else {
        panic!("no Version Negotiation: {event:?}");
    };
    let vn = VersionNegotiation::parse(&out[..t.size]).unwrap();
    let versions: Vec<Version> = vn.versions().collect();
    assert!(versions.contains(&Version::V1) && versions.contains(&Version::V2));
    assert!(versions.iter().any(|v| v.is_reserved()), "{versions:?}");
    // RFC 9000 §17.2.1: the client's SCID comes back as the DCID.
    let invariant = InvariantHeader::parse(&out[..t.size], 0).unwrap();
    assert_eq!(invariant.dcid(), &[9; 4]);
    assert_eq!(invariant.scid(), Some(&[7u8; 8][..]));
}

#[test]
fn unknown_version_under_1200_bytes_is_dropped() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        long_datagram(Version(0x1a2a_3a4a), 1199),
        &mut out,
    );
    assert!(event.is_none());
}

#[test]
fn version_negotiation_can_be_turned_off() {
    let config = EndpointConfig {
        send_version_negotiation: false,
        ..EndpointConfig::default()
    };
    let mut endpoint = Endpoint::new(config, Some(server_config()));
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        long_datagram(Version(0x1a2a_3a4a), 1200),
        &mut out,
    );
    assert!(event.is_none());
}

#[test]
fn version_negotiation_packet_sent_to_a_server_is_dropped() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut buf = Vec::new();
    VersionNegotiation::write(&mut buf, 0x55, &[1; 8], &[2; 8], &[Version::V1]).unwrap();
    buf.resize(1200, 0);
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        BytesMut::from(&buf[..]),
        &mut out,
    );
    assert!(event.is_none());
}

#[test]
fn initial_in_a_datagram_under_1200_bytes_is_dropped() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        long_datagram(Version::V1, 1199),
        &mut out,
    );
    assert!(event.is_none());
    assert_eq!(endpoint.open_connections(), 0);
}

#[test]
fn short_header_for_an_unknown_connection_id_creates_nothing() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut out = Vec::new();
    let mut datagram = [0x40u8; 60];
    datagram[0] = 0x41;
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        BytesMut::from(&datagram[..]),
        &mut out,
    );
    assert!(!matches!(event, Some(DatagramEvent::NewConnection(..))));
    assert_eq!(endpoint.open_connections(), 0);
}

/// Feeds a Version Negotiation packet listing `versions` to a fresh client.
fn client_after_vn(versions: &[Version]) -> Connection {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), None);
    let now = Instant::now();
    let (_, mut conn) = endpoint
        .connect(now, client_config(), addr(), "localhost")
        .unwrap();
    let mut buf = Vec::new();
    let first = conn.poll_transmit(now, &mut buf).unwrap();
    let invariant = InvariantHeader::parse(&buf[..first.size], 8).unwrap();
    let (client_dcid, client_scid) = (
        invariant.dcid().to_vec(),
        invariant.scid().unwrap().to_vec(),
    );
    let mut vn = Vec::new();
    VersionNegotiation::write(&mut vn, 0x33, &client_scid, &client_dcid, versions).unwrap();
    let mut out = Vec::new();
    match endpoint.handle_datagram(now, addr(), None, BytesMut::from(&vn[..]), &mut out) {
        Some(DatagramEvent::ConnectionEvent(_, event)) => conn.handle_event(event),
        other => panic!("VN not routed to the client: {other:?}"),
    }
    *conn
}

#[test]
fn client_gives_up_on_version_negotiation_without_its_version() {
    let mut conn = client_after_vn(&[Version(0x1a2a_3a4a)]);
    assert_eq!(conn.error(), Some(&crate::ConnectionError::VersionMismatch));
    assert!(conn.is_drained());
    assert!(matches!(
        conn.poll(),
        Some(crate::Event::ConnectionLost(
            crate::ConnectionError::VersionMismatch
        ))
    ));
}

#[test]
fn client_ignores_version_negotiation_listing_its_own_version() {
    // RFC 9000 §6.2: such a packet must be ignored.
    let conn = client_after_vn(&[Version::V1, Version(0x1a2a_3a4a)]);
    assert!(conn.error().is_none());
    assert!(!conn.is_closed());
}

/// A 0-RTT datagram (not decryptable, which the queue does not care about)
/// for destination CID `dcid`.
fn zero_rtt_datagram(dcid: u8) -> BytesMut {
    let mut buf = Vec::new();
    LongHeader {
        ty: LongType::ZeroRtt,
        version: Version::V1,
        dcid: ConnectionId::new(&[dcid; 8]).unwrap(),
        scid: ConnectionId::new(&[9; 4]).unwrap(),
        token: &[],
    }
    .write(&mut buf, PacketNumber(0), PnLen::new(1).unwrap())
    .unwrap();
    buf.resize(200, 0);
    let payload_len = buf.len() - 1 - 4 - 1 - 8 - 1 - 4 - 2 - 1;
    let layout_len = (0x4000 | (payload_len + 1) as u16).to_be_bytes();
    buf[19..21].copy_from_slice(&layout_len);
    BytesMut::from(&buf[..])
}

fn server_allowing_0rtt() -> Endpoint {
    let mut config = (*server_config()).clone();
    config.transport = Arc::new(crate::config::TransportConfig {
        allow_0rtt: true,
        ..Default::default()
    });
    Endpoint::new(EndpointConfig::default(), Some(Arc::new(config)))
}

#[test]
fn zero_rtt_before_its_initial_waits_in_a_bounded_queue() {
    let mut endpoint = server_allowing_0rtt();
    let now = Instant::now();
    let mut out = Vec::new();
    for _ in 0..40 {
        let event = endpoint.handle_datagram(now, addr(), None, zero_rtt_datagram(1), &mut out);
        assert!(event.is_none());
    }
    let queue = endpoint
        .early_queues
        .get(&ConnectionId::new(&[1; 8]).unwrap())
        .unwrap();
    assert_eq!(queue.datagrams.len(), MAX_EARLY_DATAGRAMS);
    for dcid in 2..=40 {
        endpoint.handle_datagram(now, addr(), None, zero_rtt_datagram(dcid), &mut out);
    }
    assert_eq!(endpoint.early_queues.len(), MAX_EARLY_QUEUES);
    // After 100 ms the queues are gone.
    let later = now + EARLY_QUEUE_LIFETIME;
    endpoint.handle_datagram(later, addr(), None, zero_rtt_datagram(99), &mut out);
    assert_eq!(endpoint.early_queues.len(), 1);
}

#[test]
fn zero_rtt_for_a_server_without_0rtt_is_not_queued() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut out = Vec::new();
    endpoint.handle_datagram(Instant::now(), addr(), None, zero_rtt_datagram(1), &mut out);
    assert!(endpoint.early_queues.is_empty());
}

/// A client Initial of 1200 bytes carrying `token`, protected with the
/// Initial keys of its DCID, with a PING (enough for the endpoint, which
/// looks at the token before creating anything).
fn initial_with_token(token: &[u8]) -> BytesMut {
    initial_to(&[7; 8], token)
}

/// [`initial_with_token`] to destination CID `dcid`.
fn initial_to(dcid: &[u8], token: &[u8]) -> BytesMut {
    use crate::crypto::{Keys, TAG_LEN, apply_header_protection, seal_payload};
    let dcid = ConnectionId::new(dcid).unwrap();
    let keys = Keys::initial(Version::V1, &dcid, crate::Side::Client).unwrap();
    let mut buf = Vec::new();
    let layout = LongHeader {
        ty: LongType::Initial,
        version: Version::V1,
        dcid,
        scid: ConnectionId::new(&[9; 4]).unwrap(),
        token,
    }
    .write(&mut buf, PacketNumber(0), PnLen::new(4).unwrap())
    .unwrap();
    buf.push(0x01); // PING
    buf.resize(1200 - TAG_LEN, 0);
    let payload_len = buf.len() - layout.header_len() + TAG_LEN;
    layout.set_length(&mut buf, payload_len).unwrap();
    buf.resize(1200, 0);
    seal_payload(&keys.local.packet, 0, &mut buf, layout.header_len()).unwrap();
    apply_header_protection(&keys.local.header, &mut buf, layout.pn_offset, 4).unwrap();
    BytesMut::from(&buf[..])
}

/// Opens the server's stateless Initial answer and returns its close code.
fn close_code_of(answer: &[u8]) -> Option<crate::TransportErrorCode> {
    use crate::crypto::{Keys, open_payload, remove_header_protection};
    use crate::frame::{Frame, Frames};
    let mut packet = answer.to_vec();
    let parsed = ParsedHeader::parse(&packet, 4).ok()?;
    let pn_offset = parsed.header.pn_offset()?;
    let keys = Keys::initial(Version::V1, &[7; 8], crate::Side::Client).ok()?;
    let (_, pn_len) = remove_header_protection(&keys.remote.header, &mut packet, pn_offset).ok()?;
    let range = open_payload(&keys.remote.packet, 0, &mut packet, pn_offset + pn_len).ok()?;
    let payload = Bytes::copy_from_slice(&packet[range]);
    Frames::new(payload, PacketType::Initial).find_map(|f| match f {
        Ok(Frame::ConnectionClose(c)) => Some(c.error_code),
        _ => None,
    })
}

#[test]
fn forged_retry_token_is_answered_with_invalid_token() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut token = vec![b'R'];
    token.extend_from_slice(&[0x55; 60]);
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        initial_with_token(&token),
        &mut out,
    );
    let Some(DatagramEvent::Response(t)) = event else {
        panic!("no answer: {event:?}");
    };
    assert_eq!(
        close_code_of(&out[..t.size]),
        Some(crate::TransportErrorCode::INVALID_TOKEN)
    );
    assert_eq!(endpoint.open_connections(), 0);
}

#[test]
fn retry_token_from_another_address_is_invalid_token() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let now = Instant::now();
    let other: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    let issued = endpoint.unix_secs(now);
    let token = crate::crypto::seal_retry_token(
        &endpoint.config.token_key,
        other,
        &ConnectionId::new(&[1; 8]).unwrap(),
        &ConnectionId::new(&[7; 8]).unwrap(),
        issued,
    )
    .unwrap();
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(now, addr(), None, initial_with_token(&token), &mut out);
    let Some(DatagramEvent::Response(t)) = event else {
        panic!("no answer: {event:?}");
    };
    assert_eq!(
        close_code_of(&out[..t.size]),
        Some(crate::TransportErrorCode::INVALID_TOKEN)
    );
}

#[test]
fn unknown_new_token_is_ignored_not_refused() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let mut token = vec![b'N'];
    token.extend_from_slice(&[0x55; 40]);
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(
        Instant::now(),
        addr(),
        None,
        initial_with_token(&token),
        &mut out,
    );
    assert!(
        matches!(event, Some(DatagramEvent::NewConnection(..))),
        "{event:?}"
    );
}

#[test]
fn retry_starts_by_itself_once_16_handshakes_are_in_progress() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let now = Instant::now();
    let mut out = Vec::new();
    for i in 0..DEFAULT_RETRY_THRESHOLD {
        // Another client DCID each time, so each is a new handshake.
        let datagram = initial_to(&[i as u8; 8], &[]);
        let event = endpoint.handle_datagram(now, addr(), None, datagram, &mut out);
        assert!(
            matches!(event, Some(DatagramEvent::NewConnection(..))),
            "{i}: {event:?}"
        );
    }
    let datagram = initial_to(&[0xff; 8], &[]);
    let event = endpoint.handle_datagram(now, addr(), None, datagram, &mut out);
    let Some(DatagramEvent::Response(t)) = event else {
        panic!("expected a Retry: {event:?}");
    };
    assert!(matches!(
        ParsedHeader::parse(&out[..t.size], 8).unwrap().header,
        Header::Retry { .. }
    ));
}

#[test]
fn stateless_resets_are_smaller_than_their_trigger_and_rate_limited() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let now = Instant::now();
    let mut out = Vec::new();
    let mut sent = 0;
    for _ in 0..(MAX_STATELESS_RESETS_PER_SECOND + 10) {
        let mut datagram = [0x55u8; 60];
        datagram[0] = 0x41;
        if let Some(DatagramEvent::Response(t)) =
            endpoint.handle_datagram(now, addr(), None, BytesMut::from(&datagram[..]), &mut out)
        {
            assert!(t.size < 60 && t.size >= crate::cid::MIN_STATELESS_RESET_LEN);
            assert_eq!(out[0] & 0xc0, 0x40, "short header form with fixed bit");
            sent += 1;
        }
    }
    assert_eq!(sent, MAX_STATELESS_RESETS_PER_SECOND);
    // A trigger too small to answer with a smaller reset gets nothing.
    let mut tiny = [0x55u8; 21];
    tiny[0] = 0x41;
    let later = now + Duration::from_secs(2);
    let event = endpoint.handle_datagram(later, addr(), None, BytesMut::from(&tiny[..]), &mut out);
    assert!(event.is_none());
}

/// Counts the tracers it is asked for.
#[derive(Default)]
struct CountingFactory(std::sync::atomic::AtomicUsize);

impl crate::trace::TracerFactory for CountingFactory {
    fn new_connection(
        &self,
        _: crate::Side,
        _: &ConnectionId,
    ) -> Option<Box<dyn crate::trace::Tracer>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(Box::new(crate::trace::NoopTracer))
    }
}

#[test]
fn forged_initials_create_no_tracer_but_a_real_one_does() {
    let factory = Arc::new(CountingFactory::default());
    let config = EndpointConfig {
        tracer_factory: Some(factory.clone()),
        ..EndpointConfig::default()
    };
    let mut endpoint = Endpoint::new(config, Some(server_config()));
    let mut out = Vec::new();
    let now = Instant::now();
    for dcid in 0..20u8 {
        let mut forged = initial_to(&[dcid; 8], b"");
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let event = endpoint.handle_datagram(now, addr(), None, forged, &mut out);
        assert!(event.is_none());
    }
    assert_eq!(factory.0.load(std::sync::atomic::Ordering::Relaxed), 0);
    let event = endpoint.handle_datagram(now, addr(), None, initial_to(&[99; 8], b""), &mut out);
    assert!(matches!(event, Some(DatagramEvent::NewConnection(..))));
    assert_eq!(factory.0.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// An endpoint that defers new connections' first datagrams, and the
/// connection and pending events its Initial to `dcid` (forged: one bit
/// flipped) creates.
fn deferred_initial(
    endpoint: &mut Endpoint,
    dcid: u8,
    forged: bool,
) -> (ConnectionHandle, Box<Connection>, Vec<ConnectionEvent>) {
    let mut datagram = initial_to(&[dcid; 8], b"");
    if forged {
        let last = datagram.len() - 1;
        datagram[last] ^= 1;
    }
    let mut out = Vec::new();
    let event = endpoint.handle_datagram(Instant::now(), addr(), None, datagram, &mut out);
    let Some(DatagramEvent::NewConnection(handle, conn)) = event else {
        panic!("no deferred connection: {event:?}");
    };
    assert!(!conn.has_received_packets(), "first datagram already fed");
    let pending = endpoint.take_pending_events(handle);
    assert!(endpoint.take_pending_events(handle).is_empty());
    (handle, conn, pending)
}

#[test]
fn deferred_connection_gets_its_first_datagram_as_a_pending_event() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    endpoint.set_defer_first_datagram(true);
    let (_, mut conn, pending) = deferred_initial(&mut endpoint, 1, false);
    assert_eq!(pending.len(), 1);
    for event in pending {
        conn.handle_event(event);
    }
    assert!(conn.has_received_packets());
    assert_eq!(endpoint.open_connections(), 1);
    assert_eq!(endpoint.handshakes_in_progress(), 1);
}

#[test]
fn abandoned_deferred_connection_leaves_no_route_or_handshake() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    endpoint.set_defer_first_datagram(true);
    let (handle, mut conn, pending) = deferred_initial(&mut endpoint, 2, true);
    for event in pending {
        conn.handle_event(event);
    }
    assert!(!conn.has_received_packets());
    endpoint.abandon(handle);
    assert_eq!(endpoint.open_connections(), 0);
    assert_eq!(endpoint.handshakes_in_progress(), 0);
    assert_eq!(endpoint.routed_ids(), 0);
}

#[test]
fn a_connection_is_routed_by_its_peers_current_reset_token_only() {
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server_config()));
    let (conn, other) = (ConnectionHandle(1), ConnectionHandle(2));
    let token = |byte| crate::cid::ResetToken([byte; 16]);
    let tell = |endpoint: &mut Endpoint, handle, new| {
        let event = EndpointEvent(EndpointEventInner::PeerResetToken(new));
        endpoint.handle_event(handle, event);
    };
    tell(&mut endpoint, conn, Some(token(1)));
    tell(&mut endpoint, other, Some(token(9)));
    assert_eq!(endpoint.reset_tokens.get(&token(1)), Some(&conn));
    // The peer moved to another CID: its old token routes no more.
    tell(&mut endpoint, conn, Some(token(2)));
    assert_eq!(endpoint.reset_tokens.get(&token(1)), None);
    assert_eq!(endpoint.reset_tokens.get(&token(2)), Some(&conn));
    // Forgetting the connection unroutes its token, and no other's.
    endpoint.forget(conn);
    assert_eq!(endpoint.reset_tokens.get(&token(2)), None);
    assert_eq!(endpoint.reset_tokens.get(&token(9)), Some(&other));
    assert_eq!(endpoint.reset_tokens.len(), 1);
}
