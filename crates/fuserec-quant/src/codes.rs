use fuserec_core::{Error, Result};

/// Marks an item that has no code (e.g. its content modality is masked).
pub const NO_CODE: u32 = u32::MAX;

/// `n × levels` codes, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Codes {
    n: usize,
    levels: usize,
    data: Vec<u32>,
}

impl Codes {
    /// `n` items × `levels` codes, all [`NO_CODE`].
    pub fn new(n: usize, levels: usize) -> Self {
        Codes { n, levels, data: vec![NO_CODE; n * levels] }
    }
    /// `n` items × `levels` codes, row-major; an error when `data` has another length.
    pub fn from_vec(n: usize, levels: usize, data: Vec<u32>) -> Result<Self> {
        if Some(data.len()) != n.checked_mul(levels) {
            return Err(Error::Shape(format!("codes: {} values for {n} items × {levels} levels", data.len())));
        }
        Ok(Codes { n, levels, data })
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.n
    }
    /// True when there is no item.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Codes per item (one per level).
    pub fn levels(&self) -> usize {
        self.levels
    }
    /// The code of `item` at `level`. Panics when either is out of range.
    pub fn get(&self, item: usize, level: usize) -> u32 {
        self.data[item * self.levels + level]
    }
    /// Sets the code of `item` at `level`. Panics when either is out of range.
    pub fn set(&mut self, item: usize, level: usize, code: u32) {
        self.data[item * self.levels + level] = code;
    }
    /// All codes of one item, level 0 first.
    pub fn path(&self, item: usize) -> &[u32] {
        &self.data[item * self.levels..(item + 1) * self.levels]
    }
    /// All codes, row-major (`item * levels + level`).
    pub fn as_slice(&self) -> &[u32] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_the_shape() {
        let c = Codes::from_vec(2, 3, vec![0, 1, 2, 3, 4, 5]).unwrap();
        assert_eq!((c.len(), c.get(1, 2)), (2, 5));
        let e = Codes::from_vec(2, 3, vec![0; 5]).unwrap_err().to_string();
        assert!(e.contains("5 values for 2 items × 3 levels"), "{e}");
        assert!(Codes::from_vec(usize::MAX, 2, vec![]).is_err(), "an overflowing shape is an error");
    }
}
