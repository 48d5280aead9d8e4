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
pub use din::{CtrShape, Din, DinLeaves, MakeMode, Sides, SimTierSide, make_step, predict, predict_make, train_step};
pub use layers::{PartsDense, TargetAttention, pool, pool_const};
pub use make::{Make, MakeTaps};
pub use simtier::{TierMode, simtier, simtier_batch};

#[cfg(test)]
mod tests;
