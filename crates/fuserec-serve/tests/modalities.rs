//! Three modalities end to end: text and image encoded by fuserec, plus precomputed embeddings
//! keyed by raw item id from a Parquet file (`[features] latent = "embeddings:…"`), through the
//! content baseline, the two-tower model, its trained artifact and the server.

use fuserec::data::columnar::{OutColumn, write_table};
use fuserec::data::synthetic::{World, WorldConfig};
use fuserec::{ExperimentConfig, RunOptions};
use fuserec_serve::Server;
use std::path::Path;

mod common;

/// 20% of the catalogue has no row in the file (masked), and the file has ids the catalogue
/// does not know (ignored and counted).
fn without_row(k: usize) -> bool {
    k.is_multiple_of(5)
}

#[test]
fn three_modalities_train_evaluate_and_serve() {
    let dir = std::env::temp_dir().join(format!("fuserec-modalities-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The third modality: the world's own item latents with noise (what a strong in-house
    // embedding would give), keyed by raw id, in reverse order.
    let world = World::generate(&WorldConfig { seed: 7, scale: 0.3, ..Default::default() }).unwrap();
    let mut rng = fuserec::core::Rng::new(3);
    let d = world.items[0].latent.len();
    let kept: Vec<usize> = (0..world.items.len()).rev().filter(|&k| !without_row(k)).collect();
    let mut ids: Vec<String> = kept.iter().map(|k| format!("i{k}")).collect();
    let mut rows: Vec<f32> = kept
        .iter()
        .flat_map(|&k| world.items[k].latent.iter().map(|x| (*x + 0.3 * rng.normal() / (d as f64).sqrt()) as f32).collect::<Vec<_>>())
        .collect();
    for ghost in ["ghost-1", "ghost-2", "ghost-3"] {
        ids.push(ghost.into());
        rows.extend(std::iter::repeat_n(0.5f32, d));
    }
    let file = dir.join("latent.parquet");
    write_table(&file, vec![OutColumn::Text("item".into(), ids), OutColumn::Vectors("embedding".into(), d, rows)], 500).unwrap();

    let experiment = |name: &str, features: &str, models: &str| {
        common::small_world(
            name,
            &format!(
                "[split]\nkind = \"cold-start\"\ncold_fraction = 0.2\ncold_val_fraction = 0.1\n[features]\ntext = \"hashed-ngram\"\nimage = \"color-hist\"\n{features}{models}"
            ),
        )
    };
    let latent = format!("latent = \"embeddings:{}\"\n", file.display());
    let models = "[[model]]\nkind = \"two-tower\"\nfusion = \"additive\"\nepochs = 3\n\
                  [[model]]\nkind = \"content-knn\"\n[[model]]\nkind = \"content-knn\"\nweights = { latent = 0.0 }\n";
    let (dir3, _, ds) = common::train("fuserec-modalities-3", "three", &experiment("three", &latent, models));
    let run = |toml: String| {
        let cfg = ExperimentConfig::from_toml(&toml, Path::new("x.toml")).unwrap();
        fuserec::run(&cfg, &RunOptions { cache: dir3.join("cache"), export_topk: None, log: false, checkpoints: None }).unwrap()
    };
    let three = run(experiment(
        "three",
        &latent,
        "[[model]]\nkind = \"content-knn\"\n[[model]]\nkind = \"content-knn\"\nweights = { latent = 0.0 }\n",
    ));
    let two = run(experiment("two", "", "[[model]]\nkind = \"content-knn\"\n"));

    // The features: three modalities in order, the file's rows aligned by id.
    let f = &three.features[0];
    let names: Vec<&str> = f.modalities.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["text", "image", "latent"]);
    let n = ds.n_items();
    let with_row = (0..n).filter(|&i| !without_row(ds.items.raw(i as u32)[1..].parse::<usize>().unwrap())).count();
    assert_eq!((f.modalities[2].items, f.modalities[2].dim), (with_row, d));
    let e = &f.embeddings[0];
    assert_eq!((e.matched, e.missing, e.unknown), (with_row, n - with_row, 3));
    assert_eq!(two.features[0].modalities.len(), 2);

    // Weight 0 on the third modality gives exactly the two-modality model; weight 1 reads it (the
    // world's latents add little to its titles and images, which come from the same topics, so
    // only a change is asserted).
    for (s, t) in three.runs[1].segments.iter().zip(&two.runs[0].segments) {
        for (k, v) in &s.metrics {
            assert_eq!(v.mean, t.metrics[k].mean, "{} {k}", s.segment);
        }
    }
    let (with, without) = (three.stat(0, "COLD", "recall@10").mean, three.stat(1, "COLD", "recall@10").mean);
    assert_ne!(with, without, "ContentKNN COLD recall@10 with the latent modality and without");
    assert_eq!(three.runs[0].model, "ContentKNN[hashed-ngram+color-gradient-hist+latent]");

    // The trained artifact records the three modalities; its content rows are their fused
    // widths plus one mask bit each.
    let art = fuserec::artifact::TrainedArtifact::load(&dir3.join("ck/model0-seed1.fuserec")).unwrap();
    let spec = art.manifest.features.as_ref().unwrap();
    assert_eq!(spec.modalities.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["text", "image", "latent"]);
    assert!(spec.modalities[2].backbone.starts_with("embeddings:"));
    let (content, width) = art.content_rows.clone().unwrap();
    assert_eq!(width, spec.dims().iter().sum::<usize>() + 3);
    assert_eq!(art.centres.len(), 3);

    // Serving: catalogue items are stored as evaluated; a new item is encoded from its text and
    // image with the precomputed modality masked — exactly the row of a catalogue item that has
    // no row in the file.
    let server = Server::start(common::config(&dir3, 0)).unwrap();
    common::assert_serves_what_was_evaluated(&server, &dir3.join("ck/model0-seed1.fuserec"));
    let model = server.app.model();
    // This model's never-seen items borrow item–item rows (the check above then compares a new
    // item's borrowed row with the evaluated one; the HTTP test's model does not borrow).
    assert!(model.blend.borrow && model.blend.item_item > 0.0, "{:?}", model.blend);
    let mut compared = 0;
    for i in (0..n).filter(|&i| without_row(ds.items.raw(i as u32)[1..].parse::<usize>().unwrap())).take(5) {
        let meta = &ds.items_meta[i];
        let img = meta.image.as_ref().map(|p| image::open(p).unwrap());
        let (row, _, has_text, has_image) = model.content_row(&meta.text(), img.as_ref()).unwrap();
        assert_eq!((has_text, has_image), (true, img.is_some()));
        assert_eq!(row[width - 1], 0.0, "the latent mask bit of a new item");
        let want = &content[i * width..(i + 1) * width];
        let worst = row.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "item {}: the served content row is {worst} away from the trained one", ds.items.raw(i as u32));
        compared += 1;
    }
    assert_eq!(compared, 5);
    drop(model);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir3);
}
