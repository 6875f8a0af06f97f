//! Ending a connection (RFC 9000 §10): immediate close by us (the closing
//! state, repeating CONNECTION_CLOSE when packets keep arriving), close by
//! the peer (the draining state, silent), idle timeout and silent loss; both
//! closing and draining last three PTOs before the connection is drained.

use bytes::Bytes;
use std::time::Instant;

use super::timer::Timer;
use super::{Connection, ConnectionError, EndpointEventInner, Event, State};
use crate::error::TransportError;
use crate::packet::SpaceId;
use crate::trace::ConnectionState;

/// CONNECTION_CLOSE datagrams sent at most in the closing state; more would
/// let a peer use us as a reflector (RFC 9000 §10.2.1 asks for a limit).
const MAX_CLOSE_DATAGRAMS: u32 = 16;

/// What a CONNECTION_CLOSE we send says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloseFrame {
    /// A transport error (frame type 0x1c).
    Transport(TransportError),
    /// The application's close (frame type 0x1d).
    Application {
        /// Application error code.
        code: u64,
        /// Reason phrase.
        reason: Bytes,
    },
}

/// The closing and draining states and what they need (RFC 9000 §10.2).
#[derive(Debug)]
pub(crate) struct CloseState {
    /// The frame to repeat while closing; `None` while draining.
    pub frame: Option<CloseFrame>,
    /// A datagram arrived: answer it with the close frame once.
    send_pending: bool,
    /// Close datagrams sent so far.
    sent: u32,
}

impl CloseState {
    fn closing(frame: CloseFrame) -> Self {
        CloseState {
            frame: Some(frame),
            send_pending: true,
            sent: 0,
        }
    }

    fn draining() -> Self {
        CloseState {
            frame: None,
            send_pending: false,
            sent: 0,
        }
    }

    /// Whether a CONNECTION_CLOSE datagram should go out now.
    pub fn wants_to_send(&self) -> bool {
        self.frame.is_some() && self.send_pending && self.sent < MAX_CLOSE_DATAGRAMS
    }

    /// A datagram arrived while closing (RFC 9000 §10.2.1: answer it).
    pub fn on_datagram_received(&mut self) {
        self.send_pending = true;
    }

    /// A close datagram went out.
    pub fn on_close_sent(&mut self) {
        self.send_pending = false;
        self.sent += 1;
    }
}

impl Connection {
    /// Closes the connection with an application error code and reason
    /// (CONNECTION_CLOSE of type 0x1d; RFC 9000 §10.2).
    pub fn close(&mut self, now: Instant, error_code: u64, reason: &[u8]) {
        if !self.is_usable() {
            return;
        }
        self.enter_closing(
            now,
            CloseFrame::Application {
                code: error_code,
                reason: Bytes::copy_from_slice(reason),
            },
            ConnectionError::LocallyClosed,
        );
    }

    /// A protocol violation found locally: close with its code (RFC 9000 §10.2).
    pub(super) fn close_on_error(&mut self, now: Instant, err: TransportError) {
        if !self.is_usable() {
            return;
        }
        self.enter_closing(
            now,
            CloseFrame::Transport(err.clone()),
            ConnectionError::LocalTransportError(err),
        );
    }

    fn enter_closing(&mut self, now: Instant, frame: CloseFrame, error: ConnectionError) {
        self.state = State::Closed(CloseState::closing(frame));
        self.trace_closed(now, &error);
        self.trace_state(now, ConnectionState::Closing);
        self.lose(error);
        self.start_close_timer(now);
    }

    /// The peer closed: drain silently (RFC 9000 §10.2.2).
    pub(super) fn on_peer_close(&mut self, now: Instant, error: ConnectionError) {
        if matches!(self.state, State::Drained) {
            return;
        }
        let was_closing = matches!(self.state, State::Closed(_));
        self.state = State::Closed(CloseState::draining());
        if !was_closing {
            self.trace_closed(now, &error);
            self.lose(error);
        }
        self.trace_state(now, ConnectionState::Draining);
        self.start_close_timer(now);
    }

    /// The idle timer fired: the connection ends silently (RFC 9000 §10.1).
    pub(super) fn on_idle_timeout(&mut self, now: Instant) {
        self.on_lost_silently(now, ConnectionError::TimedOut);
    }

    /// Ends the connection without a word to the peer.
    pub(super) fn on_lost_silently(&mut self, now: Instant, error: ConnectionError) {
        if self.is_usable() {
            self.trace_closed(now, &error);
            self.lose(error);
        }
        self.on_drained(now);
    }

    /// Nothing more to do: tell the endpoint to forget us.
    pub(super) fn on_drained(&mut self, now: Instant) {
        if matches!(self.state, State::Drained) {
            return;
        }
        self.trace_state(now, ConnectionState::Closed);
        self.state = State::Drained;
        self.timers.stop_all();
        self.endpoint_events.push_back(EndpointEventInner::Drained);
    }

    fn lose(&mut self, error: ConnectionError) {
        self.error = Some(error.clone());
        self.events.push_back(Event::ConnectionLost(error));
    }

    fn start_close_timer(&mut self, now: Instant) {
        self.timers.stop_all();
        // RFC 9000 §10.2: closing and draining last at least three PTOs.
        let pto = self.pto_duration(SpaceId::Data);
        self.timers.set(Timer::Close, now + pto * 3);
    }
}
