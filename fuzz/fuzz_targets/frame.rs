//! Fuzzes frame decoding (kite_proto::frame): arbitrary bytes as the payload of
//! every packet type must never panic, and each frame that decodes must
//! re-encode to exactly `encoded_len` bytes that decode to an equal frame.
#![no_main]

use kite_proto::frame::Frames;
use kite_proto::packet::PacketType;

const PACKET_TYPES: [PacketType; 6] = [
    PacketType::Initial,
    PacketType::ZeroRtt,
    PacketType::Handshake,
    PacketType::Retry,
    PacketType::OneRtt,
    PacketType::VersionNegotiation,
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for packet_type in PACKET_TYPES {
        for frame in Frames::new(data.to_vec().into(), packet_type) {
            let Ok(frame) = frame else { break };
            let mut out = Vec::with_capacity(frame.encoded_len());
            frame.encode(&mut out);
            assert_eq!(out.len(), frame.encoded_len(), "{frame:?}");
            let mut again = Frames::new(out.into(), packet_type);
            assert_eq!(again.next(), Some(Ok(frame)));
            assert_eq!(again.next(), None);
        }
    }
});
