//! Every stream of a connection (RFC 9000 §2–4): the stream map, stream limits
//! (§4.6), connection-level flow control (§4.1), the frames that act on streams
//! and the application's stream calls. It builds no frames: it says which control
//! frames to send ([`StreamControl`]) and hands out stream data ([`StreamChunk`]);
//! the connection encodes them and reports their fate (`on_*_acked`/`on_*_lost`).

pub mod assembler;
pub mod config;
pub mod events;
pub mod flow;
pub mod limits;
pub mod recv;
pub mod send;

use crate::error::{TransportError, TransportErrorCode};
use crate::stream_id::{Dir, Side, StreamId};
use bytes::{BufMut, Bytes, BytesMut};
pub use config::{StreamParams, StreamsConfig};
use events::event_key;
pub use events::{StreamControl, StreamEvent, StreamLimitReached};
use flow::{CONNECTION_WINDOW_RATIO, RecvWindow, SendCredit};
use limits::{LocalStreams, MAX_STREAMS_LIMIT, RemoteStreams};
pub use recv::{ReadError, RecvPart, RecvState};
pub use send::{SendPart, SendRange, SendState, StreamChunk, WriteError};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Work waiting to become a [`StreamControl`]; values are filled in when polled, so
/// that a frame always carries the latest limit. Directions are 0 (bi) and 1 (uni).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    ResetStream(StreamId),
    StopSending(StreamId),
    MaxData,
    MaxStreams(usize),
    MaxStreamData(StreamId),
    DataBlocked,
    StreamsBlocked(usize),
    StreamDataBlocked(StreamId),
}

/// Both parts of a stream; a unidirectional stream has only one.
#[derive(Debug)]
struct Stream {
    send: Option<SendPart>,
    recv: Option<RecvPart>,
    /// In the round-robin send queue.
    queued: bool,
}

/// The streams of one connection.
///
/// - Inputs from the peer, one per frame type: [`Self::handle_stream`],
///   [`Self::handle_reset_stream`], [`Self::handle_stop_sending`],
///   [`Self::handle_max_data`], [`Self::handle_max_stream_data`],
///   [`Self::handle_max_streams`], [`Self::handle_data_blocked`],
///   [`Self::handle_stream_data_blocked`], [`Self::handle_streams_blocked`]; and
///   [`Self::handle_peer_params`] once the transport parameters are known. Errors
///   carry the RFC's code; the connection adds the frame type and closes.
/// - Outputs, when building a packet: [`Self::poll_control`] until `None`, then
///   [`Self::poll_stream_data`] (streams served round-robin). What was sent is
///   reported back with `on_control_acked/lost` and `on_stream_acked/lost`.
/// - Application calls: `open`, `accept`, `write`, `finish`, `reset`, `read`,
///   `read_into`, `stop`, and [`Self::poll_event`] for what changed.
#[derive(Debug)]
pub struct Streams {
    side: Side,
    config: StreamsConfig,
    peer: StreamParams,
    streams: BTreeMap<StreamId, Stream>,
    local: [LocalStreams; 2],
    remote: [RemoteStreams; 2],
    accept: [VecDeque<StreamId>; 2],
    conn_send: SendCredit,
    conn_recv: RecvWindow,
    /// Streams with something to send, served round-robin.
    send_queue: VecDeque<StreamId>,
    /// Streams whose new data waits only for connection credit.
    conn_waiting: BTreeSet<StreamId>,
    pending: BTreeSet<Pending>,
    events: VecDeque<StreamEvent>,
    /// Events queued and not yet polled, so each is queued once.
    event_keys: BTreeSet<(u8, u64)>,
}

impl Streams {
    /// Streams for the endpoint playing `side`; the peer may send nothing and
    /// we may open nothing until [`Self::handle_peer_params`].
    pub fn new(side: Side, config: StreamsConfig) -> Self {
        Streams {
            side,
            peer: StreamParams::default(),
            streams: BTreeMap::new(),
            local: Default::default(),
            remote: [
                RemoteStreams::new(config.max_incoming_bidi),
                RemoteStreams::new(config.max_incoming_uni),
            ],
            accept: Default::default(),
            conn_send: SendCredit::new(0),
            conn_recv: RecvWindow::new(config.connection_window, config.max_connection_window),
            send_queue: VecDeque::new(),
            conn_waiting: BTreeSet::new(),
            pending: BTreeSet::new(),
            events: VecDeque::new(),
            event_keys: BTreeSet::new(),
            config,
        }
    }

    /// Takes the peer's stream limits from its transport parameters. Connection
    /// credit, stream counts and open streams' credit only ever rise, so
    /// remembered 0-RTT values can come first; new streams use the latest.
    /// RFC 9000 §4.6: a stream count above 2^60 is a TRANSPORT_PARAMETER_ERROR.
    pub fn handle_peer_params(&mut self, params: &StreamParams) -> Result<(), TransportError> {
        if params.initial_max_streams_bidi > MAX_STREAMS_LIMIT
            || params.initial_max_streams_uni > MAX_STREAMS_LIMIT
        {
            return Err(TransportError::transport_parameter(
                "max_streams above 2^60",
            ));
        }
        self.peer = *params;
        self.conn_send.handle_max(params.initial_max_data);
        self.local[0].handle_max_streams(params.initial_max_streams_bidi);
        self.local[1].handle_max_streams(params.initial_max_streams_uni);
        let ids: Vec<StreamId> = self.streams.keys().copied().collect();
        for id in ids {
            let credit = self.initial_send_credit(id);
            if let Some(send) = self.streams.get_mut(&id).and_then(|s| s.send.as_mut()) {
                send.raise_credit(credit);
            }
            self.on_send_changed(id);
        }
        Ok(())
    }

    /// A STREAM frame (RFC 9000 §19.8), received at `now`.
    ///
    /// Errors: STREAM_STATE_ERROR on a stream we cannot receive on or a local
    /// stream not yet opened (§19.8); STREAM_LIMIT_ERROR past our stream limit
    /// (§4.6); FLOW_CONTROL_ERROR past a stream or connection limit (§4.1);
    /// FINAL_SIZE_ERROR (§4.5); PROTOCOL_VIOLATION when too fragmented (§21.7).
    pub fn handle_stream(
        &mut self,
        now: Instant,
        id: StreamId,
        offset: u64,
        data: Bytes,
        fin: bool,
    ) -> Result<(), TransportError> {
        let Some(recv) = self.recv_part(id, "STREAM on a stream we cannot receive on")? else {
            return Ok(());
        };
        let readable_before = recv.is_readable();
        let credit = recv.handle_data(now, offset, data, fin)?;
        // Edge-triggered: the application reads until `Blocked` after an event.
        let readable = !readable_before && recv.is_readable();
        self.on_conn_received(credit, now)?;
        if readable {
            self.push_event(StreamEvent::Readable { id });
        }
        self.maybe_close(id);
        Ok(())
    }

    /// A RESET_STREAM frame (RFC 9000 §19.4), received at `now`. Errors as for
    /// [`Self::handle_stream`] (a send-only stream is a STREAM_STATE_ERROR).
    pub fn handle_reset_stream(
        &mut self,
        now: Instant,
        id: StreamId,
        error_code: u64,
        final_size: u64,
    ) -> Result<(), TransportError> {
        let Some(recv) = self.recv_part(id, "RESET_STREAM on a send-only stream")? else {
            return Ok(());
        };
        let readable_before = recv.is_readable();
        let credit = recv.handle_reset(now, error_code, final_size)?;
        // Edge-triggered: the application reads until `Blocked` after an event.
        let readable = !readable_before && recv.is_readable();
        self.on_conn_received(credit, now)?;
        if readable {
            self.push_event(StreamEvent::Readable { id });
        }
        self.maybe_close(id);
        Ok(())
    }

    /// A STOP_SENDING frame (RFC 9000 §19.5): we reset the stream with the
    /// peer's code (§3.5). STREAM_STATE_ERROR on a receive-only stream or a local
    /// stream not yet opened; STREAM_LIMIT_ERROR past our limit.
    pub fn handle_stop_sending(
        &mut self,
        id: StreamId,
        error_code: u64,
    ) -> Result<(), TransportError> {
        let Some(send) = self.send_part(id, "STOP_SENDING on a receive-only stream")? else {
            return Ok(());
        };
        if send.handle_stop_sending(error_code) {
            self.conn_waiting.remove(&id);
            self.pending.insert(Pending::ResetStream(id));
            self.push_event(StreamEvent::Stopped { id, error_code });
        }
        Ok(())
    }

    /// A MAX_DATA frame (RFC 9000 §19.9): more connection credit.
    pub fn handle_max_data(&mut self, max: u64) {
        if self.conn_send.handle_max(max) {
            for id in std::mem::take(&mut self.conn_waiting) {
                self.on_send_changed(id);
            }
        }
    }

    /// A MAX_STREAM_DATA frame (RFC 9000 §19.10). STREAM_STATE_ERROR on a
    /// receive-only stream or a local stream not yet opened.
    pub fn handle_max_stream_data(&mut self, id: StreamId, max: u64) -> Result<(), TransportError> {
        let Some(send) = self.send_part(id, "MAX_STREAM_DATA on a receive-only stream")? else {
            return Ok(());
        };
        if send.handle_max_stream_data(max) {
            self.on_send_changed(id);
        }
        Ok(())
    }

    /// A MAX_STREAMS frame (RFC 9000 §19.11). FRAME_ENCODING_ERROR above 2^60.
    pub fn handle_max_streams(&mut self, dir: Dir, count: u64) -> Result<(), TransportError> {
        if count > MAX_STREAMS_LIMIT {
            return Err(TransportError::frame_encoding("MAX_STREAMS above 2^60"));
        }
        if self.local[dir_index(dir)].handle_max_streams(count) {
            self.push_event(StreamEvent::Available { dir });
        }
        Ok(())
    }

    /// A DATA_BLOCKED frame (RFC 9000 §19.12): if we already allowed more, our
    /// MAX_DATA did not arrive, so it is sent again.
    pub fn handle_data_blocked(&mut self, limit: u64) {
        if self.conn_recv.on_peer_blocked(limit) {
            self.pending.insert(Pending::MaxData);
        }
    }

    /// A STREAM_DATA_BLOCKED frame (RFC 9000 §19.13): as DATA_BLOCKED, per stream.
    /// STREAM_STATE_ERROR on a send-only stream (§19.13).
    pub fn handle_stream_data_blocked(
        &mut self,
        id: StreamId,
        limit: u64,
    ) -> Result<(), TransportError> {
        let Some(recv) = self.recv_part(id, "STREAM_DATA_BLOCKED on a send-only stream")? else {
            return Ok(());
        };
        if recv.on_peer_blocked(limit) {
            self.pending.insert(Pending::MaxStreamData(id));
        }
        Ok(())
    }

    /// A STREAMS_BLOCKED frame (RFC 9000 §19.14): a peer blocked below our limit
    /// missed a MAX_STREAMS, which is sent again. FRAME_ENCODING_ERROR above 2^60.
    pub fn handle_streams_blocked(&mut self, dir: Dir, limit: u64) -> Result<(), TransportError> {
        if limit > MAX_STREAMS_LIMIT {
            return Err(TransportError::frame_encoding("STREAMS_BLOCKED above 2^60"));
        }
        let ix = dir_index(dir);
        if self.remote[ix].max() > limit {
            self.pending.insert(Pending::MaxStreams(ix));
        }
        Ok(())
    }

    /// The next control frame to send, with values as of `now`; `rtt` (the
    /// smoothed RTT, zero if unknown) drives window auto-tuning.
    pub fn poll_control(&mut self, now: Instant, rtt: Duration) -> Option<StreamControl> {
        while let Some(pending) = self.pending.pop_first() {
            if let Some(control) = self.materialize(pending, now, rtt) {
                return Some(control);
            }
        }
        None
    }

    /// The next stream data to send, at most `max_len` bytes of it, from the
    /// streams with something to send in turn; the caller adds the frame header
    /// and copies the bytes with [`Self::write_stream_data`].
    pub fn poll_stream_range(&mut self, max_len: usize) -> Option<(StreamId, SendRange)> {
        for _ in 0..self.send_queue.len() {
            let id = self.send_queue.pop_front()?;
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            stream.queued = false;
            let Some(send) = stream.send.as_mut() else {
                continue;
            };
            let before = send.sent_offset();
            let range = send.poll_range(max_len, self.conn_send.available());
            self.conn_send.consume(send.sent_offset() - before);
            self.on_send_changed(id);
            if let Some(range) = range {
                return Some((id, range));
            }
        }
        None
    }

    /// Copies the bytes of `range`, just polled for stream `id`, to `out`.
    pub fn write_stream_data(&self, id: StreamId, range: &SendRange, out: &mut impl BufMut) {
        if let Some(send) = self.streams.get(&id).and_then(|s| s.send.as_ref()) {
            send.write_data(range, out);
        }
    }

    /// [`Self::poll_stream_range`] with the bytes as `Bytes`.
    pub fn poll_stream_data(&mut self, max_len: usize) -> Option<(StreamId, StreamChunk)> {
        let (id, range) = self.poll_stream_range(max_len)?;
        let mut data = BytesMut::with_capacity(range.len);
        self.write_stream_data(id, &range, &mut data);
        let chunk = StreamChunk {
            offset: range.offset,
            data: data.freeze(),
            fin: range.fin,
        };
        Some((id, chunk))
    }

    /// A control frame from [`Self::poll_control`] was acknowledged.
    pub fn on_control_acked(&mut self, control: &StreamControl) {
        if let StreamControl::ResetStream { id, .. } = *control {
            if let Some(send) = self.streams.get_mut(&id).and_then(|s| s.send.as_mut()) {
                send.on_reset_acked();
            }
            self.maybe_close(id);
        }
    }

    /// A control frame from [`Self::poll_control`] was lost: it is queued again
    /// if still meaningful, with fresh values.
    pub fn on_control_lost(&mut self, control: &StreamControl) {
        let again = match *control {
            StreamControl::MaxData(max) => {
                self.conn_recv.on_update_lost(max);
                self.conn_recv.wants_update().then_some(Pending::MaxData)
            }
            StreamControl::MaxStreamData { id, max } => self.recv_of(id).and_then(|recv| {
                recv.on_max_stream_data_lost(max);
                recv.wants_max_stream_data()
                    .then_some(Pending::MaxStreamData(id))
            }),
            StreamControl::MaxStreams { dir, count } => {
                let ix = dir_index(dir);
                (self.remote[ix].max() == count).then_some(Pending::MaxStreams(ix))
            }
            StreamControl::DataBlocked(limit) => {
                self.conn_send.on_blocked_lost(limit);
                let waiting = !self.conn_waiting.is_empty();
                (waiting && self.conn_send.maybe_blocked().is_some())
                    .then_some(Pending::DataBlocked)
            }
            StreamControl::StreamDataBlocked { id, limit } => self.send_of(id).and_then(|send| {
                send.on_blocked_lost(limit);
                send.maybe_blocked().map(|_| Pending::StreamDataBlocked(id))
            }),
            StreamControl::StreamsBlocked { dir, limit } => {
                let local = &mut self.local[dir_index(dir)];
                local.on_blocked_lost(limit);
                local
                    .maybe_blocked()
                    .map(|_| Pending::StreamsBlocked(dir_index(dir)))
            }
            StreamControl::ResetStream { id, .. } => self
                .send_of(id)
                .and_then(|send| send.reset_frame().map(|_| Pending::ResetStream(id))),
            StreamControl::StopSending { id, .. } => self
                .recv_of(id)
                .and_then(|recv| recv.stop_sending().map(|_| Pending::StopSending(id))),
        };
        if let Some(pending) = again {
            self.pending.insert(pending);
        }
    }

    /// Stream data from [`Self::poll_stream_data`] was acknowledged.
    pub fn on_stream_acked(&mut self, id: StreamId, offset: u64, len: u64, fin: bool) {
        let Some(send) = self.send_of(id) else {
            return;
        };
        let was_done = send.is_done();
        let freed = send.on_acked(offset, len, fin);
        let writable = freed && send.take_writable();
        let finished = !was_done && send.state() == SendState::DataRecvd;
        if writable {
            self.push_event(StreamEvent::Writable { id });
        }
        if finished {
            self.push_event(StreamEvent::Finished { id });
        }
        self.maybe_close(id);
    }

    /// Stream data from [`Self::poll_stream_data`] was lost: it is sent again.
    pub fn on_stream_lost(&mut self, id: StreamId, offset: u64, len: u64, fin: bool) {
        if self
            .send_of(id)
            .is_some_and(|send| send.on_lost(offset, len, fin))
        {
            self.on_send_changed(id);
        }
    }

    /// Opens a stream of type `dir`, within the peer's limit.
    pub fn open(&mut self, dir: Dir) -> Result<StreamId, StreamLimitReached> {
        let ix = dir_index(dir);
        let Some(index) = self.local[ix].open() else {
            if self.local[ix].maybe_blocked().is_some() {
                self.pending.insert(Pending::StreamsBlocked(ix));
            }
            return Err(StreamLimitReached);
        };
        let id = StreamId::new(self.side, dir, index);
        let stream = self.new_stream(id);
        self.streams.insert(id, stream);
        Ok(id)
    }

    /// The next stream of type `dir` the peer opened, if any.
    pub fn accept(&mut self, dir: Dir) -> Option<StreamId> {
        let queue = &mut self.accept[dir_index(dir)];
        while let Some(id) = queue.pop_front() {
            if self.streams.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    /// Queues `data` on stream `id` without copying; returns how much the send
    /// buffer took. `Blocked` when full (a `Writable` event follows).
    pub fn write(&mut self, id: StreamId, data: Bytes) -> Result<usize, WriteError> {
        let n = self.send_of(id).ok_or(WriteError::Closed)?.write(data)?;
        self.on_send_changed(id);
        Ok(n)
    }

    /// Ends stream `id` after the data written so far (FIN).
    pub fn finish(&mut self, id: StreamId) -> Result<(), WriteError> {
        self.send_of(id).ok_or(WriteError::Closed)?.finish()?;
        self.on_send_changed(id);
        Ok(())
    }

    /// Abandons sending on stream `id` with `error_code` (RESET_STREAM).
    pub fn reset(&mut self, id: StreamId, error_code: u64) -> Result<(), WriteError> {
        self.send_of(id)
            .ok_or(WriteError::Closed)?
            .reset(error_code)?;
        self.conn_waiting.remove(&id);
        self.pending.insert(Pending::ResetStream(id));
        Ok(())
    }

    /// Reads up to `max` bytes of stream `id` in order, without copying.
    /// `Ok(None)` is the end of the stream, reported once.
    pub fn read(&mut self, id: StreamId, max: usize) -> Result<Option<Bytes>, ReadError> {
        let result = self.recv_of(id).ok_or(ReadError::Closed)?.read(max);
        let n = match &result {
            Ok(Some(chunk)) => chunk.len(),
            _ => 0,
        };
        self.after_read(id, n);
        result
    }

    /// Reads stream `id` into `buf`; `Ok(None)` is the end, as for [`Self::read`].
    pub fn read_into(&mut self, id: StreamId, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        let result = self.recv_of(id).ok_or(ReadError::Closed)?.read_into(buf);
        self.after_read(
            id,
            *result.as_ref().ok().and_then(|n| n.as_ref()).unwrap_or(&0),
        );
        result
    }

    /// Stops reading stream `id` (STOP_SENDING with `error_code`); what it buffered
    /// or still receives is dropped and its credit returned.
    pub fn stop(&mut self, id: StreamId, error_code: u64) -> Result<(), ReadError> {
        let recv = self.recv_of(id).ok_or(ReadError::Closed)?;
        let released = recv.stop(error_code)?;
        if recv.stop_sending().is_some() {
            self.pending.insert(Pending::StopSending(id));
        }
        if self.conn_recv.on_consumed(released) {
            self.pending.insert(Pending::MaxData);
        }
        self.maybe_close(id);
        Ok(())
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        let event = self.events.pop_front()?;
        self.event_keys.remove(&event_key(&event));
        Some(event)
    }

    /// Whether [`Self::poll_control`] may have something.
    pub fn has_pending_control(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether [`Self::poll_stream_data`] may have something.
    pub fn has_stream_data(&self) -> bool {
        !self.send_queue.is_empty()
    }

    /// The sending part of stream `id`, if open.
    pub fn send_state(&self, id: StreamId) -> Option<SendState> {
        self.streams.get(&id)?.send.as_ref().map(SendPart::state)
    }

    /// The receiving part's state of stream `id`, if open.
    pub fn recv_state(&self, id: StreamId) -> Option<RecvState> {
        self.streams.get(&id)?.recv.as_ref().map(RecvPart::state)
    }

    /// Streams currently held (open in at least one direction).
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is held.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// The connection receive window.
    pub fn connection_window(&self) -> &RecvWindow {
        &self.conn_recv
    }

    /// The connection credit the peer gave us.
    pub fn connection_credit(&self) -> &SendCredit {
        &self.conn_send
    }

    /// The receiving part a peer frame acts on, opening peer streams as needed;
    /// `None` if the stream is already closed (the frame is then ignored).
    fn recv_part(
        &mut self,
        id: StreamId,
        reason: &'static str,
    ) -> Result<Option<&mut RecvPart>, TransportError> {
        // RFC 9000 §19.4, §19.8, §19.13: these frames on a stream that only we
        // send on are a STREAM_STATE_ERROR.
        if id.initiator() == self.side && id.dir() == Dir::Uni {
            return Err(stream_state_error(reason));
        }
        self.get_or_open(id)?;
        Ok(self.recv_of(id))
    }

    /// The sending part a peer frame acts on; as [`Self::recv_part`].
    fn send_part(
        &mut self,
        id: StreamId,
        reason: &'static str,
    ) -> Result<Option<&mut SendPart>, TransportError> {
        // RFC 9000 §19.5, §19.10: these frames on a stream that only the peer
        // sends on are a STREAM_STATE_ERROR.
        if id.initiator() != self.side && id.dir() == Dir::Uni {
            return Err(stream_state_error(reason));
        }
        self.get_or_open(id)?;
        Ok(self.send_of(id))
    }

    /// Checks that a frame may name stream `id`, opening it (and every lower
    /// stream of its type) if the peer initiates it.
    fn get_or_open(&mut self, id: StreamId) -> Result<(), TransportError> {
        let ix = dir_index(id.dir());
        if id.initiator() == self.side {
            // RFC 9000 §19.5, §19.8, §19.10: a frame for a local stream we have
            // not opened yet is a STREAM_STATE_ERROR.
            if id.index() >= self.local[ix].opened() {
                return Err(stream_state_error(
                    "frame for a local stream not yet opened",
                ));
            }
            return Ok(());
        }
        let opened = self.remote[ix].open_through(id.index())?;
        if opened.is_empty() {
            return Ok(());
        }
        for index in opened {
            let new_id = StreamId::new(self.side.peer(), id.dir(), index);
            let stream = self.new_stream(new_id);
            self.streams.insert(new_id, stream);
            self.accept[ix].push_back(new_id);
        }
        self.push_event(StreamEvent::Opened { dir: id.dir() });
        Ok(())
    }

    fn recv_of(&mut self, id: StreamId) -> Option<&mut RecvPart> {
        self.streams.get_mut(&id)?.recv.as_mut()
    }

    fn send_of(&mut self, id: StreamId) -> Option<&mut SendPart> {
        self.streams.get_mut(&id)?.send.as_mut()
    }

    fn new_stream(&self, id: StreamId) -> Stream {
        let local = id.initiator() == self.side;
        let send = (local || id.dir() == Dir::Bi)
            .then(|| SendPart::new(self.initial_send_credit(id), self.config.send_buffer));
        let recv = (!local || id.dir() == Dir::Bi)
            .then(|| RecvPart::new(self.config.stream_window, self.config.max_stream_window));
        Stream {
            send,
            recv,
            queued: false,
        }
    }

    /// The peer's initial limit for our sending on stream `id` (RFC 9000 §18.2).
    fn initial_send_credit(&self, id: StreamId) -> u64 {
        match (id.initiator() == self.side, id.dir()) {
            (true, Dir::Bi) => self.peer.initial_max_stream_data_bidi_remote,
            (true, Dir::Uni) => self.peer.initial_max_stream_data_uni,
            (false, _) => self.peer.initial_max_stream_data_bidi_local,
        }
    }

    /// Applies a stream's effect on connection flow control.
    fn on_conn_received(
        &mut self,
        credit: recv::Credit,
        now: Instant,
    ) -> Result<(), TransportError> {
        let total = self.conn_recv.received().saturating_add(credit.received);
        self.conn_recv.on_received(total, now)?;
        if credit.consumed > 0 && self.conn_recv.on_consumed(credit.consumed) {
            self.pending.insert(Pending::MaxData);
        }
        Ok(())
    }

    fn after_read(&mut self, id: StreamId, n: usize) {
        if n > 0 && self.conn_recv.on_consumed(n as u64) {
            self.pending.insert(Pending::MaxData);
        }
        if self
            .recv_of(id)
            .is_some_and(|recv| recv.wants_max_stream_data())
        {
            self.pending.insert(Pending::MaxStreamData(id));
        }
        self.maybe_close(id);
    }

    /// Re-files stream `id` after its sending part changed: into the send queue
    /// if it can send, among those waiting for connection credit, and with a
    /// blocked report when credit ran out.
    fn on_send_changed(&mut self, id: StreamId) {
        let conn_credit = self.conn_send.available();
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let Some(send) = stream.send.as_mut() else {
            return;
        };
        if send.has_data_to_send(conn_credit) {
            if !stream.queued {
                stream.queued = true;
                self.send_queue.push_back(id);
            }
        } else if send.wants_connection_credit() {
            self.conn_waiting.insert(id);
            if self.conn_send.maybe_blocked().is_some() {
                self.pending.insert(Pending::DataBlocked);
            }
        }
        if send.maybe_blocked().is_some() {
            self.pending.insert(Pending::StreamDataBlocked(id));
        }
    }

    /// Forgets stream `id` once both parts are done; a peer's stream closing lets
    /// the peer open another (RFC 9000 §4.6), so MAX_STREAMS goes out.
    fn maybe_close(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get(&id) else {
            return;
        };
        let done = stream.send.as_ref().is_none_or(SendPart::is_done)
            && stream.recv.as_ref().is_none_or(RecvPart::is_done);
        if !done {
            return;
        }
        self.streams.remove(&id);
        self.conn_waiting.remove(&id);
        if id.initiator() != self.side {
            let ix = dir_index(id.dir());
            self.remote[ix].on_closed();
            self.pending.insert(Pending::MaxStreams(ix));
        }
    }

    /// Turns queued work into a frame with current values, or nothing if it no
    /// longer applies.
    fn materialize(
        &mut self,
        pending: Pending,
        now: Instant,
        rtt: Duration,
    ) -> Option<StreamControl> {
        match pending {
            Pending::ResetStream(id) => {
                let (error_code, final_size) = self.send_of(id)?.reset_frame()?;
                Some(StreamControl::ResetStream {
                    id,
                    error_code,
                    final_size,
                })
            }
            Pending::StopSending(id) => {
                let error_code = self.recv_of(id)?.stop_sending()?;
                Some(StreamControl::StopSending { id, error_code })
            }
            Pending::MaxData => self
                .conn_recv
                .poll_update(now, rtt)
                .map(StreamControl::MaxData),
            Pending::MaxStreams(ix) => Some(StreamControl::MaxStreams {
                dir: dir_of(ix),
                count: self.remote[ix].max(),
            }),
            Pending::MaxStreamData(id) => {
                let recv = self.recv_of(id)?;
                let max = recv.poll_max_stream_data(now, rtt)?;
                let (num, den) = CONNECTION_WINDOW_RATIO;
                let wanted = recv.window().window().saturating_mul(num) / den;
                self.conn_recv.ensure_window(wanted);
                Some(StreamControl::MaxStreamData { id, max })
            }
            Pending::DataBlocked => (self.conn_send.available() == 0
                && !self.conn_waiting.is_empty())
            .then(|| StreamControl::DataBlocked(self.conn_send.max())),
            Pending::StreamsBlocked(ix) => {
                let local = &self.local[ix];
                local
                    .is_blocked_at(local.max())
                    .then(|| StreamControl::StreamsBlocked {
                        dir: dir_of(ix),
                        limit: local.max(),
                    })
            }
            Pending::StreamDataBlocked(id) => {
                let send = self.send_of(id)?;
                let blocked = send.credit().available() == 0
                    && matches!(send.state(), SendState::Ready | SendState::Send);
                blocked.then(|| StreamControl::StreamDataBlocked {
                    id,
                    limit: send.credit().max(),
                })
            }
        }
    }

    fn push_event(&mut self, event: StreamEvent) {
        if self.event_keys.insert(event_key(&event)) {
            self.events.push_back(event);
        }
    }
}

fn stream_state_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::STREAM_STATE_ERROR, reason)
}

fn dir_index(dir: Dir) -> usize {
    match dir {
        Dir::Bi => 0,
        Dir::Uni => 1,
    }
}

fn dir_of(index: usize) -> Dir {
    if index == 0 { Dir::Bi } else { Dir::Uni }
}

#[cfg(test)]
mod tests;
