//! The qlog file: JSON-SEQ framing and header, times, failing sinks, and the
//! per-connection file factory.

use super::super::{QlogFactory, QlogWriter, civil_from_days, rfc3339};
use crate::Side;
use crate::packet::PacketType;
use crate::trace::tests::{cid, dropped, stream_frame};
use crate::trace::*;
use serde_json::{Value, json};
use std::io;
use std::time::{Duration, Instant, SystemTime};

/// Splits JSON-SEQ text into records, checking RFC 7464 framing, and parses each.
fn parse_json_seq(bytes: &[u8]) -> Vec<Value> {
    assert_eq!(bytes.first(), Some(&0x1e), "a sequence starts with RS");
    bytes[1..]
        .split(|&b| b == 0x1e)
        .map(|record| {
            assert_eq!(record.last(), Some(&b'\n'), "each record ends with LF");
            serde_json::from_slice(record).unwrap()
        })
        .collect()
}

#[test]
fn written_trace_is_json_seq_with_a_qlog_header() {
    let odcid = cid(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_728_555_010);
    let mut writer = QlogWriter::new(Vec::new(), Some(Side::Server), Some(&odcid), Some(wall));
    let start = Instant::now();
    let frames = [stream_frame()];
    let sent = TraceEvent::PacketSent(PacketInfo {
        packet_type: PacketType::OneRtt,
        pn: 1,
        size: 100,
        frames: &frames,
    });
    writer.event(start, &sent);
    writer.event(start + Duration::from_micros(1500), &sent);
    let both_keys = TraceEvent::KeyUpdated(KeyEvent {
        level: KeyLevel::Handshake,
        direction: KeyDirection::Both,
        generation: 0,
        trigger: KeyTrigger::Tls,
    });
    writer.event(start + Duration::from_millis(2), &both_keys);

    let records = parse_json_seq(writer.get_ref());
    assert_eq!(records.len(), 1 + 2 + 2);
    let header = &records[0];
    assert_eq!(
        header["file_schema"],
        "urn:ietf:params:qlog:file:sequential"
    );
    assert_eq!(header["serialization_format"], "application/qlog+json-seq");
    // What qvis needs to pick its JSON-SEQ loader.
    assert_eq!(header["qlog_version"], "0.3");
    assert_eq!(header["qlog_format"], "JSON-SEQ");
    let trace = &header["trace"];
    assert_eq!(trace["vantage_point"]["type"], "server");
    assert_eq!(
        trace["event_schemas"],
        json!(["urn:ietf:params:qlog:events:quic-13"])
    );
    let common = &trace["common_fields"];
    assert_eq!(common["group_id"], "123456789abcdef0");
    assert_eq!(common["time_format"], "relative_to_epoch");
    assert_eq!(
        common["reference_time"],
        json!({
            "clock_type": "monotonic",
            "epoch": "unknown",
            "wall_clock_time": "2024-10-10T10:10:10.000Z",
        })
    );
    // The draft wants the schema and format within the first 256 bytes.
    let head = &writer.get_ref()[..256];
    let head = String::from_utf8_lossy(head);
    assert!(head.contains("file_schema") && head.contains("serialization_format"));

    let times: Vec<f64> = records[1..]
        .iter()
        .map(|r| r["time"].as_f64().unwrap())
        .collect();
    assert_eq!(times, [0.0, 1.5, 2.0, 2.0]);
    assert_eq!(records[1]["name"], "quic:packet_sent");
    assert_eq!(records[1]["data"]["frames"][0]["stream_id"], 4);
    assert_eq!(records[3]["data"]["key_type"], "client_handshake_secret");
    assert_eq!(records[4]["data"]["key_type"], "server_handshake_secret");
}

#[test]
fn event_before_the_first_gets_a_negative_time() {
    let mut writer = QlogWriter::new(Vec::new(), Some(Side::Client), None, None);
    let t = Instant::now() + Duration::from_secs(1);
    let event = TraceEvent::PacketDropped(dropped(DropReason::Duplicate));
    writer.event(t, &event);
    writer.event(t - Duration::from_millis(3), &event);
    let records = parse_json_seq(writer.get_ref());
    assert_eq!(records[2]["time"], -3.0);
    // No wall clock given, no group: the header leaves them out.
    let common = &records[0]["trace"]["common_fields"];
    assert!(common.get("group_id").is_none());
    assert!(common["reference_time"].get("wall_clock_time").is_none());
}

/// A sink that accepts `budget` bytes, then fails every call, counting them.
struct FailingSink {
    budget: usize,
    written: Vec<u8>,
    calls_after_failure: usize,
    flushes: usize,
}

impl io::Write for FailingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            self.calls_after_failure += 1;
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

#[test]
fn failing_sink_silences_the_writer_without_panicking() {
    let sink = FailingSink {
        budget: 0,
        written: Vec::new(),
        calls_after_failure: 0,
        flushes: 0,
    };
    let mut writer = QlogWriter::new(sink, Some(Side::Client), None, None);
    assert!(writer.has_failed(), "the header write failed");
    let now = Instant::now();
    for _ in 0..10 {
        writer.event(
            now,
            &TraceEvent::PacketDropped(dropped(DropReason::Duplicate)),
        );
    }
    writer.flush();
    assert_eq!(
        writer.get_ref().calls_after_failure,
        1,
        "nothing after the first error"
    );
    assert_eq!(writer.get_ref().flushes, 0);
}

#[test]
fn sink_failing_mid_trace_keeps_earlier_records_whole() {
    let sink = FailingSink {
        budget: 1000,
        written: Vec::new(),
        calls_after_failure: 0,
        flushes: 0,
    };
    let mut writer = QlogWriter::new(sink, Some(Side::Client), None, None);
    let now = Instant::now();
    let mut events = 0;
    while !writer.has_failed() {
        writer.event(
            now,
            &TraceEvent::PacketDropped(dropped(DropReason::Duplicate)),
        );
        events += 1;
        assert!(events < 100, "the budget runs out");
    }
    writer.event(
        now,
        &TraceEvent::PacketDropped(dropped(DropReason::Duplicate)),
    );
    assert_eq!(writer.get_ref().calls_after_failure, 1);
    // Everything before the failing record parses; the failing one may be cut.
    let written = writer.get_ref().written.clone();
    let last_rs = written.iter().rposition(|&b| b == 0x1e).unwrap();
    let records = parse_json_seq(&written[..last_rs]);
    assert!(records.len() >= 2);
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("kite-trace-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn factory_writes_one_file_per_connection_named_by_odcid_and_side() {
    let dir = TempDir::new("factory");
    // The directory does not exist yet: the factory creates it.
    let factory = QlogFactory::new(dir.0.join("nested"));
    let odcid = cid(&[0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
    let path = factory.connection_path(Side::Client, &odcid);
    assert_eq!(
        path,
        dir.0.join("nested").join("deadbeef00010203_client.sqlog")
    );
    assert_eq!(
        factory
            .connection_path(Side::Server, &odcid)
            .file_name()
            .unwrap(),
        "deadbeef00010203_server.sqlog"
    );

    let mut tracer = factory.new_connection(Side::Client, &odcid).unwrap();
    let event = TraceEvent::StateChanged(StateChanged {
        old: None,
        new: ConnectionState::Attempted,
    });
    tracer.event(Instant::now(), &event);
    drop(tracer); // flushes

    let records = parse_json_seq(&std::fs::read(&path).unwrap());
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["trace"]["vantage_point"]["type"], "client");
    assert_eq!(
        records[0]["trace"]["common_fields"]["group_id"],
        "deadbeef00010203"
    );
    assert!(records[0]["trace"]["common_fields"]["reference_time"]["wall_clock_time"].is_string());
    assert_eq!(records[1]["name"], "quic:connection_state_updated");

    let endpoint = factory.endpoint_tracer().unwrap();
    drop(endpoint);
    let endpoint_files: Vec<_> = std::fs::read_dir(factory.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("endpoint_"))
        .collect();
    assert_eq!(endpoint_files.len(), 1);
    assert!(endpoint_files[0].ends_with(".sqlog"));
}

#[test]
fn factory_that_cannot_create_files_installs_no_tracer() {
    let dir = TempDir::new("blocked");
    // A regular file where the directory should be.
    std::fs::write(&dir.0, b"not a directory").unwrap();
    let factory = QlogFactory::new(&dir.0);
    assert!(
        factory
            .new_connection(Side::Server, &cid(&[1; 8]))
            .is_none()
    );
    assert!(
        factory
            .new_connection(Side::Server, &cid(&[2; 8]))
            .is_none()
    );
    let _ = std::fs::remove_file(&dir.0);
}

/// RFC 3339 dates come out right across leap years and century rules.
#[test]
fn civil_dates_match_known_days() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(59), (1970, 3, 1));
    // 2000 is a leap year (divisible by 400): 2000-02-29 exists.
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(11_017), (2000, 3, 1));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(civil_from_days(20_005), (2024, 10, 9));
    // 2100 is not a leap year (divisible by 100, not by 400).
    assert_eq!(civil_from_days(47_540), (2100, 2, 28));
    assert_eq!(civil_from_days(47_541), (2100, 3, 1));
}

#[test]
fn wall_clock_time_is_rfc3339_utc_with_millis() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_728_555_010_123);
    assert_eq!(rfc3339(t).as_deref(), Some("2024-10-10T10:10:10.123Z"));
    assert_eq!(
        rfc3339(SystemTime::UNIX_EPOCH).as_deref(),
        Some("1970-01-01T00:00:00.000Z")
    );
}
