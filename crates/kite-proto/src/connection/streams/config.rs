//! Stream settings: our limits and buffer sizes with their defaults, and the
//! stream-related transport parameters as plain numbers (RFC 9000 §18.2).

/// Default concurrent streams of each type the peer may open: quic-go's and
/// quinn's choice of 100, enough for HTTP/3 pages without inviting a stream
/// commitment attack (RFC 9000 §21.6).
pub const DEFAULT_MAX_INCOMING_STREAMS: u64 = 100;
/// Default initial stream receive window (bytes): 512 KiB, quic-go's.
pub const DEFAULT_STREAM_WINDOW: u64 = 512 * 1024;
/// Default ceiling of stream window auto-tuning (bytes): 6 MiB, quic-go's, enough
/// for ~500 Mbit/s at 50 ms on one stream.
pub const DEFAULT_MAX_STREAM_WINDOW: u64 = 6 * 1024 * 1024;
/// Default initial connection receive window (bytes): 1.5 stream windows.
pub const DEFAULT_CONNECTION_WINDOW: u64 = 768 * 1024;
/// Default ceiling of connection window auto-tuning (bytes): 15 MiB, quic-go's.
pub const DEFAULT_MAX_CONNECTION_WINDOW: u64 = 15 * 1024 * 1024;
/// Default bound on written but unacknowledged bytes per stream: the largest
/// stream window, so one stream can keep a peer's full window in flight.
pub const DEFAULT_SEND_BUFFER: u64 = DEFAULT_MAX_STREAM_WINDOW;

/// Local stream settings: what we allow the peer and how much we buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsConfig {
    /// Bidirectional streams the peer may have open at once.
    pub max_incoming_bidi: u64,
    /// Unidirectional streams the peer may have open at once.
    pub max_incoming_uni: u64,
    /// Initial receive window of each stream (bytes).
    pub stream_window: u64,
    /// Auto-tuning ceiling of a stream window (bytes).
    pub max_stream_window: u64,
    /// Initial connection receive window (bytes).
    pub connection_window: u64,
    /// Auto-tuning ceiling of the connection window (bytes).
    pub max_connection_window: u64,
    /// Written, unacknowledged bytes a stream may hold (bytes).
    pub send_buffer: u64,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            max_incoming_bidi: DEFAULT_MAX_INCOMING_STREAMS,
            max_incoming_uni: DEFAULT_MAX_INCOMING_STREAMS,
            stream_window: DEFAULT_STREAM_WINDOW,
            max_stream_window: DEFAULT_MAX_STREAM_WINDOW,
            connection_window: DEFAULT_CONNECTION_WINDOW,
            max_connection_window: DEFAULT_MAX_CONNECTION_WINDOW,
            send_buffer: DEFAULT_SEND_BUFFER,
        }
    }
}

impl StreamsConfig {
    /// The limits to advertise in our transport parameters.
    pub fn local_params(&self) -> StreamParams {
        StreamParams {
            initial_max_data: self.connection_window,
            initial_max_stream_data_bidi_local: self.stream_window,
            initial_max_stream_data_bidi_remote: self.stream_window,
            initial_max_stream_data_uni: self.stream_window,
            initial_max_streams_bidi: self.max_incoming_bidi,
            initial_max_streams_uni: self.max_incoming_uni,
        }
    }
}

/// The stream-related transport parameters (RFC 9000 §18.2), named from the point
/// of view of the endpoint that sends them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// initial_max_data.
    pub initial_max_data: u64,
    /// initial_max_stream_data_bidi_local: streams the sender opens.
    pub initial_max_stream_data_bidi_local: u64,
    /// initial_max_stream_data_bidi_remote: streams the sender's peer opens.
    pub initial_max_stream_data_bidi_remote: u64,
    /// initial_max_stream_data_uni: unidirectional streams the sender's peer opens.
    pub initial_max_stream_data_uni: u64,
    /// initial_max_streams_bidi.
    pub initial_max_streams_bidi: u64,
    /// initial_max_streams_uni.
    pub initial_max_streams_uni: u64,
}
