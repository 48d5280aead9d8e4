//! End to end: config → synthetic world → split → features → baselines → metrics → report files.

use fuserec::data::assets;
use fuserec::experiment::ExperimentResults;
use fuserec::{ExperimentConfig, RunOptions};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fuserec-exp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SMALL: &str = r#"
name = "small"
seeds = [1, 2]
k = [20, 5]
bootstrap = 50
[dataset]
kind = "synthetic"
scale = 0.25
[[model]]
kind = "random"
[[model]]
kind = "most-pop"
[[model]]
kind = "item-knn"
[[model]]
kind = "content-knn"
"#;

fn recall(r: &ExperimentResults, model: usize, seg: &str) -> f64 {
    r.stat(model, seg, "recall@20").mean
}

#[test]
fn synthetic_baselines_end_to_end() {
    let dir = scratch("small");
    let cfg = ExperimentConfig::from_toml(SMALL, Path::new("small.toml")).unwrap();
    let opts = RunOptions {
        cache: dir.join("cache"),
        export_topk: Some(fuserec::TopkExport { dir: dir.join("topk"), format: fuserec::data::synthetic::TableFormat::Tsv }),
        log: false,
        checkpoints: None,
    };
    let r = fuserec::run(&cfg, &opts).unwrap();
    assert_eq!(r.runs.len(), 2 * 4);
    assert!(r.runs.iter().all(|m| m.segments.iter().map(|s| s.segment.as_str()).eq(["OVERALL", "WARM", "COLD"])));
    // The acceptance claims: content serves cold items, co-occurrence cannot.
    let (random, pop, knn, content) = (0, 1, 2, 3);
    assert_eq!(recall(&r, knn, "COLD"), 0.0);
    assert_eq!(recall(&r, pop, "COLD"), 0.0);
    assert!(
        recall(&r, content, "COLD") > 2.0 * recall(&r, random, "COLD"),
        "content {} vs random {}",
        recall(&r, content, "COLD"),
        recall(&r, random, "COLD")
    );
    // Memorisation wins on warm items (the world has an ID-only quality).
    assert!(recall(&r, knn, "WARM") > recall(&r, content, "WARM"));
    assert!(recall(&r, pop, "WARM") > 3.0 * recall(&r, random, "WARM"));
    // Catalogue metrics: MostPop recommends the same few items to everyone; only content
    // models put cold items in OVERALL lists.
    assert!(r.stat(pop, "OVERALL", "gini@20").mean > 0.95);
    assert_eq!(r.stat(knn, "OVERALL", "cold_share@20").mean, 0.0);
    assert!(r.stat(content, "OVERALL", "cold_share@20").mean > 0.05);
    // Splits are logged with distinct hashes per seed; the features carry a hash.
    assert_eq!(r.splits.len(), 2);
    assert_ne!(r.splits[0].hash, r.splits[1].hash);
    assert_eq!(r.features.len(), 1);
    assert_eq!(r.features[0].hash.len(), 16);
    // Reports.
    let out = dir.join("run");
    r.write(&out).unwrap();
    for f in ["results.json", "report.md", "recall.svg", "ndcg.svg", "recall_by_popularity.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["splits"][0]["hash"], r.splits[0].hash.as_str());
    assert!(json["runs"][0]["segments"][0]["metrics"]["ndcg@5"]["mean"].is_number());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| ContentKNN[hashed-ngram+color-gradient-hist] | COLD |"), "{md}");
    // Exported top-K: header, 1-based ranks, at most max K per user, descending scores.
    // Every segment's lists, with its scope; WARM lists hold no cold item, COLD lists only cold ones.
    let tsv = std::fs::read_to_string(dir.join("topk/ItemKNN_k_100_-seed1.tsv")).unwrap();
    let mut lines = tsv.lines();
    assert_eq!(lines.next(), Some("scope\tuser\titem\trank\tscore"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert!(!rows.is_empty());
    assert_eq!((rows[0][0], rows[0][3]), ("OVERALL", "1"));
    assert!(rows.iter().all(|r| r[3].parse::<usize>().unwrap() <= 20));
    let ds = fuserec::experiment::load_dataset(&cfg.dataset, &opts.cache).unwrap();
    let sp = fuserec::data::split(&ds, &cfg.split, 1).unwrap();
    let cold = |raw: &str| sp.cold[ds.items.get(raw).unwrap() as usize];
    assert!(rows.iter().any(|r| r[0] == "WARM") && rows.iter().filter(|r| r[0] == "WARM").all(|r| !cold(r[2])));
    let content_tsv = std::fs::read_to_string(dir.join("topk/ContentKNN_hashed_ngram_color_gradient_hist_-seed1.tsv")).unwrap();
    let cold_rows: Vec<Vec<&str>> = content_tsv.lines().map(|l| l.split('\t').collect()).filter(|r: &Vec<&str>| r[0] == "COLD").collect();
    assert!(!cold_rows.is_empty() && cold_rows.iter().all(|r| cold(r[2])));
    // metrics.csv: the flat form of the results, value for value.
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("model,model_index,seed,segment,users,metric,k,value,ci_lo,ci_hi\n"));
    let row = csv.lines().find(|l| l.starts_with("ItemKNN(k=100),2,1,WARM,") && l.contains(",recall,20,")).unwrap();
    let v: f64 = row.split(',').nth(7).unwrap().parse().unwrap();
    let run = r.runs.iter().find(|m| m.model_index == knn && m.seed == 1).unwrap();
    assert_eq!(v, run.segments[1].metrics["recall@20"].mean);
    assert!(v > 0.0);
    let n_metric_rows = r.runs.iter().flat_map(|m| &m.segments).map(|s| s.metrics.len() + s.coverage.len() * 3).sum::<usize>();
    assert_eq!(csv.lines().count(), 1 + n_metric_rows);
    // The world is cached: a second run reuses it and reproduces the numbers exactly; its
    // Parquet export holds the same rows as the TSV one.
    let pq = fuserec::TopkExport { dir: dir.join("topk-pq"), format: fuserec::data::synthetic::TableFormat::Parquet };
    let again = fuserec::run(&cfg, &RunOptions { export_topk: Some(pq), ..opts }).unwrap();
    assert_eq!(recall(&again, content, "COLD"), recall(&r, content, "COLD"));
    assert_eq!(again.splits[0].hash, r.splits[0].hash);
    let t = fuserec::data::columnar::read_table(&dir.join("topk-pq/ItemKNN_k_100_-seed1.parquet")).unwrap();
    assert_eq!(t.columns, ["scope", "user", "item", "rank", "score"]);
    assert_eq!(t.rows.len(), rows.len());
    for ((_, a), b) in t.rows.iter().zip(&rows) {
        assert_eq!((&a[0][..], &a[1][..], &a[2][..], &a[3][..]), (b[0], b[1], b[2], b[3]));
        assert_eq!(a[4].parse::<f64>().unwrap() as f32, b[4].parse::<f32>().unwrap());
    }
}

#[test]
fn ml100k_baselines_run() {
    let cache = assets::cache_dir();
    if assets::require_or_skip("MovieLens-100K", assets::ML100K.locate(&cache)).is_none() {
        return;
    }
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/ml100k-baselines.toml")).unwrap();
    let mut cfg = ExperimentConfig::from_toml(&text, Path::new("ml100k-baselines.toml")).unwrap();
    cfg.seeds = vec![1];
    cfg.bootstrap = 0;
    // Light backbones only here: the pretrained encoders have their own parity tests, and
    // encoding 1.7k posters in the test profile would dominate CI time.
    let light = |s: &Option<String>| s.as_deref().is_none_or(|n| ["hashed-ngram", "color-hist", "none"].contains(&n));
    cfg.models.retain(|m| !matches!(m, fuserec::ModelConfig::ContentKnn(c) if !(light(&c.text) && light(&c.image))));
    assert_eq!(cfg.models.len(), 6);
    let r = fuserec::run(&cfg, &RunOptions { cache, export_topk: None, log: false, checkpoints: None }).unwrap();
    assert_eq!((r.dataset.users, r.dataset.items, r.dataset.interactions), (943, 1682, 100_000));
    let f = &r.features[0];
    let image = f.modalities.iter().find(|m| m.name == "image").unwrap();
    assert_eq!(image.items, 1642, "every shipped poster decodes");
    assert_eq!(f.image_report.no_image, 40);
    let names = r.models();
    let idx = |n: &str| names.iter().find(|m| m.1 == n).unwrap_or_else(|| panic!("{n} in {names:?}")).0;
    assert_eq!(recall(&r, idx("ItemKNN(k=100)"), "COLD"), 0.0);
    let chance = recall(&r, idx("Random"), "COLD");
    assert!(recall(&r, idx("ContentKNN[hashed-ngram]"), "COLD") > 1.5 * chance);
    assert!(recall(&r, idx("ItemKNN(k=100)"), "WARM") > recall(&r, idx("MostPop"), "WARM"));
}

/// A searched model: every trial is scored on validation, the best is picked and only it is
/// evaluated on test; the report shows the trials. Cold validation items give COLD a validation
/// score for content models and none of them appears in a test ranking.
#[test]
fn search_picks_the_best_validation_trial_and_reports_every_trial() {
    let dir = scratch("search");
    let text = r#"
name = "search"
seeds = [1]
k = [20]
bootstrap = 0
[dataset]
kind = "synthetic"
scale = 0.25
[split]
kind = "cold-start"
cold_val_fraction = 0.1
[search]
kind = "grid"
trials = 10
[search.space.ease]
lambda = [1.0, 30.0, 1000.0, 100000.0]
[search.space.content-centroid]
image_weight = [0.0, 1.0]
[[model]]
kind = "ease"
[[model]]
kind = "content-centroid"
"#;
    let cfg = ExperimentConfig::from_toml(text, Path::new("search.toml")).unwrap();
    let opts = RunOptions {
        cache: dir.join("cache"),
        export_topk: Some(fuserec::TopkExport { dir: dir.join("topk"), format: fuserec::data::synthetic::TableFormat::Tsv }),
        log: false,
        checkpoints: None,
    };
    let r = fuserec::run(&cfg, &opts).unwrap();
    let ease = &r.runs[0];
    assert_eq!(ease.model, "EASE (tuned)");
    let log = ease.search.as_ref().expect("search log");
    assert_eq!(log.trials.len(), 4, "the whole grid fits the budget");
    let best = log.trials.iter().map(|t| t.selection).fold(f64::MIN, f64::max);
    assert_eq!(log.trials[log.pick].selection, best);
    assert!(
        log.trials.iter().any(|t| t.selection < best),
        "λ matters on this world: {:?}",
        log.trials.iter().map(|t| t.selection).collect::<Vec<_>>()
    );
    // EASE cannot score cold validation items; the content model can.
    assert!(log.trials.iter().all(|t| t.val.cold == Some(0.0)));
    let centroid = r.runs[1].search.as_ref().unwrap();
    assert!(centroid.trials.iter().all(|t| t.val.cold.is_some_and(|c| c > 0.0)));
    // No cold validation item is ranked on test.
    let ds = fuserec::experiment::load_dataset(&cfg.dataset, &opts.cache).unwrap();
    let sp = fuserec::data::split(&ds, &cfg.split, 1).unwrap();
    assert!(sp.n_cold_val() > 0);
    let tsv = std::fs::read_to_string(dir.join("topk/ContentCentroid__tuned_-seed1.tsv")).unwrap();
    for line in tsv.lines().skip(1) {
        let raw = line.split('\t').nth(2).unwrap();
        let i = (0..ds.n_items() as u32).find(|&i| ds.items.raw(i) == raw).unwrap();
        assert!(!sp.cold_val[i as usize], "cold validation item {raw} in a test list");
    }
    // The same seed gives the same trials.
    let again = fuserec::run(&cfg, &RunOptions { export_topk: None, ..opts }).unwrap();
    let sel = |r: &ExperimentResults| r.runs[0].search.as_ref().unwrap().trials.iter().map(|t| t.selection).collect::<Vec<_>>();
    assert_eq!(sel(&again), sel(&r));
    // The report has a trials table (✓ on the pick) and the trials plot.
    let out = dir.join("out");
    r.write(&out).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Hyper-parameter search") && md.contains("lambda = ") && md.contains(" ✓"), "{md}");
    assert!(out.join("search_trials.svg").is_file());
    let _ = std::fs::remove_dir_all(dir);
}

/// Every shipped config loads as the kind it declares (or as a recall experiment without one).
#[test]
fn every_shipped_experiment_config_loads_as_its_kind() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        // The top-level `kind`, before the first table header.
        let declared = text
            .lines()
            .take_while(|l| !l.starts_with('['))
            .find_map(|l| l.strip_prefix("kind = \""))
            .map(|k| k.trim_end_matches('"').to_string());
        let got = fuserec::Experiment::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let kind = match got {
            fuserec::Experiment::Recall(_) => "recall",
            fuserec::Experiment::Scl(_) => "scl",
            fuserec::Experiment::Ctr(_) => "ctr",
        };
        assert_eq!(declared.as_deref().unwrap_or("recall"), kind, "{}", p.display());
        n += 1;
    }
    assert!(n >= 10, "{n} configs");
}
