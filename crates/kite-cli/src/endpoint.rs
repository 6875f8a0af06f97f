//! Endpoint settings from the command line: `--retry` (a Retry, RFC 9000
//! §8.1.2, for every new connection, counted) and `--qlog-dir` or `QLOGDIR`
//! (one qlog file per connection, `<odcid>_<client|server>.sqlog`, from
//! kite-proto's `QlogFactory`), turned into the `EndpointConfig` of the
//! transports the commands bind.

use kite::{EndpointConfig, Transport};
use kite_proto::trace::qlog::{QLOGDIR_ENV, QlogFactory};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a command asked of its endpoint.
#[derive(Default)]
pub struct EndpointOptions {
    /// Validate every client's address with a Retry first.
    pub retry: bool,
    /// Directory for qlog files; `None`: `QLOGDIR`, else no qlog.
    pub qlog_dir: Option<PathBuf>,
}

/// Counts the Retry packets an endpoint decided to send.
#[derive(Clone, Default)]
pub struct RetryCount(Arc<AtomicU64>);

impl RetryCount {
    /// Retries so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl EndpointOptions {
    /// The directory qlog files go to: the flag's, else `QLOGDIR`'s if set
    /// and not empty.
    pub fn qlog_dir(&self) -> Option<PathBuf> {
        self.qlog_dir.clone().or_else(|| {
            std::env::var_os(QLOGDIR_ENV)
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from)
        })
    }

    /// The endpoint configuration, and the Retry counter when `--retry` was
    /// given. Creates the qlog directory now, so a bad path is one error at
    /// startup rather than connections silently untraced.
    pub fn config(&self) -> Result<(EndpointConfig, Option<RetryCount>), String> {
        let mut config = EndpointConfig::default();
        if let Some(dir) = self.qlog_dir() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("creating the qlog directory {}: {e}", dir.display()))?;
            config.tracer_factory = Some(Arc::new(QlogFactory::new(dir)));
        }
        let retries = self.retry.then(RetryCount::default);
        if let Some(count) = &retries {
            let count = count.clone();
            // The endpoint asks only about Initials that carry no valid token,
            // and sends a Retry whenever the answer is yes: each call is one
            // Retry. With a Retry token the second Initial is not asked about.
            config.verify_source_address = Some(Arc::new(move |_: SocketAddr| {
                count.0.fetch_add(1, Ordering::Relaxed);
                true
            }));
        }
        Ok((config, retries))
    }

    /// A transport on a fresh UDP socket bound to `local`.
    pub async fn bind(&self, local: SocketAddr) -> Result<(Transport, Option<RetryCount>), String> {
        self.bind_with(local, |_| {}).await
    }

    /// [`bind`](Self::bind), with `adjust` changing the endpoint
    /// configuration first (e.g. a command's own accept limit).
    pub async fn bind_with(
        &self,
        local: SocketAddr,
        adjust: impl FnOnce(&mut EndpointConfig),
    ) -> Result<(Transport, Option<RetryCount>), String> {
        let (mut config, retries) = self.config()?;
        adjust(&mut config);
        let socket = tokio::net::UdpSocket::bind(local)
            .await
            .map_err(|e| format!("binding {local}: {e}"))?;
        Ok((Transport::with_config(socket, config), retries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_flag_installs_a_counting_policy() {
        let options = EndpointOptions {
            retry: true,
            qlog_dir: None,
        };
        let Ok((config, Some(count))) = options.config() else {
            panic!("--retry gives a counter");
        };
        let verify = config
            .verify_source_address
            .unwrap_or_else(|| panic!("no policy"));
        let addr = SocketAddr::from(([127, 0, 0, 1], 4433));
        assert!(verify(addr) && verify(addr));
        assert_eq!(count.get(), 2);
    }

    #[test]
    fn without_retry_the_default_policy_stays() {
        let Ok((config, count)) = EndpointOptions::default().config() else {
            panic!("default options");
        };
        assert!(count.is_none());
        assert!(config.verify_source_address.is_none());
    }

    #[test]
    fn qlog_flag_installs_a_factory_and_creates_the_directory() {
        let dir = std::env::temp_dir().join(format!("kite-cli-qlog-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = EndpointOptions {
            retry: false,
            qlog_dir: Some(dir.join("nested")),
        };
        let Ok((config, _)) = options.config() else {
            panic!("a writable directory");
        };
        assert!(config.tracer_factory.is_some());
        assert!(dir.join("nested").is_dir());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
