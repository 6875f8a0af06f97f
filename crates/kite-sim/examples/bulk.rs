//! One bulk transfer in the simulator, timed, with the packet counts that
//! matter for the data path's cost: `cargo run --release -p kite-sim
//! --example bulk -- [bytes] [loss] [rate_bytes_per_s]`. Deterministic, so
//! `valgrind --tool=cachegrind` on it gives comparable instruction counts on
//! a busy machine. `BULK_STEPS=1` prints progress every 5 MB.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use kite_sim::{BulkTransfer, LinkConfig};

#[path = "../tests/common/tls.rs"]
mod tls;

fn main() {
    let mut args = std::env::args().skip(1);
    let bytes: u64 = args
        .next()
        .map_or(100_000_000, |a| a.parse().expect("bytes"));
    let loss: f64 = args.next().map_or(0.0, |a| a.parse().expect("loss"));
    let rate: Option<u64> = args.next().map(|a| a.parse().expect("rate"));
    let (server, client) = tls::tls_configs();
    let link = LinkConfig {
        loss,
        rate,
        ..LinkConfig::default()
    };
    let started = Instant::now();
    let mut bulk = BulkTransfer::new(1, link, server, client).expect("handshake");
    let virtual_start = bulk.sim.now;
    if std::env::var_os("BULK_STEPS").is_some() {
        let mut last = bulk.sim.now;
        for _ in 0..bytes / 5_000_000 {
            assert!(bulk.run(5_000_000, Duration::from_secs(3600)), "transfer");
            let (s, r) = bulk.stats();
            eprintln!(
                "{:?} +{:?} in_flight={} recv_pkts={}",
                bulk.sim.now - virtual_start,
                bulk.sim.now - last,
                s.bytes_in_flight,
                r.packets_sent
            );
            last = bulk.sim.now;
        }
    } else {
        assert!(bulk.run(bytes, Duration::from_secs(3600)), "transfer");
    }
    let took = started.elapsed();
    let (sender, receiver) = bulk.stats();
    println!(
        "bytes={bytes} secs={:.3} mib_per_s={:.1} virtual_secs={:.3} sender_packets={} \
         receiver_packets={} receiver_per_sender={:.3} lost={} ptos={} cwnd={} srtt={:?}/{:?}",
        took.as_secs_f64(),
        bytes as f64 / took.as_secs_f64() / (1024.0 * 1024.0),
        (bulk.sim.now - virtual_start).as_secs_f64(),
        sender.packets_sent,
        receiver.packets_sent,
        receiver.packets_sent as f64 / sender.packets_sent as f64,
        sender.packets_lost,
        sender.pto_count,
        sender.cwnd,
        sender.rtt,
        receiver.rtt,
    );
}
