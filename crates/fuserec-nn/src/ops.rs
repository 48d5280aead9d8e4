//! Small taped helpers dfdx does not name.

use crate::{Dev, T2, Tape, V1, V2};
use dfdx::prelude::*;

/// A leaf of the graph from host values; keep the returned untaped twin to read its gradient
/// after backward (`grads.get(&twin)`), e.g. to scatter it into a [`crate::SparseEmbedding`].
pub fn leaf(dev: &Dev, values: Vec<f32>, rows: usize, cols: usize) -> (T2, V2) {
    let t = dev.tensor_from_vec(values, (rows, cols));
    let v = t.leaky_trace();
    (t, v)
}

/// Row-wise L2 normalisation, `x / sqrt(‖x‖² + eps)`; gradients flow through the norm.
pub fn l2_normalize_rows(x: V2, eps: f32) -> V2 {
    let shape = *x.shape();
    let (x, tape) = x.split_tape();
    let norm = x.clone().put_tape(tape).square().sum::<(usize,), Axis<1>>() + eps;
    let norm = norm.sqrt().broadcast_like::<_, Axis<1>>(&shape);
    x.retaped::<Tape>() / norm
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
