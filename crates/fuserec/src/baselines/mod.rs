//! Non-neural baselines every experiment compares against.

mod content_knn;
mod item_knn;
mod most_pop;
mod random;

pub use content_knn::ContentKnn;
pub use item_knn::ItemKnn;
pub use most_pop::MostPop;
pub use random::RandomScores;
