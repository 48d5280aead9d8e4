#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod gate;
mod rows;
mod variants;

pub use gate::{GATE_FEATURES, StatsGate};
pub use variants::{AdditiveGate, ConcatGate, ContentOnly, IdOnly, MultiView};

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Error, ItemStats, Result, Rng};

use fuserec_nn::{V1, V2};

/// Which fusion a config names; `fusion = "additive"` ↔ `FusionKind::Additive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FusionKind {
    /// `item = b`: the plain id two-tower.
    IdOnly,
    /// `item = c`: content only, so warm and cold items alike are their content.
    ContentOnly,
    /// `item = [b ; c]`, no gate.
    MultiView,
    /// `item = [b ; g·c]` against a two-headed query.
    Concat,
    /// `item = (1−g)·b + g·c`: the default.
    Additive,
}

impl FusionKind {
    /// The fusion rule this kind names.
    pub fn build(self) -> Box<dyn FusionGate> {
        match self {
            FusionKind::IdOnly => Box::new(IdOnly),
            FusionKind::ContentOnly => Box::new(ContentOnly),
            FusionKind::MultiView => Box::new(MultiView),
            FusionKind::Concat => Box::new(ConcatGate),
            FusionKind::Additive => Box::new(AdditiveGate),
        }
    }
}

/// What a fusion rule reads and how it lays out the fused vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Views {
    /// Reads the behaviour (id) view `b`.
    pub behaviour: bool,
    /// Reads the content view `c`.
    pub content: bool,
    /// Reads the statistics gate.
    pub gated: bool,
    /// The fused vector is `[b ; ·c]` (width `2d`, two query heads) rather than width `d`.
    pub concat: bool,
}

/// One fusion rule. `b` and `c` are unit-length rows of equal width `d` (when the rule uses
/// them); `g` is the gate, one value in (0, 1) per row (when the rule is gated).
pub trait FusionGate: Send + Sync {
    /// The config name (`"additive"`, …).
    fn name(&self) -> &'static str;
    /// Which views the rule reads and how it lays out the fused vector.
    fn views(&self) -> Views;
    /// The taped (training) path on dfdx tensors: `b`, `c` are `rows × d`, `g` has `rows`
    /// values. Panics when a view the rule reads is missing — a model-assembly bug; inputs
    /// from outside a training graph go through [`fuse_rows`](FusionGate::fuse_rows).
    fn fuse(&self, b: Option<V2>, c: Option<V2>, g: Option<V1>) -> V2;
    /// The plain inference path on row-major slices, e.g. a trained gate's values applied to
    /// stored vectors: `b`, `c` are `rows × d`, `g` has `rows` values. Returns
    /// `rows × fused_dim(d)` values. A missing view the rule reads, or views that disagree on
    /// the row count, is an [`Error::Shape`].
    fn fuse_rows(&self, d: usize, b: Option<&[f32]>, c: Option<&[f32]>, g: Option<&[f32]>) -> Result<Vec<f32>>;

    /// Whether the rule reads the behaviour view.
    fn uses_behaviour(&self) -> bool {
        self.views().behaviour
    }
    /// Whether the rule reads the content view.
    fn uses_content(&self) -> bool {
        self.views().content
    }
    /// Whether the rule reads the statistics gate.
    fn gated(&self) -> bool {
        self.views().gated
    }
    /// Width of the fused item vector, and so of the query, for view width `d`.
    fn fused_dim(&self, d: usize) -> usize {
        if self.views().concat { 2 * d } else { d }
    }
    /// Number of query heads of width `d` concatenated to form the query.
    fn query_heads(&self) -> usize {
        self.fused_dim(1)
    }
}

/// The device a [`StatsGate`] lives on (`fuserec-nn`), for building gates without adding it.
pub use fuserec_nn::{Dev, device};
