//! The CTR experiment (`kind = "ctr"` configs): DIN over item ids against its multimodal variants
//! (Vector, SimScore, SimTier, MAKE, SimTier + MAKE) on impressions with click labels; AUC, GAUC,
//! GAUC per item-frequency bucket, the MAKE pre-training curve and the id model's epoch curve.

mod config;
mod report;
mod run;

pub use config::{CTR_MODELS, CtrConfig, CtrExperiment, MultimodalConfig};
pub use run::{CtrDataSummary, CtrResults, CtrRow, CurvePoint, Scores, behaviour_log, frequency_buckets, metrics, multimodal_vectors, run};
