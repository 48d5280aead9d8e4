//! The classic peers' fits at MovieLens-100K size (943 users, 1,682 items, ~45k positives with a
//! popularity skew): EASE's closed form (Gram matrix + f64 Cholesky inverse, faer) and one BPR /
//! VBPR epoch on the sparse tables (VBPR over 1,664-d content, as MiniLM + EfficientNet-Lite0).
//! Beside them, the two-tower item–item channel's borrowing (the same catalogue, one item in
//! five without training positives): every such item's row from its content neighbours (once
//! per fit), and one new item's row as serving computes it at ingestion.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
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

fn borrowing(c: &mut Criterion) {
    use fuserec::two_tower::item_item::{borrow_columns, borrowed_row};
    let mut r = Rng::new(7);
    let columns = Embeddings::from_vec(ITEMS, ITEMS, (0..ITEMS * ITEMS).map(|_| r.normal() as f32 * 0.01).collect()).unwrap();
    let mut content = Embeddings::from_vec(ITEMS, 1_664, (0..ITEMS * 1_664).map(|_| r.normal() as f32).collect()).unwrap();
    content.l2_normalize();
    let has: Vec<bool> = (0..ITEMS).map(|i| i % 5 != 0).collect();
    let warm: Vec<usize> = (0..ITEMS).filter(|&i| has[i]).collect();
    let mut g = c.benchmark_group("item_item");
    g.sample_size(10);
    g.bench_function("borrow_columns_1682_items_1664d", |b| {
        b.iter_batched(|| columns.clone(), |mut cols| black_box(borrow_columns(&mut cols, &has, &content).unwrap()), BatchSize::LargeInput)
    });
    // As serving does it: one blocked product against the catalogue, then the mix.
    let new_item = Embeddings::from_vec(1, 1_664, content.row(0).to_vec()).unwrap();
    g.bench_function("borrowed_row_new_item_1682_items_1664d", |b| {
        b.iter(|| {
            let mut all = vec![0f32; ITEMS];
            fuserec::index::inner_products(&new_item, &content, &mut all).unwrap();
            let sims: Vec<f32> = warm.iter().map(|&i| all[i]).collect();
            black_box(borrowed_row(&sims, &warm, &columns))
        })
    });
    g.finish();
}

criterion_group!(benches, peers, borrowing);
criterion_main!(benches);
