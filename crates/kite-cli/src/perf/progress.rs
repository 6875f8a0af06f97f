//! The perf client's progress line: when stderr is a terminal and the run
//! lasts longer than a second, one line on stderr rewritten every second
//! (bytes so far and the last second's rate, or handshakes so far), erased
//! when the run ends, so stdout keeps only the result line.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How often the line is rewritten; also how long a run goes before the
/// first line, so short runs print nothing.
const PERIOD: Duration = Duration::from_secs(1);

/// What the run has done so far, updated by its streams and connections.
#[derive(Default)]
pub struct Counters {
    /// Bytes read from the server.
    pub downloaded: AtomicU64,
    /// Bytes handed to the client's streams.
    pub uploaded: AtomicU64,
    /// Handshakes completed.
    pub handshakes: AtomicU64,
}

/// What the line shows.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Bytes each way and the rate.
    Transfer,
    /// Handshakes out of this many.
    Handshakes(u64),
}

/// A running progress line; [`Progress::finish`] erases it.
pub struct Progress {
    task: Option<JoinHandle<()>>,
    printed: Arc<AtomicBool>,
}

impl Progress {
    /// Starts the line for `counters` when stderr is a terminal; otherwise
    /// does nothing.
    pub fn start(kind: Kind, counters: Arc<Counters>) -> Progress {
        let printed = Arc::new(AtomicBool::new(false));
        let task = std::io::stderr()
            .is_terminal()
            .then(|| tokio::spawn(show(kind, counters, printed.clone())));
        Progress { task, printed }
    }

    /// Stops the line and erases it if it was ever drawn (dropping does
    /// the same, so an error line never lands after a progress line).
    pub fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            // The task writes only between awaits, so it never stops mid-line.
            task.abort();
        }
        if self.printed.load(Ordering::Relaxed) {
            let mut stderr = std::io::stderr();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        }
    }
}

async fn show(kind: Kind, counters: Arc<Counters>, printed: Arc<AtomicBool>) {
    let start = Instant::now();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + PERIOD, PERIOD);
    let mut last_total = 0u64;
    loop {
        ticks.tick().await;
        let secs = start.elapsed().as_secs_f64();
        let line = match kind {
            Kind::Transfer => {
                let down = counters.downloaded.load(Ordering::Relaxed);
                let up = counters.uploaded.load(Ordering::Relaxed);
                let rate = super::mbit_per_s((down + up).saturating_sub(last_total), 1.0);
                last_total = down + up;
                format!(
                    "perf {secs:.0} s: down {} up {}, {rate:.1} Mbit/s",
                    mib(down),
                    mib(up)
                )
            }
            Kind::Handshakes(total) => {
                let done = counters.handshakes.load(Ordering::Relaxed);
                format!("handshakes {secs:.0} s: {done}/{total}")
            }
        };
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "\r\x1b[2K{line}");
        let _ = stderr.flush();
        printed.store(true, Ordering::Relaxed);
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mebibytes_have_one_decimal() {
        assert_eq!(mib(0), "0.0 MiB");
        assert_eq!(mib(3 << 19), "1.5 MiB");
    }
}
