//! Losses written as single dfdx ops (custom backward), where composing dfdx's elementwise ops
//! would make a full pass with an allocation per op over a large logit matrix.

use crate::fastmath;
use crate::{Dev, Tape, V2};
use dfdx::prelude::*;
use dfdx::tensor::Tape as _;

/// A taped scalar (a loss).
pub type V0 = Tensor<(), f32, Dev, Tape>;

/// `mean_i −log softmax(s·x_i − log_q)_i` over `B` rows and `N ≥ B` columns, where column `j`
/// holds item `items[j]` and row `i`'s target is column `i`; other columns holding row `i`'s
/// item are masked (not negatives). One pass per row (rows in parallel), with the
/// gradient `s·(p − onehot)/B` written straight into the input's gradient. The same result as
/// composing dfdx's scale, add, `log_softmax`, mask and sum, at a fraction of the memory traffic
/// (each of those is a full pass over the `B × N` logits, forward and backward).
pub fn softmax_xent_diagonal(logits: V2, scale: f32, log_q: Option<&[f32]>, items: &[u32]) -> V0 {
    use rayon::prelude::*;
    let (b, n) = *logits.shape();
    let (x, mut tape) = logits.split_tape();
    // Forward leaves `exp(z − max)` in `e` and `1 / Σ exp(z − max)` per row; the backward pass
    // turns them into probabilities as it writes the gradient.
    let mut e = crate::to_vec(&x);
    let nlq: Vec<f32> = log_q.map_or_else(|| vec![0.0; n], |l| l.iter().map(|v| -v).collect());
    // Columns sharing an item with another column: a row masks the others holding its item.
    let mut by_item: Vec<(u32, u32)> = items.iter().enumerate().map(|(j, &it)| (it, j as u32)).collect();
    by_item.sort_unstable();
    let mut same: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for w in by_item.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        same.insert(w[0].0, w.iter().map(|p| p.1).collect());
    }
    let rows: Vec<(f64, f32)> = e
        .par_chunks_mut(n)
        .enumerate()
        .map(|(i, row)| {
            for (z, c) in row.iter_mut().zip(&nlq) {
                *z = *z * scale + c;
            }
            let masked = same.get(&items[i]);
            for &j in masked.into_iter().flatten().filter(|&&j| j as usize != i) {
                row[j as usize] = f32::NEG_INFINITY;
            }
            let m = fastmath::max(row);
            let target = row[i] - m;
            let sum = fastmath::exp_shift_sum(row, m);
            for &j in masked.into_iter().flatten().filter(|&&j| j as usize != i) {
                row[j as usize] = 0.0;
            }
            (sum.ln() as f64 - target as f64, 1.0 / sum)
        })
        .collect();
    let loss = (rows.iter().map(|r| r.0).sum::<f64>() / b as f64) as f32;
    let inv: Vec<f32> = rows.iter().map(|r| r.1).collect();
    let dev = x.device().clone();
    let out = dev.tensor(loss);
    let (xg, og) = (x.ghost(), out.ghost());
    tape.add_backward_op(move |grads| {
        grads.try_alloc_for(&og)?;
        let go = grads.get(&og).array();
        let gx = grads.get_or_alloc_mut(&xg)?;
        let k = go * scale / b as f32;
        gx.par_chunks_mut(n).zip(e.par_chunks(n)).enumerate().for_each(|(i, (g, er))| {
            let ki = k * inv[i];
            for (gj, ej) in g.iter_mut().zip(er) {
                *gj += ki * ej;
            }
            g[i] -= k;
        });
        Ok(())
    });
    out.put_tape(tape)
}
