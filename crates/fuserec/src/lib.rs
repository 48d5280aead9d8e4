//! fuserec: multimodal item content fused with ID features for recall and ranking.
//!
//! This facade re-exports the workspace crates and holds what ties them together: the
//! baselines and classic peers, hyper-parameter search, experiment configuration, the experiment
//! runner with its reports, and the SCL and CTR experiments. The recall model, its input pipeline
//! and the [`Recommender`] seam live in `fuserec-recall` (re-exported here).

pub mod any_experiment;
pub mod baselines;
pub mod config;
pub mod ctr;
pub mod experiment;
pub mod quantize;
pub mod report;
pub mod saved;
pub mod scl;
pub mod search;

pub use any_experiment::Experiment;
pub use config::{DatasetConfig, ExperimentConfig, FeaturesConfig, ModelConfig};
pub use experiment::{ExperimentResults, RunOptions, TopkExport, run};
pub use fuserec_recall::{ItemFeatures, Recommender, TrainData, artifact, features, recommender, two_tower, validation};

pub use fuserec_core as core;
pub use fuserec_data as data;
pub use fuserec_encoders as encoders;
pub use fuserec_eval as eval;
pub use fuserec_fusion as fusion;
pub use fuserec_index as index;
pub use fuserec_nn as nn;
pub use fuserec_quant as quant;
pub use fuserec_recall as recall;
pub use fuserec_towers as towers;
