use super::config::{CtrConfig, CtrExperiment};
use super::fitted::FittedCtr;
use crate::experiment::{RunOptions, encode_features, load_dataset};
use crate::features::ItemFeatures;
use fuserec_core::{Error, Interaction, Result, Rng};
use fuserec_data::ctr::CtrSamples;
use fuserec_data::progress::bar;
use fuserec_data::{Dataset, SplitConfig, split};
use fuserec_eval::{auc, gauc};
use fuserec_nn::{Checkpoint, DenseAdam, Dev, SparseEmbedding, device};
use fuserec_quant::Pca;
use fuserec_towers::ctr::{
    CtrBatch, CtrShape, Din, ItemVectors, Make, MakeMode, Sides, SimTierSide, make_step, predict, predict_make, train_step,
};
use std::collections::BTreeMap;
use std::time::Instant;

/// Test-set quality of one model.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Scores {
    /// ROC AUC over all test impressions.
    pub auc: f64,
    /// AUC per user, averaged with impression weights over users with both labels.
    pub gauc: f64,
    /// Users with both a click and a non-click in the test set (those GAUC averages over).
    pub gauc_users: usize,
    /// Mean binary cross-entropy.
    pub logloss: f64,
    /// GAUC per item-frequency bucket (`None`: no user with both labels in the bucket).
    pub buckets: Vec<Option<f64>>,
}

/// One CTR model trained and scored on one seed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CtrRow {
    /// The seed.
    pub seed: u64,
    /// Model name (see `CTR_MODELS`).
    pub model: String,
    /// Test-set quality.
    pub scores: Scores,
    /// Training wall time.
    pub train_seconds: f64,
    /// Training throughput.
    pub examples_per_second: f64,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f32,
}

/// One point of an epoch curve.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CurvePoint {
    /// The seed.
    pub seed: u64,
    /// Which curve (`id` or `make`).
    pub curve: String,
    /// Epochs trained.
    pub epochs: usize,
    /// Test AUC.
    pub auc: f64,
    /// Test GAUC.
    pub gauc: f64,
}

/// What the run saw of the data (the same for every seed with a temporal split).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CtrDataSummary {
    /// Training impressions.
    pub train_samples: usize,
    /// Test impressions.
    pub test_samples: usize,
    /// Click rate of the training impressions.
    pub train_click_rate: f64,
    /// Click rate of the test impressions.
    pub test_click_rate: f64,
    /// Mean behaviour sequence length (test).
    pub mean_history: f64,
    /// Share of test impressions with an empty history.
    pub empty_histories: f64,
    /// Width of the multimodal vector.
    pub vector_dim: usize,
    /// Variance share the PCA kept, when it ran.
    pub pca_explained: Option<f64>,
    /// Items with no content (zero vector).
    pub items_without_content: usize,
    /// Labels of the item-frequency buckets.
    pub bucket_labels: Vec<String>,
    /// Test impressions per bucket.
    pub bucket_test_impressions: Vec<usize>,
}

/// Everything a CTR experiment produced: its `results.json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CtrResults {
    /// Experiment name.
    pub name: String,
    /// The configuration run.
    pub config: CtrExperiment,
    /// Git revision of the source tree, when known.
    pub git_revision: String,
    /// What the run saw of the data.
    pub data: Option<CtrDataSummary>,
    /// One row per model and seed.
    pub rows: Vec<CtrRow>,
    /// Epoch curves.
    pub curves: Vec<CurvePoint>,
    /// Wall time.
    pub total_seconds: f64,
}

/// The items' multimodal vectors: fused modalities (`[text ; image ; …]`), PCA to `dim`, L2-normalised; items
/// without content get a zero row (no cosine, an empty SimTier contribution).
pub fn multimodal_vectors(f: &ItemFeatures, cfg: &super::config::MultimodalConfig, seed: u64) -> Result<(ItemVectors, Option<f64>, usize)> {
    let (fused, has) = f.fused_weighted(|m| cfg.weight(m))?;
    let (mut x, explained) = if cfg.dim == 0 || cfg.dim >= fused.dim() {
        (fused, None)
    } else {
        let p = Pca::fit(&fused, &has, cfg.dim, 8, seed)?;
        (p.transform(&fused, &has)?, Some(p.explained))
    };
    x.l2_normalize();
    let missing = has.iter().filter(|&&h| !h).count();
    let dim = x.dim();
    Ok((ItemVectors::new(x.into_vec(), dim)?, explained, missing))
}

/// Items → bucket: 0 = no training impression, 1..=k = frequency quantiles (1 rarest) over the
/// items that have some. Returns the bucket of each item and the bucket labels with count ranges.
pub fn frequency_buckets(counts: &[usize], k: usize) -> (Vec<usize>, Vec<String>) {
    let mut seen: Vec<u32> = (0..counts.len() as u32).filter(|&i| counts[i as usize] > 0).collect();
    seen.sort_by_key(|&i| (counts[i as usize], i));
    let mut bucket = vec![0usize; counts.len()];
    let mut ranges: Vec<(usize, usize)> = vec![(usize::MAX, 0); k];
    for (r, &i) in seen.iter().enumerate() {
        let b = r * k / seen.len();
        bucket[i as usize] = b + 1;
        let c = counts[i as usize];
        ranges[b] = (ranges[b].0.min(c), ranges[b].1.max(c));
    }
    let mut labels = vec!["unseen".to_string()];
    labels.extend(
        ranges.iter().enumerate().map(
            |(b, &(lo, hi))| {
                if lo == usize::MAX { format!("Q{}", b + 1) } else { format!("Q{} ({lo}–{hi})", b + 1) }
            },
        ),
    );
    (bucket, labels)
}

pub(super) fn batch(s: &CtrSamples, idx: &[usize]) -> CtrBatch {
    let cap = s.cap;
    let mut b = CtrBatch { len: cap, ..Default::default() };
    for &i in idx {
        b.targets.push(s.items[i]);
        b.labels.push(s.labels[i]);
        b.behaviours.extend_from_slice(&s.behaviours[i * cap..(i + 1) * cap]);
        b.mask.extend_from_slice(&s.mask[i * cap..(i + 1) * cap]);
    }
    b
}

/// AUC, GAUC, log loss and per-bucket GAUC of `scores` (one per sample of `s`); a non-finite
/// score or a length mismatch is an error.
pub fn metrics(s: &CtrSamples, scores: &[f32], bucket_of_item: &[usize], n_buckets: usize) -> Result<Scores> {
    if let Some(k) = scores.iter().position(|x| !x.is_finite()) {
        return Err(Error::Invalid(format!("ctr: non-finite score for test sample {k} (item {})", s.items[k])));
    }
    let labels: Vec<bool> = s.labels.iter().map(|&l| l > 0.5).collect();
    let a = auc(&labels, scores)?.ok_or_else(|| Error::Invalid("ctr: the test set needs clicks and non-clicks for AUC".into()))?;
    let (g, users) =
        gauc(&s.users, &labels, scores)?.ok_or_else(|| Error::Invalid("ctr: no test user has both a click and a non-click".into()))?;
    let logloss = scores.iter().zip(&labels).map(|(&z, &y)| {
        let z = z as f64;
        // −log σ(z) for a click, −log(1 − σ(z)) otherwise, written stably.
        let m = if y { -z } else { z };
        m.max(0.0) + (-m.abs()).exp().ln_1p()
    });
    let logloss = logloss.sum::<f64>() / scores.len() as f64;
    let buckets = (0..=n_buckets)
        .map(|b| {
            let idx: Vec<usize> = (0..s.len()).filter(|&i| bucket_of_item[s.items[i] as usize] == b).collect();
            let u: Vec<u32> = idx.iter().map(|&i| s.users[i]).collect();
            let l: Vec<bool> = idx.iter().map(|&i| labels[i]).collect();
            let sc: Vec<f32> = idx.iter().map(|&i| scores[i]).collect();
            Ok(gauc(&u, &l, &sc)?.map(|x| x.0))
        })
        .collect::<Result<_>>()?;
    Ok(Scores { auc: a, gauc: g, gauc_users: users, logloss, buckets })
}

/// Trains and scores the models of one seed.
struct Trainer<'a> {
    dev: Dev,
    cfg: &'a CtrConfig,
    train: &'a CtrSamples,
    test: &'a CtrSamples,
    vectors: &'a ItemVectors,
    buckets: &'a [usize],
    n_buckets: usize,
    n_items: usize,
    seed: u64,
    checkpoints: Option<std::path::PathBuf>,
}

struct Trained {
    scores: Scores,
    seconds: f64,
    examples_per_second: f64,
    loss: f32,
}

impl<'a> Trainer<'a> {
    fn new(cfg: &'a CtrExperiment, d: &'a SeedData, vectors: &'a ItemVectors, n_items: usize, seed: u64) -> Self {
        Trainer {
            dev: device(seed),
            cfg: &cfg.ctr,
            train: &d.train,
            test: &d.test,
            vectors,
            buckets: &d.buckets,
            n_buckets: cfg.ctr.buckets,
            n_items,
            seed,
            checkpoints: None,
        }
    }

    /// The side inputs of an id model of `CTR_MODELS` (`din`, `vector`, `simscore`, `simtier`).
    fn sides(&self, model: &str) -> Sides {
        match model {
            "vector" => Sides { vector: true, ..Default::default() },
            "simscore" => Sides { simscore: true, ..Default::default() },
            "simtier" => Sides { simtier: Some(self.tier()), ..Default::default() },
            _ => Sides::default(),
        }
    }

    fn din(&self, sides: Sides, make: Option<&Make>) -> Result<Din> {
        let c = self.cfg;
        let mut rng = Rng::derive(self.seed, 0xD1);
        let items = SparseEmbedding::new("items", self.n_items, c.dim, c.init_std, c.sparse_optimizer, &mut rng)?;
        let vectors = sides.needs_vectors().then(|| self.vectors.clone());
        Din::new(&self.dev, items, vectors, sides, &self.shape(), make, &mut rng)
    }

    fn make(&self) -> Result<Make> {
        let c = self.cfg;
        Make::new(&self.dev, self.vectors.clone(), c.make_dim, &self.shape(), &mut Rng::derive(self.seed, 0xAE))
    }

    fn shape(&self) -> CtrShape {
        CtrShape { attention_hidden: self.cfg.attention_hidden, hidden: self.cfg.hidden.clone() }
    }

    fn tier(&self) -> SimTierSide {
        SimTierSide { tiers: self.cfg.tiers, mode: self.cfg.tier_mode, learn_scale: self.cfg.learn_tier_scale }
    }

    /// One pass over the training samples in a seeded order; returns (mean loss, examples/s).
    fn epoch(&self, label: &str, epoch: usize, step: &mut dyn FnMut(&CtrBatch) -> Result<f32>) -> Result<(f32, f64)> {
        let t0 = Instant::now();
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        Rng::derive(self.seed, 0xE0 + epoch as u64).shuffle(&mut order);
        let chunks: Vec<&[usize]> = order.chunks(self.cfg.batch_size).collect();
        let pb = bar(chunks.len() as u64, &format!("seed {} · {label} · epoch {epoch}", self.seed));
        let mut total = 0.0f64;
        for (k, c) in chunks.iter().enumerate() {
            let b = batch(self.train, c);
            let l = step(&b)?;
            total += l as f64 * c.len() as f64;
            pb.inc(1);
            if k % 20 == 0 {
                pb.set_message(format!(
                    "seed {} · {label} · {epoch} · loss {:.4}",
                    self.seed,
                    total / ((k * self.cfg.batch_size + c.len()) as f64)
                ));
            }
        }
        pb.finish_and_clear();
        Ok(((total / self.train.len() as f64) as f32, self.train.len() as f64 / t0.elapsed().as_secs_f64()))
    }

    fn score(&self, f: &dyn Fn(&CtrBatch) -> Result<Vec<f32>>) -> Result<Scores> {
        let mut out = Vec::with_capacity(self.test.len());
        let idx: Vec<usize> = (0..self.test.len()).collect();
        for c in idx.chunks(1024) {
            out.extend(f(&batch(self.test, c))?);
        }
        metrics(self.test, &out, self.buckets, self.n_buckets)
    }

    fn save(&self, name: &str, din: Option<&mut Din>, make: Option<&mut Make>) -> Result<()> {
        let Some(dir) = &self.checkpoints else {
            return Ok(());
        };
        let mut ck = Checkpoint { header: serde_json::to_string(self.cfg).expect("config serialises"), ..Default::default() };
        if let Some(d) = din {
            ck.add_params("din", d);
            ck.add_table(&d.items);
        }
        if let Some(m) = make {
            ck.add_params("make", m);
        }
        let slug: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        ck.save(&dir.join(format!("{slug}-seed{}.safetensors", self.seed)))
    }

    /// An id model with `sides` trained `epochs` epochs; `each_epoch` sees the scores after each.
    fn id_model(&self, label: &str, sides: Sides, epochs: usize, each_epoch: &mut dyn FnMut(usize, &Scores)) -> Result<(Trained, Din)> {
        let mut din = self.din(sides, None)?;
        let mut opt = DenseAdam::new(self.cfg.dense_optimizer);
        let mut seconds = 0.0;
        let mut last = None;
        for e in 1..=epochs {
            let t0 = Instant::now();
            let (l, x) = self.epoch(label, e, &mut |b| train_step(&self.dev, &mut din, &mut opt, b, MakeMode::None))?;
            seconds += t0.elapsed().as_secs_f64();
            let s = self.score(&|b| predict(&self.dev, &din, None, b))?;
            each_epoch(e, &s);
            if e == self.cfg.epochs {
                last = Some(Trained { scores: s.clone(), seconds, examples_per_second: x, loss: l });
                self.save(label, Some(&mut din), None)?;
            }
        }
        let last = last
            .ok_or_else(|| Error::Config(format!("ctr: {label} trained {epochs} epochs, fewer than ctr.epochs = {}", self.cfg.epochs)))?;
        Ok((last, din))
    }

    /// The id model with MAKE plugged in, trained `ctr.epochs` (one) epochs jointly.
    fn joint(&self, label: &str, pretrained: &Make, sides: Sides, frozen: bool) -> Result<(Trained, Din, Make)> {
        let mut mk = pretrained.clone();
        let mut din = self.din(Sides { make: true, ..sides }, Some(&mk))?;
        let mut opt = DenseAdam::new(self.cfg.dense_optimizer);
        let mut mopt = DenseAdam::new(self.cfg.dense_optimizer);
        let t0 = Instant::now();
        let (mut eps, mut loss) = (0.0, 0.0);
        for e in 1..=self.cfg.epochs {
            (loss, eps) = self.epoch(label, e, &mut |b| {
                let mode = if frozen { MakeMode::Frozen(&mk) } else { MakeMode::FineTune(&mut mk, &mut mopt) };
                train_step(&self.dev, &mut din, &mut opt, b, mode)
            })?;
        }
        let seconds = t0.elapsed().as_secs_f64();
        let scores = self.score(&|b| predict(&self.dev, &din, Some(&mk), b))?;
        self.save(label, Some(&mut din), Some(&mut mk))?;
        Ok((Trained { scores, seconds, examples_per_second: eps, loss }, din, mk))
    }

    /// MAKE pre-trained alone for `ctr.make_epochs` epochs (what the joint models start from).
    fn pretrained_make(&self) -> Result<Make> {
        let mut mk = self.make()?;
        let mut mopt = DenseAdam::new(self.cfg.dense_optimizer);
        for e in 1..=self.cfg.make_epochs {
            self.epoch("make pre-training", e, &mut |b| make_step(&self.dev, &mut mk, &mut mopt, b))?;
        }
        Ok(mk)
    }
}

/// One seed's CTR data: its split, training and test impressions, item-frequency buckets.
pub struct SeedData {
    /// The split.
    pub split: fuserec_data::Split,
    /// Training impressions with histories.
    pub train: CtrSamples,
    /// Test impressions with histories.
    pub test: CtrSamples,
    /// Bucket of each item (0 = no training impression) and the buckets' labels.
    pub buckets: Vec<usize>,
    /// Bucket labels.
    pub labels: Vec<String>,
}

/// The split of `seed` and its impressions, histories from [`behaviour_log`].
pub fn seed_data(cfg: &CtrExperiment, ds: &Dataset, seed: u64) -> Result<SeedData> {
    let sp = split(ds, &cfg.split, seed)?;
    let test_log = test_interactions(&sp);
    let log = behaviour_log(&cfg.split, ds, &sp);
    let train = CtrSamples::build(&sp.train, log, ds.n_users(), cfg.ctr.history)?;
    let test = CtrSamples::build(&test_log, log, ds.n_users(), cfg.ctr.history)?;
    if train.is_empty() || test.is_empty() {
        return Err(Error::Invalid(format!(
            "ctr: {} training and {} test samples — the split left nothing to train or score",
            train.len(),
            test.len()
        )));
    }
    let mut counts = vec![0usize; ds.n_items()];
    train.items.iter().for_each(|&i| counts[i as usize] += 1);
    let (buckets, labels) = frequency_buckets(&counts, cfg.ctr.buckets);
    Ok(SeedData { split: sp, train, test, buckets, labels })
}

/// Trains one model of [`CTR_MODELS`](super::config::CTR_MODELS) on one seed as [`run`] trains
/// it (the same features, samples, orders and seeds, so its test scores are that run's row) and
/// keeps the network to score new impressions.
pub fn fit_model(cfg: &CtrExperiment, ds: &Dataset, model: &str, seed: u64, cache: &std::path::Path) -> Result<FittedCtr> {
    cfg.validate()?;
    if !super::config::CTR_MODELS.contains(&model) {
        return Err(Error::Config(format!("unknown CTR model `{model}` (known: {})", super::config::CTR_MODELS.join(", "))));
    }
    let (f, _) = encode_features(&cfg.features.set(), cfg.features.preprocess, ds, cache)?;
    let (vectors, _, _) = multimodal_vectors(&f, &cfg.multimodal, 0x3CA)?;
    let d = seed_data(cfg, ds, seed)?;
    let t = Trainer::new(cfg, &d, &vectors, ds.n_items(), seed);
    let (trained, din, make) = match model {
        "din" | "vector" | "simscore" | "simtier" => {
            let (r, din) = t.id_model(model, t.sides(model), cfg.ctr.epochs, &mut |_, _| {})?;
            (r, din, None)
        }
        _ => {
            let base = t.pretrained_make()?;
            let (sides, frozen) = match model {
                "make-frozen" => (Sides::default(), true),
                "simtier+make" => (t.sides("simtier"), cfg.ctr.make_frozen),
                _ => (Sides::default(), cfg.ctr.make_frozen),
            };
            let (r, din, mk) = t.joint(model, &base, sides, frozen)?;
            (r, din, Some(mk))
        }
    };
    Ok(FittedCtr {
        model: model.to_string(),
        seed,
        scores: trained.scores,
        final_train_loss: trained.loss,
        split: d.split.hash.clone(),
        dev: t.dev.clone(),
        din,
        make,
        log: behaviour_log(&cfg.split, ds, &d.split).to_vec(),
        n_users: ds.n_users(),
        n_items: ds.n_items(),
        history: cfg.ctr.history,
    })
}

fn test_interactions(sp: &fuserec_data::Split) -> Vec<Interaction> {
    let mut t: Vec<Interaction> = sp.test_warm.iter().chain(&sp.test_cold).copied().collect();
    t.sort_by_key(|x| (x.ts, x.user.0, x.item.0));
    t
}

/// The log behaviour sequences are read from. A global temporal split is causal: every event
/// strictly before a sample's time is known at that time, so the whole log serves. Any other split
/// (cold-start, random warm, given files) interleaves test events in time with training ones, so
/// only training interactions may form histories — or test labels would leak into features.
pub fn behaviour_log<'a>(split_cfg: &SplitConfig, ds: &'a Dataset, sp: &'a fuserec_data::Split) -> &'a [Interaction] {
    match split_cfg {
        SplitConfig::Temporal { .. } => &ds.interactions,
        _ => &sp.train,
    }
}

/// Runs a CTR experiment: every seed, every model; errors name what failed.
pub fn run(cfg: &CtrExperiment, opts: &RunOptions) -> Result<CtrResults> {
    let t_start = Instant::now();
    cfg.validate()?;
    let ds: Dataset = load_dataset(&cfg.dataset, &opts.cache)?;
    // Backbones as in recall experiments, including learned representations (`vectors:<file>`,
    // e.g. an SCL run's item vectors).
    let (f, _) = encode_features(&cfg.features.set(), cfg.features.preprocess, &ds, &opts.cache)?;
    let (vectors, explained, missing) = multimodal_vectors(&f, &cfg.multimodal, 0x3CA)?;
    if let Some(dir) = &opts.checkpoints {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let want = |m: &str| cfg.models.iter().any(|x| x == m);
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let mut summary = None;
    for &seed in &cfg.seeds {
        let d = seed_data(cfg, &ds, seed)?;
        let (train, test, buckets, labels) = (&d.train, &d.test, &d.buckets, &d.labels);
        if summary.is_none() {
            let rate = |s: &CtrSamples| s.labels.iter().map(|&l| l as f64).sum::<f64>() / s.len() as f64;
            let hist: Vec<f64> = (0..test.len()).map(|i| test.mask[i * test.cap..(i + 1) * test.cap].iter().sum::<f32>() as f64).collect();
            let mut per_bucket = vec![0usize; labels.len()];
            test.items.iter().for_each(|&i| per_bucket[buckets[i as usize]] += 1);
            let s = CtrDataSummary {
                train_samples: train.len(),
                test_samples: test.len(),
                train_click_rate: rate(train),
                test_click_rate: rate(test),
                mean_history: hist.iter().sum::<f64>() / hist.len() as f64,
                empty_histories: hist.iter().filter(|&&h| h == 0.0).count() as f64 / hist.len() as f64,
                vector_dim: vectors.dim,
                pca_explained: explained,
                items_without_content: missing,
                bucket_labels: labels.clone(),
                bucket_test_impressions: per_bucket,
            };
            if opts.log {
                eprintln!(
                    "{}: {} train / {} test impressions (click rate {:.3} / {:.3}), mean history {:.1} (empty {:.1}%), multimodal vectors {}-d{}",
                    cfg.name,
                    s.train_samples,
                    s.test_samples,
                    s.train_click_rate,
                    s.test_click_rate,
                    s.mean_history,
                    100.0 * s.empty_histories,
                    s.vector_dim,
                    s.pca_explained.map_or(String::new(), |e| format!(" (PCA keeps {:.1}% of the variance)", 100.0 * e))
                );
            }
            summary = Some(s);
        }
        let t = Trainer { checkpoints: opts.checkpoints.clone(), ..Trainer::new(cfg, &d, &vectors, ds.n_items(), seed) };
        let mut push = |model: &str, tr: Trained| {
            if opts.log {
                eprintln!(
                    "  seed {seed} {model:<28} AUC {:.4}  GAUC {:.4}  logloss {:.4}  ({:.1}s, {:.0} ex/s)",
                    tr.scores.auc, tr.scores.gauc, tr.scores.logloss, tr.seconds, tr.examples_per_second
                );
            }
            rows.push(CtrRow {
                seed,
                model: model.to_string(),
                scores: tr.scores,
                train_seconds: tr.seconds,
                examples_per_second: tr.examples_per_second,
                final_train_loss: tr.loss,
            });
        };
        // DIN, scored after every epoch up to the curve's end (its `ctr.epochs` row is the reference).
        let id_epochs = cfg.id_epoch_curve.max(cfg.ctr.epochs);
        let (din, _) = t.id_model("din", Sides::default(), id_epochs, &mut |e, s| {
            curves.push(CurvePoint { seed, curve: "DIN (id only)".into(), epochs: e, auc: s.auc, gauc: s.gauc })
        })?;
        push("din", din);
        for name in ["vector", "simscore", "simtier"] {
            if want(name) {
                let (r, _) = t.id_model(name, t.sides(name), cfg.ctr.epochs, &mut |_, _| {})?;
                push(name, r);
            }
        }
        let make_rows = ["make", "make-frozen", "simtier+make"].iter().any(|m| want(m));
        if make_rows || !cfg.make_epoch_curve.is_empty() {
            let mut mk = t.make()?;
            let mut mopt = DenseAdam::new(cfg.ctr.dense_optimizer);
            let last = cfg.make_epoch_curve.iter().copied().max().unwrap_or(0).max(cfg.ctr.make_epochs);
            let mut snapshots: BTreeMap<usize, Make> = BTreeMap::new();
            let (mut pre_seconds, mut pre_eps, mut pre_loss) = (0.0, 0.0, 0.0);
            for e in 1..=last {
                let t0 = Instant::now();
                let (l, x) = t.epoch("make pre-training", e, &mut |b| make_step(&t.dev, &mut mk, &mut mopt, b))?;
                if e <= cfg.ctr.make_epochs {
                    pre_seconds += t0.elapsed().as_secs_f64();
                    (pre_eps, pre_loss) = (x, l);
                }
                let s = t.score(&|b| predict_make(&t.dev, &mk, b))?;
                curves.push(CurvePoint { seed, curve: "MAKE alone".into(), epochs: e, auc: s.auc, gauc: s.gauc });
                if e == cfg.ctr.make_epochs {
                    push(
                        &format!("make-alone ({e} epochs)"),
                        Trained { scores: s, seconds: pre_seconds, examples_per_second: pre_eps, loss: pre_loss },
                    );
                    t.save("make-alone", None, Some(&mut mk))?;
                }
                if e == cfg.ctr.make_epochs || cfg.make_epoch_curve.contains(&e) {
                    snapshots.insert(e, mk.clone());
                }
            }
            for &e in &cfg.make_epoch_curve {
                let (r, ..) = t.joint(&format!("make-e{e}"), &snapshots[&e], Sides::default(), cfg.ctr.make_frozen)?;
                curves.push(CurvePoint { seed, curve: "DIN + MAKE (joint)".into(), epochs: e, auc: r.scores.auc, gauc: r.scores.gauc });
                if e == cfg.ctr.make_epochs && want("make") {
                    push("make", r);
                }
            }
            let base = &snapshots[&cfg.ctr.make_epochs];
            if want("make") && !cfg.make_epoch_curve.contains(&cfg.ctr.make_epochs) {
                let (r, ..) = t.joint("make", base, Sides::default(), cfg.ctr.make_frozen)?;
                push("make", r);
            }
            if want("make-frozen") {
                let (r, ..) = t.joint("make-frozen", base, Sides::default(), true)?;
                push("make-frozen", r);
            }
            if want("simtier+make") {
                let (r, ..) = t.joint("simtier+make", base, t.sides("simtier"), cfg.ctr.make_frozen)?;
                push("simtier+make", r);
            }
        }
    }
    Ok(CtrResults {
        name: cfg.name.clone(),
        config: cfg.clone(),
        git_revision: fuserec_core::provenance::git_revision(),
        data: summary,
        rows,
        curves,
        total_seconds: t_start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::{ItemId, UserId};

    #[test]
    fn frequency_buckets_by_item_rank() {
        // Items 0..8 with counts; item 2 and 6 never shown in training.
        let counts = [5, 1, 0, 9, 3, 3, 0, 7];
        let (b, labels) = frequency_buckets(&counts, 3);
        // Seen, by (count, id): 1(1) 4(3) 5(3) 0(5) 7(7) 3(9) → ranks 0..6 → buckets r*3/6 + 1.
        assert_eq!(b, vec![2, 1, 0, 3, 1, 2, 0, 3]);
        assert_eq!(labels, vec!["unseen", "Q1 (1–3)", "Q2 (3–5)", "Q3 (7–9)"]);
        // More buckets than items: empty buckets are labelled without a range.
        let (b, labels) = frequency_buckets(&[0, 4], 3);
        assert_eq!(b, vec![0, 1]);
        assert_eq!(labels[2], "Q2");
    }

    #[test]
    fn metrics_agree_with_the_foundation_metrics_and_a_hand_count() {
        let ev = |u: u32, i: u32, t: i64, l: f32| Interaction { user: UserId(u), item: ItemId(i), ts: t, label: l, weight: 1.0 };
        // User 0: clicks on items 0, 1; non-clicks on 2, 3. User 1: one click (item 1), one non-click (item 0).
        let log =
            [ev(0, 0, 1, 1.0), ev(0, 1, 2, 1.0), ev(0, 2, 3, 0.0), ev(0, 3, 4, 0.0), ev(1, 1, 5, 1.0), ev(1, 0, 6, 0.0), ev(2, 3, 7, 0.0)];
        let s = CtrSamples::build(&log, &log, 3, 4).unwrap();
        let scores = [0.9f32, 0.2, 0.5, 0.2, -1.0, 1.0, 0.0];
        // Items 0, 1 in bucket 1; items 2, 3 in bucket 2.
        let m = metrics(&s, &scores, &[1, 1, 2, 2], 2).unwrap();
        let labels: Vec<bool> = s.labels.iter().map(|&l| l > 0.5).collect();
        assert_eq!(m.auc, fuserec_eval::auc(&labels, &scores).unwrap().unwrap());
        // Hand count over 3 clicks × 4 non-clicks {0.5, 0.2, 1.0, 0.0}: click 0.9 beats three,
        // click 0.2 ties one and beats one (1.5), click −1.0 beats none.
        assert!((m.auc - 4.5 / 12.0).abs() < 1e-12, "{}", m.auc);
        // User 0: clicks {0.9, 0.2} vs {0.5, 0.2}: (1 + 1 + 0 + ½)/4 = 0.625 over 4 impressions;
        // user 1: 0 over 2; user 2 has no click and is left out.
        assert!((m.gauc - (0.625 * 4.0 + 0.0) / 6.0).abs() < 1e-12, "{}", m.gauc);
        assert_eq!(m.gauc_users, 2);
        assert_eq!(Some((m.gauc, 2)), fuserec_eval::gauc(&s.users, &labels, &scores).unwrap());
        // Bucket 1 (items 0, 1): user 0 has only clicks there; user 1: click −1.0 vs non-click 1.0.
        assert_eq!(m.buckets, vec![None, Some(0.0), None]);
        let want_ll: f64 = scores
            .iter()
            .zip(&labels)
            .map(|(&z, &y)| {
                let p = 1.0 / (1.0 + (-(z as f64)).exp());
                -(if y { p.ln() } else { (1.0 - p).ln() })
            })
            .sum::<f64>()
            / 7.0;
        assert!((m.logloss - want_ll).abs() < 1e-12);
        let mut nan = scores;
        nan[3] = f32::NAN;
        assert!(metrics(&s, &nan, &[1, 1, 2, 2], 2).is_err());
    }
}
