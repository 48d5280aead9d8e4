//! Quantisation: one k-means iteration (assign by blocked sgemm + update) on 1M × 64 with
//! k = 1024, and fitting a b = 16, depth 3 tree on 100k × 384.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fuserec::core::Embeddings;
use fuserec::quant::{HierarchicalKMeans, KMeans, TreeConfig};
use fuserec_benches::gaussian;
use std::hint::black_box;
use std::time::Duration;

fn first_rows(x: &Embeddings, k: usize) -> Embeddings {
    Embeddings::from_vec(k, x.dim(), x.as_slice()[..k * x.dim()].to_vec()).unwrap()
}

fn quant(c: &mut Criterion) {
    let mut g = c.benchmark_group("quant");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    let x = gaussian(1_000_000, 64, 1);
    let init = first_rows(&x, 1024);
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("kmeans_iteration_1m_64_k1024", |b| {
        b.iter_batched_ref(|| init.clone(), |c| black_box(KMeans::iteration(&x, c)), criterion::BatchSize::LargeInput)
    });
    drop(x);
    let y = gaussian(100_000, 384, 2);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("tree_fit_100k_384_b16_d3", |b| {
        b.iter(|| black_box(HierarchicalKMeans::fit(&y, &TreeConfig { branching: 16, depth: 3, seed: 1, max_iter: 10 }).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, quant);
criterion_main!(benches);
