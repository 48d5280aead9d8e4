//! Experiments from Python: the same config, runner and output files as `cargo xtask experiment`.

use crate::errors::{bad, interruptible};
use fuserec::{Experiment, RunOptions, TopkExport};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

/// A config as TOML text; a host's dict arrives as JSON and is turned into the same TOML, so both
/// meet the same parser and checks.
pub fn config_text(text: &str, format: &str) -> PyResult<String> {
    match format {
        "toml" => Ok(text.to_string()),
        "json" => json_to_toml(text).map_err(|e| bad(e.to_string())),
        other => Err(bad(format!("config format `{other}`: toml or json"))),
    }
}

/// A JSON table as TOML text (usable off the interpreter's thread: a plain Rust error).
pub fn json_to_toml(text: &str) -> fuserec::core::Result<String> {
    let bad = fuserec::core::Error::Config;
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let t = toml::Value::try_from(v).map_err(|e| bad(format!("{e} (None values are not allowed)")))?;
    toml::to_string(&t).map_err(|e| bad(e.to_string()))
}

/// Runs an experiment of any kind (recall, scl, ctr) and writes what `cargo xtask experiment`
/// writes into `out` (`results.json`, `report.md`, plots; recall: `metrics.csv`, trained
/// artifacts under `checkpoints/`; ctr: `checkpoints/`; scl: `representations/`); returns `out`.
#[pyfunction]
#[pyo3(signature = (text, format, origin, cache, out, seeds=None, export_topk=false, export_format="tsv", log=false))]
#[allow(clippy::too_many_arguments)]
pub fn run_experiment(
    py: Python<'_>,
    text: &str,
    format: &str,
    origin: &str,
    cache: PathBuf,
    out: PathBuf,
    seeds: Option<Vec<u64>>,
    export_topk: bool,
    export_format: &str,
    log: bool,
) -> PyResult<PathBuf> {
    let text = config_text(text, format)?;
    let mut exp = Experiment::from_toml(&text, Path::new(origin)).map_err(crate::errors::to_py)?;
    if let Some(s) = seeds {
        if s.is_empty() {
            return Err(bad("seeds is empty"));
        }
        match &mut exp {
            Experiment::Recall(c) => c.seeds = s,
            Experiment::Scl(c) => c.seeds = s,
            Experiment::Ctr(c) => c.seeds = s,
        }
    }
    if export_topk && !matches!(exp, Experiment::Recall(_)) {
        return Err(bad(format!("{origin}: export_topk applies to recall experiments, `{}` is not one", exp.name())));
    }
    let format: fuserec::data::synthetic::TableFormat = export_format.parse().map_err(crate::errors::to_py)?;
    let artefacts = if matches!(exp, Experiment::Scl(_)) { "representations" } else { "checkpoints" };
    let opts = RunOptions {
        cache,
        export_topk: export_topk.then(|| TopkExport { dir: out.join("topk"), format }),
        log,
        checkpoints: Some(out.join(artefacts)),
    };
    interruptible(py, move || {
        match &exp {
            Experiment::Recall(cfg) => fuserec::run(cfg, &opts)?.write(&out)?,
            Experiment::Scl(cfg) => fuserec::scl::run(cfg, &opts)?.write(&out)?,
            Experiment::Ctr(cfg) => fuserec::ctr::run(cfg, &opts)?.write(&out)?,
        }
        Ok(out)
    })
}
