//! One CTR training step (batch 256, behaviour sequences of 50 with ~20% padding, 16-d id rows,
//! 64-d multimodal vectors, MLP 128-64, 20k items, 200 distinct batches cycled) for DIN and each multimodal variant, and the
//! MAKE joint step (fine-tuned and frozen). Throughput in examples.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fuserec::core::Rng;
use fuserec::nn::{AdamConfig, DenseAdam, RowOptimizer, SparseEmbedding, device};
use fuserec::towers::ctr::{CtrBatch, CtrShape, Din, ItemVectors, Make, MakeMode, Sides, SimTierSide, TierMode, make_step, train_step};

const ITEMS: usize = 20_000;
const B: usize = 256;
const L: usize = 50;

/// Labels follow an item effect (learnable from ids) and the content (a click is more likely when
/// the target resembles the history), so every model learns something: with labels it cannot
/// learn, a network collapses towards the base rate and the step time then measures denormal
/// arithmetic (measured: 2× slower steps) instead of training.
fn batches(n: usize, vectors: &ItemVectors) -> Vec<CtrBatch> {
    let mut rng = Rng::new(3);
    (0..n)
        .map(|_| {
            let mut b = CtrBatch { len: L, ..Default::default() };
            for _ in 0..B {
                b.targets.push(rng.below(ITEMS) as u32);
                let real = L - rng.below(L / 5);
                for k in 0..L {
                    b.behaviours.push(rng.below(ITEMS) as u32);
                    b.mask.push(if k < real { 1.0 } else { 0.0 });
                }
            }
            let cos = vectors.cosines(&b);
            for r in 0..B {
                let m = cos[r * L..(r + 1) * L].iter().fold(f32::MIN, |a, &c| a.max(c));
                let item = ((b.targets[r] as u64 * 2_654_435_761) % 1000) as f32 / 500.0 - 1.0;
                let p = 1.0 / (1.0 + (-(6.0 * m - 2.5 + 1.5 * item)).exp());
                b.labels.push(if (rng.uniform() as f32) < p { 1.0 } else { 0.0 });
            }
            b
        })
        .collect()
}

fn ctr_step(c: &mut Criterion) {
    // As in `cargo xtask experiment` (see `retain_freed_memory`).
    assert!(fuserec::nn::retain_freed_memory());
    let dev = device(0);
    let mut vecs = fuserec_benches::gaussian(ITEMS, 64, 5);
    vecs.l2_normalize();
    let vectors = ItemVectors::new(vecs.into_vec(), 64).expect("vectors");
    let data = batches(200, &vectors);
    let mut g = c.benchmark_group("ctr_train_step");
    g.sample_size(10);
    g.throughput(Throughput::Elements(B as u64));
    let tier = SimTierSide { tiers: 20, mode: TierMode::Log1p, learn_scale: true };
    let shape = CtrShape { attention_hidden: 32, hidden: vec![128, 64] };
    let make = Make::new(&dev, vectors.clone(), 16, &shape, &mut Rng::new(2)).expect("make");
    let variants = [
        ("din", Sides::default()),
        ("vector", Sides { vector: true, ..Default::default() }),
        ("simscore", Sides { simscore: true, ..Default::default() }),
        ("simtier", Sides { simtier: Some(tier), ..Default::default() }),
        ("make-joint", Sides { make: true, ..Default::default() }),
        ("make-frozen", Sides { make: true, ..Default::default() }),
        ("simtier+make", Sides { make: true, simtier: Some(tier), ..Default::default() }),
    ];
    for (name, sides) in variants {
        let mut rng = Rng::new(1);
        let items = SparseEmbedding::new("items", ITEMS, 16, 0.01, RowOptimizer::adam(0.01), &mut rng).expect("table");
        let mut din = Din::new(&dev, items, Some(vectors.clone()), sides, &shape, sides.make.then_some(&make), &mut rng).expect("din");
        let mut opt = DenseAdam::new(AdamConfig::new(0.001));
        let mut mk = make.clone();
        let mut mopt = DenseAdam::new(AdamConfig::new(0.001));
        let mut k = 0;
        g.bench_with_input(BenchmarkId::new("step", name), &name, |bch, _| {
            bch.iter(|| {
                k += 1;
                let b = &data[k % data.len()];
                let mode = match name {
                    "din" | "vector" | "simscore" | "simtier" => MakeMode::None,
                    "make-frozen" => MakeMode::Frozen(&mk),
                    _ => MakeMode::FineTune(&mut mk, &mut mopt),
                };
                train_step(&dev, &mut din, &mut opt, b, mode).expect("step")
            })
        });
    }
    let mut mk = make.clone();
    let mut mopt = DenseAdam::new(AdamConfig::new(0.001));
    let mut k = 0;
    g.bench_function(BenchmarkId::new("step", "make-pretrain"), |bch| {
        bch.iter(|| {
            k += 1;
            make_step(&dev, &mut mk, &mut mopt, &data[k % data.len()]).expect("step")
        })
    });
    g.finish();
}

criterion_group!(benches, ctr_step);
criterion_main!(benches);
