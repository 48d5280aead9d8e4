//! Item content encoders behind two small traits. Light backbones here need no download:
//! [`HashedNgramText`] and [`ColorGradientHistogram`]. Pretrained backbones beside them: [`MiniLm`]
//! (BERT on dfdx) and [`EfficientNetLite0`] (own convolution kernels).
//!
//! Invariants: encoders are pure functions of their input (same text/image → same row); they
//! never see ids or interactions; a row of zeros from a text encoder means "no tokens", and
//! callers mask that modality rather than use it as a feature.

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

pub trait TextEncoder: Send + Sync {
    /// Stable name including every setting that changes the output (used in feature hashes).
    fn name(&self) -> String;
    fn dim(&self) -> usize;
    /// SHA-256 of pretrained weights, if any (feature stores invalidate when it changes).
    fn weights_sha256(&self) -> Option<String> {
        None
    }
    fn encode(&self, texts: &[&str]) -> Result<Embeddings>;
}

pub trait ImageEncoder: Send + Sync {
    fn name(&self) -> String;
    fn dim(&self) -> usize;
    fn weights_sha256(&self) -> Option<String> {
        None
    }
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
