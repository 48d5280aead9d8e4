//! Projection heads trained on frozen backbone features: a query head for anchors (e.g. query
//! text, a title) and a key head for items (e.g. an image), InfoNCE over in-batch keys plus a
//! momentum-encoder queue, plus λ·triplet on hard negatives.

use super::loss::{hard_triplet, info_nce};
use super::momentum::momentum_update;
use super::queue::KeyQueue;
use fuserec_core::{Embeddings, Error, Result, Rng};
use fuserec_nn::dfdx::prelude::*;
use fuserec_nn::{AdamConfig, DenseAdam, Dev, HasParams, Mlp, ParamMut, T1, T2, Tape, V2, l2_normalize_rows};
use std::time::Instant;

/// One training or evaluation pair: anchor row → item row, with an optional hard negative (an
/// item engaged with but not chosen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Row of the anchor (query side).
    pub anchor: u32,
    /// Row of the item that was chosen.
    pub item: u32,
    /// Row of an item engaged with but not chosen.
    pub hard_negative: Option<u32>,
}

/// Settings of semantic contrastive learning (InfoNCE between an anchor head and an item head,
/// optionally a MoCo queue and a hard-negative triplet). Every field has a default.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SclConfig {
    /// Output width of both heads.
    #[serde(default = "d_dim")]
    pub dim: usize,
    /// Hidden widths of both heads.
    #[serde(default = "d_hidden")]
    pub hidden: Vec<usize>,
    /// τ (the starting value when learned).
    #[serde(default = "d_tau")]
    pub temperature: f32,
    /// Learn τ (as log(1/τ), capped at 1/τ = 100 as in CLIP) instead of fixing it.
    #[serde(default)]
    pub learn_temperature: bool,
    /// Negative-queue length K (0: in-batch negatives only).
    #[serde(default)]
    pub queue: usize,
    /// Momentum m of the key encoder that fills the queue.
    #[serde(default = "d_momentum")]
    pub momentum: f32,
    /// λ of the hard-negative triplet (0: off).
    #[serde(default)]
    pub triplet_weight: f32,
    /// Margin of the triplet.
    #[serde(default = "d_margin")]
    pub margin: f32,
    /// Pairs per batch (≥ 2: the others are in-batch negatives).
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Passes over the pairs.
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// Adam for both heads.
    #[serde(default = "d_opt")]
    pub optimizer: AdamConfig,
}
fn d_dim() -> usize {
    64
}
fn d_hidden() -> Vec<usize> {
    vec![256]
}
fn d_tau() -> f32 {
    0.07
}
fn d_momentum() -> f32 {
    0.99
}
fn d_margin() -> f32 {
    0.2
}
fn d_batch() -> usize {
    256
}
fn d_epochs() -> usize {
    20
}
fn d_opt() -> AdamConfig {
    AdamConfig::new(1e-3)
}

impl SclConfig {
    /// Errors naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("scl: {m}")));
        if self.dim == 0 || self.batch_size < 2 || self.epochs == 0 {
            return bad("dim ≥ 1, batch_size ≥ 2 and epochs ≥ 1".into());
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature must be > 0, got {}", self.temperature));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.triplet_weight < 0.0 {
            return bad("triplet_weight must be ≥ 0".into());
        }
        Ok(())
    }
}

/// The two trained heads (and the momentum copy of the key head, with a queue).
pub struct SclModel {
    /// The device the heads live on.
    pub dev: Dev,
    /// The settings it was built with.
    pub cfg: SclConfig,
    /// Anchor head.
    pub query: Mlp,
    /// Item head.
    pub key: Mlp,
    /// Momentum copy of the item head (with a queue).
    pub momentum_key: Option<Mlp>,
    /// `log(1/τ)`, trained when `learn_temperature`.
    pub log_scale: T1,
    /// The last `K` keys of the momentum head (kept across `fit` calls).
    pub queue: KeyQueue,
}

const MAX_LOG_SCALE: f32 = 4.605_170_2; // ln 100

struct Heads<'a>(&'a mut Mlp, &'a mut Mlp, Option<&'a mut T1>);
impl HasParams for Heads<'_> {
    fn visit_params(&mut self, _: &str, f: &mut dyn FnMut(&str, ParamMut<'_>)) {
        self.0.visit_params("query", f);
        self.1.visit_params("key", f);
        if let Some(t) = &mut self.2 {
            f("log_scale", ParamMut::Vector(t));
        }
    }
}

/// What one training epoch did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SclEpoch {
    /// 0-based epoch.
    pub epoch: usize,
    /// τ at the end of the epoch.
    pub temperature: f32,
    /// Mean total loss.
    pub loss: f32,
    /// Mean InfoNCE part.
    pub info_nce: f32,
    /// Mean triplet part (0 when off).
    pub triplet: f32,
    /// Wall time.
    pub seconds: f64,
    /// Throughput.
    pub pairs_per_second: f64,
}

fn rows(x: &Embeddings, idx: impl Iterator<Item = u32>) -> (Vec<f32>, usize) {
    let mut out = Vec::new();
    let mut n = 0;
    for i in idx {
        out.extend_from_slice(x.row(i as usize));
        n += 1;
    }
    (out, n)
}

/// Unit-length outputs of `head` for `n` rows of `x`, no tape kept.
fn unit(dev: &Dev, head: &Mlp, x: Vec<f32>, n: usize, dim: usize) -> T2 {
    let t: T2 = dev.tensor_from_vec(x, (n, dim));
    l2_normalize_rows(head.forward(t.leaky_traced()), 1e-12).retaped::<NoneTape>()
}

impl SclModel {
    /// Fresh heads mapping `anchor_dim` and `item_dim` inputs into one space; the config is validated.
    pub fn new(cfg: &SclConfig, anchor_dim: usize, item_dim: usize, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let dev = fuserec_nn::device(seed);
        let mut rng = Rng::derive(seed, 0x5c1);
        let query = Mlp::relu(&dev, anchor_dim, &cfg.hidden, cfg.dim, &mut rng)?;
        let mut key = Mlp::relu(&dev, item_dim, &cfg.hidden, cfg.dim, &mut rng)?;
        let momentum_key = if cfg.queue > 0 {
            let mut m = Mlp::relu(&dev, item_dim, &cfg.hidden, cfg.dim, &mut rng)?;
            momentum_update(&mut m, &mut key, 0.0)?;
            Some(m)
        } else {
            None
        };
        let log_scale = dev.tensor_from_vec(vec![(1.0 / cfg.temperature).ln()], (1,));
        Ok(SclModel { dev, cfg: cfg.clone(), query, key, momentum_key, log_scale, queue: KeyQueue::new(cfg.queue, cfg.dim) })
    }

    /// Unit-length anchor representations.
    pub fn encode_anchors(&self, x: &Embeddings) -> Result<Embeddings> {
        self.encode(&self.query, x)
    }
    /// Unit-length item representations (what the feature store keeps as the "scl" backbone).
    pub fn encode_items(&self, x: &Embeddings) -> Result<Embeddings> {
        self.encode(&self.key, x)
    }

    fn encode(&self, head: &Mlp, x: &Embeddings) -> Result<Embeddings> {
        if x.dim() != head.inp() {
            return Err(Error::Shape(format!("scl head expects {} features, got {}", head.inp(), x.dim())));
        }
        let mut out = Vec::with_capacity(x.rows() * self.cfg.dim);
        for start in (0..x.rows()).step_by(1024) {
            let end = (start + 1024).min(x.rows());
            let (v, n) = rows(x, start as u32..end as u32);
            out.extend(fuserec_nn::to_vec(&unit(&self.dev, head, v, n, x.dim())));
        }
        Embeddings::from_vec(x.rows(), self.cfg.dim, out)
    }

    /// Trains both heads on `pairs`; `progress` is called after each epoch.
    pub fn fit(
        &mut self,
        anchors: &Embeddings,
        items: &Embeddings,
        pairs: &[Pair],
        seed: u64,
        progress: &mut dyn FnMut(&SclEpoch),
    ) -> Result<Vec<SclEpoch>> {
        if pairs.len() < 2 {
            return Err(Error::Invalid(format!("scl: {} training pairs — nothing to learn from", pairs.len())));
        }
        if let Some(p) = pairs.iter().find(|p| {
            p.anchor as usize >= anchors.rows()
                || p.item as usize >= items.rows()
                || p.hard_negative.is_some_and(|h| h as usize >= items.rows())
        }) {
            return Err(Error::UnknownId {
                kind: "pair row",
                id: format!("{p:?}"),
                context: Some(format!("{} anchors, {} items", anchors.rows(), items.rows())),
            });
        }
        let cfg = self.cfg.clone();
        let mut opt = DenseAdam::new(cfg.optimizer);
        let mut rng = Rng::derive(seed, 0x5c2);
        let bsz = cfg.batch_size.min(pairs.len());
        let mut log = Vec::new();
        for epoch in 1..=cfg.epochs {
            let t0 = Instant::now();
            let mut order: Vec<usize> = (0..pairs.len()).collect();
            rng.shuffle(&mut order);
            let (mut sum, mut sum_nce, mut sum_tri, mut nb) = (0f32, 0f32, 0f32, 0usize);
            for idx in order.chunks_exact(bsz) {
                let batch: Vec<Pair> = idx.iter().map(|&i| pairs[i]).collect();
                let item_ids: Vec<u32> = batch.iter().map(|p| p.item).collect();
                let (a, n) = rows(anchors, batch.iter().map(|p| p.anchor));
                let (k, _) = rows(items, item_ids.iter().copied());
                let q = l2_normalize_rows(self.query.forward(self.dev.tensor_from_vec(a, (n, anchors.dim())).leaky_traced()), 1e-12);
                let kv = l2_normalize_rows(self.key.forward(self.dev.tensor_from_vec(k.clone(), (n, items.dim())).leaky_traced()), 1e-12);
                let snapshot = (cfg.queue > 0).then(|| self.queue.contents());
                let has: Vec<bool> = batch.iter().map(|p| p.hard_negative.is_some()).collect();
                let use_triplet = cfg.triplet_weight > 0.0 && has.iter().any(|&h| h);
                // Learned τ: logits = (q·e^s)·kᵀ with s = log(1/τ) on the tape; fixed: q·kᵀ / τ.
                let learn = cfg.learn_temperature;
                let tau = if learn { 1.0 } else { cfg.temperature };
                let scaled = |q: V2| -> V2 {
                    if learn {
                        let shape = *q.shape();
                        q * self.log_scale.retaped::<Tape>().exp().reshape_like(&()).broadcast_like::<_, Axes2<0, 1>>(&shape)
                    } else {
                        q
                    }
                };
                let (loss, nce_v, tri_v) = if use_triplet {
                    let [q1, q2] = fuserec_nn::fork(q);
                    let [k1, k2] = fuserec_nn::fork(kv);
                    let nce = info_nce(scaled(q1), k1, &item_ids, snapshot, tau);
                    let (neg, _) = rows(items, batch.iter().map(|p| p.hard_negative.unwrap_or(p.item)));
                    let negv = l2_normalize_rows(self.key.forward(self.dev.tensor_from_vec(neg, (n, items.dim())).leaky_traced()), 1e-12);
                    let tri = hard_triplet(q2, k2, negv, &has, cfg.margin);
                    let (a, b) = (nce.retaped::<NoneTape>().array(), tri.retaped::<NoneTape>().array());
                    (nce + tri * cfg.triplet_weight, a, b)
                } else {
                    let nce = info_nce(scaled(q), kv, &item_ids, snapshot, tau);
                    let a = nce.retaped::<NoneTape>().array();
                    (nce, a, 0.0)
                };
                let total = loss.retaped::<NoneTape>().array();
                if !total.is_finite() {
                    return Err(Error::Invalid(format!(
                        "scl: loss became {total} at epoch {epoch} (lower the learning rate or raise the temperature?)"
                    )));
                }
                let mut grads = loss.backward();
                opt.step(&mut Heads(&mut self.query, &mut self.key, learn.then_some(&mut self.log_scale)), &mut grads)?;
                if learn {
                    let v = fuserec_nn::to_vec(&self.log_scale)[0].min(MAX_LOG_SCALE);
                    self.log_scale.copy_from(&[v]);
                }
                if let Some(m) = &mut self.momentum_key {
                    momentum_update(m, &mut self.key, cfg.momentum)?;
                    let keys = unit(&self.dev, m, k, n, items.dim());
                    self.queue.push(&fuserec_nn::to_vec(&keys), &item_ids)?;
                }
                sum += total;
                sum_nce += nce_v;
                sum_tri += tri_v;
                nb += 1;
            }
            let seconds = t0.elapsed().as_secs_f64();
            let nbf = nb.max(1) as f32;
            let temperature = if cfg.learn_temperature { (-fuserec_nn::to_vec(&self.log_scale)[0]).exp() } else { cfg.temperature };
            let e = SclEpoch {
                epoch,
                temperature,
                loss: sum / nbf,
                info_nce: sum_nce / nbf,
                triplet: sum_tri / nbf,
                seconds,
                pairs_per_second: (nb * bsz) as f64 / seconds,
            };
            progress(&e);
            log.push(e);
        }
        Ok(log)
    }
}

/// Held-out pair retrieval over the full item pool: top-1 accuracy and Recall@k (one relevant
/// item per pair). `anchors` and `items` are unit rows in one space.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Retrieval {
    /// Pairs scored.
    pub pairs: usize,
    /// Share whose item ranks first.
    pub top1: f64,
    /// Share whose item is in the top 10.
    pub recall_at_10: f64,
}

/// Scores `pairs` by exact search of each anchor row over all item rows; unit rows of one width
/// expected (another width is an error).
pub fn retrieval(anchors: &Embeddings, items: &Embeddings, pairs: &[Pair]) -> Result<Retrieval> {
    if anchors.dim() != items.dim() {
        return Err(Error::Shape(format!("retrieval: anchors have {} dims, items {}", anchors.dim(), items.dim())));
    }
    let (mut top1, mut r10) = (0usize, 0usize);
    for p in pairs {
        let a = anchors.row(p.anchor as usize);
        let target = fuserec_core::dot(a, items.row(p.item as usize));
        // Rank = number of items scoring strictly higher (ties count in the pair's favour).
        let above = (0..items.rows()).filter(|&j| j != p.item as usize && fuserec_core::dot(a, items.row(j)) > target).count();
        top1 += (above == 0) as usize;
        r10 += (above < 10) as usize;
    }
    let n = pairs.len().max(1) as f64;
    Ok(Retrieval { pairs: pairs.len(), top1: top1 as f64 / n, recall_at_10: r10 as f64 / n })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Planted structure: anchors are a fixed random linear map of their item's features plus
    /// noise, in another space and width. Trained heads must align them: loss falls, held-out
    /// retrieval rises from chance to near-perfect, for each variant.
    #[test]
    fn planted_pairs_loss_falls_and_retrieval_rises() {
        let (n, fi, fa) = (300usize, 16usize, 12usize);
        let mut r = Rng::new(5);
        let items = Embeddings::from_vec(n, fi, (0..n * fi).map(|_| r.normal() as f32).collect()).unwrap();
        let w: Vec<f32> = (0..fi * fa).map(|_| r.normal() as f32 / (fi as f32).sqrt()).collect();
        let mut a = vec![0f32; n * fa];
        for i in 0..n {
            for o in 0..fa {
                a[i * fa + o] = (0..fi).map(|k| items.row(i)[k] * w[k * fa + o]).sum::<f32>() + 0.1 * r.normal() as f32;
            }
        }
        let anchors = Embeddings::from_vec(n, fa, a).unwrap();
        let pairs: Vec<Pair> = (0..n as u32).map(|i| Pair { anchor: i, item: i, hard_negative: Some((i + 1) % n as u32) }).collect();
        let (train, test) = pairs.split_at(240);
        for (queue, lambda, learn) in [(0usize, 0.0f32, false), (128, 0.0, false), (128, 0.5, false), (0, 0.0, true)] {
            let cfg: SclConfig = toml::from_str(&format!("dim = 16\nhidden = [32]\ntemperature = 0.1\nbatch_size = 32\nepochs = 30\nqueue = {queue}\ntriplet_weight = {lambda}\nlearn_temperature = {learn}\noptimizer = {{ lr = 0.003 }}")).unwrap();
            let mut m = SclModel::new(&cfg, fa, fi, 1).unwrap();
            let before = retrieval(&m.encode_anchors(&anchors).unwrap(), &m.encode_items(&items).unwrap(), test).unwrap();
            let log = m.fit(&anchors, &items, train, 1, &mut |_| {}).unwrap();
            let after = retrieval(&m.encode_anchors(&anchors).unwrap(), &m.encode_items(&items).unwrap(), test).unwrap();
            assert!(
                log.last().unwrap().info_nce < 0.5 * log[0].info_nce,
                "K={queue} λ={lambda}: loss {} → {}",
                log[0].info_nce,
                log.last().unwrap().info_nce
            );
            assert!(before.top1 < 0.1 && after.top1 > 0.6 && after.recall_at_10 > 0.9, "K={queue} λ={lambda}: {before:?} → {after:?}");
            let tau = log.last().unwrap().temperature;
            if learn {
                assert!(tau != 0.1 && tau >= 0.01 - 1e-6, "learned τ moved and respects the cap: {tau}");
            } else {
                assert_eq!(tau, 0.1);
            }
        }
    }

    #[test]
    fn the_queue_holds_the_momentum_heads_keys_of_the_latest_batches() {
        let (n, f) = (64usize, 6usize);
        let mut r = Rng::new(2);
        let x = Embeddings::from_vec(n, f, (0..n * f).map(|_| r.normal() as f32).collect()).unwrap();
        let pairs: Vec<Pair> = (0..n as u32).map(|i| Pair { anchor: i, item: i, hard_negative: None }).collect();
        let cfg: SclConfig = toml::from_str("dim = 4\nhidden = [8]\nbatch_size = 16\nepochs = 2\nqueue = 24\nmomentum = 0.9").unwrap();
        let mut m = SclModel::new(&cfg, f, f, 3).unwrap();
        m.fit(&x, &x, &pairs, 3, &mut |_| {}).unwrap();
        let (keys, items) = m.queue.snapshot();
        assert_eq!(items.len(), 24, "full after 8 batches of 16");
        // The newest 16 keys are the last batch, encoded by the momentum head as it is now.
        let last = &items[8..];
        let (rows, _) = rows(&x, last.iter().copied());
        let mk = fuserec_nn::to_vec(&unit(&m.dev, m.momentum_key.as_ref().unwrap(), rows, last.len(), f));
        for (a, b) in keys[8 * 4..].iter().zip(&mk) {
            assert!((a - b).abs() < 1e-5, "queued key {a} vs momentum head {b}");
        }
        // And the momentum head is not the trained key head (it lags behind it).
        let kk = fuserec_nn::to_vec(&unit(&m.dev, &m.key, x.row(0).to_vec(), 1, f));
        let km = fuserec_nn::to_vec(&unit(&m.dev, m.momentum_key.as_ref().unwrap(), x.row(0).to_vec(), 1, f));
        assert!(kk.iter().zip(&km).any(|(a, b)| (a - b).abs() > 1e-4));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let cfg = SclConfig { batch_size: 2, epochs: 1, ..toml::from_str("").unwrap() };
        let mut m = SclModel::new(&cfg, 3, 3, 1).unwrap();
        let x = Embeddings::zeros(4, 3);
        let e = m
            .fit(
                &x,
                &x,
                &[Pair { anchor: 0, item: 9, hard_negative: None }, Pair { anchor: 1, item: 1, hard_negative: None }],
                1,
                &mut |_| {},
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("item: 9"), "{e}");
        assert!(m.encode_items(&Embeddings::zeros(2, 5)).is_err());
        assert!(toml::from_str::<SclConfig>("momentum = 1.0").unwrap().validate().is_err());
    }
}
