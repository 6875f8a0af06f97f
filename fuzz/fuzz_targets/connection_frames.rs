//! An established connection pair fed arbitrary decrypted 1-RTT payloads:
//! see `kite_sim::fuzz::connection_frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kite_sim::fuzz::connection_frames(data));
