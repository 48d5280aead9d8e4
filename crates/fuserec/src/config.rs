//! Experiment configuration (TOML). Everything a run depends on is here, so a results folder plus
//! its config reproduce the table.

use fuserec_core::{Error, Result};
use fuserec_data::{SplitConfig, UnknownIdPolicy};
use fuserec_eval::PopularityBuckets;
use fuserec_recall::features::FeatureSet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A recall experiment file (`kind = "recall"`, the default): dataset, split, features, models.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Name; the output folder is named after it.
    pub name: String,
    /// Free text shown in the report.
    #[serde(default)]
    pub description: String,
    /// One run per seed; the seed drives the split (which items are cold).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Cut-offs; the first is the headline K of the printed table.
    #[serde(default = "default_k")]
    pub k: Vec<usize>,
    /// Bootstrap resamples for the 95% CIs (0 disables).
    #[serde(default = "default_bootstrap")]
    pub bootstrap: usize,
    /// Which dataset.
    pub dataset: DatasetConfig,
    /// How it is split.
    #[serde(default)]
    pub split: SplitConfig,
    /// Which backbones encode item content.
    #[serde(default)]
    pub features: FeaturesConfig,
    /// Popularity buckets of the per-bucket recall.
    #[serde(default)]
    pub buckets: PopularityBuckets,
    /// What validation maximises in early stopping and hyper-parameter search.
    #[serde(default)]
    pub selection: crate::validation::Selection,
    /// Hyper-parameter search (per model kind or label); absent: every model runs as configured.
    #[serde(default)]
    pub search: Option<crate::search::SearchConfig>,
    /// The `[[model]]` tables, in table order.
    #[serde(rename = "model")]
    pub models: Vec<ModelConfig>,
}

fn default_seeds() -> Vec<u64> {
    vec![1]
}
fn default_k() -> Vec<usize> {
    vec![20, 10, 50]
}
fn default_bootstrap() -> usize {
    200
}

/// Where an experiment's data comes from (`[dataset] kind = …`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DatasetConfig {
    /// The embedded synthetic world (generated once per config into the cache).
    Synthetic {
        /// World seed.
        #[serde(default = "default_world_seed")]
        seed: u64,
        /// World scale (1 ≈ 180k impressions).
        #[serde(default = "default_scale")]
        scale: f64,
    },
    /// A folder in fuserec's layout (see `fuserec_data::load_dir`).
    Dir {
        /// The folder.
        path: PathBuf,
        /// What to do with interactions of unknown items.
        #[serde(default)]
        unknown_items: UnknownIdPolicy,
    },
    /// A folder in MMRec's layout (`<name>.inter` with `x_label`, `image_feat.npy`,
    /// `text_feat.npy`; see `fuserec_data::mmrec`), with its published split (`[split] kind =
    /// "given"`).
    Mmrec {
        /// The folder.
        path: PathBuf,
    },
    /// MovieLens from `cargo xtask assets`, posters from the shared assets folder.
    Movielens {
        /// `ml-100k` (others as `cargo xtask assets` adds them).
        #[serde(default = "default_ml")]
        name: String,
        /// Use the poster images.
        #[serde(default = "yes")]
        posters: bool,
    },
}

fn default_world_seed() -> u64 {
    7
}
fn default_scale() -> f64 {
    1.0
}
fn default_ml() -> String {
    "ml-100k".into()
}
fn yes() -> bool {
    true
}

/// Which backbone fills each named modality; `"none"` leaves `text` or `image` out. Swapping a
/// backbone is this one line, and adding a modality is one more: any other key names a modality,
/// e.g. `clip = "embeddings:clip.parquet"` (precomputed, keyed by item id), `title2 = "minilm"`
/// (a second text encoder) or `learned = "vectors:item_vectors.safetensors"`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeaturesConfig {
    /// Text backbone (`minilm`, `hashed-ngram`, `none`, …).
    #[serde(default = "default_text")]
    pub text: String,
    /// Image backbone (`efficientnet-lite0`, `color-hist`, `none`, …).
    #[serde(default = "default_image")]
    pub image: String,
    /// How content vectors are prepared for every content model (default: centred per modality;
    /// each model then L2-normalises per modality).
    #[serde(default)]
    pub preprocess: crate::features::Preprocess,
    /// Further modalities by name → backbone, read by every content model after text and image.
    #[serde(flatten)]
    pub extra: BTreeMap<String, String>,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig { text: default_text(), image: default_image(), preprocess: Default::default(), extra: BTreeMap::new() }
    }
}

impl FeaturesConfig {
    /// The modalities as configured (models may override `text` / `image`).
    pub fn set(&self) -> FeatureSet {
        FeatureSet::new(&self.text, &self.image, &self.extra)
    }

    /// Names are `[a-z0-9_-]`, each backbone is known, `text` / `image` hold a backbone of their
    /// kind (or a precomputed file), and only they can be `none` (a misspelt key is not silently a
    /// modality that is switched off).
    pub fn validate(&self) -> std::result::Result<(), String> {
        use crate::features::BackboneKind;
        for (slot, b, want) in [("text", &self.text, BackboneKind::Text), ("image", &self.image, BackboneKind::Image)] {
            if b == "none" {
                continue;
            }
            let kind = BackboneKind::of(slot, b).map_err(|e| e.to_string())?;
            if kind != want && kind != BackboneKind::Precomputed {
                return Err(format!(
                    "[features] {slot} = \"{b}\": not a {slot} backbone (name another modality for it, e.g. `{b} = \"{b}\"`)"
                ));
            }
        }
        for (name, b) in &self.extra {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
                return Err(format!("[features] `{name}`: a modality name is lower-case letters, digits, `_` and `-`"));
            }
            if b == "none" {
                return Err(format!(
                    "[features] {name} = \"none\": only text and image can be \"none\"; delete the line to leave `{name}` out (or is it a misspelt key?)"
                ));
            }
            BackboneKind::of(name, b).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
fn default_text() -> String {
    "hashed-ngram".into()
}
fn default_image() -> String {
    "color-hist".into()
}

/// One `[[model]]` table: `kind` picks the model, the other keys its settings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelConfig {
    /// Seeded random scores: the chance level.
    Random,
    /// Items by training popularity.
    MostPop,
    /// Item-based k-nearest neighbours on co-occurrence cosine.
    ItemKnn {
        /// Neighbours kept per item.
        #[serde(default = "default_neighbours")]
        neighbours: usize,
    },
    /// Content profile model: the user profile is the mean of the history's content vectors,
    /// an item's score its cosine with the profile.
    ContentKnn(ContentModelConfig),
    /// The same profile-centroid model under its own name (`content-knn` keeps its name for the
    /// published configs).
    ContentCentroid(ContentModelConfig),
    /// EASE, closed form: `lambda` is the L2 weight on the item-item matrix.
    Ease {
        /// L2 weight (λ > 0).
        #[serde(default = "default_ease_lambda")]
        lambda: f64,
    },
    /// BPR matrix factorisation on the sparse id tables.
    Bpr(crate::baselines::BprConfig),
    /// VBPR: BPR plus a learned projection of the item content (cold items by content alone).
    Vbpr(crate::baselines::BprConfig),
    /// Two-tower recall (id, content or fused item side); see `two_tower::TwoTowerConfig`.
    TwoTower(Box<crate::two_tower::TwoTowerConfig>),
}

/// The keys of a content profile model (`content-knn`, `content-centroid`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentModelConfig {
    /// Weight of the text modality in the profile.
    #[serde(default = "one")]
    pub text_weight: f32,
    /// Weight of the image modality in the profile.
    #[serde(default = "one")]
    pub image_weight: f32,
    /// Overrides `[features] text` for this model (e.g. compare backbones in one table).
    #[serde(default)]
    pub text: Option<String>,
    /// Overrides `[features] image` for this model.
    #[serde(default)]
    pub image: Option<String>,
    /// Weights of the other named modalities (default 1), e.g. `weights = { clip = 2.0 }`.
    #[serde(default)]
    pub weights: BTreeMap<String, f32>,
}

impl ContentModelConfig {
    /// The weight of modality `name` in the fused content vector.
    pub fn weight(&self, name: &str) -> f32 {
        match name {
            "text" => self.text_weight,
            "image" => self.image_weight,
            other => self.weights.get(other).copied().unwrap_or(1.0),
        }
    }
}

fn default_ease_lambda() -> f64 {
    500.0
}

impl ModelConfig {
    /// A message naming the first problem (empty models, bad K, a model's bad setting).
    pub fn validate(&self) -> std::result::Result<(), String> {
        match self {
            ModelConfig::TwoTower(t) => t.validate(),
            ModelConfig::Bpr(b) => b.validate(false),
            ModelConfig::Vbpr(b) => b.validate(true),
            ModelConfig::Ease { lambda } if !(*lambda > 0.0 && lambda.is_finite()) => {
                Err(format!("ease: lambda must be > 0, got {lambda}"))
            }
            _ => Ok(()),
        }
    }

    /// The `kind` of this model, as written in a config (what `[search.space]` keys refer to).
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Random => "random",
            ModelConfig::MostPop => "most-pop",
            ModelConfig::ItemKnn { .. } => "item-knn",
            ModelConfig::ContentKnn(_) => "content-knn",
            ModelConfig::ContentCentroid(_) => "content-centroid",
            ModelConfig::Ease { .. } => "ease",
            ModelConfig::Bpr(_) => "bpr",
            ModelConfig::Vbpr(_) => "vbpr",
            ModelConfig::TwoTower(_) => "two-tower",
        }
    }
}

fn default_neighbours() -> usize {
    100
}
fn one() -> f32 {
    1.0
}

impl ExperimentConfig {
    /// Parses and validates TOML; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let cfg: ExperimentConfig = toml::from_str(text).map_err(|e| Error::Config(format!("{}: {e}", origin.display())))?;
        cfg.validate().map_err(|e| Error::Config(format!("{}: {e}", origin.display())))?;
        Ok(cfg)
    }

    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if self.seeds.is_empty() {
            return Err("`seeds` is empty".into());
        }
        if self.k.is_empty() || self.k.contains(&0) {
            return Err("`k` must list cut-offs ≥ 1".into());
        }
        if self.models.is_empty() {
            return Err("no [[model]] tables".into());
        }
        self.features.validate()?;
        for m in &self.models {
            m.validate()?;
        }
        if let Some(s) = &self.search {
            s.validate(self)?;
        }
        if self.buckets.edges.first() != Some(&0) || self.buckets.edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err("bucket edges must start at 0 and increase".into());
        }
        Ok(())
    }

    /// The largest K any metric needs.
    pub fn max_k(&self) -> usize {
        *self.k.iter().max().expect("validated non-empty")
    }

    /// The modalities a model reads (its `text` / `image` overrides, then `[features]`'s other
    /// modalities), if it uses content.
    pub fn feature_set(&self, m: &ModelConfig) -> Option<FeatureSet> {
        let f = &self.features;
        let set = |t: &Option<String>, i: &Option<String>| {
            FeatureSet::new(t.as_deref().unwrap_or(&f.text), i.as_deref().unwrap_or(&f.image), &f.extra)
        };
        match m {
            ModelConfig::ContentKnn(c) | ModelConfig::ContentCentroid(c) => Some(set(&c.text, &c.image)),
            ModelConfig::Vbpr(_) => Some(f.set()),
            ModelConfig::TwoTower(t) if t.fusion.build().uses_content() => Some(set(&t.text, &t.image)),
            _ => None,
        }
    }

    /// Distinct feature sets the models need, in config order.
    pub fn feature_sets(&self) -> Vec<FeatureSet> {
        let mut out: Vec<FeatureSet> = Vec::new();
        for s in self.models.iter().filter_map(|m| self.feature_set(m)) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_minimal_and_rejects_typos() {
        let ok = r#"
            name = "t"
            [dataset]
            kind = "synthetic"
            [[model]]
            kind = "item-knn"
        "#;
        let c = ExperimentConfig::from_toml(ok, Path::new("t.toml")).unwrap();
        assert!(matches!(c.models[0], ModelConfig::ItemKnn { neighbours: 100 }));
        assert_eq!(c.k[0], 20);
        let typo = ok.replace("kind = \"item-knn\"", "kind = \"item-knn\"\nneighbors = 3");
        let e = ExperimentConfig::from_toml(&typo, Path::new("t.toml")).unwrap_err().to_string();
        assert!(e.contains("t.toml") && e.contains("neighbors"), "{e}");
        let bad = ok.replace("name = \"t\"", "name = \"t\"\nk = [0]");
        assert!(ExperimentConfig::from_toml(&bad, Path::new("t.toml")).is_err());
    }

    fn with_features(lines: &str) -> std::result::Result<ExperimentConfig, String> {
        let text = format!("name = \"t\"\n[dataset]\nkind = \"synthetic\"\n[features]\n{lines}\n[[model]]\nkind = \"vbpr\"\n");
        ExperimentConfig::from_toml(&text, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn features_name_any_number_of_modalities() {
        // The two-slot form is unchanged: text, image.
        let c = with_features("text = \"minilm\"").unwrap();
        assert_eq!(c.feature_set(&c.models[0]).unwrap().describe(), "text=minilm image=color-hist");
        // Further keys are modalities, after text and image, by name.
        let c = with_features("zeta = \"embeddings:z.parquet\"\nclip = \"vectors:c.safetensors\"\nimage = \"none\"\ntitle2 = \"minilm\"")
            .unwrap();
        assert_eq!(
            c.feature_set(&c.models[0]).unwrap().describe(),
            "text=hashed-ngram clip=vectors:c.safetensors title2=minilm zeta=embeddings:z.parquet"
        );
        // A misspelt key is not silently a switched-off modality; unknown backbones, names and
        // a backbone of the wrong kind in a named slot are refused, naming the key.
        let e = with_features("preproces = \"none\"").unwrap_err();
        assert!(e.contains("preproces") && e.contains("misspelt"), "{e}");
        let e = with_features("clip = \"clip-vit\"").unwrap_err();
        assert!(e.contains("clip = \"clip-vit\"") && e.contains("unknown backbone"), "{e}");
        let e = with_features("Clip = \"minilm\"").unwrap_err();
        assert!(e.contains("`Clip`"), "{e}");
        let e = with_features("text = \"color-hist\"").unwrap_err();
        assert!(e.contains("not a text backbone"), "{e}");
        let e = with_features("clip = 3").unwrap_err();
        assert!(e.contains("t.toml"), "{e}");
    }
}
