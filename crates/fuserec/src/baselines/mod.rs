//! Non-neural baselines every experiment compares against.

mod bpr;
mod content_knn;
mod ease;
mod item_knn;
mod most_pop;
mod random;

pub use bpr::{Bpr, BprConfig, BprLog, bpr_dloss_dx, bpr_row_grads};
pub use content_knn::ContentKnn;
pub use ease::Ease;
pub use fuserec_recall::features::centroid_profiles;
pub use item_knn::ItemKnn;
pub use most_pop::MostPop;
pub use random::RandomScores;
