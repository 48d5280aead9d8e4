//! Two-tower training: one step (batch 1024, 64-d) at id tables of 10k, 100k and 1M rows — the
//! step must cost the same whatever the table size (sparse updates) — and examples/s of a full
//! epoch on the synthetic world for the id-only and additive models; near-line learning's
//! click step on a new item's id row.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fuserec::nn::DenseAdam;
use fuserec_benches::two_tower::{BATCH, batches, config, net};

fn step(c: &mut Criterion) {
    // As `cargo xtask experiment` and `fuserec train` run (see `retain_freed_memory`).
    assert!(fuserec::nn::retain_freed_memory());
    let mut g = c.benchmark_group("two_tower_step");
    g.sample_size(20);
    g.throughput(Throughput::Elements(BATCH as u64));
    for rows in [10_000usize, 100_000, 1_000_000] {
        let bs = batches(rows, 8, 1);
        let mut n = net(rows, 1);
        let mut opt = DenseAdam::new(config().dense_optimizer);
        let mut k = 0;
        g.bench_with_input(BenchmarkId::new("id_only", rows), &rows, |b, _| {
            b.iter(|| {
                let p = n.step(&bs[k % bs.len()], &mut opt).expect("step");
                k += 1;
                p.total
            })
        });
    }
    g.finish();
}

fn epoch(c: &mut Criterion) {
    use fuserec::config::DatasetConfig;
    use fuserec::data::{SplitConfig, split};
    use fuserec::two_tower::TwoTower;
    use fuserec::{ItemFeatures, TrainData};
    let cache = fuserec::data::assets::cache_dir();
    let ds = fuserec::experiment::load_dataset(&DatasetConfig::Synthetic { seed: 7, scale: 1.0 }, &cache).expect("synthetic world");
    let sp = split(&ds, &SplitConfig::default(), 1).expect("split");
    let text = fuserec::features::text_encoder("hashed-ngram", &cache).expect("text");
    let image = fuserec::features::image_encoder("color-hist").expect("image");
    let f = ItemFeatures::encode(&ds, Some(text.as_ref()), Some(image.as_ref())).expect("features");
    let data = TrainData::new(ds.n_users(), ds.n_items(), &sp.train, &sp.val, Some(&f));
    let n = sp.train.iter().filter(|x| x.is_positive()).count();
    let mut g = c.benchmark_group("two_tower_epoch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for fusion in ["id-only", "additive"] {
        let cfg: fuserec::two_tower::TwoTowerConfig =
            toml::from_str(&format!("fusion = \"{fusion}\"\nepochs = 1\nval_users = 0")).expect("cfg");
        g.bench_function(BenchmarkId::new("synthetic", fusion), |b| {
            b.iter(|| TwoTower::fit(&cfg, &data, Some(&f), 1, None).expect("fit").log().train_samples)
        });
    }
    g.finish();
}

/// Near-line learning (`POST /events`): one click on a new item — the gradient of the training
/// loss with respect to its id row through the default additive model (content 1,122 wide, as
/// MiniLM + EfficientNet-Lite0 give, 64-d towers), against 256 negatives, plus the row
/// optimiser's step — and the refreshed item vector after it.
fn nearline_click(c: &mut Criterion) {
    use fuserec::towers::ContentInput;
    use fuserec::two_tower::{Net, TwoTowerConfig};
    use std::sync::Arc;
    let (items, width) = (1_000usize, 1_122usize);
    let rows = fuserec_benches::gaussian(items, width, 3).into_vec();
    let content = ContentInput { features: Some((Arc::new(rows.clone()), width)), ..Default::default() };
    let cfg: TwoTowerConfig = toml::from_str("fusion = \"additive\"").expect("cfg");
    let net = Net::new(&cfg, 100, items, Some(content), 1).expect("net");
    let d = net.fused_dim();
    let row = &rows[..width];
    let gate = [1.0, 0.5, -3.0, 0.1];
    let q: Vec<f32> = fuserec_benches::gaussian(1, d, 5).into_vec();
    let negatives: Vec<f32> = (0..256).map(|j| (j as f32 / 256.0 - 0.5) * 4.0).collect();
    let dim = net.behaviour.as_ref().expect("both views").ids.dim();
    let opt = cfg.sparse_optimizer;
    let (mut id_row, mut s1, mut s2) = (vec![0f32; dim], vec![0f32; dim], vec![0f32; dim]);
    let mut t = 0;
    let mut g = c.benchmark_group("nearline");
    g.bench_function("click_step", |b| {
        b.iter(|| {
            let (grad, loss) = net.new_item_click_gradient(row, &[], &gate, &id_row, &q, &negatives).expect("gradient");
            t += 1;
            opt.step_row(&mut id_row, &mut s1, &mut s2, &grad, t);
            loss
        })
    });
    g.bench_function("refresh_vector", |b| {
        b.iter(|| net.new_item_vectors_with_row(row, &[], &gate, Some(&id_row)).expect("vector").fused.len())
    });
    g.finish();
}

criterion_group!(benches, step, epoch, nearline_click);
criterion_main!(benches);
