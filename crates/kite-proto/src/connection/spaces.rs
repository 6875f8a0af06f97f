//! The three packet number spaces (RFC 9000 §12.3): per space, its keys, the
//! CRYPTO stream, received packet numbers (ACK generation) and sent packets
//! (loss recovery). Indexed by [`SpaceId`].

use crate::crypto::DirectionalKeys;
use crate::packet::SpaceId;
use crate::recovery::ack_tracker::{AckConfig, AckTracker};
use crate::recovery::sent::SentPackets;
use crate::stream_id::StreamId;

use super::crypto_stream::CryptoStream;
use super::inline_list::InlineList;
use crate::connection::streams::StreamControl;

/// STREAM chunks a sent packet records without allocating: a full packet
/// of one stream carries one, a packet where one write ends and the next
/// begins, or two streams share, carries two.
const INLINE_STREAM_CHUNKS: usize = 2;
/// Stream control frames a sent packet records without allocating: flow
/// control updates come one or two at a time.
const INLINE_STREAM_CONTROLS: usize = 2;

/// What one sent packet carried that matters when it is acknowledged or lost.
/// Every packet's record is moved into the sent-packet deque and out again
/// when acknowledged, so it is kept small: the data path's frames (STREAM,
/// stream flow control, our ACK) are inline and cost no allocation; what only
/// handshake, control and probe packets carry sits behind one `Box`.
#[derive(Debug, Default, Clone)]
pub struct SentFrames {
    /// Largest packet number our ACK frame in it covered.
    pub ack_largest: Option<u64>,
    /// STREAM chunks.
    pub streams: InlineList<SentStreamChunk, INLINE_STREAM_CHUNKS>,
    /// Stream control frames (limits, blocked, resets, stop sending).
    pub stream_controls: InlineList<StreamControl, INLINE_STREAM_CONTROLS>,
    /// Whether the datagram carrying it was marked ECT(0).
    pub ecn: bool,
    /// The rarely sent frames, `None` when it carried none.
    pub rare: Option<Box<RareFrames>>,
}

/// The frames few packets carry: the handshake's, connection control frames
/// and path MTU probes. Allocated only for such a packet.
#[derive(Debug, Default, Clone)]
pub struct RareFrames {
    /// CRYPTO ranges `(offset, len)`.
    pub crypto: Vec<(u64, u64)>,
    /// Connection-level control frames to repeat on loss.
    pub controls: Vec<ControlFrame>,
    /// A HANDSHAKE_DONE frame (RFC 9000 §19.20), repeated until acknowledged.
    pub handshake_done: bool,
    /// A path MTU probe of this size (RFC 8899), outside congestion control.
    pub mtu_probe: Option<usize>,
}

impl SentFrames {
    /// Whether the packet carried anything that is sent again when lost
    /// (an ACK, PING, PADDING or a path MTU probe is not).
    pub fn is_retransmittable(&self) -> bool {
        !self.streams.is_empty()
            || !self.stream_controls.is_empty()
            || self.rare.as_deref().is_some_and(|rare| {
                !rare.crypto.is_empty() || !rare.controls.is_empty() || rare.handshake_done
            })
    }

    /// The rare frames, allocated on first use.
    pub fn rare_mut(&mut self) -> &mut RareFrames {
        self.rare.get_or_insert_with(Box::default)
    }

    /// CRYPTO ranges `(offset, len)` it carried.
    pub fn crypto(&self) -> &[(u64, u64)] {
        self.rare.as_deref().map_or(&[], |rare| &rare.crypto)
    }

    /// The size of the path MTU probe it was, if it was one.
    pub fn mtu_probe(&self) -> Option<usize> {
        self.rare.as_deref().and_then(|rare| rare.mtu_probe)
    }
}

/// A piece of stream data sent in a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentStreamChunk {
    /// The stream.
    pub id: StreamId,
    /// Offset of the first byte.
    pub offset: u64,
    /// Number of bytes; a chunk fits in one packet, and so in 16 bits.
    pub len: u16,
    /// Whether the frame carried FIN.
    pub fin: bool,
}

/// Connection-level frames that are repeated when lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlFrame {
    /// NEW_CONNECTION_ID with its sequence number; issued once kite hands
    /// out more connection IDs (the server endpoint issue).
    #[allow(dead_code)]
    NewConnectionId(crate::frame::NewConnectionId),
    /// RETIRE_CONNECTION_ID of this sequence number.
    RetireConnectionId(u64),
    /// NEW_TOKEN with a token for the client's next connection.
    NewToken(bytes::Bytes),
}

/// One packet number space.
pub struct PacketSpace {
    /// Keys to protect and open packets of this space (Initial and
    /// Handshake; 1-RTT keys live apart because of key updates).
    pub keys: Option<crate::crypto::Keys>,
    /// Handshake bytes in both directions.
    pub crypto: CryptoStream,
    /// Received packet numbers and ACK scheduling.
    pub acks: AckTracker,
    /// Packets sent and not yet acknowledged or lost.
    pub sent: SentPackets<SentFrames>,
    /// Send an ack-eliciting probe in this space (PTO, RFC 9002 §6.2.4).
    pub probes_pending: u8,
    /// The newest packet whose frames a probe of the current PTO has sent
    /// again: the next probe repeats the packets after it.
    pub probe_cursor: Option<u64>,
    /// Whether any packet of this space was successfully opened.
    pub any_received: bool,
    /// Whether the keys were discarded (RFC 9001 §4.9); nothing more is sent
    /// or accepted in this space.
    pub discarded: bool,
}

impl PacketSpace {
    /// A fresh space without keys.
    pub fn new(id: SpaceId, ack_config: AckConfig) -> Self {
        PacketSpace {
            keys: None,
            crypto: CryptoStream::default(),
            acks: AckTracker::new(id, ack_config),
            sent: SentPackets::new(),
            probes_pending: 0,
            probe_cursor: None,
            any_received: false,
            discarded: false,
        }
    }

    /// The remote direction's keys, if installed.
    pub fn remote_keys(&self) -> Option<&DirectionalKeys> {
        self.keys.as_ref().map(|k| &k.remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::sent::SentPacket;

    /// Every packet sent is recorded, moved into the sent-packet deque and
    /// out again when acknowledged: the record stays small (it was 296
    /// bytes with the rare frames and list spills inline).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn sent_packet_record_stays_small() {
        use std::mem::size_of;
        assert_eq!(size_of::<SentStreamChunk>(), 24);
        assert_eq!(size_of::<SentFrames>(), 160);
        assert_eq!(size_of::<SentPacket<SentFrames>>(), 192);
    }
}
