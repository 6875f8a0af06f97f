use super::*;

const MS: Duration = Duration::from_millis(1);

fn impairer(impairments: Impairments) -> (Impairer, Instant) {
    let start = Instant::now();
    (Impairer::new(impairments, 5, start), start)
}

/// Runs `n` datagrams of `len` bytes arriving at `now` and returns the verdicts.
fn run(imp: &mut Impairer, now: Instant, n: usize, len: usize) -> Vec<Verdict> {
    (0..n)
        .map(|_| imp.handle_datagram(now, &mut vec![0u8; len]))
        .collect()
}

#[test]
fn no_impairment_forwards_everything_at_once() {
    let (mut imp, start) = impairer(Impairments::default());
    for verdict in run(&mut imp, start, 100, 1200) {
        assert_eq!(
            verdict,
            Verdict::Forward {
                due: start,
                duplicate_due: None,
                ends_silence: false,
            }
        );
    }
    assert_eq!(imp.stats().received, 100);
}

#[test]
fn same_seed_same_decisions() {
    let impairments = Impairments {
        loss: 0.3,
        corrupt: 0.2,
        reorder: 0.1,
        duplicate: 0.1,
        ..Impairments::default()
    };
    let start = Instant::now();
    let decide = || {
        let mut imp = Impairer::new(impairments.clone(), 99, start);
        (0..1000)
            .map(|i| {
                let mut datagram = vec![i as u8; 100];
                (imp.handle_datagram(start, &mut datagram), datagram)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(decide(), decide());
}

#[test]
fn loss_drops_about_its_share() {
    let (mut imp, start) = impairer(Impairments {
        loss: 0.3,
        ..Impairments::default()
    });
    let verdicts = run(&mut imp, start, 10_000, 100);
    let lost = verdicts
        .iter()
        .filter(|v| **v == Verdict::Drop(DropReason::Lost))
        .count();
    assert!((2_800..3_200).contains(&lost), "{lost}");
    assert_eq!(imp.stats().lost, lost as u64);
}

#[test]
fn corruption_flips_exactly_one_byte() {
    let (mut imp, start) = impairer(Impairments {
        corrupt: 1.0,
        ..Impairments::default()
    });
    for _ in 0..1000 {
        let mut datagram = vec![0xaa; 50];
        assert!(matches!(
            imp.handle_datagram(start, &mut datagram),
            Verdict::Forward { .. }
        ));
        assert_eq!(datagram.iter().filter(|&&b| b != 0xaa).count(), 1);
    }
    assert_eq!(imp.stats().corrupted, 1000);
}

#[test]
fn corruption_of_an_empty_datagram_is_a_no_op() {
    let (mut imp, start) = impairer(Impairments {
        corrupt: 1.0,
        ..Impairments::default()
    });
    assert!(matches!(
        imp.handle_datagram(start, &mut []),
        Verdict::Forward { .. }
    ));
    assert_eq!(imp.stats().corrupted, 0);
}

#[test]
fn delay_shifts_every_datagram() {
    let (mut imp, start) = impairer(Impairments {
        delay: 750 * MS,
        ..Impairments::default()
    });
    let at = start + 3 * MS;
    assert_eq!(
        imp.handle_datagram(at, &mut [1, 2, 3]),
        Verdict::Forward {
            due: at + 750 * MS,
            duplicate_due: None,
            ends_silence: false,
        }
    );
}

#[test]
fn reordered_datagrams_are_overtaken() {
    let (mut imp, start) = impairer(Impairments {
        reorder: 0.5,
        reorder_delay: 20 * MS,
        delay: 5 * MS,
        ..Impairments::default()
    });
    let dues: Vec<Instant> = (0..100u32)
        .map(
            |i| match imp.handle_datagram(start + i * MS, &mut [0; 10]) {
                Verdict::Forward { due, .. } => due,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    let held = dues
        .iter()
        .zip(0..100u32)
        .filter(|&(due, i)| *due == start + i * MS + 25 * MS)
        .count();
    assert_eq!(held as u64, imp.stats().reordered);
    assert!((30..70).contains(&held), "{held}");
    // Some datagram leaves after one that arrived later than it.
    assert!(dues.windows(2).any(|w| w[0] > w[1]));
}

#[test]
fn duplicates_leave_with_their_original() {
    let (mut imp, start) = impairer(Impairments {
        duplicate: 1.0,
        delay: 10 * MS,
        ..Impairments::default()
    });
    assert_eq!(
        imp.handle_datagram(start, &mut [0; 10]),
        Verdict::Forward {
            due: start + 10 * MS,
            duplicate_due: Some(start + 10 * MS),
            ends_silence: false,
        }
    );
    assert_eq!(imp.stats().duplicated, 1);
}

#[test]
fn blackhole_darkens_the_end_of_each_period() {
    let blackhole = Blackhole {
        period: 5000 * MS,
        outage: 2000 * MS,
    };
    assert!(!blackhole.is_dark(Duration::ZERO));
    assert!(!blackhole.is_dark(2999 * MS));
    assert!(blackhole.is_dark(3000 * MS));
    assert!(blackhole.is_dark(4999 * MS));
    assert!(!blackhole.is_dark(5000 * MS));
    assert!(blackhole.is_dark(8500 * MS));
    assert!(!blackhole.is_dark(10_001 * MS));
}

#[test]
fn blackhole_drops_only_during_outages() {
    let (mut imp, start) = impairer(Impairments {
        blackhole: Some(Blackhole {
            period: 100 * MS,
            outage: 40 * MS,
        }),
        ..Impairments::default()
    });
    let dark = (0..1000u32)
        .filter(|&i| {
            imp.handle_datagram(start + i * MS, &mut [0; 10])
                == Verdict::Drop(DropReason::Blackhole)
        })
        .count();
    assert_eq!(dark, 400);
    assert_eq!(imp.stats().blackholed, 400);
}

/// What became of a datagram arriving at `at`: `Some(ends_silence)` when
/// forwarded, `None` when silenced.
fn passes(imp: &mut Impairer, at: Instant) -> Option<bool> {
    match imp.handle_datagram(at, &mut [0; 10]) {
        Verdict::Forward { ends_silence, .. } => Some(ends_silence),
        Verdict::Drop(DropReason::Silenced) => None,
        other => panic!("{other:?}"),
    }
}

#[test]
fn silence_drops_what_follows_the_first_datagrams_for_its_length() {
    let (mut imp, start) = impairer(Impairments {
        silence: Some(Silence {
            after: 2,
            length: 100 * MS,
        }),
        ..Impairments::default()
    });
    // The first two pass; the silence counts from the second.
    assert_eq!(passes(&mut imp, start), Some(false));
    assert_eq!(passes(&mut imp, start + 5 * MS), Some(false));
    for at in [6, 50, 104] {
        assert_eq!(passes(&mut imp, start + at * MS), None, "at {at} ms");
    }
    // The first one after it is marked, later ones are not.
    assert_eq!(passes(&mut imp, start + 105 * MS), Some(true));
    assert_eq!(passes(&mut imp, start + 106 * MS), Some(false));
    assert_eq!(passes(&mut imp, start + 500 * MS), Some(false));
    let stats = imp.stats();
    assert_eq!((stats.received, stats.silenced), (8, 3));
}

#[test]
fn silence_after_no_datagram_counts_from_the_start() {
    let (mut imp, start) = impairer(Impairments {
        silence: Some(Silence {
            after: 0,
            length: 100 * MS,
        }),
        ..Impairments::default()
    });
    assert_eq!(passes(&mut imp, start + 99 * MS), None);
    assert_eq!(passes(&mut imp, start + 100 * MS), Some(true));
}

#[test]
fn no_silence_marks_no_datagram() {
    let (mut imp, start) = impairer(Impairments::default());
    for at in 0..10u32 {
        assert_eq!(passes(&mut imp, start + at * 100 * MS), Some(false));
    }
}

#[test]
fn bytes_are_counted_on_arrival_and_on_sending() {
    let (mut imp, start) = impairer(Impairments {
        loss: 0.5,
        ..Impairments::default()
    });
    let mut forwarded = 0;
    for len in 1..=100usize {
        if let Verdict::Forward { .. } = imp.handle_datagram(start, &mut vec![0; len]) {
            imp.on_sent(len);
            forwarded += len as u64;
        }
    }
    let stats = imp.stats();
    assert_eq!(stats.received_bytes, 5050);
    assert_eq!(stats.sent_bytes, forwarded);
    assert!(stats.lost > 0 && stats.sent_bytes < stats.received_bytes);
}

#[test]
fn silence_parses_count_and_milliseconds() {
    assert_eq!(
        "1:1500".parse::<Silence>().unwrap(),
        Silence {
            after: 1,
            length: 1500 * MS
        }
    );
    for bad in ["1", "x:10", "1:-5", ""] {
        assert!(bad.parse::<Silence>().is_err(), "{bad}");
    }
}

#[test]
fn rate_spaces_datagrams_by_their_serialisation_time() {
    // 1000 bytes at 100 kB/s take 10 ms each.
    let (mut imp, start) = impairer(Impairments {
        rate: Some(100_000),
        queue_limit: 10_000,
        ..Impairments::default()
    });
    let verdicts = run(&mut imp, start, 3, 1000);
    let dues: Vec<_> = verdicts
        .iter()
        .map(|v| match v {
            Verdict::Forward { due, .. } => *due,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(dues, [start + 10 * MS, start + 20 * MS, start + 30 * MS]);
}

#[test]
fn rate_limited_queue_drops_past_its_bound() {
    // Ten 1000-byte datagrams fill a 10 000-byte queue; the rest drop.
    let (mut imp, start) = impairer(Impairments {
        rate: Some(100_000),
        queue_limit: 10_000,
        ..Impairments::default()
    });
    let verdicts = run(&mut imp, start, 15, 1000);
    let dropped = verdicts
        .iter()
        .filter(|v| **v == Verdict::Drop(DropReason::QueueFull))
        .count();
    assert_eq!(dropped, 5);
    // Once the link has drained, datagrams pass again.
    let later = start + Duration::from_secs(1);
    assert!(matches!(
        imp.handle_datagram(later, &mut [0; 1000]),
        Verdict::Forward { .. }
    ));
}

#[test]
fn validate_rejects_impossible_settings() {
    let bad = [
        Impairments {
            loss: 1.5,
            ..Impairments::default()
        },
        Impairments {
            corrupt: -0.1,
            ..Impairments::default()
        },
        Impairments {
            rate: Some(0),
            ..Impairments::default()
        },
        Impairments {
            blackhole: Some(Blackhole {
                period: 10 * MS,
                outage: 20 * MS,
            }),
            ..Impairments::default()
        },
        Impairments {
            blackhole: Some(Blackhole {
                period: Duration::ZERO,
                outage: Duration::ZERO,
            }),
            ..Impairments::default()
        },
    ];
    for impairments in bad {
        assert!(impairments.validate().is_err(), "{impairments:?}");
    }
    assert_eq!(Impairments::default().validate(), Ok(()));
}

#[test]
fn blackhole_parses_period_and_outage_in_milliseconds() {
    assert_eq!(
        "5000:2000".parse(),
        Ok(Blackhole {
            period: 5000 * MS,
            outage: 2000 * MS
        })
    );
    for bad in ["5000", "a:b", "5000:", ":2000", "-1:0"] {
        assert!(bad.parse::<Blackhole>().is_err(), "{bad}");
    }
}

#[test]
fn probability_parses_fractions_and_percentages() {
    assert_eq!(parse_probability("0.3"), Ok(0.3));
    assert_eq!(parse_probability("30%"), Ok(0.3));
    assert_eq!(parse_probability("0"), Ok(0.0));
    assert_eq!(parse_probability("100%"), Ok(1.0));
    for bad in ["1.5", "-0.1", "150%", "NaN", "x", ""] {
        assert!(parse_probability(bad).is_err(), "{bad}");
    }
}
