//! Id tables that train sparsely: only the rows a batch touched are read and written, so step
//! cost follows the batch, not the catalogue.

use fuserec_core::{Error, Result, Rng};

/// How a [`SparseEmbedding`] updates the rows a batch touched.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RowOptimizer {
    /// Adam on touched rows only (the moments of untouched rows stay as they were, like
    /// PyTorch's `SparseAdam`); bias correction uses the table's global step.
    Adam {
        /// Learning rate.
        lr: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator guard.
        eps: f32,
    },
    /// Adagrad: per-element step sizes that shrink with the summed squared gradients.
    Adagrad {
        /// Learning rate.
        lr: f32,
        /// Denominator guard.
        eps: f32,
        /// Starting value of the accumulator.
        initial_accumulator: f32,
    },
    /// Plain SGD.
    Sgd {
        /// Learning rate.
        lr: f32,
    },
}

impl RowOptimizer {
    /// Adam with `lr` and the usual betas (0.9, 0.999) and eps (1e-8).
    pub fn adam(lr: f32) -> Self {
        RowOptimizer::Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
    /// One update of one row `w` with gradient `g` at step `t` (1-based, Adam's bias
    /// correction); `s1` / `s2` are its optimiser state (Adagrad: `s1` = accumulator; Adam: `s1`,
    /// `s2` = moments; unused slots may be empty). The tables' updates and rows kept outside a
    /// table (a served item's near-line id row) share this one implementation.
    pub fn step_row(&self, w: &mut [f32], s1: &mut [f32], s2: &mut [f32], g: &[f32], t: i32) {
        let d = w.len();
        let slots = [s1.len(), s2.len()];
        assert!(
            g.len() == d && slots[..self.state_slots()].iter().all(|&s| s == d),
            "step_row: {d} values, {slots:?} state, {} gradients",
            g.len()
        );
        match *self {
            RowOptimizer::Sgd { lr } => w.iter_mut().zip(g).for_each(|(w, g)| *w -= lr * g),
            RowOptimizer::Adagrad { lr, eps, .. } => adagrad_row(w, s1, g, lr, eps),
            RowOptimizer::Adam { lr, beta1, beta2, eps } => {
                let k = AdamScalars { lr, beta1, beta2, eps, inv_c1: 1.0 / (1.0 - beta1.powi(t)), inv_c2: 1.0 / (1.0 - beta2.powi(t)) };
                adam_row(w, s1, s2, g, k)
            }
        }
    }

    /// State values per row element (0, 1 or 2 slots).
    pub fn state_slots(&self) -> usize {
        match self {
            RowOptimizer::Adam { .. } => 2,
            RowOptimizer::Adagrad { .. } => 1,
            RowOptimizer::Sgd { .. } => 0,
        }
    }
}

/// Adam's constants for one step: the bias corrections as reciprocals (`1 / (1 − βᵗ)`).
#[derive(Clone, Copy)]
struct AdamScalars {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    inv_c1: f32,
    inv_c2: f32,
}

fuserec_core::vectorized_fn! {
    /// Adam on one row (`m`, `v`: its moments), compiled for the CPU's widest vector unit: the
    /// square root and division per element are most of a sparse step's update.
    fn adam_row(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: AdamScalars) {
        let d = w.len().min(m.len()).min(v.len()).min(g.len());
        let (w, m, v, g) = (&mut w[..d], &mut m[..d], &mut v[..d], &g[..d]);
        for j in 0..d {
            m[j] = k.beta1 * m[j] + (1.0 - k.beta1) * g[j];
            v[j] = k.beta2 * v[j] + (1.0 - k.beta2) * g[j] * g[j];
            w[j] -= k.lr * (m[j] * k.inv_c1) / ((v[j] * k.inv_c2).sqrt() + k.eps);
        }
    }
}

fuserec_core::vectorized_fn! {
    /// Adagrad on one row (`acc`: its summed squared gradients).
    fn adagrad_row(w: &mut [f32], acc: &mut [f32], g: &[f32], lr: f32, eps: f32) {
        let d = w.len().min(acc.len()).min(g.len());
        let (w, acc, g) = (&mut w[..d], &mut acc[..d], &g[..d]);
        for j in 0..d {
            acc[j] += g[j] * g[j];
            w[j] -= lr * g[j] / (acc[j].sqrt() + eps);
        }
    }
}

fuserec_core::vectorized_fn! {
    /// `out[r] += Σ_k weight[r·per + k] · (table row rows[r·per + k])`, skipping zero weights and
    /// prefetching the rows ahead (a large table's rows are scattered).
    fn weighted_row_sums(table: &[f32], rows: &[u32], weight: &[f32], per: usize, out: &mut [f32]) {
        let d = out.len() / (rows.len() / per).max(1);
        for (p, (&r, &w)) in rows.iter().zip(weight).enumerate() {
            if let Some(&next) = rows.get(p + AHEAD) {
                prefetch(table.as_ptr().wrapping_add(next as usize * d), d * 4);
            }
            if w == 0.0 {
                continue;
            }
            let src = &table[r as usize * d..(r as usize + 1) * d];
            let o = &mut out[p / per * d..(p / per + 1) * d];
            for (a, b) in o.iter_mut().zip(src) {
                *a += w * b;
            }
        }
    }
}

/// An id embedding table trained sparsely: a batch reads its rows with [`gather`](SparseEmbedding::gather)
/// and writes only them back with [`update`](SparseEmbedding::update). Ids may be hashed into fewer rows.
pub struct SparseEmbedding {
    name: String,
    ids: usize,
    rows: usize,
    dim: usize,
    table: Vec<f32>,
    opt: RowOptimizer,
    /// `slots × rows × dim` optimiser state, allocated with the table.
    state: Vec<f32>,
    step: u64,
    /// When set, id `i` lives in row `hash(i) % rows` (hashing trick for huge id spaces).
    hashed: bool,
    /// Scratch: row → position in the current batch's unique list (`u32::MAX` when absent).
    /// Reset after each update, so the cost stays O(batch).
    slot: Vec<u32>,
}

/// Asks the CPU to start loading the row at `p` (`bytes` long): rows of a large table are
/// scattered, and a step's cost on a 1M-row table is mostly waiting for them.
#[inline(always)]
fn prefetch(p: *const f32, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for off in (0..bytes).step_by(64) {
        // SAFETY: prefetch is a hint; it never faults, even for an address past the buffer.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((p as *const i8).wrapping_add(off)) };
    }
}

const AHEAD: usize = 8;

#[derive(Clone, Copy)]
struct RowsPtr(*mut f32);
// SAFETY: only used to hand disjoint rows to parallel tasks (see `apply`).
unsafe impl Send for RowsPtr {}
unsafe impl Sync for RowsPtr {}
impl RowsPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Gradients summed per distinct row of one batch.
pub struct RowGrads {
    pub rows: Vec<u32>,
    pub grads: Vec<f32>,
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SparseEmbedding {
    /// `ids` distinct ids, each its own row; rows drawn from N(0, init_std²).
    pub fn new(name: &str, ids: usize, dim: usize, init_std: f32, opt: RowOptimizer, rng: &mut Rng) -> Result<Self> {
        Self::build(name, ids, ids, dim, init_std, opt, false, rng)
    }

    /// `ids` distinct ids hashed into `rows` rows (collisions share a row).
    pub fn hashed(name: &str, ids: usize, rows: usize, dim: usize, init_std: f32, opt: RowOptimizer, rng: &mut Rng) -> Result<Self> {
        Self::build(name, ids, rows, dim, init_std, opt, true, rng)
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        name: &str,
        ids: usize,
        rows: usize,
        dim: usize,
        init_std: f32,
        opt: RowOptimizer,
        hashed: bool,
        rng: &mut Rng,
    ) -> Result<Self> {
        if rows == 0 || dim == 0 || rows > u32::MAX as usize {
            return Err(Error::Config(format!("embedding `{name}`: {rows} rows × {dim} dims is not a table")));
        }
        let table = (0..rows * dim).map(|_| (rng.normal() * init_std as f64) as f32).collect();
        // Written element by element (not `vec![0.0; n]`, which maps zero pages lazily): otherwise
        // the first update of every row pays a page fault, and a step over a large, mostly
        // untouched table costs more than one over a small table.
        let mut state = Vec::with_capacity(opt.state_slots() * rows * dim);
        state.resize(
            opt.state_slots() * rows * dim,
            if let RowOptimizer::Adagrad { initial_accumulator, .. } = opt { initial_accumulator } else { 0.0 },
        );
        std::hint::black_box(&mut state);
        Ok(SparseEmbedding { name: name.into(), ids, rows, dim, table, opt, state, step: 0, hashed, slot: vec![u32::MAX; rows] })
    }

    /// The table's name (keys its checkpoint entry).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Row width.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Stored rows (fewer than ids when hashed).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of ids the table accepts (`0..ids`).
    pub fn ids(&self) -> usize {
        self.ids
    }
    /// All rows, row-major.
    pub fn table(&self) -> &[f32] {
        &self.table
    }
    /// The row optimiser.
    pub fn optimizer(&self) -> RowOptimizer {
        self.opt
    }

    /// The row that holds `id`, or an error naming the table and the id.
    pub fn row_of(&self, id: u32) -> Result<usize> {
        if id as usize >= self.ids {
            return Err(Error::UnknownId {
                kind: "row id",
                id: id.to_string(),
                context: Some(format!("embedding `{}` has {} ids", self.name, self.ids)),
            });
        }
        Ok(if self.hashed { (mix(id as u64) % self.rows as u64) as usize } else { id as usize })
    }

    fn row_unchecked(&self, id: u32) -> usize {
        if self.hashed { (mix(id as u64) % self.rows as u64) as usize } else { id as usize }
    }

    /// The row that holds `id`; an error naming the table when `id` is out of range.
    pub fn row(&self, id: u32) -> Result<&[f32]> {
        let r = self.row_of(id)?;
        Ok(&self.table[r * self.dim..(r + 1) * self.dim])
    }

    /// Copies the rows of `ids` into `out` (`ids.len() × dim`).
    pub fn gather_into(&self, ids: &[u32], out: &mut [f32]) -> Result<()> {
        assert_eq!(out.len(), ids.len() * self.dim, "gather buffer size");
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= self.ids) {
            return Err(Error::UnknownId {
                kind: "row id",
                id: bad.to_string(),
                context: Some(format!("embedding `{}` has {} ids", self.name, self.ids)),
            });
        }
        let d = self.dim;
        for (p, (o, &id)) in out.chunks_exact_mut(d).zip(ids).enumerate() {
            if let Some(&next) = ids.get(p + AHEAD) {
                prefetch(self.table.as_ptr().wrapping_add(self.row_unchecked(next) * d), d * 4);
            }
            let r = self.row_unchecked(id);
            o.copy_from_slice(&self.table[r * d..(r + 1) * d]);
        }
        Ok(())
    }

    /// Weighted sums of rows in groups of `per` positions (`ids.len() / per × dim`):
    /// `out[r] = Σ_k weight[r·per + k] · row(ids[r·per + k])`; zero weights (padding) read no
    /// row. Host-side pooling of histories without gathering every position's row first. An
    /// unknown id is an error, even at a padded position.
    pub fn pool(&self, ids: &[u32], weight: &[f32], per: usize) -> Result<Vec<f32>> {
        assert!(
            per > 0 && ids.len() == weight.len() && ids.len().is_multiple_of(per),
            "pool: {} ids, {} weights, groups of {per}",
            ids.len(),
            weight.len()
        );
        let rows = ids.iter().map(|&id| self.row_of(id).map(|r| r as u32)).collect::<Result<Vec<u32>>>()?;
        let d = self.dim;
        let mut out = vec![0f32; ids.len() / per * d];
        use rayon::prelude::*;
        out.par_chunks_mut(64 * d).enumerate().for_each(|(c, o)| {
            let span = c * 64 * per..(c * 64 * per + o.len() / d * per);
            weighted_row_sums(&self.table, &rows[span.clone()], &weight[span], per, o)
        });
        Ok(out)
    }

    /// The rows of `ids` (`ids.len() × dim`, row-major); an unknown id is an error.
    pub fn gather(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let mut out = vec![0f32; ids.len() * self.dim];
        self.gather_into(ids, &mut out)?;
        Ok(out)
    }

    /// Sums the per-position gradients (`ids.len() × dim`, e.g. a leaf's gradient) per distinct
    /// row. Positions whose `weight` is zero (padding) are skipped.
    pub fn accumulate(&mut self, ids: &[u32], grads: &[f32], weight: Option<&[f32]>) -> RowGrads {
        assert_eq!(grads.len(), ids.len() * self.dim, "gradient size");
        self.gather_grads(ids, weight, |p| (p, 1.0), grads)
    }

    /// For rows pooled on the host (`pooled[r] = Σ_k weight[r·per + k]·row(ids[r·per + k])`):
    /// the pooled gradient (`ids.len()/per × dim`) scaled by each position's weight, summed per
    /// distinct row — without expanding it to one gradient row per position first.
    pub fn accumulate_pooled(&mut self, ids: &[u32], weight: &[f32], pooled_grads: &[f32], per: usize) -> RowGrads {
        assert_eq!(pooled_grads.len() * per, ids.len() * self.dim, "pooled gradient size");
        self.gather_grads(ids, Some(weight), |p| (p / per, weight[p]), pooled_grads)
    }

    fn gather_grads(&mut self, ids: &[u32], weight: Option<&[f32]>, src: impl Fn(usize) -> (usize, f32), grads: &[f32]) -> RowGrads {
        let d = self.dim;
        let mut rows = Vec::new();
        let mut acc: Vec<f32> = Vec::new();
        for (p, &id) in ids.iter().enumerate() {
            let w = weight.map_or(1.0, |w| w[p]);
            if w == 0.0 || id as usize >= self.ids {
                continue;
            }
            if let Some(&next) = ids.get(p + AHEAD) {
                prefetch(self.slot.as_ptr().wrapping_add(self.row_unchecked(next)) as *const f32, 4);
            }
            let r = self.row_unchecked(id);
            let (q, scale) = src(p);
            let g = &grads[q * d..(q + 1) * d];
            let s = &mut self.slot[r];
            if *s == u32::MAX {
                *s = rows.len() as u32;
                rows.push(r as u32);
                acc.extend(g.iter().map(|x| x * scale));
            } else {
                let a = &mut acc[*s as usize * d..(*s as usize + 1) * d];
                for (x, g) in a.iter_mut().zip(g) {
                    *x += g * scale;
                }
            }
        }
        for &r in &rows {
            self.slot[r as usize] = u32::MAX;
        }
        RowGrads { rows, grads: acc }
    }

    /// One optimiser step on the rows of `ids` (duplicates summed). Untouched rows, and their
    /// optimiser state, are not read or written. Non-finite gradients are an error (and nothing
    /// is updated), since one NaN row would silently poison every later batch that touches it.
    pub fn update(&mut self, ids: &[u32], grads: &[f32], weight: Option<&[f32]>) -> Result<()> {
        let g = self.accumulate(ids, grads, weight);
        self.apply(&g)
    }

    /// Applies summed row gradients ([`accumulate`](SparseEmbedding::accumulate)); a non-finite one is an error and nothing changes.
    pub fn apply(&mut self, g: &RowGrads) -> Result<()> {
        if let Some(p) = g.grads.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!("embedding `{}`: non-finite gradient for row {}", self.name, g.rows[p / self.dim])));
        }
        self.step += 1;
        let d = self.dim;
        let n = self.rows * d;
        let opt = self.opt;
        let t = self.step as i32;
        let table = RowsPtr(self.table.as_mut_ptr());
        let state = RowsPtr(self.state.as_mut_ptr());
        // Rows of one batch are distinct (accumulate merged duplicates), so each row's values and
        // optimiser state are written by exactly one task.
        let slots = opt.state_slots();
        let update_row = |k: usize, r: usize| {
            if let Some(&next) = g.rows.get(k + AHEAD) {
                let next = next as usize * d;
                prefetch(table.get().wrapping_add(next), d * 4);
                for s in 0..slots {
                    prefetch(state.get().wrapping_add(s * n + next), d * 4);
                }
            }
            let g = &g.grads[k * d..(k + 1) * d];
            // SAFETY: `r < rows`, rows are distinct across tasks, the buffers outlive the loop.
            let w = unsafe { std::slice::from_raw_parts_mut(table.get().add(r * d), d) };
            let slot = |s: usize| unsafe { std::slice::from_raw_parts_mut(state.get().add(s * n + r * d), d) };
            match slots {
                0 => opt.step_row(w, &mut [], &mut [], g, t),
                1 => opt.step_row(w, slot(0), &mut [], g, t),
                _ => {
                    let (m, v) = (slot(0), slot(1));
                    opt.step_row(w, m, v, g, t)
                }
            }
        };
        if g.rows.len() * d < 1 << 15 {
            g.rows.iter().enumerate().for_each(|(k, &r)| update_row(k, r as usize));
        } else {
            use rayon::prelude::*;
            g.rows.par_iter().enumerate().with_min_len(256).for_each(|(k, &r)| update_row(k, r as usize));
        }
        Ok(())
    }

    /// Replaces the table (checkpoint load); optimiser state restarts.
    pub fn set_table(&mut self, values: Vec<f32>) -> Result<()> {
        if values.len() != self.table.len() {
            return Err(Error::Shape(format!("embedding `{}`: {} values for a {}×{} table", self.name, values.len(), self.rows, self.dim)));
        }
        if let Some(p) = values.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!("embedding `{}`: non-finite value in row {}", self.name, p / self.dim)));
        }
        self.table = values;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same optimiser written densely over the whole table, as a reference.
    fn dense_step(opt: RowOptimizer, table: &mut [f32], state: &mut [f32], step: i32, grad: &[f32]) {
        let n = table.len();
        match opt {
            RowOptimizer::Adam { lr, beta1, beta2, eps } => {
                let (m, v) = state.split_at_mut(n);
                for i in 0..n {
                    m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
                    v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
                    let mh = m[i] / (1.0 - beta1.powi(step));
                    let vh = v[i] / (1.0 - beta2.powi(step));
                    table[i] -= lr * mh / (vh.sqrt() + eps);
                }
            }
            RowOptimizer::Adagrad { lr, eps, .. } => {
                for i in 0..n {
                    state[i] += grad[i] * grad[i];
                    table[i] -= lr * grad[i] / (state[i].sqrt() + eps);
                }
            }
            RowOptimizer::Sgd { lr } => (0..n).for_each(|i| table[i] -= lr * grad[i]),
        }
    }

    fn batch_grad(ids: &[u32], g: &[f32], rows: usize, d: usize) -> Vec<f32> {
        let mut dense = vec![0f32; rows * d];
        for (p, &id) in ids.iter().enumerate() {
            for j in 0..d {
                dense[id as usize * d + j] += g[p * d + j];
            }
        }
        dense
    }

    #[test]
    fn touches_only_batch_rows_and_matches_dense_reference() {
        let (rows, d) = (7, 3);
        let batches: [(&[u32], f32); 3] = [(&[1, 4, 1], 0.5), (&[2, 4], -0.25), (&[4, 6, 4, 4], 1.0)];
        for opt in [RowOptimizer::Adagrad { lr: 0.1, eps: 1e-8, initial_accumulator: 0.1 }, RowOptimizer::Sgd { lr: 0.3 }] {
            let mut e = SparseEmbedding::new("t", rows, d, 0.1, opt, &mut Rng::new(3)).unwrap();
            let mut table = e.table().to_vec();
            let mut state = vec![0.1f32; rows * d];
            for (s, (ids, scale)) in batches.iter().enumerate() {
                let g: Vec<f32> = (0..ids.len() * d).map(|k| scale * (k as f32 + 1.0)).collect();
                let before = e.table().to_vec();
                e.update(ids, &g, None).unwrap();
                dense_step(opt, &mut table, &mut state, s as i32 + 1, &batch_grad(ids, &g, rows, d));
                for r in 0..rows {
                    let row = &e.table()[r * d..(r + 1) * d];
                    if !ids.contains(&(r as u32)) {
                        assert_eq!(row, &before[r * d..(r + 1) * d], "{opt:?}: untouched row {r} changed");
                    }
                    for j in 0..d {
                        assert!((row[j] - table[r * d + j]).abs() < 1e-6, "{opt:?} step {s} row {r}");
                    }
                }
            }
        }
        // Adam: identical to dense Adam on the first step, and on rows touched every step.
        let opt = RowOptimizer::adam(0.05);
        let mut e = SparseEmbedding::new("t", rows, d, 0.1, opt, &mut Rng::new(3)).unwrap();
        let mut table = e.table().to_vec();
        let mut state = vec![0f32; 2 * rows * d];
        for s in 1..=4 {
            let ids: &[u32] = if s == 1 { &[0, 3, 3] } else { &[3, 5] };
            let g: Vec<f32> = (0..ids.len() * d).map(|k| (k as f32 - 2.0) * 0.3 * s as f32).collect();
            let before = e.table().to_vec();
            e.update(ids, &g, None).unwrap();
            dense_step(opt, &mut table, &mut state, s, &batch_grad(ids, &g, rows, d));
            for r in 0..rows {
                let row = &e.table()[r * d..(r + 1) * d];
                if !ids.contains(&(r as u32)) {
                    assert_eq!(row, &before[r * d..(r + 1) * d], "adam: untouched row {r} changed at step {s}");
                }
                if s == 1 || r == 3 {
                    for j in 0..d {
                        assert!((row[j] - table[r * d + j]).abs() < 1e-6, "adam step {s} row {r}: {} vs {}", row[j], table[r * d + j]);
                    }
                }
            }
        }
    }

    #[test]
    fn parallel_path_and_pooled_gradients_match_the_reference() {
        // 3000 positions over 1000 rows × 32: large enough for the parallel update.
        let (rows, d, per) = (1000usize, 32usize, 3usize);
        let opt = RowOptimizer::Adagrad { lr: 0.1, eps: 1e-8, initial_accumulator: 0.0 };
        let mut e = SparseEmbedding::new("t", rows, d, 0.1, opt, &mut Rng::new(2)).unwrap();
        let mut table = e.table().to_vec();
        let mut state = vec![0f32; rows * d];
        let mut r = Rng::new(9);
        let ids: Vec<u32> = (0..3000).map(|_| r.below(rows) as u32).collect();
        let weight: Vec<f32> = (0..3000).map(|p| if p % 7 == 0 { 0.0 } else { 0.5 }).collect();
        let pooled: Vec<f32> = (0..1000 * d).map(|_| r.normal() as f32).collect();
        let g = e.accumulate_pooled(&ids, &weight, &pooled, per);
        e.apply(&g).unwrap();
        let mut expanded = vec![0f32; 3000 * d];
        for p in 0..3000 {
            for j in 0..d {
                expanded[p * d + j] = pooled[(p / per) * d + j] * weight[p];
            }
        }
        dense_step(opt, &mut table, &mut state, 1, &batch_grad(&ids, &expanded, rows, d));
        for (a, b) in e.table().iter().zip(&table) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn padding_weights_skip_rows_and_bad_input_errors() {
        let mut e = SparseEmbedding::new("items", 4, 2, 0.1, RowOptimizer::Sgd { lr: 1.0 }, &mut Rng::new(1)).unwrap();
        let before = e.table().to_vec();
        e.update(&[0, 2], &[1.0, 1.0, 5.0, 5.0], Some(&[1.0, 0.0])).unwrap();
        assert_eq!(&e.table()[4..6], &before[4..6], "padded position must not update its row");
        assert!((e.table()[0] - (before[0] - 1.0)).abs() < 1e-6);
        let err = e.gather(&[9]).unwrap_err().to_string();
        assert!(err.contains("items") && err.contains('9'), "{err}");
        let snapshot = e.table().to_vec();
        assert!(e.update(&[1], &[f32::NAN, 0.0], None).is_err());
        assert_eq!(e.table(), &snapshot[..], "a NaN gradient must not touch the table");
    }

    /// Pooling reads the same rows a gather does and weighs them, per group, for more groups
    /// than one parallel chunk; padding (weight 0) adds nothing; an unknown id is an error.
    #[test]
    fn pooled_rows_are_weighted_sums_of_gathered_rows() {
        for hashed in [false, true] {
            let mut rng = Rng::new(5);
            let e = if hashed {
                SparseEmbedding::hashed("p", 500, 97, 5, 0.3, RowOptimizer::adam(0.1), &mut rng).unwrap()
            } else {
                SparseEmbedding::new("p", 500, 5, 0.3, RowOptimizer::adam(0.1), &mut rng).unwrap()
            };
            let per = 3;
            let ids: Vec<u32> = (0..150 * per as u32).map(|k| (k * 37) % 500).collect();
            let weight: Vec<f32> = (0..ids.len()).map(|k| if k % 4 == 3 { 0.0 } else { (k % 5) as f32 * 0.25 - 0.3 }).collect();
            let got = e.pool(&ids, &weight, per).unwrap();
            let rows = e.gather(&ids).unwrap();
            for r in 0..150 {
                for j in 0..5 {
                    let want: f32 = (0..per).map(|k| weight[r * per + k] * rows[(r * per + k) * 5 + j]).sum();
                    assert!((got[r * 5 + j] - want).abs() < 1e-6, "hashed {hashed}, group {r}, dim {j}");
                }
            }
            assert!(matches!(e.pool(&[1, 500, 2], &[1.0, 0.0, 1.0], 3), Err(Error::UnknownId { .. })));
        }
    }

    #[test]
    fn hashed_ids_share_rows_deterministically() {
        let e = SparseEmbedding::hashed("h", 1_000, 16, 2, 0.1, RowOptimizer::adam(0.1), &mut Rng::new(1)).unwrap();
        let rows: Vec<usize> = (0..1000).map(|i| e.row_of(i).unwrap()).collect();
        assert!(rows.iter().all(|&r| r < 16));
        let used: std::collections::BTreeSet<_> = rows.iter().collect();
        assert_eq!(used.len(), 16, "1000 ids should reach all 16 buckets");
        assert_eq!(e.gather(&[5]).unwrap(), e.row(5).unwrap());
    }
}
