use crate::{Error, Result};

/// A row-major `rows × dim` f32 matrix: one embedding per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// A `rows × dim` matrix of zeros.
    pub fn zeros(rows: usize, dim: usize) -> Self {
        Embeddings { rows, dim, data: vec![0.0; rows * dim] }
    }
    /// Wraps row-major `data`; [`Error::Shape`] unless it holds exactly `rows × dim` values.
    pub fn from_vec(rows: usize, dim: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != rows * dim {
            return Err(Error::Shape(format!("{} values cannot form {rows}×{dim}", data.len())));
        }
        Ok(Embeddings { rows, dim, data })
    }
    /// Number of rows (embeddings).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Width of every row.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    /// All values, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
    /// The row-major values, without copying.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
    /// Row `i`. Panics when `i >= rows()`, like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    /// Row `i`, mutable. Panics when `i >= rows()`.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.dim..(i + 1) * self.dim]
    }
    /// The rows in order.
    pub fn iter_rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1)).take(self.rows)
    }
    /// Scales each row to unit L2 norm; all-zero rows stay zero.
    pub fn l2_normalize(&mut self) {
        if self.dim == 0 {
            return;
        }
        for r in self.data.chunks_exact_mut(self.dim) {
            let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                r.iter_mut().for_each(|x| *x /= n);
            }
        }
    }
    /// Concatenates column blocks of equal row count: `[a | b | ...]`.
    pub fn hconcat(parts: &[&Embeddings]) -> Result<Self> {
        let rows = parts.first().map(|p| p.rows).unwrap_or(0);
        if let Some(p) = parts.iter().find(|p| p.rows != rows) {
            return Err(Error::Shape(format!("hconcat of {rows} and {} rows", p.rows)));
        }
        let dim = parts.iter().map(|p| p.dim).sum();
        let mut data = Vec::with_capacity(rows * dim);
        for i in 0..rows {
            for p in parts {
                data.extend_from_slice(p.row(i));
            }
        }
        Ok(Embeddings { rows, dim, data })
    }
    /// Index of the first non-finite value, if any (row, column).
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        let i = self.data.iter().position(|x| !x.is_finite())?;
        Some((i / self.dim.max(1), i % self.dim.max(1)))
    }
}

/// Inner product of two equally long slices (a longer one is cut to the shorter's length).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Little-endian f32 values from raw bytes (safetensors payloads); a trailing partial value is
/// ignored — callers check shapes first.
pub fn f32s_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Little-endian bytes of f32 values.
pub fn f32s_to_le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn normalize_and_concat() {
        let mut e = Embeddings::from_vec(2, 2, vec![3.0, 4.0, 0.0, 0.0]).unwrap();
        e.l2_normalize();
        assert_eq!(e.row(0), &[0.6, 0.8]);
        assert_eq!(e.row(1), &[0.0, 0.0]);
        let f = Embeddings::from_vec(2, 1, vec![7.0, 8.0]).unwrap();
        let c = Embeddings::hconcat(&[&e, &f]).unwrap();
        assert_eq!(c.row(1), &[0.0, 0.0, 8.0]);
        assert!(Embeddings::from_vec(2, 2, vec![1.0]).is_err());
        let bad = Embeddings::from_vec(1, 2, vec![1.0, f32::NAN]).unwrap();
        assert_eq!(bad.first_non_finite(), Some((0, 1)));
        assert_eq!(dot(&[1.0, 2.0], &[3.0, 4.0]), 11.0);
        assert_eq!(f32s_from_le(&f32s_to_le(&[1.5, -2.0])), vec![1.5, -2.0]);
    }
}
