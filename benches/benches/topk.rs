//! Exact top-K ranking: blocked sgemm + bounded heaps, 1024 queries × 64 dims, against 10k and
//! 1M items; plus the naive score-everything-and-sort reference at 10k for the ratio.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fuserec::core::dot;
use fuserec::index::{Candidates, ExactIndex, rank_dense};
use fuserec_benches::gaussian;
use std::hint::black_box;
use std::time::Duration;

const Q: usize = 1024;
const D: usize = 64;
const K: usize = 100;

fn exact(c: &mut Criterion) {
    let queries = gaussian(Q, D, 1);
    let mut g = c.benchmark_group("exact_topk");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    for n in [10_000usize, 1_000_000] {
        let index = ExactIndex::new(gaussian(n, D, 2));
        g.throughput(Throughput::Elements((Q * n) as u64));
        g.measurement_time(Duration::from_secs(if n > 100_000 { 30 } else { 5 }));
        g.bench_with_input(BenchmarkId::new("sgemm_heap", n), &n, |b, _| {
            b.iter(|| black_box(index.search_candidates(&queries, K, Candidates::default()).unwrap()))
        });
    }
    let n = 10_000;
    let items = gaussian(n, D, 2);
    g.throughput(Throughput::Elements((Q * n) as u64));
    g.bench_function(BenchmarkId::new("naive_dot_sort", n), |b| {
        b.iter(|| {
            let out: Vec<Vec<u32>> = (0..Q)
                .map(|q| {
                    let mut s: Vec<(u32, f32)> = (0..n).map(|i| (i as u32, dot(queries.row(q), items.row(i)))).collect();
                    s.sort_by(|a, b| b.1.total_cmp(&a.1));
                    s.truncate(K);
                    s.into_iter().map(|x| x.0).collect()
                })
                .collect();
            black_box(out)
        })
    });
    let scores = gaussian(Q, n, 3).into_vec();
    g.bench_function(BenchmarkId::new("rank_dense", n), |b| {
        b.iter_batched_ref(
            || scores.clone(),
            |s| black_box(rank_dense(s, n, K, Candidates::default()).unwrap()),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, exact);
criterion_main!(benches);
