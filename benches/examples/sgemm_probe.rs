//! Probe: f32 GEMM rates of matrixmultiply (what the hot paths call today) and faer's matmul
//! (runtime-dispatched AVX-512 / AVX2 kernels) at the shapes fuserec multiplies.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::time::Instant;

fn mm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    // c[m×n] = a[m×k] · b[k×n], row-major.
    unsafe {
        matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), n as isize, 1, 0.0, c.as_mut_ptr(), n as isize, 1);
    }
}

fn fa(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], par: Par) {
    let a = MatRef::from_row_major_slice(a, m, k);
    let b = MatRef::from_row_major_slice(b, k, n);
    let c = MatMut::from_row_major_slice_mut(c, m, n);
    matmul(c, Accum::Replace, a, b, 1.0f32, par);
}

fn rate(flops: f64, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    flops / best / 1e9
}

fn main() {
    concurrent();
    let threads = rayon::current_num_threads();
    for &(m, k, n) in &[
        (1024, 1024, 1024),
        (4096, 64, 1024),
        (64, 64, 2048),
        (256, 384, 1536),
        (768, 384, 1152),
        (768, 1536, 384),
        (16, 32, 12544),
        (96, 16, 12544),
        (24, 96, 3136),
        (144, 24, 3136),
        (40, 144, 784),
        (240, 40, 784),
        (480, 80, 196),
        (672, 112, 196),
        (1152, 192, 49),
        (1280, 320, 49),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
        let (mut c1, mut c2) = (vec![0f32; m * n], vec![0f32; m * n]);
        let flops = 2.0 * (m * k * n) as f64;
        let r_mm = rate(flops, || mm(m, k, n, &a, &b, &mut c1));
        let r_f1 = rate(flops, || fa(m, k, n, &a, &b, &mut c2, Par::Seq));
        let r_fp = rate(flops, || fa(m, k, n, &a, &b, &mut c2, Par::rayon(threads)));
        let err = c1.iter().zip(&c2).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        println!(
            "{m:>5}×{k:>4}×{n:>5}: matrixmultiply 1 thread {r_mm:6.1} | faer 1 thread {r_f1:6.1} | faer {threads} threads {r_fp:6.1} GFLOP/s (max |Δ| {err:.1e})"
        );
    }
}

/// EfficientNet's pattern: two threads, each running its own single-threaded products with
/// `beta = 1` (bias pre-filled), matrixmultiply against fuserec-gemm.
fn concurrent() {
    use rayon::prelude::*;
    let shapes = [(96usize, 16usize, 12544usize), (24, 96, 3136), (144, 24, 3136), (240, 40, 784), (672, 112, 196), (1280, 320, 49)];
    for &(m, k, n) in &shapes {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
        let flops = 2.0 * (m * k * n) as f64 * 32.0;
        // Both crates take the same strided signature: one call site, either kernel.
        type Sgemm = unsafe fn(usize, usize, usize, f32, *const f32, isize, isize, *const f32, isize, isize, f32, *mut f32, isize, isize);
        let run = |sgemm: Sgemm| {
            rate(flops, || {
                (0..32).into_par_iter().for_each(|_| {
                    let mut c = vec![0.5f32; m * n];
                    // SAFETY: a is m × k, b k × n, c m × n, row-major and disjoint.
                    unsafe {
                        sgemm(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), n as isize, 1, 1.0, c.as_mut_ptr(), n as isize, 1)
                    };
                    std::hint::black_box(&c);
                })
            })
        };
        println!(
            "concurrent {m:>5}×{k:>4}×{n:>5}: matrixmultiply {:6.1} | fuserec-gemm {:6.1} GFLOP/s",
            run(matrixmultiply::sgemm),
            run(fuserec_gemm::sgemm)
        );
    }
}
