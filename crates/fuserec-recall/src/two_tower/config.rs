use fuserec_fusion::FusionKind;
use fuserec_nn::{AdamConfig, RowOptimizer};
use fuserec_towers::Pooling;

/// Everything a two-tower recall model depends on; a `[[model]] kind = "two-tower"` table in an
/// experiment config. Swapping fusion is one line: `fusion = "concat"` ↔ `fusion = "additive"`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoTowerConfig {
    /// How the behaviour and content views are fused (default additive).
    #[serde(default = "d_fusion")]
    pub fusion: FusionKind,
    /// Width of each view's vector (the behaviour and content vectors, and each query head).
    #[serde(default = "d_dim")]
    pub dim: usize,
    /// Hidden widths of the query tower's MLP.
    #[serde(default = "d_hidden")]
    pub query_hidden: Vec<usize>,
    /// Hidden widths of an MLP over the item id row (empty: the row is the behaviour vector).
    #[serde(default)]
    pub behaviour_hidden: Vec<usize>,
    /// First-layer width of the content tower (features and code embeddings meet here).
    #[serde(default = "d_content_hidden")]
    pub content_hidden: usize,
    /// Recent items pooled by the query tower.
    #[serde(default = "d_history")]
    pub history: usize,
    /// How the history is pooled.
    #[serde(default = "d_pooling")]
    pub pooling: Pooling,
    /// Which of the user's training positives a training sample's query reads.
    #[serde(default = "d_context")]
    pub history_context: HistoryContext,
    /// Each history item of a training sample is dropped with this probability (a draw that
    /// would drop all keeps the history whole): the query learns from partial histories, which
    /// regularises it.
    #[serde(default = "d_history_dropout")]
    pub history_dropout: f32,
    /// The query tower also reads the mean content features of the history (models with a
    /// content view that reads features). This is what lets a query reach cold items.
    #[serde(default = "yes")]
    pub query_content: bool,
    /// Add a per-user id row to the pooled history (on by default since the query trains on
    /// `others` histories with dropout; it was off before, when it overfitted next-item training).
    #[serde(default = "yes")]
    pub user_embedding: bool,
    /// Most training epochs.
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// Stop after this many epochs without a better validation Recall@20 (0 = never stop early).
    #[serde(default = "d_patience")]
    pub patience: usize,
    /// Training samples per batch (≥ 2).
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Adam for the dense layers.
    #[serde(default = "d_dense")]
    pub dense_optimizer: AdamConfig,
    /// Row optimiser for the id tables.
    #[serde(default = "d_sparse")]
    pub sparse_optimizer: RowOptimizer,
    /// Standard deviation of the id rows' initial values.
    #[serde(default = "d_init")]
    pub init_std: f32,
    /// Hash item ids into this many rows in every item-id table (hashing trick for catalogues
    /// too large to give each id a row; collisions share a row). Default: one row per item.
    #[serde(default)]
    pub id_hash_buckets: Option<usize>,
    /// Softmax temperature τ.
    #[serde(default = "d_tau")]
    pub temperature: f32,
    /// Score by cosine (unit query and item vectors, logits bounded by ±1/τ); `false` scores by
    /// the raw inner product, so vector norms can carry popularity.
    #[serde(default = "yes")]
    pub cosine: bool,
    /// With cosine scoring, make every fused item vector unit length (cold and warm items'
    /// scores comparable). `false`: the fusion's vector as it is (a cold item's `g·c` is short).
    #[serde(default = "yes")]
    pub unit_item_vectors: bool,
    /// After training, pick the length of never-seen items' unit vectors (no id row and no
    /// interaction in the statistics; a few candidates ≥ 1) that
    /// maximises validation OVERALL recall, so cold items enter full-catalogue lists where they
    /// deserve to. It changes no ranking within WARM or within COLD. Needs cold validation
    /// items to have an effect (`[split] cold_val_fraction`); models with both views only.
    #[serde(default = "yes")]
    pub calibrate_cold: bool,
    /// Add the parameter-free content affinity head (cosine of the item's centred content with
    /// the centroid of the user's history, [`super::content_head`]) to the score, its weights for
    /// items with and without a trained id row fitted on validation (0 when it does not help).
    /// Models with both views only.
    #[serde(default = "yes")]
    pub content_head: bool,
    /// Add a full-rank item–item channel (EASE's closed form, [`super::item_item`]) to the
    /// score, its weight fitted on validation (0 when it does not help). On by default for
    /// catalogues up to `max_items` items; `{ kind = "none" }` switches it off. Models with both
    /// views only.
    #[serde(default)]
    pub item_item: super::item_item::ItemItemConfig,
    /// Subtract log Q(item) from in-batch logits (popularity correction).
    #[serde(default = "yes")]
    pub log_q: bool,
    /// Weight of the per-view losses `L_b + L_c` for models with both views.
    #[serde(default = "one")]
    pub view_loss_weight: f32,
    /// λ of the cross-view triplet (models with both views).
    #[serde(default = "d_lambda")]
    pub triplet_weight: f32,
    /// Margin of the cross-view triplet.
    #[serde(default = "d_margin")]
    pub margin: f32,
    /// Uniformly sampled catalogue items added as negatives to every batch (mixed negative
    /// sampling): in-batch negatives alone are nearly all popular items, so the tail is never
    /// pushed down and drifts up in full-catalogue ranking.
    #[serde(default = "d_uniform")]
    pub uniform_negatives: usize,
    /// Fraction of item columns whose behaviour vector is dropped (zeroed, statistics reset to
    /// "never seen") during training, so the content view and the gate learn what to do for a
    /// cold item (DropoutNet-style). Models with both views only.
    #[serde(default = "d_cold_dropout")]
    pub cold_dropout: f32,
    /// Hidden width of the statistics gate's MLP (0: logistic regression).
    #[serde(default = "d_gate_hidden")]
    pub gate_hidden: usize,
    /// The content tower reads the encoded features (text/image backbones below).
    #[serde(default = "yes")]
    pub content_features: bool,
    /// The content tower also reads the item's tags (one embedding per tag, mean-pooled), when
    /// the dataset has tags. Off by default: tags are already words of the text the encoders see,
    /// and the extra embedding measured slightly worse on the synthetic world (recall@20 WARM
    /// 0.161 → 0.152, COLD 0.121 → 0.117, additive fusion, 2 seeds).
    #[serde(default)]
    pub content_tags: bool,
    /// The content tower also reads tree cluster codes of the features, one embedding per level.
    #[serde(default)]
    pub codes: Option<CodesConfig>,
    /// Backbone overrides for this model (default: the experiment's `[features]`).
    #[serde(default)]
    pub text: Option<String>,
    /// Image backbone override.
    #[serde(default)]
    pub image: Option<String>,
    /// Users sampled for the per-epoch validation Recall@20.
    #[serde(default = "d_val_users")]
    pub val_users: usize,
    /// Shown in tables instead of the generated name.
    #[serde(default)]
    pub label: Option<String>,
}

/// The history a training sample's query reads. Evaluation always reads all of the user's known
/// positives, so `others` trains the query on what it will see; `earlier` is next-item
/// prediction (the article's sequential recall).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryContext {
    /// The user's positives strictly before the sample.
    #[default]
    Earlier,
    /// All the user's other training positives (none of the target item).
    Others,
}

/// Tree cluster ids as content input: `levels` levels of a `branching`-ary hierarchical k-means
/// (so b, b², … clusters); `use_levels` picks which levels the tower sees (default: all).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesConfig {
    /// Clusters per tree node.
    #[serde(default = "d_branching")]
    pub branching: usize,
    /// Tree levels.
    #[serde(default = "d_levels")]
    pub levels: usize,
    /// Levels the tower reads (default: all).
    #[serde(default)]
    pub use_levels: Option<Vec<usize>>,
}

fn d_fusion() -> FusionKind {
    FusionKind::Additive
}
fn d_dim() -> usize {
    64
}
fn d_hidden() -> Vec<usize> {
    vec![128]
}
fn d_content_hidden() -> usize {
    256
}
fn d_history() -> usize {
    100
}
fn d_pooling() -> Pooling {
    Pooling::Mean
}
fn d_context() -> HistoryContext {
    HistoryContext::Others
}
fn d_history_dropout() -> f32 {
    0.5
}
fn yes() -> bool {
    true
}
fn one() -> f32 {
    1.0
}
fn d_epochs() -> usize {
    30
}
fn d_patience() -> usize {
    4
}
fn d_batch() -> usize {
    512
}
fn d_dense() -> AdamConfig {
    AdamConfig::new(0.003)
}
fn d_sparse() -> RowOptimizer {
    RowOptimizer::adam(0.01)
}
fn d_init() -> f32 {
    0.05
}
fn d_tau() -> f32 {
    0.05
}
fn d_lambda() -> f32 {
    0.2
}
fn d_margin() -> f32 {
    0.3
}
fn d_uniform() -> usize {
    256
}
fn d_cold_dropout() -> f32 {
    0.2
}
fn d_gate_hidden() -> usize {
    16
}
fn d_val_users() -> usize {
    2000
}
fn d_branching() -> usize {
    16
}
fn d_levels() -> usize {
    2
}

impl Default for TwoTowerConfig {
    fn default() -> Self {
        toml::from_str("").expect("all fields have defaults")
    }
}

impl TwoTowerConfig {
    /// A message naming the first setting out of range.
    pub fn validate(&self) -> Result<(), String> {
        if self.dim == 0 || self.batch_size < 2 || self.history == 0 || self.content_hidden == 0 {
            return Err("two-tower: dim, history and content_hidden must be ≥ 1 and batch_size ≥ 2".into());
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(format!("two-tower: temperature must be > 0, got {}", self.temperature));
        }
        if self.id_hash_buckets == Some(0) {
            return Err("two-tower: id_hash_buckets must be ≥ 1".into());
        }
        if !(0.0..1.0).contains(&self.history_dropout) {
            return Err(format!("two-tower: history_dropout must be in [0, 1), got {}", self.history_dropout));
        }
        if !(0.0..1.0).contains(&self.cold_dropout) {
            return Err(format!("two-tower: cold_dropout must be in [0, 1), got {}", self.cold_dropout));
        }
        if self.epochs == 0 {
            return Err("two-tower: epochs must be ≥ 1".into());
        }
        let content = self.fusion.build().uses_content();
        if content && !self.content_features && self.codes.is_none() && !self.content_tags {
            return Err("two-tower: the content view needs content_features, content_tags or codes".into());
        }
        if let Some(c) = &self.codes {
            if c.branching < 2 || c.levels == 0 {
                return Err("two-tower codes: branching ≥ 2 and levels ≥ 1".into());
            }
            if let Some(u) = &c.use_levels
                && (u.is_empty() || u.iter().any(|&l| l >= c.levels))
            {
                return Err(format!("two-tower codes: use_levels {u:?} must name levels below {}", c.levels));
            }
        }
        Ok(())
    }

    /// Name shown in tables, e.g. `TwoTower[additive]`.
    pub fn display_name(&self) -> String {
        if let Some(l) = &self.label {
            return l.clone();
        }
        let f = self.fusion.build();
        let mut s = format!("TwoTower[{}", f.name());
        if let Some(c) = &self.codes {
            let lv = c.use_levels.clone().unwrap_or_else(|| (0..c.levels).collect());
            s += &format!(", codes b{} L{:?}", c.branching, lv);
            if !self.content_features && !self.content_tags {
                s += " only";
            }
        }
        s + "]"
    }
}
