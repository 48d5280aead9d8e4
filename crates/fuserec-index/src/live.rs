//! [`LiveIndex`]: nearest-item search over what a [`RecordStore`](crate::RecordStore) holds, kept
//! current while items are written — the serving side's seam between one machine (an in-memory
//! [`Hnsw`] beside a redb file: [`LocalHnsw`]) and a distributed store that indexes its own
//! vectors (`RedisClusterStore`, Redis vector sets on every shard).

use crate::store::ItemRecord;
use crate::{Hnsw, HnswConfig};
use fuserec_core::{Error, Result};
use std::collections::HashMap;
use std::sync::RwLock;

/// One item a search found.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    /// The item's store key.
    pub key: u32,
    /// The item's external id.
    pub id: String,
    /// Inner product with the query.
    pub score: f32,
}

/// Maximum-inner-product search over the stored items, updated as they are written.
///
/// Contract: `search` returns at most `k` items, best first (ties by the lower key), none of
/// the keys in `exclude`; an item is searchable with its newest vector once
/// [`upsert`](LiveIndex::upsert) returned for its acknowledged record.
pub trait LiveIndex: Send + Sync {
    /// Makes `rec` (as the store acknowledged it) searchable with its vector, replacing an
    /// older vector of the same item.
    fn upsert(&self, rec: &ItemRecord) -> Result<()>;
    /// The top `k` items for `query`, leaving out the keys in `exclude` (sorted ascending).
    fn search(&self, query: &[f32], k: usize, exclude: &[u32]) -> Result<Vec<Neighbour>>;
    /// The vector `rec` is searchable with, if it is (as the index holds it: a store that
    /// normalises vectors gives them back to rounding).
    fn vector(&self, rec: &ItemRecord) -> Result<Option<Vec<f32>>>;
    /// Number of searchable items.
    fn len(&self) -> Result<usize>;
    /// True when nothing is searchable.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// One process's index: an [`Hnsw`] in memory, built from the store's records at start and
/// updated on every write this process makes (so a second process sharing the store sees the
/// other's new items only after a restart — the distributed store has no such gap).
pub struct LocalHnsw {
    hnsw: RwLock<Hnsw>,
    ids: RwLock<HashMap<u32, String>>,
}

fn poisoned(what: &str) -> Error {
    Error::Invalid(format!("{what} lock poisoned (a request panicked while writing it)"))
}

impl LocalHnsw {
    /// Builds the graph over `records` (all of width `dim`; checked by the graph).
    pub fn build(dim: usize, cfg: HnswConfig, records: &[ItemRecord]) -> Result<Self> {
        let mut hnsw = Hnsw::new(dim, cfg)?;
        let keys: Vec<u32> = records.iter().map(|r| r.key).collect();
        let vectors: Vec<f32> = records.iter().flat_map(|r| r.vector.iter().copied()).collect();
        hnsw.extend(&keys, &vectors)?;
        let ids = records.iter().map(|r| (r.key, r.id.clone())).collect();
        Ok(LocalHnsw { hnsw: RwLock::new(hnsw), ids: RwLock::new(ids) })
    }
}

impl LiveIndex for LocalHnsw {
    fn upsert(&self, rec: &ItemRecord) -> Result<()> {
        self.hnsw.write().map_err(|_| poisoned("index"))?.insert(rec.key, &rec.vector)?;
        self.ids.write().map_err(|_| poisoned("id map"))?.insert(rec.key, rec.id.clone());
        Ok(())
    }

    fn search(&self, query: &[f32], k: usize, exclude: &[u32]) -> Result<Vec<Neighbour>> {
        let found = {
            let hnsw = self.hnsw.read().map_err(|_| poisoned("index"))?;
            let ef = hnsw.config().ef_search.max(k);
            hnsw.search_ef(query, k, Some(ef), &|key| exclude.binary_search(&key).is_ok())?
        };
        let ids = self.ids.read().map_err(|_| poisoned("id map"))?;
        Ok(found.into_iter().map(|(key, score)| Neighbour { key, id: ids.get(&key).cloned().unwrap_or_default(), score }).collect())
    }

    fn vector(&self, rec: &ItemRecord) -> Result<Option<Vec<f32>>> {
        Ok(self.hnsw.read().map_err(|_| poisoned("index"))?.vector(rec.key).map(<[f32]>::to_vec))
    }

    fn len(&self) -> Result<usize> {
        Ok(self.hnsw.read().map_err(|_| poisoned("index"))?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::rec;

    fn keyed(id: &str, key: u32, v: [f32; 2]) -> ItemRecord {
        let mut r = rec(id, 0.0);
        (r.key, r.vector) = (key, v.to_vec());
        r
    }

    #[test]
    fn local_hnsw_searches_by_inner_product_and_takes_upserts() {
        let recs = [keyed("a", 0, [1.0, 0.0]), keyed("b", 1, [0.0, 2.0]), keyed("c", 2, [0.5, 0.5])];
        let index = LocalHnsw::build(2, HnswConfig::default(), &recs).unwrap();
        assert_eq!(index.len().unwrap(), 3);
        // q = (1, 1): b 2.0, a 1.0 and c 1.0 (tie: the lower key first).
        let ids = |hits: Vec<Neighbour>| hits.into_iter().map(|n| (n.id, n.score)).collect::<Vec<_>>();
        let q = [1.0, 1.0];
        assert_eq!(ids(index.search(&q, 3, &[]).unwrap()), [("b".into(), 2.0), ("a".into(), 1.0), ("c".into(), 1.0)]);
        assert_eq!(ids(index.search(&q, 2, &[1]).unwrap()), [("a".into(), 1.0), ("c".into(), 1.0)]);
        // An upsert replaces the vector; a new key is added with its id.
        index.upsert(&keyed("a", 0, [3.0, 3.0])).unwrap();
        index.upsert(&keyed("d", 3, [0.0, -1.0])).unwrap();
        assert_eq!(index.len().unwrap(), 4);
        assert_eq!(ids(index.search(&q, 1, &[]).unwrap()), [("a".into(), 6.0)]);
        assert_eq!(index.vector(&keyed("a", 0, [0.0; 2])).unwrap(), Some(vec![3.0, 3.0]));
        assert_eq!(index.vector(&keyed("e", 9, [0.0; 2])).unwrap(), None);
        assert_eq!(ids(index.search(&[0.0, -1.0], 1, &[]).unwrap()), [("d".into(), 1.0)]);
        // A query of another width is an error.
        assert!(index.search(&[1.0], 1, &[]).is_err());
    }
}
