use crate::Leaf;
use fuserec_core::Result;
use fuserec_nn::{Dev, Grads, HasParams, Mlp, ParamMut, SparseEmbedding, V2, leaf};

/// Item side, behaviour view: the item's id row, optionally through an MLP. Items never trained
/// (cold) keep their initial row — which is why the content view exists.
pub struct BehaviourTower {
    /// The item id table.
    pub ids: SparseEmbedding,
    /// Optional MLP on the id row.
    pub mlp: Option<Mlp>,
}

impl BehaviourTower {
    /// Output width.
    pub fn out(&self) -> usize {
        self.mlp.as_ref().map_or(self.ids.dim(), Mlp::out)
    }
    /// Item vectors (`items.len() × out`) and the gathered leaf for [`apply`](BehaviourTower::apply). Unknown ids are errors.
    pub fn forward(&self, dev: &Dev, items: &[u32]) -> Result<(V2, Leaf)> {
        let (twin, v) = leaf(dev, self.ids.gather(items)?, items.len(), self.ids.dim());
        let out = match &self.mlp {
            Some(m) => m.forward(v),
            None => v,
        };
        Ok((out, Leaf { twin, ids: items.to_vec(), weight: None }))
    }
    /// Sparse update of the id rows the forward pass gathered.
    pub fn apply(&mut self, l: &Leaf, grads: &mut Grads) -> Result<()> {
        let g = l.grad(grads);
        self.ids.update(&l.ids, &g, None)
    }
}

impl HasParams for BehaviourTower {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        if let Some(m) = &mut self.mlp {
            m.visit_params(&format!("{prefix}.mlp"), f);
        }
    }
}
