//! Our connection IDs as issued to the peer (RFC 9000 §5.1.1, §19.15-16):
//! up to the peer's active_connection_id_limit are handed out with
//! NEW_CONNECTION_ID once the handshake is confirmed; each one the peer
//! retires is unrouted at the endpoint and replaced.

use std::collections::BTreeMap;

use super::spaces::ControlFrame;
use super::{Connection, EndpointEventInner};
use crate::cid::{ConnectionId, ResetToken};
use crate::error::TransportError;
use crate::frame::NewConnectionId;

/// Most connection IDs we keep issued at once, whatever the peer allows:
/// each is an endpoint route, so this bounds what one connection costs.
pub(crate) const MAX_ISSUED_CIDS: u64 = 4;

/// The connection IDs we issued and still route.
#[derive(Debug)]
pub(crate) struct LocalCids {
    /// Live IDs by sequence number; the handshake's is number 0.
    issued: BTreeMap<u64, ConnectionId>,
    next_seq: u64,
    /// IDs asked of the endpoint and not yet received.
    requested: u64,
}

impl LocalCids {
    pub fn new(handshake_cid: ConnectionId) -> Self {
        let mut issued = BTreeMap::new();
        issued.insert(0, handshake_cid);
        LocalCids {
            issued,
            next_seq: 1,
            requested: 0,
        }
    }
}

impl Connection {
    /// Asks the endpoint for IDs up to the peer's limit (and ours).
    pub(super) fn maybe_request_ids(&mut self) {
        if !self.handshake_confirmed || !self.is_usable() || self.local_cid.is_empty() {
            return;
        }
        let peer_limit = self
            .peer_params
            .as_ref()
            .map_or(2, |p| p.active_connection_id_limit.into_inner());
        let target = peer_limit.min(MAX_ISSUED_CIDS);
        let have = self.local_cids.issued.len() as u64 + self.local_cids.requested;
        if have < target {
            let want = target - have;
            self.local_cids.requested += want;
            self.endpoint_events
                .push_back(EndpointEventInner::NeedIds(want));
        }
    }

    /// The endpoint routed fresh IDs to us: announce them.
    pub(super) fn on_new_local_ids(&mut self, ids: Vec<(ConnectionId, ResetToken)>) {
        for (id, reset_token) in ids {
            self.local_cids.requested = self.local_cids.requested.saturating_sub(1);
            let sequence = self.local_cids.next_seq;
            self.local_cids.next_seq += 1;
            self.local_cids.issued.insert(sequence, id);
            self.push_control(ControlFrame::NewConnectionId(NewConnectionId {
                sequence,
                retire_prior_to: 0,
                id,
                reset_token,
            }));
        }
    }

    /// RETIRE_CONNECTION_ID (RFC 9000 §19.16).
    pub(super) fn on_retire_connection_id(&mut self, sequence: u64) -> Result<(), TransportError> {
        if sequence >= self.local_cids.next_seq {
            return Err(TransportError::protocol_violation(
                "RETIRE_CONNECTION_ID of an ID never issued",
            ));
        }
        if let Some(id) = self.local_cids.issued.remove(&sequence) {
            self.endpoint_events
                .push_back(EndpointEventInner::RetireId(id));
            self.maybe_request_ids();
        }
        Ok(())
    }
}
