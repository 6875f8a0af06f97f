//! Fuzzes transport parameter decoding (RFC 9000 §18) as sent by either side: no input
//! may panic, and whatever decodes must re-encode to bytes that decode to the same set.

#![no_main]

use kite_proto::Side;
use kite_proto::transport_params::TransportParameters;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for side in [Side::Client, Side::Server] {
        let Ok(params) = TransportParameters::decode(data, side) else {
            continue;
        };
        let mut encoded = Vec::with_capacity(params.encoded_len());
        params.encode(&mut encoded);
        assert_eq!(encoded.len(), params.encoded_len());
        let again = TransportParameters::decode(&encoded, side);
        assert_eq!(again.as_ref(), Ok(&params));
    }
});
