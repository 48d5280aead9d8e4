//! Semantic-aware contrastive learning (SCL): projection heads over frozen backbone features,
//! trained so that an anchor (a search query, a title) lands next to the item it leads to.
//! InfoNCE over in-batch keys plus a MoCo queue filled by a momentum key encoder, and a triplet
//! on hard negatives (engaged but not chosen).

mod loss;
mod momentum;
mod queue;
mod train;

pub use loss::{hard_triplet, info_nce};
pub use momentum::momentum_update;
pub use queue::KeyQueue;
pub use train::{Pair, Retrieval, SclConfig, SclEpoch, SclModel, retrieval};
