//! The peer's connection IDs (RFC 9000 §5.1.1, §19.15) with the stateless
//! reset token issued beside each (§10.3.1), kept in one map so that retiring
//! an ID takes its token with it. kite sends to the lowest ID not retired and
//! moves on only when the peer's retire_prior_to tells it to; only that ID's
//! token is checked, and only it is routed by the endpoint.

use std::collections::BTreeMap;

use super::spaces::ControlFrame;
use super::{ACTIVE_CID_LIMIT, Connection, EndpointEventInner};
use crate::cid::{ConnectionId, ResetToken};
use crate::error::{TransportError, TransportErrorCode};
use crate::frame::NewConnectionId;

/// Connection control frames (RETIRE_CONNECTION_ID, NEW_CONNECTION_ID,
/// NEW_TOKEN) queued at most; a peer forcing more is closed.
const MAX_PENDING_CONTROLS: usize = 4 * ACTIVE_CID_LIMIT as usize;

/// One connection ID the peer issued and has not had retired.
#[derive(Debug, Clone, Copy)]
struct RemoteCid {
    id: ConnectionId,
    /// None for the client's handshake ID (clients send no token) and for a
    /// server's until its transport parameters arrive.
    reset_token: Option<ResetToken>,
}

/// The peer's live connection IDs, by sequence number.
#[derive(Debug)]
pub(crate) struct RemoteCids {
    /// Never empty: the handshake's ID is sequence 0, and retire_prior_to
    /// never passes the sequence of the frame that carries it (§19.15).
    live: BTreeMap<u64, RemoteCid>,
    /// Every sequence number below this one is retired.
    retired_below: u64,
}

/// What a NEW_CONNECTION_ID did to the set.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CidUpdate {
    /// Sequence numbers retired by the frame.
    pub retired: Vec<u64>,
    /// The sequence number is already retired: RFC 9000 §19.15 asks for a
    /// RETIRE_CONNECTION_ID again.
    pub already_retired: bool,
}

impl RemoteCids {
    /// The set holding only the handshake's ID.
    pub fn new(handshake_cid: ConnectionId) -> Self {
        let mut cids = RemoteCids {
            live: BTreeMap::new(),
            retired_below: 0,
        };
        cids.set_handshake_cid(handshake_cid);
        cids
    }

    /// The ID packets are sent to: the lowest not retired.
    pub fn active(&self) -> ConnectionId {
        self.live
            .first_key_value()
            .map_or(ConnectionId::EMPTY, |(_, cid)| cid.id)
    }

    /// Replaces the handshake's ID (sequence 0): a client learns the server's
    /// choice from its first Initial or a Retry (RFC 9000 §7.2).
    pub fn set_handshake_cid(&mut self, id: ConnectionId) {
        let entry = self.live.entry(0).or_insert(RemoteCid {
            id,
            reset_token: None,
        });
        entry.id = id;
    }

    /// The server's stateless_reset_token parameter belongs to its
    /// handshake ID, sequence 0 (RFC 9000 §18.2). False when that ID is
    /// already retired: the token is then not kept.
    pub fn set_handshake_reset_token(&mut self, token: ResetToken) -> bool {
        match self.live.get_mut(&0) {
            Some(entry) => {
                entry.reset_token = Some(token);
                true
            }
            None => false,
        }
    }

    /// How many IDs are live.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// The reset token of the ID in use, if the peer gave one.
    pub fn active_reset_token(&self) -> Option<ResetToken> {
        self.live
            .first_key_value()
            .and_then(|(_, cid)| cid.reset_token)
    }

    /// Whether `candidate` is the token of the ID in use. RFC 9000 §10.3.1:
    /// tokens of IDs not in use, or retired, are not checked. Constant-time
    /// comparison (`ResetToken`'s equality).
    pub fn is_active_reset_token(&self, candidate: &ResetToken) -> bool {
        self.active_reset_token()
            .is_some_and(|token| token == *candidate)
    }

    /// Applies a NEW_CONNECTION_ID (RFC 9000 §19.15): adds the ID, retires
    /// those below retire_prior_to, and enforces our active_connection_id_limit
    /// (§5.1.1).
    pub fn on_new_connection_id(
        &mut self,
        frame: &NewConnectionId,
    ) -> Result<CidUpdate, TransportError> {
        let mut update = CidUpdate::default();
        if frame.sequence < self.retired_below {
            update.already_retired = true;
            return Ok(update);
        }
        if let Some(existing) = self.live.get(&frame.sequence) {
            if existing.id != frame.id {
                return Err(TransportError::protocol_violation(
                    "sequence number reused for another CID",
                ));
            }
            return Ok(update);
        }
        self.live.insert(
            frame.sequence,
            RemoteCid {
                id: frame.id,
                reset_token: Some(frame.reset_token),
            },
        );
        if frame.retire_prior_to > self.retired_below {
            let kept = self.live.split_off(&frame.retire_prior_to);
            let retired = std::mem::replace(&mut self.live, kept);
            update.retired = retired.into_keys().collect();
            self.retired_below = frame.retire_prior_to;
        }
        if self.live.len() as u64 > ACTIVE_CID_LIMIT {
            return Err(TransportError::new(
                TransportErrorCode::CONNECTION_ID_LIMIT_ERROR,
                "too many connection IDs",
            ));
        }
        Ok(update)
    }
}

impl Connection {
    /// NEW_CONNECTION_ID (RFC 9000 §19.15, §5.1.2): updates the peer's IDs,
    /// tells the endpoint when the token to route by changes, and queues the
    /// RETIRE_CONNECTION_IDs the frame asks for.
    pub(super) fn on_new_connection_id(
        &mut self,
        frame: NewConnectionId,
    ) -> Result<(), TransportError> {
        if self.remote_cids.active().is_empty() {
            return Err(TransportError::protocol_violation(
                "NEW_CONNECTION_ID to a zero-length CID peer",
            ));
        }
        let routed = self.remote_cids.active_reset_token();
        let update = self.remote_cids.on_new_connection_id(&frame)?;
        if update.already_retired {
            let retire = ControlFrame::RetireConnectionId(frame.sequence);
            if !self.pending_controls.contains(&retire) {
                self.push_retire(retire)?;
            }
        }
        let active = self.remote_cids.active_reset_token();
        if active != routed {
            self.endpoint_events
                .push_back(EndpointEventInner::PeerResetToken(active));
        }
        for sequence in update.retired {
            self.push_retire(ControlFrame::RetireConnectionId(sequence))?;
        }
        Ok(())
    }

    /// Queues a RETIRE_CONNECTION_ID, bounding the backlog a rising
    /// retire_prior_to can cause (RFC 9000 §5.1.2 lets us close instead).
    fn push_retire(&mut self, frame: ControlFrame) -> Result<(), TransportError> {
        if self.pending_controls.len() >= MAX_PENDING_CONTROLS {
            return Err(TransportError::new(
                TransportErrorCode::CONNECTION_ID_LIMIT_ERROR,
                "connection IDs retired faster than acknowledged",
            ));
        }
        self.push_control(frame);
        Ok(())
    }

    /// Whether `candidate` is the reset token of the peer's ID in use.
    pub(super) fn is_peer_reset_token(&self, candidate: &ResetToken) -> bool {
        self.remote_cids.is_active_reset_token(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::super::EndpointEventInner;
    use super::super::tests::Pair;
    use super::*;

    fn cid(byte: u8) -> ConnectionId {
        ConnectionId::new(&[byte; 8]).unwrap()
    }

    fn new_cid(sequence: u64, retire_prior_to: u64) -> NewConnectionId {
        let byte = u8::try_from(sequence).unwrap();
        NewConnectionId {
            sequence,
            retire_prior_to,
            id: cid(byte),
            reset_token: ResetToken([byte; 16]),
        }
    }

    #[test]
    fn retiring_an_id_takes_its_token_and_moves_to_the_next() {
        let mut cids = RemoteCids::new(cid(0));
        cids.set_handshake_reset_token(ResetToken([0; 16]));
        assert!(cids.is_active_reset_token(&ResetToken([0; 16])));
        cids.on_new_connection_id(&new_cid(1, 0)).unwrap();
        cids.on_new_connection_id(&new_cid(2, 0)).unwrap();
        let update = cids.on_new_connection_id(&new_cid(3, 2)).unwrap();
        assert_eq!(update.retired, vec![0, 1]);
        assert_eq!(cids.active(), cid(2));
        assert_eq!(cids.len(), 2);
        assert!(cids.is_active_reset_token(&ResetToken([2; 16])));
        assert!(!cids.is_active_reset_token(&ResetToken([0; 16])));
        assert!(!cids.is_active_reset_token(&ResetToken([3; 16])));
    }

    #[test]
    fn a_retired_sequence_number_is_retired_again_and_not_reused() {
        let mut cids = RemoteCids::new(cid(0));
        cids.on_new_connection_id(&new_cid(1, 1)).unwrap();
        let again = cids.on_new_connection_id(&new_cid(0, 0)).unwrap();
        assert!(again.already_retired);
        assert_eq!(cids.active(), cid(1));
    }

    #[test]
    fn a_sequence_number_reused_for_another_id_is_a_protocol_violation() {
        let mut cids = RemoteCids::new(cid(0));
        cids.on_new_connection_id(&new_cid(1, 0)).unwrap();
        let mut other = new_cid(1, 0);
        other.id = cid(9);
        let err = cids.on_new_connection_id(&other).unwrap_err();
        assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
        // The same frame again is a harmless repeat.
        assert_eq!(
            cids.on_new_connection_id(&new_cid(1, 0)).unwrap(),
            CidUpdate::default()
        );
    }

    #[test]
    fn ids_past_the_limit_are_connection_id_limit_error() {
        let mut cids = RemoteCids::new(cid(0));
        for sequence in 1..ACTIVE_CID_LIMIT {
            cids.on_new_connection_id(&new_cid(sequence, 0)).unwrap();
        }
        let err = cids
            .on_new_connection_id(&new_cid(ACTIVE_CID_LIMIT, 0))
            .unwrap_err();
        assert_eq!(err.code, TransportErrorCode::CONNECTION_ID_LIMIT_ERROR);
    }

    #[test]
    fn reset_tokens_follow_the_peers_connection_ids_through_retirement() {
        let mut pair = Pair::new();
        pair.exchange();
        // Far more IDs than the limit, each retiring the ones before it: the
        // newest token is always checked, retired ones never, and no more
        // than the limit's worth are ever kept.
        for sequence in 10..40u8 {
            let server = pair.server();
            server.endpoint_events.clear();
            server
                .on_new_connection_id(new_cid(sequence.into(), sequence.into()))
                .unwrap();
            assert!(server.is_peer_reset_token(&ResetToken([sequence; 16])));
            assert!(!server.is_peer_reset_token(&ResetToken([sequence - 1; 16])));
            assert!(server.remote_cids.len() <= ACTIVE_CID_LIMIT as usize);
            // The endpoint is told the new token, which replaces the retired
            // one there.
            let routed: Vec<_> = server
                .endpoint_events
                .iter()
                .filter_map(|e| match e {
                    EndpointEventInner::PeerResetToken(t) => Some(*t),
                    _ => None,
                })
                .collect();
            assert_eq!(routed, vec![Some(ResetToken([sequence; 16]))]);
            // The RETIRE_CONNECTION_IDs go out and are acknowledged.
            pair.exchange();
        }
        // An ID issued but not in use: its token is neither checked nor
        // routed yet.
        let server = pair.server();
        server.endpoint_events.clear();
        server.on_new_connection_id(new_cid(50, 39)).unwrap();
        assert!(!server.is_peer_reset_token(&ResetToken([50; 16])));
        assert!(server.is_peer_reset_token(&ResetToken([39; 16])));
        assert!(server.endpoint_events.is_empty());
    }
}
