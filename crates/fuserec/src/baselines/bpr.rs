//! BPR matrix factorisation (Rendle et al. 2009) and VBPR (He & McAuley 2016), trained on the
//! sparse id tables of `fuserec-nn` (row-wise Adam, only the rows a batch touches), with early
//! stopping on validation like every trained model here.

use crate::recommender::{Recommender, TrainData};
use crate::validation::{EarlyStopping, ValScores, Verdict, validate_model, validation_users};
use fuserec_core::{Embeddings, Error, Result, Rng};
use fuserec_data::progress::bar;
use fuserec_nn::{Checkpoint, RowOptimizer, SparseEmbedding};
use rayon::prelude::*;

/// `[[model]] kind = "bpr"` or `"vbpr"`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BprConfig {
    /// Width of the user and item id factors.
    #[serde(default = "d_factors")]
    pub factors: usize,
    /// VBPR only: width of the content part (`θ_u · E f_i`).
    #[serde(default)]
    pub content_factors: Option<usize>,
    /// Most training epochs.
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// Row-wise Adam learning rate.
    #[serde(default = "d_lr")]
    pub lr: f32,
    /// L2 weight on every factor and bias a sample touches (and on `E`, `β'` per batch).
    #[serde(default = "d_reg")]
    pub reg: f32,
    /// Sampled `(user, positive, negative)` triples per batch.
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Validate every this many epochs; stop after `patience` validations without a better score.
    #[serde(default = "d_eval_every")]
    pub eval_every: usize,
    /// Validations without a better score before stopping (0: never).
    #[serde(default = "d_patience")]
    pub patience: usize,
    /// Users sampled for each validation.
    #[serde(default = "d_val_users")]
    pub val_users: usize,
}

fn d_factors() -> usize {
    64
}
fn d_epochs() -> usize {
    100
}
fn d_lr() -> f32 {
    0.01
}
fn d_reg() -> f32 {
    0.001
}
fn d_batch() -> usize {
    1024
}
fn d_eval_every() -> usize {
    5
}
fn d_patience() -> usize {
    3
}
fn d_val_users() -> usize {
    2000
}

impl Default for BprConfig {
    fn default() -> Self {
        toml::from_str("").expect("all fields have defaults")
    }
}

impl BprConfig {
    /// A message naming the first setting out of range (`visual`: VBPR, which needs `content_factors`).
    pub fn validate(&self, visual: bool) -> std::result::Result<(), String> {
        if self.factors == 0 || self.epochs == 0 || self.batch_size == 0 || self.eval_every == 0 {
            return Err("bpr: factors, epochs, batch_size and eval_every must be ≥ 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite() && self.reg >= 0.0 && self.reg.is_finite()) {
            return Err(format!("bpr: lr must be > 0 and reg ≥ 0, got lr {} reg {}", self.lr, self.reg));
        }
        match (visual, self.content_factors) {
            (false, Some(_)) => Err("bpr: content_factors is a vbpr setting".into()),
            (true, Some(0)) => Err("vbpr: content_factors must be ≥ 1".into()),
            _ => Ok(()),
        }
    }
}

/// The gradient of one BPR triple's loss `−ln σ(x)` with respect to `x = s(u,i) − s(u,j)`.
pub fn bpr_dloss_dx(x: f32) -> f32 {
    -1.0 / (1.0 + x.exp())
}

/// Gradients of one triple's `−ln σ(x) + reg/2 (‖p‖² + ‖q_i‖² + ‖q_j‖²)` with respect to the
/// user row `p` and the item rows `q_i`, `q_j`, given `g = ∂(−ln σ(x))/∂x` ([`bpr_dloss_dx`]),
/// where `x = … + p·(q_i − q_j)`.
#[allow(clippy::too_many_arguments)]
pub fn bpr_row_grads(g: f32, reg: f32, p: &[f32], qi: &[f32], qj: &[f32], gp: &mut [f32], gi: &mut [f32], gj: &mut [f32]) {
    for c in 0..p.len() {
        gp[c] = g * (qi[c] - qj[c]) + reg * p[c];
        gi[c] = g * p[c] + reg * qi[c];
        gj[c] = -g * p[c] + reg * qj[c];
    }
}

/// VBPR's content side: per-item features `f_i` (rows of `features`), a shared projection `E`
/// (`F × k`, one sparse-table row per feature, all updated each batch), user content factors
/// `θ_u` and a per-feature bias `β'`.
struct ContentPart {
    features: Embeddings,
    e: SparseEmbedding,
    beta: SparseEmbedding,
    theta: SparseEmbedding,
    has: Vec<bool>,
}

/// Fitted BPR or VBPR: scores `[p_u ; θ_u]·[q_i ; E f_i] + b_i + β'·f_i`; items with neither a
/// trained row nor content cannot be scored (−∞).
pub struct Bpr {
    name: String,
    /// Final query and item vectors (`[p_u ; θ_u]`, `[q_i ; E f_i]`) and item biases
    /// (`b_i + β'·f_i`); items never trained have `q_i = 0`, `b_i = 0`.
    users: Embeddings,
    items: Embeddings,
    bias: Vec<f32>,
    scorable: Vec<bool>,
    log: BprLog,
}

/// What a BPR fit did.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct BprLog {
    /// Epochs run.
    pub epochs_run: usize,
    /// Epoch whose factors were kept.
    pub best_epoch: usize,
    /// `(epoch, mean loss, validation per segment, selection score)` at each validation.
    pub validations: Vec<(usize, f32, ValScores, f64)>,
}

struct Tables {
    p: SparseEmbedding,
    q: SparseEmbedding,
    b: SparseEmbedding,
    content: Option<ContentPart>,
}

impl Tables {
    fn snapshot(&self) -> Vec<Vec<f32>> {
        let mut v = vec![self.p.table().to_vec(), self.q.table().to_vec(), self.b.table().to_vec()];
        if let Some(c) = &self.content {
            v.extend([c.e.table().to_vec(), c.beta.table().to_vec(), c.theta.table().to_vec()]);
        }
        v
    }
    fn restore(&mut self, s: Vec<Vec<f32>>) -> Result<()> {
        let mut it = s.into_iter();
        let mut next = || it.next().ok_or_else(|| Error::Invalid("bpr: snapshot is short".into()));
        self.p.set_table(next()?)?;
        self.q.set_table(next()?)?;
        self.b.set_table(next()?)?;
        if let Some(c) = &mut self.content {
            c.e.set_table(next()?)?;
            c.beta.set_table(next()?)?;
            c.theta.set_table(next()?)?;
        }
        Ok(())
    }

    /// Final vectors: see [`Bpr`]. `trained[i]`: item `i` had training positives.
    fn export(&self, n_users: usize, trained: &[bool]) -> Result<(Embeddings, Embeddings, Vec<f32>)> {
        let d = self.p.dim();
        let k = self.content.as_ref().map_or(0, |c| c.theta.dim());
        let n_items = trained.len();
        let ids: Vec<u32> = (0..n_users as u32).collect();
        let pu = self.p.gather(&ids)?;
        let iids: Vec<u32> = (0..n_items as u32).collect();
        let qi = self.q.gather(&iids)?;
        let bi = self.b.gather(&iids)?;
        let mut users = Vec::with_capacity(n_users * (d + k));
        let tu = self.content.as_ref().map(|c| c.theta.gather(&ids)).transpose()?;
        for u in 0..n_users {
            users.extend_from_slice(&pu[u * d..(u + 1) * d]);
            if let Some(t) = &tu {
                users.extend_from_slice(&t[u * k..(u + 1) * k]);
            }
        }
        let proj = self.content.as_ref().map(|c| c.project_all()).transpose()?;
        let mut items = Vec::with_capacity(n_items * (d + k));
        let mut bias = Vec::with_capacity(n_items);
        for i in 0..n_items {
            if trained[i] {
                items.extend_from_slice(&qi[i * d..(i + 1) * d]);
                bias.push(bi[i]);
            } else {
                items.extend(std::iter::repeat_n(0.0, d));
                bias.push(0.0);
            }
            if let (Some((z, fb)), Some(c)) = (&proj, &self.content) {
                if c.has[i] {
                    items.extend_from_slice(&z[i * k..(i + 1) * k]);
                    bias[i] += fb[i];
                } else {
                    items.extend(std::iter::repeat_n(0.0, k));
                }
            }
        }
        Ok((Embeddings::from_vec(n_users, d + k, users)?, Embeddings::from_vec(n_items, d + k, items)?, bias))
    }
}

impl ContentPart {
    /// `(E f_i` for every item, `β'·f_i` for every item).
    fn project_all(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let (n, f, k) = (self.features.rows(), self.features.dim(), self.e.dim());
        let mut z = vec![0f32; n * k];
        // SAFETY: shapes as documented by matrixmultiply (row-major, strides in elements).
        unsafe {
            fuserec_gemm::sgemm(
                n,
                f,
                k,
                1.0,
                self.features.as_slice().as_ptr(),
                f as isize,
                1,
                self.e.table().as_ptr(),
                k as isize,
                1,
                0.0,
                z.as_mut_ptr(),
                k as isize,
                1,
            )
        };
        let beta = self.beta.table();
        let fb = self.features.iter_rows().map(|r| r.iter().zip(beta).map(|(a, b)| a * b).sum()).collect();
        Ok((z, fb))
    }
}

impl Bpr {
    /// BPR when `features` is `None`, VBPR over `features` (rows = items; zero rows = no content).
    pub fn fit(cfg: &BprConfig, data: &TrainData, features: Option<Embeddings>, seed: u64) -> Result<Self> {
        let visual = features.is_some();
        cfg.validate(visual).map_err(Error::Config)?;
        let (n_users, n_items) = (data.n_users, data.n_items);
        let mut rng = Rng::derive(seed, 0xB9);
        let opt = RowOptimizer::adam(cfg.lr);
        let d = cfg.factors;
        let mut t = Tables {
            p: SparseEmbedding::new("bpr.users", n_users, d, 0.1, opt, &mut rng)?,
            q: SparseEmbedding::new("bpr.items", n_items, d, 0.1, opt, &mut rng)?,
            b: SparseEmbedding::new("bpr.bias", n_items, 1, 0.0, opt, &mut rng)?,
            content: None,
        };
        if let Some(f) = features {
            if f.rows() != n_items {
                return Err(Error::Shape(format!("vbpr: {} feature rows for {n_items} items", f.rows())));
            }
            let k = cfg.content_factors.unwrap_or(d);
            let has = f.iter_rows().map(|r| r.iter().any(|&x| x != 0.0)).collect();
            t.content = Some(ContentPart {
                e: SparseEmbedding::new("vbpr.E", f.dim(), k, 0.1 / (f.dim() as f32).sqrt().max(1.0), opt, &mut rng)?,
                beta: SparseEmbedding::new("vbpr.beta", f.dim(), 1, 0.0, opt, &mut rng)?,
                theta: SparseEmbedding::new("vbpr.theta", n_users, k, 0.1, opt, &mut rng)?,
                features: f,
                has,
            });
        }
        let trained: Vec<bool> = data.item_popularity.iter().map(|&c| c > 0).collect();
        let warm: Vec<u32> = (0..n_items as u32).filter(|&i| trained[i as usize]).collect();
        let pairs: Vec<(u32, u32)> =
            data.user_items.iter().enumerate().flat_map(|(u, items)| items.iter().map(move |&i| (u as u32, i))).collect();
        if pairs.is_empty() || warm.len() < 2 {
            return Err(Error::Invalid("bpr: fewer than two items with training positives — nothing to rank".into()));
        }
        let val_users = validation_users(data, cfg.val_users, seed);
        let scorable: Vec<bool> = (0..n_items).map(|i| trained[i] || t.content.as_ref().is_some_and(|c| c.has[i])).collect();
        let name = if visual { format!("VBPR(k={}+{})", d, cfg.content_factors.unwrap_or(d)) } else { format!("BPR(k={d})") };
        let mut log = BprLog::default();
        let mut stopper: EarlyStopping<Vec<Vec<f32>>> = EarlyStopping::new(cfg.patience);
        let pb = bar(cfg.epochs as u64, &format!("{name} epochs"));
        for epoch in 1..=cfg.epochs {
            fuserec_core::cancel::check()?;
            let mut order: Vec<usize> = (0..pairs.len()).collect();
            rng.shuffle(&mut order);
            let mut loss = 0f64;
            for idx in order.chunks(cfg.batch_size) {
                let us: Vec<u32> = idx.iter().map(|&k| pairs[k].0).collect();
                let is: Vec<u32> = idx.iter().map(|&k| pairs[k].1).collect();
                let js: Vec<u32> = us
                    .iter()
                    .map(|&u| {
                        let seen = &data.user_items[u as usize];
                        let mut j = warm[rng.below(warm.len())];
                        for _ in 0..10 {
                            if seen.binary_search(&j).is_err() {
                                break;
                            }
                            j = warm[rng.below(warm.len())];
                        }
                        j
                    })
                    .collect();
                loss += step(&mut t, &us, &is, &js, cfg.reg)?;
            }
            pb.inc(1);
            let mean_loss = (loss / pairs.len() as f64) as f32;
            pb.set_message(format!("{name} e{epoch} loss {mean_loss:.4}"));
            log.epochs_run = epoch;
            if epoch % cfg.eval_every == 0 || epoch == cfg.epochs {
                let (users, items, bias) = t.export(n_users, &trained)?;
                let probe = Bpr { name: name.clone(), users, items, bias, scorable: scorable.clone(), log: BprLog::default() };
                let v = validate_model(&probe, data, &val_users)?;
                let sel = v.select(data.selection);
                log.validations.push((epoch, mean_loss, v, sel));
                match stopper.observe(sel, || t.snapshot()) {
                    Verdict::Improved => log.best_epoch = epoch,
                    Verdict::Continue => {}
                    Verdict::Stop => break,
                }
            }
        }
        pb.finish_and_clear();
        if let Some(s) = stopper.into_best() {
            t.restore(s)?;
        }
        let (users, items, bias) = t.export(n_users, &trained)?;
        Ok(Bpr { name, users, items, bias, scorable, log })
    }

    /// The model's score of `item` for `user` (the inner product plus the item's bias).
    pub fn score_one(&self, user: u32, item: u32) -> f32 {
        fuserec_core::dot(self.users.row(user as usize), self.items.row(item as usize)) + self.bias[item as usize]
    }
}

/// One minibatch of BPR (+ content) updates; returns the summed loss.
fn step(t: &mut Tables, us: &[u32], is: &[u32], js: &[u32], reg: f32) -> Result<f64> {
    let n = us.len();
    let d = t.p.dim();
    let pu = t.p.gather(us)?;
    let qi = t.q.gather(is)?;
    let qj = t.q.gather(js)?;
    let bi = t.b.gather(is)?;
    let bj = t.b.gather(js)?;
    let mut x: Vec<f32> =
        (0..n).map(|r| bi[r] - bj[r] + (0..d).map(|c| pu[r * d + c] * (qi[r * d + c] - qj[r * d + c])).sum::<f32>()).collect();
    // Content side: Δ = f_i − f_j, z = Δ E, x += θ_u·z + β'·Δ.
    let content = match &t.content {
        Some(c) => {
            let (f, k) = (c.features.dim(), c.e.dim());
            let mut delta = vec![0f32; n * f];
            delta.par_chunks_mut(f).enumerate().for_each(|(r, row)| {
                row.iter_mut()
                    .zip(c.features.row(is[r] as usize).iter().zip(c.features.row(js[r] as usize)))
                    .for_each(|(o, (a, b))| *o = a - b);
            });
            let mut z = vec![0f32; n * k];
            // SAFETY: row-major n×f times f×k into n×k.
            unsafe {
                fuserec_gemm::sgemm(
                    n,
                    f,
                    k,
                    1.0,
                    delta.as_ptr(),
                    f as isize,
                    1,
                    c.e.table().as_ptr(),
                    k as isize,
                    1,
                    0.0,
                    z.as_mut_ptr(),
                    k as isize,
                    1,
                )
            };
            let tu = c.theta.gather(us)?;
            let beta = c.beta.table();
            for r in 0..n {
                x[r] += (0..k).map(|c| tu[r * k + c] * z[r * k + c]).sum::<f32>();
                x[r] += delta[r * f..(r + 1) * f].iter().zip(beta).map(|(a, b)| a * b).sum::<f32>();
            }
            Some((delta, z, tu))
        }
        None => None,
    };
    let g: Vec<f32> = x.iter().map(|&x| bpr_dloss_dx(x)).collect();
    let loss: f64 = x.iter().map(|&x| (1.0 + (-x as f64).exp()).ln()).sum();
    if !loss.is_finite() {
        return Err(Error::Invalid(format!("bpr: loss became {loss} (lower lr?)")));
    }
    let mut gp = vec![0f32; n * d];
    let mut gi = vec![0f32; n * d];
    let mut gj = vec![0f32; n * d];
    for (r, &gr) in g.iter().enumerate() {
        let row = r * d..(r + 1) * d;
        bpr_row_grads(
            gr,
            reg,
            &pu[row.clone()],
            &qi[row.clone()],
            &qj[row.clone()],
            &mut gp[row.clone()],
            &mut gi[row.clone()],
            &mut gj[row],
        );
    }
    let gbi: Vec<f32> = (0..n).map(|r| g[r] + reg * bi[r]).collect();
    let gbj: Vec<f32> = (0..n).map(|r| -g[r] + reg * bj[r]).collect();
    t.p.update(us, &gp, None)?;
    // Items appear as positives and negatives: one update with both gradients summed per row.
    let ids: Vec<u32> = is.iter().chain(js).copied().collect();
    t.q.update(&ids, &[gi, gj].concat(), None)?;
    t.b.update(&ids, &[gbi, gbj].concat(), None)?;
    if let (Some(c), Some((delta, z, tu))) = (&mut t.content, content) {
        let (f, k) = (c.features.dim(), c.e.dim());
        let gt: Vec<f32> = (0..n * k).map(|e| g[e / k] * z[e] + reg * tu[e]).collect();
        let gtu: Vec<f32> = (0..n * k).map(|e| g[e / k] * tu[e]).collect();
        // ∂E = Δᵀ (g ∘ θ_u) + reg E ; ∂β' = Δᵀ g + reg β'.
        let mut ge: Vec<f32> = c.e.table().iter().map(|w| reg * w).collect();
        // SAFETY: Δᵀ is f×n (row stride 1, column stride f), g∘θ is n×k; into f×k.
        unsafe {
            fuserec_gemm::sgemm(
                f,
                n,
                k,
                1.0,
                delta.as_ptr(),
                1,
                f as isize,
                gtu.as_ptr(),
                k as isize,
                1,
                1.0,
                ge.as_mut_ptr(),
                k as isize,
                1,
            )
        };
        let mut gb: Vec<f32> = c.beta.table().iter().map(|w| reg * w).collect();
        for r in 0..n {
            gb.iter_mut().zip(&delta[r * f..(r + 1) * f]).for_each(|(o, dl)| *o += g[r] * dl);
        }
        let all: Vec<u32> = (0..f as u32).collect();
        c.theta.update(us, &gt, None)?;
        c.e.update(&all, &ge, None)?;
        c.beta.update(&all, &gb, None)?;
    }
    Ok(loss)
}

impl Recommender for Bpr {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn score(&self, users: &[u32], _histories: &[&[u32]], out: &mut [f32]) {
        fuserec_recall::inner_product::score_users(&self.users, users, &self.items, out);
        let n = self.items.rows();
        out.par_chunks_mut(n).for_each(|row| {
            for ((s, b), ok) in row.iter_mut().zip(&self.bias).zip(&self.scorable) {
                *s = if *ok { *s + b } else { f32::NEG_INFINITY };
            }
        });
    }
    fn training_log(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.log).ok()
    }
    fn state(&self) -> Result<Checkpoint> {
        let header = serde_json::to_string(&(&self.name, &self.log)).map_err(|e| Error::Invalid(format!("{}: {e}", self.name)))?;
        let mut ck = Checkpoint { header, ..Default::default() };
        ck.put_embeddings("users", &self.users);
        ck.put_embeddings("items", &self.items);
        ck.put_vector("bias", &self.bias);
        ck.put_mask("scorable", &self.scorable);
        Ok(ck)
    }
}

impl Bpr {
    /// BPR or VBPR as saved: query and item vectors (content part folded in), biases.
    pub fn from_state(ck: &Checkpoint) -> Result<Self> {
        let (name, log): (String, BprLog) =
            serde_json::from_str(&ck.header).map_err(|e| Error::Invalid(format!("bpr: state header: {e}")))?;
        let (users, items) = (ck.embeddings("users")?, ck.embeddings("items")?);
        if users.dim() != items.dim() {
            return Err(Error::Shape(format!("{name}: user vectors are {}-d, item vectors {}-d", users.dim(), items.dim())));
        }
        let n = items.rows();
        Ok(Bpr { name, bias: ck.vector("bias", n)?, scorable: ck.mask("scorable", n)?, users, items, log })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::{Interaction, ItemId, UserId};

    /// The analytic gradient matches central finite differences of the regularised loss.
    #[test]
    fn bpr_gradient_matches_finite_differences() {
        let (p, qi, qj, bi, bj, reg) =
            (vec![0.3f32, -0.2, 0.5], vec![0.1f32, 0.4, -0.3], vec![-0.2f32, 0.1, 0.2], 0.05f32, -0.1f32, 0.01f32);
        let loss = |p: &[f32], qi: &[f32], qj: &[f32], bi: f32, bj: f32| -> f64 {
            let x: f64 =
                (bi - bj) as f64 + p.iter().zip(qi.iter().zip(qj)).map(|(a, (b, c))| (*a as f64) * (*b as f64 - *c as f64)).sum::<f64>();
            let sq = |v: &[f32]| v.iter().map(|&a| (a as f64).powi(2)).sum::<f64>();
            (1.0 + (-x).exp()).ln() + reg as f64 / 2.0 * (sq(p) + sq(qi) + sq(qj) + (bi as f64).powi(2) + (bj as f64).powi(2))
        };
        let x = bi - bj + p.iter().zip(qi.iter().zip(&qj)).map(|(a, (b, c))| a * (b - c)).sum::<f32>();
        let g = bpr_dloss_dx(x);
        let (mut gp, mut gi, mut gj) = (vec![0f32; 3], vec![0f32; 3], vec![0f32; 3]);
        bpr_row_grads(g, reg, &p, &qi, &qj, &mut gp, &mut gi, &mut gj);
        // The bias gradients the trainer uses: g + reg·b_i and −g + reg·b_j.
        let (gbi, gbj) = (g + reg * bi, -g + reg * bj);
        let h = 1e-3f32;
        let fd = |f: &dyn Fn(f32) -> f64| ((f(h) - f(-h)) / (2.0 * h as f64)) as f32;
        for c in 0..3 {
            let bump = |v: &[f32], e: f32| {
                let mut w = v.to_vec();
                w[c] += e;
                w
            };
            assert!((gp[c] - fd(&|e| loss(&bump(&p, e), &qi, &qj, bi, bj))).abs() < 1e-4);
            assert!((gi[c] - fd(&|e| loss(&p, &bump(&qi, e), &qj, bi, bj))).abs() < 1e-4);
            assert!((gj[c] - fd(&|e| loss(&p, &qi, &bump(&qj, e), bi, bj))).abs() < 1e-4);
        }
        assert!((gbi - fd(&|e| loss(&p, &qi, &qj, bi + e, bj))).abs() < 1e-4);
        assert!((gbj - fd(&|e| loss(&p, &qi, &qj, bi, bj + e))).abs() < 1e-4);
        // At x = 0 the loss slope is −½.
        assert_eq!(bpr_dloss_dx(0.0), -0.5);
    }

    /// Two user groups with disjoint tastes: BPR ranks each group's unseen item of its own taste
    /// first; VBPR scores cold items (no interactions) by their content part alone.
    #[test]
    fn bpr_learns_tastes_and_vbpr_scores_cold_items_by_content() {
        let pos = |u: u32, i: u32| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        // Items 0..5 taste A, 5..10 taste B; items 10 (taste-A content) and 11 (taste-B content)
        // are cold. Users 0..20 like A (each misses one A item), users 20..40 like B.
        let mut log = Vec::new();
        for u in 0..40u32 {
            let base = if u < 20 { 0 } else { 5 };
            for i in base..base + 5 {
                if i != base + (u % 5) {
                    log.push(pos(u, i));
                }
            }
        }
        let val: Vec<Interaction> = (0..40u32).map(|u| pos(u, if u < 20 { 0 } else { 5 } + (u % 5))).collect();
        let data = TrainData::new(40, 12, &log, &val, None);
        let cfg: BprConfig = toml::from_str("factors = 8\nepochs = 60\nbatch_size = 32\nlr = 0.05\neval_every = 10").unwrap();
        let m = Bpr::fit(&cfg, &data, None, 3).unwrap();
        let mut out = vec![0f32; 12];
        m.score(&[0], &[&[1, 2, 3, 4]], &mut out);
        assert!(out[0] > out[5..10].iter().cloned().fold(f32::MIN, f32::max), "{out:?}");
        assert_eq!(out[10], f32::NEG_INFINITY, "BPR cannot score an item without training positives");
        // Content: 2-d, taste A = (1, 0), taste B = (0, 1).
        let mut f = Vec::new();
        for i in 0..12 {
            f.extend(if i < 5 || i == 10 { [1.0f32, 0.0] } else { [0.0, 1.0] });
        }
        let vcfg: BprConfig =
            toml::from_str("factors = 8\ncontent_factors = 4\nepochs = 60\nbatch_size = 32\nlr = 0.05\neval_every = 10").unwrap();
        let v = Bpr::fit(&vcfg, &data, Some(Embeddings::from_vec(12, 2, f).unwrap()), 3).unwrap();
        // A cold item's vector is zero on the id part and E f on the content part; its score is
        // θ_u·E f + β'·f — the content part alone.
        let d = 8;
        assert!(v.items.row(10)[..d].iter().all(|&x| x == 0.0));
        assert_eq!(v.items.row(10)[d..].to_vec(), v.items.row(0)[d..].to_vec(), "same content, same projection");
        let content_part = fuserec_core::dot(&v.users.row(0)[d..], &v.items.row(10)[d..]) + v.bias[10];
        v.score(&[0], &[&[1, 2, 3, 4]], &mut out);
        assert!((out[10] - content_part).abs() < 1e-6);
        // A taste-A user prefers the taste-A cold item; a taste-B user the taste-B one.
        assert!(out[10] > out[11], "{out:?}");
        v.score(&[25], &[&[5, 6, 7, 8]], &mut out);
        assert!(out[11] > out[10], "{out:?}");
        assert!(toml::from_str::<BprConfig>("content_factors = 4").unwrap().validate(false).is_err());
    }
}
