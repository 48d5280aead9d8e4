//! Losses written as single dfdx ops (custom backward), where composing dfdx's elementwise ops
//! would make a full pass with an allocation per op over a large logit matrix.

use crate::{Dev, Tape, V2, to_vec};
use dfdx::prelude::*;
use dfdx::tensor::{Merge, Tape as _};
use fuserec_core::simd;
use rayon::prelude::*;

/// A taped scalar (a loss).
pub type V0 = Tensor<(), f32, Dev, Tape>;

/// Rows of the logit matrix one task computes and normalises while they are in cache.
const ROWS: usize = 64;

/// Columns sharing an item with another column, by item: a row masks the others holding its
/// item (a duplicate positive in the batch is not a negative).
fn duplicate_columns(items: &[u32]) -> std::collections::HashMap<u32, Vec<u32>> {
    let mut by_item: Vec<(u32, u32)> = items.iter().enumerate().map(|(j, &it)| (it, j as u32)).collect();
    by_item.sort_unstable();
    by_item.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1).map(|g| (g[0].0, g.iter().map(|p| p.1).collect())).collect()
}

fuserec_core::vectorized_fn! {
    /// Row `i` of the scaled logits: adds `nlq`, masks the `masked` columns other than `i`, and
    /// leaves `exp(z − max)` in place (0 on masked columns). Returns the row's loss and
    /// `1 / Σ exp(z − max)`.
    fn softmax_row(row: &mut [f32], i: usize, nlq: &[f32], masked: &[u32]) -> (f64, f32) {
        for (z, c) in row.iter_mut().zip(nlq) {
            *z += c;
        }
        for &j in masked.iter().filter(|&&j| j as usize != i) {
            row[j as usize] = f32::NEG_INFINITY;
        }
        let m = simd::max(row);
        let target = row[i] - m;
        let sum = simd::exp_shift_sum(row, m);
        for &j in masked.iter().filter(|&&j| j as usize != i) {
            row[j as usize] = 0.0;
        }
        (sum.ln() as f64 - target as f64, 1.0 / sum)
    }
}

fuserec_core::vectorized_fn! {
    /// `row[j] *= k`.
    fn scale_row(row: &mut [f32], k: f32) {
        for x in row {
            *x *= k;
        }
    }
}

/// `mean_i −log softmax(s·q_i·v_jᵀ − log_q_j)_i` over `B` query rows `q` and `N ≥ B` column rows
/// `v` (both `· × d`), where column `j` holds item `items[j]` and row `i`'s target is column `i`;
/// other columns holding row `i`'s item are masked (not negatives). The sampled softmax of the
/// two towers and the InfoNCE of SCL.
///
/// One op instead of a product, a scale, a `log_softmax`, a mask and a sum, each a pass with an
/// allocation over the `B × N` logits: blocks of rows are multiplied (fuserec-gemm), shifted and
/// exponentiated in parallel while in cache; backward turns the kept exponentials into the
/// gradient `s·(p − onehot)/B` in place and multiplies it back into both inputs' gradients.
/// `q` and `v` must hold their rows contiguously (an op's output or a parameter, not a permuted
/// view); they may be the same tensor.
pub fn dot_softmax_xent(q: V2, v: V2, scale: f32, log_q: Option<&[f32]>, items: &[u32]) -> V0 {
    let (b, d) = *q.shape();
    let n = v.shape().0;
    assert!(
        v.shape().1 == d && n >= b && items.len() == n,
        "softmax cross-entropy: {b} × {d} rows against {:?} columns for {} items",
        v.shape(),
        items.len()
    );
    assert!(log_q.is_none_or(|l| l.len() == n), "one log Q per column");
    let (q, tq) = q.split_tape();
    let (v, tv) = v.split_tape();
    let mut tape = tq.merge(tv);
    let (qs, vs) = (to_vec(&q), to_vec(&v));
    let nlq: Vec<f32> = log_q.map_or_else(|| vec![0.0; n], |l| l.iter().map(|v| -v).collect());
    let same = duplicate_columns(items);
    // Forward leaves `exp(z − max)` in `e` (0 on masked columns) and `1 / Σ exp(z − max)` per
    // row; backward turns them into probabilities as it writes the gradient.
    // Not zeroed first (a 5 MB memset at the default sizes): each block's product overwrites
    // its rows before anything reads them.
    let mut e: Vec<f32> = Vec::with_capacity(b * n);
    let rows: Vec<(f64, f32)> = e.spare_capacity_mut()[..b * n]
        .par_chunks_mut(ROWS * n)
        .enumerate()
        .flat_map_iter(|(blk, out)| {
            let (r0, m) = (blk * ROWS, out.len() / n);
            // SAFETY: `q` rows r0..r0+m (m × d, row-major), `v` read as its transpose (d × n)
            // and `out` (m × n) lie inside their buffers; `out` is this task's own block, and
            // β = 0 writes it without reading it, after which it is initialised.
            let out = unsafe {
                fuserec_gemm::sgemm(
                    m,
                    d,
                    n,
                    scale,
                    qs[r0 * d..].as_ptr(),
                    d as isize,
                    1,
                    vs.as_ptr(),
                    1,
                    d as isize,
                    0.0,
                    out.as_mut_ptr().cast(),
                    n as isize,
                    1,
                );
                std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<f32>(), out.len())
            };
            out.chunks_mut(n)
                .enumerate()
                .map(|(k, row)| softmax_row(row, r0 + k, &nlq, same.get(&items[r0 + k]).map_or(&[], Vec::as_slice)))
                .collect::<Vec<_>>()
        })
        .collect();
    // SAFETY: every block above was written in full (the blocks cover all b·n values).
    unsafe { e.set_len(b * n) };
    let loss = (rows.iter().map(|r| r.0).sum::<f64>() / b as f64) as f32;
    let inv: Vec<f32> = rows.iter().map(|r| r.1).collect();
    let dev = q.device().clone();
    let out = dev.tensor(loss);
    let (qg, vg, og) = (q.ghost(), v.ghost(), out.ghost());
    tape.add_backward_op(move |grads| {
        grads.try_alloc_for(&og)?;
        let k = grads.get(&og).array() * scale / b as f32;
        // e → G = k·(p − onehot), one block of rows at a time while it is in cache: ∂q += G·v
        // for the block's rows, and the block's share of ∂v = Gᵀ·q into its thread's sum.
        let gq = grads.get_or_alloc_mut(&qg)?;
        // One run of blocks (and one n × d sum) per thread, not one sum per split rayon makes.
        let per_thread = b.div_ceil(ROWS).div_ceil(rayon::current_num_threads());
        let dv = e
            .par_chunks_mut(ROWS * n)
            .zip(gq.par_chunks_mut(ROWS * d))
            .enumerate()
            .with_min_len(per_thread)
            .fold(
                || vec![0f32; n * d],
                |mut dv, (blk, (g, dq))| {
                    let (r0, m) = (blk * ROWS, g.len() / n);
                    for (kk, row) in g.chunks_mut(n).enumerate() {
                        scale_row(row, k * inv[r0 + kk]);
                        row[r0 + kk] -= k;
                    }
                    // SAFETY: G block m × n, v n × d and this task's ∂q block m × d, all
                    // row-major; then the block read as its transpose (n × m) against q's rows
                    // r0..r0+m (m × d) into the thread's n × d sum.
                    unsafe {
                        fuserec_gemm::sgemm(
                            m,
                            n,
                            d,
                            1.0,
                            g.as_ptr(),
                            n as isize,
                            1,
                            vs.as_ptr(),
                            d as isize,
                            1,
                            1.0,
                            dq.as_mut_ptr(),
                            d as isize,
                            1,
                        );
                        fuserec_gemm::sgemm(
                            n,
                            m,
                            d,
                            1.0,
                            g.as_ptr(),
                            1,
                            n as isize,
                            qs[r0 * d..].as_ptr(),
                            d as isize,
                            1,
                            1.0,
                            dv.as_mut_ptr(),
                            d as isize,
                            1,
                        );
                    }
                    dv
                },
            )
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            });
        let gv = grads.get_or_alloc_mut(&vg)?;
        if let Some(dv) = dv {
            gv.iter_mut().zip(&dv).for_each(|(x, y)| *x += y);
        }
        Ok(())
    });
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{device, leaf};

    /// The fused op against the same loss composed from dfdx's own ops (product, scale, shift,
    /// mask, log-softmax, pick), value and gradients of both inputs, with duplicates and extra
    /// columns, on more rows than one block.
    #[test]
    fn matches_the_composed_loss_and_its_gradients() {
        let dev = device(0);
        let (b, n, d) = (70, 90, 5);
        let q: Vec<f32> = (0..b * d).map(|k| ((k * 7 % 11) as f32 - 5.0) * 0.13).collect();
        let v: Vec<f32> = (0..n * d).map(|k| ((k * 5 % 13) as f32 - 6.0) * 0.11).collect();
        let items: Vec<u32> = (0..n as u32).map(|j| if j % 9 == 4 { 3 } else { j }).collect();
        let lq: Vec<f32> = (0..n).map(|j| -1.0 - (j % 4) as f32 * 0.5).collect();
        let scale = 2.5;
        let (tq, vq) = leaf(&dev, q.clone(), b, d);
        let (tv, vv) = leaf(&dev, v.clone(), n, d);
        let fused = dot_softmax_xent(vq, vv, scale, Some(&lq), &items);
        let got = fused.retaped::<NoneTape>().array();
        let g = fused.backward();
        let (gq, gv) = (g.get(&tq).as_vec(), g.get(&tv).as_vec());
        // Reference: mask as an additive −1e9 (the same softmax up to e^−1e9).
        let mut add = vec![0f32; b * n];
        for i in 0..b {
            for j in 0..n {
                add[i * n + j] = -lq[j] + if j != i && items[j] == items[i] { -1e9 } else { 0.0 };
            }
        }
        let (tq2, vq2) = leaf(&dev, q, b, d);
        let (tv2, vv2) = leaf(&dev, v, n, d);
        let logits = vq2.matmul(vv2.permute::<_, Axes2<1, 0>>()) * scale + dev.tensor_from_vec(add, (b, n));
        let logp = logits.log_softmax::<Axis<1>>();
        let pick: Vec<f32> = (0..b * n).map(|k| if k / n == k % n { -1.0 / b as f32 } else { 0.0 }).collect();
        let want = (logp * dev.tensor_from_vec(pick, (b, n))).sum::<(), _>();
        let w = want.retaped::<NoneTape>().array();
        assert!((got - w).abs() < 1e-5 * w.abs().max(1.0), "loss {got} vs {w}");
        let g2 = want.backward();
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5 + 1e-4 * y.abs());
        assert!(close(&gq, &g2.get(&tq2).as_vec()), "∂q differs");
        assert!(close(&gv, &g2.get(&tv2).as_vec()), "∂v differs");
    }

    /// Hand case: q = v = e1, e2, scale 1, no correction → each row −log(e/(e+1)); one item in
    /// both columns → nothing left to contrast, loss 0.
    #[test]
    fn hand_values() {
        let dev = device(0);
        let (q, _) = leaf(&dev, vec![1.0, 0.0, 0.0, 1.0], 2, 2);
        let l = dot_softmax_xent(q.leaky_trace(), q.leaky_trace(), 1.0, None, &[0, 1]).retaped::<NoneTape>().array();
        assert!((l + (1f32.exp() / (1f32.exp() + 1.0)).ln()).abs() < 1e-6);
        let l = dot_softmax_xent(q.leaky_trace(), q.leaky_trace(), 1.0, None, &[4, 4]).retaped::<NoneTape>().array();
        assert!(l.abs() < 1e-6);
    }
}
