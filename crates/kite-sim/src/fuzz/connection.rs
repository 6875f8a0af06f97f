//! The `connection_frames` fuzz target: an established client/server pair in
//! the simulator, either side fed arbitrary decrypted 1-RTT payloads
//! (`Connection::inject_payload`) while both run an echo application. After
//! the input, the pair must still carry a stream, or one side must have closed.

use bytes::Bytes;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kite_proto::{Connection, ConnectionHandle, Dir, Event, ReadError, StreamId};

use super::{Records, assert_no_internal_error, configs, wait};
use crate::{CLIENT, LinkConfig, SERVER, Simulation};

/// Control byte bit 0: inject into the client (set) or the server (clear).
pub const TO_CLIENT: u8 = 0x01;

/// Control byte bit 1: number the payload past anything the peer sent (the
/// peer then sees its ACK of a packet never sent); clear, it reuses packet
/// number 0, which the target already received, so the ACKs stay truthful.
pub const FRESH_PN: u8 = 0x02;

/// Control byte bits 2–4: how long to run the pair after the injection.
const WAIT_SHIFT: u32 = 2;

/// A control byte for [`connection_frames`]: flags ([`TO_CLIENT`],
/// [`FRESH_PN`]) and a wait index.
pub fn control(flags: u8, wait: u8) -> u8 {
    (flags & (TO_CLIENT | FRESH_PN)) | ((wait & 0b111) << WAIT_SHIFT)
}

/// The simulation seed: the network is clean, so it only fixes the start.
const SEED: u64 = 0x6b69_7465;

/// Room for the handshake and the first connection IDs both ways.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(2);

/// Fresh packet numbers start here, far past what the pair sends in a run.
const FRESH_PN_START: u64 = 1 << 30;

/// How long the closing stream check may take: past the idle timeout (30 s),
/// so a pair that cannot talk any more has timed out by then.
const USABLE_LIMIT: Duration = Duration::from_secs(65);

/// Simulation steps in a row at one instant; more means time stands still:
/// a timer due now that serving does not clear (a busy loop in a runtime).
const MAX_STILL_STEPS: u32 = 1_000;

/// Simulation steps one run may take in all.
const MAX_STEPS: u64 = 1_000_000;

/// Bytes the closing check sends on a fresh stream.
const PROBE: &[u8] = b"still usable?";

/// Injects the payloads `data` encodes (see [`Records`], [`control`]) into
/// an established pair, then checks that a new client stream reaches the
/// server or that a side has closed.
pub fn connection_frames(data: &[u8]) {
    let configs = configs();
    let mut sim = Simulation::pair(SEED, LinkConfig::default(), configs.server.clone());
    let ch = sim.connect(CLIENT, SERVER, configs.client.clone());
    let established = sim.run_until(HANDSHAKE_LIMIT, |sim| {
        !sim.conn(CLIENT, ch).is_handshaking()
            && sim.hosts[SERVER]
                .accepted
                .first()
                .copied()
                .is_some_and(|sh| {
                    let server = sim.conn(SERVER, sh);
                    !server.is_handshaking() && server.peer_cid_count() > 1
                })
            && sim.conn(CLIENT, ch).peer_cid_count() > 1
    });
    assert!(established, "the handshake completes on a clean network");
    let sh = sim.hosts[SERVER].accepted[0];
    let mut app = EchoApp {
        pair: [(SERVER, sh), (CLIENT, ch)],
        ended: BTreeSet::new(),
        steps: 0,
        still: (None, 0),
    };

    let mut fresh_pn = FRESH_PN_START;
    for (control, payload) in Records::new(data) {
        let (host, handle) = app.pair[usize::from(control & TO_CLIENT)];
        let pn = if control & FRESH_PN == 0 {
            0
        } else {
            fresh_pn += 1;
            fresh_pn
        };
        let now = sim.now;
        let payload = Bytes::copy_from_slice(payload);
        sim.conn(host, handle).inject_payload(now, pn, payload);
        app.run(&mut sim, wait(control, WAIT_SHIFT), |_, _| false);
    }

    // Either side may have closed; if neither did, a new stream still works.
    let closed =
        |sim: &mut Simulation| sim.conn(SERVER, sh).is_closed() || sim.conn(CLIENT, ch).is_closed();
    if !closed(&mut sim) {
        let client = sim.conn(CLIENT, ch);
        let id = client
            .open(Dir::Bi)
            .expect("an open client may open a stream");
        let written = client
            .write(id, PROBE)
            .expect("a new stream takes a few bytes");
        assert_eq!(written, PROBE.len());
        client.finish(id).expect("a new stream can be finished");
        let done = app.run(&mut sim, USABLE_LIMIT, |sim, app| {
            app.ended.contains(&(SERVER, id)) || closed(sim)
        });
        assert!(
            done,
            "after {USABLE_LIMIT:?} the server has not read stream {id:?} to its end, \
             and both sides are open"
        );
    }
    for (host, handle) in app.pair {
        let conn = sim.conn(host, handle);
        assert!(
            !conn.is_closed() || conn.error().is_some(),
            "closed without an error"
        );
        assert_no_internal_error(conn);
    }
}

/// Both sides' application: accepts every stream and reads it; the server
/// echoes what it reads on bidirectional streams and finishes with the peer.
struct EchoApp {
    /// `(host, handle)` of the server and the client, in that order.
    pair: [(usize, ConnectionHandle); 2],
    /// Streams read to their end (FIN, reset or connection loss).
    ended: BTreeSet<(usize, StreamId)>,
    /// Simulation steps so far.
    steps: u64,
    /// The instant of the last step, and how many steps in a row it lasted.
    still: (Option<Instant>, u32),
}

impl EchoApp {
    /// Runs the pair and the application for `limit` or until `done`.
    fn run(
        &mut self,
        sim: &mut Simulation,
        limit: Duration,
        mut done: impl FnMut(&mut Simulation, &EchoApp) -> bool,
    ) -> bool {
        sim.run_until(limit, |sim| {
            self.steps += 1;
            assert!(self.steps < MAX_STEPS, "the run never settles");
            if self.still.0 == Some(sim.now) {
                self.still.1 += 1;
                let at = sim.now - sim.network.start();
                assert!(
                    self.still.1 < MAX_STILL_STEPS,
                    "time stands still at {at:?}"
                );
            } else {
                self.still = (Some(sim.now), 0);
            }
            for (host, handle) in self.pair {
                self.serve(host, sim.conn(host, handle));
            }
            done(sim, self)
        })
    }

    fn serve(&mut self, host: usize, conn: &mut Connection) {
        while let Some(event) = conn.poll() {
            match event {
                Event::StreamOpened(dir) => {
                    while let Some(id) = conn.accept(dir) {
                        self.read(host, conn, id);
                    }
                }
                Event::StreamReadable(id) => self.read(host, conn, id),
                _ => {}
            }
        }
    }

    fn read(&mut self, host: usize, conn: &mut Connection, id: StreamId) {
        let echo = host == SERVER && id.dir() == Dir::Bi;
        loop {
            match conn.read(id, usize::from(u16::MAX)) {
                Ok(Some(data)) => {
                    if echo {
                        // Flow control may take less; the echo is best effort.
                        let _ = conn.write(id, &data);
                    }
                }
                Ok(None) => {
                    if echo {
                        let _ = conn.finish(id);
                    }
                    self.ended.insert((host, id));
                    return;
                }
                Err(ReadError::Reset(_) | ReadError::ConnectionLost(_)) => {
                    self.ended.insert((host, id));
                    return;
                }
                Err(ReadError::Blocked | ReadError::ClosedStream) => return,
            }
        }
    }
}
