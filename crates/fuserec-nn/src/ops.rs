//! Small taped helpers dfdx does not name.

use crate::{Dev, T2, Tape, V1, V2};
use dfdx::prelude::*;
use dfdx::tensor::Tape as _;

/// A leaf of the graph from host values; keep the returned untaped twin to read its gradient
/// after backward (`grads.get(&twin)`), e.g. to scatter it into a [`crate::SparseEmbedding`].
pub fn leaf(dev: &Dev, values: Vec<f32>, rows: usize, cols: usize) -> (T2, V2) {
    let t = dev.tensor_from_vec(values, (rows, cols));
    let v = t.leaky_trace();
    (t, v)
}

/// Row-wise L2 normalisation, `y = x / sqrt(‖x‖² + eps)`; gradients flow through the norm:
/// `∂x = (∂y − y·(∂y·y)) / sqrt(‖x‖² + eps)`. One op with one pass each way (composed from
/// dfdx's square, sum, sqrt, broadcast and divide it was ten passes, each with a buffer).
pub fn l2_normalize_rows(x: V2, eps: f32) -> V2 {
    let (rows, d) = *x.shape();
    let (x, mut tape) = x.split_tape();
    let mut y = to_vec(&x);
    let inv: Vec<f32> = y.chunks_exact_mut(d.max(1)).map(|r| normalize_row(r, eps)).collect();
    let out = x.device().tensor_from_vec(y.clone(), (rows, d));
    let (xg, og) = (x.ghost(), out.ghost());
    tape.add_backward_op(move |grads| {
        grads.try_alloc_for(&og)?;
        let gy = to_vec(&grads.get(&og));
        let gx = grads.get_or_alloc_mut(&xg)?;
        for (((gx, gy), y), &inv) in gx.chunks_exact_mut(d.max(1)).zip(gy.chunks_exact(d.max(1))).zip(y.chunks_exact(d.max(1))).zip(&inv) {
            normalize_row_backward(gx, gy, y, inv);
        }
        Ok(())
    });
    out.put_tape(tape)
}

fuserec_core::vectorized_fn! {
    /// `r ← r / sqrt(‖r‖² + eps)`; returns the factor applied.
    fn normalize_row(r: &mut [f32], eps: f32) -> f32 {
        let inv = 1.0 / (fuserec_core::simd::dot(r, r) + eps).sqrt();
        for v in r.iter_mut() {
            *v *= inv;
        }
        inv
    }
}

fuserec_core::vectorized_fn! {
    /// `gx += (gy − y·(gy·y)) · inv` for one row.
    fn normalize_row_backward(gx: &mut [f32], gy: &[f32], y: &[f32], inv: f32) {
        let c = fuserec_core::simd::dot(gy, y);
        for ((gx, gy), y) in gx.iter_mut().zip(gy).zip(y) {
            *gx += (gy - y * c) * inv;
        }
    }
}

/// `out[i] = a[i]·b[i]`.
pub fn row_dot(a: V2, b: V2) -> V1 {
    (a * b).sum::<(usize,), Axis<1>>()
}

/// The values of a tensor that owns a contiguous buffer (a kernel's output, a gradient, a
/// parameter — not a permuted or broadcast view) as one memcpy; dfdx's `as_vec` walks a strided
/// iterator element by element. Debug builds check the layout assumption on small tensors.
pub fn to_vec<S: Shape, T>(t: &Tensor<S, f32, Dev, T>) -> Vec<f32> {
    let mut v = vec![0f32; t.shape().num_elements()];
    t.copy_into(&mut v);
    debug_assert!(v.len() > 4096 || v == t.as_vec(), "to_vec on a strided view");
    v
}

/// `N` handles to one taped value, for using it in several places: the first carries the tape,
/// the others join it when combined; gradients from every use add up on the shared id.
pub fn fork<const N: usize, S: Shape>(x: Tensor<S, f32, Dev, Tape>) -> [Tensor<S, f32, Dev, Tape>; N] {
    let (x, tape) = x.split_tape();
    let mut tape = Some(tape);
    std::array::from_fn(|_| match tape.take() {
        Some(t) => x.clone().put_tape(t),
        None => x.retaped::<Tape>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device;

    /// The fused op against the same normalisation composed from dfdx's ops, value and
    /// gradient, under a loss that weighs every output differently; a zero row stays finite.
    #[test]
    fn normalisation_matches_the_composed_ops() {
        let dev = device(0);
        let (rows, d) = (9, 21);
        let xv: Vec<f32> = (0..rows * d).map(|i| if i / d == 4 { 0.0 } else { ((i * 7 % 11) as f32 - 5.0) * 0.1 }).collect();
        let weights: Vec<f32> = (0..rows * d).map(|i| ((i * 3 % 17) as f32 - 8.0) * 0.05).collect();
        let run = |fused: bool| {
            let (t, v) = leaf(&dev, xv.clone(), rows, d);
            let y = if fused {
                l2_normalize_rows(v, 1e-12)
            } else {
                let (x, tape) = v.split_tape();
                let norm =
                    (x.clone().put_tape(tape).square().sum::<(usize,), Axis<1>>() + 1e-12).sqrt().broadcast_like::<_, Axis<1>>(&(rows, d));
                x.retaped::<Tape>() / norm
            };
            let value = y.retaped::<NoneTape>().as_vec();
            let g = (y * dev.tensor_from_vec(weights.clone(), (rows, d))).sum::<(), _>().backward();
            (value, g.get(&t).as_vec())
        };
        let (a, b) = (run(true), run(false));
        assert!(a.0.iter().zip(&b.0).all(|(x, y)| (x - y).abs() < 1e-6), "values");
        assert!(a.1.iter().zip(&b.1).all(|(x, y)| (x - y).abs() < 1e-4 * (1.0 + y.abs())), "gradients");
        // Unit rows, and the zero row maps to zero.
        for (r, row) in a.0.chunks(d).enumerate() {
            let n: f32 = row.iter().map(|v| v * v).sum();
            assert!(if r == 4 { n == 0.0 } else { (n - 1.0).abs() < 1e-5 }, "row {r}: {n}");
        }
    }
}
