//! Transport parameter decoding and re-encoding: see `kite_sim::fuzz::transport_params`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kite_sim::fuzz::transport_params(data));
