//! The handshake (RFC 9001 §4, RFC 9000 §7): creating client and server
//! connections, feeding CRYPTO data to rustls and installing the keys it
//! yields, transport parameters and connection ID authentication (§7.3),
//! handshake completion and confirmation, and discarding old keys (§4.9).

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;

use super::spaces::PacketSpace;
use super::streams::{Streams, StreamsConfig};
use super::timer::{Timer, TimerTable};
use super::{
    ACTIVE_CID_LIMIT, Connection, ConnectionStats, EndpointEventInner, Event, KeyUpdateState,
    MIN_UDP_PAYLOAD, State,
};
use crate::VarInt;
use crate::cid::ConnectionId;
use crate::config::ClientHelloInfo;
use crate::config::{ClientConfig, ServerConfig, TransportConfig};
use crate::crypto::{ClientHelloScan, KeyChange, Keys, scan_client_hello, tls_version};
use crate::error::{TransportError, TransportErrorCode};
use crate::packet::SpaceId;
use crate::recovery::pacer::Pacer;
use crate::recovery::rtt::RttEstimator;
use crate::stream_id::Side;
use crate::trace::{ConnectionState, Initiator, KeyLevel, KeyTrigger, ParametersSet, TraceEvent};
use crate::transport_params::TransportParameters;
use crate::version::Version;

/// TLS alert `no_application_protocol` (RFC 7301 §3.2): sent when the peers
/// share no ALPN protocol (RFC 9001 §8.1 makes ALPN mandatory).
const ALERT_NO_APPLICATION_PROTOCOL: u8 = 120;

/// Why a connection could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The server name is not a valid DNS name or IP address.
    #[error("invalid server name {0:?}")]
    InvalidServerName(String),
    /// The version is not one kite speaks.
    #[error("unsupported QUIC version {0}")]
    UnsupportedVersion(Version),
    /// rustls refused the configuration (TLS 1.3 and a QUIC suite are needed).
    #[error("TLS configuration rejected: {0}")]
    Tls(String),
    /// The TLS configuration offers no ALPN protocol (RFC 9001 §8.1).
    #[error("no ALPN protocol configured")]
    NoAlpn,
}

/// Where a new connection comes from and goes to.
pub(crate) struct ConnectionIds {
    pub local: ConnectionId,
    pub remote: ConnectionId,
    /// Destination CID of the client's first Initial: derives Initial keys.
    pub original_dcid: ConnectionId,
    /// Server, after a Retry: the client's first DCID, from the token; then
    /// `original_dcid` is the Retry's SCID (RFC 9000 §7.3).
    pub retried_from: Option<ConnectionId>,
    /// Server: the stateless reset token of `local` (RFC 9000 §18.2).
    pub reset_token: Option<crate::cid::ResetToken>,
}

impl Connection {
    /// A client connection to `remote`; its first flight is ready to poll.
    pub(crate) fn new_client(
        now: Instant,
        config: &ClientConfig,
        remote: SocketAddr,
        server_name: &str,
        ids: ConnectionIds,
    ) -> Result<Connection, ConnectError> {
        if config.tls.alpn_protocols.is_empty() {
            return Err(ConnectError::NoAlpn);
        }
        let version = *config.transport.versions.first().unwrap_or(&Version::V1);
        let tls_ver = tls_version(version).ok_or(ConnectError::UnsupportedVersion(version))?;
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| ConnectError::InvalidServerName(server_name.to_owned()))?;
        let local_params = local_transport_params(&config.transport, Side::Client, &ids);
        let tls = rustls::quic::ClientConnection::new(
            config.tls.clone(),
            tls_ver,
            name,
            encode_params(&local_params),
        )
        .map_err(|e| ConnectError::Tls(e.to_string()))?;
        let mut conn = Connection::new(
            now,
            Side::Client,
            version,
            config.transport.clone(),
            remote,
            ids,
            local_params,
            tls.into(),
        )?;
        conn.address_validated = true; // a client trusts the address it dialled
        if let Some(store) = &config.token_store {
            // RFC 9000 §8.1.3: a NEW_TOKEN token from an earlier connection.
            if let Some(token) = store.take(server_name) {
                conn.initial_token = token;
            }
            conn.token_store = Some((server_name.to_owned(), store.clone()));
        }
        conn.process_tls_output(now);
        // A ticket that allows early data: 0-RTT from the first flight on.
        // Bad remembered parameters only cost the 0-RTT attempt.
        if conn.maybe_start_0rtt().is_err() {
            conn.zero_rtt = Default::default();
        }
        Ok(conn)
    }

    /// A server connection for a client's first Initial.
    pub(crate) fn new_server(
        now: Instant,
        config: &ServerConfig,
        version: Version,
        remote: SocketAddr,
        ids: ConnectionIds,
        address_validated: bool,
    ) -> Result<Connection, ConnectError> {
        let tls_ver = tls_version(version).ok_or(ConnectError::UnsupportedVersion(version))?;
        let local_params = local_transport_params(&config.transport, Side::Server, &ids);
        let mut tls = rustls::quic::ServerConnection::new(
            config.tls.clone(),
            tls_ver,
            encode_params(&local_params),
        )
        .map_err(|e| ConnectError::Tls(e.to_string()))?;
        if !config.transport.allow_0rtt {
            tls.reject_early_data();
        }
        let mut conn = Connection::new(
            now,
            Side::Server,
            version,
            config.transport.clone(),
            remote,
            ids,
            local_params,
            tls.into(),
        )?;
        conn.address_validated = address_validated;
        conn.awaiting_client_hello = config.transport.get_config_for_client.is_some();
        Ok(conn)
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        now: Instant,
        side: Side,
        version: Version,
        config: Arc<TransportConfig>,
        remote: SocketAddr,
        ids: ConnectionIds,
        local_params: TransportParameters,
        tls: rustls::quic::Connection,
    ) -> Result<Connection, ConnectError> {
        let initial_keys = Keys::initial(version, &ids.original_dcid, side)
            .map_err(|_| ConnectError::UnsupportedVersion(version))?;
        let ack_config = crate::recovery::ack_tracker::AckConfig {
            max_ack_delay: local_params.max_ack_delay,
            ..Default::default()
        };
        let mut spaces = SpaceId::ALL.map(|id| PacketSpace::new(id, ack_config));
        spaces[SpaceId::Initial as usize].keys = Some(initial_keys);
        let streams_config = streams_config(&config);
        let max_datagram_size = MIN_UDP_PAYLOAD;
        let mut conn = Connection {
            side,
            version,
            state: State::Handshake,
            tls,
            spaces,
            one_rtt: None,
            zero_rtt: Default::default(),
            current_packet_early: false,
            key_update: KeyUpdateState::default(),
            tls_write_space: SpaceId::Initial,
            handshake_complete: false,
            handshake_confirmed: false,
            peer_params: None,
            local_params,
            local_cid: ids.local,
            original_dcid: ids.original_dcid,
            retry_scid: None,
            local_cids: super::cids::LocalCids::new(ids.local),
            initial_token: Bytes::new(),
            token_store: None,
            remote_cids: super::remote_cids::RemoteCids::new(ids.remote),
            pending_controls: Default::default(),
            remote,
            address_validated: false,
            peer_validated_address: side == Side::Server,
            amplification_received: 0,
            amplification_sent: 0,
            max_datagram_size,
            rtt: RttEstimator::new(config.initial_rtt),
            cc: config.congestion_control.build(max_datagram_size as u64),
            pacer: Pacer::new(),
            pto_count: 0,
            flight_repeats: 0,
            loss_timer: None,
            streams: Streams::new(side, streams_config),
            timers: TimerTable::default(),
            idle_timeout: None,
            sent_ack_eliciting_since_receive: false,
            handshake_done_pending: false,
            ping_pending: false,
            path_responses: Default::default(),
            events: Default::default(),
            endpoint_events: Default::default(),
            stats: ConnectionStats::default(),
            error: None,
            scratch: Vec::new(),
            tracer: None,
            deferred_tracer: None,
            awaiting_client_hello: false,
            queued_datagrams: 0,
            ecn: Default::default(),
            marking: false,
            mtu: None,
            traced_state: None,
            traced_metrics: Default::default(),
            config,
        };
        // The whole handshake may take twice the handshake idle timeout, as
        // in quic-go; the idle timer separately ends a silent handshake.
        conn.timers.set(
            Timer::Handshake,
            now + conn.config.handshake_idle_timeout * 2,
        );
        conn.reset_idle_timer(now);
        Ok(conn)
    }

    /// Feeds received CRYPTO bytes of `space` to TLS and acts on the result.
    pub(super) fn on_crypto_data(
        &mut self,
        now: Instant,
        space: SpaceId,
    ) -> Result<(), TransportError> {
        if self.awaiting_client_hello && !self.choose_config_for_client()? {
            return Ok(()); // the ClientHello is not complete yet
        }
        while let Some(chunk) = self.space_mut(space).crypto.read() {
            if let Err(e) = self.tls.read_hs(&chunk) {
                let code = match self.tls.alert() {
                    Some(alert) => TransportErrorCode::crypto(u8::from(alert)),
                    None => TransportErrorCode::PROTOCOL_VIOLATION,
                };
                let _ = e;
                return Err(TransportError::new(code, "TLS handshake failed"));
            }
        }
        self.process_tls_output(now);
        self.maybe_accept_0rtt();
        // A resuming client's rustls reports the parameters remembered with
        // the session ticket until it has read EncryptedExtensions. CRYPTO
        // bytes in the Handshake space do not prove that (they may be a
        // later part, arriving first); 1-RTT keys do, as they come with the
        // server's Finished, which follows EncryptedExtensions.
        let fresh = self.side == Side::Server || self.one_rtt.is_some();
        if self.peer_params.is_none()
            && fresh
            && let Some(raw) = self.tls.quic_transport_parameters()
        {
            let params = TransportParameters::decode(raw, self.side.peer())?;
            if self.is_tracing() {
                self.trace(
                    now,
                    TraceEvent::ParametersSet(ParametersSet {
                        initiator: Initiator::Remote,
                        params: &params,
                    }),
                );
            }
            self.on_peer_params(params)?;
        }
        if !self.handshake_complete && !self.tls.is_handshaking() {
            self.on_handshake_complete(now)?;
        }
        Ok(())
    }

    /// Server with `get_config_for_client`: once the ClientHello is whole,
    /// asks for this client's config and starts TLS with it. Returns
    /// whether TLS may read; refusing closes with CONNECTION_REFUSED.
    fn choose_config_for_client(&mut self) -> Result<bool, TransportError> {
        let hello = self.space(SpaceId::Initial).crypto.peek_contiguous();
        let (server_name, alpn_protocols) = match scan_client_hello(&hello) {
            ClientHelloScan::Incomplete => return Ok(false),
            // Not ours to judge: rustls rejects it with the right alert.
            ClientHelloScan::Malformed => (None, Vec::new()),
            ClientHelloScan::Complete {
                server_name,
                alpn_protocols,
            } => (server_name, alpn_protocols),
        };
        self.awaiting_client_hello = false;
        let Some(hook) = self.config.get_config_for_client.clone() else {
            return Ok(true);
        };
        let info = ClientHelloInfo {
            remote: self.remote,
            server_name,
            alpn_protocols,
        };
        let Some(chosen) = hook(&info) else {
            return Err(TransportError::new(
                TransportErrorCode::CONNECTION_REFUSED,
                "refused by get_config_for_client",
            ));
        };
        self.reconfigure(&chosen)?;
        Ok(true)
    }

    /// Starts over with `config` before anything was sent: TLS, transport
    /// parameters (keeping the connection IDs already chosen), streams and
    /// congestion control.
    fn reconfigure(&mut self, config: &ServerConfig) -> Result<(), TransportError> {
        let mut params = local_transport_params(
            &config.transport,
            Side::Server,
            &ConnectionIds {
                local: self.local_cid,
                remote: self.remote_cids.active(),
                original_dcid: self.original_dcid,
                retried_from: None,
                reset_token: self.local_params.stateless_reset_token,
            },
        );
        params.original_destination_connection_id =
            self.local_params.original_destination_connection_id;
        params.retry_source_connection_id = self.local_params.retry_source_connection_id;
        let tls_ver = tls_version(self.version).ok_or(TransportError::new(
            TransportErrorCode::INTERNAL_ERROR,
            "version without TLS mapping",
        ))?;
        let mut tls = rustls::quic::ServerConnection::new(
            config.tls.clone(),
            tls_ver,
            encode_params(&params),
        )
        .map_err(|_| {
            TransportError::new(
                TransportErrorCode::INTERNAL_ERROR,
                "chosen TLS config rejected",
            )
        })?;
        if !config.transport.allow_0rtt {
            tls.reject_early_data();
        }
        self.tls = tls.into();
        self.local_params = params;
        self.config = config.transport.clone();
        self.streams = Streams::new(Side::Server, streams_config(&self.config));
        self.cc = self
            .config
            .congestion_control
            .build(self.max_datagram_size as u64);
        self.rtt = RttEstimator::new(self.config.initial_rtt);
        Ok(())
    }

    /// Moves TLS output into CRYPTO streams and installs new keys.
    pub(super) fn process_tls_output(&mut self, now: Instant) {
        loop {
            let mut buf = Vec::new();
            let change = self.tls.write_hs(&mut buf);
            if !buf.is_empty() {
                let space = self.tls_write_space;
                self.space_mut(space).crypto.write(&buf);
            }
            match change.map(KeyChange::from) {
                None => break,
                Some(KeyChange::Handshake(keys)) => {
                    self.space_mut(SpaceId::Handshake).keys = Some(keys);
                    self.tls_write_space = SpaceId::Handshake;
                    self.trace_keys(now, KeyLevel::Handshake, KeyTrigger::Tls, false);
                }
                Some(KeyChange::OneRtt(keys)) => {
                    self.one_rtt = Some(keys);
                    self.tls_write_space = SpaceId::Data;
                    self.trace_keys(now, KeyLevel::OneRtt, KeyTrigger::Tls, false);
                }
            }
        }
    }

    /// Validates and applies the peer's transport parameters (RFC 9000 §7.4).
    fn on_peer_params(&mut self, params: TransportParameters) -> Result<(), TransportError> {
        // RFC 9000 §7.3: authenticate the connection IDs of the handshake.
        if params.initial_source_connection_id != Some(self.remote_cids.active()) {
            return Err(TransportError::transport_parameter(
                "initial_source_connection_id does not match",
            ));
        }
        if self.side.is_client() {
            if params.original_destination_connection_id != Some(self.original_dcid) {
                return Err(TransportError::transport_parameter(
                    "original_destination_connection_id does not match",
                ));
            }
            if params.retry_source_connection_id != self.retry_scid {
                return Err(TransportError::transport_parameter(
                    "retry_source_connection_id does not match the Retry",
                ));
            }
        }
        self.streams
            .handle_peer_params(&super::zero_rtt::stream_params(&params))?;
        // RFC 9000 §10.1: the effective idle timeout is the smaller non-zero one.
        let ours = self.config.max_idle_timeout;
        let theirs = params.max_idle_timeout;
        self.idle_timeout = match (ours.is_zero(), theirs.is_zero()) {
            (true, true) => None,
            (false, true) => Some(ours),
            (true, false) => Some(theirs),
            (false, false) => Some(ours.min(theirs)),
        };
        if let Some(token) = params.stateless_reset_token
            && self.remote_cids.set_handshake_reset_token(token)
        {
            self.endpoint_events
                .push_back(EndpointEventInner::PeerResetToken(Some(token)));
        }
        let peer_max =
            usize::try_from(params.max_udp_payload_size.into_inner()).unwrap_or(usize::MAX);
        self.max_datagram_size = self.max_datagram_size.min(peer_max.max(MIN_UDP_PAYLOAD));
        self.peer_params = Some(params);
        Ok(())
    }

    fn on_handshake_complete(&mut self, now: Instant) -> Result<(), TransportError> {
        if self.tls.alpn_protocol().is_none() {
            return Err(TransportError::new(
                TransportErrorCode::crypto(ALERT_NO_APPLICATION_PROTOCOL),
                "no application protocol negotiated",
            ));
        }
        if self.peer_params.is_none() {
            return Err(TransportError::new(
                TransportErrorCode::TRANSPORT_PARAMETER_ERROR,
                "peer sent no transport parameters",
            ));
        }
        self.on_0rtt_outcome(now)?;
        self.handshake_complete = true;
        self.state = State::Established;
        self.timers.stop(Timer::Handshake);
        self.events.push_back(Event::Connected);
        self.trace_state(now, ConnectionState::HandshakeComplete);
        if self.side == Side::Server {
            // RFC 9001 §4.1.2: the server's handshake is confirmed when complete;
            // it tells the client with HANDSHAKE_DONE (RFC 9000 §19.20).
            self.handshake_done_pending = true;
            self.on_handshake_confirmed(now);
        }
        self.reset_idle_timer(now);
        Ok(())
    }

    /// RFC 9001 §4.9.2: Handshake keys go once the handshake is confirmed.
    pub(super) fn on_handshake_confirmed(&mut self, now: Instant) {
        if self.handshake_confirmed {
            return;
        }
        self.handshake_confirmed = true;
        self.peer_validated_address = true;
        self.trace_state(now, ConnectionState::HandshakeConfirmed);
        // RFC 9000 §14.3: path MTU discovery starts once the path is known.
        if let Some(ceiling) = self.config.mtu_discovery_ceiling {
            let peer_max = self
                .peer_params
                .as_ref()
                .map_or(u64::MAX, |p| p.max_udp_payload_size.into_inner());
            let ceiling =
                usize::try_from(u64::from(ceiling).min(peer_max)).unwrap_or(MIN_UDP_PAYLOAD);
            self.mtu = Some(super::mtu::MtuDiscovery::new(
                self.max_datagram_size,
                ceiling,
            ));
        }
        self.discard_space(now, SpaceId::Handshake);
        self.endpoint_events
            .push_back(EndpointEventInner::HandshakeConfirmed { now });
        self.maybe_request_ids();
    }

    /// Drops a space's keys and everything in flight in it (RFC 9001 §4.9,
    /// RFC 9002 §6.4).
    pub(super) fn discard_space(&mut self, now: Instant, id: SpaceId) {
        let space = self.space_mut(id);
        if space.discarded {
            return;
        }
        space.discarded = true;
        space.keys = None;
        space.probes_pending = 0;
        space.sent.discard(|_| {});
        self.pto_count = 0;
        self.trace_keys(now, super::observe::key_level_of(id), KeyTrigger::Tls, true);
        self.set_loss_detection_timer(now);
        self.update_ack_timer();
    }
}

/// Our transport parameters for a new connection.
fn local_transport_params(
    config: &TransportConfig,
    side: Side,
    ids: &ConnectionIds,
) -> TransportParameters {
    let mut params = TransportParameters {
        max_idle_timeout: config.max_idle_timeout,
        initial_max_data: VarInt::saturating(config.initial_connection_window),
        initial_max_stream_data_bidi_local: VarInt::saturating(config.initial_stream_window),
        initial_max_stream_data_bidi_remote: VarInt::saturating(config.initial_stream_window),
        initial_max_stream_data_uni: VarInt::saturating(config.initial_stream_window),
        initial_max_streams_bidi: VarInt::saturating(config.max_incoming_bidi_streams),
        initial_max_streams_uni: VarInt::saturating(config.max_incoming_uni_streams),
        active_connection_id_limit: VarInt::saturating(ACTIVE_CID_LIMIT),
        initial_source_connection_id: Some(ids.local),
        max_datagram_frame_size: config.max_datagram_frame_size.map(VarInt::saturating),
        ..TransportParameters::default()
    };
    if side == Side::Server {
        // RFC 9000 §7.3: after a Retry, the first DCID and the Retry's SCID.
        params.original_destination_connection_id =
            Some(ids.retried_from.unwrap_or(ids.original_dcid));
        params.retry_source_connection_id = ids.retried_from.map(|_| ids.original_dcid);
        params.stateless_reset_token = ids.reset_token;
    }
    params
}

/// The stream layer's settings from a transport config.
fn streams_config(config: &TransportConfig) -> StreamsConfig {
    StreamsConfig {
        max_incoming_bidi: config.max_incoming_bidi_streams,
        max_incoming_uni: config.max_incoming_uni_streams,
        stream_window: config.initial_stream_window,
        max_stream_window: config.max_stream_window,
        connection_window: config.initial_connection_window,
        max_connection_window: config.max_connection_window,
        send_buffer: config.send_buffer,
    }
}

fn encode_params(params: &TransportParameters) -> Vec<u8> {
    let mut out = Vec::with_capacity(params.encoded_len());
    params.encode(&mut out);
    out
}
