use crate::{Grads, HasParams, ParamMut};
use fuserec_core::{Error, Result};
use std::collections::HashMap;

/// Adam's settings for [`DenseAdam`]; `AdamConfig::new(lr)` gives the usual betas and eps.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay (default 0.9).
    #[serde(default = "b1")]
    pub beta1: f32,
    /// Second-moment decay (default 0.999).
    #[serde(default = "b2")]
    pub beta2: f32,
    /// Denominator guard (default 1e-8).
    #[serde(default = "eps")]
    pub eps: f32,
    /// Decoupled weight decay (AdamW); 0 = plain Adam.
    #[serde(default)]
    pub weight_decay: f32,
}
fn b1() -> f32 {
    0.9
}
fn b2() -> f32 {
    0.999
}
fn eps() -> f32 {
    1e-8
}

impl AdamConfig {
    /// Learning rate `lr`, defaults for the rest, no weight decay.
    pub fn new(lr: f32) -> Self {
        AdamConfig { lr, beta1: b1(), beta2: b2(), eps: eps(), weight_decay: 0.0 }
    }
}

/// Adam for runtime-shaped dense parameters: reads each parameter's gradient from the tape's
/// [`Grads`], keeps moments keyed by parameter name, writes the new values back in place.
/// Parameters the loss did not reach get a zero gradient (their moments still decay).
pub struct DenseAdam {
    /// The settings.
    pub cfg: AdamConfig,
    step: i32,
    moments: HashMap<String, (Vec<f32>, Vec<f32>)>,
}

impl DenseAdam {
    /// An optimiser with no state yet.
    pub fn new(cfg: AdamConfig) -> Self {
        DenseAdam { cfg, step: 0, moments: HashMap::new() }
    }

    /// One Adam step on every parameter of `model` from `grads`; an error on a non-finite gradient.
    pub fn step(&mut self, model: &mut dyn HasParams, grads: &mut Grads) -> Result<()> {
        self.step += 1;
        let c = self.cfg;
        let c1 = 1.0 - c.beta1.powi(self.step);
        let c2 = 1.0 - c.beta2.powi(self.step);
        let mut err = None;
        model.visit_params("", &mut |name, p| {
            if err.is_some() {
                return;
            }
            let mut p = p;
            let (mut w, g) = match &mut p {
                ParamMut::Vector(t) => {
                    grads.try_alloc_for(&**t).expect("cpu alloc");
                    (crate::to_vec(&**t), crate::to_vec(&grads.get(&**t)))
                }
                ParamMut::Matrix(t) => {
                    grads.try_alloc_for(&**t).expect("cpu alloc");
                    (crate::to_vec(&**t), crate::to_vec(&grads.get(&**t)))
                }
            };
            if let Some(k) = g.iter().position(|x| !x.is_finite()) {
                err = Some(Error::Invalid(format!("parameter `{name}`: non-finite gradient at element {k}")));
                return;
            }
            let (m, v) = self.moments.entry(name.to_string()).or_insert_with(|| (vec![0.0; w.len()], vec![0.0; w.len()]));
            for i in 0..w.len() {
                m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g[i];
                v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g[i] * g[i];
                w[i] -= c.lr * ((m[i] / c1) / ((v[i] / c2).sqrt() + c.eps) + c.weight_decay * w[i]);
            }
            match p {
                ParamMut::Vector(t) => t.copy_from(&w),
                ParamMut::Matrix(t) => t.copy_from(&w),
            }
        });
        err.map_or(Ok(()), Err)
    }
}
