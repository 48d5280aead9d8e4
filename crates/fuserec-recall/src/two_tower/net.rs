//! The network: query tower, item views, gate and fusion, and the loss of one batch.

use super::config::TwoTowerConfig;
use fuserec_core::{Error, Result, Rng};
use fuserec_fusion::{FusionGate, StatsGate};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Activation, Checkpoint, Dev, Grads, HasParams, Mlp, ParamMut, SparseEmbedding, V2, fork, l2_normalize_rows};
use fuserec_towers::{
    BehaviourTower, ContentInput, ContentLeaves, ContentTower, History, Leaf, UserLeaves, UserTower, V0, sampled_softmax, triplet,
};

const EPS: f32 = 1e-12;

/// Unit rows when the model scores by cosine (`cosine = true`), the rows as they are otherwise.
fn unit(v: V2, cosine: bool) -> V2 {
    if cosine { l2_normalize_rows(v, EPS) } else { v }
}

/// The two-tower networks: query tower, item towers, gate and fusion rule.
pub struct Net {
    /// Device.
    pub dev: Dev,
    /// The configuration.
    pub cfg: TwoTowerConfig,
    /// The fusion rule.
    pub fusion: Box<dyn FusionGate>,
    /// Query tower.
    pub user: UserTower,
    /// Behaviour view, when the fusion reads it.
    pub behaviour: Option<BehaviourTower>,
    /// Content view, when the fusion reads it.
    pub content: Option<ContentTower>,
    /// Statistics gate, when the fusion is gated.
    pub gate: Option<StatsGate>,
}

/// One batch: query inputs for `hist.rows()` rows; item columns = those rows' positives, then
/// extra sampled negatives; per column its gate features and whether its behaviour vector is kept.
pub struct Batch {
    /// Query inputs.
    pub hist: History,
    /// Item per column.
    pub items: Vec<u32>,
    /// 4 gate features per column.
    pub gate: Vec<f32>,
    /// Per column: 1 keeps the behaviour vector, 0 drops it (cold simulation).
    pub keep: Vec<f32>,
    /// Per column: log of the probability that the column's item was drawn as a negative.
    pub log_q: Option<Vec<f32>>,
}

pub struct Leaves {
    user: UserLeaves,
    behaviour: Option<Leaf>,
    content: Option<ContentLeaves>,
}

/// Loss of one batch and its parts (for logs).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct LossParts {
    /// Weighted sum of the parts.
    pub total: f32,
    /// Softmax loss of the fused vectors.
    pub fused: f32,
    /// Per-view softmax losses.
    pub views: f32,
    /// Cross-view triplet.
    pub triplet: f32,
}

/// The fused-view vectors the retrieval uses, per item row, and the query per user row.
pub struct ItemVectors {
    /// `items × fused_dim`.
    pub fused: Vec<f32>,
    /// Gate value per item, gated fusions only.
    pub gate: Option<Vec<f32>>,
}

fn value(t: &V0) -> f32 {
    t.retaped::<NoneTape>().array()
}

impl Net {
    /// Fresh networks for `n_users` and `n_items`; `content` is required by fusions with a content view.
    pub fn new(cfg: &TwoTowerConfig, n_users: usize, n_items: usize, content: Option<ContentInput>, seed: u64) -> Result<Self> {
        let dev = fuserec_nn::device(seed);
        let mut rng = Rng::derive(seed, 0x7777);
        let fusion = cfg.fusion.build();
        let d = cfg.dim;
        let (opt, std) = (cfg.sparse_optimizer, cfg.init_std);
        let item_table = |name: &str, rng: &mut Rng| match cfg.id_hash_buckets {
            Some(rows) => SparseEmbedding::hashed(name, n_items, rows, d, std, opt, rng),
            None => SparseEmbedding::new(name, n_items, d, std, opt, rng),
        };
        let hist_items = item_table("history_items", &mut rng)?;
        let users = cfg.user_embedding.then(|| SparseEmbedding::new("users", n_users, d, std, opt, &mut rng)).transpose()?;
        let qmlp = Mlp::relu(&dev, d, &cfg.query_hidden, d * fusion.query_heads(), &mut rng)?;
        let mut user = UserTower::new(&dev, hist_items, users, cfg.pooling, qmlp, &mut rng)?;
        let history_content = content.as_ref().and_then(|c| c.features.clone()).filter(|_| cfg.query_content && fusion.uses_content());
        if let Some((f, w)) = history_content {
            user = user.with_history_content(&dev, f, w, &mut rng)?;
        }
        let behaviour = if fusion.uses_behaviour() {
            let ids = item_table("items", &mut rng)?;
            let mlp = (!cfg.behaviour_hidden.is_empty()).then(|| Mlp::relu(&dev, d, &cfg.behaviour_hidden, d, &mut rng)).transpose()?;
            Some(BehaviourTower { ids, mlp })
        } else {
            None
        };
        let content = if fusion.uses_content() {
            let input =
                content.ok_or_else(|| Error::Config(format!("{}: the content view needs item features or codes", cfg.display_name())))?;
            let mlp = Mlp::new(&dev, &[cfg.content_hidden, cfg.content_hidden, d], Activation::Relu, &mut rng)?;
            Some(ContentTower::new(&dev, input, n_items, cfg.content_hidden, mlp, opt, &mut rng)?)
        } else {
            None
        };
        let gate = fusion.gated().then(|| StatsGate::new(&dev, cfg.gate_hidden, &mut rng)).transpose()?;
        Ok(Net { dev, cfg: cfg.clone(), fusion, user, behaviour, content, gate })
    }

    /// The fusion's item vector, unit length when `unit_item_vectors` (with cosine scoring): a cold
    /// item's `g·c` then weighs as much as a warm item's `(1 − g)·b + g·c`, so its score is
    /// comparable and it can enter a full-catalogue list; the gate still sets the direction.
    fn fuse(&self, b: Option<V2>, c: Option<V2>, g: Option<fuserec_nn::V1>) -> V2 {
        let v = self.fusion.fuse(b, c, g);
        if self.cfg.cosine && self.cfg.unit_item_vectors { l2_normalize_rows(v, EPS) } else { v }
    }

    /// Unit-length query heads, concatenated: `(fused query, per-view queries (b, c))`.
    fn queries(&self, q: V2) -> (V2, V2, V2) {
        let d = self.cfg.dim;
        if self.fusion.query_heads() == 2 {
            let [q1, q2]: [V2; _] = fork(q);
            let qb = unit(q1.slice((.., 0..d)), self.cfg.cosine);
            let qc = unit(q2.slice((.., d..2 * d)), self.cfg.cosine);
            let [qb1, qb2]: [V2; _] = fork(qb);
            let [qc1, qc2]: [V2; _] = fork(qc);
            ((qb1, qc1).concat_along(Axis::<1>), qb2, qc2)
        } else {
            let [a, b, c]: [V2; _] = fork(unit(q, self.cfg.cosine));
            (a, b, c)
        }
    }

    /// The batch's loss (taped), its parts, and the leaves for the sparse updates.
    pub fn loss(&self, batch: &Batch) -> Result<(V0, LossParts, Leaves)> {
        let dev = &self.dev;
        let cfg = &self.cfg;
        let items = &batch.items;
        let log_q = batch.log_q.as_deref();
        let (q, user) = self.user.forward(dev, &batch.hist)?;
        let (q, qb, qc) = self.queries(q);
        let (b, bl) = match &self.behaviour {
            Some(t) => {
                let (v, l) = t.forward(dev, items)?;
                (Some(unit(v, cfg.cosine)), Some(l))
            }
            None => (None, None),
        };
        let (c, cl) = match &self.content {
            Some(t) => {
                let (v, l) = t.forward(dev, items)?;
                (Some(unit(v, cfg.cosine)), Some(l))
            }
            None => (None, None),
        };
        let g = self.gate.as_ref().map(|g| g.forward(dev, &batch.gate));
        let tau = cfg.temperature;
        let mut parts = LossParts::default();
        let total = match (b, c) {
            (Some(b), Some(c)) => {
                let [b0, b3]: [V2; _] = fork(b);
                let keep = dev.tensor_from_vec(batch.keep.clone(), (items.len(),)).broadcast_like::<_, Axis<1>>(&(items.len(), cfg.dim));
                let [b1, b2]: [V2; _] = fork(b0 * keep);
                let [c1, c2, c3]: [V2; _] = fork(c);
                let fused = sampled_softmax(q, self.fuse(Some(b1), Some(c1), g), log_q, items, tau);
                let views = sampled_softmax(qb, b2, log_q, items, tau) + sampled_softmax(qc, c2, log_q, items, tau);
                let tri = triplet(c3, b3, items, cfg.margin);
                parts.fused = value(&fused);
                parts.views = value(&views);
                parts.triplet = value(&tri);
                fused + views * cfg.view_loss_weight + tri * cfg.triplet_weight
            }
            (b, c) => {
                let l = sampled_softmax(q, self.fuse(b, c, g), log_q, items, tau);
                parts.fused = value(&l);
                l
            }
        };
        parts.total = value(&total);
        if !parts.total.is_finite() {
            return Err(Error::Invalid(format!("{}: loss became {} (lower the learning rates?)", cfg.display_name(), parts.total)));
        }
        Ok((total, parts, Leaves { user, behaviour: bl, content: cl }))
    }

    /// One training step: loss, backward, sparse row updates, dense Adam.
    pub fn step(&mut self, batch: &Batch, opt: &mut fuserec_nn::DenseAdam) -> Result<LossParts> {
        let (loss, parts, leaves) = self.loss(batch)?;
        let mut grads = loss.backward();
        self.apply_sparse(&leaves, &mut grads)?;
        opt.step(self, &mut grads)?;
        Ok(parts)
    }

    /// Sparse updates of every id table the batch touched.
    pub fn apply_sparse(&mut self, leaves: &Leaves, grads: &mut Grads) -> Result<()> {
        self.user.apply(&leaves.user, grads)?;
        if let (Some(t), Some(l)) = (&mut self.behaviour, &leaves.behaviour) {
            t.apply(l, grads)?;
        }
        if let (Some(t), Some(l)) = (&mut self.content, &leaves.content) {
            t.apply(l, grads)?;
        }
        Ok(())
    }

    /// Query vectors (unit heads, concatenated) for a batch of histories.
    pub fn query_vectors(&self, hist: &History) -> Result<Vec<f32>> {
        let (q, _) = self.user.forward(&self.dev, hist)?;
        Ok(self.queries(q).0.retaped::<NoneTape>().as_vec())
    }

    /// Fused vectors of `items` with gate features `gate` (4 per item); `keep` zeroes the behaviour
    /// vector of items it marks 0 (never trained: their id row is still noise).
    pub fn item_vectors(&self, items: &[u32], gate: &[f32], keep: Option<&[f32]>) -> Result<ItemVectors> {
        let dev = &self.dev;
        let b = match &self.behaviour {
            Some(t) => {
                let b = unit(t.forward(dev, items)?.0, self.cfg.cosine);
                Some(match keep {
                    Some(k) => {
                        b * dev.tensor_from_vec(k.to_vec(), (items.len(),)).broadcast_like::<_, Axis<1>>(&(items.len(), self.cfg.dim))
                    }
                    None => b,
                })
            }
            None => None,
        };
        let c = match &self.content {
            Some(t) => Some(unit(t.forward(dev, items)?.0, self.cfg.cosine)),
            None => None,
        };
        let g = self.gate.as_ref().map(|g| g.forward(dev, gate));
        let gv = g.as_ref().map(|g| g.retaped::<NoneTape>().as_vec());
        let fused = self.fuse(b, c, g).retaped::<NoneTape>().as_vec();
        Ok(ItemVectors { fused, gate: gv })
    }

    /// Fused vectors of items the model was not trained on, from their content rows (built by
    /// [`super::content_row`]), cluster codes per level the model reads, and gate features (4 per
    /// item). They have no trained id row, so the behaviour view contributes nothing — as for
    /// cold items in evaluation.
    pub fn new_item_vectors(&self, rows: &[f32], codes: &[Vec<u32>], gate: &[f32]) -> Result<ItemVectors> {
        self.new_item_vectors_with_row(rows, codes, gate, None)
    }

    /// [`Self::new_item_vectors`] for one item whose id row was learned after training
    /// ([`Self::new_item_click_gradient`]); `None` or an all-zero row is no row: the cold vector.
    pub fn new_item_vectors_with_row(&self, rows: &[f32], codes: &[Vec<u32>], gate: &[f32], id_row: Option<&[f32]>) -> Result<ItemVectors> {
        let id_row = id_row.filter(|r| r.iter().any(|&x| x != 0.0)).map(|r| self.id_row_leaf(r)).transpose()?;
        let (fused, g) = self.new_item_fused(rows, codes, gate, id_row.map(|(_, v)| v), false)?;
        let gv = g.map(|g| g.retaped::<NoneTape>().as_vec());
        Ok(ItemVectors { fused: fused.retaped::<NoneTape>().as_vec(), gate: gv })
    }

    /// Near-line learning for an item outside the trained id table: the gradient, with respect
    /// to its id row, of the training loss of one click by a user with (fused, unit) query `q` —
    /// sampled softmax of `q·v/τ` against negatives whose scores `q·v_j/τ` are `negatives` — and
    /// the loss. Only the row moves; every trained parameter stays as evaluated.
    pub fn new_item_click_gradient(
        &self,
        rows: &[f32],
        codes: &[Vec<u32>],
        gate: &[f32],
        id_row: &[f32],
        q: &[f32],
        negatives: &[f32],
    ) -> Result<(Vec<f32>, f32)> {
        let (twin, v) = self.id_row_leaf(id_row)?;
        // Only the row gets a gradient: the content and gate paths are constants here.
        let (fused, _) = self.new_item_fused(rows, codes, gate, Some(v), true)?;
        let d = fused.shape().1;
        if q.len() != d {
            return Err(Error::Shape(format!("click: a {}-d query, the fused vectors are {d}-d", q.len())));
        }
        let q = self.dev.tensor_from_vec(q.to_vec(), (1, d));
        let s: V0 = (fused * q).sum::<(), _>() * (1.0 / self.cfg.temperature);
        // −log softmax of the clicked item among the negatives, shifted for stability.
        let shift = negatives.iter().copied().fold(value(&s), f32::max);
        let rest: f32 = negatives.iter().map(|&x| (x - shift).exp()).sum();
        let [s1, s2]: [V0; _] = fork(s);
        let loss = ((s1 + (-shift)).exp() + rest).ln() - (s2 + (-shift));
        let l = value(&loss);
        if !l.is_finite() {
            return Err(Error::Invalid(format!("click: the loss became {l}")));
        }
        let mut grads = loss.backward();
        grads.try_alloc_for(&twin).map_err(|e| Error::Invalid(format!("click: {e:?}")))?;
        Ok((fuserec_nn::to_vec(&grads.get(&twin)), l))
    }

    /// One id row as a leaf of the graph (its gradient is read from the returned twin).
    fn id_row_leaf(&self, id_row: &[f32]) -> Result<(fuserec_nn::T2, V2)> {
        let t = self
            .behaviour
            .as_ref()
            .ok_or_else(|| Error::Config(format!("{}: the model has no behaviour view", self.cfg.display_name())))?;
        if id_row.len() != t.ids.dim() || id_row.iter().any(|x| !x.is_finite()) {
            return Err(Error::Shape(format!("id row: {} values (finite expected), the model's rows have {}", id_row.len(), t.ids.dim())));
        }
        Ok(fuserec_nn::leaf(&self.dev, id_row.to_vec(), 1, t.ids.dim()))
    }

    /// The taped fused vector (and gate) of new items; `id_row`: one item's behaviour input;
    /// `constant_views`: the content and gate outputs enter on fresh tapes, so a backward pass
    /// stops at them (the near-line step needs the row's gradient only).
    fn new_item_fused(
        &self,
        rows: &[f32],
        codes: &[Vec<u32>],
        gate: &[f32],
        id_row: Option<V2>,
        constant_views: bool,
    ) -> Result<(V2, Option<fuserec_nn::V1>)> {
        let dev = &self.dev;
        let tower = self
            .content
            .as_ref()
            .ok_or_else(|| Error::Config(format!("{}: a model without a content view cannot embed a new item", self.cfg.display_name())))?;
        let rows = if tower.feature_width() == 0 { &[][..] } else { rows };
        let mut c = unit(tower.forward_rows(dev, rows, codes)?, self.cfg.cosine);
        if constant_views {
            c = c.retaped::<fuserec_nn::Tape>();
        }
        let n = c.shape().0;
        if self.gate.is_some() && gate.len() != 4 * n {
            return Err(Error::Shape(format!("new items: {} gate features for {n} items (4 each)", gate.len())));
        }
        let b = match (&self.behaviour, id_row) {
            (Some(t), Some(v)) if n == 1 => Some(unit(
                match &t.mlp {
                    Some(m) => m.forward(v),
                    None => v,
                },
                self.cfg.cosine,
            )),
            (Some(_), Some(_)) => return Err(Error::Shape(format!("new items: one id row for {n} items"))),
            (Some(_), None) => Some(dev.zeros_like(&(n, self.cfg.dim)).retaped::<fuserec_nn::Tape>()),
            (None, _) => None,
        };
        let g = self.gate.as_ref().map(|g| g.forward(dev, gate)).map(|g| if constant_views { g.retaped::<fuserec_nn::Tape>() } else { g });
        let gv = g.as_ref().map(|g| g.retaped::<fuserec_nn::Tape>());
        Ok((self.fuse(b, Some(c), g), gv))
    }

    /// Width of a content row (0: no content view reading features).
    pub fn content_width(&self) -> usize {
        self.content.as_ref().map_or(0, |c| c.feature_width())
    }

    /// Width of fused item vectors (and queries).
    pub fn fused_dim(&self) -> usize {
        self.fusion.fused_dim(self.cfg.dim)
    }

    /// Every parameter and table, with the config as header.
    pub fn checkpoint(&mut self) -> Checkpoint {
        let mut ck = Checkpoint { header: serde_json::to_string(&self.cfg).expect("config serialises"), ..Default::default() };
        ck.add_params("", self);
        ck.add_table(&self.user.items);
        if let Some(u) = &self.user.users {
            ck.add_table(u);
        }
        if let Some(b) = &self.behaviour {
            ck.add_table(&b.ids);
        }
        if let Some(c) = &self.content {
            c.tables().for_each(|t| ck.add_table(t));
        }
        ck
    }

    /// Restores what [`checkpoint`](Net::checkpoint) saved; missing or mis-shaped entries are errors.
    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        ck.restore_params("", self)?;
        ck.restore_table(&mut self.user.items)?;
        if let Some(u) = &mut self.user.users {
            ck.restore_table(u)?;
        }
        if let Some(b) = &mut self.behaviour {
            ck.restore_table(&mut b.ids)?;
        }
        if let Some(c) = &mut self.content {
            for t in c.tables_mut() {
                ck.restore_table(t)?;
            }
        }
        Ok(())
    }
}

impl HasParams for Net {
    fn visit_params(&mut self, _prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        self.user.visit_params("user", f);
        if let Some(b) = &mut self.behaviour {
            b.visit_params("behaviour", f);
        }
        if let Some(c) = &mut self.content {
            c.visit_params("content", f);
        }
        if let Some(g) = &mut self.gate {
            g.visit_params("gate", f);
        }
    }
}
