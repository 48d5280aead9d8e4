use crate::Leaf;
use fuserec_core::{Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Dense, Dev, Grads, HasParams, Mlp, ParamMut, SparseEmbedding, T2, Tape, V2, fork, leaf};

/// A user id that stands for "no user": the row's query has no user-row part (anonymous
/// queries built from items only, e.g. a serving request with recent items and no user).
pub const NO_USER: u32 = u32::MAX;

/// A batch of query-side inputs: per row a user id (or [`NO_USER`]) and up to `len` recent
/// item ids, padded.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// User id per row, or [`NO_USER`].
    pub users: Vec<u32>,
    /// `rows × len` item ids (padding positions hold any valid id, e.g. 0).
    pub items: Vec<u32>,
    /// `rows × len`: 1 for a real item, 0 for padding.
    pub mask: Vec<f32>,
    /// History positions per row.
    pub len: usize,
}

impl History {
    /// Number of query rows.
    pub fn rows(&self) -> usize {
        self.users.len()
    }
    /// Builds a batch from per-row item lists, keeping the last `len` items of each.
    pub fn from_lists(users: &[u32], lists: &[&[u32]], len: usize) -> Self {
        let mut h = History { users: users.to_vec(), items: vec![0; users.len() * len], mask: vec![0.0; users.len() * len], len };
        for (r, l) in lists.iter().enumerate() {
            let tail = &l[l.len().saturating_sub(len)..];
            for (k, &i) in tail.iter().enumerate() {
                h.items[r * len + k] = i;
                h.mask[r * len + k] = 1.0;
            }
        }
        h
    }
}

/// How a history of item rows becomes one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// Mean of the real (unpadded) history rows; an empty history pools to zero.
    Mean,
    /// Softmax attention with a learned query vector over the real rows.
    Attention,
}

/// Query tower: `mlp(pool(recent items) + user row + W·mean(content of recent items))`.
pub struct UserTower {
    /// The history's item id table.
    pub items: SparseEmbedding,
    /// The user id table, when the query has a user row.
    pub users: Option<SparseEmbedding>,
    /// How the history is pooled.
    pub pooling: Pooling,
    /// Attention query (`dim × 1`), present for [`Pooling::Attention`].
    pub attn: Option<T2>,
    /// Content of the history: per-item feature rows (`items × width`) and their projection. It
    /// lets the query speak the content tower's language, which is what reaches cold items.
    pub content: Option<(std::sync::Arc<Vec<f32>>, usize, Dense)>,
    /// MLP from the summed input to the query.
    pub mlp: Mlp,
}

/// What a forward pass leaves for the sparse update.
pub struct UserLeaves {
    /// Per position weights: the mean weights when pooling ran on the host (the leaf is then the
    /// pooled row), the padding mask when the leaf holds every position (attention).
    history: Leaf,
    pooled_on_host: bool,
    user: Option<Leaf>,
}

impl UserTower {
    /// A query tower. `mlp` maps the id width to the query width; bad widths are errors.
    pub fn new(
        dev: &Dev,
        items: SparseEmbedding,
        users: Option<SparseEmbedding>,
        pooling: Pooling,
        mlp: Mlp,
        rng: &mut Rng,
    ) -> Result<Self> {
        let d = items.dim();
        if users.as_ref().is_some_and(|u| u.dim() != d) || mlp.inp() != d {
            return Err(Error::Config(format!(
                "user tower: item rows ({d}), user rows and MLP input ({}) must share one width",
                mlp.inp()
            )));
        }
        let attn = (pooling == Pooling::Attention).then(|| {
            let v: Vec<f32> = (0..d).map(|_| (rng.normal() * 0.1) as f32).collect();
            dev.tensor_from_vec(v, (d, 1))
        });
        Ok(UserTower { items, users, pooling, attn, content: None, mlp })
    }

    /// Adds the mean content features of the history (`features`: `n_items × width`) to the query.
    pub fn with_history_content(mut self, dev: &Dev, features: std::sync::Arc<Vec<f32>>, width: usize, rng: &mut Rng) -> Result<Self> {
        if width == 0 || features.len() != self.items.ids() * width {
            return Err(Error::Shape(format!("history content: {} values for {} items × {width}", features.len(), self.items.ids())));
        }
        let proj = Dense::new(dev, width, self.items.dim(), rng);
        self.content = Some((features, width, proj));
        Ok(self)
    }

    /// Query width.
    pub fn out(&self) -> usize {
        self.mlp.out()
    }

    /// Pooled history (+ user row) before the MLP.
    fn pooled(&self, dev: &Dev, h: &History) -> Result<(V2, UserLeaves)> {
        let (b, l, d) = (h.rows(), h.len, self.items.dim());
        let (pooled, history, pooled_on_host) = match self.pooling {
            Pooling::Mean => {
                let mut w = vec![0f32; b * l];
                for (wr, mr) in w.chunks_exact_mut(l).zip(h.mask.chunks_exact(l)) {
                    let n: f32 = mr.iter().sum();
                    for (w, &m) in wr.iter_mut().zip(mr) {
                        *w = if m == 0.0 { 0.0 } else { m / n };
                    }
                }
                let p = self.items.pool(&h.items, &w, l)?;
                let (twin, v) = leaf(dev, p, b, d);
                (v, Leaf { twin, ids: h.items.clone(), weight: Some(w) }, true)
            }
            Pooling::Attention => {
                let (twin, v) = leaf(dev, self.items.gather(&h.items)?, b * l, d);
                let [h1, h2] = fork(v.reshape_like(&(b * l, d)));
                let attn = self.attn.as_ref().expect("attention pooling has a query").retaped::<Tape>();
                let scores = h1.matmul(attn).reshape_like(&(b, l)) * (1.0 / (d as f32).sqrt());
                let bias: Vec<f32> = h.mask.iter().map(|&m| if m > 0.0 { 0.0 } else { -1e9 }).collect();
                let a = (scores + dev.tensor_from_vec(bias, (b, l))).softmax::<Axis<1>>();
                // Zero the weights of all-padding rows (softmax would spread over padding).
                let a = a * dev.tensor_from_vec(h.mask.clone(), (b, l));
                let pooled = a.reshape_like(&(b, 1, l)).matmul(h2.reshape_like(&(b, l, d))).reshape_like(&(b, d));
                (pooled, Leaf { twin, ids: h.items.clone(), weight: Some(h.mask.clone()) }, false)
            }
        };
        let pooled = match &self.content {
            Some((f, w, proj)) => {
                use rayon::prelude::*;
                let mut m = vec![0f32; b * w];
                m.par_chunks_mut(*w).enumerate().for_each(|(r, out)| {
                    let n: f32 = h.mask[r * l..(r + 1) * l].iter().sum();
                    for k in (0..l).filter(|&k| h.mask[r * l + k] > 0.0) {
                        let item = h.items[r * l + k] as usize;
                        let scale = h.mask[r * l + k] / n;
                        for (o, v) in out.iter_mut().zip(&f[item * w..(item + 1) * w]) {
                            *o += v * scale;
                        }
                    }
                });
                pooled + proj.forward(dev.tensor_from_vec(m, (b, *w)).leaky_traced())
            }
            None => pooled,
        };
        let (x, user) = match &self.users {
            Some(t) if h.users.contains(&NO_USER) => {
                // Anonymous rows read row 0 and multiply it by 0: no user's row leaks into them.
                let ids: Vec<u32> = h.users.iter().map(|&u| if u == NO_USER { 0 } else { u }).collect();
                let known: Vec<f32> = h.users.iter().map(|&u| (u != NO_USER) as u8 as f32).collect();
                let (twin, u) = leaf(dev, t.gather(&ids)?, b, d);
                let m = dev.tensor_from_vec(known.clone(), (b,)).broadcast_like::<_, Axis<1>>(&(b, d));
                (pooled + u * m, Some(Leaf { twin, ids, weight: Some(known) }))
            }
            Some(t) => {
                let (twin, u) = leaf(dev, t.gather(&h.users)?, b, d);
                (pooled + u, Some(Leaf { twin, ids: h.users.clone(), weight: None }))
            }
            None => (pooled, None),
        };
        Ok((x, UserLeaves { history, pooled_on_host, user }))
    }

    /// Queries (`rows × out`) and the leaves for the sparse update; unknown ids are errors.
    pub fn forward(&self, dev: &Dev, h: &History) -> Result<(V2, UserLeaves)> {
        let (x, leaves) = self.pooled(dev, h)?;
        Ok((self.mlp.forward(x), leaves))
    }

    /// Sparse update of the history-item and user tables from a finished backward pass.
    pub fn apply(&mut self, leaves: &UserLeaves, grads: &mut Grads) -> Result<()> {
        let g = leaves.history.grad(grads);
        let d = self.items.dim();
        let w = leaves.history.weight.as_deref();
        if leaves.pooled_on_host {
            // d pooled / d row = the position's weight.
            let w = w.expect("host pooling records its weights");
            let l = w.len() / (g.len() / d).max(1);
            let rg = self.items.accumulate_pooled(&leaves.history.ids, w, &g, l);
            self.items.apply(&rg)?;
        } else {
            self.items.update(&leaves.history.ids, &g, w)?;
        }
        if let (Some(t), Some(u)) = (&mut self.users, &leaves.user) {
            let g = u.grad(grads);
            t.update(&u.ids, &g, None)?;
        }
        Ok(())
    }
}

impl HasParams for UserTower {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        self.mlp.visit_params(&format!("{prefix}.mlp"), f);
        if let Some((_, _, p)) = &mut self.content {
            p.visit_params(&format!("{prefix}.content"), f);
        }
        if let Some(a) = &mut self.attn {
            f(&format!("{prefix}.attn"), ParamMut::Matrix(a));
        }
    }
}

/// Item-to-item query tower: the query is built from one trigger item (a one-item history without
/// a user row), so the same recall model serves "more like this".
pub struct TriggerTower(pub UserTower);

impl TriggerTower {
    /// A trigger tower over `items` with `mlp` on top.
    pub fn new(dev: &Dev, items: SparseEmbedding, mlp: Mlp, rng: &mut Rng) -> Result<Self> {
        Ok(TriggerTower(UserTower::new(dev, items, None, Pooling::Mean, mlp, rng)?))
    }
    /// The one-item histories of `triggers`.
    pub fn history(triggers: &[u32]) -> History {
        History { users: vec![0; triggers.len()], items: triggers.to_vec(), mask: vec![1.0; triggers.len()], len: 1 }
    }
    /// Queries for `triggers`, one row each.
    pub fn forward(&self, dev: &Dev, triggers: &[u32]) -> Result<(V2, UserLeaves)> {
        self.0.forward(dev, &Self::history(triggers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_nn::{Activation, RowOptimizer, device};

    fn tower(pooling: Pooling, seed: u64) -> UserTower {
        let dev = device(0);
        let mut rng = Rng::new(seed);
        let items = SparseEmbedding::new("items", 10, 4, 0.5, RowOptimizer::adam(0.1), &mut rng).unwrap();
        let mlp = Mlp::new(&dev, &[4, 6, 3], Activation::Relu, &mut rng).unwrap();
        UserTower::new(&dev, items, None, pooling, mlp, &mut rng).unwrap()
    }

    fn rows(t: &UserTower, h: &History) -> Vec<f32> {
        t.forward(&device(0), h).unwrap().0.retaped::<NoneTape>().as_vec()
    }

    #[test]
    fn an_anonymous_row_reads_no_user_row() {
        let dev = device(0);
        // The same tables and MLP each time (same seed), with or without user rows.
        let build = |with_users: bool, user_rows: Option<Vec<f32>>| {
            let mut rng = Rng::new(4);
            let items = SparseEmbedding::new("items", 10, 4, 0.5, RowOptimizer::adam(0.1), &mut rng).unwrap();
            let mut users = SparseEmbedding::new("users", 3, 4, 0.5, RowOptimizer::adam(0.1), &mut rng).unwrap();
            if let Some(v) = user_rows {
                users.set_table(v).unwrap();
            }
            let mlp = Mlp::new(&dev, &[4, 6, 3], Activation::Relu, &mut rng).unwrap();
            UserTower::new(&dev, items, with_users.then_some(users), Pooling::Mean, mlp, &mut rng).unwrap()
        };
        let h = History::from_lists(&[NO_USER, 0], &[&[1, 2], &[1, 2]], 4);
        let (a, alone) = (rows(&build(true, None), &h), rows(&build(false, None), &h));
        // The anonymous row equals the tower without user rows; user 0's row differs.
        assert!(a[..3].iter().zip(&alone[..3]).all(|(p, q)| (p - q).abs() < 1e-6), "{a:?} vs {alone:?}");
        assert!(a[..3].iter().zip(&a[3..]).any(|(p, q)| (p - q).abs() > 1e-4), "user 0's row must matter to row 1");
        // Changing user 0's row changes nothing for the anonymous row.
        assert_eq!(rows(&build(true, Some(vec![3.0; 12])), &h)[..3], a[..3]);
    }

    #[test]
    fn pooling_ignores_padding_and_order_and_trigger_is_a_one_item_history() {
        for pooling in [Pooling::Mean, Pooling::Attention] {
            let t = tower(pooling, 3);
            // Same items, different order and padding: same query.
            let a = History::from_lists(&[0], &[&[1, 2, 3]], 5);
            let mut b = History::from_lists(&[0], &[&[3, 1, 2]], 5);
            b.items[4] = 9; // a padded position holding another id changes nothing
            let (x, y) = (rows(&t, &a), rows(&t, &b));
            assert!(x.iter().zip(&y).all(|(p, q)| (p - q).abs() < 1e-6), "{pooling:?}: {x:?} vs {y:?}");
            // A one-item history pools to that item's row (any pooling).
            let one = rows(&t, &History::from_lists(&[0], &[&[7]], 5));
            let trig = TriggerTower(tower(pooling, 3));
            let q = trig.forward(&device(0), &[7]).unwrap().0.retaped::<NoneTape>().as_vec();
            assert!(one.iter().zip(&q).all(|(p, r)| (p - r).abs() < 1e-6), "{pooling:?}");
        }
    }
}
