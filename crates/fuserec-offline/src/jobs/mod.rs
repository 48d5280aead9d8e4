//! The offline jobs. Statistics, samples and splits are SQL over the registered logs; encoding,
//! cluster codes and top-K are SQL calling fuserec's user-defined functions ([`crate::udf`]).

mod encode;
mod samples;
mod split;
mod stats;
mod topk;

pub use encode::{EncodeJob, codes_sql};
pub use split::SplitJob;
pub use stats::StatsJob;
pub use topk::TopKJob;

/// An f32 constant as SQL: the shortest decimal that reads back as the same f32, cast to FLOAT,
/// so f32 arithmetic in the plan matches fuserec's own bit for bit.
pub(crate) fn f32_lit(x: f32) -> String {
    format!("CAST({x:?} AS FLOAT)")
}
