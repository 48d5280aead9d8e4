//! MAKE: a DIN whose item representations are the items' multimodal vectors (projected) instead of
//! id rows. Pre-trained alone on the CTR labels for several epochs (it does not overfit the way id
//! tables do after one), then its interest vector, hidden activations and logit are plugged into
//! the id model ([`super::Din`] with `make = true`) for one joint epoch.

use super::batch::{CtrBatch, ItemVectors};
use super::layers::{PartsDense, TargetAttention, pool};
use fuserec_core::{Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Dense, Dev, HasParams, ParamMut, Tape, V2, fork};

/// MAKE: DIN over the items' projected multimodal vectors.
#[derive(Clone)]
pub struct Make {
    /// The items' multimodal vectors.
    pub vectors: ItemVectors,
    /// Multimodal vector → the model's item representation.
    pub proj: Dense,
    /// Target attention.
    pub attn: TargetAttention,
    /// First MLP layer over `[interest, target]`.
    pub first: PartsDense,
    /// `hidden[i] → hidden[i+1]`, the last `→ 1`.
    pub rest: Vec<Dense>,
}

/// What MAKE hands to the id model: the pooled interest (`b × dim`), the activation of every hidden
/// layer (`b × hidden[i]`) and the logit (`b × 1`).
pub struct MakeTaps {
    /// Pooled interest, `b × dim`.
    pub interest: V2,
    /// Activation of each hidden layer.
    pub hidden: Vec<V2>,
    /// The logit, `b × 1`.
    pub logit: V2,
}

impl MakeTaps {
    /// The same values with no path back into MAKE: a frozen MAKE gets no gradient.
    pub fn detached(self) -> Self {
        let cut = |v: V2| v.split_tape().0.retaped::<Tape>();
        MakeTaps { interest: cut(self.interest), hidden: self.hidden.into_iter().map(cut).collect(), logit: cut(self.logit) }
    }
}

impl Make {
    /// A fresh MAKE projecting `vectors` to width `dim`, with the attention and MLP of `shape`.
    pub fn new(dev: &Dev, vectors: ItemVectors, dim: usize, shape: &super::CtrShape, rng: &mut Rng) -> Result<Self> {
        let (attention_hidden, hidden) = (shape.attention_hidden, shape.hidden.as_slice());
        if dim == 0 || hidden.is_empty() || hidden.contains(&0) {
            return Err(Error::Config(format!("make: dim {dim}, hidden {hidden:?} (needs ≥ 1 non-zero hidden layer)")));
        }
        let proj = Dense::new(dev, vectors.dim, dim, rng);
        let attn = TargetAttention::new(dev, &[dim], false, attention_hidden, rng)?;
        let first = PartsDense::new(dev, &[("interest", dim), ("target", dim)], hidden[0], rng)?;
        let rest = hidden.iter().zip(hidden.iter().skip(1).chain(std::iter::once(&1))).map(|(&a, &b)| Dense::new(dev, a, b, rng)).collect();
        Ok(Make { vectors, proj, attn, first, rest })
    }

    /// Width of the projected item representation.
    pub fn dim(&self) -> usize {
        self.proj.out()
    }
    /// Widths of the hidden layers.
    pub fn hidden(&self) -> Vec<usize> {
        self.rest.iter().map(|d| d.inp()).collect()
    }

    /// Runs MAKE on a batch (checked first).
    pub fn forward(&self, dev: &Dev, batch: &CtrBatch) -> Result<MakeTaps> {
        batch.check(self.vectors.items())?;
        let (b, l, m) = (batch.rows(), batch.len, self.vectors.dim);
        let xb = dev.tensor_from_vec(self.vectors.gather(&batch.behaviours), (b * l, m)).retaped::<Tape>();
        let xt = dev.tensor_from_vec(self.vectors.gather(&batch.targets), (b, m)).retaped::<Tape>();
        let [eb1, eb2] = fork(self.proj.forward(xb));
        let [et1, et2] = fork(self.proj.forward(xt));
        let a = self.attn.weights(dev, vec![(eb1, et1)], None, &batch.mask, b, l)?;
        let [i1, i2] = fork(pool(a, eb2));
        let mut z = self.first.forward(vec![i1, et2])?;
        let mut hidden = Vec::with_capacity(self.rest.len());
        for layer in &self.rest {
            let [h1, h2] = fork(z.relu());
            hidden.push(h2);
            z = layer.forward(h1);
        }
        Ok(MakeTaps { interest: i2, hidden, logit: z })
    }
}

impl HasParams for Make {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        self.proj.visit_params(&format!("{prefix}.proj"), f);
        self.attn.visit_params(&format!("{prefix}.attention"), f);
        self.first.visit_params(&format!("{prefix}.mlp.0"), f);
        for (i, l) in self.rest.iter_mut().enumerate() {
            l.visit_params(&format!("{prefix}.mlp.{}", i + 1), f);
        }
    }
}
