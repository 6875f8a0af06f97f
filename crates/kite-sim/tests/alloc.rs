//! Heap allocations on the data path in steady state (issue #6): a bulk
//! transfer in the simulator, with a counting global allocator that counts
//! only inside calls into kite-proto (the simulated network's own copies are
//! not the protocol's). `KITE_ALLOC_TRACE=1` prints where the counted
//! allocations come from.

#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use kite_sim::{BulkTransfer, LinkConfig};

#[path = "common/tls.rs"]
mod tls;
use tls::tls_configs;

/// Counts allocations made on a thread while its counting is switched on.
struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static TRACE: Cell<bool> = const { Cell::new(false) };
    static SITES: RefCell<Option<HashMap<String, u64>>> = const { RefCell::new(None) };
}

fn note_allocation() {
    let Ok(true) = COUNTING.try_with(Cell::get) else {
        return;
    };
    COUNT.with(|c| c.set(c.get() + 1));
    if TRACE.with(Cell::get) {
        // The backtrace allocates: switch counting off meanwhile.
        COUNTING.with(|c| c.set(false));
        let trace = std::backtrace::Backtrace::force_capture().to_string();
        // The frames from the allocator's caller up to the first of kite-proto.
        let frames: Vec<&str> = trace
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("at "))
            .skip_while(|l| !l.contains("__rustc::__rust_"))
            .skip(1)
            .collect();
        let first_kite = frames.iter().position(|l| l.contains("kite_proto::"));
        let site: Vec<&str> = frames
            .iter()
            .take(first_kite.map_or(4, |i| i + 2))
            .copied()
            .collect();
        SITES.with(|s| {
            *s.borrow_mut()
                .get_or_insert_with(HashMap::new)
                .entry(site.join(" <- "))
                .or_insert(0) += 1;
        });
        COUNTING.with(|c| c.set(true));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// The simulator's hook: count while inside kite-proto.
fn count_in_proto(inside: bool) {
    COUNTING.with(|c| c.set(inside));
}

/// Allocations per packet (sent plus received, both sides) while `bytes`
/// move after a warm-up of the same size.
fn allocations_per_packet(link: LinkConfig, bytes: u64) -> f64 {
    let (server, client) = tls_configs();
    let mut bulk = BulkTransfer::new(1, link, server, client).expect("handshake");
    assert!(bulk.run(bytes, Duration::from_secs(600)), "warm-up");
    let trace = std::env::var_os("KITE_ALLOC_TRACE").is_some();
    TRACE.with(|t| t.set(trace));
    let (c0, s0) = bulk.stats();
    COUNT.with(|c| c.set(0));
    bulk.sim.proto_hook = Some(count_in_proto);
    assert!(bulk.run(bytes, Duration::from_secs(600)), "measured run");
    bulk.sim.proto_hook = None;
    let allocations = COUNT.with(Cell::get);
    let (c1, s1) = bulk.stats();
    let packets = (c1.packets_sent - c0.packets_sent)
        + (c1.packets_received - c0.packets_received)
        + (s1.packets_sent - s0.packets_sent)
        + (s1.packets_received - s0.packets_received);
    let per_packet = allocations as f64 / packets as f64;
    let acks_per_data = (s1.packets_sent - s0.packets_sent) as f64
        / (c1.packets_sent - c0.packets_sent).max(1) as f64;
    eprintln!(
        "{allocations} allocations over {packets} packets: {per_packet:.3} per packet; \
         receiver packets per sender packet {acks_per_data:.3}; lost {}",
        c1.packets_lost - c0.packets_lost
    );
    if trace {
        let mut sites: Vec<(String, u64)> = SITES
            .with(|s| s.borrow_mut().take())
            .unwrap_or_default()
            .into_iter()
            .collect();
        sites.sort_by_key(|s| std::cmp::Reverse(s.1));
        for (site, count) in sites.iter().take(20) {
            eprintln!("{count:>8} {site}");
        }
    }
    per_packet
}

/// Bound on allocations per packet in steady state.
const MAX_ALLOCATIONS_PER_PACKET: f64 = 0.01;

/// Issue #6: no per-packet heap allocation in steady state on a clean path.
#[test]
fn bulk_transfer_allocates_nothing_per_packet_in_steady_state() {
    let per_packet = allocations_per_packet(LinkConfig::default(), 20_000_000);
    assert!(
        per_packet < MAX_ALLOCATIONS_PER_PACKET,
        "{per_packet:.3} allocations per packet"
    );
}

/// The same on a rate-limited path whose queue overflows now and then, so
/// loss recovery and retransmission are part of the steady state.
#[test]
fn bulk_transfer_on_a_bottleneck_allocates_little_per_packet() {
    let link = LinkConfig {
        rate: Some(12_500_000), // 100 Mbit/s
        queue_bytes: 32 * 1500,
        ..LinkConfig::default()
    };
    let per_packet = allocations_per_packet(link, 20_000_000);
    assert!(
        per_packet < MAX_ALLOCATIONS_PER_PACKET,
        "{per_packet:.3} allocations per packet"
    );
}
