use crate::assign::{gather, nearest};
use crate::{Codes, KMeans, KMeansConfig, Quantizer, check_dim, validate};
use fuserec_core::{Embeddings, Error, Result};

/// Residual k-means: level ℓ clusters what levels `0..ℓ` left unexplained; a vector is rebuilt
/// as the sum of its levels' centroids.
#[derive(Clone, Debug)]
pub struct ResidualKMeans {
    /// One `k × dim` codebook per level.
    pub codebooks: Vec<Embeddings>,
    /// Codes of the training rows.
    pub train_codes: Codes,
}

/// How to fit a [`ResidualKMeans`]; named fields with defaults, like [`TreeConfig`](crate::TreeConfig).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResidualConfig {
    /// Codebooks (≥ 1): one code per level.
    pub levels: usize,
    /// Centroids per codebook (1 ≤ k ≤ rows).
    pub k: usize,
    /// Lloyd iterations per level.
    pub max_iter: usize,
    /// Seed (level ℓ uses `seed + ℓ`).
    pub seed: u64,
}

impl Default for ResidualConfig {
    /// 3 levels of 256 centroids, 25 iterations, seed 0.
    fn default() -> Self {
        ResidualConfig { levels: 3, k: 256, max_iter: 25, seed: 0 }
    }
}

impl ResidualKMeans {
    /// Fits `levels` codebooks on the rows of `x`. Errors: zero levels, `k` of 0 or above the
    /// row count, no rows, zero width or a non-finite value.
    pub fn fit(x: &Embeddings, cfg: &ResidualConfig) -> Result<Self> {
        let ResidualConfig { levels, k, max_iter, seed } = *cfg;
        validate(x, "residual k-means")?;
        if levels == 0 {
            return Err(Error::Config("residual k-means needs ≥ 1 level".into()));
        }
        let mut residual = x.clone();
        let mut codebooks = Vec::new();
        let mut codes = Codes::new(x.rows(), levels);
        for level in 0..levels {
            let km = KMeans::fit(&residual, &KMeansConfig { max_iter, ..KMeansConfig::new(k, seed.wrapping_add(level as u64)) })?;
            for (i, &l) in km.labels.iter().enumerate() {
                codes.set(i, level, l);
                residual.row_mut(i).iter_mut().zip(km.centroids.row(l as usize)).for_each(|(r, c)| *r -= c);
            }
            codebooks.push(km.centroids);
        }
        Ok(ResidualKMeans { codebooks, train_codes: codes })
    }
}

impl Quantizer for ResidualKMeans {
    fn name(&self) -> String {
        format!("residual(levels={},k={})", self.codebooks.len(), self.codebooks[0].rows())
    }
    fn dim(&self) -> usize {
        self.codebooks[0].dim()
    }
    fn levels(&self) -> usize {
        self.codebooks.len()
    }
    fn codes_per_level(&self) -> Vec<usize> {
        self.codebooks.iter().map(|c| c.rows()).collect()
    }
    fn capacity_per_level(&self) -> Vec<usize> {
        self.codebooks
            .iter()
            .scan(1usize, |acc, c| {
                *acc = acc.saturating_mul(c.rows());
                Some(*acc)
            })
            .collect()
    }
    fn encode(&self, x: &Embeddings) -> Result<Codes> {
        check_dim(x, self.dim())?;
        let mut residual = x.clone();
        let mut codes = Codes::new(x.rows(), self.levels());
        for (level, cb) in self.codebooks.iter().enumerate() {
            let (labels, _) = nearest(&residual, cb);
            for (i, &l) in labels.iter().enumerate() {
                codes.set(i, level, l);
                residual.row_mut(i).iter_mut().zip(cb.row(l as usize)).for_each(|(r, c)| *r -= c);
            }
        }
        Ok(codes)
    }
    fn reconstruct(&self, codes: &Codes, level: usize) -> Result<Embeddings> {
        if level >= self.levels() {
            return Err(Error::Invalid(format!("residual quantizer has {} levels, asked for {level}", self.levels())));
        }
        let mut out = Embeddings::zeros(codes.len(), self.dim());
        for (l, cb) in self.codebooks.iter().enumerate().take(level + 1) {
            let idx: Vec<u32> = (0..codes.len()).map(|i| codes.get(i, l)).collect();
            if let Some(bad) = idx.iter().find(|&&c| c as usize >= cb.rows()) {
                return Err(Error::Invalid(format!("code {bad} outside level {l} (0..{})", cb.rows())));
            }
            let part = gather(cb, &idx);
            out.as_mut_slice().iter_mut().zip(part.as_slice()).for_each(|(o, p)| *o += p);
        }
        Ok(out)
    }
}
