//! Frame decoding and re-encoding: see `kite_sim::fuzz::frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kite_sim::fuzz::frame(data));
