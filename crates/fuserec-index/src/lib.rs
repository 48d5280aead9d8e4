//! Top-K retrieval. [`Hnsw`]: approximate search with online insert / upsert / delete. Exact search over the full catalogue: blocked matrix multiply + a bounded
//! heap per query (no full sort), multi-threaded over query blocks. Each query may exclude items
//! (a user's training items) and a candidate set may restrict the catalogue (warm or cold items).
//!
//! Invariants: results are sorted by score descending, ties broken by the lower item index, so
//! rankings are deterministic; excluded items, items outside the candidate set and scores of
//! `-inf` ("this model cannot score that item") never appear; a NaN score is an error.

mod exact;
mod heap;
mod hnsw;
#[cfg(feature = "store")]
mod store;

pub use exact::{ExactIndex, inner_products, rank_dense};
pub use heap::TopK;
pub use hnsw::{Hnsw, HnswConfig};
#[cfg(feature = "store")]
pub use store::{ItemRecord, ItemStore};

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Embeddings, Error, Result};

/// Which items a query may return.
#[derive(Clone, Copy, Default)]
pub struct Candidates<'a> {
    /// Per query row: items to leave out, sorted ascending.
    pub exclude: Option<&'a [Vec<u32>]>,
    /// Per item: whether it may be returned at all.
    pub allowed: Option<&'a [bool]>,
}

/// One ranked list: `(item, score)`, best first.
pub type Ranked = Vec<(u32, f32)>;
