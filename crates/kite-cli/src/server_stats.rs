//! `--stats-ms` of `kite echo server`: a ticker that fires at once and then
//! every interval (never without the flag), and the `stats ...` line it
//! prints: the transport's live connection tasks, connections accepted and
//! ended, the runtime's live tasks, and datagrams dropped at full connection
//! queues. A soak run reads it to see every connection gone and no task left.

use kite::Transport;
use std::time::Duration;
use tokio::time::{Interval, MissedTickBehavior};

/// Fires the server's stats lines.
pub struct StatsTicker {
    interval: Option<Interval>,
}

impl StatsTicker {
    /// A ticker firing every `every`, the first time at once; `None` never fires.
    pub fn new(every: Option<Duration>) -> StatsTicker {
        let interval = every.map(|every| {
            let mut interval = tokio::time::interval(every);
            // A busy server prints late rather than in a burst.
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        StatsTicker { interval }
    }

    /// Completes at the next tick (never, without an interval).
    pub async fn tick(&mut self) {
        match &mut self.interval {
            Some(interval) => {
                interval.tick().await;
            }
            None => std::future::pending().await,
        }
    }

    /// Prints the stats line of `transport` with the server's counts.
    pub fn print(&self, transport: &Transport, accepted: u64, ended: u64) {
        let counts = Counts {
            live_connections: transport.open_connections(),
            accepted,
            ended,
            tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            dropped_datagrams: transport.dropped_datagrams(),
        };
        // stdout is line-buffered: each line reaches a pipe whole and at once.
        println!("{}", counts.line());
    }
}

/// What one stats line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    /// Connection tasks still running, draining ones included.
    live_connections: usize,
    /// Connections the listener handed out.
    accepted: u64,
    /// Accepted connections whose serving task ended.
    ended: u64,
    /// Tasks alive in the runtime: the transport's driver, connection tasks,
    /// the server's per-connection and per-stream tasks.
    tasks: usize,
    /// Datagrams dropped because their connection's queue was full.
    dropped_datagrams: u64,
}

impl Counts {
    fn line(&self) -> String {
        format!(
            "stats live_connections={} accepted={} ended={} tasks={} dropped_datagrams={}",
            self.live_connections, self.accepted, self.ended, self.tasks, self.dropped_datagrams
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_line_is_key_value_pairs() {
        let counts = Counts {
            live_connections: 3,
            accepted: 10,
            ended: 7,
            tasks: 12,
            dropped_datagrams: 0,
        };
        assert_eq!(
            counts.line(),
            "stats live_connections=3 accepted=10 ended=7 tasks=12 dropped_datagrams=0"
        );
    }

    #[tokio::test]
    async fn ticker_fires_at_once_then_every_interval() {
        let every = Duration::from_millis(40);
        let mut ticker = StatsTicker::new(Some(every));
        let start = tokio::time::Instant::now();
        ticker.tick().await;
        assert!(start.elapsed() < every, "first tick at once");
        ticker.tick().await;
        assert!(start.elapsed() >= every, "second tick an interval later");
    }

    #[tokio::test]
    async fn ticker_without_interval_never_fires() {
        let mut ticker = StatsTicker::new(None);
        let fired = tokio::time::timeout(Duration::from_millis(50), ticker.tick()).await;
        assert!(fired.is_err());
    }
}
