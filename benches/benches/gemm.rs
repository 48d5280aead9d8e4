//! fuserec-gemm (faer's run-time dispatched kernels) against matrixmultiply at the shapes the hot
//! paths multiply, one thread each (callers parallelise over their own blocks).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

type Sgemm = unsafe fn(usize, usize, usize, f32, *const f32, isize, isize, *const f32, isize, isize, f32, *mut f32, isize, isize);

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("sgemm_one_thread");
    // (label, m, k, n): exact top-K block, k-means assignment block, MiniLM feed-forward.
    for (label, m, k, n) in
        [("topk_64x64x2048", 64, 64, 2048), ("kmeans_4096x64x1024", 4096, 64, 1024), ("minilm_ffn_384x384x1536", 384, 384, 1536)]
    {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
        let mut out = vec![0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let kernels: [(&str, Sgemm); 2] = [("fuserec_gemm", fuserec_gemm::sgemm), ("matrixmultiply", matrixmultiply::sgemm)];
        for (name, f) in kernels {
            g.bench_function(format!("{label}/{name}"), |bch| {
                // SAFETY: a is m × k, b k × n, out m × n, row-major and disjoint.
                bch.iter(|| unsafe {
                    f(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), n as isize, 1, 0.0, out.as_mut_ptr(), n as isize, 1)
                });
                black_box(&out);
            });
        }
    }
    g.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);
