//! Session tickets for `echo-client --resume`: rustls' in-memory client
//! session cache, wrapped so the client can wait until a TLS 1.3 ticket has
//! arrived on its first connection before it resumes with 0-RTT.

use std::fmt;
use std::time::Duration;

use quinn::rustls::NamedGroup;
use quinn::rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use quinn::rustls::pki_types::ServerName;
use tokio::sync::watch;

/// Sessions kept; one server is resumed, which sends a few tickets.
const CACHED_SESSIONS: usize = 8;

/// A client session store that counts the TLS 1.3 tickets it was given.
pub struct TicketWatch {
    cache: ClientSessionMemoryCache,
    received: watch::Sender<u64>,
}

impl TicketWatch {
    /// An empty store.
    pub fn new() -> TicketWatch {
        TicketWatch {
            cache: ClientSessionMemoryCache::new(CACHED_SESSIONS),
            received: watch::Sender::new(0),
        }
    }

    /// Waits until a ticket arrived, at most `limit`; returns whether one did.
    pub async fn wait_for_ticket(&self, limit: Duration) -> bool {
        let mut rx = self.received.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|&n| n > 0))
            .await
            .is_ok_and(|seen| seen.is_ok())
    }
}

impl fmt::Debug for TicketWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketWatch")
            .field("received", &*self.received.borrow())
            .finish_non_exhaustive()
    }
}

impl ClientSessionStore for TicketWatch {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.cache.set_kx_hint(name, group);
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.cache.kx_hint(name)
    }

    fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.cache.set_tls12_session(name, value);
    }

    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.cache.tls12_session(name)
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.cache.remove_tls12_session(name);
    }

    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.cache.insert_tls13_ticket(name, value);
        self.received.send_modify(|n| *n += 1);
    }

    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.cache.take_tls13_ticket(name)
    }
}
