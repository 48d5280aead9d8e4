#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod exact;
mod heap;
mod hnsw;
#[cfg(feature = "store")]
mod live;
#[cfg(feature = "redis")]
mod redis_cluster;
mod search;
#[cfg(feature = "store")]
mod store;

pub use exact::{ExactIndex, inner_products, rank_dense};
pub use heap::TopK;
pub use hnsw::{Hnsw, HnswConfig};
#[cfg(feature = "store")]
pub use live::{LiveIndex, LocalHnsw, Neighbour};
#[cfg(feature = "redis")]
pub use redis_cluster::{BUCKETS, RedisClusterConfig, RedisClusterStore};
pub use search::{Filter, VectorIndex, item_ids};
#[cfg(feature = "store")]
pub use store::{ItemRecord, ItemStore, RecordStore};

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
