//! The MoCo negative queue: the last `K` keys (from the momentum encoder) with the item each
//! came from, first in first out.

use fuserec_core::{Error, Result};

/// A fixed-capacity ring of `(key vector, item)` entries, oldest overwritten first.
pub struct KeyQueue {
    dim: usize,
    capacity: usize,
    keys: Vec<f32>,
    items: Vec<u32>,
    /// Next slot to overwrite (the oldest entry once full).
    head: usize,
    len: usize,
}

impl KeyQueue {
    /// An empty queue holding at most `capacity` keys of width `dim`.
    pub fn new(capacity: usize, dim: usize) -> Self {
        KeyQueue { dim, capacity, keys: vec![0.0; capacity * dim], items: vec![0; capacity], head: 0, len: 0 }
    }
    /// Keys held.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Most keys held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends `keys` (`items.len() × dim`), dropping the oldest entries beyond capacity. Cost is
    /// the copy of the new keys only, whatever `K` is.
    pub fn push(&mut self, keys: &[f32], items: &[u32]) -> Result<()> {
        if keys.len() != items.len() * self.dim {
            return Err(Error::Shape(format!("queue: {} values for {} keys × {}", keys.len(), items.len(), self.dim)));
        }
        if self.capacity == 0 {
            return Ok(());
        }
        let skip = items.len().saturating_sub(self.capacity);
        for (k, &item) in items.iter().enumerate().skip(skip) {
            let d = self.dim;
            self.keys[self.head * d..(self.head + 1) * d].copy_from_slice(&keys[k * d..(k + 1) * d]);
            self.items[self.head] = item;
            self.head = (self.head + 1) % self.capacity;
            self.len = (self.len + 1).min(self.capacity);
        }
        Ok(())
    }

    /// Keys and items in storage order (InfoNCE does not care about order): no copy.
    pub fn contents(&self) -> (&[f32], &[u32]) {
        (&self.keys[..self.len * self.dim], &self.items[..self.len])
    }

    /// Keys and items, oldest first.
    pub fn snapshot(&self) -> (Vec<f32>, Vec<u32>) {
        let start = if self.len < self.capacity { 0 } else { self.head };
        let d = self.dim;
        let mut keys = Vec::with_capacity(self.len * d);
        let mut items = Vec::with_capacity(self.len);
        for k in 0..self.len {
            let s = (start + k) % self.capacity;
            keys.extend_from_slice(&self.keys[s * d..(s + 1) * d]);
            items.push(self.items[s]);
        }
        (keys, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_in_first_out() {
        let mut q = KeyQueue::new(3, 2);
        q.push(&[1.0, 1.0, 2.0, 2.0], &[1, 2]).unwrap();
        assert_eq!(q.snapshot(), (vec![1.0, 1.0, 2.0, 2.0], vec![1, 2]));
        q.push(&[3.0, 3.0, 4.0, 4.0], &[3, 4]).unwrap();
        assert_eq!(q.snapshot(), (vec![2.0, 2.0, 3.0, 3.0, 4.0, 4.0], vec![2, 3, 4]), "oldest (1) dropped");
        q.push(&[5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0], &[5, 6, 7, 8]).unwrap();
        assert_eq!(q.snapshot().1, vec![6, 7, 8], "a batch larger than K keeps its newest K");
        assert_eq!(q.len(), 3);
        assert!(q.push(&[1.0], &[1]).is_err());
        let mut empty = KeyQueue::new(0, 2);
        empty.push(&[1.0, 1.0], &[1]).unwrap();
        assert!(empty.is_empty());
    }
}
