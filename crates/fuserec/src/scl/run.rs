use super::pairs::{CoEngagementPairs, CrossModalPairs, PairData, PairSource, SearchPairs};
use crate::baselines::ContentKnn;
use crate::config::{DatasetConfig, ExperimentConfig, FeaturesConfig};
use crate::experiment::{RunOptions, evaluate, load_dataset};
use crate::features::{FeatureStore, ItemFeatures, image_encoder, text_encoder};
use crate::recommender::TrainData;
use fuserec_core::{Embeddings, Error, Result};
use fuserec_data::progress::bar;
use fuserec_data::{SplitConfig, split};
use fuserec_encoders::scl::{Pair, Retrieval, SclConfig, SclModel, retrieval};
use fuserec_eval::{markdown_table, svg};
use std::path::Path;
use std::time::Instant;

/// An SCL experiment file. `kind = "scl"` tells `cargo xtask experiment` to run it here.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SclExperiment {
    /// Name; the output folder is named after it.
    pub name: String,
    /// Free text shown in the report.
    #[serde(default)]
    pub description: String,
    /// Must be `"scl"`.
    pub kind: String,
    /// One run per seed.
    #[serde(default = "one_seed")]
    pub seeds: Vec<u64>,
    /// Which dataset.
    pub dataset: DatasetConfig,
    /// Which backbones encode item content.
    #[serde(default)]
    pub features: FeaturesConfig,
    /// The recall split: its cold items are the held-out pairs' items (never trained on) and the
    /// downstream COLD evaluation's catalogue.
    #[serde(default)]
    pub split: SplitConfig,
    /// `"search"`, `"cross-modal"`, `"co-engagement"`.
    pub sources: Vec<String>,
    /// Head and training settings shared by every variant (`queue` and `triplet_weight` are set
    /// per variant).
    #[serde(default = "default_scl")]
    pub scl: SclConfig,
    /// Queue lengths K of the "+ queue" variants.
    #[serde(default = "default_queues")]
    pub queues: Vec<usize>,
    /// λ of the "+ triplet" variant (on top of the first queue length).
    #[serde(default = "half")]
    pub triplet_weight: f32,
}
fn one_seed() -> Vec<u64> {
    vec![1]
}
fn default_scl() -> SclConfig {
    toml::from_str("").expect("defaults")
}
fn default_queues() -> Vec<usize> {
    vec![1024, 16384, 65536]
}
fn half() -> f32 {
    0.5
}

/// One SCL variant trained and scored on one seed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SclRow {
    /// The seed.
    pub seed: u64,
    /// Pair source.
    pub source: String,
    /// Variant label.
    pub variant: String,
    /// Training pairs.
    pub train_pairs: usize,
    /// Held-out pairs.
    pub test_pairs: usize,
    /// Held-out retrieval quality.
    pub retrieval: Option<Retrieval>,
    /// ContentKNN COLD recall@20 with this representation as the item content.
    pub downstream_cold_recall_at_20: Option<f64>,
    /// Training throughput.
    pub pairs_per_second: Option<f64>,
    /// Loss of the last epoch.
    pub final_loss: Option<f32>,
    /// τ at the end.
    pub final_temperature: Option<f32>,
    /// Wall time.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_labels() {
        assert_eq!(super::short_label("+ queue K=65536"), "K64k");
        assert_eq!(super::short_label("+ queue K=1024 + hard-negative triplet (λ=0.5)"), "K1k+tri");
        assert_eq!(super::short_label("in-batch InfoNCE, learned τ"), "learned τ");
        assert_eq!(super::short_label("+ queue K=300"), "K300");
    }
}

/// Everything an SCL experiment produced: its `results.json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SclResults {
    /// Experiment name.
    pub name: String,
    /// The configuration run.
    pub config: SclExperiment,
    /// Git revision of the source tree, when known.
    pub git_revision: String,
    /// One row per variant and seed.
    pub rows: Vec<SclRow>,
    /// Wall time.
    pub total_seconds: f64,
}

fn source<'a>(name: &str, text: &'a dyn fuserec_encoders::TextEncoder) -> Result<Box<dyn PairSource + 'a>> {
    Ok(match name {
        "search" => Box::new(SearchPairs { text }),
        "cross-modal" => Box::new(CrossModalPairs),
        "co-engagement" => Box::new(CoEngagementPairs),
        other => {
            return Err(Error::Config(format!("scl: unknown source `{other}` (search, cross-modal, co-engagement)")));
        }
    })
}

/// Train pairs touch no cold item; test pairs are those whose positive item is cold.
fn split_pairs(d: &PairData, cold: &[bool], anchor_is_item: bool) -> (Vec<Pair>, Vec<Pair>) {
    let touches_cold = |p: &Pair| {
        cold[p.item as usize] || p.hard_negative.is_some_and(|h| cold[h as usize]) || (anchor_is_item && cold[p.anchor as usize])
    };
    let train = d.pairs.iter().copied().filter(|p| !touches_cold(p)).collect();
    let test = d
        .eval_pairs
        .as_ref()
        .unwrap_or(&d.pairs)
        .iter()
        .copied()
        .filter(|p| cold[p.item as usize] && !(anchor_is_item && cold[p.anchor as usize]))
        .collect();
    (train, test)
}

/// Runs an SCL experiment: every seed, every variant; errors name what failed.
pub fn run(cfg: &SclExperiment, opts: &RunOptions) -> Result<SclResults> {
    let t0 = Instant::now();
    if cfg.kind != "scl" {
        return Err(Error::Config(format!("{}: kind must be \"scl\"", cfg.name)));
    }
    cfg.scl.validate()?;
    let ds = load_dataset(&cfg.dataset, &opts.cache)?;
    if let Some(name) = cfg.features.extra.keys().next() {
        return Err(Error::Config(format!(
            "{}: an scl experiment reads the text and image modalities only; remove `{name}` from [features]",
            cfg.name
        )));
    }
    let text = text_encoder(&cfg.features.text, &opts.cache)?;
    let image = (cfg.features.image != "none").then(|| image_encoder(&cfg.features.image)).transpose()?;
    let store = FeatureStore::new(opts.cache.join("features"));
    let f = ItemFeatures::encode_with_store(&ds, Some(text.as_ref()), image.as_deref(), Some(&store))?;
    // What the downstream evaluation needs of a recall experiment: K = 20, no bootstrap.
    let shell = ExperimentConfig {
        name: cfg.name.clone(),
        description: String::new(),
        seeds: cfg.seeds.clone(),
        k: vec![20],
        bootstrap: 0,
        dataset: cfg.dataset.clone(),
        split: cfg.split.clone(),
        features: cfg.features.clone(),
        buckets: Default::default(),
        selection: Default::default(),
        search: None,
        models: Vec::new(),
    };
    let mut rows = Vec::new();
    for &seed in &cfg.seeds {
        let sp = split(&ds, &cfg.split, seed)?;
        let data = TrainData::new(ds.n_users(), ds.n_items(), &sp.train, &sp.val, Some(&f));
        let downstream = |items: Embeddings, has: &[bool], label: &str| -> Result<f64> {
            let m = ContentKnn::from_vectors(items, has.to_vec(), label);
            let segs = evaluate(&m, &shell, &ds, &sp, &data, seed)?;
            Ok(segs.iter().find(|s| s.segment == "COLD").map_or(f64::NAN, |s| s.metrics["recall@20"].mean))
        };
        for name in &cfg.sources {
            let src = source(name, text.as_ref())?;
            let d = src.build(&ds, &f, &sp.train, &ds.interactions)?;
            let (train, test) = split_pairs(&d, &sp.cold, name == "co-engagement");
            if opts.log {
                eprintln!(
                    "seed {seed} · {}: {} pairs → {} train (no cold item), {} held out (cold items)",
                    d.source,
                    d.pairs.len(),
                    train.len(),
                    test.len()
                );
            }
            if train.len() < 2 || test.is_empty() {
                return Err(Error::Invalid(format!(
                    "scl source {}: {} train / {} held-out pairs — too few",
                    d.source,
                    train.len(),
                    test.len()
                )));
            }
            let row = |variant: &str| SclRow {
                seed,
                source: d.source.clone(),
                variant: variant.into(),
                train_pairs: train.len(),
                test_pairs: test.len(),
                retrieval: None,
                downstream_cold_recall_at_20: None,
                pairs_per_second: None,
                final_loss: None,
                final_temperature: None,
                seconds: 0.0,
            };
            let mut raw = row("raw backbone features");
            if let Some((a, i)) = &d.raw {
                raw.retrieval = Some(retrieval(a, i, &test)?);
            }
            raw.downstream_cold_recall_at_20 = Some(downstream(d.items.clone(), &d.has_item, "raw")?);
            if opts.log {
                let x = raw.retrieval.unwrap_or_default();
                eprintln!(
                    "  {:<48} top-1 {:.3}  R@10 {:.3}  downstream COLD R@20 {:.4}",
                    "raw backbone features",
                    x.top1,
                    x.recall_at_10,
                    raw.downstream_cold_recall_at_20.unwrap_or(f64::NAN)
                );
            }
            rows.push(raw);
            let mut variants: Vec<(String, usize, f32, bool)> =
                vec![("in-batch InfoNCE".into(), 0, 0.0, false), ("in-batch InfoNCE, learned τ".into(), 0, 0.0, true)];
            variants.extend(cfg.queues.iter().map(|&k| (format!("+ queue K={k}"), k, 0.0, false)));
            // The triplet needs hard negatives; a source without them (cross-modal, co-engagement)
            // would only repeat the queue row.
            if let Some(&k) = cfg.queues.first().filter(|_| train.iter().any(|p| p.hard_negative.is_some())) {
                variants.push((format!("+ queue K={k} + hard-negative triplet (λ={})", cfg.triplet_weight), k, cfg.triplet_weight, false));
            }
            for (label, queue, lambda, learn_temperature) in variants {
                let tv = Instant::now();
                let sc = SclConfig { queue, triplet_weight: lambda, learn_temperature, ..cfg.scl.clone() };
                let mut m = SclModel::new(&sc, d.anchors.dim(), d.items.dim(), seed)?;
                let pb = bar(sc.epochs as u64, &format!("{} · {label}", d.source));
                let log = m.fit(&d.anchors, &d.items, &train, seed, &mut |e| {
                    pb.inc(1);
                    pb.set_message(format!("{} loss {:.3}", e.epoch, e.loss));
                })?;
                pb.finish_and_clear();
                let (qa, qi) = (m.encode_anchors(&d.anchors)?, m.encode_items(&d.items)?);
                if let Some(dir) = &opts.checkpoints {
                    // The learned item representation (rows = internal item order) and both heads.
                    let slug: String = format!("{}-{label}-seed{seed}", d.source)
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    let mut ck =
                        fuserec_nn::Checkpoint { header: serde_json::to_string(&sc).expect("config serialises"), ..Default::default() };
                    ck.add_params("query", &mut m.query);
                    ck.add_params("key", &mut m.key);
                    ck.tensors.insert("item_vectors".into(), (vec![qi.rows(), qi.dim()], qi.as_slice().to_vec()));
                    ck.save(&dir.join(format!("{slug}.safetensors")))?;
                }
                let mut r = row(&label);
                r.retrieval = Some(retrieval(&qa, &qi, &test)?);
                r.downstream_cold_recall_at_20 = Some(downstream(qi, &d.has_item, "scl")?);
                r.pairs_per_second = Some(log.iter().map(|e| e.pairs_per_second).sum::<f64>() / log.len().max(1) as f64);
                r.final_loss = log.last().map(|e| e.info_nce);
                r.final_temperature = log.last().map(|e| e.temperature);
                r.seconds = tv.elapsed().as_secs_f64();
                if opts.log {
                    let x = r.retrieval.unwrap_or_default();
                    eprintln!(
                        "  {label:<48} top-1 {:.3}  R@10 {:.3}  downstream COLD R@20 {:.4}  ({:.1}s)",
                        x.top1,
                        x.recall_at_10,
                        r.downstream_cold_recall_at_20.unwrap_or(f64::NAN),
                        r.seconds
                    );
                }
                rows.push(r);
            }
        }
    }
    Ok(SclResults {
        name: cfg.name.clone(),
        config: cfg.clone(),
        git_revision: fuserec_core::provenance::git_revision(),
        rows,
        total_seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Axis label for a variant: `+ queue K=65536 + hard-negative triplet (λ=0.5)` → `K64k+tri`.
fn short_label(v: &str) -> String {
    if v.starts_with("raw") {
        return "raw".into();
    }
    if v.contains("learned τ") {
        return "learned τ".into();
    }
    if v.starts_with("in-batch") {
        return "in-batch".into();
    }
    let k = v.split("K=").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<usize>().ok());
    let mut s = match k {
        Some(k) if k >= 1024 && k % 1024 == 0 => format!("K{}k", k / 1024),
        Some(k) => format!("K{k}"),
        None => v.to_string(),
    };
    if v.contains("triplet") {
        s += "+tri";
    }
    s
}

impl SclResults {
    fn mean(&self, source: &str, variant: &str, f: &dyn Fn(&SclRow) -> Option<f64>) -> Option<f64> {
        let v: Vec<f64> = self.rows.iter().filter(|r| r.source == source && r.variant == variant).filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    fn keys(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for r in &self.rows {
            let k = (r.source.clone(), r.variant.clone());
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }

    /// Mean over seeds per source × variant.
    pub fn table(&self) -> String {
        let fmt = |x: Option<f64>, p: usize| x.map_or("–".to_string(), |v| format!("{v:.p$}"));
        let rows: Vec<Vec<String>> = self
            .keys()
            .iter()
            .map(|(s, v)| {
                let any = self.rows.iter().find(|r| &r.source == s && &r.variant == v).expect("key from rows");
                vec![
                    s.clone(),
                    v.clone(),
                    format!("{} / {}", any.train_pairs, any.test_pairs),
                    fmt(self.mean(s, v, &|r| r.retrieval.map(|x| x.top1)), 3),
                    fmt(self.mean(s, v, &|r| r.retrieval.map(|x| x.recall_at_10)), 3),
                    fmt(self.mean(s, v, &|r| r.downstream_cold_recall_at_20), 4),
                    fmt(self.mean(s, v, &|r| r.final_loss.map(|x| x as f64)), 3),
                    fmt(self.mean(s, v, &|r| r.final_temperature.map(|x| x as f64)), 3),
                    fmt(self.mean(s, v, &|r| r.pairs_per_second), 0),
                ]
            })
            .collect();
        markdown_table(
            &[
                "source",
                "representation",
                "train / held-out pairs",
                "held-out top-1",
                "held-out Recall@10",
                "ContentKNN COLD recall@20",
                "final InfoNCE",
                "τ (end)",
                "train pairs/s",
            ],
            &rows,
        )
    }

    /// SVG bars of each variant's retrieval quality.
    pub fn chart(&self) -> String {
        let keys = self.keys();
        let mut variants: Vec<String> = Vec::new();
        let mut sources: Vec<String> = Vec::new();
        for (s, v) in &keys {
            if !variants.contains(v) {
                variants.push(v.clone());
            }
            if !sources.contains(s) {
                sources.push(s.clone());
            }
        }
        let series: Vec<svg::Series> = sources
            .iter()
            .map(|s| svg::Series {
                name: s.clone(),
                values: variants.iter().map(|v| self.mean(s, v, &|r| r.retrieval.map(|x| x.recall_at_10)).unwrap_or(f64::NAN)).collect(),
                intervals: None,
            })
            .collect();
        let short: Vec<String> = variants.iter().map(|v| short_label(v)).collect();
        svg::bar_chart(&format!("{} — held-out pair Recall@10", self.name), "Recall@10", &short, &series)
    }

    /// Writes `report.md`, `results.json` and the chart into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let md = format!(
            "# {}\n\n{}\n\n- seeds {:?}; git {}; {:.1}s\n- held-out pairs: those whose item is cold in the recall split (never seen in SCL training); retrieval ranks the full item pool.\n\n{}\n![recall@10](scl.svg)\n",
            self.name,
            self.config.description,
            self.config.seeds,
            self.git_revision,
            self.total_seconds,
            self.table()
        );
        for (name, text) in [
            ("results.json", serde_json::to_string_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?),
            ("report.md", md),
            ("scl.svg", self.chart()),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    }
}
