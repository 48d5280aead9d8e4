#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// `C = α·A·B + β·C` for an `m × k` matrix `A`, a `k × n` matrix `B` and an `m × n` matrix `C`,
/// each given by a pointer and its row and column strides (in elements), as
/// `matrixmultiply::sgemm` takes them. `β` must be 0 (overwrite: `C` may hold anything, even
/// NaN) or 1 (accumulate).
///
/// # Safety
/// Every element the strides address must lie inside its allocation; `C` must not overlap `A`
/// or `B`, and no two index pairs of `C` may address the same element.
///
/// # Panics
/// When `β` is neither 0 nor 1.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: forwarded unchanged; the caller upholds this function's contract.
    unsafe { product(Par::Seq, m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
}

/// [`sgemm`] on every thread of rayon's pool: faer splits `C` into tiles for the threads. For
/// one large product on a path with nothing else to run in parallel (a training step's batch
/// products); callers already inside a parallel loop want [`sgemm`].
///
/// # Safety
/// As for [`sgemm`].
///
/// # Panics
/// As for [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_parallel(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: forwarded unchanged; the caller upholds this function's contract.
    unsafe { product(Par::rayon(0), m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
}

#[allow(clippy::too_many_arguments)]
unsafe fn product(
    par: Par,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    let accum = if beta == 0.0 {
        Accum::Replace
    } else if beta == 1.0 {
        Accum::Add
    } else {
        panic!("fuserec_gemm::sgemm: beta must be 0 or 1, got {beta}");
    };
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the caller guarantees that the strides address elements inside the allocations
    // and that `c` is disjoint from `a` and `b`.
    let (a, b, c) = unsafe {
        (
            MatRef::from_raw_parts(a, m, k, rsa, csa),
            MatRef::from_raw_parts(b, k, n, rsb, csb),
            MatMut::from_raw_parts_mut(c, m, n, rsc, csc),
        )
    };
    matmul(c, accum, a, b, alpha, par);
}

/// `c (m × n) = a (m × k) · b (k × n)`, all row-major slices. Panics when a length does not fit.
pub fn matmul_row_major(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n, "matmul_row_major: {m}×{k} · {k}×{n} into {}", c.len());
    // SAFETY: the lengths were just checked against the row-major strides; `c` is a unique borrow.
    unsafe { sgemm(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), n as isize, 1, 0.0, c.as_mut_ptr(), n as isize, 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7 + seed * 13) % 17) as f32 / 8.0 - 1.0).collect()
    }

    /// Shapes around the kernels' register tiles (1, 7, 16, 17, 33) and wider ones, against the
    /// triple loop; transposed operands through the strides; overwrite ignores NaN in `c`.
    #[test]
    fn matches_the_triple_loop_for_any_shape_and_layout() {
        for &(m, k, n) in &[(1, 1, 1), (7, 3, 5), (16, 16, 16), (17, 33, 9), (64, 64, 300), (130, 7, 33)] {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let want = naive(m, k, n, &a, &b);
            let mut c = vec![f32::NAN; m * n];
            matmul_row_major(m, k, n, &a, &b, &mut c);
            assert!(c.iter().zip(&want).all(|(x, y)| (x - y).abs() <= 1e-4 * y.abs().max(1.0)), "{m}×{k}×{n}");
            // B stored transposed (n × k row-major), read through its strides; accumulate twice.
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let mut acc = want.clone();
            unsafe { sgemm(m, k, n, 2.0, a.as_ptr(), k as isize, 1, bt.as_ptr(), 1, k as isize, 1.0, acc.as_mut_ptr(), n as isize, 1) };
            assert!(acc.iter().zip(&want).all(|(x, y)| (x - 3.0 * y).abs() <= 1e-4 * y.abs().max(1.0)), "{m}×{k}×{n} transposed");
        }
    }

    /// The threaded product gives the triple loop's values on a shape large enough to be split.
    #[test]
    fn parallel_product_matches_the_triple_loop() {
        let (m, k, n) = (301, 67, 517);
        let (a, b) = (values(m * k, 3), values(k * n, 4));
        let want = naive(m, k, n, &a, &b);
        let mut c = vec![1f32; m * n];
        unsafe { sgemm_parallel(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), n as isize, 1, 1.0, c.as_mut_ptr(), n as isize, 1) };
        assert!(c.iter().zip(&want).all(|(x, y)| (x - 1.0 - y).abs() <= 1e-4 * y.abs().max(1.0)));
    }

    #[test]
    #[should_panic(expected = "beta must be 0 or 1")]
    fn other_betas_are_refused() {
        let mut c = [0f32; 1];
        unsafe { sgemm(1, 1, 1, 1.0, [1.0f32].as_ptr(), 1, 1, [1.0f32].as_ptr(), 1, 1, 0.5, c.as_mut_ptr(), 1, 1) };
    }
}
