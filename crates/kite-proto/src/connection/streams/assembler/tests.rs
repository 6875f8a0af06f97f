use super::*;
use proptest::prelude::*;

/// A reference stream whose byte at offset `i` is `i % 251`, so that any piece
/// carries recognisable, consistent data.
fn stream(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn piece(all: &Bytes, range: std::ops::Range<usize>) -> (u64, Bytes) {
    (range.start as u64, all.slice(range))
}

fn insert(asm: &mut Assembler, all: &Bytes, range: std::ops::Range<usize>) {
    let (offset, data) = piece(all, range);
    asm.insert(offset, data).unwrap();
}

fn read_all(asm: &mut Assembler) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = asm.pop(usize::MAX) {
        out.extend_from_slice(&chunk);
    }
    out
}

#[test]
fn in_order_data_is_handed_out_in_order() {
    let all = stream(3000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 0..1500);
    insert(&mut asm, &all, 1500..3000);
    assert_eq!(read_all(&mut asm), all.to_vec());
    assert_eq!(asm.read_offset(), 3000);
    assert_eq!(asm.buffered(), 0);
}

#[test]
fn out_of_order_data_waits_for_the_gap() {
    let all = stream(3000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 1500..3000);
    assert!(!asm.is_readable());
    assert_eq!(asm.pop(100), None);
    insert(&mut asm, &all, 0..1500);
    assert_eq!(read_all(&mut asm), all.to_vec());
}

#[test]
fn pop_splits_a_piece_at_max() {
    let all = stream(2000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 0..2000);
    assert_eq!(asm.pop(0), None, "zero reads nothing");
    assert_eq!(asm.pop(700).unwrap(), all.slice(0..700));
    assert_eq!(asm.read_offset(), 700);
    assert_eq!(asm.pop(5000).unwrap(), all.slice(700..2000));
}

#[test]
fn duplicate_data_is_dropped() {
    let all = stream(4000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 1000..3000);
    insert(&mut asm, &all, 1000..3000);
    insert(&mut asm, &all, 1500..2500); // inside
    assert_eq!((asm.pieces(), asm.buffered()), (1, 2000));
}

#[test]
fn data_already_read_is_dropped_or_trimmed() {
    let all = stream(4000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 0..2000);
    read_all(&mut asm);
    insert(&mut asm, &all, 0..2000); // all below the read offset
    assert_eq!(asm.buffered(), 0);
    insert(&mut asm, &all, 1000..3500); // straddles it
    assert_eq!(asm.buffered(), 1500);
    assert_eq!(read_all(&mut asm), all[2000..3500].to_vec());
}

#[test]
fn overlap_with_the_front_of_existing_data_keeps_only_new_bytes() {
    let all = stream(5000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 2000..4000);
    insert(&mut asm, &all, 500..3000); // ends inside the existing piece
    assert_eq!(asm.buffered(), 3500);
    insert(&mut asm, &all, 0..500);
    assert_eq!(read_all(&mut asm), all[..4000].to_vec());
}

#[test]
fn overlap_with_the_back_of_existing_data_keeps_only_new_bytes() {
    let all = stream(5000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 1000..3000);
    insert(&mut asm, &all, 2000..5000); // starts inside it
    assert_eq!(asm.buffered(), 4000);
    insert(&mut asm, &all, 0..1000);
    assert_eq!(read_all(&mut asm), all.to_vec());
}

#[test]
fn data_covering_several_pieces_replaces_them() {
    let all = stream(9000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 2000..3100);
    insert(&mut asm, &all, 4000..5100);
    insert(&mut asm, &all, 6000..7100);
    assert_eq!(asm.pieces(), 3);
    insert(&mut asm, &all, 1000..8000);
    assert_eq!((asm.pieces(), asm.buffered()), (1, 7000));
    insert(&mut asm, &all, 0..1000);
    assert_eq!(read_all(&mut asm), all[..8000].to_vec());
}

#[test]
fn data_bridging_two_pieces_fills_only_the_hole() {
    let all = stream(9000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 1000..3000);
    insert(&mut asm, &all, 5000..7000);
    insert(&mut asm, &all, 2000..6000); // overlaps both neighbours
    assert_eq!(asm.buffered(), 6000);
    insert(&mut asm, &all, 0..1000);
    assert_eq!(read_all(&mut asm), all[..7000].to_vec());
}

#[test]
fn small_pieces_are_copied_so_they_pin_no_datagram() {
    let datagram = stream(1500);
    let mut asm = Assembler::new();
    asm.insert(0, datagram.slice(100..110)).unwrap();
    let held = asm.pop(usize::MAX).unwrap();
    let range = datagram.as_ptr_range();
    assert!(!range.contains(&held.as_ptr()), "tiny piece must be a copy");
    assert_eq!(&held[..], &datagram[100..110]);
}

#[test]
fn large_pieces_are_kept_without_copying() {
    let datagram = stream(1500);
    let mut asm = Assembler::new();
    asm.insert(0, datagram.slice(10..1400)).unwrap();
    let held = asm.pop(usize::MAX).unwrap();
    assert_eq!(held.as_ptr(), datagram[10..].as_ptr());
}

#[test]
fn a_large_piece_trimmed_to_a_sliver_is_copied() {
    // A peer resends [1, 1101) over [0, 1100): only one new byte remains, which
    // must not keep its whole datagram alive.
    let all = stream(2000);
    let mut asm = Assembler::new();
    insert(&mut asm, &all, 0..1100);
    let second = all.slice(1..1101);
    asm.insert(1, second.clone()).unwrap();
    assert_eq!(asm.buffered(), 1101);
    asm.pop(1100);
    let sliver = asm.pop(usize::MAX).unwrap();
    assert!(!second.as_ptr_range().contains(&sliver.as_ptr()));
}

#[test]
fn touching_tiny_fragments_merge_into_few_pieces() {
    let all = stream(3000);
    let mut asm = Assembler::new();
    // In order, unread: one byte at a time coalesces into pieces of ~COPY_BELOW.
    for i in 1..1500 {
        insert(&mut asm, &all, i..i + 1);
    }
    assert!(
        asm.pieces() <= 1500 / COPY_BELOW + 1,
        "{} pieces",
        asm.pieces()
    );
    // Reverse order merges with the piece after.
    for i in (1500..3000).rev() {
        insert(&mut asm, &all, i..i + 1);
    }
    assert!(
        asm.pieces() <= 3000 / COPY_BELOW + 2,
        "{} pieces",
        asm.pieces()
    );
    insert(&mut asm, &all, 0..1);
    assert_eq!(read_all(&mut asm), all.to_vec());
}

#[test]
fn tiny_fragment_flood_with_holes_is_refused_at_the_bound() {
    // One byte every other offset: every byte is its own piece.
    let all = stream(100_000);
    let mut asm = Assembler::new();
    let mut refused = None;
    for i in 0..10_000usize {
        let (offset, data) = piece(&all, 2 * i + 1..2 * i + 2);
        if asm.insert(offset, data).is_err() {
            refused = Some(i);
            break;
        }
    }
    let refused_at = refused.expect("flood must be refused");
    assert!(
        refused_at <= BASE_PIECES + 1,
        "refused after {refused_at} pieces"
    );
    assert!(asm.pieces() <= BASE_PIECES + 1);
}

#[test]
fn full_size_frames_with_many_holes_stay_within_the_bound() {
    // Every other 1200-byte packet lost: many holes, but each piece is large.
    let all = stream(2_400_000);
    let mut asm = Assembler::new();
    for i in 0..1000usize {
        let start = 1200 + 2400 * i;
        insert(&mut asm, &all, start..start + 1200);
    }
    assert_eq!(asm.pieces(), 1000);
}

proptest! {
    /// Whatever order, overlap and duplication the pieces come in, reading yields
    /// the stream exactly, and the buffer never holds a byte twice.
    #[test]
    fn any_arrival_order_reassembles_the_stream(
        cuts in proptest::collection::vec((0usize..3000, 1usize..1500), 1..60),
    ) {
        let all = stream(4000);
        let mut asm = Assembler::new();
        let mut covered = vec![false; 4000];
        let mut out = Vec::new();
        for (i, (start, len)) in cuts.iter().enumerate() {
            let end = (start + len).min(4000);
            insert(&mut asm, &all, *start..end);
            covered[*start..end].iter_mut().for_each(|c| *c = true);
            let distinct = covered.iter().filter(|c| **c).count() as u64;
            prop_assert_eq!(asm.received_bytes(), distinct);
            if i % 3 == 0 {
                if let Some(chunk) = asm.pop(700) {
                    out.extend_from_slice(&chunk);
                }
            }
        }
        out.extend(read_all(&mut asm));
        let prefix = covered.iter().take_while(|c| **c).count();
        prop_assert_eq!(&out[..], &all[..prefix]);
    }
}
