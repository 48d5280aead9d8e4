//! Any experiment file, by its top-level `kind`: `recall` (the default: the table may omit it),
//! `scl` or `ctr`. The text is parsed once; the kind picks the config type its table becomes.

use crate::config::ExperimentConfig;
use crate::ctr::CtrExperiment;
use crate::scl::SclExperiment;
use fuserec_core::{Error, Result};
use std::path::Path;

/// The kinds `kind = "…"` names.
pub const KINDS: [&str; 3] = ["recall", "scl", "ctr"];

/// Any experiment file: its `kind` picks the table layout and the runner.
#[derive(Clone, Debug)]
pub enum Experiment {
    /// Recall models on one split: baselines, peers, two-towers; OVERALL / WARM / COLD.
    Recall(ExperimentConfig),
    /// Contrastive pre-training variants (`kind = "scl"`).
    Scl(SclExperiment),
    /// CTR models on click labels (`kind = "ctr"`).
    Ctr(CtrExperiment),
}

impl Experiment {
    /// Reads and validates an experiment TOML file; errors name the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let bad = |e: String| Error::Config(format!("{}: {e}", origin.display()));
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(e.to_string()))?;
        let kind = match table.get("kind") {
            None => "recall".to_string(),
            Some(toml::Value::String(k)) => k.clone(),
            Some(other) => return Err(bad(format!("`kind` must be a string ({}), not {other}", KINDS.join(", ")))),
        };
        let value = |t: toml::Table| toml::Value::Table(t);
        Ok(match kind.as_str() {
            "recall" => {
                table.remove("kind");
                let cfg: ExperimentConfig = value(table).try_into().map_err(|e: toml::de::Error| bad(e.to_string()))?;
                cfg.validate().map_err(bad)?;
                Experiment::Recall(cfg)
            }
            "scl" => Experiment::Scl(value(table).try_into().map_err(|e: toml::de::Error| bad(e.to_string()))?),
            "ctr" => Experiment::Ctr(value(table).try_into().map_err(|e: toml::de::Error| bad(e.to_string()))?),
            other => return Err(bad(format!("unknown experiment kind `{other}` ({})", KINDS.join(", ")))),
        })
    }

    /// The experiment's `name`.
    pub fn name(&self) -> &str {
        match self {
            Experiment::Recall(c) => &c.name,
            Experiment::Scl(c) => &c.name,
            Experiment::Ctr(c) => &c.name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECALL: &str = "name = \"r\"\n[dataset]\nkind = \"synthetic\"\n[[model]]\nkind = \"most-pop\"\n";

    #[test]
    fn the_kind_picks_the_config_type() {
        let p = Path::new("x.toml");
        assert!(matches!(Experiment::from_toml(RECALL, p).unwrap(), Experiment::Recall(c) if c.name == "r"));
        let explicit = format!("kind = \"recall\"\n{RECALL}");
        assert!(matches!(Experiment::from_toml(&explicit, p).unwrap(), Experiment::Recall(_)));
        let scl = Experiment::from_toml(include_str!("../../../experiments/scl.toml"), p);
        assert!(matches!(scl, Ok(Experiment::Scl(ref c)) if c.name == "scl"), "{scl:?}");
        let ctr = Experiment::from_toml(include_str!("../../../experiments/ctr.toml"), p);
        assert!(matches!(ctr, Ok(Experiment::Ctr(ref c)) if c.name == "ctr"), "{ctr:?}");
        let e = Experiment::from_toml("name = \"x\"\nkind = \"ranking\"\n", p).unwrap_err().to_string();
        assert!(e.contains("x.toml") && e.contains("unknown experiment kind `ranking` (recall, scl, ctr)"), "{e}");
        let e = Experiment::from_toml("name = \"x\"\nkind = 3\n", p).unwrap_err().to_string();
        assert!(e.contains("`kind` must be a string"), "{e}");
        // A recall table is validated as ExperimentConfig::from_toml validates it.
        let e = Experiment::from_toml(&RECALL.replace("name = \"r\"", "name = \"r\"\nseeds = []"), p).unwrap_err().to_string();
        assert!(e.contains("`seeds` is empty"), "{e}");
        // Fields of another kind are refused, not ignored.
        let e = Experiment::from_toml(&format!("{RECALL}\n[ctr]\nhistory = 3\n"), p).unwrap_err().to_string();
        assert!(e.contains("unknown field") || e.contains("ctr"), "{e}");
    }
}
