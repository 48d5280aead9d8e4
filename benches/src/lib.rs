//! Shared inputs for the criterion benches (see `benches/*.rs`) and `cargo xtask peer`.

use fuserec::core::{Embeddings, Rng};

/// `rows × dim` standard-normal matrix, deterministic by seed.
pub fn gaussian(rows: usize, dim: usize, seed: u64) -> Embeddings {
    let mut r = Rng::new(seed);
    Embeddings::from_vec(rows, dim, (0..rows * dim).map(|_| r.normal() as f32).collect()).expect("shape")
}

const WORDS: &[&str] = &[
    "the", "lost", "city", "of", "golden", "dreams", "night", "morning", "journey", "ocean", "forest", "music", "kitchen", "winter",
    "garden", "machine", "history", "empire", "castle", "knight", "secret", "silent", "wild", "hidden", "bright", "classic",
    "modern", "story", "edition", "collection", "guide", "home",
];

/// `n` titles of ten common words each: 12 tokens with [CLS] and [SEP] (every word is one
/// WordPiece token in MiniLM's vocabulary).
pub fn titles(n: usize) -> Vec<String> {
    let mut r = Rng::new(11);
    (0..n).map(|_| (0..10).map(|_| WORDS[r.below(WORDS.len())]).collect::<Vec<_>>().join(" ")).collect()
}
