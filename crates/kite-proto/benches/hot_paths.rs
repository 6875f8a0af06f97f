//! Criterion benchmarks of kite-proto's per-packet hot paths: packet
//! protection, frame encoding and decoding, ACK processing with many ranges,
//! ACK processing and loss detection in steady state as the window grows
//! (the cost per ACK must not grow with it), and stream reassembly. Run with
//! `cargo bench -p kite-proto`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kite_proto::connection::streams::assembler::Assembler;
use kite_proto::crypto::{
    Keys, TAG_LEN, apply_header_protection, open_payload, remove_header_protection, seal_payload,
};
use kite_proto::frame::{Ack, Frame, Frames, Stream};
use kite_proto::packet::{PacketType, SpaceId};
use kite_proto::recovery::loss::{RttSnapshot, detect_lost};
use kite_proto::recovery::sent::{SentPacket, SentPackets};
use kite_proto::{ConnectionId, Side, StreamId, Version};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Short header: first byte, 8-byte DCID, 4-byte packet number.
const HEADER_LEN: usize = 1 + 8 + 4;
const PN_OFFSET: usize = 1 + 8;

fn packet_protection(c: &mut Criterion) {
    let dcid = ConnectionId::new(&[7; 8]).unwrap();
    let client = Keys::initial(Version::V1, &dcid, Side::Client).unwrap();
    let server = Keys::initial(Version::V1, &dcid, Side::Server).unwrap();
    let mut group = c.benchmark_group("packet_protection");
    for size in [1200usize, 1452] {
        group.throughput(Throughput::Bytes(size as u64));
        let mut template = vec![0u8; size];
        template[0] = 0x43; // short header, 4-byte packet number
        group.bench_with_input(BenchmarkId::new("seal", size), &size, |b, _| {
            let mut buf = template.clone();
            let mut pn = 0u64;
            b.iter(|| {
                pn += 1;
                buf[0] = 0x43;
                seal_payload(&client.local.packet, pn, &mut buf, HEADER_LEN).unwrap();
                apply_header_protection(&client.local.header, &mut buf, PN_OFFSET, 4).unwrap();
                black_box(&buf);
            });
        });
        group.bench_with_input(BenchmarkId::new("seal_then_open", size), &size, |b, _| {
            let mut buf = template.clone();
            b.iter(|| {
                buf.copy_from_slice(&template);
                seal_payload(&client.local.packet, 9, &mut buf, HEADER_LEN).unwrap();
                apply_header_protection(&client.local.header, &mut buf, PN_OFFSET, 4).unwrap();
                remove_header_protection(&server.remote.header, &mut buf, PN_OFFSET).unwrap();
                let range = open_payload(&server.remote.packet, 9, &mut buf, HEADER_LEN).unwrap();
                black_box(range);
            });
        });
    }
    group.finish();
    let _ = TAG_LEN;
}

/// A 1-RTT payload like a bulk transfer's: an ACK and one full STREAM frame.
fn bulk_payload() -> Bytes {
    let ack = Ack::from_ranges([100..=120, 90..=97, 50..=80], 25, None).unwrap();
    let stream = Stream {
        id: StreamId(4),
        offset: 1 << 20,
        data: Bytes::from(vec![0xab; 1100]),
        fin: false,
    };
    let mut buf = BytesMut::new();
    Frame::Ack(ack).encode(&mut buf);
    Frame::Stream(stream).encode(&mut buf);
    buf.freeze()
}

fn frames(c: &mut Criterion) {
    let payload = bulk_payload();
    let decoded: Vec<Frame> = Frames::new(payload.clone(), PacketType::OneRtt)
        .map(Result::unwrap)
        .collect();
    let mut group = c.benchmark_group("frames");
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("decode_ack_and_stream", |b| {
        b.iter(|| {
            for frame in Frames::new(payload.clone(), PacketType::OneRtt) {
                black_box(frame.unwrap());
            }
        })
    });
    group.bench_function("encode_ack_and_stream", |b| {
        let mut buf = BytesMut::with_capacity(1500);
        b.iter(|| {
            buf.clear();
            for frame in &decoded {
                frame.encode(&mut buf);
            }
            black_box(&buf);
        })
    });
    group.finish();
}

fn ack_processing(c: &mut Criterion) {
    let mut group = c.benchmark_group("ack_processing");
    for ranges in [1usize, 32, 256] {
        group.bench_with_input(BenchmarkId::new("ranges", ranges), &ranges, |b, &ranges| {
            let now = Instant::now();
            b.iter_batched(
                || {
                    // 10k packets in flight; the ACK covers every other one
                    // near the top, in `ranges` ranges.
                    let mut sent: SentPackets<()> = SentPackets::new();
                    for pn in 0..10_000u64 {
                        sent.on_packet_sent(SentPacket {
                            pn,
                            time_sent: now,
                            size: 1200,
                            ack_eliciting: true,
                            in_flight: true,
                            payload: (),
                        });
                    }
                    let top = 9_999u64;
                    let acked: Vec<_> = (0..ranges as u64)
                        .map(|i| {
                            let end = top - 2 * i * 10;
                            end - 9..=end
                        })
                        .collect();
                    (sent, acked)
                },
                |(mut sent, acked)| {
                    let outcome = sent.on_ack_received(acked.iter().cloned(), |p| {
                        black_box(p);
                    });
                    black_box(outcome.unwrap());
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
    let _ = SpaceId::Data;
}

fn sent(pn: u64, now: Instant) -> SentPacket<()> {
    SentPacket {
        pn,
        time_sent: now,
        size: 1200,
        ack_eliciting: true,
        in_flight: true,
        payload: (),
    }
}

/// One steady-state step with `window` packets in flight: two packets sent,
/// an ACK whose one range reaches back to packet 0 (as a receiver's does
/// before it sees its ACKs acknowledged) newly acknowledging the two oldest,
/// then loss detection. O(1) per ACK: the time must not grow with `window`.
fn ack_steady_state(c: &mut Criterion) {
    let mut group = c.benchmark_group("ack_steady_state");
    let rtt = RttSnapshot {
        latest_rtt: Duration::from_millis(20),
        smoothed_rtt: Duration::from_millis(20),
        rttvar: Duration::from_millis(5),
        min_rtt: Duration::from_millis(20),
        first_sample_time: None,
    };
    for window in [1_000u64, 10_000, 100_000] {
        group.bench_with_input(
            BenchmarkId::new("in_flight", window),
            &window,
            |b, &window| {
                let now = Instant::now();
                let mut packets: SentPackets<()> = SentPackets::new();
                for pn in 0..window {
                    packets.on_packet_sent(sent(pn, now));
                }
                let mut next = window;
                b.iter(|| {
                    for _ in 0..2 {
                        packets.on_packet_sent(sent(next, now));
                        next += 1;
                    }
                    let oldest = next - window - 2;
                    let outcome = packets
                        .on_ack_received([0..=oldest + 1], |p| {
                            black_box(p);
                        })
                        .unwrap();
                    let lost = detect_lost(&mut packets, now, &rtt, Duration::ZERO, |p| {
                        black_box(p);
                    });
                    black_box((outcome, lost));
                });
            },
        );
    }
    group.finish();
}

fn reassembly(c: &mut Criterion) {
    let chunk = Bytes::from(vec![1u8; 1100]);
    let mut group = c.benchmark_group("stream_reassembly");
    group.throughput(Throughput::Bytes(1000 * 1100));
    group.bench_function("in_order_1000_chunks", |b| {
        b.iter(|| {
            let mut asm = Assembler::new();
            for i in 0..1000u64 {
                asm.insert(i * 1100, chunk.clone()).unwrap();
                while let Some(data) = asm.pop(usize::MAX) {
                    black_box(data);
                }
            }
        })
    });
    group.bench_function("reversed_1000_chunks", |b| {
        b.iter(|| {
            let mut asm = Assembler::new();
            for i in (0..1000u64).rev() {
                let _ = asm.insert(i * 1100, chunk.clone());
            }
            while let Some(data) = asm.pop(usize::MAX) {
                black_box(data);
            }
        })
    });
    // Every other chunk missing until the end, as after a burst of losses:
    // 1000 holes held at once, then filled.
    group.bench_function("holes_filled_1000_chunks", |b| {
        b.iter(|| {
            let mut asm = Assembler::new();
            for i in (1..2000u64).step_by(2) {
                let _ = asm.insert(i * 550, chunk.slice(..550));
            }
            for i in (0..2000u64).step_by(2) {
                let _ = asm.insert(i * 550, chunk.slice(..550));
                while let Some(data) = asm.pop(usize::MAX) {
                    black_box(data);
                }
            }
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    packet_protection,
    frames,
    ack_processing,
    ack_steady_state,
    reassembly
);
criterion_main!(benches);
