//! The id CTR model (DIN: target attention over the behaviours' id rows + MLP) and the side inputs
//! the multimodal variants add to it. One struct, because the variants differ only in what enters
//! the attention and the MLP:
//!
//! | variant  | attention views               | extra MLP input                              |
//! |----------|-------------------------------|----------------------------------------------|
//! | DIN      | id rows                       | —                                            |
//! | Vector   | id rows + raw vectors         | attention-pooled raw vectors, target's vector |
//! | SimScore | id rows + cosine to target    | cosine-weighted mean of behaviour id rows    |
//! | SimTier  | id rows                       | SimTier histogram (× learnable tier scale)   |
//! | MAKE     | id rows                       | MAKE's interest; its hidden layers and logit |

use super::TierMode;
use super::batch::{CtrBatch, ItemVectors};
use super::layers::{PartsDense, TargetAttention, pool, pool_const};
use super::make::{Make, MakeTaps};
use crate::Leaf;
use fuserec_core::{Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Dense, DenseAdam, Dev, Grads, HasParams, ParamMut, SparseEmbedding, T1, Tape, V2, fork, leaf, to_vec};

/// Layer widths shared by [`Din`] and [`Make`] (MAKE's hidden layers are tapped one to one).
#[derive(Clone, Debug, PartialEq)]
pub struct CtrShape {
    /// Hidden width of the attention (activation) unit.
    pub attention_hidden: usize,
    /// Hidden widths of the MLP (≥ 1 layer).
    pub hidden: Vec<usize>,
}

/// SimTier as a side input: a histogram of target–behaviour cosines.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimTierSide {
    /// Number of equal tiers over [−1, 1].
    pub tiers: usize,
    /// How counts become histogram values.
    pub mode: TierMode,
    /// A learned scale per tier (initialised to 1) multiplies the histogram.
    pub learn_scale: bool,
}

/// Which multimodal side inputs the id model gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sides {
    /// The target's multimodal vector as a side input.
    pub vector: bool,
    /// Target–behaviour cosines as an attention input.
    pub simscore: bool,
    /// The SimTier histogram, when set.
    pub simtier: Option<SimTierSide>,
    /// MAKE's interest, activations and logit plugged in.
    pub make: bool,
}

impl Sides {
    /// Whether the sides read the items' multimodal vectors.
    pub fn needs_vectors(&self) -> bool {
        self.vector || self.simscore || self.simtier.is_some()
    }
}

/// DIN (target attention over the behaviour sequence, then an MLP) on id rows, with the
/// multimodal [`Sides`] the config turns on.
pub struct Din {
    /// The item id table (targets and behaviours).
    pub items: SparseEmbedding,
    /// The items' multimodal vectors, when a side reads them.
    pub vectors: Option<ItemVectors>,
    /// Which side inputs are on.
    pub sides: Sides,
    /// Target attention over the behaviours.
    pub attn: TargetAttention,
    /// First MLP layer over the named input parts.
    pub first: PartsDense,
    /// `hidden[i] → hidden[i+1]`, the last `→ 1`.
    pub rest: Vec<Dense>,
    /// With MAKE: one map per hidden layer from MAKE's activation into ours (added before the
    /// non-linearity).
    pub taps: Vec<Dense>,
    /// Learned per-tier scale of the SimTier histogram, when enabled.
    pub tier_scale: Option<T1>,
}

/// Id rows a forward pass gathered, for the sparse update.
pub struct DinLeaves {
    behaviours: Leaf,
    targets: Leaf,
}

impl Din {
    /// `make`: the MAKE model whose taps this model will read (`sides.make`); its hidden widths
    /// must equal ours.
    pub fn new(
        dev: &Dev,
        items: SparseEmbedding,
        vectors: Option<ItemVectors>,
        sides: Sides,
        shape: &CtrShape,
        make: Option<&Make>,
        rng: &mut Rng,
    ) -> Result<Self> {
        let (attention_hidden, hidden) = (shape.attention_hidden, shape.hidden.as_slice());
        let d = items.dim();
        if hidden.is_empty() || hidden.contains(&0) {
            return Err(Error::Config(format!("din: hidden layers {hidden:?} (needs ≥ 1 non-zero)")));
        }
        if sides.needs_vectors() && vectors.is_none() {
            return Err(Error::Config("din: vector / simscore / simtier sides need item vectors".into()));
        }
        if let Some(v) = &vectors
            && v.items() != items.ids()
        {
            return Err(Error::Shape(format!("din: {} item vectors for {} item ids", v.items(), items.ids())));
        }
        let m = vectors.as_ref().map_or(0, |v| v.dim);
        let mut views = vec![d];
        if sides.vector {
            views.push(m);
        }
        let attn = TargetAttention::new(dev, &views, sides.simscore, attention_hidden, rng)?;
        let mut parts: Vec<(&str, usize)> = vec![("interest", d), ("target", d)];
        if sides.vector {
            parts.extend([("vector.interest", m), ("vector.target", m)]);
        }
        if sides.simscore {
            parts.push(("simscore", d));
        }
        if let Some(t) = sides.simtier {
            if t.tiers == 0 {
                return Err(Error::Config("din: simtier needs ≥ 1 tier".into()));
            }
            parts.push(("simtier", t.tiers));
        }
        let taps = match (sides.make, make) {
            (true, Some(mk)) => {
                let mh = mk.hidden();
                if mh.as_slice() != hidden {
                    return Err(Error::Config(format!("din: MAKE hidden layers {mh:?} must match the id model's {hidden:?}")));
                }
                parts.push(("make.interest", mk.dim()));
                hidden.iter().map(|&h| Dense::new(dev, h, h, rng)).collect()
            }
            (true, None) => return Err(Error::Config("din: make side without a MAKE model".into())),
            (false, _) => Vec::new(),
        };
        let first = PartsDense::new(dev, &parts, hidden[0], rng)?;
        let rest = hidden.iter().zip(hidden.iter().skip(1).chain(std::iter::once(&1))).map(|(&a, &b)| Dense::new(dev, a, b, rng)).collect();
        let tier_scale = sides.simtier.filter(|t| t.learn_scale).map(|t| dev.ones_like(&(t.tiers,)));
        Ok(Din { items, vectors, sides, attn, first, rest, taps, tier_scale })
    }

    /// Widths of the hidden layers.
    pub fn hidden(&self) -> Vec<usize> {
        self.rest.iter().map(|d| d.inp()).collect()
    }

    /// Logits `(b, 1)`. `make`: MAKE's taps for this batch (required iff `sides.make`).
    pub fn forward(&self, dev: &Dev, batch: &CtrBatch, make: Option<MakeTaps>) -> Result<(V2, DinLeaves)> {
        batch.check(self.items.ids())?;
        if make.is_some() != self.sides.make {
            return Err(Error::Config(format!("din: MAKE taps given = {}, model built with make = {}", make.is_some(), self.sides.make)));
        }
        let (b, l, d) = (batch.rows(), batch.len, self.items.dim());
        let (bt, xb) = leaf(dev, self.items.gather(&batch.behaviours)?, b * l, d);
        let (tt, xt) = leaf(dev, self.items.gather(&batch.targets)?, b, d);
        let [xb1, xb2, xb3] = fork(xb);
        let [xt1, xt2] = fork(xt);
        let vec = |ids: &[u32]| self.vectors.as_ref().expect("checked in new").gather(ids);
        let mut views = vec![(xb1, xt1)];
        let raw = self.sides.vector.then(|| (vec(&batch.behaviours), vec(&batch.targets)));
        if let Some((rb, rt)) = &raw {
            let m = rt.len() / b;
            views.push((
                dev.tensor_from_vec(rb.clone(), (b * l, m)).retaped::<Tape>(),
                dev.tensor_from_vec(rt.clone(), (b, m)).retaped::<Tape>(),
            ));
        }
        let cos = self.sides.simscore.then(|| self.vectors.as_ref().expect("checked").cosines(batch));
        let a = self.attn.weights(dev, views, cos.as_deref(), &batch.mask, b, l)?;
        let [a1, a2] = fork(a);
        let mut parts = vec![pool(a1, xb2), xt2];
        if let Some((rb, rt)) = raw {
            let m = rt.len() / b;
            parts.push(pool_const(dev, a2, rb, m));
            parts.push(dev.tensor_from_vec(rt, (b, m)).retaped::<Tape>());
        }
        if let Some(c) = &cos {
            // Cosine-weighted mean of the behaviours' id rows (padding has cosine 0).
            let mut w = vec![0f32; b * l];
            for r in 0..b {
                let n: f32 = batch.mask[r * l..(r + 1) * l].iter().sum::<f32>().max(1.0);
                for k in 0..l {
                    w[r * l + k] = c[r * l + k] * batch.mask[r * l + k] / n;
                }
            }
            parts.push(pool(dev.tensor_from_vec(w, (b, l)).retaped::<Tape>(), xb3));
        }
        if let Some(t) = self.sides.simtier {
            let h = dev.tensor_from_vec(self.vectors.as_ref().expect("checked").simtier(batch, t.tiers, t.mode)?, (b, t.tiers));
            parts.push(match &self.tier_scale {
                Some(s) => s.retaped::<Tape>().broadcast_like::<_, Axis<0>>(&(b, t.tiers)) * h,
                None => h.retaped::<Tape>(),
            });
        }
        let (taps_hidden, make_logit) = match make {
            Some(t) => {
                parts.push(t.interest);
                (t.hidden, Some(t.logit))
            }
            None => (Vec::new(), None),
        };
        let mut taps_hidden = taps_hidden.into_iter();
        let mut z = self.first.forward(parts)?;
        for (i, layer) in self.rest.iter().enumerate() {
            if let Some(h) = taps_hidden.next() {
                z = z + self.taps[i].forward(h);
            }
            z = layer.forward(z.relu());
        }
        let logit = match make_logit {
            Some(ml) => z + ml,
            None => z,
        };
        let mut w = batch.mask.clone();
        w.extend(std::iter::repeat_n(1.0, b));
        Ok((
            logit,
            DinLeaves {
                behaviours: Leaf { twin: bt, ids: batch.behaviours.clone(), weight: Some(w) },
                targets: Leaf { twin: tt, ids: batch.targets.clone(), weight: None },
            },
        ))
    }

    /// Sparse update of the item table: behaviour rows (padding excluded) and target rows in one
    /// step, so a row used both ways gets one optimiser step with the summed gradient.
    pub fn apply(&mut self, leaves: &DinLeaves, grads: &mut Grads) -> Result<()> {
        let mut ids = leaves.behaviours.ids.clone();
        ids.extend(&leaves.targets.ids);
        let mut g = leaves.behaviours.grad(grads);
        g.extend(leaves.targets.grad(grads));
        self.items.update(&ids, &g, leaves.behaviours.weight.as_deref())
    }
}

impl HasParams for Din {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        self.attn.visit_params(&format!("{prefix}.attention"), f);
        self.first.visit_params(&format!("{prefix}.mlp.0"), f);
        for (i, l) in self.rest.iter_mut().enumerate() {
            l.visit_params(&format!("{prefix}.mlp.{}", i + 1), f);
        }
        for (i, t) in self.taps.iter_mut().enumerate() {
            t.visit_params(&format!("{prefix}.make_tap.{i}"), f);
        }
        if let Some(s) = &mut self.tier_scale {
            f(&format!("{prefix}.tier_scale"), ParamMut::Vector(s));
        }
    }
}

/// How MAKE takes part in an id-model step.
pub enum MakeMode<'a> {
    /// No MAKE.
    None,
    /// Taps without gradients; MAKE's parameters never change.
    Frozen(&'a Make),
    /// Gradients flow into MAKE, updated by its own optimiser.
    FineTune(&'a mut Make, &'a mut DenseAdam),
}

fn bce(dev: &Dev, logits: V2, labels: &[f32]) -> Result<fuserec_nn::V0> {
    let b = logits.shape().0;
    if labels.len() != b {
        return Err(Error::Shape(format!("ctr loss: {} labels for {b} logits", labels.len())));
    }
    Ok(fuserec_nn::dfdx::losses::binary_cross_entropy_with_logits_loss(logits, dev.tensor_from_vec(labels.to_vec(), (b, 1))))
}

fn loss_value(loss: &fuserec_nn::V0) -> Result<f32> {
    let v = loss.retaped::<NoneTape>().array();
    if v.is_finite() { Ok(v) } else { Err(Error::Invalid(format!("ctr loss is {v}"))) }
}

/// One optimiser step of the id model on a labelled batch; returns the mean log-loss.
pub fn train_step(dev: &Dev, din: &mut Din, opt: &mut DenseAdam, batch: &CtrBatch, make: MakeMode<'_>) -> Result<f32> {
    let taps = match &make {
        MakeMode::None => None,
        MakeMode::Frozen(m) => Some(m.forward(dev, batch)?.detached()),
        MakeMode::FineTune(m, _) => Some(m.forward(dev, batch)?),
    };
    let (logits, leaves) = din.forward(dev, batch, taps)?;
    let loss = bce(dev, logits, &batch.labels)?;
    let v = loss_value(&loss)?;
    let mut grads = loss.backward();
    din.apply(&leaves, &mut grads)?;
    opt.step(din, &mut grads)?;
    if let MakeMode::FineTune(m, o) = make {
        o.step(m, &mut grads)?;
    }
    Ok(v)
}

/// One pre-training step of MAKE alone on its own logit.
pub fn make_step(dev: &Dev, make: &mut Make, opt: &mut DenseAdam, batch: &CtrBatch) -> Result<f32> {
    let loss = bce(dev, make.forward(dev, batch)?.logit, &batch.labels)?;
    let v = loss_value(&loss)?;
    let mut grads = loss.backward();
    opt.step(make, &mut grads)?;
    Ok(v)
}

/// Logits of the id model (with MAKE's taps when it has the make side).
pub fn predict(dev: &Dev, din: &Din, make: Option<&Make>, batch: &CtrBatch) -> Result<Vec<f32>> {
    let taps = make.map(|m| m.forward(dev, batch)).transpose()?;
    Ok(to_vec(&din.forward(dev, batch, taps)?.0.split_tape().0))
}

/// Logits of MAKE alone.
pub fn predict_make(dev: &Dev, make: &Make, batch: &CtrBatch) -> Result<Vec<f32>> {
    Ok(to_vec(&make.forward(dev, batch)?.logit.split_tape().0))
}
