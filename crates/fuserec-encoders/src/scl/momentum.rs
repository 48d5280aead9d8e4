//! The momentum (key) encoder: `θ_k ← m·θ_k + (1 − m)·θ_q`, parameter by parameter.

use fuserec_core::{Error, Result};
use fuserec_nn::{HasParams, ParamMut};
use std::collections::HashMap;

/// Moves every parameter of `target` towards the same-named parameter of `source`.
pub fn momentum_update(target: &mut dyn HasParams, source: &mut dyn HasParams, m: f32) -> Result<()> {
    let mut src: HashMap<String, Vec<f32>> = HashMap::new();
    source.visit_params("", &mut |name, p| {
        let v = match p {
            ParamMut::Vector(t) => fuserec_nn::to_vec(&*t),
            ParamMut::Matrix(t) => fuserec_nn::to_vec(&*t),
        };
        src.insert(name.to_string(), v);
    });
    let mut err = None;
    target.visit_params("", &mut |name, p| {
        let Some(s) = src.get(name) else {
            err = Some(Error::Shape(format!("momentum update: source has no parameter `{name}`")));
            return;
        };
        let mix = |t: Vec<f32>| -> Option<Vec<f32>> {
            (t.len() == s.len()).then(|| t.iter().zip(s).map(|(a, b)| m * a + (1.0 - m) * b).collect())
        };
        let ok = match p {
            ParamMut::Vector(t) => mix(fuserec_nn::to_vec(&*t)).map(|v| t.copy_from(&v)),
            ParamMut::Matrix(t) => mix(fuserec_nn::to_vec(&*t)).map(|v| t.copy_from(&v)),
        };
        if ok.is_none() {
            err = Some(Error::Shape(format!("momentum update: `{name}` differs in size")));
        }
    });
    err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::Rng;
    use fuserec_nn::{Activation, Mlp, device};

    #[test]
    fn moves_each_parameter_by_the_momentum_rule() {
        let dev = device(0);
        let mut q = Mlp::new(&dev, &[3, 4, 2], Activation::Relu, &mut Rng::new(1)).unwrap();
        let mut k = Mlp::new(&dev, &[3, 4, 2], Activation::Relu, &mut Rng::new(2)).unwrap();
        let (kw, qw) = (k.layers[0].w.as_vec(), q.layers[0].w.as_vec());
        momentum_update(&mut k, &mut q, 0.9).unwrap();
        for ((a, b), c) in kw.iter().zip(&qw).zip(k.layers[0].w.as_vec()) {
            assert!((0.9 * a + 0.1 * b - c).abs() < 1e-6);
        }
        assert_eq!(q.layers[0].w.as_vec(), qw, "the source is not touched");
        let mut other = Mlp::new(&dev, &[3, 5, 2], Activation::Relu, &mut Rng::new(3)).unwrap();
        assert!(momentum_update(&mut other, &mut q, 0.9).is_err());
    }
}
