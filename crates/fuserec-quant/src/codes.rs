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
    pub fn new(n: usize, levels: usize) -> Self {
        Codes { n, levels, data: vec![NO_CODE; n * levels] }
    }
    pub fn from_vec(n: usize, levels: usize, data: Vec<u32>) -> Self {
        assert_eq!(data.len(), n * levels, "codes shape");
        Codes { n, levels, data }
    }
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn levels(&self) -> usize {
        self.levels
    }
    pub fn get(&self, item: usize, level: usize) -> u32 {
        self.data[item * self.levels + level]
    }
    pub fn set(&mut self, item: usize, level: usize, code: u32) {
        self.data[item * self.levels + level] = code;
    }
    /// All codes of one item, level 0 first.
    pub fn path(&self, item: usize) -> &[u32] {
        &self.data[item * self.levels..(item + 1) * self.levels]
    }
    pub fn as_slice(&self) -> &[u32] {
        &self.data
    }
}
