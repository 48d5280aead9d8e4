//! SimTier features per second (one feature = one target's 20-tier histogram) for behaviour
//! sequences of 100 and 1,000 items, 64-d vectors, 1,024 targets per call.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fuserec::towers::ctr::{TierMode, simtier_batch};

fn simtier(c: &mut Criterion) {
    let (b, d) = (1024usize, 64usize);
    let mut g = c.benchmark_group("simtier_20_tiers");
    g.sample_size(20);
    g.throughput(Throughput::Elements(b as u64));
    for len in [100usize, 1000] {
        let targets = fuserec_benches::gaussian(b, d, 1).into_vec();
        let beh = fuserec_benches::gaussian(b * len, d, 2).into_vec();
        let mask: Vec<f32> = (0..b * len).map(|k| if k % len < len * 9 / 10 { 1.0 } else { 0.0 }).collect();
        g.bench_with_input(BenchmarkId::new("sequence", len), &len, |bch, _| {
            bch.iter(|| simtier_batch(&targets, &beh, &mask, d, 20, TierMode::Log1p).expect("simtier").len())
        });
    }
    g.finish();
}

criterion_group!(benches, simtier);
criterion_main!(benches);
