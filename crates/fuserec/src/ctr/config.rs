use crate::config::{DatasetConfig, FeaturesConfig};
use fuserec_core::{Error, Result};
use fuserec_data::SplitConfig;
use fuserec_nn::{AdamConfig, RowOptimizer};
use fuserec_towers::ctr::TierMode;

/// The CTR models a run can train (names as in `models = [...]`).
pub const CTR_MODELS: [&str; 7] = ["din", "vector", "simscore", "simtier", "make", "make-frozen", "simtier+make"];

/// A CTR experiment file. `kind = "ctr"` tells `cargo xtask experiment` to run it here.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtrExperiment {
    /// Name; the output folder is named after it.
    pub name: String,
    /// Free text shown in the report.
    #[serde(default)]
    pub description: String,
    /// Must be `"ctr"`.
    pub kind: String,
    /// One run per seed.
    #[serde(default = "d_seeds")]
    pub seeds: Vec<u64>,
    /// Which dataset.
    pub dataset: DatasetConfig,
    /// Which backbones encode item content.
    #[serde(default)]
    pub features: FeaturesConfig,
    /// Default: global temporal, the last 20% of impressions are the test set (no validation:
    /// the id models train exactly one epoch).
    #[serde(default = "d_split")]
    pub split: SplitConfig,
    /// The per-item multimodal vector.
    #[serde(default)]
    pub multimodal: MultimodalConfig,
    /// Model and training settings.
    #[serde(default = "d_ctr")]
    pub ctr: CtrConfig,
    /// Subset of [`CTR_MODELS`], in table order; `din` is always trained (it is the reference).
    #[serde(default = "d_models")]
    pub models: Vec<String>,
    /// MAKE pre-training epochs at which a joint model is trained and scored (the curve).
    #[serde(default = "d_make_curve")]
    pub make_epoch_curve: Vec<usize>,
    /// The id-only model is scored after each of this many epochs (the one-epoch effect).
    #[serde(default = "d_id_curve")]
    pub id_epoch_curve: usize,
}

/// The per-item multimodal vector every multimodal variant reads: the item's L2-normalised
/// modalities (`[text ; image ; …]`, every modality of `[features]`), reduced by PCA to `dim`
/// (0 = keep the full width), L2-normalised.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultimodalConfig {
    /// PCA width (0: full width).
    #[serde(default = "d_mm_dim")]
    pub dim: usize,
    /// Weight of the text modality.
    #[serde(default = "d_one")]
    pub text_weight: f32,
    /// Weight of the image modality.
    #[serde(default = "d_one")]
    pub image_weight: f32,
    /// Weights of the other named modalities (default 1), e.g. `weights = { clip = 2.0 }`.
    #[serde(default)]
    pub weights: std::collections::BTreeMap<String, f32>,
}

impl Default for MultimodalConfig {
    fn default() -> Self {
        MultimodalConfig { dim: d_mm_dim(), text_weight: 1.0, image_weight: 1.0, weights: Default::default() }
    }
}

impl MultimodalConfig {
    /// The weight of modality `name`.
    pub fn weight(&self, name: &str) -> f32 {
        match name {
            "text" => self.text_weight,
            "image" => self.image_weight,
            other => self.weights.get(other).copied().unwrap_or(1.0),
        }
    }
}

/// Settings of the CTR models (DIN, its multimodal variants and MAKE).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtrConfig {
    /// Width of the item id rows.
    #[serde(default = "d_dim")]
    pub dim: usize,
    /// Hidden width of DIN's attention unit.
    #[serde(default = "d_att")]
    pub attention_hidden: usize,
    /// Hidden widths of the MLP (MAKE uses the same, so its layers can be tapped).
    #[serde(default = "d_hidden")]
    pub hidden: Vec<usize>,
    /// Most recent clicks kept as the behaviour sequence.
    #[serde(default = "d_history")]
    pub history: usize,
    /// Impressions per batch.
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Epochs of the id models (DIN and every variant, and the joint MAKE epoch).
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// MAKE pre-training epochs for the `make` and `simtier+make` rows.
    #[serde(default = "d_make_epochs")]
    pub make_epochs: usize,
    /// Width of MAKE's projected item representation.
    #[serde(default = "d_dim")]
    pub make_dim: usize,
    /// `make` rows fine-tune MAKE in the joint epoch; `true` freezes it (`make-frozen` always does).
    #[serde(default)]
    pub make_frozen: bool,
    /// SimTier tiers over [−1, 1].
    #[serde(default = "d_tiers")]
    pub tiers: usize,
    /// How SimTier counts become inputs.
    #[serde(default = "d_tier_mode")]
    pub tier_mode: TierMode,
    /// Learn a scale per tier.
    #[serde(default = "d_true")]
    pub learn_tier_scale: bool,
    /// Adam for the dense layers.
    #[serde(default = "d_dense")]
    pub dense_optimizer: AdamConfig,
    /// Row optimiser for the id table.
    #[serde(default = "d_sparse")]
    pub sparse_optimizer: RowOptimizer,
    /// Standard deviation of the id rows' initial values.
    #[serde(default = "d_init")]
    pub init_std: f32,
    /// Item-frequency buckets for the breakdown (deciles by default), over items with training
    /// impressions; items without any form one more bucket.
    #[serde(default = "d_buckets")]
    pub buckets: usize,
}

impl CtrConfig {
    /// An error naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("ctr: {m}")));
        if self.dim == 0 || self.make_dim == 0 || self.attention_hidden == 0 || self.hidden.is_empty() || self.hidden.contains(&0) {
            return bad(format!(
                "dim {}, make_dim {}, attention_hidden {}, hidden {:?} must be non-zero",
                self.dim, self.make_dim, self.attention_hidden, self.hidden
            ));
        }
        if self.history == 0 || self.batch_size == 0 || self.epochs == 0 || self.make_epochs == 0 || self.tiers == 0 || self.buckets == 0 {
            return bad("history, batch_size, epochs, make_epochs, tiers and buckets must be ≥ 1".into());
        }
        let (lr, std) = (self.dense_optimizer.lr, self.init_std);
        if !(lr > 0.0 && lr.is_finite() && std >= 0.0 && std.is_finite()) {
            return bad(format!("learning rate {} and init_std {} must be finite and positive", self.dense_optimizer.lr, self.init_std));
        }
        Ok(())
    }
}

impl CtrExperiment {
    /// An error naming the first problem (kind, models, curves, settings).
    pub fn validate(&self) -> Result<()> {
        if self.kind != "ctr" {
            return Err(Error::Config(format!("{}: kind must be \"ctr\"", self.name)));
        }
        if self.seeds.is_empty() {
            return Err(Error::Config(format!("{}: no seeds", self.name)));
        }
        self.features.validate().map_err(|e| Error::Config(format!("{}: {e}", self.name)))?;
        if let Some(m) = self.models.iter().find(|m| !CTR_MODELS.contains(&m.as_str())) {
            return Err(Error::Config(format!("{}: unknown CTR model `{m}` (known: {})", self.name, CTR_MODELS.join(", "))));
        }
        if self.make_epoch_curve.contains(&0) {
            return Err(Error::Config(format!("{}: make_epoch_curve entries must be ≥ 1", self.name)));
        }
        self.ctr.validate()
    }
}

fn d_seeds() -> Vec<u64> {
    vec![1, 2, 3]
}
fn d_split() -> SplitConfig {
    SplitConfig::Temporal { val_fraction: 0.0, test_fraction: 0.2 }
}
fn d_ctr() -> CtrConfig {
    toml::from_str("").expect("defaults")
}
fn d_models() -> Vec<String> {
    CTR_MODELS.iter().map(|s| s.to_string()).collect()
}
fn d_make_curve() -> Vec<usize> {
    vec![1, 2, 3, 5, 8]
}
fn d_id_curve() -> usize {
    5
}
fn d_mm_dim() -> usize {
    64
}
fn d_one() -> f32 {
    1.0
}
fn d_dim() -> usize {
    16
}
fn d_att() -> usize {
    32
}
fn d_hidden() -> Vec<usize> {
    vec![128, 64]
}
fn d_history() -> usize {
    50
}
fn d_batch() -> usize {
    256
}
fn d_epochs() -> usize {
    1
}
fn d_make_epochs() -> usize {
    3
}
fn d_tiers() -> usize {
    20
}
fn d_tier_mode() -> TierMode {
    TierMode::Log1p
}
fn d_true() -> bool {
    true
}
fn d_dense() -> AdamConfig {
    AdamConfig::new(0.001)
}
fn d_sparse() -> RowOptimizer {
    RowOptimizer::adam(0.01)
}
fn d_init() -> f32 {
    0.01
}
fn d_buckets() -> usize {
    10
}
