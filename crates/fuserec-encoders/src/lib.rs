#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod efficientnet;
mod hashed_text;
mod histogram_image;
pub mod minilm;
pub mod scl;
pub mod weights;

pub use efficientnet::EfficientNetLite0;
pub use hashed_text::HashedNgramText;
pub use histogram_image::ColorGradientHistogram;
pub use minilm::MiniLm;

pub use image::DynamicImage;

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Embeddings, Error, Result};

/// Texts → one embedding row each. Implemented by [`HashedNgramText`] (no download) and [`MiniLm`].
pub trait TextEncoder: Send + Sync {
    /// Stable name including every setting that changes the output (used in feature hashes).
    fn name(&self) -> String;
    /// Width of every row.
    fn dim(&self) -> usize;
    /// SHA-256 of pretrained weights, if any (feature stores invalidate when it changes).
    fn weights_sha256(&self) -> Option<String> {
        None
    }
    /// One row per text, in order. An empty text gets a row too (the encoder's embedding of nothing).
    fn encode(&self, texts: &[&str]) -> Result<Embeddings>;
}

/// Images → one embedding row each. Implemented by [`ColorGradientHistogram`] (no download) and
/// [`EfficientNetLite0`].
pub trait ImageEncoder: Send + Sync {
    /// Stable name including every setting that changes the output (used in feature hashes).
    fn name(&self) -> String;
    /// Width of every row.
    fn dim(&self) -> usize;
    /// SHA-256 of pretrained weights, if any (feature stores invalidate when it changes).
    fn weights_sha256(&self) -> Option<String> {
        None
    }
    /// One row per image, in order.
    fn encode(&self, images: &[DynamicImage]) -> Result<Embeddings>;
}

/// FNV-1a, seeded: the hash behind feature hashing (stable across platforms and versions).
pub(crate) fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The image crate whose `DynamicImage` the image encoders take (to open files without adding it).
pub use image;
