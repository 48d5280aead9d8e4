//! `fuserec._fuserec`: the native half of the `fuserec` Python package. Thin: every call goes to
//! the Rust crates (the same loaders, encoders, quantisers, models and experiment runner as
//! `cargo xtask`), with the GIL released and Ctrl-C turned into a cooperative stop; the Pythonic
//! layer (DataFrames, classes, defaults) is `python/fuserec/__init__.py`.

mod ctr;
mod dataset;
mod encode;
mod errors;
mod model;
mod quant;
mod run;

use pyo3::prelude::*;

/// Hides (`True`) or shows the progress bars of long calls (they draw on a terminal only).
#[pyfunction]
fn set_quiet(quiet: bool) {
    fuserec::data::progress::set_quiet(quiet);
}

/// Where assets, worlds and the feature store live (`FUSEREC_CACHE_DIR`, else the user cache).
#[pyfunction]
fn cache_dir() -> std::path::PathBuf {
    fuserec::data::assets::cache_dir()
}

#[pymodule]
fn _fuserec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // As the `fuserec` binary does: training keeps freed activation buffers (no page faults).
    fuserec::nn::retain_freed_memory();
    m.add("FuserecError", m.py().get_type::<errors::FuserecError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(set_quiet, m)?)?;
    m.add_function(wrap_pyfunction!(cache_dir, m)?)?;
    m.add_function(wrap_pyfunction!(run::run_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(encode::encode_texts, m)?)?;
    m.add_function(wrap_pyfunction!(encode::encode_images, m)?)?;
    m.add_class::<dataset::Dataset>()?;
    m.add_class::<quant::Quantizer>()?;
    m.add_class::<model::Model>()?;
    m.add_class::<ctr::CtrModel>()?;
    Ok(())
}
