//! Datasets for fuserec: loaders (fuserec's TSV/CSV layout, MovieLens atomic files, image
//! folders), the synthetic world, splits, and posterior statistics as of a time.
//!
//! Invariants: every parse error names file and line; unknown ids and duplicates are counted in
//! a [`LoadReport`]; a missing or undecodable image is an [`ImageProblem`], never a panic.

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
pub use split::{Split, SplitConfig, WarmSplit, split};
pub use stats::{CtrPrior, PosteriorStats};
pub use timeline::clicks_by_user;
