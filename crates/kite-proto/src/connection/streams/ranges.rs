//! A set of disjoint half-open `u64` ranges, kept merged: the send side's acknowledged
//! and lost byte ranges. Every operation is O(log n) plus the ranges it removes.

use std::collections::BTreeMap;
use std::ops::Range;

/// Disjoint, non-adjacent ranges keyed by start; adjacent or overlapping inserts merge.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end (exclusive).
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set holds no range.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The number of disjoint ranges held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The lowest range, if any.
    pub fn first(&self) -> Option<Range<u64>> {
        self.map.first_key_value().map(|(&s, &e)| s..e)
    }

    /// Removes and returns the lowest range.
    pub fn pop_first(&mut self) -> Option<Range<u64>> {
        self.map.pop_first().map(|(s, e)| s..e)
    }

    /// Iterates the ranges in order.
    pub fn iter(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.map.iter().map(|(&s, &e)| s..e)
    }

    /// Whether every value of `range` is in the set (an empty range always is).
    pub fn contains(&self, range: Range<u64>) -> bool {
        if range.is_empty() {
            return true;
        }
        match self.map.range(..=range.start).next_back() {
            Some((_, &end)) => end >= range.end,
            None => false,
        }
    }

    /// Adds `range`, merging it with every range it overlaps or touches.
    pub fn insert(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        let (mut start, mut end) = (range.start, range.end);
        // A range starting at or before `start` that reaches it absorbs the new one.
        if let Some((&s, &e)) = self.map.range(..=start).next_back()
            && e >= start
        {
            if e >= end {
                return;
            }
            start = s;
            self.map.remove(&s);
        }
        // Ranges starting inside (or right at the end of) the new one merge into it.
        while let Some((&s, &e)) = self.map.range(start..=end).next() {
            self.map.remove(&s);
            end = end.max(e);
        }
        self.map.insert(start, end);
    }

    /// Removes every value of `range` from the set, splitting ranges as needed.
    pub fn remove(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        // A range starting before `range` may stick out on either side.
        if let Some((&s, &e)) = self.map.range(..range.start).next_back()
            && e > range.start
        {
            self.map.insert(s, range.start);
            if e > range.end {
                self.map.insert(range.end, e);
                return;
            }
        }
        while let Some((&s, &e)) = self.map.range(range.start..range.end).next() {
            self.map.remove(&s);
            if e > range.end {
                self.map.insert(range.end, e);
                break;
            }
        }
    }

    /// The parts of `range` not in the set, in order.
    pub fn gaps_in(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut cursor = range.start;
        if let Some((_, &e)) = self.map.range(..=range.start).next_back() {
            cursor = cursor.max(e);
        }
        for (&s, &e) in self.map.range(range.start..range.end) {
            if s > cursor {
                gaps.push(cursor..s);
            }
            cursor = cursor.max(e);
        }
        if cursor < range.end {
            gaps.push(cursor..range.end);
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(set: &RangeSet) -> Vec<Range<u64>> {
        set.iter().collect()
    }

    #[test]
    fn inserts_merge_overlapping_and_adjacent_ranges() {
        let mut set = RangeSet::new();
        set.insert(10..20);
        set.insert(30..40);
        set.insert(20..25); // touches the first
        assert_eq!(ranges(&set), vec![10..25, 30..40]);
        set.insert(5..35); // swallows both
        assert_eq!(ranges(&set), vec![5..40]);
        set.insert(12..13); // inside
        assert_eq!(ranges(&set), vec![5..40]);
        set.insert(40..41);
        assert_eq!(ranges(&set), vec![5..41]);
        set.insert(7..7);
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn removes_split_and_trim_ranges() {
        let mut set = RangeSet::new();
        set.insert(0..100);
        set.remove(10..20);
        assert_eq!(ranges(&set), vec![0..10, 20..100]);
        set.remove(5..25);
        assert_eq!(ranges(&set), vec![0..5, 25..100]);
        set.remove(90..200);
        assert_eq!(ranges(&set), vec![0..5, 25..90]);
        set.remove(0..1000);
        assert!(set.is_empty());
    }

    #[test]
    fn contains_and_gaps_report_coverage() {
        let mut set = RangeSet::new();
        set.insert(10..20);
        set.insert(30..40);
        assert!(set.contains(12..20));
        assert!(!set.contains(12..21));
        assert!(set.contains(50..50));
        assert_eq!(set.gaps_in(0..50), vec![0..10, 20..30, 40..50]);
        assert_eq!(set.gaps_in(15..35), vec![20..30]);
        assert_eq!(set.gaps_in(12..18), Vec::<Range<u64>>::new());
    }

    proptest::proptest! {
        #[test]
        fn range_set_matches_a_bitmap(ops in proptest::collection::vec((proptest::bool::ANY, 0u64..64, 0u64..16), 0..40)) {
            let mut set = RangeSet::new();
            let mut bits = [false; 80];
            for (add, start, len) in ops {
                let r = start..start + len;
                if add { set.insert(r.clone()) } else { set.remove(r.clone()) }
                for b in &mut bits[r.start as usize..r.end as usize] { *b = add; }
            }
            let mut expect = Vec::new();
            let mut i = 0;
            while i < bits.len() {
                if bits[i] {
                    let s = i;
                    while i < bits.len() && bits[i] { i += 1; }
                    expect.push(s as u64..i as u64);
                } else { i += 1; }
            }
            proptest::prop_assert_eq!(ranges(&set), expect);
        }
    }
}
