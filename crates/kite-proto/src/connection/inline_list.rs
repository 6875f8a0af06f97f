//! `InlineList`: a list whose first `N` items live inline and the rest on the
//! heap. A sent packet records its frames in these, so that a bulk transfer's
//! packets (one or two STREAM chunks, now and then a flow control frame) cost
//! no allocation each (issue #6); a packet with more spills to the heap.

use std::iter::{Chain, Flatten};

/// A list of `Copy` items, the first `N` stored inline.
#[derive(Clone, PartialEq, Eq)]
pub struct InlineList<T: Copy, const N: usize> {
    /// The first items, `Some` from the front, then `None`.
    inline: [Option<T>; N],
    /// Items past the first `N`, in order. Boxed so that a list that never
    /// spills, as nearly all do, costs one word rather than three.
    #[allow(clippy::box_collection)] // one word inline, as said above
    spill: Option<Box<Vec<T>>>,
}

impl<T: Copy, const N: usize> Default for InlineList<T, N> {
    fn default() -> Self {
        InlineList {
            inline: [None; N],
            spill: None,
        }
    }
}

impl<T: Copy, const N: usize> InlineList<T, N> {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `item`.
    pub fn push(&mut self, item: T) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(item),
            None => self.spill.get_or_insert_default().push(item),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.inline.iter().take_while(|s| s.is_some()).count() + self.spilled().len()
    }

    /// Whether the list holds nothing.
    pub fn is_empty(&self) -> bool {
        self.inline.first().is_none_or(Option::is_none)
    }

    /// The items in order.
    pub fn iter(&self) -> <&Self as IntoIterator>::IntoIter {
        self.into_iter()
    }

    /// The items past the first `N`.
    fn spilled(&self) -> &[T] {
        self.spill.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<T: Copy, const N: usize> IntoIterator for InlineList<T, N> {
    type Item = T;
    type IntoIter = Chain<Flatten<std::array::IntoIter<Option<T>, N>>, std::vec::IntoIter<T>>;

    fn into_iter(self) -> Self::IntoIter {
        let spill = self.spill.map_or_else(Vec::new, |spill| *spill);
        self.inline.into_iter().flatten().chain(spill)
    }
}

impl<'a, T: Copy, const N: usize> IntoIterator for &'a InlineList<T, N> {
    type Item = &'a T;
    type IntoIter = Chain<Flatten<std::slice::Iter<'a, Option<T>>>, std::slice::Iter<'a, T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.inline.iter().flatten().chain(self.spilled().iter())
    }
}

impl<T: Copy + std::fmt::Debug, const N: usize> std::fmt::Debug for InlineList<T, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_order_inline_then_spilled() {
        let mut list: InlineList<u32, 2> = InlineList::new();
        assert!(list.is_empty());
        for i in 0..5 {
            list.push(i);
            assert_eq!(list.len(), i as usize + 1);
        }
        assert!(!list.is_empty());
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(list.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn up_to_n_items_stay_inline() {
        let mut list: InlineList<u64, 2> = InlineList::new();
        list.push(7);
        list.push(8);
        assert!(list.spill.is_none());
        assert_eq!(format!("{list:?}"), "[7, 8]");
    }
}
