//! fuserec: multimodal item content fused with ID features for recall and ranking.
//!
//! This facade re-exports the workspace crates and holds what ties them together: the
//! [`Recommender`] seam, the baselines, item feature encoding with modality masks, experiment
//! configuration and the experiment runner with its reports.

pub mod baselines;
pub mod config;
pub mod ctr;
pub mod experiment;
pub mod features;
pub mod quantize;
pub mod recommender;
pub mod report;
pub mod scl;
pub mod search;
pub mod two_tower;
pub mod validation;

pub use config::{DatasetConfig, ExperimentConfig, FeaturesConfig, ModelConfig};
pub use experiment::{ExperimentResults, RunOptions, run};
pub use features::ItemFeatures;
pub use recommender::{Recommender, TrainData};

pub use fuserec_core as core;
pub use fuserec_data as data;
pub use fuserec_encoders as encoders;
pub use fuserec_eval as eval;
pub use fuserec_fusion as fusion;
pub use fuserec_index as index;
pub use fuserec_nn as nn;
pub use fuserec_quant as quant;
pub use fuserec_towers as towers;
