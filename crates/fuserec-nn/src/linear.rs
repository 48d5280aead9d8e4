//! `y = x·W + b` as one taped op on fuserec-gemm.

use crate::{T1, T2, V2, to_vec};
use dfdx::prelude::*;

/// `x (m × k) · w (k × n) + b (n)`, taped: backward adds `∂y·wᵀ` to `x`'s gradient, `xᵀ·∂y` to
/// `w`'s and the column sums of `∂y` to `b`'s. dfdx's matmul runs the `gemm` crate's AVX2 kernels
/// and a separate pass (and buffer) for the bias, forward and backward; fuserec-gemm picks
/// AVX-512 where the CPU has it. `x` must hold its rows contiguously (an op's output, not a
/// permuted view).
pub fn linear(x: V2, w: &T2, b: &T1) -> V2 {
    let (m, k) = *x.shape();
    let n = w.shape().1;
    assert!(w.shape().0 == k && b.shape().0 == n, "linear: {m} × {k} input, {:?} weights, {:?} bias", w.shape(), b.shape());
    let (x, mut tape) = x.split_tape();
    let (xs, ws, bs) = (to_vec(&x), to_vec(w), to_vec(b));
    // Every row starts as the bias; the product adds to it.
    let mut y = bs.repeat(m);
    // SAFETY: x m × k, w k × n and y m × n, all row-major in buffers of exactly those sizes.
    unsafe {
        fuserec_gemm::sgemm_parallel(
            m,
            k,
            n,
            1.0,
            xs.as_ptr(),
            k as isize,
            1,
            ws.as_ptr(),
            n as isize,
            1,
            1.0,
            y.as_mut_ptr(),
            n as isize,
            1,
        )
    };
    let out = x.device().tensor_from_vec(y, (m, n));
    let (xg, wg, bg, og) = (x.ghost(), w.ghost(), b.ghost(), out.ghost());
    tape.add_backward_op(move |grads| {
        grads.try_alloc_for(&og)?;
        let gy = to_vec(&grads.get(&og));
        let gx = grads.get_or_alloc_mut(&xg)?;
        // SAFETY: ∂y m × n, w read as its transpose (n × k), ∂x m × k.
        unsafe {
            fuserec_gemm::sgemm_parallel(
                m,
                n,
                k,
                1.0,
                gy.as_ptr(),
                n as isize,
                1,
                ws.as_ptr(),
                1,
                n as isize,
                1.0,
                gx.as_mut_ptr(),
                k as isize,
                1,
            )
        };
        let gw = grads.get_or_alloc_mut(&wg)?;
        // SAFETY: x read as its transpose (k × m), ∂y m × n, ∂w k × n.
        unsafe {
            fuserec_gemm::sgemm_parallel(
                k,
                m,
                n,
                1.0,
                xs.as_ptr(),
                1,
                k as isize,
                gy.as_ptr(),
                n as isize,
                1,
                1.0,
                gw.as_mut_ptr(),
                n as isize,
                1,
            )
        };
        let gb = grads.get_or_alloc_mut(&bg)?;
        for row in gy.chunks_exact(n) {
            gb.iter_mut().zip(row).for_each(|(g, v)| *g += v);
        }
        Ok(())
    });
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{device, leaf};

    /// Value and all three gradients against dfdx's own matmul + broadcast bias, under a loss
    /// that weighs every output differently.
    #[test]
    fn matches_dfdx_matmul_and_bias() {
        let dev = device(0);
        let (m, k, n) = (37, 9, 21);
        let xv: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.1).collect();
        let wv: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.07).collect();
        let bv: Vec<f32> = (0..n).map(|i| i as f32 * 0.03 - 0.2).collect();
        let weights: Vec<f32> = (0..m * n).map(|i| ((i * 3 % 17) as f32 - 8.0) * 0.05).collect();
        let run = |ours: bool| {
            let (tx, vx) = leaf(&dev, xv.clone(), m, k);
            let w: T2 = dev.tensor_from_vec(wv.clone(), (k, n));
            let b: T1 = dev.tensor_from_vec(bv.clone(), (n,));
            let y = if ours {
                linear(vx, &w, &b)
            } else {
                let y = vx.matmul(w.retaped::<crate::Tape>());
                let bb = b.retaped::<crate::Tape>().broadcast_like::<_, Axis<0>>(&y);
                y + bb
            };
            let value = y.retaped::<NoneTape>().as_vec();
            let g = (y * dev.tensor_from_vec(weights.clone(), (m, n))).sum::<(), _>().backward();
            (value, g.get(&tx).as_vec(), g.get(&w).as_vec(), g.get(&b).as_vec())
        };
        let (a, b) = (run(true), run(false));
        let close = |p: &[f32], q: &[f32]| p.len() == q.len() && p.iter().zip(q).all(|(x, y)| (x - y).abs() < 1e-5 + 1e-5 * y.abs());
        assert!(close(&a.0, &b.0), "values");
        assert!(close(&a.1, &b.1), "∂x");
        assert!(close(&a.2, &b.2), "∂w");
        assert!(close(&a.3, &b.3), "∂b");
    }
}
