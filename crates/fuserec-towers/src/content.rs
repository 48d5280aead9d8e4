use crate::Leaf;
use fuserec_core::{Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{leaf, Dense, Dev, Grads, HasParams, Mlp, ParamMut, RowOptimizer, SparseEmbedding, V2};

/// Code value meaning "this item has no code at this level" (e.g. both modalities missing).
pub const NO_CODE: u32 = u32::MAX;

/// What the content tower may look at, per item; prepared by the caller from the feature store
/// and the quantiser (the tower never sees images or text).
#[derive(Clone, Debug, Default)]
pub struct ContentInput {
    /// `items × dim` features (masked modalities zeroed, mask bits included by the caller).
    pub features: Option<(Vec<f32>, usize)>,
    /// Per level: the item's cluster code at that level (or [`NO_CODE`]), and the code count.
    pub codes: Vec<(Vec<u32>, usize)>,
}

/// Item side, content view: `mlp(relu(features·W + Σ_level E_level[code]))`. A code embedding is
/// a one-hot input to the first layer, so it is added rather than concatenated.
pub struct ContentTower {
    features: Vec<f32>,
    f_dim: usize,
    proj: Option<Dense>,
    codes: Vec<(SparseEmbedding, Vec<u32>)>,
    hidden: usize,
    pub mlp: Mlp,
    n_items: usize,
}

pub struct ContentLeaves {
    codes: Vec<Leaf>,
}

impl ContentTower {
    pub fn new(dev: &Dev, input: ContentInput, n_items: usize, hidden: usize, mlp: Mlp, code_opt: RowOptimizer, rng: &mut Rng) -> Result<Self> {
        if input.features.is_none() && input.codes.is_empty() {
            return Err(Error::Config("content tower: no features and no cluster codes to look at".into()));
        }
        if mlp.inp() != hidden {
            return Err(Error::Config(format!("content tower: MLP input {} ≠ hidden width {hidden}", mlp.inp())));
        }
        let (features, f_dim) = input.features.unwrap_or((Vec::new(), 0));
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
        Ok(ContentTower { features, f_dim, proj, codes, hidden, mlp, n_items })
    }

    pub fn out(&self) -> usize {
        self.mlp.out()
    }
    /// The feature rows (`items × width`), when the tower reads features.
    pub fn features(&self) -> Option<(&[f32], usize)> {
        (self.f_dim > 0).then_some((&self.features[..], self.f_dim))
    }
    pub fn levels(&self) -> usize {
        self.codes.len()
    }

    pub fn forward(&self, dev: &Dev, items: &[u32]) -> Result<(V2, ContentLeaves)> {
        let b = items.len();
        if let Some(&bad) = items.iter().find(|&&i| i as usize >= self.n_items) {
            return Err(Error::UnknownId { kind: "item", id: bad.to_string(), context: Some(format!("content tower knows {} items", self.n_items)) });
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
        let x = x.expect("validated: features or codes").relu();
        Ok((self.mlp.forward(x), ContentLeaves { codes: leaves }))
    }

    pub fn apply(&mut self, l: &ContentLeaves, grads: &mut Grads) -> Result<()> {
        for ((table, _), leaf) in self.codes.iter_mut().zip(&l.codes) {
            let g = leaf.grad(grads);
            table.update(&leaf.ids, &g, leaf.weight.as_deref())?;
        }
        Ok(())
    }

    pub fn tables(&self) -> impl Iterator<Item = &SparseEmbedding> {
        self.codes.iter().map(|c| &c.0)
    }
    pub fn tables_mut(&mut self) -> impl Iterator<Item = &mut SparseEmbedding> {
        self.codes.iter_mut().map(|c| &mut c.0)
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
