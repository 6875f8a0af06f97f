//! Criterion benchmark of a whole 100 MB transfer in the simulator (issue #6):
//! handshake, then one stream of 100 MB from client to server, every packet
//! built, sealed, opened, acknowledged. Run with
//! `cargo bench -p kite-sim --bench transfer`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kite_sim::{BulkTransfer, LinkConfig};

#[path = "../tests/common/tls.rs"]
mod tls;

const BYTES: u64 = 100_000_000;

fn transfer(c: &mut Criterion) {
    let (server, client) = tls::tls_configs();
    let mut group = c.benchmark_group("sim_transfer");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Bytes(BYTES));
    let links = [
        ("100MB_clean_10ms", LinkConfig::default()),
        (
            "100MB_1pct_loss",
            LinkConfig {
                loss: 0.01,
                ..LinkConfig::default()
            },
        ),
    ];
    for (name, link) in links {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut bulk =
                    BulkTransfer::new(1, link.clone(), server.clone(), client.clone()).unwrap();
                assert!(bulk.run(BYTES, Duration::from_secs(3600)));
                bulk.read
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transfer);
criterion_main!(benches);
