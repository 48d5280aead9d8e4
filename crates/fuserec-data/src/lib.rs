//! Datasets for fuserec: loaders (fuserec's TSV/CSV layout, MovieLens atomic files, image
//! folders), the synthetic world, splits, and posterior statistics as of a time.
//!
//! Invariants: every parse error names file and line; unknown ids and duplicates are counted in
//! a [`LoadReport`]; a missing or undecodable image is an [`ImageProblem`], never a panic.

pub mod assets;
pub mod ctr;
mod dataset;
mod delimited;
mod images;
mod loader;
pub mod movielens;
pub mod progress;
mod split;
mod stats;
mod timeline;
pub mod searches;
pub mod synthetic;

pub use dataset::{Dataset, GivenSplit, ItemMeta, LoadReport, UnknownIdPolicy};
pub use images::{image_folder, open_image, ImageProblem};
pub use loader::{load_dir, LoadOptions};
pub use searches::{load_searches, Search};
pub use split::{split, Split, SplitConfig};
pub use stats::{CtrPrior, PosteriorStats};
pub use timeline::clicks_by_user;
