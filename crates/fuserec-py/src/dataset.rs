//! Datasets: a folder in fuserec's layout (TSV, CSV or Parquet: the Python layer writes
//! DataFrames there), MMRec's layout, or the synthetic world — loaded by the Rust loaders, so the
//! validation and error messages are theirs.

use crate::errors::{interruptible, to_py};
use fuserec::data::{LoadOptions, UnknownIdPolicy};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

#[pyclass(frozen, module = "fuserec._fuserec")]
pub struct Dataset {
    pub inner: Arc<fuserec::data::Dataset>,
}

fn policy(name: &str) -> PyResult<UnknownIdPolicy> {
    match name {
        "error" => Ok(UnknownIdPolicy::Error),
        "skip" => Ok(UnknownIdPolicy::Skip),
        "add" => Ok(UnknownIdPolicy::Add),
        other => Err(crate::errors::bad(format!("unknown_items = `{other}`: error, skip or add"))),
    }
}

#[pymethods]
impl Dataset {
    /// A folder with `items` and `interactions` tables (`.tsv`, `.csv` or `.parquet`), or train /
    /// val / test files; `name` (default: the folder's name) keys the feature store.
    #[staticmethod]
    #[pyo3(signature = (path, unknown_items="error", name=None))]
    fn load(py: Python<'_>, path: PathBuf, unknown_items: &str, name: Option<String>) -> PyResult<Self> {
        let opts = LoadOptions { unknown_items: policy(unknown_items)? };
        let mut ds = interruptible(py, move || fuserec::data::load_dir(&path, &opts))?;
        if let Some(n) = name {
            ds.name = n;
        }
        Ok(Dataset { inner: Arc::new(ds) })
    }

    /// MMRec's layout (`<name>.inter` with `x_label`), with its published split.
    #[staticmethod]
    fn mmrec(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(Dataset { inner: Arc::new(interruptible(py, move || fuserec::data::mmrec::load_mmrec(&path))?) })
    }

    /// The synthetic world (cached under `cache/worlds`), as `[dataset] kind = "synthetic"`.
    #[staticmethod]
    #[pyo3(signature = (cache, seed=7, scale=1.0))]
    fn synthetic(py: Python<'_>, cache: PathBuf, seed: u64, scale: f64) -> PyResult<Self> {
        let cfg = fuserec::DatasetConfig::Synthetic { seed, scale };
        Ok(Dataset { inner: Arc::new(interruptible(py, move || fuserec::experiment::load_dataset(&cfg, &cache))?) })
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    #[getter]
    fn root(&self) -> PathBuf {
        self.inner.root.clone()
    }
    #[getter]
    fn n_users(&self) -> usize {
        self.inner.n_users()
    }
    #[getter]
    fn n_items(&self) -> usize {
        self.inner.n_items()
    }
    #[getter]
    fn n_interactions(&self) -> usize {
        self.inner.interactions.len()
    }
    /// The load report (rows read, kept, duplicates, unknown ids, …) as JSON.
    fn report_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.report).map_err(|e| crate::errors::bad(e.to_string()))
    }
    /// Raw user ids, in internal order.
    fn user_ids(&self) -> Vec<String> {
        (0..self.inner.n_users()).map(|u| self.inner.users.raw(u as u32).to_string()).collect()
    }
    /// Raw item ids, in internal order.
    fn item_ids(&self) -> Vec<String> {
        (0..self.inner.n_items()).map(|i| self.inner.items.raw(i as u32).to_string()).collect()
    }
    /// Per item: title, description, tags (`|`-joined) and image path (`""`: none).
    fn item_columns(&self) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
        let m = &self.inner.items_meta;
        (
            m.iter().map(|x| x.title.clone()).collect(),
            m.iter().map(|x| x.description.clone()).collect(),
            m.iter().map(|x| x.tags.join("|")).collect(),
            m.iter().map(|x| x.image.as_ref().map(|p| p.display().to_string()).unwrap_or_default()).collect(),
        )
    }
    /// The interactions, sorted by (time, user, item), as arrays of internal user and item
    /// indices, timestamps and labels (built here, handed to numpy without a copy).
    #[allow(clippy::type_complexity)]
    fn interaction_arrays<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>) {
        let x = &self.inner.interactions;
        (
            x.iter().map(|r| r.user.0).collect::<Vec<_>>().into_pyarray(py),
            x.iter().map(|r| r.item.0).collect::<Vec<_>>().into_pyarray(py),
            x.iter().map(|r| r.ts).collect::<Vec<_>>().into_pyarray(py),
            x.iter().map(|r| r.label).collect::<Vec<_>>().into_pyarray(py),
        )
    }
    fn __repr__(&self) -> String {
        format!(
            "Dataset({:?}: {} users, {} items, {} interactions)",
            self.inner.name,
            self.inner.n_users(),
            self.inner.n_items(),
            self.inner.interactions.len()
        )
    }
}

/// A dataset a model can be fitted on: it has interactions (else an error naming it).
pub fn check(ds: &fuserec::data::Dataset) -> PyResult<()> {
    if ds.interactions.is_empty() {
        return Err(to_py(fuserec::core::Error::Invalid(format!("dataset {}: no interactions", ds.name))));
    }
    Ok(())
}
