//! Evaluation: ranking metrics @K, AUC/GAUC, catalogue metrics (coverage, cold share, exposure
//! Gini), popularity-bucket breakdowns, bootstrap confidence intervals over users, and the
//! Markdown/SVG pieces reports are made of.
//!
//! Invariants: every metric is a pure function of ranked lists and ground truth; users without
//! relevant items are never averaged in (they are counted and reported instead); no I/O.

mod auc;
mod bootstrap;
mod catalogue;
mod ranking;
pub mod svg;
mod table;

pub use auc::{auc, gauc};
pub use bootstrap::{Estimate, bootstrap_ci};
pub use catalogue::{Bucket, PopularityBuckets, cold_share_at_k, coverage_at_k, exposure_gini_at_k, gini, recall_by_bucket};
pub use ranking::{Hit, Mrr, Ndcg, Precision, RankingMetric, Recall, STANDARD_METRICS, evaluate_ranking};
pub use table::markdown_table;

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Embeddings, Error, Result};
