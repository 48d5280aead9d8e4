//! Ranking (CTR) building blocks. Today: SimTier features; the DIN / SimTier / MAKE models that
//! consume them come with the CTR issue.

mod simtier;

pub use simtier::{simtier, simtier_batch, TierMode};
