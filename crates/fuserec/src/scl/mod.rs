//! The SCL experiment (`kind = "scl"` configs): semantic-aware contrastive pre-training of
//! projection heads on pairs from a [`PairSource`], held-out pair retrieval for each variant
//! (raw backbone, in-batch InfoNCE, + momentum queue, + hard-negative triplet), and the
//! downstream effect on ContentKNN's cold-item recall.

mod pairs;
mod run;

pub use pairs::{CoEngagementPairs, CrossModalPairs, PairData, PairSource, SearchPairs};
pub use run::{SclExperiment, SclResults, SclRow, run};
