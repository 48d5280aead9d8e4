//! Encoders from Python: texts or images through a registered backbone → a numpy matrix.

use crate::errors::{bad, interruptible};
use fuserec::features::{image_encoder, text_encoder};
use numpy::{PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::path::PathBuf;

fn matrix<'py>(py: Python<'py>, e: fuserec::core::Embeddings) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let (n, d) = (e.rows(), e.dim());
    // The Vec is moved into numpy (no copy); the reshape is a view.
    let flat = numpy::PyArray1::from_vec(py, e.into_vec());
    flat.reshape([n, d]).map_err(|e| bad(e.to_string()))
}

/// Rows of `backbone` (`hashed-ngram`, `minilm`) for each text (`cache`: where `cargo xtask
/// assets` put MiniLM). An empty text gives a zero row.
#[pyfunction]
#[pyo3(signature = (texts, backbone, cache))]
pub fn encode_texts<'py>(py: Python<'py>, texts: Vec<String>, backbone: &str, cache: PathBuf) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let backbone = backbone.to_string();
    let e = interruptible(py, move || {
        let enc = text_encoder(&backbone, &cache)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut out = Vec::with_capacity(texts.len() * enc.dim());
        for chunk in refs.chunks(256) {
            fuserec::core::cancel::check()?;
            out.extend_from_slice(enc.encode(chunk)?.as_slice());
        }
        fuserec::core::Embeddings::from_vec(texts.len(), enc.dim(), out)
    })?;
    matrix(py, e)
}

/// Rows of `backbone` (`color-hist`, `efficientnet-lite0`) for each image, given as encoded
/// bytes (PNG, JPEG); an undecodable image is an error naming its position.
#[pyfunction]
pub fn encode_images<'py>(py: Python<'py>, images: Vec<Vec<u8>>, backbone: &str) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let backbone = backbone.to_string();
    let e = interruptible(py, move || {
        let enc = image_encoder(&backbone)?;
        let mut out = Vec::with_capacity(images.len() * enc.dim());
        for (c, chunk) in images.chunks(64).enumerate() {
            fuserec::core::cancel::check()?;
            let decoded = chunk
                .iter()
                .enumerate()
                .map(|(k, b)| {
                    fuserec::data::decode_image(b).map_err(|e| fuserec::core::Error::Invalid(format!("image {}: {e}", c * 64 + k)))
                })
                .collect::<fuserec::core::Result<Vec<_>>>()?;
            out.extend_from_slice(enc.encode(&decoded)?.as_slice());
        }
        fuserec::core::Embeddings::from_vec(images.len(), enc.dim(), out)
    })?;
    matrix(py, e)
}

/// A 2-D float32 array as fuserec's matrix (one copy, from any memory order); NaN or infinite
/// values are an error naming row and column.
pub fn embeddings(x: &Bound<'_, numpy::PyArray2<f32>>) -> PyResult<fuserec::core::Embeddings> {
    let ro = x.try_readonly().map_err(|e| bad(e.to_string()))?;
    let (n, d) = (ro.shape()[0], ro.shape()[1]);
    let data = match ro.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => ro.as_array().iter().copied().collect(),
    };
    if let Some(k) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("row {}, column {}: {} is not a finite number", k / d.max(1), k % d.max(1), data[k])));
    }
    fuserec::core::Embeddings::from_vec(n, d, data).map_err(crate::errors::to_py)
}
