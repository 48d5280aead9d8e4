//! Shared inputs for the criterion benches (see `benches/*.rs`) and `cargo xtask peer`.

use fuserec::core::{Embeddings, Rng};

pub mod fair;

/// `rows × dim` standard-normal matrix, deterministic by seed.
pub fn gaussian(rows: usize, dim: usize, seed: u64) -> Embeddings {
    let mut r = Rng::new(seed);
    Embeddings::from_vec(rows, dim, (0..rows * dim).map(|_| r.normal() as f32).collect()).expect("shape")
}

/// `rows` unit vectors drawn around `centres` random centres (spread `spread` per coordinate
/// around a standard-normal centre), like item embeddings that cluster by topic. Rows in random
/// centre order; deterministic by seed (the same centres for every `rows` and `row_seed`).
pub fn clustered(rows: usize, dim: usize, centres: usize, spread: f32, seed: u64, row_seed: u64) -> Embeddings {
    let mut r = Rng::new(seed);
    let c: Vec<f32> = (0..centres * dim).map(|_| r.normal() as f32).collect();
    let mut r = Rng::derive(seed, row_seed);
    let mut out = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let k = r.below(centres);
        let start = out.len();
        out.extend((0..dim).map(|j| c[k * dim + j] + spread * r.normal() as f32));
        let n = out[start..].iter().map(|x| x * x).sum::<f32>().sqrt();
        out[start..].iter_mut().for_each(|x| *x /= n);
    }
    Embeddings::from_vec(rows, dim, out).expect("shape")
}

const WORDS: &[&str] = &[
    "the",
    "lost",
    "city",
    "of",
    "golden",
    "dreams",
    "night",
    "morning",
    "journey",
    "ocean",
    "forest",
    "music",
    "kitchen",
    "winter",
    "garden",
    "machine",
    "history",
    "empire",
    "castle",
    "knight",
    "secret",
    "silent",
    "wild",
    "hidden",
    "bright",
    "classic",
    "modern",
    "story",
    "edition",
    "collection",
    "guide",
    "home",
];

/// `n` titles of ten common words each: 12 tokens with `[CLS]` and `[SEP]` (every word is one
/// WordPiece token in MiniLM's vocabulary).
pub fn titles(n: usize) -> Vec<String> {
    let mut r = Rng::new(11);
    (0..n).map(|_| (0..10).map(|_| WORDS[r.below(WORDS.len())]).collect::<Vec<_>>().join(" ")).collect()
}

/// The id-only two-tower training setup the step bench and the PyTorch peer share: batch 1024,
/// 64-d rows, history 20 (mean pooled), query MLP 64→128→64, 256 uniform extra negatives, τ 0.2,
/// log-Q correction, row-wise Adam on the tables and Adam on the MLP.
pub mod two_tower {
    use fuserec::core::Rng;
    use fuserec::towers::History;
    use fuserec::two_tower::{Batch, Net, TwoTowerConfig};

    pub const BATCH: usize = 1024;
    pub const DIM: usize = 64;
    pub const HISTORY: usize = 20;
    pub const NEGATIVES: usize = 256;

    pub fn config() -> TwoTowerConfig {
        toml::from_str(&format!("fusion = \"id-only\"\ndim = {DIM}\nquery_hidden = [128]\nhistory = {HISTORY}\nbatch_size = {BATCH}\nuniform_negatives = {NEGATIVES}")).expect("valid")
    }

    /// Distinct ids a batch stream draws from, whatever the table size.
    pub const ACTIVE: usize = 10_000;

    /// A skewed id (cube of a uniform: a few ids are hot, most are rare, as in real logs) among
    /// [`ACTIVE`] ids spread evenly over the table. With the active set fixed, a step touches
    /// the same number of distinct rows at 10k or 1M rows, so the step-time comparison isolates
    /// what the table size itself costs (the claim: nothing, updates are sparse) from the
    /// (inherent) cost of touching more distinct rows.
    fn skewed(r: &mut Rng, rows: usize) -> u32 {
        let u = r.uniform();
        let k = ((u * u * u) * ACTIVE.min(rows) as f64) as usize;
        (k * (rows / ACTIVE.min(rows))) as u32
    }

    /// `count` batches over a table of `rows` ids, with history lengths uniform in 1..=20.
    pub fn batches(rows: usize, count: usize, seed: u64) -> Vec<Batch> {
        let mut r = Rng::new(seed);
        let log_q: Vec<f32> = vec![-(ACTIVE.min(rows) as f32).ln(); BATCH + NEGATIVES];
        (0..count)
            .map(|_| {
                let lists: Vec<Vec<u32>> = (0..BATCH).map(|_| (0..1 + r.below(HISTORY)).map(|_| skewed(&mut r, rows)).collect()).collect();
                let refs: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
                let users: Vec<u32> = (0..BATCH as u32).collect();
                let mut items: Vec<u32> = (0..BATCH).map(|_| skewed(&mut r, rows)).collect();
                items.extend((0..NEGATIVES).map(|_| ((r.below(ACTIVE.min(rows))) * (rows / ACTIVE.min(rows))) as u32));
                Batch {
                    hist: History::from_lists(&users, &refs, HISTORY),
                    gate: vec![0.0; items.len() * 4],
                    keep: vec![1.0; items.len()],
                    log_q: Some(log_q.clone()),
                    items,
                }
            })
            .collect()
    }

    pub fn net(rows: usize, seed: u64) -> Net {
        Net::new(&config(), BATCH, rows, None, seed).expect("id-only net")
    }
}
