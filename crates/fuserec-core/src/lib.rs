#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod cancel;
mod embeddings;
pub use embeddings::{dot, f32s_from_le, f32s_to_le};
mod error;
mod ids;
mod interaction;
pub mod provenance;
mod rng;
pub mod simd;
mod stats;

pub use embeddings::Embeddings;
pub use error::{Error, Result};
pub use ids::{IdMap, ItemId, UserId};
pub use interaction::Interaction;
pub use rng::Rng;
pub use stats::ItemStats;
