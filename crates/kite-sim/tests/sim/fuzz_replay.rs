//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/seed-*`) through
//! the target bodies in `kite_sim::fuzz`, so a regression fails `cargo test`
//! on stable, without cargo-fuzz. `FUZZ_REPLAY_ALL=1` replays every file of a
//! local corpus, not only the seeds. `write_seeds` (ignored) remakes the
//! handmade seeds of `endpoint` and `connection_frames`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

use kite_proto::crypto::{Keys, open_payload, remove_header_protection};
use kite_proto::packet::{Header, ParsedHeader};
use kite_proto::{Endpoint, EndpointConfig, Side, Version};
use kite_sim::fuzz;
use kite_sim::fuzz::Records;
use kite_sim::fuzz::connection::{FRESH_PN, TO_CLIENT};
use kite_sim::fuzz::endpoint::{NO_PADDING, kind, token};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Runs `body` on each seed of `target`'s corpus; fails naming every input
/// that panicked.
fn replay(target: &str, body: fn(&[u8])) {
    let all = std::env::var_os("FUZZ_REPLAY_ALL").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .expect("the corpus directory exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| {
            all || path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("seed-"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds for {target}");
    let mut failed = Vec::new();
    for path in &files {
        let input = std::fs::read(path).expect("a readable corpus file");
        if catch_unwind(AssertUnwindSafe(|| body(&input))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} panicked on {failed:#?}");
    eprintln!("{target}: {} inputs replayed", files.len());
}

#[test]
fn packet_header_corpus_replays_cleanly() {
    replay("packet_header", fuzz::packet_header);
}

#[test]
fn frame_corpus_replays_cleanly() {
    replay("frame", fuzz::frame);
}

#[test]
fn transport_params_corpus_replays_cleanly() {
    replay("transport_params", fuzz::transport_params);
}

#[test]
fn endpoint_corpus_replays_cleanly() {
    replay("endpoint", fuzz::endpoint);
}

#[test]
fn connection_frames_corpus_replays_cleanly() {
    replay("connection_frames", fuzz::connection_frames);
}

/// The first datagram of a kite client dialling the fuzz server, and that
/// Initial's fields and frames as a sealed-Initial body (PADDING dropped).
fn client_initial() -> (Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let mut client = Endpoint::new(EndpointConfig::default(), None);
    let server = fuzz::endpoint::SOURCES[3];
    let (_, mut conn) = client
        .connect(now, fuzz::configs().client.clone(), server, "localhost")
        .unwrap();
    let mut buf = Vec::new();
    let t = conn.poll_transmit(now, &mut buf).unwrap();
    let datagram = buf[..t.size].to_vec();

    let parsed = ParsedHeader::parse(&datagram, 0).unwrap();
    let Header::Long { header, pn_offset } = parsed.header else {
        panic!("a client starts with an Initial");
    };
    let keys = Keys::initial(Version::V1, &header.dcid, Side::Server).unwrap();
    let mut packet = datagram[..parsed.len].to_vec();
    let (pn, pn_len) =
        remove_header_protection(&keys.remote.header, &mut packet, pn_offset).unwrap();
    let plain = open_payload(
        &keys.remote.packet,
        pn.into(),
        &mut packet,
        pn_offset + pn_len,
    )
    .unwrap();
    let mut frames = packet[plain].to_vec();
    while frames.last() == Some(&0) {
        frames.pop();
    }
    let mut body = vec![0, 0];
    for cid in [&header.dcid[..], &header.scid[..]] {
        body.push(cid.len() as u8);
        body.extend_from_slice(cid);
    }
    body.push(0);
    body.extend_from_slice(&frames);
    (datagram, body)
}

/// A sealed-Initial body: `flags`, packet number 0, these IDs, no token
/// bytes, then `frames`.
fn initial_body(flags: u8, dcid: &[u8], frames: &[u8]) -> Vec<u8> {
    let mut body = vec![flags, 0, dcid.len() as u8];
    body.extend_from_slice(dcid);
    body.extend_from_slice(&[4, 0xc1, 0xc2, 0xc3, 0xc4, 0]);
    body.extend_from_slice(frames);
    body
}

/// Replaces the sealed body's client DCID (8 bytes after flags, pn, length).
fn with_dcid(body: &[u8], dcid: &[u8; 8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body[3..11].copy_from_slice(dcid);
    body
}

/// A record of a seed: control byte and body.
type Record = (u8, Vec<u8>);

fn write_seed(target: &str, name: &str, records: &[Record]) {
    let mut input = Vec::new();
    for (control, body) in records {
        Records::encode(&mut input, *control, body);
    }
    std::fs::write(corpus_dir(target).join(format!("seed-{name}")), input).unwrap();
}

fn endpoint_seeds() {
    use fuzz::endpoint::control;
    let (datagram, hello) = client_initial();
    let ping = |dcid: u8| initial_body(0, &[dcid; 8], &[0x01]);
    let seeds: Vec<(&str, Vec<Record>)> = vec![
        (
            "client-initial",
            vec![(control(0, kind::RAW, 0), datagram.clone())],
        ),
        (
            "sealed-client-hello",
            vec![
                (control(3, kind::INITIAL_V1, 0), hello.clone()),
                // The same again, and a later Initial with only PING.
                (control(3, kind::INITIAL_V1, 2), hello.clone()),
                (control(3, kind::INITIAL_V1, 4), ping(hello[3])),
            ],
        ),
        (
            "sealed-client-hello-v2",
            vec![(control(4, kind::INITIAL_V2, 0), hello.clone())],
        ),
        (
            "new-token-and-retry-token",
            vec![
                (control(2, kind::INITIAL_V1, 0), {
                    let mut body = with_dcid(&hello, &[0x11; 8]);
                    body[0] = token::VALID_NEW_TOKEN;
                    body
                }),
                (control(1, kind::INITIAL_V1, 1), {
                    let mut body = with_dcid(&hello, &[0x12; 8]);
                    body[0] = token::VALID_RETRY;
                    body
                }),
            ],
        ),
        (
            "short-headers",
            vec![
                (control(0, kind::INITIAL_V1, 0), ping(0x21)),
                // To the server's first connection ID (1): cannot be opened.
                (control(0, kind::RAW, 1), {
                    let mut packet = vec![0x40, 0, 0, 0, 0, 0, 0, 0, 1];
                    packet.extend_from_slice(&[0x5a; 40]);
                    packet
                }),
                // To an unknown ID: a stateless reset, smaller than this.
                (control(5, kind::RAW, 1), {
                    let mut packet = vec![0x43, 9, 9, 9, 9, 9, 9, 9, 9];
                    packet.extend_from_slice(&[0xa5; 60]);
                    packet
                }),
                (control(6, kind::RAW_CE, 0), vec![0x41, 1, 2, 3]),
            ],
        ),
        (
            "version-negotiation",
            vec![
                (control(3, kind::RAW, 0), {
                    let mut packet = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8];
                    packet.extend_from_slice(&[0x31; 8]);
                    packet.push(0);
                    packet.resize(1200, 0);
                    packet
                }),
                (control(3, kind::RAW, 0), {
                    let mut packet = vec![0x80, 0, 0, 0, 0, 8];
                    packet.extend_from_slice(&[0x32; 8]);
                    packet.extend_from_slice(&[0, 0, 0, 0, 1]);
                    packet
                }),
            ],
        ),
        (
            "zero-rtt-before-initial",
            vec![
                (control(4, kind::RAW, 0), {
                    let mut packet = vec![0xd0, 0, 0, 0, 1, 8];
                    packet.extend_from_slice(&[0x41; 8]);
                    packet.extend_from_slice(&[4, 0xc1, 0xc2, 0xc3, 0xc4, 0x40, 0x20]);
                    packet.resize(packet.len() + 32, 0x77);
                    packet
                }),
                (
                    control(4, kind::INITIAL_V1, 2),
                    with_dcid(&hello, &[0x41; 8]),
                ),
            ],
        ),
        (
            "timers",
            vec![
                (control(0, kind::INITIAL_V1, 0), hello.clone()),
                (
                    control(0, kind::RAW, 5),
                    vec![0x40, 0, 0, 0, 0, 0, 0, 0, 1, 0],
                ),
                (
                    control(0, kind::INITIAL_V1, 6),
                    with_dcid(&hello, &[0x51; 8]),
                ),
                (control(1, kind::RAW, 7), vec![0x40; 30]),
            ],
        ),
        (
            "unpadded-initial",
            vec![(control(0, kind::INITIAL_V1, 0), {
                let mut body = hello.clone();
                body[0] = NO_PADDING;
                body
            })],
        ),
    ];
    for (name, records) in seeds {
        write_seed("endpoint", name, &records);
    }
    // 16 handshakes make the server ask for Retry (the 17th Initial gets
    // one); with Retry tokens, more fill the accept queue (32), then refusals.
    let mut records = Vec::new();
    for i in 0..36u8 {
        let mut body = ping(0x80 + i);
        if i > 16 {
            body[0] = token::VALID_RETRY;
        }
        records.push((control(i % 8, kind::INITIAL_V1, 0), body));
    }
    write_seed("endpoint", "retry-and-accept-limit", &records);
}

fn connection_frames_seeds() {
    use fuzz::connection::control;
    let server = |wait: u8, frames: &[u8]| (control(0, wait), frames.to_vec());
    let client = |wait: u8, frames: &[u8]| (control(TO_CLIENT, wait), frames.to_vec());
    let new_cid = |seq: u8, retire: u8| {
        let mut frame = vec![0x18, seq, retire, 8];
        frame.extend_from_slice(&[seq; 8]);
        frame.extend_from_slice(&[0xee; 16]);
        frame
    };
    let seeds: Vec<(&str, Vec<Record>)> = vec![
        (
            "ping",
            vec![server(2, &[0x01]), client(2, &[0x01, 0x00, 0x00])],
        ),
        (
            "streams",
            vec![
                // Bidi stream 0 with FIN (echoed), uni stream 2, stream 4 at an offset.
                server(3, b"\x0b\x00\x05hello"),
                server(3, b"\x0a\x02\x03uni"),
                server(3, b"\x0f\x04\x40\x10\x03abc"),
                // The server's own bidi stream 1, to the client.
                client(3, b"\x0b\x01\x02hi"),
            ],
        ),
        (
            "resets",
            vec![
                server(2, b"\x0a\x00\x04data"),
                server(2, &[0x04, 0x00, 0x01, 0x04]),
                server(2, &[0x05, 0x00, 0x02]),
                client(2, &[0x05, 0x00, 0x03]),
            ],
        ),
        (
            "flow-control",
            vec![
                client(
                    2,
                    &[0x10, 0x80, 0x10, 0x00, 0x00, 0x12, 0x40, 0xc8, 0x13, 0x05],
                ),
                server(
                    2,
                    &[
                        0x11, 0x00, 0x80, 0x01, 0x00, 0x00, 0x14, 0x00, 0x15, 0x00, 0x00,
                    ],
                ),
                server(2, &[0x16, 0x05, 0x17, 0x05]),
                client(2, &[0x12, 0xd0, 0, 0, 0, 0, 0, 0, 1]),
            ],
        ),
        (
            "connection-ids",
            vec![
                (control(0, 3), new_cid(5, 2)),
                (control(TO_CLIENT, 3), new_cid(6, 1)),
                server(3, &[0x19, 0x00]),
                client(3, &[0x19, 0x01]),
            ],
        ),
        (
            "path",
            vec![
                client(2, &[0x1a, 1, 2, 3, 4, 5, 6, 7, 8]),
                server(2, &[0x1b, 8, 7, 6, 5, 4, 3, 2, 1]),
            ],
        ),
        ("transport-close", vec![client(2, b"\x1c\x0a\x00\x04fuzz")]),
        ("application-close", vec![server(2, &[0x1d, 0x00, 0x00])]),
        (
            "handshake-done-to-server",
            vec![client(1, &[0x1e]), server(1, &[0x1e])],
        ),
        (
            "token-crypto-datagram",
            vec![
                client(2, b"\x07\x04tokn"),
                client(2, &[0x06, 0x00, 0x05, 4, 0, 0, 1, 0]),
                server(2, b"\x31\x03dgm\x30x"),
            ],
        ),
        (
            "acks",
            vec![
                client(2, &[0x02, 0x00, 0x00, 0x00, 0x00]),
                server(2, &[0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]),
            ],
        ),
        (
            "fresh-packet-numbers",
            vec![
                (control(FRESH_PN, 2), vec![0x01]),
                (control(FRESH_PN | TO_CLIENT, 4), vec![0x01]),
            ],
        ),
        ("unknown-frame", vec![server(1, &[0x21, 0x00])]),
    ];
    for (name, records) in seeds {
        write_seed("connection_frames", name, &records);
    }
}

/// Remakes the handmade seeds: `cargo test -p kite-sim --test sim
/// write_seeds -- --ignored`.
#[test]
#[ignore = "writes files into fuzz/corpus"]
fn write_seeds() {
    std::fs::create_dir_all(corpus_dir("endpoint")).unwrap();
    std::fs::create_dir_all(corpus_dir("connection_frames")).unwrap();
    endpoint_seeds();
    connection_frames_seeds();
}
