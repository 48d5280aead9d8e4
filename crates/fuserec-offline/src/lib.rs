#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod cli;
mod context;
mod jobs;
#[cfg(feature = "cluster")]
mod progress;
pub mod udf;

pub use context::{Offline, OfflineError, Result};
pub use jobs::{EncodeJob, SplitJob, StatsJob, TopKJob, codes_sql};

/// The engine's DataFusion, so a caller can build its own plans on the same session.
pub use datafusion;
