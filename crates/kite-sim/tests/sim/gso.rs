//! GSO batches from `poll_transmit_batch`: bulk stream data leaves in
//! batches whose segments all have the batch's segment size, the last one
//! possibly shorter, so the kernel splits them where the packets end.

use super::{handshake, seed, tls_configs};
use kite_proto::Dir;
use kite_sim::{CLIENT, LinkConfig, SERVER, Simulation};
use std::time::Duration;

#[test]
fn bulk_stream_data_leaves_in_batches_of_equal_segments() {
    let (server, client) = tls_configs();
    let mut sim = Simulation::pair(seed(21), LinkConfig::default(), server);
    let ch = sim.connect(CLIENT, SERVER, client);
    assert!(handshake(&mut sim, ch, Duration::from_secs(5)));
    let now = sim.now;
    let conn = sim.conn(CLIENT, ch);
    let id = conn.open(Dir::Bi).unwrap();
    let data = vec![7u8; 256 * 1024];
    assert!(conn.write(id, &data).unwrap() > 100_000);
    let mut buf = Vec::new();
    let t = conn.poll_transmit_batch(now, 10, &mut buf).unwrap();
    let segment = t.segment_size.expect("a batch of several datagrams");
    // The initial window holds ten full datagrams; pacing lets ten go at once.
    assert!(t.size > 5 * segment, "{t:?}");
    assert!(t.size <= 10 * segment, "{t:?}");
    assert_eq!(buf.len(), t.size);
}
