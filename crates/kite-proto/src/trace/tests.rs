//! Tests of the trace events themselves: frame summaries, metrics, and the tracers
//! that are not qlog. Helpers here are shared with the qlog tests.

use super::*;
use crate::frame::{Crypto, Frame, Stream};
use crate::stream_id::StreamId;

pub(super) fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

pub(super) fn stream_frame() -> FrameSummary {
    FrameSummary::from_frame(&Frame::Stream(Stream {
        id: StreamId(4),
        offset: 1000,
        fin: true,
        data: bytes::Bytes::from_static(b"hello"),
    }))
}

#[test]
fn noop_tracer_ignores_events_and_installs_no_tracer() {
    let mut tracer = NoopTracer;
    tracer.event(
        Instant::now(),
        &TraceEvent::PacketDropped(dropped(DropReason::Duplicate)),
    );
    assert!(
        NoopTracer
            .new_connection(Side::Server, &cid(&[1; 8]))
            .is_none()
    );
    assert!(NoopTracer.endpoint_tracer().is_none());
}

pub(super) fn dropped(reason: DropReason) -> PacketDropped {
    PacketDropped {
        packet_type: Some(PacketType::Handshake),
        pn: Some(7),
        size: 1200,
        reason,
    }
}

#[test]
fn frame_summaries_keep_key_fields_but_no_payload() {
    assert_eq!(
        stream_frame(),
        FrameSummary::Stream {
            id: StreamId(4),
            offset: 1000,
            len: 5,
            fin: true
        }
    );
    let crypto = Frame::Crypto(Crypto {
        offset: 10,
        data: bytes::Bytes::from_static(&[0; 300]),
    });
    assert_eq!(
        FrameSummary::from(&crypto),
        FrameSummary::Crypto {
            offset: 10,
            len: 300
        }
    );
    let ack = crate::frame::Ack::from_ranges([10..=12, 5..=5, 0..=2], 40, None).unwrap();
    let FrameSummary::Ack(summary) = FrameSummary::from_frame(&Frame::Ack(ack)) else {
        panic!("not an ACK summary");
    };
    assert_eq!(summary.largest, 12);
    assert_eq!(summary.range_count, 3);
    assert_eq!(summary.delay, 40);
    assert_eq!(
        summary.ranges().collect::<Vec<_>>(),
        [10..=12, 5..=5, 0..=2]
    );
    assert!(!summary.is_truncated());
}

#[test]
fn ack_summary_keeps_only_the_highest_ranges() {
    let ranges = (0..20u64).rev().map(|i| i * 3..=i * 3 + 1);
    let summary = AckSummary::new(ranges, 0, None);
    assert_eq!(summary.largest, 58);
    assert_eq!(summary.range_count, 20);
    assert_eq!(summary.ranges().len(), TRACED_ACK_RANGES);
    assert_eq!(summary.ranges().next(), Some(57..=58));
    assert!(summary.is_truncated());
}

#[test]
fn ack_delay_is_scaled_only_when_the_exponent_is_known() {
    let summary = AckSummary::new([0..=0], 100, None);
    assert_eq!(summary.ack_delay(), None);
    // RFC 9000 §19.3: delay × 2^exponent microseconds.
    let scaled = summary.with_delay_exponent(3);
    assert_eq!(scaled.ack_delay(), Some(Duration::from_micros(800)));
    let huge = AckSummary::new([0..=0], u64::MAX, None).with_delay_exponent(20);
    assert_eq!(huge.ack_delay(), Some(Duration::from_micros(u64::MAX)));
}

#[test]
fn metrics_changed_since_keeps_only_changed_fields() {
    let before = RecoveryMetrics {
        smoothed_rtt: Some(Duration::from_millis(30)),
        congestion_window: Some(12_000),
        bytes_in_flight: Some(3000),
        ..RecoveryMetrics::default()
    };
    let now = RecoveryMetrics {
        bytes_in_flight: Some(4000),
        ..before
    };
    let diff = now.changed_since(&before);
    assert_eq!(
        diff,
        RecoveryMetrics {
            bytes_in_flight: Some(4000),
            ..RecoveryMetrics::default()
        }
    );
    assert!(now.changed_since(&now).is_empty());
}

/// Counts the events it sees.
struct Counter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Tracer for Counter {
    fn event(&mut self, _: Instant, _: &TraceEvent<'_>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

struct CounterFactory(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl TracerFactory for CounterFactory {
    fn new_connection(&self, _: Side, _: &ConnectionId) -> Option<Box<dyn Tracer>> {
        Some(Box::new(Counter(self.0.clone())))
    }
}

#[test]
fn both_feeds_each_event_to_two_tracers() {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let factory = Both(CounterFactory(count.clone()), CounterFactory(count.clone()));
    let mut tracer = factory.new_connection(Side::Client, &cid(&[1; 8])).unwrap();
    tracer.event(
        Instant::now(),
        &TraceEvent::PacketDropped(dropped(DropReason::Duplicate)),
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 2);
    // With one side installing nothing, the other's tracer is used alone.
    let half = Both(NoopTracer, CounterFactory(count.clone()));
    assert!(half.new_connection(Side::Client, &cid(&[1; 8])).is_some());
    assert!(half.endpoint_tracer().is_none());
}

#[test]
fn tracing_tracer_logs_every_event_kind_without_panicking() {
    let mut tracer = TracingTracer::new(Side::Server, &cid(&[5; 8]));
    let params = TransportParameters::default();
    let frames = [stream_frame()];
    let now = Instant::now();
    let events = [
        TraceEvent::PacketSent(PacketInfo {
            packet_type: PacketType::OneRtt,
            pn: 1,
            size: 10,
            frames: &frames,
        }),
        TraceEvent::PacketDropped(dropped(DropReason::QueueFull)),
        TraceEvent::MetricsUpdated(RecoveryMetrics::default()),
        TraceEvent::ParametersSet(ParametersSet {
            initiator: Initiator::Local,
            params: &params,
        }),
        TraceEvent::ConnectionClosed(ConnectionClosed {
            initiator: Initiator::Remote,
            error: CloseError::Application(1),
            reason: b"\xff",
            trigger: CloseTrigger::Unspecified,
        }),
    ];
    let subscriber = CountingSubscriber::default();
    let lines = subscriber.events.clone();
    tracing::subscriber::with_default(subscriber, || {
        for event in &events {
            tracer.event(now, event);
            TracingTracer::endpoint().event(now, event);
        }
        // With DEBUG enabled, the factory installs tracers.
        assert!(
            TracingFactory
                .new_connection(Side::Client, &cid(&[1; 8]))
                .is_some()
        );
        assert!(TracingFactory.endpoint_tracer().is_some());
    });
    assert_eq!(
        lines.load(std::sync::atomic::Ordering::Relaxed),
        2 * events.len()
    );
}

/// A `tracing` subscriber that enables everything, formats every field, and counts events.
#[derive(Default)]
struct CountingSubscriber {
    events: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Formats each field as a subscriber writing logs would.
struct FormatAll(String);

impl tracing::field::Visit for FormatAll {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0 += &format!("{field}={value:?} ");
    }
}

impl tracing::Subscriber for CountingSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = FormatAll(String::new());
        event.record(&mut line);
        assert!(line.0.contains("conn="), "{}", line.0);
        self.events
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
