use fuserec_core::{Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Activation, Dev, HasParams, Mlp, ParamMut, V1};

/// Number of gate inputs: `[log1p(exposures), log1p(clicks), smoothed CTR, log1p(age days)]`
/// (`fuserec_core::ItemStats::gate_features`).
pub const GATE_FEATURES: usize = 4;

/// `g = σ(MLP(statistics))`, one value in (0, 1) per item row.
pub struct StatsGate {
    /// `4 → hidden → 1` (or `4 → 1` when `hidden` is 0), tanh between layers.
    pub mlp: Mlp,
}

impl StatsGate {
    /// A freshly initialised gate with one hidden layer of `hidden` units (0: a logistic
    /// regression on the four features).
    pub fn new(dev: &Dev, hidden: usize, rng: &mut Rng) -> Result<Self> {
        let widths: Vec<usize> = if hidden == 0 { vec![GATE_FEATURES, 1] } else { vec![GATE_FEATURES, hidden, 1] };
        Ok(StatsGate { mlp: Mlp::new(dev, &widths, Activation::Tanh, rng)? })
    }

    /// The taped gate for training. `features`: `rows × 4`, row-major (a length that is not a
    /// multiple of 4 panics inside dfdx; [`values`](StatsGate::values) checks it).
    pub fn forward(&self, dev: &Dev, features: &[f32]) -> V1 {
        let n = features.len() / GATE_FEATURES;
        let x = dev.tensor_from_vec(features.to_vec(), (n, GATE_FEATURES)).leaky_traced();
        self.mlp.forward(x).sigmoid().reshape_like(&(n,))
    }

    /// The gate's values for `rows × 4` features (see [`ItemStats::gate_features`](fuserec_core::ItemStats::gate_features)),
    /// without a tape: what [`FusionGate::fuse_rows`](crate::FusionGate::fuse_rows) takes as `g`.
    pub fn values(&self, dev: &Dev, features: &[f32]) -> Result<Vec<f32>> {
        if !features.len().is_multiple_of(GATE_FEATURES) || features.iter().any(|x| !x.is_finite()) {
            return Err(Error::Shape(format!("gate features: {} values, must be finite rows of {GATE_FEATURES}", features.len())));
        }
        Ok(self.forward(dev, features).retaped::<NoneTape>().as_vec())
    }
}

impl HasParams for StatsGate {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        self.mlp.visit_params(&format!("{prefix}.mlp"), f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_nn::{AdamConfig, DenseAdam};

    /// Planted case: the target gate falls with exposure (new items → content). The gate must
    /// stay in (0, 1) and learn the monotone relation.
    #[test]
    fn output_in_unit_interval_and_monotone_rule_is_learnable() {
        let dev = fuserec_nn::device(0);
        let mut gate = StatsGate::new(&dev, 8, &mut Rng::new(3)).unwrap();
        let exposures: Vec<f32> = (0..64).map(|k| (k as f32 * 0.37).exp() - 1.0).collect();
        let feats: Vec<f32> = exposures.iter().flat_map(|&e| [e.ln_1p(), (e * 0.1).ln_1p(), 0.1, 1.0]).collect();
        let target: Vec<f32> = exposures.iter().map(|&e| 1.0 / (1.0 + (e.ln_1p() - 4.0).exp())).collect();
        let mut opt = DenseAdam::new(AdamConfig::new(0.05));
        let mse = |g: &[f32]| g.iter().zip(&target).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / g.len() as f32;
        let before = mse(&gate.values(&dev, &feats).unwrap());
        for _ in 0..400 {
            let g = gate.forward(&dev, &feats);
            let t = dev.tensor_from_vec(target.clone(), (target.len(),));
            let mut grads = (g - t).square().mean::<(), _>().backward();
            opt.step(&mut gate, &mut grads).unwrap();
        }
        let g = gate.values(&dev, &feats).unwrap();
        assert!(g.iter().all(|&x| x > 0.0 && x < 1.0));
        assert!(mse(&g) < before * 0.05, "gate did not learn: mse {before} → {}", mse(&g));
        assert!(g.windows(8).step_by(8).all(|w| w[7] < w[0] + 1e-3), "gate should fall with exposure: {g:?}");
        let extreme = gate.values(&dev, &[1e6f32.ln_1p(), 1e5f32.ln_1p(), 0.9, 9.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
        assert!(gate.values(&dev, &[1.0; 5]).is_err() && gate.values(&dev, &[f32::NAN; 4]).is_err());
        assert!(extreme.iter().all(|&x| x > 0.0 && x < 1.0));
    }
}
