//! Hyper-parameter search for any model: a `[search]` table names, per model kind (or two-tower
//! label), candidate values of its config keys. Every trial is fit on the training interactions
//! and scored on validation only (the experiment's `selection` metric); the pick is then
//! evaluated once on test by the runner. Deterministic by seed.
//!
//! ```toml
//! [search]
//! kind = "random"      # or "grid"
//! trials = 12          # per searched model and seed: the same budget for every model
//! [search.space.bpr]
//! factors = [32, 64, 128]
//! reg = [0.0001, 0.001, 0.01]
//! ```

use crate::config::{ExperimentConfig, ModelConfig};
use crate::recommender::{Recommender, TrainData};
use crate::validation::{ValScores, validate_model, validation_users};
use fuserec_core::{Error, Result, Rng};
use std::collections::BTreeMap;
use std::time::Instant;

/// How combinations of a search space are chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchKind {
    /// Every combination of the listed values (a seeded sample of `trials` of them if more).
    Grid,
    /// `trials` combinations drawn without replacement (seeded).
    #[default]
    Random,
}

/// The `[search]` table: which keys of which models to search over, and how.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Grid or random.
    #[serde(default)]
    pub kind: SearchKind,
    /// Trials per searched model and seed.
    #[serde(default = "d_trials")]
    pub trials: usize,
    /// Seeds the sampling of combinations (mixed with the run's seed).
    #[serde(default)]
    pub seed: u64,
    /// Validation users per trial (a seeded sample; all when fewer).
    #[serde(default = "d_users")]
    pub val_users: usize,
    /// Model kind or two-tower `label` → config key → candidate values.
    pub space: BTreeMap<String, BTreeMap<String, Vec<toml::Value>>>,
}

fn d_trials() -> usize {
    12
}
fn d_users() -> usize {
    2000
}

/// One trial: the values it set, its validation scores and what selection saw.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Trial {
    /// Key → value this trial set.
    pub params: BTreeMap<String, String>,
    /// The trial model's display name.
    pub model: String,
    /// Its validation recalls.
    pub val: ValScores,
    /// Its selection score.
    pub selection: f64,
    /// Fit wall time.
    pub fit_seconds: f64,
}

/// A model's search: every trial and the pick.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SearchLog {
    /// Trials in run order.
    pub trials: Vec<Trial>,
    /// Index of the picked trial.
    pub pick: usize,
}

/// The key a model's search space is filed under: its two-tower label, else its kind.
pub fn space_key(m: &ModelConfig) -> String {
    match m {
        ModelConfig::TwoTower(t) => t.label.clone().unwrap_or_else(|| m.kind().to_string()),
        _ => m.kind().to_string(),
    }
}

impl SearchConfig {
    /// A message naming the first problem (no trials, a space naming no model, an unknown key).
    pub fn validate(&self, exp: &ExperimentConfig) -> std::result::Result<(), String> {
        if self.trials == 0 {
            return Err("search: trials must be ≥ 1".into());
        }
        for (key, params) in &self.space {
            let models: Vec<&ModelConfig> = exp.models.iter().filter(|m| &space_key(m) == key).collect();
            if models.is_empty() {
                return Err(format!("search: space `{key}` names no [[model]] (by kind, or two-tower label)"));
            }
            if params.is_empty() || params.values().any(|v| v.is_empty()) {
                return Err(format!("search: space `{key}` needs at least one key with at least one value"));
            }
            // Every value must make a valid config (catches typos in keys and wrong types).
            for m in models {
                for (k, vals) in params {
                    for v in vals {
                        let one = BTreeMap::from([(k.clone(), v.clone())]);
                        with_params(m, &one).map_err(|e| format!("search: space `{key}`: {k} = {v}: {e}"))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The space for `m`, if it is searched.
    pub fn space_for(&self, m: &ModelConfig) -> Option<&BTreeMap<String, Vec<toml::Value>>> {
        self.space.get(&space_key(m))
    }

    /// The trials' parameter sets for one model, deterministic by `(self.seed, run_seed)`.
    pub fn combinations(&self, space: &BTreeMap<String, Vec<toml::Value>>, run_seed: u64) -> Vec<BTreeMap<String, toml::Value>> {
        let keys: Vec<&String> = space.keys().collect();
        let sizes: Vec<usize> = keys.iter().map(|k| space[*k].len()).collect();
        let total: usize = sizes.iter().product();
        let decode = |mut n: usize| -> BTreeMap<String, toml::Value> {
            let mut out = BTreeMap::new();
            for (k, &s) in keys.iter().zip(&sizes).rev() {
                out.insert((*k).clone(), space[*k][n % s].clone());
                n /= s;
            }
            out
        };
        let mut idx: Vec<usize> = (0..total).collect();
        if self.kind == SearchKind::Random || total > self.trials {
            Rng::derive(self.seed ^ run_seed.rotate_left(17), 0x5EA).shuffle(&mut idx);
            idx.truncate(self.trials);
        }
        idx.into_iter().map(decode).collect()
    }
}

/// `m` with the given keys set (through its TOML form, so every key a config accepts can be searched).
pub fn with_params(m: &ModelConfig, params: &BTreeMap<String, toml::Value>) -> std::result::Result<ModelConfig, String> {
    let mut v = toml::Value::try_from(m).map_err(|e| e.to_string())?;
    let table = v.as_table_mut().ok_or("model config is not a table")?;
    for (k, val) in params {
        if k == "kind" {
            return Err("the model kind cannot be searched".into());
        }
        table.insert(k.clone(), val.clone());
    }
    let out: ModelConfig = v.try_into().map_err(|e: toml::de::Error| e.to_string())?;
    out.validate()?;
    Ok(out)
}

/// Runs the trials of one model: `fit` builds and fits a config on the training data. Returns
/// the picked model (already fit) and the log.
pub fn search_model(
    cfg: &SearchConfig,
    m: &ModelConfig,
    data: &TrainData,
    seed: u64,
    fit: &mut dyn FnMut(&ModelConfig) -> Result<Box<dyn Recommender>>,
    say: &dyn Fn(String),
) -> Result<(Box<dyn Recommender>, SearchLog)> {
    let space = cfg.space_for(m).ok_or_else(|| Error::Config(format!("search: no space for `{}`", space_key(m))))?;
    let users = validation_users(data, cfg.val_users, seed);
    if users.is_empty() {
        return Err(Error::Invalid("search: the split has no validation positives to select on".into()));
    }
    let mut trials = Vec::new();
    let mut best: Option<(f64, Box<dyn Recommender>, usize)> = None;
    for (n, params) in cfg.combinations(space, seed).into_iter().enumerate() {
        let mc = with_params(m, &params).map_err(Error::Config)?;
        let t0 = Instant::now();
        let model = fit(&mc)?;
        let fit_seconds = t0.elapsed().as_secs_f64();
        let val = validate_model(model.as_ref(), data, &users)?;
        let selection = val.select(data.selection);
        let shown: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
        say(format!(
            "    trial {:>2}: {:<40} val {:.4} (overall {} warm {} cold {})",
            n + 1,
            format!("{shown:?}"),
            selection,
            fmt(val.overall),
            fmt(val.warm),
            fmt(val.cold)
        ));
        trials.push(Trial { params: shown, model: model.name(), val, selection, fit_seconds });
        if best.as_ref().is_none_or(|b| selection > b.0) {
            best = Some((selection, model, n));
        }
    }
    let (_, model, pick) = best.ok_or_else(|| Error::Invalid("search: no trial ran".into()))?;
    Ok((model, SearchLog { trials, pick }))
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.4}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn exp(search: &str) -> std::result::Result<ExperimentConfig, String> {
        let text =
            format!("name = \"t\"\n[dataset]\nkind = \"synthetic\"\n[[model]]\nkind = \"ease\"\n[[model]]\nkind = \"bpr\"\n{search}");
        ExperimentConfig::from_toml(&text, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn grid_and_random_are_deterministic_and_within_budget() {
        let c = exp("[search]\nkind = \"grid\"\ntrials = 4\n[search.space.bpr]\nfactors = [8, 16]\nreg = [0.1, 0.01, 0.001]").unwrap();
        let s = c.search.as_ref().unwrap();
        let space = s.space_for(&c.models[1]).unwrap();
        let a = s.combinations(space, 1);
        assert_eq!(a.len(), 4, "grid of 6 capped at the budget");
        assert_eq!(a, s.combinations(space, 1), "same seed, same trials");
        let distinct: std::collections::BTreeSet<String> = a.iter().map(|p| format!("{p:?}")).collect();
        assert_eq!(distinct.len(), 4, "no combination twice");
        let full = SearchConfig { trials: 100, ..s.clone() }.combinations(space, 1);
        assert_eq!(full.len(), 6);
        assert_eq!(full[0]["factors"].as_integer(), Some(8));
        assert_eq!(full[5]["reg"].as_float(), Some(0.001));
        // The picked keys land in the config.
        let m = with_params(&c.models[1], &full[5]).unwrap();
        let ModelConfig::Bpr(b) = m else { panic!("bpr") };
        assert_eq!((b.factors, b.reg), (16, 0.001));
        assert!(s.space_for(&c.models[0]).is_none());
    }

    #[test]
    fn bad_spaces_are_refused_with_the_key() {
        let e = exp("[search]\n[search.space.bpr]\nfactor = [8]").unwrap_err();
        assert!(e.contains("factor"), "{e}");
        let e = exp("[search]\n[search.space.vbpr]\nfactors = [8]").unwrap_err();
        assert!(e.contains("vbpr"), "{e}");
        let e = exp("[search]\n[search.space.ease]\nlambda = [-1.0]").unwrap_err();
        assert!(e.contains("lambda"), "{e}");
        assert!(exp("[search]\ntrials = 0\n[search.space.ease]\nlambda = [1.0]").is_err());
    }
}
