//! The classic peers' fits at MovieLens-100K size (943 users, 1,682 items, ~45k positives with a
//! popularity skew): EASE's closed form (Gram matrix + f64 Cholesky inverse, faer) and one BPR /
//! VBPR epoch on the sparse tables (VBPR over 1,664-d content, as MiniLM + EfficientNet-Lite0).

use criterion::{Criterion, criterion_group, criterion_main};
use fuserec::TrainData;
use fuserec::baselines::{Bpr, BprConfig, Ease};
use fuserec::core::{Embeddings, Interaction, ItemId, Rng, UserId};
use std::hint::black_box;

const USERS: usize = 943;
const ITEMS: usize = 1_682;

fn log() -> Vec<Interaction> {
    let mut r = Rng::new(3);
    // Zipf-like item popularity: item i drawn with weight 1/(i+10).
    let w: Vec<f64> = (0..ITEMS).map(|i| 1.0 / (i as f64 + 10.0)).collect();
    let mut cum = Vec::with_capacity(ITEMS);
    let mut s = 0.0;
    w.iter().for_each(|x| {
        s += x;
        cum.push(s);
    });
    (0..USERS as u32)
        .flat_map(|u| {
            let n = 10 + r.below(90);
            (0..n)
                .map(|_| Interaction { user: UserId(u), item: ItemId(r.pick_cumulative(&cum) as u32), ts: 0, label: 1.0, weight: 1.0 })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn peers(c: &mut Criterion) {
    let train = log();
    let data = TrainData::new(USERS, ITEMS, &train, &[], None);
    let mut g = c.benchmark_group("peers");
    g.sample_size(10);
    g.bench_function("ease_fit_1682_items", |b| b.iter(|| black_box(Ease::fit(&data, 500.0).unwrap())));
    // One epoch, no validation (no validation interactions): the per-epoch cost of training.
    let one: BprConfig = toml::from_str("epochs = 1").unwrap();
    g.bench_function("bpr_epoch_k64", |b| b.iter(|| black_box(Bpr::fit(&one, &data, None, 1).unwrap())));
    let mut r = Rng::new(5);
    let f = Embeddings::from_vec(ITEMS, 1_664, (0..ITEMS * 1_664).map(|_| r.normal() as f32 * 0.025).collect()).unwrap();
    g.bench_function("vbpr_epoch_k64_1664d", |b| b.iter(|| black_box(Bpr::fit(&one, &data, Some(f.clone()), 1).unwrap())));
    g.finish();
}

criterion_group!(benches, peers);
criterion_main!(benches);
