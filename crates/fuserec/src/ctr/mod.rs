//! The CTR experiment (`kind = "ctr"` configs): DIN over item ids against its multimodal variants
//! (Vector, SimScore, SimTier, MAKE, SimTier + MAKE) on impressions with click labels; AUC, GAUC,
//! GAUC per item-frequency bucket, the MAKE pre-training curve and the id model's epoch curve.

mod config;
mod fitted;
mod report;
mod run;

pub use config::{CTR_MODELS, CtrConfig, CtrExperiment, MultimodalConfig};
pub use fitted::FittedCtr;
pub use run::{
    CtrDataSummary, CtrResults, CtrRow, CurvePoint, Scores, SeedData, behaviour_log, fit_model, frequency_buckets, metrics,
    multimodal_vectors, run, seed_data,
};
