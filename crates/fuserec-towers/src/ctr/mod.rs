//! Ranking (CTR) models: DIN over id rows and its multimodal variants (Vector, SimScore, SimTier,
//! MAKE), the layers they share, and the SimTier features.
//!
//! Invariant: like the recall towers, CTR models see item ids and precomputed item vectors only.

mod batch;
mod din;
mod layers;
mod make;
mod simtier;

pub use batch::{CtrBatch, ItemVectors};
pub use din::{make_step, predict, predict_make, train_step, CtrShape, Din, DinLeaves, MakeMode, SimTierSide, Sides};
pub use layers::{pool, pool_const, PartsDense, TargetAttention};
pub use make::{Make, MakeTaps};
pub use simtier::{simtier, simtier_batch, TierMode};

#[cfg(test)]
mod tests;
