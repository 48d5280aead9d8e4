//! [`VectorIndex`]: the one search signature every index offers — a single query or a batch,
//! an optional filter, results as [`Ranked`] lists that `fuserec-eval` scores directly.

use crate::{Candidates, ExactIndex, Hnsw, Ranked};
use fuserec_core::{Embeddings, Error, Result};
use rayon::prelude::*;

/// Which items a search may return: `true` keeps the item. `Sync` so a batch can run on threads.
pub type Filter<'a> = &'a (dyn Fn(u32) -> bool + Sync);

/// Maximum-inner-product search, exact or approximate.
///
/// Contract shared by every implementation: each list holds at most `k` `(item, score)` pairs,
/// best first, ties broken by the lower item id; items the filter rejects never appear; a query
/// whose width is not [`dim`](VectorIndex::dim) or that holds a NaN is an error, not a panic.
pub trait VectorIndex: Send + Sync {
    /// Width of the vectors the index holds (and of every query).
    fn dim(&self) -> usize;

    /// Number of items a search can return.
    fn len(&self) -> usize;

    /// True when the index holds no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The top `k` items for one query of width [`dim`](VectorIndex::dim).
    fn search(&self, query: &[f32], k: usize, filter: Option<Filter<'_>>) -> Result<Ranked>;

    /// The top `k` items for every row of `queries`, one list per row in row order. The default
    /// runs [`search`](VectorIndex::search) per row on all threads.
    fn search_batch(&self, queries: &Embeddings, k: usize, filter: Option<Filter<'_>>) -> Result<Vec<Ranked>> {
        check_width(queries.dim(), self.dim())?;
        (0..queries.rows()).into_par_iter().map(|q| self.search(queries.row(q), k, filter)).collect()
    }
}

fn check_width(got: usize, want: usize) -> Result<()> {
    if got == want { Ok(()) } else { Err(Error::Shape(format!("query of width {got} for an index of width {want}"))) }
}

impl VectorIndex for ExactIndex {
    fn dim(&self) -> usize {
        self.items().dim()
    }
    fn len(&self) -> usize {
        self.items().rows()
    }
    fn search(&self, query: &[f32], k: usize, filter: Option<Filter<'_>>) -> Result<Ranked> {
        check_width(query.len(), VectorIndex::dim(self))?;
        let q = Embeddings::from_vec(1, query.len(), query.to_vec())?;
        Ok(self.search_batch(&q, k, filter)?.pop().unwrap_or_default())
    }
    /// Blocked matrix multiply over the whole catalogue (see [`ExactIndex::search_candidates`]).
    fn search_batch(&self, queries: &Embeddings, k: usize, filter: Option<Filter<'_>>) -> Result<Vec<Ranked>> {
        check_width(queries.dim(), VectorIndex::dim(self))?;
        let allowed: Option<Vec<bool>> = filter.map(|f| (0..self.items().rows() as u32).into_par_iter().map(f).collect());
        self.search_candidates(queries, k, Candidates { exclude: None, allowed: allowed.as_deref() })
    }
}

impl VectorIndex for Hnsw {
    fn dim(&self) -> usize {
        Hnsw::dim(self)
    }
    fn len(&self) -> usize {
        Hnsw::len(self)
    }
    /// Beam width: the configured `ef_search` (raised to `k`); [`Hnsw::search_ef`] sets it per call.
    fn search(&self, query: &[f32], k: usize, filter: Option<Filter<'_>>) -> Result<Ranked> {
        match filter {
            Some(keep) => self.search_ef(query, k, None, &|key| !keep(key)),
            None => self.search_ef(query, k, None, &|_| false),
        }
    }
}

/// The item ids of ranked lists, best first: the shape `fuserec_eval`'s per-user metrics read.
pub fn item_ids(lists: &[Ranked]) -> Vec<Vec<u32>> {
    lists.iter().map(|l| l.iter().map(|&(item, _)| item).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HnswConfig;
    use fuserec_core::Rng;

    fn data(n: usize, d: usize, seed: u64) -> Embeddings {
        let mut rng = Rng::new(seed);
        Embeddings::from_vec(n, d, (0..n * d).map(|_| rng.normal() as f32).collect()).unwrap()
    }

    /// Both indexes answer the same call; on a small catalogue with a wide beam HNSW is exact,
    /// so the lists must be equal, filter included, single and batch alike.
    #[test]
    fn exact_and_hnsw_agree_through_the_trait() {
        let (items, queries) = (data(300, 8, 1), data(5, 8, 2));
        let exact = ExactIndex::new(items.clone());
        let mut hnsw = Hnsw::new(8, HnswConfig { ef_search: 300, ..HnswConfig::default() }).unwrap();
        hnsw.extend(&(0..300).collect::<Vec<u32>>(), items.as_slice()).unwrap();
        let odd = |i: u32| i % 2 == 1;
        let indexes: [&dyn VectorIndex; 2] = [&exact, &hnsw];
        let [a, b] = indexes.map(|ix| ix.search_batch(&queries, 10, Some(&odd)).unwrap());
        // Same items in the same order; scores equal up to summation order (sgemm vs. dot).
        assert_eq!(item_ids(&a), item_ids(&b));
        let close = |x: &[Ranked], y: &[Ranked]| {
            x.iter().flatten().zip(y.iter().flatten()).all(|(p, q)| (p.1 - q.1).abs() <= 1e-5 * p.1.abs().max(1.0))
        };
        assert!(close(&a, &b));
        assert!(a.iter().flatten().all(|&(i, _)| i % 2 == 1));
        for (q, want) in a.iter().enumerate() {
            let one = [exact.search(queries.row(q), 10, Some(&odd)).unwrap()];
            let two = [VectorIndex::search(&hnsw, queries.row(q), 10, Some(&odd)).unwrap()];
            assert_eq!(item_ids(&one)[0], item_ids(std::slice::from_ref(want))[0]);
            assert_eq!(item_ids(&two)[0], item_ids(std::slice::from_ref(want))[0]);
            assert!(close(&one, std::slice::from_ref(want)) && close(&two, std::slice::from_ref(want)));
        }
        // Hand check of the first list: the true top-10 odd items by inner product.
        let mut all: Vec<(u32, f32)> = (1..300).step_by(2).map(|i| (i as u32, fuserec_core::dot(queries.row(0), items.row(i)))).collect();
        all.sort_by(|x, y| y.1.total_cmp(&x.1));
        assert_eq!(item_ids(&a)[0], all[..10].iter().map(|x| x.0).collect::<Vec<_>>());
    }

    #[test]
    fn wrong_width_and_nan_are_errors() {
        let exact = ExactIndex::new(data(20, 4, 3));
        assert!(matches!(exact.search(&[1.0; 3], 5, None), Err(Error::Shape(_))));
        assert!(exact.search(&[f32::NAN, 0.0, 0.0, 0.0], 5, None).is_err());
        let mut hnsw = Hnsw::new(4, HnswConfig::default()).unwrap();
        hnsw.insert(0, &[1.0, 0.0, 0.0, 0.0]).unwrap();
        assert!(VectorIndex::search(&hnsw, &[1.0; 5], 5, None).is_err());
        assert!(hnsw.search_batch(&data(2, 3, 4), 5, None).is_err());
    }
}
