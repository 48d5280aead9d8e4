use crate::Leaf;
use fuserec_core::{Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{Dense, Dev, Grads, HasParams, Mlp, ParamMut, RowOptimizer, SparseEmbedding, V2, leaf};
use std::sync::Arc;

/// Code value meaning "this item has no code at this level" (e.g. both modalities missing).
pub const NO_CODE: u32 = u32::MAX;

/// What the content tower may look at, per item; prepared by the caller from the feature store
/// and the quantiser (the tower never sees images or text).
#[derive(Clone, Debug, Default)]
pub struct ContentInput {
    /// `items × dim` features (masked modalities zeroed, mask bits included by the caller);
    /// shared, since the query tower may read the same rows for the user's history.
    pub features: Option<(Arc<Vec<f32>>, usize)>,
    /// Per level: the item's cluster code at that level (or [`NO_CODE`]), and the code count.
    pub codes: Vec<(Vec<u32>, usize)>,
    /// Per item: its tag ids (any number, possibly none), and the tag vocabulary size.
    pub tags: Option<(Vec<Vec<u32>>, usize)>,
}

/// Tags padded to a fixed width per item, for mean pooling on the host.
struct TagBag {
    table: SparseEmbedding,
    /// `items × width` tag ids (padding: 0) and mean weights (`1/n`, padding 0).
    ids: Vec<u32>,
    weight: Vec<f32>,
    width: usize,
}

/// Item side, content view: `mlp(relu(features·W + Σ_level E_level[code] + mean_tag E_tag[tag]))`.
/// A code or tag embedding is a one-hot input to the first layer, so it is added rather than
/// concatenated.
pub struct ContentTower {
    features: Arc<Vec<f32>>,
    f_dim: usize,
    proj: Option<Dense>,
    codes: Vec<(SparseEmbedding, Vec<u32>)>,
    tags: Option<TagBag>,
    hidden: usize,
    /// The MLP on the summed first layer.
    pub mlp: Mlp,
    n_items: usize,
}

/// What a content forward pass gathered (code and tag rows), for the sparse update.
pub struct ContentLeaves {
    codes: Vec<Leaf>,
    /// Pooled tag rows (leaf) and the batch's padded tag ids and weights.
    tags: Option<(Leaf, Vec<f32>)>,
}

impl ContentTower {
    /// A content tower over `n_items` items: feature projection, one table per code level, an
    /// optional tag bag, into `hidden`, then `mlp`. Shape mismatches between input and `n_items` are errors.
    pub fn new(
        dev: &Dev,
        input: ContentInput,
        n_items: usize,
        hidden: usize,
        mlp: Mlp,
        code_opt: RowOptimizer,
        rng: &mut Rng,
    ) -> Result<Self> {
        if input.features.is_none() && input.codes.is_empty() && input.tags.is_none() {
            return Err(Error::Config("content tower: no features, cluster codes or tags to look at".into()));
        }
        if mlp.inp() != hidden {
            return Err(Error::Config(format!("content tower: MLP input {} ≠ hidden width {hidden}", mlp.inp())));
        }
        let (features, f_dim) = input.features.unwrap_or_default();
        if f_dim > 0 && features.len() != n_items * f_dim {
            return Err(Error::Shape(format!("content features: {} values for {n_items} items × {f_dim}", features.len())));
        }
        if let Some(k) = features.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!("content features: non-finite value for item {}", k / f_dim.max(1))));
        }
        let proj = (f_dim > 0).then(|| Dense::new(dev, f_dim, hidden, rng));
        let mut codes = Vec::new();
        for (level, (c, count)) in input.codes.into_iter().enumerate() {
            if c.len() != n_items {
                return Err(Error::Shape(format!("cluster codes level {level}: {} codes for {n_items} items", c.len())));
            }
            if let Some(bad) = c.iter().find(|&&x| x != NO_CODE && x as usize >= count) {
                return Err(Error::Invalid(format!("cluster codes level {level}: code {bad} ≥ {count}")));
            }
            codes.push((SparseEmbedding::new(&format!("code{level}"), count.max(1), hidden, 0.1, code_opt, rng)?, c));
        }
        let tags = match input.tags {
            Some((per_item, vocab)) => {
                if per_item.len() != n_items {
                    return Err(Error::Shape(format!("tags: {} tag lists for {n_items} items", per_item.len())));
                }
                if let Some((i, t)) =
                    per_item.iter().enumerate().find_map(|(i, t)| t.iter().find(|&&x| x as usize >= vocab).map(|t| (i, t)))
                {
                    return Err(Error::Invalid(format!("tags: item {i} has tag id {t} ≥ vocabulary {vocab}")));
                }
                let width = per_item.iter().map(Vec::len).max().unwrap_or(0).max(1);
                let mut ids = vec![0u32; n_items * width];
                let mut weight = vec![0f32; n_items * width];
                for (i, t) in per_item.iter().enumerate() {
                    for (k, &tag) in t.iter().enumerate() {
                        ids[i * width + k] = tag;
                        weight[i * width + k] = 1.0 / t.len() as f32;
                    }
                }
                Some(TagBag { table: SparseEmbedding::new("tags", vocab.max(1), hidden, 0.1, code_opt, rng)?, ids, weight, width })
            }
            None => None,
        };
        Ok(ContentTower { features, f_dim, proj, codes, tags, hidden, mlp, n_items })
    }

    /// Output width.
    pub fn out(&self) -> usize {
        self.mlp.out()
    }
    /// The feature rows (`items × width`), when the tower reads features.
    pub fn features(&self) -> Option<(&[f32], usize)> {
        (self.f_dim > 0).then_some((&self.features[..], self.f_dim))
    }
    /// Code levels embedded (0 without codes).
    pub fn levels(&self) -> usize {
        self.codes.len()
    }

    /// Content vectors of items outside the training catalogue (`b` items): their feature rows
    /// (`b × width`, prepared like the training rows; empty when the tower reads none) and, per
    /// code level the tower reads, their cluster codes (`NO_CODE`: none). How a new item gets a
    /// vector at serving time. Tags of new items are not supported (an error).
    pub fn forward_rows(&self, dev: &Dev, rows: &[f32], codes: &[Vec<u32>]) -> Result<V2> {
        if self.tags.is_some() {
            return Err(Error::Config("content tower reads tags: embedding a new item would leave them out".into()));
        }
        if codes.len() != self.codes.len() {
            return Err(Error::Shape(format!("new items: codes for {} levels, the tower reads {}", codes.len(), self.codes.len())));
        }
        let b = match (&self.proj, codes.first()) {
            (Some(_), _) if !rows.is_empty() && rows.len().is_multiple_of(self.f_dim) => rows.len() / self.f_dim,
            (Some(_), _) => return Err(Error::Shape(format!("content rows: {} values for width {}", rows.len(), self.f_dim))),
            (None, Some(c)) if !c.is_empty() => c.len(),
            (None, _) => return Err(Error::Shape("new items: no feature rows and no codes".into())),
        };
        if let Some(k) = rows.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!("content rows: non-finite value in row {}", k / self.f_dim.max(1))));
        }
        let mut x: Option<V2> = self.proj.as_ref().map(|p| p.forward(dev.tensor_from_vec(rows.to_vec(), (b, self.f_dim)).leaky_traced()));
        for (level, ((table, _), c)) in self.codes.iter().zip(codes).enumerate() {
            if c.len() != b {
                return Err(Error::Shape(format!("new items: {} codes at level {level} for {b} items", c.len())));
            }
            if let Some(bad) = c.iter().find(|&&x| x != NO_CODE && x as usize >= table.ids()) {
                return Err(Error::Invalid(format!("new items: code {bad} at level {level} ≥ {}", table.ids())));
            }
            let safe: Vec<u32> = c.iter().map(|&x| if x == NO_CODE { 0 } else { x }).collect();
            let mut g = table.gather(&safe)?;
            for (r, &code) in g.chunks_exact_mut(self.hidden).zip(c) {
                if code == NO_CODE {
                    r.fill(0.0);
                }
            }
            let v = dev.tensor_from_vec(g, (b, self.hidden)).retaped::<fuserec_nn::Tape>();
            x = Some(match x {
                Some(x) => x + v,
                None => v,
            });
        }
        Ok(self.mlp.forward(x.expect("features or codes").relu()))
    }

    /// The cluster code of catalogue item `i` at each level the tower reads.
    pub fn item_codes(&self, i: u32) -> Vec<u32> {
        self.codes.iter().map(|(_, c)| c.get(i as usize).copied().unwrap_or(NO_CODE)).collect()
    }

    /// Width of a feature row (0: the tower reads no features).
    pub fn feature_width(&self) -> usize {
        self.f_dim
    }

    /// Content vectors of `items` (`items.len() × out`) and the leaves for [`apply`](ContentTower::apply).
    pub fn forward(&self, dev: &Dev, items: &[u32]) -> Result<(V2, ContentLeaves)> {
        let b = items.len();
        if let Some(&bad) = items.iter().find(|&&i| i as usize >= self.n_items) {
            return Err(Error::UnknownId {
                kind: "item",
                id: bad.to_string(),
                context: Some(format!("content tower knows {} items", self.n_items)),
            });
        }
        let mut x: Option<V2> = self.proj.as_ref().map(|p| {
            let mut xf = vec![0f32; b * self.f_dim];
            for (o, &i) in xf.chunks_exact_mut(self.f_dim).zip(items) {
                o.copy_from_slice(&self.features[i as usize * self.f_dim..(i as usize + 1) * self.f_dim]);
            }
            p.forward(dev.tensor_from_vec(xf, (b, self.f_dim)).leaky_traced())
        });
        let mut leaves = Vec::new();
        for (table, code) in &self.codes {
            let ids: Vec<u32> = items.iter().map(|&i| code[i as usize]).collect();
            let weight: Vec<f32> = ids.iter().map(|&c| if c == NO_CODE { 0.0 } else { 1.0 }).collect();
            let safe: Vec<u32> = ids.iter().map(|&c| if c == NO_CODE { 0 } else { c }).collect();
            let mut rows = table.gather(&safe)?;
            for (r, w) in rows.chunks_exact_mut(self.hidden).zip(&weight) {
                if *w == 0.0 {
                    r.fill(0.0);
                }
            }
            let (twin, v) = leaf(dev, rows, b, self.hidden);
            x = Some(match x {
                Some(x) => x + v,
                None => v,
            });
            leaves.push(Leaf { twin, ids: safe, weight: Some(weight) });
        }
        let tags = match &self.tags {
            Some(bag) => {
                let (w, h) = (bag.width, self.hidden);
                let ids: Vec<u32> = items.iter().flat_map(|&i| bag.ids[i as usize * w..(i as usize + 1) * w].iter().copied()).collect();
                let weight: Vec<f32> =
                    items.iter().flat_map(|&i| bag.weight[i as usize * w..(i as usize + 1) * w].iter().copied()).collect();
                let rows = bag.table.gather(&ids)?;
                let mut pooled = vec![0f32; b * h];
                for (p, (&wt, row)) in weight.iter().zip(rows.chunks_exact(h)).enumerate() {
                    if wt > 0.0 {
                        for (o, v) in pooled[(p / w) * h..(p / w + 1) * h].iter_mut().zip(row) {
                            *o += wt * v;
                        }
                    }
                }
                let (twin, v) = leaf(dev, pooled, b, h);
                x = Some(match x {
                    Some(x) => x + v,
                    None => v,
                });
                Some((Leaf { twin, ids, weight: None }, weight))
            }
            None => None,
        };
        let x = x.expect("validated: features, codes or tags").relu();
        Ok((self.mlp.forward(x), ContentLeaves { codes: leaves, tags }))
    }

    /// Sparse update of the code and tag rows the forward pass gathered.
    pub fn apply(&mut self, l: &ContentLeaves, grads: &mut Grads) -> Result<()> {
        for ((table, _), leaf) in self.codes.iter_mut().zip(&l.codes) {
            let g = leaf.grad(grads);
            table.update(&leaf.ids, &g, leaf.weight.as_deref())?;
        }
        if let (Some(bag), Some((leaf, weight))) = (&mut self.tags, &l.tags) {
            let g = leaf.grad(grads);
            let rg = bag.table.accumulate_pooled(&leaf.ids, weight, &g, bag.width);
            bag.table.apply(&rg)?;
        }
        Ok(())
    }

    /// Code tables (one per level), then the tag table.
    pub fn tables(&self) -> impl Iterator<Item = &SparseEmbedding> {
        self.codes.iter().map(|c| &c.0).chain(self.tags.as_ref().map(|t| &t.table))
    }
    /// The code and tag tables (for checkpoints).
    pub fn tables_mut(&mut self) -> impl Iterator<Item = &mut SparseEmbedding> {
        self.codes.iter_mut().map(|c| &mut c.0).chain(self.tags.as_mut().map(|t| &mut t.table))
    }
    /// Rows per code level (the cluster counts the tower sees).
    pub fn code_counts(&self) -> Vec<usize> {
        self.codes.iter().map(|c| c.0.rows()).collect()
    }
}

impl HasParams for ContentTower {
    fn visit_params(&mut self, prefix: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        if let Some(p) = &mut self.proj {
            p.visit_params(&format!("{prefix}.proj"), f);
        }
        self.mlp.visit_params(&format!("{prefix}.mlp"), f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_nn::{Activation, device};

    #[test]
    fn tags_pool_per_item_and_update_only_their_rows() {
        let dev = device(0);
        let mut rng = Rng::new(1);
        // Items 0 and 1 share the tag set {0, 2} (in another order); item 2 has no tag.
        let tags = vec![vec![0, 2], vec![2, 0], vec![], vec![1]];
        let input = ContentInput { features: None, codes: Vec::new(), tags: Some((tags, 4)) };
        let mlp = Mlp::new(&dev, &[8, 8, 4], Activation::Relu, &mut rng).unwrap();
        let mut t = ContentTower::new(&dev, input, 4, 8, mlp, RowOptimizer::Sgd { lr: 0.5 }, &mut rng).unwrap();
        let (c, leaves) = t.forward(&dev, &[0, 1, 2]).unwrap();
        let v = c.retaped::<NoneTape>().as_vec();
        assert_eq!(&v[0..4], &v[4..8], "same tags, same content vector");
        let before: Vec<f32> = t.tables().next().unwrap().table().to_vec();
        let (c, leaves2) = t.forward(&dev, &[0, 2]).unwrap();
        drop(leaves);
        let mut grads = c.sum::<(), _>().backward();
        t.apply(&leaves2, &mut grads).unwrap();
        let after = t.tables().next().unwrap().table();
        assert_eq!(&after[8..16], &before[8..16], "tag 1 (not in the batch) unchanged");
        assert_eq!(&after[24..32], &before[24..32], "tag 3 (unused) unchanged");
        assert_ne!(&after[0..8], &before[0..8], "tag 0 of item 0 updated");
        let e = ContentTower::new(
            &dev,
            ContentInput { tags: Some((vec![vec![9]; 4], 4)), ..Default::default() },
            4,
            8,
            Mlp::new(&dev, &[8, 4], Activation::Relu, &mut rng).unwrap(),
            RowOptimizer::Sgd { lr: 0.1 },
            &mut rng,
        )
        .err()
        .expect("tag outside the vocabulary")
        .to_string();
        assert!(e.contains("item 0") && e.contains('9'), "{e}");
    }
}
