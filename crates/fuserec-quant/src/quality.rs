use crate::{Codes, Quantizer};
use fuserec_core::{Embeddings, Error, Result};
use std::collections::HashMap;

/// How well one level's codes describe the data.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LevelQuality {
    /// 0-based level.
    pub level: usize,
    /// Mean squared reconstruction error using codes up to this level.
    pub mse: f64,
    /// Distinct code paths (prefixes up to this level) in use.
    pub used: usize,
    /// Code paths the structure allows at this level.
    pub available: usize,
    /// Entropy of the path distribution (bits) and its maximum, log2(min(available, n)).
    pub entropy_bits: f64,
    /// `log2(codes in use)`: the entropy if every used code were equally frequent.
    pub max_entropy_bits: f64,
    /// Share of items in the largest path cluster.
    pub largest_share: f64,
}

/// Quality of a quantizer on a set of vectors, level by level ([`quality`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityReport {
    /// The quantizer's [`name`](crate::Quantizer::name).
    pub method: String,
    /// Vectors measured.
    pub items: usize,
    /// One entry per level, coarse to fine.
    pub levels: Vec<LevelQuality>,
    /// Share of items whose full code path is shared with another item.
    pub collision_rate: f64,
}

/// Quality of `codes` (from `q.encode(x)`) on `x`.
pub fn quality(q: &dyn Quantizer, x: &Embeddings, codes: &Codes) -> Result<QualityReport> {
    let n = codes.len();
    if n != x.rows() {
        return Err(Error::Shape(format!("{n} codes for {} vectors", x.rows())));
    }
    let mut levels = Vec::new();
    let mut last_counts = HashMap::new();
    for (level, &available) in q.capacity_per_level().iter().enumerate() {
        let rec = q.reconstruct(codes, level)?;
        let mse = x.as_slice().iter().zip(rec.as_slice()).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / n.max(1) as f64;
        let mut counts: HashMap<&[u32], usize> = HashMap::new();
        for i in 0..n {
            *counts.entry(&codes.path(i)[..=level]).or_default() += 1;
        }
        let entropy = -counts.values().map(|&c| c as f64 / n as f64).map(|p| p * p.log2()).sum::<f64>();
        levels.push(LevelQuality {
            level,
            mse,
            used: counts.len(),
            available,
            entropy_bits: entropy + 0.0,
            max_entropy_bits: (available.min(n).max(1) as f64).log2(),
            largest_share: counts.values().copied().max().unwrap_or(0) as f64 / n.max(1) as f64,
        });
        last_counts = counts.into_iter().map(|(k, v)| (k.to_vec(), v)).collect();
    }
    let collided: usize = last_counts.values().filter(|&&c| c > 1).sum();
    Ok(QualityReport { method: q.name(), items: n, levels, collision_rate: collided as f64 / n.max(1) as f64 })
}
