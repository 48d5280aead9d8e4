//! The SCL experiment end to end on a small synthetic world: search-session pairs, held-out
//! pairs on cold items, raw vs learned retrieval, downstream ContentKNN, report files.

use fuserec::Experiment;
use fuserec::RunOptions;
use fuserec::scl::{SclExperiment, run};

const SMALL: &str = r#"
name = "scl-small"
kind = "scl"
seeds = [1]
sources = ["search", "co-engagement"]
queues = [256]
triplet_weight = 0.5
[dataset]
kind = "synthetic"
scale = 0.3
[scl]
dim = 32
hidden = [64]
batch_size = 128
epochs = 8
optimizer = { lr = 0.002 }
"#;

#[test]
fn search_pairs_learned_heads_beat_raw_features_on_held_out_cold_items() {
    assert!(matches!(Experiment::from_toml(SMALL, std::path::Path::new("scl.toml")), Ok(Experiment::Scl(_))));
    let dir = std::env::temp_dir().join(format!("fuserec-scl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg: SclExperiment = toml::from_str(SMALL).unwrap();
    let opts = RunOptions { cache: dir.join("cache"), export_topk: None, log: false, checkpoints: Some(dir.join("reps")) };
    let r = run(&cfg, &opts).unwrap();
    let get = |src: &str, variant: &str| {
        r.rows.iter().find(|x| x.source.starts_with(src) && x.variant.starts_with(variant)).unwrap_or_else(|| panic!("{src} / {variant}"))
    };
    let raw = get("search", "raw").retrieval.unwrap();
    let learned = get("search", "in-batch").retrieval.unwrap();
    // Queries are written in words that never occur in titles: raw overlap is at chance level,
    // the trained heads learn what the words mean.
    assert!(learned.recall_at_10 > 2.0 * raw.recall_at_10 + 0.005, "learned {learned:?} vs raw {raw:?}");
    for row in &r.rows {
        assert!(row.test_pairs > 0 && row.train_pairs > 0, "{row:?}");
        let d = row.downstream_cold_recall_at_20.unwrap();
        assert!((0.0..=1.0).contains(&d), "{row:?}");
    }
    // Every variant ran: raw, in-batch, learned τ, + queue, and + queue + triplet where the source
    // has hard negatives (search: clicked but not bought; co-engagement has none).
    assert_eq!(r.rows.len(), 5 + 4);
    assert!(get("search", "+ queue K=256 + hard").retrieval.is_some());
    assert!(!r.rows.iter().any(|x| x.source.starts_with("co-engagement") && x.variant.contains("triplet")));
    r.write(&dir.join("out")).unwrap();
    assert!(std::fs::read_to_string(dir.join("out/report.md")).unwrap().contains("held-out Recall@10"));
    assert!(std::fs::read_dir(dir.join("reps")).unwrap().count() >= 7, "a representation per trained variant");
    // A learned representation is usable by name: `image = "vectors:<file>"` in any recall
    // experiment, and ContentKNN on it reproduces the downstream number of the SCL run (which reads
    // the vectors as they are: no centring).
    let rep = std::fs::read_dir(dir.join("reps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("in_batch_InfoNCE_seed"))
        .expect("in-batch representation");
    let exp = format!(
        "name = \"use-scl\"\nseeds = [1]\nk = [20]\nbootstrap = 0\n[dataset]\nkind = \"synthetic\"\nscale = 0.3\n[features]\ntext = \"none\"\nimage = \"vectors:{}\"\npreprocess = \"none\"\n[[model]]\nkind = \"content-knn\"\n",
        rep.display()
    );
    let ecfg = fuserec::ExperimentConfig::from_toml(&exp, std::path::Path::new("use-scl.toml")).unwrap();
    let er = fuserec::run(&ecfg, &RunOptions { checkpoints: None, ..opts.clone() }).unwrap();
    let cold = er.stat(0, "COLD", "recall@20").mean;
    let want = r
        .rows
        .iter()
        .find(|x| {
            rep.to_string_lossy().contains(&x.source.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>())
                && x.variant == "in-batch InfoNCE"
        })
        .unwrap()
        .downstream_cold_recall_at_20
        .unwrap();
    assert!((cold - want).abs() < 1e-9, "vectors: backbone gives {cold}, SCL run recorded {want}");
    let _ = std::fs::remove_dir_all(dir);
}
