//! MMRec's layout: a fixture written by the test (`toy.inter` with `x_label`, `image_feat.npy`,
//! `text_feat.npy` keyed by row number) loads with its published split, and an experiment runs on
//! it with those features.

use fuserec::features::write_npy;
use fuserec::{ExperimentConfig, RunOptions};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fuserec-mmrec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 12 users, 10 items in two topics (items 0–4, 5–9); each user likes one topic: train on three of
/// its items, validation and test on the others.
fn toy(dir: &Path) {
    let mut inter = String::from("userID\titemID\trating\ttimestamp\tx_label\n");
    for u in 0..12 {
        let base = if u % 2 == 0 { 0 } else { 5 };
        for (k, part) in [0, 0, 0, 1, 2].iter().enumerate() {
            let item = base + (u + k) % 5;
            inter += &format!("{u}\t{item}\t5\t{}\t{part}\n", 1000 + 10 * u + k);
        }
    }
    std::fs::write(dir.join("toy.inter"), inter).unwrap();
    // Features: topic direction + a small per-item wobble; text a different width.
    let img: Vec<f32> = (0..10).flat_map(|i| if i < 5 { [1.0, 0.1 * i as f32, 0.0] } else { [0.0, 0.1 * i as f32, 1.0] }).collect();
    write_npy(&dir.join("image_feat.npy"), 3, &img).unwrap();
    let txt: Vec<f32> = (0..10).flat_map(|i| if i < 5 { [1.0, 0.0] } else { [0.0, 1.0] }).collect();
    write_npy(&dir.join("text_feat.npy"), 2, &txt).unwrap();
}

#[test]
fn mmrec_layout_loads_with_its_split_and_features() {
    let dir = scratch("toy").join("toy");
    std::fs::create_dir_all(&dir).unwrap();
    toy(&dir);
    let ds = fuserec::data::mmrec::load_mmrec(&dir).unwrap();
    let g = ds.given_split.as_ref().unwrap();
    assert_eq!((ds.n_users(), ds.n_items(), g.train.len(), g.val.len(), g.test_warm.len()), (12, 10, 36, 12, 12));
    assert!(g.test_cold.is_none());
    // Internal item id = MMRec's itemID, so feature row i is item i.
    assert!((0..10u32).all(|i| ds.items.raw(i) == i.to_string()));
    let name = format!("embeddings:{}", dir.join("image_feat.npy").display());
    let f = fuserec::ItemFeatures::encode(&ds, None, None).unwrap().with_embeddings("image", &name, &ds, None).unwrap();
    assert_eq!(f.image().unwrap().rows.row(7), &[0.0, 0.7, 1.0]);
    // A repeated row is dropped and counted; across parts the earlier part keeps it.
    let text = std::fs::read_to_string(dir.join("toy.inter")).unwrap();
    let first = text.lines().nth(1).unwrap().to_string();
    let as_test = first.rsplit_once('\t').map(|(a, _)| format!("{a}\t2")).unwrap();
    std::fs::write(dir.join("toy.inter"), format!("{text}{first}\n{as_test}\n")).unwrap();
    let again = fuserec::data::mmrec::load_mmrec(&dir).unwrap();
    let g2 = again.given_split.as_ref().unwrap();
    assert_eq!(again.report.duplicate_interactions, 2);
    assert_eq!((g2.train.len(), g2.val.len(), g2.test_warm.len()), (36, 12, 12), "the train row stays in train");
    // A bad x_label names the line.
    std::fs::write(dir.join("toy.inter"), "userID\titemID\trating\ttimestamp\tx_label\n0\t1\t5\t1\t3\n").unwrap();
    let e = fuserec::data::mmrec::load_mmrec(&dir).unwrap_err().to_string();
    assert!(e.contains("toy.inter:2:") && e.contains("x_label 3"), "{e}");
}

#[test]
fn an_experiment_runs_on_the_mmrec_layout() {
    let root = scratch("exp");
    let dir = root.join("toy");
    std::fs::create_dir_all(&dir).unwrap();
    toy(&dir);
    let cfg = format!(
        "name = \"mmrec-toy\"\nseeds = [1]\nk = [5]\nbootstrap = 0\n[dataset]\nkind = \"mmrec\"\npath = \"{}\"\n[split]\nkind = \"given\"\n\
         [features]\ntext = \"embeddings:{}\"\nimage = \"embeddings:{}\"\n[[model]]\nkind = \"most-pop\"\n[[model]]\nkind = \"content-knn\"\n",
        dir.display(),
        dir.join("text_feat.npy").display(),
        dir.join("image_feat.npy").display()
    );
    let cfg = ExperimentConfig::from_toml(&cfg, Path::new("mmrec-toy.toml")).unwrap();
    let r = fuserec::run(&cfg, &RunOptions { cache: root.join("cache"), export_topk: None, log: false, checkpoints: None }).unwrap();
    assert_eq!(r.features[0].embeddings.len(), 2);
    assert_eq!((r.features[0].embeddings[0].matched, r.features[0].embeddings[0].missing), (10, 0));
    // Each user's test item is of the user's topic and the only unseen one of it (6 unseen items):
    // content similarity to the history puts it first.
    let content = r.stat(1, "OVERALL", "mrr@5").mean;
    assert!(content > 0.9, "content-knn mrr@5 {content}");
}
