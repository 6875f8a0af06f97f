//! A server endpoint fed arbitrary datagrams from several addresses, its
//! connections driven on a virtual clock: see `kite_sim::fuzz::endpoint`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kite_sim::fuzz::endpoint(data));
