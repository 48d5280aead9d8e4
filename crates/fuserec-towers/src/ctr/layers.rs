//! The two layers every CTR model here shares: DIN's target attention (the "activation unit") and
//! a first dense layer over several named input parts (a concatenation without the copy).

use fuserec_core::{Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Dev, HasParams, ParamMut, T1, T2, Tape, V2, fork};

fn glorot(dev: &Dev, inp: usize, out: usize, rng: &mut Rng) -> T2 {
    fuserec_nn::glorot(dev, inp, out, inp + out, rng)
}

/// `(b, h)` rows repeated over `l` positions → `(b·l, h)`.
pub(crate) fn repeat_rows(x: V2, l: usize) -> V2 {
    let (b, h) = *x.shape();
    x.broadcast_like::<_, Axis<1>>(&(b, l, h)).reshape_like(&(b * l, h))
}

/// DIN's activation unit over one or more *views* of (behaviour, target) pairs:
/// `score = relu(Σ_views [x_b·W_b + x_t·W_t + (x_b ⊙ x_t)·W_p] + cos·w_c + b)·w_o`, the linear map
/// of DIN's `[x_b, x_t, x_b − x_t, x_b ⊙ x_t]` written as three products so the target's
/// term is computed once per row, not once per position. Weights are a masked softmax over the
/// real positions (an empty history pools to zero).
#[derive(Clone)]
pub struct TargetAttention {
    /// Per view: `(W_b, W_t, W_p)`, each `dim_view × hidden`.
    pub views: Vec<(T2, T2, T2)>,
    /// Weight of the per-behaviour cosine side input (`1 × hidden`), when present.
    pub cos: Option<T2>,
    /// Hidden bias.
    pub b: T1,
    /// `hidden × 1` output weights (the attention logit).
    pub out: T2,
}

impl TargetAttention {
    /// Attention over views of the given widths (`with_cos`: a cosine side input too). Zero widths are errors.
    pub fn new(dev: &Dev, view_dims: &[usize], with_cos: bool, hidden: usize, rng: &mut Rng) -> Result<Self> {
        if view_dims.is_empty() || view_dims.contains(&0) || hidden == 0 {
            return Err(Error::Config(format!("target attention: views {view_dims:?}, hidden {hidden}")));
        }
        let views =
            view_dims.iter().map(|&d| (glorot(dev, d, hidden, rng), glorot(dev, d, hidden, rng), glorot(dev, d, hidden, rng))).collect();
        let cos = with_cos.then(|| glorot(dev, 1, hidden, rng));
        Ok(TargetAttention { views, cos, b: dev.zeros_like(&(hidden,)), out: glorot(dev, hidden, 1, rng) })
    }

    /// Attention weights `(b, l)`. `views[k] = (behaviours (b·l × d_k), targets (b × d_k))`;
    /// `cos`: `b·l` cosines (constants); `mask`: `b·l`.
    pub fn weights(&self, dev: &Dev, views: Vec<(V2, V2)>, cos: Option<&[f32]>, mask: &[f32], b: usize, l: usize) -> Result<V2> {
        if views.len() != self.views.len() || cos.is_some() != self.cos.is_some() || mask.len() != b * l {
            return Err(Error::Shape(format!(
                "target attention: {} views (expects {}), cosines {}, mask {} for {b}×{l}",
                views.len(),
                self.views.len(),
                cos.is_some(),
                mask.len()
            )));
        }
        let mut z: Option<V2> = None;
        for ((xb, xt), (wb, wt, wp)) in views.into_iter().zip(&self.views) {
            let [xb1, xb2] = fork(xb);
            let [xt1, xt2] = fork(xt);
            let term = xb1.matmul(wb.retaped::<Tape>()) + repeat_rows(xt1.matmul(wt.retaped::<Tape>()), l);
            let term = term + (xb2 * repeat_rows(xt2, l)).matmul(wp.retaped::<Tape>());
            z = Some(match z {
                Some(z) => z + term,
                None => term,
            });
        }
        let mut z = z.expect("at least one view");
        if let (Some(c), Some(w)) = (cos, &self.cos) {
            z = z + dev.tensor_from_vec(c.to_vec(), (b * l, 1)).retaped::<Tape>().matmul(w.retaped::<Tape>());
        }
        let shape = *z.shape();
        let z = z + self.b.retaped::<Tape>().broadcast_like::<_, Axis<0>>(&shape);
        let scores = z.relu().matmul(self.out.retaped::<Tape>()).reshape_like(&(b, l));
        let bias: Vec<f32> = mask.iter().map(|&m| if m > 0.0 { 0.0 } else { -1e9 }).collect();
        let a = (scores + dev.tensor_from_vec(bias, (b, l))).softmax::<Axis<1>>();
        Ok(a * dev.tensor_from_vec(mask.to_vec(), (b, l)))
    }
}

/// `Σ_k a_k · x_k` per row: `a` `(b, l)`, `x` `(b·l, d)` → `(b, d)`.
pub fn pool(a: V2, x: V2) -> V2 {
    let (b, l) = *a.shape();
    let d = x.shape().1;
    a.reshape_like(&(b, 1, l)).matmul(x.reshape_like(&(b, l, d))).reshape_like(&(b, d))
}

/// [`pool`] over constant rows (raw vectors): no gradient is kept for them.
pub fn pool_const(dev: &Dev, a: V2, x: Vec<f32>, d: usize) -> V2 {
    let (b, l) = *a.shape();
    a.reshape_like(&(b, 1, l)).matmul(dev.tensor_from_vec(x, (b, l, d))).reshape_like(&(b, d))
}

impl HasParams for TargetAttention {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        for (k, (wb, wt, wp)) in self.views.iter_mut().enumerate() {
            f(&format!("{prefix}.view{k}.behaviour"), ParamMut::Matrix(wb));
            f(&format!("{prefix}.view{k}.target"), ParamMut::Matrix(wt));
            f(&format!("{prefix}.view{k}.product"), ParamMut::Matrix(wp));
        }
        if let Some(c) = &mut self.cos {
            f(&format!("{prefix}.cos"), ParamMut::Matrix(c));
        }
        f(&format!("{prefix}.b"), ParamMut::Vector(&mut self.b));
        f(&format!("{prefix}.out"), ParamMut::Matrix(&mut self.out));
    }
}

/// `y = Σ_k x_k·W_k + b`: the first layer of an MLP whose input is the concatenation of named
/// parts, without building the concatenation.
#[derive(Clone)]
pub struct PartsDense {
    /// Part names, in input order.
    pub names: Vec<String>,
    /// One `width × out` matrix per part.
    pub ws: Vec<T2>,
    /// Output bias.
    pub b: T1,
}

impl PartsDense {
    /// A layer over named parts `(name, width)` into `out`; empty or zero widths are errors.
    pub fn new(dev: &Dev, parts: &[(&str, usize)], out: usize, rng: &mut Rng) -> Result<Self> {
        if parts.is_empty() || parts.iter().any(|p| p.1 == 0) || out == 0 {
            return Err(Error::Config(format!("dense over parts {parts:?} → {out}")));
        }
        // Glorot over the concatenated width, as if it were one matrix.
        let total: usize = parts.iter().map(|p| p.1).sum();
        let ws = parts.iter().map(|&(_, d)| fuserec_nn::glorot(dev, d, out, total + out, rng)).collect();
        Ok(PartsDense { names: parts.iter().map(|p| p.0.to_string()).collect(), ws, b: dev.zeros_like(&(out,)) })
    }
    /// Input width of each part.
    pub fn widths(&self) -> Vec<usize> {
        self.ws.iter().map(|w| w.shape().0).collect()
    }
    /// `Σ_k parts[k]·W_k + b`; parts of the wrong number or width are errors.
    pub fn forward(&self, parts: Vec<V2>) -> Result<V2> {
        if parts.len() != self.ws.len() || parts.iter().zip(&self.ws).any(|(x, w)| x.shape().1 != w.shape().0) {
            let got: Vec<usize> = parts.iter().map(|x| x.shape().1).collect();
            return Err(Error::Shape(format!("dense over parts {:?}: expects widths {:?}, got {got:?}", self.names, self.widths())));
        }
        let mut y: Option<V2> = None;
        for (x, w) in parts.into_iter().zip(&self.ws) {
            let t = x.matmul(w.retaped::<Tape>());
            y = Some(match y {
                Some(y) => y + t,
                None => t,
            });
        }
        let y = y.expect("non-empty");
        let b = self.b.retaped::<Tape>().broadcast_like::<_, Axis<0>>(y.shape());
        Ok(y + b)
    }
}

impl HasParams for PartsDense {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        for (n, w) in self.names.iter().zip(&mut self.ws) {
            f(&format!("{prefix}.{n}"), ParamMut::Matrix(w));
        }
        f(&format!("{prefix}.b"), ParamMut::Vector(&mut self.b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_nn::{device, leaf, to_vec};

    #[test]
    fn attention_ignores_padding_and_parts_dense_is_a_concatenation() {
        let dev = device(0);
        let mut rng = Rng::new(4);
        let att = TargetAttention::new(&dev, &[3], true, 5, &mut rng).unwrap();
        let rows: Vec<f32> = (0..2 * 4 * 3).map(|k| (k as f32 * 0.37).sin()).collect();
        let tgt: Vec<f32> = (0..2 * 3).map(|k| (k as f32 * 0.91).cos()).collect();
        let mask = [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let cos = [0.5, -0.2, 0.9, 0.1, 0.0, 0.0, 0.0, 0.0];
        let run = |rows: Vec<f32>| {
            let (_, xb) = leaf(&dev, rows, 8, 3);
            let (_, xt) = leaf(&dev, tgt.clone(), 2, 3);
            to_vec(&att.weights(&dev, vec![(xb, xt)], Some(&cos), &mask, 2, 4).unwrap().split_tape().0)
        };
        let a = run(rows.clone());
        assert!((a[0] + a[1] - 1.0).abs() < 1e-6 && a[2] == 0.0 && a[3] == 0.0, "{a:?}");
        assert!(a[4..].iter().all(|&w| w == 0.0), "an empty history has no weights");
        // Changing a padded row changes nothing.
        let mut other = rows.clone();
        other[2 * 3..3 * 3].iter_mut().for_each(|x| *x = 7.0);
        assert_eq!(run(other), a);

        // Parts dense = one dense layer over the concatenation.
        let pd = PartsDense::new(&dev, &[("a", 2), ("b", 3)], 4, &mut rng).unwrap();
        let (xa, xb) = (vec![1.0, -2.0], vec![0.5, 0.25, 3.0]);
        let y = to_vec(&pd.forward(vec![leaf(&dev, xa.clone(), 1, 2).1, leaf(&dev, xb.clone(), 1, 3).1]).unwrap().split_tape().0);
        let x: Vec<f32> = xa.iter().chain(&xb).copied().collect();
        let w: Vec<f32> = to_vec(&pd.ws[0]).into_iter().chain(to_vec(&pd.ws[1])).collect();
        for j in 0..4 {
            let want: f32 = (0..5).map(|i| x[i] * w[i * 4 + j]).sum();
            assert!((y[j] - want).abs() < 1e-5);
        }
        assert!(pd.forward(vec![leaf(&dev, xa, 1, 2).1]).is_err());
    }
}
