//! A recall model from Python: any `[[model]]` kind, fitted on a dataset and split exactly as an
//! experiment fits it (same config parser, features, split and trainer), then evaluated,
//! queried for recommendations, or read for its vectors.

use crate::dataset::Dataset;
use crate::errors::{bad, interruptible, to_py};
use fuserec::artifact::{ArtifactTarget, Catalogue, Source};
use fuserec::core::{Embeddings, Error};
use fuserec::data::Split;
use fuserec::experiment::{build_model, encode_features, evaluate};
use fuserec::recommender::positives_by_user;
use fuserec::saved::FitContext;
use fuserec::{Experiment, ExperimentConfig, ItemFeatures, ModelConfig, Recommender, TrainData};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[pyclass(frozen, module = "fuserec._fuserec")]
pub struct Model {
    model: Box<dyn Recommender>,
    cfg: ExperimentConfig,
    ds: Arc<fuserec::data::Dataset>,
    split: Split,
    features: Option<ItemFeatures>,
    seed: u64,
    /// The experiment table it was fitted with (JSON), saved beside the model.
    config_json: String,
}

/// A one-model recall experiment table (JSON), parsed and checked as experiment files are.
fn model_config(config: &str) -> fuserec::core::Result<ExperimentConfig> {
    let bad = |e: String| Error::Config(format!("model config: {e}"));
    let text = crate::run::json_to_toml(config)?;
    let cfg = match Experiment::from_toml(&text, Path::new("<model config>"))? {
        Experiment::Recall(c) => c,
        _ => return Err(bad("a model config is a recall experiment table".into())),
    };
    if cfg.models.len() != 1 {
        return Err(bad(format!("one model per Model, got {}", cfg.models.len())));
    }
    Ok(cfg)
}

impl Model {
    fn data(&self) -> TrainData<'_> {
        TrainData::new(self.ds.n_users(), self.ds.n_items(), &self.split.train, &self.split.val, self.features.as_ref())
            .with_split(&self.split, self.cfg.selection)
    }

    fn vectors<'py>(py: Python<'py>, e: Option<&Embeddings>, what: &str, name: &str) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let e = e.ok_or_else(|| bad(format!("{name} has no {what} vectors (it does not score by inner product)")))?;
        PyArray1::from_vec(py, e.as_slice().to_vec()).reshape([e.rows(), e.dim()]).map_err(|err| bad(err.to_string()))
    }
}

#[pymethods]
impl Model {
    /// `config`: an experiment table (JSON) with one `[[model]]`, a `[split]`, `[features]`,
    /// `k`, `bootstrap` and `selection` (a `[dataset]` is ignored: `dataset` is used); fitted
    /// with `seed` as an experiment fits that model for that seed.
    /// `artifact`: a folder to write the serving artifact into (two-tower models only), what
    /// `fuserec-serve --artifact` serves.
    #[staticmethod]
    #[pyo3(signature = (config, dataset, seed, cache, artifact=None))]
    fn fit(py: Python<'_>, config: &str, dataset: &Dataset, seed: u64, cache: PathBuf, artifact: Option<PathBuf>) -> PyResult<Self> {
        let cfg = model_config(config).map_err(to_py)?;
        if artifact.is_some() && !matches!(cfg.models[0], ModelConfig::TwoTower(_)) {
            return Err(bad(format!("artifact: only two-tower models write a serving artifact, not {}", cfg.models[0].kind())));
        }
        crate::dataset::check(&dataset.inner)?;
        let ds = dataset.inner.clone();
        let config_json = config.to_string();
        interruptible(py, move || {
            let features = match cfg.feature_set(&cfg.models[0]) {
                Some(set) => Some(encode_features(&set, cfg.features.preprocess, &ds, &cache)?.0),
                None => None,
            };
            let split = fuserec::data::split(&ds, &cfg.split, seed)?;
            let data =
                TrainData::new(ds.n_users(), ds.n_items(), &split.train, &split.val, features.as_ref()).with_split(&split, cfg.selection);
            let target = artifact.map(|dir| ArtifactTarget {
                dir,
                catalogue: Arc::new(Catalogue::of(&ds)),
                source: Source { experiment: cfg.name.clone(), model: 0, seed, dataset: ds.name.clone(), split: split.hash.clone() },
                backbones: cfg.feature_set(&cfg.models[0]),
            });
            let model = build_model(&cfg.models[0], &data, features.as_ref(), seed, target)?;
            Ok(Model { model, cfg, ds, split, features, seed, config_json })
        })
    }

    /// Writes the fitted model into the folder `path` (see `fuserec::saved`).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let context: serde_json::Value = serde_json::from_str(&self.config_json).map_err(|e| bad(e.to_string()))?;
        interruptible(py, || {
            let fit = FitContext { model: &self.cfg.models[0], seed: self.seed, dataset: &self.ds, split: &self.split.hash, context };
            fuserec::saved::save(&path, self.model.as_ref(), fit)
        })
    }

    /// A model saved by `save`, on the dataset it was fitted on (checked: the same ids, and the
    /// same split from the saved config and seed).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf, dataset: &Dataset) -> PyResult<Self> {
        let ds = dataset.inner.clone();
        interruptible(py, move || {
            let (m, model) = fuserec::saved::load(&path)?;
            m.dataset.check(&ds).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
            let config_json = m.context.to_string();
            let cfg = model_config(&config_json).map_err(|e| Error::Invalid(format!("{}: model.json context: {e}", path.display())))?;
            let split = fuserec::data::split(&ds, &cfg.split, m.seed)?;
            if split.hash != m.split {
                return Err(Error::Invalid(format!(
                    "{}: this dataset gives split {} with the saved config and seed {}, the model was fitted on split {}",
                    path.display(),
                    split.hash,
                    m.seed,
                    m.split
                )));
            }
            Ok(Model { model, cfg, ds, split, features: None, seed: m.seed, config_json })
        })
    }

    #[getter]
    fn name(&self) -> String {
        self.model.name()
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }
    /// The experiment table the model was fitted with (JSON).
    #[getter]
    fn config_json(&self) -> String {
        self.config_json.clone()
    }
    /// The split's content hash (as in `results.json`).
    #[getter]
    fn split_hash(&self) -> String {
        self.split.hash.clone()
    }

    /// OVERALL / WARM / COLD results on the split's test part (JSON list of segments).
    fn evaluate_json(&self, py: Python<'_>) -> PyResult<String> {
        let segs = interruptible(py, || {
            let data = self.data();
            evaluate(self.model.as_ref(), &self.cfg, &self.ds, &self.split, &data, self.seed)
        })?;
        serde_json::to_string(&segs).map_err(|e| bad(e.to_string()))
    }

    /// Top-`k` items for each raw user id: (user, item, rank, score) columns; `exclude_seen`
    /// leaves out the user's training and validation positives. An unknown user is an error.
    #[pyo3(signature = (users, k, exclude_seen=true))]
    #[allow(clippy::type_complexity)]
    fn recommend(
        &self,
        py: Python<'_>,
        users: Vec<String>,
        k: usize,
        exclude_seen: bool,
    ) -> PyResult<(Vec<String>, Vec<String>, Vec<u32>, Vec<f32>)> {
        if k == 0 {
            return Err(bad("k must be ≥ 1"));
        }
        let rows: Vec<u32> = users
            .iter()
            .map(|u| self.ds.users.get(u).ok_or_else(|| to_py(Error::UnknownId { kind: "user", id: u.clone(), context: None })))
            .collect::<PyResult<_>>()?;
        let ranked = interruptible(py, || {
            let n = self.ds.n_items();
            let history = positives_by_user(self.ds.n_users(), self.split.train.iter().chain(&self.split.val));
            let hist: Vec<&[u32]> = rows.iter().map(|&u| history[u as usize].as_slice()).collect();
            let mut out = Vec::new();
            for (chunk, hs) in rows.chunks(256).zip(hist.chunks(256)) {
                fuserec::core::cancel::check()?;
                let mut scores = vec![0f32; chunk.len() * n];
                self.model.score(chunk, hs, &mut scores);
                let exclude: Vec<Vec<u32>> = hs.iter().map(|h| if exclude_seen { h.to_vec() } else { Vec::new() }).collect();
                let cand = fuserec::index::Candidates { exclude: Some(&exclude), allowed: None };
                out.extend(fuserec::index::rank_dense(&mut scores, n, k, cand)?);
            }
            Ok(out)
        })?;
        let mut cols = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (u, list) in users.iter().zip(ranked) {
            for (r, (item, score)) in list.into_iter().enumerate() {
                cols.0.push(u.clone());
                cols.1.push(self.ds.items.raw(item).to_string());
                cols.2.push(r as u32 + 1);
                cols.3.push(score);
            }
        }
        Ok(cols)
    }

    /// Item vectors (row = internal item, see `Dataset.item_ids`), a copy.
    fn item_vectors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Self::vectors(py, self.model.item_vectors(), "item", &self.model.name())
    }
    /// User query vectors (row = internal user, see `Dataset.user_ids`), a copy.
    fn user_vectors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Self::vectors(py, self.model.user_vectors(), "user", &self.model.name())
    }
    /// Per-epoch losses and diagnostics (JSON), for models that train.
    fn training_log_json(&self) -> Option<String> {
        self.model.training_log().map(|v| v.to_string())
    }
    fn __repr__(&self) -> String {
        format!("Model({}, seed {}, split {})", self.model.name(), self.seed, self.split.hash)
    }
}
