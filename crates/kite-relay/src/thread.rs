//! A relay on its own thread and single-threaded tokio runtime, for tests
//! and tools that embed one: start it, read its address, stop it and get
//! its [`Report`].

use crate::relay::{Relay, RelayConfig, RelayError, Report};
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use tokio::sync::oneshot;

/// A relay running on a thread of its own; stopped when dropped.
#[derive(Debug)]
pub struct RelayThread {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<Report, RelayError>>>,
}

impl RelayThread {
    /// Binds a relay for `config` and runs it on a new thread; returns once
    /// it is bound.
    pub fn spawn(config: RelayConfig) -> Result<RelayThread, RelayError> {
        let (bound_tx, bound_rx) = mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("kite-relay".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|source| RelayError::Io {
                        context: "starting the tokio runtime".into(),
                        source,
                    })?;
                runtime.block_on(async move {
                    let relay = match Relay::bind(config).await {
                        Ok(relay) => relay,
                        Err(e) => {
                            let _ = bound_tx.send(None);
                            return Err(e);
                        }
                    };
                    let _ = bound_tx.send(Some(relay.local_addr()));
                    // A dropped sender stops the relay too.
                    relay
                        .run(async move {
                            let _ = stop_rx.await;
                        })
                        .await
                })
            })
            .map_err(|source| RelayError::Io {
                context: "spawning the relay thread".into(),
                source,
            })?;
        match bound_rx.recv() {
            Ok(Some(local_addr)) => Ok(RelayThread {
                local_addr,
                stop: Some(stop),
                thread: Some(thread),
            }),
            // Binding failed (or the runtime did not start): its error is
            // the thread's result.
            _ => Err(join(thread).err().unwrap_or_else(|| RelayError::Io {
                context: "starting the relay".into(),
                source: io::Error::other("the relay thread ended before binding"),
            })),
        }
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the relay (if no bound stopped it first) and returns its report.
    pub fn stop(mut self) -> Result<Report, RelayError> {
        self.stop.take().map(|stop| stop.send(()));
        match self.thread.take() {
            Some(thread) => join(thread),
            None => Err(RelayError::Io {
                context: "stopping the relay".into(),
                source: io::Error::other("already stopped"),
            }),
        }
    }
}

impl Drop for RelayThread {
    fn drop(&mut self) {
        self.stop.take().map(|stop| stop.send(()));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's result; a panic becomes an error.
fn join(thread: JoinHandle<Result<Report, RelayError>>) -> Result<Report, RelayError> {
    thread.join().unwrap_or_else(|_| {
        Err(RelayError::Io {
            context: "the relay thread".into(),
            source: io::Error::other("panicked"),
        })
    })
}
