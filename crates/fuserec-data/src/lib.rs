#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod assets;
#[cfg(feature = "parquet")]
pub mod columnar;
pub mod ctr;
mod dataset;
mod delimited;
mod images;
mod loader;
pub mod mmrec;
pub mod movielens;
pub mod progress;
pub mod searches;
mod split;
mod stats;
pub mod synthetic;
mod timeline;

pub use dataset::{Dataset, GivenSplit, ItemMeta, LoadReport, UnknownIdPolicy};
pub use images::{ImageProblem, decode_image, image_folder, open_image};
pub use loader::{LoadOptions, load_dir};
pub use searches::{Search, load_searches};
pub use split::{Split, SplitConfig, WarmSplit, per_user_by_time, split};
pub use stats::{CtrPrior, PosteriorStats};
pub use timeline::clicks_by_user;

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Embeddings, Error, IdMap, Interaction, ItemId, ItemStats, Result, UserId};
