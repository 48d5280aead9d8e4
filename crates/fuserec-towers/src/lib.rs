//! Towers of the two-tower recall model, and its losses.
//!
//! Query side: [`UserTower`] (pooled recent items + user id) and [`TriggerTower`] (one trigger
//! item, for item-to-item recall). Item side: [`BehaviourTower`] (the item's id row) and
//! [`ContentTower`] (projected text/image features with modality masks, plus one embedding per
//! cluster-code level). Losses: in-batch sampled softmax with log-Q correction, cross-view triplet.
//!
//! Invariant: towers never see raw images or text — only feature matrices and ids prepared by the
//! caller; and every id table trains sparsely (touched rows only).

mod behaviour;
mod content;
pub mod ctr;
mod loss;
mod user;

pub use behaviour::BehaviourTower;
pub use content::{ContentInput, ContentLeaves, ContentTower, NO_CODE};
pub use loss::{V0, sampled_softmax, triplet};
pub use user::{History, NO_USER, Pooling, TriggerTower, UserLeaves, UserTower};

use fuserec_nn::{Grads, T2};

/// A gathered batch of id rows that became a graph leaf: after backward, its gradient is
/// scattered back into the table it came from.
pub struct Leaf {
    pub twin: T2,
    pub ids: Vec<u32>,
    /// Per position: 0 = padding (no update), else a scale applied to the gradient.
    pub weight: Option<Vec<f32>>,
}

impl Leaf {
    pub fn grad(&self, grads: &mut Grads) -> Vec<f32> {
        grads.try_alloc_for(&self.twin).expect("cpu alloc");
        fuserec_nn::to_vec(&grads.get(&self.twin))
    }
}
