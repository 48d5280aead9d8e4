//! Precomputed embeddings: the same vectors through `embeddings:<parquet keyed by raw id>` and
//! through the older `vectors:<safetensors in internal order>` give identical metrics.

use fuserec::data::columnar::{OutColumn, write_table};
use fuserec::{ExperimentConfig, RunOptions};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::path::Path;

#[test]
fn embeddings_by_id_and_vectors_by_row_give_identical_metrics() {
    let dir = std::env::temp_dir().join(format!("fuserec-embeddings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let opts = RunOptions { cache: dir.join("cache"), export_topk: None, log: false, checkpoints: None };
    let dataset = "[dataset]\nkind = \"synthetic\"\nscale = 0.2\n";
    let ds = fuserec::experiment::load_dataset(&fuserec::config::DatasetConfig::Synthetic { seed: 7, scale: 0.2 }, &opts.cache).unwrap();
    // 8-d vectors from each item's title words (any deterministic content signal will do).
    let d = 8;
    let rows: Vec<f32> = (0..ds.n_items())
        .flat_map(|i| {
            let t = ds.items_meta[i].text();
            (0..d)
                .map(move |k| t.bytes().enumerate().map(|(j, b)| ((b as usize * (k + 3) + j) % 17) as f32 - 8.0).sum::<f32>() / 50.0 + 0.01)
        })
        .collect();
    let bytes: Vec<u8> = rows.iter().flat_map(|v| v.to_le_bytes()).collect();
    let st = safetensors::serialize([("item_vectors", TensorView::new(Dtype::F32, vec![ds.n_items(), d], &bytes).unwrap())], None).unwrap();
    std::fs::write(dir.join("v.safetensors"), st).unwrap();
    // The same rows keyed by raw id, in reverse order.
    let order: Vec<usize> = (0..ds.n_items()).rev().collect();
    write_table(
        &dir.join("e.parquet"),
        vec![
            OutColumn::Text("item".into(), order.iter().map(|&i| ds.items.raw(i as u32).to_string()).collect()),
            OutColumn::Vectors("embedding".into(), d, order.iter().flat_map(|&i| rows[i * d..(i + 1) * d].to_vec()).collect()),
        ],
        1000,
    )
    .unwrap();
    let run = |image: String| {
        let text = format!(
            "name = \"emb\"\nseeds = [1]\nk = [20]\nbootstrap = 0\n{dataset}[features]\ntext = \"hashed-ngram\"\nimage = \"{image}\"\n\
             [[model]]\nkind = \"content-knn\"\n[[model]]\nkind = \"content-centroid\"\n"
        );
        fuserec::run(&ExperimentConfig::from_toml(&text, Path::new("emb.toml")).unwrap(), &opts).unwrap()
    };
    let a = run(format!("vectors:{}", dir.join("v.safetensors").display()));
    let b = run(format!("embeddings:{}", dir.join("e.parquet").display()));
    assert_eq!(b.features[0].embeddings[0].matched, ds.n_items());
    for (x, y) in a.runs.iter().zip(&b.runs) {
        for (s, t) in x.segments.iter().zip(&y.segments) {
            for (k, e) in &s.metrics {
                assert_eq!(e.mean, t.metrics[k].mean, "{} {} {k}", x.model, s.segment);
            }
        }
    }
    assert!(a.stat(0, "COLD", "recall@20").mean > 0.0);
}
