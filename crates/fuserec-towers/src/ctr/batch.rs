//! What a CTR model sees per step: target items, behaviour sequences with padding masks, labels,
//! and the items' multimodal vectors from which the side inputs (cosines, SimTier) are computed.

use super::{TierMode, simtier_batch};
use fuserec_core::{Error, Result};
use rayon::prelude::*;
use std::sync::Arc;

/// A batch of CTR samples: `rows` targets, each with `len` behaviour positions (padding masked).
#[derive(Clone, Debug, Default)]
pub struct CtrBatch {
    /// Target item per row.
    pub targets: Vec<u32>,
    /// `rows × len` behaviour item ids (padding positions hold any valid id).
    pub behaviours: Vec<u32>,
    /// `rows × len`: 1 real, 0 padding.
    pub mask: Vec<f32>,
    /// Behaviour positions per row.
    pub len: usize,
    /// 1 click, 0 no click (empty when only scoring).
    pub labels: Vec<f32>,
}

impl CtrBatch {
    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.targets.len()
    }

    /// Errors on inconsistent lengths, an item id `>= n_items`, or a non-finite label.
    pub fn check(&self, n_items: usize) -> Result<()> {
        let b = self.rows();
        if b == 0
            || self.len == 0
            || self.behaviours.len() != b * self.len
            || self.mask.len() != b * self.len
            || !(self.labels.is_empty() || self.labels.len() == b)
        {
            return Err(Error::Shape(format!(
                "ctr batch: {b} targets, {} behaviours, {} mask values, len {}, {} labels",
                self.behaviours.len(),
                self.mask.len(),
                self.len,
                self.labels.len()
            )));
        }
        if let Some(&i) = self.targets.iter().chain(&self.behaviours).find(|&&i| i as usize >= n_items) {
            return Err(Error::UnknownId { kind: "item", id: i.to_string(), context: Some(format!("ctr batch over {n_items} items")) });
        }
        if let Some(l) = self.labels.iter().find(|l| !l.is_finite()) {
            return Err(Error::Invalid(format!("ctr batch: non-finite label {l}")));
        }
        Ok(())
    }
}

/// Per-item multimodal vectors (`items × dim`; a zero row = the item has no content). Shared
/// (`Arc`) between models so a run holds one copy.
#[derive(Clone, Debug)]
pub struct ItemVectors {
    /// `items × dim`, row-major.
    pub rows: Arc<Vec<f32>>,
    /// Width of a row.
    pub dim: usize,
}

impl ItemVectors {
    /// Checks the shape and that every value is finite.
    pub fn new(rows: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 || !rows.len().is_multiple_of(dim) {
            return Err(Error::Shape(format!("item vectors: {} values for width {dim}", rows.len())));
        }
        if let Some(k) = rows.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!("item vectors: non-finite value for item {}", k / dim)));
        }
        Ok(ItemVectors { rows: Arc::new(rows), dim })
    }
    /// Number of items.
    pub fn items(&self) -> usize {
        self.rows.len() / self.dim
    }
    /// Row of item `i`. Panics when `i >= items()`.
    pub fn row(&self, i: u32) -> &[f32] {
        &self.rows[i as usize * self.dim..(i as usize + 1) * self.dim]
    }
    /// Rows of `ids`, concatenated.
    pub fn gather(&self, ids: &[u32]) -> Vec<f32> {
        let mut out = vec![0f32; ids.len() * self.dim];
        out.par_chunks_mut(self.dim).zip(ids.par_iter()).for_each(|(o, &i)| o.copy_from_slice(self.row(i)));
        out
    }
    /// Cosine of each behaviour to its row's target (`rows × len`); 0 for padding and for a
    /// behaviour or target without content.
    pub fn cosines(&self, b: &CtrBatch) -> Vec<f32> {
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mut out = vec![0f32; b.rows() * b.len];
        out.par_chunks_mut(b.len).enumerate().for_each(|(r, o)| {
            let t = self.row(b.targets[r]);
            let tn = norm(t);
            for (k, c) in o.iter_mut().enumerate() {
                if b.mask[r * b.len + k] == 0.0 || tn == 0.0 {
                    continue;
                }
                let v = self.row(b.behaviours[r * b.len + k]);
                let vn = norm(v);
                if vn > 0.0 {
                    *c = (v.iter().zip(t).map(|(x, y)| x * y).sum::<f32>() / (vn * tn)).clamp(-1.0, 1.0);
                }
            }
        });
        out
    }
    /// SimTier histograms of the batch (`rows × tiers`).
    pub fn simtier(&self, b: &CtrBatch, tiers: usize, mode: TierMode) -> Result<Vec<f32>> {
        let targets = self.gather(&b.targets);
        let behaviours = self.gather(&b.behaviours);
        simtier_batch(&targets, &behaviours, &b.mask, self.dim, tiers, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosines_skip_padding_and_empty_content() {
        // Items: 0 = e1, 1 = e2, 2 = (1,1), 3 = no content.
        let v = ItemVectors::new(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0], 2).unwrap();
        let b = CtrBatch {
            targets: vec![0, 3],
            behaviours: vec![0, 1, 2, 3, 0, 1, 2, 0],
            mask: vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
            len: 4,
            labels: vec![1.0, 0.0],
        };
        b.check(4).unwrap();
        let c = v.cosines(&b);
        assert_eq!(&c[..2], &[1.0, 0.0]);
        assert!((c[2] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(c[3], 0.0, "behaviour without content");
        assert_eq!(&c[4..], &[0.0; 4], "target without content");
        let h = v.simtier(&b, 4, TierMode::Count).unwrap();
        assert_eq!(&h[..4], &[0.0, 0.0, 1.0, 2.0]);
        assert!(ItemVectors::new(vec![f32::NAN, 0.0], 2).is_err());
        let bad = CtrBatch { targets: vec![9, 0], ..b.clone() };
        assert!(matches!(bad.check(4), Err(Error::UnknownId { .. })));
        assert!(matches!(CtrBatch { targets: vec![0], ..b.clone() }.check(4), Err(Error::Shape(_))));
    }
}
