use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, PartialEq)]
struct Entry {
    score: f32,
    item: u32,
}
impl Eq for Entry {}
impl Ord for Entry {
    /// "Greater" = better: higher score, then lower item index.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score.total_cmp(&o.score).then_with(|| o.item.cmp(&self.item))
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Keeps the `k` best `(item, score)` pairs seen, in O(log k) per accepted push.
pub struct TopK {
    k: usize,
    // Min-heap of the kept entries (worst on top), via Reverse ordering.
    heap: BinaryHeap<std::cmp::Reverse<Entry>>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// The score an item must beat to enter (−∞ while not full).
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |e| e.0.score)
        }
    }

    #[inline]
    pub fn push(&mut self, item: u32, score: f32) {
        if self.k == 0 {
            return;
        }
        let e = Entry { score, item };
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(e));
        } else if let Some(mut top) = self.heap.peek_mut() {
            if e > top.0 {
                top.0 = e;
            }
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<(u32, f32)> {
        let mut v: Vec<Entry> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|e| (e.item, e.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn keeps_best_k_with_index_tiebreak() {
        let mut t = TopK::new(3);
        for (i, s) in [(5, 0.1), (1, 0.9), (2, 0.5), (3, 0.5), (4, 0.7), (0, 0.5)] {
            t.push(i, s);
        }
        assert_eq!(t.into_sorted(), vec![(1, 0.9), (4, 0.7), (0, 0.5)]);
        let mut z = TopK::new(0);
        z.push(1, 1.0);
        assert!(z.into_sorted().is_empty());
    }
}
