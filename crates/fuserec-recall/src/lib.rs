#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod artifact;
pub mod ease;
pub mod features;
pub mod inner_product;
pub mod recommender;
pub mod two_tower;
pub mod validation;

pub use features::ItemFeatures;
pub use recommender::{Recommender, TrainData};

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Embeddings, Error, Interaction, Result};
