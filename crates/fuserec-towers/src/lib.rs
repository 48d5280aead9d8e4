#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

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
    /// The leaf tensor the gathered rows became.
    pub twin: T2,
    /// The ids the rows were gathered for, one per position.
    pub ids: Vec<u32>,
    /// Per position: 0 = padding (no update), else a scale applied to the gradient.
    pub weight: Option<Vec<f32>>,
}

impl Leaf {
    /// The leaf's gradient after backward (zeros if the loss did not reach it).
    pub fn grad(&self, grads: &mut Grads) -> Vec<f32> {
        grads.try_alloc_for(&self.twin).expect("cpu alloc");
        fuserec_nn::to_vec(&grads.get(&self.twin))
    }
}

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Error, Result, Rng};

/// The layers and tables the towers are made of (`fuserec-nn`), for building towers without adding it.
pub use fuserec_nn as nn;
