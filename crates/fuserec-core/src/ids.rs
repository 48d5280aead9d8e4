use std::collections::HashMap;

/// Dense user index (0..n_users), assigned by an [`IdMap`] in first-seen order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct UserId(pub u32);

/// Dense item index (0..n_items), assigned by an [`IdMap`] in first-seen order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ItemId(pub u32);

impl UserId {
    /// The index as a `usize`, for indexing tables.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}
impl ItemId {
    /// The index as a `usize`, for indexing tables.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// Two-way map between a dataset's external string ids and dense indices.
#[derive(Clone, Debug, Default)]
pub struct IdMap {
    /// Randomly keyed aHash: several times faster than SipHash on short ids, still safe with
    /// ids from untrusted input.
    to_dense: HashMap<String, u32, ahash::RandomState>,
    to_raw: Vec<String>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }
    /// Returns the dense index of `raw`, inserting it if new.
    pub fn intern(&mut self, raw: &str) -> u32 {
        if let Some(&i) = self.to_dense.get(raw) {
            return i;
        }
        let i = self.to_raw.len() as u32;
        self.to_dense.insert(raw.to_string(), i);
        self.to_raw.push(raw.to_string());
        i
    }
    /// The dense index of `raw`, if known.
    pub fn get(&self, raw: &str) -> Option<u32> {
        self.to_dense.get(raw).copied()
    }
    /// Whether `raw` has a dense index.
    pub fn contains(&self, raw: &str) -> bool {
        self.to_dense.contains_key(raw)
    }
    /// The external id of dense index `dense`. Panics when `dense >= len()`.
    pub fn raw(&self, dense: u32) -> &str {
        &self.to_raw[dense as usize]
    }
    /// Number of ids.
    pub fn len(&self) -> usize {
        self.to_raw.len()
    }
    /// True when no id was interned.
    pub fn is_empty(&self) -> bool {
        self.to_raw.is_empty()
    }
    /// `(dense index, external id)` pairs in dense order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.to_raw.iter().enumerate().map(|(i, s)| (i as u32, s.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn intern_is_stable_and_dense() {
        let mut m = IdMap::new();
        assert_eq!(m.intern("b"), 0);
        assert_eq!(m.intern("a"), 1);
        assert_eq!(m.intern("b"), 0);
        assert_eq!(m.len(), 2);
        assert_eq!(m.raw(1), "a");
        assert_eq!(m.get("zz"), None);
    }
}
