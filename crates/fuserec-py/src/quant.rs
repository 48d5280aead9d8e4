//! Quantisers on numpy arrays: k-means, the hierarchical tree, residual k-means; fit, encode,
//! reconstruct, save, load (the Python classes `KMeans`, `HierarchicalKMeans`, `ResidualKMeans`
//! wrap this one object).

use crate::encode::embeddings;
use crate::errors::{bad, interruptible, to_py};
use fuserec::quant::{HierarchicalKMeans, KMeans, KMeansConfig, ResidualConfig, ResidualKMeans, Saved, TreeConfig};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::path::PathBuf;

enum Fitted {
    KMeans(KMeans),
    Tree(HierarchicalKMeans),
    Residual(ResidualKMeans),
    Loaded(Box<dyn fuserec::quant::Quantizer>),
}

#[pyclass(frozen, module = "fuserec._fuserec")]
pub struct Quantizer {
    fitted: Fitted,
}

impl Quantizer {
    fn q(&self) -> &dyn fuserec::quant::Quantizer {
        match &self.fitted {
            Fitted::KMeans(q) => q,
            Fitted::Tree(q) => q,
            Fitted::Residual(q) => q,
            Fitted::Loaded(q) => q.as_ref(),
        }
    }
}

fn codes_array<'py>(py: Python<'py>, c: fuserec::quant::Codes) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let (n, l) = (c.len(), c.levels());
    PyArray1::from_vec(py, c.as_slice().to_vec()).reshape([n, l]).map_err(|e| bad(e.to_string()))
}

#[pymethods]
impl Quantizer {
    /// k-means++ seeding, Lloyd iterations (deterministic by seed).
    #[staticmethod]
    #[pyo3(signature = (x, k, seed=0, max_iter=25))]
    fn fit_kmeans(py: Python<'_>, x: &Bound<'_, PyArray2<f32>>, k: usize, seed: u64, max_iter: usize) -> PyResult<Self> {
        let x = embeddings(x)?;
        let cfg = KMeansConfig { max_iter, ..KMeansConfig::new(k, seed) };
        Ok(Quantizer { fitted: Fitted::KMeans(interruptible(py, move || KMeans::fit(&x, &cfg))?) })
    }

    /// A tree of `depth` levels, `branching` children per node: one code per level.
    #[staticmethod]
    #[pyo3(signature = (x, branching, depth, seed=0, max_iter=25))]
    fn fit_tree(
        py: Python<'_>,
        x: &Bound<'_, PyArray2<f32>>,
        branching: usize,
        depth: usize,
        seed: u64,
        max_iter: usize,
    ) -> PyResult<Self> {
        let x = embeddings(x)?;
        Ok(Quantizer {
            fitted: Fitted::Tree(interruptible(py, move || HierarchicalKMeans::fit(&x, &TreeConfig { branching, depth, seed, max_iter }))?),
        })
    }

    /// `levels` codebooks of `k` centroids, each quantising the previous level's residual.
    #[staticmethod]
    #[pyo3(signature = (x, levels, k, seed=0, max_iter=25))]
    fn fit_residual(py: Python<'_>, x: &Bound<'_, PyArray2<f32>>, levels: usize, k: usize, seed: u64, max_iter: usize) -> PyResult<Self> {
        let x = embeddings(x)?;
        Ok(Quantizer {
            fitted: Fitted::Residual(interruptible(py, move || ResidualKMeans::fit(&x, &ResidualConfig { levels, k, seed, max_iter }))?),
        })
    }

    /// A quantiser saved by `save` (or `cargo xtask quantize`).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(Quantizer { fitted: Fitted::Loaded(fuserec::quant::load(&path).map_err(to_py)?) })
    }

    fn save(&self, path: PathBuf) -> PyResult<()> {
        let saved = match &self.fitted {
            Fitted::KMeans(q) => Saved::KMeans(q),
            Fitted::Tree(q) => Saved::Tree(q),
            Fitted::Residual(q) => Saved::Residual(q),
            Fitted::Loaded(_) => return Err(bad("a loaded quantiser is saved already: copy its file")),
        };
        fuserec::quant::save(saved, &path).map_err(to_py)
    }

    /// Codes of each row, one column per level (uint32).
    fn encode<'py>(&self, py: Python<'py>, x: &Bound<'py, PyArray2<f32>>) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let x = embeddings(x)?;
        if x.dim() != self.q().dim() {
            return Err(bad(format!("rows have {} values, the quantiser was fitted on {}", x.dim(), self.q().dim())));
        }
        let c = self.q().encode(&x).map_err(to_py)?;
        codes_array(py, c)
    }

    /// Rows rebuilt from their codes at levels `0..=level`.
    fn reconstruct<'py>(&self, py: Python<'py>, codes: &Bound<'py, PyArray2<u32>>, level: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let ro = codes.try_readonly().map_err(|e| bad(e.to_string()))?;
        let (n, l) = (ro.shape()[0], ro.shape()[1]);
        let c = fuserec::quant::Codes::from_vec(n, l, ro.as_array().iter().copied().collect()).map_err(to_py)?;
        let e = self.q().reconstruct(&c, level).map_err(to_py)?;
        let (n, d) = (e.rows(), e.dim());
        PyArray1::from_vec(py, e.into_vec()).reshape([n, d]).map_err(|e| bad(e.to_string()))
    }

    #[getter]
    fn name(&self) -> String {
        self.q().name()
    }
    #[getter]
    fn dim(&self) -> usize {
        self.q().dim()
    }
    #[getter]
    fn levels(&self) -> usize {
        self.q().levels()
    }
    #[getter]
    fn codes_per_level(&self) -> Vec<usize> {
        self.q().codes_per_level()
    }
    /// k-means only: the centroids (a copy) and the objective after each assignment step.
    fn kmeans_state<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray2<f32>>, Vec<f64>)> {
        match &self.fitted {
            Fitted::KMeans(q) => {
                let c = &q.centroids;
                let a = PyArray1::from_vec(py, c.as_slice().to_vec()).reshape([c.rows(), c.dim()]).map_err(|e| bad(e.to_string()))?;
                Ok((a, q.objective.clone()))
            }
            _ => Err(bad("not a k-means quantiser fitted in this process")),
        }
    }
    fn __repr__(&self) -> String {
        format!("Quantizer({})", self.q().name())
    }
}
