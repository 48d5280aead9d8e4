//! Batch top-K scoring: every query row against an item-vector file.

use super::encode::quote as sql_quote;

/// Scores view `queries` (an id column and a fixed-size vector column) against `items_file`:
/// one output row per (query, rank) with `query, rank (1-based), item, score`, best first.
#[derive(Clone, Debug)]
pub struct TopKJob {
    /// Items per query.
    pub k: usize,
    /// The item-vector Parquet file (`item` + vector column).
    pub items_file: String,
}

impl TopKJob {
    /// SQL over view `queries` with id column `id` and vector column `vector`.
    pub fn sql(&self, id: &str, vector: &str) -> String {
        format!(
            "WITH r AS (SELECT CAST({id} AS VARCHAR) AS query, fuserec_topk({}, {vector}, {}) AS top FROM queries), \
             e AS (SELECT query, unnest(top) AS e FROM r) \
             SELECT query, CAST(e['rank'] AS INT) AS rank, e['item'] AS item, e['score'] AS score FROM e ORDER BY query, rank",
            sql_quote(&self.items_file),
            self.k
        )
    }
}
