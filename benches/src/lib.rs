//! Shared inputs for the criterion benches (see `benches/*.rs`).

use fuserec::core::{Embeddings, Rng};

/// `rows × dim` standard-normal matrix, deterministic by seed.
pub fn gaussian(rows: usize, dim: usize, seed: u64) -> Embeddings {
    let mut r = Rng::new(seed);
    Embeddings::from_vec(rows, dim, (0..rows * dim).map(|_| r.normal() as f32).collect()).expect("shape")
}
