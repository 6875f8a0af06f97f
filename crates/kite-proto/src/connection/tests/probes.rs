//! Probes and early retransmissions of the handshake under loss (RFC 9002
//! §6.2.3, §6.2.4), and the transport parameters of a resumed handshake.

use super::{Pair, SentPacket, Tls, packets};
use crate::connection::recovery::MAX_FLIGHT_REPEATS;
use crate::packet::{PacketType, SpaceId};
use crate::stream_id::{Dir, Side};
use crate::trace::FrameSummary;

/// The one CRYPTO frame of the client's first Initial: `(offset, len)`.
fn client_hello(sent: &[SentPacket]) -> (u64, usize) {
    let initial = sent
        .iter()
        .find(|p| p.ty == PacketType::Initial)
        .expect("an Initial");
    let crypto = initial.crypto();
    assert_eq!(crypto.len(), 1, "{initial:?}");
    crypto[0]
}

/// Fires the side's timers until it has something to send, and returns it.
fn fire_until_sends(pair: &mut Pair, side: Side) -> Vec<Vec<u8>> {
    for _ in 0..10 {
        match side {
            Side::Client => pair.fire_client_timer(),
            Side::Server => pair.fire_server_timer(),
        }
        let sent = match side {
            Side::Client => pair.client_sends(),
            Side::Server => pair.server_sends(),
        };
        if !sent.is_empty() {
            return sent;
        }
    }
    panic!("{side:?} sent nothing after ten timers");
}

/// RFC 9002 §6.2.4: both datagrams of a PTO probe pair carry the
/// unacknowledged ClientHello, each once, so either alone repairs the loss.
#[test]
fn second_pto_probe_carries_crypto() {
    let mut pair = Pair::new();
    let lost = pair.client_sends();
    assert_eq!(lost.len(), 1);
    let hello = client_hello(&pair.sent_by(Side::Client));
    pair.fire_client_timer();
    let probes = pair.client_sends();
    assert_eq!(probes.len(), 2);
    let sent = pair.sent_by(Side::Client);
    assert_eq!(sent.len(), 2, "{sent:?}");
    for probe in &sent {
        assert_eq!(probe.ty, PacketType::Initial);
        assert_eq!(probe.crypto(), vec![hello], "{probe:?}");
    }
    assert!(probes.iter().all(|d| d.len() >= 1200));
}

/// RFC 9002 §6.2.3: a server that receives a repeated ClientHello while its
/// own flight is unacknowledged sends the flight again at once, without
/// waiting for its PTO, within the anti-amplification limit.
#[test]
fn server_repeats_handshake_flight_on_duplicate_initial() {
    let mut pair = Pair::new();
    let hello = pair.client_sends();
    pair.step();
    pair.deliver_to_server(&hello[0]);
    let lost = pair.server_sends();
    assert!(!lost.is_empty());
    let first_flight = pair.sent_by(Side::Server);
    let server_hello = first_flight
        .iter()
        .find(|p| p.ty == PacketType::Initial)
        .map(|p| p.crypto())
        .expect("an Initial");
    pair.fire_client_timer();
    let probes = pair.client_sends();
    pair.step();
    pair.deliver_to_server(&probes[0]);
    // No server timer has fired: this answers the duplicate.
    let again = pair.server_sends();
    let sent = pair.sent_by(Side::Server);
    assert!(
        sent.iter()
            .any(|p| p.ty == PacketType::Initial && p.crypto() == server_hello),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|p| p.ty == PacketType::Handshake && !p.crypto().is_empty()),
        "{sent:?}"
    );
    let stats = pair.server().stats();
    assert!(stats.bytes_sent <= 3 * stats.bytes_received, "{stats:?}");
    pair.step();
    for d in &again {
        pair.deliver_to_client(d);
    }
    pair.exchange();
    assert!(!pair.client.is_handshaking());
    assert!(!pair.server().is_handshaking());
}

/// RFC 9002 §6.2.3 asks for a limit: past `MAX_FLIGHT_REPEATS` the server
/// answers further repeated ClientHellos with acknowledgments only.
#[test]
fn flight_repeats_are_bounded() {
    let mut pair = Pair::new();
    let hello = pair.client_sends();
    pair.step();
    pair.deliver_to_server(&hello[0]);
    let _lost = pair.server_sends();
    pair.sent_by(Side::Server);
    let (mut repeats, mut duplicates) = (0, 0);
    // Three client PTOs (1, 3 and 7 s in, within the handshake idle
    // timeout), each sending two copies of the ClientHello.
    for _ in 0..3 {
        pair.fire_client_timer();
        for probe in pair.client_sends() {
            duplicates += 1;
            pair.deliver_to_server(&probe);
            let _lost = pair.server_sends();
            let sent = pair.sent_by(Side::Server);
            if sent.iter().any(|p| !p.crypto().is_empty()) {
                repeats += 1;
            }
        }
    }
    assert!(duplicates > usize::from(MAX_FLIGHT_REPEATS));
    assert_eq!(repeats, usize::from(MAX_FLIGHT_REPEATS));
}

/// RFC 9002 §6.2.3: a Handshake packet the client cannot open yet means
/// the server's Initial was lost; the client sends its Initial again at
/// once, the server answers with its flight, and the handshake completes
/// without any PTO.
#[test]
fn client_repeats_initial_on_handshake_packet_without_keys() {
    let mut pair = Pair::new();
    let hello_datagram = pair.client_sends();
    let hello = client_hello(&pair.sent_by(Side::Client));
    pair.step();
    pair.deliver_to_server(&hello_datagram[0]);
    let flight = pair.server_sends();
    let handshake_only: Vec<u8> = flight
        .iter()
        .flat_map(|d| packets(d))
        .filter(|(ty, _)| *ty == PacketType::Handshake)
        .flat_map(|(_, bytes)| bytes)
        .collect();
    assert!(!handshake_only.is_empty());
    pair.step();
    pair.deliver_to_client(&handshake_only);
    let again = pair.client_sends();
    assert_eq!(again.len(), 1);
    let sent = pair.sent_by(Side::Client);
    assert_eq!(client_hello(&sent), hello);
    pair.step();
    pair.deliver_to_server(&again[0]);
    pair.exchange();
    assert!(!pair.client.is_handshaking());
    assert_eq!(pair.client.stats().pto_count, 0);
}

/// RFC 9002 §6.2.4: with nothing new to send, application probes carry the
/// oldest unacknowledged stream data again (both of the pair), not PINGs.
#[test]
fn pto_probes_repeat_the_oldest_stream_data() {
    let mut pair = Pair::new();
    pair.exchange();
    assert!(!pair.client.is_handshaking());
    let id = pair.client.open(Dir::Bi).unwrap();
    assert_eq!(pair.client.write(id, &[7; 500]), Ok(500));
    pair.client.finish(id).unwrap();
    pair.sent_by(Side::Client);
    let lost = pair.client_sends();
    assert!(!lost.is_empty());
    pair.sent_by(Side::Client);
    let probes = fire_until_sends(&mut pair, Side::Client);
    assert_eq!(probes.len(), 2);
    let stream = |f: &FrameSummary| {
        matches!(
            f,
            FrameSummary::Stream {
                offset: 0,
                len: 500,
                fin: true,
                ..
            }
        )
    };
    for probe in pair.sent_by(Side::Client) {
        assert!(probe.has(stream), "{probe:?}");
    }
}

/// The client discards its Handshake keys only on HANDSHAKE_DONE, and the
/// server has discarded its own: the server's probes must carry
/// HANDSHAKE_DONE again, or the client never confirms the handshake.
#[test]
fn server_pto_probes_repeat_handshake_done() {
    let mut pair = Pair::new();
    let hello = pair.client_sends();
    pair.step();
    pair.deliver_to_server(&hello[0]);
    let flight = pair.server_sends();
    pair.step();
    for d in &flight {
        pair.deliver_to_client(d);
    }
    let finished = pair.client_sends();
    pair.step();
    for d in &finished {
        pair.deliver_to_server(d);
    }
    assert!(!pair.server().is_handshaking());
    pair.sent_by(Side::Server);
    let lost = pair.server_sends();
    assert!(!lost.is_empty());
    let sent = pair.sent_by(Side::Server);
    assert!(
        sent.iter()
            .any(|p| p.has(|f| *f == FrameSummary::HandshakeDone))
    );
    let probes = fire_until_sends(&mut pair, Side::Server);
    assert_eq!(probes.len(), 2);
    for probe in pair.sent_by(Side::Server) {
        assert!(
            probe.has(|f| *f == FrameSummary::HandshakeDone),
            "{probe:?}"
        );
    }
    pair.step();
    for d in &probes {
        pair.deliver_to_client(d);
    }
    assert!(pair.client.handshake_confirmed);
}

/// RFC 9002 §6.2.4: a PTO probes every space with data outstanding. A
/// client whose handshake is complete but not confirmed has no application
/// PTO; its Handshake PTO carries the lost 1-RTT stream data along.
#[test]
fn client_handshake_pto_also_probes_unacknowledged_1rtt_data() {
    let mut pair = Pair::new();
    let hello = pair.client_sends();
    pair.step();
    pair.deliver_to_server(&hello[0]);
    let flight = pair.server_sends();
    pair.step();
    for d in &flight {
        pair.deliver_to_client(d);
    }
    assert!(!pair.client.is_handshaking());
    assert!(!pair.client.handshake_confirmed);
    let id = pair.client.open(Dir::Bi).unwrap();
    assert_eq!(pair.client.write(id, &[7; 300]), Ok(300));
    // The client's Finished and its stream data are lost.
    let lost = pair.client_sends();
    assert!(!lost.is_empty());
    pair.sent_by(Side::Client);
    let probes = fire_until_sends(&mut pair, Side::Client);
    let sent = pair.sent_by(Side::Client);
    let stream = |f: &FrameSummary| {
        matches!(
            f,
            FrameSummary::Stream {
                offset: 0,
                len: 300,
                ..
            }
        )
    };
    assert!(
        sent.iter()
            .any(|p| p.ty == PacketType::Handshake && !p.crypto().is_empty()),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|p| p.ty == PacketType::OneRtt && p.has(stream)),
        "{sent:?}"
    );
    pair.step();
    for d in &probes {
        pair.deliver_to_server(d);
    }
    pair.exchange();
    assert!(pair.client.handshake_confirmed);
}

/// RFC 9002 §6.2.4: a server's Handshake PTO also sends its Initial data
/// when unacknowledged, even once declared lost and so no longer in
/// flight, and even when the window is full: Handshake packets the client
/// cannot open are never acknowledged, so left to congestion control a lost
/// ServerHello may never go out (quinn 0.11 servers stall so).
#[test]
fn server_handshake_pto_also_sends_the_unacknowledged_server_hello() {
    let mut pair = Pair::new();
    let hello = pair.client_sends();
    pair.step();
    pair.deliver_to_server(&hello[0]);
    let _lost = pair.server_sends();
    let server_hello = pair
        .sent_by(Side::Server)
        .iter()
        .find(|p| p.ty == PacketType::Initial)
        .map(|p| p.crypto())
        .expect("an Initial");
    // The Initial packets are declared lost and the window is full.
    let now = pair.now;
    let server = pair.server();
    let mut lost = Vec::new();
    server
        .space_mut(SpaceId::Initial)
        .sent
        .discard(|p| lost.extend(p.payload.crypto().iter().copied()));
    for (offset, len) in lost {
        server
            .space_mut(SpaceId::Initial)
            .crypto
            .on_lost(offset, len);
    }
    // Handshake packets the client could not open fill the window.
    let handshake = &mut server.space_mut(SpaceId::Handshake).sent;
    for _ in 0..2 {
        let pn = handshake.next_pn();
        handshake.on_packet_sent(crate::recovery::sent::SentPacket {
            pn,
            time_sent: now,
            size: u16::MAX,
            ack_eliciting: true,
            in_flight: true,
            payload: crate::connection::spaces::SentFrames::default(),
        });
    }
    assert!(
        pair.server_sends().is_empty(),
        "blocked by congestion control"
    );
    let server = pair.server();
    server.loss_timer = Some(crate::recovery::loss::LossTimer {
        at: now,
        space: SpaceId::Handshake,
        kind: crate::recovery::loss::TimerKind::Pto,
    });
    server.on_loss_detection_timeout(now);
    let probes = pair.server_sends();
    assert!(!probes.is_empty());
    let sent = pair.sent_by(Side::Server);
    assert!(
        sent.iter()
            .any(|p| p.ty == PacketType::Initial && p.crypto() == server_hello),
        "{sent:?}"
    );
}

/// RFC 9002 §6.2.2.1: a client that has Handshake keys but nothing of its
/// own to send in that space probes with a Handshake packet as well, which
/// validates its address at the server (RFC 9000 §8.1).
#[test]
fn client_with_handshake_keys_probes_in_the_handshake_space() {
    let mut pair = Pair::new();
    let _lost = pair.client_sends();
    pair.fire_client_timer();
    let probes = pair.client_sends();
    assert_eq!(probes.len(), 2);
    pair.step();
    pair.deliver_to_server(&probes[0]);
    // Only the ServerHello arrives: the client has Handshake keys, its
    // second probe is unacknowledged, the server's Handshake data is lost.
    let flight = pair.server_sends();
    let initial_only: Vec<u8> = flight
        .iter()
        .flat_map(|d| packets(d))
        .filter(|(ty, _)| *ty == PacketType::Initial)
        .flat_map(|(_, bytes)| bytes)
        .collect();
    pair.step();
    pair.deliver_to_client(&initial_only);
    assert!(pair.client.space(SpaceId::Handshake).keys.is_some());
    let _ack = pair.client_sends();
    pair.sent_by(Side::Client);
    let probes = fire_until_sends(&mut pair, Side::Client);
    let sent = pair.sent_by(Side::Client);
    assert!(
        sent.iter().any(|p| p.ty == PacketType::Handshake),
        "{sent:?}"
    );
    pair.step();
    for d in &probes {
        pair.deliver_to_server(d);
    }
    assert!(pair.server().address_validated);
    pair.exchange();
    assert!(!pair.client.is_handshaking());
}

/// A resuming client's TLS reports the transport parameters remembered with
/// the ticket until it reads EncryptedExtensions. A later part of the
/// server's Handshake data arriving first must not make the client check
/// those (they name another connection's IDs) and close.
#[test]
fn resuming_client_reads_transport_parameters_after_encrypted_extensions() {
    let tls = Tls::new();
    let mut first = Pair::with(&tls, std::time::Instant::now());
    first.exchange();
    assert!(!first.client.is_handshaking());
    let mut pair = Pair::with(&tls, first.now);
    assert!(
        pair.client.tls.quic_transport_parameters().is_some(),
        "resuming: TLS reports the remembered parameters"
    );
    let hello = pair.client_sends();
    pair.step();
    pair.deliver_to_server(&hello[0]);
    let flight = pair.server_sends();
    let sent = pair.sent_by(Side::Server);
    let (_, len) = sent
        .iter()
        .find(|p| p.ty == PacketType::Handshake)
        .map(|p| p.crypto()[0])
        .expect("a Handshake packet");
    // Only the Initial (ServerHello) arrives: the Handshake packet is cut.
    let initial_only: Vec<u8> = flight
        .iter()
        .flat_map(|d| packets(d))
        .filter(|(ty, _)| *ty == PacketType::Initial)
        .flat_map(|(_, bytes)| bytes)
        .collect();
    pair.step();
    pair.deliver_to_client(&initial_only);
    assert!(pair.client.space(SpaceId::Handshake).keys.is_some());
    // The server sends the last bytes of its Handshake data again, alone.
    let tail = 8;
    let len = len as u64;
    pair.server()
        .space_mut(SpaceId::Handshake)
        .crypto
        .on_lost(len - tail, tail);
    let tail_datagrams = pair.server_sends();
    pair.step();
    for d in &tail_datagrams {
        pair.deliver_to_client(d);
    }
    assert!(!pair.client.is_closed(), "{:?}", pair.client.error());
    assert!(pair.client.peer_params.is_none());
    pair.server()
        .space_mut(SpaceId::Handshake)
        .crypto
        .on_lost(0, len);
    pair.exchange();
    assert!(!pair.client.is_handshaking(), "{:?}", pair.client.error());
    let server_cid = pair.server().local_cid;
    let params = pair.client.peer_params.as_ref().expect("parameters");
    assert_eq!(params.initial_source_connection_id, Some(server_cid));
}
