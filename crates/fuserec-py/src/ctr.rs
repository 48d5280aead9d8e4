//! A CTR model from Python: one model of a `kind = "ctr"` table trained on a dataset and seed
//! exactly as the CTR experiment trains it, kept to give click probabilities of impressions.

use crate::dataset::Dataset;
use crate::errors::{bad, interruptible, to_py};
use fuserec::Experiment;
use fuserec::core::Error;
use fuserec::ctr::{FittedCtr, fit_model};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[pyclass(frozen, module = "fuserec._fuserec")]
pub struct CtrModel {
    fitted: FittedCtr,
    ds: Arc<fuserec::data::Dataset>,
}

#[pymethods]
impl CtrModel {
    /// `config`: a CTR experiment table (JSON; its `[dataset]` is ignored: `dataset` is used);
    /// `model`: one of its model names (`din`, `simtier`, `make`, …).
    #[staticmethod]
    fn fit(py: Python<'_>, config: &str, model: String, dataset: &Dataset, seed: u64, cache: PathBuf) -> PyResult<Self> {
        let text = crate::run::config_text(config, "json")?;
        let cfg = match Experiment::from_toml(&text, Path::new("<ctr config>")).map_err(to_py)? {
            Experiment::Ctr(c) => c,
            _ => return Err(bad("a CTR model config is a `kind = \"ctr\"` table")),
        };
        crate::dataset::check(&dataset.inner)?;
        let ds = dataset.inner.clone();
        interruptible(py, move || Ok(CtrModel { fitted: fit_model(&cfg, &ds, &model, seed, &cache)?, ds }))
    }

    #[getter]
    fn model(&self) -> String {
        self.fitted.model.clone()
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.fitted.seed
    }
    #[getter]
    fn split_hash(&self) -> String {
        self.fitted.split.clone()
    }
    /// AUC, GAUC, log loss and GAUC per item-frequency bucket on the split's test impressions.
    fn scores_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.fitted.scores).map_err(|e| bad(e.to_string()))
    }

    /// Click probability of each impression (raw user and item ids; `timestamps`: the behaviour
    /// sequence is the user's clicks before each, default every click the model knows).
    #[pyo3(signature = (users, items, timestamps=None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        users: Vec<String>,
        items: Vec<String>,
        timestamps: Option<PyReadonlyArray1<'py, i64>>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        if users.len() != items.len() {
            return Err(bad(format!("{} users for {} items: one of each per impression", users.len(), items.len())));
        }
        let ts: Vec<i64> = match &timestamps {
            Some(t) => t.as_slice().map_err(|e| bad(format!("timestamps: {e}")))?.to_vec(),
            None => vec![i64::MAX; users.len()],
        };
        if ts.len() != users.len() {
            return Err(bad(format!("{} timestamps for {} impressions", ts.len(), users.len())));
        }
        let mut imps = Vec::with_capacity(users.len());
        for (k, ((u, i), t)) in users.iter().zip(&items).zip(&ts).enumerate() {
            let ctx = || Some(format!("impression {k}"));
            let u = self.ds.users.get(u).ok_or_else(|| to_py(Error::UnknownId { kind: "user", id: u.clone(), context: ctx() }))?;
            let i = self.ds.items.get(i).ok_or_else(|| to_py(Error::UnknownId { kind: "item", id: i.clone(), context: ctx() }))?;
            imps.push((u, i, *t));
        }
        let p = interruptible(py, || self.fitted.predict_proba(&imps))?;
        Ok(PyArray1::from_vec(py, p))
    }

    fn __repr__(&self) -> String {
        format!("CtrModel({}, seed {}, split {})", self.fitted.model, self.fitted.seed, self.fitted.split)
    }
}
