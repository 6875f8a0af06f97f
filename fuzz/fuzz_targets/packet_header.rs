//! Every packet header parser on arbitrary datagrams: see `kite_sim::fuzz::packet_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kite_sim::fuzz::packet_header(data));
