#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod auc;
mod bootstrap;
mod catalogue;
mod ranking;
pub mod svg;
mod table;

pub use auc::{auc, gauc};
pub use bootstrap::{Estimate, bootstrap_ci};
pub use catalogue::{Bucket, PopularityBuckets, cold_share_at_k, coverage_at_k, exposure_gini_at_k, gini, recall_by_bucket};
pub use ranking::{Hit, Mrr, Ndcg, Precision, RankedList, RankingMetric, Recall, STANDARD_METRICS, evaluate_ranking};
pub use table::markdown_table;

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Embeddings, Error, Result};
