#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

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

/// The repository README's examples ("Using one crate"), run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}
