//! The synthetic world: the embedded default dataset, deterministic from a seed, no download.
//!
//! Items carry a latent topic vector; each gets a drawn PNG (hue and shape from its topics) and a
//! title (topic words plus filler), and an ID-only *quality* that content cannot see, so
//! memorisation pays on warm items while content generalises to cold ones. Users prefer topics. A
//! popularity-biased logging policy decides what is shown (impressions) and users click with
//! `σ(a·cos(user, item) + b·quality + c)`. New items keep arriving over the horizon.
//!
//! The world is written in fuserec's dataset layout (see `crate::loader`), so the loader that
//! reads a user's data reads it too.

mod draw;
mod vocab;
mod world;

pub use world::{TableFormat, World, WorldConfig, ensure_world};
