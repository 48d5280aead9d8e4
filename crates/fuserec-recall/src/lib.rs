//! fuserec-recall: the recall model and its input pipeline. Item features (encoders, feature
//! store, modality masks, preprocessing), the [`Recommender`] seam with its training data and
//! validation, the two-tower model with its content head, and the [`artifact::TrainedArtifact`]
//! that training writes and serving loads: one self-describing folder, so that a server never
//! re-runs a split or an experiment to rebuild the model it serves.

pub mod artifact;
pub mod features;
pub mod inner_product;
pub mod recommender;
pub mod two_tower;
pub mod validation;

pub use features::ItemFeatures;
pub use recommender::{Recommender, TrainData};
