//! qlog output. [`records`] turns a [`TraceEvent`] into qlog events named and shaped as
//! draft-ietf-quic-qlog-quic-events (draft 13) defines them; [`QlogWriter`] writes them
//! as a JSON Text Sequence (RFC 7464) under the QlogFileSeq header of
//! draft-ietf-quic-qlog-main-schema; [`QlogFactory`] opens one such file per connection
//! in a directory, as the main schema's QLOGDIR convention suggests.
//!
//! This is the one place in kite-proto that does I/O, and only as a sink the user
//! installs: writes never reach the protocol, and the first failure silences the file.

mod events;
#[cfg(test)]
mod tests;

pub use events::records;

use super::{LOG_TARGET, TraceEvent, Tracer, TracerFactory};
use crate::cid::ConnectionId;
use crate::stream_id::Side;
use events::{hex, ms};
use serde_json::{Map, Value, json};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

/// The log file schema of a JSON-SEQ qlog file (main schema, QlogFileSeq).
pub const FILE_SCHEMA: &str = "urn:ietf:params:qlog:file:sequential";
/// The media type of a JSON-SEQ qlog file (main schema, JSON-SEQ mapping).
pub const SERIALIZATION_FORMAT: &str = "application/qlog+json-seq";
/// The QUIC event schema. Until the events draft is an RFC, implementations must append
/// "-" and the draft number to its URI; the text in `spec/` is draft 13 (its change log
/// starts "Since draft-ietf-qlog-quic-events-12"). Change with the draft followed.
pub const QUIC_EVENT_SCHEMA: &str = "urn:ietf:params:qlog:events:quic-13";
/// Header field for qvis, which predates `file_schema`: its JSON-SEQ loader refuses a
/// file whose header lacks `qlog_version`, and accepts "0.3" as its newest version.
/// Readers following the current draft ignore the field.
pub const QVIS_QLOG_VERSION: &str = "0.3";
/// Header field for qvis: its JSON-SEQ loader also requires `qlog_format: "JSON-SEQ"`.
pub const QVIS_QLOG_FORMAT: &str = "JSON-SEQ";
/// File extension for JSON-SEQ qlog files (main schema: "SHOULD be .sqlog"); qvis picks
/// its JSON-SEQ loader by it.
pub const FILE_EXTENSION: &str = "sqlog";
/// Environment variable naming the directory for per-connection qlog files (main
/// schema, "Set file output destination via an environment variable").
pub const QLOGDIR_ENV: &str = "QLOGDIR";
/// RFC 7464 §2: every JSON text in a sequence is preceded by ASCII Record Separator.
const RECORD_SEPARATOR: u8 = 0x1e;
/// The name in every trace's `vantage_point`.
const VANTAGE_NAME: &str = "kite";

/// One qlog event, without its time: the `name` and `data` fields.
#[derive(Debug, Clone, PartialEq)]
pub struct QlogRecord {
    /// Namespace and event type, e.g. `quic:packet_sent`.
    pub name: &'static str,
    /// The event's `data` object.
    pub data: Value,
}

impl QlogRecord {
    fn new(name: &'static str, data: Value) -> QlogRecord {
        QlogRecord { name, data }
    }
}

/// Writes one trace as a qlog JSON-SEQ file: a QlogFileSeq header record, then one
/// record per event, each `0x1E` + JSON + `\n` (RFC 7464 §2).
///
/// Event times are milliseconds since the first event (`time_format`
/// "relative_to_epoch" against a monotonic reference whose epoch is that event). I/O
/// errors are logged once through `tracing::warn!`; after that the writer discards
/// everything. It flushes when the connection closes and when dropped.
pub struct QlogWriter<W: Write + Send> {
    out: W,
    side: Option<Side>,
    original_dcid: Option<ConnectionId>,
    /// The instant of the first event: time zero of the trace.
    reference: Option<Instant>,
    failed: bool,
    /// One record, assembled before a single write so a failure never splits it.
    buf: Vec<u8>,
}

impl<W: Write + Send> QlogWriter<W> {
    /// Starts a trace on `out`, writing its header at once. `side` is the vantage point
    /// (`None` for an endpoint trace), `original_dcid` the connection's group ID, and
    /// `wall_clock` the approximate calendar time of the first event, if known.
    pub fn new(
        out: W,
        side: Option<Side>,
        original_dcid: Option<&ConnectionId>,
        wall_clock: Option<SystemTime>,
    ) -> QlogWriter<W> {
        let mut writer = QlogWriter {
            out,
            side,
            original_dcid: original_dcid.copied(),
            reference: None,
            failed: false,
            buf: Vec::new(),
        };
        let header = writer.header(wall_clock);
        writer.buf.push(RECORD_SEPARATOR);
        if serde_json::to_writer(&mut writer.buf, &header).is_ok() {
            writer.buf.push(b'\n');
            writer.write_buf();
        }
        writer
    }

    /// The sink written to.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Whether a write failed, silencing the writer.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Flushes the sink, unless the writer already failed.
    pub fn flush(&mut self) {
        if self.failed {
            return;
        }
        if let Err(err) = self.out.flush() {
            self.fail(&err);
        }
    }

    /// The QlogFileSeq header: the draft's fields, qvis's two, and one TraceSeq.
    fn header(&self, wall_clock: Option<SystemTime>) -> Value {
        let mut reference_time = Map::new();
        reference_time.insert("clock_type".into(), "monotonic".into());
        // Main schema: a monotonic clock's epoch must be "unknown".
        reference_time.insert("epoch".into(), "unknown".into());
        if let Some(text) = wall_clock.and_then(rfc3339) {
            reference_time.insert("wall_clock_time".into(), text.into());
        }
        let mut common_fields = Map::new();
        if let Some(odcid) = &self.original_dcid {
            // The events draft recommends the ODCID as group ID.
            common_fields.insert("group_id".into(), hex(odcid).into());
        }
        common_fields.insert("time_format".into(), "relative_to_epoch".into());
        common_fields.insert("reference_time".into(), reference_time.into());
        let vantage = match self.side {
            Some(Side::Client) => "client",
            Some(Side::Server) => "server",
            None => "unknown",
        };
        json!({
            "file_schema": FILE_SCHEMA,
            "serialization_format": SERIALIZATION_FORMAT,
            "qlog_version": QVIS_QLOG_VERSION,
            "qlog_format": QVIS_QLOG_FORMAT,
            "title": "kite qlog",
            "trace": {
                "common_fields": common_fields,
                "vantage_point": { "name": VANTAGE_NAME, "type": vantage },
                "event_schemas": [QUIC_EVENT_SCHEMA],
            },
        })
    }

    /// Milliseconds from the first event to `now`; negative for an event that claims
    /// to precede it.
    fn relative_ms(&mut self, now: Instant) -> f64 {
        let reference = *self.reference.get_or_insert(now);
        match now.checked_duration_since(reference) {
            Some(after) => ms(after),
            None => -ms(reference.saturating_duration_since(now)),
        }
    }

    fn write_record(&mut self, time: f64, record: &QlogRecord) {
        self.buf.clear();
        if encode_record(&mut self.buf, time, record).is_ok() {
            self.write_buf();
        }
    }

    fn write_buf(&mut self) {
        if let Err(err) = self.out.write_all(&self.buf) {
            self.fail(&err);
        }
    }

    fn fail(&mut self, err: &io::Error) {
        self.failed = true;
        tracing::warn!(
            target: LOG_TARGET,
            side = ?self.side,
            odcid = ?self.original_dcid,
            error = %err,
            "writing qlog failed; no further events are written to this trace"
        );
    }
}

impl<W: Write + Send> Tracer for QlogWriter<W> {
    fn event(&mut self, now: Instant, event: &TraceEvent<'_>) {
        if self.failed {
            return;
        }
        let time = self.relative_ms(now);
        for record in records(event, self.side) {
            if self.failed {
                return;
            }
            self.write_record(time, &record);
        }
        // Keep the end of a connection on disk even if the process dies soon after.
        if matches!(event, TraceEvent::ConnectionClosed(_)) {
            self.flush();
        }
    }
}

impl<W: Write + Send> Drop for QlogWriter<W> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl<W: Write + Send> std::fmt::Debug for QlogWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QlogWriter")
            .field("side", &self.side)
            .field("original_dcid", &self.original_dcid)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Appends one JSON-SEQ event record, `time` first so the file reads in order.
fn encode_record(buf: &mut Vec<u8>, time: f64, record: &QlogRecord) -> serde_json::Result<()> {
    buf.push(RECORD_SEPARATOR);
    buf.extend_from_slice(b"{\"time\":");
    serde_json::to_writer(&mut *buf, &time)?;
    buf.extend_from_slice(b",\"name\":");
    serde_json::to_writer(&mut *buf, record.name)?;
    buf.extend_from_slice(b",\"data\":");
    serde_json::to_writer(&mut *buf, &record.data)?;
    buf.extend_from_slice(b"}\n");
    Ok(())
}

/// A qlog trace written to a buffered file.
pub type QlogFile = QlogWriter<BufWriter<File>>;

/// Writes each connection's trace to `<dir>/<odcid hex>_<client|server>.sqlog`, and an
/// endpoint trace to `<dir>/endpoint_<pid>_<n>.sqlog`. Creates the directory on first
/// use. A file that cannot be created is logged (once per factory) and the connection
/// runs untraced.
#[derive(Debug)]
pub struct QlogFactory {
    dir: PathBuf,
    /// Endpoint traces opened so far, numbering their files.
    endpoint_traces: AtomicU64,
    /// Whether a creation failure was already logged.
    warned: AtomicBool,
}

impl QlogFactory {
    /// A factory writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> QlogFactory {
        QlogFactory {
            dir: dir.into(),
            endpoint_traces: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// A factory writing into the directory named by `QLOGDIR`, if it is set and not
    /// empty.
    pub fn from_env() -> Option<QlogFactory> {
        std::env::var_os(QLOGDIR_ENV)
            .filter(|dir| !dir.is_empty())
            .map(QlogFactory::new)
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a connection's trace goes to: named by the original Destination
    /// Connection ID and the vantage point, as the events draft recommends.
    pub fn connection_path(&self, side: Side, original_dcid: &ConnectionId) -> PathBuf {
        let side = if side.is_client() { "client" } else { "server" };
        let id = if original_dcid.is_empty() {
            "empty".to_owned()
        } else {
            hex(original_dcid)
        };
        self.dir.join(format!("{id}_{side}.{FILE_EXTENSION}"))
    }

    /// Creates `path` (and the directory), or logs why not.
    fn create(&self, path: &Path) -> Option<BufWriter<File>> {
        let file = std::fs::create_dir_all(&self.dir).and_then(|()| File::create(path));
        match file {
            Ok(file) => Some(BufWriter::new(file)),
            Err(err) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: LOG_TARGET,
                        path = %path.display(),
                        error = %err,
                        "cannot create qlog file; connections run untraced"
                    );
                }
                None
            }
        }
    }
}

impl TracerFactory for QlogFactory {
    fn new_connection(&self, side: Side, original_dcid: &ConnectionId) -> Option<Box<dyn Tracer>> {
        let out = self.create(&self.connection_path(side, original_dcid))?;
        let writer = QlogWriter::new(
            out,
            Some(side),
            Some(original_dcid),
            Some(SystemTime::now()),
        );
        Some(Box::new(writer))
    }

    fn endpoint_tracer(&self) -> Option<Box<dyn Tracer>> {
        let n = self.endpoint_traces.fetch_add(1, Ordering::Relaxed);
        let name = format!("endpoint_{}_{n}.{FILE_EXTENSION}", std::process::id());
        let out = self.create(&self.dir.join(name))?;
        Some(Box::new(QlogWriter::new(
            out,
            None,
            None,
            Some(SystemTime::now()),
        )))
    }
}

/// `t` as an RFC 3339 UTC date-time with milliseconds, e.g. "2024-10-10T10:10:10.000Z";
/// `None` before 1970.
fn rfc3339(t: SystemTime) -> Option<String> {
    const SECS_PER_DAY: u64 = 86_400;
    let since_epoch = t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
    let rem = secs % SECS_PER_DAY;
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    ))
}

/// The proleptic Gregorian (year, month, day) `days` after 1970-01-01, counting in
/// 400-year eras of 146,097 days from a year that starts in March, so the leap day is
/// the last day of its year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    /// Days from 0000-03-01 to 1970-01-01.
    const EPOCH_SHIFT: u64 = 719_468;
    const DAYS_PER_ERA: u64 = 146_097;
    let z = days + EPOCH_SHIFT;
    let era = z / DAYS_PER_ERA;
    let day_of_era = z % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March, 0..=11, via the 153-days-per-5-months pattern.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
