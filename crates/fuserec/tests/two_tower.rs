//! The two-tower recall model end to end on a planted synthetic world, its checkpoints, its
//! determinism and its errors.

use fuserec::config::ModelConfig;
use fuserec::core::Rng;
use fuserec::experiment::ExperimentResults;
use fuserec::fusion::FusionKind;
use fuserec::nn::DenseAdam;
use fuserec::towers::{ContentInput, History};
use fuserec::two_tower::{Batch, Net, TwoTowerConfig};
use fuserec::{ExperimentConfig, RunOptions};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fuserec-tt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const PLANTED: &str = r#"
name = "planted"
seeds = [1]
k = [20]
bootstrap = 0
[dataset]
kind = "synthetic"
scale = 1.0
[[model]]
kind = "random"
[[model]]
kind = "most-pop"
[[model]]
kind = "content-knn"
[[model]]
kind = "two-tower"
fusion = "additive"
"#;

/// The article's setup (the defaults before the leaderboard work): next-item training on the
/// positives before each sample, no user row, fused vectors as the fusion gives them.
const ARTICLE: &str = r#"
[[model]]
kind = "two-tower"
fusion = "additive"
label = "article"
history_context = "earlier"
history = 20
user_embedding = false
temperature = 0.2
content_hidden = 128
unit_item_vectors = false
calibrate_cold = false
epochs = 10
patience = 3
"#;

fn recall(r: &ExperimentResults, model: usize, seg: &str) -> f64 {
    r.stat(model, seg, "recall@20").mean
}

#[test]
fn planted_world_fused_model_beats_most_pop_warm_and_reaches_content_level_cold() {
    let dir = scratch("planted");
    let cfg = ExperimentConfig::from_toml(&format!("{PLANTED}{ARTICLE}"), Path::new("planted.toml")).unwrap();
    let opts = RunOptions { cache: dir.join("cache"), export_topk: None, log: false, checkpoints: Some(dir.join("ck")) };
    let r = fuserec::run(&cfg, &opts).unwrap();
    let (random, pop, content, fused, article) = (0, 1, 2, 3, 4);
    let (fw, pw) = (recall(&r, fused, "WARM"), recall(&r, pop, "WARM"));
    assert!(fw > pw, "fused WARM recall {fw} must beat MostPop {pw}");
    let (fc, cc, rc) = (recall(&r, fused, "COLD"), recall(&r, content, "COLD"), recall(&r, random, "COLD"));
    assert!(fc > 0.75 * cc && fc > 2.0 * rc, "fused COLD recall {fc} vs ContentKNN {cc}, Random {rc}");
    // The article's setup: the gate leans on content for cold items and on the id for the most
    // exposed ones. (The default model normalises fused vectors, so a cold item's gate no longer
    // matters to its vector, and its gate learned no such shape: see docs/RESULTS.md.)
    let bins = r.runs[article].training.as_ref().expect("training log")["gate_by_exposure"].as_array().unwrap().clone();
    let log = r.runs[fused].training.as_ref().expect("training log");
    let first = &bins[0];
    let last = bins.last().unwrap();
    assert_eq!(first["exposures_lo"].as_f64(), Some(0.0));
    assert!(first["mean_gate"].as_f64().unwrap() > last["mean_gate"].as_f64().unwrap() + 0.1, "gate by exposure: {bins:?}");
    let default_bins = log["gate_by_exposure"].as_array().unwrap();
    assert!(bins.iter().chain(default_bins).all(|b| (0.0..=1.0).contains(&b["mean_gate"].as_f64().unwrap())));
    // The default model's blend (cold length ≥ 1, content head weights) was fitted on validation.
    let blend = &log["blend"];
    assert!(blend["cold_scale"].as_f64().unwrap() >= 1.0 && log["blend_trials"].as_array().unwrap().len() > 20);
    let uses_head = blend["alpha_warm"].as_f64().unwrap() > 0.0 || blend["beta_cold"].as_f64().unwrap() > 0.0;
    // The trained artifact was written: the best epoch's weights, every item's vector as
    // evaluated and every user's query, the blend, the seen lists and the statistics.
    let path = log["artifact"].as_str().expect("artifact path");
    let a = fuserec::artifact::TrainedArtifact::load(Path::new(path)).unwrap();
    assert_eq!(a.manifest.blend.cold_scale as f64, blend["cold_scale"].as_f64().unwrap());
    assert_eq!((a.manifest.source.model, a.manifest.source.seed), (fused, 1));
    assert_eq!(a.manifest.source.split, r.splits[0].hash);
    // With the content head, both carry the fused content width after the 64 tower dimensions,
    // and with the item–item channel the catalogue's width after that.
    let head = a.manifest.content_head_dim;
    assert_eq!(head > 0, uses_head, "{:?}", a.manifest.blend);
    let channel = a.manifest.item_item_dim;
    assert_eq!(channel > 0, blend["item_item"].as_f64().unwrap() > 0.0, "{:?}", a.manifest.blend);
    assert!(channel == 0 || channel == r.dataset.items);
    assert_eq!(a.item_item_rows.as_ref().map_or(0, |c| c.rows()), if channel > 0 { r.dataset.items } else { 0 });
    assert_eq!((a.item_vectors.rows(), a.item_vectors.dim()), (r.dataset.items, 64 + head + channel));
    assert_eq!((a.user_vectors.rows(), a.user_vectors.dim()), (r.dataset.users, 64 + head + channel));
    // The channel's query part is the user's multi-hot history: exactly the seen positives.
    if channel > 0 {
        let q = a.user_vectors.row(0);
        assert!(q[64 + head..].iter().all(|&x| x == 0.0 || x == 1.0), "multi-hot");
    }
    assert!(a.manifest.seen.iter().any(|s| !s.is_empty()), "seen lists");
    let trained = a.manifest.items.iter().filter(|i| i.trained).count();
    assert!(trained > 0 && trained < r.dataset.items, "cold items have no trained row: {trained} of {}", r.dataset.items);
    assert!(a.manifest.items.iter().all(|i| !i.trained || i.exposures > 0), "a trained row was seen in training");
    // The report shows the training table and the gate plot.
    r.write(&dir.join("out")).unwrap();
    assert!(dir.join("out/gate_by_exposure.svg").is_file());
    assert!(std::fs::read_to_string(dir.join("out/report.md")).unwrap().contains("best val recall@20"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn one_line_swaps_the_fusion() {
    let concat = PLANTED.replace("fusion = \"additive\"", "fusion = \"concat\"");
    let a = ExperimentConfig::from_toml(PLANTED, Path::new("a.toml")).unwrap();
    let b = ExperimentConfig::from_toml(&concat, Path::new("b.toml")).unwrap();
    let (ModelConfig::TwoTower(x), ModelConfig::TwoTower(y)) = (&a.models[3], &b.models[3]) else { panic!("two-tower models") };
    assert_eq!((x.fusion, y.fusion), (FusionKind::Additive, FusionKind::Concat));
    assert_eq!(TwoTowerConfig { fusion: FusionKind::Additive, ..(**y).clone() }, **x, "nothing else differs");
    let typo = PLANTED.replace("fusion = \"additive\"", "fusion = \"addtive\"");
    let e = ExperimentConfig::from_toml(&typo, Path::new("c.toml")).unwrap_err().to_string();
    assert!(e.contains("c.toml") && e.contains("addtive"), "{e}");
}

fn tiny(fusion: &str, n_items: usize) -> (TwoTowerConfig, Option<ContentInput>) {
    let cfg: TwoTowerConfig = toml::from_str(&format!(
        "fusion = \"{fusion}\"\ndim = 8\nquery_hidden = [16]\ncontent_hidden = 16\nhistory = 4\nuniform_negatives = 4"
    ))
    .unwrap();
    let mut r = Rng::new(4);
    let feats: Vec<f32> = (0..n_items * 6).map(|_| r.normal() as f32).collect();
    (cfg, Some(ContentInput { features: Some((std::sync::Arc::new(feats), 6)), codes: Vec::new(), tags: None }))
}

fn batch(n_items: usize, seed: u64) -> Batch {
    let mut r = Rng::new(seed);
    let lists: Vec<Vec<u32>> = (0..6).map(|_| (0..1 + r.below(4)).map(|_| r.below(n_items) as u32).collect()).collect();
    let refs: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
    let items: Vec<u32> = (0..10).map(|_| r.below(n_items) as u32).collect();
    Batch {
        hist: History::from_lists(&[0, 1, 2, 3, 4, 5], &refs, 4),
        gate: (0..items.len() * 4).map(|_| r.uniform() as f32).collect(),
        keep: vec![1.0; items.len()],
        log_q: Some(vec![-3.0; items.len()]),
        items,
    }
}

#[test]
fn checkpoint_restores_every_parameter_and_training_is_deterministic() {
    let n_items = 30;
    for fusion in ["additive", "concat", "multi-view"] {
        let (cfg, content) = tiny(fusion, n_items);
        let train = |seed: u64| {
            let mut net = Net::new(&cfg, 6, n_items, content.clone(), seed).unwrap();
            let mut opt = DenseAdam::new(cfg.dense_optimizer);
            let first = net.step(&batch(n_items, 1), &mut opt).unwrap().total;
            let mut last = first;
            for s in 0..40 {
                last = net.step(&batch(n_items, 1 + s % 3), &mut opt).unwrap().total;
            }
            (net, first, last)
        };
        let (mut a, first, last) = train(7);
        assert!(last < first, "{fusion}: loss did not fall ({first} → {last})");
        let (b, ..) = train(7);
        let items: Vec<u32> = (0..n_items as u32).collect();
        let gate = vec![0.5f32; n_items * 4];
        let va = a.item_vectors(&items, &gate, None).unwrap();
        assert_eq!(va.fused, b.item_vectors(&items, &gate, None).unwrap().fused, "{fusion}: same seed, same model");
        let dir = scratch(&format!("ck-{fusion}"));
        let path = dir.join("m.safetensors");
        a.checkpoint().save(&path).unwrap();
        let mut c = Net::new(&cfg, 6, n_items, content.clone(), 99).unwrap();
        assert_ne!(c.item_vectors(&items, &gate, None).unwrap().fused, va.fused);
        c.restore(&fuserec::nn::Checkpoint::load(&path).unwrap()).unwrap();
        assert_eq!(c.item_vectors(&items, &gate, None).unwrap().fused, va.fused, "{fusion}: restored model differs");
        let h = batch(n_items, 5).hist;
        assert_eq!(c.query_vectors(&h).unwrap(), a.query_vectors(&h).unwrap());
        // A checkpoint of another shape is refused, naming the tensor.
        let (mut wide, _) = tiny(fusion, n_items);
        wide.dim = 12;
        let mut w = Net::new(&wide, 6, n_items, content.clone(), 1).unwrap();
        let e = w.restore(&fuserec::nn::Checkpoint::load(&path).unwrap()).unwrap_err().to_string();
        assert!(e.contains("expects"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let n_items = 30;
    let (cfg, content) = tiny("additive", n_items);
    // Unknown item id in a batch.
    let net = Net::new(&cfg, 6, n_items, content.clone(), 1).unwrap();
    let mut b = batch(n_items, 1);
    b.items[2] = 999;
    let e = net.loss(&b).err().expect("unknown item").to_string();
    assert!(e.contains("999"), "{e}");
    // NaN in the content features names the item.
    let mut bad = content.clone().unwrap();
    std::sync::Arc::make_mut(&mut bad.features.as_mut().unwrap().0)[6 * 7 + 2] = f32::NAN;
    let e = Net::new(&cfg, 6, n_items, Some(bad), 1).err().expect("NaN features").to_string();
    assert!(e.contains("item 7"), "{e}");
    // A content view without content.
    let e = Net::new(&cfg, 6, n_items, None, 1).err().expect("no content").to_string();
    assert!(e.contains("content"), "{e}");
    // Empty history rows pool to zero and still give a finite query.
    let mut h = batch(n_items, 2).hist;
    h.mask.iter_mut().for_each(|m| *m = 0.0);
    assert!(net.query_vectors(&h).unwrap().iter().all(|x| x.is_finite()));
    // Out-of-range hyper-parameters are config errors.
    let e = toml::from_str::<TwoTowerConfig>("cold_dropout = 1.5").unwrap().validate().unwrap_err();
    assert!(e.contains("cold_dropout"), "{e}");
}
