//! How an item's behaviour vector `b` and content vector `c` become the one vector recall ranks
//! by. [`FusionGate`] is the seam; the gated variants weigh the content view by
//! `g = σ(MLP(posterior statistics as of sample time))` ([`StatsGate`]), so an item with little
//! history leans on its content and a well-observed item on its id.
//!
//! Invariant: a cold item (no statistics) always gets a vector — through the content view when
//! the fusion has one.

mod gate;
mod variants;

pub use gate::{GATE_FEATURES, StatsGate};
pub use variants::{AdditiveGate, ConcatGate, ContentOnly, IdOnly, MultiView};

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Error, ItemStats, Result};

use fuserec_nn::{V1, V2};

/// Which fusion a config names; `fusion = "additive"` ↔ `FusionKind::Additive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FusionKind {
    IdOnly,
    ContentOnly,
    MultiView,
    Concat,
    Additive,
}

impl FusionKind {
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
    pub behaviour: bool,
    pub content: bool,
    /// Reads the statistics gate.
    pub gated: bool,
    /// The fused vector is `[b ; ·c]` (width `2d`, two query heads) rather than width `d`.
    pub concat: bool,
}

/// One fusion rule. `b` and `c` are unit-length rows of equal width `d` (when the rule uses
/// them); `g` is the gate, one value in (0, 1) per row (when the rule is gated).
pub trait FusionGate: Send + Sync {
    fn name(&self) -> &'static str;
    fn views(&self) -> Views;
    fn fuse(&self, b: Option<V2>, c: Option<V2>, g: Option<V1>) -> V2;

    fn uses_behaviour(&self) -> bool {
        self.views().behaviour
    }
    fn uses_content(&self) -> bool {
        self.views().content
    }
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
