//! The experiment runner behind `cargo xtask experiment`: load → split (per seed) → encode
//! content → fit each model → rank the full catalogue per user → OVERALL / WARM / COLD metrics.

use crate::artifact::{ArtifactTarget, Catalogue, Source};
use crate::baselines::{Bpr, ContentKnn, Ease, ItemKnn, MostPop, RandomScores};
use crate::config::{DatasetConfig, ExperimentConfig, ModelConfig};
use crate::features::{
    BackboneKind, CacheStats, FeatureSet, FeatureStore, ImageReport, ItemFeatures, Preprocess, image_encoder, text_encoder,
};
use crate::recommender::{Recommender, TrainData, positives_by_user};
use crate::two_tower::TwoTower;
use fuserec_core::{Error, Result};
use fuserec_data::progress::bar;
use fuserec_data::{Dataset, LoadOptions, LoadReport, Split, assets, load_dir, movielens, split, synthetic};
use fuserec_eval::{
    Bucket, Estimate, STANDARD_METRICS, cold_share_at_k, coverage_at_k, evaluate_ranking, exposure_gini_at_k, recall_by_bucket,
};
use fuserec_index::{Candidates, rank_dense};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Where things go and one-off overrides from the command line.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Asset and synthetic-world cache (see `fuserec_data::assets::cache_dir`).
    pub cache: PathBuf,
    /// Write every evaluated user's top-K lists (`scope, user, item, rank, score`; scope =
    /// OVERALL, WARM or COLD), one file per model and seed.
    pub export_topk: Option<TopkExport>,
    /// Print progress lines to stderr.
    pub log: bool,
    /// Where trained models write their artifacts (two-tower: `model<i>-seed<s>.fuserec/`, see
    /// [`crate::artifact`]); `None`: not written.
    pub checkpoints: Option<PathBuf>,
}

/// The evaluation segments, in report order.
pub const SEGMENTS: [&str; 3] = ["OVERALL", "WARM", "COLD"];

/// Where `--export-topk` writes and in which format.
#[derive(Clone, Debug)]
pub struct TopkExport {
    /// Folder the files go to.
    pub dir: PathBuf,
    /// TSV or Parquet.
    pub format: synthetic::TableFormat,
}
const USER_BATCH: usize = 256;

/// One model's metrics on one segment (OVERALL, WARM or COLD).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SegmentResult {
    /// `OVERALL`, `WARM` or `COLD`.
    pub segment: String,
    /// Users with at least one relevant item in this segment (the metric denominators).
    pub users: usize,
    /// Items rankable in this segment.
    pub candidates: usize,
    /// Mean and bootstrap CI of every metric, keyed `"recall@20"`.
    pub metrics: BTreeMap<String, Estimate>,
    /// Catalogue coverage @K, keyed `"coverage@20"`.
    pub coverage: BTreeMap<String, f64>,
    /// Share of cold items in the top K, keyed `"cold_share@20"`.
    pub cold_share: BTreeMap<String, f64>,
    /// Gini of item exposure in the top K, keyed `"gini@20"`.
    pub exposure_gini: BTreeMap<String, f64>,
    /// Recall at the headline K per item-popularity bucket (OVERALL only).
    pub buckets: Vec<Bucket>,
}

/// One model fitted and evaluated on one seed's split.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelRun {
    /// Model display name.
    pub model: String,
    /// Index of its `[[model]]` table.
    pub model_index: usize,
    /// Seed of the split and the fit.
    pub seed: u64,
    /// Fit wall time.
    pub fit_seconds: f64,
    /// Ranking wall time (all segments).
    pub rank_seconds: f64,
    /// Results per segment.
    pub segments: Vec<SegmentResult>,
    /// Per-epoch losses, validation recall, gate curve (models that train).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
    /// Hyper-parameter trials on validation, when the model was searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::SearchLog>,
}

/// Sizes and hash of one seed's split.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SplitSummary {
    /// The seed.
    pub seed: u64,
    /// How it was split.
    pub protocol: String,
    /// Content hash of the split.
    pub hash: String,
    /// Training interactions.
    pub train: usize,
    /// Validation interactions.
    pub val: usize,
    /// Warm test interactions.
    pub test_warm: usize,
    /// Cold test interactions.
    pub test_cold: usize,
    /// Test-cold items.
    pub cold_items: usize,
    /// Cold validation items (hidden from the test evaluation).
    pub cold_val_items: usize,
}

/// What was loaded.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DatasetSummary {
    /// Dataset name.
    pub name: String,
    /// Folder it came from.
    pub root: String,
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// Interactions.
    pub interactions: usize,
    /// Positive interactions.
    pub positives: usize,
    /// What the loader dropped or repaired.
    pub load_report: LoadReport,
}

/// One encoded feature set and how it was obtained.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FeatureSummary {
    /// The modalities as configured: `text=… image=… clip=…`.
    pub set: String,
    /// Content hash of the rows.
    pub hash: String,
    /// Per modality, in the order content models read them.
    pub modalities: Vec<ModalitySummary>,
    /// How the images fared.
    pub image_report: ImageReport,
    /// `embeddings:<file>` slots: rows, matched / missing catalogue items, unknown ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub embeddings: Vec<fuserec_recall::features::EmbeddingsReport>,
    /// Encoding wall time.
    pub seconds: f64,
}

/// One modality of a feature set: what it was configured as, what the encoder calls itself, how
/// many items have it and how many rows came from the feature store.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModalitySummary {
    /// Modality name.
    pub name: String,
    /// Backbone as configured.
    pub configured: String,
    /// The encoder's own description.
    pub backbone: String,
    /// Row width.
    pub dim: usize,
    /// Items having the modality.
    pub items: usize,
    /// Feature-store reuse.
    pub cache: CacheStats,
}

/// Everything a recall experiment produced: `results.json` of a run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExperimentResults {
    /// Experiment name.
    pub name: String,
    /// The configuration run.
    pub config: ExperimentConfig,
    /// Git revision of the source tree, when known.
    pub git_revision: String,
    /// Start time (RFC 3339, UTC).
    pub started_at: String,
    /// Wall time.
    pub total_seconds: f64,
    /// The dataset.
    pub dataset: DatasetSummary,
    /// One entry per distinct (text, image) backbone pair the models used.
    pub features: Vec<FeatureSummary>,
    /// One entry per seed.
    pub splits: Vec<SplitSummary>,
    /// One entry per model and seed.
    pub runs: Vec<ModelRun>,
}

/// Loads (and for registry datasets, fetches) the dataset a config names.
pub fn load_dataset(cfg: &DatasetConfig, cache: &Path) -> Result<Dataset> {
    match cfg {
        DatasetConfig::Synthetic { seed, scale } => {
            let world = synthetic::WorldConfig { seed: *seed, scale: *scale, ..Default::default() };
            let dir = cache.join("worlds").join(format!("synthetic-seed{seed}-scale{scale}"));
            synthetic::ensure_world(&world, &dir)?;
            let mut ds = load_dir(&dir, &LoadOptions::default())?;
            ds.name = format!("synthetic(seed={seed}, scale={scale})");
            Ok(ds)
        }
        DatasetConfig::Dir { path, unknown_items } => load_dir(path, &LoadOptions { unknown_items: *unknown_items }),
        DatasetConfig::Mmrec { path } => fuserec_data::mmrec::load_mmrec(path),
        DatasetConfig::Movielens { name, posters } => {
            if name != "ml-100k" {
                return Err(Error::Config(format!("movielens `{name}`: only ml-100k is fetched by `cargo xtask assets`")));
            }
            let dir = assets::ML100K.locate(cache).ok_or_else(|| {
                Error::MissingAsset(format!("MovieLens-100K not in {} — run `cargo xtask assets` first", cache.display()))
            })?;
            let posters = if *posters {
                let p = assets::shared_assets_dir().map(|d| d.join("ml100k-posters")).filter(|p| p.is_dir());
                Some(p.ok_or_else(|| {
                    Error::MissingAsset(
                        "ml100k-posters not found: set FUSEREC_ASSETS_DIR to the shared assets folder, or posters = false".into(),
                    )
                })?)
            } else {
                None
            };
            movielens::load_atomic(&dir, name, posters.as_deref())
        }
    }
}

/// Fits the model a `[[model]]` table describes on `data` (`artifact`: where a two-tower writes
/// its serving artifact). Models that need features error without them.
pub fn build_model(
    m: &ModelConfig,
    data: &TrainData,
    features: Option<&ItemFeatures>,
    seed: u64,
    artifact: Option<ArtifactTarget>,
) -> Result<Box<dyn Recommender>> {
    Ok(match m {
        ModelConfig::Random => Box::new(RandomScores::fit(data, seed)),
        ModelConfig::MostPop => Box::new(MostPop::fit(data)),
        ModelConfig::ItemKnn { neighbours } => Box::new(ItemKnn::fit(data, *neighbours)),
        ModelConfig::ContentKnn(c) | ModelConfig::ContentCentroid(c) => {
            let f = features.ok_or_else(|| Error::Config(format!("{}: needs item features", m.kind())))?;
            let model = ContentKnn::fit(f, |m: &str| c.weight(m))?;
            Box::new(if matches!(m, ModelConfig::ContentCentroid(_)) { model.named("ContentCentroid") } else { model })
        }
        ModelConfig::Ease { lambda } => Box::new(Ease::fit(data, *lambda)?),
        ModelConfig::Bpr(c) => Box::new(Bpr::fit(c, data, None, seed)?),
        ModelConfig::Vbpr(c) => {
            let f = features.ok_or_else(|| Error::Config("vbpr needs item features".into()))?;
            Box::new(Bpr::fit(c, data, Some(f.fused()?.0), seed)?)
        }
        ModelConfig::TwoTower(t) => Box::new(TwoTower::fit(t, data, features, seed, artifact)?),
    })
}

/// Encodes (or reuses from the feature store) every modality of `set` for every item, reads
/// precomputed ones (`vectors:`, `embeddings:`), then prepares them as `preprocess` says.
pub fn encode_features(set: &FeatureSet, preprocess: Preprocess, ds: &Dataset, cache: &Path) -> Result<(ItemFeatures, f64)> {
    let t0 = Instant::now();
    if set.0.is_empty() {
        return Err(Error::Config("content models need at least one modality (text and image are both \"none\")".into()));
    }
    let store = FeatureStore::new(cache.join("features"));
    let mut f = ItemFeatures::empty(ds);
    for (name, backbone) in &set.0 {
        f = match BackboneKind::of(name, backbone)? {
            BackboneKind::Text => f.with_text(name, ds, text_encoder(backbone, cache)?.as_ref(), Some(&store))?,
            BackboneKind::Image => f.with_image(name, ds, image_encoder(backbone)?.as_ref(), Some(&store))?,
            BackboneKind::Precomputed if backbone.starts_with("vectors:") => f.with_vectors(name, backbone, ds.n_items())?,
            BackboneKind::Precomputed => f.with_embeddings(name, backbone, ds, Some(&store))?,
        };
    }
    f.preprocess(preprocess)?;
    Ok((f, t0.elapsed().as_secs_f64()))
}

/// Runs a recall experiment: every seed, every model, every segment. Errors name what failed.
pub fn run(cfg: &ExperimentConfig, opts: &RunOptions) -> Result<ExperimentResults> {
    let t0 = Instant::now();
    let started_at = fuserec_core::provenance::utc_now();
    let say = |s: String| {
        if opts.log {
            eprintln!("{s}");
        }
    };
    let ds = load_dataset(&cfg.dataset, &opts.cache)?;
    say(format!(
        "dataset {}: {} users, {} items, {} interactions ({} positive)",
        ds.name,
        ds.n_users(),
        ds.n_items(),
        ds.interactions.len(),
        ds.n_positives()
    ));
    say(format!("  load report: {}", ds.report));
    let catalogue = Arc::new(if opts.checkpoints.is_some() { Catalogue::of(&ds) } else { Catalogue::default() });
    let mut features: Vec<(FeatureSet, ItemFeatures, f64)> = Vec::new();
    for set in cfg.feature_sets() {
        let (f, secs) = encode_features(&set, cfg.features.preprocess, &ds, &opts.cache)?;
        features.push((set, f, secs));
    }
    for (set, f, secs) in &features {
        let r = &f.image_report;
        say(format!(
            "features {} in {secs:.1}s (hash {}); images: {} decoded, {} without image, {} missing, {} corrupt (masked); store: {}",
            set.describe(),
            f.hash,
            r.decoded,
            r.no_image,
            r.missing,
            r.corrupt,
            f.modalities
                .iter()
                .map(|m| format!("{} {} reused / {} encoded", m.name, m.cache.reused, m.cache.encoded))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for e in &f.embeddings {
            say(format!(
                "  embeddings {}: {} rows × {}; {} catalogue items matched, {} without a row (masked), {} ids not in the catalogue (ignored{})",
                e.file,
                e.rows,
                e.dim,
                e.matched,
                e.missing,
                e.unknown,
                if e.unknown_examples.is_empty() { String::new() } else { format!(", e.g. {}", e.unknown_examples.join(", ")) }
            ));
        }
        for e in &r.examples {
            say(format!("  image masked: {e}"));
        }
    }
    let mut splits = Vec::new();
    let mut runs = Vec::new();
    for &seed in &cfg.seeds {
        let sp = split(&ds, &cfg.split, seed)?;
        say(format!(
            "seed {seed}: {} split {} — train {}, val {}, test warm {}, test cold {}, cold items {}, cold validation items {}",
            sp.protocol,
            sp.hash,
            sp.train.len(),
            sp.val.len(),
            sp.test_warm.len(),
            sp.test_cold.len(),
            sp.n_cold(),
            sp.n_cold_val()
        ));
        splits.push(SplitSummary {
            seed,
            protocol: sp.protocol.clone(),
            hash: sp.hash.clone(),
            train: sp.train.len(),
            val: sp.val.len(),
            test_warm: sp.test_warm.len(),
            test_cold: sp.test_cold.len(),
            cold_items: sp.n_cold(),
            cold_val_items: sp.n_cold_val(),
        });
        let default_set = cfg.features.set();
        let find = |set: &FeatureSet| features.iter().find(|x| &x.0 == set).map(|x| &x.1);
        let data = TrainData::new(ds.n_users(), ds.n_items(), &sp.train, &sp.val, find(&default_set)).with_split(&sp, cfg.selection);
        for (mi, mc) in cfg.models.iter().enumerate() {
            fuserec_core::cancel::check()?;
            let tf = Instant::now();
            let ck = opts.checkpoints.as_ref().map(|d| ArtifactTarget {
                dir: d.join(format!("model{mi}-seed{seed}.fuserec")),
                catalogue: catalogue.clone(),
                source: Source { experiment: cfg.name.clone(), model: mi, seed, dataset: ds.name.clone(), split: sp.hash.clone() },
                backbones: cfg.feature_set(mc),
            });
            let searched = cfg.search.as_ref().filter(|s| s.space_for(mc).is_some());
            let (model, search, shown) = match searched {
                Some(sc) => {
                    say(format!("  searching {} ({} trials, {:?})", crate::search::space_key(mc), sc.trials, sc.kind));
                    let mut fit = |c: &ModelConfig| build_model(c, &data, cfg.feature_set(c).as_ref().and_then(find), seed, None);
                    let (m, log) = crate::search::search_model(sc, mc, &data, seed, &mut fit, &say)?;
                    let base = m.name().split(['(', '[']).next().unwrap_or_default().to_string();
                    (m, Some(log), format!("{base} (tuned)"))
                }
                None => {
                    let m = build_model(mc, &data, cfg.feature_set(mc).as_ref().and_then(find), seed, ck)?;
                    let n = m.name();
                    (m, None, n)
                }
            };
            let fit_seconds = tf.elapsed().as_secs_f64();
            let tr = Instant::now();
            let lists = rank_all(model.as_ref(), &ds, &sp, cfg.max_k())?;
            let rank_seconds = tr.elapsed().as_secs_f64();
            if let Some(dir) = &opts.export_topk {
                export_topk(dir, &shown, seed, &ds, &lists)?;
            }
            let segments = score_segments(cfg, &data, &sp, &lists, seed);
            let head = &segments[0].metrics[&format!("recall@{}", cfg.k[0])];
            say(format!(
                "  {:<28} fit {fit_seconds:>6.2}s  rank {rank_seconds:>6.2}s  OVERALL recall@{} {:.4}",
                model.name(),
                cfg.k[0],
                head.mean
            ));
            runs.push(ModelRun {
                model: shown,
                model_index: mi,
                seed,
                fit_seconds,
                rank_seconds,
                segments,
                training: model.training_log(),
                search,
            });
        }
    }
    Ok(ExperimentResults {
        name: cfg.name.clone(),
        config: cfg.clone(),
        git_revision: fuserec_core::provenance::git_revision(),
        started_at,
        total_seconds: t0.elapsed().as_secs_f64(),
        dataset: DatasetSummary {
            name: ds.name.clone(),
            root: ds.root.display().to_string(),
            users: ds.n_users(),
            items: ds.n_items(),
            interactions: ds.interactions.len(),
            positives: ds.n_positives(),
            load_report: ds.report.clone(),
        },
        features: features
            .into_iter()
            .map(|(set, f, seconds)| FeatureSummary {
                set: set.describe(),
                hash: f.hash.clone(),
                modalities: f
                    .modalities
                    .iter()
                    .map(|m| ModalitySummary {
                        name: m.name.clone(),
                        configured: set.get(&m.name).unwrap_or_default().to_string(),
                        backbone: m.backbone.clone(),
                        dim: m.rows.dim(),
                        items: m.mask.iter().filter(|&&b| b).count(),
                        cache: m.cache.clone(),
                    })
                    .collect(),
                image_report: f.image_report.clone(),
                embeddings: f.embeddings.clone(),
                seconds,
            })
            .collect(),
        splits,
        runs,
    })
}

/// OVERALL / WARM / COLD results of one fitted model on one split (what `run` does per model).
pub fn evaluate(
    model: &dyn Recommender,
    cfg: &ExperimentConfig,
    ds: &Dataset,
    sp: &Split,
    data: &TrainData,
    seed: u64,
) -> Result<Vec<SegmentResult>> {
    let lists = rank_all(model, ds, sp, cfg.max_k())?;
    Ok(score_segments(cfg, data, sp, &lists, seed))
}

/// Per evaluated user: their ground truth and ranked lists for each segment.
pub struct RankedLists {
    /// Evaluated users.
    pub users: Vec<u32>,
    /// `[segment][user]` → top-K items with scores.
    pub lists: [Vec<Vec<(u32, f32)>>; 3],
    /// `[segment][user]` → relevant items.
    pub truth: [Vec<Vec<u32>>; 3],
}

/// Ranks the full catalogue (and the warm-only and cold-only catalogues) for every user with a
/// test positive, masking what the user already interacted with positively (train + val).
fn rank_all(model: &dyn Recommender, ds: &Dataset, sp: &Split, k: usize) -> Result<RankedLists> {
    let n_users = ds.n_users();
    let n_items = ds.n_items();
    let history = positives_by_user(n_users, sp.train.iter().chain(&sp.val));
    let warm_truth = positives_by_user(n_users, sp.test_warm.iter());
    let cold_truth = positives_by_user(n_users, sp.test_cold.iter());
    let users: Vec<u32> =
        (0..n_users as u32).filter(|&u| !warm_truth[u as usize].is_empty() || !cold_truth[u as usize].is_empty()).collect();
    let [all, warm, cold] = test_candidates(sp);
    let allowed: [Option<&[bool]>; 3] = [Some(&all), Some(&warm), Some(&cold)];
    let mut lists: [Vec<Vec<(u32, f32)>>; 3] = Default::default();
    let pb = bar(users.len() as u64, &format!("ranking {}", short(&model.name())));
    let mut scores = vec![0f32; USER_BATCH.min(users.len().max(1)) * n_items];
    for batch in users.chunks(USER_BATCH) {
        let hist: Vec<&[u32]> = batch.iter().map(|&u| history[u as usize].as_slice()).collect();
        let exclude: Vec<Vec<u32>> = hist.iter().map(|h| h.to_vec()).collect();
        let buf = &mut scores[..batch.len() * n_items];
        model.score(batch, &hist, buf);
        for (s, a) in allowed.iter().enumerate() {
            let ranked = rank_dense(buf, n_items, k, Candidates { exclude: Some(&exclude), allowed: *a })
                .map_err(|e| Error::Invalid(format!("{}: {e}", model.name())))?;
            lists[s].extend(ranked);
        }
        pb.inc(batch.len() as u64);
    }
    pb.finish_and_clear();
    let pick = |t: &Vec<Vec<u32>>| users.iter().map(|&u| t[u as usize].clone()).collect::<Vec<_>>();
    let overall: Vec<Vec<u32>> = users
        .iter()
        .map(|&u| {
            let mut v = [warm_truth[u as usize].as_slice(), cold_truth[u as usize].as_slice()].concat();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    Ok(RankedLists { truth: [overall, pick(&warm_truth), pick(&cold_truth)], users, lists })
}

/// Candidate items of the OVERALL, WARM and COLD test rankings: cold validation items are in none
/// (they belong to model selection).
fn test_candidates(sp: &Split) -> [Vec<bool>; 3] {
    let n = sp.cold.len();
    let all: Vec<bool> = (0..n).map(|i| !sp.cold_val[i]).collect();
    let warm: Vec<bool> = (0..n).map(|i| !sp.cold_val[i] && !sp.cold[i]).collect();
    [all, warm, sp.cold.clone()]
}

fn short(name: &str) -> &str {
    name.split('[').next().unwrap_or(name)
}

fn score_segments(cfg: &ExperimentConfig, data: &TrainData, sp: &Split, r: &RankedLists, seed: u64) -> Vec<SegmentResult> {
    let [all, warm, cold] = test_candidates(sp);
    let cand: [&[bool]; 3] = [&all, &warm, &cold];
    (0..3)
        .map(|s| {
            let keep: Vec<usize> = (0..r.users.len()).filter(|&u| !r.truth[s][u].is_empty()).collect();
            let lists: Vec<Vec<u32>> = keep.iter().map(|&u| r.lists[s][u].iter().map(|x| x.0).collect()).collect();
            let truth: Vec<Vec<u32>> = keep.iter().map(|&u| r.truth[s][u].clone()).collect();
            let metrics = evaluate_ranking(STANDARD_METRICS, &cfg.k, &lists, &truth, cfg.bootstrap, seed)
                .expect("one list per kept user, by construction");
            let n_cand = cand[s].iter().filter(|&&b| b).count();
            let per_k = |f: &dyn Fn(usize) -> f64| cfg.k.iter().map(|&k| (format!("@{k}"), f(k))).collect::<BTreeMap<_, _>>();
            SegmentResult {
                segment: SEGMENTS[s].to_string(),
                users: keep.len(),
                candidates: n_cand,
                metrics,
                coverage: per_k(&|k| coverage_at_k(&lists, k, n_cand)),
                cold_share: per_k(&|k| cold_share_at_k(&lists, k, &sp.cold)),
                exposure_gini: per_k(&|k| exposure_gini_at_k(&lists, k, cand[s])),
                buckets: if s == 0 { recall_by_bucket(&lists, &truth, cfg.k[0], &data.item_popularity, &cfg.buckets) } else { Vec::new() },
            }
        })
        .collect()
}

/// Writes one model-seed's top-K lists of every segment: `<dir>/<model>-seed<s>.tsv|.parquet`
/// with columns `scope, user, item, rank, score` (raw ids, 1-based ranks).
fn export_topk(to: &TopkExport, model: &str, seed: u64, ds: &Dataset, r: &RankedLists) -> Result<()> {
    std::fs::create_dir_all(&to.dir).map_err(|e| Error::io(&to.dir, e))?;
    let slug: String = model.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let (mut scope, mut user, mut item, mut rank, mut score) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (s, lists) in r.lists.iter().enumerate() {
        for (u, list) in r.users.iter().zip(lists) {
            for (k, (i, x)) in list.iter().enumerate() {
                scope.push(SEGMENTS[s]);
                user.push(ds.users.raw(*u));
                item.push(ds.items.raw(*i));
                rank.push(k as i64 + 1);
                score.push(*x);
            }
        }
    }
    match to.format {
        synthetic::TableFormat::Tsv => {
            use std::fmt::Write;
            let path = to.dir.join(format!("{slug}-seed{seed}.tsv"));
            let mut out = String::from("scope\tuser\titem\trank\tscore\n");
            for j in 0..scope.len() {
                let _ = writeln!(out, "{}\t{}\t{}\t{}\t{}", scope[j], user[j], item[j], rank[j], score[j]);
            }
            std::fs::write(&path, out).map_err(|e| Error::io(&path, e))
        }
        synthetic::TableFormat::Parquet => {
            use fuserec_data::columnar::{OutColumn, write_table};
            let text = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
            write_table(
                &to.dir.join(format!("{slug}-seed{seed}.parquet")),
                vec![
                    OutColumn::Text("scope".into(), text(scope)),
                    OutColumn::Text("user".into(), text(user)),
                    OutColumn::Text("item".into(), text(item)),
                    OutColumn::Int("rank".into(), rank),
                    OutColumn::Float("score".into(), score.into_iter().map(f64::from).collect()),
                ],
                1 << 20,
            )
        }
    }
}
