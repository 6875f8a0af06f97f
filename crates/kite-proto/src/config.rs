//! Connection and endpoint settings, split the way quic-go splits them:
//! [`TransportConfig`] belongs to a connection (windows, limits, timeouts,
//! congestion control); [`ServerConfig`] and [`ClientConfig`] pair it with
//! the TLS configuration for each role.

use std::sync::Arc;
use std::time::Duration;

use crate::recovery::cc::CongestionControl;
use crate::version::Version;

/// Default initial receive window of a stream: 512 KiB, as quic-go; auto-tuning
/// grows it toward [`DEFAULT_MAX_STREAM_WINDOW`].
pub const DEFAULT_INITIAL_STREAM_WINDOW: u64 = 512 * 1024;
/// Default ceiling of a stream's receive window: 6 MiB, as quic-go.
pub const DEFAULT_MAX_STREAM_WINDOW: u64 = 6 * 1024 * 1024;
/// Default initial connection receive window: 1.5x the stream window (quic-go).
pub const DEFAULT_INITIAL_CONNECTION_WINDOW: u64 = 768 * 1024;
/// Default ceiling of the connection receive window: 15 MiB, as quic-go.
pub const DEFAULT_MAX_CONNECTION_WINDOW: u64 = 15 * 1024 * 1024;
/// Default number of streams of each direction the peer may have open: 100,
/// as quic-go and quinn.
pub const DEFAULT_MAX_INCOMING_STREAMS: u64 = 100;
/// Default idle timeout: 30 s, as quic-go and quinn.
pub const DEFAULT_MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default handshake idle timeout: 10 s, as msquic (quic-go: 5 s; quinn
/// uses its 30 s idle timeout). Until the first reply there is no RTT
/// sample, so the PTO stays at 1 s (3 x the 333 ms initial RTT, RFC 9002
/// §6.2.2) and doubles: the first flight goes at 0, 1, 3 and 7 s, four times
/// (seven datagrams, probes going in pairs) before 10 s, against three
/// times within 5 s. At 30 % loss per direction that is what lets
/// handshakes survive (the interop runner's handshakeloss). The whole
/// handshake may take twice this.
pub const DEFAULT_HANDSHAKE_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a server knows of a client when its ClientHello is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHelloInfo {
    /// The client's address.
    pub remote: std::net::SocketAddr,
    /// The SNI server name, if the client sent one.
    pub server_name: Option<String>,
    /// The ALPN protocols offered, in the client's order.
    pub alpn_protocols: Vec<Vec<u8>>,
}

/// Picks a server's configuration per ClientHello, or refuses the client
/// (`None`: the connection closes with CONNECTION_REFUSED).
pub type GetConfigForClient = Arc<dyn Fn(&ClientHelloInfo) -> Option<ServerConfig> + Send + Sync>;

/// Per-connection transport settings.
#[derive(Clone)]
pub struct TransportConfig {
    /// Idle timeout we advertise (RFC 9000 §10.1); the effective one is the
    /// minimum of both sides' non-zero values.
    pub max_idle_timeout: Duration,
    /// How long the handshake may sit idle before it is abandoned; the
    /// whole handshake may last twice this (as in quic-go).
    pub handshake_idle_timeout: Duration,
    /// Send a PING after this much quiet, to keep the connection alive.
    pub keep_alive_period: Option<Duration>,
    /// Initial receive window of each stream.
    pub initial_stream_window: u64,
    /// Largest receive window a stream's auto-tuning may reach.
    pub max_stream_window: u64,
    /// Initial receive window of the connection.
    pub initial_connection_window: u64,
    /// Largest connection receive window auto-tuning may reach.
    pub max_connection_window: u64,
    /// Bidirectional streams the peer may have open at once.
    pub max_incoming_bidi_streams: u64,
    /// Unidirectional streams the peer may have open at once.
    pub max_incoming_uni_streams: u64,
    /// Bytes an application may queue on one stream before writes block.
    pub send_buffer: u64,
    /// RTT assumed before the first sample (RFC 9002 §6.2.2: 333 ms).
    pub initial_rtt: Duration,
    /// The congestion controller.
    pub congestion_control: CongestionControl,
    /// Accept DATAGRAM frames up to this size (RFC 9221); `None` disables them.
    pub max_datagram_frame_size: Option<u64>,
    /// Start a key update after this many packets under one key (RFC 9001 §6);
    /// the AEAD confidentiality limit applies regardless.
    pub key_update_interval: Option<u64>,
    /// QUIC versions, most preferred first.
    pub versions: Vec<Version>,
    /// Server: accept 0-RTT data from resuming clients (RFC 9001 §4.6).
    /// 0-RTT data can be replayed by an attacker: accept it only for
    /// requests that are safe to repeat. The TLS config must also allow
    /// early data (`max_early_data_size = u32::MAX`).
    pub allow_0rtt: bool,
    /// Path MTU discovery probes up to this UDP payload size (RFC 8899);
    /// `None` stays at 1200 bytes. The default, 1452, fits a 1500-byte
    /// Ethernet path over IPv6 with headroom (DESIGN.md).
    pub mtu_discovery_ceiling: Option<u16>,
    /// Server: called once per ClientHello with the client's address, SNI
    /// and ALPN list; returns the config for this connection or refuses it.
    pub get_config_for_client: Option<GetConfigForClient>,
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("max_idle_timeout", &self.max_idle_timeout)
            .field("handshake_idle_timeout", &self.handshake_idle_timeout)
            .field("keep_alive_period", &self.keep_alive_period)
            .field("initial_stream_window", &self.initial_stream_window)
            .field("max_stream_window", &self.max_stream_window)
            .field("initial_connection_window", &self.initial_connection_window)
            .field("max_connection_window", &self.max_connection_window)
            .field("max_incoming_bidi_streams", &self.max_incoming_bidi_streams)
            .field("max_incoming_uni_streams", &self.max_incoming_uni_streams)
            .field("congestion_control", &self.congestion_control)
            .field("versions", &self.versions)
            .field("allow_0rtt", &self.allow_0rtt)
            .field(
                "get_config_for_client",
                &self.get_config_for_client.is_some(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            max_idle_timeout: DEFAULT_MAX_IDLE_TIMEOUT,
            handshake_idle_timeout: DEFAULT_HANDSHAKE_IDLE_TIMEOUT,
            keep_alive_period: None,
            initial_stream_window: DEFAULT_INITIAL_STREAM_WINDOW,
            max_stream_window: DEFAULT_MAX_STREAM_WINDOW,
            initial_connection_window: DEFAULT_INITIAL_CONNECTION_WINDOW,
            max_connection_window: DEFAULT_MAX_CONNECTION_WINDOW,
            max_incoming_bidi_streams: DEFAULT_MAX_INCOMING_STREAMS,
            max_incoming_uni_streams: DEFAULT_MAX_INCOMING_STREAMS,
            send_buffer: DEFAULT_MAX_STREAM_WINDOW,
            initial_rtt: Duration::from_millis(333),
            congestion_control: CongestionControl::default(),
            max_datagram_frame_size: None,
            key_update_interval: None,
            versions: Version::SUPPORTED.to_vec(),
            allow_0rtt: false,
            get_config_for_client: None,
            mtu_discovery_ceiling: Some(1452),
        }
    }
}

/// What a server needs to accept connections.
#[derive(Clone)]
pub struct ServerConfig {
    /// TLS settings: certificate chain, key, ALPN protocols (required).
    pub tls: Arc<rustls::ServerConfig>,
    /// Transport settings of accepted connections.
    pub transport: Arc<TransportConfig>,
}

/// What a client needs to dial.
#[derive(Clone)]
pub struct ClientConfig {
    /// TLS settings: roots, ALPN protocols (required), session store.
    pub tls: Arc<rustls::ClientConfig>,
    /// Transport settings of the connection.
    pub transport: Arc<TransportConfig>,
    /// Keeps servers' NEW_TOKEN tokens for later connections (RFC 9000
    /// §8.1.3); `None` forgets them.
    pub token_store: Option<Arc<dyn TokenStore>>,
}

impl ClientConfig {
    /// A client config with `tls`, default transport settings and an
    /// in-memory token store.
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        ClientConfig {
            tls,
            transport: Arc::new(TransportConfig::default()),
            token_store: Some(Arc::new(TokenMemoryCache::default())),
        }
    }
}

/// Where a client keeps address validation tokens, by server name.
pub trait TokenStore: Send + Sync {
    /// Keeps a token the server named `server_name` sent.
    fn insert(&self, server_name: &str, token: bytes::Bytes);
    /// Takes a token for `server_name`, if one is kept; each is used once
    /// (RFC 9000 §8.1.3: reuse would let observers link connections).
    fn take(&self, server_name: &str) -> Option<bytes::Bytes>;
}

/// Tokens kept per server at most by [`TokenMemoryCache`].
pub const TOKENS_PER_SERVER: usize = 2;
/// Servers [`TokenMemoryCache`] remembers at most; the oldest is forgotten.
pub const TOKEN_CACHE_SERVERS: usize = 256;

/// An in-memory [`TokenStore`] bounded in servers and tokens per server.
#[derive(Debug, Default)]
pub struct TokenMemoryCache {
    inner: std::sync::Mutex<std::collections::VecDeque<(String, Vec<bytes::Bytes>)>>,
}

impl TokenStore for TokenMemoryCache {
    fn insert(&self, server_name: &str, token: bytes::Bytes) {
        let Ok(mut servers) = self.inner.lock() else {
            return;
        };
        let index = servers.iter().position(|(name, _)| name == server_name);
        let mut entry = match index.and_then(|i| servers.remove(i)) {
            Some(entry) => entry,
            None => (server_name.to_owned(), Vec::new()),
        };
        entry.1.push(token);
        if entry.1.len() > TOKENS_PER_SERVER {
            entry.1.remove(0);
        }
        servers.push_back(entry);
        while servers.len() > TOKEN_CACHE_SERVERS {
            servers.pop_front();
        }
    }

    fn take(&self, server_name: &str) -> Option<bytes::Bytes> {
        let mut servers = self.inner.lock().ok()?;
        let (_, tokens) = servers.iter_mut().find(|(name, _)| name == server_name)?;
        tokens.pop()
    }
}
