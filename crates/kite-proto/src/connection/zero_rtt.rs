//! 0-RTT (RFC 9001 §4.6, RFC 9000 §7.4.1): a resuming client sends stream
//! data under 0-RTT keys with the transport parameters remembered from the
//! session ticket; a server that allows it opens those packets. When the
//! server rejects 0-RTT, the client sends the same data again in 1-RTT.

use std::collections::HashSet;
use std::time::Instant;

use super::Connection;
use super::streams::StreamParams;
use crate::crypto::DirectionalKeys;
use crate::error::TransportError;
use crate::packet::SpaceId;
use crate::stream_id::{Side, StreamId};
use crate::transport_params::TransportParameters;

/// Where 0-RTT stands on this connection.
#[derive(Debug, Default)]
pub(crate) struct ZeroRtt {
    /// Client: keys to send 0-RTT packets; server: keys to open them.
    pub keys: Option<DirectionalKeys>,
    /// Client: the server's parameters remembered with the ticket.
    pub remembered: Option<TransportParameters>,
    /// Whether 0-RTT was attempted (client) or keys installed (server).
    pub attempted: bool,
    /// Known once the handshake completes.
    pub accepted: Option<bool>,
    /// Server: streams that received data in 0-RTT packets.
    pub early_streams: HashSet<StreamId>,
}

/// Streams remembered as having early data at most; past it, later ones are
/// not marked (the bound keeps a flood of 0-RTT streams from growing it).
const MAX_EARLY_STREAMS: usize = 1024;

impl Connection {
    /// Client, right after creating TLS: if the session ticket allows early
    /// data, take the 0-RTT keys and the remembered parameters (§7.4.1).
    pub(super) fn maybe_start_0rtt(&mut self) -> Result<(), TransportError> {
        let Some(keys) = self.tls.zero_rtt_keys() else {
            return Ok(());
        };
        let Some(raw) = self.tls.quic_transport_parameters() else {
            return Ok(());
        };
        let remembered = TransportParameters::decode(raw, Side::Server)?;
        self.streams
            .handle_peer_params(&stream_params(&remembered))?;
        self.zero_rtt.keys = Some(keys.into());
        self.zero_rtt.remembered = Some(remembered);
        self.zero_rtt.attempted = true;
        Ok(())
    }

    /// Server, after reading the ClientHello: install 0-RTT keys when TLS
    /// accepted early data.
    pub(super) fn maybe_accept_0rtt(&mut self) {
        if self.side != Side::Server || self.zero_rtt.attempted {
            return;
        }
        if let Some(keys) = self.tls.zero_rtt_keys() {
            self.zero_rtt.keys = Some(keys.into());
            self.zero_rtt.attempted = true;
        }
    }

    /// Client, at handshake completion: learn whether the server took the
    /// 0-RTT data; if not, send it again in 1-RTT.
    pub(super) fn on_0rtt_outcome(&mut self, now: Instant) -> Result<(), TransportError> {
        if self.side != Side::Client || !self.zero_rtt.attempted {
            return Ok(());
        }
        let accepted = match &self.tls {
            rustls::quic::Connection::Client(c) => c.is_early_data_accepted(),
            rustls::quic::Connection::Server(_) => false,
        };
        self.zero_rtt.accepted = Some(accepted);
        // RFC 9001 §4.9.3: a client drops 0-RTT keys once 1-RTT keys exist.
        self.zero_rtt.keys = None;
        if accepted {
            // RFC 9000 §7.4.1: accepting 0-RTT, the server may not lower
            // what the remembered limits allowed.
            if let (Some(old), Some(new)) = (&self.zero_rtt.remembered, &self.peer_params)
                && reduces_limits(old, new)
            {
                return Err(TransportError::protocol_violation(
                    "0-RTT accepted with lower limits than remembered",
                ));
            }
            return Ok(());
        }
        // Everything sent in 0-RTT packets goes again, not as congestion loss.
        self.resend_all_sent(SpaceId::Data);
        self.set_loss_detection_timer(now);
        Ok(())
    }

    /// Server: notes that `id` received data in a 0-RTT packet.
    pub(super) fn note_early_stream(&mut self, id: StreamId) {
        if self.zero_rtt.early_streams.len() < MAX_EARLY_STREAMS {
            self.zero_rtt.early_streams.insert(id);
        }
    }

    /// Client: whether 0-RTT data can be sent now (before the handshake).
    pub fn has_0rtt(&self) -> bool {
        self.side == Side::Client && self.zero_rtt.keys.is_some() && self.one_rtt.is_none()
    }

    /// Client: whether the server accepted our 0-RTT data; `None` before the
    /// handshake completes or when 0-RTT was not attempted.
    pub fn zero_rtt_accepted(&self) -> Option<bool> {
        self.zero_rtt.accepted
    }

    /// Server: whether data on stream `id` arrived in 0-RTT packets (and so
    /// may have been replayed, RFC 9001 §9.2).
    pub fn is_early_stream(&self, id: StreamId) -> bool {
        self.zero_rtt.early_streams.contains(&id)
    }
}

/// The stream-related parameters as the streams layer takes them.
pub(super) fn stream_params(params: &TransportParameters) -> StreamParams {
    StreamParams {
        initial_max_data: params.initial_max_data.into_inner(),
        initial_max_stream_data_bidi_local: params.initial_max_stream_data_bidi_local.into_inner(),
        initial_max_stream_data_bidi_remote: params
            .initial_max_stream_data_bidi_remote
            .into_inner(),
        initial_max_stream_data_uni: params.initial_max_stream_data_uni.into_inner(),
        initial_max_streams_bidi: params.initial_max_streams_bidi.into_inner(),
        initial_max_streams_uni: params.initial_max_streams_uni.into_inner(),
    }
}

/// Whether `new` lowers a limit `old` granted (RFC 9000 §7.4.1 lists them).
fn reduces_limits(old: &TransportParameters, new: &TransportParameters) -> bool {
    new.initial_max_data < old.initial_max_data
        || new.initial_max_stream_data_bidi_local < old.initial_max_stream_data_bidi_local
        || new.initial_max_stream_data_bidi_remote < old.initial_max_stream_data_bidi_remote
        || new.initial_max_stream_data_uni < old.initial_max_stream_data_uni
        || new.initial_max_streams_bidi < old.initial_max_streams_bidi
        || new.initial_max_streams_uni < old.initial_max_streams_uni
        || new.active_connection_id_limit < old.active_connection_id_limit
        || new.max_datagram_frame_size < old.max_datagram_frame_size
}
