//! Fuzzes every packet header parser of `kite_proto::packet` on arbitrary
//! datagrams: none may panic, and whatever splits must tile the datagram.

#![no_main]

use kite_proto::packet::{
    InvariantHeader, ParsedHeader, Retry, VersionNegotiation, split_datagram,
};

/// Local connection ID lengths to try short headers with: none, and kite's usual 8.
const LOCAL_CID_LENS: [usize; 2] = [0, 8];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for cid_len in LOCAL_CID_LENS {
        let _ = InvariantHeader::parse(data, cid_len);
        if let Ok(parsed) = ParsedHeader::parse(data, cid_len) {
            assert!(parsed.len <= data.len());
        }
        let mut end = 0;
        for packet in split_datagram(data, cid_len) {
            let Ok(packet) = packet else { break };
            assert_eq!(packet.range.start, end);
            assert!(packet.range.end <= data.len());
            end = packet.range.end;
        }
    }
    let _ = VersionNegotiation::parse(data).map(|vn| vn.versions().count());
    let _ = Retry::parse(data);
});
