//! Metric computation: ranking metrics for 10k users (K = 10/20/50), bootstrap CIs, AUC and
//! GAUC over 1M impressions, exposure Gini.

use criterion::{Criterion, criterion_group, criterion_main};
use fuserec::core::Rng;
use fuserec::eval::{STANDARD_METRICS, auc, bootstrap_ci, evaluate_ranking, exposure_gini_at_k, gauc};
use std::hint::black_box;

fn inputs(users: usize, items: usize) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let mut r = Rng::new(5);
    let lists = (0..users).map(|_| (0..50).map(|_| r.below(items) as u32).collect()).collect();
    let truth = (0..users)
        .map(|_| {
            let mut t: Vec<u32> = (0..10).map(|_| r.below(items) as u32).collect();
            t.sort_unstable();
            t.dedup();
            t
        })
        .collect();
    (lists, truth)
}

fn metrics(c: &mut Criterion) {
    let (lists, truth) = inputs(10_000, 2_000);
    c.bench_function("ranking_metrics_10k_users_3k", |b| {
        b.iter(|| black_box(evaluate_ranking(STANDARD_METRICS, &[10, 20, 50], &lists, &truth, 0, 1).unwrap()))
    });
    let vals: Vec<f64> = (0..10_000).map(|i| (i % 7) as f64 / 7.0).collect();
    c.bench_function("bootstrap_10k_users_200", |b| b.iter(|| black_box(bootstrap_ci(&vals, 200, 1))));
    let cand = vec![true; 2_000];
    c.bench_function("exposure_gini_10k_users", |b| b.iter(|| black_box(exposure_gini_at_k(&lists, 50, &cand))));
    let mut r = Rng::new(9);
    let n = 1_000_000;
    let users: Vec<u32> = (0..n).map(|_| r.below(20_000) as u32).collect();
    let labels: Vec<bool> = (0..n).map(|_| r.bernoulli(0.1)).collect();
    let scores: Vec<f32> = labels.iter().map(|&l| r.uniform() as f32 + if l { 0.3 } else { 0.0 }).collect();
    let mut g = c.benchmark_group("auc");
    g.sample_size(10);
    g.bench_function("auc_1m", |b| b.iter(|| black_box(auc(&labels, &scores))));
    g.bench_function("gauc_1m_20k_users", |b| b.iter(|| black_box(gauc(&users, &labels, &scores))));
    g.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);
