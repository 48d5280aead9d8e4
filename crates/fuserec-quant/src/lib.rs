#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod assign;
mod codes;
mod io;
mod kmeans;
mod pca;
mod quality;
mod residual;
mod tree;

pub use assign::nearest;
pub use codes::{Codes, NO_CODE};
pub use io::{Saved, load, load_tree, save};
pub use kmeans::{KMeans, KMeansConfig};
pub use pca::Pca;
pub use quality::{LevelQuality, QualityReport, quality};
pub use residual::{ResidualConfig, ResidualKMeans};
pub use tree::{HierarchicalKMeans, TreeConfig, TreeLevel};

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Embeddings, Error, Result};

/// A fitted quantizer: turns vectors of width [`dim`](Quantizer::dim) into one code per level,
/// and codes back into approximate vectors. Implemented by [`KMeans`], [`HierarchicalKMeans`]
/// and [`ResidualKMeans`]; [`load`] returns one.
pub trait Quantizer: Send + Sync {
    /// Method and settings, e.g. `tree(b=16,d=3)`.
    fn name(&self) -> String;
    /// Width of the vectors it encodes.
    fn dim(&self) -> usize;
    /// Codes per item.
    fn levels(&self) -> usize;
    /// Size of each level's code space: an embedding table for level ℓ needs this many rows.
    fn codes_per_level(&self) -> Vec<usize>;
    /// Code paths (prefixes up to level ℓ) the structure could distinguish, for utilisation.
    fn capacity_per_level(&self) -> Vec<usize>;
    /// Codes for each row (one per level), without refitting.
    fn encode(&self, x: &Embeddings) -> Result<Codes>;
    /// Each row rebuilt from its codes at levels `0..=level`.
    fn reconstruct(&self, codes: &Codes, level: usize) -> Result<Embeddings>;
}

/// Rejects what k-means cannot work on, naming the problem.
pub(crate) fn validate(x: &Embeddings, what: &str) -> Result<()> {
    if x.dim() == 0 {
        return Err(Error::Invalid(format!("{what}: vectors are zero-dimensional")));
    }
    if x.rows() == 0 {
        return Err(Error::Invalid(format!("{what}: no vectors")));
    }
    if let Some((r, c)) = x.first_non_finite() {
        return Err(Error::Invalid(format!("{what}: row {r} has a non-finite value at column {c}")));
    }
    Ok(())
}

pub(crate) fn check_dim(x: &Embeddings, dim: usize) -> Result<()> {
    if x.dim() != dim {
        return Err(Error::Shape(format!("vectors of dim {} for a quantizer of dim {dim}", x.dim())));
    }
    validate(x, "encode")
}
