//! Tests of the stream map, with helpers shared by its topic files.

mod rules;
mod transfer;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn config() -> StreamsConfig {
    StreamsConfig {
        max_incoming_bidi: 4,
        max_incoming_uni: 4,
        stream_window: 10_000,
        max_stream_window: 40_000,
        connection_window: 15_000,
        max_connection_window: 60_000,
        send_buffer: 100_000,
    }
}

/// A client and a server that know each other's transport parameters.
fn pair_with(client_config: StreamsConfig, server_config: StreamsConfig) -> (Streams, Streams) {
    let mut client = Streams::new(Side::Client, client_config.clone());
    let mut server = Streams::new(Side::Server, server_config.clone());
    client
        .handle_peer_params(&server_config.local_params())
        .unwrap();
    server
        .handle_peer_params(&client_config.local_params())
        .unwrap();
    (client, server)
}

fn pair() -> (Streams, Streams) {
    pair_with(config(), config())
}

fn data(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn code(result: Result<(), TransportError>) -> Option<TransportErrorCode> {
    result.err().map(|e| e.code)
}

fn client_bi(index: u64) -> StreamId {
    StreamId::new(Side::Client, Dir::Bi, index)
}

fn client_uni(index: u64) -> StreamId {
    StreamId::new(Side::Client, Dir::Uni, index)
}

fn server_bi(index: u64) -> StreamId {
    StreamId::new(Side::Server, Dir::Bi, index)
}

fn server_uni(index: u64) -> StreamId {
    StreamId::new(Side::Server, Dir::Uni, index)
}

fn controls(streams: &mut Streams) -> Vec<StreamControl> {
    std::iter::from_fn(|| streams.poll_control(Instant::now(), Duration::ZERO)).collect()
}

fn events(streams: &mut Streams) -> Vec<StreamEvent> {
    std::iter::from_fn(|| streams.poll_event()).collect()
}

fn deliver(to: &mut Streams, control: StreamControl, now: Instant) -> Result<(), TransportError> {
    match control {
        StreamControl::MaxData(max) => {
            to.handle_max_data(max);
            Ok(())
        }
        StreamControl::MaxStreamData { id, max } => to.handle_max_stream_data(id, max),
        StreamControl::MaxStreams { dir, count } => to.handle_max_streams(dir, count),
        StreamControl::DataBlocked(limit) => {
            to.handle_data_blocked(limit);
            Ok(())
        }
        StreamControl::StreamDataBlocked { id, limit } => to.handle_stream_data_blocked(id, limit),
        StreamControl::StreamsBlocked { dir, limit } => to.handle_streams_blocked(dir, limit),
        StreamControl::ResetStream {
            id,
            error_code,
            final_size,
        } => to.handle_reset_stream(now, id, error_code, final_size),
        StreamControl::StopSending { id, error_code } => to.handle_stop_sending(id, error_code),
    }
}

/// Moves everything `from` has to send into `to`, acknowledging it at once
/// except every `lose_every`-th item, which is reported lost. Returns the
/// number of stream bytes moved.
fn pump(from: &mut Streams, to: &mut Streams, now: Instant, lose_every: usize) -> u64 {
    let mut moved = 0;
    let mut n = 0;
    while let Some(control) = from.poll_control(now, 10 * MS) {
        n += 1;
        if lose_every > 0 && n % lose_every == 0 {
            from.on_control_lost(&control);
        } else {
            deliver(to, control, now).unwrap();
            from.on_control_acked(&control);
        }
    }
    while let Some((id, chunk)) = from.poll_stream_data(1200) {
        n += 1;
        let len = chunk.data.len() as u64;
        if lose_every > 0 && n % lose_every == 0 {
            from.on_stream_lost(id, chunk.offset, len, chunk.fin);
        } else {
            moved += len;
            to.handle_stream(now, id, chunk.offset, chunk.data, chunk.fin)
                .unwrap();
            from.on_stream_acked(id, chunk.offset, len, chunk.fin);
        }
    }
    moved
}

fn read_to_end(streams: &mut Streams, id: StreamId, out: &mut Vec<u8>) -> bool {
    loop {
        match streams.read(id, usize::MAX) {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            Ok(None) => return true,
            Err(ReadError::Blocked) => return false,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}
